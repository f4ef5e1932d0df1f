//! DDL: databases, tables, partitions, columns.

use std::collections::BTreeMap;

use tracing::info;

use cairn_be::TabletDescriptor;
use cairn_common::ids::{DatabaseId, TableId};
use cairn_common::{
    ColumnDefinition, DistributionDesc, ErrorCode, KeysType, PartitionDesc, TableDefinition,
};
use cairn_sql::ast::{AlterTableOperation, ColumnPosition};

use crate::catalog::{JournalEntry, Partition, Table, Tablet};
use crate::error::FeError;
use crate::frontend::Frontend;
use crate::partition::{PartitionRange, check_partition_column, resolve_range_partitions};

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Checks a table definition and fills in what StarRocks infers: the DUPLICATE KEY columns
/// when none are named, key flags, and NOT NULL on primary keys.
pub fn normalize_definition(mut definition: TableDefinition) -> Result<TableDefinition, FeError> {
    if definition.columns.is_empty() {
        return Err(FeError::analysis("a table needs at least one column"));
    }
    for (index, column) in definition.columns.iter().enumerate() {
        if definition.columns[..index]
            .iter()
            .any(|other| other.name.eq_ignore_ascii_case(&column.name))
        {
            return Err(FeError::user(
                ErrorCode::DUPLICATE_FIELD_NAME,
                format!("Duplicate column name '{}'", column.name),
            ));
        }
    }
    match definition.keys_type {
        KeysType::Aggregate | KeysType::Unique => {
            return Err(FeError::not_supported(format!(
                "{} tables; use DUPLICATE KEY or PRIMARY KEY",
                definition.keys_type.keyword()
            )));
        }
        KeysType::Duplicate if definition.key_columns.is_empty() => {
            // StarRocks' default sort key: up to three leading columns, ending at the first
            // string column, never a FLOAT or DOUBLE.
            for column in &definition.columns {
                if !column.column_type.can_be_key() || definition.key_columns.len() == 3 {
                    break;
                }
                definition.key_columns.push(column.name.clone());
                if column.column_type.is_string() {
                    break;
                }
            }
            if definition.key_columns.is_empty() {
                return Err(FeError::analysis(format!(
                    "the first column '{}' cannot be a sort key; name the DUPLICATE KEY columns",
                    definition.columns[0].name
                )));
            }
        }
        _ => {}
    }
    for (position, key) in definition.key_columns.clone().iter().enumerate() {
        let Some(index) = definition.column_index(key) else {
            return Err(FeError::analysis(format!("Key column '{key}' does not exist in the table")));
        };
        if index != position {
            return Err(FeError::analysis(format!(
                "Key columns must be the first few columns of the schema and in the same order: '{key}' is column {} but key {}",
                index + 1,
                position + 1
            )));
        }
        let column = &mut definition.columns[index];
        if !column.column_type.can_be_key() {
            return Err(FeError::analysis(format!(
                "Key column '{}' can not be of type {}",
                column.name, column.column_type
            )));
        }
        column.name.clone_from(key);
        column.is_key = true;
        if definition.keys_type == KeysType::Primary {
            column.nullable = false;
        }
    }
    for column in &mut definition.columns {
        if !definition.key_columns.iter().any(|key| key.eq_ignore_ascii_case(&column.name)) {
            column.is_key = false;
        }
    }
    match &definition.distribution {
        Some(DistributionDesc::Hash { columns, buckets }) => {
            if columns.is_empty() {
                return Err(FeError::analysis("DISTRIBUTED BY HASH needs at least one column"));
            }
            for name in columns {
                let column = definition
                    .column(name)
                    .ok_or_else(|| FeError::analysis(format!("Distribution column '{name}' does not exist")))?;
                if !column.column_type.can_be_key() {
                    return Err(FeError::analysis(format!(
                        "Distribution column '{name}' can not be of type {}",
                        column.column_type
                    )));
                }
                if definition.keys_type == KeysType::Primary
                    && !definition.key_columns.iter().any(|key| key.eq_ignore_ascii_case(name))
                {
                    return Err(FeError::analysis(format!(
                        "Distribution column '{name}' of a PRIMARY KEY table must be a key column"
                    )));
                }
            }
            if buckets == &Some(0) {
                return Err(FeError::analysis("Number of hash distribution should be greater than zero"));
            }
        }
        Some(DistributionDesc::Random { buckets }) => {
            if definition.keys_type == KeysType::Primary {
                return Err(FeError::analysis("PRIMARY KEY tables must use DISTRIBUTED BY HASH on key columns"));
            }
            if buckets == &Some(0) {
                return Err(FeError::analysis("Number of buckets should be greater than zero"));
            }
        }
        None if definition.keys_type == KeysType::Primary => {
            // StarRocks hashes PRIMARY KEY tables by their key when DDL names no distribution.
            definition.distribution = Some(DistributionDesc::Hash {
                columns: definition.key_columns.clone(),
                buckets: None,
            });
        }
        None => {}
    }
    match &definition.partition {
        PartitionDesc::Unpartitioned => {}
        PartitionDesc::Range { columns, .. } => {
            for name in columns {
                let column = definition
                    .column(name)
                    .ok_or_else(|| FeError::analysis(format!("Partition column '{name}' does not exist")))?;
                check_partition_column(&column.name, column.column_type)?;
            }
        }
        PartitionDesc::TimeExpression { column, .. } => {
            let column = definition
                .column(column)
                .ok_or_else(|| FeError::analysis(format!("Partition column '{column}' does not exist")))?;
            if !matches!(column.column_type, cairn_common::ColumnType::Date | cairn_common::ColumnType::DateTime) {
                return Err(FeError::analysis(format!(
                    "expression partitioning needs a DATE or DATETIME column, '{}' is {}",
                    column.name, column.column_type
                )));
            }
        }
    }
    if definition.keys_type == KeysType::Primary {
        let partition_columns: Vec<String> = match &definition.partition {
            PartitionDesc::Range { columns, .. } => columns.clone(),
            PartitionDesc::TimeExpression { column, .. } => vec![column.clone()],
            PartitionDesc::Unpartitioned => Vec::new(),
        };
        for name in partition_columns {
            if !definition.key_columns.iter().any(|key| key.eq_ignore_ascii_case(&name)) {
                return Err(FeError::analysis(format!(
                    "Partition column '{name}' of a PRIMARY KEY table must be a key column"
                )));
            }
        }
    }
    Ok(definition)
}

impl Frontend {
    pub fn database_id(&self, name: &str) -> Result<DatabaseId, FeError> {
        self.metadata
            .read()
            .database(name)
            .map(|database| database.id)
            .ok_or_else(|| FeError::unknown_database(name))
    }

    /// A copy of a table's metadata, with the database id.
    pub fn table_snapshot(&self, database: &str, table: &str) -> Result<(DatabaseId, Table), FeError> {
        let catalog = self.metadata.read();
        let database_entry = catalog.database(database).ok_or_else(|| FeError::unknown_database(database))?;
        let table_entry = database_entry
            .table(table)
            .ok_or_else(|| FeError::unknown_table(database, table))?;
        Ok((database_entry.id, table_entry.clone()))
    }

    pub fn create_database(&self, name: &str, if_not_exists: bool) -> Result<(), FeError> {
        if name.eq_ignore_ascii_case("information_schema") || name.is_empty() {
            return Err(FeError::analysis(format!("Can't create database '{name}': the name is reserved")));
        }
        let id = self.metadata.allocate_id();
        let name_owned = name.to_string();
        let result = self.metadata.log_checked(
            JournalEntry::CreateDatabase { id, name: name.to_string() },
            |catalog| {
                if catalog.database(&name_owned).is_some() {
                    Err(FeError::user(
                        ErrorCode::DATABASE_CREATE_EXISTS,
                        format!("Can't create database '{name_owned}'; database exists"),
                    ))
                } else {
                    Ok(())
                }
            },
        );
        match result {
            Err(FeError::User { code, .. }) if if_not_exists && code == ErrorCode::DATABASE_CREATE_EXISTS => Ok(()),
            other => other,
        }
    }

    pub async fn drop_database(&self, name: &str, if_exists: bool) -> Result<(), FeError> {
        let (id, tablets) = {
            let catalog = self.metadata.read();
            match catalog.database(name) {
                Some(database) => (
                    database.id,
                    database.tables.values().flat_map(|table| table.tablet_ids()).collect::<Vec<_>>(),
                ),
                None if if_exists => return Ok(()),
                None => {
                    return Err(FeError::user(
                        ErrorCode::DATABASE_DROP_EXISTS,
                        format!("Can't drop database '{name}'; database doesn't exist"),
                    ));
                }
            }
        };
        self.metadata.log(JournalEntry::DropDatabase { id })?;
        self.backend.drop_tablets(tablets).await?;
        Ok(())
    }

    fn replication_num(&self, definition: &TableDefinition) -> Result<u32, FeError> {
        let alive = self.alive_backend_count().max(1) as u32;
        match definition.properties.get("replication_num") {
            None => Ok(alive.min(3)),
            Some(text) => {
                let value: u32 = text
                    .trim()
                    .parse()
                    .map_err(|_| FeError::analysis(format!("Invalid replication_num '{text}': it must be a positive integer")))?;
                if value == 0 {
                    return Err(FeError::analysis("replication_num must be at least 1"));
                }
                if value > alive {
                    return Err(FeError::analysis(format!(
                        "Table replication num should be less than or equal to the number of available BE nodes. \
                         You can change this default by setting the replication_num table properties. \
                         Current alive backend is [{alive}], replication_num={value}"
                    )));
                }
                Ok(value)
            }
        }
    }

    /// New partitions with fresh tablets, created on the backend.
    pub async fn new_partitions(
        &self,
        table: &Table,
        ranges: Vec<(String, Option<PartitionRange>)>,
    ) -> Result<Vec<Partition>, FeError> {
        let backend_id = self.backend.backend_id();
        let mut partitions = Vec::with_capacity(ranges.len());
        let mut descriptors = Vec::new();
        for (name, range) in ranges {
            let tablets: Vec<Tablet> = (0..table.bucket_count)
                .map(|_| Tablet {
                    id: self.metadata.allocate_id(),
                    backends: vec![backend_id],
                })
                .collect();
            descriptors.extend(tablets.iter().map(|tablet| TabletDescriptor {
                tablet_id: tablet.id,
                keys_type: table.keys_type(),
                key_columns: table.definition.key_columns.clone(),
            }));
            partitions.push(Partition {
                id: self.metadata.allocate_id(),
                name,
                range,
                visible_version: 1,
                visible_version_time: now_millis(),
                tablets,
            });
        }
        self.backend.create_tablets(descriptors).await?;
        Ok(partitions)
    }

    pub async fn create_table(
        &self,
        database: &str,
        definition: TableDefinition,
        if_not_exists: bool,
    ) -> Result<(), FeError> {
        let database_id = self.database_id(database)?;
        if self.metadata.read().database(database).and_then(|db| db.tables.get(&definition.name)).is_some() {
            if if_not_exists {
                return Ok(());
            }
            return Err(FeError::user(
                ErrorCode::TABLE_EXISTS,
                format!("Table '{}' already exists", definition.name),
            ));
        }
        let definition = normalize_definition(definition)?;
        let replication_num = self.replication_num(&definition)?;
        let bucket_count = match &definition.distribution {
            Some(DistributionDesc::Hash { buckets, .. } | DistributionDesc::Random { buckets }) => {
                buckets.unwrap_or(self.config.default_buckets)
            }
            None => self.config.default_buckets,
        }
        .max(1);
        let ranges: Vec<(String, Option<PartitionRange>)> = match &definition.partition {
            PartitionDesc::Unpartitioned => vec![(definition.name.clone(), None)],
            PartitionDesc::Range { .. } => resolve_range_partitions(&definition)?
                .into_iter()
                .map(|(name, range)| (name, Some(range)))
                .collect(),
            PartitionDesc::TimeExpression { .. } => Vec::new(),
        };
        let mut definition = definition;
        for (index, column) in definition.columns.iter_mut().enumerate() {
            column.unique_id = index as u32 + 1;
        }
        let next_column_id = definition.columns.len() as u32 + 1;
        let mut table = Table {
            id: self.metadata.allocate_id(),
            definition,
            bucket_count,
            replication_num,
            partitions: BTreeMap::new(),
            create_time: now_millis(),
            next_column_id,
        };
        for partition in self.new_partitions(&table, ranges).await? {
            table.partitions.insert(partition.name.clone(), partition);
        }
        let table_name = table.name().to_string();
        let tablets = table.tablet_ids();
        let result = self.metadata.log_checked(
            JournalEntry::CreateTable { database_id, table },
            |catalog| match catalog.database_by_id(database_id) {
                None => Err(FeError::unknown_database(database)),
                Some(db) if db.tables.contains_key(&table_name) => Err(FeError::user(
                    ErrorCode::TABLE_EXISTS,
                    format!("Table '{table_name}' already exists"),
                )),
                Some(_) => Ok(()),
            },
        );
        if let Err(error) = result {
            let _ = self.backend.drop_tablets(tablets).await;
            return match error {
                FeError::User { code, .. } if if_not_exists && code == ErrorCode::TABLE_EXISTS => Ok(()),
                other => Err(other),
            };
        }
        info!(database, table = %table_name, "created table");
        Ok(())
    }

    pub async fn drop_table(&self, database: &str, table: &str, if_exists: bool) -> Result<(), FeError> {
        let (database_id, table) = match self.table_snapshot(database, table) {
            Ok(found) => found,
            Err(FeError::User { code, .. }) if if_exists && code == ErrorCode::NO_SUCH_TABLE => return Ok(()),
            Err(FeError::User { code, .. }) if code == ErrorCode::NO_SUCH_TABLE => {
                return Err(FeError::user(ErrorCode::BAD_TABLE, format!("Unknown table '{database}.{table}'")));
            }
            Err(error) => return Err(error),
        };
        // Wait for a commit in flight, so no committed transaction outlives its table.
        let lock = self.transactions.table_lock(table.id);
        let _guard = lock.lock().await;
        self.metadata.log(JournalEntry::DropTable { database_id, table_id: table.id })?;
        self.backend.drop_tablets(table.tablet_ids()).await?;
        Ok(())
    }

    /// TRUNCATE: the named (or all) partitions get new empty tablets in one journal entry.
    pub async fn truncate_table(&self, database: &str, table: &str, partitions: &[String]) -> Result<(), FeError> {
        let (database_id, table) = self.table_snapshot(database, table)?;
        let lock = self.transactions.table_lock(table.id);
        let _guard = lock.lock().await;
        let chosen: Vec<&Partition> = if partitions.is_empty() {
            table.partitions.values().collect()
        } else {
            partitions
                .iter()
                .map(|name| {
                    table.partitions.get(name).ok_or_else(|| {
                        FeError::user(ErrorCode::UNKNOWN_PARTITION, format!("Unknown partition '{name}' in table '{}'", table.name()))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let old_tablets: Vec<u64> = chosen.iter().flat_map(|partition| partition.tablets.iter().map(|tablet| tablet.id)).collect();
        let mut replacements = self
            .new_partitions(&table, chosen.iter().map(|partition| (partition.name.clone(), partition.range)).collect())
            .await?;
        for (replacement, old) in replacements.iter_mut().zip(&chosen) {
            // The partition keeps its id, so running loads fail cleanly rather than land in
            // the old tablets.
            replacement.id = old.id;
            replacement.visible_version = old.visible_version + 1;
        }
        self.metadata.log(JournalEntry::ReplacePartitions {
            database_id,
            table_id: table.id,
            partitions: replacements,
        })?;
        self.backend.drop_tablets(old_tablets).await?;
        Ok(())
    }

    /// Creates partitions that expression partitioning needs for a load.
    pub async fn add_partitions(
        &self,
        database_id: DatabaseId,
        table: &Table,
        missing: Vec<crate::router::MissingPartition>,
    ) -> Result<(), FeError> {
        let table_id: TableId = table.id;
        let partitions = self
            .new_partitions(table, missing.into_iter().map(|missing| (missing.name, Some(missing.range))).collect())
            .await?;
        let names: Vec<String> = partitions.iter().map(|partition| partition.name.clone()).collect();
        let tablets: Vec<u64> = partitions.iter().flat_map(|p| p.tablets.iter().map(|t| t.id)).collect();
        let result = self.metadata.log_checked(
            JournalEntry::AddPartitions { database_id, table_id, partitions },
            |catalog| {
                let table = catalog
                    .table_by_id(database_id, table_id)
                    .ok_or_else(|| FeError::analysis("the table was dropped while the load ran"))?;
                if names.iter().any(|name| table.partitions.contains_key(name)) {
                    return Err(FeError::internal("partition created concurrently"));
                }
                Ok(())
            },
        );
        if let Err(error) = result {
            let _ = self.backend.drop_tablets(tablets).await;
            // Another load created the same partitions first: that is what we wanted.
            if matches!(error, FeError::Internal(_)) {
                return Ok(());
            }
            return Err(error);
        }
        Ok(())
    }

    pub async fn alter_table(
        &self,
        database: &str,
        table: &str,
        operations: Vec<AlterTableOperation>,
    ) -> Result<(), FeError> {
        let (database_id, table) = self.table_snapshot(database, table)?;
        let mut columns: Vec<ColumnDefinition> = table.columns().to_vec();
        let highest = columns.iter().map(|column| column.unique_id).max().unwrap_or(0);
        let mut next_column_id = table.next_column_id.max(highest + 1);
        for operation in operations {
            match operation {
                AlterTableOperation::AddColumn { mut column, position } => {
                    column.unique_id = next_column_id;
                    next_column_id += 1;
                    if columns.iter().any(|existing| existing.name.eq_ignore_ascii_case(&column.name)) {
                        return Err(FeError::user(
                            ErrorCode::DUPLICATE_FIELD_NAME,
                            format!("Duplicate column name '{}'", column.name),
                        ));
                    }
                    if column.is_key {
                        return Err(FeError::not_supported("adding a key column"));
                    }
                    match &column.default {
                        // Rows written before the column existed read its default, so it must
                        // be a value of the column's type, fixed now.
                        Some(cairn_common::DefaultValue::CurrentTimestamp) => {
                            return Err(FeError::analysis(format!(
                                "ADD COLUMN '{}' can not default to CURRENT_TIMESTAMP: existing rows need a fixed value",
                                column.name
                            )));
                        }
                        Some(cairn_common::DefaultValue::Literal(_)) => {
                            crate::convert::default_values(&column, 1, "")?;
                        }
                        _ => {}
                    }
                    if !column.nullable && column.default.is_none() {
                        return Err(FeError::analysis(format!(
                            "column '{}' is NOT NULL and needs a DEFAULT value for the existing rows",
                            column.name
                        )));
                    }
                    column.is_key = false;
                    let index = match position {
                        ColumnPosition::Last => columns.len(),
                        ColumnPosition::First => {
                            return Err(FeError::analysis("a value column can not be the first column; the key columns come first"));
                        }
                        ColumnPosition::After(name) => {
                            let after = columns
                                .iter()
                                .position(|existing| existing.name.eq_ignore_ascii_case(&name))
                                .ok_or_else(|| FeError::user(ErrorCode::BAD_FIELD, format!("Unknown column '{name}'")))?;
                            let index = after + 1;
                            if columns.get(index).is_some_and(|next| next.is_key) {
                                return Err(FeError::analysis("a value column can not be placed among the key columns"));
                            }
                            index
                        }
                    };
                    columns.insert(index, column);
                }
                AlterTableOperation::DropColumn { name } => {
                    let index = columns
                        .iter()
                        .position(|existing| existing.name.eq_ignore_ascii_case(&name))
                        .ok_or_else(|| FeError::user(ErrorCode::BAD_FIELD, format!("Unknown column '{name}'")))?;
                    let column = &columns[index];
                    let used_by_distribution = matches!(&table.definition.distribution,
                        Some(DistributionDesc::Hash { columns, .. }) if columns.iter().any(|c| c.eq_ignore_ascii_case(&name)));
                    let used_by_partition = match &table.definition.partition {
                        PartitionDesc::Range { columns, .. } => columns.iter().any(|c| c.eq_ignore_ascii_case(&name)),
                        PartitionDesc::TimeExpression { column, .. } => column.eq_ignore_ascii_case(&name),
                        PartitionDesc::Unpartitioned => false,
                    };
                    if column.is_key || used_by_distribution || used_by_partition {
                        return Err(FeError::analysis(format!(
                            "Can not drop key, partition or distribution column '{}'",
                            column.name
                        )));
                    }
                    if columns.len() == 1 {
                        return Err(FeError::analysis("a table must keep at least one column"));
                    }
                    columns.remove(index);
                }
            }
        }
        self.metadata.log(JournalEntry::AlterColumns {
            database_id,
            table_id: table.id,
            columns,
        })
    }
}

//! `information_schema` in MySQL's shape, built from the catalog when a query reads it.
//! Grafana's query builder and SQL tools list databases, tables and columns from here.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::common::Result as DataFusionResult;

use cairn_common::ColumnType;

use crate::catalog::Catalog;
use crate::metadata::Metadata;

const TABLES: [&str; 10] = [
    "schemata",
    "loads",
    "tables",
    "columns",
    "views",
    "engines",
    "character_sets",
    "collations",
    "statistics",
    "table_constraints",
];

pub struct InformationSchema {
    metadata: Arc<Metadata>,
    loads: Arc<crate::load_target::LoadJobs>,
}

impl InformationSchema {
    pub fn new(metadata: Arc<Metadata>, loads: Arc<crate::load_target::LoadJobs>) -> Self {
        InformationSchema { metadata, loads }
    }
}

/// `information_schema.loads` in StarRocks' shape: recent Stream Load and Routine Load
/// transactions.
fn loads(records: &[cairn_load::LoadRecord]) -> DataFusionResult<(SchemaRef, RecordBatch)> {
    let mut builder = TableBuilder::new(&[
        ("job_id", true),
        ("label", false),
        ("database_name", false),
        ("table_name", false),
        ("state", false),
        ("progress", false),
        ("type", false),
        ("priority", false),
        ("scan_rows", true),
        ("filtered_rows", true),
        ("unselected_rows", true),
        ("sink_rows", true),
        ("load_bytes", true),
        ("create_time", false),
        ("load_start_time", false),
        ("load_finish_time", false),
        ("user", false),
        ("error_msg", false),
        ("tracking_url", false),
    ]);
    for record in records {
        builder.row(vec![
            integer(record.transaction_id as i64),
            text(&record.label),
            text(&record.database),
            text(&record.table),
            text(record.state),
            text(if record.state == "CANCELLED" { "0%" } else { "100%" }),
            text(record.load_type),
            text("NORMAL"),
            integer(record.total_rows as i64),
            integer(record.filtered_rows as i64),
            integer(record.unselected_rows as i64),
            integer(record.loaded_rows as i64),
            integer(record.load_bytes as i64),
            text(crate::show::millis_to_datetime(record.create_time_ms)),
            text(crate::show::millis_to_datetime(record.create_time_ms)),
            text(crate::show::millis_to_datetime(record.finish_time_ms)),
            text(&record.user),
            Cell::Text((!record.error_message.is_empty()).then(|| record.error_message.clone())),
            Cell::Text((!record.error_url.is_empty()).then(|| record.error_url.clone())),
        ]);
    }
    builder.build()
}

impl fmt::Debug for InformationSchema {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("InformationSchema")
    }
}

/// A column of the result: text or integer.
enum Values {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
}

struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<Values>,
}

impl TableBuilder {
    fn new(columns: &[(&str, bool)]) -> Self {
        TableBuilder {
            fields: columns
                .iter()
                .map(|(name, integer)| {
                    Field::new(*name, if *integer { DataType::Int64 } else { DataType::Utf8 }, true)
                })
                .collect(),
            columns: columns
                .iter()
                .map(|(_, integer)| if *integer { Values::Integer(Vec::new()) } else { Values::Text(Vec::new()) })
                .collect(),
        }
    }

    fn row(&mut self, values: Vec<Cell>) {
        for (column, value) in self.columns.iter_mut().zip(values) {
            match (column, value) {
                (Values::Text(values), Cell::Text(text)) => values.push(text),
                (Values::Integer(values), Cell::Integer(number)) => values.push(number),
                (Values::Text(values), Cell::Integer(number)) => values.push(number.map(|n| n.to_string())),
                (Values::Integer(values), Cell::Text(_)) => values.push(None),
            }
        }
    }

    fn build(self) -> DataFusionResult<(SchemaRef, RecordBatch)> {
        let schema = Arc::new(Schema::new(self.fields));
        let arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|values| match values {
                Values::Text(values) => Arc::new(StringArray::from(values)) as ArrayRef,
                Values::Integer(values) => Arc::new(Int64Array::from(values)) as ArrayRef,
            })
            .collect();
        Ok((Arc::clone(&schema), RecordBatch::try_new(schema, arrays)?))
    }
}

enum Cell {
    Text(Option<String>),
    Integer(Option<i64>),
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(Some(value.into()))
}

fn integer(value: i64) -> Cell {
    Cell::Integer(Some(value))
}

fn null() -> Cell {
    Cell::Text(None)
}

fn datetime(millis: i64) -> Cell {
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(time) => text(time.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()),
        None => null(),
    }
}

/// MySQL's `DATA_TYPE` (the bare type name) for a column type.
pub fn mysql_data_type(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Boolean => "boolean",
        ColumnType::TinyInt => "tinyint",
        ColumnType::SmallInt => "smallint",
        ColumnType::Int => "int",
        ColumnType::BigInt => "bigint",
        ColumnType::LargeInt => "largeint",
        ColumnType::Float => "float",
        ColumnType::Double => "double",
        ColumnType::Decimal { .. } => "decimal",
        ColumnType::Date => "date",
        ColumnType::DateTime => "datetime",
        ColumnType::Char { .. } => "char",
        ColumnType::Varchar { .. } | ColumnType::String => "varchar",
        ColumnType::Json => "json",
    }
}

fn schemata(catalog: &Catalog) -> DataFusionResult<(SchemaRef, RecordBatch)> {
    let mut builder = TableBuilder::new(&[
        ("catalog_name", false),
        ("schema_name", false),
        ("default_character_set_name", false),
        ("default_collation_name", false),
        ("sql_path", false),
    ]);
    let names = std::iter::once("information_schema".to_string()).chain(catalog.databases.keys().cloned());
    for name in names {
        builder.row(vec![text("def"), text(name), text("utf8"), text("utf8_general_ci"), null()]);
    }
    builder.build()
}

fn tables(catalog: &Catalog) -> DataFusionResult<(SchemaRef, RecordBatch)> {
    let mut builder = TableBuilder::new(&[
        ("table_catalog", false),
        ("table_schema", false),
        ("table_name", false),
        ("table_type", false),
        ("engine", false),
        ("version", true),
        ("row_format", false),
        ("table_rows", true),
        ("avg_row_length", true),
        ("data_length", true),
        ("max_data_length", true),
        ("index_length", true),
        ("data_free", true),
        ("auto_increment", true),
        ("create_time", false),
        ("update_time", false),
        ("check_time", false),
        ("table_collation", false),
        ("checksum", true),
        ("create_options", false),
        ("table_comment", false),
    ]);
    for table_name in TABLES {
        builder.row(vec![
            text("def"), text("information_schema"), text(table_name), text("SYSTEM VIEW"), text("MEMORY"),
            integer(10), text("Fixed"), integer(0), integer(0), integer(0), integer(0), integer(0), integer(0),
            Cell::Integer(None), null(), null(), null(), text("utf8mb4_general_ci"), Cell::Integer(None), text(""), text(""),
        ]);
    }
    for database in catalog.databases.values() {
        for table in database.tables.values() {
            builder.row(vec![
                text("def"),
                text(&database.name),
                text(table.name()),
                text("BASE TABLE"),
                text("StarRocks"),
                integer(10),
                text("Dynamic"),
                integer(0),
                integer(0),
                integer(0),
                integer(0),
                integer(0),
                integer(0),
                Cell::Integer(None),
                datetime(table.create_time),
                datetime(table.update_time()),
                null(),
                text("utf8_general_ci"),
                Cell::Integer(None),
                text(""),
                text(&table.definition.comment),
            ]);
        }
    }
    builder.build()
}

fn columns(catalog: &Catalog) -> DataFusionResult<(SchemaRef, RecordBatch)> {
    let mut builder = TableBuilder::new(&[
        ("table_catalog", false),
        ("table_schema", false),
        ("table_name", false),
        ("column_name", false),
        ("ordinal_position", true),
        ("column_default", false),
        ("is_nullable", false),
        ("data_type", false),
        ("character_maximum_length", true),
        ("character_octet_length", true),
        ("numeric_precision", true),
        ("numeric_scale", true),
        ("datetime_precision", true),
        ("character_set_name", false),
        ("collation_name", false),
        ("column_type", false),
        ("column_key", false),
        ("extra", false),
        ("privileges", false),
        ("column_comment", false),
        ("column_size", true),
        ("decimal_digits", true),
        ("generation_expression", false),
        ("srs_id", true),
    ]);
    for database in catalog.databases.values() {
        for table in database.tables.values() {
            for (index, column) in table.columns().iter().enumerate() {
                let column_type = column.column_type;
                let (character_length, precision, scale) = match column_type {
                    ColumnType::Char { length } | ColumnType::Varchar { length } => (Some(i64::from(length)), None, None),
                    ColumnType::String => (Some(i64::from(cairn_common::types::MAX_VARCHAR_LENGTH)), None, None),
                    ColumnType::TinyInt => (None, Some(3), Some(0)),
                    ColumnType::SmallInt => (None, Some(5), Some(0)),
                    ColumnType::Int => (None, Some(10), Some(0)),
                    ColumnType::BigInt => (None, Some(19), Some(0)),
                    ColumnType::LargeInt => (None, Some(39), Some(0)),
                    ColumnType::Float => (None, Some(12), None),
                    ColumnType::Double => (None, Some(22), None),
                    ColumnType::Decimal { precision, scale } => (None, Some(i64::from(precision)), Some(i64::from(scale))),
                    _ => (None, None, None),
                };
                let default = match &column.default {
                    Some(cairn_common::DefaultValue::Literal(value)) => text(value),
                    Some(cairn_common::DefaultValue::CurrentTimestamp) => text("CURRENT_TIMESTAMP"),
                    _ => null(),
                };
                let key = if column.is_key {
                    if table.keys_type() == cairn_common::KeysType::Primary { "PRI" } else { "DUP" }
                } else {
                    ""
                };
                builder.row(vec![
                    text("def"),
                    text(&database.name),
                    text(table.name()),
                    text(&column.name),
                    integer(index as i64 + 1),
                    default,
                    text(if column.nullable { "YES" } else { "NO" }),
                    text(mysql_data_type(column_type)),
                    Cell::Integer(character_length),
                    Cell::Integer(character_length.map(|length| length * 4)),
                    Cell::Integer(precision),
                    Cell::Integer(scale),
                    Cell::Integer(if column_type == ColumnType::DateTime { Some(0) } else { None }),
                    if column_type.is_string() { text("utf8") } else { null() },
                    if column_type.is_string() { text("utf8_general_ci") } else { null() },
                    text(column_type.to_string()),
                    text(key),
                    text(""),
                    text("select,insert,update,references"),
                    text(&column.comment),
                    Cell::Integer(precision.or(character_length)),
                    Cell::Integer(scale),
                    null(),
                    Cell::Integer(None),
                ]);
            }
        }
    }
    builder.build()
}

fn fixed_table(name: &str) -> DataFusionResult<(SchemaRef, RecordBatch)> {
    match name {
        "engines" => {
            let mut builder = TableBuilder::new(&[
                ("engine", false),
                ("support", false),
                ("comment", false),
                ("transactions", false),
                ("xa", false),
                ("savepoints", false),
            ]);
            builder.row(vec![
                text("OLAP"), text("DEFAULT"), text("Default storage engine of StarRocks"), text("YES"), text("NO"), text("NO"),
            ]);
            builder.build()
        }
        "character_sets" => {
            let mut builder = TableBuilder::new(&[
                ("character_set_name", false),
                ("default_collate_name", false),
                ("description", false),
                ("maxlen", true),
            ]);
            builder.row(vec![text("utf8"), text("utf8_general_ci"), text("UTF-8 Unicode"), integer(3)]);
            builder.row(vec![text("utf8mb4"), text("utf8mb4_general_ci"), text("UTF-8 Unicode"), integer(4)]);
            builder.build()
        }
        "collations" => {
            let mut builder = TableBuilder::new(&[
                ("collation_name", false),
                ("character_set_name", false),
                ("id", true),
                ("is_default", false),
                ("is_compiled", false),
                ("sortlen", true),
            ]);
            builder.row(vec![text("utf8_general_ci"), text("utf8"), integer(33), text("Yes"), text("Yes"), integer(1)]);
            builder.row(vec![text("utf8mb4_general_ci"), text("utf8mb4"), integer(45), text("Yes"), text("Yes"), integer(1)]);
            builder.build()
        }
        "views" => TableBuilder::new(&[
            ("table_catalog", false),
            ("table_schema", false),
            ("table_name", false),
            ("view_definition", false),
            ("check_option", false),
            ("is_updatable", false),
            ("definer", false),
            ("security_type", false),
            ("character_set_client", false),
            ("collation_connection", false),
        ])
        .build(),
        "statistics" => TableBuilder::new(&[
            ("table_catalog", false),
            ("table_schema", false),
            ("table_name", false),
            ("non_unique", true),
            ("index_schema", false),
            ("index_name", false),
            ("seq_in_index", true),
            ("column_name", false),
            ("collation", false),
            ("cardinality", true),
            ("sub_part", true),
            ("packed", false),
            ("nullable", false),
            ("index_type", false),
            ("comment", false),
            ("index_comment", false),
        ])
        .build(),
        _ => TableBuilder::new(&[
            ("constraint_catalog", false),
            ("constraint_schema", false),
            ("constraint_name", false),
            ("table_schema", false),
            ("table_name", false),
            ("constraint_type", false),
        ])
        .build(),
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|name| name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        let name = name.to_lowercase();
        let built = {
            let catalog = self.metadata.read();
            match name.as_str() {
                "schemata" => schemata(&catalog)?,
                "tables" => tables(&catalog)?,
                "columns" => columns(&catalog)?,
                "loads" => loads(&self.loads.history())?,
                other if TABLES.contains(&other) => fixed_table(other)?,
                _ => return Ok(None),
            }
        };
        let (schema, batch) = built;
        Ok(Some(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name.to_lowercase().as_str())
    }
}

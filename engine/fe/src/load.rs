//! Writing rows into a table as one transaction: routing to partitions and tablets, creating
//! expression partitions on demand, then commit and publish.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;

use cairn_be::{TabletWrite, WriteMode};
use cairn_common::ids::PartitionId;

use crate::catalog::Table;
use crate::error::FeError;
use crate::frontend::Frontend;
use crate::router::{RoutedRows, bucket_indices, partition_ids, split_batch};
use crate::transaction::{Transaction, TransactionOutcome};

/// Which partitions an overwrite replaces.
pub enum Overwrite {
    No,
    /// Every partition of the table (`INSERT OVERWRITE t`, DELETE).
    AllPartitions,
}

impl Frontend {
    /// Routes rows that already have the table's full schema.
    async fn route(
        &self,
        database_id: u64,
        database: &str,
        mut table: Table,
        batches: &[RecordBatch],
    ) -> Result<(Table, RoutedRows), FeError> {
        // Expression partitioning may need new partitions; create them and route again.
        for _attempt in 0..3 {
            let mut routed = RoutedRows::new();
            let mut missing_all = Vec::new();
            let mut round_robin = rand::random::<u32>() as usize;
            for batch in batches {
                if batch.num_rows() == 0 {
                    continue;
                }
                match partition_ids(&table, batch)? {
                    Ok(partitions) => {
                        let buckets = bucket_indices(&table, batch, round_robin)?;
                        round_robin = round_robin.wrapping_add(1);
                        split_batch(batch, &partitions, &buckets, &mut routed)?;
                    }
                    Err(missing) => missing_all.extend(missing),
                }
            }
            if missing_all.is_empty() {
                return Ok((table, routed));
            }
            missing_all.sort_by(|a, b| a.name.cmp(&b.name));
            missing_all.dedup_by(|a, b| a.name == b.name);
            self.add_partitions(database_id, &table, missing_all).await?;
            table = self.table_snapshot(database, table.name())?.1;
        }
        Err(FeError::internal("partitions for the load could not be created"))
    }

    /// Loads rows (in the table's column order and types) as one transaction. For an
    /// overwrite the caller must hold [`crate::transaction::TransactionManager::table_lock`]
    /// since reading what it writes, so no other commit lands in between.
    pub async fn load_rows(
        &self,
        database: &str,
        table_name: &str,
        batches: Vec<RecordBatch>,
        label: Option<String>,
        overwrite: Overwrite,
    ) -> Result<TransactionOutcome, FeError> {
        let (database_id, table) = self.table_snapshot(database, table_name)?;
        let mut transaction = self.transactions.begin(database_id, table.id, label)?;
        self.write_and_commit(&mut transaction, database, table, &batches, overwrite).await
    }

    /// Writes and commits a begun transaction into `table` (a snapshot of the table it began
    /// on); on any error the transaction is aborted.
    pub async fn write_and_commit(
        &self,
        transaction: &mut Transaction,
        database: &str,
        table: Table,
        batches: &[RecordBatch],
        overwrite: Overwrite,
    ) -> Result<TransactionOutcome, FeError> {
        // The caller of an overwrite holds the table lock from its read to this commit.
        let lock_held = matches!(overwrite, Overwrite::AllPartitions);
        self.write_and_commit_inner(transaction, database, table, batches, overwrite, lock_held)
            .await
    }

    /// [`Frontend::write_and_commit`] for a caller that holds the table's commit lock since it
    /// read what the rows were made from (a partial update).
    pub async fn write_and_commit_holding_lock(
        &self,
        transaction: &mut Transaction,
        database: &str,
        table: Table,
        batches: &[RecordBatch],
    ) -> Result<TransactionOutcome, FeError> {
        self.write_and_commit_inner(transaction, database, table, batches, Overwrite::No, true)
            .await
    }

    async fn write_and_commit_inner(
        &self,
        transaction: &mut Transaction,
        database: &str,
        table: Table,
        batches: &[RecordBatch],
        overwrite: Overwrite,
        lock_held: bool,
    ) -> Result<TransactionOutcome, FeError> {
        let database_id = transaction.database_id;
        let result = if table.id == transaction.table_id {
            self.write_transaction(transaction, database_id, database, table, batches, &overwrite)
                .await
        } else {
            Err(FeError::analysis(format!(
                "table '{}' was dropped and re-created while the load ran; nothing was loaded",
                table.name()
            )))
        };
        let outcome = match result {
            Ok(()) if lock_held => self.transactions.commit_locked(transaction).await,
            Ok(()) => self.transactions.commit(transaction).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(outcome) => {
                self.metrics.record_transaction(true);
                self.metrics.rows_loaded.inc_by(outcome.rows);
                let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
                self.metrics.bytes_loaded.inc_by(bytes as u64);
                Ok(outcome)
            }
            Err(error) => {
                self.metrics.record_transaction(false);
                self.transactions.abort(transaction).await;
                Err(error)
            }
        }
    }

    async fn write_transaction(
        &self,
        transaction: &mut Transaction,
        database_id: u64,
        database: &str,
        table: Table,
        batches: &[RecordBatch],
        overwrite: &Overwrite,
    ) -> Result<(), FeError> {
        let (table, routed) = self.route(database_id, database, table, batches).await?;
        let schema = crate::table_provider::tablet_schema(&table).storage_schema();
        let mode = match overwrite {
            Overwrite::No => WriteMode::Append,
            Overwrite::AllPartitions => WriteMode::Replace,
        };
        let mut writes: Vec<(PartitionId, Vec<u64>, TabletWrite)> = Vec::new();
        for partition in table.partitions.values() {
            for (bucket, tablet) in partition.tablets.iter().enumerate() {
                let rows = routed.get(&(partition.id, bucket)).cloned().unwrap_or_default();
                if rows.is_empty() && mode == WriteMode::Append {
                    continue;
                }
                writes.push((
                    partition.id,
                    tablet.backends.clone(),
                    TabletWrite {
                        tablet_id: tablet.id,
                        schema: Arc::clone(&schema),
                        batches: rows,
                        mode,
                    },
                ));
            }
            if mode == WriteMode::Replace {
                self.transactions.touch_partition(transaction, partition.id);
            }
        }
        self.transactions.write(transaction, writes).await
    }
}

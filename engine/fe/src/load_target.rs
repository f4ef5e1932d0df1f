//! The FE's side of Stream Load and Routine Load: [`cairn_load::LoadTarget`]. A load executor
//! authenticates the user, begins a transaction under its label, and hands back converted rows;
//! the FE filters rows no partition takes, checks `max_filter_ratio` with them counted,
//! routes, writes, commits and publishes. Finished loads are kept for `SHOW LOAD`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use parking_lot::Mutex;

use cairn_common::{ErrorCode, KeysType};
use cairn_load::{BeginLoad, CommitOutcome, CommitRequest, LoadError, LoadRecord, LoadTarget, LoadTransaction};

use crate::error::FeError;
use crate::frontend::Frontend;
use crate::load::Overwrite;
use crate::transaction::Transaction;

/// Finished loads kept for `SHOW LOAD`, newest last.
const LOAD_HISTORY: usize = 10_000;

#[derive(Default)]
pub struct LoadJobs {
    running: Mutex<HashMap<u64, Transaction>>,
    history: Mutex<VecDeque<LoadRecord>>,
}

impl LoadJobs {
    pub fn history(&self) -> Vec<LoadRecord> {
        self.history.lock().iter().cloned().collect()
    }
}

fn load_error(error: FeError) -> LoadError {
    match error {
        FeError::User { code, message } if code == ErrorCode::BAD_DATABASE || code == ErrorCode::NO_SUCH_TABLE => {
            LoadError::NotFound(message)
        }
        FeError::PublishTimeout(message) => LoadError::PublishTimeout(message),
        FeError::User { message, .. } => LoadError::Schema(message),
        other => LoadError::Internal(other.to_string()),
    }
}

impl Frontend {
    fn begin_load(&self, request: &BeginLoad) -> Result<(Transaction, LoadTransaction), LoadError> {
        let (database_id, table) = self.table_snapshot(&request.database, &request.table).map_err(load_error)?;
        let allowed = self
            .metadata
            .read()
            .user(&request.user, &request.host)
            .is_some_and(|user| crate::users::may_write(user, &request.database));
        if !allowed {
            return Err(LoadError::AccessDenied {
                user: format!("{}@{}: you need the INSERT privilege on database {}", request.user, request.host, request.database),
            });
        }
        let transaction = self
            .transactions
            .begin(database_id, table.id, request.label.clone())
            .map_err(|error| match error {
                // Stream Load reports the existing job as StarRocks' load states do.
                FeError::LabelAlreadyExists { label, state } => LoadError::LabelAlreadyExists {
                    label,
                    existing_status: match state {
                        "VISIBLE" => "FINISHED",
                        other => other,
                    }
                    .to_string(),
                },
                other => load_error(other),
            })?;
        let handle = LoadTransaction {
            transaction_id: transaction.transaction_id,
            label: transaction.label.clone(),
            database: request.database.clone(),
            table: request.table.clone(),
            columns: table.columns().to_vec(),
            primary_key: table.keys_type() == KeysType::Primary,
        };
        Ok((transaction, handle))
    }

    async fn commit_load(
        &self,
        transaction: &mut Transaction,
        handle: &LoadTransaction,
        request: CommitRequest,
    ) -> Result<CommitOutcome, LoadError> {
        let (_, table) = self.table_snapshot(&handle.database, &handle.table).map_err(load_error)?;
        if table.columns().len() != handle.columns.len()
            || table.columns().iter().zip(&handle.columns).any(|(now, then)| now.name != then.name || now.column_type != then.column_type)
        {
            return Err(LoadError::Schema(format!(
                "The columns of table '{}' changed while the load ran; nothing was loaded",
                handle.table
            )));
        }
        let schema = crate::table_provider::tablet_schema(&table).arrow_schema();
        let routine_load = request.routine_load;
        let partial_update = request.partial_update;
        let mut batches = Vec::with_capacity(request.rows.len());
        let mut outcome = CommitOutcome::default();
        for rows in request.rows {
            let batch = RecordBatch::try_new(Arc::clone(&schema), rows.columns)
                .map_err(|error| LoadError::Internal(format!("failed to assemble rows for the table: {error}")))?;
            let rejections = crate::router::partition_rejections(&table, &batch, request.partitions.as_deref())
                .map_err(load_error)?;
            if rejections.iter().all(Option::is_none) {
                batches.push(batch);
                continue;
            }
            let keep: BooleanArray = rejections.iter().map(|rejection| Some(rejection.is_none())).collect();
            for (row_number, rejection) in rows.row_numbers.iter().zip(rejections) {
                if let Some(reason) = rejection {
                    outcome.filtered.push((*row_number, reason));
                }
            }
            let kept = filter_record_batch(&batch, &keep)
                .map_err(|error| LoadError::Internal(format!("failed to filter rows: {error}")))?;
            batches.push(kept);
        }
        let filtered = request.filtered_rows + outcome.filtered.len() as u64;
        if request.total_rows > 0 && filtered as f64 > request.max_filter_ratio * request.total_rows as f64 {
            return Err(LoadError::TooManyFilteredRows {
                filtered,
                total: request.total_rows,
                max_filter_ratio: request.max_filter_ratio,
            });
        }
        // The batch's offsets go into the commit record with the counts as committed.
        transaction.routine_load = routine_load.map(|mut commit| {
            commit.loaded_rows = batches.iter().map(|batch| batch.num_rows() as u64).sum();
            commit.error_rows = filtered;
            commit
        });
        let committed = match partial_update.filter(|provided| provided.iter().any(|given| !given)) {
            Some(provided) => {
                // Reading the current rows and committing must not interleave with another
                // commit of the table, whose values in the other columns would be lost.
                let lock = self.transactions.table_lock(table.id);
                let _guard = lock.lock().await;
                let current = self.read_current_rows(&table).await.map_err(load_error)?;
                let completed = crate::partial_update::complete_rows(&table, &current, batches, &provided).map_err(load_error)?;
                self.write_and_commit_holding_lock(transaction, &handle.database, table, &completed)
                    .await
            }
            None => {
                self.write_and_commit(transaction, &handle.database, table, &batches, Overwrite::No)
                    .await
            }
        }
        .map_err(load_error)?;
        outcome.loaded_rows = committed.rows;
        Ok(outcome)
    }
}

#[async_trait]
impl LoadTarget for Frontend {
    fn authenticate(&self, user: &str, password: &str, host: &str) -> Result<(), LoadError> {
        let denied = || LoadError::AccessDenied {
            user: format!("{user}@{host}"),
        };
        let catalog = self.metadata.read();
        let record = catalog.user(user, host).ok_or_else(denied)?;
        let matches = if record.password_hash.is_empty() {
            password.is_empty()
        } else {
            !password.is_empty() && cairn_mysql::native_password_hash(password).as_slice() == record.password_hash.as_slice()
        };
        if matches { Ok(()) } else { Err(denied()) }
    }

    async fn begin(&self, request: BeginLoad) -> Result<LoadTransaction, LoadError> {
        let (transaction, handle) = self.begin_load(&request)?;
        self.loads.running.lock().insert(handle.transaction_id, transaction);
        Ok(handle)
    }

    async fn commit(&self, handle: &LoadTransaction, request: CommitRequest) -> Result<CommitOutcome, LoadError> {
        let mut transaction = self
            .loads
            .running
            .lock()
            .remove(&handle.transaction_id)
            .ok_or_else(|| LoadError::Internal(format!("transaction {} is not running", handle.transaction_id)))?;
        let result = self.commit_load(&mut transaction, handle, request).await;
        if result.is_err() {
            // write_and_commit aborts what it began; this covers errors before it.
            self.transactions.abort(&mut transaction).await;
        }
        result
    }

    async fn abort(&self, handle: &LoadTransaction, reason: &str) {
        let transaction = self.loads.running.lock().remove(&handle.transaction_id);
        if let Some(mut transaction) = transaction {
            tracing::info!(transaction_id = handle.transaction_id, label = %handle.label, reason, "load aborted");
            self.transactions.abort(&mut transaction).await;
        }
    }

    fn record(&self, record: LoadRecord) {
        let mut history = self.loads.history.lock();
        if history.len() >= LOAD_HISTORY {
            history.pop_front();
        }
        history.push_back(record);
    }
}

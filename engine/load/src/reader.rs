//! Rows as they come out of a format reader: text per source column, in batches, plus the
//! rows the reader itself rejected.

use std::sync::Arc;

use datafusion::arrow::array::{StringArray, StringBuilder};

/// A row that will not load, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// 1-based position in the input.
    pub row_number: u64,
    pub reason: String,
    /// The row as it was read (or rebuilt from its fields), for the error log.
    pub row: String,
}

/// Text values per source column.
#[derive(Debug, Clone)]
pub(crate) struct RawBatch {
    pub(crate) columns: Vec<StringArray>,
    pub(crate) row_numbers: Vec<u64>,
}

impl RawBatch {
    pub(crate) fn num_rows(&self) -> usize {
        self.row_numbers.len()
    }
}

pub(crate) struct RawBatchBuilder {
    names: Arc<Vec<String>>,
    builders: Vec<StringBuilder>,
    row_numbers: Vec<u64>,
    batch_rows: usize,
    batches: Vec<RawBatch>,
    errors: Vec<RowError>,
    /// Rows read, good or bad.
    total_rows: u64,
}

impl RawBatchBuilder {
    pub(crate) fn new(names: Vec<String>, batch_rows: usize) -> Self {
        let builders = names.iter().map(|_| StringBuilder::new()).collect();
        RawBatchBuilder {
            names: Arc::new(names),
            builders,
            row_numbers: Vec::new(),
            batch_rows: batch_rows.max(1),
            batches: Vec::new(),
            errors: Vec::new(),
            total_rows: 0,
        }
    }

    pub(crate) fn source_columns(&self) -> usize {
        self.builders.len()
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Adds a row with one value per source column.
    pub(crate) fn append(&mut self, row_number: u64, values: &[Option<&str>]) {
        for (builder, value) in self.builders.iter_mut().zip(values) {
            builder.append_option(*value);
        }
        self.row_numbers.push(row_number);
        self.total_rows += 1;
        if self.row_numbers.len() >= self.batch_rows {
            self.flush();
        }
    }

    pub(crate) fn reject(&mut self, error: RowError) {
        self.total_rows += 1;
        self.errors.push(error);
    }

    pub(crate) fn total_rows(&self) -> u64 {
        self.total_rows
    }

    fn flush(&mut self) {
        if self.row_numbers.is_empty() {
            return;
        }
        let columns = self.builders.iter_mut().map(StringBuilder::finish).collect();
        self.batches.push(RawBatch {
            columns,
            row_numbers: std::mem::take(&mut self.row_numbers),
        });
    }

    /// The batches read and the rows rejected.
    pub(crate) fn finish(mut self) -> (Vec<RawBatch>, Vec<RowError>) {
        self.flush();
        (self.batches, self.errors)
    }
}

/// The values of `batches` as text rows (`None` for NULL), for tests.
#[cfg(test)]
pub(crate) fn text_rows(batches: &[RawBatch]) -> Vec<Vec<Option<String>>> {
    use datafusion::arrow::array::Array;
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns
                    .iter()
                    .map(|column| column.is_valid(row).then(|| column.value(row).to_string()))
                    .collect(),
            );
        }
    }
    rows
}

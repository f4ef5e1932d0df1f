//! From the bytes of a load to rows of the table: read the format, map source columns to
//! table columns (with `columns` expressions), convert, and apply `where`. Stream Load and
//! each Routine Load batch go through [`LoadPlan`].

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType as SqlDataType, Expr, Ident, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::MySqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use cairn_common::ColumnDefinition;

use crate::convert::{RowFailures, convert_column, default_column};
use crate::error::LoadError;
use crate::options::{ColumnMapping, LoadFormat, LoadOptions};
use crate::reader::{RawBatch, RawBatchBuilder, RowError};
use crate::target::{LoadRows, LoadTransaction};

/// Rows per batch the readers produce.
const BATCH_ROWS: usize = 64 * 1024;
const SOURCE_TABLE: &str = "__cairn_load_source";
const WHERE_COLUMN: &str = "__cairn_load_where";

/// Where a table column's values come from.
#[derive(Debug, Clone)]
enum Provided {
    Source(usize),
    Expression(String),
    Default,
}

/// The rows a load produced, ready to commit.
#[derive(Debug, Default)]
pub struct PreparedRows {
    pub rows: Vec<LoadRows>,
    pub errors: Vec<RowError>,
    pub total_rows: u64,
    pub unselected_rows: u64,
}

impl PreparedRows {
    pub fn loaded_rows(&self) -> u64 {
        self.rows.iter().map(|rows| rows.row_numbers.len() as u64).sum()
    }

    /// Appends the rows of the part of the body after this one, numbering its rows on from
    /// this part's.
    fn append(&mut self, mut next: PreparedRows) {
        let offset = self.total_rows;
        for rows in &mut next.rows {
            for row_number in &mut rows.row_numbers {
                *row_number += offset;
            }
        }
        for error in &mut next.errors {
            error.row_number += offset;
        }
        self.rows.append(&mut next.rows);
        self.errors.append(&mut next.errors);
        self.total_rows += next.total_rows;
        self.unselected_rows += next.unselected_rows;
    }
}

/// Bodies smaller than this are prepared on one thread: splitting would cost more than it saves.
const PARALLEL_PART_BYTES: usize = 8 << 20;

pub struct LoadPlan {
    options: LoadOptions,
    columns: Vec<ColumnDefinition>,
    source_names: Vec<String>,
    provided: Vec<Provided>,
    /// Set when `columns` has expressions or there is a `where`: rows go through DataFusion.
    transform: Option<Transform>,
    now: String,
}

/// The `columns` expressions and `where` of a load as one query over each batch of source
/// rows, built once per load.
struct Transform {
    context: SessionContext,
    sql: String,
    /// The table columns the query computes (lower case); the others take their defaults.
    output_names: Vec<String>,
}

impl Transform {
    fn new(
        options: &LoadOptions,
        columns: &[ColumnDefinition],
        source_names: &[String],
        provided: &[Provided],
    ) -> Result<Self, LoadError> {
        let is_table_column = |name: &str| columns.iter().any(|column| column.name.eq_ignore_ascii_case(name));
        // Source columns that are not table columns stay text.
        let text_columns: HashSet<String> = source_names
            .iter()
            .filter(|name| !is_table_column(name))
            .map(|name| name.to_lowercase())
            .collect();
        let expression_sql = |text: &str| -> Result<String, LoadError> {
            let mut expression = Parser::new(&MySqlDialect {})
                .try_with_sql(text)
                .and_then(|mut parser| parser.parse_expr())
                .map_err(|error| LoadError::Expression(format!("Invalid expression '{text}': {error}")))?;
            numeric_text_columns(&mut expression, &text_columns);
            Ok(expression.to_string())
        };
        let mut inner = Vec::new();
        let mut output_names = Vec::new();
        for (column, provided) in columns.iter().zip(provided) {
            let sql = match provided {
                Provided::Source(index) => quoted(&source_names[*index]),
                Provided::Expression(text) => expression_sql(text)?,
                Provided::Default => continue,
            };
            inner.push(format!("{sql} AS {}", quoted(&column.name)));
            output_names.push(column.name.to_lowercase());
        }
        for name in source_names {
            if !is_table_column(name) {
                inner.push(quoted(name));
            }
        }
        let where_sql = match &options.where_clause {
            Some(text) => expression_sql(text)?,
            None => "TRUE".to_string(),
        };
        let sql = format!(
            "SELECT *, ({where_sql}) AS {WHERE_COLUMN} FROM (SELECT {} FROM {SOURCE_TABLE}) AS __cairn_load",
            inner.join(", ")
        );
        let context = SessionContext::new();
        cairn_functions::register_functions(&context);
        cairn_optimizer::register_rules(&context);
        cairn_functions::set_session_time_zone(&context, &options.timezone)
            .map_err(|error| LoadError::InvalidParameter(error.to_string()))?;
        Ok(Transform {
            context,
            sql,
            output_names,
        })
    }
}

fn is_arithmetic(operator: &BinaryOperator) -> bool {
    matches!(
        operator,
        BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo
            | BinaryOperator::MyIntegerDivide
    )
}

fn is_comparison(operator: &BinaryOperator) -> bool {
    matches!(
        operator,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

fn is_number(expr: &Expr) -> bool {
    match expr {
        Expr::Value(value) => matches!(value.value, datafusion::sql::sqlparser::ast::Value::Number(..)),
        Expr::UnaryOp { expr, .. } => is_number(expr),
        _ => false,
    }
}

/// MySQL converts text to a number in arithmetic (`tmp * 100`) and in comparisons with a
/// number; DataFusion does not. Source columns that are not table columns are text, so
/// wrap them in a cast where MySQL would convert.
fn numeric_text_columns(expression: &mut Expr, text_columns: &HashSet<String>) {
    let as_number = |expr: &mut Expr| {
        if let Expr::Identifier(ident) = expr {
            if text_columns.contains(&ident.value.to_lowercase()) {
                let inner = std::mem::replace(expr, Expr::Identifier(Ident::new("")));
                *expr = Expr::Cast {
                    kind: CastKind::TryCast,
                    expr: Box::new(inner),
                    data_type: SqlDataType::Double(datafusion::sql::sqlparser::ast::ExactNumberInfo::None),
                    array: false,
                    format: None,
                };
            }
        }
    };
    let _: ControlFlow<()> = visit_expressions_mut(expression, |expr| {
        if let Expr::BinaryOp { left, op, right } = expr {
            if is_arithmetic(op) {
                as_number(left);
                as_number(right);
            } else if is_comparison(op) {
                if is_number(right) {
                    as_number(left);
                }
                if is_number(left) {
                    as_number(right);
                }
            }
        }
        ControlFlow::Continue(())
    });
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.to_lowercase().replace('`', "``"))
}

impl LoadPlan {
    /// Checks the mapping against the table's columns.
    pub fn new(options: LoadOptions, columns: Vec<ColumnDefinition>) -> Result<Self, LoadError> {
        let find = |name: &str| columns.iter().position(|column| column.name.eq_ignore_ascii_case(name));
        let now = cairn_functions::wall_clock_now(&options.timezone)
            .map(|now| now.format("%Y-%m-%d %H:%M:%S").to_string())
            .ok_or_else(|| LoadError::InvalidParameter(format!("Unknown time zone '{}'", options.timezone)))?;
        let (source_names, provided) = match &options.columns {
            None => (
                columns.iter().map(|column| column.name.clone()).collect::<Vec<_>>(),
                (0..columns.len()).map(Provided::Source).collect::<Vec<_>>(),
            ),
            Some(mappings) => {
                let mut seen = HashSet::new();
                let mut source_names = Vec::new();
                let mut provided = vec![Provided::Default; columns.len()];
                for mapping in mappings {
                    let name = match mapping {
                        ColumnMapping::Source(name) | ColumnMapping::Derived { name, .. } => name,
                    };
                    if !seen.insert(name.to_lowercase()) {
                        return Err(LoadError::InvalidParameter(format!(
                            "Duplicate column '{name}' in the columns header"
                        )));
                    }
                    match mapping {
                        ColumnMapping::Source(name) => {
                            if let Some(index) = find(name) {
                                provided[index] = Provided::Source(source_names.len());
                            }
                            source_names.push(name.clone());
                        }
                        ColumnMapping::Derived { name, expression } => {
                            let index = find(name).ok_or_else(|| {
                                LoadError::Schema(format!("Unknown column '{name}' in the columns header: the table has no such column"))
                            })?;
                            provided[index] = Provided::Expression(expression.clone());
                        }
                    }
                }
                (source_names, provided)
            }
        };
        if source_names.is_empty() {
            return Err(LoadError::InvalidParameter("The load names no source column".to_string()));
        }
        if options.partial_update {
            // The key finds the row to update; say that before a missing default would.
            if let Some((column, _)) = columns
                .iter()
                .zip(&provided)
                .find(|(column, provided)| column.is_key && matches!(provided, Provided::Default))
            {
                return Err(LoadError::InvalidParameter(format!(
                    "partial_update must load every key column; key column '{}' is missing from the columns",
                    column.name
                )));
            }
        }
        for (column, provided) in columns.iter().zip(&provided) {
            if matches!(provided, Provided::Default) {
                default_column(column, 0, &now)?;
            }
        }
        let needs_sql = options.where_clause.is_some() || provided.iter().any(|provided| matches!(provided, Provided::Expression(_)));
        let transform = if needs_sql {
            Some(Transform::new(&options, &columns, &source_names, &provided)?)
        } else {
            None
        };
        Ok(LoadPlan {
            options,
            columns,
            source_names,
            provided,
            transform,
            now,
        })
    }

    pub fn options(&self) -> &LoadOptions {
        &self.options
    }

    /// For `partial_update`: which of the table's columns the load gives (the others keep
    /// their current values). `None` for a whole-row load. A partial update needs a PRIMARY
    /// KEY table; [`LoadPlan::new`] has checked that every key column is given.
    pub fn partial_update_columns(&self, transaction: &LoadTransaction) -> Result<Option<Vec<bool>>, LoadError> {
        if !self.options.partial_update {
            return Ok(None);
        }
        if !transaction.primary_key {
            return Err(LoadError::InvalidParameter(format!(
                "partial_update needs a PRIMARY KEY table; '{}' is not one",
                transaction.table
            )));
        }
        Ok(Some(self.provided.iter().map(|provided| !matches!(provided, Provided::Default)).collect()))
    }

    /// Splits a body into runs of whole rows that can be prepared at once. Only CSV without
    /// enclose, escape or a header to skip is split: there a row delimiter always ends a row.
    fn split(&self, data: &[u8], parts: usize) -> Vec<std::ops::Range<usize>> {
        let csv = &self.options.csv;
        let splittable = self.options.format == LoadFormat::Csv
            && csv.enclose.is_none()
            && csv.escape.is_none()
            && csv.skip_header == 0
            && !csv.row_delimiter.is_empty();
        let parts = if splittable { parts.min(data.len() / PARALLEL_PART_BYTES).max(1) } else { 1 };
        let mut ranges = Vec::with_capacity(parts);
        let mut start = 0;
        for part in 1..parts {
            let target = (data.len() * part / parts).max(start);
            let Some(found) = memchr::memmem::find(&data[target..], &csv.row_delimiter) else {
                break;
            };
            let end = target + found + csv.row_delimiter.len();
            ranges.push(start..end);
            start = end;
        }
        ranges.push(start..data.len());
        ranges
    }

    /// [`LoadPlan::prepare`] on several threads at once, each on a run of whole rows; the rows
    /// and their numbers come out as one pass would give them.
    pub async fn prepare_parallel(self: &std::sync::Arc<Self>, data: std::sync::Arc<Vec<u8>>, parts: usize) -> Result<PreparedRows, LoadError> {
        let runtime = tokio::runtime::Handle::current();
        let tasks: Vec<_> = self
            .split(&data, parts)
            .into_iter()
            .map(|range| {
                let plan = std::sync::Arc::clone(self);
                let data = std::sync::Arc::clone(&data);
                let runtime = runtime.clone();
                tokio::task::spawn_blocking(move || runtime.block_on(plan.prepare(&data[range])))
            })
            .collect();
        let mut prepared = PreparedRows::default();
        for task in tasks {
            let part = task
                .await
                .map_err(|error| LoadError::Internal(format!("the load's conversion task failed: {error}")))??;
            prepared.append(part);
        }
        Ok(prepared)
    }

    /// Reads a whole body (already decompressed) and shapes its rows.
    pub async fn prepare(&self, data: &[u8]) -> Result<PreparedRows, LoadError> {
        let mut builder = RawBatchBuilder::new(self.source_names.clone(), BATCH_ROWS);
        match self.options.format {
            LoadFormat::Csv => crate::csv::read_csv(data, &self.options.csv, &mut builder),
            LoadFormat::Json => crate::json::read_json(data, &self.options.json, &mut builder)?,
        }
        let total_rows = builder.total_rows();
        let (batches, errors) = builder.finish();
        let mut prepared = PreparedRows {
            errors,
            total_rows,
            ..PreparedRows::default()
        };
        for batch in batches {
            self.shape(batch, &mut prepared).await?;
        }
        Ok(prepared)
    }

    fn row_text(&self, batch: &RawBatch, row: usize) -> String {
        let separator = match self.options.format {
            LoadFormat::Csv => String::from_utf8_lossy(&self.options.csv.column_separator).into_owned(),
            LoadFormat::Json => ", ".to_string(),
        };
        batch
            .columns
            .iter()
            .map(|column| if column.is_valid(row) { column.value(row).to_string() } else { "\\N".to_string() })
            .collect::<Vec<_>>()
            .join(&separator)
    }

    /// Converts one batch of text rows to table rows, adding them and their errors to
    /// `prepared`.
    async fn shape(&self, batch: RawBatch, prepared: &mut PreparedRows) -> Result<(), LoadError> {
        let rows = batch.num_rows();
        let mut failures: RowFailures = vec![None; rows];
        let strict = self.options.strict_mode;
        let (values, selected): (Vec<ArrayRef>, Option<BooleanArray>) = match &self.transform {
            None => {
                let mut values = Vec::with_capacity(self.columns.len());
                for (column, provided) in self.columns.iter().zip(&self.provided) {
                    values.push(match provided {
                        Provided::Source(index) => {
                            let source: ArrayRef = Arc::new(batch.columns[*index].clone());
                            convert_column(&source, column, strict, &mut failures)
                        }
                        _ => default_column(column, rows, &self.now)?,
                    });
                }
                (values, None)
            }
            Some(transform) => match self.evaluate(transform, &batch, &mut failures).await {
                Ok(evaluated) => evaluated,
                Err(EvaluateError::Load(error)) => return Err(error),
                Err(EvaluateError::Rows(reason)) => {
                    for row in 0..rows {
                        prepared.errors.push(RowError {
                            row_number: batch.row_numbers[row],
                            reason: reason.clone(),
                            row: self.row_text(&batch, row),
                        });
                    }
                    return Ok(());
                }
            },
        };
        let mut keep = Vec::with_capacity(rows);
        for (row, failure) in failures.into_iter().enumerate() {
            match failure {
                Some(reason) => {
                    prepared.errors.push(RowError {
                        row_number: batch.row_numbers[row],
                        reason,
                        row: self.row_text(&batch, row),
                    });
                    keep.push(false);
                }
                None => {
                    let selected = selected.as_ref().is_none_or(|selected| selected.is_valid(row) && selected.value(row));
                    if !selected {
                        prepared.unselected_rows += 1;
                    }
                    keep.push(selected);
                }
            }
        }
        let mask = BooleanArray::from(keep);
        let filter_error = |error: datafusion::arrow::error::ArrowError| LoadError::Internal(format!("failed to filter rows: {error}"));
        let columns = values
            .iter()
            .map(|values| filter(values, &mask).map_err(filter_error))
            .collect::<Result<Vec<_>, _>>()?;
        let row_numbers: Vec<u64> = batch
            .row_numbers
            .iter()
            .zip(mask.values().iter())
            .filter_map(|(row_number, keep)| keep.then_some(*row_number))
            .collect();
        if !row_numbers.is_empty() {
            prepared.rows.push(LoadRows { columns, row_numbers });
        }
        Ok(())
    }

    /// Runs `columns` expressions and `where` with DataFusion over one batch.
    async fn evaluate(
        &self,
        transform: &Transform,
        batch: &RawBatch,
        failures: &mut RowFailures,
    ) -> Result<(Vec<ArrayRef>, Option<BooleanArray>), EvaluateError> {
        let rows = batch.num_rows();
        let table_column = |name: &str| self.columns.iter().find(|column| column.name.eq_ignore_ascii_case(name));
        // Source columns named like a table column take its type, as StarRocks types them.
        let mut fields = Vec::with_capacity(self.source_names.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.source_names.len());
        for (name, values) in self.source_names.iter().zip(&batch.columns) {
            let source: ArrayRef = Arc::new(values.clone());
            let array = match table_column(name) {
                Some(column) => convert_column(&source, column, self.options.strict_mode, failures),
                None => source,
            };
            fields.push(Field::new(name.to_lowercase(), array.data_type().clone(), true));
            arrays.push(array);
        }
        let source_batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|error| EvaluateError::Load(LoadError::Internal(format!("failed to build source rows: {error}"))))?;

        let context = &transform.context;
        let _ = context.deregister_table(SOURCE_TABLE);
        context
            .register_batch(SOURCE_TABLE, source_batch)
            .map_err(|error| EvaluateError::Load(LoadError::Internal(format!("failed to register source rows: {error}"))))?;
        let settings = cairn_functions::SessionSettings {
            time_zone: self.options.timezone.clone(),
            ..cairn_functions::SessionSettings::default()
        };
        let plan = cairn_functions::plan_sql(context, &transform.sql, &settings)
            .await
            .map_err(|error| EvaluateError::Load(LoadError::Expression(format!("The columns or where of the load do not plan: {error}"))))?;
        let result = async {
            let frame = context.execute_logical_plan(plan).await?;
            frame.collect().await
        }
        .await;
        let _ = context.deregister_table(SOURCE_TABLE);
        let batches = result.map_err(|error| EvaluateError::Rows(format!("Evaluating the load's expressions failed: {error}")))?;
        let schema = batches.first().map(|batch| batch.schema());
        let combined = match schema {
            Some(schema) => datafusion::arrow::compute::concat_batches(&schema, &batches)
                .map_err(|error| EvaluateError::Load(LoadError::Internal(error.to_string())))?,
            None => return Ok((Vec::new(), Some(BooleanArray::from(vec![false; rows])))),
        };
        if combined.num_rows() != rows {
            return Err(EvaluateError::Load(LoadError::Internal(format!(
                "the load's expressions returned {} rows for {rows}",
                combined.num_rows()
            ))));
        }
        let mut values = Vec::with_capacity(self.columns.len());
        for column in &self.columns {
            let array = match combined.column_by_name(&column.name.to_lowercase()) {
                Some(result) if transform.output_names.contains(&column.name.to_lowercase()) => {
                    convert_column(result, column, self.options.strict_mode, failures)
                }
                _ => default_column(column, rows, &self.now).map_err(EvaluateError::Load)?,
            };
            values.push(array);
        }
        let selected = combined
            .column_by_name(WHERE_COLUMN)
            .map(|selected| match selected.data_type() {
                DataType::Boolean => Ok(selected.as_boolean().clone()),
                other => Err(EvaluateError::Load(LoadError::Expression(format!(
                    "The where condition must be a boolean expression, not {other}"
                )))),
            })
            .transpose()?;
        Ok((values, selected))
    }
}

enum EvaluateError {
    /// The whole load fails.
    Load(LoadError),
    /// Every row of the batch is filtered with this reason.
    Rows(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_common::ColumnType;
    use datafusion::arrow::array::Int32Array;

    use crate::convert::test_column as column;

    fn table() -> Vec<ColumnDefinition> {
        vec![
            column("k", ColumnType::Int, false),
            column("name", ColumnType::Varchar { length: 8 }, true),
            column("v", ColumnType::BigInt, true),
        ]
    }

    fn options(parameters: &[(&str, &str)]) -> LoadOptions {
        LoadOptions::from_parameters(parameters.iter().copied()).expect("valid options")
    }

    fn ints(rows: &LoadRows, column: usize) -> Vec<Option<i64>> {
        let values = datafusion::arrow::compute::cast(&rows.columns[column], &DataType::Int64).expect("cast");
        values.as_primitive::<datafusion::arrow::datatypes::Int64Type>().iter().collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_parts_give_what_one_pass_gives() {
        let mut body = String::new();
        for row in 0..1_000_000 {
            if row == 123_456 || row == 812_345 {
                body.push_str("bad,row\n");
            } else {
                body.push_str(&format!("{row},n{},{}\n", row % 7, row * 2));
            }
        }
        let plan = std::sync::Arc::new(
            LoadPlan::new(options(&[("column_separator", ",")]), table()).expect("plan"),
        );
        assert!(plan.split(body.as_bytes(), 4).len() > 1, "a body this large is split");
        let one = plan.prepare(body.as_bytes()).await.expect("one pass");
        let parallel = plan
            .prepare_parallel(std::sync::Arc::new(body.into_bytes()), 4)
            .await
            .expect("parallel");
        assert_eq!(parallel.total_rows, one.total_rows);
        assert_eq!(parallel.loaded_rows(), one.loaded_rows());
        let numbers = |prepared: &PreparedRows| -> Vec<u64> {
            prepared.rows.iter().flat_map(|rows| rows.row_numbers.iter().copied()).collect()
        };
        assert_eq!(numbers(&parallel), numbers(&one));
        let errors = |prepared: &PreparedRows| -> Vec<u64> { prepared.errors.iter().map(|error| error.row_number).collect() };
        assert_eq!(errors(&parallel), vec![123_457, 812_346]);
        assert_eq!(errors(&parallel), errors(&one));
        let keys = |prepared: &PreparedRows| -> Vec<Option<i64>> { prepared.rows.iter().flat_map(|rows| ints(rows, 0)).collect() };
        assert_eq!(keys(&parallel), keys(&one));
    }

    #[test]
    fn bodies_that_may_hide_a_delimiter_in_a_field_are_not_split() {
        let body = vec![b'1'; 64 << 20];
        let enclosed = LoadPlan::new(options(&[("enclose", "\"")]), table()).expect("plan");
        assert_eq!(enclosed.split(&body, 4).len(), 1);
        let header = LoadPlan::new(options(&[("skip_header", "1")]), table()).expect("plan");
        assert_eq!(header.split(&body, 4).len(), 1);
    }

    #[tokio::test]
    async fn plain_csv_filters_bad_rows() {
        let plan = LoadPlan::new(options(&[("column_separator", ","), ("strict_mode", "true")]), table()).expect("plan");
        let prepared = plan.prepare(b"1,a,10\n2,b,x\n3,toolongname,30\n\\N,d,40\n5,e\n6,f,60\n").await.expect("prepare");
        assert_eq!(prepared.total_rows, 6);
        assert_eq!(prepared.loaded_rows(), 2);
        let reasons: Vec<(u64, &str)> = prepared.errors.iter().map(|error| (error.row_number, error.reason.as_str())).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons.iter().any(|(row, reason)| *row == 2 && reason.contains("not a valid BIGINT")));
        assert!(reasons.iter().any(|(row, reason)| *row == 3 && reason.contains("exceeds")));
        assert!(reasons.iter().any(|(row, reason)| *row == 4 && reason.contains("non-nullable")));
        assert!(reasons.iter().any(|(row, reason)| *row == 5 && reason.contains("Expect 3, but got 2")));
        assert_eq!(ints(&prepared.rows[0], 0), vec![Some(1), Some(6)]);
    }

    #[tokio::test]
    async fn columns_expressions_and_where() {
        let plan = LoadPlan::new(
            options(&[("column_separator", ","), ("columns", "k, tmp, name = concat('n', tmp), v = tmp * 100"), ("where", "v > 150")]),
            table(),
        )
        .expect("plan");
        let prepared = plan.prepare(b"1,1\n2,2\n3,3\n").await.expect("prepare");
        assert_eq!(prepared.total_rows, 3);
        assert_eq!(prepared.unselected_rows, 1);
        assert!(prepared.errors.is_empty(), "{:?}", prepared.errors);
        let rows = &prepared.rows[0];
        assert_eq!(ints(rows, 0), vec![Some(2), Some(3)]);
        assert_eq!(ints(rows, 2), vec![Some(200), Some(300)]);
        assert_eq!(rows.columns[1].as_string::<i32>().value(0), "n2");
        assert_eq!(rows.row_numbers, vec![2, 3]);
        assert!(rows.columns[0].as_any().downcast_ref::<Int32Array>().is_some());
    }

    #[tokio::test]
    async fn mapping_errors_are_clear() {
        let unknown = LoadPlan::new(options(&[("columns", "k, nope = 1")]), table());
        assert!(matches!(unknown, Err(LoadError::Schema(message)) if message.contains("nope")));
        let missing_key = LoadPlan::new(options(&[("columns", "name, v")]), table());
        assert!(matches!(missing_key, Err(LoadError::Schema(message)) if message.contains("'k'")));
        let plan = LoadPlan::new(options(&[("columns", "k, name, v"), ("where", "no_such_function(k)")]), table()).expect("plan");
        assert!(matches!(plan.prepare(b"1\ta\t2\n").await, Err(LoadError::Expression(_))));
    }

    #[tokio::test]
    async fn json_rows_by_name() {
        let plan = LoadPlan::new(options(&[("format", "json"), ("strip_outer_array", "true")]), table()).expect("plan");
        let prepared = plan
            .prepare(br#"[{"k": 1, "name": "a", "v": 5}, {"k": 2, "v": "bad"}, {"name": "nokey"}]"#)
            .await
            .expect("prepare");
        assert_eq!(prepared.loaded_rows(), 2);
        assert_eq!(prepared.errors.len(), 1);
        assert_eq!(prepared.errors[0].row_number, 3);
    }
}

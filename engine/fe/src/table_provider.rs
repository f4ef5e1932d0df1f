//! Cairn tables as DataFusion tables. Planning takes a snapshot of the table's partitions and
//! their visible versions, so a query reads one consistent version of every tablet even while
//! loads publish. The scan itself goes through [`BackendService::scan`], the same call a remote
//! backend will answer.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::stats::Precision;
use datafusion::common::{Result as DataFusionResult, ScalarValue, Statistics};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType, ReplaceChildrenOptions, ChildrenPropertiesMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_plan::filter_pushdown::{ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream};
use futures::StreamExt;

use cairn_be::{BackendService, ScanPredicate, ScanRequest, TabletSchema};
use cairn_common::ids::{TabletId, Version};
use cairn_common::{DistributionDesc, KeysType};

use crate::catalog::Table;
use crate::metadata::Metadata;

/// DataFusion lower-cases unquoted identifiers, and MySQL column names are case-insensitive,
/// so tables expose lower-case column names to the planner.
pub fn planner_schema(table: &Table) -> SchemaRef {
    Arc::new(Schema::new(
        table
            .columns()
            .iter()
            .map(|column| column.column_type.to_arrow_field(&column.name.to_lowercase(), column.nullable))
            .collect::<Vec<_>>(),
    ))
}

pub fn tablet_schema(table: &Table) -> TabletSchema {
    TabletSchema {
        columns: table.columns().to_vec(),
        keys_type: table.keys_type(),
        key_columns: table.definition.key_columns.clone(),
    }
}

/// Separates a table name from the partitions a query selects with `t PARTITION (p1, p2)`.
/// DataFusion ignores that clause, so it travels inside the name our catalog is asked for.
const PARTITION_MARKER: &str = "\u{1f}partitions\u{1f}";

/// Moves `PARTITION (...)` of table references into the table name (see [`PARTITION_MARKER`]),
/// keeping the table's own name as its alias so qualified columns still resolve.
pub fn encode_partition_selection(statement: &mut datafusion::sql::sqlparser::ast::Statement) {
    use datafusion::sql::sqlparser::ast::{Ident, ObjectNamePart, TableAlias, TableFactor, VisitMut, VisitorMut};
    use std::ops::ControlFlow;

    struct Encoder;
    impl VisitorMut for Encoder {
        type Break = ();
        fn pre_visit_table_factor(&mut self, table_factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table { name, alias, partitions, .. } = table_factor {
                if partitions.is_empty() {
                    return ControlFlow::Continue(());
                }
                let selected: Vec<String> = partitions.iter().map(|partition| partition.value.clone()).collect();
                partitions.clear();
                if let Some(ObjectNamePart::Identifier(last)) = name.0.last_mut() {
                    if alias.is_none() {
                        *alias = Some(TableAlias {
                            explicit: true,
                            name: last.clone(),
                            columns: Vec::new(),
                            at: None,
                        });
                    }
                    *last = Ident::with_quote('`', format!("{}{PARTITION_MARKER}{}", last.value, selected.join(",")));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Encoder);
}

/// The catalog DataFusion sees: databases as schemas, plus `information_schema`.
pub struct CairnCatalog {
    metadata: Arc<Metadata>,
    backend: Arc<dyn BackendService>,
    loads: Arc<crate::load_target::LoadJobs>,
}

impl fmt::Debug for CairnCatalog {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("CairnCatalog")
    }
}

impl CairnCatalog {
    pub fn new(metadata: Arc<Metadata>, backend: Arc<dyn BackendService>, loads: Arc<crate::load_target::LoadJobs>) -> Self {
        CairnCatalog { metadata, backend, loads }
    }
}

impl CatalogProvider for CairnCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.read().databases.keys().cloned().collect();
        names.push("information_schema".to_string());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name.eq_ignore_ascii_case("information_schema") {
            return Some(Arc::new(crate::information_schema::InformationSchema::new(Arc::clone(&self.metadata), Arc::clone(&self.loads))));
        }
        let catalog = self.metadata.read();
        let database = catalog.database(name).or_else(|| {
            catalog.databases.values().find(|database| database.name.eq_ignore_ascii_case(name))
        })?;
        Some(Arc::new(DatabaseSchema {
            metadata: Arc::clone(&self.metadata),
            backend: Arc::clone(&self.backend),
            database: database.name.clone(),
        }))
    }
}

struct DatabaseSchema {
    metadata: Arc<Metadata>,
    backend: Arc<dyn BackendService>,
    database: String,
}

impl fmt::Debug for DatabaseSchema {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DatabaseSchema({})", self.database)
    }
}

#[async_trait]
impl SchemaProvider for DatabaseSchema {
    fn table_names(&self) -> Vec<String> {
        self.metadata
            .read()
            .database(&self.database)
            .map(|database| database.tables.keys().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        let (name, selected) = match name.split_once(PARTITION_MARKER) {
            Some((name, partitions)) => (name, Some(partitions.split(',').map(str::to_string).collect::<Vec<_>>())),
            None => (name, None),
        };
        let table = self
            .metadata
            .read()
            .database(&self.database)
            .and_then(|database| database.table(name).cloned());
        let Some(mut table) = table else {
            return Ok(None);
        };
        if let Some(selected) = selected {
            for partition in &selected {
                if !table.partitions.keys().any(|existing| existing.eq_ignore_ascii_case(partition)) {
                    return Err(DataFusionError::Plan(format!(
                        "Unknown partition '{partition}' in table '{}'",
                        table.name()
                    )));
                }
            }
            table
                .partitions
                .retain(|existing, _| selected.iter().any(|partition| partition.eq_ignore_ascii_case(existing)));
        }
        Ok(Some(Arc::new(OlapTable {
            schema: planner_schema(&table),
            table,
            backend: Arc::clone(&self.backend),
        }) as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        let name = name.split_once(PARTITION_MARKER).map_or(name, |(name, _)| name);
        self.metadata
            .read()
            .database(&self.database)
            .is_some_and(|database| database.table(name).is_some())
    }
}

/// A table at the moment of planning.
pub struct OlapTable {
    table: Table,
    schema: SchemaRef,
    backend: Arc<dyn BackendService>,
}

impl OlapTable {
    /// The table as it is now, for reads the FE makes itself.
    pub fn new(table: Table, backend: Arc<dyn BackendService>) -> OlapTable {
        OlapTable {
            schema: planner_schema(&table),
            table,
            backend,
        }
    }
}

impl fmt::Debug for OlapTable {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "OlapTable({})", self.table.name())
    }
}

#[async_trait]
impl TableProvider for OlapTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DataFusionResult<Vec<TableProviderFilterPushDown>> {
        // Filters prune partitions here and are still applied above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let output_schema = Arc::new(self.schema.project(&projection)?);
        let scanned = crate::pruning::tablets_to_scan(&self.table, filters);
        let tablets: Vec<(TabletId, Version)> = scanned.iter().map(|(_, tablet, version)| (*tablet, *version)).collect();
        let predicate = crate::pruning::scan_predicate(&self.table, filters);
        let filter = crate::scan_filter::ScanFilter::plan(filters, &output_schema, state).map(Arc::new);
        // Rowset metadata counts the stored rows. The count is exact only where no row
        // replaces another and no filter drops any; elsewhere it is an upper bound, which
        // still lets DataFusion put the smaller side of a join on the build side.
        let stored_rows = self.backend.stored_rows(tablets.clone()).await.ok();
        let schema_of_tablets = tablet_schema(&self.table);
        // Key ranges and distinct values (sketched in rowset footers) let DataFusion estimate a
        // join's output; without them it takes every row as distinct and reads a
        // fact-to-dimension join as no bigger than the dimension, which puts the fact table on
        // the build side. Storage reports ranges of integer and date columns and distinct
        // values of those and of strings (which low_cardinality.rs reads), so a scan with none
        // of them (count(*)) does not ask.
        let described: Vec<(usize, String)> = projection
            .iter()
            .enumerate()
            .filter(|(position, _)| cairn_be::has_column_statistics(output_schema.field(*position).data_type()))
            .filter_map(|(position, index)| self.table.columns().get(*index).map(|column| (position, column.name.clone())))
            .collect();
        let mut column_bounds: Vec<Option<(ScalarValue, ScalarValue)>> = vec![None; output_schema.fields().len()];
        let mut distinct_values: Vec<Option<usize>> = vec![None; output_schema.fields().len()];
        if !described.is_empty() {
            let names = described.iter().map(|(_, name)| name.clone()).collect();
            if let Ok(statistics) = self.backend.column_statistics(tablets.clone(), schema_of_tablets.clone(), names).await {
                for ((position, _), column) in described.iter().zip(statistics) {
                    let data_type = output_schema.field(*position).data_type();
                    column_bounds[*position] =
                        column.bounds.and_then(|(min, max)| Some((min.to_scalar_of(data_type)?, max.to_scalar_of(data_type)?)));
                    distinct_values[*position] = column.distinct.map(|sketch| usize::try_from(sketch.estimate()).unwrap_or(usize::MAX));
                }
            }
        }
        let exact = filters.is_empty() && self.table.keys_type() == KeysType::Duplicate;
        let row_count = stored_rows.map(|rows| {
            let rows = usize::try_from(rows).unwrap_or(usize::MAX);
            if exact { Precision::Exact(rows) } else { Precision::Inexact(rows) }
        });
        let target_partitions = state.config().target_partitions().max(1);
        let group_count = tablets.len().clamp(1, target_partitions);
        let mut groups: Vec<Vec<(TabletId, Version)>> = vec![Vec::new(); group_count];
        let mut buckets: Vec<usize> = scanned.iter().map(|(bucket, ..)| *bucket).collect();
        buckets.sort_unstable();
        buckets.dedup();
        // Tablets of one bucket share a partition, so that rows with equal distribution
        // columns meet in one partition (bucket_aggregation.rs), unless there are too few
        // buckets to keep every partition busy (one bucket a day, say).
        let by_bucket = buckets.len() >= group_count;
        for (index, (bucket, tablet, version)) in scanned.into_iter().enumerate() {
            let group = match by_bucket {
                true => buckets.binary_search(&bucket).unwrap_or(index),
                false => index,
            };
            groups[group % group_count].push((tablet, version));
        }
        let bucketed_by = if by_bucket { self.bucket_columns(&projection) } else { None };
        Ok(Arc::new(TabletScanExec::new(
            self.table.name().to_string(),
            output_schema,
            schema_of_tablets,
            projection,
            groups,
            predicate,
            Arc::clone(&self.backend),
        )
        .with_row_count(row_count)
        .with_column_bounds(column_bounds)
        .with_distinct_values(distinct_values)
        .with_filter(filter)
        .with_bucketed_by(bucketed_by)))
    }
}

impl OlapTable {
    /// The output positions of the table's hash distribution columns, if all are projected
    /// and every partition has as many buckets: then equal values of them share a bucket
    /// number in every partition.
    fn bucket_columns(&self, projection: &[usize]) -> Option<Vec<usize>> {
        let Some(DistributionDesc::Hash { columns, .. }) = &self.table.definition.distribution else { return None };
        let mut bucket_counts = self.table.partitions.values().map(|partition| partition.tablets.len());
        let first = bucket_counts.next()?;
        if bucket_counts.any(|count| count != first) || columns.is_empty() {
            return None;
        }
        columns
            .iter()
            .map(|name| {
                projection.iter().position(|index| {
                    self.table.columns().get(*index).is_some_and(|column| column.name.eq_ignore_ascii_case(name))
                })
            })
            .collect()
    }
}

/// Reads tablets at their snapshot versions; one output partition per group of tablets.
#[derive(Clone)]
pub struct TabletScanExec {
    table_name: String,
    schema: SchemaRef,
    tablet_schema: TabletSchema,
    projection: Vec<usize>,
    groups: Vec<Vec<(TabletId, Version)>>,
    /// The query's filters for storage to skip row groups with.
    predicate: Option<ScanPredicate>,
    backend: Arc<dyn BackendService>,
    properties: Arc<PlanProperties>,
    /// The rows the scan returns, from metadata: exact for a DUPLICATE KEY table without
    /// filters (DataFusion then answers `count(*)` without scanning), an upper bound
    /// elsewhere (filters run above the scan) for join ordering.
    row_count: Option<Precision<usize>>,
    /// Inexact min and max per output column, where storage statistics give them.
    column_bounds: Vec<Option<(ScalarValue, ScalarValue)>>,
    /// Estimated distinct values per output column, from storage's sketches: with the rows
    /// they give DataFusion a join's output size, so the smaller side is built.
    distinct_values: Vec<Option<usize>>,
    /// Filters evaluated on each batch before it leaves the scan.
    filter: Option<Arc<crate::scan_filter::ScanFilter>>,
    /// Columns (storage names) storage returns dictionary-encoded where it can, for the
    /// filter or for codes; decoded again before batches leave the scan unless coded.
    dictionary_columns: Vec<String>,
    /// Output columns that leave the scan as GROUP BY codes of their strings
    /// (`low_cardinality.rs`); the schema types them UInt32.
    coded: Vec<(usize, Arc<crate::low_cardinality::GlobalDictionary>)>,
    /// Output columns holding the table's hash distribution columns, where each partition
    /// reads whole buckets: rows equal in these columns are then in one partition.
    bucketed_by: Option<Vec<usize>>,
    /// What `EXPLAIN ANALYZE` shows: rows read and returned, and the time spent filtering
    /// (and decoding or coding dictionary-encoded columns).
    metrics: ExecutionPlanMetricsSet,
}

impl TabletScanExec {
    fn new(
        table_name: String,
        schema: SchemaRef,
        tablet_schema: TabletSchema,
        projection: Vec<usize>,
        groups: Vec<Vec<(TabletId, Version)>>,
        predicate: Option<ScanPredicate>,
        backend: Arc<dyn BackendService>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(groups.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        TabletScanExec {
            table_name,
            schema,
            tablet_schema,
            projection,
            groups,
            predicate,
            backend,
            properties: Arc::new(properties),
            row_count: None,
            column_bounds: Vec::new(),
            distinct_values: Vec::new(),
            filter: None,
            dictionary_columns: Vec::new(),
            coded: Vec::new(),
            bucketed_by: None,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn with_row_count(mut self, rows: Option<Precision<usize>>) -> Self {
        self.row_count = rows;
        self
    }

    fn with_column_bounds(mut self, bounds: Vec<Option<(ScalarValue, ScalarValue)>>) -> Self {
        self.column_bounds = bounds;
        self
    }

    fn with_distinct_values(mut self, distinct_values: Vec<Option<usize>>) -> Self {
        self.distinct_values = distinct_values;
        self
    }

    /// The estimated distinct values of output column `position`, where storage sketched it.
    pub(crate) fn distinct_values_of(&self, position: usize) -> Option<usize> {
        self.distinct_values.get(position).copied().flatten()
    }

    /// Filters run on each batch, and the string columns they read alone taken
    /// dictionary-encoded from storage.
    fn with_filter(mut self, filter: Option<Arc<crate::scan_filter::ScanFilter>>) -> Self {
        self.dictionary_columns = filter
            .as_ref()
            .map(|filter| filter.dictionary_columns(&self.schema))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|position| self.storage_name(position))
            .collect();
        self.filter = filter;
        self
    }

    fn with_bucketed_by(mut self, bucketed_by: Option<Vec<usize>>) -> Self {
        self.bucketed_by = bucketed_by;
        self
    }

    /// The filters the scan evaluates on each batch.
    pub(crate) fn filter(&self) -> Option<&crate::scan_filter::ScanFilter> {
        self.filter.as_deref()
    }

    /// The output columns rows are bucketed by, if each partition reads whole buckets.
    pub(crate) fn bucketed_by(&self) -> Option<&[usize]> {
        self.bucketed_by.as_deref()
    }

    /// The storage name of output column `position`.
    fn storage_name(&self, position: usize) -> Option<String> {
        let index = self.projection.get(position)?;
        self.tablet_schema.columns.get(*index).map(|column| column.name.clone())
    }

    /// This scan with the string columns at `coded` (output positions) returned as codes of
    /// their query-wide dictionaries.
    pub(crate) fn with_coded_columns(&self, coded: Vec<(usize, Arc<crate::low_cardinality::GlobalDictionary>)>) -> TabletScanExec {
        let mut scan = self.clone();
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(position, field)| {
                let field = field.as_ref().clone();
                if coded.iter().any(|(coded, _)| *coded == position) { field.with_data_type(DataType::UInt32) } else { field }
            })
            .collect();
        scan.schema = Arc::new(Schema::new_with_metadata(fields, self.schema.metadata().clone()));
        scan.properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&scan.schema)),
            self.properties.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        for (position, _) in &coded {
            if let Some(name) = self.storage_name(*position)
                && !scan.dictionary_columns.contains(&name)
            {
                scan.dictionary_columns.push(name);
            }
            // Bounds of strings are never kept; a code has none.
            if let Some(bound) = scan.column_bounds.get_mut(*position) {
                *bound = None;
            }
        }
        scan.coded = coded;
        scan.metrics = ExecutionPlanMetricsSet::new();
        scan
    }

    /// This scan with hash joins' dynamic filters (`join_filters`, by expression id) retiring
    /// when unselective, and without its dynamic filter when that is its only one and comes
    /// from the join right above (`direct`) and is not tabulated. `None` when nothing changes.
    pub(crate) fn with_join_filters(
        &self,
        join_filters: &std::collections::HashSet<u64>,
        direct: &std::collections::HashSet<u64>,
    ) -> Option<TabletScanExec> {
        let filter = self.filter.as_ref()?;
        let dynamic: Vec<u64> = filter.expressions().filter_map(|expression| expression.expression_id()).collect();
        if !dynamic.iter().any(|id| join_filters.contains(id)) {
            return None;
        }
        let kept = match dynamic.as_slice() {
            // A tabulated filter costs a bit test a row, much less than the probes it saves.
            [id] if direct.contains(id) && !filter.tabulates(*id) => filter.retain(|expression| expression.expression_id().is_none()),
            _ => Some(filter.retiring(join_filters)),
        };
        let mut scan = self.clone();
        scan.filter = kept.map(Arc::new);
        Some(scan)
    }

    /// This scan with a join's runtime filter on output column `position`, ahead of its other
    /// conjuncts. The join's own dynamic filter (`replaces`), if the scan runs it, becomes
    /// the runtime filter's fallback until the bitmap is published.
    pub(crate) fn with_runtime_filter(
        &self,
        position: usize,
        replaces: Option<u64>,
        slot: Arc<crate::runtime_filter::RuntimeFilterSlot>,
    ) -> Option<TabletScanExec> {
        let key = Arc::new(datafusion::physical_expr::expressions::Column::new(self.schema.fields().get(position)?.name(), position));
        let filter = crate::scan_filter::ScanFilter::with_runtime_filter(self.filter.as_deref(), replaces, &self.schema, |fallback| {
            Arc::new(crate::runtime_filter::RuntimeFilterExpr::new(key, fallback, slot))
        })?;
        let mut scan = self.clone();
        scan.filter = Some(Arc::new(filter));
        scan.metrics = ExecutionPlanMetricsSet::new();
        Some(scan)
    }
}

impl fmt::Debug for TabletScanExec {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "TabletScanExec({})", self.table_name)
    }
}

impl DisplayAs for TabletScanExec {
    fn fmt_as(&self, _format: DisplayFormatType, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tablets: usize = self.groups.iter().map(Vec::len).sum();
        let columns: Vec<&str> = self.schema.fields().iter().map(|field| field.name().as_str()).collect();
        write!(
            formatter,
            "TabletScanExec: table={}, tablets={tablets}, columns=[{}]",
            self.table_name,
            columns.join(", ")
        )?;
        // The conjuncts the scan evaluates itself, dynamic filters with their current state.
        if let Some(filter) = &self.filter {
            let conjuncts: Vec<String> = filter.expressions().map(|expression| expression.to_string()).collect();
            write!(formatter, ", filter=[{}]", conjuncts.join(", "))?;
        }
        if !self.dictionary_columns.is_empty() {
            write!(formatter, ", dictionary=[{}]", self.dictionary_columns.join(", "))?;
        }
        if !self.coded.is_empty() {
            let coded: Vec<&str> = self.coded.iter().map(|(position, _)| self.schema.field(*position).name().as_str()).collect();
            write!(formatter, ", group_by_codes=[{}]", coded.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for TabletScanExec {
    fn name(&self) -> &str {
        "TabletScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    /// The scan's filter conjuncts. A hash join fills its dynamic filter only when it finds
    /// the filter among its probe side's expressions; without this it never did, and the
    /// scan's dynamic filters stayed empty.
    fn apply_expressions(
        &self,
        visit: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DataFusionResult<TreeNodeRecursion>,
    ) -> DataFusionResult<TreeNodeRecursion> {
        let mut recursion = TreeNodeRecursion::Continue;
        for expression in self.filter.iter().flat_map(|filter| filter.expressions()) {
            recursion = visit(expression)?;
            if recursion == TreeNodeRecursion::Stop {
                break;
            }
        }
        Ok(recursion)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    /// Takes the dynamic filters hash joins and TopK push down after planning and runs them
    /// in the scan. Every filter is reported as not pushed down, so the operators above keep
    /// applying them; the query's own filters came through `TableProvider::scan` already.
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DataFusionResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters: Vec<Arc<dyn PhysicalExpr>> = child_pushdown_result.parent_filters.into_iter().map(|result| result.filter).collect();
        let verdicts = vec![PushedDown::No; filters.len()];
        let dynamic: Vec<Arc<dyn PhysicalExpr>> = filters
            .into_iter()
            .filter(|filter| filter.downcast_ref::<DynamicFilterPhysicalExpr>().is_some())
            .collect();
        let propagation = FilterPushdownPropagation::with_parent_pushdown_result(verdicts);
        if phase != FilterPushdownPhase::Post || dynamic.is_empty() {
            return Ok(propagation);
        }
        let mut scan = self.clone();
        let rows = self.row_count.and_then(|rows| rows.get_value().copied());
        scan.filter = crate::scan_filter::ScanFilter::with_dynamic(
            self.filter.as_deref(),
            dynamic,
            &self.schema,
            &self.column_bounds,
            crate::scan_filter::domain_limit(rows),
        )
        .map(Arc::new);
        Ok(propagation.with_updated_node(Arc::new(scan)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> DataFusionResult<Arc<Statistics>> {
        let mut statistics = Statistics::new_unknown(&self.schema);
        if let (None, Some(rows)) = (args.partition(), self.row_count) {
            statistics.num_rows = rows;
            for (position, column) in statistics.column_statistics.iter_mut().enumerate() {
                if let Some(Some((min, max))) = self.column_bounds.get(position) {
                    column.min_value = Precision::Inexact(min.clone());
                    column.max_value = Precision::Inexact(max.clone());
                }
                if let Some(Some(distinct)) = self.distinct_values.get(position) {
                    column.distinct_count = Precision::Inexact(*distinct);
                }
            }
        }
        Ok(Arc::new(statistics))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DataFusionResult<SendableRecordBatchStream> {
        let tablets = self.groups.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("TabletScanExec has no partition {partition}"))
        })?;
        let backend = Arc::clone(&self.backend);
        let tablet_schema = self.tablet_schema.clone();
        let projection = self.projection.clone();
        let predicate = self.predicate.clone();
        let schema = Arc::clone(&self.schema);
        let output_schema = Arc::clone(&schema);
        let filter = self.filter.clone();
        let dictionary_columns = self.dictionary_columns.clone();
        let coded = self.coded.clone();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let rows_read = MetricBuilder::new(&self.metrics).counter("rows_read", partition);
        let waiting_filter = self.filter.clone();
        // Only columns that leave the scan as stored: a string column coded as integers
        // (`low_cardinality.rs`) must not be bounded by its codes.
        let key_columns: Vec<Option<(String, DataType)>> = (0..schema.fields().len())
            .map(|position| {
                let stored = self.tablet_schema.columns.get(*self.projection.get(position)?)?;
                let data_type = schema.field(position).data_type();
                (&stored.column_type.to_arrow() == data_type).then(|| (stored.name.clone(), data_type.clone()))
            })
            .collect();
        let read = move |predicate: Option<ScanPredicate>| {
            futures::stream::iter(tablets)
                .map(move |(tablet_id, version)| {
                    let request = ScanRequest {
                        tablet_id,
                        version,
                        schema: tablet_schema.clone(),
                        projection: projection.clone(),
                        predicate: predicate.clone(),
                        dictionary_columns: dictionary_columns.clone(),
                    };
                    match backend.scan(request) {
                        Ok(stream) => stream
                            .map(|batch| batch.map_err(|error| DataFusionError::External(Box::new(error))))
                            .boxed(),
                        Err(error) => futures::stream::once(async move { Err(DataFusionError::External(Box::new(error))) }).boxed(),
                    }
                })
                .flatten()
                .map(move |batch: DataFusionResult<RecordBatch>| {
                    let batch = batch?;
                    let rows = batch.num_rows();
                    rows_read.add(rows);
                    // Same arrays, under the planner's (lower-case) column names; dictionary-encoded
                    // columns keep their type until the filter has run.
                    let encoded = batch.schema().fields().iter().zip(output_schema.fields()).any(|(read, declared)| read.data_type() != declared.data_type());
                    let schema = if encoded {
                        let fields: Vec<Field> = output_schema
                            .fields()
                            .iter()
                            .zip(batch.columns())
                            .map(|(field, array)| field.as_ref().clone().with_data_type(array.data_type().clone()))
                            .collect();
                        Arc::new(Schema::new(fields))
                    } else {
                        Arc::clone(&output_schema)
                    };
                    let batch = RecordBatch::try_new_with_options(
                        schema,
                        batch.columns().to_vec(),
                        &RecordBatchOptions::new().with_row_count(Some(rows)),
                    )?;
                    let _timer = baseline.elapsed_compute().timer();
                    let filtered = match &filter {
                        Some(filter) => filter.apply(batch),
                        None => Ok(batch),
                    };
                    let filtered = match filtered {
                        Ok(batch) if encoded => finish_columns(batch, &output_schema, &coded),
                        other => other,
                    };
                    if let Ok(batch) = &filtered {
                        baseline.record_output(batch.num_rows());
                    }
                    filtered
                })
                .filter(|batch| futures::future::ready(!matches!(batch, Ok(batch) if batch.num_rows() == 0)))
                .boxed()
        };
        // A repartition or a join's build side may start this scan before the joins above
        // have built their runtime filters: nothing is read until they have, and storage
        // then skips what their key ranges rule out.
        let stream = futures::stream::once(async move {
            let Some(filter) = waiting_filter else { return read(predicate) };
            filter.wait_for_runtime_filters(crate::runtime_filter::SCAN_WAIT_AT_MOST).await;
            match with_runtime_key_ranges(predicate, &filter.runtime_key_ranges(), &key_columns) {
                Some(predicate) => read(predicate),
                None => futures::stream::empty().boxed(),
            }
        })
        .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// `predicate` narrowed to the key ranges of the scan's published runtime filters, on the
/// output columns `key_columns` names in storage (with their types); `None` when a runtime
/// filter's build side has no keys, so no row can pass. A bound storage can not compare
/// exactly is left out, which only reads more.
fn with_runtime_key_ranges(
    predicate: Option<ScanPredicate>,
    ranges: &[(usize, crate::runtime_filter::KeyRange)],
    key_columns: &[Option<(String, DataType)>],
) -> Option<Option<ScanPredicate>> {
    use crate::runtime_filter::KeyRange;
    use cairn_be::{Comparison, ScanValue};
    let value = |key: i64, data_type: &DataType| {
        let scalar = match data_type {
            DataType::Date32 => ScalarValue::Date32(Some(i32::try_from(key).ok()?)),
            _ => ScalarValue::Int64(Some(key)).cast_to(data_type).ok()?,
        };
        ScanValue::from_scalar(&scalar)
    };
    let mut parts: Vec<ScanPredicate> = Vec::new();
    for (position, range) in ranges {
        let (smallest, largest) = match range {
            KeyRange::Empty => return None,
            KeyRange::Between(smallest, largest) => (*smallest, *largest),
        };
        let Some(Some((column, data_type))) = key_columns.get(*position) else { continue };
        for (key, comparison) in [(smallest, Comparison::GreaterOrEqual), (largest, Comparison::LessOrEqual)] {
            if let Some(value) = value(key, data_type) {
                parts.push(ScanPredicate::Compare { column: column.clone(), comparison, value });
            }
        }
    }
    if parts.is_empty() {
        return Some(predicate);
    }
    parts.extend(predicate);
    Some(Some(ScanPredicate::And(parts)))
}

/// `batch` under the scan's declared `schema`: coded columns as codes, other
/// dictionary-encoded ones decoded to strings.
fn finish_columns(
    batch: RecordBatch,
    schema: &SchemaRef,
    coded: &[(usize, Arc<crate::low_cardinality::GlobalDictionary>)],
) -> DataFusionResult<RecordBatch> {
    let rows = batch.num_rows();
    let columns = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(position, array)| match coded.iter().find(|(coded, _)| *coded == position) {
            Some((_, dictionary)) => dictionary.encode(array),
            None => crate::scan_filter::decode(array),
        })
        .collect::<DataFusionResult<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(Arc::clone(schema), columns, &RecordBatchOptions::new().with_row_count(Some(rows)))?)
}

impl TabletScanExec {
    pub fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use cairn_be::{Comparison, ScanValue};

    use super::*;
    use crate::runtime_filter::KeyRange;

    fn compare(column: &str, comparison: Comparison, value: ScanValue) -> ScanPredicate {
        ScanPredicate::Compare { column: column.into(), comparison, value }
    }

    #[test]
    fn runtime_key_ranges_bound_the_predicate_storage_prunes_by() {
        let columns = vec![
            Some(("lo_orderdate".to_string(), DataType::Int32)),
            Some(("day".to_string(), DataType::Date32)),
            Some(("small".to_string(), DataType::UInt8)),
            None,
        ];
        let query = compare("lo_discount", Comparison::Less, ScanValue::Int(4));
        let narrowed = with_runtime_key_ranges(
            Some(query.clone()),
            &[(0, KeyRange::Between(19930101, 19931231)), (1, KeyRange::Between(8000, 8364))],
            &columns,
        );
        assert_eq!(
            narrowed,
            Some(Some(ScanPredicate::And(vec![
                compare("lo_orderdate", Comparison::GreaterOrEqual, ScanValue::Int(19930101)),
                compare("lo_orderdate", Comparison::LessOrEqual, ScanValue::Int(19931231)),
                compare("day", Comparison::GreaterOrEqual, ScanValue::Date(8000)),
                compare("day", Comparison::LessOrEqual, ScanValue::Date(8364)),
                query.clone(),
            ])))
        );
        // A bound the column's type can not hold is left out; a column storage does not name
        // adds nothing.
        assert_eq!(
            with_runtime_key_ranges(None, &[(2, KeyRange::Between(-5, 9)), (3, KeyRange::Between(1, 2))], &columns),
            Some(Some(ScanPredicate::And(vec![compare("small", Comparison::LessOrEqual, ScanValue::UInt(9))])))
        );
        assert_eq!(with_runtime_key_ranges(Some(query.clone()), &[], &columns), Some(Some(query.clone())));
        // A build side without keys: nothing needs reading.
        assert_eq!(
            with_runtime_key_ranges(Some(query), &[(0, KeyRange::Between(1, 2)), (1, KeyRange::Empty)], &columns),
            None
        );
    }
}

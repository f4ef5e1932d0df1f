//! FE metrics in Prometheus' text format: queries by status, query latency, loads,
//! transactions.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

pub struct FrontendMetrics {
    registry: Registry,
    pub queries: Family<StatusLabel, Counter>,
    pub query_latency: Histogram,
    pub transactions: Family<StatusLabel, Counter>,
    pub rows_loaded: Counter,
    pub bytes_loaded: Counter,
    pub connections: Gauge,
}

impl FrontendMetrics {
    pub fn new() -> Self {
        let queries = Family::<StatusLabel, Counter>::default();
        let query_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 18));
        let transactions = Family::<StatusLabel, Counter>::default();
        let rows_loaded = Counter::default();
        let bytes_loaded = Counter::default();
        let connections = Gauge::default();
        let mut registry = Registry::with_prefix("starrocks_fe");
        registry.register("query", "Statements run, by status (ok or err)", queries.clone());
        registry.register("query_latency_seconds", "Statement latency", query_latency.clone());
        registry.register("txn", "Load transactions, by status (visible or aborted)", transactions.clone());
        registry.register("load_rows", "Rows loaded", rows_loaded.clone());
        registry.register("load_bytes", "Bytes loaded", bytes_loaded.clone());
        registry.register("connection_total", "Open MySQL connections", connections.clone());
        FrontendMetrics {
            registry,
            queries,
            query_latency,
            transactions,
            rows_loaded,
            bytes_loaded,
            connections,
        }
    }

    pub fn record_query(&self, ok: bool, seconds: f64) {
        let status = if ok { "ok" } else { "err" };
        self.queries.get_or_create(&StatusLabel { status: status.to_string() }).inc();
        self.query_latency.observe(seconds);
    }

    pub fn record_transaction(&self, visible: bool) {
        let status = if visible { "visible" } else { "aborted" };
        self.transactions.get_or_create(&StatusLabel { status: status.to_string() }).inc();
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl Default for FrontendMetrics {
    fn default() -> Self {
        Self::new()
    }
}

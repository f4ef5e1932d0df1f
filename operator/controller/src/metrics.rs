//! Prometheus metrics of the reconcile loop: count, duration, and failures by reason.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of the failure counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// A short, bounded reason such as `apply` or `dereference`.
    pub reason: String,
}

/// The operator's metrics and the registry they are exported from.
pub struct Metrics {
    pub registry: Registry,
    pub reconciliations: Counter,
    pub failures: Family<FailureLabels, Counter>,
    pub duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cairn_operator");
        let reconciliations = Counter::default();
        let failures = Family::<FailureLabels, Counter>::default();
        // 1 ms .. ~16 s: a steady reconcile should sit in the first buckets (goal: p99 <= 50 ms).
        let duration = Histogram::new([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 16.0]);
        registry.register("reconciliations", "Reconciles started", reconciliations.clone());
        registry.register("reconcile_failures", "Reconciles that returned an error, by reason", failures.clone());
        registry.register("reconcile_duration_seconds", "Time taken by one reconcile", duration.clone());
        Metrics { registry, reconciliations, failures, duration }
    }
}

impl Metrics {
    /// Counts a reconcile and times it until the returned guard drops.
    pub fn start_reconcile(&self) -> ReconcileTimer<'_> {
        self.reconciliations.inc();
        ReconcileTimer { histogram: &self.duration, start: Instant::now() }
    }

    pub fn record_failure(&self, reason: &str) {
        self.failures.get_or_create(&FailureLabels { reason: reason.to_owned() }).inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("failed to encode metrics");
        }
        text
    }
}

/// Observes the elapsed time on drop.
pub struct ReconcileTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        self.histogram.observe(seconds);
        // Exact durations for the reconcile benchmark (e2e/kubernetes/bench.sh); the
        // histogram's buckets are too coarse for a p99.
        tracing::debug!(target: "cairn_operator::reconcile_timing", duration_ms = seconds * 1000.0, "reconcile finished");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_counts_and_failures() {
        let metrics = Metrics::default();
        drop(metrics.start_reconcile());
        drop(metrics.start_reconcile());
        metrics.record_failure("apply");
        let text = metrics.encode();
        assert!(text.contains("cairn_operator_reconciliations_total 2"), "{text}");
        assert!(text.contains("cairn_operator_reconcile_failures_total{reason=\"apply\"} 1"), "{text}");
        assert!(text.contains("cairn_operator_reconcile_duration_seconds_count 2"), "{text}");
    }
}

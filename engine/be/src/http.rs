//! The backend's HTTP port (8040): health, metrics, and Stream Load
//! ([`crate::stream_load`]).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use cairn_storage::DecodedCache;

use crate::metrics::BackendMetrics;

pub fn router(metrics: Arc<BackendMetrics>, page_cache: Arc<DecodedCache>, stream_load: Router) -> Router {
    stream_load
        .route("/api/health", get(health))
        .route(
            "/metrics",
            get(move || {
                let metrics = Arc::clone(&metrics);
                let page_cache = Arc::clone(&page_cache);
                async move { render_metrics(&metrics, &page_cache) }
            }),
        )
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "OK", "msg": "To Be Added"}))
}

fn render_metrics(metrics: &BackendMetrics, page_cache: &DecodedCache) -> axum::response::Response {
    let lines = [
        ("starrocks_be_compactions_total", "Compactions done.", &metrics.compactions),
        (
            "starrocks_be_compaction_input_rowsets_total",
            "Rowsets merged by compaction.",
            &metrics.compaction_input_rowsets,
        ),
        ("starrocks_be_rows_written_total", "Rows written to tablets.", &metrics.rows_written),
        ("starrocks_be_bytes_written_total", "Bytes written to tablets.", &metrics.bytes_written),
        (
            "starrocks_be_stale_rowsets_swept_total",
            "Stale rowsets deleted.",
            &metrics.stale_rowsets_swept,
        ),
    ];
    let mut text = String::new();
    for (name, help, counter) in lines {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
            BackendMetrics::get(counter)
        ));
    }
    let cache = page_cache.statistics();
    let cache_lines = [
        ("starrocks_be_page_cache_capacity", "gauge", "Bytes the decoded-column cache may hold.", cache.capacity_bytes),
        ("starrocks_be_page_cache_used_bytes", "gauge", "Bytes the decoded-column cache holds.", cache.used_bytes),
        ("starrocks_be_page_cache_lookup_count", "counter", "Lookups in the decoded-column cache.", cache.hits + cache.misses),
        ("starrocks_be_page_cache_hit_count", "counter", "Lookups the decoded-column cache answered.", cache.hits),
        ("starrocks_be_page_cache_evictions_total", "counter", "Entries evicted from the decoded-column cache.", cache.evictions),
    ];
    for (name, kind, help, value) in cache_lines {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

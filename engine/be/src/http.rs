//! The backend's HTTP port (8040): health, metrics, and Stream Load
//! ([`crate::stream_load`]).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::BackendMetrics;

pub fn router(metrics: Arc<BackendMetrics>, stream_load: Router) -> Router {
    stream_load
        .route("/api/health", get(health))
        .route(
            "/metrics",
            get(move || {
                let metrics = Arc::clone(&metrics);
                async move { render_metrics(&metrics) }
            }),
        )
}

async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "OK", "msg": "To Be Added"}))
}

fn render_metrics(metrics: &BackendMetrics) -> axum::response::Response {
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

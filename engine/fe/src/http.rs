//! The FE HTTP port (8030): `/api/health` in StarRocks' shape and `/metrics`. Stream Load
//! joins it with the ingest issue.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::frontend::Frontend;

pub fn router(frontend: Arc<Frontend>, extra_metrics: Arc<dyn Fn() -> String + Send + Sync>) -> Router {
    let health_frontend = Arc::clone(&frontend);
    Router::new()
        .route(
            "/api/health",
            get(move || {
                let frontend = Arc::clone(&health_frontend);
                async move {
                    let (online_backends, total_backends) = {
                        let catalog = frontend.metadata.read();
                        (catalog.backends.len(), catalog.backends.len())
                    };
                    axum::Json(serde_json::json!({
                        "status": "OK",
                        "msg": "Success",
                        "online_backend_num": online_backends,
                        "total_backend_num": total_backends,
                    }))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let frontend = Arc::clone(&frontend);
                let extra = Arc::clone(&extra_metrics);
                async move {
                    let mut text = frontend.metrics.render();
                    text.push_str(&extra());
                    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
                }
            }),
        )
}

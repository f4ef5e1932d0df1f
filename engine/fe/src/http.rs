//! The FE HTTP port (8030): `/api/health` in StarRocks' shape, `/metrics`, and the Stream
//! Load entry, which checks the user and the table and redirects (307) to a BE's 8040, as
//! StarRocks' FE does; `curl --location-trusted` follows it with the credentials.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use cairn_be::stream_load::{basic_auth, failure, unauthorized};
use cairn_load::LoadTarget;

use crate::frontend::Frontend;

async fn stream_load_redirect(
    State(frontend): State<Arc<Frontend>>,
    Path((database, table)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some((user, password)) = basic_auth(&headers) else {
        return unauthorized("Stream Load needs HTTP Basic auth: curl --location-trusted -u user:password".to_string());
    };
    if let Err(error) = frontend.authenticate(&user, &password, &peer.ip().to_string()) {
        return unauthorized(error.to_string());
    }
    if let Err(error) = frontend.table_snapshot(&database, &table) {
        return failure("", error.to_string());
    }
    let backend = frontend.metadata.read().backends.iter().find(|backend| frontend.backend_is_alive(backend)).cloned();
    let Some(backend) = backend else {
        return failure("", "No backend is alive to run the load".to_string());
    };
    let path_and_query = uri.path_and_query().map(|value| value.as_str()).unwrap_or(uri.path());
    let location = format!("http://{}:{}{}", backend.host, backend.http_port, path_and_query);
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response()
}

pub fn router(frontend: Arc<Frontend>, extra_metrics: Arc<dyn Fn() -> String + Send + Sync>) -> Router {
    let health_frontend = Arc::clone(&frontend);
    let load_router = Router::new()
        .route("/api/{database}/{table}/_stream_load", put(stream_load_redirect))
        .with_state(Arc::clone(&frontend));
    load_router
        .route(
            "/api/health",
            get(move || {
                let frontend = Arc::clone(&health_frontend);
                async move {
                    let (online_backends, total_backends) = {
                        let catalog = frontend.metadata.read();
                        let online = catalog.backends.iter().filter(|backend| frontend.backend_is_alive(backend)).count();
                        (online, catalog.backends.len())
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

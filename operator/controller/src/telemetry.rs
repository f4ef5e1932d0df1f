//! JSON logs through `tracing`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set.
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},kube_runtime::controller=info,hyper=warn,rustls=warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true);
    let result = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
    if let Err(error) = result {
        eprintln!("tracing was already initialised: {error}");
    }
}

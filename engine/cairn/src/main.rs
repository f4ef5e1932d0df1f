//! `cairn`, the single binary of the database. `cairn allin1` runs one FE and one BE in one
//! process; they talk through the same `BackendService` interface a cluster uses.

mod config;
mod demo;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing::{error, info};

use cairn_be::{BackendService, LocalBackend, LocalBackendConfig};
use cairn_fe::{Frontend, FrontendConfig};
use cairn_storage::compaction::CompactionPolicy;

#[derive(Parser)]
#[command(name = "cairn", version, about = "Cairn: a StarRocks-compatible real-time analytics database")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One FE and one BE in one process.
    Allin1(config::Allin1Args),
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts; the crate says why freed memory is kept for a while.
    cairn_allocator::configure();
    let cli = Cli::parse();
    match cli.command {
        Command::Allin1(args) => {
            let config = args.resolve()?;
            init_logging(&config.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("cairn")
                .build()
                .context("failed to start the async runtime")?;
            runtime.block_on(run_allin1(config))
        }
    }
}

async fn run_allin1(config: config::Allin1Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("failed to create data directory {}", config.data_dir.display()))?;
    let backend = LocalBackend::open(LocalBackendConfig {
        backend_id: 10001,
        host: config.host.clone(),
        http_port: config.be_http_port,
        be_port: config.be_port,
        storage_root_path: config.data_dir.join("be"),
        compaction_interval: Duration::from_secs(config.compaction_interval_seconds.max(1)),
        compaction: CompactionPolicy {
            min_rowsets: config.compaction_min_rowsets,
            ..CompactionPolicy::default()
        },
        stale_rowset_retention: Duration::from_secs(config.stale_rowset_retention_seconds),
        storage_page_cache_limit: config.storage_page_cache_limit,
    })?;
    let backend_metrics = backend.metrics();
    let frontend = Frontend::open(
        FrontendConfig {
            host: config.host.clone(),
            query_port: config.query_port,
            http_port: config.http_port,
            rpc_port: config.rpc_port,
            edit_log_port: config.edit_log_port,
            meta_dir: config.data_dir.join("fe"),
            checkpoint_interval: config.checkpoint_interval,
            default_buckets: config.default_buckets,
            max_connections: config.max_connections,
            max_allowed_packet: config.max_allowed_packet,
            time_zone: config.time_zone.clone(),
        },
        Arc::clone(&backend) as Arc<dyn BackendService>,
    )
    .await?;
    // Compaction starts once recovery has settled which tablets and rowsets exist.
    backend.start_background_tasks();
    let error_log_dir = config.data_dir.join("be").join("error_log");
    frontend.start_routine_loads(Arc::new(cairn_be::routine_load::RoutineLoadExecutor::new(
        cairn_be::error_log::ErrorLogStore::new(error_log_dir.clone(), config.host.clone(), config.be_http_port),
    )));

    let be_listener = tokio::net::TcpListener::bind(("0.0.0.0", config.be_http_port))
        .await
        .with_context(|| format!("failed to listen on BE HTTP port {}", config.be_http_port))?;
    let stream_load = cairn_be::stream_load::router(
        Arc::clone(&frontend) as Arc<dyn cairn_load::LoadTarget>,
        cairn_be::stream_load::StreamLoadConfig {
            advertised_host: config.host.clone(),
            http_port: config.be_http_port,
            error_log_dir,
            max_body_bytes: config.streaming_load_max_mb.saturating_mul(1 << 20),
        },
    );
    let be_router = cairn_be::http::router(Arc::clone(&backend_metrics), backend.page_cache(), stream_load);
    let compaction_metrics = Arc::clone(&backend_metrics);
    let extra_metrics: Arc<dyn Fn() -> String + Send + Sync> = Arc::new(move || {
        let compactions = cairn_be::BackendMetrics::get(&compaction_metrics.compactions);
        format!("# HELP starrocks_fe_compactions_total Compactions done by the BE.\n# TYPE starrocks_fe_compactions_total counter\nstarrocks_fe_compactions_total {compactions}\n")
    });

    let mysql = {
        let frontend = Arc::clone(&frontend);
        tokio::spawn(async move { frontend.serve_mysql().await })
    };
    let http = {
        let frontend = Arc::clone(&frontend);
        tokio::spawn(async move { frontend.serve_http(extra_metrics).await })
    };
    let be_http = tokio::spawn(async move {
        axum::serve(be_listener, be_router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
    });
    info!(
        query_port = config.query_port,
        http_port = config.http_port,
        be_http_port = config.be_http_port,
        data_dir = %config.data_dir.display(),
        "cairn allin1 is ready"
    );
    if config.demo.as_deref() == Some("sensors") {
        tokio::spawn(demo::run_sensors(config.query_port));
    }
    tokio::select! {
        result = mysql => {
            error!(?result, "MySQL server stopped");
            anyhow::bail!("MySQL server stopped: {result:?}")
        }
        result = http => {
            error!(?result, "FE HTTP server stopped");
            anyhow::bail!("FE HTTP server stopped: {result:?}")
        }
        result = be_http => {
            error!(?result, "BE HTTP server stopped");
            anyhow::bail!("BE HTTP server stopped: {result:?}")
        }
        _ = tokio::signal::ctrl_c() => {
            info!("interrupted; shutting down");
            Ok(())
        }
    }
}

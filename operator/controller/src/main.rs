//! `cairn-operator`: `run` starts the StarRocksCluster controller (with leader election, metrics
//! and health endpoints); `crd` prints the CustomResourceDefinition YAML that `crds/` and the
//! Helm chart hold.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use cairn_operator::controller::{RunOptions, run};
use cairn_operator::database::MysqlConnector;
use cairn_operator::http::{HttpState, serve};
use cairn_operator::leader::LeaderElector;
use cairn_operator::metrics::Metrics;
use cairn_operator::telemetry;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn-operator", version, about = "Kubernetes operator for Cairn (StarRocks-compatible) clusters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the StarRocksCluster CRD as YAML.
    Crd,
    /// Run the controller against the cluster of the current kubeconfig or service account.
    Run(RunArguments),
}

#[derive(clap::Args)]
struct RunArguments {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Human-readable logs instead of JSON.
    #[arg(long)]
    plain_logs: bool,
    /// Disable leader election (only for a single replica).
    #[arg(long, env = "LEADER_ELECTION_DISABLED")]
    no_leader_election: bool,
    #[arg(long, env = "LEASE_NAME", default_value = "cairn-operator")]
    lease_name: String,
    /// Namespace of the Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    #[arg(long, env = "LEASE_DURATION_SECONDS", default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Connect to the FE at this `host:port` instead of its Service (for an operator running
    /// outside the cluster).
    #[arg(long, env = "FE_ADDRESS_OVERRIDE")]
    fe_address_override: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", cairn_operator::crd_yaml().context("failed to render the CRD")?);
            Ok(())
        }
        Command::Run(arguments) => run_operator(arguments).await,
    }
}

async fn run_operator(arguments: RunArguments) -> anyhow::Result<()> {
    telemetry::init(&arguments.log_level, !arguments.plain_logs);
    let metrics = Arc::new(Metrics::default());
    let state = Arc::new(HttpState { metrics: metrics.clone(), ready: false.into() });
    let server_state = state.clone();
    let address = arguments.metrics_address;
    tokio::spawn(async move {
        if let Err(error) = serve(address, server_state).await {
            tracing::error!(error = %error, "the metrics server stopped");
        }
    });

    let client = kube::Client::try_default().await.context("failed to create a Kubernetes client")?;
    client.apiserver_version().await.context("failed to reach the Kubernetes API server")?;
    state.ready.store(true, Ordering::Relaxed);

    let options = RunOptions {
        watch_namespace: arguments.watch_namespace.clone(),
        connector: Arc::new(MysqlConnector::new(Duration::from_secs(3), arguments.fe_address_override.clone())),
        metrics,
    };
    if arguments.no_leader_election {
        run(client, options).await;
        return Ok(());
    }

    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("{}-{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "cairn-operator".into()), std::process::id()));
    let lease_namespace = arguments
        .lease_namespace
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".to_owned());
    let elector = LeaderElector::new(
        client.clone(),
        &lease_namespace,
        &arguments.lease_name,
        &identity,
        Duration::from_secs(arguments.lease_duration_seconds),
    );
    elector.acquire().await?;
    let outcome = tokio::select! {
        () = run(client, options) => Ok(()),
        lost = elector.hold() => Err(lost),
    };
    match outcome {
        Ok(()) => {
            elector.release().await;
            Ok(())
        }
        // Exit so the restarted process campaigns again with a clean slate.
        Err(lost) => Err(anyhow::Error::new(lost).context("stopping: leadership lost")),
    }
}

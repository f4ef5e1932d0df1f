//! [`Frontend`]: the FE's shared state, and its start-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use tracing::info;

use crate::error::FeError;
use crate::metadata::Metadata;
use crate::metrics::FrontendMetrics;
use crate::process::ProcessList;
use crate::transaction::TransactionManager;
use cairn_be::BackendService;

#[derive(Debug, Clone)]
pub struct FrontendConfig {
    pub host: String,
    pub query_port: u16,
    pub http_port: u16,
    pub rpc_port: u16,
    pub edit_log_port: u16,
    pub meta_dir: PathBuf,
    /// Journal records between checkpoints.
    pub checkpoint_interval: u64,
    /// Buckets of a table whose DDL names none.
    pub default_buckets: u32,
    pub max_connections: usize,
    pub max_allowed_packet: usize,
    /// The `time_zone` new sessions start with.
    pub time_zone: String,
}

pub struct Frontend {
    pub config: FrontendConfig,
    pub metadata: Arc<Metadata>,
    pub backend: Arc<dyn BackendService>,
    pub transactions: TransactionManager,
    pub metrics: Arc<FrontendMetrics>,
    pub processes: ProcessList,
    /// `SET GLOBAL` values, starting points of new sessions.
    pub global_variables: RwLock<BTreeMap<String, crate::variables::VariableValue>>,
    pub start_time: chrono::DateTime<chrono::Utc>,
    /// Stream Load and Routine Load transactions under way, and recent loads.
    pub loads: Arc<crate::load_target::LoadJobs>,
    /// Routine Load schedulers and what they know of their jobs.
    pub routine_loads: crate::routine_load::RoutineLoadManager,
}

impl Frontend {
    /// Replays the journal, registers the backend and finishes interrupted transactions.
    pub async fn open(config: FrontendConfig, backend: Arc<dyn BackendService>) -> Result<Arc<Frontend>, FeError> {
        let metadata = Arc::new(Metadata::open(config.meta_dir.join("journal"), config.checkpoint_interval)?);
        let transactions = TransactionManager::new(Arc::clone(&metadata), Arc::clone(&backend));
        let global_variables = RwLock::new(crate::variables::default_variables(&config));
        let frontend = Arc::new(Frontend {
            config,
            metadata,
            backend,
            transactions,
            metrics: Arc::new(FrontendMetrics::new()),
            processes: ProcessList::default(),
            global_variables,
            start_time: chrono::Utc::now(),
            loads: Default::default(),
            routine_loads: Default::default(),
        });
        frontend.register_backend()?;
        frontend.ensure_root_user()?;
        frontend.transactions.recover().await?;
        tokio::spawn(TransactionManager::expire_labels_forever(Arc::clone(&frontend.metadata)));
        info!("frontend metadata ready");
        Ok(frontend)
    }

    fn register_backend(&self) -> Result<(), FeError> {
        let backend_id = self.backend.backend_id();
        let known = self.metadata.read().backends.iter().any(|backend| backend.id == backend_id);
        if known {
            return Ok(());
        }
        self.metadata.log(crate::catalog::JournalEntry::AddBackend {
            backend: crate::catalog::Backend {
                id: backend_id,
                host: self.backend.host(),
                heartbeat_port: 9050,
                http_port: self.backend.http_port(),
                decommissioned: false,
            },
        })
    }

    fn ensure_root_user(&self) -> Result<(), FeError> {
        if self.metadata.read().users.iter().any(|user| user.name == "root") {
            return Ok(());
        }
        self.metadata.log(crate::catalog::JournalEntry::CreateUser {
            user: crate::catalog::User {
                name: "root".to_string(),
                host: "%".to_string(),
                password_hash: Vec::new(),
                roles: vec!["root".to_string()],
                privileges: Vec::new(),
            },
        })
    }

    /// Serves MySQL on the query port until the listener fails.
    pub async fn serve_mysql(self: &Arc<Self>) -> Result<(), FeError> {
        let address = SocketAddr::from(([0, 0, 0, 0], self.config.query_port));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| FeError::internal(format!("failed to listen on MySQL port {address}: {error}")))?;
        info!(%address, "MySQL protocol listening");
        let server_config = cairn_mysql::ServerConfig {
            server_version: crate::variables::SERVER_VERSION.to_string(),
            max_connections: self.config.max_connections,
            max_allowed_packet: self.config.max_allowed_packet,
        };
        let factory = Arc::new(crate::session::SessionFactory::new(Arc::clone(self)));
        cairn_mysql::serve(listener, server_config, factory)
            .await
            .map_err(|error| FeError::internal(format!("MySQL server stopped: {error}")))
    }

    /// Serves the FE HTTP port until the listener fails.
    pub async fn serve_http(self: &Arc<Self>, extra_metrics: Arc<dyn Fn() -> String + Send + Sync>) -> Result<(), FeError> {
        let address = SocketAddr::from(([0, 0, 0, 0], self.config.http_port));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| FeError::internal(format!("failed to listen on HTTP port {address}: {error}")))?;
        info!(%address, "FE HTTP listening");
        let router = crate::http::router(Arc::clone(self), extra_metrics);
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .map_err(|error| FeError::internal(format!("FE HTTP server stopped: {error}")))
    }
}

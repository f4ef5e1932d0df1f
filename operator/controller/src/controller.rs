//! The `StarRocksCluster` controller: [`reconcile`] is the short entry (metrics, finalizer
//! dispatch) and [`reconcile_cluster`] runs the pipeline. [`run`] wires the watches.

use std::sync::Arc;
use std::time::Duration;

use cairn_operator_types::{KafkaJobStatus, StarRocksCluster, StarRocksClusterStatus};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::apply::{ApplyError, apply_cluster_resources};
use crate::build::build_cluster_resources;
use crate::database::{self, Connector, Database, DatabaseError};
use crate::dereference::{DereferenceError, dereference};
use crate::metrics::Metrics;
use crate::status::{DatabaseObservation, StatusInput, compute_status, is_progressing, is_settled};
use crate::observed::api_in;
use crate::validate::{Role, ScaleIn, ScaleInPhase, ValidatedCluster, validate};

/// Finalizer that lets the operator clean database-side objects before the cluster goes.
pub const FINALIZER: &str = "starrocks.cairn.dev/cleanup";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the StarRocksCluster has no namespace")]
    MissingNamespace,
    #[error(transparent)]
    Dereference(#[from] DereferenceError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("failed to write the status of StarRocksCluster {name:?}")]
    Status {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("finalizer failed")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A bounded label for the failure metric.
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Error::MissingNamespace => "missing_namespace",
            Error::Dereference(_) => "dereference",
            Error::Apply(_) => "apply",
            Error::Status { .. } => "status",
            Error::Finalizer(_) => "finalizer",
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub reporter: Reporter,
    pub metrics: Arc<Metrics>,
    pub connector: Arc<dyn Connector>,
    /// Watched copies of applied objects, to skip applies that change nothing; `None` applies
    /// everything every time.
    pub observed: Option<Arc<crate::observed::ObservedObjects>>,
}

/// Entry point for the kube-runtime Controller.
pub async fn reconcile(cluster: Arc<StarRocksCluster>, context: Arc<Context>) -> Result<Action, Error> {
    let _timer = context.metrics.start_reconcile();
    let namespace = cluster.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<StarRocksCluster> = Api::namespaced(context.client.clone(), &namespace);
    let span = tracing::info_span!("reconcile", cluster = %cluster.name_any(), namespace = %namespace);
    let _entered = span.enter();
    finalizer(&api, FINALIZER, cluster, |event| async {
        match event {
            FinalizerEvent::Apply(cluster) => reconcile_cluster(&cluster, &context).await,
            FinalizerEvent::Cleanup(cluster) => cleanup_cluster(&cluster, &context).await,
        }
    })
    .await
    .map_err(|error| Error::Finalizer(Box::new(error)))
}

/// Requeue with a short delay; the error is in the logs and the failure metric.
pub fn error_policy(cluster: Arc<StarRocksCluster>, error: &Error, context: Arc<Context>) -> Action {
    tracing::warn!(cluster = %cluster.name_any(), error = %error_chain(error), "reconcile failed");
    context.metrics.record_failure(error.metric_reason());
    Action::requeue(Duration::from_secs(15))
}

/// The error with its sources, for logs and events.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn publish(context: &Context, cluster: &StarRocksCluster, type_: EventType, reason: &str, action: &str, note: String) {
    let recorder = Recorder::new(context.client.clone(), context.reporter.clone());
    let event = Event { type_, reason: reason.to_owned(), note: Some(note), action: action.to_owned(), secondary: None };
    if let Err(error) = recorder.publish(&event, &cluster.object_ref(&())).await {
        tracing::warn!(error = %error, reason, "failed to publish event");
    }
}

/// The pipeline: dereference, validate, build, apply, database, status.
pub async fn reconcile_cluster(cluster: &StarRocksCluster, context: &Context) -> Result<Action, Error> {
    let client = &context.client;
    let namespace = cluster.namespace().ok_or(Error::MissingNamespace)?;
    let name = cluster.name_any();
    let api: Api<StarRocksCluster> = Api::namespaced(client.clone(), &namespace);
    let previous = cluster.status.clone();

    let started = std::time::Instant::now();
    let dereferenced = dereference(client, context.connector.as_ref(), cluster, &namespace, &name).await?;
    let dereferenced_at = started.elapsed();
    let validated = match validate(cluster, &dereferenced) {
        Ok(validated) => validated,
        Err(errors) => {
            let message = errors.to_string();
            tracing::warn!(%message, "invalid spec");
            let status = compute_status(previous.as_ref(), cluster.metadata.generation, StatusInput::Invalid { message: message.clone() }, Timestamp::now());
            if previous.as_ref() != Some(&status) {
                publish(context, cluster, EventType::Warning, "InvalidSpec", "Validate", message).await;
            }
            write_status(&api, &name, &status).await?;
            // Only a spec change can fix this; the watch brings it.
            return Ok(Action::await_change());
        }
    };

    let resources = build_cluster_resources(&validated);
    let applied = apply_cluster_resources(client, &validated, &resources, context.observed.as_deref()).await?;
    let applied_at = started.elapsed();
    if validated.admin.create_secret {
        publish(context, cluster, EventType::Normal, "AdminSecretCreated", "Apply", format!("created Secret {} with a random root password", validated.admin.secret_name)).await;
    }

    let database = sync_database(context, cluster, &validated, &applied, previous.as_ref()).await;
    // Where a reconcile's time goes, for the reconcile benchmark.
    tracing::debug!(
        target: "cairn_operator::reconcile_timing",
        dereference_ms = dereferenced_at.as_secs_f64() * 1000.0,
        apply_ms = (applied_at - dereferenced_at).as_secs_f64() * 1000.0,
        database_ms = (started.elapsed() - applied_at).as_secs_f64() * 1000.0,
        "reconcile phases"
    );
    let status = compute_status(previous.as_ref(), cluster.metadata.generation, StatusInput::Reconciled { cluster: &validated, applied: &applied, database: &database }, Timestamp::now());
    publish_transitions(context, cluster, previous.as_ref(), &status).await;
    if previous.as_ref() != Some(&status) {
        write_status(&api, &name, &status).await?;
    }
    // A degraded or unavailable cluster can heal without any Kubernetes event (a job's table
    // created, the FE back): look again soon.
    Ok(if is_progressing(&status) {
        Action::requeue(Duration::from_secs(10))
    } else if !is_settled(&status) {
        Action::requeue(Duration::from_secs(30))
    } else {
        Action::requeue(Duration::from_secs(300))
    })
}

async fn write_status(api: &Api<StarRocksCluster>, name: &str, status: &StarRocksClusterStatus) -> Result<(), Error> {
    let patch = json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| Error::Status { name: name.to_owned(), source })?;
    Ok(())
}

/// An event for each condition that changed status or reason.
async fn publish_transitions(context: &Context, cluster: &StarRocksCluster, previous: Option<&StarRocksClusterStatus>, status: &StarRocksClusterStatus) {
    let old: &[Condition] = previous.map(|status| status.conditions.as_slice()).unwrap_or_default();
    for condition in &status.conditions {
        let unchanged = old.iter().any(|previous| {
            previous.type_ == condition.type_ && previous.status == condition.status && previous.reason == condition.reason
        });
        if unchanged {
            continue;
        }
        let bad = (condition.type_ == "Degraded" && condition.status == "True")
            || (condition.type_ == "Available" && condition.status == "False");
        let type_ = if bad { EventType::Warning } else { EventType::Normal };
        let note = format!("{} is {}: {}", condition.type_, condition.status, condition.message);
        publish(context, cluster, type_, &condition.reason, "Reconcile", note).await;
    }
}

/// Database-side steps over MySQL. An unreachable FE is an expected state while pods start,
/// so it becomes a condition rather than an error.
async fn sync_database(
    context: &Context,
    cluster: &StarRocksCluster,
    validated: &ValidatedCluster,
    applied: &crate::apply::Applied,
    previous: Option<&StarRocksClusterStatus>,
) -> DatabaseObservation {
    let ready_fe = applied.fe_statefulset.status.as_ref().and_then(|status| status.ready_replicas).unwrap_or(0);
    if ready_fe == 0 {
        return DatabaseObservation::Unreachable("no FE pod is ready".into());
    }
    let database = match context.connector.connect(&validated.fe_service_host(), 9030, &validated.admin.password).await {
        Ok(database) => database,
        Err(error) => return DatabaseObservation::Unreachable(error_chain(&error)),
    };
    match sync_with(database.as_ref(), context, cluster, validated, applied, previous).await {
        Ok(observation) => observation,
        Err(error) if error.is_rejection() => {
            let message = error_chain(&error);
            publish(context, cluster, EventType::Warning, "DatabaseStepFailed", "Reconcile", message.clone()).await;
            DatabaseObservation::Rejected(message)
        }
        Err(error) => DatabaseObservation::Unreachable(error_chain(&error)),
    }
}

async fn sync_with(
    database: &dyn Database,
    context: &Context,
    cluster: &StarRocksCluster,
    validated: &ValidatedCluster,
    applied: &crate::apply::Applied,
    previous: Option<&StarRocksClusterStatus>,
) -> Result<DatabaseObservation, DatabaseError> {
    // Register every BE ordinal the StatefulSet runs.
    let be_replicas = applied.be_statefulset.as_ref().and_then(|statefulset| statefulset.spec.as_ref()).and_then(|spec| spec.replicas);
    let mut backends = database.show_backends().await?;
    let mut changed = false;
    // While a scale-in is pending only the kept ordinals are registered: a leaving backend
    // the FE already dropped must not come back and take replicas again.
    let keep = validated.scale_in.as_ref().map_or(i32::MAX, |scale_in| scale_in.to);
    for ordinal in 0..be_replicas.unwrap_or(0).min(keep) {
        let host = validated.pod_host(Role::Be, ordinal);
        if !backends.iter().any(|backend| backend.host == host) {
            database.execute(&database::add_backend_statement(&host, 9050)).await?;
            publish(context, cluster, EventType::Normal, "BackendAdded", "AddBackend", format!("added backend {host}:9050")).await;
            changed = true;
        }
    }
    let scale_in_blocked = decommission_leaving_backends(database, context, cluster, validated, &backends).await?;
    changed |= scale_in_blocked.is_none() && matches!(&validated.scale_in, Some(ScaleIn { phase: ScaleInPhase::Decommissioning { .. }, .. }));
    // Backends of pods the StatefulSet no longer runs go once decommissioned and empty; the
    // FE refuses to drop one that holds replicas anyway.
    if let Some(be_replicas) = be_replicas {
        for backend in &backends {
            let ordinal = validated.be_ordinal(&backend.host);
            let gone = ordinal.is_some_and(|ordinal| ordinal >= be_replicas);
            // A kept ordinal left decommissioned by an abandoned scale-in (scaled back out,
            // or refused midway) is dropped when empty and registered afresh next time.
            let stranded = ordinal.is_some_and(|ordinal| ordinal < be_replicas) && validated.scale_in.is_none();
            if (gone || stranded) && backend.decommissioned && backend.tablets == 0 {
                database.execute(&database::drop_backend_statement(&backend.host, backend.heartbeat_port)).await?;
                publish(context, cluster, EventType::Normal, "BackendDropped", "DropBackend", format!("dropped decommissioned backend {}:{}", backend.host, backend.heartbeat_port)).await;
                changed = true;
            }
        }
    }
    if changed {
        backends = database.show_backends().await?;
    }

    // Routine Load jobs: create missing ones, alter changed ones (or re-create them when ALTER
    // can not express the change), stop removed ones.
    let previous_jobs: Vec<KafkaJobStatus> = previous.map(|status| status.kafka_ingest.clone()).unwrap_or_default();
    let mut job_states = Vec::new();
    let mut databases: Vec<&str> = validated.kafka_jobs.iter().map(|job| job.database.as_str()).collect();
    databases.sort_unstable();
    databases.dedup();
    let mut existing = Vec::new();
    for name in databases {
        existing.extend(database.show_routine_loads(name).await?);
    }
    for job in &validated.kafka_jobs {
        let fingerprint = database::job_fingerprint(job);
        match sync_job(database, context, cluster, job, &existing, &previous_jobs).await {
            Ok((state, message)) => job_states.push(KafkaJobStatus { name: job.name.clone(), state, message, lag: None, fingerprint: Some(fingerprint), database: Some(job.database.clone()) }),
            // One job's statement the FE refuses (its table does not exist, say) fails that
            // job, not the cluster; the next reconcile tries again.
            Err(error) if error.is_rejection() => {
                let message = error_chain(&error);
                publish(context, cluster, EventType::Warning, "RoutineLoadFailed", "CreateRoutineLoad", format!("Routine Load job {}.{}: {message}", job.database, job.name)).await;
                // The recorded fingerprint stays, so a refused ALTER is tried again.
                let recorded = previous_jobs.iter().find(|old| old.name == job.name).and_then(|old| old.fingerprint.clone());
                job_states.push(KafkaJobStatus { name: job.name.clone(), state: JOB_FAILED.to_owned(), message: Some(message), lag: None, fingerprint: recorded, database: Some(job.database.clone()) });
            }
            Err(error) => return Err(error),
        }
    }
    for old in &previous_jobs {
        let still_wanted = validated.kafka_jobs.iter().any(|job| job.name == old.name);
        // A job the FE never created has nothing to stop.
        let never_created = old.state == JOB_FAILED && old.fingerprint.is_none();
        if let (false, false, Some(database_name)) = (still_wanted, never_created, old.database.as_deref()) {
            match database.execute(&database::stop_routine_load_statement(database_name, &old.name)).await {
                Ok(()) => publish(context, cluster, EventType::Normal, "RoutineLoadStopped", "StopRoutineLoad", format!("stopped Routine Load job {database_name}.{}", old.name)).await,
                // Already gone from the FE: nothing runs; the other steps go on.
                Err(error) if error.is_rejection() => publish(context, cluster, EventType::Warning, "RoutineLoadStopFailed", "StopRoutineLoad", format!("Routine Load job {database_name}.{}: {}", old.name, error_chain(&error))).await,
                Err(error) => return Err(error),
            }
        }
    }

    let mut grafana_user = false;
    if let Some(grafana) = &validated.grafana {
        for statement in database::grafana_user_statements(&grafana.password) {
            database.execute(&statement).await?;
        }
        grafana_user = true;
    }
    Ok(DatabaseObservation::Reached { backends, kafka_jobs: job_states, grafana_user, scale_in_blocked })
}

/// Decommissions the BE ordinals a pending scale-in removes. Returns the FE's refusal, which
/// blocks the scale-in (the StatefulSet keeps its pods) without failing the other steps.
async fn decommission_leaving_backends(
    database: &dyn Database,
    context: &Context,
    cluster: &StarRocksCluster,
    validated: &ValidatedCluster,
    backends: &[database::Backend],
) -> Result<Option<String>, DatabaseError> {
    let Some(ScaleIn { from, to, phase: ScaleInPhase::Decommissioning { .. } }) = &validated.scale_in else {
        return Ok(None);
    };
    for ordinal in (*to..*from).rev() {
        let host = validated.pod_host(Role::Be, ordinal);
        let Some(backend) = backends.iter().find(|backend| backend.host == host && !backend.decommissioned) else {
            continue;
        };
        match database.execute(&database::decommission_backend_statement(&host, backend.heartbeat_port)).await {
            Ok(()) => {
                let note = format!("decommissioning backend {host}:{} to scale BE in from {from} to {to}", backend.heartbeat_port);
                publish(context, cluster, EventType::Normal, "BackendDecommissioning", "DecommissionBackend", note).await;
            }
            Err(error) if error.is_rejection() => {
                let message = error_chain(&error);
                publish(context, cluster, EventType::Warning, "DecommissionRefused", "DecommissionBackend", message.clone()).await;
                return Ok(Some(message));
            }
            Err(error) => return Err(error),
        }
    }
    Ok(None)
}

/// State of a job the FE refused to create or change.
pub const JOB_FAILED: &str = "Failed";

/// Creates, alters or re-creates one Routine Load job so it matches the spec; returns its
/// state and the FE's reason.
async fn sync_job(
    database: &dyn Database,
    context: &Context,
    cluster: &StarRocksCluster,
    job: &crate::validate::ValidatedKafkaJob,
    existing: &[database::RoutineLoad],
    previous_jobs: &[KafkaJobStatus],
) -> Result<(String, Option<String>), DatabaseError> {
    let fingerprint = database::job_fingerprint(job);
    let running = existing.iter().find(|existing| {
        existing.name == job.name && existing.database == job.database && !matches!(existing.state.as_str(), "STOPPED" | "CANCELLED")
    });
    let recorded = previous_jobs.iter().find(|old| old.name == job.name).and_then(|old| old.fingerprint.clone());
    let mut state = running.map(|job| (job.state.clone(), job.reason.clone()));
    if running.is_some() && recorded.as_deref() != Some(fingerprint.as_str()) && recorded.is_some() {
        // Fingerprints are `<identity>.<statement>`; an older status has no identity part.
        let recorded_identity = recorded.as_deref().and_then(|recorded| recorded.split_once('.')).map(|(identity, _)| identity);
        if recorded_identity == Some(database::job_identity_fingerprint(job).as_str()) {
            for statement in database::alter_routine_load_statements(job) {
                database.execute(&statement).await?;
            }
            publish(context, cluster, EventType::Normal, "RoutineLoadAltered", "AlterRoutineLoad", format!("altered Routine Load job {}.{} in place; it continues from its offsets", job.database, job.name)).await;
            state = Some(("NEED_SCHEDULE".to_owned(), None));
        } else {
            database.execute(&database::stop_routine_load_statement(&job.database, &job.name)).await?;
            publish(context, cluster, EventType::Normal, "RoutineLoadStopped", "StopRoutineLoad", format!("stopped Routine Load job {}.{} to re-create it: its table, source, format or set of properties changed, which ALTER can not change", job.database, job.name)).await;
            state = None;
        }
    }
    if state.is_none() {
        database.execute(&database::create_routine_load_statement(job)).await?;
        publish(context, cluster, EventType::Normal, "RoutineLoadCreated", "CreateRoutineLoad", format!("created Routine Load job {}.{} from topic {}", job.database, job.name, job.topic)).await;
        state = Some(("NEED_SCHEDULE".to_owned(), None));
    }
    Ok(state.unwrap_or_default())
}

/// Finalizer cleanup: stop the cluster's Routine Load jobs and drop the Grafana user. Kubernetes
/// objects go by owner reference. An unreachable FE does not block deletion: its data goes with
/// the pods (or stays on retained PVCs, where the jobs would resume with a re-created cluster).
pub async fn cleanup_cluster(cluster: &StarRocksCluster, context: &Context) -> Result<Action, Error> {
    let namespace = cluster.namespace().ok_or(Error::MissingNamespace)?;
    let jobs: Vec<(String, String)> = cluster
        .status
        .iter()
        .flat_map(|status| status.kafka_ingest.iter())
        .filter_map(|job| job.database.clone().map(|database| (database, job.name.clone())))
        .collect();
    let needs_database = !jobs.is_empty() || cluster.spec.grafana.enabled;
    if needs_database {
        let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
        let admin = cluster.admin_secret();
        let password = secrets
            .get_opt(&admin.name)
            .await
            .ok()
            .flatten()
            .and_then(|secret| secret.data)
            .and_then(|data| data.get(&admin.key).map(|value| String::from_utf8_lossy(&value.0).into_owned()))
            .unwrap_or_default();
        let host = crate::validate::fe_service_host(&cluster.name_any(), &namespace);
        let result = async {
            let database = context.connector.connect(&host, 9030, &password).await?;
            for (database_name, job) in &jobs {
                database.execute(&database::stop_routine_load_statement(database_name, job)).await?;
            }
            if cluster.spec.grafana.enabled {
                database.execute(&database::drop_grafana_user_statement()).await?;
            }
            Ok::<(), DatabaseError>(())
        }
        .await;
        match result {
            Ok(()) => publish(context, cluster, EventType::Normal, "DatabaseCleaned", "Cleanup", format!("stopped {} Routine Load job(s) and dropped database-side users", jobs.len())).await,
            Err(error) => publish(context, cluster, EventType::Warning, "CleanupSkipped", "Cleanup", format!("the FE could not be reached for cleanup ({}); deleting anyway", error_chain(&error))).await,
        }
    }
    Ok(Action::await_change())
}

/// Options of [`run`].
pub struct RunOptions {
    /// Watch one namespace, or all when `None`.
    pub watch_namespace: Option<String>,
    pub connector: Arc<dyn Connector>,
    pub metrics: Arc<Metrics>,
}

/// Runs the controller until the stream ends (on shutdown signal).
pub async fn run(client: Client, options: RunOptions) {
    let clusters: Api<StarRocksCluster> = api_in(&client, options.watch_namespace.as_deref());
    if let Err(error) = clusters.list(&ListParams::default().limit(1)).await {
        tracing::error!(error = %error, "StarRocksCluster is not listable; is the CRD installed (kubectl apply -f crds/)?");
    }
    let managed = watcher::Config::default().labels("app.kubernetes.io/managed-by=cairn-operator");
    let namespace = options.watch_namespace.clone();
    let context = Arc::new(Context {
        client: client.clone(),
        reporter: Reporter { controller: crate::FIELD_MANAGER.into(), instance: std::env::var("POD_NAME").ok() },
        metrics: options.metrics.clone(),
        connector: options.connector.clone(),
        observed: Some(Arc::new(crate::observed::ObservedObjects::start(&client, namespace.as_deref(), &managed))),
    });
    Controller::new(clusters, watcher::Config::default().any_semantic())
        .owns(api_in::<StatefulSet>(&client, namespace.as_deref()), managed.clone())
        .owns(api_in::<Service>(&client, namespace.as_deref()), managed.clone())
        .owns(api_in::<ConfigMap>(&client, namespace.as_deref()), managed.clone())
        .owns(api_in::<Secret>(&client, namespace.as_deref()), managed.clone())
        .owns(api_in::<PodDisruptionBudget>(&client, namespace.as_deref()), managed)
        .shutdown_on_signal()
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(cluster = %object.name, "reconciled"),
                Err(error) => tracing::debug!(error = %error_chain(&error), "reconcile error"),
            }
        })
        .await;
}

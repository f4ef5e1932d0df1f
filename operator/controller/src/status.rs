//! Computes the cluster's status from what this reconcile saw: the validation result, the
//! applied StatefulSets and what the FE answered. Pure, so every condition is unit-tested;
//! [`crate::controller`] writes the result to the status subresource.

use cairn_operator_types::{
    BackendsStatus, CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING, ComponentStatus,
    GrafanaStatus, KafkaJobStatus, StarRocksClusterStatus,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::apply::{Applied, statefulset_ready};
use crate::build::grafana::{dashboard_config_map_names, datasource_secret_name};
use crate::database::Backend;
use crate::validate::{ScaleIn, ScaleInPhase, ValidatedCluster};

/// What the FE told this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum DatabaseObservation {
    /// The FE did not answer; the message says why.
    Unreachable(String),
    /// The FE answered but refused a step every cluster needs (registering a backend, the
    /// Grafana user); the message has its error.
    Rejected(String),
    Reached {
        backends: Vec<Backend>,
        kafka_jobs: Vec<KafkaJobStatus>,
        grafana_user: bool,
        /// The FE's refusal to decommission a leaving backend; the scale-in waits.
        scale_in_blocked: Option<String>,
    },
}

/// The outcome of one reconcile, as far as status is concerned.
pub enum StatusInput<'a> {
    Invalid { message: String },
    Reconciled { cluster: &'a ValidatedCluster, applied: &'a Applied, database: &'a DatabaseObservation },
}

fn condition(kind: &str, status: bool, reason: &str, message: String, generation: Option<i64>, now: Timestamp) -> Condition {
    Condition {
        type_: kind.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message,
        observed_generation: generation,
        last_transition_time: Time(now),
    }
}

/// Keeps `lastTransitionTime` when a condition's status did not change, as the Kubernetes
/// convention asks.
fn carry_transition_times(previous: &[Condition], conditions: &mut [Condition]) {
    for condition in conditions {
        if let Some(old) = previous.iter().find(|old| old.type_ == condition.type_)
            && old.status == condition.status
        {
            condition.last_transition_time = old.last_transition_time.clone();
        }
    }
}

fn component_status(statefulset: Option<&StatefulSet>, desired: i32) -> ComponentStatus {
    let status = statefulset.and_then(|statefulset| statefulset.status.clone()).unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let selector = statefulset
        .and_then(|statefulset| statefulset.spec.as_ref())
        .and_then(|spec| spec.selector.match_labels.as_ref())
        .map(|labels| labels.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let image = statefulset
        .and_then(|statefulset| statefulset.spec.as_ref())
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|container| container.image.clone());
    ComponentStatus {
        replicas: status.replicas,
        ready_replicas: ready,
        updated_replicas: status.updated_replicas.unwrap_or(0),
        readiness: format!("{ready}/{desired}"),
        selector,
        image,
    }
}

/// The new status. `previous` supplies transition times and the fields this reconcile could
/// not observe (component counts while the spec is invalid).
pub fn compute_status(
    previous: Option<&StarRocksClusterStatus>,
    generation: Option<i64>,
    input: StatusInput<'_>,
    now: Timestamp,
) -> StarRocksClusterStatus {
    let previous_conditions = previous.map(|status| status.conditions.clone()).unwrap_or_default();
    let mut status = previous.cloned().unwrap_or_default();
    status.observed_generation = generation;
    let mut conditions = match input {
        StatusInput::Invalid { message } => {
            let available = previous_conditions
                .iter()
                .find(|condition| condition.type_ == CONDITION_AVAILABLE)
                .cloned()
                .unwrap_or_else(|| {
                    condition(CONDITION_AVAILABLE, false, "InvalidSpec", "the spec is invalid".into(), generation, now)
                });
            vec![
                available,
                condition(CONDITION_PROGRESSING, false, "InvalidSpec", "fix the spec to continue".into(), generation, now),
                condition(CONDITION_DEGRADED, true, "InvalidSpec", message, generation, now),
            ]
        }
        StatusInput::Reconciled { cluster, applied, database } => {
            status.fe = component_status(Some(&applied.fe_statefulset), cluster.fe.replicas);
            status.be = component_status(applied.be_statefulset.as_ref(), cluster.be.replicas);
            reconciled_conditions(&mut status, cluster, applied, database, generation, now)
        }
    };
    carry_transition_times(&previous_conditions, &mut conditions);
    status.conditions = conditions;
    status
}

fn reconciled_conditions(
    status: &mut StarRocksClusterStatus,
    cluster: &ValidatedCluster,
    applied: &Applied,
    database: &DatabaseObservation,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let fe_ready = statefulset_ready(&applied.fe_statefulset);
    let be_ready = applied.be_statefulset.as_ref().is_some_and(statefulset_ready);
    let fe_address = format!("{}:9030", cluster.fe_service_host());

    match database {
        DatabaseObservation::Reached { backends, kafka_jobs, grafana_user, .. } => {
            status.backends = Some(BackendsStatus {
                total: i32::try_from(backends.len()).unwrap_or(i32::MAX),
                alive: i32::try_from(backends.iter().filter(|backend| backend.alive).count()).unwrap_or(i32::MAX),
                decommissioning: i32::try_from(backends.iter().filter(|backend| backend.decommissioned).count())
                    .unwrap_or(i32::MAX),
                tablets: backends.iter().map(|backend| backend.tablets).sum(),
            });
            status.kafka_ingest = kafka_jobs.clone();
            if let Some(grafana) = status.grafana.as_mut() {
                grafana.read_only_user = *grafana_user;
            }
        }
        DatabaseObservation::Unreachable(_) | DatabaseObservation::Rejected(_) => {
            status.backends = None;
            // Jobs keep their last known state; the new ones are Pending until the FE answers.
            let previous = std::mem::take(&mut status.kafka_ingest);
            status.kafka_ingest = cluster
                .kafka_jobs
                .iter()
                .map(|job| {
                    previous.iter().find(|old| old.name == job.name).cloned().unwrap_or_else(|| KafkaJobStatus {
                        name: job.name.clone(),
                        state: "Pending".into(),
                        message: Some("waiting for the FE".into()),
                        database: Some(job.database.clone()),
                        ..KafkaJobStatus::default()
                    })
                })
                .collect();
        }
    }
    status.grafana = cluster.grafana.as_ref().map(|grafana| GrafanaStatus {
        datasource_secret: grafana.mode.sidecar().then(|| datasource_secret_name(cluster)),
        dashboard_config_maps: if grafana.mode.sidecar() { dashboard_config_map_names(cluster).to_vec() } else { vec![] },
        operator_resources: grafana.mode.operator() && grafana.operator_crds_present,
        read_only_user: matches!(database, DatabaseObservation::Reached { grafana_user: true, .. }),
        message: (grafana.mode.operator() && !grafana.operator_crds_present)
            .then(|| "grafana-operator CRDs are not installed; its resources were not created".to_owned()),
    });

    let alive_backends = status.backends.as_ref().map(|backends| backends.alive).unwrap_or(0);
    let scale_in_blocked = match database {
        DatabaseObservation::Reached { scale_in_blocked, .. } => scale_in_blocked.as_deref(),
        _ => None,
    };
    let has_leaving_backends = match database {
        DatabaseObservation::Reached { backends, .. } => {
            backends.iter().any(|backend| cluster.be_ordinal(&backend.host).is_some_and(|ordinal| ordinal >= cluster.be.replicas))
        }
        _ => false,
    };
    let available = match database {
        DatabaseObservation::Unreachable(error) => condition(
            CONDITION_AVAILABLE,
            false,
            "FrontendUnreachable",
            format!("the FE at {fe_address} did not answer ({error}); waiting for it"),
            generation,
            now,
        ),
        DatabaseObservation::Rejected(error) => condition(
            CONDITION_AVAILABLE,
            false,
            "DatabaseStepFailed",
            format!("the FE at {fe_address} refused a step of the reconcile: {error}"),
            generation,
            now,
        ),
        DatabaseObservation::Reached { .. } if alive_backends == 0 => condition(
            CONDITION_AVAILABLE,
            false,
            "NoAliveBackend",
            "the FE answers but reports no alive backend".into(),
            generation,
            now,
        ),
        DatabaseObservation::Reached { .. } => condition(
            CONDITION_AVAILABLE,
            true,
            "QueriesServed",
            format!("the FE answers at {fe_address} with {alive_backends} alive backend(s)"),
            generation,
            now,
        ),
    };

    let progressing = if !fe_ready {
        condition(
            CONDITION_PROGRESSING,
            true,
            "RollingOutFrontend",
            format!("FE StatefulSet has {} of {} pods ready and updated", status.fe.ready_replicas, cluster.fe.replicas),
            generation,
            now,
        )
    } else if applied.be_waiting_for_fe {
        condition(CONDITION_PROGRESSING, true, "WaitingForFrontend", "BE waits until the FE is rolled out and ready".into(), generation, now)
    } else if !be_ready {
        condition(
            CONDITION_PROGRESSING,
            true,
            "RollingOutBackend",
            format!("BE StatefulSet has {} of {} pods ready and updated", status.be.ready_replicas, cluster.be.replicas),
            generation,
            now,
        )
    } else if let DatabaseObservation::Unreachable(_) = database {
        condition(
            CONDITION_PROGRESSING,
            true,
            "WaitingForFrontendConnection",
            format!("pods are ready; waiting to reach the FE at {fe_address} to register backends and jobs"),
            generation,
            now,
        )
    } else if let (Some(ScaleIn { from, to, phase: ScaleInPhase::Decommissioning { pending } }), None) = (&cluster.scale_in, scale_in_blocked) {
        condition(
            CONDITION_PROGRESSING,
            true,
            "DecommissioningBackends",
            format!(
                "scaling BE in from {from} to {to}: waiting until the FE reports {} decommissioned with no tablets; \
                 the StatefulSet keeps {from} pods until then",
                pending.join(", ")
            ),
            generation,
            now,
        )
    } else if let Some(ScaleIn { from, to, phase: ScaleInPhase::WaitingForFrontend { error } }) = &cluster.scale_in {
        condition(
            CONDITION_PROGRESSING,
            true,
            "WaitingForFrontendConnection",
            format!("scaling BE in from {from} to {to} needs the FE to decommission backends first; it did not answer ({error})"),
            generation,
            now,
        )
    } else if matches!(&cluster.scale_in, Some(ScaleIn { phase: ScaleInPhase::Shrinking, .. })) && has_leaving_backends {
        condition(CONDITION_PROGRESSING, true, "DroppingBackends", "the StatefulSet shrank; dropping the decommissioned backends".into(), generation, now)
    } else {
        condition(CONDITION_PROGRESSING, false, "RolloutComplete", "every object matches the spec".into(), generation, now)
    };

    let failing_jobs: Vec<String> = status
        .kafka_ingest
        .iter()
        .filter(|job| matches!(job.state.as_str(), "PAUSED" | "CANCELLED" | "STOPPED" | crate::controller::JOB_FAILED))
        .map(|job| format!("{} is {}", job.name, job.state))
        .collect();
    let degraded = if let (Some(ScaleIn { from, to, .. }), Some(refusal)) = (&cluster.scale_in, scale_in_blocked) {
        condition(
            CONDITION_DEGRADED,
            true,
            "ScaleInBlocked",
            format!(
                "scale-in of BE from {from} to {to} replicas waits: the FE refused to decommission a leaving backend \
                 ({refusal}); the StatefulSet keeps {from} pods so no tablet is lost. Set be.replicas back to {from} \
                 or make the backend decommissionable"
            ),
            generation,
            now,
        )
    } else if let DatabaseObservation::Rejected(error) = database {
        condition(CONDITION_DEGRADED, true, "DatabaseStepFailed", error.clone(), generation, now)
    } else if !failing_jobs.is_empty() {
        condition(CONDITION_DEGRADED, true, "RoutineLoadNotRunning", failing_jobs.join(", "), generation, now)
    } else {
        condition(CONDITION_DEGRADED, false, "AsExpected", "nothing needs attention".into(), generation, now)
    };
    vec![available, progressing, degraded]
}

/// True when the cluster is available and nothing is degraded.
pub fn is_settled(status: &StarRocksClusterStatus) -> bool {
    let has = |kind: &str, value: &str| status.conditions.iter().any(|condition| condition.type_ == kind && condition.status == value);
    has(CONDITION_AVAILABLE, "True") && has(CONDITION_DEGRADED, "False")
}

/// True when the cluster is still converging, so the controller checks back soon.
pub fn is_progressing(status: &StarRocksClusterStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|condition| condition.type_ == CONDITION_PROGRESSING && condition.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::build_cluster_resources;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::{ScaleIn, ScaleInPhase, validate};
    use k8s_openapi::api::apps::v1::StatefulSetStatus;

    fn ready(mut statefulset: StatefulSet) -> StatefulSet {
        let replicas = statefulset.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1);
        statefulset.metadata.generation = Some(1);
        statefulset.status = Some(StatefulSetStatus {
            observed_generation: Some(1),
            replicas,
            ready_replicas: Some(replicas),
            updated_replicas: Some(replicas),
            ..StatefulSetStatus::default()
        });
        statefulset
    }

    /// Both StatefulSets applied, rolled out and ready.
    fn rolled_out(cluster: &ValidatedCluster) -> Applied {
        let resources = build_cluster_resources(cluster);
        Applied {
            fe_statefulset: ready(resources.fe_statefulset.clone()),
            be_statefulset: Some(ready(resources.be_statefulset.clone())),
            be_waiting_for_fe: false,
        }
    }

    fn find<'a>(status: &'a StarRocksClusterStatus, kind: &str) -> (&'a str, &'a str) {
        status
            .conditions
            .iter()
            .find(|condition| condition.type_ == kind)
            .map(|condition| (condition.status.as_str(), condition.reason.as_str()))
            .unwrap_or(("missing", "missing"))
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn healthy_cluster_is_available_and_settled() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let applied = rolled_out(&cluster);
        let backend = |alive| Backend { host: "h".into(), heartbeat_port: 9050, alive, decommissioned: false, tablets: 4 };
        let database = DatabaseObservation::Reached {
            backends: vec![backend(true), backend(true), backend(false)],
            kafka_jobs: vec![],
            grafana_user: true,
            scale_in_blocked: None,
        };
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(2), input, at(100));
        assert_eq!(find(&status, CONDITION_AVAILABLE), ("True", "QueriesServed"));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("False", "RolloutComplete"));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("False", "AsExpected"));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(status.be.readiness, "3/3");
        assert_eq!(status.be.selector, "app.kubernetes.io/component=be,app.kubernetes.io/instance=demo,app.kubernetes.io/name=cairn");
        assert_eq!(status.backends, Some(BackendsStatus { total: 3, alive: 2, decommissioning: 0, tablets: 12 }));
        assert_eq!(status.grafana.as_ref().map(|grafana| grafana.read_only_user), Some(true));
        assert!(!is_progressing(&status));

        // Same outcome later: transition times stay.
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let again = compute_status(Some(&status), Some(2), input, at(200));
        assert_eq!(again.conditions[0].last_transition_time, Time(at(100)));
        Ok(())
    }

    #[test]
    fn unreachable_fe_waits() -> anyhow::Result<()> {
        let mut cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        cluster.scale_in = Some(ScaleIn { from: 4, to: 3, phase: ScaleInPhase::WaitingForFrontend { error: "refused".into() } });
        let applied = rolled_out(&cluster);
        let database = DatabaseObservation::Unreachable("connection refused".into());
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(3), input, at(100));
        assert_eq!(find(&status, CONDITION_AVAILABLE), ("False", "FrontendUnreachable"));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("True", "WaitingForFrontendConnection"));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("False", "AsExpected"));
        let job_states: Vec<&str> = status.kafka_ingest.iter().map(|job| job.state.as_str()).collect();
        assert_eq!(job_states, ["Pending", "Pending"]);
        Ok(())
    }

    #[test]
    fn scale_in_progresses_while_decommissioning_and_degrades_when_refused() -> anyhow::Result<()> {
        let mut cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let pending = vec!["demo-be-3.demo-be-search.analytics.svc.cluster.local:9050".to_owned()];
        cluster.scale_in = Some(ScaleIn { from: 4, to: 3, phase: ScaleInPhase::Decommissioning { pending } });
        let applied = rolled_out(&cluster);
        let backend = Backend { host: "h".into(), heartbeat_port: 9050, alive: true, decommissioned: false, tablets: 1 };
        let reached = |scale_in_blocked: Option<&str>| DatabaseObservation::Reached {
            backends: vec![backend.clone()],
            kafka_jobs: vec![],
            grafana_user: true,
            scale_in_blocked: scale_in_blocked.map(str::to_owned),
        };
        let database = reached(None);
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(3), input, at(100));
        assert_eq!(find(&status, CONDITION_AVAILABLE), ("True", "QueriesServed"));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("True", "DecommissioningBackends"));
        assert!(status.conditions[1].message.contains("demo-be-3.demo-be-search.analytics.svc.cluster.local:9050"));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("False", "AsExpected"));

        let database = reached(Some("ERROR 1235: holds 3 tablet replica(s)"));
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(3), input, at(100));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("True", "ScaleInBlocked"));
        let message = &status.conditions[2].message;
        assert!(message.contains("holds 3 tablet replica(s)") && message.contains("keeps 4 pods"), "{message}");
        Ok(())
    }

    #[test]
    fn a_refused_step_is_not_an_unreachable_fe() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let applied = rolled_out(&cluster);
        let database = DatabaseObservation::Rejected("the FE rejected statement \"ALTER SYSTEM ADD BACKEND\"".into());
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(3), input, at(100));
        assert_eq!(find(&status, CONDITION_AVAILABLE), ("False", "DatabaseStepFailed"));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("True", "DatabaseStepFailed"));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("False", "RolloutComplete"));
        Ok(())
    }

    #[test]
    fn be_waits_for_fe() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let resources = build_cluster_resources(&cluster);
        let applied = Applied { fe_statefulset: resources.fe_statefulset.clone(), be_statefulset: None, be_waiting_for_fe: true };
        let database = DatabaseObservation::Unreachable("no route".into());
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &applied, database: &database };
        let status = compute_status(None, Some(1), input, at(1));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("True", "RollingOutFrontend"));
        let fe_ready = Applied { fe_statefulset: ready(resources.fe_statefulset.clone()), ..applied };
        let input = StatusInput::Reconciled { cluster: &cluster, applied: &fe_ready, database: &database };
        let status = compute_status(None, Some(1), input, at(1));
        assert_eq!(find(&status, CONDITION_PROGRESSING), ("True", "WaitingForFrontend"));
        assert_eq!(status.be.readiness, "0/3");
        Ok(())
    }

    #[test]
    fn invalid_spec_degrades() {
        let status = compute_status(None, Some(4), StatusInput::Invalid { message: "fe.replicas is 2".into() }, at(1));
        assert_eq!(find(&status, CONDITION_DEGRADED), ("True", "InvalidSpec"));
        assert_eq!(find(&status, CONDITION_AVAILABLE), ("False", "InvalidSpec"));
        assert_eq!(status.conditions[2].message, "fe.replicas is 2");
    }
}

//! Server-side apply of [`ClusterResources`] with one field manager. Configuration, Secrets,
//! Services and PDBs go first (concurrently), so a pod never starts without them; StatefulSets go last, FE
//! before BE. BE is applied only once the FE StatefulSet has rolled out and is ready, which
//! makes an image change roll FE first, then BE.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::FIELD_MANAGER;
use crate::build::ClusterResources;
use crate::build::grafana::{dashboard_config_map_names, datasource_secret_name, grafana_api_resources, reader_secret_name};
use crate::observed::{ObservedKind, ObservedObjects};
use crate::validate::ValidatedCluster;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("failed to apply {kind} {name:?}")]
    Apply {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to delete {kind} {name:?}")]
    Delete {
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// What apply did to the StatefulSets.
#[derive(Clone, Debug)]
pub struct Applied {
    pub fe_statefulset: StatefulSet,
    /// The applied BE StatefulSet, or the existing one when BE waits for FE.
    pub be_statefulset: Option<StatefulSet>,
    /// BE was held back because the FE is not rolled out and ready.
    pub be_waiting_for_fe: bool,
}

fn patch_params() -> PatchParams {
    // force: the operator owns these fields; a human's kubectl edit must not block it.
    PatchParams::apply(FIELD_MANAGER).force()
}

async fn apply_object<K>(client: &Client, namespace: &str, object: &K, observed: Option<&ObservedObjects>) -> Result<K, ApplyError>
where
    K: ObservedKind + Serialize,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    // SSA needs apiVersion and kind in the body; k8s-openapi types omit them when serialized
    // plainly, so wrap the object with its type information.
    let mut body = serde_json::to_value(object).map_err(|error| ApplyError::Apply {
        kind: K::kind(&()).into_owned(),
        name: name.clone(),
        source: kube::Error::SerdeError(error),
    })?;
    body["apiVersion"] = K::api_version(&()).into_owned().into();
    body["kind"] = K::kind(&()).into_owned().into();
    if let Some(current) = observed.and_then(|observed| observed.unchanged::<K>(namespace, &name, &body)) {
        return Ok(current);
    }
    let applied = api.patch(&name, &patch_params(), &Patch::Apply(&body)).await.map_err(|source| ApplyError::Apply {
        kind: K::kind(&()).into_owned(),
        name: name.clone(),
        source,
    })?;
    if let Some(observed) = observed {
        observed.record(namespace, &name, &body, &applied);
    }
    Ok(applied)
}

/// Applies everything in order. `current_be` is the BE StatefulSet as it exists now, returned
/// unchanged when BE must wait. With `observed`, objects that would not change are skipped.
pub async fn apply_cluster_resources(
    client: &Client,
    cluster: &ValidatedCluster,
    resources: &ClusterResources,
    observed: Option<&ObservedObjects>,
) -> Result<Applied, ApplyError> {
    let namespace = cluster.namespace.as_str();
    // These do not depend on each other, only the StatefulSets depend on them: applying them
    // concurrently keeps a steady reconcile to about one API round trip for the lot.
    let mut first: Vec<futures::future::BoxFuture<'_, Result<(), ApplyError>>> = Vec::new();
    for config_map in &resources.config_maps {
        first.push(Box::pin(async move { apply_object(client, namespace, config_map, observed).await.map(drop) }));
    }
    for secret in &resources.secrets {
        first.push(Box::pin(async move { apply_object(client, namespace, secret, observed).await.map(drop) }));
    }
    for service in &resources.services {
        first.push(Box::pin(async move { apply_object(client, namespace, service, observed).await.map(drop) }));
    }
    for budget in &resources.pod_disruption_budgets {
        first.push(Box::pin(async move { apply_object(client, namespace, budget, observed).await.map(drop) }));
    }
    for object in &resources.grafana_resources {
        first.push(Box::pin(apply_dynamic(client, namespace, object)));
    }
    first.push(Box::pin(prune_grafana(client, cluster, resources)));
    futures::future::try_join_all(first).await?;

    let fe_statefulset = apply_object(client, namespace, &resources.fe_statefulset, observed).await?;
    if statefulset_ready(&fe_statefulset) {
        let be_statefulset = apply_object(client, namespace, &resources.be_statefulset, observed).await?;
        Ok(Applied { fe_statefulset, be_statefulset: Some(be_statefulset), be_waiting_for_fe: false })
    } else {
        let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
        let name = resources.be_statefulset.metadata.name.clone().unwrap_or_default();
        let current = api.get_opt(&name).await.map_err(|source| ApplyError::Apply {
            kind: "StatefulSet".into(),
            name,
            source,
        })?;
        Ok(Applied { fe_statefulset, be_statefulset: current, be_waiting_for_fe: true })
    }
}

async fn apply_dynamic(client: &Client, namespace: &str, object: &DynamicObject) -> Result<(), ApplyError> {
    let types = object.types.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let Some(resource) = grafana_api_resources().into_iter().find(|resource| resource.kind == types.kind) else {
        return Ok(());
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    api.patch(&name, &patch_params(), &Patch::Apply(object)).await.map_err(|source| ApplyError::Apply {
        kind: types.kind,
        name,
        source,
    })?;
    Ok(())
}

/// Deletes Grafana objects of a form that is no longer wanted (Grafana disabled, or the mode
/// changed). Owner references only clean up when the whole cluster goes.
async fn prune_grafana(client: &Client, cluster: &ValidatedCluster, resources: &ClusterResources) -> Result<(), ApplyError> {
    let namespace = cluster.namespace.as_str();
    let wanted_secret = |name: &str| resources.secrets.iter().any(|secret| secret.metadata.name.as_deref() == Some(name));
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for name in [datasource_secret_name(cluster), reader_secret_name(cluster)] {
        if !wanted_secret(&name) {
            delete_if_present(&secrets, "Secret", &name).await?;
        }
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for name in dashboard_config_map_names(cluster) {
        let wanted = resources.config_maps.iter().any(|config_map| config_map.metadata.name.as_deref() == Some(name.as_str()));
        if !wanted {
            delete_if_present(&config_maps, "ConfigMap", &name).await?;
        }
    }
    let wants_operator_resources = cluster
        .grafana
        .as_ref()
        .is_some_and(|grafana| grafana.mode.operator() && grafana.operator_crds_present);
    let crds_present = cluster.grafana.as_ref().is_some_and(|grafana| grafana.operator_crds_present);
    if crds_present && !wants_operator_resources {
        for resource in grafana_api_resources() {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
            for name in [cluster.name.clone(), format!("{}-health", cluster.name), format!("{}-tables", cluster.name)] {
                delete_if_present(&api, &resource.kind, &name).await?;
            }
        }
    }
    Ok(())
}

async fn delete_if_present<K>(api: &Api<K>, kind: &str, name: &str) -> Result<(), ApplyError>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(ApplyError::Delete { kind: kind.to_owned(), name: name.to_owned(), source }),
    }
}

/// The StatefulSet's controller has seen the latest spec, every pod runs the latest revision,
/// and all are ready.
pub fn statefulset_ready(statefulset: &StatefulSet) -> bool {
    let desired = statefulset.spec.as_ref().and_then(|spec| spec.replicas).unwrap_or(1);
    let Some(status) = &statefulset.status else { return false };
    let observed = status.observed_generation.unwrap_or(0) >= statefulset.metadata.generation.unwrap_or(0);
    let revision_current = match (&status.current_revision, &status.update_revision) {
        (Some(current), Some(update)) => current == update,
        _ => true,
    };
    observed
        && revision_current
        && status.replicas == desired
        && status.updated_replicas.unwrap_or(0) == desired
        && status.ready_replicas.unwrap_or(0) == desired
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn statefulset(generation: i64, observed: i64, ready: i32, updated: i32, revisions: (&str, &str)) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta { generation: Some(generation), ..ObjectMeta::default() },
            spec: Some(k8s_openapi::api::apps::v1::StatefulSetSpec { replicas: Some(3), ..Default::default() }),
            status: Some(StatefulSetStatus {
                observed_generation: Some(observed),
                replicas: 3,
                ready_replicas: Some(ready),
                updated_replicas: Some(updated),
                current_revision: Some(revisions.0.to_owned()),
                update_revision: Some(revisions.1.to_owned()),
                ..StatefulSetStatus::default()
            }),
        }
    }

    #[test]
    fn readiness_needs_a_finished_rollout() {
        assert!(statefulset_ready(&statefulset(2, 2, 3, 3, ("a", "a"))));
        assert!(!statefulset_ready(&statefulset(3, 2, 3, 3, ("a", "a"))), "spec not yet observed");
        assert!(!statefulset_ready(&statefulset(2, 2, 3, 1, ("a", "b"))), "rollout in progress");
        assert!(!statefulset_ready(&statefulset(2, 2, 2, 3, ("b", "b"))), "a pod not ready");
        assert!(!statefulset_ready(&StatefulSet::default()), "no status yet");
    }
}

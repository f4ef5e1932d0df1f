//! Pure construction of every Kubernetes object a [`ValidatedCluster`] needs. Nothing here
//! touches the API; [`crate::apply`] applies the result. One file per kind, builders named
//! `build_<role>_<kind>`.

pub mod config_map;
pub mod grafana;
pub mod pdb;
pub mod secret;
pub mod service;
pub mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::DynamicObject;

use crate::validate::{Role, ValidatedCluster};

/// Pod template annotation holding the hash of the rendered configuration: a change of
/// configuration changes the template and so rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "starrocks.cairn.dev/config-hash";

/// Every object of one cluster, in the order they are applied (StatefulSets last, FE first).
#[derive(Clone, Debug)]
pub struct ClusterResources {
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    pub services: Vec<Service>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    /// grafana-operator custom resources; empty unless its CRDs exist.
    pub grafana_resources: Vec<DynamicObject>,
    pub fe_statefulset: StatefulSet,
    pub be_statefulset: StatefulSet,
}

/// Builds everything for `cluster`.
pub fn build_cluster_resources(cluster: &ValidatedCluster) -> ClusterResources {
    let fe_config = config_map::render_config(cluster, Role::Fe);
    let be_config = config_map::render_config(cluster, Role::Be);
    let mut config_maps = vec![
        config_map::build_fe_config_map(cluster, &fe_config),
        config_map::build_be_config_map(cluster, &be_config),
    ];
    let mut secrets = Vec::new();
    if cluster.admin.create_secret {
        secrets.push(secret::build_admin_secret(cluster));
    }
    let mut grafana_resources = Vec::new();
    if let Some(grafana) = &cluster.grafana {
        if grafana.mode.sidecar() {
            secrets.push(grafana::build_grafana_datasource_secret(cluster, grafana));
            config_maps.extend(grafana::build_grafana_dashboard_config_maps(cluster, grafana));
        }
        if grafana.mode.operator() {
            secrets.push(grafana::build_grafana_reader_secret(cluster, grafana));
            if grafana.operator_crds_present {
                grafana_resources = grafana::build_grafana_operator_resources(cluster, grafana);
            }
        }
    }
    ClusterResources {
        config_maps,
        secrets,
        services: vec![
            service::build_fe_headless_service(cluster),
            service::build_fe_service(cluster),
            service::build_be_headless_service(cluster),
            service::build_be_service(cluster),
        ],
        pod_disruption_budgets: vec![pdb::build_fe_pdb(cluster), pdb::build_be_pdb(cluster)],
        grafana_resources,
        fe_statefulset: statefulset::build_fe_statefulset(cluster, &config_hash(&fe_config)),
        be_statefulset: statefulset::build_be_statefulset(cluster, &config_hash(&be_config)),
    }
}

/// Hex SHA-256 of the rendered configuration.
pub fn config_hash(rendered: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(rendered.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Labels that select a component's pods. Never change these: a StatefulSet selector is
/// immutable.
pub fn selector_labels(cluster: &ValidatedCluster, role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "cairn".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), cluster.name.clone()),
        ("app.kubernetes.io/component".to_owned(), role.as_str().to_owned()),
    ])
}

/// Labels of every object the operator creates for a component.
pub fn component_labels(cluster: &ValidatedCluster, role: Role) -> BTreeMap<String, String> {
    let mut labels = selector_labels(cluster, role);
    labels.insert("app.kubernetes.io/managed-by".to_owned(), crate::FIELD_MANAGER.to_owned());
    labels
}

/// Labels of cluster-wide objects (admin Secret, Grafana objects).
pub fn cluster_labels(cluster: &ValidatedCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "cairn".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), cluster.name.clone()),
        ("app.kubernetes.io/managed-by".to_owned(), crate::FIELD_MANAGER.to_owned()),
    ])
}

/// Metadata with name, namespace, labels and the controller owner reference, so Kubernetes
/// garbage-collects the object with the cluster.
pub fn object_meta(cluster: &ValidatedCluster, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(cluster.namespace.clone()),
        labels: Some(labels),
        owner_references: Some(vec![cluster.owner_reference.clone()]),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    fn names<T: kube::Resource>(objects: &[T]) -> Vec<String> {
        objects.iter().map(|object| object.meta().name.clone().unwrap_or_default()).collect()
    }

    #[test]
    fn full_cluster_builds_every_object() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let resources = build_cluster_resources(&cluster);
        assert_eq!(
            names(&resources.config_maps),
            ["demo-fe-config", "demo-be-config", "demo-grafana-dashboard-health", "demo-grafana-dashboard-tables"]
        );
        assert_eq!(
            names(&resources.secrets),
            ["demo-admin", "demo-grafana-datasource", "demo-grafana-reader"]
        );
        assert_eq!(names(&resources.services), ["demo-fe-search", "demo-fe", "demo-be-search", "demo-be"]);
        assert_eq!(names(&resources.pod_disruption_budgets), ["demo-fe", "demo-be"]);
        let kinds: Vec<(String, String)> = resources
            .grafana_resources
            .iter()
            .map(|object| {
                let kind = object.types.as_ref().map(|types| types.kind.clone()).unwrap_or_default();
                (kind, object.metadata.name.clone().unwrap_or_default())
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("GrafanaDatasource".to_owned(), "demo".to_owned()),
                ("GrafanaDashboard".to_owned(), "demo-health".to_owned()),
                ("GrafanaDashboard".to_owned(), "demo-tables".to_owned()),
            ]
        );
        Ok(())
    }

    #[test]
    fn grafana_operator_resources_need_the_crds() -> anyhow::Result<()> {
        let mut dereferenced = sample_dereferenced();
        dereferenced.grafana_operator_crds_present = false;
        dereferenced.admin_password = Some("existing".into());
        let cluster = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        let resources = build_cluster_resources(&cluster);
        assert!(resources.grafana_resources.is_empty());
        // The admin Secret exists already, so it is not rebuilt (which would change it).
        assert_eq!(names(&resources.secrets), ["demo-grafana-datasource", "demo-grafana-reader"]);
        Ok(())
    }

    #[test]
    fn config_change_changes_only_that_component_hash() -> anyhow::Result<()> {
        let before = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let changed_spec = FULL_SPEC.replace("mem_limit: \"80%\"", "mem_limit: \"70%\"");
        let after = validate(&sample_cluster(&changed_spec), &sample_dereferenced())?;
        let hash = |statefulset: &StatefulSet| {
            statefulset
                .spec
                .as_ref()
                .and_then(|spec| spec.template.metadata.as_ref())
                .and_then(|metadata| metadata.annotations.as_ref())
                .and_then(|annotations| annotations.get(CONFIG_HASH_ANNOTATION).cloned())
        };
        let before = build_cluster_resources(&before);
        let after = build_cluster_resources(&after);
        assert!(hash(&before.be_statefulset).is_some());
        assert_ne!(hash(&before.be_statefulset), hash(&after.be_statefulset));
        assert_eq!(hash(&before.fe_statefulset), hash(&after.fe_statefulset));
        Ok(())
    }
}

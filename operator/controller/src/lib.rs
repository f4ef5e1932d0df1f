//! The Cairn operator: a kube-rs controller that runs `StarRocksCluster` resources
//! (`starrocks.cairn.dev/v1alpha1`, types in `cairn-operator-types`).
//!
//! Each reconcile is a straight pipeline: [`dereference`] reads what the cluster refers to,
//! [`validate`] turns the spec into a [`validate::ValidatedCluster`], [`build`] derives every
//! Kubernetes object from it without touching the API, [`apply`] server-side applies them with
//! StatefulSets last, [`database`] talks to the FE over MySQL (port 9030) for backends, Routine
//! Load jobs and the Grafana user, and [`status`] writes conditions. The entry point is
//! [`controller::run`]; [`leader`] keeps two replicas safe through a Lease.

pub mod apply;
pub mod build;
pub mod controller;
pub mod database;
pub mod dereference;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod observed;
pub mod status;
pub mod telemetry;
pub mod validate;

/// Server-side apply field manager, and the `app.kubernetes.io/managed-by` label value.
pub const FIELD_MANAGER: &str = "cairn-operator";

/// The CustomResourceDefinition of `StarRocksCluster` as YAML, exactly as `crds/` holds it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    use cairn_operator_types::CustomResourceExt;
    serde_yaml::to_string(&cairn_operator_types::StarRocksCluster::crd())
}

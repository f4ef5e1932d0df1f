//! The `StarRocksCluster` custom resource (`starrocks.cairn.dev/v1alpha1`): its spec, status and
//! the schema the API server validates it with. This crate holds types only (serde, schemars and
//! kube's derive), so that the operator, CRD generation and the end-to-end tests share them.
//! The entry point is [`StarRocksCluster`]; [`StarRocksCluster::crd`] (from
//! [`kube::CustomResourceExt`]) yields the CustomResourceDefinition.
//!
//! Admission-time validation is written as schema constraints and CEL rules with messages a user
//! can act on; the operator's own validate step repeats the checks that matter, because a cluster
//! may run an older copy of the CRD.

// kube's `KubeSchema` derive re-declares each struct inside a generated function to read its
// schema, and the lint flags those private copies; every item here is meant to be public.
#![allow(unreachable_pub)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements,
    SecurityContext, Toleration, TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use kube::CustomResourceExt;

/// API group of every Cairn custom resource.
pub const GROUP: &str = "starrocks.cairn.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";

/// Condition type: the cluster answers queries (FE ready and at least one BE alive).
pub const CONDITION_AVAILABLE: &str = "Available";
/// Condition type: the operator is moving the cluster towards its spec.
pub const CONDITION_PROGRESSING: &str = "Progressing";
/// Condition type: something needs a human (invalid spec, refused scale-in, failing FE).
pub const CONDITION_DEGRADED: &str = "Degraded";

/// Desired state of a Cairn (StarRocks-compatible) cluster: FE and BE components, Kafka ingest
/// jobs, Grafana wiring and the admin credentials.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
// Each printcolumn repeats `type_`; clippy reads the repeats as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[kube(
    group = "starrocks.cairn.dev",
    version = "v1alpha1",
    kind = "StarRocksCluster",
    namespaced,
    shortname = "src",
    status = "StarRocksClusterStatus",
    scale(
        spec_replicas_path = ".spec.be.replicas",
        status_replicas_path = ".status.be.replicas",
        label_selector_path = ".status.be.selector"
    ),
    printcolumn(name = "FE", type_ = "string", json_path = ".status.fe.readiness"),
    printcolumn(name = "BE", type_ = "string", json_path = ".status.be.readiness"),
    printcolumn(
        name = "Available",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Available\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct StarRocksClusterSpec {
    /// The frontends: metadata, SQL parsing and planning, the MySQL endpoint.
    pub fe: FeSpec,
    /// The backends: storage and query execution.
    pub be: BeSpec,
    /// Root user credentials.
    #[serde(default)]
    pub admin: AdminSpec,
    /// Kafka topics loaded continuously as Routine Load jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(validation = Rule::new("self.all(job, self.exists_one(other, other.name == job.name))").message("kafkaIngest job names must be unique"))]
    #[schemars(length(max = 64))]
    pub kafka_ingest: Vec<KafkaIngestJob>,
    /// Grafana data source and dashboards.
    #[serde(default)]
    pub grafana: GrafanaSpec,
    /// What happens to the data and log PVCs when the cluster is deleted or BE is scaled in.
    #[serde(default)]
    pub pvc_retention_policy: PvcRetentionPolicy,
}

/// Frontend component. FE runs a quorum, so only 1, 3 or 5 replicas make sense.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FeSpec {
    /// Number of FE pods: 1, 3 or 5.
    #[x_kube(validation = Rule::new("self == 1 || self == 3 || self == 5").message("fe.replicas must be 1, 3 or 5 (an FE quorum needs an odd count)"))]
    pub replicas: i32,
    #[serde(flatten)]
    pub component: ComponentSpec,
}

/// Backend component.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BeSpec {
    /// Number of BE pods, at least 1. Scaling in goes through decommission in the FE.
    #[x_kube(validation = Rule::new("self >= 1").message("be.replicas must be at least 1"))]
    pub replicas: i32,
    #[serde(flatten)]
    pub component: ComponentSpec,
}

/// Settings shared by FE and BE.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Container image running the `cairn` binary.
    #[x_kube(validation = Rule::new("self.trim() != ''").message("image must not be empty"))]
    #[schemars(length(max = 512))]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "preserve_unknown_list")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Annotations added to every pod of the component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
    /// Labels added to every pod of the component (the operator's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Extra pod volumes, mounted through `extraVolumeMounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "preserve_unknown_list")]
    pub extra_volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_volume_mounts: Vec<VolumeMount>,
    /// Data and log volumes.
    #[serde(default)]
    pub storage: StorageSpec,
    /// The component's Service.
    #[serde(default)]
    pub service: ServiceSpec,
    /// Lines of `fe.conf` / `be.conf`, `key = value`. Ports and directories the operator
    /// manages are set by it and cannot be overridden here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub probes: ProbeTimings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,
    /// Pod security context. When absent the pod runs as a non-root user (uid/gid 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContext>,
    /// Container security context. When absent: non-root, no privilege escalation, all
    /// capabilities dropped, read-only root filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}

/// The container image pull policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    /// The value Kubernetes expects in a container spec.
    pub fn as_str(self) -> &'static str {
        match self {
            ImagePullPolicy::Always => "Always",
            ImagePullPolicy::IfNotPresent => "IfNotPresent",
            ImagePullPolicy::Never => "Never",
        }
    }
}

/// Persistent volumes of a component.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Metadata (FE) or tablet (BE) storage.
    #[serde(default = "default_data_volume")]
    pub data: VolumeClaim,
    /// Log directory. When absent logs go to an emptyDir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<VolumeClaim>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        StorageSpec { data: default_data_volume(), log: None }
    }
}

fn default_data_volume() -> VolumeClaim {
    VolumeClaim { storage_class_name: None, size: "10Gi".to_owned() }
}

/// One PersistentVolumeClaim template.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeClaim {
    /// StorageClass name; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Requested size as a Kubernetes quantity, for example `20Gi`.
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("storage size must be a positive Kubernetes quantity such as 10Gi"))]
    #[schemars(length(max = 64))]
    pub size: String,
}

/// The Service in front of a component.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(default, rename = "type")]
    pub service_type: ServiceType,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service type.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    /// The value Kubernetes expects in a Service spec.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// Probe timings for the `/api/health` probes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeTimings {
    #[serde(default = "default_probe_period")]
    #[schemars(range(min = 1))]
    pub period_seconds: i32,
    #[serde(default = "default_probe_timeout")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: i32,
    #[serde(default = "default_probe_failure_threshold")]
    #[schemars(range(min = 1))]
    pub failure_threshold: i32,
    /// Startup probe failures tolerated; with periodSeconds this bounds start-up time (FE replays
    /// its journal at start).
    #[serde(default = "default_startup_failure_threshold")]
    #[schemars(range(min = 1))]
    pub startup_failure_threshold: i32,
}

impl Default for ProbeTimings {
    fn default() -> Self {
        ProbeTimings {
            period_seconds: default_probe_period(),
            timeout_seconds: default_probe_timeout(),
            failure_threshold: default_probe_failure_threshold(),
            startup_failure_threshold: default_startup_failure_threshold(),
        }
    }
}

fn default_probe_period() -> i32 {
    5
}
fn default_probe_timeout() -> i32 {
    3
}
fn default_probe_failure_threshold() -> i32 {
    3
}
fn default_startup_failure_threshold() -> i32 {
    60
}

/// Root credentials.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdminSpec {
    /// Secret holding the root password. Defaults to `<cluster>-admin`, key `password`; the
    /// operator creates it with a random password when it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretKeySelector>,
}

/// A key in a Secret of the cluster's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[serde(default = "default_password_key")]
    pub key: String,
}

fn default_password_key() -> String {
    "password".to_owned()
}

/// One Kafka topic loaded into one table by a Routine Load job.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.format != 'json' || !has(self.columnSeparator)").message("columnSeparator applies to csv jobs only"))]
pub struct KafkaIngestJob {
    /// Routine Load job name, unique in the cluster.
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z][A-Za-z0-9_]*$')").message("job name must start with a letter and hold only letters, digits and underscores"))]
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Target table as `database.table`.
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z_][A-Za-z0-9_]*[.][A-Za-z_][A-Za-z0-9_]*$')").message("table must be written database.table"))]
    #[schemars(length(max = 129))]
    pub table: String,
    pub topic: String,
    pub source: KafkaSource,
    #[serde(default)]
    pub format: IngestFormat,
    /// Column mapping (`COLUMNS (...)`), in the order of the CSV fields or jsonpaths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// JSON paths, one per column, for json jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jsonpaths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_separator: Option<String>,
    /// Routine Load job properties (desired_concurrent_number, max_batch_interval,
    /// max_error_number, strict_mode, timezone, ...), passed through to `PROPERTIES (...)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// Extra Kafka client properties, passed as `property.<key>` in `FROM KAFKA (...)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kafka_properties: BTreeMap<String, String>,
}

/// Where a job reads from: a broker list or a Strimzi `Kafka`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.brokers) != has(self.strimzi)").message("set exactly one of source.brokers and source.strimzi"))]
pub struct KafkaSource {
    /// `host:port` bootstrap brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers: Option<Vec<String>>,
    /// A Strimzi `Kafka` resource; its bootstrap Service `<name>-kafka-bootstrap` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strimzi: Option<StrimziKafkaReference>,
    /// SASL credentials from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<KafkaCredentials>,
}

/// A Strimzi `Kafka` custom resource.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StrimziKafkaReference {
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Namespace of the Kafka; the cluster's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Bootstrap port; 9092 is Strimzi's plain listener.
    #[serde(default = "default_strimzi_port")]
    pub port: i32,
}

fn default_strimzi_port() -> i32 {
    9092
}

/// SASL credentials for a Kafka source.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaCredentials {
    /// Secret in the cluster's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    #[serde(default = "default_username_key")]
    pub username_key: String,
    #[serde(default = "default_password_key")]
    pub password_key: String,
    #[serde(default = "default_sasl_mechanism")]
    pub sasl_mechanism: String,
    #[serde(default = "default_security_protocol")]
    pub security_protocol: String,
}

fn default_username_key() -> String {
    "username".to_owned()
}
fn default_sasl_mechanism() -> String {
    "SCRAM-SHA-512".to_owned()
}
fn default_security_protocol() -> String {
    "SASL_PLAINTEXT".to_owned()
}

/// Message format of a Kafka topic.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum IngestFormat {
    #[default]
    Csv,
    Json,
}

/// Grafana wiring.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Which objects to publish.
    #[serde(default)]
    pub mode: GrafanaMode,
    /// Selects the Grafana instances of grafana-operator (`spec.instanceSelector`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_selector: Option<LabelSelector>,
    /// Tables (`database.table`) shown on the tables dashboard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
}

/// How Grafana finds the data source and dashboards.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GrafanaMode {
    /// A Secret and ConfigMaps labelled for the Grafana Helm chart's sidecar.
    #[default]
    Sidecar,
    /// GrafanaDatasource/GrafanaDashboard custom resources of grafana-operator.
    Operator,
    Both,
}

impl GrafanaMode {
    pub fn sidecar(self) -> bool {
        matches!(self, GrafanaMode::Sidecar | GrafanaMode::Both)
    }
    pub fn operator(self) -> bool {
        matches!(self, GrafanaMode::Operator | GrafanaMode::Both)
    }
}

/// Mirrors the StatefulSet PVC retention policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PvcRetentionPolicy {
    /// On cluster deletion. `Retain` keeps data for a later cluster of the same name, and
    /// keeps a generated admin Secret with it, since the retained FE metadata holds that
    /// root password.
    #[serde(default)]
    pub when_deleted: PvcRetention,
    /// On BE scale-in, after decommission.
    #[serde(default)]
    pub when_scaled: PvcRetention,
}

/// Retain or Delete.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PvcRetention {
    #[default]
    Retain,
    Delete,
}

impl PvcRetention {
    pub fn as_str(self) -> &'static str {
        match self {
            PvcRetention::Retain => "Retain",
            PvcRetention::Delete => "Delete",
        }
    }
}

/// Observed state, written by the operator only.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct StarRocksClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Available, Progressing and Degraded.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub fe: ComponentStatus,
    #[serde(default)]
    pub be: ComponentStatus,
    /// What the FE reports about backends; absent while the FE is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backends: Option<BackendsStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kafka_ingest: Vec<KafkaJobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<GrafanaStatus>,
}

/// Replica counts of one StatefulSet.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub replicas: i32,
    pub ready_replicas: i32,
    pub updated_replicas: i32,
    /// `ready/desired`, for `kubectl get`.
    #[serde(default)]
    pub readiness: String,
    /// Label selector of the pods, for the scale subresource.
    #[serde(default)]
    pub selector: String,
    /// The image the StatefulSet runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Backends as `SHOW BACKENDS` reports them.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackendsStatus {
    pub total: i32,
    pub alive: i32,
    pub decommissioning: i32,
    pub tablets: i64,
}

/// State of one Routine Load job.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KafkaJobStatus {
    pub name: String,
    /// RUNNING, PAUSED, NEED_SCHEDULE, STOPPED, CANCELLED, or Pending before creation.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
    /// Fingerprint of the statement the job was created with; a different one means the spec
    /// changed and the job is re-created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Database holding the job, so a job removed from the spec can still be stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Which Grafana objects exist.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaStatus {
    /// Name of the sidecar data source Secret, when published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dashboard_config_maps: Vec<String>,
    /// Whether grafana-operator custom resources were published.
    pub operator_resources: bool,
    /// Whether the read-only SQL user exists in the FE.
    pub read_only_user: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // Affinity's full schema is large; the API server validates it again on the pods anyway.
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

fn preserve_unknown_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    // Volume and TopologySpreadConstraint schemas are large (every volume source); the
    // API server validates them again on the StatefulSet, which is where errors surface.
    schemars::json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

impl StarRocksCluster {
    /// Name of the root-password Secret this cluster uses.
    pub fn admin_secret(&self) -> SecretKeySelector {
        self.spec.admin.password_secret.clone().unwrap_or_else(|| SecretKeySelector {
            name: format!("{}-admin", self.metadata.name.as_deref().unwrap_or("cluster")),
            key: default_password_key(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal_yaml() -> &'static str {
        r#"
apiVersion: starrocks.cairn.dev/v1alpha1
kind: StarRocksCluster
metadata: {name: demo, namespace: analytics}
spec:
  fe: {replicas: 1, image: "cairn:0.1"}
  be: {replicas: 3, image: "cairn:0.1"}
"#
    }

    #[test]
    fn minimal_cluster_gets_defaults() -> anyhow::Result<()> {
        let cluster: StarRocksCluster = serde_yaml::from_str(minimal_yaml())?;
        assert_eq!(cluster.spec.be.replicas, 3);
        assert_eq!(cluster.spec.be.component.image, "cairn:0.1");
        assert_eq!(cluster.spec.fe.component.storage.data.size, "10Gi");
        assert_eq!(cluster.spec.fe.component.probes.period_seconds, 5);
        assert_eq!(cluster.spec.pvc_retention_policy.when_deleted, PvcRetention::Retain);
        assert!(!cluster.spec.grafana.enabled);
        assert_eq!(cluster.admin_secret().name, "demo-admin");
        assert_eq!(cluster.admin_secret().key, "password");
        Ok(())
    }

    #[test]
    fn crd_carries_identity_subresources_and_rules() -> anyhow::Result<()> {
        let crd = StarRocksCluster::crd();
        assert_eq!(crd.spec.group, "starrocks.cairn.dev");
        assert_eq!(crd.spec.names.kind, "StarRocksCluster");
        assert_eq!(crd.spec.names.short_names, Some(vec!["src".to_owned()]));
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        let subresources = version.subresources.as_ref().ok_or(anyhow::anyhow!("no subresources"))?;
        assert!(subresources.status.is_some());
        let scale = subresources.scale.as_ref().ok_or(anyhow::anyhow!("no scale"))?;
        assert_eq!(scale.spec_replicas_path, ".spec.be.replicas");
        assert_eq!(scale.status_replicas_path, ".status.be.replicas");
        let text = serde_json::to_string(&crd)?;
        assert!(text.contains("fe.replicas must be 1, 3 or 5"));
        assert!(text.contains("storage size must be a positive Kubernetes quantity"));
        assert!(text.contains("image must not be empty"));
        Ok(())
    }
}

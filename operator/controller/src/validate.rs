//! Turns a `StarRocksCluster` plus what [`crate::dereference`] read into a
//! [`ValidatedCluster`]. No later step reads the raw spec: everything it needs is resolved here
//! (names, the admin password, Kafka brokers and credentials, the effective BE replica count).

use std::collections::BTreeMap;
use std::fmt;

use cairn_operator_types::{
    ComponentSpec, GrafanaMode, IngestFormat, KafkaIngestJob, PvcRetentionPolicy,
    StarRocksCluster,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::Resource;

use crate::dereference::{Dereferenced, FrontendBackends};

/// Configuration keys the operator sets itself; users may not override them because the
/// Services, probes and volume mounts depend on them.
pub const MANAGED_FE_KEYS: &[&str] =
    &["http_port", "rpc_port", "query_port", "edit_log_port", "meta_dir", "sys_log_dir"];
/// See [`MANAGED_FE_KEYS`].
pub const MANAGED_BE_KEYS: &[&str] = &[
    "be_port",
    "webserver_port",
    "heartbeat_service_port",
    "brpc_port",
    "storage_root_path",
    "sys_log_dir",
];

/// User name of the read-only SQL user that Grafana queries with.
pub const GRAFANA_USER: &str = "grafana_reader";

/// FE or BE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Fe,
    Be,
}

impl Role {
    /// `fe` or `be`: the `cairn` subcommand, the component label and the name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Fe => "fe",
            Role::Be => "be",
        }
    }

    /// The port `/api/health` and `/metrics` answer on.
    pub fn http_port(self) -> i32 {
        match self {
            Role::Fe => 8030,
            Role::Be => 8040,
        }
    }

    /// Directory of the data volume inside the container.
    pub fn data_dir(self) -> &'static str {
        match self {
            Role::Fe => "/opt/cairn/fe/meta",
            Role::Be => "/opt/cairn/be/storage",
        }
    }

    /// Directory of the log volume inside the container.
    pub fn log_dir(self) -> &'static str {
        match self {
            Role::Fe => "/opt/cairn/fe/log",
            Role::Be => "/opt/cairn/be/log",
        }
    }

    /// Name of the rendered configuration file.
    pub fn config_file(self) -> &'static str {
        match self {
            Role::Fe => "fe.conf",
            Role::Be => "be.conf",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a spec cannot be run. Messages name the field so the status condition is actionable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ValidationError {
    #[error("the cluster has no {0} in its metadata")]
    MissingMetadata(&'static str),
    #[error("fe.replicas is {0}; it must be 1, 3 or 5 (an FE quorum needs an odd count)")]
    FeReplicas(i32),
    #[error("be.replicas is {0}; it must be at least 1")]
    BeReplicas(i32),
    #[error("{role}.image is empty; set the image that runs the cairn binary")]
    EmptyImage { role: Role },
    #[error("{role}.storage.{volume}.size {size:?} is not a positive Kubernetes quantity such as 10Gi")]
    StorageSize { role: Role, volume: &'static str, size: String },
    #[error("{role}.config sets {key:?}, which the operator manages")]
    ManagedConfigKey { role: Role, key: String },
    #[error("{role}.config key {key:?} holds a line break or '='")]
    MalformedConfigKey { role: Role, key: String },
    #[error("kafkaIngest job name {0:?} is used twice")]
    DuplicateJob(String),
    #[error("kafkaIngest job name {0:?} must start with a letter and hold only letters, digits and underscores")]
    JobName(String),
    #[error("kafkaIngest job {job:?}: table {table:?} must be written database.table")]
    JobTable { job: String, table: String },
    #[error("kafkaIngest job {0:?}: set exactly one of source.brokers and source.strimzi")]
    JobSource(String),
    #[error("kafkaIngest job {0:?}: topic is empty")]
    JobTopic(String),
    #[error("kafkaIngest job {job:?}: Secret {secret:?} with keys {username_key:?} and {password_key:?} was not found")]
    JobCredentials { job: String, secret: String, username_key: String, password_key: String },
    #[error("grafana.tables entry {0:?} must be written database.table")]
    GrafanaTable(String),
}

/// Every problem found in one spec, reported together.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<ValidationError>);

/// One validated component.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedComponent {
    pub role: Role,
    /// Replicas the StatefulSet gets. For BE this is the current count when a scale-in was
    /// refused.
    pub replicas: i32,
    pub spec: ComponentSpec,
}

/// A BE scale-in under way: the user asked for `to` replicas and the StatefulSet has `from`.
/// The StatefulSet shrinks only once the FE reports the leaving backends decommissioned and
/// empty, so no tablet replica goes with a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleIn {
    pub from: i32,
    pub to: i32,
    pub phase: ScaleInPhase,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScaleInPhase {
    /// These leaving backends (`host:heartbeat_port`) still hold replicas or are not yet
    /// decommissioned; the StatefulSet keeps `from` and the database step decommissions them.
    Decommissioning { pending: Vec<String> },
    /// The FE could not be asked; the StatefulSet keeps `from` until it answers.
    WaitingForFrontend { error: String },
    /// Every leaving backend is decommissioned and empty (or was never registered): the
    /// StatefulSet shrinks to `to`, then the database step drops them.
    Shrinking,
}

/// The root password and where it lives.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminCredentials {
    pub secret_name: String,
    pub key: String,
    pub password: String,
    /// The Secret does not exist yet; the operator creates it with `password`.
    pub create_secret: bool,
}

/// A Routine Load job with its source resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedKafkaJob {
    pub name: String,
    pub database: String,
    pub table: String,
    pub topic: String,
    /// Comma-separated `host:port` list.
    pub brokers: String,
    pub format: IngestFormat,
    pub columns: Vec<String>,
    pub jsonpaths: Vec<String>,
    pub column_separator: Option<String>,
    pub properties: BTreeMap<String, String>,
    /// `property.*` entries of `FROM KAFKA`, credentials included.
    pub kafka_properties: BTreeMap<String, String>,
}

/// Grafana wiring, when enabled.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedGrafana {
    pub mode: GrafanaMode,
    pub instance_selector: Option<LabelSelector>,
    /// `(database, table)` pairs.
    pub tables: Vec<(String, String)>,
    /// Password of [`GRAFANA_USER`], derived from the admin password so it is stable across
    /// reconciles without stored state.
    pub password: String,
    /// Whether grafana-operator's CRDs exist in the cluster.
    pub operator_crds_present: bool,
}

/// Everything the later pipeline steps need, resolved and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedCluster {
    pub name: String,
    pub namespace: String,
    pub generation: Option<i64>,
    pub owner_reference: OwnerReference,
    pub fe: ValidatedComponent,
    pub be: ValidatedComponent,
    pub admin: AdminCredentials,
    pub kafka_jobs: Vec<ValidatedKafkaJob>,
    pub grafana: Option<ValidatedGrafana>,
    pub pvc_retention_policy: PvcRetentionPolicy,
    pub scale_in: Option<ScaleIn>,
}

impl ValidatedCluster {
    /// Name of a component's StatefulSet, client Service, PDB and pod prefix.
    pub fn component_name(&self, role: Role) -> String {
        format!("{}-{}", self.name, role)
    }

    /// Name of a component's headless Service, which gives pods stable DNS names.
    pub fn headless_service_name(&self, role: Role) -> String {
        format!("{}-{}-search", self.name, role)
    }

    /// Name of a component's configuration ConfigMap.
    pub fn config_map_name(&self, role: Role) -> String {
        format!("{}-{}-config", self.name, role)
    }

    /// Stable DNS name of one pod.
    pub fn pod_host(&self, role: Role, ordinal: i32) -> String {
        format!(
            "{}-{}.{}.{}.svc.cluster.local",
            self.component_name(role),
            ordinal,
            self.headless_service_name(role),
            self.namespace
        )
    }

    /// The BE ordinal of a backend host this cluster registered, if it is one.
    pub fn be_ordinal(&self, host: &str) -> Option<i32> {
        let prefix = format!("{}-", self.component_name(Role::Be));
        let suffix = format!(".{}.{}.svc.cluster.local", self.headless_service_name(Role::Be), self.namespace);
        let ordinal = host.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
        if ordinal.is_empty() || !ordinal.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        ordinal.parse().ok()
    }

    /// The FE client Service address that clients (and the operator) connect to.
    pub fn fe_service_host(&self) -> String {
        fe_service_host(&self.name, &self.namespace)
    }

    pub fn component(&self, role: Role) -> &ValidatedComponent {
        match role {
            Role::Fe => &self.fe,
            Role::Be => &self.be,
        }
    }
}

/// The FE client Service address of cluster `name` in `namespace`, for the steps that talk to
/// the FE before a spec is validated (dereference) or after it is gone (cleanup).
pub fn fe_service_host(name: &str, namespace: &str) -> String {
    format!("{name}-{}.{namespace}.svc", Role::Fe)
}

/// Checks the spec and resolves references. Collects every error rather than stopping at the
/// first, so one status update tells the user everything to fix.
pub fn validate(
    cluster: &StarRocksCluster,
    dereferenced: &Dereferenced,
) -> Result<ValidatedCluster, ValidationErrors> {
    let mut errors = Vec::new();
    let name = cluster.metadata.name.clone();
    let namespace = cluster.metadata.namespace.clone();
    let owner_reference = cluster.controller_owner_ref(&());
    let (Some(name), Some(namespace), Some(owner_reference)) = (name, namespace, owner_reference)
    else {
        return Err(ValidationErrors(vec![ValidationError::MissingMetadata(
            "name, namespace or uid",
        )]));
    };
    let spec = &cluster.spec;

    if ![1, 3, 5].contains(&spec.fe.replicas) {
        errors.push(ValidationError::FeReplicas(spec.fe.replicas));
    }
    if spec.be.replicas < 1 {
        errors.push(ValidationError::BeReplicas(spec.be.replicas));
    }
    check_component(Role::Fe, &spec.fe.component, &mut errors);
    check_component(Role::Be, &spec.be.component, &mut errors);

    let kafka_jobs = validate_kafka_jobs(&spec.kafka_ingest, &namespace, dereferenced, &mut errors);

    let secret = cluster.admin_secret();
    let (password, create_secret) = match &dereferenced.admin_password {
        Some(password) => (password.clone(), false),
        None => (dereferenced.generated_password.clone(), true),
    };
    let admin = AdminCredentials { secret_name: secret.name, key: secret.key, password, create_secret };

    let grafana = if spec.grafana.enabled {
        let mut tables = Vec::new();
        for entry in &spec.grafana.tables {
            match split_table(entry) {
                Some(pair) => tables.push(pair),
                None => errors.push(ValidationError::GrafanaTable(entry.clone())),
            }
        }
        Some(ValidatedGrafana {
            mode: spec.grafana.mode,
            instance_selector: spec.grafana.instance_selector.clone(),
            tables,
            password: derive_grafana_password(&admin.password),
            operator_crds_present: dereferenced.grafana_operator_crds_present,
        })
    } else {
        None
    };

    if !errors.is_empty() {
        return Err(ValidationErrors(errors));
    }


    let mut validated = ValidatedCluster {
        name,
        namespace,
        generation: cluster.metadata.generation,
        owner_reference,
        fe: ValidatedComponent {
            role: Role::Fe,
            replicas: spec.fe.replicas,
            spec: spec.fe.component.clone(),
        },
        be: ValidatedComponent {
            role: Role::Be,
            replicas: spec.be.replicas,
            spec: spec.be.component.clone(),
        },
        admin,
        kafka_jobs,
        grafana,
        pvc_retention_policy: spec.pvc_retention_policy,
        scale_in: None,
    };
    if let Some(current) = dereferenced.current_be_replicas.filter(|current| spec.be.replicas < *current) {
        let scale_in = plan_scale_in(&validated, current, spec.be.replicas, dereferenced.frontend_backends.as_ref());
        if scale_in.phase != ScaleInPhase::Shrinking {
            validated.be.replicas = current;
        }
        validated.scale_in = Some(scale_in);
    }
    Ok(validated)
}

/// Scale-in loses data unless the FE first decommissions the highest BE ordinals and moves
/// their replicas away, so the StatefulSet shrinks only once the FE reports them empty.
fn plan_scale_in(cluster: &ValidatedCluster, from: i32, to: i32, frontend: Option<&FrontendBackends>) -> ScaleIn {
    let phase = match frontend {
        None => ScaleInPhase::WaitingForFrontend { error: "the FE was not asked".into() },
        Some(FrontendBackends::Unreachable(error)) => ScaleInPhase::WaitingForFrontend { error: error.clone() },
        Some(FrontendBackends::Listed(backends)) => {
            // A leaving ordinal the FE does not list counts as empty only when the FE lists
            // every kept ordinal under the name the operator registers: that proves the
            // listing is this cluster's and complete (an FE showing IP addresses, or one
            // that lost its metadata, must not unlock a shrink).
            let listed = |ordinal: i32| {
                let host = cluster.pod_host(Role::Be, ordinal);
                backends.iter().find(|backend| backend.host == host)
            };
            let listing_trusted = (0..to).all(|ordinal| listed(ordinal).is_some());
            let pending: Vec<String> = (to..from)
                .rev()
                .filter_map(|ordinal| match listed(ordinal) {
                    Some(backend) => (!backend.decommissioned || backend.tablets > 0)
                        .then(|| format!("{}:{}", backend.host, backend.heartbeat_port)),
                    None => (!listing_trusted).then(|| format!("{}:9050 (not listed by the FE)", cluster.pod_host(Role::Be, ordinal))),
                })
                .collect();
            if pending.is_empty() { ScaleInPhase::Shrinking } else { ScaleInPhase::Decommissioning { pending } }
        }
    };
    ScaleIn { from, to, phase }
}

fn check_component(role: Role, component: &ComponentSpec, errors: &mut Vec<ValidationError>) {
    if component.image.trim().is_empty() {
        errors.push(ValidationError::EmptyImage { role });
    }
    let mut volumes = vec![("data", &component.storage.data)];
    if let Some(log) = &component.storage.log {
        volumes.push(("log", log));
    }
    for (volume, claim) in volumes {
        if !is_positive_quantity(&claim.size) {
            errors.push(ValidationError::StorageSize { role, volume, size: claim.size.clone() });
        }
    }
    let managed = match role {
        Role::Fe => MANAGED_FE_KEYS,
        Role::Be => MANAGED_BE_KEYS,
    };
    for (key, value) in &component.config {
        if managed.contains(&key.trim()) {
            errors.push(ValidationError::ManagedConfigKey { role, key: key.clone() });
        } else if key.contains(['\n', '\r', '=']) || key.trim().is_empty() || value.contains(['\n', '\r']) {
            errors.push(ValidationError::MalformedConfigKey { role, key: key.clone() });
        }
    }
}

/// Accepts what Kubernetes accepts for storage requests in practice: a decimal number with an
/// optional binary (Ki..Ei) or decimal (k..E) suffix, greater than zero.
pub fn is_positive_quantity(text: &str) -> bool {
    const SUFFIXES: &[&str] = &["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", ""];
    SUFFIXES.iter().any(|suffix| {
        let Some(number) = text.strip_suffix(suffix) else { return false };
        let mut parts = number.splitn(2, '.');
        let whole = parts.next().unwrap_or_default();
        let fraction = parts.next();
        let digits_only = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
        let well_formed = digits_only(whole) && fraction.is_none_or(digits_only);
        well_formed && number.parse::<f64>().is_ok_and(|value| value > 0.0)
    })
}

fn is_identifier(text: &str) -> bool {
    let mut characters = text.chars();
    characters.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// Splits `database.table`.
fn split_table(text: &str) -> Option<(String, String)> {
    let (database, table) = text.split_once('.')?;
    (is_identifier(database) && is_identifier(table)).then(|| (database.to_owned(), table.to_owned()))
}

fn validate_kafka_jobs(
    jobs: &[KafkaIngestJob],
    namespace: &str,
    dereferenced: &Dereferenced,
    errors: &mut Vec<ValidationError>,
) -> Vec<ValidatedKafkaJob> {
    let mut validated = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for job in jobs {
        if !seen.insert(job.name.as_str()) {
            errors.push(ValidationError::DuplicateJob(job.name.clone()));
        }
        let name_ok = job.name.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
            && is_identifier(&job.name);
        if !name_ok {
            errors.push(ValidationError::JobName(job.name.clone()));
        }
        if job.topic.trim().is_empty() {
            errors.push(ValidationError::JobTopic(job.name.clone()));
        }
        let table = split_table(&job.table);
        if table.is_none() {
            errors.push(ValidationError::JobTable { job: job.name.clone(), table: job.table.clone() });
        }
        let brokers = match (&job.source.brokers, &job.source.strimzi) {
            (Some(brokers), None) if !brokers.is_empty() => Some(brokers.join(",")),
            (None, Some(strimzi)) => Some(format!(
                "{}-kafka-bootstrap.{}.svc:{}",
                strimzi.name,
                strimzi.namespace.as_deref().unwrap_or(namespace),
                strimzi.port
            )),
            _ => None,
        };
        if brokers.is_none() {
            errors.push(ValidationError::JobSource(job.name.clone()));
        }
        let mut kafka_properties: BTreeMap<String, String> = job
            .kafka_properties
            .iter()
            .map(|(key, value)| (format!("property.{key}"), value.clone()))
            .collect();
        if let Some(credentials) = &job.source.credentials {
            let secret = dereferenced.secrets.get(&credentials.secret_name);
            let username = secret.and_then(|data| data.get(&credentials.username_key));
            let password = secret.and_then(|data| data.get(&credentials.password_key));
            match (username, password) {
                (Some(username), Some(password)) => {
                    kafka_properties
                        .insert("property.security.protocol".into(), credentials.security_protocol.clone());
                    kafka_properties.insert("property.sasl.mechanism".into(), credentials.sasl_mechanism.clone());
                    kafka_properties.insert("property.sasl.username".into(), username.clone());
                    kafka_properties.insert("property.sasl.password".into(), password.clone());
                }
                _ => errors.push(ValidationError::JobCredentials {
                    job: job.name.clone(),
                    secret: credentials.secret_name.clone(),
                    username_key: credentials.username_key.clone(),
                    password_key: credentials.password_key.clone(),
                }),
            }
        }
        if let (Some((database, table)), Some(brokers)) = (table, brokers) {
            validated.push(ValidatedKafkaJob {
                name: job.name.clone(),
                database,
                table,
                topic: job.topic.clone(),
                brokers,
                format: job.format,
                columns: job.columns.clone(),
                jsonpaths: job.jsonpaths.clone(),
                column_separator: job.column_separator.clone(),
                properties: job.properties.clone(),
                kafka_properties,
            });
        }
    }
    validated
}

/// A stable password for the Grafana user: a hash of the admin password, so rotating the admin
/// password rotates it too, and nothing has to be stored.
pub fn derive_grafana_password(admin_password: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("cairn-grafana-reader:{admin_password}").as_bytes());
    digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::database::Backend;

    pub(crate) fn sample_cluster(yaml_spec: &str) -> StarRocksCluster {
        let text = format!(
            "apiVersion: starrocks.cairn.dev/v1alpha1\nkind: StarRocksCluster\nmetadata:\n  name: demo\n  namespace: analytics\n  uid: 6f1c1ad2-0000-4000-8000-000000000001\n  generation: 2\nspec:\n{yaml_spec}"
        );
        serde_yaml::from_str(&text).unwrap_or_else(|error| panic!("sample cluster does not parse: {error}"))
    }

    pub(crate) const FULL_SPEC: &str = r#"
  fe:
    replicas: 3
    image: "cairn:0.1.0"
    config: {qe_max_connection: "2048"}
    storage: {data: {size: 20Gi, storageClassName: fast}, log: {size: 5Gi}}
    service: {type: LoadBalancer, annotations: {example.com/lb: internal}}
  be:
    replicas: 3
    image: "cairn:0.1.0"
    config: {mem_limit: "80%"}
    storage: {data: {size: 100Gi}}
    resources: {requests: {cpu: "2", memory: 8Gi}}
  kafkaIngest:
    - name: clicks
      table: web.clicks
      topic: clicks
      format: json
      columns: [ts, user_id, url]
      jsonpaths: ["$.ts", "$.user", "$.url"]
      source: {strimzi: {name: events}, credentials: {secretName: kafka-user}}
      properties: {desired_concurrent_number: "2"}
    - name: orders
      table: shop.orders
      topic: orders
      columnSeparator: ","
      source: {brokers: ["kafka-0:9092", "kafka-1:9092"]}
  grafana:
    enabled: true
    mode: Both
    instanceSelector: {matchLabels: {dashboards: grafana}}
    tables: [web.clicks, shop.orders]
"#;

    pub(crate) fn sample_dereferenced() -> Dereferenced {
        let mut kafka_user = BTreeMap::new();
        kafka_user.insert("username".to_owned(), "loader".to_owned());
        kafka_user.insert("password".to_owned(), "s3cret".to_owned());
        Dereferenced {
            admin_password: None,
            generated_password: "generated-password".to_owned(),
            secrets: BTreeMap::from([("kafka-user".to_owned(), kafka_user)]),
            grafana_operator_crds_present: true,
            current_be_replicas: None,
            frontend_backends: None,
        }
    }

    #[test]
    fn full_spec_validates_and_resolves_references() -> anyhow::Result<()> {
        let validated = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        assert_eq!(validated.fe.replicas, 3);
        assert_eq!(validated.admin.secret_name, "demo-admin");
        assert_eq!(validated.admin.password, "generated-password");
        assert!(validated.admin.create_secret);
        let clicks = &validated.kafka_jobs[0];
        assert_eq!(clicks.brokers, "events-kafka-bootstrap.analytics.svc:9092");
        assert_eq!((clicks.database.as_str(), clicks.table.as_str()), ("web", "clicks"));
        assert_eq!(clicks.kafka_properties.get("property.sasl.username").map(String::as_str), Some("loader"));
        assert_eq!(validated.kafka_jobs[1].brokers, "kafka-0:9092,kafka-1:9092");
        let grafana = validated.grafana.as_ref().ok_or(anyhow::anyhow!("grafana missing"))?;
        assert_eq!(grafana.tables, vec![("web".into(), "clicks".into()), ("shop".into(), "orders".into())]);
        assert_eq!(grafana.password.len(), 32);
        assert_eq!(validated.pod_host(Role::Be, 2), "demo-be-2.demo-be-search.analytics.svc.cluster.local");
        Ok(())
    }

    #[test]
    fn nonsense_is_rejected_with_every_reason() {
        let cluster = sample_cluster(
            r#"
  fe: {replicas: 2, image: "", storage: {data: {size: ten}}, config: {http_port: "1"}}
  be: {replicas: 0, image: "cairn", storage: {data: {size: 0Gi}}}
  kafkaIngest:
    - {name: a, table: notatable, topic: t, source: {}}
    - {name: a, table: d.t, topic: t, source: {brokers: [b:9092]}, 
       }
"#,
        );
        let errors = validate(&cluster, &sample_dereferenced()).err().map(|errors| errors.0);
        assert_eq!(
            errors,
            Some(vec![
                ValidationError::FeReplicas(2),
                ValidationError::BeReplicas(0),
                ValidationError::EmptyImage { role: Role::Fe },
                ValidationError::StorageSize { role: Role::Fe, volume: "data", size: "ten".into() },
                ValidationError::ManagedConfigKey { role: Role::Fe, key: "http_port".into() },
                ValidationError::StorageSize { role: Role::Be, volume: "data", size: "0Gi".into() },
                ValidationError::JobTable { job: "a".into(), table: "notatable".into() },
                ValidationError::JobSource("a".into()),
                ValidationError::DuplicateJob("a".into()),
            ])
        );
    }

    #[test]
    fn error_message_is_readable() {
        let message = ValidationErrors(vec![
            ValidationError::FeReplicas(2),
            ValidationError::StorageSize { role: Role::Be, volume: "data", size: "ten".into() },
        ])
        .to_string();
        assert_eq!(
            message,
            "fe.replicas is 2; it must be 1, 3 or 5 (an FE quorum needs an odd count); \
             be.storage.data.size \"ten\" is not a positive Kubernetes quantity such as 10Gi"
        );
    }

    #[test]
    fn missing_kafka_secret_is_reported() {
        let mut dereferenced = sample_dereferenced();
        dereferenced.secrets.clear();
        let errors = validate(&sample_cluster(FULL_SPEC), &dereferenced).err().map(|errors| errors.0);
        assert_eq!(
            errors,
            Some(vec![ValidationError::JobCredentials {
                job: "clicks".into(),
                secret: "kafka-user".into(),
                username_key: "username".into(),
                password_key: "password".into(),
            }])
        );
    }

    #[test]
    fn scale_in_shrinks_only_once_the_leaving_backends_are_empty() -> anyhow::Result<()> {
        let backend = |ordinal: i32, decommissioned: bool, tablets: i64| Backend {
            host: format!("demo-be-{ordinal}.demo-be-search.analytics.svc.cluster.local"),
            heartbeat_port: 9050,
            alive: true,
            decommissioned,
            tablets,
        };
        let mut dereferenced = sample_dereferenced();
        dereferenced.current_be_replicas = Some(5);
        // The FE was not asked (or did not answer): keep every pod.
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.be.replicas, 5);
        assert!(matches!(validated.scale_in, Some(ScaleIn { from: 5, to: 3, phase: ScaleInPhase::WaitingForFrontend { .. } })));
        // Ordinal 4 is empty, 3 is not decommissioned yet: decommission 3, keep 5 pods.
        dereferenced.frontend_backends = Some(FrontendBackends::Listed(vec![backend(0, false, 9), backend(3, false, 0), backend(4, true, 0)]));
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.be.replicas, 5);
        let pending = vec!["demo-be-3.demo-be-search.analytics.svc.cluster.local:9050".to_owned()];
        assert_eq!(validated.scale_in.map(|scale_in| scale_in.phase), Some(ScaleInPhase::Decommissioning { pending: pending.clone() }));
        // Decommissioned but still holding replicas: keep waiting.
        dereferenced.frontend_backends = Some(FrontendBackends::Listed(vec![backend(3, true, 2), backend(4, true, 0)]));
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.scale_in.map(|scale_in| scale_in.phase), Some(ScaleInPhase::Decommissioning { pending }));
        // An unlisted leaving ordinal is not proof of anything while kept ones are unlisted too.
        dereferenced.frontend_backends = Some(FrontendBackends::Listed(vec![backend(0, false, 9), backend(4, true, 0)]));
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.be.replicas, 5);
        // Both empty (a never-registered ordinal counts as empty once every kept one is listed): shrink.
        dereferenced.frontend_backends = Some(FrontendBackends::Listed(vec![backend(0, false, 9), backend(1, false, 0), backend(2, false, 0), backend(4, true, 0)]));
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.be.replicas, 3);
        assert_eq!(validated.scale_in.map(|scale_in| scale_in.phase), Some(ScaleInPhase::Shrinking));
        // Growing needs no FE.
        dereferenced.current_be_replicas = Some(2);
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!((validated.be.replicas, validated.scale_in), (3, None));
        Ok(())
    }

    #[test]
    fn backend_hosts_map_to_ordinals() -> anyhow::Result<()> {
        let validated = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        assert_eq!(validated.be_ordinal(&validated.pod_host(Role::Be, 12)), Some(12));
        for other in [
            validated.pod_host(Role::Fe, 0),
            "demo-be-x.demo-be-search.analytics.svc.cluster.local".to_owned(),
            "demo-be-1.demo-be-search.other.svc.cluster.local".to_owned(),
            "other-be-1.other-be-search.analytics.svc.cluster.local".to_owned(),
            "127.0.0.1".to_owned(),
        ] {
            assert_eq!(validated.be_ordinal(&other), None, "{other}");
        }
        Ok(())
    }

    #[test]
    fn existing_admin_password_is_used() -> anyhow::Result<()> {
        let mut dereferenced = sample_dereferenced();
        dereferenced.admin_password = Some("kept".into());
        let validated = validate(&sample_cluster(FULL_SPEC), &dereferenced)?;
        assert_eq!(validated.admin.password, "kept");
        assert!(!validated.admin.create_secret);
        Ok(())
    }

    #[test]
    fn quantities() {
        for good in ["1", "10Gi", "1.5Ti", "500M", "100k"] {
            assert!(is_positive_quantity(good), "{good}");
        }
        for bad in ["", "0", "0Gi", "ten", "10GB", "-1Gi", "1.Gi", ".5Gi", "1e3"] {
            assert!(!is_positive_quantity(bad), "{bad}");
        }
    }
}

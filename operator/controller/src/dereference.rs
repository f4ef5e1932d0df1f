//! Reads what a cluster refers to, and the little current state later steps must respect:
//! the admin and Kafka credential Secrets, whether grafana-operator's CRDs exist, the BE
//! StatefulSet's current replica count and, only while a BE scale-in is pending, what the FE
//! reports of its backends. This is the only step that reads before apply.

use std::collections::BTreeMap;

use cairn_operator_types::StarRocksCluster;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use rand::Rng;

use crate::controller::error_chain;
use crate::database::{Backend, Connector};

/// API group/version of grafana-operator's custom resources.
pub const GRAFANA_OPERATOR_API_VERSION: &str = "grafana.integreatly.org/v1beta1";

/// What a cluster's spec points at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dereferenced {
    /// The root password, when its Secret exists.
    pub admin_password: Option<String>,
    /// A fresh random password, used only when the admin Secret does not exist.
    pub generated_password: String,
    /// Decoded data of referenced Secrets, by name.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    pub grafana_operator_crds_present: bool,
    /// `spec.replicas` of the BE StatefulSet, when it exists.
    pub current_be_replicas: Option<i32>,
    /// `SHOW BACKENDS`, read only when the spec asks for fewer BEs than the StatefulSet has.
    pub frontend_backends: Option<FrontendBackends>,
}

/// What the FE said about its backends.
#[derive(Clone, Debug, PartialEq)]
pub enum FrontendBackends {
    Listed(Vec<Backend>),
    /// The FE did not answer, or refused; the message says why.
    Unreachable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DereferenceError {
    #[error("failed to read Secret {name:?} in namespace {namespace:?}")]
    ReadSecret {
        name: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("failed to read StatefulSet {name:?} in namespace {namespace:?}")]
    ReadStatefulSet {
        name: String,
        namespace: String,
        #[source]
        source: kube::Error,
    },
}

/// Reads the referenced objects of `cluster` in `namespace`.
pub async fn dereference(
    client: &Client,
    connector: &dyn Connector,
    cluster: &StarRocksCluster,
    namespace: &str,
    name: &str,
) -> Result<Dereferenced, DereferenceError> {
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secret_names = vec![];
    let admin = cluster.admin_secret();
    secret_names.push(admin.name.clone());
    for job in &cluster.spec.kafka_ingest {
        if let Some(credentials) = &job.source.credentials {
            secret_names.push(credentials.secret_name.clone());
        }
    }
    let mut secrets = BTreeMap::new();
    for secret_name in secret_names {
        if secrets.contains_key(&secret_name) {
            continue;
        }
        let secret = secrets_api.get_opt(&secret_name).await.map_err(|source| {
            DereferenceError::ReadSecret { name: secret_name.clone(), namespace: namespace.to_owned(), source }
        })?;
        if let Some(secret) = secret {
            secrets.insert(secret_name, decode_secret(&secret));
        }
    }
    let admin_password = secrets.get(&admin.name).and_then(|data| data.get(&admin.key)).cloned();

    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let be_name = format!("{name}-be");
    let current_be_replicas = statefulsets
        .get_opt(&be_name)
        .await
        .map_err(|source| DereferenceError::ReadStatefulSet {
            name: be_name.clone(),
            namespace: namespace.to_owned(),
            source,
        })?
        .and_then(|statefulset| statefulset.spec)
        .and_then(|spec| spec.replicas);

    // Discovery needs no RBAC, unlike reading CustomResourceDefinitions. Any failure means
    // "not present": the sidecar form still works without grafana-operator.
    let grafana_operator_crds_present = cluster.spec.grafana.enabled
        && cluster.spec.grafana.mode.operator()
        && client
            .list_api_group_resources(GRAFANA_OPERATOR_API_VERSION)
            .await
            .is_ok_and(|list| {
                let kinds: Vec<&str> = list.resources.iter().map(|resource| resource.kind.as_str()).collect();
                kinds.contains(&"GrafanaDatasource") && kinds.contains(&"GrafanaDashboard")
            });

    let scale_in_pending = current_be_replicas.is_some_and(|current| cluster.spec.be.replicas < current);
    let frontend_backends = if scale_in_pending {
        let host = crate::validate::fe_service_host(name, namespace);
        let password = admin_password.clone().unwrap_or_default();
        let listed = match connector.connect(&host, 9030, &password).await {
            Ok(database) => database.show_backends().await,
            Err(error) => Err(error),
        };
        Some(match listed {
            Ok(backends) => FrontendBackends::Listed(backends),
            Err(error) => FrontendBackends::Unreachable(error_chain(&error)),
        })
    } else {
        None
    };

    Ok(Dereferenced {
        admin_password,
        generated_password: generate_password(),
        secrets,
        grafana_operator_crds_present,
        current_be_replicas,
        frontend_backends,
    })
}

fn decode_secret(secret: &Secret) -> BTreeMap<String, String> {
    let mut decoded = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        if let Ok(text) = String::from_utf8(value.0.clone()) {
            decoded.insert(key.clone(), text);
        }
    }
    // stringData is write-only on a real API server, but fakes and tests may return it.
    for (key, value) in secret.string_data.iter().flatten() {
        decoded.insert(key.clone(), value.clone());
    }
    decoded
}

/// 24 random alphanumeric characters.
fn generate_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

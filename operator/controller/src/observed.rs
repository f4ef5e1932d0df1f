//! What the operator applied and what the API server holds now, so a steady reconcile skips
//! the server-side applies that would change nothing.
//!
//! Why: a server-side apply costs the API server a merge of managed fields even when nothing
//! changes, and the fifteen of a cluster were most of a steady reconcile's time (p50 33 of 38
//! ms in `e2e/kubernetes/bench.sh`).
//!
//! An object is skipped only when both hold:
//! - what we would apply hashes the same as what we last applied;
//! - the watched copy still has the resourceVersion that apply returned.
//!
//! Anyone else's change (an edit, a delete, a status update) moves the resourceVersion, and the
//! next reconcile applies again. After a restart nothing is recorded, so everything is applied
//! once.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

/// Watched copies of the kinds the operator applies, limited to its own objects.
pub struct ObservedObjects {
    statefulsets: Store<StatefulSet>,
    services: Store<Service>,
    config_maps: Store<ConfigMap>,
    secrets: Store<Secret>,
    budgets: Store<PodDisruptionBudget>,
    /// (kind, namespace, name) to (hash of the applied body, resourceVersion apply returned).
    applied: Mutex<HashMap<(String, String, String), (u64, String)>>,
}

/// A kind whose watched copies [`ObservedObjects`] keeps.
pub trait ObservedKind: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {
    fn store(observed: &ObservedObjects) -> &Store<Self>;
}

macro_rules! observed_kind {
    ($kind:ty, $field:ident) => {
        impl ObservedKind for $kind {
            fn store(observed: &ObservedObjects) -> &Store<Self> {
                &observed.$field
            }
        }
    };
}
observed_kind!(StatefulSet, statefulsets);
observed_kind!(Service, services);
observed_kind!(ConfigMap, config_maps);
observed_kind!(Secret, secrets);
observed_kind!(PodDisruptionBudget, budgets);

/// The API of a namespaced kind in the watched namespace, or in every namespace.
pub fn api_in<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

fn watch<K: ObservedKind>(api: Api<K>, config: watcher::Config) -> Store<K> {
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff().applied_objects();
    tokio::spawn(stream.for_each(|_| futures::future::ready(())));
    store
}

impl ObservedObjects {
    /// Starts one watch per kind on the objects labelled as the operator's, in `namespace` or
    /// everywhere.
    pub fn start(client: &Client, namespace: Option<&str>, config: &watcher::Config) -> ObservedObjects {
        ObservedObjects {
            statefulsets: watch(api_in(client, namespace), config.clone()),
            services: watch(api_in(client, namespace), config.clone()),
            config_maps: watch(api_in(client, namespace), config.clone()),
            secrets: watch(api_in(client, namespace), config.clone()),
            budgets: watch(api_in(client, namespace), config.clone()),
            applied: Mutex::default(),
        }
    }

    fn key<K: ObservedKind>(namespace: &str, name: &str) -> (String, String, String) {
        (K::kind(&()).into_owned(), namespace.to_owned(), name.to_owned())
    }

    /// The watched copy when applying `body` again would change nothing.
    pub fn unchanged<K: ObservedKind>(&self, namespace: &str, name: &str, body: &serde_json::Value) -> Option<K> {
        let (hash, version) = self.applied.lock().ok()?.get(&Self::key::<K>(namespace, name)).cloned()?;
        if hash != hash_of(body) {
            return None;
        }
        let current = K::store(self).get(&ObjectRef::<K>::new(name).within(namespace))?;
        (current.meta().resource_version.as_deref() == Some(version.as_str())).then(|| current.as_ref().clone())
    }

    /// Records what was applied and the resourceVersion the API server answered with.
    pub fn record<K: ObservedKind>(&self, namespace: &str, name: &str, body: &serde_json::Value, applied: &K) {
        let Some(version) = applied.meta().resource_version.clone() else { return };
        if let Ok(mut recorded) = self.applied.lock() {
            recorded.insert(Self::key::<K>(namespace, name), (hash_of(body), version));
        }
    }
}

/// serde_json maps are ordered, so equal bodies hash equally.
fn hash_of(body: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    body.to_string().hash(&mut hasher);
    hasher.finish()
}

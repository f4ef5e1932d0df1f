//! The admin Secret, created only when the referenced one does not exist yet. When deletion
//! retains the PVCs it has no owner reference, so it outlives the cluster with them: the
//! retained FE metadata holds this root password, and a later cluster of the same name must
//! log in with it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::{cluster_labels, object_meta};
use crate::validate::ValidatedCluster;
use cairn_operator_types::PvcRetention;

/// Holds the root password under the configured key, plus `username: root` for clients.
pub fn build_admin_secret(cluster: &ValidatedCluster) -> Secret {
    let mut string_data = BTreeMap::from([(cluster.admin.key.clone(), cluster.admin.password.clone())]);
    string_data.entry("username".to_owned()).or_insert_with(|| "root".to_owned());
    let mut metadata = object_meta(cluster, cluster.admin.secret_name.clone(), cluster_labels(cluster));
    if cluster.pvc_retention_policy.when_deleted == PvcRetention::Retain {
        metadata.owner_references = None;
    }
    Secret {
        metadata,
        type_: Some("Opaque".to_owned()),
        string_data: Some(string_data),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn admin_secret_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        insta::assert_yaml_snapshot!("admin_secret", build_admin_secret(&cluster));
        Ok(())
    }

    #[test]
    fn the_admin_secret_outlives_the_cluster_only_with_retained_volumes() -> anyhow::Result<()> {
        let mut cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        cluster.pvc_retention_policy.when_deleted = PvcRetention::Retain;
        assert_eq!(build_admin_secret(&cluster).metadata.owner_references, None);
        cluster.pvc_retention_policy.when_deleted = PvcRetention::Delete;
        let owners = build_admin_secret(&cluster).metadata.owner_references.unwrap_or_default();
        assert_eq!(owners.iter().map(|owner| owner.name.as_str()).collect::<Vec<_>>(), ["demo"]);
        Ok(())
    }
}

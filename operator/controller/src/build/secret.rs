//! The admin Secret, created only when the referenced one does not exist yet.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::{cluster_labels, object_meta};
use crate::validate::ValidatedCluster;

/// Holds the root password under the configured key, plus `username: root` for clients.
pub fn build_admin_secret(cluster: &ValidatedCluster) -> Secret {
    let mut string_data = BTreeMap::from([(cluster.admin.key.clone(), cluster.admin.password.clone())]);
    string_data.entry("username".to_owned()).or_insert_with(|| "root".to_owned());
    Secret {
        metadata: object_meta(cluster, cluster.admin.secret_name.clone(), cluster_labels(cluster)),
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
}

//! `fe.conf` / `be.conf` rendering and their ConfigMaps.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::{component_labels, object_meta};
use crate::validate::{Role, ValidatedCluster};

/// Renders a component's configuration file: the keys the operator manages (ports and
/// directories the Services, probes and mounts rely on), then the user's keys, sorted so the
/// text and its hash are stable.
pub fn render_config(cluster: &ValidatedCluster, role: Role) -> String {
    let managed: Vec<(&str, String)> = match role {
        Role::Fe => vec![
            ("http_port", "8030".into()),
            ("rpc_port", "9020".into()),
            ("query_port", "9030".into()),
            ("edit_log_port", "9010".into()),
            ("meta_dir", Role::Fe.data_dir().into()),
            ("sys_log_dir", Role::Fe.log_dir().into()),
        ],
        Role::Be => vec![
            ("be_port", "9060".into()),
            ("webserver_port", "8040".into()),
            ("heartbeat_service_port", "9050".into()),
            ("brpc_port", "8060".into()),
            ("storage_root_path", Role::Be.data_dir().into()),
            ("sys_log_dir", Role::Be.log_dir().into()),
        ],
    };
    let mut text = format!(
        "# Rendered by cairn-operator for StarRocksCluster {}/{}; edit spec.{}.config instead.\n",
        cluster.namespace, cluster.name, role
    );
    for (key, value) in managed {
        text.push_str(&format!("{key} = {value}\n"));
    }
    for (key, value) in &cluster.component(role).spec.config {
        text.push_str(&format!("{} = {}\n", key.trim(), value.trim()));
    }
    text
}

fn build_config_map(cluster: &ValidatedCluster, role: Role, rendered: &str) -> ConfigMap {
    ConfigMap {
        metadata: object_meta(cluster, cluster.config_map_name(role), component_labels(cluster, role)),
        data: Some(BTreeMap::from([(role.config_file().to_owned(), rendered.to_owned())])),
        ..ConfigMap::default()
    }
}

pub fn build_fe_config_map(cluster: &ValidatedCluster, rendered: &str) -> ConfigMap {
    build_config_map(cluster, Role::Fe, rendered)
}

pub fn build_be_config_map(cluster: &ValidatedCluster, rendered: &str) -> ConfigMap {
    build_config_map(cluster, Role::Be, rendered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn config_maps_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let fe = build_fe_config_map(&cluster, &render_config(&cluster, Role::Fe));
        let be = build_be_config_map(&cluster, &render_config(&cluster, Role::Be));
        insta::assert_yaml_snapshot!("fe_config_map", fe);
        insta::assert_yaml_snapshot!("be_config_map", be);
        let be_conf = be.data.as_ref().and_then(|data| data.get("be.conf")).cloned().unwrap_or_default();
        assert!(be_conf.contains("\nmem_limit = 80%\n"));
        assert!(be_conf.contains("\nheartbeat_service_port = 9050\n"));
        Ok(())
    }
}

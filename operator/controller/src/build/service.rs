//! Services: a headless one per component for stable pod DNS names (peers and the FE's
//! backend registration use them), a client Service for FE (9030 MySQL, 8030 HTTP), and one for
//! BE HTTP (Stream Load redirects, metrics).

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{component_labels, object_meta, selector_labels};
use crate::validate::{Role, ValidatedCluster};

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port: number,
        target_port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// Named container ports of a component; Services target them by name.
pub fn component_ports(role: Role) -> Vec<(&'static str, i32)> {
    match role {
        Role::Fe => vec![("http", 8030), ("rpc", 9020), ("query", 9030), ("edit-log", 9010)],
        Role::Be => vec![("http", 8040), ("be", 9060), ("heartbeat", 9050), ("brpc", 8060)],
    }
}

fn build_headless_service(cluster: &ValidatedCluster, role: Role) -> Service {
    Service {
        metadata: object_meta(cluster, cluster.headless_service_name(role), component_labels(cluster, role)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            // Peers must resolve each other before they are ready: an FE quorum forms only
            // once the members can reach each other.
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(cluster, role)),
            ports: Some(component_ports(role).into_iter().map(|(name, number)| port(name, number)).collect()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn build_client_service(cluster: &ValidatedCluster, role: Role, ports: Vec<ServicePort>) -> Service {
    let service_spec = &cluster.component(role).spec.service;
    let mut metadata = object_meta(cluster, cluster.component_name(role), component_labels(cluster, role));
    if !service_spec.annotations.is_empty() {
        metadata.annotations = Some(service_spec.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(service_spec.service_type.as_str().to_owned()),
            selector: Some(selector_labels(cluster, role)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

pub fn build_fe_headless_service(cluster: &ValidatedCluster) -> Service {
    build_headless_service(cluster, Role::Fe)
}

pub fn build_be_headless_service(cluster: &ValidatedCluster) -> Service {
    build_headless_service(cluster, Role::Be)
}

/// The Service clients and Grafana connect to.
pub fn build_fe_service(cluster: &ValidatedCluster) -> Service {
    build_client_service(cluster, Role::Fe, vec![port("query", 9030), port("http", 8030)])
}

pub fn build_be_service(cluster: &ValidatedCluster) -> Service {
    build_client_service(cluster, Role::Be, vec![port("http", 8040)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn services_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        insta::assert_yaml_snapshot!("fe_headless_service", build_fe_headless_service(&cluster));
        let fe = build_fe_service(&cluster);
        insta::assert_yaml_snapshot!("fe_service", fe);
        let spec = fe.spec.clone().unwrap_or_default();
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        let ports: Vec<i32> = spec.ports.unwrap_or_default().iter().map(|port| port.port).collect();
        assert_eq!(ports, [9030, 8030]);
        insta::assert_yaml_snapshot!("be_service", build_be_service(&cluster));
        Ok(())
    }
}

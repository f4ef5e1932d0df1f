//! FE and BE StatefulSets: `cairn fe|be --config ...`, the rendered config mounted, PVCs for
//! data (and optionally logs), `/api/health` probes, non-root security defaults and the
//! config-hash annotation that rolls pods on a config change.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, HTTPGetAction, ObjectFieldSelector, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    SeccompProfile, SecretKeySelector, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::service::component_ports;
use super::{CONFIG_HASH_ANNOTATION, component_labels, object_meta, selector_labels};
use crate::validate::{Role, ValidatedCluster};

/// Where the rendered configuration is mounted.
pub const CONFIG_DIR: &str = "/etc/cairn";
/// The non-root user and group pods run as by default.
pub const DEFAULT_USER_ID: i64 = 1000;

pub fn build_fe_statefulset(cluster: &ValidatedCluster, config_hash: &str) -> StatefulSet {
    build_statefulset(cluster, Role::Fe, config_hash)
}

pub fn build_be_statefulset(cluster: &ValidatedCluster, config_hash: &str) -> StatefulSet {
    build_statefulset(cluster, Role::Be, config_hash)
}

fn build_statefulset(cluster: &ValidatedCluster, role: Role, config_hash: &str) -> StatefulSet {
    let component = cluster.component(role);
    let spec = &component.spec;

    let mut pod_labels = spec.pod_labels.clone();
    // The operator's labels win: the selector depends on them.
    pod_labels.extend(component_labels(cluster, role));
    let mut pod_annotations = spec.pod_annotations.clone();
    pod_annotations.insert(CONFIG_HASH_ANNOTATION.to_owned(), config_hash.to_owned());
    pod_annotations.entry("prometheus.io/scrape".to_owned()).or_insert_with(|| "true".to_owned());
    pod_annotations
        .entry("prometheus.io/port".to_owned())
        .or_insert_with(|| role.http_port().to_string());
    pod_annotations.entry("prometheus.io/path".to_owned()).or_insert_with(|| "/metrics".to_owned());

    let mut volume_claims = vec![volume_claim("data", &spec.storage.data.size, &spec.storage.data.storage_class_name)];
    let mut volumes = vec![Volume {
        name: "config".to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: cluster.config_map_name(role),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }];
    match &spec.storage.log {
        Some(log) => volume_claims.push(volume_claim("log", &log.size, &log.storage_class_name)),
        None => volumes.push(Volume {
            name: "log".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }),
    }
    // The root filesystem is read-only; cairn writes temporary files here.
    volumes.push(Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    volumes.extend(spec.extra_volumes.iter().cloned());

    let mut volume_mounts = vec![
        mount("config", CONFIG_DIR, true),
        mount("data", role.data_dir(), false),
        mount("log", role.log_dir(), false),
        mount("tmp", "/tmp", false),
    ];
    volume_mounts.extend(spec.extra_volume_mounts.iter().cloned());

    let health_probe = |failure_threshold: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/api/health".to_owned()),
            port: IntOrString::String("http".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(spec.probes.period_seconds),
        timeout_seconds: Some(spec.probes.timeout_seconds),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    };

    let container = Container {
        name: role.as_str().to_owned(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.map(|policy| policy.as_str().to_owned()),
        command: Some(vec!["cairn".to_owned()]),
        args: Some(vec![
            role.as_str().to_owned(),
            "--config".to_owned(),
            format!("{CONFIG_DIR}/{}", role.config_file()),
        ]),
        env: Some(build_env(cluster, role)),
        ports: Some(
            component_ports(role)
                .into_iter()
                .map(|(name, number)| ContainerPort {
                    name: Some(name.to_owned()),
                    container_port: number,
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                })
                .collect(),
        ),
        resources: spec.resources.clone(),
        volume_mounts: Some(volume_mounts),
        startup_probe: Some(health_probe(spec.probes.startup_failure_threshold)),
        liveness_probe: Some(health_probe(spec.probes.failure_threshold)),
        readiness_probe: Some(health_probe(spec.probes.failure_threshold)),
        security_context: Some(spec.security_context.clone().unwrap_or_else(default_container_security_context)),
        ..Container::default()
    };

    let pod_spec = PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        image_pull_secrets: (!spec.image_pull_secrets.is_empty()).then(|| spec.image_pull_secrets.clone()),
        node_selector: (!spec.node_selector.is_empty()).then(|| spec.node_selector.clone()),
        affinity: spec.affinity.clone(),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        topology_spread_constraints: (!spec.topology_spread_constraints.is_empty())
            .then(|| spec.topology_spread_constraints.clone()),
        termination_grace_period_seconds: spec.termination_grace_period_seconds,
        security_context: Some(spec.pod_security_context.clone().unwrap_or_else(default_pod_security_context)),
        // The pods do not call the Kubernetes API.
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    };

    StatefulSet {
        metadata: object_meta(cluster, cluster.component_name(role), component_labels(cluster, role)),
        spec: Some(StatefulSetSpec {
            replicas: Some(component.replicas),
            service_name: Some(cluster.headless_service_name(role)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(cluster, role)),
                ..LabelSelector::default()
            },
            // FE members must start together to elect a leader; BE pods are independent.
            pod_management_policy: Some("Parallel".to_owned()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..StatefulSetUpdateStrategy::default()
            }),
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(cluster.pvc_retention_policy.when_deleted.as_str().to_owned()),
                when_scaled: Some(cluster.pvc_retention_policy.when_scaled.as_str().to_owned()),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec),
            },
            volume_claim_templates: Some(volume_claims),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn build_env(cluster: &ValidatedCluster, role: Role) -> Vec<EnvVar> {
    let field = |name: &str, path: &str| EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.to_owned(), ..ObjectFieldSelector::default() }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    let value = |name: &str, value: String| EnvVar { name: name.to_owned(), value: Some(value), ..EnvVar::default() };
    let mut env = vec![
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
        field("POD_IP", "status.podIP"),
        // Each pod's own stable DNS name, which it registers under.
        value(
            "CAIRN_HOST",
            format!("$(POD_NAME).{}.$(POD_NAMESPACE).svc.cluster.local", cluster.headless_service_name(role)),
        ),
        // The first FE helps the others join the quorum.
        value("CAIRN_FE_HELPER", format!("{}:9010", cluster.pod_host(Role::Fe, 0))),
    ];
    if role == Role::Fe {
        env.push(EnvVar {
            name: "CAIRN_ROOT_PASSWORD".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: cluster.admin.secret_name.clone(),
                    key: cluster.admin.key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    env.extend(cluster.component(role).spec.env.iter().cloned());
    env
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn volume_claim(name: &str, size: &str, storage_class_name: &Option<String>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), Quantity(size.to_owned()))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

fn default_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(DEFAULT_USER_ID),
        run_as_group: Some(DEFAULT_USER_ID),
        // Volumes become writable by the cairn user.
        fs_group: Some(DEFAULT_USER_ID),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_owned(), ..SeccompProfile::default() }),
        ..PodSecurityContext::default()
    }
}

fn default_container_security_context() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_owned()]), ..Capabilities::default() }),
        ..SecurityContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::config_hash;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn statefulsets_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let fe = build_fe_statefulset(&cluster, &config_hash("fe"));
        let be = build_be_statefulset(&cluster, &config_hash("be"));
        insta::assert_yaml_snapshot!("fe_statefulset", fe);
        insta::assert_yaml_snapshot!("be_statefulset", be);

        let spec = be.spec.clone().unwrap_or_default();
        assert_eq!(spec.replicas, Some(3));
        let pod = spec.template.spec.clone().unwrap_or_default();
        let container = &pod.containers[0];
        assert_eq!(container.args.clone().unwrap_or_default(), ["be", "--config", "/etc/cairn/be.conf"]);
        let readiness = container.readiness_probe.clone().and_then(|probe| probe.http_get).map(|get| get.path);
        assert_eq!(readiness, Some(Some("/api/health".to_owned())));
        assert_eq!(pod.security_context.and_then(|context| context.run_as_non_root), Some(true));
        let claims: Vec<_> = spec
            .volume_claim_templates
            .unwrap_or_default()
            .into_iter()
            .map(|claim| claim.metadata.name.unwrap_or_default())
            .collect();
        assert_eq!(claims, ["data"]);
        let fe_claims = fe.spec.and_then(|spec| spec.volume_claim_templates).map(|claims| claims.len());
        assert_eq!(fe_claims, Some(2));
        Ok(())
    }
}

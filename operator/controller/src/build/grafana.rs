//! Grafana wiring in two forms: a data source Secret and dashboard ConfigMaps labelled for the
//! Grafana Helm chart's sidecar, and GrafanaDatasource/GrafanaDashboard custom resources for
//! grafana-operator. The data source is MySQL at the FE Service on 9030 with a read-only user.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::{cluster_labels, object_meta};
use crate::validate::{GRAFANA_USER, ValidatedCluster, ValidatedGrafana};

/// Name Grafana shows for the data source; unique per namespace and cluster.
pub fn datasource_name(cluster: &ValidatedCluster) -> String {
    format!("cairn-{}-{}", cluster.namespace, cluster.name)
}

/// Data source URL: host and port of the FE client Service.
pub fn datasource_url(cluster: &ValidatedCluster) -> String {
    format!("{}:9030", cluster.fe_service_host())
}

pub fn datasource_secret_name(cluster: &ValidatedCluster) -> String {
    format!("{}-grafana-datasource", cluster.name)
}

pub fn reader_secret_name(cluster: &ValidatedCluster) -> String {
    format!("{}-grafana-reader", cluster.name)
}

pub fn dashboard_config_map_names(cluster: &ValidatedCluster) -> [String; 2] {
    [
        format!("{}-grafana-dashboard-health", cluster.name),
        format!("{}-grafana-dashboard-tables", cluster.name),
    ]
}

/// The provisioning file the sidecar drops into Grafana's datasources directory.
pub fn build_grafana_datasource_secret(cluster: &ValidatedCluster, grafana: &ValidatedGrafana) -> Secret {
    let name = datasource_name(cluster);
    let provisioning = json!({
        "apiVersion": 1,
        "datasources": [{
            "name": name,
            "uid": name,
            "type": "mysql",
            "access": "proxy",
            "url": datasource_url(cluster),
            "user": GRAFANA_USER,
            "editable": false,
            "jsonData": {"maxOpenConns": 10, "maxIdleConns": 2, "connMaxLifetime": 14400},
            "secureJsonData": {"password": grafana.password},
        }],
    });
    let text = serde_yaml::to_string(&provisioning).unwrap_or_default();
    let mut labels = cluster_labels(cluster);
    labels.insert("grafana_datasource".to_owned(), "1".to_owned());
    Secret {
        metadata: object_meta(cluster, datasource_secret_name(cluster), labels),
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([(format!("{name}.yaml"), text)])),
        ..Secret::default()
    }
}

/// User and password for grafana-operator's `valuesFrom`; kept apart from the sidecar Secret,
/// whose every key the sidecar would load as a provisioning file.
pub fn build_grafana_reader_secret(cluster: &ValidatedCluster, grafana: &ValidatedGrafana) -> Secret {
    Secret {
        metadata: object_meta(cluster, reader_secret_name(cluster), cluster_labels(cluster)),
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([
            ("username".to_owned(), GRAFANA_USER.to_owned()),
            ("password".to_owned(), grafana.password.clone()),
        ])),
        ..Secret::default()
    }
}

/// Cluster health from the FE/BE Prometheus metrics. The Prometheus data source is a dashboard
/// variable, since the operator does not know its name.
pub fn health_dashboard(cluster: &ValidatedCluster) -> Value {
    let selector = format!("namespace=\"{}\", pod=~\"{}-(fe|be)-[0-9]+\"", cluster.namespace, cluster.name);
    let panel = |id: u32, title: &str, expression: String, x: u32, y: u32| {
        json!({
            "id": id, "title": title, "type": "timeseries",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
            "targets": [{"refId": "A", "expr": expression, "legendFormat": "{{pod}}"}],
        })
    };
    json!({
        "uid": format!("cairn-health-{}-{}", cluster.namespace, cluster.name),
        "title": format!("Cairn {}/{}: cluster health", cluster.namespace, cluster.name),
        "tags": ["cairn", "starrocks"],
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": [
            panel(1, "Pods up", format!("up{{{selector}}}"), 0, 0),
            panel(2, "Queries per second", format!("sum(rate(starrocks_fe_query_total{{{selector}}}[5m]))"), 12, 0),
            panel(3, "Query errors per second", format!("sum(rate(starrocks_fe_query_err{{{selector}}}[5m]))"), 0, 8),
            panel(4, "Query latency p99 (ms)", format!("max(starrocks_fe_query_latency_ms{{{selector}, quantile=\"0.99\"}})"), 12, 8),
            panel(5, "BE disk used (bytes)", format!("sum by (pod) (starrocks_be_disks_data_used_capacity{{{selector}}})"), 0, 16),
            panel(6, "Routine Load rows per second", format!("sum(rate(starrocks_fe_routine_load_rows{{{selector}}}[5m]))"), 12, 16),
        ],
    })
}

/// One row-count and one freshness panel per listed table, queried through the MySQL source.
pub fn tables_dashboard(cluster: &ValidatedCluster, grafana: &ValidatedGrafana) -> Value {
    let datasource = json!({"type": "mysql", "uid": datasource_name(cluster)});
    let panels: Vec<Value> = grafana
        .tables
        .iter()
        .enumerate()
        .map(|(index, (database, table))| {
            json!({
                "id": index + 1,
                "title": format!("{database}.{table}: rows"),
                "type": "stat",
                "datasource": datasource,
                "gridPos": {"h": 6, "w": 8, "x": (index % 3) * 8, "y": (index / 3) * 6},
                "targets": [{
                    "refId": "A", "format": "table", "rawQuery": true,
                    "rawSql": format!("SELECT COUNT(*) AS row_count FROM `{database}`.`{table}`"),
                }],
            })
        })
        .collect();
    json!({
        "uid": format!("cairn-tables-{}-{}", cluster.namespace, cluster.name),
        "title": format!("Cairn {}/{}: tables", cluster.namespace, cluster.name),
        "tags": ["cairn", "starrocks"],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    })
}

/// Dashboards for the Grafana sidecar.
pub fn build_grafana_dashboard_config_maps(cluster: &ValidatedCluster, grafana: &ValidatedGrafana) -> Vec<ConfigMap> {
    let [health_name, tables_name] = dashboard_config_map_names(cluster);
    let dashboards = [
        (health_name, "cairn-health.json", health_dashboard(cluster)),
        (tables_name, "cairn-tables.json", tables_dashboard(cluster, grafana)),
    ];
    dashboards
        .into_iter()
        .map(|(name, file, dashboard)| {
            let mut labels = cluster_labels(cluster);
            labels.insert("grafana_dashboard".to_owned(), "1".to_owned());
            ConfigMap {
                metadata: object_meta(cluster, name, labels),
                data: Some(BTreeMap::from([(file.to_owned(), dashboard.to_string())])),
                ..ConfigMap::default()
            }
        })
        .collect()
}

fn grafana_api_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("grafana.integreatly.org", "v1beta1", kind))
}

/// The ApiResource of GrafanaDatasource and GrafanaDashboard, for apply and delete.
pub fn grafana_api_resources() -> [ApiResource; 2] {
    [grafana_api_resource("GrafanaDatasource"), grafana_api_resource("GrafanaDashboard")]
}

/// GrafanaDatasource and GrafanaDashboard custom resources for grafana-operator.
pub fn build_grafana_operator_resources(cluster: &ValidatedCluster, grafana: &ValidatedGrafana) -> Vec<DynamicObject> {
    let instance_selector = grafana
        .instance_selector
        .as_ref()
        .and_then(|selector| serde_json::to_value(selector).ok())
        .unwrap_or_else(|| json!({"matchLabels": {"dashboards": "grafana"}}));
    let object = |kind: &str, name: String, spec: Value| {
        let mut object = DynamicObject::new(&name, &grafana_api_resource(kind));
        object.metadata = object_meta(cluster, name, cluster_labels(cluster));
        object.data = json!({ "spec": spec });
        object
    };
    let name = datasource_name(cluster);
    let datasource = object(
        "GrafanaDatasource",
        cluster.name.clone(),
        json!({
            "instanceSelector": instance_selector,
            "datasource": {
                "name": name, "uid": name, "type": "mysql", "access": "proxy",
                "url": datasource_url(cluster), "user": GRAFANA_USER,
                "jsonData": {"maxOpenConns": 10},
                "secureJsonData": {"password": "${password}"},
            },
            "valuesFrom": [{
                "targetPath": "secureJsonData.password",
                "valueFrom": {"secretKeyRef": {"name": reader_secret_name(cluster), "key": "password"}},
            }],
        }),
    );
    let dashboard = |suffix: &str, json: Value| {
        object(
            "GrafanaDashboard",
            format!("{}-{suffix}", cluster.name),
            json!({"instanceSelector": instance_selector, "json": json.to_string()}),
        )
    };
    vec![
        datasource,
        dashboard("health", health_dashboard(cluster)),
        dashboard("tables", tables_dashboard(cluster, grafana)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{FULL_SPEC, sample_cluster, sample_dereferenced};
    use crate::validate::validate;

    #[test]
    fn datasource_secret_is_grafana_provisioning() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let grafana = cluster.grafana.clone().ok_or(anyhow::anyhow!("grafana missing"))?;
        let secret = build_grafana_datasource_secret(&cluster, &grafana);
        insta::assert_yaml_snapshot!("grafana_datasource_secret", secret);
        let labels = secret.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("grafana_datasource").map(String::as_str), Some("1"));
        let text = secret
            .string_data
            .as_ref()
            .and_then(|data| data.get("cairn-analytics-demo.yaml"))
            .cloned()
            .ok_or(anyhow::anyhow!("provisioning file missing"))?;
        let provisioning: Value = serde_yaml::from_str(&text)?;
        assert_eq!(provisioning["apiVersion"], 1);
        let source = &provisioning["datasources"][0];
        assert_eq!(source["type"], "mysql");
        assert_eq!(source["url"], "demo-fe.analytics.svc:9030");
        assert_eq!(source["user"], "grafana_reader");
        assert_eq!(source["secureJsonData"]["password"], Value::String(grafana.password.clone()));
        Ok(())
    }

    #[test]
    fn dashboards_are_labelled_and_name_the_tables() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let grafana = cluster.grafana.clone().ok_or(anyhow::anyhow!("grafana missing"))?;
        let config_maps = build_grafana_dashboard_config_maps(&cluster, &grafana);
        assert_eq!(config_maps.len(), 2);
        for config_map in &config_maps {
            let labels = config_map.metadata.labels.clone().unwrap_or_default();
            assert_eq!(labels.get("grafana_dashboard").map(String::as_str), Some("1"));
        }
        let tables = config_maps[1]
            .data
            .as_ref()
            .and_then(|data| data.get("cairn-tables.json"))
            .cloned()
            .unwrap_or_default();
        let dashboard: Value = serde_json::from_str(&tables)?;
        assert_eq!(
            dashboard["panels"][1]["targets"][0]["rawSql"],
            "SELECT COUNT(*) AS row_count FROM `shop`.`orders`"
        );
        insta::assert_json_snapshot!("health_dashboard", health_dashboard(&cluster));
        Ok(())
    }

    #[test]
    fn operator_resources_snapshot() -> anyhow::Result<()> {
        let cluster = validate(&sample_cluster(FULL_SPEC), &sample_dereferenced())?;
        let grafana = cluster.grafana.clone().ok_or(anyhow::anyhow!("grafana missing"))?;
        let resources = build_grafana_operator_resources(&cluster, &grafana);
        insta::assert_yaml_snapshot!("grafana_datasource_resource", resources[0]);
        assert_eq!(resources[0].data["spec"]["instanceSelector"]["matchLabels"]["dashboards"], "grafana");
        Ok(())
    }
}

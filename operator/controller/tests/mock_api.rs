//! Mock-API tests (the tower-test pattern of kube's controller-rs): the client talks to an
//! in-process fake API server that records every request, so the tests can assert the order of
//! apply and what the finalizer does without a cluster.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cairn_operator::apply::apply_cluster_resources;
use cairn_operator::build::build_cluster_resources;
use cairn_operator::controller::{Context, FINALIZER, reconcile};
use cairn_operator::database::{Backend, Connector, Database, DatabaseError, RoutineLoad};
use cairn_operator::dereference::Dereferenced;
use cairn_operator::metrics::Metrics;
use cairn_operator::validate::validate;
use cairn_operator_types::StarRocksCluster;
use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

type Log = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Starts the fake API server. `respond` maps (method, path, body) to (status, body).
fn fake_api<F>(respond: F) -> (kube::Client, Log, tokio::task::JoinHandle<()>)
where
    F: Fn(&Method, &str, &Value) -> (u16, Value) + Send + 'static,
{
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log: Log = Arc::default();
    let server_log = log.clone();
    let server = tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_owned();
            let bytes = request.into_body().collect_bytes().await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (status, reply) = respond(&method, &path, &body);
            if let Ok(mut log) = server_log.lock() {
                log.push((method.to_string(), path, body));
            }
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&reply).unwrap_or_default()));
            if let Ok(response) = response {
                send.send_response(response);
            }
        }
    });
    (kube::Client::new(service, "default"), log, server)
}

fn not_found() -> (u16, Value) {
    (404, json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}))
}

fn ready_statefulset(mut body: Value) -> Value {
    let replicas = body["spec"]["replicas"].as_i64().unwrap_or(1);
    body["metadata"]["generation"] = json!(1);
    body["status"] = json!({
        "observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas,
        "updatedReplicas": replicas, "currentRevision": "r1", "updateRevision": "r1",
    });
    body
}

fn cluster(extra: &str) -> anyhow::Result<StarRocksCluster> {
    let text = format!(
        "apiVersion: starrocks.cairn.dev/v1alpha1\nkind: StarRocksCluster\nmetadata:\n  name: demo\n  namespace: analytics\n  uid: 6f1c1ad2-0000-4000-8000-000000000001\n  generation: 1\n{extra}\nspec:\n  fe: {{replicas: 1, image: cairn}}\n  be: {{replicas: 2, image: cairn}}\n  grafana: {{enabled: true}}\n"
    );
    Ok(serde_yaml::from_str(&text)?)
}

fn requests(log: &Log) -> Vec<String> {
    log.lock().map(|log| log.iter().map(|(method, path, _)| format!("{method} {path}")).collect()).unwrap_or_default()
}

const NS: &str = "/api/v1/namespaces/analytics";
const APPS: &str = "/apis/apps/v1/namespaces/analytics";

#[tokio::test]
async fn apply_goes_config_first_statefulsets_last_fe_before_be() -> anyhow::Result<()> {
    let validated = validate(&cluster("")?, &Dereferenced { generated_password: "pw".into(), ..Dereferenced::default() })
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let resources = build_cluster_resources(&validated);
    let (client, log, server) = fake_api(|method, path, body| match *method {
        Method::PATCH if path.ends_with("/statefulsets/demo-fe") => (200, ready_statefulset(body.clone())),
        Method::PATCH => (200, body.clone()),
        _ => not_found(),
    });
    let applied = apply_cluster_resources(&client, &validated, &resources, None).await?;
    drop(client);
    server.await?;
    assert!(!applied.be_waiting_for_fe);
    // Everything a pod needs is applied (concurrently) before the StatefulSets, FE before BE.
    let mut calls = requests(&log);
    let statefulsets = calls.split_off(calls.len() - 2);
    assert_eq!(statefulsets, [format!("PATCH {APPS}/statefulsets/demo-fe"), format!("PATCH {APPS}/statefulsets/demo-be")]);
    calls.sort();
    let mut expected = vec![
        format!("PATCH {NS}/configmaps/demo-fe-config"),
        format!("PATCH {NS}/configmaps/demo-be-config"),
        format!("PATCH {NS}/configmaps/demo-grafana-dashboard-health"),
        format!("PATCH {NS}/configmaps/demo-grafana-dashboard-tables"),
        format!("PATCH {NS}/secrets/demo-admin"),
        format!("PATCH {NS}/secrets/demo-grafana-datasource"),
        format!("PATCH {NS}/services/demo-fe-search"),
        format!("PATCH {NS}/services/demo-fe"),
        format!("PATCH {NS}/services/demo-be-search"),
        format!("PATCH {NS}/services/demo-be"),
        "PATCH /apis/policy/v1/namespaces/analytics/poddisruptionbudgets/demo-fe".to_owned(),
        "PATCH /apis/policy/v1/namespaces/analytics/poddisruptionbudgets/demo-be".to_owned(),
        // Sidecar mode: the grafana-operator reader Secret is not wanted.
        format!("DELETE {NS}/secrets/demo-grafana-reader"),
    ];
    expected.sort();
    assert_eq!(calls, expected);
    // Server-side apply with the operator's field manager, forced.
    let log = log.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let body = log.iter().find(|(_, path, _)| path.ends_with("/configmaps/demo-fe-config")).map(|(_, _, body)| body.clone());
    assert_eq!(body.as_ref().map(|body| (body["kind"].clone(), body["apiVersion"].clone())), Some((json!("ConfigMap"), json!("v1"))));
    Ok(())
}

#[tokio::test]
async fn be_is_held_back_while_fe_is_not_ready() -> anyhow::Result<()> {
    let validated = validate(&cluster("")?, &Dereferenced::default()).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let resources = build_cluster_resources(&validated);
    let (client, log, server) = fake_api(|method, _path, body| match *method {
        Method::PATCH => (200, body.clone()),
        _ => not_found(),
    });
    let applied = apply_cluster_resources(&client, &validated, &resources, None).await?;
    drop(client);
    server.await?;
    assert!(applied.be_waiting_for_fe);
    assert!(applied.be_statefulset.is_none());
    let requests = requests(&log);
    assert_eq!(requests[requests.len() - 2..], [format!("PATCH {APPS}/statefulsets/demo-fe"), format!("GET {APPS}/statefulsets/demo-be")]);
    Ok(())
}

/// An FE that records statements and keeps a backend list, as `cairn allin1` does:
/// DECOMMISSION marks a backend, DROP removes it, and `refuse_decommission` answers
/// DECOMMISSION with the error a backend holding replicas gets.
#[derive(Default)]
struct FakeDatabase {
    statements: Arc<Mutex<Vec<String>>>,
    backends: Arc<Mutex<Vec<Backend>>>,
    refuse_decommission: bool,
}

impl FakeDatabase {
    fn with_backends(hosts: &[&str], refuse_decommission: bool) -> FakeDatabase {
        let backends = hosts
            .iter()
            .map(|host| Backend { host: (*host).to_owned(), heartbeat_port: 9050, alive: true, decommissioned: false, tablets: 0 })
            .collect();
        FakeDatabase { backends: Arc::new(Mutex::new(backends)), refuse_decommission, ..FakeDatabase::default() }
    }

    fn statements(&self) -> Vec<String> {
        self.statements.lock().map(|statements| statements.clone()).unwrap_or_default()
    }
}

fn host_of(statement: &str) -> String {
    statement.rsplit(' ').next().unwrap_or_default().trim_matches('"').trim_end_matches(":9050").to_owned()
}

#[async_trait]
impl Database for FakeDatabase {
    async fn show_backends(&self) -> Result<Vec<Backend>, DatabaseError> {
        Ok(self.backends.lock().map(|backends| backends.clone()).unwrap_or_default())
    }
    async fn show_routine_loads(&self, _database: &str) -> Result<Vec<RoutineLoad>, DatabaseError> {
        Ok(vec![])
    }
    async fn execute(&self, statement: &str) -> Result<(), DatabaseError> {
        if let Ok(mut statements) = self.statements.lock() {
            statements.push(statement.to_owned());
        }
        let mut backends = self.backends.lock().map_err(|_| DatabaseError::Column { statement: statement.into(), column: "lock".into() })?;
        if statement.starts_with("ALTER SYSTEM DECOMMISSION BACKEND") {
            if self.refuse_decommission {
                let refusal = mysql_async::ServerError { code: 1235, message: "holds 3 tablet replica(s)".into(), state: "42000".into() };
                return Err(DatabaseError::Statement { statement: statement.into(), source: mysql_async::Error::Server(refusal) });
            }
            let host = host_of(statement);
            backends.iter_mut().filter(|backend| backend.host == host).for_each(|backend| backend.decommissioned = true);
        } else if statement.starts_with("ALTER SYSTEM DROP BACKEND") {
            let host = host_of(statement);
            backends.retain(|backend| backend.host != host);
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for FakeDatabase {
    async fn connect(&self, host: &str, port: u16, _password: &str) -> Result<Box<dyn Database>, DatabaseError> {
        if let Ok(mut statements) = self.statements.lock() {
            statements.push(format!("-- connect {host}:{port}"));
        }
        Ok(Box::new(FakeDatabase {
            statements: self.statements.clone(),
            backends: self.backends.clone(),
            refuse_decommission: self.refuse_decommission,
        }))
    }
}

fn context(client: kube::Client, connector: Arc<FakeDatabase>) -> Arc<Context> {
    Arc::new(Context {
        client,
        reporter: Reporter { controller: "cairn-operator".into(), instance: None },
        metrics: Arc::new(Metrics::default()),
        connector,
        observed: None,
    })
}

const CLUSTERS: &str = "/apis/starrocks.cairn.dev/v1alpha1/namespaces/analytics/starrocksclusters/demo";

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_and_nothing_else() -> anyhow::Result<()> {
    let original = cluster("")?;
    let mut with_finalizer = serde_json::to_value(&original)?;
    with_finalizer["metadata"]["finalizers"] = json!([FINALIZER]);
    let (client, log, server) = fake_api(move |method, _path, _body| match *method {
        Method::PATCH => (200, with_finalizer.clone()),
        _ => not_found(),
    });
    let database = Arc::new(FakeDatabase::default());
    let result = reconcile(Arc::new(original), context(client, database.clone())).await;
    assert!(result.is_ok(), "{result:?}");
    server.abort();
    let log = log.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let calls: Vec<String> = log.iter().map(|(method, path, _)| format!("{method} {path}")).collect();
    assert_eq!(calls, [format!("PATCH {CLUSTERS}")]);
    assert!(log[0].2.to_string().contains(FINALIZER), "{}", log[0].2);
    assert!(database.statements.lock().map(|statements| statements.is_empty()).unwrap_or(false));
    Ok(())
}

#[tokio::test]
async fn deletion_cleans_the_database_then_removes_the_finalizer() -> anyhow::Result<()> {
    let extra = format!(
        "  finalizers: [{FINALIZER}]\n  deletionTimestamp: \"2026-01-01T00:00:00Z\"\nstatus:\n  kafkaIngest:\n    - {{name: orders, state: RUNNING, database: shop}}"
    );
    let deleted = cluster(&extra)?;
    let mut without_finalizer = serde_json::to_value(&deleted)?;
    without_finalizer["metadata"]["finalizers"] = json!([]);
    let (client, log, server) = fake_api(move |method, path, body| match *method {
        Method::PATCH if path == CLUSTERS => (200, without_finalizer.clone()),
        Method::POST => (201, body.clone()),
        _ => not_found(),
    });
    let database = Arc::new(FakeDatabase::default());
    let result = reconcile(Arc::new(deleted), context(client, database.clone())).await;
    assert!(result.is_ok(), "{result:?}");
    server.abort();
    assert_eq!(
        database.statements(),
        [
            "-- connect demo-fe.analytics.svc:9030",
            "STOP ROUTINE LOAD FOR `shop`.`orders`",
            "DROP USER IF EXISTS 'grafana_reader'@'%'",
        ]
    );
    let calls = requests(&log);
    assert_eq!(calls.first().map(String::as_str), Some(format!("GET {NS}/secrets/demo-admin").as_str()));
    assert_eq!(calls.last().map(String::as_str), Some(format!("PATCH {CLUSTERS}").as_str()));
    assert!(calls.iter().any(|call| call == "POST /apis/events.k8s.io/v1/namespaces/analytics/events"), "{calls:?}");
    Ok(())
}

fn pod(ordinal: i32) -> String {
    format!("demo-be-{ordinal}.demo-be-search.analytics.svc.cluster.local")
}

/// One reconcile of a cluster asking for 2 BEs while its StatefulSet runs `running`; returns
/// the BE StatefulSet replicas it applied and the status it wrote.
async fn reconcile_scale_in(database: Arc<FakeDatabase>, running: i64) -> anyhow::Result<(Option<i64>, Value)> {
    let cluster = cluster(&format!("  finalizers: [{FINALIZER}]"))?;
    let statefulset = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "demo-be", "namespace": "analytics"},
        "spec": {"replicas": running, "selector": {}, "template": {}},
    });
    let cluster_json = serde_json::to_value(&cluster)?;
    let (client, log, server) = fake_api(move |method, path, body| match *method {
        Method::PATCH if path.ends_with("/demo/status") => {
            let mut updated = cluster_json.clone();
            updated["status"] = body["status"].clone();
            (200, updated)
        }
        Method::GET if path.ends_with("/statefulsets/demo-be") => (200, ready_statefulset(statefulset.clone())),
        Method::PATCH if path.contains("/statefulsets/") => (200, ready_statefulset(body.clone())),
        Method::PATCH | Method::POST => (200, body.clone()),
        _ => not_found(),
    });
    let result = reconcile(Arc::new(cluster), context(client, database)).await;
    server.abort();
    assert!(result.is_ok(), "{result:?}");
    let log = log.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let applied = log
        .iter()
        .find(|(method, path, _)| method == "PATCH" && path.ends_with("/statefulsets/demo-be"))
        .and_then(|(_, _, body)| body["spec"]["replicas"].as_i64());
    let status = log
        .iter()
        .rev()
        .find(|(method, path, _)| method == "PATCH" && path.ends_with("/demo/status"))
        .map(|(_, _, body)| body["status"].clone())
        .unwrap_or(Value::Null);
    Ok((applied, status))
}

fn condition(status: &Value, kind: &str) -> (String, String) {
    let found = status["conditions"].as_array().into_iter().flatten().find(|condition| condition["type"] == kind);
    let field = |name: &str| found.and_then(|condition| condition[name].as_str()).unwrap_or("missing").to_owned();
    (field("status"), field("reason"))
}

#[tokio::test]
async fn scale_in_decommissions_first_then_shrinks_then_drops() -> anyhow::Result<()> {
    let hosts: Vec<String> = (0..4).map(pod).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let database = Arc::new(FakeDatabase::with_backends(&hosts, false));

    // First pass: the leaving ordinals (3, then 2) are decommissioned; every pod stays.
    let (applied, status) = reconcile_scale_in(database.clone(), 4).await?;
    assert_eq!(applied, Some(4));
    assert_eq!(condition(&status, "Progressing"), ("True".into(), "DecommissioningBackends".into()));
    let decommissions: Vec<String> = database.statements().into_iter().filter(|statement| statement.contains("DECOMMISSION")).collect();
    assert_eq!(
        decommissions,
        [format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", pod(3)), format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", pod(2))]
    );

    // Second pass: the FE reports them decommissioned and empty, so the StatefulSet shrinks
    // and the backends are dropped, after the shrink.
    let (applied, status) = reconcile_scale_in(database.clone(), 4).await?;
    assert_eq!(applied, Some(2));
    assert_eq!(condition(&status, "Progressing"), ("False".into(), "RolloutComplete".into()));
    assert_eq!(condition(&status, "Degraded"), ("False".into(), "AsExpected".into()));
    let drops: Vec<String> = database.statements().into_iter().filter(|statement| statement.contains("DROP BACKEND")).collect();
    assert_eq!(drops.len(), 2, "{drops:?}");
    let remaining: Vec<String> = database.backends.lock().map(|backends| backends.iter().map(|backend| backend.host.clone()).collect()).unwrap_or_default();
    assert_eq!(remaining, [pod(0), pod(1)]);
    Ok(())
}

#[tokio::test]
async fn a_refused_decommission_keeps_every_pod_and_degrades() -> anyhow::Result<()> {
    let hosts: Vec<String> = (0..3).map(pod).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let database = Arc::new(FakeDatabase::with_backends(&hosts, true));
    for _ in 0..2 {
        let (applied, status) = reconcile_scale_in(database.clone(), 3).await?;
        assert_eq!(applied, Some(3));
        assert_eq!(condition(&status, "Degraded"), ("True".into(), "ScaleInBlocked".into()));
        assert_eq!(condition(&status, "Available"), ("True".into(), "QueriesServed".into()));
    }
    assert!(!database.statements().iter().any(|statement| statement.contains("DROP BACKEND")));
    Ok(())
}

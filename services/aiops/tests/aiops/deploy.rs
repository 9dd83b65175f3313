//! `aiops deploy`: the Kubernetes API calls it makes, checked against a FAKE API server (an
//! in-test axum server that records requests and plays KServe's status updates), and the
//! `--dry-run` manifest validated against the real KServe CRD schema with unknown fields refused.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use serde_json::{Value, json};

/// One request the fake API server received.
#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    content_type: String,
    body: Value,
}

/// How the fake KServe controller behaves.
#[derive(Debug, Clone, Copy)]
enum Controller {
    /// Ready after this many reads of the object.
    ReadyAfter(usize),
    /// Never Ready: the predictor keeps failing to load the model.
    FailsToLoad,
    /// The API server refuses the apply (admission webhook says no).
    RefusesApply,
}

struct FakeState {
    controller: Controller,
    requests: Vec<Recorded>,
    object: Option<Value>,
    reads: usize,
}

type Shared = Arc<Mutex<FakeState>>;

async fn handle(
    State(state): State<Shared>,
    UrlPath((namespace, name)): UrlPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let query = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let content_type =
        headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.requests.push(Recorded {
        method: method.clone(),
        path: uri.path().to_owned(),
        query,
        content_type,
        body: body_json.clone(),
    });
    match (method, state.controller) {
        (Method::PATCH, Controller::RefusesApply) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "admission webhook denied: storageUri bucket not allowed",
                "reason": "Invalid", "code": 422})),
        )
            .into_response(),
        (Method::PATCH, _) => {
            let mut object = body_json;
            object["metadata"]["namespace"] = json!(namespace);
            object["metadata"]["uid"] = json!("0d9a5b0e-0000-4000-8000-000000000001");
            state.object = Some(object.clone());
            Json(object).into_response()
        }
        (Method::GET, controller) => {
            let Some(mut object) = state.object.clone() else {
                return (StatusCode::NOT_FOUND, Json(json!({"kind": "Status", "code": 404}))).into_response();
            };
            state.reads += 1;
            let ready = matches!(controller, Controller::ReadyAfter(n) if state.reads >= n);
            object["status"] = if ready {
                json!({"url": format!("http://{name}.{namespace}.example.com"),
                       "conditions": [{"type": "Ready", "status": "True"}]})
            } else {
                json!({"conditions": [{"type": "Ready", "status": "False", "reason": "ModelLoadFailed",
                                       "message": "predictor container restarting"}]})
            };
            Json(object).into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// A fake Kubernetes API server for `InferenceService`s on a loopback port, and a kubeconfig
/// pointing at it (context namespace `context-ns`).
struct FakeApiServer {
    state: Shared,
    kubeconfig: tempfile::NamedTempFile,
    _runtime: tokio::runtime::Runtime,
}

impl FakeApiServer {
    fn start(controller: Controller) -> Self {
        let state =
            Arc::new(Mutex::new(FakeState { controller, requests: Vec::new(), object: None, reads: 0 }));
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new()
            .route(
                "/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}",
                any(handle),
            )
            .with_state(state.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        let kubeconfig = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            kubeconfig.path(),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\n\
                 users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: context-ns\n\
                 current-context: fake\n"
            ),
        )
        .unwrap();
        Self { state, kubeconfig, _runtime: runtime }
    }

    fn deploy(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .arg("deploy")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig.path())
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("aiops runs")
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn deploy_applies_then_waits_for_ready_against_fake_api_server() {
    let server = FakeApiServer::start(Controller::ReadyAfter(3));
    let output = server.deploy(&[
        "--name",
        "cpu-iforest",
        "--namespace",
        "team-a",
        "--service-account",
        "kserve-s3",
        "--runtime",
        "aiops-iforest",
        "--canary-percent",
        "25",
        "--model-artifact-uri",
        "minio://mlpipeline/v2/artifacts/run-1/train/model",
        "--timeout",
        "30",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "http://cpu-iforest.team-a.example.com");

    let requests = server.requests();
    let path = "/apis/serving.kserve.io/v1beta1/namespaces/team-a/inferenceservices/cpu-iforest";
    let apply = &requests[0];
    assert_eq!((apply.method.clone(), apply.path.as_str()), (Method::PATCH, path));
    assert_eq!(apply.content_type, "application/apply-patch+yaml", "server-side apply");
    assert_eq!(apply.query.get("fieldManager").map(String::as_str), Some("aiops"));
    assert_eq!(apply.query.get("force").map(String::as_str), Some("true"));
    let predictor = &apply.body["spec"]["predictor"];
    assert_eq!(predictor["canaryTrafficPercent"], 25);
    assert_eq!(predictor["serviceAccountName"], "kserve-s3");
    assert_eq!(predictor["model"]["storageUri"], "s3://mlpipeline/v2/artifacts/run-1/train/model");
    assert_eq!(predictor["model"]["modelFormat"]["name"], "aiops-iforest");
    assert_eq!(predictor["model"]["runtime"], "aiops-iforest");
    assert_eq!(apply.body["kind"], "InferenceService");
    // Then reads until Ready, and nothing else.
    let reads: Vec<_> = requests[1..].iter().map(|r| (r.method.clone(), r.path.as_str())).collect();
    assert_eq!(reads, vec![(Method::GET, path); 3]);
}

#[test]
fn deploy_uses_the_context_namespace_when_none_is_given_against_fake_api_server() {
    let server = FakeApiServer::start(Controller::ReadyAfter(1));
    let output = server.deploy(&["--storage-uri", "s3://models/iforest", "--no-wait"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "--no-wait applies and returns: {requests:?}");
    assert_eq!(
        requests[0].path,
        "/apis/serving.kserve.io/v1beta1/namespaces/context-ns/inferenceservices/aiops-iforest"
    );
    assert!(requests[0].body["spec"]["predictor"].get("canaryTrafficPercent").is_none());
}

#[test]
fn deploy_times_out_with_kserves_reason_against_fake_api_server() {
    let server = FakeApiServer::start(Controller::FailsToLoad);
    let output = server.deploy(&["--storage-uri", "s3://models/iforest", "--timeout", "1"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("was not Ready after 1s"), "{stderr}");
    assert!(stderr.contains("ModelLoadFailed: predictor container restarting"), "{stderr}");
}

#[test]
fn deploy_reports_a_refused_apply_against_fake_api_server() {
    let server = FakeApiServer::start(Controller::RefusesApply);
    let output = server.deploy(&["--storage-uri", "s3://models/iforest"]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("applying InferenceService aiops-iforest"), "{stderr}");
    assert!(stderr.contains("storageUri bucket not allowed"), "{stderr}");
    assert_eq!(server.requests().len(), 1, "no waiting after a refused apply");
}

#[test]
fn dry_run_touches_nothing_against_fake_api_server() {
    let server = FakeApiServer::start(Controller::ReadyAfter(1));
    let output = server.deploy(&["--storage-uri", "s3://models/iforest", "--dry-run"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kind: InferenceService"));
    assert!(server.requests().is_empty());
}

#[test]
fn bad_flags_are_refused_naming_the_field() {
    for (args, field) in [
        (&["--storage-uri", "/local/model", "--dry-run"][..], "storage_uri"),
        (&["--storage-uri", "s3://m", "--name", "Not_A_Name", "--dry-run"], "name"),
        (&["--storage-uri", "s3://m", "--canary-percent", "150", "--dry-run"], "canary_percent"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_aiops")).arg("deploy").args(args).output().unwrap();
        assert!(!output.status.success());
        assert!(text(&output.stderr).contains(&format!("invalid {field}")), "{}", text(&output.stderr));
    }
}

/// Validates YAML manifests against the InferenceService CRD's v1beta1 schema with jsonschema,
/// after closing every object schema that lists its properties (`additionalProperties: false`,
/// as the API server's pruning would drop unknown fields silently). Prints one line per manifest:
/// `ok` or the first error.
const VALIDATE: &str = r#"
import json, sys, yaml, jsonschema
crd_path, manifests = sys.argv[1], json.load(sys.stdin)
crd = yaml.safe_load(open(crd_path))
schema = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")["schema"]["openAPIV3Schema"]
def close(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        for value in node.values():
            close(value)
    elif isinstance(node, list):
        for value in node:
            close(value)
close(schema)
schema["properties"]["metadata"] = {"type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                   "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}
for manifest in manifests:
    try:
        jsonschema.validate(yaml.safe_load(manifest), schema)
        print("ok")
    except jsonschema.ValidationError as e:
        print("invalid:", e.message)
"#;

fn validate_against_crd(python: &Path, crd: &Path, manifests: &[String]) -> Vec<String> {
    let mut child = Command::new(python)
        .args(["-c", VALIDATE])
        .arg(crd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    serde_json::to_writer(child.stdin.take().unwrap(), manifests).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn dry_run_manifests_validate_against_the_kserve_crd() {
    let (shared, python) = (aiops_testkit::require_shared_dir(), aiops_testkit::require_python());
    let crd = shared.join("crds/kserve/serving.kserve.io_inferenceservices.yaml");
    let dry_run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["deploy", "--dry-run"])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let minimal = dry_run(&["--storage-uri", "s3://models/iforest"]);
    let full = dry_run(&[
        "--storage-uri",
        "gs://models/iforest",
        "--namespace",
        "aiops",
        "--service-account",
        "sa",
        "--runtime",
        "aiops-iforest",
        "--canary-percent",
        "10",
    ]);
    // The validator must be able to say no: the same manifest with one unknown field.
    let unknown_field =
        full.replace("canaryTrafficPercent: 10", "canaryTrafficPercent: 10\n    canaryPercent: 10");
    assert_ne!(unknown_field, full);
    let verdicts = validate_against_crd(&python, &crd, &[minimal, full, unknown_field]);
    assert_eq!(verdicts[..2], ["ok", "ok"]);
    assert!(verdicts[2].starts_with("invalid:") && verdicts[2].contains("canaryPercent"), "{verdicts:?}");
}

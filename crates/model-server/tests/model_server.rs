//! The model server over real HTTP on loopback, driven by our `aiops-kserve-client` and by raw
//! requests: health, metadata, predictions equal to the library's, every kind of bad request,
//! metrics, hot reload without failed requests, model file discovery and graceful shutdown.

use std::path::Path;
use std::time::{Duration, Instant};

use aiops_iforest::{IsolationForest, IsolationForestParams, MODEL_FILE_NAME, Model};
use aiops_kserve_client::{Client, Datatype, Output};
use aiops_model_server::{Error, ModelServer, ServerConfig, resolve_model_file};
use ndarray::Array2;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const FEATURES: [&str; 5] = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"];
const NAME: &str = "sklearn-iris";

/// Deterministic pseudo-random rows (xorshift), with a few far outliers at the end.
fn rows(n: usize, seed: u64) -> Array2<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n, FEATURES.len()), |(i, j)| {
        let base = next() * 10.0 + j as f64;
        if i + 5 >= n { base * 20.0 + 100.0 } else { base }
    })
}

fn fit(seed: u64) -> Model {
    let x = rows(400, seed);
    let params = IsolationForestParams { seed, ..IsolationForestParams::reference() };
    let forest = IsolationForest::fit(&params, x.view()).expect("fit");
    Model::new(forest, FEATURES.iter().map(|s| (*s).to_owned()).collect(), None, x.view()).expect("model")
}

/// Writes `model` to `path` the way `aiops train` does: a temporary file renamed over the target.
fn write_model(path: &Path, model: &Model) {
    let temporary = path.with_extension("partial");
    std::fs::write(&temporary, model.to_bytes()).expect("write model");
    std::fs::rename(&temporary, path).expect("rename model");
}

struct TestServer {
    url: String,
    client: Client,
    server: ModelServer,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<aiops_model_server::Result<()>>,
}

impl TestServer {
    async fn start(config: ServerConfig) -> Self {
        let server = ModelServer::load(config.check().expect("valid config")).await.expect("model loads");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(server.clone().serve(listener, async {
            let _ = stop.await;
        }));
        let client = Client::new(&url).expect("client");
        Self { url, client, server, shutdown: Some(shutdown), task }
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response =
            reqwest::Client::new().post(format!("{}{path}", self.url)).body(body).send().await.expect("send");
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url)).await.expect("metrics").text().await.expect("text")
    }

    async fn stop(mut self) {
        let _ = self.shutdown.take().expect("running").send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("task")
            .expect("serve ends cleanly");
    }
}

/// `path` as a model location.
fn location(path: &Path) -> String {
    path.display().to_string()
}

fn model_dir(model: &Model) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write_model(&dir.path().join(MODEL_FILE_NAME), model);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_metadata_and_predictions_equal_to_the_library() {
    let model = fit(42);
    let dir = model_dir(&model);
    let server = TestServer::start(ServerConfig::new(location(dir.path()), NAME)).await;
    let client = &server.client;
    assert!(client.server_live().await.unwrap());
    assert!(client.server_ready().await.unwrap());
    assert!(client.model_ready(NAME, None).await.unwrap());
    assert!(client.model_ready(NAME, Some("1")).await.unwrap());
    assert!(!client.model_ready("other", None).await.unwrap());
    assert_eq!(client.server_metadata().await.unwrap().name, "aiops-model-server");

    let metadata = client.model_metadata(NAME, Some("1")).await.unwrap();
    assert_eq!((metadata.name.as_str(), metadata.versions.as_slice()), (NAME, &["1".to_owned()][..]));
    assert_eq!(metadata.inputs[0].shape, vec![-1, 5]);
    assert_eq!(metadata.inputs[0].parameters["feature_names"], json!(FEATURES));
    let outputs: Vec<_> = metadata.outputs.iter().map(|o| (o.name.as_str(), o.datatype)).collect();
    assert_eq!(
        outputs,
        [("predict", Datatype::Int64), ("score", Datatype::Fp64), ("decision_function", Datatype::Fp64)]
    );
    assert_eq!(metadata.parameters["model_digest"], json!(model.digest()));

    for n in [1, 100] {
        let x = rows(n, 7);
        let predictions =
            client.infer_matrix(NAME, x.view(), &[Output::Score, Output::Decision]).await.unwrap();
        assert_eq!(predictions.predict, model.forest.predict(x.view()).unwrap().to_vec());
        assert_eq!(predictions.score.unwrap(), model.forest.score_samples(x.view()).unwrap().to_vec());
        assert_eq!(predictions.decision.unwrap(), model.forest.decision_function(x.view()).unwrap().to_vec());
    }
    // The outliers at the end of `rows` are flagged.
    let predictions = client.infer_matrix(NAME, rows(100, 7).view(), &[]).await.unwrap();
    assert!(predictions.predict[95..].iter().all(|&p| p == -1), "{:?}", predictions.predict);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_nested_or_flat_data_and_every_numeric_datatype() {
    let model = fit(42);
    let dir = model_dir(&model);
    let server = TestServer::start(ServerConfig::new(location(dir.path()), NAME)).await;
    let row = [3.0, 4.0, 5.0, 6.0, 7.0];
    let expected = model.forest.score_samples(ndarray::aview2(&[row])).unwrap()[0];
    for (datatype, data) in [
        ("FP64", json!([row])),
        ("FP64", json!(row)),
        ("FP32", json!([[3.0, 4.0, 5.0, 6.0, 7.0]])),
        ("INT64", json!([[3, 4, 5, 6, 7]])),
        ("INT8", json!([3, 4, 5, 6, 7])),
        ("UINT16", json!([[3, 4, 5, 6, 7]])),
    ] {
        let body = json!({"id": "r1", "inputs": [{"name": "x", "shape": [1, 5], "datatype": datatype, "data": data}],
                          "outputs": [{"name": "score"}, {"name": "predict", "parameters": {"binary_data": false}}]});
        let (status, response) = server.post(&format!("/v2/models/{NAME}/infer"), body.to_string()).await;
        assert_eq!(status, 200, "{datatype} {data}: {response}");
        assert_eq!(response["id"], "r1");
        assert_eq!(response["model_name"], NAME);
        assert_eq!(response["outputs"][0]["name"], "score");
        assert_eq!(response["outputs"][0]["shape"], json!([1]));
        assert_eq!(response["outputs"][0]["data"][0].as_f64(), Some(expected), "{datatype}");
        assert_eq!(response["outputs"][1]["datatype"], "INT64");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_json_error_and_the_server_keeps_serving() {
    let model = fit(42);
    let dir = model_dir(&model);
    let mut config = ServerConfig::new(location(dir.path()), NAME);
    config.limits.max_body_bytes = 64 * 1024;
    let server = TestServer::start(config).await;
    let infer = format!("/v2/models/{NAME}/infer");
    let input = |shape: Value, datatype: &str, data: Value| {
        json!({"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": data}]}).to_string()
    };
    let ten: Vec<f64> = (0..10).map(f64::from).collect();
    let oversized = input(json!([4000, 5]), "FP64", json!(vec![1.5; 20_000]));
    let cases: Vec<(&str, String, String, u16, &str)> = vec![
        (
            "wrong feature count",
            infer.clone(),
            input(json!([2, 4]), "FP64", json!(&ten[..8])),
            400,
            "the model expects 5",
        ),
        (
            "one-dimensional shape",
            infer.clone(),
            input(json!([5]), "FP64", json!(&ten[..5])),
            400,
            "must be [rows, 5]",
        ),
        (
            "negative shape",
            infer.clone(),
            input(json!([-2, 5]), "FP64", json!(ten)),
            400,
            "must be [rows, 5]",
        ),
        (
            "strings as FP64",
            infer.clone(),
            input(json!([1, 5]), "FP64", json!(["a", "b", "c", "d", "e"])),
            400,
            "does not match",
        ),
        (
            "BYTES datatype",
            infer.clone(),
            input(json!([1, 5]), "BYTES", json!(["a", "b", "c", "d", "e"])),
            400,
            "datatype BYTES",
        ),
        (
            "fractions as INT64",
            infer.clone(),
            input(json!([1, 5]), "INT64", json!([1.5, 2, 3, 4, 5])),
            400,
            "datatype INT64",
        ),
        (
            "INT8 out of range",
            infer.clone(),
            input(json!([1, 5]), "INT8", json!([1, 2, 300, 4, 5])),
            400,
            "out of range",
        ),
        (
            "unknown datatype",
            infer.clone(),
            input(json!([1, 5]), "FLOAT", json!(&ten[..5])),
            400,
            "unknown variant",
        ),
        (
            "too few values",
            infer.clone(),
            input(json!([2, 5]), "FP64", json!(&ten[..9])),
            400,
            "needs 10 elements, but data has 9",
        ),
        (
            "too many values",
            infer.clone(),
            input(json!([1, 5]), "FP64", json!(ten)),
            400,
            "needs 5 elements, but data has 10",
        ),
        (
            "NaN",
            infer.clone(),
            r#"{"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP64", "data": [1, NaN, 3, 4, 5]}]}"#
                .into(),
            400,
            "NaN and Infinity are not valid JSON",
        ),
        (
            "malformed JSON",
            infer.clone(),
            r#"{"inputs": [{"name": "#.into(),
            400,
            "invalid inference request",
        ),
        ("no inputs", infer.clone(), r#"{"inputs": []}"#.into(), 400, "exactly one input tensor, got 0"),
        (
            "unknown output",
            infer.clone(),
            json!({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP64", "data": &ten[..5]}],
                   "outputs": [{"name": "predict_proba"}]})
            .to_string(),
            400,
            "unknown output \"predict_proba\"",
        ),
        (
            "binary output",
            infer.clone(),
            json!({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP64", "data": &ten[..5]}],
                   "outputs": [{"name": "predict", "parameters": {"binary_data": true}}]})
            .to_string(),
            400,
            "binary_data is not supported",
        ),
        ("oversized body", infer.clone(), oversized, 413, "more than the limit of 65536 bytes"),
        (
            "unknown model",
            "/v2/models/other/infer".into(),
            input(json!([1, 5]), "FP64", json!(&ten[..5])),
            404,
            "other does not exist",
        ),
        (
            "unknown version",
            format!("/v2/models/{NAME}/versions/7/infer"),
            input(json!([1, 5]), "FP64", json!(&ten[..5])),
            404,
            "has no version 7",
        ),
        ("unknown endpoint", "/v2/nothing".into(), "{}".into(), 404, "no such endpoint"),
    ];
    let good = input(json!([1, 5]), "FP64", json!(&ten[..5]));
    for (case, path, body, status, message) in cases {
        let (actual, response) = server.post(&path, body).await;
        assert_eq!(actual, status, "{case}: {response}");
        let error =
            response["error"].as_str().unwrap_or_else(|| panic!("{case}: no error string in {response}"));
        assert!(error.contains(message), "{case}: {error:?} lacks {message:?}");
        let (after, response) = server.post(&infer, good.clone()).await;
        assert_eq!(after, 200, "after {case}: {response}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_rows_and_anomalies() {
    let model = fit(42);
    let dir = model_dir(&model);
    let server = TestServer::start(ServerConfig::new(location(dir.path()), NAME)).await;
    let x = rows(100, 7);
    let predictions = server.client.infer_matrix(NAME, x.view(), &[]).await.unwrap();
    let anomalies = predictions.predict.iter().filter(|&&p| p == -1).count();
    assert!(anomalies > 0);
    server.client.infer_matrix(NAME, x.view(), &[Output::Score]).await.unwrap();
    let _ = server.post("/v2/models/other/infer", "{}").await;
    let text = server.metrics().await;
    for line in [
        "aiops_model_rows_scored_total 200".to_owned(),
        format!("aiops_model_anomalies_total {}", 2 * anomalies),
        "aiops_model_requests_total{route=\"/v2/models/{name}/infer\",code=\"200\"} 2".to_owned(),
        "aiops_model_requests_total{route=\"/v2/models/{name}/infer\",code=\"404\"} 1".to_owned(),
        "aiops_model_request_duration_seconds_count{route=\"/v2/models/{name}/infer\",code=\"200\"} 2"
            .to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    server.stop().await;
}

/// Polls `check` every 20 ms until it holds; panics after 10 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_a_changed_model_without_failing_a_request() {
    let (old, new) = (fit(42), fit(7));
    assert_ne!(old.digest(), new.digest());
    let dir = model_dir(&old);
    let mut config = ServerConfig::new(location(dir.path()), NAME);
    config.reload_interval = Some(Duration::from_millis(30));
    let server = TestServer::start(config).await;
    let x = rows(20, 3);

    // Requests run without pause while the model is replaced; every one must succeed.
    let (stop_load, mut stopped) = oneshot::channel::<()>();
    let client = server.client.clone();
    let load = tokio::spawn(async move {
        let mut served = 0usize;
        let rows = rows(20, 3);
        while stopped.try_recv().is_err() {
            client
                .infer_matrix(NAME, rows.view(), &[Output::Score])
                .await
                .expect("no request fails during a reload");
            served += 1;
        }
        served
    });
    write_model(&dir.path().join(MODEL_FILE_NAME), &new);
    eventually("the swap to the new model", async || server.server.model_digest() == new.digest()).await;
    let predictions = server.client.infer_matrix(NAME, x.view(), &[Output::Score]).await.unwrap();
    assert_eq!(predictions.score.unwrap(), new.forest.score_samples(x.view()).unwrap().to_vec());

    // A file that does not load leaves the current model in place.
    std::fs::write(dir.path().join("broken.partial"), b"AIOPSIF\0 truncated").unwrap();
    std::fs::rename(dir.path().join("broken.partial"), dir.path().join(MODEL_FILE_NAME)).unwrap();
    eventually("the failed reload", async || {
        server.metrics().await.contains("aiops_model_reloads_total{outcome=\"failed\"} 1")
    })
    .await;
    assert_eq!(server.server.model_digest(), new.digest());
    let _ = stop_load.send(());
    assert!(load.await.expect("load task") > 0);
    let predictions = server.client.infer_matrix(NAME, x.view(), &[Output::Score]).await.unwrap();
    assert_eq!(predictions.score.unwrap(), new.forest.score_samples(x.view()).unwrap().to_vec());
    assert!(server.metrics().await.contains("aiops_model_reloads_total{outcome=\"loaded\"} 1"));
    server.stop().await;
}

#[test]
fn resolve_model_file_finds_the_file_kserve_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let model = fit(42).to_bytes();
    // (folder, files in it, the file served or the error message)
    let table: [(&str, &[&str], Result<&str, &str>); 7] = [
        ("empty", &[], Err("expected model.iforest, one *.iforest file or a single file")),
        ("single", &["anomaly.iforest", "README.md"], Ok("anomaly.iforest")),
        ("standard", &[MODEL_FILE_NAME, "older.iforest"], Ok(MODEL_FILE_NAME)),
        (
            "two",
            &["b.iforest", "a.iforest"],
            Err("2 *.iforest files and no model.iforest (a.iforest, b.iforest)"),
        ),
        // A Kubeflow Pipelines model artifact: a file named `model`, no extension; folders don't count.
        ("kfp", &["model", "sub/model.iforest"], Ok("model")),
        (
            "kfp-and-notes",
            &["model", "notes.txt"],
            Err("2 regular files and no model.iforest (model, notes.txt)"),
        ),
        ("only-a-subfolder", &["sub/model.iforest"], Err("expected model.iforest")),
    ];
    for (folder, files, expected) in table {
        let folder = dir.path().join(folder);
        std::fs::create_dir(&folder).unwrap();
        for file in files {
            let file = folder.join(file);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, &model).unwrap();
        }
        match (resolve_model_file(&folder), expected) {
            (Ok(found), Ok(name)) => assert_eq!(found, folder.join(name)),
            (Err(error), Err(message)) => assert!(
                matches!(error, Error::Artifact(aiops_artifacts::Error::ModelNotFound { .. }))
                    && error.to_string().contains(message),
                "{folder:?}: {error}"
            ),
            (found, expected) => panic!("{folder:?}: {found:?}, expected {expected:?}"),
        }
    }
    let file = dir.path().join("single/anomaly.iforest");
    assert_eq!(resolve_model_file(&file).unwrap(), file);
    assert!(matches!(
        resolve_model_file(&dir.path().join("missing")),
        Err(Error::Artifact(aiops_artifacts::Error::Io { .. }))
    ));
}

#[tokio::test]
async fn a_model_file_that_does_not_load_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MODEL_FILE_NAME), b"pickle? no").unwrap();
    let error =
        ModelServer::load(ServerConfig::new(location(dir.path()), NAME).check().unwrap()).await.unwrap_err();
    assert!(matches!(error, Error::Artifact(aiops_artifacts::Error::Model { .. })), "{error}");
}

#[test]
fn config_check_names_the_bad_field() {
    type Breakage = fn(&mut ServerConfig);
    let base = ServerConfig::new("/mnt/models", NAME);
    let cases: [(&str, Breakage); 8] = [
        ("model_name", |c| c.model_name.clear()),
        ("model_name", |c| c.model_name = "a/b".into()),
        ("model_version", |c| c.model_version = "v?1".into()),
        ("max_body_bytes", |c| c.limits.max_body_bytes = 0),
        ("max_inflight_body_bytes", |c| c.limits.max_inflight_body_bytes = 1),
        ("header_timeout", |c| c.limits.header_timeout = Duration::ZERO),
        ("allowed_host", |c| c.allowed_hosts = vec!["evil.example/path".into()]),
        ("reload_interval", |c| c.reload_interval = Some(Duration::ZERO)),
    ];
    for (field, break_it) in cases {
        let mut config = base.clone();
        break_it(&mut config);
        let error = config.check().unwrap_err();
        assert!(
            matches!(&error, Error::InvalidParameter { field: f, .. } if *f == field),
            "{field}: {error}"
        );
    }
    assert!(base.check().is_ok());
}

/// A raw HTTP/1.1 exchange: sends `request`, returns the status and the body.
async fn raw(url: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream =
        tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered and closed within 10 s")
        .expect("read");
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_and_browser_simple_requests_are_refused() {
    let model = fit(42);
    let dir = model_dir(&model);
    let mut config = ServerConfig::new(location(dir.path()), NAME);
    config.allowed_hosts = vec!["aiops-model.aiops.svc".into()];
    let server = TestServer::start(config).await;
    let body =
        json!({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP64", "data": [1, 2, 3, 4, 5]}]})
            .to_string();
    let infer = |hosts: &[&str], content_type: &str| {
        let mut head = format!("POST /v2/models/{NAME}/infer HTTP/1.1\r\n");
        for host in hosts {
            head.push_str(&format!("Host: {host}\r\n"));
        }
        if !content_type.is_empty() {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        format!("{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    };
    let cases: [(&[&str], &str, u16, &str); 9] = [
        (&["localhost:8080"], "application/json", 200, ""),
        (&["aiops-model.aiops.svc"], "application/json; charset=utf-8", 200, ""),
        (&["127.0.0.1"], "", 200, ""),
        (&["attacker.example"], "application/json", 403, "Host header is not allowed"),
        (&["localhost", "attacker.example"], "application/json", 400, "more than one Host header"),
        (&["localhost"], "text/plain", 415, "must be application/json, not text/plain"),
        (&["localhost"], "application/x-www-form-urlencoded", 415, "must be application/json"),
        (&["localhost"], "multipart/form-data; boundary=x", 415, "must be application/json"),
        (&["localhost"], "application/vnd.api+json", 200, ""),
    ];
    for (hosts, content_type, expected, message) in cases {
        let (status, answer) = raw(&server.url, &infer(hosts, content_type)).await;
        assert_eq!(status, expected, "{hosts:?} {content_type:?}: {answer}");
        assert!(answer.contains(message), "{hosts:?} {content_type:?}: {answer}");
    }
    // Probes and metrics answer any Host: kubelet sends the pod's IP.
    let probe = "GET /v2/health/ready HTTP/1.1\r\nHost: 10.1.2.3:8080\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(&server.url, probe).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_gets_408_and_shutdown_does_not_wait_for_it() {
    let model = fit(42);
    let dir = model_dir(&model);
    let mut config = ServerConfig::new(location(dir.path()), NAME);
    config.limits.body_timeout = Duration::from_millis(300);
    config.limits.shutdown_timeout = Duration::from_millis(300);
    let server = TestServer::start(config).await;
    let stalled = format!(
        "POST /v2/models/{NAME}/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{{\"in"
    );
    let (status, answer) = raw(&server.url, &stalled).await;
    assert_eq!(status, 408, "{answer}");
    assert!(answer.contains(r#"{"error":"the request body did not arrive"#), "{answer}");
    // A half-open request when shutdown starts: the server stops at the deadline regardless.
    use tokio::io::AsyncWriteExt;
    let mut half_open =
        tokio::net::TcpStream::connect(server.url.trim_start_matches("http://")).await.unwrap();
    half_open
        .write_all(b"POST /v2/models/x/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 9\r\n\r\n{")
        .await
        .unwrap();
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(3), "stopped after {:?}", started.elapsed());
}

/// The model file the Python conformance tests (tests/python/test_serving.py) serve: `fit(42)`.
/// Regenerate with `AIOPS_UPDATE_GOLDEN=1 cargo test -p aiops-model-server golden`.
#[test]
fn golden_model_fixture_is_fit_42() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(MODEL_FILE_NAME);
    let expected = fit(42);
    if std::env::var_os("AIOPS_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_model(&path, &expected);
    }
    let bytes = std::fs::read(&path).expect("the golden model (AIOPS_UPDATE_GOLDEN=1 writes it)");
    let golden = Model::from_bytes(&bytes).expect("the golden model loads");
    assert_eq!(golden.forest, expected.forest, "fit(42) changed: regenerate the golden model");
    assert_eq!(golden.metadata.feature_names, FEATURES);
}

#[path = "model_server/invariants.rs"]
mod invariants;

/// The deterministic half of fuzzing the v2 request decoder (issue 15; the other half is
/// `fuzz/fuzz_targets/v2_request.rs`), run by every `cargo test`: valid requests with each
/// scalar set to each extreme value and each member removed, then 20,000 seeded byte-level
/// mutations; every body is decoded or refused, never a panic, and accepted ones round-trip.
#[test]
fn every_mutation_of_valid_v2_requests_is_decoded_or_refused_and_accepted_ones_round_trip() {
    use aiops_testkit::mutate::{Mutator, json_variants};
    let seeds = [
        json!({"id": "a", "inputs": [{"name": "input-0", "shape": [2, 2], "datatype": "FP64", "data": [[1.0, 2.0], [3.5, -4.0]]}]}),
        json!({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [1, 2.5, 3, 4, 5e-3],
            "parameters": {"content_type": "np"}}],
            "outputs": [{"name": "score"}, {"name": "predict", "parameters": {"binary_data": false}}, {"name": "score"}]}),
        json!({"parameters": {"binary_data_output": false},
            "inputs": [{"name": "i", "shape": [3, 1], "datatype": "UINT8", "data": [0, 255, 7]}],
            "outputs": [{"name": "decision_function"}]}),
        json!({"inputs": [{"name": "i", "shape": [1, 2], "datatype": "INT64", "data": [-9007199254740993_i64, i64::MAX]}]}),
    ];
    let bodies: Vec<Vec<u8>> = seeds.iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
    for body in &bodies {
        assert_eq!(invariants::check_request(body), 1, "{}", String::from_utf8_lossy(body));
    }
    let (mut tried, mut accepted) = (0, 0);
    for variant in seeds.iter().flat_map(json_variants) {
        accepted += invariants::check_request(&serde_json::to_vec(&variant).unwrap());
        tried += 1;
    }
    let bodies: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    for body in Mutator::new(15).variants(&bodies, 20_000) {
        accepted += invariants::check_request(&body);
        tried += 1;
    }
    assert!(tried > 20_000 && accepted > 100, "{accepted} of {tried} variants accepted");
}

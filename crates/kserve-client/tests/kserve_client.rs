//! `aiops-kserve-client` against a real MLServer 1.7.1 (mlserver-sklearn) serving a scikit-learn
//! IsolationForest trained here by the MLServer venv's Python: health, metadata and inference
//! work, and predictions equal scikit-learn's. Plus the wire types against bodies real peers send,
//! and answers past `max_answer_bytes` refused.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aiops_kserve_client::{
    Client, ClientConfig, Datatype, Error, InferenceRequest, InferenceResponse, ModelMetadata, TensorData,
};
use aiops_testkit::http::{padded_answer, raw_server};
use aiops_testkit::{ChildGuard, free_port, require, run_python, workspace_root};
use ndarray::Array2;

/// Trains an IsolationForest (reference parameters), saves it with joblib as MLServer's sklearn
/// runtime expects, and prints the test rows and scikit-learn's predictions for them as JSON.
const TRAIN: &str = r#"
import json, sys, joblib, numpy as np
from sklearn.ensemble import IsolationForest
rng = np.random.default_rng(0)
x = rng.normal(size=(300, 5))
model = IsolationForest(n_estimators=100, contamination=0.05, random_state=42).fit(x)
joblib.dump(model, sys.argv[1])
rows = np.vstack([rng.normal(size=(30, 5)), np.full((3, 5), 8.0)])
print(json.dumps({"rows": rows.tolist(), "predict": model.predict(rows).tolist()}))
"#;

fn require_mlserver_venv() -> PathBuf {
    let venv = std::env::var_os("AIOPS_MLSERVER_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/mlserver"));
    if !venv.join("bin/mlserver").exists() {
        require(&format!("MLServer at {} (set AIOPS_MLSERVER_VENV)", venv.display()));
    }
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talks_to_a_real_mlserver_and_predictions_equal_scikit_learn() {
    let venv = require_mlserver_venv();
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("iforest");
    std::fs::create_dir(&model_dir).unwrap();
    let model_file = model_dir.join("model.joblib");
    let script = format!("import sys; sys.argv = ['train', {:?}]\n{TRAIN}", model_file.display().to_string());
    let oracle: serde_json::Value =
        serde_json::from_slice(&run_python(&venv.join("bin/python"), &script, b"")).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_value(oracle["rows"].clone()).unwrap();
    let expected: Vec<i64> = serde_json::from_value(oracle["predict"].clone()).unwrap();

    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    let settings = serde_json::json!({"http_port": http, "grpc_port": grpc, "metrics_port": metrics,
                                      "parallel_workers": 0, "host": "127.0.0.1"});
    std::fs::write(dir.path().join("settings.json"), settings.to_string()).unwrap();
    let model_settings = serde_json::json!({"name": "sklearn-iris", "implementation": "mlserver_sklearn.SKLearnModel",
                                            "parameters": {"uri": "./model.joblib", "version": "v1"}});
    std::fs::write(model_dir.join("model-settings.json"), model_settings.to_string()).unwrap();
    let _mlserver = ChildGuard(
        Command::new(venv.join("bin/mlserver"))
            .arg("start")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start mlserver"),
    );

    let client = Client::new(&format!("http://127.0.0.1:{http}")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while !matches!(client.model_ready("sklearn-iris", None).await, Ok(true)) {
        assert!(Instant::now() < deadline, "MLServer did not get the model ready within 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(client.server_live().await.unwrap());
    assert!(client.server_ready().await.unwrap());
    assert!(client.model_ready("sklearn-iris", Some("v1")).await.unwrap());
    assert_eq!(client.server_metadata().await.unwrap().name, "mlserver");
    let metadata = client.model_metadata("sklearn-iris", None).await.unwrap();
    assert_eq!(metadata.name, "sklearn-iris");

    let matrix = Array2::from_shape_vec((rows.len(), 5), rows.concat()).unwrap();
    let predictions = client.infer_matrix("sklearn-iris", matrix.view(), &[]).await.unwrap();
    assert_eq!(predictions.predict, expected);
    assert!(expected[30..].iter().all(|&p| p == -1));
    assert_eq!((predictions.score, predictions.decision), (None, None));

    // MLServer's errors come back as Status errors carrying its message.
    match client.infer_matrix("no-such-model", matrix.view(), &[]).await {
        Err(Error::Status { status: 404, message, .. }) => {
            assert!(message.contains("no-such-model"), "{message}");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    // A server that is not there is an error after the retries, not a hang.
    let gone = Client::new(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    assert!(matches!(gone.server_live().await, Err(Error::Http { .. })));
}

#[test]
fn wire_types_accept_what_real_peers_send() {
    // MLServer's inference response: null parameters on outputs, extra fields, nested data.
    let response: InferenceResponse = serde_json::from_str(
        r#"{"model_name":"m","model_version":null,"id":"1","parameters":null,"extra":1,
            "outputs":[{"name":"predict","shape":[2,1],"datatype":"INT64","parameters":null,"data":[[1],[-1]]}]}"#,
    )
    .unwrap();
    assert_eq!(response.model_version, None);
    assert_eq!(response.output("predict").unwrap().to_i64().unwrap(), [1, -1]);
    // Triton-style request with binary_data output parameters.
    let request: InferenceRequest = serde_json::from_str(
        r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[0.1,2]}],
            "outputs":[{"name":"score","parameters":{"binary_data":false}},{"name":"p","parameters":{"binary_data":true}}]}"#,
    )
    .unwrap();
    let outputs = request.outputs.as_ref().unwrap();
    assert_eq!((outputs[0].binary_data(), outputs[1].binary_data()), (false, true));
    assert_eq!(request.inputs[0].to_f64().unwrap(), [f64::from(0.1f32), 2.0]);
    // Metadata with nulls for lists, as some servers send.
    let metadata: ModelMetadata =
        serde_json::from_str(r#"{"name":"m","versions":null,"platform":null,"inputs":null,"outputs":[]}"#)
            .unwrap();
    assert!(metadata.versions.is_empty() && metadata.inputs.is_empty());

    // Data decoding: kind widening, mixing refused, datatype checks.
    type Case = (&'static str, Datatype, Result<Vec<f64>, &'static str>);
    let cases: [Case; 6] = [
        ("[[1, 2], [3.5, 4]]", Datatype::Fp64, Ok(vec![1.0, 2.0, 3.5, 4.0])),
        ("[1, 2, 3, 18446744073709551615]", Datatype::Uint64, Ok(vec![1.0, 2.0, 3.0, u64::MAX as f64])),
        ("[1, 2, 3, 4]", Datatype::Int8, Ok(vec![1.0, 2.0, 3.0, 4.0])),
        ("[1, 2, 3, 128]", Datatype::Int8, Err("value 128 is out of range for INT8")),
        ("[true, false, true, true]", Datatype::Fp64, Err("datatype FP64 does not match data of booleans")),
        ("[1, 2, 3]", Datatype::Fp64, Err("shape [2, 2] needs 4 elements, but data has 3")),
    ];
    for (data, datatype, expected) in cases {
        let tensor = aiops_kserve_client::Tensor {
            name: "x".into(),
            shape: vec![2, 2],
            datatype,
            parameters: Default::default(),
            data: serde_json::from_str::<TensorData>(data).unwrap(),
        };
        match (tensor.to_f64(), expected) {
            (Ok(values), Ok(expected)) => assert_eq!(values, expected, "{data}"),
            (Err(error), Err(message)) => assert!(error.to_string().contains(message), "{data}: {error}"),
            (actual, expected) => panic!("{data}: got {actual:?}, expected {expected:?}"),
        }
    }
    let mixed = serde_json::from_str::<TensorData>(r#"[1, "a"]"#).unwrap_err();
    assert!(mixed.to_string().contains("tensor data mixes integers and strings"), "{mixed}");
}

#[tokio::test]
async fn an_answer_larger_than_max_answer_bytes_is_refused_by_name() {
    const LIMIT: usize = 1 << 20;
    const METADATA: &str = r#"{"name":"m","versions":[],"platform":"","inputs":[],"outputs":[]}"#;
    let config = ClientConfig { max_answer_bytes: LIMIT, retries: 0, ..ClientConfig::default() };
    for announced in [true, false] {
        let (url, _) = raw_server(move |_, _| padded_answer(METADATA, LIMIT + 1, announced));
        let client = Client::with_config(&url, config.clone()).unwrap();
        let outcome = client.model_metadata("m", None).await;
        let Err(error @ Error::AnswerTooLarge { limit: LIMIT, .. }) = outcome else {
            panic!("announced {announced}: {outcome:?}")
        };
        assert!(
            error.to_string().ends_with("answered more than 1048576 bytes (max_answer_bytes)"),
            "{error}"
        );
        // The same answer at the limit is read.
        let (url, _) = raw_server(move |_, _| padded_answer(METADATA, LIMIT, announced));
        let client = Client::with_config(&url, config.clone()).unwrap();
        assert_eq!(client.model_metadata("m", None).await.unwrap().name, "m", "announced {announced}");
    }
    let zero = ClientConfig { max_answer_bytes: 0, ..ClientConfig::default() };
    let refused = Client::with_config("http://127.0.0.1:8080", zero);
    assert!(matches!(refused, Err(Error::InvalidParameter { field: "max_answer_bytes", .. })));
}

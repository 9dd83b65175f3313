//! `aiops train`: model file and metrics from a features CSV, defaults, refusals.

use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops")).args(args).output().expect("aiops runs")
}

/// A features CSV of `rows` rows with one spike at row `rows / 2`, plus a `label` column.
pub(crate) fn write_features(path: &Path, rows: usize) {
    let mut text = String::from("timestamp,cpu_usage,rolling_mean,rolling_std,rate_of_change,hour,label\n");
    for i in 0..rows {
        let wobble = ((i * 7919) % 101) as f64 / 10.0;
        let value = if i == rows / 2 { 400.0 } else { 40.0 + wobble };
        text.push_str(&format!(
            "{},{value},{},{},{},{},0\n",
            1_700_000_000 + 60 * i,
            40.0 + wobble / 2.0,
            wobble / 3.0,
            wobble - 5.0,
            (i / 60) % 24
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn train_writes_model_and_reference_metrics_with_standard_columns() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.csv");
    let metrics = dir.path().join("metrics.json");
    write_features(&features, 400);
    let out = aiops(&[
        "train",
        "--features",
        path_str(&features),
        "--model-out",
        path_str(dir.path()),
        "--metrics-out",
        path_str(&metrics),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("model.iforest").is_file());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    assert_eq!(m["training_samples"], 400);
    assert_eq!(m["anomalies_detected"], 20, "contamination 0.05 of 400: {m}");
    assert_eq!(m["normal_samples"], 380);
    assert_eq!(m["normal_percentage"], 95.0);
    assert_eq!(m["anomalies_percentage"], 5.0);
    // `label` and `timestamp` are not inputs; the five standard columns are.
    assert_eq!(
        m["feature_names"],
        serde_json::json!(["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"])
    );
}

#[test]
fn train_flags_choose_columns_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.csv");
    let model = dir.path().join("m.iforest");
    let metrics = dir.path().join("metrics.json");
    write_features(&features, 300);
    let out = aiops(&[
        "train",
        "--features",
        path_str(&features),
        "--model-out",
        path_str(&model),
        "--metrics-out",
        path_str(&metrics),
        "--columns",
        "cpu_usage,hour",
        "--contamination",
        "0.1",
        "--n-estimators",
        "10",
        "--max-samples",
        "64",
        "--seed",
        "7",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    assert_eq!(m["feature_names"], serde_json::json!(["cpu_usage", "hour"]));
    // At most 10% of 300 rows lie strictly below the 10th percentile; tied scores can make it fewer.
    let anomalies = m["anomalies_detected"].as_u64().unwrap();
    assert!((1..=30).contains(&anomalies), "{m}");
    assert_eq!(m["params"]["n_estimators"], 10);
    assert_eq!(m["params"]["seed"], 7);
    assert_eq!(m["params"]["max_samples"], serde_json::json!({"count": 64}));
}

#[test]
fn bad_parameters_and_inputs_are_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.csv");
    let model = dir.path().join("m.iforest");
    let metrics = dir.path().join("metrics.json");
    write_features(&features, 50);
    std::fs::write(dir.path().join("nan.csv"), "timestamp,x\n1,1.0\n2,NaN\n").unwrap();
    let nan = dir.path().join("nan.csv");
    for (extra, input, expected) in [
        (vec!["--contamination", "0.7"], &features, "contamination"),
        (vec!["--n-estimators", "0"], &features, "--n-estimators"),
        (vec!["--max-samples", "lots"], &features, "max_samples"),
        (vec!["--columns", "cpu_usage,nope"], &features, "nope"),
        (vec![], &nan, "line 3"),
    ] {
        let mut args = vec![
            "train",
            "--features",
            path_str(input),
            "--model-out",
            path_str(&model),
            "--metrics-out",
            path_str(&metrics),
        ];
        args.extend(extra);
        let out = aiops(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!model.exists() && !metrics.exists(), "{args:?} left output behind");
    }
}

/// Writes `data.csv` in `dir`: 300 one-minute points of `column`, values 40..140.
fn write_data_csv(dir: &Path, column: &str) -> std::path::PathBuf {
    let data = dir.join("data.csv");
    let mut text = format!("timestamp,{column}\n");
    for i in 0..300 {
        text.push_str(&format!("{},{}\n", 1_700_000_000 + 60 * i, 40 + (i * 7919) % 101));
    }
    std::fs::write(&data, text).unwrap();
    data
}

/// Issue 15: `features --window 50` then `train` recorded window 5, so inference silently
/// recomputed other features. The features step records its schema beside the CSV; train reads it.
#[test]
fn train_records_the_window_the_features_were_computed_with() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data_csv(dir.path(), "memory_usage");
    let features = dir.path().join("features.csv");
    let out =
        aiops(&["features", "--input", path_str(&data), "--output", path_str(&features), "--window", "50"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model_out = dir.path().join("m.iforest");
    let metrics = dir.path().join("metrics.json");
    let train = |features: &Path| {
        aiops(&[
            "train",
            "--features",
            path_str(features),
            "--model-out",
            path_str(&model_out),
            "--metrics-out",
            path_str(&metrics),
        ])
    };
    let out = train(&features);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = aiops_artifacts::model::load(&model_out).unwrap();
    let schema = model.schema.expect("standard columns record a schema");
    assert_eq!((schema.window, schema.columns[0].as_str()), (50, "memory_usage"));

    // A schema file that does not describe the CSV is refused, naming it.
    let schema_file = dir.path().join("features.csv.schema.json");
    let mut recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&schema_file).unwrap()).unwrap();
    recorded["columns"][0] = serde_json::json!("cpu_usage");
    std::fs::write(&schema_file, recorded.to_string()).unwrap();
    std::fs::remove_file(&model_out).unwrap();
    let out = train(&features);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("features.csv.schema.json records columns"), "{stderr}");
    assert!(!model_out.exists());
}

/// Issue 15 in Kubeflow Pipelines: each artifact is its own upload, so the features CSV arrives
/// without the schema beside it. The features step writes the schema to `--schema-out` (an
/// artifact of its own) and train takes it as `--feature-schema`.
#[test]
fn train_records_the_window_of_a_schema_passed_as_its_own_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data_csv(dir.path(), "cpu_usage");
    let produced = dir.path().join("features-out");
    let (features, schema) = (produced.join("features"), dir.path().join("schema-out/schema"));
    std::fs::create_dir_all(&produced).unwrap();
    std::fs::create_dir_all(schema.parent().unwrap()).unwrap();
    let out = aiops(&[
        "features",
        "--input",
        path_str(&data),
        "--window",
        "50",
        "--output",
        path_str(&features),
        "--schema-out",
        path_str(&schema),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(schema.is_file() && !produced.join("features.schema.json").exists());
    // The train step's own copy of the features artifact: nothing beside it.
    let consumed = dir.path().join("train-in");
    std::fs::create_dir(&consumed).unwrap();
    std::fs::copy(&features, consumed.join("features")).unwrap();
    let consumed = consumed.join("features");
    let train = |name: &str, extra: &[&str]| {
        let model_out = dir.path().join(name);
        let metrics = dir.path().join("metrics.json");
        let mut args = vec!["train", "--features", path_str(&consumed)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--model-out", path_str(&model_out), "--metrics-out", path_str(&metrics)]);
        let out = aiops(&args);
        (out, model_out)
    };
    let (out, model_out) = train("with-schema", &["--feature-schema", path_str(&schema)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recorded = aiops_artifacts::model::load(&model_out).unwrap().schema.expect("a schema");
    assert_eq!(recorded.window, 50);
    // Without it, the skew this flag prevents: the reference window is recorded.
    let (out, model_out) = train("without", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(aiops_artifacts::model::load(&model_out).unwrap().schema.expect("a schema").window, 5);
    // A schema named but missing is an error naming it, not a silent fallback.
    let missing = dir.path().join("no-such-schema");
    let (out, model_out) = train("missing-schema", &["--feature-schema", path_str(&missing)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no-such-schema"), "{stderr}");
    assert!(!model_out.exists());
}

//! `aiops pipeline run` end to end against a real Prometheus (promtool-backfilled, see
//! `aiops_testkit::prometheus`): the injected incident is found, every artifact round-trips,
//! and a bad instance fails cleanly.

use std::path::Path;
use std::process::{Command, Output};

use aiops_artifacts::series::{Order, read_series};
use aiops_artifacts::table::read_table;
use aiops_features::FeatureSchema;
use aiops_iforest::Model;
use aiops_pipeline::runner::Artifacts;
use aiops_testkit::prometheus::TestPrometheus;

fn pipeline_run(url: &str, instance: &str, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["pipeline", "run", "--prometheus-url", url, "--instance", instance, "--hours", "24"])
        .arg("--out")
        .arg(out)
        .output()
        .expect("aiops runs")
}

/// Parses the scores CSV (`timestamp,score,decision,prediction`) into its three value columns.
fn read_scores(path: &Path) -> (Vec<f64>, Vec<f64>, Vec<i64>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,score,decision,prediction"));
    let (mut score, mut decision, mut prediction) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 4, "{line}");
        score.push(fields[1].parse().unwrap());
        decision.push(fields[2].parse().unwrap());
        prediction.push(fields[3].parse().unwrap());
    }
    (score, decision, prediction)
}

#[test]
fn pipeline_run_finds_the_injected_incident_and_its_artifacts_round_trip() {
    let Some(prometheus) = TestPrometheus::shared() else { return };
    let (spec, truth) = prometheus.scenario().incident().expect("the scenario has an incident");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = pipeline_run(&prometheus.url(), &spec.instance, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    for step in ["fetch", "features", "train", "score", "report"] {
        assert!(stderr.contains(step), "progress line for {step}: {stderr}");
    }
    let artifacts = Artifacts::in_folder(&out);

    // The injected incident overlaps one of the reported anomaly periods.
    let incidents: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&artifacts.incidents).unwrap()).unwrap();
    let (start, end) = (truth.start as f64, truth.end as f64);
    assert!(
        incidents.iter().any(|i| i["onset"].as_f64().unwrap() <= end && start <= i["end"].as_f64().unwrap()),
        "no period overlaps the injected incident {start}..{end}: {incidents:?}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains(&format!("{} anomaly periods", incidents.len())), "{stdout}");

    // The features CSV is exactly the reference features of the data CSV.
    let series = read_series(&artifacts.data, Order::Strict).unwrap();
    assert!((8_600..=8_641).contains(&series.values.len()), "24 h at 10 s: {} rows", series.values.len());
    let expected = FeatureSchema::reference().compute(&series.timestamps, &series.values).unwrap();
    let features = read_table(&artifacts.features, None).unwrap();
    assert_eq!(features.values, expected);

    // The model file loads and reproduces the scores CSV exactly.
    let model = Model::from_bytes(&std::fs::read(&artifacts.model).unwrap()).unwrap();
    let score = model.forest.score_samples(features.values.view()).unwrap().to_vec();
    let decision: Vec<f64> = score.iter().map(|s| s - model.forest.offset()).collect();
    let prediction: Vec<i64> = decision.iter().map(|&d| if d < 0.0 { -1 } else { 1 }).collect();
    assert_eq!(read_scores(&artifacts.scores), (score, decision, prediction));

    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&artifacts.metrics).unwrap()).unwrap();
    assert_eq!(metrics["training_samples"].as_u64(), Some(series.values.len() as u64));
}

#[test]
fn pipeline_run_for_an_unknown_instance_names_it_and_leaves_no_artifacts() {
    let Some(prometheus) = TestPrometheus::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A previous run's model must not survive next to nothing: a failed run leaves no artifacts.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("model.iforest"), b"stale").unwrap();
    let run = pipeline_run(&prometheus.url(), "10.9.9.9:9100", &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("no data for instance `10.9.9.9:9100`"), "{stderr}");
    assert!(stderr.contains("10.0.0.1:9100"), "lists the instances with data: {stderr}");
    let left: Vec<_> =
        std::fs::read_dir(&out).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "no partial artifacts: {left:?}");
}

//! `aiops demo`: offline, it finds every injected incident of the built-in trace, writes every
//! artifact, and the chart is a valid PNG.

use std::process::Command;

#[test]
fn demo_finds_the_injected_incidents_and_writes_a_valid_chart() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["demo", "--out"])
        .arg(out.path())
        .output()
        .expect("aiops runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Detected 4 of 4 injected incidents"), "{stdout}");
    for kind in
        ["spike to saturation", "sustained plateau at night", "drop to idle at peak time", "runaway ramp"]
    {
        assert!(stdout.contains(kind), "{kind} missing from the report:\n{stdout}");
    }
    assert!(stdout.contains("aiops serve-model") && stdout.contains("aiops serve-mcp"), "{stdout}");

    let chart = std::fs::read(out.path().join("chart.png")).expect("chart written");
    let decoder = png::Decoder::new(std::io::Cursor::new(chart));
    let reader = decoder.read_info().expect("a valid PNG");
    assert_eq!((reader.info().width, reader.info().height), (1400, 500));

    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["training_samples"], 7 * 1440);
    let incidents: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.path().join("incidents.json")).unwrap()).unwrap();
    assert!(incidents.len() >= 4);
    let model = std::fs::read(out.path().join("model.iforest")).unwrap();
    aiops_iforest::Model::from_bytes(&model).expect("the model file loads back");
    let scores = std::fs::read_to_string(out.path().join("scores.csv")).unwrap();
    assert_eq!(scores.lines().count(), 7 * 1440 + 1);
}

#[test]
fn demo_refuses_bad_parameters_naming_them() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["demo", "--days", "0", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid days"));
    assert!(!out.path().join("data.csv").exists(), "nothing written for bad parameters");
}

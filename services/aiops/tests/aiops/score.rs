//! `aiops score`: one row per input row, agreement with training, refusals.

use super::train::{aiops, write_features};

/// `aiops train` on `features.csv` in the test folder (`p` names a file there), writing
/// `model.iforest` and `m.json`.
fn train_model(p: &dyn Fn(&str) -> String) {
    let out = aiops(&[
        "train",
        "--features",
        &p("features.csv"),
        "--model-out",
        &p("model.iforest"),
        "--metrics-out",
        &p("m.json"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn score_writes_one_row_per_input_row_matching_training() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    write_features(dir.path().join("features.csv").as_path(), 500);
    train_model(&p);
    let out = aiops(&[
        "score",
        "--model",
        &p("model.iforest"),
        "--input",
        &p("features.csv"),
        "--output",
        &p("scores.csv"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scores = std::fs::read_to_string(p("scores.csv")).unwrap();
    let mut lines = scores.lines();
    assert_eq!(lines.next(), Some("timestamp,score,decision,prediction"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 500);
    assert_eq!(rows[0][0], "1700000000");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(p("m.json")).unwrap()).unwrap();
    let offset = metrics["offset"].as_f64().unwrap();
    let mut anomalies = 0;
    for row in &rows {
        let (score, decision): (f64, f64) = (row[1].parse().unwrap(), row[2].parse().unwrap());
        assert_eq!(score - offset, decision);
        assert_eq!(row[3], if decision < 0.0 { "-1" } else { "1" });
        anomalies += usize::from(row[3] == "-1");
    }
    assert_eq!(serde_json::json!(anomalies), metrics["anomalies_detected"]);
    assert_eq!(rows[250][3], "-1", "the spike is flagged");
}

#[test]
fn score_refuses_missing_columns_and_damaged_models() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    write_features(dir.path().join("features.csv").as_path(), 100);
    train_model(&p);
    std::fs::write(p("other.csv"), "timestamp,cpu_usage,hour\n1,2,3\n").unwrap();
    let mut model = std::fs::read(p("model.iforest")).unwrap();
    let last = model.len() - 40;
    model[last] ^= 0xFF;
    std::fs::write(p("damaged.iforest"), &model).unwrap();
    std::fs::write(p("pickle.pkl"), b"\x80\x04\x95 not a model").unwrap();
    for (model, input, expected) in [
        ("model.iforest", "other.csv", "rolling_mean"),
        ("damaged.iforest", "features.csv", "checksum"),
        ("pickle.pkl", "features.csv", "not an aiops model file"),
    ] {
        let out = aiops(&["score", "--model", &p(model), "--input", &p(input), "--output", &p("scores.csv")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{model} {input}: {stderr}");
        assert!(!dir.path().join("scores.csv").exists());
    }
}

#[test]
fn score_streams_many_blocks_in_order_and_names_a_bad_row_in_a_later_block() {
    // Over two 16 MiB blocks, each cut into several pieces, each parsed, scored and formatted in
    // its own task; the first block is written while the second is read, which then fails.
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let rows = 400_000;
    write_features(dir.path().join("features.csv").as_path(), rows);
    train_model(&p);
    let score = |input: &str, output: &str| {
        aiops(&["score", "--model", &p("model.iforest"), "--input", &p(input), "--output", &p(output)])
    };
    let out = score("features.csv", "scores.csv");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let scores = std::fs::read_to_string(p("scores.csv")).unwrap();
    let timestamps: Vec<u64> =
        scores.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    let expected: Vec<u64> = (0..rows as u64).map(|i| 1_700_000_000 + 60 * i).collect();
    assert!(timestamps == expected, "rows lost, repeated or out of order ({} rows)", timestamps.len());

    let text = std::fs::read_to_string(p("features.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(text.len() > 16 << 20, "the input spans one block only");
    let mut fields: Vec<&str> = lines[390_000].split(',').collect();
    fields[2] = "oops";
    lines[390_000] = fields.join(",");
    std::fs::write(p("bad.csv"), lines.join("\n") + "\n").unwrap();
    let out = score("bad.csv", "bad-scores.csv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("line 390001") && stderr.contains("oops"), "{stderr}");
    assert!(!dir.path().join("bad-scores.csv").exists(), "partial output left");
}

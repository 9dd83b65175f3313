//! Integration tests of `aiops-artifacts`: the one model loader.

use aiops_artifacts::Error;
use aiops_artifacts::model::{self, LoadedModel, schema_record};
use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForest, IsolationForestParams, MODEL_FILE_NAME, Model};
use ndarray::Array2;

fn features(rows: usize, width: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, width), |(i, j)| ((i * 7919 + j * 31) % 101) as f64)
}

fn model_with(schema: Option<serde_json::Value>, names: &[&str]) -> Model {
    let x = features(64, names.len());
    let params = IsolationForestParams { n_estimators: 5, ..IsolationForestParams::reference() };
    let forest = IsolationForest::fit(&params, x.view()).unwrap();
    Model::new(forest, names.iter().map(|n| (*n).to_owned()).collect(), schema, x.view()).unwrap()
}

fn standard_model(schema: &FeatureSchema) -> Model {
    let names: Vec<&str> = schema.columns.iter().map(String::as_str).collect();
    model_with(Some(schema_record(schema)), &names)
}

#[test]
fn a_standard_model_loads_with_its_schema_and_refuses_other_features() {
    let loaded = LoadedModel::new(standard_model(&FeatureSchema::reference()), "memory").unwrap();
    assert_eq!(loaded.schema, Some(FeatureSchema::reference()));
    loaded.check_features(&FeatureSchema::reference()).unwrap();
    loaded.check_features(&FeatureSchema::reference().with_value_column("memory_usage").unwrap()).unwrap();
    let error = loaded.check_features(&FeatureSchema::with_window(10).unwrap()).unwrap_err();
    assert!(
        matches!(error, Error::Schema { .. }) && aiops_text::error_chain(&error).contains("window 10"),
        "{error}"
    );
    let generic = LoadedModel::new(model_with(None, &["a", "b"]), "memory").unwrap();
    assert_eq!(generic.schema, None);
    let error = generic.check_features(&FeatureSchema::reference()).unwrap_err();
    assert!(matches!(error, Error::Columns { .. }), "{error}");
}

/// Issue 15: a model's feature window of 2^45 aborted `watch` allocating its rolling buffer.
#[test]
fn a_recorded_window_of_2_pow_45_is_refused_naming_window() {
    let mut record = schema_record(&FeatureSchema::reference());
    record["window"] = serde_json::json!(1u64 << 45);
    let names = FeatureSchema::reference().columns;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let error = LoadedModel::from_bytes(&model_with(Some(record), &names).to_bytes(), "crafted").unwrap_err();
    assert!(matches!(error, Error::Schema { .. }), "{error}");
    assert!(
        aiops_text::error_chain(&error).contains("`window` 35184372088832 is not in 1..=1048576"),
        "{}",
        aiops_text::error_chain(&error)
    );
}

#[test]
fn a_recorded_schema_must_name_the_models_columns_and_parse() {
    let record = schema_record(&FeatureSchema::reference());
    let error = LoadedModel::new(model_with(Some(record), &["a", "b", "c", "d", "e"]), "m").unwrap_err();
    assert!(matches!(error, Error::Columns { .. }), "{error}");
    let error = LoadedModel::new(model_with(Some(serde_json::json!("window 5")), &["a"]), "m").unwrap_err();
    assert!(matches!(error, Error::SchemaFormat { .. }), "{error}");
}

#[test]
fn a_folder_means_its_model_file_and_every_crafted_regression_input_is_refused_or_loads() {
    let dir = tempfile::tempdir().unwrap();
    let model = standard_model(&FeatureSchema::reference());
    std::fs::write(dir.path().join("other.iforest"), model.to_bytes()).unwrap();
    assert_eq!(model::load(dir.path()).unwrap().model, model);
    std::fs::write(dir.path().join("second.iforest"), model.to_bytes()).unwrap();
    let error = model::load(dir.path()).unwrap_err();
    assert!(error.to_string().contains("2 *.iforest files and no model.iforest"), "{error}");
    std::fs::write(dir.path().join(MODEL_FILE_NAME), model.to_bytes()).unwrap();
    let loaded = model::load(dir.path()).unwrap();
    assert_eq!(loaded.location, dir.path().join(MODEL_FILE_NAME).display().to_string());
    // The forest crate's crafted inputs go through this loader without a panic.
    let regressions =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../iforest/tests/data/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&regressions).expect("the forest crate's regression inputs") {
        let path = entry.unwrap().path();
        let loads = path.file_name().unwrap().to_string_lossy().starts_with("loads-");
        assert_eq!(model::load(&path).is_ok(), loads, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "{seen} inputs in {}", regressions.display());
}

#[test]
fn a_file_above_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.iforest");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(model::MAX_MODEL_BYTES + 1).unwrap();
    assert!(matches!(model::load(&path), Err(Error::ModelTooLarge { .. })));
}

#[path = "artifacts/invariants.rs"]
mod invariants;

/// Data and features CSVs as the commands write them, and the quirks readers meet: quoted
/// fields, blank values, every timestamp form, CRLF line ends, a label column.
const CSV_SEEDS: [&str; 5] = [
    "timestamp,cpu_usage\n1700000000,1.5\n1700000060,\n1700000120,-2e-3\n",
    "timestamp,value\r\n2014-02-14 14:30:00,0.1\r\n2014-02-14T15:31:00+01:00,NaN\r\n\"2014-02-14 14:32:00.5\",inf\r\n",
    "\"ts\",\"a,b\"\n1.25, 3 \n2.5,4\n",
    "timestamp,cpu_usage,rolling_mean,rolling_std,rate_of_change,hour,label\n\
     2026-01-01 00:00:00,1,1,0,0,0,0\n2026-01-01 00:01:00,2,1.5,0.7071067811865476,1,0,1\n",
    "x,y,z\n1,2,3\n4,5,6e300\n-0.0,1e-320,7\n",
];

/// The deterministic half of fuzzing the CSV readers (issue 15; the other half is
/// `fuzz/fuzz_targets/csv_readers.rs`), run by every `cargo test`: 20,000 seeded byte-level
/// mutations of real files through the series reader (every order mode) and the table reader;
/// each is read or refused, never a panic, and what is accepted reads back the same.
#[test]
fn every_mutation_of_real_csvs_is_read_or_refused_and_accepted_ones_round_trip() {
    let seeds: Vec<&[u8]> = CSV_SEEDS.iter().map(|s| s.as_bytes()).collect();
    for seed in &seeds {
        assert!(invariants::check_csv(seed) >= 1, "{}", String::from_utf8_lossy(seed));
    }
    let mut accepted = 0;
    for bytes in aiops_testkit::mutate::Mutator::new(15).variants(&seeds, 20_000) {
        accepted += invariants::check_csv(&bytes);
    }
    assert!(accepted > 1_000, "only {accepted} readings of 20,000 variants were accepted");
}

/// 40,000 rows (about 700 KB: several pieces parsed in parallel) with a blank line before every
/// 1,000th row and CRLF on every 7th, row `bad` given `timestamp`; returns the text and the
/// 1-based line row `bad` is on.
fn long_series_csv(bad: usize, timestamp: u64) -> (String, u64) {
    let mut text = String::from("timestamp,cpu\n");
    let mut bad_line = 0;
    for row in 0..40_000u64 {
        if row % 1_000 == 999 {
            text.push('\n');
        }
        let t = if row as usize == bad { timestamp } else { 1_700_000_000 + row };
        text.push_str(&format!("{t},{}.5{}", row % 97, if row % 7 == 0 { "\r\n" } else { "\n" }));
        if row as usize == bad {
            bad_line = text.matches('\n').count() as u64;
        }
    }
    (text, bad_line)
}

#[test]
fn a_bad_order_deep_in_a_long_csv_names_its_line_read_as_is_or_sorted() {
    use aiops_artifacts::series::{Order, parse_series};
    let path = std::path::Path::new("data.csv");
    let line_of_error = |text: &str, order| match parse_series(text.as_bytes(), path, order) {
        Err(Error::Csv { line, problem, .. }) => (line, problem),
        other => panic!("expected an ordering error, got {:?}", other.map(|s| s.values.len())),
    };
    let (text, line) = long_series_csv(30_123, 1_600_000_000);
    let (named, problem) = line_of_error(&text, Order::Strict);
    assert_eq!(named, line, "{problem}");
    assert!(problem.contains("out-of-order") && problem.contains("1600000000"), "{problem}");
    assert_eq!(parse_series(text.as_bytes(), path, Order::Sort).unwrap().values.len(), 40_000);
    // Sorted, a repeat of row 5,000's time is named at the later row, where it was read.
    let (text, line) = long_series_csv(30_123, 1_700_005_000);
    let (named, problem) = line_of_error(&text, Order::Sort);
    assert_eq!(named, line, "{problem}");
    assert!(problem.contains("duplicate"), "{problem}");
}

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

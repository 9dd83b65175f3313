//! The model file: round trip, and refusal of anything that is not an intact model.

use aiops_iforest::{Error, FORMAT_VERSION, Model};
use proptest::prelude::*;

use super::api::{cloud, reference_forest};

/// The reference features' columns.
const COLUMNS: [&str; 5] = ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"];

fn standard_model() -> Model {
    let x = cloud(300, 5, 5);
    // The schema is plain data to the forest: kept as given, read and checked one layer up.
    let schema = serde_json::json!({"name": "reference", "version": 1, "columns": COLUMNS, "window": 5});
    let names = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    Model::new(reference_forest(&x), names, Some(schema), x.view()).unwrap()
}

fn small_model() -> Model {
    let x = cloud(40, 2, 2);
    let params = aiops_iforest::IsolationForestParams {
        n_estimators: 3,
        ..aiops_iforest::IsolationForestParams::reference()
    };
    let forest = aiops_iforest::IsolationForest::fit(&params, x.view()).unwrap();
    Model::new(forest, vec!["a".into(), "b".into()], None, x.view()).unwrap()
}

#[test]
fn round_trip_keeps_everything() {
    let model = standard_model();
    let bytes = model.to_bytes();
    let loaded = Model::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(loaded.to_bytes(), bytes);
    assert_eq!(loaded.digest().len(), 64);
    let summary = &model.metadata.training;
    assert_eq!(summary.training_samples, 300);
    assert_eq!(summary.anomalies_detected, 15);
    assert_eq!(summary.normal_samples + summary.anomalies_detected, 300);
    assert!((summary.anomalies_percentage - 5.0).abs() < 1e-12);
}

#[test]
fn truncated_corrupted_and_future_files_are_refused_clearly() {
    let bytes = small_model().to_bytes();
    assert!(matches!(Model::from_bytes(&bytes[..bytes.len() - 1]), Err(Error::Truncated { .. })));
    assert!(matches!(Model::from_bytes(&bytes[..30]), Err(Error::Truncated { .. })));
    assert!(matches!(Model::from_bytes(b"\x80\x04pickle"), Err(Error::NotAModel)));
    assert!(matches!(Model::from_bytes(&[]), Err(Error::NotAModel)));
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Model::from_bytes(&future).unwrap_err();
    assert!(err.to_string().contains("version 2 is not supported"), "{err}");
    let mut flipped = bytes.clone();
    let middle = bytes.len() / 2;
    flipped[middle] ^= 1;
    assert!(matches!(Model::from_bytes(&flipped), Err(Error::ChecksumMismatch)));
    let mut longer = bytes;
    longer.push(0);
    assert!(matches!(Model::from_bytes(&longer), Err(Error::Corrupt(_))));
}

#[test]
fn columns_are_found_by_name_and_missing_ones_listed() {
    let generic = small_model();
    assert_eq!(generic.column_positions(&["x", "b", "a"]).unwrap(), vec![2, 1]);
    let err = generic.column_positions(&["a", "c"]).unwrap_err();
    assert!(err.to_string().contains("[\"b\"]"), "{err}");
}

#[test]
fn feature_names_must_fit_the_forest() {
    let x = cloud(40, 2, 0);
    let forest = reference_forest(&x);
    for names in [vec!["a"], vec!["a", "a"], vec!["a", ""]] {
        let names = names.into_iter().map(String::from).collect();
        assert!(matches!(Model::new(forest.clone(), names, None, x.view()), Err(Error::FeatureNames(_))));
    }
}

/// Re-signs `bytes` after an edit so that the loader's structural checks, not the checksum, must
/// catch it.
fn resign(bytes: &mut [u8]) {
    use sha2::Digest;
    let body = bytes.len() - 32;
    let digest = sha2::Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&digest);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Model::from_bytes(&bytes);
        let mut prefixed = aiops_iforest::MAGIC.to_vec();
        prefixed.extend_from_slice(&bytes);
        prop_assert!(Model::from_bytes(&prefixed).is_err());
    }

    #[test]
    fn mutated_models_are_refused_or_load_consistently(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        resigned in any::<bool>(),
    ) {
        let original = small_model().to_bytes();
        let mut bytes = original.clone();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if resigned {
            resign(&mut bytes);
        }
        match Model::from_bytes(&bytes) {
            // A mutation can only load when the bytes are a valid model (e.g. the edit changed a
            // threshold): then it must score without panicking.
            Ok(model) => {
                let n = model.forest.n_features();
                let _ = model.forest.score_row(&vec![0.5; n]);
                let _ = model.forest.explain_row(&vec![0.5; n]);
                prop_assert!(resigned || bytes == original);
            }
            Err(_) => prop_assert!(bytes != original),
        }
    }
}

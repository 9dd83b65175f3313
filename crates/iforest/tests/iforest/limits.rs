//! Crafted model files (issue 15): checksum-valid files whose header or trees break a structural
//! limit are refused naming the field, before any work or allocation follows from them; the
//! thread count a file records is ignored. Each test is named after the defect it guards, and
//! the small crafted files are kept in `tests/data/regressions` (see `regression_inputs`).

use std::path::Path;

use aiops_iforest::{Error, FORMAT_VERSION, MAGIC, Model};
use serde_json::{Value, json};
use sha2::Digest;

use super::api::cloud;
use aiops_testkit::mutate::json_variants;

/// One node as the file stores it: `(feature, left, size, threshold)`; `u32::MAX` marks a leaf.
type Node = (u32, u32, u32, f64);

const LEAF: u32 = u32::MAX;

/// The header of a real two-column, three-tree model, to edit.
fn real_header() -> Value {
    let x = cloud(40, 2, 2);
    let params = aiops_iforest::IsolationForestParams {
        n_estimators: 3,
        ..aiops_iforest::IsolationForestParams::reference()
    };
    let forest = aiops_iforest::IsolationForest::fit(&params, x.view()).unwrap();
    let bytes = Model::new(forest, vec!["a".into(), "b".into()], None, x.view()).unwrap().to_bytes();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[24..24 + header_len]).unwrap();
    // Crafted files must not change with the clock: the regression inputs are compared to them.
    header["metadata"]["created_at_unix"] = json!(0);
    header
}

/// A checksum-valid model file of `header` (its `tree_sizes` and `n_estimators` set from
/// `trees`) and `trees`, laid out as the format documents.
fn craft(mut header: Value, trees: &[Vec<Node>]) -> Vec<u8> {
    header["tree_sizes"] = json!(trees.iter().map(Vec::len).collect::<Vec<_>>());
    header["metadata"]["params"]["n_estimators"] = json!(trees.len());
    let header = serde_json::to_vec(&header).unwrap();
    let n_nodes: usize = trees.iter().map(Vec::len).sum();
    let total = 24 + header.len() + 20 * n_nodes + 32;
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(total as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    for &(feature, left, size, threshold) in trees.iter().flatten() {
        bytes.extend_from_slice(&feature.to_le_bytes());
        bytes.extend_from_slice(&left.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&threshold.to_le_bytes());
    }
    let digest = sha2::Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    bytes
}

/// A tree that is a chain `depth` splits deep on column 0, stored as
/// `[split 0, leaf, split 1, leaf, ..., split depth-1, leaf, leaf]`: each split sends one row left
/// to a leaf and the rest right to the next split.
fn chain(depth: u32) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(2 * depth as usize + 1);
    for level in 0..depth {
        nodes.push((0, 2 * level + 1, depth + 1 - level, f64::from(level)));
        nodes.push((LEAF, 0, 1, 0.0));
    }
    nodes.push((LEAF, 0, 1, 0.0));
    nodes
}

fn corrupt_message(bytes: &[u8]) -> String {
    match Model::from_bytes(bytes) {
        Err(error @ Error::Corrupt(_)) => error.to_string(),
        other => panic!("expected a corrupt-model error, got {other:?}"),
    }
}

#[test]
fn a_chain_is_a_valid_tree_within_the_height_limit() {
    // The helper's trees must be valid, or the refusals below would prove nothing.
    let mut header = real_header();
    header["max_samples"] = json!(4096);
    let model = Model::from_bytes(&craft(header, &[chain(12)])).unwrap();
    assert_eq!(model.forest.n_trees(), 1);
    assert!(model.forest.score_row(&[100.0, 0.0]).unwrap() < 0.0);
}

#[test]
fn n_features_zero_is_refused_before_the_trees_are_laid_out() {
    let mut header = real_header();
    header["n_features"] = json!(0);
    header["metadata"]["feature_names"] = json!([]);
    let message = corrupt_message(&craft(header, &[vec![(LEAF, 0, 1, 0.0)]]));
    assert!(message.contains("`n_features` is 0"), "{message}");
}

#[test]
fn a_two_million_deep_chain_is_refused_by_the_height_limit() {
    let mut header = real_header();
    header["max_samples"] = json!(u32::MAX);
    let message = corrupt_message(&craft(header, &[chain(2_000_000)]));
    assert!(message.contains("tree 0: node 64 at depth 32 has children"), "{message}");
    assert!(message.contains("stop at depth 32"), "{message}");
}

#[test]
fn a_chain_one_level_past_max_samples_height_is_refused() {
    let mut header = real_header();
    header["max_samples"] = json!(4096);
    let message = corrupt_message(&craft(header, &[chain(13)]));
    assert!(message.contains("max_samples 4096 stop at depth 12"), "{message}");
}

#[test]
fn a_deep_chain_beside_many_one_leaf_trees_is_not_padded_to_gigabytes() {
    let mut header = real_header();
    header["max_samples"] = json!(4096);
    let mut trees = vec![chain(12)];
    trees.extend(std::iter::repeat_n(vec![(LEAF, 0, 1, 0.0)], 99_999));
    let bytes = craft(header, &trees);
    assert!(bytes.len() < 2_500_000, "{} bytes", bytes.len());
    let model = Model::from_bytes(&bytes).unwrap();
    // The complete layout would take 4.8 GB: the real trees are scored instead.
    assert_eq!(model.forest.batch_kernel(), "portable");
    let x = ndarray::Array2::from_elem((3, 2), 1.5);
    assert_eq!(
        model.forest.score_samples(x.view()).unwrap()[0],
        model.forest.score_row(&[1.5, 1.5]).unwrap()
    );
}

#[test]
fn more_trees_than_n_estimators_allows_are_refused_naming_n_estimators() {
    let trees = vec![vec![(LEAF, 0, 1, 0.0)]; 100_001];
    match Model::from_bytes(&craft(real_header(), &trees)) {
        Err(Error::InvalidParams { field: "n_estimators", .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tree_with_more_nodes_than_max_samples_allows_is_refused() {
    let mut header = real_header();
    header["max_samples"] = json!(2);
    // Five nodes cannot be a tree over two rows.
    let tree = vec![(0, 1, 2, 0.5), (LEAF, 0, 1, 0.0), (0, 3, 1, 0.5), (LEAF, 0, 1, 0.0), (LEAF, 0, 0, 0.0)];
    let message = corrupt_message(&craft(header, &[tree]));
    assert!(message.contains("`tree_sizes`: tree 0 has 5 nodes, not in 1..=3"), "{message}");
}

#[test]
fn a_root_larger_than_max_samples_is_refused() {
    let mut header = real_header();
    header["max_samples"] = json!(2);
    let message = corrupt_message(&craft(header, &[vec![(LEAF, 0, 3, 0.0)]]));
    assert!(message.contains("root holds 3 rows, more than max_samples 2"), "{message}");
}

#[test]
fn the_thread_count_a_model_file_records_is_ignored() {
    let mut header = real_header();
    header["metadata"]["params"]["threads"] = json!(1u64 << 62);
    let model = Model::from_bytes(&craft(header, &[vec![(LEAF, 0, 1, 0.0)]])).unwrap();
    assert_eq!(model.forest.params().threads, None);
    let x = ndarray::Array2::from_elem((10, 2), 0.5);
    assert_eq!(model.forest.score_samples(x.view()).unwrap().len(), 10);
    // And a model trained with a thread count does not record it.
    let x = cloud(40, 2, 2);
    let params = aiops_iforest::IsolationForestParams {
        n_estimators: 3,
        threads: Some(2),
        ..aiops_iforest::IsolationForestParams::reference()
    };
    let forest = aiops_iforest::IsolationForest::fit(&params, x.view()).unwrap();
    assert_eq!(forest.params().threads, None);
    let bytes = Model::new(forest, vec!["a".into(), "b".into()], None, x.view()).unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("threads"));
}

/// The crafted files of the tests above, kept as files for the fuzz target's corpus and for any
/// other reader of model files: each is refused, or (named `loads-*`) loads and scores.
#[test]
fn regression_inputs() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions");
    let inputs = regression_files();
    if std::env::var_os("AIOPS_UPDATE_REGRESSIONS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&folder).unwrap();
        for (name, bytes) in &inputs {
            std::fs::write(folder.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &inputs {
        let stored = std::fs::read(folder.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e} (AIOPS_UPDATE_REGRESSIONS=1 writes it)"));
        assert!(&stored == bytes, "{name} changed: regenerate with AIOPS_UPDATE_REGRESSIONS=1");
        match Model::from_bytes(&stored) {
            Ok(model) => {
                assert!(name.starts_with("loads-"), "{name} loads");
                let width = model.forest.n_features();
                model.forest.score_row(&vec![0.5; width]).unwrap();
            }
            Err(_) => assert!(!name.starts_with("loads-"), "{name} is refused"),
        }
    }
}

fn regression_files() -> Vec<(&'static str, Vec<u8>)> {
    let leaf = || vec![(LEAF, 0, 1, 0.0)];
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut header = real_header();
        edit(&mut header);
        header
    };
    vec![
        (
            "n-features-zero.iforest",
            craft(
                with(&|h| {
                    h["n_features"] = json!(0);
                    h["metadata"]["feature_names"] = json!([]);
                }),
                &[leaf()],
            ),
        ),
        ("chain-past-height-limit.iforest", craft(with(&|h| h["max_samples"] = json!(64)), &[chain(7)])),
        (
            "root-above-max-samples.iforest",
            craft(with(&|h| h["max_samples"] = json!(1)), &[vec![(LEAF, 0, 2, 0.0)]]),
        ),
        ("max-samples-zero.iforest", craft(with(&|h| h["max_samples"] = json!(0)), &[leaf()])),
        ("max-samples-2-pow-40.iforest", craft(with(&|h| h["max_samples"] = json!(1u64 << 40)), &[leaf()])),
        (
            "loads-threads-2-pow-62.iforest",
            craft(with(&|h| h["metadata"]["params"]["threads"] = json!(1u64 << 62)), &[leaf()]),
        ),
        ("loads-chain-at-height-limit.iforest", craft(with(&|h| h["max_samples"] = json!(64)), &[chain(6)])),
    ]
}

/// Loads `bytes`; a model that loads must score, explain and save without panicking.
fn load_and_use(bytes: &[u8]) {
    if let Ok(model) = Model::from_bytes(bytes) {
        let width = model.forest.n_features();
        model.forest.score_row(&vec![0.5; width]).unwrap();
        model.forest.explain_row(&vec![0.5; width]).unwrap();
        let x = ndarray::Array2::from_elem((40, width), 0.25);
        model.forest.score_samples(x.view()).unwrap();
        assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
    }
}

/// The deterministic half of fuzzing the loader, run by every `cargo test`: each scalar of a real
/// header set to each extreme value and each header member removed (`aiops_testkit::mutate`),
/// each node field set to each extreme value, the file re-signed so that the structural checks,
/// not the checksum, must catch it.
#[test]
fn every_header_field_and_node_field_set_to_an_extreme_value_never_panics() {
    let x = cloud(40, 2, 2);
    let params = aiops_iforest::IsolationForestParams {
        n_estimators: 2,
        ..aiops_iforest::IsolationForestParams::reference()
    };
    let forest = aiops_iforest::IsolationForest::fit(&params, x.view()).unwrap();
    let bytes = Model::new(forest, vec!["a".into(), "b".into()], None, x.view()).unwrap().to_bytes();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[24..24 + header_len]).unwrap();
    let nodes = &bytes[24 + header_len..bytes.len() - 32];
    let splice = |header: &Value, nodes: &[u8]| {
        let header = serde_json::to_vec(header).unwrap();
        let total = 24 + header.len() + nodes.len() + 32;
        let mut out = bytes[..12].to_vec();
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&(total as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(nodes);
        let digest = sha2::Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    };
    let mut tried = 0;
    for edited in json_variants(&header) {
        load_and_use(&splice(&edited, nodes));
        tried += 1;
    }
    let field_values: [&[u8]; 6] =
        [&[0; 4], &[1, 0, 0, 0], &[2, 0, 0, 0], &[0xff; 4], &[0xfe, 0xff, 0xff, 0xff], &[0, 0, 0, 0x80]];
    for field in 0..nodes.len() / 4 {
        for value in field_values {
            let mut edited = nodes.to_vec();
            edited[4 * field..4 * field + 4].copy_from_slice(value);
            load_and_use(&splice(&header, &edited));
            tried += 1;
        }
    }
    assert!(tried > 1_000, "{tried} mutations");
}

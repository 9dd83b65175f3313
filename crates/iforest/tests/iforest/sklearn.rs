//! Semantics against scikit-learn 1.9.1, run in the same test: c(n), the percentile rule for
//! `offset_`, the share of rows flagged, and exact scores where the trees cannot depend on the
//! random generator.

use aiops_iforest::{
    Contamination, IsolationForest, IsolationForestParams, MaxSamples, average_path_length, percentile,
    percentiles,
};
use ndarray::{Array2, array};

use super::api::cloud;

/// Runs `script` with the oracle Python on `input` (one JSON document) and parses its JSON output.
fn oracle(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let python = aiops_testkit::require_python();
    let out = aiops_testkit::run_python(&python, script, input.to_string().as_bytes());
    serde_json::from_slice(&out).expect("the oracle prints JSON")
}

/// Distance in units in the last place between two finite floats of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    a.to_bits().abs_diff(b.to_bits())
}

fn floats(value: &serde_json::Value) -> Vec<f64> {
    value.as_array().expect("an array").iter().map(|v| v.as_f64().expect("a number")).collect()
}

#[test]
fn average_path_length_matches_scikit_learn_to_the_last_bit_or_two() {
    let sizes = [0usize, 1, 2, 3, 4, 5, 7, 10, 100, 255, 256, 257, 1000, 65_536, 1_000_000];
    let script = r#"
import json, sys
from sklearn.ensemble._iforest import _average_path_length
sizes = json.load(sys.stdin)
print(json.dumps([float(v) for v in _average_path_length(sizes)]))
"#;
    let expected = oracle(script, &serde_json::json!(sizes));
    for (n, want) in sizes.iter().zip(floats(&expected)) {
        // numpy's vectorised `log` may differ from libm's by one unit in the last place.
        assert!(ulps(average_path_length(*n), want) <= 1, "c({n}): {} vs {want}", average_path_length(*n));
    }
}

#[test]
fn percentiles_are_numpys_linear_rule_with_ties_and_at_the_ends() {
    // Few distinct values (many ties) and lengths 1, 2 and odd: the selecting
    // single percentile and the sorting many must both give numpy's bits.
    let mut next = 7u64;
    let mut value = move || {
        next = next.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((next >> 33) % 9) as f64 * 0.125 - 0.5
    };
    let sets: Vec<Vec<f64>> = [1usize, 2, 3, 10, 999, 1000]
        .into_iter()
        .map(|n| (0..n).map(|_| value()).collect())
        .chain([vec![3.0, -1.0], vec![-0.25; 5]])
        .collect();
    let percents = [0.0, 0.1, 1.0, 5.0, 12.3, 25.0, 50.0, 75.0, 95.0, 99.0, 99.99, 100.0];
    let script = r#"
import json, sys
import numpy as np
sets, percents = json.load(sys.stdin)
# Bits, not decimals: serde_json's default float parsing may round the last bit differently.
bits = lambda v: int(np.float64(v).view(np.uint64))
print(json.dumps([[bits(np.percentile(np.asarray(s, dtype=np.float64), p)) for p in percents] for s in sets]))
"#;
    let expected = oracle(script, &serde_json::json!([sets, percents]));
    for (values, want) in sets.iter().zip(expected.as_array().unwrap()) {
        let many = percentiles(values, &percents);
        for ((p, got), want) in percents.iter().zip(&many).zip(want.as_array().unwrap()) {
            let want = want.as_u64().expect("bits");
            assert_eq!(
                got.map(f64::to_bits),
                Some(want),
                "percentile {p} of {values:?}: {got:?} vs {}",
                f64::from_bits(want)
            );
            assert_eq!(percentile(values, *p).map(f64::to_bits), Some(want), "percentile {p} of {values:?}");
        }
    }
    assert_eq!(percentiles(&[], &[50.0]), [None]);
    assert_eq!(percentiles(&[1.0], &[-1.0, 100.5]), [None, None]);
}

#[test]
fn offset_is_numpys_percentile_and_flags_what_scikit_learn_flags() {
    let x = cloud(997, 3, 13);
    let contaminations = [0.001, 0.01, 0.05, 0.1, 0.123, 0.25, 0.5];
    let mut cases = Vec::new();
    for c in contaminations {
        let params = IsolationForestParams {
            contamination: Contamination::Fraction(c),
            ..IsolationForestParams::reference()
        };
        let forest = IsolationForest::fit(&params, x.view()).unwrap();
        let scores = forest.score_samples(x.view()).unwrap().to_vec();
        let flagged = forest.predict(x.view()).unwrap().iter().filter(|&&p| p == -1).count();
        assert_eq!(percentile(&scores, 100.0 * c), Some(forest.offset()));
        cases.push((c, scores, forest.offset(), flagged));
    }
    // scikit-learn's own rule on our training scores: offset_ = np.percentile(scores, 100 * c),
    // predict = -1 where score_samples - offset_ < 0.
    let script = r#"
import json, sys
import numpy as np
out = []
for c, scores in json.load(sys.stdin):
    scores = np.asarray(scores, dtype=np.float64)
    offset = np.percentile(scores, 100.0 * c)
    out.append([float(offset), int(((scores - offset) < 0).sum())])
print(json.dumps(out))
"#;
    let input: Vec<_> = cases.iter().map(|(c, scores, ..)| serde_json::json!([c, scores])).collect();
    let expected = oracle(script, &serde_json::json!(input));
    for ((c, _, offset, flagged), want) in cases.iter().zip(expected.as_array().unwrap()) {
        assert_eq!(offset.to_bits(), want[0].as_f64().unwrap().to_bits(), "offset at contamination {c}");
        assert_eq!(*flagged as u64, want[1].as_u64().unwrap(), "rows flagged at contamination {c}");
    }
}

#[test]
fn scores_equal_scikit_learns_where_trees_cannot_differ() {
    // Constant data (every tree one leaf), two rows probed outside their range (every tree one
    // split, probes land in size-1 leaves), one row, and one sample per tree.
    let cases: Vec<(Array2<f64>, Array2<f64>, MaxSamples)> = vec![
        (Array2::from_elem((50, 2), 3.0), array![[3.0, 3.0], [-1.0, 7.0]], MaxSamples::Auto),
        (Array2::from_elem((300, 1), 1.0), array![[1.0], [2.0]], MaxSamples::Auto),
        (array![[0.0], [1.0]], array![[-5.0], [10.0]], MaxSamples::Auto),
        (array![[4.0, 2.0]], array![[4.0, 2.0], [0.0, 0.0]], MaxSamples::Auto),
        (cloud(20, 2, 0), cloud(5, 2, 2), MaxSamples::Count(1)),
    ];
    let script = r#"
import json, sys
import numpy as np
from sklearn.ensemble import IsolationForest
out = []
for train, probe, max_samples in json.load(sys.stdin):
    model = IsolationForest(random_state=0, max_samples=max_samples).fit(np.asarray(train))
    out.append([float(s) for s in model.score_samples(np.asarray(probe))])
print(json.dumps(out))
"#;
    let input: Vec<_> = cases
        .iter()
        .map(|(train, probe, max_samples)| {
            let rows = |a: &Array2<f64>| a.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
            let max_samples = match max_samples {
                MaxSamples::Count(k) => serde_json::json!(k),
                _ => serde_json::json!("auto"),
            };
            serde_json::json!([rows(train), rows(probe), max_samples])
        })
        .collect();
    let expected = oracle(script, &serde_json::json!(input));
    for ((train, probe, max_samples), want) in cases.iter().zip(expected.as_array().unwrap()) {
        let params = IsolationForestParams { max_samples: *max_samples, ..IsolationForestParams::default() };
        let forest = IsolationForest::fit(&params, train.view()).unwrap();
        let scores = forest.score_samples(probe.view()).unwrap().to_vec();
        for (ours, theirs) in scores.iter().zip(floats(want)) {
            assert!(ulps(*ours, theirs) <= 4, "trained on {train}: {scores:?} vs {want}");
        }
    }
}

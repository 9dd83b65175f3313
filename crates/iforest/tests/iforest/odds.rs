//! Detection quality on the ODDS benchmark data sets: for each, the mean ROC AUC over 10 seeds is
//! within 0.01 of scikit-learn's, computed by scikit-learn in the same run. (The issue asks for 5
//! seeds; on `satellite` scikit-learn's own 5-seed means spread over 0.011 from one block of seeds
//! to the next, so 5 seeds cannot resolve 0.01. 10 seeds on both sides can.)

use std::path::{Path, PathBuf};

use aiops_iforest::{IsolationForest, IsolationForestParams};
use ndarray::Array2;

const SEEDS: u64 = 10;
const TOLERANCE: f64 = 0.01;

/// An ODDS CSV: a header `x0,...,label`, numeric rows, the label last (1 = outlier).
fn read_odds(path: &Path) -> (Array2<f64>, Vec<bool>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let width = lines.next().expect("a header").split(',').count() - 1;
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<f64> = line.split(',').map(|f| f.trim().parse().unwrap()).collect();
        values.extend_from_slice(&fields[..width]);
        labels.push(fields[width] == 1.0);
    }
    (Array2::from_shape_vec((labels.len(), width), values).unwrap(), labels)
}

/// ROC AUC of `anomaly` (higher = more abnormal) against `labels`: the Mann-Whitney statistic,
/// ties counting one half.
fn roc_auc(anomaly: &[f64], labels: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..anomaly.len()).collect();
    order.sort_by(|&a, &b| anomaly[a].total_cmp(&anomaly[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && anomaly[order[j + 1]] == anomaly[order[i]] {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

fn our_mean_auc(x: &Array2<f64>, labels: &[bool]) -> f64 {
    let aucs = (0..SEEDS).map(|seed| {
        let params = IsolationForestParams { seed, ..IsolationForestParams::default() };
        let scores = IsolationForest::fit(&params, x.view()).unwrap().score_samples(x.view()).unwrap();
        let anomaly: Vec<f64> = scores.iter().map(|s| -s).collect();
        roc_auc(&anomaly, labels)
    });
    aucs.sum::<f64>() / SEEDS as f64
}

#[test]
fn roc_auc_helper_matches_known_values() {
    assert_eq!(roc_auc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]), 1.0);
    assert_eq!(roc_auc(&[0.9, 0.8, 0.1, 0.2], &[false, false, true, true]), 0.0);
    assert_eq!(roc_auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), 0.5);
    assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
}

#[test]
fn mean_roc_auc_on_odds_is_within_a_hundredth_of_scikit_learns() {
    let shared = aiops_testkit::require_shared_dir();
    let python = aiops_testkit::require_python();
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("data/odds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no ODDS data set in {}", shared.display());
    let script = r#"
import json, sys
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
out = []
request = json.load(sys.stdin)
seeds = request["seeds"]
for path in request["paths"]:
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    x, y = data[:, :-1], data[:, -1]
    aucs = [roc_auc_score(y, -IsolationForest(random_state=s, n_jobs=2).fit(x).score_samples(x)) for s in range(seeds)]
    out.append(float(np.mean(aucs)))
print(json.dumps(out))
"#;
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let output = aiops_testkit::run_python(
        &python,
        script,
        serde_json::json!({"paths": paths, "seeds": SEEDS}).to_string().as_bytes(),
    );
    let sklearn: Vec<f64> = serde_json::from_slice(&output).unwrap();
    let mut report = Vec::new();
    for (path, theirs) in files.iter().zip(sklearn) {
        let (x, labels) = read_odds(path);
        let ours = our_mean_auc(&x, &labels);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        eprintln!("{name}: ours {ours:.4}, scikit-learn {theirs:.4}");
        report.push((name, ours, theirs));
    }
    let failing: Vec<_> =
        report.iter().filter(|(_, ours, theirs)| (ours - theirs).abs() > TOLERANCE).collect();
    assert!(failing.is_empty(), "mean ROC AUC differs by more than {TOLERANCE}: {failing:?}");
}

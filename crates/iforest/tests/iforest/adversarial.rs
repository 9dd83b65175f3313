//! Hostile or degenerate input: an error or a documented behaviour, never a panic.

use aiops_iforest::{Error, IsolationForest, IsolationForestParams, MaxSamples};
use ndarray::{Array2, array};

use super::api::{cloud, reference_forest};

#[test]
fn constant_columns_and_duplicate_rows_give_every_row_the_same_score() {
    for x in [Array2::from_elem((50, 3), 7.0), array![[1.0, 2.0]], Array2::from_elem((300, 1), -0.0)] {
        let forest = reference_forest(&x);
        let scores = forest.score_samples(x.view()).unwrap();
        // Every tree is one leaf of size n: path c(n) = c(max_samples), so the score is -0.5
        // (up to the rounding of summing 100 paths, which scikit-learn shares).
        assert!(scores.iter().all(|&s| s == scores[0] && (s + 0.5).abs() < 1e-12), "{scores}");
        assert!(
            forest
                .explain_row(&x.row(0).to_vec())
                .unwrap()
                .iter()
                .all(|&s| (s - 1.0 / x.ncols() as f64).abs() < 1e-15)
        );
    }
}

#[test]
fn a_constant_column_is_never_split_on() {
    let mut x = cloud(200, 3, 0);
    x.column_mut(1).fill(3.0);
    let forest = reference_forest(&x);
    let mut probe = x.row(0).to_vec();
    let before = forest.score_row(&probe).unwrap();
    probe[1] = 1e9;
    assert_eq!(forest.score_row(&probe).unwrap(), before);
}

#[test]
fn fewer_rows_than_max_samples_uses_every_row() {
    let x = cloud(10, 2, 1);
    let params =
        IsolationForestParams { max_samples: MaxSamples::Count(1000), ..IsolationForestParams::reference() };
    let forest = IsolationForest::fit(&params, x.view()).unwrap();
    assert_eq!(forest.max_samples(), 10);
    assert_eq!(reference_forest(&x).max_samples(), 10);
}

#[test]
fn huge_and_tiny_magnitudes_still_separate_outliers() {
    for scale in [1e300, 1e-300, f64::MAX / 16.0, 5e-324] {
        let mut x = cloud(300, 2, 3) * scale;
        x[[0, 0]] = if scale > 1.0 { -f64::MAX } else { 1e-290 };
        let forest = reference_forest(&x);
        let scores = forest.score_samples(x.view()).unwrap();
        assert!(scores.iter().all(|s| s.is_finite()), "scale {scale}");
        if scale != 5e-324 {
            assert!(scores[0] < scores[200], "scale {scale}: {} vs {}", scores[0], scores[200]);
        }
    }
}

#[test]
fn non_finite_values_are_refused_naming_row_and_column() {
    let x = cloud(20, 3, 0);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut y = x.clone();
        y[[13, 2]] = bad;
        let fit = IsolationForest::fit(&IsolationForestParams::reference(), y.view());
        assert!(matches!(fit, Err(Error::NonFinite { row: 13, column: 2, .. })), "{fit:?}");
        let forest = reference_forest(&x);
        let err = forest.score_samples(y.view()).unwrap_err();
        assert!(err.to_string().contains("row 13, column 2"), "{err}");
        assert!(matches!(forest.score_row(&[0.0, bad, 0.0]), Err(Error::NonFinite { column: 1, .. })));
        assert!(forest.explain_row(&[bad, 0.0, 0.0]).is_err());
    }
}

#[test]
fn empty_input_and_wrong_widths_are_refused() {
    for (rows, columns) in [(0, 3), (5, 0), (0, 0)] {
        let fit =
            IsolationForest::fit(&IsolationForestParams::reference(), Array2::zeros((rows, columns)).view());
        assert!(matches!(fit, Err(Error::EmptyInput { .. })), "{rows}x{columns}: {fit:?}");
    }
    let forest = reference_forest(&cloud(20, 3, 0));
    assert!(matches!(
        forest.score_samples(Array2::zeros((4, 2)).view()),
        Err(Error::FeatureCount { expected: 3, actual: 2 })
    ));
    assert!(matches!(forest.score_row(&[1.0; 4]), Err(Error::FeatureCount { .. })));
    assert_eq!(forest.score_samples(Array2::zeros((0, 3)).view()).unwrap().len(), 0);
}

#[test]
fn one_sample_per_tree_scores_minus_one_half_like_scikit_learn() {
    let x = cloud(30, 2, 0);
    let params =
        IsolationForestParams { max_samples: MaxSamples::Count(1), ..IsolationForestParams::reference() };
    let forest = IsolationForest::fit(&params, x.view()).unwrap();
    assert!(forest.score_samples(x.view()).unwrap().iter().all(|&s| s == -0.5));
}

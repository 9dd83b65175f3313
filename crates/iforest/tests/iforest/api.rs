//! The public API on ordinary data: fitting, scoring paths agreeing, determinism, parameters.

use aiops_iforest::{Contamination, Error, IsolationForest, IsolationForestParams, MaxSamples};
use ndarray::Array2;

/// A deterministic cloud of `n` points in `d` dimensions around 0 plus a few far outliers.
pub(crate) fn cloud(n: usize, d: usize, outliers: usize) -> Array2<f64> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    Array2::from_shape_fn((n, d), |(i, _)| if i < outliers { 8.0 + next() } else { next() })
}

#[test]
fn outliers_score_lower_and_are_flagged() {
    let x = cloud(1000, 3, 10);
    let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view()).unwrap();
    let predictions = forest.predict(x.view()).unwrap();
    assert!(predictions.iter().take(10).all(|&p| p == -1), "{predictions}");
    let flagged = predictions.iter().filter(|&&p| p == -1).count();
    assert_eq!(flagged, 50, "contamination 0.05 of 1000 rows flags the 50 lowest scores");
}

#[test]
fn fit_scored_is_fit_plus_the_training_scores() {
    let x = cloud(900, 3, 20);
    for contamination in [Contamination::Auto, Contamination::Fraction(0.05)] {
        let params = IsolationForestParams { contamination, ..IsolationForestParams::reference() };
        let forest = IsolationForest::fit(&params, x.view()).unwrap();
        let (scored, scores) = IsolationForest::fit_scored(&params, x.view()).unwrap();
        assert_eq!(scored, forest, "{contamination:?}");
        assert_eq!(scores, forest.score_samples(x.view()).unwrap(), "{contamination:?}");
    }
}

#[test]
fn batch_single_row_and_decision_paths_agree() {
    let x = cloud(700, 4, 5);
    let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view()).unwrap();
    let scores = forest.score_samples(x.view()).unwrap();
    let decisions = forest.decision_function(x.view()).unwrap();
    let predictions = forest.predict(x.view()).unwrap();
    for (i, row) in x.rows().into_iter().enumerate() {
        let row = row.to_vec();
        assert_eq!(forest.score_row(&row).unwrap(), scores[i]);
        assert_eq!(forest.decision_row(&row).unwrap(), decisions[i]);
        assert_eq!(scores[i] - forest.offset(), decisions[i]);
        assert_eq!(predictions[i], if decisions[i] < 0.0 { -1 } else { 1 });
        assert!((-1.0..0.0).contains(&scores[i]));
    }
    // A transposed (non-contiguous) view scores the same.
    let transposed = x.t().to_owned();
    let scores_t = forest.score_samples(transposed.t()).unwrap();
    assert_eq!(scores, scores_t);
}

/// Batch scoring may take a SIMD layout of padded trees (see `KERNEL_VARIABLE`); whatever the
/// width (blended or gathered ranks), depth (up to the layout's limit and past it), ties and
/// signed zeros, and row counts that fill no block, it must give the real trees' scores bit for bit.
#[test]
fn batch_scores_equal_row_scores_for_every_width_and_depth() {
    for (width, max_samples, rows) in
        [(1, 256, 1000), (2, 2, 70), (5, 256, 9001), (5, 1, 10), (8, 64, 513), (9, 256, 700), (12, 3, 65)]
            .into_iter()
            .chain([(3, 4100, 4200), (6, 5000, 5001)])
    {
        // Coarse values (ties between rows and thresholds), with signed zeros.
        let x = cloud(rows, width, rows / 50)
            .mapv(|v| if v.abs() < 0.05 { -0.0 } else { (v * 20.0).round() / 20.0 });
        let params = IsolationForestParams {
            max_samples: MaxSamples::Count(max_samples),
            ..IsolationForestParams::reference()
        };
        let forest = IsolationForest::fit(&params, x.view()).unwrap();
        let scores = forest.score_samples(x.view()).unwrap();
        for (i, row) in x.rows().into_iter().enumerate() {
            let single = forest.score_row(&row.to_vec()).unwrap();
            assert_eq!(
                scores[i].to_bits(),
                single.to_bits(),
                "width {width}, max_samples {max_samples}, row {i}"
            );
        }
    }
}

#[test]
fn same_seed_same_forest_whatever_the_thread_count() {
    let x = cloud(3000, 3, 20);
    let fit = |threads, seed| {
        let params = IsolationForestParams { threads, seed, ..IsolationForestParams::reference() };
        IsolationForest::fit(&params, x.view()).unwrap()
    };
    let one = fit(Some(1), 7);
    let two = fit(Some(2), 7);
    let all = fit(None, 7);
    assert_eq!(one.score_samples(x.view()).unwrap(), two.score_samples(x.view()).unwrap());
    assert_eq!(one, two);
    assert_eq!(one.score_samples(x.view()).unwrap(), all.score_samples(x.view()).unwrap());
    assert_ne!(one.score_samples(x.view()).unwrap(), fit(Some(1), 8).score_samples(x.view()).unwrap());
}

#[test]
fn invalid_parameters_name_their_field() {
    let x = cloud(10, 2, 0);
    let reference = IsolationForestParams::reference;
    let cases = [
        (IsolationForestParams { n_estimators: 0, ..reference() }, "n_estimators"),
        (IsolationForestParams { max_samples: MaxSamples::Count(0), ..reference() }, "max_samples"),
        (IsolationForestParams { max_samples: MaxSamples::Fraction(1.5), ..reference() }, "max_samples"),
        (IsolationForestParams { max_samples: MaxSamples::Fraction(0.01), ..reference() }, "max_samples"),
        (IsolationForestParams { max_samples: MaxSamples::Fraction(f64::NAN), ..reference() }, "max_samples"),
        (
            IsolationForestParams { contamination: Contamination::Fraction(0.0), ..reference() },
            "contamination",
        ),
        (
            IsolationForestParams { contamination: Contamination::Fraction(0.6), ..reference() },
            "contamination",
        ),
        (IsolationForestParams { max_features: 0.0, ..reference() }, "max_features"),
        (IsolationForestParams { max_features: f64::INFINITY, ..reference() }, "max_features"),
        (IsolationForestParams { threads: Some(0), ..reference() }, "threads"),
    ];
    for (params, field) in cases {
        match IsolationForest::fit(&params, x.view()) {
            Err(Error::InvalidParams { field: named, .. }) => assert_eq!(named, field, "{params:?}"),
            other => panic!("{params:?} gave {other:?}"),
        }
    }
}

#[test]
fn parameters_parse_from_their_command_line_spelling() {
    assert_eq!("auto".parse::<MaxSamples>().unwrap(), MaxSamples::Auto);
    assert_eq!("256".parse::<MaxSamples>().unwrap(), MaxSamples::Count(256));
    assert_eq!("0.5".parse::<MaxSamples>().unwrap(), MaxSamples::Fraction(0.5));
    assert!("many".parse::<MaxSamples>().is_err());
    assert_eq!("auto".parse::<Contamination>().unwrap(), Contamination::Auto);
    assert_eq!("0.05".parse::<Contamination>().unwrap(), Contamination::Fraction(0.05));
    assert!("x".parse::<Contamination>().is_err());
    let defaults = IsolationForestParams::default();
    assert_eq!((defaults.n_estimators, defaults.contamination), (100, Contamination::Auto));
    let reference = IsolationForestParams::reference();
    assert_eq!((reference.seed, reference.contamination), (42, Contamination::Fraction(0.05)));
}

#[test]
fn explanation_credits_the_feature_that_isolates() {
    let mut x = cloud(500, 3, 0);
    x[[0, 2]] = 50.0; // row 0 is abnormal in column 2 only
    let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view()).unwrap();
    let shares = forest.explain_row(&x.row(0).to_vec()).unwrap();
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(shares[2] > 0.5, "{shares:?}");
    assert!(shares.iter().all(|&s| s >= 0.0));
}

#[test]
fn max_features_and_bootstrap_give_working_forests() {
    let x = cloud(400, 6, 4);
    let params =
        IsolationForestParams { max_features: 0.5, bootstrap: true, ..IsolationForestParams::reference() };
    let forest = IsolationForest::fit(&params, x.view()).unwrap();
    let scores = forest.score_samples(x.view()).unwrap();
    assert!(scores.iter().take(4).all(|&s| s < scores[100]));
}

/// Shared by other test modules: fit the reference forest.
pub(crate) fn reference_forest(x: &Array2<f64>) -> IsolationForest {
    IsolationForest::fit(&IsolationForestParams::reference(), x.view()).unwrap()
}

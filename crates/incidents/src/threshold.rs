//! Where "anomalous" starts: a score threshold calibrated on training scores.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How to pick the threshold. Scores follow scikit-learn's `score_samples` convention: higher is
/// more normal, so points scoring *below* the threshold are anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ThresholdRule {
    /// The model's own offset (`offset_` in scikit-learn: its contamination quantile of the
    /// training scores, or -0.5 with `contamination="auto"`).
    ModelOffset,
    /// The `q`-quantile (0 < q < 1) of the training scores, interpolated linearly like
    /// `numpy.quantile`: a fraction `q` of the training points lies below it.
    Quantile {
        /// The quantile, e.g. 0.001 for one training point in a thousand.
        q: f64,
    },
    /// A fixed score.
    Score {
        /// The threshold score.
        value: f64,
    },
}

/// A calibrated threshold on scores; turns a score into a decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Scores below this are anomalous.
    pub score: f64,
}

impl Threshold {
    /// Calibrates `rule` on `training_scores` (the model's `score_samples` on its training data)
    /// and the model's `offset`.
    ///
    /// ```
    /// use aiops_incidents::{Threshold, ThresholdRule};
    /// let scores = [-0.6, -0.5, -0.45, -0.4, -0.4];
    /// let t = Threshold::calibrate(ThresholdRule::Quantile { q: 0.25 }, &scores, -0.55)?;
    /// assert_eq!(t.score, -0.5);
    /// assert!(t.decision(-0.52) < 0.0);
    /// assert_eq!(Threshold::calibrate(ThresholdRule::ModelOffset, &scores, -0.55)?.score, -0.55);
    /// # Ok::<(), aiops_incidents::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `q` outside (0, 1) or a non-finite fixed score or
    /// offset; [`Error::Calibration`] for a quantile of no scores or of scores with a NaN.
    pub fn calibrate(rule: ThresholdRule, training_scores: &[f64], model_offset: f64) -> Result<Self> {
        let finite = |field, value: f64| {
            if value.is_finite() {
                Ok(Self { score: value })
            } else {
                Err(Error::InvalidParameter { field, reason: format!("must be finite, got {value}") })
            }
        };
        match rule {
            ThresholdRule::ModelOffset => finite("offset", model_offset),
            ThresholdRule::Score { value } => finite("value", value),
            ThresholdRule::Quantile { q } => {
                if !(q > 0.0 && q < 1.0) {
                    return Err(Error::InvalidParameter {
                        field: "q",
                        reason: format!("must be in (0, 1), got {q}"),
                    });
                }
                Ok(Self { score: quantile(training_scores, q)? })
            }
        }
    }

    /// The decision for `score`: `score - threshold`, below 0 anomalous (scikit-learn's
    /// `decision_function` when the threshold is the model's offset). NaN stays NaN.
    pub fn decision(&self, score: f64) -> f64 {
        score - self.score
    }
}

/// `numpy.quantile(scores, q)` with its default linear method ([`aiops_iforest::percentile`], the
/// function the forest's own offset uses), so a `q` equal to the contamination reproduces the
/// model's offset.
fn quantile(scores: &[f64], q: f64) -> Result<f64> {
    if scores.iter().any(|s| s.is_nan()) {
        return Err(Error::Calibration("a training score is NaN".to_owned()));
    }
    aiops_iforest::percentile(scores, 100.0 * q)
        .ok_or_else(|| Error::Calibration("no training scores".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        // numpy.quantile([3, 1, 4, 1, 5], q): sorted 1 1 3 4 5, index q * 4
        let scores = [3.0, 1.0, 4.0, 1.0, 5.0];
        for (q, expected) in [(0.1, 1.0), (0.5, 3.0), (0.6, 3.4000000000000004), (0.95, 4.8), (0.999, 4.996)]
        {
            let got = Threshold::calibrate(ThresholdRule::Quantile { q }, &scores, 0.0).unwrap().score;
            assert!((got - expected).abs() < 1e-12, "q {q}: {got} != {expected}");
        }
    }

    #[test]
    fn bad_calibrations_are_refused_by_name() {
        let q = |q| Threshold::calibrate(ThresholdRule::Quantile { q }, &[1.0], 0.0).unwrap_err();
        assert!(matches!(q(0.0), Error::InvalidParameter { field: "q", .. }));
        assert!(matches!(q(1.0), Error::InvalidParameter { field: "q", .. }));
        assert!(matches!(q(f64::NAN), Error::InvalidParameter { field: "q", .. }));
        let empty = Threshold::calibrate(ThresholdRule::Quantile { q: 0.5 }, &[], 0.0).unwrap_err();
        assert!(matches!(empty, Error::Calibration(_)));
        let nan = Threshold::calibrate(ThresholdRule::Quantile { q: 0.5 }, &[f64::NAN], 0.0).unwrap_err();
        assert!(matches!(nan, Error::Calibration(_)));
        let offset = Threshold::calibrate(ThresholdRule::ModelOffset, &[], f64::INFINITY).unwrap_err();
        assert!(matches!(offset, Error::InvalidParameter { field: "offset", .. }));
    }

    #[test]
    fn decision_is_score_minus_threshold() {
        let threshold = Threshold { score: -0.5 };
        assert_eq!(threshold.decision(-0.25), 0.25);
        assert_eq!(threshold.decision(-0.75), -0.25);
    }
}

//! Per-instance streaming state: the feature accumulators and a one-hour window of verdicts.
//! Pure and synchronous: points in, verdicts out, O(1) amortised per point.

use std::collections::VecDeque;

use aiops_features::StreamingFeatures;

/// Length of the window behind `anomalies_last_hour` and the anomaly rate, in seconds of data time.
pub const WINDOW_SECONDS: f64 = 3600.0;

/// The forest's verdict on one feature row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scoring {
    /// scikit-learn's `score_samples`: the opposite of the anomaly score, lower is more abnormal.
    pub score: f64,
    /// scikit-learn's `decision_function`: `score - offset`, negative means anomalous.
    pub decision: f64,
}

impl Scoring {
    /// scikit-learn's `predict` rule: anomalous when the decision function is negative.
    pub fn is_anomalous(&self) -> bool {
        self.decision < 0.0
    }
}

/// One scored point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Sample time, unix seconds.
    pub timestamp: f64,
    /// The sample's value.
    pub value: f64,
    /// The forest's scores of the point's feature row.
    pub scoring: Scoring,
}

/// Streaming state of one watched series.
#[derive(Debug, Clone)]
pub struct SeriesState {
    features: StreamingFeatures,
    window: VecDeque<Verdict>,
    anomalies_in_window: usize,
    latest: Option<Verdict>,
}

impl SeriesState {
    /// Fresh state whose feature accumulators come from the model's schema.
    pub fn new(features: StreamingFeatures) -> Self {
        Self { features, window: VecDeque::new(), anomalies_in_window: 0, latest: None }
    }

    /// Timestamp of the newest point taken in, so the next fetch asks only for newer points.
    pub fn last_timestamp(&self) -> Option<f64> {
        self.latest.map(|v| v.timestamp)
    }

    /// The newest verdict.
    pub fn latest(&self) -> Option<Verdict> {
        self.latest
    }

    /// Anomalous points among those within [`WINDOW_SECONDS`] of the newest point.
    pub fn anomalies_last_hour(&self) -> usize {
        self.anomalies_in_window
    }

    /// Points within [`WINDOW_SECONDS`] of the newest point.
    pub fn points_last_hour(&self) -> usize {
        self.window.len()
    }

    /// Fraction of the last hour's points flagged anomalous (`None` before the first point).
    pub fn anomaly_rate(&self) -> Option<f64> {
        (!self.window.is_empty()).then(|| self.anomalies_in_window as f64 / self.window.len() as f64)
    }

    /// Takes in one point: computes its feature row, scores it with `score`, and updates the
    /// window. Points not newer than the newest one seen are ignored (fetch windows overlap by
    /// design), so `Ok(None)`.
    ///
    /// # Errors
    /// Whatever the feature computation or `score` reports; the state is unchanged then.
    pub fn push<E>(
        &mut self,
        timestamp: f64,
        value: f64,
        score: impl FnOnce(&[f64; 5]) -> Result<Scoring, E>,
    ) -> Result<Option<Verdict>, E>
    where
        E: From<aiops_features::Error>,
    {
        if self.last_timestamp().is_some_and(|last| timestamp <= last) {
            return Ok(None);
        }
        // Score a copy so that a failing score leaves the accumulators untouched.
        let mut features = self.features.clone();
        let row = features.push(timestamp, value)?;
        let scoring = score(&row)?;
        self.features = features;
        let verdict = Verdict { timestamp, value, scoring };
        self.window.push_back(verdict);
        self.anomalies_in_window += usize::from(scoring.is_anomalous());
        while let Some(oldest) = self.window.front().copied() {
            if oldest.timestamp > timestamp - WINDOW_SECONDS {
                break;
            }
            self.window.pop_front();
            self.anomalies_in_window -= usize::from(oldest.scoring.is_anomalous());
        }
        self.latest = Some(verdict);
        Ok(Some(verdict))
    }
}

//! The causal streaming detector: streaming features, a forest trained on the past only, a
//! calibrated threshold and an incident tracker, one point at a time.

use std::collections::VecDeque;

use aiops_features::{FeatureSchema, StreamingFeatures};
use aiops_iforest::{IsolationForest, IsolationForestParams};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::incident::check_same_length;
use crate::{
    CheckedIncidentParams, Error, Incident, IncidentParams, IncidentTracker, Result, Threshold,
    ThresholdRule, TrackerEvents,
};

/// Parameters of the [`StreamingDetector`]. Validate with [`DetectorParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorParams {
    /// The features computed for each point (the reference schema by default).
    pub schema: FeatureSchema,
    /// The forest grown at each (re)training.
    pub forest: IsolationForestParams,
    /// Points seen before the first training; nothing is scored before it.
    pub train_points: usize,
    /// Points between retrainings (0: train once).
    pub retrain_every: usize,
    /// Most recent points each (re)training uses (at least `train_points`).
    pub history: usize,
    /// How the threshold is calibrated on the training scores at each (re)training.
    pub threshold: ThresholdRule,
    /// How anomalous points become incidents and alerts.
    pub incidents: IncidentParams,
}

impl Default for DetectorParams {
    /// The defaults tuned on NAB's AWS CloudWatch series (5-minute samples): the reference
    /// feature computation with an hour-long window (12 points) instead of 5, which sees level
    /// shifts the 5-point window misses; train on the first 2 days, retrain daily on the last
    /// week; threshold at the 1% quantile of the training scores; an incident needs 2 anomalous
    /// points at most 2 normal points apart; alerts at least 2 days apart.
    /// `benches/README.md` ("NAB incident detection") records how they score.
    fn default() -> Self {
        Self {
            schema: FeatureSchema { window: 12, ..FeatureSchema::reference() },
            forest: IsolationForestParams::reference(),
            train_points: 576,
            retrain_every: 288,
            history: 2016,
            threshold: ThresholdRule::Quantile { q: 0.01 },
            incidents: IncidentParams { max_gap: 2, min_points: 2, cooldown: 576, long_incident: 12 },
        }
    }
}

/// [`DetectorParams`] that passed [`DetectorParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDetectorParams {
    params: DetectorParams,
    incidents: CheckedIncidentParams,
}

impl CheckedDetectorParams {
    /// The validated parameters.
    pub fn params(&self) -> &DetectorParams {
        &self.params
    }
}

impl DetectorParams {
    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the field: a bad schema or forest, `train_points` 0,
    /// `history` below `train_points`, a quantile outside (0, 1), bad incident parameters.
    pub fn check(self) -> Result<CheckedDetectorParams> {
        let invalid = |field, reason: String| Err(Error::InvalidParameter { field, reason });
        if let Err(error) = self.schema.clone().check() {
            return invalid("schema", error.to_string());
        }
        if let Err(error) = self.forest.check() {
            return invalid("forest", error.to_string());
        }
        if self.train_points == 0 {
            return invalid("train_points", "must be at least 1".to_owned());
        }
        if self.history < self.train_points {
            return invalid(
                "history",
                format!("{} is below train_points ({})", self.history, self.train_points),
            );
        }
        if let ThresholdRule::Quantile { q } = self.threshold
            && !(q > 0.0 && q < 1.0)
        {
            return invalid("threshold", format!("quantile {q} is not in (0, 1)"));
        }
        let incidents = self.incidents.check()?;
        Ok(CheckedDetectorParams { params: self, incidents })
    }
}

/// What the detector made of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointOutcome {
    /// The point's feature row.
    pub features: [f64; 5],
    /// The forest's score (`score_samples`: lower is more anomalous); NaN before the first
    /// training or when the features are not finite (e.g. a missing value).
    pub score: f64,
    /// The decision (`score - threshold`, below 0 anomalous); NaN when `score` is.
    pub decision: f64,
    /// Incidents confirmed (alert) or closed by this point.
    pub events: TrackerEvents,
}

/// A fitted forest with the threshold calibrated on its training scores.
#[derive(Debug, Clone)]
struct Model {
    forest: IsolationForest,
    threshold: Threshold,
}

/// The causal detector: sees points in time order only, trains on the first `train_points`,
/// scores every later point with the streaming features and the current forest (O(1) in the
/// series length), and retrains on the last `history` points every `retrain_every` points. An
/// alert fires when an incident is confirmed; nothing it reports for a point depends on a later
/// point.
#[derive(Debug, Clone)]
pub struct StreamingDetector {
    params: DetectorParams,
    features: StreamingFeatures,
    /// Finite feature rows of the last `history` points, with their row index.
    history: VecDeque<(usize, [f64; 5])>,
    model: Option<Model>,
    since_training: usize,
    tracker: IncidentTracker,
}

impl StreamingDetector {
    /// A detector that has seen nothing yet.
    pub fn new(params: &CheckedDetectorParams) -> Self {
        Self {
            features: params.params.schema.streaming(),
            history: VecDeque::with_capacity(params.params.history),
            model: None,
            since_training: 0,
            tracker: IncidentTracker::new(&params.incidents),
            params: params.params.clone(),
        }
    }

    /// Whether a forest has been trained yet.
    pub fn is_trained(&self) -> bool {
        self.model.is_some()
    }

    /// The current forest, if trained.
    pub fn forest(&self) -> Option<&IsolationForest> {
        self.model.as_ref().map(|m| &m.forest)
    }

    /// The current threshold, if trained.
    pub fn threshold(&self) -> Option<Threshold> {
        self.model.as_ref().map(|m| m.threshold)
    }

    /// Scores the next point (`timestamp` in unix seconds) and then learns from it.
    ///
    /// # Errors
    /// A bad timestamp ([`Error::Features`]) leaves the detector unchanged; a failed training
    /// ([`Error::Forest`]) or calibration.
    pub fn push(&mut self, timestamp: f64, value: f64) -> Result<PointOutcome> {
        let features = self.features.push(timestamp, value).map_err(Error::Features)?;
        let index = self.tracker.len();
        let finite = features.iter().all(|f| f.is_finite());
        let score = match (&self.model, finite) {
            (Some(model), true) => model.forest.score_row(&features).map_err(Error::Forest)?,
            _ => f64::NAN,
        };
        let decision = self.model.as_ref().map_or(f64::NAN, |m| m.threshold.decision(score));
        let events = self.tracker.push(timestamp, value, decision);
        if finite {
            if self.history.len() == self.params.history {
                self.history.pop_front();
            }
            self.history.push_back((index, features));
        }
        self.since_training += 1;
        let due = match self.model {
            None => self.history.len() >= self.params.train_points,
            Some(_) => self.params.retrain_every > 0 && self.since_training >= self.params.retrain_every,
        };
        if due {
            self.train()?;
        }
        Ok(PointOutcome { features, score, decision, events })
    }

    /// Ends the stream: the incident still open, if confirmed.
    pub fn finish(self) -> Option<Incident> {
        self.tracker.finish()
    }

    /// The feature shares explaining the row `index` with the current forest, when that row is
    /// still in the history (e.g. the peak of a fresh alert), else `None`.
    ///
    /// # Errors
    /// [`Error::Forest`] if the forest refuses the row (it never should: history rows are finite).
    pub fn explain(&self, index: usize) -> Result<Option<Vec<crate::FeatureShare>>> {
        let (Some(model), Ok(position)) =
            (&self.model, self.history.binary_search_by_key(&index, |(i, _)| *i))
        else {
            return Ok(None);
        };
        let row = &self.history[position].1;
        crate::explain::explain_row(&model.forest, &self.params.schema, row).map(Some)
    }

    fn train(&mut self) -> Result<()> {
        let rows = self.history.len();
        let x = Array2::from_shape_fn((rows, 5), |(r, c)| self.history[r].1[c]);
        let forest = IsolationForest::fit(&self.params.forest, x.view()).map_err(Error::Forest)?;
        let scores = forest.score_samples(x.view()).map_err(Error::Forest)?;
        let threshold =
            Threshold::calibrate(self.params.threshold, scores.as_slice().unwrap_or(&[]), forest.offset())?;
        self.model = Some(Model { forest, threshold });
        self.since_training = 0;
        Ok(())
    }
}

/// What [`detect`] found in a whole series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Per point: the score (NaN when unscored).
    pub scores: Vec<f64>,
    /// Per point: the decision (NaN when unscored).
    pub decisions: Vec<f64>,
    /// The incidents, in time order, with the peak's explanation when it was still in the
    /// detector's history at the incident's alert.
    pub incidents: Vec<Incident>,
    /// Rows at which alerts fired.
    pub alerts: Vec<usize>,
}

/// Replays a whole series through a [`StreamingDetector`], point by point (so exactly what a
/// live stream would have reported).
///
/// # Errors
/// [`Error::LengthMismatch`], or what [`StreamingDetector::push`] returns.
pub fn detect(params: &CheckedDetectorParams, timestamps: &[f64], values: &[f64]) -> Result<Detection> {
    check_same_length(timestamps.len(), &[("values", values.len())])?;
    let mut detector = StreamingDetector::new(params);
    let mut detection = Detection::default();
    let mut explanations = Vec::new();
    for (&timestamp, &value) in timestamps.iter().zip(values) {
        let outcome = detector.push(timestamp, value)?;
        detection.scores.push(outcome.score);
        detection.decisions.push(outcome.decision);
        if let Some(alert) = outcome.events.alert {
            detection.alerts.push(alert.alert_index);
            explanations.push((alert.onset_index, detector.explain(alert.peak_index)?));
        }
        detection.incidents.extend(outcome.events.closed);
    }
    detection.incidents.extend(detector.finish());
    for incident in &mut detection.incidents {
        if let Some((_, Some(explanation))) =
            explanations.iter().find(|(onset, _)| *onset == incident.onset_index)
        {
            incident.explanation.clone_from(explanation);
        }
    }
    Ok(detection)
}

/// The reference platform's point detector, for comparison: computes the batch features of the
/// whole series, fits the forest on all of it (it sees the future) and flags every row the forest
/// predicts as anomalous (`decision < 0`, about `contamination` of the rows). Returns those rows.
///
/// # Errors
/// [`Error::Features`] or [`Error::Forest`].
pub fn reference_point_alerts(
    schema: &FeatureSchema,
    forest: &IsolationForestParams,
    timestamps: &[f64],
    values: &[f64],
) -> Result<Vec<usize>> {
    let x = schema.compute(timestamps, values).map_err(Error::Features)?;
    let forest = IsolationForest::fit(forest, x.view()).map_err(Error::Forest)?;
    let decisions = forest.decision_function(x.view()).map_err(Error::Forest)?;
    Ok(decisions.iter().enumerate().filter(|(_, d)| **d < 0.0).map(|(i, _)| i).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DetectorParams {
        DetectorParams {
            train_points: 200,
            retrain_every: 100,
            history: 400,
            forest: IsolationForestParams { n_estimators: 25, ..IsolationForestParams::reference() },
            incidents: IncidentParams { cooldown: 50, ..DetectorParams::default().incidents },
            ..DetectorParams::default()
        }
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        let field = |params: DetectorParams| match params.check().unwrap_err() {
            Error::InvalidParameter { field, .. } => field,
            other => panic!("unexpected {other}"),
        };
        assert_eq!(field(DetectorParams { train_points: 0, ..small() }), "train_points");
        assert_eq!(field(DetectorParams { history: 10, ..small() }), "history");
        assert_eq!(
            field(DetectorParams { threshold: ThresholdRule::Quantile { q: 1.5 }, ..small() }),
            "threshold"
        );
        let forest = IsolationForestParams { n_estimators: 0, ..IsolationForestParams::reference() };
        assert_eq!(field(DetectorParams { forest, ..small() }), "forest");
        let incidents = IncidentParams { min_points: 0, ..IncidentParams::default() };
        assert_eq!(field(DetectorParams { incidents, ..small() }), "min_points");
    }

    /// A daily-ish wave with noise and two injected level shifts.
    fn wavy_series(n: usize) -> (Vec<f64>, Vec<f64>) {
        let timestamps: Vec<f64> = (0..n).map(|i| 1.4e9 + 300.0 * i as f64).collect();
        let values = (0..n)
            .map(|i| {
                let x = i as f64;
                let shift = if (450..470).contains(&i) || (700..720).contains(&i) { 8.0 } else { 0.0 };
                10.0 + (x * 0.07).sin() + 0.3 * (x * 1.3).sin() * (x * 0.31).cos() + shift
            })
            .collect();
        (timestamps, values)
    }

    #[test]
    fn changing_points_after_t_never_changes_anything_before_t() {
        let params =
            DetectorParams { threshold: ThresholdRule::Quantile { q: 0.01 }, ..small() }.check().unwrap();
        let (timestamps, values) = wavy_series(900);
        let original = detect(&params, &timestamps, &values).unwrap();
        assert!(
            original.alerts.iter().any(|&a| (450..475).contains(&a)),
            "the first shift alerts: {:?}",
            original.alerts
        );
        for t in [300, 455, 600, 710] {
            let mut changed = values.clone();
            changed[t..].iter_mut().enumerate().for_each(|(k, v)| *v = -50.0 * (k % 3) as f64 + 1e3);
            let replay = detect(&params, &timestamps, &changed).unwrap();
            let before = |d: &Detection| d.alerts.iter().copied().filter(|&a| a < t).collect::<Vec<_>>();
            assert_eq!(before(&replay), before(&original), "alerts before row {t}");
            let bits = |d: &Detection| d.decisions[..t].iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&replay), bits(&original), "decisions before row {t}");
        }
    }

    #[test]
    fn alerts_carry_the_explanation_of_their_peak() {
        let params =
            DetectorParams { threshold: ThresholdRule::Quantile { q: 0.01 }, ..small() }.check().unwrap();
        let (timestamps, values) = wavy_series(900);
        let detection = detect(&params, &timestamps, &values).unwrap();
        let alerted: Vec<&Incident> = detection.incidents.iter().filter(|i| i.alerted).collect();
        assert_eq!(alerted.len(), detection.alerts.len());
        for incident in alerted {
            let total: f64 = incident.explanation.iter().map(|s| s.share).sum();
            assert!((total - 1.0).abs() < 1e-9, "shares of {incident:?} sum to 1");
            assert_eq!(incident.explanation.len(), 5);
        }
    }

    #[test]
    fn nothing_is_scored_before_the_training_period_ends() {
        let params = small().check().unwrap();
        let timestamps: Vec<f64> = (0..300).map(|i| 300.0 * f64::from(i)).collect();
        let values: Vec<f64> = (0..300).map(|i| (f64::from(i) * 0.3).sin()).collect();
        let detection = detect(&params, &timestamps, &values).unwrap();
        assert!(detection.scores[..200].iter().all(|s| s.is_nan()));
        assert!(detection.scores[200..].iter().all(|s| s.is_finite()));
    }
}

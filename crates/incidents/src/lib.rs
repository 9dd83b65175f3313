//! Incidents, not points: turns per-point anomaly scores into incidents (onset, end, peak,
//! severity, explanation) with merging and blip suppression, and runs a causal streaming detector
//! that trains, scores and retrains on a live series without ever looking at future data.
//! The crate does no I/O.
//!
//! The pieces, from the bottom up:
//! - [`Threshold`]: where "anomalous" starts, calibrated on training scores (a quantile or the
//!   model's offset); it turns a score into a *decision* (below 0 is anomalous).
//! - [`IncidentTracker`] (streaming) and [`find_incidents`] (batch, the same code): merge anomalous
//!   points into [`Incident`]s, suppress blips, raise an alert when an incident is confirmed.
//! - [`StreamingDetector`] (and [`detect`], its replay over a whole series): the causal detector
//!   behind every command's incidents and alerts (one policy, [`CheckedDetectorParams::default`]):
//!   change and hour-of-day context scores, HTM's anomaly likelihood (judged against the whole
//!   series and against the same hour of the day), a spatial check and the tracker's alert
//!   cooldown.
//! - [`explain_incidents`]: the forest's explanation of each incident's peak.
//! - [`nab`]: the Numenta Anomaly Benchmark's scoring rules, to measure alerts against labels.
//!
//! ```
//! use aiops_incidents::{IncidentParams, find_incidents};
//! let timestamps: Vec<f64> = (0..8).map(|i| 300.0 * f64::from(i)).collect();
//! let values = [1.0, 1.0, 9.0, 9.5, 1.0, 9.0, 1.0, 1.0];
//! // decision_function: below 0 is anomalous
//! let decisions = [0.1, 0.1, -0.1, -0.2, 0.1, -0.05, 0.1, 0.1];
//! let params = IncidentParams { max_gap: 1, min_points: 2, ..IncidentParams::default() }.check()?;
//! let incidents = find_incidents(&timestamps, &values, &decisions, &params)?;
//! assert_eq!(incidents.len(), 1);
//! assert_eq!((incidents[0].onset_index, incidents[0].end_index), (2, 5));
//! assert_eq!(incidents[0].alert_index, 3); // confirmed by its second anomalous point
//! assert_eq!(incidents[0].peak_index, 3);
//! # Ok::<(), aiops_incidents::Error>(())
//! ```

mod detector;
mod explain;
mod incident;
pub mod nab;
mod threshold;

pub use detector::{
    CheckedDetectorParams, Detection, DetectorParams, PointOutcome, SPATIAL_DECISION, StreamingDetector,
    detect, reference_point_alerts,
};
pub use explain::{FeatureShare, explain_incidents, explain_row};

pub use incident::{
    CheckedIncidentParams, Incident, IncidentParams, IncidentTracker, Severity, TrackerEvents, find_incidents,
};
pub use threshold::{Threshold, ThresholdRule};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range; the field is named.
    #[error("invalid parameter `{field}`: {reason}")]
    InvalidParameter {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Parallel inputs (timestamps, values, scores) differ in length.
    #[error("`{name}` has {actual} entries, expected {expected} (one per timestamp)")]
    LengthMismatch {
        /// The input whose length is wrong.
        name: &'static str,
        /// Its length.
        actual: usize,
        /// The length of the timestamps.
        expected: usize,
    },
    /// A threshold cannot be calibrated on the scores given.
    #[error("cannot calibrate a threshold: {0}")]
    Calibration(String),
    /// The streaming features refused a point (e.g. a bad timestamp).
    #[error("features: {0}")]
    Features(#[source] aiops_features::Error),
    /// The forest refused to train or score.
    #[error("isolation forest: {0}")]
    Forest(#[source] aiops_iforest::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

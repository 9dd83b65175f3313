//! Continuous detection for `aiops watch`: every interval, fetch only the new points of each
//! watched series from Prometheus, push them through the shared streaming features (O(1) per
//! point) and the trained forest, and export the verdicts as Prometheus metrics (latest score,
//! anomaly flag, anomalies in the last hour, anomaly rate against the model's contamination).

pub mod metrics;
pub mod state;

pub use metrics::{METRIC_NAMES, SeriesLabels, WatchMetrics};
pub use state::{Scoring, SeriesState, Verdict, WINDOW_SECONDS};

/// Everything that can go wrong while watching.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A watch parameter is out of range; the field is named.
    #[error("invalid watch parameter `{field}`: {reason}")]
    InvalidParam {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The feature computation refused a point.
    #[error("computing features")]
    Features(
        #[from]
        #[source]
        aiops_features::Error,
    ),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

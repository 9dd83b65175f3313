//! Continuous detection for `aiops watch`: every interval, fetch only the new points of each
//! watched series from Prometheus, push them through the shared streaming features (O(1) per
//! point) and the trained forest, and export the verdicts as Prometheus metrics (latest score,
//! anomaly flag, anomalies in the last hour, anomaly rate against the model's contamination).

pub mod checkpoint;
pub mod metrics;
pub mod server;
mod shard;
pub mod state;
mod watcher;

pub use metrics::{DetectorState, METRIC_NAMES, SeriesLabels, WatchMetrics};
pub use shard::{MAX_REPLICAS, Shard, owner};
pub use state::{Scoring, SeriesState, Verdict, WINDOW_SECONDS};
pub use watcher::{
    Checkpoints, Round, SPATIAL_SCORE, Targets, WatchConfig, WatchParams, Watcher, anomaly_score,
    expected_anomaly_rate, run,
};

/// Everything that can go wrong while watching.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A watch parameter is out of range; the field is named.
    #[error("invalid watch parameter `{field}`: {reason}")]
    InvalidParameter {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The feature computation refused a point, or the metric's value column.
    #[error("computing features")]
    Features(#[from] aiops_features::Error),
    /// The model does not fit the watched metric, or refused a feature row.
    #[error("the model")]
    Model(#[source] aiops_iforest::Error),
    /// The model was trained on none of the watched metrics.
    #[error("the model was trained on `{column}`, which is none of the watched metrics' columns ({watched})")]
    ModelMetric {
        /// The model's value column.
        column: String,
        /// The watched metrics' value columns.
        watched: String,
    },
    /// The model's features are not those of the watched metric.
    #[error("the model's features")]
    ModelFeatures(#[from] aiops_artifacts::Error),
    /// Talking to Prometheus failed, or its configuration is invalid.
    #[error("Prometheus")]
    Prometheus(#[source] aiops_promclient::Error),
    /// The state file cannot be used (unreadable, too large, corrupt, incompatible).
    #[error("the state file {path} cannot be used: {reason}")]
    State {
        /// The state file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing the state file failed.
    #[error("writing the state file")]
    StateWrite(#[source] aiops_artifacts::Error),
    /// The metrics address cannot be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The metrics server failed.
    #[error("serving metrics")]
    Serve(#[source] aiops_serve::Error),
    /// The metrics server's task panicked.
    #[error("the metrics server stopped unexpectedly")]
    ServerTask(#[source] tokio::task::JoinError),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

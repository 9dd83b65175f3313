//! Continuous detection for `aiops watch`, from a few nodes to a fleet.
//!
//! - **What is watched** ([`Targets`]): fixed instances, or every instance whose `up` series a
//!   label selector matches (`--job`, `--selector`), discovered every round: a new instance is
//!   watched from the next round, one no longer found is dropped after the grace period (its
//!   series leave `/metrics` then).
//! - **Series**: each (instance, metric) pair has its own [`aiops_incidents::StreamingDetector`]
//!   (the project's one detector, default parameters) learning online; a trained forest is
//!   optional and scores the one watched metric it was trained on (the streaming features, O(1)
//!   per point), see [`Watcher::new`].
//! - **Few queries**: per round, one range query per metric for all caught-up instances of the
//!   shard (grouped `by (instance)`, see `aiops_promclient::Metric::fleet_queries`), plus one for
//!   instances that are behind (new, or without data lately); more only when the instance regex
//!   would be too long.
//! - **Outputs** ([`metrics`]): `aiops_anomaly_score` (0 normal, above 1 anomalous, see
//!   [`anomaly_score`]), `aiops_incident_open`, `aiops_incident_start_timestamp_seconds`, fleet
//!   gauges, and the forest's `aiops_watch_*` series; optionally the first three pushed each
//!   round with Prometheus' remote write ([`WatchParams::remote_write`]).
//! - **Shards** ([`Shard`]): replicas split the fleet by rendezvous hashing of the instance.
//! - **Restarts** ([`checkpoint`]): the detectors' state is checkpointed to a file and restored
//!   at start, so a restarted watcher continues exactly.

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
    Checkpoints, MAX_INSTANCES, Round, SAMPLES_PER_QUERY, SPATIAL_SCORE, Targets, WatchConfig, WatchParams,
    Watcher, anomaly_score, expected_anomaly_rate, run,
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

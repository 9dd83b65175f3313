//! The training pipeline as library functions: fetch, features, train and score steps over the
//! artifact formats of [`aiops_artifacts`], the built-in demo trace, and the local runner behind
//! `aiops pipeline run` and `aiops demo`.
//!
//! Every step reads and writes the reference platform's artifact formats (data CSV, features
//! CSV, metrics JSON) and writes each output atomically: a failed step leaves no partial file.
//! Deploying and compiling the pipeline for Kubeflow live in `aiops-kube`, so running the
//! pipeline locally needs no Kubernetes client.

pub mod demo_trace;
pub mod features_step;
pub mod fetch_step;
pub mod runner;
pub mod score_step;
pub mod train_step;

/// Everything a pipeline step can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing an artifact failed, or a model could not be found, read or checked.
    #[error(transparent)]
    Artifact(#[from] aiops_artifacts::Error),
    /// Feature computation refused the input.
    #[error("computing features")]
    Features(#[from] aiops_features::Error),
    /// A parameter is out of range or malformed; `field` names it.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The parameter at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Converting an object to or from JSON failed.
    #[error("converting JSON")]
    Json(#[from] serde_json::Error),
    /// Merging anomalous points into incidents failed.
    #[error("finding incidents")]
    Incidents(#[from] aiops_incidents::Error),
    /// Drawing the chart failed.
    #[error("drawing the chart")]
    Chart(#[from] aiops_charts::Error),
    /// Fetching from Prometheus failed, or a fetch parameter (instance, template) was refused.
    #[error(transparent)]
    Fetch(#[from] aiops_promclient::Error),
    /// The Isolation Forest refused parameters or data.
    #[error(transparent)]
    Model(#[from] aiops_iforest::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! aiops on Kubernetes: the step that deploys a trained model as a KServe `InferenceService`
//! ([`deploy`]) and the compiler that turns the training pipeline into Kubeflow Pipelines v2 IR
//! whose container components run the `aiops` image ([`kfp`]).
//!
//! This is the only crate that speaks to a Kubernetes API server, so the artifact readers and
//! the pipeline steps build without a Kubernetes client.

pub mod deploy;
pub mod kfp;

/// Everything deploying or compiling can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range or malformed; `field` names it.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The parameter at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A Kubernetes API call failed.
    #[error("{action}")]
    Kube {
        /// What we were doing, e.g. `applying InferenceService aiops-iforest`.
        action: String,
        /// The client's error (API status, connection, authentication).
        #[source]
        source: kube::Error,
    },
    /// A deployed `InferenceService` did not become Ready in time.
    #[error("InferenceService {name} was not Ready after {timeout:?}: {detail}")]
    DeployTimeout {
        /// The `InferenceService` name.
        name: String,
        /// How long we waited.
        timeout: std::time::Duration,
        /// KServe's last explanation (the Ready condition's reason and message).
        detail: String,
    },
    /// Converting an object to or from JSON failed.
    #[error("converting JSON")]
    Json(#[from] serde_json::Error),
    /// Serialising a manifest or pipeline as YAML failed.
    #[error("writing YAML")]
    Yaml(#[from] serde_saphyr::ser::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

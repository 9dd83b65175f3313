//! The training pipeline as library functions: fetch, features, train, score and deploy, the
//! CSV artifact formats they exchange, the Kubeflow Pipelines v2 compiler for the same steps as
//! container components, and the local runner behind `aiops pipeline run` and `aiops demo`.
//!
//! Every step reads and writes the reference platform's artifact formats (data CSV, features
//! CSV, metrics JSON) and writes each output atomically: a failed step leaves no partial file.

mod atomic;
pub mod demo_trace;
pub mod deploy_step;
pub mod features_step;
pub mod fetch_step;
pub mod kfp;
pub mod runner;
pub mod score_step;
pub mod series;
pub mod table;
pub mod train_step;

pub use atomic::write_atomically;

use std::path::PathBuf;

/// Everything a pipeline step can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CSV input is malformed; `line` is 1-based, counting the header.
    #[error("{path}: line {line}: {problem}")]
    Csv {
        /// The input file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong there.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
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
    /// Serialising a manifest or pipeline as YAML failed.
    #[error("writing YAML")]
    Yaml(#[from] serde_yaml::Error),
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
    /// A model file was refused (truncated, corrupted, newer format, ...).
    #[error("{path}")]
    ModelFile {
        /// The model file.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: aiops_iforest::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The error and its causes as `error: cause: cause`, the way the binary prints them.
    fn chain(error: &(dyn std::error::Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    #[test]
    fn error_causes_are_printed_once() {
        let missing =
            crate::series::read_series(Path::new("/nonexistent/in.csv"), crate::series::Order::Strict);
        let text = chain(&missing.unwrap_err());
        assert_eq!(text.matches("No such file or directory").count(), 1, "{text}");
        assert!(text.starts_with("/nonexistent/in.csv: "), "{text}");

        let folder = tempfile::tempdir().unwrap();
        let model = folder.path().join("model.iforest");
        let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| (i * 7 + j) as f64);
        let params = aiops_iforest::IsolationForestParams::reference();
        let forest = aiops_iforest::IsolationForest::fit(&params, x.view()).unwrap();
        let names = vec!["a".to_owned(), "b".to_owned()];
        let mut bytes = aiops_iforest::Model::new(forest, names, None, x.view()).unwrap().to_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&model, bytes).unwrap();
        let text = chain(&crate::score_step::read_model(&model).unwrap_err());
        assert_eq!(text.matches("checksum mismatch").count(), 1, "{text}");
    }
}

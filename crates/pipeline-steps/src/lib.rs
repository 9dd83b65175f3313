//! The training pipeline as library functions: fetch, features, train, score and deploy, the
//! CSV artifact formats they exchange, the Kubeflow Pipelines v2 compiler for the same steps as
//! container components, and the local runner behind `aiops pipeline run` and `aiops demo`.
//!
//! Every step reads and writes the reference platform's artifact formats (data CSV, features
//! CSV, metrics JSON) and writes each output atomically: a failed step leaves no partial file.

mod atomic;
pub mod features_step;
pub mod series;

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
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Feature computation refused the input.
    #[error("computing features: {0}")]
    Features(#[from] aiops_features::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

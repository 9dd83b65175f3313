//! The files the aiops steps and servers exchange. [`model`]: the one way every command and
//! server finds, reads and checks a model file (a file, or a folder holding one), including the
//! feature schema the forest crate stores as plain data.

pub mod model;

use std::path::PathBuf;

/// Everything that can go wrong with an artifact. Display shows this level only; the cause is in
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file or listing a folder failed.
    #[error("cannot read {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A folder holds no model file, or several without one named `model.iforest`.
    #[error("no model in {path}: {reason}")]
    ModelNotFound {
        /// The folder.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A model file is larger than [`model::MAX_MODEL_BYTES`].
    #[error("model {path} has {bytes} bytes, more than the limit of {limit}")]
    ModelTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The bytes are not an intact model (truncated, corrupted, a newer format, a broken limit).
    #[error("model {location} is refused")]
    Model {
        /// Where the model came from.
        location: String,
        /// Why the forest refused it.
        #[source]
        source: aiops_iforest::Error,
    },
    /// The feature schema a model records is not a schema's JSON.
    #[error("model {location}: unreadable feature schema")]
    SchemaFormat {
        /// Where the model came from.
        location: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The feature schema a model records is invalid, or differs from the one computed now.
    #[error("model {location}: feature schema")]
    Schema {
        /// Where the model came from.
        location: String,
        /// What is wrong with it.
        #[source]
        source: aiops_features::Error,
    },
    /// The recorded feature schema does not fit the model's columns, or input lacks them.
    #[error("model {location}: {problem}")]
    Columns {
        /// Where the model came from.
        location: String,
        /// Which columns differ.
        problem: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The artifacts aiops steps exchange, read and written in one place: the data table
//! (`timestamp,<value>`, [`series`]), the features and scores tables ([`table`]), each as CSV or
//! Parquet ([`Format`]: CSV read in parallel blocks of whole lines with std-exact floats and
//! written with Rust's shortest round-trip text; Parquet typed as pandas 2.3.3 with pyarrow
//! writes it), all-or-nothing file output ([`write_atomically`]), and [`model`]: the one way every command
//! and server finds, reads and checks a model file (a file, or a folder holding one), including
//! the feature schema the forest crate stores as plain data.
//!
//! Every command, server and in-process path (pipeline run, demo, MCP) reads and writes tables
//! through this crate, so a file means the same thing everywhere and every input error names the
//! file, the line and the problem.

mod atomic;
mod columnar;
mod fast_csv;
mod gather;
pub mod model;
pub mod series;
pub mod table;

pub use atomic::{write_atomically, write_atomically_keeping_signals, write_atomically_with};

use std::path::PathBuf;

/// Everything reading or writing an artifact can fail with.
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
    /// A Parquet input holds something a table cannot (a missing column, a null or
    /// non-finite number, a type that is not a number or a time).
    #[error("{path}: {problem}")]
    Parquet {
        /// The input file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A file is not readable Parquet (or Arrow refused its data).
    #[error("{path}: not a readable Parquet table")]
    ParquetFormat {
        /// The file.
        path: PathBuf,
        /// What the Parquet or Arrow reader said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// A model location is neither a local path nor an `s3://bucket/key` URI.
    #[error("model location {location}: {reason}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Object storage refused a request or its configuration.
    #[cfg(feature = "object-store")]
    #[error("model {location}: object storage")]
    ObjectStore {
        /// The model's location.
        location: String,
        /// What the storage said.
        #[source]
        source: object_store::Error,
    },
    /// A model's location is not a valid object path.
    #[cfg(feature = "object-store")]
    #[error("model {location}: not an object path")]
    ObjectPath {
        /// The model's location.
        location: String,
        /// Why.
        #[source]
        source: object_store::path::Error,
    },
    /// The model reload task panicked or was cancelled.
    #[cfg(feature = "object-store")]
    #[error("the model reload task failed")]
    ReloadTask(#[source] tokio::task::JoinError),
    /// The recorded feature schema does not fit the model's columns, or input lacks them.
    #[error("model {location}: {problem}")]
    Columns {
        /// Where the model came from.
        location: String,
        /// Which columns differ.
        problem: String,
    },
}

/// The file format of a table (data, features, scores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// CSV with a header line.
    #[default]
    Csv,
    /// Apache Parquet, typed as pandas and pyarrow write it.
    Parquet,
}

impl Format {
    /// The format a file name says: `.parquet` (any case) is Parquet, anything else CSV.
    ///
    /// ```
    /// use aiops_artifacts::Format;
    /// use std::path::Path;
    /// assert_eq!(Format::of(Path::new("out/features.parquet")), Format::Parquet);
    /// assert_eq!(Format::of(Path::new("features.csv")), Format::Csv);
    /// ```
    pub fn of(path: &std::path::Path) -> Self {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("parquet") => Self::Parquet,
            _ => Self::Csv,
        }
    }

    /// `forced` when given (a `--format` flag), else what the file name says.
    pub fn resolve(path: &std::path::Path, forced: Option<Self>) -> Self {
        forced.unwrap_or_else(|| Self::of(path))
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn error_causes_are_printed_once() {
        let missing =
            crate::series::read_series(Path::new("/nonexistent/in.csv"), crate::series::Order::Strict);
        let text = aiops_text::error_chain(&missing.unwrap_err());
        assert_eq!(text.matches("No such file or directory").count(), 1, "{text}");
        assert!(text.starts_with("/nonexistent/in.csv: "), "{text}");
    }
}

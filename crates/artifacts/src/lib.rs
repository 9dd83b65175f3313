//! The artifacts aiops steps exchange, read and written in one place: the data CSV
//! (`timestamp,<value>`, [`series`]), the features and scores tables ([`table`]) and
//! all-or-nothing file output ([`write_atomically`]).
//!
//! Every command, server and in-process path (pipeline run, demo, MCP) reads and writes tables
//! through this crate, so a file means the same thing everywhere and every input error names the
//! file, the line and the problem.

mod atomic;
pub mod series;
pub mod table;

pub use atomic::write_atomically;

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
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

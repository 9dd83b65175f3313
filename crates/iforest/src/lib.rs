//! A from-scratch Isolation Forest with scikit-learn 1.9.1's semantics (`sklearn.ensemble.IsolationForest`):
//! the same parameters and the same meaning of every output, a flat cache-friendly tree layout,
//! parallel fitting and scoring, per-feature explanations, and a versioned, checksummed model file
//! that never executes anything when loaded. The crate does no I/O.
//!
//! # Semantics
//!
//! - Each tree is grown from `max_samples` rows drawn without replacement (Floyd's algorithm:
//!   O(`max_samples`) work per tree, whatever the number of rows), up to depth
//!   `ceil(log2(max(max_samples, 2)))`.
//! - At each node a feature is drawn uniformly among those not constant in the node (all
//!   constant: the node is a leaf) and a threshold uniformly in `[min, max)` of that feature in the
//!   node; `x <= threshold` goes left.
//! - A row's path length in a tree is the number of edges to its leaf plus
//!   [`average_path_length`]`(leaf size)`; `score_samples = -2^(-mean path length /
//!   c(max_samples))`; `decision_function = score_samples - offset`; `predict` is -1 where the
//!   decision is negative, else 1.
//! - `offset` is -0.5 for [`Contamination::Auto`], else numpy's linear-interpolation
//!   [`percentile`] of the training scores at `100 * contamination`.
//!
//! Deliberate differences: scikit-learn converts input to `float32` and treats a feature whose
//! spread in a node is at most `1e-7` as constant; this crate keeps `f64` and splits any feature
//! whose values differ, so data of tiny magnitude is not mistaken for constant. Random numbers
//! come from a per-tree xoshiro256++ stream derived from the seed, not numpy's generator: a seed
//! gives the same forest whatever the thread count, not scikit-learn's forest.
//!
//! # Speed
//!
//! Fitting draws each tree's rows directly (no O(n) work per tree) and grows trees in parallel.
//! Batch scoring runs in parallel over row blocks; where the CPU has AVX-512 it walks trees
//! padded to complete binary trees of 4-byte split keys, sixteen rows per instruction, comparing
//! each value's rank among the forest's thresholds instead of the value itself (exact: see
//! [`IsolationForest::batch_kernel`]); elsewhere, or with [`KERNEL_VARIABLE`]`=portable`, it walks
//! the real trees 32 rows at a time. Both give the same bits.
//!
//! # Input rules
//!
//! NaN and infinite values are refused with [`Error::NonFinite`] naming the first offending row
//! and column (scikit-learn's trees would route NaN arbitrarily). Zero rows or zero columns are
//! [`Error::EmptyInput`]. One row, constant columns and duplicate rows are fine: trees stop where
//! nothing can be split, and every row then gets the same score.
//!
//! ```
//! use aiops_iforest::{IsolationForest, IsolationForestParams};
//! use ndarray::array;
//!
//! let x = array![[0.0, 1.0], [0.1, 1.1], [0.2, 0.9], [0.1, 1.0], [9.0, -5.0]];
//! let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view())?;
//! let scores = forest.score_samples(x.view())?;
//! assert!(scores[4] < scores[0]); // the outlier scores lower
//! assert_eq!(forest.score_row(&[9.0, -5.0])?, scores[4]);
//! assert_eq!(forest.predict(x.view())?[4], -1);
//! # Ok::<(), aiops_iforest::Error>(())
//! ```

mod complete;
mod forest;
mod math;
mod model;
mod params;
mod rng;
mod tree;

pub use complete::KERNEL_VARIABLE;
pub use forest::{IsolationForest, prediction};
pub use math::{average_path_length, percentile, percentiles};
pub use model::{
    FORMAT_VERSION, MAGIC, MODEL_FILE_NAME, Model, ModelMetadata, ScorePercentile, TrainingSummary,
};
pub use params::{CheckedParams, Contamination, IsolationForestParams, MaxSamples};

/// Everything that can go wrong when fitting, scoring, saving or loading a forest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range; the field is named.
    #[error("invalid Isolation Forest parameter `{field}`: {reason}")]
    InvalidParams {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The input has no row or no column.
    #[error("cannot fit on {rows} rows x {columns} columns: need at least one of each")]
    EmptyInput {
        /// Rows given.
        rows: usize,
        /// Columns given.
        columns: usize,
    },
    /// The input holds NaN or an infinity.
    #[error("row {row}, column {column} is {value}: values must be finite")]
    NonFinite {
        /// Zero-based row.
        row: usize,
        /// Zero-based column.
        column: usize,
        /// The value found.
        value: f64,
    },
    /// The input's width differs from the forest's.
    #[error("the forest was fitted on {expected} columns, the input has {actual}")]
    FeatureCount {
        /// Columns the forest expects.
        expected: usize,
        /// Columns given.
        actual: usize,
    },
    /// The forest would exceed the flat layout's 2^32 nodes.
    #[error("{nodes} nodes exceed the forest's limit of 2^32: lower n_estimators or max_samples")]
    TooLarge {
        /// Nodes the forest would have.
        nodes: usize,
    },
    /// The bytes do not start with the model file's magic.
    #[error("not an aiops model file (wrong magic bytes)")]
    NotAModel,
    /// The file was written by a format version this build does not read.
    #[error(
        "model file format version {found} is not supported (this build reads version {supported}); upgrade aiops"
    )]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The file ends early.
    #[error("model file is truncated: {actual} bytes of {expected}")]
    Truncated {
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        actual: usize,
    },
    /// The content does not match its checksum.
    #[error("model file is corrupted: SHA-256 checksum mismatch")]
    ChecksumMismatch,
    /// The header is not valid JSON of the expected shape.
    #[error("model file header is invalid")]
    Header(#[source] serde_json::Error),
    /// The forest's structure or the metadata is inconsistent.
    #[error("model file is corrupted: {0}")]
    Corrupt(String),
    /// Feature names do not fit the forest or its schema.
    #[error("invalid feature names: {0}")]
    FeatureNames(String),
    /// Input lacks columns the model needs.
    #[error("the model needs columns {missing:?}, which the input (columns {available:?}) lacks")]
    MissingColumns {
        /// Model columns absent from the input.
        missing: Vec<String>,
        /// Columns the input has.
        available: Vec<String>,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

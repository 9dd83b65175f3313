//! The feature computation shared by training and inference.
//!
//! The reference platform computed its model inputs with pandas 2.3.3:
//!
//! ```python
//! df['rolling_mean']   = df['cpu_usage'].rolling(window=5, min_periods=1).mean()
//! df['rolling_std']    = df['cpu_usage'].rolling(window=5, min_periods=1).std().fillna(0)
//! df['rate_of_change'] = df['cpu_usage'].diff().fillna(0)
//! df['hour']           = df['timestamp'].dt.hour
//! ```
//!
//! This crate reproduces pandas' exact sequence of floating-point operations (Kahan-compensated
//! rolling sums, compensated Welford variance, the same-value and sign rules), so its output is
//! bit-identical to pandas, `NaN`, `±inf` and `-0.0` included. Training and serving both call it,
//! so a model can never see features computed differently from those it was trained on.
//!
//! Two entry points share one implementation of every accumulator:
//! - [`FeatureSchema::compute`]: a whole series in, an `n x 5` [`ndarray::Array2`] out;
//! - [`StreamingFeatures`]: one point at a time, O(1) per point, the same bits as the batch API.
//!
//! The crate does no I/O.
//!
//! ```
//! use aiops_features::FeatureSchema;
//!
//! let schema = FeatureSchema::reference();
//! let timestamps = [0.0, 10.0, 20.0];
//! let values = [10.0, 20.0, 60.0];
//! let features = schema.compute(&timestamps, &values)?;
//! assert_eq!(features.row(2).to_vec(), vec![60.0, 30.0, 26.457513110645905, 40.0, 0.0]);
//!
//! let mut stream = schema.streaming();
//! for (t, v) in timestamps.iter().zip(values) {
//!     let row = stream.push(*t, v)?;
//!     assert_eq!(row.last(), Some(&0.0)); // hour 0 (UTC)
//! }
//! # Ok::<(), aiops_features::Error>(())
//! ```

mod batch;
mod hour;
mod rolling;
mod schema;
mod stream;

pub use batch::FeatureColumns;
pub use hour::{hour_of_unix_seconds, nanos_of_unix_seconds};
pub use schema::{FeatureSchema, MAX_WINDOW, REFERENCE_COLUMNS, REFERENCE_WINDOW};
pub use stream::StreamingFeatures;

/// Everything that can go wrong when computing features.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The timestamp and value slices differ in length.
    #[error("timestamps ({timestamps}) and values ({values}) differ in length")]
    LengthMismatch {
        /// Number of timestamps given.
        timestamps: usize,
        /// Number of values given.
        values: usize,
    },
    /// A timestamp is NaN, infinite, or outside the range pandas can represent in nanoseconds.
    #[error(
        "timestamp at row {row} ({value}) is not a finite unix time pandas can represent \
         (±9.22e9 seconds: 1677-09-21 to 2262-04-11)"
    )]
    InvalidTimestamp {
        /// Zero-based row of the offending timestamp.
        row: usize,
        /// The timestamp as given.
        value: f64,
    },
    /// The output array given to [`FeatureSchema::compute_into`] has the wrong shape.
    #[error("output array is {actual:?}, expected {expected:?} (rows x columns)")]
    OutputShape {
        /// The shape the series needs.
        expected: (usize, usize),
        /// The shape given.
        actual: (usize, usize),
    },
    /// A schema parameter is out of range; the field is named.
    #[error("invalid feature schema: `{field}` {reason}")]
    InvalidParameter {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A model was trained with a different feature schema than the one the caller computes.
    #[error("feature schema mismatch: the model expects {expected}, the code computes {actual}")]
    SchemaMismatch {
        /// Summary of the schema the model recorded.
        expected: String,
        /// Summary of the schema being computed now.
        actual: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The description of a feature set that a model records, so inference can refuse a mismatch.

use ndarray::{Array2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use crate::{Error, FeatureColumns, Result, StreamingFeatures};

/// The reference platform's rolling window length.
pub const REFERENCE_WINDOW: usize = 5;

/// The reference platform's feature columns, in the order models receive them.
pub const REFERENCE_COLUMNS: [&str; 5] =
    ["cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"];

/// Name of the reference schema.
const REFERENCE_NAME: &str = "reference";
/// Version of the reference computation; bump it when the computation's bits change.
const REFERENCE_VERSION: u32 = 1;

/// Longest rolling window: 2^20 points (121 days of 10 s samples). A window is a buffer of that
/// many values in every streaming computer, so a model file must not choose an arbitrary one.
pub const MAX_WINDOW: usize = 1 << 20;

/// Refuses a zero window (pandas requires `min_periods=1 <= window`) and one above
/// [`MAX_WINDOW`]; checked again at compute time because the schema's fields are public.
pub(crate) fn check_window(window: usize) -> Result<()> {
    if !(1..=MAX_WINDOW).contains(&window) {
        return Err(Error::InvalidParameter {
            field: "window",
            reason: format!("{window} is not in 1..={MAX_WINDOW}"),
        });
    }
    Ok(())
}

/// Names, order and parameters of a feature set. Models record the schema they were trained
/// with; [`FeatureSchema::check_compatible`] refuses to score with a different one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeatureSchema {
    /// Name of the feature family (`reference` for the pandas-exact one).
    pub name: String,
    /// Version of the computation within the family.
    pub version: u32,
    /// Column names in order; the first is the raw metric value.
    pub columns: Vec<String>,
    /// Rolling window length in points.
    pub window: usize,
}

impl Default for FeatureSchema {
    fn default() -> Self {
        Self::reference()
    }
}

impl FeatureSchema {
    /// The reference platform's schema: window 5, columns [`REFERENCE_COLUMNS`].
    pub fn reference() -> Self {
        Self {
            name: REFERENCE_NAME.to_owned(),
            version: REFERENCE_VERSION,
            columns: REFERENCE_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
            window: REFERENCE_WINDOW,
        }
    }

    /// The reference computation with another window length.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `window` when it is 0 or above [`MAX_WINDOW`].
    pub fn with_window(window: usize) -> Result<Self> {
        Self { window, ..Self::reference() }.check()
    }

    /// The same schema with the first column (the raw metric) renamed, e.g. `memory_usage`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `columns` when the name is empty or clashes with a
    /// derived column.
    pub fn with_value_column(mut self, name: &str) -> Result<Self> {
        if let Some(first) = self.columns.first_mut() {
            *first = name.to_owned();
        }
        self.check()
    }

    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an unknown family, a zero window, or columns that are not
    /// the family's five distinct, non-empty names.
    pub fn check(self) -> Result<Self> {
        let invalid = |field, reason: &str| Err(Error::InvalidParameter { field, reason: reason.to_owned() });
        if self.name != REFERENCE_NAME {
            return invalid("name", &format!("is `{}`, this build knows only `{REFERENCE_NAME}`", self.name));
        }
        if self.version != REFERENCE_VERSION {
            return invalid(
                "version",
                &format!("is {}, this build computes version {REFERENCE_VERSION}", self.version),
            );
        }
        check_window(self.window)?;
        if self.columns.len() != REFERENCE_COLUMNS.len() {
            return invalid(
                "columns",
                &format!("has {} names, expected {}", self.columns.len(), REFERENCE_COLUMNS.len()),
            );
        }
        if self.columns[1..] != REFERENCE_COLUMNS[1..] {
            return invalid("columns", &format!("derived columns must be {:?}", &REFERENCE_COLUMNS[1..]));
        }
        if self.columns[0].is_empty() || REFERENCE_COLUMNS[1..].contains(&self.columns[0].as_str()) {
            return invalid(
                "columns",
                "the value column name must be non-empty and distinct from derived columns",
            );
        }
        Ok(self)
    }

    /// Number of feature columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Refuses to go on when a model's recorded schema (`expected`) differs from this one in
    /// anything but the value column's name.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] describing both schemas.
    pub fn check_compatible(&self, expected: &FeatureSchema) -> Result<()> {
        let same = self.name == expected.name
            && self.version == expected.version
            && self.window == expected.window
            && self.columns[1..] == expected.columns[1..];
        if same {
            Ok(())
        } else {
            Err(Error::SchemaMismatch { expected: expected.summary(), actual: self.summary() })
        }
    }

    /// A one-line description, e.g. `reference v1 (window 5: cpu_usage, rolling_mean, ...)`.
    pub fn summary(&self) -> String {
        format!("{} v{} (window {}: {})", self.name, self.version, self.window, self.columns.join(", "))
    }

    /// Computes the features of a whole series: an `n x 5` array with columns in
    /// [`FeatureSchema::columns`] order. `timestamps` are unix seconds.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::InvalidTimestamp`] (naming the row), or
    /// [`Error::InvalidParameter`] for a zero window (the fields are public).
    pub fn compute(&self, timestamps: &[f64], values: &[f64]) -> Result<Array2<f64>> {
        crate::batch::compute(self.window, timestamps, values)
    }

    /// Like [`FeatureSchema::compute`], column by column (bit for bit the same values), for a
    /// table writer: the sequential rolling pass runs beside the pointwise columns, and no
    /// `n x 5` array is built.
    ///
    /// # Errors
    /// As [`FeatureSchema::compute`].
    pub fn compute_columns(&self, timestamps: &[f64], values: &[f64]) -> Result<FeatureColumns> {
        crate::batch::compute_columns(self.window, timestamps, values)
    }

    /// Like [`FeatureSchema::compute`], but into a caller-owned `n x 5` array, so that repeated
    /// computations (a scoring loop, a benchmark) reuse one buffer instead of allocating and
    /// page-faulting a fresh one each time.
    ///
    /// # Errors
    /// As [`FeatureSchema::compute`], plus [`Error::OutputShape`] when `out` is not `n x 5`.
    /// On error `out` may be partly written.
    pub fn compute_into(
        &self,
        timestamps: &[f64],
        values: &[f64],
        out: ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        crate::batch::compute_into(self.window, timestamps, values, out)
    }

    /// A streaming computer that yields, point by point, the rows [`FeatureSchema::compute`]
    /// would produce for the same series.
    pub fn streaming(&self) -> StreamingFeatures {
        StreamingFeatures::new(self.window)
    }
}

//! The forest's parameters, as scikit-learn's `IsolationForest` spells them, and their checking.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How many rows each tree is grown from (scikit-learn's `max_samples`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum MaxSamples {
    /// `min(256, n_rows)`.
    Auto,
    /// This many rows (at least 1; more than `n_rows` means `n_rows`, as scikit-learn does after
    /// a warning).
    Count(usize),
    /// `floor(fraction * n_rows)` rows, with the fraction in `(0, 1]`.
    Fraction(f64),
}

/// Where the decision threshold (`offset`) lies (scikit-learn's `contamination`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Contamination {
    /// `offset = -0.5`, the original paper's threshold.
    Auto,
    /// The expected share of anomalies in `(0, 0.5]`: `offset` is numpy's linear-interpolation
    /// percentile of the training scores at `100 * fraction`.
    Fraction(f64),
}

/// Parameters of [`crate::IsolationForest::fit`], unchecked; [`IsolationForestParams::check`]
/// validates them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IsolationForestParams {
    /// Number of trees (at least 1).
    pub n_estimators: usize,
    /// Rows drawn for each tree.
    pub max_samples: MaxSamples,
    /// How the decision threshold is set.
    pub contamination: Contamination,
    /// Share of the columns each tree sees, in `(0, 1]`: `max(1, floor(max_features * n_columns))`
    /// columns drawn without replacement per tree.
    pub max_features: f64,
    /// Draw each tree's rows with replacement (duplicates then count once, as scikit-learn's
    /// sample weights do).
    pub bootstrap: bool,
    /// Seed of every random choice; a seed gives the same forest whatever the thread count.
    pub seed: u64,
    /// Worker threads for fitting; `None` uses the caller's rayon pool (the global one: all
    /// cores). A property of the machine, not of the model: results never depend on it, model
    /// files do not record it (a value in an older file is ignored), and scoring always runs on
    /// the caller's pool.
    #[serde(default, skip_serializing)]
    pub threads: Option<usize>,
}

impl Default for IsolationForestParams {
    /// scikit-learn 1.9.1's defaults: 100 trees, `max_samples="auto"`, `contamination="auto"`,
    /// `max_features=1.0`, no bootstrap. scikit-learn's default `random_state=None` draws a fresh
    /// seed each time; ours is the fixed seed 0, so that results are reproducible.
    fn default() -> Self {
        Self {
            n_estimators: 100,
            max_samples: MaxSamples::Auto,
            contamination: Contamination::Auto,
            max_features: 1.0,
            bootstrap: false,
            seed: 0,
            threads: None,
        }
    }
}

/// Most trees a forest may have: far above any useful forest (scikit-learn's default is 100),
/// low enough that a forest of one-leaf trees stays a few megabytes.
pub const MAX_ESTIMATORS: usize = 100_000;

/// Most worker threads a fit may ask for.
pub const MAX_THREADS: usize = 1024;

/// Parameters that passed [`IsolationForestParams::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedParams(IsolationForestParams);

impl CheckedParams {
    /// The validated parameters.
    pub fn get(&self) -> &IsolationForestParams {
        &self.0
    }
}

impl IsolationForestParams {
    /// The reference platform's parameters: 100 trees, `max_samples="auto"`,
    /// `contamination=0.05`, seed 42.
    pub fn reference() -> Self {
        Self { contamination: Contamination::Fraction(0.05), seed: 42, ..Self::default() }
    }

    /// Validates every field.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] naming the first bad field.
    pub fn check(&self) -> Result<CheckedParams> {
        let invalid = |field, reason: String| Err(Error::InvalidParams { field, reason });
        if !(1..=MAX_ESTIMATORS).contains(&self.n_estimators) {
            return invalid("n_estimators", format!("{} is not in 1..={MAX_ESTIMATORS}", self.n_estimators));
        }
        match self.max_samples {
            MaxSamples::Count(0) => return invalid("max_samples", "must be at least 1 row".into()),
            MaxSamples::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
                return invalid("max_samples", format!("fraction {f} is not in (0, 1]"));
            }
            _ => {}
        }
        if let Contamination::Fraction(c) = self.contamination
            && !(c > 0.0 && c <= 0.5)
        {
            return invalid("contamination", format!("{c} is not in (0, 0.5]"));
        }
        if !(self.max_features > 0.0 && self.max_features <= 1.0) {
            return invalid("max_features", format!("{} is not in (0, 1]", self.max_features));
        }
        if let Some(threads) = self.threads
            && !(1..=MAX_THREADS).contains(&threads)
        {
            return invalid("threads", format!("{threads} is not in 1..={MAX_THREADS}"));
        }
        Ok(CheckedParams(self.clone()))
    }
}

impl fmt::Display for MaxSamples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Count(n) => write!(f, "{n}"),
            Self::Fraction(x) => write!(f, "{x:?}"),
        }
    }
}

impl FromStr for MaxSamples {
    type Err = Error;

    /// `auto`, an integer row count (`256`), or a fraction written with a point (`0.5`, `1.0`).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "auto" {
            Ok(Self::Auto)
        } else if let Ok(count) = text.parse::<usize>() {
            Ok(Self::Count(count))
        } else if let Ok(fraction) = text.parse::<f64>() {
            Ok(Self::Fraction(fraction))
        } else {
            Err(Error::InvalidParams {
                field: "max_samples",
                reason: format!("`{text}` is not `auto`, a row count or a fraction"),
            })
        }
    }
}

impl fmt::Display for Contamination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fraction(x) => write!(f, "{x}"),
        }
    }
}

impl FromStr for Contamination {
    type Err = Error;

    /// `auto` or a fraction such as `0.05`.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text == "auto" {
            return Ok(Self::Auto);
        }
        text.parse::<f64>().map(Self::Fraction).map_err(|_| Error::InvalidParams {
            field: "contamination",
            reason: format!("`{text}` is not `auto` or a fraction"),
        })
    }
}

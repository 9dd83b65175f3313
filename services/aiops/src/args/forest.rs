//! The Isolation Forest's parameters, the same flags for `train` and `pipeline run`.

use aiops_iforest::{Contamination, IsolationForestParams, MaxSamples};

use super::{limits, values};

/// Where `--help` lists these flags.
const HEADING: &str = "Isolation Forest";

/// Isolation Forest parameters (scikit-learn's names and defaults, seed 42).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ForestArgs {
    /// Expected share of anomalies in (0, 0.5], or `auto` (threshold -0.5).
    #[arg(long, help_heading = HEADING, default_value = "0.05")]
    contamination: Contamination,
    /// Number of trees (1 to 10,000).
    #[arg(long, help_heading = HEADING, default_value = "100", value_name = "N", value_parser = |text: &str| values::count(text, &limits::N_ESTIMATORS))]
    n_estimators: usize,
    /// Rows per tree: `auto` (min(256, rows)), a count, or a fraction such as `0.5`.
    #[arg(long, help_heading = HEADING, default_value = "auto")]
    max_samples: MaxSamples,
    /// Share of the columns each tree sees, in (0, 1].
    #[arg(long, help_heading = HEADING, default_value_t = 1.0)]
    max_features: f64,
    /// Draw each tree's rows with replacement.
    #[arg(long, help_heading = HEADING)]
    bootstrap: bool,
    /// Random seed; the same seed gives the same model whatever the thread count.
    #[arg(long, help_heading = HEADING, default_value_t = 42)]
    seed: u64,
    /// Worker threads, 1 to 256 [default: all cores].
    #[arg(long, help_heading = HEADING, value_name = "N", value_parser = |text: &str| values::count(text, &limits::THREADS))]
    threads: Option<usize>,
}

impl ForestArgs {
    /// The parameters these flags describe, checked before any data is read.
    pub(crate) fn params(&self) -> anyhow::Result<IsolationForestParams> {
        let params = IsolationForestParams {
            n_estimators: self.n_estimators,
            max_samples: self.max_samples,
            contamination: self.contamination,
            max_features: self.max_features,
            bootstrap: self.bootstrap,
            seed: self.seed,
            threads: self.threads,
        };
        params.check()?;
        Ok(params)
    }
}

//! `aiops train --features F.csv --model-out MODEL --metrics-out metrics.json`

use std::path::PathBuf;

use aiops_iforest::{Contamination, IsolationForestParams, MaxSamples};
use aiops_pipeline::train_step;
use anyhow::Context;

/// Arguments of `aiops train`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Features CSV (or any numeric CSV with a header).
    #[arg(long)]
    features: PathBuf,
    /// Model file to write; a folder gets `model.iforest` inside it.
    #[arg(long)]
    model_out: PathBuf,
    /// Training metrics JSON to write (training_samples, anomalies_detected, percentages, ...).
    #[arg(long)]
    metrics_out: PathBuf,
    /// Input columns, comma-separated [default: the five standard feature columns when present,
    /// else every column except `timestamp` and `label`].
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Expected share of anomalies in (0, 0.5], or `auto` (threshold -0.5).
    #[arg(long, default_value = "0.05")]
    contamination: Contamination,
    /// Number of trees.
    #[arg(long, default_value_t = 100)]
    n_estimators: usize,
    /// Rows per tree: `auto` (min(256, rows)), a count, or a fraction such as `0.5`.
    #[arg(long, default_value = "auto")]
    max_samples: MaxSamples,
    /// Share of the columns each tree sees, in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    max_features: f64,
    /// Draw each tree's rows with replacement.
    #[arg(long)]
    bootstrap: bool,
    /// Random seed; the same seed gives the same model whatever the thread count.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Worker threads [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let params = IsolationForestParams {
        n_estimators: args.n_estimators,
        max_samples: args.max_samples,
        contamination: args.contamination,
        max_features: args.max_features,
        bootstrap: args.bootstrap,
        seed: args.seed,
        threads: args.threads,
    };
    let model =
        train_step::run(&args.features, &args.model_out, &args.metrics_out, args.columns.as_deref(), &params)
            .with_context(|| format!("training on {}", args.features.display()))?;
    let summary = &model.metadata.training;
    eprintln!(
        "trained on {} rows x {} columns ({}): {} anomalies ({:.2}%), offset {}; model {}, metrics {}",
        summary.training_samples,
        model.metadata.feature_names.len(),
        model.metadata.feature_names.join(","),
        summary.anomalies_detected,
        summary.anomalies_percentage,
        summary.offset,
        train_step::model_file(&args.model_out).display(),
        args.metrics_out.display()
    );
    Ok(())
}

//! `aiops train --features F.csv [--feature-schema F.csv.schema.json] --model-out MODEL --metrics-out metrics.json`

use std::path::PathBuf;

use aiops_pipeline::train_step;
use anyhow::Context;

use crate::args::{ForestArgs, FormatArgs};

/// Arguments of `aiops train`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Features CSV or Parquet (or any numeric table with a header).
    #[arg(long)]
    features: PathBuf,
    /// The feature schema `aiops features` recorded (`--schema-out`), recorded in the model;
    /// default `<features>.schema.json` when it exists, else the reference schema.
    #[arg(long, value_name = "PATH")]
    feature_schema: Option<PathBuf>,
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
    #[command(flatten)]
    forest: ForestArgs,
    #[command(flatten)]
    format: FormatArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let params = args.forest.params()?;
    let model = train_step::run(
        &args.features,
        args.feature_schema.as_deref(),
        &args.model_out,
        &args.metrics_out,
        args.columns.as_deref(),
        &params,
        args.format.format(),
    )
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

//! `aiops score --model PATH_OR_S3_URI --input F.csv --output scores.csv`

use std::path::PathBuf;

use aiops_pipeline::score_step;
use anyhow::Context;

use crate::args::{FormatArgs, S3Args, load_model};

/// Arguments of `aiops score`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model written by `aiops train`: a file, a folder holding `model.iforest`, or
    /// `s3://bucket/key` (credentials from the standard `AWS_*` variables).
    #[arg(long, value_name = "PATH_OR_S3_URI")]
    model: String,
    #[command(flatten)]
    s3: S3Args,
    /// CSV or Parquet table holding the model's columns (a features table).
    #[arg(long)]
    input: PathBuf,
    /// Scores CSV (or Parquet) to write: `[timestamp,]score,decision,prediction`, one row per input row.
    #[arg(long)]
    output: PathBuf,
    #[command(flatten)]
    format: FormatArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let model = load_model(&args.model, &args.s3)?;
    let (rows, anomalies) = score_step::run(&model.model, &args.input, &args.output, args.format.format())
        .with_context(|| format!("scoring {} with {}", args.input.display(), model.location))?;
    eprintln!("scored {rows} rows, {anomalies} anomalies; wrote {}", args.output.display());
    Ok(())
}

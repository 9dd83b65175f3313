//! `aiops score --model MODEL --input F.csv --output scores.csv`

use std::path::PathBuf;

use aiops_pipeline::score_step;
use anyhow::Context;

use crate::args::FormatArgs;

/// Arguments of `aiops score`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Model file written by `aiops train` (or a folder holding `model.iforest`).
    #[arg(long)]
    model: PathBuf,
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
    let (rows, anomalies) = score_step::run(&args.model, &args.input, &args.output, args.format.format())
        .with_context(|| format!("scoring {} with {}", args.input.display(), args.model.display()))?;
    eprintln!("scored {rows} rows, {anomalies} anomalies; wrote {}", args.output.display());
    Ok(())
}

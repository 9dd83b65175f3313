//! `aiops features --input data.csv --output features.csv [--schema-out PATH] [--window 5]`

use std::path::PathBuf;

use aiops_artifacts::series::Order;
use aiops_features::FeatureSchema;
use aiops_pipeline::features_step;
use anyhow::Context;

use crate::args::FormatArgs;

/// Arguments of `aiops features`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Data CSV (or Parquet: `timestamp`, value): a header, then `timestamp,value` rows (unix seconds, `YYYY-MM-DD HH:MM:SS[.fff]`
    /// in UTC, or RFC 3339). An empty value is a missing value.
    #[arg(long)]
    input: PathBuf,
    /// Features CSV (or Parquet) to write (atomically: nothing is written when the input is bad).
    #[arg(long)]
    output: PathBuf,
    /// Where to record the feature schema the features were computed with (what `train` records
    /// in the model); default `<output>.schema.json`.
    #[arg(long, value_name = "PATH")]
    schema_out: Option<PathBuf>,
    /// Rolling window length in points (the reference uses 5).
    #[arg(long, default_value_t = aiops_features::REFERENCE_WINDOW)]
    window: usize,
    /// Sort rows by timestamp instead of refusing out-of-order input (duplicates stay errors).
    #[arg(long)]
    sort: bool,
    #[command(flatten)]
    format: FormatArgs,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let schema = FeatureSchema::with_window(args.window)?;
    let order = if args.sort { Order::Sort } else { Order::Strict };
    let schema_out = args.schema_out.clone().unwrap_or_else(|| features_step::schema_file(&args.output));
    let rows =
        features_step::run(&schema, &args.input, &args.output, &schema_out, order, args.format.format())
            .with_context(|| format!("computing features of {}", args.input.display()))?;
    eprintln!("wrote {rows} rows of features to {}", args.output.display());
    Ok(())
}

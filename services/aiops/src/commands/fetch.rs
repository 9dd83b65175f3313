//! `aiops fetch --prometheus-url URL --instance IP:9100 --hours 2 [--step 10s] [--metric cpu] --output data.csv`
//! and `aiops fetch --prometheus-url URL --list-instances [--job node]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use aiops_artifacts::Format;
use aiops_pipeline::fetch_step::{self, FetchRequest, RawFetchRequest};
use aiops_promclient::PromClient;
use anyhow::Context;

use crate::args::{FormatArgs, PrometheusArgs, limits, values};

/// Arguments of `aiops fetch`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["output", "list_instances"])))]
pub(crate) struct Args {
    #[command(flatten)]
    connection: PrometheusArgs,
    /// Node-exporter instance, `ip:port` or `host:port`.
    #[arg(long, required_unless_present = "list_instances")]
    instance: Option<String>,
    /// Metric: cpu, memory, disk (see --mountpoint) or network.
    #[arg(long, default_value = "cpu", value_parser = aiops_promclient::METRIC_NAMES)]
    metric: String,
    /// Mount point for `--metric disk`.
    #[arg(long, default_value = "/")]
    mountpoint: String,
    /// Custom PromQL template instead of --metric; `{instance}` inside double quotes receives
    /// the escaped instance, e.g. `rate(node_load1{instance="{instance}"}[5m])`.
    #[arg(long, requires = "value_column")]
    query: Option<String>,
    /// Value column name for --query.
    #[arg(long, requires = "query")]
    value_column: Option<String>,
    /// Fetch the last HOURS hours (before --end, default now), at most 8784 (366 days).
    #[arg(long, conflicts_with = "start", value_parser = values::hours)]
    hours: Option<f64>,
    /// Start time: unix seconds, `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339.
    #[arg(long)]
    start: Option<String>,
    /// End time (default now), same formats as --start.
    #[arg(long)]
    end: Option<String>,
    /// Step between points: `10s`, `1m`, ... (whole seconds, at most a day).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// Data CSV (or Parquet) to write (`timestamp,<value column>`), atomically.
    #[arg(long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    format: FormatArgs,
    /// List the instances Prometheus knows for --job instead of fetching.
    #[arg(long)]
    list_instances: bool,
    /// Job regular expression for --list-instances.
    #[arg(long, default_value = "node")]
    job: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let client = PromClient::new(args.connection.client_config()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    if args.list_instances {
        for instance in runtime.block_on(client.list_instances(&args.job))? {
            println!("{instance}");
        }
        return Ok(());
    }
    let request = RawFetchRequest {
        instance: args.instance.clone().unwrap_or_default(),
        metric: args.metric.clone(),
        mountpoint: Some(args.mountpoint.clone()),
        query: args.query.clone().zip(args.value_column.clone()),
        hours: args.hours,
        start: args.start.clone(),
        end: args.end.clone(),
        step: step_text(args.step),
    }
    .check()?;
    check_span(&request)?;
    let output = args.output.as_ref().context("--output is required")?;
    let progress = ChunkProgress::on_terminal();
    let rows = runtime
        .block_on(fetch_step::run(
            &client,
            &request,
            output,
            Format::resolve(output, args.format.format()),
            Some(&|done, total| progress.report(done, total)),
        ))
        .with_context(|| format!("fetching {} of {}", request.metric.value_column(), request.instance))?;
    progress.finish();
    eprintln!("wrote {rows} rows of {} to {}", request.metric.value_column(), output.display());
    Ok(())
}

/// A checked step as the fetch request spells it (whole seconds).
pub(crate) fn step_text(step: Duration) -> String {
    format!("{}s", step.as_secs())
}

/// Refuses a `--start`..`--end` range longer than `--hours` may be, before any request.
pub(crate) fn check_span(request: &FetchRequest) -> anyhow::Result<()> {
    let hours = (request.window.end - request.window.start) / 3600.0;
    anyhow::ensure!(
        hours <= limits::MAX_HOURS,
        "--start: the range to fetch is {hours:.0} hours; at most {} (366 days) are fetched at once",
        limits::MAX_HOURS
    );
    Ok(())
}

/// A progress bar of fetched chunks on standard error, when it is a terminal and the fetch
/// takes more than one chunk.
pub(crate) struct ChunkProgress(Option<indicatif::ProgressBar>);

impl ChunkProgress {
    pub(crate) fn on_terminal() -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("fetching {bar:30} {pos}/{len} chunks {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        }))
    }

    pub(crate) fn report(&self, done: usize, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            // A single-chunk fetch needs no bar.
            if total < 2 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

//! `aiops watch --prometheus-url URL --model PATH --instance IP:PORT [--instance ...] [--metric cpu]
//! [--interval 30s] [--listen 127.0.0.1:9464]`

use std::path::PathBuf;
use std::time::Duration;

use aiops_promclient::{Instance, Metric};
use aiops_watch::{WatchParams, Watcher};
use anyhow::Context;

use crate::args::{ListenArgs, PrometheusArgs, limits, values};

/// Arguments of `aiops watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    prometheus: PrometheusArgs,
    /// The model file (`aiops train` output, `model.iforest`).
    #[arg(long)]
    model: PathBuf,
    /// A node-exporter instance (`IP:PORT`) to score; repeat for more.
    #[arg(long = "instance", required = true)]
    instances: Vec<Instance>,
    /// The metric of every instance: cpu, memory, disk or network (the model must be trained on it).
    #[arg(long, default_value = "cpu", value_parser = parse_metric)]
    metric: Metric,
    /// Time between two rounds of fetching and scoring (`30s`, `1m`).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::INTERVAL))]
    interval: Duration,
    /// Query resolution: the spacing of the scored points; use the step the model was trained at.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// History scored at start-up, filling the features' window and the last-hour counts.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::LOOKBACK))]
    lookback: Duration,
    /// How far behind now scoring stays, so each point's range window holds scraped samples.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::DELAY))]
    delay: Duration,
    /// Where /metrics is served.
    #[command(flatten)]
    listen: ListenArgs<9464>,
}

fn parse_metric(name: &str) -> Result<Metric, String> {
    Metric::parse(name).map_err(|e| e.to_string())
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    // The one model loader: a file or a folder, every limit checked, the feature schema read.
    let model = aiops_artifacts::model::load(&args.model)?;
    let config = WatchParams {
        prometheus: args.prometheus.client_config()?,
        instances: args.instances.clone(),
        metric: args.metric.clone(),
        interval: args.interval,
        step: args.step,
        lookback: args.lookback,
        delay: args.delay,
    }
    .check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let watcher = Watcher::new(config, model).context("preparing the watcher")?;
        aiops_watch::run(watcher, args.listen.address(), aiops_serve::shutdown_signal())
            .await
            .context("watching")
    })
}

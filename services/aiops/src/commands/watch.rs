//! `aiops watch --prometheus-url URL --model PATH --instance IP:PORT [--instance ...] [--metric cpu]
//! [--interval 30s] [--listen 127.0.0.1:9464]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aiops_iforest::Model;
use aiops_pipeline::fetch_step::parse_step;
use aiops_promclient::{Instance, Metric};
use aiops_watch::{WatchParams, Watcher};
use anyhow::Context;

/// Arguments of `aiops watch`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Prometheus base URL, e.g. `http://prometheus:9090`.
    #[arg(long)]
    prometheus_url: String,
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
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    interval: Duration,
    /// Query resolution: the spacing of the scored points; use the step the model was trained at.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    step: Duration,
    /// History scored at start-up, filling the features' window and the last-hour counts.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    lookback: Duration,
    /// How far behind now scoring stays, so each point's range window holds scraped samples.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    delay: Duration,
    /// Address of the /metrics endpoint (use 0.0.0.0:9464 in a container).
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: SocketAddr,
}

fn parse_metric(name: &str) -> Result<Metric, String> {
    Metric::parse(name).map_err(|e| e.to_string())
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_step(text).map_err(|e| e.to_string())
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let model =
        Model::from_bytes(&bytes).with_context(|| format!("loading the model {}", args.model.display()))?;
    let config = WatchParams {
        prometheus_url: args.prometheus_url.clone(),
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
        aiops_watch::run(watcher, args.listen, aiops_model_server::shutdown_signal())
            .await
            .context("watching")
    })
}

//! `aiops watch --prometheus-url URL (--instance IP:PORT ... | --job NAME | --selector '{...}')
//! [--metric cpu,memory,disk,network] [--model PATH] [--shard i/N | --shard auto --replicas N]
//! [--interval 30s] [--grace 10m] [--state-file PATH [--checkpoint-interval 5m]]
//! [--remote-write-url URL] [--listen 127.0.0.1:9464]`

use std::path::PathBuf;
use std::time::Duration;

use aiops_promclient::{ClientConfig, Instance, LabelSelector, Metric};
use aiops_watch::{Checkpoints, Shard, Targets, WatchParams, Watcher};
use anyhow::Context;

use crate::args::{ListenArgs, PrometheusArgs, S3Args, ServeLimitsArgs, limits, load_model, values};

/// Arguments of `aiops watch`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("targets").required(true).args(["instances", "job", "selector"])))]
pub(crate) struct Args {
    #[command(flatten)]
    prometheus: PrometheusArgs,
    /// A trained forest (`aiops train` output: a file, a folder holding `model.iforest`, or
    /// `s3://bucket/key`), optional: it scores the one watched metric it was trained on,
    /// besides the streaming detector every series has.
    #[arg(long, value_name = "PATH_OR_S3_URI")]
    model: Option<String>,
    #[command(flatten)]
    s3: S3Args,
    /// A node-exporter instance (`IP:PORT`) to watch; repeat for more.
    #[arg(long = "instance")]
    instances: Vec<Instance>,
    /// Watch every instance of this scrape job (`--selector '{job="NAME"}'`), discovered every interval.
    #[arg(long, value_name = "NAME", value_parser = parse_job)]
    job: Option<LabelSelector>,
    /// Watch every instance whose `up` series these label matchers select, e.g. `{job="node",env="prod"}`.
    #[arg(long, value_name = "MATCHERS", value_parser = parse_selector)]
    selector: Option<LabelSelector>,
    /// The metrics of every instance: cpu, memory, disk, network (comma-separated or repeated).
    #[arg(long = "metric", default_value = "cpu", value_delimiter = ',', value_parser = parse_metric)]
    metrics: Vec<Metric>,
    /// This replica's shard: `i/N` (0-based), or `auto` (i from the StatefulSet pod name in
    /// HOSTNAME, N from --replicas).
    #[arg(long, default_value = "0/1", value_name = "i/N|auto", value_parser = parse_shard)]
    shard: ShardArg,
    /// Number of replicas, for `--shard auto`.
    #[arg(long, env = "AIOPS_REPLICAS", value_name = "N", value_parser = |text: &str| values::count(text, &limits::REPLICAS))]
    replicas: Option<usize>,
    /// Time between two rounds of discovery, fetching and scoring (`30s`, `1m`).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::INTERVAL))]
    interval: Duration,
    /// How long an instance discovery no longer finds stays watched (its state and series kept).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::GRACE))]
    grace: Duration,
    /// Most instances this replica watches; discovery beyond it is refused, logged and counted
    /// in `aiops_watch_instances_over_capacity` (add replicas or raise it).
    #[arg(long, default_value_t = aiops_watch::MAX_INSTANCES, value_name = "N", value_parser = |text: &str| values::count(text, &limits::MAX_INSTANCES))]
    max_instances: usize,
    /// Query resolution: the spacing of the points; with --model, the step it was trained at.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// History fetched at start-up and for a new instance, warming up its detectors.
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::LOOKBACK))]
    lookback: Duration,
    /// How far behind now scoring stays, so each point's range window holds scraped samples.
    #[arg(long, default_value = "2m", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::DELAY))]
    delay: Duration,
    /// Where the detectors' state is checkpointed and restored from at start, so that a restart
    /// continues where the last checkpoint left it (a local file, written atomically).
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// Time between two checkpoints of the state file (one more is written at shutdown).
    #[arg(long, default_value = "5m", value_name = "DURATION", requires = "state_file", value_parser = |text: &str| values::duration(text, &limits::CHECKPOINT_INTERVAL))]
    checkpoint_interval: Duration,
    /// Also push each round's fleet gauges (aiops_anomaly_score, aiops_incident_open,
    /// aiops_incident_start_timestamp_seconds) to this remote-write endpoint, e.g.
    /// `http://prometheus:9090/api/v1/write` (credentials in the URL are sent as basic auth).
    #[arg(long, value_name = "URL")]
    remote_write_url: Option<String>,
    /// Where /metrics is served.
    #[command(flatten)]
    listen: ListenArgs<9464>,
    #[command(flatten)]
    serve_limits: ServeLimitsArgs,
}

/// `--shard`: fixed, or from the pod name at start.
#[derive(Debug, Clone, Copy)]
enum ShardArg {
    Auto,
    Fixed(Shard),
}

fn parse_shard(text: &str) -> Result<ShardArg, String> {
    if text == "auto" {
        return Ok(ShardArg::Auto);
    }
    Shard::parse(text).map(ShardArg::Fixed).map_err(|e| e.to_string())
}

fn parse_metric(name: &str) -> Result<Metric, String> {
    Metric::parse(name.trim()).map_err(|e| e.to_string())
}

fn parse_job(name: &str) -> Result<LabelSelector, String> {
    LabelSelector::job(name).map_err(|e| e.to_string())
}

fn parse_selector(text: &str) -> Result<LabelSelector, String> {
    LabelSelector::parse(text).map_err(|e| e.to_string())
}

impl Args {
    fn targets(&self) -> Targets {
        match self.job.as_ref().or(self.selector.as_ref()) {
            Some(selector) => Targets::Selector(selector.clone()),
            None => Targets::Instances(self.instances.clone()),
        }
    }

    /// `--shard`: `i/N`, or `auto` from HOSTNAME and `--replicas`.
    fn shard(&self) -> anyhow::Result<Shard> {
        if let ShardArg::Fixed(shard) = self.shard {
            return Ok(shard);
        }
        let replicas = self.replicas.context("--shard auto needs --replicas (or AIOPS_REPLICAS)")?;
        let pod =
            std::env::var("HOSTNAME").context("--shard auto needs HOSTNAME (the StatefulSet pod name)")?;
        Ok(Shard::from_pod_name(&pod, u32::try_from(replicas)?)?)
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let serve_limits = aiops_watch::server::limits(&args.serve_limits.overrides())?;
    // The one model loader: a file, a folder or S3, every limit checked, the feature schema read.
    let model = args.model.as_deref().map(|location| load_model(location, &args.s3)).transpose()?;
    let config = WatchParams {
        prometheus: args.prometheus.client_config()?,
        targets: args.targets(),
        metrics: args.metrics.clone(),
        interval: args.interval,
        step: args.step,
        lookback: args.lookback,
        delay: args.delay,
        grace: args.grace,
        shard: args.shard()?,
        samples_per_query: aiops_watch::SAMPLES_PER_QUERY,
        max_instances: args.max_instances,
        remote_write: args.remote_write_url.as_deref().map(ClientConfig::from_url).transpose()?,
    }
    .check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let watcher = Watcher::new(config, model).context("preparing the watcher")?;
        let checkpoints =
            args.state_file.clone().map(|path| Checkpoints { path, interval: args.checkpoint_interval });
        aiops_watch::run(
            watcher,
            args.listen.address(),
            checkpoints,
            serve_limits,
            aiops_serve::shutdown_signal(),
        )
        .await
        .context("watching")
    })
}

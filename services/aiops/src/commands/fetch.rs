//! `aiops fetch --prometheus-url URL --instance IP:9100 --hours 2 [--step 10s] [--metric cpu] --output data.csv`
//! and `aiops fetch --prometheus-url URL --list-instances [--job node]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use aiops_pipeline::fetch_step::{self, RawFetchRequest};
use aiops_promclient::{Auth, ClientConfig, PromClient};
use anyhow::Context;

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
    /// Fetch the last HOURS hours (before --end, default now).
    #[arg(long, conflicts_with = "start")]
    hours: Option<f64>,
    /// Start time: unix seconds, `YYYY-MM-DD HH:MM:SS` (UTC) or RFC 3339.
    #[arg(long)]
    start: Option<String>,
    /// End time (default now), same formats as --start.
    #[arg(long)]
    end: Option<String>,
    /// Step between points: `10s`, `1m`, ... (whole seconds).
    #[arg(long, default_value = "10s")]
    step: String,
    /// Data CSV to write (`timestamp,<value column>`), atomically.
    #[arg(long)]
    output: Option<PathBuf>,
    /// List the instances Prometheus knows for --job instead of fetching.
    #[arg(long)]
    list_instances: bool,
    /// Job regular expression for --list-instances.
    #[arg(long, default_value = "node")]
    job: String,
}

/// How to reach Prometheus: shared by `aiops fetch` and `aiops pipeline run`.
#[derive(Debug, clap::Args)]
pub(crate) struct PrometheusArgs {
    /// Prometheus base URL, possibly with a path prefix (`https://host/prometheus`).
    #[arg(long, env = "AIOPS_PROMETHEUS_URL")]
    prometheus_url: String,
    /// Bearer token (prefer the environment variable).
    #[arg(long, env = "AIOPS_PROMETHEUS_TOKEN", hide_env_values = true, conflicts_with = "username")]
    token: Option<String>,
    /// Basic-auth user name (password from AIOPS_PROMETHEUS_PASSWORD).
    #[arg(long)]
    username: Option<String>,
    /// Basic-auth password.
    #[arg(long, env = "AIOPS_PROMETHEUS_PASSWORD", hide_env_values = true, requires = "username")]
    password: Option<String>,
    /// PEM file of CA certificates to trust for https.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Timeout of each HTTP request in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Retries after connection errors and 5xx answers.
    #[arg(long, default_value_t = 3)]
    retries: u32,
}

impl PrometheusArgs {
    /// The client these flags describe.
    pub(crate) fn client(&self) -> anyhow::Result<PromClient> {
        Ok(PromClient::new(self.client_config()?)?)
    }

    fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::from_url(&self.prometheus_url)?;
        anyhow::ensure!(
            self.timeout.is_finite() && self.timeout > 0.0,
            "--timeout must be a positive number of seconds"
        );
        config.timeout = Duration::from_secs_f64(self.timeout);
        config.retries = self.retries;
        config.tls.ca_certificate.clone_from(&self.ca_cert);
        config.auth = match (&self.token, &self.username) {
            (Some(token), _) => Auth::Bearer(token.clone()),
            (None, Some(username)) => Auth::Basic {
                username: username.clone(),
                password: self.password.clone().unwrap_or_default(),
            },
            (None, None) => Auth::None,
        };
        Ok(config)
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let client = args.connection.client()?;
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
        step: args.step.clone(),
    }
    .check()?;
    let output = args.output.as_ref().context("--output is required")?;
    let progress = ChunkProgress::on_terminal();
    let rows = runtime
        .block_on(fetch_step::run(
            &client,
            &request,
            output,
            Some(&|done, total| progress.report(done, total)),
        ))
        .with_context(|| format!("fetching {} of {}", request.metric.value_column(), request.instance))?;
    progress.finish();
    eprintln!("wrote {rows} rows of {} to {}", request.metric.value_column(), output.display());
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

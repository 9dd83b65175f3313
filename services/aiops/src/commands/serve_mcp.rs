//! Serves the MCP tools at `/mcp` (with `/healthz`, `/readyz` and Prometheus `/metrics`).
//!
//! `aiops serve-mcp --prometheus-url URL --model PATH_OR_S3_URI [--inference-url URL --model-name NAME]
//! [--listen 127.0.0.1:8080] [--allowed-host NAME]... [--allowed-origin ORIGIN]...
//! [--auth-token-file PATH | $AIOPS_MCP_AUTH_TOKEN] [--max-hours 168] [--points-per-query 1500]`

use std::path::PathBuf;
use std::time::Duration;

use aiops_mcp_tool::config::{
    DEFAULT_MAX_HOURS, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_POINTS_PER_QUERY, ServerOptions,
};
use aiops_mcp_tool::server::{ServeConfig, Server};
use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::args::{ListenArgs, PrometheusArgs, S3Args, ServeLimitsArgs, limits, values};

/// Arguments of `aiops serve-mcp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    prometheus: PrometheusArgs,
    #[command(flatten)]
    listen: ListenArgs<8080>,
    /// The CPU model: a local file or folder (its `model.iforest`), or `s3://bucket/key`
    /// (credentials and endpoint from the standard `AWS_*` variables or the flags below).
    /// Reloaded when it changes.
    #[arg(long, env = "AIOPS_MODEL")]
    model: String,
    #[command(flatten)]
    s3: S3Args,
    /// Score on this Open Inference Protocol server (e.g. `aiops serve-model`, a KServe
    /// InferenceService) instead of in-process; needs --model-name.
    #[arg(long, requires = "model_name")]
    inference_url: Option<String>,
    /// The model's name on the inference server.
    #[arg(long, requires = "inference_url")]
    model_name: Option<String>,
    /// A `Host` header value accepted besides loopback names, e.g. the Service's DNS names
    /// (`aiops-mcp`, `aiops-mcp.aiops.svc.cluster.local`); repeatable. Others get 403.
    #[arg(long = "allowed-host", value_name = "HOST[:PORT]")]
    allowed_hosts: Vec<String>,
    /// A browser origin allowed to call the server (`https://host[:port|:*]`); repeatable.
    /// Requests carrying any other `Origin` get 403; requests without one pass.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// File holding the bearer token every /mcp request must carry (e.g. a mounted Secret): the
    /// token, or the header value `Bearer <token>` that clients send (one Secret key for both).
    #[arg(long, env = "AIOPS_MCP_AUTH_TOKEN_FILE", conflicts_with = "auth_token")]
    auth_token_file: Option<PathBuf>,
    /// The bearer token itself (prefer the environment over the command line).
    #[arg(long, env = "AIOPS_MCP_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Largest `hours` argument accepted.
    #[arg(long, default_value_t = DEFAULT_MAX_HOURS)]
    max_hours: u32,
    /// Largest request body accepted, in bytes (larger requests get 413).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES, value_parser = |text: &str| values::count(text, &limits::MCP_REQUEST_BYTES))]
    max_request_bytes: usize,
    #[command(flatten)]
    limits: ServeLimitsArgs,
    /// Time between samples of every Prometheus query: `10s`, `1m` (whole seconds).
    #[arg(long, alias = "step-seconds", default_value = "10s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// Points per Prometheus request (1 to 11,000): longer windows are split into step-aligned
    /// chunks fetched concurrently, which answers sooner (Prometheus evaluates a query on one core).
    #[arg(long, default_value_t = DEFAULT_POINTS_PER_QUERY)]
    points_per_query: usize,
    /// Regular expression on the `job` label selecting node-exporter instances (list_instances).
    #[arg(long, default_value = ".*node.*")]
    job: String,
    /// How often to check the model's storage for a new version: `30s`, `5m`.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::RELOAD_INTERVAL))]
    reload_interval: Duration,
    /// Old spelling of --reload-interval, in milliseconds.
    #[arg(long, hide = true, conflicts_with = "reload_interval", value_parser = |text: &str| values::millis(text, &limits::RELOAD_INTERVAL, false))]
    reload_interval_ms: Option<Duration>,
}

/// The largest token file read: a bearer token is a line, not a file of its own size.
const MAX_TOKEN_FILE_BYTES: u64 = 64 << 10;

fn read_token_file(path: &std::path::Path) -> anyhow::Result<String> {
    let context = || format!("reading the token file {}", path.display());
    let bytes = aiops_bounded::read_file(path, MAX_TOKEN_FILE_BYTES).with_context(context)?;
    String::from_utf8(bytes).with_context(context)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let auth_token = match &args.auth_token_file {
        Some(path) => Some(read_token_file(path)?),
        None => args.auth_token.clone(),
    };
    let config = ServeConfig {
        prometheus: args.prometheus.client_config()?,
        model: args.model.clone(),
        s3: args.s3.options(),
        inference_url: args.inference_url.clone(),
        model_name: args.model_name.clone(),
        job_matcher: args.job.clone(),
        step: args.step,
        points_per_query: args.points_per_query,
        reload_interval: args.reload_interval_ms.unwrap_or(args.reload_interval),
        server: ServerOptions {
            host: args.listen.address().ip(),
            port: args.listen.address().port(),
            allowed_hosts: args.allowed_hosts.clone(),
            allowed_origins: args.allowed_origins.clone(),
            auth_token,
            max_hours: args.max_hours,
            max_request_bytes: args.max_request_bytes,
            limits: args.limits.overrides(),
        },
    };
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        let server = Server::bind(config).await.context("starting the MCP server")?;
        eprintln!("serving MCP on http://{}/mcp", server.local_addr()?);
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            aiops_serve::shutdown_signal().await;
            on_signal.cancel();
        });
        server.run(shutdown).await.context("serving MCP")
    })
}

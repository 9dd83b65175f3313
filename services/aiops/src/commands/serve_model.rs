//! `aiops serve-model --model PATH_OR_S3_URI --model-name NAME [--listen 127.0.0.1:8080]`

use std::time::Duration;

use aiops_model_server::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES, ModelServer, ServerConfig,
};
use aiops_serve::{Limits, shutdown_signal};
use anyhow::Context;

use crate::args::{ListenArgs, S3Args, ServeLimitsArgs, limits, values};

/// Arguments of `aiops serve-model`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model file, or the folder holding it (`model.iforest`, a single `*.iforest`, or a single
    /// file of any name such as a Kubeflow Pipelines `model` artifact), e.g. `/mnt/models` where
    /// KServe's storage initializer puts it; or `s3://bucket/key` (credentials from the standard
    /// `AWS_*` variables). Reloaded when its stored version changes.
    #[arg(long = "model", visible_alias = "model-dir", value_name = "PATH_OR_S3_URI")]
    model: String,
    #[command(flatten)]
    s3: S3Args,
    /// The name clients address the model by (any name, e.g. `sklearn-iris`).
    #[arg(long)]
    model_name: String,
    /// The version served under `/versions/{v}` (clients may omit it).
    #[arg(long, default_value = "1")]
    model_version: String,
    #[command(flatten)]
    listen: ListenArgs<8080>,
    /// Largest request body accepted, in bytes (larger requests get 413).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES, value_parser = |text: &str| values::count(text, &limits::BODY_BYTES))]
    max_body_bytes: usize,
    #[command(flatten)]
    limits: ServeLimitsArgs,
    /// A `Host` header value accepted besides loopback names, e.g. the Service's DNS names;
    /// repeatable. Others get 403. Without it, a server bound to loopback accepts loopback
    /// names only, and one bound elsewhere any host.
    #[arg(long = "allowed-host", value_name = "HOST[:PORT]")]
    allowed_hosts: Vec<String>,
    /// How often to check the model file for changes: `2s`, `1m` (`0s`: never reload).
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = |text: &str| values::duration_or_off(text, &limits::RELOAD_INTERVAL))]
    reload_interval: Duration,
    /// Old spelling of --reload-interval, in milliseconds.
    #[arg(long, hide = true, conflicts_with = "reload_interval", value_parser = |text: &str| values::millis(text, &limits::RELOAD_INTERVAL, true))]
    reload_interval_ms: Option<Duration>,
    /// Request worker threads, 1 to 256 [default: one per core].
    #[arg(long, value_name = "N", value_parser = |text: &str| values::count(text, &limits::THREADS))]
    workers: Option<usize>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let reload_interval = args.reload_interval_ms.unwrap_or(args.reload_interval);
    let config = ServerConfig {
        model: args.model.clone(),
        s3: args.s3.options(),
        model_name: args.model_name.clone(),
        model_version: args.model_version.clone(),
        reload_interval: (!reload_interval.is_zero()).then_some(reload_interval),
        allowed_hosts: args.allowed_hosts.clone(),
        limits: args.limits.overrides().apply(Limits::with_body_limit(
            args.max_body_bytes,
            DEFAULT_MAX_INFLIGHT_BODY_BYTES.max(args.max_body_bytes),
        )),
    };
    let config = config.check()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers);
    }
    runtime.enable_all().build()?.block_on(async {
        let server = ModelServer::load(config)
            .await
            .with_context(|| format!("loading the model from {}", args.model))?;
        let address = args.listen.address();
        let listener =
            tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
        eprintln!("serving {} on http://{}", args.model_name, listener.local_addr()?);
        server.serve(listener, shutdown_signal()).await.context("serving")
    })
}

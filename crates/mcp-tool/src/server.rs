//! Putting it together: load the model, connect Prometheus (and the inference server), bind,
//! serve until shutdown.

use std::sync::Arc;
use std::time::Duration;

use aiops_promclient::{ClientConfig, Error as PromError, PromClient};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ServerOptions, Settings};
use crate::engine::{Engine, EngineSettings};
use crate::http::{Readiness, router};
use crate::inference::Inference;
use crate::metrics::Metrics;
use crate::model_store::{self, ModelSource, S3Options};
use crate::tools::AnomalyTools;
use crate::{Error, Result};

/// Everything `aiops serve-mcp` is configured with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// How to reach Prometheus (URL, credentials, TLS, timeout, retries); its
    /// `max_points_per_query` is replaced by `points_per_query`.
    pub prometheus: ClientConfig,
    /// The model: a local path (file or folder) or an `s3://` URI.
    pub model: String,
    /// S3-compatible storage settings for an `s3://` model.
    pub s3: S3Options,
    /// A v2 inference server to score with instead of in-process (with `model_name`).
    pub inference_url: Option<String>,
    /// The model's name on the inference server.
    pub model_name: Option<String>,
    /// Regular expression on `job` for `list_instances`.
    pub job_matcher: String,
    /// Seconds between samples of every query.
    pub step: Duration,
    /// Points per Prometheus request (1 to 11,000); longer windows are split into concurrent
    /// chunks ([`crate::config::DEFAULT_POINTS_PER_QUERY`]).
    pub points_per_query: usize,
    /// How often the model's storage is checked for a new version.
    pub reload_interval: Duration,
    /// Transport and security options.
    pub server: ServerOptions,
}

/// A bound, configured server, ready to [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    engine: Arc<Engine>,
    settings: Settings,
    reload_interval: Duration,
}

impl Server {
    /// Checks the configuration, loads the model and binds the listener.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming a bad option, [`Error::Model`] when the model cannot
    /// be found or loaded, [`Error::Io`] when binding fails.
    pub async fn bind(config: ServeConfig) -> Result<Self> {
        let settings = config.server.check()?;
        let invalid = |field, reason: String| Error::InvalidParameter { field, reason };
        if config.step.as_secs() == 0 || config.step.subsec_nanos() != 0 {
            return Err(invalid("step", "must be a whole number of seconds, at least 1".into()));
        }
        if config.reload_interval.is_zero() {
            return Err(invalid("reload_interval", "must be positive".into()));
        }
        let prometheus = PromClient::new(ClientConfig {
            max_points_per_query: config.points_per_query,
            ..config.prometheus
        })
        .map_err(|e| match e {
            PromError::InvalidParameter { field: "max_points_per_query", .. } => {
                invalid("points_per_query", e.to_string())
            }
            _ => invalid("prometheus_url", e.to_string()),
        })?;
        let inference = match (config.inference_url, config.model_name) {
            (None, None) => Inference::InProcess,
            (Some(url), Some(model_name)) => {
                let client = aiops_kserve_client::Client::new(&url)
                    .map_err(|e| invalid("inference_url", e.to_string()))?;
                Inference::Remote { client, model_name }
            }
            _ => return Err(invalid("inference_url", "--inference-url and --model-name go together".into())),
        };
        let models = Arc::new(model_store::open(ModelSource::parse(&config.model, &config.s3)?).await?);
        let engine_settings = EngineSettings {
            job_matcher: config.job_matcher,
            step: config.step,
            max_hours: settings.max_hours,
        };
        let metrics = Arc::new(Metrics::new());
        let engine = Arc::new(Engine::new(prometheus, models, inference, engine_settings, metrics));
        let listener = TcpListener::bind(settings.bind)
            .await
            .map_err(|source| Error::Io { what: format!("binding {}", settings.bind), source })?;
        Ok(Self { listener, engine, settings, reload_interval: config.reload_interval })
    }

    /// The address actually bound (useful with port 0).
    ///
    /// # Errors
    /// [`Error::Io`] when the socket cannot say.
    pub fn local_addr(&self) -> Result<std::net::SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|source| Error::Io { what: "reading the bound address".into(), source })
    }

    /// Serves `/mcp`, `/healthz`, `/readyz` and `/metrics` until `shutdown` is cancelled,
    /// watching the model's storage for new versions meanwhile (reloads counted in `/metrics`).
    ///
    /// # Errors
    /// [`Error::Serve`] when the server fails.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let reloads = self.engine.metrics().reloads();
        let watcher =
            Arc::clone(self.engine.models()).watch(self.reload_interval, shutdown.clone(), move |o| {
                reloads.observe(o);
            });
        // The model is loaded before the server binds and a failed reload keeps the previous one,
        // so the server is ready until it starts draining for shutdown.
        let draining = shutdown.clone();
        let ready: Readiness =
            Arc::new(move || if draining.is_cancelled() { Err("shutting down".into()) } else { Ok(()) });
        let engine = Arc::clone(&self.engine);
        let metrics = Arc::clone(self.engine.metrics());
        let app = router(
            move || AnomalyTools::new(Arc::clone(&engine)),
            ready,
            metrics,
            &self.settings,
            shutdown.clone(),
        );
        let served =
            aiops_serve::serve(self.listener, app, &self.settings.limits, shutdown.cancelled_owned()).await;
        watcher.abort();
        served.map_err(Error::from_serve)
    }
}

//! The HTTP layer: routes, error mapping, Host and Content-Type checks, metrics, model reloading
//! and graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aiops_artifacts::model::{ModelSource, ModelStore};
use aiops_kserve_client::{
    Datatype, ErrorResponse, ModelMetadata, Output, Parameters, ServerMetadata, TensorMetadata,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::infer::{self, InferError};
use crate::metrics::{Metrics, RequestLabels};
use crate::{CheckedConfig, Error, PLATFORM, Result, ServerConfig};
use aiops_serve::{CheckedLimits, HostAllowList, host_guard};

/// Batches larger than this are scored on the blocking pool, so that a huge request does not stall
/// the small ones sharing its async worker.
const INLINE_ROWS: usize = 4096;

/// Name of the single input in the model metadata (KServe's convention).
const INPUT_NAME: &str = "input-0";

/// A loaded model and the state of the server around it.
#[derive(Debug)]
struct ServerState {
    config: ServerConfig,
    limits: CheckedLimits,
    model: Arc<ModelStore>,
    ready: AtomicBool,
    metrics: Metrics,
}

/// The `aiops serve-model` server: a loaded model, its routes and its reloader.
#[derive(Debug, Clone)]
pub struct ModelServer {
    state: Arc<ServerState>,
}

/// A request error in the protocol's JSON form.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), error = %self.message, "request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), error = %self.message, "request refused");
        }
        (self.status, Json(ErrorResponse { error: self.message })).into_response()
    }
}

impl From<InferError> for ApiError {
    fn from(error: InferError) -> Self {
        match error {
            InferError::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, message),
            InferError::Internal(message) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, message),
        }
    }
}

/// `{name}` and, on the `/versions/{version}` routes, `{version}`.
#[derive(Debug, Deserialize)]
struct ModelPath {
    name: String,
    version: Option<String>,
}

impl ModelServer {
    /// Finds and loads the model of `config` (a local file or folder, or an `s3://` URI).
    ///
    /// # Errors
    /// [`Error::Artifact`] naming the location and why no model could be loaded from it.
    pub async fn load(config: CheckedConfig) -> Result<Self> {
        let CheckedConfig { config, limits } = config;
        let source = ModelSource::parse(&config.model, &config.s3)?;
        let model = ModelStore::open(source, None).await?;
        let state = ServerState {
            config,
            limits,
            model: Arc::new(model),
            ready: AtomicBool::new(true),
            metrics: Metrics::new(),
        };
        Ok(Self { state: Arc::new(state) })
    }

    /// Where the served model is read from: an absolute file path or `s3://bucket/key`.
    pub fn model_location(&self) -> &str {
        self.state.model.source().display()
    }

    /// The content digest of the model being served.
    pub fn model_digest(&self) -> String {
        self.state.model.current().digest.clone()
    }

    /// Loads the model again if its stored version changed, and swaps it in atomically when it
    /// is valid. Returns whether a new version was loaded; a version that does not load leaves
    /// the current model in place.
    ///
    /// # Errors
    /// The storage error, or why the new version is unusable.
    pub async fn reload_if_changed(&self) -> aiops_artifacts::model::ReloadResult {
        self.state.model.reload_if_changed().await
    }

    /// The routes, with the body limit, metrics and the `Host` check of `hosts` applied (the
    /// health probes and `/metrics` are exempt: kubelet addresses them by the pod's IP).
    pub fn router(&self, hosts: HostAllowList) -> Router {
        let infer_route = || post(infer).layer(axum::middleware::from_fn(require_json));
        let guarded = Router::new()
            .route("/v2", get(server_metadata))
            .route("/v2/models/{name}", get(model_metadata))
            .route("/v2/models/{name}/ready", get(model_ready))
            .route("/v2/models/{name}/infer", infer_route())
            .route("/v2/models/{name}/versions/{version}", get(model_metadata))
            .route("/v2/models/{name}/versions/{version}/ready", get(model_ready))
            .route("/v2/models/{name}/versions/{version}/infer", infer_route())
            .route_layer(axum::middleware::from_fn_with_state(Arc::new(hosts), host_guard));
        Router::new()
            .route("/v2/health/live", get(live))
            .route("/v2/health/ready", get(ready))
            .route("/metrics", get(metrics))
            .merge(guarded)
            .fallback(no_route)
            .layer(axum::middleware::from_fn_with_state(self.state.clone(), track))
            .layer(DefaultBodyLimit::max(self.state.limits.get().max_body_bytes))
            .with_state(self.state.clone())
    }

    /// Serves on `listener` within the configured limits until `shutdown` completes, then
    /// reports not ready, stops accepting connections and finishes the requests in flight (for at
    /// most the shutdown timeout). Polls the model file meanwhile.
    ///
    /// # Errors
    /// [`Error::Serve`] when the listener fails.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let address = listener.local_addr().map_err(|e| Error::Serve(aiops_serve::Error::Io(e)))?;
        let config = &self.state.config;
        let hosts =
            HostAllowList::for_bind(address.ip(), config.allowed_hosts.clone()).map_err(Error::from_serve)?;
        tracing::info!(%address, model = %config.model_name, version = %config.model_version, "serving the Open Inference Protocol");
        let stop_reloading = CancellationToken::new();
        let reloader = config.reload_interval.map(|every| {
            let state = Arc::clone(&self.state);
            Arc::clone(&self.state.model).watch(every, stop_reloading.clone(), move |outcome| match outcome {
                Ok(true) => state.metrics.observe_reload(true),
                Ok(false) => {}
                Err(_) => state.metrics.observe_reload(false),
            })
        });
        let state = self.state.clone();
        let draining = async move {
            shutdown.await;
            state.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: finishing the requests in flight");
        };
        let served = aiops_serve::serve(listener, self.router(hosts), &self.state.limits, draining)
            .await
            .map_err(Error::Serve);
        stop_reloading.cancel();
        if let Some(reloader) = reloader {
            // The loop ends at the cancellation; a panic in it was already reported.
            let _ = reloader.await;
        }
        tracing::info!("stopped");
        served
    }
}

impl ServerState {
    /// Checks that the path names the served model (and version, if given).
    fn check_model(&self, path: &ModelPath) -> Result<(), ApiError> {
        let config = &self.config;
        if path.name != config.model_name {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Model with name {} does not exist.", path.name),
            ));
        }
        match &path.version {
            Some(version) if *version != config.model_version => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "Model {} has no version {version} (it serves version {})",
                    path.name, config.model_version
                ),
            )),
            _ => Ok(()),
        }
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// Counts every request and its latency by route template and status.
async fn track(State(state): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    let labels = RequestLabels { route, code: response.status().as_u16() };
    state.metrics.observe_request(&labels, started.elapsed().as_secs_f64());
    response
}

async fn server_metadata() -> Json<ServerMetadata> {
    Json(ServerMetadata {
        name: "aiops-model-server".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        extensions: Vec::new(),
    })
}

async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "live": true }))
}

async fn ready(State(state): State<Arc<ServerState>>) -> Response {
    let ready = state.is_ready();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({ "ready": ready }))).into_response()
}

async fn model_ready(
    State(state): State<Arc<ServerState>>,
    Path(path): Path<ModelPath>,
) -> Result<Response, ApiError> {
    state.check_model(&path)?;
    if !state.is_ready() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Model {} is not ready", path.name),
        ));
    }
    Ok(Json(serde_json::json!({ "name": path.name, "ready": true })).into_response())
}

async fn model_metadata(
    State(state): State<Arc<ServerState>>,
    Path(path): Path<ModelPath>,
) -> Result<Json<ModelMetadata>, ApiError> {
    state.check_model(&path)?;
    let model = state.model.current();
    let features = &model.model.metadata.feature_names;
    let tensor = |name: &str, datatype, shape, parameters| TensorMetadata {
        name: name.into(),
        datatype,
        shape,
        parameters,
    };
    let mut input_parameters = Parameters::new();
    input_parameters.insert("feature_names".into(), features.clone().into());
    let mut parameters = Parameters::new();
    parameters.insert("model_digest".into(), model.digest.clone().into());
    let outputs = Output::ALL
        .iter()
        .map(|o| {
            let datatype = if *o == Output::Predict { Datatype::Int64 } else { Datatype::Fp64 };
            tensor(o.name(), datatype, vec![-1], Parameters::new())
        })
        .collect();
    Ok(Json(ModelMetadata {
        name: state.config.model_name.clone(),
        versions: vec![state.config.model_version.clone()],
        platform: PLATFORM.into(),
        inputs: vec![tensor(
            INPUT_NAME,
            Datatype::Fp64,
            vec![-1, model.model.forest.n_features() as i64],
            input_parameters,
        )],
        outputs,
        parameters,
    }))
}

async fn infer(
    State(state): State<Arc<ServerState>>,
    Path(path): Path<ModelPath>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.check_model(&path)?;
    let body = body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    // One model for the whole request, even if a reload swaps another in meanwhile.
    let model = state.model.current();
    let batch = infer::parse(&body, model.model.forest.n_features())?;
    let config = &state.config;
    let scored = if batch.rows() <= INLINE_ROWS {
        infer::score(&model, batch, &config.model_name, &config.model_version)
    } else {
        let (name, version) = (config.model_name.clone(), config.model_version.clone());
        tokio::task::spawn_blocking(move || infer::score(&model, batch, &name, &version)).await.map_err(
            |e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("scoring task failed: {e}")),
        )?
    }?;
    state.metrics.rows_scored.inc_by(scored.rows as u64);
    if let Some(anomalies) = scored.anomalies {
        state.metrics.anomalies.inc_by(anomalies as u64);
    }
    Ok(Json(scored.response).into_response())
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], state.metrics.encode()).into_response()
}

/// Refuses inference bodies declared as anything but JSON (415): a browser sends `text/plain`,
/// form or multipart bodies cross-origin without a preflight. A missing `Content-Type` passes
/// (tritonclient sends none; a browser always sends one with a string or form body).
async fn require_json(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not text)"));
    match declared {
        Some(content_type) if !is_json(content_type) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type must be application/json, not {}", aiops_text::bounded(content_type)),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// `application/json` or a `+json` type, with any parameters.
fn is_json(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {method} {}", aiops_text::bounded(uri.path())),
    )
}

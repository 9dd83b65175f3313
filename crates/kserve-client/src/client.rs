//! The async v2 REST client.

use std::time::Duration;

use ndarray::ArrayView2;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::types::{
    ErrorResponse, InferenceRequest, InferenceResponse, ModelMetadata, RequestedOutput, ServerMetadata,
    Tensor,
};
use crate::{Error, Result};

/// Timeouts and retry policy of a [`Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Limit on a whole request (connect, send, receive).
    pub timeout: Duration,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Extra attempts after a connection failure, a timeout, or (except for health checks) a
    /// 502/503/504 answer. Inference is a pure function of its input, so retrying it is safe.
    pub retries: u32,
    /// Delay before the first retry; it doubles with each further one.
    pub retry_backoff: Duration,
    /// Largest answer read, in bytes: a larger one is refused by its `Content-Length` or as
    /// soon as its streamed bytes pass this (default [`MAX_ANSWER_BYTES`]).
    pub max_answer_bytes: usize,
}

/// The default [`ClientConfig::max_answer_bytes`], 1 GiB: the predictions of about 10 million
/// rows as JSON.
pub const MAX_ANSWER_BYTES: usize = 1 << 30;

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 2,
            retry_backoff: Duration::from_millis(100),
            max_answer_bytes: MAX_ANSWER_BYTES,
        }
    }
}

/// An output of an anomaly-detection model served over the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// `predict`: `-1` anomaly, `1` normal (`INT64`).
    Predict,
    /// `score`: scikit-learn's `score_samples`, lower is more abnormal (`FP64`).
    Score,
    /// `decision_function`: score minus the model's offset, negative is anomalous (`FP64`).
    Decision,
}

impl Output {
    /// Every output, in the order servers list them.
    pub const ALL: [Self; 3] = [Self::Predict, Self::Score, Self::Decision];

    /// The output's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Predict => "predict",
            Self::Score => "score",
            Self::Decision => "decision_function",
        }
    }

    /// The output called `name`, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Predictions for the rows of a matrix, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// `-1` anomaly, `1` normal.
    pub predict: Vec<i64>,
    /// `score_samples`, when asked for.
    pub score: Option<Vec<f64>>,
    /// `decision_function`, when asked for.
    pub decision: Option<Vec<f64>>,
}

/// An Open Inference Protocol (v2 REST) client for one server.
///
/// ```no_run
/// # async fn demo() -> aiops_kserve_client::Result<()> {
/// use aiops_kserve_client::{Client, Output};
///
/// let client = Client::new("http://127.0.0.1:8080")?;
/// let rows = ndarray::array![[0.5, 0.4, 0.1, 0.0, 13.0]];
/// let predictions = client.infer_matrix("sklearn-iris", rows.view(), &[Output::Score]).await?;
/// println!("{:?} {:?}", predictions.predict, predictions.score);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
}

/// Whether a request's retries also cover 502/503/504 answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryOn {
    TransportErrors,
    TransportErrorsAndUnavailable,
}

impl Client {
    /// A client for the server at `base_url` (e.g. `http://127.0.0.1:8080`, or a URL with a path
    /// prefix) with the default [`ClientConfig`].
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_config(base_url, ClientConfig::default())
    }

    /// A client with explicit timeouts, retries and answer limit.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a URL that cannot address v2 endpoints,
    /// [`Error::InvalidParameter`] for a `max_answer_bytes` of 0.
    pub fn with_config(base_url: &str, config: ClientConfig) -> Result<Self> {
        if config.max_answer_bytes == 0 {
            return Err(Error::InvalidParameter { field: "max_answer_bytes", reason: "must be positive" });
        }
        let invalid = |reason: String| Error::InvalidUrl { url: shown(base_url), reason };
        let base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("expected an http:// or https:// URL".into()));
        }
        // ring is the one TLS provider (see the workspace manifest); a no-op when one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|source| Error::Http { url: shown(base_url), source: source.without_url() })?;
        Ok(Self { http, base, config })
    }

    /// The server's base URL (it may hold credentials: show it through
    /// [`aiops_text::redact_urls`]).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v2/health/live`: whether the server answers 2xx (servers disagree on bodies).
    pub async fn server_live(&self) -> Result<bool> {
        self.health(&["v2", "health", "live"]).await
    }

    /// `GET /v2/health/ready`: whether the server answers 2xx.
    pub async fn server_ready(&self) -> Result<bool> {
        self.health(&["v2", "health", "ready"]).await
    }

    /// `GET /v2/models/{model}[/versions/{version}]/ready`: whether the server answers 2xx.
    pub async fn model_ready(&self, model: &str, version: Option<&str>) -> Result<bool> {
        self.health(&model_path(model, version, Some("ready"))).await
    }

    /// `GET /v2`: the server's name, version and extensions.
    pub async fn server_metadata(&self) -> Result<ServerMetadata> {
        self.call(Method::GET, &["v2"], None::<&()>).await
    }

    /// `GET /v2/models/{model}[/versions/{version}]`: the model's inputs and outputs.
    pub async fn model_metadata(&self, model: &str, version: Option<&str>) -> Result<ModelMetadata> {
        self.call(Method::GET, &model_path(model, version, None), None::<&()>).await
    }

    /// `POST /v2/models/{model}[/versions/{version}]/infer`.
    pub async fn infer(
        &self,
        model: &str,
        version: Option<&str>,
        request: &InferenceRequest,
    ) -> Result<InferenceResponse> {
        self.call(Method::POST, &model_path(model, version, Some("infer")), Some(request)).await
    }

    /// Sends `rows` (one sample a row) as an `FP64` tensor and returns `predict` plus the
    /// `outputs` asked for (asking for [`Output::Predict`] is implied). Every output must hold
    /// one value per row.
    // Views are taken by value, as ndarray's own APIs do.
    #[allow(clippy::needless_pass_by_value)]
    pub async fn infer_matrix(
        &self,
        model: &str,
        rows: ArrayView2<'_, f64>,
        outputs: &[Output],
    ) -> Result<Predictions> {
        let shape = rows.shape().iter().map(|&d| d as i64).collect();
        let n = rows.nrows();
        let mut wanted = vec![Output::Predict];
        for output in outputs {
            if !wanted.contains(output) {
                wanted.push(*output);
            }
        }
        let request = InferenceRequest {
            id: None,
            parameters: Default::default(),
            inputs: vec![Tensor::fp64("input-0", shape, rows.iter().copied().collect())],
            outputs: Some(wanted.iter().map(|o| RequestedOutput::new(o.name())).collect()),
        };
        let response = self.infer(model, None, &request).await?;
        let wants = |o: Output| wanted.contains(&o);
        Ok(Predictions {
            predict: output_values(&response, Output::Predict, n, Tensor::to_i64)?,
            score: wants(Output::Score)
                .then(|| output_values(&response, Output::Score, n, Tensor::to_f64))
                .transpose()?,
            decision: wants(Output::Decision)
                .then(|| output_values(&response, Output::Decision, n, Tensor::to_f64))
                .transpose()?,
        })
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // `with_config` refused cannot-be-a-base URLs, so the segments are always available.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn health(&self, segments: &[&str]) -> Result<bool> {
        let url = self.endpoint(segments);
        let response = self.send(Method::GET, &url, None::<&()>, RetryOn::TransportErrors).await?;
        Ok(response.status().is_success())
    }

    async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T> {
        let url = self.endpoint(segments);
        let response = self.send(method, &url, body, RetryOn::TransportErrorsAndUnavailable).await?;
        let status = response.status();
        let limit = self.config.max_answer_bytes;
        let bytes = aiops_bounded::read_answer(response, limit).await.map_err(|e| match e {
            aiops_bounded::Error::Read(source) => {
                Error::Http { url: shown(url.as_str()), source: source.without_url() }
            }
            aiops_bounded::Error::TooLarge { .. } => {
                Error::AnswerTooLarge { url: shown(url.as_str()), limit }
            }
        })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorResponse>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            // Remote text reaches terminals and logs: bounded, control characters escaped.
            let message = aiops_text::bounded(&message);
            return Err(Error::Status { url: shown(url.as_str()), status: status.as_u16(), message });
        }
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { url: shown(url.as_str()), source })
    }

    /// Sends one request, retrying per the config with exponential backoff.
    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&B>,
        retry_on: RetryOn,
    ) -> Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            let mut request = self.http.request(method.clone(), url.clone());
            if let Some(body) = body {
                request = request.json(body);
            }
            let can_retry = attempt < self.config.retries;
            match request.send().await {
                Ok(response)
                    if can_retry
                        && retry_on == RetryOn::TransportErrorsAndUnavailable
                        && is_unavailable(response.status()) => {}
                Ok(response) => return Ok(response),
                Err(e) if can_retry && (e.is_connect() || e.is_timeout()) => {}
                Err(source) => {
                    return Err(Error::Http { url: shown(url.as_str()), source: source.without_url() });
                }
            }
            tokio::time::sleep(self.config.retry_backoff.saturating_mul(1 << attempt.min(16))).await;
            attempt += 1;
        }
    }
}

fn is_unavailable(status: StatusCode) -> bool {
    matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

/// `["v2", "models", model, ("versions", version), (last)]`.
fn model_path<'a>(model: &'a str, version: Option<&'a str>, last: Option<&'a str>) -> Vec<&'a str> {
    let mut path = vec!["v2", "models", model];
    if let Some(version) = version {
        path.extend(["versions", version]);
    }
    path.extend(last);
    path
}

/// The values of `output` in `response`, decoded and checked to hold one value per row.
fn output_values<T>(
    response: &InferenceResponse,
    output: Output,
    rows: usize,
    decode: fn(&Tensor) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let name = output.name();
    let tensor = response
        .output(name)
        .ok_or_else(|| Error::Output { name: name.into(), reason: "missing from the response".into() })?;
    let values = decode(tensor)?;
    if values.len() == rows {
        Ok(values)
    } else {
        Err(Error::Output { name: name.into(), reason: format!("{} values for {rows} rows", values.len()) })
    }
}

/// A URL as errors show it: without credentials.
fn shown(url: &str) -> String {
    aiops_text::redact_urls(url).into_owned()
}

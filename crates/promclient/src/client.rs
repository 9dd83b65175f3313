//! The HTTP side: configuration, retries, chunked range queries and discovery.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_http_query::Selector;
use prometheus_http_query::response::{Data, RangeVector};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::promql::{Instance, escape_promql_string};
use crate::selector::LabelSelector;
use crate::{Error, Metric, Result};

/// Prometheus' limit on points per series in one range query.
pub const MAX_POINTS_PER_QUERY: usize = 11_000;

/// The largest answer read from Prometheus by default (1 GiB): an answer is read whole before it
/// is decoded, and a wrong URL or a hostile server must not fill the memory.
pub const MAX_ANSWER_BYTES: usize = 1 << 30;

/// Largest CA certificate file read ([`Tls::ca_certificate`]): a PEM bundle of every public
/// CA is about 200 KiB.
pub const MAX_CERTIFICATE_BYTES: u64 = 16 << 20;

/// How many chunks of one range query are in flight at once.
const CONCURRENT_CHUNKS: usize = 4;

/// First retry delay; doubled on each further retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How requests authenticate. `Debug` never shows the secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: <redacted> }}")
            }
        }
    }
}

impl Auth {
    fn header(&self) -> Result<Option<HeaderValue>> {
        let value = match self {
            Self::None => return Ok(None),
            Self::Bearer(token) => format!("Bearer {token}"),
            Self::Basic { username, password } => {
                format!("Basic {}", base64(format!("{username}:{password}").as_bytes()))
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| Error::InvalidParameter {
            field: "auth",
            reason: "credentials must be visible ASCII".into(),
        })?;
        header.set_sensitive(true);
        Ok(Some(header))
    }
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            let symbol =
                if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' };
            encoded.push(symbol);
        }
    }
    encoded
}

/// TLS settings for `https` URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// A PEM file of extra CA certificates to trust (besides the system's).
    pub ca_certificate: Option<std::path::PathBuf>,
    /// Accept any certificate (testing only: it disables server authentication).
    pub insecure_skip_verify: bool,
}

/// Where Prometheus is and how to talk to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Base URL, possibly with a path prefix (`https://host/prometheus`).
    pub base_url: Url,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// Retries after a connection error or a 5xx answer (never after a 4xx).
    pub retries: u32,
    /// Credentials.
    pub auth: Auth,
    /// TLS settings.
    pub tls: Tls,
    /// Points per series per request, 1 to [`MAX_POINTS_PER_QUERY`]; longer ranges are split into
    /// step-aligned chunks fetched concurrently (smaller chunks answer sooner: Prometheus
    /// evaluates each request on one core).
    pub max_points_per_query: usize,
    /// The largest answer read, in bytes; a larger one is an [`Error::Decode`] naming this
    /// limit (a fleet's range query of 20,000 series of 120 points is about 100 MB).
    pub max_answer_bytes: usize,
}

impl ClientConfig {
    /// Defaults for `base_url`: 30 s timeout, 3 retries, system TLS roots, 11,000 points,
    /// answers up to [`MAX_ANSWER_BYTES`]; no auth, or basic auth with the credentials of the URL
    /// (`http://user:password@host`), which are taken out of it so that no error or log shows
    /// them.
    pub fn new(mut base_url: Url) -> Self {
        let auth = take_credentials(&mut base_url).unwrap_or_default();
        Self {
            base_url,
            timeout: Duration::from_secs(30),
            retries: 3,
            auth,
            tls: Tls::default(),
            max_points_per_query: MAX_POINTS_PER_QUERY,
            max_answer_bytes: MAX_ANSWER_BYTES,
        }
    }

    /// [`ClientConfig::new`] from a URL string.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`base_url`) when it is not an `http(s)` URL.
    pub fn from_url(base_url: &str) -> Result<Self> {
        let url = Url::parse(base_url).map_err(|e| {
            // Text that does not parse may still hold a password before an `@`: not echoed then.
            let redacted = aiops_text::redact_urls(base_url);
            let shown =
                if redacted.contains('@') { "(not shown)".into() } else { aiops_text::bounded(&redacted) };
            Error::InvalidParameter { field: "base_url", reason: format!("`{shown}` is not a URL: {e}") }
        })?;
        Ok(Self::new(url))
    }

    fn check(&self) -> Result<()> {
        let problem = |field, reason: &str| Err(Error::InvalidParameter { field, reason: reason.to_owned() });
        if !matches!(self.base_url.scheme(), "http" | "https") || self.base_url.host().is_none() {
            return problem("base_url", "expected an http:// or https:// URL with a host");
        }
        if self.base_url.query().is_some() || self.base_url.fragment().is_some() {
            return problem("base_url", "must not have a query or fragment");
        }
        if self.timeout.is_zero() {
            return problem("timeout", "must be positive");
        }
        if !(1..=MAX_POINTS_PER_QUERY).contains(&self.max_points_per_query) {
            return problem("max_points_per_query", "must be 1 to 11,000 (Prometheus' per-series limit)");
        }
        if self.max_answer_bytes == 0 {
            return problem("max_answer_bytes", "must be positive");
        }
        Ok(())
    }

    /// The base URL without a trailing slash on its path prefix (prometheus-http-query appends
    /// `/api/v1/...` to the path as given).
    fn normalized_base_url(&self) -> String {
        let mut url = self.base_url.clone();
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(if path.is_empty() { "/" } else { &path });
        url.to_string()
    }
}

/// A time range in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeWindow {
    /// Start (unix seconds).
    pub start: f64,
    /// End (unix seconds).
    pub end: f64,
}

impl TimeWindow {
    /// A checked window.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`window`) unless both ends are finite and `start < end`.
    pub fn new(start: f64, end: f64) -> Result<Self> {
        if !(start.is_finite() && end.is_finite() && start < end) {
            return Err(Error::InvalidParameter {
                field: "window",
                reason: format!("start ({start}) must be before end ({end})"),
            });
        }
        Ok(Self { start, end })
    }

    /// The window of `duration` ending now.
    pub fn last(duration: Duration) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        Self { start: now - duration.as_secs_f64(), end: now }
    }
}

impl std::fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let utc = |t: f64| {
            chrono::DateTime::from_timestamp(t.floor() as i64, 0)
                .map_or_else(|| format!("{t}"), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        };
        write!(f, "{} .. {} (unix {} .. {})", utc(self.start), utc(self.end), self.start, self.end)
    }
}

/// One point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix seconds.
    pub timestamp: f64,
    /// The value (always finite: NaN and infinities are dropped).
    pub value: f64,
}

/// One series of an instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels (`__name__` included when the query keeps it).
    pub labels: std::collections::BTreeMap<String, String>,
    /// Its value at the evaluation time.
    pub sample: Sample,
}

/// A fetched metric series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Strictly increasing unix seconds.
    pub timestamps: Vec<f64>,
    /// Finite values, one per timestamp.
    pub values: Vec<f64>,
    /// The CSV value column, e.g. `cpu_usage`.
    pub value_column: String,
}

/// Called with (chunks done, chunks in total) as a range query progresses.
pub type Progress<'a> = Option<&'a (dyn Fn(usize, usize) + Send + Sync)>;

/// A Prometheus HTTP API client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct PromClient {
    api: prometheus_http_query::Client,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Prometheus' JSON envelope.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Envelope<D> {
    Success {
        data: D,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

impl PromClient {
    /// A client for `config` (checked; no request is sent).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming a bad field, [`Error::Certificate`] or
    /// [`Error::Client`] for unusable TLS settings.
    pub fn new(mut config: ClientConfig) -> Result<Self> {
        let http = http_client(&mut config)?;
        let api = prometheus_http_query::Client::from(http, &config.normalized_base_url())
            .map_err(|e| Error::InvalidParameter { field: "base_url", reason: e.to_string() })?;
        Ok(Self { api, config: Arc::new(config) })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Runs a range query that returns (at most) one series, split into step-aligned chunks of
    /// at most `max_points_per_query` points. Evaluation times are the multiples of `step`
    /// within `[start, end]`; NaN and infinite values are dropped; timestamps come back strictly
    /// increasing. An empty result is `Ok(vec![])`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a bad window or a step that is not a whole number of
    /// seconds, [`Error::AmbiguousResult`] when the query returns several series, and any
    /// request error ([`Error::Prometheus`], [`Error::Timeout`], [`Error::Connection`], ...).
    pub async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: Duration,
        progress: Progress<'_>,
    ) -> Result<Vec<Sample>> {
        let mut samples = Vec::new();
        for chunk in self.range_matrix(query, start, end, step, progress).await? {
            match chunk.as_slice() {
                [] => {}
                [only] => samples.extend(samples_of(only)),
                several => {
                    return Err(Error::AmbiguousResult {
                        query: query.to_owned(),
                        count: several.len(),
                        labels: several
                            .iter()
                            .take(3)
                            .map(|s| format!("{:?}", s.metric()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            }
        }
        Ok(clean(samples))
    }

    /// Runs a range query that returns one series per `instance` label (a fleet query, see
    /// [`Metric::fleet_queries`]), chunked like [`PromClient::query_range`]. Each instance's
    /// samples are cleaned the same way; series without an `instance` label are ignored.
    ///
    /// # Errors
    /// [`Error::AmbiguousResult`] when two series carry the same instance, else as
    /// [`PromClient::query_range`].
    pub async fn query_range_by_instance(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> Result<BTreeMap<String, Vec<Sample>>> {
        let mut by_instance: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for chunk in self.range_matrix(query, start, end, step, None).await? {
            let mut seen = std::collections::HashSet::new();
            for series in &chunk {
                let Some(instance) = series.metric().get("instance") else { continue };
                if !seen.insert(instance.as_str()) {
                    return Err(Error::AmbiguousResult {
                        query: query.to_owned(),
                        count: chunk.len(),
                        labels: format!("several series of instance {}", aiops_text::bounded(instance)),
                    });
                }
                by_instance.entry(instance.clone()).or_default().extend(samples_of(series));
            }
        }
        Ok(by_instance.into_iter().map(|(instance, samples)| (instance, clean(samples))).collect())
    }

    /// The `instance` label values of the instant query `selector.discovery_query()` evaluated
    /// at `time` (unix seconds): the scrape targets the selector matches then, sorted. Values
    /// come from Prometheus as they are: validate them ([`Instance::parse`]) before use.
    ///
    /// # Errors
    /// Any request error, [`Error::Decode`] when the answer is not an instant vector.
    pub async fn discover_instances(&self, selector: &LabelSelector, time: f64) -> Result<Vec<String>> {
        let vector = self.query(&selector.discovery_query(), time.floor() as i64).await?;
        let mut instances: Vec<String> =
            vector.into_iter().filter_map(|mut v| v.labels.remove("instance")).collect();
        instances.sort();
        instances.dedup();
        Ok(instances)
    }

    /// The matrix of every chunk of a range query, chunks fetched concurrently.
    async fn range_matrix(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: Duration,
        progress: Progress<'_>,
    ) -> Result<Vec<Vec<RangeVector>>> {
        let chunks = plan_chunks(TimeWindow::new(start, end)?, step, self.config.max_points_per_query)?;
        let total = chunks.len();
        let step_seconds = step.as_secs_f64();
        let mut pending = chunks.into_iter();
        let mut running = tokio::task::JoinSet::new();
        let mut matrices = Vec::with_capacity(total);
        loop {
            while running.len() < CONCURRENT_CHUNKS {
                let Some((chunk_start, chunk_end)) = pending.next() else { break };
                let (client, query) = (self.clone(), query.to_owned());
                running.spawn(async move {
                    client.range_chunk(&query, chunk_start, chunk_end, step_seconds).await
                });
            }
            let Some(joined) = running.join_next().await else { break };
            let chunk =
                joined.map_err(|e| Error::Decode { problem: format!("a chunk's task failed: {e}") })??;
            matrices.push(chunk);
            if let Some(report) = progress {
                report(matrices.len(), total);
            }
        }
        Ok(matrices)
    }

    /// One request of a range query.
    async fn range_chunk(&self, query: &str, start: i64, end: i64, step: f64) -> Result<Vec<RangeVector>> {
        let data: Data = self.send(|| self.api.query_range(query, start, end, step).post_raw()).await?;
        let Data::Matrix(series) = data else {
            return Err(Error::Decode { problem: "a range query did not return a matrix".into() });
        };
        Ok(series)
    }

    /// Runs the instant query `query` at `time` (unix seconds) and returns its vector, one
    /// entry per series with its labels, sorted by labels. The query is sent as given: callers
    /// build it from validated, escaped values (see [`crate::FleetQuery`]).
    ///
    /// # Errors
    /// [`Error::Decode`] when the answer is not an instant vector, else any request error.
    pub async fn query(&self, query: &str, time: i64) -> Result<Vec<InstantSample>> {
        let data: Data = self.send(|| self.api.query(query).at(time).post_raw()).await?;
        let Data::Vector(vector) = data else {
            return Err(Error::Decode { problem: format!("`{query}` did not return an instant vector") });
        };
        let mut samples: Vec<InstantSample> = vector
            .iter()
            .map(|v| InstantSample {
                labels: v.metric().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                sample: Sample { timestamp: v.sample().timestamp(), value: v.sample().value() },
            })
            .collect();
        samples.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(samples)
    }

    /// Fetches `metric` of `instance` over `window` at `step`.
    ///
    /// # Errors
    /// [`Error::NoData`] (listing the instances that have the metric in the window) when
    /// Prometheus returns no finite sample, else as [`PromClient::query_range`].
    pub async fn fetch(
        &self,
        instance: &Instance,
        metric: &Metric,
        window: TimeWindow,
        step: Duration,
        progress: Progress<'_>,
    ) -> Result<Series> {
        let query = metric.query(instance)?;
        let samples = self.query_range(&query, window.start, window.end, step, progress).await?;
        if samples.is_empty() {
            let available = self.instances_with(metric.discovery_selector(), Some(window)).await?;
            return Err(Error::NoData { instance: instance.as_str().to_owned(), window, available });
        }
        Ok(Series {
            timestamps: samples.iter().map(|s| s.timestamp).collect(),
            values: samples.iter().map(|s| s.value).collect(),
            value_column: metric.value_column().to_owned(),
        })
    }

    /// The `instance` label values of the series whose `job` matches the regular expression
    /// `job_matcher` (e.g. `node` or `node.*`), sorted.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`job_matcher`) when it is empty, else any request error.
    pub async fn list_instances(&self, job_matcher: &str) -> Result<Vec<String>> {
        if job_matcher.is_empty() {
            return Err(Error::InvalidParameter { field: "job_matcher", reason: "must not be empty".into() });
        }
        let escaped = escape_promql_string(job_matcher);
        self.instances_with(Selector::new().regex_eq("job", &escaped), None).await
    }

    /// `instance` label values of the series matching `selector` (within `window`, if given).
    async fn instances_with(
        &self,
        selector: Selector<'_>,
        window: Option<TimeWindow>,
    ) -> Result<Vec<String>> {
        let mut instances: Vec<String> = self
            .send(|| {
                let mut request = self.api.label_values("instance").selectors([&selector]);
                if let Some(window) = window {
                    request = request.start(window.start.floor() as i64).end(window.end.ceil() as i64);
                }
                request.get_raw()
            })
            .await?;
        instances.sort();
        instances.dedup();
        Ok(instances)
    }

    /// Sends a request built by `request`, retrying with exponential backoff after connection
    /// errors and 5xx answers, and decodes Prometheus' envelope.
    async fn send<D, F, R>(&self, request: R) -> Result<D>
    where
        D: DeserializeOwned,
        R: Fn() -> F,
        F: Future<Output = Result<reqwest::Response, prometheus_http_query::Error>>,
    {
        let url = self.config.normalized_base_url();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = attempt <= self.config.retries;
            let response = match request().await {
                Ok(response) => response,
                Err(error) => {
                    let inner = match &error {
                        prometheus_http_query::Error::Client(client) => client.inner(),
                        _ => None,
                    };
                    if inner.is_some_and(reqwest::Error::is_timeout) {
                        return Err(Error::Timeout { url, timeout: self.config.timeout });
                    }
                    if retry && inner.is_some_and(reqwest::Error::is_connect) {
                        backoff(attempt).await;
                        continue;
                    }
                    return Err(connection_error(url, attempt, error));
                }
            };
            let status = response.status();
            if status.is_redirection() {
                return Err(refused_redirect(&response));
            }
            if status.is_server_error() && retry {
                backoff(attempt).await;
                continue;
            }
            let body = aiops_bounded::read_answer(response, self.config.max_answer_bytes).await.map_err(
                |e| match e {
                    aiops_bounded::Error::Read(e) if e.is_timeout() => {
                        Error::Timeout { url: url.clone(), timeout: self.config.timeout }
                    }
                    aiops_bounded::Error::Read(e) => {
                        Error::Decode { problem: format!("reading the answer: {e}") }
                    }
                    too_large @ aiops_bounded::Error::TooLarge { .. } => {
                        Error::Decode { problem: format!("{too_large} (max_answer_bytes)") }
                    }
                },
            )?;
            return decode(status.as_u16(), &body);
        }
    }
}

/// The one `reqwest` client construction (Prometheus' HTTP API and remote write alike): moves a
/// URL's credentials into `config.auth`, checks `config`, and applies its timeout, credentials,
/// redirect policy and TLS settings.
pub(crate) fn http_client(config: &mut ClientConfig) -> Result<reqwest::Client> {
    if let Some(credentials) = take_credentials(&mut config.base_url) {
        if config.auth != Auth::None {
            return Err(Error::InvalidParameter {
                field: "base_url",
                reason: "has credentials while auth is configured too".into(),
            });
        }
        config.auth = credentials;
    }
    config.check()?;
    // ring is the one TLS provider (see the workspace manifest); a no-op when one is installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = HeaderMap::new();
    if let Some(value) = config.auth.header()? {
        headers.insert(AUTHORIZATION, value);
    }
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        .default_headers(headers)
        .redirect(same_origin_redirects())
        .tls_danger_accept_invalid_certs(config.tls.insecure_skip_verify);
    if let Some(path) = &config.tls.ca_certificate {
        let pem = aiops_bounded::read_file(path, MAX_CERTIFICATE_BYTES)
            .map_err(|source| Error::Certificate { path: path.clone(), source })?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem).map_err(Error::Client)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(Error::Client)
}

/// Takes the user information out of `url` as basic-auth credentials (percent-decoded).
fn take_credentials(url: &mut Url) -> Option<Auth> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
    let auth = Auth::Basic {
        username: decode(url.username()),
        password: decode(url.password().unwrap_or_default()),
    };
    // Cannot fail: the URL has credentials, so it has a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(auth)
}

/// Follows redirects within Prometheus' origin (a path prefix added by a proxy) only: a query
/// is never sent, with its credentials, to a host the user did not name.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin =
            attempt.previous().first().is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() < 10 { attempt.follow() } else { attempt.stop() }
    })
}

/// The error for a redirect that was not followed, naming where it pointed.
fn refused_redirect(response: &reqwest::Response) -> Error {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
        .unwrap_or_default();
    Error::Prometheus {
        status: response.status().as_u16(),
        error_type: "redirect".into(),
        message: format!(
            "redirected to `{}`, another origin or too many hops: not followed (the query is not sent \
             elsewhere); use that address as the Prometheus URL if it is trusted",
            aiops_text::bounded(&aiops_text::redact_urls(&location))
        ),
    }
}

pub(crate) async fn backoff(attempt: u32) {
    tokio::time::sleep(FIRST_BACKOFF * 2u32.saturating_pow(attempt - 1)).await;
}

fn connection_error(url: String, attempts: u32, error: prometheus_http_query::Error) -> Error {
    match error {
        prometheus_http_query::Error::Client(client) => {
            Error::Connection { url, attempts, source: Box::new(client) }
        }
        other => Error::Decode { problem: other.to_string() },
    }
}

/// Decodes Prometheus' JSON envelope; a non-JSON error body (a proxy's page) keeps its start.
fn decode<D: DeserializeOwned>(status: u16, body: &[u8]) -> Result<D> {
    match serde_json::from_slice::<Envelope<D>>(body) {
        Ok(Envelope::Success { data }) if status < 300 => Ok(data),
        Ok(Envelope::Success { .. }) => Err(Error::Prometheus {
            status,
            error_type: "http".into(),
            message: "success envelope with an error status".into(),
        }),
        // Remote text reaches terminals and logs: control characters are escaped.
        Ok(Envelope::Error { error_type, error }) => Err(Error::Prometheus {
            status,
            error_type: aiops_text::bounded(&error_type),
            message: aiops_text::escape_controls(&error).into_owned(),
        }),
        Err(_) if status >= 300 => {
            let text = String::from_utf8_lossy(body);
            Err(Error::Prometheus {
                status,
                error_type: "http".into(),
                message: aiops_text::bounded(text.trim()),
            })
        }
        Err(e) => Err(Error::Decode { problem: format!("invalid JSON: {e}") }),
    }
}

/// Splits `window` into chunks (unix seconds, inclusive) of at most `max_points` evaluation
/// times on the grid of multiples of `step`. Empty when no multiple of `step` is in the window.
///
/// # Errors
/// [`Error::InvalidParameter`] (`step`) unless `step` is a positive whole number of seconds.
pub fn plan_chunks(window: TimeWindow, step: Duration, max_points: usize) -> Result<Vec<(i64, i64)>> {
    if step.is_zero() || step.subsec_nanos() != 0 {
        return Err(Error::InvalidParameter {
            field: "step",
            reason: format!("{step:?} is not a positive whole number of seconds"),
        });
    }
    let step = step.as_secs() as i64;
    let first = (window.start / step as f64).ceil() as i64 * step;
    let last = (window.end / step as f64).floor() as i64 * step;
    if last < first {
        return Ok(Vec::new());
    }
    let points = (last - first) / step + 1;
    let per_chunk = max_points.max(1) as i64;
    Ok((0..points)
        .step_by(per_chunk as usize)
        .map(|offset| (first + offset * step, first + ((offset + per_chunk).min(points) - 1) * step))
        .collect())
}

fn samples_of(series: &RangeVector) -> impl Iterator<Item = Sample> + '_ {
    series.samples().iter().map(|s| Sample { timestamp: s.timestamp(), value: s.value() })
}

/// Drops non-finite values, sorts by time and removes duplicate timestamps.
fn clean(mut samples: Vec<Sample>) -> Vec<Sample> {
    samples.retain(|s| s.value.is_finite() && s.timestamp.is_finite());
    samples.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
    samples.dedup_by(|later, earlier| later.timestamp == earlier.timestamp);
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_check_names_the_bad_field() {
        type Change = fn(&mut ClientConfig);
        // (the field that is wrong, how it is made wrong)
        let table: [(&str, Change); 5] = [
            ("max_points_per_query", |c| c.max_points_per_query = 0),
            ("max_points_per_query", |c| c.max_points_per_query = MAX_POINTS_PER_QUERY + 1),
            ("timeout", |c| c.timeout = Duration::ZERO),
            ("base_url", |c| c.base_url = Url::parse("ftp://prometheus:9090").expect("a URL")),
            ("base_url", |c| c.base_url = Url::parse("http://prometheus:9090/?q=1").expect("a URL")),
        ];
        for (bad_field, make_wrong) in table {
            let mut config = ClientConfig::from_url("http://prometheus:9090").expect("valid");
            assert!(config.check().is_ok());
            make_wrong(&mut config);
            match config.check() {
                Err(Error::InvalidParameter { field, .. }) => assert_eq!(field, bad_field),
                other => panic!("expected `{bad_field}` to be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn chunks_are_step_aligned_contiguous_and_bounded() {
        let window = TimeWindow::new(1003.0, 1003.0 + 7.0 * 86_400.0).unwrap();
        let chunks = plan_chunks(window, Duration::from_secs(10), 11_000).unwrap();
        assert_eq!(chunks.first().unwrap().0, 1010);
        let points: i64 = chunks.iter().map(|(s, e)| (e - s) / 10 + 1).sum();
        assert_eq!(points, 60_480);
        for pair in chunks.windows(2) {
            assert_eq!(pair[1].0, pair[0].1 + 10, "chunks must neither overlap nor leave gaps");
        }
        assert!(chunks.iter().all(|(s, e)| (e - s) / 10 < 11_000 && s % 10 == 0));
        assert_eq!(chunks.len(), 6);
    }

    #[test]
    fn sub_second_steps_are_refused() {
        let window = TimeWindow::new(0.0, 10.0).unwrap();
        assert!(plan_chunks(window, Duration::from_millis(1500), 10).is_err());
        assert!(plan_chunks(window, Duration::ZERO, 10).is_err());
    }

    #[test]
    fn clean_drops_non_finite_and_duplicates() {
        let s = |timestamp, value| Sample { timestamp, value };
        let cleaned =
            clean(vec![s(2.0, 1.0), s(1.0, f64::NAN), s(1.0, 3.0), s(2.0, 5.0), s(3.0, f64::INFINITY)]);
        assert_eq!(cleaned, vec![s(1.0, 3.0), s(2.0, 1.0)]);
    }

    #[test]
    fn prometheus_error_body_is_carried() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#;
        match decode::<Data>(400, body) {
            Err(Error::Prometheus { status: 400, error_type, message }) => {
                assert_eq!((error_type.as_str(), message.as_str()), ("bad_data", "parse error at char 3"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decode::<Data>(502, b"Bad Gateway"), Err(Error::Prometheus { status: 502, .. })));
    }
}

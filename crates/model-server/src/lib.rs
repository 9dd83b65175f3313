//! The model server behind `aiops serve-model`: serves an `aiops-iforest` model file over the Open
//! Inference Protocol (KServe v2 REST), so KServe can run it as a custom serving runtime and any v2
//! client (tritonclient, kserve, our `aiops-kserve-client`) can call it.
//!
//! - Endpoints: `/v2`, `/v2/health/{live,ready}`, `/v2/models/{name}[/versions/{v}]`, its
//!   `/ready` and `/infer`, and Prometheus `/metrics`.
//! - Input: one tensor of shape `[rows, features]`, `FP64`, `FP32` or an integer type. Output:
//!   `predict` (`INT64`, -1 anomaly / 1 normal) by default; `score` and `decision_function`
//!   (`FP64`) on request.
//! - Errors are `{"error": "..."}` with KServe's codes: 400 invalid input, 404 unknown model or
//!   version, 413 body too large, 503 not ready, 500 internal.
//! - The model is a local file or an `s3://` object, read and reloaded through
//!   [`aiops_artifacts::model::ModelStore`]: its stored version is polled; a changed model is
//!   loaded and swapped in atomically, so requests in flight finish on the old model and none
//!   fails. A version that does not load keeps the old model (logged and counted once). With no
//!   loadable model at start, [`ModelServer::load`] fails and `aiops serve-model` exits without
//!   binding, so no probe ever sees it ready without a model.
//! - Graceful shutdown: the server reports not ready, stops accepting connections and finishes the
//!   requests in flight within [`aiops_serve::Limits::shutdown_timeout`].
//! - Slow clients are bounded by [`aiops_serve`]'s limits (header, body and idle timeouts, a
//!   connection cap, a budget on request bodies in flight).
//! - DNS rebinding and browser simple requests are refused: the `Host` must be allowed
//!   ([`ServerConfig::allowed_hosts`]; probes and `/metrics` are exempt) and inference bodies
//!   must be JSON (`415` otherwise; a missing `Content-Type` is accepted, as tritonclient sends
//!   none).

mod http;
pub mod infer;
mod metrics;
mod model;

use std::time::Duration;

use aiops_artifacts::model::S3Options;
use aiops_serve::{CheckedLimits, HostAllowList, Limits};
pub use http::ModelServer;
pub use model::resolve_model_file;

/// Platform name reported in model metadata.
pub const PLATFORM: &str = "aiops-iforest";

/// Default request body limit: 16 MiB, about 300 000 rows of 5 features in JSON.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

/// Default budget of request bodies read or scored at once: two maximal bodies (decoding one
/// takes several times its size).
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 2 * DEFAULT_MAX_BODY_BYTES;

/// How `aiops serve-model` is configured, before [`ServerConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where the model is: a file, a folder holding `model.iforest`, a single `*.iforest` file
    /// or a single file, or an `s3://bucket/key` URI (see [`aiops_artifacts::model::ModelSource::parse`]).
    pub model: String,
    /// How to reach S3-compatible storage for an `s3://` model.
    pub s3: S3Options,
    /// The name clients address the model by (any name, e.g. `sklearn-iris`).
    pub model_name: String,
    /// The version served (clients may omit it).
    pub model_version: String,
    /// How often the model file is checked for changes; `None` never reloads.
    pub reload_interval: Option<Duration>,
    /// `Host` values accepted besides loopback names (e.g. the Service's DNS names, optionally
    /// with `:port`). When empty, a server bound to a loopback address accepts loopback names
    /// only and one bound elsewhere accepts any host (see [`HostAllowList::for_bind`]).
    pub allowed_hosts: Vec<String>,
    /// Timeouts, connection cap and body limits ([`Limits::max_body_bytes`] is the largest
    /// request accepted).
    pub limits: Limits,
}

impl ServerConfig {
    /// A configuration with the defaults: version `1`, [`DEFAULT_MAX_BODY_BYTES`] bodies with
    /// [`DEFAULT_MAX_INFLIGHT_BODY_BYTES`] in flight, reload check every 2 s.
    pub fn new(model: impl Into<String>, model_name: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            s3: S3Options::default(),
            model_name: model_name.into(),
            model_version: "1".into(),
            reload_interval: Some(Duration::from_secs(2)),
            allowed_hosts: Vec::new(),
            limits: Limits::with_body_limit(DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BODY_BYTES),
        }
    }

    /// Validates every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad field.
    pub fn check(self) -> Result<CheckedConfig> {
        let invalid = |field, reason: &str| Err(Error::InvalidParameter { field, reason: reason.into() });
        let is_path_segment =
            |s: &str| !s.is_empty() && !s.contains(['/', '?', '#']) && s.chars().all(|c| !c.is_control());
        if !is_path_segment(&self.model_name) {
            return invalid("model_name", "must be non-empty, without '/', '?', '#' or control characters");
        }
        if !is_path_segment(&self.model_version) {
            return invalid(
                "model_version",
                "must be non-empty, without '/', '?', '#' or control characters",
            );
        }
        if self.reload_interval.is_some_and(|i| i.is_zero()) {
            return invalid("reload_interval", "must be positive");
        }
        HostAllowList::loopback_and(self.allowed_hosts.clone()).map_err(Error::from_serve)?;
        let limits = self.limits.clone().check().map_err(Error::from_serve)?;
        Ok(CheckedConfig { config: self, limits })
    }
}

/// A [`ServerConfig`] that passed [`ServerConfig::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConfig {
    config: ServerConfig,
    limits: CheckedLimits,
}

impl CheckedConfig {
    /// The validated configuration.
    pub fn get(&self) -> &ServerConfig {
        &self.config
    }
}

/// Everything that can go wrong starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field is invalid.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// No model could be found, read or checked where one was expected.
    #[error(transparent)]
    Artifact(#[from] aiops_artifacts::Error),
    /// The HTTP server failed.
    #[error("the HTTP server failed")]
    Serve(#[source] aiops_serve::Error),
}

impl Error {
    /// A configuration error of the serving loop as this crate's, other errors as [`Error::Serve`].
    fn from_serve(error: aiops_serve::Error) -> Self {
        match error {
            aiops_serve::Error::InvalidParameter { field, reason } => {
                Self::InvalidParameter { field, reason }
            }
            other => Self::Serve(other),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

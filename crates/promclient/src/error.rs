//! The crate's one error type.

use std::time::Duration;

use crate::TimeWindow;

/// Everything talking to Prometheus can fail with. Each variant names the bad input or says
/// what Prometheus answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An instance is not a canonical `ip:port` nor a strict `host:port`.
    #[error("invalid instance `{input}`: {reason}")]
    InvalidInstance {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// An unknown metric name.
    #[error("unknown metric `{name}` (expected cpu, memory, disk or network)")]
    InvalidMetric {
        /// What was given.
        name: String,
    },
    /// A custom PromQL template cannot be filled safely.
    #[error("invalid query template `{template}`: {reason}")]
    InvalidTemplate {
        /// The template.
        template: String,
        /// Why it was refused.
        reason: String,
    },
    /// A parameter (configuration, window, step, job matcher) is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The parameter's name, e.g. `step` or `base_url`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Prometheus has no samples for the instance in the window.
    #[error(
        "no data for instance `{instance}` in {window}; instances with data there: {}",
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NoData {
        /// The instance asked for.
        instance: String,
        /// The window asked for.
        window: TimeWindow,
        /// Instances that do have data for the metric in the window.
        available: Vec<String>,
    },
    /// Prometheus answered with an error (its own `errorType` and message).
    #[error("Prometheus answered HTTP {status}: {error_type}: {message}")]
    Prometheus {
        /// HTTP status code.
        status: u16,
        /// Prometheus' `errorType` (e.g. `bad_data`), or `http` when the body was not
        /// Prometheus JSON (e.g. a proxy's error page).
        error_type: String,
        /// Prometheus' `error` message, or the start of the body.
        message: String,
    },
    /// A request did not complete within the configured timeout.
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL requested (without credentials).
        url: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// Prometheus could not be reached (after the configured retries).
    #[error("cannot connect to Prometheus at {url} (after {attempts} attempts)")]
    Connection {
        /// The URL requested.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The underlying error (from the HTTP client).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The answer was not what the Prometheus API documents.
    #[error("unexpected answer from Prometheus: {problem}")]
    Decode {
        /// What was wrong.
        problem: String,
    },
    /// A remote-write receiver refused a request (after the configured retries for 5xx/429).
    #[error("remote write to {url} answered HTTP {status}: {message}")]
    RemoteWrite {
        /// The receiver's URL (without credentials).
        url: String,
        /// HTTP status code.
        status: u16,
        /// The start of the receiver's answer, control characters escaped.
        message: String,
    },
    /// A range query for one series returned several.
    #[error("query `{query}` returned {count} series where one was expected: {labels}")]
    AmbiguousResult {
        /// The query.
        query: String,
        /// How many series came back.
        count: usize,
        /// Their label sets, abbreviated.
        labels: String,
    },
    /// Reading a TLS certificate failed.
    #[error("reading the CA certificate {path}")]
    Certificate {
        /// The certificate file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Building the HTTP client failed (e.g. an unusable certificate).
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

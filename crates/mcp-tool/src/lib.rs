//! The anomaly-detection MCP server: tools that query Prometheus, compute the shared features,
//! score them with the shared forest and answer with citable facts (periods, peaks, severity,
//! explanations), served over MCP streamable HTTP for KAgent and any MCP client.
//!
//! - [`config`]: transport and security options (`Host`/`Origin` allow-lists, bearer token,
//!   bounds), checked once into [`config::Settings`];
//! - [`http`]: the axum application (`/mcp` in rmcp's stateless mode, `/healthz`, `/readyz`,
//!   `/metrics`); [`metrics`]: tool calls, Prometheus queries and model reloads;
//! - [`tools`]: the MCP tools, their schemas and results; [`engine`]: what they do (fetch through
//!   `promclient`, features, scoring, periods through `aiops-incidents`, explanations);
//! - [`schema`]: the portable JSON Schema subset every tool schema keeps to (so that google-adk,
//!   the TypeScript SDK, MCP Inspector and the Python SDK all accept them), and its checker;
//! - [`inference`]: in-process or remote (Open Inference Protocol) scoring;
//! - [`model_store`]: the model from a local path or `s3://`, reloaded when it changes;
//! - [`server`]: binding and running it all ([`server::Server`]).
//!
//! Models for metrics other than CPU: the configured model is trained on CPU features. For
//! memory, disk and network, `detect_metric_anomalies` fits an Isolation Forest with the
//! reference parameters on the requested window itself and says so in the result's `notes`: it
//! flags that window's most isolated samples rather than comparing with a learned baseline.
//!
//! Tool errors (a bad argument, an instance without data, a failing Prometheus) are `isError`
//! results whose text names the argument at fault and adds a hint or the instances with data;
//! they carry no structured content, since clients check structured content against the tool's
//! output schema. Integer arguments accept integral numbers written as floats (`2.0`).

pub mod config;
pub mod engine;
pub mod http;
pub mod inference;
pub mod metrics;
pub mod model_store;
pub mod report;
pub mod schema;
pub mod server;
pub mod tools;

use std::sync::Arc;

/// Everything that can go wrong while configuring or running the MCP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server option is invalid; the option is named.
    #[error("invalid option `{field}`: {reason}")]
    InvalidParameter {
        /// The offending option.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The model cannot be found, read or checked, or does not fit the features (the
    /// location is in the cause). Shared, as a broken version's error is kept for later checks.
    #[error(transparent)]
    Model(Arc<aiops_artifacts::Error>),
    /// The forest refused the rows (their width or values), or a column the model needs.
    #[error("the forest refused the rows")]
    Scoring(#[source] aiops_iforest::Error),
    /// The inference server's answer lacks an output it was asked for.
    #[error("the inference server returned no {output} output")]
    MissingOutput {
        /// The output's name.
        output: &'static str,
    },
    /// The remote inference server failed.
    #[error("remote inference failed")]
    Inference(#[source] Box<aiops_kserve_client::Error>),
    /// Serving failed.
    #[error("serving HTTP")]
    Serve(#[source] aiops_serve::Error),
    /// Binding failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl From<aiops_artifacts::Error> for Error {
    fn from(error: aiops_artifacts::Error) -> Self {
        Self::Model(Arc::new(error))
    }
}

impl Error {
    /// A configuration error of the serving loop as this crate's, other errors as [`Error::Serve`].
    pub(crate) fn from_serve(error: aiops_serve::Error) -> Self {
        match error {
            aiops_serve::Error::InvalidParameter { field, reason } => {
                Self::InvalidParameter { field, reason }
            }
            other => Self::Serve(other),
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Open Inference Protocol (KServe v2 REST) for Rust: serde types for requests, responses,
//! metadata and errors that tolerate what real servers send, and an async client with timeouts and
//! retries that talks to any v2 server (our `aiops serve-model`, MLServer, Triton, KServe runtimes).
//!
//! The types ([`InferenceRequest`], [`InferenceResponse`], [`Tensor`], ...) are shared with our
//! server, so both sides of the wire agree by construction. [`Client::infer_matrix`] is the typed
//! helper most callers want: an `f64` matrix in, anomaly labels and scores out.
//!
//! ```
//! use aiops_kserve_client::{InferenceRequest, Datatype};
//!
//! let body = r#"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32",
//!                "data": [[1, 2.5], [3, 4]], "parameters": null}], "extra": true}"#;
//! let request: InferenceRequest = serde_json::from_str(body)?;
//! assert_eq!(request.inputs[0].datatype, Datatype::Fp32);
//! assert_eq!(request.inputs[0].to_f64()?, vec![1.0, 2.5, 3.0, 4.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod types;

pub use client::{Client, ClientConfig, MAX_ANSWER_BYTES, Output, Predictions};
pub use types::{
    Datatype, ErrorResponse, InferenceRequest, InferenceResponse, ModelMetadata, Parameters, RequestedOutput,
    ServerMetadata, Tensor, TensorData, TensorMetadata,
};

/// Everything that can go wrong speaking the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL cannot address v2 endpoints.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A [`ClientConfig`] field is unusable.
    #[error("invalid client setting {field}: {reason}")]
    InvalidParameter {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The server's answer is larger than [`ClientConfig::max_answer_bytes`]; it was not read
    /// past the limit.
    #[error("{url} answered more than {limit} bytes (max_answer_bytes)")]
    AnswerTooLarge {
        /// The endpoint.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The HTTP exchange failed (connection, timeout, body) after all retries.
    #[error("request to {url} failed")]
    Http {
        /// The endpoint.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The endpoint.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The server's `error` message, or its raw body.
        message: String,
    },
    /// The server's body is not the JSON the protocol prescribes.
    #[error("{url} sent an invalid body")]
    Decode {
        /// The endpoint.
        url: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A tensor's shape, datatype and data disagree.
    #[error("tensor {name:?}: {reason}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// What disagrees.
        reason: String,
    },
    /// The response lacks an output the request asked for, or it has the wrong length.
    #[error("response output {name:?}: {reason}")]
    Output {
        /// Output name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

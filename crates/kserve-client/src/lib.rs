//! Open Inference Protocol (KServe v2 REST) for Rust: serde types for requests, responses,
//! metadata and errors that tolerate what real servers send, and an async client with timeouts and
//! retries that talks to any v2 server (our `aiops serve-model`, MLServer, Triton, KServe runtimes).

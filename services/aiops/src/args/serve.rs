//! The serving-loop limits of every server (`serve-model`, `serve-mcp`, `watch`'s `/metrics`):
//! `--header-timeout`, `--body-timeout`, `--idle-timeout`, `--shutdown-timeout`,
//! `--max-connections` and `--max-inflight-body-bytes`, each defaulting to the server's own
//! value ([`aiops_serve`]'s defaults; the body budget depends on the server).

use std::time::Duration;

use aiops_serve::LimitOverrides;

use super::{limits, values};

/// Flags overriding a server's [`aiops_serve::Limits`].
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeLimitsArgs {
    /// Time a client has to send a request's head (status line and headers) once it started
    /// it: `10s`, `500ms` [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::SERVER_TIMEOUT))]
    header_timeout: Option<Duration>,
    /// Time a client has to send a request's body after its head (408 otherwise) [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::SERVER_TIMEOUT))]
    body_timeout: Option<Duration>,
    /// Silence after which a connection without a request in flight is closed [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::SERVER_TIMEOUT))]
    idle_timeout: Option<Duration>,
    /// Time requests in flight get to finish once shutdown starts (SIGTERM) [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::SERVER_TIMEOUT))]
    shutdown_timeout: Option<Duration>,
    /// Connections open at once; further ones wait to be accepted [default: 512].
    #[arg(long, value_name = "N", value_parser = |text: &str| values::count(text, &limits::MAX_CONNECTIONS))]
    max_connections: Option<usize>,
    /// Largest sum of request bodies read or handled at once, in bytes; further requests wait
    /// for room (503 when none frees up within the body timeout). At least the largest body
    /// [default: serve-model 33554432, serve-mcp 256 requests, watch 1048576].
    #[arg(long, value_name = "BYTES", value_parser = |text: &str| values::count(text, &limits::BODY_BYTES))]
    max_inflight_body_bytes: Option<usize>,
}

impl ServeLimitsArgs {
    /// The limits given, for the server to apply to its defaults.
    pub(crate) fn overrides(&self) -> LimitOverrides {
        LimitOverrides {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
            max_connections: self.max_connections,
            max_inflight_body_bytes: self.max_inflight_body_bytes,
        }
    }
}

//! The `/metrics` endpoint.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::WatchMetrics;
use crate::{Error, Result};

/// Content type of the OpenMetrics text exposition.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The routes: `GET /metrics`.
pub fn router(metrics: Arc<WatchMetrics>) -> Router {
    Router::new().route("/metrics", get(exposition)).with_state(metrics)
}

async fn exposition(State(metrics): State<Arc<WatchMetrics>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, OPENMETRICS)], metrics.encode())
}

/// The serving limits of `/metrics`: `overrides` on the defaults of [`aiops_serve::Limits`], with
/// bodies of at most 64 KiB (scrapes carry none) and 1 MiB of them in flight.
///
/// # Errors
/// [`Error::Serve`] naming a limit out of range.
pub fn limits(overrides: &aiops_serve::LimitOverrides) -> Result<aiops_serve::CheckedLimits> {
    overrides.apply(aiops_serve::Limits::with_body_limit(64 << 10, 1 << 20)).check().map_err(Error::Serve)
}

/// Serves [`router`] on `listener` within `limits` until `shutdown` completes.
///
/// # Errors
/// [`Error::Serve`] when the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<WatchMetrics>,
    limits: &aiops_serve::CheckedLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    aiops_serve::serve(listener, router(metrics), limits, shutdown).await.map_err(Error::Serve)
}

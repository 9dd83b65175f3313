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

/// Serves [`router`] on `listener` with the default [`aiops_serve::Limits`] (scrapes carry no
/// body: 64 KiB at most) until `shutdown` completes.
///
/// # Errors
/// [`Error::Serve`] when the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<WatchMetrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let limits = aiops_serve::Limits::with_body_limit(64 << 10, 1 << 20).check().map_err(Error::Serve)?;
    aiops_serve::serve(listener, router(metrics), &limits, shutdown).await.map_err(Error::Serve)
}

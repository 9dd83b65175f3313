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

/// Serves [`router`] on `listener` until the task is aborted.
///
/// # Errors
/// [`Error::Serve`] when accepting connections fails.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<WatchMetrics>) -> Result<()> {
    axum::serve(listener, router(metrics)).await.map_err(Error::Serve)
}

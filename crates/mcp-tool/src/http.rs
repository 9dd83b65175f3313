//! The HTTP face of the server: MCP streamable HTTP at `/mcp` (stateless, every `Host` header
//! checked, Origin validated by rmcp, optional bearer token), `/healthz` and `/readyz` for
//! Kubernetes probes and `/metrics` for Prometheus.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::metrics::Metrics;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// Tells `/readyz` whether the server can answer tool calls (e.g. its model is loaded).
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Builds the application: `/mcp` serving a fresh `handler()` per request (stateless mode, so
/// replicas behind a Service need no session affinity), `/healthz` (the process is up),
/// `/readyz` (`ready` says yes) and `/metrics` (`metrics` as Prometheus text, no token needed).
/// `shutdown` ends open MCP streams.
pub fn router<S, F>(
    handler: F,
    ready: Readiness,
    metrics: Arc<Metrics>,
    settings: &Settings,
    shutdown: CancellationToken,
) -> Router
where
    S: ServerHandler + Send + 'static,
    F: Fn() -> S + Send + Sync + 'static,
{
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(settings.allowed_hosts.entries().unwrap_or_default().to_vec())
        .with_allowed_origins(settings.allowed_origins.clone())
        .enforce_origin_validation()
        .with_max_request_body_bytes(settings.max_request_bytes)
        .with_cancellation_token(shutdown);
    let mcp =
        StreamableHttpService::new(move || Ok(handler()), Arc::new(NeverSessionManager::default()), config);
    let token: Option<Arc<str>> = settings.auth_token.as_deref().map(Arc::from);
    // rmcp checks the first Host header only; the guard refuses a request carrying several.
    let hosts = Arc::new(settings.allowed_hosts.clone());
    let mcp = Router::new()
        .route_service(MCP_PATH, mcp)
        .layer(middleware::from_fn_with_state(token, require_bearer_token))
        .layer(middleware::from_fn_with_state(hosts, aiops_serve::host_guard));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz).with_state(ready))
        .route("/metrics", get(exposition).with_state(metrics))
        .merge(mcp)
}

async fn readyz(State(ready): State<Readiness>) -> Response {
    match ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")).into_response(),
    }
}

async fn exposition(State(metrics): State<Arc<Metrics>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], metrics.encode()).into_response()
}

/// Refuses `/mcp` requests without the configured bearer token (401 with `WWW-Authenticate`).
async fn require_bearer_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token else {
        return next.run(request).await;
    };
    let presented =
        request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token);
    if presented.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused an MCP request without a valid bearer token");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"unauthorized","message":"a valid bearer token is required"}"#,
    )
        .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110, section 11.1) and may be followed by more than one space.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim_start_matches([' ', '\t']);
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares two secrets in time that depends only on their lengths, so timing reveals no prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, constant_time_eq};

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("bEaReR  abc ", Some("abc")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Basic abc", None),
            ("abc", None),
            ("Bearerabc", None),
        ];
        for (value, token) in cases {
            assert_eq!(bearer_token(value), token, "{value:?}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_secrets() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-token", b"secret-tokeX"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}

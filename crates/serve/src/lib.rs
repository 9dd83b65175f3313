//! The HTTP serving loop shared by every aiops server (`serve-model`, `serve-mcp`, `watch`'s
//! `/metrics`), so that a slow or hostile client cannot hold the server:
//!
//! - a request head must arrive within [`Limits::header_timeout`] of its first byte, and a
//!   connection with no request in flight is closed after [`Limits::idle_timeout`] of silence
//!   (a new connection that sends nothing, or a kept-alive one between requests);
//! - a request body must arrive whole within [`Limits::body_timeout`] (408 otherwise), is at most
//!   [`Limits::max_body_bytes`] (413), and every body being read or handled counts against
//!   [`Limits::max_inflight_body_bytes`]: a request waits for room in that budget (503 when none
//!   frees up before its body deadline), so eight concurrent maximal bodies cannot take eight
//!   times the memory;
//! - at most [`Limits::max_connections`] connections are open; further ones wait in the kernel's
//!   accept queue;
//! - on shutdown the listener closes, idle connections close, requests in flight finish, and
//!   whatever is still open after [`Limits::shutdown_timeout`] is dropped.
//!
//! [`HostAllowList`] and [`host_guard`] refuse requests whose `Host` is not expected (DNS
//! rebinding), checking every `Host` header. Refusals are JSON: `{"error": "..."}`.
//!
//! ```no_run
//! # async fn run() -> aiops_serve::Result<()> {
//! let limits = aiops_serve::Limits::default().check()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(aiops_serve::Error::Io)?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
//! aiops_serve::serve(listener, app, &limits, aiops_serve::shutdown_signal()).await
//! # }
//! ```

mod body;
mod conn;
mod host;
mod signal;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

pub use body::json_error;
pub use host::{HostAllowList, LOOPBACK_HOSTS, host_guard};
pub use signal::shutdown_signal;

/// Default [`Limits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default [`Limits::shutdown_timeout`]: well within Kubernetes' 30 s termination grace period.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest accepted [`Limits::max_body_bytes`] and [`Limits::max_inflight_body_bytes`] (1 GiB).
pub const MAX_BODY_BUDGET: usize = 1 << 30;

/// The limits of a server, before [`Limits::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time from the first byte of a request to the end of its head (status line and headers).
    pub header_timeout: Duration,
    /// Time from the end of a request head to the end of its body.
    pub body_timeout: Duration,
    /// Silence after which a connection with no request in flight is closed.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Sum of the request bodies being read or handled at once, in bytes (at least
    /// `max_body_bytes`).
    pub max_inflight_body_bytes: usize,
    /// Time given to requests in flight to finish once shutdown starts.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    /// The defaults, with 1 MiB bodies and room for 16 of them in flight.
    fn default() -> Self {
        Self::with_body_limit(1 << 20, 16 << 20)
    }
}

impl Limits {
    /// The default timeouts and connection cap with these body limits.
    pub fn with_body_limit(max_body_bytes: usize, max_inflight_body_bytes: usize) -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_bytes,
            max_inflight_body_bytes,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Validates every field.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad field: a zero or longer-than-a-day
    /// timeout, no connections, or body limits outside 1 byte..=1 GiB with the budget below one
    /// body.
    pub fn check(self) -> Result<CheckedLimits> {
        let day = Duration::from_secs(86_400);
        let timeouts = [
            ("header_timeout", self.header_timeout),
            ("body_timeout", self.body_timeout),
            ("idle_timeout", self.idle_timeout),
            ("shutdown_timeout", self.shutdown_timeout),
        ];
        for (field, timeout) in timeouts {
            if timeout.is_zero() || timeout > day {
                return Err(invalid(field, format!("is {timeout:?}, must be within 1 ms..=24 h")));
            }
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(invalid(
                "max_connections",
                format!("is {}, must be within 1..=1000000", self.max_connections),
            ));
        }
        if !(1..=MAX_BODY_BUDGET).contains(&self.max_body_bytes) {
            return Err(invalid(
                "max_body_bytes",
                format!("is {}, must be within 1..={MAX_BODY_BUDGET}", self.max_body_bytes),
            ));
        }
        if !(self.max_body_bytes..=MAX_BODY_BUDGET).contains(&self.max_inflight_body_bytes) {
            return Err(invalid(
                "max_inflight_body_bytes",
                format!(
                    "is {}, must be within max_body_bytes ({})..={MAX_BODY_BUDGET}",
                    self.max_inflight_body_bytes, self.max_body_bytes
                ),
            ));
        }
        Ok(CheckedLimits(self))
    }
}

/// Changes an operator makes to a server's default [`Limits`] (the servers' flags); `None` keeps
/// the server's own default. The body size stays the server's: it depends on what it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// [`Limits::header_timeout`].
    pub header_timeout: Option<Duration>,
    /// [`Limits::body_timeout`].
    pub body_timeout: Option<Duration>,
    /// [`Limits::idle_timeout`].
    pub idle_timeout: Option<Duration>,
    /// [`Limits::shutdown_timeout`].
    pub shutdown_timeout: Option<Duration>,
    /// [`Limits::max_connections`].
    pub max_connections: Option<usize>,
    /// [`Limits::max_inflight_body_bytes`].
    pub max_inflight_body_bytes: Option<usize>,
}

impl LimitOverrides {
    /// `limits` with every value given here instead of its own (then [`Limits::check`] them).
    ///
    /// ```
    /// use std::time::Duration;
    /// let overrides = aiops_serve::LimitOverrides {
    ///     idle_timeout: Some(Duration::from_secs(5)),
    ///     ..Default::default()
    /// };
    /// let limits = overrides.apply(aiops_serve::Limits::default());
    /// assert_eq!(limits.idle_timeout, Duration::from_secs(5));
    /// assert_eq!(limits.header_timeout, aiops_serve::DEFAULT_HEADER_TIMEOUT);
    /// ```
    pub fn apply(&self, mut limits: Limits) -> Limits {
        let timeouts = [
            (self.header_timeout, &mut limits.header_timeout),
            (self.body_timeout, &mut limits.body_timeout),
            (self.idle_timeout, &mut limits.idle_timeout),
            (self.shutdown_timeout, &mut limits.shutdown_timeout),
        ];
        for (given, limit) in timeouts {
            *limit = given.unwrap_or(*limit);
        }
        limits.max_connections = self.max_connections.unwrap_or(limits.max_connections);
        limits.max_inflight_body_bytes =
            self.max_inflight_body_bytes.unwrap_or(limits.max_inflight_body_bytes);
        limits
    }
}

fn invalid(field: &'static str, reason: String) -> Error {
    Error::InvalidParameter { field, reason }
}

/// [`Limits`] that passed [`Limits::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLimits(Limits);

impl CheckedLimits {
    /// The validated limits.
    pub fn get(&self) -> &Limits {
        &self.0
    }
}

/// Everything that can go wrong configuring or running a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A limit or an allowed host is invalid; the field is named.
    #[error("invalid {field}: {reason}")]
    InvalidParameter {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listening socket failed.
    #[error("the listening socket failed")]
    Io(#[source] std::io::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then drains: stops
/// accepting, closes idle connections, lets requests in flight finish for at most
/// [`Limits::shutdown_timeout`] and drops the rest.
///
/// Accept errors (such as running out of file descriptors) are logged and retried after a
/// pause; they do not stop the server.
///
/// # Errors
/// [`Error::Io`] when the listener cannot say its address.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &CheckedLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let address = listener.local_addr().map_err(Error::Io)?;
    let limits = Arc::new(limits.get().clone());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let budget = Arc::new(Semaphore::new(limits.max_inflight_body_bytes));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first, so that connections beyond the cap wait in the accept queue.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            Some(_) = connections.join_next() => continue,
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = conn::Connection {
            app: app.clone(),
            limits: Arc::clone(&limits),
            budget: Arc::clone(&budget),
            stopping: stopping.clone(),
        };
        connections.spawn(async move {
            connection.run(stream, peer).await;
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!(%address, open = connections.len(), "shutting down: finishing the requests in flight");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            dropped = connections.len(),
            timeout = ?limits.shutdown_timeout,
            "shutdown deadline reached; dropping the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

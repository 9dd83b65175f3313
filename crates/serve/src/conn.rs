//! One connection: hyper's HTTP/1 and HTTP/2 machinery, with the header and idle timeouts
//! enforced from what the socket and the service see.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::Limits;
use crate::body::{self, Tracked};

/// What a connection is doing, which decides the timeout that applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in flight, nothing received since `since`.
    Idle { since: Instant },
    /// The first bytes of a request head arrived at `since`; the head is not complete.
    Head { since: Instant },
    /// This many requests are being read, handled or answered (no timeout here: the body
    /// timeout and the handlers bound them).
    Busy(usize),
}

/// The phase of a connection, shared by its socket, its service and its watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self { phase: Mutex::new(Phase::Idle { since: Instant::now() }), changed: Notify::new() }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = change(*phase);
        if next != *phase {
            *phase = next;
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts receiving a request head.
    fn received(&self) {
        self.update(|phase| match phase {
            Phase::Idle { .. } => Phase::Head { since: Instant::now() },
            other => other,
        });
    }

    /// A request head is complete and the request reaches the service.
    fn request_started(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
    }

    /// A response was written (or abandoned).
    pub(crate) fn request_finished(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle { since: Instant::now() },
        });
    }

    /// Completes when the connection overstays its phase's timeout, naming the timeout.
    async fn expired(&self, limits: &Limits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let (deadline, timeout) = match self.phase() {
                Phase::Idle { since } => (since + limits.idle_timeout, "idle"),
                Phase::Head { since } => (since + limits.header_timeout, "header"),
                Phase::Busy(_) => {
                    changed.await;
                    continue;
                }
            };
            tokio::select! {
                () = changed => {}
                () = tokio::time::sleep_until(deadline) => return timeout,
            }
        }
    }
}

/// The socket, reporting received bytes to the connection's [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Everything a connection task needs.
pub(crate) struct Connection {
    pub(crate) app: Router,
    pub(crate) limits: Arc<Limits>,
    pub(crate) budget: Arc<Semaphore>,
    pub(crate) stopping: watch::Receiver<bool>,
}

impl Connection {
    /// Serves the connection until the client closes it, a timeout closes it, or shutdown
    /// drains it (the caller enforces the shutdown deadline by aborting the task).
    pub(crate) async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { stream, activity: Arc::clone(&activity) });
        let service = {
            let (app, limits, budget, activity) =
                (self.app.clone(), Arc::clone(&self.limits), Arc::clone(&self.budget), Arc::clone(&activity));
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let (app, limits, budget, activity) =
                    (app.clone(), Arc::clone(&limits), Arc::clone(&budget), Arc::clone(&activity));
                async move { Ok::<_, Infallible>(handle(app, &limits, &budget, activity, request).await) }
            })
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The header timeout is enforced by the watchdog below (from the first byte of a head,
        // not from the end of the previous response as hyper's own would).
        builder.http1().header_read_timeout(None);
        let connection = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let mut draining = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                timeout = activity.expired(&self.limits) => {
                    tracing::debug!(%peer, timeout, "closing a connection that overstayed its timeout");
                    return;
                }
                stopped = self.stopping.wait_for(|stop| *stop), if !draining => {
                    draining = true;
                    if stopped.is_err() || !matches!(activity.phase(), Phase::Busy(_)) {
                        return;
                    }
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Reads the body within the limits, runs the app and marks the request finished when its
/// response body is dropped.
async fn handle(
    app: Router,
    limits: &Limits,
    budget: &Arc<Semaphore>,
    activity: Arc<Activity>,
    request: Request<Incoming>,
) -> Response {
    activity.request_started();
    let (parts, incoming) = request.into_parts();
    let response = match body::read(incoming, limits, budget).await {
        Ok((bytes, reservation)) => {
            let request = Request::from_parts(parts, Body::from(bytes));
            let response = app.oneshot(request).await.unwrap_or_else(|never| match never {});
            // The budget is released once the handler is done with the body.
            drop(reservation);
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    response.map(|body| Body::new(Tracked::new(body, activity)))
}

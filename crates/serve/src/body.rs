//! Request bodies: read whole within the body timeout, bounded in size, and counted against the
//! server-wide budget of bodies in flight while their request is handled.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::Limits;
use crate::conn::Activity;

/// `{"error": message}` with `status`: the shape of every refusal of the aiops servers (and of
/// KServe's Open Inference Protocol errors).
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// Why a body was not read; the connection is closed after the response, since the rest of the
/// body (if any) was not consumed.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }

    pub(crate) fn into_response(self) -> Response {
        tracing::debug!(status = self.status.as_u16(), error = %self.message, "request body refused");
        let mut response = json_error(self.status, &self.message);
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Room taken in the budget of bodies in flight; given back when dropped.
#[derive(Debug, Default)]
pub(crate) struct Reservation(Option<OwnedSemaphorePermit>);

impl Reservation {
    /// Takes `bytes` more from `budget`, waiting until `deadline` at most.
    async fn grow(
        &mut self,
        budget: &Arc<Semaphore>,
        bytes: usize,
        deadline: Instant,
    ) -> Result<(), Refusal> {
        let Ok(permits) = u32::try_from(bytes) else {
            return Err(Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("{bytes} bytes is too large")));
        };
        if permits == 0 {
            return Ok(());
        }
        let acquired =
            tokio::time::timeout_at(deadline, Arc::clone(budget).acquire_many_owned(permits)).await;
        let permit = acquired.map_err(|_| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy reading other requests; retry shortly".into(),
            )
        })?;
        let permit = permit.expect("the budget semaphore is never closed");
        match &mut self.0 {
            Some(held) => held.merge(permit),
            None => self.0 = Some(permit),
        }
        Ok(())
    }
}

/// Reads `incoming` whole: at most `limits.max_body_bytes`, within `limits.body_timeout`, with
/// its size reserved in `budget` until the returned [`Reservation`] is dropped.
pub(crate) async fn read(
    mut incoming: Incoming,
    limits: &Limits,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Reservation), Refusal> {
    let deadline = Instant::now() + limits.body_timeout;
    let mut reservation = Reservation::default();
    let hint = incoming.size_hint();
    if hint.exact() == Some(0) {
        return Ok((Bytes::new(), reservation));
    }
    let too_large = |size: String| {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is {size}, more than the limit of {} bytes", limits.max_body_bytes),
        )
    };
    // hyper checks that the body matches its Content-Length.
    let declared = hint.exact();
    if let Some(declared) = declared {
        if declared > limits.max_body_bytes as u64 {
            return Err(too_large(format!("{declared} bytes")));
        }
        // Reserved whole before reading, so a body never waits halfway through for room.
        reservation.grow(budget, declared as usize, deadline).await?;
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        let frame = tokio::time::timeout_at(deadline, incoming.frame()).await.map_err(|_| {
            Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {:?}", limits.body_timeout),
            )
        })?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|error| {
            Refusal::new(StatusCode::BAD_REQUEST, format!("reading the request body failed: {error}"))
        })?;
        let Ok(data) = frame.into_data() else { continue };
        let length = body.len() + data.len();
        if length > limits.max_body_bytes {
            return Err(too_large(format!("more than {} bytes", length - 1)));
        }
        if declared.is_none() {
            reservation.grow(budget, data.len(), deadline).await?;
        }
        body.extend_from_slice(&data);
    }
    Ok((Bytes::from(body), reservation))
}

/// A response body that tells the connection its request is finished when it is dropped
/// (written out or abandoned).
pub(crate) struct Tracked {
    inner: Body,
    activity: Arc<Activity>,
}

impl Tracked {
    pub(crate) fn new(inner: Body, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.activity.request_finished();
    }
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

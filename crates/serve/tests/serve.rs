//! The serving loop against real sockets: slow heads, stalled bodies, silent connections, the
//! connection cap, the body budget and shutdown with a deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aiops_serve::{CheckedLimits, Limits, serve};
use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MS: Duration = Duration::from_millis(1);

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", post(|body: Bytes| async move { format!("{} bytes", body.len()) }))
        .route(
            "/hold",
            post(|body: Bytes| async move {
                tokio::time::sleep(Duration::from_millis(800)).await;
                format!("held {} bytes", body.len())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
}

fn limits(change: impl FnOnce(&mut Limits)) -> CheckedLimits {
    let mut limits = Limits {
        header_timeout: 400 * MS,
        body_timeout: 400 * MS,
        idle_timeout: 400 * MS,
        max_connections: 64,
        max_body_bytes: 1000,
        max_inflight_body_bytes: 1000,
        shutdown_timeout: 500 * MS,
    };
    change(&mut limits);
    limits.check().unwrap()
}

struct Running {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<aiops_serve::Result<()>>,
}

async fn start(limits: CheckedLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, app(), &limits, async {
            let _ = stopped.await;
        })
        .await
    });
    Running { address, stop: Some(stop), task }
}

/// Everything the server sends until it closes the connection, or `None` if it is still open
/// after `wait`.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

async fn request(address: SocketAddr, raw: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    read_until_closed(&mut stream, Duration::from_secs(5)).await.expect("the server answers and closes")
}

#[tokio::test]
async fn a_partial_request_head_is_dropped_after_the_header_timeout() {
    let server = start(limits(|l| l.idle_timeout = Duration::from_secs(30))).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(received.as_deref(), Some(""), "closed without an answer");
    let waited = started.elapsed();
    assert!(waited >= 350 * MS && waited < Duration::from_secs(3), "closed after {waited:?}");
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_idle_timeout() {
    let server = start(limits(|l| l.header_timeout = Duration::from_secs(30))).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let started = Instant::now();
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(received.as_deref(), Some(""));
    assert!(started.elapsed() >= 350 * MS, "closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_kept_alive_connection_is_dropped_after_the_idle_timeout() {
    let server = start(limits(|l| l.header_timeout = Duration::from_secs(30))).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await.unwrap();
    assert!(received.starts_with("HTTP/1.1 200") && received.ends_with("hello"), "{received}");
    assert!(started.elapsed() >= 350 * MS, "closed after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_body_gets_408_after_the_body_timeout() {
    let server = start(limits(|l| l.idle_timeout = Duration::from_secs(30))).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream, Duration::from_secs(5)).await.unwrap();
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(received.contains(r#"{"error":"the request body did not arrive within"#), "{received}");
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_without_being_read() {
    let server = start(limits(|_| {})).await;
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1001\r\n\r\n";
    let received = request(server.address, head).await;
    assert!(received.starts_with("HTTP/1.1 413"), "{received}");
    let chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n{}\r\n2\r\nab\r\n0\r\n\r\n",
        "x".repeat(1000)
    );
    let received = request(server.address, &chunked).await;
    assert!(received.starts_with("HTTP/1.1 413"), "{received}");
}

#[tokio::test]
async fn bodies_in_flight_share_one_budget() {
    let server = start(limits(|l| l.idle_timeout = Duration::from_secs(30))).await;
    // The first request's body takes the whole budget until its (slow) handler is done.
    let mut first = TcpStream::connect(server.address).await.unwrap();
    let head = "POST /hold HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
    first.write_all(head.as_bytes()).await.unwrap();
    first.write_all(&[b'a'; 1000]).await.unwrap();
    tokio::time::sleep(100 * MS).await;
    // A second body finds no room before its deadline; bodiless requests are not held up.
    let second = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n0123456789";
    let received = request(server.address, second).await;
    assert!(received.starts_with("HTTP/1.1 503") && received.contains("retry-after: 1"), "{received}");
    let received =
        request(server.address, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    let received = read_until_closed(&mut first, Duration::from_secs(5)).await.unwrap();
    assert!(received.ends_with("held 1000 bytes"), "{received}");
    // The budget is free again.
    let third = format!(
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{}",
        "b".repeat(1000)
    );
    let received = request(server.address, &third).await;
    assert!(received.ends_with("1000 bytes"), "{received}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = start(limits(|l| {
        l.max_connections = 2;
        l.idle_timeout = Duration::from_secs(30);
        l.header_timeout = Duration::from_secs(30);
    }))
    .await;
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(TcpStream::connect(server.address).await.unwrap());
    }
    tokio::time::sleep(100 * MS).await;
    let mut third = TcpStream::connect(server.address).await.unwrap();
    third.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    assert_eq!(read_until_closed(&mut third, 500 * MS).await, None, "answered beyond the cap");
    drop(idle.pop());
    let received = read_until_closed(&mut third, Duration::from_secs(5)).await.unwrap();
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_drops_half_open_ones_at_the_deadline() {
    let mut server = start(limits(|l| {
        l.header_timeout = Duration::from_secs(30);
        l.body_timeout = Duration::from_secs(30);
        l.idle_timeout = Duration::from_secs(30);
    }))
    .await;
    let mut half_open = TcpStream::connect(server.address).await.unwrap();
    half_open
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    tokio::time::sleep(100 * MS).await;
    let started = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    let slow = read_until_closed(&mut slow, Duration::from_secs(5)).await.unwrap();
    assert!(slow.starts_with("HTTP/1.1 200") && slow.ends_with("slow"), "{slow}");
    assert_eq!(read_until_closed(&mut idle, Duration::from_secs(1)).await.as_deref(), Some(""));
    tokio::time::timeout(Duration::from_secs(3), server.task).await.unwrap().unwrap().unwrap();
    let stopped = started.elapsed();
    assert!(stopped >= 450 * MS && stopped < Duration::from_secs(2), "stopped after {stopped:?}");
    assert!(read_until_closed(&mut half_open, Duration::from_secs(1)).await.is_some(), "dropped");
    assert!(TcpStream::connect(server.address).await.is_err(), "still accepting");
}

#[tokio::test]
async fn sigterm_stops_the_server_within_the_deadline_despite_a_half_open_request() {
    // Installed before the signal is sent, so the process is not killed by its default action.
    let _handler = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = limits(|l| {
        l.header_timeout = Duration::from_secs(30);
        l.idle_timeout = Duration::from_secs(30);
    });
    let task =
        tokio::spawn(async move { serve(listener, app(), &limits, aiops_serve::shutdown_signal()).await });
    let mut half_open = TcpStream::connect(address).await.unwrap();
    half_open.write_all(b"GET / HTTP/1.1\r\nHost: local").await.unwrap();
    tokio::time::sleep(200 * MS).await;
    let started = Instant::now();
    let killed = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status();
    assert!(killed.unwrap().success(), "kill -TERM");
    tokio::time::timeout(Duration::from_secs(3), task).await.expect("stopped within 3 s").unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "stopped after {:?}", started.elapsed());
    assert_eq!(read_until_closed(&mut half_open, Duration::from_secs(1)).await.as_deref(), Some(""));
}

/// A change that breaks one limit, and the field the error must name.
type BadLimit = (fn(&mut Limits), &'static str);

#[test]
fn limits_name_the_bad_field() {
    let cases: [BadLimit; 6] = [
        (|l| l.header_timeout = Duration::ZERO, "header_timeout"),
        (|l| l.body_timeout = Duration::from_secs(100_000), "body_timeout"),
        (|l| l.idle_timeout = Duration::ZERO, "idle_timeout"),
        (|l| l.max_connections = 0, "max_connections"),
        (|l| l.max_body_bytes = 0, "max_body_bytes"),
        (|l| l.max_inflight_body_bytes = 10, "max_inflight_body_bytes"),
    ];
    for (change, field) in cases {
        let mut limits = Limits::default();
        change(&mut limits);
        let error = limits.check().unwrap_err();
        assert!(
            matches!(error, aiops_serve::Error::InvalidParameter { field: f, .. } if f == field),
            "{field}: {error}"
        );
    }
}

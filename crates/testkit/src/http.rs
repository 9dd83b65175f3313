//! A loopback HTTP peer that answers with whatever bytes a test writes: for answers no real
//! server sends on purpose (too large, lying about their length, redirects elsewhere).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;

/// A loopback HTTP server answering each request with `reply(its own URL, the request head)`;
/// returns its URL and the request heads it received.
///
/// # Panics
/// When no loopback port can be bound.
pub fn raw_server(
    reply: impl Fn(&str, &str) -> String + Send + 'static,
) -> (String, &'static Mutex<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let requests: &'static Mutex<Vec<String>> = Box::leak(Box::new(Mutex::new(Vec::new())));
    let own_url = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 8192];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let answer = reply(&own_url, &head);
            requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, requests)
}

/// A `200 OK` JSON answer of `body` padded with spaces to `bytes` (JSON ignores them), announced
/// by `Content-Length` or, when `announced` is false, streamed in 64 KiB chunks without one.
///
/// # Panics
/// When `body` is longer than `bytes`.
pub fn padded_answer(body: &str, bytes: usize, announced: bool) -> String {
    let body = format!("{body}{}", " ".repeat(bytes - body.len()));
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";
    if announced {
        return format!("{head}Content-Length: {bytes}\r\n\r\n{body}");
    }
    let mut reply = format!("{head}Transfer-Encoding: chunked\r\n\r\n");
    for chunk in body.as_bytes().chunks(64 << 10) {
        reply.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), String::from_utf8_lossy(chunk)));
    }
    reply + "0\r\n\r\n"
}

//! A SYNTHETIC stand-in for Prometheus' HTTP API, for scale benchmarks only: it is NOT
//! Prometheus and evaluates no PromQL. It answers the few requests a fleet watcher sends, for
//! any number of node-exporter instances (10,000 and more, which a real Prometheus backfilled in
//! a test cannot hold quickly), with deterministic values computed on the fly:
//!
//! - `/api/v1/query` (GET or POST): a query containing `by (instance)` (fleet discovery, e.g.
//!   `group by (instance) (up{job="node"})`) answers one sample of 1 per instance, labelled
//!   `instance` only; any other query answers an empty vector;
//! - `/api/v1/query_range`: a query containing `by (instance)` answers one series per instance
//!   (the fleet's one query per metric per interval); a query naming `instance="X"` answers X's
//!   series; any other query an empty matrix. More than 11,000 points per series is refused
//!   with HTTP 400, as Prometheus does;
//! - `/api/v1/label/instance/values`: every instance;
//! - `/-/ready`: 200. Anything else, including `/api/v1/write`: 404.
//!
//! The metric is recognised from the query's text ([`SyntheticMetric::of_query`]); values are
//! [`SyntheticMetric::value`] of the instance's index and the evaluation time.
//! [`instance_name`] spells the i-th instance.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::prometheus::unit_noise;

/// Prometheus' limit on points per series in one range query.
const MAX_POINTS: u64 = 11_000;
/// Largest request head or body read (requests are small: a query and a few parameters).
const MAX_REQUEST_BYTES: usize = 64 << 10;

/// Which node metric a query asks for, recognised from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticMetric {
    /// `node_cpu_seconds_total`: CPU usage in percent.
    Cpu,
    /// `node_memory_*`: memory usage in percent.
    Memory,
    /// `node_filesystem_*`: disk usage in percent.
    Disk,
    /// `node_network_*`: received bytes per second.
    Network,
    /// Anything else (e.g. `up`): 1.
    Other,
}

impl SyntheticMetric {
    /// The metric a query's text names.
    pub fn of_query(query: &str) -> Self {
        if query.contains("node_cpu") {
            Self::Cpu
        } else if query.contains("node_memory") {
            Self::Memory
        } else if query.contains("node_filesystem") {
            Self::Disk
        } else if query.contains("node_network") {
            Self::Network
        } else {
            Self::Other
        }
    }

    /// The value of instance `index` at unix second `t`: a per-instance level, a daily wave and
    /// deterministic noise; every 1,000th instance (index 0, 1000, ...) runs hot in the last 10
    /// minutes of every hour, so that detectors have something to find.
    pub fn value(self, index: usize, t: i64) -> f64 {
        let wave = (std::f64::consts::TAU * t.rem_euclid(86_400) as f64 / 86_400.0).sin();
        let noise = unit_noise(index as u64, t as u64) * 2.0 - 1.0;
        let hot = index.is_multiple_of(1_000) && t.rem_euclid(3_600) >= 3_000;
        match self {
            Self::Cpu if hot => 95.0 + noise,
            Self::Cpu => 20.0 + (index % 50) as f64 + 10.0 * wave + 3.0 * noise,
            Self::Memory => 50.0 + (index % 20) as f64 + 10.0 * wave + noise,
            Self::Disk => 60.0 + (index % 30) as f64 + 0.5 * noise,
            Self::Network => 1e6 * (1.5 + wave) + 1e5 * noise,
            Self::Other => 1.0,
        }
    }
}

/// The i-th instance: `10.<i / 65536 % 256>.<i / 256 % 256>.<i % 256>:9100` (canonical, unique
/// for 16.7 million instances).
pub fn instance_name(index: usize) -> String {
    format!("10.{}.{}.{}:9100", index >> 16 & 255, index >> 8 & 255, index & 255)
}

/// A running synthetic server on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct SyntheticPrometheus {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SyntheticPrometheus {
    /// Serves `instances` instances on a free loopback port (a thread per connection).
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub fn start(instances: usize) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let names: Arc<Vec<String>> = Arc::new((0..instances).map(instance_name).collect());
        let stopping = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let names = Arc::clone(&names);
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &names);
                });
            }
        });
        Ok(Self { port, stop, acceptor: Some(acceptor) })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for SyntheticPrometheus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the acceptor up so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Answers the requests of one keep-alive connection until the client closes it.
fn serve_connection(stream: TcpStream, names: &[String]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if (&mut reader).take(MAX_REQUEST_BYTES as u64).read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push_str(&line);
            if head.len() > MAX_REQUEST_BYTES {
                return respond(&mut out, 431, "text/plain", b"request head too large");
            }
        }
        let length = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_REQUEST_BYTES {
            return respond(&mut out, 413, "text/plain", b"request body too large");
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let (path, query_string) = target.split_once('?').unwrap_or((target, ""));
        let mut params = form(query_string);
        params.extend(form(&String::from_utf8_lossy(&body)));
        let (status, answer) = answer(path, &params, names);
        let kind = if status == 404 { "text/plain" } else { "application/json" };
        respond(&mut out, status, kind, answer.as_bytes())?;
    }
}

fn respond(out: &mut impl Write, status: u16, kind: &str, body: &[u8]) -> std::io::Result<()> {
    write!(out, "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n", body.len())?;
    out.write_all(body)?;
    out.flush()
}

/// The status and body for a request.
fn answer(path: &str, params: &[(String, String)], names: &[String]) -> (u16, String) {
    let param = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let number = |name: &str| param(name).and_then(|v| v.parse::<f64>().ok());
    let query = param("query").unwrap_or_default();
    let selected: Vec<(usize, &String)> = if query.contains("by (instance)") {
        names.iter().enumerate().collect()
    } else {
        names.iter().enumerate().filter(|(_, n)| query.contains(&format!("instance=\"{n}\""))).collect()
    };
    match path {
        "/-/ready" => (200, "{}".into()),
        "/api/v1/label/instance/values" => {
            let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            (200, format!(r#"{{"status":"success","data":[{}]}}"#, quoted.join(",")))
        }
        "/api/v1/query" => {
            let time = number("time").unwrap_or(0.0);
            let mut body = String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
            if query.contains("by (instance)") {
                for (k, (_, name)) in selected.iter().enumerate() {
                    let comma = if k > 0 { "," } else { "" };
                    body.push_str(&format!(
                        r#"{comma}{{"metric":{{"instance":"{name}"}},"value":[{time},"1"]}}"#
                    ));
                }
            }
            body.push_str("]}}");
            (200, body)
        }
        "/api/v1/query_range" => {
            let (Some(start), Some(end), Some(step)) = (number("start"), number("end"), number("step"))
            else {
                return (400, bad_data("start, end and step are required numbers"));
            };
            if !(step >= 1.0 && start <= end) {
                return (400, bad_data("step must be 1 s or more and start <= end"));
            }
            let times: Vec<i64> =
                (0..).map(|k| start as i64 + k * step as i64).take_while(|&t| t as f64 <= end).collect();
            if times.len() as u64 > MAX_POINTS {
                return (400, bad_data("exceeded maximum resolution of 11,000 points per timeseries"));
            }
            (200, matrix(SyntheticMetric::of_query(query), &selected, &times))
        }
        _ => (404, "404 page not found".into()),
    }
}

fn matrix(metric: SyntheticMetric, selected: &[(usize, &String)], times: &[i64]) -> String {
    let mut body = String::with_capacity(64 + selected.len() * (48 + times.len() * 32));
    body.push_str(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for (k, (index, name)) in selected.iter().enumerate() {
        body.push_str(if k > 0 { "," } else { "" });
        body.push_str(&format!(r#"{{"metric":{{"instance":"{name}"}},"values":["#));
        for (j, &t) in times.iter().enumerate() {
            let comma = if j > 0 { "," } else { "" };
            body.push_str(&format!(r#"{comma}[{t},"{}"]"#, metric.value(*index, t)));
        }
        body.push_str("]}");
    }
    body.push_str("]}}");
    body
}

fn bad_data(message: &str) -> String {
    format!(r#"{{"status":"error","errorType":"bad_data","error":"{message}"}}"#)
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded (`+` is a space).
fn form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

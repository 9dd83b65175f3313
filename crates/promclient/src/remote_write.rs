//! Prometheus remote write 1.0: series pushed to a receiver (Prometheus with
//! `--web.enable-remote-write-receiver`, Mimir, VictoriaMetrics, ...) as a `prometheus.WriteRequest`
//! protobuf, snappy block-compressed.
//!
//! The messages are hand-written `prost` structs with the field numbers of Prometheus'
//! `prompb/remote.proto` and `types.proto` (no build script, no `protoc`). Requests are bounded:
//! at most [`MAX_SAMPLES_PER_REQUEST`] samples and [`MAX_REQUEST_BYTES`] bytes before compression
//! each; longer writes are split. The HTTP client is the one [`crate::PromClient`] uses, built
//! from the same [`ClientConfig`] (timeout, retries, auth, TLS).

use std::sync::Arc;

use prost::Message;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

use crate::client::{backoff, http_client};
use crate::{ClientConfig, Error, Result, Sample};

/// Samples per request at most (Prometheus' own `max_samples_per_send` default).
pub const MAX_SAMPLES_PER_REQUEST: usize = 2_000;

/// Bytes of one encoded request at most, before compression.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// Bytes of one series' labels (names and values) at most, so that one series' labels and
/// [`MAX_SAMPLES_PER_REQUEST`] samples always fit in one request.
pub const MAX_LABEL_BYTES: usize = 16 << 10;

/// The protocol version header of remote write 1.0.
const PROTOCOL_VERSION: &str = "0.1.0";

/// Most of a refusing receiver's reason that is read (its start is shown in the error).
const REASON_BYTES: usize = 64 << 10;

/// One series to write: a metric name, its other labels and samples in increasing time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    /// The metric name (the `__name__` label), e.g. `aiops_anomaly_score`.
    pub name: String,
    /// The other labels as (name, value); any order, sorted when encoded.
    pub labels: Vec<(String, String)>,
    /// Samples (unix seconds, sent as milliseconds) with strictly increasing timestamps.
    pub samples: Vec<Sample>,
}

/// What one [`RemoteWriter::write`] sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    /// HTTP requests sent.
    pub requests: usize,
    /// Samples sent.
    pub samples: usize,
}

/// A remote-write client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct RemoteWriter {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl RemoteWriter {
    /// A writer for the receiver at `config.base_url`, the full endpoint (e.g.
    /// `http://prometheus:9090/api/v1/write`); checked as for [`crate::PromClient::new`], no
    /// request is sent.
    ///
    /// # Errors
    /// As [`crate::PromClient::new`].
    pub fn new(mut config: ClientConfig) -> Result<Self> {
        let http = http_client(&mut config)?;
        Ok(Self { http, config: Arc::new(config) })
    }

    /// Writes `series`, split into bounded requests sent one after the other. Connection
    /// errors, 5xx and 429 answers are retried (`config.retries` times, with backoff); any
    /// other refusal stops the write.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming a bad series before anything is sent,
    /// [`Error::RemoteWrite`] with the receiver's answer (bounded, escaped),
    /// [`Error::Timeout`] or [`Error::Connection`].
    pub async fn write(&self, series: &[TimeSeries]) -> Result<Written> {
        let requests = batches(series)?;
        let mut written = Written::default();
        for request in &requests {
            let body = snap::raw::Encoder::new()
                .compress_vec(&request.encode_to_vec())
                .map_err(|e| Error::Decode { problem: format!("snappy compression: {e}") })?;
            self.send(body).await?;
            written.requests += 1;
            written.samples += request.timeseries.iter().map(|s| s.samples.len()).sum::<usize>();
        }
        Ok(written)
    }

    /// POSTs one compressed request, retrying what the protocol says is retryable.
    async fn send(&self, body: Vec<u8>) -> Result<()> {
        let url = self.config.base_url.to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = attempt <= self.config.retries;
            let sent = self
                .http
                .post(self.config.base_url.clone())
                .header(CONTENT_ENCODING, HeaderValue::from_static("snappy"))
                .header(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"))
                .header("X-Prometheus-Remote-Write-Version", HeaderValue::from_static(PROTOCOL_VERSION))
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(e) if e.is_timeout() => return Err(Error::Timeout { url, timeout: self.config.timeout }),
                Err(e) if retry && e.is_connect() => {
                    backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(Error::Connection { url, attempts: attempt, source: Box::new(e) }),
            };
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            if retry && (status.is_server_error() || status.as_u16() == 429) {
                backoff(attempt).await;
                continue;
            }
            // The body is the receiver's reason (plain text), of which only the start is shown:
            // at most REASON_BYTES are read; unreadable counts as empty.
            let reason = aiops_bounded::read_prefix(response, REASON_BYTES).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&reason);
            return Err(Error::RemoteWrite {
                url,
                status: status.as_u16(),
                message: aiops_text::bounded(text.trim()),
            });
        }
    }
}

/// Checks `series` and splits them into requests within the bounds, labels sorted by name.
fn batches(series: &[TimeSeries]) -> Result<Vec<WriteRequest>> {
    let mut requests = Vec::new();
    let mut current = WriteRequest::default();
    let (mut samples, mut bytes) = (0, 0);
    for one in series {
        let labels = checked_labels(one)?;
        let points = checked_samples(one)?;
        for chunk in points.chunks(MAX_SAMPLES_PER_REQUEST) {
            let encoded = ProtoTimeSeries { labels: labels.clone(), samples: chunk.to_vec() };
            // A repeated field costs its length, a tag byte and a length prefix of up to 3 bytes.
            let size = encoded.encoded_len() + 4;
            if samples + chunk.len() > MAX_SAMPLES_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES {
                requests.push(std::mem::take(&mut current));
                (samples, bytes) = (0, 0);
            }
            samples += chunk.len();
            bytes += size;
            current.timeseries.push(encoded);
        }
    }
    if !current.timeseries.is_empty() {
        requests.push(current);
    }
    Ok(requests)
}

/// The labels of `series`, `__name__` included, checked and sorted by name (as the protocol
/// requires; `__name__` comes first for names starting with a lowercase letter or `_`).
fn checked_labels(series: &TimeSeries) -> Result<Vec<Label>> {
    let invalid = |reason: String| Error::InvalidParameter { field: "series", reason };
    if !is_metric_name(&series.name) {
        return Err(invalid(format!(
            "metric name `{}` is not [a-zA-Z_:][a-zA-Z0-9_:]*",
            aiops_text::bounded(&series.name)
        )));
    }
    let mut labels = vec![Label { name: "__name__".into(), value: series.name.clone() }];
    for (name, value) in &series.labels {
        let bad = if !is_label_name(name) || name == "__name__" {
            Some("is not [a-zA-Z_][a-zA-Z0-9_]* (or is `__name__`: that is the series' name)")
        } else if value.is_empty() {
            Some("has an empty value (an empty label is an absent one: leave it out)")
        } else {
            None
        };
        if let Some(reason) = bad {
            return Err(invalid(format!(
                "label `{}` of `{}` {reason}",
                aiops_text::bounded(name),
                series.name
            )));
        }
        labels.push(Label { name: name.clone(), value: value.clone() });
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = labels.windows(2).find(|pair| pair[0].name == pair[1].name) {
        return Err(invalid(format!("label `{}` of `{}` appears twice", pair[0].name, series.name)));
    }
    let size: usize = labels.iter().map(|l| l.name.len() + l.value.len()).sum();
    if size > MAX_LABEL_BYTES {
        return Err(invalid(format!(
            "the labels of `{}` have {size} bytes, more than {MAX_LABEL_BYTES}",
            series.name
        )));
    }
    Ok(labels)
}

/// The samples of `series` in milliseconds, checked: finite, strictly increasing timestamps.
fn checked_samples(series: &TimeSeries) -> Result<Vec<ProtoSample>> {
    let mut previous = i64::MIN;
    series
        .samples
        .iter()
        .map(|sample| {
            let milliseconds = (sample.timestamp * 1000.0).round();
            let representable = milliseconds.is_finite() && milliseconds.abs() < 9.0e18;
            if !representable || (milliseconds as i64) <= previous {
                return Err(Error::InvalidParameter {
                    field: "series",
                    reason: format!(
                        "timestamps of `{}` must be finite and strictly increasing in milliseconds (at {})",
                        series.name, sample.timestamp
                    ),
                });
            }
            previous = milliseconds as i64;
            Ok(ProtoSample { value: sample.value, timestamp: previous })
        })
        .collect()
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `prometheus.WriteRequest` (remote.proto; field 3, metadata, is not sent).
#[derive(Clone, PartialEq, Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<ProtoTimeSeries>,
}

/// `prometheus.TimeSeries` (types.proto; exemplars and histograms are not sent).
#[derive(Clone, PartialEq, Message)]
struct ProtoTimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<ProtoSample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

/// `prometheus.Sample`: the value and milliseconds since the epoch.
#[derive(Clone, PartialEq, Message)]
struct ProtoSample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, labels: &[(&str, &str)], samples: usize) -> TimeSeries {
        TimeSeries {
            name: name.into(),
            labels: labels.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
            samples: (0..samples).map(|i| Sample { timestamp: 1000.0 + i as f64, value: i as f64 }).collect(),
        }
    }

    #[test]
    fn the_wire_format_is_prometheus_write_request_with_sorted_labels() {
        let one = series("aiops_anomaly_score", &[("metric", "cpu"), ("instance", "10.0.0.1:9100")], 2);
        let [request] = &batches(&[one]).unwrap()[..] else { panic!("one request") };
        let bytes = request.encode_to_vec();
        // Hand-encoded: the request's field 1 (a series) ends with its field 2 (a sample) whose
        // field 1 is the double 1.0 and field 2 the varint 1,001,000 ms.
        assert_eq!(bytes[0], 0x0a);
        let last_sample = [0x12, 13, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xa8, 0x8c, 0x3d];
        assert_eq!(&bytes[bytes.len() - last_sample.len()..], &last_sample);
        let decoded = WriteRequest::decode(bytes.as_slice()).unwrap();
        let names: Vec<&str> = decoded.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "instance", "metric"]);
        let samples = &decoded.timeseries[0].samples;
        assert_eq!((samples[1].timestamp, samples[1].value), (1_001_000, 1.0));
        let compressed = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
        assert_eq!(snap::raw::Decoder::new().decompress_vec(&compressed).unwrap(), bytes);
    }

    #[test]
    fn requests_stay_within_the_sample_and_byte_bounds() {
        let long = series("a", &[("instance", "x:1")], 5_000);
        let big_value = "v".repeat(MAX_LABEL_BYTES - 100);
        let wide: Vec<TimeSeries> =
            (0..200).map(|i| series("b", &[("k", &format!("{i}{big_value}"))], 1)).collect();
        let all: Vec<TimeSeries> = std::iter::once(long).chain(wide).collect();
        let requests = batches(&all).unwrap();
        let total: usize = requests.iter().flat_map(|r| &r.timeseries).map(|s| s.samples.len()).sum();
        assert_eq!(total, 5_200, "no sample lost or repeated");
        for request in &requests {
            assert!(
                request.timeseries.iter().map(|s| s.samples.len()).sum::<usize>() <= MAX_SAMPLES_PER_REQUEST
            );
            assert!(request.encoded_len() <= MAX_REQUEST_BYTES, "{} bytes", request.encoded_len());
        }
        // Each request but the last is full in samples or in bytes: no more requests than both need.
        let bytes: usize = requests.iter().map(Message::encoded_len).sum();
        let needed = total.div_ceil(MAX_SAMPLES_PER_REQUEST) + bytes.div_ceil(MAX_REQUEST_BYTES);
        assert!(requests.len() <= needed, "{} requests for {needed}", requests.len());
    }

    #[test]
    fn bad_series_are_refused_naming_the_problem() {
        let table = [
            (series("1bad", &[], 1), "metric name"),
            (series("a", &[("in-stance", "x")], 1), "in-stance"),
            (series("a", &[("__name__", "x")], 1), "__name__"),
            (series("a", &[("instance", "")], 1), "empty value"),
            (series("a", &[("k", "1"), ("k", "2")], 1), "twice"),
            (series("a", &[("k", &"v".repeat(MAX_LABEL_BYTES))], 1), "bytes"),
        ];
        for (bad, needle) in table {
            match batches(&[bad]) {
                Err(Error::InvalidParameter { field: "series", reason }) => {
                    assert!(reason.contains(needle), "{reason} should mention {needle}");
                }
                other => panic!("expected a refusal mentioning {needle}, got {other:?}"),
            }
        }
        let mut unordered = series("a", &[], 2);
        unordered.samples.reverse();
        assert!(batches(&[unordered]).is_err());
        let mut same_millisecond = series("a", &[], 2);
        same_millisecond.samples[1].timestamp = same_millisecond.samples[0].timestamp + 0.0001;
        assert!(batches(&[same_millisecond]).is_err());
        let mut infinite = series("a", &[], 1);
        infinite.samples[0].timestamp = f64::INFINITY;
        assert!(batches(&[infinite]).is_err());
    }
}

//! The only crate that speaks to Prometheus: a metric catalogue (cpu, memory, disk, network, custom),
//! instance validation and PromQL string escaping that make query injection impossible, chunked
//! range queries with retries, and discovery of the node-exporter instances Prometheus knows.
//!
//! # Injection safety
//! Every value placed into PromQL is first validated ([`Instance::parse`]: canonical `ip:port`
//! or strict `host:port`) and then escaped by PromQL's string rules ([`escape_promql_string`]),
//! always inside a double-quoted literal. Custom templates may only use the `{instance}`
//! placeholder, and only inside double-quoted strings ([`Metric::custom`]). Bad values are
//! refused before any request is sent.
//!
//! # Range queries
//! [`PromClient::query_range`] splits a range into step-aligned chunks of at most 11,000 points
//! (Prometheus' per-series limit), runs a few chunks concurrently, drops NaN/Inf samples and
//! duplicates, and returns strictly increasing timestamps.
//!
//! # Fleet
//! [`FleetQuery`] builds the PromQL that reads the fleet's exported verdicts back (which nodes
//! are anomalous now, ranked); [`PromClient::fleet_status`] runs it.
//!
//! # Remote write
//! [`RemoteWriter`] pushes series with Prometheus' remote write 1.0 protocol (protobuf,
//! snappy), in bounded requests, with the same configuration (auth, TLS, timeout, retries).
//!
//! # Why `prometheus-http-query` plus raw `reqwest`
//! Requests are built and sent by `prometheus-http-query` 0.9 (URL and parameter handling,
//! path prefixes, response types). It lacks what robust fetching needs, so this crate adds it
//! around the library's `*_raw` calls on a `reqwest` client it configures itself: the HTTP status
//! (the library drops it, so 5xx could not be retried and 4xx not told apart), Prometheus'
//! error body even when a proxy answers with non-JSON, timeouts, bearer/basic authentication
//! and TLS settings (as default headers and client options), and a trailing-slash fix for
//! path prefixes (the library would request `/prefix//api/v1/...`).

mod client;
mod error;
mod fleet;
mod metric;
mod promql;
mod remote_write;
mod selector;

pub use client::{
    Auth, ClientConfig, InstantSample, MAX_ANSWER_BYTES, MAX_CERTIFICATE_BYTES, MAX_POINTS_PER_QUERY,
    Progress, PromClient, Sample, Series, TimeWindow, Tls, plan_chunks,
};
pub use error::{Error, Result};
pub use fleet::{
    ANOMALY_SCORE, FLEET_METRIC_NAMES, FleetNode, FleetQuery, FleetSeries, FleetStatus, INCIDENT_OPEN,
    INCIDENT_START, MAX_FLEET_LIMIT,
};
pub use metric::{METRIC_NAMES, Metric};
pub use promql::{INSTANCE_PLACEHOLDER, Instance, escape_promql_string, fill_template};
pub use remote_write::{
    MAX_LABEL_BYTES, MAX_REQUEST_BYTES, MAX_SAMPLES_PER_REQUEST, RemoteWriter, TimeSeries, Written,
};
pub use selector::{
    InstancesQuery, LabelMatcher, LabelSelector, MAX_INSTANCE_REGEX_BYTES, MAX_MATCHERS, MAX_SELECTOR_BYTES,
    MatchOp, escape_regex,
};

//! Prometheus metrics of the server.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a served request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// The route template, e.g. `/v2/models/{name}/infer` (bounded cardinality).
    pub(crate) route: String,
    /// HTTP status code.
    pub(crate) code: u16,
}

/// Labels of a reload attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 25 µs to ~6.5 s.
    Histogram::new(exponential_buckets(25e-6, 2.0, 19))
}

/// The server's metrics and the registry that exposes them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pub(crate) rows_scored: Counter,
    pub(crate) anomalies: Counter,
    reloads: Family<ReloadLabels, Counter>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("aiops_model");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let rows_scored = Counter::default();
        let anomalies = Counter::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register("requests", "HTTP requests served, by route and status code", requests.clone());
        registry.register(
            "request_duration_seconds",
            "HTTP request latency, by route and status code",
            latency.clone(),
        );
        registry.register("rows_scored", "Rows scored by inference requests", rows_scored.clone());
        registry.register("anomalies", "Rows predicted anomalous (-1)", anomalies.clone());
        registry.register("reloads", "Model file reloads, by outcome (loaded, failed)", reloads.clone());
        Self { registry, requests, latency, rows_scored, anomalies, reloads }
    }

    pub(crate) fn observe_request(&self, labels: &RequestLabels, seconds: f64) {
        self.requests.get_or_create(labels).inc();
        self.latency.get_or_create(labels).observe(seconds);
    }

    pub(crate) fn observe_reload(&self, loaded: bool) {
        let outcome = if loaded { "loaded" } else { "failed" };
        self.reloads.get_or_create(&ReloadLabels { outcome }).inc();
    }

    /// The OpenMetrics text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

//! The Prometheus metrics `aiops watch` exports (OpenMetrics text on `/metrics`). The
//! PrometheusRule and the Grafana dashboard in `infra/k8s` query exactly these names.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::state::{SeriesState, Verdict};

/// Every exported metric name, for the cross-checks of dashboards and alerts. Counters carry
/// the `_total` suffix the OpenMetrics encoder adds.
pub const METRIC_NAMES: [&str; 12] = [
    "aiops_watch_anomaly_score",
    "aiops_watch_decision_score",
    "aiops_watch_anomaly",
    "aiops_watch_anomalies_last_hour",
    "aiops_watch_points_last_hour",
    "aiops_watch_anomaly_rate",
    "aiops_watch_last_point_timestamp_seconds",
    "aiops_watch_points_total",
    "aiops_watch_fetch_errors_total",
    "aiops_watch_model_contamination",
    "aiops_watch_incident_open",
    "aiops_watch_incidents_total",
];

/// Labels of every per-series metric.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeriesLabels {
    /// The node exporter's `instance` label (`IP:PORT`).
    pub instance: String,
    /// The catalogue name of the metric (`cpu`, `memory`, ...).
    pub metric: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The registry and handles of the exported metrics.
#[derive(Debug)]
pub struct WatchMetrics {
    registry: Registry,
    anomaly_score: Family<SeriesLabels, FloatGauge>,
    decision_score: Family<SeriesLabels, FloatGauge>,
    anomaly: Family<SeriesLabels, Gauge>,
    anomalies_last_hour: Family<SeriesLabels, Gauge>,
    points_last_hour: Family<SeriesLabels, Gauge>,
    anomaly_rate: Family<SeriesLabels, FloatGauge>,
    last_point_timestamp: Family<SeriesLabels, FloatGauge>,
    points: Family<SeriesLabels, Counter>,
    fetch_errors: Family<SeriesLabels, Counter>,
    incident_open: Family<SeriesLabels, Gauge>,
    incidents: Family<SeriesLabels, Counter>,
}

impl WatchMetrics {
    /// Registers the metrics; `contamination` is the model's trained contamination, exported
    /// beside the observed anomaly rate so drift can be alerted on.
    pub fn new(contamination: f64) -> Self {
        let mut registry = Registry::default();
        let contamination_gauge = FloatGauge::default();
        contamination_gauge.set(contamination);
        registry.register(
            "aiops_watch_model_contamination",
            "Contamination the model was trained with: the anomaly rate it is expected to flag",
            contamination_gauge,
        );
        let metrics = Self {
            anomaly_score: Family::default(),
            decision_score: Family::default(),
            anomaly: Family::default(),
            anomalies_last_hour: Family::default(),
            points_last_hour: Family::default(),
            anomaly_rate: Family::default(),
            last_point_timestamp: Family::default(),
            points: Family::default(),
            fetch_errors: Family::default(),
            incident_open: Family::default(),
            incidents: Family::default(),
            registry,
        };
        metrics.register_series_families()
    }

    fn register_series_families(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "aiops_watch_anomaly_score",
            "Anomaly score of the newest point (scikit-learn's -score_samples, in (0, 1], higher is more abnormal)",
            self.anomaly_score.clone(),
        );
        r.register(
            "aiops_watch_decision_score",
            "Decision function of the newest point (score_samples - offset; negative means anomalous)",
            self.decision_score.clone(),
        );
        r.register(
            "aiops_watch_anomaly",
            "1 when the newest point is anomalous, else 0",
            self.anomaly.clone(),
        );
        r.register(
            "aiops_watch_anomalies_last_hour",
            "Anomalous points within the hour before the newest point",
            self.anomalies_last_hour.clone(),
        );
        r.register(
            "aiops_watch_points_last_hour",
            "Scored points within the hour before the newest point",
            self.points_last_hour.clone(),
        );
        r.register(
            "aiops_watch_anomaly_rate",
            "Fraction of the last hour's points flagged anomalous (compare with aiops_watch_model_contamination)",
            self.anomaly_rate.clone(),
        );
        r.register(
            "aiops_watch_last_point_timestamp_seconds",
            "Unix time of the newest scored point",
            self.last_point_timestamp.clone(),
        );
        r.register("aiops_watch_points", "Points scored since start", self.points.clone());
        r.register(
            "aiops_watch_fetch_errors",
            "Failed Prometheus queries since start",
            self.fetch_errors.clone(),
        );
        r.register(
            "aiops_watch_incident_open",
            "1 while a confirmed incident (anomalous points merged by the incident layer) is open",
            self.incident_open.clone(),
        );
        r.register("aiops_watch_incidents", "Incidents confirmed since start", self.incidents.clone());
        self
    }

    /// Publishes the state of one series after `scored` new points were taken in.
    pub fn record(&self, labels: &SeriesLabels, state: &SeriesState, scored: u64) {
        self.points.get_or_create(labels).inc_by(scored);
        let Some(Verdict { timestamp, scoring, .. }) = state.latest() else { return };
        self.anomaly_score.get_or_create(labels).set(-scoring.score);
        self.decision_score.get_or_create(labels).set(scoring.decision);
        self.anomaly.get_or_create(labels).set(i64::from(scoring.is_anomalous()));
        self.anomalies_last_hour.get_or_create(labels).set(count(state.anomalies_last_hour()));
        self.points_last_hour.get_or_create(labels).set(count(state.points_last_hour()));
        self.anomaly_rate.get_or_create(labels).set(state.anomaly_rate().unwrap_or(0.0));
        self.last_point_timestamp.get_or_create(labels).set(timestamp);
    }

    /// Publishes whether an incident is open, counting it when it has just been confirmed.
    pub fn record_incident(&self, labels: &SeriesLabels, open: bool, confirmed: u64) {
        self.incident_open.get_or_create(labels).set(i64::from(open));
        self.incidents.get_or_create(labels).inc_by(confirmed);
    }

    /// Counts a failed Prometheus query for the series.
    pub fn record_fetch_error(&self, labels: &SeriesLabels) {
        self.fetch_errors.get_or_create(labels).inc();
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

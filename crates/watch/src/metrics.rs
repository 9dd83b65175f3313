//! The Prometheus metrics `aiops watch` exports (OpenMetrics text on `/metrics`). The
//! PrometheusRule and the Grafana dashboards in `infra/k8s` query exactly these names.
//!
//! Per series (labels `instance`, `metric`), from the streaming detector of every series:
//! - `aiops_anomaly_score`: vmanomaly's scale, 0 normal and above 1 anomalous: the detector's
//!   surprise (`-log10` of the tail probability of the recent raw scores) divided by its
//!   threshold, so `> 1` exactly when the detector calls the point anomalous; a value leaving
//!   the range seen so far in one sudden step (a spatial anomaly) scores at least 2; 0 while the
//!   detector learns.
//! - `aiops_incident_open`: 1 while a confirmed incident is open, else 0.
//! - `aiops_incident_start_timestamp_seconds`: the onset of the open incident; the series exists
//!   only while an incident is open (absent, not 0, otherwise).
//! - `aiops_watch_points_total`, `aiops_watch_fetch_errors_total`,
//!   `aiops_watch_last_point_timestamp_seconds`, `aiops_watch_incident_open`,
//!   `aiops_watch_incidents_total`.
//!
//! Per series scored by a trained forest (`--model`, its metric only): `aiops_watch_anomaly_score`,
//! `aiops_watch_decision_score`, `aiops_watch_anomaly`, `aiops_watch_anomalies_last_hour`,
//! `aiops_watch_points_last_hour`, `aiops_watch_anomaly_rate`, and `aiops_watch_model_contamination`.
//!
//! Per replica: `aiops_watch_series`, `aiops_watch_instances`, `aiops_watch_shard`,
//! `aiops_watch_replicas`, `aiops_watch_queries_total`, `aiops_watch_discovery_errors_total`,
//! `aiops_watch_remote_write_errors_total`, `aiops_watch_instances_over_capacity`,
//! `aiops_watch_start_time_seconds`, and what the start made of the state file:
//! `aiops_watch_restored_series`, `aiops_watch_refused_series`, `aiops_watch_state_file_refused`
//! (all 0 on a first start, which has no state file yet).
//! The series of an instance that vanished are removed once its grace period is over.

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::checkpoint::Restored;
use crate::state::{SeriesState, Verdict};

/// Every exported metric name, for the cross-checks of dashboards and alerts. Counters carry
/// the `_total` suffix the OpenMetrics encoder adds.
pub const METRIC_NAMES: [&str; 27] = [
    "aiops_anomaly_score",
    "aiops_incident_open",
    "aiops_incident_start_timestamp_seconds",
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
    "aiops_watch_series",
    "aiops_watch_instances",
    "aiops_watch_shard",
    "aiops_watch_replicas",
    "aiops_watch_queries_total",
    "aiops_watch_discovery_errors_total",
    "aiops_watch_remote_write_errors_total",
    "aiops_watch_instances_over_capacity",
    "aiops_watch_start_time_seconds",
    "aiops_watch_restored_series",
    "aiops_watch_refused_series",
    "aiops_watch_state_file_refused",
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
    score: Family<SeriesLabels, FloatGauge>,
    open: Family<SeriesLabels, Gauge>,
    start: Family<SeriesLabels, FloatGauge>,
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
    series: Gauge,
    instances: Gauge,
    queries: Counter,
    discovery_errors: Counter,
    remote_write_errors: Counter,
    over_capacity: Gauge,
    restored_series: Gauge,
    refused_series: Gauge,
    state_file_refused: Gauge,
}

/// What the streaming detector made of a series' newest point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorState {
    /// [`crate::anomaly_score`] of the newest point.
    pub score: f64,
    /// The onset (unix seconds) of the confirmed incident in progress.
    pub incident_onset: Option<f64>,
    /// Unix time of the newest point.
    pub last_timestamp: f64,
}

impl WatchMetrics {
    /// Registers the metrics of shard `shard` of `replicas`; `contamination` is the trained
    /// contamination of the model, if any, exported beside the observed anomaly rate so drift
    /// can be alerted on.
    pub fn new(contamination: Option<f64>, shard: u32, replicas: u32) -> Self {
        let mut registry = Registry::default();
        if let Some(contamination) = contamination {
            let gauge = FloatGauge::default();
            gauge.set(contamination);
            registry.register(
                "aiops_watch_model_contamination",
                "Contamination the model was trained with: the anomaly rate it is expected to flag",
                gauge,
            );
        }
        let (shard_gauge, replicas_gauge) = (Gauge::<i64>::default(), Gauge::<i64>::default());
        shard_gauge.set(i64::from(shard));
        replicas_gauge.set(i64::from(replicas));
        registry.register("aiops_watch_shard", "This replica's shard index (0-based)", shard_gauge);
        registry.register("aiops_watch_replicas", "Number of shards the fleet is split into", replicas_gauge);
        let started = FloatGauge::default();
        started.set(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()));
        registry.register(
            "aiops_watch_start_time_seconds",
            "Unix time this replica started (what the restore gauges refer to)",
            started,
        );
        let metrics = Self {
            score: Family::default(),
            open: Family::default(),
            start: Family::default(),
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
            series: Gauge::default(),
            instances: Gauge::default(),
            queries: Counter::default(),
            discovery_errors: Counter::default(),
            remote_write_errors: Counter::default(),
            over_capacity: Gauge::default(),
            restored_series: Gauge::default(),
            refused_series: Gauge::default(),
            state_file_refused: Gauge::default(),
            registry,
        };
        metrics.register_detector_families().register_forest_families().register_fleet_metrics()
    }

    fn register_detector_families(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "aiops_anomaly_score",
            "Anomaly score of the newest point on vmanomaly's scale: 0 normal, above 1 anomalous (detector surprise / threshold)",
            self.score.clone(),
        );
        r.register("aiops_incident_open", "1 while a confirmed incident is open, else 0", self.open.clone());
        r.register(
            "aiops_incident_start_timestamp_seconds",
            "Unix time of the onset of the open incident (absent when none is open)",
            self.start.clone(),
        );
        r.register(
            "aiops_watch_last_point_timestamp_seconds",
            "Unix time of the newest point taken in",
            self.last_point_timestamp.clone(),
        );
        r.register("aiops_watch_points", "Points taken in since start", self.points.clone());
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

    fn register_forest_families(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "aiops_watch_anomaly_score",
            "Forest anomaly score of the newest point (scikit-learn's -score_samples, in (0, 1], higher is more abnormal)",
            self.anomaly_score.clone(),
        );
        r.register(
            "aiops_watch_decision_score",
            "Decision function of the newest point (score_samples - offset; negative means anomalous)",
            self.decision_score.clone(),
        );
        r.register(
            "aiops_watch_anomaly",
            "1 when the forest finds the newest point anomalous, else 0",
            self.anomaly.clone(),
        );
        r.register(
            "aiops_watch_anomalies_last_hour",
            "Points the forest flagged within the hour before the newest point",
            self.anomalies_last_hour.clone(),
        );
        r.register(
            "aiops_watch_points_last_hour",
            "Points the forest scored within the hour before the newest point",
            self.points_last_hour.clone(),
        );
        r.register(
            "aiops_watch_anomaly_rate",
            "Fraction of the last hour's points flagged anomalous (compare with aiops_watch_model_contamination)",
            self.anomaly_rate.clone(),
        );
        self
    }

    fn register_fleet_metrics(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "aiops_watch_series",
            "Series (instance, metric) this replica watches",
            self.series.clone(),
        );
        r.register("aiops_watch_instances", "Instances this replica watches", self.instances.clone());
        r.register("aiops_watch_queries", "Prometheus range queries sent since start", self.queries.clone());
        r.register(
            "aiops_watch_discovery_errors",
            "Failed discovery queries since start",
            self.discovery_errors.clone(),
        );
        r.register(
            "aiops_watch_remote_write_errors",
            "Failed remote writes since start",
            self.remote_write_errors.clone(),
        );
        r.register(
            "aiops_watch_instances_over_capacity",
            "Instances the last discovery found for this shard but could not watch (--max-instances reached)",
            self.over_capacity.clone(),
        );
        r.register(
            "aiops_watch_restored_series",
            "Series that continued from the state file at start (0 on a first start)",
            self.restored_series.clone(),
        );
        r.register(
            "aiops_watch_refused_series",
            "Saved instances and series the start could not use: they relearn from nothing (the log says why)",
            self.refused_series.clone(),
        );
        r.register(
            "aiops_watch_state_file_refused",
            "1 when the start could not use the state file at all: every series relearns (the log says why)",
            self.state_file_refused.clone(),
        );
        self
    }

    /// Publishes the detector's view of a series after `taken` new points, `confirmed` of which
    /// confirmed an incident.
    pub fn record_detector(&self, labels: &SeriesLabels, state: &DetectorState, taken: u64, confirmed: u64) {
        self.points.get_or_create(labels).inc_by(taken);
        self.incidents.get_or_create(labels).inc_by(confirmed);
        self.score.get_or_create(labels).set(state.score);
        self.last_point_timestamp.get_or_create(labels).set(state.last_timestamp);
        let open = i64::from(state.incident_onset.is_some());
        self.open.get_or_create(labels).set(open);
        self.incident_open.get_or_create(labels).set(open);
        if let Some(onset) = state.incident_onset {
            self.start.get_or_create(labels).set(onset);
        } else {
            self.start.remove(labels);
        }
    }

    /// Publishes the forest's view of a series.
    pub fn record_forest(&self, labels: &SeriesLabels, state: &SeriesState) {
        let Some(Verdict { scoring, .. }) = state.latest() else { return };
        self.anomaly_score.get_or_create(labels).set(-scoring.score);
        self.decision_score.get_or_create(labels).set(scoring.decision);
        self.anomaly.get_or_create(labels).set(i64::from(scoring.is_anomalous()));
        self.anomalies_last_hour.get_or_create(labels).set(count(state.anomalies_last_hour()));
        self.points_last_hour.get_or_create(labels).set(count(state.points_last_hour()));
        self.anomaly_rate.get_or_create(labels).set(state.anomaly_rate().unwrap_or(0.0));
    }

    /// Counts a failed Prometheus query for the series.
    pub fn record_fetch_error(&self, labels: &SeriesLabels) {
        self.fetch_errors.get_or_create(labels).inc();
    }

    /// Counts range queries sent.
    pub fn record_queries(&self, queries: u64) {
        self.queries.inc_by(queries);
    }

    /// Counts a failed discovery query.
    pub fn record_discovery_error(&self) {
        self.discovery_errors.inc();
    }

    /// Counts a failed remote write.
    pub fn record_remote_write_error(&self) {
        self.remote_write_errors.inc();
    }

    /// Sets how many discovered instances the last discovery could not watch (the replica was
    /// full).
    pub fn record_over_capacity(&self, instances: usize) {
        self.over_capacity.set(count(instances));
    }

    /// Publishes what the start made of the state file: `None` when the file could not be used
    /// at all, else how many series it restored and how many saved entries it refused.
    pub fn record_restore(&self, restored: Option<&Restored>) {
        self.state_file_refused.set(i64::from(restored.is_none()));
        self.restored_series.set(count(restored.map_or(0, |r| r.series)));
        self.refused_series.set(count(restored.map_or(0, |r| r.refused.len())));
    }

    /// Publishes how many instances and series this replica watches.
    pub fn record_fleet(&self, instances: usize, series: usize) {
        self.instances.set(count(instances));
        self.series.set(count(series));
    }

    /// Removes every series of `labels` (an instance that vanished).
    pub fn forget(&self, labels: &SeriesLabels) {
        for family in
            [&self.score, &self.start, &self.anomaly_score, &self.decision_score, &self.anomaly_rate]
                .into_iter()
                .chain([&self.last_point_timestamp])
        {
            family.remove(labels);
        }
        for family in [
            &self.open,
            &self.anomaly,
            &self.anomalies_last_hour,
            &self.points_last_hour,
            &self.incident_open,
        ] {
            family.remove(labels);
        }
        for family in [&self.points, &self.fetch_errors, &self.incidents] {
            family.remove(labels);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Scoring;

    #[test]
    fn the_start_time_is_when_the_metrics_were_created() {
        let now = || SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64();
        let before = now();
        let exposition = WatchMetrics::new(None, 0, 1).encode();
        let after = now();
        let line = exposition.lines().find_map(|l| l.strip_prefix("aiops_watch_start_time_seconds "));
        let started: f64 = line.and_then(|v| v.parse().ok()).expect("a start time");
        assert!((before..=after).contains(&started), "{started} not in [{before}, {after}]");
    }

    #[test]
    fn metric_names_lists_exactly_the_registered_metrics() {
        let metrics = WatchMetrics::new(Some(0.01), 0, 1);
        let labels = SeriesLabels { instance: "10.0.0.1:9100".into(), metric: "cpu".into() };
        let state = DetectorState { score: 2.0, incident_onset: Some(60.0), last_timestamp: 120.0 };
        metrics.record_detector(&labels, &state, 1, 1);
        metrics.record_fetch_error(&labels);
        let mut forest = SeriesState::new(aiops_features::FeatureSchema::reference().streaming());
        let scoring = Scoring { score: -0.5, decision: 0.1 };
        forest.push(120.0, 1.0, |_| Ok::<_, aiops_features::Error>(scoring)).expect("a point");
        metrics.record_forest(&labels, &forest);
        let exposition = metrics.encode();
        let mut registered: Vec<String> = exposition
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split_once(' '))
            .map(|(name, kind)| if kind == "counter" { format!("{name}_total") } else { name.to_owned() })
            .collect();
        registered.sort();
        let mut listed: Vec<String> = METRIC_NAMES.iter().map(|n| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(registered, listed);
        // The names the fleet's readers (fleet_status, rules, dashboard) query.
        for name in aiops_promclient::FLEET_METRIC_NAMES {
            assert!(METRIC_NAMES.contains(&name), "{name}");
        }
    }
}

//! The watch loop: every interval, discover the fleet's instances (with a selector), fetch each
//! metric's new points for all instances of the shard in one range query, push them through
//! each series' streaming detector (and the forest of the model's metric), publish.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aiops_artifacts::model::LoadedModel;
use aiops_features::FeatureSchema;
use aiops_iforest::{Contamination, Model};
use aiops_incidents::{CheckedDetectorParams, PointOutcome, StreamingDetector};
use aiops_promclient::{
    ClientConfig, Instance, InstancesQuery, LabelSelector, Metric, PromClient, RemoteWriter, Sample,
    TimeSeries,
};
use tracing::Instrument;

use crate::metrics::{DetectorState, SeriesLabels, WatchMetrics};
use crate::shard::Shard;
use crate::state::{Scoring, SeriesState};
use crate::{Error, Result};

/// Which instances to watch.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Fixed instances (`--instance`), never dropped.
    Instances(Vec<Instance>),
    /// Every instance whose `up` series the selector matches (`--job`, `--selector`),
    /// discovered every round; an instance no longer found is dropped after the grace period.
    Selector(LabelSelector),
}

/// What to watch and how often, unchecked; [`WatchParams::check`] validates it.
#[derive(Debug, Clone)]
pub struct WatchParams {
    /// How to reach Prometheus (URL, credentials, TLS, timeout, retries).
    pub prometheus: ClientConfig,
    /// The node-exporter instances, fixed or discovered.
    pub targets: Targets,
    /// The metrics of every instance (each (instance, metric) pair is a series with its own
    /// detector).
    pub metrics: Vec<Metric>,
    /// Time between two rounds of discovery, fetching and scoring.
    pub interval: Duration,
    /// Query resolution: the spacing of the points (a model is trained at one).
    pub step: Duration,
    /// History fetched at start-up and for a new instance (warms the detector up).
    pub lookback: Duration,
    /// How far behind wall-clock time scoring stays, so that every point's range window
    /// (`rate(...[5m])`) holds scraped samples rather than an extrapolated edge.
    pub delay: Duration,
    /// How long a discovered instance stays watched after discovery last found it.
    pub grace: Duration,
    /// Most instances this replica watches: discovery beyond it is refused, counted in
    /// `aiops_watch_instances_over_capacity` and logged, so that a selector matching far more
    /// nodes than planned cannot exhaust the replica's memory ([`MAX_INSTANCES`] by default).
    pub max_instances: usize,
    /// This replica's part of the fleet.
    pub shard: Shard,
    /// Most samples (instances times points) one range query asks for
    /// ([`SAMPLES_PER_QUERY`] unless testing).
    pub samples_per_query: usize,
    /// A remote-write receiver (`.../api/v1/write`) the fleet gauges of each round's new points
    /// are pushed to, besides `/metrics`.
    pub remote_write: Option<ClientConfig>,
}

/// [`WatchParams`] that passed [`WatchParams::check`].
#[derive(Debug, Clone)]
pub struct WatchConfig {
    params: WatchParams,
}

impl WatchConfig {
    /// The parameters, to change and check again.
    pub fn into_params(self) -> WatchParams {
        self.params
    }
}

impl WatchParams {
    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no or duplicate instances, no, duplicate or custom
    /// metrics, a zero or sub-second interval or step, a lookback shorter than a step, or a
    /// grace period shorter than the interval.
    pub fn check(self) -> Result<WatchConfig> {
        let invalid = |field, reason: String| Err(Error::InvalidParameter { field, reason });
        if let Targets::Instances(instances) = &self.targets {
            if instances.is_empty() {
                return invalid("instances", "at least one instance is needed".into());
            }
            if let Some(twice) = instances.iter().enumerate().find(|(i, x)| instances[..*i].contains(x)) {
                return invalid("instances", format!("{} is listed twice", twice.1));
            }
        }
        if self.metrics.is_empty() {
            return invalid("metrics", "at least one metric is needed".into());
        }
        for (i, metric) in self.metrics.iter().enumerate() {
            if self.metrics[..i].iter().any(|m| m.name() == metric.name()) {
                return invalid("metrics", format!("{} is listed twice", metric.name()));
            }
            if matches!(metric, Metric::Custom { .. }) {
                return invalid(
                    "metrics",
                    "custom templates cannot be watched: use cpu, memory, disk, network".into(),
                );
            }
        }
        for (field, value) in [("interval", self.interval), ("step", self.step)] {
            if value < Duration::from_secs(1) || value.subsec_nanos() != 0 {
                return invalid(field, format!("{value:?} is not a whole number of seconds of at least 1 s"));
            }
        }
        if self.lookback < self.step {
            return invalid(
                "lookback",
                format!("{:?} is shorter than the step {:?}", self.lookback, self.step),
            );
        }
        if self.samples_per_query == 0 {
            return invalid("samples_per_query", "must be at least 1".into());
        }
        if self.max_instances == 0 {
            return invalid("max_instances", "must be at least 1".into());
        }
        if self.grace < self.interval {
            return invalid(
                "grace",
                format!("{:?} is shorter than the interval {:?}", self.grace, self.interval),
            );
        }
        Ok(WatchConfig { params: self })
    }
}

/// The trained forest and the metric it scores.
#[derive(Debug)]
struct Forest {
    model: Model,
    /// For each model column, its position in the feature row.
    positions: Vec<usize>,
    schema: FeatureSchema,
    /// Index of the metric in [`WatchParams::metrics`].
    metric: usize,
}

impl Forest {
    fn score(&self, row: &[f64; 5]) -> Result<Scoring> {
        let _span = tracing::debug_span!("model.score").entered();
        let input: Vec<f64> = self.positions.iter().map(|&p| row[p]).collect();
        let score = self.model.forest.score_row(&input).map_err(Error::Model)?;
        Ok(Scoring { score, decision: score - self.model.forest.offset() })
    }
}

/// One watched series and its streaming state.
#[derive(Debug, Clone)]
pub(crate) struct WatchedSeries {
    pub(crate) labels: SeriesLabels,
    pub(crate) detector: StreamingDetector,
    /// The forest's state, for the model's metric.
    forest: Option<SeriesState>,
    /// The newest point taken in: the next fetch starts one step later.
    pub(crate) last_timestamp: Option<f64>,
    /// [`anomaly_score`] of the newest point.
    pub(crate) score: f64,
}

/// One watched instance: a series per metric.
#[derive(Debug, Clone)]
pub(crate) struct WatchedInstance {
    pub(crate) instance: Instance,
    /// When discovery last found it (data time); infinite for a fixed instance.
    pub(crate) last_seen: f64,
    pub(crate) series: Vec<WatchedSeries>,
}

/// What one round did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// New points taken in, over all series.
    pub scored: u64,
    /// Series whose fetch failed.
    pub failed: usize,
    /// Range queries sent.
    pub queries: usize,
    /// Instances discovery added.
    pub joined: usize,
    /// Instances dropped after their grace period.
    pub left: usize,
    /// Whether discovery failed (nothing was added or dropped then).
    pub discovery_failed: bool,
    /// Samples pushed by remote write.
    pub pushed: usize,
}

/// Watches a fleet: one streaming detector per series, optionally a forest for one metric,
/// and their metrics kept up to date.
#[derive(Debug)]
pub struct Watcher {
    forest: Option<Forest>,
    client: PromClient,
    pub(crate) config: WatchParams,
    pub(crate) detector: CheckedDetectorParams,
    pub(crate) instances: BTreeMap<String, WatchedInstance>,
    metrics: Arc<WatchMetrics>,
    writer: Option<RemoteWriter>,
    /// The series (instance, metric index) that took points in during this round.
    fresh: Vec<(String, usize)>,
}

impl Watcher {
    /// A watcher for `config`, scoring the model's metric with `model` when given.
    ///
    /// A model scores exactly one metric: the one whose value column it was trained on (its
    /// recorded feature schema, else its first feature column), which must be among the watched
    /// metrics; the other metrics have the detector only.
    ///
    /// # Errors
    /// [`Error::ModelMetric`] when the model was trained on none of the watched metrics,
    /// [`Error::ModelFeatures`] or [`Error::Model`] when its features are not those of the metric
    /// (another schema or window), [`Error::Prometheus`] for an unusable client configuration.
    pub fn new(config: WatchConfig, model: Option<LoadedModel>) -> Result<Self> {
        let params = config.params;
        let forest = model.map(|loaded| forest_for(&params.metrics, loaded)).transpose()?;
        let contamination = forest.as_ref().map(|f| expected_anomaly_rate(&f.model));
        let metrics = Arc::new(WatchMetrics::new(contamination, params.shard.index(), params.shard.count()));
        let client = PromClient::new(params.prometheus.clone()).map_err(Error::Prometheus)?;
        let writer =
            params.remote_write.clone().map(RemoteWriter::new).transpose().map_err(Error::Prometheus)?;
        let mut watcher = Self {
            writer,
            fresh: Vec::new(),
            forest,
            client,
            detector: CheckedDetectorParams::default(),
            instances: BTreeMap::new(),
            metrics,
            config: params,
        };
        if let Targets::Instances(fixed) = &watcher.config.targets {
            for instance in fixed.clone() {
                if watcher.config.shard.owns(instance.as_str()) {
                    let watched = watcher.fresh_instance(instance, f64::INFINITY);
                    watcher.instances.insert(watched.instance.to_string(), watched);
                }
            }
        }
        watcher.metrics.record_fleet(watcher.instances.len(), watcher.series_count());
        Ok(watcher)
    }

    /// The exported metrics (shared with the HTTP server).
    pub fn metrics(&self) -> Arc<WatchMetrics> {
        Arc::clone(&self.metrics)
    }

    /// The instances this replica watches, sorted.
    pub fn instances(&self) -> Vec<&str> {
        self.instances.keys().map(String::as_str).collect()
    }

    fn series_count(&self) -> usize {
        self.instances.len() * self.config.metrics.len()
    }

    /// A newly watched instance: a fresh detector (and forest state) per metric.
    pub(crate) fn fresh_instance(&self, instance: Instance, last_seen: f64) -> WatchedInstance {
        let series = self
            .config
            .metrics
            .iter()
            .enumerate()
            .map(|(m, metric)| WatchedSeries {
                labels: SeriesLabels { instance: instance.to_string(), metric: metric.name().to_owned() },
                detector: StreamingDetector::new(&self.detector),
                forest: self
                    .forest
                    .as_ref()
                    .filter(|f| f.metric == m)
                    .map(|f| SeriesState::new(f.schema.streaming())),
                last_timestamp: None,
                score: 0.0,
            })
            .collect();
        WatchedInstance { instance, last_seen, series }
    }

    /// One round at wall-clock time `now` (unix seconds): discovers the instances (with a
    /// selector), fetches every metric's points newer than those already taken in, pushes them
    /// through the detectors and publishes. A failed query is logged and counted
    /// (`aiops_watch_fetch_errors_total` for each of its series) and retried next round; it
    /// does not stop the others.
    pub async fn round(&mut self, now: f64) -> Round {
        let mut round = Round::default();
        let wall_clock = now;
        let now = now - self.config.delay.as_secs_f64();
        if let Targets::Selector(selector) = &self.config.targets {
            let selector = selector.clone();
            self.discover(&selector, now, &mut round).instrument(tracing::info_span!("watch.discover")).await;
        }
        for metric in 0..self.config.metrics.len() {
            self.fetch_metric(metric, now, &mut round).await;
        }
        self.push(wall_clock, &mut round).await;
        self.metrics.record_queries(round.queries as u64);
        self.metrics.record_fleet(self.instances.len(), self.series_count());
        round
    }

    /// Adds the shard's instances discovery finds at `now`, drops those it has not found for
    /// the grace period. A failed discovery changes nothing.
    async fn discover(&mut self, selector: &LabelSelector, now: f64, round: &mut Round) {
        let found = match self.client.discover_instances(selector, now).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %aiops_text::error_chain(&error), "discovering instances failed");
                self.metrics.record_discovery_error();
                round.discovery_failed = true;
                return;
            }
        };
        let mut refused = Vec::new();
        let mut over_capacity = 0;
        for label in found {
            let instance = match Instance::parse(&label) {
                Ok(instance) => instance,
                Err(_) => {
                    refused.push(label);
                    continue;
                }
            };
            if !self.config.shard.owns(instance.as_str()) {
                continue;
            }
            if let Some(watched) = self.instances.get_mut(&label) {
                watched.last_seen = now;
            } else if self.instances.len() >= self.config.max_instances {
                over_capacity += 1;
            } else {
                tracing::info!(%instance, "instance discovered");
                let watched = self.fresh_instance(instance, now);
                self.instances.insert(label, watched);
                round.joined += 1;
            }
        }
        self.metrics.record_over_capacity(over_capacity);
        if over_capacity > 0 {
            tracing::warn!(
                over_capacity,
                max_instances = self.config.max_instances,
                "discovered instances not watched: this replica is full (raise --max-instances or add replicas)"
            );
        }
        if let Some(first) = refused.first() {
            tracing::warn!(count = refused.len(), first = %aiops_text::bounded(first), "ignoring instance labels that are not ip:port nor host:port");
        }
        let horizon = now - self.config.grace.as_secs_f64();
        let gone: Vec<String> =
            self.instances.iter().filter(|(_, w)| w.last_seen < horizon).map(|(k, _)| k.clone()).collect();
        for key in gone {
            if let Some(watched) = self.instances.remove(&key) {
                tracing::info!(instance = %watched.instance, "instance gone for the grace period: no longer watched");
                watched.series.iter().for_each(|series| self.metrics.forget(&series.labels));
                round.left += 1;
            }
        }
    }

    /// Fetches metric `m` up to `now` for every instance: one range query for the instances
    /// that are caught up (their next point is the same), one more for those that are behind
    /// (new, or without data lately) from their earliest start. The instances go in an
    /// `instance=~` matcher (split only when the regex would be too long), except for the
    /// caught-up ones of a single shard watching a selector, which the selector alone picks.
    async fn fetch_metric(&mut self, m: usize, now: f64, round: &mut Round) {
        let step = self.config.step.as_secs_f64();
        let floor = now - self.config.lookback.as_secs_f64();
        let start_of =
            |w: &WatchedInstance| w.series[m].last_timestamp.map_or(floor, |t| (t + step).max(floor));
        let Some(newest) = self.instances.values().map(start_of).max_by(f64::total_cmp) else { return };
        let (caught_up, behind): (Vec<&WatchedInstance>, Vec<&WatchedInstance>) =
            self.instances.values().partition(|w| start_of(w) == newest);
        let oldest = behind.iter().map(|w| start_of(w)).min_by(f64::total_cmp).unwrap_or(newest);
        let groups: Vec<(Vec<Instance>, f64)> = [(caught_up, newest), (behind, oldest)]
            .into_iter()
            .filter(|(group, start)| !group.is_empty() && *start < now)
            .map(|(group, start)| (group.iter().map(|w| w.instance.clone()).collect(), start))
            .collect();
        let selector = match &self.config.targets {
            Targets::Selector(selector) => Some(selector.clone()),
            Targets::Instances(_) => None,
        };
        let metric = self.config.metrics[m].clone();
        // A single shard watching a selector's whole fleet needs no instance matcher for the
        // caught-up instances: the selector picks them (extra series are ignored).
        let whole_fleet = self.config.shard.count() == 1 && selector.is_some();
        for (i, (instances, start)) in groups.iter().enumerate() {
            let built = match &selector {
                Some(selector) if whole_fleet && i == 0 => metric
                    .selector_query(selector)
                    .map(|query| vec![InstancesQuery { query, instances: instances.as_slice() }]),
                _ => metric.fleet_queries(selector.as_ref(), instances),
            };
            let queries = match built {
                Ok(queries) => queries,
                Err(error) => {
                    // Custom metrics are refused by `check`: unreachable, but never a panic.
                    tracing::error!(error = %error, "cannot build the fleet query");
                    continue;
                }
            };
            for query in queries {
                self.fetch_in_pieces(m, &query, *start, now, round).await;
            }
        }
    }

    /// Runs `query` over `[start, now]` in consecutive windows of at most
    /// [`WatchParams::samples_per_query`] samples over all its instances (a new fleet's lookback would
    /// otherwise arrive as one huge answer), taking each in before asking for the next. Stops at
    /// the first failure: the next round resumes after the last point taken in.
    async fn fetch_in_pieces(
        &mut self,
        m: usize,
        query: &InstancesQuery<'_>,
        start: f64,
        now: f64,
        round: &mut Round,
    ) {
        let step = self.config.step.as_secs_f64();
        let points = (self.config.samples_per_query / query.instances.len().max(1)).max(1) as f64;
        let mut from = (start / step).ceil() * step;
        while from <= now {
            let to = (from + (points - 1.0) * step).min(now);
            round.queries += 1;
            let metric = self.config.metrics[m].name();
            let span = tracing::info_span!(
                "watch.query",
                metric,
                instances = query.instances.len(),
                start = from,
                end = to
            );
            let fetched = self
                .client
                // A window needs two ends; half a second holds no other step (whole seconds).
                .query_range_by_instance(&query.query, from, to.max(from + 0.5), self.config.step)
                .instrument(span)
                .await;
            if !self.take_in(m, query.instances, fetched, round) {
                return;
            }
            from = to + step;
        }
    }

    /// Pushes the fleet gauges of the series that took points in this round to the remote-write
    /// receiver, if any, stamped with the round's wall-clock time `at` (as a scrape of
    /// `/metrics` would be). A failure is logged and counted.
    async fn push(&mut self, at: f64, round: &mut Round) {
        let fresh = std::mem::take(&mut self.fresh);
        let Some(writer) = &self.writer else { return };
        let mut series = Vec::with_capacity(3 * fresh.len());
        for (key, m) in fresh {
            let Some(watched) = self.instances.get(&key) else { continue };
            series.extend(remote_series(&watched.series[m], at));
        }
        if series.is_empty() {
            return;
        }
        match writer.write(&series).instrument(tracing::info_span!("watch.remote_write")).await {
            Ok(written) => round.pushed += written.samples,
            Err(error) => {
                tracing::warn!(error = %aiops_text::error_chain(&error), "remote write failed");
                self.metrics.record_remote_write_error();
            }
        }
    }

    /// Pushes a query's result into the series of metric `m` of `instances`; false when the
    /// query failed (counted for each series).
    fn take_in(
        &mut self,
        m: usize,
        instances: &[Instance],
        fetched: aiops_promclient::Result<BTreeMap<String, Vec<Sample>>>,
        round: &mut Round,
    ) -> bool {
        let threshold = self.detector.params().threshold;
        match fetched {
            Ok(mut by_instance) => {
                for instance in instances {
                    let Some(watched) = self.instances.get_mut(instance.as_str()) else { continue };
                    let samples = by_instance.remove(instance.as_str()).unwrap_or_default();
                    let series = &mut watched.series[m];
                    let taken =
                        take_samples(series, self.forest.as_ref(), threshold, &samples, &self.metrics);
                    if taken > 0 {
                        self.fresh.push((instance.to_string(), m));
                    }
                    round.scored += taken;
                }
                true
            }
            Err(error) => {
                tracing::warn!(metric = self.config.metrics[m].name(), instances = instances.len(), error = %aiops_text::error_chain(&error), "fetching from Prometheus failed");
                for instance in instances {
                    if let Some(watched) = self.instances.get(instance.as_str()) {
                        self.metrics.record_fetch_error(&watched.series[m].labels);
                        round.failed += 1;
                    }
                }
                false
            }
        }
    }
}

/// The forest of `loaded` for the watched metric whose value column it was trained on.
fn forest_for(metrics: &[Metric], loaded: LoadedModel) -> Result<Forest> {
    let column = match &loaded.schema {
        Some(schema) => schema.columns.first(),
        None => loaded.model.metadata.feature_names.first(),
    }
    .cloned()
    .unwrap_or_default();
    let Some(metric) = metrics.iter().position(|m| m.value_column() == column) else {
        return Err(Error::ModelMetric {
            column,
            watched: metrics.iter().map(|m| m.value_column().to_owned()).collect::<Vec<_>>().join(", "),
        });
    };
    let schema = loaded
        .schema
        .clone()
        .unwrap_or_else(FeatureSchema::reference)
        .with_value_column(metrics[metric].value_column())?;
    loaded.check_features(&schema)?;
    let model = loaded.model;
    let positions = model.column_positions(&schema.columns).map_err(Error::Model)?;
    Ok(Forest { model, positions, schema, metric })
}

/// Pushes `samples` newer than the series' newest point through its forest (if any) and its
/// detector, then publishes; returns how many were taken in. A point the forest refuses is
/// logged and still goes to the detector.
fn take_samples(
    series: &mut WatchedSeries,
    forest: Option<&Forest>,
    threshold: f64,
    samples: &[Sample],
    metrics: &WatchMetrics,
) -> u64 {
    let (mut taken, mut confirmed) = (0, 0);
    for sample in samples {
        if series.last_timestamp.is_some_and(|last| sample.timestamp <= last) {
            continue;
        }
        if let (Some(state), Some(forest)) = (series.forest.as_mut(), forest)
            && let Err(error) = state.push(sample.timestamp, sample.value, |row| forest.score(row))
        {
            tracing::warn!(series = ?series.labels, timestamp = sample.timestamp, error = %error, "point not scored by the forest");
        }
        let outcome = series.detector.push(sample.timestamp, sample.value);
        series.score = anomaly_score(&outcome, threshold);
        series.last_timestamp = Some(sample.timestamp);
        taken += 1;
        if let Some(incident) = outcome.events.alert {
            confirmed += 1;
            tracing::warn!(
                instance = %series.labels.instance,
                metric = %series.labels.metric,
                onset = incident.onset,
                peak_value = incident.peak_value,
                severity = ?incident.severity,
                "anomalous behaviour confirmed"
            );
        }
    }
    publish(series, metrics, taken, confirmed);
    taken
}

/// The remote-write series of a series' newest point: `aiops_anomaly_score`,
/// `aiops_incident_open` and, while an incident is open, `aiops_incident_start_timestamp_seconds`,
/// labelled `job="aiops-watch"`, `instance` and `metric`, at `timestamp`.
fn remote_series(series: &WatchedSeries, timestamp: f64) -> Vec<TimeSeries> {
    let onset = series.detector.open_incident().map(|incident| incident.onset);
    let gauges = [
        ("aiops_anomaly_score", Some(series.score)),
        ("aiops_incident_open", Some(if onset.is_some() { 1.0 } else { 0.0 })),
        ("aiops_incident_start_timestamp_seconds", onset),
    ];
    gauges
        .into_iter()
        .filter_map(|(name, value)| {
            value.map(|value| TimeSeries {
                name: name.to_owned(),
                labels: vec![
                    ("instance".to_owned(), series.labels.instance.clone()),
                    ("job".to_owned(), "aiops-watch".to_owned()),
                    ("metric".to_owned(), series.labels.metric.clone()),
                ],
                samples: vec![Sample { timestamp, value }],
            })
        })
        .collect()
}

/// Publishes a series' state (nothing before its first point).
pub(crate) fn publish(series: &WatchedSeries, metrics: &WatchMetrics, taken: u64, confirmed: u64) {
    let Some(last_timestamp) = series.last_timestamp else { return };
    let state = DetectorState {
        score: series.score,
        incident_onset: series.detector.open_incident().map(|incident| incident.onset),
        last_timestamp,
    };
    metrics.record_detector(&series.labels, &state, taken, confirmed);
    if let Some(forest) = &series.forest {
        metrics.record_forest(&series.labels, forest);
    }
}

/// Most samples (instances times points) one range query asks for: a 10,000-instance shard's
/// hour of history at 10 s comes in 8 answers of about 15 MB instead of one of 400 MB.
pub const SAMPLES_PER_QUERY: usize = 500_000;

/// Default of [`WatchParams::max_instances`]: 20,000 nodes, 80,000 series of the four metrics
/// (25,000 nodes measured 8.4 % of a core and 638 MiB peak in a release build, benches/README.md).
pub const MAX_INSTANCES: usize = 20_000;

/// The score a spatial anomaly (a value leaving the range seen so far) gets at least.
pub const SPATIAL_SCORE: f64 = 2.0;

/// A point's anomaly score on vmanomaly's scale (0 normal, above 1 anomalous): the detector's
/// surprise divided by its `threshold`, at least [`SPATIAL_SCORE`] for a spatial anomaly, 0 while
/// the detector is learning (its decision is NaN then). Above 1 exactly when the detector's
/// decision is below 0.
pub fn anomaly_score(outcome: &PointOutcome, threshold: f64) -> f64 {
    if outcome.decision.is_nan() {
        return 0.0;
    }
    let score = (outcome.surprise / threshold).max(0.0);
    if outcome.spatial { score.max(SPATIAL_SCORE) } else { score }
}

/// The anomaly rate the model was trained to flag: its contamination, or for `auto` the share
/// of training points it flagged.
pub fn expected_anomaly_rate(model: &Model) -> f64 {
    match model.metadata.params.contamination {
        Contamination::Fraction(fraction) => fraction,
        Contamination::Auto => model.metadata.training.anomalies_percentage / 100.0,
    }
}

/// Where and how often the state is checkpointed (`--state-file`, `--checkpoint-interval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoints {
    /// The state file.
    pub path: std::path::PathBuf,
    /// Time between two checkpoints (one more is written at shutdown).
    pub interval: Duration,
}

/// Runs `watcher` until `shutdown` completes: the state restored from the checkpoint file if
/// there is one (an unusable file is logged and the watcher starts fresh), a round every
/// interval (the first at once), the metrics on `http://<listen>/metrics` served within `limits`
/// (see [`crate::server::limits`]), and the state checkpointed every checkpoint interval and at
/// shutdown.
///
/// # Errors
/// [`Error::Listen`] when `listen` cannot be bound, [`Error::Serve`] when the server fails.
pub async fn run(
    mut watcher: Watcher,
    listen: SocketAddr,
    checkpoints: Option<Checkpoints>,
    limits: aiops_serve::CheckedLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    if let Some(checkpoints) = &checkpoints {
        restore(&mut watcher, &checkpoints.path);
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Listen { addr: listen, source })?;
    let bound = listener.local_addr().map_err(|source| Error::Listen { addr: listen, source })?;
    tracing::info!(%bound, instances = watcher.instances.len(), shard = %watcher.config.shard, "serving metrics on /metrics");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = watcher.metrics();
    let server = tokio::spawn(async move {
        crate::server::serve(listener, metrics, &limits, async {
            let _ = stopped.await;
        })
        .await
    });
    let mut ticks = tokio::time::interval(watcher.config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = checkpoints.as_ref().map_or(Duration::from_secs(86_400), |c| c.interval);
    let mut saves = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    saves.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {
                let round = watcher.round(unix_now()).instrument(tracing::info_span!("watch.round")).await;
                tracing::debug!(scored = round.scored, failed = round.failed, queries = round.queries, "round done");
            }
            _ = saves.tick(), if checkpoints.is_some() => checkpoint(&watcher, checkpoints.as_ref()),
        }
    }
    checkpoint(&watcher, checkpoints.as_ref());
    let _ = stop.send(());
    server.await.map_err(Error::ServerTask)?
}

/// Restores the state file, if any; an unusable one is logged and the watcher starts fresh.
fn restore(watcher: &mut Watcher, path: &std::path::Path) {
    if !path.exists() {
        tracing::info!(path = %path.display(), "no state file yet: starting fresh");
        return;
    }
    match watcher.restore_state(path) {
        Ok(restored) if restored.refused.is_empty() => {
            tracing::info!(path = %path.display(), series = restored.series, "state restored");
        }
        Ok(restored) => {
            const SHOWN: usize = 10;
            let mut shown = restored.refused[..restored.refused.len().min(SHOWN)].join("; ");
            if restored.refused.len() > SHOWN {
                shown.push_str(&format!("; and {} more", restored.refused.len() - SHOWN));
            }
            tracing::warn!(
                path = %path.display(),
                series = restored.series,
                refused = restored.refused.len(),
                "state restored but for saved series that start fresh: {shown}"
            );
        }
        Err(error) => tracing::warn!(error = %error, "starting fresh; the next checkpoint replaces the file"),
    }
}

fn checkpoint(watcher: &Watcher, checkpoints: Option<&Checkpoints>) {
    let Some(checkpoints) = checkpoints else { return };
    let _span = tracing::info_span!("watch.checkpoint").entered();
    let path = checkpoints.path.display();
    if let Err(error) = watcher.save_state(&checkpoints.path) {
        tracing::error!(%path, error = %aiops_text::error_chain(&error), "checkpointing the state failed");
    } else {
        tracing::debug!(%path, "state checkpointed");
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

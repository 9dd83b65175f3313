//! The watch loop: every interval, fetch each series' new points, score them, publish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aiops_artifacts::model::LoadedModel;
use aiops_features::FeatureSchema;
use aiops_iforest::{Contamination, Model};
use aiops_incidents::{CheckedDetectorParams, StreamingDetector};
use aiops_promclient::{ClientConfig, Instance, Metric, PromClient};
use tracing::Instrument;

use crate::metrics::{SeriesLabels, WatchMetrics};
use crate::state::{Scoring, SeriesState};
use crate::{Error, Result};

/// What to watch and how often, unchecked; [`WatchParams::check`] validates it.
#[derive(Debug, Clone)]
pub struct WatchParams {
    /// How to reach Prometheus (URL, credentials, TLS, timeout, retries).
    pub prometheus: ClientConfig,
    /// The node-exporter instances (`IP:PORT`) to score.
    pub instances: Vec<Instance>,
    /// The metric of every instance.
    pub metric: Metric,
    /// Time between two rounds of fetching and scoring.
    pub interval: Duration,
    /// Query resolution: the spacing of the scored points (the model was trained at one).
    pub step: Duration,
    /// History fetched and scored at start-up (fills the last-hour window and the features).
    pub lookback: Duration,
    /// How far behind wall-clock time scoring stays, so that every scored point's range
    /// window (`rate(...[5m])`) holds scraped samples rather than an extrapolated edge.
    pub delay: Duration,
}

/// [`WatchParams`] that passed [`WatchParams::check`].
#[derive(Debug, Clone)]
pub struct WatchConfig {
    params: WatchParams,
}

impl WatchParams {
    /// Validates every field, naming the first bad one.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no or duplicate instances, a zero or sub-second interval or
    /// step, or a lookback shorter than a step.
    pub fn check(self) -> Result<WatchConfig> {
        let invalid = |field, reason: String| Err(Error::InvalidParameter { field, reason });
        if self.instances.is_empty() {
            return invalid("instances", "at least one instance is needed".into());
        }
        for (i, instance) in self.instances.iter().enumerate() {
            if self.instances[..i].contains(instance) {
                return invalid("instances", format!("{instance} is listed twice"));
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
        Ok(WatchConfig { params: self })
    }
}

/// One watched series and its streaming state.
#[derive(Debug)]
struct WatchedSeries {
    instance: Instance,
    labels: SeriesLabels,
    state: SeriesState,
    incidents: StreamingDetector,
    /// Start of the next fetch: one step after the newest point, or the lookback while the
    /// series has no point yet.
    next_start: Option<f64>,
}

/// What one round did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// New points scored, over all series.
    pub scored: u64,
    /// Series whose fetch failed.
    pub failed: usize,
}

/// Scores the configured series with one model and keeps their metrics up to date.
#[derive(Debug)]
pub struct Watcher {
    model: Model,
    /// For each model column, its position in the feature row.
    positions: Vec<usize>,
    client: PromClient,
    config: WatchParams,
    series: Vec<WatchedSeries>,
    metrics: Arc<WatchMetrics>,
}

impl Watcher {
    /// A watcher for `config` scoring with `model`.
    ///
    /// # Errors
    /// [`Error::ModelFeatures`] when the model was trained on features other than those of the watched
    /// metric (another schema, window or value column); [`Error::Prometheus`] for an unusable
    /// client configuration.
    pub fn new(config: WatchConfig, loaded: LoadedModel) -> Result<Self> {
        let schema = loaded
            .schema
            .clone()
            .unwrap_or_else(FeatureSchema::reference)
            .with_value_column(config.params.metric.value_column())?;
        loaded.check_features(&schema)?;
        let model = loaded.model;
        let positions = model.column_positions(&schema.columns).map_err(Error::Model)?;
        let metric_name = metric_label(&config.params.metric);
        let series = config
            .params
            .instances
            .iter()
            .map(|instance| WatchedSeries {
                instance: instance.clone(),
                labels: SeriesLabels { instance: instance.to_string(), metric: metric_name.clone() },
                state: SeriesState::new(schema.streaming()),
                incidents: StreamingDetector::new(&CheckedDetectorParams::default()),
                next_start: None,
            })
            .collect();
        let metrics = Arc::new(WatchMetrics::new(expected_anomaly_rate(&model)));
        let client = PromClient::new(config.params.prometheus.clone()).map_err(Error::Prometheus)?;
        Ok(Self { model, positions, client, config: config.params, series, metrics })
    }

    /// The exported metrics (shared with the HTTP server).
    pub fn metrics(&self) -> Arc<WatchMetrics> {
        Arc::clone(&self.metrics)
    }

    /// One round at wall-clock time `now` (unix seconds): fetches every series' points newer
    /// than those already scored, scores them and publishes. A failed fetch is logged and
    /// counted (`aiops_watch_fetch_errors_total`) and retried next round; it does not stop the
    /// others.
    pub async fn round(&mut self, now: f64) -> Round {
        let mut round = Round::default();
        let now = now - self.config.delay.as_secs_f64();
        let (step, lookback) = (self.config.step, self.config.lookback.as_secs_f64());
        for series in &mut self.series {
            let start = series.next_start.map_or(now - lookback, |next| next.max(now - lookback));
            if start >= now {
                continue;
            }
            let span = tracing::info_span!("watch.series", instance = %series.instance, start, end = now);
            let query = self.config.metric.query(&series.instance);
            let fetched = match query {
                Ok(query) => self.client.query_range(&query, start, now, step, None).instrument(span).await,
                Err(error) => Err(error),
            };
            match fetched {
                Ok(samples) => {
                    let (scored, confirmed) = score_samples(&self.model, &self.positions, series, &samples);
                    self.metrics.record(&series.labels, &series.state, scored);
                    let open = series.incidents.open_incident().is_some();
                    self.metrics.record_incident(&series.labels, open, confirmed);
                    round.scored += scored;
                    if let Some(last) = samples.last() {
                        series.next_start = Some(last.timestamp + step.as_secs_f64());
                    }
                }
                Err(error) => {
                    tracing::warn!(instance = %series.instance, error = %error, "fetching from Prometheus failed");
                    self.metrics.record_fetch_error(&series.labels);
                    round.failed += 1;
                }
            }
        }
        round
    }
}

/// Pushes `samples` through the series' features, the forest and the incident tracker; returns
/// how many were scored and how many incidents they confirmed. A point the forest refuses is
/// logged and skipped.
fn score_samples(
    model: &Model,
    positions: &[usize],
    series: &mut WatchedSeries,
    samples: &[aiops_promclient::Sample],
) -> (u64, u64) {
    let (mut scored, mut confirmed) = (0, 0);
    for sample in samples {
        let verdict =
            series.state.push(sample.timestamp, sample.value, |row| score_row(model, positions, row));
        match verdict {
            Ok(Some(verdict)) => {
                scored += 1;
                let events = series.incidents.push(verdict.timestamp, verdict.value).events;
                if let Some(incident) = events.alert {
                    confirmed += 1;
                    tracing::warn!(
                        instance = %series.instance,
                        onset = incident.onset,
                        peak_value = incident.peak_value,
                        severity = ?incident.severity,
                        "anomalous behaviour confirmed"
                    );
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(instance = %series.instance, timestamp = sample.timestamp, error = %error, "point skipped");
            }
        }
    }
    (scored, confirmed)
}

fn score_row(model: &Model, positions: &[usize], row: &[f64; 5]) -> Result<Scoring> {
    let _span = tracing::debug_span!("model.score").entered();
    let input: Vec<f64> = positions.iter().map(|&p| row[p]).collect();
    let score = model.forest.score_row(&input).map_err(Error::Model)?;
    Ok(Scoring { score, decision: score - model.forest.offset() })
}

/// The anomaly rate the model was trained to flag: its contamination, or for `auto` the share
/// of training points it flagged.
pub fn expected_anomaly_rate(model: &Model) -> f64 {
    match model.metadata.params.contamination {
        Contamination::Fraction(fraction) => fraction,
        Contamination::Auto => model.metadata.training.anomalies_percentage / 100.0,
    }
}

/// The `metric` label of a catalogue metric: its value column without the unit suffix
/// (`cpu_usage` -> `cpu`), or the custom metric's column.
fn metric_label(metric: &Metric) -> String {
    let column = metric.value_column();
    column.strip_suffix("_usage").unwrap_or(column).to_owned()
}

/// Runs `watcher` until `shutdown` completes: a round every interval (the first at once) and
/// the metrics on `http://<listen>/metrics`.
///
/// # Errors
/// [`Error::Listen`] when `listen` cannot be bound, [`Error::Serve`] when the server fails.
pub async fn run(mut watcher: Watcher, listen: SocketAddr, shutdown: impl Future<Output = ()>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Listen { addr: listen, source })?;
    let bound = listener.local_addr().map_err(|source| Error::Listen { addr: listen, source })?;
    tracing::info!(%bound, series = watcher.series.len(), "serving metrics on /metrics");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::server::serve(listener, watcher.metrics(), async {
        let _ = stopped.await;
    }));
    let mut ticks = tokio::time::interval(watcher.config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {
                let round = watcher.round(unix_now()).instrument(tracing::info_span!("watch.round")).await;
                tracing::debug!(scored = round.scored, failed = round.failed, "round done");
            }
        }
    }
    let _ = stop.send(());
    server.await.map_err(Error::ServerTask)?
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

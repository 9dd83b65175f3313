//! What the tools do, independent of MCP: fetch a metric through `promclient`, compute the shared
//! features, score them (the configured model, or one trained on the window for metrics without
//! one), merge anomalies into periods with `aiops-incidents`, and explain single samples.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aiops_artifacts::model::schema_record;
use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForest, IsolationForestParams, Model};
use aiops_incidents::{CheckedDetectorParams, IncidentParams, Severity, detect};
use aiops_promclient::{FleetQuery, FleetStatus, Instance, Metric, PromClient, Series, TimeWindow};
use ndarray::Array2;

use crate::inference::{Inference, Scores, score_in_process};
use crate::metrics::Metrics;
use aiops_text::error_chain;

use crate::model_store::ModelStore;
use crate::report::{
    AnomalyPeriod, AnomalyReport, Explanation, FeatureContribution, FleetMetric, FleetNodeEntry, FleetReport,
    InstanceEntry, InstanceList, MAX_PERIODS, ModelUsed, ScoredPoint, SeverityLevel, ValueSummary, rfc3339,
};

/// The port appended to a bare IP, as the reference did (node-exporter's).
pub const NODE_EXPORTER_PORT: u16 = 9100;
/// Longest accepted `instance_ip` argument.
pub const MAX_INSTANCE_LEN: usize = 256;
/// Anomalous points listed by `query_prometheus_and_predict`.
pub const MAX_LISTED_POINTS: usize = 200;
/// Fewest samples an on-the-fly model is trained on.
pub const MIN_TRAINING_SAMPLES: usize = 30;
/// How far (in steps) the nearest sample may lie from the time `explain_anomaly` asks about.
const EXPLAIN_TOLERANCE_STEPS: f64 = 3.0;

/// A problem the caller (an LLM agent) can act on: returned as an `isError` tool result whose
/// text is [`ToolError::text`].
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    /// What went wrong, naming the bad argument when there is one.
    pub error: String,
    /// The argument at fault, if any.
    pub argument: Option<String>,
    /// Instances that do have data, when the one asked for has none.
    pub available_instances: Option<Vec<String>>,
    /// What to try instead.
    pub hint: Option<String>,
}

impl ToolError {
    /// An error about `argument`.
    pub fn argument(argument: &str, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            argument: Some(argument.to_owned()),
            available_instances: None,
            hint: None,
        }
    }

    /// An error not tied to one argument.
    pub fn other(error: impl Into<String>) -> Self {
        Self { error: error.into(), argument: None, available_instances: None, hint: None }
    }

    /// The same error with a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The error message (naming the argument at fault), then the instances with data and the
    /// hint, for the text content.
    pub fn text(&self) -> String {
        let mut text = match &self.argument {
            Some(argument) if !self.error.contains(&format!("`{argument}`")) => {
                format!("invalid argument `{argument}`: {}", self.error)
            }
            _ => self.error.clone(),
        };
        if let Some(instances) = &self.available_instances {
            let list = if instances.is_empty() { "none".to_owned() } else { instances.join(", ") };
            text.push_str(&format!("\nInstances with data: {list}"));
        }
        if let Some(hint) = &self.hint {
            text.push_str(&format!("\nHint: {hint}"));
        }
        text
    }

    fn from_prometheus(error: aiops_promclient::Error) -> Self {
        match error {
            aiops_promclient::Error::NoData { instance, window, available } => Self {
                error: format!("no data for instance `{instance}` in {window}"),
                argument: Some("instance_ip".into()),
                available_instances: Some(available),
                hint: Some("call list_instances, or pick one of the instances with data".into()),
            },
            aiops_promclient::Error::InvalidInstance { .. } => {
                Self::argument("instance_ip", error.to_string())
            }
            other => Self::other(format!("querying Prometheus failed: {}", error_chain(&other)))
                .with_hint("Prometheus may be unreachable; retry later"),
        }
    }
}

/// Reports how far a tool call has come: `(progress, total, message)`.
pub type ProgressFn = Arc<dyn Fn(f64, f64, String) + Send + Sync>;

/// The engine's fixed settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Regular expression on `job` selecting node-exporter instances for `list_instances`.
    pub job_matcher: String,
    /// Seconds between samples of every query.
    pub step: Duration,
    /// Upper bound of every `hours` argument.
    pub max_hours: u32,
}

/// Fetches, features, scores and explains.
#[derive(Debug)]
pub struct Engine {
    prometheus: PromClient,
    models: Arc<ModelStore>,
    inference: Inference,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
}

/// A scored series, for charts.
#[derive(Debug, Clone)]
pub struct ScoredSeries {
    /// Unix seconds.
    pub timestamps: Vec<f64>,
    /// Metric values.
    pub values: Vec<f64>,
    /// Indices of anomalous samples.
    pub anomalies: Vec<usize>,
}

impl Engine {
    /// An engine over a Prometheus client, the model store and an inference path, counting its
    /// Prometheus queries in `metrics`.
    pub fn new(
        prometheus: PromClient,
        models: Arc<ModelStore>,
        inference: Inference,
        settings: EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { prometheus, models, inference, settings, metrics }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Awaits a Prometheus request, recording its latency and whether it failed.
    async fn observed<T>(
        &self,
        query: impl Future<Output = aiops_promclient::Result<T>>,
    ) -> aiops_promclient::Result<T> {
        let started = std::time::Instant::now();
        let outcome = query.await;
        // An instance without data is an answer, not a failing Prometheus.
        let failed = outcome.as_ref().is_err_and(|e| {
            !matches!(
                e,
                aiops_promclient::Error::NoData { .. } | aiops_promclient::Error::InvalidInstance { .. }
            )
        });
        self.metrics.observe_prometheus_query(started.elapsed(), !failed);
        outcome
    }

    /// The model store.
    pub fn models(&self) -> &Arc<ModelStore> {
        &self.models
    }

    /// The inference path.
    pub fn inference(&self) -> &Inference {
        &self.inference
    }

    /// The fixed settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Checks an `hours` argument against 1..=max_hours.
    ///
    /// # Errors
    /// A [`ToolError`] naming `argument`.
    pub fn check_hours(&self, argument: &str, hours: i64) -> Result<u32, ToolError> {
        check_hours(argument, hours, self.settings.max_hours)
    }

    /// Anomalies of `metric` on `instance_ip` over the last `hours` hours.
    ///
    /// # Errors
    /// A [`ToolError`] for a bad argument, no data (listing instances that have some), or a
    /// failing Prometheus or inference server.
    pub async fn anomalies(
        &self,
        instance_ip: &str,
        metric_name: &str,
        hours: u32,
        list_points: bool,
        progress: &ProgressFn,
    ) -> Result<(AnomalyReport, ScoredSeries), ToolError> {
        let instance = parse_instance(instance_ip)?;
        let metric = Metric::parse(metric_name).map_err(|e| {
            ToolError::argument("metric", e.to_string()).with_hint("use one of: cpu, memory, disk, network")
        })?;
        let series = self.fetch(&instance, &metric, hours, progress).await?;
        let schema = FeatureSchema::reference()
            .with_value_column(&series.value_column)
            .map_err(|e| ToolError::other(e.to_string()))?;
        let features = compute_features(&schema, &series)?;
        progress(2.0, 4.0, format!("computed features of {} samples", series.values.len()));
        let mut notes = Vec::new();
        let (scores, model) = if metric == Metric::Cpu {
            let loaded = self.models.current();
            let scores = self
                .inference
                .score(&loaded.model, &schema.columns, features)
                .await
                .map_err(|e| ToolError::other(format!("scoring failed: {}", error_chain(&e))))?;
            let used = ModelUsed {
                kind: "configured".into(),
                inference: self.inference.describe(),
                digest: loaded.digest.clone(),
            };
            (scores, used)
        } else {
            let (scores, digest) = train_on_window(&schema, &features)?;
            notes.push(format!(
                "no model is configured for {metric_name}: an Isolation Forest with the reference parameters \
                 (100 trees, 256 samples, contamination 0.05, seed 42) was trained on this window itself, so \
                 about 5 % of its samples are flagged by construction; judge by the periods' peaks and severity"
            ));
            (scores, ModelUsed { kind: "trained_on_window".into(), inference: "in-process".into(), digest })
        };
        progress(3.0, 4.0, "scored".into());
        let report = build_report(
            &instance,
            metric_name,
            hours,
            self.settings.step,
            &series,
            &scores,
            model,
            notes,
            list_points,
        )?;
        let anomalies =
            scores.predict.iter().enumerate().filter(|(_, p)| **p == -1).map(|(i, _)| i).collect();
        progress(4.0, 4.0, format!("{} anomalous samples", report.anomaly_count));
        Ok((report, ScoredSeries { timestamps: series.timestamps, values: series.values, anomalies }))
    }

    async fn fetch(
        &self,
        instance: &Instance,
        metric: &Metric,
        hours: u32,
        progress: &ProgressFn,
    ) -> Result<Series, ToolError> {
        let window = TimeWindow::last(Duration::from_secs(u64::from(hours) * 3600));
        self.fetch_window(instance, metric, window, progress).await
    }

    async fn fetch_window(
        &self,
        instance: &Instance,
        metric: &Metric,
        window: TimeWindow,
        progress: &ProgressFn,
    ) -> Result<Series, ToolError> {
        progress(0.0, 4.0, format!("querying Prometheus for {instance}"));
        let report = |done: usize, total: usize| {
            progress(done as f64 / total.max(1) as f64, 4.0, format!("fetched {done} of {total} chunks"));
        };
        let span = tracing::info_span!("prometheus.query", instance = %instance, window = %window);
        let series = tracing::Instrument::instrument(
            self.observed(self.prometheus.fetch(instance, metric, window, self.settings.step, Some(&report))),
            span,
        )
        .await
        .map_err(ToolError::from_prometheus)?;
        progress(1.0, 4.0, format!("fetched {} samples", series.values.len()));
        Ok(series)
    }

    /// The instances Prometheus knows for the configured job matcher.
    ///
    /// # Errors
    /// A [`ToolError`] when Prometheus fails.
    pub async fn instances(&self) -> Result<InstanceList, ToolError> {
        let span = tracing::info_span!("prometheus.query", job_matcher = %self.settings.job_matcher);
        let instances = tracing::Instrument::instrument(
            self.observed(self.prometheus.list_instances(&self.settings.job_matcher)),
            span,
        )
        .await
        .map_err(ToolError::from_prometheus)?;
        let instances: Vec<InstanceEntry> = instances
            .into_iter()
            .map(|instance| {
                let ip = host_of(&instance).to_owned();
                InstanceEntry { instance, ip }
            })
            .collect();
        Ok(InstanceList { job_matcher: self.settings.job_matcher.clone(), count: instances.len(), instances })
    }

    /// The nodes anomalous now, read from the fleet's exported scores: the `limit` highest,
    /// optionally of one `metric`, with a score of at least `min_score`.
    ///
    /// # Errors
    /// A [`ToolError`] naming a bad argument, or for a failing Prometheus.
    pub async fn fleet(
        &self,
        limit: i64,
        metric: Option<&str>,
        min_score: f64,
    ) -> Result<FleetReport, ToolError> {
        self.fleet_status(&check_fleet(limit, metric, min_score)?).await
    }

    /// The nodes anomalous now that `query` asks about.
    ///
    /// # Errors
    /// A [`ToolError`] for a failing Prometheus.
    pub async fn fleet_status(&self, query: &FleetQuery) -> Result<FleetReport, ToolError> {
        let span = tracing::info_span!("prometheus.query", fleet = true);
        let status =
            tracing::Instrument::instrument(self.observed(self.prometheus.fleet_status(query)), span)
                .await
                .map_err(ToolError::from_prometheus)?;
        Ok(fleet_report(query, status))
    }

    /// Explains the CPU sample of `instance_ip` nearest to `unix` with the configured model.
    ///
    /// # Errors
    /// A [`ToolError`] for a bad argument, a time outside the allowed range or without a sample
    /// nearby, or a failing Prometheus.
    pub async fn explain(
        &self,
        instance_ip: &str,
        unix: f64,
        progress: &ProgressFn,
    ) -> Result<Explanation, ToolError> {
        let instance = parse_instance(instance_ip)?;
        let now = TimeWindow::last(Duration::from_secs(1)).end;
        let oldest = now - f64::from(self.settings.max_hours) * 3600.0;
        if !(oldest..=now).contains(&unix) {
            return Err(ToolError::argument(
                "timestamp",
                format!(
                    "`timestamp` {} is outside the last {} hours (from {} to now)",
                    rfc3339(unix),
                    self.settings.max_hours,
                    rfc3339(oldest)
                ),
            ));
        }
        let schema = FeatureSchema::reference();
        let step = self.settings.step.as_secs_f64();
        // The features of a sample depend only on the `window - 1` samples before it, so a short
        // window around the sample gives the same features as the whole series.
        let lead = step * (schema.window as f64 + EXPLAIN_TOLERANCE_STEPS + 2.0);
        let window = TimeWindow::new(unix - lead, (unix + step * EXPLAIN_TOLERANCE_STEPS).min(now))
            .map_err(|e| ToolError::argument("timestamp", e.to_string()))?;
        let series = self.fetch_window(&instance, &Metric::Cpu, window, progress).await?;
        let features = compute_features(&schema, &series)?;
        let (row, distance) = nearest(&series.timestamps, unix);
        if distance > step * EXPLAIN_TOLERANCE_STEPS {
            return Err(ToolError::argument(
                "timestamp",
                format!(
                    "no sample of {instance} within {} s of {}",
                    step * EXPLAIN_TOLERANCE_STEPS,
                    rfc3339(unix)
                ),
            )
            .with_hint(format!("the nearest sample is at {}", rfc3339(series.timestamps[row]))));
        }
        let loaded = self.models.current();
        let model = &loaded.model;
        let positions =
            model.column_positions(&schema.columns).map_err(|e| ToolError::other(e.to_string()))?;
        let values: Vec<f64> = positions.iter().map(|&p| features[[row, p]]).collect();
        let explained = model.forest.explain_row(&values).and_then(|shares| {
            Ok((shares, model.forest.decision_row(&values)?, model.forest.predict_row(&values)?))
        });
        let (shares, decision, predict) =
            explained.map_err(|e| ToolError::other(format!("scoring failed: {e}")))?;
        progress(4.0, 4.0, "explained".into());
        let mut contributions: Vec<FeatureContribution> = model
            .metadata
            .feature_names
            .iter()
            .zip(values.iter().zip(shares))
            .map(|(feature, (&value, contribution))| FeatureContribution {
                feature: feature.clone(),
                value,
                contribution,
            })
            .collect();
        contributions.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        let anomalous = predict == -1;
        Ok(Explanation {
            instance: instance.to_string(),
            requested_time: rfc3339(unix),
            sample_time: rfc3339(series.timestamps[row]),
            value: series.values[row],
            anomalous,
            decision,
            severity: if anomalous {
                Severity::of(decision, 1, IncidentParams::default().long_incident).into()
            } else {
                SeverityLevel::None
            },
            contributions,
            model_digest: loaded.digest.clone(),
        })
    }
}

/// Checks an `hours` argument (named `argument`) against `1..=max`.
///
/// # Errors
/// A [`ToolError`] naming `argument`.
pub fn check_hours(argument: &str, hours: i64, max: u32) -> Result<u32, ToolError> {
    u32::try_from(hours).ok().filter(|h| (1..=max).contains(h)).ok_or_else(|| {
        ToolError::argument(
            argument,
            format!("`{argument}` is {hours}, it must be an integer from 1 to {max}"),
        )
    })
}

/// Checks the arguments of `fleet_status`: `limit` 1 to 100, a known `metric`, `min_score`
/// finite and 0 or more.
///
/// # Errors
/// A [`ToolError`] naming the bad argument.
pub fn check_fleet(limit: i64, metric: Option<&str>, min_score: f64) -> Result<FleetQuery, ToolError> {
    let limit = usize::try_from(limit).unwrap_or(0);
    FleetQuery::new(limit, metric, min_score).map_err(|e| match e {
        aiops_promclient::Error::InvalidParameter { field, reason } => ToolError::argument(field, reason),
        other => ToolError::other(other.to_string()),
    })
}

/// Parses an `instance_ip` argument: a bare IP gets node-exporter's port (`10.0.1.244` ->
/// `10.0.1.244:9100`, `::1` -> `[::1]:9100`); everything is then validated by `promclient`
/// (which also escapes it in PromQL).
///
/// # Errors
/// A [`ToolError`] naming `instance_ip`, with a hint.
pub fn parse_instance(instance_ip: &str) -> Result<Instance, ToolError> {
    if instance_ip.len() > MAX_INSTANCE_LEN {
        return Err(ToolError::argument(
            "instance_ip",
            format!("`instance_ip` is {} bytes long, the limit is {MAX_INSTANCE_LEN}", instance_ip.len()),
        ));
    }
    let text = instance_ip.trim();
    let with_port = match text.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, NODE_EXPORTER_PORT).to_string(),
        Err(_) => text.to_owned(),
    };
    Instance::parse(&with_port).map_err(|e| {
        ToolError::argument("instance_ip", e.to_string()).with_hint(
            "pass an IP such as 10.0.1.244 or an instance such as 10.0.1.244:9100; list_instances lists them",
        )
    })
}

/// The host part of an `ip:port` instance label.
/// The tool's answer from promclient's: times as RFC 3339, the ip of each node, the earliest
/// open incident of each node.
fn fleet_report(query: &FleetQuery, status: FleetStatus) -> FleetReport {
    let nodes = status
        .nodes
        .into_iter()
        .map(|node| {
            let earliest = node.series.iter().filter_map(|s| s.incident_start).min_by(f64::total_cmp);
            let metrics: Vec<FleetMetric> = node
                .series
                .into_iter()
                .map(|s| FleetMetric {
                    metric: s.metric,
                    score: s.score,
                    incident_open: s.incident_start.is_some(),
                    incident_start: s.incident_start.map(rfc3339),
                    incident_start_unix: s.incident_start,
                })
                .collect();
            FleetNodeEntry {
                ip: host_of(&node.instance).to_owned(),
                metric: metrics.first().map(|m| m.metric.clone()).unwrap_or_default(),
                instance: node.instance,
                score: node.score,
                incident_start: earliest.map(rfc3339),
                metrics,
            }
        })
        .collect();
    FleetReport {
        evaluated_at: rfc3339(status.evaluated_at as f64),
        metric: query.metric().map(str::to_owned),
        min_score: query.min_score(),
        watched_series: status.watched_series,
        anomalous_nodes: status.anomalous_nodes,
        nodes,
    }
}

fn host_of(instance: &str) -> &str {
    let host = instance.rsplit_once(':').map_or(instance, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn compute_features(schema: &FeatureSchema, series: &Series) -> Result<Array2<f64>, ToolError> {
    let _span = tracing::info_span!("features.compute", rows = series.values.len()).entered();
    schema
        .compute(&series.timestamps, &series.values)
        .map_err(|e| ToolError::other(format!("computing features failed: {e}")))
}

/// Fits the reference forest on `features` and scores the same rows: for metrics without a
/// configured model. Returns the scores and the model's digest.
fn train_on_window(schema: &FeatureSchema, features: &Array2<f64>) -> Result<(Scores, String), ToolError> {
    if features.nrows() < MIN_TRAINING_SAMPLES {
        return Err(ToolError::argument(
            "hours",
            format!(
                "only {} samples in the window, {MIN_TRAINING_SAMPLES} are needed to train a model",
                features.nrows()
            ),
        )
        .with_hint("ask for more hours"));
    }
    let _span =
        tracing::info_span!("model.score", rows = features.nrows(), model = "trained_on_window").entered();
    let failed = |e: aiops_iforest::Error| ToolError::other(format!("training on the window failed: {e}"));
    let forest =
        IsolationForest::fit(&IsolationForestParams::reference(), features.view()).map_err(failed)?;
    let model = Model::new(forest, schema.columns.clone(), Some(schema_record(schema)), features.view())
        .map_err(failed)?;
    let scores = score_in_process(&model, features).map_err(|e| ToolError::other(e.to_string()))?;
    Ok((scores, model.digest()))
}

/// The row whose timestamp is nearest to `unix`, and the distance.
fn nearest(timestamps: &[f64], unix: f64) -> (usize, f64) {
    timestamps
        .iter()
        .map(|t| (t - unix).abs())
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::INFINITY))
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    instance: &Instance,
    metric: &str,
    hours: u32,
    step: Duration,
    series: &Series,
    scores: &Scores,
    model: ModelUsed,
    notes: Vec<String>,
    list_points: bool,
) -> Result<AnomalyReport, ToolError> {
    let (timestamps, values) = (&series.timestamps, &series.values);
    // the anomaly periods come from the one incident detector of every command; the forest's
    // per-point predictions stay the reference semantics of `anomaly_count` and the listed points
    let incidents = detect(&CheckedDetectorParams::default(), timestamps, values)
        .map_err(|e| ToolError::other(e.to_string()))?
        .incidents;
    let samples = values.len();
    let anomaly_count = scores.predict.iter().filter(|&&p| p == -1).count();
    let severity =
        incidents.iter().map(|i| SeverityLevel::from(i.severity)).max().unwrap_or(SeverityLevel::None);
    let anomalous_points = list_points.then(|| {
        let mut points: Vec<ScoredPoint> = (0..samples)
            .filter(|&i| scores.predict[i] == -1)
            .map(|i| ScoredPoint {
                time: rfc3339(timestamps[i]),
                unix: timestamps[i],
                value: values[i],
                decision: scores.decision[i],
            })
            .collect();
        let cut = points.len().saturating_sub(MAX_LISTED_POINTS);
        points.drain(..cut);
        points
    });
    Ok(AnomalyReport {
        instance: instance.to_string(),
        metric: metric.to_owned(),
        value_column: series.value_column.clone(),
        hours,
        step_seconds: step.as_secs(),
        window_start: timestamps.first().map_or_else(String::new, |t| rfc3339(*t)),
        window_end: timestamps.last().map_or_else(String::new, |t| rfc3339(*t)),
        samples,
        anomaly_count,
        anomaly_percentage: if samples == 0 { 0.0 } else { 100.0 * anomaly_count as f64 / samples as f64 },
        severity,
        period_count: incidents.len(),
        periods: most_severe_in_time_order(&incidents),
        values: summarize(values),
        model,
        anomalous_points,
        notes,
    })
}

/// At most [`MAX_PERIODS`] periods: the deepest ones (lowest peak decision), in time order.
fn most_severe_in_time_order(incidents: &[aiops_incidents::Incident]) -> Vec<AnomalyPeriod> {
    let mut chosen: Vec<&aiops_incidents::Incident> = incidents.iter().collect();
    chosen.sort_by(|a, b| a.peak_decision.total_cmp(&b.peak_decision));
    chosen.truncate(MAX_PERIODS);
    chosen.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    chosen.into_iter().map(AnomalyPeriod::from_incident).collect()
}

fn summarize(values: &[f64]) -> ValueSummary {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    ValueSummary { min, max, mean, last: values.last().copied().unwrap_or(f64::NAN) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ips_get_the_node_exporter_port() {
        let cases = [
            ("10.0.1.244", "10.0.1.244:9100"),
            (" 10.0.1.244 ", "10.0.1.244:9100"),
            ("10.0.1.244:9200", "10.0.1.244:9200"),
            ("::1", "[::1]:9100"),
            ("node-1.example.com:9100", "node-1.example.com:9100"),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_instance(input).unwrap().as_str(), expected, "{input}");
        }
    }

    #[test]
    fn injection_strings_and_oversized_instances_are_refused_naming_the_argument() {
        let long = "1".repeat(MAX_INSTANCE_LEN + 1);
        let cases = [
            r#"10.0.0.1:9100"} or vector(1) or {a=""#,
            "10.0.0.1:9100\"}",
            "10.0.0.1\n:9100",
            "",
            long.as_str(),
        ];
        for input in cases {
            let error = parse_instance(input).unwrap_err();
            assert_eq!(error.argument.as_deref(), Some("instance_ip"), "{input}: {error:?}");
        }
    }

    #[test]
    fn hosts_of_instances_drop_ports_and_brackets() {
        assert_eq!(host_of("10.0.0.1:9100"), "10.0.0.1");
        assert_eq!(host_of("[::1]:9100"), "::1");
        assert_eq!(host_of("node-1:9100"), "node-1");
    }

    #[test]
    fn nearest_picks_the_closest_timestamp() {
        assert_eq!(nearest(&[0.0, 10.0, 20.0], 14.0), (1, 4.0));
        assert_eq!(nearest(&[0.0, 10.0, 20.0], 16.0), (2, 4.0));
    }
}

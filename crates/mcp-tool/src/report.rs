//! What the tools answer: structured content (with JSON schemas, the tools' output schemas) and
//! the short human text beside it.

use std::fmt::Write as _;

use aiops_incidents::Incident;
use schemars::JsonSchema;
use serde::Serialize;

/// Periods listed in a report; a longer list is cut (the count says how many there were).
pub const MAX_PERIODS: usize = 50;
/// Periods spelled out in the human text.
const TEXT_PERIODS: usize = 5;

/// How bad an anomaly period is, from its deepest decision and its length (`aiops-incidents`'
/// rule: past 0.05/0.10/0.15 below the threshold is medium/high/critical, and a period of an
/// hour or more of samples is one level worse). `none` when nothing is anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeverityLevel {
    /// No anomalous sample.
    None,
    /// Barely past the threshold.
    Low,
    /// Clearly anomalous.
    Medium,
    /// Far past the threshold.
    High,
    /// Extreme, or severe and lasting.
    Critical,
}

impl From<aiops_incidents::Severity> for SeverityLevel {
    fn from(severity: aiops_incidents::Severity) -> Self {
        match severity {
            aiops_incidents::Severity::Low => Self::Low,
            aiops_incidents::Severity::Medium => Self::Medium,
            aiops_incidents::Severity::High => Self::High,
            aiops_incidents::Severity::Critical => Self::Critical,
        }
    }
}

impl SeverityLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Consecutive anomalous samples merged into one period.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AnomalyPeriod {
    /// First anomalous sample, RFC 3339 UTC.
    pub start: String,
    /// Last anomalous sample, RFC 3339 UTC.
    pub end: String,
    /// First anomalous sample, unix seconds.
    pub start_unix: f64,
    /// Last anomalous sample, unix seconds.
    pub end_unix: f64,
    /// Samples in the period.
    pub samples: usize,
    /// The most anomalous sample's time, RFC 3339 UTC.
    pub peak_time: String,
    /// The metric's value at the peak.
    pub peak_value: f64,
    /// The forest's decision at the peak (below 0 is anomalous; lower is more anomalous).
    pub peak_decision: f64,
    /// How bad the period is.
    pub severity: SeverityLevel,
}

impl AnomalyPeriod {
    /// The period of an incident found by `aiops-incidents`.
    pub fn from_incident(incident: &Incident) -> Self {
        Self {
            start: rfc3339(incident.onset),
            end: rfc3339(incident.end),
            start_unix: incident.onset,
            end_unix: incident.end,
            samples: incident.points,
            peak_time: rfc3339(incident.peak_time),
            peak_value: incident.peak_value,
            peak_decision: incident.peak_decision,
            severity: incident.severity.into(),
        }
    }
}

/// Which model scored the samples.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ModelUsed {
    /// `configured` (the server's model) or `trained_on_window` (an Isolation Forest with the
    /// reference parameters fitted on this very window, for metrics without a configured model:
    /// it flags the window's most unusual 5 %, it does not compare with a normal baseline).
    pub kind: String,
    /// Where predictions were computed: `in-process` or the remote inference URL.
    pub inference: String,
    /// SHA-256 of the model file (`trained_on_window`: of the model built for this answer).
    pub digest: String,
}

/// One scored sample (listed by `query_prometheus_and_predict` for the anomalous ones).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ScoredPoint {
    /// RFC 3339 UTC.
    pub time: String,
    /// Unix seconds.
    pub unix: f64,
    /// The metric's value.
    pub value: f64,
    /// The forest's decision (below 0 is anomalous).
    pub decision: f64,
}

/// Summary statistics of the fetched values.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ValueSummary {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// Most recent value.
    pub last: f64,
}

/// The answer of the anomaly tools.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AnomalyReport {
    /// The node-exporter instance, `ip:port`.
    pub instance: String,
    /// The metric: `cpu`, `memory`, `disk` or `network`.
    pub metric: String,
    /// The feature column of the metric, e.g. `cpu_usage`.
    pub value_column: String,
    /// Hours looked back from now.
    pub hours: u32,
    /// Seconds between samples.
    pub step_seconds: u64,
    /// First sample, RFC 3339 UTC.
    pub window_start: String,
    /// Last sample, RFC 3339 UTC.
    pub window_end: String,
    /// Samples scored.
    pub samples: usize,
    /// Samples predicted anomalous (-1).
    pub anomaly_count: usize,
    /// `100 * anomaly_count / samples`.
    pub anomaly_percentage: f64,
    /// The worst period's severity (`none` without anomalies).
    pub severity: SeverityLevel,
    /// Anomaly periods in time order: all of them, or the 50 with the deepest peaks when there
    /// are more (see `period_count`).
    pub periods: Vec<AnomalyPeriod>,
    /// Periods found in total.
    pub period_count: usize,
    /// Statistics of the values.
    pub values: ValueSummary,
    /// The model that scored the samples.
    pub model: ModelUsed,
    /// Anomalous samples (only `query_prometheus_and_predict`; at most 200, latest first cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomalous_points: Option<Vec<ScoredPoint>>,
    /// Caveats the reader should know (e.g. a model trained on the window itself).
    pub notes: Vec<String>,
}

impl AnomalyReport {
    /// A short human summary: one line of counts, then the first periods.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{} {} over the last {} h ({} samples at {} s, {} .. {}): {} anomalous ({:.2} %), {} period(s), severity {}.",
            self.instance,
            self.metric,
            self.hours,
            self.samples,
            self.step_seconds,
            self.window_start,
            self.window_end,
            self.anomaly_count,
            self.anomaly_percentage,
            self.period_count,
            self.severity.as_str(),
        );
        let mut worst: Vec<&AnomalyPeriod> = self.periods.iter().collect();
        worst.sort_by(|a, b| a.peak_decision.total_cmp(&b.peak_decision));
        if !worst.is_empty() {
            text.push_str(" Most anomalous periods:");
        }
        for period in worst.into_iter().take(TEXT_PERIODS) {
            let _ = write!(
                text,
                "\n- {} .. {} ({} samples): peak {:.3} at {}, severity {}",
                period.start,
                period.end,
                period.samples,
                period.peak_value,
                period.peak_time,
                period.severity.as_str()
            );
        }
        if self.period_count > TEXT_PERIODS {
            let _ = write!(text, "\n- ... and {} more period(s)", self.period_count - TEXT_PERIODS);
        }
        for note in &self.notes {
            let _ = write!(text, "\nNote: {note}");
        }
        text
    }
}

/// One feature's part in an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FeatureContribution {
    /// Feature name, e.g. `rate_of_change`.
    pub feature: String,
    /// The feature's value at the sample.
    pub value: f64,
    /// Its share in isolating the sample (the shares sum to 1): how much the forest's splits on
    /// this feature narrowed the sample down, in bits, over all trees, normalised.
    pub contribution: f64,
}

/// The answer of `explain_anomaly`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Explanation {
    /// The node-exporter instance, `ip:port`.
    pub instance: String,
    /// The time asked about, RFC 3339 UTC.
    pub requested_time: String,
    /// The sample explained (the nearest one), RFC 3339 UTC.
    pub sample_time: String,
    /// The metric value (`cpu_usage`) at the sample.
    pub value: f64,
    /// Whether the forest predicts the sample anomalous.
    pub anomalous: bool,
    /// The forest's decision (below 0 is anomalous).
    pub decision: f64,
    /// The sample's severity on its own (`none` when normal).
    pub severity: SeverityLevel,
    /// Per-feature contributions, largest first.
    pub contributions: Vec<FeatureContribution>,
    /// SHA-256 of the model that explained it.
    pub model_digest: String,
}

impl Explanation {
    /// A short human summary.
    pub fn text(&self) -> String {
        let verdict = if self.anomalous { "anomalous" } else { "normal" };
        let drivers: Vec<String> = self
            .contributions
            .iter()
            .take(3)
            .map(|c| format!("{} = {:.3} ({:.0} %)", c.feature, c.value, 100.0 * c.contribution))
            .collect();
        format!(
            "{} at {} (nearest sample to {}): cpu_usage {:.3} is {verdict} (decision {:.4}, severity {}). \
             Isolated mostly by {}.",
            self.instance,
            self.sample_time,
            self.requested_time,
            self.value,
            self.decision,
            self.severity.as_str(),
            drivers.join(", ")
        )
    }
}

/// One instance Prometheus knows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct InstanceEntry {
    /// The `instance` label, `ip:port`.
    pub instance: String,
    /// The host part, to pass as `instance_ip`.
    pub ip: String,
}

/// The answer of `list_instances`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct InstanceList {
    /// The `job` regular expression the instances were selected with.
    pub job_matcher: String,
    /// Number of instances.
    pub count: usize,
    /// The instances, sorted.
    pub instances: Vec<InstanceEntry>,
}

impl InstanceList {
    /// A short human summary.
    pub fn text(&self) -> String {
        let names: Vec<&str> = self.instances.iter().map(|i| i.instance.as_str()).collect();
        format!("{} instance(s) with job matching `{}`: {}", self.count, self.job_matcher, names.join(", "))
    }
}

/// One anomalous metric of a node, in `fleet_status`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FleetMetric {
    /// The metric (`cpu`, `memory`, `disk`, `network`).
    pub metric: String,
    /// Its anomaly score: 0 normal, 1 or more anomalous.
    pub score: f64,
    /// Whether an incident is open on it.
    pub incident_open: bool,
    /// When its open incident started, RFC 3339 UTC (absent when none is open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_start: Option<String>,
    /// The same in unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_start_unix: Option<f64>,
}

/// One node anomalous now, in `fleet_status`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FleetNodeEntry {
    /// The `instance` label, `ip:port`.
    pub instance: String,
    /// The host part, to pass as `instance_ip` to the other tools.
    pub ip: String,
    /// Its highest anomaly score.
    pub score: f64,
    /// The metric with that score: the one concerned most.
    pub metric: String,
    /// When its earliest open incident started, RFC 3339 UTC (absent when none is open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_start: Option<String>,
    /// Its anomalous metrics, highest score first.
    pub metrics: Vec<FleetMetric>,
}

/// The answer of `fleet_status`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct FleetReport {
    /// When Prometheus evaluated the queries, RFC 3339 UTC.
    pub evaluated_at: String,
    /// The metric asked about (absent: every metric).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The lowest score listed.
    pub min_score: f64,
    /// Series with a score in Prometheus (0: no `aiops watch` is exporting, or none is scraped).
    pub watched_series: usize,
    /// Nodes anomalous now, listed or not.
    pub anomalous_nodes: usize,
    /// The highest-scoring anomalous nodes, highest first (at most `limit`).
    pub nodes: Vec<FleetNodeEntry>,
}

impl FleetReport {
    /// A short human summary.
    pub fn text(&self) -> String {
        let scope = self.metric.as_deref().map_or_else(String::new, |m| format!(" on {m}"));
        if self.watched_series == 0 {
            return format!(
                "No aiops_anomaly_score series{scope} in Prometheus: is `aiops watch` running and scraped?"
            );
        }
        if self.nodes.is_empty() {
            return format!(
                "No node anomalous{scope} now (score >= {} over {} watched series).",
                self.min_score, self.watched_series
            );
        }
        let mut text = format!(
            "{} node(s) anomalous{scope} now (score >= {}, {} watched series); highest first:",
            self.anomalous_nodes, self.min_score, self.watched_series
        );
        for node in &self.nodes {
            let since = node
                .incident_start
                .as_deref()
                .map_or_else(String::new, |s| format!(", incident open since {s}"));
            let _ = write!(
                text,
                "\n- {} {} score {}{since}",
                aiops_text::escape_controls(&node.instance),
                aiops_text::escape_controls(&node.metric),
                node.score
            );
        }
        text
    }
}

/// Unix seconds as RFC 3339 UTC (seconds precision, `Z`).
pub fn rfc3339(unix: f64) -> String {
    let seconds = unix.floor();
    let nanos = ((unix - seconds) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    chrono::DateTime::from_timestamp(seconds as i64, nanos)
        .map_or_else(|| format!("{unix}"), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_keeps_fractions_and_uses_z() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000.5), "2023-11-14T22:13:20.500Z");
    }

    #[test]
    fn severity_levels_order_from_none_to_critical() {
        assert!(SeverityLevel::None < SeverityLevel::Low && SeverityLevel::High < SeverityLevel::Critical);
        assert_eq!(SeverityLevel::from(aiops_incidents::Severity::Medium), SeverityLevel::Medium);
    }
}

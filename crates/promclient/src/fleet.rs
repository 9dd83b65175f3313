//! The fleet's verdicts read back from Prometheus: which nodes are anomalous now, ranked, with
//! the metric concerned and their open incidents.
//!
//! `aiops watch` in fleet mode exports, per series (labels `instance` and `metric`),
//! [`ANOMALY_SCORE`] (0 normal, >= 1 anomalous: vmanomaly's convention), [`INCIDENT_OPEN`]
//! (0 or 1) and [`INCIDENT_START`] (the open incident's onset, unix seconds). Every replica exports
//! its own shard, so a question about the fleet is answered by PromQL over all of them: the
//! queries aggregate `by (instance, metric)` (a series exported twice during a rebalance counts
//! once) and work with any number of shards.

use crate::metric::METRIC_NAMES;
use crate::promql::escape_promql_string;
use crate::{Error, PromClient, Result};

/// Per-series anomaly score: 0 normal, >= 1 anomalous.
pub const ANOMALY_SCORE: &str = "aiops_anomaly_score";
/// Per-series 1 while an incident is open, else 0.
pub const INCIDENT_OPEN: &str = "aiops_incident_open";
/// Per-series onset (unix seconds) of the open incident.
pub const INCIDENT_START: &str = "aiops_incident_start_timestamp_seconds";
/// The fleet metrics' names, for cross-checks of dashboards and alerts.
pub const FLEET_METRIC_NAMES: [&str; 3] = [ANOMALY_SCORE, INCIDENT_OPEN, INCIDENT_START];

/// Most nodes one [`FleetQuery`] lists.
pub const MAX_FLEET_LIMIT: usize = 100;

/// A checked question "which nodes are anomalous now?": built only by [`FleetQuery::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct FleetQuery {
    limit: usize,
    metric: Option<&'static str>,
    min_score: f64,
}

impl FleetQuery {
    /// The `limit` highest-scoring nodes whose score (of `metric`, or of any metric) is at
    /// least `min_score`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `limit` (1 to [`MAX_FLEET_LIMIT`]), `metric` (one of
    /// [`METRIC_NAMES`]) or `min_score` (finite, 0 or more).
    pub fn new(limit: usize, metric: Option<&str>, min_score: f64) -> Result<Self> {
        let invalid = |field, reason: String| Error::InvalidParameter { field, reason };
        if !(1..=MAX_FLEET_LIMIT).contains(&limit) {
            return Err(invalid("limit", format!("{limit} is not 1 to {MAX_FLEET_LIMIT}")));
        }
        let metric = match metric {
            None => None,
            Some(name) => Some(METRIC_NAMES.into_iter().find(|&known| known == name).ok_or_else(|| {
                invalid(
                    "metric",
                    format!("`{}` is not one of {}", aiops_text::bounded(name), METRIC_NAMES.join(", ")),
                )
            })?),
        };
        if !(min_score.is_finite() && min_score >= 0.0) {
            return Err(invalid("min_score", format!("{min_score} is not a finite number, 0 or more")));
        }
        Ok(Self { limit, metric, min_score })
    }

    /// Most nodes listed.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The metric asked about, if one.
    pub fn metric(&self) -> Option<&'static str> {
        self.metric
    }

    /// The lowest score listed.
    pub fn min_score(&self) -> f64 {
        self.min_score
    }

    /// `max by (instance, metric)` of `name`, restricted to the metric asked about.
    fn per_series(&self, name: &str) -> String {
        let matcher = self.metric.map(|m| format!(r#"{{metric="{}"}}"#, escape_promql_string(m)));
        format!("max by (instance, metric) ({name}{})", matcher.unwrap_or_default())
    }

    /// The anomalous series (score >= `min_score`).
    fn anomalous(&self) -> String {
        // `{:?}` writes every finite f64 as a PromQL number literal (`1.0`, `1e300`).
        format!("({} >= {:?})", self.per_series(ANOMALY_SCORE), self.min_score)
    }

    /// PromQL: the scores of every anomalous series of the `limit` highest-scoring nodes.
    ///
    /// ```
    /// use aiops_promclient::FleetQuery;
    /// assert_eq!(
    ///     FleetQuery::new(10, Some("cpu"), 1.0)?.scores_query(),
    ///     r#"(max by (instance, metric) (aiops_anomaly_score{metric="cpu"}) >= 1.0) and on (instance) topk(10, max by (instance) ((max by (instance, metric) (aiops_anomaly_score{metric="cpu"}) >= 1.0)))"#
    /// );
    /// # Ok::<(), aiops_promclient::Error>(())
    /// ```
    pub fn scores_query(&self) -> String {
        let anomalous = self.anomalous();
        format!("{anomalous} and on (instance) topk({}, max by (instance) ({anomalous}))", self.limit)
    }

    /// PromQL: the start of every open incident of the series [`FleetQuery::scores_query`]
    /// returns.
    pub fn incidents_query(&self) -> String {
        format!(
            "{} and on (instance, metric) ({} == 1) and on (instance, metric) ({})",
            self.per_series(INCIDENT_START),
            self.per_series(INCIDENT_OPEN),
            self.scores_query()
        )
    }

    /// PromQL: how many nodes are anomalous (listed or not); empty when none.
    pub fn count_query(&self) -> String {
        format!("count(max by (instance) ({}))", self.anomalous())
    }

    /// PromQL: how many series have a score at all (anomalous or not); empty when none, e.g.
    /// when no `aiops watch` is scraped.
    pub fn watched_query(&self) -> String {
        format!("count({})", self.per_series(ANOMALY_SCORE))
    }
}

/// One anomalous series of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSeries {
    /// The `metric` label (`cpu`, `memory`, ...).
    pub metric: String,
    /// Its anomaly score.
    pub score: f64,
    /// The onset (unix seconds) of its open incident, if one is open.
    pub incident_start: Option<f64>,
}

/// One anomalous node.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetNode {
    /// The `instance` label.
    pub instance: String,
    /// Its highest score.
    pub score: f64,
    /// Its anomalous series, highest score first (the first is the metric concerned most).
    pub series: Vec<FleetSeries>,
}

/// The answer to a [`FleetQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct FleetStatus {
    /// When the queries were evaluated (unix seconds).
    pub evaluated_at: i64,
    /// How many series have a score (of the metric asked about): 0 when nothing exports them.
    pub watched_series: usize,
    /// How many nodes are anomalous in all (`nodes` lists at most the query's limit).
    pub anomalous_nodes: usize,
    /// The highest-scoring anomalous nodes, highest first (ties by instance).
    pub nodes: Vec<FleetNode>,
}

impl PromClient {
    /// Answers `query` now: four instant queries evaluated at the same time.
    ///
    /// # Errors
    /// Any request error; [`Error::Decode`] when an answer lacks the `instance` or `metric`
    /// label.
    pub async fn fleet_status(&self, query: &FleetQuery) -> Result<FleetStatus> {
        let now = chrono::Utc::now().timestamp();
        let queries =
            [query.scores_query(), query.incidents_query(), query.count_query(), query.watched_query()];
        let (scores, incidents, count, watched) = tokio::try_join!(
            self.query(&queries[0], now),
            self.query(&queries[1], now),
            self.query(&queries[2], now),
            self.query(&queries[3], now),
        )?;
        let key = |labels: &std::collections::BTreeMap<String, String>| match (
            labels.get("instance"),
            labels.get("metric"),
        ) {
            (Some(instance), Some(metric)) => Ok((instance.clone(), metric.clone())),
            _ => Err(Error::Decode {
                problem: format!("a fleet series without instance or metric: {labels:?}"),
            }),
        };
        let mut starts = std::collections::HashMap::new();
        for incident in &incidents {
            starts.insert(key(&incident.labels)?, incident.sample.value);
        }
        let mut nodes: Vec<FleetNode> = Vec::new();
        for score in &scores {
            let (instance, metric) = key(&score.labels)?;
            let incident_start = starts.get(&(instance.clone(), metric.clone())).copied();
            let series = FleetSeries { metric, score: score.sample.value, incident_start };
            match nodes.iter_mut().find(|node| node.instance == instance) {
                Some(node) => node.series.push(series),
                None => nodes.push(FleetNode { instance, score: 0.0, series: vec![series] }),
            }
        }
        for node in &mut nodes {
            node.series.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.metric.cmp(&b.metric)));
            node.score = node.series[0].score;
        }
        nodes.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.instance.cmp(&b.instance)));
        nodes.truncate(query.limit);
        let counted = |answer: &[crate::InstantSample]| answer.first().map_or(0, |c| c.sample.value as usize);
        Ok(FleetStatus {
            evaluated_at: now,
            watched_series: counted(&watched),
            anomalous_nodes: counted(&count),
            nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_queries_refuse_bad_arguments_naming_them() {
        let table: [(usize, Option<&str>, f64, &str); 6] = [
            (0, None, 1.0, "limit"),
            (MAX_FLEET_LIMIT + 1, None, 1.0, "limit"),
            (10, Some(r#"cpu"} or vector(1) or {a=""#), 1.0, "metric"),
            (10, Some("CPU"), 1.0, "metric"),
            (10, None, f64::NAN, "min_score"),
            (10, None, -1.0, "min_score"),
        ];
        for (limit, metric, min_score, field) in table {
            match FleetQuery::new(limit, metric, min_score) {
                Err(Error::InvalidParameter { field: bad, .. }) => assert_eq!(bad, field),
                other => panic!("expected `{field}` to be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_fleet_metric_is_aggregated_over_shards_and_bounded_by_topk() {
        let query = FleetQuery::new(7, None, 2.5).unwrap();
        let incidents = query.incidents_query();
        for name in FLEET_METRIC_NAMES {
            assert!(incidents.contains(&format!("max by (instance, metric) ({name})")), "{incidents}");
        }
        assert!(incidents.contains("topk(7, ") && incidents.contains(">= 2.5)"), "{incidents}");
        assert_eq!(
            query.count_query(),
            "count(max by (instance) ((max by (instance, metric) (aiops_anomaly_score) >= 2.5)))"
        );
        assert!(FleetQuery::new(1, None, 1e300).unwrap().scores_query().contains(">= 1e300)"));
    }
}

//! `aiops-watch` against a real Prometheus (`aiops-testkit`'s backfilled one): the first round
//! scores the lookback, later rounds only the new points; the streaming verdicts equal the
//! batch features scored by the forest; an incident is flagged; fetch failures are counted per
//! series; bad parameters and a model of another metric are refused by name.

use std::time::Duration;

use aiops_artifacts::model::{LoadedModel, schema_record};
use aiops_features::FeatureSchema;
use aiops_iforest::{Contamination, IsolationForest, IsolationForestParams, Model};
use aiops_promclient::{ClientConfig, Instance, Metric};
use aiops_testkit::prometheus::{Scenario, TestPrometheus};
use aiops_watch::{Error, Round, WINDOW_SECONDS, WatchParams, Watcher};

const INCIDENT: &str = "10.0.0.1:9100";
const NORMAL: &str = "10.0.0.2:9100";
const STEP: u64 = 60;
const LOOKBACK: u64 = 3600;

/// Two instances over the last 6 hours at 1-minute steps; the first at 95 % for the last 30 min.
fn scenario() -> Scenario {
    Scenario::recent(2, 6.0, STEP).with_incident(0, 0.5, 60, 95.0)
}

fn params(prometheus: ClientConfig) -> WatchParams {
    WatchParams {
        prometheus,
        instances: [INCIDENT, NORMAL].map(|i| Instance::parse(i).expect("instance")).to_vec(),
        metric: Metric::Cpu,
        interval: Duration::from_secs(30),
        step: Duration::from_secs(STEP),
        lookback: Duration::from_secs(LOOKBACK),
        delay: Duration::ZERO,
    }
}

/// The ground-truth CPU of `instance` at those of `times` that have one (not the first rate
/// window of the data).
fn cpu(scenario: &Scenario, instance: &str, times: impl Iterator<Item = u64>) -> (Vec<f64>, Vec<f64>) {
    times.filter_map(|t| scenario.expected_cpu(instance, t).map(|v| (t as f64, v))).unzip()
}

/// A model of `schema`'s features of the normal instance before the incident started.
fn model(scenario: &Scenario, schema: &FeatureSchema) -> LoadedModel {
    let before_incident = scenario.end - 3600;
    let (timestamps, values) = cpu(scenario, NORMAL, scenario.timestamps().filter(|&t| t < before_incident));
    let x = schema.compute(&timestamps, &values).expect("features");
    let params = IsolationForestParams {
        contamination: Contamination::Fraction(0.01),
        ..IsolationForestParams::reference()
    };
    let forest = IsolationForest::fit(&params, x.view()).expect("fit");
    let model =
        Model::new(forest, schema.columns.clone(), Some(schema_record(schema)), x.view()).expect("model");
    LoadedModel::new(model, "the test model").expect("a consistent model")
}

/// The value of `name{instance="..",metric="cpu"}` in an exposition.
fn sample(exposition: &str, name: &str, instance: &str) -> f64 {
    let prefix = format!("{name}{{instance=\"{instance}\",metric=\"cpu\"}} ");
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{exposition}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_score_the_lookback_then_only_new_points_as_the_batch_forest_would() {
    let scenario = scenario();
    let model = model(&scenario, &FeatureSchema::reference());
    let prometheus = TestPrometheus::require(scenario.clone());
    let config = params(ClientConfig::from_url(&prometheus.url()).expect("a URL")).check().expect("valid");
    let mut watcher = Watcher::new(config, model.clone()).expect("watcher");

    // Ten minutes before the data ends: the lookback is an hour of points per instance.
    let first = scenario.end - 600;
    let points = LOOKBACK / STEP + 1;
    assert_eq!(watcher.round(first as f64).await, Round { scored: 2 * points, failed: 0 });
    assert_eq!(watcher.round(first as f64).await, Round::default(), "nothing new at the same time");
    let second = first + 300;
    assert_eq!(watcher.round(second as f64).await, Round { scored: 2 * 5, failed: 0 });

    let exposition = watcher.metrics().encode();
    for instance in [INCIDENT, NORMAL] {
        // The streaming features since the lookback's start, scored one point at a time, equal
        // the batch features of the same points scored by the forest.
        let (timestamps, values) =
            cpu(&scenario, instance, (first - LOOKBACK..=second).step_by(STEP as usize));
        assert_eq!(timestamps.len() as u64, points + 5, "every scored time has a ground truth");
        let x = FeatureSchema::reference().compute(&timestamps, &values).expect("features");
        let last = x.row(x.nrows() - 1).to_vec();
        let batch = model.model.forest.score_row(&last).expect("score");
        let streamed = -sample(&exposition, "aiops_watch_anomaly_score", instance);
        assert!((streamed - batch).abs() <= 1e-9, "{instance}: streamed {streamed}, batch {batch}");
        assert_eq!(sample(&exposition, "aiops_watch_points_total", instance), (points + 5) as f64);
        // The last hour's anomalies are the batch forest's verdicts on the same points (the
        // counts, not a threshold on them: which points cross the 1 % offset depends on the
        // wall-clock hour of the generated data).
        let forest = &model.model.forest;
        let flagged = x
            .rows()
            .into_iter()
            .zip(&timestamps)
            .filter(|&(_, &t)| t > second as f64 - WINDOW_SECONDS)
            .filter(|(row, _)| forest.score_row(&row.to_vec()).expect("score") - forest.offset() < 0.0)
            .count();
        assert_eq!(
            sample(&exposition, "aiops_watch_anomalies_last_hour", instance),
            flagged as f64,
            "{instance}"
        );
        assert_eq!(sample(&exposition, "aiops_watch_last_point_timestamp_seconds", instance), second as f64);
    }
}

#[tokio::test]
async fn an_unreachable_prometheus_is_counted_per_series_and_scores_nothing() {
    let scenario = scenario();
    let url = format!("http://127.0.0.1:{}", aiops_testkit::free_port());
    let client = ClientConfig { retries: 0, ..ClientConfig::from_url(&url).expect("a URL") };
    let config = params(client).check().expect("valid");
    let mut watcher = Watcher::new(config, model(&scenario, &FeatureSchema::reference())).expect("watcher");
    assert_eq!(watcher.round(scenario.end as f64).await, Round { scored: 0, failed: 2 });
    assert_eq!(watcher.round(scenario.end as f64).await, Round { scored: 0, failed: 2 });
    let exposition = watcher.metrics().encode();
    for instance in [INCIDENT, NORMAL] {
        assert_eq!(sample(&exposition, "aiops_watch_fetch_errors_total", instance), 2.0);
    }
    assert!(!exposition.contains("aiops_watch_anomaly_score{"), "no verdict without points:\n{exposition}");
}

#[test]
fn check_refuses_each_bad_parameter_by_name() {
    let client = ClientConfig::from_url("http://127.0.0.1:9090").expect("a URL");
    type Change = fn(&mut WatchParams);
    // (the parameter that is wrong, how it is made wrong)
    let table: [(&str, Change); 6] = [
        ("instances", |p| p.instances.clear()),
        ("instances", |p| p.instances.push(p.instances[0].clone())),
        ("interval", |p| p.interval = Duration::ZERO),
        ("step", |p| p.step = Duration::from_millis(1500)),
        ("step", |p| p.step = Duration::from_millis(500)),
        ("lookback", |p| p.lookback = Duration::from_secs(STEP - 1)),
    ];
    for (parameter, make_wrong) in table {
        let mut wrong = params(client.clone());
        make_wrong(&mut wrong);
        match wrong.check() {
            Err(Error::InvalidParameter { field, .. }) => assert_eq!(field, parameter),
            other => panic!("expected `{parameter}` to be refused, got {other:?}"),
        }
    }
    params(client).check().expect("the table's starting point is valid");
}

#[test]
fn a_model_of_another_metric_is_refused() {
    let scenario = scenario();
    let memory = FeatureSchema::reference().with_value_column("memory_usage").expect("schema");
    let config =
        params(ClientConfig::from_url("http://127.0.0.1:9090").expect("a URL")).check().expect("valid");
    match Watcher::new(config, model(&scenario, &memory)) {
        // Refused by the recorded schema or by the missing columns, whichever is checked first.
        Err(Error::ModelFeatures(_) | Error::Model(_)) => {}
        other => panic!("a memory model must not score cpu, got {other:?}"),
    }
}

//! `aiops-watch` against a real Prometheus (`aiops-testkit`'s backfilled one): the first round
//! scores the lookback, later rounds only the new points; the streaming verdicts equal the
//! batch features scored by the forest; an incident is flagged; fetch failures are counted per
//! series; bad parameters and a model of another metric are refused by name. Fleet mode:
//! discovery adds instances within a round and drops vanished ones after the grace period, one
//! range query per metric serves every instance, each series' detector equals the detector
//! replayed on the ground truth, and shards cover every instance exactly once, also after a
//! change of the replica count. The state file: a restarted watcher continues exactly; an
//! unusable file changes nothing; an unusable saved series starts fresh alone; every mutation of
//! a state file is refused or restores a state that saves and restores again.

use std::time::Duration;

use aiops_artifacts::model::{LoadedModel, schema_record};
use aiops_features::FeatureSchema;
use aiops_iforest::{Contamination, IsolationForest, IsolationForestParams, Model};
use aiops_incidents::{CheckedDetectorParams, StreamingDetector};
use aiops_promclient::{ClientConfig, Instance, LabelSelector, Metric};
use aiops_testkit::prometheus::{Scenario, TestPrometheus};
use aiops_watch::checkpoint::Restored;
use aiops_watch::{Error, Round, Shard, Targets, WINDOW_SECONDS, WatchParams, Watcher, anomaly_score};

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
        targets: Targets::Instances(
            [INCIDENT, NORMAL].map(|i| Instance::parse(i).expect("instance")).to_vec(),
        ),
        metrics: vec![Metric::Cpu],
        interval: Duration::from_secs(30),
        step: Duration::from_secs(STEP),
        lookback: Duration::from_secs(LOOKBACK),
        delay: Duration::ZERO,
        grace: Duration::from_secs(600),
        shard: Shard::default(),
        samples_per_query: aiops_watch::SAMPLES_PER_QUERY,
        max_instances: aiops_watch::MAX_INSTANCES,
        remote_write: None,
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
    let mut watcher = Watcher::new(config, Some(model.clone())).expect("watcher");

    // Ten minutes before the data ends: the lookback is an hour of points per instance.
    let first = scenario.end - 600;
    let points = LOOKBACK / STEP + 1;
    let rounds = |scored| Round { scored, queries: 1, ..Round::default() };
    assert_eq!(watcher.round(first as f64).await, rounds(2 * points), "one query for both instances");
    assert_eq!(watcher.round(first as f64).await, Round::default(), "nothing new at the same time");
    let second = first + 300;
    assert_eq!(watcher.round(second as f64).await, rounds(2 * 5));

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
    let mut watcher =
        Watcher::new(config, Some(model(&scenario, &FeatureSchema::reference()))).expect("watcher");
    let failed = Round { failed: 2, queries: 1, ..Round::default() };
    assert_eq!(watcher.round(scenario.end as f64).await, failed);
    assert_eq!(watcher.round(scenario.end as f64).await, failed);
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
    let table: [(&str, Change); 12] = [
        ("instances", |p| p.targets = Targets::Instances(Vec::new())),
        ("instances", |p| {
            let twice = [INCIDENT, INCIDENT].map(|i| Instance::parse(i).expect("instance")).to_vec();
            p.targets = Targets::Instances(twice);
        }),
        ("metrics", |p| p.metrics.clear()),
        ("metrics", |p| p.metrics.push(Metric::Cpu)),
        ("metrics", |p| {
            p.metrics = vec![Metric::custom(r#"up{instance="{instance}"}"#, "up").expect("custom")];
        }),
        ("grace", |p| p.grace = Duration::from_secs(29)),
        ("interval", |p| p.interval = Duration::ZERO),
        ("step", |p| p.step = Duration::from_millis(1500)),
        ("step", |p| p.step = Duration::from_millis(500)),
        ("lookback", |p| p.lookback = Duration::from_secs(STEP - 1)),
        ("samples_per_query", |p| p.samples_per_query = 0),
        ("max_instances", |p| p.max_instances = 0),
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
    match Watcher::new(config.clone(), Some(model(&scenario, &memory))) {
        Err(Error::ModelMetric { column, watched }) => {
            assert_eq!((column.as_str(), watched.as_str()), ("memory_usage", "cpu_usage"));
        }
        Err(other) => panic!("a memory model must not score cpu, got {other:?}"),
        Ok(_) => panic!("a memory model must not score cpu"),
    }
    // With memory watched too, the memory model scores memory.
    let both = WatchParams { metrics: vec![Metric::Cpu, Metric::Memory], ..config.into_params() };
    let watcher = Watcher::new(both.check().expect("valid"), Some(model(&scenario, &memory)));
    assert!(watcher.is_ok(), "the model's metric is among the watched ones");
}

const FLEET_METRICS: [&str; 4] = ["cpu", "memory", "disk", "network"];
/// History a new instance is warmed up with: 300 points.
const FLEET_LOOKBACK: u64 = 5 * 3600;

fn fleet_params(prometheus: &TestPrometheus, shard: Shard) -> WatchParams {
    WatchParams {
        targets: Targets::Selector(LabelSelector::parse(r#"{job="node"}"#).expect("selector")),
        metrics: FLEET_METRICS.map(|m| Metric::parse(m).expect("metric")).to_vec(),
        lookback: Duration::from_secs(FLEET_LOOKBACK),
        shard,
        ..params(ClientConfig::from_url(&prometheus.url()).expect("a URL"))
    }
}

/// The value of `name{instance="..",metric=".."}` in an exposition, if present.
fn series_value(exposition: &str, name: &str, instance: &str, metric: &str) -> Option<f64> {
    let prefix = format!("{name}{{instance=\"{instance}\",metric=\"{metric}\"}} ");
    exposition.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_adds_instances_within_a_round_drops_vanished_ones_after_the_grace_and_one_query_per_metric_serves_all()
 {
    // Three instances over 8 h; the first at 95 % for 30 minutes from 1 h before the end; the
    // third stops being scraped 2 h before the end.
    let scenario = Scenario::recent(3, 8.0, STEP).with_incident(0, 1.0, 30, 95.0).with_vanished(2, 2.0);
    let prometheus = TestPrometheus::require(scenario.clone());
    // 100 points a query for the 3 instances: the 301 points of the lookback come in 4 pieces.
    let params = WatchParams { samples_per_query: 300, ..fleet_params(&prometheus, Shard::default()) };
    let mut watcher = Watcher::new(params.check().expect("valid"), None).expect("watcher");
    let all: Vec<&str> = scenario.instances.iter().map(|s| s.instance.as_str()).collect();

    // Before the data starts discovery finds nobody; then everyone joins within one round,
    // fetched with one range query per metric.
    let before = watcher.round((scenario.start - 3600) as f64).await;
    assert_eq!((before.joined, before.queries, watcher.instances().len()), (0, 0, 0));
    let (incident_start, vanished_at) = {
        let (_, incident) = scenario.incident().expect("an incident");
        (incident.start, scenario.instances[2].until.expect("vanishes"))
    };
    let first = vanished_at - 600;
    let round = watcher.round(first as f64).await;
    assert_eq!((round.joined, round.queries, round.failed), (3, 4 * FLEET_METRICS.len(), 0), "{round:?}");
    assert_eq!(round.scored, 3 * 4 * (FLEET_LOOKBACK / STEP + 1), "every point of the lookback, once");
    assert_eq!(watcher.instances(), all);
    let exposition = watcher.metrics().encode();
    assert!(exposition.contains("aiops_watch_series 12"), "{exposition}");
    for instance in &all {
        for metric in FLEET_METRICS {
            let score = series_value(&exposition, "aiops_anomaly_score", instance, metric);
            assert!(score.is_some_and(|s| s >= 0.0), "{instance} {metric}: {exposition}");
            assert!(series_value(&exposition, "aiops_incident_open", instance, metric).is_some());
        }
    }
    assert!(!exposition.contains("aiops_watch_anomaly_score{"), "no forest without a model");

    // The vanished instance stays for the grace period (10 min) after discovery last found it
    // (Prometheus still returns its `up` for 5 minutes after the last sample), then its series go.
    let third = "10.0.0.3:9100";
    let last_found = vanished_at + 200;
    let round = watcher.round(last_found as f64).await;
    assert_eq!((round.left, watcher.instances().len()), (0, 3), "{round:?}");
    let within_grace = vanished_at + 700;
    let round = watcher.round(within_grace as f64).await;
    assert_eq!((round.left, watcher.instances().len()), (0, 3), "{round:?}");
    let after_grace = last_found + 601;
    let round = watcher.round(after_grace as f64).await;
    assert_eq!((round.left, watcher.instances()), (1, vec![INCIDENT, NORMAL]), "{round:?}");
    let exposition = watcher.metrics().encode();
    assert!(!exposition.contains(third), "the vanished instance's series are removed:\n{exposition}");
    assert!(exposition.contains("aiops_watch_series 8"), "{exposition}");

    // Just after the incident started: the detector of the incident instance's cpu has an open
    // incident, and its score and onset are those of the detector replayed on the ground truth.
    let during = incident_start + 300;
    let round = watcher.round(during as f64).await;
    assert_eq!(
        round.queries,
        FLEET_METRICS.len(),
        "caught-up instances share one query per metric: {round:?}"
    );
    let exposition = watcher.metrics().encode();
    let replay = replay_cpu(&scenario, INCIDENT, first - FLEET_LOOKBACK, during);
    assert_eq!(series_value(&exposition, "aiops_incident_open", INCIDENT, "cpu"), Some(1.0), "{exposition}");
    let onset = series_value(&exposition, "aiops_incident_start_timestamp_seconds", INCIDENT, "cpu");
    assert_eq!(onset, replay.0, "{exposition}");
    assert!(onset.is_some_and(|t| t > incident_start as f64 && t <= during as f64));
    let score = series_value(&exposition, "aiops_anomaly_score", INCIDENT, "cpu").expect("a score");
    assert!((score - replay.1).abs() <= 1e-6, "streamed {score}, replayed {}", replay.1);
    // The open incident's start is exported only while it is open.
    assert_eq!(series_value(&exposition, "aiops_incident_start_timestamp_seconds", NORMAL, "memory"), None);
}

/// The incident onset and the score of the newest point that the default detector reports when
/// replayed on the ground-truth CPU of `instance` from `start` to `end`.
fn replay_cpu(scenario: &Scenario, instance: &str, start: u64, end: u64) -> (Option<f64>, f64) {
    let params = CheckedDetectorParams::default();
    let mut detector = StreamingDetector::new(&params);
    let (timestamps, values) =
        cpu(scenario, instance, (start.div_ceil(STEP) * STEP..=end).step_by(STEP as usize));
    let mut score = 0.0;
    for (t, v) in timestamps.iter().zip(&values) {
        score = anomaly_score(&detector.push(*t, *v), params.params().threshold);
    }
    (detector.open_incident().map(|i| i.onset), score)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_watch_every_instance_exactly_once_and_two_shards_rebalance() {
    let scenario = Scenario::recent(12, 2.0, STEP);
    let prometheus = TestPrometheus::require(scenario.clone());
    let mut all: Vec<String> = scenario.instances.iter().map(|s| s.instance.clone()).collect();
    all.sort();
    let mut owners_by_count = Vec::new();
    for count in [3, 2] {
        let mut owner = std::collections::BTreeMap::new();
        for index in 0..count {
            let shard = Shard::new(index, count).expect("shard");
            let config = fleet_params(&prometheus, shard).check().expect("valid");
            let mut watcher = Watcher::new(config, None).expect("watcher");
            let round = watcher.round(scenario.end as f64).await;
            assert_eq!(round.failed, 0);
            let exposition = watcher.metrics().encode();
            assert!(exposition.contains(&format!("aiops_watch_shard {index}")), "{exposition}");
            assert!(exposition.contains(&format!("aiops_watch_replicas {count}")), "{exposition}");
            for instance in watcher.instances() {
                assert!(
                    series_value(&exposition, "aiops_anomaly_score", instance, "cpu").is_some(),
                    "{instance} is scored by its shard"
                );
                assert_eq!(owner.insert(instance.to_owned(), index), None, "{instance} watched twice");
            }
        }
        assert_eq!(
            owner.keys().cloned().collect::<Vec<_>>(),
            all,
            "every instance watched with {count} shards"
        );
        assert!(
            owner.values().collect::<std::collections::BTreeSet<_>>().len() as u32 == count,
            "no empty shard: {owner:?}"
        );
        owners_by_count.push(owner);
    }
    // From 3 to 2 shards only the instances of the shard that left move.
    let (three, two) = (&owners_by_count[0], &owners_by_count[1]);
    assert!(all.iter().all(|i| three[i] == 2 || three[i] == two[i]), "{three:?} -> {two:?}");
}

/// Regression: a selector matching far more nodes than planned made one replica take them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_beyond_max_instances_keeps_the_watched_ones_and_counts_the_rest() {
    let scenario = Scenario::recent(12, 2.0, STEP);
    let prometheus = TestPrometheus::require(scenario.clone());
    let params = WatchParams { max_instances: 5, ..fleet_params(&prometheus, Shard::default()) };
    let mut watcher = Watcher::new(params.check().expect("valid"), None).expect("watcher");
    let mut first_five: Vec<String> = scenario.instances.iter().map(|s| s.instance.clone()).collect();
    first_five.sort();
    first_five.truncate(5);
    for offset in [600, 0] {
        let round = watcher.round((scenario.end - offset) as f64).await;
        assert_eq!(round.failed, 0, "{round:?}");
        assert_eq!(watcher.instances(), first_five, "the same five instances, in label order");
        let exposition = watcher.metrics().encode();
        assert!(exposition.contains("aiops_watch_instances_over_capacity 7"), "{exposition}");
        assert!(exposition.contains("aiops_watch_series 20"), "{exposition}");
    }
}

#[test]
fn the_score_is_above_one_exactly_when_the_detector_calls_a_point_anomalous() {
    let params = CheckedDetectorParams::default();
    let threshold = params.params().threshold;
    let mut detector = StreamingDetector::new(&params);
    let (mut anomalous, mut spatial) = (0, 0);
    for i in 0..3000u32 {
        let x = f64::from(i);
        let shift = if (1500..1520).contains(&i) {
            8.0
        } else if i == 2500 {
            40.0
        } else {
            0.0
        };
        let value = 10.0 + (x * std::f64::consts::TAU / 288.0).sin() + 0.1 * (x * 1.3).sin() + shift;
        let outcome = detector.push(1.4e9 + 300.0 * x, value);
        let score = anomaly_score(&outcome, threshold);
        assert!(score >= 0.0 && score.is_finite(), "row {i}: {score}");
        if outcome.decision.is_nan() {
            assert_eq!(score, 0.0, "row {i}: nothing is scored while learning");
            continue;
        }
        assert_eq!(
            score > 1.0,
            outcome.decision < 0.0,
            "row {i}: score {score}, decision {}",
            outcome.decision
        );
        anomalous += usize::from(outcome.decision < 0.0);
        spatial += usize::from(outcome.spatial);
    }
    assert!(anomalous > 0 && spatial > 0, "the series has anomalies of both kinds: {anomalous}, {spatial}");
}

/// The lines of the fleet gauges of every series, sorted, for comparing two watchers.
fn fleet_lines(exposition: &str) -> Vec<&str> {
    let names = ["aiops_anomaly_score{", "aiops_incident_open{", "aiops_incident_start_timestamp_seconds{"];
    let names = names.iter().chain(&["aiops_watch_last_point_timestamp_seconds{"]);
    let names: Vec<&str> = names.copied().collect();
    let mut lines: Vec<&str> =
        exposition.lines().filter(|line| names.iter().any(|n| line.starts_with(n))).collect();
    lines.sort_unstable();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_restarted_from_its_checkpoint_continues_exactly_as_an_uninterrupted_one() {
    let scenario = Scenario::recent(2, 9.0, STEP).with_incident(0, 1.0, 30, 95.0);
    let prometheus = TestPrometheus::require(scenario.clone());
    let config = || {
        let params = WatchParams {
            metrics: vec![Metric::Cpu, Metric::Memory],
            ..fleet_params(&prometheus, Shard::default())
        };
        params.check().expect("valid")
    };
    let incident_start = scenario.incident().expect("an incident").1.start;
    let times = [incident_start + 180, incident_start + 600, incident_start + 1200].map(|t| t as f64);
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join("state").join("watch.json");

    let mut uninterrupted = Watcher::new(config(), None).expect("watcher");
    uninterrupted.round(times[0]).await;
    // The crashed one: checkpointed after its first round, then gone without shutdown.
    let mut crashed = Watcher::new(config(), None).expect("watcher");
    crashed.round(times[0]).await;
    crashed.save_state(&file).expect("checkpoint");
    let at_checkpoint = crashed.metrics().encode();
    drop(crashed);
    assert_eq!(
        series_value(&at_checkpoint, "aiops_incident_open", INCIDENT, "cpu"),
        Some(1.0),
        "{at_checkpoint}"
    );

    let mut restarted = Watcher::new(config(), None).expect("watcher");
    assert_eq!(restore_gauges(&restarted), [0.0, 0.0, 0.0], "nothing restored or refused yet");
    assert_eq!(restarted.restore_state(&file).expect("restored").series, 4);
    assert_eq!(restore_gauges(&restarted), [4.0, 0.0, 0.0], "exported as restored");
    assert_eq!(fleet_lines(&restarted.metrics().encode()), fleet_lines(&at_checkpoint), "published at once");
    for &now in &times[1..] {
        let (expected, got) = (uninterrupted.round(now).await, restarted.round(now).await);
        assert_eq!(got, expected, "the same points are fetched and taken in");
        let (expected, got) = (uninterrupted.metrics().encode(), restarted.metrics().encode());
        assert_eq!(fleet_lines(&got), fleet_lines(&expected));
    }
    // No alert is repeated: the restarted watcher confirmed exactly the incidents the
    // uninterrupted one confirmed after the checkpoint; and the detectors' states are identical.
    let total = |exposition: &str| series_value(exposition, "aiops_watch_incidents_total", INCIDENT, "cpu");
    let before = total(&at_checkpoint).expect("counted");
    let after = total(&uninterrupted.metrics().encode()).expect("counted");
    assert_eq!(total(&restarted.metrics().encode()), Some(after - before));
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    uninterrupted.save_state(&a).expect("save");
    restarted.save_state(&b).expect("save");
    assert!(std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"), "identical detector states");
}

#[tokio::test]
async fn an_unusable_state_file_is_refused_naming_why_and_changes_nothing() {
    let scenario = Scenario::recent(2, 9.0, STEP).with_incident(0, 1.0, 30, 95.0);
    let prometheus = TestPrometheus::require(scenario.clone());
    let dir = tempfile::tempdir().expect("temporary folder");
    let good = dir.path().join("good.json");
    let mut watcher = Watcher::new(fleet_params(&prometheus, Shard::default()).check().expect("valid"), None)
        .expect("watcher");
    watcher.round((scenario.incident().expect("incident").1.start + 180) as f64).await;
    watcher.save_state(&good).expect("save");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&good).expect("read")).expect("json");

    let forged = |change: fn(&mut serde_json::Value)| {
        let mut value = json.clone();
        change(&mut value);
        serde_json::to_vec(&value).expect("json")
    };
    // (what is wrong, the file's bytes, what the error says)
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("garbage", b"{\"format\": 1".to_vec(), "not a state file"),
        ("version", forged(|v| v["version"] = 99.into()), "version 99"),
        ("step", forged(|v| v["step_seconds"] = 10.into()), "step of 10 s"),
        (
            "other parameters",
            forged(|v| v["detector"]["threshold"] = 9.0.into()),
            "other detector parameters",
        ),
    ];
    for (what, bytes, expected) in cases {
        let path = dir.path().join(format!("{what}.json"));
        std::fs::write(&path, bytes).expect("write");
        let mut fresh =
            Watcher::new(fleet_params(&prometheus, Shard::default()).check().expect("valid"), None)
                .expect("watcher");
        match fresh.restore_state(&path) {
            Err(error @ Error::State { .. }) => {
                assert!(error.to_string().contains(expected), "{what}: {error}");
            }
            Err(other) => panic!("{what}: unexpected {other}"),
            Ok(n) => panic!("{what}: {n:?} restored from an unusable file"),
        }
        assert!(fresh.instances().is_empty(), "{what}: nothing restored");
        assert_eq!(restore_gauges(&fresh), [0.0, 0.0, 1.0], "{what}: exported as a refused file");
    }
    // Too large: refused before it is read (a sparse file takes no disk).
    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .expect("create")
        .set_len(aiops_watch::checkpoint::MAX_STATE_BYTES + 1)
        .expect("size");
    let mut fresh = Watcher::new(fleet_params(&prometheus, Shard::default()).check().expect("valid"), None)
        .expect("watcher");
    let error = fresh.restore_state(&huge).expect_err("too large");
    assert!(error.to_string().contains("larger than 512 MiB"), "{error}");
    // The good file restores the 8 series.
    assert_eq!(fresh.restore_state(&good).expect("restored"), Restored { series: 8, refused: vec![] });
    assert_eq!(restore_gauges(&fresh), [8.0, 0.0, 0.0], "exported as restored");
}

/// `aiops_watch_restored_series`, `aiops_watch_refused_series` and
/// `aiops_watch_state_file_refused` as the watcher exports them.
fn restore_gauges(watcher: &Watcher) -> [f64; 3] {
    let exposition = watcher.metrics().encode();
    ["aiops_watch_restored_series ", "aiops_watch_refused_series ", "aiops_watch_state_file_refused "].map(
        |name| {
            let value = exposition.lines().find_map(|line| line.strip_prefix(name));
            value.and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {name}in\n{exposition}"))
        },
    )
}

#[tokio::test]
async fn one_unusable_saved_series_starts_fresh_and_every_other_series_is_restored() {
    let scenario = Scenario::recent(2, 9.0, STEP).with_incident(0, 1.0, 30, 95.0);
    let prometheus = TestPrometheus::require(scenario.clone());
    let watcher = || {
        Watcher::new(fleet_params(&prometheus, Shard::default()).check().expect("valid"), None)
            .expect("watcher")
    };
    let mut watched = watcher();
    watched.round((scenario.incident().expect("incident").1.start + 180) as f64).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let good = dir.path().join("good.json");
    watched.save_state(&good).expect("save");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&good).expect("read")).expect("json");
    let instance = |i: usize| json["instances"][i]["instance"].as_str().expect("instance").to_owned();
    let metric =
        |i: usize, s: usize| json["instances"][i]["series"][s]["metric"].as_str().expect("metric").to_owned();
    let inconsistent =
        |i: usize, s: usize| format!("the {} state of {} is inconsistent", metric(i, s), instance(i));

    // (what is wrong, the change, the series still restored, what the report names)
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Change, usize, String)> = vec![
        (
            "forged indices",
            Box::new(|v| v["instances"][0]["series"][0]["detector"]["tracker"]["next_index"] = 0.into()),
            7,
            inconsistent(0, 0),
        ),
        (
            "a series of other parameters",
            Box::new(|v| v["instances"][1]["series"][2]["detector"]["params"]["threshold"] = 9.0.into()),
            7,
            inconsistent(1, 2),
        ),
        (
            "a negative score",
            Box::new(|v| v["instances"][0]["series"][3]["score"] = (-1.0).into()),
            7,
            inconsistent(0, 3),
        ),
        (
            "an instance that is no host:port",
            Box::new(|v| v["instances"][1]["instance"] = "not a host".into()),
            4,
            "instance `not a host`".into(),
        ),
        (
            "an instance saved twice",
            Box::new(|v| {
                let first = v["instances"][0].clone();
                v["instances"].as_array_mut().expect("instances").push(first);
            }),
            8,
            format!("instance `{}` is saved twice", instance(0)),
        ),
        (
            "a series saved twice",
            Box::new(|v| {
                let first = v["instances"][1]["series"][0].clone();
                v["instances"][1]["series"].as_array_mut().expect("series").push(first);
            }),
            8,
            format!("the {} state of {} is saved twice", metric(1, 0), instance(1)),
        ),
        (
            "an instance never seen",
            Box::new(|v| v["instances"][0]["last_seen"] = serde_json::Value::Null),
            4,
            format!("{} has no time it was last seen", instance(0)),
        ),
    ];
    for (what, change, series, named) in cases {
        let mut value = json.clone();
        change(&mut value);
        let path = dir.path().join("forged.json");
        std::fs::write(&path, serde_json::to_vec(&value).expect("json")).expect("write");
        let mut fresh = watcher();
        let restored = fresh.restore_state(&path).expect("a usable file");
        assert_eq!(restored.series, series, "{what}");
        assert_eq!(restored.refused.len(), 1, "{what}: {:?}", restored.refused);
        assert_eq!(restore_gauges(&fresh), [series as f64, 1.0, 0.0], "{what}: exported");
        assert!(
            restored.refused[0].starts_with(&named),
            "{what}: {:?} should name {named}",
            restored.refused
        );
        // The refused series start fresh; the others continue: the next checkpoint keeps every
        // restored series' state as saved.
        let resaved = dir.path().join("resaved.json");
        fresh.save_state(&resaved).expect("save");
        let resaved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&resaved).expect("read")).expect("json");
        let states = |file: &serde_json::Value| -> Vec<String> {
            let instances = file["instances"].as_array().expect("instances");
            let series = instances.iter().flat_map(|i| i["series"].as_array().expect("series").iter());
            series.map(|s| s["detector"].to_string()).collect()
        };
        let kept = states(&resaved).iter().filter(|s| states(&json).contains(s)).count();
        assert_eq!(kept, series, "{what}: the restored series' states are kept exactly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_gauges_pushed_by_remote_write_read_back_as_exported() {
    let scenario = Scenario::recent(2, 9.0, STEP).with_incident(0, 1.0, 30, 95.0);
    let prometheus =
        TestPrometheus::require_with_flags(scenario.clone(), &["--web.enable-remote-write-receiver"]);
    let write = ClientConfig::from_url(&format!("{}/api/v1/write", prometheus.url())).expect("a URL");
    let params = WatchParams { remote_write: Some(write), ..fleet_params(&prometheus, Shard::default()) };
    let mut watcher = Watcher::new(params.check().expect("valid"), None).expect("watcher");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let round = watcher.round(now as f64).await;
    // 2 instances x 4 metrics: a score and an open flag each, and the incident's start.
    assert!(round.pushed >= 16, "{round:?}");
    let exposition = watcher.metrics().encode();
    let client = aiops_promclient::PromClient::new(ClientConfig::from_url(&prometheus.url()).expect("a URL"))
        .expect("client");
    for name in ["aiops_anomaly_score", "aiops_incident_open", "aiops_incident_start_timestamp_seconds"] {
        let read =
            client.query(&format!(r#"{name}{{job="aiops-watch"}}"#), now as i64 + 1).await.expect("query");
        let exported: Vec<&str> =
            exposition.lines().filter(|l| l.starts_with(&format!("{name}{{"))).collect();
        assert_eq!(read.len(), exported.len(), "{name}: {read:?}");
        for sample in read {
            let (instance, metric) = (&sample.labels["instance"], &sample.labels["metric"]);
            assert_eq!(
                Some(sample.sample.value),
                series_value(&exposition, name, instance, metric),
                "{name} {instance} {metric}"
            );
        }
    }
}

/// Restores `bytes` as a state file into a fresh watcher; when it is accepted, what the watcher
/// then saves restores again completely and saves the same bytes (no restored series holds a
/// state that does not round-trip). Returns whether it was accepted.
fn check_state_file(watcher: &dyn Fn() -> Watcher, dir: &std::path::Path, bytes: &[u8]) -> bool {
    let (file, resaved) = (dir.join("mutated.json"), dir.join("resaved.json"));
    std::fs::write(&file, bytes).expect("write");
    let mut restored = watcher();
    if restored.restore_state(&file).is_err() {
        assert!(restored.instances().is_empty(), "a refused file changes nothing");
        return false;
    }
    restored.save_state(&resaved).expect("an accepted state saves");
    let first = std::fs::read(&resaved).expect("read");
    let mut again = watcher();
    let report = again.restore_state(&resaved).expect("a saved state restores");
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    again.save_state(&resaved).expect("save");
    assert!(std::fs::read(&resaved).expect("read") == first, "restoring and saving changes nothing");
    true
}

#[tokio::test]
async fn every_mutation_of_a_state_file_is_refused_or_restores_a_state_that_saves_and_restores_again() {
    let scenario = Scenario::recent(2, 9.0, STEP).with_incident(0, 1.0, 30, 95.0);
    let prometheus = TestPrometheus::require(scenario.clone());
    let params = || WatchParams { metrics: vec![Metric::Cpu], ..fleet_params(&prometheus, Shard::default()) };
    let watcher = || Watcher::new(params().check().expect("valid"), None).expect("watcher");
    let mut watched = watcher();
    watched.round((scenario.incident().expect("incident").1.start + 180) as f64).await;
    let dir = tempfile::tempdir().expect("temporary folder");
    let good = dir.path().join("good.json");
    watched.save_state(&good).expect("save");
    let seed = std::fs::read(&good).expect("read");
    assert!(check_state_file(&watcher, dir.path(), &seed), "the saved file restores");

    // Every field outside the detector states (those have their own test in aiops-incidents) set
    // to each extreme value.
    let json: serde_json::Value = serde_json::from_slice(&seed).expect("json");
    let (mut accepted, mut variants) = (0, 0);
    let wrappers = aiops_testkit::mutate::scalar_pointers(&json);
    let wrappers = wrappers.iter().filter(|p| !(p.contains("/series/") && p.contains("/detector/")));
    for pointer in wrappers {
        for value in aiops_testkit::mutate::extremes() {
            let mut edited = json.clone();
            *edited.pointer_mut(pointer).expect("a scalar") = value;
            variants += 1;
            accepted += usize::from(check_state_file(
                &watcher,
                dir.path(),
                &serde_json::to_vec(&edited).expect("json"),
            ));
        }
    }
    // And byte-level mutations of the whole file.
    for bytes in aiops_testkit::mutate::Mutator::new(21).variants(&[&seed], 2_000) {
        variants += 1;
        accepted += usize::from(check_state_file(&watcher, dir.path(), &bytes));
    }
    assert!(
        accepted > 0 && accepted < variants,
        "{accepted} of {variants} accepted: the test reaches both sides"
    );
}

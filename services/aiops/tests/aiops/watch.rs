//! `aiops watch` against a real Prometheus: an instance in the middle of an incident is reported
//! anomalous, a normal one normal, and a second real Prometheus scrapes the verdicts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aiops_features::FeatureSchema;
use aiops_iforest::{Contamination, IsolationForest, IsolationForestParams, Model};
use aiops_testkit::prometheus::{Scenario, TestPrometheus};
use aiops_testkit::{ChildGuard, free_port, wait_for_port};

const INCIDENT: &str = "10.0.0.1:9100";
const NORMAL: &str = "10.0.0.2:9100";
const CONTAMINATION: f64 = 0.01;
/// Fewest anomalous points the incident instance shows in the last hour (8 in simulation).
const MIN_INCIDENT_ANOMALIES: f64 = 6.0;
/// Most anomalous points the normal instance shows in the last hour (7 in simulation).
const MAX_NORMAL_ANOMALIES: f64 = 10.0;

/// A plain HTTP/1.0 GET on loopback: the body, or `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Polls `probe` every 200 ms until it returns `Some`, panicking with `what` after `timeout`.
fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of the sample `name{instance="..",metric="cpu"}` in an exposition.
fn sample(exposition: &str, name: &str, instance: &str) -> Option<f64> {
    let prefix = format!("{name}{{instance=\"{instance}\",metric=\"cpu\"}} ");
    exposition.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

/// A model trained on the normal instance's whole day (every hour of the day is covered).
fn train_on_normal_instance(scenario: &Scenario, path: &Path) {
    let (timestamps, values): (Vec<f64>, Vec<f64>) =
        scenario.timestamps().filter_map(|t| scenario.expected_cpu(NORMAL, t).map(|v| (t as f64, v))).unzip();
    let schema = FeatureSchema::reference();
    let x = schema.compute(&timestamps, &values).expect("features");
    let params = IsolationForestParams {
        contamination: Contamination::Fraction(CONTAMINATION),
        ..IsolationForestParams::reference()
    };
    let forest = IsolationForest::fit(&params, x.view()).expect("fit");
    let record = aiops_artifacts::model::schema_record(&schema);
    let model = Model::new(forest, schema.columns.clone(), Some(record), x.view()).expect("model");
    std::fs::write(path, model.to_bytes()).expect("model file");
}

#[test]
fn watch_flags_the_incident_instance_and_a_real_prometheus_scrapes_the_verdicts() {
    // Two instances over the last day at 1-minute steps; the first is 15 minutes into a 95 % incident.
    let scenario = Scenario::recent(2, 24.0, 60).with_incident(0, 0.25, 30, 95.0);
    let dir = tempfile::tempdir().expect("temporary folder");
    let model = dir.path().join("model.iforest");
    train_on_normal_instance(&scenario, &model);
    let source = TestPrometheus::require(scenario);

    let port = free_port();
    let watch = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["watch", "--prometheus-url", &source.url(), "--model"])
        .arg(&model)
        .args(["--instance", INCIDENT, "--instance", NORMAL, "--metric", "cpu", "--step", "60s"])
        .args([
            "--interval",
            "1s",
            "--lookback",
            "2h",
            "--delay",
            "3m",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("aiops watch starts");
    let _watch = ChildGuard(watch);
    wait_for_port(port, Duration::from_secs(30));

    let exposition = eventually("both instances scored", Duration::from_secs(30), || {
        let text = http_get(port, "/metrics")?;
        [INCIDENT, NORMAL].iter().all(|i| sample(&text, "aiops_watch_anomaly", i).is_some()).then_some(text)
    });
    let value = |name, instance| {
        sample(&exposition, name, instance).unwrap_or_else(|| panic!("{name} of {instance}"))
    };
    // The backfilled data ends two minutes before now; `--delay 3m` keeps every scored point
    // inside it. The data's phase (noise, hour of day) follows the wall clock, so the bounds
    // below hold for every phase, not one run: simulating the test's data and model at 1,440
    // phases gave the incident instance 8 to 43 anomalous points in the last hour and at least
    // 2 more than the normal one, which had 0 to 7. A model trained with contamination 0.01
    // flags about 1 % of normal points by definition, so the normal instance's newest point is
    // checked for consistency, not for a verdict.
    let incident_anomalies = value("aiops_watch_anomalies_last_hour", INCIDENT);
    let normal_anomalies = value("aiops_watch_anomalies_last_hour", NORMAL);
    assert!(value("aiops_watch_incidents_total", INCIDENT) >= 1.0, "{exposition}");
    assert!(incident_anomalies >= MIN_INCIDENT_ANOMALIES, "{exposition}");
    assert!(normal_anomalies <= MAX_NORMAL_ANOMALIES, "{exposition}");
    assert!(incident_anomalies > normal_anomalies, "{exposition}");
    assert_eq!(value("aiops_watch_points_last_hour", NORMAL), 60.0, "one point a minute: {exposition}");
    assert!(value("aiops_watch_anomaly_rate", INCIDENT) > 5.0 * CONTAMINATION, "drift visible: {exposition}");
    let newest_is_anomalous = value("aiops_watch_decision_score", NORMAL) < 0.0;
    assert_eq!(
        value("aiops_watch_anomaly", NORMAL),
        f64::from(u8::from(newest_is_anomalous)),
        "{exposition}"
    );
    assert!(exposition.contains("aiops_watch_model_contamination 0.01"), "{exposition}");

    // A second, real Prometheus scrapes the watcher like the ServiceMonitor does (honor_labels).
    let scraper_dir = tempfile::tempdir().expect("temporary folder");
    let config = scraper_dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: aiops-watch\n    honor_labels: true\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .expect("scrape config");
    let scraper_port = free_port();
    let scraper = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", scraper_dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{scraper_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _scraper = ChildGuard(scraper);
    wait_for_port(scraper_port, Duration::from_secs(30));
    let scraped = eventually("the scraped verdicts", Duration::from_secs(60), || {
        let body = http_get(scraper_port, "/api/v1/query?query=aiops_watch_anomalies_last_hour")?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let results = json["data"]["result"].as_array()?.clone();
        (results.len() == 2).then_some(results)
    });
    for result in &scraped {
        let instance = result["metric"]["instance"].as_str().expect("our instance label, honoured");
        assert_eq!(result["metric"]["job"], "aiops-watch");
        let anomalies: f64 = result["value"][1].as_str().and_then(|v| v.parse().ok()).expect("a number");
        if instance == INCIDENT {
            assert!(anomalies >= MIN_INCIDENT_ANOMALIES, "{result}");
        } else {
            assert!(anomalies <= MAX_NORMAL_ANOMALIES, "{result}");
        }
    }
}

/// The instances whose `aiops_anomaly_score` of `metric` an exposition carries, sorted.
fn scored_instances(exposition: &str, metric: &str) -> Vec<String> {
    let suffix = format!("\",metric=\"{metric}\"}}");
    let mut instances: Vec<String> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("aiops_anomaly_score{instance=\""))
        .filter_map(|rest| rest.split_once(' ').map(|(labels, _)| labels))
        .filter_map(|labels| labels.strip_suffix(&suffix))
        .map(str::to_owned)
        .collect();
    instances.sort();
    instances
}

/// `aiops watch --job node` as shard `shard` of 3, checkpointing to `state` every `every`.
fn fleet_watch(
    source: &TestPrometheus,
    shard: u32,
    port: u16,
    state: &Path,
    every: &str,
    log: &Path,
) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["--log-format", "json", "watch", "--prometheus-url", &source.url(), "--job", "node"])
        .args(["--metric", "cpu,memory"])
        .args(["--shard", &format!("{shard}/3"), "--interval", "1s", "--lookback", "2h", "--delay", "3m"])
        .arg("--state-file")
        .arg(state)
        .args(["--checkpoint-interval", every, "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("aiops watch starts");
    wait_for_port(port, Duration::from_secs(30));
    ChildGuard(child)
}

#[test]
fn three_fleet_processes_watch_every_instance_once_and_one_resumes_from_its_state_after_kill_9_and_checkpoints_at_sigterm()
 {
    let scenario = Scenario::recent(6, 3.0, 60);
    let all: std::collections::BTreeSet<String> =
        scenario.instances.iter().map(|s| s.instance.clone()).collect();
    let source = TestPrometheus::require(scenario);
    let dir = tempfile::tempdir().expect("temporary folder");
    let ports = [free_port(), free_port(), free_port()];
    let state = |i: usize| dir.path().join(format!("state-{i}.json"));
    let log = |i: usize, run: usize| dir.path().join(format!("watch-{i}-{run}.log"));
    let mut watchers: Vec<ChildGuard> =
        (0..3).map(|i| fleet_watch(&source, i as u32, ports[i], &state(i), "1s", &log(i, 0))).collect();

    // Each shard scores its own instances (cpu and memory) and together they cover the fleet once.
    let owned: Vec<Vec<String>> = ports
        .iter()
        .map(|&port| {
            eventually("a shard's first round", Duration::from_secs(30), || {
                let text = http_get(port, "/metrics")?;
                let cpu = scored_instances(&text, "cpu");
                let instances = text.lines().find_map(|l| l.strip_prefix("aiops_watch_instances "))?;
                (instances.trim().parse::<usize>().ok()? == cpu.len()
                    && scored_instances(&text, "memory") == cpu)
                    .then_some(cpu)
            })
        })
        .collect();
    let mut union = std::collections::BTreeSet::new();
    for instance in owned.iter().flatten() {
        assert!(union.insert(instance.clone()), "{instance} is watched twice: {owned:?}");
    }
    assert_eq!(union, all, "{owned:?}");

    // kill -9 after a checkpoint; the restarted process restores every series of its shard.
    eventually("a checkpoint", Duration::from_secs(30), || state(0).exists().then_some(()));
    watchers[0].0.kill().expect("SIGKILL");
    watchers[0].0.wait().expect("reaped");
    watchers[0] = fleet_watch(&source, 0, ports[0], &state(0), "1h", &log(0, 1));
    let restored = format!("\"series\":{}", 2 * owned[0].len());
    eventually("the state restored", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(log(0, 1)).ok()?;
        text.lines().any(|l| l.contains("state restored") && l.contains(&restored)).then_some(())
    });
    let again = eventually("the restarted shard's round", Duration::from_secs(30), || {
        let cpu = scored_instances(&http_get(ports[0], "/metrics")?, "cpu");
        (cpu.len() == owned[0].len()).then_some(cpu)
    });
    assert_eq!(again, owned[0]);

    // SIGTERM: each watcher shuts down cleanly (exit status 0, not killed by the signal) and
    // writes a last checkpoint: the restarted one (no periodic checkpoint yet) and one that
    // has checkpointed every second.
    std::fs::remove_file(state(0)).expect("the restored file");
    for i in [0, 1] {
        let pid = watchers[i].0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
        let status =
            eventually("the shutdown", Duration::from_secs(30), || watchers[i].0.try_wait().ok().flatten());
        assert!(status.success(), "shard {i}: {status:?}");
        let last = std::fs::read_to_string(state(i)).expect("a checkpoint written at shutdown");
        assert!(owned[i].iter().all(|instance| last.contains(instance.as_str())), "{last}");
    }
}

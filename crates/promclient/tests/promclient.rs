//! Integration tests against a real Prometheus (Debian's 2.42) backfilled by promtool with
//! generated node-exporter metrics (`aiops_testkit::prometheus`): two instances, 24 h at 10 s,
//! a CPU incident on the first.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aiops_promclient::{
    ClientConfig, Error, FleetNode, FleetQuery, FleetSeries, Instance, LabelSelector, Metric, PromClient,
    RemoteWriter, Sample, TimeSeries, TimeWindow, Tls, Written,
};
use aiops_testkit::http::{padded_answer, raw_server};
use aiops_testkit::prometheus::{self, Scenario, TestPrometheus};

/// Fetched CPU usage may differ from the generated ground truth by at most this many
/// percentage points (floating-point rounding in Prometheus' rate and average only).
const CPU_TOLERANCE: f64 = 1e-6;

const STEP: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

fn client_for(url: &str) -> PromClient {
    PromClient::new(ClientConfig::from_url(url).unwrap()).unwrap()
}

fn instance(text: &str) -> Instance {
    Instance::parse(text).unwrap()
}

/// The window of the whole scenario, minus the first rate window (no full 5 m of data there).
fn full_window(scenario: &Scenario) -> TimeWindow {
    TimeWindow::new((scenario.start + prometheus::RATE_WINDOW_SECONDS) as f64, scenario.end as f64).unwrap()
}

#[test]
fn fetched_cpu_usage_matches_the_generated_usage() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let client = client_for(&prometheus.url());
    for spec in &scenario.instances {
        let series = runtime()
            .block_on(client.fetch(
                &instance(&spec.instance),
                &Metric::Cpu,
                full_window(scenario),
                STEP,
                None,
            ))
            .unwrap();
        assert_eq!(series.value_column, "cpu_usage");
        assert_eq!(series.timestamps.len(), (scenario.end - scenario.start - 300) as usize / 10 + 1);
        for (&t, &value) in series.timestamps.iter().zip(&series.values) {
            let expected = scenario.expected_cpu(&spec.instance, t as u64).expect("a sample time");
            assert!(
                (value - expected).abs() <= CPU_TOLERANCE,
                "{} at {t}: fetched {value}, generated {expected}",
                spec.instance
            );
        }
    }
}

#[test]
fn the_incident_is_visible() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let (spec, incident) = scenario.incident().expect("the scenario has an incident");
    let around = TimeWindow::new((incident.start - 3600) as f64, (incident.end + 3600) as f64).unwrap();
    let series = runtime()
        .block_on(client_for(&prometheus.url()).fetch(
            &instance(&spec.instance),
            &Metric::Cpu,
            around,
            STEP,
            None,
        ))
        .unwrap();
    let during = |t: f64| t >= (incident.start + 300) as f64 && t <= incident.end as f64;
    let (inside, outside): (Vec<_>, Vec<_>) =
        series.timestamps.iter().zip(&series.values).partition(|(t, _)| during(**t));
    assert!(inside.iter().all(|(_, v)| **v > 85.0), "usage during the incident should be near 95 %");
    let quiet = outside.iter().filter(|(_, v)| **v < 50.0).count();
    assert!(quiet > outside.len() * 8 / 10, "usage outside the incident should mostly be normal");
}

/// The generated value of a metric at a sample time.
type Expected<'a> = dyn Fn(u64) -> f64 + 'a;

#[test]
fn memory_disk_and_network_match_the_generated_values() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let client = client_for(&prometheus.url());
    let node = instance(&scenario.instances[1].instance);
    let window = TimeWindow::new((scenario.end - 3600) as f64, scenario.end as f64).unwrap();
    let network_expected =
        |t: u64| (0..30).map(|k| prometheus::network_rx_rate(t - k * 10)).sum::<f64>() / 30.0;
    let cases: [(Metric, &str, &Expected<'_>); 3] = [
        (Metric::Memory, "memory_usage", &prometheus::memory_usage),
        (Metric::parse("disk").unwrap(), "disk_usage", &prometheus::disk_usage),
        (Metric::Network, "network_rx_bytes", &network_expected),
    ];
    for (metric, column, expected) in cases {
        let series = runtime().block_on(client.fetch(&node, &metric, window, STEP, None)).unwrap();
        assert_eq!(series.value_column, column);
        assert_eq!(series.timestamps.len(), 361, "{column}");
        for (&t, &value) in series.timestamps.iter().zip(&series.values) {
            let want = expected(t as u64);
            assert!((value - want).abs() <= 1e-6 * want.abs().max(1.0), "{column} at {t}: {value} vs {want}");
        }
    }
}

#[test]
fn a_fetch_over_11000_points_is_chunked_without_gaps_or_duplicates() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let step = Duration::from_secs(5);
    let window = full_window(scenario);
    let chunks = Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| chunks.lock().unwrap().push((done, total));
    let client = client_for(&prometheus.url());
    let samples = runtime()
        .block_on(client.query_range(
            &Metric::Cpu.query(&instance(&scenario.instances[0].instance)).unwrap(),
            window.start,
            window.end,
            step,
            Some(&progress),
        ))
        .unwrap();
    let expected_points = ((window.end - window.start) / 5.0) as usize + 1;
    assert!(expected_points > 11_000);
    assert_eq!(samples.len(), expected_points, "one point per step, none missing");
    assert_eq!(samples[0].timestamp, window.start);
    for pair in samples.windows(2) {
        assert_eq!(pair[1].timestamp - pair[0].timestamp, 5.0, "strictly increasing, no gaps, no duplicates");
    }
    assert_eq!(*chunks.lock().unwrap(), vec![(1, 2), (2, 2)]);

    // Many small chunks give exactly the same points as two large ones.
    let mut config = ClientConfig::from_url(&prometheus.url()).unwrap();
    config.max_points_per_query = 997;
    let small_chunks = runtime()
        .block_on(PromClient::new(config).unwrap().query_range(
            &Metric::Cpu.query(&instance(&scenario.instances[0].instance)).unwrap(),
            window.start,
            window.end,
            step,
            None,
        ))
        .unwrap();
    assert_eq!(small_chunks, samples);
}

/// Injection attempts from the reference's bug report and variations on it.
const INJECTIONS: [&str; 6] = [
    r#"x"} or vector(1337) or {a=""#,
    r#"10.0.0.1:9100"} or vector(1337) or {a=""#,
    "10.0.0.1:9100\"}[5m]) or vector(1) #",
    "10.0.0.1:9100\n",
    "10.0.0.1:9100\\",
    "10.0.0.01:9100",
];

#[test]
fn injection_strings_are_refused_before_any_request() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let client = client_for(&format!("http://{}", listener.local_addr().unwrap()));
    for injection in INJECTIONS {
        assert!(
            matches!(Instance::parse(injection), Err(Error::InvalidInstance { .. })),
            "{injection:?} must be refused"
        );
    }
    let unquoted =
        [r"up{instance={instance}}", r"up{instance=`{instance}`}", r"up{instance='{instance}'}", "up"];
    for template in unquoted {
        assert!(matches!(Metric::custom(template, "up"), Err(Error::InvalidTemplate { .. })), "{template}");
        // Even a template that skipped `Metric::custom` is refused by `fetch` before any request.
        let metric = Metric::Custom { template: template.to_owned(), value_column: "up".into() };
        let outcome = runtime().block_on(client.fetch(
            &instance("10.0.0.1:9100"),
            &metric,
            TimeWindow::last(Duration::from_secs(600)),
            STEP,
            None,
        ));
        assert!(matches!(outcome, Err(Error::InvalidTemplate { .. })), "{template}: {outcome:?}");
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection may reach the server"
    );
}

#[test]
fn an_escaped_job_matcher_cannot_widen_discovery() {
    let prometheus = TestPrometheus::shared();
    let client = client_for(&prometheus.url());
    let listed = runtime().block_on(client.list_instances("node")).unwrap();
    let names: Vec<&str> = prometheus.scenario().instances.iter().map(|s| s.instance.as_str()).collect();
    assert_eq!(listed, names);
    let injected = runtime().block_on(client.list_instances(r#"x"} or vector(1337) or {a=""#)).unwrap();
    assert!(injected.is_empty(), "the injection must be a harmless regular expression: {injected:?}");
}

#[test]
fn no_data_names_the_instance_window_and_the_instances_with_data() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let client = client_for(&prometheus.url());
    let window = TimeWindow::last(Duration::from_secs(7200));
    let outcome =
        runtime().block_on(client.fetch(&instance("10.9.9.9:9100"), &Metric::Cpu, window, STEP, None));
    let Err(error @ Error::NoData { .. }) = outcome else { panic!("expected NoData, got {outcome:?}") };
    let message = error.to_string();
    assert!(message.contains("10.9.9.9:9100") && message.contains("UTC"), "{message}");
    for spec in &scenario.instances {
        assert!(message.contains(&spec.instance), "{message} should list {}", spec.instance);
    }
    // A window before the data: nobody has data.
    let before = TimeWindow::new((scenario.start - 7200) as f64, (scenario.start - 3600) as f64).unwrap();
    let outcome =
        runtime().block_on(client.fetch(&instance("10.0.0.1:9100"), &Metric::Cpu, before, STEP, None));
    assert!(matches!(&outcome, Err(Error::NoData { available, .. }) if available.is_empty()), "{outcome:?}");
}

#[test]
fn a_prometheus_4xx_surfaces_its_message() {
    let prometheus = TestPrometheus::shared();
    let now = TimeWindow::last(Duration::from_secs(600));
    let outcome = runtime().block_on(client_for(&prometheus.url()).query_range(
        "rate(node_cpu_seconds_total[5m]",
        now.start,
        now.end,
        STEP,
        None,
    ));
    match outcome {
        Err(Error::Prometheus { status: 400, error_type, message }) => {
            assert_eq!(error_type, "bad_data");
            assert!(message.contains("parse error"), "{message}");
        }
        other => panic!("expected Prometheus' 400, got {other:?}"),
    }
}

#[test]
fn a_base_url_with_trailing_slash_works() {
    let prometheus = TestPrometheus::shared();
    let client = client_for(&format!("{}/", prometheus.url()));
    assert_eq!(runtime().block_on(client.list_instances("node.*")).unwrap().len(), 2);
}

#[test]
fn a_stopped_prometheus_gives_a_clear_error_within_the_timeout() {
    let mut prometheus = TestPrometheus::require(Scenario::recent(1, 0.5, 10));
    let mut config = ClientConfig::from_url(&prometheus.url()).unwrap();
    config.timeout = Duration::from_secs(2);
    config.retries = 2;
    let client = PromClient::new(config).unwrap();
    let node = instance("10.0.0.1:9100");
    let window = TimeWindow::last(Duration::from_secs(900));
    assert!(runtime().block_on(client.fetch(&node, &Metric::Cpu, window, STEP, None)).is_ok());
    prometheus.stop();
    let started = Instant::now();
    let outcome = runtime().block_on(client.fetch(&node, &Metric::Cpu, window, STEP, None));
    let elapsed = started.elapsed();
    let Err(error @ Error::Connection { attempts: 3, .. }) = outcome else {
        panic!("expected a connection error after 3 attempts, got {outcome:?}")
    };
    assert!(error.to_string().contains(&prometheus.url()), "{error}");
    // Three refused connections and two backoffs (0.1 s, 0.2 s): far below one 2 s timeout
    // per attempt. Generous bound: the machine is shared.
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

/// A loopback HTTP server answering every request with `status` and `body`, keeping the
/// request heads.
fn canned_server(status: u16, body: &'static str) -> (String, &'static Mutex<Vec<String>>) {
    raw_server(move |_, _| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    })
}

fn redirect_to(location: &str) -> String {
    format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

const INSTANCES: &str = r#"{"status":"success","data":["10.0.0.1:9100"]}"#;

fn instances_reply() -> String {
    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{INSTANCES}", INSTANCES.len())
}

#[test]
fn a_redirect_to_another_origin_is_not_followed() {
    let (elsewhere, received_elsewhere) = raw_server(|_, _| instances_reply());
    let target = format!("{elsewhere}/api/v1/label/instance/values");
    let (url, received) = raw_server(move |_, _| redirect_to(&target));
    let outcome = runtime().block_on(client_for(&url).list_instances("node"));
    let Err(error @ Error::Prometheus { status: 307, .. }) = outcome else { panic!("{outcome:?}") };
    assert!(error.to_string().contains(&elsewhere), "names where it pointed: {error}");
    assert_eq!(received.lock().unwrap().len(), 1);
    assert!(received_elsewhere.lock().unwrap().is_empty(), "the query was sent to another origin");
}

#[test]
fn an_answer_larger_than_max_answer_bytes_is_refused_by_name() {
    const LIMIT: usize = 1 << 20;
    for announced in [true, false] {
        let (url, _) = raw_server(move |_, _| padded_answer(INSTANCES, LIMIT + 1, announced));
        let config = ClientConfig { max_answer_bytes: LIMIT, ..ClientConfig::from_url(&url).unwrap() };
        let outcome = runtime().block_on(PromClient::new(config).unwrap().list_instances("node"));
        let Err(error @ Error::Decode { .. }) = outcome else { panic!("announced {announced}: {outcome:?}") };
        assert!(error.to_string().contains("larger than 1048576 bytes (max_answer_bytes)"), "{error}");
        // the same answer at the limit is read
        let (url, _) = raw_server(move |_, _| padded_answer(INSTANCES, LIMIT, announced));
        let config = ClientConfig { max_answer_bytes: LIMIT, ..ClientConfig::from_url(&url).unwrap() };
        let instances = runtime().block_on(PromClient::new(config).unwrap().list_instances("node")).unwrap();
        assert_eq!(instances, ["10.0.0.1:9100"], "announced {announced}");
    }
    let zero =
        ClientConfig { max_answer_bytes: 0, ..ClientConfig::from_url("http://127.0.0.1:9090").unwrap() };
    assert!(matches!(PromClient::new(zero), Err(Error::InvalidParameter { field: "max_answer_bytes", .. })));
}

#[test]
fn a_redirect_within_the_origin_is_followed() {
    let (url, received) = raw_server(|own, head| {
        if head.contains(" /prefix/") {
            instances_reply()
        } else {
            redirect_to(&format!("{own}/prefix/api/v1/label/instance/values"))
        }
    });
    let instances = runtime().block_on(client_for(&url).list_instances("node")).unwrap();
    assert_eq!(instances, ["10.0.0.1:9100"]);
    assert_eq!(received.lock().unwrap().len(), 2);
}

#[test]
fn a_ca_certificate_file_larger_than_max_certificate_bytes_is_refused_by_name() {
    let endless = Tls { ca_certificate: Some("/dev/zero".into()), ..Tls::default() };
    let config = ClientConfig { tls: endless, ..ClientConfig::from_url("https://prometheus:9090").unwrap() };
    let outcome = PromClient::new(config);
    let Err(error @ Error::Certificate { .. }) = outcome else { panic!("{outcome:?}") };
    let chain = aiops_text::error_chain(&error);
    assert!(chain.contains("/dev/zero") && chain.contains("larger than 16 MiB"), "{chain}");
}

#[test]
fn credentials_in_the_url_are_sent_but_never_shown() {
    let (url, received) = raw_server(|_, _| instances_reply());
    let with_credentials = url.replace("http://", "http://bob:PASS%40WORD@");
    let client = client_for(&with_credentials);
    assert!(!format!("{client:?}").contains("PASS"), "{client:?}");
    runtime().block_on(client.list_instances("node")).unwrap();
    // bob:PASS@WORD in base64.
    assert!(received.lock().unwrap()[0].contains("authorization: Basic Ym9iOlBBU1NAV09SRA=="));
    // A refused connection: the error and its whole chain name the URL without the password.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut config = ClientConfig::from_url(&format!("http://bob:PASSWORD@127.0.0.1:{port}")).unwrap();
    config.retries = 0;
    let outcome = runtime().block_on(PromClient::new(config).unwrap().list_instances("node"));
    let error = outcome.unwrap_err();
    let mut chain = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(chain.contains(&format!("127.0.0.1:{port}")), "{chain}");
    assert!(!chain.contains("PASSWORD"), "{chain}");
    let bad = ClientConfig::from_url("http//bob:PASSWORD@host").unwrap_err().to_string();
    assert!(!bad.contains("PASSWORD"), "{bad}");
}

#[test]
fn a_remote_error_body_cannot_drive_the_terminal() {
    let (url, _) = canned_server(502, "<html>\u{1b}]0;pwned\u{7}\u{1b}[2J bad gateway</html>");
    let mut config = ClientConfig::from_url(&url).unwrap();
    config.retries = 0;
    let outcome = runtime().block_on(PromClient::new(config).unwrap().list_instances("node"));
    let message = outcome.unwrap_err().to_string();
    assert!(!message.contains('\u{1b}') && !message.contains('\u{7}'), "{message:?}");
    assert!(message.contains("\\u{1b}]0;pwned"), "{message:?}");
}

#[test]
fn retries_follow_5xx_but_never_4xx() {
    let cases = [
        (503, r#"{"status":"error","errorType":"unavailable","error":"overloaded"}"#, 3),
        (422, r#"{"status":"error","errorType":"execution","error":"query too heavy"}"#, 1),
        (400, r#"{"status":"error","errorType":"bad_data","error":"bad step"}"#, 1),
    ];
    for (status, body, expected_requests) in cases {
        let (url, requests) = canned_server(status, body);
        let mut config = ClientConfig::from_url(&url).unwrap();
        config.retries = 2;
        let window = TimeWindow::last(Duration::from_secs(600));
        let outcome = runtime().block_on(PromClient::new(config).unwrap().query_range(
            "up",
            window.start,
            window.end,
            STEP,
            None,
        ));
        assert!(matches!(&outcome, Err(Error::Prometheus { status: s, .. }) if *s == status), "{outcome:?}");
        assert_eq!(requests.lock().unwrap().len(), expected_requests, "HTTP {status}");
    }
}

#[test]
fn nan_and_infinite_samples_are_dropped() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let window = full_window(scenario);
    // Division by zero every other minute: +Inf, NaN (0/0) or finite values.
    let query = r#"(vector(time()) % 120 > bool 60) / (vector(time()) % 120 > bool 60)"#;
    let samples: Vec<Sample> = runtime()
        .block_on(client_for(&prometheus.url()).query_range(query, window.start, window.end, STEP, None))
        .unwrap();
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| s.value == 1.0), "only the finite 1/1 points remain");
}

// --- remote write ------------------------------------------------------------------------------

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn series(name: &str, labels: &[(&str, &str)], samples: Vec<Sample>) -> TimeSeries {
    TimeSeries {
        name: name.into(),
        labels: labels.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
        samples,
    }
}

fn writer_for(url: &str) -> RemoteWriter {
    RemoteWriter::new(ClientConfig::from_url(url).unwrap()).unwrap()
}

#[test]
fn remote_written_samples_read_back_exactly_with_their_labels() {
    let prometheus = TestPrometheus::require_with_flags(
        Scenario::recent(1, 0.5, 60),
        &["--web.enable-remote-write-receiver"],
    );
    // After the backfilled data (Prometheus refuses samples older than its newest block), on
    // the 10 s grid of the range query below.
    let base = (unix_now() - 60) / 10 * 10;
    let labels = [("metric", "cpu"), ("job", "aiops-watch"), ("instance", "10.0.0.7:9100")];
    let at = |offset: i64, value: f64| Sample { timestamp: (base + offset) as f64, value };
    // 4,500 samples 10 ms apart: three requests of at most 2,000 samples.
    let many: Vec<Sample> = (0..4_500)
        .map(|i| Sample { timestamp: (base - 50) as f64 + i as f64 * 0.01, value: i as f64 })
        .collect();
    let written = runtime()
        .block_on(writer_for(&format!("{}/api/v1/write", prometheus.url())).write(&[
            series("aiops_test_batch", &[("instance", "10.0.0.7:9100")], many),
            series("aiops_anomaly_score", &labels, vec![at(0, 0.25), at(10, 1.5), at(20, 3.0)]),
            series("aiops_incident_open", &labels, vec![at(0, 0.0), at(10, 1.0), at(20, 1.0)]),
        ]))
        .unwrap();
    assert_eq!(written, Written { requests: 3, samples: 4_506 });

    let client = client_for(&prometheus.url());
    let read = runtime().block_on(client.query("aiops_anomaly_score", base + 20)).unwrap();
    let [only] = &read[..] else { panic!("one series expected: {read:?}") };
    let expected_labels: Vec<(&str, &str)> = vec![
        ("__name__", "aiops_anomaly_score"),
        ("instance", "10.0.0.7:9100"),
        ("job", "aiops-watch"),
        ("metric", "cpu"),
    ];
    assert_eq!(
        only.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
        expected_labels
    );
    assert_eq!(only.sample, Sample { timestamp: (base + 20) as f64, value: 3.0 });
    let range = runtime()
        .block_on(client.query_range(
            r#"aiops_incident_open{instance="10.0.0.7:9100"}"#,
            base as f64,
            (base + 20) as f64,
            STEP,
            None,
        ))
        .unwrap();
    assert_eq!(range, vec![at(0, 0.0), at(10, 1.0), at(20, 1.0)]);
    let count =
        runtime().block_on(client.query("count_over_time(aiops_test_batch[1m]) + 0", base - 5)).unwrap();
    assert_eq!(count[0].sample.value, 4_500.0, "every batched sample arrived once");
}

#[test]
fn a_refused_remote_write_names_the_status_and_the_receivers_reason() {
    let prometheus = TestPrometheus::require_with_flags(
        Scenario::recent(1, 0.5, 60),
        &["--web.enable-remote-write-receiver"],
    );
    let writer = writer_for(&format!("{}/api/v1/write", prometheus.url()));
    // Ten days before the backfilled data: outside what the head accepts.
    let old = series(
        "aiops_anomaly_score",
        &[("instance", "10.0.0.7:9100")],
        vec![Sample { timestamp: (unix_now() - 10 * 86_400) as f64, value: 1.0 }],
    );
    let outcome = runtime().block_on(writer.write(&[old]));
    match &outcome {
        Err(error @ Error::RemoteWrite { status: 400, message, .. }) => {
            assert!(message.contains("out of bounds"), "{message}");
            assert!(error.to_string().contains("/api/v1/write answered HTTP 400"), "{error}");
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    let nowhere = writer_for(&format!("{}/api/v1/no-such-receiver", prometheus.url()));
    let fresh = series("up", &[], vec![Sample { timestamp: unix_now() as f64, value: 1.0 }]);
    assert!(
        matches!(runtime().block_on(nowhere.write(&[fresh])), Err(Error::RemoteWrite { status: 404, .. })),
        "a wrong endpoint is a 404 error"
    );
}

#[test]
fn remote_write_sends_the_protocol_headers_retries_5xx_and_escapes_the_echoed_body_read_in_part() {
    let fresh = series("up", &[], vec![Sample { timestamp: 1.0e9, value: 1.0 }]);
    let (url, requests) = canned_server(503, "busy");
    let mut config = ClientConfig::from_url(&url).unwrap();
    config.retries = 2;
    let outcome = runtime().block_on(RemoteWriter::new(config).unwrap().write(std::slice::from_ref(&fresh)));
    assert!(matches!(outcome, Err(Error::RemoteWrite { status: 503, .. })), "{outcome:?}");
    let heads = requests.lock().unwrap().clone();
    assert_eq!(heads.len(), 3, "two retries after 5xx");
    let head = heads[0].to_ascii_lowercase();
    for header in [
        "content-encoding: snappy",
        "content-type: application/x-protobuf",
        "x-prometheus-remote-write-version: 0.1.0",
    ] {
        assert!(head.contains(header), "{header} missing in {head}");
    }
    assert!(head.starts_with("post "), "{head}");

    let (url, requests) = canned_server(400, "bad \u{1b}[31m sample");
    let outcome = runtime().block_on(writer_for(&url).write(std::slice::from_ref(&fresh)));
    let Err(Error::RemoteWrite { status: 400, message, .. }) = outcome else { panic!("{outcome:?}") };
    assert_eq!(message, r"bad \u{1b}[31m sample");
    assert_eq!(requests.lock().unwrap().len(), 1, "a 4xx is not retried");

    // A reason of 8 MiB: only its first 64 KiB are read, its first 200 bytes shown.
    let reason = format!("bad sample {}", "x".repeat(8 << 20));
    let (url, _) = raw_server(move |_, _| {
        format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}",
            reason.len()
        )
    });
    let outcome = runtime().block_on(writer_for(&url).write(&[fresh]));
    let Err(Error::RemoteWrite { status: 400, message, .. }) = outcome else { panic!("{outcome:?}") };
    assert!(message.starts_with("bad sample") && message.ends_with("... (65536 bytes)"), "{message}");
}

// --- fleet status ------------------------------------------------------------------------------

#[test]
fn fleet_status_ranks_the_anomalous_nodes_with_their_open_incidents() {
    let prometheus = TestPrometheus::require(Scenario::recent(4, 1.0, 60).with_example_fleet());
    let end = prometheus.scenario().end as f64;
    let client = client_for(&prometheus.url());
    let status = |limit, metric, min_score| {
        runtime().block_on(client.fleet_status(&FleetQuery::new(limit, metric, min_score).unwrap())).unwrap()
    };
    let fleet_series =
        |metric: &str, score, incident_start| FleetSeries { metric: metric.into(), score, incident_start };

    let all = status(10, None, 1.0);
    assert_eq!((all.watched_series, all.anomalous_nodes), (4, 2));
    assert_eq!(
        all.nodes,
        vec![
            FleetNode {
                instance: "10.0.0.1:9100".into(),
                score: 3.5,
                // Exported by two pods (a rebalance): listed once.
                series: vec![
                    fleet_series("cpu", 3.5, Some(end - 1800.0)),
                    fleet_series("memory", 1.25, None)
                ],
            },
            FleetNode {
                instance: "10.0.0.2:9100".into(),
                score: 2.0,
                series: vec![fleet_series("disk", 2.0, Some(end - 3600.0))],
            },
        ]
    );
    assert!((all.evaluated_at - unix_now()).abs() < 60);

    let top = status(1, None, 1.0);
    assert_eq!(
        (top.anomalous_nodes, top.nodes.len(), top.nodes[0].instance.as_str()),
        (2, 1, "10.0.0.1:9100")
    );

    let memory = status(10, Some("memory"), 1.0);
    assert_eq!(memory.nodes.len(), 1);
    assert_eq!(memory.nodes[0].series, vec![fleet_series("memory", 1.25, None)]);

    // A normal node's leftover incident start is not an open incident.
    let everyone = status(10, None, 0.0);
    let third =
        everyone.nodes.iter().find(|n| n.instance == "10.0.0.3:9100").expect("listed with min_score 0");
    assert_eq!(third.series, vec![fleet_series("cpu", 0.4, None)]);

    let none = status(10, Some("network"), 1.0);
    assert_eq!((none.watched_series, none.anomalous_nodes, none.nodes.len()), (0, 0, 0));
    let none = status(10, None, 5.0);
    assert_eq!((none.watched_series, none.anomalous_nodes, none.nodes.len()), (4, 0, 0));
}

// --- the synthetic Prometheus-API stand-in of the scale benchmark -------------------------------

#[test]
fn the_synthetic_stand_in_answers_discovery_and_range_queries_for_thousands_of_instances() {
    use aiops_testkit::synthetic::{SyntheticMetric, SyntheticPrometheus, instance_name};
    const INSTANCES: usize = 2_500;
    let server = SyntheticPrometheus::start(INSTANCES).unwrap();
    let client = client_for(&server.url());
    let listed = runtime().block_on(client.list_instances("node")).unwrap();
    assert_eq!(listed.len(), INSTANCES);
    let discovered =
        runtime().block_on(client.query(r#"group by (instance) (up{job="node"})"#, 1_000)).unwrap();
    assert_eq!(discovered.len(), INSTANCES);
    assert!(discovered.iter().all(|d| d.labels.len() == 1 && d.sample.value == 1.0));

    let node = instance(&instance_name(1_234));
    let window = TimeWindow::new(1_800_000_000.0, 1_800_000_600.0).unwrap();
    let series = runtime().block_on(client.fetch(&node, &Metric::Cpu, window, STEP, None)).unwrap();
    assert_eq!(series.timestamps.len(), 61);
    for (&t, &value) in series.timestamps.iter().zip(&series.values) {
        assert_eq!(value, SyntheticMetric::Cpu.value(1_234, t as i64), "at {t}");
    }
    // One range query for the whole fleet: every instance's series in one answer.
    let fleet = r#"100 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100"#;
    let outcome = runtime().block_on(client.query_range(fleet, window.start, window.end, STEP, None));
    assert!(matches!(outcome, Err(Error::AmbiguousResult { count: INSTANCES, .. })), "{outcome:?}");
}

#[test]
fn one_fleet_query_per_metric_returns_each_instance_as_its_own_query_would() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let client = client_for(&prometheus.url());
    let instances: Vec<Instance> = scenario.instances.iter().map(|s| instance(&s.instance)).collect();
    let window = TimeWindow::new(scenario.end as f64 - 3600.0, scenario.end as f64).unwrap();
    let selector = LabelSelector::job("node").unwrap();
    for metric in ["cpu", "memory", "disk", "network"].map(|m| Metric::parse(m).unwrap()) {
        let queries = metric.fleet_queries(Some(&selector), &instances).unwrap();
        assert_eq!(queries.len(), 1, "{metric:?}: one query for both instances");
        let fleet = runtime()
            .block_on(client.query_range_by_instance(&queries[0].query, window.start, window.end, STEP))
            .unwrap();
        assert_eq!(
            fleet.keys().collect::<Vec<_>>(),
            scenario.instances.iter().map(|s| &s.instance).collect::<Vec<_>>()
        );
        for one in &instances {
            let alone = runtime().block_on(client.fetch(one, &metric, window, STEP, None)).unwrap();
            let fleet = &fleet[one.as_str()];
            assert_eq!(fleet.iter().map(|s| s.timestamp).collect::<Vec<_>>(), alone.timestamps, "{metric:?}");
            for (f, a) in fleet.iter().zip(&alone.values) {
                assert!(
                    (f.value - a).abs() <= 1e-9 * a.abs().max(1.0),
                    "{metric:?} {one}: {} vs {a}",
                    f.value
                );
            }
        }
    }
    // A selector that matches no series finds nothing, and neither does another job.
    let other = LabelSelector::parse(r#"{job="node",instance="10.0.0.1:9100"}"#).unwrap();
    let queries = Metric::Cpu.fleet_queries(Some(&other), &instances).unwrap();
    let only_first = runtime()
        .block_on(client.query_range_by_instance(&queries[0].query, window.start, window.end, STEP))
        .unwrap();
    assert_eq!(only_first.keys().collect::<Vec<_>>(), ["10.0.0.1:9100"]);
}

#[test]
fn discovery_lists_the_instances_a_selector_matches_at_a_time() {
    let prometheus = TestPrometheus::shared();
    let scenario = prometheus.scenario();
    let client = client_for(&prometheus.url());
    let at = scenario.end as f64;
    let discover = |selector: &str| {
        runtime().block_on(client.discover_instances(&LabelSelector::parse(selector).unwrap(), at)).unwrap()
    };
    assert_eq!(discover(r#"{job="node"}"#), ["10.0.0.1:9100", "10.0.0.2:9100"]);
    assert_eq!(discover(r#"{job="node",instance!="10.0.0.1:9100"}"#), ["10.0.0.2:9100"]);
    assert!(discover(r#"{job="other"}"#).is_empty());
    // An escaped job can neither widen nor break the query.
    let injected = LabelSelector::job(r#"node"} or up{job=~".+"#).unwrap();
    assert!(runtime().block_on(client.discover_instances(&injected, at)).unwrap().is_empty());
    // Before the data starts, nobody is there.
    let before = LabelSelector::job("node").unwrap();
    assert!(
        runtime()
            .block_on(client.discover_instances(&before, scenario.start as f64 - 3600.0))
            .unwrap()
            .is_empty()
    );
}

//! Integration tests against a real Prometheus (Debian's 2.42) backfilled by promtool with
//! generated node-exporter metrics (`aiops_testkit::prometheus`): two instances, 24 h at 10 s,
//! a CPU incident on the first.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aiops_promclient::{ClientConfig, Error, Instance, Metric, PromClient, Sample, TimeWindow};
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

/// A loopback HTTP server answering each request with `reply(its own URL, the request head)`,
/// keeping the request heads.
fn raw_server(
    reply: impl Fn(&str, &str) -> String + Send + 'static,
) -> (String, &'static Mutex<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests: &'static Mutex<Vec<String>> = Box::leak(Box::new(Mutex::new(Vec::new())));
    let own_url = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 8192];
            let read = std::io::Read::read(&mut stream, &mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
            let answer = reply(&own_url, &head);
            requests.lock().unwrap().push(head);
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    (url, requests)
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

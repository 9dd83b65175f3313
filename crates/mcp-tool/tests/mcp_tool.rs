//! The MCP server's own tests: option checks, the portable schema subset of every tool, the
//! engine against a real Prometheus (`aiops-testkit`'s backfilled one), and the HTTP server end
//! to end with raw JSON-RPC (error results, integral floats, bearer scheme, `/metrics`, model
//! reloads). Third-party clients are tested in `tests/python`, `tests/kagent` and `tests/js`.

use std::sync::Arc;
use std::time::Duration;

use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForest, IsolationForestParams, Model};
use aiops_mcp_tool::Error;
use aiops_mcp_tool::config::{DEFAULT_POINTS_PER_QUERY, ServerOptions};
use aiops_mcp_tool::engine::{Engine, EngineSettings, ProgressFn};
use aiops_mcp_tool::inference::Inference;
use aiops_mcp_tool::metrics::Metrics;
use aiops_mcp_tool::model_store::{self, ModelSource, S3Options};
use aiops_mcp_tool::schema::violations;
use aiops_mcp_tool::server::{ServeConfig, Server};
use aiops_mcp_tool::tools::AnomalyTools;
use aiops_promclient::{ClientConfig, Instance, Metric, PromClient, TimeWindow};
use aiops_testkit::prometheus::{Scenario, TestPrometheus};
use ndarray::Array2;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const TOOLS: [&str; 7] = [
    "detect_metric_anomalies",
    "explain_anomaly",
    "fleet_status",
    "list_instances",
    "model_info",
    "predict_anomalies",
    "query_prometheus_and_predict",
];
const TOKEN: &str = "test-token-0123456789abcdef";

/// A valid configuration serving `model` on a free loopback port.
fn valid_config(model: &str) -> ServeConfig {
    ServeConfig {
        prometheus: ClientConfig::from_url("http://127.0.0.1:9090").expect("a URL"),
        model: model.into(),
        s3: S3Options::default(),
        inference_url: None,
        model_name: None,
        job_matcher: ".*node.*".into(),
        step: Duration::from_secs(10),
        points_per_query: DEFAULT_POINTS_PER_QUERY,
        reload_interval: Duration::from_secs(30),
        server: ServerOptions { port: 0, ..ServerOptions::default() },
    }
}

/// A model of the standard features fitted on `x`, written to `dir/model.iforest`.
fn write_model_of(dir: &std::path::Path, x: &Array2<f64>) -> String {
    let schema = FeatureSchema::reference();
    let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view()).expect("fit");
    let model = Model::new(
        forest,
        schema.columns.clone(),
        Some(aiops_artifacts::model::schema_record(&schema)),
        x.view(),
    )
    .expect("model");
    let path = dir.join("model.iforest");
    std::fs::write(&path, model.to_bytes()).expect("model file");
    path.display().to_string()
}

/// A small model on synthetic standard features, written to `dir`.
fn write_model(dir: &std::path::Path) -> String {
    let columns = FeatureSchema::reference().columns.len();
    let x = Array2::from_shape_fn((64, columns), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    write_model_of(dir, &x)
}

/// The model the reference pipeline would train: the incident instance's last 24 h of CPU.
async fn trained_model(prometheus: &TestPrometheus, dir: &std::path::Path) -> String {
    let client = PromClient::new(ClientConfig::from_url(&prometheus.url()).expect("url")).expect("client");
    let (spec, _) = prometheus.scenario().incident().expect("an incident");
    let instance = Instance::parse(&spec.instance).expect("instance");
    let window = TimeWindow::last(Duration::from_secs(24 * 3600));
    let series =
        client.fetch(&instance, &Metric::Cpu, window, Duration::from_secs(10), None).await.expect("fetch");
    let features = FeatureSchema::reference().compute(&series.timestamps, &series.values).expect("features");
    write_model_of(dir, &features)
}

fn no_progress() -> ProgressFn {
    Arc::new(|_, _, _| {})
}

async fn engine(prometheus_url: &str, model: &str) -> Engine {
    let prometheus = PromClient::new(ClientConfig::from_url(prometheus_url).expect("url")).expect("client");
    let models = model_store::open(ModelSource::parse(model, &S3Options::default()).expect("source")).await;
    let settings =
        EngineSettings { job_matcher: ".*node.*".into(), step: Duration::from_secs(10), max_hours: 168 };
    Engine::new(
        prometheus,
        Arc::new(models.expect("model")),
        Inference::InProcess,
        settings,
        Arc::new(Metrics::new()),
    )
}

// --- options ------------------------------------------------------------------------------

#[tokio::test]
async fn bind_refuses_each_bad_option_by_name_and_accepts_the_defaults() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let model = write_model(dir.path());
    type Change = fn(&mut ServeConfig);
    // (the option that is wrong, how it is made wrong)
    let table: [(&str, Change); 7] = [
        ("points_per_query", |c| c.points_per_query = 0),
        ("points_per_query", |c| c.points_per_query = 11_001),
        ("step", |c| c.step = Duration::ZERO),
        ("step", |c| c.step = Duration::from_millis(1_500)),
        ("reload_interval", |c| c.reload_interval = Duration::ZERO),
        ("prometheus_url", |c| {
            c.prometheus = ClientConfig::from_url("ftp://prometheus:9090").expect("a URL");
        }),
        ("inference_url", |c| c.inference_url = Some("http://127.0.0.1:8080".into())),
    ];
    for (option, make_wrong) in table {
        let mut config = valid_config(&model);
        make_wrong(&mut config);
        match Server::bind(config).await {
            Err(Error::InvalidParameter { field, .. }) => assert_eq!(field, option),
            other => panic!("expected `{option}` to be refused, got {other:?}"),
        }
    }
    let server = Server::bind(valid_config(&model)).await.expect("the defaults are valid");
    assert!(server.local_addr().expect("bound").ip().is_loopback());
}

// --- schemas ------------------------------------------------------------------------------

#[test]
fn every_tool_schema_is_in_the_portable_subset() {
    let tools = AnomalyTools::definitions(168);
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOLS);
    for tool in &tools {
        let output =
            tool.output_schema.as_ref().unwrap_or_else(|| panic!("{} has no output schema", tool.name));
        for (kind, schema) in [("input", &tool.input_schema), ("output", output)] {
            let found = violations(schema);
            assert!(found.is_empty(), "{} {kind} schema:\n{}", tool.name, found.join("\n"));
        }
    }
    let metric = &tools[0].input_schema["properties"]["metric"];
    assert_eq!(metric["type"], "string");
    assert_eq!(metric["enum"], json!(["cpu", "memory", "disk", "network"]));
    assert!(metric["description"].as_str().is_some_and(|d| d.contains("memory: Memory usage")), "{metric}");
    let fleet = &tools[2].input_schema;
    assert!(fleet.get("required").is_none_or(|r| r == &json!([])), "every fleet_status argument is optional");
    let properties = &fleet["properties"];
    assert_eq!((&properties["limit"]["minimum"], &properties["limit"]["maximum"]), (&json!(1), &json!(100)));
    assert_eq!(
        (&properties["min_score"]["default"], &properties["metric"]["enum"][0]),
        (&json!(1.0), &json!("cpu"))
    );
}

#[test]
fn the_subset_checker_finds_what_clients_reject() {
    let typed = json!({"type": "string"});
    // (a schema outside the subset, the problem it must report)
    let table = [
        (
            json!({"type": "object", "properties": {"m": {"oneOf": [{"const": "a"}, {"const": "b"}]}}}),
            "oneOf",
        ),
        (json!({"type": "object", "properties": {"m": {"type": "string", "const": "a"}}}), "const"),
        (json!({"type": "object", "properties": {"m": {"type": ["string", "null"]}}}), "type"),
        (
            json!({"type": "object", "properties": {"m": {"$ref": "#/$defs/M"}}, "$defs": {"M": typed}}),
            "$ref",
        ),
        (json!({"type": "object", "properties": {"m": {"description": "anything"}}}), "neither one type"),
        (json!({"type": "object", "properties": {"m": true}}), "boolean schema"),
        (json!({"type": "object", "properties": {"m": {"type": "object"}}}), "declare properties"),
        (json!({"type": "object", "properties": {"m": {"type": "integer", "enum": [1, 2]}}}), "enum"),
        (json!({"type": "object", "properties": {"m": typed}, "required": ["n"]}), "required"),
        (json!({"type": "object", "properties": {"m": {"type": "array"}}}), "items"),
        (json!({"type": "object", "properties": {"m": {"type": "integer", "format": "uint32"}}}), "format"),
        (json!({"type": "object", "properties": {"m": {"anyOf": [typed]}}}), "neither one type"),
    ];
    for (schema, problem) in table {
        let Value::Object(object) = schema.clone() else { unreachable!() };
        let found = violations(&object);
        assert!(found.iter().any(|f| f.contains(problem)), "{schema}: expected `{problem}` in {found:?}");
    }
    let portable = json!({"type": "object", "properties": {
        "m": {"type": "string", "enum": ["a", "b"]},
        "t": {"anyOf": [{"type": "number", "format": "double"}, {"type": "string", "maxLength": 64}]},
        "o": {"type": "object", "additionalProperties": true},
        "l": {"type": "array", "items": {"type": "integer", "minimum": 0}}
    }, "required": ["m"], "additionalProperties": false});
    let Value::Object(portable) = portable else { unreachable!() };
    assert_eq!(violations(&portable), Vec::<String>::new());
}

// --- the engine against a real Prometheus -------------------------------------------------

#[tokio::test]
async fn the_engine_finds_lists_and_explains_the_backfilled_incident() {
    let prometheus = TestPrometheus::shared();
    let dir = tempfile::tempdir().expect("temporary folder");
    let engine = engine(&prometheus.url(), &trained_model(prometheus, dir.path()).await).await;
    let (spec, incident) = prometheus.scenario().incident().expect("an incident");

    let listed = engine.instances().await.expect("instances");
    let expected: Vec<&str> = prometheus.scenario().instances.iter().map(|i| i.instance.as_str()).collect();
    let found: Vec<&str> = listed.instances.iter().map(|i| i.instance.as_str()).collect();
    assert_eq!(found, expected);
    assert_eq!(listed.instances[0].ip, "10.0.0.1");

    let ip = spec.instance.trim_end_matches(":9100");
    let (report, series) = engine.anomalies(ip, "cpu", 24, true, &no_progress()).await.expect("anomalies");
    assert_eq!(report.instance, spec.instance);
    assert_eq!(report.samples, series.values.len());
    assert!(report.samples > 8000, "{} samples", report.samples);
    let (start, end) = (incident.start as f64, incident.end as f64 + 300.0);
    let during: Vec<_> =
        report.periods.iter().filter(|p| p.start_unix <= end && p.end_unix >= start).collect();
    assert!(!during.is_empty(), "no period overlaps the incident {incident:?}: {:?}", report.periods);
    let peak = during.iter().max_by(|a, b| a.peak_value.total_cmp(&b.peak_value)).expect("a period");
    // The detector alerts at the incident's onset, while the 5-minute rate still climbs towards
    // 95 %: the period's peak must be far above anything the normal profile reaches.
    let profile = &spec.profile;
    let normal_ceiling = profile.base + profile.daily_amplitude + 3.0 * profile.noise;
    assert!(peak.peak_value > normal_ceiling + 20.0, "{peak:?} vs normal ceiling {normal_ceiling}");
    let points = report.anomalous_points.as_ref().expect("listed points");
    assert!(!points.is_empty() && points.iter().all(|p| p.decision < 0.0));

    let explained = engine.explain(ip, peak.start_unix, &no_progress()).await.expect("explanation");
    assert!(explained.anomalous && explained.decision < 0.0, "{explained:?}");
    let shares: f64 = explained.contributions.iter().map(|c| c.contribution).sum();
    assert!((shares - 1.0).abs() < 1e-9, "shares sum to {shares}");

    let metrics = engine.metrics().encode();
    assert!(metrics.contains("aiops_mcp_prometheus_query_errors_total 0"), "{metrics}");
    assert!(!metrics.contains("aiops_mcp_prometheus_query_duration_seconds_count 0\n"), "{metrics}");
}

#[tokio::test]
async fn the_engine_names_what_is_wrong_and_what_to_do() {
    let prometheus = TestPrometheus::shared();
    let dir = tempfile::tempdir().expect("temporary folder");
    let engine = engine(&prometheus.url(), &write_model(dir.path())).await;

    let missing = engine.anomalies("10.9.9.9", "cpu", 1, false, &no_progress()).await.expect_err("no data");
    assert_eq!(missing.argument.as_deref(), Some("instance_ip"));
    let text = missing.text();
    assert!(text.contains("Instances with data: 10.0.0.1:9100, 10.0.0.2:9100"), "{text}");
    assert!(text.contains("Hint: call list_instances"), "{text}");

    let injected =
        engine.anomalies("10.0.0.1:9100\"}", "cpu", 1, false, &no_progress()).await.expect_err("bad");
    assert!(injected.text().starts_with("invalid argument `instance_ip`"), "{}", injected.text());

    let long_ago = engine.explain("10.0.0.1", 0.0, &no_progress()).await.expect_err("too old");
    assert!(long_ago.text().contains("`timestamp`"), "{}", long_ago.text());

    for (hours, accepted) in [(0, false), (1, true), (168, true), (169, false), (-3, false)] {
        assert_eq!(engine.check_hours("hours", hours).is_ok(), accepted, "{hours}");
    }
    let refused = engine.check_hours("time_range_hours", 0).expect_err("zero");
    assert_eq!(refused.text(), "`time_range_hours` is 0, it must be an integer from 1 to 168");
}

#[tokio::test]
async fn a_failing_prometheus_is_an_error_with_a_hint_and_counted() {
    let dir = tempfile::tempdir().expect("temporary folder");
    // A port nothing listens on.
    let port = aiops_testkit::free_port();
    // Credentials in the URL are used but never shown in a tool result.
    let engine = engine(&format!("http://bob:PASSWORD@127.0.0.1:{port}"), &write_model(dir.path())).await;
    let error = engine.instances().await.expect_err("unreachable");
    assert!(error.text().contains("querying Prometheus failed"), "{}", error.text());
    assert!(!error.text().contains("PASSWORD"), "{}", error.text());
    assert!(error.text().contains("Hint: Prometheus may be unreachable"), "{}", error.text());
    let metrics = engine.metrics().encode();
    assert!(metrics.contains("aiops_mcp_prometheus_query_errors_total 1"), "{metrics}");
}

// --- the HTTP server end to end -----------------------------------------------------------

/// A running `serve-mcp` on a free port; stopped when dropped.
struct Running {
    url: String,
    shutdown: CancellationToken,
    http: reqwest::Client,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn serve(config: ServeConfig) -> Running {
    let server = Server::bind(config).await.expect("bind");
    let url = format!("http://{}", server.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(server.run(shutdown.clone()));
    Running { url, shutdown, http: reqwest::Client::new() }
}

impl Running {
    async fn post(&self, authorization: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/mcp", self.url))
            .header("Accept", "application/json, text/event-stream")
            .json(body);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request.send().await.expect("request")
    }

    /// `tools/call` answered with a result (not a JSON-RPC error).
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": tool, "arguments": arguments}});
        let response = self.post(None, &body).await;
        assert_eq!(response.status(), 200, "{tool}");
        let answer: Value = response.json().await.expect("JSON-RPC response");
        answer.get("result").cloned().unwrap_or_else(|| panic!("{tool}: {answer}"))
    }

    async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

impl Running {
    /// Calls `tool` with each (arguments, message): an `isError` result with text only, whose
    /// text contains the message.
    async fn assert_refused(&self, tool: &str, table: impl IntoIterator<Item = (Value, &str)>) {
        for (arguments, message) in table {
            let result = self.call(tool, arguments.clone()).await;
            assert_eq!(result["isError"], json!(true), "{arguments}: {result}");
            assert!(result.get("structuredContent").is_none(), "{arguments}: {result}");
            assert!(text_of(&result).contains(message), "{arguments}: {}", text_of(&result));
        }
    }
}

fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn error_results_are_text_only_and_integral_floats_are_integers() {
    let prometheus = TestPrometheus::shared();
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut config = valid_config(&write_model(dir.path()));
    config.prometheus = ClientConfig::from_url(&prometheus.url()).expect("a URL");
    let server = serve(config).await;

    let accepted = server.call("predict_anomalies", json!({"instance_ip": "10.0.0.2", "hours": 2.0})).await;
    assert_eq!(accepted["isError"], json!(false), "{accepted}");
    assert_eq!(accepted["structuredContent"]["hours"], 2);

    // (arguments, text the message must contain)
    let table = [
        (
            json!({"instance_ip": "10.0.0.2", "hours": 2.5}),
            "invalid argument `hours`: 2.5 is not a whole number",
        ),
        (json!({"instance_ip": "10.0.0.2", "hours": 0}), "`hours` is 0, it must be an integer from 1 to 168"),
        (json!({"instance_ip": "10.0.0.2", "hours": 2e9}), "`hours` is 2000000000, it must be an integer"),
        (
            json!({"instance_ip": "10.0.0.2", "hours": "two"}),
            "invalid argument `hours`: invalid type: string",
        ),
        (json!({"hours": 1}), "`instance_ip` is required"),
        (json!({"instance_ip": "10.0.0.2", "verbose": true}), "invalid argument `verbose`: unknown field"),
        (json!({"instance_ip": "10.9.9.9"}), "Instances with data: 10.0.0.1:9100, 10.0.0.2:9100"),
    ];
    server.assert_refused("predict_anomalies", table).await;
    let metric =
        server.call("detect_metric_anomalies", json!({"instance_ip": "10.0.0.2", "metric": "up"})).await;
    assert!(text_of(&metric).starts_with("invalid argument `metric`: unknown variant `up`"), "{metric}");
    let time =
        server.call("explain_anomaly", json!({"instance_ip": "10.0.0.2", "timestamp": "yesterday"})).await;
    assert!(text_of(&time).contains("`timestamp` \"yesterday\" is neither RFC 3339"), "{time}");

    let metrics = server.metrics().await;
    for line in [
        "aiops_mcp_tool_calls_total{tool=\"predict_anomalies\",outcome=\"success\"} 1",
        "aiops_mcp_tool_calls_total{tool=\"predict_anomalies\",outcome=\"error\"} 7",
        "aiops_mcp_tool_calls_total{tool=\"detect_metric_anomalies\",outcome=\"error\"} 1",
        "aiops_mcp_tool_call_duration_seconds_count{tool=\"predict_anomalies\"} 8",
        "aiops_mcp_prometheus_query_errors_total 0",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in\n{metrics}");
    }
}

#[tokio::test]
async fn fleet_status_ranks_the_anomalous_nodes_and_refuses_bad_arguments_by_name() {
    let prometheus = TestPrometheus::require(Scenario::recent(3, 1.0, 60).with_example_fleet());
    let end = prometheus.scenario().end as f64;
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut config = valid_config(&write_model(dir.path()));
    config.prometheus = ClientConfig::from_url(&prometheus.url()).expect("a URL");
    let server = serve(config).await;

    let answer = server.call("fleet_status", json!({})).await;
    assert_eq!(answer["isError"], json!(false), "{answer}");
    let report = &answer["structuredContent"];
    assert_eq!((report["watched_series"].as_u64(), report["anomalous_nodes"].as_u64()), (Some(4), Some(2)));
    let nodes = report["nodes"].as_array().expect("nodes");
    let ranked: Vec<(&str, &str, f64)> = nodes
        .iter()
        .map(|n| (n["ip"].as_str().unwrap(), n["metric"].as_str().unwrap(), n["score"].as_f64().unwrap()))
        .collect();
    assert_eq!(ranked, [("10.0.0.1", "cpu", 3.5), ("10.0.0.2", "disk", 2.0)]);
    assert_eq!(nodes[0]["metrics"][0]["incident_start_unix"].as_f64(), Some(end - 1800.0));
    assert_eq!(nodes[0]["metrics"][1], json!({"metric": "memory", "score": 1.25, "incident_open": false}));
    assert_eq!(
        nodes[1]["incident_start"].as_str(),
        Some(aiops_mcp_tool::report::rfc3339(end - 3600.0).as_str())
    );
    assert!(text_of(&answer).starts_with("2 node(s) anomalous now"), "{}", text_of(&answer));

    let memory = server.call("fleet_status", json!({"metric": "memory", "limit": 1.0, "min_score": 1})).await;
    assert_eq!(memory["structuredContent"]["nodes"][0]["score"], json!(1.25), "{memory}");

    // (arguments, text the message must contain)
    let table = [
        (json!({"limit": 0}), "invalid argument `limit`: 0 is not 1 to 100"),
        (json!({"limit": 101}), "invalid argument `limit`: 101 is not 1 to 100"),
        (json!({"limit": 2.5}), "invalid argument `limit`: 2.5 is not a whole number"),
        (json!({"metric": "gpu"}), "invalid argument `metric`: unknown variant `gpu`"),
        (json!({"min_score": -1}), "invalid argument `min_score`: -1 is not a finite number, 0 or more"),
        (json!({"min_score": "high"}), "invalid argument `min_score`: invalid type: string"),
        (json!({"instance": "10.0.0.1"}), "invalid argument `instance`: unknown field"),
    ];
    server.assert_refused("fleet_status", table).await;
}

#[tokio::test]
async fn fleet_status_without_exported_scores_says_so_and_a_failing_prometheus_is_an_error() {
    let prometheus = TestPrometheus::shared();
    let dir = tempfile::tempdir().expect("temporary folder");
    let model = write_model(dir.path());
    let quiet = engine(&prometheus.url(), &model).await.fleet(10, None, 1.0).await.expect("an answer");
    assert_eq!((quiet.watched_series, quiet.nodes.len()), (0, 0));
    assert!(quiet.text().contains("is `aiops watch` running"), "{}", quiet.text());

    let port = aiops_testkit::free_port();
    let failing = engine(&format!("http://127.0.0.1:{port}"), &model).await;
    let error = failing.fleet(10, None, 1.0).await.expect_err("unreachable");
    assert!(error.text().contains("querying Prometheus failed"), "{}", error.text());
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_case_insensitively() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut config = valid_config(&write_model(dir.path()));
    config.server.auth_token = Some(TOKEN.into());
    let server = serve(config).await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    // (Authorization header, expected status)
    let table = [
        (Some(format!("Bearer {TOKEN}")), 200),
        (Some(format!("bearer {TOKEN}")), 200),
        (Some(format!("BEARER  {TOKEN}")), 200),
        (Some("Bearer wrong-token-0123456789abc".to_owned()), 401),
        (Some(format!("Basic {TOKEN}")), 401),
        (Some(TOKEN.to_owned()), 401),
        (None, 401),
    ];
    for (authorization, status) in table {
        let response = server.post(authorization.as_deref(), &list).await;
        assert_eq!(response.status(), status, "{authorization:?}");
    }
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200, "/metrics needs no token");
}

#[tokio::test]
async fn every_host_header_is_checked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("temporary folder");
    let server = serve(valid_config(&write_model(dir.path()))).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let status = |hosts: &'static [&'static str]| {
        let address = server.url.trim_start_matches("http://").to_owned();
        async move {
            let mut request = "POST /mcp HTTP/1.1\r\n".to_owned();
            for host in hosts {
                request.push_str(&format!("Host: {host}\r\n"));
            }
            request.push_str(&format!(
                "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{list}",
                list.len()
            ));
            let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
            stream.write_all(request.as_bytes()).await.expect("send");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.expect("answer");
            answer[9..12].to_owned()
        }
    };
    assert_eq!(status(&["localhost"]).await, "200");
    assert_eq!(status(&["attacker.example"]).await, "403");
    assert_eq!(status(&["localhost", "attacker.example"]).await, "400");
    assert_eq!(status(&["attacker.example", "localhost"]).await, "400");
}

/// Issue 15: a checksum-valid model with `n_features: 0` killed the reload task for good, and a
/// broken model was re-read and re-logged every tick. Now each broken version is counted once,
/// and a later valid model still loads.
#[tokio::test]
async fn model_reloads_are_counted_and_a_broken_model_once_then_a_valid_one_loads() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let model = write_model(dir.path());
    let mut config = valid_config(&model);
    config.reload_interval = Duration::from_millis(50);
    let server = serve(config).await;
    // A series appears with its first count, so its name alone says the outcome happened.
    let reloads = |outcome: &str| format!("aiops_mcp_model_reloads_total{{outcome=\"{outcome}\"}} ");
    assert!(!server.metrics().await.contains("aiops_mcp_model_reloads_total{"));

    let columns = FeatureSchema::reference().columns.len();
    let other = Array2::from_shape_fn((80, columns), |(i, j)| ((i * 5 + j) % 13) as f64);
    let other_dir = tempfile::tempdir().expect("temporary folder");
    // Renamed into place, so the watcher never reads half a file.
    std::fs::rename(write_model_of(other_dir.path(), &other), &model).expect("replace the model");
    wait_for(&server, &format!("{}1\n", reloads("loaded"))).await;
    assert!(!server.metrics().await.contains(&reloads("failed")));
    let broken = other_dir.path().join("broken");
    std::fs::write(&broken, b"not a model").expect("a broken model");
    std::fs::rename(&broken, &model).expect("break the model");
    wait_for(&server, &format!("{}1\n", reloads("failed"))).await;
    // Many ticks later the same broken file is still one failure.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(server.metrics().await.contains(&format!("{}1\n", reloads("failed"))));
    let crafted = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../iforest/tests/data/regressions/n-features-zero.iforest");
    std::fs::copy(&crafted, &broken).expect("the crafted model of issue 15");
    std::fs::rename(&broken, &model).expect("put the crafted model in place");
    wait_for(&server, &format!("{}2\n", reloads("failed"))).await;
    std::fs::rename(write_model_of(other_dir.path(), &other), &model).expect("a valid model again");
    wait_for(&server, &format!("{}2\n", reloads("loaded"))).await;
}

async fn wait_for(server: &Running, line: &str) {
    for _ in 0..200 {
        if server.metrics().await.contains(line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {line:?} in\n{}", server.metrics().await);
}

#[path = "mcp_tool/invariants.rs"]
mod invariants;

/// The tools' names are the ones `tools/list` gives (checked arguments dispatch on them).
#[test]
fn tool_names_are_the_listed_tools() {
    let mut listed: Vec<String> = AnomalyTools::definitions(168).iter().map(|t| t.name.to_string()).collect();
    let mut names = aiops_mcp_tool::tools::TOOL_NAMES.map(String::from).to_vec();
    listed.sort();
    names.sort();
    assert_eq!(listed, names);
}

/// The deterministic half of fuzzing the tools' argument checks (issue 15; the other half is
/// `fuzz/fuzz_targets/mcp_arguments.rs`), run by every `cargo test`: valid arguments of every
/// tool with each value set to each extreme value and each argument removed, then 20,000 seeded
/// byte-level mutations of their JSON; each is checked or refused for every tool, never a
/// panic, and what is accepted checks the same when written back.
#[test]
fn every_mutation_of_valid_tool_arguments_is_checked_or_refused_and_accepted_ones_round_trip() {
    use aiops_testkit::mutate::{Mutator, json_variants};
    let seeds = [
        json!({"instance_ip": "10.0.1.244", "hours": 24, "chart": true}),
        json!({"instance_ip": "[::1]:9100", "time_range_hours": 2.0}),
        json!({"instance_ip": "node-1.example.com:9100", "metric": "disk", "hours": 168}),
        json!({"instance_ip": " 10.0.0.7 ", "timestamp": "2026-11-26T10:15:00Z"}),
        json!({"instance_ip": "10.0.0.7:9200", "timestamp": 1_764_152_100.5}),
        json!({"limit": 3, "metric": "memory", "min_score": 1.5}),
        json!({}),
    ];
    for seed in &seeds {
        assert!(invariants::check_value(seed) >= 1, "{seed}");
    }
    let (mut tried, mut accepted) = (0, 0);
    for variant in seeds.iter().flat_map(json_variants) {
        accepted += invariants::check_value(&variant);
        tried += 1;
    }
    let bodies: Vec<Vec<u8>> = seeds.iter().map(|s| serde_json::to_vec(s).unwrap()).collect();
    let bodies: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    for body in Mutator::new(15).variants(&bodies, 20_000) {
        accepted += invariants::check_json(&body);
        tried += 1;
    }
    assert!(tried > 20_000 && accepted > 1_000, "{accepted} calls of {tried} variants accepted");
}

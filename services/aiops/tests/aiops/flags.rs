//! The shared flag vocabulary: every out-of-range value is refused before any work with a
//! message naming the flag; the old spellings (`--host/--port/--http-port`, bare seconds,
//! `--step-seconds`, `--reload-interval-ms`) still work; `--log-format` and colour.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use aiops_testkit::{ChildGuard, free_port, wait_for_port};

use super::train::{aiops, write_features};

/// Nothing listens here: a command that got past its flag checks would fail differently.
const PROMETHEUS: &str = "http://127.0.0.1:9";

#[test]
fn out_of_range_flags_are_refused_before_any_work_naming_the_flag() {
    let fetch = ["fetch", "--prometheus-url", PROMETHEUS, "--instance", "10.0.0.1:9100", "--output", "x.csv"];
    let pipeline =
        ["pipeline", "run", "--prometheus-url", PROMETHEUS, "--instance", "10.0.0.1:9100", "--out", "x"];
    let train = ["train", "--features", "f.csv", "--model-out", "m", "--metrics-out", "m.json"];
    let serve_mcp = ["serve-mcp", "--prometheus-url", PROMETHEUS, "--model", "m"];
    let watch = ["watch", "--prometheus-url", PROMETHEUS, "--model", "m", "--instance", "10.0.0.1:9100"];
    let watch_base = ["watch", "--prometheus-url", PROMETHEUS];
    let fleet = ["watch", "--prometheus-url", PROMETHEUS, "--job", "node"];
    let serve_model = ["serve-model", "--model-dir", "m", "--model-name", "m"];
    let deploy = ["deploy", "--storage-uri", "s3://models/m", "--no-wait"];
    // (command, bad flag and value, how the message names the flag, what else it must say)
    let table: &[(&[&str], &[&str], &str, &str)] = &[
        (&fetch, &["--hours", "1e12"], "--hours", "at most 8784"),
        (&fetch, &["--hours", "1e300"], "--hours", "at most 8784"),
        (&fetch, &["--hours", "0"], "--hours", "more than 0"),
        (&fetch, &["--hours", "NaN"], "--hours", "more than 0"),
        (&fetch, &["--hours", "2", "--timeout", "1e30"], "--timeout", "at most 1h"),
        (&fetch, &["--hours", "2", "--timeout=-1"], "--timeout", "positive duration"),
        (&fetch, &["--hours", "2", "--step", "213503982334602d"], "--step", "at most 1day"),
        (&fetch, &["--hours", "2", "--step", "2d"], "--step", "at most 1day"),
        (&fetch, &["--hours", "2", "--step", "1.5"], "--step", "whole number of seconds"),
        (&fetch, &["--hours", "2", "--step", "0s"], "--step", "at least 1s"),
        (&fetch, &["--hours", "2", "--retries", "11"], "--retries", "between 0 and 10"),
        (&fetch, &["--start", "0", "--end", "1700000000"], "--start", "at most 8784"),
        (&pipeline, &["--hours", "1e12"], "--hours", "at most 8784"),
        (&pipeline, &["--hours", "2", "--n-estimators", "0"], "--n-estimators", "between 1 and 10000"),
        (&train, &["--n-estimators", "100000000"], "--n-estimators", "between 1 and 10000"),
        (&train, &["--threads", "100000"], "--threads", "between 1 and 256"),
        (&train, &["--threads", "0"], "--threads", "between 1 and 256"),
        (&serve_mcp, &["--step", "0"], "--step", "at least 1s"),
        (&serve_mcp, &["--step-seconds", "1e30"], "--step <DURATION>", "at most 1day"),
        (&serve_mcp, &["--reload-interval", "1ms"], "--reload-interval", "at least 10ms"),
        (&serve_mcp, &["--reload-interval-ms", "0"], "--reload-interval-ms", "at least 10ms"),
        (&serve_mcp, &["--listen", "127.0.0.1:8080", "--port", "8081"], "--port", "--listen"),
        (&watch, &["--interval", "0s"], "--interval", "at least 1s"),
        (&watch, &["--lookback", "30d"], "--lookback", "at most 7days"),
        (&watch, &["--delay", "2h"], "--delay", "at most 1h"),
        (&watch_base, &[], "--instance", "required"),
        (&watch_base, &["--job", ""], "--job", "1 to 4096 bytes"),
        (&watch_base, &["--selector", r#"up{job="node"}"#], "--selector", "braces"),
        (&watch_base, &["--selector", r#"{job="x"} or vector(1)"#], "--selector", "braces"),
        (&fleet, &["--instance", "10.0.0.1:9100"], "--instance", "cannot be used with"),
        (&fleet, &["--shard", "3/3"], "--shard", "below the count"),
        (&fleet, &["--shard", "auto"], "--shard auto", "--replicas"),
        (&fleet, &["--replicas", "0"], "--replicas", "between 1 and 1024"),
        (&fleet, &["--max-instances", "0"], "--max-instances", "between 1 and 1000000"),
        (&fleet, &["--grace", "30d"], "--grace", "at most 7days"),
        (&fleet, &["--grace", "10s"], "grace", "shorter than the interval"),
        (&fleet, &["--metric", "cpu,gpu"], "--metric", "unknown metric `gpu`"),
        (&fleet, &["--metric", "cpu", "--metric", "cpu"], "metrics", "cpu is listed twice"),
        (&serve_model, &["--workers", "100000"], "--workers", "between 1 and 256"),
        (&serve_model, &["--reload-interval", "1e30"], "--reload-interval", "at most 1day"),
        (&serve_model, &["--header-timeout", "2d"], "--header-timeout", "at most 1day"),
        (&serve_model, &["--shutdown-timeout=-1"], "--shutdown-timeout", "positive duration"),
        (&serve_model, &["--max-connections", "0"], "--max-connections", "between 1 and 1000000"),
        (&serve_model, &["--max-body-bytes", "0"], "--max-body-bytes", "between 1 and 1073741824"),
        (
            &serve_model,
            &["--max-body-bytes", "1000", "--max-inflight-body-bytes", "999"],
            "max_inflight_body_bytes",
            "must be within max_body_bytes",
        ),
        (&serve_mcp, &["--idle-timeout", "0s"], "--idle-timeout", "at least 1ms"),
        (
            &serve_mcp,
            &["--max-inflight-body-bytes", "2000000000"],
            "--max-inflight-body-bytes",
            "between 1 and 1073741824",
        ),
        (
            &serve_mcp,
            &["--max-inflight-body-bytes", "1"],
            "max_inflight_body_bytes",
            "must be within max_body_bytes",
        ),
        (&serve_mcp, &["--max-request-bytes", "10"], "--max-request-bytes", "between 1024 and 16777216"),
        (&watch, &["--body-timeout", "1e30"], "--body-timeout", "at most 1day"),
        (
            &watch,
            &["--max-inflight-body-bytes", "1"],
            "max_inflight_body_bytes",
            "must be within max_body_bytes",
        ),
        (&deploy, &["--timeout", "1e30"], "--timeout", "at most 1day"),
        (&["demo"], &["--step", "1e30"], "--step", "at most 1day"),
    ];
    for (command, bad, flag, expected) in table {
        let args: Vec<&str> = command.iter().chain(bad.iter()).copied().collect();
        let output = aiops(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(flag), "{args:?}: `{flag}` is not named in\n{stderr}");
        assert!(stderr.contains(expected), "{args:?}: no `{expected}` in\n{stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    }
}

/// A model folder trained by `aiops train`.
fn trained_model(dir: &std::path::Path) -> std::path::PathBuf {
    let features = dir.join("features.csv");
    write_features(&features, 300);
    let model = dir.join("model");
    let metrics = dir.join("metrics.json");
    let out = aiops(&[
        "train",
        "--features",
        features.to_str().unwrap(),
        "--model-out",
        model.to_str().unwrap(),
        "--metrics-out",
        metrics.to_str().unwrap(),
        "--n-estimators",
        "10",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    model
}

/// Starts `aiops serve-model` on the model with `args`, waits for `port`, stops it and returns
/// its standard error.
fn serve_model_stderr(model: &std::path::Path, port: u16, args: &[&str]) -> String {
    let mut child = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["serve-model", "--model-name", "m", "--model-dir"])
            .arg(model)
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("AIOPS_LOG_FORMAT")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("aiops starts"),
    );
    wait_for_port(port, Duration::from_secs(20));
    let _ = child.0.kill();
    let mut stderr = String::new();
    child.0.stderr.take().expect("piped").read_to_string(&mut stderr).expect("stderr");
    stderr
}

#[test]
fn servers_bind_with_listen_and_with_the_old_host_and_port_spellings() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let port = free_port();
    serve_model_stderr(&model, port, &["--listen", &format!("127.0.0.1:{port}")]);
    let port = free_port();
    serve_model_stderr(&model, port, &["--host", "127.0.0.1", "--http-port", &port.to_string()]);
    let port = free_port();
    serve_model_stderr(&model, port, &["--port", &port.to_string(), "--reload-interval-ms", "0"]);
}

#[test]
fn log_format_json_writes_one_object_per_line_and_text_has_no_colour_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let port = free_port();
    let json =
        serve_model_stderr(&model, port, &["--log-format", "json", "--listen", &format!("127.0.0.1:{port}")]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let loaded =
        lines.iter().find(|l| l["fields"]["message"] == "model loaded").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(loaded["level"], "INFO");

    // Standard error is a pipe here: `auto` means json, and text never carries colour codes.
    let port = free_port();
    let auto = serve_model_stderr(&model, port, &["--listen", &format!("127.0.0.1:{port}")]);
    assert!(auto.lines().any(|line| line.starts_with('{') && line.contains("model loaded")), "{auto}");
    let port = free_port();
    let text =
        serve_model_stderr(&model, port, &["--log-format", "text", "--listen", &format!("127.0.0.1:{port}")]);
    assert!(text.contains("model loaded") && !text.contains('\u{1b}'), "{text:?}");
}

/// The serving-limit flags reach the serving loop: with `--idle-timeout 200ms` a connection that
/// sends nothing is closed at once (the default keeps it 60 s), and one that sends half a
/// request head is closed after `--header-timeout 200ms` (default 10 s).
#[test]
fn server_timeout_flags_reach_the_serving_loop() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let model = trained_model(dir.path());
    let port = free_port();
    let _server = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["serve-model", "--model-name", "m", "--model-dir"])
            .arg(&model)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--idle-timeout",
                "200ms",
                "--header-timeout",
                "200ms",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiops starts"),
    );
    wait_for_port(port, Duration::from_secs(20));
    for sent in [&b""[..], b"GET /v2 HTTP/1.1\r\nHost: 127"] {
        let mut connection = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        connection.write_all(sent).unwrap();
        // Far below the defaults (60 s idle, 10 s header), far above the flags' 200 ms.
        connection.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reply = Vec::new();
        let closed = connection.read_to_end(&mut reply);
        assert!(closed.is_ok(), "after sending {sent:?} the connection stayed open: {closed:?}");
    }
}

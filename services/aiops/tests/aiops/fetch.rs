//! `aiops fetch` against a real Prometheus (promtool-backfilled, see `aiops_testkit::prometheus`):
//! the data CSV `aiops features` reads, the no-data message, injection refused, discovery.

use std::process::{Command, Output};

use aiops_artifacts::series::{Order, read_series};
use aiops_testkit::prometheus::TestPrometheus;

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops")).arg("fetch").args(args).output().expect("aiops runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn fetch_writes_a_data_csv_that_features_reads() {
    let Some(prometheus) = TestPrometheus::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("data.csv");
    let url = prometheus.url();
    let run = aiops(&[
        "--prometheus-url",
        &url,
        "--instance",
        "10.0.0.1:9100",
        "--hours",
        "2",
        "--step",
        "10s",
        "--metric",
        "cpu",
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let series = read_series(&output, Order::Strict).expect("aiops features can read it");
    assert_eq!(series.value_column, "cpu_usage");
    assert!((715..=722).contains(&series.values.len()), "2 h at 10 s: {} rows", series.values.len());
    let scenario = prometheus.scenario();
    for (&t, &value) in series.timestamps.iter().zip(&series.values) {
        if let Some(expected) = scenario.expected_cpu("10.0.0.1:9100", t as u64) {
            assert!((value - expected).abs() < 1e-6, "at {t}: {value} vs {expected}");
        }
    }
}

#[test]
fn no_data_names_the_instance_and_lists_those_with_data() {
    let Some(prometheus) = TestPrometheus::shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("data.csv");
    let url = prometheus.url();
    let run = aiops(&[
        "--prometheus-url",
        &url,
        "--instance",
        "10.9.9.9:9100",
        "--hours",
        "2",
        "--output",
        output.to_str().unwrap(),
    ]);
    let message = stderr(&run);
    assert!(!run.status.success());
    assert!(message.contains("no data for instance `10.9.9.9:9100`"), "{message}");
    assert!(message.contains("10.0.0.1:9100") && message.contains("10.0.0.2:9100"), "{message}");
    assert!(!output.exists(), "no output file on error");
}

#[test]
fn an_injected_instance_is_refused_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("data.csv");
    // Nothing listens there: the refusal must come before any request.
    let url = format!("http://127.0.0.1:{}", aiops_testkit::free_port());
    let run = aiops(&[
        "--prometheus-url",
        &url,
        "--instance",
        r#"x"} or vector(1337) or {a=""#,
        "--hours",
        "2",
        "--output",
        output.to_str().unwrap(),
    ]);
    let message = stderr(&run);
    assert!(!run.status.success());
    assert!(message.contains("invalid instance"), "{message}");
    assert!(!output.exists());
}

#[test]
fn list_instances_prints_the_node_exporters() {
    let Some(prometheus) = TestPrometheus::shared() else { return };
    let url = prometheus.url();
    let run = aiops(&["--prometheus-url", &url, "--list-instances", "--job", "node"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "10.0.0.1:9100\n10.0.0.2:9100\n");
}

/// Both rustls providers are linked in; the binary must install one before any TLS client exists.
/// reqwest (promclient) falls back to its own provider, kube's client does not: check both.
#[test]
fn https_client_does_not_panic_without_crypto_provider() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("data.csv");
    // Nothing listens on port 1: the TLS client is built, then the connection is refused.
    let fetch = aiops(&[
        "--prometheus-url",
        "https://127.0.0.1:1",
        "--instance",
        "10.0.0.1:9100",
        "--hours",
        "1",
        "--output",
        output.to_str().unwrap(),
    ]);
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
         clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\n\
         users: [{name: u, user: {token: t}}]\n",
    )
    .unwrap();
    let deploy = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["deploy", "--storage-uri", "s3://models/iforest", "--no-wait"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("aiops runs");
    for run in [fetch, deploy] {
        let stderr = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("Connection refused"), "{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("CryptoProvider"), "{stderr}");
    }
    assert!(!output.exists());
}

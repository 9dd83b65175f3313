//! `Server::bind` checks every option before it loads a model or binds a socket, and names the
//! bad one. (The tools themselves are tested end to end with the Python MCP SDK client against a
//! real Prometheus: `tests/python/test_mcp.py`.)

use std::time::Duration;

use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForest, IsolationForestParams, Model};
use aiops_mcp_tool::Error;
use aiops_mcp_tool::config::{DEFAULT_POINTS_PER_QUERY, ServerOptions};
use aiops_mcp_tool::model_store::S3Options;
use aiops_mcp_tool::server::{ServeConfig, Server};
use ndarray::Array2;

/// A valid configuration serving `model` on a free loopback port.
fn valid_config(model: &str) -> ServeConfig {
    ServeConfig {
        prometheus_url: "http://127.0.0.1:9090".into(),
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

/// A small model on the standard features, written to `dir`.
fn write_model(dir: &std::path::Path) -> String {
    let schema = FeatureSchema::reference();
    let x = Array2::from_shape_fn((64, schema.columns.len()), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    let forest = IsolationForest::fit(&IsolationForestParams::reference(), x.view()).expect("fit");
    let model = Model::new(forest, schema.columns.clone(), Some(schema), x.view()).expect("model");
    let path = dir.join("model.iforest");
    std::fs::write(&path, model.to_bytes()).expect("model file");
    path.display().to_string()
}

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
        ("prometheus_url", |c| c.prometheus_url = "ftp://prometheus:9090".into()),
        ("inference_url", |c| c.inference_url = Some("http://127.0.0.1:8080".into())),
    ];
    for (option, make_wrong) in table {
        let mut config = valid_config(&model);
        make_wrong(&mut config);
        match Server::bind(config).await {
            Err(Error::InvalidOption { field, .. }) => assert_eq!(field, option),
            other => panic!("expected `{option}` to be refused, got {other:?}"),
        }
    }
    let server = Server::bind(valid_config(&model)).await.expect("the defaults are valid");
    assert!(server.local_addr().expect("bound").ip().is_loopback());
}

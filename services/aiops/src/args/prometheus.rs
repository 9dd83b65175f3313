//! `--prometheus-url` and the flags that go with it, the same for every command that queries
//! Prometheus (`fetch`, `pipeline run`, `serve-mcp`, `watch`), each with its environment
//! variable (`AIOPS_PROMETHEUS_*`) so that credentials need not be on the command line.

use std::path::PathBuf;
use std::time::Duration;

use aiops_promclient::{Auth, ClientConfig};

use super::{limits, values};

/// Where `--help` lists these flags.
const HEADING: &str = "Prometheus connection";

/// How to reach Prometheus.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PrometheusArgs {
    /// Prometheus base URL, possibly with a path prefix (`https://host/prometheus`).
    #[arg(long, help_heading = HEADING, env = "AIOPS_PROMETHEUS_URL", value_name = "URL")]
    prometheus_url: String,
    /// Bearer token (prefer the environment variable).
    #[arg(
        long,
        help_heading = HEADING,
        env = "AIOPS_PROMETHEUS_TOKEN",
        hide_env_values = true,
        conflicts_with = "username",
        value_name = "TOKEN"
    )]
    token: Option<String>,
    /// Basic-auth user name (password from AIOPS_PROMETHEUS_PASSWORD).
    #[arg(long, help_heading = HEADING, env = "AIOPS_PROMETHEUS_USERNAME", value_name = "NAME")]
    username: Option<String>,
    /// Basic-auth password (prefer the environment variable).
    #[arg(
        long,
        help_heading = HEADING,
        env = "AIOPS_PROMETHEUS_PASSWORD",
        hide_env_values = true,
        requires = "username",
        value_name = "PASSWORD"
    )]
    password: Option<String>,
    /// PEM file of CA certificates to trust for https.
    #[arg(long, help_heading = HEADING, env = "AIOPS_PROMETHEUS_CA_CERT", value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Timeout of each request: `30s`, `2m` (a bare number is seconds).
    #[arg(
        long,
        help_heading = HEADING,
        env = "AIOPS_PROMETHEUS_TIMEOUT",
        default_value = "30s",
        value_name = "DURATION",
        value_parser = |text: &str| values::duration(text, &limits::REQUEST_TIMEOUT)
    )]
    timeout: Duration,
    /// Retries after connection errors and 5xx answers (0 to 10).
    #[arg(
        long,
        help_heading = HEADING,
        env = "AIOPS_PROMETHEUS_RETRIES",
        default_value = "3",
        value_name = "N",
        value_parser = |text: &str| values::count(text, &limits::RETRIES)
    )]
    retries: usize,
}

impl PrometheusArgs {
    /// The client configuration these flags describe.
    pub(crate) fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::from_url(&self.prometheus_url)?;
        config.timeout = self.timeout;
        config.retries = u32::try_from(self.retries)?;
        config.tls.ca_certificate.clone_from(&self.ca_cert);
        config.auth = match (&self.token, &self.username) {
            (Some(token), _) => Auth::Bearer(token.clone()),
            (None, Some(username)) => Auth::Basic {
                username: username.clone(),
                password: self.password.clone().unwrap_or_default(),
            },
            (None, None) => Auth::None,
        };
        Ok(config)
    }
}

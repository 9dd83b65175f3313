//! Process-wide diagnostics for every subcommand: logs on standard error (`RUST_LOG`, default
//! `info`) as text or JSON lines (`--log-format`; colour only on a terminal and never with
//! `NO_COLOR`) and, only when an OTLP endpoint is given, OpenTelemetry traces
//! exported over OTLP/HTTP (protobuf). The library crates emit `tracing` spans
//! (`prometheus.query`, `features.compute`, `model.score`, ...); this module decides where they go.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Path the OTLP/HTTP trace signal is posted to, below the collector's base URL.
const TRACES_PATH: &str = "v1/traces";

/// How long shutdown waits for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Tracing flags, accepted by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Base URL of an OTLP/HTTP collector (Jaeger, the OpenTelemetry Collector), e.g.
    /// `http://jaeger-collector:4318`; spans are posted to `<url>/v1/traces`. Tracing is off
    /// when neither this nor OTEL_EXPORTER_OTLP_ENDPOINT is set.
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<url::Url>,
    /// `service.name` of the exported spans.
    #[arg(long, global = true, env = "OTEL_SERVICE_NAME", default_value = "aiops", value_name = "NAME")]
    otel_service_name: String,
    /// Log lines on standard error: `text`, `json` (one object per line, for log collectors),
    /// or `auto`: text on a terminal, json otherwise (in a container, under systemd).
    #[arg(long, global = true, env = "AIOPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,
}

/// The `--log-format` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `text` on a terminal, `json` otherwise.
    Auto,
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// `Text` or `Json`: what `Auto` means when standard error is (or is not) a terminal.
    fn resolve(self, terminal: bool) -> Self {
        match self {
            Self::Auto if terminal => Self::Text,
            Self::Auto => Self::Json,
            chosen => chosen,
        }
    }
}

/// Whether text logs may be coloured: only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Keeps the trace exporter alive; dropping it flushes the spans still buffered.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the trace exporter down"]
pub(crate) struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            eprintln!("warning: flushing traces failed: {error}");
        }
    }
}

/// Installs the global subscriber: logs always, OTLP traces when an endpoint is configured.
pub(crate) fn init(args: &Args) -> anyhow::Result<Guard> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info"))?;
    let terminal = std::io::stderr().is_terminal();
    let json = args.log_format.resolve(terminal) == LogFormat::Json;
    let text_logs = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(colour(terminal, std::env::var_os("NO_COLOR").as_deref()))
            .fmt_fields(escaped_fields())
    });
    let json_logs = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(false)
    });
    let provider =
        args.otlp_endpoint.as_ref().map(|url| tracer_provider(url, &args.otel_service_name)).transpose()?;
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("aiops")));
    tracing_subscriber::registry()
        .with(filter)
        .with(text_logs)
        .with(json_logs)
        .with(traces)
        .try_init()
        .context("installing the tracing subscriber")?;
    Ok(Guard(provider))
}

/// Log fields written as the default formatter does (`message`, then `name=value`), with control
/// characters escaped: a value from outside (a label, a remote message) cannot forge a log line
/// or drive the terminal.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        let text = aiops_text::escape_controls(&text);
        match field.name() {
            "message" => write!(writer, "{text}"),
            name => write!(writer, "{name}={text}"),
        }
    })
    .delimited(" ")
}

fn tracer_provider(base: &url::Url, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let endpoint = traces_endpoint(base)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint.as_str())
        .build()
        .with_context(|| format!("building the OTLP exporter for {endpoint}"))?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// `<base>/v1/traces`, as the OpenTelemetry specification derives it from
/// OTEL_EXPORTER_OTLP_ENDPOINT (a base path is kept).
fn traces_endpoint(base: &url::Url) -> anyhow::Result<url::Url> {
    anyhow::ensure!(
        matches!(base.scheme(), "http" | "https"),
        "--otlp-endpoint must be an http(s) URL, got {base}"
    );
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    Ok(base.join(TRACES_PATH)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_endpoint_appends_the_signal_path_and_keeps_a_base_path() {
        for (base, expected) in [
            ("http://collector:4318", "http://collector:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            ("https://gw.example/otlp", "https://gw.example/otlp/v1/traces"),
        ] {
            let url = url::Url::parse(base).unwrap();
            assert_eq!(traces_endpoint(&url).unwrap().as_str(), expected, "{base}");
        }
    }

    #[test]
    fn auto_log_format_is_text_on_a_terminal_and_json_elsewhere() {
        assert_eq!(LogFormat::Auto.resolve(true), LogFormat::Text);
        assert_eq!(LogFormat::Auto.resolve(false), LogFormat::Json);
        assert_eq!(LogFormat::Text.resolve(false), LogFormat::Text);
        assert_eq!(LogFormat::Json.resolve(true), LogFormat::Json);
    }

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))), "an empty NO_COLOR is unset (no-color.org)");
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }

    #[test]
    fn traces_endpoint_rejects_non_http_schemes() {
        let url = url::Url::parse("grpc://collector:4317").unwrap();
        assert!(traces_endpoint(&url).unwrap_err().to_string().contains("http(s)"));
    }
}

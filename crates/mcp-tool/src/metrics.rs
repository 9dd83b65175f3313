//! The server's Prometheus metrics (`/metrics`, OpenMetrics text): tool calls by tool and
//! outcome with their latency, Prometheus queries with their latency and errors, and model
//! reloads by outcome.
//!
//! The model store reports reloads through [`ReloadMetrics`], a cheap clonable handle with one
//! method per outcome, so whatever loads the model can count its reloads without knowing about
//! the rest:
//!
//! ```
//! let metrics = aiops_mcp_tool::metrics::Metrics::new();
//! let reloads = metrics.reloads();
//! reloads.observe::<()>(&Ok(true)); // or reloads.loaded()
//! reloads.observe(&Err("not a model"));
//! reloads.observe::<()>(&Ok(false)); // unchanged: not a reload
//! let text = metrics.encode();
//! assert!(text.contains("aiops_mcp_model_reloads_total{outcome=\"loaded\"} 1"));
//! assert!(text.contains("aiops_mcp_model_reloads_total{outcome=\"failed\"} 1"));
//! ```

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A result.
    Success,
    /// An `isError` result (bad arguments, no data, a failing Prometheus).
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    outcome: &'static str,
}

/// Counts model reloads by outcome; clone it into whatever watches the model's storage.
#[derive(Debug, Clone, Default)]
pub struct ReloadMetrics {
    reloads: Family<ReloadLabels, Counter>,
}

impl ReloadMetrics {
    /// A changed model was loaded and is now served.
    pub fn loaded(&self) {
        self.reloads.get_or_create(&ReloadLabels { outcome: "loaded" }).inc();
    }

    /// A reload failed (the previous model stays in use).
    pub fn failed(&self) {
        self.reloads.get_or_create(&ReloadLabels { outcome: "failed" }).inc();
    }

    /// Counts the outcome of one check for a new model: `Ok(true)` loaded, `Err` failed,
    /// `Ok(false)` (unchanged) not at all.
    pub fn observe<E>(&self, outcome: &Result<bool, E>) {
        match outcome {
            Ok(true) => self.loaded(),
            Ok(false) => {}
            Err(_) => self.failed(),
        }
    }
}

fn seconds_histogram() -> Histogram {
    // 1 ms to ~65 s: a tool call over a week of samples takes seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The MCP server's metrics and the registry that exposes them (prefix `aiops_mcp`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tool_calls: Family<CallLabels, Counter>,
    tool_latency: Family<ToolLabel, Histogram, fn() -> Histogram>,
    query_latency: Histogram,
    query_errors: Counter,
    reloads: ReloadMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("aiops_mcp");
        let tool_calls = Family::<CallLabels, Counter>::default();
        let tool_latency =
            Family::<ToolLabel, Histogram, fn() -> Histogram>::new_with_constructor(seconds_histogram);
        let query_latency = seconds_histogram();
        let query_errors = Counter::default();
        let reloads = ReloadMetrics::default();
        registry.register(
            "tool_calls",
            "MCP tool calls, by tool and outcome (success, error)",
            tool_calls.clone(),
        );
        registry.register(
            "tool_call_duration_seconds",
            "MCP tool call latency, by tool",
            tool_latency.clone(),
        );
        registry.register(
            "prometheus_query_duration_seconds",
            "Latency of the Prometheus requests tool calls make",
            query_latency.clone(),
        );
        registry.register("prometheus_query_errors", "Prometheus requests that failed", query_errors.clone());
        registry.register(
            "model_reloads",
            "Model reloads after the stored model changed, by outcome (loaded, failed)",
            reloads.reloads.clone(),
        );
        Self { registry, tool_calls, tool_latency, query_latency, query_errors, reloads }
    }

    /// Counts one call of `tool` that took `elapsed`.
    pub fn observe_tool_call(&self, tool: &str, outcome: Outcome, elapsed: Duration) {
        let tool = tool.to_owned();
        self.tool_calls.get_or_create(&CallLabels { tool: tool.clone(), outcome: outcome.as_str() }).inc();
        self.tool_latency.get_or_create(&ToolLabel { tool }).observe(elapsed.as_secs_f64());
    }

    /// Records one Prometheus request (or one tool's batch of chunked requests).
    pub fn observe_prometheus_query(&self, elapsed: Duration, succeeded: bool) {
        self.query_latency.observe(elapsed.as_secs_f64());
        if !succeeded {
            self.query_errors.inc();
        }
    }

    /// The handle the model store counts reloads with.
    pub fn reloads(&self) -> ReloadMetrics {
        self.reloads.clone()
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

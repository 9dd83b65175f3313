//! The MCP tools (names and arguments compatible with the reference server), their input and
//! output schemas, progress notifications and read-only annotations.
//!
//! Every tool takes its arguments as a raw JSON object and checks them itself, so that a bad
//! argument is an `isError` result naming it (which an LLM agent can act on) rather than a
//! JSON-RPC protocol error.

use std::sync::Arc;

use base64::Engine as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ProgressNotificationParam, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use aiops_promclient::{FleetQuery, Instance};

use crate::engine::{Engine, ProgressFn, ScoredSeries, ToolError, check_fleet, check_hours, parse_instance};
use crate::metrics::Outcome;
use crate::report::{AnomalyReport, Explanation, FleetReport, InstanceList, rfc3339};
use crate::schema::{free_form_object, input_schema, output_schema};

/// Chart size in pixels.
const CHART_SIZE: (u32, u32) = (900, 400);

fn default_hours() -> i64 {
    1
}

/// An integer argument: also accepts a number with a zero fraction (`2.0`), which models often
/// send; refuses `2.5` (the caller names the argument).
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct WholeNumber;
    impl serde::de::Visitor<'_> for WholeNumber {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Exactly representable in both types, so the cast below is lossless.
            const LIMIT: f64 = 9_007_199_254_740_992.0;
            if v.fract() == 0.0 && v.abs() <= LIMIT {
                Ok(v as i64)
            } else {
                Err(E::custom(format!("{v} is not a whole number")))
            }
        }
    }
    deserializer.deserialize_any(WholeNumber)
}

/// Arguments of `predict_anomalies`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictArgs {
    /// The node: an IP such as `10.0.1.244` (node-exporter's port 9100 is appended) or an
    /// instance `ip:port` / `host:port` as listed by `list_instances`.
    #[schemars(length(min = 1, max = 256))]
    pub instance_ip: String,
    /// Hours to look back from now (1 to the server's maximum, 168 by default).
    #[serde(default = "default_hours", deserialize_with = "whole_number")]
    #[schemars(with = "i64", range(min = 1, max = 168))]
    pub hours: i64,
    /// Also return a PNG chart of the series with the anomalies marked.
    #[serde(default)]
    pub chart: bool,
}

/// Arguments of `query_prometheus_and_predict`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    /// The node: an IP such as `10.0.1.244` (port 9100 is appended) or `ip:port`.
    #[schemars(length(min = 1, max = 256))]
    pub instance_ip: String,
    /// Hours to look back from now (1 to the server's maximum, 168 by default).
    #[serde(default = "default_hours", deserialize_with = "whole_number")]
    #[schemars(with = "i64", range(min = 1, max = 168))]
    pub time_range_hours: i64,
    /// Also return a PNG chart of the series with the anomalies marked.
    #[serde(default)]
    pub chart: bool,
}

/// The metrics `detect_metric_anomalies` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetricName {
    /// CPU usage in percent (scored with the configured model).
    Cpu,
    /// Memory usage in percent.
    Memory,
    /// Used space of the root filesystem in percent.
    Disk,
    /// Received bytes per second over all devices but loopback.
    Network,
}

impl MetricName {
    /// The name, as the argument spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Disk => "disk",
            Self::Network => "network",
        }
    }
}

/// Arguments of `detect_metric_anomalies`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricArgs {
    /// The node: an IP such as `10.0.1.244` (port 9100 is appended) or `ip:port`.
    #[schemars(length(min = 1, max = 256))]
    pub instance_ip: String,
    /// The metric.
    pub metric: MetricName,
    /// Hours to look back from now (1 to the server's maximum, 168 by default).
    #[serde(default = "default_hours", deserialize_with = "whole_number")]
    #[schemars(with = "i64", range(min = 1, max = 168))]
    pub hours: i64,
    /// Also return a PNG chart of the series with the anomalies marked.
    #[serde(default)]
    pub chart: bool,
}

fn default_fleet_limit() -> i64 {
    10
}

fn default_min_score() -> f64 {
    1.0
}

/// Arguments of `fleet_status`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FleetArgs {
    /// How many nodes to list at most, highest score first (1 to 100).
    #[serde(default = "default_fleet_limit", deserialize_with = "whole_number")]
    #[schemars(with = "i64", range(min = 1, max = 100))]
    pub limit: i64,
    /// Only this metric's scores (every metric when absent).
    #[serde(default)]
    #[schemars(with = "MetricName")]
    pub metric: Option<MetricName>,
    /// The lowest anomaly score listed (0 normal, 1 or more anomalous).
    #[serde(default = "default_min_score")]
    #[schemars(range(min = 0.0))]
    pub min_score: f64,
}

/// A point in time: RFC 3339 (`2026-11-26T10:15:00Z`) or unix seconds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TimeArg {
    /// Unix seconds.
    Unix(f64),
    /// RFC 3339, or unix seconds as a string.
    Text(#[schemars(length(max = 64))] String),
}

impl TimeArg {
    fn unix(&self) -> Result<f64, ToolError> {
        let bad = |text: &str| {
            ToolError::argument(
                "timestamp",
                format!("`timestamp` {text:?} is neither RFC 3339 (2026-11-26T10:15:00Z) nor unix seconds"),
            )
        };
        match self {
            Self::Unix(t) if t.is_finite() => Ok(*t),
            Self::Unix(t) => Err(bad(&t.to_string())),
            Self::Text(text) if text.len() > 64 => Err(bad(&text.chars().take(64).collect::<String>())),
            Self::Text(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite())
                .or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(text.trim())
                        .ok()
                        .map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
                })
                .ok_or_else(|| bad(text)),
        }
    }
}

/// Arguments of `explain_anomaly`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    /// The node: an IP such as `10.0.1.244` (port 9100 is appended) or `ip:port`.
    #[schemars(length(min = 1, max = 256))]
    pub instance_ip: String,
    /// The time of the sample to explain, e.g. a period's `peak_time`.
    pub timestamp: TimeArg,
}

/// `list_instances` and `model_info` take no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// The answer of `model_info`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelInfo {
    /// Where the model was loaded from (local path or `s3://` URI).
    pub source: String,
    /// SHA-256 of the model file.
    pub digest: String,
    /// When this server loaded it, RFC 3339 UTC.
    pub loaded_at: String,
    /// When the model was trained, RFC 3339 UTC.
    pub trained_at: String,
    /// Hours since training.
    pub age_hours: f64,
    /// Input columns in order.
    pub feature_names: Vec<String>,
    /// The feature schema, e.g. `reference v1 (window 5: cpu_usage, ...)` (absent for custom
    /// columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_schema: Option<String>,
    /// The Isolation Forest parameters, as recorded in the model.
    #[schemars(schema_with = "free_form_object")]
    pub parameters: serde_json::Value,
    /// The training data's summary (samples, anomalies, offset, score percentiles).
    #[schemars(schema_with = "free_form_object")]
    pub training: serde_json::Value,
    /// `in-process`, or the remote inference server and model name.
    pub inference: String,
    /// Why the last reload of a changed model failed (the previous model stays in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload_error: Option<String>,
    /// Seconds between samples of every query.
    pub step_seconds: u64,
    /// Largest `hours` argument accepted.
    pub max_hours: u32,
    /// The metrics `detect_metric_anomalies` scores with this model (`cpu`); the others are
    /// scored by a model trained on the requested window.
    pub configured_metrics: Vec<String>,
}

impl ModelInfo {
    fn text(&self) -> String {
        format!(
            "Model {} from {} (digest {}), trained {} ({:.1} h ago) on {} columns [{}]; inference {}.",
            self.feature_schema.as_deref().unwrap_or("(custom columns)"),
            self.source,
            &self.digest[..12.min(self.digest.len())],
            self.trained_at,
            self.age_hours,
            self.feature_names.len(),
            self.feature_names.join(", "),
            self.inference
        )
    }
}

/// The MCP server: one instance per request (stateless mode), sharing one [`Engine`].
#[derive(Clone)]
pub struct AnomalyTools {
    engine: Arc<Engine>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for AnomalyTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnomalyTools").field("engine", &self.engine).finish_non_exhaustive()
    }
}

#[tool_router]
impl AnomalyTools {
    /// The tools over `engine`, with the `hours` maxima of the input schemas set to the engine's.
    pub fn new(engine: Arc<Engine>) -> Self {
        let tool_router = Self::router(engine.settings().max_hours);
        Self { engine, tool_router }
    }

    /// The tools as `tools/list` describes them, for a server whose `hours` arguments go up to
    /// `max_hours`.
    pub fn definitions(max_hours: u32) -> Vec<Tool> {
        Self::router(max_hours).list_all()
    }

    fn router(max_hours: u32) -> ToolRouter<Self> {
        let mut tool_router = Self::tool_router();
        for route in tool_router.map.values_mut() {
            route.attr.input_schema = Arc::new(with_max_hours(&route.attr.input_schema, max_hours));
        }
        tool_router
    }

    /// Detects CPU anomalies of a node over the last hours (the reference tool).
    #[tool(
        description = "Detect CPU usage anomalies of a Kubernetes node over the last `hours` hours: queries Prometheus, \
                       scores every sample with the Isolation Forest and returns the anomaly count and percentage and the \
                       anomaly periods (start, end, peak, severity).",
        input_schema = input_schema::<PredictArgs>(),
        output_schema = output_schema::<AnomalyReport>(),
        annotations(title = "Predict CPU anomalies", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn predict_anomalies(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.anomalies("predict_anomalies", arguments, &context).await
    }

    /// The reference's second tool: the same analysis, also listing the anomalous samples.
    #[tool(
        description = "Query Prometheus for a node's CPU usage over the last `time_range_hours` hours and predict anomalies: \
                       the same summary as predict_anomalies plus the anomalous samples themselves (time, value, decision; \
                       the latest 200).",
        input_schema = input_schema::<QueryArgs>(),
        output_schema = output_schema::<AnomalyReport>(),
        annotations(title = "Query Prometheus and predict", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn query_prometheus_and_predict(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.anomalies("query_prometheus_and_predict", arguments, &context).await
    }

    /// Lists the node-exporter instances Prometheus knows.
    #[tool(
        description = "List the node-exporter instances (Kubernetes nodes) Prometheus has metrics for; pass an `ip` or \
                       `instance` from here as `instance_ip` to the other tools.",
        input_schema = input_schema::<NoArgs>(),
        output_schema = output_schema::<InstanceList>(),
        annotations(title = "List instances", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn list_instances(&self, arguments: JsonObject) -> CallToolResult {
        let outcome = async {
            check_no_arguments(arguments)?;
            self.engine.instances().await
        };
        match outcome.await {
            Ok(list) => structured_result(&list, list.text(), None),
            Err(e) => error_result(&e),
        }
    }

    /// Anomalies of memory, disk, network (or CPU).
    #[tool(
        description = "Detect anomalies of one metric of a node (cpu, memory, disk or network) over the last `hours` hours. \
                       CPU is scored with the configured model; the other metrics with an Isolation Forest trained on the \
                       requested window itself (said in `notes`).",
        input_schema = input_schema::<MetricArgs>(),
        output_schema = output_schema::<AnomalyReport>(),
        annotations(title = "Detect metric anomalies", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn detect_metric_anomalies(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        self.anomalies("detect_metric_anomalies", arguments, &context).await
    }

    /// Why one CPU sample is (or is not) anomalous.
    #[tool(
        description = "Explain why a node's CPU sample at `timestamp` (RFC 3339 or unix seconds; e.g. a period's peak_time) \
                       is anomalous or normal: the forest's decision and each feature's contribution (cpu_usage, \
                       rolling_mean, rolling_std, rate_of_change, hour).",
        input_schema = input_schema::<ExplainArgs>(),
        output_schema = output_schema::<Explanation>(),
        annotations(title = "Explain an anomaly", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn explain_anomaly(
        &self,
        arguments: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let outcome = async {
            let ExplainCall { instance, unix } = check_explain_arguments(arguments)?;
            let progress = Progress::new(&context);
            let explained = self.engine.explain(instance.as_str(), unix, &progress.report).await;
            progress.finish().await;
            explained
        };
        match outcome.await {
            Ok(explanation) => structured_result(&explanation, explanation.text(), None),
            Err(e) => error_result(&e),
        }
    }

    /// The nodes anomalous now across the fleet, from the scores `aiops watch` exports.
    #[tool(
        description = "List the nodes of the fleet that are anomalous now, highest anomaly score first, with the metric \
                       concerned and when their open incident started. Reads the scores every `aiops watch` replica \
                       exports (aiops_anomaly_score: 0 normal, 1 or more anomalous) from Prometheus, so it covers every \
                       shard. Optional: `limit` (1 to 100, default 10), `metric` (cpu, memory, disk or network), \
                       `min_score` (default 1).",
        input_schema = input_schema::<FleetArgs>(),
        output_schema = output_schema::<FleetReport>(),
        annotations(title = "Fleet status", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn fleet_status(&self, arguments: JsonObject) -> CallToolResult {
        let outcome = async {
            let query = check_fleet_arguments(arguments)?;
            self.engine.fleet_status(&query).await
        };
        match outcome.await {
            Ok(report) => structured_result(&report, report.text(), None),
            Err(e) => error_result(&e),
        }
    }

    /// The served model's schema, parameters, training summary and age.
    #[tool(
        description = "Describe the served anomaly model: feature schema, Isolation Forest parameters, training summary, \
                       when it was trained and loaded, its digest and where inference runs.",
        input_schema = input_schema::<NoArgs>(),
        output_schema = output_schema::<ModelInfo>(),
        annotations(title = "Model info", read_only_hint = true, open_world_hint = false, idempotent_hint = true)
    )]
    async fn model_info(&self, arguments: JsonObject) -> CallToolResult {
        match check_no_arguments(arguments) {
            Ok(_) => {
                let info = self.describe_model();
                structured_result(&info, info.text(), None)
            }
            Err(e) => error_result(&e),
        }
    }
}

#[tool_handler(
    router = self.tool_router,
    name = "aiops-anomaly-detection",
    instructions = "Anomaly detection for Kubernetes nodes from Prometheus metrics. Start with list_instances if you do not \
                    know the node; predict_anomalies answers 'are there CPU anomalies on <ip> in the last <n> hours'; \
                    explain_anomaly tells why a sample (e.g. a period's peak_time) is anomalous; detect_metric_anomalies \
                    covers memory, disk and network; fleet_status answers 'which nodes are in trouble now?' across the \
                    fleet; model_info describes the model. All tools are read-only."
)]
impl ServerHandler for AnomalyTools {
    /// Runs the tool and counts the call by tool and outcome, with its latency.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = std::time::Instant::now();
        // Only known names become label values, so callers cannot grow the series count.
        let tool = if self.tool_router.has_route(&request.name) {
            request.name.to_string()
        } else {
            "unknown".into()
        };
        let response = self.tool_router.call(ToolCallContext::new(self, request, context)).await;
        let outcome = match &response {
            Ok(CallToolResponse::Complete(result)) if result.is_error != Some(true) => Outcome::Success,
            _ => Outcome::Error,
        };
        self.engine.metrics().observe_tool_call(&tool, outcome, started.elapsed());
        response
    }
}

impl AnomalyTools {
    /// Runs one of the anomaly tools, `tool`, on its raw arguments.
    async fn anomalies(
        &self,
        tool: &str,
        arguments: JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> CallToolResult {
        let outcome = async {
            let AnomalyCall { instance, metric, hours, list_points, chart } =
                check_anomaly_arguments(tool, arguments, self.engine.settings().max_hours)?;
            let progress = Progress::new(context);
            let outcome = self
                .engine
                .anomalies(instance.as_str(), metric.as_str(), hours, list_points, &progress.report)
                .await;
            progress.finish().await;
            let (report, series) = outcome?;
            let image = if chart { Some(render_chart(&report, &series)?) } else { None };
            Ok(structured_result(&report, report.text(), image))
        };
        outcome.await.unwrap_or_else(|e| error_result(&e))
    }

    fn describe_model(&self) -> ModelInfo {
        let loaded = self.engine.models().current();
        let metadata = &loaded.model.metadata;
        let now = chrono::Utc::now().timestamp() as f64;
        ModelInfo {
            source: loaded.location.clone(),
            digest: loaded.digest.clone(),
            loaded_at: loaded.loaded_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            trained_at: rfc3339(metadata.created_at_unix as f64),
            age_hours: ((now - metadata.created_at_unix as f64) / 3600.0).max(0.0),
            feature_names: metadata.feature_names.clone(),
            feature_schema: loaded.schema.as_ref().map(aiops_features::FeatureSchema::summary),
            parameters: json_object(&metadata.params),
            training: json_object(&metadata.training),
            inference: self.engine.inference().describe(),
            last_reload_error: self.engine.models().last_reload_error(),
            step_seconds: self.engine.settings().step.as_secs(),
            max_hours: self.engine.settings().max_hours,
            configured_metrics: vec!["cpu".into()],
        }
    }
}

/// A tool call's arguments after [`check_arguments`]: typed and within bounds, before any work.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedArguments {
    /// `predict_anomalies` and `query_prometheus_and_predict` (CPU), `detect_metric_anomalies`.
    Anomalies(AnomalyCall),
    /// `explain_anomaly`.
    Explain(ExplainCall),
    /// `fleet_status`.
    Fleet(FleetQuery),
    /// `list_instances` and `model_info`, which take no arguments.
    NoArguments,
}

/// The checked arguments of an anomaly tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyCall {
    /// The node, canonical (`ip:port` or `host:port`).
    pub instance: Instance,
    /// The metric.
    pub metric: MetricName,
    /// Hours to look back, in `1..=max_hours`.
    pub hours: u32,
    /// Whether to list the anomalous samples (`query_prometheus_and_predict`).
    pub list_points: bool,
    /// Whether to add a PNG chart.
    pub chart: bool,
}

/// The checked arguments of `explain_anomaly`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainCall {
    /// The node, canonical.
    pub instance: Instance,
    /// The time asked about, finite unix seconds.
    pub unix: f64,
}

/// The names of the tools, as `tools/list` gives them.
pub const TOOL_NAMES: [&str; 7] = [
    "predict_anomalies",
    "query_prometheus_and_predict",
    "list_instances",
    "detect_metric_anomalies",
    "explain_anomaly",
    "fleet_status",
    "model_info",
];

/// Parses and checks the raw `arguments` of a call of `tool` on a server whose `hours`
/// arguments go up to `max_hours`: what every tool does first, so a bad argument is refused
/// naming it before any query.
///
/// ```
/// use aiops_mcp_tool::tools::{AnomalyCall, CheckedArguments, check_arguments};
/// let arguments = serde_json::json!({"instance_ip": "10.0.1.244", "hours": 2.0});
/// let checked = check_arguments("predict_anomalies", arguments.as_object().unwrap().clone(), 168).unwrap();
/// let CheckedArguments::Anomalies(AnomalyCall { instance, hours, .. }) = checked else { unreachable!() };
/// assert_eq!((instance.as_str(), hours), ("10.0.1.244:9100", 2));
/// let too_long = serde_json::json!({"instance_ip": "10.0.1.244", "hours": 169});
/// let error = check_arguments("predict_anomalies", too_long.as_object().unwrap().clone(), 168).unwrap_err();
/// assert_eq!(error.argument.as_deref(), Some("hours"));
/// ```
///
/// # Errors
/// A [`ToolError`] naming the argument at fault (unknown, missing, of the wrong type, out of
/// range, an invalid instance or time), or naming the tool when it is unknown.
pub fn check_arguments(
    tool: &str,
    arguments: JsonObject,
    max_hours: u32,
) -> Result<CheckedArguments, ToolError> {
    match tool {
        "predict_anomalies" | "query_prometheus_and_predict" | "detect_metric_anomalies" => {
            check_anomaly_arguments(tool, arguments, max_hours).map(CheckedArguments::Anomalies)
        }
        "explain_anomaly" => check_explain_arguments(arguments).map(CheckedArguments::Explain),
        "fleet_status" => check_fleet_arguments(arguments).map(CheckedArguments::Fleet),
        "list_instances" | "model_info" => {
            check_no_arguments(arguments).map(|()| CheckedArguments::NoArguments)
        }
        _ => Err(ToolError::other(format!(
            "unknown tool `{}`; the tools are {}",
            aiops_text::bounded(tool),
            TOOL_NAMES.join(", ")
        ))),
    }
}

/// The arguments of the anomaly tool `tool` (`predict_anomalies`, `query_prometheus_and_predict`
/// or else `detect_metric_anomalies`).
fn check_anomaly_arguments(
    tool: &str,
    arguments: JsonObject,
    max_hours: u32,
) -> Result<AnomalyCall, ToolError> {
    let (instance_ip, metric, (argument, hours), list_points, chart) = match tool {
        "predict_anomalies" => {
            let args: PredictArgs = parse_arguments(arguments)?;
            (args.instance_ip, MetricName::Cpu, ("hours", args.hours), false, args.chart)
        }
        "query_prometheus_and_predict" => {
            let args: QueryArgs = parse_arguments(arguments)?;
            (args.instance_ip, MetricName::Cpu, ("time_range_hours", args.time_range_hours), true, args.chart)
        }
        _ => {
            let args: MetricArgs = parse_arguments(arguments)?;
            (args.instance_ip, args.metric, ("hours", args.hours), false, args.chart)
        }
    };
    Ok(AnomalyCall {
        instance: parse_instance(&instance_ip)?,
        metric,
        hours: check_hours(argument, hours, max_hours)?,
        list_points,
        chart,
    })
}

fn check_explain_arguments(arguments: JsonObject) -> Result<ExplainCall, ToolError> {
    let args: ExplainArgs = parse_arguments(arguments)?;
    Ok(ExplainCall { instance: parse_instance(&args.instance_ip)?, unix: args.timestamp.unix()? })
}

fn check_fleet_arguments(arguments: JsonObject) -> Result<FleetQuery, ToolError> {
    let args: FleetArgs = parse_arguments(arguments)?;
    check_fleet(args.limit, args.metric.map(MetricName::as_str), args.min_score)
}

fn check_no_arguments(arguments: JsonObject) -> Result<(), ToolError> {
    let NoArgs {} = parse_arguments(arguments)?;
    Ok(())
}

/// Deserializes tool arguments, naming the argument at fault (unknown, wrong type, missing).
fn parse_arguments<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, ToolError> {
    serde_path_to_error::deserialize(serde_json::Value::Object(arguments)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let missing =
            ["instance_ip", "metric", "timestamp"].into_iter().find(|f| inner.contains(&format!("`{f}`")));
        let unknown =
            inner.strip_prefix("unknown field `").and_then(|rest| rest.split_once('`')).map(|(f, _)| f);
        match (path.as_str(), missing, unknown) {
            ("." | "", Some(field), _) if inner.contains("missing field") => {
                ToolError::argument(field, format!("invalid arguments: `{field}` is required"))
            }
            ("." | "", _, Some(field)) => {
                ToolError::argument(field, format!("invalid argument `{field}`: {inner}"))
            }
            ("." | "", _, _) => ToolError::other(format!("invalid arguments: {inner}")),
            (field, _, _) => ToolError::argument(field, format!("invalid argument `{field}`: {inner}")),
        }
    })
}

/// `value` as a JSON object (structs always serialize to one; an empty object otherwise, as the
/// output schema promises an object).
fn json_object<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .ok()
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}))
}

/// A successful result: structured content, the human text, and optionally a PNG image.
fn structured_result<T: Serialize>(value: &T, text: String, png: Option<Vec<u8>>) -> CallToolResult {
    let structured = serde_json::to_value(value).unwrap_or_default();
    let mut content = vec![ContentBlock::text(text)];
    if let Some(png) = png {
        content.push(ContentBlock::image(base64::engine::general_purpose::STANDARD.encode(png), "image/png"));
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured);
    result
}

/// An `isError` result: the message (naming the argument, with the hint and the instances with
/// data) as text only. No structured content: clients validate structured content against the
/// tool's output schema, which describes answers, not errors.
fn error_result(error: &ToolError) -> CallToolResult {
    tracing::info!(error = %error.error, argument = ?error.argument, "tool call refused");
    CallToolResult::error(vec![ContentBlock::text(error.text())])
}

/// Sends `notifications/progress` when the client asked for them (a progress token in `_meta`),
/// in order through one task; [`Progress::finish`] waits until all are sent, so none arrives
/// after the result.
struct Progress {
    report: ProgressFn,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn new(context: &RequestContext<RoleServer>) -> Self {
        let Some(token) = context.meta.get_progress_token() else {
            return Self { report: Arc::new(|_, _, _| {}), task: None };
        };
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(f64, f64, String)>();
        let peer = context.peer.clone();
        let task = tokio::spawn(async move {
            while let Some((progress, total, message)) = receiver.recv().await {
                let mut param = ProgressNotificationParam::new(token.clone(), progress);
                param.total = Some(total);
                param.message = Some(message);
                if peer.notify_progress(param).await.is_err() {
                    break;
                }
            }
        });
        let report: ProgressFn = Arc::new(move |progress, total, message| {
            let _ = sender.send((progress, total, message));
        });
        Self { report, task: Some(task) }
    }

    async fn finish(self) {
        drop(self.report);
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

fn render_chart(report: &AnomalyReport, series: &ScoredSeries) -> Result<Vec<u8>, ToolError> {
    let title = format!("{} {} (last {} h)", report.instance, report.metric, report.hours);
    let shaded: Vec<(f64, f64)> = report.periods.iter().map(|p| (p.start_unix, p.end_unix)).collect();
    let chart = aiops_charts::SeriesChart {
        title: &title,
        value_label: &report.value_column,
        timestamps: &series.timestamps,
        values: &series.values,
        anomalies: &series.anomalies,
        shaded: &shaded,
        alerts: &[],
    };
    aiops_charts::render_png(&chart, CHART_SIZE.0, CHART_SIZE.1)
        .map_err(|e| ToolError::other(format!("rendering the chart failed: {e}")))
}

/// `schema` with every `hours`-like property's `maximum` set to `max_hours`.
fn with_max_hours(schema: &JsonObject, max_hours: u32) -> JsonObject {
    let mut schema = schema.clone();
    if let Some(serde_json::Value::Object(properties)) = schema.get_mut("properties") {
        for name in ["hours", "time_range_hours"] {
            if let Some(serde_json::Value::Object(property)) = properties.get_mut(name) {
                property.insert("maximum".into(), max_hours.into());
            }
        }
    }
    schema
}

//! What the MCP tools' argument checking guarantees on any input, checked by the seeded
//! mutation test in `mcp_tool.rs` and by the cargo-fuzz target `fuzz/fuzz_targets/mcp_arguments.rs`
//! (which includes this file): [`check_arguments`] returns checked arguments or a [`ToolError`]
//! for every tool, never panics; what it accepts is within bounds and canonical, and written
//! back as arguments checks to the same.

use aiops_mcp_tool::tools::{AnomalyCall, CheckedArguments, ExplainCall, TOOL_NAMES, check_arguments};
use serde_json::{Value, json};

/// The largest `hours` the checks are run with: the default, and the smallest server.
pub const MAX_HOURS: [u32; 2] = [168, 1];

/// Checks `body`, when it is a JSON object, as the arguments of every tool; returns how many
/// calls were accepted.
pub fn check_json(body: &[u8]) -> usize {
    match serde_json::from_slice::<Value>(body) {
        Ok(arguments) => check_value(&arguments),
        Err(_) => 0,
    }
}

/// Checks `arguments` (accepted only when an object) as the arguments of every tool.
pub fn check_value(arguments: &Value) -> usize {
    let Value::Object(arguments) = arguments else { return 0 };
    let mut accepted = 0;
    for tool in TOOL_NAMES {
        for max_hours in MAX_HOURS {
            let Ok(checked) = check_arguments(tool, arguments.clone(), max_hours) else { continue };
            accepted += 1;
            let again = written_back(tool, &checked);
            assert_eq!(
                check_arguments(tool, again.clone(), max_hours).as_ref(),
                Ok(&checked),
                "{tool}: {arguments:?} written back as {again:?}"
            );
        }
    }
    accepted
}

/// `checked` as the raw arguments of `tool`, checking the bounds on the way.
fn written_back(tool: &str, checked: &CheckedArguments) -> serde_json::Map<String, Value> {
    let arguments = match checked {
        CheckedArguments::Anomalies(AnomalyCall { instance, metric, hours, list_points, chart }) => {
            assert!((1..=MAX_HOURS[0]).contains(hours), "{tool}: hours {hours}");
            assert_eq!(*list_points, tool == "query_prometheus_and_predict");
            let hours_name = if *list_points { "time_range_hours" } else { "hours" };
            let mut arguments = json!({"instance_ip": instance.as_str(), hours_name: hours, "chart": chart});
            if tool == "detect_metric_anomalies" {
                arguments["metric"] = json!(metric.as_str());
            }
            arguments
        }
        CheckedArguments::Explain(ExplainCall { instance, unix }) => {
            assert!(unix.is_finite(), "{tool}: timestamp {unix}");
            json!({"instance_ip": instance.as_str(), "timestamp": unix})
        }
        CheckedArguments::Fleet(query) => {
            assert!((1..=100).contains(&query.limit()), "{tool}: limit {}", query.limit());
            assert!(query.min_score().is_finite() && query.min_score() >= 0.0, "{tool}: {query:?}");
            json!({"limit": query.limit(), "metric": query.metric(), "min_score": query.min_score()})
        }
        CheckedArguments::NoArguments => json!({}),
    };
    let Value::Object(arguments) = arguments else { unreachable!("json! of an object") };
    arguments
}

//! Tool schemas in a portable subset of JSON Schema, one that every mainstream MCP client
//! converts or validates without loss: google-adk (KAgent's runtime) turns input schemas into
//! Gemini function declarations (an OpenAPI 3.0 subset), the TypeScript SDK and MCP Inspector
//! validate structured results with Ajv and lint schemas (`--strict`), the Python SDK validates
//! with `jsonschema`.
//!
//! # The subset
//! Every schema node, input or output, is a JSON object (never a bare `true`/`false`) and either
//! - has exactly one `type`, a string among `object`, `array`, `string`, `integer`, `number`,
//!   `boolean` (never `null`, never an array of types), or
//! - is an `anyOf` of two or more such typed nodes (e.g. `timestamp`: number or string);
//!
//! and uses only these keywords: `type`, `description`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `minimum`, `maximum`, `minLength`, `maxLength`,
//! `format` (only `int32`, `int64`, `float`, `double`, `date-time`), `default`, `anyOf`
//! (plus `$schema` at the root). In particular:
//! - string choices are `{"type": "string", "enum": [...]}`, never `oneOf`/`const` branches
//!   (google-adk refuses `const`), their meanings listed in the `description`;
//! - no `oneOf`, `allOf`, `const`, `not`, `$ref`, `$defs` (subschemas are inlined);
//! - every `object` declares its `properties` or a typed `additionalProperties`;
//! - every name in `required` is a declared property; `enum` values are strings;
//! - nullable fields are expressed by absence: an optional field is left out of `required` and
//!   omitted from results when it has no value, never `null`.
//!
//! [`input_schema`] and [`output_schema`] generate a type's schema (with `schemars`) and rewrite
//! it into the subset; [`violations`] lists where a schema leaves it (a test runs it on every
//! tool).

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// Types a node may declare.
const TYPES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];
/// Keywords a node may use.
const KEYWORDS: [&str; 14] = [
    "type",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "format",
    "default",
    "anyOf",
];
/// Formats every client knows (Gemini's function declarations accept only these).
const FORMATS: [&str; 5] = ["int32", "int64", "float", "double", "date-time"];

/// The input schema of a tool taking `T` (what `T` deserializes from), in the portable subset.
pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    generate::<T>(settings())
}

/// The output schema of a tool answering `T` (what `T` serializes to), in the portable subset.
pub fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    generate::<T>(settings().for_serialize())
}

/// The schema of a free-form JSON object (e.g. parameters recorded in a model): typed as an
/// object whose members may be anything. For `#[schemars(schema_with = ...)]`.
pub fn free_form_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "additionalProperties": true})
}

fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true)
}

fn generate<T: JsonSchema>(settings: SchemaSettings) -> Arc<JsonObject> {
    let mut schema = settings.into_generator().into_root_schema_for::<T>().to_value();
    make_portable(&mut schema);
    let Value::Object(mut root) = schema else {
        unreachable!("a struct's schema is an object");
    };
    // The type's own name and doc comment are noise to a model; the tool describes itself.
    root.remove("title");
    root.remove("description");
    Arc::new(root)
}

/// Rewrites what `schemars` emits into the subset: `oneOf`/`anyOf` of string constants become
/// one `enum`, `[type, "null"]` becomes `type`, unknown formats and titles go.
fn make_portable(node: &mut Value) {
    let Value::Object(object) = node else { return };
    for choices in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = object.get(choices)
            && let Some((values, meanings)) = string_constants(branches)
        {
            object.remove(choices);
            let mut description = object.get("description").and_then(Value::as_str).unwrap_or("").to_owned();
            if !meanings.is_empty() {
                description = format!("{} One of: {}.", description, meanings.join("; ")).trim().to_owned();
            }
            object.insert("type".into(), "string".into());
            object.insert("enum".into(), Value::Array(values));
            if !description.is_empty() {
                object.insert("description".into(), description.into());
            }
        }
    }
    if let Some(Value::Array(types)) = object.get("type") {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [single] = types.as_slice() {
            object.insert("type".into(), single.clone());
        }
    }
    if object.get("format").and_then(Value::as_str).is_some_and(|f| !FORMATS.contains(&f)) {
        object.remove("format");
    }
    // An object taking nothing (no arguments) says so with empty properties.
    if object.get("type").is_some_and(|t| t == "object")
        && !object.contains_key("properties")
        && object.get("additionalProperties").is_some_and(|a| a == false)
    {
        object.insert("properties".into(), Value::Object(Map::new()));
    }
    object.remove("title");
    for child in children_mut(object) {
        make_portable(child);
    }
}

/// The values and meanings (`value: description`) of branches that are all string constants.
fn string_constants(branches: &[Value]) -> Option<(Vec<Value>, Vec<String>)> {
    let mut values = Vec::new();
    let mut meanings = Vec::new();
    for branch in branches {
        let branch = branch.as_object()?;
        let constants: Vec<Value> = match (branch.get("const"), branch.get("enum")) {
            (Some(Value::String(c)), None) => vec![c.clone().into()],
            (None, Some(Value::Array(e))) if e.iter().all(Value::is_string) => e.clone(),
            _ => return None,
        };
        if let (Some(description), [Value::String(value)]) =
            (branch.get("description").and_then(Value::as_str), constants.as_slice())
        {
            meanings.push(format!("{value}: {}", description.trim_end_matches('.')));
        }
        values.extend(constants);
    }
    Some((values, meanings))
}

/// The subschemas of a node: property schemas, `items`, `additionalProperties` and branches.
fn children_mut(object: &mut Map<String, Value>) -> Vec<&mut Value> {
    let mut children = Vec::new();
    for (key, value) in object.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "$defs" | "definitions" | "patternProperties", Value::Object(map)) => {
                children.extend(map.values_mut());
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(list)) => {
                children.extend(list.iter_mut());
            }
            ("items" | "additionalProperties" | "not", child @ Value::Object(_)) => children.push(child),
            _ => {}
        }
    }
    children
}

/// Where `schema` leaves the portable subset, as `path: problem` lines (empty: it is portable).
pub fn violations(schema: &JsonObject) -> Vec<String> {
    let mut found = Vec::new();
    let mut root = schema.clone();
    root.remove("$schema");
    check_node(&Value::Object(root), "$", &mut found);
    found
}

fn check_node(node: &Value, path: &str, found: &mut Vec<String>) {
    let Value::Object(object) = node else {
        found.push(format!("{path}: a boolean schema, not an object"));
        return;
    };
    for key in object.keys().filter(|k| !KEYWORDS.contains(&k.as_str())) {
        found.push(format!("{path}: keyword `{key}` is outside the subset"));
    }
    match (object.get("type"), object.get("anyOf")) {
        (Some(Value::String(t)), None) if TYPES.contains(&t.as_str()) => check_typed(object, t, path, found),
        (None, Some(Value::Array(branches))) if branches.len() >= 2 => {
            for (i, branch) in branches.iter().enumerate() {
                let branch_path = format!("{path}.anyOf[{i}]");
                if branch.get("anyOf").is_some() || branch.get("type").is_none() {
                    found.push(format!("{branch_path}: an anyOf branch must have one type"));
                }
                check_node(branch, &branch_path, found);
            }
        }
        (Some(t), _) => found.push(format!("{path}: type {t} is not one of {TYPES:?} alone")),
        (None, _) => found.push(format!("{path}: neither one type nor an anyOf of typed branches")),
    }
    if let Some(format) = object.get("format").and_then(Value::as_str)
        && !FORMATS.contains(&format)
    {
        found.push(format!("{path}: format `{format}` is not one of {FORMATS:?}"));
    }
}

fn check_typed(object: &Map<String, Value>, kind: &str, path: &str, found: &mut Vec<String>) {
    if let Some(values) = object.get("enum") {
        let strings = values.as_array().is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
        if kind != "string" || !strings {
            found.push(format!("{path}: `enum` must list strings of a string"));
        }
    }
    match kind {
        "object" => {
            let properties = object.get("properties").and_then(Value::as_object);
            let additional = object.get("additionalProperties");
            if properties.is_none() && !additional.is_some_and(|a| a == true || a.is_object()) {
                found.push(format!("{path}: an object must declare properties or additionalProperties"));
            }
            for (name, child) in properties.into_iter().flatten() {
                check_node(child, &format!("{path}.{name}"), found);
            }
            for name in object.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !name.as_str().is_some_and(|n| properties.is_some_and(|p| p.contains_key(n))) {
                    found.push(format!("{path}: required {name} is not a declared property"));
                }
            }
            if let Some(child @ Value::Object(_)) = additional {
                check_node(child, &format!("{path}.additionalProperties"), found);
            }
        }
        "array" => match object.get("items") {
            Some(items) => check_node(items, &format!("{path}[]"), found),
            None => found.push(format!("{path}: an array must declare its items")),
        },
        _ => {}
    }
}

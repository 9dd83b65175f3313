//! Compiles the training pipeline into a Kubeflow Pipelines v2 IR `PipelineSpec` (the YAML that
//! `kfp.compiler.Compiler` writes, schemaVersion 2.1.0): four container components (fetch,
//! features, train, deploy) running our image, wired by artifacts (Dataset, Dataset and the feature
//! schema, Model) and driven by the run parameters.
//!
//! The pipeline is described once, as data ([`COMPONENTS`] and [`RUN_PARAMETERS`]); components,
//! executors, the DAG and the root inputs are all derived from it, so a parameter or artifact
//! cannot be referenced without being declared.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::deploy::MODEL_FORMAT;
use crate::{Error, Result};

/// The IR schema version we emit (KFP 2.x SDKs and backends read it).
pub const SCHEMA_VERSION: &str = "2.1.0";

/// A KFP parameter type, as spelled in the IR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterType {
    /// `STRING`
    String,
    /// `NUMBER_INTEGER`
    Integer,
    /// `NUMBER_DOUBLE`
    Double,
}

impl ParameterType {
    fn ir_name(self) -> &'static str {
        match self {
            Self::String => "STRING",
            Self::Integer => "NUMBER_INTEGER",
            Self::Double => "NUMBER_DOUBLE",
        }
    }
}

/// A run parameter of the pipeline: its name, type, and default (`None`: the run must set it).
#[derive(Debug, Clone, Copy)]
pub struct RunParameter {
    /// Parameter name, as used in placeholders.
    pub name: &'static str,
    /// Its type.
    pub kind: ParameterType,
    /// Default value as JSON text, or `None` when required.
    pub default: Option<&'static str>,
    /// What it means.
    pub help: &'static str,
}

/// The run parameters: the reference's four, then ours.
pub const RUN_PARAMETERS: [RunParameter; 9] = [
    RunParameter {
        name: "prometheus_url",
        kind: ParameterType::String,
        default: Some("\"http://prometheus-server.monitoring.svc.cluster.local\""),
        help: "Prometheus base URL",
    },
    RunParameter {
        name: "training_hours",
        kind: ParameterType::Integer,
        default: Some("24"),
        help: "hours of history to train on",
    },
    RunParameter {
        name: "instance_ip",
        kind: ParameterType::String,
        default: None,
        help: "node-exporter instance (IP:PORT) to learn",
    },
    RunParameter {
        name: "step",
        kind: ParameterType::String,
        default: Some("\"60s\""),
        help: "query resolution",
    },
    RunParameter {
        name: "window",
        kind: ParameterType::Integer,
        default: Some("5"),
        help: "rolling window of the features, in points",
    },
    RunParameter {
        name: "contamination",
        kind: ParameterType::Double,
        default: Some("0.05"),
        help: "expected share of anomalies",
    },
    RunParameter {
        name: "n_estimators",
        kind: ParameterType::Integer,
        default: Some("100"),
        help: "number of trees",
    },
    RunParameter {
        name: "service_name",
        kind: ParameterType::String,
        default: Some("\"aiops-iforest\""),
        help: "InferenceService to create or update",
    },
    RunParameter {
        name: "table_format",
        kind: ParameterType::String,
        default: Some("\"csv\""),
        help: "format of the data and features artifacts: csv or parquet",
    },
];

/// A KFP artifact type (schema title in the IR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactType {
    /// `system.Dataset`
    Dataset,
    /// `system.Model`
    Model,
    /// `system.Artifact`: anything else (our metrics JSON, which is not KFP's Metrics format).
    Artifact,
}

impl ArtifactType {
    fn schema_title(self) -> &'static str {
        match self {
            Self::Dataset => "system.Dataset",
            Self::Model => "system.Model",
            Self::Artifact => "system.Artifact",
        }
    }
}

/// One word of a container's argument list.
#[derive(Debug, Clone, Copy)]
pub enum Arg {
    /// A literal word, e.g. a flag.
    Literal(&'static str),
    /// A run parameter's value: `{{$.inputs.parameters['name']}}`.
    Parameter(&'static str),
    /// Local path of an input artifact: `{{$.inputs.artifacts['name'].path}}`.
    InputPath(&'static str),
    /// Remote URI of an input artifact: `{{$.inputs.artifacts['name'].uri}}`.
    InputUri(&'static str),
    /// Local path to write an output artifact: `{{$.outputs.artifacts['name'].path}}`.
    OutputPath(&'static str),
}

impl Arg {
    fn placeholder(self) -> String {
        match self {
            Self::Literal(word) => word.to_owned(),
            Self::Parameter(name) => format!("{{{{$.inputs.parameters['{name}']}}}}"),
            Self::InputPath(name) => format!("{{{{$.inputs.artifacts['{name}'].path}}}}"),
            Self::InputUri(name) => format!("{{{{$.inputs.artifacts['{name}'].uri}}}}"),
            Self::OutputPath(name) => format!("{{{{$.outputs.artifacts['{name}'].path}}}}"),
        }
    }
}

/// An input artifact and the upstream task output that feeds it.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactInput {
    /// Input name inside the component.
    pub name: &'static str,
    /// Its type.
    pub kind: ArtifactType,
    /// The task producing it.
    pub producer: &'static str,
    /// The producer's output name.
    pub output: &'static str,
}

/// A container component: one pipeline step running `aiops <subcommand>`.
#[derive(Debug, Clone, Copy)]
pub struct Component {
    /// Task (and component) name.
    pub name: &'static str,
    /// Container command.
    pub command: &'static [&'static str],
    /// Container arguments, with placeholders.
    pub args: &'static [Arg],
    /// Artifacts it consumes.
    pub inputs: &'static [ArtifactInput],
    /// Artifacts it produces.
    pub outputs: &'static [(&'static str, ArtifactType)],
}

impl Component {
    /// The run parameters its arguments reference, in order of first use.
    fn parameters(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        for arg in self.args {
            if let Arg::Parameter(name) = arg
                && !names.contains(name)
            {
                names.push(*name);
            }
        }
        names
    }
}

use Arg::{InputPath, InputUri, Literal, OutputPath, Parameter};

/// The pipeline: fetch, features, train, deploy.
pub const COMPONENTS: [Component; 4] = [
    Component {
        name: "fetch",
        command: &["aiops", "fetch"],
        args: &[
            Literal("--prometheus-url"),
            Parameter("prometheus_url"),
            Literal("--instance"),
            Parameter("instance_ip"),
            Literal("--hours"),
            Parameter("training_hours"),
            Literal("--step"),
            Parameter("step"),
            Literal("--output"),
            OutputPath("data"),
            Literal("--format"),
            Parameter("table_format"),
        ],
        inputs: &[],
        outputs: &[("data", ArtifactType::Dataset)],
    },
    Component {
        name: "features",
        command: &["aiops", "features"],
        args: &[
            Literal("--input"),
            InputPath("data"),
            Literal("--window"),
            Parameter("window"),
            Literal("--output"),
            OutputPath("features"),
            Literal("--schema-out"),
            OutputPath("schema"),
            Literal("--format"),
            Parameter("table_format"),
        ],
        inputs: &[ArtifactInput {
            name: "data",
            kind: ArtifactType::Dataset,
            producer: "fetch",
            output: "data",
        }],
        // The schema travels as its own artifact: KFP uploads an output's path only, not the
        // `<features>.schema.json` beside it, and train must record the window actually used.
        outputs: &[("features", ArtifactType::Dataset), ("schema", ArtifactType::Artifact)],
    },
    Component {
        name: "train",
        command: &["aiops", "train"],
        args: &[
            Literal("--features"),
            InputPath("features"),
            Literal("--feature-schema"),
            InputPath("schema"),
            Literal("--contamination"),
            Parameter("contamination"),
            Literal("--n-estimators"),
            Parameter("n_estimators"),
            Literal("--model-out"),
            OutputPath("model"),
            Literal("--metrics-out"),
            OutputPath("metrics"),
            Literal("--format"),
            Parameter("table_format"),
        ],
        inputs: &[
            ArtifactInput {
                name: "features",
                kind: ArtifactType::Dataset,
                producer: "features",
                output: "features",
            },
            ArtifactInput {
                name: "schema",
                kind: ArtifactType::Artifact,
                producer: "features",
                output: "schema",
            },
        ],
        outputs: &[("metrics", ArtifactType::Artifact), ("model", ArtifactType::Model)],
    },
    Component {
        name: "deploy",
        command: &["aiops", "deploy"],
        args: &[
            Literal("--name"),
            Parameter("service_name"),
            Literal("--model-format"),
            Literal(MODEL_FORMAT),
            Literal("--storage-uri"),
            InputUri("model"),
        ],
        inputs: &[ArtifactInput {
            name: "model",
            kind: ArtifactType::Model,
            producer: "train",
            output: "model",
        }],
        outputs: &[],
    },
];

/// What to compile.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Container image holding the `aiops` binary, e.g. `ghcr.io/aiops-rs/aiops:0.1.0`.
    pub image: String,
    /// Pipeline name (KFP shows it; a lowercase DNS-like name).
    pub name: String,
    /// Pipeline description.
    pub description: String,
}

impl CompileOptions {
    /// Options with the default name and description for `image`.
    pub fn for_image(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            name: "aiops-training".into(),
            description: "Fetch node CPU from Prometheus, compute features, train an Isolation Forest, deploy it to KServe".into(),
        }
    }

    fn check(&self) -> Result<()> {
        let image = self.image.trim();
        if image.is_empty() || image.chars().any(char::is_whitespace) {
            return Err(Error::InvalidParameter {
                field: "image",
                reason: format!("{:?} is not a container image reference", self.image),
            });
        }
        let name_ok = !self.name.is_empty()
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(Error::InvalidParameter {
                field: "name",
                reason: format!("{:?}: use lowercase letters, digits and '-'", self.name),
            });
        }
        Ok(())
    }
}

fn parameter(name: &str) -> Result<&'static RunParameter> {
    RUN_PARAMETERS.iter().find(|p| p.name == name).ok_or_else(|| Error::InvalidParameter {
        field: "pipeline",
        reason: format!("parameter {name} is used but not declared"),
    })
}

fn artifact_type(kind: ArtifactType) -> Value {
    json!({ "artifactType": { "schemaTitle": kind.schema_title(), "schemaVersion": "0.0.1" } })
}

fn component_spec(component: &Component) -> Result<Value> {
    let mut inputs = Map::new();
    let parameters = component
        .parameters()
        .into_iter()
        .map(|name| Ok((name.to_owned(), json!({ "parameterType": parameter(name)?.kind.ir_name() }))))
        .collect::<Result<Map<_, _>>>()?;
    let artifacts: Map<_, _> =
        component.inputs.iter().map(|input| (input.name.to_owned(), artifact_type(input.kind))).collect();
    if !artifacts.is_empty() {
        inputs.insert("artifacts".into(), Value::Object(artifacts));
    }
    if !parameters.is_empty() {
        inputs.insert("parameters".into(), Value::Object(parameters));
    }
    let mut spec = json!({ "executorLabel": format!("exec-{}", component.name) });
    if !inputs.is_empty() {
        spec["inputDefinitions"] = Value::Object(inputs);
    }
    if !component.outputs.is_empty() {
        let outputs: Map<_, _> =
            component.outputs.iter().map(|&(name, kind)| (name.to_owned(), artifact_type(kind))).collect();
        spec["outputDefinitions"] = json!({ "artifacts": outputs });
    }
    Ok(spec)
}

fn task_spec(component: &Component) -> Value {
    let mut inputs = Map::new();
    let artifacts: Map<_, _> = component
        .inputs
        .iter()
        .map(|input| {
            let source = json!({ "taskOutputArtifact": { "outputArtifactKey": input.output, "producerTask": input.producer } });
            (input.name.to_owned(), source)
        })
        .collect();
    let parameters: Map<_, _> = component
        .parameters()
        .into_iter()
        .map(|name| (name.to_owned(), json!({ "componentInputParameter": name })))
        .collect();
    if !artifacts.is_empty() {
        inputs.insert("artifacts".into(), Value::Object(artifacts));
    }
    if !parameters.is_empty() {
        inputs.insert("parameters".into(), Value::Object(parameters));
    }
    let mut task = json!({
        "cachingOptions": { "enableCache": true },
        "componentRef": { "name": format!("comp-{}", component.name) },
        "taskInfo": { "name": component.name },
    });
    let mut producers: Vec<&str> = component.inputs.iter().map(|input| input.producer).collect();
    producers.sort_unstable();
    producers.dedup();
    if !producers.is_empty() {
        task["dependentTasks"] = json!(producers);
    }
    if !inputs.is_empty() {
        task["inputs"] = Value::Object(inputs);
    }
    task
}

fn root_inputs() -> Result<Value> {
    let mut parameters = BTreeMap::new();
    for p in &RUN_PARAMETERS {
        let mut definition = json!({ "parameterType": p.kind.ir_name(), "description": p.help });
        if let Some(default) = p.default {
            definition["defaultValue"] = serde_json::from_str(default)?;
            definition["isOptional"] = json!(true);
        }
        parameters.insert(p.name, definition);
    }
    Ok(json!({ "parameters": parameters }))
}

/// Builds the `PipelineSpec` as a JSON value.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad image or name.
pub fn compile(options: &CompileOptions) -> Result<Value> {
    options.check()?;
    let mut components = Map::new();
    let mut executors = Map::new();
    let mut tasks = Map::new();
    for component in &COMPONENTS {
        components.insert(format!("comp-{}", component.name), component_spec(component)?);
        let args: Vec<String> = component.args.iter().map(|arg| arg.placeholder()).collect();
        executors.insert(
            format!("exec-{}", component.name),
            json!({ "container": { "image": options.image.trim(), "command": component.command, "args": args } }),
        );
        tasks.insert(component.name.to_owned(), task_spec(component));
    }
    Ok(json!({
        "components": components,
        "deploymentSpec": { "executors": executors },
        "pipelineInfo": { "name": options.name, "description": options.description },
        "root": { "dag": { "tasks": tasks }, "inputDefinitions": root_inputs()? },
        "schemaVersion": SCHEMA_VERSION,
        "sdkVersion": concat!("aiops-", env!("CARGO_PKG_VERSION")),
    }))
}

/// The pipeline as YAML, with KFP's header comment naming it and its inputs.
///
/// # Errors
/// As [`compile`].
pub fn compile_yaml(options: &CompileOptions) -> Result<String> {
    let spec = compile(options)?;
    let mut header = format!("# PIPELINE DEFINITION\n# Name: {}\n# Inputs:\n", options.name);
    for p in &RUN_PARAMETERS {
        let default = p.default.map(|d| format!(" [Default: {d}]")).unwrap_or_default();
        header.push_str(&format!("#    {}: {}{default}\n", p.name, p.kind.ir_name()));
    }
    Ok(header + &serde_saphyr::to_string(&spec)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_names_a_declared_input_or_output() {
        for component in &COMPONENTS {
            for arg in component.args {
                match *arg {
                    Arg::Parameter(name) => assert!(parameter(name).is_ok(), "{name}"),
                    Arg::InputPath(name) | Arg::InputUri(name) => {
                        assert!(
                            component.inputs.iter().any(|i| i.name == name),
                            "{}: {name}",
                            component.name
                        );
                    }
                    Arg::OutputPath(name) => {
                        assert!(component.outputs.iter().any(|o| o.0 == name), "{}: {name}", component.name);
                    }
                    Arg::Literal(_) => {}
                }
            }
            for input in component.inputs {
                let producer = COMPONENTS.iter().find(|c| c.name == input.producer).expect("producer exists");
                assert!(
                    producer.outputs.contains(&(input.output, input.kind)),
                    "{}: {}",
                    component.name,
                    input.name
                );
            }
        }
    }

    /// Issue 15: train records the schema the features step computed with, which KFP can only
    /// hand over as an artifact of its own; and the window is a run parameter.
    #[test]
    fn train_reads_the_feature_schema_artifact_of_the_features_step() {
        let spec = compile(&CompileOptions::for_image("img:1")).unwrap();
        let args = |step: &str| -> Vec<String> {
            serde_json::from_value(
                spec["deploymentSpec"]["executors"][format!("exec-{step}")]["container"]["args"].clone(),
            )
            .unwrap()
        };
        let features = args("features");
        let after = |args: &[String], flag: &str| args.iter().skip_while(|a| *a != flag).nth(1).cloned();
        assert_eq!(
            after(&features, "--schema-out").as_deref(),
            Some("{{$.outputs.artifacts['schema'].path}}")
        );
        assert_eq!(after(&features, "--window").as_deref(), Some("{{$.inputs.parameters['window']}}"));
        let train = args("train");
        assert_eq!(
            after(&train, "--feature-schema").as_deref(),
            Some("{{$.inputs.artifacts['schema'].path}}")
        );
        let wired = &spec["root"]["dag"]["tasks"]["train"]["inputs"]["artifacts"]["schema"];
        assert_eq!(
            wired["taskOutputArtifact"],
            json!({ "outputArtifactKey": "schema", "producerTask": "features" })
        );
        assert_eq!(spec["root"]["inputDefinitions"]["parameters"]["window"]["defaultValue"], json!(5));
    }

    #[test]
    fn bad_options_are_named() {
        let mut options = CompileOptions::for_image("");
        assert!(matches!(compile(&options), Err(Error::InvalidParameter { field: "image", .. })));
        options.image = "img:1".into();
        options.name = "Has Spaces".into();
        assert!(matches!(compile(&options), Err(Error::InvalidParameter { field: "name", .. })));
    }

    #[test]
    fn placeholders_use_kfp_syntax() {
        assert_eq!(Arg::Parameter("step").placeholder(), "{{$.inputs.parameters['step']}}");
        assert_eq!(Arg::InputUri("model").placeholder(), "{{$.inputs.artifacts['model'].uri}}");
        assert_eq!(Arg::OutputPath("data").placeholder(), "{{$.outputs.artifacts['data'].path}}");
    }
}

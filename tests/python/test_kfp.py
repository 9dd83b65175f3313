"""`aiops pipeline compile` output, read by the real Kubeflow Pipelines SDK (kfp 2.x): it loads
as a component, parses strictly as the IR protobufs, every reference resolves, and its shape is
what kfp itself compiles for the same pipeline written with the Python DSL."""

import re
import subprocess

import kfp
import pytest
import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output
from kfp.pipeline_spec import pipeline_spec_pb2

IMAGE = "ghcr.io/aiops-rs/aiops:0.1.0"
PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([a-z_]+)'\](?:\.(path|uri))?\}\}")


@pytest.fixture(scope="module")
def compiled(aiops_bin, tmp_path_factory):
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    subprocess.run([aiops_bin, "pipeline", "compile", "--image", IMAGE, "--output", path], check=True)
    return path


@pytest.fixture(scope="module")
def spec(compiled):
    with open(compiled) as f:
        return yaml.safe_load(f)


def test_loads_as_a_kfp_component(compiled):
    component = kfp.components.load_component_from_file(str(compiled))
    assert component.name == "aiops-training"
    assert set(component.component_spec.inputs) == {
        "prometheus_url", "training_hours", "instance_ip", "step", "window", "contamination", "n_estimators",
        "service_name", "table_format",
    }
    assert component.component_spec.inputs["table_format"].default == "csv"
    assert component.component_spec.inputs["training_hours"].default == 24
    assert component.component_spec.inputs["window"].default == 5
    assert component.component_spec.inputs["instance_ip"].optional is False


def test_parses_strictly_as_pipeline_spec_and_deployment_config(spec):
    # ParseDict without ignore_unknown_fields rejects any field the IR does not define.
    pipeline = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    assert pipeline.schema_version == "2.1.0"
    deployment = json_format.ParseDict(spec["deploymentSpec"], pipeline_spec_pb2.PipelineDeploymentConfig())
    assert set(deployment.executors) == {"exec-fetch", "exec-features", "exec-train", "exec-deploy"}
    for executor in deployment.executors.values():
        assert executor.container.image == IMAGE
        assert list(executor.container.command)[0] == "aiops"


def test_every_reference_resolves(spec):
    components, executors = spec["components"], spec["deploymentSpec"]["executors"]
    tasks = spec["root"]["dag"]["tasks"]
    root_parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(tasks) == {"fetch", "features", "train", "deploy"}
    for task_name, task in tasks.items():
        component = components[task["componentRef"]["name"]]
        assert component["executorLabel"] in executors
        inputs = task.get("inputs", {})
        for name, source in inputs.get("parameters", {}).items():
            assert source["componentInputParameter"] in root_parameters, (task_name, name)
            assert name in component["inputDefinitions"]["parameters"]
        for name, source in inputs.get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]["producerTask"]
            assert producer in task["dependentTasks"], (task_name, producer)
            produced = components[tasks[producer]["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
            key = source["taskOutputArtifact"]["outputArtifactKey"]
            assert produced[key]["artifactType"] == component["inputDefinitions"]["artifacts"][name]["artifactType"]
        # Every placeholder in the container's arguments names a declared input or output.
        args = " ".join(executors[component["executorLabel"]]["container"]["args"])
        found = PLACEHOLDER.findall(args)
        assert found, task_name
        for direction, kind, name, _ in found:
            definitions = component["inputDefinitions" if direction == "inputs" else "outputDefinitions"]
            assert name in definitions[kind], (task_name, direction, kind, name)
        assert "{{" not in PLACEHOLDER.sub("", args), f"{task_name}: malformed placeholder in {args}"


def test_artifacts_chain_dataset_dataset_model(spec):
    titles = {
        (component, output): definition["artifactType"]["schemaTitle"]
        for component, c in spec["components"].items()
        for output, definition in c.get("outputDefinitions", {}).get("artifacts", {}).items()
    }
    assert titles == {
        ("comp-fetch", "data"): "system.Dataset",
        ("comp-features", "features"): "system.Dataset",
        ("comp-features", "schema"): "system.Artifact",
        ("comp-train", "model"): "system.Model",
        ("comp-train", "metrics"): "system.Artifact",
    }


def kfp_reference(path):
    """The same pipeline written with kfp's DSL and compiled by kfp itself."""

    @dsl.container_component
    def fetch(prometheus_url: str, instance_ip: str, training_hours: int, step: str, table_format: str,
              data: Output[Dataset]):
        return dsl.ContainerSpec(
            image=IMAGE,
            command=["aiops", "fetch"],
            args=["--prometheus-url", prometheus_url, "--instance", instance_ip, "--hours", training_hours,
                  "--step", step, "--output", data.path, "--format", table_format],
        )

    @dsl.container_component
    def features(data: Input[Dataset], window: int, table_format: str, features: Output[Dataset],
                 schema: Output[Artifact]):
        return dsl.ContainerSpec(image=IMAGE, command=["aiops", "features"],
                                 args=["--input", data.path, "--window", window, "--output", features.path,
                                       "--schema-out", schema.path, "--format", table_format])

    @dsl.container_component
    def train(features: Input[Dataset], schema: Input[Artifact], contamination: float, n_estimators: int,
              table_format: str,
              model: Output[Model], metrics: Output[Artifact]):
        return dsl.ContainerSpec(
            image=IMAGE,
            command=["aiops", "train"],
            args=["--features", features.path, "--feature-schema", schema.path, "--contamination", contamination,
                  "--n-estimators", n_estimators, "--model-out", model.path, "--metrics-out", metrics.path,
                  "--format", table_format],
        )

    @dsl.container_component
    def deploy(model: Input[Model], service_name: str):
        return dsl.ContainerSpec(image=IMAGE, command=["aiops", "deploy"],
                                 args=["--name", service_name, "--model-format", "aiops-iforest",
                                       "--storage-uri", model.uri])

    @dsl.pipeline(name="aiops-training")
    def pipeline(instance_ip: str, prometheus_url: str = "http://prometheus-server.monitoring.svc.cluster.local",
                 training_hours: int = 24, step: str = "60s", window: int = 5, contamination: float = 0.05,
                 n_estimators: int = 100, service_name: str = "aiops-iforest", table_format: str = "csv"):
        fetched = fetch(prometheus_url=prometheus_url, instance_ip=instance_ip, training_hours=training_hours,
                        step=step, table_format=table_format)
        computed = features(data=fetched.outputs["data"], window=window, table_format=table_format)
        trained = train(features=computed.outputs["features"], schema=computed.outputs["schema"],
                        contamination=contamination, n_estimators=n_estimators, table_format=table_format)
        deploy(model=trained.outputs["model"], service_name=service_name)

    compiler.Compiler().compile(pipeline, str(path))
    with open(path) as f:
        return yaml.safe_load(f)


def without_descriptions(value):
    if isinstance(value, dict):
        return {k: without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [without_descriptions(v) for v in value]
    return value


def test_matches_what_kfp_compiles_for_the_same_pipeline(spec, tmp_path):
    reference = kfp_reference(tmp_path / "reference.yaml")
    assert spec["schemaVersion"] == reference["schemaVersion"]
    assert spec["components"] == reference["components"]
    assert spec["deploymentSpec"] == reference["deploymentSpec"]
    assert without_descriptions(spec["root"]) == without_descriptions(reference["root"])
    assert spec["pipelineInfo"]["name"] == reference["pipelineInfo"]["name"]


def test_bad_image_is_refused(aiops_bin, tmp_path):
    output = tmp_path / "pipeline.yaml"
    result = subprocess.run([aiops_bin, "pipeline", "compile", "--image", "has space", "--output", output],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "image" in result.stderr
    assert not output.exists()

"""Helpers for the MCP conformance tests: a test Prometheus with a backfilled incident, a model
trained with the aiops CLI, `aiops serve-mcp`, sessions of the Python MCP SDK client, and the tool
calls every client suite makes (tests/python, tests/kagent, tests/js)."""

import contextlib
import json
import pathlib
import shutil
import subprocess

import httpx2
import pytest
from conftest import require
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = {
    "predict_anomalies",
    "query_prometheus_and_predict",
    "list_instances",
    "detect_metric_anomalies",
    "explain_anomaly",
    "fleet_status",
    "model_info",
}


class PrometheusProcess:
    """`test-prometheus` (crates/testkit): a real Prometheus with three node exporters over the last
    24 h at 10 s; instance 10.0.0.1:9100 has a 30 minute incident at 95 % CPU; with `--fleet`, the
    fleet verdicts of `aiops watch` replicas too (`truth["fleet"]`)."""

    def __init__(self, binary: pathlib.Path, *args: str):
        self.process = subprocess.Popen(
            [str(binary), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"test-prometheus did not start: {line!r}")
        _, self.url, summary = line.split(" ", 2)
        self.truth = json.loads(summary)

    def incident(self) -> tuple[str, dict]:
        spec = next(i for i in self.truth["instances"] if i["incident"])
        return spec["instance"], spec["incident"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def prometheus(aiops_bin):
    """`test-prometheus` from beside the aiops binary, for one test module (import the fixture)."""
    binary = aiops_bin.with_name("test-prometheus")
    if not binary.exists() or shutil.which("prometheus") is None or shutil.which("promtool") is None:
        require("test-prometheus and Prometheus (cargo build --bins; Debian package prometheus)")
    server = PrometheusProcess(binary, "--instances", "3", "--fleet")
    yield server
    server.stop()


def train_model(aiops: pathlib.Path, prometheus_url: str, instance: str, out: pathlib.Path) -> pathlib.Path:
    """fetch -> features -> train with the aiops CLI (the reference parameters); returns the model."""
    data, features, model = out / "data.csv", out / "features.csv", out / "model.iforest"
    run = lambda *args: subprocess.run([str(aiops), *args], check=True, capture_output=True)  # noqa: E731
    run("fetch", "--prometheus-url", prometheus_url, "--instance", instance, "--hours", "24",
        "--step", "10s", "--output", str(data))
    run("features", "--input", str(data), "--output", str(features))
    run("train", "--features", str(features), "--model-out", str(model), "--metrics-out", str(out / "metrics.json"))
    return model


@contextlib.asynccontextmanager
async def mcp_session(url: str, headers: dict | None = None):
    """An initialized MCP client session over streamable HTTP."""
    async with httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def tool_calls(prometheus: "PrometheusProcess") -> tuple[list, list]:
    """Every tool with valid arguments (`[tool, arguments]`, each tool at least once) and with
    invalid ones (`[tool, arguments, text the error message must contain]`, each tool at least
    once), for the client conformance suites."""
    instance, incident = prometheus.incident()
    ip = instance.split(":")[0]
    inside = (incident["start"] + incident["end"]) // 2
    valid = [
        ["list_instances", {}],
        ["model_info", {}],
        ["predict_anomalies", {"instance_ip": ip, "hours": 24}],
        ["query_prometheus_and_predict", {"instance_ip": instance, "time_range_hours": 2.0}],
        ["detect_metric_anomalies", {"instance_ip": ip, "metric": "memory", "hours": 2}],
        ["explain_anomaly", {"instance_ip": ip, "timestamp": inside}],
        ["fleet_status", {"limit": 5, "metric": "cpu"}],
    ]
    invalid = [
        ["predict_anomalies", {"instance_ip": ip, "hours": 0}, "`hours` is 0, it must be an integer from 1 to 168"],
        ["predict_anomalies", {"instance_ip": ip, "hours": 2.5}, "`hours`: 2.5 is not a whole number"],
        ["query_prometheus_and_predict", {"instance_ip": "10.9.9.9", "time_range_hours": 1}, "Instances with data"],
        ["detect_metric_anomalies", {"instance_ip": ip, "metric": "gpu", "hours": 1}, "`metric`"],
        ["explain_anomaly", {"instance_ip": ip, "timestamp": "yesterday"}, "`timestamp`"],
        ["list_instances", {"job": "node"}, "`job`"],
        ["model_info", {"verbose": True}, "`verbose`"],
        ["fleet_status", {"limit": 0}, "`limit`: 0 is not 1 to 100"],
    ]
    assert {c[0] for c in valid} == TOOLS and {c[0] for c in invalid} == TOOLS
    return valid, invalid

"""Conformance of `aiops serve-mcp` with the Python MCP SDK client (streamable HTTP): tools with
schemas, every tool called, progress, isError on bad input, the incident found end to end against
a real Prometheus, in-process and remote inference agreeing, the s3:// model path against a moto
server, HTTP-level security, and the KAgent manifests against the CRDs."""

import asyncio
import base64
import copy
import json
import os
import pathlib
import shutil
import subprocess
import time

import httpx2
import jsonschema
import pytest
import yaml

from conftest import S3_CREDENTIALS, Server, free_port, require
from mcp_support import ROOT, TOOLS, mcp_session, prometheus, tool_calls, train_model  # noqa: F401 (fixture)
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def model(aiops_bin, prometheus, tmp_path_factory) -> pathlib.Path:
    instance, _ = prometheus.incident()
    return train_model(aiops_bin, prometheus.url, instance, tmp_path_factory.mktemp("model"))


def serve_mcp(aiops_bin, prometheus, model_location, *extra, env=None) -> Server:
    port = free_port()
    args = [str(aiops_bin), "serve-mcp", "--prometheus-url", prometheus.url, "--model", str(model_location),
            "--port", str(port), *extra]
    return Server(args, port, env=env)


@pytest.fixture(scope="module")
def mcp(aiops_bin, prometheus, model):
    server = serve_mcp(aiops_bin, prometheus, model)
    yield server
    server.stop()


def call(url, tool, arguments, headers=None, progress=None):
    async def go():
        async with mcp_session(url, headers) as session:
            return await session.call_tool(tool, arguments, progress_callback=progress)

    return asyncio.run(go())


def test_tools_are_listed_with_input_and_output_schemas_and_read_only(mcp):
    async def go():
        async with mcp_session(f"{mcp.url}/mcp") as session:
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in asyncio.run(go())}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.output_schema["type"] == "object", tool.name
        assert tool.annotations.read_only_hint is True, tool.name
    assert tools["predict_anomalies"].input_schema["required"] == ["instance_ip"]
    assert tools["predict_anomalies"].input_schema["properties"]["hours"]["maximum"] == 168
    assert "time_range_hours" in tools["query_prometheus_and_predict"].input_schema["properties"]


def test_predict_anomalies_reports_the_backfilled_incident_with_progress(mcp, prometheus):
    instance, incident = prometheus.incident()
    updates = []

    async def progress(done, total, message):
        updates.append((done, total, message))

    result = call(f"{mcp.url}/mcp", "predict_anomalies",
                  {"instance_ip": instance.split(":")[0], "hours": 24}, progress=progress)
    assert not result.is_error, result.content
    report = result.structured_content
    assert report["instance"] == instance and report["metric"] == "cpu"
    assert 8000 < report["samples"] <= 8641
    assert report["anomaly_count"] > 0
    assert report["anomaly_percentage"] == pytest.approx(100 * report["anomaly_count"] / report["samples"])
    during = [p for p in report["periods"]
              if p["start_unix"] <= incident["end"] + 300 and p["end_unix"] >= incident["start"]]
    assert during, f"no period overlaps the incident {incident}: {report['periods']}"
    # The detector alerts at the onset, while the 5-minute rate still climbs towards the incident's
    # level: the period's peak must be far above anything the instance's normal profile reaches.
    spec = next(i for i in prometheus.truth["instances"] if i["instance"] == instance)
    normal_ceiling = spec["base"] + spec["daily_amplitude"] + 3 * spec["noise"]
    assert max(p["peak_value"] for p in during) > normal_ceiling + 20
    assert report["severity"] in {"medium", "high", "critical"}
    assert "anomalous" in result.content[0].text
    dones = [u[0] for u in updates]
    assert len(updates) >= 3 and dones == sorted(dones), updates


def test_every_other_tool_answers(mcp, prometheus):
    instance, incident = prometheus.incident()
    url = f"{mcp.url}/mcp"
    listed = call(url, "list_instances", {})
    assert not listed.is_error
    assert {i["instance"] for i in listed.structured_content["instances"]} == {
        i["instance"] for i in prometheus.truth["instances"]}

    queried = call(url, "query_prometheus_and_predict", {"instance_ip": instance, "time_range_hours": 24,
                                                          "chart": True})
    assert not queried.is_error
    points = queried.structured_content["anomalous_points"]
    assert points and all(p["decision"] < 0 for p in points)
    image = [c for c in queried.content if c.type == "image"]
    assert image and base64.b64decode(image[0].data)[:8] == b"\x89PNG\r\n\x1a\n"

    peak = max((p for p in queried.structured_content["periods"]), key=lambda p: p["peak_value"])
    explained = call(url, "explain_anomaly", {"instance_ip": instance, "timestamp": peak["peak_time"]})
    assert not explained.is_error, explained.content
    explanation = explained.structured_content
    assert explanation["anomalous"] is True and explanation["decision"] < 0
    assert sum(c["contribution"] for c in explanation["contributions"]) == pytest.approx(1.0)
    assert {c["feature"] for c in explanation["contributions"]} == {
        "cpu_usage", "rolling_mean", "rolling_std", "rate_of_change", "hour"}

    for metric in ["memory", "disk", "network"]:
        detected = call(url, "detect_metric_anomalies", {"instance_ip": instance, "metric": metric, "hours": 2})
        assert not detected.is_error, detected.content
        assert detected.structured_content["model"]["kind"] == "trained_on_window"
        assert detected.structured_content["notes"]

    info = call(url, "model_info", {})
    assert not info.is_error
    assert info.structured_content["feature_names"][0] == "cpu_usage"
    assert info.structured_content["parameters"]["n_estimators"] == 100
    assert info.structured_content["inference"] == "in-process"


def expected_fleet(truth: dict, metric: str | None = None, min_score: float = 1.0) -> list:
    """The ranking fleet_status must give, from the ground truth: per node its series (one per
    metric, however many replicas export it) scoring at least `min_score`, highest node first."""
    series = {}
    for s in truth["fleet"]:
        if metric in (None, s["metric"]) and s["score"] >= min_score:
            series[(s["instance"], s["metric"])] = s
    nodes = {}
    for (instance, _), s in series.items():
        nodes.setdefault(instance, []).append(s)
    ranked = sorted(nodes.items(), key=lambda item: (-max(s["score"] for s in item[1]), item[0]))
    return [(instance, sorted(((s["metric"], s["score"], s["incident_start"] if s["incident_open"] else None)
                               for s in specs), key=lambda m: (-m[1], m[0])))
            for instance, specs in ranked]


def test_fleet_status_ranks_the_nodes_anomalous_now_across_replicas(mcp, prometheus):
    url = f"{mcp.url}/mcp"
    for arguments, expected in [
        ({}, expected_fleet(prometheus.truth)),
        ({"metric": "memory"}, expected_fleet(prometheus.truth, "memory")),
        ({"min_score": 0}, expected_fleet(prometheus.truth, min_score=0)),
        ({"limit": 1}, expected_fleet(prometheus.truth)[:1]),
    ]:
        result = call(url, "fleet_status", arguments)
        assert not result.is_error, (arguments, result.content)
        report = result.structured_content
        found = [(n["instance"], [(m["metric"], m["score"], m.get("incident_start_unix")) for m in n["metrics"]])
                 for n in report["nodes"]]
        assert found == expected, arguments
        assert all(n["metric"] == n["metrics"][0]["metric"] for n in report["nodes"])
    assert len(expected_fleet(prometheus.truth)) == 2, "the ground truth has two anomalous nodes"
    assert call(url, "fleet_status", {"limit": 1}).structured_content["anomalous_nodes"] == 2


@pytest.mark.parametrize("tool,arguments,argument", [
    ("predict_anomalies", {"instance_ip": '10.0.0.1:9100"} or vector(1) or {a="', "hours": 1}, "instance_ip"),
    ("predict_anomalies", {"instance_ip": "10.0.0.1", "hours": 0}, "hours"),
    ("predict_anomalies", {"instance_ip": "10.0.0.1", "hours": 100000}, "hours"),
    ("predict_anomalies", {"instance_ip": "10.0.0.1", "hours": "two"}, "hours"),
    ("predict_anomalies", {"instance_ip": "10.0.0.1", "hours": 2.5}, "hours"),
    ("predict_anomalies", {"instance_ip": "1" * 5000}, "instance_ip"),
    ("predict_anomalies", {"instance_ip": "10.0.0.1", "verbose": True}, "verbose"),
    ("predict_anomalies", {}, "instance_ip"),
    ("query_prometheus_and_predict", {"instance_ip": "10.0.0.1", "time_range_hours": -3}, "time_range_hours"),
    ("detect_metric_anomalies", {"instance_ip": "10.0.0.1", "metric": "up{}"}, "metric"),
    ("explain_anomaly", {"instance_ip": "10.0.0.1", "timestamp": "yesterday"}, "timestamp"),
    ("explain_anomaly", {"instance_ip": "10.0.0.1", "timestamp": 0}, "timestamp"),
    ("fleet_status", {"limit": 101}, "limit"),
    ("fleet_status", {"metric": 'cpu"} or vector(1)'}, "metric"),
    ("fleet_status", {"min_score": -0.5}, "min_score"),
])
def test_bad_input_is_an_is_error_text_result_naming_the_argument(mcp, tool, arguments, argument):
    result = call(f"{mcp.url}/mcp", tool, arguments)
    assert result.is_error, result.content
    # No structured content: clients validate it against the output schema, which describes answers.
    assert result.structured_content is None, result.structured_content
    assert f"`{argument}`" in result.content[0].text, result.content[0].text
    assert call(f"{mcp.url}/mcp", "model_info", {}).is_error is False  # still serving


def test_integral_floats_are_accepted_as_integers(mcp, prometheus):
    instance, _ = prometheus.incident()
    result = call(f"{mcp.url}/mcp", "query_prometheus_and_predict", {"instance_ip": instance, "time_range_hours": 2.0})
    assert not result.is_error, result.content
    assert result.structured_content["hours"] == 2


def test_an_instance_without_data_lists_the_instances_that_have_some(mcp, prometheus):
    result = call(f"{mcp.url}/mcp", "predict_anomalies", {"instance_ip": "10.9.9.9", "hours": 1})
    assert result.is_error
    text = result.content[0].text
    listed = text.split("Instances with data: ")[1].splitlines()[0].split(", ")
    assert set(listed) == {i["instance"] for i in prometheus.truth["instances"]}, text
    assert "list_instances" in text


def test_metrics_count_tool_calls_by_tool_and_outcome(mcp):
    def count(text, tool, outcome):
        prefix = f'aiops_mcp_tool_calls_total{{tool="{tool}",outcome="{outcome}"}} '
        return next((float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix)), 0.0)

    before = httpx2.get(f"{mcp.url}/metrics").text
    assert call(f"{mcp.url}/mcp", "model_info", {}).is_error is False
    assert call(f"{mcp.url}/mcp", "model_info", {"unexpected": 1}).is_error is True
    response = httpx2.get(f"{mcp.url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/openmetrics-text")
    after = response.text
    assert count(after, "model_info", "success") == count(before, "model_info", "success") + 1
    assert count(after, "model_info", "error") == count(before, "model_info", "error") + 1
    for name in ["aiops_mcp_tool_call_duration_seconds_bucket", "aiops_mcp_prometheus_query_duration_seconds_count",
                 "aiops_mcp_prometheus_query_errors_total"]:
        assert name in after, name


def test_every_tool_answers_the_python_sdk_with_results_and_error_messages(mcp, prometheus):
    """The Python SDK validates structured content against the output schemas as well."""
    valid, invalid = tool_calls(prometheus)
    url = f"{mcp.url}/mcp"

    async def go():
        async with mcp_session(url) as session:
            schemas = {t.name: t.output_schema for t in (await session.list_tools()).tools}
            for tool, arguments in valid:
                result = await session.call_tool(tool, arguments)
                assert not result.is_error, (tool, result.content)
                jsonschema.validate(result.structured_content, schemas[tool])
            for tool, arguments, message in invalid:
                result = await session.call_tool(tool, arguments)
                assert result.is_error and result.structured_content is None, (tool, result)
                assert message in result.content[0].text, (tool, arguments, result.content[0].text)

    asyncio.run(go())


# --- the TypeScript SDK and MCP Inspector (npm packages in tests/js, installed by scripts/setup) ---

JS = ROOT / "tests/js"


def node_tool(*relative) -> list:
    if shutil.which("node") is None or not (JS / "node_modules").is_dir():
        require("node and tests/js/node_modules (scripts/setup runs npm ci)")
    return ["node", *(str(JS / r) for r in relative)]


def test_the_typescript_sdk_validates_every_result_and_accepts_every_error(mcp, prometheus, tmp_path):
    valid, invalid = tool_calls(prometheus)
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"url": f"{mcp.url}/mcp", "tools": sorted(TOOLS), "valid": valid,
                                 "invalid": invalid}))
    run = subprocess.run(node_tool("conformance.mjs") + [str(cases)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(report["valid"]) == TOOLS and len(report["invalid"]) == len(invalid)


def inspector(*args, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MCP_CATALOG_PATH": str(tmp_path / "catalog.json"), "NO_COLOR": "1"}
    command = node_tool("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js")
    return subprocess.run(command + ["--cli", *args], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)


def test_mcp_inspector_strict_finds_no_schema_portability_problem(mcp, tmp_path):
    listed = inspector(f"{mcp.url}/mcp", "--method", "tools/list", "--strict", "--format", "json", tmp_path=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    envelope = json.loads(listed.stdout)
    assert {t["name"] for t in envelope["result"]["tools"]} == TOOLS
    assert "schemaFindings" not in envelope, json.dumps(envelope["schemaFindings"], indent=1)
    assert "Warning" not in listed.stderr and "Schema portability" not in listed.stderr, listed.stderr


def test_mcp_inspector_shows_tool_errors_as_messages(mcp, tmp_path):
    called = inspector(f"{mcp.url}/mcp", "--method", "tools/call", "--tool-name", "predict_anomalies",
                       "--tool-arg", "instance_ip=10.0.0.1", "hours=0", tmp_path=tmp_path)
    # The tool's message, with the CLI's exit code for an isError result (not a validation failure).
    assert "`hours` is 0, it must be an integer from 1 to 168" in called.stdout, called.stdout + called.stderr
    assert "returned isError:true" in called.stderr, called.stderr
    assert "output schema" not in called.stdout + called.stderr


def raw_post(url, headers=None, body=None):
    payload = body if body is not None else (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        b'"capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}')
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    return httpx2.post(url, content=payload, headers={**base, **(headers or {})}, timeout=30)


def test_unknown_host_foreign_origin_and_oversized_bodies_are_refused(mcp):
    url = f"{mcp.url}/mcp"
    assert raw_post(url).status_code == 200
    assert raw_post(url, {"Host": "evil.example.com"}).status_code == 403
    assert raw_post(url, {"Origin": "https://evil.example.com"}).status_code == 403
    assert raw_post(url, body=b"{" + b" " * (1 << 20) + b"}").status_code == 413
    assert httpx2.get(f"{mcp.url}/healthz").status_code == 200
    assert httpx2.get(f"{mcp.url}/readyz").status_code == 200
    assert raw_post(url).status_code == 200


def test_allowed_hosts_and_origins_are_configurable(aiops_bin, prometheus, model):
    server = serve_mcp(aiops_bin, prometheus, model, "--allowed-host", "aiops-mcp.aiops.svc.cluster.local",
                       "--allowed-origin", "https://console.example.com")
    try:
        url = f"{server.url}/mcp"
        assert raw_post(url, {"Host": f"aiops-mcp.aiops.svc.cluster.local:{server.port}"}).status_code == 200
        assert raw_post(url, {"Origin": "https://console.example.com"}).status_code == 200
        assert raw_post(url, {"Origin": "https://evil.example.com"}).status_code == 403
    finally:
        server.stop()


def test_bearer_token_is_required_when_configured(aiops_bin, prometheus, model):
    server = serve_mcp(aiops_bin, prometheus, model, env={"AIOPS_MCP_AUTH_TOKEN": TOKEN})
    try:
        url = f"{server.url}/mcp"
        assert raw_post(url).status_code == 401
        assert raw_post(url, {"Authorization": "Bearer wrong-token-0123456789abc"}).status_code == 401
        assert raw_post(url, {"Authorization": TOKEN}).status_code == 401
        assert raw_post(url, {"Authorization": f"bearer {TOKEN}"}).status_code == 200  # the scheme is case-insensitive
        assert httpx2.get(f"{server.url}/healthz").status_code == 200
        assert httpx2.get(f"{server.url}/metrics").status_code == 200
        result = call(url, "model_info", {}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert not result.is_error
    finally:
        server.stop()


def test_remote_inference_gives_the_same_predictions_as_in_process(aiops_bin, prometheus, model, mcp):
    model_port = free_port()
    serving = Server([str(aiops_bin), "serve-model", "--model-dir", str(model.parent), "--model-name", "aiops-cpu",
                      "--http-port", str(model_port)], model_port)
    remote = serve_mcp(aiops_bin, prometheus, model, "--inference-url", f"http://127.0.0.1:{model_port}",
                       "--model-name", "aiops-cpu")
    try:
        instance, _ = prometheus.incident()
        arguments = {"instance_ip": instance, "time_range_hours": 24}
        local = call(f"{mcp.url}/mcp", "query_prometheus_and_predict", arguments).structured_content
        other = call(f"{remote.url}/mcp", "query_prometheus_and_predict", arguments).structured_content
        assert other["model"]["inference"].startswith(f"http://127.0.0.1:{model_port}")
        # Both windows end at "now", which may cross a step between the two calls (one window then
        # has a newer last sample): compare the samples both scored, away from the window start
        # (where the rolling features begin afresh) and up to the earlier window end. The list
        # keeps the latest points only, so the later window's may begin a point later: compare
        # from where both lists begin (regression: it failed when the newer sample was anomalous).
        first = max(_window_time(local, "window_start"), _window_time(other, "window_start")) + 60
        first = max(first, *(min((p["unix"] for p in r["anomalous_points"]), default=first)
                             for r in (local, other)))
        last = min(_window_time(local, "window_end"), _window_time(other, "window_end"))
        pick = lambda report: {p["unix"]: p["decision"] for p in report["anomalous_points"] if first < p["unix"] <= last}  # noqa: E731
        assert pick(local) and pick(local) == pick(other)
    finally:
        remote.stop()
        serving.stop()


def _window_time(report, field: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(report[field].replace("Z", "+00:00")).timestamp()


def test_model_is_read_from_s3_and_reloaded_when_it_changes(aiops_bin, prometheus, model, mcp, tmp_path, s3):
    endpoint, client = s3
    client.upload_file(str(model), "aiops-models", "models/current/model.iforest")
    server = serve_mcp(aiops_bin, prometheus, "s3://aiops-models/models/current/", "--s3-endpoint", endpoint,
                       "--reload-interval-ms", "200", env=S3_CREDENTIALS)
    try:
        url = f"{server.url}/mcp"
        from_s3 = call(url, "model_info", {}).structured_content
        local = call(f"{mcp.url}/mcp", "model_info", {}).structured_content
        assert from_s3["source"] == "s3://aiops-models/models/current/model.iforest"
        assert from_s3["digest"] == local["digest"]

        other = train_model(aiops_bin, prometheus.url, prometheus.truth["instances"][1]["instance"], tmp_path)
        client.upload_file(str(other), "aiops-models", "models/current/model.iforest")
        deadline = time.monotonic() + 20
        while call(url, "model_info", {}).structured_content["digest"] == local["digest"]:
            assert time.monotonic() < deadline, "the changed model was not reloaded"
            time.sleep(0.2)

        client.put_object(Bucket="aiops-models", Key="models/current/model.iforest", Body=b"not a model")
        deadline = time.monotonic() + 20
        while "last_reload_error" not in (info := call(url, "model_info", {}).structured_content):
            assert time.monotonic() < deadline, "the broken model was not noticed"
            time.sleep(0.2)
        assert info["digest"] != local["digest"]  # the reloaded (good) model stays in use
        metrics = httpx2.get(f"{server.url}/metrics").text
        assert 'aiops_mcp_model_reloads_total{outcome="loaded"} 1' in metrics, metrics
        assert 'aiops_mcp_model_reloads_total{outcome="failed"}' in metrics, metrics
    finally:
        server.stop()


# --- KAgent manifests -------------------------------------------------------------------------

CRDS = {"RemoteMCPServer": "kagent.dev_remotemcpservers.yaml", "Agent": "kagent.dev_agents.yaml",
        "ModelConfig": "kagent.dev_modelconfigs.yaml"}


def strict(schema):
    """The CRD's structural schema with unknown fields rejected, as the API server prunes them."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    schema["properties"]["metadata"] = {"type": "object", "required": ["name", "namespace"]}
    return schema


def crd_schema(shared_dir, kind, version):
    crd = yaml.safe_load((shared_dir / "crds/kagent" / CRDS[kind]).read_text())
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return strict(served["schema"]["openAPIV3Schema"])


def kagent_documents():
    for path in sorted((ROOT / "infra/k8s/base/kagent").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield path, yaml.safe_load(path.read_text())


def test_kagent_manifests_validate_against_the_crds_with_unknown_fields_rejected(shared_dir):
    kinds = set()
    for path, document in kagent_documents():
        group, version = document["apiVersion"].split("/")
        assert group == "kagent.dev" and version == "v1alpha2", path
        jsonschema.validate(document, crd_schema(shared_dir, document["kind"], version))
        kinds.add(document["kind"])
        assert "apiKey:" not in path.read_text(), f"{path} must take API keys from Secrets only"
    assert kinds == set(CRDS)
    _, agent = next((p, d) for p, d in kagent_documents() if d["kind"] == "Agent")
    tool = agent["spec"]["declarative"]["tools"][0]["mcpServer"]
    assert (tool["apiGroup"], tool["kind"]) == ("kagent.dev", "RemoteMCPServer")
    assert set(tool["toolNames"]) == TOOLS
    _, remote = next((p, d) for p, d in kagent_documents() if d["kind"] == "RemoteMCPServer")
    assert remote["spec"]["protocol"] == "STREAMABLE_HTTP"
    providers = {d["spec"]["provider"] for _, d in kagent_documents() if d["kind"] == "ModelConfig"}
    assert providers == {"Gemini", "OpenAI", "Ollama"}


def test_an_unknown_field_in_a_kagent_manifest_is_rejected(shared_dir):
    _, agent = next((p, d) for p, d in kagent_documents() if d["kind"] == "Agent")
    agent = copy.deepcopy(agent)
    agent["spec"]["declarative"]["tools"][0]["mcpServer"]["toolname"] = ["typo"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(agent, crd_schema(shared_dir, "Agent", "v1alpha2"))


def test_the_agent_header_and_the_server_token_come_from_one_secret_key(aiops_bin, prometheus, model, tmp_path):
    """From the kustomize output: the RemoteMCPServer's Authorization header and the server's
    --auth-token-file read the same Secret key; a server given that key's value as its token file
    accepts the header KAgent builds from the same value, verbatim."""
    from test_infra import K8S, render

    objects = render(K8S / "base")
    remote = next(o for o in objects if o["kind"] == "RemoteMCPServer")
    (header,) = [h for h in remote["spec"]["headersFrom"] if h["name"].lower() == "authorization"]
    assert header["valueFrom"]["type"] == "Secret"
    agent_key = (header["valueFrom"]["name"], header["valueFrom"]["key"])

    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "aiops-mcp")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (token_file,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--auth-token-file=")]
    token_file = pathlib.PurePosixPath(token_file)
    (mount,) = [m for m in container["volumeMounts"] if token_file.parent == pathlib.PurePosixPath(m["mountPath"])]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = [i for i in volume["secret"]["items"] if i["path"] == token_file.name]
    server_key = (volume["secret"]["secretName"], item["key"])
    assert agent_key == server_key, f"the Agent sends {agent_key}, the server reads {server_key}"
    assert remote["spec"]["url"].startswith(f"http://{deployment['metadata']['name']}.")

    secret_value = f"Bearer {TOKEN}"  # the documented form of the one key
    (tmp_path / token_file.name).write_text(secret_value + "\n")
    server = serve_mcp(aiops_bin, prometheus, model, "--auth-token-file", str(tmp_path / token_file.name))
    try:
        url = f"{server.url}/mcp"
        assert raw_post(url, {"Authorization": secret_value}).status_code == 200
        assert raw_post(url, {"Authorization": f"Bearer {TOKEN[:-1]}x"}).status_code == 401
        assert not call(url, "model_info", {}, headers={"Authorization": secret_value}).is_error
    finally:
        server.stop()

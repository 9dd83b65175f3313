"""KAgent's own runtime against `aiops serve-mcp`: the agent is built from an `AgentConfig`
exactly as `kagent-adk`'s `static` command builds it (the config the KAgent controller renders
from our Agent, RemoteMCPServer and ModelConfig manifests: streamable HTTP tools over
`KAgentMcpToolset`, the Authorization header from the one Secret value), then run through
google-adk's `Runner` with a scripted stand-in model: a `BaseLlm` that answers with function
calls (no LLM, no network) calling every tool with valid and invalid arguments.

google-adk converts every tool's input schema into a function declaration before the first
model request; a schema it cannot convert fails the whole run. Runs in the Python 3.13 venv
`.venv/kagent` (scripts/python/kagent.txt), through ./scripts/test."""

import asyncio
import pathlib
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/python"))

from conftest import Server, aiops_bin, free_port  # noqa: E402,F401 (aiops_bin: the shared fixture)
from mcp_support import TOOLS, prometheus, tool_calls, train_model  # noqa: E402,F401 (prometheus: a fixture)

from google.adk.models.base_llm import BaseLlm  # noqa: E402
from google.adk.models.llm_response import LlmResponse  # noqa: E402
from google.adk.runners import Runner  # noqa: E402
from google.adk.sessions import InMemorySessionService  # noqa: E402
from google.genai import types  # noqa: E402
from kagent.adk import AgentConfig  # noqa: E402
from pydantic import Field  # noqa: E402

KAGENT = ROOT / "infra/k8s/base/kagent"
SECRET_VALUE = "Bearer kagent-test-token-0123456789abcdef"  # the Secret key's documented form


def manifest(name: str) -> dict:
    return yaml.safe_load((KAGENT / name).read_text())


@pytest.fixture(scope="module")
def mcp_url(aiops_bin, prometheus, tmp_path_factory):
    instance, _ = prometheus.incident()
    out = tmp_path_factory.mktemp("model")
    model = train_model(aiops_bin, prometheus.url, instance, out)
    (out / "token").write_text(SECRET_VALUE)
    port = free_port()
    server = Server([str(aiops_bin), "serve-mcp", "--prometheus-url", prometheus.url, "--model", str(model),
                     "--port", str(port), "--auth-token-file", str(out / "token")], port)
    yield f"{server.url}/mcp"
    server.stop()


def agent_config(url: str) -> AgentConfig:
    """The config.json the KAgent controller renders for our Agent (kagent v1alpha2)."""
    agent, remote, model = manifest("agent.yaml"), manifest("remote-mcp-server.yaml"), manifest("model-config-gemini.yaml")
    (tool,) = agent["spec"]["declarative"]["tools"]
    assert tool["mcpServer"]["name"] == remote["metadata"]["name"]
    (header,) = remote["spec"]["headersFrom"]
    timeout = float(remote["spec"]["timeout"].rstrip("s"))
    return AgentConfig.model_validate({
        "model": {"type": model["spec"]["provider"].lower(), "model": model["spec"]["model"]},
        "description": agent["spec"]["description"],
        "instruction": agent["spec"]["declarative"]["systemMessage"],
        "http_tools": [{
            "params": {"url": url, "headers": {header["name"]: SECRET_VALUE}, "timeout": timeout,
                       "terminate_on_close": remote["spec"]["terminateOnClose"]},
            "tools": tool["mcpServer"]["toolNames"],
        }],
        "stream": agent["spec"]["declarative"]["stream"],
    })


class ScriptedLlm(BaseLlm):
    """Answers each model request with the next turn of function calls, then with text; keeps
    every request (the function declarations and the tool responses it carries)."""

    turns: list = Field(default_factory=list)
    requests: list = Field(default_factory=list)

    async def generate_content_async(self, llm_request, stream: bool = False):
        self.requests.append(llm_request)
        turn = len(self.requests) - 1
        if turn < len(self.turns):
            parts = [types.Part(function_call=types.FunctionCall(id=f"call-{turn}-{i}", name=name, args=args))
                     for i, (name, args) in enumerate(self.turns[turn])]
        else:
            parts = [types.Part(text="Findings reported.")]
        yield LlmResponse(content=types.Content(role="model", parts=parts))


def run_agent(url: str, turns: list) -> tuple[ScriptedLlm, list]:
    agent = agent_config(url).to_agent("aiops_sre_agent")  # exactly as kagent-adk's `static` does
    model = ScriptedLlm(model="scripted", turns=turns)
    agent.model = model

    async def go():
        runner = Runner(app_name="aiops", agent=agent, session_service=InMemorySessionService(),
                        auto_create_session=True)
        message = types.Content(role="user", parts=[types.Part(text="Are there anomalies on my nodes?")])
        events = [event async for event in runner.run_async(user_id="sre", session_id="s1", new_message=message)]
        await runner.close()
        return events

    return model, asyncio.run(go())


def responses(events) -> dict:
    """Tool responses by call id."""
    return {r.id: (r.name, r.response) for e in events for r in e.get_function_responses()}


def test_kagent_runtime_calls_every_tool_and_gets_results_and_error_messages(mcp_url, prometheus):
    valid, invalid = tool_calls(prometheus)
    model, events = run_agent(mcp_url, [valid, [(t, a) for t, a, _ in invalid]])

    assert events and events[-1].content.parts[0].text == "Findings reported.", events[-1]
    declared = {d.name: d for tool in model.requests[0].config.tools for d in tool.function_declarations or []}
    assert TOOLS <= set(declared), sorted(declared)
    metric = declared["detect_metric_anomalies"].parameters.properties["metric"]
    assert metric.enum == ["cpu", "memory", "disk", "network"], metric
    assert len(model.requests) == 3

    answered = responses(events)
    assert len(answered) == len(valid) + len(invalid), answered
    for i, (tool, arguments) in enumerate(valid):
        name, response = answered[f"call-0-{i}"]
        assert name == tool
        assert "error" not in response and not response.get("isError"), (tool, response)
        assert response["structuredContent"], (tool, response)
        assert response["content"][0]["text"], (tool, response)
    by_tool = {name: response["structuredContent"] for name, response in answered.values() if "structuredContent" in response}
    assert by_tool["predict_anomalies"]["anomaly_count"] > 0
    assert by_tool["query_prometheus_and_predict"]["hours"] == 2
    assert by_tool["explain_anomaly"]["anomalous"] is True
    for i, (tool, arguments, message) in enumerate(invalid):
        name, response = answered[f"call-1-{i}"]
        assert name == tool
        assert response.get("isError") is True and "structuredContent" not in response, (tool, response)
        assert message in response["content"][0]["text"], (tool, arguments, response)

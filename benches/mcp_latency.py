"""MCP tool-call latency of `aiops serve-mcp` (in-process inference) with the real Python MCP
client, against the local test Prometheus: `predict_anomalies` over 24 h at 10 s (8,640 points).

    .venv/main/bin/python benches/mcp_latency.py [--calls 50] [--bin target/release/aiops]
        [--points-per-query N]...

Prints p50/p99/mean of the tool-call round trip (one initialized session, calls in sequence) and
the ratio to the reference's ~600 ms for the same path without the LLM. Each `--points-per-query`
runs the server again with that chunk size (default: the server's own default)."""

import argparse
import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests/python"))

from conftest import Server, free_port  # noqa: E402
from mcp_support import ROOT, PrometheusProcess, mcp_session, train_model  # noqa: E402

REFERENCE_MS = 600.0


async def measure(url: str, instance: str, calls: int) -> list[float]:
    async with mcp_session(url) as session:
        arguments = {"instance_ip": instance, "hours": 24}
        for _ in range(3):
            await session.call_tool("predict_anomalies", arguments)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            result = await session.call_tool("predict_anomalies", arguments)
            times.append((time.perf_counter() - start) * 1000)
            assert not result.is_error and 8000 < result.structured_content["samples"] <= 8641, result.content
        return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--bin", type=pathlib.Path, default=ROOT / "target/release/aiops")
    parser.add_argument("--points-per-query", type=int, action="append", default=[],
                        help="serve-mcp's --points-per-query; repeat to compare several")
    args = parser.parse_args()
    aiops = args.bin
    prometheus = PrometheusProcess(aiops.with_name("test-prometheus")
                                   if aiops.with_name("test-prometheus").exists()
                                   else ROOT / "target/debug/test-prometheus")
    try:
        instance, _ = prometheus.incident()
        with tempfile.TemporaryDirectory() as folder:
            model = train_model(aiops, prometheus.url, instance, pathlib.Path(folder))
            print(f"binary: {aiops}")
            for points in args.points_per_query or [None]:
                chunking = [] if points is None else ["--points-per-query", str(points)]
                times = serve_and_measure(aiops, prometheus.url, model, instance, args.calls, chunking)
                report(times, "server default" if points is None else f"--points-per-query {points}")
    finally:
        prometheus.stop()


def serve_and_measure(aiops, prometheus_url, model, instance, calls, extra_args) -> list[float]:
    port = free_port()
    server = Server([str(aiops), "serve-mcp", "--prometheus-url", prometheus_url, "--model", str(model),
                     "--listen", f"127.0.0.1:{port}", *extra_args], port, env={"RUST_LOG": "warn"})
    try:
        return asyncio.run(measure(f"{server.url}/mcp", instance, calls))
    finally:
        server.stop()


def report(times: list[float], label: str) -> None:
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(f"predict_anomalies 24 h @ 10 s, {len(times)} calls ({label}): p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms, mean {statistics.fmean(times):.1f} ms, min {times[0]:.1f} ms")
    print(f"  reference path without the LLM: ~{REFERENCE_MS:.0f} ms -> {REFERENCE_MS / p50:.1f}x faster at p50")


if __name__ == "__main__":
    main()

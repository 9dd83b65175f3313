#!/usr/bin/env python3
"""Prometheus fetch: aiops-promclient vs the reference's prometheus-api-client, same queries.

Starts one test Prometheus (aiops-testkit's `test-prometheus`, 7 days of generated node-exporter
data at 10 s), then fetches the reference CPU query for 24 h and 7 days at 10 s with both
clients and prints the best-of-N times and their ratio. The 7-day range (60,480 points) exceeds
Prometheus' 11,000-point limit, which `custom_query_range` does not handle: the Python side gets
the same step-aligned chunks as ours, fetched one after the other (as a user would have to).

Usage: .venv/main/bin/python benches/promclient_vs_python.py [--repeats 5]
"""

import argparse
import datetime as dt
import json
import math
import subprocess
import sys
import time
from pathlib import Path

from prometheus_api_client import PrometheusConnect

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = "10.0.0.1:9100"
QUERY = f'100 - (avg(rate(node_cpu_seconds_total{{mode="idle",instance="{INSTANCE}"}}[5m])) * 100)'
STEP = 10
MAX_POINTS = 11_000


def cargo_build(*args):
    subprocess.run(["cargo", "build", "--release", "-q", *args], cwd=ROOT, check=True)


def python_fetch(prom, start, end):
    """The reference client on our chunk plan; returns (timestamps, values) as floats."""
    first = math.ceil(start / STEP) * STEP
    last = math.floor(end / STEP) * STEP
    timestamps, values = [], []
    chunk_start = first
    while chunk_start <= last:
        chunk_end = min(chunk_start + (MAX_POINTS - 1) * STEP, last)
        result = prom.custom_query_range(
            QUERY,
            start_time=dt.datetime.fromtimestamp(chunk_start, dt.timezone.utc),
            end_time=dt.datetime.fromtimestamp(chunk_end, dt.timezone.utc),
            step=f"{STEP}s",
        )
        for t, v in result[0]["values"] if result else []:
            value = float(v)
            if math.isfinite(value):
                timestamps.append(float(t))
                values.append(value)
        chunk_start = chunk_end + STEP
    return timestamps, values


def best_of(repeats, function):
    best, outcome = math.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        outcome = function()
        best = min(best, time.perf_counter() - started)
    return best, outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cargo_build("-p", "aiops-testkit", "--bin", "test-prometheus")
    cargo_build("-p", "aiops-promclient", "--example", "fetch_timing")
    server = subprocess.Popen(
        [ROOT / "target/release/test-prometheus", "--hours", "170", "--instances", "1", "--no-incident"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline().split(" ", 2)
        if line[0] != "READY":
            sys.exit("test-prometheus did not start")
        url, truth = line[1], json.loads(line[2])
        prom = PrometheusConnect(url=url, disable_ssl=True)
        end = truth["end"]
        print(f"Prometheus {url}; best of {args.repeats}")
        print(f"{'range':>8} {'points':>7} {'ours (s)':>9} {'python (s)':>10} {'ratio':>6}")
        for label, hours in [("24 h", 24), ("7 days", 168)]:
            start = end - hours * 3600
            ours = subprocess.run(
                [ROOT / "target/release/examples/fetch_timing", url, INSTANCE, str(start), str(end), str(STEP), str(args.repeats)],
                check=True,
                capture_output=True,
                text=True,
            )
            ours = json.loads(ours.stdout)
            python_seconds, (timestamps, _) = best_of(args.repeats, lambda: python_fetch(prom, start, end))
            if len(timestamps) != ours["points"]:
                sys.exit(f"{label}: python got {len(timestamps)} points, ours {ours['points']}")
            ratio = python_seconds / ours["best_seconds"]
            print(f"{label:>8} {ours['points']:>7} {ours['best_seconds']:>9.3f} {python_seconds:>10.3f} {ratio:>5.1f}x")
    finally:
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()

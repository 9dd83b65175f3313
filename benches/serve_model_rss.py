#!/usr/bin/env python3
"""Peak memory of `aiops serve-model` under 8 concurrent maximal (16 MiB) inference requests.

Trains a small model with `aiops train`, starts `aiops serve-model`, posts 8 valid v2 requests
of just under 16 MiB at once (about 270,000 rows of 5 features each), and reports the server's
resident memory before and its peak (VmHWM) after, with the status codes. Run once with the
default in-flight body budget (32 MiB: two bodies decoded at once, the others wait) and once with
the budget at its 1 GiB maximum (every body at once, as before the budget existed).

    benches/serve_model_rss.py                     # $AIOPS_BIN or target/release/aiops
    AIOPS_BIN=target/debug/aiops benches/serve_model_rss.py
"""

import http.client
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = os.environ.get("AIOPS_BIN", str(ROOT / "target/release/aiops"))
CONCURRENT = 8
BODY_LIMIT = 16 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(work):
    rng = random.Random(42)
    features = work / "features.csv"
    with open(features, "w") as f:
        f.write("a,b,c,d,e\n")
        for _ in range(2000):
            f.write(",".join(f"{rng.gauss(0, 1):.6f}" for _ in range(5)) + "\n")
    model = work / "model"
    subprocess.run([BIN, "train", "--features", features, "--model-out", model, "--metrics-out",
                    work / "metrics.json", "--n-estimators", "100"], check=True, capture_output=True)
    return model


def body():
    """A valid request of 5 columns just under the 16 MiB body limit."""
    row = "[0.123456789,-1.23456789,2.3456789,-0.3456789,4.56789]"
    rows = (BODY_LIMIT - 200) // (len(row) + 1)
    data = ",".join([row] * rows)
    text = '{"inputs":[{"name":"input-0","shape":[%d,5],"datatype":"FP64","data":[%s]}]}' % (rows, data)
    assert len(text) <= BODY_LIMIT
    return text.encode(), rows


def status_of(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def mib(field):
    return int(field.split()[0]) / 1024


def run(model, payload, extra):
    port = free_port()
    server = subprocess.Popen([BIN, "serve-model", "--model-dir", model, "--model-name", "m", "--listen",
                               f"127.0.0.1:{port}", "--reload-interval", "0s", *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        before = mib(status_of(server.pid)["VmRSS"])
        statuses = []

        def post():
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            connection.request("POST", "/v2/models/m/infer", payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)

        started = time.monotonic()
        threads = [threading.Thread(target=post) for _ in range(CONCURRENT)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        peak = mib(status_of(server.pid)["VmHWM"])
        return before, peak, sorted(statuses), elapsed
    finally:
        server.terminate()
        server.wait()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        model = train(work)
        payload, rows = body()
        print(f"{CONCURRENT} concurrent requests of {len(payload) / 2**20:.2f} MiB ({rows} rows x 5), binary {BIN}")
        print("| in-flight body budget | RSS before | peak RSS (VmHWM) | statuses | wall s |")
        print("|---|---|---|---|---|")
        for name, extra in [("32 MiB (default)", []), ("1 GiB (no effective budget)", ["--max-inflight-body-bytes", str(1 << 30)])]:
            before, peak, statuses, elapsed = run(model, payload, extra)
            counts = ", ".join(f"{statuses.count(s)} x {s}" for s in sorted(set(statuses)))
            print(f"| {name} | {before:.0f} MiB | {peak:.0f} MiB | {counts} | {elapsed:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())

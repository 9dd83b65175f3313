#!/usr/bin/env bash
# Model serving throughput: `aiops serve-model` vs MLServer 1.7.1 (mlserver-sklearn), same
# training data (a features CSV: `aiops train` for us, scikit-learn's IsolationForest for MLServer),
# same JSON payloads (1 and 100 rows of 5 features), loopback, wrk with 64 connections. Prints
# requests/s, p50, p99 and the ratio.
#
#   benches/serving_vs_mlserver.sh            # 20 s per run, release build
#   DURATION=5s AIOPS_BIN=target/debug/aiops benches/serving_vs_mlserver.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
VENV=${AIOPS_MLSERVER_VENV:-.venv/mlserver}
if [[ -z "${AIOPS_BIN:-}" ]]; then
  cargo build --release -p aiops >&2
  AIOPS_BIN=target/release/aiops
fi
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done
  echo "server at $1 did not become ready" >&2; exit 1
}

# Training data: one features CSV (real CPU data from NAB through `aiops features`) trains both
# models with the reference parameters (100 trees, max_samples auto = 256, contamination 0.05,
# seed 42): ours with `aiops train`, scikit-learn's IsolationForest (joblib) for MLServer. The
# payloads are rows of the same CSV. Our model is written as a file named `model`, like the KFP
# train step's artifact that KServe downloads.
DATA=${DATA:-${AIOPS_SHARED_DIR:-/work/shared}/data/nab/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv}
"$AIOPS_BIN" features --input "$DATA" --output "$work/features.csv" >&2
mkdir -p "$work/aiops" "$work/mlserver/iforest"
"$AIOPS_BIN" train --features "$work/features.csv" --model-out "$work/aiops/model" --metrics-out "$work/metrics.json" >&2
"$VENV/bin/python" - "$work" <<'PY'
import csv, json, sys, pathlib, joblib, numpy as np
from sklearn.ensemble import IsolationForest
work = pathlib.Path(sys.argv[1])
with open(work / "features.csv") as f:
    rows = list(csv.reader(f))
columns = [i for i, name in enumerate(rows[0]) if name not in ("timestamp", "label")]
x = np.array([[float(row[i]) for i in columns] for row in rows[1:]])
forest = IsolationForest(n_estimators=100, max_samples="auto", contamination=0.05, random_state=42).fit(x)
joblib.dump(forest, work / "mlserver/iforest/model.joblib")
for n in (1, 100):
    body = {"inputs": [{"name": "input-0", "shape": [n, x.shape[1]], "datatype": "FP64", "data": x[-n:].ravel().tolist()}]}
    (work / f"payload{n}.json").write_text(json.dumps(body))
PY

aiops_port=$(free_port)
"$AIOPS_BIN" serve-model --model-dir "$work/aiops" --model-name iforest --listen "127.0.0.1:$aiops_port" 2>"$work/aiops.log" &
pids+=($!)
ml_http=$(free_port); ml_grpc=$(free_port); ml_metrics=$(free_port)
echo "{\"http_port\": $ml_http, \"grpc_port\": $ml_grpc, \"metrics_port\": $ml_metrics, \"parallel_workers\": 0, \"host\": \"127.0.0.1\"}" >"$work/mlserver/settings.json"
echo '{"name": "iforest", "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"}}' >"$work/mlserver/iforest/model-settings.json"
"$VENV/bin/mlserver" start "$work/mlserver" >"$work/mlserver.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$aiops_port/v2/models/iforest/ready"
wait_ready "http://127.0.0.1:$ml_http/v2/models/iforest/ready"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open(os.getenv("PAYLOAD")):read("*a")
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
run() { PAYLOAD="$2" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$1" | grep '^RESULT'; }

printf '%-6s %-10s %12s %10s %10s %7s\n' rows server "requests/s" "p50 ms" "p99 ms" errors
for n in 1 100; do
  read -r ours ours50 ours99 ourserr < <(run "http://127.0.0.1:$aiops_port/v2/models/iforest/infer" "$work/payload$n.json" | cut -d' ' -f2-)
  read -r ml ml50 ml99 mlerr < <(run "http://127.0.0.1:$ml_http/v2/models/iforest/infer" "$work/payload$n.json" | cut -d' ' -f2-)
  printf '%-6s %-10s %12s %10s %10s %7s\n' "$n" aiops "$ours" "$ours50" "$ours99" "$ourserr" "$n" mlserver "$ml" "$ml50" "$ml99" "$mlerr"
  echo "ratio ($n rows): $(python3 -c "print(f'{$ours / $ml:.1f}x')")"
done

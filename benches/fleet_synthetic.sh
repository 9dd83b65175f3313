#!/usr/bin/env bash
# Fleet scale scaffold (issue 18): 10,000 node-exporter instances served by the SYNTHETIC
# Prometheus-API stand-in (crates/testkit/src/synthetic.rs; not Prometheus, it evaluates no PromQL),
# because a real Prometheus backfilled in a test cannot hold 10,000 nodes' history quickly.
#
# 1. What one watch interval costs on the wire: the discovery query and one `by (instance)` range
#    query per metric for the whole fleet (the last 10 s, and a 5 minute catch-up), timed with curl.
# 2. When `aiops watch` has fleet mode (`--job`; branch h/fleet), a watcher against the stand-in at a
#    10 s interval: CPU seconds per second of wall time (share of one core) and peak RSS, read from
#    /proc over MEASURE seconds after a warm-up. Until then this part says it cannot run.
#
# Usage: benches/fleet_synthetic.sh            (INSTANCES=10000 MEASURE=60 WARMUP=30 BIN_DIR=target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
INSTANCES=${INSTANCES:-10000}
MEASURE=${MEASURE:-60}
BIN_DIR=${BIN_DIR:-target/release}
[ -x "$BIN_DIR/synthetic-prometheus" ] || cargo build --release -p aiops-testkit --bin synthetic-prometheus
[ -x "$BIN_DIR/aiops" ] || cargo build --release -p aiops

coproc STANDIN { "$BIN_DIR/synthetic-prometheus" --instances "$INSTANCES"; }
read -r ready url <&"${STANDIN[0]}"
[ "$ready" = READY ] || { echo "the stand-in did not start" >&2; exit 1; }
trap 'kill "$STANDIN_PID" 2>/dev/null || true' EXIT
echo "synthetic stand-in with $INSTANCES instances at $url (build: $BIN_DIR)"

now=$(( $(date +%s) / 10 * 10 ))
measure() { # name, curl arguments...
  local name=$1; shift
  curl -s -o /dev/null -w "$name: HTTP %{http_code}, %{size_download} bytes, %{time_total} s\n" "$@"
}
measure "discovery (group by (instance) (up{job=\"node\"}))" \
  --data-urlencode 'query=group by (instance) (up{job="node"})' --data-urlencode "time=$now" "$url/api/v1/query"
for metric in node_cpu_seconds_total node_memory_MemAvailable_bytes node_filesystem_avail_bytes node_network_receive_bytes_total; do
  for span in 10 300; do
    measure "$metric, all instances, last $span s at 10 s" \
      --data-urlencode "query=avg by (instance) (rate($metric[5m]))" \
      --data-urlencode "start=$((now - span))" --data-urlencode "end=$now" --data-urlencode "step=10" \
      "$url/api/v1/query_range"
  done
done

if ! "$BIN_DIR/aiops" watch --help 2>/dev/null | grep -q -- '--job'; then
  echo "aiops watch has no --job (fleet mode not merged yet): the watcher's CPU and RSS are not measured"
  exit 0
fi
# shellcheck disable=SC2086 # word splitting of the flags is wanted
"$BIN_DIR/aiops" watch --prometheus-url "$url" --job node --metric cpu,memory,disk,network \
  --interval 10s --step 10s ${AIOPS_WATCH_FLAGS:-} >/dev/null 2>&1 &
watcher=$!
trap 'kill "$watcher" "$STANDIN_PID" 2>/dev/null || true' EXIT
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$watcher/stat"; }
sleep "${WARMUP:-30}"  # warm-up: discovery, start-up history, the first rounds
before=$(cpu); sleep "$MEASURE"; after=$(cpu)
share=$(awk -v a="$after" -v b="$before" -v t="$ticks" -v s="$MEASURE" 'BEGIN { printf "%.1f", 100 * (a - b) / t / s }')
peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$watcher/status")
echo "aiops watch, $INSTANCES instances x 4 metrics at a 10 s interval: $share % of one core, peak RSS $peak MiB"

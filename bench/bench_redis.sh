#!/usr/bin/env bash
# GET throughput of the asx Redis client vs redis-benchmark, same run, same server.
# Usage: bench/bench_redis.sh [BUILD_DIR] [REQUESTS]   (default: build, 200000)
# Prints one JSON line per mode (no pipelining; pipeline 16) with both figures and the ratio.
# Both tools use 50 connections; "pipeline 16" is redis-benchmark -P 16 and, for asx, 16 tasks
# per connection issuing GETs concurrently (the client coalesces them). The machine is shared:
# read the ratio, not the absolute figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
requests=${2:-200000}
bin=$build/messaging/clients/asx-redis-bench
[ -x "$bin" ] || cmake --build "$build" --target asx-redis-bench >/dev/null
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
  echo '{"error":"redis-server/redis-benchmark not installed"}'; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" set key:__rand_int__ xxx >/dev/null

rb() { # requests per second reported by redis-benchmark (CSV: "GET","rps",...)
  redis-benchmark -p "$port" -n "$requests" -c 50 -t get "$@" --csv 2>/dev/null |
    awk -F'"' '/^"GET"/ {print $4}'
}

for p in 1 16; do
  if [ "$p" = 1 ]; then ref=$(rb); else ref=$(rb -P "$p"); fi
  asx=$("$bin" --port "$port" --conns 50 --pipeline "$p" --requests "$requests" --workers 1)
  asx_rps=$(printf '%s' "$asx" | sed -E 's/.*"rps":([0-9.]+).*/\1/')
  ratio=$(awk -v a="$asx_rps" -v r="$ref" 'BEGIN { printf "%.2f", (r > 0 ? a / r : 0) }')
  printf '{"bench":"redis_get","pipeline":%s,"conns":50,"requests":%s,"asx_rps":%s,"redis_benchmark_rps":%s,"ratio":%s}\n' \
    "$p" "$requests" "$asx_rps" "${ref:-0}" "$ratio"
done

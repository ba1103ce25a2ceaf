#!/usr/bin/env bash
# Publish/subscribe throughput of the asx NATS client vs libnats (the official C client), same
# run, same nats-server: N messages of S bytes published on one connection and received on a
# second. Prints one JSON line with both figures and the ratio (received msgs/s).
# Usage: messaging/clients/bench/bench_nats.sh [BUILD_DIR] [MSGS] [SIZE]  (build, 1000000, 16)
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$root/build}
msgs=${2:-1000000}
size=${3:-16}
for t in asx-nats-bench libnats-bench; do
  [ -x "$build/messaging/clients/$t" ] || cmake --build "$build" --target "$t" >/dev/null
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
ref=$("$build/messaging/clients/libnats-bench" --port "$port" --msgs "$msgs" --size "$size")
asx=$("$build/messaging/clients/asx-nats-bench" --port "$port" --msgs "$msgs" --size "$size")
get() { printf '%s' "$1" | sed -E "s/.*\"$2\":([0-9.]+).*/\1/"; }
a=$(get "$asx" msgs_per_s); r=$(get "$ref" msgs_per_s)
ratio=$(awk -v a="$a" -v r="$r" 'BEGIN { printf "%.2f", (r > 0 ? a / r : 0) }')
printf '{"bench":"nats_pubsub","msgs":%s,"size":%s,"asx_msgs_per_s":%s,"asx_dropped":%s,"libnats_msgs_per_s":%s,"libnats_dropped":%s,"ratio":%s}\n' \
  "$msgs" "$size" "$a" "$(get "$asx" dropped)" "$r" "$(get "$ref" dropped)" "$ratio"

#!/usr/bin/env bash
# HTTP/2 (h2c, prior knowledge) throughput of asx-demo `GET /` against nghttpd serving the same
# bytes from a file, measured in the same run with the same load (h2load -D DURATION -c 10 -m 10).
# Both servers use one thread. Prints one JSON line per server:
# {"server", "rps", "ratio"} (ratio = rps / nghttpd rps).
# Usage: bench/h2.sh [BUILD_DIR] [SECONDS]      (default build, 5)
# Environment: ASX_DEMO_WORKERS (default 1), ROUNDS (default 3: alternating rounds, best kept).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
secs=${2:-5}
demo=$build/examples/demo/asx-demo
[ -x "$demo" ] || { echo "build asx-demo first ($demo missing)" >&2; exit 1; }
command -v h2load >/dev/null && command -v nghttpd >/dev/null ||
  { echo "h2load/nghttpd are not installed (nghttp2-client nghttp2-server)" >&2; exit 1; }
. "$root/bench/common.sh"
# h2load output -> requests per second; refuses a run with failed or non-2xx requests
measure() {
  h2load -D "$secs" -c 10 -m 10 "$1" > "$tmp/h2load.out" 2>&1 || true
  awk '
    /^finished in/ { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { v = $(i - 1); sub(/,$/, "", v) } rps = v }
    /^requests:/ { failed = $10; errored = $12 }
    /^status codes:/ { bad = $7 + $9 }
    END { if (failed + errored + bad > 0) print "h2load (" url "): failed " failed ", errored " errored ", non-2xx " bad > "/dev/stderr";
          printf "%s\n", (failed + errored + bad > 0) ? 0 : rps }' url="$1" "$tmp/h2load.out"
}

start_demo
mkdir -p "$tmp/www"
curl -s --http2-prior-knowledge "http://127.0.0.1:$aport/" > "$tmp/www/index.html"

nport=$(free_port)
nghttpd --no-tls -a 127.0.0.1 -d "$tmp/www" "$nport" > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$nport/" && break; sleep 0.1; done
curl -s --http2-prior-knowledge "http://127.0.0.1:$nport/index.html" | cmp -s - "$tmp/www/index.html" ||
  echo "warning: nghttpd body differs" >&2

a=0; n=0
for _ in $(seq "${ROUNDS:-3}"); do
  r=$(measure "http://127.0.0.1:$aport/"); if better "$r" "$a"; then a=$r; fi
  r=$(measure "http://127.0.0.1:$nport/index.html"); if better "$r" "$n"; then n=$r; fi
done
ratio=$(awk -v a="$a" -v n="$n" 'BEGIN { printf "%.3f", (n > 0) ? a / n : 0 }')
bytes=$(wc -c < "$tmp/www/index.html")
echo "{\"server\":\"asx-demo\",\"protocol\":\"h2c\",\"workers\":${ASX_DEMO_WORKERS:-1},\"body_bytes\":$bytes,\"rps\":$a,\"ratio\":$ratio}"
echo "{\"server\":\"nghttpd\",\"protocol\":\"h2c\",\"workers\":1,\"body_bytes\":$bytes,\"rps\":$n,\"ratio\":1.000}"

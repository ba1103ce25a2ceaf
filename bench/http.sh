#!/usr/bin/env bash
# HTTP/1.1 throughput of asx-demo `GET /` against nginx serving the same bytes, measured in the
# same run with the same load (wrk -t1 -c50 -d5s --latency). Both servers use one worker.
# Prints one JSON line per server: {"server", "rps", "p99_ms", "ratio"} (ratio = rps / nginx rps).
# Usage: bench/http.sh [BUILD_DIR] [DURATION]      (default build, 5s)
# Environment: ASX_DEMO_WORKERS (default 1), ROUNDS (default 3: alternating rounds, best kept).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
dur=${2:-5s}
demo=$build/examples/demo/asx-demo
[ -x "$demo" ] || { echo "build asx-demo first ($demo missing)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)

. "$root/bench/common.sh"


# wrk output -> "rps p99_ms"
measure() {
  wrk -t1 -c50 -d"$dur" --latency "$1" > "$tmp/wrk.out" 2>&1
  awk '
    /^Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
               ms = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    /Non-2xx|Socket errors/ { err = err $0 " " }
    END { if (err != "") print "wrk (" url "): " err > "/dev/stderr"; printf "%s %s\n", rps, ms }' url="$1" "$tmp/wrk.out"
}

# asx-demo
start_demo
curl -s "http://127.0.0.1:$aport/" > "$tmp/index.html"

# nginx with the same body
nport=$(free_port)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/html"
cp "$tmp/index.html" "$tmp/nginx/html/index.html"
chmod -R a+rX "$tmp"   # nginx workers run as an unprivileged user when started by root
body=$(sed "s/'/\\\\'/g" "$tmp/index.html"; echo x)   # keep the trailing newline
body=${body%x}
cat > "$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body; proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi; uwsgi_temp_path $tmp/nginx/uwsgi; scgi_temp_path $tmp/nginx/scgi;
  keepalive_requests 1000000;
  # The same bytes from memory (return), as asx-demo does: no file open per request.
  server { listen 127.0.0.1:$nport; location = / { default_type "text/plain; charset=utf-8"; return 200 '$body'; } }
}
CONF
"$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$nport/" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$nport/" | cmp -s - "$tmp/index.html" || echo "warning: nginx body differs" >&2

# Alternate the servers for ROUNDS rounds and keep each one's best round (the machine is shared:
# the best round is the one least disturbed by other load).
a_rps=0; a_p99=0; n_rps=0; n_p99=0
for _ in $(seq "${ROUNDS:-3}"); do
  read -r r p < <(measure "http://127.0.0.1:$aport/")
  if better "$r" "$a_rps"; then a_rps=$r; a_p99=$p; fi
  read -r r p < <(measure "http://127.0.0.1:$nport/")
  if better "$r" "$n_rps"; then n_rps=$r; n_p99=$p; fi
done
ratio=$(awk -v a="$a_rps" -v n="$n_rps" 'BEGIN { printf "%.3f", (n > 0) ? a / n : 0 }')
bytes=$(wc -c < "$tmp/index.html")
echo "{\"server\":\"asx-demo\",\"workers\":${ASX_DEMO_WORKERS:-1},\"body_bytes\":$bytes,\"rps\":$a_rps,\"p99_ms\":$a_p99,\"ratio\":$ratio}"
echo "{\"server\":\"nginx\",\"workers\":1,\"body_bytes\":$bytes,\"rps\":$n_rps,\"p99_ms\":$n_p99,\"ratio\":1.000}"

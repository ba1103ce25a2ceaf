# Sourced by bench/http.sh and bench/h2.sh: a temp dir and background servers cleaned up on exit,
# a free loopback port, asx-demo started on one, and the "best round" comparison.
# Needs: $demo (the asx-demo binary).
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts asx-demo (ASX_DEMO_WORKERS workers, default 1) on a free port and sets $aport.
start_demo() {
  "$demo" --listen 127.0.0.1:0 --workers "${ASX_DEMO_WORKERS:-1}" > "$tmp/demo.out" &
  pids+=($!)
  for _ in $(seq 50); do grep -q listening "$tmp/demo.out" 2>/dev/null && break; sleep 0.1; done
  aport=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/demo.out" | head -1)
}

# better X Y: true when X > Y (numbers).
better() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x > y) }'; }

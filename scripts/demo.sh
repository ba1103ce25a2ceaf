#!/usr/bin/env bash
# Builds asx and runs the main job: asx-demo, one server on 127.0.0.1:8080 serving HTTP/1.1,
# HTTP/2 (h2c upgrade and prior knowledge), a gRPC echo service and a WebSocket echo at /ws.
# Ctrl-C shuts it down gracefully. Extra arguments go to asx-demo (see --help), e.g.
#   bash scripts/demo.sh --listen 127.0.0.1:9000 --cert cert.pem --key key.pem
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ASX_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DASX_WERROR=ON
cmake --build "$build" -j"$(nproc)"
exec "$build/examples/demo/asx-demo" "$@"

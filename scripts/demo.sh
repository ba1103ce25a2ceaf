#!/usr/bin/env bash
# Builds asx and runs the main job. Until the demo server exists, this is the runtime example that
# shows regions, cancellation and obligations at work and prints what happened.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake -S "$root" -B "$build" -DASX_WERROR=ON
cmake --build "$build" -j"$(nproc)"
exec "$build/examples/asx-example-regions"

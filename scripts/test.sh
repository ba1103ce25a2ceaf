#!/usr/bin/env bash
# Builds asx with -Werror and runs every test suite through CTest.
# Usage: scripts/test.sh [BUILD_DIR]      (default: build)
# Environment: ASX_SANITIZE=address,undefined builds everything with sanitizers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake -S "$root" -B "$build" -DASX_WERROR=ON -DASX_SANITIZE="${ASX_SANITIZE:-}"
cmake --build "$build" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure --timeout 300

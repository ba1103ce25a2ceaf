#!/usr/bin/env bash
# Cross-compile the aarch64 context switch (runtime/src/ll/ctx.c) with a standalone check program
# (tests/runtime_ll/aarch64_ctx_check.c) and run it under qemu-aarch64 user-mode emulation.
# Static binaries, so no arm64 sysroot or dev libraries are needed at run time.
# Needs: apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
# Builds the hand-written switch at -O2 and -O0, plus the ucontext fallback as a reference.
# Usage: bash scripts/check-aarch64.sh [outdir]   (default build-aarch64/). Exit 0 iff all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-aarch64}
CC=${CC_AARCH64:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
for tool in "$CC" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "check-aarch64: $tool not found (apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 2; }
done
mkdir -p "$out"
srcs=(runtime/src/ll/ctx.c tests/runtime_ll/aarch64_ctx_check.c)
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -static -pthread -I runtime/src -I runtime/include)
status=0
for variant in asm-O2 asm-O0 ucontext-O2; do
  case $variant in
    asm-O2) vflags=(-O2) ;;
    asm-O0) vflags=(-O0) ;;
    ucontext-O2) vflags=(-O2 -DASX_CTX_UCONTEXT) ;;
  esac
  bin="$out/aarch64_ctx_check-$variant"
  echo "== $variant: $CC ${flags[*]} ${vflags[*]} ${srcs[*]} -o $bin -lm"
  "$CC" "${flags[@]}" "${vflags[@]}" "${srcs[@]}" -o "$bin" -lm
  echo "== $QEMU $bin"
  if ! "$QEMU" "$bin"; then status=1; fi
done
if [ "$status" -eq 0 ]; then echo "check-aarch64: all variants passed"; else echo "check-aarch64: FAILURES (see above)"; fi
exit "$status"

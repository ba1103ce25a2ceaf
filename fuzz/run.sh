#!/usr/bin/env bash
# Bounded AFL++ campaign over every fuzz target (or the ones named).
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Builds the harnesses with afl-cc in build-afl/, runs afl-fuzz on each seed corpus for the given
# time, prints one JSON line per target and exits non-zero if any target found a crash or a hang.
set -euo pipefail
secs=${1:-20}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ASX_FUZZ_BUILD:-$root/build-afl}
out=${ASX_FUZZ_OUT:-$build/findings}

CC=afl-cc cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASX_WERROR=OFF \
  -DASX_BUILD_TESTS=OFF -DASX_BUILD_BENCH=OFF -DASX_BUILD_EXAMPLES=OFF -DASX_BUILD_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(find "$build/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x -printf '%f\n' | sort)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz/run.sh: no fuzz targets built"
  exit 0
fi

export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SKIP_CRASHES=1 AFL_QUIET=1
failed=0
for t in "${targets[@]}"; do
  corpus="$root/fuzz/corpus/$t"
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "{\"target\":\"$t\",\"error\":\"no seed corpus in fuzz/corpus/$t\"}"
    failed=1
    continue
  fi
  rm -rf "$out/$t"
  mkdir -p "$out"
  afl-fuzz -i "$corpus" -o "$out/$t" -V "$secs" -- "$build/fuzz/$t" >"$out/$t.log" 2>&1 || true
  stats="$out/$t/default/fuzzer_stats"
  if [ ! -f "$stats" ]; then
    echo "{\"target\":\"$t\",\"error\":\"afl-fuzz did not run, see $out/$t.log\"}"
    tail -n 20 "$out/$t.log" || true
    failed=1
    continue
  fi
  get() { awk -F' *: *' -v k="$1" '$1==k {print $2}' "$stats"; }
  execs=$(get execs_done); eps=$(get execs_per_sec); paths=$(get corpus_count)
  crashes=$(get saved_crashes); hangs=$(get saved_hangs)
  [ -n "$crashes" ] || crashes=$(get unique_crashes)
  [ -n "$hangs" ] || hangs=$(get unique_hangs)
  echo "{\"target\":\"$t\",\"seconds\":$secs,\"execs\":${execs:-0},\"execs_per_sec\":${eps:-0},\"paths\":${paths:-0},\"crashes\":${crashes:-0},\"hangs\":${hangs:-0}}"
  if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
    echo "fuzz/run.sh: $t found crashes or hangs in $out/$t/default/{crashes,hangs}" >&2
    failed=1
  fi
done
exit $failed

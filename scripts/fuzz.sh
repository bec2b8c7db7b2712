#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan, UBSan) and runs each from its seed corpus for
# SECONDS (default 20) — briefly in CI, for longer by hand: SECONDS=3600 scripts/fuzz.sh.
# A crash, a leak or an exception other than berth::Error fails the run; the reproducer is
# left in build/fuzz/findings/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${SECONDS_PER_TARGET:-${1:-20}}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"
mkdir -p build/fuzz/findings
targets=(runtime_spec seccomp resources reference manifest layer archive go_template detach_keys cli_stream
         dns_message mount_spec dockerfile)
for name in "${targets[@]}"; do
  work=build/fuzz/corpus-$name
  mkdir -p "$work"
  echo "=== fuzz $name for ${seconds}s" >&2
  build/fuzz/tests/fuzz/${name}_fuzzer -max_total_time="$seconds" -max_len=65536 \
    -artifact_prefix=build/fuzz/findings/${name}- -print_final_stats=1 \
    "$work" "tests/fuzz/corpus/$name" 2>&1 | tail -n 3
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz $name: failed, see build/fuzz/findings/" >&2; exit 1; }
done
echo "fuzz: ${#targets[@]} passed, 0 failed"

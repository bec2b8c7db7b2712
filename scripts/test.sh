#!/usr/bin/env bash
# The whole test suite: unit, integration (root) and compat tests, in a release build and
# again under AddressSanitizer + UndefinedBehaviorSanitizer, then a short libFuzzer run of
# every parser of untrusted input. Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/install-deps.sh
jobs=$(nproc)
for preset in release asan-ubsan; do
  echo "=== $preset: build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "=== $preset: test" >&2
  ctest --preset "$preset" -j "$jobs" --timeout 300
done
echo "=== fuzz" >&2
bash scripts/fuzz.sh 20

#!/usr/bin/env bash
# bench/runtime_start.sh - start-to-exit latency of /bin/true and peak RSS of the runtime
# process, berth-runtime vs crun vs runc, side by side in one run, printed as ratios.
#
# Usage (as root):  bash bench/runtime_start.sh
# Knobs (environment):
#   BERTH_RUNTIME  berth-runtime binary (default build/release/src/cmd/berth-runtime/berth-runtime)
#   ROOTFS         busybox root filesystem (default build/release/busybox-rootfs)
#   RUNS=30 WARMUP=5   hyperfine runs per runtime;  RSS_RUNS=10 runs for peak RSS
#
# Fairness: the same bundle (from `berth-runtime spec`, args /bin/true, no terminal) runs
# under all three, each through the same wrapper: a private mount namespace in which the
# cgroup2 tree /sys/fs/cgroup/unified is unmounted when the host has one (crun 1.8 refuses
# this host's hybrid cgroups otherwise, ../shared/ANCHORS.md). Each runtime has its own --root.
# `run` deletes its container on exit, so one id per runtime is reused run after run.
#
# Cleanup on any exit: containers deleted by id with the runtime that made them, the work
# dir removed, the cgroups of those ids removed if left. Only processes started here are
# touched, by pid.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BERTH_RUNTIME=${BERTH_RUNTIME:-$top/build/release/src/cmd/berth-runtime/berth-runtime}
ROOTFS=${ROOTFS:-$top/build/release/busybox-rootfs}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
RSS_RUNS=${RSS_RUNS:-10}

die() { echo "runtime_start.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
for t in hyperfine crun runc jq unshare; do command -v $t >/dev/null || die "$t missing (scripts/install-deps.sh)"; done
[ -x /usr/bin/time ] || die "/usr/bin/time missing (scripts/install-deps.sh installs package time)"
[ -x "$BERTH_RUNTIME" ] || die "no berth-runtime at $BERTH_RUNTIME (build first)"
[ -d "$ROOTFS/bin" ] || die "no rootfs at $ROOTFS (build first)"

W=$(mktemp -d /tmp/berth-bench.XXXXXX)
TAG=bench-$$
declare -A RT=([berth]="$BERTH_RUNTIME" [crun]=crun [runc]=runc)
cleanup() {
  local rc=$?
  for name in berth crun runc; do
    "${RT[$name]}" --root "$W/state-$name" delete --force "$TAG-$name" >/dev/null 2>&1 || true
    for d in /sys/fs/cgroup/*/berth-"$TAG-$name" /sys/fs/cgroup/*/"$TAG-$name"; do
      [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
  done
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT INT TERM

mkdir -p "$W/bundle"
"$BERTH_RUNTIME" spec --bundle "$W/bundle"
jq --arg r "$ROOTFS" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $r' \
  "$W/bundle/config.json" > "$W/bundle/config.json.new"
mv "$W/bundle/config.json.new" "$W/bundle/config.json"

# The wrapper every runtime runs through.
cat > "$W/wrap.sh" <<'WRAP'
#!/bin/sh
if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts; then
  exec unshare --mount --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh "$@"
fi
exec "$@"
WRAP
chmod +x "$W/wrap.sh"

cmd_for() { echo "$W/wrap.sh ${RT[$1]} --root $W/state-$1 run --bundle $W/bundle $TAG-$1"; }

for name in berth crun runc; do
  # shellcheck disable=SC2046
  $(cmd_for $name) >/dev/null 2>"$W/smoke-$name.err" || die "$name smoke run failed: $(cat "$W/smoke-$name.err")"
done

busy_before=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$W/hf.json" \
  -n berth "$(cmd_for berth)" -n crun "$(cmd_for crun)" -n runc "$(cmd_for runc)" >/dev/null
busy_after=$(awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat)

declare -A MED RSS
for name in berth crun runc; do
  read -r med min max < <(jq -r --arg n "$name" \
    '.results[] | select(.command == $n) | "\(.median*1000) \(.min*1000) \(.max*1000)"' "$W/hf.json")
  MED[$name]=$med
  # Peak RSS of the runtime process itself (the wrapper execs it; `run` waits in it).
  rss=()
  for _ in $(seq "$RSS_RUNS"); do
    # shellcheck disable=SC2046
    rss+=("$(/usr/bin/time -f %M $(cmd_for $name) 2>&1 >/dev/null | tail -n1)")
  done
  RSS[$name]=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-6s start-to-exit median %6.2f ms (min %.2f, max %.2f; n=%d)  peak RSS %s KiB\n' \
    "$name" "$med" "$min" "$max" "$RUNS" "${RSS[$name]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratio berth/crun latency $(ratio "${MED[berth]}" "${MED[crun]}") (lower is better)"
echo "ratio berth/runc latency $(ratio "${MED[berth]}" "${MED[runc]}") (lower is better)"
echo "ratio berth/crun peak RSS $(ratio "${RSS[berth]}" "${RSS[crun]}") (lower is better)"
echo "ratio berth/runc peak RSS $(ratio "${RSS[berth]}" "${RSS[runc]}") (lower is better)"
read -r b0 i0 <<<"$busy_before"
read -r b1 i1 <<<"$busy_after"
awk -v b=$((b1 - b0)) -v i=$((i1 - i0)) \
  'BEGIN {printf "host_cpu_busy_during_run %.0f%% (both cores; other load makes figures noisy)\n", 100*b/(b+i)}'

#!/usr/bin/env bash
# bench/runtime_start.sh - start-to-exit latency of /bin/true and peak RSS of the runtime
# process: berth-runtime vs crun vs runc, side by side in one run, printed as ratios.
#
# Usage (as root):   bash bench/runtime_start.sh            (after the release build)
#                    BERTH_RUNTIME=build/bench/bin/berth-runtime \
#                      ROOTFS=build/bench/busybox-rootfs RUNS=80 bash bench/runtime_start.sh
# Prints one line per runtime on stdout, then the ratios and how busy the host was, e.g.:
#   berth-runtime: median 9.1 ms (min 8.0, max 14.2; n=30); cpu user+sys 4.1 ms; peak RSS 3120 KiB (median of 10; min 3100, max 3140)
#   ratio berth/crun latency 0.93 (lower is better)
#   host_cpu_busy_before_run: 3% of 2 cpus over 2 s (load that is not ours)
# Progress and notes go to stderr. Exit status: 0 on success, 1 when a runtime failed
# its smoke run or the run left something behind.
#
# Knobs (environment):
#   BERTH_RUNTIME  berth-runtime binary (default build/release/bin/berth-runtime)
#   ROOTFS         busybox root filesystem (default build/release/busybox-rootfs)
#   RUNS=30 WARMUP=5   hyperfine runs per runtime
#   RSS_RUNS=10        runs under /usr/bin/time -f %M per runtime (the median is reported)
#   COLD_RUNS=10 PAUSE=0.5   runs per runtime that each start after PAUSE s of rest
#                      (hyperfine --prepare "sleep PAUSE"); 0 to skip. See "Hot and cold".
#   HYBRID=1           also time berth-runtime with cgroup2 left visible (informational:
#                      this host's hybrid layout, which crun cannot run on); 0 to skip
#   KEEP=DIR           keep the hyperfine JSON, the bundle and the logs there
#
# What is measured: one bundle (from `berth-runtime spec`, the hardened default: user
# namespace with an id-mapped root, the default seccomp profile, cgroup limits; no terminal,
# args /bin/true, root.path the absolute ROOTFS) is `run` by each runtime with its own --root
# in the work dir; berth-runtime-bare and crun-bare run the same bundle without the user
# namespace, seccomp and resource limits, and "hardening cost" is the difference. A runtime's
# --root lives across its runs, so berth-runtime's seccomp cache is warm after the first (as
# on any host that has started a container before). `run` creates, starts, waits for the container and deletes it, so one fixed id per
# runtime is reused run after run; the smoke run checks that each runtime really removes its
# state and cgroups, else the script stops. Latency: hyperfine with no shell (-N), so a
# figure is fork+exec of the runtime until it exits. Peak RSS: GNU time's %M, i.e. the
# kernel's ru_maxrss of the runtime process as wait4 returns it: the largest RSS of that
# process or of any descendant it reaped (runc's `runc init`, crun's and berth-runtime's
# setup children, /bin/true), not a sum.
#
# Hot and cold: back to back (the hot figures), the first write of a pid to a cgroup v1
# cgroup.procs is cheap, because the kernel's cgroup_threadgroup_rwsem is still in its
# writer mode from the previous run's write; after a rest, the write waits for an RCU grace
# period again (percpu_down_write -> rcu_sync_enter -> synchronize_rcu), 7-15 ms here, in
# every runtime. A single container started on an idle host pays that, so the "after rest"
# lines (a pause before each run) are the latency a user sees; the hot ones measure the
# runtime's own work.
#
# Fairness: all runtimes run through the SAME wrapper: hyperfine (and each /usr/bin/time run)
# runs inside a private mount namespace (`unshare --mount --propagation private`), in which
# the cgroup2 tree /sys/fs/cgroup/unified is unmounted when it is a cgroup2 mount (this
# host's hybrid layout; crun 1.8.1 refuses it otherwise, see ../shared/ANCHORS.md). The
# namespace is made once per hyperfine invocation, so its cost is not in the figures. All
# three thus see plain cgroup v1 here; HYBRID=1 adds one berth-runtime line with cgroup2
# visible. In the same namespace /dev/null is a stand-in node (c 1:3) from the work dir, so
# that crun's chown of its stdio in a user namespace does not reach the host's /dev/null
# (bench/lib.sh, shared with hardened_start.sh, has the wrapper and the cleanup).
#
# Cleanup on any exit (also on failure or Ctrl-C): processes started here are stopped by
# pid; containers left by an interrupted run are deleted by id with the runtime (and
# wrapper) that made them; cgroup directories whose name carries this run's tag
# (berthbench-PID) are emptied of their processes (ours) and removed in every hierarchy; so
# is an empty /berth parent that did not exist before; the plain directories crun makes in the
# tmpfs *under* the hidden cgroup2 mount point (invisible from the host: crun sees
# /sys/fs/cgroup/unified as an empty directory there and writes a cgroup.procs file into
# it) are removed too; then the work dir. Nothing is mounted in the host's namespace, so
# nothing there is unmounted. A last check lists anything of ours still present.
set -euo pipefail
# shellcheck disable=SC2317 # functions below are reached through the EXIT trap

top=$(cd "$(dirname "$0")/.." && pwd)
BERTH_RUNTIME=${BERTH_RUNTIME:-$top/build/release/bin/berth-runtime}
ROOTFS=${ROOTFS:-$top/build/release/busybox-rootfs}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
RSS_RUNS=${RSS_RUNS:-10}
COLD_RUNS=${COLD_RUNS:-10}
PAUSE=${PAUSE:-0.5}
HYBRID=${HYBRID:-1}
KEEP=${KEEP:-}

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "runtime_start.sh: no arguments; knobs are environment variables (see --help)" >&2
    exit 2
    ;;
esac

BENCH=runtime_start.sh
keep_files() { cp -r "$W/bundle/config.json" "$W/logs" "$W/rss" "$W"/*.json "$KEEP"/ 2>/dev/null; }
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

need_root_and_tools hyperfine jq crun runc unshare findmnt
/usr/bin/time -f %M true >/dev/null 2>&1 ||
  die "/usr/bin/time (GNU time, Debian package time) missing (bash scripts/install-deps.sh)"
[[ "$RUNS" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ && "$RSS_RUNS" =~ ^[1-9][0-9]*$ &&
  "$COLD_RUNS" =~ ^[0-9]+$ && "$PAUSE" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
  die "RUNS, WARMUP, RSS_RUNS and COLD_RUNS must be counts, PAUSE seconds"
[ -x "$BERTH_RUNTIME" ] && [ -f "$BERTH_RUNTIME" ] ||
  die "no berth-runtime binary at $BERTH_RUNTIME (build first, or set BERTH_RUNTIME)"
[ -e "$ROOTFS/bin/true" ] || [ -L "$ROOTFS/bin/true" ] ||
  die "no busybox rootfs with /bin/true at $ROOTFS (build first, or set ROOTFS)"
BERTH_RUNTIME=$(realpath "$BERTH_RUNTIME")
ROOTFS=$(realpath "$ROOTFS")

# --- state for cleanup (bench/lib.sh) ----------------------------------------------
bench_setup berthbench

# --- the bundle and the runtimes ----------------------------------------------------
mkdir -p "$W/bundle" "$W/rss"
"$BERTH_RUNTIME" spec --bundle "$W/bundle" || die "berth-runtime spec failed"
jq --arg r "$ROOTFS" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $r' \
  "$W/bundle/config.json" >"$W/config.json.new" || die "editing config.json failed"
mv "$W/config.json.new" "$W/bundle/config.json"
# The bare bundle: the same without what hardening adds (user namespace and id-mapped root,
# seccomp, resource limits); namespaces, mounts, capabilities and masked paths stay.
mkdir -p "$W/bare"
jq 'del(.linux.uidMappings, .linux.gidMappings, .linux.seccomp, .linux.resources, .annotations)
    | .linux.namespaces |= map(select(.type != "user"))' \
  "$W/bundle/config.json" >"$W/bare/config.json" || die "making the bare config.json failed"

add_runtime berth-runtime "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/bundle"
add_runtime crun "$(command -v crun)" "$CG2_HYBRID" "$W/bundle"
add_runtime runc "$(command -v runc)" "$CG2_HYBRID" "$W/bundle"
add_runtime berth-runtime-bare "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/bare"
add_runtime crun-bare "$(command -v crun)" "$CG2_HYBRID" "$W/bare"
[ "$HYBRID" = 1 ] && [ "$CG2_HYBRID" = 1 ] && add_runtime berth-runtime-hybrid "$BERTH_RUNTIME" 0 "$W/bundle"

busy_before_run
host_line
echo "versions: $("$BERTH_RUNTIME" --version | head -1) ($BERTH_RUNTIME); $(crun --version | head -1); $(runc --version | head -1); $(hyperfine --version)"
note "work dir $W, container ids $TAG-*"

# --- smoke runs: each command works, and `run` leaves no state and no cgroup -------------
smoke_runs

# --- latency ---------------------------------------------------------------------------
hyperfine_shell
for name in "${NAMES[@]}"; do
  run_argv "$name"
  cmd=$(printf '%q ' "${RUN_ARGV[@]}")
  note "benchmarking $name ($RUNS runs, $WARMUP warmup)"
  if ! in_bg "$W/logs/$name.hf" "${WRAP_ARGV[@]}" hyperfine "${HF_SHELL[@]}" --style basic \
    --runs "$RUNS" --warmup "$WARMUP" --export-json "$W/hot-$name.json" -n "$name" "$cmd"; then
    die "$name: hyperfine failed: $(grep -v '^\s*$' "$W/logs/$name.hf" | tail -n 3)"
  fi
  [ "$COLD_RUNS" -gt 0 ] || continue
  note "benchmarking $name after ${PAUSE}s of rest ($COLD_RUNS runs)"
  if ! in_bg "$W/logs/$name.cold.hf" "${WRAP_ARGV[@]}" hyperfine "${HF_SHELL[@]}" --style basic \
    --runs "$COLD_RUNS" --prepare "sleep $PAUSE" --export-json "$W/cold-$name.json" -n "$name" "$cmd"; then
    die "$name: hyperfine (cold) failed: $(grep -v '^\s*$' "$W/logs/$name.cold.hf" | tail -n 3)"
  fi
done
jq -s '{results: [.[].results[]]}' "$W"/hot-*.json >"$W/hf.json"
[ "$COLD_RUNS" -gt 0 ] && jq -s '{results: [.[].results[]]}' "$W"/cold-*.json >"$W/hf-cold.json"

# --- peak RSS ----------------------------------------------------------------------------
for name in "${NAMES[@]}"; do
  run_argv "$name"
  note "peak RSS of $name ($RSS_RUNS runs)"
  for ((i = 0; i < RSS_RUNS; i++)); do
    in_bg "$W/logs/$name.rss" "${WRAP_ARGV[@]}" /usr/bin/time -f %M -a -o "$W/rss/$name" "${RUN_ARGV[@]}" ||
      die "$name: run under /usr/bin/time failed: $(tail -n 3 "$W/logs/$name.rss")"
  done
done

CPU_T2=$(cpu_ticks)

# --- report ------------------------------------------------------------------------------
# stats FILE NAME: median min max n cpu(user+sys, ms) of NAME's hyperfine result
stats() {
  jq -r --arg n "$2" '.results[] | select(.command == $n) |
    "\(.median * 1000) \(.min * 1000) \(.max * 1000) \(.times | length) \((.user + .system) * 1000)"' "$1"
}
declare -A MED RSS COLD
for name in "${NAMES[@]}"; do
  read -r med lo hi n cpu < <(stats "$W/hf.json" "$name")
  read -r rss rlo rhi < <(grep -E '^[0-9]+$' "$W/rss/$name" | sort -n |
    awk '{a[NR] = $1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; print m, a[1], a[NR]}')
  MED[$name]=$med
  RSS[$name]=$rss
  extra=""
  [ "$name" = berth-runtime-hybrid ] && extra=" [cgroup2 visible: this host's hybrid layout; not in the ratios]"
  printf '%s: median %.1f ms (min %.1f, max %.1f; n=%d); cpu user+sys %.1f ms; peak RSS %.0f KiB (median of %d; min %d, max %d)%s\n' \
    "$name" "$med" "$lo" "$hi" "$n" "$cpu" "$rss" "$RSS_RUNS" "$rlo" "$rhi" "$extra"
done
if [ "$COLD_RUNS" -gt 0 ]; then
  for name in "${NAMES[@]}"; do
    read -r med lo hi n cpu < <(stats "$W/hf-cold.json" "$name")
    COLD[$name]=$med
    printf '%s after %ss of rest: median %.1f ms (min %.1f, max %.1f; n=%d); cpu user+sys %.1f ms\n' \
      "$name" "$PAUSE" "$med" "$lo" "$hi" "$n" "$cpu"
  done
fi
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
for other in crun runc; do
  echo "ratio berth/$other latency $(ratio "${MED[berth-runtime]}" "${MED[$other]}") (lower is better)"
done
if [ "$COLD_RUNS" -gt 0 ]; then
  for other in crun runc; do
    echo "ratio berth/$other latency after rest $(ratio "${COLD[berth-runtime]}" "${COLD[$other]}") (lower is better)"
  done
fi
for other in crun runc; do
  echo "ratio berth/$other peak RSS $(ratio "${RSS[berth-runtime]}" "${RSS[$other]}") (lower is better)"
done
echo "ratio berth/crun latency, bare bundle $(ratio "${MED[berth-runtime-bare]}" "${MED[crun-bare]}") (lower is better)"
for name in berth-runtime crun; do
  awk -v n="$name" -v h="${MED[$name]}" -v b="${MED[$name-bare]}" \
    'BEGIN {printf "hardening cost %s: %.1f ms (hardened %.1f - bare %.1f, medians)\n", n, h - b, h, b}'
done
echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $(busy_pct "$CPU_T1" "$CPU_T2")% of $(nproc) cpus (this benchmark alone keeps at most about one cpu busy; more is other load), loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0

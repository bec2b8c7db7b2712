#!/usr/bin/env bash
# bench/runtime_start.sh - start-to-exit latency of /bin/true and peak RSS of the runtime
# process: berth-runtime vs crun vs runc, side by side in one run, printed as ratios.
#
# Usage (as root):   bash bench/runtime_start.sh            (after the release build)
#                    BERTH_RUNTIME=build/bench/src/cmd/berth-runtime/berth-runtime \
#                      ROOTFS=build/bench/busybox-rootfs RUNS=80 bash bench/runtime_start.sh
# Prints one line per runtime on stdout, then the ratios and how busy the host was, e.g.:
#   berth-runtime: median 9.1 ms (min 8.0, max 14.2; n=30); cpu user+sys 4.1 ms; peak RSS 3120 KiB (median of 10; min 3100, max 3140)
#   ratio berth/crun latency 0.93 (lower is better)
#   host_cpu_busy_before_run: 3% of 2 cpus over 2 s (load that is not ours)
# Progress and notes go to stderr. Exit status: 0 on success, 1 when a runtime failed
# its smoke run or the run left something behind.
#
# Knobs (environment):
#   BERTH_RUNTIME  berth-runtime binary (default build/release/src/cmd/berth-runtime/berth-runtime)
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
# visible.
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
BERTH_RUNTIME=${BERTH_RUNTIME:-$top/build/release/src/cmd/berth-runtime/berth-runtime}
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

note() { echo "# $*" >&2; }
die() {
  echo "runtime_start.sh: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root"
for t in hyperfine jq crun runc unshare findmnt; do
  command -v "$t" >/dev/null 2>&1 || die "$t missing (bash scripts/install-deps.sh)"
done
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

# --- state for cleanup ---------------------------------------------------------
TAG=berthbench-$$ # every container id, and so every cgroup the runtimes make, carries it
W=$(mktemp -d /tmp/berthbench.XXXXXX) || die "mktemp failed"
PIDS=()     # processes started here (hyperfine, time loops), stopped by pid on exit
NAMES=()    # runtimes benchmarked, in order
declare -A BIN=() HIDE=() # runtime binary; 1 when its wrapper unmounts cgroup2
# The cgroup2 tree: hidden in the wrapper when it is a separate cgroup2 mount (hybrid).
CG2_HYBRID=0
[ "$(findmnt -n -o FSTYPE /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2 ] && CG2_HYBRID=1
# /berth parents that exist before the run (berth-runtime may nest containers there).
declare -A BERTH_PARENT_BEFORE=()
for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
  [ -d "$d" ] && BERTH_PARENT_BEFORE[$d]=1
done

alive() { # PID: running and not a zombie
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

stop_pid() { # PID: TERM, wait up to 5 s, then KILL; reaps it
  local pid=$1 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

# wrap NAME CMD...: run CMD through NAME's wrapper: a private mount namespace, with the
# cgroup2 tree unmounted in it when HIDE[NAME]=1. unshare and bash exec, so CMD keeps the
# pid of the wrapper; in_bg below needs the argv form (wrap_argv) to get that pid as $!.
wrap_argv() {
  if [ "${HIDE[$1]}" = 1 ]; then
    # shellcheck disable=SC2016
    WRAP_ARGV=(unshare --mount --propagation private bash -c 'umount /sys/fs/cgroup/unified && exec "$@"' wrap)
  else
    WRAP_ARGV=(unshare --mount --propagation private)
  fi
}
wrap() {
  local name=$1
  shift
  wrap_argv "$name"
  "${WRAP_ARGV[@]}" "$@"
}

# in_bg LOG CMD...: run the program CMD (not a function) in the background, so that a
# signal reaches our trap at once and cleanup can stop it by pid; wait for it, return its
# status.
in_bg() {
  local log=$1 pid rc=0
  shift
  "$@" >"$log" 2>&1 </dev/null &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  return "$rc"
}

# Our cgroup directories, deepest first, in every visible hierarchy.
our_cgroups() {
  find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -depth -type d -name "*$TAG-*" 2>/dev/null
}

# Plain directories of ours in the tmpfs under the cgroup2 mount point (crun's, made while
# cgroup2 was hidden). ACTION is "list" or "remove". Only on a hybrid host.
hidden_cg2_dirs() {
  [ "$CG2_HYBRID" = 1 ] || return 0
  # shellcheck disable=SC2016
  unshare --mount --propagation private bash -c '
    umount /sys/fs/cgroup/unified 2>/dev/null || exit 0
    [ "$(stat -f -c %T /sys/fs/cgroup/unified)" = tmpfs ] || exit 0
    for d in /sys/fs/cgroup/unified/*"$1"-*; do
      [ -d "$d" ] || continue
      if [ "$2" = remove ]; then rm -rf -- "$d"; else echo "$d (under the cgroup2 mount point)"; fi
    done' hidden "$TAG" "$1"
}

leftovers() { # print everything of ours that still exists
  local name st m
  our_cgroups
  hidden_cg2_dirs list
  for name in "${NAMES[@]}"; do
    st=$W/state/$name
    # (berth-runtime's .seccomp-cache is a cache, not a container's state)
    [ -n "$(ls -A -I .seccomp-cache "$st" 2>/dev/null)" ] && echo "$st: $(ls -A -I .seccomp-cache "$st" | tr '\n' ' ')"
  done
  for m in $(awk -v w="$W" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo); do
    echo "mount $m"
  done
  for pid in "${PIDS[@]}"; do
    [ -n "$pid" ] && alive "$pid" && echo "process $pid"
  done
  return 0
}

cleanup() {
  local rc=$? pid name d i left
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do [ -n "$pid" ] && stop_pid "$pid"; done
  PIDS=()
  # Containers an interrupted `run` left, deleted by the runtime and wrapper that made them.
  for name in "${NAMES[@]}"; do
    [ -n "$(ls -A -I .seccomp-cache "$W/state/$name" 2>/dev/null)" ] || continue
    note "deleting leftover container $TAG-$name with $name"
    wrap "$name" "${BIN[$name]}" --root "$W/state/$name" delete --force "$TAG-$name" >/dev/null 2>&1
  done
  # Cgroups named after our ids: their processes are containers started here.
  for d in $(our_cgroups); do
    for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do
      note "killing leftover container process $pid in $d"
      kill -KILL "$pid" 2>/dev/null
    done
    for ((i = 0; i < 20; i++)); do
      rmdir "$d" 2>/dev/null && break
      sleep 0.05
    done
  done
  # A /berth parent (older berth-runtimes nest there) that appeared during the run, if it
  # is empty; one in use by someone else's container is not empty and stays. Not counted
  # as a leftover: a concurrent berth-runtime elsewhere may have made it.
  for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
    [ -d "$d" ] && [ -z "${BERTH_PARENT_BEFORE[$d]:-}" ] && rmdir "$d" 2>/dev/null
  done
  hidden_cg2_dirs remove
  # Mounts under the work dir (none expected: the runtimes mount in their own namespaces).
  for d in $(awk -v w="$W" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null
  done
  left=$(leftovers)
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp -r "$W/bundle/config.json" "$W/logs" "$W/rss" "$W"/*.json "$KEEP"/ 2>/dev/null
  fi
  rm -rf "$W" 2>/dev/null || note "could not remove $W"
  if [ -n "$left" ]; then
    echo "runtime_start.sh: left behind:" >&2
    echo "$left" | sed 's/^/  /' >&2
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the bundle and the runtimes ----------------------------------------------------
mkdir -p "$W/bundle" "$W/logs" "$W/rss" "$W/state"
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
declare -A BUN=()

add_runtime() { # NAME BINARY HIDE [BUNDLE]
  NAMES+=("$1")
  BIN[$1]=$2
  HIDE[$1]=$3
  BUN[$1]=${4:-$W/bundle}
  mkdir -p "$W/state/$1"
}
add_runtime berth-runtime "$BERTH_RUNTIME" "$CG2_HYBRID"
add_runtime crun "$(command -v crun)" "$CG2_HYBRID"
add_runtime runc "$(command -v runc)" "$CG2_HYBRID"
add_runtime berth-runtime-bare "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/bare"
add_runtime crun-bare "$(command -v crun)" "$CG2_HYBRID" "$W/bare"
[ "$HYBRID" = 1 ] && [ "$CG2_HYBRID" = 1 ] && add_runtime berth-runtime-hybrid "$BERTH_RUNTIME" 0

# argv of one start-to-exit run of NAME (the id is fixed: `run` deletes the container),
# and of NAME's wrapper
run_argv() {
  RUN_ARGV=("${BIN[$1]}" --root "$W/state/$1" run --bundle "${BUN[$1]}" "$TAG-$1")
  wrap_argv "$1"
}

read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ </proc/stat
sleep 2
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
busy=$(((u1 + n1 + s1 + q1 + sq1 + st1) - (u0 + n0 + s0 + q0 + sq0 + st0)))
all=$((busy + (i1 + w1) - (i0 + w0)))
BUSY_BEFORE=$((all ? 100 * busy / all : 0))

if [ "$CG2_HYBRID" = 1 ]; then
  layout="hybrid (cgroup2 at /sys/fs/cgroup/unified, controllers [$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)], hidden in the wrapper)"
else
  layout=$(findmnt -n -o FSTYPE /sys/fs/cgroup)
fi
echo "host: $(uname -r), $(nproc) cpus, cgroups $layout, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $("$BERTH_RUNTIME" --version | head -1) ($BERTH_RUNTIME); $(crun --version | head -1); $(runc --version | head -1); $(hyperfine --version)"
note "work dir $W, container ids $TAG-*"

# --- smoke runs: each command works, and `run` leaves no state and no cgroup -------------
for name in "${NAMES[@]}"; do
  run_argv "$name"
  for i in 1 2; do # twice: the second run reuses the id
    rc=0
    in_bg "$W/logs/$name.smoke" "${WRAP_ARGV[@]}" "${RUN_ARGV[@]}" || rc=$?
    [ "$rc" = 0 ] ||
      die "$name: smoke run $i failed (exit status $rc): $(grep -v '^\s*$' "$W/logs/$name.smoke" | tail -n 3)"
  done
  [ -z "$(ls -A -I .seccomp-cache "$W/state/$name")" ] ||
    die "$name: \`run\` left its state behind in $W/state/$name; its id cannot be reused"
  left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -name "$TAG-$name" 2>/dev/null | head -n 3)
  [ -z "$left" ] || die "$name: \`run\` left its cgroup behind: $left"
done

# --- latency ---------------------------------------------------------------------------
HF_SHELL=()
hyperfine --help 2>/dev/null | grep -qE -- '^ *-N$' && HF_SHELL=(-N)
[ ${#HF_SHELL[@]} -gt 0 ] || note "this hyperfine has no -N: commands run through a shell (corrected for)"
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

read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ </proc/stat

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
busy=$(((u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1)))
all=$((busy + (i2 + w2) - (i1 + w1)))
echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $((all ? 100 * busy / all : 0))% of $(nproc) cpus (this benchmark alone keeps at most about one cpu busy; more is other load), loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0

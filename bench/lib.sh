# bench/lib.sh - what the OCI runtime benchmarks (runtime_start.sh, hardened_start.sh) share.
# Sourced, not run. The sourcing script sets BENCH (its name, for messages), KEEP (a dir, or
# empty) and a function keep_files (copies what KEEP keeps from $W to $KEEP), checks its knobs,
# then calls bench_setup, which makes the work dir and installs the cleanup trap.
#
# The wrapper: every runtime command runs inside a private mount namespace
# (`unshare --mount --propagation private`), in which
#   * the cgroup2 tree /sys/fs/cgroup/unified is unmounted when HIDE[NAME]=1 (this host's
#     hybrid layout; crun 1.8.1 refuses it otherwise, see ../shared/ANCHORS.md);
#   * /dev/null is a stand-in: a node of the same device (c 1:3) in the work dir, bind-mounted
#     over it, and the command's stdin is reopened from it. crun 1.8.1 chowns its stdio to
#     the container's root in a user namespace; given the host's /dev/null it would hand that
#     node to host uid 1000000000 (hyperfine gives every command /dev/null). The stand-in
#     takes the chown instead and goes with the work dir; timings are unaffected (same device).
# The namespace is made once per wrapped command (a whole hyperfine run), so its cost is not in
# the figures.
#
# Cleanup on any exit (also on failure or Ctrl-C): processes started here are stopped by pid;
# containers left by an interrupted run are deleted by id with the runtime (and wrapper) that
# made them; cgroup directories whose name carries this run's tag are emptied of their
# processes (ours) and removed in every hierarchy; so is an empty /berth parent that did not
# exist before; the plain directories crun makes in the tmpfs *under* the hidden cgroup2 mount
# point (invisible from the host: crun sees /sys/fs/cgroup/unified as an empty directory there
# and writes a cgroup.procs file into it) are removed too; then the work dir. A last check
# lists anything of ours still present and makes the exit status 1.
# shellcheck shell=bash disable=SC2317 # functions below are reached through the EXIT trap
# shellcheck disable=SC2034 # variables set here are read by the sourcing script

note() { echo "# $*" >&2; }
die() {
  echo "$BENCH: $*" >&2
  exit 1
}

# need_root_and_tools TOOL...: root, and each TOOL in PATH.
need_root_and_tools() {
  local t
  [ "$(id -u)" = 0 ] || die "must run as root"
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "$t missing (bash scripts/install-deps.sh)"
  done
}

# bench_setup PREFIX: the work dir $W (logs/, state/), the tag every container id carries
# (PREFIX-PID), the runtime tables, the /dev/null stand-in, and the cleanup trap.
bench_setup() {
  TAG=$1-$$ # every container id, and so every cgroup the runtimes make, carries it
  W=$(mktemp -d "/tmp/$1.XXXXXX") || die "mktemp failed"
  PIDS=()                             # processes started here, stopped by pid on exit
  NAMES=()                            # runtimes benchmarked, in order
  declare -gA BIN=() HIDE=() BUN=()   # binary; 1 when the wrapper unmounts cgroup2; bundle
  # The cgroup2 tree: hidden in the wrapper when it is a separate cgroup2 mount (hybrid).
  CG2_HYBRID=0
  [ "$(findmnt -n -o FSTYPE /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2 ] && CG2_HYBRID=1
  # /berth parents that exist before the run (berth-runtime may nest containers there).
  declare -gA BERTH_PARENT_BEFORE=()
  local d
  for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
    [ -d "$d" ] && BERTH_PARENT_BEFORE[$d]=1
  done
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$W/logs" "$W/state"
  mknod -m 666 "$W/null" c 1 3 || die "mknod of the /dev/null stand-in in $W failed"
}

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

# wrap NAME CMD...: run CMD through NAME's wrapper (see the top of this file). unshare and bash
# exec, so CMD keeps the pid of the wrapper; in_bg below needs the argv form (wrap_argv, which
# sets WRAP_ARGV) to get that pid as $!.
wrap_argv() {
  # shellcheck disable=SC2016
  WRAP_ARGV=(unshare --mount --propagation private bash -c '
    mount --bind "$1" /dev/null || exit 125
    if [ "$2" = 1 ]; then umount /sys/fs/cgroup/unified || exit 125; fi
    shift 2
    exec "$@" </dev/null' wrap "$W/null" "${HIDE[$1]}")
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

# add_runtime NAME BINARY HIDE BUNDLE
add_runtime() {
  NAMES+=("$1")
  BIN[$1]=$2
  HIDE[$1]=$3
  BUN[$1]=$4
  mkdir -p "$W/state/$1"
}

# argv of one start-to-exit run of NAME (the id is fixed: `run` deletes the container),
# and of NAME's wrapper
run_argv() {
  RUN_ARGV=("${BIN[$1]}" --root "$W/state/$1" run --bundle "${BUN[$1]}" "$TAG-$1")
  wrap_argv "$1"
}

# smoke_runs: each runtime runs its bundle twice (the second run reuses the id), and `run`
# leaves no state and no cgroup behind; else the benchmark stops.
smoke_runs() {
  local name i rc left
  for name in "${NAMES[@]}"; do
    run_argv "$name"
    for i in 1 2; do
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
}

# hyperfine without a shell (-N) where this hyperfine has it: HF_SHELL
hyperfine_shell() {
  HF_SHELL=()
  hyperfine --help 2>/dev/null | grep -qE -- '^ *-N$' && HF_SHELL=(-N)
  [ ${#HF_SHELL[@]} -gt 0 ] || note "this hyperfine has no -N: commands run through a shell (corrected for)"
}

# cpu_ticks: "BUSY ALL" jiffies since boot, from /proc/stat
cpu_ticks() {
  local u n s i w q sq st
  read -r _ u n s i w q sq st _ </proc/stat
  echo "$((u + n + s + q + sq + st)) $((u + n + s + q + sq + st + i + w))"
}
# busy_pct "BUSY0 ALL0" "BUSY1 ALL1": percent of all cpu time that was busy in between
busy_pct() {
  local b0 a0 b1 a1
  read -r b0 a0 <<<"$1"
  read -r b1 a1 <<<"$2"
  echo $((a1 - a0 ? 100 * (b1 - b0) / (a1 - a0) : 0))
}
# busy_before_run: BUSY_BEFORE, how busy the host is over 2 s, before we start
busy_before_run() {
  local t0
  t0=$(cpu_ticks)
  sleep 2
  CPU_T1=$(cpu_ticks)
  BUSY_BEFORE=$(busy_pct "$t0" "$CPU_T1")
}

# host_line: kernel, cpus, cgroup layout, load
host_line() {
  local layout
  if [ "$CG2_HYBRID" = 1 ]; then
    layout="hybrid (cgroup2 at /sys/fs/cgroup/unified, controllers [$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)], hidden in the wrapper)"
  else
    layout=$(findmnt -n -o FSTYPE /sys/fs/cgroup)
  fi
  echo "host: $(uname -r), $(nproc) cpus, cgroups $layout, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
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
  local name st m pid
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
    mkdir -p "$KEEP" && keep_files
  fi
  rm -rf "$W" 2>/dev/null || note "could not remove $W"
  if [ -n "$left" ]; then
    echo "$BENCH: left behind:" >&2
    echo "$left" | sed 's/^/  /' >&2
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}

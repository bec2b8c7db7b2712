#!/usr/bin/env bash
# bench/container_run.sh - containers through the engine (issue 5), side by side in one run,
# every container with `--network none`:
#   1. `run --rm busybox true`, start to exit: `berth run --rm` (the berth CLI against a
#      berthd of its own) against a bare `crun run` of the same busybox rootfs, `podman run
#      --rm` and `docker run --rm` (Debian's dockerd + containerd); hyperfine, with warmups.
#   2. N `run -d busybox sleep 1000` (one CLI call each, each call timed), then one `rm -f` of
#      them all: time per container of each phase, for berth, podman and docker.
#   3. idle RSS of berthd (image loaded, no container, after SETTLE s) against dockerd +
#      containerd (summed), taken the same way.
#   4. RSS of the supervisor of one running `sleep` container: berth-shim against conmon
#      (podman) and containerd-shim-runc-v2 (docker): VmRSS from /proc/PID/status, and Pss
#      from /proc/PID/smaps_rollup.
#   5. with those containers running, the cost of watching them: each engine's `stats` CLI
#      streams STATS_N of them for STATS_SECS s; the CPU time of the engine's processes
#      (berthd; dockerd + containerd + the shims; podman has no daemon: its `stats` process
#      reads the cgroups itself) and of the CLI, per second of streaming (issue 6).
#   6. `commit` of a stopped container that wrote COMMIT_MB MB of incompressible bytes, median
#      of three, per engine (issue 6).
#   7. `cp` of a CP_MB MB directory (1 MB files) into a running container and back out,
#      medians of three, per engine (issue 6).
# Prints each figure, the berth/anchor ratios and the issue's targets next to them:
#   `berth run --rm` within 3x a bare crun start; `run -d` at most 0.1x docker's per container;
#   berthd idle RSS under 11 MB; a berth-shim at or under conmon's RSS; streaming stats
#   costing at most the cheaper anchor's CPU (engine and CLI together).
#
# Usage (as root, after the release build):   bash bench/container_run.sh
#   N=20 RUNS=10 bash bench/container_run.sh           # quicker
#   BERTH=0 bash bench/container_run.sh                # the anchors only
# With the defaults the anchors' part takes about 1.5 minutes on the 2-core box (with the host
# busy with other work). It stays under ~10 minutes whatever the engines' speed: a `run -d`
# batch stops after BUDGET seconds even when fewer than N containers were started (the figure
# is then per container of those started, and says so).
# Progress and notes go to stderr. Exit status: 0 when every part ran (a part that failed
# prints "FAILED: why" and the others still run: then 1), 1 too when something was left behind.
#
# Knobs (environment):
#   BUILD          build dir (default build/release): berthd, berth, berth-shim, busybox-image.tar
#   IMAGE          the busybox image archive (default $BUILD/busybox-image.tar, made by the
#                  busybox_image target from scripts/build-busybox-image.sh)
#   RUNS=20 WARMUP=3   hyperfine runs of each `run --rm`
#   N=100          containers per `run -d` batch; N_BERTH, N_PODMAN, N_DOCKER override it per
#                  engine
#   BUDGET=100     seconds after which a `run -d` batch stops starting containers
#   SETTLE=5       seconds a daemon rests before its idle RSS is read (2 s for a shim)
#   STATS_N=20 STATS_SECS=20   containers whose stats are streamed, and for how long (0: skip)
#   COMMIT_MB=50   megabytes a container writes before it is committed (0: skip)
#   CP_MB=100      megabytes of the directory copied into and out of a container (0: skip)
#   BERTH=1 PODMAN=1 DOCKER=1   0 leaves that engine out
#   DISK=1         keep the stores on the disk instead of a tmpfs (see below)
#   KEEP=DIR       keep the hyperfine JSON, the per-call times and the daemon logs there
#
# Isolation: everything lives in a work dir /tmp/crb.XXXXXX (short: podman refuses a runroot
# over 50 characters), on a tmpfs mounted there: this machine's disk is a throttled virtual
# device whose timings swing 4x from one minute to the next (DISK=1 keeps the disk). berthd,
# containerd and dockerd get their own roots, state dirs, sockets and pidfiles there and run
# in a network namespace of their own that has only loopback (dockerd with --bridge=none
# --iptables=false --ip-masq=false), so nothing of theirs touches the host's network; podman
# gets its own --root/--runroot/--tmpdir/--network-config-dir and runs in the same namespace.
# Docker's and podman's containers go under the cgroup parents crb-PID-docker and
# crb-PID-podman. crun runs, like in runtime_start.sh (bench/lib.sh's wrapper), in a private
# mount namespace with the cgroup2 tree unmounted: crun 1.8.1 refuses this host's hybrid
# cgroups. Berth runs on the host as it is: it must not need that.
# Cleanup on any exit (also on failure or Ctrl-C): the batch or hyperfine under way is stopped
# by pid, every container is removed with its engine's CLI (in one call, then one by one what
# is left), the daemons are stopped by pid (dockerd before containerd), whatever is still in our
# network namespace is killed by pid, the cgroups made under our parents (and those named after
# berth's container ids) are emptied and removed; /var/lib/containers, /run/docker,
# /run/containerd, /run/runc, /run/libpod and /run/netns too, but only when this run made them
# and no one else's podman, dockerd or containerd runs now. Then bench/lib.sh's cleanup:
# crun's container and cgroups, everything mounted under the work dir unmounted (the tmpfs,
# overlays, the namespace file), the dir removed, and its check that nothing is left.
set -uo pipefail
# shellcheck disable=SC2317 # functions below are reached through the EXIT trap

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build/release}
BERTHD=$BUILD/bin/berthd
BERTH_BIN=$BUILD/bin/berth
BERTH_SHIM=$BUILD/bin/berth-shim
IMAGE=${IMAGE:-$BUILD/busybox-image.tar}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
N=${N:-100}
N_BERTH=${N_BERTH:-$N}
N_PODMAN=${N_PODMAN:-$N}
N_DOCKER=${N_DOCKER:-$N}
BUDGET=${BUDGET:-100}
SETTLE=${SETTLE:-5}
BERTH=${BERTH:-1}
PODMAN=${PODMAN:-1}
DOCKER=${DOCKER:-1}
KEEP=${KEEP:-}
STATS_N=${STATS_N:-20}
STATS_SECS=${STATS_SECS:-20}
COMMIT_MB=${COMMIT_MB:-50}
CP_MB=${CP_MB:-100}
DOCKER_BIN=/usr/bin/docker # /usr/local/bin/docker is a newer CLI that comes first in PATH

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "container_run.sh: no arguments; knobs are environment variables (see --help)" >&2
    exit 2
    ;;
esac

BENCH=container_run.sh
keep_files() { cp -r "$W/logs" "$W/out" "$KEEP"/ 2>/dev/null; }
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

need_root_and_tools hyperfine jq crun unshare nsenter findmnt ip tar awk
for v in RUNS N N_BERTH N_PODMAN N_DOCKER BUDGET; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a count (got '${!v}')"
done
[[ "$WARMUP" =~ ^[0-9]+$ && "$SETTLE" =~ ^[0-9]+$ && "$STATS_N" =~ ^[0-9]+$ &&
  "$COMMIT_MB" =~ ^[0-9]+$ && "$CP_MB" =~ ^[0-9]+$ ]] ||
  die "WARMUP, SETTLE, STATS_N, COMMIT_MB and CP_MB must be counts"
[[ "$STATS_SECS" =~ ^[1-9][0-9]*$ ]] || die "STATS_SECS must be a count of seconds"
BENCH_TAG=crb
# shellcheck source=bench/engines.sh
. "$top/bench/engines.sh"
echo "versions: berth $(git -C "$top" rev-parse --short HEAD 2>/dev/null) ($BUILD); $(crun --version | head -1); $(podman --version); $($DOCKER_BIN --version); $(containerd --version | awk '{print $1, $3}'); $(hyperfine --version)"
note "work dir $W ($(findmnt -n -o FSTYPE "$W" || echo disk)), tag $TAG"

# --- the rootfs for crun, the network namespace -------------------------------------------
# crun runs the very rootfs the engines get: the image's one layer, unpacked.
mkdir -p "$W/img" "$W/bundle/rootfs"
tar -C "$W/img" -xf "$IMAGE" || die "unpacking $IMAGE failed"
layer=$(jq -r '.[0].Layers[0]' "$W/img/manifest.json") || die "no manifest.json in $IMAGE"
tar -C "$W/bundle/rootfs" -xf "$W/img/$layer" || die "unpacking the image's layer failed"
rm -rf "$W/img"
(cd "$W/bundle" && crun spec) || die "crun spec failed"
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$W/bundle/config.json" \
  >"$W/config.json.new" || die "editing config.json failed"
mv "$W/config.json.new" "$W/bundle/config.json"
add_runtime crun "$(command -v crun)" "$CG2_HYBRID" "$W/bundle"

make_netns

# --- the engines: daemons up, image loaded -------------------------------------------------
start_berth
start_docker --bridge=none --iptables=false --ip-masq=false
setup_podman
engines_up

# --- 3. idle daemon RSS ---------------------------------------------------------------------
declare -A IDLE=()
if [ -n "${OK[berth]:-}${OK[docker]:-}" ]; then
  note "letting the daemons settle for ${SETTLE}s (image loaded, no container)"
  sleep "$SETTLE"
fi
daemon_rss() { # ENGINE LABEL: one line; IDLE[ENGINE] = kB
  local e=$1 r p c cp
  if [ "$e" = berth ]; then
    r=$(rss_kb "$BERTHD_PID") p=$(pss_kb "$BERTHD_PID")
    IDLE[$e]=$r
    echo "berthd_rss_$2: VmRSS $r kB, Pss ${p:-?} kB"
  else
    r=$(rss_kb "$DOCKERD_PID") p=$(pss_kb "$DOCKERD_PID")
    c=$(rss_kb "$CONTAINERD_PID") cp=$(pss_kb "$CONTAINERD_PID")
    IDLE[$e]=$((r + c))
    echo "dockerd_containerd_rss_$2: VmRSS $((r + c)) kB = dockerd $r + containerd $c, Pss ${p:-?} + ${cp:-?} kB"
  fi
}
[ -n "${OK[berth]:-}" ] && daemon_rss berth idle
[ -n "${OK[docker]:-}" ] && daemon_rss docker idle
IDLE_BERTH=${IDLE[berth]:-}
IDLE_DOCKER=${IDLE[docker]:-}

# --- 1. run --rm busybox true ---------------------------------------------------------------
hyperfine_shell
declare -A RM_MED=()
# hf NAME COMMAND: hyperfine of COMMAND (split by hyperfine) under the wrapper HFW (an
# array); RM_MED[NAME] = median ms
hf() {
  local name=$1 cmd=$2 med lo hi n
  note "benchmarking $name: $cmd"
  if ! in_bg "$W/logs/$name.hf" "${HFW[@]}" hyperfine "${HF_SHELL[@]}" --style basic \
    --runs "$RUNS" --warmup "$WARMUP" --export-json "$W/out/$name.json" -n "$name" "$cmd"; then
    fail "$name" "hyperfine: $(last_line "$W/logs/$name.hf")"
    return 1
  fi
  read -r med lo hi n < <(jq -r '.results[0] | "\(.median * 1000) \(.min * 1000) \(.max * 1000) \(.times | length)"' \
    "$W/out/$name.json")
  RM_MED[$name]=$med
  printf '%s: median %.1f ms (min %.1f, max %.1f; n=%d)\n' "$name" "$med" "$lo" "$hi" "$n"
}

# crun: a smoke run (it must leave no state), then hyperfine, through lib.sh's wrapper.
run_argv crun
if in_bg "$W/logs/crun.smoke" "${WRAP_ARGV[@]}" "${RUN_ARGV[@]}"; then
  HFW=("${WRAP_ARGV[@]}")
  hf crun_run_true "$(printf '%q ' "${RUN_ARGV[@]}")"
else
  fail crun_run_true "smoke run: $(last_line "$W/logs/crun.smoke")"
fi
for e in "${ENGINES[@]}"; do
  cmd="${CLI[$e]} run --rm --network none ${RUN_OPTS[$e]} busybox true"
  # shellcheck disable=SC2086 # RUN_OPTS holds flags
  if ! in_bg "$W/logs/$e.smoke" ${ENG_WRAP[$e]} $cmd; then
    fail "${e}_run_rm_true" "smoke run \`$e run --rm --network none busybox true\`: $(last_line "$W/logs/$e.smoke")"
    continue
  fi
  if ! left=$(cli "$e" ps -aq 2>"$W/logs/$e.ps"); then
    fail "${e}_run_rm_true" "\`$e ps -aq\`: $(last_line "$W/logs/$e.ps")"
    continue
  elif [ -n "$left" ]; then
    fail "${e}_run_rm_true" "\`$e run --rm\` left containers behind: $(echo "$left" | tr '\n' ' ')"
    continue
  fi
  read -ra HFW <<<"${ENG_WRAP[$e]}"
  hf "${e}_run_rm_true" "$cmd"
done

# --- 4. the supervisor of one running container ---------------------------------------------
declare -A SHIM_RSS=() SHIM_COMM=([berth]=berth-shim [podman]=conmon [docker]=containerd-shim)
declare -A SHIM_NAME=([berth]=berth-shim [podman]=conmon [docker]=containerd-shim-runc-v2)
for e in "${ENGINES[@]}"; do
  # shellcheck disable=SC2086
  if ! id=$(cli "$e" run -d --network none ${RUN_OPTS[$e]} busybox sleep 1000 2>"$W/logs/$e.shim.err"); then
    fail "${e}_shim_rss" "\`$e run -d --network none busybox sleep 1000\`: $(last_line "$W/logs/$e.shim.err")"
    continue
  fi
  [ "$e" = berth ] && BERTH_IDS+=("$id")
  sleep 2
  pids=$(supervisors "${SHIM_COMM[$e]}")
  if [ "$(echo "$pids" | grep -c .)" != 1 ]; then
    fail "${e}_shim_rss" "expected one ${SHIM_NAME[$e]} of ours, found: $(echo "${pids:-none}" | paste -sd ' ')"
  else
    r=$(rss_kb "$pids") p=$(pss_kb "$pids")
    SHIM_RSS[$e]=$r
    echo "${e}_shim_rss: ${SHIM_NAME[$e]} (pid $pids) with one running sleep: VmRSS $r kB, Pss ${p:-?} kB"
  fi
  # shellcheck disable=SC2086
  cli "$e" ${RM_F[$e]} "$id" >/dev/null 2>&1 || fail "${e}_shim_rss" "\`$e rm -f\` failed"
done

# --- 2. run -d ... sleep 1000, then rm -f of them all ----------------------------------------
# run_d.sh N BUDGET OUT CMD...: CMD N times (each prints a container id) or until BUDGET s,
# each call timed; ids to OUT.ids, "start end" (s) of each call to OUT.times.
cat >"$W/run_d.sh" <<'EOF'
#!/bin/bash
n=$1 budget=$2 out=$3
shift 3
end=$((SECONDS + budget))
for ((i = 0; i < n && SECONDS < end; i++)); do
  t0=$EPOCHREALTIME
  id=$("$@" 2>>"$out.err") || { echo "call $((i + 1)) failed: $(tail -n 2 "$out.err" | paste -sd ' ')"; exit 1; }
  t1=$EPOCHREALTIME
  echo "$id" >>"$out.ids"
  echo "$t0 $t1" >>"$out.times"
done
EOF
# timed.sh OUT CMD...: CMD once, "start end" (s) to OUT
cat >"$W/timed.sh" <<'EOF'
#!/bin/bash
out=$1
shift
t0=$EPOCHREALTIME
"$@" >/dev/null || exit 1
t1=$EPOCHREALTIME
echo "$t0 $t1" >"$out"
EOF
declare -A RUND_PER=() RMF_PER=() STATS_ENGINE=() STATS_CLIENT=() COMMIT_MS=() CP_IN_MS=() CP_OUT_MS=()
if [ "$CP_MB" -gt 0 ]; then
  # The directory to copy: CP_MB files of 1 MB of incompressible bytes, in two levels.
  mkdir -p "$W/cpdata"
  for ((i = 0; i < CP_MB; i++)); do
    mkdir -p "$W/cpdata/d$((i % 10))"
    head -c 1048576 /dev/urandom >"$W/cpdata/d$((i % 10))/f$i"
  done
fi
for e in "${ENGINES[@]}"; do
  n_var=N_${e^^}
  n=${!n_var}
  o=$W/out/$e.run_d
  note "$e: $n x run -d sleep 1000 (stops after ${BUDGET}s)"
  read -ra w <<<"${ENG_WRAP[$e]}"
  read -ra c <<<"${CLI[$e]}"
  read -ra ro <<<"${RUN_OPTS[$e]}"
  read -ra rmf <<<"${RM_F[$e]}"
  in_bg "$W/logs/$e.run_d" "${w[@]}" bash "$W/run_d.sh" "$n" "$BUDGET" "$o" \
    "${c[@]}" run -d --network none "${ro[@]}" busybox sleep 1000 ||
    fail "${e}_run_d" "$(last_line "$W/logs/$e.run_d")"
  mapfile -t ids < <(cat "$o.ids" 2>/dev/null)
  [ "$e" = berth ] && BERTH_IDS+=("${ids[@]}")
  k=${#ids[@]}
  [ "$k" -gt 0 ] || continue
  read -r med tot < <(awk '{print ($2 - $1) * 1000}' "$o.times" | sort -n |
    awk '{v[NR] = $1; t += $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, t}')
  RUND_PER[$e]=$(awk -v t="$tot" -v k="$k" 'BEGIN {print t / k}')
  short=""
  [ "$k" -lt "$n" ] && short=" (stopped after ${BUDGET}s: $k of $n)"
  running=$(cli "$e" ps -q 2>/dev/null | grep -c .)
  printf '%s_run_d: %d containers in %.1f s: %.1f ms per container, median call %.1f ms%s; %s running\n' \
    "$e" "$k" "$(awk -v t="$tot" 'BEGIN {print t / 1000}')" "${RUND_PER[$e]}" "$med" "$short" "$running"
  # With them running: the daemon and all supervisors (informational).
  sum=0
  pids=$(supervisors "${SHIM_COMM[$e]}")
  for p in $pids; do sum=$((sum + $(rss_kb "$p"))); done
  ns=$(echo "$pids" | grep -c .)
  case $e in
    berth) d="berthd $(rss_kb "$BERTHD_PID") kB" ;;
    docker) d="dockerd $(rss_kb "$DOCKERD_PID") kB + containerd $(rss_kb "$CONTAINERD_PID") kB" ;;
    podman) d="no daemon" ;;
  esac
  echo "${e}_rss_with_${k}_running: $d, $ns ${SHIM_NAME[$e]} $sum kB in all (VmRSS)"
  if [ "$STATS_N" -gt 0 ]; then
    sids=("${ids[@]:0:STATS_N}")
    note "$e: stats of ${#sids[@]} containers streamed for ${STATS_SECS}s"
    case $e in
      berth) epids="$BERTHD_PID $pids" ;;
      docker) epids="$DOCKERD_PID $CONTAINERD_PID $pids" ;;
      podman) epids=$pids ;;
    esac
    # shellcheck disable=SC2086 # pid lists
    t0=$(cpu_of $epids)
    # The CLI's CPU: what its wrapper shell reaped (cutime + cstime) once timeout ended it.
    # shellcheck disable=SC2016 # expanded by that shell
    client=$("${w[@]}" bash -c 'timeout "$0" "$@" >/dev/null 2>&1; sed "s/^.*) //" /proc/$$/stat | awk "{print \$14 + \$15}"' \
      "$STATS_SECS" "${c[@]}" stats "${sids[@]}")
    # shellcheck disable=SC2086
    t1=$(cpu_of $epids)
    hz=$(getconf CLK_TCK)
    STATS_ENGINE[$e]=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$STATS_SECS" 'BEGIN {print t * 1000 / hz / s}')
    STATS_CLIENT[$e]=$(awk -v t="${client:-0}" -v hz="$hz" -v s="$STATS_SECS" 'BEGIN {print t * 1000 / hz / s}')
    printf '%s_stats_cpu: %d containers streamed %d s: engine %.1f ms CPU per s, CLI %.1f ms CPU per s\n' \
      "$e" "${#sids[@]}" "$STATS_SECS" "${STATS_ENGINE[$e]}" "${STATS_CLIENT[$e]}"
  fi
  note "$e: rm -f of $k containers (one call)"
  if in_bg "$W/logs/$e.rm_f" "${w[@]}" bash "$W/timed.sh" "$W/out/$e.rm_f" "${c[@]}" "${rmf[@]}" "${ids[@]}"; then
    read -r t0 t1 <"$W/out/$e.rm_f"
    RMF_PER[$e]=$(awk -v a="$t0" -v b="$t1" -v k="$k" 'BEGIN {print (b - a) * 1000 / k}')
    printf '%s_rm_f: %d containers in one call: %.1f s, %.1f ms per container\n' \
      "$e" "$k" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "${RMF_PER[$e]}"
  else
    fail "${e}_rm_f" "$(last_line "$W/logs/$e.rm_f")"
  fi
  left=$(cli "$e" ps -aq 2>/dev/null | grep -c .)
  [ "$left" = 0 ] || fail "${e}_rm_f" "$left containers still there after rm -f"
  if [ "$COMMIT_MB" -gt 0 ]; then
    note "$e: commit of a container with $COMMIT_MB MB of changes (median of 3)"
    cm=crb-commit-$e
    if ! cli "$e" run --name "$cm" --network none "${ro[@]}" busybox sh -c \
      "head -c $((COMMIT_MB * 1048576)) /dev/urandom > /big && sync" >"$W/logs/$e.commit" 2>&1; then
      fail "${e}_commit" "$(last_line "$W/logs/$e.commit")"
    else
      for r in 1 2 3; do
        in_bg "$W/logs/$e.commit" "${w[@]}" bash "$W/timed.sh" "$W/out/$e.commit$r" \
          "${c[@]}" commit "$cm" "crb-commit-$e:$r" || fail "${e}_commit" "$(last_line "$W/logs/$e.commit")"
      done
      COMMIT_MS[$e]=$(for r in 1 2 3; do awk '{print ($2 - $1) * 1000}' "$W/out/$e.commit$r" 2>/dev/null; done |
        sort -n | awk '{v[NR] = $1} END {if (NR == 3) print v[2]}')
      [ -n "${COMMIT_MS[$e]}" ] && printf '%s_commit: %d MB of changes: median %.0f ms\n' "$e" "$COMMIT_MB" "${COMMIT_MS[$e]}"
    fi
    cli "$e" rm -f "$cm" >/dev/null 2>&1
    cli "$e" rmi crb-commit-"$e":1 crb-commit-"$e":2 crb-commit-"$e":3 >/dev/null 2>&1
  fi
  if [ "$CP_MB" -gt 0 ]; then
    note "$e: cp of a $CP_MB MB directory into and out of a running container (median of 3)"
    cc=crb-cp-$e
    if ! cli "$e" run -d --name "$cc" --network none "${ro[@]}" busybox sleep 1000 \
      >"$W/logs/$e.cp" 2>&1; then
      fail "${e}_cp" "$(last_line "$W/logs/$e.cp")"
    else
      for r in 1 2 3; do
        in_bg "$W/logs/$e.cp" "${w[@]}" bash "$W/timed.sh" "$W/out/$e.cp_in$r" \
          "${c[@]}" cp "$W/cpdata" "$cc:/in$r" || fail "${e}_cp" "$(last_line "$W/logs/$e.cp")"
        rm -rf "$W/cpout"
        in_bg "$W/logs/$e.cp" "${w[@]}" bash "$W/timed.sh" "$W/out/$e.cp_out$r" \
          "${c[@]}" cp "$cc:/in$r" "$W/cpout" || fail "${e}_cp" "$(last_line "$W/logs/$e.cp")"
      done
      [ "$(du -sb "$W/cpout" 2>/dev/null | cut -f1)" = "$(du -sb "$W/cpdata" | cut -f1)" ] ||
        fail "${e}_cp" "what came out is not what went in"
      for d in in out; do
        v=$(for r in 1 2 3; do awk '{print ($2 - $1) * 1000}' "$W/out/$e.cp_$d$r" 2>/dev/null; done |
          sort -n | awk '{v[NR] = $1} END {if (NR == 3) print v[2]}')
        [ "$d" = in ] && CP_IN_MS[$e]=$v || CP_OUT_MS[$e]=$v
      done
      [ -n "${CP_IN_MS[$e]}" ] && [ -n "${CP_OUT_MS[$e]}" ] &&
        printf '%s_cp: %d MB directory: in %.0f ms, out %.0f ms (medians)\n' "$e" "$CP_MB" \
          "${CP_IN_MS[$e]}" "${CP_OUT_MS[$e]}"
    fi
    cli "$e" rm -f "$cc" >/dev/null 2>&1
    rm -rf "$W/cpout"
  fi
done

# idle again, after use (informational: what the daemons keep)
if [ -n "${OK[berth]:-}${OK[docker]:-}" ]; then
  sleep "$SETTLE"
  [ -n "${OK[berth]:-}" ] && daemon_rss berth idle_after_use
  [ -n "${OK[docker]:-}" ] && daemon_rss docker idle_after_use
fi

CPU_T2=$(cpu_ticks)

# --- ratios and targets ----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# verdict VALUE OP LIMIT: "met" or "missed"
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == "<=") ? v <= l : v < l; print ok ? "met" : "MISSED"}'; }
echo
echo "summary (lower is better; a ratio is berth / anchor):"
b=${RM_MED[berth_run_rm_true]:-}
for a in crun_run_true podman_run_rm_true docker_run_rm_true; do
  [ -n "$b" ] && [ -n "${RM_MED[$a]:-}" ] && echo "  run --rm true: berth/${a%%_*} $(ratio "$b" "${RM_MED[$a]}")"
done
for a in podman docker; do
  [ -n "${RUND_PER[berth]:-}" ] && [ -n "${RUND_PER[$a]:-}" ] &&
    echo "  run -d, per container: berth/$a $(ratio "${RUND_PER[berth]}" "${RUND_PER[$a]}")"
done
for a in podman docker; do
  [ -n "${RMF_PER[berth]:-}" ] && [ -n "${RMF_PER[$a]:-}" ] &&
    echo "  rm -f, per container: berth/$a $(ratio "${RMF_PER[berth]}" "${RMF_PER[$a]}")"
done
[ -n "$IDLE_BERTH" ] && [ -n "$IDLE_DOCKER" ] &&
  echo "  idle daemon RSS: berthd/(dockerd+containerd) $(ratio "$IDLE_BERTH" "$IDLE_DOCKER")"
for a in podman docker; do
  [ -n "${SHIM_RSS[berth]:-}" ] && [ -n "${SHIM_RSS[$a]:-}" ] &&
    echo "  supervisor RSS: berth-shim/${SHIM_NAME[$a]} $(ratio "${SHIM_RSS[berth]}" "${SHIM_RSS[$a]}")"
done

stats_total() { [ -n "${STATS_ENGINE[$1]:-}" ] && awk -v a="${STATS_ENGINE[$1]}" -v b="${STATS_CLIENT[$1]}" 'BEGIN {print a + b}'; }
for a in podman docker; do
  [ -n "$(stats_total berth)" ] && [ -n "$(stats_total $a)" ] &&
    echo "  stats streaming, CPU of engine + CLI: berth/$a $(ratio "$(stats_total berth)" "$(stats_total $a)")"
done

for a in podman docker; do
  [ -n "${COMMIT_MS[berth]:-}" ] && [ -n "${COMMIT_MS[$a]:-}" ] &&
    echo "  commit of $COMMIT_MB MB: berth/$a $(ratio "${COMMIT_MS[berth]}" "${COMMIT_MS[$a]}")"
done

for a in podman docker; do
  [ -n "${CP_IN_MS[berth]:-}" ] && [ -n "${CP_IN_MS[$a]:-}" ] &&
    echo "  cp of $CP_MB MB in / out: berth/$a $(ratio "${CP_IN_MS[berth]}" "${CP_IN_MS[$a]}") / $(ratio "${CP_OUT_MS[berth]}" "${CP_OUT_MS[$a]}")"
done

echo "targets (issue 5):"
target() { # LABEL FIGURE-OR-EMPTY OP LIMIT-OR-EMPTY TEXT
  if [ -z "$2" ] || [ -z "$4" ]; then
    echo "  $1: $5: pending (not measured in this run)"
  else
    echo "  $1: $5: $(verdict "$2" "$3" "$4")"
  fi
}
f1() { [ -n "$1" ] && printf '%.1f' "$1" || echo '?'; } # one decimal, or ?
crun_med=${RM_MED[crun_run_true]:-}
target "berth run --rm within 3x a bare crun start" "$b" "<=" \
  "${crun_med:+$(awk -v c="$crun_med" 'BEGIN {print 3 * c}')}" \
  "berth $(f1 "$b") ms vs 3 x crun $(f1 "$crun_med") ms"
dper=${RUND_PER[docker]:-}
target "run -d at most 0.1x docker's per container" "${RUND_PER[berth]:-}" "<=" \
  "${dper:+$(awk -v d="$dper" 'BEGIN {print 0.1 * d}')}" \
  "berth $(f1 "${RUND_PER[berth]:-}") ms vs 0.1 x docker $(f1 "$dper") ms"
# 11 MB = 11e6 bytes = 10742 KiB (VmRSS is in KiB)
target "berthd idle RSS under 11 MB" "$IDLE_BERTH" "<" 10742 "berthd ${IDLE_BERTH:-?} kB vs 10742 kB"
target "berth-shim at or under conmon's RSS" "${SHIM_RSS[berth]:-}" "<=" "${SHIM_RSS[podman]:-}" \
  "berth-shim ${SHIM_RSS[berth]:-?} kB vs conmon ${SHIM_RSS[podman]:-?} kB"

echo "targets (issue 6):"
# best ARRAY: the smaller of ARRAY[podman] and ARRAY[docker], either may be missing ("" if both)
best() {
  local a v b=""
  for a in podman docker; do
    v="$1[$a]"
    v=${!v:-}
    [ -n "$v" ] && { [ -z "$b" ] || awk -v t="$v" -v c="$b" 'BEGIN {exit !(t < c)}'; } && b=$v
  done
  echo "$b"
}
declare -A STATS_TOTAL=()
for e in berth podman docker; do STATS_TOTAL[$e]=$(stats_total "$e"); done
for row in "COMMIT_MS|commit" "CP_IN_MS|cp in" "CP_OUT_MS|cp out"; do
  arr=${row%%|*} label=${row#*|}
  v="${arr}[berth]"
  target "$label at least as fast as the faster anchor" "${!v:-}" "<=" "$(best "$arr")" \
    "berth $(f1 "${!v:-}") vs $(f1 "$(best "$arr")") ms"
done
target "stats sampling cost at most the cheaper anchor's" "${STATS_TOTAL[berth]}" "<=" \
  "$(best STATS_TOTAL)" \
  "berth $(f1 "${STATS_TOTAL[berth]}") vs $(f1 "$(best STATS_TOTAL)") ms CPU per s (engine + CLI)"

echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $(busy_pct "$CPU_T1" "$CPU_T2")% of $(nproc) cpus, loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILS" = 0 ] || note "$FAILS part(s) failed"
[ "$FAILS" = 0 ]

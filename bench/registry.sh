#!/usr/bin/env bash
# bench/registry.sh - berth-registry against Debian's docker-registry (distribution 2.8), side
# by side in one run, skopeo as the client of both (issue 9):
#   1. push of a ~170 MB image of a few large layers ("mixed" of make_image.py) and of a
#      50-layer image of small files ("fifty"), OCI layout -> docker://, each run into a
#      fresh server root (nothing to skip, nothing to mount);
#   2. pull of each image, docker:// -> dir: (on the tmpfs), RUNS times from one root;
#   (pushes and pulls alternate between the two servers run by run: the host's load drifts)
#   3. CONC (20) concurrent pulls of one image from each server (wall time of the batch);
#   4. idle RSS of each server (VmRSS after start and one ping, after SETTLE s), and its RSS
#      after the runs.
# Prints the median of each figure (MB/s for the large image), the docker-registry/berth ratio
# of each timing (above 1: berth-registry is faster) and the targets next to them: every row
# at least 1.2x docker-registry; berth-registry's RSS under docker-registry's 22 MB. Then the
# CPU time of each push and pull (median): skopeo's and the server's, which shows when a row is
# bound by the client (skopeo's CPU about its wall time) rather than by the server.
#
# Usage (as root, after a build):   bash bench/registry.sh
#   BUILD=build/dev RUNS=3 bash bench/registry.sh
# Knobs (environment):
#   BUILD=build/release   where bin/berth-registry is
#   RUNS=5                runs of each push and pull (the median is printed)
#   CONC=20               concurrent pulls; CONC_IMAGE=fifty (or mixed: 20 x 200 MB on the tmpfs)
#   SETTLE=3              seconds a server rests before its idle RSS is read
#   DISK=1                the work dir on the disk instead of a tmpfs
#   KEEP=DIR              keep the server logs and the raw timings there
# Isolation: everything lives in a work dir /tmp/regbench.XXXXXX, a tmpfs mounted there (this
# machine's disk is a throttled virtual device; on the tmpfs fsync is free, so the figures
# are of the servers' own work). The servers listen on 127.0.0.1 ports found free, with their
# roots in the work dir, request logs off (docker-registry's access log too). skopeo's blob
# info cache is the system's; it cannot make a push skip work, since every push goes to an
# empty server. Cleanup on any exit: the servers and skopeo processes are stopped by pid, the
# tmpfs unmounted, the work dir removed; anything left makes the exit status 1.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build/release}
BERTH_REGISTRY=$BUILD/bin/berth-registry
RUNS=${RUNS:-5}
CONC=${CONC:-20}
CONC_IMAGE=${CONC_IMAGE:-fifty}
SETTLE=${SETTLE:-3}
DISK=${DISK:-0}
KEEP=${KEEP:-}

if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

BENCH=registry.sh
note() { echo "# $*" >&2; }
die() {
  echo "$BENCH: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root (the tmpfs)"
for t in skopeo docker-registry python3 curl; do
  command -v "$t" >/dev/null 2>&1 || die "$t missing (bash scripts/install-deps.sh)"
done
[ -x "$BERTH_REGISTRY" ] || die "no $BERTH_REGISTRY (build first, or set BUILD)"

W=$(mktemp -d /tmp/regbench.XXXXXX) || die "mktemp failed"
PIDS=()
MOUNTED=0
cleanup() {
  local rc=$? pid left=""
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    kill -0 "$pid" 2>/dev/null && left="$left process $pid"
  done
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp -r "$W/logs" "$W/times" "$KEEP/" 2>/dev/null
  fi
  if [ "$MOUNTED" = 1 ]; then
    umount "$W" || umount -l "$W" || left="$left mount $W"
  fi
  rm -rf "$W" || left="$left $W"
  if [ -n "$left" ]; then
    echo "$BENCH: left behind:$left" >&2
    [ "$rc" = 0 ] && rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$DISK" != 1 ]; then
  mount -t tmpfs -o size=12g,mode=0700 regbench "$W" || die "mounting a tmpfs on $W failed"
  MOUNTED=1
fi
mkdir -p "$W/logs" "$W/times" "$W/img"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ms_now() { date +%s%N | cut -c1-13; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
TICK_MS=$((1000 / $(getconf CLK_TCK)))
cpu_ms() { awk -v t="$TICK_MS" '{print ($14 + $15) * t}' "/proc/$1/stat" 2>/dev/null; }
# timed_sk KEY ARGS...: skopeo ARGS; its wall time (ms) to times/KEY, its CPU time (user + sys)
# to times/KEY.skopeo_cpu and the server's ($SPID) CPU time over the copy to times/KEY.server_cpu
# (from /proc/PID/stat: in steps of a clock tick, 10 ms).
timed_sk() {
  local key=$1 t0 c0 rc
  shift
  c0=$(cpu_ms "$SPID")
  t0=$(ms_now)
  TIMEFORMAT='%3U %3S'
  { time sk "$@"; } 2>"$W/cpu.last"
  rc=$?
  echo $(($(ms_now) - t0)) >>"$W/times/$key"
  echo $(($(cpu_ms "$SPID") - c0)) >>"$W/times/$key.server_cpu"
  awk '{printf "%d\n", ($1 + $2) * 1000}' "$W/cpu.last" >>"$W/times/$key.skopeo_cpu"
  return $rc
}

# start_server NAME ROOT: the server's pid in SPID, its address in ADDR.
start_server() {
  local name=$1 root=$2 port
  port=$(free_port)
  ADDR=127.0.0.1:$port
  mkdir -p "$root"
  if [ "$name" = berth ]; then
    "$BERTH_REGISTRY" serve --addr "$ADDR" --root "$root" --no-request-log \
      >>"$W/logs/berth.log" 2>&1 &
  else
    cat >"$root.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
http:
  addr: $ADDR
YML
    docker-registry serve "$root.yml" >>"$W/logs/docker.log" 2>&1 &
  fi
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 100); do
    curl -fs "http://$ADDR/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$SPID" 2>/dev/null || die "$name did not start: $(tail -n 3 "$W/logs/$name.log")"
    sleep 0.05
  done
  die "$name did not answer on $ADDR"
}
stop_server() {
  kill -TERM "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$SPID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

sk() { skopeo --insecure-policy "$@" >>"$W/logs/skopeo.log" 2>&1; }

# --- the images: docker-save archives from make_image.py, as OCI layouts (uncompressed layers,
# so that neither side compresses)
note "making the images (make_image.py mixed and fifty)"
declare -A MB
for img in mixed fifty; do
  python3 "$top/bench/make_image.py" "$W/img/$img.tar" "bench/$img:1" "$img" ||
    die "make_image.py $img failed"
  sk copy "docker-archive:$W/img/$img.tar" "oci:$W/img/$img:1" || die "skopeo: $img to OCI failed"
  rm -f "$W/img/$img.tar"
  MB[$img]=$(du -sm "$W/img/$img/blobs" | cut -f1)
done
note "images: mixed ${MB[mixed]} MB, fifty ${MB[fifty]} MB ($(ls "$W/img/fifty/blobs/sha256" | wc -l) blobs)"

host_busy() { # percent of cpu busy over 1 s
  local a b
  read -r _ u1 n1 s1 i1 w1 _ </proc/stat
  sleep 1
  read -r _ u2 n2 s2 i2 w2 _ </proc/stat
  a=$(((u2 + n2 + s2) - (u1 + n1 + s1)))
  b=$((a + (i2 + w2) - (i1 + w1)))
  echo $((b ? 100 * a / b : 0))
}
note "host: $(uname -r), $(nproc) cpus, busy ${BUSY:=$(host_busy)}% before the run"

declare -A RES SP AD
# Idle RSS: a fresh server, one ping, SETTLE s of rest.
for name in berth docker; do
  note "$name: idle RSS"
  start_server "$name" "$W/$name-idle"
  curl -fs "http://$ADDR/v2/" >/dev/null
  sleep "$SETTLE"
  RES[$name.rss_idle]=$(rss_kb "$SPID")
  stop_server
  rm -rf "$W/$name-idle"
done

# Pushes, berth and docker alternating run by run (the host's load drifts), each run into a
# fresh server root.
for img in mixed fifty; do
  note "push $img x$RUNS"
  for r in $(seq "$RUNS"); do
    for name in berth docker; do
      start_server "$name" "$W/$name-push"
      timed_sk "$name.push.$img" copy --dest-tls-verify=false "oci:$W/img/$img:1" \
        "docker://$ADDR/bench/$img:1" ||
        die "$name: push of $img failed: $(tail -n 2 "$W/logs/skopeo.log")"
      stop_server
      rm -rf "$W/$name-push"
    done
  done
done

# Pulls from one server of each kind holding both images, alternating too.
for name in berth docker; do
  start_server "$name" "$W/$name-pull"
  SP[$name]=$SPID
  AD[$name]=$ADDR
  for img in mixed fifty; do
    sk copy --dest-tls-verify=false "oci:$W/img/$img:1" "docker://$ADDR/bench/$img:1" ||
      die "$name: push of $img failed"
  done
done
for img in mixed fifty; do
  note "pull $img x$RUNS"
  for r in $(seq "$RUNS"); do
    for name in berth docker; do
      rm -rf "$W/out"
      SPID=${SP[$name]}
      timed_sk "$name.pull.$img" copy --src-tls-verify=false "docker://${AD[$name]}/bench/$img:1" \
        "dir:$W/out" || die "$name: pull of $img failed: $(tail -n 2 "$W/logs/skopeo.log")"
    done
  done
  rm -rf "$W/out"
done
for name in berth docker; do
  note "$name: $CONC concurrent pulls of $CONC_IMAGE"
  pids=()
  t0=$(ms_now)
  for i in $(seq "$CONC"); do
    skopeo --insecure-policy copy --src-tls-verify=false "docker://${AD[$name]}/bench/$CONC_IMAGE:1" \
      "dir:$W/conc-$i" >>"$W/logs/skopeo-conc.log" 2>&1 &
    pids+=($!)
    PIDS+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  RES[$name.conc]=$(($(ms_now) - t0))
  [ "$failed" = 0 ] || die "$name: $failed of $CONC concurrent pulls failed: $(tail -n 2 "$W/logs/skopeo-conc.log")"
  rm -rf "$W"/conc-*
  RES[$name.rss_after]=$(rss_kb "${SP[$name]}")
done
for name in berth docker; do
  SPID=${SP[$name]}
  stop_server
  for f in "$W/times/$name".*; do
    RES[$name.${f##*/$name.}]=$(median <"$f")
  done
done

# --- the report
mbs() { awk -v mb="$1" -v ms="$2" 'BEGIN {printf "%.0f", (ms > 0 ? mb * 1000 / ms : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t ? "meets" : "misses")}'; }
echo
echo "host: $(uname -r), $(nproc) cpus, busy ${BUSY}% before the run, loadavg $(cut -d' ' -f1-3 /proc/loadavg); work dir on $([ "$MOUNTED" = 1 ] && echo tmpfs || echo disk)"
echo "client: $(skopeo --version); anchor: docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}')"
printf '%-34s %14s %14s %8s  %s\n' "median of $RUNS" berth-registry docker-registry ratio "target (>= 1.20x)"
row() { # LABEL KEY [MB]: time (and MB/s)
  local b=${RES[berth.$2]} d=${RES[docker.$2]} r bs ds
  r=$(ratio "$d" "$b")
  if [ -n "${3:-}" ]; then
    bs="$b ms $(mbs "$3" "$b") MB/s"
    ds="$d ms $(mbs "$3" "$d") MB/s"
  else
    bs="$b ms"
    ds="$d ms"
  fi
  printf '%-34s %14s %14s %7sx  %s\n' "$1" "$bs" "$ds" "$r" "$(verdict "$r" 1.2)"
}
row "push mixed (${MB[mixed]} MB)" push.mixed "${MB[mixed]}"
row "pull mixed (${MB[mixed]} MB)" pull.mixed "${MB[mixed]}"
row "push fifty (50 layers)" push.fifty
row "pull fifty (50 layers)" pull.fifty
row "$CONC concurrent pulls of $CONC_IMAGE" conc
b=${RES[berth.rss_idle]}
d=${RES[docker.rss_idle]}
printf '%-34s %11s kB %11s kB %7sx  %s\n' "idle RSS" "$b" "$d" "$(ratio "$b" "$d")" \
  "$([ "$b" -lt 22528 ] && echo "meets (< 22 MB)" || echo "misses (>= 22 MB)")"
printf '%-34s %11s kB %11s kB %7sx\n' "RSS after the runs" "${RES[berth.rss_after]}" \
  "${RES[docker.rss_after]}" "$(ratio "${RES[berth.rss_after]}" "${RES[docker.rss_after]}")"
# Whose CPU a row is made of: skopeo's CPU time (user + sys) near its wall time above means the
# client bounds the row, whatever the server does.
echo
printf '%-34s %14s %14s %14s %15s\n' "CPU of one copy (median, ms)" "skopeo>berth" berth-registry \
  "skopeo>docker" docker-registry
cpu_row() { # LABEL KEY
  printf '%-34s %14s %14s %14s %15s\n' "$1" "${RES[berth.$2.skopeo_cpu]}" \
    "${RES[berth.$2.server_cpu]}" "${RES[docker.$2.skopeo_cpu]}" "${RES[docker.$2.server_cpu]}"
}
cpu_row "push mixed (${MB[mixed]} MB)" push.mixed
cpu_row "pull mixed (${MB[mixed]} MB)" pull.mixed
cpu_row "push fifty (50 layers)" push.fifty
cpu_row "pull fifty (50 layers)" pull.fifty

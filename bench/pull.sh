#!/usr/bin/env bash
# bench/pull.sh - berthd's registry client against skopeo, side by side in one run, both
# talking to Debian's docker-registry (distribution 2.8) on 127.0.0.1 (issue 9):
#   1. pull of a ~200 MB image of a few large layers ("mixed" of make_image.py) and of a
#      50-layer image of small files ("fifty"): `berth pull` into an empty berthd store
#      (download, verify, unpack into snapshots, record) against `skopeo copy docker://…
#      dir:…` (download and verify only);
#   2. push of each image into a fresh docker-registry root: `berth push` of the image loaded
#      into berthd against `skopeo copy oci:… docker://…`.
# Runs alternate berth/skopeo (the host's load drifts). Prints the median of each, MB/s for
# the large image, the skopeo/berth ratio (above 1: berth is faster) and the targets: pull
# (including unpack) at least 1.25x skopeo's, push at least 1.2x.
#
# Usage (as root, after a build):   bash bench/pull.sh
#   BUILD=build/dev RUNS=3 bash bench/pull.sh
# Knobs (environment):
#   BUILD=build/release   where bin/berthd and bin/berth are
#   RUNS=5                runs of each (the median is printed)
#   DISK=1                the work dir on the disk instead of a tmpfs
#   KEEP=DIR              keep the logs and the raw timings there
# Isolation: everything lives in /tmp/pullbench.XXXXXX with a tmpfs mounted there (this
# machine's disk is a throttled virtual device; fsync is free on the tmpfs, for both tools);
# berthd has its own --root, --state, socket, bridge and nftables table; the registry listens on a free
# 127.0.0.1 port. The registry holds the layers as skopeo writes them into an OCI layout
# (gzip), so berth's pull inflates them; berth pushes the image as `berth load` stored it from
# the docker-save archive (uncompressed layers: it does not compress on push), skopeo the gzip
# OCI layout: neither compresses during the timed push.
# Cleanup on any exit: berthd, the registries and skopeo are stopped by pid, the tmpfs
# unmounted, the work dir removed; anything left makes the exit status 1.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build/release}
BERTHD=$BUILD/bin/berthd
BERTH_BIN=$BUILD/bin/berth
RUNS=${RUNS:-5}
DISK=${DISK:-0}
KEEP=${KEEP:-}

if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi

BENCH=pull.sh
note() { echo "# $*" >&2; }
die() {
  echo "$BENCH: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root (berthd, the tmpfs)"
for t in skopeo docker-registry python3 curl; do
  command -v "$t" >/dev/null 2>&1 || die "$t missing (bash scripts/install-deps.sh)"
done
[ -x "$BERTHD" ] && [ -x "$BERTH_BIN" ] || die "no $BERTHD or $BERTH_BIN (build first, or set BUILD)"

W=$(mktemp -d /tmp/pullbench.XXXXXX) || die "mktemp failed"
PIDS=()
MOUNTED=0
cleanup() {
  local rc=$? pid left=""
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    kill -0 "$pid" 2>/dev/null && left="$left process $pid"
  done
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && cp -r "$W/logs" "$W/times" "$KEEP/" 2>/dev/null
  fi
  # berthd mounts nothing for images (snapshots are plain directories); check anyway.
  if grep -q " $W/" /proc/self/mounts; then
    left="$left mounts under $W"
  fi
  if [ -n "${NETTAG:-}" ]; then
    ip link del "$NETTAG-0" 2>/dev/null
    nft delete table inet "$NETTAG" 2>/dev/null
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
  mount -t tmpfs -o size=12g,mode=0700 pullbench "$W" || die "mounting a tmpfs on $W failed"
  MOUNTED=1
fi
mkdir -p "$W/logs" "$W/times" "$W/img"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ms_now() { date +%s%N | cut -c1-13; }
TICK_MS=$((1000 / $(getconf CLK_TCK)))
cpu_ms() { awk -v t="$TICK_MS" '{print ($14 + $15) * t}' "/proc/$1/stat" 2>/dev/null; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# start_registry ROOT: docker-registry's pid in RPID, its address in ADDR.
start_registry() {
  local root=$1 port
  port=$(free_port)
  ADDR=127.0.0.1:$port
  mkdir -p "$root"
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
  docker-registry serve "$root.yml" >>"$W/logs/docker-registry.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  for _ in $(seq 100); do
    curl -fs "http://$ADDR/v2/" >/dev/null 2>&1 && return 0
    kill -0 "$RPID" 2>/dev/null || die "docker-registry did not start"
    sleep 0.05
  done
  die "docker-registry did not answer on $ADDR"
}
stop_registry() {
  kill -TERM "$RPID" 2>/dev/null
  wait "$RPID" 2>/dev/null
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$RPID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

sk() { skopeo --insecure-policy "$@" >>"$W/logs/skopeo.log" 2>&1; }
SOCK=$W/berth.sock
berth() { "$BERTH_BIN" -H "unix://$SOCK" --no-autostart "$@"; }

# --- the images
note "making the images (make_image.py mixed and fifty)"
declare -A MB
for img in mixed fifty; do
  python3 "$top/bench/make_image.py" "$W/img/$img.tar" "bench/$img:1" "$img" ||
    die "make_image.py $img failed"
  sk copy "docker-archive:$W/img/$img.tar" "oci:$W/img/$img:1" || die "skopeo: $img to OCI failed"
  MB[$img]=$(du -sm "$W/img/$img/blobs" | cut -f1)
done
note "images: mixed ${MB[mixed]} MB, fifty ${MB[fifty]} MB"

# berthd's default bridge and nftables table under names of this run's own (never the
# installation's berth0 and `table inet berth`), removed by cleanup; it runs no container.
NETTAG="bpl$((RANDOM % 100000))"
echo "{\"bridge\": \"$NETTAG-0\", \"nftables-table\": \"$NETTAG\", \"bridge-prefix\": \"$NETTAG-\", \"default-address-pools\": [{\"base\": \"198.18.0.0/15\", \"size\": 24}]}" >"$W/daemon.json"
"$BERTHD" --root "$W/berth-root" --state "$W/berth-state" -H "unix://$SOCK" \
  --config-file "$W/daemon.json" >>"$W/logs/berthd.log" 2>&1 &
BERTHD_PID=$!
PIDS+=("$BERTHD_PID")
for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.05; done
berth version >/dev/null 2>&1 || die "berthd did not start: $(tail -n 3 "$W/logs/berthd.log")"

# --- pulls, from one registry holding both images
start_registry "$W/reg-pull"
PULL_ADDR=$ADDR
for img in mixed fifty; do
  sk copy --dest-tls-verify=false "oci:$W/img/$img:1" "docker://$ADDR/bench/$img:1" ||
    die "push of $img to the registry failed"
done
for img in mixed fifty; do
  note "pull $img x$RUNS"
  for r in $(seq "$RUNS"); do
    ref=$PULL_ADDR/bench/$img:1
    c0=$(cpu_ms "$BERTHD_PID")
    t0=$(ms_now)
    berth pull -q "$ref" >>"$W/logs/berth.log" 2>&1 || die "berth pull of $img failed: $(tail -n 3 "$W/logs/berth.log")"
    echo $(($(ms_now) - t0)) >>"$W/times/berth.pull.$img"
    echo $(($(cpu_ms "$BERTHD_PID") - c0)) >>"$W/times/berth.pull.$img.cpu"
    berth rmi -f "$(berth inspect -f '{{.Id}}' "$ref")" >>"$W/logs/berth.log" 2>&1
    [ -z "$(ls "$W/berth-root/content/blobs/sha256" 2>/dev/null)" ] || die "berth's store is not empty after rmi"
    rm -rf "$W/out"
    t0=$(ms_now)
    TIMEFORMAT='%3U %3S'
    { time sk copy --src-tls-verify=false "docker://$ref" "dir:$W/out"; } 2>"$W/cpu.last" ||
      die "skopeo pull of $img failed: $(tail -n 2 "$W/logs/skopeo.log")"
    echo $(($(ms_now) - t0)) >>"$W/times/skopeo.pull.$img"
    awk '{printf "%d\n", ($1 + $2) * 1000}' "$W/cpu.last" >>"$W/times/skopeo.pull.$img.cpu"
    rm -rf "$W/out"
  done
done
stop_registry
rm -rf "$W/reg-pull"

# --- pushes, each into a fresh registry root
for img in mixed fifty; do
  berth load -q -i "$W/img/$img.tar" >>"$W/logs/berth.log" 2>&1 || die "berth load of $img failed"
  note "push $img x$RUNS"
  for r in $(seq "$RUNS"); do
    start_registry "$W/reg-push"
    berth tag "bench/$img:1" "$ADDR/bench/$img:1"
    t0=$(ms_now)
    berth push -q "$ADDR/bench/$img:1" >>"$W/logs/berth.log" 2>&1 ||
      die "berth push of $img failed: $(tail -n 3 "$W/logs/berth.log")"
    echo $(($(ms_now) - t0)) >>"$W/times/berth.push.$img"
    berth rmi "$ADDR/bench/$img:1" >/dev/null 2>&1
    stop_registry
    rm -rf "$W/reg-push" "$W/reg-push.yml"
    start_registry "$W/reg-push"
    t0=$(ms_now)
    sk copy --dest-tls-verify=false "oci:$W/img/$img:1" "docker://$ADDR/bench/$img:1" ||
      die "skopeo push of $img failed: $(tail -n 2 "$W/logs/skopeo.log")"
    echo $(($(ms_now) - t0)) >>"$W/times/skopeo.push.$img"
    stop_registry
    rm -rf "$W/reg-push" "$W/reg-push.yml"
  done
done

declare -A RES
for f in "$W"/times/*; do
  RES[${f##*/}]=$(median <"$f")
done

# --- the report
mbs() { awk -v mb="$1" -v ms="$2" 'BEGIN {printf "%.0f", (ms > 0 ? mb * 1000 / ms : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN {print (r >= t ? "meets" : "misses")}'; }
echo
echo "host: $(uname -r), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg); work dir on $([ "$MOUNTED" = 1 ] && echo tmpfs || echo disk)"
echo "anchor: $(skopeo --version); registry: docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}')"
printf '%-30s %18s %18s %8s  %s\n' "median of $RUNS" berth skopeo ratio target
row() { # LABEL KEY TARGET [MB]
  local b=${RES[berth.$2]} s=${RES[skopeo.$2]} r bs ss
  r=$(ratio "$s" "$b")
  if [ -n "${4:-}" ]; then
    bs="$b ms $(mbs "$4" "$b") MB/s"
    ss="$s ms $(mbs "$4" "$s") MB/s"
  else
    bs="$b ms"
    ss="$s ms"
  fi
  printf '%-30s %18s %18s %7sx  %s (>= %sx)\n' "$1" "$bs" "$ss" "$r" "$(verdict "$r" "$3")" "$3"
}
row "pull mixed (${MB[mixed]} MB), +unpack" pull.mixed 1.25 "${MB[mixed]}"
row "pull fifty (50 layers), +unpack" pull.fifty 1.25
row "push mixed (${MB[mixed]} MB)" push.mixed 1.2 "${MB[mixed]}"
row "push fifty (50 layers)" push.fifty 1.2
# Whose CPU a pull is made of: berthd's (from /proc, in clock ticks of 10 ms) does the unpack
# too; skopeo's (user + sys) only downloads, hashes and writes the blobs. On two cores a pull
# cannot take less wall time than its CPU time over two.
echo
printf '%-30s %18s %18s\n' "CPU of one pull (median, ms)" berthd skopeo
for img in mixed fifty; do
  printf '%-30s %18s %18s\n' "pull $img" "${RES[berth.pull.$img.cpu]}" "${RES[skopeo.pull.$img.cpu]}"
done

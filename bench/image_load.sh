#!/usr/bin/env bash
# bench/image_load.sh - images, side by side in one run:
#   1. `load` of a ~200 MB docker-save archive of six layers (one 120 MB file of incompressible
#      bytes, 20000 small files, 50 text files, three tiny layers): berth (berthd) against
#      podman load and docker load (dockerd + containerd, when they can run here). Each run
#      loads into a store that does not have the image (the prepare step removes it), so the
#      whole path is measured: read, verify, store, unpack.
#   2. mounting the rootfs of a ready 10-layer image: berth's snapshot mount (what a container
#      start does, in process) against `podman image mount` (a command: its process start is
#      included, so that figure is an upper bound of podman's mount).
# Prints medians and ratios. Everything lives in a temp work dir: berthd, dockerd and
# containerd get their own roots and sockets there, podman its --root/--runroot; all are
# stopped by pid and the dir removed on exit, even on failure.
#
# Knobs: RUNS (default 5), MOUNT_RUNS (default 50), DOCKER=0 to skip docker, DISK=1 to
# keep the stores on the disk instead of a tmpfs (see below), BUILD (default build/release).
# Run as root.
set -euo pipefail
BENCH=image_load
RUNS=${RUNS:-5}
MOUNT_RUNS=${MOUNT_RUNS:-50}
DOCKER=${DOCKER:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build/release}
BERTHD=$BUILD/bin/berthd
BERTH_BIN=$BUILD/bin/berth
MOUNT_TOOL=$BUILD/bench/berth-bench-mount

note() { echo "# $*" >&2; }
die() {
  echo "$BENCH: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root"
for t in python3 hyperfine jq podman; do
  command -v "$t" >/dev/null || die "$t missing (bash scripts/install-deps.sh)"
done
for b in "$BERTHD" "$BERTH_BIN" "$MOUNT_TOOL"; do
  [ -x "$b" ] || die "$b missing (cmake --build $BUILD)"
done

W=$(mktemp -d /tmp/bil.XXXXXX) # short: podman refuses a runroot over 50 characters
# This machine's disk is a throttled virtual device (burst credits): timings on it swing 4x
# from one round to the next whatever runs. By default every store lives on a tmpfs, so the
# tools are compared, not the throttle; DISK=1 keeps them on the disk.
if [ "${DISK:-0}" != 1 ]; then
  mount -t tmpfs -o size=8g,mode=0700 bench-image-load "$W"
fi
PIDS=()
# podman keeps a blob-info cache in /var/lib/containers/cache even with --root; when this run
# is what creates /var/lib/containers, it goes again at the end.
VAR_LIB_CONTAINERS_BEFORE=0
[ -e /var/lib/containers ] && VAR_LIB_CONTAINERS_BEFORE=1
# ... and dockerd makes /run/docker/plugins whatever its --exec-root: the same rule.
RUN_DOCKER_BEFORE=0
[ -e /run/docker ] && RUN_DOCKER_BEFORE=1
P="podman --root $W/pm/root --runroot $W/pm/run --tmpdir $W/pm/tmp --storage-driver overlay --cgroup-manager cgroupfs --events-backend none"
B="$BERTH_BIN -H unix://$W/berth/berth.sock"
D=""

cleanup() {
  local rc=$? i m
  trap - EXIT INT TERM
  $P image umount -a >/dev/null 2>&1 || true
  $P rmi -af >/dev/null 2>&1 || true
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || continue
    for _ in $(seq 100); do
      kill -0 "${PIDS[i]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  for m in $(awk -v w="$W" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || note "could not unmount $m"
  done
  if [ -n "${NETTAG:-}" ]; then
    ip link del "$NETTAG-0" 2>/dev/null || true
    nft delete table inet "$NETTAG" 2>/dev/null || true
  fi
  rm -rf "$W" || note "could not remove $W"
  [ "$VAR_LIB_CONTAINERS_BEFORE" = 1 ] || rm -rf /var/lib/containers
  [ "$RUN_DOCKER_BEFORE" = 1 ] || rm -rf /run/docker
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.05
  done
}

median_s() { jq -r '.results[0].median' "$1"; }

note "making the test archives"
python3 "$top/bench/make_image.py" "$W/mixed.tar" bench/mixed:1 mixed
python3 "$top/bench/make_image.py" "$W/ten.tar" bench/ten:1 ten
size=$(stat -c %s "$W/mixed.tar")

# berthd's default bridge and nftables table under names of this run's own (never the
# installation's berth0 and `table inet berth`), removed by cleanup; it runs no container.
NETTAG="bil$((RANDOM % 100000))"
mkdir -p "$W/berth"
echo "{\"bridge\": \"$NETTAG-0\", \"nftables-table\": \"$NETTAG\", \"bridge-prefix\": \"$NETTAG-\", \"default-address-pools\": [{\"base\": \"198.18.0.0/15\", \"size\": 24}]}" >"$W/berth/daemon.json"
"$BERTHD" --root "$W/berth/root" --state "$W/berth/state" -H "unix://$W/berth/berth.sock" \
  --config-file "$W/berth/daemon.json" >"$W/berthd.log" 2>&1 &
PIDS+=($!)
wait_for 10 $B version || die "berthd did not start: $(tail -n 3 "$W/berthd.log")"

if [ "$DOCKER" = 1 ] && command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  mkdir -p "$W/docker"
  cat >"$W/docker/containerd.toml" <<TOML
version = 2
root = "$W/docker/containerd-root"
state = "$W/docker/containerd-state"
[grpc]
  address = "$W/docker/containerd.sock"
[ttrpc]
  address = "$W/docker/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$W/docker/containerd-opt"
TOML
  containerd --config "$W/docker/containerd.toml" >"$W/docker/containerd.log" 2>&1 &
  PIDS+=($!)
  if wait_for 30 test -S "$W/docker/containerd.sock"; then
    dockerd --containerd="$W/docker/containerd.sock" --data-root "$W/docker/data" \
      --exec-root "$W/docker/exec" --pidfile "$W/docker/dockerd.pid" \
      -H "unix://$W/docker/docker.sock" --iptables=false --bridge=none \
      >"$W/docker/dockerd.log" 2>&1 &
    PIDS+=($!)
    if wait_for 60 /usr/bin/docker -H "unix://$W/docker/docker.sock" version; then
      D="/usr/bin/docker -H unix://$W/docker/docker.sock"
    else
      note "dockerd did not start: $(tail -n 1 "$W/docker/dockerd.log"); docker left out"
    fi
  else
    note "containerd did not start; docker left out"
  fi
fi

# One load, timed in ms, after the image is removed and the disk is synced. The tools take
# turns run by run: this machine's disk has burst credits, and back-to-back runs of one tool
# would take them all.
load_ms() { # NAME REMOVE-COMMAND LOAD-COMMAND
  local t0 t1
  sh -c "$2" >/dev/null 2>&1 || true
  sync
  t0=$(date +%s%N)
  sh -c "$3" >/dev/null || die "$1 load failed"
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

note "load: $RUNS rounds of a $((size / 1000000)) MB archive, berth / podman${D:+ / docker} in turn"
berth_ms=() podman_ms=() docker_ms=()
for i in $(seq "$RUNS"); do
  berth_ms+=("$(load_ms berth "$B rmi -f bench/mixed:1" "$B load -q -i $W/mixed.tar")")
  podman_ms+=("$(load_ms podman "$P rmi -af" "$P load -q -i $W/mixed.tar")")
  if [ -n "$D" ]; then
    docker_ms+=("$(load_ms docker "$D rmi -f bench/mixed:1" "$D load -q -i $W/mixed.tar")")
  fi
  note "round $i: berth ${berth_ms[-1]} ms, podman ${podman_ms[-1]} ms${D:+, docker ${docker_ms[-1]} ms}"
done

note "rootfs mount of a 10-layer image"
$B load -q -i "$W/ten.tar" >/dev/null
$P load -q -i "$W/ten.tar" >/dev/null
mkdir -p "$W/mount"
berth_mount=$("$MOUNT_TOOL" "$W/berth/root" bench/ten:1 "$MOUNT_RUNS" "$W/mount")
hyperfine --runs "$MOUNT_RUNS" --style basic --export-json "$W/podman-mount.json" \
  --prepare "$P image umount -a >/dev/null 2>&1 || true" \
  "$P image mount localhost/bench/ten:1" >&2

bl=$(median "${berth_ms[@]}")
pl=$(median "${podman_ms[@]}")
echo
echo "image load, $((size / 1000000)) MB archive, 6 layers (median of $RUNS rounds):"
awk -v s="$size" -v b="$bl" -v p="$pl" 'BEGIN {
  printf "  berth load   %7d ms  %7.1f MB/s\n", b, s / b / 1e3
  printf "  podman load  %7d ms  %7.1f MB/s\n", p, s / p / 1e3
  printf "  berth throughput / podman: %.2fx\n", p / b }'
if [ -n "$D" ]; then
  dl=$(median "${docker_ms[@]}")
  awk -v s="$size" -v b="$bl" -v d="$dl" 'BEGIN {
    printf "  docker load  %7d ms  %7.1f MB/s\n", d, s / d / 1e3
    printf "  berth throughput / docker: %.2fx\n", d / b }'
fi
pm=$(median_s "$W/podman-mount.json")
echo "rootfs mount, 10 layers:"
echo "  berth (in process)           $berth_mount"
awk -v p="$pm" 'BEGIN { printf "  podman image mount (command) median_ms=%.1f\n", p * 1000 }'

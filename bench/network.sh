#!/usr/bin/env bash
# bench/network.sh - container networking (issue 7), side by side in one run, for berth,
# podman and docker:
#   1. the start latency bridge networking adds: `run --rm busybox true` on the default
#      bridge against `run --rm --network none busybox true` (hyperfine, with warmups); the
#      difference of the medians is the network setup (veth, addresses, rules, /etc files).
#   2. TCP throughput with iperf3 (Debian's), IPERF_SECS s each: container to container on a
#      user-defined bridge network, and host to a port published on 127.0.0.1.
# Prints each figure, the berth/anchor ratios and the issue's targets: network setup adds
# under 5 ms to a berth start and at most half of what it adds to docker's; published-port
# throughput at least docker's.
#
# iperf3 is not in busybox: the host's binary and the libraries ldd lists are copied into
# $W/iperf and bind-mounted read-only at /iperf in the containers, started through the copied
# dynamic loader (/iperf/ld-linux-x86-64.so.2 --library-path /iperf /iperf/iperf3): the same
# binary for every engine and the host, nothing added to the image. **Decision** (vs a static
# iperf3: Debian has none; vs binding the host's /lib: the busybox image has no /lib to bind
# onto and the engines would differ in how they create it).
#
# Usage (as root, after the release build):   bash bench/network.sh
#   RUNS=10 IPERF_SECS=3 bash bench/network.sh   # quicker
#   BERTH=0 bash bench/network.sh                # the anchors only
# Knobs (environment): BUILD (default build/release), IMAGE, RUNS=20 WARMUP=3, IPERF_SECS=5,
#   BERTH=1 PODMAN=1 DOCKER=1, DISK=1 (stores on the disk instead of a tmpfs), KEEP=DIR.
#
# Isolation and cleanup are container_run.sh's (its setup is reused here): a work dir on a
# tmpfs, every daemon and podman in a network namespace of their own with only loopback, so
# the bridges (berthd's, docker0 with dockerd's iptables rules, podman's), veths, rules and
# published ports all live in that namespace and go with it; traffic never leaves it (the
# "host" side of the published-port test is iperf3 in that namespace, to its 127.0.0.1).
# Cleanup on any exit: containers removed with each engine's CLI, daemons stopped by pid,
# leftovers in our namespace killed, cgroups removed, the work dir unmounted and removed.
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
IPERF_SECS=${IPERF_SECS:-5}
BERTH=${BERTH:-1}
PODMAN=${PODMAN:-1}
DOCKER=${DOCKER:-1}
KEEP=${KEEP:-}
DOCKER_BIN=/usr/bin/docker # /usr/local/bin/docker is a newer CLI that comes first in PATH

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "network.sh: no arguments; knobs are environment variables (see --help)" >&2
    exit 2
    ;;
esac

BENCH=network.sh
keep_files() { cp -r "$W/logs" "$W/out" "$KEEP"/ 2>/dev/null; }
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

need_root_and_tools hyperfine jq iperf3 unshare nsenter findmnt ip tar awk ldd
for v in RUNS IPERF_SECS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a count (got '${!v}')"
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a count"
BENCH_TAG=cnb
# shellcheck source=bench/engines.sh
. "$top/bench/engines.sh"
echo "versions: berth $(git -C "$top" rev-parse --short HEAD 2>/dev/null) ($BUILD); $(iperf3 --version | head -1); $(podman --version); $($DOCKER_BIN --version); $(containerd --version | awk '{print $1, $3}'); $(hyperfine --version)"
note "work dir $W ($(findmnt -n -o FSTYPE "$W" || echo disk)), tag $TAG"

# --- the network namespace and the engines: daemons up, image loaded ------------------------
make_netns
if [ "$BERTH" = 1 ]; then
  mkdir -p "$W/berth"
  echo '{"bridge": "bnb0", "nftables-table": "berthbench", "bridge-prefix": "bnb-"}' \
    >"$W/berth/daemon.json"
fi
start_berth --config-file "$W/berth/daemon.json"
start_docker
setup_podman
engines_up

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { # VALUE OP LIMIT: met or MISSED (OP one of < <= >=)
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == "<=") ? v <= l : (op == ">=") ? v >= l : v < l; print ok ? "met" : "MISSED"}'
}

# --- 1. start latency: bridge against none --------------------------------------------------
hyperfine_shell
declare -A MED=()
hf() { # NAME COMMAND: hyperfine of COMMAND under HFW; MED[NAME] = median ms
  local name=$1 cmd=$2 med lo hi n
  note "benchmarking $name: $cmd"
  if ! in_bg "$W/logs/$name.hf" "${HFW[@]}" hyperfine "${HF_SHELL[@]}" --style basic \
    --runs "$RUNS" --warmup "$WARMUP" --export-json "$W/out/$name.json" -n "$name" "$cmd"; then
    fail "$name" "hyperfine: $(last_line "$W/logs/$name.hf")"
    return 1
  fi
  read -r med lo hi n < <(jq -r '.results[0] | "\(.median * 1000) \(.min * 1000) \(.max * 1000) \(.times | length)"' \
    "$W/out/$name.json")
  MED[$name]=$med
  printf '%s: median %.1f ms (min %.1f, max %.1f; n=%d)\n' "$name" "$med" "$lo" "$hi" "$n"
}
declare -A EXTRA=()
for e in "${ENGINES[@]}"; do
  read -ra HFW <<<"${ENG_WRAP[$e]}"
  for mode in none bridge; do
    net=""
    [ "$mode" = none ] && net="--network none"
    cmd="${CLI[$e]} run --rm $net ${RUN_OPTS[$e]} busybox true"
    # shellcheck disable=SC2086 # RUN_OPTS holds flags
    if ! in_bg "$W/logs/$e.$mode.smoke" ${ENG_WRAP[$e]} $cmd; then
      fail "${e}_run_$mode" "smoke run: $(last_line "$W/logs/$e.$mode.smoke")"
      continue
    fi
    hf "${e}_run_$mode" "$cmd"
  done
  if [ -n "${MED[${e}_run_none]:-}" ] && [ -n "${MED[${e}_run_bridge]:-}" ]; then
    EXTRA[$e]=$(awk -v b="${MED[${e}_run_bridge]}" -v n="${MED[${e}_run_none]}" 'BEGIN {print b - n}')
    printf '%s_bridge_setup: %.1f ms (median bridge - median none)\n' "$e" "${EXTRA[$e]}"
  fi
done

# --- 2. iperf3 throughput -----------------------------------------------------------------
IP=$W/iperf
mkdir -p "$IP"
cp "$(command -v iperf3)" "$IP/iperf3"
ldd "$(command -v iperf3)" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
  [ -f "$lib" ] && cp -L "$lib" "$IP/"
done
chmod -R a+rX "$IP"
LOADER=$(basename "$(ldd "$(command -v iperf3)" | awk '/^\t\// {print $1}')")
IPERF="/iperf/$LOADER --library-path /iperf /iperf/iperf3"
declare -A C2C=() PUB=()
port=15201
gbps() { jq -r '.end.sum_received.bits_per_second / 1e9' "$1" 2>/dev/null; }
for e in "${ENGINES[@]}"; do
  port=$((port + 1))
  mount_opt="-v $IP:/iperf:ro"
  # shellcheck disable=SC2086
  if ! cli "$e" network create "bench-$e" >"$W/logs/$e.netcreate" 2>&1; then
    fail "${e}_iperf" "network create: $(last_line "$W/logs/$e.netcreate")"
    continue
  fi
  # shellcheck disable=SC2086
  if ! id=$(cli "$e" run -d --name "ips-$e" --network "bench-$e" -p "127.0.0.1:$port:5201" \
    $mount_opt ${RUN_OPTS[$e]} busybox $IPERF -s 2>"$W/logs/$e.ips"); then
    fail "${e}_iperf" "server: $(last_line "$W/logs/$e.ips")"
    continue
  fi
  [ "$e" = berth ] && BERTH_IDS+=("$id")
  sip=$(cli "$e" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "ips-$e")
  sleep 1
  # shellcheck disable=SC2086
  if cli "$e" run --rm --network "bench-$e" $mount_opt ${RUN_OPTS[$e]} busybox \
    $IPERF -c "$sip" -t "$IPERF_SECS" -J >"$W/out/$e.c2c.json" 2>"$W/logs/$e.c2c"; then
    C2C[$e]=$(gbps "$W/out/$e.c2c.json")
    printf '%s_iperf_container_to_container: %.2f Gbit/s\n' "$e" "${C2C[$e]}"
  else
    fail "${e}_iperf_c2c" "$(last_line "$W/logs/$e.c2c")"
  fi
  if nsenter --net="$NS" iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECS" -J \
    >"$W/out/$e.pub.json" 2>"$W/logs/$e.pub"; then
    PUB[$e]=$(gbps "$W/out/$e.pub.json")
    printf '%s_iperf_host_to_published_port: %.2f Gbit/s\n' "$e" "${PUB[$e]}"
  else
    fail "${e}_iperf_pub" "$(last_line "$W/out/$e.pub.json")"
  fi
  # shellcheck disable=SC2086
  cli "$e" ${RM_F[$e]} "ips-$e" >/dev/null 2>&1
  cli "$e" network rm "bench-$e" >/dev/null 2>&1
done
CPU_T2=$(cpu_ticks)

# --- summary ----------------------------------------------------------------------------------
echo "ratios (berth/anchor, one run):"
for a in podman docker; do
  [ -n "${EXTRA[berth]:-}" ] && [ -n "${EXTRA[$a]:-}" ] &&
    echo "  bridge setup added to a start: berth/$a $(ratio "${EXTRA[berth]}" "${EXTRA[$a]}")"
  [ -n "${C2C[berth]:-}" ] && [ -n "${C2C[$a]:-}" ] &&
    echo "  container to container: berth/$a $(ratio "${C2C[berth]}" "${C2C[$a]}")"
  [ -n "${PUB[berth]:-}" ] && [ -n "${PUB[$a]:-}" ] &&
    echo "  host to published port: berth/$a $(ratio "${PUB[berth]}" "${PUB[$a]}")"
done
echo "targets (issue 7):"
target() { # LABEL FIGURE-OR-EMPTY OP LIMIT-OR-EMPTY TEXT
  if [ -z "$2" ] || [ -z "$4" ]; then
    echo "  $1: $5: pending (not measured in this run)"
  else
    echo "  $1: $5: $(verdict "$2" "$3" "$4")"
  fi
}
f1() { [ -n "$1" ] && printf '%.1f' "$1" || echo '?'; }
target "network setup adds under 5 ms to a berth start" "${EXTRA[berth]:-}" "<" 5 \
  "berth $(f1 "${EXTRA[berth]:-}") ms"
dx=${EXTRA[docker]:-}
target "at most half of what it adds to docker's" "${EXTRA[berth]:-}" "<=" \
  "${dx:+$(awk -v d="$dx" 'BEGIN {print 0.5 * d}')}" \
  "berth $(f1 "${EXTRA[berth]:-}") ms vs 0.5 x docker $(f1 "$dx") ms"
target "published-port throughput at least docker's" "${PUB[berth]:-}" ">=" "${PUB[docker]:-}" \
  "berth $(f1 "${PUB[berth]:-}") vs docker $(f1 "${PUB[docker]:-}") Gbit/s"
echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $(busy_pct "$CPU_T1" "$CPU_T2")% of $(nproc) cpus, loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILS" = 0 ] || note "$FAILS part(s) failed"
[ "$FAILS" = 0 ]

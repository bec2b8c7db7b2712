# bench/engines.sh - sourced by container_run.sh, network.sh and build.sh after their knobs
# are read: checks the binaries, makes the work dir (bench/lib.sh's bench_setup, named after
# BENCH_TAG, on a tmpfs unless DISK=1) and installs the cleanup. Its functions then start the
# engines in isolation: make_netns (a network namespace with only loopback), start_berth
# (berthd), start_docker (containerd + dockerd), both in that namespace, setup_podman (podman
# with its own roots), each loading the image; engines_up lists those that came up. They set
# OK[engine], CLI[engine], ENG_WRAP, RUN_OPTS, RM_F and the daemons' pids.
# shellcheck shell=bash disable=SC2034 # its variables are the sourcing script's
[ -f "$IMAGE" ] || die "no image archive at $IMAGE (cmake --build $BUILD --target busybox_image, or set IMAGE)"
IMAGE=$(realpath "$IMAGE")
if [ "$BERTH" = 1 ]; then
  for b in "$BERTHD" "$BERTH_BIN" "$BERTH_SHIM"; do
    [ -x "$b" ] || die "$b missing (cmake --build $BUILD), or BERTH=0 for the anchors only"
  done
fi
if [ "$PODMAN" = 1 ]; then
  command -v podman >/dev/null || die "podman missing (bash scripts/install-deps.sh), or PODMAN=0"
fi
if [ "$DOCKER" = 1 ]; then
  for t in "$DOCKER_BIN" dockerd containerd; do
    command -v "$t" >/dev/null || die "$t missing (Debian's docker.io, containerd), or DOCKER=0"
  done
fi

# --- work dir (bench/lib.sh), on a tmpfs, and the state cleanup needs ----------------------
# Global paths the tools create whatever their flags (podman's blob-info cache in
# /var/lib/containers, dockerd's /run/docker/plugins, containerd's shim sockets in
# /run/containerd/s, podman's runc root /run/runc ...): removed at the end only if absent now.
# Each with the programs (their comm) that may be using it when someone else runs them.
declare -A GLOBALS=([/var/lib/containers]='podman|conmon|skopeo|buildah'
  [/run/libpod]='podman|conmon' [/run/netns]='podman|conmon|ip' [/run/runc]='podman|conmon|runc'
  [/run/docker]='dockerd' [/run/containerd]='containerd|containerd-shim')
declare -A GLOBAL_BEFORE=()
for g in "${!GLOBALS[@]}"; do [ -e "$g" ] && GLOBAL_BEFORE[$g]=1; done

bench_setup "$BENCH_TAG"
if [ "${DISK:-0}" != 1 ]; then
  mount -t tmpfs -o size=4g,mode=0711 "$BENCH_TAG" "$W" || die "mounting a tmpfs on $W failed"
  mkdir -p "$W/logs" "$W/state"
  mknod -m 666 "$W/null" c 1 3 || die "mknod of the /dev/null stand-in in $W failed"
fi
chmod 0711 "$W" # mktemp's 0700 would shut out a container's mapped root
mkdir -p "$W/out"
NS=$W/netns
NS_INODE=""
declare -A CLI=() ENG_WRAP=() RUN_OPTS=() RM_F=() OK=()
DAEMON_PIDS=() # berthd, containerd, dockerd: stopped after the containers are removed
BERTH_IDS=() # berth's container ids seen, to find their cgroups if berth leaves them
FAILS=0

# cli_argv ENGINE: ARGV, the engine's CLI through its wrapper (the netns for podman)
cli_argv() {
  local w c
  read -ra w <<<"${ENG_WRAP[$1]}"
  read -ra c <<<"${CLI[$1]}"
  ARGV=("${w[@]}" "${c[@]}")
}
cli() { # ENGINE ARGS...: run the engine's CLI
  cli_argv "$1"
  shift
  "${ARGV[@]}" "$@"
}

# in_our_netns COMM: live processes in our network namespace named COMM (any, if "")
in_our_netns() {
  local d
  [ -n "$NS_INODE" ] || return 0
  for d in /proc/[0-9]*; do
    [ "$(stat -L -c %i "$d/ns/net" 2>/dev/null)" = "$NS_INODE" ] || continue
    alive "${d#/proc/}" || continue
    [ -z "$1" ] || [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] || continue
    echo "${d#/proc/}"
  done
}

# supervisors COMM: our live processes named COMM: in our network namespace (the daemons'
# children are), or with our work dir on their command line
supervisors() {
  local d
  {
    in_our_netns "$1"
    for d in /proc/[0-9]*; do
      [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] || continue
      tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF "$W/" || continue
      alive "${d#/proc/}" && echo "${d#/proc/}"
    done
  } | sort -un
}

# remove_cgroup_tree DIR: kill what is in DIR and below (ours), then remove it deepest first
remove_cgroup_tree() {
  local d pid i
  while read -r d; do
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done 2>/dev/null <"$d/cgroup.procs"
    for ((i = 0; i < 20; i++)); do
      rmdir "$d" 2>/dev/null && break
      [ -d "$d" ] || break
      sleep 0.05
    done
  done < <(find "$1" -depth -type d 2>/dev/null)
}

users_of() { # REGEX: the names of live processes whose comm matches REGEX
  local d c
  for d in /proc/[0-9]*; do
    c=$(cat "$d/comm" 2>/dev/null) || continue
    [[ "$c" =~ ^($1)$ ]] && alive "${d#/proc/}" && echo "$c"
  done | sort -u | paste -sd ' '
}

engines_cleanup() {
  local rc=$? e ids pid d id g others pass rmf i
  set +e
  trap - EXIT INT TERM
  note "cleaning up"
  # What runs now (a batch, a hyperfine), by pid; a CLI call it had under way may still
  # make a container, so give that a moment.
  if [ ${#PIDS[@]} -gt 0 ]; then
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    sleep 2
  fi
  # Containers, while their daemons run: all in one call, then one by one what is left.
  for e in docker podman berth; do
    [ -n "${CLI[$e]:-}" ] || continue
    cli_argv "$e"
    read -ra rmf <<<"${RM_F[$e]}"
    for pass in all one; do
      mapfile -t ids < <(timeout 30 "${ARGV[@]}" ps -aq 2>/dev/null)
      [ ${#ids[@]} -gt 0 ] || break
      [ "$e" = berth ] && BERTH_IDS+=("${ids[@]}")
      if [ "$pass" = all ]; then
        timeout 120 "${ARGV[@]}" "${rmf[@]}" "${ids[@]}" >/dev/null 2>&1
      else
        for id in "${ids[@]}"; do
          timeout 30 "${ARGV[@]}" "${rmf[@]}" "$id" >/dev/null 2>&1 || note "$e: could not remove container $id"
        done
      fi
    done
    [ "$e" = podman ] && timeout 60 "${ARGV[@]}" rmi -af >/dev/null 2>&1
  done
  # What the sourcing script runs besides these engines (build.sh: buildah's containers and
  # images), when it defines cleanup_more.
  declare -F cleanup_more >/dev/null && cleanup_more
  # Daemons, last started first (dockerd before containerd), by pid.
  for ((i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${DAEMON_PIDS[i]}"; done
  DAEMON_PIDS=()
  # Anything still in our network namespace was started by this run (shims, conmon).
  for pid in $(in_our_netns ""); do
    note "leftover process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) in our netns: killing"
    kill -KILL "$pid" 2>/dev/null
  done
  for ((i = 0; i < 50; i++)); do
    [ -z "$(in_our_netns "")" ] && break
    sleep 0.1
  done
  # Cgroups under our parents (docker's, podman's, buildah's, with the children they made), and
  # any named after a berth container id.
  for d in /sys/fs/cgroup/*/"$TAG-docker" /sys/fs/cgroup/*/"$TAG-podman" \
    /sys/fs/cgroup/*/"$TAG-buildah"; do
    [ -d "$d" ] && remove_cgroup_tree "$d"
  done
  for id in "${BERTH_IDS[@]}"; do
    [ ${#id} -ge 12 ] || continue
    while read -r d; do
      note "removing berth's leftover cgroup $d"
      remove_cgroup_tree "$d"
    done < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "*${id:0:12}*" 2>/dev/null)
  done
  # Global paths this run made, unless a program that uses them runs now (someone else's:
  # ours are stopped).
  for g in "${!GLOBALS[@]}"; do
    if [ -n "${GLOBAL_BEFORE[$g]:-}" ] || [ ! -e "$g" ]; then continue; fi
    others=$(users_of "${GLOBALS[$g]}")
    if [ -n "$others" ]; then
      note "leaving $g (made during this run): in use by a running $others"
    else
      rm -rf "$g" 2>/dev/null || note "could not remove $g"
    fi
  done
  # KEEP now: lib.sh's cleanup unmounts the tmpfs before it would copy.
  if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" && keep_files
    KEEP=""
  fi
  (exit "$rc")
  cleanup # bench/lib.sh: crun's leftovers, our cgroups, unmounts, the work dir, leftover check
}
trap engines_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { # PART WHY: a part that could not be measured
  echo "$1: FAILED: $2"
  FAILS=$((FAILS + 1))
}

# start_daemon VAR LOG COMMAND...: COMMAND in our netns, in a session of its own (a Ctrl-C
# reaches the script, which stops it in order), its pid in DAEMON_PIDS and VAR
start_daemon() {
  local var=$1 log=$2
  shift 2
  nsenter --net="$NS" setsid "$@" >"$log" 2>&1 </dev/null &
  DAEMON_PIDS+=("$!")
  printf -v "$var" '%s' "$!"
}

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.05
  done
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# cpu_of PID...: user + system ticks of the processes (all their threads), those gone as 0
cpu_of() {
  local p t=0 v
  for p in "$@"; do
    v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}')
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null; }
# last_line FILE: its last two non-empty lines, on one line (a CLI's error, then its hint)
last_line() { grep -v '^\s*$' "$1" 2>/dev/null | tail -n 2 | paste -sd '|' | sed 's/|/ | /g'; }

# --- starting the engines ------------------------------------------------------------------
# make_netns: the network namespace $NS (a file in the work dir) with only loopback, up
make_netns() {
  touch "$NS" || die "touch $NS failed"
  unshare --net="$NS" true || die "cannot create a network namespace"
  NS_INODE=$(stat -L -c %i "$NS")
  nsenter --net="$NS" ip link set lo up || die "cannot bring up lo in the netns"
}

# start_berth [BERTHD-ARG...]: when BERTH=1, a berthd of its own (root, state and socket in
# $W/berth) in our netns, the image loaded with the berth CLI; OK[berth] when that worked.
# shellcheck disable=SC2120 # its arguments are optional
start_berth() {
  [ "$BERTH" = 1 ] || return 0
  mkdir -p "$W/berth"
  CLI[berth]="$BERTH_BIN -H unix://$W/berth/berth.sock"
  ENG_WRAP[berth]=""
  RUN_OPTS[berth]=""
  RM_F[berth]="rm -f"
  start_daemon BERTHD_PID "$W/logs/berthd.log" "$BERTHD" --root "$W/berth/root" \
    --state "$W/berth/state" -H "unix://$W/berth/berth.sock" "$@"
  if ! wait_for 20 cli berth version; then
    fail berth "berthd did not start: $(last_line "$W/logs/berthd.log")"
  elif ! cli berth load -q -i "$IMAGE" >"$W/logs/berth-load.log" 2>&1; then
    fail berth "berth load: $(last_line "$W/logs/berth-load.log")"
  else
    OK[berth]=1
  fi
}

# start_docker [DOCKERD-ARG...]: when DOCKER=1, containerd and dockerd of their own (every
# root, state dir, socket and pidfile in $W/docker) in our netns, their containers under the
# cgroup parent $TAG-docker, the image loaded; OK[docker] when that worked.
# shellcheck disable=SC2120 # its arguments are optional
start_docker() {
  [ "$DOCKER" = 1 ] || return 0
  D=$W/docker
  mkdir -p "$D"
  # Debian's /etc/containerd/config.toml (the CRI plugin on), every path moved into $D.
  cat >"$D/containerd.toml" <<EOF
version = 2
root = "$D/containerd-root"
state = "$D/containerd-state"
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "$D/containerd-opt"
EOF
  CLI[docker]="$DOCKER_BIN -H unix://$D/docker.sock"
  ENG_WRAP[docker]=""
  RUN_OPTS[docker]=""
  RM_F[docker]="rm -f"
  start_daemon CONTAINERD_PID "$W/logs/containerd.log" containerd --config "$D/containerd.toml"
  if ! wait_for 30 test -S "$D/containerd.sock"; then
    fail docker "containerd did not start: $(last_line "$W/logs/containerd.log")"
    return 0
  fi
  start_daemon DOCKERD_PID "$W/logs/dockerd.log" dockerd --containerd="$D/containerd.sock" \
    --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
    -H "unix://$D/docker.sock" "$@" --cgroup-parent "/$TAG-docker"
  if ! wait_for 60 cli docker version; then
    fail docker "dockerd did not start: $(last_line "$W/logs/dockerd.log")"
  elif ! cli docker load -q -i "$IMAGE" >"$W/logs/docker-load.log" 2>&1; then
    fail docker "docker load: $(last_line "$W/logs/docker-load.log")"
  else
    OK[docker]=1
  fi
}

# setup_podman: when PODMAN=1, podman with its own roots in $W/pm, run in our netns, its
# containers under the cgroup parent $TAG-podman, the image loaded; OK[podman] when it worked.
setup_podman() {
  [ "$PODMAN" = 1 ] || return 0
  local nofile nproc
  P=$W/pm
  CLI[podman]="podman --root $P/root --runroot $P/run --tmpdir $P/tmp --network-config-dir $P/net --storage-driver overlay --cgroup-manager cgroupfs --events-backend none"
  # podman in our netns, so its conmons are there too. Its runtime is runc: podman's crun
  # needs cgroup2 hidden in a private mount namespace on this host, and the container's
  # rootfs mount would then live in a namespace the next `podman rm` does not see.
  ENG_WRAP[podman]="nsenter --net=$NS"
  # root here cannot raise RLIMIT_NOFILE past its hard limit, podman caps nproc at 32768
  # (../shared/ANCHORS.md): podman's defaults for root fail without these.
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  RUN_OPTS[podman]="--runtime runc --ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc --cgroup-parent /$TAG-podman"
  # `podman rm -f` waits 10 s for `sleep` (pid 1 ignores SIGTERM); -t 0 kills at once, as
  # `docker rm -f` does.
  RM_F[podman]="rm -f -t 0"
  if ! cli podman load -q -i "$IMAGE" >"$W/logs/podman-load.log" 2>&1; then
    fail podman "podman load: $(last_line "$W/logs/podman-load.log")"
  else
    OK[podman]=1
  fi
}

# engines_up: ENGINES, the engines that came up, in the order berth podman docker
engines_up() {
  local e
  ENGINES=()
  for e in berth podman docker; do [ -n "${OK[$e]:-}" ] && ENGINES+=("$e"); done
  return 0
}

busy_before_run
host_line

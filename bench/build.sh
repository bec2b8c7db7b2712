#!/usr/bin/env bash
# bench/build.sh - image builds (issue 8), side by side in one run on the same context: a cold
# build and a fully cached rebuild of one multi-stage Dockerfile with
#   * berth: `berth build` against a berthd of its own (BERTH_CLI=docker: the docker 20.10 CLI
#     instead, /usr/bin/docker, which picks the classic builder against berthd's
#     Builder-Version 1);
#   * docker: the same CLI with DOCKER_BUILDKIT=0 against Debian's dockerd + containerd;
#   * buildah: `buildah bud --layers` (runc, oci isolation, its own storage).
# The context is made in the work dir (deterministic): FILES small files (100 B - 4 KB) in
# nested directories, BIG files of BIG_MB MB of random bytes, a few app files, a
# .dockerignore. The Dockerfile: a "builder" stage that COPYs the tree and the big files and
# RUNs find/sort/md5sum/tar over them (busybox only; it checks the file count), and a final
# stage that COPY --from the builder's output and COPYs context files, then one RUN. The only
# base image is the busybox image of the build ($BUILD/busybox-image.tar), loaded into each
# engine; nothing is pulled (buildah: --pull=never) and every build runs with --network none.
#
# Each of RUNS rounds, for each engine in turn (the order rotates round by round): the
# engine's store is reset to the busybox image alone (the result, the intermediate images and
# the build cache removed; untimed), then a cold build (nothing cached) and at once the same
# build again, which must be fully cached: it must give the same image ID as the cold one
# (and the cold one must not use the cache). Both are timed from the CLI's start to its exit.
# Prints the medians, the ratios berth/anchor and the issue's targets:
#   cold build no slower than the fastest anchor's; cached rebuild under 0.3x berth's own cold
#   build and at most half the fastest anchor's cached rebuild.
# Then where the time goes: every line the CLIs print is time-stamped, and the median time
# from one step's line to the next is printed per step and engine (a RUN step's row includes
# its commit), with three more rows: the CLI's start to its "Sending build context" line
# (printed once the daemon has taken the context; buildah has none), from there to the first
# step (what the daemon does with the context first), and the CLI's last line to its exit.
#
# Usage (as root, after the release build):   bash bench/build.sh
#   RUNS=3 bash bench/build.sh                  # quicker
#   BERTH=0 bash bench/build.sh                 # the anchors only
#   cmake --build build/release --target bench-build   # builds what it needs, then runs it
# Always under the benches' lock on a shared machine:  flock /tmp/berth-bench.lock bash bench/build.sh
# Progress and notes go to stderr. Exit status: 0 when every engine built every time as
# expected, 1 when one failed (the others still run) or something was left behind.
#
# Knobs (environment):
#   BUILD          build dir (default build/release): berthd, berth, berth-shim, busybox-image.tar
#   IMAGE          the busybox image archive (default $BUILD/busybox-image.tar)
#   RUNS=5         rounds (cold build + cached rebuild per engine per round)
#   FILES=3000     small files in the context's tree
#   BIG=4 BIG_MB=8 larger files in the context, and the size of each
#   BERTH=1 DOCKER=1 BUILDAH=1   0 leaves that engine out
#   BERTH_CLI=berth              berth's builds through `berth build`, or docker (the 20.10 CLI)
#   BUILDAH_DRIVER=overlay       buildah's storage driver (vfs works too, slower)
#   BUILDAH_ISOLATION=oci        oci (runc) or chroot
#   DISK=1         keep the stores on the disk instead of a tmpfs
#   KEEP=DIR       keep the build logs (time-stamped), per-run times and daemon logs there
#
# Isolation (bench/engines.sh, as container_run.sh): a work dir /tmp/bdb.XXXXXX on a tmpfs;
# berthd, containerd and dockerd with their own roots, state dirs, sockets and pidfiles there,
# in a network namespace of their own with only loopback (dockerd with --bridge=none
# --iptables=false --ip-masq=false, its containers under the cgroup parent bdb-PID-docker);
# buildah with its own --root/--runroot, TMPDIR and containers.conf (cgroupfs, file events)
# there, run in the same namespace, its RUN containers under bdb-PID-buildah; the docker CLI
# with its own DOCKER_CONFIG. Cleanup on any exit (also Ctrl-C): the build under way is
# stopped by pid, containers removed with each engine's CLI, buildah's containers and images
# removed, the daemons stopped by pid, whatever is left in our namespace killed by pid, our
# cgroups removed, everything mounted under the work dir unmounted and the dir removed;
# /var/lib/containers, /run/runc, /run/docker, /run/containerd only if this run made them and
# no one else's buildah/podman/dockerd/containerd runs now. Then bench/lib.sh's leftover check.
set -uo pipefail
# shellcheck disable=SC2317 # functions below are reached through the EXIT trap

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build/release}
BERTHD=$BUILD/bin/berthd
BERTH_BIN=$BUILD/bin/berth
BERTH_SHIM=$BUILD/bin/berth-shim
IMAGE=${IMAGE:-$BUILD/busybox-image.tar}
RUNS=${RUNS:-5}
FILES=${FILES:-3000}
BIG=${BIG:-4}
BIG_MB=${BIG_MB:-8}
BERTH=${BERTH:-1}
DOCKER=${DOCKER:-1}
BUILDAH=${BUILDAH:-1}
BERTH_CLI=${BERTH_CLI:-berth} # or docker: the docker 20.10 CLI drives berthd's builds too
PODMAN=0 # engines.sh's; buildah is this script's own
BUILDAH_DRIVER=${BUILDAH_DRIVER:-overlay}
BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-oci}
KEEP=${KEEP:-}
DOCKER_BIN=/usr/bin/docker # the 20.10 CLI: /usr/local/bin/docker (28.2) comes first in PATH

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "build.sh: no arguments; knobs are environment variables (see --help)" >&2
    exit 2
    ;;
esac

BENCH=build.sh
keep_files() { cp -r "$W/logs" "$W/out" "$KEEP"/ 2>/dev/null; }
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

need_root_and_tools jq python3 unshare nsenter findmnt ip tar awk
for v in RUNS FILES BIG_MB; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a count (got '${!v}')"
done
[[ "$BIG" =~ ^[0-9]+$ ]] || die "BIG must be a count"
[[ "$BUILDAH_ISOLATION" =~ ^(oci|chroot)$ ]] || die "BUILDAH_ISOLATION must be oci or chroot"
if [ "$BUILDAH" = 1 ]; then
  command -v buildah >/dev/null || die "buildah missing (bash scripts/install-deps.sh), or BUILDAH=0"
  [ "$BUILDAH_ISOLATION" = chroot ] || command -v runc >/dev/null ||
    die "runc missing (buildah runs its RUN steps with it), or BUILDAH_ISOLATION=chroot"
fi
[ -x "$DOCKER_BIN" ] || die "$DOCKER_BIN missing (Debian's docker.io): berth is driven by it too"
BENCH_TAG=bdb
# shellcheck source=bench/engines.sh
. "$top/bench/engines.sh"
echo "versions: berth $(git -C "$top" rev-parse --short HEAD 2>/dev/null) ($BUILD), built with ${BERTH_CLI} build; $($DOCKER_BIN --version); $(dockerd --version); $(containerd --version | awk '{print $1, $3}'); $(buildah --version 2>/dev/null | awk '{print $1, $3}') ($BUILDAH_DRIVER, $BUILDAH_ISOLATION isolation, $(runc --version 2>/dev/null | head -1))"
note "work dir $W ($(findmnt -n -o FSTYPE "$W" || echo disk)), tag $TAG"

# --- the context ---------------------------------------------------------------------------
CTX=$W/ctx
note "making the context: $FILES small files, $BIG x $BIG_MB MB"
python3 - "$CTX" "$FILES" "$BIG" "$BIG_MB" <<'EOF' || die "making the context failed"
import os, random, sys
ctx, files, big, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(8)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
         for _ in range(500)]
for i in range(files):  # tree/dAA/dB/fNNNN.txt: 30 top directories of 10 each
    d = os.path.join(ctx, "tree", "d%02d" % (i % 30), "d%d" % (i // 30 % 10))
    os.makedirs(d, exist_ok=True)
    size = rng.randint(100, 4096)
    text = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
    with open(os.path.join(d, "f%04d.txt" % i), "wb") as f:
        f.write(text + b"\n")
    if i % 500 == 0:  # left out by .dockerignore
        with open(os.path.join(d, "scratch%04d.tmp" % i), "wb") as f:
            f.write(b"not sent\n")
os.makedirs(os.path.join(ctx, "big"), exist_ok=True)
for i in range(big):
    with open(os.path.join(ctx, "big", "big%d" % i), "wb") as f:
        f.write(rng.randbytes(big_mb << 20))
os.makedirs(os.path.join(ctx, "app", "conf"), exist_ok=True)
for i in range(20):
    with open(os.path.join(ctx, "app", "conf", "c%02d.conf" % i), "w") as f:
        f.write("key%d = %d\n" % (i, rng.randint(0, 1 << 30)))
with open(os.path.join(ctx, "app", "run.sh"), "w") as f:
    f.write("#!/bin/sh\ncat /app/sum\n")
os.chmod(os.path.join(ctx, "app", "run.sh"), 0o755)
with open(os.path.join(ctx, ".dockerignore"), "w") as f:
    f.write("**/*.tmp\n")
EOF
first_big=""
[ "$BIG" -gt 0 ] && first_big="COPY big/big0 /app/data/big0"
cat >"$CTX/Dockerfile" <<EOF
FROM busybox AS builder
WORKDIR /src
COPY tree /src/tree
COPY big /src/big
RUN mkdir -p /out && find tree -type f | sort > /out/tree.list && test "\$(wc -l < /out/tree.list)" -eq $FILES
RUN find tree -type f -exec md5sum {} + | sort -k 2 > /out/tree.md5 && (md5sum big/* 2>/dev/null || true) > /out/big.md5
RUN tar -cf /out/tree.tar tree && find /src -type d | wc -l > /out/dirs
RUN cat /out/tree.md5 /out/big.md5 | md5sum > /out/sum

FROM busybox
COPY --from=builder /out /opt/out
COPY app /app
${first_big:-COPY app/run.sh /app/data/run.sh}
ENV SUM=/opt/out/sum
RUN test -s /opt/out/tree.tar && cp "\$SUM" /app/sum && ls -R /app > /app/listing
CMD ["/app/run.sh"]
EOF
STEPS=$(grep -cE '^[A-Z]' "$CTX/Dockerfile")
echo "context: $FILES files in $(find "$CTX/tree" -type d | wc -l) directories + $BIG x $BIG_MB MB + $(find "$CTX/app" -type f | wc -l) app files, $(du -sm "$CTX" | cut -f1) MB; Dockerfile: 2 stages, $STEPS steps"

# --- the engines -----------------------------------------------------------------------------
make_netns
start_berth
start_docker --bridge=none --iptables=false --ip-masq=false
engines_up
mkdir -p "$W/dockercfg"
echo '{}' >"$W/dockercfg/config.json"
declare -A BUILD_CMD=()
# The docker CLI builds for docker (the classic builder, its own config dir); berth's own CLI
# for berth unless BERTH_CLI=docker.
for e in "${ENGINES[@]}"; do
  if [ "$e" = berth ] && [ "$BERTH_CLI" = berth ]; then
    BUILD_CMD[$e]="${CLI[$e]} build --network none"
  else
    BUILD_CMD[$e]="env DOCKER_BUILDKIT=0 DOCKER_CONFIG=$W/dockercfg ${CLI[$e]/$BERTH_BIN/$DOCKER_BIN} build --network none"
  fi
done
if [ "$BUILDAH" = 1 ]; then
  B=$W/bh
  mkdir -p "$B/tmp"
  # cgroupfs (no systemd here), events to a file; everything else as Debian ships it.
  printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s"\n' \
    "$B/events.log" >"$B/containers.conf"
  CLI[buildah]="env CONTAINERS_CONF=$B/containers.conf TMPDIR=$B/tmp buildah --root $B/root --runroot $B/run --storage-driver $BUILDAH_DRIVER"
  ENG_WRAP[buildah]="nsenter --net=$NS"
  # root here cannot raise RLIMIT_NOFILE past its hard limit (../shared/ANCHORS.md).
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  BUILD_CMD[buildah]="${CLI[buildah]} bud --layers --pull=never --format docker --network none --isolation $BUILDAH_ISOLATION --runtime runc --ulimit nofile=$nofile:$nofile --ulimit nproc=$nproc:$nproc --cgroup-parent /$TAG-buildah"
  if ! cli buildah pull -q "docker-archive:$IMAGE" >"$W/logs/buildah-load.log" 2>&1; then
    fail buildah "buildah pull docker-archive: $(last_line "$W/logs/buildah-load.log")"
  else
    OK[buildah]=1
    ENGINES+=(buildah)
  fi
fi
# cleanup_more (called by engines.sh's cleanup): buildah's containers and images
cleanup_more() {
  [ -n "${CLI[buildah]:-}" ] || return 0
  cli_argv buildah
  timeout 60 "${ARGV[@]}" rm -a >/dev/null 2>&1
  timeout 60 "${ARGV[@]}" rmi -af >/dev/null 2>&1
}
[ ${#ENGINES[@]} -gt 0 ] || die "no engine came up"
declare -A BASE_IDS=() # the images of each store with the base image alone

# image_ids ENGINE: the IDs of every image in the engine's store (intermediate ones too)
image_ids() { cli "$1" images -aq 2>/dev/null | sort -u; }
# reset_store ENGINE: the engine's store back to the base image alone (untimed): the result,
# then every image that was not there at the start (a failed build's too), a few passes since
# an image with children goes only after them; then berthd's build cache (it records step
# images under their keys until `builder prune -a`; dockerd's classic builder and buildah keep
# nothing but the images).
reset_store() {
  local e=$1 i left id
  cli "$e" rmi -f bdb-out >/dev/null 2>&1
  for ((i = 0; i < 5; i++)); do
    left=()
    for id in $(image_ids "$e"); do
      [[ " ${BASE_IDS[$e]} " == *" $id "* ]] || left+=("$id")
    done
    [ ${#left[@]} -gt 0 ] || break
    cli "$e" rmi -f "${left[@]}" >/dev/null 2>&1
  done
  if [ "$e" = berth ]; then
    env DOCKER_CONFIG="$W/dockercfg" "$DOCKER_BIN" -H "unix://$W/berth/berth.sock" builder prune -af \
      >/dev/null 2>&1 || note "berth: builder prune failed"
  fi
  [ "$(image_ids "$e" | paste -sd ' ')" = "${BASE_IDS[$e]}" ] ||
    note "$e: $(image_ids "$e" | grep -c .) images left after the reset (the base alone is $(echo "${BASE_IDS[$e]}" | wc -w))"
}
for e in "${ENGINES[@]}"; do BASE_IDS[$e]=$(image_ids "$e" | paste -sd ' '); done

# stamp.sh TIMES LOG CMD...: CMD once, every line it prints (stdout and stderr) prefixed with
# the time it arrived; "start end" (s) of CMD to TIMES; CMD's exit status. A TERM or INT
# (our cleanup stopping it) is passed on to CMD.
cat >"$W/stamp.sh" <<'EOF'
#!/bin/bash
times=$1 log=$2
shift 2
t0=$EPOCHREALTIME
"$@" > >(while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$log") 2>&1 </dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; exit 143' TERM INT
wait "$pid"
rc=$?
t1=$EPOCHREALTIME
wait # the time-stamping reader, until CMD's last line is in LOG
echo "$t0 $t1" >"$times"
exit "$rc"
EOF

# --- the rounds ------------------------------------------------------------------------------
declare -A DEAD=() NOT_CACHED=()
ms_of() { awk '{printf "%.1f\n", ($2 - $1) * 1000}' "$1"; }
# one_build ENGINE MODE ROUND: one timed build; its time (ms) appended to out/ENGINE.MODE
one_build() {
  local e=$1 mode=$2 r=$3 o w b
  o=$W/out/$e.$mode.$r
  read -ra w <<<"${ENG_WRAP[$e]}"
  read -ra b <<<"${BUILD_CMD[$e]}"
  rm -f "$o.iid"
  if ! in_bg "$W/logs/$e.$mode.$r.run" "${w[@]}" bash "$W/stamp.sh" "$o.times" "$o.log" \
    "${b[@]}" --iidfile "$o.iid" -t bdb-out "$CTX"; then
    fail "${e}_$mode" "round $r: $(sed 's/^[0-9.]* //' "$o.log" 2>/dev/null | grep -v '^\s*$' | tail -n 2 | paste -sd '|')"
    DEAD[$e]=1
    return 1
  fi
  ms_of "$o.times" >>"$W/out/$e.$mode"
}
for ((r = 1; r <= RUNS; r++)); do
  n=${#ENGINES[@]}
  for ((k = 0; k < n; k++)); do
    e=${ENGINES[(k + r - 1) % n]}
    [ -z "${DEAD[$e]:-}" ] || continue
    reset_store "$e"
    note "round $r/$RUNS: $e cold build, then the cached rebuild"
    one_build "$e" cold "$r" || continue
    uc=$(grep -c 'Using cache' "$W/out/$e.cold.$r.log")
    [ "$uc" = 0 ] || fail "${e}_cold" "round $r: the cold build used the cache ($uc steps)"
    one_build "$e" cached "$r" || continue
    if [ "$(cat "$W/out/$e.cached.$r.iid")" != "$(cat "$W/out/$e.cold.$r.iid")" ]; then
      NOT_CACHED[$e]=1
      fail "${e}_cached" "round $r: not fully cached (another image ID; $(grep -c 'Using cache' "$W/out/$e.cached.$r.log") steps from the cache)"
    fi
  done
done
for e in "${ENGINES[@]}"; do reset_store "$e"; done
CPU_T2=$(cpu_ticks)

# --- figures ---------------------------------------------------------------------------------
declare -A MED=()
# stats FILE: "median min max n" of the numbers in FILE
stats() {
  sort -n "$1" | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR], NR}'
}
echo
for mode in cold cached; do
  for e in "${ENGINES[@]}"; do
    f=$W/out/$e.$mode
    [ -s "$f" ] || continue
    read -r med lo hi n < <(stats "$f")
    MED[$e.$mode]=$med
    printf '%s_%s_build: median %.0f ms (min %.0f, max %.0f; n=%d)%s\n' "$e" "$mode" "$med" "$lo" "$hi" "$n" \
      "$([ -n "${NOT_CACHED[$e]:-}" ] && [ "$mode" = cached ] && echo ' NOT FULLY CACHED')"
  done
done

# Where the time goes: per step, the median over the rounds of the time from that step's line
# to the next. Before the steps: from the CLI's start to its "Sending build context" line (the
# docker CLI prints it when the daemon has taken the whole context; buildah reads the directory
# itself and has no such line), then to the first step (what the daemon does with the context
# before it starts). After them: from the CLI's last line to its exit.
# steps LOG TIMES: "label<TAB>ms" per segment of one build ("" when it has no such segment)
steps() {
  awk -v times="$2" '
    BEGIN { getline t < times; split(t, tt, " "); last = tt[1]; sent = ""; n = 0 }
    {
      line = substr($0, index($0, " ") + 1)
      final = $1
      if (n == 0 && sent == "" && line ~ /Sending build context/) sent = $1
      # docker/berth: "Step 3/15 : COPY tree /src/tree"; buildah: "[1/2] STEP 3/8: COPY tree /src/tree"
      if (match(line, /Step [0-9]+\/[0-9]+ : /) || match(line, /STEP [0-9]+\/[0-9]+: /)) {
        if (n == 0) {
          printf "CLI start -> context sent\t%s\n", sent == "" ? "" : sprintf("%.1f", (sent - tt[1]) * 1000)
          printf "context sent -> first step\t%.1f\n", ($1 - (sent == "" ? tt[1] : sent)) * 1000
        } else {
          printf "%s\t%.1f\n", label, ($1 - last) * 1000
        }
        last = $1; n++
        label = sprintf("%2d %s", n, substr(line, RSTART + RLENGTH, 44))
      }
    }
    END {
      printf "%s\t%.1f\n", label, (final - last) * 1000
      printf "last line -> CLI exit\t%.1f\n", (tt[2] - final) * 1000
    }' "$1"
}
echo
echo "where the time goes (median ms over the rounds; a step runs to the next line that starts a step, the last to the last line):"
for mode in cold cached; do
  hdr=$(printf '  %-48s' "$mode")
  for e in "${ENGINES[@]}"; do hdr+=$(printf ' %9s' "$e"); done
  echo "$hdr"
  for e in "${ENGINES[@]}"; do
    for ((r = 1; r <= RUNS; r++)); do
      [ -s "$W/out/$e.$mode.$r.times" ] && steps "$W/out/$e.$mode.$r.log" "$W/out/$e.$mode.$r.times" |
        awk -F'\t' '{print NR "\t" $0}'
    done >"$W/out/$e.$mode.steps"
  done
  # rows: the labels of the first engine with steps; one column per engine
  ref=""
  for e in "${ENGINES[@]}"; do [ -s "$W/out/$e.$mode.steps" ] && ref=$e && break; done
  [ -n "$ref" ] || continue
  rows=$(awk -F'\t' '{print $1}' "$W/out/$ref.$mode.steps" | sort -n | uniq | tail -n 1)
  for ((i = 1; i <= rows; i++)); do
    label=$(awk -F'\t' -v i="$i" '$1 == i {print $2; exit}' "$W/out/$ref.$mode.steps")
    line=$(printf '  %-48s' "${label:0:48}")
    for e in "${ENGINES[@]}"; do
      v=$(awk -F'\t' -v i="$i" '$1 == i && $3 != "" {print $3}' "$W/out/$e.$mode.steps" 2>/dev/null | sort -n |
        awk '{v[NR] = $1} END {if (NR) printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
      line+=$(printf ' %9s' "${v:--}")
    done
    echo "$line"
  done
done

# --- ratios and targets ----------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {ok = (op == "<=") ? v <= l : v < l; print ok ? "met" : "MISSED"}'; }
f0() { [ -n "$1" ] && printf '%.0f' "$1" || echo '?'; }
echo
echo "summary (lower is better; a ratio is berth / anchor):"
for a in docker buildah; do
  for mode in cold cached; do
    [ -n "${MED[berth.$mode]:-}" ] && [ -n "${MED[$a.$mode]:-}" ] &&
      echo "  $mode build: berth/$a $(ratio "${MED[berth.$mode]}" "${MED[$a.$mode]}")"
  done
done
[ -n "${MED[berth.cold]:-}" ] && [ -n "${MED[berth.cached]:-}" ] &&
  echo "  berth cached / berth cold: $(ratio "${MED[berth.cached]}" "${MED[berth.cold]}")"
# fastest MODE: "ENGINE MS" of the fastest anchor in MODE ("" if none)
fastest() {
  local a best="" be=""
  for a in docker buildah; do
    v=${MED[$a.$1]:-}
    [ -n "$v" ] || continue
    if [ -z "$best" ] || awk -v x="$v" -v y="$best" 'BEGIN {exit !(x < y)}'; then
      best=$v be=$a
    fi
  done
  [ -n "$best" ] && echo "$be $best"
}
target() { # LABEL FIGURE-OR-EMPTY OP LIMIT-OR-EMPTY TEXT
  if [ -z "$2" ] || [ -z "$4" ]; then
    echo "  $1: $5: pending (not measured in this run)"
  else
    echo "  $1: $5: $(verdict "$2" "$3" "$4")"
  fi
}
echo "targets (issue 8):"
read -r fa_cold fm_cold < <(fastest cold) || true
read -r fa_cached fm_cached < <(fastest cached) || true
bc=${MED[berth.cold]:-} bk=${MED[berth.cached]:-}
[ -n "${NOT_CACHED[berth]:-}" ] && bk=""
target "cold build no slower than the fastest anchor" "$bc" "<=" "${fm_cold:-}" \
  "berth $(f0 "$bc") ms vs ${fa_cold:-?} $(f0 "${fm_cold:-}") ms"
target "cached rebuild under 0.3x berth's cold build" "$bk" "<" \
  "${bc:+$(awk -v c="$bc" 'BEGIN {print 0.3 * c}')}" \
  "berth $(f0 "$bk") ms vs 0.3 x $(f0 "$bc") ms"
target "cached rebuild at most half the fastest anchor's" "$bk" "<=" \
  "${fm_cached:+$(awk -v c="$fm_cached" 'BEGIN {print 0.5 * c}')}" \
  "berth $(f0 "$bk") ms vs 0.5 x ${fa_cached:-?} $(f0 "${fm_cached:-}") ms"
echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $(busy_pct "$CPU_T1" "$CPU_T2")% of $(nproc) cpus, loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILS" = 0 ] || note "$FAILS part(s) failed"
[ "$FAILS" = 0 ]

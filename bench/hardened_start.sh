#!/usr/bin/env bash
# bench/hardened_start.sh - start-to-exit latency of /bin/true with the full hardened config
# (user namespace, seccomp, cgroup limits) and with a bare bundle, under berth-runtime and
# crun, side by side in one run; prints means, ratios and the cost of the hardening.
#
# Usage (as root):   bash bench/hardened_start.sh            (after the release build)
#                    BERTH_RUNTIME=build/bench/bin/berth-runtime \
#                      ROOTFS=build/bench/busybox-rootfs ROUNDS=5 bash bench/hardened_start.sh
# Prints on stdout, e.g.:
#   berth-runtime bare: 5.3 ± 0.6 ms (median 5.2, min 4.7, max 8.1; n=60); cpu user+sys 3.9 ms
#   ...
#   ratio berth/crun, hardened: 0.48 (lower is better; target <= 1: met)
#   hardening cost berth-runtime: 2.1 ms (hardened - bare, means; ± 0.2 standard error; target < 5 ms: met)
#   host_cpu_busy_before_run: 3% of 2 cpus over 2 s (load that is not ours)
# Progress and notes go to stderr. Exit status: 0 on success (whether or not the targets are
# met), 1 when a runtime failed its smoke run or the run left something behind.
#
# Knobs (environment):
#   BERTH_RUNTIME  berth-runtime binary (default build/release/bin/berth-runtime)
#   ROOTFS         busybox root filesystem (default build/release/busybox-rootfs)
#   ROUNDS=3 RUNS=20 WARMUP=3   each round runs hyperfine once per configuration (RUNS runs
#                  after WARMUP); the configurations take turns, starting one further each
#                  round, so drift in the host's load spreads over all of them
#   NOCACHE=1      also time berth-runtime on the hardened bundle with its seccomp cache
#                  removed before every run (informational: crun has no such cache); 0 to skip
#   SECCOMP_PROFILE  a JSON file holding a linux.seccomp object, used only when
#                  `berth-runtime spec` prints no seccomp profile
#   KEEP=DIR       keep the bundles, the hyperfine JSON and the logs there
#
# The bundles. "hardened" is `berth-runtime spec` as printed (its user namespace, id-mapped
# root, default seccomp profile, cgroup limits, capabilities, masked paths), with args
# /bin/true, terminal false and root.path the absolute ROOTFS. Should the spec lack one of
# the three, the script adds it so the full hardened config is measured: a user namespace
# mapping 0 -> 100000 (65536 ids), the SECCOMP_PROFILE file (there is no built-in fallback:
# the script stops without one), a pids limit and a deny-all device list. "bare" is the same
# bundle without the user namespace and its mappings, the id-map annotation, seccomp and
# linux.resources: its namespaces, mounts, capabilities, no_new_privs and masked paths stay
# (runtime_start.sh's bare bundle; both runtimes still make a cgroup for it). The hardening
# cost is hardened minus bare, per runtime, from the means.
#
# What is measured: `run` (create, start, wait, delete) of one fixed id per configuration,
# each runtime with its own --root in the work dir, by hyperfine without a shell (-N): fork and
# exec of the runtime until it exits, back to back (the hot figures of runtime_start.sh; its
# "after rest" lines show what an idle host adds, mostly the RCU grace period of the first
# cgroup v1 attach). berth-runtime's --root lives across its runs, so its compiled seccomp
# filter is cached after the first run (as on any host that started a container before); the
# NOCACHE line shows a start that compiles it.
#
# Fairness, wrapper and cleanup: as in runtime_start.sh, through bench/lib.sh. Every command
# runs in a private mount namespace in which the cgroup2 tree is unmounted on this hybrid host
# (crun 1.8.1 refuses the hybrid layout) and /dev/null is a stand-in node; on any exit,
# leftover containers, cgroups (also the directories crun leaves under the hidden cgroup2 mount
# point), processes and the work dir are removed, and anything of ours still present is listed
# and fails the run.
set -euo pipefail
# shellcheck disable=SC2317 # functions below are reached through the EXIT trap

top=$(cd "$(dirname "$0")/.." && pwd)
BERTH_RUNTIME=${BERTH_RUNTIME:-$top/build/release/bin/berth-runtime}
ROOTFS=${ROOTFS:-$top/build/release/busybox-rootfs}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
NOCACHE=${NOCACHE:-1}
SECCOMP_PROFILE=${SECCOMP_PROFILE:-}
KEEP=${KEEP:-}

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  "") ;;
  *)
    echo "hardened_start.sh: no arguments; knobs are environment variables (see --help)" >&2
    exit 2
    ;;
esac

BENCH=hardened_start.sh
keep_files() { cp -r "$W/hardened" "$W/bare" "$W/logs" "$W"/hf-*.json "$KEEP"/ 2>/dev/null; }
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

need_root_and_tools hyperfine jq crun unshare findmnt
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ && "$RUNS" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ &&
  "$NOCACHE" =~ ^[01]$ ]] || die "ROUNDS and RUNS must be counts above 0, WARMUP a count, NOCACHE 0 or 1"
[ -x "$BERTH_RUNTIME" ] && [ -f "$BERTH_RUNTIME" ] ||
  die "no berth-runtime binary at $BERTH_RUNTIME (build first, or set BERTH_RUNTIME)"
[ -e "$ROOTFS/bin/true" ] || [ -L "$ROOTFS/bin/true" ] ||
  die "no busybox rootfs with /bin/true at $ROOTFS (build first, or set ROOTFS)"
[ -z "$SECCOMP_PROFILE" ] || jq -e 'type == "object" and has("defaultAction")' "$SECCOMP_PROFILE" >/dev/null ||
  die "SECCOMP_PROFILE=$SECCOMP_PROFILE is not a JSON linux.seccomp object"
BERTH_RUNTIME=$(realpath "$BERTH_RUNTIME")
ROOTFS=$(realpath "$ROOTFS")

bench_setup berthhard

# --- the bundles --------------------------------------------------------------------------
mkdir -p "$W/hardened" "$W/bare"
"$BERTH_RUNTIME" spec --bundle "$W/hardened" || die "berth-runtime spec failed"
cfg=$W/hardened/config.json
edit() { # JQ-PROGRAM [jq args...]: edit the hardened config.json in place
  local prog=$1
  shift
  jq "$@" "$prog" "$cfg" >"$W/config.json.new" || die "editing config.json failed: $prog"
  mv "$W/config.json.new" "$cfg"
}
edit '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $r' --arg r "$ROOTFS"
added=()
if ! jq -e '.linux.namespaces | any(.type == "user")' "$cfg" >/dev/null; then
  edit '.linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}]
    | .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
  added+=("user namespace 0 -> 100000 x65536")
fi
if ! jq -e '.linux.seccomp.defaultAction' "$cfg" >/dev/null; then
  [ -n "$SECCOMP_PROFILE" ] ||
    die "berth-runtime spec prints no seccomp profile: set SECCOMP_PROFILE to a linux.seccomp JSON file"
  edit '.linux.seccomp = $p[0]' --slurpfile p "$SECCOMP_PROFILE"
  added+=("seccomp from $SECCOMP_PROFILE")
fi
if ! jq -e '.linux.resources | type == "object" and length > 0' "$cfg" >/dev/null; then
  edit '.linux.resources = {devices: [{allow: false, access: "rwm"}], pids: {limit: 4096}}'
  added+=("resources: pids limit 4096, devices deny-all")
fi
# The bare bundle: the same without what hardening adds.
jq 'del(.linux.uidMappings, .linux.gidMappings, .linux.seccomp, .linux.resources, .annotations)
    | .linux.namespaces |= map(select(.type != "user"))' \
  "$cfg" >"$W/bare/config.json" || die "making the bare config.json failed"

describe() { # CONFIG: one line of what hardening it has
  jq -r '[
    ("namespaces " + ([.linux.namespaces[].type] | join(","))),
    (if .linux.uidMappings then "uid map " + (.linux.uidMappings | map("\(.containerID)->\(.hostID) x\(.size)") | join(" ")) else empty end),
    (if (.annotations // {})["org.berth.rootfs.idmap"] == "true" then "id-mapped root (berth only)" else empty end),
    (if .linux.seccomp then "seccomp \(.linux.seccomp.defaultAction) with \(.linux.seccomp.syscalls // [] | length) rules" else "no seccomp" end),
    (if .linux.resources then "resources " + (.linux.resources | keys | join(",")) else "no resources" end),
    ("no_new_privs \(.process.noNewPrivileges // false)")
  ] | join("; ")' "$1"
}

NAME_BB="berth-runtime bare"
NAME_BH="berth-runtime hardened"
NAME_CB="crun bare"
NAME_CH="crun hardened"
NAME_BN="berth-runtime hardened, no seccomp cache"
# ids and state dirs need names without blanks
declare -A ID=(["$NAME_BB"]=berth-bare ["$NAME_BH"]=berth-hardened ["$NAME_CB"]=crun-bare
  ["$NAME_CH"]=crun-hardened ["$NAME_BN"]=berth-nocache)
CRUN=$(command -v crun)
add_runtime berth-bare "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/bare"
add_runtime berth-hardened "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/hardened"
add_runtime crun-bare "$CRUN" "$CG2_HYBRID" "$W/bare"
add_runtime crun-hardened "$CRUN" "$CG2_HYBRID" "$W/hardened"
LABELS=("$NAME_BB" "$NAME_BH" "$NAME_CB" "$NAME_CH")
if [ "$NOCACHE" = 1 ]; then
  add_runtime berth-nocache "$BERTH_RUNTIME" "$CG2_HYBRID" "$W/hardened"
  LABELS+=("$NAME_BN")
fi

busy_before_run
host_line
echo "versions: $("$BERTH_RUNTIME" --version | head -1) ($BERTH_RUNTIME); $(crun --version | head -1); $(hyperfine --version)"
added_text=""
[ ${#added[@]} -eq 0 ] || added_text=$(printf '%s; ' "${added[@]}")
echo "hardened bundle: $(describe "$cfg")${added_text:+ [added by this script: ${added_text%; }]}"
echo "bare bundle: $(describe "$W/bare/config.json")"
note "work dir $W, container ids $TAG-*"

# --- smoke runs: each command works, and `run` leaves no state and no cgroup -------------
smoke_runs

# --- latency, in rounds --------------------------------------------------------------------
hyperfine_shell
n=${#LABELS[@]}
for ((round = 0; round < ROUNDS; round++)); do
  for ((k = 0; k < n; k++)); do
    label=${LABELS[$(((round + k) % n))]}
    name=${ID[$label]}
    run_argv "$name"
    cmd=$(printf '%q ' "${RUN_ARGV[@]}")
    prepare=()
    [ "$name" = berth-nocache ] && prepare=(--prepare "rm -rf $W/state/$name/.seccomp-cache")
    note "round $((round + 1))/$ROUNDS: $label ($RUNS runs, $WARMUP warmup)"
    if ! in_bg "$W/logs/$name.hf" "${WRAP_ARGV[@]}" hyperfine "${HF_SHELL[@]}" --style basic \
      --runs "$RUNS" --warmup "$WARMUP" "${prepare[@]}" --export-json "$W/hf-$name-$round.json" \
      -n "$label" "$cmd"; then
      die "$label: hyperfine failed: $(grep -v '^\s*$' "$W/logs/$name.hf" | tail -n 3)"
    fi
  done
done
CPU_T2=$(cpu_ticks)

# --- report ------------------------------------------------------------------------------
# stats NAME: mean sd median min max n cpu(user+sys mean, ms) over all rounds of NAME
stats() {
  jq -s -r '
    [.[].results[0]] as $r | [$r[].times[]] as $t | ($t | length) as $n |
    ($t | add / $n) as $m | ($t | sort) as $s |
    (if $n > 1 then (($t | map((. - $m) * (. - $m)) | add) / ($n - 1) | sqrt) else 0 end) as $sd |
    (if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end) as $med |
    ([$r[] | (.user + .system) * (.times | length)] | add / $n) as $cpu |
    "\($m * 1000) \($sd * 1000) \($med * 1000) \($s[0] * 1000) \($s[-1] * 1000) \($n) \($cpu * 1000)"' \
    "$W"/hf-"$1"-*.json
}
declare -A MEAN SD N
for label in "${LABELS[@]}"; do
  name=${ID[$label]}
  read -r mean sd med lo hi cnt cpu < <(stats "$name")
  MEAN[$name]=$mean
  SD[$name]=$sd
  N[$name]=$cnt
  extra=""
  [ "$name" = berth-nocache ] && extra=" [seccomp cache removed before each run; not in the ratios]"
  printf '%s: %.1f ± %.1f ms (median %.1f, min %.1f, max %.1f; n=%d); cpu user+sys %.1f ms%s\n' \
    "$label" "$mean" "$sd" "$med" "$lo" "$hi" "$cnt" "$cpu" "$extra"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratio berth/crun, bare: $(ratio "${MEAN[berth-bare]}" "${MEAN[crun-bare]}") (lower is better)"
awk -v r="$(ratio "${MEAN[berth-hardened]}" "${MEAN[crun-hardened]}")" \
  'BEGIN {printf "ratio berth/crun, hardened: %s (lower is better; target <= 1: %s)\n", r, r <= 1 ? "met" : "MISSED"}'
# cost RUNTIME LABEL TARGET_MS: hardened - bare from the means, with the standard error of
# that difference
cost() {
  awk -v l="$2" -v h="${MEAN[$1-hardened]}" -v b="${MEAN[$1-bare]}" -v sh="${SD[$1-hardened]}" \
    -v sb="${SD[$1-bare]}" -v nh="${N[$1-hardened]}" -v nb="${N[$1-bare]}" -v t="$3" 'BEGIN {
      c = h - b; se = sqrt(sh * sh / nh + sb * sb / nb)
      printf "hardening cost %s: %.1f ms (hardened %.1f - bare %.1f, means; ± %.1f standard error", l, c, h, b, se
      if (t != "") printf "; target < %s ms: %s", t, c < t ? "met" : "MISSED"
      printf ")\n"
    }'
}
cost berth berth-runtime 5
cost crun crun ""
echo "host_cpu_busy_before_run: $BUSY_BEFORE% of $(nproc) cpus over 2 s (load that is not ours)"
echo "host_cpu_busy_during_run: $(busy_pct "$CPU_T1" "$CPU_T2")% of $(nproc) cpus (this benchmark alone keeps at most about one cpu busy; more is other load), loadavg at end $(cut -d' ' -f1-3 /proc/loadavg)"
exit 0

#!/usr/bin/env bash
# Berth's main job on its embedded default image: installs what is missing, builds (the
# busybox root filesystem and image included), runs a container that prints hello through
# berth-runtime, then starts berthd (unless one answers already) and loads the busybox image
# into it, so `berth images` lists it. Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release
rootfs=$top/build/release/busybox-rootfs
bundle=$(mktemp -d /tmp/berth-hello.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
ln -s "$rootfs" "$bundle/rootfs"
rt=$top/build/release/bin/berth-runtime
"$rt" spec --bundle "$bundle"
# The default spec is interactive (terminal: true, sh); make it print hello instead.
jq '.process.terminal = false | .process.args = ["echo", "hello from a berth container"]' \
  "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
# Not exec: the EXIT trap must still remove the bundle.
"$rt" --root "$bundle/state" run --bundle "$bundle" "hello-$$"

# The daemon, on its default socket and root (/run/berth/berth.sock, /var/lib/berth). It keeps
# running afterwards, as an installed daemon would (contrib/systemd/berthd.service runs it
# under systemd instead).
berth=$top/build/release/bin/berth
if ! "$berth" version >/dev/null 2>&1; then
  mkdir -p /run/berth
  setsid "$top/build/release/bin/berthd" </dev/null >>/run/berth/berthd.log 2>&1 &
  for _ in $(seq 100); do
    "$berth" version >/dev/null 2>&1 && break
    sleep 0.05
  done
fi
"$berth" load -i "$top/build/release/busybox-image.tar"
"$berth" images

#!/usr/bin/env bash
# Berth's main job on its embedded default image: installs what is missing, builds,
# builds the busybox root filesystem and runs a container that prints hello through
# berth-runtime. Run as root on Debian 12.
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
rt=$top/build/release/src/cmd/berth-runtime/berth-runtime
"$rt" spec --bundle "$bundle"
# The default spec is interactive (terminal: true, sh); make it print hello instead.
jq '.process.terminal = false | .process.args = ["echo", "hello from a berth container"]' \
  "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
# Not exec: the EXIT trap must still remove the bundle.
"$rt" --root "$bundle/state" run --bundle "$bundle" "hello-$$"

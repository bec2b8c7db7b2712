#!/usr/bin/env bash
# Berth's main job on its embedded default image: installs what is missing, builds (the
# busybox image included), loads the image and runs `berth run --rm busybox echo hello` —
# berth starts berthd on its default socket (/run/berth/berth.sock, root /var/lib/berth) when
# none answers, and berthd keeps running afterwards, as an installed daemon would
# (contrib/systemd/berthd.service runs it under systemd instead). Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build build/release
berth=$top/build/release/bin/berth
"$berth" image inspect busybox >/dev/null 2>&1 ||
  "$berth" load -i "$top/build/release/busybox-image.tar"
"$berth" run --rm busybox echo "hello from a berth container"

#!/usr/bin/env bash
# Installs every Debian 12 package Berth needs to build, test and benchmark.
# Idempotent: packages already installed are skipped without touching apt.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config clang-format clang libclang-rt-14-dev
  # libraries
  nlohmann-json3-dev libcli11-dev libseccomp-dev libcap-dev libssl-dev nettle-dev
  libarchive-dev libzstd-dev zlib1g-dev libsqlite3-dev libmnl-dev libnftables-dev
  libacl1-dev libbz2-dev liblzma-dev  # libarchive.a links them (src/image)
  libisal-dev  # ISA-L's inflate: a pull's gunzip (src/image/layer.cc)
  libcurl4-openssl-dev libcrypt-dev openssl
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev hyperfine jq iperf3
  # the embedded default image and the compat anchors
  busybox-static crun runc time python3
  docker.io docker-compose python3-docker skopeo umoci podman ccache
  docker-registry buildah
  # tools the tests call
  iproute2 util-linux procps nftables
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }

#!/usr/bin/env bash
# Packs the busybox root filesystem (scripts/build-busybox-rootfs.sh) as Berth's embedded
# default image: a one-layer `docker save` archive (busybox:latest) that `berth load`,
# `docker load` and `podman load` all read. Deterministic: the same rootfs gives the same
# bytes, so the image ID only changes when the rootfs does.
#
# Usage: build-busybox-image.sh ROOTFS OUT.tar
set -euo pipefail

rootfs=${1:?usage: build-busybox-image.sh ROOTFS OUT.tar}
out=${2:?usage: build-busybox-image.sh ROOTFS OUT.tar}
created=2026-01-01T00:00:00Z

tmp=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

deterministic=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
(cd "$rootfs" && LC_ALL=C ls -A | LC_ALL=C sort | tar "${deterministic[@]}" -cf "$tmp/layer.tar" -T -)
diff_id=sha256:$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
arch=$(dpkg --print-architecture)
cat > "$tmp/config.json" <<JSON
{"architecture":"$arch","os":"linux","created":"$created","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"Labels":{"org.opencontainers.image.title":"busybox","org.opencontainers.image.description":"Berth's default image, from Debian's busybox-static"}},"rootfs":{"type":"layers","diff_ids":["$diff_id"]},"history":[{"created":"$created","created_by":"scripts/build-busybox-image.sh: busybox-static and one symlink per applet"},{"created":"$created","created_by":"CMD [\"sh\"]","empty_layer":true}]}
JSON
# No newline at the end: the config's bytes are the image ID.
printf '%s' "$(cat "$tmp/config.json")" > "$tmp/config.json"
config_hex=$(sha256sum "$tmp/config.json" | cut -d' ' -f1)
layer_dir=${diff_id#sha256:}

mkdir -p "$tmp/pack/$layer_dir"
mv "$tmp/layer.tar" "$tmp/pack/$layer_dir/layer.tar"
mv "$tmp/config.json" "$tmp/pack/$config_hex.json"
printf '1.0' > "$tmp/pack/$layer_dir/VERSION"
printf '{"id":"%s","created":"%s","os":"linux"}' "$layer_dir" "$created" > "$tmp/pack/$layer_dir/json"
printf '[{"Config":"%s.json","RepoTags":["busybox:latest"],"Layers":["%s/layer.tar"]}]' \
  "$config_hex" "$layer_dir" > "$tmp/pack/manifest.json"
printf '{"busybox":{"latest":"%s"}}' "$layer_dir" > "$tmp/pack/repositories"
(cd "$tmp/pack" && LC_ALL=C ls -A | LC_ALL=C sort | tar "${deterministic[@]}" -cf "$tmp/image.tar" -T -)
mv "$tmp/image.tar" "$out"

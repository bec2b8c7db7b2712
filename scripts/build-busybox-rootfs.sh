#!/usr/bin/env bash
# Builds Berth's embedded default image root filesystem from Debian's busybox-static
# package: the static busybox binary plus one symlink per applet, the usual directories and
# minimal /etc files. No network beyond the package itself.
#
# Usage: build-busybox-rootfs.sh OUTDIR     (OUTDIR must not exist or be empty)
set -euo pipefail

out=${1:?usage: build-busybox-rootfs.sh OUTDIR}
bb=$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)
if [ -z "$bb" ] || [ ! -x "$bb" ]; then
  echo "build-busybox-rootfs.sh: busybox-static is not installed (run scripts/install-deps.sh)" >&2
  exit 1
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "build-busybox-rootfs.sh: $out exists and is not empty" >&2
  exit 1
fi

tmp=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"  # mktemp makes it 0700: unusable for non-root and mapped users
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,home,var/tmp,run}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
chmod 0700 "$tmp/root"
install -m 0755 "$bb" "$tmp/bin/busybox"
# One symlink per applet, where busybox says it belongs.
"$bb" --list-full | while read -r applet; do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$tmp/$(dirname "$applet")"
  ln -sf /bin/busybox "$tmp/$applet"
done
cat > "$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$tmp/etc/group" <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
G
echo "berth" > "$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$tmp/etc/hosts"
: > "$tmp/etc/resolv.conf"
# A marker the tests read to know they run inside this image.
echo "berth-busybox $("$bb" 2>&1 | head -n1 | awk '{print $2}')" > "$tmp/etc/berth-image"
mv "$tmp" "$out"
trap - EXIT

#!/usr/bin/env bash
# Builds the base initramfs for the UML emulator runs and prints its path.
#
#   tools/uml/build-initramfs.sh
#
# Contents: busybox from Debian's busybox-static (sh, ip, ping, mount, od, ... as applet
# links), plus Debian's ethtool and devlink (from the iproute2 package), because busybox has
# neither `ethtool -S` nor `devlink dev info`, and iperf3 (with libiperf0), for traffic
# with a real network stack on the wire; each with the shared libraries it needs.
# All packages are fetched with `apt-get download` into $FBNIC_CACHE/debs and unpacked,
# never installed; glibc and the loader come from the host, which must be the same
# Debian release (they are what ethtool/devlink were linked against).
#
# There is no /init here: the runner (tests/uml/run.sh) appends a second archive with its
# own /init. The kernel unpacks concatenated archives in order.
#
# Cached as $FBNIC_CACHE/uml/initramfs-base-<hash>.cpio.gz, the hash covering this script
# and the package files used.
set -euo pipefail

cache=${FBNIC_CACHE:-$HOME/.cache/fbnic}
mkdir -p "$cache/debs" "$cache/uml"
log() { echo "build-initramfs: $*" >&2; }

fetch_deb() { "$(dirname "$0")/fetch-deb.sh" "$1"; }

pkgs=(busybox-static ethtool iproute2 libmnl0 libcap2 iperf3 libiperf0 libsctp1 libssl3)
debs=()
for p in "${pkgs[@]}"; do debs+=("$(fetch_deb "$p")"); done

hash=$( (cat "$0"; for d in "${debs[@]}"; do basename "$d"; done) | sha256sum | cut -c1-12)
out=$cache/uml/initramfs-base-$hash.cpio.gz
if [ -s "$out" ]; then
  log "reusing $out"
  echo "$out"
  exit 0
fi

t0=$(date +%s.%N)
stage=$(mktemp -d)
root=$(mktemp -d)
trap 'rm -rf "$stage" "$root"' EXIT
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$stage"; done

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib64,lib/x86_64-linux-gnu,proc,sys,dev,tmp,run,etc,root}
bb=$(find "$stage" -path '*bin/busybox' -type f | head -n1)
[ -n "$bb" ] || { log "no busybox in busybox-static"; exit 1; }
cp "$bb" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
  case $applet in bin/busybox) continue ;; esac
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done

# ethtool, devlink and iperf3, dynamically linked: bring their libraries and the loader.
cp "$stage/sbin/ethtool" "$root/sbin/ethtool" 2>/dev/null || cp "$stage/usr/sbin/ethtool" "$root/sbin/ethtool"
cp "$stage/sbin/devlink" "$root/sbin/devlink" 2>/dev/null || cp "$stage/usr/sbin/devlink" "$root/sbin/devlink"
cp "$stage/usr/bin/iperf3" "$root/sbin/iperf3"
libdirs=$stage/lib/x86_64-linux-gnu:$stage/usr/lib/x86_64-linux-gnu
for bin in ethtool devlink iperf3; do
  LD_LIBRARY_PATH=$libdirs ldd "$root/sbin/$bin" >"$stage/ldd.$bin"
  if grep -q "not found" "$stage/ldd.$bin"; then
    log "$bin: missing libraries"; cat "$stage/ldd.$bin" >&2; exit 1
  fi
  awk '/=> \// { print $3 } /^\t\/lib64\// { print $1 }' "$stage/ldd.$bin" |
    while read -r lib; do
      real=$(readlink -f "$lib")
      case $lib in
        */ld-linux-x86-64.so.2) cp "$real" "$root/lib64/ld-linux-x86-64.so.2" ;;
        *) cp "$real" "$root/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
      esac
    done
done
ln -s ../lib "$root/usr/lib"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
  gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
log "built $out ($(du -h "$out" | cut -f1)) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
echo "$out"

#!/usr/bin/env bash
# Builds the User-Mode Linux kernel that runs the unmodified upstream fbnic driver, and the
# busybox initramfs it boots, both cached outside the repository.
#
#   tools/uml/build-kernel.sh [--kernel-only | --initramfs-only] [--print]
#
# Kernel: Debian's linux-source-6.12 (apt-get download, unpacked, never installed), ARCH=um
# defconfig plus tools/uml/kernel.config, the three arch/um edits of tools/uml/arch-um-edits.sh,
# `make linux`. It is reused when $FBNIC_CACHE/uml/<version>-<hash>/linux exists, where the
# hash covers kernel.config, arch-um-edits.sh, FBNIC_UML_FP_SIZE and the options required
# below.
# Initramfs: see tools/uml/build-initramfs.sh.
#
# Last lines on stdout (for scripts): KERNEL=<path> and INITRAMFS=<path>.
#
# Environment:
#   FBNIC_CACHE      cache root (default ~/.cache/fbnic)
#   FBNIC_LINUX_DEB  a linux-source-6.12 .deb to use instead of downloading one
#   FBNIC_JOBS       make -j (default: number of CPUs)
#   FBNIC_UML_FP_SIZE  host FPU state size for arch-um-edits.sh (default there: 12288)
#
# Needs (Debian): build-essential (gcc, make), flex, bison, bc, xz-utils, perl, apt-get,
# dpkg-deb; busybox-static, ethtool and iproute2 are downloaded as .debs for the initramfs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${FBNIC_CACHE:-$HOME/.cache/fbnic}
jobs=${FBNIC_JOBS:-$(nproc)}
want_kernel=1
want_initramfs=1
for arg in "$@"; do
  case $arg in
    --kernel-only) want_initramfs=0 ;;
    --initramfs-only) want_kernel=0 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "build-kernel: unknown argument $arg" >&2; exit 2 ;;
  esac
done

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
log() { echo "build-kernel: $*" >&2; }

mkdir -p "$cache/debs" "$cache/uml"

fetch_deb() { "$(dirname "$0")/fetch-deb.sh" "$1"; }

# Options the kernel must still have after olddefconfig (the build fails otherwise).
required_config="FBNIC=y UML_PCI_OVER_VIRTIO=y VIRTIO_UML=y PCI_MSI=y
UML_PCI_OVER_VIRTIO_DEVICE_ID=1234 KERNEL_STACK_ORDER=4 BLK_DEV_INITRD=y"

kernel=""
if [ "$want_kernel" = 1 ]; then
  t0=$(now)
  deb=${FBNIC_LINUX_DEB:-$(fetch_deb linux-source-6.12)}
  version=$(dpkg-deb -f "$deb" Version)
  # Every input of the build besides the source: a change to any of them builds anew.
  hash=$({
    cat "$here/kernel.config" "$here/arch-um-edits.sh"
    echo "FBNIC_UML_FP_SIZE=${FBNIC_UML_FP_SIZE:-}"
    echo "required: $required_config"
  } | sha256sum | cut -c1-12)
  key="$version-$hash"
  key=${key//[^A-Za-z0-9._-]/_}
  dir=$cache/uml/$key
  kernel=$dir/linux
  if [ -x "$kernel" ]; then
    log "reusing kernel $kernel (linux-source $version, config+edits $hash)"
  else
    log "building kernel for linux-source $version, config+edits $hash, -j$jobs"
    # An unfinished earlier attempt (no linux binary) is started over.
    rm -rf "$dir"
    mkdir -p "$dir"
    t=$(now)
    dpkg-deb --fsys-tarfile "$deb" |
      tar -xO ./usr/src/linux-source-6.12.tar.xz | tar -xJ -C "$dir"
    src=$dir/linux-source-6.12
    log "unpacked in $(since "$t")"
    "$here/arch-um-edits.sh" "$src" >&2

    t=$(now)
    build=$dir/build
    make -s -C "$src" O="$build" ARCH=um defconfig >&2
    args=()
    while read -r line; do
      line=${line%%#*}
      [ -n "${line// /}" ] || continue
      # shellcheck disable=SC2206
      args+=($line)
    done <"$here/kernel.config"
    "$src/scripts/config" --file "$build/.config" "${args[@]}"
    make -s -C "$src" O="$build" ARCH=um olddefconfig >&2
    for opt in $required_config; do
      grep -qx "CONFIG_$opt" "$build/.config" ||
        { log "CONFIG_$opt did not survive olddefconfig"; exit 1; }
    done
    log "configured in $(since "$t")"

    t=$(now)
    # The compiler's warnings (UML's own, e.g. frame sizes) go to a log, not the console.
    if ! make -s -C "$src" O="$build" ARCH=um -j"$jobs" linux >"$dir/make.log" 2>&1; then
      tail -n 40 "$dir/make.log" >&2
      log "kernel build failed; full log: $dir/make.log"
      exit 1
    fi
    log "compiled in $(since "$t")"
    # The patched tree and objects stay for incremental rebuilds (make -C src O=build).
    cp "$build/.config" "$dir/config"
    cp "$build/linux" "$kernel.tmp"
    mv "$kernel.tmp" "$kernel"
    log "kernel ready in $(since "$t0"): $kernel ($(du -h "$kernel" | cut -f1))"
  fi
fi

initramfs=""
if [ "$want_initramfs" = 1 ]; then
  initramfs=$("$here/build-initramfs.sh")
fi

[ -z "$kernel" ] || echo "KERNEL=$kernel"
[ -z "$initramfs" ] || echo "INITRAMFS=$initramfs"

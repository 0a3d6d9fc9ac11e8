#!/usr/bin/env bash
# Debian's own x86_64 kernel for the QEMU guests of the tests (tests/vm/vfio, tests/qemu):
# the current linux-image-amd64 package, downloaded and unpacked (never installed), its
# bzImage turned into an ELF vmlinux (QEMU boots it through PVH: no decompression under
# TCG) and the VFIO modules with their dependencies as plain .ko files.
#
#   tests/vm/kernel.sh      prints PKG=<package> and KDIR=<dir> (vmlinux, modules/, release)
#
# Cached in ${FBNIC_CACHE:-~/.cache/fbnic}/vfio-vm/<package>. FBNIC_VFIO_KERNEL_PKG pins a
# package. Needs apt-get, apt-cache, dpkg-deb and python3; installs nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${FBNIC_CACHE:-$HOME/.cache/fbnic}/vfio-vm
die() { echo "kernel.sh: $*" >&2; exit 1; }
mkdir -p "$cache"

pkg=${FBNIC_VFIO_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
  awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
if [ -z "$pkg" ]; then
  # No apt lists (apt-get update not run): use the newest kernel already cached, if any.
  pkg=$(find "$cache" -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null | sort -V |
    tail -1 | xargs -r basename)
  [ -n "$pkg" ] || die "cannot resolve linux-image-amd64: run apt-get update"
fi
kdir=$cache/$pkg
if [ ! -f "$kdir/.complete" ]; then
  echo "kernel.sh: downloading and unpacking $pkg (not installing it)" >&2
  rm -rf "$kdir" "$kdir.partial"
  mkdir -p "$kdir.partial/deb"
  chmod 777 "$kdir.partial/deb"  # apt's _apt user downloads into it
  # (apt warns that _apt cannot reach a cache under /root; the download is fine.)
  (cd "$kdir.partial/deb" && apt-get download -q "$pkg" >"$kdir.partial/apt.log" 2>&1) ||
    { cat "$kdir.partial/apt.log" >&2; die "apt-get download $pkg failed"; }
  dpkg-deb -x "$kdir.partial/deb/"*.deb "$kdir.partial/tree"
  bz=$(find "$kdir.partial/tree" -path '*/boot/vmlinuz-*' | head -1)
  moddir=$(find "$kdir.partial/tree" -maxdepth 4 -path '*/modules/*' -type d -name '[0-9]*' |
    head -1)
  if [ -z "$bz" ] || [ -z "$moddir" ]; then die "unexpected layout in $pkg"; fi
  python3 "$here/guest.py" vmlinux "$bz" "$kdir.partial/vmlinux" >&2
  python3 "$here/guest.py" modules "$moddir" "$kdir.partial/modules" \
    vfio_iommu_type1 vfio-pci uio_pci_generic >&2
  basename "$moddir" > "$kdir.partial/release"
  rm -rf "$kdir.partial/tree" "$kdir.partial/deb" "$kdir.partial/apt.log"
  touch "$kdir.partial/.complete"
  mv "$kdir.partial" "$kdir"
fi
echo "PKG=$pkg"
echo "KDIR=$kdir"

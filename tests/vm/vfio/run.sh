#!/usr/bin/env bash
# The VFIO backend against the real thing: Debian's own kernel (downloaded and unpacked,
# never installed) boots in qemu-system-x86_64 under TCG on q35 with an emulated VT-d
# IOMMU; QEMU's ivshmem-doorbell and edu devices are bound to vfio-pci in the guest, and a
# static test program drives them through fbnic::vfio only. Three boots:
#
#   main      intel-iommu,intremap=on: error paths, BARs, config space, MSI-X (one vector
#             fired by this host), MSI, DMA through the IOMMU, blocked DMA after unmap,
#             reset, teardown, three edus in one shared Container and isolation from
#             another, IOVA = physical address; then this host checks the ivshmem file
#   noiommu   no IOMMU at all: the no-IOMMU explanation
#   intremap  intel-iommu,intremap=off: the interrupt-remapping refusal, then its fix
#
# Needs (Debian 12): qemu-system-x86 busybox-static python3 cmake g++ (and apt's lists:
# apt-get update). Installs nothing. Downloads go to ${FBNIC_CACHE:-~/.cache/fbnic}.
# Exit status 0 only when every check passed. FBNIC_VFIO_VM_PHASES="main noiommu intremap"
# picks boots; FBNIC_VFIO_KERNEL_PKG pins a kernel package (default: linux-image-amd64's).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${FBNIC_CACHE:-$HOME/.cache/fbnic}/vfio-vm
build=${FBNIC_VFIO_VM_BUILD:-$repo/build/vm-vfio}
phases=${FBNIC_VFIO_VM_PHASES:-main noiommu intremap}
# Debian's kernels lack CONFIG_VFIO_NOIOMMU; this adds a boot with vfio rebuilt from Debian's
# own source with it (about 150 MB more downloads, 20 s more the first time).
if [ "${FBNIC_VFIO_VM_NOIOMMU:-0}" = 1 ]; then phases="$phases noiommumode"; fi
t_start=$(date +%s%N)
elapsed() { echo $((($(date +%s%N) - t_start) / 1000000)); }
say() { printf '[%6.1fs] %s\n' "$(awk "BEGIN{print $(elapsed)/1000}")" "$*"; }
die() { echo "run.sh: $*" >&2; echo "VFIO-VM FAIL"; exit 1; }

# --- tools (installed by tools/deps.sh; this script installs nothing) ---
for tool in qemu-system-x86_64 busybox python3 apt-get apt-cache dpkg-deb cmake c++ strip; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install qemu-system-x86 \
busybox-static python3 cmake g++)"
done
busybox_bin=$(command -v busybox)
if LC_ALL=C readelf -l "$busybox_bin" 2>/dev/null | grep -q 'INTERP'; then
  die "$busybox_bin is dynamically linked: install busybox-static (the guest has no libraries)"
fi
python3 -c 'import os, socket; os.eventfd; socket.send_fds' 2>/dev/null ||
  die "python3 >= 3.10 needed (os.eventfd, socket.send_fds)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fbnic-vfio-vm.XXXXXX")
server_pid=""
# Called by the trap.
# shellcheck disable=SC2317
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work" "/dev/shm/fbnic-vfio-$$"
}
trap cleanup EXIT
mkdir -p "$cache"

# --- the kernel: Debian's current linux-image, cached unpacked (vmlinux + modules) ---
kernel=$("$here/../kernel.sh") || die "no guest kernel"
pkg=$(sed -n 's/^PKG=//p' <<<"$kernel")
kdir=$(sed -n 's/^KDIR=//p' <<<"$kernel")
say "kernel $pkg ($(cat "$kdir/release")), cached in $kdir"

# --- (opt-in) vfio modules with CONFIG_VFIO_NOIOMMU, built from the same kernel's source ---
build_noiommu_modules() {
  local ndir=$kdir/noiommu abi version series base tmp hdr
  [ -f "$ndir/.complete" ] && return 0
  for tool in make gcc-12 tar xz; do
    command -v "$tool" >/dev/null || die "missing $tool (needed by FBNIC_VFIO_VM_NOIOMMU=1)"
  done
  abi=${pkg#linux-image-}  # 6.1.0-56-amd64
  base=${abi%-*}           # 6.1.0-56
  version=$(apt-cache show "$pkg" | awk '/^Version:/ {print $2; exit}')
  series=$(echo "$version" | cut -d. -f1-2)
  [ -n "$version" ] || die "cannot find the version of $pkg: run apt-get update"
  say "building vfio with CONFIG_VFIO_NOIOMMU from linux-source-$series=$version (not installed)"
  tmp=$ndir.partial
  rm -rf "$ndir" "$tmp"
  mkdir -p "$tmp/deb"
  chmod 777 "$tmp/deb"
  (cd "$tmp/deb" && apt-get download -q "linux-headers-$abi" "linux-headers-$base-common" \
    "linux-kbuild-$series" "linux-source-$series=$version" >"$work/apt.log" 2>&1) ||
    { cat "$work/apt.log"; die "downloading the kernel headers and source failed"; }
  for deb in "$tmp"/deb/linux-headers-*.deb "$tmp"/deb/linux-kbuild-*.deb; do
    dpkg-deb -x "$deb" "$tmp/tree"
  done
  hdr=$tmp/tree/usr/src/linux-headers-$abi
  # The flavour's Makefile includes the common tree by its installed path.
  sed -i "s|^include /usr/src/|include $tmp/tree/usr/src/|" "$hdr/Makefile"
  dpkg-deb --fsys-tarfile "$tmp"/deb/linux-source-*.deb |
    tar -x -O --wildcards './usr/src/linux-source-*.tar.xz' |
    tar -xJ -C "$tmp" --wildcards '*/drivers/vfio/*'
  make -s -j "${FBNIC_JOBS:-2}" -C "$hdr" M="$(echo "$tmp"/linux-source-*/drivers/vfio)" \
    KCFLAGS=-DCONFIG_VFIO_NOIOMMU=1 modules >"$work/kbuild.log" 2>&1 ||
    { cat "$work/kbuild.log"; die "building the vfio modules failed"; }
  mkdir -p "$tmp/modules"
  for ko in vfio vfio_iommu_type1 vfio_virqfd pci/vfio-pci-core pci/vfio-pci; do
    strip --strip-debug -o "$tmp/modules/$(basename "$ko" | tr - _).ko" \
      "$(echo "$tmp"/linux-source-*/drivers/vfio)/$ko.ko"
  done
  rm -rf "$tmp/deb" "$tmp/tree" "$tmp"/linux-source-*
  touch "$tmp/.complete"
  mv "$tmp" "$ndir"
}
case " $phases " in *" noiommumode "*) build_noiommu_modules ;; esac

# --- the static test program ---
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DFBNIC_VFIO_VM_TEST=ON -DFBNIC_BUILD_TESTS=OFF -DFBNIC_BUILD_EXAMPLES=OFF \
    -DFBNIC_BUILD_BENCHMARKS=OFF -DFBNIC_INSTALL=OFF -DFBNIC_WERROR=ON >/dev/null
fi
cmake --build "$build" --target vfio_vm_test vfio_vm_fbnic_info -j "${FBNIC_JOBS:-2}" \
  >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "building vfio_vm_test failed"; }
strip -o "$work/vfio_vm_test" "$build/tests/vm/vfio/vfio_vm_test"
strip -o "$work/fbnic-info" "$build/tests/vm/vfio/vfio_vm_fbnic_info"
say "built the static test program ($(stat -c %s "$work/vfio_vm_test") bytes) and fbnic-info"

# --- the initramfs: busybox, /init, the test program, the modules ---
specs=("bin/busybox=$busybox_bin:755" "init=$here/init.sh:755"
  "vfio_vm_test=$work/vfio_vm_test:755" "fbnic-info=$work/fbnic-info:755"
  "modules/order=$kdir/modules/order:644")
for ko in "$kdir"/modules/*.ko; do specs+=("modules/$(basename "$ko")=$ko:644"); done
python3 "$here/../guest.py" initramfs "$work/initramfs.cpio" "${specs[@]}"
if [ -f "$kdir/noiommu/.complete" ]; then
  # The same, with the rebuilt vfio modules in place of Debian's.
  for ko in "$kdir"/noiommu/modules/*.ko; do specs+=("modules/$(basename "$ko")=$ko:644"); done
  python3 "$here/../guest.py" initramfs "$work/initramfs-noiommu.cpio" "${specs[@]}"
fi
say "initramfs $(stat -c %s "$work/initramfs.cpio") bytes: $(tr '\n' ' ' < "$kdir/modules/order")"

# --- the boots ---
qemu_base=(qemu-system-x86_64 -accel tcg -m 512M -smp 1 -nodefaults -display none
  -monitor none -no-reboot -serial stdio -kernel "$kdir/vmlinux")
append="console=ttyS0 panic=-1 quiet"
# QEMU's option lists have commas.
# shellcheck disable=SC2054
edus=(-device edu,addr=0x4.0,multifunction=on,dma_mask=0xffffffff
  -device edu,addr=0x4.1,dma_mask=0xffffffff -device edu,addr=0x6,dma_mask=0xffffffff)
failed=0
guest_kernel=""

boot() {  # boot PHASE INITRAMFS QEMU-ARGS...
  local phase=$1 initrd=$2
  shift 2
  local log=$work/$phase.log t0
  t0=$(elapsed)
  timeout "${FBNIC_VFIO_VM_TIMEOUT:-300}" "${qemu_base[@]}" -initrd "$initrd" "$@" </dev/null >"$log" 2>&1 || true
  local seconds
  seconds=$(awk "BEGIN{print ($(elapsed) - $t0)/1000}")
  # Guest lines and QEMU's own messages; the kernel is quiet.
  grep -E '^(ok  |FAIL|     |VFIO-TEST|GUEST|qemu-system)' "$log" | tr -d '\r' | sed 's/^/  /' || true
  guest_kernel=$(sed -n 's/^GUEST-KERNEL: //p' "$log" | tr -d '\r' | head -1)
  if grep -q '^GUEST-RESULT: PASS' "$log" && ! grep -q '^FAIL' "$log" &&
    grep -q '^VFIO-TEST PASS' "$log"; then
    say "boot '$phase': PASS in ${seconds}s"
  else
    say "boot '$phase': FAIL in ${seconds}s (full console log follows)"
    tr -d '\r' <"$log" | tail -60 | sed 's/^/  | /'
    failed=1
  fi
}

for phase in $phases; do
  case $phase in
    main)
      shm=/dev/shm/fbnic-vfio-$$
      sock=$work/ivshmem.sock
      python3 "$here/ivshmem_server.py" serve --socket "$sock" --shm "$shm" --vectors 2 \
        >"$work/server.log" 2>&1 &
      server_pid=$!
      for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
      [ -S "$sock" ] || die "the ivshmem server did not start: $(cat "$work/server.log")"
      say "boot 'main': q35 + intel-iommu (intremap=on), ivshmem-doorbell, 3 x edu"
      boot main "$work/initramfs.cpio" -machine q35 -device intel-iommu,intremap=on \
        -device pcie-root-port,id=rp1,chassis=1,addr=0x3 \
        -chardev socket,path="$sock",id=ivsh \
        -device ivshmem-doorbell,chardev=ivsh,vectors=2,bus=rp1 "${edus[@]}" \
        -append "$append intel_iommu=on vfiotest=main"
      wait "$server_pid" || true
      server_pid=""
      sed 's/^/  /' "$work/server.log"
      if python3 "$here/ivshmem_server.py" check --shm "$shm" | sed 's/^/  /'; then
        say "host check of the ivshmem memory file: PASS"
      else
        say "host check of the ivshmem memory file: FAIL"
        failed=1
      fi
      rm -f "$shm"
      ;;
    noiommu)
      say "boot 'noiommu': q35 without an IOMMU, 3 x edu"
      boot noiommu "$work/initramfs.cpio" -machine q35 "${edus[@]}" -append "$append vfiotest=noiommu"
      ;;
    intremap)
      say "boot 'intremap': q35 + intel-iommu (intremap=off), 3 x edu"
      boot intremap "$work/initramfs.cpio" -machine q35 -device intel-iommu,intremap=off "${edus[@]}" \
        -append "$append intel_iommu=on vfiotest=intremap"
      ;;
    noiommumode)
      say "boot 'noiommumode': q35 without an IOMMU, vfio rebuilt with CONFIG_VFIO_NOIOMMU, edu"
      boot noiommumode "$work/initramfs-noiommu.cpio" -machine q35 "${edus[@]}" \
        -append "$append vfiotest=noiommumode"
      ;;
    *) die "unknown phase '$phase'" ;;
  esac
done

say "guest kernel: ${guest_kernel:-unknown} (package $pkg)"
if [ "$failed" -eq 0 ]; then
  echo "VFIO-VM PASS"
  exit 0
fi
echo "VFIO-VM FAIL"
exit 1

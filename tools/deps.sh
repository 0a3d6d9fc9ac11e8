#!/bin/sh
# Installs what fbnic needs on Debian 12, through apt-get (as root, or with sudo).
#   tools/deps.sh          everything the full test run needs
#   tools/deps.sh build    only what building the library and its examples needs
set -eu
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

build="cmake ninja-build g++ make pkg-config"
tests="clang lld libgtest-dev libgmock-dev libbenchmark-dev libfuzzer-14-dev libclang-rt-14-dev
       clang-format clang-tidy"
# Other CPUs: cross compilers and qemu-user for the suites, clang 19 for the LoongArch build,
# time for the stage's CPU seconds.
cross="g++-aarch64-linux-gnu g++-riscv64-linux-gnu g++-s390x-linux-gnu g++-arm-linux-gnueabihf
       qemu-user clang-19 lld-19 time"
# Booting the UEFI app, the VFIO test VM and the User-Mode Linux emulator. RISC-V's UEFI is
# U-Boot in S-mode (u-boot-qemu) started by OpenSBI (opensbi), in qemu-system-riscv64
# (qemu-system-misc).
vms="qemu-system-x86 ovmf qemu-system-arm qemu-efi-aarch64 qemu-system-misc opensbi u-boot-qemu
     llvm mtools dosfstools busybox-static cpio kmod xz-utils bc flex bison
     libelf-dev libssl-dev perl python3"
# The emulator's wire on a TAP in a test's network namespace: ip (netns, tuntap), ping and
# iperf3 on the namespace's side, tshark to decode the pcap of the wire, and dnsmasq (the
# binary alone, no system service) serving DHCP and TFTP to the UEFI driver's test.
wire="iproute2 iputils-ping iperf3 tshark dnsmasq-base"

$SUDO apt-get update
if [ "${1:-all}" = build ]; then
  # shellcheck disable=SC2086
  $SUDO apt-get install -y --no-install-recommends $build
else
  # shellcheck disable=SC2086
  $SUDO apt-get install -y --no-install-recommends $build $tests $cross $vms $wire
fi

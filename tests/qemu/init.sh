#!/bin/busybox sh
# /init of the Linux guest of tests/qemu/run.sh (busybox-static): the fbnic-emu NICs and the
# ivshmem doorbell as Linux sees them, bound to vfio-pci, probed through the library's VFIO
# platform. The NICs' and the doorbell's addresses come from run.sh's QEMU command line.
# The last line is GUEST-RESULT: PASS|FAIL.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "GUEST: booted to /init in $(awk '{ printf "%d", $1 * 1000 }' /proc/uptime) ms ($(uname -r))"
result=PASS
fail() { echo "GUEST: FAIL $*"; result=FAIL; }

NICS="0000:00:03.0 0000:00:04.0"
BELL=0000:00:05.0

while read -r m; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done < /modules/order

echo "GUEST: lspci -nn"
lspci -nn > /tmp/lspci 2>&1 || fail "lspci exited with $?"
sed 's/^/GUEST:   /' /tmp/lspci
for nic in $NICS; do
  grep -q "^${nic#0000:} Ethernet controller \[0200\]: Meta Platforms, Inc\. .*\[1d9b:0013\]" /tmp/lspci ||
    fail "lspci does not list $nic as 1d9b:0013"
done

bind() {  # bind DEVICE DRIVER
  d=/sys/bus/pci/devices/$1
  echo "$2" > "$d/driver_override"
  echo "$1" > /sys/bus/pci/drivers_probe
  drv=$(basename "$(readlink "$d/driver")" 2>/dev/null)
  group=$(basename "$(readlink "$d/iommu_group")" 2>/dev/null)
  echo "GUEST: $1 ($(cat "$d/vendor"):$(cat "$d/device")) driver=$drv iommu_group=$group"
  [ "$drv" = "$2" ] && [ -c "/dev/vfio/$group" ] || fail "$1 not bound to $2"
}
for nic in $NICS; do bind "$nic" vfio-pci; done
bind $BELL vfio-pci

set -- $NICS
/qemu_guest_probe bar "$1" "${BAR_READS:-2000}" || result=FAIL
/qemu_guest_probe doorbell "$1" $BELL 4 || result=FAIL
echo "GUEST-RESULT: $result"
poweroff -f

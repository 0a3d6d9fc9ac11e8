#!/bin/busybox sh
# /init of the test guest (busybox-static): loads the VFIO modules, binds the devices,
# stages each phase and runs the static test program. The phase comes from the kernel
# command line (vfiotest=main|noiommu|intremap|noiommumode); the last line is GUEST-RESULT.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

phase=$(sed -n 's/.*vfiotest=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "GUEST-KERNEL: $(uname -r)"
result=PASS

while read -r m; do
  args=""
  # busybox insmod ignores vfio.* on the kernel command line: pass it here.
  if [ "$phase" = noiommumode ] && [ "$m" = vfio ]; then args=enable_unsafe_noiommu_mode=1; fi
  insmod "/modules/$m.ko" $args || { echo "GUEST: insmod $m failed"; result=FAIL; }
done < /modules/order

bind() {  # bind DEVICE DRIVER
  d=/sys/bus/pci/devices/$1
  echo "$2" > "$d/driver_override"
  echo "$1" > /sys/bus/pci/drivers_probe
  echo "GUEST: $1 ($(cat "$d/vendor"):$(cat "$d/device"))" \
       "driver=$(basename "$(readlink "$d/driver")" 2>/dev/null)" \
       "iommu_group=$(basename "$(readlink "$d/iommu_group")" 2>/dev/null)"
}

run() {  # run PHASE
  echo "GUEST: --- vfio_vm_test $1"
  /vfio_vm_test "$1" || result=FAIL
}

case "$phase" in
  main)
    bind 0000:01:00.0 vfio-pci
    bind 0000:00:04.0 vfio-pci
    bind 0000:00:04.1 uio_pci_generic
    run errors
    # The group-mate leaves its driver (driverless is viable) and hugepages appear.
    echo 0000:00:04.1 > /sys/bus/pci/devices/0000:00:04.1/driver/unbind
    echo 4 > /proc/sys/vm/nr_hugepages
    echo "GUEST: unbound 0000:00:04.1; hugepages reserved: $(cat /proc/sys/vm/nr_hugepages)"
    run main
    # The group-mate joins edu's Container in the next phase, beside an edu of another group.
    bind 0000:00:04.1 vfio-pci
    bind 0000:00:06.0 vfio-pci
    run container
    echo "GUEST: --- fbnic-info 0000:00:04.0 0000:01:00.0 (the tool on real vfio-pci devices)"
    /fbnic-info 0000:00:04.0 0000:01:00.0 > /tmp/info 2>&1 && grep -q 'PCI 1234:11e8' /tmp/info ||
      result=FAIL
    sed 's/^/GUEST:   /' /tmp/info
    echo "GUEST: --- fbnic-info (no fbnic here: must fail with the fix)"
    /fbnic-info > /tmp/info 2>&1 && result=FAIL
    grep -q '^fix: ' /tmp/info || result=FAIL
    sed 's/^/GUEST:   /' /tmp/info
    echo "GUEST: IOMMU faults logged by the guest kernel (expected from the blocked DMA):"
    dmesg | grep -i 'DMAR.*fault' | head -3 | sed 's/^/GUEST:   /'
    dmesg | grep -qi 'DMAR.*fault' || { echo "GUEST: no DMAR fault logged"; result=FAIL; }
    ;;
  noiommu)
    bind 0000:00:04.0 vfio-pci
    run noiommu
    ;;
  intremap)
    bind 0000:00:04.0 vfio-pci
    run intremap
    echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
    echo "GUEST: allow_unsafe_interrupts=$(cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)"
    run unsafe
    ;;
  noiommumode)
    bind 0000:00:04.0 vfio-pci
    echo 4 > /proc/sys/vm/nr_hugepages
    run noiommumode
    ;;
  *)
    echo "GUEST: unknown phase '$phase'"
    result=FAIL
    ;;
esac
echo "GUEST-RESULT: $result"
poweroff -f

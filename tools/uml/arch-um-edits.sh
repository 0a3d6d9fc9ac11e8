#!/usr/bin/env bash
# Applies the three arch/um changes the fbnic emulator needs to a Linux 6.12 source tree.
#
#   tools/uml/arch-um-edits.sh SRC_DIR
#
# Neither touches the fbnic driver. Each edit is anchored on one line of the tree and the
# script refuses to run (exit 1) unless every anchor matches exactly once, so a different
# kernel version fails loudly instead of being patched wrongly. Applying twice is refused
# too (the anchors are gone after the first run).
#
# 1. Host XSAVE size (arch/x86/um/user-offsets.c).
#    6.12 UML hard-codes the size of the host's extended FPU state that it saves and
#    restores with PTRACE_GETREGSET/SETREGSET(NT_X86_XSTATE) at 2696 bytes. A host whose
#    XSAVE area is larger (AMX: about 11 KiB, CPUID leaf 0xD) rejects that buffer with
#    EFAULT and init dies with "ptrace set fp regs failed". The constant becomes
#    FBNIC_UML_FP_SIZE (default 12288 bytes). The buffer sits in thread_info on the kernel
#    stack, so kernel.config raises KERNEL_STACK_ORDER to 4 (64 KiB stacks).
#
# 2. Posted writes on a full command ring (arch/um/drivers/virt-pci.c).
#    virt-pci queues every config/MMIO access on a 256-entry virtqueue. When the queue is
#    full, virtqueue_add_sgs() returns -ENOSPC and 6.12 frees a posted write without
#    sending it, so a burst of register writes can silently lose some. The edit routes
#    that one call through a new helper that, on -ENOSPC, kicks the device, takes back
#    the commands it has completed, waits 1 us and tries again, for at most
#    virt_pci.max_delay_us microseconds (the bound the driver already uses for reads).
#
# 3. No nested commands (arch/um/drivers/virt-pci.c).
#    Every command is first copied into one per-CPU buffer, and a read waits for its
#    completion by polling with interrupts enabled. An interrupt in that window (an MSI,
#    and the NAPI poll after it) sends its own commands through the same buffer: it can
#    overwrite the waiting read's header before the device has fetched it, and take back
#    the read's completion as its own, so the read times out and returns all ones. The
#    fbnic driver then reports "Failed read ... disabled CSR access" (seen in 4 of about
#    35 runs of the ifdown/up cycles or of two guests). The edit sends each command with local interrupts
#    off; the wait is bounded by virt_pci.max_delay_us as before.
set -euo pipefail

src=${1:?usage: arch-um-edits.sh SRC_DIR}
fp_size=${FBNIC_UML_FP_SIZE:-12288}

offsets=$src/arch/x86/um/user-offsets.c
virtpci=$src/arch/um/drivers/virt-pci.c

count() { grep -cF -- "$1" "$2" || true; }
need_once() {
  local n
  n=$(count "$1" "$2")
  if [ "$n" != 1 ]; then
    echo "arch-um-edits: expected one '$1' in $2, found $n" >&2
    exit 1
  fi
}

# --- 1: host FP size --------------------------------------------------------------------
fp_anchor='DEFINE_LONGS(HOST_FP_SIZE, 2696);'
need_once "$fp_anchor" "$offsets"
sed -i "s/DEFINE_LONGS(HOST_FP_SIZE, 2696);/DEFINE_LONGS(HOST_FP_SIZE, $fp_size); \/* fbnic-emu: host XSAVE may be larger (AMX) *\//" \
  "$offsets"
need_once "DEFINE_LONGS(HOST_FP_SIZE, $fp_size);" "$offsets"

# --- 2: virt-pci retries a full command ring ---------------------------------------------
buf_anchor='static struct um_pci_message_buffer __percpu *um_pci_msg_bufs;'
add_anchor='ret = virtqueue_add_sgs(dev->cmd_vq, sgs_list,'
need_once "$buf_anchor" "$virtpci"
need_once "$add_anchor" "$virtpci"

helper=$(mktemp)
trap 'rm -f "$helper"' EXIT
cat >"$helper" <<'EOF'

/*
 * fbnic-emu: a full command ring must not cost a posted write. On -ENOSPC let the
 * device drain the ring (kick), take back what it has completed, and try again,
 * waiting at most max_delay_us in 1 us steps. The WAITING bit keeps the ring's
 * interrupt callback from reaping at the same time, as in the read path below.
 */
static int um_pci_queue_cmd(struct um_pci_device *dev,
			    struct scatterlist *sgs[],
			    unsigned int out_sgs, unsigned int in_sgs,
			    void *data, gfp_t gfp)
{
	bool was_waiting = test_and_set_bit(UM_PCI_STAT_WAITING, &dev->status);
	unsigned int waited_us = 0;
	int err;

	for (;;) {
		unsigned int len;
		void *done;

		err = virtqueue_add_sgs(dev->cmd_vq, sgs, out_sgs, in_sgs,
					data, gfp);
		if (err != -ENOSPC || waited_us >= um_pci_max_delay_us)
			break;
		virtqueue_kick(dev->cmd_vq);
		while ((done = virtqueue_get_buf(dev->cmd_vq, &len)))
			if (!HANDLE_IS_NO_FREE(done))
				kfree(done);
		udelay(1);
		waited_us++;
	}
	if (!was_waiting)
		clear_bit(UM_PCI_STAT_WAITING, &dev->status);
	if (err == -ENOSPC)
		pr_warn_ratelimited("virt-pci: command ring full for %u us\n",
				    waited_us);
	return err;
}
EOF

# Insert the helper after the anchor line, and call it instead of virtqueue_add_sgs.
HELPER="$helper" perl -0pi -e '
  BEGIN { local $/; open my $h, "<", $ENV{HELPER} or die; $helper = <$h>; }
  s/^(\Qstatic struct um_pci_message_buffer __percpu *um_pci_msg_bufs;\E\n)/$1$helper/m
    or die "arch-um-edits: helper anchor\n";
  s/\Qret = virtqueue_add_sgs(dev->cmd_vq, sgs_list,\E/ret = um_pci_queue_cmd(dev, sgs_list,/
    or die "arch-um-edits: call anchor\n";
' "$virtpci"
need_once 'static int um_pci_queue_cmd(struct um_pci_device *dev,' "$virtpci"
need_once 'ret = um_pci_queue_cmd(dev, sgs_list,' "$virtpci"
# --- 3: one command at a time -------------------------------------------------------------
send_anchor='static int um_pci_send_cmd(struct um_pci_device *dev,'
need_once "$send_anchor" "$virtpci"
perl -0pi -e '
  my $wrapper = <<"C";
static int um_pci_send_cmd_irqs_off(struct um_pci_device *dev,
\t\t\t\t   struct virtio_pcidev_msg *cmd,
\t\t\t\t   unsigned int cmd_size,
\t\t\t\t   const void *extra, unsigned int extra_size,
\t\t\t\t   void *out, unsigned int out_size);

/*
 * fbnic-emu: commands share one per-CPU buffer and a read polls for its completion, so
 * a command sent from an interrupt during that wait would corrupt it. Send each one with
 * local interrupts off.
 */
static int um_pci_send_cmd(struct um_pci_device *dev,
\t\t\t   struct virtio_pcidev_msg *cmd,
\t\t\t   unsigned int cmd_size,
\t\t\t   const void *extra, unsigned int extra_size,
\t\t\t   void *out, unsigned int out_size)
{
\tunsigned long flags;
\tint ret;

\tlocal_irq_save(flags);
\tret = um_pci_send_cmd_irqs_off(dev, cmd, cmd_size, extra, extra_size,
\t\t\t\t       out, out_size);
\tlocal_irq_restore(flags);
\treturn ret;
}

static int um_pci_send_cmd_irqs_off(struct um_pci_device *dev,
C
  s/^\Qstatic int um_pci_send_cmd(struct um_pci_device *dev,\E\n/$wrapper/m
    or die "arch-um-edits: send anchor\n";
' "$virtpci"
# The body's prototype and its definition.
[ "$(count 'static int um_pci_send_cmd_irqs_off(struct um_pci_device *dev,' "$virtpci")" = 2 ] ||
  { echo "arch-um-edits: the send edit did not apply" >&2; exit 1; }

echo "arch-um-edits: host FP size $fp_size bytes; virt-pci retries a full command ring and sends with interrupts off"

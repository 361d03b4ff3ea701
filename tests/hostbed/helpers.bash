# Shared by the host-bed bats files: the integration helpers, plus what booting Debian's cloud
# kernel with `husk vm boot` needs.

load ../integration/helpers

# busybox_root DIR: a root filesystem of busybox-static with a passwd and group for root.
busybox_root() {
	mkdir -p "$1"/{bin,dev,etc,proc,sys,tmp,root,run,usr/bin}
	cp "$BUSYBOX" "$1/bin/busybox"
	# --install links to where the running busybox is (/usr/bin/busybox on a merged /usr)
	ln "$1/bin/busybox" "$1/usr/bin/busybox"
	"$BUSYBOX" --install -s "$1/bin"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
	printf 'root:x:0:\n' >"$1/etc/group"
}

# vm_setup_file: for setup_file, the guest's root image $BATS_FILE_TMPDIR/root.img (an ext4
# image of a busybox root) when the bed has a guest kernel.
vm_setup_file() {
	[ -n "${HUSK_HOSTBED:-}" ] || return 0
	[ -n "${HUSK_GUEST_KERNEL:-}" ] && [ -f "$HUSK_GUEST_KERNEL/vmlinuz" ] || return 0
	busybox_root "$BATS_FILE_TMPDIR/vm-rootfs"
	cp /etc/os-release "$BATS_FILE_TMPDIR/vm-rootfs/etc/os-release"
	mke2fs -q -t ext4 -d "$BATS_FILE_TMPDIR/vm-rootfs" "$BATS_FILE_TMPDIR/root.img" 64M
}

# requires_guest_kernel: skip unless the bed has the guest kernel; sets KERNEL and MODULES.
requires_guest_kernel() {
	[ -n "${HUSK_GUEST_KERNEL:-}" ] && [ -f "$HUSK_GUEST_KERNEL/vmlinuz" ] ||
		skip "needs the guest kernel (tests/hostbed/guest-kernel.sh: apt access to linux-image-cloud-amd64)"
	KERNEL="$HUSK_GUEST_KERNEL/vmlinuz"
	MODULES="$HUSK_GUEST_KERNEL/lib/modules/$(cat "$HUSK_GUEST_KERNEL/version")"
}

# vmboot ARGS... -- CMD...: husk vm boot of the cloud kernel with the root image $IMG; stdin
# from $VM_STDIN (default /dev/null). Sets status and output as bats' run does. The agent gets
# 150 s to answer, not the default 60: in the bed (TCG) a 2-vCPU boot took 3.7-19.8 s over 40
# boots, and these tests check what works, not how fast (tests/bench/ is for that).
vmboot() {
	# not bats' run, which warns (BW01) about the 127 a test expects
	status=0
	output="$(timeout 300 "$HUSK" --debug vm boot --timeout 150 --kernel "$KERNEL" \
		--modules "$MODULES" --disk "$IMG" --memory 256M "$@" <"${VM_STDIN:-/dev/null}" 2>&1)" ||
		status=$?
	echo "status: $status" >&2
	echo "$output" >&2
}

# no_vmm_left: no VMM may outlive its test.
no_vmm_left() {
	! pgrep -f "$HUSK vm boot" >/dev/null || {
		echo "teardown: a husk vm process is still running" >&2
		pkill -9 -f "$HUSK vm boot"
		return 1
	}
}

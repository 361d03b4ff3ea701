#!/usr/bin/env bats
# VM mode's core, inside the host bed (tests/hostbed/run): `husk vm boot` boots Debian's
# cloud kernel on the bed's /dev/kvm (nested, with nested paging) and runs a process from a
# virtio-blk root image through the guest agent. Each boot takes seconds here (the bed runs
# under TCG), so the file boots a handful of times and checks several things per boot.

load ../integration/helpers

setup_file() {
	[ -n "${HUSK_HOSTBED:-}" ] || return 0
	[ -n "${HUSK_GUEST_KERNEL:-}" ] && [ -f "$HUSK_GUEST_KERNEL/vmlinuz" ] || return 0
	local r="$BATS_FILE_TMPDIR/rootfs"
	mkdir -p "$r"/{bin,dev,etc,proc,sys,tmp,root,run,usr/bin}
	cp "$BUSYBOX" "$r/bin/busybox"
	ln "$r/bin/busybox" "$r/usr/bin/busybox"
	"$BUSYBOX" --install -s "$r/bin"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	cp /etc/os-release "$r/etc/os-release"
	mke2fs -q -t ext4 -d "$r" "$BATS_FILE_TMPDIR/root.img" 64M
}

setup() {
	requires root hostbed kvm
	[ -n "${HUSK_GUEST_KERNEL:-}" ] && [ -f "$HUSK_GUEST_KERNEL/vmlinuz" ] ||
		skip "needs the guest kernel (tests/hostbed/guest-kernel.sh: apt access to linux-image-cloud-amd64)"
	IMG="$BATS_FILE_TMPDIR/root.img"
	KERNEL="$HUSK_GUEST_KERNEL/vmlinuz"
	MODULES="$HUSK_GUEST_KERNEL/lib/modules/$(cat "$HUSK_GUEST_KERNEL/version")"
}

teardown() {
	ip link del hktap0 2>/dev/null || true
	# no VMM may outlive its test
	! pgrep -f "$HUSK vm boot" >/dev/null || {
		echo "teardown: a husk vm process is still running" >&2
		pkill -9 -f "$HUSK vm boot"
		return 1
	}
}

# vmboot ARGS... -- CMD...: husk vm boot of the cloud kernel with the root image; stdin from
# $VM_STDIN (default /dev/null). Sets status and output like bats' run. The agent gets 150 s
# to answer, not the default 60: in the bed (TCG) a 2-vCPU boot took 3.7-19.8 s over 40
# boots, and these tests check what works, not how fast (tests/bench/ is for that).
vmboot() {
	run bash -c 'in="$1"; shift; "$@" <"$in" 2>&1' _ "$VM_STDIN" timeout 300 "$HUSK" --debug vm boot \
		--timeout 150 --kernel "$KERNEL" --modules "$MODULES" --disk "$IMG" --memory 256M "$@"
	echo "status: $status" >&2
	echo "$output" >&2
}
VM_STDIN=/dev/null

@test "vm boot: 2 vCPUs reach the agent; the process reads the virtio-blk root and exits 0" {
	vmboot --cpus 2 -- sh -c 'nproc; grep -c ^processor /proc/cpuinfo; cat /etc/os-release; grep " / " /proc/mounts'
	[ "$status" -eq 0 ]
	[ "$(grep -cx 2 <<<"$output")" -ge 2 ]
	assert_contains "$output" "$(grep ^PRETTY_NAME= /etc/os-release)"
	assert_contains "$output" "/dev/vda / ext4"
	# the boot report names how guest memory is translated
	[[ "$output" == *"paging"* ]]
}

@test "vm boot: stdin reaches the process through virtio-console; exit status comes back" {
	printf 'line one\nline two\n' >"$BATS_TEST_TMPDIR/in"
	VM_STDIN="$BATS_TEST_TMPDIR/in"
	vmboot -- sh -c 'cat; echo err-line >&2; head -c 16 /dev/hwrng | wc -c; exit 7'
	[ "$status" -eq 7 ]
	assert_contains "$output" "line one"
	assert_contains "$output" "line two"
	assert_contains "$output" "err-line"
	# virtio-rng: 16 bytes read from /dev/hwrng
	grep -qx ' *16' <<<"$output"
}

@test "vm boot: virtio-net over a tap reaches the bed's side" {
	ip tuntap add dev hktap0 mode tap
	ip addr add 10.213.0.1/24 dev hktap0
	ip link set hktap0 up
	vmboot --net hktap0 -- sh -c 'ip link set eth0 up && ip addr add 10.213.0.2/24 dev eth0 && ping -c 1 -W 10 10.213.0.1'
	[ "$status" -eq 0 ]
	assert_contains "$output" "1 packets received"
}

@test "vm boot: a guest poweroff and a guest panic end the VMM with an error naming it" {
	vmboot -- sh -c 'sync; poweroff -f'
	[ "$status" -eq 1 ]
	assert_contains "$output" "powered off"
	vmboot -- sh -c 'echo c > /proc/sysrq-trigger'
	[ "$status" -eq 1 ]
	assert_contains "$output" "rebooted or panicked"
}

@test "vm boot: a missing program is 127 with the agent's message" {
	vmboot -- no-such-program
	[ "$status" -eq 127 ]
	assert_contains "$output" "no-such-program"
}

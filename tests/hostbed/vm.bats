#!/usr/bin/env bats
# VM mode's core, inside the host bed (tests/hostbed/run): `husk vm boot` boots Debian's
# cloud kernel on the bed's /dev/kvm (nested, with nested paging) and runs a process from a
# virtio-blk root image through the guest agent. Each boot takes seconds here (the bed runs
# under TCG), so the file boots a handful of times and checks several things per boot.

load helpers

setup_file() {
	vm_setup_file
}

setup() {
	requires root hostbed kvm
	requires_guest_kernel
	IMG="$BATS_FILE_TMPDIR/root.img"
}

teardown() {
	ip link del hktap0 2>/dev/null || true
	no_vmm_left
}

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

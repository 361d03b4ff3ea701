#!/usr/bin/env bats
# The host bed itself (tests/hostbed/run): what keeps it from locking up. Runs first (files run
# in name order), before any other test boots a VM in the bed.
#
# The lockup it guards against: each VM's start and end used to take kvm.ko's apic_sw_disabled
# static key through zero, so the bed's kernel rewrote kvm.ko's code (int3-based text_poke)
# while other CPUs ran it, and under qemu's multi-threaded TCG a CPU could spin on a stale int3
# for good (tests/hostbed/kvm-keys.c). The bed holds the key; these tests prove that it does,
# with a kprobe on the kernel's jump_label_update().

load helpers

TRACING=/sys/kernel/tracing
PROBE=huskbed/jlu

setup_file() {
	vm_setup_file
}

setup() {
	requires root hostbed kvm
	KEYS="$HOSTBED_BUILD/tests/hostbed/hostbed-kvm-keys"
	MOUNTED_TRACING=""
	if [ ! -e "$TRACING/kprobe_events" ]; then
		mount -t tracefs tracefs "$TRACING" || skip "needs tracefs at $TRACING"
		MOUNTED_TRACING=1
	fi
	[ -w "$TRACING/kprobe_events" ] || skip "needs kprobe events (CONFIG_KPROBE_EVENTS)"
	# A kprobe on jump_label_update(struct static_key *key): one event per key switched.
	echo "p:$PROBE jump_label_update key=%di:x64" >>"$TRACING/kprobe_events"
	echo >"$TRACING/trace"
	echo 1 >"$TRACING/events/$PROBE/enable"
}

teardown() {
	if [ -e "$TRACING/events/$PROBE/enable" ]; then
		echo 0 >"$TRACING/events/$PROBE/enable"
		echo "-:$PROBE" >>"$TRACING/kprobe_events"
	fi
	[ -z "$MOUNTED_TRACING" ] || umount "$TRACING"
	no_vmm_left
}

# The addresses of kvm.ko's two per-VM keys, as the probe prints them.
kvm_key_addrs() {
	awk '($3 == "apic_sw_disabled" || $3 == "apic_hw_disabled") && $4 == "[kvm]" {
		print "0x" $1 }' /proc/kallsyms
}

# kvm_key_switches: how many times kvm.ko's per-VM keys were switched since setup.
kvm_key_switches() {
	local addrs
	addrs="$(kvm_key_addrs)"
	[ "$(wc -l <<<"$addrs")" -eq 2 ] || { echo "kallsyms has no kvm apic keys" >&2; return 1; }
	grep -o 'key=0x[0-9a-f]*' "$TRACING/trace" | cut -d= -f2 | grep -cFx "$addrs" || true
}

@test "bed: the kvm.ko key holder runs from the bed's start" {
	run pgrep -f "$KEYS hold"
	[ "$status" -eq 0 ]
}

@test "bed: a 2-vCPU guest's boot and end switch no kvm.ko key while the holder runs" {
	requires_guest_kernel
	IMG="$BATS_FILE_TMPDIR/root.img"
	vmboot --cpus 2 -- true
	[ "$status" -eq 0 ]
	# kvm.ko drops a key's last reference 1 s after the APICs are enabled (deferred)
	sleep 1.5
	[ "$(kvm_key_switches)" -eq 0 ]
}

# The control: the probe does see the switches that the holder prevents. With no VM running,
# switching the key is harmless (nothing runs the code being rewritten), so the test releases
# the hold, creates and destroys a vCPU, and holds the keys again for the tests after it.
@test "bed: without the holder, one vCPU's life switches apic_sw_disabled twice" {
	pkill -f "$KEYS hold" || true
	sleep 1.5	# the holder's deferred release
	echo >"$TRACING/trace"
	run "$KEYS" flip 1
	[ "$status" -eq 0 ]
	switches="$(kvm_key_switches)"
	setsid "$KEYS" hold </dev/null >/dev/console 2>&1 3>&- &
	sleep 0.5
	pgrep -f "$KEYS hold"
	[ "$switches" -eq 2 ]
}

#!/usr/bin/env bats
# cgroup v2 with every controller, inside the host bed (tests/hostbed/run): limits land in
# the right files with runc's conversions, are enforced, change live, and go with delete.
# Kept small: a container operation here is ~30x slower than on a host.

load helpers

CG=/sys/fs/cgroup

# Process creation is slow here, so the shared helpers' per-test bundle copy and /proc scan
# would dominate: one bundle per file (busybox --install: one process, not 400), the config
# reset before each test, and a teardown that checks what this suite creates: state, cgroups.
setup_file() {
	[ -n "${HUSK_HOSTBED:-}" ] || return 0
	local b="$BATS_FILE_TMPDIR/bundle"
	busybox_root "$b/rootfs"
	(cd "$b" && "$HUSK" spec)
	jq '.process.terminal = false | .process.args = ["sleep", "300"]' "$b/config.json" \
		>"$b/config.pristine"
}

setup() {
	requires root hostbed cgroup2
	export BUNDLE="$BATS_FILE_TMPDIR/bundle" ROOT="$BATS_TEST_TMPDIR/state"
	export SHARED="$BATS_TEST_TMPDIR/shared"
	HUSK_CALLS=0
	BG_PIDS=()
	mkdir -p "$SHARED"
	cp "$BUNDLE/config.pristine" "$BUNDLE/config.json"
	cd "$BUNDLE"
}

teardown() {
	local id p failed=0
	cd /
	for id in $(ls -A "$ROOT" 2>/dev/null); do
		"$HUSK" --root "$ROOT" delete -f "$id" </dev/null >&2 2>&1 ||
			{ echo "teardown: delete -f $id failed" >&2; failed=1; }
		[ ! -e "$CG/husk/$id" ] || { echo "teardown: cgroup left: $CG/husk/$id" >&2; failed=1; }
	done
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || { echo "teardown: state left" >&2; failed=1; }
	[ "$failed" -eq 0 ]
}

# No state and no cgroup for ID (a failed create left nothing).
nothing_left() {
	[ ! -e "$ROOT/$1" ] && [ ! -e "$CG/husk/$1" ]
}

# cgfile ID FILE: a file of the container's cgroup (default path husk/ID)
cgfile() {
	cat "$CG/husk/$1/$2"
}

# init's cgroup as the host sees it
init_cgroup() {
	sed -n 's/^0:://p' "/proc/$(state_field "$1" .pid)/cgroup"
}

@test "create: every resource lands in its file, converted like runc" {
	truncate -s 16M "$BATS_TEST_TMPDIR/disk"
	local loopdev majmin
	loopdev="$(losetup -f --show "$BATS_TEST_TMPDIR/disk")"
	majmin="$(stat -Lc '%t:%T' "$loopdev")"
	majmin="$((16#${majmin%:*})):$((16#${majmin#*:}))"
	update_config --argjson maj "${majmin%:*}" --argjson min "${majmin#*:}" '.linux.resources += {
		"memory": {"limit": 67108864, "reservation": 33554432, "swap": 100663296},
		"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000,
			"cpus": "0", "mems": "0"},
		"pids": {"limit": 100},
		"blockIO": {"weight": 500,
			"throttleReadBpsDevice": [{"major": $maj, "minor": $min, "rate": 1048576}],
			"throttleWriteIOPSDevice": [{"major": $maj, "minor": $min, "rate": 100}]},
		"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
		"unified": {"memory.high": "50331648"}}'
	husk run -d ct1
	losetup -d "$loopdev"
	[ "$status" -eq 0 ]
	[ "$(init_cgroup ct1)" = /husk/ct1 ]
	[ "$(cgfile ct1 memory.max)" = 67108864 ]
	[ "$(cgfile ct1 memory.low)" = 33554432 ]
	[ "$(cgfile ct1 memory.swap.max)" = 33554432 ]	# memory+swap 96M - memory 64M
	[ "$(cgfile ct1 memory.high)" = 50331648 ]
	[ "$(cgfile ct1 cpu.weight)" = 39 ]			# 1 + (1024-2)*9999/262142
	[ "$(cgfile ct1 cpu.max)" = "50000 100000" ]
	[ "$(cgfile ct1 cpu.max.burst)" = 1000 ]
	[ "$(cgfile ct1 cpuset.cpus)" = 0 ]
	[ "$(cgfile ct1 cpuset.mems)" = 0 ]
	[ "$(cgfile ct1 pids.max)" = 100 ]
	grep -qx "default 4950" "$CG/husk/ct1/io.weight"	# 1 + (500-10)*9999/990
	grep -q "^$majmin rbps=1048576 wbps=max riops=max wiops=100" "$CG/husk/ct1/io.max"
	[ "$(cgfile ct1 hugetlb.2MB.max)" = 4194304 ]
}

@test "create: an absolute cgroupsPath is taken from the root; .. is refused" {
	update_config '.linux.cgroupsPath = "/tenant-a/ct1" | .linux.resources.pids = {"limit": 7}'
	husk run -d ct1
	[ "$status" -eq 0 ]
	[ "$(init_cgroup ct1)" = /tenant-a/ct1 ]
	[ "$(cat $CG/tenant-a/ct1/pids.max)" = 7 ]
	husk delete -f ct1
	[ ! -e "$CG/tenant-a/ct1" ]
	rmdir "$CG/tenant-a"

	update_config '.linux.cgroupsPath = "/tenant-a/../../ct2"'
	husk run -d ct2
	[ "$status" -ne 0 ]
	assert_contains "$output" 'linux.cgroupsPath: "/tenant-a/../../ct2": `..` is not allowed'
	nothing_left ct2
}

@test "run: a memory hog is OOM-killed and events reports it" {
	update_config '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}
		| .process.args = ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]'
	husk create ct1
	[ "$status" -eq 0 ]
	"$HUSK" --root "$ROOT" events --interval 60s ct1 >"$BATS_TEST_TMPDIR/events" 2>&1 &
	local ev=$!
	BG_PIDS+=("$ev")
	sleep 1	# events is watching memory.events
	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_exit "$(state_field ct1 .pid)" 600
	wait_for_exit "$ev" 100
	cat "$BATS_TEST_TMPDIR/events" >&2
	grep -q '{"type":"oom","id":"ct1"}' "$BATS_TEST_TMPDIR/events"
	grep -q '^oom_kill [1-9]' "$CG/husk/ct1/memory.events"
	[ "$(state_field ct1 .status)" = stopped ]
}

@test "run: a fork loop stops at pids.max" {
	# the inner shell forks until it cannot (and then exits); the outer one stays
	update_config '.linux.resources.pids = {"limit": 8} | .process.args = ["sh", "-c",
		"sh -c \"for i in \\$(seq 30); do sleep 300 & done\"; sleep 300"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	sleep 3
	cat "$CG/husk/ct1/pids.current" "$CG/husk/ct1/cgroup.procs" >&2
	[ "$(cgfile ct1 pids.current)" -le 8 ]
	[ "$(cgfile ct1 pids.current)" -ge 6 ]
	grep -q '^max [1-9]' "$CG/husk/ct1/pids.events"
}

@test "run: a device outside the allow list cannot be opened (eBPF filter)" {
	# the spec's default rules: deny everything, runc's default devices allowed
	update_config '.process.capabilities |= with_entries(.value += ["CAP_MKNOD"])
		| .process.args = ["sh", "-c",
		  "mknod /dev/kmsg2 c 1 11 && echo mknod-ok; head -c1 /dev/kmsg2; echo x > /dev/null && echo null-ok"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" mknod-ok
	assert_contains "$output" "/dev/kmsg2: Operation not permitted"
	assert_contains "$output" null-ok
}

@test "pause freezes every process and resume thaws them" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /shared/n; sleep 0.2; done"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/n"
	husk pause ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = paused ]
	grep -qx "frozen 1" "$CG/husk/ct1/cgroup.events"
	local a b
	a="$(cat "$SHARED/n")"
	sleep 2
	b="$(cat "$SHARED/n")"
	[ "$a" = "$b" ]
	husk pause ct1
	[ "$status" -ne 0 ]
	husk resume ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = running ]
	sleep 2
	[ "$(cat "$SHARED/n")" -gt "$b" ]
	# a paused container can still be deleted by force
	husk pause ct1
	husk delete -f ct1
	[ "$status" -eq 0 ]
	[ ! -e "$CG/husk/ct1" ]
}

@test "update: values change live, flags and --resources" {
	update_config '.linux.resources.memory = {"limit": 67108864}'
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk update --memory 128m --memory-swap 256m --cpu-quota 20000 --cpu-period 100000 \
		--cpu-share 512 --pids-limit 50 --cpuset-cpus 0-1 ct1
	[ "$status" -eq 0 ]
	[ "$(cgfile ct1 memory.max)" = 134217728 ]
	[ "$(cgfile ct1 memory.swap.max)" = 134217728 ]
	[ "$(cgfile ct1 cpu.max)" = "20000 100000" ]
	[ "$(cgfile ct1 cpu.weight)" = 20 ]
	[ "$(cgfile ct1 pids.max)" = 50 ]
	[ "$(cgfile ct1 cpuset.cpus)" = 0-1 ]
	echo '{"memory": {"limit": -1}, "pids": {"limit": 0}, "unified": {"memory.high": "99999744"}}' >"$BATS_TEST_TMPDIR/r.json"
	husk update --resources "$BATS_TEST_TMPDIR/r.json" ct1
	[ "$status" -eq 0 ]
	[ "$(cgfile ct1 memory.max)" = max ]
	[ "$(cgfile ct1 pids.max)" = max ]
	[ "$(cgfile ct1 memory.high)" = 99999744 ]
	husk update --memory-swap 1g ct1	# swap without a memory limit
	[ "$status" -ne 0 ]
	assert_contains "$output" "linux.resources.memory.swap: a swap limit needs a memory limit"
}

@test "events --stats: one JSON document with what containerd reads" {
	update_config '.linux.resources += {"memory": {"limit": 67108864}, "pids": {"limit": 20}}'
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk events --stats ct1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.type == "stats" and .id == "ct1"
		and .data.cpu.usage.total > 0 and (.data.cpu.usage | has("kernel") and has("user"))
		and (.data.cpu.throttling | has("periods"))
		and .data.memory.usage.usage > 0 and .data.memory.usage.limit == 67108864
		and (.data.memory.usage | has("failcnt")) and (.data.memory.raw | has("anon"))
		and .data.pids.current >= 1 and .data.pids.limit == 20
		and (.data.blkio | type == "object") and (.data.hugetlb | has("2MB"))'
}

@test "ps and kill --all reach every process of the cgroup" {
	update_config '.process.args = ["sh", "-c", "sleep 300 & sleep 300 & sleep 300"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	sleep 1
	husk ps --format json ct1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq length)" -eq 3 ]
	husk ps ct1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]	# header + 3
	husk kill --all ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_exit "$(state_field ct1 .pid)"
	sleep 0.5
	[ -z "$(cgfile ct1 cgroup.procs)" ]
	husk delete ct1
	[ "$status" -eq 0 ]
	[ ! -e "$CG/husk/ct1" ]
}

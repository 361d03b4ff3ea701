#!/usr/bin/env bats
# cgroups on this kind of host: hybrid (v1 controllers, a cgroup2 mount without them) or pure
# v2. A container without limits runs and is tracked in the unified hierarchy; a limit no
# controller there can apply is refused, naming the field and the controller. What needs the
# v2 controllers themselves is proven in tests/hostbed/cgroups.bats.

load helpers

setup() {
	requires root
	setup_bundle
	update_config '.process.args = ["sleep", "300"]'
	UNIFIED=/sys/fs/cgroup
	[ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || UNIFIED=/sys/fs/cgroup/unified
	[ "$(stat -fc %T "$UNIFIED" 2>/dev/null)" = cgroup2fs ] || skip "no cgroup v2 hierarchy"
}

teardown() {
	teardown_bundle
}

hybrid() {
	[ "$UNIFIED" = /sys/fs/cgroup/unified ]
}

@test "run: a container without limits is tracked in the unified hierarchy" {
	requires husk
	husk run -d ct1
	[ "$status" -eq 0 ]
	grep -qx "0::/husk/ct1" "/proc/$(state_field ct1 .pid)/cgroup"
	grep -qx "$(state_field ct1 .pid)" "$UNIFIED/husk/ct1/cgroup.procs"
	husk delete -f ct1
	[ "$status" -eq 0 ]
	[ ! -e "$UNIFIED/husk/ct1" ]
}

@test "run: docker's zero values are not limits" {
	requires husk
	update_config '.linux.resources += {"memory": {"limit": 0, "reservation": 0, "swap": 0,
		"swappiness": null}, "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "",
		"mems": ""}, "pids": {"limit": 0}, "blockIO": {"weight": 0}}
		| .process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 0 ]
}

@test "run: on a hybrid host, limits the v2 hierarchy lacks go to the v1 controllers" {
	requires husk
	hybrid || skip "this host is pure cgroup v2"
	grep -qw memory "$UNIFIED/cgroup.controllers" && skip "memory is in the v2 hierarchy here"
	[ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/cpu ] || skip "no v1 memory and cpu here"
	update_config '.linux.resources.memory = {"limit": 67108864}
		| .linux.resources.cpu = {"shares": 512, "quota": 20000, "period": 100000}
		| .process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	[ "$(cat /sys/fs/cgroup/memory/husk/ct1/memory.limit_in_bytes)" = 67108864 ]
	[ "$(cat /sys/fs/cgroup/cpu/husk/ct1/cpu.shares)" = 512 ]
	[ "$(cat /sys/fs/cgroup/cpu/husk/ct1/cpu.cfs_quota_us)" = 20000 ]
	pid="$(state_field ct1 .pid)"
	grep -q ':memory:/husk/ct1$' "/proc/$pid/cgroup"
	# an exec'd process is bound by the same limits
	husk exec ct1 cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	assert_contains "$output" ":cpu:/husk/ct1"
	husk delete -f ct1
	[ "$status" -eq 0 ]
	[ ! -e /sys/fs/cgroup/memory/husk/ct1 ]
	[ ! -e /sys/fs/cgroup/cpu/husk/ct1 ]
	assert_nothing_left ct1
}

# The v1 join runs beside the init's own set-up (launch.c): it must be done by the time create
# returns, and the program sees itself in the v1 cgroups from its first instruction.
@test "create: on a hybrid host the init is in its v1 cgroups when create returns" {
	requires husk
	hybrid || skip "this host is pure cgroup v2"
	[ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/devices ] || skip "no v1 memory and devices here"
	grep -qw memory "$UNIFIED/cgroup.controllers" && skip "memory is in the v2 hierarchy here"
	update_config '.linux.resources.memory = {"limit": 67108864}
		| .process.args = ["cat", "/proc/self/cgroup"]'
	husk create ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	grep -q ':memory:/husk/ct1$' "/proc/$pid/cgroup"
	grep -q ':devices:/husk/ct1$' "/proc/$pid/cgroup"
	husk delete -f ct1
	husk run ct2
	[ "$status" -eq 0 ]
	assert_contains "$output" ":memory:/husk/ct2"
	assert_contains "$output" ":devices:/husk/ct2"
}

@test "run: a limit no hierarchy of a hybrid host can apply is refused, naming the controller" {
	requires husk
	hybrid || skip "this host is pure cgroup v2"
	grep -qw rdma "$UNIFIED/cgroup.controllers" && skip "rdma is in the v2 hierarchy here"
	update_config '.linux.resources.rdma = {"mlx5_0": {"hcaHandles": 3}}'
	husk run -d ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" "linux.resources.rdma"
	assert_contains "$output" "the rdma controller is not available"
	assert_nothing_left ct1
}

@test "run: v1-only resource fields are refused on cgroup v2" {
	requires husk
	update_config '.linux.resources.memory = {"disableOOMKiller": true}'
	husk run -d ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer"
	assert_nothing_left ct1
	update_config 'del(.linux.resources.memory) | .linux.resources.cpu = {"realtimeRuntime": 1000}'
	husk run -d ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime CPU limits"
	assert_nothing_left ct1
}

@test "create: a cgroupsPath that leaves the hierarchy is refused" {
	requires husk
	update_config '.linux.cgroupsPath = "/a/../../../etc"'
	husk create ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" 'linux.cgroupsPath: "/a/../../../etc": `..` is not allowed in a cgroup path'
	assert_nothing_left ct1
}

@test "run: a device outside the allow list cannot be opened (eBPF filter)" {
	update_config '.process.capabilities |= with_entries(.value += ["CAP_MKNOD"])
		| .process.args = ["sh", "-c",
		  "mknod /dev/kmsg2 c 1 11; head -c1 /dev/kmsg2; echo x > /dev/null && echo null-ok"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "/dev/kmsg2: Operation not permitted"
	assert_contains "$output" null-ok
}

@test "pause and resume through cgroup.freeze" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /shared/n; sleep 0.1; done"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/n"
	husk pause ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = paused ]
	local a
	a="$(cat "$SHARED/n")"
	sleep 0.5
	[ "$(cat "$SHARED/n")" = "$a" ]
	husk resume ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = running ]
	sleep 0.5
	[ "$(cat "$SHARED/n")" -gt "$a" ]
	husk resume ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" 'container "ct1" is not paused'
}

@test "ps: json lists the container's processes, table filters ps -ef" {
	update_config '.process.args = ["sh", "-c", "sleep 300 & sleep 300"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	sleep 0.3
	husk ps --format json ct1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq length)" -eq 2 ]
	[ "$(echo "$output" | jq '.[0]')" -eq "$(state_field ct1 .pid)" ] ||
		[ "$(echo "$output" | jq '.[1]')" -eq "$(state_field ct1 .pid)" ]
	husk ps ct1 -- -o pid,comm
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "    PID COMMAND" ] || assert_contains "${lines[0]}" PID
	[ "${#lines[@]}" -eq 3 ]
}

@test "kill --all: every process of the cgroup, then delete removes it" {
	requires husk
	update_config '.process.args = ["sh", "-c", "sleep 300 & sleep 300 & wait"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	sleep 0.3
	husk kill --all ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_exit "$(state_field ct1 .pid)"
	[ -z "$(cat "$UNIFIED/husk/ct1/cgroup.procs")" ]
	husk delete ct1
	[ "$status" -eq 0 ]
	[ ! -e "$UNIFIED/husk/ct1" ]
}

@test "events --stats: runc's JSON shape, cpu from the unified hierarchy" {
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk events --stats ct1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.type == "stats" and .id == "ct1" and (.data.cpu.usage | has("total"))
		and (.data | has("memory") and has("pids") and has("blkio") and has("hugetlb"))'
}

@test "update: a limit without its controller is refused on a hybrid host" {
	requires husk
	hybrid || skip "this host is pure cgroup v2"
	grep -qw pids "$UNIFIED/cgroup.controllers" && skip "pids is in the v2 hierarchy here"
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk update --pids-limit 10 ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" "linux.resources.pids.limit: the pids controller is not available in the cgroup v2 hierarchy (this host has hybrid cgroups)"
	husk update --pids-limit -1 ct1	# "unlimited" needs no controller
	[ "$status" -eq 0 ]
	husk update --memory 12q ct1
	[ "$status" -ne 0 ]
	assert_contains "$output" 'update: --memory: invalid value "12q"'
}

#!/usr/bin/env bats
# config.json areas other than process, mounts and namespaces: root,
# rootfsPropagation, --no-pivot, hostname, domainname, sysctl, annotations,
# hooks, resources.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "root: a relative root.path is resolved against the bundle, not the cwd" {
	mv "$BUNDLE/rootfs" "$BUNDLE/myroot"
	ROOTFS_DIR="$BUNDLE/myroot"
	update_config '.root.path = "myroot" | .process.args = ["cat", "/etc/hostname"]'
	cd /
	husk run --bundle "$BUNDLE" ct1
	[ "$status" -eq 0 ]
	[ "$output" = husk-test ]
}

@test "root: an absolute root.path outside the bundle" {
	mv "$BUNDLE/rootfs" "$BATS_TEST_TMPDIR/elsewhere"
	ROOTFS_DIR="$BATS_TEST_TMPDIR/elsewhere"
	update_config --arg p "$BATS_TEST_TMPDIR/elsewhere" '.root.path = $p | .process.args = ["cat", "/etc/hostname"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = husk-test ]
}

@test "root: the container's / is the bundle rootfs" {
	update_config '.process.args = ["stat", "-c", "%i", "/"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$(stat -c %i "$BUNDLE/rootfs")" ]
}

@test "root: readonly true refuses writes to /" {
	update_config '.root.readonly = true | .process.args = ["sh", "-c", "exec 2>&1; touch /newfile && echo WROTE; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "Read-only file system"
	[[ "$output" != *WROTE* ]]
	[ ! -e "$BUNDLE/rootfs/newfile" ]
}

@test "root: readonly false lets writes reach the rootfs" {
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "echo hi > /newfile"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$(cat "$BUNDLE/rootfs/newfile")" = hi ]
}

# the propagation tags (mountinfo field 7 on) of the container's /
root_propagation_script='awk "\$5 == \"/\" { s = \"\"; for (i = 7; \$i != \"-\"; i++) s = s \" \" \$i; print \"tags:\" s }" /proc/self/mountinfo'

@test "root: rootfsPropagation shared, slave and private" {
	host_root_before="$(awk '$5 == "/"' /proc/self/mountinfo)"
	update_config --arg s "$root_propagation_script" '.linux.rootfsPropagation = "shared" | .process.args = ["sh", "-c", $s]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" == *shared:* ]]

	update_config '.linux.rootfsPropagation = "private"'
	husk run ct2
	[ "$status" -eq 0 ]
	[[ "$output" != *shared:* ]]
	[[ "$output" != *master:* ]]

	# the host's / keeps its propagation
	[ "$(awk '$5 == "/"' /proc/self/mountinfo)" = "$host_root_before" ]
}

@test "root: rootfsPropagation slave receives host mounts made later" {
	# a shared host-side dir the test owns, bound into the container as a slave
	mkdir -p "$SHARED/prop"
	mount --bind "$SHARED/prop" "$SHARED/prop"
	track_mount "$SHARED/prop"
	mount --make-shared "$SHARED/prop"
	update_config --arg s "$SHARED/prop" '.linux.rootfsPropagation = "rslave"
		| .mounts += [{"destination": "/prop", "type": "bind", "source": $s, "options": ["rbind", "rslave"]}]
		| .process.args = ["sh", "-c", "while [ ! -e /prop/sub/file ]; do sleep 0.1; done; cat /prop/sub/file"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	mkdir -p "$SHARED/prop/sub"
	mount -t tmpfs -o size=1m husk-test-prop "$SHARED/prop/sub"
	track_mount "$SHARED/prop/sub"
	echo propagated >"$SHARED/prop/sub/file"
	wait_for_status ct1 stopped
	[ "$(cat "$HUSK_OUT")" = propagated ]
}

@test "create: --no-pivot runs the container on its rootfs" {
	update_config '.process.args = ["sh", "-c", "cat /etc/hostname; stat -c %i /"]'
	husk run --no-pivot ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = husk-test ]
	[ "${lines[1]}" = "$(stat -c %i "$BUNDLE/rootfs")" ]
}

@test "hostname: set from config.json, host untouched" {
	host="$(hostname)"
	update_config '.hostname = "box1" | .process.args = ["hostname"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = box1 ]
	[ "$(hostname)" = "$host" ]
}

@test "domainname: set from config.json" {
	host="$(cat /proc/sys/kernel/domainname)"
	update_config '.domainname = "example.org" | .process.args = ["cat", "/proc/sys/kernel/domainname"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = example.org ]
	[ "$(cat /proc/sys/kernel/domainname)" = "$host" ]
}

@test "sysctl: net.ipv4.ip_forward in a new network namespace" {
	host="$(cat /proc/sys/net/ipv4/ip_forward)"
	want=$((1 - host))
	update_config --arg v "$want" '.linux.sysctl = {"net.ipv4.ip_forward": $v}
		| .process.args = ["cat", "/proc/sys/net/ipv4/ip_forward"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host" ]
}

@test "sysctl: kernel.shmmax in a new ipc namespace, host untouched" {
	host="$(cat /proc/sys/kernel/shmmax)"
	update_config '.linux.sysctl = {"kernel.shmmax": "123456789", "kernel.msgmax": "4096"}
		| .process.args = ["sh", "-c", "cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 123456789 ]
	[ "${lines[1]}" = 4096 ]
	[ "$(cat /proc/sys/kernel/shmmax)" = "$host" ]
}

@test "sysctl: a slash-separated key works like the dotted one" {
	update_config '.linux.sysctl = {"net/ipv4/ip_default_ttl": "42"}
		| .process.args = ["cat", "/proc/sys/net/ipv4/ip_default_ttl"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = 42 ]
}

@test "annotations: shown by state" {
	update_config '.annotations = {"org.example.key": "value", "other": "x y"}'
	husk create ct1
	[ "$status" -eq 0 ]
	husk state ct1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.annotations["org.example.key"] == "value" and .annotations.other == "x y"'
}

@test "ociVersion: any 1.x version is accepted" {
	update_config '.ociVersion = "1.0.0" | .process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 0 ]
}

# --- hooks: host programs that record the state they get on stdin

# write_hook NAME: a host script that appends "NAME <state json>" to $SHARED/hooks
write_hook() {
	cat >"$BATS_TEST_TMPDIR/hook-$1" <<-EOF
		#!/bin/sh
		state="\$(cat)"
		echo "$1 \$state" >> "$SHARED/hooks"
		echo "$1 args:\$*" >> "$SHARED/hook-args"
		echo "$1 env:\$HOOK_ENV" >> "$SHARED/hook-args"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/hook-$1"
}

@test "hooks: createRuntime, poststart and poststop run in order with the state on stdin" {
	for h in createRuntime poststart poststop; do write_hook "$h"; done
	update_config --arg d "$BATS_TEST_TMPDIR" '.hooks = {
			"createRuntime": [{"path": "\($d)/hook-createRuntime", "args": ["hook-createRuntime", "a1"], "env": ["HOOK_ENV=yes"]}],
			"poststart": [{"path": "\($d)/hook-poststart"}],
			"poststop": [{"path": "\($d)/hook-poststop"}]}
		| .process.args = ["sleep", "1000"]'
	husk create ct1
	[ "$status" -eq 0 ]
	cat "$SHARED/hooks" >&2
	[ "$(cut -d" " -f1 "$SHARED/hooks")" = createRuntime ]
	pid="$(state_field ct1 .pid)"
	line="$(grep '^createRuntime ' "$SHARED/hooks" | cut -d' ' -f2-)"
	echo "$line" | jq -e --arg pid "$pid" '.id == "ct1" and (.pid | tostring) == $pid and .bundle == env.BUNDLE'
	grep -qx 'createRuntime args:a1' "$SHARED/hook-args"
	grep -qx 'createRuntime env:yes' "$SHARED/hook-args"

	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/hooks"
	[ "$(cut -d' ' -f1 "$SHARED/hooks" | tr '\n' ' ')" = "createRuntime poststart " ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 "$SHARED/hooks" | tr '\n' ' ')" = "createRuntime poststart poststop " ]
}

@test "hooks: a failing createRuntime hook fails create and leaves nothing" {
	printf '#!/bin/sh\necho hook-says-no >&2\nexit 3\n' >"$BATS_TEST_TMPDIR/bad-hook"
	chmod +x "$BATS_TEST_TMPDIR/bad-hook"
	update_config --arg p "$BATS_TEST_TMPDIR/bad-hook" '.hooks = {"createRuntime": [{"path": $p}]}'
	husk create ct1
	[ "$status" -eq 1 ]
	assert_nothing_left ct1
}

@test "hooks: a hook that exceeds its timeout fails create" {
	printf '#!/bin/sh\nexec sleep 30\n' >"$BATS_TEST_TMPDIR/slow-hook"
	chmod +x "$BATS_TEST_TMPDIR/slow-hook"
	update_config --arg p "$BATS_TEST_TMPDIR/slow-hook" '.hooks = {"createRuntime": [{"path": $p, "timeout": 1}]}'
	start=$SECONDS
	husk create ct1
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 15 ]
	assert_nothing_left ct1
}

# --- resources: cgroup v2 only (the host bed)

@test "resources: memory.limit and pids.limit land in the container's cgroup" {
	requires cgroup2
	update_config '.linux.resources.memory = {"limit": 67108864}
		| .linux.resources.pids = {"limit": 42}
		| .linux.namespaces += [{"type": "cgroup"}]
		| .process.args = ["sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 67108864 ]
	[ "${lines[1]}" = 42 ]
}

@test "resources: cpu quota and weight land in the container's cgroup" {
	requires cgroup2
	update_config '.linux.resources.cpu = {"quota": 50000, "period": 100000, "shares": 1024}
		| .linux.namespaces += [{"type": "cgroup"}]
		| .process.args = ["sh", "-c", "cat /sys/fs/cgroup/cpu.max"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "50000 100000" ]
}

#!/usr/bin/env bats
# Failure paths: each exits 1, names the field or argument at fault, and
# leaves nothing behind (state dir, mount, process, cgroup).

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

# expect_run_fails ID TEXT...: `run ID` fails with exit 1, says every TEXT, leaves nothing.
expect_run_fails() {
	local id="$1" t
	shift
	husk run "$id"
	[ "$status" -eq 1 ]
	for t in "$@"; do
		assert_contains "$output" "$t"
	done
	assert_nothing_left "$id"
}

@test "config: invalid JSON names config.json" {
	echo '{"ociVersion": "1.0.2", ' >"$BUNDLE/config.json"
	expect_run_fails err1 config.json
}

@test "config: missing config.json names it" {
	rm "$BUNDLE/config.json"
	expect_run_fails err1 config.json
}

@test "config: a wrong type names the JSON path" {
	update_config '.process.args = "sh"'
	expect_run_fails err1 "process.args: expected array of strings"
}

@test "config: a wrong type deeper down names the full JSON path" {
	update_config '.linux.namespaces[0].type = 5'
	expect_run_fails err1 "linux.namespaces[0].type"
}

@test "config: empty process.args is refused" {
	update_config '.process.args = []'
	expect_run_fails err1 "process.args"
}

@test "config: an unsupported ociVersion is refused" {
	update_config '.ociVersion = "9.9.9"'
	expect_run_fails err1 "ociVersion"
}

@test "config: a malformed ociVersion is refused" {
	update_config '.ociVersion = "banana"'
	expect_run_fails err1 "ociVersion"
}

@test "config: a missing rootfs names root.path" {
	update_config '.root.path = "no-such-rootfs"'
	expect_run_fails err1 "root.path" "no-such-rootfs"
}

@test "config: a missing rootfs fails (any message)" {
	update_config '.root.path = "no-such-rootfs"'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "no-such-rootfs"
	assert_nothing_left err1
}

@test "mounts: a bind of a missing source names mounts[N] and leaves nothing" {
	n="$(jq '.mounts | length' config.json)"
	update_config '.mounts += [{"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["bind"]}]'
	expect_run_fails err1 "mounts[$n]" "/no/such/source"
}

@test "mounts: a failed mount after others leaves none of them" {
	update_config --arg s "$SHARED" '.mounts += [
		{"destination": "/ok1", "type": "bind", "source": $s, "options": ["rbind"]},
		{"destination": "/ok2", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
		{"destination": "/bad", "type": "bind", "source": "/no/such/source", "options": ["bind"]}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "/no/such/source"
	assert_nothing_left err1
}

@test "mounts: an unknown filesystem type names the mount" {
	n="$(jq '.mounts | length' config.json)"
	update_config '.mounts += [{"destination": "/x", "type": "nosuchfs", "source": "none"}]'
	expect_run_fails err1 "mounts[$n]"
}

@test "exec: a program missing from PATH says executable file not found" {
	update_config '.process.args = ["nosuchprog"]'
	expect_run_fails err1 'exec: "nosuchprog": executable file not found in $PATH'
}

@test "exec: a missing absolute program says no such file or directory" {
	update_config '.process.args = ["/nosuch"]'
	expect_run_fails err1 'exec: "/nosuch": stat /nosuch: no such file or directory'
}

@test "exec: create fails for a missing program, before start" {
	update_config '.process.args = ["/nosuch"]'
	husk create err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "no such file or directory"
	assert_nothing_left err1
}

@test "exec: a file that is not executable says permission denied" {
	update_config '.process.args = ["/etc/passwd"]'
	expect_run_fails err1 'exec: "/etc/passwd": permission denied'
}

@test "exec: a missing cwd fails naming process.cwd or the path" {
	update_config '.process.cwd = "/etc/passwd/sub" | .process.args = ["true"]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "/etc/passwd"
	assert_nothing_left err1
}

@test "create: a duplicate id fails and leaves the original alone" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d dup
	[ "$status" -eq 0 ]
	pid="$(state_field dup .pid)"
	husk run dup
	[ "$status" -eq 1 ]
	assert_contains "$output" "container with id exists: dup"
	[ "$(state_field dup .pid)" = "$pid" ]
	[ "$(state_field dup .status)" = running ]
}

@test "namespaces: an unknown type names linux.namespaces[N]" {
	update_config '.linux.namespaces += [{"type": "bogus"}]'
	n=$(($(jq '.linux.namespaces | length' config.json) - 1))
	expect_run_fails err1 "linux.namespaces[$n]" "bogus"
}

@test "namespaces: a path that does not exist is named" {
	update_config '.linux.namespaces |= map(if .type == "network" then .path = "/no/such/netns" else . end)'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "/no/such/netns"
	assert_nothing_left err1
}

@test "namespaces: a path of the wrong namespace type is refused" {
	update_config '.linux.namespaces |= map(if .type == "network" then .path = "/proc/1/ns/uts" else . end)'
	husk run err1
	[ "$status" -eq 1 ]
	assert_nothing_left err1
}

@test "namespaces: the same type twice is refused" {
	update_config '.linux.namespaces += [{"type": "network"}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "network"
	assert_nothing_left err1
}

@test "namespaces: uid mappings without a user namespace are refused" {
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "uidMappings"
	assert_nothing_left err1
}

@test "namespaces: a user namespace without mappings is refused" {
	update_config '.linux.namespaces += [{"type": "user"}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_nothing_left err1
}

@test "hostname: set without a private uts namespace is refused" {
	update_config '.linux.namespaces |= map(select(.type != "uts")) | .hostname = "nope"'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "hostname"
	assert_contains "${output,,}" "uts"
	assert_nothing_left err1
	[ "$(hostname)" != nope ]
}

@test "sysctl: a net.* key without a private network namespace is refused" {
	update_config '.linux.namespaces |= map(select(.type != "network"))
		| .linux.sysctl = {"net.ipv4.ip_forward": "1"}'
	before="$(cat /proc/sys/net/ipv4/ip_forward)"
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "net.ipv4.ip_forward"
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$before" ]
	assert_nothing_left err1
}

@test "sysctl: a key that is not namespaced is refused" {
	update_config '.linux.sysctl = {"kernel.panic": "5"}'
	before="$(cat /proc/sys/kernel/panic)"
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "kernel.panic"
	[ "$(cat /proc/sys/kernel/panic)" = "$before" ]
	assert_nothing_left err1
}

@test "rlimits: an unknown type is refused naming it" {
	update_config '.process.rlimits = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "RLIMIT_BOGUS"
	assert_nothing_left err1
}

@test "rlimits: raising NOFILE above the host hard limit fails (EPERM)" {
	hard="$(ulimit -Hn)"
	update_config --argjson h "$((hard + 1000))" '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": $h, "hard": $h}]'
	grep -q '^CapBnd:.*' /proc/self/status
	# only meaningful when CAP_SYS_RESOURCE is missing from the bounding set
	bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
	[ $((bnd >> 24 & 1)) -eq 0 ] || skip "CAP_SYS_RESOURCE is available here"
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "RLIMIT_NOFILE"
	assert_nothing_left err1
}

@test "capabilities: an unknown capability name is refused naming the field" {
	# A name no kernel knows is a mistake in the config (issue 4 asks to refuse it clearly);
	# names the kernel is too old for (but the spec knows) are skipped at apply time.
	update_config '.process.capabilities.bounding += ["CAP_BOGUS"] | .process.args = ["true"]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" 'process.capabilities.bounding[3]: unknown capability "CAP_BOGUS"'
	assert_nothing_left err1
}

@test "seccomp: an unknown syscall action is refused" {
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_BOGUS"}'
	husk run err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "SCMP_ACT_BOGUS"
	assert_nothing_left err1
}

@test "devices: an invalid device type is refused" {
	update_config '.linux.devices = [{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]'
	husk run err1
	[ "$status" -eq 1 ]
	assert_nothing_left err1
}

@test "errors: messages start with husk: on stderr, one line" {
	update_config '.process.args = "sh"'
	run bash -c '"$HUSK" --root "$ROOT" run err1 2>&1 >/dev/null </dev/null'
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "husk: "* ]]
	assert_nothing_left err1
}

@test "errors: --bundle that does not exist is named" {
	husk run --bundle /no/such/bundle err1
	[ "$status" -eq 1 ]
	assert_contains "$output" "/no/such/bundle"
	assert_nothing_left err1
}

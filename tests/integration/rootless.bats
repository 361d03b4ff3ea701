#!/usr/bin/env bats
# rootless: `husk spec --rootless` and `husk run` as an unprivileged user
# (nobody, uid 65534): a user namespace mapping only that uid, state under
# $XDG_RUNTIME_DIR/husk, no cgroup of its own; newuidmap for wider maps.

load helpers

NOBODY=65534

setup() {
	requires userns
	setup_bundle
	# A tree nobody can traverse and own: the test's tmpdir is root's alone.
	RL_DIR="$(mktemp -d /tmp/husk-rootless.XXXXXX)"
	chmod 755 "$RL_DIR"
	cp -a "$ROOTFS_DIR" "$RL_DIR/rootfs"
	cp "$HUSK" "$RL_DIR/husk"
	mkdir -p "$RL_DIR/run"
	chown -R "$NOBODY:$NOBODY" "$RL_DIR"
}

teardown() {
	local id
	if [ -n "${RL_DIR:-}" ] && [ -d "$RL_DIR/run/husk" ]; then
		for id in $(ls -A "$RL_DIR/run/husk"); do
			as_nobody ./husk delete -f "$id" >/dev/null 2>&1
		done
	fi
	[ -n "${RL_DIR:-}" ] && rm -rf "$RL_DIR"
	teardown_bundle
}

# as_nobody CMD...: run CMD in $RL_DIR as uid/gid 65534, no supplementary
# groups, a clean environment with XDG_RUNTIME_DIR set. Output goes through a
# file: a container started by create keeps its stdout open.
as_nobody() {
	local out="$BATS_TEST_TMPDIR/nobody.out" rc
	(cd "$RL_DIR" && setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$RL_DIR/run" \
		${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
		"$@") \
		</dev/null >"$out" 2>&1
	rc=$?
	cat "$out"
	return "$rc"
}

# rl_config FILTER: jq on $RL_DIR/config.json (as root), kept owned by nobody
rl_config() {
	jq "$@" "$RL_DIR/config.json" >"$RL_DIR/config.json.tmp" &&
		mv "$RL_DIR/config.json.tmp" "$RL_DIR/config.json" &&
		chown "$NOBODY:$NOBODY" "$RL_DIR/config.json"
}

@test "rootless: spec --rootless + run as an unprivileged user works" {
	run as_nobody ./husk spec --rootless
	[ "$status" -eq 0 ]
	run jq -c '[.linux.uidMappings, .linux.gidMappings, ([.linux.namespaces[].type] | index("user") != null)]' "$RL_DIR/config.json"
	[ "$output" = '[[{"containerID":0,"hostID":65534,"size":1}],[{"containerID":0,"hostID":65534,"size":1}],true]' ]
	rl_config '.process.terminal = false | .root.readonly = false
		| .process.args = ["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; echo hello > /tmp/f && cat /tmp/f"]'
	run as_nobody ./husk run rl1
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "$(echo ${lines[2]})" = "0 65534 1" ]
	[ "${lines[3]}" = hello ]
	# state lived under $XDG_RUNTIME_DIR/husk and is gone after the foreground run
	[ -d "$RL_DIR/run/husk" ]
	[ -z "$(ls -A "$RL_DIR/run/husk")" ]
}

# Without CAP_SYS_ADMIN there is no read-only bind of husk (security.bats): the init runs
# from a sealed memfd copy, which nobody can write through either.
@test "rootless: husk re-executes from a sealed memfd copy" {
	run as_nobody ./husk spec --rootless
	[ "$status" -eq 0 ]
	rl_config '.process.terminal = false | .process.args = ["readlink", "/proc/self/exe"]
		| .hooks.startContainer = [{"path": "/bin/sh", "args": ["sh", "-c",
			"readlink /proc/1/exe; echo x 1<>/proc/1/exe || echo refused"]}]'
	run as_nobody ./husk --debug run rl1
	echo "$output" >&2
	[ "$status" -eq 0 ]
	assert_contains "$output" "a sealed copy instead"
	assert_contains "$output" "memfd:husk"
	assert_contains "$output" "refused"
	[ "$(grep -c "re-executing" <<<"$output")" -eq 1 ]
}

@test "rootless: the lifecycle commands work for the unprivileged owner" {
	run as_nobody ./husk spec --rootless
	rl_config '.process.terminal = false | .process.args = ["sleep", "1000"]'
	run as_nobody ./husk create rl2
	[ "$status" -eq 0 ]
	run as_nobody ./husk state rl2
	[ "$(jq -r .status <<<"$output")" = created ]
	run as_nobody ./husk start rl2
	[ "$status" -eq 0 ]
	run as_nobody ./husk exec rl2 id -u
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	run as_nobody ./husk kill rl2 KILL
	[ "$status" -eq 0 ]
	run as_nobody ./husk delete -f rl2
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$RL_DIR/run/husk")" ]
}

@test "rootless: a map beyond one's own uid goes through newuidmap; refused without subuids" {
	command -v newuidmap >/dev/null || skip "needs newuidmap (uidmap package)"
	grep -q "^nobody:\|^$NOBODY:" /etc/subuid 2>/dev/null && skip "nobody has subordinate uids here"
	run as_nobody ./husk spec --rootless
	rl_config '.process.terminal = false | .process.args = ["true"]
		| .linux.uidMappings += [{"containerID": 1, "hostID": 100000, "size": 1000}]'
	run as_nobody ./husk run rl3
	echo "$output" >&2
	[ "$status" -eq 1 ]
	assert_contains "$output" "linux.uidMappings: newuidmap refused the mapping"
	[ -z "$(ls -A "$RL_DIR/run/husk")" ]
	[ -z "$(pgrep -u "$NOBODY" -f "$RL_DIR" || true)" ]
}

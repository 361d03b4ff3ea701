#!/usr/bin/env bats
# create, start, run, state, kill, delete, list: the container lifecycle.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "create: program waits until start, then runs; state follows created→running→stopped" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "echo ran > /shared/ran; sleep 1000"]'
	husk create ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = created ]
	[ -e "$ROOT/ct1/state.json" ]
	sleep 0.3
	[ ! -e "$SHARED/ran" ]

	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/ran"
	[ "$(cat "$SHARED/ran")" = ran ]
	[ "$(state_field ct1 .status)" = running ]

	pid="$(state_field ct1 .pid)"
	kill -9 "$pid"
	wait_for_status ct1 stopped
	husk delete ct1
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/ct1" ]
	husk state ct1
	[ "$status" -eq 1 ]
}

@test "create: --bundle and -b select the bundle from another directory" {
	cd /
	husk create --bundle "$BUNDLE" ct1
	[ "$status" -eq 0 ]
	husk create -b "$BUNDLE" ct2
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .bundle)" = "$BUNDLE" ]
	[ "$(state_field ct2 .bundle)" = "$BUNDLE" ]
	[ "$(state_field ct1 .status)" = created ]
}

@test "create: the init process exists and waits before start (pid alive)" {
	husk create ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	[ "$pid" -gt 1 ]
	pid_alive "$pid"
	[ "/proc/$pid/root" -ef "$BUNDLE/rootfs" ]
}

@test "state: JSON has the OCI fields" {
	husk create ct1
	[ "$status" -eq 0 ]
	husk state ct1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '
		(.ociVersion | type == "string") and
		.id == "ct1" and
		(.pid | type == "number") and .pid > 0 and
		.status == "created" and
		.bundle == env.BUNDLE and
		(.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))'
	# the rootfs is an absolute path to the bundle's root
	[ "$(echo "$output" | jq -r .rootfs)" = "$BUNDLE/rootfs" ]
}

@test "state: pretty-printed with 2-space indent" {
	requires husk
	husk create ct1
	husk state ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "{" ]
	[[ "${lines[1]}" =~ ^\ \ \"ociVersion\":\  ]]
	echo "$output" | jq -e '.owner | type == "string"'
}

@test "state: unknown id fails naming it" {
	husk state nosuch
	[ "$status" -eq 1 ]
	assert_contains "$output" 'container "nosuch" does not exist'
}

@test "create: --pid-file holds the pid that state reports" {
	husk create --pid-file "$BATS_TEST_TMPDIR/pid" ct1
	[ "$status" -eq 0 ]
	[ -s "$BATS_TEST_TMPDIR/pid" ]
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(state_field ct1 .pid)" ]
}

@test "create: relative --pid-file is resolved against the cwd" {
	husk create --pid-file init.pid ct1
	[ "$status" -eq 0 ]
	[ "$(cat "$BUNDLE/init.pid")" = "$(state_field ct1 .pid)" ]
}

@test "create: exec.fifo exists while created and is gone after start" {
	requires husk
	update_config '.process.args = ["sleep", "1000"]'
	husk create ct1
	[ "$status" -eq 0 ]
	[ -p "$ROOT/ct1/exec.fifo" ]
	husk start ct1
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/ct1/exec.fifo" ]
}

@test "run: foreground prints the program's output and exits 0" {
	update_config '.process.args = ["echo", "hello from the container"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "hello from the container" ]
	# run deletes the container afterwards
	[ ! -e "$ROOT/ct1" ]
}

@test "run: exit code of the container process is passed through" {
	update_config '.process.args = ["sh", "-c", "exit 3"]'
	husk run ct1
	[ "$status" -eq 3 ]
	[ ! -e "$ROOT/ct1" ]
}

@test "run: a process killed by signal N exits 128+N" {
	# not pid 1 of a pid namespace: that one ignores signals it has no handler for
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .process.args = ["sh", "-c", "kill -USR1 $$; sleep 5"]'
	husk run ct1
	[ "$status" -eq $((128 + 10)) ]
}

@test "run: --pid-file is written in foreground mode too" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "echo $$ > /shared/inner"]'
	husk run --pid-file "$BATS_TEST_TMPDIR/pid" ct1
	[ "$status" -eq 0 ]
	[ -s "$BATS_TEST_TMPDIR/pid" ]
	# pid 1 inside the new pid namespace
	[ "$(cat "$SHARED/inner")" = 1 ]
}

@test "run: --detach returns while the container keeps running" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run --detach ct1
	[ "$status" -eq 0 ]
	[ "$(state_field ct1 .status)" = running ]
	husk run -d ct2
	[ "$status" -eq 0 ]
	[ "$(state_field ct2 .status)" = running ]
}

@test "run: stdout and stderr of the container go to the caller's" {
	update_config '.process.args = ["sh", "-c", "echo out; echo err >&2"]'
	run bash -c '"$HUSK" --root "$ROOT" run ct1 2>/dev/null </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = out ]
	run bash -c '"$HUSK" --root "$ROOT" run ct2 2>&1 >/dev/null </dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = err ]
}

@test "run: stdin of the caller reaches the container" {
	update_config '.process.args = ["sh", "-c", "read line; echo got $line"]'
	run bash -c 'echo hi | "$HUSK" --root "$ROOT" run ct1'
	[ "$status" -eq 0 ]
	[ "$output" = "got hi" ]
}

@test "start: a second start fails and the container keeps running" {
	update_config '.process.args = ["sleep", "1000"]'
	husk create ct1
	husk start ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "cannot start an already running container"
	[ "$(state_field ct1 .status)" = running ]
}

@test "start: a stopped container cannot be started" {
	update_config '.process.args = ["true"]'
	husk create ct1
	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	husk start ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "cannot start a container that has stopped"
}

@test "start: unknown id fails" {
	husk start nosuch
	[ "$status" -eq 1 ]
	assert_contains "$output" 'container "nosuch" does not exist'
}

@test "kill: default signal is SIGTERM" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "trap \"echo term > /shared/sig; exit 0\" TERM; echo ready > /shared/ready; while true; do sleep 0.1; done"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/ready"
	husk kill ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/sig"
	[ "$(cat "$SHARED/sig")" = term ]
	wait_for_status ct1 stopped
}

@test "kill: signal by number, by name and by SIG-name" {
	bind_shared
	update_config '.process.args = ["sh", "-c", "trap \"echo usr1 >> /shared/sig\" USR1; trap \"echo usr2 >> /shared/sig\" USR2; trap \"echo hup >> /shared/sig\" HUP; echo ready > /shared/ready; while true; do sleep 0.1; done"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/ready"
	n=0
	for sig in 10 USR2 SIGHUP; do
		husk kill ct1 "$sig"
		[ "$status" -eq 0 ]
		n=$((n + 1))
		# one at a time: sh runs pending traps in signal-number order
		for _ in $(seq 50); do
			[ "$(cat "$SHARED/sig" 2>/dev/null | wc -l)" -ge "$n" ] && break
			sleep 0.1
		done
	done
	[ "$(cat "$SHARED/sig")" = "$(printf 'usr1\nusr2\nhup')" ]
	husk kill ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
}

@test "kill: SIGKILL stops a running container" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	pid="$(state_field ct1 .pid)"
	husk kill ct1 9
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	wait_for_status ct1 stopped
}

@test "kill: a created container can be killed before start" {
	husk create ct1
	pid="$(state_field ct1 .pid)"
	husk kill ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	wait_for_status ct1 stopped
}

@test "kill: unknown signal name fails" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	husk kill ct1 SIGNOPE
	[ "$status" -eq 1 ]
	assert_contains "$output" "NOPE"
	[ "$(state_field ct1 .status)" = running ]
}

@test "kill: a stopped container is not running" {
	update_config '.process.args = ["true"]'
	husk run -d ct1
	wait_for_status ct1 stopped
	husk kill ct1 KILL
	[ "$status" -eq 1 ]
	assert_contains "$output" 'container "ct1" is not running'
}

@test "kill: --all signals every process of the container" {
	bind_shared
	# share the host pid namespace so killing init alone would not take the child
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .process.args = ["sh", "-c", "sleep 1000 & echo $! > /shared/child; wait"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/child"
	child="$(cat "$SHARED/child")"
	pid="$(state_field ct1 .pid)"
	pid_alive "$child"
	husk kill --all ct1 9
	[ "$status" -eq 0 ]
	wait_for_exit "$child"
	wait_for_exit "$pid"
	wait_for_status ct1 stopped
}

@test "kill: -a is short for --all" {
	bind_shared
	update_config '.linux.namespaces |= map(select(.type != "pid"))
		| .process.args = ["sh", "-c", "sleep 1000 & echo $! > /shared/child; wait"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/child"
	child="$(cat "$SHARED/child")"
	husk kill -a ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_exit "$child"
}

@test "delete: a running container is refused without --force" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	husk delete ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "cannot delete container ct1 that is not stopped: running"
	[ "$(state_field ct1 .status)" = running ]
}

@test "delete: --force kills a running container and removes it" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	pid="$(state_field ct1 .pid)"
	husk delete --force ct1
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	[ ! -e "$ROOT/ct1" ]
	assert_nothing_left ct1
}

@test "delete: -f removes a created container and its waiting init" {
	husk create ct1
	pid="$(state_field ct1 .pid)"
	husk delete -f ct1
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	assert_nothing_left ct1
}

@test "delete: a created container can be deleted without --force" {
	husk create ct1
	pid="$(state_field ct1 .pid)"
	husk delete ct1
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	assert_nothing_left ct1
}

# A create killed after its cgroups exist but before state.json: the state directory says
# where the cgroup is, so delete --force removes it (and with it the v1 twins on hybrid hosts).
@test "delete: --force after a create killed before its state leaves nothing" {
	requires husk
	local mark="$BATS_TEST_TMPDIR/hook-pid" create
	update_config --arg m "$mark" '.process.args = ["true"]
		| .hooks.createRuntime = [{"path": "/bin/sh",
			"args": ["sh", "-c", "cd / && echo $$ > \"$0\" && exec sleep 30", $m]}]'
	(cd "$BUNDLE" && exec "$HUSK" --root "$ROOT" create ct1 </dev/null >/dev/null 2>&1) &
	create=$!
	wait_for_file "$mark" 100
	kill -9 "$create"
	wait "$create" || true
	kill -9 "$(cat "$mark")"
	[ -d "$ROOT/ct1" ] && [ ! -e "$ROOT/ct1/state.json" ]
	[ -n "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 7 -type d -name ct1)" ]
	husk delete --force ct1
	[ "$status" -eq 0 ]
	assert_nothing_left ct1
}

@test "delete: --force of a missing id exits 0" {
	husk delete --force nosuch
	[ "$status" -eq 0 ]
	husk delete -f nosuch
	[ "$status" -eq 0 ]
}

@test "delete: a missing id without --force fails" {
	husk delete nosuch
	[ "$status" -eq 1 ]
	assert_contains "$output" 'container "nosuch" does not exist'
}

@test "create: a duplicate id fails and the original is untouched" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	before="$(cat "$ROOT/ct1/state.json")"
	husk create ct1
	[ "$status" -eq 1 ]
	[ "$(state_field ct1 .status)" = running ]
	[ "$(state_field ct1 .pid)" = "$pid" ]
	[ "$(cat "$ROOT/ct1/state.json")" = "$before" ]
	pid_alive "$pid"
	husk run ct1
	[ "$status" -eq 1 ]
	pid_alive "$pid"
}

@test "create: duplicate id error names the id" {
	husk create ct1
	[ "$status" -eq 0 ]
	husk create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "container with id exists: ct1"
}

@test "create: invalid ids are refused (a/b, .., empty, ../x)" {
	for id in a/b .. ../x "" .; do
		husk create "$id"
		[ "$status" -eq 1 ]
	done
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ]
	[ ! -e "$BUNDLE/x" ]
	[ ! -e "$(dirname "$ROOT")/x" ]
	check_no_processes
}

@test "create: invalid id message names it" {
	husk create a/b
	[ "$status" -eq 1 ]
	assert_contains "$output" 'invalid container id "a/b"'
}

@test "list: table with 0, 1 and 2 containers" {
	husk list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" =~ ^ID\ +PID\ +STATUS\ +BUNDLE\ +CREATED\ +OWNER ]]

	update_config '.process.args = ["sleep", "1000"]'
	husk create ct1
	husk list
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	read -r id pid st bundle rest <<<"${lines[1]}"
	[ "$id" = ct1 ]
	[ "$pid" = "$(state_field ct1 .pid)" ]
	[ "$st" = created ]
	[ "$bundle" = "$BUNDLE" ]

	husk run -d ct2
	husk list
	[ "${#lines[@]}" -eq 3 ]
	[[ "$output" == *ct1*created* ]]
	[[ "$output" == *ct2*running* ]]
}

@test "list: --format json with 0, 1 and 2 containers" {
	husk list --format json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq length)" -eq 0 ]

	update_config '.process.args = ["sleep", "1000"]'
	husk create ct1
	husk list -f json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq length)" -eq 1 ]
	echo "$output" | jq -e '.[0].id == "ct1" and .[0].status == "created" and .[0].bundle == env.BUNDLE and (.[0].pid > 0)'

	husk run -d ct2
	husk list --format=json
	[ "$(echo "$output" | jq length)" -eq 2 ]
	[ "$(echo "$output" | jq -r '[.[].id] | sort | join(",")')" = "ct1,ct2" ]
	[ "$(echo "$output" | jq -r '.[] | select(.id == "ct2") | .status')" = running ]
}

@test "list: an empty json list is []" {
	requires husk
	husk list --format json
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
}

@test "list: --quiet prints only ids" {
	husk list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	update_config '.process.args = ["sleep", "1000"]'
	husk create ct1
	husk list --quiet
	[ "$output" = ct1 ]
	husk create ct2
	husk list -q
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "ct1 ct2 " ]
}

@test "list: an unknown --format fails" {
	husk list --format xml
	[ "$status" -eq 1 ]
	assert_contains "$output" "xml"
}

@test "state: a process killed behind husk's back reads as stopped" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	pid="$(state_field ct1 .pid)"
	kill -9 "$pid"
	wait_for_exit "$pid"
	wait_for_status ct1 stopped
	husk list -f json
	[ "$(echo "$output" | jq -r '.[0].status')" = stopped ]
	husk delete ct1
	[ "$status" -eq 0 ]
}

@test "create: --preserve-fds passes fd 3 in, and only that" {
	bind_shared
	echo "through fd 3" >"$BATS_TEST_TMPDIR/fd3"
	echo "fd 4" >"$BATS_TEST_TMPDIR/fd4"
	update_config '.process.args = ["sh", "-c", "cat <&3 > /shared/got3; [ -e /proc/self/fd/4 ] && echo open > /shared/fd4; echo done > /shared/done"]'
	run bash -c 'exec 3<"$0" 4<"$1"; "$HUSK" --root "$ROOT" run --preserve-fds 1 ct1 </dev/null' \
		"$BATS_TEST_TMPDIR/fd3" "$BATS_TEST_TMPDIR/fd4"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(cat "$SHARED/done")" = done ]
	[ "$(cat "$SHARED/got3")" = "through fd 3" ]
	[ ! -e "$SHARED/fd4" ]
}

@test "create: inherited fds above 2 are closed without --preserve-fds" {
	bind_shared
	echo secret >"$BATS_TEST_TMPDIR/fd3"
	update_config '.process.args = ["sh", "-c", "for f in 3 4 5; do [ -e /proc/self/fd/$f ] && echo $f >> /shared/open; done; echo done > /shared/done"]'
	run bash -c 'exec 3<"$0" 4<"$0" 5<"$0"; "$HUSK" --root "$ROOT" run ct1 </dev/null' "$BATS_TEST_TMPDIR/fd3"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(cat "$SHARED/done")" = done ]
	[ ! -e "$SHARED/open" ]
}

# The keyrings the container can see: serials of `keyring` lines in /proc/keys.
keyring_serials() {
	awk '$8 == "keyring" { print $1 }' | sort -u
}

@test "create: default joins a new session keyring; --no-new-keyring keeps the caller's" {
	update_config '.linux.maskedPaths = [] | .process.args = ["cat", "/proc/keys"]'
	host_before="$(keyring_serials </proc/keys)"

	husk run --no-new-keyring ct1
	[ "$status" -eq 0 ]
	inside_same="$(echo "$output" | keyring_serials)"
	[ -n "$inside_same" ]
	# nothing new: every keyring seen inside existed before
	[ -z "$(comm -13 <(echo "$host_before") <(echo "$inside_same"))" ]

	husk run ct2
	[ "$status" -eq 0 ]
	inside_new="$(echo "$output" | keyring_serials)"
	# a keyring that did not exist before: the container's new session keyring
	[ -n "$(comm -13 <(echo "$host_before") <(echo "$inside_new"))" ]
}

@test "create: --console-socket receives the pty master (process.terminal)" {
	requires cc
	recvtty="$(recvtty_bin)"
	sock="$BATS_TEST_TMPDIR/console.sock"
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty; tty"]'
	"$recvtty" "$sock" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" </dev/null 3>&- &
	rpid=$!
	BG_PIDS+=("$rpid")
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ]

	husk create --console-socket "$sock" ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	wait_for_exit "$rpid"
	wait "$rpid"
	cat "$BATS_TEST_TMPDIR/tty.err" >&2
	out="$(tr -d '\r' <"$BATS_TEST_TMPDIR/tty.out")"
	echo "$out" >&2
	assert_contains "$out" "stdio-is-a-tty"
	assert_contains "$out" "/dev/pts/"
}

@test "create: process.terminal without --console-socket fails" {
	update_config '.process.terminal = true'
	husk create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "console"
	assert_nothing_left ct1
}

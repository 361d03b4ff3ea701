#!/usr/bin/env bats
# exec: a new process in a running container, and every flag of `husk exec`.

load helpers

setup() {
	setup_bundle
	bind_shared
	update_config '.process.noNewPrivileges = false | .process.args = ["sleep", "1000"]'
}
teardown() { teardown_bundle; }

# Start ct1 detached (sleep 1000) and set INIT_PID.
start_ct() {
	husk run -d ct1
	[ "$status" -eq 0 ]
	INIT_PID="$(state_field ct1 .pid)"
	[ "$INIT_PID" -gt 0 ]
}

# Host pids of the processes in ct1's pid namespace (the init included).
ct_pids() {
	local want p
	want="$(readlink "/proc/$INIT_PID/ns/pid")"
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$want" ] && echo "${p#/proc/}"
	done
	return 0
}

# For failure-path tests: ct1 is still running with its init as the only process.
assert_ct_untouched() {
	[ "$(state_field ct1 .status)" = running ]
	[ "$(ct_pids)" = "$INIT_PID" ] || {
		echo "processes in ct1: $(ct_pids | tr '\n' ' ')" >&2
		return 1
	}
}

# field of /proc/self/status inside the container, as a shell command
status_line() {
	echo "awk '\$1 == \"$1:\" { \$1 = \"\"; sub(/^[ \\t]+/, \"\"); print }' /proc/self/status"
}

cap_mask() {
	local m=0 c
	for c in "$@"; do
		m=$((m | (1 << c)))
	done
	printf '%016x' "$m"
}

@test "exec: runs a command in the running container and prints its output" {
	start_ct
	husk exec ct1 sh -c 'echo hello from $(hostname); cat /proc/1/cmdline | tr "\0" " "'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hello from $(jq -r .hostname config.json)" ]
	[ "${lines[1]}" = "sleep 1000 " ]
}

@test "exec: joins every namespace of the container" {
	start_ct
	husk exec ct1 sh -c 'for n in mnt pid net ipc uts cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done'
	[ "$status" -eq 0 ]
	for n in mnt pid net ipc uts cgroup user time; do
		[ -e "/proc/$INIT_PID/ns/$n" ] || continue
		want="$n $(readlink "/proc/$INIT_PID/ns/$n")"
		echo "$output" | grep -qxF "$want" || { echo "missing: $want" >&2; false; }
	done
	# the container has its own mount, pid and net namespaces: not the host's
	[ "$(readlink "/proc/$INIT_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
	[ "$(readlink "/proc/$INIT_PID/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
}

@test "exec: the process is in the init's cgroup (seen from the host)" {
	start_ct
	husk exec -d --pid-file "$BATS_TEST_TMPDIR/exec.pid" ct1 sleep 999
	[ "$status" -eq 0 ]
	pid="$(cat "$BATS_TEST_TMPDIR/exec.pid")"
	[ "$(cat "/proc/$pid/cgroup")" = "$(cat "/proc/$INIT_PID/cgroup")" ]
}

@test "exec: the exit code of the program is returned" {
	start_ct
	husk exec ct1 sh -c 'exit 7'
	[ "$status" -eq 7 ]
	husk exec ct1 true
	[ "$status" -eq 0 ]
	husk exec ct1 false
	[ "$status" -eq 1 ]
}

@test "exec: a program killed by signal N returns 128+N" {
	start_ct
	husk exec ct1 sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
	husk exec ct1 sh -c 'kill -USR1 $$'
	[ "$status" -eq 138 ]
}

@test "exec: the container's process settings are the default (env, cwd, user)" {
	update_config '.process.env += ["FROM_CONFIG=yes"] | .process.cwd = "/tmp"'
	start_ct
	husk exec ct1 sh -c 'echo "$FROM_CONFIG"; pwd; id -u'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "yes /tmp 0" ]
}

@test "exec: --env sets variables and overrides the config's" {
	start_ct
	husk exec --env FOO=bar --env 'SPACED=a b=c' --env TERM=dumb ct1 env
	[ "$status" -eq 0 ]
	echo "$output" | grep -qx 'FOO=bar'
	echo "$output" | grep -qx 'SPACED=a b=c'
	# replaced, not added: one TERM, the flag's
	[ "$(echo "$output" | grep -c '^TERM=')" -eq 1 ]
	echo "$output" | grep -qx 'TERM=dumb'
	echo "$output" | grep -q '^PATH='
}

@test "exec: -e is short for --env" {
	start_ct
	husk exec -e SHORT=1 ct1 sh -c 'echo "[$SHORT]"'
	[ "$status" -eq 0 ]
	[ "$output" = "[1]" ]
}

@test "exec: --env without = fails naming --env, nothing started" {
	start_ct
	husk exec --env NOEQUALS ct1 true
	[ "$status" -eq 1 ]
	assert_contains "$output" "--env"
	assert_contains "$output" "NOEQUALS"
	assert_ct_untouched
}

@test "exec: --cwd sets the working directory" {
	mkdir -p "$BUNDLE/rootfs/work/here"
	start_ct
	husk exec --cwd /work/here ct1 pwd
	[ "$status" -eq 0 ]
	[ "$output" = /work/here ]
}

@test "exec: a --cwd that does not exist fails, nothing left running" {
	start_ct
	husk exec --cwd /no/such/dir ct1 pwd
	[ "$status" -eq 1 ]
	assert_contains "$output" "/no/such/dir"
	assert_ct_untouched
}

@test "exec: --user UID:GID sets uid and gid" {
	start_ct
	husk exec --user 1000:1001 ct1 sh -c "id -u; id -g; $(status_line Uid); $(status_line Gid)"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1001 ]
	[ "$(echo "${lines[2]}" | tr -s ' \t' ' ')" = "1000 1000 1000 1000" ]
	[ "$(echo "${lines[3]}" | tr -s ' \t' ' ')" = "1001 1001 1001 1001" ]
}

@test "exec: --user UID keeps the config's gid; -u is short" {
	update_config '.process.user = {"uid": 0, "gid": 5}'
	start_ct
	husk exec -u 1000 ct1 sh -c 'id -u; id -g'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "1000 5" ]
}

@test "exec: a bad --user fails naming --user, nothing started" {
	start_ct
	for u in abc 1000:x 1000: :1000; do
		husk exec --user "$u" ct1 true
		[ "$status" -eq 1 ]
		assert_contains "$output" "--user"
		assert_contains "$output" "\"$u\""
	done
	assert_ct_untouched
}

@test "exec: --additional-gids sets the supplementary groups" {
	start_ct
	husk exec --user 1000:1000 --additional-gids 10 --additional-gids 20 ct1 sh -c "id -G; $(status_line Groups)"
	[ "$status" -eq 0 ]
	[ "$(echo "${lines[0]}" | tr ' ' '\n' | sort -n | tr '\n' ' ')" = "10 20 1000 " ]
	[ "$(echo "${lines[1]}" | tr -s ' \t' ' ' | sed 's/ $//')" = "10 20" ]
}

@test "exec: -g is short for --additional-gids and replaces the config's" {
	update_config '.process.user = {"uid": 0, "gid": 0, "additionalGids": [7]}'
	start_ct
	husk exec -g 30 ct1 sh -c "$(status_line Groups)"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr -s ' \t' ' ' | sed 's/ $//')" = 30 ]
}

@test "exec: a non-numeric --additional-gids fails naming the flag" {
	start_ct
	husk exec --additional-gids wheel ct1 true
	[ "$status" -eq 1 ]
	assert_contains "$output" "--additional-gids"
	assert_ct_untouched
}

@test "exec: --cap adds the capability to the effective, bounding and ambient sets" {
	# the config's: CAP_KILL=5 CAP_NET_BIND_SERVICE=10 CAP_AUDIT_WRITE=29; CAP_NET_ADMIN=12
	start_ct
	husk exec --cap CAP_NET_ADMIN ct1 sh -c "$(status_line CapEff); $(status_line CapBnd); $(status_line CapAmb); $(status_line CapPrm)"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(cap_mask 5 10 12 29)" ]
	[ "${lines[1]}" = "$(cap_mask 5 10 12 29)" ]
	# ambient needs the inheritable bit, which only the flag's capability has
	# (the spec config lists no inheritable set)
	[ "${lines[2]}" = "$(cap_mask 12)" ]
	[ "${lines[3]}" = "$(cap_mask 5 10 12 29)" ]
	# and without it, the config's sets
	husk exec ct1 sh -c "$(status_line CapEff); $(status_line CapBnd)"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(cap_mask 5 10 29)" ]
	[ "${lines[1]}" = "$(cap_mask 5 10 29)" ]
}

@test "exec: -c is short for --cap and gives the power (CAP_CHOWN)" {
	update_config '.root.readonly = false'
	start_ct
	husk exec ct1 sh -c 'exec 2>&1; touch /tmp/f; chown 1000 /tmp/f && echo CHOWNED; exit 0'
	[ "$status" -eq 0 ]
	[[ "$output" != *CHOWNED* ]]
	husk exec -c CAP_CHOWN ct1 sh -c 'exec 2>&1; chown 1000 /tmp/f && echo CHOWNED'
	[ "$status" -eq 0 ]
	[ "$output" = CHOWNED ]
	[ "$(stat -c %u "$BUNDLE/rootfs/tmp/f")" = 1000 ]
}

@test "exec: an unknown --cap fails naming the flag and the name" {
	start_ct
	husk exec --cap CAP_NO_SUCH ct1 true
	[ "$status" -eq 1 ]
	assert_contains "$output" "--cap"
	assert_contains "$output" "CAP_NO_SUCH"
	assert_ct_untouched
}

@test "exec: --no-new-privs sets NoNewPrivs" {
	start_ct
	husk exec ct1 sh -c "$(status_line NoNewPrivs)"
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
	husk exec --no-new-privs ct1 sh -c "$(status_line NoNewPrivs)"
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
}

@test "exec: --preserve-fds passes fd 3.. in, and no more" {
	start_ct
	echo "through fd 3" >"$BATS_TEST_TMPDIR/fd3"
	echo "through fd 4" >"$BATS_TEST_TMPDIR/fd4"
	echo "fd 5" >"$BATS_TEST_TMPDIR/fd5"
	run bash -c 'exec 3<"$0" 4<"$1" 5<"$2"; "$HUSK" --root "$ROOT" exec --preserve-fds 2 ct1 \
		sh -c "cat <&3; cat <&4; [ -e /proc/self/fd/5 ] && echo fd5-open; exit 0" </dev/null' \
		"$BATS_TEST_TMPDIR/fd3" "$BATS_TEST_TMPDIR/fd4" "$BATS_TEST_TMPDIR/fd5"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'through fd 3\nthrough fd 4')" ]
}

@test "exec: without --preserve-fds the caller's fds above 2 are closed" {
	start_ct
	echo secret >"$BATS_TEST_TMPDIR/fd3"
	run bash -c 'exec 3<"$0" 4<"$0"; "$HUSK" --root "$ROOT" exec ct1 \
		sh -c "for f in 3 4; do [ -e /proc/self/fd/\$f ] && echo open-\$f; done; echo done" </dev/null' \
		"$BATS_TEST_TMPDIR/fd3"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = done ]
}

@test "exec: a bad --preserve-fds fails naming the flag" {
	start_ct
	husk exec --preserve-fds many ct1 true
	[ "$status" -eq 1 ]
	assert_contains "$output" "--preserve-fds"
	assert_ct_untouched
}

@test "exec: --pid-file holds the process's host pid" {
	start_ct
	husk exec --detach --pid-file "$BATS_TEST_TMPDIR/exec.pid" ct1 sleep 999
	[ "$status" -eq 0 ]
	pid="$(cat "$BATS_TEST_TMPDIR/exec.pid")"
	[[ "$pid" =~ ^[0-9]+$ ]]
	# a host pid: the process is there, it is our sleep, in the container's pid namespace
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 999 " ]
	[ "$(readlink "/proc/$pid/ns/pid")" = "$(readlink "/proc/$INIT_PID/ns/pid")" ]
	[ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
	# its pid inside is the last NSpid field, which the container sees as sleep 999
	nspid="$(awk '$1 == "NSpid:" { print $NF }' "/proc/$pid/status")"
	[ "$nspid" != "$pid" ]
	husk exec ct1 sh -c "tr '\\0' ' ' </proc/$nspid/cmdline"
	[ "$output" = "sleep 999 " ]
}

@test "exec: --pid-file is written in the foreground too" {
	start_ct
	husk exec --pid-file "$BATS_TEST_TMPDIR/fg.pid" ct1 sh -c 'echo $$'
	[ "$status" -eq 0 ]
	pid="$(cat "$BATS_TEST_TMPDIR/fg.pid")"
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$pid" -gt 0 ]
	# inside the pid namespace the process has another, small number
	[ "$output" != "$pid" ]
}

@test "exec: --detach returns while the process keeps running" {
	start_ct
	start=$SECONDS
	husk exec --detach ct1 sh -c 'sleep 0.3; echo still-ran > /shared/detached; exec sleep 997'
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 5 ]
	wait_for_file "$SHARED/detached"
	[ "$(cat "$SHARED/detached")" = still-ran ]
	# the detached process is there, a process of the container
	found=""
	for p in $(ct_pids); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 997 " ] && found=$p
	done
	[ -n "$found" ]
}

@test "exec: -d is short for --detach" {
	start_ct
	husk exec -d --pid-file "$BATS_TEST_TMPDIR/d.pid" ct1 sleep 996
	[ "$status" -eq 0 ]
	pid="$(cat "$BATS_TEST_TMPDIR/d.pid")"
	pid_alive "$pid"
}

@test "exec: --process FILE gives the whole process (args, env, cwd, user)" {
	start_ct
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{
			"args": ["sh", "-c", "echo \"$FROM_FILE\"; pwd; id -u; id -g; exit 3"],
			"env": ["PATH=/bin", "FROM_FILE=proc-json"],
			"cwd": "/home/user",
			"user": {"uid": 1000, "gid": 1000}
		}
	EOF
	husk exec --process "$BATS_TEST_TMPDIR/process.json" ct1
	[ "$status" -eq 3 ]
	[ "${lines[*]}" = "proc-json /home/user 1000 1000" ]
}

@test "exec: -p is short for --process; its env replaces the config's" {
	update_config '.process.env += ["FROM_CONFIG=yes"]'
	start_ct
	echo '{"args": ["env"], "env": ["PATH=/bin", "ONLY=this"], "cwd": "/"}' >"$BATS_TEST_TMPDIR/p.json"
	husk exec -p "$BATS_TEST_TMPDIR/p.json" ct1
	[ "$status" -eq 0 ]
	echo "$output" | grep -qx ONLY=this
	[[ "$output" != *FROM_CONFIG* ]]
}

@test "exec: --process with a command too fails naming --process" {
	start_ct
	echo '{"args": ["true"], "cwd": "/"}' >"$BATS_TEST_TMPDIR/p.json"
	husk exec --process "$BATS_TEST_TMPDIR/p.json" ct1 echo extra
	[ "$status" -eq 1 ]
	assert_contains "$output" "--process"
	assert_ct_untouched
}

@test "exec: a missing or invalid --process file fails naming it" {
	start_ct
	husk exec --process "$BATS_TEST_TMPDIR/none.json" ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "none.json"
	echo '{"args": ' >"$BATS_TEST_TMPDIR/bad.json"
	husk exec --process "$BATS_TEST_TMPDIR/bad.json" ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "--process"
	echo '{"args": [], "cwd": "/"}' >"$BATS_TEST_TMPDIR/empty.json"
	husk exec --process "$BATS_TEST_TMPDIR/empty.json" ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "args"
	assert_ct_untouched
}

@test "exec: no command and no --process fails" {
	start_ct
	husk exec ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "--process"
	assert_ct_untouched
}

@test "exec: --process-label and --apparmor are accepted" {
	start_ct
	husk exec --process-label system_u:system_r:container_t:s0 --apparmor husk-default ct1 echo accepted
	[ "$status" -eq 0 ]
	[ "$output" = accepted ]
}

@test "exec: --tty --detach without --console-socket fails naming --console-socket" {
	start_ct
	husk exec --tty --detach ct1 true
	[ "$status" -eq 1 ]
	assert_contains "$output" "--console-socket"
	assert_ct_untouched
}

@test "exec: a program missing from the container fails naming it" {
	start_ct
	husk exec ct1 /no/such/program
	[ "$status" -eq 1 ]
	assert_contains "$output" "/no/such/program"
	assert_ct_untouched
}

@test "exec: into a stopped container fails saying it is not running" {
	update_config '.process.args = ["true"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	husk exec ct1 echo never
	[ "$status" -eq 1 ]
	assert_contains "$output" "stopped"
	[ "${#lines[@]}" -eq 1 ]
	[ "$(state_field ct1 .status)" = stopped ]
}

@test "exec: an unknown container fails naming it, nothing created" {
	husk exec nosuch true
	[ "$status" -eq 1 ]
	assert_contains "$output" '"nosuch"'
	assert_nothing_left nosuch
}

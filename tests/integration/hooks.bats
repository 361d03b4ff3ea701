#!/usr/bin/env bats
# hooks: the six hook points of config.md#posix-platform-hooks — order,
# namespace, the state on stdin, args, env, timeout, failures — and the JSON
# log lines a failing hook produces.

load helpers

setup() {
	setup_bundle
	bind_shared
	HOOKS="$BATS_TEST_TMPDIR/hooks"
	mkdir -p "$HOOKS"
	write_recorder "$HOOKS/record" "$SHARED"
	write_recorder "$BUNDLE/rootfs/record" /shared
	HOOK_ENV='["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]'
	update_config '.process.args = ["sh", "-c", "echo program >> /shared/order; exec sleep 1000"]'
}
teardown() { teardown_bundle; }

# write_recorder FILE DIR: a hook that records, under DIR, its name ($1) in
# DIR/order, its stdin in DIR/state-NAME.json and its namespaces in
# DIR/ns-NAME. It uses only sh, cat and readlink, which the host and the
# busybox rootfs both have.
write_recorder() {
	cat >"$1" <<-EOF
		#!/bin/sh
		cat > "$2/state-\$1.json"
		for n in mnt pid net uts ipc; do echo "\$n \$(readlink /proc/self/ns/\$n)"; done > "$2/ns-\$1"
		echo "\$1" >> "$2/order"
	EOF
	chmod +x "$1"
}

# the hook entry that runs the recorder for KIND; startContainer's path is
# resolved in the container, every other in the runtime namespace
recorder_hook() {
	local path="$HOOKS/record"
	[ "$1" = startContainer ] && path=/record
	jq -nc --arg p "$path" --arg k "$1" --argjson e "$HOOK_ENV" '{"path": $p, "args": ["record", $k], "env": $e}'
}

# set_hooks KIND JSON-ARRAY: .hooks.KIND = the array
set_hooks() {
	update_config --arg k "$1" --argjson h "$2" '.hooks[$k] = $h'
}

# a host script at $HOOKS/NAME with BODY (sh)
write_script() {
	printf '#!/bin/sh\n%s\n' "$2" >"$HOOKS/$1"
	chmod +x "$HOOKS/$1"
}

all_six_recorders() {
	local k
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		set_hooks "$k" "[$(recorder_hook "$k")]"
	done
}

order() {
	tr '\n' ' ' <"$SHARED/order" | sed 's/ $//'
}

@test "hooks: all six run in the spec's order around create, start and delete" {
	all_six_recorders
	husk create ct1
	[ "$status" -eq 0 ]
	[ "$(order)" = "prestart createRuntime createContainer" ]
	husk start ct1
	[ "$status" -eq 0 ]
	# poststart has run when start returns; the program ran after startContainer
	[ "$(grep -v program "$SHARED/order" | tr '\n' ' ')" = "prestart createRuntime createContainer startContainer poststart " ]
	wait_for_file "$SHARED/order"
	for _ in $(seq 50); do grep -q program "$SHARED/order" && break; sleep 0.1; done
	[ "$(grep -n -e startContainer -e program "$SHARED/order" | cut -d: -f2 | tr '\n' ' ')" = "startContainer program " ]
	husk kill ct1 KILL
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	! grep -q poststop "$SHARED/order"
	husk delete ct1
	[ "$status" -eq 0 ]
	[ "$(grep -v program "$SHARED/order" | tr '\n' ' ')" = "prestart createRuntime createContainer startContainer poststart poststop " ]
}

@test "hooks: several hooks of one kind run in the listed order" {
	write_script a 'echo a >> '"$SHARED"'/order'
	write_script b 'echo b >> '"$SHARED"'/order'
	write_script c 'echo c >> '"$SHARED"'/order'
	set_hooks createRuntime "[{\"path\": \"$HOOKS/b\"}, {\"path\": \"$HOOKS/a\"}, {\"path\": \"$HOOKS/c\"}]"
	husk create ct1
	[ "$status" -eq 0 ]
	[ "$(order)" = "b a c" ]
}

@test "hooks: prestart, createRuntime, poststart and poststop run in the runtime's namespaces" {
	all_six_recorders
	husk create ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	for k in prestart createRuntime poststart poststop; do
		for n in mnt pid net uts ipc; do
			want="$n $(readlink "/proc/self/ns/$n")"
			grep -qxF "$want" "$SHARED/ns-$k" || {
				echo "$k: $n is not the host's: $(grep "^$n " "$SHARED/ns-$k")" >&2
				false
			}
		done
	done
}

@test "hooks: createContainer and startContainer run in the container's namespaces" {
	all_six_recorders
	husk create ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	husk start ct1
	[ "$status" -eq 0 ]
	for k in createContainer startContainer; do
		for n in mnt pid net uts ipc; do
			want="$n $(readlink "/proc/$pid/ns/$n")"
			grep -qxF "$want" "$SHARED/ns-$k" || {
				echo "$k: $n is not the container's: $(grep "^$n " "$SHARED/ns-$k")" >&2
				false
			}
		done
	done
	# and the container's are not the host's
	[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ]
}

@test "hooks: createContainer runs before pivot_root, startContainer after" {
	# createContainer's path resolves in the runtime namespace and it still sees
	# the host's files (here: the bundle); startContainer sees the container's /
	write_script probe-cc "[ -e '$BUNDLE/config.json' ] && echo cc-sees-bundle >> '$SHARED/seen'; exit 0"
	printf '#!/bin/sh\n[ -e /record ] && [ ! -e "%s" ] && echo sc-sees-rootfs >> /shared/seen\nexit 0\n' \
		"$BUNDLE/config.json" >"$BUNDLE/rootfs/probe-sc"
	chmod +x "$BUNDLE/rootfs/probe-sc"
	set_hooks createContainer "[{\"path\": \"$HOOKS/probe-cc\"}]"
	set_hooks startContainer '[{"path": "/probe-sc"}]'
	husk create ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ' ' <"$SHARED/seen")" = "cc-sees-bundle sc-sees-rootfs " ]
}

@test "hooks: a startContainer path is resolved inside the container" {
	# /record exists only in the rootfs; no such file on the host
	[ ! -e /record ]
	set_hooks startContainer "[$(recorder_hook startContainer)]"
	husk create ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	[ "$(grep -v program "$SHARED/order")" = startContainer ]
}

# Run ct1 through create, start and delete -f with a recorder at all six
# points; sets PID (the init's host pid).
lifecycle_with_recorders() {
	all_six_recorders
	update_config '.annotations = {"org.example.key": "value"}'
	husk create ct1
	[ "$status" -eq 0 ]
	PID="$(state_field ct1 .pid)"
	[ "$PID" -gt 1 ]
	husk start ct1
	[ "$status" -eq 0 ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		echo "$k: $(cat "$SHARED/state-$k.json")" >&2
	done
}

@test "hooks: stdin is the state JSON (ociVersion, id, bundle, annotations) at every point" {
	lifecycle_with_recorders
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		jq -e '(.ociVersion | test("^1\\.")) and .id == "ct1" and .bundle == env.BUNDLE
			and .annotations["org.example.key"] == "value"' "$SHARED/state-$k.json" >/dev/null ||
			{ echo "$k: wrong state" >&2; false; }
	done
}

@test "hooks: the state's status is created, running, stopped at the spec's points" {
	# runtime.md#lifecycle: the create-time hooks run at steps 3-5, after the environment
	# was created (step 2), so they see "created" (as crun; runc says "creating"; the
	# runtime-tools hooks_stdin program expects "created")
	lifecycle_with_recorders
	bad=""
	for kv in prestart:created createRuntime:created createContainer:created \
		startContainer:created poststart:running poststop:stopped; do
		k="${kv%%:*}" want="${kv#*:}"
		got="$(jq -r .status "$SHARED/state-$k.json")"
		[ "$got" = "$want" ] || bad+=" $k($got, want $want)"
	done
	[ -z "$bad" ] || { echo "wrong status for:$bad" >&2; false; }
}

@test "hooks: the state's pid is the runtime's view, or the container's for container-namespace hooks" {
	# runtime.md#state: "For hooks executed in the container namespace, it is
	# the pid as seen by the container" — 1 in a new pid namespace (runc: the
	# init's getpid() for createContainer and startContainer)
	lifecycle_with_recorders
	bad=""
	for kp in prestart:$PID createRuntime:$PID createContainer:1 startContainer:1 poststart:$PID; do
		k="${kp%%:*}" want="${kp#*:}"
		got="$(jq -r .pid "$SHARED/state-$k.json")"
		[ "$got" = "$want" ] || bad+=" $k($got, want $want)"
	done
	# stopped: pid is optional; if given, it is the init's
	got="$(jq -r .pid "$SHARED/state-poststop.json")"
	[ "$got" = null ] || [ "$got" = "$PID" ] || bad+=" poststop($got)"
	[ -z "$bad" ] || { echo "wrong pid for:$bad" >&2; false; }
}

@test "hooks: args and env are passed exactly, the caller's environment is not" {
	hook='printf "%s|" "$0" "$@" > "$1/args-$0"; env | grep -e ^HOOK_ -e ^LEAKY_ | sort > "$1/env-$0"'
	for k in createRuntime poststart; do
		set_hooks "$k" "$(jq -nc --arg h "$hook" --arg s "$SHARED" --arg k "$k" \
			'[{"path": "/bin/sh", "args": ["sh", "-c", $h, $k, $s, "two words", ""], "env": ["HOOK_A=1", "HOOK_B=x y=z"]}]')"
	done
	# output to a file: the detached container would hold a pipe open
	LEAKY_VAR=1 "$HUSK" --root "$ROOT" run -d ct1 </dev/null >"$BATS_TEST_TMPDIR/run.out" 2>&1
	cat "$BATS_TEST_TMPDIR/run.out" >&2
	for k in createRuntime poststart; do
		[ "$(cat "$SHARED/args-$k")" = "$k|$SHARED|two words||" ]
		[ "$(cat "$SHARED/env-$k")" = "$(printf 'HOOK_A=1\nHOOK_B=x y=z')" ]
	done
}

# timeout_test KIND: a hook of KIND that sleeps past its 1 s timeout is killed
# and create fails naming the hook; nothing is left.
timeout_test() {
	# sleep 29.5 marks the hook's process, whatever pid namespace it is in
	write_script slow "touch '$SHARED/slow.started'; exec sleep 29.5"
	set_hooks "$1" "[{\"path\": \"$HOOKS/slow\", \"timeout\": 1}]"
	start=$SECONDS
	husk create ct1
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 10 ]
	assert_contains "$output" "$1"
	assert_contains "$output" "timed out"
	[ -e "$SHARED/slow.started" ]
	for _ in $(seq 30); do pgrep -fx 'sleep 29.5' >/dev/null || break; sleep 0.1; done
	! pgrep -fx 'sleep 29.5'
	assert_nothing_left ct1
}

@test "hooks: a prestart hook over its timeout is killed and create fails, nothing left" {
	timeout_test prestart
}

@test "hooks: a createContainer hook over its timeout is killed and create fails, nothing left" {
	timeout_test createContainer
}

# failing_test KIND: a hook of KIND exits 3; create fails naming the hook, the
# next hook of the list never runs, and nothing is left.
failing_test() {
	write_script bad 'echo hook-says-no >&2; exit 3'
	write_script next "echo ran > '$SHARED/next-ran'"
	set_hooks "$1" "[{\"path\": \"$HOOKS/bad\"}, {\"path\": \"$HOOKS/next\"}]"
	husk create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "hooks.$1[0]"
	assert_contains "$output" "status 3"
	[ ! -e "$SHARED/next-ran" ]
	assert_nothing_left ct1
}

@test "hooks: a failing prestart hook fails create, naming it, and leaves nothing" {
	failing_test prestart
}

@test "hooks: a failing createRuntime hook fails create, naming it, and leaves nothing" {
	failing_test createRuntime
}

@test "hooks: a failing createContainer hook fails create, naming it, and leaves nothing" {
	failing_test createContainer
}

@test "hooks: a missing hook path fails create naming the path" {
	set_hooks createRuntime "[{\"path\": \"$HOOKS/no-such-hook\"}]"
	husk create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "no-such-hook"
	assert_nothing_left ct1
}

@test "hooks: a failing startContainer hook fails start; the program never runs" {
	printf '#!/bin/sh\nexit 4\n' >"$BUNDLE/rootfs/bad-sc"
	chmod +x "$BUNDLE/rootfs/bad-sc"
	set_hooks startContainer '[{"path": "/bad-sc"}]'
	husk create ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "startContainer"
	sleep 0.3
	[ ! -e "$SHARED/order" ]
	[ "$(state_field ct1 .status)" != running ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	assert_nothing_left ct1
}

@test "hooks: a failing poststart hook is a warning; start succeeds and the container runs" {
	write_script bad 'exit 5'
	set_hooks poststart "[{\"path\": \"$HOOKS/bad\"}]"
	husk create ct1
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "warning"
	assert_contains "$output" "hooks.poststart[0]"
	assert_contains "$output" "status 5"
	[ "$(state_field ct1 .status)" = running ]
}

@test "hooks: the poststart hooks after a failing one still run" {
	write_script bad 'exit 5'
	set_hooks poststart "[{\"path\": \"$HOOKS/bad\"}, $(recorder_hook poststart)]"
	husk run -d ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "hooks.poststart[0]"
	grep -qx poststart "$SHARED/order"
}

@test "hooks: a failing poststop hook is a warning; delete succeeds and leaves nothing" {
	write_script bad 'exit 6'
	set_hooks poststop "[{\"path\": \"$HOOKS/bad\"}]"
	husk run -d ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	husk delete -f ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "warning"
	assert_contains "$output" "hooks.poststop[0]"
	assert_contains "$output" "status 6"
	! pid_alive "$pid"
	assert_nothing_left ct1
}

@test "hooks: the poststop hooks after a failing one still run" {
	write_script bad 'exit 6'
	set_hooks poststop "[{\"path\": \"$HOOKS/bad\"}, $(recorder_hook poststop)]"
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "hooks.poststop[0]"
	grep -qx poststop "$SHARED/order"
	assert_nothing_left ct1
}

@test "hooks: poststop runs once the container's process is gone" {
	write_script check-gone "pid=\$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); if [ -n \"\$pid\" ] && [ -d /proc/\$pid ] && ! grep -q '^State:.*Z' /proc/\$pid/status; then echo alive; else echo gone; fi > '$SHARED/poststop-saw'"
	set_hooks poststop "[{\"path\": \"$HOOKS/check-gone\"}]"
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk delete -f ct1
	[ "$status" -eq 0 ]
	[ "$(cat "$SHARED/poststop-saw")" = gone ]
}

@test "hooks: poststop runs when a container stopped on its own is deleted" {
	set_hooks poststop "[$(recorder_hook poststop)]"
	update_config '.process.args = ["true"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	[ ! -e "$SHARED/order" ]
	husk delete ct1
	[ "$status" -eq 0 ]
	[ "$(order)" = poststop ]
}

# --- the JSON log of hook failures

# every line of FILE is a JSON object with string level, msg and time
assert_json_log() {
	local l n=0
	while IFS= read -r l; do
		n=$((n + 1))
		echo "$l" | jq -e '(.level | type == "string") and (.msg | type == "string" and length > 0)
			and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$"))' >/dev/null || {
			echo "bad log line $n: $l" >&2
			return 1
		}
	done <"$1"
	[ "$n" -gt 0 ]
}

@test "log: a failing poststart hook is one json warning line naming it" {
	write_script bad 'exit 5'
	set_hooks poststart "[{\"path\": \"$HOOKS/bad\"}]"
	log="$BATS_TEST_TMPDIR/log.json"
	husk --log "$log" --log-format json run -d ct1
	[ "$status" -eq 0 ]
	cat "$log" >&2
	assert_json_log "$log"
	msg="$(jq -r 'select(.level == "warning") | .msg' "$log")"
	[ "$(echo "$msg" | grep -c poststart)" -eq 1 ]
	assert_contains "$msg" "status 5"
	[ -z "$(jq -r 'select(.level == "error") | .msg' "$log")" ]
}

@test "log: a failing createRuntime hook is a json error line naming it" {
	write_script bad 'exit 3'
	set_hooks createRuntime "[{\"path\": \"$HOOKS/bad\"}]"
	log="$BATS_TEST_TMPDIR/log.json"
	husk --log "$log" --log-format json create ct1
	[ "$status" -eq 1 ]
	cat "$log" >&2
	assert_json_log "$log"
	msg="$(jq -r 'select(.level == "error") | .msg' "$log" | tail -1)"
	assert_contains "$msg" "hooks.createRuntime[0]"
	assert_contains "$msg" "status 3"
	assert_nothing_left ct1
}

@test "log: a failing poststop hook is a json warning line; --debug lines are json too" {
	write_script bad 'exit 6'
	set_hooks poststop "[{\"path\": \"$HOOKS/bad\"}]"
	husk run -d ct1
	[ "$status" -eq 0 ]
	log="$BATS_TEST_TMPDIR/log.json"
	husk --debug --log "$log" --log-format json delete -f ct1
	[ "$status" -eq 0 ]
	cat "$log" >&2
	assert_json_log "$log"
	jq -r 'select(.level == "warning") | .msg' "$log" | grep -q poststop
	assert_nothing_left ct1
}

#!/usr/bin/env bats
# security: each escape class from runc's history, attempted for real from
# inside the container (or from the bundle), and shown to fail.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

# CVE-2019-5736. A startContainer hook runs inside the container as a child of
# the container's init, while that init is still husk. It keeps an fd on
# /proc/1/exe, waits until the init has executed the program, and then tries
# to write through that fd, which with an unprotected runtime would reopen and
# overwrite the host's runtime binary. The runtime here is a copy, so a
# successful attack damages only the copy, and the test sees it. As root, husk
# runs from a detached read-only bind of itself (a rootless husk from a sealed
# memfd copy: rootless.bats).
@test "security: the husk binary cannot be overwritten through /proc/<pid>/exe (CVE-2019-5736)" {
	local copy="$BATS_TEST_TMPDIR/husk-copy" sum
	cp "$HUSK" "$copy"
	sum="$(sha256sum <"$copy")"
	bind_shared
	cat >"$ROOTFS_DIR/attack" <<-'EOF'
		#!/bin/sh
		readlink /proc/1/exe >/shared/exe-link
		exec 3</proc/1/exe
		(
			# wait until pid 1 runs the program, not husk
			i=0
			while [ "$(readlink /proc/1/exe)" = "$(cat /shared/exe-link)" ] && [ $i -lt 100 ]; do
				sleep 0.05; i=$((i + 1))
			done
			# then write through the kept fd, retrying while the file is busy
			i=0
			while [ $i -lt 40 ]; do
				if echo PWNED 1<>/proc/self/fd/3 2>/shared/err; then
					echo wrote >/shared/result; exit 0
				fi
				grep -q busy /shared/err || break
				sleep 0.1; i=$((i + 1))
			done
			echo "refused: $(cat /shared/err)" >/shared/result
		) </dev/null >/dev/null 2>&1 &
	EOF
	chmod +x "$ROOTFS_DIR/attack"
	update_config '.process.args = ["sleep", "5"]
		| .hooks.startContainer = [{"path": "/attack"}]'
	HUSK="$copy" husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$SHARED/result" 80
	cat "$SHARED/exe-link" "$SHARED/result" >&2
	# The init ran from the detached bind (its root is the file: "/"), not from the
	# host's path to the binary...
	[ "$(cat "$SHARED/exe-link")" = / ]
	# ...and writing through it failed: the copy on the host is intact.
	[[ "$(cat "$SHARED/result")" == refused* ]]
	[ "$(sha256sum <"$copy")" = "$sum" ]
}

@test "security: exec re-executes husk from a read-only bind before it joins the container" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	husk --debug exec ct1 true
	[ "$status" -eq 0 ]
	assert_contains "$output" "re-executing from a read-only bind of itself"
	# The re-executed husk does not re-execute again (once per command).
	[ "$(grep -c "re-executing" <<<"$output")" -eq 1 ]
}

@test "security: a husk on a read-only mount runs as is" {
	local dir="$BATS_TEST_TMPDIR/ro"
	mkdir -p "$dir"
	cp "$HUSK" "$dir/husk"
	mount --bind -o ro "$dir" "$dir"
	track_mount "$dir"
	update_config '.process.args = ["true"]'
	HUSK="$dir/husk" husk --debug run ct1
	[ "$status" -eq 0 ]
	[[ "$output" != *re-executing* ]]
}

# CVE-2024-21626: a leaked host directory fd used as process.cwd
# (/proc/self/fd/N) would leave the process in a host directory, from where
# ../../.. reaches the host's root. The marker exists on the host only.
@test "security: process.cwd /proc/self/fd/N never reaches a host directory (CVE-2024-21626)" {
	local fd marker="$BATS_TEST_TMPDIR/host-marker"
	echo host >"$marker"
	for fd in 3 4 5 6 7 8 9 10 11 12; do
		update_config --arg cwd "/proc/self/fd/$fd" --arg m "${marker#/}" '.process.cwd = $cwd
			| .process.args = ["sh", "-c", "cd ../../../../../../../../.. 2>/dev/null; test -e \"$0\" && echo ESCAPED; true", $m]'
		husk run "ct$fd"
		[[ "$output" != *ESCAPED* ]]
		husk delete -f "ct$fd"
	done
}

@test "security: exec --cwd /proc/self/fd/N never reaches a host directory (CVE-2024-21626)" {
	local fd marker="$BATS_TEST_TMPDIR/host-marker"
	echo host >"$marker"
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	for fd in 3 4 5 6 7 8 9 10; do
		husk exec --cwd "/proc/self/fd/$fd" ct1 sh -c \
			'cd ../../../../../../../../.. 2>/dev/null; test -e "$0" && echo ESCAPED; true' "${marker#/}"
		[[ "$output" != *ESCAPED* ]]
	done
}

@test "security: fds the caller leaks to husk exec do not reach the process" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	# fds 5 and 7 are open in husk's caller: a host directory and a host file
	run bash -c 'exec 5</ 7<"$0"; "$1" --root "$2" exec ct1 ls /proc/self/fd' /etc/hostname "$HUSK" "$ROOT"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	# ls itself holds 3 (its directory); nothing else beyond stdio
	[ "$(echo $output)" = "0 1 2 3" ]
}

# CVE-2021-30465: a mount destination that is a symlink in the rootfs, planted
# to point at a host path, must resolve inside the rootfs.
@test "security: a symlinked mount destination resolves inside the rootfs, not on the host" {
	local target="$BATS_TEST_TMPDIR/host-target"
	mkdir -p "$target"
	ln -s "$target" "$ROOTFS_DIR/evil"
	ln -s ../../../../../../../../../.."$target" "$ROOTFS_DIR/evil-rel"
	update_config '.mounts += [
			{"destination": "/evil", "type": "tmpfs", "source": "tmpfs"},
			{"destination": "/evil-rel", "type": "tmpfs", "source": "tmpfs"}]
		| .process.args = ["sh", "-c", "touch /evil/in-tmpfs /evil-rel/in-tmpfs-rel; grep -c tmpfs /proc/self/mounts >/dev/null && echo done"]'
	husk run ct1
	echo "$output" >&2
	# wherever the links led, it was not to the host directory
	! mountpoint -q "$target"
	[ ! -e "$target/in-tmpfs" ]
	[ ! -e "$target/in-tmpfs-rel" ]
	[ -z "$(ls -A "$target")" ]
}

# The race version: the destination flips between a directory and a symlink to
# the host while husk creates the container, many times.
@test "security: a mount destination swapped to a symlink during create never mounts on the host" {
	local target="$BATS_TEST_TMPDIR/host-target" i
	mkdir -p "$target"
	cat >"$BATS_TEST_TMPDIR/swap" <<-EOF
		#!/bin/bash
		cd "$ROOTFS_DIR"
		while :; do
			rm -rf swap.new; mkdir swap.new; mv -T swap.new dst
			ln -sfn "$target" swap.lnk; mv -T swap.lnk dst
		done
	EOF
	chmod +x "$BATS_TEST_TMPDIR/swap"
	mkdir "$ROOTFS_DIR/dst"
	update_config '.mounts += [{"destination": "/dst", "type": "tmpfs", "source": "tmpfs"}]
		| .process.args = ["true"]'
	start_bg "$BATS_TEST_TMPDIR/swap"
	for i in $(seq 1 25); do
		husk run "race$i"
		husk delete -f "race$i"
		if mountpoint -q "$target" || [ -n "$(ls -A "$target")" ]; then
			echo "iteration $i: the host directory got the mount" >&2
			umount "$target" 2>/dev/null
			return 1
		fi
	done
	kill "$BG_PID"
}

# CVE-2022-29162: the program must not inherit capabilities it was not given
# in process.capabilities.inheritable.
@test "security: the inheritable set is empty unless the config asks (CVE-2022-29162)" {
	update_config '.process.capabilities.inheritable = []
		| .process.args = ["sh", "-c", "grep -E \"^Cap(Inh|Amb)\" /proc/self/status"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "CapInh:	0000000000000000"
	assert_contains "$output" "CapAmb:	0000000000000000"
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct2
	husk exec ct2 grep -E "^Cap(Inh|Amb)" /proc/self/status
	[ "$status" -eq 0 ]
	assert_contains "$output" "CapInh:	0000000000000000"
	assert_contains "$output" "CapAmb:	0000000000000000"
}

# The 2025 mount-race class: maskedPaths are masked by bind-mounting
# /dev/null over them. If /dev/null is swapped after husk made it (a racing
# container sharing the mount, simulated here by a createContainer hook, which
# runs in the container's mount namespace between the two steps) for a
# symlink to a procfs file or a plain file, it must not be used.
@test "security: a /dev/null swapped for a symlink or a file is refused for maskedPaths" {
	local kind
	for kind in symlink file; do
		cat >"$BATS_TEST_TMPDIR/swap-null" <<-EOF
			#!/bin/sh
			rm -f "$ROOTFS_DIR/dev/null"
			if [ $kind = symlink ]; then
				ln -s /proc/sys/kernel/core_pattern "$ROOTFS_DIR/dev/null"
			else
				echo fake >"$ROOTFS_DIR/dev/null"
			fi
		EOF
		chmod +x "$BATS_TEST_TMPDIR/swap-null"
		update_config --arg h "$BATS_TEST_TMPDIR/swap-null" '.hooks.createContainer = [{"path": $h}]
			| .linux.maskedPaths = ["/proc/cpuinfo"] | .process.args = ["true"]'
		husk run "ct-$kind"
		[ "$status" -eq 1 ]
		assert_contains "$output" "maskedPaths[0] (/proc/cpuinfo)"
		assert_contains "$output" "not the null device"
		assert_nothing_left "ct-$kind"
	done
}

# Writes into /proc (here a sysctl) go only to procfs itself: a tmpfs the
# config mounts over /proc/sys must not receive them.
@test "security: sysctl writes refuse a /proc/sys that is not procfs" {
	update_config '.mounts += [{"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}]
		| .linux.sysctl = {"kernel.domainname": "evil"} | .process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" 'linux.sysctl["kernel.domainname"]'
	assert_nothing_left ct1
}

@test "seccomp: SCMP_ACT_KILL kills the process on the syscall (exit 128+SIGSYS)" {
	update_config '.linux.seccomp = {
			"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}
		| .root.readonly = false | .process.args = ["mkdir", "/tmp/x"]'
	husk run ct1
	[ "$status" -eq 159 ]
	update_config '.linux.seccomp.syscalls[0].action = "SCMP_ACT_KILL_PROCESS"'
	husk run ct2
	[ "$status" -eq 159 ]
	# without the rule the same program succeeds
	update_config 'del(.linux.seccomp)'
	husk run ct3
	[ "$status" -eq 0 ]
}

@test "seccomp: argument filters match only the given values" {
	# kill(2) with signal 10 (SIGUSR1) is refused with EPERM; signal 0 and 12 pass;
	# with SCMP_CMP_GE on the pid argument nothing below 2^30 matches.
	update_config '.linux.seccomp = {
			"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls": [
				{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
				 "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
				{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
				 "args": [{"index": 0, "value": 1073741824, "op": "SCMP_CMP_GE"}]}]}
		| .process.args = ["sh", "-c", "trap \"\" USR1 USR2; kill -0 $$ && echo sig0-ok; kill -USR2 $$ && echo usr2-ok; kill -USR1 $$ || echo usr1-refused; kill -0 1073741825 2>&1 | grep -q implemented && echo ge-matched; true"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" sig0-ok
	assert_contains "$output" usr2-ok
	assert_contains "$output" usr1-refused
	assert_contains "$output" ge-matched
}

# start_listener [DELAY_MS]: the seccomp listener on $BATS_TEST_TMPDIR/listener.sock,
# writing into $BATS_TEST_TMPDIR/listener/; with DELAY_MS it answers each syscall that late.
start_listener() {
	local bin
	bin="$(seccomp_listener_bin)" || skip "cannot build seccomp-listener (needs cc and libseccomp-dev)"
	LISTENER_DIR="$BATS_TEST_TMPDIR/listener"
	LISTENER_SOCK="$BATS_TEST_TMPDIR/listener.sock"
	mkdir -p "$LISTENER_DIR"
	start_bg env LISTENER_DELAY_MS="${1:-0}" "$bin" "$LISTENER_SOCK" "$LISTENER_DIR"
	wait_for_file "$LISTENER_DIR/ready"
}

notify_config() {
	update_config --arg sock "$LISTENER_SOCK" '.root.readonly = false | .linux.seccomp = {
			"defaultAction": "SCMP_ACT_ALLOW",
			"listenerPath": $sock, "listenerMetadata": "meta-1",
			"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}'
}

@test "seccomp: SCMP_ACT_NOTIFY sends the fd and the state to listenerPath; the listener answers" {
	start_listener
	notify_config
	update_config '.process.args = ["sh", "-c", "mkdir /tmp/x && echo mkdir-returned-0; [ -d /tmp/x ] || echo not-created"]'
	husk run ct1
	[ "$status" -eq 0 ]
	# the listener answered success without making the directory
	assert_contains "$output" mkdir-returned-0
	assert_contains "$output" not-created
	grep -qx 'mkdir\|mkdirat' "$LISTENER_DIR/log"
	# the container process state: one fd named seccompFd, the metadata, the state
	[ "$(cat "$LISTENER_DIR/nfds")" -eq 1 ]
	run jq -r '[.ociVersion, (.fds | join(",")), .metadata, .state.id, .state.status, (.pid > 0)] | join(" ")' "$LISTENER_DIR/state.json"
	echo "$output" >&2
	[[ "$output" == 1.2.*" seccompFd meta-1 ct1 creating true" ]]
}

# signal_during_notify [FLAG]: the container's sig-mkdir calls mkdir, which the listener
# holds for 1.5 s; once the listener has it, SIGUSR1 arrives. Sets NOTIFIED (how many
# notifications the listener got) and PROG_OUT (what sig-mkdir printed).
signal_during_notify() {
	local bin
	bin="$(sig_mkdir_bin)" || skip "cannot build a static sig-mkdir (needs cc and libc6-dev)"
	cp "$bin" "$ROOTFS_DIR/bin/sig-mkdir"
	start_listener 1500
	notify_config
	update_config '.process.args = ["/bin/sig-mkdir", "/tmp/z"]'
	[ -z "${1:-}" ] || update_config --arg f "$1" '.linux.seccomp.flags = [$f]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	local out="$HUSK_OUT"
	wait_for_file "$LISTENER_DIR/log"
	husk kill ct1 USR1
	[ "$status" -eq 0 ]
	wait_for_status ct1 stopped
	NOTIFIED="$(grep -c '^mkdir' "$LISTENER_DIR/log")"
	PROG_OUT="$(cat "$out")"
	echo "notified $NOTIFIED times; sig-mkdir: $PROG_OUT" >&2
}

@test "seccomp: WAIT_KILLABLE_RECV keeps a received notification waiting through a signal" {
	signal_during_notify SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	# the handler ran after the answer: one notification, and mkdir got the listener's 0
	[ "$NOTIFIED" -eq 1 ]
	assert_contains "$PROG_OUT" "mkdir=0 errno=0 signals=1"
}

@test "seccomp: without WAIT_KILLABLE_RECV the signal interrupts the notified syscall (control)" {
	signal_during_notify
	# interrupted, the handler ran, mkdir restarted (SA_RESTART) and notified again
	[ "$NOTIFIED" -eq 2 ]
	assert_contains "$PROG_OUT" "mkdir=0 errno=0 signals=1"
}

@test "seccomp: exec with SCMP_ACT_NOTIFY hands its own fd to the listener" {
	start_listener
	notify_config
	update_config '.process.args = ["sleep", "1000"]'
	# the init connects first: let a listener take that one, then another for exec
	husk run -d ct1
	[ "$status" -eq 0 ]
	wait_for_file "$LISTENER_DIR/state.json"
	kill "$BG_PID"
	rm -f "$LISTENER_SOCK" "$LISTENER_DIR"/*
	start_bg "$(seccomp_listener_bin)" "$LISTENER_SOCK" "$LISTENER_DIR"
	wait_for_file "$LISTENER_DIR/ready"
	husk exec ct1 sh -c 'mkdir /tmp/y && echo mkdir-returned-0; [ -d /tmp/y ] || echo not-created'
	[ "$status" -eq 0 ]
	assert_contains "$output" mkdir-returned-0
	assert_contains "$output" not-created
	run jq -r '[.state.id, .state.status, .metadata] | join(" ")' "$LISTENER_DIR/state.json"
	[ "$output" = "ct1 running meta-1" ]
}

@test "seccomp: SCMP_ACT_NOTIFY without a listener fails naming listenerPath, nothing left" {
	LISTENER_SOCK="$BATS_TEST_TMPDIR/nobody.sock"
	notify_config
	update_config '.process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "linux.seccomp.listenerPath: connect"
	assert_nothing_left ct1
	# and without listenerPath at all, the config is refused before anything starts
	update_config 'del(.linux.seccomp.listenerPath, .linux.seccomp.listenerMetadata)'
	husk run ct2
	[ "$status" -eq 1 ]
	assert_contains "$output" "linux.seccomp.syscalls[0].action"
	assert_contains "$output" "requires linux.seccomp.listenerPath"
	assert_nothing_left ct2
}

#!/usr/bin/env bats
# terminal: process.terminal with --console-socket (the pty master goes to the
# caller), consoleSize, and the foreground proxy of `husk run` / `husk exec -t`
# driven under util-linux `script`, which gives husk a real outer terminal.

load helpers

setup() {
	setup_bundle
	bind_shared
}
teardown() { teardown_bundle; }

# Start recvtty on $SOCK, output to $TTY_OUT; sets RECVTTY_PID.
start_recvtty() {
	local recvtty
	recvtty="$(recvtty_bin)"
	SOCK="$BATS_TEST_TMPDIR/console.sock"
	TTY_OUT="$BATS_TEST_TMPDIR/tty.out"
	"$recvtty" "$SOCK" >"$TTY_OUT" 2>"$BATS_TEST_TMPDIR/tty.err" </dev/null 3>&- &
	RECVTTY_PID=$!
	BG_PIDS+=("$RECVTTY_PID")
	for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
	[ -S "$SOCK" ]
}

# Wait for recvtty to see the slave closed; the pty's output, without \r.
recvtty_output() {
	wait_for_exit "$RECVTTY_PID"
	wait "$RECVTTY_PID" || { cat "$BATS_TEST_TMPDIR/tty.err" >&2; return 1; }
	tr -d '\r' <"$TTY_OUT"
}

# in_script FILE: run the shell script FILE under `script`, so that its stdin,
# stdout and stderr are the slave of a fresh pty. Sets status and output (\r
# removed). script's own stdin is a FIFO opened read-write: it never reads
# EOF there (on EOF script would type ^D into the outer pty, racing husk),
# and no extra process has to hold it open.
in_script() {
	command -v script >/dev/null || skip "needs util-linux script"
	chmod +x "$1"
	rm -f "$BATS_TEST_TMPDIR/script.in"
	mkfifo "$BATS_TEST_TMPDIR/script.in"
	run bash -c 'timeout 25 script -qec "$0" /dev/null <>"$1"' "$1" "$BATS_TEST_TMPDIR/script.in"
	output="$(printf '%s' "$output" | tr -d '\r')"
	echo "script $1: status $status" >&2
	echo "$output" >&2
}

@test "run: --console-socket gets the master; stdin, stdout, stderr are the pty /dev/pts/N" {
	requires cc
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; test -t 2 && echo stderr-tty; tty; readlink /proc/self/fd/0; readlink /proc/self/fd/2"]'
	start_recvtty
	husk run -d --console-socket "$SOCK" ct1
	[ "$status" -eq 0 ]
	out="$(recvtty_output)"
	echo "$out" >&2
	[ "$(echo "$out" | sed -n 1,3p | tr '\n' ' ')" = "stdin-tty stdout-tty stderr-tty " ]
	[[ "$(echo "$out" | sed -n 4p)" =~ ^/dev/pts/[0-9]+$ ]]
	tty="$(echo "$out" | sed -n 4p)"
	[ "$(echo "$out" | sed -n 5p)" = "$tty" ]
	[ "$(echo "$out" | sed -n 6p)" = "$tty" ]
}

@test "run: the pty comes from the container's own devpts" {
	requires cc
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "ls -1 /dev/pts; stat -c %d /dev/pts/ptmx"]'
	start_recvtty
	husk run -d --console-socket "$SOCK" ct1
	[ "$status" -eq 0 ]
	out="$(recvtty_output)"
	echo "$out" >&2
	# a fresh devpts: only the container's own slave (0) and ptmx
	[ "$(echo "$out" | head -2 | tr '\n' ' ')" = "0 ptmx " ]
	# and not the host's devpts
	[ "$(echo "$out" | sed -n 3p)" != "$(stat -c %d /dev/pts/ptmx)" ]
}

@test "run: consoleSize sets the rows and columns of the pty" {
	requires cc
	update_config '.process.terminal = true
		| .process.consoleSize = {"height": 33, "width": 111}
		| .process.args = ["stty", "size"]'
	start_recvtty
	husk run -d --console-socket "$SOCK" ct1
	[ "$status" -eq 0 ]
	[ "$(recvtty_output)" = "33 111" ]
}

@test "run: input written to the master reaches the container's stdin" {
	requires cc
	recvtty="$(recvtty_bin)"
	SOCK="$BATS_TEST_TMPDIR/console.sock"
	TTY_OUT="$BATS_TEST_TMPDIR/tty.out"
	"$recvtty" "$SOCK" $'typed-line\n' >"$TTY_OUT" 2>"$BATS_TEST_TMPDIR/tty.err" </dev/null 3>&- &
	RECVTTY_PID=$!
	BG_PIDS+=("$RECVTTY_PID")
	for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "stty -echo; read l; echo \"got:$l\""]'
	husk run -d --console-socket "$SOCK" ct1
	[ "$status" -eq 0 ]
	out="$(recvtty_output)"
	echo "$out" >&2
	assert_contains "$out" "got:typed-line"
}

@test "exec: --tty with --console-socket gives the process its own pty" {
	requires cc
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	start_recvtty
	husk exec --tty --detach --console-socket "$SOCK" ct1 sh -c 'test -t 0 && test -t 1 && echo exec-tty; tty; stty size'
	[ "$status" -eq 0 ]
	out="$(recvtty_output)"
	echo "$out" >&2
	[ "$(echo "$out" | sed -n 1p)" = exec-tty ]
	[[ "$(echo "$out" | sed -n 2p)" =~ ^/dev/pts/[0-9]+$ ]]
}

@test "exec: -t in the foreground with --console-socket returns the exit code" {
	requires cc
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	start_recvtty
	husk exec -t --console-socket "$SOCK" ct1 sh -c 'test -t 0 && echo fg-tty; exit 5'
	[ "$status" -eq 5 ]
	[ "$(recvtty_output)" = fg-tty ]
}

@test "exec: --process with terminal true and --console-socket" {
	requires cc
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	start_recvtty
	echo '{"terminal": true, "args": ["sh", "-c", "test -t 0 && echo proc-tty"], "cwd": "/", "env": ["PATH=/bin"],
		"consoleSize": {"height": 21, "width": 77}}' >"$BATS_TEST_TMPDIR/p.json"
	husk exec -d --console-socket "$SOCK" --process "$BATS_TEST_TMPDIR/p.json" ct1
	[ "$status" -eq 0 ]
	[ "$(recvtty_output)" = proc-tty ]
}

@test "run: a console socket nobody listens on fails naming it, nothing left" {
	update_config '.process.terminal = true'
	husk run -d --console-socket "$BATS_TEST_TMPDIR/nobody.sock" ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "nobody.sock"
	assert_nothing_left ct1
}

@test "run: foreground terminal without a console socket proxies a real tty (script)" {
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo proxied-tty; tty; exit 4"]'
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		"$HUSK" --root "$ROOT" run ct1
		echo "husk-exit=\$?"
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	assert_contains "$output" proxied-tty
	echo "$output" | grep -Eqx '/dev/pts/[0-9]+'
	echo "$output" | grep -qx 'husk-exit=4'
}

@test "run: the proxied pty has the outer window size from the program's first instruction" {
	# `stty size` is the very first thing the program does: the size must be
	# on the pty before the program runs, not copied in some time after.
	update_config '.process.terminal = true | .process.args = ["stty", "size"]'
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		stty rows 42 cols 123
		for i in 1 2 3 4 5 6 7 8 9 10; do
			"$HUSK" --root "$ROOT" run ct\$i
		done
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '42 123\n%.0s' $(seq 10))" ]
}

@test "run: the outer terminal's settings are restored after the proxy" {
	update_config '.process.terminal = true | .process.args = ["true"]'
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		stty -g > "$BATS_TEST_TMPDIR/before"
		"$HUSK" --root "$ROOT" run ct1
		stty -g > "$BATS_TEST_TMPDIR/after"
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	[ -s "$BATS_TEST_TMPDIR/before" ]
	[ "$(cat "$BATS_TEST_TMPDIR/before")" = "$(cat "$BATS_TEST_TMPDIR/after")" ]
}

@test "exec: -t in the foreground proxies a real tty (script)" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		"$HUSK" --root "$ROOT" exec -t ct1 sh -c 'test -t 0 && test -t 1 && test -t 2 && echo exec-proxied; tty; exit 6'
		echo "husk-exit=\$?"
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	assert_contains "$output" exec-proxied
	echo "$output" | grep -Eqx '/dev/pts/[0-9]+'
	echo "$output" | grep -qx 'husk-exit=6'
}

@test "exec: -t gives the outer window size from the program's first instruction" {
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		stty rows 24 cols 91
		for i in 1 2 3 4 5 6 7 8 9 10; do
			"$HUSK" --root "$ROOT" exec -t ct1 stty size
		done
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '24 91\n%.0s' $(seq 10))" ]
}

@test "run: SIGWINCH on the outer terminal resizes the container's pty" {
	# The container waits until its pty shows the first size (30 80; this
	# test is not about when that arrives), writes it, then polls `stty size`
	# until it sees the new one, or gives up after 10 s and exits 1. The
	# resizer runs once the first size is written: `stty rows/cols` on the
	# outer pty makes the kernel send SIGWINCH to husk, which copies the size.
	update_config '.process.terminal = true
		| .process.args = ["sh", "-c", "i=0; until [ \"$(stty size 2>/dev/null)\" = \"30 80\" ]; do sleep 0.05; i=$((i + 1)); [ $i -lt 100 ] || exit 2; done; stty size > /shared/before; i=0; while [ $i -lt 100 ]; do s=$(stty size); if [ \"$s\" = \"50 132\" ]; then echo \"$s\" > /shared/after; exit 0; fi; sleep 0.1; i=$((i + 1)); done; exit 1"]'
	cat >"$BATS_TEST_TMPDIR/outer.sh" <<-EOF
		#!/bin/sh
		stty rows 30 cols 80
		(
			i=0
			while [ ! -s "$SHARED/before" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
			stty rows 50 cols 132 </dev/tty
		) &
		"$HUSK" --root "$ROOT" run ct1
		echo "husk-exit=\$?"
		wait
	EOF
	in_script "$BATS_TEST_TMPDIR/outer.sh"
	[ "$status" -eq 0 ]
	[ "$(cat "$SHARED/before")" = "30 80" ]
	echo "$output" | grep -qx 'husk-exit=0'
	[ "$(cat "$SHARED/after")" = "50 132" ]
}

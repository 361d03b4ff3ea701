#!/usr/bin/env bats
# husk under a real containerd: a private containerd (Debian's package, its own
# config, root, state and socket under a temp dir) drives husk through its
# unchanged io.containerd.runc.v2 shim with `ctr run --runc-binary`, on a
# busybox OCI image built locally (oci-image.bash; no registry is reachable).
# The contract is how the shim calls runc (CLIENTS.md in the project notes):
# the argv per operation, the JSON --log line it shows when create fails.
# Skips as a whole only when containerd cannot be installed or started;
# pause and metrics skip, with the reason, where the host's cgroups cannot.

load helpers
load oci-image

CTRD_NS=husk-test

# ---------------------------------------------------------------------------
# the private containerd

setup_file() {
	# bats 1.8 has no `skip` in setup_file: setup() skips every test with
	# $CTRD_SKIP instead.
	export CTRD_SKIP=
	[ "$(id -u)" -eq 0 ] || { CTRD_SKIP="needs root"; return 0; }
	command -v jq >/dev/null || { CTRD_SKIP="needs jq"; return 0; }
	[ -x "$HUSK" ] || { CTRD_SKIP="husk is not built: $HUSK"; return 0; }
	ctrd_install || { CTRD_SKIP="containerd cannot be installed: $CTRD_WHY"; return 0; }

	CTRD_DIR="$(mktemp -d /tmp/husk-ctrd.XXXXXX)"	# short: socket paths
	export CTRD_DIR
	export CTRD_SOCK="$CTRD_DIR/containerd.sock"
	export CTRD_ROOT="$CTRD_DIR/root" CTRD_STATE="$CTRD_DIR/state"
	export RUNC_ROOT="$CTRD_DIR/runc-root"	# husk's --root is $RUNC_ROOT/$CTRD_NS
	export CTRD_BUNDLES="$CTRD_STATE/io.containerd.runtime.v2.task/$CTRD_NS"
	mkdir -p "$CTRD_ROOT" "$CTRD_STATE" "$RUNC_ROOT" "$CTRD_DIR/opt"

	ctrd_config >"$CTRD_DIR/config.toml" || {
		CTRD_SKIP="cannot write a containerd config (containerd config default)"
		return 0
	}
	# The config really moved everything: containerd's own dump names our dirs.
	containerd --config "$CTRD_DIR/config.toml" config dump 2>/dev/null |
		grep -qx "root = \"$CTRD_ROOT\"" || {
		CTRD_SKIP="containerd does not take the config's root = $CTRD_ROOT"
		return 0
	}
	ctrd_start || { CTRD_SKIP="containerd does not start here: $CTRD_WHY"; return 0; }
	export CTRD_PID

	# overlayfs where this host can mount it, else the native (copying) one;
	# CTRD_SNAPSHOTTER=native forces the latter.
	export CONTAINERD_SNAPSHOTTER="${CTRD_SNAPSHOTTER:-overlayfs}"
	ctrd_plugin_ok "io.containerd.snapshotter.v1.$CONTAINERD_SNAPSHOTTER" ||
		CONTAINERD_SNAPSHOTTER=native
	echo "# containerd $(containerd --version | awk '{print $3}'), snapshotter $CONTAINERD_SNAPSHOTTER, in $CTRD_DIR" >&3

	local tar
	tar="$(oci_busybox_archive)" || { ctrd_stop; false; return; }
	ctr_ images import "$tar" >&2 || { ctrd_stop; false; return; }
	ctr_ images ls -q | grep -qx "$OCI_BUSYBOX_REF" || {
		echo "image $OCI_BUSYBOX_REF missing after import" >&2
		ctrd_stop
		false
	}
}

teardown_file() {
	[ -n "${CTRD_DIR:-}" ] || return 0
	local id
	if [ -n "${CTRD_PID:-}" ]; then
		for id in $(ctr_ containers ls -q 2>/dev/null); do
			ctrd_remove "$id"
		done
	fi
	ctrd_stop
	ctrd_unmount_all
	rm -rf --one-file-system "$CTRD_DIR"
	# The runtime's parent cgroup for the namespace, if empty (rmdir only).
	find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name "$CTRD_NS" \
		-exec rmdir {} \; 2>/dev/null
	return 0
}

# apt-get install containerd (containerd, ctr, containerd-shim-runc-v2) when
# one of them is missing.
ctrd_install() {
	local b missing=0
	for b in containerd ctr containerd-shim-runc-v2; do
		command -v "$b" >/dev/null || missing=1
	done
	[ "$missing" -eq 0 ] && return 0
	if ! command -v apt-get >/dev/null; then
		CTRD_WHY="containerd missing and no apt-get"
		return 1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y containerd \
		>"$BATS_FILE_TMPDIR/apt.log" 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update >>"$BATS_FILE_TMPDIR/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y containerd \
			>>"$BATS_FILE_TMPDIR/apt.log" 2>&1
	fi
	for b in containerd ctr containerd-shim-runc-v2; do
		command -v "$b" >/dev/null || {
			CTRD_WHY="apt-get install containerd: $(tail -n1 "$BATS_FILE_TMPDIR/apt.log")"
			return 1
		}
	done
}

# `containerd config default` with everything that points at the host's
# containerd moved under $CTRD_DIR, CRI (and the snapshotters that need
# disks or kernel modules we do not have) disabled.
ctrd_config() {
	containerd config default | awk -v root="$CTRD_ROOT" -v state="$CTRD_STATE" \
		-v sock="$CTRD_SOCK" -v opt="$CTRD_DIR/opt" '
		function set(v) { sub(/=.*/, "= \"" v "\""); }
		/^[ \t]*\[/ { sec = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", sec) }
		sec == "" && /^root *=/ { set(root) }
		sec == "" && /^state *=/ { set(state) }
		sec == "" && /^disabled_plugins *=/ {
			$0 = "disabled_plugins = [\"io.containerd.grpc.v1.cri\", " \
				"\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\", " \
				"\"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.zfs\"]"
		}
		sec == "grpc" && /^[ \t]*address *=/ { set(sock) }
		sec == "ttrpc" && /^[ \t]*address *=/ { set("") }
		sec == "debug" && /^[ \t]*address *=/ { set("") }
		sec == "metrics" && /^[ \t]*address *=/ { set("") }
		sec == "plugins.\"io.containerd.internal.v1.opt\"" && /^[ \t]*path *=/ { set(opt) }
		{ print }'
}

# Start containerd in the background (cwd /, no fd of bats), wait for its
# socket. Sets CTRD_PID, or CTRD_WHY on failure.
ctrd_start() {
	local tries=100
	(cd / && exec containerd --config "$CTRD_DIR/config.toml" --log-level info \
		</dev/null >"$CTRD_DIR/containerd.log" 2>&1 3>&-) &
	CTRD_PID=$!
	echo "$CTRD_PID" >"$CTRD_DIR/containerd.pid"
	while [ "$tries" -gt 0 ]; do
		if ! kill -0 "$CTRD_PID" 2>/dev/null; then
			CTRD_WHY="exited: $(tail -n3 "$CTRD_DIR/containerd.log" | tr '\n' ' ')"
			CTRD_PID=
			return 1
		fi
		[ -S "$CTRD_SOCK" ] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	CTRD_WHY="no answer on $CTRD_SOCK after 10 s: $(tail -n3 "$CTRD_DIR/containerd.log" | tr '\n' ' ')"
	ctrd_stop
	return 1
}

# Stop containerd by its PID (TERM, then KILL after 10 s), then any shim it
# started that is still running (they outlive containerd by design).
ctrd_stop() {
	local pid="${CTRD_PID:-}" tries=100 p
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
			sleep 0.1
			tries=$((tries - 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		wait "$pid" 2>/dev/null
	fi
	CTRD_PID=
	for p in $(ctrd_shims); do
		echo "teardown: killing shim $p left running" >&2
		kill -KILL "$p" 2>/dev/null
	done
}

# PIDs of the shims of this containerd (their argv names our socket).
ctrd_shims() {
	local d
	for d in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$d/cmdline" |
			grep -q "^containerd-shim-runc-v2 .*-address $CTRD_SOCK\( \|$\)" &&
			echo "${d#/proc/}"
	done
	return 0
}

# Mount points under $CTRD_DIR, deepest first (from /proc/self/mountinfo;
# octal escapes as the kernel writes them).
ctrd_mounts() {
	awk -v dir="$CTRD_DIR/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r
}

# Unmount what containerd and its shims left under $CTRD_DIR, by exact path.
ctrd_unmount_all() {
	local m
	for m in $(ctrd_mounts); do
		m="$(printf '%b' "$m")"
		echo "teardown: unmounting $m" >&2
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# Is the plugin loaded ("ok" in `ctr plugins ls`)?
ctrd_plugin_ok() {
	ctr_ plugins ls 2>/dev/null | awk -v id="${1##*.}" -v t="${1%.*}" \
		'$1 == t && $2 == id && $NF == "ok" { f = 1 } END { exit !f }'
}

# ---------------------------------------------------------------------------
# driving it

# ctr against our containerd, in our namespace, never for more than 30 s.
# The IO fifos of `run` and `task exec` go under $CTRD_DIR too (ctr's default
# is /run/containerd/fifo, where it leaves empty directories behind).
ctr_() {
	case "$1 $2" in
	"run "*) set -- run --fifo-dir "$CTRD_DIR/fifo" "${@:2}" ;;
	"task exec") set -- task exec --fifo-dir "$CTRD_DIR/fifo" "${@:3}" ;;
	esac
	timeout "${CTR_TIMEOUT:-30}" ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS" "$@"
}

# Like bats `run ctr_ ...`, echoing the command, status and output to stderr
# (bats shows them when the test fails). stdin is /dev/null.
ctrd() {
	run ctr_ "$@" </dev/null
	{
		echo "\$ ctr $*"
		echo "status: $status"
		if [ -n "$output" ]; then echo "$output"; fi
	} >&2
	return 0
}

# run_ctr [CTR RUN OPTIONS...] ID ARGS...: `ctr run` of the busybox image
# with husk (or $RT_BIN) as the runtime binary.
run_ctr() {
	local opts=() id
	while [[ "$1" == -* ]]; do
		opts+=("$1")
		shift
	done
	id="$1"
	shift
	IDS+=("$id")
	ctrd run "${opts[@]}" --runc-binary "${RT_BIN:-$HUSK}" --runc-root "$RUNC_ROOT" \
		"$OCI_BUSYBOX_REF" "$id" "$@"
}

# Write $BATS_TEST_TMPDIR/husk-wrapper, a --runc-binary that appends its argv
# to argv.log, runs husk (not exec: it looks at the result) and keeps a copy
# of the --log file (cwd is the bundle) as log.json in $BATS_TEST_TMPDIR,
# which outlives the bundle. Prints its path.
make_wrapper() {
	local w="$BATS_TEST_TMPDIR/husk-wrapper" t="$BATS_TEST_TMPDIR"
	cat >"$w" <<-EOF
		#!/bin/sh
		# stdout and stderr are the container's IO during create: log elsewhere.
		printf '%s\n' "\$*" >>"$t/argv.log"
		"$HUSK" "\$@"
		rc=\$?
		[ -f log.json ] && cp log.json "$t/log.json"
		exit \$rc
	EOF
	chmod +x "$w"
	echo "$w"
}

# A detached task running `sleep 1000` (or ARGS), RUNNING when this returns.
start_task() {
	local id="$1"
	shift
	[ $# -gt 0 ] || set -- sleep 1000
	run_ctr -d "$id" "$@"
	[ "$status" -eq 0 ] || return 1
	[ "$(task_status "$id")" = RUNNING ]
}

# STATUS column of `ctr task ls` for ID (RUNNING, PAUSED, STOPPED, ...).
task_status() {
	ctr_ task ls </dev/null 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'
}

task_pid() {
	ctr_ task ls </dev/null 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'
}

# wait_task ID STATUS: poll `ctr task ls` for 10 s.
wait_task() {
	local tries=100 got=
	while [ "$tries" -gt 0 ]; do
		got="$(task_status "$1")"
		[ "$got" = "$2" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "wait_task: $1 is '$got', wanted '$2'" >&2
	return 1
}

# delete_task ID: `ctr task delete ID`; sets status, output and $exit_code,
# the task's exit status (ctr 1.6 exits 0 and warns "exit with non-zero exit
# code N"; newer ctr exits N).
delete_task() {
	ctrd task delete "$1"
	exit_code=
	[ "$status" -eq 0 ] || return 0
	exit_code="$(sed -n 's/.*exit with non-zero exit code \([0-9]*\).*/\1/p' <<<"$output")"
	exit_code="${exit_code:-0}"
}

# Kill and delete the task and container of ID, ignoring what is not there.
ctrd_remove() {
	local id="$1"
	ctr_ task kill -a -s SIGKILL "$id" </dev/null >/dev/null 2>&1 && wait_task "$id" STOPPED 2>/dev/null
	ctr_ task delete "$id" </dev/null >/dev/null 2>&1
	ctr_ containers delete "$id" </dev/null >/dev/null 2>&1
	return 0
}

# ---------------------------------------------------------------------------
# nothing left behind

# No trace of container ID: no container record, task, husk state dir,
# mount, cgroup, shim or process in its bundle.
ctrd_nothing_left() {
	local id="$1" failed=0 left d target p
	if ctr_ containers ls -q </dev/null 2>/dev/null | grep -qx "$id"; then
		echo "container record left: $id" >&2
		failed=1
	fi
	if [ -n "$(task_status "$id")" ]; then
		echo "task left: $id ($(task_status "$id"))" >&2
		failed=1
	fi
	if [ -e "$RUNC_ROOT/$CTRD_NS/$id" ]; then
		echo "husk state left: $RUNC_ROOT/$CTRD_NS/$id" >&2
		failed=1
	fi
	if [ -e "$CTRD_BUNDLES/$id" ]; then
		echo "shim bundle left: $CTRD_BUNDLES/$id" >&2
		failed=1
	fi
	left="$(grep -F -- "/$id" /proc/self/mountinfo | grep -F -- "$CTRD_DIR/" || true)"
	if [ -n "$left" ]; then
		echo "left mounted: $left" >&2
		failed=1
	fi
	check_no_cgroup "$id" || failed=1
	# Processes: a shim for ID, or anything with its cwd or root in the bundle
	# (a process killed just now gets 2 s to go).
	for ((p = 0; p < 20; p++)); do
		left=
		for d in /proc/[0-9]*; do
			tr '\0' ' ' 2>/dev/null <"$d/cmdline" |
				grep -q "^containerd-shim-runc-v2 .*-id $id .*-address $CTRD_SOCK" &&
				left+=" ${d#/proc/}(shim)"
		done
		while read -r d target; do
			[[ "$target" == "$CTRD_BUNDLES/$id" || "$target" == "$CTRD_BUNDLES/$id/"* ]] &&
				pid_alive "${d#/proc/}" && left+=" ${d#/proc/}"
		done < <(find /proc -mindepth 2 -maxdepth 2 \( -name cwd -o -name root \) \
			-printf '%h %l\n' 2>/dev/null)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		echo "processes left for $id:$left" >&2
		failed=1
	fi
	[ "$failed" -eq 0 ]
}

setup() {
	[ -z "$CTRD_SKIP" ] || skip "$CTRD_SKIP"
	IDS=()
	RT_BIN=
}

teardown() {
	local id failed=0
	[ -z "$CTRD_SKIP" ] || return 0
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "--- containerd.log (last 15 lines)" >&2
		tail -n 15 "$CTRD_DIR/containerd.log" >&2
	fi
	for id in "${IDS[@]}"; do
		ctrd_remove "$id"
	done
	for id in "${IDS[@]}"; do
		ctrd_nothing_left "$id" || failed=1
	done
	[ "$failed" -eq 0 ]
}

# cgroup of PID in the hierarchy that has CONTROLLER ("" for the v2 one):
# prints the directory, or nothing.
cgroup_dir() {
	local pid="$1" ctl="$2" line path mnt
	if [ -z "$ctl" ]; then
		path="$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
		for mnt in /sys/fs/cgroup /sys/fs/cgroup/unified; do
			[ "$(stat -fc %T "$mnt" 2>/dev/null)" = cgroup2fs ] &&
				{ echo "$mnt$path"; return 0; }
		done
		return 0
	fi
	line="$(grep -E "^[0-9]+:([^:]*,)?$ctl(,[^:]*)?:" "/proc/$pid/cgroup")" || return 0
	path="${line#*:*:}"
	mnt="$(awk -v c="$ctl" '$9 == "cgroup" && ("," $NF ",") ~ ("," c ",") { print $5; exit }' \
		/proc/self/mountinfo)"
	[ -n "$mnt" ] && echo "$mnt$path"
}

# freezer_state PID: "frozen" when the own cgroup of PID (not a hierarchy's
# root) is frozen in the v2 or the v1 freezer, "thawed" when it has one that
# is not, "none" when it is in no cgroup with a freezer.
freezer_state() {
	local cg v1 st=none
	cg="$(cgroup_dir "$1" "")"
	v1="$(cgroup_dir "$1" freezer)"
	if [ -n "$cg" ] && [ -e "$cg/cgroup.freeze" ]; then
		st=thawed
		grep -qx 'frozen 1' "$cg/cgroup.events" && { echo frozen; return 0; }
	fi
	if [ -n "$v1" ] && [[ "$v1" != */ ]] && [ -e "$v1/freezer.state" ]; then
		st=thawed
		[ "$(cat "$v1/freezer.state")" = FROZEN ] && { echo frozen; return 0; }
	fi
	echo "$st"
}

# wait_freezer PID STATE: cgroup v2 reports "frozen" once every task stopped.
wait_freezer() {
	local tries=20 got=
	while [ "$tries" -gt 0 ]; do
		got="$(freezer_state "$1")"
		[ "$got" = "$2" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "freezer of $1: '$got', wanted '$2'" >&2
	return 1
}

# What freezer this host offers: "cgroup2 MOUNT" (cgroup.freeze, Linux 5.2+)
# or "v1 MOUNT"; nothing when it has none.
host_freezer() {
	local mnt
	for mnt in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ "$(stat -fc %T "$mnt" 2>/dev/null)" = cgroup2fs ] || continue
		# The root cgroup has no cgroup.freeze; any child shows the kernel's support.
		if find "$mnt" -mindepth 2 -maxdepth 2 -name cgroup.freeze 2>/dev/null | grep -q .; then
			echo "cgroup2 $mnt"
			return 0
		fi
	done
	mnt="$(awk '$9 == "cgroup" && ("," $NF ",") ~ /,freezer,/ { print $5; exit }' /proc/self/mountinfo)"
	[ -n "$mnt" ] && echo "v1 $mnt"
	return 0
}

# ---------------------------------------------------------------------------
# tests

@test "ctr images import: the locally built busybox OCI image is complete" {
	local manifest
	manifest="$(tar -xOf "$(oci_busybox_archive)" index.json | jq -r '.manifests[0].digest')"
	# The name points at our manifest; it, the config and the layer are all
	# there (digests and sizes checked on import) and unpacked.
	ctrd images check
	[ "$status" -eq 0 ]
	grep -E "^$OCI_BUSYBOX_REF +application/vnd.oci.image.manifest.v1\+json +$manifest +complete \(2/2\) .* true$" <<<"$output"
	ctrd images ls
	grep -E "^$OCI_BUSYBOX_REF .* linux/$(oci_arch) " <<<"$output"
}

@test "ctr run --rm: prints the container's output" {
	run_ctr --rm ct-out sh -c 'echo "hello from pid $$"; echo to-stderr >&2'
	[ "$status" -eq 0 ]
	assert_contains "$output" "hello from pid 1"
	assert_contains "$output" "to-stderr"
}

@test "ctr run --rm: returns the container's exit code" {
	run_ctr --rm ct-exit sh -c 'exit 3'
	[ "$status" -eq 3 ]
	run_ctr --rm ct-exit0 true
	[ "$status" -eq 0 ]
}

@test "ctr run: the image's config (Env, Cmd, rootfs) reaches the container" {
	run_ctr --rm ct-env sh -c 'echo "PATH=$PATH"; cat /etc/passwd | head -n1; ls /bin/busybox'
	[ "$status" -eq 0 ]
	assert_contains "$output" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	assert_contains "$output" "root:x:0:0:root:/root:/bin/sh"
	assert_contains "$output" "/bin/busybox"
}

@test "ctr run: husk gets the shim's argv (--root, --log json, --bundle, --pid-file)" {
	local log="$BATS_TEST_TMPDIR/argv.log" b="$CTRD_BUNDLES/ct-argv" root="$RUNC_ROOT/$CTRD_NS"
	RT_BIN="$(make_wrapper)"

	start_task ct-argv
	ctrd task exec --exec-id e1 ct-argv true
	[ "$status" -eq 0 ]
	ctrd task kill -s SIGKILL ct-argv
	[ "$status" -eq 0 ]
	wait_task ct-argv STOPPED
	delete_task ct-argv
	[ "$exit_code" -eq 137 ]
	ctrd containers delete ct-argv
	[ "$status" -eq 0 ]

	cat "$log" >&2
	local g="--root $root --log $b/log.json --log-format json"
	grep -qx -- "$g create --bundle $b --pid-file $b/init.pid ct-argv" "$log"
	grep -qx -- "$g start ct-argv" "$log"
	grep -qx -- "$g exec --process [^ ]* --detach --pid-file $b/e1.pid ct-argv" "$log"
	grep -qx -- "$g kill ct-argv 9" "$log"
	grep -qx -- "$g delete ct-argv" "$log"
}

@test "ctr task exec: runs a process in the running task, returns its exit code" {
	start_task ct-exec
	ctrd task exec --exec-id e1 ct-exec sh -c 'echo "exec as $(id -u) in $(pwd)"; ps -o pid,args'
	[ "$status" -eq 0 ]
	assert_contains "$output" "exec as 0 in /"
	# The container's pid namespace: its init is PID 1 there.
	grep -qE '^ *1 +sleep 1000$' <<<"$output"
	ctrd task exec --exec-id e2 ct-exec sh -c 'exit 5'
	[ "$status" -eq 5 ]
	# An exec id can be reused once the previous one exited.
	ctrd task exec --exec-id e1 ct-exec true
	[ "$status" -eq 0 ]
	[ "$(task_status ct-exec)" = RUNNING ]
}

# ctr_in_pty ARGS...: run ctr ARGS with stdin, stdout and stderr the slave of
# a fresh pty (util-linux script). The timeout stays outside script: inside,
# timeout would put ctr in a process group of its own, in the background of
# the pty, and ctr's terminal set-up would stop it on SIGTTOU. SHELL is set
# so the result does not depend on the caller's environment.
ctr_in_pty() {
	local cmd
	cmd="$(printf '%q ' ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS" "$@")"
	run timeout -k 5 40 env SHELL=/bin/sh script -qec "$cmd" /dev/null </dev/null
	echo "script: status $status, output: $output" >&2
}

@test "ctr task exec -t: the process gets a pty of the container" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	start_task ct-tty
	ctr_in_pty task exec --fifo-dir "$CTRD_DIR/fifo" -t --exec-id t1 ct-tty \
		sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-tty'
	[ "$status" -eq 0 ]
	[[ "$output" =~ /dev/pts/[0-9]+ ]]
	assert_contains "$output" "both-tty"
	# Without -t: no tty.
	ctrd task exec --exec-id t2 ct-tty sh -c 'tty; true'
	[ "$status" -eq 0 ]
	assert_contains "$output" "not a tty"
}

@test "ctr run -t: the init gets a pty" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	IDS+=(ct-runtty)
	ctr_in_pty run --fifo-dir "$CTRD_DIR/fifo" --rm -t --runc-binary "$HUSK" --runc-root "$RUNC_ROOT" \
		"$OCI_BUSYBOX_REF" ct-runtty sh -c 'tty; exit 4'
	[ "$status" -eq 4 ]
	[[ "$output" =~ /dev/pts/[0-9]+ ]]
}

@test "ctr task ps: lists the pids of the task" {
	start_task ct-ps
	local init
	init="$(task_pid ct-ps)"
	[ -n "$init" ] && [ "$init" -gt 0 ]
	ctrd task ps ct-ps
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == PID* ]]
	awk 'NR > 1 { print $1 }' <<<"$output" | grep -qx "$init"

	# A second process (a detached exec) shows up too.
	ctrd task exec -d --exec-id e1 ct-ps sleep 999
	[ "$status" -eq 0 ]
	local tries=50
	until ctr_ task ps ct-ps </dev/null | awk 'NR > 1' | wc -l | grep -qx 2; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || { ctr_ task ps ct-ps >&2; false; }
		sleep 0.1
	done
	ctrd task ps ct-ps
	for p in $(awk 'NR > 1 { print $1 }' <<<"$output"); do
		[ -d "/proc/$p" ]
	done
}

@test "ctr task kill: SIGTERM reaches the task, which stops with its exit code" {
	start_task ct-term sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
	ctrd task kill ct-term
	[ "$status" -eq 0 ]
	wait_task ct-term STOPPED
	delete_task ct-term
	[ "$status" -eq 0 ]
	[ "$exit_code" -eq 7 ]
	ctrd containers delete ct-term
	[ "$status" -eq 0 ]
}

@test "ctr task kill: SIGKILL, and --all to every process, stop the task" {
	start_task ct-kill
	ctrd task kill -s SIGKILL ct-kill
	[ "$status" -eq 0 ]
	wait_task ct-kill STOPPED
	delete_task ct-kill
	[ "$status" -eq 0 ]
	[ "$exit_code" -eq 137 ]

	start_task ct-killall
	ctrd task exec -d --exec-id e1 ct-killall sleep 999
	[ "$status" -eq 0 ]
	ctrd task kill -a -s SIGKILL ct-killall
	[ "$status" -eq 0 ]
	wait_task ct-killall STOPPED
	delete_task ct-killall
	[ "$status" -eq 0 ]
	[ "$exit_code" -eq 137 ]
}

@test "ctr task pause/resume: freezes and thaws the task" {
	local host pid
	host="$(host_freezer)"
	start_task ct-pause
	pid="$(task_pid ct-pause)"
	echo "cgroups of the init ($pid):" >&2
	cat "/proc/$pid/cgroup" >&2

	ctrd task pause ct-pause
	if [ "$status" -ne 0 ] && [ -z "$host" ]; then
		skip "this host has no freezer (neither cgroup v2 nor a v1 freezer hierarchy); ctr said: $output"
	fi
	[ "$status" -eq 0 ]
	wait_task ct-pause PAUSED
	# The container's own cgroup (not a hierarchy's root) is frozen, in the
	# v2 hierarchy (cgroup.freeze) or the v1 freezer (runc on hybrid hosts).
	wait_freezer "$pid" frozen

	ctrd task resume ct-pause
	[ "$status" -eq 0 ]
	wait_task ct-pause RUNNING
	wait_freezer "$pid" thawed
	ctrd task exec --exec-id e1 ct-pause echo thawed
	[ "$status" -eq 0 ]
	[ "$output" = thawed ]
}

@test "ctr task metrics: reports the task's cgroup" {
	start_task ct-metrics
	local pid cg c why="" own="/$CTRD_NS/ct-metrics"
	pid="$(task_pid ct-metrics)"
	cat "/proc/$pid/cgroup" >&2
	# The shim reads the cgroup files itself, of the cgroup the init is in:
	# v2 where /sys/fs/cgroup is cgroup2, else v1 (hybrid hosts too). The
	# figures are the container's only if that is its own cgroup ($own, the
	# cgroupsPath ctr sets) with the memory and pids controllers.
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		cg="$(cgroup_dir "$pid" "")"
		for c in memory pids; do
			grep -qw "$c" "$cg/cgroup.controllers" 2>/dev/null && continue
			why="the cgroup v2 hierarchy has no $c controller for ${cg#/sys/fs/cgroup}"
			break
		done
	else
		for c in memory pids; do
			[ -n "$(cgroup_dir "$pid" "$c")" ] || {
				why="this host has no v1 $c hierarchy, which the shim reads here"
				break
			}
			cg="$(cgroup_dir "$pid" "$c")"
			[[ "$cg" == *"$own" ]] && continue
			why="on this $(stat -fc %T /sys/fs/cgroup) (hybrid) host the shim reads the v1 controllers, and the init is in no v1 $c cgroup of its own (${cg#/sys/fs/cgroup/}): the runtime keeps it in the unified hierarchy, which has no controllers here"
			break
		done
	fi
	ctrd task metrics --format json ct-metrics
	[ -z "$why" ] || skip "$why"
	[ "$status" -eq 0 ]
	local cur
	cur="$(jq -r '.pids.current // empty' <<<"$output")"
	[ -n "$cur" ] && [ "$cur" -ge 1 ] && [ "$cur" -lt 10 ]
	[ "$(jq -r '.memory.usage.usage // .memory.usage // 0' <<<"$output")" -gt 0 ]
}

@test "ctr task delete, container delete: nothing is left behind" {
	start_task ct-del
	ctrd task exec -d --exec-id e1 ct-del sleep 999
	[ "$status" -eq 0 ]
	local pid
	pid="$(task_pid ct-del)"
	[ -d "$RUNC_ROOT/$CTRD_NS/ct-del" ]
	grep -qF "$CTRD_BUNDLES/ct-del/rootfs" /proc/self/mountinfo

	ctrd task delete ct-del
	[ "$status" -ne 0 ]	# a running task cannot be deleted
	ctrd task kill -s SIGKILL ct-del
	wait_task ct-del STOPPED
	delete_task ct-del
	[ "$status" -eq 0 ]
	[ "$exit_code" -eq 137 ]
	ctrd containers delete ct-del
	[ "$status" -eq 0 ]
	wait_for_exit "$pid"
	ctrd_nothing_left ct-del
}

@test "ctr run: a failing create shows husk's error through ctr" {
	local err
	RT_BIN="$(make_wrapper)"
	run_ctr --rm ct-fail /nosuch
	[ "$status" -ne 0 ]
	assert_contains "$output" "OCI runtime create failed"
	assert_contains "$output" "/nosuch"
	# The phrase docker and podman classify as "command not found" (127).
	assert_contains "$output" "no such file or directory"
	# What ctr shows is the msg of the last "level":"error" line husk wrote
	# to --log, one JSON object per line with level, msg and time.
	cat "$BATS_TEST_TMPDIR/log.json" >&2
	jq -se 'length > 0 and all(has("level") and has("msg") and has("time"))' \
		"$BATS_TEST_TMPDIR/log.json" >/dev/null
	err="$(jq -r 'select(.level == "error") | .msg' "$BATS_TEST_TMPDIR/log.json" | tail -n1)"
	[ -n "$err" ]
	assert_contains "$output" "OCI runtime create failed: $err"
	ctrd_nothing_left ct-fail

	# Same for a detached run; the container record stays until deleted.
	RT_BIN=
	run_ctr -d ct-fail2 /nosuch
	[ "$status" -ne 0 ]
	assert_contains "$output" "OCI runtime create failed"
	assert_contains "$output" "/nosuch"
	[ -z "$(task_status ct-fail2)" ]
	ctrd containers delete ct-fail2
	[ "$status" -eq 0 ]
	ctrd_nothing_left ct-fail2
}

@test "containerd: nothing of the tests is left (mounts, husk state, shims, cgroups)" {
	local left
	ctrd containers ls -q
	[ -z "$output" ]
	left="$(ctrd_mounts)"
	[ -z "$left" ] || { echo "mounts left: $left" >&2; false; }
	left="$(ls -A "$RUNC_ROOT/$CTRD_NS" 2>/dev/null || true)"
	[ -z "$left" ] || { echo "husk state left: $left" >&2; false; }
	left="$(ctrd_shims)"
	[ -z "$left" ] || { echo "shims left: $left" >&2; false; }
	left="$(find /sys/fs/cgroup -mindepth 2 -maxdepth 7 -type d -name 'ct-*' 2>/dev/null)"
	[ -z "$left" ] || { echo "cgroups left: $left" >&2; false; }
	# No process but containerd itself has its cwd or root in our tree.
	left="$(find /proc -mindepth 2 -maxdepth 2 \( -name cwd -o -name root \) -printf '%h %l\n' \
		2>/dev/null | awk -v d="$CTRD_DIR/" -v me="/proc/$CTRD_PID" \
		'index($2, d) == 1 && $1 != me { print $1 }' | sort -u)"
	[ -z "$left" ] || { echo "processes left in $CTRD_DIR: $left" >&2; false; }
}

# Shared helpers for the bats integration tests: the busybox rootfs, bundles,
# the `husk` wrapper, `requires`, and the checks that nothing is left behind.
#
# HUSK picks the binary under test (default: the meson build). The suite is
# also meant to pass against runc for everything that is not husk-specific
# text:  HUSK=runc bats tests/integration

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HUSK="${HUSK:-$REPO/build/runtime/husk}"
INTEGRATION_DIR="$REPO/tests/integration"
BUSYBOX="${BUSYBOX:-/bin/busybox}"

# Per-run cache (shared by every .bats file of one `bats` run, never committed).
CACHE_DIR="${BATS_RUN_TMPDIR:-${TMPDIR:-/tmp}}/husk-cache"

# ---------------------------------------------------------------------------
# cached artefacts

# Build the busybox rootfs once per run: the static binary, one symlink per
# applet, and a passwd/group with root, a user 1000 and nobody.
busybox_rootfs() {
	local dir="$CACHE_DIR/rootfs"

	[ -e "$dir/.done" ] && { echo "$dir"; return 0; }
	mkdir -p "$CACHE_DIR"
	(
		flock 9
		[ -e "$dir/.done" ] && exit 0
		rm -rf "$dir"
		mkdir -p "$dir"/{bin,dev,etc,proc,sys,tmp,root,run,mnt,home/user,var/tmp,usr/bin}
		chmod 1777 "$dir/tmp" "$dir/var/tmp"
		file "$BUSYBOX" 2>/dev/null | grep -q 'dynamically' &&
			echo "warning: $BUSYBOX is not static" >&2
		cp "$BUSYBOX" "$dir/bin/busybox"
		local a
		for a in $("$BUSYBOX" --list); do
			[ "$a" = busybox ] && continue
			ln -s busybox "$dir/bin/$a"
		done
		cat >"$dir/etc/passwd" <<-'EOF'
			root:x:0:0:root:/root:/bin/sh
			user:x:1000:1000:user:/home/user:/bin/sh
			nobody:x:65534:65534:nobody:/nonexistent:/bin/false
		EOF
		cat >"$dir/etc/group" <<-'EOF'
			root:x:0:
			tty:x:5:
			user:x:1000:
			nogroup:x:65534:
		EOF
		chown 1000:1000 "$dir/home/user"
		echo "husk-test" >"$dir/etc/hostname"
		touch "$dir/.done"
	) 9>"$CACHE_DIR/rootfs.lock"
	echo "$dir"
}

# build_helper NAME [LIBS...]: tests/integration/NAME.c compiled once per run
# into $CACHE_DIR; prints the binary's path.
build_helper() {
	local name="$1" bin="$CACHE_DIR/$1"
	shift
	[ -x "$bin" ] && { echo "$bin"; return 0; }
	mkdir -p "$CACHE_DIR"
	(
		flock 9
		[ -x "$bin" ] && exit 0
		cc -O2 -Wall -o "$bin.tmp" "$INTEGRATION_DIR/$name.c" "$@" && mv "$bin.tmp" "$bin"
	) 9>"$CACHE_DIR/$name.lock" >&2
	[ -x "$bin" ] || return 1
	echo "$bin"
}

# tests/integration/recvtty.c: receives a pty master over a console socket.
recvtty_bin() { build_helper recvtty; }

# tests/integration/seccomp-listener.c: a seccomp notify listener (libseccomp).
seccomp_listener_bin() { build_helper seccomp-listener -lseccomp; }

# tests/integration/sig-mkdir.c: mkdir under a SIGUSR1 handler, static for any rootfs.
sig_mkdir_bin() { build_helper sig-mkdir -static; }

# ---------------------------------------------------------------------------
# bundles

# A fresh bundle per test: $BUNDLE with a copy of the busybox rootfs and the
# config from `$HUSK spec` (terminal off). $ROOT is the --root of every call.
setup_bundle() {
	local rootfs

	rootfs="$(busybox_rootfs)"
	export BUNDLE="$BATS_TEST_TMPDIR/bundle"
	export ROOT="$BATS_TEST_TMPDIR/state"
	export SHARED="$BATS_TEST_TMPDIR/shared"	# a host dir tests bind into the container
	HUSK_CALLS=0
	BG_PIDS=()
	TEST_MOUNTS=()
	mkdir -p "$BUNDLE" "$SHARED"
	cp -a "$rootfs" "$BUNDLE/rootfs"
	rm -f "$BUNDLE/rootfs/.done"
	(cd "$BUNDLE" && "$HUSK" spec) >&2 || {
		echo "setup_bundle: \`$HUSK spec\` failed" >&2
		return 1
	}
	update_config '.process.terminal = false'
	ROOTFS_DIR="$BUNDLE/rootfs"	# a test that moves the rootfs updates this
	cd "$BUNDLE"
}

# Delete every container under $ROOT, undo what the test set up, then check
# that nothing is left: state dirs, mounts, processes, cgroups.
teardown_bundle() {
	local id m p failed=0

	# setup skipped (or failed) before setup_bundle: nothing to clean or check
	[ -n "${BUNDLE:-}" ] && [ -n "${ROOT:-}" ] || return 0
	cd "$BATS_TEST_TMPDIR" 2>/dev/null || cd /
	if [ -d "$ROOT" ]; then
		for id in $(ls -A "$ROOT"); do
			[ -d "$ROOT/$id" ] || continue
			"$HUSK" --root "$ROOT" delete -f "$id" </dev/null >&2 2>&1 ||
				echo "teardown: delete -f $id failed" >&2
		done
	fi
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
	# Unmount only what this test mounted itself, by exact path, newest first.
	for ((m = ${#TEST_MOUNTS[@]} - 1; m >= 0; m--)); do
		umount "${TEST_MOUNTS[m]}" 2>/dev/null || umount -l "${TEST_MOUNTS[m]}" 2>/dev/null
	done
	TEST_MOUNTS=()

	if [ -d "$ROOT" ] && [ -n "$(ls -A "$ROOT")" ]; then
		echo "teardown: left under --root: $(ls -A "$ROOT" | tr '\n' ' ')" >&2
		failed=1
	fi
	check_no_mounts || failed=1
	check_no_processes || failed=1
	[ "$failed" -eq 0 ]
}

# config.json <- jq FILTER config.json (extra args go to jq, e.g. --arg)
update_config() {
	local f="${BUNDLE:?}/config.json"
	jq "$@" "$f" >"$f.tmp" && mv "$f.tmp" "$f"
}

# Bind the host dir $SHARED (or $1) into the container at /shared (or $2).
bind_shared() {
	local src="${1:-$SHARED}" dst="${2:-/shared}"
	update_config --arg s "$src" --arg d "$dst" \
		'.mounts += [{"destination": $d, "type": "bind", "source": $s, "options": ["rbind", "rw"]}]'
}

# Let uid 100000+ traverse down to the bundle (mktemp dirs are 0700).
open_bundle_path() {
	local d="$BUNDLE"
	while [ "$d" != / ]; do
		chmod a+x "$d"
		d="$(dirname "$d")"
	done
}

# userns_config: a new user namespace mapping 0..65535 to 100000.. (and the bundle
# path opened up for it); cgroup mounts dropped, as a user namespace may not mount them.
userns_config() {
	open_bundle_path
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts |= map(select(.type != "cgroup"))'
}

# Start a background helper (e.g. a process holding a namespace) that the
# teardown kills. Sets $BG_PID.
start_bg() {
	"$@" </dev/null >/dev/null 2>&1 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# Record a mount the test made itself so the teardown removes it (exact path).
track_mount() {
	TEST_MOUNTS+=("$1")
}

# ---------------------------------------------------------------------------
# running the binary

# husk ARGS...: runs `$HUSK --root $ROOT ARGS` like bats `run` (sets status,
# output, lines) and echoes the command, status and output to stderr, which
# bats shows only when the test fails. The command's stdin is /dev/null and
# its stdout+stderr go to a file, not a pipe: a container started by
# create/run -d inherits them and would otherwise keep `run` waiting.
# The file stays at $HUSK_OUT (the container may keep writing to it).
husk() {
	HUSK_CALLS=$((HUSK_CALLS + 1))
	HUSK_OUT="$BATS_TEST_TMPDIR/husk.$HUSK_CALLS.out"
	run husk_raw "$@"
	output="$(cat "$HUSK_OUT")"
	lines=()
	local l
	while IFS= read -r l; do
		[ -n "$l" ] && lines+=("$l")
	done <<<"$output"
	{
		echo "\$ husk --root \$ROOT $*"
		echo "status: $status"
		if [ -n "$output" ]; then echo "$output"; fi
	} >&2
	return 0
}

husk_raw() {
	"$HUSK" --root "$ROOT" "$@" </dev/null >"$HUSK_OUT" 2>&1 3>&-
}

# Like husk, but without --root: for tests of the global options themselves.
husk_noroot() {
	HUSK_CALLS=$((HUSK_CALLS + 1))
	HUSK_OUT="$BATS_TEST_TMPDIR/husk.$HUSK_CALLS.out"
	run bash -c '"$@" </dev/null >"$0" 2>&1 3>&-' "$HUSK_OUT" "$HUSK" "$@"
	output="$(cat "$HUSK_OUT")"
	lines=()
	local l
	while IFS= read -r l; do
		[ -n "$l" ] && lines+=("$l")
	done <<<"$output"
	{
		echo "\$ husk $*"
		echo "status: $status"
		if [ -n "$output" ]; then echo "$output"; fi
	} >&2
	return 0
}

# Field of `husk state ID` (jq expression), e.g. state_field ct1 .status
state_field() {
	"$HUSK" --root "$ROOT" state "$1" </dev/null 2>/dev/null | jq -r "$2"
}

# wait_for_status ID STATUS [TRIES]: poll `state` (0.1 s apart, 10 s default).
wait_for_status() {
	local id="$1" want="$2" tries="${3:-100}" got=""
	while [ "$tries" -gt 0 ]; do
		got="$(state_field "$id" .status)"
		[ "$got" = "$want" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "wait_for_status: $id is '$got', wanted '$want'" >&2
	return 1
}

# wait_for_file FILE [TRIES]: until FILE exists and is not empty.
wait_for_file() {
	local f="$1" tries="${2:-100}"
	while [ "$tries" -gt 0 ]; do
		[ -s "$f" ] && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "wait_for_file: $f never appeared" >&2
	return 1
}

# wait_for_exit PID [TRIES]: until the host process PID is gone (or a zombie).
wait_for_exit() {
	local pid="$1" tries="${2:-100}"
	while [ "$tries" -gt 0 ]; do
		pid_alive "$pid" || return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "wait_for_exit: $pid still alive" >&2
	return 1
}

pid_alive() {
	[ -d "/proc/$1" ] || return 1
	! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# ---------------------------------------------------------------------------
# requirements

# requires WHAT...: skip the test, with the reason, unless the host has it.
requires() {
	local r
	for r in "$@"; do
		case "$r" in
		root)
			[ "$(id -u)" -eq 0 ] || skip "needs root"
			;;
		userns)
			[ -e /proc/self/ns/user ] &&
				[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] ||
				skip "needs user namespaces"
			;;
		timens)
			[ -e /proc/self/ns/time ] || skip "needs a kernel with time namespaces (5.6+)"
			;;
		cgroup2)
			[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ] ||
				skip "needs a pure cgroup v2 host with controllers (runs in the host bed)"
			;;
		cgroupns)
			[ -e /proc/self/ns/cgroup ] || skip "needs cgroup namespaces"
			;;
		kvm)
			[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "needs /dev/kvm"
			;;
		hostbed)
			[ -n "${HUSK_HOSTBED:-}" ] || skip "runs only inside the host bed (tests/hostbed)"
			;;
		cc)
			command -v cc >/dev/null || skip "needs a C compiler (cc)"
			;;
		husk)
			[ "$(basename "$HUSK")" = husk ] || skip "husk-only behaviour"
			;;
		*)
			skip "unknown requirement: $r"
			;;
		esac
	done
}

# ---------------------------------------------------------------------------
# nothing left behind

# No line of the host's mountinfo mentions the bundle.
check_no_mounts() {
	local left
	left="$(grep -F -- "$BUNDLE" /proc/self/mountinfo)"
	if [ -n "$left" ]; then
		echo "left mounted: $left" >&2
		return 1
	fi
	return 0
}

# No process has its root at the bundle rootfs (a pivoted container reads
# as "/", so compare device:inode with -ef), or its cwd/root path inside the
# bundle. A process killed just now gets 2 s to go away. The scan runs in a
# plain bash outside bats (whose per-command traps make loops slow), from /.
check_no_processes() {
	local left
	left="$(cd / && BUNDLE="$BUNDLE" ROOTFS_DIR="$ROOTFS_DIR" bash -c \
		"$(declare -f pid_alive processes_in_bundle scan_until_gone); scan_until_gone $$ $BASHPID" 2>/dev/null)"
	if [ -n "$left" ]; then
		echo "processes left in the bundle: $left" >&2
		return 1
	fi
	return 0
}

# processes_in_bundle [PID...]: host processes in $BUNDLE, except the PIDs given
# and this shell; prints "pid(cmdline)" lines.
processes_in_bundle() {
	local d pid target found="" skip=" $* $$ $BASHPID "
	for d in /proc/[0-9]*; do
		[ "$d/root" -ef "$ROOTFS_DIR" ] && found+=" ${d#/proc/}"
	done
	while read -r d target; do
		[[ "$target" == "$BUNDLE" || "$target" == "$BUNDLE/"* ]] && found+=" ${d#/proc/}"
	done < <(find /proc -mindepth 2 -maxdepth 2 \( -name cwd -o -name root \) -printf '%h %l\n' 2>/dev/null)
	for pid in $found; do
		[[ "$skip" == *" $pid "* ]] && continue
		pid_alive "$pid" || continue
		echo "$pid($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))"
	done | sort -u
}

scan_until_gone() {
	local left tries=20
	while :; do
		left="$(processes_in_bundle "$@")"
		[ -z "$left" ] && return 0
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
		sleep 0.1
	done
	echo $left
}

# A cgroup directory named after the container, in any hierarchy.
check_no_cgroup() {
	local left
	left="$(find /sys/fs/cgroup -mindepth 2 -maxdepth 7 -type d -name "$1" 2>/dev/null)"
	if [ -n "$left" ]; then
		echo "cgroups left: $left" >&2
		return 1
	fi
	return 0
}

# For failure-path tests: the container ID left no trace at all.
assert_nothing_left() {
	local id="$1" failed=0
	if [ -e "$ROOT/$id" ]; then
		echo "state left: $ROOT/$id" >&2
		failed=1
	fi
	if "$HUSK" --root "$ROOT" state "$id" </dev/null >/dev/null 2>&1; then
		echo "\`state $id\` still succeeds" >&2
		failed=1
	fi
	check_no_mounts || failed=1
	check_no_processes || failed=1
	check_no_cgroup "$id" || failed=1
	[ "$failed" -eq 0 ]
}

# ---------------------------------------------------------------------------
# small assertions

# assert_contains HAYSTACK NEEDLE
assert_contains() {
	if [[ "$1" != *"$2"* ]]; then
		echo "expected to find: $2" >&2
		echo "in: $1" >&2
		return 1
	fi
}

# host namespace inode of TYPE, e.g. ns_inode net
ns_inode() {
	stat -Lc %i "/proc/${2:-self}/ns/$1"
}

#!/usr/bin/env bats
# The command line itself: --version, help, unknown commands and flags,
# global options (--root, --log, --log-format, --debug, --systemd-cgroup,
# --rootless), spec and features.

load helpers
setup() { setup_bundle; }
teardown() {
	if [ -n "${DEFAULT_ROOT_ID:-}" ]; then
		"$HUSK" delete -f "$DEFAULT_ROOT_ID" </dev/null >&2 2>&1
	fi
	teardown_bundle
}

NAME="$(basename "$HUSK")"
COMMANDS="create start run state kill delete list spec features"

@test "version: --version prints name version, commit, spec and libseccomp lines" {
	husk_noroot --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^$NAME\ version\ [0-9]+\.[0-9]+\.[0-9]+ ]]
	[[ "${lines[1]}" =~ ^commit:\ .+ ]]
	[[ "$output" =~ (^|$'\n')spec:\ [0-9]+\.[0-9]+\.[0-9]+ ]]
	[[ "$output" =~ (^|$'\n')libseccomp:\ [0-9]+\.[0-9]+ ]]
}

@test "version: -v prints the same as --version" {
	husk_noroot --version
	v="$output"
	husk_noroot -v
	[ "$status" -eq 0 ]
	[ "$output" = "$v" ]
}

@test "version: husk 0.1.0, runtime-spec 1.2.1" {
	husk_noroot --version
	[ "${lines[0]}" = "husk version 0.1.0" ]
	[[ "$output" == *$'\nspec: 1.2.1'* ]]
}

@test "help: --help and -h list every command" {
	for h in --help -h help; do
		husk_noroot $h
		[ "$status" -eq 0 ]
		for c in $COMMANDS; do
			[[ "$output" =~ (^|[[:space:]])$c([[:space:],]|$) ]] || {
				echo "$h does not list $c" >&2
				false
			}
		done
	done
}

# command → flags its help must mention
declare -A FLAGS=(
	[create]="--bundle --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds"
	[run]="--bundle --pid-file --console-socket --no-pivot --no-new-keyring --preserve-fds --detach"
	[start]=""
	[state]=""
	[kill]="--all"
	[delete]="--force"
	[list]="--format --quiet"
	[spec]="--bundle --rootless"
	[features]=""
)

@test "help: every command accepts --help and -h and lists its flags" {
	for c in $COMMANDS; do
		for h in --help -h; do
			husk_noroot "$c" "$h"
			[ "$status" -eq 0 ]
			assert_contains "$output" "$c"
			for f in ${FLAGS[$c]}; do
				assert_contains "$output" "$f"
			done
		done
	done
}

@test "help: help CMD shows the command's help" {
	husk_noroot help create
	[ "$status" -eq 0 ]
	for f in ${FLAGS[create]}; do
		assert_contains "$output" "$f"
	done
	husk_noroot help kill
	[ "$status" -eq 0 ]
	assert_contains "$output" "--all"
}

@test "help: global help lists the global options" {
	husk_noroot --help
	for f in --root --log --log-format --debug --systemd-cgroup --rootless --version --help; do
		assert_contains "$output" "$f"
	done
}

@test "cli: an unknown command exits 1 naming it" {
	husk_noroot frobnicate
	[ "$status" -eq 1 ]
	assert_contains "$output" frobnicate
}

@test "cli: an unknown command flag exits 1 naming it" {
	husk state --bogus-flag ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "bogus-flag"
	husk create --bogus-flag ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "bogus-flag"
	assert_nothing_left ct1
}

@test "cli: an unknown global flag exits 1 naming it" {
	husk_noroot --bogus-global --root "$ROOT" list
	[ "$status" -eq 1 ]
	assert_contains "$output" "bogus-global"
}

@test "cli: a missing container id exits 1" {
	for c in create start run state kill delete; do
		husk "$c"
		[ "$status" -eq 1 ]
	done
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ]
}

@test "cli: errors print one line 'husk: message' on stderr" {
	run bash -c '"$HUSK" --root "$ROOT" state nosuch 2>&1 >/dev/null'
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "${lines[0]}" = 'husk: container "nosuch" does not exist' ]
}

# --- global options

@test "root: --root DIR, --root=DIR and -root DIR keep state under DIR" {
	update_config '.process.args = ["sleep", "1000"]'
	husk_noroot --root "$ROOT" create ct1
	[ "$status" -eq 0 ]
	husk_noroot --root="$ROOT" create ct2
	[ "$status" -eq 0 ]
	husk_noroot -root "$ROOT" create ct3
	[ "$status" -eq 0 ]
	for id in ct1 ct2 ct3; do
		[ -d "$ROOT/$id" ]
		[ -s "$ROOT/$id/state.json" ]
	done
	husk list -q
	[ "$(echo "$output" | sort | tr '\n' ' ')" = "ct1 ct2 ct3 " ]
}

@test "root: a container in one --root is invisible from another" {
	husk create ct1
	[ "$status" -eq 0 ]
	husk_noroot --root "$BATS_TEST_TMPDIR/other" state ct1
	[ "$status" -eq 1 ]
	husk_noroot --root "$BATS_TEST_TMPDIR/other" list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "root: ROOT/ID/state.json is a JSON file" {
	husk create ct1
	[ "$status" -eq 0 ]
	[ -f "$ROOT/ct1/state.json" ]
	jq -e . "$ROOT/ct1/state.json" >/dev/null
}

@test "root: the default root is /run/husk" {
	requires husk
	DEFAULT_ROOT_ID="husk-test-default-root-$$"
	update_config '.process.args = ["sleep", "1000"]'
	husk_noroot create "$DEFAULT_ROOT_ID"
	[ "$status" -eq 0 ]
	[ -s "/run/husk/$DEFAULT_ROOT_ID/state.json" ]
	husk_noroot delete -f "$DEFAULT_ROOT_ID"
	[ "$status" -eq 0 ]
	[ ! -e "/run/husk/$DEFAULT_ROOT_ID" ]
	DEFAULT_ROOT_ID=
}

@test "log: --log FILE gets a text error line" {
	log="$BATS_TEST_TMPDIR/log.txt"
	husk --log "$log" state nosuch
	[ "$status" -eq 1 ]
	[ -s "$log" ]
	last="$(grep 'level=error' "$log" | tail -1)"
	[[ "$last" =~ ^time=\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)\"\ level=error\ msg=\".+\"$ ]]
}

@test "log: --log-format json writes one JSON object per line; error has level, msg, time" {
	log="$BATS_TEST_TMPDIR/log.json"
	husk --log "$log" --log-format json state nosuch
	[ "$status" -eq 1 ]
	[ -s "$log" ]
	# every line is one JSON object
	while IFS= read -r l; do
		echo "$l" | jq -e 'type == "object"' >/dev/null
	done <"$log"
	last="$(jq -c 'select(.level == "error")' "$log" | tail -1)"
	[ -n "$last" ]
	echo "$last" | jq -e '(.msg | type == "string" and length > 0)
		and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$"))'
}

@test "log: --log-format=json (with =) and a create error as containerd would see it" {
	log="$BATS_TEST_TMPDIR/log.json"
	update_config '.process.args = ["/nosuch"]'
	husk --log "$log" --log-format=json create --bundle "$BUNDLE" --pid-file "$BUNDLE/init.pid" ct1
	[ "$status" -eq 1 ]
	msg="$(jq -r 'select(.level == "error") | .msg' "$log" | tail -1)"
	assert_contains "$msg" "no such file or directory"
	assert_nothing_left ct1
}

@test "log: the json error line names the container" {
	log="$BATS_TEST_TMPDIR/log.json"
	husk --log "$log" --log-format json state nosuch
	[ "$(jq -r 'select(.level == "error") | .msg' "$log" | tail -1)" = 'container "nosuch" does not exist' ]
}

@test "log: with --log the error is also on stderr" {
	husk --log "$BATS_TEST_TMPDIR/log.txt" state nosuch
	[ "$status" -eq 1 ]
	assert_contains "$output" 'husk: container "nosuch" does not exist'
}

@test "log: --log appends, never truncates" {
	log="$BATS_TEST_TMPDIR/log.txt"
	echo "previous line" >"$log"
	husk --log "$log" state nosuch
	[ "$status" -eq 1 ]
	[ "$(head -1 "$log")" = "previous line" ]
	[ "$(grep -c 'level=error' "$log")" -ge 1 ]
}

@test "log: an unknown --log-format exits 1 naming it" {
	husk --log-format yaml list
	[ "$status" -eq 1 ]
	assert_contains "$output" yaml
}

@test "debug: --debug adds debug lines to the log" {
	log="$BATS_TEST_TMPDIR/log.json"
	update_config '.process.args = ["true"]'
	husk --debug --log "$log" --log-format json run ct1
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.level == "debug") | .msg' "$log" | wc -l)" -gt 0 ]
	# and without --debug there are none
	log2="$BATS_TEST_TMPDIR/log2.json"
	husk --log "$log2" --log-format json run ct2
	[ "$status" -eq 0 ]
	[ "$( (jq -r 'select(.level == "debug") | .msg' "$log2" 2>/dev/null || true) | wc -l)" -eq 0 ]
}

@test "systemd-cgroup: container commands fail cleanly" {
	husk --systemd-cgroup run ct1
	[ "$status" -eq 1 ]
	assert_nothing_left ct1
}

@test "systemd-cgroup: the error says the driver is not supported" {
	husk --systemd-cgroup create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "husk: --systemd-cgroup: the systemd cgroup driver is not supported yet"
	assert_nothing_left ct1
}

@test "rootless: --rootless true|false|auto is accepted" {
	for v in true false auto; do
		husk --rootless "$v" list -q
		[ "$status" -eq 0 ]
	done
	husk --rootless=false list
	[ "$status" -eq 0 ]
}

# --- spec

@test "spec: writes a valid config.json in the current directory" {
	d="$BATS_TEST_TMPDIR/specdir"
	mkdir "$d"
	cd "$d"
	husk spec
	[ "$status" -eq 0 ]
	jq -e '(.ociVersion | test("^1\\.")) and .root.path == "rootfs"
		and .process.terminal == true and .process.args == ["sh"]
		and (.linux.namespaces | map(.type) | contains(["pid", "mount", "ipc", "uts", "network"]))
		and (.mounts | map(.destination) | contains(["/proc", "/dev", "/dev/pts", "/sys"]))' config.json
}

@test "spec: refuses to overwrite an existing config.json" {
	echo '{"keep": "me"}' >"$BUNDLE/config.json"
	husk spec
	[ "$status" -eq 1 ]
	assert_contains "$output" config.json
	[ "$(cat "$BUNDLE/config.json")" = '{"keep": "me"}' ]
}

@test "spec: --bundle and -b write into that directory" {
	mkdir "$BATS_TEST_TMPDIR/b1" "$BATS_TEST_TMPDIR/b2"
	cd /
	husk spec --bundle "$BATS_TEST_TMPDIR/b1"
	[ "$status" -eq 0 ]
	husk spec -b "$BATS_TEST_TMPDIR/b2"
	[ "$status" -eq 0 ]
	jq -e .ociVersion "$BATS_TEST_TMPDIR/b1/config.json"
	jq -e .ociVersion "$BATS_TEST_TMPDIR/b2/config.json"
	[ ! -e /config.json ]
}

@test "spec: --rootless adds a user namespace mapping the caller" {
	d="$BATS_TEST_TMPDIR/rl"
	mkdir "$d"
	cd "$d"
	husk spec --rootless
	[ "$status" -eq 0 ]
	jq -e --argjson u "$(id -u)" --argjson g "$(id -g)" '
		(.linux.namespaces | map(.type) | index("user") != null)
		and .linux.uidMappings[0].containerID == 0 and .linux.uidMappings[0].hostID == $u
		and .linux.gidMappings[0].hostID == $g' config.json
}

@test "spec: the generated config runs as-is (terminal off)" {
	update_config '.process.args = ["echo", "spec works"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "spec works" ]
}

# --- features

@test "features: JSON per runtime-spec features.md" {
	husk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '
		(.ociVersionMin | test("^1\\.")) and (.ociVersionMax | test("^1\\."))
		and (.hooks | contains(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]))
		and (.mountOptions | contains(["bind", "rbind", "ro", "nosuid", "nodev", "noexec"]))
		and (.linux.namespaces | contains(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]))
		and (.linux.capabilities | contains(["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW"]))'
}

@test "features: lists the time namespace and recursive mount options" {
	husk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '(.linux.namespaces | index("time") != null)
		and (.mountOptions | contains(["rro", "rnosuid", "rnodev", "rnoexec"]))'
}

# fake_kernel DIR VERSION: a file with just a Linux setup header naming VERSION, and a
# module tree for it where one module (virtio_rng) is a file and the rest are built in.
fake_kernel() {
	local d="$1" v="$2" m="$1/lib/modules/$2"
	mkdir -p "$m/kernel/drivers/char/hw_random"
	head -c 4096 /dev/zero >"$d/vmlinuz"
	printf 'HdrS' | dd of="$d/vmlinuz" bs=1 seek=$((0x202)) conv=notrunc status=none
	# kernel_version: offset 0x600 from the setup header's base (0x200), i.e. byte 0x800
	printf '\x00\x06' | dd of="$d/vmlinuz" bs=1 seek=$((0x20e)) conv=notrunc status=none
	printf '%s (fake@test) #1' "$v" | dd of="$d/vmlinuz" bs=1 seek=$((0x800)) conv=notrunc status=none
	printf 'kernel/drivers/%s.ko\n' virtio/virtio_pci block/virtio_blk char/virtio_console \
		net/virtio_net fs/ext4/ext4 >"$m/modules.builtin"
	echo "kernel/drivers/char/hw_random/virtio-rng.ko:" >"$m/modules.dep"
	echo "fake module" >"$m/kernel/drivers/char/hw_random/virtio-rng.ko"
}

@test "vm initramfs: writes the agent as /init and the kernel's modules in a newc cpio" {
	requires husk
	command -v cpio >/dev/null || skip "needs cpio"
	fake_kernel "$BATS_TEST_TMPDIR/k" 6.9.9-fake
	# any file serves as the agent here (a sanitizer build has none of its own)
	printf 'fake agent\n' >"$BATS_TEST_TMPDIR/agent"
	export HUSK_AGENT="$BATS_TEST_TMPDIR/agent"
	husk vm initramfs --kernel "$BATS_TEST_TMPDIR/k/vmlinuz" --output "$BATS_TEST_TMPDIR/out/initrd.img"
	[ "$status" -eq 1 ]	# the output's directory does not exist: nothing written
	assert_contains "$output" "--output \`$BATS_TEST_TMPDIR/out/initrd.img\`"
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
	husk vm initramfs --kernel "$BATS_TEST_TMPDIR/k/vmlinuz" \
		--modules "$BATS_TEST_TMPDIR/k/lib/modules/6.9.9-fake" --output "$BATS_TEST_TMPDIR/initrd.img"
	[ "$status" -eq 0 ]
	run cpio -t --quiet <"$BATS_TEST_TMPDIR/initrd.img"
	[ "$status" -eq 0 ]
	assert_contains "$output" "init"
	assert_contains "$output" "lib/modules/virtio_rng.ko"
	assert_contains "$output" "lib/modules/husk.order"
	[ "$(cd "$BATS_TEST_TMPDIR" && cpio -i --quiet --to-stdout init <initrd.img)" = "fake agent" ]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c '\.tmp$')" -eq 0 ]
}

@test "vm initramfs: missing or bad arguments name the argument, exit 1, write nothing" {
	husk vm initramfs --kernel /nonexistent/vmlinuz --output "$BATS_TEST_TMPDIR/initrd.img"
	[ "$status" -eq 1 ]
	assert_contains "$output" "--kernel: open \`/nonexistent/vmlinuz\`"
	[ ! -e "$BATS_TEST_TMPDIR/initrd.img" ]
	husk vm initramfs --kernel /bin/sh
	[ "$status" -eq 1 ]
	assert_contains "$output" "--output is required"
	husk vm initramfs --kernel /bin/sh --output "$BATS_TEST_TMPDIR/initrd.img"
	[ "$status" -eq 1 ]
	assert_contains "$output" "not a bzImage"
	[ ! -e "$BATS_TEST_TMPDIR/initrd.img" ]
	husk vm initramfs --frobnicate
	[ "$status" -eq 1 ]
	assert_contains "$output" 'unknown argument "--frobnicate"'
}

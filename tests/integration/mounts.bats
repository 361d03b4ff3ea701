#!/usr/bin/env bats
# mounts, /dev, maskedPaths and readonlyPaths: the filesystem the container sees.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

# add_mount JSON: append one entry to .mounts
add_mount() {
	update_config --argjson m "$1" '.mounts += [$m]'
}

# Mount options of the mount at $1 as the container sees them (mountinfo
# fields 6 and the super options), printed by the container.
mountinfo_of() {
	echo "awk -v m=$1 '\$5 == m { print \$6 \",\" \$NF }' /proc/self/mountinfo"
}

@test "mounts: bind rw shows writes on the host" {
	echo host >"$SHARED/file"
	add_mount "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\", \"rw\"]}"
	update_config '.process.args = ["sh", "-c", "cat /data/file; echo container > /data/new"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = host ]
	[ "$(cat "$SHARED/new")" = container ]
}

@test "mounts: bind ro refuses writes" {
	echo host >"$SHARED/file"
	add_mount "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\", \"ro\"]}"
	update_config --arg mi "$(mountinfo_of /data)" \
		'.process.args = ["sh", "-c", "exec 2>&1; cat /data/file; echo x > /data/file && echo WROTE; \($mi)"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = host ]
	assert_contains "$output" "Read-only file system"
	[[ "$output" != *WROTE* ]]
	[[ "${lines[-1]}" =~ ^ro, ]]
	[ "$(cat "$SHARED/file")" = host ]
}

@test "mounts: bind of a single file" {
	echo "one file" >"$BATS_TEST_TMPDIR/single"
	add_mount "{\"destination\": \"/etc/single\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/single\", \"options\": [\"bind\", \"ro\"]}"
	update_config '.process.args = ["cat", "/etc/single"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "one file" ]
}

@test "mounts: destination created when missing, nested" {
	add_mount "{\"destination\": \"/new/deep/dir\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\"]}"
	update_config '.process.args = ["sh", "-c", "touch /new/deep/dir/made"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ -e "$SHARED/made" ]
}

@test "mounts: nosuid, nodev and noexec are applied" {
	cp /bin/busybox "$SHARED/busybox"
	add_mount "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\", \"nosuid\", \"nodev\", \"noexec\"]}"
	update_config --arg mi "$(mountinfo_of /data)" \
		'.process.args = ["sh", "-c", "exec 2>&1; \($mi); /data/busybox true && echo EXECUTED; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	opts="${lines[0]}"
	[[ ",$opts," == *,nosuid,* ]]
	[[ ",$opts," == *,nodev,* ]]
	[[ ",$opts," == *,noexec,* ]]
	assert_contains "$output" "Permission denied"
	[[ "$output" != *EXECUTED* ]]
}

@test "mounts: without noexec a binary on the bind runs" {
	cp /bin/busybox "$SHARED/busybox"
	add_mount "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\"]}"
	update_config '.process.args = ["/data/busybox", "echo", "EXECUTED"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = EXECUTED ]
}

# $SHARED with a tmpfs mounted at $SHARED/sub by the test itself
shared_with_submount() {
	mkdir -p "$SHARED/sub"
	mount -t tmpfs -o size=8m husk-test-sub "$SHARED/sub"
	track_mount "$SHARED/sub"
	echo in-sub >"$SHARED/sub/file"
}

@test "mounts: rbind carries submounts, bind does not" {
	shared_with_submount
	add_mount "{\"destination\": \"/r\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\"]}"
	add_mount "{\"destination\": \"/nr\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"bind\"]}"
	update_config '.process.args = ["sh", "-c", "cat /r/sub/file; ls -A /nr/sub | wc -l"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = in-sub ]
	[ "${lines[1]}" = 0 ]
}

@test "mounts: rro makes submounts read-only too, ro only the top" {
	shared_with_submount
	add_mount "{\"destination\": \"/rro\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\", \"rro\"]}"
	add_mount "{\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\", \"ro\"]}"
	update_config '.process.args = ["sh", "-c", "touch /rro/sub/a && echo rro-sub-writable; touch /ro/sub/b && echo ro-sub-writable; touch /ro/c && echo ro-top-writable; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" != *rro-sub-writable* ]]
	assert_contains "$output" "ro-sub-writable"
	[[ "$output" != *ro-top-writable* ]]
	[ -e "$SHARED/sub/b" ]
	[ ! -e "$SHARED/sub/a" ]
}

@test "mounts: rnosuid/rnodev/rnoexec reach submounts" {
	shared_with_submount
	cp /bin/busybox "$SHARED/sub/busybox"
	add_mount "{\"destination\": \"/r\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\", \"rnosuid\", \"rnodev\", \"rnoexec\"]}"
	update_config --arg mi "$(mountinfo_of /r/sub)" \
		'.process.args = ["sh", "-c", "exec 2>&1; \($mi); /r/sub/busybox true && echo EXECUTED; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	opts="${lines[0]}"
	[[ ",$opts," == *,nosuid,* ]]
	[[ ",$opts," == *,nodev,* ]]
	[[ ",$opts," == *,noexec,* ]]
	[[ "$output" != *EXECUTED* ]]
}

@test "mounts: tmpfs with size and mode" {
	add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1770", "nosuid"]}'
	update_config --arg mi "$(mountinfo_of /scratch)" \
		'.process.args = ["sh", "-c", "stat -c %a /scratch; df -k /scratch | tail -1 | awk \"{print \\$2}\"; \($mi); awk \"\\$5 == \\\"/scratch\\\" {print \\$(NF-2)}\" /proc/self/mountinfo"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1770 ]
	[ "${lines[1]}" = 1024 ]
	assert_contains "${lines[2]}" "size=1024k"
	assert_contains "${lines[2]}" "nosuid"
	[ "${lines[3]}" = tmpfs ]
}

@test "mounts: proc, sysfs, devpts, mqueue and shm from the default config are mounted" {
	update_config '.process.args = ["sh", "-c", "awk \"{print \\$5, \\$(NF-2)}\" /proc/self/mountinfo; ls /proc/self/fd >/dev/null && echo proc-ok; ls /sys/kernel >/dev/null && echo sys-ok"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "/proc proc"
	assert_contains "$output" "/sys sysfs"
	assert_contains "$output" "/dev/pts devpts"
	assert_contains "$output" "/dev/mqueue mqueue"
	assert_contains "$output" "/dev/shm tmpfs"
	assert_contains "$output" "/dev tmpfs"
	assert_contains "$output" "proc-ok"
	assert_contains "$output" "sys-ok"
}

@test "mounts: sysfs is read-only as the default config asks" {
	update_config '.process.args = ["sh", "-c", "touch /sys/x 2>&1; awk \"\\$5 == \\\"/sys\\\" {print \\$6}\" /proc/self/mountinfo"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "Read-only file system"
	[[ "${lines[-1]}" =~ ^ro, ]]
}

@test "mounts: a cgroup mount at /sys/fs/cgroup is listable" {
	update_config '.mounts |= map(select(.type != "cgroup"))
		| .mounts += [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}]
		| .process.args = ["sh", "-c", "ls /sys/fs/cgroup | wc -l; awk \"\\$5 ~ /^\\\\/sys\\\\/fs\\\\/cgroup/ {print \\$(NF-2)}\" /proc/self/mountinfo | sort -u"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" -gt 0 ]
	# a cgroup or cgroup2 filesystem (under a tmpfs on v1/hybrid hosts)
	[[ "$output" == *cgroup* ]]
}

@test "mounts: a cgroup2 mount is listable" {
	add_mount '{"destination": "/mnt/cg2", "type": "cgroup2", "source": "cgroup2", "options": ["nosuid", "noexec", "nodev"]}'
	update_config '.linux.namespaces += [{"type": "cgroup"}]
		| .process.args = ["sh", "-c", "ls /mnt/cg2; awk \"\\$5 == \\\"/mnt/cg2\\\" {print \\$(NF-2)}\" /proc/self/mountinfo"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "cgroup.procs"
	[ "${lines[-1]}" = cgroup2 ]
}

@test "mounts: propagation option shared marks the mount shared" {
	add_mount "{\"destination\": \"/s\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\", \"rshared\"]}"
	add_mount "{\"destination\": \"/p\", \"type\": \"bind\", \"source\": \"$SHARED\", \"options\": [\"rbind\", \"rprivate\"]}"
	update_config '.process.args = ["sh", "-c", "awk \"\\$5 == \\\"/s\\\" || \\$5 == \\\"/p\\\" {print \\$5, \\$7}\" /proc/self/mountinfo"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" == *"/s shared:"* ]]
	[[ "$output" != *"/p shared:"* ]]
	[[ "$output" != *"/p master:"* ]]
}

@test "mounts: container mounts do not appear on the host" {
	add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "husk-test-tmpfs", "options": ["size=1m"]}'
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	! grep -q husk-test-tmpfs /proc/self/mountinfo
	pid="$(state_field ct1 .pid)"
	grep -q husk-test-tmpfs "/proc/$pid/mountinfo"
}

# --- /dev

@test "dev: default devices exist with the right major:minor" {
	update_config '.process.args = ["sh", "-c", "for d in null zero full random urandom tty; do stat -c \"%n %F %t:%T %a\" /dev/$d; done"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	for want in "/dev/null character special file 1:3" "/dev/zero character special file 1:5" \
		"/dev/full character special file 1:7" "/dev/random character special file 1:8" \
		"/dev/urandom character special file 1:9" "/dev/tty character special file 5:0"; do
		assert_contains "$output" "$want"
	done
	# usable: writes to /dev/null, reads from /dev/zero
	update_config '.process.args = ["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"]'
	husk run ct2
	[ "$status" -eq 0 ]
	[ "$output" = 4 ]
}

@test "dev: linux.devices creates a node with mode, uid and gid" {
	update_config '.linux.devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 1000, "gid": 1000}]
		| .linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
		| .process.user = {"uid": 1000, "gid": 1000}
		| .process.args = ["sh", "-c", "stat -c \"%F %t:%T %a %u %g\" /dev/mynull; echo x > /dev/mynull && echo writable"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "character special file 1:3 660 1000 1000" ]
	[ "${lines[1]}" = writable ]
}

@test "dev: /dev/pts and /dev/ptmx" {
	update_config '.process.args = ["sh", "-c", "[ -c /dev/pts/ptmx ] && echo pts-ptmx; if [ -L /dev/ptmx ]; then readlink /dev/ptmx; else stat -c %t:%T /dev/ptmx; fi"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = pts-ptmx ]
	[[ "${lines[1]}" = "pts/ptmx" || "${lines[1]}" = "/dev/pts/ptmx" || "${lines[1]}" = "5:2" ]]
}

@test "dev: /dev/shm is a writable tmpfs" {
	update_config '.process.args = ["sh", "-c", "echo x > /dev/shm/f && cat /dev/shm/f"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = x ]
}

@test "dev: /dev/fd and std* links" {
	update_config '.process.args = ["sh", "-c", "for l in fd stdin stdout stderr; do readlink /dev/$l; done"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = /proc/self/fd ]
	[ "${lines[1]}" = /proc/self/fd/0 ]
	[ "${lines[2]}" = /proc/self/fd/1 ]
	[ "${lines[3]}" = /proc/self/fd/2 ]
}

@test "dev: host devices are not visible" {
	update_config '.process.args = ["sh", "-c", "ls /dev"]'
	husk run ct1
	[ "$status" -eq 0 ]
	# a few that every host has and the container must not
	[[ "$output" != *mem* ]]
	[[ "$output" != *kmsg* ]]
	[[ "$output" != *loop-control* ]]
}

# --- maskedPaths / readonlyPaths

@test "paths: maskedPaths hides a file (reads empty) and a dir (lists empty)" {
	echo secret >"$BUNDLE/rootfs/etc/secret"
	mkdir -p "$BUNDLE/rootfs/etc/secretdir"
	echo secret >"$BUNDLE/rootfs/etc/secretdir/inside"
	update_config '.linux.maskedPaths = ["/etc/secret", "/etc/secretdir", "/does/not/exist"]
		| .process.args = ["sh", "-c", "wc -c < /etc/secret; ls -A /etc/secretdir | wc -l; cat /etc/secretdir/inside 2>&1; true"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	assert_contains "${lines[2]}" "No such file"
	# the host's files are untouched
	[ "$(cat "$BUNDLE/rootfs/etc/secret")" = secret ]
}

@test "paths: default maskedPaths hide /proc/keys" {
	[ -n "$(head -c 1 /proc/keys)" ]
	update_config '.process.args = ["sh", "-c", "wc -c < /proc/keys"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
}

@test "paths: readonlyPaths refuse writes" {
	mkdir -p "$BUNDLE/rootfs/etc/rodir"
	update_config '.root.readonly = false
		| .linux.readonlyPaths = ["/etc/rodir", "/proc/sys", "/does/not/exist"]
		| .process.args = ["sh", "-c", "touch /etc/rodir/x && echo WROTE1; echo changed > /proc/sys/kernel/hostname && echo WROTE2; touch /etc/elsewhere && echo wrote-elsewhere; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" != *WROTE1* ]]
	[[ "$output" != *WROTE2* ]]
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" wrote-elsewhere
	[ ! -e "$BUNDLE/rootfs/etc/rodir/x" ]
}

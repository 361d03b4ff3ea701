#!/usr/bin/env bats
# process: args, env, cwd, user, umask, rlimits, capabilities,
# noNewPrivileges, oomScoreAdj, seccomp.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

# value of FIELD in the container's /proc/self/status, printed by the container
status_line() {
	echo "awk '\$1 == \"$1:\" { \$1 = \"\"; sub(/^[ \\t]+/, \"\"); print }' /proc/self/status"
}

@test "process: args are passed verbatim (spaces, empty, quotes)" {
	update_config '.process.args = ["sh", "-c", "for a in \"$@\"; do echo \"[$a]\"; done", "argv0", "a b", "", "q\"uote", "*"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '[a b]\n[]\n[q"uote]\n[*]')" ]
}

@test "process: args[0] is looked up in PATH from process.env" {
	update_config '.process.args = ["busybox", "echo", "found"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = found ]
}

@test "process: env is exactly what the config gives (plus HOME)" {
	update_config '.process.env = ["PATH=/bin", "FOO=bar baz", "MULTI=a=b", "EMPTY="]
		| .process.args = ["env"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "FOO=bar baz"
	assert_contains "$output" "MULTI=a=b"
	assert_contains "$output" "EMPTY="
	assert_contains "$output" "PATH=/bin"
	# nothing of the caller's environment leaks in
	leaked="$(echo "$output" | grep -Ev '^(PATH|FOO|MULTI|EMPTY|HOME|PWD|SHLVL|_)=' || true)"
	[ -z "$leaked" ]
}

@test "process: the caller's environment does not leak in" {
	update_config '.process.args = ["env"]'
	run bash -c 'LEAKY_VAR=1 _OCI_SYNCPIPE=9 "$HUSK" --root "$ROOT" run ct1 </dev/null'
	[ "$status" -eq 0 ]
	[[ "$output" != *LEAKY_VAR* ]]
	[[ "$output" != *_OCI_SYNCPIPE* ]]
}

@test "process: cwd is the working directory" {
	mkdir -p "$BUNDLE/rootfs/work/dir"
	update_config '.process.cwd = "/work/dir" | .process.args = ["pwd"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = /work/dir ]
}

@test "process: user uid, gid and additionalGids" {
	update_config --arg u "$(status_line Uid)" --arg g "$(status_line Gid)" --arg gr "$(status_line Groups)" \
		'.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}
		| .process.args = ["sh", "-c", "\($u); \($g); \($gr)"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$(echo "${lines[0]}" | tr -s ' \t' ' ')" = "1000 1000 1000 1000" ]
	[ "$(echo "${lines[1]}" | tr -s ' \t' ' ')" = "1000 1000 1000 1000" ]
	[ "$(echo "${lines[2]}" | tr -s ' \t' ' ' | sed 's/ $//')" = "10 20" ]
}

@test "process: a non-root user cannot write where root can" {
	update_config '.root.readonly = false
		| .process.user = {"uid": 1000, "gid": 1000}
		| .process.args = ["sh", "-c", "exec 2>&1; touch /root/x && echo WROTE; touch /home/user/y && echo home-ok; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" != *WROTE* ]]
	assert_contains "$output" home-ok
	[ "$(stat -c %u "$BUNDLE/rootfs/home/user/y")" = 1000 ]
}

@test "process: umask applies to created files" {
	update_config --arg m "$(status_line Umask)" \
		'.root.readonly = false | .process.user.umask = 18
		| .process.args = ["sh", "-c", "rm -rf /tmp/f /tmp/d; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d; \($m)"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 644 ]
	[ "${lines[1]}" = 755 ]
	[ "${lines[2]}" = 0022 ]
	update_config '.process.user.umask = 63'
	husk run ct2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 600 ]
	[ "${lines[1]}" = 700 ]
}

@test "process: rlimits NOFILE soft and hard" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
		| .process.args = ["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Sc"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 2000 ]
	[ "${lines[2]}" = 0 ]
}

@test "process: rlimits NPROC from the config" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}]
		| .process.args = ["sh", "-c", "ulimit -Su; ulimit -Hu"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 300 ]
	[ "${lines[1]}" = 400 ]
}

# hex mask of capability numbers
cap_mask() {
	local m=0 c
	for c in "$@"; do
		m=$((m | (1 << c)))
	done
	printf '%016x' "$m"
}

caps_script() {
	local s=""
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		s+="$(status_line "$f"); "
	done
	echo "$s"
}

@test "process: capabilities sets are exactly the configured ones" {
	# CAP_CHOWN=0 CAP_KILL=5 CAP_NET_BIND_SERVICE=10 CAP_NET_RAW=13 CAP_SYS_CHROOT=18
	update_config --arg s "$(caps_script)" '.process.capabilities = {
			"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT"],
			"effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
			"permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
			"inheritable": ["CAP_KILL", "CAP_NET_RAW"],
			"ambient": ["CAP_NET_RAW"]}
		| .process.args = ["sh", "-c", $s]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(cap_mask 5 13)" ]
	[ "${lines[1]}" = "$(cap_mask 0 5 13)" ]
	[ "${lines[2]}" = "$(cap_mask 0 5 13)" ]
	[ "${lines[3]}" = "$(cap_mask 0 5 10 13 18)" ]
	[ "${lines[4]}" = "$(cap_mask 13)" ]
}

@test "process: default spec capabilities" {
	update_config --arg s "$(caps_script)" '.process.args = ["sh", "-c", $s]'
	want="$(jq -r '.process.capabilities.bounding | join(" ")' config.json)"
	husk run ct1
	[ "$status" -eq 0 ]
	# CAP_AUDIT_WRITE=29 CAP_KILL=5 CAP_NET_BIND_SERVICE=10: what `spec` lists
	[ "$want" = "CAP_AUDIT_WRITE CAP_KILL CAP_NET_BIND_SERVICE" ]
	[ "${lines[2]}" = "$(cap_mask 5 10 29)" ]
	[ "${lines[3]}" = "$(cap_mask 5 10 29)" ]
}

@test "process: ambient capabilities survive into a non-root user" {
	update_config --arg s "$(caps_script)" '.process.user = {"uid": 1000, "gid": 1000}
		| .process.capabilities = {
			"bounding": ["CAP_NET_RAW", "CAP_CHOWN"],
			"effective": ["CAP_NET_RAW", "CAP_CHOWN"],
			"permitted": ["CAP_NET_RAW", "CAP_CHOWN"],
			"inheritable": ["CAP_NET_RAW"],
			"ambient": ["CAP_NET_RAW"]}
		| .process.args = ["sh", "-c", $s]'
	husk run ct1
	[ "$status" -eq 0 ]
	# after execve as uid 1000 only the ambient set remains permitted/effective
	[ "${lines[1]}" = "$(cap_mask 13)" ]
	[ "${lines[2]}" = "$(cap_mask 13)" ]
	[ "${lines[4]}" = "$(cap_mask 13)" ]
}

@test "process: a dropped capability takes the power away (CAP_CHOWN)" {
	update_config '.root.readonly = false | .process.args = ["sh", "-c", "exec 2>&1; touch /tmp/f; chown 1000 /tmp/f && echo CHOWNED; exit 0"]
		| .process.capabilities = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = CHOWNED ]
	update_config '.process.capabilities = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}'
	husk run ct2
	[ "$status" -eq 0 ]
	[[ "$output" != *CHOWNED* ]]
	assert_contains "$output" "Operation not permitted"
}

@test "process: noNewPrivileges sets NoNewPrivs" {
	update_config --arg n "$(status_line NoNewPrivs)" '.process.noNewPrivileges = true | .process.args = ["sh", "-c", $n]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	update_config '.process.noNewPrivileges = false'
	husk run ct2
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
}

@test "process: oomScoreAdj is written" {
	update_config '.process.oomScoreAdj = 123 | .process.args = ["cat", "/proc/self/oom_score_adj"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = 123 ]
}

@test "process: seccomp errno rule blocks a syscall, others pass" {
	update_config '.root.readonly = false | .linux.seccomp = {
			"defaultAction": "SCMP_ACT_ALLOW",
			"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
			"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
		| .process.args = ["sh", "-c", "exec 2>&1; mkdir /tmp/d && echo MADE; touch /tmp/f && echo touched; exit 0"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[[ "$output" != *MADE* ]]
	assert_contains "$output" "Operation not permitted"
	assert_contains "$output" touched
}

@test "process: seccomp errnoRet is the errno the syscall returns" {
	update_config '.linux.seccomp = {
			"defaultAction": "SCMP_ACT_ALLOW",
			"syscalls": [{"names": ["chdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
		| .process.args = ["sh", "-c", "exec 2>&1; cd /tmp || echo cd-failed"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "Function not implemented"
	assert_contains "$output" cd-failed
}

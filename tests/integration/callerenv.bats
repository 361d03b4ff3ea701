#!/usr/bin/env bats
# callerenv: what husk takes from its caller's environment — socket
# activation (LISTEN_FDS), sd_notify (NOTIFY_SOCKET) — and `features`, checked
# against the runtime-spec features schema.

load helpers

# The features schema test needs a JSON-schema validator: if no python3 has
# jsonschema, try Debian's package once (quietly; the test skips without it).
setup_file() {
	local py
	for py in python3 /usr/bin/python3; do
		command -v "$py" >/dev/null && "$py" -c 'import jsonschema' 2>/dev/null && return 0
	done
	[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || return 0
	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -q python3-jsonschema \
		</dev/null >"$BATS_FILE_TMPDIR/apt.log" 2>&1 || true
}

setup() {
	setup_bundle
	bind_shared
}
teardown() { teardown_bundle; }

# notify: `notify send MSG` sends MSG as one datagram to $NOTIFY_SOCKET (what
# sd_notify does; built static so it runs in the busybox rootfs);
# `notify recv PATH SECS` binds a datagram socket at PATH, prints the first
# message received, exits 1 after SECS without one.
notify_bin() {
	local bin="$CACHE_DIR/notify"
	[ -x "$bin" ] && { echo "$bin"; return 0; }
	mkdir -p "$CACHE_DIR"
	(
		flock 9
		[ -x "$bin" ] && exit 0
		cat >"$CACHE_DIR/notify.c" <<-'EOF'
			#include <poll.h>
			#include <stdio.h>
			#include <stdlib.h>
			#include <string.h>
			#include <sys/socket.h>
			#include <sys/un.h>
			#include <unistd.h>

			int main(int argc, char **argv)
			{
				struct sockaddr_un a = { .sun_family = AF_UNIX };
				char buf[4096];
				int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
				const char *p;
				ssize_t n;

				if (fd < 0 || argc < 3)
					return 2;
				if (strcmp(argv[1], "send") == 0) {
					p = getenv("NOTIFY_SOCKET");
					if (!p || strlen(p) >= sizeof(a.sun_path)) {
						fprintf(stderr, "notify: no usable NOTIFY_SOCKET\n");
						return 1;
					}
					strcpy(a.sun_path, p);
					if (a.sun_path[0] == '@')
						a.sun_path[0] = 0;
					if (sendto(fd, argv[2], strlen(argv[2]), 0, (struct sockaddr *)&a, sizeof(a)) < 0) {
						perror("notify: sendto");
						return 1;
					}
					return 0;
				}
				if (argc < 4 || strlen(argv[2]) >= sizeof(a.sun_path))
					return 2;
				strcpy(a.sun_path, argv[2]);
				unlink(argv[2]);
				if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
					perror("notify: bind");
					return 1;
				}
				/* tell the test the socket is there */
				printf("listening\n");
				fflush(stdout);
				struct pollfd pf = { .fd = fd, .events = POLLIN };
				if (poll(&pf, 1, atoi(argv[3]) * 1000) != 1) {
					fprintf(stderr, "notify: nothing received\n");
					return 1;
				}
				n = recv(fd, buf, sizeof(buf) - 1, 0);
				if (n < 0)
					return 1;
				buf[n] = 0;
				printf("%s\n", buf);
				return 0;
			}
		EOF
		cc -O2 -static -o "$bin.tmp" "$CACHE_DIR/notify.c" && mv "$bin.tmp" "$bin"
	) 9>"$CACHE_DIR/notify.lock" >&2
	[ -x "$bin" ] || return 1
	echo "$bin"
}

# --- LISTEN_FDS (socket activation)

@test "run: LISTEN_FDS fds of the caller come first at fd 3.., then --preserve-fds" {
	echo listen-a >"$BATS_TEST_TMPDIR/a"
	echo listen-b >"$BATS_TEST_TMPDIR/b"
	echo preserved >"$BATS_TEST_TMPDIR/c"
	echo not-passed >"$BATS_TEST_TMPDIR/d"
	update_config '.process.args = ["sh", "-c", "cat <&3 <&3; cat <&4; cat <&5; [ -e /proc/self/fd/6 ] && echo fd6-open; echo \"LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID\""]'
	# exec: LISTEN_PID must be husk's own pid, as systemd sets it
	run bash -c 'exec 3<"$1/a" 4<"$1/b" 5<"$1/c" 6<"$1/d"; LISTEN_FDS=2 LISTEN_PID=$BASHPID exec "$HUSK" --root "$ROOT" run --preserve-fds 1 ct1 </dev/null' \
		_ "$BATS_TEST_TMPDIR"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'listen-a\nlisten-b\npreserved\nLISTEN_FDS=2 LISTEN_PID=1')" ]
}

@test "run: LISTEN_FDS passes sockets: the container gets the caller's listening socket" {
	command -v python3 >/dev/null || skip "needs python3 to make a listening socket"
	update_config '.process.args = ["sh", "-c", "echo \"fds=$LISTEN_FDS pid=$LISTEN_PID\"; readlink /proc/self/fd/3"]'
	sock="$BATS_TEST_TMPDIR/listen.sock"
	run python3 - "$HUSK" "$ROOT" "$sock" "$BATS_TEST_TMPDIR/run.out" <<-'EOF'
		import os, socket, sys
		husk, root, path, out = sys.argv[1:5]
		s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		s.bind(path)
		s.listen(1)
		print("socket:[%d]" % os.fstat(s.fileno()).st_ino, flush=True)
		pid = os.fork()
		if pid == 0:
		    os.dup2(s.fileno(), 3)
		    os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
		    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
		    os.dup2(fd, 1)
		    os.dup2(fd, 2)
		    os.environ["LISTEN_FDS"] = "1"
		    os.environ["LISTEN_PID"] = str(os.getpid())
		    os.execv(husk, [husk, "--root", root, "run", "ct1"])
		_, st = os.waitpid(pid, 0)
		sys.exit(os.waitstatus_to_exitcode(st))
	EOF
	echo "$output" >&2
	cat "$BATS_TEST_TMPDIR/run.out" >&2
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p "$BATS_TEST_TMPDIR/run.out")" = "fds=1 pid=1" ]
	# the very socket the caller listens on
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/run.out")" = "${lines[0]}" ]
}

@test "run: without LISTEN_FDS the container gets neither LISTEN_FDS nor LISTEN_PID" {
	update_config '.process.args = ["sh", "-c", "env | grep ^LISTEN_ || echo none"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = none ]
}

# --- NOTIFY_SOCKET (sd_notify)

@test "run: READY=1 sent by the container reaches the caller's NOTIFY_SOCKET" {
	requires cc
	notify="$(notify_bin)" || skip "cannot build a static binary (cc -static)"
	cp "$notify" "$BUNDLE/rootfs/bin/notify"
	sock="$BATS_TEST_TMPDIR/notify.sock"
	"$notify" recv "$sock" 10 >"$BATS_TEST_TMPDIR/recv.out" 2>&1 </dev/null 3>&- &
	rpid=$!
	BG_PIDS+=("$rpid")
	wait_for_file "$BATS_TEST_TMPDIR/recv.out"
	[ -S "$sock" ]
	update_config '.process.args = ["sh", "-c", "echo \"$NOTIFY_SOCKET\" > /shared/env; test -S \"$NOTIFY_SOCKET\" && echo is-socket >> /shared/env; notify send READY=1; exec sleep 1000"]'
	run bash -c 'NOTIFY_SOCKET="$1" "$HUSK" --root "$ROOT" run -d ct1 </dev/null >"$2" 2>&1' _ "$sock" "$BATS_TEST_TMPDIR/run.out"
	cat "$BATS_TEST_TMPDIR/run.out" >&2
	[ "$status" -eq 0 ]
	wait_for_exit "$rpid" 100
	wait "$rpid"
	cat "$BATS_TEST_TMPDIR/recv.out" >&2
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/recv.out")" = READY=1 ]
	# inside, NOTIFY_SOCKET names a socket (husk: the caller's path, bind-mounted)
	[ "$(sed -n 2p "$SHARED/env")" = is-socket ]
	if [ "$(basename "$HUSK")" = husk ]; then
		[ "$(sed -n 1p "$SHARED/env")" = "$sock" ]
	fi
}

@test "run: NOTIFY_SOCKET reaches the container with create and start too" {
	requires cc
	notify="$(notify_bin)" || skip "cannot build a static binary (cc -static)"
	cp "$notify" "$BUNDLE/rootfs/bin/notify"
	sock="$BATS_TEST_TMPDIR/n.sock"
	"$notify" recv "$sock" 10 >"$BATS_TEST_TMPDIR/recv.out" 2>&1 </dev/null 3>&- &
	rpid=$!
	BG_PIDS+=("$rpid")
	wait_for_file "$BATS_TEST_TMPDIR/recv.out"
	update_config '.process.args = ["sh", "-c", "notify send \"READY=1\nSTATUS=up\"; exec sleep 1000"]'
	run bash -c 'NOTIFY_SOCKET="$1" "$HUSK" --root "$ROOT" create ct1 </dev/null >"$2" 2>&1' _ "$sock" "$BATS_TEST_TMPDIR/create.out"
	[ "$status" -eq 0 ]
	husk start ct1
	[ "$status" -eq 0 ]
	wait_for_exit "$rpid" 100
	wait "$rpid"
	cat "$BATS_TEST_TMPDIR/recv.out" >&2
	[ "$(sed -n 2,3p "$BATS_TEST_TMPDIR/recv.out")" = "$(printf 'READY=1\nSTATUS=up')" ]
}

@test "run: without NOTIFY_SOCKET the container has none" {
	update_config '.process.args = ["sh", "-c", "echo \"[${NOTIFY_SOCKET-unset}]\""]'
	run bash -c 'unset NOTIFY_SOCKET; "$HUSK" --root "$ROOT" run ct1 </dev/null 2>&1'
	[ "$status" -eq 0 ]
	[ "$output" = "[unset]" ]
}

@test "run: a NOTIFY_SOCKET that does not exist fails naming it, nothing left" {
	update_config '.process.args = ["true"]'
	run bash -c 'NOTIFY_SOCKET="$1" "$HUSK" --root "$ROOT" run ct1 </dev/null 2>&1' _ "$BATS_TEST_TMPDIR/none.sock"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	assert_contains "$output" none.sock
	assert_nothing_left ct1
}

# --- features

# The runtime-spec schema files, from the runtime-spec mirror at the version
# `features` reports as ociVersionMax (v1.2.1 if that tag is missing), into
# DIR. Never committed: extracted per run.
SPEC_GIT="${SPEC_GIT:-/work/.mirror/opencontainers+runtime-spec/repo}"
extract_schema() {
	local dir="$1" tag="$2" f
	git --git-dir="$SPEC_GIT" rev-parse -q --verify "$tag^{commit}" >/dev/null 2>&1 || tag=v1.2.1
	git --git-dir="$SPEC_GIT" rev-parse -q --verify "$tag^{commit}" >/dev/null 2>&1 || return 1
	mkdir -p "$dir"
	for f in $(git --git-dir="$SPEC_GIT" ls-tree --name-only "$tag" schema/ | grep '\.json$'); do
		git --git-dir="$SPEC_GIT" show "$tag:$f" >"$dir/$(basename "$f")" || return 1
	done
	[ -s "$dir/features-schema.json" ]
}

# A python3 that has jsonschema, if any.
jsonschema_python() {
	local py
	for py in python3 /usr/bin/python3; do
		command -v "$py" >/dev/null || continue
		"$py" -c 'import jsonschema' 2>/dev/null && { echo "$py"; return 0; }
	done
	return 1
}

@test "features: validates against the runtime-spec features schema" {
	husk features
	[ "$status" -eq 0 ]
	echo "$output" >"$BATS_TEST_TMPDIR/features.json"
	max="$(jq -r .ociVersionMax "$BATS_TEST_TMPDIR/features.json")"
	extract_schema "$BATS_TEST_TMPDIR/schema" "v$max" ||
		skip "runtime-spec schema not available at $SPEC_GIT"
	py="$(jsonschema_python)" ||
		skip "no JSON-schema validator offline (python3-jsonschema is not installed)"
	run "$py" - "$BATS_TEST_TMPDIR/schema" "$BATS_TEST_TMPDIR/features.json" <<-'EOF'
		import copy, json, os, sys, warnings
		import jsonschema
		warnings.simplefilter("ignore")
		sdir, doc = sys.argv[1], json.load(open(sys.argv[2]))
		schema = json.load(open(os.path.join(sdir, "features-schema.json")))
		cls = jsonschema.validators.validator_for(schema)
		try:
		    # jsonschema >= 4.18: the $refs ("defs.json#/...") are looked up by file name
		    from referencing import Registry, Resource
		    from referencing.jsonschema import DRAFT4
		    res = [(f, Resource.from_contents(json.load(open(os.path.join(sdir, f))), default_specification=DRAFT4))
		           for f in os.listdir(sdir) if f.endswith(".json")]
		    v = cls(schema, registry=Registry().with_resources(res))
		except ImportError:
		    base = "file://" + os.path.abspath(sdir) + "/features-schema.json"
		    v = cls(schema, resolver=jsonschema.RefResolver(base_uri=base, referrer=schema))
		errs = list(v.iter_errors(doc))
		for e in errs:
		    print("/".join(str(p) for p in e.path) + ": " + e.message)
		# the $refs down to defs-linux.json were followed: a bad namespace fails
		bad = copy.deepcopy(doc)
		bad.setdefault("linux", {})["namespaces"] = ["bogus"]
		if not list(v.iter_errors(bad)):
		    print("the validator accepted linux.namespaces [bogus]: $refs not followed")
		    sys.exit(2)
		sys.exit(1 if errs else 0)
	EOF
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "features: required keys and types (jq, without a schema validator)" {
	husk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '
		def strings: type == "array" and all(.[]; type == "string");
		def ver: type == "string" and test("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.+-]+)?$");
		(.ociVersionMin | ver) and (.ociVersionMax | ver)
		and (.hooks | strings) and (.mountOptions | strings)
		and ((.annotations // {}) | type == "object" and all(.[]; type == "string"))
		and ((.potentiallyUnsafeConfigAnnotations // []) | strings)
		and (.linux | type == "object")
		and (.linux.namespaces | strings and all(.[]; IN("mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time")))
		and (.linux.capabilities | strings and all(.[]; test("^CAP_[A-Z_]+$")))
		and (.linux.cgroup | type == "object" and all(.[]; type == "boolean"))
		and (.linux.seccomp | type == "object" and (.enabled | type == "boolean")
			and ((.actions // []) | strings and all(.[]; test("^SCMP_ACT_")))
			and ((.operators // []) | strings and all(.[]; test("^SCMP_CMP_")))
			and ((.archs // []) | strings and all(.[]; test("^SCMP_ARCH_"))))
		and ((.linux.apparmor // {}) | type == "object")
		and ((.linux.selinux // {}) | type == "object")
		and ((.linux.intelRdt // {}) | type == "object")'
}

@test "features: hooks lists all six, namespaces and versions agree with what husk runs" {
	husk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '
		(.hooks | sort) == (["createContainer", "createRuntime", "poststart", "poststop", "prestart", "startContainer"])
		and (.ociVersionMax | startswith("1."))'
	# every namespace listed that this kernel has can be created
	for ns in $(echo "$output" | jq -r '.linux.namespaces[]'); do
		case "$ns" in
		user | time | cgroup) continue ;;	# need mappings or kernel support; namespaces.bats
		esac
		echo "$ns"
	done >"$BATS_TEST_TMPDIR/ns"
	[ -s "$BATS_TEST_TMPDIR/ns" ]
	cfg="$(jq -R . "$BATS_TEST_TMPDIR/ns" | jq -sc 'map({"type": .})')"
	update_config --argjson n "$cfg" '.linux.namespaces = $n | .process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 0 ]
}

@test "features: ociVersionMax is accepted in config.json, a later version is refused" {
	husk features
	[ "$status" -eq 0 ]
	max="$(echo "$output" | jq -r .ociVersionMax)"
	update_config --arg v "$max" '.ociVersion = $v | .process.args = ["true"]'
	husk run ct1
	[ "$status" -eq 0 ]
	update_config '.ociVersion = "2.0.0"'
	husk run ct2
	[ "$status" -eq 1 ]
	assert_contains "$output" "ociVersion"
	assert_nothing_left ct2
}

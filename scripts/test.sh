#!/bin/bash
# The whole test suite, as CI runs it: install deps, build with gcc and
# -Werror, unit tests (meson, TAP), the fuzzers for a fixed budget, the unit
# tests again under ASan+UBSan, integration tests (bats, TAP, as root) against
# the plain and the ASan+UBSan husk, the host-bed tests. Counts every TAP result and ends with
# one line "N passed, N failed, N skipped"; exits non-zero if anything failed.
# Logs of each part: build/test-logs/.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
exec </dev/null

LOGS="$REPO/build/test-logs"
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()

section() { printf '\n== %s\n' "$*"; }

# count_tap NAME FILE: add the ok / not ok lines of a TAP stream to the totals.
# "# SKIP" (any case) counts as skipped; "not ok ... # TODO" as skipped too.
count_tap() {
	local name="$1" file="$2" p=0 f=0 s=0 line
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "ok")
			if [[ "${line,,}" == *"# skip"* ]]; then s=$((s + 1)); else p=$((p + 1)); fi
			;;
		"not ok "*)
			if [[ "${line,,}" == *"# todo"* || "${line,,}" == *"# skip"* ]]; then
				s=$((s + 1))
			else
				f=$((f + 1))
				FAILURES+=("$name: ${line#not ok }")
			fi
			;;
		esac
	done <"$file"
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	echo "$name: $p passed, $f failed, $s skipped"
	TAP_FAILED=$f
	TAP_TOTAL=$((p + f + s))
}

# fail_part NAME WHY: a part that failed outside any TAP line counts once.
fail_part() {
	FAILED=$((FAILED + 1))
	FAILURES+=("$1: $2")
	echo "$1: FAILED: $2"
}

# failure_details FILE: the diagnostics of each failed test in a TAP stream
# (the "#" lines after a "not ok"), at most 30 lines each, so that a CI log
# shows why without the build directory.
failure_details() {
	[ -f "$1" ] || return 0
	awk '/^not ok / && !/# (TODO|SKIP|skip)/ { show = 1; n = 0; print; next }
		/^(ok|not ok) / { show = 0 }
		show && /^#/ && n < 30 { print "  " $0; n++ }' "$1"
}

finish() {
	if [ "${#FAILURES[@]}" -gt 0 ]; then
		section "failures"
		printf '  %s\n' "${FAILURES[@]}"
		local f
		for f in "$LOGS/unit.tap" "$LOGS/fuzz.tap" "$LOGS/unit-asan.tap" \
			"$LOGS/integration.tap" "$LOGS/integration-asan.tap" "$LOGS/hostbed.tap"; do
			if grep -q '^not ok ' "$f" 2>/dev/null; then
				section "details: ${f##*/}"
				failure_details "$f"
			fi
		done
	fi
	echo
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# --- dependencies
section "dependencies"
mkdir -p build
if ! bash scripts/deps.sh >build/deps.log 2>&1; then
	cat build/deps.log
	fail_part deps "scripts/deps.sh failed"
	finish
fi
mkdir -p "$LOGS"
mv build/deps.log "$LOGS/deps.log"
echo "ok"

# --- build: gcc, warnings are errors
section "build (gcc, -Werror)"
{
	if [ ! -f build/build.ninja ]; then
		CC=gcc meson setup build -Dwerror=true
	else
		meson configure build -Dwerror=true
	fi && ninja -C build
} >"$LOGS/build.log" 2>&1
if [ $? -ne 0 ]; then
	tail -40 "$LOGS/build.log"
	fail_part build "see build/test-logs/build.log"
	finish
fi
echo "ok"

# count_meson NAME BUILDDIR RC: count the TAP of a `meson test` run (testlog.json holds one
# JSON object per test executable, its TAP output in .stdout) into $LOGS/NAME.tap; an
# executable that failed without a "not ok" line (crash, bad plan, timeout) counts once.
count_meson() {
	local name="$1" testlog="$2/meson-logs/testlog.json" rc="$3" failed_before=$FAILED
	: >"$LOGS/$name.tap"
	if grep -q "No suitable tests defined" "$LOGS/$name.log"; then
		echo "$name: no unit tests defined yet"
	elif [ -s "$testlog" ]; then
		jq -r '.stdout // ""' "$testlog" >"$LOGS/$name.tap" 2>/dev/null
		count_tap "$name" "$LOGS/$name.tap"
		while IFS=$'\t' read -r exe result; do
			case "$result" in
			OK | SKIP | EXPECTEDFAIL) ;;
			*)
				if ! jq -r --arg n "$exe" 'select(.name == $n) | .stdout // ""' \
					"$testlog" | grep -q '^not ok'; then
					fail_part "$name" "$exe: $result"
				fi
				;;
			esac
		done < <(jq -r '[.name, .result] | @tsv' "$testlog")
	fi
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq "$failed_before" ]; then
		fail_part "$name" "meson test exited $rc (see build/test-logs/$name.log)"
	fi
}

# --- unit tests: meson runs the TAP executables; count their TAP lines
section "unit tests"
rm -f build/meson-logs/testlog.json
timeout --kill-after=30 600 meson test -C build --suite unit --print-errorlogs \
	>"$LOGS/unit.log" 2>&1
count_meson unit build $?

# --- fuzz: every tests/fuzz/fuzz_*.c harness for a fixed budget (clang, libFuzzer, ASan,
# UBSan, in build-fuzz/); one TAP line each, with its execution count
section "fuzz"
FUZZ_TIME="${FUZZ_TIME:-40}" timeout --kill-after=30 400 bash tests/fuzz/run.sh \
	>"$LOGS/fuzz.tap" 2>&1
fuzz_rc=$?
grep -E '^(ok|not ok) ' "$LOGS/fuzz.tap"
count_tap fuzz "$LOGS/fuzz.tap"
if [ "$fuzz_rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
	fail_part fuzz "tests/fuzz/run.sh exited $fuzz_rc (see build/test-logs/fuzz.tap)"
elif [ "$TAP_TOTAL" -eq 0 ]; then
	fail_part fuzz "no harness ran"
fi

# --- unit tests again, built with ASan and UBSan (gcc): any report fails the test. Only the
# test executables, husk, its husk-netns helper and the host bed's console watch (which a unit
# test runs) are built (the static guest agent cannot take the sanitizers). This husk is
# linked dynamically (option static is off with them).
section "unit tests (ASan+UBSan)"
{
	if [ ! -f build-asan/build.ninja ]; then
		CC=gcc meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	fi && ninja -C build-asan runtime/husk netns/husk-netns tests/hostbed/hostbed-bedwatch \
		$(meson introspect build-asan --tests |
		jq -r --arg d "$REPO/build-asan/" '.[] | select(.suite | index("husk:unit")) |
			.cmd[0] | ltrimstr($d)')
} >"$LOGS/build-asan.log" 2>&1
if [ $? -ne 0 ]; then
	tail -40 "$LOGS/build-asan.log"
	fail_part unit-asan "build failed (see build/test-logs/build-asan.log)"
else
	rm -f build-asan/meson-logs/testlog.json
	UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" ASAN_OPTIONS="detect_leaks=1" \
		timeout --kill-after=30 900 meson test -C build-asan --no-rebuild --suite unit \
		--print-errorlogs >"$LOGS/unit-asan.log" 2>&1
	count_meson unit-asan build-asan $?
fi

# --- integration tests: bats against build/runtime/husk, as root
section "integration tests"
if [ "$(id -u)" -ne 0 ]; then
	fail_part integration "must run as root"
else
	export HUSK="${HUSK:-$REPO/build/runtime/husk}"
	timeout --kill-after=30 1200 bats --tap tests/integration >"$LOGS/integration.tap" 2>&1
	int_rc=$?
	count_tap integration "$LOGS/integration.tap"
	if [ "$int_rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
		fail_part integration "bats exited $int_rc (see build/test-logs/integration.tap)"
	fi
	if [ "$TAP_TOTAL" -eq 0 ]; then
		fail_part integration "no test ran"
	fi
fi

# --- integration tests again, against the ASan+UBSan husk of build-asan/. Sanitizer reports go
# to files (not into the output the tests compare); any report fails the part. LeakSanitizer
# stays off here: its exit-time tracer cannot stop a process that joined a container's pid
# namespace (exec) and spins forever; leaks are the unit run's job.
section "integration tests (ASan+UBSan)"
if [ "$(id -u)" -ne 0 ]; then
	fail_part integration-asan "must run as root"
elif [ ! -x build-asan/runtime/husk ]; then
	fail_part integration-asan "no build-asan/runtime/husk (see build/test-logs/build-asan.log)"
else
	rm -rf "$LOGS/asan" && mkdir -p "$LOGS/asan" && chmod 1777 "$LOGS/asan"
	HUSK="$REPO/build-asan/runtime/husk" \
		ASAN_OPTIONS="detect_leaks=0:log_path=$LOGS/asan/asan" \
		UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/asan/ubsan" \
		timeout --kill-after=30 1500 bats --tap tests/integration \
		>"$LOGS/integration-asan.tap" 2>&1
	int_rc=$?
	count_tap integration-asan "$LOGS/integration-asan.tap"
	if [ -n "$(ls -A "$LOGS/asan")" ]; then
		head -n 40 "$LOGS"/asan/*
		fail_part integration-asan "sanitizer reports in build/test-logs/asan/"
	elif [ "$int_rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
		fail_part integration-asan "bats exited $int_rc (see build/test-logs/integration-asan.tap)"
	fi
fi

# --- host-bed tests (tests/hostbed/run): a TAP stream like the others. Exit 3 is the bed's own
# kernel locking up (tests/hostbed/run ends the bed on the first lockup line): counted as one
# failure of its own kind, never as a test's, and never retried.
if [ -e tests/hostbed/run ]; then
	section "host-bed tests"
	HOSTBED_CONSOLE_LOG="$LOGS/hostbed-console.txt" timeout --kill-after=30 1500 \
		bash tests/hostbed/run >"$LOGS/hostbed.tap" 2>&1
	hb_rc=$?
	count_tap hostbed "$LOGS/hostbed.tap"
	if [ "$hb_rc" -eq 3 ]; then
		echo "hostbed: BED FAULT: the bed's kernel locked up (not a test result):"
		# the head of hostbed-bedwatch's report: its summary line and the first fault lines
		sed -n '/^hostbed: bed kernel fault/,$p' "$LOGS/hostbed.tap" | head -n 12 |
			sed 's/^/  /'
		fail_part hostbed "BED FAULT: the bed's kernel locked up after $TAP_TOTAL tests (see build/test-logs/hostbed.tap and hostbed-console.txt)"
	elif [ "$hb_rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
		fail_part hostbed "tests/hostbed/run exited $hb_rc (see build/test-logs/hostbed.tap)"
	fi
fi

finish

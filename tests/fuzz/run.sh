#!/bin/bash
# Fuzz every tests/fuzz/fuzz_NAME.c harness for a fixed budget; prints TAP, one line per
# harness, with its execution count. Each harness is built with clang (libFuzzer, ASan, UBSan)
# against the project's libraries, instrumented in their own build directory. Optional per
# harness: tests/fuzz/seed_NAME.c writes seeds into the directory it is given,
# tests/fuzz/corpus/NAME/ holds more, tests/fuzz/fuzz_NAME.dict is its dictionary.
#
# Usage: tests/fuzz/run.sh [NAME...]          (default: every tests/fuzz/fuzz_*.c)
#   FUZZ_TIME=S      seconds of fuzzing per harness (default 60)
#   FUZZ_RUNS=N      stop a harness after N executions instead, if that comes first
#   FUZZ_BUILD=DIR   build directory (default build-fuzz)
#   FUZZ_OPTIONAL    harnesses for which not building is a skip, not a failure
# A crash leaves its input in DIR/artifacts/NAME/; replay it with `DIR/fuzz/fuzz_NAME FILE`.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
exec </dev/null

B="${FUZZ_BUILD:-build-fuzz}"
TIME="${FUZZ_TIME:-60}"
RUNS="${FUZZ_RUNS:-}"
OPTIONAL=" ${FUZZ_OPTIONAL-fuzz_virtio_blk} "
PKGS=(yajl libmnl libseccomp libcap)
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"

if [ $# -gt 0 ]; then
	names=("${@#fuzz_}")
else
	names=()
	for f in tests/fuzz/fuzz_*.c; do
		[ -e "$f" ] || continue
		f="${f##*/fuzz_}"
		names+=("${f%.c}")
	done
fi
echo "1..${#names[@]}"
[ "${#names[@]}" -gt 0 ] || exit 0

# diag FILE: the last lines of a log as TAP diagnostics
diag() { tail -n "${2:-25}" "$1" | sed 's/^/# /'; }

# The libraries, with coverage feedback; the harnesses add libFuzzer's main when linking.
mkdir -p "$B/fuzz"
{
	if [ ! -f "$B/build.ninja" ]; then
		CC=clang meson setup "$B" -Dbuildtype=debugoptimized -Db_lundef=false \
			-Db_sanitize=address,undefined \
			-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all"
	fi &&
		# Regenerate first: a build dir from before a meson.build change lists old targets.
		ninja -C "$B" build.ninja &&
		libs=$(ninja -C "$B" -t targets all | sed -n 's/^\(.*\.a\): .*/\1/p') &&
		# -k 0: a library that does not build only fails the harnesses that need it
		ninja -C "$B" -k 0 $libs
} >"$B/libs.log" 2>&1
libs=()
while IFS= read -r a; do
	[ -f "$B/$a" ] && libs+=("$B/$a")
done < <(ninja -C "$B" -t targets all 2>/dev/null | sed -n 's/^\(.*\.a\): .*/\1/p')
version=$(meson introspect --projectinfo "$B" 2>/dev/null | jq -r '.version // "fuzz"')

CFLAGS=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter
	-Ulinux -D_GNU_SOURCE "-DHUSK_VERSION=\"${version:-fuzz}\"" -I. -I"$B"
	$(pkg-config --cflags "${PKGS[@]}") -fno-sanitize-recover=all)
LDLIBS=(-Wl,--start-group "${libs[@]}" -Wl,--end-group $(pkg-config --libs "${PKGS[@]}") -pthread)

# build NAME: the harness, and its seed writer when there is one
build() {
	local n="$1"
	mkdir -p "$B/fuzz"
	clang "${CFLAGS[@]}" -fsanitize=fuzzer,address,undefined "tests/fuzz/fuzz_$n.c" \
		-o "$B/fuzz/fuzz_$n" "${LDLIBS[@]}" || return 1
	[ -f "tests/fuzz/seed_$n.c" ] || return 0
	clang "${CFLAGS[@]}" -fsanitize=fuzzer-no-link,address,undefined "tests/fuzz/seed_$n.c" \
		-o "$B/fuzz/seed_$n" "${LDLIBS[@]}" &&
		rm -rf "$B/seeds/$n" && mkdir -p "$B/seeds/$n" && "$B/fuzz/seed_$n" "$B/seeds/$n"
}

# stat LOG KEY: one of libFuzzer's final stats
stat() { sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -1; }

failed=0
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	log="$B/fuzz/fuzz_$n.log"
	if [ ! -f "tests/fuzz/fuzz_$n.c" ]; then
		echo "not ok $i - fuzz_$n: no tests/fuzz/fuzz_$n.c"
		failed=1
		continue
	fi
	if ! build "$n" >"$B/fuzz/build_$n.log" 2>&1; then
		if [[ "$OPTIONAL" == *" fuzz_$n "* ]]; then
			echo "ok $i - fuzz_$n # SKIP does not build yet ($B/fuzz/build_$n.log)"
		else
			echo "not ok $i - fuzz_$n: does not build ($B/fuzz/build_$n.log)"
			diag "$B/fuzz/build_$n.log"
			failed=1
		fi
		continue
	fi
	args=(-max_total_time="$TIME" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
		-artifact_prefix="$B/artifacts/$n/")
	[ -n "$RUNS" ] && args+=(-runs="$RUNS")
	[ -f "tests/fuzz/fuzz_$n.dict" ] && args+=(-dict="tests/fuzz/fuzz_$n.dict")
	dirs=("$B/corpus/$n")
	[ -d "$B/seeds/$n" ] && dirs+=("$B/seeds/$n")
	[ -d "tests/fuzz/corpus/$n" ] && dirs+=("tests/fuzz/corpus/$n")
	mkdir -p "$B/corpus/$n" "$B/artifacts/$n"
	"$B/fuzz/fuzz_$n" "${args[@]}" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	execs=$(stat "$log" number_of_executed_units)
	rate=$(stat "$log" average_exec_per_sec)
	cov=$(sed -n 's/.*DONE *cov: \([0-9]*\).*corp: \([0-9]*\).*/cov \1, corpus \2/p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "ok $i - fuzz_$n: ${execs:-?} executions (${rate:-?} exec/s, ${cov:-no stats})"
	else
		echo "not ok $i - fuzz_$n: exit $rc after ${execs:-?} executions, input in $B/artifacts/$n/"
		grep -m1 -A30 -E '^(==[0-9]+==ERROR|.*runtime error:|.*broke the error contract)' \
			"$log" | sed 's/^/# /'
		diag "$log" 5
		failed=1
	fi
done
exit "$failed"

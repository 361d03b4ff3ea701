#!/bin/bash
# Install everything husk needs on Debian 12, as root: build tools and
# libraries, the test tools, and the reference runtimes for benchmarks.
# Idempotent: apt is only called when a package is missing.
set -euo pipefail

PACKAGES=(
	# build
	meson ninja-build gcc clang pkg-config git
	libyajl-dev libmnl-dev libseccomp-dev libcap-dev
	# fuzzing and sanitizers: libFuzzer and clang's ASan/UBSan runtimes (gcc's come with
	# gcc), llvm-symbolizer for their stack traces
	libclang-rt-14-dev llvm
	# tests
	bats jq busybox-static
	procps time iproute2 util-linux uidmap coreutils
	# VM mode: ext4 root images (mke2fs -d), module dependencies of the guest kernel
	e2fsprogs kmod
	# benchmark references
	runc crun
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo -n)
	else
		echo "deps: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq </dev/null >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" </dev/null >/dev/null

#!/bin/bash
# The guest kernel for VM-mode tests: Debian's linux-image-cloud-amd64, unpacked where the
# host bed can see it (the bed hides /tmp, /var/tmp and /run).
#
# usage: tests/hostbed/guest-kernel.sh DIR
#   DIR/vmlinuz              the bzImage
#   DIR/lib/modules/VERSION  its modules, with modules.dep (depmod -b)
#   DIR/version              VERSION
# The .deb files are cached in ${HUSK_VM_CACHE:-/var/tmp/husk-vm}. Idempotent; exits 2 when
# the package cannot be had (no apt access).
set -euo pipefail

dir="${1:?usage: guest-kernel.sh DIR}"
cache="${HUSK_VM_CACHE:-/var/tmp/husk-vm}"

die() {
	echo "guest-kernel: $*" >&2
	exit 2
}

# The versioned package the meta-package points at, e.g. linux-image-6.1.0-56-cloud-amd64.
versioned() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}

pkg="$(versioned)"
if [ -z "$pkg" ]; then
	apt-get update -qq >/dev/null 2>&1 || true
	pkg="$(versioned)"
fi
[ -n "$pkg" ] || die "no linux-image-cloud-amd64 in the package lists"
ver="${pkg#linux-image-}"
[ -f "$dir/.done" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$ver" ] && exit 0

mkdir -p "$cache"
deb="$(ls "$cache/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)"
if [ -z "$deb" ]; then
	(cd "$cache" && apt-get download -qq "$pkg" >/dev/null 2>&1) ||
		{
			apt-get update -qq >/dev/null 2>&1
			(cd "$cache" && apt-get download -qq "$pkg" >/dev/null)
		} || die "cannot download $pkg"
	deb="$(ls "$cache/${pkg}"_*.deb | head -n 1)"
fi
command -v depmod >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kmod >/dev/null
rm -rf "$dir" && mkdir -p "$dir"
dpkg-deb -x "$deb" "$dir/x"
depmod -b "$dir/x" "$ver"
mkdir -p "$dir/lib/modules"
mv "$dir/x/lib/modules/$ver" "$dir/lib/modules/$ver"
mv "$dir/x/boot/vmlinuz-$ver" "$dir/vmlinuz"
rm -rf "$dir/x"
echo "$ver" >"$dir/version"
touch "$dir/.done"

#!/bin/bash
# Install, build, and run one real container with husk: a busybox rootfs,
# the config from `husk spec`, `husk run`. Exits with husk's status.
# HUSK=/path/to/runtime skips the build and runs that binary instead.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash scripts/deps.sh

if [ -z "${HUSK:-}" ]; then
	[ -f build/build.ninja ] || meson setup build >/dev/null
	ninja -C build >/dev/null
	HUSK="$REPO/build/runtime/husk"
fi

tmp="$(mktemp -d /tmp/husk-demo.XXXXXX)"
id="demo-$$"
cleanup() {
	"$HUSK" --root "$tmp/state" delete -f "$id" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# rootfs: the static busybox and one symlink per applet
mkdir -p "$tmp/bundle/rootfs"/{bin,dev,etc,proc,sys,tmp,root}
cp /bin/busybox "$tmp/bundle/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$tmp/bundle/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/bundle/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$tmp/bundle/rootfs/etc/group"

"$HUSK" spec --bundle "$tmp/bundle"
cfg="$tmp/bundle/config.json"
jq '.process.terminal = false
	| .process.args = ["sh", "-c", "echo hello from husk; uname -n; id"]' "$cfg" >"$cfg.new"
mv "$cfg.new" "$cfg"

echo "\$ husk run --bundle $tmp/bundle $id"
set +e
"$HUSK" --root "$tmp/state" run --bundle "$tmp/bundle" "$id" </dev/null
rc=$?
set -e
echo "(exit status $rc)"
[ "$rc" -eq 0 ] || exit "$rc"

# The same busybox in a KVM microVM, where the host can boot one: Debian's cloud kernel, the
# rootfs as an ext4 image on virtio-blk. It needs /dev/kvm with hardware-translated guest
# memory (EPT/NPT); on a nested, emulated /dev/kvm a Linux guest does not boot in useful time
# (use the host bed there: tests/hostbed/run).
paging="$(cat /sys/module/kvm_intel/parameters/ept /sys/module/kvm_amd/parameters/npt 2>/dev/null |
	head -n 1 || true)"
if [ ! -w /dev/kvm ] || { [ "$paging" != Y ] && [ "$paging" != 1 ]; }; then
	echo "(no microVM demo: /dev/kvm missing or without EPT/NPT here)"
	exit 0
fi
bash "$REPO/tests/hostbed/guest-kernel.sh" "$REPO/build/guest-kernel"
mke2fs -q -t ext4 -d "$tmp/bundle/rootfs" "$tmp/root.img" 64M
echo "\$ husk vm boot --kernel build/guest-kernel/vmlinuz --disk root.img -- sh -c ..."
set +e
"$HUSK" vm boot --kernel "$REPO/build/guest-kernel/vmlinuz" --disk "$tmp/root.img" \
	--cpus 2 -- sh -c 'echo hello from a husk microVM; uname -r; nproc' </dev/null
rc=$?
set -e
echo "(exit status $rc)"
exit "$rc"

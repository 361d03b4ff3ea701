# A busybox OCI image built locally, with no registry: the busybox-static
# rootfs that helpers.bash builds, packed as one gzip layer with an image
# config, a manifest and an index, all addressed by sha256, in an OCI archive
# tar that `ctr images import` accepts.
#
# Load after helpers (it uses busybox_rootfs and CACHE_DIR):
#   load helpers
#   load oci-image
#   tar="$(oci_busybox_archive)"	# cached per bats run
#   ctr images import "$tar"	# -> $OCI_BUSYBOX_REF
#
# The layout of the archive (https://github.com/opencontainers/image-spec):
#   oci-layout                    {"imageLayoutVersion": "1.0.0"}
#   index.json                    one manifest, named by annotations
#   blobs/sha256/<hex>            the manifest, the config, the layer tar.gz

# The name the imported image gets. containerd takes the full name from
# io.containerd.image.name; org.opencontainers.image.ref.name holds the tag
# alone, as the image spec defines it.
OCI_BUSYBOX_REF="${OCI_BUSYBOX_REF:-docker.io/library/busybox:husk}"

# Go's name for the host architecture, as containerd matches platforms.
oci_arch() {
	case "$(uname -m)" in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l | armv6l) echo arm ;;
	i?86) echo 386 ;;
	ppc64le) echo ppc64le ;;
	s390x) echo s390x ;;
	riscv64) echo riscv64 ;;
	*) uname -m ;;
	esac
}

# oci_put_blob DIR FILE: move FILE into DIR/blobs/sha256/<digest>; prints
# "sha256:<hex> <size>".
oci_put_blob() {
	local dir="$1" file="$2" hex size
	hex="$(sha256sum "$file" | cut -d' ' -f1)" || return 1
	size="$(stat -c %s "$file")" || return 1
	mv "$file" "$dir/blobs/sha256/$hex" || return 1
	echo "sha256:$hex $size"
}

# Build the archive once per run; prints its path. Reproducible: fixed
# owners, mtimes and order in the layer, no name or time in the gzip header.
oci_busybox_archive() {
	local tar="$CACHE_DIR/oci-busybox.tar"

	[ -s "$tar" ] && { echo "$tar"; return 0; }
	mkdir -p "$CACHE_DIR"
	(
		flock 9
		[ -s "$tar" ] && exit 0
		oci_build_archive "$tar"
	) 9>"$CACHE_DIR/oci-busybox.lock" >&2 || return 1
	[ -s "$tar" ] || return 1
	echo "$tar"
}

oci_build_archive() {
	local out="$1" rootfs work diff_id layer config manifest tag arch
	set -o pipefail

	command -v jq >/dev/null || { echo "oci-image: needs jq" >&2; return 1; }
	rootfs="$(busybox_rootfs)" || return 1
	work="$(mktemp -d "$CACHE_DIR/oci-build.XXXXXX")" || return 1
	mkdir -p "$work/oci/blobs/sha256"
	arch="$(oci_arch)"

	# The layer: the rootfs tree without the cache's marker file. diff_id is
	# the digest of the uncompressed tar, the blob that of the tar.gz.
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		--exclude=./.done -C "$rootfs" -cf "$work/layer.tar" . || return 1
	diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
	gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz" || return 1
	rm -f "$work/layer.tar"
	layer="$(oci_put_blob "$work/oci" "$work/layer.tar.gz")" || return 1

	jq -cn --arg arch "$arch" --arg diff "$diff_id" '{
		architecture: $arch,
		os: "linux",
		created: "1970-01-01T00:00:00Z",
		config: {
			Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
			Cmd: ["sh"],
			WorkingDir: "/"
		},
		rootfs: { type: "layers", diff_ids: [$diff] },
		history: [{ created: "1970-01-01T00:00:00Z",
			created_by: "husk tests/integration/oci-image.bash: busybox-static" }]
	}' >"$work/config.json" || return 1
	config="$(oci_put_blob "$work/oci" "$work/config.json")" || return 1

	jq -cn --arg cd "${config% *}" --argjson cs "${config#* }" \
		--arg ld "${layer% *}" --argjson ls "${layer#* }" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: { mediaType: "application/vnd.oci.image.config.v1+json",
			digest: $cd, size: $cs },
		layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
			digest: $ld, size: $ls }]
	}' >"$work/manifest.json" || return 1
	manifest="$(oci_put_blob "$work/oci" "$work/manifest.json")" || return 1

	tag="${OCI_BUSYBOX_REF##*:}"
	jq -cn --arg md "${manifest% *}" --argjson ms "${manifest#* }" \
		--arg arch "$arch" --arg name "$OCI_BUSYBOX_REF" --arg tag "$tag" '{
		schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json",
		manifests: [{
			mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $md, size: $ms,
			platform: { architecture: $arch, os: "linux" },
			annotations: {
				"io.containerd.image.name": $name,
				"org.opencontainers.image.ref.name": $tag
			}
		}]
	}' >"$work/oci/index.json" || return 1
	echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"

	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
		-C "$work/oci" -cf "$out.tmp" oci-layout index.json blobs || return 1
	mv "$out.tmp" "$out"
	rm -rf "$work"
}

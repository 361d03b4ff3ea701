#!/usr/bin/env bats
# Idmapped bind mounts (config.md#mounts, runtime-spec 1.2): options idmap and
# ridmap, with the mount's own uidMappings/gidMappings or the container's user
# namespace mapping. The host files keep their owners; only the view changes.

load helpers
setup() {
	setup_bundle
	# Owners as stored on the host: root, and uid/gid 1000.
	touch "$SHARED/by-root" "$SHARED/by-1000"
	chown 1000:1000 "$SHARED/by-1000"
	# made here: the root of a user namespace cannot create it in the host-owned rootfs
	mkdir "$ROOTFS_DIR/data"
	MNT_IDX="$(jq '.mounts | length' "$BUNDLE/config.json")"
}
teardown() { teardown_bundle; }

# idmap_mount OPTIONS_JSON [MAPPINGS_JSON]: bind $SHARED at /data with those
# options and, if given, that mapping as both uidMappings and gidMappings.
idmap_mount() {
	local maps="${2:-null}"
	update_config --arg s "$SHARED" --argjson o "$1" --argjson m "$maps" \
		'.mounts += [{"destination": "/data", "type": "bind", "source": $s, "options": $o}
			+ (if $m == null then {} else {"uidMappings": $m, "gidMappings": $m} end)]'
}

# The container lists /data as "name uid gid" lines.
list_owners() {
	update_config --arg extra "${1:-}" \
		'.process.args = ["sh", "-c", "for f in /data/*; do stat -c \"%n %u %g\" $f; done; \($extra)"]'
}

@test "idmap: the mount's uidMappings shift owners; unmapped ids read as the overflow id" {
	# on-disk id N shows as the host id the mapping gives container id N
	idmap_mount '["bind", "idmap"]' '[{"containerID": 0, "hostID": 1000, "size": 10}]'
	list_owners 'echo x > /data/new 2>&1 || echo refused; ls /proc/self/fd | wc -l'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "/data/by-root 1000 1000"
	assert_contains "$output" "/data/by-1000 65534 65534"
	# root of this container is not in the mount's mapping: no file can get its owner
	assert_contains "$output" "refused"
	[ ! -e "$SHARED/new" ]
	# no idmapped tree fd leaked into the program (0, 1, 2 and the one ls opens)
	[ "${lines[-1]}" -eq 4 ]
	# the host's view is untouched
	[ "$(stat -c %u "$SHARED/by-root")" -eq 0 ]
	[ "$(stat -c %u "$SHARED/by-1000")" -eq 1000 ]
}

@test "idmap: without mappings the mount takes the container's user namespace mapping" {
	requires userns
	userns_config
	idmap_mount '["bind", "idmap"]'
	list_owners 'touch /data/made && stat -c "made %u" /data/made'
	husk run ct1
	[ "$status" -eq 0 ]
	# host root's files are the container root's; a file made by the container's root
	# is owned by root on the host, not by 100000
	assert_contains "$output" "/data/by-root 0 0"
	assert_contains "$output" "made 0"
	[ "$(stat -c %u:%g "$SHARED/made")" = 0:0 ]
}

@test "idmap: the same bind without idmap shows the overflow id (control)" {
	requires userns
	userns_config
	update_config --arg s "$SHARED" \
		'.mounts += [{"destination": "/data", "type": "bind", "source": $s, "options": ["bind"]}]'
	list_owners
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "/data/by-root 65534 65534"
}

@test "idmap: ridmap maps submounts of an rbind, idmap only the top" {
	mkdir "$SHARED/sub"
	mount -t tmpfs -o mode=0755 husk-idmap-test "$SHARED/sub"
	track_mount "$SHARED/sub"
	touch "$SHARED/sub/inner"
	list_owners 'stat -c "%n %u %g" /data/sub/inner'
	idmap_mount '["rbind", "ridmap"]' '[{"containerID": 0, "hostID": 2000, "size": 1}]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "/data/by-root 2000 2000"
	assert_contains "$output" "/data/sub/inner 2000 2000"

	update_config '.mounts[-1].options = ["rbind", "idmap"]'
	husk run ct2
	[ "$status" -eq 0 ]
	assert_contains "$output" "/data/by-root 2000 2000"
	assert_contains "$output" "/data/sub/inner 0 0"
}

@test "idmap: read-only and other options still apply to an idmapped mount" {
	idmap_mount '["bind", "idmap", "ro", "nosuid"]' '[{"containerID": 0, "hostID": 0, "size": 65536}]'
	update_config '.process.args = ["sh", "-c", "exec 2>&1; echo x > /data/new || echo refused; awk '"'"'$5 == \"/data\" { print $6 }'"'"' /proc/self/mountinfo"]'
	husk run ct1
	[ "$status" -eq 0 ]
	assert_contains "$output" "Read-only file system"
	[[ "${lines[-1]}" =~ ^ro, ]]
	[[ "${lines[-1]}" == *nosuid* ]]
}

@test "idmap: mappings without the idmap option are refused naming the field, nothing left" {
	idmap_mount '["bind"]' '[{"containerID": 0, "hostID": 1000, "size": 1}]'
	husk run ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "mounts[$MNT_IDX].uidMappings: needs the idmap or ridmap option"
	assert_nothing_left ct1
}

@test "idmap: idmap without mappings or a user namespace is refused, nothing left" {
	idmap_mount '["bind", "idmap"]'
	husk run ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "mounts[$MNT_IDX].options: idmap without uidMappings/gidMappings needs a user namespace"
	assert_nothing_left ct1
}

@test "idmap: idmap of a non-bind mount is refused, nothing left" {
	update_config '.mounts += [{"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
		"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
		"gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}]'
	husk run ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "mounts[$MNT_IDX].options: idmap and ridmap need a bind mount"
	assert_nothing_left ct1
}

@test "idmap: a missing source fails naming the mount, nothing left" {
	idmap_mount '["bind", "idmap"]' '[{"containerID": 0, "hostID": 1000, "size": 1}]'
	update_config --arg s "$BATS_TEST_TMPDIR/absent" '.mounts[-1].source = $s'
	husk create ct1
	[ "$status" -eq 1 ]
	assert_contains "$output" "mounts[$MNT_IDX]: open_tree"
	assert_contains "$output" "No such file or directory"
	assert_nothing_left ct1
}

@test "idmap: features reports idmap mount support" {
	husk features
	[ "$status" -eq 0 ]
	[ "$(jq -r '.linux.mountExtensions.idmap.enabled' <<<"$output")" = true ]
	jq -e '.mountOptions | index("ridmap")' <<<"$output" >/dev/null
}

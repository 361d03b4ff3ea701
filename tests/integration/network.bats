#!/usr/bin/env bats
# Container networking from the run.husk.net.* annotations: a veth pair on a bridge, addresses,
# routes, MTU and MAC, and cleanup on delete and on failure. Every test uses only a bridge it
# creates itself (or has husk create) and addresses on it, 10.231.N.0/24 and fd00:231:N::/64,
# and removes that bridge by its exact name; the host's own links and routes are never touched.

load helpers

setup() {
	requires root husk
	command -v ip >/dev/null || skip "needs iproute2 (ip)"
	setup_bundle
	# Unique per test, so runs in parallel (bats --jobs) do not meet.
	BR="hkbr$RANDOM"				# <= 15 characters
	N=$((RANDOM % 200 + 20))
	NET4="10.231.$N"
	NET6="fd00:231:$N:"
	CT1="n$N-$RANDOM-a"
	CT2="n$N-$RANDOM-b"
	# ping needs a raw socket: give the container CAP_NET_RAW.
	update_config '.process.capabilities |= with_entries(.value += ["CAP_NET_RAW"])'
}

teardown() {
	local failed=0 left

	teardown_bundle || failed=1
	if ip link show "$BR" >/dev/null 2>&1; then
		left="$(ip -o link show master "$BR" 2>/dev/null)"
		if [ -n "$left" ]; then
			echo "links left on $BR: $left" >&2
			failed=1
		fi
		ip link del "$BR"
	fi
	[ "$failed" -eq 0 ]
}

# The bridge with the host's addresses on it (.1 and ::1), the containers' gateway.
make_bridge() {
	ip link add "$BR" type bridge
	ip addr add "$NET4.1/24" dev "$BR"
	ip -6 addr add "${NET6}:1/64" dev "$BR" nodad
	ip link set "$BR" up
}

# net_config KEY=VALUE...: set run.husk.net.KEY annotations (the bridge is $BR unless given).
net_config() {
	local kv ann='{"run.husk.net.bridge": $br}'
	for kv in "$@"; do
		ann+=" + {\"run.husk.net.${kv%%=*}\": \"${kv#*=}\"}"
	done
	update_config --arg br "$BR" ".annotations = ((.annotations // {}) + $ann)"
}

set_args() {
	update_config --arg c "$1" '.process.args = ["sh", "-c", $c]'
}

# Host-side ports of $BR, one name per line.
bridge_ports() {
	ip -o link show master "$BR" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

host_ping() {
	busybox ping "$@" >&2
}

@test "run: without run.husk.net annotations only lo is up" {
	set_args 'ip -o link'
	husk run "$CT1"
	[ "$status" -eq 0 ]
	assert_contains "$output" "lo: <LOOPBACK,UP,LOWER_UP>"
	[[ "$output" != *eth0* ]]
}

@test "run: addresses, routes, MTU and MAC come from the annotations" {
	make_bridge
	net_config "address=$NET4.2/24, ${NET6}:2/64" "gateway=$NET4.1,${NET6}:1" \
		"routes=10.232.0.0/16 via $NET4.254" mtu=1400 mac=02:42:0a:e7:00:02
	set_args 'ip -o addr show dev eth0; ip route; ip -6 route; ip -o link show eth0'
	husk run "$CT1"
	[ "$status" -eq 0 ]
	assert_contains "$output" "inet $NET4.2/24 brd $NET4.255"
	assert_contains "$output" "inet6 ${NET6}:2/64"
	assert_contains "$output" "default via $NET4.1 dev eth0"
	assert_contains "$output" "10.232.0.0/16 via $NET4.254 dev eth0"
	assert_contains "$output" "$NET4.0/24 dev eth0"
	assert_contains "$output" "default via ${NET6}:1 dev eth0"
	assert_contains "$output" "mtu 1400"
	assert_contains "$output" "link/ether 02:42:0a:e7:00:02"
	# No other address of either family on eth0 than the link-local one.
	[ "$(grep -c 'inet ' <<<"$output")" -eq 1 ]
	[ "$(grep 'inet6 ' <<<"$output" | grep -vc 'inet6 fe80:')" -eq 1 ]
}

@test "run: two containers on one bridge ping each other and the host over IPv4 and IPv6" {
	make_bridge
	net_config "address=$NET4.2/24,${NET6}:2/64" "gateway=$NET4.1,${NET6}:1"
	update_config '.process.args = ["sleep", "600"]'
	husk run -d "$CT1"
	[ "$status" -eq 0 ]

	net_config "address=$NET4.3/24,${NET6}:3/64" "gateway=$NET4.1,${NET6}:1"
	set_args "ping -c 1 -W 3 $NET4.2 && ping -6 -c 1 -W 3 ${NET6}:2 &&
		ping -c 1 -W 3 $NET4.1 && ping -6 -c 1 -W 3 ${NET6}:1"
	husk run "$CT2"
	[ "$status" -eq 0 ]
	assert_contains "$output" "1 packets received"

	host_ping -c 1 -W 3 "$NET4.2"
	host_ping -6 -c 1 -W 3 "${NET6}:2"
	[ "$(bridge_ports | wc -l)" -eq 1 ]	# ct2's went with it
}

@test "run: a missing bridge is created and brought up" {
	net_config "address=$NET4.2/24"
	update_config '.process.args = ["sleep", "600"]'
	husk run -d "$CT1"
	[ "$status" -eq 0 ]
	ip -d -o link show "$BR" | grep -q 'bridge'
	ip -o link show "$BR" | grep -q '[<,]UP[,>]'
	[ "$(bridge_ports | wc -l)" -eq 1 ]
	ip -o link show "$(bridge_ports)" | grep -q "alias husk id=$CT1"
}

@test "delete: leaves no link" {
	local port
	make_bridge
	net_config "address=$NET4.2/24"
	update_config '.process.args = ["sleep", "600"]'
	husk create "$CT1"
	[ "$status" -eq 0 ]
	port="$(bridge_ports)"
	[ -n "$port" ]
	ip -o link show "$port" | grep -q '[<,]UP[,>]'
	host_ping -c 1 -W 3 "$NET4.2"	# up already in `created`, before start
	husk start "$CT1"
	[ "$status" -eq 0 ]
	husk delete -f "$CT1"
	[ "$status" -eq 0 ]
	[ -z "$(bridge_ports)" ]
	! ip link show "$port" >/dev/null 2>&1
}

@test "create: a kernel error halfway (duplicate address) leaves no link and no bridge" {
	net_config "address=$NET4.2/24,$NET4.2/24"
	husk create "$CT1"
	[ "$status" -ne 0 ]
	assert_contains "$output" "netns: add address $NET4.2/24 to eth0:"
	assert_contains "$output" "File exists"
	assert_nothing_left "$CT1"
	# husk created the bridge for this container, and removed it again.
	! ip link show "$BR" >/dev/null 2>&1
}

@test "create: a duplicate MAC on the bridge fails and leaves no link" {
	make_bridge
	net_config "address=$NET4.2/24" mac=02:42:0a:e7:00:09
	update_config '.process.args = ["sleep", "600"]'
	husk create "$CT1"
	[ "$status" -eq 0 ]
	net_config "address=$NET4.3/24" mac=02:42:0a:e7:00:09
	husk create "$CT2"
	[ "$status" -ne 0 ]
	assert_contains "$output" "annotation run.husk.net.mac: 02:42:0a:e7:00:09 is already used on bridge $BR"
	[ ! -e "$ROOT/$CT2" ]
	[ "$(bridge_ports | wc -l)" -eq 1 ]	# ct1's only
	husk delete -f "$CT1"
	[ "$status" -eq 0 ]
	assert_nothing_left "$CT2"
	[ -z "$(bridge_ports)" ]
}

@test "create: errors carry the kernel's message" {
	make_bridge
	# Valid syntax, but the gateway is not on eth0's subnet: the kernel says why.
	net_config "address=$NET4.2/24" gateway=10.233.0.1
	husk create "$CT1"
	[ "$status" -ne 0 ]
	assert_contains "$output" "netns: add route default via 10.233.0.1 dev eth0: Nexthop has invalid gateway"
	assert_contains "$output" "Network is unreachable"
	assert_nothing_left "$CT1"
	[ -z "$(bridge_ports)" ]
}

@test "create: a bad annotation is refused before anything exists" {
	net_config "address=10.0.0.300/24"
	husk create "$CT1"
	[ "$status" -ne 0 ]
	assert_contains "$output" 'annotation run.husk.net.address: "10.0.0.300/24" is not a CIDR'
	assert_nothing_left "$CT1"
	! ip link show "$BR" >/dev/null 2>&1
}

@test "create: run.husk.net without a network namespace of its own is refused" {
	net_config "address=$NET4.2/24"
	update_config '.linux.namespaces |= map(select(.type != "network"))'
	husk create "$CT1"
	[ "$status" -ne 0 ]
	assert_contains "$output" "network namespace"
	assert_nothing_left "$CT1"
	! ip link show "$BR" >/dev/null 2>&1
}

# husk itself links no libmnl: the netlink work runs in the husk-netns helper.
@test "create: without the husk-netns helper fails and leaves nothing" {
	[[ "$HUSK" == */runtime/husk ]] || skip "needs husk from a build tree (HUSK=$HUSK)"
	net_config "address=$NET4.2/24"
	HUSK_NETNS_HELPER=/nonexistent/husk-netns husk create "$CT1"
	[ "$status" -eq 1 ]
	assert_contains "$output" \
		'$HUSK_NETNS_HELPER `/nonexistent/husk-netns`: No such file or directory'
	assert_nothing_left "$CT1"
	! ip link show "$BR" >/dev/null 2>&1
}

@test "run: an installed husk finds husk-netns in ../libexec/husk and passes the annotations" {
	[[ "$HUSK" == */runtime/husk ]] || skip "needs husk from a build tree (HUSK=$HUSK)"
	local prefix="$BATS_TEST_TMPDIR/prefix" real
	real="$(dirname "$HUSK")/../netns/husk-netns"
	[ -x "$real" ] || skip "no husk-netns beside $HUSK"
	mkdir -p "$prefix/sbin" "$prefix/libexec/husk"
	cp "$HUSK" "$prefix/sbin/husk"
	# A wrapper that logs each call, so the test knows this one ran.
	printf '#!/bin/sh\necho "$*" >> %s/calls\nexec %s "$@"\n' "$prefix" "$(readlink -f "$real")" \
		>"$prefix/libexec/husk/husk-netns"
	chmod 755 "$prefix/libexec/husk/husk-netns"
	net_config "address=$NET4.2/24" mtu=1400
	update_config '.annotations["org.example.other"] = "x"'
	set_args 'ip -o addr show dev eth0'
	HUSK="$prefix/sbin/husk" husk run "$CT1"
	[ "$status" -eq 0 ]
	assert_contains "$output" "inet $NET4.2/24"
	run cat "$prefix/calls"
	assert_contains "$output" "setup $CT1 "
	assert_contains "$output" "run.husk.net.address=$NET4.2/24"
	assert_contains "$output" "run.husk.net.mtu=1400"
	[[ "$output" != *org.example* ]]
	# run's delete found the veth gone with the container's namespace or removed it itself.
	[ "$(bridge_ports | wc -l)" -eq 0 ]
}

#!/usr/bin/env bats
# linux.namespaces: new ones, joined ones, user namespaces with mappings, time.

load helpers
setup() { setup_bundle; }
teardown() { teardown_bundle; }

# Set linux.namespaces to exactly the listed types (all new).
set_namespaces() {
	local types
	types="$(printf '%s\n' "$@" | jq -R . | jq -s 'map({type: .})')"
	update_config --argjson ns "$types" '.linux.namespaces = $ns'
}

# inode of /proc/self/ns/$1 as the container sees it ("-" when unreadable)
inside_ns_inodes() {
	local t cmd=""
	for t in "$@"; do
		cmd+="stat -Lc %i /proc/self/ns/$t; "
	done
	update_config --arg c "$cmd" '.process.args = ["sh", "-c", $c]'
}

@test "run: each namespace type in linux.namespaces is new" {
	set_namespaces mount pid network ipc uts cgroup
	inside_ns_inodes mnt pid net ipc uts cgroup
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	i=0
	for t in mnt pid net ipc uts cgroup; do
		echo "$t: inside ${lines[i]} host $(ns_inode "$t")" >&2
		[ "${lines[i]}" != "$(ns_inode "$t")" ]
		i=$((i + 1))
	done
}

@test "run: a namespace type left out is shared with the host" {
	set_namespaces mount pid
	update_config 'del(.hostname)'
	inside_ns_inodes net ipc uts cgroup mnt
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(ns_inode net)" ]
	[ "${lines[1]}" = "$(ns_inode ipc)" ]
	[ "${lines[2]}" = "$(ns_inode uts)" ]
	[ "${lines[3]}" = "$(ns_inode cgroup)" ]
	[ "${lines[4]}" != "$(ns_inode mnt)" ]
}

@test "run: a new pid namespace makes the process pid 1" {
	update_config '.process.args = ["sh", "-c", "echo $$; ps -o pid= | wc -l"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
}

@test "run: a new network namespace has only lo" {
	update_config '.process.args = ["ls", "/sys/class/net"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = lo ]
}

@test "run: joins an existing network namespace by path" {
	start_bg unshare --net sleep 1000
	holder="$BG_PID"
	for _ in $(seq 50); do
		[ "$(ns_inode net "$holder" 2>/dev/null)" != "$(ns_inode net)" ] && break
		sleep 0.05
	done
	want="$(ns_inode net "$holder")"
	[ "$want" != "$(ns_inode net)" ]
	update_config --arg p "/proc/$holder/ns/net" \
		'.linux.namespaces |= map(if .type == "network" then .path = $p else . end)
		| .process.args = ["stat", "-Lc", "%i", "/proc/self/ns/net"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}

# Joining a pid namespace by path leaves husk unable to make threads (clone3 CLONE_THREAD
# fails once pid_for_children differs): nothing it does on the way may need one.
@test "run: joins an existing pid namespace by path" {
	# --kill-child: the teardown kills unshare, and its child (pid 1 there) goes with it.
	start_bg unshare --pid --fork --kill-child --mount-proc sleep 1000
	holder="$BG_PID"
	for _ in $(seq 50); do
		child="$(pgrep -P "$holder" sleep)" && [ -n "$child" ] &&
			[ "$(ns_inode pid "$child" 2>/dev/null)" != "$(ns_inode pid)" ] && break
		sleep 0.05
	done
	want="$(ns_inode pid "$child")"
	[ "$want" != "$(ns_inode pid)" ]
	update_config --arg p "/proc/$child/ns/pid" \
		'.linux.namespaces |= map(if .type == "pid" then .path = $p else . end)
		| .process.args = ["stat", "-Lc", "%i", "/proc/self/ns/pid"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}

@test "run: joins an existing uts namespace by path (its hostname shows)" {
	start_bg unshare --uts sh -c 'hostname joined-uts; exec sleep 1000'
	holder="$BG_PID"
	for _ in $(seq 50); do
		[ "$(nsenter -t "$holder" -u hostname 2>/dev/null)" = joined-uts ] && break
		sleep 0.05
	done
	update_config --arg p "/proc/$holder/ns/uts" \
		'.linux.namespaces |= map(if .type == "uts" then .path = $p else . end)
		| del(.hostname)
		| .process.args = ["sh", "-c", "hostname; stat -Lc %i /proc/self/ns/uts"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = joined-uts ]
	[ "${lines[1]}" = "$(ns_inode uts "$holder")" ]
	# the host's hostname is untouched
	[ "$(hostname)" != joined-uts ]
}

@test "run: joins an existing ipc namespace by path" {
	start_bg unshare --ipc sleep 1000
	holder="$BG_PID"
	for _ in $(seq 50); do
		[ "$(ns_inode ipc "$holder" 2>/dev/null)" != "$(ns_inode ipc)" ] && break
		sleep 0.05
	done
	update_config --arg p "/proc/$holder/ns/ipc" \
		'.linux.namespaces |= map(if .type == "ipc" then .path = $p else . end)
		| .process.args = ["stat", "-Lc", "%i", "/proc/self/ns/ipc"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "$output" = "$(ns_inode ipc "$holder")" ]
}

@test "run: user namespace with uid/gid mappings" {
	requires userns
	userns_config
	update_config '.process.args = ["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -Lc %i /proc/self/ns/user"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "$(echo "${lines[2]}" | awk '{print $1, $2, $3}')" = "0 100000 65536" ]
	[ "$(echo "${lines[3]}" | awk '{print $1, $2, $3}')" = "0 100000 65536" ]
	[ "${lines[4]}" != "$(ns_inode user)" ]
}

@test "run: in a user namespace the process runs as the mapped host uid" {
	requires userns
	userns_config
	update_config '.process.args = ["sleep", "1000"]'
	husk run -d ct1
	[ "$status" -eq 0 ]
	pid="$(state_field ct1 .pid)"
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 100000 ]
	[ "$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" = 100000 ]
}

@test "run: user namespace with several mapping ranges" {
	requires userns
	userns_config
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 201000, "size": 1}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 201000, "size": 1}]
		| .process.args = ["cat", "/proc/self/uid_map"]'
	husk run ct1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(echo "${lines[0]}" | awk '{print $1, $2, $3}')" = "0 100000 1000" ]
	[ "$(echo "${lines[1]}" | awk '{print $1, $2, $3}')" = "1000 201000 1" ]
}

@test "run: time namespace applies monotonic and boottime offsets" {
	requires timens
	update_config '.linux.namespaces += [{"type": "time"}]
		| .linux.timeOffsets = {"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800, "nanosecs": 0}}
		| .process.args = ["sh", "-c", "cat /proc/uptime; stat -Lc %i /proc/self/ns/time"]'
	host_up="$(cut -d. -f1 /proc/uptime)"
	husk run ct1
	[ "$status" -eq 0 ]
	inside_up="$(echo "${lines[0]}" | cut -d. -f1)"
	# /proc/uptime follows CLOCK_BOOTTIME: two days ahead
	[ "$((inside_up - host_up))" -ge 172790 ]
	[ "$((inside_up - host_up))" -le 172900 ]
	[ "${lines[1]}" != "$(ns_inode time)" ]
}

@test "run: a cgroup namespace shows the container's cgroup as /" {
	requires cgroupns
	update_config '.linux.namespaces += [{"type": "cgroup"}]
		| .process.args = ["cat", "/proc/self/cgroup"]'
	husk run ct1
	[ "$status" -eq 0 ]
	# every hierarchy line ends in ":/"
	[ -n "$output" ]
	[ -z "$(echo "$output" | grep -v ':/$')" ]
}

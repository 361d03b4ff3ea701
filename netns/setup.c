/* A container's network, as netns_nl_setup() builds it from the runtime namespace: the bridge,
 * the veth pair, then eth0's addresses and routes inside the container's namespace; its
 * teardown. The husk-netns helper runs these for husk (helper.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "common/undo.h"
#include "nl.h"

/* An undo step: delete a link husk created, by name, in the namespace of nl. */
struct link_undo {
	struct nl *nl;
	const char *name;
};

static void link_undo_run(void *arg)
{
	struct link_undo *lu = arg;
	struct husk_err *err = NULL;

	netns_link_del(lu->nl, lu->name, &err);
	husk_err_free(err);
}

/* The namespace of pid, refusing our own: eth0 must never be created on the host. */
static int open_netns(pid_t pid, struct husk_err **err)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return husk_err_set(err, errno, "netns: open `%s`", path);
	if (fstat(fd, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return husk_err_set(err, errno, "netns: stat `%s`", path);
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return husk_err_msg(err, EINVAL, "annotation run.husk.net.*: the container has no "
				    "network namespace of its own (add one to linux.namespaces)");
	return TAKE_FD(fd);
}

/* Inside the container's namespace: addresses, eth0 up, then routes (a gateway route needs
 * its device up and the gateway's subnet on it). */
static int setup_inside(struct nl *nl, const struct netns_config *nc, struct husk_err **err)
{
	const char *ifname = NETNS_CONTAINER_IFNAME;
	struct netns_link_info li;
	int r;

	r = netns_link_get(nl, ifname, &li, err);
	for (size_t i = 0; r == 0 && i < nc->n_addrs; i++)
		r = netns_addr_add(nl, li.ifindex, ifname, &nc->addrs[i], err);
	if (r == 0)
		r = netns_link_set(nl, li.ifindex, ifname, true, 0, 0, NULL, err);
	for (size_t i = 0; r == 0 && i < nc->n_routes; i++)
		r = netns_route_add(nl, li.ifindex, ifname, &nc->routes[i], err);
	return r;
}

/* "husk mac=02:42:0a:e7:01:02 id=ct1": who owns the link, and the peer's MAC for
 * netns_bridge_check_mac(). The kernel keeps up to 255 bytes; the MAC comes first. */
static void host_alias(const char *id, const struct netns_config *nc, char buf[256])
{
	char mac[18];

	if (nc->has_mac) {
		netns_mac_fmt(nc->mac, mac);
		snprintf(buf, 256, "husk mac=%s id=%s", mac, id);
	} else {
		snprintf(buf, 256, "husk id=%s", id);
	}
}

int netns_nl_setup(const char *id, pid_t init_pid, const struct netns_config *nc,
		   struct husk_err **err)
{
	cleanup_nl struct nl host = { 0 }, cont = { 0 };
	char name[NETNS_IFNAMSIZ], alias[256];
	struct link_undo del_bridge = { &host, nc->bridge }, del_veth = { &host, name };
	struct netns_link_info li;
	bool created = false;
	int master = 0, r;

	netns_host_ifname(id, name);
	cleanup_close int nsfd = open_netns(init_pid, err);
	if (nsfd < 0)
		return nsfd;
	if ((r = nl_open(&host, -1, err)) < 0 || (r = nl_open(&cont, nsfd, err)) < 0)
		return r;
	/* Declared after everything its steps use: cleanups run in reverse, so it runs first. */
	cleanup_undo struct undo u = UNDO_INIT;
	if (nc->bridge) {
		master = netns_bridge_ensure(&host, nc->bridge, &created, err);
		if (master < 0)
			return master;
		if (created)
			undo_push(&u, link_undo_run, &del_bridge);
		if (nc->has_mac && (r = netns_bridge_check_mac(&host, master, nc->bridge, nc->mac,
							       err)) < 0)
			return r;
	}
	r = netns_veth_create(&host, name, NETNS_CONTAINER_IFNAME, nsfd, nc->mtu,
			      nc->has_mac ? nc->mac : NULL, err);
	if (r < 0)
		return r;
	/* Deleting the host end deletes the peer in the container's namespace too. */
	undo_push(&u, link_undo_run, &del_veth);
	host_alias(id, nc, alias);
	r = netns_link_get(&host, name, &li, err);
	if (r == 0)
		r = netns_link_set(&host, li.ifindex, name, true, master, 0, alias, err);
	if (r == 0)
		r = setup_inside(&cont, nc, err);
	if (r < 0)
		return r;
	undo_commit(&u);
	return 0;
}

/* Whether alias is the one netns_nl_setup() gave id's link; the kernel may have cut it at 255. */
static bool alias_is_ours(const char *alias, const char *id)
{
	const char *p = strstr(alias, " id=");

	if (!startswith(alias, "husk ") || !p)
		return false;
	p += 4;
	return streq(p, id) || (strlen(alias) == 255 && startswith(id, p));
}

int netns_nl_teardown(const char *id, struct husk_err **err)
{
	cleanup_nl struct nl nl = { 0 };
	char name[NETNS_IFNAMSIZ];
	struct netns_link_info li;
	int r;

	netns_host_ifname(id, name);
	r = nl_open(&nl, -1, err);
	if (r == 0)
		r = netns_link_get(&nl, name, &li, err);
	/* Gone already: the kernel removes both ends when the container's namespace dies. */
	if (r == -ENODEV) {
		husk_err_freep(err);
		return 0;
	}
	if (r < 0)
		return r;
	/* The same id under another --root hashes to the same name: never delete theirs. */
	if (!alias_is_ours(li.alias, id))
		return 0;
	r = netns_link_del(&nl, name, err);
	if (r == -ENODEV) {
		husk_err_freep(err);
		return 0;
	}
	return r;
}

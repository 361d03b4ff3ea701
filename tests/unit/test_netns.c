/* netns: the run.husk.net.* parser, the netlink messages read back attribute by attribute,
 * and (as root) the real thing inside throwaway network namespaces that stand in for the
 * host, so nothing on the real host is touched. */
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "netns/netns.h"
#include "netns/nl.h"
#include "tap.h"

/* ---- the annotation parser ---- */

static int parse(const struct oci_kv *kv, size_t n, struct netns_config *nc,
		 struct husk_err **err)
{
	struct oci_config cfg = { .annotations = { (struct oci_kv *)kv, n } };

	return netns_config_parse(&cfg, nc, err);
}

static int test_parse_none(void)
{
	const struct oci_kv kv[] = { { "org.example", "x" }, { NETNS_ANN_ADDRESS, "" } };
	cleanup_err struct husk_err *err = NULL;
	struct netns_config nc;

	CHECK(parse(kv, 2, &nc, &err) == 0);
	CHECK(!netns_config_wanted(&nc));
	netns_config_free(&nc);
	return 0;
}

static int test_parse_full(void)
{
	const struct oci_kv kv[] = {
		{ NETNS_ANN_BRIDGE, "hkbr0" },
		{ NETNS_ANN_ADDRESS, " 10.231.1.2/24 , fd00:231::2/64" },
		{ NETNS_ANN_GATEWAY, "fd00:231::1,10.231.1.1" },
		{ NETNS_ANN_ROUTES, "10.8.0.0/16 via 10.231.1.254" },
		{ NETNS_ANN_MTU, "1400" },
		{ NETNS_ANN_MAC, "02:42:0A:e7:01:02" },
	};
	cleanup_err struct husk_err *err = NULL;
	char text[NETNS_ADDRSTRLEN];
	struct netns_config nc;

	CHECK(parse(kv, ARRAY_SIZE(kv), &nc, &err) == 0);
	CHECK(netns_config_wanted(&nc));
	CHECK_STREQ(nc.bridge, "hkbr0");
	CHECK(nc.n_addrs == 2 && nc.n_routes == 3 && nc.mtu == 1400 && nc.has_mac);
	netns_addr_fmt(&nc.addrs[0], true, text);
	CHECK_STREQ(text, "10.231.1.2/24");
	netns_addr_fmt(&nc.addrs[1], true, text);
	CHECK_STREQ(text, "fd00:231::2/64");
	CHECK(nc.routes[0].dst.family == AF_INET6 && nc.routes[0].dst.prefix == 0);
	netns_addr_fmt(&nc.routes[1].gw, false, text);
	CHECK_STREQ(text, "10.231.1.1");
	netns_addr_fmt(&nc.routes[2].dst, true, text);
	CHECK_STREQ(text, "10.8.0.0/16");
	CHECK(nc.mac[0] == 0x02 && nc.mac[3] == 0xe7 && nc.mac[5] == 0x02);
	netns_config_free(&nc);
	return 0;
}

static const struct bad_case {
	const char *key, *value, *want;
} bad_cases[] = {
	{ NETNS_ANN_ADDRESS, "10.0.0.300/24",
	  "annotation run.husk.net.address: \"10.0.0.300/24\" is not a CIDR" },
	{ NETNS_ANN_ADDRESS, "10.0.0.1", "\"10.0.0.1\" is not a CIDR" },
	{ NETNS_ANN_ADDRESS, "10.0.0.1/33", "\"10.0.0.1/33\" is not a CIDR" },
	{ NETNS_ANN_ADDRESS, "10.0.0.1/", "is not a CIDR" },
	{ NETNS_ANN_ADDRESS, "10.0.0.1/+8", "is not a CIDR" },
	{ NETNS_ANN_ADDRESS, "10.0.0.1/24,fd00::1/129", "\"fd00::1/129\" is not a CIDR" },
	{ NETNS_ANN_GATEWAY, "10.0.0.1",
	  "annotation run.husk.net.gateway: 10.0.0.1 needs an IPv4 address in "
	  "run.husk.net.address" },
	{ NETNS_ANN_GATEWAY, "gw", "annotation run.husk.net.gateway: \"gw\" is not an IP address" },
	{ NETNS_ANN_GATEWAY, "10.0.0.1/24", "\"10.0.0.1/24\" is not an IP address" },
	{ NETNS_ANN_ROUTES, "10.8.0.0/16 10.0.0.1",
	  "annotation run.husk.net.routes: \"10.8.0.0/16 10.0.0.1\" is not \"CIDR via ADDRESS\"" },
	{ NETNS_ANN_ROUTES, "10.8.1.0/16 via 10.0.0.1", "has bits set past its prefix length" },
	{ NETNS_ANN_ROUTES, "fd00:8::/48 via 10.0.0.1", "mixes IPv4 and IPv6" },
	{ NETNS_ANN_MTU, "abc", "annotation run.husk.net.mtu: \"abc\" is not an MTU" },
	{ NETNS_ANN_MTU, "0", "\"0\" is not an MTU" },
	{ NETNS_ANN_MTU, "65536", "\"65536\" is not an MTU" },
	{ NETNS_ANN_MTU, "-1400", "\"-1400\" is not an MTU" },
	{ NETNS_ANN_MTU, "1500x", "\"1500x\" is not an MTU" },
	{ NETNS_ANN_MAC, "02:42:0a:e7:01",
	  "annotation run.husk.net.mac: \"02:42:0a:e7:01\" is not a MAC address" },
	{ NETNS_ANN_MAC, "02:42:0a:e7:01:0g", "is not a MAC address" },
	{ NETNS_ANN_MAC, "02:42:0a:e7: 1:02", "is not a MAC address" },
	{ NETNS_ANN_MAC, "01:00:5e:00:00:01", "\"01:00:5e:00:00:01\" is a multicast address" },
	{ NETNS_ANN_MAC, "00:00:00:00:00:00", "is all zeros" },
	{ NETNS_ANN_BRIDGE, "hkbr-much-too-long",
	  "annotation run.husk.net.bridge: \"hkbr-much-too-long\" is not an interface name" },
	{ NETNS_ANN_BRIDGE, "br/0", "\"br/0\" is not an interface name" },
	{ NETNS_ANN_BRIDGE, "br 0", "\"br 0\" is not an interface name" },
	{ "run.husk.net.adress", "10.0.0.2/24", "annotation run.husk.net.adress: unknown" },
};

static int test_parse_bad(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		/* gateway and route cases get an address of each family next to them */
		const struct oci_kv kv[] = { { (char *)c->key, (char *)c->value },
					     { NETNS_ANN_ADDRESS, "10.0.0.2/24" } };
		size_t n = streq(c->key, NETNS_ANN_ROUTES) ? 2 : 1;
		cleanup_err struct husk_err *err = NULL;
		struct netns_config nc;

		if (parse(kv, n, &nc, &err) == 0) {
			printf("# case %zu (%s=%s) was accepted\n", i, c->key, c->value);
			netns_config_free(&nc);
			return 1;
		}
		CHECK(err && err->code == EINVAL);
		CHECK_CONTAINS(err->msg, c->want);
		CHECK(!netns_config_wanted(&nc));
	}
	return 0;
}

static int test_parse_two_gateways(void)
{
	const struct oci_kv kv[] = { { NETNS_ANN_ADDRESS, "10.0.0.2/24" },
				     { NETNS_ANN_GATEWAY, "10.0.0.1, 10.0.0.254" } };
	cleanup_err struct husk_err *err = NULL;
	struct netns_config nc;

	CHECK(parse(kv, 2, &nc, &err) == -EINVAL);
	CHECK_STREQ(err->msg, "annotation run.husk.net.gateway: more than one IPv4 gateway");
	return 0;
}

static int test_host_ifname(void)
{
	char a[NETNS_IFNAMSIZ], b[NETNS_IFNAMSIZ], c[NETNS_IFNAMSIZ];

	netns_host_ifname("ct1", a);
	netns_host_ifname("ct1", b);
	netns_host_ifname("ct2", c);
	CHECK_STREQ(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK(strlen(a) == 14 && startswith(a, "hk"));
	netns_host_ifname("", c);
	CHECK(strlen(c) == 14);
	return 0;
}

/* ---- messages, built and read back without sending ---- */

#define MAXATTR 64

struct attrs {
	const struct nlattr *tb[MAXATTR];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *at = data;

	if (mnl_attr_get_type(a) < MAXATTR)
		at->tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

/* The attribute's payload is exactly the len bytes at want. */
static bool attr_eq(const struct nlattr *a, const void *want, size_t len)
{
	return mnl_attr_get_payload_len(a) == len &&
	       memcmp(mnl_attr_get_payload(a), want, len) == 0;
}

static int test_msg_addr_v4(void)
{
	char buf[NL_MSG_SIZE];
	struct netns_addr a = { .family = AF_INET, .prefix = 24 };
	struct attrs at = { 0 };
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	uint8_t brd[4];

	inet_pton(AF_INET, "10.231.1.2", a.bytes);
	nlh = nl_msg_addr_new(buf, 7, &a);
	CHECK(nlh->nlmsg_type == RTM_NEWADDR);
	CHECK(nlh->nlmsg_flags == (NLM_F_CREATE | NLM_F_EXCL));
	ifa = mnl_nlmsg_get_payload(nlh);
	CHECK(ifa->ifa_family == AF_INET && ifa->ifa_prefixlen == 24 && ifa->ifa_index == 7);
	CHECK(mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &at) == MNL_CB_OK);
	CHECK(at.tb[IFA_LOCAL] && mnl_attr_get_payload_len(at.tb[IFA_LOCAL]) == 4);
	CHECK(memcmp(mnl_attr_get_payload(at.tb[IFA_LOCAL]), a.bytes, 4) == 0);
	CHECK(at.tb[IFA_ADDRESS] && attr_eq(at.tb[IFA_ADDRESS], a.bytes, 4));
	inet_pton(AF_INET, "10.231.1.255", brd);
	CHECK(at.tb[IFA_BROADCAST] && attr_eq(at.tb[IFA_BROADCAST], brd, 4));
	CHECK(!at.tb[IFA_FLAGS]);
	return 0;
}

static int test_msg_addr_v6(void)
{
	char buf[NL_MSG_SIZE];
	struct netns_addr a = { .family = AF_INET6, .prefix = 64 };
	struct attrs at = { 0 };
	struct nlmsghdr *nlh;

	inet_pton(AF_INET6, "fd00:231::2", a.bytes);
	nlh = nl_msg_addr_new(buf, 3, &a);
	CHECK(((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family == AF_INET6);
	CHECK(mnl_attr_parse(nlh, sizeof(struct ifaddrmsg), attr_cb, &at) == MNL_CB_OK);
	CHECK(at.tb[IFA_LOCAL] && mnl_attr_get_payload_len(at.tb[IFA_LOCAL]) == 16);
	CHECK(memcmp(mnl_attr_get_payload(at.tb[IFA_LOCAL]), a.bytes, 16) == 0);
	CHECK(!at.tb[IFA_BROADCAST]);
	CHECK(at.tb[IFA_FLAGS] && mnl_attr_get_u32(at.tb[IFA_FLAGS]) == IFA_F_NODAD);
	return 0;
}

static int test_msg_veth(void)
{
	static const uint8_t mac[6] = { 2, 0x42, 10, 0xe7, 1, 2 };
	char buf[NL_MSG_SIZE];
	struct attrs top = { 0 }, info = { 0 }, data = { 0 }, peer = { 0 };
	struct nlmsghdr *nlh = nl_msg_veth_new(buf, "hk0123456789ab", "eth0", 5, 1400, mac);
	const struct nlattr *p, *attr;

	CHECK(nlh->nlmsg_type == RTM_NEWLINK);
	CHECK(nlh->nlmsg_flags == (NLM_F_CREATE | NLM_F_EXCL));
	CHECK(mnl_attr_parse(nlh, sizeof(struct ifinfomsg), attr_cb, &top) == MNL_CB_OK);
	CHECK_STREQ(mnl_attr_get_str(top.tb[IFLA_IFNAME]), "hk0123456789ab");
	CHECK(top.tb[IFLA_MTU] && mnl_attr_get_u32(top.tb[IFLA_MTU]) == 1400);
	CHECK(!top.tb[IFLA_ADDRESS]);	/* the MAC is the container's, not the host end's */
	CHECK(top.tb[IFLA_LINKINFO]);
	CHECK(mnl_attr_parse_nested(top.tb[IFLA_LINKINFO], attr_cb, &info) == MNL_CB_OK);
	CHECK_STREQ(mnl_attr_get_str(info.tb[IFLA_INFO_KIND]), "veth");
	CHECK(mnl_attr_parse_nested(info.tb[IFLA_INFO_DATA], attr_cb, &data) == MNL_CB_OK);
	p = data.tb[VETH_INFO_PEER];
	CHECK(p && mnl_attr_get_payload_len(p) > sizeof(struct ifinfomsg));
	/* The peer: a struct ifinfomsg, then attributes. */
	mnl_attr_for_each_payload((const struct nlattr *)((char *)mnl_attr_get_payload(p) +
							   sizeof(struct ifinfomsg)),
				  mnl_attr_get_payload_len(p) - sizeof(struct ifinfomsg)) {
		attr_cb(attr, &peer);
	}
	CHECK_STREQ(mnl_attr_get_str(peer.tb[IFLA_IFNAME]), "eth0");
	CHECK(peer.tb[IFLA_NET_NS_FD] && mnl_attr_get_u32(peer.tb[IFLA_NET_NS_FD]) == 5);
	CHECK(peer.tb[IFLA_MTU] && mnl_attr_get_u32(peer.tb[IFLA_MTU]) == 1400);
	CHECK(peer.tb[IFLA_ADDRESS] && attr_eq(peer.tb[IFLA_ADDRESS], mac, 6));
	return 0;
}

static int test_msg_route(void)
{
	char buf[NL_MSG_SIZE];
	struct netns_route r = { .dst = { .family = AF_INET6 }, .gw = { .family = AF_INET6 } };
	struct attrs at = { 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	inet_pton(AF_INET6, "fd00:231::1", r.gw.bytes);
	nlh = nl_msg_route_new(buf, 9, &r);
	CHECK(nlh->nlmsg_type == RTM_NEWROUTE);
	rtm = mnl_nlmsg_get_payload(nlh);
	CHECK(rtm->rtm_family == AF_INET6 && rtm->rtm_dst_len == 0);
	CHECK(rtm->rtm_table == RT_TABLE_MAIN);
	CHECK(rtm->rtm_type == RTN_UNICAST && rtm->rtm_scope == RT_SCOPE_UNIVERSE);
	CHECK(mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &at) == MNL_CB_OK);
	CHECK(!at.tb[RTA_DST]);		/* default route */
	CHECK(at.tb[RTA_GATEWAY] && attr_eq(at.tb[RTA_GATEWAY], r.gw.bytes, 16));
	CHECK(at.tb[RTA_OIF] && mnl_attr_get_u32(at.tb[RTA_OIF]) == 9);

	r = (struct netns_route){ .dst = { .family = AF_INET, .prefix = 16 },
				  .gw = { .family = AF_INET } };
	inet_pton(AF_INET, "10.8.0.0", r.dst.bytes);
	nlh = nl_msg_route_new(buf, 9, &r);
	memset(&at, 0, sizeof(at));
	CHECK(mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &at) == MNL_CB_OK);
	CHECK(at.tb[RTA_DST] && mnl_attr_get_payload_len(at.tb[RTA_DST]) == 4);
	return 0;
}

static int test_msg_link_set(void)
{
	char buf[NL_MSG_SIZE];
	struct attrs at = { 0 };
	struct nlmsghdr *nlh = nl_msg_link_set(buf, 4, true, 2, 0, "husk id=ct1");
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	CHECK(nlh->nlmsg_type == RTM_NEWLINK && !(nlh->nlmsg_flags & NLM_F_CREATE));
	CHECK(ifi->ifi_index == 4 && ifi->ifi_flags == IFF_UP && ifi->ifi_change == IFF_UP);
	CHECK(mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &at) == MNL_CB_OK);
	CHECK(at.tb[IFLA_MASTER] && mnl_attr_get_u32(at.tb[IFLA_MASTER]) == 2);
	CHECK(!at.tb[IFLA_MTU]);
	CHECK_STREQ(mnl_attr_get_str(at.tb[IFLA_IFALIAS]), "husk id=ct1");
	return 0;
}

/* ---- live, as root, in private namespaces ---- */

/* Run fn in a child that has a network namespace of its own: its "host". */
static int in_private_host(int (*fn)(void))
{
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return 77;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		int r = unshare(CLONE_NEWNET) < 0 ? 77 : fn();

		fflush(stdout);
		_exit(r);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return 1;
	return WEXITSTATUS(st);
}

/* A stand-in container init: a child in a new network namespace, parked until released. */
struct fake_init {
	pid_t pid;
	int release;
};

static int fake_init_start(struct fake_init *fi)
{
	int ready[2], hold[2];
	char c;

	fflush(stdout);
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	fi->pid = fork();
	if (fi->pid == 0) {
		close(hold[1]);
		if (unshare(CLONE_NEWNET) == 0 && write(ready[1], "x", 1) == 1)
			while (read(hold[0], &c, 1) > 0)
				;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	fi->release = hold[1];
	if (fi->pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void fake_init_stop(struct fake_init *fi)
{
	close(fi->release);
	waitpid(fi->pid, NULL, 0);
}

static bool host_link_exists(const char *name)
{
	cleanup_nl struct nl nl = { 0 };
	cleanup_err struct husk_err *err = NULL;
	struct netns_link_info li;

	if (nl_open(&nl, -1, &err) < 0)
		return true;
	return netns_link_get(&nl, name, &li, &err) == 0;
}

/* `ip -o ARGS` run inside the namespace of pid, output in buf. */
static const char *ip_in(pid_t pid, const char *args, char *buf, size_t size)
{
	char cmd[256];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nsenter --net=/proc/%d/ns/net ip -o %s 2>&1", (int)pid, args);
	f = popen(cmd, "r");
	if (!f)
		return "";
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	pclose(f);
	return buf;
}

static int setup_config(struct netns_config *nc, const char *addr, const char *gw,
			const char *mac)
{
	struct oci_kv kv[5] = { { NETNS_ANN_BRIDGE, "hkbrtest" }, { NETNS_ANN_MTU, "1400" } };
	size_t n = 2;
	struct husk_err *err = NULL;
	int r;

	if (addr)
		kv[n++] = (struct oci_kv){ NETNS_ANN_ADDRESS, (char *)addr };
	if (gw)
		kv[n++] = (struct oci_kv){ NETNS_ANN_GATEWAY, (char *)gw };
	if (mac)
		kv[n++] = (struct oci_kv){ NETNS_ANN_MAC, (char *)mac };
	r = parse(kv, n, nc, &err);
	if (r < 0)
		printf("# %s\n", err->msg);
	husk_err_free(err);
	return r;
}

static int live_setup_teardown(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct netns_config nc;
	struct fake_init fi;
	cleanup_nl struct nl nl = { 0 };
	struct netns_link_info br, host;
	char name[NETNS_IFNAMSIZ], out[4096];

	CHECK(setup_config(&nc, "10.231.1.2/24,fd00:231::2/64", "10.231.1.1,fd00:231::1",
			   "02:42:0a:e7:01:02") == 0);
	CHECK(fake_init_start(&fi) == 0);
	if (netns_nl_setup("ct1", fi.pid, &nc, &err) < 0)
		printf("# %s\n", err->msg);
	CHECK(!err);
	netns_host_ifname("ct1", name);
	CHECK(nl_open(&nl, -1, &err) == 0);
	CHECK(netns_link_get(&nl, "hkbrtest", &br, &err) == 0 && (br.flags & IFF_UP));
	CHECK_STREQ(br.kind, "bridge");
	CHECK(netns_link_get(&nl, name, &host, &err) == 0);
	CHECK(host.master == br.ifindex && (host.flags & IFF_UP) && host.mtu == 1400);
	CHECK_STREQ(host.alias, "husk mac=02:42:0a:e7:01:02 id=ct1");
	CHECK_STREQ(host.kind, "veth");

	ip_in(fi.pid, "link show eth0", out, sizeof(out));
	CHECK_CONTAINS(out, "mtu 1400");
	CHECK_CONTAINS(out, "link/ether 02:42:0a:e7:01:02");
	CHECK_CONTAINS(out, ",UP");
	ip_in(fi.pid, "addr show dev eth0", out, sizeof(out));
	CHECK_CONTAINS(out, "inet 10.231.1.2/24 brd 10.231.1.255");
	CHECK_CONTAINS(out, "inet6 fd00:231::2/64");
	ip_in(fi.pid, "route show", out, sizeof(out));
	CHECK_CONTAINS(out, "default via 10.231.1.1 dev eth0");
	ip_in(fi.pid, "-6 route show", out, sizeof(out));
	CHECK_CONTAINS(out, "default via fd00:231::1 dev eth0");

	/* The same MAC a second time on this bridge is refused, and leaves nothing. */
	struct fake_init fi2;
	char name2[NETNS_IFNAMSIZ];

	CHECK(fake_init_start(&fi2) == 0);
	nc.addrs[0].bytes[3] = 3;
	CHECK(netns_nl_setup("ct2", fi2.pid, &nc, &err) == -EADDRINUSE);
	CHECK_CONTAINS(err->msg, "annotation run.husk.net.mac: 02:42:0a:e7:01:02 is already used "
				 "on bridge hkbrtest");
	husk_err_freep(&err);
	netns_host_ifname("ct2", name2);
	CHECK(!host_link_exists(name2));
	fake_init_stop(&fi2);

	/* A link by that name that another --root's "ct1" owns is left alone. */
	CHECK(netns_link_set(&nl, host.ifindex, name, false, 0, 0, "husk id=ct1x", &err) == 0);
	CHECK(netns_nl_teardown("ct1", &err) == 0);
	CHECK(host_link_exists(name));
	CHECK(netns_link_set(&nl, host.ifindex, name, false, 0, 0, "husk id=ct1", &err) == 0);
	CHECK(netns_nl_teardown("ct1", &err) == 0);
	CHECK(!host_link_exists(name));
	CHECK(netns_nl_teardown("ct1", &err) == 0);	/* gone already: still fine */
	CHECK(host_link_exists("hkbrtest"));		/* bridges stay */
	fake_init_stop(&fi);
	netns_config_free(&nc);
	return 0;
}

/* A kernel refusal halfway (after the bridge and the veth exist) undoes both, and the error
 * carries the kernel's own words. */
static int live_failure_undone(void)
{
	/* The kernel's wording varies between versions; its errno text ends the message. */
	struct {
		const char *addr, *gw, *prefix, *kernel, *suffix;
	} cases[] = {
		{ "10.231.1.2/24,10.231.1.2/24", NULL, "netns: add address 10.231.1.2/24 to eth0: ",
		  "", ": File exists" },
		{ "10.231.1.2/24", "10.99.0.1", "netns: add route default via 10.99.0.1 dev eth0: ",
		  "Nexthop has invalid gateway", ": Network is unreachable" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct husk_err *err = NULL;
		struct netns_config nc;
		struct fake_init fi;
		char name[NETNS_IFNAMSIZ];
		size_t len;

		CHECK(setup_config(&nc, cases[i].addr, cases[i].gw, NULL) == 0);
		CHECK(fake_init_start(&fi) == 0);
		CHECK(netns_nl_setup("ct-fail", fi.pid, &nc, &err) < 0);
		printf("# kernel said: %s\n", err->msg);
		CHECK(startswith(err->msg, cases[i].prefix));
		CHECK_CONTAINS(err->msg, cases[i].kernel);
		len = strlen(err->msg);
		CHECK(len > strlen(cases[i].suffix) &&
		      streq(err->msg + len - strlen(cases[i].suffix), cases[i].suffix));
		netns_host_ifname("ct-fail", name);
		CHECK(!host_link_exists(name));
		CHECK(!host_link_exists("hkbrtest"));	/* this call created it: removed */
		fake_init_stop(&fi);
		netns_config_free(&nc);
	}
	return 0;
}

static int live_refuses_own_namespace(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct netns_config nc;

	CHECK(setup_config(&nc, "10.231.1.2/24", NULL, NULL) == 0);
	CHECK(netns_nl_setup("ct1", getpid(), &nc, &err) == -EINVAL);
	CHECK_CONTAINS(err->msg, "no network namespace of its own");
	CHECK(!host_link_exists("hkbrtest"));
	netns_config_free(&nc);
	return 0;
}

static int live_lo_up(void)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_nl struct nl nl = { 0 };
	struct netns_link_info li;

	CHECK(nl_open(&nl, -1, &err) == 0);
	CHECK(netns_link_get(&nl, "lo", &li, &err) == 0 && !(li.flags & IFF_UP));
	CHECK(netns_lo_up(&err) == 0);
	CHECK(netns_link_get(&nl, "lo", &li, &err) == 0 && (li.flags & IFF_UP));
	return 0;
}

static int live_tap(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct fake_init fi;
	cleanup_nl struct nl nl = { 0 };
	struct netns_link_info li;
	char path[64];
	int nsfd, fd;

	if (access("/dev/net/tun", R_OK | W_OK) < 0)
		return 77;
	CHECK(fake_init_start(&fi) == 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)fi.pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(nsfd >= 0);
	fd = netns_tap_create(nsfd, "tap0", 1400, &err);
	if (fd < 0)
		printf("# %s\n", err->msg);
	CHECK(fd >= 0);
	CHECK(!host_link_exists("tap0"));		/* in the target, not here */
	CHECK(nl_open(&nl, nsfd, &err) == 0);
	CHECK(netns_link_get(&nl, "tap0", &li, &err) == 0);
	CHECK(li.mtu == 1400 && (li.flags & IFF_UP));
	CHECK_STREQ(li.kind, "tun");
	close(fd);
	CHECK(netns_link_get(&nl, "tap0", &li, &err) == -ENODEV);	/* gone with its fd */
	CHECK(netns_tap_create(nsfd, "much-too-long-name", 0, &err) == -EINVAL);
	close(nsfd);
	fake_init_stop(&fi);
	return 0;
}

static int test_live_setup(void)
{
	return in_private_host(live_setup_teardown);
}
static int test_live_failure(void)
{
	return in_private_host(live_failure_undone);
}
static int test_live_own_ns(void)
{
	return in_private_host(live_refuses_own_namespace);
}
static int test_live_lo(void)
{
	return in_private_host(live_lo_up);
}
static int test_live_tap(void)
{
	return in_private_host(live_tap);
}

/* ---- the client that runs the husk-netns helper (helper.c), against a fake helper ---- */

/* A fake helper in t: records its arguments one per line in t/args, then runs body. */
static void fake_helper(struct tmpdir *t, const char *body)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/helper", t->path);
	f = fopen(path, "w");
	if (!f)
		abort();
	fprintf(f, "#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s/args\n%s\n", t->path, body);
	fclose(f);
	chmod(path, 0755);
	setenv("HUSK_NETNS_HELPER", path, 1);
}

static int test_helper_args(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;
	struct oci_kv kv[] = { { "org.example", "x" }, { NETNS_ANN_ADDRESS, "10.0.0.2/24" },
			       { NETNS_ANN_MTU, "1400" }, { NETNS_ANN_BRIDGE, "a=b c" } };
	struct oci_config cfg = { .annotations = { kv, ARRAY_SIZE(kv) } };

	fake_helper(t, "exit 0");
	CHECK(netns_setup("ct1", 4242, &cfg, &err) == 0);
	CHECK(!err);
	/* Only run.husk.net.* annotations, each as one KEY=VALUE argument, in order. */
	CHECK_STREQ(tmpdir_read(t, "args"), "setup\nct1\n4242\nrun.husk.net.address=10.0.0.2/24\n"
					    "run.husk.net.mtu=1400\nrun.husk.net.bridge=a=b c");
	unsetenv("HUSK_NETNS_HELPER");
	return 0;
}

static int test_helper_errors(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	struct oci_config cfg = { 0 };
	struct husk_err *err = NULL;

	/* Its one line becomes the error, its exit status the errno. */
	fake_helper(t, "echo 'netns: add address: File exists' >&2; exit 17");
	CHECK(netns_setup("ct1", 1, &cfg, &err) == -EEXIST);
	CHECK_STREQ(err->msg, "netns: add address: File exists");
	husk_err_freep(&err);

	fake_helper(t, "exit 3");
	CHECK(netns_setup("ct1", 1, &cfg, &err) < 0);
	CHECK_CONTAINS(err->msg, "/helper` exited with status 3");
	husk_err_freep(&err);

	fake_helper(t, "echo half >&2; kill -9 $$");
	CHECK(netns_setup("ct1", 1, &cfg, &err) < 0);
	CHECK_CONTAINS(err->msg, "/helper` was killed by signal 9: half");
	husk_err_freep(&err);

	setenv("HUSK_NETNS_HELPER", "/nonexistent/husk-netns", 1);
	CHECK(netns_setup("ct1", 1, &cfg, &err) == -ENOENT);
	CHECK_STREQ(err->msg, "$HUSK_NETNS_HELPER `/nonexistent/husk-netns`: No such file or "
			      "directory");
	husk_err_freep(&err);
	unsetenv("HUSK_NETNS_HELPER");
	return 0;
}

/* No link by the id's name: teardown succeeds without running the helper. */
static int test_helper_teardown_skips(void)
{
	cleanup_tmpdir struct tmpdir *t = tmpdir_new();
	cleanup_err struct husk_err *err = NULL;

	fake_helper(t, "exit 1");
	CHECK(netns_teardown("no-such-container-here", &err) == 0);
	CHECK(tmpdir_read(t, "args") == NULL);
	unsetenv("HUSK_NETNS_HELPER");
	return 0;
}

static const struct test tests[] = {
	{ "parse: no annotations, no veth", test_parse_none },
	{ "parse: every annotation", test_parse_full },
	{ "parse: bad values name the annotation", test_parse_bad },
	{ "parse: one gateway per family", test_parse_two_gateways },
	{ "host ifname: stable, short, per id", test_host_ifname },
	{ "msg: RTM_NEWADDR IPv4", test_msg_addr_v4 },
	{ "msg: RTM_NEWADDR IPv6 without DAD", test_msg_addr_v6 },
	{ "msg: RTM_NEWLINK veth with peer in a namespace", test_msg_veth },
	{ "msg: RTM_NEWROUTE default and prefix", test_msg_route },
	{ "msg: RTM_NEWLINK set up, master, alias", test_msg_link_set },
	{ "helper: gets the id, the pid and only run.husk.net.* annotations", test_helper_args },
	{ "helper: its error line, exit status and signal become the error", test_helper_errors },
	{ "helper: teardown without a link does not run it", test_helper_teardown_skips },
	{ "live: setup, duplicate MAC, teardown", test_live_setup },
	{ "live: a kernel error halfway leaves nothing", test_live_failure },
	{ "live: refuses the runtime's own namespace", test_live_own_ns },
	{ "live: lo up", test_live_lo },
	{ "live: tap in a namespace", test_live_tap },
};
TAP_MAIN(tests)

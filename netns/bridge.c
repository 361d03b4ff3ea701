/* Bridges: find or create the one a container's host-side veth joins, and refuse a MAC that
 * is already in use on it. */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "nl.h"

struct nlmsghdr *nl_msg_bridge_new(void *buf, const char *name)
{
	struct nlmsghdr *nlh = nl_msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi;
	struct nlattr *info;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

static int bridge_create(struct nl *nl, const char *name, struct husk_err **err)
{
	char buf[NL_MSG_SIZE];
	int r;

	r = nl_request(nl, nl_msg_bridge_new(buf, name), NULL, NULL, err);
	if (r < 0)
		return husk_err_wrap(err, "netns: create bridge %s", name);
	return 0;
}

int netns_bridge_ensure(struct nl *nl, const char *name, bool *created, struct husk_err **err)
{
	struct netns_link_info li;
	int r;

	*created = false;
	r = netns_link_get(nl, name, &li, err);
	if (r == -ENODEV) {
		husk_err_freep(err);
		r = bridge_create(nl, name, err);
		/* EEXIST: another husk created it since we looked; use theirs. */
		if (r == 0)
			*created = true;
		else if (r == -EEXIST)
			husk_err_freep(err);
		else
			return r;
		r = netns_link_get(nl, name, &li, err);
	}
	if (r < 0)
		return husk_err_wrap(err, "annotation " NETNS_ANN_BRIDGE);
	if (strcmp(li.kind, "bridge") != 0)
		return husk_err_msg(err, ENOTSUP,
				    "annotation " NETNS_ANN_BRIDGE ": %s is not a bridge", name);
	r = netns_link_set(nl, li.ifindex, name, true, 0, 0, NULL, err);
	if (r < 0) {
		if (*created) {
			struct husk_err *e2 = NULL;

			netns_link_del(nl, name, &e2);
			husk_err_free(e2);
			*created = false;
		}
		return r;
	}
	return li.ifindex;
}

struct mac_scan {
	int master;
	uint8_t mac[6];
	char alias_key[24];	/* "mac=02:42:...", as netns_setup() writes host-side aliases */
	char holder[NETNS_IFNAMSIZ];
};

static int mac_scan_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mac_scan *s = data;
	const struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	bool port, hit = false;

	if (nl_parse_link(nlh, tb) < 0)
		return MNL_CB_ERROR;
	port = tb[IFLA_MASTER] && (int)mnl_attr_get_u32(tb[IFLA_MASTER]) == s->master;
	if (!port && ifi->ifi_index != s->master)
		return MNL_CB_OK;
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6 &&
	    memcmp(mnl_attr_get_payload(tb[IFLA_ADDRESS]), s->mac, 6) == 0)
		hit = true;
	if (port && tb[IFLA_IFALIAS] && strstr(mnl_attr_get_str(tb[IFLA_IFALIAS]), s->alias_key))
		hit = true;
	if (hit && !s->holder[0] && tb[IFLA_IFNAME])
		snprintf(s->holder, sizeof(s->holder), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	return MNL_CB_OK;
}

/* The kernel lets two ports of a bridge share a MAC and the bridge then delivers each frame
 * to one of them only: refuse it here. Containers' MACs live in other namespaces, so the
 * host-side alias of each husk veth records its peer's MAC ("husk mac=... id=..."). */
int netns_bridge_check_mac(struct nl *nl, int master, const char *bridge, const uint8_t mac[6],
			   struct husk_err **err)
{
	struct mac_scan s = { .master = master };
	char buf[NL_MSG_SIZE], text[18];
	int r;

	memcpy(s.mac, mac, 6);
	netns_mac_fmt(mac, text);
	snprintf(s.alias_key, sizeof(s.alias_key), "mac=%s", text);
	r = nl_request(nl, nl_msg_link_dump(buf), mac_scan_cb, &s, err);
	if (r < 0)
		return husk_err_wrap(err, "netns: list the ports of bridge %s", bridge);
	if (s.holder[0])
		return husk_err_msg(err, EADDRINUSE,
				    "annotation " NETNS_ANN_MAC
				    ": %s is already used on bridge %s (by %s)",
				    text, bridge, s.holder);
	return 0;
}

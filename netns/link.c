/* Links: look one up by name (into a validated tb[]), set it up / its master / MTU / alias,
 * delete it. The messages are built by nl_msg_link_* so unit tests can read them back. */
#include <errno.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "nl.h"

static struct nlmsghdr *link_msg(void *buf, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = nl_msg_start(buf, type, flags);
	struct ifinfomsg *ifi;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

struct nlmsghdr *nl_msg_link_get(void *buf, const char *name)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Skip the statistics: we only read names, kinds and addresses. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

struct nlmsghdr *nl_msg_link_dump(void *buf)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, NLM_F_DUMP, 0);

	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

struct nlmsghdr *nl_msg_link_del(void *buf, const char *name)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

struct nlmsghdr *nl_msg_link_set(void *buf, int ifindex, bool up, int master, uint32_t mtu,
				 const char *alias)
{
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	if (master > 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	return nlh;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);
	int r = 0;

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;	/* newer than our headers: not ours to read */
	switch (type) {
	case IFLA_IFNAME:
	case IFLA_IFALIAS:
		r = mnl_attr_validate(a, MNL_TYPE_NUL_STRING);
		break;
	case IFLA_MASTER:
	case IFLA_MTU:
		r = mnl_attr_validate(a, MNL_TYPE_U32);
		break;
	case IFLA_LINKINFO:
		r = mnl_attr_validate(a, MNL_TYPE_NESTED);
		break;
	}
	if (r < 0)
		return MNL_CB_ERROR;
	tb[type] = a;
	return MNL_CB_OK;
}

int nl_parse_link(const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	memset(tb, 0, (IFLA_MAX + 1) * sizeof(*tb));
	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, tb);
}

static int linkinfo_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **kind = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*kind = a;
	return MNL_CB_OK;
}

static int link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netns_link_info *out = data;
	const struct nlattr *tb[IFLA_MAX + 1], *kind = NULL;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nl_parse_link(nlh, tb) < 0)
		return MNL_CB_ERROR;
	out->ifindex = ifi->ifi_index;
	out->flags = ifi->ifi_flags;
	if (tb[IFLA_MTU])
		out->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_MASTER])
		out->master = (int)mnl_attr_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(out->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
	if (tb[IFLA_IFALIAS])
		snprintf(out->alias, sizeof(out->alias), "%s", mnl_attr_get_str(tb[IFLA_IFALIAS]));
	if (tb[IFLA_LINKINFO])
		mnl_attr_parse_nested(tb[IFLA_LINKINFO], linkinfo_attr_cb, &kind);
	if (kind)
		snprintf(out->kind, sizeof(out->kind), "%s", mnl_attr_get_str(kind));
	return MNL_CB_OK;
}

int netns_link_get(struct nl *nl, const char *name, struct netns_link_info *out,
		   struct husk_err **err)
{
	char buf[NL_MSG_SIZE];
	int r;

	*out = (struct netns_link_info){ 0 };
	r = nl_request(nl, nl_msg_link_get(buf, name), link_get_cb, out, err);
	if (r < 0)
		return husk_err_wrap(err, "netns: find link %s", name);
	if (out->ifindex <= 0)
		return husk_err_msg(err, ENODEV, "netns: find link %s: no reply", name);
	return 0;
}

int netns_link_set(struct nl *nl, int ifindex, const char *name, bool up, int master,
		   uint32_t mtu, const char *alias, struct husk_err **err)
{
	char buf[NL_MSG_SIZE];
	int r;

	r = nl_request(nl, nl_msg_link_set(buf, ifindex, up, master, mtu, alias), NULL, NULL, err);
	if (r < 0)
		return husk_err_wrap(err, "netns: set %s%s%s", name,
				     master > 0 ? " on its bridge" : "", up ? " up" : "");
	return 0;
}

int netns_link_del(struct nl *nl, const char *name, struct husk_err **err)
{
	char buf[NL_MSG_SIZE];
	int r;

	r = nl_request(nl, nl_msg_link_del(buf, name), NULL, NULL, err);
	if (r < 0)
		return husk_err_wrap(err, "netns: delete link %s", name);
	return 0;
}

/* veth pairs: one RTM_NEWLINK creates both ends, the peer directly inside the container's
 * network namespace under its final name, so no half-configured peer is ever seen on the host. */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "nl.h"

struct nlmsghdr *nl_msg_veth_new(void *buf, const char *name, const char *peer, int peer_netns_fd,
				 uint32_t mtu, const uint8_t *mac)
{
	struct nlmsghdr *nlh = nl_msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data, *pa;
	struct ifinfomsg *ifi;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* VETH_INFO_PEER holds a struct ifinfomsg followed by the peer's own IFLA_* attributes. */
	pa = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	mnl_attr_nest_end(nlh, pa);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

int netns_veth_create(struct nl *nl, const char *name, const char *peer, int peer_netns_fd,
		      uint32_t mtu, const uint8_t *mac, struct husk_err **err)
{
	char buf[NL_MSG_SIZE];
	int r;

	r = nl_request(nl, nl_msg_veth_new(buf, name, peer, peer_netns_fd, mtu, mac), NULL, NULL,
		       err);
	if (r < 0)
		return husk_err_wrap(err, "netns: create veth pair %s/%s", name, peer);
	return 0;
}

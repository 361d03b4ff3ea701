/* Routes: RTM_NEWROUTE through a gateway on one link, in the main table; the default route
 * is the one with a zero-length destination. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <sys/socket.h>

#include "nl.h"

struct nlmsghdr *nl_msg_route_new(void *buf, int ifindex, const struct netns_route *r)
{
	struct nlmsghdr *nlh = nl_msg_start(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	size_t len = r->dst.family == AF_INET ? 4 : 16;
	struct rtmsg *rtm;

	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)r->dst.family;
	rtm->rtm_dst_len = r->dst.prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (r->dst.prefix > 0)
		mnl_attr_put(nlh, RTA_DST, len, r->dst.bytes);
	mnl_attr_put(nlh, RTA_GATEWAY, len, r->gw.bytes);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nlh;
}

int netns_route_add(struct nl *nl, int ifindex, const char *ifname, const struct netns_route *r,
		    struct husk_err **err)
{
	char buf[NL_MSG_SIZE], dst[NETNS_ADDRSTRLEN], gw[NETNS_ADDRSTRLEN];
	int ret;

	ret = nl_request(nl, nl_msg_route_new(buf, ifindex, r), NULL, NULL, err);
	if (ret < 0) {
		if (r->dst.prefix == 0)
			snprintf(dst, sizeof(dst), "default");
		else
			netns_addr_fmt(&r->dst, true, dst);
		netns_addr_fmt(&r->gw, false, gw);
		return husk_err_wrap(err, "netns: add route %s via %s dev %s", dst, gw, ifname);
	}
	return 0;
}

/* Addresses: RTM_NEWADDR for one IPv4 or IPv6 CIDR on a link. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "nl.h"

struct nlmsghdr *nl_msg_addr_new(void *buf, int ifindex, const struct netns_addr *a)
{
	struct nlmsghdr *nlh = nl_msg_start(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	size_t len = a->family == AF_INET ? 4 : 16;
	struct ifaddrmsg *ifa;

	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, len, a->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a->bytes);
	if (a->family == AF_INET && a->prefix <= 30) {
		uint8_t brd[4];
		uint32_t host = a->prefix ? 0xffffffffu >> a->prefix : 0xffffffffu;

		for (int i = 0; i < 4; i++)
			brd[i] = a->bytes[i] | (uint8_t)(host >> (24 - 8 * i));
		mnl_attr_put(nlh, IFA_BROADCAST, 4, brd);
	}
	/* No duplicate address detection: the address must work at once, the container's process
	 * may talk right after `start` (addresses on the bridge are the admin's to keep unique). */
	if (a->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nlh;
}

int netns_addr_add(struct nl *nl, int ifindex, const char *ifname, const struct netns_addr *a,
		   struct husk_err **err)
{
	char buf[NL_MSG_SIZE], text[NETNS_ADDRSTRLEN];
	int r;

	r = nl_request(nl, nl_msg_addr_new(buf, ifindex, a), NULL, NULL, err);
	if (r < 0) {
		netns_addr_fmt(a, true, text);
		return husk_err_wrap(err, "netns: add address %s to %s", text, ifname);
	}
	return 0;
}

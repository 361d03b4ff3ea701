/* netns internals: the rtnetlink socket and its one request helper (nl.c), the message
 * builders (pure, unit-tested without sending) and the link/address/route operations. */
#pragma once

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "netns.h"

/* The real netns_setup() and netns_teardown(), which only the husk-netns helper runs (see
 * netns.h for what they do). */
int netns_nl_setup(const char *id, pid_t init_pid, const struct netns_config *nc,
		   struct husk_err **err);
int netns_nl_teardown(const char *id, struct husk_err **err);

/* Requests are small; replies to dumps come in batches of up to 32 KiB (MNL_SOCKET_DUMP_SIZE). */
#define NL_MSG_SIZE 4096
#define NL_RECV_SIZE 32768

/* An rtnetlink socket bound to one network namespace. */
struct nl {
	struct mnl_socket *sk;
	unsigned int portid;
	uint32_t seq;
	char *rbuf;		/* NL_RECV_SIZE bytes */
};

/* Open an rtnetlink socket in the network namespace netns_fd (-1: the current one) with
 * NETLINK_EXT_ACK and NETLINK_CAP_ACK. The caller's own namespace never changes: a
 * short-lived thread enters the target and opens the socket there, and a netlink socket stays
 * bound to the namespace it was created in. */
int nl_open(struct nl *nl, int netns_fd, struct husk_err **err);
void nl_close(struct nl *nl);
#define cleanup_nl __attribute__((cleanup(nl_close)))

/* The request helper: send nlh (its seq is set here; NLM_F_REQUEST, and NLM_F_ACK unless it is
 * a dump), receive until the ack, the error or NLMSG_DONE, checking sequence number and port.
 * cb (may be NULL) sees each reply message. A kernel error becomes *err = "<extack message>:
 * <strerror>" or just "<strerror>", for the caller to wrap with what it was doing. */
int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
	       struct husk_err **err);

/* Start a request in buf (NL_MSG_SIZE bytes, zeroed so attribute padding is never stale). */
static inline struct nlmsghdr *nl_msg_start(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, NL_MSG_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

/* Message builders: buf holds NL_MSG_SIZE bytes; each returns the finished header. */
struct nlmsghdr *nl_msg_link_get(void *buf, const char *name);
struct nlmsghdr *nl_msg_link_dump(void *buf);
struct nlmsghdr *nl_msg_link_del(void *buf, const char *name);
/* RTM_NEWLINK on an existing link: any of up, master (> 0), mtu (> 0), alias (non-NULL). */
struct nlmsghdr *nl_msg_link_set(void *buf, int ifindex, bool up, int master, uint32_t mtu,
				 const char *alias);
struct nlmsghdr *nl_msg_bridge_new(void *buf, const char *name);
/* A veth pair: `name` here, `peer` created directly in the namespace peer_netns_fd, with mtu
 * (0: default) on both ends and mac (NULL: random) on the peer. */
struct nlmsghdr *nl_msg_veth_new(void *buf, const char *name, const char *peer, int peer_netns_fd,
				 uint32_t mtu, const uint8_t *mac);
struct nlmsghdr *nl_msg_addr_new(void *buf, int ifindex, const struct netns_addr *a);
struct nlmsghdr *nl_msg_route_new(void *buf, int ifindex, const struct netns_route *r);

/* Attribute tables of a link reply, validated: IFLA_IFNAME and IFLA_IFALIAS are strings,
 * IFLA_MASTER and IFLA_MTU u32, IFLA_ADDRESS binary, IFLA_LINKINFO nested. */
int nl_parse_link(const struct nlmsghdr *nlh, const struct nlattr **tb /* [IFLA_MAX + 1] */);

/* Operations (link.c, addr.c, route.c, veth.c, bridge.c). Names are only for messages. */
struct netns_link_info {
	int ifindex;
	unsigned int flags;	/* IFF_* */
	uint32_t mtu;
	int master;		/* 0: none */
	uint8_t mac[6];
	char kind[16];		/* IFLA_INFO_KIND, "" if none */
	char alias[256];	/* IFLA_IFALIAS, "" if none */
};
/* The link called name: 0 and *out filled, or -ENODEV with *err set. */
int netns_link_get(struct nl *nl, const char *name, struct netns_link_info *out,
		   struct husk_err **err);
int netns_link_set(struct nl *nl, int ifindex, const char *name, bool up, int master,
		   uint32_t mtu, const char *alias, struct husk_err **err);
/* Delete link name; -ENODEV (with *err set) if there is none. */
int netns_link_del(struct nl *nl, const char *name, struct husk_err **err);
/* Return the bridge's ifindex, creating it (and bringing it up) if missing; *created says so. */
int netns_bridge_ensure(struct nl *nl, const char *name, bool *created, struct husk_err **err);
/* -EADDRINUSE if mac is on a port of bridge `master`, or recorded in a husk alias there. */
int netns_bridge_check_mac(struct nl *nl, int master, const char *bridge, const uint8_t mac[6],
			   struct husk_err **err);
int netns_veth_create(struct nl *nl, const char *name, const char *peer, int peer_netns_fd,
		      uint32_t mtu, const uint8_t *mac, struct husk_err **err);
int netns_addr_add(struct nl *nl, int ifindex, const char *ifname, const struct netns_addr *a,
		   struct husk_err **err);
int netns_route_add(struct nl *nl, int ifindex, const char *ifname, const struct netns_route *r,
		    struct husk_err **err);

/* Container networking through netlink (libmnl): loopback, a veth pair into the container's
 * network namespace with addresses and routes, the host end on a bridge, tap devices for the
 * VM mode. Configured by run.husk.net.* annotations; without them only lo comes up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "oci/config.h"

/* The annotations netns_config_parse() reads; any other key under the prefix is an error. */
#define NETNS_ANN_PREFIX "run.husk.net."
#define NETNS_ANN_BRIDGE "run.husk.net.bridge"
#define NETNS_ANN_ADDRESS "run.husk.net.address"
#define NETNS_ANN_GATEWAY "run.husk.net.gateway"
#define NETNS_ANN_ROUTES "run.husk.net.routes"
#define NETNS_ANN_MTU "run.husk.net.mtu"
#define NETNS_ANN_MAC "run.husk.net.mac"

/* The container side of the veth pair, inside its namespace. */
#define NETNS_CONTAINER_IFNAME "eth0"

/* An IPv4 or IPv6 address with a prefix length (a CIDR). */
struct netns_addr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t bytes[16];	/* network order; 4 used for AF_INET */
};

/* A route through eth0: dst.prefix 0 is the default route. */
struct netns_route {
	struct netns_addr dst;
	struct netns_addr gw;	/* gw.prefix unused */
};

struct netns_config {
	char *bridge;			/* NULL: the host end is not attached to a bridge */
	struct netns_addr *addrs;	/* run.husk.net.address, in order */
	size_t n_addrs;
	struct netns_route *routes;	/* default routes (gateways) first, then extra routes */
	size_t n_routes;
	uint32_t mtu;			/* 0: the kernel's default */
	bool has_mac;
	uint8_t mac[6];
};

/* Fill *out from the run.husk.net.* annotations of cfg (all absent: an empty config).
 * Errors name the annotation: `annotation run.husk.net.address: "10.0.0.300/24" is not a
 * CIDR`. On failure *out is left empty. */
int netns_config_parse(const struct oci_config *cfg, struct netns_config *out,
		       struct husk_err **err);
/* True when any run.husk.net.* annotation asked for a veth. */
bool netns_config_wanted(const struct netns_config *nc);
void netns_config_free(struct netns_config *nc);

/* Text forms for messages: "10.0.0.2/24", "fd00::1", "02:42:ac:11:00:02". */
#define NETNS_ADDRSTRLEN 52
void netns_addr_fmt(const struct netns_addr *a, bool with_prefix, char buf[NETNS_ADDRSTRLEN]);
void netns_mac_fmt(const uint8_t mac[6], char buf[18]);

/* The host-side veth name for container `id`: "hk" + 12 hex digits of a hash of the id
 * (14 characters). buf holds at least NETNS_IFNAMSIZ bytes. */
#define NETNS_IFNAMSIZ 16
void netns_host_ifname(const char *id, char buf[NETNS_IFNAMSIZ]);

/* In the runtime namespace, while the container init waits (it must not run user code yet):
 * create the veth pair with its container end created directly inside the network namespace
 * of init_pid as eth0 (MAC, MTU), attach the host end to the bridge (created and brought up
 * if missing) and bring it up, then inside the namespace add the addresses, bring eth0 up and
 * add the routes, as cfg's run.husk.net.* annotations ask. On failure everything this call
 * created is removed again (the veth, and the bridge if it created it). Refuses (EINVAL) when
 * init_pid shares our network namespace.
 * The netlink work happens in the husk-netns helper (netns_helper_path()), which takes the
 * annotations as arguments; its one-line error becomes *err. */
int netns_setup(const char *id, pid_t init_pid, const struct oci_config *cfg,
		struct husk_err **err);
/* Remove the host-side veth of container `id` (its peer goes with it). A link that is already
 * gone (the namespace died with the container) is success, and so is one with that name whose
 * alias says it belongs to another id (left alone). Bridges are left in place. The helper only
 * runs when a link of that name exists. */
int netns_teardown(const char *id, struct husk_err **err);
/* The husk-netns helper: $HUSK_NETNS_HELPER if set, else husk-netns beside this husk (in a
 * build tree: BUILD/netns/husk-netns; installed: PREFIX/libexec/husk/husk-netns), else the
 * installed path. *out is malloc'd. */
int netns_helper_path(char **out, struct husk_err **err);

/* Bring lo up in the current network namespace (the init, in every new one it gets). */
int netns_lo_up(struct husk_err **err);

/* For the VM mode: create tap device `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) inside the
 * network namespace netns_fd (-1: the current one), set mtu (0: default) and bring it up.
 * Returns its queue fd (O_CLOEXEC | O_NONBLOCK); the device disappears when that fd is closed. */
int netns_tap_create(int netns_fd, const char *name, uint32_t mtu, struct husk_err **err);

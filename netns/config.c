/* The run.husk.net.* annotations parsed into a struct netns_config, validated with errors that
 * name the annotation; the text forms of addresses and MACs; host-side link names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "netns.h"

static const char *const known_keys[] = {
	NETNS_ANN_BRIDGE, NETNS_ANN_ADDRESS, NETNS_ANN_GATEWAY,
	NETNS_ANN_ROUTES, NETNS_ANN_MTU,     NETNS_ANN_MAC,
};

void netns_addr_fmt(const struct netns_addr *a, bool with_prefix, char buf[NETNS_ADDRSTRLEN])
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(a->family, a->bytes, ip, sizeof(ip));
	if (with_prefix)
		snprintf(buf, NETNS_ADDRSTRLEN, "%s/%u", ip, a->prefix);
	else
		snprintf(buf, NETNS_ADDRSTRLEN, "%s", ip);
}

void netns_mac_fmt(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

void netns_host_ifname(const char *id, char buf[NETNS_IFNAMSIZ])
{
	/* FNV-1a: the same name on every host and build, so any husk can find the link. */
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	snprintf(buf, NETNS_IFNAMSIZ, "hk%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
}

/* "1.2.3.4" or "fd00::1" (want_prefix false), "1.2.3.4/24" (true). */
static bool parse_ip(const char *s, bool want_prefix, struct netns_addr *a)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	char *end;

	*a = (struct netns_addr){ 0 };
	if (!slash != !want_prefix || len == 0 || len >= sizeof(ip))
		return false;
	memcpy(ip, s, len);
	ip[len] = '\0';
	if (inet_pton(AF_INET, ip, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a->bytes) == 1)
		a->family = AF_INET6;
	else
		return false;
	a->prefix = a->family == AF_INET ? 32 : 128;
	if (!want_prefix)
		return true;
	if (!isdigit((unsigned char)slash[1]))
		return false;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end || prefix > a->prefix)
		return false;
	a->prefix = (uint8_t)prefix;
	return true;
}

static bool has_host_bits(const struct netns_addr *a)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < len; i++) {
		int keep = (int)a->prefix - (int)(8 * i);
		uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (a->bytes[i] & ~mask)
			return true;
	}
	return false;
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

/* Split value at commas into trimmed, non-empty items; *n items, NULL-terminated. */
static char **split_list(const char *value, size_t *n)
{
	char *copy = xstrdup(value), *save = NULL, *tok;
	char **v = xcalloc(strlen(value) / 2 + 2, sizeof(*v));

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end = tok + strlen(tok);

		while (isspace((unsigned char)*tok))
			tok++;
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok)
			v[(*n)++] = xstrdup(tok);
	}
	free(copy);
	return v;
}

static int parse_addresses(const char *value, struct netns_config *nc, struct husk_err **err)
{
	cleanup_strv char **items = NULL;
	size_t n;

	items = split_list(value, &n);
	nc->addrs = xcalloc(n ? n : 1, sizeof(*nc->addrs));
	for (size_t i = 0; i < n; i++) {
		if (!parse_ip(items[i], true, &nc->addrs[i]))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_ADDRESS
					    ": \"%s\" is not a CIDR (ADDRESS/PREFIX)", items[i]);
		nc->n_addrs++;
	}
	return 0;
}

static bool has_family(const struct netns_config *nc, int family)
{
	for (size_t i = 0; i < nc->n_addrs; i++)
		if (nc->addrs[i].family == family)
			return true;
	return false;
}

static struct netns_route *route_push(struct netns_config *nc)
{
	nc->routes = xrealloc(nc->routes, (nc->n_routes + 1) * sizeof(*nc->routes));
	nc->routes[nc->n_routes] = (struct netns_route){ 0 };
	return &nc->routes[nc->n_routes++];
}

static int parse_gateways(const char *value, struct netns_config *nc, struct husk_err **err)
{
	cleanup_strv char **items = NULL;
	bool seen[2] = { false, false };
	struct netns_addr gw;
	struct netns_route *r;
	size_t n;

	items = split_list(value, &n);
	for (size_t i = 0; i < n; i++) {
		if (!parse_ip(items[i], false, &gw))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_GATEWAY
					    ": \"%s\" is not an IP address", items[i]);
		if (seen[gw.family == AF_INET6])
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_GATEWAY
					    ": more than one %s gateway", family_name(gw.family));
		seen[gw.family == AF_INET6] = true;
		if (!has_family(nc, gw.family))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_GATEWAY
					    ": %s needs an %s address in " NETNS_ANN_ADDRESS,
					    items[i], family_name(gw.family));
		r = route_push(nc);
		r->dst = (struct netns_addr){ .family = gw.family, .prefix = 0 };
		r->gw = gw;
	}
	return 0;
}

/* "CIDR via ADDRESS" items: extra routes through a gateway on eth0. */
static int parse_routes(const char *value, struct netns_config *nc, struct husk_err **err)
{
	cleanup_strv char **items = NULL;
	struct netns_route rt;
	char dst[NETNS_ADDRSTRLEN + 1], via[8], gw[NETNS_ADDRSTRLEN + 1], extra;
	size_t n;

	items = split_list(value, &n);
	for (size_t i = 0; i < n; i++) {
		if (sscanf(items[i], "%52s %7s %52s %c", dst, via, gw, &extra) != 3 ||
		    strcmp(via, "via") != 0 || !parse_ip(dst, true, &rt.dst) ||
		    !parse_ip(gw, false, &rt.gw))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_ROUTES
					    ": \"%s\" is not \"CIDR via ADDRESS\"", items[i]);
		if (rt.dst.family != rt.gw.family)
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_ROUTES
					    ": \"%s\" mixes IPv4 and IPv6", items[i]);
		if (has_host_bits(&rt.dst))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_ROUTES
					    ": \"%s\": %s has bits set past its prefix length",
					    items[i], dst);
		if (!has_family(nc, rt.dst.family))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_ROUTES
					    ": \"%s\" needs an %s address in " NETNS_ANN_ADDRESS,
					    items[i], family_name(rt.dst.family));
		*route_push(nc) = rt;
	}
	return 0;
}

static int parse_mtu(const char *value, struct netns_config *nc, struct husk_err **err)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(value, &end, 10);
	/* 68 is IPv4's minimum (RFC 791); IPv6 needs 1280, which the kernel enforces itself. */
	if (!isdigit((unsigned char)value[0]) || errno || *end || v < 68 || v > 65535)
		return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_MTU
				    ": \"%s\" is not an MTU (68-65535)", value);
	nc->mtu = (uint32_t)v;
	return 0;
}

static int parse_mac(const char *value, struct netns_config *nc, struct husk_err **err)
{
	unsigned int b[6];
	char tail;

	if (strlen(value) != 17 ||
	    sscanf(value, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_MAC
				    ": \"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", value);
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)value[3 * i]) ||
		    !isxdigit((unsigned char)value[3 * i + 1]))
			return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_MAC
					    ": \"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)",
					    value);
		nc->mac[i] = (uint8_t)b[i];
	}
	if (nc->mac[0] & 1)
		return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_MAC
				    ": \"%s\" is a multicast address", value);
	if (!(nc->mac[0] | nc->mac[1] | nc->mac[2] | nc->mac[3] | nc->mac[4] | nc->mac[5]))
		return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_MAC
				    ": \"%s\" is all zeros", value);
	nc->has_mac = true;
	return 0;
}

static int parse_bridge(const char *value, struct netns_config *nc, struct husk_err **err)
{
	size_t len = strlen(value);
	bool ok = len > 0 && len < NETNS_IFNAMSIZ && strcmp(value, ".") && strcmp(value, "..");

	for (const char *p = value; ok && *p; p++)
		ok = isgraph((unsigned char)*p) && *p != '/' && *p != ':';
	if (!ok)
		return husk_err_msg(err, EINVAL, "annotation " NETNS_ANN_BRIDGE
				    ": \"%s\" is not an interface name (1-15 characters, "
				    "no '/', ':' or spaces)", value);
	nc->bridge = xstrdup(value);
	return 0;
}

/* Non-empty value of annotation key, or NULL. */
static const char *ann(const struct oci_config *cfg, const char *key)
{
	const char *v = oci_annotation(cfg, key);

	return v && *v ? v : NULL;
}

static int check_known(const struct oci_config *cfg, struct husk_err **err)
{
	for (size_t i = 0; i < cfg->annotations.n; i++) {
		const char *key = cfg->annotations.items[i].key;
		bool known = false;

		if (!startswith(key, NETNS_ANN_PREFIX))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(known_keys); k++)
			known = known || streq(key, known_keys[k]);
		if (!known)
			return husk_err_msg(err, EINVAL, "annotation %s: unknown (known: bridge, "
					    "address, gateway, routes, mtu, mac)", key);
	}
	return 0;
}

int netns_config_parse(const struct oci_config *cfg, struct netns_config *out,
		       struct husk_err **err)
{
	struct netns_config nc = { 0 };
	const char *v;
	int r = check_known(cfg, err);

	/* Addresses first: gateways and routes check that an address of their family exists. */
	if (r == 0 && (v = ann(cfg, NETNS_ANN_ADDRESS)))
		r = parse_addresses(v, &nc, err);
	if (r == 0 && (v = ann(cfg, NETNS_ANN_GATEWAY)))
		r = parse_gateways(v, &nc, err);
	if (r == 0 && (v = ann(cfg, NETNS_ANN_ROUTES)))
		r = parse_routes(v, &nc, err);
	if (r == 0 && (v = ann(cfg, NETNS_ANN_MTU)))
		r = parse_mtu(v, &nc, err);
	if (r == 0 && (v = ann(cfg, NETNS_ANN_MAC)))
		r = parse_mac(v, &nc, err);
	if (r == 0 && (v = ann(cfg, NETNS_ANN_BRIDGE)))
		r = parse_bridge(v, &nc, err);
	if (r < 0) {
		netns_config_free(&nc);
		*out = (struct netns_config){ 0 };
		return r;
	}
	*out = nc;
	return 0;
}

bool netns_config_wanted(const struct netns_config *nc)
{
	return nc->bridge || nc->n_addrs || nc->n_routes || nc->mtu || nc->has_mac;
}

void netns_config_free(struct netns_config *nc)
{
	free(nc->bridge);
	free(nc->addrs);
	free(nc->routes);
	*nc = (struct netns_config){ 0 };
}

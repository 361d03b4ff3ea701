/* The rtnetlink socket (libmnl) with extended acks, the one request helper that sends,
 * receives and checks sequence numbers. */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "iface.h"
#include "nl.h"

static int open_route_socket(void *arg)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	return fd < 0 ? -errno : fd;
}

int nl_open(struct nl *nl, int netns_fd, struct husk_err **err)
{
	int one = 1, fd;

	*nl = (struct nl){ 0 };
	fd = netns_run_in(netns_fd, open_route_socket, NULL);
	if (fd < 0)
		return husk_err_set(err, -fd, "netns: open rtnetlink socket%s",
				    netns_fd >= 0 ? " in the container's namespace" : "");
	nl->sk = mnl_socket_fdopen(fd);
	if (!nl->sk) {
		int e = errno;

		close(fd);
		return husk_err_set(err, e, "netns: open rtnetlink socket");
	}
	/* Extended acks carry the kernel's own reason; capped acks skip echoing our request. */
	if (mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		nl_close(nl);
		return husk_err_set(err, e, "netns: set up rtnetlink socket");
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (uint32_t)getpid() << 8;
	nl->rbuf = xmalloc(NL_RECV_SIZE);
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl->rbuf);
	*nl = (struct nl){ 0 };
}

struct req_ctx {
	mnl_cb_t cb;
	void *data;
	int errnum;		/* the kernel's error, positive */
	char msg[256];		/* its extack message, "" if none */
};

/* The TLVs after a NLMSG_ERROR or NLMSG_DONE payload of `off` bytes (NLM_F_ACK_TLVS). */
static void read_extack(const struct nlmsghdr *nlh, size_t off, struct req_ctx *c)
{
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || mnl_nlmsg_size(off) > nlh->nlmsg_len)
		return;
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(c->msg, sizeof(c->msg), "%s", mnl_attr_get_str(a));
	}
}

static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *c = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;	/* the ack */
	/* Without NETLINK_CAP_ACK honoured, the whole request is echoed before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	c->errnum = -e->error;
	read_extack(nlh, off, c);
	errno = c->errnum;
	return MNL_CB_ERROR;
}

static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *c = data;
	int e = 0;

	/* A dump that failed midway reports its error here. */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int))
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	if (e >= 0)
		return MNL_CB_STOP;
	c->errnum = -e;
	read_extack(nlh, sizeof(int), c);
	errno = c->errnum;
	return MNL_CB_ERROR;
}

static int on_overrun(const struct nlmsghdr *nlh, void *data)
{
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int on_data(const struct nlmsghdr *nlh, void *data)
{
	struct req_ctx *c = data;

	return c->cb ? c->cb(nlh, c->data) : MNL_CB_OK;
}

/* Every control type below NLMSG_MIN_TYPE is listed: libmnl ignores a NULL slot. */
static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = on_error,
	[NLMSG_DONE] = on_done,
	[NLMSG_OVERRUN] = on_overrun,
};

int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
	       struct husk_err **err)
{
	struct req_ctx c = { .cb = cb, .data = data };
	ssize_t n;
	int r;

	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return husk_err_set(err, errno, "send to rtnetlink");
	do {
		n = mnl_socket_recvfrom(nl->sk, nl->rbuf, NL_RECV_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return husk_err_set(err, errno, "receive from rtnetlink");
		}
		r = mnl_cb_run2(nl->rbuf, (size_t)n, nlh->nlmsg_seq, nl->portid, on_data, &c,
				ctl_cbs, ARRAY_SIZE(ctl_cbs));
	} while (r > MNL_CB_STOP);
	if (r == MNL_CB_STOP)
		return 0;
	if (c.errnum && c.msg[0])
		return husk_err_msg(err, c.errnum, "%s: %s", c.msg, strerror(c.errnum));
	if (c.errnum)
		return husk_err_msg(err, c.errnum, "%s", strerror(c.errnum));
	/* libmnl's own checks: EPROTO for a foreign sequence number or port, EBADMSG, ENOSPC. */
	return husk_err_set(err, errno ? errno : EPROTO, "rtnetlink reply");
}

/* What needs no netlink: running a step inside another network namespace, and the two link
 * changes the init and the VM mode make, done with the interface ioctls every kernel has
 * (lo up in each new namespace; a tap device's MTU and up). Keeping them here keeps libmnl
 * out of the husk binary: only the husk-netns helper links it (helper.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "iface.h"
#include "netns.h"

struct in_netns {
	int netns_fd;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void *in_netns_thread(void *p)
{
	struct in_netns *t = p;

	/* Only this thread moves: a network namespace is per task, not per process. */
	if (setns(t->netns_fd, CLONE_NEWNET) < 0)
		t->ret = -errno;
	else
		t->ret = t->fn(t->arg);
	return NULL;
}

int netns_run_in(int netns_fd, int (*fn)(void *arg), void *arg)
{
	struct in_netns t = { .netns_fd = netns_fd, .fn = fn, .arg = arg, .ret = -EINVAL };
	pthread_t th;
	int r;

	if (netns_fd < 0)
		return fn(arg);
	r = pthread_create(&th, NULL, in_netns_thread, &t);
	if (r != 0)
		return -r;
	pthread_join(th, NULL);
	return t.ret;
}

static int open_inet_socket(void *arg)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* Set name's MTU (0: leave it) and bring it up, in the namespace the socket sk belongs to. */
static int iface_up(int sk, const char *name, uint32_t mtu, struct husk_err **err)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (mtu) {
		ifr.ifr_mtu = (int)mtu;
		if (ioctl(sk, SIOCSIFMTU, &ifr) < 0)
			return husk_err_set(err, errno, "netns: set the MTU of %s to %u", name, mtu);
	}
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return husk_err_set(err, errno, "netns: read the flags of %s", name);
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
		return husk_err_set(err, errno, "netns: bring %s up", name);
	return 0;
}

int netns_lo_up(struct husk_err **err)
{
	cleanup_close int sk = open_inet_socket(NULL);

	if (sk < 0)
		return husk_err_set(err, -sk, "netns: open a socket to bring lo up");
	return iface_up(sk, "lo", 0, err);
}

static int open_tun(void *arg)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int netns_tap_create(int netns_fd, const char *name, uint32_t mtu, struct husk_err **err)
{
	/* virtio 1.0 devices always use the 12-byte header (virtio_net_hdr_v1). */
	int hdr = (int)sizeof(struct virtio_net_hdr_v1);
	struct ifreq ifr = { 0 };
	int r;

	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
		return husk_err_msg(err, EINVAL, "netns: tap name `%s` is not 1-15 characters",
				    name);
	/* A tun device is created in the namespace its fd was opened in. */
	cleanup_close int fd = netns_run_in(netns_fd, open_tun, NULL);
	if (fd < 0)
		return husk_err_set(err, -fd, "netns: open `/dev/net/tun`");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return husk_err_set(err, errno, "netns: create tap %s", name);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return husk_err_set(err, errno, "netns: set the vnet header size of tap %s", name);
	cleanup_close int sk = netns_run_in(netns_fd, open_inet_socket, NULL);
	if (sk < 0)
		return husk_err_set(err, -sk, "netns: open a socket in the namespace of tap %s",
				    name);
	r = iface_up(sk, name, mtu, err);
	if (r < 0)
		return r;	/* closing fd removes the device: nothing is left */
	return TAKE_FD(fd);
}

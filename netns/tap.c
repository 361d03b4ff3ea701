/* Tap devices for the VM mode: /dev/net/tun opened inside the target namespace (a tun
 * device is created in the namespace its fd was opened in), then TUNSETIFF and link up. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "nl.h"

static int open_tun(void *arg)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int netns_tap_create(int netns_fd, const char *name, uint32_t mtu, struct husk_err **err)
{
	/* virtio 1.0 devices always use the 12-byte header (virtio_net_hdr_v1). */
	int hdr = (int)sizeof(struct virtio_net_hdr_v1);
	cleanup_nl struct nl nl = { 0 };
	struct netns_link_info li;
	struct ifreq ifr = { 0 };
	int r;

	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
		return husk_err_msg(err, EINVAL, "netns: tap name `%s` is not 1-15 characters",
				    name);
	cleanup_close int fd = nl_run_in_netns(netns_fd, open_tun, NULL);
	if (fd < 0)
		return husk_err_set(err, -fd, "netns: open `/dev/net/tun`");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return husk_err_set(err, errno, "netns: create tap %s", name);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return husk_err_set(err, errno, "netns: set the vnet header size of tap %s", name);
	r = nl_open(&nl, netns_fd, err);
	if (r == 0)
		r = netns_link_get(&nl, name, &li, err);
	if (r == 0)
		r = netns_link_set(&nl, li.ifindex, name, true, 0, mtu, NULL, err);
	if (r < 0)
		return r;	/* closing fd removes the device: nothing is left */
	return TAKE_FD(fd);
}

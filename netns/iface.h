/* netns internals without libmnl, shared by husk and the husk-netns helper. */
#pragma once

/* Run fn(arg) in a thread that first joins the network namespace netns_fd (-1: here); returns
 * what fn returned (>= 0 or -errno), or -errno if the thread could not join. For opening fds
 * (sockets, /dev/net/tun) that belong to the namespace they were opened in; the caller's own
 * namespace never changes. */
int netns_run_in(int netns_fd, int (*fn)(void *arg), void *arg);

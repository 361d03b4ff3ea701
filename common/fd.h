/* fd helpers: whole reads and writes, files relative to a dirfd, atomic replace. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* write(2) until done or error; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
/* Read a whole fd into a NUL-terminated buffer (*out, *len); returns 0 or -errno. */
int read_all(int fd, char **out, size_t *len);
/* Write `val` to the existing file `name` under dirfd (O_WRONLY|O_TRUNC). */
int fd_write_at(int dfd, const char *name, const char *val, struct husk_err **err);
/* Read the whole file `name` under dirfd. */
/* sendmsg buf with fd attached (SCM_RIGHTS): bytes sent (maybe short) or -errno. */
ssize_t fd_send(int sock, const void *buf, size_t len, int fd);
/* recvmsg into buf; *fd is the fd that came with it, or -1 (close-on-exec, the caller owns
 * it). Bytes received (0 at EOF) or -errno. */
ssize_t fd_recv(int sock, void *buf, size_t len, int *fd);
/* Write val to /proc/REL through an fd verified to be on procfs, found without crossing a
 * mount or following a magic link. */
int proc_write(const char *rel, const char *val, struct husk_err **err);
int fd_read_at(int dfd, const char *name, char **out, size_t *len, struct husk_err **err);
/* Replace `name` under dirfd atomically: write a temporary file, rename it over. */
int fd_write_atomic(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
		    struct husk_err **err);
/* Close every fd >= `from` except those listed in keep[0..nkeep). */
void fd_close_from(int from, const int *keep, size_t nkeep);
/* Make fd close-on-exec (set = 1) or inheritable (set = 0). */
int fd_set_cloexec(int fd, int set);

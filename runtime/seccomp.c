/* linux.seccomp through libseccomp: build the filter from the config and load it.
 * Unknown syscall names are skipped with a warning, as runc does. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/state.h"
#include "process.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

struct name_val {
	const char *name;
	uint64_t val;
};

static const struct name_val ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static const struct name_val arches[] = {
	{ "SCMP_ARCH_X86", SCMP_ARCH_X86 },	      { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X32", SCMP_ARCH_X32 },	      { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },   { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
	{ "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },     { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
	{ "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },     { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
	{ "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
	{ "SCMP_ARCH_PPC", SCMP_ARCH_PPC },	      { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
	{ "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },   { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
	{ "SCMP_ARCH_S390X", SCMP_ARCH_S390X },	      { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};

static int lookup(const struct name_val *t, size_t n, const char *name, uint64_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (streq(t[i].name, name)) {
			*out = t[i].val;
			return 0;
		}
	return -EINVAL;
}

static int action(const char *name, const struct oci_u64 *errno_ret, uint32_t *out)
{
	uint32_t eno = errno_ret->set ? (uint32_t)errno_ret->v : EPERM;

	if (streq(name, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (streq(name, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO(eno);
	else if (streq(name, "SCMP_ACT_KILL") || streq(name, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (streq(name, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (streq(name, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (streq(name, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE(eno);
	else if (streq(name, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else if (streq(name, "SCMP_ACT_NOTIFY"))
		*out = SCMP_ACT_NOTIFY;
	else
		return -EINVAL;
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct oci_syscall *s, size_t si, uint32_t act,
		    struct husk_err **err)
{
	struct scmp_arg_cmp cmp[6];
	size_t nargs = s->n_args < 6 ? s->n_args : 6;

	for (size_t a = 0; a < nargs; a++) {
		uint64_t op;

		if (lookup(ops, ARRAY_SIZE(ops), s->args[a].op, &op) < 0)
			return husk_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu].op: "
					    "unknown operator \"%s\"", si, a, s->args[a].op);
		cmp[a] = (struct scmp_arg_cmp){ s->args[a].index, (enum scmp_compare)op,
						s->args[a].value, s->args[a].value_two };
	}
	for (size_t i = 0; s->names && s->names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(s->names[i]);
		int r;

		if (nr == __NR_SCMP_ERROR) {
			log_warn("seccomp: unknown syscall \"%s\" skipped", s->names[i]);
			continue;
		}
		r = seccomp_rule_add_array(ctx, act, nr, (unsigned)nargs, cmp);
		/* Per the spec, args of one rule are ANDed; libseccomp refuses some forms
		 * (two conditions on one argument): fall back to one rule per condition. */
		if (r == -EINVAL && nargs > 1) {
			for (size_t a = 0; a < nargs && r < 0; a++)
				r = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[a]);
		}
		if (r < 0 && r != -EEXIST)
			return husk_err_set(err, -r, "linux.seccomp.syscalls[%zu]: add rule for %s",
					    si, s->names[i]);
	}
	return 0;
}

static int build(scmp_filter_ctx ctx, const struct oci_seccomp *sc, uint32_t def,
		 struct husk_err **err)
{
	for (size_t i = 0; sc->architectures && sc->architectures[i]; i++) {
		uint64_t arch;
		int r;

		if (lookup(arches, ARRAY_SIZE(arches), sc->architectures[i], &arch) < 0)
			return husk_err_msg(err, EINVAL, "linux.seccomp.architectures[%zu]: unknown "
					    "architecture \"%s\"", i, sc->architectures[i]);
		r = seccomp_arch_add(ctx, (uint32_t)arch);
		if (r < 0 && r != -EEXIST)
			return husk_err_set(err, -r, "linux.seccomp.architectures[%zu]", i);
	}
	for (size_t i = 0; sc->flags && sc->flags[i]; i++) {
		if (streq(sc->flags[i], "SECCOMP_FILTER_FLAG_LOG"))
			seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		else if (streq(sc->flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
		else if (streq(sc->flags[i], "SECCOMP_FILTER_FLAG_TSYNC"))
			seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	}
	for (size_t i = 0; i < sc->n_syscalls; i++) {
		const struct oci_syscall *s = &sc->syscalls[i];
		uint32_t act;
		int r;

		if (action(s->action, &s->errno_ret, &act) < 0)
			return husk_err_msg(err, EINVAL, "linux.seccomp.syscalls[%zu].action: "
					    "unsupported action \"%s\"", i, s->action);
		/* libseccomp refuses a rule that only repeats the default (EACCES); it would
		 * change nothing, so it is skipped, as runc does. */
		if (act == def)
			continue;
		r = add_rule(ctx, s, i, act, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool has_flag(const struct oci_seccomp *sc, const char *name)
{
	for (size_t i = 0; sc->flags && sc->flags[i]; i++)
		if (streq(sc->flags[i], name))
			return true;
	return false;
}

/* libseccomp 2.5 cannot ask for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (2.6 can): the filter it
 * built is exported as BPF and loaded here with the flags the config names. The flag only
 * means something with a listener (the kernel refuses it without NEW_LISTENER), so this path
 * serves NOTIFY filters; a kernel older than 5.19 gets the filter without it, with a warning.
 * Returns the notify fd or -errno with *err set. */
static int load_wait_killable(scmp_filter_ctx ctx, const struct oci_seccomp *sc,
			      struct husk_err **err)
{
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
	cleanup_close int mfd = memfd_create("husk-seccomp-bpf", MFD_CLOEXEC);
	cleanup_free struct sock_filter *insns = NULL;
	struct sock_fprog prog;
	off_t size;
	int r, fd;

	if (mfd < 0)
		return husk_err_set(err, errno, "linux.seccomp: memfd for the filter");
	r = seccomp_export_bpf(ctx, mfd);
	if (r < 0)
		return husk_err_set(err, -r, "linux.seccomp: export the filter");
	size = lseek(mfd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(*insns) || size > 65536 * (off_t)sizeof(*insns))
		return husk_err_msg(err, EINVAL, "linux.seccomp: exported filter of %lld bytes",
				    (long long)size);
	insns = xmalloc((size_t)size);
	if (pread(mfd, insns, (size_t)size, 0) != size)
		return husk_err_set(err, errno ? errno : EIO, "linux.seccomp: read the filter");
	prog = (struct sock_fprog){ .len = (unsigned short)(size / (off_t)sizeof(*insns)),
				    .filter = insns };
	if (has_flag(sc, "SECCOMP_FILTER_FLAG_LOG"))
		flags |= SECCOMP_FILTER_FLAG_LOG;
	if (has_flag(sc, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
		flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
	/* With a listener, TSYNC must report a failed sync as ESRCH (the fd is the result). */
	if (has_flag(sc, "SECCOMP_FILTER_FLAG_TSYNC"))
		flags |= SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  flags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
	if (fd < 0 && errno == EINVAL) {
		log_warn("linux.seccomp.flags: the kernel lacks "
			 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19); loading without it");
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	}
	if (fd < 0)
		return husk_err_set(err, errno, "linux.seccomp: load filter");
	return fd;	/* close-on-exec, as every listener fd */
}

bool seccomp_uses_notify(const struct oci_seccomp *sc)
{
	for (size_t i = 0; sc && i < sc->n_syscalls; i++)
		if (streq(sc->syscalls[i].action, "SCMP_ACT_NOTIFY"))
			return true;
	return false;
}

int seccomp_apply(const struct oci_seccomp *sc, int *notify_fd, struct husk_err **err)
{
	scmp_filter_ctx ctx;
	uint32_t def;
	int r;

	*notify_fd = -1;
	if (!sc)
		return 0;
	if (action(sc->default_action, &sc->default_errno_ret, &def) < 0)
		return husk_err_msg(err, EINVAL, "linux.seccomp.defaultAction: unsupported action "
				    "\"%s\"", sc->default_action);
	ctx = seccomp_init(def);
	if (!ctx)
		return husk_err_msg(err, ENOMEM, "linux.seccomp: seccomp_init failed");
	/* no_new_privs is ours to set (process.noNewPrivileges), not libseccomp's. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	r = build(ctx, sc, def, err);
	if (r == 0 && seccomp_uses_notify(sc) &&
	    has_flag(sc, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")) {
		r = load_wait_killable(ctx, sc, err);
		seccomp_release(ctx);
		if (r < 0)
			return r;
		*notify_fd = r;
		return 0;
	}
	if (r == 0) {
		r = seccomp_load(ctx);
		if (r < 0)
			r = husk_err_set(err, -r, "linux.seccomp: load filter");
	}
	/* libseccomp keeps the notify fd with the filter context: take a copy of our own. */
	if (r == 0 && seccomp_uses_notify(sc)) {
		int nfd = seccomp_notify_fd(ctx);

		*notify_fd = nfd >= 0 ? fcntl(nfd, F_DUPFD_CLOEXEC, 3) : -1;
		if (*notify_fd < 0)
			r = husk_err_set(err, nfd < 0 ? -nfd : errno,
					 "linux.seccomp: get the notify fd");
	}
	seccomp_release(ctx);
	return r;
}

int seccomp_send_listener(const struct oci_seccomp *sc, const struct husk_state *st,
			  const char *status, int pid, int notify_fd, struct husk_err **err)
{
	static const char *const fds[] = { "seccompFd", NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	cleanup_free char *json = NULL;
	size_t len;
	ssize_t n;

	if (strlen(sc->listener_path) >= sizeof(sa.sun_path))
		return husk_err_msg(err, ENAMETOOLONG, "linux.seccomp.listenerPath: `%s` is too "
				    "long for a unix socket", sc->listener_path);
	strcpy(sa.sun_path, sc->listener_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return husk_err_set(err, errno, "linux.seccomp.listenerPath: socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return husk_err_set(err, errno, "linux.seccomp.listenerPath: connect `%s`",
				    sc->listener_path);
	json = oci_process_state_json(st, status, pid, sc->listener_metadata, fds, &len);
	n = fd_send(fd, json, len, notify_fd);
	if (n < 0)
		return husk_err_set(err, (int)-n, "linux.seccomp.listenerPath: send to `%s`",
				    sc->listener_path);
	/* The rest of the state, if the first send was short; the fd went with byte one. */
	if ((size_t)n < len && write_all(fd, json + n, len - (size_t)n) < 0)
		return husk_err_set(err, EIO, "linux.seccomp.listenerPath: send to `%s`",
				    sc->listener_path);
	return 0;
}

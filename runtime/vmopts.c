/* `husk vm boot`'s options: argv to struct vmboot_opts, with the pure pieces (sizes, disks,
 * users, the kernel's version string, the kernel command line) apart for the unit tests. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "vm/agent/util.h"
#include "vm/kvm.h"
#include "vmboot.h"

#define MIN_MEMORY (16ULL << 20)
#define MAX_MEMORY (1ULL << 40)
#define MAX_TIMEOUT 86400

/* Boot fast and say nothing on the serial console but errors (console output is one VM exit
 * per byte): the tail of the console is kept only to explain a guest panic. panic=-1 and
 * reboot=k turn a panic into an immediate i8042 reset, which ends the VM. The i8042 has no
 * keyboard or mouse behind it, so the driver is told not to probe for them; the machine has
 * one UART; no_timer_check skips the IO-APIC timer test a virtual PIT does not need. */
static const char cmdline_base[] = "console=ttyS0 panic=-1 reboot=k no_timer_check "
				   "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd "
				   "8250.nr_uarts=1";
static const char cmdline_quiet[] = " quiet";
/* husk_debug=1 reaches the agent as an environment variable: it then narrates its steps. */
static const char cmdline_debug[] = " ignore_loglevel husk_debug=1";

int vmboot_parse_size(const char *s, uint64_t *out, struct husk_err **err)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
	unsigned shift = 0;
	uint64_t v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || *s == '-' || errno)
		goto bad;
	if (*end) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(units); i++)
			if ((*end & ~0x20) == units[i].suffix)
				break;
		if (i == ARRAY_SIZE(units) || end[1])
			goto bad;
		shift = units[i].shift;
	}
	if (v > (MAX_MEMORY >> shift))
		return husk_err_msg(err, EINVAL, "--memory: `%s` is more than 1T", s);
	v <<= shift;
	if (v < MIN_MEMORY)
		return husk_err_msg(err, EINVAL, "--memory: `%s` is less than 16M", s);
	if (v % 4096)
		return husk_err_msg(err, EINVAL, "--memory: `%s` is not a multiple of 4K", s);
	*out = v;
	return 0;
bad:
	return husk_err_msg(err, EINVAL,
			    "--memory: expected a size such as 256M, 1G or 524288K, got `%s`", s);
}

int vmboot_parse_disk(const char *s, struct vmboot_disk *d, struct husk_err **err)
{
	size_t n = strlen(s);

	*d = (struct vmboot_disk){ .path = s };
	if (n > 3 && streq(s + n - 3, ",ro")) {
		d->owned = xstrndup(s, n - 3);
		d->path = d->owned;
		d->ro = true;
	} else if (strchr(s, ',')) {
		return husk_err_msg(err, EINVAL, "--disk: expected IMG or IMG,ro, got `%s`", s);
	}
	if (!*d->path) {
		free(d->owned);
		d->owned = NULL;
		return husk_err_msg(err, EINVAL, "--disk: no image file in `%s`", s);
	}
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || *end || *s == '-' || *s == '+' || errno || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int vmboot_parse_user(const char *s, uint32_t *uid, uint32_t *gid, struct husk_err **err)
{
	const char *colon = strchr(s, ':');
	char buf[16];

	*gid = 0;
	if (colon && (size_t)(colon - s) < sizeof(buf)) {
		memcpy(buf, s, (size_t)(colon - s));
		buf[colon - s] = '\0';
		if (parse_u32(buf, uid) == 0 && parse_u32(colon + 1, gid) == 0)
			return 0;
	} else if (!colon && parse_u32(s, uid) == 0) {
		return 0;
	}
	return husk_err_msg(err, EINVAL, "--user: expected UID or UID:GID (numbers), got `%s`", s);
}

int vmboot_env_set(char ***env, const char *kv, struct husk_err **err)
{
	const char *eq = strchr(kv, '=');
	size_t klen, n = strv_len(*env);

	if (!eq || eq == kv)
		return husk_err_msg(err, EINVAL, "--env: expected KEY=VALUE, got `%s`", kv);
	klen = (size_t)(eq - kv) + 1;
	for (size_t i = 0; i < n; i++) {
		if (strncmp((*env)[i], kv, klen) == 0) {
			free((*env)[i]);
			(*env)[i] = xstrdup(kv);
			return 0;
		}
	}
	*env = xrealloc(*env, (n + 2) * sizeof(**env));
	(*env)[n] = xstrdup(kv);
	(*env)[n + 1] = NULL;
	return 0;
}

/* Linux boot protocol (Documentation/arch/x86/boot.rst): the setup header's "HdrS" at 0x202,
 * the protocol version at 0x206, and at 0x20E kernel_version, an offset minus 0x200 of a
 * NUL-terminated string whose first word is the release (`uname -r`). */
int vmboot_kernel_version(const uint8_t *img, size_t len, char *out, size_t cap,
			  struct husk_err **err)
{
	size_t off, n = 0;

	if (len < 0x210 || memcmp(img + 0x202, "HdrS", 4) != 0)
		return husk_err_msg(err, ENOEXEC, "not a bzImage (no Linux setup header)");
	off = (size_t)(img[0x20e] | img[0x20f] << 8);
	if (off == 0 || off + 0x200 >= len)
		return husk_err_msg(err, ENOEXEC, "the setup header has no kernel version string");
	off += 0x200;
	while (off + n < len && n + 1 < cap && img[off + n] > ' ' && img[off + n] < 0x7f)
		n++;
	if (n == 0 || n + 1 >= cap)
		return husk_err_msg(err, ENOEXEC, "the kernel version string is empty or too long");
	memcpy(out, img + off, n);
	out[n] = '\0';
	return 0;
}

char *vmboot_cmdline(bool debug_console, const char *extra)
{
	return xasprintf("%s%s%s%s", cmdline_base, debug_console ? cmdline_debug : cmdline_quiet,
			 extra && *extra ? " " : "", extra ? extra : "");
}

bool vmboot_root_ro(const struct vmboot_opts *o)
{
	const char *r = o->root;

	/* /dev/vdX is the X-th virtio-blk device: disks are added in the order given. */
	if (!startswith(r, "/dev/vd") || r[7] < 'a' || r[7] > 'z' || r[8])
		return false;
	return (unsigned)(r[7] - 'a') < o->ndisks && o->disks[r[7] - 'a'].ro;
}

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_MODULES, OPT_DISK, OPT_NET, OPT_CMDLINE, OPT_MEMORY,
	OPT_CPUS, OPT_ROOT, OPT_FSTYPE, OPT_CWD, OPT_ENV, OPT_USER, OPT_HOSTNAME, OPT_DEBUG_CONSOLE,
	OPT_TIMEOUT,
};

static const struct option boot_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "modules", required_argument, NULL, OPT_MODULES },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "rootfstype", required_argument, NULL, OPT_FSTYPE },
	{ "cwd", required_argument, NULL, OPT_CWD },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "user", required_argument, NULL, OPT_USER },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "debug-console", no_argument, NULL, OPT_DEBUG_CONSOLE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int parse_count(const char *opt, const char *s, unsigned max, unsigned *out,
		       struct husk_err **err)
{
	uint32_t v;

	if (parse_u32(s, &v) < 0 || v == 0 || v > max)
		return husk_err_msg(err, EINVAL, "%s: expected a number 1..%u, got `%s`", opt, max,
				    s);
	*out = v;
	return 0;
}

static int add_disk(struct vmboot_opts *o, const char *s, struct husk_err **err)
{
	if (o->ndisks == VMBOOT_MAX_DISKS)
		return husk_err_msg(err, EINVAL, "--disk: at most %d disks", VMBOOT_MAX_DISKS);
	if (vmboot_parse_disk(s, &o->disks[o->ndisks], err) < 0)
		return -EINVAL;
	o->ndisks++;
	return 0;
}

static void add_cmdline(struct vmboot_opts *o, const char *s)
{
	char *prev = o->cmdline_extra;

	o->cmdline_extra = prev ? xasprintf("%s %s", prev, s) : xstrdup(s);
	free(prev);
}

/* One option; 0 or -EINVAL with *err set. */
static int parse_one(struct vmboot_opts *o, int c, char **argv, struct husk_err **err)
{
	switch (c) {
	case OPT_KERNEL: o->kernel = optarg; return 0;
	case OPT_INITRD: o->initrd = optarg; return 0;
	case OPT_MODULES: o->modules = optarg; return 0;
	case OPT_DISK: return add_disk(o, optarg, err);
	case OPT_NET: o->net = optarg; return 0;
	case OPT_CMDLINE: add_cmdline(o, optarg); return 0;
	case OPT_MEMORY: return vmboot_parse_size(optarg, &o->mem_bytes, err);
	case OPT_CPUS: return parse_count("--cpus", optarg, VM_MAX_VCPUS, &o->cpus, err);
	case OPT_ROOT: o->root = optarg; return 0;
	case OPT_FSTYPE: o->rootfstype = optarg; return 0;
	case OPT_CWD: o->cwd = optarg; return 0;
	case OPT_ENV: return vmboot_env_set(&o->env, optarg, err);
	case OPT_USER: return vmboot_parse_user(optarg, &o->uid, &o->gid, err);
	case OPT_HOSTNAME: o->hostname = optarg; return 0;
	case OPT_DEBUG_CONSOLE: o->debug_console = true; return 0;
	case OPT_TIMEOUT: return parse_count("--timeout", optarg, MAX_TIMEOUT, &o->timeout_s, err);
	case 'h': o->help = true; return 0;
	case ':': return husk_err_msg(err, EINVAL, "option %s needs a value", argv[optind - 1]);
	default:
		return husk_err_msg(err, EINVAL, "unknown option %s (see husk vm boot --help)",
				    argv[optind - 1]);
	}
}

/* What no single option can check: the combination. */
static int check(const struct vmboot_opts *o, struct husk_err **err)
{
	if (!o->kernel)
		return husk_err_msg(err, EINVAL, "--kernel is required (a bzImage)");
	if (o->ndisks == 0)
		return husk_err_msg(err, EINVAL, "--disk is required: the process runs from a "
						 "root disk image");
	if (!o->args)
		return husk_err_msg(err, EINVAL, "no command: expected -- CMD [ARG...] after "
						 "the options");
	if (*o->cwd != '/')
		return husk_err_msg(err, EINVAL, "--cwd: `%s` is not an absolute path", o->cwd);
	if (!startswith(o->root, "/dev/"))
		return husk_err_msg(err, EINVAL, "--root: `%s` is not a /dev path", o->root);
	if (o->initrd && o->modules)
		return husk_err_msg(err, EINVAL, "--modules: not used with --initrd (the initrd "
						 "is used as given)");
	return 0;
}

int vmboot_parse(int argc, char **argv, struct vmboot_opts *o, struct husk_err **err)
{
	int c;

	*o = (struct vmboot_opts){ .mem_bytes = VMBOOT_DEFAULT_MEMORY, .cpus = 1,
				   .root = "/dev/vda", .rootfstype = "ext4", .cwd = "/",
				   .timeout_s = VMBOOT_DEFAULT_TIMEOUT };
	vmboot_env_set(&o->env, "PATH=" AGENT_DEFAULT_PATH, err);
	optind = 0;
	opterr = 0;
	/* '+': stop at the first non-option, so the command's own flags stay its own. */
	while ((c = getopt_long_only(argc, argv, "+:h", boot_opts, NULL)) != -1) {
		if (parse_one(o, c, argv, err) < 0)
			return -EINVAL;
		if (o->help)
			return 0;
	}
	if (optind < argc)
		o->args = argv + optind;
	return check(o, err) < 0 ? -EINVAL : 0;
}

void vmboot_opts_free(struct vmboot_opts *o)
{
	for (unsigned i = 0; i < o->ndisks; i++)
		free(o->disks[i].owned);
	free(o->cmdline_extra);
	strv_free(o->env);
	o->env = NULL;
	o->cmdline_extra = NULL;
	o->ndisks = 0;
}

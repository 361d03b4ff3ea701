/* vm: the light-VM commands. `vm boot` boots a kernel in a microVM and runs one process from
 * a disk image through the guest agent (runtime/vmboot.c); the runtime's VM mode builds on
 * it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "common/util.h"
#include "vmboot.h"

static const char vm_help[] =
	"usage: husk vm boot [options] -- COMMAND [ARG...]\n"
	"       husk vm initramfs --kernel FILE [--modules DIR] --output FILE\n\n"
	"Light-VM tools. Subcommands:\n"
	"  boot       boot a kernel in a microVM and run COMMAND from a disk image in it\n"
	"  initramfs  write the initramfs `boot` builds for a kernel (the guest agent as /init\n"
	"             and the modules it needs), e.g. to boot it with another VMM\n\n"
	"Run 'husk vm boot --help' for its options. See husk-vm(8).\n";

static const char initramfs_help[] =
	"usage: husk vm initramfs --kernel FILE [--modules DIR] --output FILE\n\n"
	"Write the initramfs that `husk vm boot` builds for this kernel: a newc cpio holding\n"
	"the guest agent as /init and the kernel modules it loads (with their dependencies).\n\n"
	"Options:\n"
	"  --kernel FILE    the kernel, a bzImage: its version picks the module tree (required)\n"
	"  --modules DIR    the kernel's module tree (default /lib/modules/VERSION, or\n"
	"                   ../lib/modules/VERSION next to the kernel)\n"
	"  --output FILE    where to write it (required)\n"
	"  -h, --help       show this help\n";

static const char boot_help[] =
	"usage: husk vm boot --kernel FILE --disk IMG[,ro] [options] -- COMMAND [ARG...]\n\n"
	"Boot a Linux kernel (a bzImage) in a microVM on /dev/kvm and run COMMAND in it: the\n"
	"guest agent mounts the first disk as the root and runs COMMAND with husk's stdin,\n"
	"stdout and stderr. husk exits with COMMAND's status (128+N for signal N).\n\n"
	"Options:\n"
	"  --kernel FILE        the kernel, a bzImage (required)\n"
	"  --initrd FILE        use this initramfs instead of building one (agent + modules)\n"
	"  --modules DIR        the kernel's module tree (default /lib/modules/VERSION, or\n"
	"                       ../lib/modules/VERSION next to the kernel)\n"
	"  --disk IMG[,ro]      a virtio-blk disk, /dev/vda first (repeatable, at least one)\n"
	"  --net TAP            a virtio-net device on this existing tap device\n"
	"  --cmdline ARGS       append to the kernel command line (repeatable)\n"
	"  --memory SIZE        guest RAM, e.g. 512M or 1G (default 256M)\n"
	"  --cpus N             vCPUs (default 1)\n"
	"  --root DEV           the root device in the guest (default /dev/vda)\n"
	"  --rootfstype TYPE    its file system (default ext4)\n"
	"  --cwd DIR            working directory of COMMAND (default /)\n"
	"  --env KEY=VALUE      set an environment variable (repeatable; PATH has a default)\n"
	"  --user UID[:GID]     run COMMAND as this user (default 0:0)\n"
	"  --hostname NAME      the guest's hostname\n"
	"  --timeout SECONDS    how long to wait for the guest agent (default 60)\n"
	"  --debug-console      the kernel's console (verbose) and the agent's log on stderr\n"
	"  -h, --help           show this help\n";

static int cmd_vm_boot(struct globals *g, int argc, char **argv)
{
	struct husk_err *err = NULL;
	struct vmboot_opts o;
	int status;

	if (vmboot_parse(argc, argv, &o, &err) < 0) {
		vmboot_opts_free(&o);
		husk_err_wrap(&err, "vm boot");
		return cmd_report(g, err);
	}
	if (o.help) {
		fputs(boot_help, stdout);
		vmboot_opts_free(&o);
		return 0;
	}
	/* argv[0] as husk was started (glibc keeps it): the agent may sit next to it. */
	status = vmboot_run(&o);
	vmboot_opts_free(&o);
	return status;
}

static int cmd_vm_initramfs(struct globals *g, int argc, char **argv)
{
	const char *kernel = NULL, *modules = NULL, *output = NULL;
	struct husk_err *err = NULL;

	for (int i = 1; i < argc; i++) {
		const char **slot = streq(argv[i], "--kernel")	? &kernel
				    : streq(argv[i], "--modules") ? &modules
				    : streq(argv[i], "--output")	? &output
								: NULL;

		if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			fputs(initramfs_help, stdout);
			return 0;
		}
		if (!slot)
			return cmd_fail(g, "vm initramfs: unknown argument \"%s\" (see husk vm "
					"initramfs --help)", argv[i]);
		if (i + 1 >= argc)
			return cmd_fail(g, "vm initramfs: %s needs a value", argv[i]);
		*slot = argv[++i];
	}
	if (!kernel || !output)
		return cmd_fail(g, "vm initramfs: %s is required", !kernel ? "--kernel" : "--output");
	if (vmboot_write_initramfs(kernel, modules, output, &err) < 0) {
		husk_err_wrap(&err, "vm initramfs");
		return cmd_report(g, err);
	}
	return 0;
}

int cmd_vm(struct globals *g, int argc, char **argv)
{
	if (argc < 2)
		return cmd_fail(g, "vm: missing subcommand (see husk vm --help)");
	if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "-help")) {
		fputs(vm_help, stdout);
		return 0;
	}
	if (streq(argv[1], "boot"))
		return cmd_vm_boot(g, argc - 1, argv + 1);
	if (streq(argv[1], "initramfs"))
		return cmd_vm_initramfs(g, argc - 1, argv + 1);
	return cmd_fail(g, "vm: unknown subcommand \"%s\" (see husk vm --help)", argv[1]);
}

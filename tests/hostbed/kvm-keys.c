/* hostbed-kvm-keys: holds (or, to reproduce the bed's lockups, flips) the two static keys of the
 * bed kernel's kvm.ko that change with every VM: apic_sw_disabled and apic_hw_disabled.
 *
 * Why: each key counts the local APICs that are software (or hardware) disabled. A new vCPU
 * starts software-disabled, so every VM that starts or stops takes apic_sw_disabled through
 * zero, and the kernel rewrites its jump sites (int3-based text_poke) in __apic_accept_irq and
 * ten other functions while other CPUs run them. Under qemu's multi-threaded TCG a CPU can go
 * on executing the transient int3 after the kernel has restored the byte: the int3 handler
 * (kprobes) finds no breakpoint there and rewinds, and the CPU spins on the int3 forever (a
 * soft lockup in __apic_accept_irq). Holding one disabled APIC of each kind for the bed's
 * lifetime keeps both counts above zero, so no VM patches kvm.ko's code again.
 *
 * usage: hostbed-kvm-keys hold        hold the keys until killed (in the bed: until it ends)
 *        hostbed-kvm-keys flip N      create and destroy a vCPU N times, 1.3 s apart: with
 *                                     no holder, each time flips apic_sw_disabled twice
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MSR_IA32_APICBASE 0x1b
#define APIC_DEFAULT_BASE 0xfee00000ULL
#define APICBASE_BSP (1ULL << 8)
#define FLIP_PERIOD_US 1300000 /* past kvm.ko's deferred (1 s) decrement */

struct kvm_fds {
	int kvm, vm, vcpu;
};

static void fds_close(struct kvm_fds *f)
{
	if (f->vcpu >= 0)
		close(f->vcpu);
	if (f->vm >= 0)
		close(f->vm);
	if (f->kvm >= 0)
		close(f->kvm);
	*f = (struct kvm_fds){ -1, -1, -1 };
}

static int fail(const char *what)
{
	fprintf(stderr, "hostbed-kvm-keys: %s: %s\n", what, strerror(errno));
	return -1;
}

/* A VM with the in-kernel irqchip and one vCPU: its APIC is software-disabled until a guest
 * enables it, which this vCPU never does because it never runs. With hw_off, the vCPU's
 * APIC base MSR is written without its enable bit: hardware-disabled too. */
static int vcpu_open(struct kvm_fds *f, bool hw_off)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = { .hdr.nmsrs = 1,
		   .e = { .index = MSR_IA32_APICBASE, .data = APIC_DEFAULT_BASE | APICBASE_BSP } };

	*f = (struct kvm_fds){ -1, -1, -1 };
	f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm < 0)
		return fail("open /dev/kvm");
	f->vm = ioctl(f->kvm, KVM_CREATE_VM, 0);
	if (f->vm < 0)
		return fail("KVM_CREATE_VM");
	if (ioctl(f->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail("KVM_CREATE_IRQCHIP");
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	if (hw_off && ioctl(f->vcpu, KVM_SET_MSRS, &msrs) != 1)
		return fail("KVM_SET_MSRS (APIC base, disabled)");
	return 0;
}

static int hold(void)
{
	struct kvm_fds f;
	sigset_t none;

	if (vcpu_open(&f, true) < 0) {
		fds_close(&f);
		return -1;
	}
	fprintf(stderr, "hostbed-kvm-keys: holding kvm.ko's apic_sw_disabled and "
			"apic_hw_disabled keys\n");
	sigemptyset(&none);
	for (;;)
		sigsuspend(&none);
}

static int flip(long n)
{
	for (long i = 0; i < n; i++) {
		struct kvm_fds f;
		int r = vcpu_open(&f, false);

		fds_close(&f);
		if (r < 0)
			return -1;
		usleep(FLIP_PERIOD_US);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	long n;

	if (argc == 2 && strcmp(argv[1], "hold") == 0)
		return hold() < 0 ? 1 : 0;
	if (argc == 3 && strcmp(argv[1], "flip") == 0) {
		n = strtol(argv[2], &end, 10);
		if (*end == '\0' && n > 0)
			return flip(n) < 0 ? 1 : 0;
	}
	fprintf(stderr, "usage: hostbed-kvm-keys hold | flip N\n");
	return 2;
}

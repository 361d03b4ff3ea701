/* vm: tiny hand-written guests (tests/unit/guests/guests.S) on this host's /dev/kvm, through
 * vm_run: UART output, PCI config reads, how the machine ends (poweroff, HLT, triple fault,
 * i8042 reset) and unclaimed MMIO. Each run has a timerfd as its stop fd, so a guest that
 * hangs ends the test with VM_EXIT_HOST instead of hanging it. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "tap.h"
#include "vm/vm.h"

#define GUEST(name)                                                                                \
	extern const uint8_t guest_##name##_start[], guest_##name##_end[];
GUEST(hello)
GUEST(pci)
GUEST(pci1)
GUEST(hlt)
GUEST(reset)
GUEST(triple)
GUEST(mmio)
GUEST(long)
GUEST(vq)

#define GUEST_MEM (2ULL << 20)
#define REAL_ADDR 0x1000
#define PROT_ADDR 0x100000
#define TIMEOUT_S 60

struct run {
	struct vm_config c;
	struct vm_result res;
	char out[256];
	long timeout_ms;	/* 0: TIMEOUT_S */
	int r;
};

static bool have_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("# SKIP needs /dev/kvm\n");
		return false;
	}
	close(fd);
	return true;
}

/* Run the guest between start and end at addr in mode; the UART output lands in run->out. */
static int run_guest(struct run *run, const uint8_t *start, const uint8_t *end, uint64_t addr,
		     enum boot_mode mode)
{
	cleanup_err struct husk_err *err = NULL;
	cleanup_close int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { .it_value = { .tv_sec = TIMEOUT_S } };
	int p[2];
	ssize_t n;

	if (run->timeout_ms)
		its.it_value = (struct timespec){ .tv_sec = run->timeout_ms / 1000,
						  .tv_nsec = run->timeout_ms % 1000 * 1000000 };
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 || pipe2(p, O_CLOEXEC) < 0)
		return -1;
	run->c.mem_bytes = run->c.mem_bytes ? run->c.mem_bytes : GUEST_MEM;
	run->c.serial_out_fd = p[1];
	run->c.stop_fd = tfd;
	run->c.flat = start;
	run->c.flat_len = (size_t)(end - start);
	run->c.flat_addr = addr;
	run->c.flat_mode = mode;
	run->r = vm_run(&run->c, &run->res, &err);
	close(p[1]);
	n = read(p[0], run->out, sizeof(run->out) - 1);
	close(p[0]);
	run->out[n > 0 ? n : 0] = '\0';
	if (run->r < 0)
		printf("# vm_run: %s\n", err->msg);
	else
		printf("# exit: %s%s%s, output \"%s\", %llu us to first entry, paging %s\n",
		       vm_exit_name(run->res.exit), run->res.detail[0] ? ": " : "",
		       run->res.detail, run->out, (unsigned long long)run->res.boot_ns / 1000,
		       run->res.paging);
	return run->r;
}

static void init(struct run *run)
{
	memset(run, 0, sizeof(*run));
	vm_config_init(&run->c);
}

static int test_hello(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_hello_start, guest_hello_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	CHECK_STREQ(run.out, "hello");
	CHECK(run.res.paging != NULL);
	return 0;
}

static int test_pci_host_bridge(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_pci_start, guest_pci_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	/* device 0x0d57, vendor 0x8086: vm/pci.c's host bridge */
	CHECK_STREQ(run.out, "0D578086");
	return 0;
}

static int test_hlt(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	run.c.no_irqchip = true;
	CHECK(run_guest(&run, guest_hlt_start, guest_hlt_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_HLT);
	return 0;
}

static int test_host_stop(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	run.timeout_ms = 200;	/* HLT with the in-kernel irqchip sleeps until kicked */
	CHECK(run_guest(&run, guest_hlt_start, guest_hlt_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_HOST);
	CHECK_STREQ(run.res.detail, "host request");
	return 0;
}

static int test_i8042_reset(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_reset_start, guest_reset_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_RESET);
	return 0;
}

static int test_triple_fault(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_triple_start, guest_triple_end, PROT_ADDR,
			BOOT_MODE_PROT32) == 0);
	CHECK(run.res.exit == VM_EXIT_SHUTDOWN);
	return 0;
}

static int test_mmio_unclaimed(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_mmio_start, guest_mmio_end, PROT_ADDR, BOOT_MODE_PROT32) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	CHECK_STREQ(run.out, "MFFFFFFFF");
	return 0;
}

static int test_long_mode(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	CHECK(run_guest(&run, guest_long_start, guest_long_end, PROT_ADDR, BOOT_MODE_LONG64) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	CHECK_STREQ(run.out, "641");
	return 0;
}

static int test_two_cpus(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	run.c.cpus = 2;		/* vCPU 1 waits for a SIPI that never comes; poweroff stops it */
	CHECK(run_guest(&run, guest_hello_start, guest_hello_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	CHECK_STREQ(run.out, "hello");
	return 0;
}

static int test_virtio_rng_ids(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	run.c.rng = true;
	CHECK(run_guest(&run, guest_pci1_start, guest_pci1_end, REAL_ADDR, BOOT_MODE_REAL) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	/* virtio 1.x modern ids: vendor 0x1af4, device 0x1040 + VIRTIO_ID_RNG */
	CHECK_STREQ(run.out, "10441AF4");
	return 0;
}

static int test_virtio_rng_roundtrip(void)
{
	struct run run;

	if (!have_kvm())
		return 77;
	init(&run);
	run.c.rng = true;
	CHECK(run_guest(&run, guest_vq_start, guest_vq_end, PROT_ADDR, BOOT_MODE_PROT32) == 0);
	CHECK(run.res.exit == VM_EXIT_POWEROFF);
	CHECK_STREQ(run.out, "00000010");	/* the device filled all 16 bytes */
	return 0;
}

static int test_bad_config(void)
{
	cleanup_err struct husk_err *err = NULL;
	struct vm_config c;
	struct vm_result res;

	if (!have_kvm())
		return 77;
	vm_config_init(&c);
	c.mem_bytes = GUEST_MEM;
	CHECK(vm_run(&c, &res, &err) == -EINVAL);	/* nothing to boot */
	CHECK_CONTAINS(err->msg, "neither a kernel");
	husk_err_free(TAKE_PTR(err));
	c.kernel_path = "/nonexistent/bzImage";
	CHECK(vm_run(&c, &res, &err) == -ENOENT);
	return 0;
}

static const struct test tests[] = {
	{ "uart: a real-mode guest prints hello, powers off through ACPI", test_hello },
	{ "pci: the guest reads the host bridge's ids through 0xCF8/0xCFC", test_pci_host_bridge },
	{ "exit: HLT without an irqchip ends the VM with halt", test_hlt },
	{ "exit: the stop fd stops a halted vCPU", test_host_stop },
	{ "exit: the i8042 reset command ends the VM with reset", test_i8042_reset },
	{ "exit: a triple fault ends the VM with shutdown", test_triple_fault },
	{ "mmio: an unclaimed access reads all ones and the VM goes on", test_mmio_unclaimed },
	{ "boot: a flat guest runs in long mode on the boot page tables", test_long_mode },
	{ "vcpu: a second vCPU waits and stops with the machine", test_two_cpus },
	{ "virtio: a guest reads virtio-rng's vendor/device ids", test_virtio_rng_ids },
	{ "virtio: a virtio-rng request goes round a virtqueue", test_virtio_rng_roundtrip },
	{ "vm_run: configs that cannot boot fail with an error", test_bad_config },
};
TAP_MAIN(tests)

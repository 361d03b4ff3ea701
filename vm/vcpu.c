/* vCPUs: creation with their kvm_run mapping, CPUID and boot MSRs, one KVM_RUN thread each
 * dispatching exits through a static table, and stopping them all. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <asm/kvm_para.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/util.h"
#include "vm/kvm.h"

/* The signal that kicks a vCPU thread out of KVM_RUN; its handler does nothing, the
 * interrupted ioctl returns EINTR and kvm_run->immediate_exit keeps it from re-entering. */
#define SIG_KICK SIGRTMIN

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC 0x10

static const char *const exit_names[] = {
	[VM_EXIT_NONE] = "running",	  [VM_EXIT_POWEROFF] = "poweroff",
	[VM_EXIT_RESET] = "reset",	  [VM_EXIT_SHUTDOWN] = "shutdown (triple fault)",
	[VM_EXIT_HLT] = "halt",		  [VM_EXIT_PANIC] = "guest panic",
	[VM_EXIT_INTERNAL] = "internal error", [VM_EXIT_HOST] = "stopped by the host",
};

const char *vm_exit_name(enum vm_exit e)
{
	if ((unsigned)e >= ARRAY_SIZE(exit_names))
		return "?";
	return exit_names[e];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- CPUID ---- */

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaves 0xB and 0x1F: one thread per core, ncpus cores in one package. */
static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus)
{
	e->edx = id;
	if (e->index == 0) {
		e->eax = 0;
		e->ebx = 1;
		e->ecx = 0x100;		/* level 0, type SMT */
	} else if (e->index == 1) {
		e->eax = bits_for(ncpus);
		e->ebx = ncpus;
		e->ecx = 0x201;		/* level 1, type core */
	} else {
		e->eax = e->ebx = 0;
		e->ecx = e->index;	/* type invalid ends the enumeration */
	}
}

void kvm_cpuid_fixup(struct kvm_cpuid_entry2 *e, unsigned n, unsigned id, unsigned ncpus)
{
	static const char kvm_sig[12] = KVM_SIGNATURE;

	for (unsigned i = 0; i < n; i++) {
		switch (e[i].function) {
		case 1:
			/* Initial APIC id and logical count; the guest is virtualised. */
			e[i].ebx = (e[i].ebx & 0xffff) | (id << 24) | ((ncpus & 0xff) << 16);
			e[i].ecx |= 1u << 31;
			if (ncpus > 1)
				e[i].edx |= 1u << 28;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(&e[i], id, ncpus);
			break;
		case KVM_CPUID_SIGNATURE:
			/* "KVMKVMKVM\0\0\0": Linux turns on kvmclock and PV features. */
			e[i].eax = KVM_CPUID_FEATURES;
			memcpy(&e[i].ebx, &kvm_sig[0], 4);
			memcpy(&e[i].ecx, &kvm_sig[4], 4);
			memcpy(&e[i].edx, &kvm_sig[8], 4);
			break;
		}
	}
}

static struct kvm_cpuid2 *supported_cpuid(struct vm_kvm *k, struct husk_err **err)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = xcalloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		struct husk_err *e = NULL;

		c->nent = nent;
		if (VM_IOCTL(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c, &e) >= 0)
			return c;
		free(c);
		if (e->code != E2BIG) {
			*err = e;
			return NULL;
		}
		husk_err_free(e);
	}
	husk_err_msg(err, E2BIG, "kvm: KVM_GET_SUPPORTED_CPUID: too many entries");
	return NULL;
}

/* ---- vCPU set-up ---- */

/* What Linux expects at boot: SYSCALL/SYSENTER MSRs cleared, fast strings on, MTRRs
 * enabled with write-back as the default type. An MSR KVM refuses is logged and skipped. */
static int set_boot_msrs(struct vm_vcpu *v, struct husk_err **err)
{
	static const struct kvm_msr_entry boot[] = {
		{ .index = MSR_IA32_SYSENTER_CS }, { .index = MSR_IA32_SYSENTER_ESP },
		{ .index = MSR_IA32_SYSENTER_EIP }, { .index = MSR_STAR },
		{ .index = MSR_CSTAR },		   { .index = MSR_KERNEL_GS_BASE },
		{ .index = MSR_SYSCALL_MASK },	   { .index = MSR_LSTAR },
		{ .index = MSR_IA32_TSC },	   { .index = MSR_IA32_MISC_ENABLE, .data = 1 },
		{ .index = MSR_MTRR_DEF_TYPE, .data = (1 << 11) | 6 },
	};
	cleanup_free struct kvm_msrs *m = xcalloc(1, sizeof(*m) + sizeof(boot));

	for (size_t done = 0; done < ARRAY_SIZE(boot);) {
		int r;

		m->nmsrs = (uint32_t)(ARRAY_SIZE(boot) - done);
		memcpy(m->entries, boot + done, m->nmsrs * sizeof(boot[0]));
		r = VM_IOCTL(v->fd, KVM_SET_MSRS, m, err);
		if (r < 0)
			return r;
		done += (size_t)r;
		if (done < ARRAY_SIZE(boot)) {
			log_debug("kvm: vcpu %u: MSR %#x refused", v->id, boot[done].index);
			done++;
		}
	}
	return 0;
}

static int vcpu_create(struct vm_kvm *k, struct vm_vcpu *v, const struct kvm_cpuid2 *sup,
		       struct husk_err **err)
{
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	cleanup_free struct kvm_cpuid2 *c = xmalloc(sz);
	int r;

	r = VM_IOCTL_VAL(k->vm_fd, KVM_CREATE_VCPU, v->id, err);
	if (r < 0)
		return r;
	v->fd = r;
	v->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return husk_err_set(err, errno, "kvm: map kvm_run of vcpu %u", v->id);
	}
	memcpy(c, sup, sz);
	kvm_cpuid_fixup(c->entries, c->nent, v->id, k->ncpus);
	r = VM_IOCTL(v->fd, KVM_SET_CPUID2, c, err);
	if (r < 0)
		return r;
	return set_boot_msrs(v, err);
}

int kvm_create_vcpus(struct vm_kvm *k, unsigned n, struct husk_err **err)
{
	cleanup_free struct kvm_cpuid2 *sup = NULL;
	int r;

	if (n == 0 || n > VM_MAX_VCPUS)
		return husk_err_msg(err, EINVAL, "kvm: %u vCPUs (1 to %d)", n, VM_MAX_VCPUS);
	sup = supported_cpuid(k, err);
	if (!sup)
		return -(*err)->code;
	for (unsigned i = 0; i < n; i++) {
		k->vcpu[i] = (struct vm_vcpu){ .k = k, .id = i, .fd = -1 };
		k->ncpus = n;
	}
	for (unsigned i = 0; i < n; i++) {
		r = vcpu_create(k, &k->vcpu[i], sup, err);
		if (r < 0)
			return husk_err_wrap(err, "kvm: create vcpu %u", i);
	}
	return 0;
}

/* ---- the run loop ---- */

static void io_exit_log(const char *bus, uint64_t addr, uint32_t len, bool is_write)
{
	log_debug("kvm: unclaimed %s %s at %#llx (%u bytes)", bus, is_write ? "write" : "read",
		  (unsigned long long)addr, len);
}

static enum vm_exit exit_io(struct vm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep ins/outs) comes as `count` accesses in a row. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		if (!bus_access(&v->k->pio, run->io.port, data, run->io.size, wr))
			io_exit_log("port", run->io.port, run->io.size, wr);
	return VM_EXIT_NONE;
}

static enum vm_exit exit_mmio(struct vm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len > 8 ? 8 : run->mmio.len;

	/* An access nothing claims reads as all ones and is dropped: never fatal. */
	if (!bus_access(&v->k->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write))
		io_exit_log("MMIO", run->mmio.phys_addr, len, run->mmio.is_write);
	return VM_EXIT_NONE;
}

static enum vm_exit exit_hlt(struct vm_vcpu *v)
{
	return VM_EXIT_HLT;
}

static enum vm_exit exit_shutdown(struct vm_vcpu *v)
{
	return VM_EXIT_SHUTDOWN;
}

static enum vm_exit exit_intr(struct vm_vcpu *v)
{
	return VM_EXIT_NONE;		/* kicked: the loop checks whether to stop */
}

static enum vm_exit exit_system_event(struct vm_vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return VM_EXIT_POWEROFF;
	case KVM_SYSTEM_EVENT_RESET:
		return VM_EXIT_RESET;
	case KVM_SYSTEM_EVENT_CRASH:
		return VM_EXIT_PANIC;
	}
	log_warn("kvm: vcpu %u: system event %u", v->id, v->run->system_event.type);
	return VM_EXIT_INTERNAL;
}

static enum vm_exit exit_fail_entry(struct vm_vcpu *v)
{
	char d[96];

	snprintf(d, sizeof(d), "vcpu %u: entry failed, hardware reason %#llx", v->id,
		 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	kvm_stop(v->k, VM_EXIT_INTERNAL, d);
	return VM_EXIT_INTERNAL;
}

static enum vm_exit exit_internal(struct vm_vcpu *v)
{
	char d[96];

	snprintf(d, sizeof(d), "vcpu %u: KVM internal error, suberror %u", v->id,
		 v->run->internal.suberror);
	kvm_stop(v->k, VM_EXIT_INTERNAL, d);
	return VM_EXIT_INTERNAL;
}

typedef enum vm_exit (*exit_fn)(struct vm_vcpu *v);

static const exit_fn exit_table[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_INTR] = exit_intr,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal,
};

static enum vm_exit run_once(struct vm_vcpu *v)
{
	uint32_t reason;
	char d[64];

	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return VM_EXIT_NONE;
		snprintf(d, sizeof(d), "vcpu %u: KVM_RUN: %s", v->id, strerror(errno));
		kvm_stop(v->k, VM_EXIT_HOST, d);
		return VM_EXIT_HOST;
	}
	reason = v->run->exit_reason;
	if (reason < ARRAY_SIZE(exit_table) && exit_table[reason])
		return exit_table[reason](v);
	snprintf(d, sizeof(d), "vcpu %u: unexpected exit reason %u", v->id, reason);
	kvm_stop(v->k, VM_EXIT_INTERNAL, d);
	return VM_EXIT_INTERNAL;
}

static void *vcpu_thread(void *arg)
{
	struct vm_vcpu *v = arg;
	struct vm_kvm *k = v->k;
	uint64_t zero = 0;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	atomic_compare_exchange_strong(&k->first_entry_ns, &zero, now_ns());
	while (atomic_load(&k->exit) == VM_EXIT_NONE) {
		enum vm_exit e = run_once(v);

		if (e != VM_EXIT_NONE)
			kvm_stop(k, e, NULL);
	}
	return NULL;
}

static void kick_handler(int sig)
{
}

int kvm_start(struct vm_kvm *k, struct husk_err **err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t kick, old;
	int r = 0;

	/* No SA_RESTART: the kick must interrupt KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIG_KICK, &sa, NULL) < 0)
		return husk_err_set(err, errno, "kvm: install the vCPU kick handler");
	/* Threads start with the kick blocked and unblock it themselves, so none is kicked
	 * before it has its handler context. */
	sigemptyset(&kick);
	sigaddset(&kick, SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &kick, &old);
	for (unsigned i = 0; i < k->ncpus && r == 0; i++) {
		r = -pthread_create(&k->vcpu[i].thread, NULL, vcpu_thread, &k->vcpu[i]);
		if (r == 0)
			k->vcpu[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		kvm_stop(k, VM_EXIT_HOST, "could not start every vCPU");
		kvm_wait(k);
		return husk_err_set(err, -r, "kvm: start vCPU threads");
	}
	return 0;
}

void kvm_stop(struct vm_kvm *k, enum vm_exit why, const char *detail)
{
	int none = VM_EXIT_NONE;

	pthread_mutex_lock(&k->lock);
	if (atomic_compare_exchange_strong(&k->exit, &none, (int)why)) {
		snprintf(k->exit_detail, sizeof(k->exit_detail), "%s", detail ? detail : "");
		log_debug("kvm: stopping: %s%s%s", vm_exit_name(why), detail ? ": " : "",
			  detail ? detail : "");
	}
	pthread_mutex_unlock(&k->lock);
	for (unsigned i = 0; i < k->ncpus; i++) {
		struct vm_vcpu *v = &k->vcpu[i];

		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, SIG_KICK);
	}
}

enum vm_exit kvm_wait(struct vm_kvm *k)
{
	for (unsigned i = 0; i < k->ncpus; i++) {
		if (!k->vcpu[i].started)
			continue;
		pthread_join(k->vcpu[i].thread, NULL);
		k->vcpu[i].started = false;
	}
	return (enum vm_exit)atomic_load(&k->exit);
}

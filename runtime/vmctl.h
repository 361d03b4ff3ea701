/* `husk vm boot`'s state shared by vmboot.c (the machine) and vmctl.c (the main thread's talk
 * with the guest agent on "husk.ctl"). Internal to those two files. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/agent/proto.h"
#include "vm/vm.h"
#include "vmboot.h"

/* The virtio-console ports, in the order the device numbers them. */
enum { VMPORT_CONSOLE, VMPORT_CTL, VMPORT_STDIN, VMPORT_STDOUT, VMPORT_STDERR, VMPORT_COUNT };

#define VMBOOT_TAIL 4096 /* bytes of serial console kept to explain a guest crash */

struct vmboot {
	const struct vmboot_opts *o;
	char kver[128];
	char *moddir;		/* NULL: no module tree was found */
	uint8_t *initrd;	/* built in memory unless --initrd */
	size_t initrd_len;
	char *cmdline;

	struct vm_config cfg;
	struct vm_disk disks[VMBOOT_MAX_DISKS];
	struct virtio_console_port ports[VMPORT_COUNT];
	int ctl[2];		/* [0] ours, [1] behind the husk.ctl port */
	int stop[2];		/* a byte on [1] stops the VM (its stop_fd is [0]) */
	int serial[2];		/* the guest's serial output, unless --debug-console */
	int done[2];		/* the VM thread writes a byte on [1] when vm_run returned */
	int stdin_fd, stdin_pipe, tap_fd, sfd;

	pthread_t thread;
	bool thread_started;
	int vm_r;		/* vm_run's result */
	struct husk_err *vm_err;
	struct vm_result res;

	uint64_t t0, t_hello, t_exit;	/* CLOCK_MONOTONIC ns */
	bool stop_sent, hello, exited, timed_out;
	int stop_signal;	/* a signal that stopped the VM before the process ran */
	int failed;		/* a protocol failure was reported: exit 1 */
	struct agent_exit ex;
	struct agent_reader rd;

	char tail[VMBOOT_TAIL];	/* ring of the last serial bytes */
	size_t tail_pos;
	bool tail_full;
};

uint64_t vmctl_now_ns(void);
/* Block the signals husk forwards to the process and open b->sfd for them. */
int vmctl_signals(struct vmboot *b, struct husk_err **err);
/* Ask the VM to stop (once). */
void vmctl_stop(struct vmboot *b);
/* The main thread's loop, from the VM's start until vm_run returned: HELLO (within the
 * timeout), RUN, signals as SIGNAL, ERROR printed, EXIT, then the power-off. Returns the exit
 * status of `husk vm boot`. */
int vmctl_drive(struct vmboot *b);

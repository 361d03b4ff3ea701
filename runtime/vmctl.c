/* `husk vm boot`, the main thread while the VM runs: wait for the agent's HELLO, send RUN,
 * forward signals, print the agent's errors, take its EXIT, then wait for the power-off and
 * turn how the guest ended into husk's exit status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "vmctl.h"

/* Forwarded to the process once it runs. */
static const int fwd_signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

#define TAIL_LINES 15

uint64_t vmctl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vmctl_signals(struct vmboot *b, struct husk_err **err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(fwd_signals); i++)
		sigaddset(&set, fwd_signals[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	b->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b->sfd < 0)
		return husk_err_set(err, errno, "vm: signalfd");
	return 0;
}

void vmctl_stop(struct vmboot *b)
{
	char x = 1;

	if (b->stop_sent)
		return;
	b->stop_sent = true;
	if (write(b->stop[1], &x, 1) < 0)
		log_warn("vm: ask the VM to stop: %m");
}

/* ---- the serial console's tail ---- */

static void drain_serial(struct vmboot *b)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(b->serial[0], buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			b->tail[b->tail_pos++] = buf[i];
			if (b->tail_pos == sizeof(b->tail)) {
				b->tail_pos = 0;
				b->tail_full = true;
			}
		}
	}
}

/* Log the last lines the guest wrote on its serial console. */
static void print_tail(struct vmboot *b)
{
	char text[VMBOOT_TAIL + 1], *line, *save = NULL;
	size_t len = 0, skip = 0;
	int nl = 0;

	if (b->tail_full) {
		len = sizeof(b->tail) - b->tail_pos;
		memcpy(text, b->tail + b->tail_pos, len);
	}
	memcpy(text + len, b->tail, b->tail_pos);
	len += b->tail_pos;
	text[len] = '\0';
	for (size_t i = len; i-- > 0;)
		if (text[i] == '\n' && ++nl > TAIL_LINES) {
			skip = i + 1;
			break;
		}
	if (skip == len)
		return;
	log_error("vm: the guest's last console lines:");
	for (line = strtok_r(text + skip, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		log_error("vm: console: %s", line);
}

/* ---- the agent's messages ---- */

static int send_run(struct vmboot *b)
{
	const struct vmboot_opts *o = b->o;
	struct agent_msg m = {
		.type = AGENT_MSG_RUN,
		.run = { .flags = vmboot_root_ro(o) ? AGENT_RUN_ROOT_RO : 0, .uid = o->uid,
			 .gid = o->gid, .args = o->args, .env = o->env, .cwd = (char *)o->cwd,
			 .hostname = (char *)(o->hostname ? o->hostname : ""),
			 .root_dev = (char *)o->root, .root_fstype = (char *)o->rootfstype },
	};
	int r = agent_msg_send(b->ctl[0], &m);

	if (r < 0)
		log_error("vm: send RUN to the guest agent: %s", strerror(-r));
	return r;
}

static void on_hello(struct vmboot *b, const struct agent_hello *h)
{
	if (b->hello)
		return;
	b->hello = true;
	b->t_hello = vmctl_now_ns();
	log_debug("vm: agent %s says HELLO, protocol %u", h->agent_version, h->proto_version);
	if (b->stop_sent)
		return; /* too late: the timeout or a signal is stopping the VM */
	if (h->proto_version != AGENT_PROTO_VERSION) {
		log_error("vm: the guest agent speaks protocol %u, this husk %u", h->proto_version,
			  AGENT_PROTO_VERSION);
		b->failed = 1;
	} else if (send_run(b) < 0) {
		b->failed = 1;
	}
	if (b->failed)
		vmctl_stop(b);
}

static void on_msg(struct vmboot *b, const struct agent_msg *m)
{
	switch (m->type) {
	case AGENT_MSG_HELLO:
		on_hello(b, &m->hello);
		return;
	case AGENT_MSG_ERROR:
		log_error("vm: %s", m->error);
		return;
	case AGENT_MSG_EXIT:
		if (b->exited)
			return;
		b->exited = true;
		b->ex = m->exit;
		b->t_exit = vmctl_now_ns();
		log_debug("vm: the process %s %u", m->exit.kind == AGENT_EXIT_SIGNAL ?
			  "was killed by signal" : "exited with", m->exit.value);
		return;
	default:
		log_debug("vm: ignoring %s from the agent", agent_msg_type_name(m->type));
	}
}

/* The ctl socket is readable. Returns false once it is at its end. */
static bool read_ctl(struct vmboot *b)
{
	struct agent_msg m;
	ssize_t n = agent_reader_fill(&b->rd, b->ctl[0]);
	int r;

	if (n == -EINTR || n == -EAGAIN)
		return true;
	while ((r = agent_reader_next(&b->rd, &m)) > 0) {
		on_msg(b, &m);
		agent_msg_free(&m);
	}
	if (r < 0) {
		log_error("vm: bad message from the guest agent: %s", strerror(-r));
		b->failed = 1;
		vmctl_stop(b);
		return false;
	}
	return n > 0;
}

static void on_signal(struct vmboot *b)
{
	struct signalfd_siginfo si;

	while (read(b->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct agent_msg m = { .type = AGENT_MSG_SIGNAL, .signo = si.ssi_signo };

		if (b->exited || b->stop_sent)
			continue;
		if (!b->hello || b->failed) {
			/* No process yet: the signal is for husk, which stops the VM. */
			b->stop_signal = (int)si.ssi_signo;
			vmctl_stop(b);
		} else if (agent_msg_send(b->ctl[0], &m) < 0) {
			log_warn("vm: forward signal %u to the guest", si.ssi_signo);
		}
	}
}

/* ---- the loop ---- */

/* Milliseconds until the current phase's deadline, -1 for none, 0 when it has passed (and
 * then what is due is done). */
static int next_timeout(struct vmboot *b)
{
	uint64_t now = vmctl_now_ns(), deadline;

	if (b->stop_sent || (b->hello && !b->exited))
		return -1;
	if (b->exited)
		deadline = b->t_exit + VMBOOT_POWEROFF_GRACE_MS * 1000000ULL;
	else
		deadline = b->t0 + b->o->timeout_s * 1000000000ULL;
	if (now < deadline)
		return (int)((deadline - now + 999999) / 1000000);
	if (b->exited) {
		log_debug("vm: the guest did not power off within %d ms; stopping it",
			  VMBOOT_POWEROFF_GRACE_MS);
	} else {
		b->timed_out = true;
	}
	vmctl_stop(b);
	return -1;
}

static void wait_vm(struct vmboot *b)
{
	enum { P_DONE, P_CTL, P_SIG, P_SERIAL, P_N };
	struct pollfd p[P_N] = {
		[P_DONE] = { b->done[0], POLLIN, 0 }, [P_CTL] = { b->ctl[0], POLLIN, 0 },
		[P_SIG] = { b->sfd, POLLIN, 0 }, [P_SERIAL] = { b->serial[0], POLLIN, 0 },
	};

	for (;;) {
		int timeout = next_timeout(b);

		if (poll(p, P_N, timeout) < 0 && errno != EINTR) {
			log_error("vm: poll: %m");
			vmctl_stop(b);
			usleep(100000); /* keep waiting for the VM thread, without spinning */
		}
		if (p[P_SERIAL].revents)
			drain_serial(b);
		if (p[P_CTL].revents && !read_ctl(b))
			p[P_CTL].fd = -1;
		if (p[P_SIG].revents)
			on_signal(b);
		if (p[P_DONE].revents)
			break;
	}
	if (b->serial[0] >= 0)
		drain_serial(b);
	/* What the agent wrote just before the end may still be unread. */
	if (p[P_CTL].fd >= 0)
		while (poll(&p[P_CTL], 1, 0) > 0 && read_ctl(b))
			;
}

static double ms_since(uint64_t t0, uint64_t t)
{
	return t > t0 ? (double)(t - t0) / 1e6 : 0;
}

static void report(struct vmboot *b)
{
	char hello[32] = "-", exit[32] = "-";

	if (b->hello)
		snprintf(hello, sizeof(hello), "%.1f ms", ms_since(b->t0, b->t_hello));
	if (b->exited)
		snprintf(exit, sizeof(exit), "%.1f ms", ms_since(b->t0, b->t_exit));
	log_debug("vm: boot report: %s paging, first vCPU entry after %.1f ms, HELLO after %s, "
		  "EXIT after %s, the VM ended with %s", b->res.paging ? b->res.paging : "unknown",
		  (double)b->res.boot_ns / 1e6, hello, exit, vm_exit_name(b->res.exit));
}

/* The VM ended before the process's EXIT: say how. */
static int ended_early(struct vmboot *b)
{
	switch (b->res.exit) {
	case VM_EXIT_POWEROFF:
		log_error("vm: the guest powered off before the process exited");
		break;
	case VM_EXIT_RESET:
	case VM_EXIT_SHUTDOWN:
	case VM_EXIT_PANIC:
		log_error("vm: guest rebooted or panicked before the process exited (%s)",
			  vm_exit_name(b->res.exit));
		break;
	default:
		log_error("vm: the VM stopped before the process exited: %s%s%s",
			  vm_exit_name(b->res.exit), *b->res.detail ? ": " : "", b->res.detail);
	}
	print_tail(b);
	return 1;
}

int vmctl_drive(struct vmboot *b)
{
	wait_vm(b);
	if (b->vm_r < 0) {
		log_error("%s", b->vm_err ? b->vm_err->msg : "vm: the VM could not start");
		return 1;
	}
	report(b);
	if (b->exited)
		return b->ex.kind == AGENT_EXIT_SIGNAL ? 128 + (int)b->ex.value : (int)b->ex.value;
	if (b->failed)
		return 1;
	if (b->stop_signal)
		return 128 + b->stop_signal;
	if (b->timed_out) {
		log_error("vm: no answer from the guest agent within %u s%s", b->o->timeout_s,
			  b->moddir || b->o->initrd ? "" : " (no module tree was found for the "
			  "kernel: give --modules if its virtio drivers are modules)");
		print_tail(b);
		return 1;
	}
	return ended_early(b);
}

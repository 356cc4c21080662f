/* Stepping over a breakpoint that has no out-of-line copy (--engine step),
 * the process's other threads held meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "suggest.h"
#include "tracer.h"
#include "util.h"

/* A thread of the program stopped while another one is stepped. */
struct held {
	pid_t tid;
	bool group_stop; /* goes on listening, not running */
};

/* Whether thread TID cannot run now: stopped already (its stop may be
 * taken by a caller up the stack, so an interrupt would never be
 * reported), or blocked in the kernel where an interrupt cannot reach
 * it. It runs no code of its own until we or the kernel let it. */
static bool is_blocked(pid_t tid)
{
	char path[64], buf[256], *paren;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'R' && paren[2] != 'S';
}

/* Whether threads A and B run in the same memory: one process, or a
 * vfork child and its parent. */
static bool same_memory(const struct thread *a, const struct thread *b)
{
	return a->proc == b->proc ||
	       (a->proc->image && a->proc->image == b->proc->image &&
		(a->proc->borrowed || b->proc->borrowed));
}

/* Stops every other running thread in TH's memory, so that none runs
 * past the breakpoint while its int3 is out; returns them in *HELD. A
 * thread that stops for another reason first is queued, its stop
 * handled later. */
static size_t hold_others(struct session *s, const struct thread *th,
			  struct held **held)
{
	size_t n = 0, k = 0;

	*held = NULL;
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *o = &s->threads[i];

		if (o->tid == th->tid || !same_memory(o, th) || o->in_vfork ||
		    is_queued(s, o->tid) || is_blocked(o->tid) ||
		    target_interrupt(o->tid) < 0)
			continue;
		*held = xrealloc(*held, (n + 1) * sizeof(**held));
		(*held)[n++] = (struct held){.tid = o->tid};
	}
	for (size_t i = 0; i < n; i++) {
		struct stop stop;

		if (target_wait((*held)[i].tid, &stop) < 0)
			continue;
		if (stop.event == TEV_START || stop.event == TEV_GROUP_STOP) {
			/* a queued stop is counted when it is handled */
			s->stats.stops++;
			(*held)[k] = (*held)[i];
			(*held)[k++].group_stop = stop.event == TEV_GROUP_STOP;
		} else {
			/* its own stop came first: the interrupt comes
			 * later, and is only resumed */
			queue_stop(s, &stop);
		}
	}
	return k;
}

static void release_held(struct held *held, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (held[i].group_stop)
			target_listen(held[i].tid);
		else
			target_resume(held[i].tid, 0);
	}
	free(held);
}

/* Whether the instruction under BP is a system call, which may wait for
 * another thread: the others are not held for it. */
static bool is_syscall(const struct target *t, const struct breakpoint *bp)
{
	uint8_t next;

	return bp->orig == 0x0f &&
	       target_read(t, bp->addr + 1, &next, 1) == 0 &&
	       (next == 0x05 || next == 0x34);
}

/* Runs the instruction under a breakpoint with its original byte, then
 * puts the int3 back; the process's other threads are held meanwhile.
 * Stops of this thread that come meanwhile are handled after; a signal
 * waits for the step to end. */
void step_over(struct session *s, struct thread *th,
	       const struct breakpoint *bp)
{
	static const uint8_t int3 = BP_INSN;
	const struct target *t = &th->proc->target;
	pid_t tid = th->tid;
	uint64_t addr = bp->addr;
	struct held *held = NULL;
	size_t nheld = 0;
	struct stop stop;
	int sig = 0;

	s->stats.stepped++;
	if (!is_syscall(t, bp))
		nheld = hold_others(s, th, &held);
	if (target_set_pc(tid, addr) < 0 ||
	    target_write(t, addr, &bp->orig, 1) < 0 || target_step(tid) < 0) {
		release_held(held, nheld);
		return;
	}
	for (;;) {
		if (target_wait(tid, &stop) < 0)
			break;
		s->stats.stops++;
		if (stop.event == TEV_STEPPED)
			break;
		if (stop.event == TEV_SIGNAL) {
			sig = stop.sig;
			if (target_step(tid) == 0)
				continue;
			break;
		}
		/* a stop, or an interrupt of hold_others from before */
		if ((stop.event == TEV_GROUP_STOP || stop.event == TEV_START) &&
		    target_step(tid) == 0)
			continue;
		/* the thread is leaving (exit, death): nothing to step */
		target_write(t, addr, &int3, 1);
		release_held(held, nheld);
		dispatch(s, &stop);
		return;
	}
	target_write(t, addr, &int3, 1);
	release_held(held, nheld);
	target_resume(tid, sig);
}

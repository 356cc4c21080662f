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

/* The state of thread TID as /proc shows it: 'R' running, 'S' asleep
 * (a signal wakes it), 'D' asleep where none does, 't' stopped...; 0
 * when it cannot be read (it has ended). */
static char thread_state(pid_t tid)
{
	char path[64], buf[256], *paren;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Whether threads A and B run in the same memory: one process, or a
 * vfork child and its parent. */
static bool same_memory(const struct thread *a, const struct thread *b)
{
	return a->proc == b->proc ||
	       (a->proc->image && a->proc->image == b->proc->image &&
		(a->proc->borrowed || b->proc->borrowed));
}

/* Interrupts every other running thread in TH's memory, so that none
 * runs past the breakpoint while its int3 is out: TW_HELD until its stop
 * comes. A thread stopped already (its stop not handled yet, or taken by
 * a caller up the stack, where an interrupt would never be reported) is
 * not interrupted: a stop of it while the step is under way is kept for
 * after (held_back). */
static void hold_others(struct session *s, struct thread *th)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *o = &s->threads[i];
		char state;

		if (o == th || o->wait != TW_RUNNING || !same_memory(o, th) ||
		    o->in_vfork || is_queued(s, o->tid))
			continue;
		state = thread_state(o->tid);
		if ((state != 'R' && state != 'S' && state != 'D') ||
		    target_interrupt(o->tid) < 0)
			continue;
		o->wait = TW_HELD;
		o->holder = th->tid;
		o->group_stop = false;
		/* asleep where the interrupt cannot wake it (a page fault
		 * waiting for the memory map, a disk read): it stops before
		 * it runs any code of its own, but maybe long after, so the
		 * step does not wait for it. Asleep still once interrupted,
		 * or it may be back in its own code already. */
		o->held_asleep = state == 'D' && thread_state(o->tid) == 'D';
		if (!o->held_asleep)
			th->holding++;
	}
}

/* The threads TH held go on: those with a stop of their own kept are
 * left to it (its handling resumes them). */
static void release_held(struct session *s, const struct thread *th)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *o = &s->threads[i];
		bool stopped = o->wait == TW_HELD_STOPPED;

		if ((o->wait != TW_HELD && !stopped) || o->holder != th->tid)
			continue;
		/* still TW_HELD: its interrupt comes later, and is resumed */
		o->wait = TW_RUNNING;
		if (!stopped || is_queued(s, o->tid))
			continue;
		if (o->group_stop)
			target_listen(o->tid);
		else
			target_resume(o->tid, 0);
	}
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

/* The step of TH ends (or never began): the int3 back if it was out, the
 * held threads released, and TH resumed with the signal that waited
 * (RESUME), or left to the stop that ended it. One resume delivers one
 * signal: any other that came during the step is sent again. */
static void end_step(struct session *s, struct thread *th, bool resume)
{
	static const uint8_t int3 = BP_INSN;

	if (th->wait == TW_STEPPING)
		target_write(&th->proc->target, th->step_addr, &int3, 1);
	th->wait = TW_RUNNING;
	s->stepping--;
	release_held(s, th);
	if (resume && target_resume(th->tid, th->sig) == 0) {
		for (int sig = 1; sig <= 64; sig++) {
			if (th->more_sigs & (1ull << (sig - 1)))
				syscall(SYS_tgkill, th->proc->target.pid,
					th->tid, sig);
		}
	}
	th->more_sigs = 0;
}

/* Every held thread has stopped: the original byte goes in, and TH
 * runs the one instruction. */
static void start_step(struct session *s, struct thread *th)
{
	const struct target *t = &th->proc->target;
	const struct breakpoint *bp =
		th->proc->image ? bp_find(th->proc->image->bps, th->step_addr)
				: NULL;

	if (!bp || target_set_pc(th->tid, th->step_addr) < 0 ||
	    target_write(t, th->step_addr, &bp->orig, 1) < 0) {
		end_step(s, th, false);
		return;
	}
	th->wait = TW_STEPPING;
	if (target_step(th->tid) < 0)
		end_step(s, th, false);
}

/* Starts running the instruction under a breakpoint with its original
 * byte, the process's other threads held meanwhile; the loop takes it
 * on from there (step_stopped, held_stopped). */
void step_over(struct session *s, struct thread *th,
	       const struct breakpoint *bp)
{
	s->stats.stepped++;
	th->wait = TW_HOLDING;
	th->step_addr = bp->addr;
	th->holding = 0;
	th->sig = 0;
	th->more_sigs = 0;
	s->stepping++;
	if (!is_syscall(&th->proc->target, bp))
		hold_others(s, th);
	if (!th->holding)
		start_step(s, th);
}

/* A stop of TH, held for another thread's step: its interrupt (or a
 * group stop) is recorded, the step starting once every held thread
 * has stopped; a stop of its own is kept until the step ends (its
 * interrupt comes later, and is only resumed). */
void held_stopped(struct session *s, struct thread *th, const struct stop *stop)
{
	struct thread *holder;

	if (th->wait == TW_HELD_STOPPED) {
		queue_stop(s, stop);
		return;
	}
	if (stop->event == TEV_START || stop->event == TEV_GROUP_STOP)
		th->group_stop = stop->event == TEV_GROUP_STOP;
	else
		queue_stop(s, stop);
	th->wait = TW_HELD_STOPPED;
	holder = thread_find(s, th->holder);
	if (holder && holder->wait == TW_HOLDING && !th->held_asleep &&
	    !--holder->holding)
		start_step(s, holder);
}

/* A stop of TH, which steps: the step's end finishes it; a signal waits
 * for it (stepped again), as an interrupt does. Any other stop (the
 * thread exits, or is killed) ends the step, and is handled as usual:
 * true. */
bool step_stopped(struct session *s, struct thread *th, const struct stop *stop)
{
	if (th->wait == TW_STEPPING) {
		if (stop->event == TEV_STEPPED) {
			end_step(s, th, true);
			return false;
		}
		if (stop->event == TEV_SIGNAL || stop->event == TEV_START ||
		    stop->event == TEV_GROUP_STOP) {
			if (stop->event == TEV_SIGNAL && !th->sig)
				th->sig = stop->sig;
			else if (stop->event == TEV_SIGNAL && stop->sig > 0 &&
				 stop->sig <= 64)
				th->more_sigs |= 1ull << (stop->sig - 1);
			if (target_step(th->tid) < 0)
				end_step(s, th, true);
			return false;
		}
	}
	end_step(s, th, false);
	return true;
}

/* Whether a stop of thread TID (TH, NULL when it is new) waits: it is
 * held for a step, or one runs in its memory. */
bool held_back(struct session *s, const struct thread *th, pid_t tid)
{
	pid_t tgid = 0;

	if (!s->stepping)
		return false;
	if (th && (th->wait == TW_HELD || th->wait == TW_HELD_STOPPED))
		return true;
	if (th && th->wait != TW_RUNNING)
		return false;
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *o = &s->threads[i];

		if (o->wait != TW_HOLDING && o->wait != TW_STEPPING)
			continue;
		if (th && same_memory(o, th))
			return true;
		/* a thread just born: its process's */
		if (!th && !tgid)
			tgid = target_tgid(tid);
		if (!th && o->proc->target.pid == tgid)
			return true;
	}
	return false;
}

/* Letting a process go: every thread stopped, every byte of ours taken
 * out, threads moved out of copies and stubs, areas unmapped. */
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

/* A thread of a process being let go. */
struct leaving {
	pid_t tid;
	int sig; /* a signal it was about to get */
	bool gone;
};

/* A short wait on one thread met STOP: one that ends the thread is the
 * loop's to handle. */
static void keep_end(struct session *s, const struct stop *stop)
{
	if (stop->event == TEV_EXITED || stop->event == TEV_KILLED ||
	    stop->event == TEV_EXIT) {
		s->stats.stops++;
		queue_stop(s, stop);
	}
}

/* Whether STOP is at one of P's breakpoints (the thread is still on its
 * instruction: the breakpoint faults). */
static bool at_breakpoint(const struct process *p, const struct stop *stop)
{
	struct user_regs_struct regs;
	const struct breakpoint *bp;

	if (stop->sig != SIGSEGV || !p->image ||
	    target_get_regs(stop->tid, &regs) < 0 ||
	    !(bp = bp_find(p->image->bps, regs.rip)))
		return false;
	/* a stub's trap for a full ring is passed: the drain before the
	 * thread goes on makes room; an allocator's trap stub's too (its
	 * call is not followed any more) */
	if (bp->roles & (BP_RING_FULL | BP_ALLOC_TRAP))
		target_set_pc(stop->tid, regs.rip + 1);
	return true;
}

/* A stop of TH, whose process is being let go: the first one stops it,
 * with the signal it was to get kept for its detach. A thread stopped
 * inside fork, clone or exec finishes the call first (a system call made
 * through the thread now would take the place of its result): the stop
 * is handled as usual (true), and the thread interrupted again after. */
bool leaving_stopped(struct thread *th, const struct stop *stop)
{
	const struct process *p = th->proc;

	if (stop->event == TEV_EXITED || stop->event == TEV_KILLED) {
		th->wait = TW_GONE;
		return false;
	}
	if (th->wait != TW_STOPPING)
		return false;
	if (stop->event == TEV_FORK || stop->event == TEV_CLONE ||
	    stop->event == TEV_EXEC) {
		th->wait = TW_RUNNING;
		return true;
	}
	if (stop->event == TEV_BREAKPOINT) {
		/* at ours, it is on the instruction still */
		if (!at_breakpoint(p, stop))
			th->sig = stop->sig;
	} else if (stop->event == TEV_SIGNAL) {
		th->sig = stop->sig;
	}
	th->wait = TW_STOPPED;
	return false;
}

/* A thread born in process P while it is let go comes stopped at its
 * start: it is let go with the others. True when TID is one. */
bool joins_leaving(struct session *s, pid_t tid)
{
	pid_t tgid = target_tgid(tid);

	for (size_t i = 0; i < s->nprocs; i++) {
		struct process *p = s->procs[i];

		if (p->target.pid == tgid && p->detach == DETACH_STOPPING) {
			thread_add(s, tid, p)->wait = TW_STOPPED;
			return true;
		}
	}
	return false;
}

/* Moves a stopped thread out of the out-of-line area by stepping it: a
 * copy is a few instructions that end in a jump back. */
/* The flags pushf just put on TID's stack lose the trap flag. */
static void clear_pushed_trap_flag(const struct process *p, pid_t tid)
{
	struct user_regs_struct regs;
	uint64_t flags;

	if (target_get_regs(tid, &regs) == 0 &&
	    target_read(&p->target, regs.rsp, &flags, sizeof(flags)) == 0 &&
	    (flags & 0x100)) {
		flags &= ~(uint64_t)0x100;
		target_write(&p->target, regs.rsp, &flags, sizeof(flags));
	}
}

/* A thread in a stub's own code runs it to its end at full speed (not
 * stepped: a step through its pushf would leave the trap flag in the
 * flags its popf takes back), stopped by a breakpoint where the
 * displaced instructions begin. */
static void run_stub_out(struct session *s, const struct process *p, pid_t tid,
			 uint64_t exit, int *sig)
{
	static const uint8_t bp_insn = BP_INSN;
	struct user_regs_struct regs;
	uint8_t orig;

	if (target_read(&p->target, exit, &orig, 1) < 0 ||
	    target_write(&p->target, exit, &bp_insn, 1) < 0)
		return;
	for (int stops = 0; stops < 64; stops++) {
		struct stop stop;

		if (target_resume(tid, 0) < 0 || target_wait(tid, &stop) < 0 ||
		    target_get_regs(tid, &regs) < 0)
			break;
		if (stop.event == TEV_BREAKPOINT && stop.sig == SIGSEGV &&
		    regs.rip == exit)
			break;
		/* a full ring: drained before the detach, so past it */
		if (stop.event == TEV_BREAKPOINT && stop.sig == SIGSEGV &&
		    p->image && bp_find(p->image->bps, regs.rip)) {
			target_set_pc(tid, regs.rip + 1);
			continue;
		}
		if (stop.event == TEV_SIGNAL || stop.event == TEV_BREAKPOINT) {
			*sig = stop.sig;
		} else if (stop.event != TEV_START &&
			   stop.event != TEV_GROUP_STOP) {
			keep_end(s, &stop);
			break;
		}
	}
	target_write(&p->target, exit, &orig, 1);
}

void leave_xol(struct session *s, const struct process *p, pid_t tid, int *sig,
	       bool all_stopped)
{
	struct user_regs_struct regs;
	uint64_t exit;

	/* the breakpoint at the stub's end would stop any thread there */
	if (all_stopped && p->image && target_get_regs(tid, &regs) == 0 &&
	    (exit = image_stub_exit(p->image, regs.rip)))
		run_stub_out(s, p, tid, exit, sig);

	/* a copy is a few instructions that end in a jump back */
	for (int steps = 0; steps < 16; steps++) {
		struct stop stop;

		uint8_t insn = 0;

		if (target_get_regs(tid, &regs) < 0 ||
		    !image_in_xol(p->image, regs.rip))
			return;
		target_read(&p->target, regs.rip, &insn, 1);
		if (target_step(tid) < 0 || target_wait(tid, &stop) < 0)
			return;
		/* pushf saved the trap flag of the step: the popf that
		 * takes it back would trap once the thread is let go */
		if (insn == 0x9c && stop.event == TEV_STEPPED)
			clear_pushed_trap_flag(p, tid);
		/* a signal waits for the detach; an interrupt is no step; a
		 * step over a system call (a stub's) ends with TRAP_BRKPT */
		if (stop.event == TEV_SIGNAL) {
			*sig = stop.sig;
		} else if (stop.event != TEV_STEPPED &&
			   stop.event != TEV_START &&
			   stop.event != TEV_GROUP_STOP &&
			   !(stop.event == TEV_BREAKPOINT &&
			     stop.sig == SIGTRAP)) {
			keep_end(s, &stop);
			return;
		}
	}
}

/* A signal of ours (a breakpoint just hit, a step just done) can be
 * pending behind the stop that stopped the thread; left there, it would
 * kill the process once let go. It is taken here: the thread goes on
 * until the signal stops it, at once (on a breakpoint, it is still on
 * the instruction). */
static void drain_traps(struct session *s, const struct process *p, pid_t tid,
			int *sig)
{
	for (int i = 0; i < 4 && (target_signal_pending(tid, SIGTRAP) ||
				  target_signal_pending(tid, SIGSEGV));
	     i++) {
		struct stop stop;

		if (target_resume(tid, 0) < 0 || target_wait(tid, &stop) < 0)
			return;
		if (stop.event == TEV_BREAKPOINT) {
			if (!at_breakpoint(p, &stop))
				*sig = stop.sig;
		} else if (stop.event == TEV_SIGNAL && stop.sig != SIGTRAP) {
			*sig = stop.sig;
		} else if (stop.event == TEV_EXITED ||
			   stop.event == TEV_KILLED || stop.event == TEV_EXIT) {
			keep_end(s, &stop);
			return;
		}
	}
}

/* Whether another process we trace runs in P's memory (a vfork child):
 * what is mapped there stays. */
static bool memory_shared(const struct session *s, const struct process *p)
{
	for (size_t k = 0; k < s->nprocs; k++) {
		if (s->procs[k] != p &&
		    target_share_memory(s->procs[k]->target.pid, p->target.pid))
			return true;
	}
	return false;
}

/* The ring goes out of P as it is let go, unless a thread is still in a
 * stub (it would write into the ring on its way out), or a vfork child
 * runs in P's memory. */
static void forget_ring(struct session *s, struct process *p,
			const struct leaving *ts, size_t n)
{
	pid_t by = 0;

	if (!p->ring.hdr)
		return;
	/* a vfork child in the memory, or a signal frame that may return
	 * into a stub: the ring stays */
	if (memory_shared(s, p) || p->signal_in_stub) {
		drain_ring(s, p);
		ring_close(&p->ring);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct user_regs_struct regs;

		if (ts[i].gone)
			continue;
		if (target_get_regs(ts[i].tid, &regs) < 0 ||
		    image_in_xol(p->image, regs.rip))
			return;
		by = ts[i].tid;
	}
	drain_ring(s, p);
	if (by)
		forget_ring_of(&p->target, by, p->ring.addr,
			       p->ring.hdr->statm_fd);
	ring_close(&p->ring);
}

/* Process P no longer needs the out-of-line areas nor the agent: they
 * are unmapped through a stopped thread of it (none is in them, and no
 * signal frame returns into them: signals are delivered outside), unless
 * another process we trace shares its memory (vfork). */
static void release_areas(struct session *s, struct process *p,
			  const struct leaving *ts, size_t n)
{
	size_t i = 0;

	if (memory_shared(s, p) || p->signal_in_stub)
		return;
	while (i < n && ts[i].gone)
		i++;
	if (i == n)
		return;
	/* a thread still in a copy or a stub keeps them (and the agent) */
	for (size_t k = i; p->image && k < n; k++) {
		struct user_regs_struct regs;

		if (!ts[k].gone && (target_get_regs(ts[k].tid, &regs) < 0 ||
				    image_in_xol(p->image, regs.rip)))
			return;
	}
	if (p->image && image_unmap_xols(p->image, &p->target, ts[i].tid) < 0 &&
	    errno != ESRCH)
		warn_msg("cannot unmap the out-of-line area from process %d: "
			 "%s",
			 (int)p->target.pid, strerror(errno));
	/* SIGSEGV's default action comes back before its handler goes */
	if (agent_remove(&p->target, ts[i].tid) < 0 && errno != ESRCH)
		warn_msg("cannot take the in-process agent out of process %d: "
			 "%s",
			 (int)p->target.pid, strerror(errno));
}

/* Lets process P go on without us, every thread of it stopped: every
 * breakpoint out of its memory, every thread out of the copies, then
 * each one detached. The calls it is in end now. */
static void let_go(struct session *s, struct process *p)
{
	struct leaving *ts = xcalloc(s->nthreads + 1, sizeof(*ts));
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *th = &s->threads[i];

		if (th->proc == p)
			ts[n++] = (struct leaving){.tid = th->tid,
						   .sig = th->sig,
						   .gone = th->wait == TW_GONE};
	}
	drain_ring(s, p);
	/* the calls that end here must not arm the allocator again */
	p->leaving = true;
	end_threads_of(s, p, sample(s, p));
	if (p->image)
		bp_clean_process(p->image->bps, p->target.pid);
	for (size_t i = 0; i < n; i++) {
		if (ts[i].gone)
			continue;
		drain_traps(s, p, ts[i].tid, &ts[i].sig);
		if (p->image)
			leave_xol(s, p, ts[i].tid, &ts[i].sig, true);
		drain_traps(s, p, ts[i].tid, &ts[i].sig);
	}
	forget_ring(s, p, ts, n);
	release_areas(s, p, ts, n);
	for (size_t i = 0; i < n; i++) {
		if (!ts[i].gone)
			target_detach(ts[i].tid, ts[i].sig);
	}
	free(ts);
	p->detach = DETACH_DONE;
	if (p != s->procs[0]) {
		process_remove(s, p);
	} else if (!s->done) {
		s->status.how = RUN_DETACHED;
		s->status.code = 0;
		s->done = true;
	}
}

/* Whether a thread steps in P's memory, or one of P's is held or
 * stepped: the int3 it stepped over goes back first. */
static bool steps_in(const struct session *s, const struct process *p)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *th = &s->threads[i];

		if (th->proc == p && th->wait != TW_RUNNING)
			return true;
		if ((th->wait == TW_HOLDING || th->wait == TW_STEPPING) &&
		    (th->proc->image == p->image || th->proc->borrowed))
			return true;
	}
	return false;
}

/* Whether every thread of P has stopped (or ended). One running is
 * interrupted: all of them at first, then one that was handled as usual
 * (a fork, a clone, an exec: an exec makes its thread anew). */
static bool all_stopped(struct session *s, const struct process *p)
{
	bool all = true;

	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *th = &s->threads[i];

		if (th->proc != p)
			continue;
		if (th->wait == TW_RUNNING) {
			th->sig = 0;
			th->wait = target_interrupt(th->tid) < 0 ? TW_GONE
								 : TW_STOPPING;
		}
		all = all && th->wait != TW_STOPPING;
	}
	return all;
}

/* Takes each process being let go a step further: its threads stopped
 * once no step is under way in its memory, then let go once they all
 * have. Called by the loop after each stop. */
void detach_progress(struct session *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		struct process *p = s->procs[i];

		if (p->detach == DETACH_WAITING && !steps_in(s, p))
			p->detach = DETACH_STOPPING;
		if (p->detach == DETACH_STOPPING && all_stopped(s, p)) {
			let_go(s, p);
			/* the list changed: from the start again */
			i = (size_t)-1;
		}
	}
}

/* Whether a process is being let go. */
bool detaching(const struct session *s)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i]->detach == DETACH_WAITING ||
		    s->procs[i]->detach == DETACH_STOPPING)
			return true;
	}
	return false;
}

/* Starts letting process P go; the loop drives it to the end. */
void detach_start(struct session *s, struct process *p)
{
	if (p->detach == DETACH_NO)
		p->detach = DETACH_WAITING;
	detach_progress(s);
}

/* Lets every process go (Ctrl-C, --duration, the end of the first one):
 * the loop runs until they are. */
void profiler_detach(struct session *s)
{
	for (size_t i = s->nprocs; i-- > 1;)
		detach_start(s, s->procs[i]);
	if (!s->done)
		detach_start(s, s->procs[0]);
	run_until_let_go(s);
	/* children that started while the first one was let go */
	while (s->nprocs > 1) {
		detach_start(s, s->procs[s->nprocs - 1]);
		run_until_let_go(s);
	}
}

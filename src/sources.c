/* The two event sources: a stop at one of our breakpoints, and the ring
 * the stubs record into (--engine jump). Both end in site_event. */
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
#include "stub.h"
#include "suggest.h"
#include "tracer.h"
#include "util.h"

/* The line events P recorded since the last drain, in the order they
 * were taken: before any stop of P is handled, so that each thread's
 * events stay in order. */
/* One whole record of P's ring, to the accounting. */
static void take_record(struct session *s, struct process *p,
			const struct ring_record *rec)
{
	struct thread *th = thread_find(s, (pid_t)rec->tid);
	const struct breakpoint *bp =
		p->image && rec->site ? bp_find(p->image->bps, rec->site)
				      : NULL;

	/* a vfork child runs its parent's stubs: not followed */
	if (rec->kind != RING_LINE) {
		if (th && th->proc == p && bp &&
		    (bp->roles & (BP_ALLOC | BP_ALLOC_RET)))
			alloc_record(s, th, bp, rec);
	} else if (th && th->proc == p && bp && bp->func >= 0 &&
		   (bp->roles & (BP_LINE | BP_ENTRY))) {
		uint64_t rss = thread_view(
			s, th,
			sampler_statm(&p->sampler, rec->statm, rec->nread),
			rec->minflt, rec->proc_minflt);
		const struct profiled_func *pf = &p->image->funcs[bp->func];

		site_event(s, th, pf, bp, rec->sp, rss);
		for (int i = 0; i < MAX_CHAINED && bp->chained[i]; i++)
			site_event(s, th, pf,
				   bp_find(p->image->bps, bp->chained[i]),
				   rec->sp, rss);
		s->stats.ring_events++;
	}
	/* the entry's stub counted the call until now: memprof has it */
	if (bp && bp->counts_entry)
		__atomic_sub_fetch(&p->ring.hdr->allocs_armed, 1,
				   __ATOMIC_SEQ_CST);
}

void drain_ring(struct session *s, struct process *p)
{
	const struct ring_record *rec;

	while (p->ring.hdr && (rec = ring_peek(&p->ring))) {
		take_record(s, p, rec);
		ring_consumed(&p->ring);
	}
}

/* Thread TH's records are all whole, but a record another thread took
 * and has not written yet (that thread may be stopped at the trap of a
 * full ring, or preempted) holds them back. They are taken now, past
 * it, in their order, and marked so that the drain passes them later:
 * a thread's own events stay in order, which is what its calls and its
 * allocator calls are matched by. */
static void drain_thread(struct session *s, struct thread *th)
{
	struct process *p = th->proc;

	if (!p->ring.hdr || !ring_in_flight(&p->ring))
		return;
	for (uint64_t i = p->ring.hdr->tail; i < ring_head(&p->ring); i++) {
		struct ring_record *rec = ring_whole_at(&p->ring, i);

		if (!rec || rec->tid != (uint32_t)th->tid || !rec->site)
			continue;
		take_record(s, p, rec);
		rec->site = 0;
	}
}

void drain_rings(struct session *s)
{
	for (size_t i = 0; i < s->nprocs; i++)
		drain_ring(s, s->procs[i]);
}

/* The same before a stop of thread TID is handled: a record taken but
 * not yet written (its thread is in the middle of its stub) holds back
 * the ones after it, which may be the stopped thread's own; running, its
 * thread writes it in a microsecond or two. Not waited for long: it may
 * be stopped itself (at a full ring, or by a signal inside its stub) or
 * preempted; then the stopped thread's own records are taken past it. */
void drain_rings_before_stop(struct session *s, pid_t tid)
{
	struct thread *th = thread_find(s, tid);

	for (size_t i = 0; i < s->nprocs; i++) {
		struct process *p = s->procs[i];

		double until = 0;

		drain_ring(s, p);
		while (ring_in_flight(&p->ring)) {
			if (!until)
				until = now() + 300e-6;
			else if (now() > until)
				break;
			sched_yield();
			drain_ring(s, p);
		}
	}
	if (th)
		drain_thread(s, th);
}

void on_breakpoint(struct session *s, const struct stop *stop)
{
	struct user_regs_struct regs;
	pid_t tid = stop->tid;
	struct thread *th = thread_get(s, tid);
	struct image *img = th->proc->image;
	struct breakpoint *bp = NULL;

	if (target_get_regs(tid, &regs) < 0)
		return;
	/* ours fault on the instruction (SIGSEGV); an int3 is the program's */
	if (img && stop->sig == SIGSEGV)
		bp = bp_find(img->bps, regs.rip);
	if (!bp) {
		/* the program's own int3, or fault */
		target_resume(tid, stop->sig);
		return;
	}
	if (bp->roles & BP_RING_FULL) {
		struct ring_header *hdr = th->proc->ring.hdr;
		struct stop more;

		/* still no room for its record (in rax): a record before it
		 * is held unwritten, maybe by a thread stopped at this trap
		 * whose stop is not taken yet. The kernel gives the first
		 * threads' stops first, and they come back at once: the
		 * stops that came are queued, and this one after them */
		if (hdr && regs.rax - hdr->tail >= RING_RECORDS) {
			while (target_poll(&more) == 0) {
				s->stats.stops++;
				queue_stop(s, &more);
			}
			queue_stop(s, stop);
			return;
		}
		/* drained already, before this stop: the stub tries again */
		if (target_set_pc(tid, bp->addr + 1) == 0)
			target_resume(tid, 0);
		return;
	}
	if (bp->roles & BP_ALLOC_TRAP) {
		/* an allocator's call begins, told by its trap stub (its
		 * own records, before, are taken) */
		struct breakpoint *entry = bp_find(img->bps, bp->owner);

		s->stats.alloc_stops++;
		regs.rsp += STUB_TRAP_DEPTH;
		if (entry && !th->proc->borrowed)
			on_alloc(s, th, entry, &regs);
		if (target_set_pc(tid, bp->addr + 1) == 0)
			target_resume(tid, 0);
		return;
	}

	if (bp->jump_len && (bp->roles & BP_CALLER)) {
		/* a line site's jump made a breakpoint for a return to it:
		 * the return is taken, and the thread runs the jump's stub,
		 * which records the line as ever */
		static const uint8_t jmp = 0xe9;
		int32_t rel;

		/* a vfork child's memory is its parent's, whose threads
		 * may still wait there */
		if (!th->proc->borrowed) {
			on_return_site(s, th, bp, &regs);
			if (!return_awaited(s, th->proc, bp->addr))
				target_write(&th->proc->target, bp->addr, &jmp,
					     1);
		}
		if (target_read(&th->proc->target, bp->addr + 1, &rel,
				sizeof(rel)) == 0 &&
		    target_set_pc(tid, bp->addr + STUB_JUMP_LEN + rel) == 0)
			target_resume(tid, 0);
		return;
	}
	if (th->proc->borrowed) {
		/* only passed, never counted */
		if (bp->roles & BP_RETURN)
			emulate_return(s, th, -1, bp, &regs, 0);
		else
			resume_past(s, th, bp);
		return;
	}

	if (bp->roles & BP_CALLER) {
		on_return_site(s, th, bp, &regs);
		if (bp->roles == BP_CALLER &&
		    !return_awaited(s, th->proc, bp->addr)) {
			/* taken out (now, or before this thread hit it) */
			bp_set_armed(bp, &th->proc->target, false);
			if (target_set_pc(tid, bp->addr) == 0)
				target_resume(tid, 0);
			return;
		}
		if (bp->roles == BP_CALLER) {
			resume_past(s, th, bp);
			return;
		}
	}

	if (bp->roles & BP_ALLOC)
		s->stats.alloc_stops++;
	if (bp->roles == BP_ALLOC &&
	    !(frees(bp->alloc_kind) ? th->proc->frees_armed
				    : th->proc->allocs_armed)) {
		/* hit before we took it out: the instruction goes back */
		target_write(&th->proc->target, bp->addr, &bp->orig, 1);
		if (target_set_pc(tid, bp->addr) == 0)
			target_resume(tid, 0);
		return;
	}
	if (bp->roles & BP_ALLOC) {
		on_alloc(s, th, bp, &regs);
		if (bp->roles == BP_ALLOC) {
			resume_past(s, th, bp);
			return;
		}
	}
	if (bp->roles & BP_LOADER) {
		on_loader(s, th);
		if (s->done)
			return;
		if (bp->roles == BP_LOADER) {
			resume_past(s, th, bp);
			return;
		}
	}
	const struct profiled_func *pf = &img->funcs[bp->func];
	unsigned roles = bp->roles;
	if (roles & (BP_ENTRY | BP_LINE | BP_RETURN | BP_EXIT)) {
		uint64_t rss = thread_sample(s, th);

		site_event(s, th, pf, bp, regs.rsp, rss);
		if (roles & BP_RETURN) {
			emulate_return(s, th, pf->acct, bp, &regs, rss);
			return;
		}
		if ((roles & BP_EXIT) && leaves(th, pf, bp, &regs))
			tail_call(s, th, pf, bp, &regs, rss);
	}
	resume_past(s, th, bp);
}

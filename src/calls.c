/* Calls and returns: activations, line events (site_event is the one
 * seam both event sources feed), returns, tail calls. */
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

static void release_return(struct session *s, const struct process *p,
			   uint64_t addr);
static bool await_caller(struct session *s, struct thread *th, struct frame *f);

static void pop_frame(struct session *s, struct thread *th, uint64_t rss)
{
	th->depth--;
	if (s->on_call)
		s->on_call(s->hook_arg, th->tid, th->frames[th->depth].func,
			   false, th->depth, rss);
	account_return(s->acct, th->tid, rss);
	if (th->frames[th->depth].ret_addr)
		release_return(s, th->proc, th->frames[th->depth].ret_addr);
	if (s->heap && th->proc->open_calls > 0 && --th->proc->open_calls == 0)
		arm_allocs(s, th->proc);
}

/* Activations whose stack is gone (left by longjmp, say) end when the
 * thread is seen above them. */
static void pop_dead_frames(struct session *s, struct thread *th, uint64_t sp,
			    uint64_t rss)
{
	while (th->depth && th->frames[th->depth - 1].sp < sp)
		pop_frame(s, th, rss);
}

/* A thread ends: its open activations end with it. */
void thread_end(struct session *s, struct thread *th, uint64_t rss)
{
	account_abandon(s->acct, th->tid);
	while (th->depth)
		pop_frame(s, th, rss);
	if (th->in_vfork)
		s->in_vfork--;
	free(th->frames);
	*th = s->threads[--s->nthreads];
}

/* Every thread of P ends (exit, exec). */
void end_threads_of(struct session *s, const struct process *p, uint64_t rss)
{
	for (size_t i = 0; i < s->nthreads;) {
		if (s->threads[i].proc == p)
			thread_end(s, &s->threads[i],
				   thread_view(s, &s->threads[i], rss, 0, 0));
		else
			i++;
	}
}

/* Breakpoints */

static void enter(struct session *s, struct thread *th, int func, int line,
		  uint64_t addr, uint64_t sp, uint64_t rss)
{
	if (th->depth == th->cap) {
		th->cap = th->cap ? 2 * th->cap : 8;
		th->frames =
			xrealloc(th->frames, th->cap * sizeof(*th->frames));
	}
	th->frames[th->depth++] = (struct frame){
		.func = func,
		.sp = sp,
		.line = line,
		.line_start = addr,
		.last_site = addr,
	};
	account_enter(s->acct, th->proc->target.pid, th->tid, func, rss);
	if (s->on_call)
		s->on_call(s->hook_arg, th->tid, func, true, th->depth - 1,
			   rss);
	if (s->heap && th->proc->open_calls++ == 0)
		arm_allocs(s, th->proc);
	/* the header line's occurrence: Python's tracer has a call event */
	s->stats.line_events++;
}

/* Whether arriving at SITE in frame F starts a line event: always from
 * another line; from the same line only by a backward jump that repeats
 * code of this line's run (a loop on one line), not by one that goes
 * back to an earlier part of it (a for loop's condition block). */
static bool is_line_event(const struct frame *f, const struct site *site)
{
	if (site->line != f->line)
		return true;
	if (!site->back || site->addr < f->line_start)
		return false;
	/* both kinds of arrival: a backward jump went past the last site */
	return !site->forward || f->last_site >= site->addr;
}

/* A line event for LINE at ADDR in TH's innermost frame. */
static void start_line(struct session *s, struct thread *th, int line,
		       uint64_t addr, uint64_t rss)
{
	struct frame *f = &th->frames[th->depth - 1];

	account_line(s->acct, th->tid, line, rss);
	graph_at(s, th, line);
	s->stats.line_events++;
	f->line = line;
	f->line_start = addr;
}

static void line_site(struct session *s, struct thread *th,
		      const struct profiled_func *pf, uint64_t addr,
		      uint64_t rss)
{
	struct frame *f = th->depth ? &th->frames[th->depth - 1] : NULL;
	const struct site *site;

	if (!f || f->func != pf->acct)
		return;
	site = sites_at(pf->sites, pf->nsites, addr);
	if (!site)
		return;
	if (site->end_only) {
		/* an epilogue: the call ends, no line begins */
	} else {
		if (is_line_event(f, site))
			start_line(s, th, site->line, addr, rss);
		f->last_site = addr;
	}
	if (site->returns)
		graph_at(s, th, 0);
	/* only quiet code runs from here to the ret: the call ends now, or
	 * with --types at its return address (rax is set only there) */
	if (site->returns && !(s->opts->types && await_caller(s, th, f)))
		pop_frame(s, th, rss);
}

/* The seam of the two event sources: thread TH arrived at the site of BP
 * in PF with stack pointer SP, RSS being RSS, told by a stop at an int3
 * or by a record of the ring. A call begins there, or a line. */
void site_event(struct session *s, struct thread *th,
		const struct profiled_func *pf, const struct breakpoint *bp,
		uint64_t sp, uint64_t rss)
{
	pop_dead_frames(s, th, sp, rss);
	const struct frame *top = th->depth ? &th->frames[th->depth - 1] : NULL;
	const struct func_info *fi = pf->info;
	bool same_frame = top && top->func == pf->acct && top->sp == sp;

	/* an inlined copy's code moves the stack pointer as the function
	 * that holds it does: a thread in its call is inside the call */
	if (fi->inlined_into && top && top->func == pf->acct && top->inlined)
		same_frame = true;
	if ((bp->roles & BP_ENTRY) &&
	    !(((bp->roles & BP_LINE) || fi->inlined_into) && same_frame)) {
		enter(s, th, pf->acct, fi->decl_line, bp->addr, sp, rss);
		int line = fi->entry_line;
		/* a copy is entered at the line of the code it enters */
		if (fi->inlined_into) {
			th->frames[th->depth - 1].inlined = true;
			line = sites_line_at(fi->rows, fi->nrows, bp->addr);
		}
		if (line)
			start_line(s, th, line, bp->addr, rss);
	} else if (bp->roles & BP_LINE) {
		line_site(s, th, pf, bp->addr, rss);
	}
}

/* A ret of a profiled function: its activation ends, and the ret is done
 * here, so that no step is needed. */
void emulate_return(struct session *s, struct thread *th, int func,
		    const struct breakpoint *bp, struct user_regs_struct *regs,
		    uint64_t rss)
{
	uint64_t ret_addr;

	if (th->depth && th->frames[th->depth - 1].func == func &&
	    th->frames[th->depth - 1].sp == regs->rsp) {
		graph_at(s, th, 0);
		types_at_return(s, th, regs);
		pop_frame(s, th, rss);
	}
	if (target_read(&th->proc->target, regs->rsp, &ret_addr,
			sizeof(ret_addr)) < 0) {
		step_over(s, th, bp);
		return;
	}
	regs->rip = ret_addr;
	regs->rsp += 8 + bp->ret_pop;
	if (target_set_regs(th->tid, regs) == 0)
		target_resume(th->tid, 0);
}

/* Returns that are not the function's own ret: a tail call, the
 * allocator's. A breakpoint waits at the return address itself, the
 * caller's next instruction, so that the stack is never altered: an
 * exception's unwinder or a longjmp sees true return addresses, and a
 * call they skip is ended when its thread is seen above it. The
 * breakpoint is in a process's memory only while one of its threads
 * waits there. */

/* Whether a thread of P waits for a return to ADDR. */
bool return_awaited(const struct session *s, const struct process *p,
		    uint64_t addr)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *th = &s->threads[i];

		if (th->proc != p)
			continue;
		for (size_t j = 0; j < th->depth; j++) {
			if (th->frames[j].ret_addr == addr)
				return true;
		}
		for (size_t j = 0; j < th->nallocs; j++) {
			if (th->allocs[j].ret == addr)
				return true;
		}
	}
	return false;
}

/* A call of TH will come back to ADDR: the breakpoint there is set. */
bool await_return(struct session *s, struct thread *th, uint64_t addr)
{
	struct process *p = th->proc;
	struct image *img = p->image;
	struct breakpoint *bp = bp_find(img->bps, addr);

	if (!bp) {
		bp = bp_get(img->bps, &p->target, addr, NULL);
		if (!bp)
			return false;
	} else if (bp->jump_len) {
		/* a line site's jump: its stub records no rax, the return
		 * must stop. Its first byte is a breakpoint until no call
		 * waits there (on_breakpoint puts the jump back) */
		static const uint8_t insn = BP_INSN;

		if (target_write(&p->target, addr, &insn, 1) < 0)
			return false;
	} else if (bp->roles == BP_CALLER &&
		   bp_set_armed(bp, &p->target, true) < 0) {
		return false;
	}
	bp->roles |= BP_CALLER;
	/* the instruction there runs out of line like any other */
	if (!bp->placed && !s->opts->step) {
		size_t before = img->stepped_sites;

		image_place_copies(img, &p->target, th->tid);
		s->stats.stepped_sites += img->stepped_sites - before;
	}
	return true;
}

/* No call of P waits for ADDR any more (if none does): its breakpoint
 * goes, unless it has other roles. */
static void release_return(struct session *s, const struct process *p,
			   uint64_t addr)
{
	struct breakpoint *bp = p->image ? bp_find(p->image->bps, addr) : NULL;

	if (bp && bp->roles == BP_CALLER && !return_awaited(s, p, addr))
		bp_set_armed(bp, &p->target, false);
}

/* TH is at return address BP->addr: the allocator's call that returned
 * there ends, the calls that were left by a tail call and returned there
 * end, and so do the ones the thread is above now (an exception, a
 * longjmp). */
void on_return_site(struct session *s, struct thread *th,
		    const struct breakpoint *bp,
		    const struct user_regs_struct *regs)
{
	uint64_t sp = regs->rsp;

	/* the ret popped the address: the call's sp is 8 below */
	while (th->nallocs && th->allocs[th->nallocs - 1].sp < sp) {
		struct alloc_call c = th->allocs[--th->nallocs];

		if (c.sp + 8 == sp && c.ret == bp->addr) {
			alloc_returned(s, th, &c, regs->rax);
			s->stats.alloc_stops++;
		}
		release_return(s, th->proc, c.ret);
	}
	if (th->depth && th->frames[th->depth - 1].sp + 8 == sp &&
	    th->frames[th->depth - 1].ret_addr == bp->addr)
		types_at_return(s, th, regs);
	if (th->depth && th->frames[th->depth - 1].sp < sp)
		pop_dead_frames(s, th, sp, thread_sample(s, th));
}

/* The call of frame F will end at its return address (a breakpoint
 * waits there): whether it could be set. */
static bool await_caller(struct session *s, struct thread *th, struct frame *f)
{
	uint64_t ret;

	if (f->ret_addr ||
	    target_read(&th->proc->target, f->sp, &ret, sizeof(ret)) < 0 ||
	    !await_return(s, th, ret))
		return false;
	f->ret_addr = ret;
	return true;
}

/* Where the call at ADDR in PF returns to; 0 when ADDR is no call. */
static uint64_t call_return_addr(const struct profiled_func *pf, uint64_t addr)
{
	for (size_t i = 0; i < pf->ninsns; i++) {
		if (pf->insns[i].addr == addr)
			return pf->insns[i].flow == FLOW_CALL
				       ? addr + pf->insns[i].len
				       : 0;
	}
	return 0;
}

/* The function jumps to another one, which will return to our caller:
 * the call goes on until then. With the stack not as at entry, or no
 * breakpoint possible at the return address, it ends here. */
void tail_call(struct session *s, struct thread *th,
	       const struct profiled_func *pf, const struct breakpoint *bp,
	       const struct user_regs_struct *regs, uint64_t rss)
{
	struct frame *f = &th->frames[th->depth - 1];
	uint64_t ret;

	/* leaving an inlined copy's code ends its call; by a call, when
	 * that returns (and the thread is seen above its stack pointer) */
	if (f->inlined) {
		ret = call_return_addr(pf, bp->addr);
		if (bp->cond != EXIT_AFTER_CALL || !ret || f->ret_addr ||
		    !await_return(s, th, ret)) {
			pop_frame(s, th, rss);
			return;
		}
		f->sp = regs->rsp - 8;
		f->ret_addr = ret;
		return;
	}
	if (f->sp != regs->rsp || f->ret_addr ||
	    target_read(&th->proc->target, regs->rsp, &ret, sizeof(ret)) < 0 ||
	    !await_return(s, th, ret)) {
		pop_frame(s, th, rss);
		return;
	}
	f->ret_addr = ret;
}

/* Whether condition code CC (as in jcc) holds for FLAGS. */
static bool condition_holds(int cc, uint64_t flags)
{
	bool cf = flags & 0x1, pf = flags & 0x4, zf = flags & 0x40,
	     sf = flags & 0x80, of = flags & 0x800;
	bool holds;

	switch (cc >> 1) {
	case 0:
		holds = of;
		break;
	case 1:
		holds = cf;
		break;
	case 2:
		holds = zf;
		break;
	case 3:
		holds = cf || zf;
		break;
	case 4:
		holds = sf;
		break;
	case 5:
		holds = pf;
		break;
	case 6:
		holds = sf != of;
		break;
	default:
		holds = zf || sf != of;
		break;
	}
	return (cc & 1) ? !holds : holds;
}

/* Whether the jump under a BP_EXIT breakpoint leaves the function now:
 * a jmp always, a jcc when its condition holds. */
bool leaves(const struct thread *th, const struct profiled_func *pf,
	    const struct breakpoint *bp, const struct user_regs_struct *regs)
{
	const struct frame *top = th->depth ? &th->frames[th->depth - 1] : NULL;

	if (!top || top->func != pf->acct)
		return false;
	return bp->cond < 0 || condition_holds(bp->cond, regs->eflags);
}

/* The thread goes on past the breakpoint's instruction. */
void resume_past(struct session *s, struct thread *th,
		 const struct breakpoint *bp)
{
	/* the program's own int3 under ours: it gets its SIGTRAP, past the
	 * int3, as without us (stepping it would trap here again) */
	if (bp->orig == 0xcc) {
		if (target_set_pc(th->tid, bp->addr + 1) == 0)
			target_resume(th->tid, SIGTRAP);
		return;
	}
	if (!bp->resume) {
		step_over(s, th, bp);
		return;
	}
	if (target_set_pc(th->tid, bp->resume) == 0)
		target_resume(th->tid, 0);
}

/* --heap: the allocator's entries and returns, and the blocks they make. */
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

/* The allocator's entry points, in the order of enum alloc_kind. */
enum alloc_kind {
	ALLOC_MALLOC,
	ALLOC_CALLOC,
	ALLOC_REALLOC,
	ALLOC_REALLOCARRAY,
	ALLOC_FREE,
	ALLOC_POSIX_MEMALIGN,
	ALLOC_ALIGNED_ALLOC,
	ALLOC_MEMALIGN,
	ALLOC_VALLOC,
	NALLOC_KINDS
};

static const char *const alloc_names[NALLOC_KINDS] = {
	"malloc",	  "calloc",	   "realloc",  "reallocarray", "free",
	"posix_memalign", "aligned_alloc", "memalign", "valloc",
};

/* --heap: breakpoints on the allocator's entry points, in whichever
 * module defines them (the program itself first: a static binary, or an
 * allocator of its own; then a library, libc last). */
void find_allocs(struct session *s, struct process *p, pid_t tid)
{
	struct image *img = p->image;
	char link[64], exe[4096];
	const char *base;
	ssize_t len;

	if (!s->heap || !img || p->allocs_found)
		return;
	snprintf(link, sizeof(link), "/proc/%d/exe", p->target.pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	for (int k = 0; k < NALLOC_KINDS; k++) {
		uint64_t addr = debuginfo_symbol(img->di, base, alloc_names[k]);
		struct breakpoint *bp;

		if (!addr)
			addr = debuginfo_symbol(img->di, "", alloc_names[k]);
		if (!addr || !(bp = bp_get(img->bps, &p->target, addr, NULL)))
			continue;
		bp->roles |= BP_ALLOC;
		bp->alloc_kind = (int8_t)k;
		p->allocs_found = true;
	}
	arm_allocs(s, p);
	if (!s->opts->step)
		image_place_copies(img, &p->target, tid);
}

/* An allocator function is entered by a thread in a profiled call. free
 * is accounted at once; the others when they return, at their return
 * address. */
void on_alloc(struct session *s, struct thread *th, const struct breakpoint *bp,
	      const struct user_regs_struct *regs)
{
	struct alloc_call c = {.kind = bp->alloc_kind, .sp = regs->rsp};

	/* the allocator calling itself (realloc to malloc): one call */
	if (th->nallocs)
		return;
	/* outside profiled calls only what happens to their blocks counts */
	if (!th->depth &&
	    !(frees(c.kind) && account_heap_has(s->acct, regs->rdi)))
		return;
	switch (c.kind) {
	case ALLOC_FREE:
		account_heap_free(s->acct, th->tid, regs->rdi);
		if (!account_heap_blocks(s->acct))
			arm_allocs(s, th->proc);
		return;
	case ALLOC_MALLOC:
	case ALLOC_VALLOC:
		c.size = regs->rdi;
		break;
	case ALLOC_CALLOC:
		c.size = regs->rdi * regs->rsi;
		break;
	case ALLOC_REALLOC:
		c.old = regs->rdi;
		c.size = regs->rsi;
		break;
	case ALLOC_REALLOCARRAY:
		c.old = regs->rdi;
		c.size = regs->rsi * regs->rdx;
		break;
	case ALLOC_POSIX_MEMALIGN:
		c.memptr = regs->rdi;
		c.size = regs->rdx;
		break;
	default: /* aligned_alloc, memalign */
		c.size = regs->rsi;
		break;
	}
	if (target_read(&th->proc->target, regs->rsp, &c.ret, sizeof(c.ret)) <
		    0 ||
	    !await_return(s, th, c.ret))
		return;
	th->allocs[th->nallocs++] = c;
}

/* Whether an allocator entry of kind KIND is one that frees. */
bool frees(int kind)
{
	return kind == ALLOC_FREE || kind == ALLOC_REALLOC ||
	       kind == ALLOC_REALLOCARRAY;
}

/* The allocator call C returned RESULT. */
void alloc_returned(struct session *s, struct thread *th,
		    const struct alloc_call *c, uint64_t result)
{
	uint64_t ptr = result;

	switch (c->kind) {
	case ALLOC_REALLOC:
	case ALLOC_REALLOCARRAY:
		/* outside profiled calls, a block of theirs moves */
		if (!th->depth) {
			if (result)
				account_heap_move(s->acct, c->old, result,
						  c->size);
			else if (c->size == 0)
				account_heap_free(s->acct, th->tid, c->old);
			return;
		}
		/* the old block is gone when a new one came, or size 0 */
		if (c->old && (result || c->size == 0))
			account_heap_free(s->acct, th->tid, c->old);
		break;
	case ALLOC_POSIX_MEMALIGN:
		ptr = 0;
		if (result == 0)
			target_read(&th->proc->target, c->memptr, &ptr,
				    sizeof(ptr));
		break;
	default:
		break;
	}
	if (ptr)
		account_heap_alloc(s->acct, th->tid, ptr, c->size);
}

/* --heap: the allocator's breakpoints are in place only while a profiled
 * function runs in the process; those that free, also while blocks made
 * in profiled calls are live (to tell what is leaked). */
void arm_allocs(struct session *s, struct process *p)
{
	bool calls = p->open_calls > 0;
	bool live = account_heap_blocks(s->acct) > 0;
	size_t cursor = 0;
	struct breakpoint *bp;

	if (!p->image || p->leaving)
		return;
	p->allocs_armed = calls;
	p->frees_armed = calls || live;
	while ((bp = bp_next(p->image->bps, &cursor))) {
		if (bp->roles & BP_ALLOC)
			bp_set_armed(bp, &p->target,
				     frees(bp->alloc_kind) ? p->frees_armed
							   : p->allocs_armed);
	}
}

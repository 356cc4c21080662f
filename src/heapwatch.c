/* --heap: the allocator's entries and returns, and the blocks they make. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "allocsites.h"
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
/* Where allocator function KIND lies in P, and its size in *SIZE: in the
 * program itself first, then in any module. */
static uint64_t alloc_symbol(const struct process *p, int kind, uint64_t *size)
{
	char link[64], exe[4096];
	const char *base;
	ssize_t len;
	uint64_t addr;

	snprintf(link, sizeof(link), "/proc/%d/exe", p->target.pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	addr = debuginfo_symbol_size(p->image->di, base, alloc_names[kind],
				     size);
	if (!addr)
		addr = debuginfo_symbol_size(p->image->di, "",
					     alloc_names[kind], size);
	return addr;
}

void find_allocs(struct session *s, struct process *p, pid_t tid)
{
	struct image *img = p->image;

	if (!s->heap || !img || p->allocs_found)
		return;
	for (int k = 0; k < NALLOC_KINDS; k++) {
		uint64_t addr = alloc_symbol(p, k, NULL);
		struct breakpoint *bp;

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

/* An allocator function of kind KIND is entered by thread TH at SP,
 * with arguments A: whether it is a call to follow to its return, as C.
 * free is accounted at once. */
static bool alloc_begins(struct session *s, struct thread *th, int kind,
			 uint64_t sp, const uint64_t a[3], struct alloc_call *c)
{
	*c = (struct alloc_call){.kind = kind, .sp = sp};

	/* the allocator calling itself (realloc to malloc): one call */
	if (th->nallocs)
		return false;
	/* outside profiled calls only what happens to their blocks counts */
	if (!th->depth && !(frees(kind) && account_heap_has(s->acct, a[0])))
		return false;
	s->stats.alloc_calls++;
	switch (kind) {
	case ALLOC_FREE:
		account_heap_free(s->acct, th->tid, a[0]);
		/* the last live block gone outside profiled calls: free
		 * need not be watched (within them it stays watched) */
		if (!account_heap_blocks(s->acct) && th->proc->frees_armed &&
		    !th->proc->allocs_armed)
			arm_allocs(s, th->proc);
		return false;
	case ALLOC_MALLOC:
	case ALLOC_VALLOC:
		c->size = a[0];
		break;
	case ALLOC_CALLOC:
		c->size = a[0] * a[1];
		break;
	case ALLOC_REALLOC:
		c->old = a[0];
		c->size = a[1];
		break;
	case ALLOC_REALLOCARRAY:
		c->old = a[0];
		c->size = a[1] * a[2];
		break;
	case ALLOC_POSIX_MEMALIGN:
		c->memptr = a[0];
		c->size = a[2];
		break;
	default: /* aligned_alloc, memalign */
		c->size = a[1];
		break;
	}
	return true;
}

/* An allocator function is entered, at its breakpoint: its return is
 * awaited at the return address. */
void on_alloc(struct session *s, struct thread *th, const struct breakpoint *bp,
	      const struct user_regs_struct *regs)
{
	const uint64_t a[3] = {regs->rdi, regs->rsi, regs->rdx};
	struct alloc_call c;

	if (!alloc_begins(s, th, bp->alloc_kind, regs->rsp, a, &c))
		return;
	if (target_read(&th->proc->target, regs->rsp, &c.ret, sizeof(c.ret)) <
		    0 ||
	    !await_return(s, th, c.ret))
		return;
	th->allocs[th->nallocs++] = c;
}

/* The same, recorded in the ring by the stub at its entry or at one of
 * its rets (BP). Calls followed so have no return address (ret 0); both
 * records have the sp at entry. */
void alloc_record(struct session *s, struct thread *th,
		  const struct breakpoint *bp, const struct ring_record *rec)
{
	struct alloc_call c;

	s->stats.alloc_records++;
	/* calls of ours deeper than this one have returned */
	while (th->nallocs && !th->allocs[th->nallocs - 1].ret &&
	       th->allocs[th->nallocs - 1].sp < rec->sp)
		th->nallocs--;
	if (rec->kind == RING_ALLOC_ENTRY) {
		if (alloc_begins(s, th, bp->alloc_kind, rec->sp, rec->regs,
				 &c) &&
		    th->nallocs < sizeof(th->allocs) / sizeof(th->allocs[0]))
			th->allocs[th->nallocs++] = c;
		return;
	}
	/* a tail call (realloc to malloc) returns through the callee's
	 * ret, with the caller's sp */
	if (th->nallocs && !th->allocs[th->nallocs - 1].ret &&
	    th->allocs[th->nallocs - 1].sp == rec->sp) {
		c = th->allocs[--th->nallocs];
		alloc_returned(s, th, &c, rec->regs[0]);
	}
}

/* Whether an allocator entry of kind KIND is one that frees. */
bool frees(int kind)
{
	return kind == ALLOC_FREE || kind == ALLOC_REALLOC ||
	       kind == ALLOC_REALLOCARRAY;
}

/* PTR came back from an allocator call of TH while another thread's
 * realloc of the block at PTR has not returned: it freed that block
 * inside, before its return is seen. Its free is that call's, on its
 * line, now, rather than the new block's (and the realloc's return
 * must not free the new one). */
static void realloc_freed_before(struct session *s, const struct thread *th,
				 uint64_t ptr)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *other = &s->threads[i];

		if (other == th || other->proc != th->proc || !other->depth)
			continue;
		for (size_t j = 0; j < other->nallocs; j++) {
			struct alloc_call *c = &other->allocs[j];

			if ((c->kind == ALLOC_REALLOC ||
			     c->kind == ALLOC_REALLOCARRAY) &&
			    c->old == ptr) {
				account_heap_free(s->acct, other->tid, ptr);
				c->old = 0;
			}
		}
	}
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
	if (!ptr)
		return;
	realloc_freed_before(s, th, ptr);
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
		if ((bp->roles & BP_ALLOC) && !bp->jump_len)
			bp_set_armed(bp, &p->target,
				     frees(bp->alloc_kind) ? p->frees_armed
							   : p->allocs_armed);
	}
	if (!p->ring.hdr)
		return;
	/* the stubs see it at their next call; entry stubs add theirs to
	 * allocs_armed at the same time */
	if (p->ring.counted != calls) {
		if (calls)
			__atomic_add_fetch(&p->ring.hdr->allocs_armed, 1,
					   __ATOMIC_SEQ_CST);
		else
			__atomic_sub_fetch(&p->ring.hdr->allocs_armed, 1,
					   __ATOMIC_SEQ_CST);
		p->ring.counted = calls;
	}
	__atomic_store_n(&p->ring.hdr->frees_armed, p->frees_armed,
			 __ATOMIC_RELEASE);
	/* calls through the ring whose returns are not recorded now: none
	 * of them counts any more (no profiled call is open, none of their
	 * blocks is live) */
	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *th = &s->threads[i];
		size_t kept = 0;

		for (size_t j = 0; th->proc == p && j < th->nallocs; j++) {
			const struct alloc_call *c = &th->allocs[j];

			if (c->ret ||
			    (frees(c->kind) ? p->frees_armed : p->allocs_armed))
				th->allocs[kept++] = *c;
		}
		if (th->proc == p)
			th->nallocs = kept;
	}
}

/* Why the calls of allocator function BP (of P) cannot go through the
 * ring, or NULL once they do: a jump to a stub at its entry, and at
 * each of its rets (unless it only frees: free needs no return). */
static const char *take_calls(struct session *s, struct process *p, pid_t tid,
			      struct breakpoint *bp, const uint64_t *entries,
			      size_t nentries, const uint64_t *pcs, size_t npcs)
{
	struct image *img = p->image;
	const int kind = bp->alloc_kind;
	/* the freeing ones test both words: a call may have begun that
	 * memprof has not seen yet (realloc makes a block) */
	struct stub_alloc entry = {
		.wide = frees(kind),
		.armed = offsetof(struct ring_header, allocs_armed)};
	struct breakpoint *rets[ALLOC_MAX_RETS];
	struct alloc_sites as;
	const char *why = NULL;
	struct stub st;
	uint64_t size = 0, addr = alloc_symbol(p, kind, &size);
	uint8_t *code;
	size_t placed = 0;

	bp->jump_tried = true;
	if (addr != bp->addr || !size || size > 65536)
		return "no size known";
	code = xmalloc(size);
	if (target_read(&p->target, addr, code, size) < 0) {
		free(code);
		return "unreadable";
	}
	/* the original under our int3s */
	for (uint64_t a = addr; a < addr + size; a++) {
		const struct breakpoint *in = bp_find(img->bps, a);

		if (in && code[a - addr] == BP_INSN)
			code[a - addr] = in->orig;
	}
	if (alloc_sites_find(code, size, addr, entries, nentries,
			     kind == ALLOC_FREE, &as) < 0)
		why = as.why;
	if (!why && stub_build_alloc(&st, addr, p->ring.addr, addr, code, size,
				     &entry) < 0)
		why = "its first instructions cannot move";
	if (!why && !alloc_sites_clear(&as, addr, addr + st.covered - 1))
		why = "a jump into its first instructions";
	for (size_t i = 0; !why && i < as.nrets; i++) {
		const struct alloc_ret *r = &as.rets[i];
		struct stub_alloc ret = {
			.ret = true,
			.wide = entry.wide,
			.armed = entry.armed,
			.sp_adjust = r->sp_adjust,
			.run = r->run,
		};
		const uint8_t *at = code + (r->site - addr);

		if (r->site < addr + st.covered ||
		    !(rets[placed] =
			      bp_get(img->bps, &p->target, r->site, at))) {
			why = "a ret too close to its entry";
			break;
		}
		rets[placed]->roles |= BP_ALLOC_RET;
		rets[placed]->alloc_kind = (int8_t)kind;
		if (!image_place_alloc_jump(
			    img, &p->target, tid, rets[placed], p->ring.addr,
			    at, addr + size - r->site, &ret, pcs, npcs)) {
			bp_drop_role(img->bps, &p->target, rets[placed],
				     BP_ALLOC_RET);
			why = "a ret that cannot take a jump now";
			break;
		}
		placed++;
	}
	if (!why &&
	    !image_place_alloc_jump(img, &p->target, tid, bp, p->ring.addr,
				    code, size, &entry, pcs, npcs))
		why = "an entry that cannot take a jump now";
	/* all or nothing: a call recorded at its entry returns recorded */
	while (why && placed--) {
		struct breakpoint *r = rets[placed];

		target_write(&p->target, r->addr, r->jump_orig, r->jump_len);
		r->jump_len = 0;
		bp_drop_role(img->bps, &p->target, r, BP_ALLOC_RET);
	}
	/* its returns stop at the caller, as with a breakpoint: its entry
	 * traps in a stub, only while the stubs record (a breakpoint would
	 * have to be put in place by memprof when a call begins) */
	if (why && !bp->jump_len) {
		entry.trap = true;
		image_place_alloc_jump(img, &p->target, tid, bp, p->ring.addr,
				       code, size, &entry, pcs, npcs);
	}
	alloc_sites_free(&as);
	free(code);
	return why;
}

/* --heap with --engine jump: the allocator's calls go through the ring
 * where its functions allow; those that do not keep their breakpoints
 * (said by --stats). Every thread of P is stopped, at one of the NPCS
 * addresses PCS. */
void jump_allocs(struct session *s, struct process *p, pid_t tid,
		 const uint64_t *pcs, size_t npcs)
{
	struct breakpoint *bp, *found[NALLOC_KINDS] = {0};
	uint64_t entries[NALLOC_KINDS];
	size_t nentries = 0, cursor = 0;
	bool any = false;

	if (!s->heap || !p->image || !p->ring.hdr || p->image->refs > 1)
		return;
	while ((bp = bp_next(p->image->bps, &cursor))) {
		if ((bp->roles & BP_ALLOC) && bp->alloc_kind >= 0 &&
		    bp->alloc_kind < NALLOC_KINDS) {
			found[bp->alloc_kind] = bp;
			entries[nentries++] = bp->addr;
		}
	}
	for (int k = 0; k < NALLOC_KINDS; k++) {
		char *st = s->stats.alloc_stopping;
		size_t used = strlen(st);
		const char *why;

		if (!found[k] || found[k]->jump_tried ||
		    found[k]->alloc_kind != k)
			continue;
		why = take_calls(s, p, tid, found[k], entries, nentries, pcs,
				 npcs);
		any |= found[k]->jump_len != 0;
		if (why)
			snprintf(st + used,
				 sizeof(s->stats.alloc_stopping) - used,
				 "%s%s (%s)", used ? ", " : "", alloc_names[k],
				 why);
	}
	if (any)
		arm_allocs(s, p);
}

/* Whether the allocator was found in P and every function of it has a
 * jump at its entry (to a stub that records, or traps): then a profiled
 * function's entry need not stop to arm them, its stub counts the call
 * (struct ring_header). */
bool allocs_jump(const struct process *p)
{
	const struct breakpoint *bp;
	size_t cursor = 0;
	bool any = false;

	if (!p->image || !p->ring.hdr)
		return false;
	while ((bp = bp_next(p->image->bps, &cursor))) {
		if (!(bp->roles & BP_ALLOC))
			continue;
		if (!bp->jump_len)
			return false;
		any = true;
	}
	return any;
}

/* The stop path. Every stop is classified once by the target module and
 * handled here by kind; a breakpoint stop is the only one on the hot path
 * and reads RSS at most once. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "profiler.h"
#include "suggest.h"
#include "util.h"

#define PAGE_ROUND(n) (((n) + 4095u) & ~(uint64_t)4095u)

static bool frees(int kind);
static void arm_allocs(struct session *s, struct process *p);
static bool await_return(struct session *s, struct thread *th, uint64_t addr);

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int program_error(struct session *s, int status, const char *fmt,
			 const char *arg)
{
	fprintf(stderr, "memprof: ");
	fprintf(stderr, fmt, s->command[0], arg);
	fputc('\n', stderr);
	return status;
}

/* RSS of P now, for a line event (or an entry, a return). With --peak
 * the high-water mark since the last event is given to the open calls
 * first, then reset, so that each line gets the peak of its own run. */
static uint64_t sample(struct session *s, struct process *p)
{
	uint64_t rss = sampler_rss(&p->sampler);

	if (s->peak) {
		uint64_t hwm = sampler_peak(&p->sampler);

		account_peak(s->acct, p->target.pid, hwm > rss ? hwm : rss);
		sampler_reset_peak(&p->sampler);
	}
	return rss;
}

/* Processes */

static struct process *process_new(struct session *s, pid_t pid)
{
	struct process *p = xcalloc(1, sizeof(*p));

	p->target.mem_fd = -1;
	p->sampler.statm_fd = -1;
	if (target_open(&p->target, pid) < 0 ||
	    sampler_open(&p->sampler, pid) < 0) {
		target_close(&p->target);
		sampler_close(&p->sampler);
		free(p);
		return NULL;
	}
	s->procs = xrealloc(s->procs, (s->nprocs + 1) * sizeof(*s->procs));
	s->procs[s->nprocs++] = p;
	return p;
}

static struct process *process_find(const struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i]->target.pid == pid)
			return s->procs[i];
	}
	return NULL;
}

static void process_free(struct process *p)
{
	ring_close(&p->ring);
	agent_free(&p->target);
	image_put(p->image);
	target_close(&p->target);
	sampler_close(&p->sampler);
	free(p);
}

static void process_remove(struct session *s, struct process *p)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i] == p) {
			s->procs[i] = s->procs[--s->nprocs];
			break;
		}
	}
	process_free(p);
}

/* Functions */

static int new_func(void *arg, const struct func_info *fi)
{
	struct session *s = arg;

	if (fi->inlined_calls)
		warn_msg("%s is also inlined at %u place%s: calls there are "
			 "charged to the lines that call it, not to its table",
			 fi->name, fi->inlined_calls,
			 fi->inlined_calls > 1 ? "s" : "");
	return account_add_func(s->acct, fi->name, fi->file, fi->decl_line,
				fi->last_line);
}

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
static void find_allocs(struct session *s, struct process *p, pid_t tid)
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
static void on_alloc(struct session *s, struct thread *th,
		     const struct breakpoint *bp,
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
static bool frees(int kind)
{
	return kind == ALLOC_FREE || kind == ALLOC_REALLOC ||
	       kind == ALLOC_REALLOCARRAY;
}

/* The allocator call C returned RESULT. */
static void alloc_returned(struct session *s, struct thread *th,
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

/* Says why SPEC was not found (RES, with MSG from the lookup); returns
 * memprof's exit status for it. */
static int report_missing(struct session *s, const char *spec,
			  enum debuginfo_result res, const char *msg)
{
	switch (res) {
	case DI_INLINED:
		warn_msg(
			"%s is inlined everywhere in %s and has no code of its "
			"own: its calls are charged to the lines that call it "
			"(rebuild with -fno-inline, or mark it "
			"__attribute__((noinline)), to profile it)",
			spec, s->command[0]);
		break;
	case DI_BAD_DWARF:
		warn_msg("%s: its debug information cannot be read (%s); "
			 "rebuild it with -g",
			 s->command[0], msg);
		break;
	case DI_NO_LINES:
		warn_msg("%s: no DWARF line information%s; rebuild it with -g "
			 "or install its debug symbols",
			 s->command[0], msg ? msg : "");
		break;
	default:
		if (msg)
			warn_msg("no function '%s' in %s; did you mean: %s",
				 spec, s->command[0], msg);
		else
			warn_msg("no function '%s' in %s (one of a library "
				 "loaded later, with dlopen, is given as "
				 "LIB:NAME)",
				 spec, s->command[0]);
		break;
	}
	/* memprof run has no -f */
	if (res != DI_INLINED && !s->opts->follow_forks &&
	    !s->opts->calls_only && suggest_is_launcher(s->command[0]))
		warn_msg("hint: %s starts other programs: to profile the one "
			 "it starts, add -f",
			 s->command[0]);
	return EXIT_PROGRAM;
}

/* Looks every --func not found yet up in P's image and arms what it
 * finds. With REQUIRED, the first one missing (a library's function
 * excepted: it may come with dlopen) is said and its exit status
 * returned; otherwise 0. */
static int search_specs(struct session *s, struct process *p, pid_t tid,
			bool required)
{
	struct image *img = p->image;
	int ret = 0;

	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		const char *spec = s->opts->funcs[i];
		char *msg = NULL;
		enum debuginfo_result res;

		if (img->spec_found[i])
			continue;
		res = image_add(img, &p->target, spec,
				s->opts->calls_only   ? ARM_CALLS
				: s->opts->every_insn ? ARM_EVERY_INSN
						      : ARM_LINES,
				new_func, s, &msg);
		if (res == DI_FOUND) {
			s->found[i] = img->spec_found[i] = true;
		} else if (res == DI_ERROR) {
			ret = program_error(s, EXIT_INTERNAL, "%s: %s", msg);
		} else if (required && !ret &&
			   !debuginfo_spec_is_library(spec)) {
			ret = report_missing(s, spec, res, msg);
		}
		free(msg);
		if (ret)
			return ret;
	}
	size_t before = img->stepped_sites;
	if (!s->opts->step && image_place_copies(img, &p->target, tid) < 0)
		warn_msg("cannot map an out-of-line area (%s); stepping "
			 "instead",
			 strerror(errno));
	s->stats.stepped_sites += img->stepped_sites - before;
	return 0;
}

static bool all_found(const struct session *s, const struct image *img)
{
	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		if (!img->spec_found[i])
			return false;
	}
	return true;
}

/* How many threads of P are known. */
static size_t threads_of(const struct session *s, const struct process *p)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++)
		n += s->threads[i].proc == p;
	return n;
}

/* --engine jump: the ring of process P, and a jump to a stub for every
 * line site that can take one. Every thread of P is stopped; TID is one
 * of them. */
static void place_jumps(struct session *s, struct process *p, pid_t tid)
{
	struct image *img = p->image;
	uint64_t *pcs;
	size_t n = 0;

	if (!s->jump || !img || !img->nfuncs)
		return;
	if (!p->ring.hdr) {
		if (!img->scratch)
			img->scratch = image_scratch(img, &p->target, tid);
		if (!img->scratch ||
		    ring_open(&p->ring, &p->target, tid, img->ring_addr,
			      img->scratch) < 0) {
			warn_msg("cannot map a ring for line events into %s "
				 "(%s): every line event stops it",
				 s->command[0], strerror(errno));
			s->jump = false;
			return;
		}
		img->ring_addr = p->ring.addr;
		p->sampler.hidden = PAGE_ROUND(RING_BYTES);
	}
	pcs = xcalloc(s->nthreads + 1, sizeof(*pcs));
	for (size_t i = 0; i < s->nthreads; i++) {
		struct user_regs_struct regs;

		if (s->threads[i].proc == p &&
		    target_get_regs(s->threads[i].tid, &regs) == 0)
			pcs[n++] = regs.rip;
	}
	/* with --heap an entry arms the allocator's breakpoints: it has to
	 * be known at once */
	s->stats.jump_sites += image_place_jumps(
		img, &p->target, tid, p->ring.addr, !s->heap, pcs, n);
	free(pcs);
}

/* Loads the image process P runs now and arms every --func found in it.
 * With REQUIRED, a function or debug information missing is an error,
 * once the libraries linked at start are there too; otherwise it may
 * come with a later image. Returns 0 or an exit status. */
/* Whether P runs a program memprof can profile (x86-64), or one it
 * cannot read (left to the loading, which says why). */
static bool program_fits(const struct process *p)
{
	char exe[64], *why = NULL;
	bool fits;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->target.pid);
	fits = access(exe, R_OK) != 0 || target_check_elf(exe, &why);
	free(why);
	return fits;
}

static int load_image(struct session *s, struct process *p, pid_t tid,
		      bool required)
{
	char *err = NULL, exe[64];
	struct image *img;
	int ret;

	/* a program executed later may be one memprof cannot work in: it
	 * runs on, unprofiled */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->target.pid);
	if (access(exe, R_OK) == 0 && !target_check_elf(exe, &err)) {
		char path[4096];
		ssize_t len = readlink(exe, path, sizeof(path) - 1);

		path[len > 0 ? len : 0] = '\0';
		warn_msg("%s: %s%s", len > 0 ? path : exe,
			 err ? err : "not an ELF program",
			 required ? "" : "; it runs unprofiled");
		free(err);
		return required ? EXIT_PROGRAM : 0;
	}
	img = image_open(p->target.pid, &err);
	if (!img) {
		ret = program_error(s, EXIT_PROGRAM, "%s: %s", err);
		free(err);
		return required ? ret : 0;
	}
	p->image = img;
	img->spec_found = xcalloc(s->opts->nfuncs + 1, sizeof(bool));
	/* attached to a running process, its libraries are there already */
	img->libs_loaded = s->opts->pid != 0;
	ret = search_specs(s, p, tid, required && img->libs_loaded);
	if (ret)
		return ret;
	/* --heap: the allocator is there already in a static program, or
	 * in a process we attach to; otherwise it comes with libc */
	if (s->heap &&
	    (img->libs_loaded || !image_watch_loader(img, &p->target)))
		find_allocs(s, p, tid);
	if (all_found(s, img)) {
		place_jumps(s, p, tid);
		return 0;
	}
	/* the rest may be in libraries the dynamic linker maps later */
	if (image_watch_loader(img, &p->target)) {
		if (!s->opts->step)
			image_place_copies(img, &p->target, tid);
		place_jumps(s, p, tid);
		return 0;
	}
	ret = search_specs(s, p, tid, required);
	if (!ret)
		place_jumps(s, p, tid);
	return ret;
}

/* The dynamic linker says that libraries changed: functions are looked
 * up in the new ones. Once the libraries linked at start are there,
 * one still missing is an error where it would have been at start. */
static void on_loader(struct session *s, struct thread *th)
{
	struct process *p = th->proc;
	struct image *img = p->image;
	int32_t state = -1;

	if (target_read(&p->target, img->loader_state, &state, sizeof(state)) <
		    0 ||
	    state != 0 /* RT_CONSISTENT */)
		return;
	debuginfo_refresh(img->di);
	/* a library closed (dlclose): its functions are looked up again
	 * when it comes back, maybe elsewhere. Processes that share the
	 * image may still have it, so only a process of its own forgets. */
	if (img->refs == 1 && image_forget_unmapped(img, &p->target)) {
		for (size_t i = 0; i < s->opts->nfuncs; i++)
			img->spec_found[i] = false;
	}
	/* a library unloaded: its sites are not to be written again */
	agent_forget_unmapped(&p->target);
	bool final =
		!img->libs_loaded && p == s->procs[0] && !s->opts->follow_forks;
	img->libs_loaded = true;
	find_allocs(s, p, th->tid);
	int ret = search_specs(s, p, th->tid, final);
	if (ret) {
		s->fatal = ret;
		s->done = true;
		return;
	}
	/* the other threads run on: only a lone one lets sites jump */
	if (threads_of(s, p) == 1)
		place_jumps(s, p, th->tid);
}

/* Threads */

static struct thread *thread_find(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	}
	return NULL;
}

static struct thread *thread_add(struct session *s, pid_t tid,
				 struct process *p)
{
	s->threads =
		xrealloc(s->threads, (s->nthreads + 1) * sizeof(*s->threads));
	s->threads[s->nthreads] = (struct thread){.tid = tid, .proc = p};
	return &s->threads[s->nthreads++];
}

/* The thread TID, learning its process when it is new. */
static struct thread *thread_get(struct session *s, pid_t tid)
{
	struct thread *th = thread_find(s, tid);
	struct process *p;

	if (th)
		return th;
	p = process_find(s, target_tgid(tid));
	return thread_add(s, tid, p ? p : s->procs[0]);
}

/* --heap: the allocator's breakpoints are in place only while a profiled
 * function runs in the process; those that free, also while blocks made
 * in profiled calls are live (to tell what is leaked). */
static void arm_allocs(struct session *s, struct process *p)
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

static void release_return(struct session *s, const struct process *p,
			   uint64_t addr);

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
static void thread_end(struct session *s, struct thread *th, uint64_t rss)
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
static void end_threads_of(struct session *s, const struct process *p,
			   uint64_t rss)
{
	for (size_t i = 0; i < s->nthreads;) {
		if (s->threads[i].proc == p)
			thread_end(s, &s->threads[i], rss);
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
	if (is_line_event(f, site))
		start_line(s, th, site->line, addr, rss);
	f->last_site = addr;
	/* only quiet code runs from here to the ret: the call ends now */
	if (site->returns)
		pop_frame(s, th, rss);
}

/* The seam of the two event sources: thread TH arrived at the site of BP
 * in PF with stack pointer SP, RSS being RSS, told by a stop at an int3
 * or by a record of the ring. A call begins there, or a line. */
static void site_event(struct session *s, struct thread *th,
		       const struct profiled_func *pf,
		       const struct breakpoint *bp, uint64_t sp, uint64_t rss)
{
	pop_dead_frames(s, th, sp, rss);
	const struct frame *top = th->depth ? &th->frames[th->depth - 1] : NULL;
	bool same_frame = top && top->func == pf->acct && top->sp == sp;

	if ((bp->roles & BP_ENTRY) && !((bp->roles & BP_LINE) && same_frame)) {
		enter(s, th, pf->acct, pf->info->decl_line, bp->addr, sp, rss);
		if (pf->info->entry_line)
			start_line(s, th, pf->info->entry_line, bp->addr, rss);
	} else if (bp->roles & BP_LINE) {
		line_site(s, th, pf, bp->addr, rss);
	}
}

/* The line events P recorded since the last drain, in the order they
 * were taken: before any stop of P is handled, so that each thread's
 * events stay in order. */
static void drain_ring(struct session *s, struct process *p)
{
	const struct ring_record *rec;

	while (p->ring.hdr && (rec = ring_peek(&p->ring))) {
		struct thread *th = thread_find(s, (pid_t)rec->tid);
		const struct breakpoint *bp =
			p->image ? bp_find(p->image->bps, rec->site) : NULL;

		/* a vfork child runs its parent's stubs: not followed */
		if (th && th->proc == p && bp && bp->func >= 0 &&
		    (bp->roles & (BP_LINE | BP_ENTRY))) {
			uint64_t rss = sampler_statm(&p->sampler, rec->statm,
						     rec->nread);
			const struct profiled_func *pf =
				&p->image->funcs[bp->func];

			site_event(s, th, pf, bp, rec->sp, rss);
			for (int i = 0; i < MAX_CHAINED && bp->chained[i]; i++)
				site_event(
					s, th, pf,
					bp_find(p->image->bps, bp->chained[i]),
					rec->sp, rss);
			s->stats.ring_events++;
		}
		ring_consumed(&p->ring);
	}
}

static void drain_rings(struct session *s)
{
	for (size_t i = 0; i < s->nprocs; i++)
		drain_ring(s, s->procs[i]);
}

/* The same before a stop is handled: a record taken but not yet written
 * (its thread is in the middle of its stub) holds back the ones after
 * it, which may be the stopped thread's own; running, its thread writes
 * it in a microsecond or two. Not waited for long: it may be stopped
 * itself (at a full ring, or by a signal inside its stub). */
static void drain_rings_before_stop(struct session *s)
{
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
}

static void dispatch(struct session *s, const struct stop *stop);

static void queue_stop(struct session *s, const struct stop *stop)
{
	if (s->nqueued == s->queued_cap) {
		s->queued_cap = s->queued_cap ? 2 * s->queued_cap : 8;
		s->queued =
			xrealloc(s->queued, s->queued_cap * sizeof(*s->queued));
	}
	s->queued[s->nqueued++] = *stop;
}

static bool is_queued(const struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nqueued; i++) {
		if (s->queued[i].tid == tid)
			return true;
	}
	return false;
}

/* The next stop: a queued one first; otherwise waits (BLOCK: through
 * signals). */
static int next_stop(struct session *s, struct stop *stop, bool block)
{
	if (s->nqueued) {
		*stop = s->queued[0];
		memmove(s->queued, s->queued + 1,
			--s->nqueued * sizeof(*s->queued));
		return 0;
	}
	return block ? target_wait(-1, stop) : target_wait_once(-1, stop);
}

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
static void step_over(struct session *s, struct thread *th,
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

/* A ret of a profiled function: its activation ends, and the ret is done
 * here, so that no step is needed. */
static void emulate_return(struct session *s, struct thread *th, int func,
			   const struct breakpoint *bp,
			   struct user_regs_struct *regs, uint64_t rss)
{
	uint64_t ret_addr;

	if (th->depth && th->frames[th->depth - 1].func == func &&
	    th->frames[th->depth - 1].sp == regs->rsp)
		pop_frame(s, th, rss);
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
static bool return_awaited(const struct session *s, const struct process *p,
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
static bool await_return(struct session *s, struct thread *th, uint64_t addr)
{
	struct process *p = th->proc;
	struct image *img = p->image;
	struct breakpoint *bp = bp_find(img->bps, addr);

	if (!bp) {
		bp = bp_get(img->bps, &p->target, addr, NULL);
		if (!bp)
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
static void on_return_site(struct session *s, struct thread *th,
			   const struct breakpoint *bp,
			   const struct user_regs_struct *regs)
{
	uint64_t sp = regs->rsp;

	/* the ret popped the address: the call's sp is 8 below */
	while (th->nallocs && th->allocs[th->nallocs - 1].sp < sp) {
		struct alloc_call c = th->allocs[--th->nallocs];

		if (c.sp + 8 == sp && c.ret == bp->addr)
			alloc_returned(s, th, &c, regs->rax);
		release_return(s, th->proc, c.ret);
	}
	if (th->depth && th->frames[th->depth - 1].sp < sp)
		pop_dead_frames(s, th, sp, sample(s, th->proc));
}

/* The function jumps to another one, which will return to our caller:
 * the call goes on until then. With the stack not as at entry, or no
 * breakpoint possible at the return address, it ends here. */
static void tail_call(struct session *s, struct thread *th,
		      const struct user_regs_struct *regs, uint64_t rss)
{
	struct frame *f = &th->frames[th->depth - 1];
	uint64_t ret;

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
static bool leaves(const struct thread *th, const struct profiled_func *pf,
		   const struct breakpoint *bp,
		   const struct user_regs_struct *regs)
{
	const struct frame *top = th->depth ? &th->frames[th->depth - 1] : NULL;

	if (!top || top->func != pf->acct)
		return false;
	return bp->cond < 0 || condition_holds(bp->cond, regs->eflags);
}

/* The thread goes on past the breakpoint's instruction. */
static void resume_past(struct session *s, struct thread *th,
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

static void on_breakpoint(struct session *s, const struct stop *stop)
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
		/* drained already, before this stop: the stub tries again */
		if (target_set_pc(tid, bp->addr + 1) == 0)
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
		uint64_t rss = sample(s, th->proc);

		site_event(s, th, pf, bp, regs.rsp, rss);
		if (roles & BP_RETURN) {
			emulate_return(s, th, pf->acct, bp, &regs, rss);
			return;
		}
		if ((roles & BP_EXIT) && leaves(th, pf, bp, &regs))
			tail_call(s, th, &regs, rss);
	}
	resume_past(s, th, bp);
}

/* Other stops */

/* The process a new one was forked from. */
static struct process *parent_of(struct session *s, pid_t pid)
{
	char path[64], line[256];
	pid_t ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	}
	if (f)
		fclose(f);
	return process_find(s, ppid);
}

/* Takes what a fork child inherited of its parent's ring out of it: the
 * mapping at RING (when not 0) and the descriptor STATM_FD. */
static void forget_ring_of(const struct target *t, pid_t pid, uint64_t ring,
			   int statm_fd)
{
	uint64_t args[6] = {(uint64_t)statm_fd};
	int64_t result;

	target_syscall(t, pid, SYS_close, args, &result);
	if (ring) {
		args[0] = ring;
		args[1] = PAGE_ROUND(RING_BYTES);
		target_syscall(t, pid, SYS_munmap, args, &result);
	}
}

/* A forked process starts. Its memory is a copy of its parent's, our
 * breakpoints included: with -f it is profiled with the same image,
 * otherwise it is cleaned and let go. */
static void on_new_process(struct session *s, pid_t pid)
{
	struct process *parent = parent_of(s, pid);
	struct image *img = parent ? parent->image : NULL;
	struct process *p;
	bool shares;

	if (!s->opts->follow_forks || !img) {
		bool shared =
			img && target_share_memory(pid, parent->target.pid);

		/* vfork: the memory is the parent's own, breakpoints and all,
		 * so the child is kept until it execs or exits */
		if (shared && (p = process_new(s, pid))) {
			p->image = image_get(img);
			p->borrowed = true;
			thread_add(s, pid, p);
			target_resume(pid, 0);
			return;
		}
		if (img && !shared) {
			bp_clean_process(img->bps, pid);
			if (parent->ring.hdr) {
				struct target child = {.pid = pid,
						       .mem_fd = -1};
				if (target_open(&child, pid) == 0)
					forget_ring_of(
						&child, pid, img->ring_addr,
						parent->ring.hdr->statm_fd);
				target_close(&child);
			}
		}
		target_detach(pid, 0);
		return;
	}
	p = process_new(s, pid);
	/* a vfork child runs in its parent's memory, ring and all: a ring
	 * mapped for it would take the parent's place; its records are
	 * not its parent's, and are left out */
	shares = p && target_share_memory(pid, parent->target.pid);
	if (p && parent->ring.hdr && !shares &&
	    ring_open(&p->ring, &p->target, pid, img->ring_addr, img->scratch) <
		    0) {
		warn_msg("cannot map a ring for line events into process %d "
			 "(%s): it is not followed",
			 pid, strerror(errno));
		process_remove(s, p);
		p = NULL;
	}
	if (!p) {
		bp_clean_process(img->bps, pid);
		target_detach(pid, 0);
		return;
	}
	if (parent->ring.hdr && !shares) {
		/* its own ring now; the statm it inherited is its parent's */
		p->sampler.hidden = parent->sampler.hidden;
		forget_ring_of(&p->target, pid, 0, parent->ring.hdr->statm_fd);
	}
	p->image = image_get(img);
	agent_fork(&parent->target, &p->target);
	thread_add(s, pid, p);
	target_resume(pid, 0);
}

/* A thread forked CHILD and is stopped there: a vfork child runs in its
 * memory until it execs or exits, and the thread waits for it. */
static void on_fork(struct session *s, pid_t tid, pid_t child)
{
	struct thread *th = thread_find(s, tid);

	if (!th || child <= 0)
		return;
	if (target_share_memory(child, th->proc->target.pid) && !th->in_vfork) {
		th->in_vfork = true;
		s->in_vfork++;
	}
}

/* Any stop of a thread that made a vfork child says that it is back. */
static void vfork_done(struct session *s, pid_t tid)
{
	struct thread *th = thread_find(s, tid);

	if (th && th->in_vfork) {
		th->in_vfork = false;
		s->in_vfork--;
	}
}

static void on_start(struct session *s, pid_t tid)
{
	pid_t tgid = target_tgid(tid);
	struct process *p = process_find(s, tgid);

	if (p && !thread_find(s, tid))
		thread_add(s, tid, p);
	if (p || tgid < 0)
		target_resume(tid, 0);
	else
		on_new_process(s, tid);
}

/* The process executed a new program: what ran before has ended, and the
 * functions are looked up again in the new image. */
static void on_exec(struct session *s, pid_t tid)
{
	struct process *p = process_find(s, tid);

	if (!p) {
		target_resume(tid, 0);
		return;
	}
	if (p->borrowed) {
		/* its memory is its own now, and clean */
		end_threads_of(s, p, 0);
		target_detach(tid, 0);
		process_remove(s, p);
		return;
	}
	end_threads_of(s, p, sample(s, p));
	/* the ring went with the old program */
	ring_close(&p->ring);
	p->sampler.hidden = 0;
	image_put(p->image);
	p->image = NULL;
	/* the same id, but a new address space */
	agent_free(&p->target);
	target_close(&p->target);
	sampler_close(&p->sampler);
	if (target_open(&p->target, tid) == 0 &&
	    sampler_open(&p->sampler, tid) == 0)
		load_image(s, p, tid, false);
	thread_add(s, tid, p);
	target_resume(tid, 0);
}

static void leave_xol(const struct process *p, pid_t tid, int *sig,
		      bool all_stopped);

/* A signal is about to be delivered. A thread in the out-of-line area
 * leaves it first: its signal frame would return there, and the area
 * must be free to go when we detach. Not from a stub's own code, which
 * the other threads run meanwhile: the signal comes there, and the areas
 * stay in the process when it is let go. */
static void on_signal(struct session *s, const struct stop *stop)
{
	struct thread *th = thread_find(s, stop->tid);
	struct process *p = th ? th->proc : NULL;
	struct user_regs_struct regs;
	int later = 0;

	if (p && p->image && p->image->nxols &&
	    target_get_regs(stop->tid, &regs) == 0 &&
	    image_in_xol(p->image, regs.rip)) {
		if (image_stub_exit(p->image, regs.rip)) {
			p->signal_in_stub = true;
			target_resume(stop->tid, stop->sig);
			return;
		}
		leave_xol(p, stop->tid, &later, false);
		/* one that came during the steps comes again */
		if (later)
			syscall(SYS_tgkill, p->target.pid, stop->tid, later);
	}
	target_resume(stop->tid, stop->sig);
}

static void on_exited(struct session *s, const struct stop *stop)
{
	struct process *p = process_find(s, stop->tid);
	struct thread *th = thread_find(s, stop->tid);

	if (th)
		thread_end(s, th, th->proc->sampler.last);
	if (!p)
		return;
	end_threads_of(s, p, p->sampler.last);
	if (p == s->procs[0]) {
		s->status.how =
			stop->event == TEV_EXITED ? RUN_EXITED : RUN_SIGNALED;
		s->status.code =
			stop->event == TEV_EXITED ? stop->code : stop->sig;
		s->done = true;
		return;
	}
	process_remove(s, p);
}

static void dispatch(struct session *s, const struct stop *stop)
{
	pid_t tid = stop->tid;
	struct thread *th;

	drain_rings_before_stop(s);
	if (s->in_vfork)
		vfork_done(s, tid);
	switch (stop->event) {
	case TEV_EXITED:
	case TEV_KILLED:
		on_exited(s, stop);
		return;
	case TEV_BREAKPOINT:
		on_breakpoint(s, stop);
		return;
	case TEV_EXIT:
		/* memory is still there: the last figures are true ones */
		th = thread_find(s, tid);
		if (th)
			thread_end(s, th, sample(s, th->proc));
		target_resume(tid, 0);
		return;
	case TEV_SIGNAL:
		on_signal(s, stop);
		return;
	case TEV_GROUP_STOP:
		target_listen(tid);
		return;
	case TEV_START:
		on_start(s, tid);
		return;
	case TEV_EXEC:
		on_exec(s, tid);
		return;
	case TEV_FORK:
		on_fork(s, tid, (pid_t)stop->msg);
		target_resume(tid, 0);
		return;
	case TEV_STEPPED:
	case TEV_CLONE:
		target_resume(tid, 0);
		return;
	}
}

/* Starting and ending */

/* --peak needs a kernel that resets the peak RSS (Linux 4.0 and later). */
static void check_peak(struct session *s, struct process *p)
{
	if (!s->opts->peak)
		return;
	s->peak = sampler_reset_peak(&p->sampler) == 0 &&
		  sampler_peak(&p->sampler) > 0;
	if (!s->peak)
		warn_msg("this kernel cannot reset a process's peak RSS "
			 "(/proc/PID/clear_refs, VmHWM): --peak is left out");
}

/* --engine jump, where the other options let line events go without a
 * stop: --peak resets the peak at each one, from outside. */
static void choose_engine(struct session *s)
{
	const struct options *o = s->opts;

	s->jump = o->jump && !o->calls_only && !o->every_insn;
	if (s->jump && o->peak) {
		if (o->engine_given)
			warn_msg("--peak reads the peak RSS at a stop for each "
				 "line event: --engine copy is used");
		s->jump = false;
	}
}

static void start_clock(struct session *s)
{
	s->stats.wall_seconds = now();
}

int profiler_start(struct session *s)
{
	struct process *p;
	struct target t;

	s->acct = account_new();
	s->found = xcalloc(s->opts->nfuncs, sizeof(*s->found));
	s->heap = s->opts->heap;
	choose_engine(s);
	if (target_spawn(&t, s->program, s->opts->argv, s->spawned_pid) < 0) {
		if (errno == EPERM || errno == ENOSYS)
			return program_error(
				s, EXIT_PTRACE,
				"cannot trace %s: ptrace is not permitted (%s)",
				suggest_ptrace_why());
		return program_error(s, EXIT_PROGRAM, "cannot start %s: %s",
				     strerror(errno));
	}
	p = process_new(s, t.pid);
	target_close(&t);
	if (!p)
		return program_error(s, EXIT_INTERNAL,
				     "%s: cannot read its memory: %s",
				     strerror(errno));
	thread_add(s, p->target.pid, p);
	check_peak(s, p);
	/* with -f a function may come with a program executed later */
	int ret = load_image(s, p, p->target.pid, !s->opts->follow_forks);
	if (ret)
		return ret;
	start_clock(s);
	if (target_resume(p->target.pid, 0) < 0)
		return program_error(s, EXIT_INTERNAL, "%s: cannot resume: %s",
				     strerror(errno));
	return 0;
}

/* Says why process PID could not be attached to (errno); returns the
 * exit status. */
static int attach_error(pid_t pid)
{
	int err = errno, status;
	char *why = err == ESRCH ? NULL : target_attach_obstacle(pid, &status);

	if (why) {
		warn_msg("cannot attach to %d: %s", pid, why);
		free(why);
		return status;
	}
	if (err == EPERM) {
		warn_msg("cannot attach to %d: ptrace is not permitted (%s)",
			 pid, suggest_ptrace_why());
		return EXIT_PTRACE;
	}
	warn_msg("cannot attach to %d: %s", pid, strerror(err));
	return EXIT_PROGRAM;
}

/* A process we attach to must outlive memprof: the in-process agent
 * takes over our int3s if memprof dies. Its threads are stopped. */
static void install_agent(struct session *s, struct process *p)
{
	const char *why;

	if (agent_install(&p->target, p->target.pid, &why) < 0)
		warn_msg("process %d: %s: memprof cannot leave it safely if it "
			 "is killed (kill -9 of memprof now kills the process "
			 "at its next breakpoint; Ctrl-C or --duration let it "
			 "go)",
			 (int)p->target.pid, why);
}

int profiler_attach(struct session *s, pid_t pid)
{
	struct attached *threads;
	struct process *p;
	struct target t;
	size_t n;
	int ret;

	s->acct = account_new();
	s->found = xcalloc(s->opts->nfuncs, sizeof(*s->found));
	s->heap = s->opts->heap;
	choose_engine(s);
	if (target_attach(&t, pid, &threads, &n) < 0)
		return attach_error(pid);
	p = process_new(s, pid);
	target_close(&t);
	ret = p ? 0 : EXIT_PROGRAM;
	if (p)
		check_peak(s, p);
	/* nothing is put into a program memprof will refuse (32-bit) */
	if (p && program_fits(p))
		install_agent(s, p);
	for (size_t i = 0; p && i < n; i++) {
		if (!threads[i].gone)
			thread_add(s, threads[i].tid, p);
	}
	if (p)
		ret = load_image(s, p, pid, true);
	if (ret) {
		if (p && p->image)
			bp_clean_process(p->image->bps, pid);
		if (p)
			agent_remove(&p->target, pid);
		for (size_t i = 0; i < n; i++)
			target_detach(threads[i].tid, threads[i].sig);
		free(threads);
		return ret;
	}
	start_clock(s);
	for (size_t i = 0; i < n; i++) {
		if (threads[i].gone)
			continue;
		/* stopped, it stays so (a SIGCONT may have come meanwhile) */
		if (threads[i].group_stop &&
		    target_in_group_stop(threads[i].tid))
			target_listen(threads[i].tid);
		else
			target_resume(threads[i].tid, threads[i].sig);
	}
	free(threads);
	return 0;
}

/* A thread of a process being let go. */
struct leaving {
	pid_t tid;
	int sig; /* a signal it was about to get */
	bool stopped, gone;
};

static struct leaving *leaving_find(struct leaving *ts, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++) {
		if (ts[i].tid == tid)
			return &ts[i];
	}
	return NULL;
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
	 * thread goes on makes room */
	if (bp->roles & BP_RING_FULL)
		target_set_pc(stop->tid, regs.rip + 1);
	return true;
}

/* Stops every thread of P, each listed in *TS. A thread stopped at one
 * of our breakpoints is on its instruction still; stops of other
 * processes meanwhile are handled as usual. */
static size_t stop_threads_of(struct session *s, struct process *p,
			      struct leaving **ts)
{
	size_t n = 0, stopped = 0;

	*ts = xcalloc(s->nthreads + 1, sizeof(**ts));
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].proc != p)
			continue;
		(*ts)[n++].tid = s->threads[i].tid;
		if (target_interrupt(s->threads[i].tid) < 0)
			(*ts)[n - 1].gone = true;
	}
	for (size_t i = 0; i < n; i++)
		stopped += (*ts)[i].gone;
	while (stopped < n) {
		struct stop stop;
		struct leaving *l;
		pid_t tgid;

		if (next_stop(s, &stop, true) < 0)
			break;
		l = leaving_find(*ts, n, stop.tid);
		if (!l && stop.event == TEV_START &&
		    (tgid = target_tgid(stop.tid)) == p->target.pid) {
			/* a thread born meanwhile, stopped at its start */
			*ts = xrealloc(*ts, (n + 1) * sizeof(**ts));
			(*ts)[n] = (struct leaving){.tid = stop.tid,
						    .stopped = true};
			n++;
			stopped++;
			continue;
		}
		if (!l) {
			dispatch(s, &stop);
			continue;
		}
		/* a stop inside fork, clone or exec: the call finishes first
		 * (a system call made through the thread now would take the
		 * place of its result), and the interrupt comes again */
		if (!l->stopped &&
		    (stop.event == TEV_FORK || stop.event == TEV_CLONE ||
		     stop.event == TEV_EXEC)) {
			dispatch(s, &stop);
			if (target_interrupt(stop.tid) < 0) {
				l->gone = l->stopped = true;
				stopped++;
			}
			continue;
		}
		if (stop.event == TEV_BREAKPOINT) {
			/* at ours, it is on the instruction still */
			if (!at_breakpoint(p, &stop))
				l->sig = stop.sig;
		} else if (stop.event == TEV_SIGNAL) {
			l->sig = stop.sig;
		} else if (stop.event == TEV_EXITED ||
			   stop.event == TEV_KILLED) {
			l->gone = true;
		}
		if (!l->stopped) {
			l->stopped = true;
			stopped++;
		}
	}
	return n;
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
static void run_stub_out(const struct process *p, pid_t tid, uint64_t exit,
			 int *sig)
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
		if (stop.event == TEV_SIGNAL || stop.event == TEV_BREAKPOINT)
			*sig = stop.sig;
		else if (stop.event != TEV_START &&
			 stop.event != TEV_GROUP_STOP)
			break;
	}
	target_write(&p->target, exit, &orig, 1);
}

static void leave_xol(const struct process *p, pid_t tid, int *sig,
		      bool all_stopped)
{
	struct user_regs_struct regs;
	uint64_t exit;

	/* the breakpoint at the stub's end would stop any thread there */
	if (all_stopped && p->image && target_get_regs(tid, &regs) == 0 &&
	    (exit = image_stub_exit(p->image, regs.rip)))
		run_stub_out(p, tid, exit, sig);

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
		if (stop.event == TEV_SIGNAL)
			*sig = stop.sig;
		else if (stop.event != TEV_STEPPED && stop.event != TEV_START &&
			 stop.event != TEV_GROUP_STOP &&
			 !(stop.event == TEV_BREAKPOINT && stop.sig == SIGTRAP))
			return;
	}
}

/* A signal of ours (a breakpoint just hit, a step just done) can be
 * pending behind the stop that stopped the thread; left there, it would
 * kill the process once let go. It is taken here: the thread goes on
 * until the signal stops it, at once (on a breakpoint, it is still on
 * the instruction). */
static void drain_traps(const struct process *p, pid_t tid, int *sig)
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

/* Lets process P go on without us: every breakpoint out of its memory,
 * every thread out of the copies, then each one detached. The calls it
 * is in end now. */
static void detach_process(struct session *s, struct process *p)
{
	struct leaving *ts;
	size_t n = stop_threads_of(s, p, &ts);

	drain_ring(s, p);
	/* the calls that end here must not arm the allocator again */
	p->leaving = true;
	end_threads_of(s, p, sample(s, p));
	if (p->image)
		bp_clean_process(p->image->bps, p->target.pid);
	for (size_t i = 0; i < n; i++) {
		if (ts[i].gone)
			continue;
		drain_traps(p, ts[i].tid, &ts[i].sig);
		if (p->image)
			leave_xol(p, ts[i].tid, &ts[i].sig, true);
		drain_traps(p, ts[i].tid, &ts[i].sig);
	}
	forget_ring(s, p, ts, n);
	release_areas(s, p, ts, n);
	for (size_t i = 0; i < n; i++) {
		if (!ts[i].gone)
			target_detach(ts[i].tid, ts[i].sig);
	}
	free(ts);
	if (p != s->procs[0])
		process_remove(s, p);
}

void profiler_detach(struct session *s)
{
	for (size_t i = s->nprocs; i-- > 1;)
		detach_process(s, s->procs[i]);
	if (!s->done) {
		detach_process(s, s->procs[0]);
		s->status.how = RUN_DETACHED;
		s->status.code = 0;
		s->done = true;
	}
	/* children that started while the first one was let go */
	while (s->nprocs > 1)
		detach_process(s, s->procs[s->nprocs - 1]);
}

int profiler_run(struct session *s)
{
	struct stop stop;

	while (!s->done) {
		if (s->tick && *s->tick) {
			*s->tick = 0;
			/* what the program recorded meanwhile counts too */
			drain_rings(s);
			s->on_tick(s->hook_arg);
		}
		if (*s->detach_requested) {
			profiler_detach(s);
			break;
		}
		if (next_stop(s, &stop, false) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			return program_error(s, EXIT_INTERNAL,
					     "%s: waiting for it failed: %s",
					     strerror(errno));
		}
		double t0 = now();
		s->stats.stops++;
		dispatch(s, &stop);
		s->stats.tracer_seconds += now() - t0;
	}
	drain_rings(s);
	s->stats.wall_seconds = now() - s->stats.wall_seconds;
	if (s->fatal)
		return s->fatal;
	/* forked processes that outlive the first one go on without us */
	for (size_t i = s->nprocs; i-- > 1;)
		detach_process(s, s->procs[i]);
	for (size_t i = 0; i < s->nprocs; i++)
		end_threads_of(s, s->procs[i], s->procs[i]->sampler.last);
	if (s->heap && s->status.how == RUN_EXITED)
		account_heap_leaks(s->acct);
	return 0;
}

void profiler_end(struct session *s)
{
	for (size_t i = 0; i < s->nthreads; i++)
		free(s->threads[i].frames);
	free(s->threads);
	free(s->queued);
	for (size_t i = 0; i < s->nprocs; i++)
		process_free(s->procs[i]);
	free(s->procs);
	free(s->found);
	account_free(s->acct);
}

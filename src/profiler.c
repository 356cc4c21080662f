/* The stop path. Every stop is classified once by the target module and
 * handled here by kind; a breakpoint stop is the only one on the hot path
 * and reads RSS at most once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler.h"
#include "relocate.h"
#include "util.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Set-up */

static int program_error(struct session *s, int status, const char *fmt,
			 const char *arg)
{
	fprintf(stderr, "memprof: ");
	fprintf(stderr, fmt, s->opts->argv[0], arg);
	fputc('\n', stderr);
	return status;
}

static void add_sites(struct session *s, int idx)
{
	struct profiled_func *pf = &s->funcs[idx];
	const struct func_info *fi = pf->info;
	struct insn *all = NULL;
	size_t nall = 0;

	for (size_t r = 0; r < fi->nranges; r++) {
		const struct code_range *cr = &fi->ranges[r];
		struct insn *part;
		size_t n =
			decode_code(cr->bytes, cr->hi - cr->lo, cr->lo, &part);
		all = xrealloc(all, (nall + n + 1) * sizeof(*all));
		memcpy(all + nall, part, n * sizeof(*part));
		nall += n;
		free(part);
	}
	pf->nsites = sites_find(all, nall, fi->rows, fi->nrows, &pf->sites);
	pf->insns = all;
	pf->ninsns = nall;
	pf->nrets = sites_returns(all, nall, pf->sites, pf->nsites, &pf->rets);
}

/* The original bytes at ADDR, from the ELF file; *AVAIL says how many
 * follow in the same range. */
static const uint8_t *orig_code(const struct func_info *fi, uint64_t addr,
				size_t *avail)
{
	for (size_t r = 0; r < fi->nranges; r++) {
		const struct code_range *cr = &fi->ranges[r];
		if (addr >= cr->lo && addr < cr->hi) {
			*avail = cr->hi - addr;
			return &cr->bytes[addr - cr->lo];
		}
	}
	*avail = 0;
	return NULL;
}

static int arm(struct session *s, int idx, uint64_t addr, unsigned role,
	       int arg)
{
	const struct func_info *fi = s->funcs[idx].info;
	size_t avail;
	struct breakpoint *bp =
		bp_get(s->bps, &s->target, addr, orig_code(fi, addr, &avail));

	if (!bp)
		return -1;
	bp->roles |= role;
	bp->func = idx;
	if (role == BP_LINE)
		bp->line = arg;
	if (role == BP_RETURN)
		bp->ret_pop = (uint16_t)arg;
	return 0;
}

static int add_function(struct session *s, struct func_info *fi)
{
	int idx = account_add_func(s->acct, fi->name, fi->file, fi->decl_line,
				   fi->last_line);

	s->funcs = xrealloc(s->funcs, (s->nfuncs + 1) * sizeof(*s->funcs));
	s->funcs[s->nfuncs++] = (struct profiled_func){.info = fi};
	add_sites(s, idx);
	if (arm(s, idx, fi->entry, BP_ENTRY, 0) < 0)
		return -1;
	for (size_t i = 0; i < s->funcs[idx].nsites; i++) {
		const struct site *site = &s->funcs[idx].sites[i];
		if (arm(s, idx, site->addr, BP_LINE, site->line) < 0)
			return -1;
	}
	/* With --every-instruction the others get one too, to prove that
	 * every instruction runs right out of line. */
	for (size_t i = 0; s->opts->every_insn && i < s->funcs[idx].ninsns;
	     i++) {
		const struct insn *in = &s->funcs[idx].insns[i];
		/* a ret is emulated; one that ends no activation is harmless */
		bool ret = in->flow == FLOW_RET;
		if (arm(s, idx, in->addr, ret ? BP_RETURN : BP_PASS,
			ret ? (int)in->target : 0) < 0)
			return -1;
	}
	/* Returns are caught at the function's own ret instructions, so
	 * that nothing outside it is ever touched. */
	for (size_t i = 0; i < s->funcs[idx].nrets; i++) {
		const struct insn *in =
			&s->funcs[idx].insns[s->funcs[idx].rets[i]];
		if (arm(s, idx, in->addr, BP_RETURN, (int)in->target) < 0)
			return -1;
	}
	return 0;
}

static bool is_profiled(const struct session *s, uint64_t entry)
{
	for (size_t i = 0; i < s->nfuncs; i++) {
		if (s->funcs[i].info->entry == entry)
			return true;
	}
	return false;
}

static int find_functions(struct session *s)
{
	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		const char *spec = s->opts->funcs[i];
		struct func_info **found;
		size_t n;
		char *close = NULL;

		switch (debuginfo_find(s->di, spec, &found, &n, &close)) {
		case DI_NO_LINES:
			return program_error(
				s, EXIT_PROGRAM,
				"%s: no DWARF line information%s; rebuild it "
				"with -g or install its debug symbols",
				"");
		case DI_NO_FUNCTION:
			fprintf(stderr, "memprof: no function '%s' in %s%s%s\n",
				spec, s->opts->argv[0],
				close ? "; did you mean: " : "",
				close ? close : "");
			free(close);
			return EXIT_PROGRAM;
		case DI_FOUND:
			break;
		}
		for (size_t j = 0; j < n; j++) {
			/* named twice (NAME and FILE.c:NAME): one table */
			if (is_profiled(s, found[j]->entry)) {
				func_info_free(found[j]);
				continue;
			}
			if (add_function(s, found[j]) < 0) {
				free(found);
				return program_error(
					s, EXIT_INTERNAL,
					"%s: cannot set breakpoints: %s",
					strerror(errno));
			}
		}
		free(found);
	}
	return 0;
}

/* Maps the out-of-line area and gives every breakpoint its copy; one
 * that cannot be relocated is stepped in place instead. */
static void place_copies(struct session *s)
{
	size_t cursor = 0, avail;
	struct breakpoint *bp;

	if (s->nfuncs == 0 ||
	    xol_map(&s->xol, &s->target, s->target.pid, s->funcs[0].info->entry,
		    (bp_count(s->bps) + 1) * RELOC_MAX) < 0) {
		warn_msg("cannot map the out-of-line area (%s); stepping "
			 "instead",
			 strerror(errno));
		return;
	}
	while ((bp = bp_next(s->bps, &cursor))) {
		const uint8_t *code =
			orig_code(s->funcs[bp->func].info, bp->addr, &avail);

		if (!(bp->roles & BP_RETURN) && code)
			bp->resume = xol_place(&s->xol, &s->target, code, avail,
					       bp->addr);
		if (!bp->resume && !(bp->roles & BP_RETURN))
			s->stats.stepped_sites++;
	}
}

int profiler_start(struct session *s)
{
	char *err = NULL;

	s->acct = account_new();
	s->bps = bp_table_new();
	s->target.mem_fd = -1;
	s->sampler.statm_fd = -1;
	if (target_spawn(&s->target, s->program, s->opts->argv) < 0) {
		if (errno == EPERM || errno == ENOSYS)
			return program_error(
				s, EXIT_PTRACE,
				"cannot trace %s: ptrace is not permitted%s "
				"(see /proc/sys/kernel/yama/ptrace_scope; in a "
				"container, seccomp or a missing "
				"CAP_SYS_PTRACE can forbid it)",
				"");
		return program_error(s, EXIT_PROGRAM, "cannot start %s: %s",
				     strerror(errno));
	}
	s->di = debuginfo_open(s->target.pid, &err);
	if (!s->di) {
		int ret = program_error(s, EXIT_PROGRAM, "%s: %s", err);
		free(err);
		return ret;
	}
	int ret = find_functions(s);
	if (ret)
		return ret;
	if (!s->opts->step)
		place_copies(s);
	if (sampler_open(&s->sampler, s->target.pid) < 0)
		return program_error(s, EXIT_INTERNAL,
				     "%s: cannot read its memory figures: %s",
				     strerror(errno));
	s->stats.wall_seconds = now();
	if (target_resume(s->target.pid, 0) < 0)
		return program_error(s, EXIT_INTERNAL, "%s: cannot resume: %s",
				     strerror(errno));
	return 0;
}

/* Threads */

static struct thread *thread_get(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	}
	s->threads =
		xrealloc(s->threads, (s->nthreads + 1) * sizeof(*s->threads));
	s->threads[s->nthreads] = (struct thread){.tid = tid};
	return &s->threads[s->nthreads++];
}

static void pop_frame(struct session *s, struct thread *th, uint64_t rss)
{
	th->depth--;
	account_return(s->acct, th->tid, rss);
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
static void thread_end(struct session *s, pid_t tid, uint64_t rss)
{
	struct thread *th = thread_get(s, tid);

	while (th->depth)
		pop_frame(s, th, rss);
	free(th->frames);
	*th = s->threads[--s->nthreads];
}

/* Breakpoints */

static void enter(struct session *s, struct thread *th, int func, uint64_t addr,
		  uint64_t sp, uint64_t rss)
{
	if (th->depth == th->cap) {
		th->cap = th->cap ? 2 * th->cap : 8;
		th->frames =
			xrealloc(th->frames, th->cap * sizeof(*th->frames));
	}
	th->frames[th->depth++] = (struct frame){
		.func = func,
		.sp = sp,
		.line = s->funcs[func].info->decl_line,
		.line_start = addr,
		.last_site = addr,
	};
	account_enter(s->acct, s->target.pid, th->tid, func, rss);
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

static void line_site(struct session *s, struct thread *th, int func,
		      uint64_t addr, uint64_t rss)
{
	struct frame *f = th->depth ? &th->frames[th->depth - 1] : NULL;
	const struct site *site;

	if (!f || f->func != func)
		return;
	site = sites_at(s->funcs[func].sites, s->funcs[func].nsites, addr);
	if (!site)
		return;
	if (is_line_event(f, site)) {
		account_line(s->acct, th->tid, site->line, rss);
		s->stats.line_events++;
		f->line = site->line;
		f->line_start = addr;
	}
	f->last_site = addr;
	/* only quiet code runs from here to the ret: the call ends now */
	if (site->returns)
		pop_frame(s, th, rss);
}

static void dispatch(struct session *s, const struct stop *stop);

/* Runs the instruction under a breakpoint with its original byte, then
 * puts the int3 back. Stops of this thread that come meanwhile are
 * handled after; a signal waits for the step to end. */
static void step_over(struct session *s, pid_t tid, uint64_t addr)
{
	struct breakpoint *bp = bp_find(s->bps, addr);
	static const uint8_t int3 = 0xcc;
	struct stop stop;
	int sig = 0;

	if (!bp) {
		target_resume(tid, 0);
		return;
	}
	if (target_write(&s->target, addr, &bp->orig, 1) < 0 ||
	    target_step(tid) < 0)
		return;
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
		if (stop.event == TEV_GROUP_STOP && target_step(tid) == 0)
			continue;
		/* the thread is leaving (exit, death): nothing to step */
		target_write(&s->target, addr, &int3, 1);
		dispatch(s, &stop);
		return;
	}
	target_write(&s->target, addr, &int3, 1);
	target_resume(tid, sig);
}

/* A ret of a profiled function: its activation ends, and the ret is done
 * here, so that no step is needed. */
static void emulate_return(struct session *s, struct thread *th, int func,
			   uint16_t pop, struct user_regs_struct *regs,
			   uint64_t rss)
{
	uint64_t ret_addr;

	if (th->depth && th->frames[th->depth - 1].func == func &&
	    th->frames[th->depth - 1].sp == regs->rsp)
		pop_frame(s, th, rss);
	if (target_read(&s->target, regs->rsp, &ret_addr, sizeof(ret_addr)) <
	    0) {
		regs->rip--;
		if (target_set_regs(th->tid, regs) == 0)
			step_over(s, th->tid, regs->rip);
		return;
	}
	regs->rip = ret_addr;
	regs->rsp += 8 + pop;
	if (target_set_regs(th->tid, regs) == 0)
		target_resume(th->tid, 0);
}

static void on_breakpoint(struct session *s, pid_t tid)
{
	struct user_regs_struct regs;

	if (target_get_regs(tid, &regs) < 0)
		return;
	uint64_t addr = regs.rip - 1;
	struct breakpoint *bp = bp_find(s->bps, addr);
	if (!bp) {
		/* the program's own int3 */
		target_resume(tid, SIGTRAP);
		return;
	}

	unsigned roles = bp->roles;
	int func = bp->func;
	if (roles & (BP_ENTRY | BP_LINE | BP_RETURN)) {
		struct thread *th = thread_get(s, tid);
		uint64_t rss = sampler_rss(&s->sampler);

		pop_dead_frames(s, th, regs.rsp, rss);
		const struct frame *top =
			th->depth ? &th->frames[th->depth - 1] : NULL;
		bool same_frame =
			top && top->func == func && top->sp == regs.rsp;
		if ((roles & BP_ENTRY) && !((roles & BP_LINE) && same_frame))
			enter(s, th, func, addr, regs.rsp, rss);
		else if (roles & BP_LINE)
			line_site(s, th, func, addr, rss);
		if (roles & BP_RETURN) {
			emulate_return(s, th, func, bp->ret_pop, &regs, rss);
			return;
		}
	}
	if (bp->resume) {
		if (target_set_pc(tid, bp->resume) == 0)
			target_resume(tid, 0);
		return;
	}
	regs.rip = addr;
	if (target_set_regs(tid, &regs) == 0) {
		s->stats.stepped++;
		step_over(s, tid, addr);
	}
}

/* Other stops */

static void on_new_process(struct session *s, pid_t pid)
{
	/* a fork child runs as it would without us: no breakpoints */
	if (!target_share_memory(pid, s->target.pid))
		bp_clean_process(s->bps, pid);
	target_detach(pid, 0);
}

static void on_exec(struct session *s, pid_t tid)
{
	/* the old image and our breakpoints in it are gone */
	uint64_t rss = sampler_rss(&s->sampler);
	account_end_all(s->acct, rss);
	while (s->nthreads)
		thread_end(s, s->threads[0].tid, rss);
	bp_table_free(s->bps);
	s->bps = bp_table_new();
	memset(&s->xol, 0, sizeof(s->xol));
	if (!s->image_replaced)
		warn_msg("%s executed another program; profiling ends there",
			 s->opts->argv[0]);
	s->image_replaced = true;
	target_resume(tid, 0);
}

static void dispatch(struct session *s, const struct stop *stop)
{
	pid_t tid = stop->tid;

	switch (stop->event) {
	case TEV_EXITED:
	case TEV_KILLED:
		if (tid != s->target.pid)
			return;
		s->status.how =
			stop->event == TEV_EXITED ? RUN_EXITED : RUN_SIGNALED;
		s->status.code =
			stop->event == TEV_EXITED ? stop->code : stop->sig;
		s->done = true;
		return;
	case TEV_BREAKPOINT:
		on_breakpoint(s, tid);
		return;
	case TEV_EXIT:
		/* memory is still there: the last figures are true ones */
		thread_end(s, tid, sampler_rss(&s->sampler));
		target_resume(tid, 0);
		return;
	case TEV_SIGNAL:
		target_resume(tid, stop->sig);
		return;
	case TEV_GROUP_STOP:
		target_listen(tid);
		return;
	case TEV_START:
		if (target_tgid(tid) != s->target.pid)
			on_new_process(s, tid);
		else
			target_resume(tid, 0);
		return;
	case TEV_EXEC:
		on_exec(s, tid);
		return;
	case TEV_STEPPED:
	case TEV_CLONE:
	case TEV_FORK:
		target_resume(tid, 0);
		return;
	}
}

int profiler_run(struct session *s)
{
	struct stop stop;

	while (!s->done) {
		if (target_wait(-1, &stop) < 0) {
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
	s->stats.wall_seconds = now() - s->stats.wall_seconds;
	account_end_all(s->acct, s->sampler.last);
	return 0;
}

void profiler_end(struct session *s)
{
	for (size_t i = 0; i < s->nfuncs; i++) {
		func_info_free(s->funcs[i].info);
		free(s->funcs[i].sites);
		free(s->funcs[i].insns);
		free(s->funcs[i].rets);
	}
	free(s->funcs);
	for (size_t i = 0; i < s->nthreads; i++)
		free(s->threads[i].frames);
	free(s->threads);
	bp_table_free(s->bps);
	debuginfo_close(s->di);
	sampler_close(&s->sampler);
	target_close(&s->target);
	account_free(s->acct);
}

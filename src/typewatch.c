/* --types: at each return of a profiled call, the heap blocks the call
 * made and left live are given their C types by a walk from what it
 * returns and from the globals of its module. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "heapwalk.h"
#include "tracer.h"
#include "util.h"

static int read_memory(void *arg, uint64_t addr, void *buf, size_t n)
{
	return target_read(arg, addr, buf, n);
}

/* What the walk at a return reads through. */
struct walk_context {
	const struct target *target;
	const struct account *acct;
};

static int walk_read(void *arg, uint64_t addr, void *buf, size_t n)
{
	const struct walk_context *c = arg;

	return target_read(c->target, addr, buf, n);
}

static uint64_t walk_size(void *arg, uint64_t addr)
{
	const struct walk_context *c = arg;

	return account_heap_size(c->acct, addr);
}

static const struct profiled_func *func_of(const struct process *p, int acct)
{
	for (size_t i = 0; p->image && i < p->image->nfuncs; i++) {
		if (p->image->funcs[i].acct == acct && !p->image->funcs[i].gone)
			return &p->image->funcs[i];
	}
	return NULL;
}

static struct ctypes *types_of(struct session *s, const struct process *p)
{
	char *err = NULL;

	if (s->ctypes)
		return s->ctypes;
	s->ctypes = ctypes_open(p->target.pid, &err);
	if (!s->ctypes) {
		warn_msg("--types: %s", err);
		free(err);
	}
	return s->ctypes;
}

/* The roots: the value returned (rax, rdx) and the module's globals. */
static size_t roots_of(struct ctypes *ct, uint64_t pc,
		       const struct user_regs_struct *regs,
		       struct walk_root **roots)
{
	const struct ctype_global *globals;
	size_t n = ctypes_globals(ct, pc, &globals), k = 0;
	int ret = ctypes_return_type(ct, pc);

	*roots = xcalloc(n + 1, sizeof(**roots));
	if (ret >= 0 && ctypes_get(ct, ret)->size > 16) {
		/* returned in memory: rax holds its address */
		(*roots)[k++] =
			(struct walk_root){.addr = regs->rax, .type = ret};
	} else if (ret >= 0) {
		(*roots)[k].type = ret;
		memcpy((*roots)[k].value, &regs->rax, 8);
		memcpy((*roots)[k].value + 8, &regs->rdx, 8);
		k++;
	}
	for (size_t i = 0; i < n; i++)
		(*roots)[k++] = (struct walk_root){.addr = globals[i].addr,
						   .type = globals[i].type};
	return k;
}

void types_at_return(struct session *s, struct thread *th,
		     const struct user_regs_struct *regs)
{
	const struct frame *f = th->depth ? &th->frames[th->depth - 1] : NULL;
	const struct profiled_func *pf;
	struct heap_block *live;
	struct walk_block *blocks;
	struct walk_root *roots;
	struct ctypes *ct;
	size_t n, nroots;

	if (!s->opts->types || !f || !(pf = func_of(th->proc, f->func)))
		return;
	/* the population: the blocks this call made, live still */
	n = account_heap_made(s->acct, th->tid, f->func, &live);
	if (!n || !(ct = types_of(s, th->proc))) {
		for (size_t i = 0; i < n; i++)
			account_types_add(s->acct, f->func, NULL, live[i].line,
					  1, live[i].size);
		free(live);
		return;
	}
	blocks = xcalloc(n + 1, sizeof(*blocks));
	for (size_t i = 0; i < n; i++)
		blocks[i] = (struct walk_block){live[i].ptr, live[i].size, -1};
	nroots = roots_of(ct, pf->info->entry, regs, &roots);
	struct walk_context ctx = {&th->proc->target, s->acct};
	heapwalk(ct, blocks, n, roots, nroots, walk_read, walk_size, &ctx);
	for (size_t i = 0; i < n; i++) {
		uint64_t objects = 1;
		char *name;

		name = heapwalk_type_name(ct, blocks[i].type, blocks[i].size,
					  &objects);
		account_types_add(s->acct, f->func, name, live[i].line, objects,
				  live[i].size);
		free(name);
	}
	free(roots);
	free(blocks);
	free(live);
}

/* memprof graph */

static void graph_fail(struct session *s, int status, const char *fmt,
		       const char *a, const char *b)
{
	char *msg = xasprintf(fmt, a, b);

	warn_msg("%s", msg);
	free(msg);
	s->graph_error = status;
	s->graph_done = true;
}

/* Whether LINE of PF starts code of its own. */
static bool line_has_code(const struct profiled_func *pf, int line)
{
	for (size_t i = 0; i < pf->nsites; i++) {
		if (pf->sites[i].line == line)
			return true;
	}
	for (size_t i = 0; i < pf->info->nrows; i++) {
		if (pf->info->rows[i].line == line)
			return true;
	}
	return false;
}

static void draw(struct session *s, struct thread *th,
		 const struct profiled_func *pf, int func, int line)
{
	const struct options *o = s->opts;
	struct user_regs_struct r;
	struct ctypes *ct = types_of(s, th->proc);
	struct heap_block *live, *freed;
	struct ctype_value v;
	char *name, *err = NULL, where[64];
	size_t nlive, nfreed;

	s->graph_done = true;
	if (line)
		snprintf(where, sizeof(where), "line %d", line);
	else
		snprintf(where, sizeof(where), "the return");
	if (!ct || target_get_regs(th->tid, &r) < 0) {
		graph_fail(s, EXIT_INTERNAL,
			   "%s%s: cannot read the program "
			   "there",
			   o->var, "");
		return;
	}
	const uint64_t regs[17] = {r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi,
				   r.rbp, r.rsp, r.r8,	r.r9,  r.r10, r.r11,
				   r.r12, r.r13, r.r14, r.r15, r.rip};
	name = graph_expr_name(o->var);
	if (!name) {
		graph_fail(s, EXIT_USAGE, "--var %s: no variable named%s",
			   o->var, "");
		return;
	}
	switch (ctypes_variable(ct, r.rip, regs, name, read_memory,
				(void *)&th->proc->target, &v)) {
	case CV_FOUND:
		break;
	case CV_NO_VARIABLE:
		graph_fail(s, EXIT_USAGE,
			   "--var %s: no variable of that name in %s, nor a "
			   "global with pointers in its module",
			   name, pf->info->name);
		free(name);
		return;
	case CV_OUT_OF_SCOPE: {
		char *msg = xasprintf("%s of %s", where, pf->info->name);

		graph_fail(s, EXIT_USAGE,
			   "--var %s: not in scope at %s (declared in a block "
			   "that does not hold it)",
			   name, msg);
		free(msg);
		free(name);
		return;
	}
	case CV_NO_LOCATION: {
		char *msg = xasprintf("%s of %s", where, pf->info->name);

		graph_fail(s, EXIT_USAGE,
			   "--var %s: where it is at %s is not told by the "
			   "debug information (optimized out: try another "
			   "line, or -O0)",
			   name, msg);
		free(msg);
		free(name);
		return;
	}
	}
	free(name);
	if (graph_eval(ct, o->var, &v, read_memory, (void *)&th->proc->target,
		       &err) < 0) {
		graph_fail(s, EXIT_USAGE, "--var %s%s", err, "");
		free(err);
		return;
	}
	nlive = account_heap_live(s->acct, th->tid, func, &live);
	nfreed = account_heap_freed(s->acct, &freed);
	struct graph_limits lim = {o->max_depth, o->too_many};
	s->graph_dot =
		graph_dot(ct, o->var, &v, live, nlive, freed, nfreed, &lim,
			  read_memory, (void *)&th->proc->target, &err);
	if (!s->graph_dot) {
		graph_fail(s, EXIT_USAGE, "--var %s%s", err, "");
		free(err);
	}
	free(live);
	free(freed);
}

void graph_at(struct session *s, struct thread *th, int line)
{
	const struct options *o = s->opts;
	const struct frame *f = th->depth ? &th->frames[th->depth - 1] : NULL;
	const struct profiled_func *pf;
	char num[32];

	if (!o->graph || s->graph_done || !f ||
	    !(pf = func_of(th->proc, f->func)))
		return;
	if (!s->graph_checked) {
		s->graph_checked = true;
		snprintf(num, sizeof(num), "%d", o->at_line);
		if (o->at_line && !line_has_code(pf, o->at_line)) {
			graph_fail(s, EXIT_USAGE,
				   "--at %s: no code of %s is on that line",
				   num, pf->info->name);
			return;
		}
	}
	if (line != o->at_line ||
	    account_call_number(s->acct, th->tid) != o->call)
		return;
	draw(s, th, pf, f->func, line);
}

int graph_write(struct session *s, FILE *out)
{
	const struct options *o = s->opts;
	char *err = NULL;

	if (s->graph_error)
		return s->graph_error;
	if (!s->graph_dot) {
		char *when = o->at_line ? xasprintf("line %d", o->at_line)
					: xstrdup("the return");
		const struct func_stats *f = account_func_count(s->acct)
						     ? account_func(s->acct, 0)
						     : NULL;

		warn_msg("%s: call %lu never reached %s (%" PRIu64
			 " call%s): nothing drawn",
			 o->funcs[0], o->call, when, f ? f->calls : 0,
			 f && f->calls == 1 ? "" : "s");
		free(when);
		return EXIT_PROGRAM;
	}
	if (graph_render(s->graph_dot, o->graph_format, out, &err) < 0) {
		warn_msg("%s: %s", o->output, err ? err : "cannot write it");
		free(err);
		return EXIT_INTERNAL;
	}
	return 0;
}

/* --types: at each return of a profiled call, the heap blocks the call
 * made and left live are given their C types by a walk from what it
 * returns and from the globals of its module. */
#include <stdlib.h>
#include <string.h>

#include "heapwalk.h"
#include "tracer.h"
#include "util.h"

static int read_memory(void *arg, uint64_t addr, void *buf, size_t n)
{
	return target_read(arg, addr, buf, n);
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
	size_t n, nroots, made = 0;

	if (!s->opts->types || !f || !(pf = func_of(th->proc, f->func)))
		return;
	n = account_heap_live(s->acct, th->tid, f->func, &live);
	for (size_t i = 0; i < n; i++)
		made += live[i].made;
	if (!made || !(ct = types_of(s, th->proc))) {
		for (size_t i = 0; i < n; i++) {
			if (live[i].made)
				account_types_add(s->acct, f->func, NULL,
						  live[i].line, 1,
						  live[i].size);
		}
		free(live);
		return;
	}
	blocks = xcalloc(n + 1, sizeof(*blocks));
	for (size_t i = 0; i < n; i++)
		blocks[i] = (struct walk_block){live[i].ptr, live[i].size, -1};
	nroots = roots_of(ct, pf->info->entry, regs, &roots);
	heapwalk(ct, blocks, n, roots, nroots, read_memory,
		 (void *)&th->proc->target);
	for (size_t i = 0; i < n; i++) {
		uint64_t objects = 1;
		char *name;

		if (!live[i].made)
			continue;
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

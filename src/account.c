/* Line accounting: activations per thread, figures per line. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "util.h"

struct activation {
	int func;
	size_t proc;   /* index in the function's procs */
	int line;      /* the current line */
	int64_t start; /* RSS when the current line began, less what inner
			* activations of the same function recorded */
	uint64_t entry_rss;
	int pid;
	uint64_t line_peak;	 /* the highest RSS seen while the line ran */
	uint64_t serial;	 /* tells activations apart, for heap blocks */
	uint64_t call;		 /* which call of its function, from 1 */
	bool abandoned;		 /* it will not return */
	struct live_bytes *live; /* heap bytes its lines allocated that are
				  * still live */
	size_t nlive;
	uint64_t *made; /* account_track_made: the blocks it made */
	size_t nmade, made_cap;
};

struct live_bytes {
	int line;
	uint64_t bytes;
};

/* A heap block allocated while profiled functions ran: charged to the
 * current line of the innermost activation of each function then on
 * the thread (callees included, recursion once). */
struct owner {
	int func, line;
	size_t proc; /* index in the function's procs */
	uint64_t serial;
};

struct block {
	uint64_t ptr, size;
	int tid;
	struct owner *owners;
	size_t nowners;
	struct block *next; /* in its hash bucket */
};

struct thread_stack {
	int tid;
	struct activation *acts;
	size_t depth, cap;
};

struct account {
	struct func_stats *funcs;
	size_t nfuncs, funcs_cap;
	struct thread_stack *threads;
	size_t nthreads, threads_cap;
	uint64_t line_events;
	uint64_t next_serial;
	struct block **buckets; /* live heap blocks by address */
	size_t nbuckets, nblocks;
	bool keep_freed; /* account_keep_freed */
	bool track_made; /* account_track_made */
	struct heap_block *freed;
	size_t nfreed, freed_cap;
};

static void heap_add(struct account *acct, int func, size_t proc, int line,
		     size_t field, uint64_t bytes);

struct account *account_new(void)
{
	return xcalloc(1, sizeof(struct account));
}

void account_free(struct account *acct)
{
	if (!acct)
		return;
	for (size_t i = 0; i < acct->nfuncs; i++) {
		free(acct->funcs[i].name);
		free(acct->funcs[i].inlined_into);
		free(acct->funcs[i].file);
		free(acct->funcs[i].lines);
		for (size_t j = 0; j < acct->funcs[i].nprocs; j++)
			free(acct->funcs[i].procs[j].lines);
		free(acct->funcs[i].procs);
		for (size_t j = 0; j < acct->funcs[i].ntypes; j++)
			free(acct->funcs[i].types[j].type);
		free(acct->funcs[i].types);
		free(acct->funcs[i].freed);
	}
	for (size_t i = 0; i < acct->nthreads; i++) {
		for (size_t j = 0; j < acct->threads[i].depth; j++) {
			free(acct->threads[i].acts[j].live);
			free(acct->threads[i].acts[j].made);
		}
		free(acct->threads[i].acts);
	}
	for (size_t k = 0; k < acct->nbuckets; k++) {
		for (struct block *b = acct->buckets[k], *next; b; b = next) {
			next = b->next;
			free(b->owners);
			free(b);
		}
	}
	free(acct->buckets);
	free(acct->freed);
	free(acct->funcs);
	free(acct->threads);
	free(acct);
}

int account_add_func(struct account *acct, const char *name, const char *file,
		     int first_line, int last_line)
{
	struct func_stats *f;

	if (last_line < first_line)
		last_line = first_line;
	for (size_t i = 0; i < acct->nfuncs; i++) {
		f = &acct->funcs[i];
		if (f->first_line == first_line && strcmp(f->name, name) == 0 &&
		    strcmp(f->file, file ? file : "") == 0)
			return (int)i;
	}
	if (acct->nfuncs == acct->funcs_cap) {
		acct->funcs_cap = acct->funcs_cap ? 2 * acct->funcs_cap : 4;
		acct->funcs = xrealloc(acct->funcs,
				       acct->funcs_cap * sizeof(*acct->funcs));
	}
	f = &acct->funcs[acct->nfuncs];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->file = xstrdup(file ? file : "");
	f->first_line = first_line;
	f->last_line = last_line;
	f->lines = xcalloc((size_t)(last_line - first_line) + 1,
			   sizeof(*f->lines));
	return (int)acct->nfuncs++;
}

void account_set_inlined(struct account *acct, int idx, const char *into)
{
	struct func_stats *f;

	if (idx < 0 || (size_t)idx >= acct->nfuncs)
		return;
	f = &acct->funcs[idx];
	if (!f->inlined_into)
		f->inlined_into = xstrdup(into);
}

size_t account_func_count(const struct account *acct)
{
	return acct->nfuncs;
}

const struct func_stats *account_func(const struct account *acct, size_t idx)
{
	return idx < acct->nfuncs ? &acct->funcs[idx] : NULL;
}

static struct thread_stack *find_thread(const struct account *acct, int tid)
{
	for (size_t i = 0; i < acct->nthreads; i++)
		if (acct->threads[i].tid == tid)
			return &acct->threads[i];
	return NULL;
}

static struct thread_stack *get_thread(struct account *acct, int tid)
{
	struct thread_stack *t = find_thread(acct, tid);

	if (t)
		return t;
	if (acct->nthreads == acct->threads_cap) {
		acct->threads_cap =
			acct->threads_cap ? 2 * acct->threads_cap : 4;
		acct->threads =
			xrealloc(acct->threads,
				 acct->threads_cap * sizeof(*acct->threads));
	}
	t = &acct->threads[acct->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	return t;
}

/* Forgets a thread with nothing open, so that programs with many
 * short-lived threads do not slow the lookup down. */
static void drop_thread_if_idle(struct account *acct, struct thread_stack *t)
{
	if (t->depth)
		return;
	free(t->acts);
	*t = acct->threads[--acct->nthreads];
}

static size_t line_count(const struct func_stats *f)
{
	return (size_t)(f->last_line - f->first_line) + 1;
}

/* The index of PID's figures for F, made on its first activation there. */
static size_t proc_index(struct func_stats *f, int pid)
{
	for (size_t i = 0; i < f->nprocs; i++) {
		if (f->procs[i].pid == pid)
			return i;
	}
	f->procs = xrealloc(f->procs, (f->nprocs + 1) * sizeof(*f->procs));
	f->procs[f->nprocs] = (struct proc_stats){
		.pid = pid,
		.lines = xcalloc(line_count(f), sizeof(struct line_stats)),
	};
	return f->nprocs++;
}

static void add_to_line(struct line_stats *ls, int64_t increment, uint64_t rss,
			uint64_t peak)
{
	ls->occurrences++;
	ls->increment += increment;
	if (rss > ls->mem_usage)
		ls->mem_usage = rss;
	if (peak > ls->peak)
		ls->peak = peak;
}

/* The current line of ACT ends at RSS. */
static void end_line(struct account *acct, const struct activation *act,
		     uint64_t rss)
{
	struct func_stats *f = &acct->funcs[act->func];
	int64_t increment = (int64_t)rss - act->start;
	size_t i = (size_t)(act->line - f->first_line);

	if (act->line < f->first_line || act->line > f->last_line)
		return;
	/* the line was at least as high at its start and at its end */
	uint64_t peak = act->line_peak > rss ? act->line_peak : rss;
	if (act->start > 0 && (uint64_t)act->start > peak)
		peak = (uint64_t)act->start;
	add_to_line(&f->lines[i], increment, rss, peak);
	add_to_line(&f->procs[act->proc].lines[i], increment, rss, peak);
}

void account_enter(struct account *acct, int pid, int tid, int func,
		   uint64_t rss)
{
	struct thread_stack *t;
	struct activation *act;
	struct func_stats *f;

	if (func < 0 || (size_t)func >= acct->nfuncs)
		return;
	f = &acct->funcs[func];
	t = get_thread(acct, tid);
	if (t->depth == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->acts = xrealloc(t->acts, t->cap * sizeof(*t->acts));
	}
	act = &t->acts[t->depth++];
	act->func = func;
	act->proc = proc_index(f, pid);
	act->line = f->first_line;
	act->start = (int64_t)rss;
	act->entry_rss = rss;
	act->pid = pid;
	act->line_peak = 0;
	act->serial = ++acct->next_serial;
	act->live = NULL;
	act->nlive = 0;
	act->made = NULL;
	act->nmade = act->made_cap = 0;
	act->abandoned = false;
	f->calls++;
	f->procs[act->proc].calls++;
	act->call = f->calls;
}

uint64_t account_call_number(const struct account *acct, int tid)
{
	const struct thread_stack *t = find_thread(acct, tid);

	return t && t->depth ? t->acts[t->depth - 1].call : 0;
}

void account_line(struct account *acct, int tid, int line, uint64_t rss)
{
	struct thread_stack *t = find_thread(acct, tid);
	struct activation *act;

	if (!t || !t->depth)
		return;
	act = &t->acts[t->depth - 1];
	/* a line outside the function is not one of its events: the current
	 * line goes on, so that the increments still add up */
	if (line < acct->funcs[act->func].first_line ||
	    line > acct->funcs[act->func].last_line)
		return;
	end_line(acct, act, rss);
	act->line = line;
	act->start = (int64_t)rss;
	act->line_peak = 0;
	acct->line_events++;
}

/* Pops T's innermost activation. An enclosing activation of the same
 * function is not charged again for what this one recorded; only the
 * outermost adds to the function's growth. */
static void pop_activation(struct account *acct, struct thread_stack *t,
			   uint64_t rss)
{
	struct activation *act = &t->acts[t->depth - 1];
	int64_t recorded = (int64_t)rss - (int64_t)act->entry_rss;

	end_line(acct, act, rss);
	if (act->abandoned) {
		acct->funcs[act->func].unfinished++;
		acct->funcs[act->func].procs[act->proc].unfinished++;
	}
	/* what its lines allocated and is live still: retained */
	for (size_t i = 0; i < act->nlive; i++)
		heap_add(acct, act->func, act->proc, act->live[i].line,
			 offsetof(struct line_stats, heap_retained),
			 act->live[i].bytes);
	free(act->live);
	free(act->made);
	act->made = NULL;
	act->live = NULL;
	act->nlive = 0;
	t->depth--;
	for (size_t i = t->depth; i-- > 0;) {
		if (t->acts[i].func == act->func) {
			t->acts[i].start += recorded;
			return;
		}
	}
	acct->funcs[act->func].growth += recorded;
	acct->funcs[act->func].procs[act->proc].growth += recorded;
}

void account_peak(struct account *acct, int pid, uint64_t peak)
{
	for (size_t i = 0; i < acct->nthreads; i++) {
		struct thread_stack *t = &acct->threads[i];

		for (size_t j = 0; j < t->depth; j++) {
			if (t->acts[j].pid == pid &&
			    peak > t->acts[j].line_peak)
				t->acts[j].line_peak = peak;
		}
	}
}

void account_return(struct account *acct, int tid, uint64_t rss)
{
	struct thread_stack *t = find_thread(acct, tid);

	if (!t || !t->depth)
		return;
	pop_activation(acct, t, rss);
	drop_thread_if_idle(acct, t);
}

void account_abandon(struct account *acct, int tid)
{
	struct thread_stack *t = find_thread(acct, tid);

	for (size_t i = 0; t && i < t->depth; i++)
		t->acts[i].abandoned = true;
}

void account_end_thread(struct account *acct, int tid, uint64_t rss)
{
	struct thread_stack *t = find_thread(acct, tid);

	if (!t)
		return;
	account_abandon(acct, tid);
	while (t->depth)
		pop_activation(acct, t, rss);
	drop_thread_if_idle(acct, t);
}

void account_end_all(struct account *acct, uint64_t rss)
{
	while (acct->nthreads) {
		struct thread_stack *t = &acct->threads[acct->nthreads - 1];

		account_abandon(acct, t->tid);
		while (t->depth)
			pop_activation(acct, t, rss);
		drop_thread_if_idle(acct, t);
	}
}

size_t account_depth(const struct account *acct, int tid)
{
	const struct thread_stack *t = find_thread(acct, tid);

	return t ? t->depth : 0;
}

uint64_t account_line_events(const struct account *acct)
{
	return acct->line_events;
}

/* Heap blocks */

static size_t bucket_of(const struct account *acct, uint64_t ptr)
{
	return (size_t)((ptr >> 4) * 0x9e3779b97f4a7c15ull >> 20) &
	       (acct->nbuckets - 1);
}

static void grow_buckets(struct account *acct)
{
	size_t old = acct->nbuckets;
	struct block **buckets = acct->buckets;

	acct->nbuckets = old ? 2 * old : 1024;
	acct->buckets = xcalloc(acct->nbuckets, sizeof(*acct->buckets));
	for (size_t i = 0; i < old; i++) {
		for (struct block *b = buckets[i], *next; b; b = next) {
			size_t k = bucket_of(acct, b->ptr);

			next = b->next;
			b->next = acct->buckets[k];
			acct->buckets[k] = b;
		}
	}
	free(buckets);
}

/* Takes the block at PTR out of the table; NULL when unknown. */
static struct block *take_block(struct account *acct, uint64_t ptr)
{
	struct block **link;

	if (!acct->nbuckets)
		return NULL;
	for (link = &acct->buckets[bucket_of(acct, ptr)]; *link;
	     link = &(*link)->next) {
		struct block *b = *link;

		if (b->ptr == ptr) {
			*link = b->next;
			acct->nblocks--;
			return b;
		}
	}
	return NULL;
}

static void add_live(struct activation *act, int line, int64_t bytes)
{
	for (size_t i = 0; i < act->nlive; i++) {
		if (act->live[i].line == line) {
			act->live[i].bytes += (uint64_t)bytes;
			return;
		}
	}
	if (bytes <= 0)
		return;
	act->live = xrealloc(act->live, (act->nlive + 1) * sizeof(*act->live));
	act->live[act->nlive++] = (struct live_bytes){line, (uint64_t)bytes};
}

/* The open activation SERIAL on thread TID, or NULL. */
static struct activation *find_activation(struct account *acct, int tid,
					  uint64_t serial)
{
	struct thread_stack *t = find_thread(acct, tid);

	for (size_t i = 0; t && i < t->depth; i++) {
		if (t->acts[i].serial == serial)
			return &t->acts[i];
	}
	return NULL;
}

/* Adds BYTES to the heap figure at offset FIELD of LINE of FUNC, in the
 * function's figures and in process PROC's. */
static void heap_add(struct account *acct, int func, size_t proc, int line,
		     size_t field, uint64_t bytes)
{
	struct func_stats *f = &acct->funcs[func];
	size_t i = (size_t)(line - f->first_line);

	if (line < f->first_line || line > f->last_line)
		return;
	*(uint64_t *)((char *)&f->lines[i] + field) += bytes;
	*(uint64_t *)((char *)&f->procs[proc].lines[i] + field) += bytes;
}

/* Calls F for the innermost activation of each function open on T:
 * those that take what happens on the thread now. */
static size_t innermost_each(struct thread_stack *t, struct activation **out)
{
	size_t n = 0;

	for (size_t i = t->depth; i-- > 0;) {
		bool seen = false;

		for (size_t j = 0; j < n && !seen; j++)
			seen = out[j]->func == t->acts[i].func;
		if (!seen)
			out[n++] = &t->acts[i];
	}
	return n;
}

void account_heap_alloc(struct account *acct, int tid, uint64_t ptr,
			uint64_t size)
{
	struct thread_stack *t = find_thread(acct, tid);
	struct activation **acts;
	struct block *b;
	size_t n;

	if (!t || !t->depth || !ptr)
		return;
	/* a block at PTR that we saw no free of is gone all the same */
	account_heap_free(acct, tid, ptr);
	acts = xcalloc(t->depth, sizeof(*acts));
	n = innermost_each(t, acts);
	b = xcalloc(1, sizeof(*b));
	b->ptr = ptr;
	b->size = size;
	b->tid = tid;
	b->owners = xcalloc(n, sizeof(*b->owners));
	for (size_t i = 0; i < n; i++) {
		struct activation *a = acts[i];

		b->owners[b->nowners++] =
			(struct owner){a->func, a->line, a->proc, a->serial};
		add_live(a, a->line, (int64_t)size);
		if (acct->track_made) {
			if (a->nmade == a->made_cap) {
				a->made_cap =
					a->made_cap ? 2 * a->made_cap : 16;
				a->made = xrealloc(a->made,
						   a->made_cap *
							   sizeof(*a->made));
			}
			a->made[a->nmade++] = ptr;
		}
		heap_add(acct, a->func, a->proc, a->line,
			 offsetof(struct line_stats, heap_alloc), size);
		heap_add(acct, a->func, a->proc, a->line,
			 offsetof(struct line_stats, heap_blocks), 1);
	}
	free(acts);
	if ((acct->nblocks + 1) * 2 > acct->nbuckets)
		grow_buckets(acct);
	size_t k = bucket_of(acct, ptr);
	b->next = acct->buckets[k];
	acct->buckets[k] = b;
	acct->nblocks++;
}

/* Adds a block to the rows *ROWS (*N of them), by TYPE or LINE. */
static void type_row_add(struct type_row **rows, size_t *n, const char *type,
			 int line, uint64_t objects, uint64_t bytes)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		const struct type_row *r = &(*rows)[i];

		if (type ? r->type && strcmp(r->type, type) == 0
			 : !r->type && r->line == line)
			break;
	}
	if (i == *n) {
		*rows = xrealloc(*rows, (*n + 1) * sizeof(**rows));
		(*rows)[(*n)++] =
			(struct type_row){.type = type ? xstrdup(type) : NULL,
					  .line = type ? 0 : line};
	}
	(*rows)[i].objects += objects;
	(*rows)[i].bytes += bytes;
	(*rows)[i].blocks++;
}

void account_types_add(struct account *acct, int func, const char *type,
		       int line, uint64_t objects, uint64_t bytes)
{
	struct func_stats *f = &acct->funcs[func];

	type_row_add(&f->types, &f->ntypes, type, line, objects, bytes);
}

/* A block the call of owner O made is freed before the call returns. */
static void freed_in_call(struct account *acct, const struct owner *o,
			  uint64_t size)
{
	struct func_stats *f = &acct->funcs[o->func];

	type_row_add(&f->freed, &f->nfreed, NULL, o->line, 1, size);
}

static int by_address(const void *pa, const void *pb)
{
	const struct heap_block *a = pa, *b = pb;

	return a->ptr < b->ptr ? -1 : a->ptr > b->ptr;
}

size_t account_heap_live(const struct account *acct, int tid, int func,
			 struct heap_block **blocks)
{
	const struct thread_stack *t = find_thread(acct, tid);
	uint64_t serial = 0;
	bool open = false;
	size_t n = 0;

	for (size_t i = t ? t->depth : 0; i-- > 0 && !open;) {
		if (t->acts[i].func == func) {
			serial = t->acts[i].serial;
			open = true;
		}
	}
	*blocks = xcalloc(acct->nblocks + 1, sizeof(**blocks));
	for (size_t k = 0; k < acct->nbuckets; k++) {
		for (const struct block *b = acct->buckets[k]; b; b = b->next) {
			struct heap_block *hb = &(*blocks)[n++];

			*hb = (struct heap_block){.ptr = b->ptr,
						  .size = b->size};
			for (size_t i = 0; i < b->nowners && open; i++) {
				if (b->owners[i].func == func &&
				    b->owners[i].serial == serial) {
					hb->made = true;
					hb->line = b->owners[i].line;
				}
			}
		}
	}
	qsort(*blocks, n, sizeof(**blocks), by_address);
	return n;
}

void account_heap_free(struct account *acct, int tid, uint64_t ptr)
{
	struct block *b = take_block(acct, ptr);
	struct thread_stack *t = find_thread(acct, tid);

	if (!b)
		return;
	/* the lines that free it: the freeing thread's current ones */
	if (t && t->depth) {
		struct activation **acts = xcalloc(t->depth, sizeof(*acts));
		size_t n = innermost_each(t, acts);

		for (size_t i = 0; i < n; i++)
			heap_add(acct, acts[i]->func, acts[i]->proc,
				 acts[i]->line,
				 offsetof(struct line_stats, heap_freed),
				 b->size);
		free(acts);
	}
	/* no longer live for the calls that made it */
	for (size_t i = 0; i < b->nowners; i++) {
		struct activation *act =
			find_activation(acct, b->tid, b->owners[i].serial);
		if (act) {
			add_live(act, b->owners[i].line, -(int64_t)b->size);
			freed_in_call(acct, &b->owners[i], b->size);
		}
	}
	if (acct->keep_freed) {
		if (acct->nfreed == acct->freed_cap) {
			acct->freed_cap =
				acct->freed_cap ? 2 * acct->freed_cap : 64;
			acct->freed = xrealloc(acct->freed,
					       acct->freed_cap *
						       sizeof(*acct->freed));
		}
		acct->freed[acct->nfreed++] = (struct heap_block){
			.ptr = b->ptr,
			.size = b->size,
			.line = b->nowners ? b->owners[0].line : 0};
	}
	free(b->owners);
	free(b);
}

void account_track_made(struct account *acct)
{
	acct->track_made = true;
}

static const struct block *find_block(const struct account *acct, uint64_t ptr)
{
	if (!acct->nbuckets)
		return NULL;
	for (const struct block *b = acct->buckets[bucket_of(acct, ptr)]; b;
	     b = b->next) {
		if (b->ptr == ptr)
			return b;
	}
	return NULL;
}

uint64_t account_heap_size(const struct account *acct, uint64_t ptr)
{
	const struct block *b = find_block(acct, ptr);

	return b ? b->size : 0;
}

size_t account_heap_made(const struct account *acct, int tid, int func,
			 struct heap_block **blocks)
{
	const struct thread_stack *t = find_thread(acct, tid);
	const struct activation *act = NULL;
	size_t n = 0;

	for (size_t i = t ? t->depth : 0; i-- > 0 && !act;) {
		if (t->acts[i].func == func)
			act = &t->acts[i];
	}
	*blocks = xcalloc(act ? act->nmade + 1 : 1, sizeof(**blocks));
	for (size_t i = 0; act && i < act->nmade; i++) {
		const struct block *b = find_block(acct, act->made[i]);

		for (size_t k = 0; b && k < b->nowners; k++) {
			if (b->owners[k].serial != act->serial)
				continue;
			(*blocks)[n++] =
				(struct heap_block){.ptr = b->ptr,
						    .size = b->size,
						    .made = true,
						    .line = b->owners[k].line};
			break;
		}
	}
	qsort(*blocks, n, sizeof(**blocks), by_address);
	/* made twice at one address (freed between): once */
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (!u || (*blocks)[u - 1].ptr != (*blocks)[i].ptr)
			(*blocks)[u++] = (*blocks)[i];
	}
	return u;
}

void account_keep_freed(struct account *acct)
{
	acct->keep_freed = true;
}

/* A freed block and when it was freed. */
struct freed_at {
	struct heap_block b;
	size_t seq;
};

static int by_address_latest(const void *pa, const void *pb)
{
	const struct freed_at *a = pa, *b = pb;

	if (a->b.ptr != b->b.ptr)
		return a->b.ptr < b->b.ptr ? -1 : 1;
	return a->seq < b->seq ? 1 : a->seq > b->seq ? -1 : 0;
}

size_t account_heap_freed(const struct account *acct,
			  struct heap_block **blocks)
{
	struct freed_at *all = xcalloc(acct->nfreed + 1, sizeof(*all));
	size_t n = 0;

	for (size_t i = 0; i < acct->nfreed; i++)
		all[i] = (struct freed_at){acct->freed[i], i};
	qsort(all, acct->nfreed, sizeof(*all), by_address_latest);
	/* at one address, the block freed last */
	*blocks = xcalloc(acct->nfreed + 1, sizeof(**blocks));
	for (size_t i = 0; i < acct->nfreed; i++) {
		if (!n || (*blocks)[n - 1].ptr != all[i].b.ptr)
			(*blocks)[n++] = all[i].b;
	}
	free(all);
	return n;
}

void account_heap_leaks(struct account *acct)
{
	for (size_t k = 0; k < acct->nbuckets; k++) {
		for (struct block *b = acct->buckets[k]; b; b = b->next) {
			for (size_t i = 0; i < b->nowners; i++)
				heap_add(acct, b->owners[i].func,
					 b->owners[i].proc, b->owners[i].line,
					 offsetof(struct line_stats,
						  heap_leaked),
					 b->size);
		}
	}
}

static int by_total(const void *pa, const void *pb)
{
	const struct summary_row *a = pa, *b = pb;

	if (a->total != b->total)
		return a->total < b->total ? 1 : -1;
	return a->line - b->line;
}

size_t account_summary(const struct account *acct, int func,
		       struct summary_row **rows)
{
	size_t n = 0, cap = 0;

	*rows = NULL;
	for (size_t k = 0; k < acct->nbuckets; k++) {
		for (struct block *b = acct->buckets[k]; b; b = b->next) {
			for (size_t i = 0; i < b->nowners; i++) {
				const struct owner *o = &b->owners[i];
				size_t r;

				if (o->func != func)
					continue;
				for (r = 0; r < n; r++) {
					if ((*rows)[r].line == o->line &&
					    (*rows)[r].size == b->size)
						break;
				}
				if (r == n) {
					if (n == cap) {
						cap = cap ? 2 * cap : 16;
						*rows = xrealloc(
							*rows,
							cap * sizeof(**rows));
					}
					(*rows)[n++] = (struct summary_row){
						.line = o->line,
						.size = b->size};
				}
				(*rows)[r].count++;
				(*rows)[r].total += b->size;
			}
		}
	}
	if (n)
		qsort(*rows, n, sizeof(**rows), by_total);
	return n;
}

bool account_heap_has(const struct account *acct, uint64_t ptr)
{
	if (!acct->nbuckets)
		return false;
	for (const struct block *b = acct->buckets[bucket_of(acct, ptr)]; b;
	     b = b->next) {
		if (b->ptr == ptr)
			return true;
	}
	return false;
}

size_t account_heap_blocks(const struct account *acct)
{
	return acct->nblocks;
}

void account_heap_move(struct account *acct, uint64_t old, uint64_t ptr,
		       uint64_t size)
{
	struct block *b = take_block(acct, old);
	size_t k;

	if (!b)
		return;
	b->ptr = ptr;
	b->size = size;
	if ((acct->nblocks + 1) * 2 > acct->nbuckets)
		grow_buckets(acct);
	k = bucket_of(acct, ptr);
	b->next = acct->buckets[k];
	acct->buckets[k] = b;
	acct->nblocks++;
}

/* The typed walk: a work list of typed values in the program's memory;
 * each heap block is scanned once, other memory once per address and
 * type. */
#include <stdlib.h>
#include <string.h>

#include "heapwalk.h"
#include "util.h"

/* Bounds on what one walk does, so that no program makes it endless. */
#define MAX_ITEMS 4000000u	    /* values taken from the work list */
#define MAX_BYTES (1ull << 30)	    /* bytes read in all */
#define MAX_BLOCK_READ (256u << 20) /* of one block, the first bytes */
#define MAX_VALUE (1u << 20)	    /* a value outside blocks */

/* A value to scan: COUNT values of TYPE at ADDR. */
struct item {
	uint64_t addr, count;
	int type;
	long block; /* the block it fills, or -1 */
};

struct seen_key {
	uint64_t addr;
	int type;
	bool used;
};

struct walk {
	const struct ctypes *ct;
	struct walk_block *blocks;
	size_t nblocks;
	bool *scanned;
	struct item *items;
	size_t nitems, cap;
	struct seen_key *seen; /* values outside blocks, scanned */
	size_t nseen, seen_cap;
	walk_read_fn read;
	walk_size_fn size_of;
	void *arg;
	uint64_t bytes_read;
	struct walk_result res;
};

static long block_at(const struct walk *w, uint64_t addr)
{
	size_t lo = 0, hi = w->nblocks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->blocks[mid].ptr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	const struct walk_block *b = &w->blocks[lo - 1];

	return addr - b->ptr < (b->size ? b->size : 1) ? (long)(lo - 1) : -1;
}

static size_t seen_slot(const struct walk *w, uint64_t addr, int type)
{
	uint64_t h = (addr * 0x9e3779b97f4a7c15ull) ^ (uint64_t)type;

	return (size_t)(h ^ (h >> 31)) & (w->seen_cap - 1);
}

/* Whether (ADDR, TYPE) was met before; it is, after. */
static bool seen_before(struct walk *w, uint64_t addr, int type)
{
	size_t k;

	if ((w->nseen + 1) * 2 > w->seen_cap) {
		struct seen_key *old = w->seen;
		size_t old_cap = w->seen_cap;

		w->seen_cap = old_cap ? 2 * old_cap : 1024;
		w->seen = xcalloc(w->seen_cap, sizeof(*w->seen));
		for (size_t i = 0; i < old_cap; i++) {
			if (!old[i].used)
				continue;
			k = seen_slot(w, old[i].addr, old[i].type);
			while (w->seen[k].used)
				k = (k + 1) & (w->seen_cap - 1);
			w->seen[k] = old[i];
		}
		free(old);
	}
	for (k = seen_slot(w, addr, type); w->seen[k].used;
	     k = (k + 1) & (w->seen_cap - 1)) {
		if (w->seen[k].addr == addr && w->seen[k].type == type)
			return true;
	}
	w->seen[k] = (struct seen_key){addr, type, true};
	w->nseen++;
	return false;
}

static void push(struct walk *w, uint64_t addr, int type, uint64_t count,
		 long block)
{
	if (w->nitems == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->items = xrealloc(w->items, w->cap * sizeof(*w->items));
	}
	w->items[w->nitems++] = (struct item){addr, count, type, block};
}

/* A pointer to TARGET holds V. */
static void follow(struct walk *w, uint64_t v, int target)
{
	const struct ctype *t = ctypes_get(w->ct, target);
	long b;

	if (!v || !t || t->kind == CT_OTHER)
		return;
	w->res.pointers++;
	b = block_at(w, v);
	if (b >= 0) {
		struct walk_block *blk = &w->blocks[b];

		if (v == blk->ptr && blk->type < 0) {
			/* the block holds an array of them when larger */
			uint64_t count = t->size ? blk->size / t->size : 1;

			blk->type = target;
			if (t->pointers && !w->scanned[b]) {
				w->scanned[b] = true;
				push(w, v, target, count ? count : 1, b);
			}
			return;
		}
		/* into its middle, or typed already: not typed by it, but
		 * what it points at is scanned (within the block) */
		if (v != blk->ptr && t->pointers && !seen_before(w, v, target))
			push(w, v, target, 1, b);
		return;
	}
	if (!t->pointers || seen_before(w, v, target))
		return;
	/* another block: all of it, an array when larger */
	uint64_t size = w->size_of ? w->size_of(w->arg, v) : 0;
	uint64_t count = size && t->size ? size / t->size : 1;

	push(w, v, target, count ? count : 1, -1);
}

/* The value of TYPE in BUF (LEN bytes readable), its pointers followed. */
static void scan(struct walk *w, const uint8_t *buf, uint64_t len, int type,
		 int depth)
{
	const struct ctype *t = ctypes_get(w->ct, type);

	if (!t || !t->pointers || depth > 64)
		return;
	switch (t->kind) {
	case CT_POINTER: {
		uint64_t v;

		if (len < sizeof(v))
			return;
		memcpy(&v, buf, sizeof(v));
		follow(w, v, t->target);
		return;
	}
	case CT_ARRAY: {
		const struct ctype *e = ctypes_get(w->ct, t->target);

		if (!e || !e->size)
			return;
		for (uint64_t i = 0; i < t->count && (i + 1) * e->size <= len;
		     i++)
			scan(w, buf + i * e->size, e->size, t->target,
			     depth + 1);
		return;
	}
	case CT_UNION: {
		/* only a union with one member that holds pointers tells
		 * which pointer it holds */
		const struct ctype_member *only = NULL;

		for (size_t m = 0; m < t->nmembers; m++) {
			if (!ctypes_get(w->ct, t->members[m].type)->pointers)
				continue;
			if (only)
				return;
			only = &t->members[m];
		}
		if (only)
			scan(w, buf, len, only->type, depth + 1);
		return;
	}
	case CT_STRUCT:
		for (size_t m = 0; m < t->nmembers; m++) {
			const struct ctype_member *mb = &t->members[m];

			if (mb->offset >= len)
				continue;
			scan(w, buf + mb->offset, len - mb->offset, mb->type,
			     depth + 1);
		}
		return;
	default:
		return;
	}
}

/* Reads and scans one item. */
static void take(struct walk *w, const struct item *it)
{
	const struct ctype *t = ctypes_get(w->ct, it->type);
	uint64_t len;
	uint8_t *buf;

	if (!t || !t->size)
		return;
	if (it->block >= 0) {
		const struct walk_block *b = &w->blocks[it->block];

		/* bounded by the block's end: never past it */
		len = b->ptr + b->size - it->addr;
		if (len > t->size * it->count)
			len = t->size * it->count;
		if (len > MAX_BLOCK_READ) {
			len = MAX_BLOCK_READ;
			w->res.truncated = true;
		}
	} else {
		len = t->size * it->count;
		if (it->count == 1 && len > MAX_VALUE)
			return;
		if (len > MAX_BLOCK_READ) {
			len = MAX_BLOCK_READ;
			w->res.truncated = true;
		}
	}
	if (w->bytes_read + len > MAX_BYTES) {
		w->res.truncated = true;
		return;
	}
	w->bytes_read += len;
	buf = xcalloc(1, len ? len : 1);
	if (w->read(w->arg, it->addr, buf, len) == 0) {
		for (uint64_t i = 0; (i + 1) * t->size <= len; i++)
			scan(w, buf + i * t->size, t->size, it->type, 0);
	}
	free(buf);
}

struct walk_result heapwalk(const struct ctypes *ct, struct walk_block *blocks,
			    size_t n, const struct walk_root *roots,
			    size_t nroots, walk_read_fn read,
			    walk_size_fn size_of, void *arg)
{
	struct walk w = {.ct = ct,
			 .blocks = blocks,
			 .nblocks = n,
			 .read = read,
			 .size_of = size_of,
			 .arg = arg};
	uint64_t taken = 0;

	w.scanned = xcalloc(n + 1, sizeof(*w.scanned));
	for (size_t i = 0; i < nroots; i++) {
		const struct ctype *t = ctypes_get(ct, roots[i].type);

		if (!t || !t->pointers)
			continue;
		if (roots[i].addr)
			push(&w, roots[i].addr, roots[i].type, 1,
			     block_at(&w, roots[i].addr));
		else if (t->size <= sizeof(roots[i].value))
			scan(&w, roots[i].value, t->size, roots[i].type, 0);
	}
	/* depth first: a list's next block is scanned before its
	 * neighbours pile up */
	while (w.nitems) {
		struct item it = w.items[--w.nitems];

		if (++taken > MAX_ITEMS) {
			w.res.truncated = true;
			break;
		}
		take(&w, &it);
	}
	free(w.items);
	free(w.seen);
	free(w.scanned);
	return w.res;
}

char *heapwalk_type_name(const struct ctypes *ct, int type, uint64_t size,
			 uint64_t *objects)
{
	const struct ctype *t = ctypes_get(ct, type);

	*objects = 1;
	if (!t)
		return NULL;
	switch (t->kind) {
	case CT_STRUCT:
	case CT_UNION:
	case CT_ARRAY:
		/* one object per element */
		if (t->size && size / t->size > 1)
			*objects = size / t->size;
		return xstrdup(t->name);
	default:
		/* a string, an array of pointers: one object */
		if (t->size && size > t->size)
			return xasprintf("%s[]", t->name);
		return xstrdup(t->name);
	}
}

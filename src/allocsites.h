/* --heap with --engine jump: where an allocator function can take jumps
 * to stubs that record its calls in the ring, found in its machine code
 * alone (libc has no DWARF: its extent is its symbol's size). */
#ifndef MEMPROF_ALLOCSITES_H
#define MEMPROF_ALLOCSITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A ret and the epilogue before it: a jump at SITE displaces the RUN
 * bytes up to the ret's end, which move the stack pointer by SP_ADJUST
 * before the ret. */
struct alloc_ret {
	uint64_t site;
	size_t run;
	uint32_t sp_adjust;
};

#define ALLOC_MAX_RETS 32

struct alloc_sites {
	struct alloc_ret rets[ALLOC_MAX_RETS];
	size_t nrets;
	uint64_t *targets; /* where its jumps land inside it */
	size_t ntargets;
	const char *why; /* NULL, or why its calls cannot be taken so */
};

/* Looks at the LEN bytes of CODE, a function found at ADDR. A jump out
 * of it is a tail call only to one of the NENTRIES addresses ENTRIES
 * (other allocator functions whose calls are taken too). Returns 0 with
 * every ret in OUT (none with ENTRY_ONLY: its returns do not matter),
 * or -1 with OUT->why. */
int alloc_sites_find(const uint8_t *code, size_t len, uint64_t addr,
		     const uint64_t *entries, size_t nentries, bool entry_only,
		     struct alloc_sites *out);

/* Whether no jump of the function lands in (LO, HI]. */
int alloc_sites_clear(const struct alloc_sites *as, uint64_t lo, uint64_t hi);

void alloc_sites_free(struct alloc_sites *as);

#endif

/* The typed walk: from roots whose C types are known, through the
 * program's memory, following every pointer the types tell of; a heap
 * block a typed pointer reaches at its start takes the pointed-to type.
 * The memory is read through a callback and never trusted: every read,
 * count and depth is bounded, and cycles end. */
#ifndef MEMPROF_HEAPWALK_H
#define MEMPROF_HEAPWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctypes.h"

/* Reads N bytes at ADDR of the program: 0, or -1 (unmapped). */
typedef int (*walk_read_fn)(void *arg, uint64_t addr, void *buf, size_t n);
/* The size of another heap block (one not to type) that starts at ADDR;
 * 0 when none does. */
typedef uint64_t (*walk_size_fn)(void *arg, uint64_t addr);

/* A heap block the walk may type. */
struct walk_block {
	uint64_t ptr, size;
	int type; /* set by the walk: the pointed-to type, -1 none */
};

/* A root: a value of TYPE, in memory at ADDR, or held in VALUE (a
 * register: ADDR 0). */
struct walk_root {
	uint64_t addr;
	int type;
	uint8_t value[16];
};

struct walk_result {
	uint64_t pointers; /* pointers followed */
	bool truncated;	   /* a bound was reached: some were not */
};

/* Walks from ROOTS, giving types to BLOCKS (N of them, sorted by
 * address, their types -1 before); other blocks (SIZE_OF) are walked
 * through, whole, but not typed. */
struct walk_result heapwalk(const struct ctypes *ct, struct walk_block *blocks,
			    size_t n, const struct walk_root *roots,
			    size_t nroots, walk_read_fn read,
			    walk_size_fn size_of, void *arg);

/* How a typed block shows in the --types table: the name of its type
 * (a new string) and the objects it holds. */
char *heapwalk_type_name(const struct ctypes *ct, int type, uint64_t size,
			 uint64_t *objects);

#endif

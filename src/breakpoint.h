/* Breakpoints: int3 bytes in the traced process and what each one is
 * for. One breakpoint can have several roles at once (a ret that is also
 * a line site). */
#ifndef MEMPROF_BREAKPOINT_H
#define MEMPROF_BREAKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/layout.h" /* BP_INSN */
#include "target.h"

enum bp_role {
	BP_ENTRY = 1u << 0,  /* first instruction of a profiled function */
	BP_LINE = 1u << 1,   /* a line site of a profiled function */
	BP_RETURN = 1u << 2, /* a ret instruction of a profiled function */
	BP_PASS = 1u << 3,   /* none of these: only run past (a test) */
	BP_EXIT = 1u << 4,   /* a jump out of the function: a tail call */
	BP_LOADER = 1u << 5, /* the dynamic linker's _dl_debug_state */
	BP_ALLOC = 1u << 6,  /* an allocator's entry (--heap) */
	/* a return address that a call under way will come back to (a
	 * tail call, an allocator's call); in a process's memory only while
	 * one of its threads waits for it there */
	BP_CALLER = 1u << 7,
	BP_RING_FULL = 1u << 8, /* a stub's trap: the ring has no room */
	/* an allocator's ret, taken with its epilogue by a jump to a stub
	 * (--heap, --engine jump): never an int3 but while it is written */
	BP_ALLOC_RET = 1u << 9,
	/* the trap of an allocator's trap stub: the function's call begins
	 * (--heap, --engine jump, a function whose return cannot be
	 * recorded; trapped only while armed) */
	BP_ALLOC_TRAP = 1u << 10,
};

/* Line sites a jump can take along (see chained below). */
#define MAX_CHAINED 3

struct breakpoint {
	uint64_t addr;
	uint8_t orig; /* the byte the int3 replaces */
	unsigned roles;
	int func;	  /* index of the profiled function */
	int line;	  /* BP_LINE: its line */
	uint16_t ret_pop; /* BP_RETURN: bytes the ret pops after the address */
	/* BP_EXIT: the jcc's condition code, -1: jmp, EXIT_AFTER_CALL
	 * (image.h): a call that returns out of an inlined copy */
	int8_t cond;
	/* where a thread stopped here goes on: the instruction's out-of-line
	 * copy; 0 when it must be stepped in place */
	uint64_t resume;
	bool placed;	   /* its copy was tried */
	int8_t alloc_kind; /* BP_ALLOC: which allocator function */
	/* --engine jump: the bytes a jump to the site's stub replaced
	 * (orig is the first); 0 while it is an int3 */
	uint8_t jump_len;
	uint8_t jump_orig[8];
	bool jump_tried;
	/* its stub adds 1 to the ring's allocs_armed: a profiled
	 * function's entry with --heap (memprof takes it off) */
	bool counts_entry;
	/* BP_ALLOC_TRAP: the allocator entry whose stub it is in */
	uint64_t owner;
	/* line sites inside the instructions the jump displaced, which the
	 * thread reaches in turn: their events follow this one's */
	uint64_t chained[MAX_CHAINED];
};

struct bp_table;

struct bp_table *bp_table_new(void);
void bp_table_free(struct bp_table *bps);

struct breakpoint *bp_find(const struct bp_table *bps, uint64_t addr);
/* The breakpoint at ADDR, inserted into the process now if it is new.
 * ORIG is the byte it replaces (NULL: read it from the process). NULL on
 * failure. */
struct breakpoint *bp_get(struct bp_table *bps, const struct target *t,
			  uint64_t addr, const uint8_t *orig);
/* Drops ROLE; removes the breakpoint from the process when none is left. */
int bp_drop_role(struct bp_table *bps, const struct target *t,
		 struct breakpoint *bp, unsigned role);
/* Removes the breakpoint from the table only: its memory is gone (an
 * unmapped library), so nothing is written. */
void bp_forget(struct bp_table *bps, struct breakpoint *bp);
/* Puts every original byte back, in the process of T. */
int bp_remove_all(struct bp_table *bps, const struct target *t);
/* Puts every original byte back in another process (a fork child). */
void bp_clean_process(const struct bp_table *bps, pid_t pid);
size_t bp_count(const struct bp_table *bps);
/* Puts the original byte back for now (ARMED false), or the int3 again,
 * in T's memory (processes that share the table each have their own). */
int bp_set_armed(struct breakpoint *bp, const struct target *t, bool armed);
/* Every breakpoint in turn: start with *CURSOR 0; NULL at the end. */
struct breakpoint *bp_next(const struct bp_table *bps, size_t *cursor);

#endif

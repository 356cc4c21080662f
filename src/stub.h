/* The stub a line site jumps to (--engine jump): it records the line
 * event in the ring without a stop, runs the site's displaced
 * instructions and jumps back. Pure: bytes out, x86-64 only. */
#ifndef MEMPROF_STUB_H
#define MEMPROF_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relocate.h"

/* The jump that replaces the site's first bytes. */
#define STUB_JUMP_LEN 5

/* Room enough for a stub. */
#define STUB_MAX (376 + RELOC_RUN_MAX)

struct stub {
	uint8_t code[STUB_MAX];
	size_t len;
	size_t covered; /* bytes of the original the jump displaces */
	/* offset of the stub's trap: taken when the ring is full, or by an
	 * allocator's trap stub (stub_alloc.trap) when armed */
	size_t full_trap;
	/* [taken, published): a record taken and not written yet, which
	 * holds back every record after it until it is (0, 0: none) */
	size_t taken, published;
	/* the offset of the displaced instructions: before them the
	 * stub's own code, as long in every stub */
	size_t head;
};

/* Builds the stub for the site at SITE (whose original bytes are CODE,
 * AVAIL of them readable) to run at AT, writing to the ring at RING.
 * With COUNTS_ENTRY (a profiled function's entry, --heap) it first adds
 * 1 to the ring header's allocs_armed. Returns 0, or -1 when the
 * displaced instructions cannot run elsewhere. */
int stub_build(struct stub *st, uint64_t at, uint64_t ring, uint64_t site,
	       const uint8_t *code, size_t avail, bool counts_entry);

/* --heap: an allocator's stub. At its entry (RET false) it records
 * rdi, rsi and rdx; at a ret it records rax, then runs the RUN bytes
 * from SITE to the ret's end (an epilogue that does not write rax and
 * moves the stack pointer by SP_ADJUST before the ret). It records only
 * while the ring header's word at offset ARMED is not 0 (WIDE: the
 * quadword there, two words). With TRAP, at an entry, it records
 * nothing but traps instead (full_trap), with rsp STUB_TRAP_DEPTH below
 * the entry's and rax changed: for a function whose return cannot be
 * recorded, memprof takes the call at that stop. */
#define STUB_TRAP_DEPTH (128 + 8) /* the red zone, and rax pushed */
struct stub_alloc {
	bool ret;
	bool wide;
	bool trap;
	uint8_t armed;
	uint32_t sp_adjust;
	size_t run;
};

int stub_build_alloc(struct stub *st, uint64_t at, uint64_t ring, uint64_t site,
		     const uint8_t *code, size_t avail,
		     const struct stub_alloc *a);

/* The jump at SITE to the stub at AT: STUB_JUMP_LEN bytes into JMP;
 * -1 when AT is out of reach. */
int stub_jump(uint8_t jmp[STUB_JUMP_LEN], uint64_t site, uint64_t at);

#endif

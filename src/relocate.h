/* Out-of-line copies: one instruction rewritten to run at another address
 * and then go on exactly where the original would have gone. Pure: bytes
 * in, bytes out, unit-tested alone. */
#ifndef MEMPROF_RELOCATE_H
#define MEMPROF_RELOCATE_H

#include <stddef.h>
#include <stdint.h>

/* Room enough for the longest rewrite (an indirect call). */
#define RELOC_MAX 64

struct reloc_copy {
	uint8_t code[RELOC_MAX];
	uint8_t len;
};

/* Rewrites the instruction at the start of CODE (AVAIL bytes readable),
 * found at ADDR, to run at COPY. Returns the original instruction's
 * length, or 0 when it cannot be run elsewhere (the caller then steps it
 * in place). */
size_t relocate(const uint8_t *code, size_t avail, uint64_t addr, uint64_t copy,
		struct reloc_copy *out);

/* Room enough for a run of instructions that covers a 5-byte jump. */
#define RELOC_RUN_MAX 160

struct reloc_run {
	uint8_t code[RELOC_RUN_MAX];
	size_t len;
};

/* Rewrites the instructions at the start of CODE that cover at least
 * WANT bytes, to run one after the other at COPY and then go on where
 * the last one would have gone; only the last may change the flow.
 * Returns the bytes they cover in the original, or 0 when they cannot
 * run elsewhere. */
size_t relocate_run(const uint8_t *code, size_t avail, uint64_t addr,
		    size_t want, uint64_t copy, struct reloc_run *out);

#endif

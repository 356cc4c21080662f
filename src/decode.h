/* Machine code of a function, decoded with capstone into plain structs:
 * where each instruction goes next. */
#ifndef MEMPROF_DECODE_H
#define MEMPROF_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum insn_flow {
	FLOW_NEXT,	    /* falls through to the next instruction */
	FLOW_JUMP,	    /* direct jump to TARGET only */
	FLOW_COND,	    /* direct jump to TARGET, or falls through */
	FLOW_CALL,	    /* calls, then comes back to the next one */
	FLOW_RET,	    /* leaves the function */
	FLOW_INDIRECT_JUMP, /* jumps somewhere unknown (switch, tail call) */
	FLOW_STOP,	    /* never goes on (hlt, ud2) */
};

struct insn {
	uint64_t addr;
	/* FLOW_JUMP, FLOW_COND, direct FLOW_CALL: where it goes; FLOW_RET:
	 * the bytes it pops besides the return address */
	uint64_t target;
	uint8_t len;
	uint8_t flow;
	/* cannot change the memory the process uses: no store, no call, no
	 * read but of the stack frame (pages that are there already) */
	uint8_t quiet;
};

/* Decodes LEN bytes of CODE found at ADDR. Returns the number of
 * instructions put in *INSNS (a new array); decoding stops at the first
 * byte that is not an instruction. */
size_t decode_code(const uint8_t *code, size_t len, uint64_t addr,
		   struct insn **insns);

#endif

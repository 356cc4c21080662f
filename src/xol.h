/* The out-of-line area: one executable mapping in the traced process that
 * holds the relocated copies of the instructions under breakpoints, so
 * that a hit breakpoint resumes at its copy and the original byte never
 * has to be put back while the program runs. */
#ifndef MEMPROF_XOL_H
#define MEMPROF_XOL_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

struct xol {
	uint64_t base; /* 0 until mapped */
	size_t size, used;
	size_t copies;
};

/* Maps SIZE bytes in the process of T through its stopped thread TID, as
 * close below the module holding NEAR as it can (RIP-relative copies must
 * stay within 2 GiB of their data). Returns 0, or -1 with errno. */
int xol_map(struct xol *x, const struct target *t, pid_t tid, uint64_t near,
	    size_t size);

/* Places a copy of the instruction at ADDR, whose original bytes are
 * CODE (AVAIL of them readable). Returns where a thread stopped at ADDR
 * resumes: the copy, or the next instruction for one that does nothing;
 * 0 when it cannot be relocated or there is no room. */
uint64_t xol_place(struct xol *x, const struct target *t, const uint8_t *code,
		   size_t avail, uint64_t addr);

/* Unmaps the area in the process of T through its stopped thread TID (no
 * thread may be in it, nor return into it). Returns 0, or -1 with errno. */
int xol_unmap(const struct xol *x, const struct target *t, pid_t tid);

/* Places BYTES as they are (no relocation); their address, or 0. */
uint64_t xol_put(struct xol *x, const struct target *t, const void *bytes,
		 size_t n);

#endif

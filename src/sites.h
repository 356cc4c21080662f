/* Where a function needs a breakpoint so that no line event is missed:
 * pure rules over decoded instructions and line rows, unit-tested alone. */
#ifndef MEMPROF_SITES_H
#define MEMPROF_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "debuginfo.h"
#include "decode.h"

/* A line site. Arriving from another line is always a line event; an
 * arrival from the same line is one only by a backward jump, so the site
 * says which same-line arrivals exist. */
struct site {
	uint64_t addr;
	int line;
	bool back;    /* reached by a backward jump from its own line */
	bool forward; /* reached by falling or jumping forward within it */
	/* from here control only runs quiet code to a ret: the activation
	 * can end at this stop, and the ret needs no breakpoint */
	bool returns;
	/* no line begins here (an epilogue whose rows are no statement):
	 * the site only ends the activation */
	bool end_only;
};

/* The line of the code at ADDR: the row at or before it, or 0. */
int sites_line_at(const struct line_row *rows, size_t nrows, uint64_t addr);

/* Line sites of a function whose instructions (sorted by address) and
 * rows are given: every instruction that control can reach from another
 * line or by a backward jump. The entry is one only when jumped back to.
 * A backward jump within the code of one inlined call (of the NINL in
 * INL) is the callee's loop, no new run of the call line. Returns the
 * count; *SITES is a new array sorted by address. */
size_t sites_find(const struct insn *insns, size_t ninsns,
		  const struct line_row *rows, size_t nrows,
		  const struct inlined_code *inl, size_t ninl,
		  struct site **sites);

/* The site at ADDR, or NULL. */
struct site *sites_at(const struct site *sites, size_t nsites, uint64_t addr);

/* Adds a site where a quiet run of code that only falls into a ret
 * begins, when no line site is in it: a site a jump fits where the ret
 * alone would need a breakpoint. It ends the activation, no line
 * (end_only). Returns the new count; *SITES stays sorted. */
size_t sites_add_epilogues(const struct insn *insns, size_t ninsns,
			   struct site **sites, size_t nsites);

/* Marks the sites from which straight, quiet code leads to a ret, and
 * returns the rets that still need a breakpoint of their own (those not
 * reached that way), as indexes into INSNS in the new array *RETS. */
size_t sites_returns(const struct insn *insns, size_t ninsns,
		     struct site *sites, size_t nsites, size_t **rets);

/* The jumps that leave the function (tail calls), as indexes into INSNS
 * in the new array *EXITS: the activation ends there. */
size_t sites_exits(const struct insn *insns, size_t ninsns, size_t **exits);

#endif

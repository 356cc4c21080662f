/* Line sites. An instruction starts a line event when control arrives
 * from an instruction of another line at a row of its own line (not by a
 * jump into the middle of a line, where gdb does not stop either), or by
 * a backward jump (a new loop iteration, as in Python's tracer). Code of no
 * line (line 0) continues the line before it. Where jumps are indirect the row
 * starts keep every line reachable. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sites.h"
#include "util.h"

/* The first of N elements of SIZE bytes, sorted by the address each one
 * starts with, whose address is not below ADDR; N when there is none. */
static size_t first_from(const void *base, size_t n, size_t size, uint64_t addr)
{
	const char *elems = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t at;

		memcpy(&at, elems + mid * size, sizeof(at));
		if (at < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sites_line_at(const struct line_row *rows, size_t nrows, uint64_t addr)
{
	/* the last row at or before ADDR */
	size_t after = first_from(rows, nrows, sizeof(*rows), addr + 1);

	return after ? rows[after - 1].line : 0;
}

static size_t find_insn(const struct insn *insns, size_t n, uint64_t addr)
{
	size_t i = first_from(insns, n, sizeof(*insns), addr);

	return i < n && insns[i].addr == addr ? i : n;
}

static bool falls_through(const struct insn *in)
{
	return in->flow == FLOW_NEXT || in->flow == FLOW_COND ||
	       in->flow == FLOW_CALL;
}

static bool is_row_start(const struct line_row *rows, size_t nrows,
			 uint64_t addr)
{
	size_t i = first_from(rows, nrows, sizeof(*rows), addr);

	return i < nrows && rows[i].addr == addr;
}

/* Whether a row of LINE starts at ADDR. */
static bool starts_line(const struct line_row *rows, size_t nrows,
			uint64_t addr, int line)
{
	size_t i = first_from(rows, nrows, sizeof(*rows), addr);

	return i < nrows && rows[i].addr == addr && rows[i].line == line;
}

static bool contiguous(const struct insn *insns, size_t ninsns, size_t i)
{
	return i + 1 < ninsns &&
	       insns[i + 1].addr == insns[i].addr + insns[i].len;
}

/* Whether the backward jump at I to T, both of one line, can never be a
 * line event. It is one only when T is at or after the place where the
 * line's current run began; when the run holding I can only be entered
 * from other lines, and all of it lies after T, it began after T. */
static bool back_edge_never_counts(const struct insn *insns, size_t ninsns,
				   const int *line, const bool *same_line_entry,
				   size_t i, size_t t)
{
	size_t r = i;

	while (r > 0 && line[r - 1] == line[i] &&
	       contiguous(insns, ninsns, r - 1))
		r--;
	if (insns[r].addr <= insns[t].addr)
		return false;
	for (size_t k = r; k <= i; k++) {
		if (same_line_entry[k])
			return false;
	}
	return true;
}

/* The inlined call whose code holds ADDR, or 0. */
static uint64_t call_at(const struct inlined_code *inl, size_t ninl,
			uint64_t addr)
{
	for (size_t i = 0; i < ninl; i++) {
		if (addr >= inl[i].lo && addr < inl[i].hi)
			return inl[i].call;
	}
	return 0;
}

/* Whether the jump at FROM to TO stays in the code of one inlined call. */
static bool within_one_call(const struct inlined_code *inl, size_t ninl,
			    uint64_t from, uint64_t to)
{
	uint64_t call = call_at(inl, ninl, from);

	return call && call == call_at(inl, ninl, to);
}

size_t sites_find(const struct insn *insns, size_t ninsns,
		  const struct line_row *rows, size_t nrows,
		  const struct inlined_code *inl, size_t ninl,
		  struct site **sites)
{
	size_t cap = ninsns ? ninsns : 1;
	int *line = xcalloc(cap, sizeof(*line));
	bool *site = xcalloc(cap, sizeof(*site));
	bool *back = xcalloc(cap, sizeof(*back));
	bool *forward = xcalloc(cap, sizeof(*forward));
	bool *same_line_entry = xcalloc(cap, sizeof(*same_line_entry));
	bool indirect = false;
	int prev = 0;

	for (size_t i = 0; i < ninsns; i++) {
		int l = sites_line_at(rows, nrows, insns[i].addr);
		line[i] = l ? l : prev;
		prev = line[i];
	}
	for (size_t i = 0; i < ninsns; i++) {
		const struct insn *in = &insns[i];
		size_t t;

		if (in->flow == FLOW_INDIRECT_JUMP)
			indirect = true;
		if (in->flow != FLOW_JUMP && in->flow != FLOW_COND)
			continue;
		t = find_insn(insns, ninsns, in->target);
		if (t < ninsns && line[t] == line[i])
			same_line_entry[t] = true;
	}
	for (size_t i = 0; i < ninsns; i++) {
		const struct insn *in = &insns[i];
		bool next_adjacent = contiguous(insns, ninsns, i);

		/* a row that starts another line than the code before it */
		if (i > 0 && line[i] != line[i - 1] &&
		    is_row_start(rows, nrows, in->addr))
			site[i] = true;
		if (next_adjacent && falls_through(in)) {
			if (line[i + 1] != line[i])
				site[i + 1] = true;
			else
				forward[i + 1] = true;
		}
		if (in->flow != FLOW_JUMP && in->flow != FLOW_COND)
			continue;
		size_t t = find_insn(insns, ninsns, in->target);
		if (t == ninsns)
			continue;
		/* from another line: an event only where code of the
		 * target's line begins, not in the middle of it (a return
		 * path shared with the lines before it) */
		if (line[t] != line[i])
			site[t] = starts_line(rows, nrows, in->target, line[t]);
		else if (in->target <= in->addr &&
			 !within_one_call(inl, ninl, in->addr, in->target) &&
			 (indirect ||
			  !back_edge_never_counts(insns, ninsns, line,
						  same_line_entry, i, t)))
			site[t] = back[t] = true;
		else
			forward[t] = true;
	}

	size_t count = 0;
	*sites = xcalloc(ninsns ? ninsns : 1, sizeof(**sites));
	for (size_t i = 0; i < ninsns; i++) {
		if (!site[i] || line[i] == 0)
			continue;
		(*sites)[count++] = (struct site){.addr = insns[i].addr,
						  .line = line[i],
						  .back = back[i],
						  .forward = forward[i]};
	}
	free(line);
	free(site);
	free(back);
	free(forward);
	free(same_line_entry);
	return count;
}

struct site *sites_at(const struct site *sites, size_t nsites, uint64_t addr)
{
	size_t i = first_from(sites, nsites, sizeof(*sites), addr);

	return i < nsites && sites[i].addr == addr ? (struct site *)&sites[i]
						   : NULL;
}

/* Which of INSNS a jump of the function arrives at (a new array). */
static bool *jump_targets(const struct insn *insns, size_t ninsns)
{
	bool *target = xcalloc(ninsns ? ninsns : 1, sizeof(*target));

	for (size_t i = 0; i < ninsns; i++) {
		size_t t;

		if (insns[i].flow != FLOW_JUMP && insns[i].flow != FLOW_COND)
			continue;
		t = find_insn(insns, ninsns, insns[i].target);
		if (t < ninsns)
			target[t] = true;
	}
	return target;
}

size_t sites_add_epilogues(const struct insn *insns, size_t ninsns,
			   struct site **sites, size_t nsites)
{
	bool *target = jump_targets(insns, ninsns);

	for (size_t r = 0; r < ninsns; r++) {
		size_t start = r, at;
		bool covered = false;

		if (insns[r].flow != FLOW_RET || target[r] ||
		    sites_at(*sites, nsites, insns[r].addr))
			continue;
		/* back over quiet code that only falls into the ret; a jump
		 * may arrive at its first instruction, not inside it */
		for (size_t k = r; k-- > 0;) {
			if (!insns[k].quiet || !contiguous(insns, ninsns, k))
				break;
			start = k;
			if (sites_at(*sites, nsites, insns[k].addr)) {
				covered = true;
				break;
			}
			if (target[k])
				break;
		}
		/* room for a jump: five bytes up to the ret's end */
		if (covered || start == r ||
		    insns[r].addr + insns[r].len - insns[start].addr < 5)
			continue;
		*sites = xrealloc(*sites, (nsites + 1) * sizeof(**sites));
		at = first_from(*sites, nsites, sizeof(**sites),
				insns[start].addr);
		memmove(*sites + at + 1, *sites + at,
			(nsites - at) * sizeof(**sites));
		(*sites)[at] = (struct site){.addr = insns[start].addr,
					     .end_only = true};
		nsites++;
	}
	free(target);
	return nsites;
}

size_t sites_returns(const struct insn *insns, size_t ninsns,
		     struct site *sites, size_t nsites, size_t **rets)
{
	bool *target = jump_targets(insns, ninsns);
	size_t count = 0;

	*rets = xcalloc(ninsns ? ninsns : 1, sizeof(**rets));
	for (size_t r = 0; r < ninsns; r++) {
		struct site *covering = NULL;

		if (insns[r].flow != FLOW_RET)
			continue;
		/* walk back over quiet code that only falls into the ret */
		for (size_t k = r; k-- > 0;) {
			if (!insns[k].quiet || !contiguous(insns, ninsns, k))
				break;
			covering = sites_at(sites, nsites, insns[k].addr);
			if (covering || target[k] || k == 0)
				break;
		}
		if (covering && !target[r] &&
		    !sites_at(sites, nsites, insns[r].addr))
			covering->returns = true;
		else
			(*rets)[count++] = r;
	}
	free(target);
	return count;
}

size_t sites_exits(const struct insn *insns, size_t ninsns, size_t **exits)
{
	size_t count = 0;

	*exits = xcalloc(ninsns ? ninsns : 1, sizeof(**exits));
	for (size_t i = 0; i < ninsns; i++) {
		if ((insns[i].flow == FLOW_JUMP ||
		     insns[i].flow == FLOW_COND) &&
		    find_insn(insns, ninsns, insns[i].target) == ninsns)
			(*exits)[count++] = i;
	}
	return count;
}

/* Line sites. An instruction starts a line event when control arrives
 * from an instruction of another line, or by a backward jump (a new loop
 * iteration, as in Python's tracer). Code of no line (line 0) continues
 * the line before it. Where jumps are indirect the row starts keep every
 * line reachable. */
#include <stdbool.h>
#include <stdlib.h>

#include "sites.h"
#include "util.h"

int sites_line_at(const struct line_row *rows, size_t nrows, uint64_t addr)
{
	size_t lo = 0, hi = nrows;

	/* the last row with rows[i].addr <= addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? rows[lo - 1].line : 0;
}

static size_t find_insn(const struct insn *insns, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (insns[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && insns[lo].addr == addr ? lo : n;
}

static bool falls_through(const struct insn *in)
{
	return in->flow == FLOW_NEXT || in->flow == FLOW_COND ||
	       in->flow == FLOW_CALL;
}

static bool is_row_start(const struct line_row *rows, size_t nrows,
			 uint64_t addr)
{
	size_t lo = 0, hi = nrows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rows[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nrows && rows[lo].addr == addr;
}

size_t sites_find(const struct insn *insns, size_t ninsns,
		  const struct line_row *rows, size_t nrows,
		  struct site **sites)
{
	size_t cap = ninsns ? ninsns : 1;
	int *line = xcalloc(cap, sizeof(*line));
	bool *site = xcalloc(cap, sizeof(*site));
	bool *back = xcalloc(cap, sizeof(*back));
	bool *forward = xcalloc(cap, sizeof(*forward));
	int prev = 0;

	for (size_t i = 0; i < ninsns; i++) {
		int l = sites_line_at(rows, nrows, insns[i].addr);
		line[i] = l ? l : prev;
		prev = line[i];
	}
	for (size_t i = 0; i < ninsns; i++) {
		const struct insn *in = &insns[i];
		bool contiguous = i + 1 < ninsns &&
				  insns[i + 1].addr == in->addr + in->len;

		/* a row that starts another line than the code before it */
		if (i > 0 && line[i] != line[i - 1] &&
		    is_row_start(rows, nrows, in->addr))
			site[i] = true;
		if (contiguous && falls_through(in)) {
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
		if (line[t] != line[i])
			site[t] = true;
		else if (in->target <= in->addr)
			site[t] = back[t] = true;
		else
			forward[t] = true;
	}

	size_t count = 0;
	*sites = xcalloc(ninsns ? ninsns : 1, sizeof(**sites));
	for (size_t i = 0; i < ninsns; i++) {
		if (!site[i] || line[i] == 0)
			continue;
		(*sites)[count++] = (struct site){insns[i].addr, line[i],
						  back[i], forward[i]};
	}
	free(line);
	free(site);
	free(back);
	free(forward);
	return count;
}

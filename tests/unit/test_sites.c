/* The line-site rules, over instructions and line rows built by hand. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../src/sites.h"
#include "unit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A 4-byte instruction at ADDR. */
#define NEXT(addr)                                                             \
	{                                                                      \
		(addr), 0, 4, FLOW_NEXT, 1                                     \
	}
#define LOUD(addr)                                                             \
	{                                                                      \
		(addr), 0, 4, FLOW_NEXT, 0                                     \
	}
#define COND(addr, to)                                                         \
	{                                                                      \
		(addr), (to), 4, FLOW_COND, 1                                  \
	}
#define JUMP(addr, to)                                                         \
	{                                                                      \
		(addr), (to), 4, FLOW_JUMP, 1                                  \
	}
#define RET(addr)                                                              \
	{                                                                      \
		(addr), 0, 4, FLOW_RET, 1                                      \
	}

/* Lines 10, 11, 12, one after the other. */
static const struct insn straight[] = {
	NEXT(0x1000), NEXT(0x1004), NEXT(0x1008), NEXT(0x100c), RET(0x1010),
};
static const struct line_row straight_rows[] = {
	{0x1000, 10},
	{0x1008, 11},
	{0x100c, 12},
};

static void check_site(const struct site *s, uint64_t addr, int line, bool back)
{
	CHECK_EQ_INT(s->addr, addr);
	CHECK_EQ_INT(s->line, line);
	CHECK_EQ_INT(s->back, back);
}

static void line_at_takes_row_at_or_before(void)
{
	CHECK_EQ_INT(sites_line_at(straight_rows, 3, 0x0fff), 0);
	CHECK_EQ_INT(sites_line_at(straight_rows, 3, 0x1000), 10);
	CHECK_EQ_INT(sites_line_at(straight_rows, 3, 0x1004), 10);
	CHECK_EQ_INT(sites_line_at(straight_rows, 3, 0x1008), 11);
	CHECK_EQ_INT(sites_line_at(straight_rows, 3, 0x2000), 12);
	CHECK_EQ_INT(sites_line_at(straight_rows, 0, 0x1000), 0);
}

static void straight_line_has_one_site_per_line_change(void)
{
	struct site *sites;
	size_t n = sites_find(straight, N(straight), straight_rows,
			      N(straight_rows), NULL, 0, &sites);

	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		check_site(&sites[0], 0x1008, 11, false);
		check_site(&sites[1], 0x100c, 12, false);
	}
	CHECK(sites_at(sites, n, 0x1000) == NULL); /* none at entry */
	free(sites);
}

static void sites_at_finds_by_address(void)
{
	struct site *sites;
	size_t n = sites_find(straight, N(straight), straight_rows,
			      N(straight_rows), NULL, 0, &sites);

	CHECK(sites_at(sites, n, 0x100c) == &sites[1]);
	CHECK(sites_at(sites, n, 0x100a) == NULL);
	CHECK(sites_at(sites, n, 0x2000) == NULL);
	free(sites);
}

static void row_of_line_zero_continues_line(void)
{
	static const struct line_row rows[] = {
		{0x1000, 10},
		{0x1004, 0},
		{0x1008, 11},
		{0x100c, 12},
	};
	struct site *sites;
	size_t n = sites_find(straight, N(straight), rows, N(rows), NULL, 0,
			      &sites);

	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		check_site(&sites[0], 0x1008, 11, false);
		check_site(&sites[1], 0x100c, 12, false);
	}
	free(sites);
}

/* Line 11 loops on itself: its last instruction jumps back to its first. */
static void loop_on_one_line_is_back_site(void)
{
	static const struct insn insns[] = {
		NEXT(0x1000),	      NEXT(0x1004), NEXT(0x1008),
		COND(0x100c, 0x1004), NEXT(0x1010), RET(0x1014),
	};
	static const struct line_row rows[] = {
		{0x1000, 10},
		{0x1004, 11},
		{0x1010, 12},
	};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), NULL, 0, &sites);

	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		check_site(&sites[0], 0x1004, 11, true);
		check_site(&sites[1], 0x1010, 12, false);
	}
	free(sites);
}

/* The same loop, as the code of a callee inlined on line 11: its
 * iterations are the callee's, not new runs of the call line. A loop
 * of the caller around the call (from outside the call's code) still
 * is one. */
static void loop_inside_inlined_call_is_no_site(void)
{
	static const struct insn insns[] = {
		NEXT(0x1000),	      NEXT(0x1004), NEXT(0x1008),
		COND(0x100c, 0x1004), NEXT(0x1010), RET(0x1014),
	};
	static const struct line_row rows[] = {
		{0x1000, 10},
		{0x1004, 11},
		{0x1010, 12},
	};
	static const struct inlined_code call[] = {{0x1004, 0x1010, 11, 1}};
	static const struct inlined_code two[] = {{0x1004, 0x100c, 11, 1},
						  {0x100c, 0x1010, 11, 2}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), call, N(call),
			      &sites);

	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		check_site(&sites[0], 0x1004, 11, false);
		check_site(&sites[1], 0x1010, 12, false);
	}
	free(sites);
	/* from one call's code back to another's: a new run */
	n = sites_find(insns, N(insns), rows, N(rows), two, N(two), &sites);
	CHECK_EQ_INT(n, 2);
	if (n == 2)
		check_site(&sites[0], 0x1004, 11, true);
	free(sites);
}

static void entry_is_site_only_when_jumped_back_to(void)
{
	static const struct insn insns[] = {
		NEXT(0x1000),
		COND(0x1004, 0x1000),
		NEXT(0x1008),
		RET(0x100c),
	};
	static const struct line_row rows[] = {{0x1000, 10}, {0x1008, 11}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), NULL, 0, &sites);

	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		check_site(&sites[0], 0x1000, 10, true);
		check_site(&sites[1], 0x1008, 11, false);
	}
	free(sites);
}

/* Line 10 jumps forward into the middle of line 12, which line 12's own
 * code also falls into: a site reached forward, not back. */
/* A jump from another line to where a row of the target's line starts
 * is a line event; one into the middle of a line (a return path that
 * lines before share) is not: that line's code does not begin there. */
static void forward_jump_from_other_line_is_site(void)
{
	static const struct insn insns[] = {
		COND(0x1000, 0x1014), NEXT(0x1004), JUMP(0x1008, 0x1018),
		NEXT(0x100c),	      NEXT(0x1010), NEXT(0x1014),
		RET(0x1018),
	};
	static const struct line_row rows[] = {
		{0x1000, 10},
		{0x1004, 11},
		{0x100c, 12},
		{0x1018, 13},
	};
	/* the same, where a row of line 12 goes on at 0x1014 */
	static const struct line_row rows_at_target[] = {
		{0x1000, 10}, {0x1004, 11}, {0x100c, 12},
		{0x1014, 12}, {0x1018, 13},
	};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), NULL, 0, &sites);

	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		check_site(&sites[0], 0x1004, 11, false);
		check_site(&sites[1], 0x100c, 12, false);
		check_site(&sites[2], 0x1018, 13, false);
	}
	free(sites);

	n = sites_find(insns, N(insns), rows_at_target, N(rows_at_target), NULL,
		       0, &sites);
	const struct site *mid = sites_at(sites, n, 0x1014);
	CHECK_EQ_INT(n, 4);
	if (n == 4) {
		check_site(&sites[0], 0x1004, 11, false);
		check_site(&sites[1], 0x100c, 12, false);
		check_site(&sites[2], 0x1014, 12, false);
		check_site(&sites[3], 0x1018, 13, false);
	}
	CHECK(mid != NULL && mid->forward);
	free(sites);
}

static void quiet_tail_lets_site_cover_ret(void)
{
	struct site *sites;
	size_t *rets;
	size_t n = sites_find(straight, N(straight), straight_rows,
			      N(straight_rows), NULL, 0, &sites);
	size_t nrets = sites_returns(straight, N(straight), sites, n, &rets);

	CHECK_EQ_INT(nrets, 0);
	CHECK(sites_at(sites, n, 0x100c)->returns);
	CHECK(!sites_at(sites, n, 0x1008)->returns);
	free(rets);
	free(sites);
}

static void loud_tail_keeps_ret_breakpoint(void)
{
	static const struct insn insns[] = {
		NEXT(0x1000), NEXT(0x1004), NEXT(0x1008),
		LOUD(0x100c), RET(0x1010),
	};
	struct site *sites;
	size_t *rets;
	size_t n = sites_find(insns, N(insns), straight_rows, N(straight_rows),
			      NULL, 0, &sites);
	size_t nrets = sites_returns(insns, N(insns), sites, n, &rets);

	CHECK_EQ_INT(nrets, 1);
	if (nrets == 1)
		CHECK_EQ_INT(rets[0], 4);
	CHECK(!sites_at(sites, n, 0x100c)->returns);
	free(rets);
	free(sites);
}

/* -O2's epilogue whose rows are no statement: it continues a line whose
 * last instruction stores, so no line site covers the ret; a site where
 * the quiet run begins ends the call without a line. */
static void epilogue_without_line_gets_end_site(void)
{
	static const struct insn insns[] = {
		NEXT(0x1000), LOUD(0x1004), NEXT(0x1008),
		NEXT(0x100c), RET(0x1010),
	};
	static const struct line_row rows[] = {{0x1000, 10}};
	struct site *sites;
	size_t *rets;
	size_t n = sites_find(insns, N(insns), rows, N(rows), NULL, 0, &sites);
	size_t before = n;

	n = sites_add_epilogues(insns, N(insns), &sites, n);
	size_t nrets = sites_returns(insns, N(insns), sites, n, &rets);
	const struct site *end = sites_at(sites, n, 0x1008);

	CHECK_EQ_INT(n, before + 1);
	CHECK(end != NULL && end->end_only && end->returns);
	CHECK_EQ_INT(nrets, 0);
	for (size_t i = 1; i < n; i++)
		CHECK(sites[i - 1].addr < sites[i].addr);
	free(rets);
	free(sites);

	/* a line site in the run already covers it: nothing added */
	n = sites_find(straight, N(straight), straight_rows, N(straight_rows),
		       NULL, 0, &sites);
	before = n;
	CHECK_EQ_INT(sites_add_epilogues(straight, N(straight), &sites, n),
		     before);
	free(sites);
}

int main(void)
{
	RUN(line_at_takes_row_at_or_before);
	RUN(straight_line_has_one_site_per_line_change);
	RUN(sites_at_finds_by_address);
	RUN(row_of_line_zero_continues_line);
	RUN(loop_on_one_line_is_back_site);
	RUN(loop_inside_inlined_call_is_no_site);
	RUN(entry_is_site_only_when_jumped_back_to);
	RUN(forward_jump_from_other_line_is_site);
	RUN(quiet_tail_lets_site_cover_ret);
	RUN(loud_tail_keeps_ret_breakpoint);
	RUN(epilogue_without_line_gets_end_site);
	UNIT_EXIT();
}

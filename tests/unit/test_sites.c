/* Where breakpoints go, from hand-made instructions and line rows. */
#include <stdlib.h>

#include "../../src/sites.h"
#include "unit.h"

#define NEXT(a, l)                                                             \
	{                                                                      \
		.addr = (a), .len = (l), .flow = FLOW_NEXT, .quiet = 0         \
	}
#define QUIET(a, l)                                                            \
	{                                                                      \
		.addr = (a), .len = (l), .flow = FLOW_NEXT, .quiet = 1         \
	}
#define JUMP(a, l, t)                                                          \
	{                                                                      \
		.addr = (a), .target = (t), .len = (l), .flow = FLOW_JUMP      \
	}
#define COND(a, l, t)                                                          \
	{                                                                      \
		.addr = (a), .target = (t), .len = (l), .flow = FLOW_COND      \
	}
#define RET(a)                                                                 \
	{                                                                      \
		.addr = (a), .len = 1, .flow = FLOW_RET                        \
	}
#define N(x) (sizeof(x) / sizeof((x)[0]))

static void straight_line(void)
{
	const struct insn insns[] = {NEXT(0x100, 4), NEXT(0x104, 4),
				     NEXT(0x108, 4), NEXT(0x10c, 1),
				     RET(0x10d)};
	const struct line_row rows[] = {{0x100, 1}, {0x104, 2}, {0x10c, 3}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);

	CHECK_INT(n, 2);
	CHECK_INT(sites[0].addr, 0x104);
	CHECK_INT(sites[0].line, 2);
	CHECK_INT(sites[1].addr, 0x10c);
	CHECK_INT(sites[1].line, 3);
	CHECK(!sites[0].back && !sites[1].back);
	free(sites);
}

/* A one-line loop: "while (x) x--;" jumps back into its own line, a new
 * iteration each time. */
static void one_line_loop(void)
{
	const struct insn insns[] = {NEXT(0x200, 4), NEXT(0x204, 4),
				     COND(0x208, 2, 0x204), NEXT(0x20a, 1),
				     RET(0x20b)};
	const struct line_row rows[] = {{0x200, 1}, {0x204, 2}, {0x20a, 3}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);

	CHECK_INT(n, 2);
	CHECK_INT(sites[0].addr, 0x204);
	CHECK(sites[0].back);
	CHECK_INT(sites[1].addr, 0x20a);
	free(sites);
}

/* gcc's for: init; jmp cond; body; incr; cond: jl body. The condition
 * block is reached only from its own line going forward: no site. */
static void gcc_for_loop(void)
{
	const struct insn insns[] = {
		NEXT(0x300, 4),	       /* line 2: i = 0 */
		JUMP(0x304, 2, 0x310), /* line 2: to the condition */
		NEXT(0x306, 4),	       /* line 3: body */
		NEXT(0x30a, 6),	       /* line 2: i++ */
		NEXT(0x310, 4),	       /* line 2: cmp */
		COND(0x314, 2, 0x306), /* line 2: jl body */
		RET(0x316),	       /* line 4 */
	};
	const struct line_row rows[] = {
		{0x300, 2}, {0x306, 3}, {0x30a, 2}, {0x316, 4}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);

	CHECK_INT(n, 3);
	CHECK_INT(sites[0].addr, 0x306);
	CHECK_INT(sites[1].addr, 0x30a);
	CHECK_INT(sites[2].addr, 0x316);
	free(sites);
}

/* clang's for: init; cond: jge out; body; incr; jmp cond. The jump back
 * to the condition comes from a run of line 2 that began at the
 * increment, after the condition: never a new event, so no site. */
static void clang_for_loop(void)
{
	const struct insn insns[] = {
		NEXT(0x400, 4),	       /* line 2: i = 0 */
		NEXT(0x404, 4),	       /* line 2: cmp */
		COND(0x408, 2, 0x416), /* line 2: jge out */
		NEXT(0x40a, 4),	       /* line 3: body */
		NEXT(0x40e, 6),	       /* line 2: i++ */
		JUMP(0x414, 2, 0x404), /* line 2: back to cmp */
		RET(0x416),	       /* line 4 */
	};
	const struct line_row rows[] = {
		{0x400, 2}, {0x40a, 3}, {0x40e, 2}, {0x416, 4}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);

	CHECK_INT(n, 3);
	CHECK_INT(sites[0].addr, 0x40a);
	CHECK_INT(sites[1].addr, 0x40e);
	CHECK_INT(sites[2].addr, 0x416);
	free(sites);
}

/* A jump forward from another line starts a line event. */
static void forward_jump_from_other_line(void)
{
	const struct insn insns[] = {COND(0x500, 2, 0x508), NEXT(0x502, 6),
				     NEXT(0x508, 1), RET(0x509)};
	const struct line_row rows[] = {{0x500, 1}, {0x502, 2}, {0x508, 3}};
	struct site *sites;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);

	CHECK_INT(n, 2);
	CHECK_INT(sites[0].addr, 0x502);
	CHECK_INT(sites[1].addr, 0x508);
	free(sites);
}

/* "}" is pop; ret: the return is taken at the last line's site. A ret
 * reached by a jump keeps its own breakpoint. */
static void returns_at_last_line(void)
{
	const struct insn insns[] = {NEXT(0x600, 4), QUIET(0x604, 1),
				     RET(0x605)};
	const struct line_row rows[] = {{0x600, 1}, {0x604, 2}};
	struct site *sites;
	size_t *rets;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);
	size_t nrets = sites_returns(insns, N(insns), sites, n, &rets);

	CHECK_INT(n, 1);
	CHECK(sites[0].returns);
	CHECK_INT(nrets, 0);
	free(sites);
	free(rets);

	const struct insn jumped[] = {COND(0x700, 2, 0x705), NEXT(0x702, 2),
				      QUIET(0x704, 1), RET(0x705)};
	const struct line_row rows2[] = {{0x700, 1}, {0x702, 2}, {0x704, 3}};
	n = sites_find(jumped, N(jumped), rows2, N(rows2), &sites);
	nrets = sites_returns(jumped, N(jumped), sites, n, &rets);
	CHECK_INT(nrets, 1);
	CHECK_INT(rets[0], 3);
	free(sites);
	free(rets);
}

static void store_before_ret_is_not_quiet(void)
{
	const struct insn insns[] = {NEXT(0x800, 4), NEXT(0x804, 4),
				     RET(0x808)};
	const struct line_row rows[] = {{0x800, 1}, {0x804, 2}};
	struct site *sites;
	size_t *rets;
	size_t n = sites_find(insns, N(insns), rows, N(rows), &sites);
	size_t nrets = sites_returns(insns, N(insns), sites, n, &rets);

	CHECK_INT(n, 1);
	CHECK(!sites[0].returns);
	CHECK_INT(nrets, 1);
	free(sites);
	free(rets);
}

static void line_at(void)
{
	const struct line_row rows[] = {{0x10, 5}, {0x20, 6}};

	CHECK_INT(sites_line_at(rows, 2, 0x8), 0);
	CHECK_INT(sites_line_at(rows, 2, 0x10), 5);
	CHECK_INT(sites_line_at(rows, 2, 0x1f), 5);
	CHECK_INT(sites_line_at(rows, 2, 0x30), 6);
}

int main(void)
{
	RUN(straight_line);
	RUN(one_line_loop);
	RUN(gcc_for_loop);
	RUN(clang_for_loop);
	RUN(forward_jump_from_other_line);
	RUN(returns_at_last_line);
	RUN(store_before_ret_is_not_quiet);
	RUN(line_at);
	UNIT_EXIT();
}

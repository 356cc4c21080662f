/* The line accounting, fed synthetic event sequences. */
#include <stdint.h>

#include "../../src/account.h"
#include "unit.h"

#define PID 100

static const struct line_stats *row(const struct account *acct, int func,
				    int line)
{
	const struct func_stats *f = account_func(acct, (size_t)func);

	return &f->lines[line - f->first_line];
}

static int64_t sum_increments(const struct account *acct, int func)
{
	const struct func_stats *f = account_func(acct, (size_t)func);
	int64_t sum = 0;

	for (int l = f->first_line; l <= f->last_line; l++)
		sum += f->lines[l - f->first_line].increment;
	return sum;
}

static void check_conserved(const struct account *acct, int func)
{
	CHECK_EQ_INT(sum_increments(acct, func),
		     account_func(acct, (size_t)func)->growth);
}

static void registration_gives_indexes(void)
{
	struct account *acct = account_new();

	CHECK_EQ_INT(account_add_func(acct, "a", "/src/a.c", 10, 20), 0);
	CHECK_EQ_INT(account_add_func(acct, "b", "/src/a.c", 30, 35), 1);
	CHECK_EQ_INT(account_add_func(acct, "a", "/src/a.c", 10, 20), 0);
	CHECK_EQ_INT(account_func_count(acct), 2);
	CHECK_EQ_STR(account_func(acct, 1)->name, "b");
	CHECK_EQ_STR(account_func(acct, 1)->file, "/src/a.c");
	CHECK_EQ_INT(account_func(acct, 1)->first_line, 30);
	CHECK_EQ_INT(account_func(acct, 1)->last_line, 35);
	CHECK_EQ_INT(account_func(acct, 1)->calls, 0);
	CHECK_EQ_INT(account_func(acct, 1)->growth, 0);
	account_free(acct);
}

static void enter_starts_on_header_line(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 10, 15);

	account_enter(acct, PID, 1, f, 1000);
	CHECK_EQ_INT(account_func(acct, 0)->calls, 1);
	CHECK_EQ_INT(account_depth(acct, 1), 1);
	account_return(acct, 1, 1500);
	CHECK_EQ_INT(account_depth(acct, 1), 0);
	CHECK_EQ_INT(row(acct, f, 10)->occurrences, 1);
	CHECK_EQ_INT(row(acct, f, 10)->increment, 500);
	CHECK_EQ_INT(row(acct, f, 10)->mem_usage, 1500);
	CHECK_EQ_INT(row(acct, f, 11)->occurrences, 0);
	CHECK_EQ_INT(account_func(acct, 0)->growth, 500);
	account_free(acct);
}

static void line_event_ends_current_line(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 10, 15);

	account_enter(acct, PID, 1, f, 1000);
	account_line(acct, 1, 11, 1100);
	account_line(acct, 1, 12, 1050);
	account_return(acct, 1, 1300);
	CHECK_EQ_INT(row(acct, f, 10)->increment, 100);
	CHECK_EQ_INT(row(acct, f, 10)->mem_usage, 1100);
	CHECK_EQ_INT(row(acct, f, 11)->increment, -50);
	CHECK_EQ_INT(row(acct, f, 11)->mem_usage, 1050);
	CHECK_EQ_INT(row(acct, f, 11)->occurrences, 1);
	CHECK_EQ_INT(row(acct, f, 12)->increment, 250);
	CHECK_EQ_INT(row(acct, f, 12)->mem_usage, 1300);
	CHECK_EQ_INT(row(acct, f, 12)->occurrences, 1);
	CHECK_EQ_INT(account_func(acct, f)->growth, 300);
	check_conserved(acct, f);
	account_free(acct);
}

static void repeated_line_accumulates(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 3);

	account_enter(acct, PID, 1, f, 100);
	account_line(acct, 1, 2, 100);
	account_line(acct, 1, 2, 400); /* a loop: line 2 again */
	account_line(acct, 1, 2, 300);
	account_line(acct, 1, 3, 350);
	account_return(acct, 1, 350);
	CHECK_EQ_INT(row(acct, f, 2)->occurrences, 3);
	CHECK_EQ_INT(row(acct, f, 2)->increment, 250);
	CHECK_EQ_INT(row(acct, f, 2)->mem_usage, 400);
	CHECK_EQ_INT(row(acct, f, 3)->occurrences, 1);
	CHECK_EQ_INT(row(acct, f, 3)->increment, 0);
	check_conserved(acct, f);
	account_free(acct);
}

static void negative_increments_conserve(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 20, 22);

	account_enter(acct, PID, 1, f, 5000);
	account_line(acct, 1, 21, 3000);
	account_line(acct, 1, 22, 1000);
	account_return(acct, 1, 1200);
	CHECK_EQ_INT(row(acct, f, 20)->increment, -2000);
	CHECK_EQ_INT(row(acct, f, 20)->mem_usage, 3000);
	CHECK_EQ_INT(row(acct, f, 21)->increment, -2000);
	CHECK_EQ_INT(row(acct, f, 22)->increment, 200);
	CHECK_EQ_INT(account_func(acct, f)->growth, -3800);
	check_conserved(acct, f);
	account_free(acct);
}

static void lines_outside_function_ignored(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 10, 12);

	account_enter(acct, PID, 1, f, 100);
	account_line(acct, 1, 9, 150);
	account_line(acct, 1, 13, 160);
	account_line(acct, 1, -1, 170);
	account_line(acct, 1, 11, 200);
	account_return(acct, 1, 300);
	CHECK_EQ_INT(account_line_events(acct), 1);
	CHECK_EQ_INT(row(acct, f, 10)->occurrences, 1);
	CHECK_EQ_INT(row(acct, f, 11)->occurrences, 1);
	CHECK_EQ_INT(row(acct, f, 12)->occurrences, 0);
	CHECK_EQ_INT(account_func(acct, f)->growth, 200);
	check_conserved(acct, f);
	account_free(acct);
}

static void line_events_count_only_lines(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 5);

	account_enter(acct, PID, 1, f, 0);
	CHECK_EQ_INT(account_line_events(acct), 0);
	account_line(acct, 1, 2, 0);
	account_line(acct, 1, 3, 0);
	account_return(acct, 1, 0);
	CHECK_EQ_INT(account_line_events(acct), 2);
	account_free(acct);
}

/* F recurses to depth 3 from its line 3; each inner return moves the
 * outer calling line's start past what the inner recorded. */
static void recursion_depth_three(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 5);

	account_enter(acct, PID, 1, f, 100);
	account_line(acct, 1, 2, 110);
	account_line(acct, 1, 3, 120);
	account_enter(acct, PID, 1, f, 130);
	account_line(acct, 1, 2, 140);
	account_line(acct, 1, 3, 150);
	account_enter(acct, PID, 1, f, 160);
	account_line(acct, 1, 2, 200);
	CHECK_EQ_INT(account_depth(acct, 1), 3);
	account_return(acct, 1, 210);  /* inner: +50, over 160..210 */
	account_line(acct, 1, 4, 215); /* middle line 3: 15 of its own */
	account_return(acct, 1, 220);  /* middle: +90, over 130..220 */
	account_line(acct, 1, 4, 230); /* outer line 3: 20 of its own */
	account_return(acct, 1, 250);
	CHECK_EQ_INT(account_depth(acct, 1), 0);
	CHECK_EQ_INT(account_func(acct, f)->calls, 3);
	CHECK_EQ_INT(row(acct, f, 1)->increment, 60);
	CHECK_EQ_INT(row(acct, f, 2)->increment, 30);
	CHECK_EQ_INT(row(acct, f, 3)->increment, 35);
	CHECK_EQ_INT(row(acct, f, 4)->increment, 25);
	CHECK_EQ_INT(row(acct, f, 1)->occurrences, 3);
	CHECK_EQ_INT(row(acct, f, 3)->occurrences, 2);
	CHECK_EQ_INT(row(acct, f, 3)->mem_usage, 230);
	CHECK_EQ_INT(row(acct, f, 4)->mem_usage, 250);
	CHECK_EQ_INT(account_func(acct, f)->growth, 150);
	check_conserved(acct, f);
	account_free(acct);
}

/* A calls B calls A: B's line is inclusive of the inner A, the outer A's
 * calling line is charged only what the inner A did not record. */
static void recursion_through_other_function(void)
{
	struct account *acct = account_new();
	int a = account_add_func(acct, "a", "/src/a.c", 10, 14);
	int b = account_add_func(acct, "b", "/src/a.c", 20, 24);

	account_enter(acct, PID, 1, a, 1000);
	account_line(acct, 1, 11, 1000);
	account_enter(acct, PID, 1, b, 1010);
	account_line(acct, 1, 21, 1020);
	account_enter(acct, PID, 1, a, 1030);
	account_line(acct, 1, 11, 1040);
	account_return(acct, 1, 1100); /* inner a: +70 */
	account_line(acct, 1, 22, 1110);
	account_return(acct, 1, 1120); /* b: +110 */
	account_line(acct, 1, 12, 1130);
	account_return(acct, 1, 1150); /* outer a: +150 */
	CHECK_EQ_INT(row(acct, b, 21)->increment, 90);
	CHECK_EQ_INT(account_func(acct, b)->growth, 110);
	check_conserved(acct, b);
	CHECK_EQ_INT(row(acct, a, 10)->increment, 10);
	CHECK_EQ_INT(row(acct, a, 11)->increment, 120);
	CHECK_EQ_INT(row(acct, a, 12)->increment, 20);
	CHECK_EQ_INT(account_func(acct, a)->calls, 2);
	CHECK_EQ_INT(account_func(acct, a)->growth, 150);
	check_conserved(acct, a);
	account_free(acct);
}

static void callee_growth_is_inclusive(void)
{
	struct account *acct = account_new();
	int a = account_add_func(acct, "a", "/src/a.c", 10, 12);
	int b = account_add_func(acct, "b", "/src/a.c", 20, 21);

	account_enter(acct, PID, 1, a, 0);
	account_line(acct, 1, 11, 0);
	account_enter(acct, PID, 1, b, 10);
	account_line(acct, 1, 21, 20);
	account_return(acct, 1, 500);
	account_line(acct, 1, 12, 510);
	account_return(acct, 1, 510);
	CHECK_EQ_INT(row(acct, a, 11)->increment, 510);
	CHECK_EQ_INT(account_func(acct, a)->growth, 510);
	CHECK_EQ_INT(account_func(acct, b)->growth, 490);
	check_conserved(acct, a);
	check_conserved(acct, b);
	account_free(acct);
}

static void threads_have_own_stacks(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 3);

	account_enter(acct, PID, 1, f, 100);
	account_enter(acct, PID, 2, f, 150);
	CHECK_EQ_INT(account_depth(acct, 1), 1);
	CHECK_EQ_INT(account_depth(acct, 2), 1);
	account_line(acct, 1, 2, 200);
	account_line(acct, 2, 3, 260);
	account_line(acct, 1, 3, 300);
	account_return(acct, 2, 400);
	account_return(acct, 1, 450);
	/* thread 1: 1:100, 2:100, 3:150; thread 2: 1:110, 3:140 */
	CHECK_EQ_INT(row(acct, f, 1)->increment, 210);
	CHECK_EQ_INT(row(acct, f, 2)->increment, 100);
	CHECK_EQ_INT(row(acct, f, 3)->increment, 290);
	CHECK_EQ_INT(row(acct, f, 1)->occurrences, 2);
	CHECK_EQ_INT(row(acct, f, 3)->occurrences, 2);
	CHECK_EQ_INT(account_func(acct, f)->calls, 2);
	CHECK_EQ_INT(account_func(acct, f)->growth, 350 + 250);
	check_conserved(acct, f);
	account_free(acct);
}

static void end_thread_returns_innermost_first(void)
{
	struct account *acct = account_new();
	int a = account_add_func(acct, "a", "/src/a.c", 10, 12);
	int b = account_add_func(acct, "b", "/src/a.c", 20, 22);

	account_enter(acct, PID, 1, a, 100);
	account_line(acct, 1, 11, 110);
	account_enter(acct, PID, 1, b, 120);
	account_line(acct, 1, 21, 130);
	account_enter(acct, PID, 2, a, 500);
	account_end_thread(acct, 1, 200);
	CHECK_EQ_INT(account_depth(acct, 1), 0);
	CHECK_EQ_INT(account_depth(acct, 2), 1);
	CHECK_EQ_INT(row(acct, b, 21)->increment, 70);
	CHECK_EQ_INT(row(acct, b, 21)->mem_usage, 200);
	CHECK_EQ_INT(account_func(acct, b)->growth, 80);
	CHECK_EQ_INT(row(acct, a, 11)->increment, 90);
	CHECK_EQ_INT(account_func(acct, a)->growth, 100);
	check_conserved(acct, a);
	check_conserved(acct, b);
	account_free(acct);
}

static void end_all_closes_every_thread(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 2);

	account_enter(acct, PID, 1, f, 100);
	account_enter(acct, PID, 2, f, 200);
	account_line(acct, 2, 2, 250);
	account_end_all(acct, 300);
	CHECK_EQ_INT(account_depth(acct, 1), 0);
	CHECK_EQ_INT(account_depth(acct, 2), 0);
	CHECK_EQ_INT(account_func(acct, f)->growth, 200 + 100);
	check_conserved(acct, f);
	account_free(acct);
}

static void events_without_activation_ignored(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 2);

	account_line(acct, 7, 1, 100);
	account_return(acct, 7, 100);
	account_end_thread(acct, 7, 100);
	CHECK_EQ_INT(account_depth(acct, 7), 0);
	CHECK_EQ_INT(account_line_events(acct), 0);
	CHECK_EQ_INT(row(acct, f, 1)->occurrences, 0);
	account_free(acct);
}

/* Heap figures add up over blocks and calls: two blocks freed on one
 * line, two calls retaining on one line; the process's figures are the
 * function's (one process). */
static void heap_figures_add_up(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/f.c", 1, 5);
	const struct func_stats *fs;

	for (int call = 0; call < 2; call++) {
		uint64_t base = 0x1000 + 0x1000 * (uint64_t)call;

		account_enter(acct, 1, 1, f, 1 << 20);
		account_line(acct, 1, 2, 1 << 20);
		account_heap_alloc(acct, 1, base + 0x10, 1000);
		if (call == 0)
			account_heap_alloc(acct, 1, base + 0x20, 3000);
		account_line(acct, 1, 3, 1 << 20);
		account_heap_free(acct, 1, base + 0x10);
		if (call == 0)
			account_heap_free(acct, 1, base + 0x20);
		account_line(acct, 1, 4, 1 << 20);
		account_heap_alloc(acct, 1, base + 0x30, call ? 700 : 500);
		account_return(acct, 1, 1 << 20);
	}
	/* freed outside any call: no line frees it, and it is not leaked */
	account_heap_free(acct, 1, 0x1030);
	account_heap_leaks(acct);
	fs = account_func(acct, (size_t)f);
	for (int k = 0; k <= 1; k++) {
		const struct line_stats *ls =
			k ? fs->procs[0].lines : fs->lines;

		CHECK_EQ_INT(ls[1].heap_alloc, 5000);
		CHECK_EQ_INT(ls[1].heap_blocks, 3);
		CHECK_EQ_INT(ls[1].heap_retained, 0);
		CHECK_EQ_INT(ls[2].heap_freed, 5000);
		CHECK_EQ_INT(ls[2].heap_alloc, 0);
		CHECK_EQ_INT(ls[3].heap_alloc, 1200);
		CHECK_EQ_INT(ls[3].heap_blocks, 2);
		CHECK_EQ_INT(ls[3].heap_retained, 1200);
		CHECK_EQ_INT(ls[3].heap_leaked, 700);
	}
	CHECK_EQ_INT(fs->nprocs, 1);
	CHECK_EQ_INT(account_heap_blocks(acct), 1);
	account_free(acct);
}

int main(void)
{
	RUN(registration_gives_indexes);
	RUN(enter_starts_on_header_line);
	RUN(line_event_ends_current_line);
	RUN(repeated_line_accumulates);
	RUN(negative_increments_conserve);
	RUN(lines_outside_function_ignored);
	RUN(line_events_count_only_lines);
	RUN(recursion_depth_three);
	RUN(recursion_through_other_function);
	RUN(callee_growth_is_inclusive);
	RUN(threads_have_own_stacks);
	RUN(end_thread_returns_innermost_first);
	RUN(end_all_closes_every_thread);
	RUN(events_without_activation_ignored);
	RUN(heap_figures_add_up);
	UNIT_EXIT();
}

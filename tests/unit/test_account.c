/* The accounting, fed synthetic event sequences. */
#include <stdlib.h>

#include "../../src/account.h"
#include "unit.h"

#define KB 1024

static const struct line_stats *stats_of(const struct account *a, int func,
					 int line)
{
	const struct func_stats *f = account_func(a, (size_t)func);

	return &f->lines[line - f->first_line];
}

static int64_t sum_increments(const struct account *a, int func)
{
	const struct func_stats *f = account_func(a, (size_t)func);
	int64_t sum = 0;

	for (int l = f->first_line; l <= f->last_line; l++)
		sum += f->lines[l - f->first_line].increment;
	return sum;
}

static void straight_line(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "f", "/f.c", 10, 14);

	account_enter(a, 100, 1, f, 100 * KB);
	account_line(a, 1, 11, 104 * KB);
	account_line(a, 1, 12, 204 * KB);
	account_line(a, 1, 13, 150 * KB);
	account_return(a, 1, 150 * KB);

	CHECK_INT(account_func(a, 0)->calls, 1);
	CHECK_INT(stats_of(a, f, 10)->occurrences, 1);
	CHECK_INT(stats_of(a, f, 10)->increment, 4 * KB);
	CHECK_INT(stats_of(a, f, 11)->increment, 100 * KB);
	CHECK_INT(stats_of(a, f, 11)->mem_usage, 204 * KB);
	CHECK_INT(stats_of(a, f, 12)->increment, -54 * KB);
	CHECK_INT(stats_of(a, f, 12)->mem_usage, 150 * KB);
	CHECK_INT(stats_of(a, f, 13)->occurrences, 1);
	CHECK_INT(stats_of(a, f, 14)->occurrences, 0);
	CHECK_INT(account_func(a, 0)->growth, 50 * KB);
	CHECK_INT(sum_increments(a, f), 50 * KB);
	CHECK_INT(account_line_events(a), 3);
	CHECK_INT(account_depth(a, 1), 0);
	account_free(a);
}

static void loop_counts_and_max(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "loop", "/l.c", 1, 4);

	account_enter(a, 100, 7, f, 0);
	for (int i = 0; i < 3; i++) {
		account_line(a, 7, 2, (uint64_t)i * 8 * KB);
		account_line(a, 7, 3, (uint64_t)i * 8 * KB);
	}
	account_line(a, 7, 2, 40 * KB);
	account_return(a, 7, 24 * KB);

	CHECK_INT(stats_of(a, f, 2)->occurrences, 4);
	CHECK_INT(stats_of(a, f, 3)->occurrences, 3);
	/* 8 + 8, then 16 -> 40 on the last pass */
	CHECK_INT(stats_of(a, f, 3)->increment, 40 * KB);
	CHECK_INT(stats_of(a, f, 3)->mem_usage, 40 * KB);
	CHECK_INT(stats_of(a, f, 2)->increment, -16 * KB);
	CHECK_INT(sum_increments(a, f), 24 * KB);
	CHECK_INT(account_func(a, 0)->growth, 24 * KB);
	account_free(a);
}

/* recurse(3): each level takes 2 units on line 2, then calls itself on
 * line 3. No byte is counted twice. */
static void recursion_depth_three(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "recurse", "/r.c", 1, 4);
	uint64_t rss = 0;

	for (int depth = 0; depth < 3; depth++) {
		account_enter(a, 100, 1, f, rss);
		account_line(a, 1, 2, rss);
		rss += 2 * KB;
		account_line(a, 1, 3, rss);
	}
	for (int depth = 0; depth < 3; depth++) {
		account_line(a, 1, 4, rss);
		account_return(a, 1, rss);
	}
	CHECK_INT(account_func(a, 0)->calls, 3);
	CHECK_INT(stats_of(a, f, 2)->increment, 6 * KB);
	CHECK_INT(stats_of(a, f, 3)->increment, 0);
	CHECK_INT(stats_of(a, f, 3)->occurrences, 3);
	CHECK_INT(account_func(a, 0)->growth, 6 * KB);
	CHECK_INT(sum_increments(a, f), 6 * KB);
	account_free(a);
}

/* a calls b (different functions): a's calling line includes b. */
static void distinct_functions_inclusive(void)
{
	struct account *a = account_new();
	int fa = account_add_func(a, "a", "/a.c", 1, 3);
	int fb = account_add_func(a, "b", "/b.c", 10, 12);

	account_enter(a, 100, 1, fa, 0);
	account_line(a, 1, 2, 0);
	account_enter(a, 100, 1, fb, 0);
	account_line(a, 1, 11, 0);
	account_return(a, 1, 8 * KB);
	account_line(a, 1, 3, 8 * KB);
	account_return(a, 1, 8 * KB);

	CHECK_INT(stats_of(a, fa, 2)->increment, 8 * KB);
	CHECK_INT(stats_of(a, fb, 11)->increment, 8 * KB);
	CHECK_INT(account_func(a, 0)->growth, 8 * KB);
	CHECK_INT(account_func(a, 1)->growth, 8 * KB);
	account_free(a);
}

/* a -> b -> a: the inner a is not charged again to the outer a. */
static void nested_through_another(void)
{
	struct account *a = account_new();
	int fa = account_add_func(a, "a", "/a.c", 1, 3);
	int fb = account_add_func(a, "b", "/b.c", 10, 12);

	account_enter(a, 100, 1, fa, 0);
	account_line(a, 1, 2, 0);
	account_enter(a, 100, 1, fb, 0);
	account_line(a, 1, 11, 1 * KB);
	account_enter(a, 100, 1, fa, 1 * KB);
	account_line(a, 1, 3, 1 * KB);
	account_return(a, 1, 5 * KB);
	account_return(a, 1, 5 * KB);
	account_return(a, 1, 5 * KB);

	CHECK_INT(stats_of(a, fa, 3)->increment, 4 * KB);
	CHECK_INT(stats_of(a, fa, 2)->increment, 1 * KB);
	CHECK_INT(sum_increments(a, fa), 5 * KB);
	CHECK_INT(account_func(a, 0)->growth, 5 * KB);
	CHECK_INT(stats_of(a, fb, 11)->increment, 4 * KB);
	CHECK_INT(account_func(a, 1)->growth, 5 * KB);
	account_free(a);
}

static void threads_have_own_stacks(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "w", "/w.c", 1, 3);

	account_enter(a, 100, 1, f, 0);
	account_enter(a, 100, 2, f, 0);
	account_line(a, 1, 2, 0);
	account_line(a, 2, 2, 4 * KB);
	account_line(a, 1, 3, 12 * KB);
	account_line(a, 2, 3, 12 * KB);
	CHECK_INT(account_depth(a, 1), 1);
	CHECK_INT(account_depth(a, 2), 1);
	account_return(a, 2, 12 * KB);
	account_end_thread(a, 1, 12 * KB);

	CHECK_INT(account_func(a, 0)->calls, 2);
	CHECK_INT(stats_of(a, f, 2)->occurrences, 2);
	CHECK_INT(stats_of(a, f, 2)->increment, 12 * KB + 8 * KB);
	CHECK_INT(stats_of(a, f, 1)->increment, 4 * KB);
	CHECK_INT(sum_increments(a, f), account_func(a, 0)->growth);
	CHECK_INT(account_depth(a, 1), 0);
	account_free(a);
}

static void end_all_closes_everything(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "f", "/f.c", 1, 3);

	account_enter(a, 100, 1, f, 0);
	account_line(a, 1, 2, 0);
	account_enter(a, 100, 1, f, 4 * KB);
	account_enter(a, 100, 3, f, 4 * KB);
	account_end_all(a, 10 * KB);

	CHECK_INT(account_depth(a, 1), 0);
	CHECK_INT(account_depth(a, 3), 0);
	CHECK_INT(account_func(a, 0)->calls, 3);
	CHECK_INT(sum_increments(a, f), account_func(a, 0)->growth);
	account_free(a);
}

static void out_of_range_and_strays(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "f", "/f.c", 5, 6);

	/* events without an activation are ignored */
	account_line(a, 9, 5, 0);
	account_return(a, 9, 0);
	account_end_thread(a, 9, 0);
	account_enter(a, 100, 1, f, 0);
	account_line(a, 1, 99, 4 * KB);
	account_line(a, 1, 6, 8 * KB);
	account_return(a, 1, 8 * KB);
	CHECK_INT(stats_of(a, f, 5)->increment, 4 * KB);
	CHECK_INT(stats_of(a, f, 6)->increment, 0);
	CHECK_INT(account_func(a, 0)->growth, 8 * KB);
	CHECK_INT(account_func_count(a), 1);
	CHECK(account_func(a, 1) == NULL);
	account_free(a);
}

int main(void)
{
	RUN(straight_line);
	RUN(loop_counts_and_max);
	RUN(recursion_depth_three);
	RUN(distinct_functions_inclusive);
	RUN(nested_through_another);
	RUN(threads_have_own_stacks);
	RUN(end_all_closes_everything);
	RUN(out_of_range_and_strays);
	UNIT_EXIT();
}

/* Calls that never return (a crash, an exit, a detach) are counted as
 * unfinished, per function and per process; heap figures are kept per
 * process too; mprof's trend is fitted over samples and call ends. */
#include <math.h>
#include <stdlib.h>

#include "../../src/account.h"
#include "../../src/mprof.h"
#include "unit.h"

#define MIB (1024 * 1024)

static void returned_calls_are_finished(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/f.c", 1, 3);

	account_enter(acct, 10, 10, f, MIB);
	account_line(acct, 10, 2, MIB);
	account_return(acct, 10, MIB);
	CHECK_EQ_INT(account_func(acct, 0)->calls, 1);
	CHECK_EQ_INT(account_func(acct, 0)->unfinished, 0);
	account_free(acct);
}

static void abandoned_calls_are_unfinished(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/f.c", 1, 3);
	int g = account_add_func(acct, "g", "/g.c", 1, 3);

	/* thread 10 of process 10 returns from f, then dies inside f and
	 * g; thread 20 of process 20 dies inside f */
	account_enter(acct, 10, 10, f, MIB);
	account_return(acct, 10, MIB);
	account_enter(acct, 10, 10, f, MIB);
	account_enter(acct, 10, 10, g, MIB);
	account_enter(acct, 20, 20, f, MIB);
	account_abandon(acct, 10);
	account_return(acct, 10, 2 * MIB);
	account_return(acct, 10, 2 * MIB);
	account_end_thread(acct, 20, MIB);
	CHECK_EQ_INT(account_func(acct, 0)->calls, 3);
	CHECK_EQ_INT(account_func(acct, 0)->unfinished, 2);
	CHECK_EQ_INT(account_func(acct, 1)->unfinished, 1);
	CHECK_EQ_INT(account_func(acct, 0)->nprocs, 2);
	CHECK_EQ_INT(account_func(acct, 0)->procs[0].unfinished, 1);
	CHECK_EQ_INT(account_func(acct, 0)->procs[1].unfinished, 1);
	/* the figures still end there and add up */
	CHECK_EQ_INT(account_func(acct, 0)->growth, MIB);
	account_free(acct);
}

static void heap_is_kept_per_process(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/f.c", 1, 3);
	const struct func_stats *fs;

	account_enter(acct, 10, 10, f, MIB);
	account_line(acct, 10, 2, MIB);
	account_heap_alloc(acct, 10, 0x1000, 100);
	account_return(acct, 10, MIB);
	account_enter(acct, 20, 20, f, MIB);
	account_line(acct, 20, 2, MIB);
	account_heap_alloc(acct, 20, 0x2000, 30);
	account_heap_free(acct, 20, 0x1000);
	account_return(acct, 20, MIB);
	account_heap_leaks(acct);
	fs = account_func(acct, 0);
	CHECK_EQ_INT(fs->lines[1].heap_alloc, 130);
	CHECK_EQ_INT(fs->procs[0].lines[1].heap_alloc, 100);
	CHECK_EQ_INT(fs->procs[1].lines[1].heap_alloc, 30);
	CHECK_EQ_INT(fs->procs[0].lines[1].heap_retained, 100);
	CHECK_EQ_INT(fs->procs[1].lines[1].heap_freed, 100);
	CHECK_EQ_INT(fs->procs[1].lines[1].heap_leaked, 30);
	CHECK_EQ_INT(fs->procs[0].lines[1].heap_leaked, 0);
	account_free(acct);
}

static void trend_over_samples_and_calls(void)
{
	struct mprof_sample mem[] = {{1, 100}, {3, 101}, {5, 102}};
	struct mprof_call call = {"f", 2, 100.5, 4, 101.5, 0};
	struct mprof_data d = {
		.mem = mem, .nmem = 3, .calls = &call, .ncalls = 1};
	double a, b;

	/* every point on MiB = 2 t + 1 (t from 100) */
	CHECK(mprof_trend(&d, &a, &b));
	CHECK(fabs(a - 2) < 1e-9 && fabs(b - 1) < 1e-9);
	CHECK(mprof_first_time(&d) == 100);
	/* a point off the line moves it as least squares says: the points
	 * (0,1) (1,3) (2,5) (0.5,2) (1.5,10) give a slope of 3.2 */
	call.end_mib = 10;
	CHECK(mprof_trend(&d, &a, &b));
	CHECK(fabs(a - 3.2) < 1e-9);
	d.nmem = 1;
	d.ncalls = 0;
	CHECK(!mprof_trend(&d, &a, &b));
}

int main(void)
{
	RUN(returned_calls_are_finished);
	RUN(abandoned_calls_are_unfinished);
	RUN(heap_is_kept_per_process);
	RUN(trend_over_samples_and_calls);
	UNIT_EXIT();
}

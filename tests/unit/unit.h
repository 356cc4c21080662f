/* A small unit-test harness: checks that report file:line and the values
 * on failure and count the failures, and a main helper that exits as
 * automake expects (0 when every check passed, 1 otherwise). */
#ifndef MEMPROF_UNIT_H
#define MEMPROF_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			unit_failures++;                                       \
		}                                                              \
	} while (0)

#define CHECK_EQ_INT(got, want)                                                \
	do {                                                                   \
		long long unit_g_ = (long long)(got);                          \
		long long unit_w_ = (long long)(want);                         \
		if (unit_g_ != unit_w_) {                                      \
			fprintf(stderr, "%s:%d: %s is %lld, not %lld\n",       \
				__FILE__, __LINE__, #got, unit_g_, unit_w_);   \
			unit_failures++;                                       \
		}                                                              \
	} while (0)

#define CHECK_EQ_STR(got, want)                                                \
	do {                                                                   \
		const char *unit_gs_ = (got), *unit_ws_ = (want);              \
		if (!unit_gs_ || !unit_ws_ || strcmp(unit_gs_, unit_ws_)) {    \
			fprintf(stderr, "%s:%d: %s is\n[%s]\nnot\n[%s]\n",     \
				__FILE__, __LINE__, #got,                      \
				unit_gs_ ? unit_gs_ : "(null)",                \
				unit_ws_ ? unit_ws_ : "(null)");               \
			unit_failures++;                                       \
		}                                                              \
	} while (0)

/* Shorter names for the same checks. */
#define CHECK_INT(got, want) CHECK_EQ_INT(got, want)
#define CHECK_STR(got, want) CHECK_EQ_STR(got, want)

/* Runs one test function and says whether its checks passed. */
#define RUN(test)                                                              \
	do {                                                                   \
		int unit_before_ = unit_failures;                              \
		test();                                                        \
		printf("%s %s\n",                                              \
		       unit_failures == unit_before_ ? "ok" : "FAIL", #test);  \
	} while (0)

/* What main returns: 1 when any check failed, else 0. */
static inline int unit_result(void)
{
	if (unit_failures)
		fprintf(stderr, "%d check(s) failed\n", unit_failures);
	return unit_failures ? 1 : 0;
}

#define UNIT_EXIT() return unit_result()

#endif

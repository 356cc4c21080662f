/* A small unit-test harness: checks that report file:line and the values
 * on failure, and a main that exits as automake expects (0 or 1). */
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

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long g_ = (long long)(got), w_ = (long long)(want);       \
		if (g_ != w_) {                                                \
			fprintf(stderr, "%s:%d: %s is %lld, not %lld\n",       \
				__FILE__, __LINE__, #got, g_, w_);             \
			unit_failures++;                                       \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (!g_ || strcmp(g_, w_) != 0) {                              \
			fprintf(stderr, "%s:%d: %s is\n[%s]\nnot\n[%s]\n",     \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
				w_);                                           \
			unit_failures++;                                       \
		}                                                              \
	} while (0)

#define RUN(test)                                                              \
	do {                                                                   \
		int before_ = unit_failures;                                   \
		test();                                                        \
		printf("%s %s\n", unit_failures == before_ ? "ok" : "FAIL",    \
		       #test);                                                 \
	} while (0)

#define UNIT_EXIT() return unit_failures ? 1 : 0

#endif

/* The report: memory_profiler's table, JSON or CSV, from the accounting.
 * It knows nothing of ptrace. */
#ifndef MEMPROF_REPORT_H
#define MEMPROF_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "account.h"

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_CSV };

/* How the program ended. */
struct run_status {
	enum { RUN_EXITED, RUN_SIGNALED, RUN_DETACHED } how;
	int code; /* exit status, or the signal number */
};

/* What profiling cost (--stats). */
struct report_stats {
	uint64_t line_events, stops;
	uint64_t stepped;     /* stops single-stepped in place */
	size_t stepped_sites; /* breakpoints without an out-of-line copy */
	uint64_t ring_events; /* line events recorded without a stop */
	size_t jump_sites;    /* sites that jump to a stub */
	/* --heap: the allocator's calls accounted, those recorded in the
	 * program, the stops at the allocator, and which of its functions
	 * stop and why ("" when none) */
	uint64_t alloc_calls, alloc_records, alloc_stops;
	const char *alloc_stopping;
	double tracer_seconds, program_seconds;
};

struct report_options {
	enum report_format format;
	int precision; /* decimals of MiB in the text table */
	bool peak;     /* the Peak column */
	bool heap;     /* the heap columns */
	bool summary;  /* the live blocks by line and size */
	bool types;    /* the blocks by C type (--types) */
	/* JSON: a "stats" object in the document; NULL for none */
	const struct report_stats *stats;
};

/* --stats as lines of text ("memprof: ..."), for standard error. */
void report_write_stats(FILE *out, const struct report_stats *st);
/* Writes the whole report to OUT; ARGV is the profiled command (NULL
 * terminated). Returns 0, or -1 with errno when writing failed. */
int report_write(FILE *out, const struct account *acct,
		 const struct report_options *opts,
		 const struct run_status *status, char *const argv[]);

#endif

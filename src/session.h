/* One profiling session: everything a run needs, passed down explicitly. */
#ifndef MEMPROF_SESSION_H
#define MEMPROF_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "breakpoint.h"
#include "cli.h"
#include "debuginfo.h"
#include "report.h"
#include "sampler.h"
#include "sites.h"
#include "target.h"
#include "xol.h"

/* The tracer's side of one activation: how to tell its return and which
 * line it is on. The figures live in the accounting. */
struct frame {
	int func;
	uint64_t sp;	     /* stack pointer at entry: it holds the return
			      * address, and is the stack pointer at ret */
	int line;	     /* current line */
	uint64_t line_start; /* site where the current line began */
	uint64_t last_site;  /* last site hit */
};

struct thread {
	pid_t tid;
	struct frame *frames;
	size_t depth, cap;
};

struct profiled_func {
	struct func_info *info;
	struct site *sites;
	size_t nsites;
	struct insn *insns; /* its machine code, decoded */
	size_t ninsns;
	size_t *rets; /* the rets that need a breakpoint, as indexes */
	size_t nrets;
};

struct stats {
	uint64_t stops; /* every stop the kernel reported */
	uint64_t line_events;
	uint64_t stepped;      /* stops that needed a single step */
	size_t stepped_sites;  /* breakpoints without an out-of-line copy */
	double tracer_seconds; /* handling stops */
	double wall_seconds;
};

struct session {
	const struct options *opts;
	const char *program; /* the resolved path */
	struct target target;
	struct debuginfo *di;
	struct profiled_func *funcs; /* indexed like the accounting's */
	size_t nfuncs;
	struct bp_table *bps;
	struct xol xol;
	struct sampler sampler;
	struct account *acct;
	struct thread *threads;
	size_t nthreads;
	struct run_status status;
	struct stats stats;
	bool image_replaced; /* the program executed another one */
	bool done;
};

#endif

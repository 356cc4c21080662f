/* One profiling session: everything a run needs, passed down explicitly. */
#ifndef MEMPROF_SESSION_H
#define MEMPROF_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "cli.h"
#include "image.h"
#include "report.h"
#include "ring.h"
#include "sampler.h"
#include "target.h"

/* The tracer's side of one activation: how to tell its return and which
 * line it is on. The figures live in the accounting. */
struct frame {
	int func;	     /* the function's index in the accounting */
	uint64_t sp;	     /* stack pointer at entry: it holds the return
			      * address, and is the stack pointer at ret */
	int line;	     /* current line */
	uint64_t line_start; /* site where the current line began */
	uint64_t last_site;  /* last site hit */
	/* after a tail call: the return address (at sp), where a breakpoint
	 * waits for the call to end; 0 otherwise */
	uint64_t ret_addr;
	/* a call of an inlined copy: it ends where the thread leaves the
	 * copy's code, at once */
	bool inlined;
};

/* A traced process: its memory, its RSS and the image it runs. */
struct process {
	struct target target; /* target.pid is the process id */
	struct sampler sampler;
	struct image *image; /* NULL until one is loaded */
	struct ring ring;    /* --engine jump: its line events */
	size_t open_calls;   /* activations open on its threads */
	bool allocs_found;   /* --heap: the allocator's entries are set */
	bool allocs_armed;   /* the allocating ones are in its memory now */
	bool frees_armed;    /* the freeing ones */
	bool leaving;	     /* being let go: nothing is armed again */
	bool signal_in_stub; /* a signal came inside a stub: its frame may
			      * return there, so the areas stay */
	/* a vfork child not profiled: it runs in its parent's memory, our
	 * int3s and all, and is traced only until it execs or exits */
	bool borrowed;
};

/* An allocator call under way (--heap): what it was asked, and where it
 * returns to (a breakpoint waits there; the address is at sp). */
struct alloc_call {
	int kind;
	uint64_t size, old, memptr;
	uint64_t sp, ret;
};

struct thread {
	pid_t tid;
	struct process *proc;
	struct frame *frames;
	size_t depth, cap;
	struct alloc_call allocs[4]; /* nested: realloc calling malloc */
	size_t nallocs;
	/* it made a vfork child and waits in the kernel until the child
	 * execs or exits: an interrupt cannot stop it meanwhile */
	bool in_vfork;
};

struct stats {
	uint64_t stops;	       /* every stop the kernel reported */
	uint64_t line_events;  /* the occurrences of the tables */
	uint64_t stepped;      /* stops that needed a single step */
	size_t stepped_sites;  /* breakpoints without an out-of-line copy */
	uint64_t ring_events;  /* line events recorded without a stop */
	size_t jump_sites;     /* sites that jump to a stub */
	double tracer_seconds; /* handling stops */
	double wall_seconds;
};

struct session {
	const struct options *opts;
	const char *program;	/* the resolved path (not when attaching) */
	char **command;		/* the command for the report */
	struct process **procs; /* procs[0] is the one we started */
	size_t nprocs;
	struct account *acct;
	bool *found; /* per --func: found in some image */
	struct thread *threads;
	size_t nthreads;
	/* stops of threads held while another one was stepped: handled
	 * before any new one, in order */
	struct stop *queued;
	size_t nqueued, queued_cap;
	size_t in_vfork; /* threads in_vfork */
	struct run_status status;
	struct stats stats;
	/* the program's pid as soon as it is forked, for a signal handler
	 * (may be NULL) */
	volatile sig_atomic_t *spawned_pid;
	/* set by a signal handler: detach now (attach mode) */
	volatile sig_atomic_t *detach_requested;
	/* memprof run: set by a timer, a sample is due; the calls of the
	 * profiled functions go to on_call */
	volatile sig_atomic_t *tick;
	void (*on_tick)(void *arg);
	void (*on_call)(void *arg, int tid, int func, bool entering,
			size_t depth, uint64_t rss);
	void *hook_arg;
	bool done;
	bool peak; /* --peak, and the kernel can reset the peak RSS */
	bool heap; /* --heap */
	bool jump; /* --engine jump, and the program could take a ring */
	int fatal; /* memprof's exit status when it must stop at once */
};

#endif

/* One profiling session: everything a run needs, passed down explicitly. */
#ifndef MEMPROF_SESSION_H
#define MEMPROF_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "cli.h"
#include "ctypes.h"
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

/* How far the letting go of a process is: it waits for the steps in
 * its memory to end, then for each of its threads to stop. */
enum detach_phase {
	DETACH_NO,
	DETACH_WAITING,	 /* a step in its memory ends first */
	DETACH_STOPPING, /* its threads are interrupted */
	DETACH_DONE,	 /* let go (the first process stays listed) */
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
	enum detach_phase detach; /* being let go: how far */
	/* at its last line event (any thread's): RSS and minor faults
	 * (minflt 0: not read), for charging each thread its own pages */
	uint64_t rss_seen;
	uint32_t minflt_seen;
};

/* An allocator call under way (--heap): what it was asked, and where it
 * returns to (a breakpoint waits there; the address is at sp). */
struct alloc_call {
	int kind;
	uint64_t size, old, memptr;
	uint64_t sp, ret;
};

/* What a thread waits for: the loop routes its next stop by it (a thread
 * stepped, or held for another's step, or stopping to be let go, is not
 * dispatched as usual). */
enum thread_wait {
	TW_RUNNING,	 /* nothing: its stops are dispatched as they come */
	TW_HOLDING,	 /* stopped at a breakpoint to be stepped over, until
			  * the threads it holds have stopped */
	TW_STEPPING,	 /* stepped over the breakpoint at step_addr */
	TW_HELD,	 /* interrupted while another thread steps */
	TW_HELD_STOPPED, /* stopped for it: goes on when the step ends */
	TW_STOPPING,	 /* interrupted: its process is being let go */
	TW_STOPPED,	 /* stopped, to be let go */
	TW_GONE,	 /* ended while its process was being let go */
};

struct thread {
	pid_t tid;
	enum thread_wait wait;
	uint64_t step_addr; /* TW_HOLDING, TW_STEPPING: the breakpoint */
	size_t holding;	    /* TW_HOLDING: held threads not stopped yet */
	pid_t holder;	    /* TW_HELD*: the thread that steps */
	/* a signal that waits for the step to end, or that the thread is
	 * owed when it is let go */
	int sig;
	uint64_t more_sigs; /* others that came during the step (bit n-1) */
	bool group_stop;    /* TW_HELD_STOPPED: listens, not runs, after */
	/* TW_HELD*: interrupted asleep in the kernel, the step not waiting
	 * for its stop */
	bool held_asleep;
	struct process *proc;
	struct frame *frames;
	size_t depth, cap;
	struct alloc_call allocs[4]; /* nested: realloc calling malloc */
	size_t nallocs;
	/* it made a vfork child and waits in the kernel until the child
	 * execs or exits: an interrupt cannot stop it meanwhile */
	bool in_vfork;
	/* the RSS its events are given: RSS at its first event, plus what
	 * it made resident since (thread_view); its minor faults then */
	int64_t view;
	bool viewed;
	uint32_t minflt; /* 0: not read */
};

struct stats {
	uint64_t stops;	      /* every stop the kernel reported */
	uint64_t line_events; /* the occurrences of the tables */
	uint64_t stepped;     /* stops that needed a single step */
	size_t stepped_sites; /* breakpoints without an out-of-line copy */
	uint64_t ring_events; /* line events recorded without a stop */
	size_t jump_sites;    /* sites that jump to a stub */
	/* --heap: the allocator's calls accounted, those recorded in the
	 * ring, the stops they cost, and the allocator functions whose
	 * calls stop (with why) */
	uint64_t alloc_calls, alloc_records, alloc_stops;
	char alloc_stopping[256];
	double tracer_seconds; /* handling stops */
	double wall_seconds;
};

/* A --func not found yet: what its last lookup said. */
struct missing {
	int res;     /* enum debuginfo_result; DI_FOUND: never looked up */
	char *msg;   /* close names, or the library it is about */
	char *where; /* the program it was looked for in */
	bool said;   /* "not loaded yet" was said */
};

struct session {
	const struct options *opts;
	const char *program;	/* the resolved path (not when attaching) */
	char **command;		/* the command for the report */
	struct process **procs; /* procs[0] is the one we started */
	size_t nprocs;
	struct account *acct;
	bool *found; /* per --func: found in some image */
	/* per --func: why it is not found yet */
	struct missing *missing;
	struct thread *threads;
	size_t nthreads;
	/* stops kept for later: a held thread's (handled once the step it
	 * waits for ends), or one a short wait on another thread met;
	 * handled before any new one, in order */
	struct stop *queued;
	size_t nqueued, queued_cap;
	size_t in_vfork; /* threads in_vfork */
	size_t stepping; /* threads TW_HOLDING or TW_STEPPING */
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
	struct ctypes *ctypes; /* --types: the program's C types, or NULL */
	/* memprof graph: the picture once drawn (dot), or the exit status
	 * of why it could not be */
	char *graph_dot;
	int graph_error;
	bool graph_done, graph_checked;
	int fatal; /* memprof's exit status when it must stop at once */
	/* the command of the program the first process executed in place
	 * (owned; it replaces command), or NULL */
	char **exec_command;
	bool script; /* the program is a script: its interpreter runs */
};

#endif

/* Line accounting: turns line events into the per-line figures of the
 * report. It knows nothing of how events are caught; the tracer feeds it
 * and unit tests feed it synthetic sequences. */
#ifndef MEMPROF_ACCOUNT_H
#define MEMPROF_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct line_stats {
	uint64_t occurrences;
	int64_t increment;  /* bytes; signed: a line can give memory back */
	uint64_t mem_usage; /* bytes: highest RSS seen at the end of the line */
	uint64_t peak;	    /* bytes: highest RSS while the line ran (with
			     * account_peak; 0 without) */
	/* Heap (account_alloc, account_free): bytes requested and freed on
	 * the line, callees included; blocks allocated; bytes of those
	 * blocks still live when the call returned; never freed at all. */
	uint64_t heap_alloc, heap_freed, heap_blocks;
	uint64_t heap_retained, heap_leaked;
};

/* The part of a function's figures one process made (with -f, the
 * processes it forks). */
struct proc_stats {
	int pid;
	uint64_t calls;
	uint64_t unfinished;
	int64_t growth;
	struct line_stats *lines;
};

/* --types: heap blocks by C type (or, untyped, by the line that made
 * them): OBJECTS (elements of a block of structs; 1 for other blocks),
 * BYTES requested, BLOCKS. */
struct type_row {
	char *type; /* NULL: untyped */
	int line;   /* untyped: the line that made them */
	uint64_t objects, bytes, blocks;
};

struct func_stats {
	char *name;
	char *file;	/* absolute path of the source file */
	int first_line; /* the header line (DW_AT_decl_line) */
	int last_line;
	uint64_t calls; /* activations entered */
	/* calls that never returned: still running when the program ended
	 * (a crash, an exit from a callee), executed another program, or
	 * was let go; their figures stop there */
	uint64_t unfinished;
	/* RSS at return minus RSS at entry, summed over the outermost
	 * activations: what the increments add up to. */
	int64_t growth;
	/* a function with no code of its own, profiled through its inlined
	 * copies: the function they are in; NULL otherwise */
	char *inlined_into;
	struct line_stats *lines; /* last_line - first_line + 1 entries */
	struct proc_stats *procs; /* by process, in the order they came */
	size_t nprocs;
	/* --types: blocks its calls made that were live at their return,
	 * and blocks they made and freed before it (by line) */
	struct type_row *types, *freed;
	size_t ntypes, nfreed;
};

struct account;

struct account *account_new(void);
void account_free(struct account *acct);

/* Registers a profiled function and returns its index (0, 1, ...); the
 * index it has already when registered before (a program run again).
 * Lines outside [first_line, last_line] are ignored. */
int account_add_func(struct account *acct, const char *name, const char *file,
		     int first_line, int last_line);
/* Function IDX has no code of its own: it is profiled through its copies
 * inlined into INTO. */
void account_set_inlined(struct account *acct, int idx, const char *into);
size_t account_func_count(const struct account *acct);
const struct func_stats *account_func(const struct account *acct, size_t idx);

/* Thread TID of process PID starts an activation of FUNC; RSS is in
 * bytes, the process's. The current line becomes the header line. */
void account_enter(struct account *acct, int pid, int tid, int func,
		   uint64_t rss);
/* A line event for LINE on TID's innermost activation; one for a line
 * outside the function is ignored. */
void account_line(struct account *acct, int tid, int line, uint64_t rss);
/* The peak RSS process PID reached since the last call (the kernel's
 * high-water mark, reset after): every open activation of its threads
 * had it while its current line ran. */
void account_peak(struct account *acct, int pid, uint64_t peak);
/* TID's innermost activation returns. */
void account_return(struct account *acct, int tid, uint64_t rss);
/* Marks the activations open on TID as calls that will not return: the
 * thread is gone, or no longer watched. They still end (and count) as
 * they are popped. */
void account_abandon(struct account *acct, int tid);
/* Ends every activation still open on TID (thread exit, crash), innermost
 * first, as if each returned at RSS. */
void account_end_thread(struct account *acct, int tid, uint64_t rss);
/* The same for every thread. */
void account_end_all(struct account *acct, uint64_t rss);

/* Heap: thread TID's allocator returned PTR for SIZE bytes requested; it
 * is charged to the current lines of the activations open on TID. */
void account_heap_alloc(struct account *acct, int tid, uint64_t ptr,
			uint64_t size);
/* Thread TID frees PTR: charged to its current lines when the block's
 * allocation was seen (its size is known only then). */
void account_heap_free(struct account *acct, int tid, uint64_t ptr);
/* Whether PTR is a block allocated in a profiled call, live still. */
bool account_heap_has(const struct account *acct, uint64_t ptr);
/* How many such blocks are live. */
size_t account_heap_blocks(const struct account *acct);
/* A realloc outside profiled calls moved block OLD to PTR (SIZE bytes):
 * it keeps the lines that made it. */
void account_heap_move(struct account *acct, uint64_t old, uint64_t ptr,
		       uint64_t size);
/* At the program's exit: blocks never freed count as leaked. */
void account_heap_leaks(struct account *acct);

/* A live block, for the typed walk. */
struct heap_block {
	uint64_t ptr, size;
	bool made; /* made by the activation asked about */
	int line;  /* then the line of it that made it */
};
/* Every live block, sorted by address (a new array); MADE for those the
 * innermost activation of FUNC on TID made. */
size_t account_heap_live(const struct account *acct, int tid, int func,
			 struct heap_block **blocks);
/* From now on, each activation keeps the blocks it made (--types). */
void account_track_made(struct account *acct);
/* The live blocks the innermost activation of FUNC on TID made, sorted
 * by address, each with the line that made it (a new array). */
size_t account_heap_made(const struct account *acct, int tid, int func,
			 struct heap_block **blocks);
/* The size of the live block made in a profiled call at PTR; 0 for
 * none. */
uint64_t account_heap_size(const struct account *acct, uint64_t ptr);
/* From now on, blocks freed are remembered (memprof graph: a pointer
 * into one is dangling). */
void account_keep_freed(struct account *acct);
/* The blocks freed since, sorted by address, the latest alone at one
 * address (a new array). */
size_t account_heap_freed(const struct account *acct,
			  struct heap_block **blocks);
/* Adds a block of BYTES holding OBJECTS objects of TYPE (NULL: untyped,
 * made on LINE) to FUNC's --types rows. */
void account_types_add(struct account *acct, int func, const char *type,
		       int line, uint64_t objects, uint64_t bytes);

/* Live blocks allocated in a function, grouped by line and size. */
struct summary_row {
	int line;
	uint64_t size, count, total;
};
/* The rows for FUNC, largest total first, in a new array. */
size_t account_summary(const struct account *acct, int func,
		       struct summary_row **rows);

/* Which call of its function TID's innermost activation is (1 for the
 * first to begin); 0 when none is open. */
uint64_t account_call_number(const struct account *acct, int tid);
/* How many activations TID has open. */
size_t account_depth(const struct account *acct, int tid);
/* Line events recorded so far, over all functions. */
uint64_t account_line_events(const struct account *acct);

#endif

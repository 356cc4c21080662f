/* The ring of line events recorded inside the program (--engine jump):
 * its layout, shared by the stubs that write it and by memprof, which
 * reads it; and memprof's side of it. x86-64 only, like the stubs. */
#ifndef MEMPROF_RING_H
#define MEMPROF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "target.h"

/* At the start of the ring. The stubs take records by adding 1 to head;
 * memprof consumes them and moves tail. A stub that finds no room
 * traps, and memprof drains before it goes on. */
struct ring_header {
	uint64_t head;
	uint64_t tail;
	int32_t statm_fd; /* the program's descriptor of /proc/self/statm */
	uint32_t cap;	  /* records, a power of two */
	uint32_t faults;  /* not 0: records take minor fault counts */
	/* --heap: the allocator's stubs record its calls while not 0 (the
	 * allocating ones allocs_armed, the freeing ones either). A
	 * profiled function's entry stub adds 1 to allocs_armed before its
	 * record, and memprof takes 1 off when it has taken the record; and
	 * it adds 1 while it knows a profiled call open in the process
	 * (struct ring.counted): so a thread that entered is recorded at
	 * once, however far behind memprof is. frees_armed is memprof's:
	 * blocks made in profiled calls are live. */
	uint32_t allocs_armed, frees_armed;
	uint8_t pad[28];
};

/* What a record is. */
enum ring_kind {
	RING_LINE,	   /* a line site's event */
	RING_ALLOC_ENTRY,  /* an allocator entered: regs are rdi, rsi, rdx */
	RING_ALLOC_RETURN, /* an allocator about to return: regs[0] is rax */
};

/* One line event. seq is written last: the record is whole when seq is
 * its index plus one. */
struct ring_record {
	uint64_t seq;
	uint64_t site; /* the site's address in the original code */
	uint32_t tid;
	int16_t nread; /* what pread of statm returned */
	uint16_t kind; /* enum ring_kind */
	/* the stack pointer at the site; an allocator's records both have
	 * the one at its entry (at the return address) */
	uint64_t sp;
	/* minor faults of the thread and of the process (low 32 bits, of
	 * getrusage), both 0 when not taken; proc_minflt alone 0 when the
	 * process's moved too much while statm was read */
	uint32_t minflt, proc_minflt;
	union {
		char statm[24];
		uint64_t regs[3]; /* an allocator's records */
	};
};

_Static_assert(sizeof(struct ring_header) == 64 &&
		       sizeof(struct ring_record) == 64,
	       "the stubs index records by shifts");

#define RING_RECORDS 16384u
#define RING_BYTES                                                             \
	(sizeof(struct ring_header) + RING_RECORDS * sizeof(struct ring_record))

struct ring {
	uint64_t addr;		 /* where it lies in the process; 0: none */
	struct ring_header *hdr; /* memprof's mapping of the same pages */
	struct ring_record *recs;
	bool counted; /* memprof's 1 is in hdr->allocs_armed */
};

/* Makes a ring in the process of T through its stopped thread TID: a
 * memfd mapped there (at FIXED, when not 0, replacing what is there) and
 * here, and a descriptor of its statm. SCRATCH is room for 64 bytes in
 * the process (for the paths the system calls read). Returns 0, or -1
 * with errno. */
int ring_open(struct ring *r, const struct target *t, pid_t tid, uint64_t fixed,
	      uint64_t scratch);

/* The next whole record, or NULL; ring_consumed moves past it. */
const struct ring_record *ring_peek(const struct ring *r);
void ring_consumed(struct ring *r);
/* The record of INDEX, past the tail, when it is whole; or NULL. */
struct ring_record *ring_whole_at(const struct ring *r, uint64_t index);
/* The index the next record will take. */
uint64_t ring_head(const struct ring *r);
/* Whether a record was taken that is not whole yet (at the tail). */
bool ring_in_flight(const struct ring *r);

/* Lets go of memprof's side; the process keeps its own. */
void ring_close(struct ring *r);

#endif

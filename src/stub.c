/* Stubs for --engine jump, as machine code (x86-64 only). A stub runs on
 * the program's thread with nothing of its own: it steps below the red
 * zone, saves what it clobbers, takes a record in the ring (an atomic
 * add), fills it with what system calls read just before (gettid, pread
 * of statm, and while threads run at once getrusage twice: none touches
 * errno, which libc keeps), publishes it, restores, and runs the
 * displaced instructions. A signal
 * handler that runs meanwhile can run another stub: each takes a record of its
 * own. */
#include <string.h>

#include "agent/layout.h"
#include "ring.h"
#include "stub.h"

struct writer {
	uint8_t *code;
	size_t len;
};

static void put(struct writer *w, const void *bytes, size_t n)
{
	memcpy(w->code + w->len, bytes, n);
	w->len += n;
}

static void put32(struct writer *w, uint32_t v)
{
	put(w, &v, 4);
}

#define PUT(w, ...)                                                            \
	do {                                                                   \
		const uint8_t b_[] = {__VA_ARGS__};                            \
		put(w, b_, sizeof(b_));                                        \
	} while (0)

/* What the stub pushes: flags, rax, rcx, rdx, rsi, rdi, r10, r11, rbx. */
#define SAVED (9 * 8)
#define RED_ZONE 128
_Static_assert(STUB_TRAP_DEPTH == RED_ZONE + 8, "the allocator stub's trap");

#define RUSAGE_BYTES 144 /* struct rusage */
#define RU_MINFLT 64	 /* its ru_minflt */

/* The stub's reads, on the stack: statm's text (24 bytes), the thread id
 * and what pread returned, the thread's and the process's minor faults
 * (as the record has them), and the process's faults before statm. */
#define SCRATCH 48
#define S_TID 24
#define S_MINFLT 32
#define S_PROC_MINFLT 36
#define S_PROC_BEFORE 40
/* the process's faults during the read of statm, at most, for its RSS
 * and theirs to be one state: a thread descheduled in between would pair
 * an RSS with faults of long before */
#define FAULTS_DURING 32

/* getrusage(WHO) below the scratch, and the low half of ru_minflt into
 * eax; "je" past it all when the ring's faults are not set. Returns the
 * offset of the jump's displacement. */
static size_t take_minflt(struct writer *w, uint8_t who)
{
	size_t skip;

	PUT(w, 0x83, 0x7b, offsetof(struct ring_header, faults), 0);
	PUT(w, 0x74, 0); /* je past */
	skip = w->len;
	PUT(w, 0x48, 0x81, 0xec); /* sub $RUSAGE_BYTES,%rsp */
	put32(w, RUSAGE_BYTES);
	PUT(w, 0xbf, who, 0, 0, 0);	       /* mov $who,%edi */
	PUT(w, 0x48, 0x89, 0xe6);	       /* mov %rsp,%rsi */
	PUT(w, 0xb8, 98, 0, 0, 0, 0x0f, 0x05); /* getrusage */
	PUT(w, 0x8b, 0x44, 0x24, RU_MINFLT);   /* mov ru_minflt,%eax */
	PUT(w, 0x48, 0x81, 0xc4);	       /* add $RUSAGE_BYTES,%rsp */
	put32(w, RUSAGE_BYTES);
	return skip;
}

static void land(struct writer *w, size_t skip)
{
	w->code[skip - 1] = (uint8_t)(w->len - skip);
}

/* With the ring's faults set (threads run at once): the thread's minor
 * faults, and the process's before statm is read. Both 0 otherwise. */
static void faults_before(struct writer *w)
{
	size_t skip;

	PUT(w, 0x48, 0xc7, 0x44, 0x24, S_MINFLT, 0, 0, 0, 0); /* movq $0 */
	PUT(w, 0x48, 0xc7, 0x44, 0x24, S_PROC_BEFORE, 0, 0, 0, 0);
	skip = take_minflt(w, 1 /* RUSAGE_THREAD */);
	PUT(w, 0x89, 0x44, 0x24, S_MINFLT); /* mov %eax,S_MINFLT(%rsp) */
	land(w, skip);
	skip = take_minflt(w, 0 /* RUSAGE_SELF */);
	PUT(w, 0x89, 0x44, 0x24, S_PROC_BEFORE);
	land(w, skip);
}

/* The process's faults after statm is read: kept as the record's
 * proc_minflt when few came during the read, otherwise 0. */
static void faults_after(struct writer *w)
{
	size_t skip, keep;

	skip = take_minflt(w, 0 /* RUSAGE_SELF */);
	PUT(w, 0x89, 0xc2);			 /* mov %eax,%edx */
	PUT(w, 0x2b, 0x54, 0x24, S_PROC_BEFORE); /* sub before,%edx */
	PUT(w, 0x83, 0xfa, FAULTS_DURING);	 /* cmp $n,%edx */
	PUT(w, 0x77, 0);			 /* ja past */
	keep = w->len;
	PUT(w, 0x89, 0x44, 0x24, S_PROC_MINFLT); /* mov %eax,...(%rsp) */
	land(w, keep);
	land(w, skip);
}

_Static_assert(sizeof(((struct ring_record *)0)->statm) == 24 &&
		       offsetof(struct ring_record, nread) ==
			       offsetof(struct ring_record, tid) + 4 &&
		       offsetof(struct ring_record, proc_minflt) ==
			       offsetof(struct ring_record, minflt) + 4,
	       "the stub copies the record's fields by quadwords");

/* mov FROM(%rsp),%rax; mov %rax,TO(%rsi) */
static void copy_scratch(struct writer *w, uint8_t from, uint8_t to)
{
	PUT(w, 0x48, 0x8b, 0x44, 0x24, from);
	PUT(w, 0x48, 0x89, 0x46, to);
}

/* With the ring's address in rbx: takes a record, its address into rsi
 * and its sequence number into rcx (rax, rdx clobbered). While the ring
 * is full it traps (full_trap): memprof drains, or the agent makes room,
 * and moves the pc past the trap, and it looks again. */
static void take_record(struct writer *w, struct stub *st)
{
	size_t wait;

	PUT(w, 0xb8, 1, 0, 0, 0);	      /* mov $1,%eax */
	PUT(w, 0xf0, 0x48, 0x0f, 0xc1, 0x03); /* lock xadd %rax,(%rbx) */
	wait = st->taken = w->len;
	PUT(w, 0x48, 0x89, 0xc2);	/* mov %rax,%rdx */
	PUT(w, 0x48, 0x2b, 0x53, 0x08); /* sub 8(%rbx),%rdx: - tail */
	PUT(w, 0x48, 0x81, 0xfa);	/* cmp $cap,%rdx */
	put32(w, RING_RECORDS);
	PUT(w, 0x72, 0x03); /* jb room */
	st->full_trap = w->len;
	PUT(w, BP_INSN);
	PUT(w, 0xeb, (uint8_t)(wait - (w->len + 2)));
	PUT(w, 0x48, 0x8d, 0x48, 0x01); /* lea 1(%rax),%rcx: seq */
	PUT(w, 0x25);			/* and $cap-1,%eax */
	put32(w, RING_RECORDS - 1);
	PUT(w, 0x48, 0xc1, 0xe0, 0x06); /* shl $6,%rax */
	/* lea sizeof(header)(%rbx,%rax),%rsi: the record */
	PUT(w, 0x48, 0x8d, 0x74, 0x03, (uint8_t)sizeof(struct ring_header));
}

int stub_build(struct stub *st, uint64_t at, uint64_t ring, uint64_t site,
	       const uint8_t *code, size_t avail, bool counts_entry)
{
	struct writer w = {.code = st->code};
	struct reloc_run run;
	int32_t rel;

	memset(st, 0, sizeof(*st));
	PUT(&w, 0x48, 0x8d, 0x64, 0x24, 0x80);	     /* lea -128(%rsp),%rsp */
	PUT(&w, 0x9c, 0x50, 0x51, 0x52, 0x56, 0x57); /* pushf; rax..rdi */
	PUT(&w, 0x41, 0x52, 0x41, 0x53, 0x53);	     /* r10, r11, rbx */
	PUT(&w, 0x48, 0xbb);			     /* movabs $ring,%rbx */
	put(&w, &ring, 8);
	/* a call begins: the allocator's stubs record from now on, before
	 * memprof has taken this record (which it then counts off) */
	if (counts_entry)
		PUT(&w, 0xf0, 0xff, 0x43, /* lock incl allocs_armed(%rbx) */
		    offsetof(struct ring_header, allocs_armed));
	/* what the record holds is read first, on the stack (SCRATCH), so
	 * that a record taken is written at once: tid and nread in one
	 * quadword, as in the record */
	PUT(&w, 0x48, 0x83, 0xec, SCRATCH);	 /* sub $SCRATCH,%rsp */
	PUT(&w, 0xb8, 186, 0, 0, 0, 0x0f, 0x05); /* gettid */
	PUT(&w, 0x89, 0x44, 0x24, S_TID);	 /* mov %eax,S_TID(%rsp) */
	faults_before(&w);
	PUT(&w, 0x8b, 0x7b, offsetof(struct ring_header, statm_fd));
	PUT(&w, 0x48, 0x89, 0xe6); /* mov %rsp,%rsi */
	PUT(&w, 0xba);		   /* mov $len,%edx */
	put32(&w, sizeof(((struct ring_record *)0)->statm));
	PUT(&w, 0x45, 0x31, 0xd2);		    /* xor %r10d,%r10d */
	PUT(&w, 0xb8, 17, 0, 0, 0, 0x0f, 0x05);	    /* pread64 */
	PUT(&w, 0x66, 0x89, 0x44, 0x24, S_TID + 4); /* nread */
	PUT(&w, 0x66, 0xc7, 0x44, 0x24, S_TID + 6, RING_LINE, 0); /* kind */
	faults_after(&w);
	take_record(&w, st);
	copy_scratch(&w, 0, offsetof(struct ring_record, statm));
	copy_scratch(&w, 8, offsetof(struct ring_record, statm) + 8);
	copy_scratch(&w, 16, offsetof(struct ring_record, statm) + 16);
	copy_scratch(&w, S_TID, offsetof(struct ring_record, tid));
	copy_scratch(&w, S_MINFLT, offsetof(struct ring_record, minflt));
	PUT(&w, 0x48, 0x8d, 0x05); /* lea site(%rip),%rax */
	rel = (int32_t)(site - (at + w.len + 4));
	if ((int64_t)rel != (int64_t)(site - (at + w.len + 4)))
		return -1;
	put32(&w, (uint32_t)rel);
	PUT(&w, 0x48, 0x89, 0x46, offsetof(struct ring_record, site));
	PUT(&w, 0x48, 0x8d, 0x84, 0x24); /* lea the site's rsp,%rax */
	put32(&w, RED_ZONE + SAVED + SCRATCH);
	PUT(&w, 0x48, 0x89, 0x46, offsetof(struct ring_record, sp));
	PUT(&w, 0x48, 0x89, 0x0e); /* mov %rcx,(%rsi): published */
	st->published = w.len;
	PUT(&w, 0x48, 0x83, 0xc4, SCRATCH);	     /* add $SCRATCH,%rsp */
	PUT(&w, 0x5b, 0x41, 0x5b, 0x41, 0x5a);	     /* rbx, r11, r10 */
	PUT(&w, 0x5f, 0x5e, 0x5a, 0x59, 0x58, 0x9d); /* rdi..rax; popf */
	PUT(&w, 0x48, 0x8d, 0xa4, 0x24);	     /* lea 128(%rsp),%rsp */
	put32(&w, RED_ZONE);
	st->head = w.len;
	st->covered = relocate_run(code, avail, site, STUB_JUMP_LEN, at + w.len,
				   &run);
	if (!st->covered)
		return -1;
	put(&w, run.code, run.len);
	st->len = w.len;
	return 0;
}

/* What the allocator's stub pushes after rax: rcx, rdx, rsi, rdi, r11,
 * rbx; where each of the first ones lies, above the last push. */
#define ALLOC_SAVED (7 * 8)
#define ALLOC_RDI 16
#define ALLOC_RAX 48

/* The allocator stub's record, rax holding the ring's address: the
 * thread, its registers as struct stub_alloc says, the sp at entry. */
static int put_alloc_record(struct writer *w, struct stub *st, uint64_t at,
			    uint64_t site, const struct stub_alloc *a)
{
	int32_t rel;

	PUT(w, 0x51, 0x52, 0x56, 0x57, 0x41, 0x53, 0x53); /* rcx..rbx */
	PUT(w, 0x48, 0x89, 0xc3);			  /* mov %rax,%rbx */
	PUT(w, 0xb8, 186, 0, 0, 0, 0x0f, 0x05);		  /* gettid */
	PUT(w, 0x89, 0xc7);				  /* mov %eax,%edi */
	take_record(w, st);
	PUT(w, 0x89, 0x7e, offsetof(struct ring_record, tid));
	PUT(w, 0xc7, 0x46, offsetof(struct ring_record, nread)); /* movl */
	put32(w, (uint32_t)(a->ret ? RING_ALLOC_RETURN : RING_ALLOC_ENTRY)
			 << 16);
	PUT(w, 0x48, 0xc7, 0x46, offsetof(struct ring_record, minflt), 0, 0, 0,
	    0);
	PUT(w, 0x48, 0x8d, 0x05); /* lea site(%rip),%rax */
	rel = (int32_t)(site - (at + w->len + 4));
	if ((int64_t)rel != (int64_t)(site - (at + w->len + 4)))
		return -1;
	put32(w, (uint32_t)rel);
	PUT(w, 0x48, 0x89, 0x46, offsetof(struct ring_record, site));
	/* the sp at entry: past the epilogue still to run, at a ret */
	PUT(w, 0x48, 0x8d, 0x84, 0x24); /* lea ...(%rsp),%rax */
	put32(w, RED_ZONE + ALLOC_SAVED + a->sp_adjust);
	PUT(w, 0x48, 0x89, 0x46, offsetof(struct ring_record, sp));
	for (int i = 0; i < (a->ret ? 1 : 3); i++) {
		uint8_t from =
			a->ret ? ALLOC_RAX : (uint8_t)(ALLOC_RDI + 8 * i);

		/* mov from(%rsp),%rax; mov %rax,regs[i](%rsi) */
		PUT(w, 0x48, 0x8b, 0x44, 0x24, from);
		PUT(w, 0x48, 0x89, 0x46,
		    (uint8_t)(offsetof(struct ring_record, regs) + 8 * i));
	}
	PUT(w, 0x48, 0x89, 0x0e); /* mov %rcx,(%rsi): published */
	st->published = w->len;
	PUT(w, 0x5b, 0x41, 0x5b, 0x5f, 0x5e, 0x5a, 0x59); /* rbx..rcx */
	return 0;
}

int stub_build_alloc(struct stub *st, uint64_t at, uint64_t ring, uint64_t site,
		     const uint8_t *code, size_t avail,
		     const struct stub_alloc *a)
{
	struct writer w = {.code = st->code};
	struct reloc_run run;
	size_t skip;
	int32_t rel;

	memset(st, 0, sizeof(*st));
	/* flags need no saving: no caller expects them kept across a call,
	 * and a function reads none it has not set itself */
	PUT(&w, 0x48, 0x8d, 0x64, 0x24, 0x80); /* lea -128(%rsp),%rsp */
	PUT(&w, 0x50, 0x48, 0xb8);	       /* push %rax; movabs */
	put(&w, &ring, 8);
	/* cmpq or cmpl $0,armed(%rax); je past */
	if (a->wide)
		PUT(&w, 0x48, 0x83, 0x78, a->armed, 0);
	else
		PUT(&w, 0x83, 0x78, a->armed, 0);
	PUT(&w, 0x0f, 0x84, 0, 0, 0, 0);
	skip = w.len;
	if (a->trap) {
		/* memprof takes the call at this stop, as at a breakpoint */
		st->full_trap = w.len;
		PUT(&w, BP_INSN);
	} else if (put_alloc_record(&w, st, at, site, a) < 0) {
		return -1;
	}
	rel = (int32_t)(w.len - skip);
	memcpy(w.code + skip - 4, &rel, 4);
	PUT(&w, 0x58);			 /* pop %rax */
	PUT(&w, 0x48, 0x8d, 0xa4, 0x24); /* lea 128(%rsp),%rsp */
	put32(&w, RED_ZONE);
	st->head = w.len;
	if (a->ret) {
		/* pops and stack adjustments, and the ret: they run the same
		 * anywhere */
		if (a->run < STUB_JUMP_LEN || a->run > avail ||
		    a->run > RELOC_RUN_MAX)
			return -1;
		put(&w, code, a->run);
		st->covered = a->run;
	} else {
		st->covered = relocate_run(code, avail, site, STUB_JUMP_LEN,
					   at + w.len, &run);
		if (!st->covered)
			return -1;
		put(&w, run.code, run.len);
	}
	st->len = w.len;
	return 0;
}

int stub_jump(uint8_t jmp[STUB_JUMP_LEN], uint64_t site, uint64_t at)
{
	int64_t rel = (int64_t)(at - (site + STUB_JUMP_LEN));
	int32_t rel32 = (int32_t)rel;

	if ((int64_t)rel32 != rel)
		return -1;
	jmp[0] = 0xe9;
	memcpy(jmp + 1, &rel32, 4);
	return 0;
}

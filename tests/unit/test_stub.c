/* Stubs run for real: code with a site is written into an executable
 * page, its site made a jump to a stub, and the code called. The stub
 * must leave the code's results, registers, flags and red zone as they
 * were, and leave one whole record per pass in the ring. */
#include <signal.h>
#include <ucontext.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include "../../src/agent/layout.h"
#include "../../src/ring.h"
#include "../../src/stub.h"
#include "unit.h"

static uint8_t *page; /* code at 0, stubs at 2048 */
static struct ring_header *ring;
static struct ring_record *records;
static uint64_t drained;

/* The ring-full trap (a fault on the breakpoint instruction): drain the
 * whole records, as memprof would (the trapping pass has taken its place
 * but not filled it), and go on past it. */
static void on_trap(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;

	(void)sig;
	(void)si;
	uc->uc_mcontext.gregs[REG_RIP]++;
	while (records[ring->tail & (RING_RECORDS - 1)].seq == ring->tail + 1) {
		drained++;
		__atomic_store_n(&ring->tail, ring->tail + 1, __ATOMIC_RELEASE);
	}
}

/* Writes CODE at the start of the page and makes the site at offset
 * SITE jump to its stub (one that counts an entry, with COUNTS).
 * Returns the number of bytes covered. */
static size_t install_site(const uint8_t *code, size_t len, size_t site,
			   bool counts)
{
	struct stub st;
	uint64_t at = (uint64_t)(page + 2048);

	memcpy(page, code, len);
	if (stub_build(&st, at, (uint64_t)ring, (uint64_t)(page + site),
		       code + site, len - site, counts) < 0)
		return 0;
	memcpy(page + 2048, st.code, st.len);
	CHECK(page[2048 + st.full_trap] == BP_INSN);
	CHECK_INT(stub_jump(page + site, (uint64_t)(page + site), at), 0);
	return st.covered;
}

static size_t install(const uint8_t *code, size_t len, size_t site)
{
	return install_site(code, len, site, false);
}

static void reset_ring(void)
{
	memset(ring, 0, RING_BYTES);
	ring->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ring->cap = RING_RECORDS;
	records = (struct ring_record *)(ring + 1);
	drained = 0;
}

/* f(a, b): 7 + (a < b), with a site between the compare and the jump
 * that reads its flags. */
static void flags_survive(void)
{
	static const uint8_t code[] = {
		0x31, 0xc0,		/* xor %eax,%eax */
		0x48, 0x39, 0xf7,	/* cmp %rsi,%rdi */
		0xb9, 0x07, 0,	  0, 0, /* site: mov $7,%ecx */
		0x7d, 0x05,		/* jge +5 */
		0xb8, 0x01, 0,	  0, 0, /* mov $1,%eax */
		0x01, 0xc8,		/* add %ecx,%eax */
		0xc3,			/* ret */
	};
	long (*f)(long, long) = (long (*)(long, long))(void *)page;

	reset_ring();
	CHECK_INT(install(code, sizeof(code), 5), 5);
	CHECK_INT(f(1, 2), 8);
	CHECK_INT(f(3, 2), 7);
	CHECK_INT(f(-5, -4), 8);
	CHECK_INT(ring->head, 3);
	for (uint64_t i = 0; i < 3; i++) {
		const struct ring_record *r = &records[i];
		char text[40] = "";

		CHECK_INT(r->seq, i + 1);
		CHECK_INT(r->site, (uint64_t)(page + 5));
		CHECK_INT(r->tid, syscall(SYS_gettid));
		CHECK(r->nread > 3);
		CHECK_INT(r->kind, RING_LINE);
		memcpy(text, r->statm, sizeof(r->statm));
		CHECK(strtoull(strchr(text, ' ') + 1, NULL, 10) > 0);
		/* the stack pointer at the site: below ours, above the
		 * return address f was called with */
		CHECK((uint64_t)&text > r->sp &&
		      r->sp > (uint64_t)&text - 4096);
	}
}

/* With the ring's faults set, each record has the thread's and the
 * process's minor faults, as getrusage gives them; without, none. */
static void minor_faults_taken(void)
{
	static const uint8_t code[] = {
		0xb8, 0x2a, 0, 0, 0, /* site: mov $42,%eax */
		0xc3,		     /* ret */
	};
	long (*f)(void) = (long (*)(void))(void *)page;
	struct rusage before, after, self;

	reset_ring();
	CHECK_INT(install(code, sizeof(code), 0), 5);
	CHECK_INT(f(), 42);
	CHECK_INT(records[0].proc_minflt, 0);
	ring->faults = 1;
	getrusage(RUSAGE_THREAD, &before);
	CHECK_INT(f(), 42);
	getrusage(RUSAGE_THREAD, &after);
	getrusage(RUSAGE_SELF, &self);
	CHECK_INT(ring->head, 2);
	CHECK((uint32_t)before.ru_minflt <= records[1].minflt &&
	      records[1].minflt <= (uint32_t)after.ru_minflt);
	CHECK(records[1].minflt <= records[1].proc_minflt &&
	      records[1].proc_minflt <= (uint32_t)self.ru_minflt);
	CHECK(records[1].proc_minflt > 0);
}

/* f(x) = x, kept in the red zone across the site: the stub must step
 * below it. Two instructions are displaced (3 + 5 bytes). */
static void red_zone_survives(void)
{
	static const uint8_t code[] = {
		0x48, 0x89, 0x7c, 0x24, 0xf8, /* mov %rdi,-8(%rsp) */
		0x48, 0x31, 0xff,	      /* site: xor %rdi,%rdi */
		0x48, 0x8b, 0x44, 0x24, 0xf8, /* mov -8(%rsp),%rax */
		0xc3,			      /* ret */
	};
	long (*f)(long) = (long (*)(long))(void *)page;

	reset_ring();
	CHECK_INT(install(code, sizeof(code), 5), 8);
	CHECK_INT(f(123456789), 123456789);
	CHECK_INT(f(-1), -1);
	CHECK_INT(ring->head, 2);
}

/* More passes than the ring holds: the stub traps when it is full, goes
 * on once it is drained, and no record is lost or torn. */
static void full_ring_traps(void)
{
	static const uint8_t code[] = {
		0xb8, 0x2a, 0, 0, 0, /* site: mov $42,%eax */
		0xc3,		     /* ret */
	};
	long (*f)(void) = (long (*)(void))(void *)page;
	const uint64_t passes = 3 * RING_RECORDS + 5;
	bool all = true;

	reset_ring();
	struct sigaction act = {.sa_sigaction = on_trap,
				.sa_flags = SA_SIGINFO},
			 old;
	sigaction(SIGSEGV, &act, &old);
	CHECK_INT(install(code, sizeof(code), 0), 5);
	for (uint64_t i = 0; i < passes; i++)
		all &= f() == 42;
	sigaction(SIGSEGV, &old, NULL);
	CHECK(all);
	CHECK_INT(ring->head, passes);
	CHECK_INT(drained, 3 * RING_RECORDS);
	for (uint64_t i = drained; i < passes; i++)
		all &= records[i & (RING_RECORDS - 1)].seq == i + 1;
	CHECK(all);
}

/* An allocator's stubs: f(a, b, c) = a + b + c, with a prologue that
 * the entry's jump displaces and an epilogue the ret's jump takes. They
 * record nothing until armed; then the entry's record has the
 * arguments, the return's the result, both the sp at entry. */
static void allocator_recorded(void)
{
	static const uint8_t code[] = {
		0x53, 0x55, 0x41, 0x54,	      /* push %rbx, %rbp, %r12 */
		0x48, 0x83, 0xec, 0x10,	      /* sub $16,%rsp */
		0x48, 0x8d, 0x04, 0x37,	      /* lea (%rdi,%rsi),%rax */
		0x48, 0x01, 0xd0,	      /* add %rdx,%rax */
		0x31, 0xdb,		      /* xor %ebx,%ebx */
		0x48, 0x83, 0xc4, 0x10,	      /* ret site: add $16,%rsp */
		0x41, 0x5c, 0x5d, 0x5b, 0xc3, /* pop %r12 ... ret */
	};
	const size_t ret_site = 17;
	long (*f)(long, long, long) = (long (*)(long, long, long))(void *)page;
	struct stub_alloc entry = {
		.armed = offsetof(struct ring_header, allocs_armed)};
	struct stub_alloc ret = {
		.ret = true,
		.armed = offsetof(struct ring_header, allocs_armed),
		.sp_adjust = 16 + 3 * 8,
		.run = sizeof(code) - ret_site,
	};
	uint64_t at[2] = {(uint64_t)(page + 2048), (uint64_t)(page + 2700)};
	struct stub st;

	reset_ring();
	memcpy(page, code, sizeof(code));
	CHECK_INT(stub_build_alloc(&st, at[0], (uint64_t)ring, (uint64_t)page,
				   code, sizeof(code), &entry),
		  0);
	CHECK_INT(st.covered, 8);
	memcpy((void *)at[0], st.code, st.len);
	CHECK_INT(stub_build_alloc(&st, at[1], (uint64_t)ring,
				   (uint64_t)(page + ret_site), code + ret_site,
				   sizeof(code) - ret_site, &ret),
		  0);
	memcpy((void *)at[1], st.code, st.len);
	CHECK_INT(stub_jump(page, (uint64_t)page, at[0]), 0);
	CHECK_INT(
		stub_jump(page + ret_site, (uint64_t)(page + ret_site), at[1]),
		0);
	CHECK_INT(f(1, 2, 3), 6);
	CHECK_INT(ring->head, 0);
	ring->allocs_armed = 1;
	CHECK_INT(f(10, 20, 30), 60);
	CHECK_INT(f(-1, 0, 0), -1);
	CHECK_INT(ring->head, 4);
	for (int i = 0; i < 4; i += 2) {
		const struct ring_record *e = &records[i], *r = &records[i + 1];
		long want = i ? -1 : 60;

		CHECK_INT(e->seq, (uint64_t)i + 1);
		CHECK_INT(r->seq, (uint64_t)i + 2);
		CHECK_INT(e->kind, RING_ALLOC_ENTRY);
		CHECK_INT(r->kind, RING_ALLOC_RETURN);
		CHECK_INT(e->site, (uint64_t)page);
		CHECK_INT(r->site, (uint64_t)(page + ret_site));
		CHECK_INT(e->tid, syscall(SYS_gettid));
		CHECK_INT(r->tid, syscall(SYS_gettid));
		CHECK_INT(e->regs[0], i ? (uint64_t)-1 : 10);
		CHECK_INT(e->regs[1], i ? 0 : 20);
		CHECK_INT(e->regs[2], i ? 0 : 30);
		CHECK_INT(r->regs[0], (uint64_t)want);
		CHECK_INT(r->sp, e->sp);
		CHECK((uint64_t)&want > e->sp &&
		      e->sp > (uint64_t)&want - 4096);
	}
}

/* A profiled function's entry with --heap: each pass adds 1 to the
 * allocating stubs' word before its record is taken (memprof counts it
 * off when it takes the record); a line site leaves it alone. */
static void entry_counted(void)
{
	static const uint8_t code[] = {
		0xb8, 0x2a, 0, 0, 0, /* site: mov $42,%eax */
		0xc3,		     /* ret */
	};
	long (*f)(void) = (long (*)(void))(void *)page;

	reset_ring();
	CHECK_INT(install_site(code, sizeof(code), 0, true), 5);
	CHECK_INT(f(), 42);
	CHECK_INT(f(), 42);
	CHECK_INT(ring->head, 2);
	CHECK_INT(ring->allocs_armed, 2);
	CHECK_INT(ring->frees_armed, 0);
	CHECK_INT(install_site(code, sizeof(code), 0, false), 5);
	CHECK_INT(f(), 42);
	CHECK_INT(ring->head, 3);
	CHECK_INT(ring->allocs_armed, 2);
}

static int trapped; /* passes through the allocator's trap stub's trap */
static uint64_t trap_args[3], trap_return;

/* What memprof reads at the trap: the arguments, and the return address
 * STUB_TRAP_DEPTH above the stack pointer. */
static void on_alloc_trap(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;
	const greg_t *g = uc->uc_mcontext.gregs;

	(void)sig;
	(void)si;
	trapped++;
	trap_args[0] = (uint64_t)g[REG_RDI];
	trap_args[1] = (uint64_t)g[REG_RSI];
	trap_args[2] = (uint64_t)g[REG_RDX];
	trap_return = *(const uint64_t *)(g[REG_RSP] + STUB_TRAP_DEPTH);
	uc->uc_mcontext.gregs[REG_RIP]++;
}

/* An allocator whose return cannot be recorded: its entry's stub traps
 * while armed (the freeing kind's test takes both words), and the
 * function runs as it was either way. */
static void allocator_trap(void)
{
	static const uint8_t code[] = {
		0x53, 0x55, 0x41, 0x54,	      /* push %rbx, %rbp, %r12 */
		0x48, 0x8d, 0x04, 0x37,	      /* lea (%rdi,%rsi),%rax */
		0x48, 0x01, 0xd0,	      /* add %rdx,%rax */
		0x41, 0x5c, 0x5d, 0x5b, 0xc3, /* pop %r12 ... ret */
	};
	long (*f)(long, long, long) = (long (*)(long, long, long))(void *)page;
	struct stub_alloc trap = {
		.trap = true,
		.wide = true,
		.armed = offsetof(struct ring_header, allocs_armed)};
	uint64_t at = (uint64_t)(page + 2048);
	struct sigaction act = {.sa_sigaction = on_alloc_trap,
				.sa_flags = SA_SIGINFO},
			 old;
	struct stub st;

	reset_ring();
	trapped = 0;
	memcpy(page, code, sizeof(code));
	CHECK_INT(stub_build_alloc(&st, at, (uint64_t)ring, (uint64_t)page,
				   code, sizeof(code), &trap),
		  0);
	CHECK_INT(st.covered, 8);
	memcpy((void *)at, st.code, st.len);
	CHECK(page[2048 + st.full_trap] == BP_INSN);
	CHECK_INT(stub_jump(page, (uint64_t)page, at), 0);
	sigaction(SIGSEGV, &act, &old);
	CHECK_INT(f(1, 2, 3), 6);
	CHECK_INT(trapped, 0);
	ring->frees_armed = 1;
	CHECK_INT(f(10, 20, 30), 60);
	CHECK_INT(trapped, 1);
	CHECK_INT(trap_args[0], 10);
	CHECK_INT(trap_args[1], 20);
	CHECK_INT(trap_args[2], 30);
	/* called from here */
	CHECK(trap_return > (uint64_t)(uintptr_t)allocator_trap &&
	      trap_return < (uint64_t)(uintptr_t)allocator_trap + 65536);
	ring->frees_armed = 0;
	ring->allocs_armed = 3;
	CHECK_INT(f(-1, 0, 0), -1);
	CHECK_INT(trapped, 2);
	sigaction(SIGSEGV, &old, NULL);
	CHECK_INT(ring->head, 0);
}

/* A displaced instruction that cannot run elsewhere: no stub. */
static void refuses_what_cannot_move(void)
{
	static const uint8_t code[] = {0xcc, 0x90, 0x90, 0x90, 0x90, 0xc3};
	struct stub st;

	CHECK_INT(stub_build(&st, 0x2000, 0x3000, 0x1000, code, sizeof(code),
			     false),
		  -1);
	/* a jump in the middle of the run */
	static const uint8_t jmp[] = {0xeb, 0x00, 0x90, 0x90, 0x90, 0xc3};
	CHECK_INT(stub_build(&st, 0x2000, 0x3000, 0x1000, jmp, sizeof(jmp),
			     false),
		  -1);
	uint8_t j[STUB_JUMP_LEN];
	CHECK_INT(stub_jump(j, 0x1000, 0x1000 + (3ull << 31)), -1);
}

int main(void)
{
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ring = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || ring == MAP_FAILED) {
		perror("mmap");
		return 99;
	}
	RUN(flags_survive);
	RUN(red_zone_survives);
	RUN(minor_faults_taken);
	RUN(full_ring_traps);
	RUN(refuses_what_cannot_move);
	RUN(allocator_recorded);
	RUN(entry_counted);
	RUN(allocator_trap);
	return unit_result();
}

/* The in-process agent: memprof's SIGSEGV (and SIGTRAP) handler in the
 * traced program, so that the program outlives memprof (kill -9 of
 * memprof while it is attached). memprof's breakpoints are a privileged
 * instruction (see BP_INSN): under ptrace memprof sees every SIGSEGV
 * first, and if it dies while a thread is stopped on one, the thread
 * runs it again. So this runs only once memprof is gone, or for a
 * signal of the program's own, where it does what the default action
 * would. SIGTRAP: the int3 that ends a system call memprof made the
 * thread run (target_syscall), reached after memprof died.
 *
 * Freestanding: no libc, raw system calls, no writable state of its own,
 * nothing but the stack (errno and the heap are the program's); several
 * threads may run it at once. */
#include <stdint.h>

#include "layout.h"

#define SYS_pread64 17
#define SYS_pwrite64 18
#define SYS_open 2
#define SYS_close 3
#define SYS_rt_sigaction 13
#define SYS_getpid 39
#define SYS_gettid 186
#define SYS_tgkill 234

#define SIGSEGV 11
#define SIGTRAP 5
#define SI_KERNEL 0x80
#define TRAP_TRACE 2
#define REG_EFL 17
#define EFLAGS_TF 0x100
#define O_RDONLY 0
#define O_RDWR 02
#define O_CLOEXEC 02000000
#define REG_RIP 16
#define REG_RBX 11
#define REG_RAX 13

/* The start of the mapping (from the linker script); hidden, so that it
 * is reached relative to the instruction pointer, not through a GOT. */
extern const char agent_base[] __attribute__((visibility("hidden")));

struct ksigaction {
	unsigned long handler, flags, restorer, mask;
};

static long sys4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static const struct agent_table *table(void)
{
	return (const struct agent_table *)(agent_base + AGENT_TABLE);
}

static uint64_t nsites(const struct agent_table *t)
{
	uint64_t n = *(volatile const uint64_t *)&t->count;

	return n < AGENT_MAX_SITES ? n : AGENT_MAX_SITES;
}

/* The entry of ADDR, or 0. */
static uint64_t site_entry(const struct agent_table *t, uint64_t addr)
{
	for (uint64_t i = 0, n = nsites(t); i < n; i++) {
		if ((t->sites[i] & AGENT_ADDR_MASK) == addr)
			return t->sites[i];
	}
	return 0;
}

static int read_byte(int fd, uint64_t addr, uint8_t *byte)
{
	return sys4(SYS_pread64, fd, (long)byte, 1, (long)addr) == 1;
}

static void write_byte(int fd, uint64_t addr, uint8_t byte)
{
	sys4(SYS_pwrite64, fd, (long)&byte, 1, (long)addr);
}

/* Every original byte back, where our breakpoint still is (a library
 * unloaded since may have left an address with other code). Other
 * threads run meanwhile: a jump's first byte becomes a breakpoint before
 * the rest of the jump goes back, and goes back last (a thread that
 * meets the breakpoint comes here and runs the code once it is whole). */
static void restore_all(const struct agent_table *t, int fd)
{
	uint64_t n = nsites(t);

	for (int pass = 0; pass < 3; pass++) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t e = t->sites[i], addr = e & AGENT_ADDR_MASK;
			uint8_t now, ours = (uint8_t)(e >> AGENT_BYTE_SHIFT);
			int start = agent_jump_start(e);

			if ((pass == 1) == start || !read_byte(fd, addr, &now))
				continue;
			if (pass == 0) {
				if (now == ours)
					write_byte(fd, addr, BP_INSN);
			} else if (agent_restores(e, now)) {
				write_byte(fd, addr, (uint8_t)(e >> 56));
			}
		}
	}
}

/* The default action of SIG, as without us: the disposition goes back
 * to it, and the signal comes again (a fault, by running the
 * instruction again; a trap or one sent, sent again). */
static void act_as_default(int sig, const struct siginfo_head *si)
{
	struct ksigaction dfl;

	dfl.handler = 0; /* SIG_DFL */
	dfl.flags = 0;
	dfl.restorer = 0;
	dfl.mask = 0;
	sys4(SYS_rt_sigaction, sig, (long)&dfl, 0, sizeof(dfl.mask));
	if (sig != SIGSEGV || si->code <= 0)
		sys4(SYS_tgkill, sys4(SYS_getpid, 0, 0, 0, 0),
		     sys4(SYS_gettid, 0, 0, 0, 0), sig, 0);
}

/* Whether the int3 before PC ends one of memprof's stubs for a system
 * call (AGENT_STUB_MOVABS), wherever it is. */
static int ends_stub(uint64_t pc)
{
	static const uint8_t movabs[AGENT_STUB_REGS][2] = AGENT_STUB_MOVABS;
	static const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
	uint8_t code[AGENT_STUB_TRAP + AGENT_STUB_TAIL];
	const uint8_t *at = code + AGENT_STUB_TRAP + 1;
	int fd = (int)sys4(SYS_open, (long)"/proc/self/mem",
			   O_RDONLY | O_CLOEXEC, 0, 0);
	long got = fd < 0 ? -1
			  : sys4(SYS_pread64, fd, (long)code, sizeof(code),
				 (long)(pc - AGENT_STUB_TRAP - 1));

	if (fd >= 0)
		sys4(SYS_close, fd, 0, 0, 0);
	if (got != (long)sizeof(code) || code[0] != 0xb8 || code[5] != 0x0f ||
	    code[6] != 0x05 || code[AGENT_STUB_TRAP] != 0xcc)
		return 0;
	for (int i = 0; i < AGENT_STUB_REGS; i++, at += 10) {
		if (at[0] != movabs[i][0] || at[1] != movabs[i][1])
			return 0;
	}
	for (int i = 0; i < 6; i++) {
		if (at[i] != jmp[i])
			return 0;
	}
	return 1;
}

void agent_handler(int sig, struct siginfo_head *si, struct ucontext_head *uc);

void agent_handler(int sig, struct siginfo_head *si, struct ucontext_head *uc)
{
	const struct agent_table *t = table();
	uint64_t pc = uc->gregs[REG_RIP], entry;
	int fd;

	/* the trap that ends a system call memprof made this thread run:
	 * memprof is gone, and the code after it puts the registers back
	 * (the stub may be out of the agent: see AGENT_STUB_MOVABS) */
	if (sig == SIGTRAP && si->code == SI_KERNEL &&
	    (pc == (uint64_t)agent_base + AGENT_STUB + AGENT_STUB_TRAP + 1 ||
	     ends_stub(pc)))
		return;
	/* a single step memprof began (the trap flag outlives it) */
	if (sig == SIGTRAP && si->code == TRAP_TRACE) {
		uc->gregs[REG_EFL] &= ~(uint64_t)EFLAGS_TF;
		return;
	}
	entry = sig == SIGSEGV && si->code == SI_KERNEL ? site_entry(t, pc) : 0;
	if (!entry) {
		act_as_default(sig, si);
		return;
	}
	/* one of ours, memprof gone: they all go, and the thread runs the
	 * instruction as it was */
	fd = (int)sys4(SYS_open, (long)"/proc/self/mem", O_RDWR | O_CLOEXEC, 0,
		       0);
	if (fd < 0) {
		act_as_default(sig, si);
		return;
	}
	restore_all(t, fd);
	sys4(SYS_close, fd, 0, 0, 0);
	/* a stub with a full ring: room for its record, and on past */
	if ((entry & AGENT_KIND_MASK) == AGENT_RING_TRAP) {
		*(volatile uint64_t *)(uc->gregs[REG_RBX] + AGENT_RING_TAIL) =
			uc->gregs[REG_RAX];
		uc->gregs[REG_RIP] = pc + 1;
	}
}

/* Where the handler returns: rt_sigreturn. */
__asm__(".text\n"
	".globl agent_restorer\n"
	".hidden agent_restorer\n"
	"agent_restorer:\n"
	"	mov $15, %eax\n"
	"	syscall\n"
	"	hlt\n");

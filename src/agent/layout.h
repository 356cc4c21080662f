/* The in-process agent's memory, as memprof and the agent both see it:
 * the agent's code from offset 0 (read and execute), then at AGENT_TABLE
 * the table memprof keeps up to date through /proc/PID/mem (read and
 * write; the agent only reads it). */
#ifndef MEMPROF_AGENT_LAYOUT_H
#define MEMPROF_AGENT_LAYOUT_H

#include <stdint.h>

/* The breakpoint instruction: hlt, privileged. It faults (#GP: SIGSEGV,
 * SI_KERNEL) where int3 traps: a thread stopped on it is still at its
 * address, so that if memprof dies before it moves the thread on (the
 * kernel drops the signal of a stop whose tracer is gone), the thread
 * runs it again and the agent takes over, instead of running on from the
 * middle of the instruction. (An invalid opcode would fault too, but a
 * hypervisor intercepts #UD: a third more per stop in a virtual
 * machine.) */
#define BP_INSN 0xf4

#define AGENT_TABLE 0x4000u /* the code ends before AGENT_STUB (checked) */
/* where memprof's injected system calls run (target_syscall's stub) */
#define AGENT_STUB (AGENT_TABLE - 0x100u)
/* the offset of the stub's int3, after mov $NR,%eax; syscall */
#define AGENT_STUB_TRAP 7
/* After the int3, run only if memprof died meanwhile: the registers put
 * back, one movabs each (these opcodes, each with 8 bytes of value),
 * then jmp *0(%rip) to where the thread was. Before the agent exists
 * the stub runs from the padding of a mapping of the program's; the
 * agent knows one there by these bytes (a killed memprof's agent, for
 * the next memprof's first system calls). */
#define AGENT_STUB_REGS 9
#define AGENT_STUB_MOVABS                                                      \
	{                                                                      \
		{0x48, 0xbf}, {0x48, 0xbe}, {0x48, 0xba}, {0x49, 0xba},        \
			{0x49, 0xb8}, {0x49, 0xb9}, {0x48, 0xb9},              \
			{0x49, 0xbb}, {0x48, 0xb8},                            \
	}
/* from the int3 to the end of the jmp's address */
#define AGENT_STUB_TAIL (1 + AGENT_STUB_REGS * 10 + 6 + 8)
#define AGENT_SIZE (AGENT_TABLE + (1u << 20))
#define AGENT_MAX_AREAS 20

struct agent_table {
	uint64_t count;	 /* sites in use */
	uint64_t nareas; /* areas in use */
	/* memprof's mappings a thread can be left in: [lo, hi) */
	uint64_t areas[AGENT_MAX_AREAS][2];
	/* memprof's: what the system calls it makes the process do read
	 * and write (sigaction's structures) */
	uint64_t scratch[8];
	/* the breakpoints: address | original byte << 56 (an address is
	 * below 2^47); written before the breakpoint is. With AGENT_BYTE,
	 * a byte memprof wrote that is not BP_INSN (a byte of a jump to a
	 * stub) is at bits 47 to 54; with the original byte BP_INSN too, it
	 * is a stub's trap for a full ring (see AGENT_RING_TRAP). Without
	 * AGENT_BYTE, a byte there is a jump's first (its opcode): see
	 * agent_jump_start */
	uint64_t sites[];
};

/* The beginnings of the kernel's siginfo and ucontext (x86-64), as the
 * agent's handler is given them. */
struct siginfo_head {
	int signo, err, code;
};

struct ucontext_head {
	unsigned long flags;
	void *link;
	void *ss_sp;
	int ss_flags, pad;
	unsigned long ss_size;
	uint64_t gregs[23];
};

#define AGENT_BYTE (UINT64_C(1) << 55)
#define AGENT_BYTE_SHIFT 47
/* A stub's trap is a breakpoint the agent steps over after it makes
 * room in the ring: the stub holds the ring's address in rbx and the
 * index of its record in rax (see stub.c). */
#define AGENT_RING_TRAP                                                        \
	(AGENT_BYTE | (uint64_t)BP_INSN << AGENT_BYTE_SHIFT |                  \
	 (uint64_t)BP_INSN << 56)
#define AGENT_KIND_MASK                                                        \
	(AGENT_BYTE | UINT64_C(0xff) << AGENT_BYTE_SHIFT | UINT64_C(0xff) << 56)
/* the ring's tail: 8 bytes into it (struct ring_header) */
#define AGENT_RING_TAIL 8

/* Whether entry E is the first byte of a jump. The agent puts the rest
 * of a jump back while other threads run: that byte becomes a breakpoint
 * first and goes back last, so that no thread runs the original first
 * byte followed by what is left of the jump's offset. */
static inline int agent_jump_start(uint64_t e)
{
	return !(e & AGENT_BYTE) && (uint8_t)(e >> AGENT_BYTE_SHIFT) != 0;
}

/* Whether the byte of entry E, NOW in memory, is still memprof's and
 * goes back: a breakpoint, or the byte of a jump memprof wrote (a
 * library unloaded since may have left other code at the address). */
static inline int agent_restores(uint64_t e, uint8_t now)
{
	uint8_t orig = (uint8_t)(e >> 56);
	uint8_t ours = (uint8_t)(e >> AGENT_BYTE_SHIFT);

	return now != orig &&
	       (now == BP_INSN ||
		(((e & AGENT_BYTE) || agent_jump_start(e)) && now == ours));
}

#define AGENT_MAX_SITES                                                        \
	((AGENT_SIZE - AGENT_TABLE - sizeof(struct agent_table)) /             \
	 sizeof(uint64_t))
#define AGENT_ADDR_MASK ((UINT64_C(1) << AGENT_BYTE_SHIFT) - 1)

#endif

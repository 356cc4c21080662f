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
	 * below 2^47); written before the int3 is */
	uint64_t sites[];
};

#define AGENT_MAX_SITES                                                        \
	((AGENT_SIZE - AGENT_TABLE - sizeof(struct agent_table)) /             \
	 sizeof(uint64_t))
#define AGENT_ADDR_MASK ((UINT64_C(1) << 56) - 1)

#endif

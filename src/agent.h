/* The in-process agent (src/agent/): a SIGSEGV handler memprof maps into
 * a process it attached to, so that the process outlives memprof: if
 * memprof dies (kill -9), a thread that hits one of its breakpoints puts every
 * original byte back and goes on. memprof keeps the agent's table of
 * breakpoints up to date. */
#ifndef MEMPROF_AGENT_H
#define MEMPROF_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "target.h"

/* Maps the agent into the process of T through its stopped thread TID
 * and makes it the SIGSEGV handler; T->agent is set. Only when the
 * program leaves SIGSEGV to its default action on every thread: -1 with
 * *WHY (a static string) otherwise, or when it cannot be done. */
int agent_install(struct target *t, pid_t tid, const char **why);

/* A breakpoint at ADDR, whose original byte is ORIG, is about to be
 * written into the process of T (nothing when T has no agent). */
void agent_add_site(const struct target *t, uint64_t addr, uint8_t orig);

/* --engine jump: LEN bytes at ADDR, ORIG in the program, are about to
 * become JUMP (a jump to a stub), which the agent puts back. */
void agent_add_jump(const struct target *t, uint64_t addr, const uint8_t *orig,
		    const uint8_t *jump, size_t len);

/* --engine jump: the breakpoint at ADDR is a stub's trap for a full ring,
 * which the agent steps over. */
void agent_add_ring_trap(const struct target *t, uint64_t addr);
/* --engine jump: the breakpoint at ADDR is an allocator's trap stub's,
 * which the agent makes a nop if memprof is gone. */
void agent_add_pass_trap(const struct target *t, uint64_t addr);

/* An out-of-line area [LO, HI) of memprof's in the process of T. */
void agent_add_area(const struct target *t, uint64_t lo, uint64_t hi);

/* Forgets the sites that are no longer in executable memory of the
 * process of T (a library unloaded): nothing is written there. */
void agent_forget_unmapped(const struct target *t);

/* CHILD, a fork of the process of T, has a copy of its agent: CHILD's
 * table is made whole (the parent's may have grown since the fork). */
void agent_fork(const struct target *t, struct target *child);

/* Gives SIGSEGV its default action back and unmaps the agent, through
 * the stopped thread TID; the agent stays mapped when the program has
 * put a handler of its own meanwhile. T->agent is freed. */
int agent_remove(struct target *t, pid_t tid);

/* Frees T->agent without touching the process (gone, or a new program). */
void agent_free(struct target *t);

#endif

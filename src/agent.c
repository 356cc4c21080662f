/* The in-process agent: mapped, installed and kept up to date through
 * the traced process's memory and the system calls it is made to run. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <dirent.h>

#include "agent.h"
#include "agent/blob.h"
#include "agent/layout.h"
#include "util.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

struct agent {
	uint64_t base;	  /* where it is mapped */
	uint64_t handler; /* its SIGSEGV handler there */
	bool trap;	  /* it is SIGTRAP's handler too */
	uint64_t *sites;  /* the table's sites, as in the process */
	size_t count, cap;
	uint32_t *index; /* open addressing on the address: site + 1 */
	size_t icap;	 /* a power of two */
	size_t nareas;
	bool full; /* said that the table is full */
};

/* The kernel's struct sigaction (x86-64). */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};

#define TABLE(a) ((a)->base + AGENT_TABLE)
#define FIELD(a, f) (TABLE(a) + offsetof(struct agent_table, f))

/* The hexadecimal signal set of line KEY in /proc/.../status, in *SET;
 * 0, or -1 when there is none. */
static int status_set(const char *path, const char *key, uint64_t *set)
{
	char line[256];
	size_t klen = strlen(key);
	int found = -1;
	FILE *f = fopen(path, "re");

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			*set = strtoull(line + klen + 1, NULL, 16);
			found = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Bit SIG of a signal set in /proc/.../status, line KEY; -1: none. */
static int status_bit(const char *path, const char *key, int sig)
{
	uint64_t set;

	if (status_set(path, key, &set) < 0)
		return -1;
	return (int)((set >> (sig - 1)) & 1);
}

/* Whether a thread blocks SIG for good: not while it starts one (the C
 * library blocks every signal around clone, and a new thread starts so
 * until it sets its own mask), which a program that keeps starting
 * threads is found in. */
static bool blocks_for_good(const char *path, int sig)
{
	uint64_t set;

	if (status_set(path, "SigBlk", &set) < 0 || !((set >> (sig - 1)) & 1))
		return false;
	return __builtin_popcountll(set) < 60;
}

/* Why SIG is not left to its default action in process PID, or NULL
 * when it is, on every thread (they are stopped: it stays so). A handler
 * is told by the action it replaces. */
static const char *signal_taken(pid_t pid, int sig)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	const char *why = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	/* caught: by the program, or by the agent of a memprof killed */
	if (status_bit(path, "SigIgn", sig) != 0)
		return "the program ignores SIGSEGV";
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return "its threads cannot be read";
	while (!why && (de = readdir(dir))) {
		char status[300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(status, sizeof(status), "/proc/%d/task/%s/status", pid,
			 de->d_name);
		if (blocks_for_good(status, sig))
			why = "a thread of the program blocks SIGSEGV";
	}
	closedir(dir);
	return why;
}

static int64_t inject(const struct target *t, pid_t tid, long nr, uint64_t a0,
		      uint64_t a1, uint64_t a2, uint64_t a3)
{
	uint64_t args[6] = {a0, a1, a2, a3, (uint64_t)-1, 0};
	int64_t result;

	if (nr == SYS_mmap)
		args[5] = 0;
	else
		args[4] = 0;
	if (target_syscall(t, tid, nr, args, &result) < 0)
		return -errno;
	return result;
}

/* Sets SIG's action to ACT; the one it replaced in *OLD. */
static int swap_action(const struct agent *a, const struct target *t, pid_t tid,
		       int sig, const struct ksigaction *act,
		       struct ksigaction *old)
{
	uint64_t in = FIELD(a, scratch), out = in + sizeof(*act);

	if (target_write(t, in, act, sizeof(*act)) < 0 ||
	    inject(t, tid, SYS_rt_sigaction, sig, in, out, sizeof(act->mask)) !=
		    0 ||
	    target_read(t, out, old, sizeof(*old)) < 0)
		return -1;
	return 0;
}

/* Whether HANDLER is the agent's handler of a memprof that was killed. */
static bool is_orphan(const struct target *t, uint64_t handler)
{
	uint8_t *code = xcalloc(1, agent_blob_size);
	bool same = target_read(t, handler - agent_handler_offset, code,
				agent_blob_size) == 0 &&
		    memcmp(code, agent_blob, agent_blob_size) == 0;

	free(code);
	return same;
}

/* Whether the SIGSEGV handler at HANDLER is the agent of a memprof that
 * was killed; if so, its breakpoints still in memory go (they would
 * be taken for the program's code), and its mapping is left as it is (a
 * thread may be inside). */
static bool adopt_orphan(const struct target *t, uint64_t handler)
{
	uint64_t base = handler - agent_handler_offset, n;
	uint64_t table = base + AGENT_TABLE;

	if (!is_orphan(t, handler) ||
	    target_read(t, table + offsetof(struct agent_table, count), &n,
			sizeof(n)) < 0)
		return false;
	if (n > AGENT_MAX_SITES)
		n = AGENT_MAX_SITES;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t entry, addr;
		uint8_t now, orig;

		if (target_read(t,
				table + offsetof(struct agent_table, sites) +
					i * sizeof(entry),
				&entry, sizeof(entry)) < 0)
			break;
		addr = entry & AGENT_ADDR_MASK;
		orig = (uint8_t)(entry >> 56);
		if (target_read(t, addr, &now, 1) == 0 &&
		    agent_restores(entry, now))
			target_write(t, addr, &orig, 1);
	}
	return true;
}

int agent_install(struct target *t, pid_t tid, const char **why)
{
	struct ksigaction act, old;
	struct agent *a;
	int64_t base;

	*why = signal_taken(t->pid, SIGSEGV);
	if (*why)
		return -1;
	*why = "it cannot be mapped into the process";
	base = inject(t, tid, SYS_mmap, 0, AGENT_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS);
	if (base < 0 && base > -4096)
		return -1;
	a = xcalloc(1, sizeof(*a));
	a->base = (uint64_t)base;
	a->handler = a->base + agent_handler_offset;
	if (target_write(t, a->base, agent_blob, agent_blob_size) < 0 ||
	    inject(t, tid, SYS_mprotect, a->base, AGENT_TABLE,
		   PROT_READ | PROT_EXEC, 0) != 0)
		goto unmap;
	act = (struct ksigaction){
		.handler = a->handler,
		.flags = SA_SIGINFO | SA_RESTORER | SA_RESTART | SA_NODEFER,
		.restorer = a->base + agent_restorer_offset,
		/* nothing of the program's runs inside it */
		.mask = ~(UINT64_C(1) << (SIGSEGV - 1) |
			  UINT64_C(1) << (SIGTRAP - 1)),
	};
	*why = "it cannot be made SIGSEGV's handler";
	if (swap_action(a, t, tid, SIGSEGV, &act, &old) < 0)
		goto unmap;
	if (old.handler != (uint64_t)(uintptr_t)SIG_DFL &&
	    !adopt_orphan(t, old.handler)) {
		swap_action(a, t, tid, SIGSEGV, &old, &act);
		*why = "the program handles SIGSEGV itself";
		goto unmap;
	}
	/* SIGTRAP too, where the program leaves it alone: the trap that
	 * ends memprof's system calls, if memprof dies meanwhile */
	if (!signal_taken(t->pid, SIGTRAP) &&
	    swap_action(a, t, tid, SIGTRAP, &act, &old) == 0) {
		a->trap = old.handler == (uint64_t)(uintptr_t)SIG_DFL ||
			  is_orphan(t, old.handler);
		if (!a->trap)
			swap_action(a, t, tid, SIGTRAP, &old, &act);
	}
	t->agent = a;
	/* memprof's system calls run from here from now on */
	t->stub = a->base + AGENT_STUB;
	*why = NULL;
	return 0;
unmap:
	inject(t, tid, SYS_munmap, a->base, AGENT_SIZE, 0, 0);
	free(a);
	return -1;
}

static size_t hash_of(const struct agent *a, uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 32) & (a->icap - 1);
}

/* The index slot of ADDR, or the empty one where it would go. */
static size_t probe(const struct agent *a, uint64_t addr)
{
	size_t i = hash_of(a, addr);

	while (a->index[i] &&
	       (a->sites[a->index[i] - 1] & AGENT_ADDR_MASK) != addr)
		i = (i + 1) & (a->icap - 1);
	return i;
}

static void reindex(struct agent *a)
{
	size_t need = 64;

	while (need < 2 * (a->count + 1))
		need *= 2;
	free(a->index);
	a->icap = need;
	a->index = xcalloc(a->icap, sizeof(*a->index));
	for (size_t i = 0; i < a->count; i++)
		a->index[probe(a, a->sites[i] & AGENT_ADDR_MASK)] =
			(uint32_t)(i + 1);
}

/* Puts ENTRY for ADDR in the table; one there already is replaced
 * when REPLACE (a site a jump now covers). */
static void add_entry(const struct target *t, uint64_t addr, uint64_t entry,
		      bool replace)
{
	struct agent *a = t->agent;
	size_t slot;

	if (!a)
		return;
	if (!a->icap || 2 * (a->count + 1) > a->icap)
		reindex(a);
	slot = probe(a, addr);
	if (a->index[slot]) {
		size_t i = a->index[slot] - 1;

		if (!replace || a->sites[i] == entry)
			return;
		a->sites[i] = entry;
		target_write(t, FIELD(a, sites) + i * sizeof(entry), &entry,
			     sizeof(entry));
		return;
	}
	if (a->count == AGENT_MAX_SITES) {
		if (!a->full)
			warn_msg("too many breakpoints for the in-process "
				 "agent: kill -9 of memprof would now kill "
				 "process %d",
				 (int)t->pid);
		a->full = true;
		return;
	}
	if (a->count == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 256;
		a->sites = xrealloc(a->sites, a->cap * sizeof(*a->sites));
	}
	/* the entry first, then the count that makes it seen */
	a->sites[a->count] = entry;
	target_write(t, FIELD(a, sites) + a->count * sizeof(entry), &entry,
		     sizeof(entry));
	a->count++;
	target_write(t, FIELD(a, count), &a->count, sizeof(uint64_t));
	a->index[slot] = (uint32_t)a->count;
}

void agent_add_site(const struct target *t, uint64_t addr, uint8_t orig)
{
	add_entry(t, addr, (addr & AGENT_ADDR_MASK) | (uint64_t)orig << 56,
		  false);
}

void agent_add_jump(const struct target *t, uint64_t addr, const uint8_t *orig,
		    const uint8_t *jump, size_t len)
{
	/* the first byte without AGENT_BYTE: agent_jump_start */
	for (size_t i = 0; i < len; i++)
		add_entry(t, addr + i,
			  ((addr + i) & AGENT_ADDR_MASK) |
				  (i ? AGENT_BYTE : 0) |
				  (uint64_t)jump[i] << AGENT_BYTE_SHIFT |
				  (uint64_t)orig[i] << 56,
			  true);
}

void agent_add_ring_trap(const struct target *t, uint64_t addr)
{
	add_entry(t, addr, (addr & AGENT_ADDR_MASK) | AGENT_RING_TRAP, true);
}

void agent_add_pass_trap(const struct target *t, uint64_t addr)
{
	/* a breakpoint whose original is a nop: the agent makes it one */
	add_entry(t, addr, (addr & AGENT_ADDR_MASK) | (uint64_t)0x90 << 56,
		  true);
}

void agent_add_area(const struct target *t, uint64_t lo, uint64_t hi)
{
	struct agent *a = t->agent;
	uint64_t range[2] = {lo, hi}, n;

	if (!a || a->nareas == AGENT_MAX_AREAS)
		return;
	target_write(t, FIELD(a, areas) + a->nareas * sizeof(range), range,
		     sizeof(range));
	n = ++a->nareas;
	target_write(t, FIELD(a, nareas), &n, sizeof(n));
}

/* Whether ADDR lies in one of the executable mappings listed in MAPS. */
static bool executable(const uint64_t (*maps)[2], size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++) {
		if (addr >= maps[i][0] && addr < maps[i][1])
			return true;
	}
	return false;
}

void agent_forget_unmapped(const struct target *t)
{
	struct agent *a = t->agent;
	uint64_t(*maps)[2] = NULL;
	size_t n = 0, kept = 0;
	char path[64], line[4352];
	FILE *f;

	if (!a || !a->count)
		return;
	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		uint64_t lo, hi;
		char perms[8];

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s", &lo, &hi,
			   perms) == 3 &&
		    perms[2] == 'x') {
			maps = xrealloc(maps, (n + 1) * sizeof(*maps));
			maps[n][0] = lo;
			maps[n][1] = hi;
			n++;
		}
	}
	fclose(f);
	for (size_t i = 0; i < a->count; i++) {
		if (executable((const uint64_t(*)[2])maps, n,
			       a->sites[i] & AGENT_ADDR_MASK))
			a->sites[kept++] = a->sites[i];
	}
	free(maps);
	if (kept == a->count)
		return;
	/* the count first: the agent never reads an entry being moved */
	a->count = kept;
	target_write(t, FIELD(a, count), &a->count, sizeof(uint64_t));
	target_write(t, FIELD(a, sites), a->sites, kept * sizeof(uint64_t));
	reindex(a);
}

void agent_fork(const struct target *t, struct target *child)
{
	const struct agent *a = t->agent;
	struct agent *c;
	uint64_t n;

	if (!a)
		return;
	c = xcalloc(1, sizeof(*c));
	*c = *a;
	c->sites = xcalloc(a->cap ? a->cap : 1, sizeof(*c->sites));
	memcpy(c->sites, a->sites, a->count * sizeof(*c->sites));
	c->index = NULL;
	c->icap = 0;
	reindex(c);
	child->agent = c;
	child->stub = t->stub;
	n = c->count;
	target_write(child, FIELD(c, sites), c->sites, n * sizeof(uint64_t));
	target_write(child, FIELD(c, count), &n, sizeof(n));
}

int agent_remove(struct target *t, pid_t tid)
{
	struct agent *a = t->agent;
	struct ksigaction dfl = {.handler = (uint64_t)(uintptr_t)SIG_DFL}, old;
	int ret = 0;

	if (!a)
		return 0;
	if (a->trap && swap_action(a, t, tid, SIGTRAP, &dfl, &old) == 0 &&
	    old.handler != a->handler)
		swap_action(a, t, tid, SIGTRAP, &old, &dfl);
	if (swap_action(a, t, tid, SIGSEGV, &dfl, &old) < 0) {
		ret = -1;
	} else if (old.handler != a->handler) {
		/* the program's own since: it stays, and so does the agent
		 * (the program may have kept ours to call it) */
		swap_action(a, t, tid, SIGSEGV, &old, &dfl);
	} else {
		/* the call cannot run from the mapping it unmaps */
		t->stub = 0;
		if (inject(t, tid, SYS_munmap, a->base, AGENT_SIZE, 0, 0) != 0)
			ret = -1;
	}
	agent_free(t);
	return ret;
}

void agent_free(struct target *t)
{
	if (!t->agent)
		return;
	free(t->agent->sites);
	free(t->agent->index);
	free(t->agent);
	t->agent = NULL;
	t->stub = 0;
}

/* The breakpoint table: an open-addressing hash on the address, since it
 * is looked up at every stop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "breakpoint.h"
#include "util.h"

static const uint8_t int3 = BP_INSN;

struct bp_table {
	struct breakpoint **slots;
	size_t cap; /* a power of two */
	size_t count;
};

struct bp_table *bp_table_new(void)
{
	struct bp_table *bps = xcalloc(1, sizeof(*bps));

	bps->cap = 64;
	bps->slots = xcalloc(bps->cap, sizeof(*bps->slots));
	return bps;
}

void bp_table_free(struct bp_table *bps)
{
	if (!bps)
		return;
	for (size_t i = 0; i < bps->cap; i++)
		free(bps->slots[i]);
	free(bps->slots);
	free(bps);
}

/* Puts the original bytes of BP back in the memory of T. */
static int write_orig(const struct breakpoint *bp, const struct target *t)
{
	if (bp->jump_len)
		return target_write(t, bp->addr, bp->jump_orig, bp->jump_len);
	return target_write(t, bp->addr, &bp->orig, 1);
}

static size_t slot_of(const struct bp_table *bps, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (bps->cap - 1);
}

/* The slot holding ADDR, or the empty one where it would go. */
static size_t probe(const struct bp_table *bps, uint64_t addr)
{
	size_t i = slot_of(bps, addr);

	while (bps->slots[i] && bps->slots[i]->addr != addr)
		i = (i + 1) & (bps->cap - 1);
	return i;
}

struct breakpoint *bp_find(const struct bp_table *bps, uint64_t addr)
{
	return bps->slots[probe(bps, addr)];
}

static void grow(struct bp_table *bps)
{
	struct breakpoint **old = bps->slots;
	size_t oldcap = bps->cap;

	bps->cap *= 2;
	bps->slots = xcalloc(bps->cap, sizeof(*bps->slots));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i])
			bps->slots[probe(bps, old[i]->addr)] = old[i];
	}
	free(old);
}

struct breakpoint *bp_get(struct bp_table *bps, const struct target *t,
			  uint64_t addr, const uint8_t *orig)
{
	struct breakpoint *bp = bp_find(bps, addr);
	uint8_t byte;

	if (bp)
		return bp;
	if (orig)
		byte = *orig;
	else if (target_read(t, addr, &byte, 1) < 0)
		return NULL;
	/* the agent knows of it before it is there */
	agent_add_site(t, addr, byte);
	if (target_write(t, addr, &int3, 1) < 0)
		return NULL;
	if ((bps->count + 1) * 2 > bps->cap)
		grow(bps);
	bp = xcalloc(1, sizeof(*bp));
	bp->addr = addr;
	bp->orig = byte;
	bp->func = -1;
	bps->slots[probe(bps, addr)] = bp;
	bps->count++;
	return bp;
}

/* Removes slot I, re-placing the entries of its probe run after it. */
static void delete_slot(struct bp_table *bps, size_t i)
{
	free(bps->slots[i]);
	bps->slots[i] = NULL;
	bps->count--;
	for (size_t j = (i + 1) & (bps->cap - 1); bps->slots[j];
	     j = (j + 1) & (bps->cap - 1)) {
		struct breakpoint *moved = bps->slots[j];
		bps->slots[j] = NULL;
		bps->slots[probe(bps, moved->addr)] = moved;
	}
}

int bp_drop_role(struct bp_table *bps, const struct target *t,
		 struct breakpoint *bp, unsigned role)
{
	bp->roles &= ~role;
	if (bp->roles)
		return 0;
	int ret = write_orig(bp, t);
	delete_slot(bps, probe(bps, bp->addr));
	return ret;
}

void bp_forget(struct bp_table *bps, struct breakpoint *bp)
{
	delete_slot(bps, probe(bps, bp->addr));
}

int bp_remove_all(struct bp_table *bps, const struct target *t)
{
	int ret = 0;

	for (size_t i = 0; i < bps->cap; i++) {
		struct breakpoint *bp = bps->slots[i];
		if (!bp)
			continue;
		if (write_orig(bp, t) < 0 && errno != ESRCH)
			ret = -1;
		free(bp);
		bps->slots[i] = NULL;
	}
	bps->count = 0;
	return ret;
}

void bp_clean_process(const struct bp_table *bps, pid_t pid)
{
	for (size_t i = 0; i < bps->cap; i++) {
		const struct breakpoint *bp = bps->slots[i];
		if (bp && bp->jump_len)
			target_write_pid(pid, bp->addr, bp->jump_orig,
					 bp->jump_len);
		else if (bp)
			target_write_pid(pid, bp->addr, &bp->orig, 1);
	}
}

size_t bp_count(const struct bp_table *bps)
{
	return bps->count;
}

struct breakpoint *bp_next(const struct bp_table *bps, size_t *cursor)
{
	while (*cursor < bps->cap) {
		struct breakpoint *bp = bps->slots[(*cursor)++];
		if (bp)
			return bp;
	}
	return NULL;
}

int bp_set_armed(struct breakpoint *bp, const struct target *t, bool armed)
{
	/* written even when the state is the same: forked processes that
	 * share the table have memories of their own */
	if (armed)
		agent_add_site(t, bp->addr, bp->orig);
	return target_write(t, bp->addr, armed ? &int3 : &bp->orig, 1);
}

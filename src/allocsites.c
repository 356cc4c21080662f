/* The allocator's sites for its stubs: its entry, and each ret with an
 * epilogue of its own before it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "allocsites.h"
#include "decode.h"
#include "stub.h"
#include "util.h"

/* How much the epilogue instruction IN (bytes B) moves the stack
 * pointer up; -1 when it is not one a stub can run as it is: a pop of
 * a register but rax, an add to rsp or a lea of rsp from rsp. None
 * depends on where it runs, none writes rax. */
static int64_t epilogue_step(const struct insn *in, const uint8_t *b)
{
	int32_t imm;

	if (in->len == 1 && b[0] >= 0x59 && b[0] <= 0x5f)
		return 8;
	if (in->len == 2 && b[0] == 0x41 && b[1] >= 0x58 && b[1] <= 0x5f)
		return 8;
	if (in->len == 4 && b[0] == 0x48 && b[1] == 0x83 && b[2] == 0xc4)
		return (int8_t)b[3];
	if (in->len == 7 && b[0] == 0x48 && b[1] == 0x81 && b[2] == 0xc4) {
		memcpy(&imm, b + 3, 4);
		return imm;
	}
	if (in->len == 5 && !memcmp(b, "\x48\x8d\x64\x24", 4))
		return (int8_t)b[4];
	if (in->len == 8 && !memcmp(b, "\x48\x8d\xa4\x24", 4)) {
		memcpy(&imm, b + 4, 4);
		return imm;
	}
	return -1;
}

int alloc_sites_clear(const struct alloc_sites *as, uint64_t lo, uint64_t hi)
{
	for (size_t i = 0; i < as->ntargets; i++) {
		if (as->targets[i] > lo && as->targets[i] <= hi)
			return 0;
	}
	return 1;
}

static bool is_entry(uint64_t addr, const uint64_t *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (entries[i] == addr)
			return true;
	}
	return false;
}

/* The ret at index R of INSNS, with the shortest epilogue before it
 * that a jump fits in and that nothing jumps into. */
static bool take_ret(struct alloc_sites *as, const struct insn *insns, size_t r,
		     const uint8_t *code, uint64_t addr)
{
	const struct insn *ret = &insns[r];
	uint64_t end = ret->addr + ret->len;
	int64_t adjust = 0;

	for (size_t j = r; j-- > 0;) {
		const struct insn *in = &insns[j];
		int64_t step = epilogue_step(in, code + (in->addr - addr));

		if (step < 0 || !alloc_sites_clear(as, in->addr, ret->addr))
			return false;
		adjust += step;
		if (end - in->addr >= STUB_JUMP_LEN) {
			if (as->nrets == ALLOC_MAX_RETS || adjust < 0)
				return false;
			as->rets[as->nrets++] = (struct alloc_ret){
				.site = in->addr,
				.run = end - in->addr,
				.sp_adjust = (uint32_t)adjust,
			};
			return true;
		}
	}
	return false;
}

int alloc_sites_find(const uint8_t *code, size_t len, uint64_t addr,
		     const uint64_t *entries, size_t nentries, bool entry_only,
		     struct alloc_sites *out)
{
	struct insn *insns;
	size_t n = decode_code(code, len, addr, &insns), decoded = 0;

	memset(out, 0, sizeof(*out));
	out->targets = xcalloc(n + 1, sizeof(*out->targets));
	for (size_t i = 0; i < n; i++) {
		const struct insn *in = &insns[i];
		bool inside = in->target >= addr && in->target < addr + len;

		decoded += in->len;
		if (in->flow == FLOW_INDIRECT_JUMP) {
			out->why = "an indirect jump";
			break;
		}
		if ((in->flow == FLOW_JUMP || in->flow == FLOW_COND) &&
		    !inside && !entry_only &&
		    !is_entry(in->target, entries, nentries)) {
			out->why = "a jump out of it";
			break;
		}
		if ((in->flow == FLOW_JUMP || in->flow == FLOW_COND ||
		     in->flow == FLOW_CALL) &&
		    inside)
			out->targets[out->ntargets++] = in->target;
	}
	if (!out->why && decoded != len)
		out->why = "code that does not decode";
	for (size_t i = 0; !out->why && !entry_only && i < n; i++) {
		if (insns[i].flow == FLOW_RET &&
		    !take_ret(out, insns, i, code, addr))
			out->why = "a ret whose epilogue cannot take a jump";
	}
	free(insns);
	return out->why ? -1 : 0;
}

void alloc_sites_free(struct alloc_sites *as)
{
	free(as->targets);
	as->targets = NULL;
}

/* Relocation with capstone. Control leaves a copy by absolute jumps
 * (jmp *0(%rip) and an 8-byte address), so a copy may live anywhere;
 * only RIP-relative operands need it within 2 GiB of their data. */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <string.h>

#include "relocate.h"

struct emitter {
	uint8_t *code;
	size_t cap, len;
	bool overflow;
};

static void emit(struct emitter *e, const void *bytes, size_t n)
{
	if (e->len + n > e->cap) {
		e->overflow = true;
		return;
	}
	memcpy(e->code + e->len, bytes, n);
	e->len += n;
}

static void emit_u8(struct emitter *e, uint8_t b)
{
	emit(e, &b, 1);
}

static void emit_u32(struct emitter *e, uint32_t v)
{
	emit(e, &v, 4);
}

/* jmp *0(%rip); .quad TARGET */
static void emit_jump_abs(struct emitter *e, uint64_t target)
{
	static const uint8_t jmp_rip[] = {0xff, 0x25, 0, 0, 0, 0};

	emit(e, jmp_rip, sizeof(jmp_rip));
	emit(e, &target, 8);
}

/* Pushes RET_ADDR without touching the flags: lea -8(%rsp),%rsp; then
 * the two halves with movl. */
static void emit_push_imm64(struct emitter *e, uint64_t ret_addr)
{
	static const uint8_t lea[] = {0x48, 0x8d, 0x64, 0x24, 0xf8};
	static const uint8_t mov_lo[] = {0xc7, 0x04, 0x24};
	static const uint8_t mov_hi[] = {0xc7, 0x44, 0x24, 0x04};

	emit(e, lea, sizeof(lea));
	emit(e, mov_lo, sizeof(mov_lo));
	emit_u32(e, (uint32_t)ret_addr);
	emit(e, mov_hi, sizeof(mov_hi));
	emit_u32(e, (uint32_t)(ret_addr >> 32));
}

static bool fits_i32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

static bool is_rip_relative(const cs_x86 *x86)
{
	for (uint8_t i = 0; i < x86->op_count; i++) {
		const cs_x86_op *op = &x86->operands[i];
		if (op->type == X86_OP_MEM && op->mem.base == X86_REG_RIP)
			return true;
	}
	return false;
}

static bool uses_rsp(const cs_x86 *x86)
{
	for (uint8_t i = 0; i < x86->op_count; i++) {
		const cs_x86_op *op = &x86->operands[i];
		if (op->type == X86_OP_MEM && (op->mem.base == X86_REG_RSP ||
					       op->mem.index == X86_REG_RSP))
			return true;
		if (op->type == X86_OP_REG && op->reg == X86_REG_RSP)
			return true;
	}
	return false;
}

/* The instruction's bytes, with a RIP-relative displacement adjusted for
 * its new place (the instruction keeps its length). */
static bool emit_moved(struct emitter *e, const cs_insn *ci, uint64_t at)
{
	const cs_x86 *x86 = &ci->detail->x86;
	uint8_t bytes[16];

	memcpy(bytes, ci->bytes, ci->size);
	if (is_rip_relative(x86)) {
		int64_t disp = x86->disp + (int64_t)(ci->address - at);
		int32_t d32;

		if (x86->encoding.disp_offset == 0 ||
		    x86->encoding.disp_size != 4 || !fits_i32(disp))
			return false;
		d32 = (int32_t)disp;
		memcpy(bytes + x86->encoding.disp_offset, &d32, 4);
	}
	emit(e, bytes, ci->size);
	return true;
}

static bool has_direct_target(const cs_x86 *x86, uint64_t *target)
{
	if (x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x86->operands[0].imm;
	return true;
}

/* A conditional branch (jcc, jrcxz, loop) becomes the same test over two
 * bytes, then absolute jumps for each way:
 *	OP +2; jmp +14; jmp *TARGET; jmp *NEXT */
static bool emit_cond_branch(struct emitter *e, const cs_insn *ci,
			     uint64_t target, uint64_t next)
{
	const cs_x86 *x86 = &ci->detail->x86;
	uint8_t op = x86->opcode[0];

	if (op == 0x0f)
		op = (uint8_t)(0x70 | (x86->opcode[1] & 0x0f));
	if (!(op >= 0x70 && op <= 0x7f) && !(op >= 0xe0 && op <= 0xe3))
		return false;
	/* the address-size prefix picks ecx over rcx for loop and jrcxz */
	if (x86->prefix[3] == 0x67)
		emit_u8(e, 0x67);
	emit_u8(e, op);
	emit_u8(e, 2);
	emit_u8(e, 0xeb);
	emit_u8(e, 14);
	emit_jump_abs(e, target);
	emit_jump_abs(e, next);
	return true;
}

/* call *operand: push the original return address, then the same operand
 * as jmp *operand (ModRM reg field 2 becomes 4). */
static bool emit_indirect_call(struct emitter *e, const cs_insn *ci,
			       uint64_t at, uint64_t next)
{
	const cs_x86 *x86 = &ci->detail->x86;
	uint8_t bytes[16];
	uint8_t modrm_at = x86->encoding.modrm_offset;

	/* pushing first would move what an rsp-based operand points at */
	if (x86->opcode[0] != 0xff || uses_rsp(x86) || modrm_at == 0 ||
	    ((ci->bytes[modrm_at] >> 3) & 7) != 2)
		return false;
	emit_push_imm64(e, next);
	memcpy(bytes, ci->bytes, ci->size);
	bytes[modrm_at] = (uint8_t)((bytes[modrm_at] & ~0x38) | (4 << 3));
	if (is_rip_relative(x86)) {
		int64_t disp =
			x86->disp + (int64_t)(ci->address - (at + e->len));
		int32_t d32;

		if (!fits_i32(disp) || x86->encoding.disp_size != 4)
			return false;
		d32 = (int32_t)disp;
		memcpy(bytes + x86->encoding.disp_offset, &d32, 4);
	}
	emit(e, bytes, ci->size);
	return true;
}

/* jcc (short and near), loop, loope, loopne, jrcxz: told by opcode, as
 * capstone does not put all of them in its jump group. */
static bool is_cond_branch(const cs_x86 *x86)
{
	uint8_t op = x86->opcode[0];

	if (op == 0x0f)
		return x86->opcode[1] >= 0x80 && x86->opcode[1] <= 0x8f;
	return (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3);
}

static bool rewrite(struct emitter *e, const cs_insn *ci, uint64_t copy)
{
	const cs_x86 *x86 = &ci->detail->x86;
	uint64_t next = ci->address + ci->size;
	uint64_t target;

	switch (ci->id) {
	case X86_INS_NOP:
	case X86_INS_ENDBR64:
		/* nothing to run: resume after it (out->len stays 0) */
		return true;
	case X86_INS_JMP:
		if (has_direct_target(x86, &target)) {
			emit_jump_abs(e, target);
			return true;
		}
		/* jmp *operand leaves by itself */
		return emit_moved(e, ci, copy);
	case X86_INS_CALL:
		if (has_direct_target(x86, &target)) {
			emit_push_imm64(e, next);
			emit_jump_abs(e, target);
			return true;
		}
		return emit_indirect_call(e, ci, copy, next);
	case X86_INS_RET:
	case X86_INS_RETF:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
	case X86_INS_LJMP:
	case X86_INS_LCALL:
	case X86_INS_INT3:
	case X86_INS_XBEGIN:
		return false;
	default:
		break;
	}
	if (is_cond_branch(x86)) {
		if (!has_direct_target(x86, &target))
			return false;
		return emit_cond_branch(e, ci, target, next);
	}
	if (!emit_moved(e, ci, copy))
		return false;
	emit_jump_abs(e, next);
	return true;
}

size_t relocate(const uint8_t *code, size_t avail, uint64_t addr, uint64_t copy,
		struct reloc_copy *out)
{
	struct emitter e = {.code = out->code, .cap = RELOC_MAX};
	csh handle;
	cs_insn *ci;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return 0;
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	if (cs_disasm(handle, code, avail, addr, 1, &ci) == 1) {
		if (rewrite(&e, ci, copy) && !e.overflow)
			len = ci->size;
		cs_free(ci, 1);
	}
	cs_close(&handle);
	out->len = (uint8_t)e.len;
	return len;
}

/* Whether the instruction goes on to the next one whatever it does, and
 * so can be moved as it is (its RIP-relative operand adjusted). */
static bool falls_through(const cs_insn *ci)
{
	const cs_detail *d = ci->detail;

	for (uint8_t i = 0; i < d->groups_count; i++) {
		switch (d->groups[i]) {
		case CS_GRP_JUMP:
		case CS_GRP_CALL:
		case CS_GRP_RET:
		case CS_GRP_INT:
		case CS_GRP_IRET:
		case CS_GRP_BRANCH_RELATIVE:
			return false;
		default:
			break;
		}
	}
	return !is_cond_branch(&d->x86) && ci->id != X86_INS_INT3 &&
	       ci->id != X86_INS_XBEGIN && ci->id != X86_INS_SYSCALL;
}

size_t relocate_run(const uint8_t *code, size_t avail, uint64_t addr,
		    size_t want, uint64_t copy, struct reloc_run *out)
{
	struct emitter e = {.code = out->code, .cap = RELOC_RUN_MAX};
	size_t covered = 0;
	csh handle;
	cs_insn *ci;

	memset(out, 0, sizeof(*out));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return 0;
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	while (covered < want && !e.overflow) {
		size_t before = e.len;
		bool last, ok;

		if (cs_disasm(handle, code + covered, avail - covered,
			      addr + covered, 1, &ci) != 1)
			break;
		last = covered + ci->size >= want;
		if (last)
			ok = rewrite(&e, ci, copy + e.len);
		else
			ok = falls_through(ci) &&
			     emit_moved(&e, ci, copy + e.len);
		/* a nop at the end moves nothing: the copy goes on by itself */
		if (ok && last && e.len == before)
			emit_jump_abs(&e, ci->address + ci->size);
		covered += ci->size;
		cs_free(ci, 1);
		if (!ok) {
			covered = 0;
			break;
		}
	}
	cs_close(&handle);
	if (e.overflow || covered < want)
		return 0;
	out->len = e.len;
	return covered;
}

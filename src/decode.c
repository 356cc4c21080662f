/* Capstone on x86-64, looking only at control flow. */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdlib.h>

#include "decode.h"
#include "util.h"

static bool in_group(const cs_insn *ci, uint8_t group)
{
	for (uint8_t i = 0; i < ci->detail->groups_count; i++) {
		if (ci->detail->groups[i] == group)
			return true;
	}
	return false;
}

static bool direct_target(const cs_insn *ci, uint64_t *target)
{
	const cs_x86 *x86 = &ci->detail->x86;

	if (x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x86->operands[0].imm;
	return true;
}

static bool frame_operand(const cs_x86_op *op)
{
	return (op->mem.base == X86_REG_RSP || op->mem.base == X86_REG_RBP) &&
	       op->mem.segment == X86_REG_INVALID;
}

/* The instructions a function's epilogue is made of, when they touch no
 * memory but the stack frame and write none. */
static bool is_quiet(const cs_insn *ci)
{
	const cs_x86 *x86 = &ci->detail->x86;

	if (ci->id == X86_INS_LEA)
		return true; /* computes an address, touches nothing */
	switch (ci->id) {
	case X86_INS_MOV:
	case X86_INS_MOVZX:
	case X86_INS_MOVSX:
	case X86_INS_MOVSXD:
	case X86_INS_LEA:
	case X86_INS_ADD:
	case X86_INS_SUB:
	case X86_INS_XOR:
	case X86_INS_AND:
	case X86_INS_OR:
	case X86_INS_CMP:
	case X86_INS_TEST:
	case X86_INS_POP:
	case X86_INS_LEAVE:
	case X86_INS_NOP:
	case X86_INS_ENDBR64:
	case X86_INS_MOVD:
	case X86_INS_MOVQ:
	case X86_INS_MOVSS:
	case X86_INS_MOVSD:
	case X86_INS_MOVAPS:
	case X86_INS_MOVAPD:
		break;
	default:
		return false;
	}
	for (uint8_t i = 0; i < x86->op_count; i++) {
		const cs_x86_op *op = &x86->operands[i];

		if (op->type != X86_OP_MEM)
			continue;
		if ((op->access & CS_AC_WRITE) || !frame_operand(op))
			return false;
	}
	return true;
}

static void classify(const cs_insn *ci, struct insn *in)
{
	uint64_t target = 0;

	in->flow = FLOW_NEXT;
	if (ci->id == X86_INS_RET) {
		in->flow = FLOW_RET;
		if (direct_target(ci, &target))
			in->target = target;
	} else if (in_group(ci, CS_GRP_RET) || in_group(ci, CS_GRP_IRET)) {
		/* far returns and iret: not a C function's own return */
		in->flow = FLOW_INDIRECT_JUMP;
	} else if (in_group(ci, CS_GRP_CALL)) {
		in->flow = FLOW_CALL;
		if (direct_target(ci, &target))
			in->target = target;
	} else if (in_group(ci, CS_GRP_JUMP)) {
		bool direct = direct_target(ci, &target);
		bool uncond = ci->id == X86_INS_JMP || ci->id == X86_INS_LJMP;
		if (!direct)
			in->flow = FLOW_INDIRECT_JUMP;
		else
			in->flow = uncond ? FLOW_JUMP : FLOW_COND;
		in->target = target;
	} else if (ci->id == X86_INS_HLT || ci->id == X86_INS_UD2) {
		in->flow = FLOW_STOP;
	}
}

size_t decode_code(const uint8_t *code, size_t len, uint64_t addr,
		   struct insn **insns)
{
	csh handle;
	cs_insn *ci;

	*insns = NULL;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
		return 0;
	cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
	size_t n = cs_disasm(handle, code, len, addr, 0, &ci);
	if (n > 0) {
		*insns = xcalloc(n, sizeof(**insns));
		for (size_t i = 0; i < n; i++) {
			(*insns)[i].addr = ci[i].address;
			(*insns)[i].len = (uint8_t)ci[i].size;
			classify(&ci[i], &(*insns)[i]);
			(*insns)[i].quiet = (*insns)[i].flow == FLOW_NEXT &&
					    is_quiet(&ci[i]);
		}
		cs_free(ci, n);
	}
	cs_close(&handle);
	return n;
}

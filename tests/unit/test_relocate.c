/* The relocator, byte for byte: each form of instruction it rewrites. */
#include <stdint.h>

#include "../../src/relocate.h"
#include "unit.h"

#define COPY 0x5000u

static const uint8_t *expect_jump_abs(const uint8_t *p, uint64_t target)
{
	static const uint8_t jmp_rip[] = {0xff, 0x25, 0, 0, 0, 0};
	uint64_t got;

	CHECK(memcmp(p, jmp_rip, sizeof(jmp_rip)) == 0);
	memcpy(&got, p + 6, 8);
	CHECK_INT(got, target);
	return p + 14;
}

static const uint8_t *expect_push(const uint8_t *p, uint64_t value)
{
	static const uint8_t lea[] = {0x48, 0x8d, 0x64, 0x24, 0xf8};
	uint32_t lo, hi;

	CHECK(memcmp(p, lea, sizeof(lea)) == 0);
	CHECK(p[5] == 0xc7 && p[6] == 0x04 && p[7] == 0x24);
	memcpy(&lo, p + 8, 4);
	CHECK(p[12] == 0xc7 && p[13] == 0x44 && p[14] == 0x24 && p[15] == 4);
	memcpy(&hi, p + 16, 4);
	CHECK_INT(((uint64_t)hi << 32) | lo, value);
	return p + 20;
}

static void plain_instruction(void)
{
	const uint8_t push_rbp[] = {0x55, 0x90};
	struct reloc_copy c;

	CHECK_INT(relocate(push_rbp, sizeof(push_rbp), 0x1000, COPY, &c), 1);
	CHECK_INT(c.code[0], 0x55);
	expect_jump_abs(c.code + 1, 0x1001);
	CHECK_INT(c.len, 15);
}

static void direct_call(void)
{
	/* call 0x2000, at 0x1000 */
	const uint8_t call[] = {0xe8, 0xfb, 0x0f, 0x00, 0x00};
	struct reloc_copy c;

	CHECK_INT(relocate(call, sizeof(call), 0x1000, COPY, &c), 5);
	expect_jump_abs(expect_push(c.code, 0x1005), 0x2000);
	CHECK_INT(c.len, 34);
}

static void jumps(void)
{
	const uint8_t short_jmp[] = {0xeb, 0x10};
	const uint8_t jz[] = {0x74, 0x05};
	const uint8_t jz_near[] = {0x0f, 0x84, 0x00, 0x01, 0x00, 0x00};
	const uint8_t loop[] = {0xe2, 0xfe};
	struct reloc_copy c;
	const uint8_t *p;

	CHECK_INT(relocate(short_jmp, 2, 0x1000, COPY, &c), 2);
	expect_jump_abs(c.code, 0x1012);

	CHECK_INT(relocate(jz, 2, 0x1000, COPY, &c), 2);
	CHECK(c.code[0] == 0x74 && c.code[1] == 2);
	CHECK(c.code[2] == 0xeb && c.code[3] == 14);
	p = expect_jump_abs(c.code + 4, 0x1007);
	expect_jump_abs(p, 0x1002);

	CHECK_INT(relocate(jz_near, 6, 0x1000, COPY, &c), 6);
	CHECK(c.code[0] == 0x74 && c.code[1] == 2);
	p = expect_jump_abs(c.code + 4, 0x1106);
	expect_jump_abs(p, 0x1006);

	CHECK_INT(relocate(loop, 2, 0x1000, COPY, &c), 2);
	CHECK(c.code[0] == 0xe2 && c.code[1] == 2);
	expect_jump_abs(c.code + 4, 0x1000);
}

static void rip_relative(void)
{
	/* mov 0x10(%rip),%rax at 0x1000: reads 0x1017 */
	const uint8_t mov[] = {0x48, 0x8b, 0x05, 0x10, 0x00, 0x00, 0x00};
	struct reloc_copy c;
	int32_t disp;

	CHECK_INT(relocate(mov, 7, 0x1000, COPY, &c), 7);
	CHECK(c.code[0] == 0x48 && c.code[1] == 0x8b && c.code[2] == 0x05);
	memcpy(&disp, c.code + 3, 4);
	CHECK_INT(COPY + 7 + (int64_t)disp, 0x1017);
	expect_jump_abs(c.code + 7, 0x1007);

	/* the data is out of reach of a 32-bit displacement */
	CHECK_INT(relocate(mov, 7, 0x1000, 0x300000000ull, &c), 0);
}

static void indirect_calls(void)
{
	const uint8_t call_rax[] = {0xff, 0xd0};
	const uint8_t call_rip[] = {0xff, 0x15, 0x10, 0x00, 0x00, 0x00};
	const uint8_t call_rsp[] = {0xff, 0x54, 0x24, 0x08};
	struct reloc_copy c;
	const uint8_t *p;
	int32_t disp;

	CHECK_INT(relocate(call_rax, 2, 0x1000, COPY, &c), 2);
	p = expect_push(c.code, 0x1002);
	CHECK(p[0] == 0xff && p[1] == 0xe0); /* jmp *%rax */

	/* call *0x10(%rip) at 0x1000 reads the pointer at 0x1016 */
	CHECK_INT(relocate(call_rip, 6, 0x1000, COPY, &c), 6);
	p = expect_push(c.code, 0x1006);
	CHECK(p[0] == 0xff && p[1] == 0x25);
	memcpy(&disp, p + 2, 4);
	CHECK_INT(COPY + 20 + 6 + (int64_t)disp, 0x1016);

	/* pushing first would move what it points at */
	CHECK_INT(relocate(call_rsp, 4, 0x1000, COPY, &c), 0);
}

static void special_cases(void)
{
	const uint8_t endbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
	const uint8_t ret[] = {0xc3};
	const uint8_t garbage[] = {0x0f, 0xff};
	struct reloc_copy c;

	CHECK_INT(relocate(endbr64, 4, 0x1000, COPY, &c), 4);
	CHECK_INT(c.len, 0);
	CHECK_INT(relocate(ret, 1, 0x1000, COPY, &c), 0);
	CHECK_INT(relocate(garbage, 1, 0x1000, COPY, &c), 0);
}

/* Runs of instructions, for the jump a stub is reached by. */
static void runs(void)
{
	/* push %rbp; mov %rsp,%rbp; sub $0x10,%rsp: three are moved */
	const uint8_t prologue[] = {0x55, 0x48, 0x89, 0xe5,
				    0x48, 0x83, 0xec, 0x10, 0xc3};
	/* lea 0x100(%rip),%rax (7 bytes): the displacement follows it */
	const uint8_t lea[] = {0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00, 0xc3};
	/* mov $1,%eax; xor %ecx,%ecx; jz +0x10: the jump may end the run */
	const uint8_t cond[] = {0xb8, 1, 0, 0, 0, 0x74, 0x10};
	/* a call before the end: the run cannot be moved */
	const uint8_t call[] = {0xe8, 0, 0, 0, 0, 0x90, 0x90};
	struct reloc_run r;
	int32_t disp;

	CHECK_INT(relocate_run(prologue, sizeof(prologue), 0x1000, 5, COPY, &r),
		  8);
	CHECK(memcmp(r.code, prologue, 8) == 0);
	expect_jump_abs(r.code + 8, 0x1008);
	CHECK_INT(r.len, 22);

	CHECK_INT(relocate_run(lea, sizeof(lea), 0x1000, 5, COPY, &r), 7);
	memcpy(&disp, r.code + 3, 4);
	CHECK_INT(COPY + 7 + disp, 0x1000 + 7 + 0x100);
	expect_jump_abs(r.code + 7, 0x1007);

	CHECK_INT(relocate_run(cond, sizeof(cond), 0x1000, 6, COPY, &r), 7);
	CHECK(memcmp(r.code, cond, 5) == 0);
	CHECK(r.code[5] == 0x74 && r.code[6] == 2);
	CHECK(r.code[7] == 0xeb && r.code[8] == 14);
	expect_jump_abs(expect_jump_abs(r.code + 9, 0x1017), 0x1007);

	CHECK_INT(relocate_run(call, sizeof(call), 0x1000, 6, COPY, &r), 0);
	/* too few bytes to cover the jump */
	CHECK_INT(relocate_run(cond, 3, 0x1000, 5, COPY, &r), 0);
}

int main(void)
{
	RUN(plain_instruction);
	RUN(direct_call);
	RUN(jumps);
	RUN(rip_relative);
	RUN(indirect_calls);
	RUN(special_cases);
	RUN(runs);
	UNIT_EXIT();
}

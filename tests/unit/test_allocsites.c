/* Where an allocator function takes its jumps: machine code written out
 * byte by byte, as glibc's malloc, realloc and posix_memalign have it. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../src/allocsites.h"
#include "unit.h"

#define AT 0x1000

/* A prologue, then two rets, each after pops and an add to rsp; the
 * second epilogue is where a branch lands (at its start). */
static const uint8_t malloc_like[] = {
	0xf3, 0x0f, 0x1e, 0xfa,	      /* 0x00 endbr64 */
	0x41, 0x54, 0x55, 0x53,	      /* 0x04 push %r12, %rbp, %rbx */
	0x48, 0x83, 0xec, 0x10,	      /* 0x08 sub $16,%rsp */
	0x48, 0x85, 0xff,	      /* 0x0c test %rdi,%rdi */
	0x74, 0x0b,		      /* 0x0f je 0x1c */
	0x48, 0x83, 0xc4, 0x10,	      /* 0x11 add $16,%rsp */
	0x5b, 0x5d, 0x41, 0x5c, 0xc3, /* 0x15 pop %rbx ... ret */
	0x31, 0xc0,		      /* 0x1a xor %eax,%eax */
	0x48, 0x83, 0xc4, 0x10,	      /* 0x1c add $16,%rsp */
	0x5b, 0x5d, 0x41, 0x5c, 0xc3, /* 0x20 pop %rbx ... ret */
};

static void rets_found(void)
{
	struct alloc_sites as;

	CHECK_INT(alloc_sites_find(malloc_like, sizeof(malloc_like), AT, NULL,
				   0, false, &as),
		  0);
	CHECK(as.why == NULL);
	CHECK_INT(as.nrets, 2);
	/* the shortest epilogue a jump fits in: 3 pops and the ret */
	CHECK_INT(as.rets[0].site, AT + 0x15);
	CHECK_INT(as.rets[0].run, 5);
	CHECK_INT(as.rets[0].sp_adjust, 24);
	CHECK_INT(as.rets[1].site, AT + 0x20);
	CHECK_INT(as.rets[1].run, 5);
	/* the branch lands before the run, not in it */
	CHECK(alloc_sites_clear(&as, AT + 0x20, AT + 0x24));
	CHECK(!alloc_sites_clear(&as, AT + 0x1a, AT + 0x24));
	alloc_sites_free(&as);
}

/* A branch into an epilogue: a return could pass its site. */
static void branch_into_epilogue(void)
{
	uint8_t code[sizeof(malloc_like)];
	struct alloc_sites as;

	memcpy(code, malloc_like, sizeof(code));
	code[0x10] = 0x21 - 0x11; /* je 0x21: pop %rbp */
	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, NULL, 0, false, &as),
		  -1);
	CHECK(as.why && strstr(as.why, "epilogue"));
	alloc_sites_free(&as);
	/* free needs no return: its entry alone */
	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, NULL, 0, true, &as),
		  0);
	CHECK_INT(as.nrets, 0);
	alloc_sites_free(&as);
}

/* An epilogue that writes eax between its pops (posix_memalign's):
 * the stub records rax before it, so it is refused. */
static void epilogue_writes_rax(void)
{
	static const uint8_t code[] = {
		0x53, 0x55, 0x41, 0x54,	   /* push %rbx, %rbp, %r12 */
		0x5b,			   /* pop %rbx */
		0xb8, 0x16, 0,	  0,	0, /* mov $22,%eax */
		0x5d, 0x41, 0x5c, 0xc3,	   /* pop %rbp, %r12; ret */
	};
	struct alloc_sites as;

	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, NULL, 0, false, &as),
		  -1);
	alloc_sites_free(&as);
}

/* A jump out of the function: a tail call into another allocator
 * function (realloc's jmp malloc) is one; anything else is not. */
static void jumps_out(void)
{
	static const uint8_t code[] = {
		0x48, 0x85, 0xff,		 /* test %rdi,%rdi */
		0x0f, 0x84, 0xf7, 0x0f, 0,    0, /* je AT + 0x1000 */
		0x53, 0x55, 0x41, 0x54,		 /* push %rbx, %rbp, %r12 */
		0x5b, 0x5d, 0x41, 0x5c, 0xc3,	 /* pop ...; ret */
	};
	const uint64_t entries[] = {AT + 0x500, AT + 0x1000};
	struct alloc_sites as;

	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, entries, 2, false,
				   &as),
		  0);
	CHECK_INT(as.nrets, 1);
	alloc_sites_free(&as);
	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, entries, 1, false,
				   &as),
		  -1);
	CHECK(as.why && strstr(as.why, "jump out"));
	alloc_sites_free(&as);
	/* free's tail calls do not matter */
	CHECK_INT(
		alloc_sites_find(code, sizeof(code), AT, entries, 1, true, &as),
		0);
	alloc_sites_free(&as);
}

/* A jump through a register lands anywhere. */
static void jumps_indirectly(void)
{
	static const uint8_t code[] = {
		0x53, 0x55, 0x41, 0x54,	      /* push */
		0xff, 0xe0,		      /* jmp *%rax */
		0x5b, 0x5d, 0x41, 0x5c, 0xc3, /* pop ...; ret */
	};
	struct alloc_sites as;

	CHECK_INT(alloc_sites_find(code, sizeof(code), AT, NULL, 0, true, &as),
		  -1);
	CHECK(as.why && strstr(as.why, "indirect"));
	alloc_sites_free(&as);
}

int main(void)
{
	RUN(rets_found);
	RUN(branch_into_epilogue);
	RUN(epilogue_writes_rax);
	RUN(jumps_out);
	RUN(jumps_indirectly);
	return unit_result();
}

/* The accounting's side of --types and memprof graph, fed synthetic
 * events: the blocks a call made, the rows by type, the blocks freed
 * during a call (by line) and those freed since. */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/account.h"
#include "unit.h"

#define PID 100
#define TID 101

static void made_blocks_are_the_calls_own(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/a.c", 10, 20);
	struct heap_block *b;
	size_t n;

	account_track_made(acct);
	/* a block made before the call is not the call's */
	account_enter(acct, PID, TID, f, 0);
	account_line(acct, TID, 11, 0);
	account_heap_alloc(acct, TID, 0x5000, 16);
	account_return(acct, TID, 0);
	account_enter(acct, PID, TID, f, 0);
	account_line(acct, TID, 12, 0);
	account_heap_alloc(acct, TID, 0x3000, 40);
	account_line(acct, TID, 13, 0);
	account_heap_alloc(acct, TID, 0x1000, 8);
	account_heap_alloc(acct, TID, 0x2000, 24);
	account_heap_free(acct, TID, 0x2000);
	/* freed and made again at one address: once, the new block */
	account_heap_alloc(acct, TID, 0x2000, 32);
	n = account_heap_made(acct, TID, f, &b);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(b[0].ptr, 0x1000);
	CHECK_EQ_INT(b[0].line, 13);
	CHECK_EQ_INT(b[1].ptr, 0x2000);
	CHECK_EQ_INT(b[1].size, 32);
	CHECK_EQ_INT(b[2].ptr, 0x3000);
	CHECK_EQ_INT(b[2].line, 12);
	free(b);
	CHECK_EQ_INT(account_heap_size(acct, 0x5000), 16);
	CHECK_EQ_INT(account_heap_size(acct, 0x5008), 0);
	/* the free during the call: a row by the line that made it */
	const struct func_stats *fs = account_func(acct, (size_t)f);
	CHECK_EQ_INT(fs->nfreed, 1);
	CHECK(fs->freed[0].type == NULL);
	CHECK_EQ_INT(fs->freed[0].line, 13);
	CHECK_EQ_INT(fs->freed[0].bytes, 24);
	CHECK_EQ_INT(fs->freed[0].blocks, 1);
	account_return(acct, TID, 0);
	/* after the return, a free is no longer one of the call's */
	account_heap_free(acct, TID, 0x3000);
	CHECK_EQ_INT(account_func(acct, (size_t)f)->nfreed, 1);
	account_free(acct);
}

static void rows_add_up_by_type_and_line(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/a.c", 10, 20);
	const struct func_stats *fs;

	account_types_add(acct, f, "struct lesson", 0, 1200, 48000);
	account_types_add(acct, f, "char[]", 0, 1, 5);
	account_types_add(acct, f, "char[]", 0, 1, 7);
	account_types_add(acct, f, NULL, 14, 1, 48);
	account_types_add(acct, f, NULL, 15, 1, 8);
	account_types_add(acct, f, NULL, 14, 1, 16);
	fs = account_func(acct, (size_t)f);
	CHECK_EQ_INT(fs->ntypes, 4);
	CHECK_EQ_STR(fs->types[0].type, "struct lesson");
	CHECK_EQ_INT(fs->types[0].objects, 1200);
	CHECK_EQ_INT(fs->types[0].blocks, 1);
	CHECK_EQ_STR(fs->types[1].type, "char[]");
	CHECK_EQ_INT(fs->types[1].objects, 2);
	CHECK_EQ_INT(fs->types[1].bytes, 12);
	CHECK_EQ_INT(fs->types[1].blocks, 2);
	CHECK(fs->types[2].type == NULL);
	CHECK_EQ_INT(fs->types[2].line, 14);
	CHECK_EQ_INT(fs->types[2].bytes, 64);
	CHECK_EQ_INT(fs->types[3].line, 15);
	account_free(acct);
}

static void freed_blocks_latest_at_an_address(void)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "f", "/src/a.c", 10, 20);
	struct heap_block *b;
	size_t n;

	account_enter(acct, PID, TID, f, 0);
	account_line(acct, TID, 11, 0);
	account_heap_alloc(acct, TID, 0x2000, 10);
	account_heap_free(acct, TID, 0x2000); /* not kept yet */
	account_keep_freed(acct);
	account_heap_alloc(acct, TID, 0x2000, 64);
	account_line(acct, TID, 12, 0);
	account_heap_alloc(acct, TID, 0x1000, 16);
	account_heap_free(acct, TID, 0x2000);
	account_heap_free(acct, TID, 0x1000);
	account_line(acct, TID, 13, 0);
	account_heap_alloc(acct, TID, 0x2000, 32);
	account_heap_free(acct, TID, 0x2000);
	account_heap_free(acct, TID, 0x9000); /* never seen: nothing */
	n = account_heap_freed(acct, &b);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(b[0].ptr, 0x1000);
	CHECK_EQ_INT(b[0].size, 16);
	CHECK_EQ_INT(b[0].line, 12);
	CHECK_EQ_INT(b[1].ptr, 0x2000);
	CHECK_EQ_INT(b[1].size, 32);
	CHECK_EQ_INT(b[1].line, 13);
	free(b);
	account_return(acct, TID, 0);
	account_free(acct);
}

int main(void)
{
	RUN(made_blocks_are_the_calls_own);
	RUN(rows_add_up_by_type_and_line);
	RUN(freed_blocks_latest_at_an_address);
	UNIT_EXIT();
}

/* Names as users write them against names as DWARF and the demangler
 * give them. */
#include <stdlib.h>

#include "../../src/names.h"
#include "unit.h"

static void c_names(void)
{
	CHECK(names_match("get_lessons", "get_lessons", "get_lessons", NULL));
	CHECK(!names_match("get_lesson", "get_lessons", "get_lessons", NULL));
	CHECK(!names_match("get_lessons", "get_lessons2", NULL, NULL));
}

static void qualified_names(void)
{
	const char *q = "shop::Cart::add";

	CHECK(names_match("add", "add", q, "shop::Cart::add(int)"));
	CHECK(names_match("shop::Cart::add", "add", q, "shop::Cart::add(int)"));
	CHECK(!names_match("Cart::add", "add", q, "shop::Cart::add(int)"));
	CHECK(!names_match("shop::Basket::add", "add", q, NULL));
}

static void overloads_by_signature(void)
{
	const char *q = "shop::Cart::add";

	CHECK(names_match("shop::Cart::add(int)", "add", q,
			  "shop::Cart::add(int)"));
	CHECK(!names_match("shop::Cart::add(int)", "add", q,
			   "shop::Cart::add(char const*)"));
	/* spaces as people type them */
	CHECK(names_match("shop::Cart::add(char const *)", "add", q,
			  "shop::Cart::add(char const*)"));
	/* no signature known: no match by signature */
	CHECK(!names_match("add(int)", "add", q, NULL));
}

static void templates(void)
{
	const char *dem = "long* shop::make_block<long>(unsigned long)";

	/* all instances by the template's name */
	CHECK(names_match("make_block", "make_block<long int>",
			  "shop::make_block<long int>", dem));
	CHECK(names_match("shop::make_block", "make_block<long int>",
			  "shop::make_block<long int>", dem));
	/* one, as DWARF or as the demangler spells its arguments */
	CHECK(names_match("shop::make_block<long int>", "make_block<long int>",
			  "shop::make_block<long int>", dem));
	CHECK(names_match("shop::make_block<long>", "make_block<long int>",
			  "shop::make_block<long int>", dem));
	CHECK(!names_match("shop::make_block<char>", "make_block<long int>",
			   "shop::make_block<long int>", dem));
	CHECK(!names_match("make_blocks", "make_block<long int>", NULL, dem));
}

static void demangling(void)
{
	char *d = names_demangle("_ZN4shop4Cart3addEi");

#ifdef HAVE___CXA_DEMANGLE
	CHECK_EQ_STR(d, "shop::Cart::add(int)");
#else
	CHECK(d == NULL);
#endif
	free(d);
	CHECK(names_demangle("get_lessons") == NULL);
	CHECK(names_demangle(NULL) == NULL);
	CHECK(names_demangle("_Zbroken") == NULL);
}

int main(void)
{
	RUN(c_names);
	RUN(qualified_names);
	RUN(overloads_by_signature);
	RUN(templates);
	RUN(demangling);
	UNIT_EXIT();
}

/* source_body_end: where a function's body ends in its source. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/source.h"
#include "unit.h"

/* The end of the function declared at line DECL of TEXT. */
static int end_in(const char *text, int decl)
{
	char path[] = "/tmp/memprof-test-source.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct source *src;
	int end;

	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	src = source_load(path);
	unlink(path);
	end = source_body_end(src, decl);
	source_free(src);
	return end;
}

static void body_ends_at_matching_brace(void)
{
	CHECK_EQ_INT(end_in("int f(int a)\n"
			    "{\n"
			    "\tif (a) {\n"
			    "\t\treturn 1;\n"
			    "\t}\n"
			    "\treturn 0;\n"
			    "}\n"
			    "int g(void) { return 2; }\n",
			    1),
		     7);
	CHECK_EQ_INT(end_in("int f(void) { return 2; }\n", 1), 1);
}

static void braces_in_comments_and_literals_do_not_count(void)
{
	CHECK_EQ_INT(end_in("char f(void) /* { */\n"
			    "{\n"
			    "\tconst char *s = \"}\\\"}\"; // }\n"
			    "\treturn '}' + s[0];\n"
			    "}\n"
			    "/* } */\n",
			    1),
		     5);
	CHECK_EQ_INT(end_in("int f(void)\n"
			    "{\n"
			    "#if X\n"
			    "\tif (a) {\n"
			    "#else\n"
			    "\tif (b) {\n"
			    "#endif\n"
			    "\t}\n"
			    "}\n",
			    1),
		     9);
}

static void member_initializers_are_passed_over(void)
{
	CHECK_EQ_INT(end_in("A::A() : a{1}, b{2}\n"
			    "{\n"
			    "\tc = 3;\n"
			    "}\n",
			    1),
		     4);
}

static void no_body_is_zero(void)
{
	/* a prototype, a macro that makes the function, a line too far */
	CHECK_EQ_INT(end_in("int f(void);\nint g(void) { return 1; }\n", 1), 0);
	CHECK_EQ_INT(end_in("MAKE_GETTER(x)\n}\n", 1), 0);
	CHECK_EQ_INT(end_in("int f(void)\n{\n", 1), 0);
	CHECK_EQ_INT(end_in("int f(void) { return 1; }\n", 5), 0);
	CHECK_EQ_INT(source_body_end(NULL, 1), 0);
}

int main(void)
{
	RUN(body_ends_at_matching_brace);
	RUN(braces_in_comments_and_literals_do_not_count);
	RUN(member_initializers_are_passed_over);
	RUN(no_body_is_zero);
	UNIT_EXIT();
}

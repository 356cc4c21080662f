/* "Did you mean": the closest names, best first. */
#include <stdlib.h>
#include <string.h>

#include "../../src/suggest.h"
#include "unit.h"

/* The list for WANTED among the NULL-terminated NAMES, at most MAX. */
static char *suggest(const char *wanted, const char *const *names, size_t max)
{
	struct suggest *s = suggest_new(wanted);
	char *list;

	for (; *names; names++)
		suggest_offer(s, *names);
	list = suggest_list(s, max);
	suggest_free(s);
	return list;
}

static int starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void closest_name_comes_first(void)
{
	static const char *const names[] = {"main", "print_lesson",
					    "get_lessons", NULL};
	char *list = suggest("get_lesson", names, 3);

	CHECK(starts_with(list, "get_lessons"));
	CHECK(list == NULL || strstr(list, "main") == NULL);
	free(list);
}

static void misspelling_is_found(void)
{
	static const char *const names[] = {"compute", "main", "mian_loop",
					    NULL};
	char *list = suggest("mian", names, 1);

	CHECK(starts_with(list, "main") || starts_with(list, "mian_loop"));
	free(list);
}

static void containing_name_is_close(void)
{
	static const char *const names[] = {"zzz", "parse_config_file", NULL};
	char *list = suggest("config", names, 3);

	CHECK_EQ_STR(list, "parse_config_file");
	free(list);
}

static void nothing_close_gives_null(void)
{
	static const char *const names[] = {"main", "alloc_buffers", NULL};
	char *list = suggest("xyzzy_quux", names, 3);

	CHECK(list == NULL);
	free(list);
}

static void no_candidates_gives_null(void)
{
	static const char *const names[] = {NULL};

	CHECK(suggest("main", names, 3) == NULL);
}

static void max_limits_the_list(void)
{
	static const char *const names[] = {"grow1", "grow2", "grow3", NULL};
	char *list = suggest("grow", names, 2);

	CHECK(list != NULL);
	CHECK(list == NULL || strchr(list, ',') != NULL);
	CHECK(list == NULL || strchr(strchr(list, ',') + 1, ',') == NULL);
	free(list);
}

static void list_is_comma_separated(void)
{
	static const char *const names[] = {"get_lessons", "get_lesson2", NULL};
	char *list = suggest("get_lesson", names, 3);

	CHECK(list != NULL && strstr(list, ", ") != NULL);
	CHECK(list == NULL || strstr(list, "get_lessons") != NULL);
	CHECK(list == NULL || strstr(list, "get_lesson2") != NULL);
	free(list);
}

static void duplicates_are_ignored(void)
{
	static const char *const names[] = {"main", "main", NULL};
	char *list = suggest("mainn", names, 3);

	CHECK_EQ_STR(list, "main");
	free(list);
}

int main(void)
{
	RUN(closest_name_comes_first);
	RUN(misspelling_is_found);
	RUN(containing_name_is_close);
	RUN(nothing_close_gives_null);
	RUN(no_candidates_gives_null);
	RUN(max_limits_the_list);
	RUN(list_is_comma_separated);
	RUN(duplicates_are_ignored);
	UNIT_EXIT();
}

/* "Did you mean": close names first, far ones not at all. */
#include <stdlib.h>

#include "../../src/suggest.h"
#include "unit.h"

static char *suggest(const char *wanted, const char *const *names, size_t max)
{
	struct suggest *s = suggest_new(wanted);
	char *list;

	for (size_t i = 0; names[i]; i++)
		suggest_offer(s, names[i]);
	list = suggest_list(s, max);
	suggest_free(s);
	return list;
}

static void typo_first(void)
{
	const char *const names[] = {"main", "print_lesson", "get_lessons",
				     "get_lessons", NULL};
	char *list = suggest("get_lesson", names, 5);

	CHECK_STR(list, "get_lessons");
	free(list);
}

static void containing_names_are_close(void)
{
	const char *const names[] = {"parse_config_file", "parse", "zzz", NULL};
	char *list = suggest("config", names, 5);

	CHECK_STR(list, "parse_config_file");
	free(list);
}

static void ordered_and_capped(void)
{
	const char *const names[] = {"worker3", "worker", "workers", "work",
				     "worker2", "wrker",  "walker",  NULL};
	char *list = suggest("worker", names, 3);

	/* one edit, or contained in the wanted name; then by name */
	CHECK_STR(list, "work, worker2, worker3");
	free(list);
}

static void nothing_close(void)
{
	const char *const names[] = {"main", "alloc_then_free", NULL};
	char *list = suggest("xyzzy_plugh", names, 5);

	CHECK(list == NULL);
	free(list);
}

static void case_does_not_matter(void)
{
	const char *const names[] = {"GetLessons", NULL};
	char *list = suggest("getlessons", names, 5);

	CHECK_STR(list, "GetLessons");
	free(list);
}

int main(void)
{
	RUN(typo_first);
	RUN(containing_names_are_close);
	RUN(ordered_and_capped);
	RUN(nothing_close);
	RUN(case_does_not_matter);
	UNIT_EXIT();
}

/* "Did you mean": edit distance, with names that contain the wanted one
 * (or are contained in it) counted as close. */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "suggest.h"
#include "util.h"

struct candidate {
	char *name;
	size_t score; /* lower is closer */
};

struct suggest {
	char *wanted;
	struct candidate *cands;
	size_t ncands, cap;
};

struct suggest *suggest_new(const char *wanted)
{
	struct suggest *s = xcalloc(1, sizeof(*s));

	s->wanted = xstrdup(wanted);
	return s;
}

void suggest_free(struct suggest *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncands; i++)
		free(s->cands[i].name);
	free(s->cands);
	free(s->wanted);
	free(s);
}

/* Levenshtein distance, ignoring case, in one row of memory. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xmalloc((lb + 1) * sizeof(*row));
	size_t result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) !=
				      tolower((unsigned char)b[j - 1]);
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

/* How many edits still make a plausible typo of WANTED. */
static size_t max_distance(const char *wanted)
{
	size_t len = strlen(wanted);

	return len < 6 ? 2 : len / 3;
}

static size_t score_of(const char *wanted, const char *name)
{
	size_t d = distance(wanted, name);

	/* +1 past an exact candidate's 0 */
	if (strlen(wanted) >= 3 && strlen(name) >= 3 &&
	    (strcasestr(name, wanted) || strcasestr(wanted, name)))
		d = d < 1 ? d : 1;
	/* a reserved name (a C library's internals) is rarely the one */
	if (name[0] == '_' && wanted[0] != '_')
		d++;
	return d + 1;
}

static void add(struct suggest *s, const char *name, size_t score)
{
	for (size_t i = 0; i < s->ncands; i++)
		if (strcmp(s->cands[i].name, name) == 0)
			return;
	if (s->ncands == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->cands = xrealloc(s->cands, s->cap * sizeof(*s->cands));
	}
	s->cands[s->ncands].name = xstrdup(name);
	s->cands[s->ncands].score = score;
	s->ncands++;
}

void suggest_offer(struct suggest *s, const char *name)
{
	size_t score;

	if (!name || !*name || strcmp(name, s->wanted) == 0)
		return;
	score = score_of(s->wanted, name);
	if (score > max_distance(s->wanted) + 1)
		return;
	add(s, name, score);
}

void suggest_offer_exact(struct suggest *s, const char *name)
{
	add(s, name, 0);
}

static int by_score(const void *pa, const void *pb)
{
	const struct candidate *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score < b->score ? -1 : 1;
	return strcmp(a->name, b->name);
}

char *suggest_list(const struct suggest *s, size_t max)
{
	struct candidate *sorted;
	size_t n = s->ncands < max ? s->ncands : max;
	size_t len = 1;
	char *out;

	if (n == 0)
		return NULL;
	sorted = xmalloc(s->ncands * sizeof(*sorted));
	memcpy(sorted, s->cands, s->ncands * sizeof(*sorted));
	qsort(sorted, s->ncands, sizeof(*sorted), by_score);
	/* an exact candidate (score 0) leaves no room for guesses */
	while (n > 1 && sorted[0].score == 0 && sorted[n - 1].score > 0)
		n--;
	for (size_t i = 0; i < n; i++)
		len += strlen(sorted[i].name) + 2;
	out = xmalloc(len);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ", ");
		strcat(out, sorted[i].name);
	}
	free(sorted);
	return out;
}

bool suggest_is_launcher(const char *program)
{
	static const char *const launchers[] = {
		"sh",	   "bash",   "dash",   "zsh",	 "ksh",	    "mksh",
		"busybox", "env",    "nice",   "nohup",	 "timeout", "xargs",
		"make",	   "stdbuf", "setsid", "time",	 "taskset", "ionice",
		"chrt",	   "sudo",   "strace", "ltrace", "numactl", "unshare",
	};
	const char *base = strrchr(program, '/');

	base = base ? base + 1 : program;
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++) {
		if (strcmp(base, launchers[i]) == 0)
			return true;
	}
	return false;
}

const char *suggest_ptrace_why(void)
{
	static char why[256];
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = -1;

	if (f) {
		if (fscanf(f, "%d", &scope) != 1)
			scope = -1;
		fclose(f);
	}
	if (scope < 0) {
		snprintf(why, sizeof(why),
			 "in a container, seccomp or a missing CAP_SYS_PTRACE "
			 "can forbid it");
		return why;
	}
	snprintf(why, sizeof(why),
		 "kernel.yama.ptrace_scope is %d%s; in a container, seccomp "
		 "or a missing CAP_SYS_PTRACE can forbid it too",
		 scope,
		 scope >= 3   ? " (no tracing at all until reboot)"
		 : scope == 2 ? " (only root may trace)"
		 : scope == 1 ? " (only a parent may trace, or with "
				"CAP_SYS_PTRACE)"
			      : "");
	return why;
}

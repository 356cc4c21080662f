/* "Did you mean": the names closest to a misspelt one. */
#ifndef MEMPROF_SUGGEST_H
#define MEMPROF_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

struct suggest;

struct suggest *suggest_new(const char *wanted);
/* Offers one candidate name (duplicates are ignored). */
void suggest_offer(struct suggest *s, const char *name);
/* Offers a candidate that is certainly what was meant (the same name in
 * another file): when there is one, only such candidates are listed. */
void suggest_offer_exact(struct suggest *s, const char *name);
/* Up to MAX closest candidates, best first, as "a, b, c" in a new string;
 * NULL when none is close enough to be worth saying. */
char *suggest_list(const struct suggest *s, size_t max);
void suggest_free(struct suggest *s);

/* Whether PROGRAM (a path or a name) is one that runs other programs: a
 * shell, env, timeout, xargs... */
bool suggest_is_launcher(const char *program);

/* Why ptrace may be refused here, for the message that says it was: Yama's
 * setting where Yama exists, and what a container can do. */
const char *suggest_ptrace_why(void);

#endif

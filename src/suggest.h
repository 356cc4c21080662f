/* "Did you mean": the names closest to a misspelt one. */
#ifndef MEMPROF_SUGGEST_H
#define MEMPROF_SUGGEST_H

#include <stddef.h>

struct suggest;

struct suggest *suggest_new(const char *wanted);
/* Offers one candidate name (duplicates are ignored). */
void suggest_offer(struct suggest *s, const char *name);
/* Up to MAX closest candidates, best first, as "a, b, c" in a new string;
 * NULL when none is close enough to be worth saying. */
char *suggest_list(const struct suggest *s, size_t max);
void suggest_free(struct suggest *s);

#endif

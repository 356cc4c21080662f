/* memprof graph: objgraph's picture of what one variable points to, as
 * Graphviz dot, or rendered through the Graphviz libraries. Memory is
 * read through a callback: it knows nothing of ptrace. */
#ifndef MEMPROF_GRAPH_H
#define MEMPROF_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "account.h"
#include "ctypes.h"

struct graph_limits {
	int max_depth; /* pointers followed from the root, at most */
	int too_many;  /* edges drawn from one object, at most */
};

/* Applies the rest of EXPR after its first name (->m, .m, [N], and the
 * leading *s) to V. Returns 0, or -1 with a message in *ERR ("lessons[0]:
 * ..."). */
int graph_eval(const struct ctypes *ct, const char *expr, struct ctype_value *v,
	       ctypes_read_fn read, void *arg, char **err);
/* The first name of EXPR (a new string), or NULL when it has none. */
char *graph_expr_name(const char *expr);

/* The picture of what V (named EXPR) points to, or of V itself when it
 * is a structure or an array in memory, as Graphviz dot (a new string).
 * LIVE and FREED are the heap blocks known (sorted by address). NULL
 * with a message in *ERR when V holds no pointer. */
char *graph_dot(const struct ctypes *ct, const char *expr,
		const struct ctype_value *v, const struct heap_block *live,
		size_t nlive, const struct heap_block *freed, size_t nfreed,
		const struct graph_limits *limits, ctypes_read_fn read,
		void *arg, char **err);

/* Whether FILE's name asks for a format this build writes (.dot, .gv,
 * .svg, .png, .pdf); *FORMAT is the Graphviz name of the format. */
bool graph_format_of(const char *file, const char **format);
/* DOT rendered as FORMAT ("dot" writes it as it is) to OUT. Returns 0,
 * or -1 with a message in *ERR. */
int graph_render(const char *dot, const char *format, FILE *out, char **err);

#endif

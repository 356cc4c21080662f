/* Source files, read once, served by line number. */
#ifndef MEMPROF_SOURCE_H
#define MEMPROF_SOURCE_H

#include <stddef.h>

struct source;

/* Reads PATH whole; NULL when it cannot be read (errno says why). */
struct source *source_load(const char *path);
void source_free(struct source *src);
/* Line N (1-based) without its newline, or NULL past the end. */
const char *source_line(const struct source *src, int n);
size_t source_line_count(const struct source *src);

#endif

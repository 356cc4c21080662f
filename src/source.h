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
/* The line of the brace that closes the body of the function declared
 * at line DECL: the block the first '{' after the header opens (comments,
 * literals and directives passed over, and a C++ constructor's braced
 * member initializers). 0 when the text does not read as a function
 * there. */
int source_body_end(const struct source *src, int decl);

#endif

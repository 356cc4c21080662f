/* Source files, read whole and split into lines once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "util.h"

struct source {
	char *text;
	char **lines;
	size_t nlines;
};

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int saved = errno;

		fclose(f);
		free(buf);
		errno = saved;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct source *source_load(const char *path)
{
	struct source *src;
	size_t len, cap = 0;
	char *p, *end;

	char *text = read_whole(path, &len);

	if (!text)
		return NULL;
	src = xcalloc(1, sizeof(*src));
	src->text = text;
	end = text + len;
	for (p = text; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (src->nlines == cap) {
			cap = cap ? 2 * cap : 256;
			src->lines =
				xrealloc(src->lines, cap * sizeof(*src->lines));
		}
		src->lines[src->nlines++] = p;
		if (!nl)
			break;
		*nl = '\0';
		/* Files written on Windows end their lines with \r\n. */
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		p = nl + 1;
	}
	return src;
}

void source_free(struct source *src)
{
	if (!src)
		return;
	free(src->lines);
	free(src->text);
	free(src);
}

const char *source_line(const struct source *src, int n)
{
	if (!src || n < 1 || (size_t)n > src->nlines)
		return NULL;
	return src->lines[n - 1];
}

size_t source_line_count(const struct source *src)
{
	return src ? src->nlines : 0;
}

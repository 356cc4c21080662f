/* Source files, read whole and split into lines once. */
#include <errno.h>
#include <stdbool.h>
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

/* A scan of C or C++ text, line by line, that sees only code: comments,
 * string and character literals and preprocessor lines are passed over. */
struct scan {
	const struct source *src;
	int line;	 /* 1-based */
	const char *at;	 /* in the current line; NULL at the end */
	bool in_comment; /* inside a block comment */
};

/* The directive on TEXT ("if", "else", ...), or NULL. */
static const char *directive(const char *text)
{
	if (!text)
		return NULL;
	text += strspn(text, " \t");
	if (*text != '#')
		return NULL;
	text++;
	return text + strspn(text, " \t");
}

static void scan_line(struct scan *s, int line)
{
	const char *text = source_line(s->src, line);
	const char *d = s->in_comment ? NULL : directive(text);

	/* only the first branch of a conditional is read, so that braces
	 * opened in each branch are counted once */
	if (d && strncmp(d, "el", 2) == 0) {
		int nest = 0;

		while ((text = source_line(s->src, ++line))) {
			d = directive(text);
			if (d && strncmp(d, "if", 2) == 0)
				nest++;
			else if (d && strncmp(d, "endif", 5) == 0 &&
				 nest-- == 0)
				break;
		}
	}
	s->line = line;
	s->at = text;
	/* a directive is no code of the function (a continued one is rare
	 * enough to be read as code) */
	if (text && !s->in_comment && directive(text))
		s->at = text + strlen(text);
}

/* The next character of code, or 0 at the end of the text. */
static char scan_next(struct scan *s)
{
	while (s->at) {
		char c = *s->at;

		if (c == '\0') {
			scan_line(s, s->line + 1);
			continue;
		}
		if (s->in_comment) {
			if (c == '*' && s->at[1] == '/') {
				s->in_comment = false;
				s->at++;
			}
			s->at++;
			continue;
		}
		if (c == '/' && s->at[1] == '*') {
			s->in_comment = true;
			s->at += 2;
			continue;
		}
		if (c == '/' && s->at[1] == '/') {
			s->at += strlen(s->at);
			continue;
		}
		if (c == '"' || c == '\'') {
			/* to the closing quote on this line */
			const char *p = s->at + 1;

			while (*p && *p != c)
				p += p[0] == '\\' && p[1] ? 2 : 1;
			s->at = *p ? p + 1 : p;
			continue;
		}
		s->at++;
		return c;
	}
	return 0;
}

/* The line after the brace that matches the '{' just read; 0 when the
 * text ends first. */
static int scan_block(struct scan *s)
{
	int depth = 1;
	char c;

	while ((c = scan_next(s))) {
		if (c == '{')
			depth++;
		else if (c == '}' && --depth == 0)
			return s->line;
	}
	return 0;
}

int source_body_end(const struct source *src, int decl)
{
	struct scan s = {.src = src};
	int parens = 0;
	char c;

	if (!source_line(src, decl))
		return 0;
	scan_line(&s, decl);
	while ((c = scan_next(&s))) {
		if (c == '(') {
			parens++;
		} else if (c == ')') {
			parens--;
		} else if (c == '{' && parens == 0) {
			int end = scan_block(&s);
			const char *after;

			if (!end)
				return 0;
			/* a braced member initializer (": a{1}, b{2} {")
			 * is followed by a comma or by the body */
			after = s.at ? s.at + strspn(s.at, " \t") : NULL;
			if (after && (*after == ',' || *after == '{'))
				continue;
			if (after && *after == '\0') {
				/* the same on the next lines */
				struct scan peek = s;
				char next = scan_next(&peek);

				if (next == ',' || next == '{')
					continue;
			}
			return end;
		} else if ((c == ';' || c == '}') && parens == 0) {
			/* a declaration, or the end of something else: no
			 * body follows the header here */
			return 0;
		}
	}
	return 0;
}

/* Name matching for --func. */
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "util.h"

#ifdef HAVE___CXA_DEMANGLE
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);
#endif

char *names_demangle(const char *linkage)
{
#ifdef HAVE___CXA_DEMANGLE
	int status = -1;
	char *demangled;

	if (!linkage || strncmp(linkage, "_Z", 2) != 0)
		return NULL;
	demangled = __cxa_demangle(linkage, NULL, NULL, &status);
	if (status != 0) {
		free(demangled);
		return NULL;
	}
	return demangled;
#else
	(void)linkage;
	return NULL;
#endif
}

/* S without its spaces, for comparing signatures as people type them
 * ("f(char const*)" and "f(char const *)" alike). */
static char *squeeze(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s != ' ')
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

static bool same_squeezed(const char *a, const char *b)
{
	char *x = squeeze(a), *y = squeeze(b);
	bool same = strcmp(x, y) == 0;

	free(x);
	free(y);
	return same;
}

/* Whether NAME is TEMPLATE with template arguments ("make<int>" is
 * "make" with some). */
static bool is_instance_of(const char *name, const char *template)
{
	size_t len = strlen(template);

	return strncmp(name, template, len) == 0 && name[len] == '<';
}

/* The qualified name in a demangled one, without the return type a
 * template's has nor the parameters: "ns::make<long>" in
 * "long* ns::make<long>(unsigned long)". A new string. */
static char *demangled_qualified(const char *demangled)
{
	const char *start = demangled, *c;
	int depth = 0;

	for (c = demangled; *c; c++) {
		if (*c == '<')
			depth++;
		else if (*c == '>')
			depth--;
		else if (depth == 0 && *c == ' ')
			start = c + 1;
		else if (depth == 0 && *c == '(' && c > start)
			break;
	}
	return xasprintf("%.*s", (int)(c - start), start);
}

bool names_match(const char *spec, const char *plain, const char *qualified,
		 const char *demangled)
{
	if (strchr(spec, '('))
		return demangled && same_squeezed(spec, demangled);
	if (demangled && strchr(spec, '<')) {
		char *name = demangled_qualified(demangled);
		bool same = same_squeezed(spec, name);

		free(name);
		if (same)
			return true;
	}
	if (strstr(spec, "::")) {
		if (!qualified)
			return false;
		return strcmp(spec, qualified) == 0 ||
		       is_instance_of(qualified, spec) ||
		       same_squeezed(spec, qualified);
	}
	if (!plain)
		return false;
	return strcmp(spec, plain) == 0 || is_instance_of(plain, spec) ||
	       (strchr(spec, '<') && same_squeezed(spec, plain));
}

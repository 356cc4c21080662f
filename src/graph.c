/* memprof graph: from one value, the objects its pointers reach, as
 * objgraph's show_refs draws them: one node per object, one edge per
 * pointer, depth and fan-out bounded. */
#include <ctype.h>
#include <graphviz/gvc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "util.h"

#define MAX_NODES 2000
#define MAX_READ (1u << 20) /* of one object, the first bytes */
#define MAX_MEMBERS 8	    /* scalar members shown in a label */
#define STRING_SHOWN 24	    /* characters of a string shown */

enum node_kind {
	NK_OBJECT,   /* a typed object: a heap block, or other memory */
	NK_UNTYPED,  /* a heap block no typed pointer tells of */
	NK_FREED,    /* a block freed since */
	NK_UNMAPPED, /* memory that cannot be read */
	NK_MORE,     /* the edges past --too-many */
};

struct node {
	enum node_kind kind;
	uint64_t addr, size;
	int type;
	uint64_t count; /* elements of TYPE */
	bool block;	/* a live heap block */
	int line;	/* freed: the line that made it */
	int depth;
	uint64_t more; /* NK_MORE: how many */
};

struct edge {
	size_t from, to;
	char *label;
};

struct graph {
	const struct ctypes *ct;
	const struct heap_block *live, *freed;
	size_t nlive, nfreed;
	ctypes_read_fn read;
	void *arg;
	struct node *nodes;
	size_t nnodes;
	struct edge *edges;
	size_t nedges;
};

static char *xstrndup(const char *s, size_t n)
{
	char *copy = xmalloc(n + 1);

	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

/* Expressions */

char *graph_expr_name(const char *expr)
{
	size_t len;

	while (*expr == '*' || *expr == ' ')
		expr++;
	len = strspn(expr, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
	if (!len || isdigit((unsigned char)*expr))
		return NULL;
	return xstrndup(expr, len);
}

/* N bytes at offset OFF of V. */
static int load(const struct ctype_value *v, uint64_t off, void *buf, size_t n,
		ctypes_read_fn read, void *arg)
{
	if (v->in_memory)
		return read(arg, v->addr + off, buf, n);
	if (off + n > sizeof(v->bytes))
		return -1;
	memcpy(buf, v->bytes + off, n);
	return 0;
}

static const struct ctype_member *member_named(const struct ctype *t,
					       const char *name, size_t len)
{
	for (size_t i = 0; i < t->nmembers; i++) {
		if (strlen(t->members[i].name) == len &&
		    strncmp(t->members[i].name, name, len) == 0)
			return &t->members[i];
	}
	return NULL;
}

/* *V becomes what the pointer V holds points to. */
static int deref(const struct ctypes *ct, struct ctype_value *v,
		 ctypes_read_fn read, void *arg, const char *expr, char **err)
{
	const struct ctype *t = ctypes_get(ct, v->type);
	uint64_t p;

	if (!t || t->kind != CT_POINTER) {
		*err = xasprintf("%s: %s is not a pointer", expr,
				 t ? t->name : "the value");
		return -1;
	}
	if (t->target < 0) {
		*err = xasprintf("%s: a %s tells nothing of what it points to",
				 expr, t->name);
		return -1;
	}
	if (load(v, 0, &p, sizeof(p), read, arg) < 0) {
		*err = xasprintf("%s: its memory cannot be read", expr);
		return -1;
	}
	if (!p) {
		*err = xasprintf("%s: the pointer is NULL", expr);
		return -1;
	}
	*v = (struct ctype_value){
		.type = t->target, .in_memory = true, .addr = p};
	return 0;
}

int graph_eval(const struct ctypes *ct, const char *expr, struct ctype_value *v,
	       ctypes_read_fn read, void *arg, char **err)
{
	const char *s = expr;
	int stars = 0;

	while (*s == '*' || *s == ' ')
		stars += *s++ == '*';
	s += strspn(s, "abcdefghijklmnopqrstuvwxyz"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
	while (*s) {
		const struct ctype *t;

		if (strncmp(s, "->", 2) == 0 || *s == '.') {
			const struct ctype_member *m;
			size_t len;

			if (*s == '-' && deref(ct, v, read, arg, expr, err) < 0)
				return -1;
			s += *s == '-' ? 2 : 1;
			len = strspn(s,
				     "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
			t = ctypes_get(ct, v->type);
			if (!t ||
			    (t->kind != CT_STRUCT && t->kind != CT_UNION)) {
				*err = xasprintf("%s: %s has no members", expr,
						 t ? t->name : "the value");
				return -1;
			}
			m = member_named(t, s, len);
			if (!len || !m) {
				*err = xasprintf("%s: %s has no member '%.*s'",
						 expr, t->name, (int)len, s);
				return -1;
			}
			if (v->in_memory) {
				v->addr += m->offset;
			} else if (m->offset < sizeof(v->bytes)) {
				memmove(v->bytes, v->bytes + m->offset,
					sizeof(v->bytes) - m->offset);
			}
			v->type = m->type;
			s += len;
		} else if (*s == '[') {
			char *end;
			unsigned long long i = strtoull(s + 1, &end, 10);
			const struct ctype *e;

			if (end == s + 1 || *end != ']') {
				*err = xasprintf("%s: an index is a number in "
						 "brackets",
						 expr);
				return -1;
			}
			s = end + 1;
			t = ctypes_get(ct, v->type);
			if (t && t->kind == CT_POINTER) {
				if (deref(ct, v, read, arg, expr, err) < 0)
					return -1;
			} else if (!t || t->kind != CT_ARRAY || !v->in_memory) {
				*err = xasprintf("%s: %s is not an array or a "
						 "pointer",
						 expr,
						 t ? t->name : "the value");
				return -1;
			} else {
				if (t->count && i >= t->count) {
					*err = xasprintf(
						"%s: index %llu is past the "
						"end of %s",
						expr, i, t->name);
					return -1;
				}
				v->type = t->target;
			}
			e = ctypes_get(ct, v->type);
			if (!e || !e->size) {
				*err = xasprintf(
					"%s: elements of no known size", expr);
				return -1;
			}
			v->addr += i * e->size;
		} else if (*s == ' ') {
			s++;
		} else {
			*err = xasprintf("%s: cannot read '%s' (names, ->, ., "
					 "[N] and * are understood)",
					 expr, s);
			return -1;
		}
	}
	while (stars--) {
		if (deref(ct, v, read, arg, expr, err) < 0)
			return -1;
	}
	return 0;
}

/* Nodes */

static long find_block(const struct heap_block *b, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid].ptr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* at one address, the first listed (the latest freed) */
	while (lo > 1 && b[lo - 2].ptr == b[lo - 1].ptr)
		lo--;
	if (lo == 0 || addr - b[lo - 1].ptr >= (b[lo - 1].size ?: 1))
		return -1;
	return (long)(lo - 1);
}

static size_t add_node(struct graph *g, struct node n)
{
	g->nodes = xrealloc(g->nodes, (g->nnodes + 1) * sizeof(*g->nodes));
	g->nodes[g->nnodes] = n;
	return g->nnodes++;
}

static void add_edge(struct graph *g, size_t from, size_t to, char *label)
{
	g->edges = xrealloc(g->edges, (g->nedges + 1) * sizeof(*g->edges));
	g->edges[g->nedges++] = (struct edge){from, to, label};
}

static long node_at(const struct graph *g, uint64_t addr, int type,
		    bool by_addr)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		const struct node *n = &g->nodes[i];

		if (n->kind != NK_MORE && n->addr == addr &&
		    (by_addr || n->type == type))
			return (long)i;
	}
	return -1;
}

/* The node a pointer holding V to TARGET (-1: untyped) leads to, made
 * at DEPTH when new; -1 for none. *OFF is how far into it V points. */
static long target_node(struct graph *g, uint64_t v, int target, int depth,
			uint64_t *off)
{
	const struct ctype *t = ctypes_get(g->ct, target);
	long b = find_block(g->live, g->nlive, v), i;
	uint8_t probe;

	*off = 0;
	if (b >= 0) {
		const struct heap_block *hb = &g->live[b];

		*off = v - hb->ptr;
		if ((i = node_at(g, hb->ptr, 0, true)) >= 0)
			return i;
		if (g->nnodes >= MAX_NODES)
			return -1;
		struct node n = {.kind = NK_UNTYPED,
				 .addr = hb->ptr,
				 .size = hb->size,
				 .type = -1,
				 .count = 1,
				 .block = true,
				 .depth = depth};
		/* the block holds an array of them when larger */
		if (t && t->kind != CT_OTHER && t->size &&
		    *off % t->size == 0) {
			n.kind = NK_OBJECT;
			n.type = target;
			n.count = hb->size / t->size ? hb->size / t->size : 1;
		}
		return (long)add_node(g, n);
	}
	b = find_block(g->freed, g->nfreed, v);
	if (b >= 0) {
		const struct heap_block *fb = &g->freed[b];

		*off = v - fb->ptr;
		if ((i = node_at(g, fb->ptr, 0, true)) >= 0)
			return i;
		if (g->nnodes >= MAX_NODES)
			return -1;
		return (long)add_node(g, (struct node){.kind = NK_FREED,
						       .addr = fb->ptr,
						       .size = fb->size,
						       .type = -1,
						       .line = fb->line,
						       .depth = depth});
	}
	if (!t || t->kind == CT_OTHER || !t->size)
		return -1;
	if ((i = node_at(g, v, target, false)) >= 0)
		return i;
	if (g->nnodes >= MAX_NODES)
		return -1;
	if (g->read(g->arg, v, &probe, 1) < 0)
		return (long)add_node(g, (struct node){.kind = NK_UNMAPPED,
						       .addr = v,
						       .type = target,
						       .depth = depth});
	return (long)add_node(g, (struct node){.kind = NK_OBJECT,
					       .addr = v,
					       .size = t->size,
					       .type = target,
					       .count = 1,
					       .depth = depth});
}

/* The pointers of one object, as they are found. */
struct fanout {
	struct graph *g;
	size_t from;
	int depth, too_many;
	uint64_t drawn, more;
};

static void pointer_found(struct fanout *f, const char *path, uint64_t v,
			  int target)
{
	uint64_t off;
	long to;

	if (!v)
		return;
	if (f->drawn >= (uint64_t)f->too_many) {
		f->more++;
		return;
	}
	to = target_node(f->g, v, target, f->depth + 1, &off);
	if (to < 0)
		return;
	f->drawn++;
	add_edge(f->g, f->from, (size_t)to,
		 off ? xasprintf("%s (+%" PRIu64 ")", path, off)
		     : xstrdup(path));
}

/* The pointers in a value of TYPE in BUF (LEN bytes), named PATH. */
static void find_pointers(struct fanout *f, const uint8_t *buf, uint64_t len,
			  int type, const char *path, int depth)
{
	const struct ctype *t = ctypes_get(f->g->ct, type);

	if (!t || depth > 16 ||
	    (!t->pointers && t->kind != CT_STRUCT && t->kind != CT_UNION))
		return;
	switch (t->kind) {
	case CT_POINTER: {
		uint64_t v;

		if (len >= sizeof(v)) {
			memcpy(&v, buf, sizeof(v));
			pointer_found(f, path, v, t->target);
		}
		return;
	}
	case CT_ARRAY: {
		const struct ctype *e = ctypes_get(f->g->ct, t->target);

		for (uint64_t i = 0;
		     e && e->size && i < t->count && (i + 1) * e->size <= len;
		     i++) {
			char *p = xasprintf("%s[%" PRIu64 "]", path, i);

			find_pointers(f, buf + i * e->size, e->size, t->target,
				      p, depth + 1);
			free(p);
		}
		return;
	}
	case CT_STRUCT:
	case CT_UNION: {
		size_t holders = 0;

		for (size_t m = 0; m < t->nmembers; m++)
			holders += ctypes_get(f->g->ct, t->members[m].type)
					   ->pointers;
		for (size_t m = 0; m < t->nmembers; m++) {
			const struct ctype_member *mb = &t->members[m];
			char *p;

			const struct ctype *mt = ctypes_get(f->g->ct, mb->type);

			if (mb->offset >= len)
				continue;
			if (mt->kind == CT_POINTER && mt->target < 0 &&
			    len - mb->offset >= 8) {
				/* a void *: to a block, drawn untyped */
				uint64_t v;

				p = xasprintf("%s%s%s", path, *path ? "." : "",
					      mb->name);
				memcpy(&v, buf + mb->offset, sizeof(v));
				pointer_found(f, p, v, -1);
				free(p);
				continue;
			}
			if (!mt->pointers)
				continue;
			p = xasprintf("%s%s%s", path, *path ? "." : "",
				      mb->name);
			if (t->kind == CT_UNION && holders > 1) {
				/* which member is live is not told: the
				 * pointer leads to an untyped block, once */
				uint64_t v;

				if (len - mb->offset >= sizeof(v) && m == 0) {
					free(p);
					p = xstrdup(*path ? path : "?");
					memcpy(&v, buf, sizeof(v));
					pointer_found(f, p, v, -1);
				}
				free(p);
				continue;
			}
			find_pointers(f, buf + mb->offset, len - mb->offset,
				      mb->type, p, depth + 1);
			free(p);
		}
		return;
	}
	default:
		return;
	}
}

/* Reads object N and adds its edges. */
static void expand(struct graph *g, size_t idx, const struct graph_limits *lim)
{
	struct node n = g->nodes[idx];
	const struct ctype *t = ctypes_get(g->ct, n.type);
	struct fanout f = {.g = g,
			   .from = idx,
			   .depth = n.depth,
			   .too_many = lim->too_many};
	uint64_t len;
	uint8_t *buf;

	if (n.kind != NK_OBJECT || !t || !t->size ||
	    (!t->pointers && t->kind != CT_STRUCT && t->kind != CT_UNION))
		return;
	len = n.count * t->size;
	if (len > MAX_READ)
		len = MAX_READ;
	buf = xcalloc(1, len);
	if (g->read(g->arg, n.addr, buf, len) == 0) {
		for (uint64_t i = 0; (i + 1) * t->size <= len; i++) {
			char *p = n.count > 1 ? xasprintf("[%" PRIu64 "]", i)
					      : xstrdup("");

			find_pointers(&f, buf + i * t->size, t->size, n.type, p,
				      0);
			free(p);
		}
	}
	free(buf);
	if (f.more) {
		size_t more = add_node(g, (struct node){.kind = NK_MORE,
							.type = -1,
							.more = f.more,
							.depth = n.depth + 1});
		add_edge(g, idx, more, xstrdup("..."));
	}
}

/* Labels */

/* Appends S to the label, escaped for dot. */
static void put_escaped(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\\\x%02x", c);
		else
			fputc(c, out);
	}
}

/* A string held in LEN bytes at BUF, quoted. */
static void put_string(FILE *out, const uint8_t *buf, size_t len)
{
	size_t n = strnlen((const char *)buf, len);
	char *s = xstrndup((const char *)buf, n);

	fputs("\\\"", out);
	put_escaped(out, s, STRING_SHOWN);
	fputs(n > STRING_SHOWN ? "...\\\"" : "\\\"", out);
	free(s);
}

static bool is_char(const struct ctype *t)
{
	return t && t->kind == CT_SCALAR && t->size == 1 &&
	       strstr(t->name, "char");
}

/* A scalar of type T in BUF, as C would print it. */
static void put_scalar(FILE *out, const struct ctype *t, const uint8_t *buf)
{
	int64_t v = 0;
	uint64_t u = 0;

	if (strcmp(t->name, "double") == 0 && t->size == 8) {
		double d;

		memcpy(&d, buf, 8);
		fprintf(out, "%g", d);
		return;
	}
	if (strcmp(t->name, "float") == 0 && t->size == 4) {
		float d;

		memcpy(&d, buf, 4);
		fprintf(out, "%g", (double)d);
		return;
	}
	if (t->size > 8 || !t->size) {
		fputs("...", out);
		return;
	}
	memcpy(&u, buf, t->size);
	if (strstr(t->name, "unsigned") || strstr(t->name, "_Bool")) {
		fprintf(out, "%" PRIu64, u);
		return;
	}
	/* sign-extended from its size */
	v = (int64_t)(u << (64 - 8 * t->size)) >> (64 - 8 * t->size);
	fprintf(out, "%" PRId64, v);
}

/* The scalar members of a structure: "name = value" lines. */
static void put_members(FILE *out, const struct graph *g, const struct ctype *t,
			const uint8_t *buf, uint64_t len)
{
	int shown = 0;

	for (size_t m = 0; m < t->nmembers && shown < MAX_MEMBERS; m++) {
		const struct ctype_member *mb = &t->members[m];
		const struct ctype *mt = ctypes_get(g->ct, mb->type);
		uint64_t p;

		if (!mt || mb->offset + mt->size > len)
			continue;
		if (mt->kind == CT_SCALAR) {
			fprintf(out, "\\n%s = ", mb->name);
			put_scalar(out, mt, buf + mb->offset);
		} else if (mt->kind == CT_ARRAY &&
			   is_char(ctypes_get(g->ct, mt->target))) {
			fprintf(out, "\\n%s = ", mb->name);
			put_string(out, buf + mb->offset, mt->size);
		} else if (mt->kind == CT_POINTER) {
			memcpy(&p, buf + mb->offset, sizeof(p));
			if (p)
				continue;
			fprintf(out, "\\n%s = NULL", mb->name);
		} else {
			continue;
		}
		shown++;
	}
}

static void put_label(FILE *out, const struct graph *g, const struct node *n,
		      const char *root)
{
	const struct ctype *t = ctypes_get(g->ct, n->type);
	uint8_t buf[4096];
	uint64_t len = n->size < sizeof(buf) ? n->size : sizeof(buf);
	bool readable = n->kind == NK_OBJECT && len &&
			g->read(g->arg, n->addr, buf, len) == 0;

	if (root) {
		put_escaped(out, root, 64);
		fputs("\\n", out);
	}
	switch (n->kind) {
	case NK_MORE:
		fprintf(out, "+%" PRIu64 " more", n->more);
		return;
	case NK_FREED:
		fprintf(out, "freed block\\n%" PRIu64 " bytes, made on line %d",
			n->size, n->line);
		return;
	case NK_UNMAPPED:
		fprintf(out, "unmapped memory\\n(%s)", t ? t->name : "?");
		return;
	case NK_UNTYPED:
		fprintf(out, "untyped block\\n%" PRIu64 " bytes", n->size);
		return;
	case NK_OBJECT:
		break;
	}
	if (is_char(t)) {
		fprintf(out, "char[]\\n%" PRIu64 " bytes", n->size);
		if (readable)
			fputs("\\n", out), put_string(out, buf, len);
		return;
	}
	put_escaped(out, t ? t->name : "?", 128);
	if (n->count > 1)
		fprintf(out, "[%" PRIu64 "]", n->count);
	fprintf(out, "\\n%" PRIu64 " bytes%s", n->size,
		n->block ? "" : ", not a heap block");
	if (!readable || n->count > 1 || !t)
		return;
	if (t->kind == CT_STRUCT || t->kind == CT_UNION)
		put_members(out, g, t, buf, len);
	else if (t->kind == CT_SCALAR)
		fputs("\\n= ", out), put_scalar(out, t, buf);
}

static const char *fill_of(const struct node *n, bool root)
{
	if (root)
		return "lightgreen";
	switch (n->kind) {
	case NK_FREED:
	case NK_UNMAPPED:
		return "lightcoral";
	case NK_UNTYPED:
		return "lightgrey";
	case NK_MORE:
		return "white";
	default:
		return "lightyellow";
	}
}

char *graph_dot(const struct ctypes *ct, const char *expr,
		const struct ctype_value *v, const struct heap_block *live,
		size_t nlive, const struct heap_block *freed, size_t nfreed,
		const struct graph_limits *limits, ctypes_read_fn read,
		void *arg, char **err)
{
	struct graph g = {.ct = ct,
			  .live = live,
			  .nlive = nlive,
			  .freed = freed,
			  .nfreed = nfreed,
			  .read = read,
			  .arg = arg};
	const struct ctype *t = ctypes_get(ct, v->type);
	char *text = NULL;
	size_t size = 0;
	FILE *out;
	long root;
	uint64_t off;

	if (t && t->kind == CT_POINTER && t->target >= 0) {
		uint64_t p = 0;

		if (load(v, 0, &p, sizeof(p), read, arg) < 0) {
			*err = xasprintf("%s: its memory cannot be read", expr);
			return NULL;
		}
		if (!p) {
			*err = xasprintf("%s: the pointer is NULL", expr);
			return NULL;
		}
		root = target_node(&g, p, t->target, 0, &off);
	} else if (t && v->in_memory && t->pointers &&
		   (t->kind == CT_STRUCT || t->kind == CT_UNION ||
		    t->kind == CT_ARRAY)) {
		long b = find_block(live, nlive, v->addr);
		struct node n = {.kind = NK_OBJECT,
				 .addr = v->addr,
				 .size = t->size,
				 .type = v->type,
				 .count = 1};

		/* a heap block's first object: the block */
		if (b >= 0 && live[b].ptr == v->addr && t->size) {
			n.block = true;
			n.size = live[b].size;
			n.count = live[b].size / t->size ?: 1;
		}
		root = (long)add_node(&g, n);
	} else {
		*err = xasprintf("%s: %s %s holds no pointer to follow", expr,
				 t && strchr("aeiou", t->name[0]) ? "an" : "a",
				 t ? t->name : "value of no known type");
		return NULL;
	}
	if (root < 0) {
		*err = xasprintf("%s: what it points to is not known", expr);
		return NULL;
	}
	/* breadth first: each node once, as deep as the limit */
	for (size_t i = 0; i < g.nnodes; i++) {
		if (g.nodes[i].depth < limits->max_depth)
			expand(&g, i, limits);
	}
	out = open_memstream(&text, &size);
	if (!out)
		die(EXIT_INTERNAL, "cannot make the graph: out of memory");
	fputs("digraph memprof {\n"
	      "\tnode [shape=box, style=\"filled,rounded\", "
	      "fontname=\"Helvetica\"];\n"
	      "\tedge [fontname=\"Helvetica\", fontsize=10];\n",
	      out);
	for (size_t i = 0; i < g.nnodes; i++) {
		fprintf(out, "\tn%zu [label=\"", i);
		put_label(out, &g, &g.nodes[i], (long)i == root ? expr : NULL);
		fprintf(out, "\", fillcolor=%s];\n",
			fill_of(&g.nodes[i], (long)i == root));
	}
	for (size_t i = 0; i < g.nedges; i++) {
		fprintf(out, "\tn%zu -> n%zu [label=\"", g.edges[i].from,
			g.edges[i].to);
		put_escaped(out, g.edges[i].label, 128);
		fputs("\"];\n", out);
		free(g.edges[i].label);
	}
	fputs("}\n", out);
	fclose(out);
	free(g.nodes);
	free(g.edges);
	return text;
}

/* Rendering */

bool graph_format_of(const char *file, const char **format)
{
	static const char *const formats[][2] = {
		{".dot", "dot"}, {".gv", "dot"},  {".svg", "svg"},
		{".png", "png"}, {".pdf", "pdf"},
	};
	size_t len = strlen(file);

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		size_t n = strlen(formats[i][0]);

		if (len > n && strcasecmp(file + len - n, formats[i][0]) == 0) {
			*format = formats[i][1];
			return true;
		}
	}
	return false;
}

int graph_render(const char *dot, const char *format, FILE *out, char **err)
{
	GVC_t *gvc;
	Agraph_t *g;
	char *data = NULL;
	unsigned int len = 0;
	int ret = -1;

	if (strcmp(format, "dot") == 0)
		return fputs(dot, out) < 0 ? -1 : 0;
	/* Graphviz's warnings (fonts and the like) are not ours to show */
	agseterr(AGERR);
	gvc = gvContext();
	if (!gvc) {
		*err = xstrdup("the Graphviz libraries cannot start");
		return -1;
	}
	g = agmemread(dot);
	if (!g) {
		*err = xstrdup("Graphviz cannot read the graph");
	} else if (gvLayout(gvc, g, "dot") != 0) {
		*err = xstrdup("Graphviz has no dot layout here (its plugins "
			       "are missing: install libgvc6)");
	} else {
		if (gvRenderData(gvc, g, format, &data, &len) != 0 || !data)
			*err = xasprintf(
				"Graphviz cannot write %s here (its "
				"plugins are missing: install libgvc6)",
				format);
		else if (fwrite(data, 1, len, out) == len)
			ret = 0;
		else
			*err = xstrdup("cannot write the picture");
		if (data)
			gvFreeRenderData(data);
		gvFreeLayout(gvc, g);
	}
	if (g)
		agclose(g);
	gvFreeContext(gvc);
	return ret;
}

/* mprof's .dat format: reading it strictly, writing it as mprof does. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mprof.h"
#include "util.h"

void mprof_free(struct mprof_data *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nchildren; i++) {
		free(d->children[i].name);
		free(d->children[i].samples);
	}
	for (size_t i = 0; i < d->ncalls; i++)
		free(d->calls[i].name);
	free(d->children);
	free(d->calls);
	free(d->mem);
	free(d->cmdline);
	free(d->path);
	free(d);
}

/* Numbers as mprof writes them: finite decimals. */
static bool parse_number(const char *s, double *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtod(s, &end);
	return *end == '\0' && errno == 0 && isfinite(*v);
}

static bool parse_int(const char *s, int *v)
{
	char *end;
	long n;

	if (!s || !*s)
		return false;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*end != '\0' || errno || n < -1000000 || n > 1000000)
		return false;
	*v = (int)n;
	return true;
}

/* Splits LINE at blanks into at most MAX fields; how many. */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;

	for (char *tok = strtok(line, " \t"); tok && n < max;
	     tok = strtok(NULL, " \t"))
		fields[n++] = tok;
	return n;
}

static void add_sample(struct mprof_sample **v, size_t *n, double mib,
		       double time)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct mprof_sample){mib, time};
}

static struct mprof_series *child_series(struct mprof_data *d, const char *name)
{
	for (size_t i = 0; i < d->nchildren; i++) {
		if (strcmp(d->children[i].name, name) == 0)
			return &d->children[i];
	}
	d->children = xrealloc(d->children,
			       (d->nchildren + 1) * sizeof(*d->children));
	d->children[d->nchildren] =
		(struct mprof_series){.name = xstrdup(name)};
	return &d->children[d->nchildren++];
}

/* One line; an error message (static) when it is not a valid one. */
static const char *parse_line(struct mprof_data *d, char *line)
{
	char *f[8];
	size_t n;
	double a, b, c, e;
	int level = 0;

	if (strncmp(line, "CMDLINE", 7) == 0 &&
	    (line[7] == ' ' || line[7] == '\0')) {
		free(d->cmdline);
		d->cmdline = xstrdup(line[7] ? line + 8 : "");
		return NULL;
	}
	n = split(line, f, 8);
	if (n == 0)
		return "an empty line";
	if (strcmp(f[0], "MEM") == 0) {
		if (n != 3 || !parse_number(f[1], &a) ||
		    !parse_number(f[2], &b))
			return "MEM wants two numbers: MiB and time";
		add_sample(&d->mem, &d->nmem, a, b);
	} else if (strcmp(f[0], "CHLD") == 0) {
		if (n != 4 || !parse_number(f[2], &a) ||
		    !parse_number(f[3], &b))
			return "CHLD wants a child, MiB and time";
		struct mprof_series *s = child_series(d, f[1]);
		add_sample(&s->samples, &s->n, a, b);
	} else if (strcmp(f[0], "FUNC") == 0) {
		if ((n != 6 && n != 7) || !parse_number(f[2], &a) ||
		    !parse_number(f[3], &b) || !parse_number(f[4], &c) ||
		    !parse_number(f[5], &e) ||
		    (n == 7 && !parse_int(f[6], &level)))
			return "FUNC wants a name, start MiB and time, end MiB "
			       "and time, and a level";
		d->calls =
			xrealloc(d->calls, (d->ncalls + 1) * sizeof(*d->calls));
		d->calls[d->ncalls++] =
			(struct mprof_call){xstrdup(f[1]), a, b, c, e, level};
	} else {
		return "not a line of an mprof file (CMDLINE, MEM, CHLD or "
		       "FUNC)";
	}
	return NULL;
}

struct mprof_data *mprof_parse(FILE *in, const char *path, char **err)
{
	struct mprof_data *d = xcalloc(1, sizeof(*d));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	size_t lineno = 0;

	d->path = xstrdup(path);
	while ((len = getline(&line, &cap, in)) >= 0) {
		const char *why;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (strlen(line) != (size_t)len) {
			*err = xasprintf("%s:%zu: a NUL byte", path, lineno);
			goto fail;
		}
		why = parse_line(d, line);
		if (why) {
			*err = xasprintf("%s:%zu: %s", path, lineno, why);
			goto fail;
		}
	}
	free(line);
	if (d->nmem == 0) {
		*err = xasprintf("%s: no MEM line: not an mprof file, or "
				 "the run was too short",
				 path);
		mprof_free(d);
		return NULL;
	}
	return d;
fail:
	free(line);
	mprof_free(d);
	return NULL;
}

struct mprof_data *mprof_read(const char *path, char **err)
{
	FILE *in = fopen(path, "re");
	struct mprof_data *d;

	if (!in) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	d = mprof_parse(in, path, err);
	fclose(in);
	return d;
}

bool mprof_peak(const struct mprof_data *d, double *mib, double *time)
{
	if (!d->nmem)
		return false;
	*mib = d->mem[0].mib;
	*time = d->mem[0].time;
	for (size_t i = 1; i < d->nmem; i++) {
		if (d->mem[i].mib > *mib) {
			*mib = d->mem[i].mib;
			*time = d->mem[i].time;
		}
	}
	return true;
}

double mprof_first_time(const struct mprof_data *d)
{
	double t = d->nmem ? d->mem[0].time : 0;

	for (size_t i = 0; i < d->nmem; i++)
		t = fmin(t, d->mem[i].time);
	for (size_t i = 0; i < d->ncalls; i++)
		t = fmin(t, fmin(d->calls[i].start, d->calls[i].end));
	return t;
}

/* Sums for a least-squares line, over times relative to t0 (precision). */
struct fit {
	double t0, n, st, sm, stt, stm;
};

static void add_point(struct fit *f, double time, double mib)
{
	double t = time - f->t0;

	f->n++;
	f->st += t;
	f->sm += mib;
	f->stt += t * t;
	f->stm += t * mib;
}

bool mprof_trend(const struct mprof_data *d, double *a, double *b)
{
	struct fit f = {.t0 = mprof_first_time(d)};
	double den;

	for (size_t i = 0; i < d->nmem; i++)
		add_point(&f, d->mem[i].time, d->mem[i].mib);
	for (size_t i = 0; i < d->ncalls; i++) {
		add_point(&f, d->calls[i].start, d->calls[i].start_mib);
		add_point(&f, d->calls[i].end, d->calls[i].end_mib);
	}
	den = f.n * f.stt - f.st * f.st;
	if (f.n < 2 || !(fabs(den) > 1e-12 * f.n * f.stt))
		return false;
	*a = (f.n * f.stm - f.st * f.sm) / den;
	*b = (f.sm - *a * f.st) / f.n;
	return true;
}

static bool within_call(const struct mprof_data *d, const char *func, double t)
{
	for (size_t i = 0; i < d->ncalls; i++) {
		const struct mprof_call *c = &d->calls[i];

		if (strcmp(c->name, func) == 0 && c->start <= t && t <= c->end)
			return true;
	}
	return false;
}

bool mprof_peak_in(const struct mprof_data *d, const char *func, double *mib)
{
	bool found = false;

	for (size_t i = 0; i < d->nmem; i++) {
		if (!within_call(d, func, d->mem[i].time) ||
		    (found && d->mem[i].mib <= *mib))
			continue;
		*mib = d->mem[i].mib;
		found = true;
	}
	return found;
}

void mprof_write_cmdline(FILE *out, char *const argv[])
{
	fputs("CMDLINE", out);
	for (size_t i = 0; argv && argv[i]; i++)
		fprintf(out, " %s", argv[i]);
	fputc('\n', out);
}

void mprof_write_mem(FILE *out, double mib, double time)
{
	fprintf(out, "MEM %.6f %.4f\n", mib, time);
}

void mprof_write_child(FILE *out, int child, double mib, double time)
{
	fprintf(out, "CHLD %d %.6f %.4f\n", child, mib, time);
}

void mprof_write_func(FILE *out, const char *name, double start_mib,
		      double start, double end_mib, double end, int level)
{
	/* mprof splits on blanks: a name must have none */
	fputs("FUNC ", out);
	for (const char *c = name; *c; c++)
		fputc(*c == ' ' || *c == '\t' ? '_' : *c, out);
	fprintf(out, " %.4f %.4f %.4f %.4f %d\n", start_mib, start, end_mib,
		end, level);
}

size_t mprof_list(char ***names)
{
	glob_t g;
	size_t n = 0;

	*names = NULL;
	/* with _N: a second run in the same second */
	if (glob("mprofile_??????????????*.dat", 0, NULL, &g) != 0)
		return 0;
	/* glob sorts: the timestamp in the name orders them by age */
	*names = xcalloc(g.gl_pathc + 1, sizeof(**names));
	for (size_t i = 0; i < g.gl_pathc; i++)
		(*names)[n++] = xstrdup(g.gl_pathv[i]);
	globfree(&g);
	return n;
}

FILE *mprof_create_default(char **name)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	for (int n = 1; n < 1000; n++) {
		int fd;
		FILE *f;

		*name = n == 1 ? xasprintf("mprofile_%s.dat", stamp)
			       : xasprintf("mprofile_%s_%d.dat", stamp, n);
		/* never another run's file */
		fd = open(*name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 && (f = fdopen(fd, "w")))
			return f;
		if (fd >= 0) {
			close(fd);
			unlink(*name);
			return NULL;
		}
		if (errno != EEXIST)
			return NULL;
		free(*name);
		*name = NULL;
	}
	errno = EEXIST;
	return NULL;
}

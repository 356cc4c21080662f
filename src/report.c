/* The report: memory_profiler's table, JSON or CSV. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "source.h"
#include "util.h"

#define MIB 1048576.0

static void format_mib(char *buf, size_t size, double bytes, int precision)
{
	snprintf(buf, size, "%*.*f MiB", precision + 4, precision, bytes / MIB);
}

/* Whether LINE holds only the closing brace of a function. */
static bool is_closing_brace(const char *line)
{
	line += strspn(line, " \t");
	if (*line != '}')
		return false;
	line++;
	return line[strspn(line, " \t;")] == '\0';
}

/* The columns between Line # and Line Contents: memory_profiler's, with
 * Peak and the heap ones when asked for. Each cell is right-aligned in
 * WIDTH, after SEP. */
enum column {
	COL_MEM,
	COL_PEAK,
	COL_INC,
	COL_ALLOC,
	COL_FREED,
	COL_BLOCKS,
	COL_NET,
	COL_RETAINED,
	COL_LEAKED,
	COL_OCC,
	NCOLS
};

static const struct {
	const char *title, *sep;
	int width;
} columns[NCOLS] = {
	[COL_MEM] = {"Mem usage", " ", 12},
	[COL_PEAK] = {"Peak", " ", 12},
	[COL_INC] = {"Increment", " ", 12},
	[COL_ALLOC] = {"Heap alloc", " ", 12},
	[COL_FREED] = {"Heap freed", " ", 12},
	[COL_BLOCKS] = {"Blocks", " ", 8},
	[COL_NET] = {"Heap net", " ", 12},
	[COL_RETAINED] = {"Retained", " ", 12},
	[COL_LEAKED] = {"Leaked", " ", 12},
	[COL_OCC] = {"Occurrences", "  ", 10},
};

static bool column_shown(enum column c, const struct report_options *opts)
{
	if (c == COL_PEAK)
		return opts->peak;
	if (c >= COL_ALLOC && c <= COL_LEAKED)
		return opts->heap;
	return true;
}

/* Heap figures are often small: bytes, KiB or MiB, whichever reads best
 * (the JSON has them in bytes). */
static void format_heap(char *buf, size_t size, double bytes, int precision)
{
	double mag = bytes < 0 ? -bytes : bytes;

	if (mag < 10240)
		snprintf(buf, size, "%.0f B", bytes);
	else if (mag < 10 * MIB)
		snprintf(buf, size, "%.*f KiB", precision, bytes / 1024);
	else
		format_mib(buf, size, bytes, precision);
}

static void format_cell(char *buf, size_t size, enum column c,
			const struct line_stats *ls, int precision)
{
	switch (c) {
	case COL_MEM:
		format_mib(buf, size, (double)ls->mem_usage, precision);
		break;
	case COL_PEAK:
		format_mib(buf, size, (double)ls->peak, precision);
		break;
	case COL_INC:
		format_mib(buf, size, (double)ls->increment, precision);
		break;
	case COL_ALLOC:
		format_heap(buf, size, (double)ls->heap_alloc, precision);
		break;
	case COL_FREED:
		format_heap(buf, size, (double)ls->heap_freed, precision);
		break;
	case COL_BLOCKS:
		snprintf(buf, size, "%" PRIu64, ls->heap_blocks);
		break;
	case COL_NET:
		format_heap(buf, size,
			    (double)ls->heap_alloc - (double)ls->heap_freed,
			    precision);
		break;
	case COL_RETAINED:
		format_heap(buf, size, (double)ls->heap_retained, precision);
		break;
	case COL_LEAKED:
		format_heap(buf, size, (double)ls->heap_leaked, precision);
		break;
	default:
		snprintf(buf, size, "%" PRIu64, ls->occurrences);
		break;
	}
}

/* One row: memory_profiler's '{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}',
 * with the columns asked for. LS NULL: blank figures. */
static int text_row(FILE *out, const char *lineno, const struct line_stats *ls,
		    const char *contents, const struct report_options *opts,
		    bool header)
{
	int len = fprintf(out, "%6s", lineno);

	for (enum column c = 0; c < NCOLS; c++) {
		char cell[64] = "";

		if (!column_shown(c, opts))
			continue;
		if (header)
			snprintf(cell, sizeof(cell), "%s", columns[c].title);
		else if (ls)
			format_cell(cell, sizeof(cell), c, ls, opts->precision);
		len += fprintf(out, "%s%*s", columns[c].sep, columns[c].width,
			       cell);
	}
	len += fprintf(out, "   %s\n", contents);
	return len - 1;
}

/* --summary: the live blocks F made, by line and size, largest first. */
static void text_summary(FILE *out, const struct account *acct, size_t idx,
			 const struct func_stats *f, const struct source *src,
			 const struct report_options *opts)
{
	struct summary_row *rows;
	size_t n = account_summary(acct, (int)idx, &rows);

	fprintf(out, "\nLive blocks %s made, by line (when the run ended):\n\n",
		f->name);
	fprintf(out, "%6s %8s %12s %12s   %s\n", "Line #", "Blocks", "Total",
		"Size", "Line Contents");
	for (size_t i = 0; i < n; i++) {
		const char *contents = source_line(src, rows[i].line);
		char total[64], size[32];

		format_heap(total, sizeof(total), (double)rows[i].total,
			    opts->precision);
		snprintf(size, sizeof(size), "%" PRIu64 " B", rows[i].size);
		fprintf(out, "%6d %8" PRIu64 " %12s %12s   %s\n", rows[i].line,
			rows[i].count, total, size, contents ? contents : "");
	}
	if (n == 0)
		fputs("(none)\n", out);
	free(rows);
}

/* A --types row's name: its type, or the line that made it. */
static char *type_row_name(const struct func_stats *f, const struct type_row *r)
{
	const char *base = strrchr(f->file, '/');

	if (r->type)
		return xstrdup(r->type);
	return xasprintf("untyped (%s:%d)", base ? base + 1 : f->file, r->line);
}

static int by_bytes(const void *pa, const void *pb)
{
	const struct type_row *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes < b->bytes ? 1 : -1;
	if (!a->type != !b->type)
		return a->type ? -1 : 1;
	if (a->type)
		return strcmp(a->type, b->type);
	return a->line - b->line;
}

/* ROWS sorted as the tables show them: largest total first (a copy). */
static struct type_row *sorted_rows(const struct type_row *rows, size_t n)
{
	struct type_row *copy = xcalloc(n + 1, sizeof(*copy));

	if (n) {
		memcpy(copy, rows, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), by_bytes);
	}
	return copy;
}

/* pympler's sizes: bytes, then KiB, MiB, GiB with two decimals. */
static void format_total(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 "      B", bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.2f %s", v, units[u]);
}

/* One --types table, in pympler's layout. */
static void text_type_table(FILE *out, const struct func_stats *f,
			    const struct type_row *rows, size_t n)
{
	struct type_row *sorted = sorted_rows(rows, n);
	char **names = xcalloc(n + 1, sizeof(*names));
	char **totals = xcalloc(n + 1, sizeof(*totals));
	int w[3] = {5, 11, 12};

	for (size_t i = 0; i < n; i++) {
		char buf[64];

		names[i] = type_row_name(f, &sorted[i]);
		format_total(buf, sizeof(buf), sorted[i].bytes);
		totals[i] = xstrdup(buf);
		snprintf(buf, sizeof(buf), "%" PRIu64, sorted[i].objects);
		if ((int)strlen(names[i]) > w[0])
			w[0] = (int)strlen(names[i]);
		if ((int)strlen(buf) > w[1])
			w[1] = (int)strlen(buf);
		if ((int)strlen(totals[i]) > w[2])
			w[2] = (int)strlen(totals[i]);
	}
	fprintf(out, "%*s | %*s | %*s\n", w[0], "types", w[1], "# objects",
		w[2], "total size");
	for (int c = 0; c < 3; c++) {
		for (int i = 0; i < w[c]; i++)
			fputc('=', out);
		fputs(c < 2 ? " | " : "\n", out);
	}
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%*s | %*" PRIu64 " | %*s\n", w[0], names[i], w[1],
			sorted[i].objects, w[2], totals[i]);
		free(names[i]);
		free(totals[i]);
	}
	if (n == 0)
		fputs("(none)\n", out);
	free(names);
	free(totals);
	free(sorted);
}

/* --types: what F's calls made, by C type. */
static void text_types(FILE *out, const struct func_stats *f)
{
	fprintf(out,
		"\nMade by %s and live when it returned, by type (%" PRIu64
		" call%s):\n\n",
		f->name, f->calls, f->calls == 1 ? "" : "s");
	text_type_table(out, f, f->types, f->ntypes);
	fprintf(out, "\nMade by %s and freed before it returned:\n\n", f->name);
	text_type_table(out, f, f->freed, f->nfreed);
}

static void text_function(FILE *out, const struct account *acct, size_t idx,
			  const struct report_options *opts)
{
	const struct func_stats *f = account_func(acct, idx);
	struct source *src = source_load(f->file);
	const char *last = source_line(src, f->last_line);
	const char *after = source_line(src, f->last_line + 1);
	/* a function whose end was not read in the source ends at its last
	 * code, and the closing brace may have none of its own */
	int shown_last = last && !is_closing_brace(last) && after &&
					 is_closing_brace(after)
				 ? f->last_line + 1
				 : f->last_line;
	int len;

	fprintf(out, "Filename: %s\n\n", f->file);
	len = text_row(out, "Line #", NULL, "Line Contents", opts, true);
	for (int i = 0; i < len; i++)
		fputc('=', out);
	fputc('\n', out);
	for (int line = f->first_line; line <= shown_last; line++) {
		const struct line_stats *ls =
			line <= f->last_line ? &f->lines[line - f->first_line]
					     : NULL;
		const char *contents = source_line(src, line);
		char lineno[16];

		snprintf(lineno, sizeof(lineno), "%d", line);
		text_row(out, lineno, ls && ls->occurrences ? ls : NULL,
			 contents ? contents : "", opts, false);
	}
	if (opts->summary)
		text_summary(out, acct, idx, f, src, opts);
	if (f->inlined_into)
		fprintf(out,
			"\nNote: %s has no code of its own: the compiler "
			"inlined it into %s, and each run of its inlined code "
			"counts as a call.\n",
			f->name, f->inlined_into);
	if (opts->types)
		text_types(out, f);
	if (f->calls == 0)
		fprintf(out, "\nNote: %s was never called.\n", f->name);
	if (f->unfinished)
		fprintf(out,
			"\nNote: %" PRIu64 " call%s of %s had not returned "
			"when the program ended or was let go; %s figures "
			"end there.\n",
			f->unfinished, f->unfinished == 1 ? "" : "s", f->name,
			f->unfinished == 1 ? "its" : "their");
	if (!src)
		fprintf(out, "\nNote: source file not found: %s\n", f->file);
	else if (source_line_count(src) < (size_t)f->last_line)
		fprintf(out,
			"\nNote: %s has fewer lines than its debug information "
			"says; it may have changed since the build.\n",
			f->file);
	fputs("\n\n", out);
	source_free(src);
}

/* Length of the valid UTF-8 sequence at S, or 0 when it is not one. */
static size_t utf8_length(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD so that the
 * document stays valid whatever the source file's encoding. */
static void json_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	fputc('"', out);
	while (*s) {
		size_t n = utf8_length(s);

		if (n == 0) {
			fputs("\\ufffd", out);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, out);
			s += n;
			continue;
		}
		switch (*s) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*s < 0x20)
				fprintf(out, "\\u%04x", *s);
			else
				fputc(*s, out);
		}
		s++;
	}
	fputc('"', out);
}

static void json_status(FILE *out, const struct run_status *status)
{
	const char *abbrev;

	switch (status->how) {
	case RUN_EXITED:
		fprintf(out, "{\"exit\": %d}", status->code);
		break;
	case RUN_SIGNALED:
		fprintf(out, "{\"signal\": %d, \"name\": ", status->code);
		abbrev = sigabbrev_np(status->code);
		if (abbrev)
			fprintf(out, "\"SIG%s\"}", abbrev);
		else
			fputs("null}", out);
		break;
	case RUN_DETACHED:
		fputs("{\"detached\": true}", out);
		break;
	}
}

/* The lines of F that had events, as a JSON array; CONTENTS with their
 * source text. */
static void json_lines(FILE *out, const struct func_stats *f,
		       const struct line_stats *lines, const struct source *src,
		       bool contents, const char *indent,
		       const struct report_options *opts)
{
	bool first = true;

	fputc('[', out);
	for (int line = f->first_line; line <= f->last_line; line++) {
		const struct line_stats *ls = &lines[line - f->first_line];

		if (!ls->occurrences)
			continue;
		fprintf(out,
			"%s\n%s{\"line\": %d, \"occurrences\": %" PRIu64
			", \"mem_usage\": %" PRIu64 ", \"increment\": %" PRId64,
			first ? "" : ",", indent, line, ls->occurrences,
			ls->mem_usage, ls->increment);
		if (opts->peak)
			fprintf(out, ", \"peak\": %" PRIu64, ls->peak);
		if (opts->heap)
			fprintf(out,
				", \"heap_alloc\": %" PRIu64
				", \"heap_freed\": %" PRIu64
				", \"heap_blocks\": %" PRIu64
				", \"heap_retained\": %" PRIu64
				", \"heap_leaked\": %" PRIu64,
				ls->heap_alloc, ls->heap_freed, ls->heap_blocks,
				ls->heap_retained, ls->heap_leaked);
		if (contents) {
			fputs(", \"contents\": ", out);
			json_string(out, source_line(src, line));
		}
		fputc('}', out);
		first = false;
	}
	fputc(']', out);
}

static void json_summary(FILE *out, const struct account *acct, size_t idx)
{
	struct summary_row *rows;
	size_t n = account_summary(acct, (int)idx, &rows);

	fputs(",\n     \"summary\": [", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out,
			"%s{\"line\": %d, \"size\": %" PRIu64
			", \"count\": %" PRIu64 ", \"total\": %" PRIu64 "}",
			i ? ", " : "", rows[i].line, rows[i].size,
			rows[i].count, rows[i].total);
	fputc(']', out);
	free(rows);
}

static void json_types(FILE *out, const struct func_stats *f, const char *key,
		       const struct type_row *rows, size_t n)
{
	struct type_row *sorted = sorted_rows(rows, n);

	fprintf(out, ",\n     \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		char *name = type_row_name(f, &sorted[i]);

		fputs(i ? ",\n      {\"type\": " : "\n      {\"type\": ", out);
		json_string(out, name);
		fprintf(out,
			", \"objects\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"blocks\": %" PRIu64,
			sorted[i].objects, sorted[i].bytes, sorted[i].blocks);
		if (!sorted[i].type)
			fprintf(out, ", \"line\": %d", sorted[i].line);
		fputc('}', out);
		free(name);
	}
	fputc(']', out);
	free(sorted);
}

static void json_function(FILE *out, const struct account *acct, size_t idx,
			  const struct report_options *opts)
{
	const struct func_stats *f = account_func(acct, idx);
	struct source *src = source_load(f->file);

	fputs("    {\"name\": ", out);
	json_string(out, f->name);
	fputs(", \"file\": ", out);
	json_string(out, f->file);
	fprintf(out,
		", \"first_line\": %d, \"last_line\": %d, \"calls\": %" PRIu64
		", \"unfinished\": %" PRIu64 ", \"growth\": %" PRId64 ",",
		f->first_line, f->last_line, f->calls, f->unfinished,
		f->growth);
	/* inlined everywhere: the function its copies are in */
	if (f->inlined_into) {
		fputs(" \"inlined_into\": ", out);
		json_string(out, f->inlined_into);
		fputc(',', out);
	}
	fputs("\n     \"lines\": ", out);
	json_lines(out, f, f->lines, src, true, "      ", opts);
	/* the same figures by process (several with -f) */
	fputs(",\n     \"processes\": [", out);
	for (size_t i = 0; i < f->nprocs; i++) {
		const struct proc_stats *p = &f->procs[i];

		fprintf(out,
			"%s\n      {\"pid\": %d, \"calls\": %" PRIu64
			", \"unfinished\": %" PRIu64 ", \"growth\": %" PRId64
			", \"lines\": ",
			i ? "," : "", p->pid, p->calls, p->unfinished,
			p->growth);
		json_lines(out, f, p->lines, src, false, "        ", opts);
		fputc('}', out);
	}
	fputc(']', out);
	if (opts->summary)
		json_summary(out, acct, idx);
	if (opts->types) {
		json_types(out, f, "types", f->types, f->ntypes);
		json_types(out, f, "freed_types", f->freed, f->nfreed);
	}
	fputc('}', out);
	source_free(src);
}

static void json_stats(FILE *out, const struct report_stats *st)
{
	fprintf(out,
		",\n \"stats\": {\"line_events\": %" PRIu64
		", \"stops\": %" PRIu64 ", \"stepped\": %" PRIu64
		", \"stepped_sites\": %zu, \"ring_events\": %" PRIu64
		", \"jump_sites\": %zu, \"alloc_calls\": %" PRIu64
		", \"alloc_records\": %" PRIu64 ", \"alloc_stops\": %" PRIu64
		", \"alloc_stopping\": ",
		st->line_events, st->stops, st->stepped, st->stepped_sites,
		st->ring_events, st->jump_sites, st->alloc_calls,
		st->alloc_records, st->alloc_stops);
	json_string(out, st->alloc_stopping ? st->alloc_stopping : "");
	fprintf(out, ", \"tracer_seconds\": %.6f, \"program_seconds\": %.6f}",
		st->tracer_seconds, st->program_seconds);
}

void report_write_stats(FILE *out, const struct report_stats *st)
{
	double per_event = st->line_events
				   ? (double)st->stops / (double)st->line_events
				   : 0.0;

	fprintf(out,
		"memprof: %" PRIu64 " line events, %" PRIu64
		" ptrace stops (%.2f per line event); %.3f s in the tracer, "
		"%.3f s in the program\n",
		st->line_events, st->stops, per_event, st->tracer_seconds,
		st->program_seconds);
	if (st->jump_sites)
		fprintf(out,
			"memprof: %" PRIu64 " line events recorded in the "
			"program without a stop (%zu sites jump to a stub)\n",
			st->ring_events, st->jump_sites);
	if (st->alloc_calls || st->alloc_records || st->alloc_stops)
		fprintf(out,
			"memprof: %" PRIu64 " allocator calls, %" PRIu64
			" allocator events recorded in the program, %" PRIu64
			" stops at the allocator\n",
			st->alloc_calls, st->alloc_records, st->alloc_stops);
	if (st->alloc_stopping && *st->alloc_stopping)
		fprintf(out, "memprof: the allocator's calls stop in %s\n",
			st->alloc_stopping);
	if (st->stepped)
		fprintf(out,
			"memprof: %" PRIu64 " stops single-stepped in place "
			"(%zu breakpoints without an out-of-line copy)\n",
			st->stepped, st->stepped_sites);
}

static void write_json(FILE *out, const struct account *acct,
		       const struct run_status *status, char *const argv[],
		       const struct report_options *opts)
{
	size_t n = account_func_count(acct);

	fputs("{\"version\": 1,\n \"command\": [", out);
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			fputs(", ", out);
		json_string(out, argv[i]);
	}
	fputs("],\n \"status\": ", out);
	json_status(out, status);
	if (opts->stats)
		json_stats(out, opts->stats);
	fputs(",\n \"functions\": [", out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", out);
		json_function(out, acct, i, opts);
	}
	fputs(n ? "\n ]}\n" : "]}\n", out);
}

/* One CSV field, quoted as RFC 4180 says when it must be. */
static void csv_field(FILE *out, const char *s)
{
	if (!s)
		s = "";
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* A figure, or an empty field when it was not measured. */
static void csv_figure(FILE *out, bool measured, uint64_t v)
{
	if (measured)
		fprintf(out, ",%" PRIu64, v);
	else
		fputc(',', out);
}

/* The same columns in the same order whatever was asked for (what was
 * not measured is empty), one row a line and process, contents last. */
static void write_csv(FILE *out, const struct account *acct,
		      const struct report_options *opts)
{
	fputs("function,file,line,mem_usage,increment,occurrences,pid,peak,"
	      "heap_alloc,heap_freed,heap_blocks,heap_retained,heap_leaked,"
	      "contents\n",
	      out);
	for (size_t i = 0; i < account_func_count(acct); i++) {
		const struct func_stats *f = account_func(acct, i);
		struct source *src = source_load(f->file);

		for (int line = f->first_line; line <= f->last_line; line++) {
			for (size_t k = 0; k < f->nprocs; k++) {
				const struct line_stats *ls =
					&f->procs[k]
						 .lines[line - f->first_line];

				if (!ls->occurrences)
					continue;
				csv_field(out, f->name);
				fputc(',', out);
				csv_field(out, f->file);
				fprintf(out,
					",%d,%" PRIu64 ",%" PRId64 ",%" PRIu64
					",%d",
					line, ls->mem_usage, ls->increment,
					ls->occurrences, f->procs[k].pid);
				csv_figure(out, opts->peak, ls->peak);
				csv_figure(out, opts->heap, ls->heap_alloc);
				csv_figure(out, opts->heap, ls->heap_freed);
				csv_figure(out, opts->heap, ls->heap_blocks);
				csv_figure(out, opts->heap, ls->heap_retained);
				csv_figure(out, opts->heap, ls->heap_leaked);
				fputc(',', out);
				csv_field(out, source_line(src, line));
				fputs("\n", out);
			}
		}
		source_free(src);
	}
}

int report_write(FILE *out, const struct account *acct,
		 const struct report_options *opts,
		 const struct run_status *status, char *const argv[])
{
	switch (opts->format) {
	case REPORT_TEXT:
		for (size_t i = 0; i < account_func_count(acct); i++)
			text_function(out, acct, i, opts);
		break;
	case REPORT_JSON:
		write_json(out, acct, status, argv, opts);
		break;
	case REPORT_CSV:
		write_csv(out, acct, opts);
		break;
	}
	if (fflush(out) != 0 || ferror(out)) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

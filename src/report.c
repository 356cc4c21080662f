/* The report: memory_profiler's table, JSON or CSV. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "report.h"
#include "source.h"
#include "util.h"

#define MIB 1048576.0

/* memory_profiler's row template: '{0:>6} {1:>12} {2:>12}  {3:>10}   {4:<}'. */
static void text_row(FILE *out, const char *lineno, const char *mem,
		     const char *inc, const char *occ, const char *contents)
{
	fprintf(out, "%6s %12s %12s  %10s   %s\n", lineno, mem, inc, occ,
		contents);
}

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

static void text_function(FILE *out, const struct func_stats *f, int precision)
{
	struct source *src = source_load(f->file);
	const char *after = source_line(src, f->last_line + 1);
	/* some compilers give the closing brace no code of its own */
	int shown_last = after && is_closing_brace(after) ? f->last_line + 1
							  : f->last_line;
	char header[128];
	int len;

	fprintf(out, "Filename: %s\n\n", f->file);
	len = snprintf(header, sizeof(header), "%6s %12s %12s  %10s   %s",
		       "Line #", "Mem usage", "Increment", "Occurrences",
		       "Line Contents");
	fprintf(out, "%s\n%.*s\n", header, len,
		"========================================================"
		"========================================================");
	for (int line = f->first_line; line <= shown_last; line++) {
		const struct line_stats *ls =
			line <= f->last_line ? &f->lines[line - f->first_line]
					     : NULL;
		const char *contents = source_line(src, line);
		char lineno[16], mem[64] = "", inc[64] = "", occ[32] = "";

		snprintf(lineno, sizeof(lineno), "%d", line);
		if (ls && ls->occurrences) {
			format_mib(mem, sizeof(mem), (double)ls->mem_usage,
				   precision);
			format_mib(inc, sizeof(inc), (double)ls->increment,
				   precision);
			snprintf(occ, sizeof(occ), "%" PRIu64, ls->occurrences);
		}
		text_row(out, lineno, mem, inc, occ, contents ? contents : "");
	}
	if (f->calls == 0)
		fprintf(out, "\nNote: %s was never called.\n", f->name);
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
		       bool contents, const char *indent)
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
		if (contents) {
			fputs(", \"contents\": ", out);
			json_string(out, source_line(src, line));
		}
		fputc('}', out);
		first = false;
	}
	fputc(']', out);
}

static void json_function(FILE *out, const struct func_stats *f)
{
	struct source *src = source_load(f->file);

	fputs("    {\"name\": ", out);
	json_string(out, f->name);
	fputs(", \"file\": ", out);
	json_string(out, f->file);
	fprintf(out,
		", \"first_line\": %d, \"last_line\": %d, \"calls\": %" PRIu64
		", \"growth\": %" PRId64 ",\n     \"lines\": ",
		f->first_line, f->last_line, f->calls, f->growth);
	json_lines(out, f, f->lines, src, true, "      ");
	/* the same figures by process (several with -f) */
	fputs(",\n     \"processes\": [", out);
	for (size_t i = 0; i < f->nprocs; i++) {
		const struct proc_stats *p = &f->procs[i];

		fprintf(out,
			"%s\n      {\"pid\": %d, \"calls\": %" PRIu64
			", \"growth\": %" PRId64 ", \"lines\": ",
			i ? "," : "", p->pid, p->calls, p->growth);
		json_lines(out, f, p->lines, src, false, "        ");
		fputc('}', out);
	}
	fputs("]}", out);
	source_free(src);
}

static void write_json(FILE *out, const struct account *acct,
		       const struct run_status *status, char *const argv[])
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
	fputs(",\n \"functions\": [", out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", out);
		json_function(out, account_func(acct, i));
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

static void write_csv(FILE *out, const struct account *acct)
{
	fputs("function,file,line,mem_usage,increment,occurrences,contents\n",
	      out);
	for (size_t i = 0; i < account_func_count(acct); i++) {
		const struct func_stats *f = account_func(acct, i);
		struct source *src = source_load(f->file);

		for (int line = f->first_line; line <= f->last_line; line++) {
			const struct line_stats *ls =
				&f->lines[line - f->first_line];

			if (!ls->occurrences)
				continue;
			csv_field(out, f->name);
			fputc(',', out);
			csv_field(out, f->file);
			fprintf(out, ",%d,%" PRIu64 ",%" PRId64 ",%" PRIu64 ",",
				line, ls->mem_usage, ls->increment,
				ls->occurrences);
			csv_field(out, source_line(src, line));
			fputs("\n", out);
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
			text_function(out, account_func(acct, i),
				      opts->precision);
		break;
	case REPORT_JSON:
		write_json(out, acct, status, argv);
		break;
	case REPORT_CSV:
		write_csv(out, acct);
		break;
	}
	if (fflush(out) != 0 || ferror(out)) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

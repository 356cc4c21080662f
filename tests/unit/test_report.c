/* The report (memory_profiler's table, JSON, CSV) and the source reader,
 * from a hand-made accounting and a temporary source file. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/account.h"
#include "../../src/report.h"
#include "../../src/source.h"
#include "unit.h"

#define MIB 1048576

static const char grow_source[] = "#include <stdlib.h>\n"
				  "\n"
				  "char *grow(void)\n"
				  "{\n"
				  "\tchar *p = malloc(1 << 20);\n"
				  "\treturn p;\n"
				  "}\n";

#define HEADER                                                                 \
	"Line #    Mem usage    Increment  Occurrences   Line Contents\n"      \
	"=============================================================\n"

#define GROW_ROWS                                                              \
	"     3      1.0 MiB      0.0 MiB           1   char *grow(void)\n"    \
	"     4                                         {\n"                   \
	"     5      2.5 MiB      1.5 MiB           1   \tchar *p = malloc(1 " \
	"<< 20);\n"                                                            \
	"     6      2.5 MiB      0.0 MiB           1   \treturn p;\n"         \
	"     7                                         }\n"

static char path[64];
static char arg0[] = "./prog", arg1[] = "20000";
static char *const argv[] = {arg0, arg1, NULL};
static const struct run_status exited = {RUN_EXITED, 0};

static void write_source(const char *text)
{
	int fd;

	strcpy(path, "/tmp/memprof-unit-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

/* grow (lines 3 to 7) called once: 1 MiB at entry, 1.5 MiB more on line 5. */
static struct account *grow_account(const char *file)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "grow", file, 3, 7);

	account_enter(acct, 1, 1, f, 1 * MIB);
	account_line(acct, 1, 5, 1 * MIB);
	account_line(acct, 1, 6, 5 * MIB / 2);
	account_return(acct, 1, 5 * MIB / 2);
	return acct;
}

static char *render(const struct account *acct, enum report_format format,
		    int precision, const struct run_status *status,
		    char *const *args)
{
	struct report_options opts = {.format = format, .precision = precision};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	CHECK_EQ_INT(report_write(out, acct, &opts, status, args), 0);
	fclose(out);
	return buf;
}

/* TEXT without the whitespace outside JSON strings. */
static char *squeeze_json(const char *text)
{
	char *out = malloc(strlen(text) + 1), *o = out;
	bool in_string = false;

	for (const char *s = text; *s; s++) {
		if (in_string && *s == '\\' && s[1]) {
			*o++ = *s++;
		} else if (*s == '"') {
			in_string = !in_string;
		} else if (!in_string && strchr(" \t\r\n", *s)) {
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* Brackets balance outside strings, and strings hold no raw control
 * characters. */
static bool json_well_formed(const char *text)
{
	char stack[64];
	int depth = 0;
	bool in_string = false;

	for (const char *s = text; *s; s++) {
		if (in_string) {
			if ((unsigned char)*s < 0x20)
				return false;
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				in_string = false;
		} else if (*s == '"') {
			in_string = true;
		} else if (*s == '{' || *s == '[') {
			if (depth == 64)
				return false;
			stack[depth++] = *s == '{' ? '}' : ']';
		} else if (*s == '}' || *s == ']') {
			if (!depth || stack[--depth] != *s)
				return false;
		}
	}
	return depth == 0 && !in_string;
}

/* Parses one RFC 4180 record at *S into FIELDS (up to MAX, each up to 255
 * bytes); returns the field count and moves *S past the record. */
static int csv_record(const char **s, char fields[][256], int max)
{
	const char *p = *s;
	int n = 0;

	for (;;) {
		char *f = n < max ? fields[n] : NULL;
		size_t len = 0;

		if (*p == '"') {
			for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
				if (*p == '"')
					p++;
				if (f && len < 255)
					f[len++] = *p;
			}
			if (*p == '"')
				p++;
		} else {
			for (; *p && *p != ',' && *p != '\n' && *p != '\r'; p++)
				if (f && len < 255)
					f[len++] = *p;
		}
		if (f)
			f[len] = '\0';
		n++;
		if (*p != ',')
			break;
		p++;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	*s = p;
	return n;
}

static void source_serves_lines(void)
{
	struct source *src;

	write_source("one\ntwo\n\nfour");
	src = source_load(path);
	CHECK(src != NULL);
	if (src) {
		CHECK_EQ_INT(source_line_count(src), 4);
		CHECK_EQ_STR(source_line(src, 1), "one");
		CHECK_EQ_STR(source_line(src, 3), "");
		CHECK_EQ_STR(source_line(src, 4), "four");
		CHECK(source_line(src, 5) == NULL);
		CHECK(source_line(src, 0) == NULL);
		source_free(src);
	}
	unlink(path);
	CHECK(source_load("/nonexistent/memprof/x.c") == NULL);
}

static void text_table_is_memory_profilers(void)
{
	struct account *acct;
	char *got, *want;

	write_source(grow_source);
	acct = grow_account(path);
	got = render(acct, REPORT_TEXT, 1, &exited, argv);
	CHECK(asprintf(&want, "Filename: %s\n\n" HEADER GROW_ROWS "\n\n",
		       path) > 0);
	CHECK_EQ_STR(got, want);
	free(got);
	free(want);
	account_free(acct);
	unlink(path);
}

static void text_precision_and_negative_increment(void)
{
	struct account *acct = account_new();
	int f;
	char *got;

	write_source(grow_source);
	f = account_add_func(acct, "grow", path, 3, 3);
	account_enter(acct, 1, 1, f, MIB);
	account_return(acct, 1, MIB / 2);
	got = render(acct, REPORT_TEXT, 2, &exited, argv);
	CHECK(strstr(got,
		     HEADER "     3     0.50 MiB    -0.50 MiB"
			    "           1   char *grow(void)\n\n\n") != NULL);
	free(got);
	account_free(acct);
	unlink(path);
}

static void text_never_called_has_table_and_note(void)
{
	struct account *acct = account_new();
	char *got, *want, *note;

	write_source(grow_source);
	account_add_func(acct, "grow", path, 3, 4);
	got = render(acct, REPORT_TEXT, 1, &exited, argv);
	CHECK(asprintf(&want,
		       "Filename: %s\n\n" HEADER
		       "     3                                         "
		       "char *grow(void)\n"
		       "     4                                         {\n",
		       path) > 0);
	CHECK(strncmp(got, want, strlen(want)) == 0);
	note = strstr(got, "Note: grow was never called.\n");
	CHECK(note != NULL);
	CHECK(note == NULL || note > got + strlen(want) - 1);
	free(got);
	free(want);
	account_free(acct);
	unlink(path);
}

static void text_missing_source_has_empty_rows_and_note(void)
{
	const char *file = "/nonexistent/memprof/x.c";
	struct account *acct = account_new();
	int f = account_add_func(acct, "lost", file, 3, 4);
	char *got;

	account_enter(acct, 1, 1, f, MIB);
	account_return(acct, 1, MIB);
	got = render(acct, REPORT_TEXT, 1, &exited, argv);
	CHECK(strncmp(got,
		      "Filename: /nonexistent/memprof/x.c\n\n" HEADER
		      "     3      1.0 MiB      0.0 MiB           1   \n"
		      "     4                                         \n",
		      strlen("Filename: /nonexistent/memprof/x.c\n\n" HEADER) +
			      2 * 48) == 0);
	CHECK(strstr(got, "Note: source file not found: "
			  "/nonexistent/memprof/x.c\n") != NULL);
	free(got);
	account_free(acct);
}

static void text_one_table_per_function_in_order(void)
{
	struct account *acct;
	char *got, *want;

	write_source(grow_source);
	acct = grow_account(path);
	account_add_func(acct, "head", path, 1, 1);
	account_enter(acct, 1, 1, 1, MIB);
	account_return(acct, 1, 2 * MIB);
	got = render(acct, REPORT_TEXT, 1, &exited, argv);
	CHECK(asprintf(&want,
		       "Filename: %s\n\n" HEADER GROW_ROWS "\n\n"
		       "Filename: %s\n\n" HEADER
		       "     1      2.0 MiB      1.0 MiB           1   "
		       "#include <stdlib.h>\n\n\n",
		       path, path) > 0);
	CHECK_EQ_STR(got, want);
	free(got);
	free(want);
	account_free(acct);
	unlink(path);
}

static void json_has_the_contract_fields(void)
{
	struct account *acct;
	char *got, *flat, *want;

	write_source(grow_source);
	acct = grow_account(path);
	got = render(acct, REPORT_JSON, 1, &exited, argv);
	CHECK(json_well_formed(got));
	flat = squeeze_json(got);
	CHECK(strncmp(flat, "{\"version\":1,", 13) == 0);
	CHECK(strstr(flat, "\"command\":[\"./prog\",\"20000\"]") != NULL);
	CHECK(strstr(flat, "\"status\":{\"exit\":0}") != NULL);
	CHECK(asprintf(&want,
		       "\"functions\":[{\"name\":\"grow\",\"file\":\"%s\","
		       "\"first_line\":3,\"last_line\":7,",
		       path) > 0);
	CHECK(strstr(flat, want) != NULL);
	CHECK(strstr(flat, "\"calls\":1,") != NULL);
	CHECK(strstr(flat, "\"growth\":1572864") != NULL);
	CHECK(strstr(flat, "\"lines\":[{\"line\":3,\"occurrences\":1,"
			   "\"mem_usage\":1048576,\"increment\":0,"
			   "\"contents\":\"char *grow(void)\"") != NULL);
	CHECK(strstr(flat,
		     "{\"line\":5,\"occurrences\":1,"
		     "\"mem_usage\":2621440,\"increment\":1572864,"
		     "\"contents\":\"\\tchar *p = malloc(1 << 20);\"") != NULL);
	free(got);
	free(flat);
	free(want);
	account_free(acct);
	unlink(path);
}

static void json_lists_only_lines_with_events(void)
{
	struct account *acct;
	char *got, *flat;

	write_source(grow_source);
	acct = grow_account(path);
	got = render(acct, REPORT_JSON, 1, &exited, argv);
	flat = squeeze_json(got);
	CHECK(strstr(flat, "{\"line\":3,") != NULL);
	CHECK(strstr(flat, "{\"line\":4,") == NULL);
	CHECK(strstr(flat, "{\"line\":6,") != NULL);
	CHECK(strstr(flat, "{\"line\":7,") == NULL);
	free(got);
	free(flat);
	account_free(acct);
	unlink(path);
}

static void json_escapes_strings(void)
{
	struct account *acct = account_new();
	static char quoted[] = "a\"b\\c";
	char *const args[] = {arg0, quoted, NULL};
	char *got, *flat;
	int f;

	write_source("void f(void)\n\tputs(\"a\\b\");\n");
	f = account_add_func(acct, "f", path, 1, 2);
	account_enter(acct, 1, 1, f, MIB);
	account_line(acct, 1, 2, MIB);
	account_return(acct, 1, MIB);
	got = render(acct, REPORT_JSON, 1, &exited, args);
	CHECK(json_well_formed(got));
	flat = squeeze_json(got);
	CHECK(strstr(flat, "\"command\":[\"./prog\",\"a\\\"b\\\\c\"]") != NULL);
	CHECK(strstr(flat, "\"contents\":\"\\tputs(\\\"a\\\\b\\\");\"") !=
	      NULL);
	free(got);
	free(flat);
	account_free(acct);
	unlink(path);
}

static void json_signal_status_is_named(void)
{
	const struct run_status segv = {RUN_SIGNALED, 11};
	struct account *acct;
	char *got, *flat;

	write_source(grow_source);
	acct = grow_account(path);
	got = render(acct, REPORT_JSON, 1, &segv, argv);
	flat = squeeze_json(got);
	CHECK(strstr(flat, "\"status\":{\"signal\":11,\"name\":\"SIGSEGV\"}") !=
	      NULL);
	free(got);
	free(flat);
	account_free(acct);
	unlink(path);
}

/* Finds the CSV record of LINE in TEXT (after the header) into FIELDS. */
static bool csv_row(const char *text, int line, char fields[][256])
{
	const char *p = text;

	csv_record(&p, fields, 14);
	while (*p) {
		if (csv_record(&p, fields, 14) == 14 && atoi(fields[2]) == line)
			return true;
	}
	return false;
}

static void csv_has_header_and_rows(void)
{
	static const char header[] =
		"function,file,line,mem_usage,increment,occurrences,pid,peak,"
		"heap_alloc,heap_freed,heap_blocks,heap_retained,heap_leaked,"
		"contents";
	struct account *acct;
	char fields[14][256];
	char *got;

	write_source(grow_source);
	acct = grow_account(path);
	got = render(acct, REPORT_CSV, 1, &exited, argv);
	CHECK(strncmp(got, header, strlen(header)) == 0);
	CHECK(got[strlen(header)] == '\n' || got[strlen(header)] == '\r');
	CHECK(csv_row(got, 3, fields));
	CHECK(csv_row(got, 5, fields));
	CHECK_EQ_STR(fields[0], "grow");
	CHECK_EQ_STR(fields[1], path);
	CHECK_EQ_STR(fields[3], "2621440");
	CHECK_EQ_STR(fields[4], "1572864");
	CHECK_EQ_STR(fields[5], "1");
	CHECK_EQ_STR(fields[6], "1"); /* the pid */
	CHECK_EQ_STR(fields[7], "");  /* peak: not measured */
	CHECK_EQ_STR(fields[12], ""); /* heap_leaked: not measured */
	CHECK_EQ_STR(fields[13], "\tchar *p = malloc(1 << 20);");
	free(got);
	account_free(acct);
	unlink(path);
}

static void csv_quotes_commas_and_quotes(void)
{
	struct account *acct = account_new();
	char fields[14][256];
	char *got;
	int f;

	write_source("void f(void)\n\tprintf(\"a, b\");\n");
	f = account_add_func(acct, "f", path, 1, 2);
	account_enter(acct, 1, 1, f, MIB);
	account_line(acct, 1, 2, MIB);
	account_return(acct, 1, MIB);
	got = render(acct, REPORT_CSV, 1, &exited, argv);
	/* the only RFC 4180 spelling of that field */
	CHECK(strstr(got, ",\"\tprintf(\"\"a, b\"\");\"\n") != NULL ||
	      strstr(got, ",\"\tprintf(\"\"a, b\"\");\"\r\n") != NULL);
	CHECK(csv_row(got, 2, fields));
	CHECK_EQ_STR(fields[0], "f");
	CHECK_EQ_STR(fields[13], "\tprintf(\"a, b\");");
	free(got);
	account_free(acct);
	unlink(path);
}

int main(void)
{
	RUN(source_serves_lines);
	RUN(text_table_is_memory_profilers);
	RUN(text_precision_and_negative_increment);
	RUN(text_never_called_has_table_and_note);
	RUN(text_missing_source_has_empty_rows_and_note);
	RUN(text_one_table_per_function_in_order);
	RUN(json_has_the_contract_fields);
	RUN(json_lists_only_lines_with_events);
	RUN(json_escapes_strings);
	RUN(json_signal_status_is_named);
	RUN(csv_has_header_and_rows);
	RUN(csv_quotes_commas_and_quotes);
	UNIT_EXIT();
}

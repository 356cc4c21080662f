/* The report's layout, from a hand-made accounting and source file. */
#include <stdlib.h>
#include <unistd.h>

#include "../../src/account.h"
#include "../../src/report.h"
#include "unit.h"

#define MIB 1048576

static char source_path[] = "/tmp/memprof-unit-XXXXXX";

static void write_source(void)
{
	static const char text[] = "int f(void)\n"
				   "{\n"
				   "\tchar *p = grab();\n"
				   "\treturn say(\"a\\\\b\", p);\n"
				   "}\n";
	int fd = mkstemp(source_path);

	CHECK(fd >= 0);
	CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
	close(fd);
}

/* f on lines 1-5: header, brace (no event), 3 lines with events. */
static struct account *sample(void)
{
	struct account *a = account_new();
	int f = account_add_func(a, "f", source_path, 1, 5);

	account_enter(a, 100, 1, f, 10 * MIB);
	account_line(a, 1, 3, 10 * MIB);
	account_line(a, 1, 4, 13 * MIB + MIB / 2);
	account_line(a, 1, 5, 12 * MIB);
	account_return(a, 1, 12 * MIB);
	return a;
}

static char *render(const struct account *a, enum report_format format,
		    int precision, const struct run_status *status)
{
	static char *const argv[] = {"./prog", "x y", NULL};
	struct report_options opts = {.format = format, .precision = precision};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	CHECK(report_write(out, a, &opts, status, argv) == 0);
	fclose(out);
	return buf;
}

static const struct run_status exited = {.how = RUN_EXITED, .code = 0};

static void text_layout(void)
{
	struct account *a = sample();
	char *got = render(a, REPORT_TEXT, 1, &exited);
	char *want = NULL;

	if (asprintf(&want,
		     "Filename: %s\n\n"
		     "Line #    Mem usage    Increment  Occurrences   Line "
		     "Contents\n"
		     "========================================================="
		     "====\n"
		     "     1     10.0 MiB      0.0 MiB           1   int "
		     "f(void)\n"
		     "     2                                         {\n"
		     "     3     13.5 MiB      3.5 MiB           1   \tchar *p "
		     "= grab();\n"
		     "     4     12.0 MiB     -1.5 MiB           1   \treturn "
		     "say(\"a\\\\b\", p);\n"
		     "     5     12.0 MiB      0.0 MiB           1   }\n"
		     "\n\n",
		     source_path) < 0)
		abort();
	CHECK_STR(got, want);
	free(got);
	free(want);
	account_free(a);
}

static void text_precision(void)
{
	struct account *a = sample();
	char *got = render(a, REPORT_TEXT, 3, &exited);

	CHECK(strstr(got, "     3   13.500 MiB    3.500 MiB           1   ") !=
	      NULL);
	free(got);
	got = render(a, REPORT_TEXT, 0, &exited);
	CHECK(strstr(got, "     3       14 MiB        4 MiB           1   ") !=
	      NULL);
	free(got);
	account_free(a);
}

static void never_called_and_missing_source(void)
{
	struct account *a = account_new();
	char *got;

	account_add_func(a, "lost", "/nonexistent/lost.c", 7, 8);
	got = render(a, REPORT_TEXT, 1, &exited);
	CHECK(strstr(got, "Filename: /nonexistent/lost.c\n\n") == got);
	CHECK(strstr(got,
		     "     7                                         \n"
		     "     8                                         \n") !=
	      NULL);
	CHECK(strstr(got, "\nNote: lost was never called.\n") != NULL);
	CHECK(strstr(got,
		     "\nNote: source file not found: /nonexistent/lost.c\n") !=
	      NULL);
	free(got);
	account_free(a);
}

static void json_document(void)
{
	struct account *a = sample();
	struct run_status killed = {.how = RUN_SIGNALED, .code = 11};
	char *got = render(a, REPORT_JSON, 1, &killed);

	CHECK(strstr(got, "{\"version\": 1,") == got);
	CHECK(strstr(got, "\"command\": [\"./prog\", \"x y\"]") != NULL);
	CHECK(strstr(got,
		     "\"status\": {\"signal\": 11, \"name\": \"SIGSEGV\"}") !=
	      NULL);
	CHECK(strstr(got, "\"first_line\": 1, \"last_line\": 5, \"calls\": 1, "
			  "\"growth\": 2097152") != NULL);
	CHECK(strstr(got,
		     "{\"line\": 4, \"occurrences\": 1, \"mem_usage\": "
		     "12582912, \"increment\": -1572864, \"contents\": "
		     "\"\\treturn say(\\\"a\\\\\\\\b\\\", p);\"}") != NULL);
	/* only lines with events */
	CHECK(strstr(got, "{\"line\": 2,") == NULL);
	free(got);
	got = render(a, REPORT_JSON, 1, &exited);
	CHECK(strstr(got, "\"status\": {\"exit\": 0}") != NULL);
	free(got);
	account_free(a);
}

static void csv_rows(void)
{
	struct account *a = sample();
	char *got = render(a, REPORT_CSV, 1, &exited);
	char *want = NULL;

	if (asprintf(&want,
		     "function,file,line,mem_usage,increment,occurrences,"
		     "contents\n"
		     "f,%s,1,10485760,0,1,int f(void)\n"
		     "f,%s,3,14155776,3670016,1,\tchar *p = grab();\n"
		     "f,%s,4,12582912,-1572864,1,\"\treturn "
		     "say(\"\"a\\\\b\"\", p);\"\n"
		     "f,%s,5,12582912,0,1,}\n",
		     source_path, source_path, source_path, source_path) < 0)
		abort();
	CHECK_STR(got, want);
	free(got);
	free(want);
	account_free(a);
}

int main(void)
{
	write_source();
	RUN(text_layout);
	RUN(text_precision);
	RUN(never_called_and_missing_source);
	RUN(json_document);
	RUN(csv_rows);
	unlink(source_path);
	UNIT_EXIT();
}

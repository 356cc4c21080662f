/* The reports byte for byte: the text table (default, every column, six
 * decimals), the CSV and the JSON of one synthetic run at awkward values
 * (1.96 MiB, 97.7 KiB, negative increments, a loop line run three
 * times), against the files in tests/golden/. The source path, which
 * changes from run to run, reads @SRC@ there.
 *
 * MEMPROF_GOLDEN_UPDATE=1 rewrites the files instead; read the diff
 * before committing it: every figure in them was checked by hand. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/account.h"
#include "../../src/report.h"
#include "unit.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden"
#endif

#define MIB 1048576
#define PID 4242

static const char work_source[] = "#include <stdlib.h>\n"
				  "\n"
				  "void work(int n)\n"
				  "{\n"
				  "\tchar *a = malloc(100045);\n"
				  "\tchar *b = load(n, \"x,y\");\n"
				  "\tfree(a);\n"
				  "\tfor (int i = 0; i < n; i++) s += b[i];\n"
				  "\tb = shrink(b);\n"
				  "\treturn;\n"
				  "}\n"
				  "\n"
				  "void idle(void)\n"
				  "{\n"
				  "}\n";

static char path[64];
static char arg0[] = "./work", arg1[] = "3";
static char *const argv[] = {arg0, arg1, NULL};

/* RSS at each step, in bytes; none a multiple of 0.05 MiB. */
#define R_ENTRY 2055209u		/* 1.96 MiB: 2.0, not 1.9 */
#define R_5 (R_ENTRY + 102400u)		/* +0.0977 MiB: 0.1 */
#define R_6 (R_5 + 12u * MIB + 524295u) /* +12.5 MiB and 7 B */
#define R_7 (R_6 - 358400u)		/* -0.3418 MiB: -0.3 */
#define R_8A (R_7 + 4096u)		/* the loop, three times */
#define R_8B (R_8A + 4096u)
#define R_8C (R_8B + 61440u)
#define R_9 (R_8C - 3u * MIB - 838861u)	   /* -3.8 MiB */
#define PEAK_6 (R_5 + 20u * MIB + 987654u) /* a transient on line 6 */

/* work (lines 3 to 11) called once, idle (13 to 15) never. */
static struct account *work_account(const char *file)
{
	struct account *acct = account_new();
	int f = account_add_func(acct, "work", file, 3, 11);

	account_add_func(acct, "idle", file, 13, 15);
	account_enter(acct, PID, PID, f, R_ENTRY);
	account_line(acct, PID, 5, R_ENTRY);
	account_heap_alloc(acct, PID, 0x1000, 100045); /* 97.7 KiB */
	account_line(acct, PID, 6, R_5);
	account_heap_alloc(acct, PID, 0x2000, 5000);
	account_heap_alloc(acct, PID, 0x3000, 12u * MIB + 524295u);
	account_peak(acct, PID, PEAK_6);
	account_line(acct, PID, 7, R_6);
	account_heap_free(acct, PID, 0x1000);
	account_line(acct, PID, 8, R_7);
	account_line(acct, PID, 8, R_8A);
	account_line(acct, PID, 8, R_8B);
	account_line(acct, PID, 9, R_8C);
	account_heap_free(acct, PID, 0x2000);
	account_heap_alloc(acct, PID, 0x4000, 10240);
	account_line(acct, PID, 10, R_9);
	account_return(acct, PID, R_9);
	account_heap_leaks(acct);
	return acct;
}

static char *render(const struct account *acct, enum report_format format,
		    int precision, bool peak, bool heap, bool summary)
{
	struct report_options opts = {.format = format,
				      .precision = precision,
				      .peak = peak,
				      .heap = heap,
				      .summary = summary};
	const struct run_status exited = {RUN_EXITED, 0};
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	CHECK_EQ_INT(report_write(out, acct, &opts, &exited, argv), 0);
	fclose(out);
	return buf;
}

/* TEXT with every occurrence of PATH spelled @SRC@, in a new string. */
static char *placeholder(const char *text)
{
	size_t plen = strlen(path);
	char *out = malloc(strlen(text) + 1), *o = out;

	for (const char *s = text; *s;) {
		if (strncmp(s, path, plen) == 0) {
			memcpy(o, "@SRC@", 5);
			o += 5;
			s += plen;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static char *slurp(const char *file)
{
	FILE *in = fopen(file, "r");
	char *buf = NULL;
	size_t len = 0, got;
	char chunk[4096];
	FILE *mem;

	if (!in)
		return NULL;
	mem = open_memstream(&buf, &len);
	while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
		fwrite(chunk, 1, got, mem);
	fclose(in);
	fclose(mem);
	return buf;
}

/* Compares GOT (after the placeholder) with GOLDEN_DIR/NAME byte for
 * byte; on a difference, shows the first line that differs. */
static void golden(const char *name, const char *got_raw)
{
	char *file, *want, *got = placeholder(got_raw);

	CHECK(asprintf(&file, "%s/%s", GOLDEN_DIR, name) > 0);
	if (getenv("MEMPROF_GOLDEN_UPDATE")) {
		FILE *out = fopen(file, "w");

		CHECK(out != NULL);
		if (out) {
			fputs(got, out);
			CHECK(fclose(out) == 0);
		}
	}
	want = slurp(file);
	if (!want) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		unit_failures++;
	} else if (strcmp(got, want) != 0) {
		const char *g = got, *w = want;
		int line = 1;

		while (*g && *g == *w) {
			if (*g == '\n')
				line++;
			g++;
			w++;
		}
		while (g > got && g[-1] != '\n') {
			g--;
			w--;
		}
		fprintf(stderr,
			"%s differs at line %d:\n  got:  [%.*s]\n  want: "
			"[%.*s]\n",
			file, line, (int)strcspn(g, "\n"), g,
			(int)strcspn(w, "\n"), w);
		unit_failures++;
	}
	free(file);
	free(want);
	free(got);
}

static void write_source(void)
{
	int fd;

	strcpy(path, "/tmp/memprof-golden-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ_INT(write(fd, work_source, strlen(work_source)),
		     (long long)strlen(work_source));
	close(fd);
}

static struct account *run;

static void text_default(void)
{
	char *got = render(run, REPORT_TEXT, 1, false, false, false);

	golden("work.txt", got);
	free(got);
}

static void text_every_column(void)
{
	char *got = render(run, REPORT_TEXT, 1, true, true, true);

	golden("work-all.txt", got);
	free(got);
}

static void text_six_decimals(void)
{
	char *got = render(run, REPORT_TEXT, 6, true, true, false);

	golden("work-p6.txt", got);
	free(got);
}

static void csv_every_column(void)
{
	char *got = render(run, REPORT_CSV, 1, true, true, false);

	golden("work.csv", got);
	free(got);
}

static void csv_default(void)
{
	char *got = render(run, REPORT_CSV, 1, false, false, false);

	golden("work-default.csv", got);
	free(got);
}

static void json_every_field(void)
{
	char *got = render(run, REPORT_JSON, 1, true, true, true);

	golden("work.json", got);
	free(got);
}

int main(void)
{
	write_source();
	run = work_account(path);
	RUN(text_default);
	RUN(text_every_column);
	RUN(text_six_decimals);
	RUN(csv_default);
	RUN(csv_every_column);
	RUN(json_every_field);
	account_free(run);
	unlink(path);
	UNIT_EXIT();
}

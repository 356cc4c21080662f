#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "graph.h"
#include "util.h"

static const char usage_line[] =
	"usage: memprof [OPTIONS] --func NAME [--func NAME ...] [--] "
	"PROGRAM [ARGS...]\n"
	"       memprof [OPTIONS] --func NAME [--func NAME ...] -p PID";

static void print_help(void)
{
	printf("%s\n\n", usage_line);
	puts("Runs PROGRAM and prints, for each function NAME, the memory "
	     "(resident set\nsize) used line by line: Mem usage, Increment "
	     "and Occurrences of each\nsource line, as memory_profiler does "
	     "for Python. PROGRAM needs debug\ninformation (-g); it is not "
	     "rebuilt or changed.\n\n"
	     "Options:\n"
	     "      --func NAME       profile function NAME (repeatable); "
	     "FILE.c:NAME picks\n"
	     "                        a static one by its file, LIB:NAME one "
	     "of a library\n"
	     "                        (also loaded later); C++: ns::Class::f,"
	     " ns::f(int)\n"
	     "  -f, --follow-forks    profile the processes the program forks"
	     " too, and\n"
	     "                        the programs they execute\n"
	     "  -p, --pid PID         profile the running process PID until it"
	     " ends, or\n"
	     "                        Ctrl-C, then let it go on\n"
	     "      --duration SECS   with -p: let it go after SECS seconds\n"
	     "  -o, --output FILE     write the report to FILE (default: "
	     "standard error;\n"
	     "                        - for standard output)\n"
	     "      --format FMT      text (default), json or csv\n"
	     "      --precision N     decimals of MiB in the table (0-6, "
	     "default 1)\n"
	     "      --peak            a Peak column: the highest RSS while "
	     "the line ran\n"
	     "      --heap            heap columns: bytes allocated and freed "
	     "on the line,\n"
	     "                        blocks, net, retained after the call, "
	     "leaked at exit\n"
	     "      --summary         after the run, the live blocks each "
	     "function made,\n"
	     "                        by line and size (implies --heap)\n"
	     "      --types           after each table, the live blocks its "
	     "calls made, by C\n"
	     "                        type, and those they freed (implies "
	     "--heap)\n"
	     "      --stats           line events, stops and times: after "
	     "the table, in\n"
	     "                        the JSON, on standard error with CSV\n"
	     "      --engine ENGINE   how line events are taken: jump "
	     "(default: recorded\n"
	     "                        inside the program, no stop), copy "
	     "(a stop at an\n"
	     "                        int3, the instruction run out of "
	     "line) or step (a\n"
	     "                        stop, the byte put back and "
	     "single-stepped)\n"
	     "      --same-cpu        run memprof and the program on one CPU:"
	     " stops cost\n"
	     "                        several times less, but the program's "
	     "threads\n"
	     "                        share that CPU\n"
	     "      --every-instruction\n"
	     "                        a breakpoint on every instruction of "
	     "the functions\n"
	     "                        (a check of the relocator; the table "
	     "is the same)\n"
	     "  -h, --help            show this help\n"
	     "  -V, --version         show the version\n\n"
	     "Exit status: the program's own; 128+N when signal N killed "
	     "it; 2 usage\nerror; 3 the program cannot be profiled; 4 ptrace "
	     "not permitted;\n5 internal error; 126 not executable; 127 "
	     "not found.\n\n"
	     "The functions --func can name: memprof functions PROGRAM "
	     "[PATTERN].\n"
	     "A picture of one variable, as objgraph: memprof graph "
	     "(memprof graph --help).\n"
	     "Memory over time, as mprof: memprof run|attach|plot|list|peak|"
	     "rm|clean\n"
	     "(memprof run --help, memprof plot --help).\n\n"
	     "See memprof(1) for the meaning of every figure.");
}

static void __attribute__((noreturn))
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "memprof: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'memprof --help')\n");
	exit(EXIT_USAGE);
}

static enum report_format parse_format(const char *arg)
{
	if (strcmp(arg, "text") == 0)
		return REPORT_TEXT;
	if (strcmp(arg, "json") == 0)
		return REPORT_JSON;
	if (strcmp(arg, "csv") == 0)
		return REPORT_CSV;
	usage_error("unknown format '%s': use text, json or csv", arg);
}

static int parse_precision(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || n < 0 || n > 6)
		usage_error("bad precision '%s': use a number from 0 to 6",
			    arg);
	return (int)n;
}

enum {
	OPT_FUNC = 256,
	OPT_FORMAT,
	OPT_PRECISION,
	OPT_STATS,
	OPT_ENGINE,
	OPT_EVERY_INSN,
	OPT_SAME_CPU,
	OPT_DURATION,
	OPT_PEAK,
	OPT_HEAP,
	OPT_SUMMARY,
	OPT_TYPES,
};

static int parse_pid(const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || n <= 0 || n > INT32_MAX)
		usage_error("bad process id '%s'", arg);
	return (int)n;
}

static double parse_duration(const char *arg)
{
	char *end;
	double d = strtod(arg, &end);

	if (*arg == '\0' || *end != '\0' || !(d > 0) || d > 1e9)
		usage_error("bad duration '%s': give seconds, more than 0",
			    arg);
	return d;
}

static void parse_engine(const char *arg, struct options *opts)
{
	opts->step = strcmp(arg, "step") == 0;
	opts->jump = strcmp(arg, "jump") == 0;
	opts->engine_given = true;
	if (!opts->step && !opts->jump && strcmp(arg, "copy") != 0)
		usage_error("unknown engine '%s': use copy, jump or step", arg);
}

static const struct option long_options[] = {
	{"func", required_argument, NULL, OPT_FUNC},
	{"output", required_argument, NULL, 'o'},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"stats", no_argument, NULL, OPT_STATS},
	{"engine", required_argument, NULL, OPT_ENGINE},
	{"every-instruction", no_argument, NULL, OPT_EVERY_INSN},
	{"same-cpu", no_argument, NULL, OPT_SAME_CPU},
	{"follow-forks", no_argument, NULL, 'f'},
	{"pid", required_argument, NULL, 'p'},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"peak", no_argument, NULL, OPT_PEAK},
	{"heap", no_argument, NULL, OPT_HEAP},
	{"summary", no_argument, NULL, OPT_SUMMARY},
	{"types", no_argument, NULL, OPT_TYPES},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

void cli_parse(int argc, char **argv, struct options *opts)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	if (argc < 2) {
		fprintf(stderr, "%s\n", usage_line);
		exit(EXIT_USAGE);
	}
	opts->format = REPORT_TEXT;
	opts->precision = 1;
	opts->jump = true;
	opterr = 0;
	/* '+': options end at PROGRAM, whose own options are its own */
	while ((c = getopt_long(argc, argv, "+:o:fp:hV", long_options, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_FUNC:
			if (!*optarg)
				usage_error("%s--func needs a function name",
					    "");
			opts->funcs = xrealloc(opts->funcs,
					       (opts->nfuncs + 1) *
						       sizeof(*opts->funcs));
			opts->funcs[opts->nfuncs++] = optarg;
			break;
		case 'o':
			if (!*optarg)
				usage_error("%s-o needs a file name (- for "
					    "standard output)",
					    "");
			opts->output = optarg;
			break;
		case OPT_FORMAT:
			opts->format = parse_format(optarg);
			break;
		case OPT_PRECISION:
			opts->precision = parse_precision(optarg);
			break;
		case OPT_STATS:
			opts->stats = true;
			break;
		case OPT_ENGINE:
			parse_engine(optarg, opts);
			break;
		case OPT_EVERY_INSN:
			opts->every_insn = true;
			break;
		case OPT_SAME_CPU:
			opts->same_cpu = true;
			break;
		case 'f':
			opts->follow_forks = true;
			break;
		case 'p':
			opts->pid = parse_pid(optarg);
			break;
		case OPT_PEAK:
			opts->peak = true;
			break;
		case OPT_HEAP:
			opts->heap = true;
			break;
		case OPT_SUMMARY:
			opts->summary = opts->heap = true;
			break;
		case OPT_TYPES:
			opts->types = opts->heap = true;
			break;
		case OPT_DURATION:
			opts->duration = parse_duration(optarg);
			break;
		case 'h':
			print_help();
			exit(0);
		case 'V':
			printf("memprof %s\n", PACKAGE_VERSION);
			exit(0);
		case ':':
			usage_error("option '%s' needs a value",
				    argv[optind - 1]);
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (opts->pid && optind < argc)
		usage_error("give a program to run or -p PID, not both (%s)",
			    argv[optind]);
	if (!opts->pid && optind >= argc)
		usage_error("%sno program to run", "");
	if (opts->duration > 0 && !opts->pid)
		usage_error("%s--duration goes with -p PID", "");
	if (opts->nfuncs == 0)
		usage_error("%sno function to profile: give --func NAME", "");
	/* a CSV report is one table of lines: the others would be lost */
	if (opts->format == REPORT_CSV && (opts->summary || opts->types))
		usage_error("%s has no place in a CSV report: use --format "
			    "json or text",
			    opts->summary ? "--summary" : "--types");
	opts->argv = opts->pid ? NULL : argv + optind;
}

static const char graph_usage[] =
	"Usage: memprof graph --func NAME --var EXPR [--at LINE|return] "
	"[--call K]\n"
	"                     [--max-depth N] [--too-many N] -o FILE [--] "
	"PROGRAM [ARGS...]";

static void print_graph_help(void)
{
	printf("%s\n\n", graph_usage);
	puts("Runs PROGRAM and stops it once in the function NAME: when it "
	     "reaches LINE,\nor just before it returns (the default); in its "
	     "first call, or the K-th.\nThere it draws EXPR (lessons, "
	     "lessons[0], root->left, *p) and what its\npointers reach, "
	     "through the C types of the debug information, as objgraph's\n"
	     "show_refs does: one node per object, one edge per pointer. "
	     "Then the program\nruns on to its end.\n\n"
	     "  --func NAME       the function\n"
	     "  --var EXPR        the variable, a parameter or a global, "
	     "with ->, ., [N], *\n"
	     "  --at LINE|return  when (default: return)\n"
	     "  --call K          in the K-th call (default 1)\n"
	     "  --max-depth N     pointers followed from EXPR, at most "
	     "(default 3)\n"
	     "  --too-many N      edges drawn from one object, at most; the "
	     "rest are one\n"
	     "                    \"+M more\" node (default 10)\n"
	     "  -o FILE           FILE.dot (Graphviz dot), FILE.svg, "
	     "FILE.png or FILE.pdf\n\n"
	     "Exit status: the program's own; 2 usage error (also a --var "
	     "that is not\nthere or holds no pointer, a LINE without code); "
	     "3 the program cannot be\nprofiled, or never got there; 5 the "
	     "picture could not be written.");
}

/* A number of graph's options: at least MIN. */
static long graph_number(const char *opt, const char *arg, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min)
		cli_sub_error("graph",
			      "%s needs a number, %ld or more, not '%s'", opt,
			      min, arg);
	return v;
}

void cli_parse_graph(int argc, char **argv, struct options *opts)
{
	enum { G_FUNC = 256, G_VAR, G_AT, G_CALL, G_DEPTH, G_MANY };
	static const struct option longopts[] = {
		{"func", required_argument, NULL, G_FUNC},
		{"var", required_argument, NULL, G_VAR},
		{"at", required_argument, NULL, G_AT},
		{"call", required_argument, NULL, G_CALL},
		{"max-depth", required_argument, NULL, G_DEPTH},
		{"too-many", required_argument, NULL, G_MANY},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->graph = opts->heap = true;
	opts->format = REPORT_TEXT;
	opts->precision = 1;
	opts->call = 1;
	opts->max_depth = 3;
	opts->too_many = 10;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case G_FUNC:
			if (opts->nfuncs)
				cli_sub_error("graph", "one --func only");
			opts->funcs = xcalloc(1, sizeof(*opts->funcs));
			opts->funcs[opts->nfuncs++] = optarg;
			break;
		case G_VAR:
			opts->var = optarg;
			break;
		case G_AT:
			opts->at_line =
				strcmp(optarg, "return") == 0
					? 0
					: (int)graph_number("--at", optarg, 1);
			break;
		case G_CALL:
			opts->call = (unsigned long)graph_number("--call",
								 optarg, 1);
			break;
		case G_DEPTH:
			opts->max_depth =
				(int)graph_number("--max-depth", optarg, 0);
			break;
		case G_MANY:
			opts->too_many =
				(int)graph_number("--too-many", optarg, 1);
			break;
		case 'o':
			opts->output = optarg;
			break;
		case 'h':
			print_graph_help();
			exit(0);
		default:
			cli_sub_bad_option("graph", c, argv, longopts);
		}
	}
	if (!opts->nfuncs)
		cli_sub_error("graph", "no function: give --func NAME");
	if (!opts->var || !*opts->var)
		cli_sub_error("graph", "nothing to draw: give --var EXPR");
	if (!opts->output)
		cli_sub_error("graph", "no picture: give -o FILE.dot (or "
				       ".svg, .png, .pdf)");
	if (!*opts->output)
		cli_sub_error("graph", "-o needs a file name: FILE.dot, .svg, "
				       ".png or .pdf");
	if (!graph_format_of(opts->output, &opts->graph_format))
		cli_sub_error("graph",
			      "%s: write .dot, .svg, .png or .pdf (the name "
			      "tells which)",
			      opts->output);
	if (optind >= argc)
		cli_sub_error("graph", "no program to run");
	if (opts->max_depth > 100)
		opts->max_depth = 100;
	opts->argv = argv + optind;
}

void cli_free(struct options *opts)
{
	free(opts->funcs);
	opts->funcs = NULL;
}

void cli_sub_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "memprof %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'memprof %s --help')\n", cmd);
	exit(EXIT_USAGE);
}

/* The long option ARG names, if it is one of LONGOPTS with value VAL. */
static bool is_long_option(const char *arg, int val,
			   const struct option *longopts)
{
	size_t len;

	if (strncmp(arg, "--", 2) != 0)
		return false;
	arg += 2;
	len = strcspn(arg, "=");
	for (const struct option *o = longopts; o && o->name; o++) {
		if (o->val == val && strncmp(o->name, arg, len) == 0)
			return true;
	}
	return false;
}

void cli_sub_bad_option(const char *cmd, int c, char **argv,
			const struct option *longopts)
{
	const char *arg = argv[optind - 1];
	int len = (int)strcspn(arg, "=");

	/* optopt is 0 for an unknown long option, the option's value for a
	 * known one used wrongly, the letter for a short one */
	if (optopt == 0 || is_long_option(arg, optopt, longopts)) {
		if (c == ':')
			cli_sub_error(cmd, "option %.*s needs a value", len,
				      arg);
		if (optopt == 0)
			cli_sub_error(cmd, "unknown option %.*s", len, arg);
		cli_sub_error(cmd, "option %.*s takes no value", len, arg);
	}
	if (c == ':')
		cli_sub_error(cmd, "option -%c needs a value", optopt);
	cli_sub_error(cmd, "unknown option -%c", optopt);
}

/* The name of user UID, or its number. */
static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	return pw ? xstrdup(pw->pw_name) : xasprintf("uid %u", (unsigned)uid);
}

void cli_check_traceable(int pid)
{
	char path[64];
	struct stat st;
	char *owner, *me;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			die(EXIT_PROGRAM,
			    "cannot attach to %d: no such process", pid);
		return;
	}
	/* root may trace anyone; ptrace itself says the rest */
	if (geteuid() == 0 || st.st_uid == geteuid())
		return;
	owner = user_name(st.st_uid);
	me = user_name(geteuid());
	warn_msg("cannot attach to process %d: it belongs to %s and memprof "
		 "runs as %s; only its owner or root may trace it",
		 pid, owner, me);
	free(owner);
	free(me);
	exit(EXIT_PTRACE);
}

/* The command line of process PID, for the report. */
char **cli_command_of(int pid)
{
	char path[64], buf[4096];
	char **argv;
	size_t n = 0, argc = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0) {
		argv = xcalloc(2, sizeof(*argv));
		argv[0] = xasprintf("%d", pid);
		return argv;
	}
	buf[len] = '\0';
	for (ssize_t i = 0; i < len; i++)
		argc += buf[i] == '\0';
	if (buf[len - 1] != '\0')
		argc++;
	argv = xcalloc(argc + 1, sizeof(*argv));
	for (char *p = buf; p < buf + len && n < argc; p += strlen(p) + 1)
		argv[n++] = xstrdup(p);
	return argv;
}

void cli_free_command(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

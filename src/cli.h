/* The command line, parsed into options. */
#ifndef MEMPROF_CLI_H
#define MEMPROF_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "report.h"

struct options {
	char **funcs; /* the --func specs, in order */
	size_t nfuncs;
	const char *output; /* -o FILE, or NULL for standard error */
	enum report_format format;
	int precision;
	bool stats;
	bool step;	   /* --engine step: restore, single-step, re-insert */
	bool jump;	   /* --engine jump: line events recorded in-process */
	bool engine_given; /* --engine, as opposed to the default */
	bool every_insn;   /* --every-instruction */
	bool calls_only;   /* memprof run: only where calls begin and end */
	bool same_cpu;	   /* --same-cpu */
	bool peak;	   /* --peak */
	bool heap;	   /* --heap */
	bool summary;	   /* --summary (implies --heap) */
	bool types;	   /* --types (implies --heap) */
	bool follow_forks; /* -f */
	int pid;	   /* -p PID: attach; 0 to start ARGV */
	double duration;   /* --duration SECONDS with -p; 0: none */
	char **argv;	   /* the program and its arguments */
	/* memprof graph: what to draw, and when */
	bool graph;
	const char *var;	  /* --var EXPR */
	int at_line;		  /* --at LINE; 0: just before it returns */
	unsigned long call;	  /* --call K: the K-th call (from 1) */
	int max_depth, too_many;  /* --max-depth, --too-many */
	const char *graph_format; /* from -o's name: dot, svg, png, pdf */
};

/* Parses ARGV; prints help or version and exits 0 when asked, prints one
 * line and exits EXIT_USAGE on a usage error. */
void cli_parse(int argc, char **argv, struct options *opts);
void cli_free(struct options *opts);
/* The same for memprof graph (ARGV[0] is "graph"). */
void cli_parse_graph(int argc, char **argv, struct options *opts);

struct option;

/* Before tracing process PID: exits EXIT_PTRACE saying so when it belongs
 * to another user (only root may trace it then), EXIT_PROGRAM when there
 * is no such process. */
void cli_check_traceable(int pid);

/* The command line of process PID (its pid alone when unreadable), a
 * NULL-terminated array of new strings; cli_free_command frees it. */
char **cli_command_of(int pid);
void cli_free_command(char **argv);

/* A usage error of subcommand CMD ("memprof CMD: MESSAGE (see 'memprof
 * CMD --help')"), exit EXIT_USAGE. */
void cli_sub_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* After getopt_long returned C ('?' or ':') for subcommand CMD: names the
 * option it did not understand, or the one missing its value, and exits
 * EXIT_USAGE. */
void cli_sub_bad_option(const char *cmd, int c, char **argv,
			const struct option *longopts)
	__attribute__((noreturn));

#endif

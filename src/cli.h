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
	bool follow_forks; /* -f */
	int pid;	   /* -p PID: attach; 0 to start ARGV */
	double duration;   /* --duration SECONDS with -p; 0: none */
	char **argv;	   /* the program and its arguments */
};

/* Parses ARGV; prints help or version and exits 0 when asked, prints one
 * line and exits EXIT_USAGE on a usage error. */
void cli_parse(int argc, char **argv, struct options *opts);
void cli_free(struct options *opts);

#endif

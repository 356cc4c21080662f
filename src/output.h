/* Where a report goes: standard error, standard output, or a file that is
 * replaced whole, or not at all, when the report is complete. */
#ifndef MEMPROF_OUTPUT_H
#define MEMPROF_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct output {
	FILE *stream;	  /* where the report is written */
	const char *file; /* as given (-o), or NULL for standard error */
	char *target;	  /* the file the temporary one replaces */
	char *tmp;	  /* the temporary file, or NULL: written in place */
};

/* Opens FILE for the report: NULL or "/dev/stderr" is standard error,
 * "-" or "/dev/stdout" standard output. A regular file (or a symbolic
 * link to one) is written beside itself and renamed into place, keeping
 * its mode, or taking the umask's when new; anything else is written in
 * place. Returns 0, or -1 after saying why. */
int output_open(struct output *out, const char *file);
/* Checks that every byte reached its place and puts the file there.
 * Returns 0, or -1 after saying why; the old file is then left as it
 * was. */
int output_commit(struct output *out);
/* Gives up: the old file stays as it was. */
void output_abandon(struct output *out);

#endif

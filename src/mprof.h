/* mprof's .dat files, as memory_profiler's mprof writes and reads them:
 *   CMDLINE <command>
 *   MEM <MiB> <unix time>
 *   CHLD <child> <MiB> <unix time>
 *   FUNC <name> <start MiB> <start time> <end MiB> <end time> [<level>]
 * Pure: text in, plain structs out. */
#ifndef MEMPROF_MPROF_H
#define MEMPROF_MPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct mprof_sample {
	double mib, time;
};

struct mprof_series { /* one child's samples (CHLD) */
	char *name;
	struct mprof_sample *samples;
	size_t n;
};

struct mprof_call { /* one call of a function (FUNC) */
	char *name;
	double start_mib, start, end_mib, end;
	int level;
};

struct mprof_data {
	char *path;
	char *cmdline;
	struct mprof_sample *mem;
	size_t nmem;
	struct mprof_series *children;
	size_t nchildren;
	struct mprof_call *calls;
	size_t ncalls;
};

/* Reads PATH. NULL with a message "PATH:LINE: why" (or "PATH: why") in
 * *ERR when it cannot be read or is not an mprof file. */
struct mprof_data *mprof_read(const char *path, char **err);
/* The same from an open stream, PATH naming it in messages. */
struct mprof_data *mprof_parse(FILE *in, const char *path, char **err);
void mprof_free(struct mprof_data *d);

/* The highest MEM figure (MiB), and when; false when there is none. */
bool mprof_peak(const struct mprof_data *d, double *mib, double *time);
/* The highest MEM figure within the calls of FUNC (as mprof peak --func);
 * false when FUNC has no call or no sample falls within one. */
bool mprof_peak_in(const struct mprof_data *d, const char *func, double *mib);

/* The least-squares line through the MEM samples and both ends of each
 * call (what mprof plot --slope fits): MiB = A * t + B, t in seconds from
 * mprof_first_time(D). False with fewer than two distinct times. */
bool mprof_trend(const struct mprof_data *d, double *a, double *b);
/* The earliest time of D's MEM samples and calls. */
double mprof_first_time(const struct mprof_data *d);

/* Lines as mprof writes them. */
void mprof_write_cmdline(FILE *out, char *const argv[]);
void mprof_write_mem(FILE *out, double mib, double time);
void mprof_write_child(FILE *out, int child, double mib, double time);
void mprof_write_func(FILE *out, const char *name, double start_mib,
		      double start, double end_mib, double end, int level);

/* The .dat files in the current directory, oldest first, as mprof lists
 * them (mprofile_YYYYmmddHHMMSS.dat, and _N.dat after a name taken). */
size_t mprof_list(char ***names);
/* Creates mprofile_YYYYmmddHHMMSS.dat for now, or with _2, _3... when
 * another run of the same second has that name: never an existing file.
 * Its name in *NAME (a new string); NULL with errno when it cannot. */
FILE *mprof_create_default(char **name);

#endif

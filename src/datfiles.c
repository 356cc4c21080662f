/* list / peak / rm / clean over mprofile_*.dat files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "datfiles.h"
#include "mprof.h"
#include "util.h"

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The command line of list, peak, rm and clean, as mprof reads it: a
 * negative number is an index from the end, not an option. */
struct dat_args {
	const char *cmd;
	bool dry_run;	  /* rm, clean: --dry-run */
	const char *func; /* peak: --func NAME */
	char **names;	  /* numbers or files, in order */
	int nnames;
};

static const char *usage_of(const char *cmd)
{
	if (strcmp(cmd, "list") == 0)
		return "usage: memprof list";
	if (strcmp(cmd, "peak") == 0)
		return "usage: memprof peak [--func NAME] [N|FILE ...]";
	if (strcmp(cmd, "rm") == 0)
		return "usage: memprof rm [--dry-run] N|FILE ...";
	return "usage: memprof clean [--dry-run]";
}

static void __attribute__((noreturn)) print_dat_help(const char *cmd)
{
	printf("%s\n\n", usage_of(cmd));
	if (strcmp(cmd, "list") == 0)
		puts("Lists the mprofile_*.dat files of the current directory, "
		     "oldest first,\neach with its number (for peak and rm) "
		     "and its date.");
	else if (strcmp(cmd, "peak") == 0)
		puts("Prints the highest memory of each profile (the newest "
		     "here by default),\nand of each child process it "
		     "recorded. N is a number from 'memprof\nlist'; negative "
		     "numbers count from the end (-1: the newest).\n\n"
		     "      --func NAME   the peak within the calls of NAME "
		     "only\n"
		     "  -h, --help        show this help");
	else if (strcmp(cmd, "rm") == 0)
		puts("Removes the profiles given by number (see 'memprof "
		     "list') or file name;\nwhen one of them is not there, "
		     "removes none.\n\n"
		     "      --dry-run   print what would be removed, remove "
		     "nothing\n"
		     "  -h, --help      show this help");
	else
		puts("Removes every mprofile_*.dat file of the current "
		     "directory.\n\n"
		     "      --dry-run   print what would be removed, remove "
		     "nothing\n"
		     "  -h, --help      show this help");
	exit(0);
}

static bool is_index(const char *arg)
{
	if (*arg == '-')
		arg++;
	return *arg && strspn(arg, "0123456789") == strlen(arg);
}

/* Fills A from ARGV; help exits 0, anything not understood exits
 * EXIT_USAGE before any file is touched. */
static void parse_dat_args(int argc, char **argv, struct dat_args *a)
{
	bool options = true;

	memset(a, 0, sizeof(*a));
	a->cmd = argv[0];
	a->names = xcalloc((size_t)argc, sizeof(*a->names));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool removes = strcmp(a->cmd, "rm") == 0 ||
			       strcmp(a->cmd, "clean") == 0;

		if (!options || *arg != '-' || !arg[1] || is_index(arg)) {
			a->names[a->nnames++] = argv[i];
		} else if (strcmp(arg, "--") == 0) {
			options = false;
		} else if (strcmp(arg, "-h") == 0 ||
			   strcmp(arg, "--help") == 0) {
			free(a->names);
			print_dat_help(a->cmd);
		} else if (removes && strcmp(arg, "--dry-run") == 0) {
			a->dry_run = true;
		} else if (strcmp(a->cmd, "peak") == 0 &&
			   strncmp(arg, "--func=", 7) == 0) {
			a->func = arg + 7;
		} else if (strcmp(a->cmd, "peak") == 0 &&
			   strcmp(arg, "--func") == 0) {
			if (i + 1 == argc) {
				free(a->names);
				cli_sub_error(a->cmd,
					      "option --func needs a value");
			}
			a->func = argv[++i];
		} else {
			free(a->names);
			cli_sub_error(a->cmd, "unknown option %.*s",
				      (int)strcspn(arg, "="), arg);
		}
	}
	if (a->func && !*a->func) {
		free(a->names);
		cli_sub_error(a->cmd, "option --func needs a value");
	}
	if (a->nnames &&
	    (strcmp(a->cmd, "list") == 0 || strcmp(a->cmd, "clean") == 0)) {
		const char *first = a->names[0];

		free(a->names);
		cli_sub_error(a->cmd, "takes no argument, not '%s'", first);
	}
	if (a->nnames == 0 && strcmp(a->cmd, "rm") == 0) {
		free(a->names);
		cli_sub_error(a->cmd, "give the profiles to remove, by number "
				      "or file name (see 'memprof list')");
	}
}

static int list(void)
{
	char **names;
	size_t n = mprof_list(&names);

	for (size_t i = 0; i < n; i++) {
		/* mprofile_YYYYmmddHHMMSS.dat */
		const char *t = names[i] + strlen("mprofile_");
		printf("%zu %s %.2s:%.2s:%.2s %.2s/%.2s/%.4s\n", i, names[i],
		       t + 8, t + 10, t + 12, t + 6, t + 4, t);
	}
	free_names(names, n);
	return 0;
}

/* NAME as mprof takes it: an index into the list (negative from the
 * end), or a file. A new string; NULL after saying why. */
static char *resolve(const char *name, char **names, size_t n)
{
	char *end;
	long idx = strtol(name, &end, 10);
	struct stat st;

	if (*name && !*end) {
		if (idx < 0)
			idx += (long)n;
		if (idx < 0 || (size_t)idx >= n) {
			warn_msg("no profile number %s here (see 'memprof "
				 "list')",
				 name);
			return NULL;
		}
		return xstrdup(names[idx]);
	}
	if (stat(name, &st) != 0 || !S_ISREG(st.st_mode)) {
		warn_msg("%s: %s", name,
			 errno == ENOENT ? "no such file" : "not a file");
		return NULL;
	}
	return xstrdup(name);
}

/* One profile's peak, and its children's, as mprof peak prints them. */
static void print_peak(const struct mprof_data *d, const char *func)
{
	double mib = 0, when;
	bool found = func ? mprof_peak_in(d, func, &mib)
			  : mprof_peak(d, &mib, &when);

	if (!found) {
		printf("%s\tNaN MiB\n", d->path);
		return;
	}
	printf("%s\t%.3f MiB\n", d->path, mib);
	for (size_t k = 0; !func && k < d->nchildren; k++) {
		double top = 0;

		for (size_t s = 0; s < d->children[k].n; s++)
			if (d->children[k].samples[s].mib > top)
				top = d->children[k].samples[s].mib;
		printf("  Child %s\t\t\t%.3f MiB\n", d->children[k].name, top);
	}
}

static int peak(const struct dat_args *a)
{
	char **names;
	size_t n = mprof_list(&names);
	char *newest = NULL;
	int ret = 0;

	if (a->nnames == 0) {
		if (n == 0) {
			free_names(names, n);
			die(EXIT_USAGE, "no .dat file here: give one, or make "
					"one with 'memprof run'");
		}
		newest = names[n - 1];
	}
	for (int i = 0; i < (newest ? 1 : a->nnames); i++) {
		char *path = newest ? xstrdup(newest)
				    : resolve(a->names[i], names, n);
		char *err = NULL;
		struct mprof_data *d = path ? mprof_read(path, &err) : NULL;

		if (!d) {
			if (err)
				warn_msg("%s", err);
			free(err);
			free(path);
			ret = EXIT_PROGRAM;
			continue;
		}
		print_peak(d, a->func);
		mprof_free(d);
		free(path);
	}
	free_names(names, n);
	return ret;
}

/* rm and clean: every name is resolved before any file is removed, and
 * none is when one of them cannot be. */
static int remove_files(const struct dat_args *a, bool all)
{
	char **names;
	size_t n = mprof_list(&names);
	size_t npaths = all ? n : (size_t)a->nnames;
	char **paths = xcalloc(npaths + 1, sizeof(*paths));
	int ret = 0;

	for (size_t i = 0; i < npaths; i++) {
		paths[i] = all ? xstrdup(names[i])
			       : resolve(a->names[i], names, n);
		if (!paths[i])
			ret = EXIT_PROGRAM;
	}
	if (ret != 0)
		warn_msg("nothing removed");
	else if (a->dry_run)
		puts("Files to be removed: ");
	for (size_t i = 0; ret == 0 && i < npaths; i++) {
		if (a->dry_run) {
			puts(paths[i]);
		} else if (unlink(paths[i]) != 0 && errno != ENOENT) {
			/* ENOENT: given twice */
			warn_msg("cannot remove %s: %s", paths[i],
				 strerror(errno));
			ret = EXIT_PROGRAM;
		}
	}
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free_names(names, n);
	return ret;
}

int datfiles_main(int argc, char **argv)
{
	struct dat_args a;
	int ret;

	parse_dat_args(argc, argv, &a);
	if (strcmp(a.cmd, "list") == 0)
		ret = list();
	else if (strcmp(a.cmd, "peak") == 0)
		ret = peak(&a);
	else
		ret = remove_files(&a, strcmp(a.cmd, "clean") == 0);
	free(a.names);
	return ret;
}

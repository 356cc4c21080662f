/* list / peak / rm / clean over mprofile_*.dat files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datfiles.h"
#include "mprof.h"
#include "util.h"

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
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

static int peak(int argc, char **argv)
{
	char **names;
	size_t n = mprof_list(&names);
	int ret = 0;
	char *last = NULL;

	if (argc < 2) {
		if (n == 0) {
			free_names(names, n);
			die(EXIT_USAGE, "no .dat file here: give one, or make "
					"one with 'memprof run'");
		}
		last = xstrdup(names[n - 1]);
	}
	for (int i = last ? 0 : 1; i < (last ? 1 : argc); i++) {
		char *path = last ? last : resolve(argv[i], names, n);
		char *err = NULL;
		struct mprof_data *d = path ? mprof_read(path, &err) : NULL;
		double mib, when;

		if (!d) {
			if (err)
				warn_msg("%s", err);
			free(err);
			free(path);
			ret = EXIT_PROGRAM;
			continue;
		}
		mprof_peak(d, &mib, &when);
		printf("%s\t%.3f MiB\n", d->path, mib);
		for (size_t k = 0; k < d->nchildren; k++) {
			double top = 0;
			for (size_t s = 0; s < d->children[k].n; s++)
				if (d->children[k].samples[s].mib > top)
					top = d->children[k].samples[s].mib;
			printf("  Child %s\t\t\t%.3f MiB\n",
			       d->children[k].name, top);
		}
		mprof_free(d);
		free(path);
		last = NULL;
		if (argc < 2)
			break;
	}
	free_names(names, n);
	return ret;
}

static int remove_files(int argc, char **argv, bool all)
{
	char **names;
	size_t n = mprof_list(&names);
	bool dry = argc > 1 && strcmp(argv[1], "--dry-run") == 0;
	int first = dry ? 2 : 1, ret = 0;

	if (!all && argc <= first) {
		free_names(names, n);
		die(EXIT_USAGE, "give the profiles to remove, by number or "
				"file name (see 'memprof list')");
	}
	if (dry)
		puts("Files to be removed: ");
	for (size_t i = 0; all && i < n; i++) {
		if (dry)
			puts(names[i]);
		else if (unlink(names[i]) != 0)
			ret = EXIT_PROGRAM;
	}
	/* by number first, all of them, so that numbers keep their meaning */
	char **paths = xcalloc((size_t)argc + 1, sizeof(*paths));
	for (int i = first; !all && i < argc; i++) {
		paths[i] = resolve(argv[i], names, n);
		if (!paths[i])
			ret = EXIT_PROGRAM;
	}
	for (int i = first; !all && i < argc; i++) {
		if (!paths[i])
			continue;
		if (dry)
			puts(paths[i]);
		else if (unlink(paths[i]) != 0) {
			warn_msg("cannot remove %s: %s", paths[i],
				 strerror(errno));
			ret = EXIT_PROGRAM;
		}
		free(paths[i]);
	}
	free(paths);
	free_names(names, n);
	return ret;
}

int datfiles_main(int argc, char **argv)
{
	if (strcmp(argv[0], "list") == 0)
		return list();
	if (strcmp(argv[0], "peak") == 0)
		return peak(argc, argv);
	if (strcmp(argv[0], "rm") == 0)
		return remove_files(argc, argv, false);
	return remove_files(argc, argv, true);
}

/* The report's destination, checked to the last byte. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "util.h"

static const char *name_of(const struct output *out)
{
	if (out->stream == stdout)
		return "standard output";
	if (out->stream == stderr)
		return "standard error";
	return out->file;
}

/* The mode a new file gets: 0666 less the umask. */
static mode_t new_file_mode(void)
{
	mode_t mask = umask(0);

	umask(mask);
	return 0666 & ~mask;
}

/* A temporary file beside TARGET with the mode (and, where permitted, the
 * owner) of ST, or a new file's mode when ST is NULL. */
static int open_beside(struct output *out, const struct stat *st)
{
	int fd;

	out->tmp = xasprintf("%s.XXXXXX", out->target);
	fd = mkostemp(out->tmp, O_CLOEXEC);
	if (fd < 0) {
		free(out->tmp);
		out->tmp = NULL;
		return -1;
	}
	if (st && fchown(fd, st->st_uid, st->st_gid) != 0) {
		/* not ours to give away: the group at least, if we can */
		if (fchown(fd, (uid_t)-1, st->st_gid) != 0)
			errno = 0;
	}
	if (fchmod(fd, st ? st->st_mode & 07777 : new_file_mode()) != 0 ||
	    !(out->stream = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		unlink(out->tmp);
		free(out->tmp);
		out->tmp = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

int output_open(struct output *out, const char *file)
{
	struct stat st;
	bool exists;

	memset(out, 0, sizeof(*out));
	out->file = file;
	out->stream = stderr;
	if (!file || strcmp(file, "/dev/stderr") == 0)
		return 0;
	/* the program's standard output: shared, so never reopened */
	if (strcmp(file, "-") == 0 || strcmp(file, "/dev/stdout") == 0) {
		out->stream = stdout;
		return 0;
	}
	exists = stat(file, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		warn_msg("cannot write %s: it is a directory", file);
		return -1;
	}
	/* a device, a pipe: written in place */
	if (exists && !S_ISREG(st.st_mode)) {
		out->stream = fopen(file, "we");
		if (!out->stream) {
			warn_msg("cannot write %s: %s", file, strerror(errno));
			return -1;
		}
		return 0;
	}
	/* through a symbolic link, the file it names is replaced */
	if (exists && access(file, W_OK) != 0) {
		warn_msg("cannot write %s: %s", file, strerror(errno));
		return -1;
	}
	out->target = exists ? realpath(file, NULL) : xstrdup(file);
	if (out->target && open_beside(out, exists ? &st : NULL) != 0 &&
	    exists) {
		/* a file we may write where no other can be made (a
		 * directory we may not write, /proc): written in place, or
		 * the reason it cannot be */
		free(out->target);
		out->target = NULL;
		out->stream = fopen(file, "we");
		if (out->stream)
			return 0;
	}
	if (!out->target || !out->tmp) {
		warn_msg("cannot write %s: %s", file, strerror(errno));
		output_abandon(out);
		return -1;
	}
	return 0;
}

int output_commit(struct output *out)
{
	const char *name = name_of(out);
	int failed, e;

	if (!out->tmp) {
		failed = fflush(out->stream) != 0 || ferror(out->stream);
		e = errno;
		if (out->stream != stdout && out->stream != stderr &&
		    fclose(out->stream) != 0 && !failed) {
			failed = 1;
			e = errno;
		}
		out->stream = NULL;
		if (failed)
			warn_msg("cannot write the report to %s: %s", name,
				 strerror(e ? e : EIO));
		return failed ? -1 : 0;
	}
	/* fsync: a file system may report a lack of space only then */
	failed = fflush(out->stream) != 0 || ferror(out->stream) ||
		 fsync(fileno(out->stream)) != 0;
	e = errno;
	if (fclose(out->stream) != 0 && !failed) {
		failed = 1;
		e = errno;
	}
	out->stream = NULL;
	if (!failed && rename(out->tmp, out->target) != 0) {
		failed = 1;
		e = errno;
	}
	if (failed) {
		warn_msg("cannot write the report to %s: %s; it is left as it "
			 "was",
			 name, strerror(e ? e : EIO));
		unlink(out->tmp);
	}
	free(out->tmp);
	free(out->target);
	out->tmp = out->target = NULL;
	return failed ? -1 : 0;
}

void output_abandon(struct output *out)
{
	if (out->tmp) {
		if (out->stream)
			fclose(out->stream);
		unlink(out->tmp);
	} else if (out->stream && out->stream != stdout &&
		   out->stream != stderr) {
		fclose(out->stream);
	}
	free(out->tmp);
	free(out->target);
	out->stream = NULL;
	out->tmp = out->target = NULL;
}

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sampler.h"

int sampler_open(struct sampler *s, pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	s->status_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", pid);
	s->clear_refs_fd = open(path, O_WRONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	s->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	s->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	s->last = 0;
	s->hidden = 0;
	return s->statm_fd < 0 ? -1 : 0;
}

uint64_t sampler_statm(struct sampler *s, const char *text, ssize_t n)
{
	uint64_t resident = 0;
	const char *p, *end = text + (n > 0 ? n : 0);

	/* "size resident shared ...": the second number, parsed by hand as
	 * this runs at every line event */
	for (p = text; p < end && *p != ' '; p++)
		;
	if (p + 1 >= end || p[1] < '0' || p[1] > '9')
		return s->last;
	for (p++; p < end && *p >= '0' && *p <= '9'; p++)
		resident = resident * 10 + (uint64_t)(*p - '0');
	resident *= s->page_size;
	s->last = resident > s->hidden ? resident - s->hidden : 0;
	return s->last;
}

uint64_t sampler_rss(struct sampler *s)
{
	char buf[128];
	ssize_t n = pread(s->statm_fd, buf, sizeof(buf), 0);

	return sampler_statm(s, buf, n);
}

/* The minor faults in the text of a stat file (the 10th field, after
 * the command name in parentheses), or -1. */
static int64_t stat_minflt(char *buf, ssize_t n)
{
	unsigned long minflt;
	char *p;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %lu", &minflt) != 1)
		return -1;
	return (int64_t)minflt;
}

int sampler_minflt(struct sampler *s, pid_t pid, pid_t tid, uint32_t *thread,
		   uint32_t *process)
{
	char path[64], buf[1024];
	int64_t t = 0, p;

	if (tid) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		t = stat_minflt(buf,
				fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1));
		if (fd >= 0)
			close(fd);
	}
	p = stat_minflt(buf, s->stat_fd < 0 ? -1
					    : pread(s->stat_fd, buf,
						    sizeof(buf) - 1, 0));
	if (t < 0 || p <= 0)
		return -1;
	if (tid)
		*thread = (uint32_t)t;
	*process = (uint32_t)p;
	return 0;
}

void sampler_close(struct sampler *s)
{
	if (s->statm_fd >= 0)
		close(s->statm_fd);
	if (s->status_fd >= 0)
		close(s->status_fd);
	if (s->clear_refs_fd >= 0)
		close(s->clear_refs_fd);
	if (s->stat_fd >= 0)
		close(s->stat_fd);
	s->statm_fd = s->status_fd = s->clear_refs_fd = s->stat_fd = -1;
}

uint64_t sampler_peak(struct sampler *s)
{
	char buf[2048];
	ssize_t n = pread(s->status_fd, buf, sizeof(buf) - 1, 0);
	const char *p;
	uint64_t kib = 0;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "VmHWM:");
	if (!p)
		return 0;
	for (p += 6; *p == ' ' || *p == '\t'; p++)
		;
	for (; *p >= '0' && *p <= '9'; p++)
		kib = kib * 10 + (uint64_t)(*p - '0');
	return kib * 1024;
}

int sampler_reset_peak(struct sampler *s)
{
	return pwrite(s->clear_refs_fd, "5", 1, 0) == 1 ? 0 : -1;
}

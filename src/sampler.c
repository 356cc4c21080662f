#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sampler.h"

int sampler_open(struct sampler *s, pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	s->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	s->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	s->last = 0;
	return s->statm_fd < 0 ? -1 : 0;
}

uint64_t sampler_rss(struct sampler *s)
{
	char buf[128];
	ssize_t n = pread(s->statm_fd, buf, sizeof(buf) - 1, 0);
	unsigned long long size, resident;

	if (n <= 0)
		return s->last;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) == 2)
		s->last = resident * s->page_size;
	return s->last;
}

void sampler_close(struct sampler *s)
{
	if (s->statm_fd >= 0)
		close(s->statm_fd);
	s->statm_fd = -1;
}

/* Resident set size of the traced process, read at every line event:
 * one pread of /proc/PID/statm on a descriptor kept open. */
#ifndef MEMPROF_SAMPLER_H
#define MEMPROF_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

struct sampler {
	int statm_fd;
	uint64_t page_size;
	uint64_t last; /* the last figure read, in bytes */
};

int sampler_open(struct sampler *s, pid_t pid);
/* RSS in bytes; the last figure read when the process is gone. */
uint64_t sampler_rss(struct sampler *s);
void sampler_close(struct sampler *s);

#endif

/* Resident set size of the traced process, read at every line event:
 * one pread of /proc/PID/statm on a descriptor kept open. */
#ifndef MEMPROF_SAMPLER_H
#define MEMPROF_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

struct sampler {
	int statm_fd;
	int status_fd;	   /* /proc/PID/status, for VmHWM (--peak) */
	int clear_refs_fd; /* /proc/PID/clear_refs, to reset it */
	int stat_fd;	   /* /proc/PID/stat, for its minor faults */
	uint64_t page_size;
	uint64_t last; /* the last figure read, in bytes */
	/* memory of memprof's own in the process (the ring), left out of
	 * every figure */
	uint64_t hidden;
};

int sampler_open(struct sampler *s, pid_t pid);
/* RSS in bytes; the last figure read when the process is gone. */
uint64_t sampler_rss(struct sampler *s);
void sampler_close(struct sampler *s);

/* RSS in bytes from N bytes of statm TEXT (read by the process itself);
 * the last figure when it holds none. */
uint64_t sampler_statm(struct sampler *s, const char *text, ssize_t n);

/* The peak RSS (the kernel's high-water mark, VmHWM) in bytes since the
 * last reset; 0 when it cannot be read. */
uint64_t sampler_peak(struct sampler *s);
/* Resets the high-water mark to the RSS of now (5 to clear_refs). -1
 * with errno where the kernel cannot. */
int sampler_reset_peak(struct sampler *s);

/* The minor faults of thread TID of process PID (not with TID 0) and of
 * the whole process, the low 32 bits. 0, or -1 when they cannot be
 * read. */
int sampler_minflt(struct sampler *s, pid_t pid, pid_t tid, uint32_t *thread,
		   uint32_t *process);

#endif

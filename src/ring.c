/* memprof's side of the ring: made in the program by system calls its
 * stopped thread is made to run, then mapped here too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ring.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#endif

static int64_t call(const struct target *t, pid_t tid, long nr, uint64_t a0,
		    uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		    uint64_t a5)
{
	uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
	int64_t result;

	if (target_syscall(t, tid, nr, args, &result) < 0)
		return -(errno ? errno : EIO);
	return result;
}

int ring_open(struct ring *r, const struct target *t, pid_t tid, uint64_t fixed,
	      uint64_t scratch)
{
	static const char paths[] = "memprof-ring\0/proc/self/statm";
	const size_t statm_at = sizeof("memprof-ring");
	char link[64];
	int64_t fd, addr = -1, statm, err;
	int here;
	void *map;

	memset(r, 0, sizeof(*r));
	if (target_write(t, scratch, paths, sizeof(paths)) < 0)
		return -1;
	fd = call(t, tid, SYS_memfd_create, scratch, MFD_CLOEXEC, 0, 0, 0, 0);
	if (fd < 0)
		goto fail_errno;
	err = call(t, tid, SYS_ftruncate, (uint64_t)fd, RING_BYTES, 0, 0, 0, 0);
	if (err < 0)
		goto fail_fd;
	/* populated now, so that the program's RSS does not grow as the
	 * ring fills: its pages are there from the start */
	addr = call(t, tid, SYS_mmap, fixed, RING_BYTES, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE | (fixed ? MAP_FIXED : 0),
		    (uint64_t)fd, 0);
	if (addr < 0 || (fixed && (uint64_t)addr != fixed)) {
		err = addr < 0 ? addr : -EEXIST;
		goto fail_fd;
	}
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", t->pid, (int)fd);
	here = open(link, O_RDWR | O_CLOEXEC);
	map = here < 0 ? MAP_FAILED
		       : mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE,
			      MAP_SHARED, here, 0);
	err = map == MAP_FAILED ? -errno : 0;
	if (here >= 0)
		close(here);
	call(t, tid, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
	if (err < 0)
		goto fail_map;
	statm = call(t, tid, SYS_openat, (uint64_t)AT_FDCWD, scratch + statm_at,
		     O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (statm < 0) {
		munmap(map, RING_BYTES);
		err = statm;
		goto fail_map;
	}
	r->addr = (uint64_t)addr;
	r->hdr = map;
	r->recs = (struct ring_record *)(r->hdr + 1);
	r->hdr->statm_fd = (int32_t)statm;
	r->hdr->cap = RING_RECORDS;
	return 0;

fail_fd:
	call(t, tid, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0);
fail_map:
	if (addr >= 0 && !fixed)
		call(t, tid, SYS_munmap, (uint64_t)addr, RING_BYTES, 0, 0, 0,
		     0);
	errno = (int)-err;
	return -1;
fail_errno:
	errno = (int)-fd;
	return -1;
}

const struct ring_record *ring_peek(const struct ring *r)
{
	uint64_t tail = r->hdr->tail;
	const struct ring_record *rec = &r->recs[tail & (RING_RECORDS - 1)];

	if (__atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != tail + 1)
		return NULL;
	return rec;
}

struct ring_record *ring_whole_at(const struct ring *r, uint64_t index)
{
	struct ring_record *rec = &r->recs[index & (RING_RECORDS - 1)];

	if (index < r->hdr->tail ||
	    index >= __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&rec->seq, __ATOMIC_ACQUIRE) != index + 1)
		return NULL;
	return rec;
}

uint64_t ring_head(const struct ring *r)
{
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
}

bool ring_in_flight(const struct ring *r)
{
	return r->hdr &&
	       __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE) > r->hdr->tail;
}

void ring_consumed(struct ring *r)
{
	__atomic_store_n(&r->hdr->tail, r->hdr->tail + 1, __ATOMIC_RELEASE);
}

void ring_close(struct ring *r)
{
	if (r->hdr)
		munmap(r->hdr, RING_BYTES);
	memset(r, 0, sizeof(*r));
}

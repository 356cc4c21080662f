/* The out-of-line area, mapped by an mmap the traced thread is made to
 * call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "relocate.h"
#include "util.h"
#include "xol.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096u
#define TRIES 64
#define STEP (1u << 20)
#define MIN_ADDR 0x10000u /* the usual vm.mmap_min_addr */

/* The lowest address of the file mapped at NEAR, read from /proc/PID/maps;
 * NEAR itself when it cannot be told. */
static uint64_t module_low(pid_t pid, uint64_t near)
{
	char path[64], line[4352], file[4096] = "";
	uint64_t low = near, lo, hi;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return near;
	while (fgets(line, sizeof(line), maps)) {
		char name[4096] = "";

		if (sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %*s %*s %*s %*s %4095s",
			   &lo, &hi, name) < 2)
			continue;
		if (near >= lo && near < hi) {
			snprintf(file, sizeof(file), "%s", name);
			break;
		}
	}
	if (file[0]) {
		rewind(maps);
		while (fgets(line, sizeof(line), maps)) {
			char name[4096] = "";

			if (sscanf(line,
				   "%" SCNx64 "-%" SCNx64
				   " %*s %*s %*s %*s %4095s",
				   &lo, &hi, name) == 3 &&
			    strcmp(name, file) == 0 && lo < low)
				low = lo;
		}
	}
	fclose(maps);
	return low;
}

static int64_t inject_mmap(const struct target *t, pid_t tid, uint64_t addr,
			   size_t size, int flags)
{
	uint64_t args[6] = {addr,
			    size,
			    PROT_READ | PROT_EXEC,
			    (uint64_t)(MAP_PRIVATE | MAP_ANONYMOUS | flags),
			    (uint64_t)-1,
			    0};
	int64_t result;

	if (target_syscall(t, tid, SYS_mmap, args, &result) < 0)
		return -errno;
	return result;
}

int xol_map(struct xol *x, const struct target *t, pid_t tid, uint64_t near,
	    size_t size)
{
	uint64_t low = module_low(t->pid, near);
	int64_t got = -ENOMEM;

	size = (size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	memset(x, 0, sizeof(*x));
	/* Below the module: above it the heap grows. */
	for (int i = 0; i < TRIES; i++) {
		uint64_t want = (low & ~(uint64_t)(PAGE - 1)) - size -
				(uint64_t)i * STEP;

		if (want < MIN_ADDR || want > low)
			break;
		got = inject_mmap(t, tid, want, size, MAP_FIXED_NOREPLACE);
		if (got == (int64_t)want)
			break;
		if (got >= 0) {
			/* an old kernel took the address as a hint only */
			break;
		}
		if (got != -EEXIST)
			break;
	}
	if (got < 0)
		got = inject_mmap(t, tid, 0, size, 0);
	if (got < 0) {
		errno = (int)-got;
		return -1;
	}
	x->base = (uint64_t)got;
	x->size = size;
	return 0;
}

int xol_unmap(const struct xol *x, const struct target *t, pid_t tid)
{
	uint64_t args[6] = {x->base, x->size, 0, 0, 0, 0};
	int64_t result;

	if (!x->base)
		return 0;
	if (target_syscall(t, tid, SYS_munmap, args, &result) < 0)
		return -1;
	if (result < 0) {
		errno = (int)-result;
		return -1;
	}
	return 0;
}

uint64_t xol_place(struct xol *x, const struct target *t, const uint8_t *code,
		   size_t avail, uint64_t addr)
{
	struct reloc_copy copy;
	uint64_t at;
	size_t len;

	if (!x->base || x->size - x->used < RELOC_MAX)
		return 0;
	at = x->base + x->used;
	len = relocate(code, avail, addr, at, &copy);
	if (len == 0)
		return 0;
	if (copy.len == 0)
		return addr + len;
	if (target_write(t, at, copy.code, copy.len) < 0)
		return 0;
	/* 16-byte aligned copies, as compilers align jump targets */
	x->used += (copy.len + 15u) & ~15u;
	x->copies++;
	return at;
}

uint64_t xol_put(struct xol *x, const struct target *t, const void *bytes,
		 size_t n)
{
	uint64_t at;

	if (!x->base || x->size - x->used < n)
		return 0;
	at = x->base + x->used;
	if (target_write(t, at, bytes, n) < 0)
		return 0;
	x->used += (n + 15u) & ~15u;
	return at;
}

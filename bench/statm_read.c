/* The floor of an in-process line event: one pread of /proc/self/statm
 * on a descriptor kept open, as the stubs of --engine jump do. Prints
 * microseconds per read. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	struct timespec a, b;
	char buf[32];

	if (fd < 0 || n <= 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		if (pread(fd, buf, sizeof(buf), 0) <= 0)
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 +
			  (double)(b.tv_nsec - a.tv_nsec)) / n / 1e3);
	return 0;
}

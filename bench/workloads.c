/* Workloads for the benchmark; each names the function to profile.
 *   loop N     spin: a tight two-line loop of N iterations
 *   calls N    small: a short function called N times from main
 *   outside N  rarely: profiled, called every 1000th of N rounds of work
 *              done elsewhere, whose time is printed on stderr
 *   churn N    churn: N rounds of malloc(64) and free, for --heap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

long spin(long n)
{
	long total = 0;
	for (long i = 0; i < n; i++)
		total += i ^ (total >> 3);
	return total;
}

long small(long x)
{
	long y = x * 3 + 1;
	return y ^ (y >> 2);
}

long churn(long n)
{
	long sum = 0;
	for (long i = 0; i < n; i++) {
		char *p = malloc(64);
		sum += (long)(p != NULL);
		free(p);
	}
	return sum;
}

long rarely(long seed)
{
	char *buf = malloc(1 << 20);
	memset(buf, (int)seed, 1 << 20);
	long sum = buf[seed & 0xfffff];
	free(buf);
	return sum;
}

/* Code that is not profiled: it must run at native speed. */
static long busy(long round)
{
	unsigned long h = 1469598103934665603ul + (unsigned long)round;

	for (int i = 0; i < 1000; i++)
		h = (h ^ (unsigned long)i) * 1099511628211ul;
	return (long)(h & 0xffff);
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000;
	long result = 0;

	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "loop") == 0) {
		result = spin(n);
	} else if (strcmp(argv[1], "calls") == 0) {
		for (long i = 0; i < n; i++)
			result += small(i);
	} else if (strcmp(argv[1], "churn") == 0) {
		result = churn(n);
	} else if (strcmp(argv[1], "outside") == 0) {
		struct timespec t0, t1;
		double outside = 0;

		for (long r = 0; r < n; r++) {
			if (r % 1000 == 0)
				result += rarely(r);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			result += busy(r);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			outside += (double)(t1.tv_sec - t0.tv_sec) +
				   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		}
		/* the time of the code outside, for the slowdown figure */
		fprintf(stderr, "outside_seconds %.6f\n", outside);
	} else {
		return 2;
	}
	printf("%ld\n", result);
	return 0;
}

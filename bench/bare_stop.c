/* The cost of one bare ptrace stop on this machine: a child hits int3 N
 * times and the tracer only continues it. Prints microseconds per stop.
 * With "same-cpu", tracer and child share one CPU (memprof --same-cpu). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	struct timespec t0, t1;
	int status;
	pid_t pid;

	if (argc > 2 && strcmp(argv[2], "same-cpu") == 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(sched_getcpu(), &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	pid = fork();

	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		for (long i = 0; i < n; i++)
			__asm__ volatile("int3");
		_exit(0);
	}
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ptrace(PTRACE_CONT, pid, 0, 0);
	for (long stops = 0;; stops++) {
		if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
			break;
		ptrace(PTRACE_CONT, pid, 0, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.2f\n", ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
			  (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
				 (double)n);
	return 0;
}

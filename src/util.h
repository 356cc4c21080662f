/* Small helpers shared by every module: allocation that cannot fail
 * silently, and the one-line error messages. */
#ifndef MEMPROF_UTIL_H
#define MEMPROF_UTIL_H

#include <stddef.h>

/* Exit statuses of memprof itself (the program's own pass through). */
enum {
	EXIT_USAGE = 2,	   /* bad command line */
	EXIT_PROGRAM = 3,  /* the program cannot be run or profiled */
	EXIT_PTRACE = 4,   /* ptrace is not permitted here */
	EXIT_INTERNAL = 5, /* memprof failed while the program ran */
};

struct timeval;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* SECONDS as a timeval for a timer: never 0, which would stop it. */
struct timeval timeval_of(double seconds);

/* "memprof: MESSAGE" on stderr. */
void warn_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, then exit with STATUS. */
void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif

/* The event loop: the only module that knows every other one. It turns
 * stops of the traced program into line events for the accounting. */
#ifndef MEMPROF_PROFILER_H
#define MEMPROF_PROFILER_H

#include "session.h"

/* Starts the program stopped at its exec and sets the breakpoints.
 * Returns 0, or memprof's exit status after printing why. */
int profiler_start(struct session *s);
/* Seizes the running process PID and sets the breakpoints. Returns 0,
 * or memprof's exit status after printing why (the process is let go). */
int profiler_attach(struct session *s, pid_t pid);
/* Lets every process go on without us, breakpoints removed; the report
 * covers the time until now. */
void profiler_detach(struct session *s);
/* Runs the program to its end; s->status says how it ended. Returns 0,
 * or memprof's exit status after printing why. */
int profiler_run(struct session *s);
/* Says each --func that no program that ran had, with why and close
 * names; returns EXIT_PROGRAM if there was one, else 0. */
int profiler_report_missing(const struct session *s);
/* Frees what profiler_start made. */
void profiler_end(struct session *s);
/* memprof graph, after the run: the picture to OUT, or why there is
 * none. Returns 0, or memprof's exit status. */
int graph_write(struct session *s, FILE *out);

#endif

/* memprof run and memprof attach: memory of a whole run over time, in
 * mprof's .dat format, with the calls of --func functions marked. */
#ifndef MEMPROF_RECORD_H
#define MEMPROF_RECORD_H

#include <signal.h>

/* ARGV[0] is "run" or "attach". Returns memprof's exit status (the
 * program's own for run). TICK and STOP are set by memprof's signal
 * handlers: a sample is due; stop recording (attach). */
int record_main(int argc, char **argv, volatile sig_atomic_t *tick,
		volatile sig_atomic_t *stop, volatile sig_atomic_t *pid);

#endif

/* memprof list, peak, rm and clean: the .dat files of the current
 * directory, as mprof handles them. */
#ifndef MEMPROF_DATFILES_H
#define MEMPROF_DATFILES_H

/* ARGV[0] is "list", "peak", "rm" or "clean". Returns the exit status. */
int datfiles_main(int argc, char **argv);

#endif

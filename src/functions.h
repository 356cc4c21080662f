/* memprof functions PROGRAM [PATTERN]: the functions --func can name,
 * from the debug information of the program and the libraries it needs,
 * without running it. */
#ifndef MEMPROF_FUNCTIONS_H
#define MEMPROF_FUNCTIONS_H

/* ARGV[0] is "functions". Returns the exit status. */
int functions_main(int argc, char **argv);

#endif

/* memprof plot: memory over time from .dat files, drawn with cairo to
 * PNG, SVG or PDF (one drawing code path; the format comes from the
 * output's extension). */
#ifndef MEMPROF_PLOT_H
#define MEMPROF_PLOT_H

/* ARGV[0] is "plot". Returns memprof's exit status. */
int plot_main(int argc, char **argv);

#endif

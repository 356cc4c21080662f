# The gdb way of taking per-line memory figures: stop at the function,
# then "next" line by line, reading /proc/PID/statm at each line.
# Run by bench/run: gdb -q -batch -x gdb_lines.py --args PROGRAM ARGS
import os
import time

import gdb

func = os.environ["BENCH_FUNC"]
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("break " + func, to_string=True)
gdb.execute("run", to_string=True)
pid = gdb.selected_inferior().pid
lines = 0
start = time.monotonic()
with open("/proc/%d/statm" % pid) as statm:
    while gdb.selected_frame().name() == func:
        statm.seek(0)
        statm.read()
        lines += 1
        gdb.execute("next", to_string=True)
elapsed = time.monotonic() - start
print("gdb_lines %d gdb_seconds %.6f" % (lines, elapsed))
gdb.execute("kill", to_string=True)

/* memprof: line-by-line memory of a native program's functions. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "datfiles.h"
#include "functions.h"
#include "plot.h"
#include "record.h"
#include "output.h"
#include "profiler.h"
#include "report.h"
#include "session.h"
#include "util.h"

/* For the signal handlers alone: the program's pid, whether memprof
 * attached to it, and the request to let it go. */
static volatile sig_atomic_t program_pid;
static volatile sig_atomic_t attached;
static volatile sig_atomic_t detach_requested;
static volatile sig_atomic_t sample_due;
static volatile sig_atomic_t recording;
static volatile sig_atomic_t ticking;
static volatile sig_atomic_t starting;
/* the report's temporary file, removed when a signal ends the start */
static const char *volatile temp_output;

/* A signal while memprof starts the program (reading debug information
 * can take long): nothing of the program has run yet, so it goes at
 * once, and memprof with it. */
static void give_up_start(int sig)
{
	static const char msg[] =
		"memprof: interrupted while starting the program\n";

	if (program_pid > 0)
		kill(program_pid, SIGKILL);
	if (temp_output)
		unlink(temp_output);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(128 + sig);
}

/* A program memprof started gets a signal sent to memprof with kill()
 * too, so that memprof outlives it and writes its report; one from the
 * terminal has reached the whole process group already. A process memprof
 * attached to is let go instead, and goes on. */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	/* memprof run and attach: the sampling timer */
	if (sig == SIGALRM && (recording || ticking)) {
		sample_due = 1;
		return;
	}
	if (starting)
		give_up_start(sig);
	if (attached || sig == SIGALRM) {
		detach_requested = 1;
		/* a stop, so that the wait for one ends */
		if (program_pid > 0)
			target_interrupt(program_pid);
		return;
	}
	if (program_pid > 0 && si->si_code == SI_USER)
		kill(program_pid, sig);
}

static void catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	/* no SA_RESTART: the wait for a stop must see the signal */
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* The status line of the table mode, on a terminal. */
struct progress {
	struct session *s;
	double start;
	bool shown;
};

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The function a thread is in now, innermost first; NULL between calls. */
static const char *current_function(const struct session *s)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct thread *th = &s->threads[i];

		if (th->depth)
			return account_func(
				       s->acct,
				       (size_t)th->frames[th->depth - 1].func)
				->name;
	}
	return NULL;
}

/* Every tick: elapsed time, line events, RSS, where the program is; and
 * --duration, which the tick timer stands in for. */
static void show_progress(void *arg)
{
	struct progress *p = arg;
	struct session *s = p->s;
	double elapsed = monotonic_now() - p->start;
	const char *func = current_function(s);
	double rss =
		s->nprocs ? (double)s->procs[0]->sampler.last / 1048576.0 : 0;

	if (s->opts->duration > 0 && elapsed >= s->opts->duration)
		*s->detach_requested = 1;
	fprintf(stderr,
		"\rmemprof: %.1f s, %" PRIu64 " line events, RSS %.1f MiB%s%s "
		"\033[K",
		elapsed, account_line_events(s->acct), rss, func ? ", in " : "",
		func ? func : "");
	fflush(stderr);
	p->shown = true;
}

/* Ticks every SECONDS; 0 stops them. */
static void arm_ticks(double seconds)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	if (seconds > 0)
		it.it_interval = timeval_of(seconds);
	it.it_value = it.it_interval;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* --duration: SIGALRM after SECONDS. */
static void arm_duration(double seconds)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value = timeval_of(seconds);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Keeps memprof, and the program it starts, on the CPU memprof is on: a
 * stop then wakes no other CPU, which costs more than the stop itself on
 * a virtual machine. */
static void pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu >= 0)
		CPU_SET(cpu, &set);
	if (cpu < 0 || sched_setaffinity(0, sizeof(set), &set) < 0)
		warn_msg("--same-cpu: cannot choose a CPU: %s",
			 strerror(errno));
}

/* Whether PATH starts with "#!": a script, which the kernel runs with
 * its interpreter (a wrapper that ends with exec is the common case). */
static bool is_script(const char *path)
{
	char magic[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool script = fd >= 0 && read(fd, magic, 2) == 2 && magic[0] == '#' &&
		      magic[1] == '!';

	if (fd >= 0)
		close(fd);
	return script;
}

static char *resolve_program(const char *program, bool *script)
{
	char *path = target_find_program(program);
	char *why;

	if (!path && errno == EISDIR)
		die(126, "%s: is a directory", program);
	if (!path && errno == EACCES)
		die(126, "%s: not executable (permission denied)", program);
	if (!path)
		die(127, "%s: program not found", program);
	/* refused before it runs: memprof cannot work in another machine's
	 * program, nor trace what is no program; a script's interpreter is
	 * checked once it runs */
	*script = false;
	if (!target_check_elf(path, &why) && !why) {
		if (is_script(path)) {
			*script = true;
			return path;
		}
		die(EXIT_PROGRAM,
		    "%s: neither an ELF executable nor a script starting "
		    "with #! (memprof runs compiled programs)",
		    program);
	}
	if (why)
		die(EXIT_PROGRAM, "%s: %s", program, why);
	return path;
}

/* -p PID: the process must run an x86-64 program. One whose program
 * cannot be read (another user's, a zombie) is left to the attach, which
 * says why. */
static void check_attached_program(pid_t pid)
{
	char exe[64];
	char *why;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (access(exe, R_OK) != 0 || target_check_elf(exe, &why))
		return;
	die(EXIT_PROGRAM, "cannot attach to %d: it is %s", pid,
	    why ? why : "no ELF program");
}

static struct report_stats stats_of(const struct stats *st)
{
	double program = st->wall_seconds - st->tracer_seconds;

	return (struct report_stats){
		.line_events = st->line_events,
		.stops = st->stops,
		.stepped = st->stepped,
		.stepped_sites = st->stepped_sites,
		.ring_events = st->ring_events,
		.jump_sites = st->jump_sites,
		.alloc_calls = st->alloc_calls,
		.alloc_records = st->alloc_records,
		.alloc_stops = st->alloc_stops,
		.alloc_stopping = st->alloc_stopping,
		.tracer_seconds = st->tracer_seconds,
		.program_seconds = program > 0 ? program : 0.0,
	};
}

/* How the program ended, said and turned into memprof's exit status: a
 * --func that never appeared makes it 3, unless a signal killed the
 * program. */
static int exit_status(const struct session *s)
{
	bool missing = profiler_report_missing(s) != 0;

	if (s->status.how == RUN_SIGNALED) {
		int sig = s->status.code;
		warn_msg("%s killed by signal %d (SIG%s)", s->command[0], sig,
			 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
		return 128 + sig;
	}
	if (missing)
		return EXIT_PROGRAM;
	if (s->status.how == RUN_DETACHED)
		return 0;
	return s->status.code;
}

static int subcommand(int argc, char **argv)
{
	if (strcmp(argv[0], "plot") == 0)
		return plot_main(argc, argv);
	if (strcmp(argv[0], "functions") == 0)
		return functions_main(argc, argv);
	if (strcmp(argv[0], "run") != 0 && strcmp(argv[0], "attach") != 0)
		return datfiles_main(argc, argv);
	recording = 1;
	attached = strcmp(argv[0], "attach") == 0;
	catch_signals();
	return record_main(argc, argv, &sample_due, &detach_requested,
			   &program_pid);
}

static bool is_subcommand(const char *arg)
{
	static const char *const names[] = {"run",   "attach",	 "plot",
					    "list",  "peak",	 "rm",
					    "clean", "functions"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(arg, names[i]) == 0)
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	/* Static, so that what they own stays reachable when an error ends
	 * memprof with exit(). */
	static struct options opts;
	static char *program;
	static char **command;
	struct session s;
	static struct output out;
	int ret;

	if (argc > 1 && is_subcommand(argv[1]))
		return subcommand(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "graph") == 0)
		cli_parse_graph(argc - 1, argv + 1, &opts);
	else
		cli_parse(argc, argv, &opts);
	memset(&s, 0, sizeof(s));
	s.opts = &opts;
	s.detach_requested = &detach_requested;
	if (opts.pid) {
		check_attached_program(opts.pid);
		cli_check_traceable(opts.pid);
		command = cli_command_of(opts.pid);
		s.command = command;
	} else {
		program = resolve_program(opts.argv[0], &s.script);
		s.program = program;
		s.command = opts.argv;
	}
	if (output_open(&out, opts.output) != 0)
		exit(EXIT_USAGE);
	temp_output = out.tmp;
	catch_signals();
	if (opts.same_cpu)
		pin_to_this_cpu();

	if (opts.pid) {
		attached = 1;
		ret = profiler_attach(&s, opts.pid);
	} else {
		s.spawned_pid = &program_pid;
		starting = 1;
		ret = profiler_start(&s);
		starting = 0;
		program_pid = 0;
	}
	/* on a terminal, a status line while it runs */
	static struct progress progress;
	bool tty = isatty(STDERR_FILENO) == 1;
	if (ret == 0 && opts.graph)
		account_keep_freed(s.acct);
	if (ret == 0 && opts.types)
		account_track_made(s.acct);
	if (ret == 0) {
		program_pid = s.procs[0]->target.pid;
		if (tty) {
			progress =
				(struct progress){&s, monotonic_now(), false};
			s.tick = &sample_due;
			s.on_tick = show_progress;
			s.hook_arg = &progress;
			ticking = 1;
			arm_ticks(0.25);
		} else if (opts.duration > 0) {
			arm_duration(opts.duration);
		}
		ret = profiler_run(&s);
		program_pid = 0;
		if (tty) {
			arm_ticks(0);
			ticking = 0;
		}
	}
	/* erased before anything else is said */
	if (progress.shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	if (ret != 0) {
		profiler_end(&s);
		output_abandon(&out);
		free(program);
		cli_free_command(command);
		cli_free(&opts);
		return ret;
	}

	if (opts.graph) {
		int gret = graph_write(&s, out.stream);

		if (gret == 0 && output_commit(&out) < 0)
			gret = EXIT_INTERNAL;
		else if (gret != 0)
			output_abandon(&out);
		/* a program killed before the point: said, and passed on */
		if (gret == EXIT_PROGRAM && s.status.how == RUN_SIGNALED)
			gret = exit_status(&s);
		ret = gret ? gret : exit_status(&s);
		profiler_end(&s);
		free(program);
		cli_free(&opts);
		return ret;
	}

	struct report_stats stats = stats_of(&s.stats);
	struct report_options ropts = {.format = opts.format,
				       .precision = opts.precision,
				       .peak = s.peak,
				       .heap = s.heap,
				       .summary = opts.summary,
				       .types = opts.types};
	/* JSON and CSV are one document each, whatever follows on the same
	 * stream: the stats go into the JSON, or to standard error; the
	 * messages on how the program ended come first */
	bool document = opts.format != REPORT_TEXT;
	if (document && out.stream == stderr)
		ret = exit_status(&s);
	if (opts.stats && opts.format == REPORT_JSON)
		ropts.stats = &stats;
	/* only the report's own failures count */
	clearerr(out.stream);
	bool unwritten = report_write(out.stream, s.acct, &ropts, &s.status,
				      s.command) < 0;
	if (opts.stats && opts.format == REPORT_TEXT)
		report_write_stats(out.stream, &stats);
	if (!document || out.stream != stderr)
		ret = exit_status(&s);
	if (output_commit(&out) < 0 || unwritten)
		ret = EXIT_INTERNAL;
	if (opts.stats && opts.format == REPORT_CSV)
		report_write_stats(stderr, &stats);
	profiler_end(&s);
	free(program);
	cli_free_command(command);
	cli_free(&opts);
	return ret;
}

/* memprof: line-by-line memory of a native program's functions. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "datfiles.h"
#include "plot.h"
#include "record.h"
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
	if (sig == SIGALRM && recording) {
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

/* --duration: SIGALRM after SECONDS. */
static void arm_duration(double seconds)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value = timeval_of(seconds);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The command line of process PID, for the report. */
static char **command_of(pid_t pid)
{
	char path[64], buf[4096];
	char **argv;
	size_t n = 0, argc = 0;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0) {
		argv = xcalloc(2, sizeof(*argv));
		argv[0] = xasprintf("%d", pid);
		return argv;
	}
	buf[len] = '\0';
	for (ssize_t i = 0; i < len; i++)
		argc += buf[i] == '\0';
	if (buf[len - 1] != '\0')
		argc++;
	argv = xcalloc(argc + 1, sizeof(*argv));
	for (char *p = buf; p < buf + len && n < argc; p += strlen(p) + 1)
		argv[n++] = xstrdup(p);
	return argv;
}

static void free_command(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
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

static bool is_elf(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool elf = false;

	if (fd < 0)
		return false;
	elf = read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
	close(fd);
	return elf;
}

static char *resolve_program(const char *program)
{
	char *path = target_find_program(program);

	if (!path && errno == EACCES)
		die(126, "%s: not executable (permission denied)", program);
	if (!path)
		die(127, "%s: program not found", program);
	if (!is_elf(path))
		die(EXIT_PROGRAM,
		    "%s: not an ELF executable (memprof runs compiled "
		    "programs; for a script, profile its interpreter)",
		    program);
	return path;
}

/* The report goes to a temporary file beside -o FILE and is renamed into
 * place whole, so FILE is never half written. A FILE that is not a
 * regular one (/dev/stdout, a pipe, a symbolic link) is written
 * directly. */
struct output {
	FILE *stream;
	char *tmp;
};

static void open_output(struct output *out, const char *file)
{
	struct stat st;
	int fd;

	out->stream = stderr;
	out->tmp = NULL;
	if (!file || strcmp(file, "/dev/stderr") == 0)
		return;
	/* the program's standard output: shared, so never reopened */
	if (strcmp(file, "-") == 0 || strcmp(file, "/dev/stdout") == 0) {
		out->stream = stdout;
		return;
	}
	/* a rename would replace a link itself, not what it points to */
	if (lstat(file, &st) == 0 && !S_ISREG(st.st_mode)) {
		out->stream = fopen(file, "w");
		if (!out->stream)
			die(EXIT_USAGE, "cannot write %s: %s", file,
			    strerror(errno));
		return;
	}
	out->tmp = xasprintf("%s.XXXXXX", file);
	fd = mkstemp(out->tmp);
	if (fd < 0 || !(out->stream = fdopen(fd, "w")))
		die(EXIT_USAGE, "cannot write %s: %s", file, strerror(errno));
}

static int close_output(struct output *out, const char *file)
{
	int ret = 0;

	if (out->stream == stderr || out->stream == stdout)
		return fflush(out->stream);
	if (!out->tmp)
		return fclose(out->stream);
	if (fclose(out->stream) != 0 || rename(out->tmp, file) != 0) {
		warn_msg("cannot write %s: %s", file, strerror(errno));
		unlink(out->tmp);
		ret = -1;
	}
	free(out->tmp);
	return ret;
}

static void print_stats(FILE *out, const struct stats *st)
{
	double per_event = st->line_events
				   ? (double)st->stops / (double)st->line_events
				   : 0.0;
	double program = st->wall_seconds - st->tracer_seconds;

	fprintf(out,
		"memprof: %llu line events, %llu ptrace stops (%.2f per line "
		"event); %.3f s in the tracer, %.3f s in the program\n",
		(unsigned long long)st->line_events,
		(unsigned long long)st->stops, per_event, st->tracer_seconds,
		program > 0 ? program : 0.0);
	if (st->stepped)
		fprintf(out,
			"memprof: %llu stops single-stepped in place (%zu "
			"breakpoints without an out-of-line copy)\n",
			(unsigned long long)st->stepped, st->stepped_sites);
}

static int exit_status(const struct session *s)
{
	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		if (!s->found[i])
			warn_msg("no function '%s' in any program that ran",
				 s->opts->funcs[i]);
	}
	if (s->status.how == RUN_SIGNALED) {
		int sig = s->status.code;
		warn_msg("%s killed by signal %d (SIG%s)", s->command[0], sig,
			 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
		return 128 + sig;
	}
	if (s->status.how == RUN_DETACHED)
		return 0;
	return s->status.code;
}

static int subcommand(int argc, char **argv)
{
	if (strcmp(argv[0], "plot") == 0)
		return plot_main(argc, argv);
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
	static const char *const names[] = {"run",  "attach", "plot", "list",
					    "peak", "rm",     "clean"};

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
	struct output out;
	int ret;

	if (argc > 1 && is_subcommand(argv[1]))
		return subcommand(argc - 1, argv + 1);
	cli_parse(argc, argv, &opts);
	memset(&s, 0, sizeof(s));
	s.opts = &opts;
	s.detach_requested = &detach_requested;
	if (opts.pid) {
		command = command_of(opts.pid);
		s.command = command;
	} else {
		program = resolve_program(opts.argv[0]);
		s.program = program;
		s.command = opts.argv;
	}
	open_output(&out, opts.output);
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
	if (ret == 0) {
		program_pid = s.procs[0]->target.pid;
		if (opts.duration > 0)
			arm_duration(opts.duration);
		ret = profiler_run(&s);
		program_pid = 0;
	}
	if (ret != 0) {
		profiler_end(&s);
		if (out.tmp)
			unlink(out.tmp);
		free(out.tmp);
		free(program);
		free_command(command);
		cli_free(&opts);
		return ret;
	}

	struct report_options ropts = {.format = opts.format,
				       .precision = opts.precision,
				       .peak = s.peak,
				       .heap = s.heap,
				       .summary = opts.summary};
	if (report_write(out.stream, s.acct, &ropts, &s.status, s.command) < 0)
		warn_msg("cannot write the report: %s", strerror(errno));
	if (opts.stats)
		print_stats(out.stream, &s.stats);
	if (close_output(&out, opts.output) < 0)
		ret = EXIT_INTERNAL;
	else
		ret = exit_status(&s);
	profiler_end(&s);
	free(program);
	free_command(command);
	cli_free(&opts);
	return ret;
}

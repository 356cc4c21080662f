/* memprof run / memprof attach. RSS is sampled from outside, without
 * stopping the program; only with --func is it traced, and then only
 * where the functions' calls begin and end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mprof.h"
#include "output.h"
#include "profiler.h"
#include "record.h"
#include "util.h"

#define MIB 1048576.0

struct open_call {
	int tid, func, level;
	double mib, time;
};

struct recorder {
	FILE *out;
	double interval;
	bool children;	   /* -C: children's memory in MEM */
	bool multiprocess; /* -M: CHLD lines, one series a child */
	bool tty;	   /* the status line */
	pid_t pid;
	struct sampler sampler;
	double start, peak;
	char *const *cmdline;	     /* for CMDLINE */
	size_t written;		     /* MEM and FUNC lines */
	double timeout;		     /* -t: 0 for none */
	volatile sig_atomic_t *stop; /* set when the timeout is over */
	const struct account *acct;
	struct open_call *calls;
	size_t ncalls;
};

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mib_of(pid_t pid)
{
	struct sampler s;
	double mib = 0;

	if (sampler_open(&s, pid) == 0)
		mib = (double)sampler_rss(&s) / MIB;
	sampler_close(&s);
	return mib;
}

/* The parent of PID, from /proc/PID/stat; -1 when gone. */
static pid_t parent_pid(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	pid_t ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		/* "pid (comm) state ppid": comm may hold spaces */
		char *close = strrchr(buf, ')');
		if (close)
			sscanf(close + 1, " %*c %d", &ppid);
	}
	fclose(f);
	return ppid;
}

static bool contains(const pid_t *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] == pid)
			return true;
	}
	return false;
}

/* Every descendant of ROOT now, in *KIDS (a new array). */
static size_t descendants(pid_t root, pid_t **kids)
{
	pid_t *all = NULL, *parents = NULL;
	size_t n = 0, nk = 0;
	DIR *proc = opendir("/proc");
	struct dirent *de;
	bool added = true;

	while (proc && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == root)
			continue;
		all = xrealloc(all, (n + 1) * sizeof(*all));
		parents = xrealloc(parents, (n + 1) * sizeof(*parents));
		all[n] = pid;
		parents[n++] = parent_pid(pid);
	}
	if (proc)
		closedir(proc);
	*kids = xcalloc(n + 1, sizeof(**kids));
	while (added) {
		added = false;
		for (size_t i = 0; i < n; i++) {
			if (contains(*kids, nk, all[i]) ||
			    (parents[i] != root &&
			     !contains(*kids, nk, parents[i])))
				continue;
			(*kids)[nk++] = all[i];
			added = true;
		}
	}
	free(all);
	free(parents);
	return nk;
}

/* The name of process PID as ps shows it (its comm, or the file name of
 * its argv[0] when the comm is cut short), in BUF. */
static bool process_name(pid_t pid, char *buf, size_t size)
{
	char path[64], cmd[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) < 15)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	if (n > 0) {
		const char *base =
			strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
		size_t len = strlen(base) < size - 1 ? strlen(base) : size - 1;

		memcpy(buf, base, len);
		buf[len] = '\0';
	}
	return true;
}

/* As mprof attach NAME: the first process (lowest id) whose name has
 * NAME in it, memprof aside; exits when there is none. */
static pid_t process_named(const char *name)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	char buf[256];

	while (proc && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == getpid() || (found && pid > found) ||
		    !process_name(pid, buf, sizeof(buf)) || !strstr(buf, name))
			continue;
		found = pid;
	}
	if (proc)
		closedir(proc);
	if (!found)
		die(EXIT_PROGRAM, "no process named %s", name);
	return found;
}

static void status_line(struct recorder *r, double now, double mib)
{
	if (!r->tty)
		return;
	fprintf(stderr, "\rmemprof: %.1f s, RSS %.1f MiB, peak %.1f MiB \033[K",
		now - r->start, mib, r->peak);
	fflush(stderr);
}

static void take_sample(void *arg)
{
	struct recorder *r = arg;
	double now = unix_now();
	double mib = (double)sampler_rss(&r->sampler) / MIB;
	pid_t *kids = NULL;
	size_t nkids = 0;

	if (r->children || r->multiprocess)
		nkids = descendants(r->pid, &kids);
	for (size_t i = 0; i < nkids; i++) {
		double kid = rss_mib_of(kids[i]);

		if (r->multiprocess)
			mprof_write_child(r->out, kids[i], kid, now);
		if (r->children)
			mib += kid;
	}
	free(kids);
	/* no memory at all: a zombie, or gone; mprof writes no sample */
	if (mib > 0) {
		mprof_write_mem(r->out, mib, now);
		r->written++;
	}
	if (mib > r->peak)
		r->peak = mib;
	status_line(r, now, mib);
	if (r->timeout > 0 && now - r->start >= r->timeout)
		*r->stop = 1;
}

/* A profiled function's call begins or ends: FUNC at its end. */
static void on_call(void *arg, int tid, int func, bool entering, size_t depth,
		    uint64_t rss)
{
	struct recorder *r = arg;
	double now = unix_now(), mib = (double)rss / MIB;

	/* a sample at each boundary too: short calls still show */
	mprof_write_mem(r->out, mib, now);
	r->written++;
	if (mib > r->peak)
		r->peak = mib;
	if (entering) {
		r->calls =
			xrealloc(r->calls, (r->ncalls + 1) * sizeof(*r->calls));
		r->calls[r->ncalls++] =
			(struct open_call){tid, func, (int)depth, mib, now};
		return;
	}
	for (size_t i = r->ncalls; i-- > 0;) {
		struct open_call c = r->calls[i];

		if (c.tid != tid || c.func != func)
			continue;
		mprof_write_func(r->out,
				 account_func(r->acct, (size_t)func)->name,
				 c.mib, c.time, mib, now, c.level);
		r->calls[i] = r->calls[--r->ncalls];
		return;
	}
}

static void start_timer(double interval)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_interval = timeval_of(interval);
	it.it_value = it.it_interval;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_timer(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The program runs (or is met): the file gets its first line. */
static void begin_file(struct recorder *r)
{
	struct stat st;

	/* a pipe or a terminal has nothing to empty */
	if (fstat(fileno(r->out), &st) == 0 && S_ISREG(st.st_mode) &&
	    ftruncate(fileno(r->out), 0) != 0)
		warn_msg("cannot empty the .dat file: %s", strerror(errno));
	mprof_write_cmdline(r->out, r->cmdline);
	r->start = unix_now();
}

/* -o FILE: opened without emptying it; *CREATED when it is new. */
static FILE *open_dat(const char *path, bool *created)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	FILE *f;

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

/* Without --func: the program runs untraced; RSS every interval until
 * it ends. Returns its wait status. */
static int sample_untraced(struct recorder *r, const char *path,
			   char *const argv[], volatile sig_atomic_t *pidvar)
{
	int status = 0;
	pid_t pid;

	begin_file(r);
	pid = fork();

	if (pid < 0)
		die(EXIT_PROGRAM, "cannot start %s: %s", argv[0],
		    strerror(errno));
	if (pid == 0) {
		execv(path, argv);
		_exit(127);
	}
	r->pid = pid;
	*pidvar = pid;
	sampler_open(&r->sampler, pid);
	for (;;) {
		struct timespec ts = {
			(time_t)r->interval,
			(long)((r->interval - (double)(time_t)r->interval) *
			       1e9)};
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		take_sample(r);
		/* -t: the program goes on, unwatched */
		if (*r->stop) {
			status = 0;
			break;
		}
		nanosleep(&ts, NULL);
	}
	*pidvar = 0;
	sampler_close(&r->sampler);
	return status;
}

/* memprof attach PID without --func: until the process ends or STOP. */
static void sample_attached(struct recorder *r, volatile sig_atomic_t *stop)
{
	begin_file(r);
	sampler_open(&r->sampler, r->pid);
	while (!*stop && kill(r->pid, 0) == 0) {
		struct timespec ts = {
			(time_t)r->interval,
			(long)((r->interval - (double)(time_t)r->interval) *
			       1e9)};
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/stat", r->pid);
		/* a zombie has no memory left to sample */
		if (parent_pid(r->pid) < 0 || access(path, R_OK) != 0)
			break;
		take_sample(r);
		nanosleep(&ts, NULL);
	}
	sampler_close(&r->sampler);
}

/* With --func: traced, only where the calls begin and end. Returns the
 * exit status; *STARTED tells whether the program ran (or was met). */
static int record_traced(struct recorder *r, struct options *opts, char *path,
			 char *target, volatile sig_atomic_t *tick,
			 volatile sig_atomic_t *stop,
			 volatile sig_atomic_t *pidvar, bool *started)
{
	char *cmd[] = {target, NULL};
	struct session s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.opts = opts;
	s.program = path;
	s.detach_requested = stop;
	s.tick = tick;
	s.on_tick = take_sample;
	s.on_call = on_call;
	s.hook_arg = r;
	if (opts->pid) {
		s.command = cmd;
		ret = profiler_attach(&s, opts->pid);
	} else {
		s.command = opts->argv;
		ret = profiler_start(&s);
	}
	*started = ret == 0;
	if (ret == 0) {
		struct process *p = s.procs[0];

		begin_file(r);
		r->acct = s.acct;
		r->pid = p->target.pid;
		*pidvar = r->pid;
		sampler_open(&r->sampler, r->pid);
		take_sample(r);
		start_timer(r->interval);
		ret = profiler_run(&s);
		stop_timer();
		/* memprof failed at the first stops (a function not found):
		 * the program never ran */
		if (ret != 0 && r->written <= 1)
			*started = false;
		*pidvar = 0;
		sampler_close(&r->sampler);
		/* a --func that never came (waited for) is said now */
		bool missing = ret == 0 && profiler_report_missing(&s) != 0;
		if (ret == 0 && s.status.how == RUN_SIGNALED) {
			warn_msg("%s killed by signal %d", s.command[0],
				 s.status.code);
			ret = 128 + s.status.code;
		} else if (missing) {
			ret = EXIT_PROGRAM;
		} else if (ret == 0 && s.status.how == RUN_EXITED) {
			ret = s.status.code;
		}
	}
	profiler_end(&s);
	return ret;
}

static const char run_usage[] =
	"usage: memprof run [--interval SEC] [-t SEC] [-C] [-M] "
	"[--func NAME ...] "
	"[-o FILE] [--] PROGRAM [ARGS...]";
static const char attach_usage[] =
	"usage: memprof attach [--interval SEC] [-t SEC] [-C] [-M] "
	"[--func NAME ...] [-o FILE] PID|NAME";

static void __attribute__((noreturn))
record_usage_error(const char *cmd, const char *what)
{
	cli_sub_error(cmd, "%s", what);
}

static void print_record_help(bool attach)
{
	printf("%s\n\n", attach ? attach_usage : run_usage);
	if (attach)
		puts("Samples the resident memory of the running process PID "
		     "over time, until\nit ends or Ctrl-C (it goes on), and "
		     "writes it in mprof's .dat format,\nfor 'memprof plot' "
		     "or mprof's own plot. NAME: the first process whose\n"
		     "name contains it.\n");
	else
		puts("Runs PROGRAM, samples its resident memory over time and "
		     "writes it in\nmprof's .dat format, for 'memprof plot' or "
		     "mprof's own plot.\n");
	puts("  -i, -T, --interval SEC    time between samples (default 0.1)\n"
	     "  -t, --timeout SEC         stop recording after SEC seconds; "
	     "the program\n"
	     "                            goes on\n"
	     "  -E, --exit-code           accepted, as mprof's (the status "
	     "always\n"
	     "                            passes through)\n"
	     "  -C, --include-children    add the memory of child processes\n"
	     "  -M, --multiprocess        a CHLD series for each child "
	     "process\n"
	     "      --func NAME           mark each call of NAME (repeatable)\n"
	     "  -o, --output FILE         the .dat file (default "
	     "mprofile_YYYYmmddHHMMSS.dat)\n"
	     "  -h, --help                show this help");
}

int record_main(int argc, char **argv, volatile sig_atomic_t *tick,
		volatile sig_atomic_t *stop, volatile sig_atomic_t *pidvar)
{
	static const struct option longopts[] = {
		{"interval", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 't'},
		{"exit-code", no_argument, NULL, 'E'},
		{"include-children", no_argument, NULL, 'C'},
		{"multiprocess", no_argument, NULL, 'M'},
		{"func", required_argument, NULL, 'F'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool attach = strcmp(argv[0], "attach") == 0;
	struct recorder r = {
		.interval = 0.1, .tty = isatty(2) == 1, .stop = stop};
	static struct options opts;
	static char *output, *path;
	int c, ret = 0;

	memset(&opts, 0, sizeof(opts));
	opts.precision = 1;
	opts.calls_only = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:i:T:t:ECMo:h", longopts,
				NULL)) != -1) {
		char *end;

		switch (c) {
		case 'i':
		case 'T': /* mprof's name for it */
			r.interval = strtod(optarg, &end);
			if (*end || !(r.interval > 0) || r.interval > 3600)
				record_usage_error(
					argv[0], "bad interval: give seconds, "
						 "more than 0");
			break;
		case 't':
			r.timeout = strtod(optarg, &end);
			if (*end || !(r.timeout > 0) || r.timeout > 1e9)
				record_usage_error(argv[0],
						   "bad timeout: give seconds, "
						   "more than 0");
			break;
		case 'E':
			/* mprof's -E: the status always passes through */
			break;
		case 'C':
			r.children = true;
			break;
		case 'M':
			r.multiprocess = true;
			break;
		case 'F':
			opts.funcs = xrealloc(opts.funcs,
					      (opts.nfuncs + 1) *
						      sizeof(*opts.funcs));
			opts.funcs[opts.nfuncs++] = optarg;
			break;
		case 'o':
			output = xstrdup(optarg);
			break;
		case 'h':
			print_record_help(attach);
			exit(0);
		default:
			cli_sub_bad_option(argv[0], c, argv, longopts);
		}
	}
	if (optind >= argc)
		record_usage_error(argv[0], attach ? "no process id"
						   : "no program to run");
	if (attach) {
		char *end;
		long pid = strtol(argv[optind], &end, 10);

		if (optind + 1 != argc)
			record_usage_error(argv[0], "give one process id or "
						    "name");
		/* as mprof: a name is the first process whose name has it */
		if (*end || end == argv[optind])
			pid = process_named(argv[optind]);
		if (pid <= 0)
			record_usage_error(argv[0], "give one process id or "
						    "name");
		opts.pid = (int)pid;
		r.pid = (pid_t)pid;
		if (kill(r.pid, 0) != 0 && errno == ESRCH)
			die(EXIT_PROGRAM, "no process %ld", pid);
		/* sampling alone reads what anyone may; --func traces */
		if (opts.nfuncs)
			cli_check_traceable(opts.pid);
	} else {
		opts.argv = argv + optind;
		path = target_find_program(opts.argv[0]);
		if (!path && errno == EACCES)
			die(126, "%s: not executable (permission denied)",
			    opts.argv[0]);
		if (!path)
			die(127, "%s: program not found", opts.argv[0]);
	}
	/* an existing -o file is emptied only once the program runs; with
	 * --func, that may fail at its first stops: the file is written
	 * beside it and put in place at the end */
	bool created = !output;
	struct output dest = {0};
	if (output && opts.nfuncs > 0) {
		if (output_open(&dest, output) != 0)
			exit(EXIT_USAGE);
		r.out = dest.stream;
	} else {
		r.out = output ? open_dat(output, &created)
			       : mprof_create_default(&output);
	}
	if (!r.out)
		die(EXIT_USAGE, "cannot write %s: %s",
		    output ? output : "mprofile_*.dat", strerror(errno));
	static char **attached_cmd;
	if (attach)
		attached_cmd = cli_command_of(opts.pid);
	r.cmdline = attach ? attached_cmd : opts.argv;
	r.start = unix_now();

	bool started = true;
	if (opts.nfuncs > 0) {
		ret = record_traced(&r, &opts, path, argv[optind], tick, stop,
				    pidvar, &started);
		/* seccomp, yama or no capability: the memory still can be
		 * sampled from outside */
		if (ret == EXIT_PTRACE) {
			warn_msg("%s: sampling its memory without the calls of "
				 "--func, which need ptrace",
				 argv[optind]);
			opts.nfuncs = 0;
			started = true;
		}
	}
	if (opts.nfuncs > 0) {
		/* recorded */
	} else if (!attach) {
		int status = sample_untraced(&r, path, opts.argv, pidvar);
		ret = WIFSIGNALED(status) ? 128 + WTERMSIG(status)
					  : WEXITSTATUS(status);
		if (WIFSIGNALED(status))
			warn_msg("%s killed by signal %d", opts.argv[0],
				 WTERMSIG(status));
	} else {
		sample_attached(&r, stop);
	}
	if (r.tty)
		fputs("\r\033[K", stderr);
	if (dest.stream && !started) {
		output_abandon(&dest);
	} else if (dest.stream) {
		if (output_commit(&dest) != 0)
			ret = EXIT_INTERNAL;
	} else if (!started) {
		/* nothing ran: no profile to keep, an old one left as it was */
		fclose(r.out);
		if (created)
			unlink(output);
	} else if ((ferror(r.out) | fclose(r.out)) != 0) {
		warn_msg("cannot write %s: %s", output, strerror(errno));
		ret = EXIT_INTERNAL;
	}
	free(r.calls);
	cli_free_command(attached_cmd);
	free(opts.funcs);
	free(output);
	free(path);
	return ret;
}

/* Starting a program under the tracer, or attaching to one. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "suggest.h"
#include "tracer.h"
#include "util.h"

/* Starting and ending */

/* --peak needs a kernel that resets the peak RSS (Linux 4.0 and later). */
static void check_peak(struct session *s, struct process *p)
{
	if (!s->opts->peak)
		return;
	s->peak = sampler_reset_peak(&p->sampler) == 0 &&
		  sampler_peak(&p->sampler) > 0;
	if (!s->peak)
		warn_msg("this kernel cannot reset a process's peak RSS "
			 "(/proc/PID/clear_refs, VmHWM): --peak is left out");
}

/* --engine jump, where the other options let line events go without a
 * stop: --peak resets the peak at each one, from outside. */
static void choose_engine(struct session *s)
{
	const struct options *o = s->opts;

	s->jump = o->jump && !o->calls_only && !o->every_insn;
	if (s->jump && o->peak) {
		if (o->engine_given)
			warn_msg("--peak reads the peak RSS at a stop for each "
				 "line event: --engine copy is used");
		s->jump = false;
	}
	if (s->jump && (o->types || o->graph)) {
		if (o->engine_given)
			warn_msg("--types walks the memory at a stop at each "
				 "return: --engine copy is used");
		s->jump = false;
	}
}

static void start_clock(struct session *s)
{
	s->stats.wall_seconds = now();
}

int profiler_start(struct session *s)
{
	struct process *p;
	struct target t;

	s->acct = account_new();
	s->found = xcalloc(s->opts->nfuncs, sizeof(*s->found));
	s->missing = xcalloc(s->opts->nfuncs, sizeof(*s->missing));
	s->heap = s->opts->heap;
	choose_engine(s);
	if (target_spawn(&t, s->program, s->opts->argv, s->spawned_pid) < 0) {
		if (errno == EPERM || errno == ENOSYS)
			return program_error(
				s, EXIT_PTRACE,
				"cannot trace %s: ptrace is not permitted (%s)",
				suggest_ptrace_why());
		return program_error(s, EXIT_PROGRAM, "cannot start %s: %s",
				     strerror(errno));
	}
	p = process_new(s, t.pid);
	target_close(&t);
	if (!p)
		return program_error(s, EXIT_INTERNAL,
				     "%s: cannot read its memory: %s",
				     strerror(errno));
	thread_add(s, p->target.pid, p);
	check_peak(s, p);
	/* with -f a function may come with a program executed later; in a
	 * script, with the program it executes */
	int ret = load_image(s, p, p->target.pid,
			     !s->opts->follow_forks && !s->script);
	if (ret)
		return ret;
	start_clock(s);
	if (target_resume(p->target.pid, 0) < 0)
		return program_error(s, EXIT_INTERNAL, "%s: cannot resume: %s",
				     strerror(errno));
	return 0;
}

/* Says why process PID could not be attached to (errno); returns the
 * exit status. */
static int attach_error(pid_t pid)
{
	int err = errno, status;
	char *why = err == ESRCH ? NULL : target_attach_obstacle(pid, &status);

	if (why) {
		warn_msg("cannot attach to %d: %s", pid, why);
		free(why);
		return status;
	}
	if (err == EPERM) {
		warn_msg("cannot attach to %d: ptrace is not permitted (%s)",
			 pid, suggest_ptrace_why());
		return EXIT_PTRACE;
	}
	warn_msg("cannot attach to %d: %s", pid, strerror(err));
	return EXIT_PROGRAM;
}

/* A process we attach to must outlive memprof: the in-process agent
 * takes over our int3s if memprof dies. Its threads are stopped. */
void install_agent(struct session *s, struct process *p)
{
	const char *why;

	if (agent_install(&p->target, p->target.pid, &why) < 0)
		warn_msg("process %d: %s: memprof cannot leave it safely if it "
			 "is killed (kill -9 of memprof now kills the process "
			 "at its next breakpoint; Ctrl-C or --duration let it "
			 "go)",
			 (int)p->target.pid, why);
}

int profiler_attach(struct session *s, pid_t pid)
{
	struct attached *threads;
	struct process *p;
	struct target t;
	size_t n;
	int ret;

	s->acct = account_new();
	s->found = xcalloc(s->opts->nfuncs, sizeof(*s->found));
	s->missing = xcalloc(s->opts->nfuncs, sizeof(*s->missing));
	s->heap = s->opts->heap;
	choose_engine(s);
	if (target_attach(&t, pid, &threads, &n) < 0)
		return attach_error(pid);
	p = process_new(s, pid);
	target_close(&t);
	ret = p ? 0 : EXIT_PROGRAM;
	if (p)
		check_peak(s, p);
	/* nothing is put into a program memprof will refuse (32-bit) */
	if (p && program_fits(p))
		install_agent(s, p);
	for (size_t i = 0; p && i < n; i++) {
		if (!threads[i].gone)
			thread_add(s, threads[i].tid, p);
	}
	if (p)
		ret = load_image(s, p, pid, true);
	if (ret) {
		if (p && p->image)
			bp_clean_process(p->image->bps, pid);
		if (p)
			agent_remove(&p->target, pid);
		for (size_t i = 0; i < n; i++)
			target_detach(threads[i].tid, threads[i].sig);
		free(threads);
		return ret;
	}
	start_clock(s);
	for (size_t i = 0; i < n; i++) {
		if (threads[i].gone)
			continue;
		/* stopped, it stays so (a SIGCONT may have come meanwhile) */
		if (threads[i].group_stop &&
		    target_in_group_stop(threads[i].tid))
			target_listen(threads[i].tid);
		else
			target_resume(threads[i].tid, threads[i].sig);
	}
	free(threads);
	return 0;
}

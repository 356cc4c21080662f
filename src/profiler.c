/* The loop: it waits for the program's stops and hands each to the room
 * that handles it. */
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

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int program_error(struct session *s, int status, const char *fmt,
		  const char *arg)
{
	fprintf(stderr, "memprof: ");
	fprintf(stderr, fmt, s->command[0], arg);
	fputc('\n', stderr);
	return status;
}

void queue_stop(struct session *s, const struct stop *stop)
{
	if (s->nqueued == s->queued_cap) {
		s->queued_cap = s->queued_cap ? 2 * s->queued_cap : 8;
		s->queued =
			xrealloc(s->queued, s->queued_cap * sizeof(*s->queued));
	}
	s->queued[s->nqueued++] = *stop;
}

bool is_queued(const struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nqueued; i++) {
		if (s->queued[i].tid == tid)
			return true;
	}
	return false;
}

/* The next stop: a queued one first; otherwise waits (BLOCK: through
 * signals). */
int next_stop(struct session *s, struct stop *stop, bool block)
{
	if (s->nqueued) {
		*stop = s->queued[0];
		memmove(s->queued, s->queued + 1,
			--s->nqueued * sizeof(*s->queued));
		return 0;
	}
	return block ? target_wait(-1, stop) : target_wait_once(-1, stop);
}

void dispatch(struct session *s, const struct stop *stop)
{
	pid_t tid = stop->tid;
	struct thread *th;

	drain_rings_before_stop(s);
	if (s->in_vfork)
		vfork_done(s, tid);
	switch (stop->event) {
	case TEV_EXITED:
	case TEV_KILLED:
		on_exited(s, stop);
		return;
	case TEV_BREAKPOINT:
		on_breakpoint(s, stop);
		return;
	case TEV_EXIT:
		/* memory is still there: the last figures are true ones */
		th = thread_find(s, tid);
		if (th)
			thread_end(s, th, sample(s, th->proc));
		target_resume(tid, 0);
		return;
	case TEV_SIGNAL:
		on_signal(s, stop);
		return;
	case TEV_GROUP_STOP:
		target_listen(tid);
		return;
	case TEV_START:
		on_start(s, tid);
		return;
	case TEV_EXEC:
		on_exec(s, tid);
		return;
	case TEV_FORK:
		on_fork(s, tid, (pid_t)stop->msg);
		target_resume(tid, 0);
		return;
	case TEV_STEPPED:
	case TEV_CLONE:
		target_resume(tid, 0);
		return;
	}
}

int profiler_run(struct session *s)
{
	struct stop stop;

	while (!s->done) {
		if (s->tick && *s->tick) {
			*s->tick = 0;
			/* what the program recorded meanwhile counts too */
			drain_rings(s);
			s->on_tick(s->hook_arg);
		}
		if (*s->detach_requested) {
			profiler_detach(s);
			break;
		}
		if (next_stop(s, &stop, false) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			return program_error(s, EXIT_INTERNAL,
					     "%s: waiting for it failed: %s",
					     strerror(errno));
		}
		double t0 = now();
		s->stats.stops++;
		dispatch(s, &stop);
		s->stats.tracer_seconds += now() - t0;
	}
	drain_rings(s);
	s->stats.wall_seconds = now() - s->stats.wall_seconds;
	if (s->fatal)
		return s->fatal;
	/* forked processes that outlive the first one go on without us */
	for (size_t i = s->nprocs; i-- > 1;)
		detach_process(s, s->procs[i]);
	for (size_t i = 0; i < s->nprocs; i++)
		end_threads_of(s, s->procs[i], s->procs[i]->sampler.last);
	if (s->heap && s->status.how == RUN_EXITED)
		account_heap_leaks(s->acct);
	return 0;
}

void profiler_end(struct session *s)
{
	for (size_t i = 0; i < s->nthreads; i++)
		free(s->threads[i].frames);
	free(s->threads);
	free(s->queued);
	for (size_t i = 0; i < s->nprocs; i++)
		process_free(s->procs[i]);
	free(s->procs);
	free(s->found);
	account_free(s->acct);
	ctypes_close(s->ctypes);
	free(s->graph_dot);
}

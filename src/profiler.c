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

/* The next stop: a queued one first, unless its thread is still held;
 * otherwise waits (BLOCK: through signals). 1 when it was queued (it was
 * counted then), 0 when new, -1 with errno. */
static int next_stop(struct session *s, struct stop *stop, bool block)
{
	struct stop ended;

	/* met by a wait on one thread: counted here, handled in turn */
	while (target_kept(&ended) == 0) {
		s->stats.stops++;
		queue_stop(s, &ended);
	}
	for (size_t i = 0; i < s->nqueued; i++) {
		if (held_back(s, thread_find(s, s->queued[i].tid),
			      s->queued[i].tid))
			continue;
		*stop = s->queued[i];
		s->nqueued--;
		memmove(s->queued + i, s->queued + i + 1,
			(s->nqueued - i) * sizeof(*s->queued));
		return 1;
	}
	return block ? target_wait(-1, stop) : target_wait_once(-1, stop);
}

static void dispatch(struct session *s, const struct stop *stop)
{
	pid_t tid = stop->tid;
	struct thread *th;

	drain_rings_before_stop(s, tid);
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
			thread_end(s, th, thread_sample(s, th));
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

/* Hands STOP to what its thread waits for (a step, a hold, its
 * process being let go); what is left is dispatched. Then any process
 * being let go is taken a step further. */
static void route(struct session *s, const struct stop *stop)
{
	struct thread *th = thread_find(s, stop->tid);
	bool handle = true;

	switch (th ? th->wait : TW_RUNNING) {
	case TW_RUNNING:
		if (held_back(s, th, stop->tid)) {
			queue_stop(s, stop);
			handle = false;
		} else if (!th && stop->event == TEV_START && detaching(s)) {
			handle = !joins_leaving(s, stop->tid);
		}
		break;
	case TW_HOLDING:
	case TW_STEPPING:
		handle = step_stopped(s, th, stop);
		break;
	case TW_HELD:
	case TW_HELD_STOPPED:
		held_stopped(s, th, stop);
		handle = false;
		break;
	case TW_STOPPING:
	case TW_STOPPED:
	case TW_GONE:
		handle = leaving_stopped(th, stop);
		break;
	}
	if (handle)
		dispatch(s, stop);
	if (detaching(s))
		detach_progress(s);
}

/* Takes the next stop and routes it: -1 with errno when none came (a
 * signal of ours came first: EINTR). */
static int one_stop(struct session *s)
{
	struct stop stop;
	int got = next_stop(s, &stop, false);
	double t0;

	if (got < 0)
		return -1;
	t0 = now();
	/* a queued stop was counted when it came */
	if (got == 0)
		s->stats.stops++;
	route(s, &stop);
	s->stats.tracer_seconds += now() - t0;
	return 0;
}

void run_until_let_go(struct session *s)
{
	while (detaching(s)) {
		if (one_stop(s) == 0 || errno == EINTR)
			continue;
		/* nothing left to wait for: what was being let go is gone */
		for (size_t i = 0; i < s->nthreads; i++) {
			if (s->threads[i].wait == TW_STOPPING)
				s->threads[i].wait = TW_GONE;
		}
		detach_progress(s);
		break;
	}
}

int profiler_run(struct session *s)
{
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
		if (one_stop(s) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			return program_error(s, EXIT_INTERNAL,
					     "%s: waiting for it failed: %s",
					     strerror(errno));
		}
	}
	drain_rings(s);
	s->stats.wall_seconds = now() - s->stats.wall_seconds;
	if (s->fatal)
		return s->fatal;
	/* forked processes that outlive the first one go on without us */
	for (size_t i = s->nprocs; i-- > 1;)
		detach_start(s, s->procs[i]);
	run_until_let_go(s);
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
	for (size_t i = 0; s->missing && i < s->opts->nfuncs; i++) {
		free(s->missing[i].msg);
		free(s->missing[i].where);
	}
	free(s->missing);
	cli_free_command(s->exec_command);
	account_free(s->acct);
	ctypes_close(s->ctypes);
	free(s->graph_dot);
}

/* Processes and threads: forks, vforks, clones, execs, signals, exits. */
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

/* RSS of P now, for a line event (or an entry, a return). With --peak
 * the high-water mark since the last event is given to the open calls
 * first, then reset, so that each line gets the peak of its own run. */
uint64_t sample(struct session *s, struct process *p)
{
	uint64_t rss = sampler_rss(&p->sampler);

	if (s->peak) {
		uint64_t hwm = sampler_peak(&p->sampler);

		account_peak(s->acct, p->target.pid, hwm > rss ? hwm : rss);
		sampler_reset_peak(&p->sampler);
	}
	return rss;
}

/* The figure an event of thread TH is given, from RSS and the minor
 * faults of the thread (MINFLT) and of its process (PROC_MINFLT) then;
 * 0 when not taken, and PROC_MINFLT alone 0 when the process's faults
 * moved too much while RSS was read for them to go together. Threads of
 * a process that run at once each make pages resident: what the process
 * grew since its last event is charged to TH for its own faults since
 * its own last event, less the faults of every thread in that time, plus
 * the growth no fault explains (frees, pages mapped around a fault). So
 * the charges of all threads add up to what the process grew, less the
 * faults of threads outside profiled calls; alone, a thread is charged
 * all of it, as RSS moves. */
uint64_t thread_view(struct session *s, struct thread *th, uint64_t rss,
		     uint32_t minflt, uint32_t proc_minflt)
{
	struct process *p = th->proc;
	int64_t grew = (int64_t)rss - (int64_t)p->rss_seen;
	int64_t page = (int64_t)p->sampler.page_size;
	/* signed: records are taken in one order and read in another */
	int64_t own = minflt && th->minflt ? (int32_t)(minflt - th->minflt) : 0;
	bool paired = proc_minflt != 0;

	(void)s;
	if (!th->viewed) {
		th->view = (int64_t)rss;
	} else if (paired && p->minflt_seen) {
		int64_t all = (int32_t)(proc_minflt - p->minflt_seen);

		th->view += grew + (own - all) * page;
	} else if (minflt && th->minflt) {
		/* the rest of the growth goes with the next event that
		 * has the process's faults */
		th->view += own * page;
	} else {
		th->view += grew;
	}
	th->viewed = true;
	th->minflt = minflt;
	if (paired || !minflt) {
		p->rss_seen = rss;
		p->minflt_seen = proc_minflt;
	}
	return th->view > 0 ? (uint64_t)th->view : 0;
}

/* The faults of the process may move by this many while its RSS is read,
 * for the two to go together. */
#define FAULTS_DURING 32

/* The same at a stop of TH: the faults are read while other threads of
 * its process may run at once. */
uint64_t thread_sample(struct session *s, struct thread *th)
{
	struct process *p = th->proc;
	uint32_t minflt = 0, before = 0, after = 0;
	uint64_t rss;

	if (threads_of(s, p) < 2 ||
	    sampler_minflt(&p->sampler, p->target.pid, th->tid, &minflt,
			   &before) < 0)
		return thread_view(s, th, sample(s, p), 0, 0);
	rss = sample(s, p);
	if (sampler_minflt(&p->sampler, p->target.pid, 0, NULL, &after) < 0 ||
	    after - before > FAULTS_DURING)
		after = 0;
	return thread_view(s, th, rss, minflt, after);
}

/* --engine jump: once P has more than one thread, its stubs take the
 * minor faults too. */
void count_faults(struct process *p)
{
	if (p->ring.hdr && !p->ring.hdr->faults)
		__atomic_store_n(&p->ring.hdr->faults, 1, __ATOMIC_RELEASE);
}

/* Processes */

struct process *process_new(struct session *s, pid_t pid)
{
	struct process *p = xcalloc(1, sizeof(*p));

	p->target.mem_fd = -1;
	p->sampler.statm_fd = p->sampler.status_fd = -1;
	p->sampler.clear_refs_fd = p->sampler.stat_fd = -1;
	if (target_open(&p->target, pid) < 0 ||
	    sampler_open(&p->sampler, pid) < 0) {
		target_close(&p->target);
		sampler_close(&p->sampler);
		free(p);
		return NULL;
	}
	s->procs = xrealloc(s->procs, (s->nprocs + 1) * sizeof(*s->procs));
	s->procs[s->nprocs++] = p;
	return p;
}

static struct process *process_find(const struct session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i]->target.pid == pid)
			return s->procs[i];
	}
	return NULL;
}

void process_free(struct process *p)
{
	ring_close(&p->ring);
	agent_free(&p->target);
	image_put(p->image);
	target_close(&p->target);
	sampler_close(&p->sampler);
	free(p);
}

void process_remove(struct session *s, struct process *p)
{
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i] == p) {
			s->procs[i] = s->procs[--s->nprocs];
			break;
		}
	}
	process_free(p);
}

/* How many threads of P are known. */
size_t threads_of(const struct session *s, const struct process *p)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++)
		n += s->threads[i].proc == p;
	return n;
}

/* Threads */

struct thread *thread_find(struct session *s, pid_t tid)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	}
	return NULL;
}

struct thread *thread_add(struct session *s, pid_t tid, struct process *p)
{
	s->threads =
		xrealloc(s->threads, (s->nthreads + 1) * sizeof(*s->threads));
	s->threads[s->nthreads] = (struct thread){.tid = tid, .proc = p};
	if (p && threads_of(s, p) > 0)
		count_faults(p);
	return &s->threads[s->nthreads++];
}

/* The thread TID, learning its process when it is new. */
struct thread *thread_get(struct session *s, pid_t tid)
{
	struct thread *th = thread_find(s, tid);
	struct process *p;

	if (th)
		return th;
	p = process_find(s, target_tgid(tid));
	return thread_add(s, tid, p ? p : s->procs[0]);
}

/* Other stops */

/* The process a new one was forked from. */
static struct process *parent_of(struct session *s, pid_t pid)
{
	char path[64], line[256];
	pid_t ppid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	}
	if (f)
		fclose(f);
	return process_find(s, ppid);
}

/* Takes what a fork child inherited of its parent's ring out of it: the
 * mapping at RING (when not 0) and the descriptor STATM_FD. */
void forget_ring_of(const struct target *t, pid_t pid, uint64_t ring,
		    int statm_fd)
{
	uint64_t args[6] = {(uint64_t)statm_fd};
	int64_t result;

	target_syscall(t, pid, SYS_close, args, &result);
	if (ring) {
		args[0] = ring;
		args[1] = PAGE_ROUND(RING_BYTES);
		target_syscall(t, pid, SYS_munmap, args, &result);
	}
}

/* A forked process starts. Its memory is a copy of its parent's, our
 * breakpoints included: with -f it is profiled with the same image,
 * otherwise it is cleaned and let go. */
static void on_new_process(struct session *s, pid_t pid)
{
	struct process *parent = parent_of(s, pid);
	struct image *img = parent ? parent->image : NULL;
	struct process *p;
	bool shares;

	if (!s->opts->follow_forks || !img) {
		bool shared =
			img && target_share_memory(pid, parent->target.pid);

		/* vfork: the memory is the parent's own, breakpoints and all,
		 * so the child is kept until it execs or exits */
		if (shared && (p = process_new(s, pid))) {
			p->image = image_get(img);
			p->borrowed = true;
			thread_add(s, pid, p);
			target_resume(pid, 0);
			return;
		}
		if (img && !shared) {
			bp_clean_process(img->bps, pid);
			if (parent->ring.hdr) {
				struct target child = {.pid = pid,
						       .mem_fd = -1};
				if (target_open(&child, pid) == 0)
					forget_ring_of(
						&child, pid, img->ring_addr,
						parent->ring.hdr->statm_fd);
				target_close(&child);
			}
		}
		target_detach(pid, 0);
		return;
	}
	p = process_new(s, pid);
	/* a vfork child runs in its parent's memory, ring and all: a ring
	 * mapped for it would take the parent's place; its records are
	 * not its parent's, and are left out */
	shares = p && target_share_memory(pid, parent->target.pid);
	if (p && parent->ring.hdr && !shares &&
	    ring_open(&p->ring, &p->target, pid, img->ring_addr, img->scratch) <
		    0) {
		warn_msg("cannot map a ring for line events into process %d "
			 "(%s): it is not followed",
			 pid, strerror(errno));
		process_remove(s, p);
		p = NULL;
	}
	if (!p) {
		bp_clean_process(img->bps, pid);
		target_detach(pid, 0);
		return;
	}
	if (parent->ring.hdr && !shares) {
		/* its own ring now; the statm it inherited is its parent's */
		p->sampler.hidden = parent->sampler.hidden;
		forget_ring_of(&p->target, pid, 0, parent->ring.hdr->statm_fd);
	}
	p->image = image_get(img);
	agent_fork(&parent->target, &p->target);
	thread_add(s, pid, p);
	target_resume(pid, 0);
}

/* A thread forked CHILD and is stopped there: a vfork child runs in its
 * memory until it execs or exits, and the thread waits for it. */
void on_fork(struct session *s, pid_t tid, pid_t child)
{
	struct thread *th = thread_find(s, tid);

	if (!th || child <= 0)
		return;
	if (target_share_memory(child, th->proc->target.pid) && !th->in_vfork) {
		th->in_vfork = true;
		s->in_vfork++;
	}
}

/* Any stop of a thread that made a vfork child says that it is back. */
void vfork_done(struct session *s, pid_t tid)
{
	struct thread *th = thread_find(s, tid);

	if (th && th->in_vfork) {
		th->in_vfork = false;
		s->in_vfork--;
	}
}

void on_start(struct session *s, pid_t tid)
{
	pid_t tgid = target_tgid(tid);
	struct process *p = process_find(s, tgid);

	if (p && !thread_find(s, tid))
		thread_add(s, tid, p);
	if (p || tgid < 0)
		target_resume(tid, 0);
	else
		on_new_process(s, tid);
}

/* The process executed a new program: what ran before has ended, and the
 * functions are looked up again in the new image. */
void on_exec(struct session *s, pid_t tid)
{
	struct process *p = process_find(s, tid);

	if (!p) {
		target_resume(tid, 0);
		return;
	}
	if (p->borrowed) {
		/* its memory is its own now, and clean */
		end_threads_of(s, p, 0);
		target_detach(tid, 0);
		process_remove(s, p);
		return;
	}
	end_threads_of(s, p, sample(s, p));
	/* the ring went with the old program */
	ring_close(&p->ring);
	p->sampler.hidden = 0;
	image_put(p->image);
	p->image = NULL;
	/* --heap: the allocator is the new program's, to be found again */
	p->allocs_found = p->allocs_armed = p->frees_armed = false;
	/* the program memprof started is this one now (a wrapper script's
	 * exec): the report and the exit line name it */
	if (p == s->procs[0]) {
		cli_free_command(s->exec_command);
		s->exec_command = cli_command_of(tid);
		s->command = s->exec_command;
	}
	/* the same id, but a new address space */
	agent_free(&p->target);
	target_close(&p->target);
	sampler_close(&p->sampler);
	if (target_open(&p->target, tid) == 0 &&
	    sampler_open(&p->sampler, tid) == 0) {
		/* attached, the new program must outlive memprof too: the
		 * agent went with the old one */
		if (s->opts->pid && program_fits(p))
			install_agent(s, p);
		load_image(s, p, tid, false);
	}
	thread_add(s, tid, p);
	target_resume(tid, 0);
}

/* Whether SIG runs a handler in process PID (SigCgt): only then does a
 * signal frame return to where the thread was. A stop signal, an ignored
 * one or a default action leaves none. */
static bool runs_handler(pid_t pid, int sig)
{
	char path[64], line[256];
	bool caught = true; /* unknown: as if it did */
	FILE *f;

	if (sig == SIGSTOP || sig == SIGKILL)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "SigCgt:", 7) == 0) {
			caught =
				(strtoull(line + 7, NULL, 16) >> (sig - 1)) & 1;
			break;
		}
	}
	if (f)
		fclose(f);
	return caught;
}

/* Thread TID of P, in a stub that has taken its record and not written
 * it, is stepped until it has (some twenty instructions, none a system
 * call; past the full ring's trap, once the ring is drained): a handler
 * that never returns (siglongjmp, a thread's exit) would leave the record
 * unwritten for good, and it holds back every record after it: the ring
 * stayed full and the program made no progress. Signals that come
 * meanwhile are set aside in *LATER. */
static void write_record_first(struct session *s, struct process *p, pid_t tid,
			       int *later)
{
	struct user_regs_struct regs;
	uint64_t end;

	for (int steps = 0; steps < 64; steps++) {
		struct stop stop;

		if (target_get_regs(tid, &regs) < 0 ||
		    !image_stub_holds_record(p->image, regs.rip, &end))
			return;
		if (target_step(tid) < 0 || target_wait(tid, &stop) < 0)
			return;
		if (stop.event == TEV_BREAKPOINT && stop.sig == SIGSEGV &&
		    target_get_regs(tid, &regs) == 0 &&
		    image_stub_holds_record(p->image, regs.rip, &end)) {
			/* the full ring's trap: room, and past it */
			drain_ring(s, p);
			target_set_pc(tid, regs.rip + 1);
		} else if (stop.event == TEV_SIGNAL) {
			*later = stop.sig;
		} else if (stop.event == TEV_EXITED ||
			   stop.event == TEV_KILLED || stop.event == TEV_EXIT) {
			s->stats.stops++;
			queue_stop(s, &stop);
			return;
		}
	}
}

/* A signal is about to be delivered. A thread in the out-of-line area
 * leaves it first: its signal frame would return there, and the area
 * must be free to go when we detach. Not from a stub's own code, which
 * the other threads run meanwhile: the signal comes there (once the
 * stub's record is written), and the areas stay in the process when it
 * is let go. */
void on_signal(struct session *s, const struct stop *stop)
{
	struct thread *th = thread_find(s, stop->tid);
	struct process *p = th ? th->proc : NULL;
	struct user_regs_struct regs;
	int later = 0;

	if (p && p->image && p->image->nxols &&
	    target_get_regs(stop->tid, &regs) == 0 &&
	    image_in_xol(p->image, regs.rip)) {
		if (image_stub_exit(p->image, regs.rip)) {
			if (runs_handler(p->target.pid, stop->sig)) {
				p->signal_in_stub = true;
				write_record_first(s, p, stop->tid, &later);
			}
			target_resume(stop->tid, stop->sig);
			if (later)
				syscall(SYS_tgkill, p->target.pid, stop->tid,
					later);
			return;
		}
		leave_xol(s, p, stop->tid, &later, false);
		/* one that came during the steps comes again */
		if (later)
			syscall(SYS_tgkill, p->target.pid, stop->tid, later);
	}
	target_resume(stop->tid, stop->sig);
}

void on_exited(struct session *s, const struct stop *stop)
{
	struct process *p = process_find(s, stop->tid);
	struct thread *th = thread_find(s, stop->tid);

	if (th)
		thread_end(s, th,
			   thread_view(s, th, th->proc->sampler.last, 0, 0));
	if (!p)
		return;
	end_threads_of(s, p, p->sampler.last);
	if (p == s->procs[0]) {
		s->status.how =
			stop->event == TEV_EXITED ? RUN_EXITED : RUN_SIGNALED;
		s->status.code =
			stop->event == TEV_EXITED ? stop->code : stop->sig;
		s->done = true;
		return;
	}
	process_remove(s, p);
}

/* What the tracer's rooms (profiler.c, the loop; procs, loader,
 * heapwatch, calls, sources, stepping, launch, detach) call of each
 * other. Nothing outside them includes it. */
#ifndef MEMPROF_TRACER_H
#define MEMPROF_TRACER_H

#include "profiler.h"

#define PAGE_ROUND(n) (((n) + 4095u) & ~(uint64_t)4095u)

/* profiler.c: the loop */
double now(void);
int program_error(struct session *s, int status, const char *fmt,
		  const char *arg);
void queue_stop(struct session *s, const struct stop *stop);
bool is_queued(const struct session *s, pid_t tid);
void run_until_let_go(struct session *s);

/* procs.c: processes and threads */
uint64_t sample(struct session *s, struct process *p);
uint64_t thread_view(struct session *s, struct thread *th, uint64_t rss,
		     uint32_t minflt, uint32_t proc_minflt);
uint64_t thread_sample(struct session *s, struct thread *th);
void count_faults(struct process *p);
struct process *process_new(struct session *s, pid_t pid);
void process_free(struct process *p);
void process_remove(struct session *s, struct process *p);
size_t threads_of(const struct session *s, const struct process *p);
struct thread *thread_find(struct session *s, pid_t tid);
struct thread *thread_add(struct session *s, pid_t tid, struct process *p);
struct thread *thread_get(struct session *s, pid_t tid);
void forget_ring_of(const struct target *t, pid_t pid, uint64_t ring,
		    int statm_fd);
void on_fork(struct session *s, pid_t tid, pid_t child);
void vfork_done(struct session *s, pid_t tid);
void on_start(struct session *s, pid_t tid);
void on_exec(struct session *s, pid_t tid);
void on_signal(struct session *s, const struct stop *stop);
void on_exited(struct session *s, const struct stop *stop);

/* loader.c: images and the functions in them */
int load_image(struct session *s, struct process *p, pid_t tid, bool required);
bool program_fits(const struct process *p);
/* launch.c: the agent into P, attached to (its threads stopped) */
void install_agent(struct session *s, struct process *p);
void on_loader(struct session *s, struct thread *th);

/* heapwatch.c: --heap */
bool frees(int kind);
void find_allocs(struct session *s, struct process *p, pid_t tid);
void arm_allocs(struct session *s, struct process *p);
bool allocs_jump(const struct process *p);
void jump_allocs(struct session *s, struct process *p, pid_t tid,
		 const uint64_t *pcs, size_t npcs);
void alloc_record(struct session *s, struct thread *th,
		  const struct breakpoint *bp, const struct ring_record *rec);
void on_alloc(struct session *s, struct thread *th, const struct breakpoint *bp,
	      const struct user_regs_struct *regs);
void alloc_returned(struct session *s, struct thread *th,
		    const struct alloc_call *c, uint64_t result);

/* typewatch.c: --types, at the return of a profiled call (REGS at its
 * ret or at the return address) */
void types_at_return(struct session *s, struct thread *th,
		     const struct user_regs_struct *regs);
/* memprof graph: TH's innermost call is at a line event for LINE, or
 * (LINE 0) about to return, its pc still in the function */
void graph_at(struct session *s, struct thread *th, int line);

/* calls.c: activations and the seam of line events */
void site_event(struct session *s, struct thread *th,
		const struct profiled_func *pf, const struct breakpoint *bp,
		uint64_t sp, uint64_t rss);
void thread_end(struct session *s, struct thread *th, uint64_t rss);
void end_threads_of(struct session *s, const struct process *p, uint64_t rss);
void emulate_return(struct session *s, struct thread *th, int func,
		    const struct breakpoint *bp, struct user_regs_struct *regs,
		    uint64_t rss);
bool return_awaited(const struct session *s, const struct process *p,
		    uint64_t addr);
bool await_return(struct session *s, struct thread *th, uint64_t addr);
void on_return_site(struct session *s, struct thread *th,
		    const struct breakpoint *bp,
		    const struct user_regs_struct *regs);
void tail_call(struct session *s, struct thread *th,
	       const struct profiled_func *pf, const struct breakpoint *bp,
	       const struct user_regs_struct *regs, uint64_t rss);
bool leaves(const struct thread *th, const struct profiled_func *pf,
	    const struct breakpoint *bp, const struct user_regs_struct *regs);
void resume_past(struct session *s, struct thread *th,
		 const struct breakpoint *bp);

/* sources.c: the breakpoint stop and the ring */
void on_breakpoint(struct session *s, const struct stop *stop);
void drain_ring(struct session *s, struct process *p);
void drain_rings(struct session *s);
void drain_rings_before_stop(struct session *s, pid_t tid);

/* stepping.c: a step over a breakpoint, the other threads held */
void step_over(struct session *s, struct thread *th,
	       const struct breakpoint *bp);
bool step_stopped(struct session *s, struct thread *th,
		  const struct stop *stop);
void held_stopped(struct session *s, struct thread *th,
		  const struct stop *stop);
bool held_back(struct session *s, const struct thread *th, pid_t tid);

/* detach.c: letting a process go */
void leave_xol(struct session *s, const struct process *p, pid_t tid, int *sig,
	       bool all_stopped);
bool leaving_stopped(struct thread *th, const struct stop *stop);
bool joins_leaving(struct session *s, pid_t tid);
bool detaching(const struct session *s);
void detach_start(struct session *s, struct process *p);
void detach_progress(struct session *s);

#endif

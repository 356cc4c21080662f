/* The traced process: starting it, waiting for its stops and telling them
 * apart, reading and writing its registers and memory. The only module
 * that calls ptrace() and waitpid(). */
#ifndef MEMPROF_TARGET_H
#define MEMPROF_TARGET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* What a wait status means, decided once here. */
enum trace_event {
	TEV_EXITED,	/* a thread or process exited; code = exit status */
	TEV_KILLED,	/* the process was killed; sig = the signal */
	TEV_BREAKPOINT, /* an int3 was hit */
	TEV_STEPPED,	/* a single step finished */
	TEV_SIGNAL,	/* a signal is about to be delivered; sig */
	TEV_GROUP_STOP, /* stopped by SIGSTOP/SIGTSTP/...; sig */
	TEV_START,	/* a new thread or process stops before running */
	TEV_CLONE,	/* made a thread; msg = its tid */
	TEV_FORK,	/* made a process (fork, vfork); msg = its pid */
	TEV_EXEC,	/* exec done; msg = the former thread id */
	TEV_EXIT,	/* about to exit; code = the wait status to come */
};

struct stop {
	pid_t tid;
	enum trace_event event;
	int sig;
	int code;
	unsigned long msg;
};

struct agent;

struct target {
	pid_t pid;	     /* the thread group we trace */
	int mem_fd;	     /* /proc/PID/mem, kept open */
	struct agent *agent; /* the in-process agent (agent.h), or NULL */
	uint64_t stub;	     /* room for target_syscall's code, or 0 */
};

/* Resolves PROGRAM as a shell would (PATH when it has no '/'). Returns a
 * new string, or NULL with errno ENOENT (not found), EISDIR (a directory)
 * or EACCES (found but not executable). */
char *target_find_program(const char *program);

/* Whether the file at PATH is an x86-64 ELF executable. When not, *WHY
 * says what it is instead ("a 32-bit x86 program; ..."), a new string,
 * or is NULL for a file that is no ELF file at all. */
bool target_check_elf(const char *path, char **why);

/* Starts ARGV[0] at PATH under ptrace; on return the process has just
 * executed PATH and is stopped (TEV_EXEC), nothing of it has run. Its pid
 * goes to *PIDVAR (when not NULL) as soon as it exists, for a signal
 * handler. Returns 0, or -1 with errno (EPERM: ptrace is not
 * permitted). */
int target_spawn(struct target *t, const char *path, char *const argv[],
		 volatile sig_atomic_t *pidvar);

/* Opens the memory of process PID, which we trace. */
int target_open(struct target *t, pid_t pid);

/* A thread seized by target_attach, stopped. */
struct attached {
	pid_t tid;
	int sig;	 /* a signal it was about to get: deliver it */
	bool group_stop; /* the process was stopped (SIGSTOP): listen */
	bool stopped;
	bool gone; /* exited meanwhile */
};

/* Seizes every thread of the running process PID and stops each one.
 * Returns 0 with the threads in *THREADS (a new array), or -1 with
 * errno (EPERM: not permitted; ESRCH: no such process). */
int target_attach(struct target *t, pid_t pid, struct attached **threads,
		  size_t *n);

/* Why process PID cannot be attached to, when /proc tells (a zombie,
 * traced already): a new string, with the exit status
 * for it in *STATUS; NULL otherwise. */
char *target_attach_obstacle(pid_t pid, int *status);

/* Stops a running thread we have seized (a TEV_START stop follows). */
int target_interrupt(pid_t tid);

/* Waits for the next stop of any traced thread (TID -1) or of one. Returns
 * 0, or -1 with errno (ECHILD: nothing left to wait for). */
int target_wait(pid_t tid, struct stop *stop);

/* The same, but a signal that interrupts the wait ends it (EINTR). */
int target_wait_once(pid_t tid, struct stop *stop);
/* A stop that has come already, without waiting: -1 when none has. */
int target_poll(struct stop *stop);
/* A stop that a wait of target's own on one thread (an injected call)
 * met and left: the thread ended. 0 with one, -1 when there is none. */
int target_kept(struct stop *stop);

int target_resume(pid_t tid, int sig);
int target_step(pid_t tid);
int target_listen(pid_t tid);
int target_detach(pid_t tid, int sig);

int target_get_regs(pid_t tid, struct user_regs_struct *regs);
int target_set_regs(pid_t tid, const struct user_regs_struct *regs);
/* Sets the instruction pointer alone (cheaper than all registers). */
int target_set_pc(pid_t tid, uint64_t pc);

/* Memory of the traced process (text pages included). */
int target_read(const struct target *t, uint64_t addr, void *buf, size_t n);
int target_write(const struct target *t, uint64_t addr, const void *buf,
		 size_t n);
/* The same for another process we trace (a fork child). */
int target_write_pid(pid_t pid, uint64_t addr, const void *buf, size_t n);
int target_read_pid(pid_t pid, uint64_t addr, void *buf, size_t n);

/* Makes the stopped thread TID run the system call NR with ARGS, then
 * puts its registers and code back as they were. Returns 0 with the
 * call's return value in *RESULT, or -1 with errno. A signal that comes
 * meanwhile is sent again after; a thread in a group stop is in it again
 * after. The code runs at T->stub, or in the padding of an executable
 * mapping, and puts the registers back itself if memprof dies
 * meanwhile. */
int target_syscall(const struct target *t, pid_t tid, long nr,
		   const uint64_t args[6], int64_t *result);

/* Whether the stopped thread TID is in a group stop (the process was
 * stopped by SIGSTOP or the like): it goes on with target_listen. */
bool target_in_group_stop(pid_t tid);

/* Whether signal SIG is pending for thread TID (sent, not yet taken). */
bool target_signal_pending(pid_t tid, int sig);

/* The thread group a thread belongs to; -1 when it cannot be told. */
pid_t target_tgid(pid_t tid);
/* Whether two processes share their memory (vfork, CLONE_VM); true when
 * it cannot be told, which is the safe answer for callers. */
bool target_share_memory(pid_t a, pid_t b);

void target_close(struct target *t);

#endif

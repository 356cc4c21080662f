/* Process control through ptrace: start-up the strace way (the child
 * stops itself, we seize it), one place that classifies wait statuses,
 * memory through /proc/PID/mem. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TRAP_BRKPT
#define TRAP_BRKPT 1
#endif
#ifndef TRAP_TRACE
#define TRAP_TRACE 2
#endif

#include "target.h"
#include "util.h"

#ifndef KCMP_VM
#define KCMP_VM 1
#endif

static const long trace_options = PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |
				  PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
				  PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT;
/* A process we attach to lives on if memprof dies: no EXITKILL. */
static const long attach_options = trace_options & ~PTRACE_O_EXITKILL;

static bool is_executable_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	return access(path, X_OK) == 0;
}

char *target_find_program(const char *program)
{
	struct stat st;

	if (strchr(program, '/')) {
		if (stat(program, &st) < 0) {
			errno = ENOENT;
			return NULL;
		}
		if (!is_executable_file(program)) {
			errno = EACCES;
			return NULL;
		}
		return xstrdup(program);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	bool seen_unexecutable = false;
	while (*path) {
		size_t len = strcspn(path, ":");
		char *cand = len ? xasprintf("%.*s/%s", (int)len, path, program)
				 : xasprintf("./%s", program);
		if (is_executable_file(cand))
			return cand;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
			seen_unexecutable = true;
		free(cand);
		path += len;
		if (*path == ':')
			path++;
	}
	errno = seen_unexecutable ? EACCES : ENOENT;
	return NULL;
}

static void kill_and_reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
}

/* Waits until PID reports an exec, letting the SIGCONT we sent through. */
static int wait_for_exec(pid_t pid)
{
	struct stop stop;

	for (;;) {
		if (target_wait(pid, &stop) < 0)
			return -1;
		switch (stop.event) {
		case TEV_EXEC:
			return 0;
		case TEV_EXITED:
		case TEV_KILLED:
			errno = ENOEXEC;
			return -1;
		case TEV_SIGNAL:
			/* our own SIGCONT: no need to deliver it */
			if (target_resume(pid,
					  stop.sig == SIGCONT ? 0 : stop.sig) <
			    0)
				return -1;
			break;
		case TEV_GROUP_STOP:
			if (target_listen(pid) < 0)
				return -1;
			break;
		default:
			if (target_resume(pid, 0) < 0)
				return -1;
			break;
		}
	}
}

int target_spawn(struct target *t, const char *path, char *const argv[],
		 volatile sig_atomic_t *pidvar)
{
	sigset_t all, old;
	int status;
	pid_t pid;

	/* a signal handler that ends memprof knows the child from birth */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		raise(SIGSTOP);
		execv(path, argv);
		_exit(127);
	}
	if (pid > 0 && pidvar)
		*pidvar = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, WSTOPPED) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (!WIFSTOPPED(status)) {
		errno = ECHILD;
		return -1;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0L, trace_options) < 0) {
		int err = errno;
		kill_and_reap(pid);
		errno = err;
		return -1;
	}
	kill(pid, SIGCONT);
	if (wait_for_exec(pid) < 0) {
		int err = errno;
		kill_and_reap(pid);
		errno = err;
		return -1;
	}
	if (target_open(t, pid) < 0) {
		int err = errno;
		kill_and_reap(pid);
		errno = err;
		return -1;
	}
	return 0;
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
	       sig == SIGTTOU;
}

static void classify_trap(struct stop *stop)
{
	siginfo_t si;

	stop->event = TEV_SIGNAL;
	if (ptrace(PTRACE_GETSIGINFO, stop->tid, 0L, &si) < 0)
		return;
	if (si.si_code == SI_KERNEL)
		stop->event = TEV_BREAKPOINT;
	else if (si.si_code == TRAP_TRACE)
		stop->event = TEV_STEPPED;
	else if (si.si_code == TRAP_BRKPT)
		stop->event = TEV_BREAKPOINT;
}

static void classify(int status, struct stop *stop)
{
	int event = (unsigned)status >> 16;

	stop->sig = 0;
	stop->code = 0;
	stop->msg = 0;
	if (WIFEXITED(status)) {
		stop->event = TEV_EXITED;
		stop->code = WEXITSTATUS(status);
		return;
	}
	if (WIFSIGNALED(status)) {
		stop->event = TEV_KILLED;
		stop->sig = WTERMSIG(status);
		return;
	}
	stop->sig = WSTOPSIG(status);
	switch (event) {
	case 0:
		if (stop->sig == SIGTRAP)
			classify_trap(stop);
		else
			stop->event = TEV_SIGNAL;
		return;
	case PTRACE_EVENT_STOP:
		stop->event =
			is_stop_signal(stop->sig) ? TEV_GROUP_STOP : TEV_START;
		return;
	case PTRACE_EVENT_CLONE:
		stop->event = TEV_CLONE;
		break;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		stop->event = TEV_FORK;
		break;
	case PTRACE_EVENT_EXEC:
		stop->event = TEV_EXEC;
		break;
	case PTRACE_EVENT_EXIT:
		stop->event = TEV_EXIT;
		break;
	default:
		/* PTRACE_EVENT_VFORK_DONE and the like: nothing to do */
		stop->event = TEV_START;
		return;
	}
	stop->sig = 0;
	ptrace(PTRACE_GETEVENTMSG, stop->tid, 0L, &stop->msg);
	if (stop->event == TEV_EXIT)
		stop->code = (int)stop->msg;
}

int target_wait(pid_t tid, struct stop *stop)
{
	int status;
	pid_t got;

	do {
		got = waitpid(tid, &status, __WALL);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	stop->tid = got;
	classify(status, stop);
	return 0;
}

int target_wait_once(pid_t tid, struct stop *stop)
{
	int status;
	pid_t got = waitpid(tid, &status, __WALL);

	if (got < 0)
		return -1;
	stop->tid = got;
	classify(status, stop);
	return 0;
}

int target_resume(pid_t tid, int sig)
{
	return (int)ptrace(PTRACE_CONT, tid, 0L, (long)sig);
}

int target_step(pid_t tid)
{
	return (int)ptrace(PTRACE_SINGLESTEP, tid, 0L, 0L);
}

int target_listen(pid_t tid)
{
	return (int)ptrace(PTRACE_LISTEN, tid, 0L, 0L);
}

int target_detach(pid_t tid, int sig)
{
	return (int)ptrace(PTRACE_DETACH, tid, 0L, (long)sig);
}

int target_get_regs(pid_t tid, struct user_regs_struct *regs)
{
	return (int)ptrace(PTRACE_GETREGS, tid, 0L, regs);
}

int target_set_regs(pid_t tid, const struct user_regs_struct *regs)
{
	return (int)ptrace(PTRACE_SETREGS, tid, 0L, regs);
}

int target_set_pc(pid_t tid, uint64_t pc)
{
	return (int)ptrace(PTRACE_POKEUSER, tid,
			   (void *)offsetof(struct user_regs_struct, rip),
			   (void *)pc);
}

int target_read(const struct target *t, uint64_t addr, void *buf, size_t n)
{
	ssize_t got = pread(t->mem_fd, buf, n, (off_t)addr);

	if (got == (ssize_t)n)
		return 0;
	if (got >= 0)
		errno = EIO;
	return -1;
}

int target_write(const struct target *t, uint64_t addr, const void *buf,
		 size_t n)
{
	ssize_t put = pwrite(t->mem_fd, buf, n, (off_t)addr);

	if (put == (ssize_t)n)
		return 0;
	if (put >= 0)
		errno = EIO;
	return -1;
}

int target_read_pid(pid_t pid, uint64_t addr, void *buf, size_t n)
{
	char mem[64];

	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	struct target t = {.pid = pid,
			   .mem_fd = open(mem, O_RDONLY | O_CLOEXEC)};
	if (t.mem_fd < 0)
		return -1;
	int ret = target_read(&t, addr, buf, n);
	close(t.mem_fd);
	return ret;
}

int target_write_pid(pid_t pid, uint64_t addr, const void *buf, size_t n)
{
	char mem[64];

	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	struct target t = {.pid = pid, .mem_fd = open(mem, O_RDWR | O_CLOEXEC)};
	if (t.mem_fd < 0)
		return -1;
	int ret = target_write(&t, addr, buf, n);
	close(t.mem_fd);
	return ret;
}

/* Waits for TID's int3 after the injected call, setting aside signals. */
static int wait_injected_trap(pid_t tid, int *pending)
{
	struct stop stop;

	for (;;) {
		if (target_wait(tid, &stop) < 0)
			return -1;
		switch (stop.event) {
		case TEV_BREAKPOINT:
			return 0;
		case TEV_SIGNAL:
			*pending = stop.sig;
			break;
		case TEV_EXITED:
		case TEV_KILLED:
		case TEV_EXIT:
			errno = ESRCH;
			return -1;
		default:
			break;
		}
		if (target_resume(tid, 0) < 0)
			return -1;
	}
}

bool target_in_group_stop(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, 0L, &si) < 0)
		return false;
	return si.si_code >> 8 == PTRACE_EVENT_STOP &&
	       is_stop_signal(si.si_signo);
}

/* Puts TID, which ran an injected call out of a group stop, back into
 * it: an interrupt traps before any code of the program runs, and
 * reports the stop that is still in effect. */
static void back_to_group_stop(pid_t tid, int *pending)
{
	struct stop stop;

	if (target_interrupt(tid) < 0 || target_resume(tid, 0) < 0)
		return;
	while (target_wait(tid, &stop) == 0) {
		if (stop.event != TEV_SIGNAL)
			return;
		/* a signal that came meanwhile is sent again after */
		*pending = stop.sig;
		if (target_resume(tid, 0) < 0)
			return;
	}
}

int target_syscall(const struct target *t, pid_t tid, long nr,
		   const uint64_t args[6], int64_t *result)
{
	/* mov $NR,%eax; syscall; int3. The code sets rax itself: stopped at
	 * an exec event, the kernel still writes execve's result to rax when
	 * the thread goes on. */
	uint8_t stub[8] = {0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0xcc};
	uint32_t nr32 = (uint32_t)nr;
	struct user_regs_struct saved, regs;
	uint8_t code[sizeof(stub)];
	int pending = 0, ret = -1;
	bool group_stop = target_in_group_stop(tid);

	memcpy(stub + 1, &nr32, sizeof(nr32));
	if (target_get_regs(tid, &saved) < 0 ||
	    target_read(t, saved.rip, code, sizeof(code)) < 0 ||
	    target_write(t, saved.rip, stub, sizeof(stub)) < 0)
		return -1;
	regs = saved;
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	/* not in a system call: nothing for the kernel to restart */
	regs.orig_rax = (uint64_t)-1;
	if (target_set_regs(tid, &regs) == 0 && target_resume(tid, 0) == 0 &&
	    wait_injected_trap(tid, &pending) == 0 &&
	    target_get_regs(tid, &regs) == 0) {
		*result = (int64_t)regs.rax;
		ret = 0;
	}
	if (target_write(t, saved.rip, code, sizeof(code)) < 0 ||
	    target_set_regs(tid, &saved) < 0)
		ret = -1;
	/* the process stays stopped as it was (SIGSTOP) */
	if (group_stop)
		back_to_group_stop(tid, &pending);
	if (pending)
		syscall(SYS_tgkill, t->pid, tid, pending);
	return ret;
}

int target_open(struct target *t, pid_t pid)
{
	char mem[64];

	snprintf(mem, sizeof(mem), "/proc/%d/mem", pid);
	t->pid = pid;
	t->mem_fd = open(mem, O_RDWR | O_CLOEXEC);
	return t->mem_fd < 0 ? -1 : 0;
}

int target_interrupt(pid_t tid)
{
	return (int)ptrace(PTRACE_INTERRUPT, tid, 0L, 0L);
}

/* Seizes every thread of PID not in *THREADS yet; how many were new. */
static size_t seize_new_threads(pid_t pid, struct attached **threads, size_t *n,
				int *err)
{
	char path[64];
	struct dirent *de;
	size_t added = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir) {
		*err = errno == ENOENT ? ESRCH : errno;
		return 0;
	}
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		bool known = false;

		if (tid <= 0)
			continue;
		for (size_t i = 0; i < *n && !known; i++)
			known = (*threads)[i].tid == tid;
		if (known)
			continue;
		if (ptrace(PTRACE_SEIZE, tid, 0L, attach_options) < 0) {
			/* a thread that has just exited is no loss */
			if (errno != ESRCH)
				*err = errno;
			continue;
		}
		target_interrupt(tid);
		*threads = xrealloc(*threads, (*n + 1) * sizeof(**threads));
		(*threads)[(*n)++] = (struct attached){.tid = tid};
		added++;
	}
	closedir(dir);
	return added;
}

static struct attached *find_attached(struct attached *threads, size_t n,
				      pid_t tid)
{
	for (size_t i = 0; i < n; i++) {
		if (threads[i].tid == tid)
			return &threads[i];
	}
	return NULL;
}

int target_attach(struct target *t, pid_t pid, struct attached **threads,
		  size_t *n)
{
	size_t stopped = 0;
	int err = 0;

	*threads = NULL;
	*n = 0;
	/* threads can start while we seize the others: until none is new */
	while (seize_new_threads(pid, threads, n, &err) > 0 && !err)
		;
	if (err || *n == 0) {
		for (size_t i = 0; i < *n; i++)
			target_detach((*threads)[i].tid, 0);
		free(*threads);
		*threads = NULL;
		errno = err ? err : ESRCH;
		return -1;
	}
	while (stopped < *n) {
		struct stop stop;
		struct attached *a;

		if (target_wait(-1, &stop) < 0)
			return -1;
		a = find_attached(*threads, *n, stop.tid);
		if (!a) {
			/* a thread born meanwhile: it comes stopped */
			*threads = xrealloc(*threads,
					    (*n + 1) * sizeof(**threads));
			(*threads)[(*n)++] = (struct attached){.tid = stop.tid};
			a = &(*threads)[*n - 1];
		}
		switch (stop.event) {
		case TEV_SIGNAL:
			/* owed to the thread when it goes on */
			a->sig = stop.sig;
			break;
		case TEV_GROUP_STOP:
			a->group_stop = true;
			break;
		case TEV_EXITED:
		case TEV_KILLED:
			a->gone = true;
			break;
		default:
			break;
		}
		if (!a->stopped) {
			a->stopped = true;
			stopped++;
		}
	}
	return target_open(t, pid);
}

bool target_signal_pending(pid_t tid, int sig)
{
	char path[64], line[256];
	bool pending = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;

		if ((sscanf(line, "SigPnd: %llx", &mask) == 1 ||
		     sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
		    (mask >> (sig - 1)) & 1)
			pending = true;
	}
	fclose(f);
	return pending;
}

pid_t target_tgid(pid_t tid)
{
	char path[64], line[256];
	pid_t tgid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	}
	fclose(f);
	return tgid;
}

bool target_share_memory(pid_t a, pid_t b)
{
	long r = syscall(SYS_kcmp, a, b, KCMP_VM, 0L, 0L);

	return r != 1 && r != 2;
}

void target_close(struct target *t)
{
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	t->mem_fd = -1;
}

/* Process control through ptrace: start-up the strace way (the child
 * stops itself, we seize it), one place that classifies wait statuses,
 * memory through /proc/PID/mem. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
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

#include "agent/layout.h"
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
		if (S_ISDIR(st.st_mode)) {
			errno = EISDIR;
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

/* The machines a program may be built for, as people name them. */
static const char *machine_name(unsigned machine, unsigned char cls)
{
	switch (machine) {
	case EM_386:
		return "32-bit x86";
	case EM_X86_64:
		return cls == ELFCLASS32 ? "x32 (32-bit x86-64)" : "x86-64";
	case EM_AARCH64:
		return "64-bit ARM (aarch64)";
	case EM_ARM:
		return "32-bit ARM";
	case EM_RISCV:
		return "RISC-V";
	case EM_PPC64:
		return "64-bit PowerPC";
	case EM_PPC:
		return "32-bit PowerPC";
	case EM_S390:
		return "s390";
	case EM_MIPS:
		return "MIPS";
	default:
		return NULL;
	}
}

bool target_check_elf(const char *path, char **why)
{
	unsigned char h[sizeof(Elf64_Ehdr)];
	uint16_t type, machine;
	const char *arch;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*why = NULL;
	if (fd < 0) {
		*why = xasprintf("cannot read it: %s", strerror(errno));
		return false;
	}
	got = read(fd, h, sizeof(h));
	close(fd);
	if (got < SELFMAG || memcmp(h, ELFMAG, SELFMAG) != 0)
		return false;
	/* e_type and e_machine come at the same offsets in both classes */
	if (got < (ssize_t)sizeof(Elf32_Ehdr) || h[EI_DATA] != ELFDATA2LSB ||
	    (h[EI_CLASS] != ELFCLASS32 && h[EI_CLASS] != ELFCLASS64)) {
		*why = xstrdup("a damaged or foreign ELF file; memprof "
			       "profiles x86-64 programs");
		return false;
	}
	memcpy(&type, h + offsetof(Elf64_Ehdr, e_type), sizeof(type));
	memcpy(&machine, h + offsetof(Elf64_Ehdr, e_machine), sizeof(machine));
	arch = machine_name(machine, h[EI_CLASS]);
	if (machine != EM_X86_64 || h[EI_CLASS] != ELFCLASS64) {
		if (arch)
			*why = xasprintf("a %s program; memprof profiles "
					 "x86-64 programs",
					 arch);
		else
			*why = xasprintf("a program for another machine (ELF "
					 "machine %u); memprof profiles x86-64 "
					 "programs",
					 machine);
	} else if (type == ET_REL) {
		*why = xstrdup("an object file, not a program (link it first)");
	} else if (type == ET_CORE) {
		*why = xstrdup("a core dump, not a program");
	} else if (type != ET_EXEC && type != ET_DYN) {
		*why = xasprintf("not an executable (ELF type %u)", type);
	}
	return *why == NULL;
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

/* A SIGSEGV of a general protection fault (no address): maybe one of our
 * breakpoints (BP_INSN). */
static void classify_fault(struct stop *stop)
{
	siginfo_t si;

	stop->event = TEV_SIGNAL;
	if (ptrace(PTRACE_GETSIGINFO, stop->tid, 0L, &si) == 0 &&
	    si.si_code == SI_KERNEL)
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
		else if (stop->sig == SIGSEGV)
			classify_fault(stop);
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

int target_poll(struct stop *stop)
{
	int status;
	pid_t got = waitpid(-1, &status, __WALL | WNOHANG);

	if (got <= 0)
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

/* Stops an injected call may meet before its int3 (signals set aside):
 * past these, it is given up rather than waited for forever. */
#define INJECTED_MAX_STOPS 64

static bool is_fault(int sig)
{
	return sig == SIGILL || sig == SIGSEGV || sig == SIGBUS ||
	       sig == SIGFPE || sig == SIGSYS;
}

/* Stops that a wait on one thread met and had no use for (the thread
 * ends): the tracer's loop takes them (target_kept). */
#define KEPT_MAX 16
static struct stop kept[KEPT_MAX];
static size_t nkept;

static void keep(const struct stop *stop)
{
	if (nkept < KEPT_MAX)
		kept[nkept++] = *stop;
}

int target_kept(struct stop *stop)
{
	if (!nkept)
		return -1;
	*stop = kept[0];
	memmove(kept, kept + 1, --nkept * sizeof(*kept));
	return 0;
}

/* Waits for TID's int3 after the injected call at [STUB, STUB + LEN),
 * setting aside signals. A fault in the stub itself (a 32-bit process has
 * no syscall instruction) would come back at every resume: it ends the
 * call with EFAULT and is not the program's. */
static int wait_injected_trap(pid_t tid, uint64_t stub, size_t len,
			      int *pending)
{
	struct stop stop;

	for (int n = 0; n < INJECTED_MAX_STOPS; n++) {
		struct user_regs_struct regs;

		if (target_wait(tid, &stop) < 0)
			return -1;
		switch (stop.event) {
		case TEV_BREAKPOINT:
			return 0;
		case TEV_SIGNAL:
			if (is_fault(stop.sig) &&
			    target_get_regs(tid, &regs) == 0 &&
			    regs.rip >= stub && regs.rip < stub + len) {
				errno = EFAULT;
				return -1;
			}
			*pending = stop.sig;
			break;
		case TEV_EXITED:
		case TEV_KILLED:
		case TEV_EXIT:
			keep(&stop);
			errno = ESRCH;
			return -1;
		default:
			break;
		}
		if (target_resume(tid, 0) < 0)
			return -1;
	}
	errno = ETIME;
	return -1;
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
		if (stop.event == TEV_EXITED || stop.event == TEV_KILLED ||
		    stop.event == TEV_EXIT)
			keep(&stop);
		if (stop.event != TEV_SIGNAL)
			return;
		/* a signal that came meanwhile is sent again after */
		*pending = stop.sig;
		if (target_resume(tid, 0) < 0)
			return;
	}
}

/* Runs the stub of LEN bytes at AT written for an injected call, with
 * the registers SAVED but for the call's ARGS: 0 with its *RESULT, or
 * -1. The caller puts SAVED back. */
static int run_injected(pid_t tid, const struct user_regs_struct *saved,
			uint64_t at, size_t len, const uint64_t args[6],
			int64_t *result, int *pending)
{
	struct user_regs_struct regs = *saved;

	regs.rip = at;
	regs.rdi = args[0];
	regs.rsi = args[1];
	regs.rdx = args[2];
	regs.r10 = args[3];
	regs.r8 = args[4];
	regs.r9 = args[5];
	/* not in a system call: nothing for the kernel to restart */
	regs.orig_rax = (uint64_t)-1;
	if (target_set_regs(tid, &regs) < 0 || target_resume(tid, 0) < 0 ||
	    wait_injected_trap(tid, at, len, pending) < 0 ||
	    target_get_regs(tid, &regs) < 0)
		return -1;
	*result = (int64_t)regs.rax;
	return 0;
}

/* The call made at the thread's own pc: the stub takes the place of its
 * code meanwhile (when no room out of the program's code is found). */
static int target_syscall_here(const struct target *t, pid_t tid, long nr,
			       const uint64_t args[6], int64_t *result)
{
	/* mov $NR,%eax; syscall; int3. The code sets rax itself: stopped at
	 * an exec event, the kernel still writes execve's result to rax when
	 * the thread goes on. */
	uint8_t stub[8] = {0xb8, 0, 0, 0, 0, 0x0f, 0x05, 0xcc};
	uint32_t nr32 = (uint32_t)nr;
	struct user_regs_struct saved;
	uint8_t code[sizeof(stub)];
	int pending = 0, ret = -1;
	bool group_stop = target_in_group_stop(tid);

	memcpy(stub + 1, &nr32, sizeof(nr32));
	if (target_get_regs(tid, &saved) < 0 ||
	    target_read(t, saved.rip, code, sizeof(code)) < 0 ||
	    target_write(t, saved.rip, stub, sizeof(stub)) < 0)
		return -1;
	ret = run_injected(tid, &saved, saved.rip, sizeof(stub), args, result,
			   &pending);
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

/* Injected system calls run from a stub out of the program's code:
 * mov $NR,%eax; syscall; int3; then, run only if memprof dies while the
 * thread is stopped at the int3 (the kernel drops the trap of a stop
 * whose tracer is gone, and the thread runs on), the stub puts the
 * registers back itself and jumps back to where the thread was. (Not
 * single steps, nor system call stops: what is left of those when the
 * tracer dies is a SIGTRAP.) */
#define STUB_SIZE 128

static size_t put_u64(uint8_t *p, const uint8_t op[2], uint64_t v)
{
	p[0] = op[0];
	p[1] = op[1];
	memcpy(p + 2, &v, sizeof(v));
	return 2 + sizeof(v);
}

static size_t make_stub(uint8_t *s, long nr,
			const struct user_regs_struct *saved)
{
	static const uint8_t movabs[AGENT_STUB_REGS][2] = AGENT_STUB_MOVABS;
	uint64_t vals[AGENT_STUB_REGS] = {saved->rdi, saved->rsi, saved->rdx,
					  saved->r10, saved->r8,  saved->r9,
					  saved->rcx, saved->r11, saved->rax};
	uint64_t back = saved->rip;
	int64_t rax = (int64_t)saved->rax;
	uint32_t nr32 = (uint32_t)nr;
	size_t n = 0;

	/* stopped in a system call to be restarted: the kernel would go
	 * back to the syscall instruction with the call's number */
	if ((int64_t)saved->orig_rax >= 0 &&
	    (rax == -512 || rax == -513 || rax == -514 || rax == -516)) {
		vals[8] = rax == -516 ? SYS_restart_syscall : saved->orig_rax;
		back -= 2;
	}
	s[n++] = 0xb8; /* the code sets rax itself: at an exec event the
			* kernel writes execve's result there on resuming */
	memcpy(s + n, &nr32, sizeof(nr32));
	n += sizeof(nr32);
	s[n++] = 0x0f; /* syscall */
	s[n++] = 0x05;
	s[n++] = 0xcc; /* int3: memprof takes the result (AGENT_STUB_TRAP) */
	for (int i = 0; i < AGENT_STUB_REGS; i++)
		n += put_u64(s + n, movabs[i], vals[i]);
	s[n++] = 0xff; /* jmp *0(%rip) */
	s[n++] = 0x25;
	memset(s + n, 0, 4);
	n += 4;
	memcpy(s + n, &back, sizeof(back));
	return n + sizeof(back);
}

/* Zeros that pad the last page of an executable mapping of a file: room
 * for the stub no code reaches. 0 when there is none. */
static uint64_t find_padding(pid_t pid)
{
	char path[64], line[4352];
	uint64_t found = 0;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	while (maps && !found && fgets(line, sizeof(line), maps)) {
		uint64_t lo, hi;
		char perms[8], name[4096] = "";
		uint8_t tail[2 * STUB_SIZE];
		size_t zeros = 0;

		if (sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %4095s",
			   &lo, &hi, perms, name) < 4 ||
		    perms[2] != 'x' || name[0] != '/' ||
		    hi - lo < sizeof(tail) ||
		    target_read_pid(pid, hi - sizeof(tail), tail,
				    sizeof(tail)) < 0)
			continue;
		while (zeros < sizeof(tail) &&
		       tail[sizeof(tail) - 1 - zeros] == 0)
			zeros++;
		/* a margin after the code: its last instruction's bytes */
		if (zeros >= STUB_SIZE + 16)
			found = hi - STUB_SIZE;
	}
	if (maps)
		fclose(maps);
	return found;
}

int target_syscall(const struct target *t, pid_t tid, long nr,
		   const uint64_t args[6], int64_t *result)
{
	uint8_t stub[STUB_SIZE], code[STUB_SIZE];
	struct user_regs_struct saved;
	uint64_t at = t->stub ? t->stub : find_padding(t->pid);
	size_t len;
	int pending = 0, ret = -1;
	bool group_stop;

	if (!at || target_get_regs(tid, &saved) < 0)
		return target_syscall_here(t, tid, nr, args, result);
	group_stop = target_in_group_stop(tid);
	len = make_stub(stub, nr, &saved);
	if (target_read(t, at, code, len) < 0 ||
	    target_write(t, at, stub, len) < 0)
		return -1;
	ret = run_injected(tid, &saved, at, len, args, result, &pending);
	if (target_set_regs(tid, &saved) < 0 ||
	    target_write(t, at, code, len) < 0)
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

/* Children forked while we attach: nothing of ours is in them yet, and
 * they are let go at their first stop. */
struct forked {
	pid_t *pids;
	size_t n;
	size_t awaited; /* made (told by their parent's stop), not let go */
};

static bool forked_has(const struct forked *f, pid_t pid)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->pids[i] == pid)
			return true;
	}
	return false;
}

static void forked_add(struct forked *f, pid_t pid)
{
	f->pids = xrealloc(f->pids, (f->n + 1) * sizeof(*f->pids));
	f->pids[f->n++] = pid;
}

int target_attach(struct target *t, pid_t pid, struct attached **threads,
		  size_t *n)
{
	struct forked told = {0}, gone = {0};
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
	while (stopped < *n || told.awaited) {
		struct stop stop;
		struct attached *a;

		if (target_wait(-1, &stop) < 0)
			break;
		a = find_attached(*threads, *n, stop.tid);
		if (!a && target_tgid(stop.tid) != pid) {
			/* a process forked meanwhile: nothing of ours in it */
			if (stop.event != TEV_EXITED &&
			    stop.event != TEV_KILLED)
				target_detach(stop.tid, 0);
			forked_add(&gone, stop.tid);
			if (forked_has(&told, stop.tid))
				told.awaited--;
			continue;
		}
		if (!a) {
			/* a thread born meanwhile: it comes stopped */
			*threads = xrealloc(*threads,
					    (*n + 1) * sizeof(**threads));
			(*threads)[(*n)++] = (struct attached){.tid = stop.tid};
			a = &(*threads)[*n - 1];
		}
		switch (stop.event) {
		case TEV_FORK:
		case TEV_CLONE:
			/* inside fork or clone: a system call made through
			 * the thread now would take the place of its result
			 * (and a vfork parent waits for its child): it
			 * finishes the call first, and stops after */
			if (stop.event == TEV_FORK &&
			    !forked_has(&gone, (pid_t)stop.msg)) {
				forked_add(&told, (pid_t)stop.msg);
				told.awaited++;
			}
			target_resume(stop.tid, 0);
			target_interrupt(stop.tid);
			continue;
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
	free(told.pids);
	free(gone.pids);
	if (stopped < *n)
		return -1;
	return target_open(t, pid);
}

/* The command name of process PID ("?" when it is gone), in BUF. */
static const char *comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return "?";
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

char *target_attach_obstacle(pid_t pid, int *status)
{
	char path[64], line[256], comm[64];
	pid_t tracer = 0;
	char state = '?';
	bool has_memory = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "State: %c", &state) == 1)
			continue;
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			continue;
		if (strncmp(line, "VmSize:", 7) == 0)
			has_memory = true;
	}
	fclose(f);
	*status = EXIT_PROGRAM;
	/* the kernel says EPERM: a process cannot trace itself */
	if (target_tgid(pid) == getpid())
		return xstrdup("it is memprof itself");
	if (state == 'Z' || state == 'X')
		return xstrdup("it is a zombie (it has exited; its parent has "
			       "not collected it yet)");
	/* the kernel's own threads have no memory of their own */
	if (!has_memory)
		return xstrdup("it is a kernel thread: it runs no program");
	if (tracer > 0 && tracer != getpid())
		return xasprintf("it is already traced by process %d (%s)",
				 tracer, comm_of(tracer, comm, sizeof(comm)));
	return NULL;
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

/* The in-process agent run for real in this process, as it runs in a
 * program whose memprof was killed: the trap that ends a stub for a
 * system call out of the agent is let pass, and jumps go back whole
 * while another thread reads them. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "../../src/agent/blob.h"
#include "../../src/agent/layout.h"
#include "unit.h"

static uint8_t *agent;

static void map_agent(void)
{
	agent = mmap(NULL, AGENT_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (agent == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	memcpy(agent, agent_blob, agent_blob_size);
}

static struct agent_table *table(void)
{
	return (struct agent_table *)(agent + AGENT_TABLE);
}

/* run_stub(STUB): jumps to STUB, which comes back to stub_back with rax
 * set: that is what run_stub returns. The stub sets only registers a
 * call may change. */
uint64_t run_stub(const uint8_t *stub);
extern const char stub_back[];
__asm__(".text\n"
	".globl run_stub\n"
	"run_stub:\n"
	"	jmp *%rdi\n"
	".globl stub_back\n"
	"stub_back:\n"
	"	ret\n");

/* A stub as memprof writes one for getpid into the padding of a mapping
 * of the program's (before the agent exists). memprof is not there: the
 * int3 comes to the agent as SIGTRAP, which lets it pass, and the code
 * after it comes back with rax 42. Only the agent's own stub was let
 * pass: the agent gave the trap its default action (the program died of
 * SIGTRAP, memprof killed as it attached a second time). */
static void stub_out_of_agent_passes(void)
{
	static const uint8_t movabs[AGENT_STUB_REGS][2] = AGENT_STUB_MOVABS;
	uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t back = (uint64_t)(uintptr_t)stub_back;
	size_t n = 0;
	int status = 0;
	pid_t pid;

	CHECK(page != MAP_FAILED);
	page[n++] = 0xb8;
	page[n++] = SYS_getpid;
	page[n++] = 0;
	page[n++] = 0;
	page[n++] = 0;
	page[n++] = 0x0f;
	page[n++] = 0x05;
	CHECK_INT(n, AGENT_STUB_TRAP);
	page[n++] = 0xcc;
	for (int i = 0; i < AGENT_STUB_REGS; i++) {
		uint64_t v = i == AGENT_STUB_REGS - 1 ? 42 : 1000 + i;

		page[n++] = movabs[i][0];
		page[n++] = movabs[i][1];
		memcpy(page + n, &v, sizeof(v));
		n += sizeof(v);
	}
	memcpy(page + n, "\xff\x25\0\0\0\0", 6);
	memcpy(page + n + 6, &back, sizeof(back));
	CHECK_INT(n + 6 + 8 - AGENT_STUB_TRAP, AGENT_STUB_TAIL);

	pid = fork();
	if (pid == 0) {
		struct sigaction sa = {.sa_flags = SA_SIGINFO | SA_NODEFER};

		sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))(
			void *)(agent + agent_handler_offset);
		sigaction(SIGTRAP, &sa, NULL);
		_exit(run_stub(page) == 42 ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	if (WIFSIGNALED(status))
		fprintf(stderr, "the stub's process died of signal %d\n",
			WTERMSIG(status));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	munmap(page, 4096);
}

#define JUMPS 512
#define JUMP_LEN 5
static const uint8_t jump_bytes[JUMP_LEN] = {0xe9, 0x11, 0x22, 0x33, 0x44};
static uint8_t *code;
static volatile int watching, pausing, paused;
static volatile long torn;

/* Whether the jump at X is torn: its first byte the original or the
 * jump's, with the rest neither all the jump's nor all the original.
 * Its 8 bytes are read at once, as a thread's fetch sees them. */
static int is_torn(const uint8_t *at)
{
	uint64_t word = __atomic_load_n((const uint64_t *)(const void *)at,
					__ATOMIC_SEQ_CST);
	uint8_t x[8];
	int jump = 0, orig = 0;

	memcpy(x, &word, sizeof(x));

	for (int i = 1; i < JUMP_LEN; i++) {
		jump += x[i] == jump_bytes[i];
		orig += x[i] == 0x90;
	}
	if (x[0] == 0x90)
		return orig != JUMP_LEN - 1;
	if (x[0] == jump_bytes[0])
		return jump != JUMP_LEN - 1;
	return 0; /* a breakpoint: no thread runs past it */
}

static void *watch(void *arg)
{
	(void)arg;
	while (watching) {
		/* not while the jumps are written again */
		paused = pausing;
		while (pausing && watching)
			;
		paused = 0;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (int k = 0; k < JUMPS; k++)
			torn += is_torn(code + 8 * k);
	}
	return NULL;
}

/* Jumps over nops, in the table as memprof puts them there; the agent
 * puts every byte back while another thread watches them: no jump is
 * ever half the original and half a jump (a thread that came to one
 * ran the original first instruction into what was left of the jump's
 * offset: std, a division by zero, a jump to the stack). */
static void jumps_go_back_whole(void)
{
	void (*handler)(int, void *, void *) = (void (*)(int, void *, void *))(
		void *)(agent + agent_handler_offset);
	struct agent_table *t = table();
	pthread_t watcher;

	code = mmap(NULL, 8 * JUMPS, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(code != MAP_FAILED);
	t->count = 0;
	for (int k = 0; k < JUMPS; k++) {
		for (int i = 0; i < JUMP_LEN; i++) {
			uint64_t addr = (uint64_t)(uintptr_t)(code + 8 * k + i);

			/* as agent_add_jump: the first byte without
			 * AGENT_BYTE */
			t->sites[t->count++] = addr | (i ? AGENT_BYTE : 0) |
					       (uint64_t)jump_bytes[i]
						       << AGENT_BYTE_SHIFT |
					       (uint64_t)0x90 << 56;
		}
	}
	watching = 1;
	CHECK_INT(pthread_create(&watcher, NULL, watch, NULL), 0);
	for (int round = 0; round < 20; round++) {
		/* a thread faults on a breakpoint: the first jump's */
		struct siginfo_head si = {SIGSEGV, 0, SI_KERNEL};
		struct ucontext_head uc = {0};

		pausing = 1;
		while (!paused)
			;
		for (int k = 0; k < JUMPS; k++)
			memcpy(code + 8 * k, jump_bytes, JUMP_LEN);
		code[0] = BP_INSN;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		pausing = 0;
		uc.gregs[REG_RIP] = (uint64_t)(uintptr_t)code;
		handler(SIGSEGV, &si, &uc);
		for (int k = 0; k < JUMPS; k++)
			CHECK(memcmp(code + 8 * k, "\x90\x90\x90\x90\x90",
				     JUMP_LEN) == 0);
	}
	watching = 0;
	pthread_join(watcher, NULL);
	if (torn)
		fprintf(stderr, "torn jumps seen %ld times\n", torn);
	CHECK_INT(torn, 0);
	munmap(code, 8 * JUMPS);
}

int main(void)
{
	map_agent();
	RUN(stub_out_of_agent_passes);
	RUN(jumps_go_back_whole);
	return unit_result();
}

/* Lookup: the program's images, the profiled functions in them, and the
 * loader's breakpoint that says when libraries come and go. */
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

/* Functions */

static int new_func(void *arg, const struct func_info *fi)
{
	struct session *s = arg;

	if (fi->inlined_calls)
		warn_msg("%s is also inlined at %u place%s: calls there are "
			 "charged to the lines that call it, not to its table",
			 fi->name, fi->inlined_calls,
			 fi->inlined_calls > 1 ? "s" : "");
	int idx = account_add_func(s->acct, fi->name, fi->file, fi->decl_line,
				   fi->last_line);
	if (fi->inlined_into)
		account_set_inlined(s->acct, idx, fi->inlined_into);
	return idx;
}

/* Says why SPEC was not found in WHERE (a program), as the lookup said
 * (RES, MSG); a missing name itself only when NAMED. */
static void say_why(const char *spec, int res, const char *msg,
		    const char *where, bool named)
{
	switch (res) {
	case DI_INLINED:
		warn_msg(
			"%s is inlined everywhere in %s and has no code of its "
			"own: its calls are charged to the lines that call it "
			"(rebuild with -fno-inline, or mark it "
			"__attribute__((noinline)), to profile it)",
			spec, msg ? msg : where);
		break;
	case DI_BAD_DWARF:
		warn_msg("%s: its debug information cannot be read (%s); "
			 "rebuild it with -g",
			 where, msg);
		break;
	case DI_NO_LINES:
		warn_msg("%s: no DWARF line information%s; rebuild it with -g "
			 "or install its debug symbols",
			 where, msg ? msg : "");
		break;
	case DI_EXE_GONE:
		warn_msg("%s: its file was replaced or deleted since it "
			 "started, and the one there now is not what runs: "
			 "start the program again to profile it",
			 where);
		break;
	case DI_LIB_NODWARF:
		warn_msg("%s: no DWARF line information; rebuild it with -g "
			 "or install its debug symbols",
			 msg);
		break;
	default:
		if (!named)
			break;
		if (msg)
			warn_msg("no function '%s' in %s; did you mean: %s",
				 spec, where, msg);
		else
			warn_msg("no function '%s' in %s", spec, where);
		break;
	}
}

/* For a program started by a launcher (a shell), without -f: that -f
 * profiles the programs it starts. */
static void hint_follow(const struct session *s, int res)
{
	/* memprof run has no -f */
	if (res != DI_INLINED && !s->opts->follow_forks &&
	    !s->opts->calls_only &&
	    (suggest_is_launcher(s->command[0]) ||
	     (s->script && !s->exec_command)))
		warn_msg("hint: %s starts other programs: to profile the one "
			 "it starts, add -f",
			 s->command[0]);
}

int profiler_report_missing(const struct session *s)
{
	int ret = 0, res = DI_NO_FUNCTION;

	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		const struct missing *m = &s->missing[i];
		const char *spec = s->opts->funcs[i];

		if (s->found[i])
			continue;
		if (m->res == DI_NO_FUNCTION && m->msg)
			warn_msg("no function '%s' in any program that ran; "
				 "did you mean: %s",
				 spec, m->msg);
		/* inlined everywhere, or in a library without debug
		 * information: say_why says it whole */
		else if (m->res != DI_INLINED && m->res != DI_LIB_NODWARF)
			warn_msg("no function '%s' in any program that ran",
				 spec);
		if (m->res != DI_FOUND)
			say_why(spec, m->res, m->msg, m->where, false);
		res = m->res == DI_INLINED ? res : m->res;
		ret = EXIT_PROGRAM;
	}
	if (ret)
		hint_follow(s, res);
	return ret;
}

/* Whether process P can still bring in code it does not have now: one
 * of its modules loads libraries (dlopen) or executes a program in its
 * place, which memprof follows. */
static bool may_load_later(const struct process *p)
{
	static const char *const loaders[] = {
		"dlopen", "dlmopen", "execve", "execv",	  "execvp",   "execvpe",
		"execl",  "execlp",  "execle", "fexecve", "execveat", NULL,
	};

	return debuginfo_imports(p->image->di, loaders);
}

/* SPEC (the I-th --func) was not found in P (RES, MSG): kept for the end
 * of the run. With REQUIRED, in a program that cannot load it later it
 * is an error now (its exit status is returned); otherwise that it is
 * not there yet is said once. */
static int missing(struct session *s, struct process *p, size_t i,
		   enum debuginfo_result res, char *msg, bool required)
{
	struct missing *m = &s->missing[i];
	const char *spec = s->opts->funcs[i];
	/* a script's interpreter runs under the script's name until it
	 * executes a program in its place: the interpreter is named */
	const char *where = p == s->procs[0] && (!s->script || s->exec_command)
				    ? s->command[0]
				    : NULL;
	char exe[64], path[4096];

	if (!where) {
		ssize_t len;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", p->target.pid);
		len = readlink(exe, path, sizeof(path) - 1);
		path[len > 0 ? len : 0] = '\0';
		where = len > 0 ? path : exe;
	}
	free(m->msg);
	free(m->where);
	*m = (struct missing){res, msg, xstrdup(where), m->said};
	if (!required || debuginfo_spec_is_library(spec))
		return 0;
	if (!may_load_later(p)) {
		say_why(spec, res, msg, where, true);
		hint_follow(s, res);
		return EXIT_PROGRAM;
	}
	if (!m->said)
		warn_msg("%s is not loaded yet: it is profiled when a library "
			 "or a program that has it is loaded",
			 spec);
	m->said = true;
	return 0;
}

/* Looks every --func not found yet up in P's image and arms what it
 * finds. With REQUIRED, the first one missing in a program that cannot
 * load it later (a library's function excepted: it may come with
 * dlopen) is said and its exit status returned; otherwise 0. */
static int search_specs(struct session *s, struct process *p, pid_t tid,
			bool required)
{
	struct image *img = p->image;
	int ret = 0;

	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		const char *spec = s->opts->funcs[i];
		char *msg = NULL;
		enum debuginfo_result res;

		if (img->spec_found[i])
			continue;
		res = image_add(img, &p->target, spec,
				s->opts->calls_only   ? ARM_CALLS
				: s->opts->every_insn ? ARM_EVERY_INSN
						      : ARM_LINES,
				new_func, s, &msg);
		if (res == DI_FOUND) {
			s->found[i] = img->spec_found[i] = true;
		} else if (res == DI_ERROR) {
			ret = program_error(s, EXIT_INTERNAL, "%s: %s", msg);
		} else {
			ret = missing(s, p, i, res, msg, required);
			msg = NULL;
		}
		free(msg);
		if (ret)
			return ret;
	}
	size_t before = img->stepped_sites;
	if (!s->opts->step && image_place_copies(img, &p->target, tid) < 0) {
		warn_msg("cannot map an out-of-line area (%s); stepping "
			 "instead",
			 strerror(errno));
		/* the stubs would need one too: not a second message
		 * about the ring, which is no use without them */
		s->jump = false;
	}
	s->stats.stepped_sites += img->stepped_sites - before;
	return 0;
}

static bool all_found(const struct session *s, const struct image *img)
{
	for (size_t i = 0; i < s->opts->nfuncs; i++) {
		if (!img->spec_found[i])
			return false;
	}
	return true;
}

/* --engine jump: the ring of process P, and a jump to a stub for every
 * line site that can take one. Every thread of P is stopped; TID is one
 * of them. */
static void place_jumps(struct session *s, struct process *p, pid_t tid)
{
	struct image *img = p->image;
	uint64_t *pcs;
	size_t n = 0;

	if (!s->jump || !img || !img->nfuncs)
		return;
	if (!p->ring.hdr) {
		if (!img->scratch)
			img->scratch = image_scratch(img, &p->target, tid);
		if (!img->scratch ||
		    ring_open(&p->ring, &p->target, tid, img->ring_addr,
			      img->scratch) < 0) {
			warn_msg("cannot map a ring for line events into %s "
				 "(%s): every line event stops it",
				 s->command[0], strerror(errno));
			s->jump = false;
			return;
		}
		img->ring_addr = p->ring.addr;
		p->sampler.hidden = PAGE_ROUND(RING_BYTES);
		if (threads_of(s, p) > 1)
			count_faults(p);
	}
	pcs = xcalloc(s->nthreads + 1, sizeof(*pcs));
	for (size_t i = 0; i < s->nthreads; i++) {
		struct user_regs_struct regs;

		if (s->threads[i].proc == p &&
		    target_get_regs(s->threads[i].tid, &regs) == 0)
			pcs[n++] = regs.rip;
	}
	/* with --heap an entry arms the allocator's breakpoints: it has to
	 * be known at once; unless every allocator function has a stub,
	 * which an entry's stub arms itself */
	jump_allocs(s, p, tid, pcs, n);
	s->stats.jump_sites += image_place_jumps(
		img, &p->target, tid, p->ring.addr, !s->heap || allocs_jump(p),
		s->heap, pcs, n);
	free(pcs);
}

/* Loads the image process P runs now and arms every --func found in it.
 * With REQUIRED, a function or debug information missing is an error,
 * once the libraries linked at start are there too; otherwise it may
 * come with a later image. Returns 0 or an exit status. */
/* Whether P runs a program memprof can profile (x86-64), or one it
 * cannot read (left to the loading, which says why). */
bool program_fits(const struct process *p)
{
	char exe[64], *why = NULL;
	bool fits;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->target.pid);
	fits = access(exe, R_OK) != 0 || target_check_elf(exe, &why);
	free(why);
	return fits;
}

int load_image(struct session *s, struct process *p, pid_t tid, bool required)
{
	char *err = NULL, exe[64];
	struct image *img;
	int ret;

	/* a program executed later may be one memprof cannot work in: it
	 * runs on, unprofiled */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->target.pid);
	if (access(exe, R_OK) == 0 && !target_check_elf(exe, &err)) {
		char path[4096];
		ssize_t len = readlink(exe, path, sizeof(path) - 1);

		path[len > 0 ? len : 0] = '\0';
		warn_msg("%s: %s%s", len > 0 ? path : exe,
			 err ? err : "not an ELF program",
			 required ? "" : "; it runs unprofiled");
		free(err);
		return required ? EXIT_PROGRAM : 0;
	}
	img = image_open(p->target.pid, &err);
	if (!img) {
		ret = program_error(s, EXIT_PROGRAM, "%s: %s", err);
		free(err);
		return required ? ret : 0;
	}
	p->image = img;
	img->spec_found = xcalloc(s->opts->nfuncs + 1, sizeof(bool));
	/* attached to a running process, its libraries are there already */
	img->libs_loaded = s->opts->pid != 0;
	ret = search_specs(s, p, tid, required && img->libs_loaded);
	if (ret)
		return ret;
	/* --heap: the allocator is there already in a static program, or
	 * in a process we attach to; otherwise it comes with libc */
	if (s->heap &&
	    (img->libs_loaded || !image_watch_loader(img, &p->target)))
		find_allocs(s, p, tid);
	if (all_found(s, img)) {
		place_jumps(s, p, tid);
		return 0;
	}
	/* the rest may be in libraries the dynamic linker maps later */
	if (image_watch_loader(img, &p->target)) {
		if (!s->opts->step)
			image_place_copies(img, &p->target, tid);
		place_jumps(s, p, tid);
		return 0;
	}
	ret = search_specs(s, p, tid, required);
	if (!ret)
		place_jumps(s, p, tid);
	return ret;
}

/* The dynamic linker says that libraries changed: functions are looked
 * up in the new ones. Once the libraries linked at start are there,
 * one still missing is an error where it would have been at start. */
void on_loader(struct session *s, struct thread *th)
{
	struct process *p = th->proc;
	struct image *img = p->image;
	int32_t state = -1;

	if (target_read(&p->target, img->loader_state, &state, sizeof(state)) <
		    0 ||
	    state != 0 /* RT_CONSISTENT */)
		return;
	debuginfo_refresh(img->di);
	/* a library closed (dlclose): its functions are looked up again
	 * when it comes back, maybe elsewhere. Processes that share the
	 * image may still have it, so only a process of its own forgets. */
	if (img->refs == 1 && image_forget_unmapped(img, &p->target)) {
		for (size_t i = 0; i < s->opts->nfuncs; i++)
			img->spec_found[i] = false;
	}
	/* a library unloaded: its sites are not to be written again */
	agent_forget_unmapped(&p->target);
	/* only the program memprof started is refused for a missing
	 * function (the one a script executes, or any program executed
	 * later, would be stopped halfway) */
	bool final = !img->libs_loaded && p == s->procs[0] &&
		     !s->opts->follow_forks && !s->script && !s->exec_command;
	img->libs_loaded = true;
	find_allocs(s, p, th->tid);
	int ret = search_specs(s, p, th->tid, final);
	if (ret) {
		s->fatal = ret;
		s->done = true;
		return;
	}
	/* the other threads run on: only a lone one lets sites jump */
	if (threads_of(s, p) == 1)
		place_jumps(s, p, th->tid);
}

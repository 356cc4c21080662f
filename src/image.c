/* Program images: functions, sites, breakpoints, out-of-line copies. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "image.h"
#include "relocate.h"
#include "stub.h"
#include "util.h"

struct image *image_open(pid_t pid, char **err)
{
	struct debuginfo *di = debuginfo_open(pid, err);
	struct image *img;

	if (!di)
		return NULL;
	img = xcalloc(1, sizeof(*img));
	img->refs = 1;
	img->di = di;
	img->bps = bp_table_new();
	return img;
}

struct image *image_get(struct image *img)
{
	if (img)
		img->refs++;
	return img;
}

static void free_code(struct profiled_func *pf)
{
	func_info_free(pf->info);
	free(pf->sites);
	free(pf->insns);
	free(pf->rets);
	free(pf->exits);
}

void image_put(struct image *img)
{
	if (!img || --img->refs > 0)
		return;
	for (size_t i = 0; i < img->nfuncs; i++)
		free_code(&img->funcs[i]);
	free(img->funcs);
	free(img->stubs);
	free(img->stub_heads);
	free(img->stub_windows);
	free(img->spec_found);
	bp_table_free(img->bps);
	debuginfo_close(img->di);
	free(img);
}

static void add_sites(struct profiled_func *pf)
{
	const struct func_info *fi = pf->info;
	struct insn *all = NULL;
	size_t nall = 0;

	for (size_t r = 0; r < fi->nranges; r++) {
		const struct code_range *cr = &fi->ranges[r];
		struct insn *part;
		size_t n =
			decode_code(cr->bytes, cr->hi - cr->lo, cr->lo, &part);
		all = xrealloc(all, (nall + n + 1) * sizeof(*all));
		memcpy(all + nall, part, n * sizeof(*part));
		nall += n;
		free(part);
	}
	pf->nsites = sites_find(all, nall, fi->rows, fi->nrows, fi->inlined,
				fi->ninlined, &pf->sites);
	pf->nsites = sites_add_epilogues(all, nall, &pf->sites, pf->nsites);
	pf->insns = all;
	pf->ninsns = nall;
	pf->nrets = sites_returns(all, nall, pf->sites, pf->nsites, &pf->rets);
	pf->nexits = sites_exits(all, nall, &pf->exits);
}

/* The original bytes at ADDR, from the ELF file; *AVAIL says how many
 * follow in the same range. */
static const uint8_t *orig_code(const struct func_info *fi, uint64_t addr,
				size_t *avail)
{
	for (size_t r = 0; r < fi->nranges; r++) {
		const struct code_range *cr = &fi->ranges[r];
		if (addr >= cr->lo && addr < cr->hi) {
			*avail = cr->hi - addr;
			return &cr->bytes[addr - cr->lo];
		}
	}
	*avail = 0;
	return NULL;
}

static int arm(struct image *img, const struct target *t, int idx,
	       uint64_t addr, unsigned role, int arg)
{
	const struct func_info *fi = img->funcs[idx].info;
	size_t avail;
	struct breakpoint *bp =
		bp_get(img->bps, t, addr, orig_code(fi, addr, &avail));

	if (!bp)
		return -1;
	bp->roles |= role;
	bp->func = idx;
	if (role == BP_LINE)
		bp->line = arg;
	if (role == BP_RETURN)
		bp->ret_pop = (uint16_t)arg;
	if (role == BP_EXIT)
		bp->cond = (int8_t)arg;
	return 0;
}

/* The condition code (0-15) of the jcc at ADDR; -1 for a jmp. */
static int condition_code(const struct func_info *fi, uint64_t addr)
{
	size_t avail;
	const uint8_t *code = orig_code(fi, addr, &avail);
	size_t i = 0;

	/* branch hints and bnd come first */
	while (code && i < avail &&
	       (code[i] == 0x2e || code[i] == 0x3e || code[i] == 0xf2))
		i++;
	if (!code || i >= avail)
		return -1;
	if (code[i] >= 0x70 && code[i] <= 0x7f)
		return code[i] & 0xf;
	if (code[i] == 0x0f && i + 1 < avail && code[i + 1] >= 0x80 &&
	    code[i + 1] <= 0x8f)
		return code[i + 1] & 0xf;
	return -1;
}

/* Whether ADDR lies in the code of FI. */
static bool in_code(const struct func_info *fi, uint64_t addr)
{
	size_t avail;

	return orig_code(fi, addr, &avail) != NULL;
}

/* An inlined copy: a call begins wherever a thread enters one of its
 * parts from outside, and ends where it leaves, by a jump out or by
 * running off the end of a part. The exit breakpoint is on the leaving
 * instruction, with the condition under which it leaves. */
static int arm_copy(struct image *img, const struct target *t, int idx)
{
	const struct profiled_func *pf = &img->funcs[idx];
	const struct func_info *fi = pf->info;

	for (size_t r = 0; r < fi->nranges; r++) {
		if (arm(img, t, idx, fi->ranges[r].lo, BP_ENTRY, 0) < 0)
			return -1;
	}
	for (size_t i = 0; i < pf->ninsns; i++) {
		const struct insn *in = &pf->insns[i];
		uint64_t next = in->addr + in->len;
		bool falls_out =
			(in->flow == FLOW_NEXT || in->flow == FLOW_COND ||
			 in->flow == FLOW_CALL) &&
			!in_code(fi, next);
		bool jumps_out =
			(in->flow == FLOW_JUMP || in->flow == FLOW_COND) &&
			!in_code(fi, in->target);
		int cc = condition_code(fi, in->addr);

		if (!falls_out && !jumps_out)
			continue;
		/* a jcc leaves when it jumps out, or when it falls out:
		 * the condition reversed; a call, when it returns */
		if (in->flow == FLOW_COND && falls_out != jumps_out)
			cc = jumps_out ? cc : cc ^ 1;
		else if (in->flow == FLOW_CALL)
			cc = EXIT_AFTER_CALL;
		else
			cc = -1;
		if (arm(img, t, idx, in->addr, BP_EXIT, cc) < 0)
			return -1;
	}
	for (size_t i = 0; i < pf->nrets; i++) {
		const struct insn *in = &pf->insns[pf->rets[i]];
		if (arm(img, t, idx, in->addr, BP_RETURN, (int)in->target) < 0)
			return -1;
	}
	return 0;
}

static int arm_function(struct image *img, const struct target *t, int idx,
			int arming)
{
	const struct profiled_func *pf = &img->funcs[idx];
	bool every_insn = arming == ARM_EVERY_INSN;

	if (arm(img, t, idx, pf->info->entry, BP_ENTRY, 0) < 0)
		return -1;
	/* calls only: every ret, as no line site takes a return early */
	for (size_t i = 0; arming == ARM_CALLS && i < pf->ninsns; i++) {
		const struct insn *in = &pf->insns[i];
		if (in->flow == FLOW_RET &&
		    arm(img, t, idx, in->addr, BP_RETURN, (int)in->target) < 0)
			return -1;
	}
	for (size_t i = 0; arming != ARM_CALLS && i < pf->nsites; i++) {
		const struct site *site = &pf->sites[i];
		if (arm(img, t, idx, site->addr, BP_LINE, site->line) < 0)
			return -1;
	}
	/* With --every-instruction the others get one too, to prove that
	 * every instruction runs right out of line. */
	for (size_t i = 0; every_insn && i < pf->ninsns; i++) {
		const struct insn *in = &pf->insns[i];
		/* a ret is emulated; one that ends no activation is harmless */
		bool ret = in->flow == FLOW_RET;
		if (arm(img, t, idx, in->addr, ret ? BP_RETURN : BP_PASS,
			ret ? (int)in->target : 0) < 0)
			return -1;
	}
	if (pf->info->inlined_into)
		return arm_copy(img, t, idx);
	/* A tail call leaves for good: the activation ends at the jump. */
	for (size_t i = 0; i < pf->nexits; i++) {
		uint64_t addr = pf->insns[pf->exits[i]].addr;
		if (arm(img, t, idx, addr, BP_EXIT,
			condition_code(pf->info, addr)) < 0)
			return -1;
	}
	/* Returns are caught at the function's own ret instructions, so
	 * that nothing outside it is ever touched. */
	for (size_t i = 0; arming != ARM_CALLS && i < pf->nrets; i++) {
		const struct insn *in = &pf->insns[pf->rets[i]];
		if (arm(img, t, idx, in->addr, BP_RETURN, (int)in->target) < 0)
			return -1;
	}
	return 0;
}

static bool has_function(const struct image *img, uint64_t entry)
{
	for (size_t i = 0; i < img->nfuncs; i++) {
		if (!img->funcs[i].gone && img->funcs[i].info->entry == entry)
			return true;
	}
	return false;
}

/* The mapping of process PID that holds ADDR; false when none does. */
static bool mapping_at(pid_t pid, uint64_t addr, struct code_map *m)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %x:%x "
			   "%" SCNu64,
			   &m->start, &m->end, &m->offset, &m->dev_major,
			   &m->dev_minor, &m->inode) == 6)
			found = addr >= m->start && addr < m->end;
	}
	if (f)
		fclose(f);
	return found;
}

/* Whether two mappings map the same file at the same place. Where the
 * file begins is compared, not the bounds: mprotect may split a mapping
 * that stays. */
static bool same_map(const struct code_map *a, const struct code_map *b)
{
	return a->start - a->offset == b->start - b->offset &&
	       a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor;
}

/* The slot of a function that went with its library and is FI again
 * (the same name, file and line, maybe at another address); -1 when
 * there is none. */
static int gone_slot(const struct image *img, const struct func_info *fi)
{
	for (size_t i = 0; i < img->nfuncs; i++) {
		const struct func_info *old = img->funcs[i].info;
		if (img->funcs[i].gone && old->decl_line == fi->decl_line &&
		    strcmp(old->name, fi->name) == 0 &&
		    strcmp(old->file, fi->file) == 0)
			return (int)i;
	}
	return -1;
}

bool image_forget_unmapped(struct image *img, const struct target *t)
{
	bool any = false;

	for (size_t i = 0; i < img->nfuncs; i++) {
		struct profiled_func *pf = &img->funcs[i];
		struct code_map now;
		struct breakpoint *bp;
		size_t cursor = 0;

		/* one whose mapping was never known is never forgotten: its
		 * int3s would be left in place */
		if (pf->gone || !pf->map_known ||
		    (mapping_at(t->pid, pf->info->entry, &now) &&
		     same_map(&now, &pf->map)))
			continue;
		/* the table is changed while walked: from the start again */
		while ((bp = bp_next(img->bps, &cursor))) {
			if (bp->func == (int)i && !(bp->roles & BP_LOADER)) {
				bp_forget(img->bps, bp);
				cursor = 0;
			}
		}
		pf->gone = true;
		any = true;
	}
	return any;
}

enum debuginfo_result
image_add(struct image *img, const struct target *t, const char *spec,
	  int arming, int (*new_func)(void *arg, const struct func_info *fi),
	  void *arg, char **msg)
{
	struct func_info **found;
	size_t n;
	enum debuginfo_result res =
		debuginfo_find(img->di, spec, &found, &n, msg);
	int failed = 0;

	if (res != DI_FOUND)
		return res;
	for (size_t j = 0; j < n; j++) {
		/* named twice (NAME and FILE.c:NAME): one table */
		if (failed || has_function(img, found[j]->entry)) {
			func_info_free(found[j]);
			continue;
		}
		/* a library opened again: the same table */
		int idx = gone_slot(img, found[j]);
		struct profiled_func *pf;
		if (idx >= 0) {
			pf = &img->funcs[idx];
			int acct = pf->acct;
			free_code(pf);
			*pf = (struct profiled_func){.info = found[j],
						     .acct = acct};
		} else {
			img->funcs = xrealloc(img->funcs,
					      (img->nfuncs + 1) *
						      sizeof(*img->funcs));
			idx = (int)img->nfuncs++;
			pf = &img->funcs[idx];
			*pf = (struct profiled_func){
				.info = found[j],
				.acct = new_func(arg, found[j]),
			};
		}
		pf->map_known = mapping_at(t->pid, pf->info->entry, &pf->map);
		add_sites(pf);
		if (arm_function(img, t, idx, arming) < 0)
			failed = errno ? errno : EIO;
	}
	free(found);
	if (failed) {
		errno = failed;
		*msg = xasprintf("cannot set breakpoints: %s",
				 strerror(failed));
		return DI_ERROR;
	}
	return DI_FOUND;
}

#define XOL_CHUNK (64u << 10)
#define XOL_REACH (1ull << 30) /* well within a 32-bit displacement */

/* An out-of-line area within reach of ADDR with room for a copy, mapped
 * through TID when there is none yet. */
static struct xol *xol_near(struct image *img, const struct target *t,
			    pid_t tid, uint64_t addr, size_t room)
{
	struct xol *x;

	for (size_t i = 0; i < img->nxols; i++) {
		x = &img->xols[i];
		uint64_t dist =
			x->base > addr ? x->base - addr : addr - x->base;
		if (dist < XOL_REACH && x->size - x->used >= room)
			return x;
	}
	if (img->nxols == sizeof(img->xols) / sizeof(img->xols[0]))
		return NULL;
	x = &img->xols[img->nxols];
	if (xol_map(x, t, tid, addr, XOL_CHUNK) < 0)
		return NULL;
	agent_add_area(t, x->base, x->base + x->size);
	img->nxols++;
	return x;
}

int image_place_copies(struct image *img, const struct target *t, pid_t tid)
{
	size_t cursor = 0, avail;
	struct breakpoint *bp;
	int ret = 0;

	/* copies written now would be in T's memory only, not in the other
	 * processes that run the image (forked): those breakpoints are
	 * stepped */
	if (img->refs > 1)
		return 0;
	while ((bp = bp_next(img->bps, &cursor))) {
		uint8_t live[16];
		const uint8_t *code = NULL;
		struct xol *x;

		if (bp->placed)
			continue;
		bp->placed = true;
		/* a ret is emulated: no copy */
		if (bp->roles == BP_RETURN)
			continue;
		if (bp->func >= 0) {
			code = orig_code(img->funcs[bp->func].info, bp->addr,
					 &avail);
		} else if (target_read(t, bp->addr, live, sizeof(live)) == 0) {
			/* code of others (the dynamic linker, a caller), read
			 * live: our int3s taken out */
			for (size_t i = 0; i < sizeof(live); i++) {
				const struct breakpoint *o =
					bp_find(img->bps, bp->addr + i);
				if (o)
					live[i] = o->orig;
			}
			code = live;
			avail = sizeof(live);
		}
		x = code ? xol_near(img, t, tid, bp->addr, RELOC_MAX) : NULL;
		if (!x) {
			ret = -1;
		} else {
			bp->resume = xol_place(x, t, code, avail, bp->addr);
		}
		if (!bp->resume)
			img->stepped_sites++;
	}
	return ret;
}

bool image_watch_loader(struct image *img, const struct target *t)
{
	struct breakpoint *bp;
	uint64_t r_debug;

	if (img->loader_bp)
		return true;
	img->loader_bp =
		debuginfo_symbol(img->di, "ld-linux", "_dl_debug_state");
	r_debug = debuginfo_symbol(img->di, "ld-linux", "_r_debug");
	if (!img->loader_bp || !r_debug) {
		img->loader_bp = 0;
		return false;
	}
	/* struct r_debug: int r_version; struct link_map *r_map;
	 * ElfW(Addr) r_brk; enum r_state; */
	img->loader_state = r_debug + 24;
	bp = bp_get(img->bps, t, img->loader_bp, NULL);
	if (!bp) {
		img->loader_bp = 0;
		return false;
	}
	bp->roles |= BP_LOADER;
	return true;
}

int image_unmap_xols(const struct image *img, const struct target *t, pid_t tid)
{
	int ret = 0;

	for (size_t i = 0; i < img->nxols; i++) {
		if (xol_unmap(&img->xols[i], t, tid) < 0)
			ret = -1;
	}
	return ret;
}

bool image_in_xol(const struct image *img, uint64_t addr)
{
	for (size_t i = 0; i < img->nxols; i++) {
		const struct xol *x = &img->xols[i];
		if (addr >= x->base && addr < x->base + x->size)
			return true;
	}
	return false;
}

/* Whether PF has a jump to an address it computes (a switch's table):
 * where such a jump can land is not known. */
static bool jumps_indirectly(const struct profiled_func *pf)
{
	for (size_t i = 0; i < pf->ninsns; i++) {
		if (pf->insns[i].flow == FLOW_INDIRECT_JUMP)
			return true;
	}
	return false;
}

/* Whether a jump over [ADDR, ADDR+LEN) of PF cannot be entered halfway:
 * no jump target, breakpoint of another kind or stopped thread inside.
 * The run holds no call but at its end, so no return address lies
 * inside. With jumps through tables, the start of no line row may lie
 * inside either: a table's targets are where lines begin. Line sites
 * inside are reached only through the run: they go into CHAINED. */
static bool jump_fits(const struct image *img, const struct profiled_func *pf,
		      uint64_t addr, size_t len, const uint64_t *pcs,
		      size_t npcs, uint64_t chained[MAX_CHAINED])
{
	const struct func_info *fi = pf->info;
	uint64_t end = addr + len;
	size_t nchained = 0;

	for (size_t i = 0; jumps_indirectly(pf) && i < fi->nrows; i++) {
		if (fi->rows[i].addr > addr && fi->rows[i].addr < end)
			return false;
	}
	for (size_t i = 0; i < pf->ninsns; i++) {
		const struct insn *in = &pf->insns[i];
		bool jumps = in->flow == FLOW_JUMP || in->flow == FLOW_COND ||
			     in->flow == FLOW_CALL;
		if (jumps && in->target > addr && in->target < end)
			return false;
	}
	for (uint64_t a = addr + 1; a < end; a++) {
		const struct breakpoint *in = bp_find(img->bps, a);

		if (in && (in->roles != BP_LINE || in->jump_len ||
			   nchained == MAX_CHAINED))
			return false;
		/* a line site the run reaches in turn: recorded with it */
		if (in)
			chained[nchained++] = a;
	}
	for (size_t i = 0; i < npcs; i++) {
		if (pcs[i] > addr && pcs[i] < end)
			return false;
	}
	return true;
}

/* Makes the site of BP a jump to a stub of its own: a line site's
 * (counting entries with COUNTS), or with ALLOC an allocator's. CODE
 * holds its original bytes, AVAIL of them. */
static bool place_jump(struct image *img, const struct target *t, pid_t tid,
		       struct breakpoint *bp, uint64_t ring,
		       const uint8_t *code, size_t avail,
		       const struct stub_alloc *alloc, bool counts,
		       const uint64_t *pcs, size_t npcs)
{
	static const uint8_t trap_insn = BP_INSN;
	uint8_t jump[STUB_JUMP_LEN];
	uint64_t chained[MAX_CHAINED] = {0};
	struct stub st;
	struct breakpoint *trap;
	struct xol *x = code ? xol_near(img, t, tid, bp->addr, STUB_MAX) : NULL;
	uint64_t at;
	bool fits;

	if (!x)
		return false;
	at = x->base + x->used;
	if (alloc) {
		fits = stub_build_alloc(&st, at, ring, bp->addr, code, avail,
					alloc) == 0;
		/* the allocator's own jumps were looked at by the caller */
		for (size_t i = 0; fits && i < npcs; i++)
			fits = pcs[i] <= bp->addr ||
			       pcs[i] >= bp->addr + st.covered;
	} else {
		fits = stub_build(&st, at, ring, bp->addr, code, avail,
				  counts) == 0 &&
		       jump_fits(img, &img->funcs[bp->func], bp->addr,
				 st.covered, pcs, npcs, chained);
	}
	if (!fits || stub_jump(jump, bp->addr, at) < 0 ||
	    xol_put(x, t, st.code, st.len) != at)
		return false;
	trap = bp_get(img->bps, t, at + st.full_trap, &trap_insn);
	if (!trap)
		return false;
	trap->placed = true;
	if (alloc && alloc->trap) {
		trap->roles |= BP_ALLOC_TRAP;
		trap->owner = bp->addr;
		trap->alloc_kind = bp->alloc_kind;
		agent_add_pass_trap(t, trap->addr);
	} else {
		trap->roles |= BP_RING_FULL;
		agent_add_ring_trap(t, trap->addr);
	}
	/* the agent knows the jump before memory does */
	agent_add_jump(t, bp->addr, code, jump, STUB_JUMP_LEN);
	/* the breakpoint stays first while the rest is written: a thread
	 * that comes meanwhile stops at it */
	if (target_write(t, bp->addr + 1, jump + 1, STUB_JUMP_LEN - 1) < 0)
		return false;
	memcpy(bp->jump_orig, code, STUB_JUMP_LEN);
	bp->jump_len = STUB_JUMP_LEN;
	bp->counts_entry = counts;
	img->stubs = xrealloc(img->stubs, (img->nstubs + 1) * sizeof(uint64_t));
	img->stub_heads =
		xrealloc(img->stub_heads, (img->nstubs + 1) * sizeof(size_t));
	img->stub_windows =
		xrealloc(img->stub_windows,
			 (img->nstubs + 1) * sizeof(*img->stub_windows));
	img->stub_heads[img->nstubs] = st.head;
	img->stub_windows[img->nstubs][0] = st.taken;
	img->stub_windows[img->nstubs][1] = st.published;
	img->stubs[img->nstubs++] = at;
	memcpy(bp->chained, chained, sizeof(chained));
	for (size_t i = 0; i < MAX_CHAINED && chained[i]; i++)
		bp_find(img->bps, chained[i])->jump_tried = true;
	/* the bytes past the jump up to the end of the run stay as they
	 * are: nothing arrives there */
	if (target_write(t, bp->addr, jump, 1) < 0) {
		target_write(t, bp->addr + 1, code + 1, STUB_JUMP_LEN - 1);
		bp->jump_len = 0;
		return false;
	}
	return true;
}

bool image_place_alloc_jump(struct image *img, const struct target *t,
			    pid_t tid, struct breakpoint *bp, uint64_t ring,
			    const uint8_t *code, size_t avail,
			    const struct stub_alloc *a, const uint64_t *pcs,
			    size_t npcs)
{
	/* the same: a jump and its stub in T's memory only */
	if (img->refs > 1 || bp->jump_len)
		return false;
	bp->jump_tried = true;
	return place_jump(img, t, tid, bp, ring, code, avail, a, false, pcs,
			  npcs);
}

size_t image_place_jumps(struct image *img, const struct target *t, pid_t tid,
			 uint64_t ring, bool entries, bool count_entries,
			 const uint64_t *pcs, size_t npcs)
{
	unsigned roles = BP_LINE | (entries ? BP_ENTRY : 0);
	size_t placed = 0;

	/* the same: a jump and its stub in T's memory only */
	if (img->refs > 1)
		return 0;

	/* in address order, so that a site takes the ones just after it
	 * along rather than leave them a run too short for a jump */
	for (size_t f = 0; f < img->nfuncs; f++) {
		const struct profiled_func *pf = &img->funcs[f];

		/* the code around an inlined copy, which is not decoded, may
		 * jump into the middle of the bytes a jump would displace */
		if (pf->info->inlined_into)
			continue;
		for (size_t i = 0; i <= pf->nsites; i++) {
			uint64_t addr =
				i ? pf->sites[i - 1].addr : pf->info->entry;
			size_t avail;
			struct breakpoint *bp = bp_find(img->bps, addr);

			if (!bp || !bp->roles || (bp->roles & ~roles) ||
			    bp->func != (int)f || bp->jump_len ||
			    bp->jump_tried)
				continue;
			const uint8_t *code =
				orig_code(pf->info, bp->addr, &avail);

			bp->jump_tried = true;
			if (place_jump(img, t, tid, bp, ring, code, avail, NULL,
				       count_entries && (bp->roles & BP_ENTRY),
				       pcs, npcs))
				placed++;
		}
	}
	return placed;
}

uint64_t image_scratch(struct image *img, const struct target *t, pid_t tid)
{
	static const uint8_t zeros[64];
	struct xol *x;

	if (!img->nfuncs)
		return 0;
	x = xol_near(img, t, tid, img->funcs[0].info->entry, sizeof(zeros));
	return x ? xol_put(x, t, zeros, sizeof(zeros)) : 0;
}

bool image_stub_holds_record(const struct image *img, uint64_t addr,
			     uint64_t *end)
{
	for (size_t i = 0; i < img->nstubs; i++) {
		if (addr >= img->stubs[i] + img->stub_windows[i][0] &&
		    addr < img->stubs[i] + img->stub_windows[i][1]) {
			*end = img->stubs[i] + img->stub_windows[i][1];
			return true;
		}
	}
	return false;
}

uint64_t image_stub_exit(const struct image *img, uint64_t addr)
{
	for (size_t i = 0; i < img->nstubs; i++) {
		if (addr >= img->stubs[i] &&
		    addr < img->stubs[i] + img->stub_heads[i])
			return img->stubs[i] + img->stub_heads[i];
	}
	return 0;
}

/* Program images: functions, sites, breakpoints, out-of-line copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "image.h"
#include "relocate.h"
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

void image_put(struct image *img)
{
	if (!img || --img->refs > 0)
		return;
	for (size_t i = 0; i < img->nfuncs; i++) {
		func_info_free(img->funcs[i].info);
		free(img->funcs[i].sites);
		free(img->funcs[i].insns);
		free(img->funcs[i].rets);
		free(img->funcs[i].exits);
	}
	free(img->funcs);
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
	pf->nsites = sites_find(all, nall, fi->rows, fi->nrows, &pf->sites);
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
		if (img->funcs[i].info->entry == entry)
			return true;
	}
	return false;
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
		img->funcs = xrealloc(img->funcs,
				      (img->nfuncs + 1) * sizeof(*img->funcs));
		img->funcs[img->nfuncs] = (struct profiled_func){
			.info = found[j],
			.acct = new_func(arg, found[j]),
		};
		add_sites(&img->funcs[img->nfuncs]);
		if (arm_function(img, t, (int)img->nfuncs++, arming) < 0)
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
			    pid_t tid, uint64_t addr)
{
	struct xol *x;

	for (size_t i = 0; i < img->nxols; i++) {
		x = &img->xols[i];
		uint64_t dist =
			x->base > addr ? x->base - addr : addr - x->base;
		if (dist < XOL_REACH && x->size - x->used >= RELOC_MAX)
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
		x = code ? xol_near(img, t, tid, bp->addr) : NULL;
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

/* One program image as a process runs it: the profiled functions found in
 * it, their sites, the breakpoints and the out-of-line area. Processes
 * that fork share their parent's image until they execute another one. */
#ifndef MEMPROF_IMAGE_H
#define MEMPROF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "breakpoint.h"
#include "debuginfo.h"
#include "decode.h"
#include "sites.h"
#include "stub.h"
#include "target.h"
#include "xol.h"

/* The mapping a function's code lies in, as /proc/PID/maps shows it. */
struct code_map {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
};

struct profiled_func {
	struct func_info *info;
	struct code_map map;
	bool map_known;
	/* its library was unmapped (dlclose): its breakpoints are forgotten
	 * and the slot waits for the library to come again */
	bool gone;
	int acct; /* the function's index in the accounting */
	struct site *sites;
	size_t nsites;
	struct insn *insns; /* its machine code, decoded */
	size_t ninsns;
	size_t *rets; /* the rets that need a breakpoint, as indexes */
	size_t nrets;
	size_t *exits; /* jumps out of the function, as indexes */
	size_t nexits;
};

struct image {
	unsigned refs; /* processes running it */
	struct debuginfo *di;
	struct profiled_func *funcs; /* indexed by breakpoint.func */
	size_t nfuncs;
	struct bp_table *bps;
	struct xol xols[16]; /* out-of-line areas, one near each module */
	size_t nxols;
	/* the dynamic linker's _dl_debug_state and r_debug.r_state: where
	 * it tells of libraries mapped and unmapped */
	uint64_t loader_bp, loader_state;
	bool libs_loaded;     /* the libraries linked at start are there */
	bool *spec_found;     /* per --func: found in this image */
	size_t stepped_sites; /* breakpoints without an out-of-line copy */
	/* --engine jump: the ring the stubs write (at the same address in
	 * every process that runs the image), and 64 bytes for paths */
	uint64_t ring_addr, scratch;
	uint64_t *stubs;	   /* where each stub begins */
	size_t *stub_heads;	   /* the length of each stub's own code */
	size_t (*stub_windows)[2]; /* each stub's taken and published */
	size_t nstubs;
};

/* The exit of an inlined copy that is a call returning outside it: the
 * copy's call ends when that call returns (breakpoint.cond). */
#define EXIT_AFTER_CALL (-2)

/* Reads the debug information of process PID. NULL with *ERR set. */
struct image *image_open(pid_t pid, char **err);
struct image *image_get(struct image *img);
/* Drops one reference; frees the image with the last. */
void image_put(struct image *img);

/* How a function's breakpoints are set: at its lines (the table), also
 * on every instruction (a test), or only where calls begin and end. */
enum { ARM_LINES, ARM_EVERY_INSN, ARM_CALLS };

/* Finds the functions SPEC names; each new one is added with ACCT (the
 * caller's index for it, from NEW_FUNC) and armed in T's memory as
 * ARMING says. */
enum debuginfo_result
image_add(struct image *img, const struct target *t, const char *spec,
	  int arming, int (*new_func)(void *arg, const struct func_info *fi),
	  void *arg, char **msg);

/* Forgets every function whose code T no longer maps as it did (a
 * library closed with dlclose): its breakpoints leave the table without
 * a write, since that memory may now belong to something else. True when
 * one went; image_add finds it again when its library comes back. */
bool image_forget_unmapped(struct image *img, const struct target *t);

/* Gives each new breakpoint its out-of-line copy, mapping areas through
 * the stopped thread TID as needed. -1 with errno when an area cannot be
 * mapped (those breakpoints are stepped). */
int image_place_copies(struct image *img, const struct target *t, pid_t tid);

/* --engine jump: makes each line site (and with ENTRIES each entry)
 * that can take one a jump to a stub that records its events in the
 * ring at RING; with COUNT_ENTRIES an entry's stub also counts the call
 * in the ring's allocs_armed (--heap). Every thread of the process is
 * stopped, at one of the NPCS addresses PCS. Returns how many sites jump
 * now; the others stay int3s. */
size_t image_place_jumps(struct image *img, const struct target *t, pid_t tid,
			 uint64_t ring, bool entries, bool count_entries,
			 const uint64_t *pcs, size_t npcs);

/* --heap with --engine jump: makes BP, a site of the allocator whose
 * original bytes are CODE (AVAIL of them), a jump to a stub as A says.
 * Every thread of the process is stopped, at one of the NPCS addresses
 * PCS. False when it stays as it is. */
bool image_place_alloc_jump(struct image *img, const struct target *t,
			    pid_t tid, struct breakpoint *bp, uint64_t ring,
			    const uint8_t *code, size_t avail,
			    const struct stub_alloc *a, const uint64_t *pcs,
			    size_t npcs);

/* 64 bytes of the out-of-line area for the process's system calls to
 * read (paths), mapped through TID as needed; 0 when there is none. */
uint64_t image_scratch(struct image *img, const struct target *t, pid_t tid);

/* Sets a breakpoint where the dynamic linker says that the libraries
 * changed; false for a program without one (static). */
bool image_watch_loader(struct image *img, const struct target *t);

/* Unmaps the out-of-line areas in the process of T, through its stopped
 * thread TID, once no thread is in them or can return into them (the
 * image's copies are gone from that process). -1 when one could not be. */
int image_unmap_xols(const struct image *img, const struct target *t,
		     pid_t tid);

/* Where a thread at ADDR in a stub's own code leaves it for the
 * displaced instructions; 0 when ADDR is not in one. */
uint64_t image_stub_exit(const struct image *img, uint64_t addr);

/* Whether ADDR lies where a stub has taken its record and not written
 * it yet; if so, *END is where it has (see struct stub). */
bool image_stub_holds_record(const struct image *img, uint64_t addr,
			     uint64_t *end);

/* Whether ADDR lies in the out-of-line area. */
bool image_in_xol(const struct image *img, uint64_t addr);

#endif

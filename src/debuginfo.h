/* Debug information of the traced process, through libdwfl over the live
 * process: functions by name, their code and their line rows. Callers see
 * plain structs with run-time addresses, never a libdw handle. */
#ifndef MEMPROF_DEBUGINFO_H
#define MEMPROF_DEBUGINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* From ADDR until the next row, code belongs to LINE (0: to no line of
 * the function's own file, such as compiler-made code). */
struct line_row {
	uint64_t addr;
	int line;
};

/* [lo, hi) of the function's code, with the original bytes as the ELF
 * file holds them (live memory may hold breakpoints). */
struct code_range {
	uint64_t lo, hi;
	uint8_t *bytes;
};

/* Code of a callee inlined into the function: [lo, hi) runs for the call
 * on LINE, and is charged to it. The parts of one call have the same
 * CALL. */
struct inlined_code {
	uint64_t lo, hi;
	int line;
	uint64_t call;
};

struct func_info {
	char *name;
	char *file; /* absolute path of the source file */
	int decl_line;
	int last_line;
	uint64_t entry;
	struct code_range *ranges;
	size_t nranges;
	struct line_row *rows; /* sorted by address */
	size_t nrows;
	struct inlined_code *inlined; /* the outermost inlined calls */
	size_t ninlined;
	unsigned inlined_calls; /* copies inlined into other functions */
	/* an inlined copy of a function with no code of its own: the name
	 * of the function that holds it (NULL for a function's own code).
	 * A call begins where a thread enters the copy's code and ends
	 * where it leaves. */
	char *inlined_into;
	/* the line the code starts with when it is no header (an inlined
	 * call with no prologue before it, or a statement of the body the
	 * prologue is given to), or 0: at entry that line starts at once */
	int entry_line;
};

struct debuginfo;

/* Reports the modules of process PID. NULL with a message in *ERR. */
struct debuginfo *debuginfo_open(pid_t pid, char **err);
void debuginfo_close(struct debuginfo *di);
/* Reports the modules mapped now: those mapped since (shared libraries,
 * dlopen) come, those unmapped (dlclose) go. */
int debuginfo_refresh(struct debuginfo *di);
/* The run-time address of symbol NAME in the module whose file name
 * contains MODULE; 0 when there is none. */
uint64_t debuginfo_symbol(struct debuginfo *di, const char *module,
			  const char *name);
/* The same, and the symbol's size in *SIZE. */
uint64_t debuginfo_symbol_size(struct debuginfo *di, const char *module,
			       const char *name, uint64_t *size);

enum debuginfo_result {
	DI_FOUND,
	DI_NO_LINES,	/* the executable has no DWARF line information */
	DI_NO_FUNCTION, /* no function by that name; *msg has suggestions */
	DI_ERROR,	/* found, but failed to use it; *msg says why */
	DI_INLINED,	/* only inlined copies: no code of its own */
	DI_BAD_DWARF,	/* the executable's DWARF cannot be read; *msg says
			 * why, as libdw does */
	DI_LIB_NODWARF, /* LIB:NAME: that library has no DWARF; *msg is its
			 * file */
	DI_EXE_GONE,	/* the executable's file was replaced or deleted
			 * since the process started it */
};

/* Whether a module imports (has undefined) a symbol of NAMES, an array
 * ended by NULL. */
bool debuginfo_imports(struct debuginfo *di, const char *const names[]);

/* Finds every function that SPEC ("NAME" or "FILE.c:NAME") names. On
 * DI_FOUND, *FUNCS holds *N new entries; otherwise *MSG may hold close
 * names, as "a, b, c" (or NULL), or with DI_INLINED the library it is
 * inlined in. */
enum debuginfo_result debuginfo_find(struct debuginfo *di, const char *spec,
				     struct func_info ***funcs, size_t *n,
				     char **msg);

void func_info_free(struct func_info *fi);

/* Whether SPEC is LIB:NAME (a function of a shared library), which may
 * come later, with dlopen. */
bool debuginfo_spec_is_library(const char *spec);

#endif

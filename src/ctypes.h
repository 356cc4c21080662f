/* The C types of a traced process, from its DWARF: the type a function
 * returns and the globals that hold pointers, as plain structs (typedefs
 * and qualifiers resolved) that the heap walk follows. Callers never
 * touch a libdw handle. */
#ifndef MEMPROF_CTYPES_H
#define MEMPROF_CTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ctype_kind {
	CT_SCALAR,  /* base types, enums */
	CT_POINTER, /* target: the pointee, -1 for void or a function */
	CT_STRUCT,
	CT_UNION,
	CT_ARRAY, /* target: the element; count elements (0: unknown) */
	CT_OTHER, /* void, functions, incomplete types */
};

struct ctype_member {
	uint64_t offset;
	int type;
	char *name;
};

struct ctype {
	enum ctype_kind kind;
	char *name; /* as C writes it: "struct lesson", "char *" */
	uint64_t size;
	int target;
	uint64_t count;
	struct ctype_member *members; /* struct and union */
	size_t nmembers;
	/* whether a value of it can hold a pointer to follow */
	bool pointers;
};

/* A global (or static) variable that can hold pointers. */
struct ctype_global {
	uint64_t addr; /* run-time address */
	int type;
	char *name;
};

struct ctypes;

/* The types of process PID (its modules as mapped now). NULL with a
 * message in *ERR. */
struct ctypes *ctypes_open(pid_t pid, char **err);
void ctypes_close(struct ctypes *ct);
/* Type index I (0 <= I < ctypes_count). */
const struct ctype *ctypes_get(const struct ctypes *ct, int i);
/* The type the function whose code is at run-time address PC returns:
 * a type index, or -1 (void, or no DWARF there). */
int ctypes_return_type(struct ctypes *ct, uint64_t pc);
/* The globals (and static locals) that hold pointers, of the module
 * whose code is at PC. */
size_t ctypes_globals(struct ctypes *ct, uint64_t pc,
		      const struct ctype_global **globals);

/* Reads N bytes at ADDR of the program: 0, or -1 (unmapped). */
typedef int (*ctypes_read_fn)(void *arg, uint64_t addr, void *buf, size_t n);

/* A value of a type: in memory at ADDR, or held in BYTES (a register, a
 * computed value). */
struct ctype_value {
	int type;
	bool in_memory;
	uint64_t addr;
	uint8_t bytes[16];
};

enum ctypes_var_result {
	CV_FOUND,
	CV_NO_VARIABLE,	 /* no variable of that name in the function or
			  * the module */
	CV_OUT_OF_SCOPE, /* the function has one, not in scope there */
	CV_NO_LOCATION,	 /* in scope, but where it is there is not told
			  * (optimized out, or a location not read) */
};

/* The variable NAME as the code at run-time address PC sees it: locals
 * and parameters in scope there first, then the globals of its module.
 * REGS are the thread's registers in DWARF's numbering (rax, rdx, rcx,
 * rbx, rsi, rdi, rbp, rsp, r8-r15, rip); memory is read with READ. */
enum ctypes_var_result ctypes_variable(struct ctypes *ct, uint64_t pc,
				       const uint64_t regs[17],
				       const char *name, ctypes_read_fn read,
				       void *arg, struct ctype_value *out);

#endif

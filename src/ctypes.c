/* C types from DWARF, through a libdwfl session of its own over the live
 * process: DIEs become plain structs, each converted once. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctypes.h"
#include "util.h"

/* Deeper type nesting than this is not followed (a broken DIE chain). */
#define MAX_NESTING 64

/* A converted DIE: where it is, and its index. */
struct die_key {
	const Dwarf *dbg;
	Dwarf_Off off;
	int type;
};

/* The globals of one module, converted once. */
struct module_globals {
	const Dwfl_Module *mod;
	size_t first, n;
};

struct ctypes {
	Dwfl *dwfl;
	pid_t pid;
	struct ctype *types;
	size_t ntypes, cap;
	struct die_key *keys; /* open addressing, by (dbg, off) */
	size_t nkeys, keys_cap;
	struct ctype_global *globals;
	size_t nglobals, globals_cap;
	struct module_globals *mods;
	size_t nmods;
	unsigned char *state; /* pointers computed: 0 not yet, 1 under
			       * way, 2 done */
};

static char *debuginfo_path;

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

struct ctypes *ctypes_open(pid_t pid, char **err)
{
	Dwfl *dwfl = dwfl_begin(&callbacks);
	struct ctypes *ct;

	if (!dwfl) {
		*err = xasprintf("libdwfl: %s", dwfl_errmsg(-1));
		return NULL;
	}
	if (dwfl_linux_proc_report(dwfl, pid) != 0 ||
	    dwfl_report_end(dwfl, NULL, NULL) != 0) {
		*err = xasprintf("cannot read the modules of process %d", pid);
		dwfl_end(dwfl);
		return NULL;
	}
	ct = xcalloc(1, sizeof(*ct));
	ct->dwfl = dwfl;
	ct->pid = pid;
	return ct;
}

void ctypes_close(struct ctypes *ct)
{
	if (!ct)
		return;
	for (size_t i = 0; i < ct->ntypes; i++) {
		for (size_t j = 0; j < ct->types[i].nmembers; j++)
			free(ct->types[i].members[j].name);
		free(ct->types[i].members);
		free(ct->types[i].name);
	}
	for (size_t i = 0; i < ct->nglobals; i++)
		free(ct->globals[i].name);
	free(ct->globals);
	free(ct->mods);
	free(ct->types);
	free(ct->keys);
	free(ct->state);
	dwfl_end(ct->dwfl);
	free(ct);
}

const struct ctype *ctypes_get(const struct ctypes *ct, int i)
{
	return i >= 0 && (size_t)i < ct->ntypes ? &ct->types[i] : NULL;
}

static size_t key_slot(const struct ctypes *ct, const Dwarf *dbg, Dwarf_Off off)
{
	uint64_t h = ((uint64_t)(uintptr_t)dbg * 0x9e3779b97f4a7c15ull) ^
		     (off * 0xff51afd7ed558ccdull);

	return (size_t)(h ^ (h >> 29)) & (ct->keys_cap - 1);
}

static int key_find(const struct ctypes *ct, const Dwarf *dbg, Dwarf_Off off)
{
	if (!ct->keys_cap)
		return -1;
	for (size_t k = key_slot(ct, dbg, off);;
	     k = (k + 1) & (ct->keys_cap - 1)) {
		const struct die_key *e = &ct->keys[k];

		if (!e->dbg)
			return -1;
		if (e->dbg == dbg && e->off == off)
			return e->type;
	}
}

static void key_add(struct ctypes *ct, const Dwarf *dbg, Dwarf_Off off,
		    int type)
{
	if ((ct->nkeys + 1) * 2 > ct->keys_cap) {
		struct die_key *old = ct->keys;
		size_t old_cap = ct->keys_cap;

		ct->keys_cap = old_cap ? 2 * old_cap : 256;
		ct->keys = xcalloc(ct->keys_cap, sizeof(*ct->keys));
		ct->nkeys = 0;
		for (size_t i = 0; i < old_cap; i++) {
			if (old[i].dbg)
				key_add(ct, old[i].dbg, old[i].off,
					old[i].type);
		}
		free(old);
	}
	size_t k = key_slot(ct, dbg, off);

	while (ct->keys[k].dbg)
		k = (k + 1) & (ct->keys_cap - 1);
	ct->keys[k] = (struct die_key){dbg, off, type};
	ct->nkeys++;
}

static int new_type(struct ctypes *ct, enum ctype_kind kind, char *name,
		    uint64_t size)
{
	if (ct->ntypes == ct->cap) {
		ct->cap = ct->cap ? 2 * ct->cap : 64;
		ct->types = xrealloc(ct->types, ct->cap * sizeof(*ct->types));
		ct->state = xrealloc(ct->state, ct->cap);
	}
	ct->types[ct->ntypes] = (struct ctype){
		.kind = kind, .name = name, .size = size, .target = -1};
	ct->state[ct->ntypes] = 0;
	return (int)ct->ntypes++;
}

static const char *name_of(Dwarf_Die *die)
{
	Dwarf_Attribute attr;

	return dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
}

static uint64_t byte_size(Dwarf_Die *die)
{
	Dwarf_Word size;

	return dwarf_aggregate_size(die, &size) == 0 ? size : 0;
}

/* The DIE's DW_AT_type, or false (void). */
static bool type_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute attr;

	return dwarf_attr_integrate(die, DW_AT_type, &attr) &&
	       dwarf_formref_die(&attr, out);
}

static int convert(struct ctypes *ct, Dwarf_Die *die, int depth);

/* The type named by DIE's DW_AT_type: an index, or -1 (void). */
static int convert_type_of(struct ctypes *ct, Dwarf_Die *die, int depth)
{
	Dwarf_Die t;

	return type_of(die, &t) ? convert(ct, &t, depth + 1) : -1;
}

/* Type I's name; a type under construction has none yet. */
static const char *name_or_not(const struct ctypes *ct, int i)
{
	return i >= 0 && ct->types[i].name ? ct->types[i].name : "?";
}

static char *pointer_name(const char *pointee)
{
	size_t len = strlen(pointee);

	return xasprintf("%s%s*", pointee,
			 len && pointee[len - 1] == '*' ? "" : " ");
}

static void add_members(struct ctypes *ct, int idx, Dwarf_Die *die, int depth)
{
	Dwarf_Die child;

	if (dwarf_child(die, &child) != 0)
		return;
	do {
		Dwarf_Attribute attr;
		Dwarf_Word off = 0;
		struct ctype *t;
		int mtype;

		if (dwarf_tag(&child) != DW_TAG_member ||
		    dwarf_hasattr(&child, DW_AT_bit_size))
			continue;
		if (dwarf_attr(&child, DW_AT_data_member_location, &attr) &&
		    dwarf_formudata(&attr, &off) != 0)
			continue; /* a location expression: not a plain
				   * offset */
		mtype = convert_type_of(ct, &child, depth);
		if (mtype < 0)
			continue;
		t = &ct->types[idx];
		t->members = xrealloc(t->members,
				      (t->nmembers + 1) * sizeof(*t->members));
		const char *name = name_of(&child);
		t->members[t->nmembers++] = (struct ctype_member){
			.offset = off,
			.type = mtype,
			.name = xstrdup(name ? name : ""),
		};
	} while (dwarf_siblingof(&child, &child) == 0);
}

/* The number of elements of array DIE (every dimension), 0 unknown. */
static uint64_t array_count(Dwarf_Die *die)
{
	Dwarf_Die child;
	uint64_t count = 1;
	bool any = false;

	if (dwarf_child(die, &child) != 0)
		return 0;
	do {
		Dwarf_Attribute attr;
		Dwarf_Word n;

		if (dwarf_tag(&child) != DW_TAG_subrange_type)
			continue;
		if (dwarf_attr(&child, DW_AT_count, &attr) &&
		    dwarf_formudata(&attr, &n) == 0)
			count *= n;
		else if (dwarf_attr(&child, DW_AT_upper_bound, &attr) &&
			 dwarf_formudata(&attr, &n) == 0)
			count *= n + 1;
		else
			return 0;
		any = true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return any ? count : 0;
}

static int convert_tagged(struct ctypes *ct, Dwarf_Die *die, int tag, int depth)
{
	const char *name = name_of(die);
	const char *word = tag == DW_TAG_union_type	    ? "union"
			   : tag == DW_TAG_enumeration_type ? "enum"
			   : tag == DW_TAG_class_type	    ? "class"
							    : "struct";
	char *full = name ? xasprintf("%s %s", word, name)
			  : xasprintf("%s <anonymous>", word);
	enum ctype_kind kind = tag == DW_TAG_union_type		? CT_UNION
			       : tag == DW_TAG_enumeration_type ? CT_SCALAR
								: CT_STRUCT;
	int idx;

	if (dwarf_hasattr(die, DW_AT_declaration))
		kind = CT_OTHER; /* incomplete here */
	idx = new_type(ct, kind, full, byte_size(die));
	key_add(ct, dwarf_cu_getdwarf(die->cu), dwarf_dieoffset(die), idx);
	if (kind == CT_STRUCT || kind == CT_UNION)
		add_members(ct, idx, die, depth);
	return idx;
}

static int convert(struct ctypes *ct, Dwarf_Die *die, int depth)
{
	const Dwarf *dbg = dwarf_cu_getdwarf(die->cu);
	Dwarf_Off off = dwarf_dieoffset(die);
	int tag = dwarf_tag(die);
	int idx = key_find(ct, dbg, off), target;

	if (idx >= 0)
		return idx;
	if (depth > MAX_NESTING)
		return -1;
	switch (tag) {
	case DW_TAG_base_type: {
		const char *name = name_of(die);

		idx = new_type(ct, CT_SCALAR, xstrdup(name ? name : "?"),
			       byte_size(die));
		break;
	}
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
	case DW_TAG_union_type:
	case DW_TAG_enumeration_type:
		return convert_tagged(ct, die, tag, depth);
	case DW_TAG_typedef: {
		const char *name = name_of(die);

		target = convert_type_of(ct, die, depth);
		if (target < 0)
			return -1;
		/* an anonymous struct is known by its typedef */
		if (name && strstr(name_or_not(ct, target), "<anonymous>")) {
			free(ct->types[target].name);
			ct->types[target].name = xstrdup(name);
		}
		key_add(ct, dbg, off, target);
		return target;
	}
	case DW_TAG_const_type:
	case DW_TAG_volatile_type:
	case DW_TAG_restrict_type:
	case DW_TAG_atomic_type:
		target = convert_type_of(ct, die, depth);
		if (target >= 0)
			key_add(ct, dbg, off, target);
		return target;
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type:
		/* the entry first: a struct may point to itself */
		idx = new_type(ct, CT_POINTER, NULL, 8);
		key_add(ct, dbg, off, idx);
		target = convert_type_of(ct, die, depth);
		ct->types[idx].target = target;
		ct->types[idx].name = pointer_name(
			target >= 0 ? name_or_not(ct, target) : "void");
		if (target >= 0 && ct->types[target].kind == CT_OTHER)
			ct->types[idx].target = -1; /* not followed */
		return idx;
	case DW_TAG_array_type:
		idx = new_type(ct, CT_ARRAY, NULL, byte_size(die));
		key_add(ct, dbg, off, idx);
		target = convert_type_of(ct, die, depth);
		ct->types[idx].target = target;
		ct->types[idx].count = array_count(die);
		ct->types[idx].name = xasprintf(
			"%s[%llu]",
			target >= 0 ? name_or_not(ct, target) : "void",
			(unsigned long long)ct->types[idx].count);
		if (target < 0)
			ct->types[idx].kind = CT_OTHER;
		return idx;
	case DW_TAG_subroutine_type:
		idx = new_type(ct, CT_OTHER, xstrdup("function"), 0);
		break;
	default:
		idx = new_type(ct, CT_OTHER, xstrdup("?"), byte_size(die));
		break;
	}
	key_add(ct, dbg, off, idx);
	return idx;
}

/* Whether a value of type I can hold a pointer the walk follows. */
static bool has_pointers(struct ctypes *ct, int i)
{
	struct ctype *t;
	bool any = false;

	if (i < 0)
		return false;
	if (ct->state[i] == 2)
		return ct->types[i].pointers;
	if (ct->state[i] == 1)
		return false; /* met again inside itself: the others tell */
	ct->state[i] = 1;
	t = &ct->types[i];
	switch (t->kind) {
	case CT_POINTER:
		any = t->target >= 0;
		break;
	case CT_ARRAY:
		any = has_pointers(ct, ct->types[i].target);
		break;
	case CT_STRUCT:
	case CT_UNION:
		for (size_t m = 0; m < ct->types[i].nmembers; m++)
			any |= has_pointers(ct, ct->types[i].members[m].type);
		break;
	default:
		break;
	}
	ct->types[i].pointers = any;
	ct->state[i] = 2;
	return any;
}

/* Converts the type of DIE's DW_AT_type, with its pointers known. */
static int root_type(struct ctypes *ct, Dwarf_Die *die)
{
	size_t before = ct->ntypes;
	int idx = convert_type_of(ct, die, 0);

	for (size_t i = before; i < ct->ntypes; i++)
		has_pointers(ct, (int)i);
	return idx;
}

static Dwfl_Module *module_at(struct ctypes *ct, uint64_t pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(ct->dwfl, pc);

	if (mod)
		return mod;
	/* mapped since (dlopen): the modules are reported again */
	dwfl_report_begin_add(ct->dwfl);
	dwfl_linux_proc_report(ct->dwfl, ct->pid);
	dwfl_report_end(ct->dwfl, NULL, NULL);
	return dwfl_addrmodule(ct->dwfl, pc);
}

int ctypes_return_type(struct ctypes *ct, uint64_t pc)
{
	Dwfl_Module *mod = module_at(ct, pc);
	Dwarf_Die *cu, *scopes = NULL;
	Dwarf_Addr bias;
	int n, type = -1;

	if (!mod || !(cu = dwfl_module_addrdie(mod, pc, &bias)))
		return -1;
	n = dwarf_getscopes(cu, pc - bias, &scopes);
	for (int i = 0; i < n; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
			type = root_type(ct, &scopes[i]);
			break;
		}
	}
	free(scopes);
	return type;
}

/* A global's address when its location is one DW_OP_addr; 0 otherwise
 * (thread-local, optimized out, in a register). */
static uint64_t static_address(Dwarf_Die *die, Dwarf_Addr bias)
{
	Dwarf_Attribute attr;
	Dwarf_Op *expr;
	size_t len;

	if (!dwarf_attr(die, DW_AT_location, &attr) ||
	    dwarf_getlocation(&attr, &expr, &len) != 0 || len != 1 ||
	    expr[0].atom != DW_OP_addr)
		return 0;
	return expr[0].number + bias;
}

/* The variables of the tree under DIE with a fixed address (globals,
 * static locals) whose type holds pointers. */
static void find_globals(struct ctypes *ct, Dwarf_Die *die, Dwarf_Addr bias,
			 int depth)
{
	Dwarf_Die child;

	if (depth > MAX_NESTING || dwarf_child(die, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		uint64_t addr;
		int type;

		if (tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
		    tag == DW_TAG_namespace) {
			find_globals(ct, &child, bias, depth + 1);
			continue;
		}
		if (tag != DW_TAG_variable ||
		    !(addr = static_address(&child, bias)))
			continue;
		type = root_type(ct, &child);
		if (type < 0 || !ct->types[type].pointers)
			continue;
		if (ct->nglobals == ct->globals_cap) {
			ct->globals_cap =
				ct->globals_cap ? 2 * ct->globals_cap : 16;
			ct->globals = xrealloc(ct->globals,
					       ct->globals_cap *
						       sizeof(*ct->globals));
		}
		const char *name = name_of(&child);
		ct->globals[ct->nglobals++] = (struct ctype_global){
			.addr = addr,
			.type = type,
			.name = xstrdup(name ? name : "?"),
		};
	} while (dwarf_siblingof(&child, &child) == 0);
}

size_t ctypes_globals(struct ctypes *ct, uint64_t pc,
		      const struct ctype_global **globals)
{
	Dwfl_Module *mod = module_at(ct, pc);
	struct module_globals *mg = NULL;
	Dwarf_Addr bias;
	Dwarf *dbg;

	*globals = ct->globals;
	if (!mod)
		return 0;
	for (size_t i = 0; i < ct->nmods; i++) {
		if (ct->mods[i].mod == mod)
			mg = &ct->mods[i];
	}
	if (!mg) {
		ct->mods =
			xrealloc(ct->mods, (ct->nmods + 1) * sizeof(*ct->mods));
		mg = &ct->mods[ct->nmods++];
		mg->mod = mod;
		mg->first = ct->nglobals;
		dbg = dwfl_module_getdwarf(mod, &bias);
		for (Dwarf_Off off = 0, next; dbg;) {
			size_t hsize;
			Dwarf_Die cu;

			if (dwarf_nextcu(dbg, off, &next, &hsize, NULL, NULL,
					 NULL) != 0)
				break;
			if (dwarf_offdie(dbg, off + hsize, &cu))
				find_globals(ct, &cu, bias, 0);
			off = next;
		}
		mg->n = ct->nglobals - mg->first;
	}
	*globals = ct->globals + mg->first;
	return mg->n;
}

/* Variables, and where they are at a pc */

struct eval {
	const uint64_t *regs;
	ctypes_read_fn read;
	void *arg;
	Dwarf_Addr bias;
	bool have_fb;
	uint64_t frame_base;
	bool in_register; /* the value is the register's (DW_OP_regN) */
	bool is_value;	  /* DW_OP_stack_value */
	uint64_t result;
};

/* Runs a DWARF expression; false when it holds an operation not read
 * here (pieces, entry values, thread-local storage). */
static bool run_expr(struct eval *ev, const Dwarf_Op *ops, size_t n)
{
	uint64_t stack[64];
	size_t sp = 0;

#define PUSH(v)                                                                \
	do {                                                                   \
		if (sp == 64)                                                  \
			return false;                                          \
		stack[sp++] = (v);                                             \
	} while (0)
#define NEED(k)                                                                \
	do {                                                                   \
		if (sp < (k))                                                  \
			return false;                                          \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		uint8_t op = ops[i].atom;

		if (op >= DW_OP_lit0 && op <= DW_OP_lit31) {
			PUSH(op - DW_OP_lit0);
		} else if (op >= DW_OP_reg0 && op <= DW_OP_reg16) {
			if (n != 1)
				return false;
			ev->in_register = true;
			ev->result = ev->regs[op - DW_OP_reg0];
			return true;
		} else if (op >= DW_OP_breg0 && op <= DW_OP_breg16) {
			PUSH(ev->regs[op - DW_OP_breg0] + ops[i].number);
		} else {
			switch (op) {
			case DW_OP_addr:
				PUSH(ops[i].number + ev->bias);
				break;
			case DW_OP_const1u:
			case DW_OP_const2u:
			case DW_OP_const4u:
			case DW_OP_const8u:
			case DW_OP_constu:
			case DW_OP_const1s:
			case DW_OP_const2s:
			case DW_OP_const4s:
			case DW_OP_const8s:
			case DW_OP_consts:
				PUSH(ops[i].number);
				break;
			case DW_OP_regx:
				if (n != 1 || ops[i].number > 16)
					return false;
				ev->in_register = true;
				ev->result = ev->regs[ops[i].number];
				return true;
			case DW_OP_bregx:
				if (ops[i].number > 16)
					return false;
				PUSH(ev->regs[ops[i].number] + ops[i].number2);
				break;
			case DW_OP_fbreg:
				if (!ev->have_fb)
					return false;
				PUSH(ev->frame_base + ops[i].number);
				break;
			case DW_OP_call_frame_cfa:
				if (!ev->have_fb)
					return false;
				PUSH(ev->frame_base);
				break;
			case DW_OP_plus_uconst:
				NEED(1);
				stack[sp - 1] += ops[i].number;
				break;
			case DW_OP_plus:
				NEED(2);
				stack[sp - 2] += stack[sp - 1];
				sp--;
				break;
			case DW_OP_minus:
				NEED(2);
				stack[sp - 2] -= stack[sp - 1];
				sp--;
				break;
			case DW_OP_deref: {
				uint64_t v;

				NEED(1);
				if (ev->read(ev->arg, stack[sp - 1], &v,
					     sizeof(v)) < 0)
					return false;
				stack[sp - 1] = v;
				break;
			}
			case DW_OP_stack_value:
				NEED(1);
				ev->is_value = true;
				ev->result = stack[sp - 1];
				return i + 1 == n;
			default:
				return false;
			}
		}
	}
	NEED(1);
	ev->result = stack[sp - 1];
	return true;
#undef PUSH
#undef NEED
}

/* The frame base of subprogram SUB at PC: a CFA through the call frame
 * information when DW_OP_call_frame_cfa says so. */
static bool frame_base(struct ctypes *ct, Dwfl_Module *mod, Dwarf_Die *sub,
		       uint64_t pc, struct eval *ev)
{
	Dwarf_Attribute attr;
	Dwarf_Op *expr;
	size_t len;
	struct eval cfa = *ev;

	if (!dwarf_attr_integrate(sub, DW_AT_frame_base, &attr) ||
	    dwarf_getlocation_addr(&attr, pc - ev->bias, &expr, &len, 1) != 1)
		return false;
	if (len == 1 && expr[0].atom == DW_OP_call_frame_cfa) {
		Dwarf_Addr cbias;
		Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &cbias);
		Dwarf_Frame *frame = NULL;
		Dwarf_Op *ops;
		size_t nops;
		bool ok;

		if (!cfi)
			cfi = dwfl_module_dwarf_cfi(mod, &cbias);
		if (!cfi || dwarf_cfi_addrframe(cfi, pc - cbias, &frame) != 0)
			return false;
		ok = dwarf_frame_cfa(frame, &ops, &nops) == 0 &&
		     run_expr(&cfa, ops, nops) && !cfa.in_register;
		free(frame);
		if (!ok)
			return false;
		ev->frame_base = cfa.result;
		ev->have_fb = true;
		return true;
	}
	(void)ct;
	if (!run_expr(&cfa, expr, len))
		return false;
	ev->frame_base = cfa.result;
	ev->have_fb = true;
	return true;
}

/* Where variable VAR is at PC. */
static enum ctypes_var_result locate(struct ctypes *ct, Dwarf_Die *var,
				     uint64_t pc, struct eval *ev,
				     struct ctype_value *out)
{
	Dwarf_Attribute attr;
	Dwarf_Op *expr;
	size_t len;

	out->type = root_type(ct, var);
	if (out->type < 0)
		return CV_NO_LOCATION;
	if (!dwarf_attr_integrate(var, DW_AT_location, &attr) ||
	    dwarf_getlocation_addr(&attr, pc - ev->bias, &expr, &len, 1) != 1 ||
	    !run_expr(ev, expr, len))
		return CV_NO_LOCATION;
	if (ev->in_register || ev->is_value) {
		out->in_memory = false;
		memcpy(out->bytes, &ev->result, sizeof(ev->result));
	} else {
		out->in_memory = true;
		out->addr = ev->result;
	}
	return CV_FOUND;
}

static bool is_variable(Dwarf_Die *die, const char *name)
{
	int tag = dwarf_tag(die);
	const char *n;

	if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
		return false;
	n = name_of(die);
	return n && strcmp(n, name) == 0;
}

/* Whether the tree under DIE has a variable NAME (in any block). */
static bool has_variable(Dwarf_Die *die, const char *name, int depth)
{
	Dwarf_Die child;

	if (depth > MAX_NESTING || dwarf_child(die, &child) != 0)
		return false;
	do {
		if (is_variable(&child, name))
			return true;
		if (dwarf_tag(&child) == DW_TAG_lexical_block &&
		    has_variable(&child, name, depth + 1))
			return true;
	} while (dwarf_siblingof(&child, &child) == 0);
	return false;
}

enum ctypes_var_result ctypes_variable(struct ctypes *ct, uint64_t pc,
				       const uint64_t regs[17],
				       const char *name, ctypes_read_fn read,
				       void *arg, struct ctype_value *out)
{
	Dwfl_Module *mod = module_at(ct, pc);
	Dwarf_Die *cu, *scopes = NULL, *sub = NULL;
	struct eval ev = {.regs = regs, .read = read, .arg = arg};
	enum ctypes_var_result res = CV_NO_VARIABLE;
	int n;

	memset(out, 0, sizeof(*out));
	out->type = -1;
	if (!mod || !(cu = dwfl_module_addrdie(mod, pc, &ev.bias)))
		return CV_NO_VARIABLE;
	n = dwarf_getscopes(cu, pc - ev.bias, &scopes);
	for (int i = 0; i < n && !sub; i++) {
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram)
			sub = &scopes[i];
	}
	if (sub)
		frame_base(ct, mod, sub, pc, &ev);
	/* innermost scope first, up to the CU: its globals too */
	for (int i = 0; i < n && res == CV_NO_VARIABLE; i++) {
		Dwarf_Die child;

		if (dwarf_child(&scopes[i], &child) != 0)
			continue;
		do {
			if (is_variable(&child, name)) {
				res = locate(ct, &child, pc, &ev, out);
				break;
			}
		} while (dwarf_siblingof(&child, &child) == 0);
	}
	if (res == CV_NO_VARIABLE && sub && has_variable(sub, name, 0))
		res = CV_OUT_OF_SCOPE;
	if (res == CV_NO_VARIABLE) {
		const struct ctype_global *g;
		size_t ng = ctypes_globals(ct, pc, &g);

		for (size_t i = 0; i < ng; i++) {
			if (strcmp(g[i].name, name) == 0) {
				out->type = g[i].type;
				out->in_memory = true;
				out->addr = g[i].addr;
				res = CV_FOUND;
				break;
			}
		}
	}
	free(scopes);
	return res;
}

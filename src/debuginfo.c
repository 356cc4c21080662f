/* libdwfl over the live process, as elfutils' stack and addr2line do:
 * callbacks, report, report_end, then queries. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debuginfo.h"
#include "decode.h"
#include "names.h"
#include "source.h"
#include "suggest.h"
#include "util.h"

struct debuginfo {
	Dwfl *dwfl;
	pid_t pid;
	char *exe; /* real path of the main executable */
};

static char *debuginfo_path;

static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

struct debuginfo *debuginfo_open(pid_t pid, char **err)
{
	char link[64], exe[PATH_MAX];
	Dwfl *dwfl = dwfl_begin(&proc_callbacks);

	if (!dwfl) {
		*err = xasprintf("libdwfl: %s", dwfl_errmsg(-1));
		return NULL;
	}
	int rc = dwfl_linux_proc_report(dwfl, pid);
	if (rc != 0 || dwfl_report_end(dwfl, NULL, NULL) != 0) {
		*err = xasprintf("cannot read the modules of process %d: %s",
				 pid, rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		dwfl_end(dwfl);
		return NULL;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	ssize_t len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';

	struct debuginfo *di = xcalloc(1, sizeof(*di));
	di->dwfl = dwfl;
	di->pid = pid;
	di->exe = xstrdup(exe);
	return di;
}

int debuginfo_refresh(struct debuginfo *di)
{
	int rc;

	/* modules reported again are kept as they are; those unmapped since
	 * (dlclose) go, so that nothing is looked up in them any more */
	dwfl_report_begin(di->dwfl);
	rc = dwfl_linux_proc_report(di->dwfl, di->pid);
	if (dwfl_report_end(di->dwfl, NULL, NULL) != 0 || rc != 0)
		return -1;
	return 0;
}

struct symbol_search {
	const char *module; /* a part of the module's file name */
	const char *name;
	uint64_t addr;
	uint64_t size;
};

static int find_symbol(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	struct symbol_search *ss = arg;
	int n;

	if (!name || !strstr(name, ss->module))
		return DWARF_CB_OK;
	n = dwfl_module_getsymtab(mod);
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *sname = dwfl_module_getsym_info(mod, i, &sym, &addr,
							    NULL, NULL, NULL);

		if (sname && strcmp(sname, ss->name) == 0 && addr) {
			ss->addr = addr;
			ss->size = sym.st_size;
			return DWARF_CB_ABORT;
		}
	}
	return DWARF_CB_OK;
}

uint64_t debuginfo_symbol(struct debuginfo *di, const char *module,
			  const char *name)
{
	return debuginfo_symbol_size(di, module, name, NULL);
}

uint64_t debuginfo_symbol_size(struct debuginfo *di, const char *module,
			       const char *name, uint64_t *size)
{
	struct symbol_search ss = {module, name, 0, 0};

	dwfl_getmodules(di->dwfl, find_symbol, &ss, 0);
	if (size)
		*size = ss.size;
	return ss.addr;
}

/* Whether symbol NAME (maybe NAME@VERSION) is one of NAMES. */
static bool named_in(const char *name, const char *const names[])
{
	size_t len = strcspn(name, "@");

	for (size_t i = 0; names[i]; i++) {
		if (strlen(names[i]) == len &&
		    strncmp(name, names[i], len) == 0)
			return true;
	}
	return false;
}

/* Whether MOD's symbol table has one of NAMES (maybe NAME@VERSION):
 * DEFINED, a function it defines; otherwise one it imports. */
static bool has_symbol(Dwfl_Module *mod, const char *const names[],
		       bool defined)
{
	int n = dwfl_module_getsymtab(mod);

	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *sname = dwfl_module_getsym_info(mod, i, &sym, &addr,
							    &shndx, NULL, NULL);

		bool defines = shndx != SHN_UNDEF &&
			       GELF_ST_TYPE(sym.st_info) == STT_FUNC;

		if (sname && named_in(sname, names) &&
		    (defined ? defines : shndx == SHN_UNDEF))
			return true;
	}
	return false;
}

static int find_import(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	return has_symbol(mod, arg, false) ? DWARF_CB_ABORT : DWARF_CB_OK;
}

bool debuginfo_imports(struct debuginfo *di, const char *const names[])
{
	return dwfl_getmodules(di->dwfl, find_import, (void *)names, 0) > 0;
}

void debuginfo_close(struct debuginfo *di)
{
	if (!di)
		return;
	dwfl_end(di->dwfl);
	free(di->exe);
	free(di);
}

void func_info_free(struct func_info *fi)
{
	if (!fi)
		return;
	for (size_t i = 0; i < fi->nranges; i++)
		free(fi->ranges[i].bytes);
	free(fi->ranges);
	free(fi->rows);
	free(fi->inlined);
	free(fi->inlined_into);
	free(fi->name);
	free(fi->file);
	free(fi);
}

/* The search for one --func, over every module. */
struct search {
	const char *name;
	const char *file;   /* NULL, or the FILE of FILE.c:NAME */
	const char *module; /* NULL, or the LIB of LIB:NAME */
	Dwfl_Module *mod;
	Dwarf_Addr bias;
	Dwarf_Die *cu;
	struct suggest *suggest;
	struct func_info **found;
	size_t nfound;
	bool inline_only;	 /* a match with no code: inlined everywhere */
	Dwfl_Module *inline_mod; /* the module it was in */
	/* those matches, to find their inlined copies by */
	struct abstract_func {
		Dwfl_Module *mod;
		Dwarf_Off root;
		char *display;
	} * abstracts;
	size_t nabstracts;
	bool by_symbols; /* look up through the symbol table and the CU
			  * index rather than walk every DIE */
	char *base;	 /* the spec's last name, as symbols have it */
	bool copies;	 /* look for the inlined copies of ABSTRACTS */
};

static bool path_matches(const char *path, const char *file)
{
	if (!path)
		return false;
	size_t plen = strlen(path), flen = strlen(file);
	if (plen == flen)
		return strcmp(path, file) == 0;
	return plen > flen && path[plen - flen - 1] == '/' &&
	       strcmp(path + plen - flen, file) == 0;
}

static bool has_code(Dwarf_Die *die)
{
	Dwarf_Addr base, lo, hi;

	if (dwarf_hasattr(die, DW_AT_declaration))
		return false;
	return dwarf_ranges(die, 0, &base, &lo, &hi) > 0;
}

static char *absolute_source(Dwarf_Die *cu, const char *file)
{
	Dwarf_Attribute attr;
	const char *dir;

	if (file[0] == '/')
		return xstrdup(file);
	dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
	if (!dir)
		return xstrdup(file);
	return xasprintf("%s/%s", dir, file);
}

/* The DIE that holds DIE's DW_AT_decl_file: itself, or the one it is a
 * concrete copy or the definition of (in another CU, with LTO). */
static bool decl_holder(Dwarf_Die *die, Dwarf_Die *holder)
{
	*holder = *die;
	for (int hops = 0; hops < 8; hops++) {
		Dwarf_Attribute attr;

		if (dwarf_hasattr(holder, DW_AT_decl_file))
			return true;
		if (!dwarf_attr(holder, DW_AT_abstract_origin, &attr) &&
		    !dwarf_attr(holder, DW_AT_specification, &attr))
			return false;
		if (!dwarf_formref_die(&attr, holder))
			return false;
	}
	return false;
}

/* The absolute path of the file DIE is declared in, through the file
 * table of the CU that declares it (libdw before 0.190 takes index 0,
 * which DWARF 5 uses for the primary file, for "none"). A new string, or
 * NULL. */
static char *decl_path(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Die holder, cu;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t nfiles;
	const char *name;

	if (!decl_holder(die, &holder) ||
	    dwarf_formudata(dwarf_attr(&holder, DW_AT_decl_file, &attr),
			    &idx) != 0 ||
	    !dwarf_diecu(&holder, &cu, NULL, NULL) ||
	    dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	name = dwarf_filesrc(files, idx, NULL, NULL);
	return name ? absolute_source(&cu, name) : NULL;
}

static bool in_ranges(const struct func_info *fi, uint64_t addr)
{
	for (size_t i = 0; i < fi->nranges; i++) {
		if (addr >= fi->ranges[i].lo && addr < fi->ranges[i].hi)
			return true;
	}
	return false;
}

/* Original bytes of [lo, hi) (run-time addresses) from the ELF file. */
static uint8_t *elf_code(Dwfl_Module *mod, uint64_t lo, uint64_t hi)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	if (!elf)
		return NULL;
	uint64_t addr = lo - bias;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_PROGBITS)
			continue;
		if (addr < shdr.sh_addr ||
		    addr + (hi - lo) > shdr.sh_addr + shdr.sh_size)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			return NULL;
		uint8_t *bytes = xmalloc(hi - lo);
		memcpy(bytes, (uint8_t *)data->d_buf + (addr - shdr.sh_addr),
		       hi - lo);
		return bytes;
	}
	return NULL;
}

static bool collect_ranges(struct search *s, Dwarf_Die *die,
			   struct func_info *fi)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		fi->ranges = xrealloc(fi->ranges,
				      (fi->nranges + 1) * sizeof(*fi->ranges));
		struct code_range *r = &fi->ranges[fi->nranges++];
		r->lo = lo + s->bias;
		r->hi = hi + s->bias;
		r->bytes = elf_code(s->mod, r->lo, r->hi);
		if (!r->bytes)
			return false;
	}
	return fi->nranges > 0;
}

/* The function's rows: the last is_stmt row at an address wins, as in
 * gdb; rows of other files (code included from elsewhere) get line 0.
 * A row that is no statement start but goes on with the line in force
 * (a rotated loop entered at its condition) is kept too: code of that
 * line begins there. Those of other lines are code scheduled among
 * them, and keep the line in force. */
static bool collect_rows(struct search *s, struct func_info *fi)
{
	Dwarf_Lines *lines;
	size_t nlines;
	int in_force = 0;

	if (dwarf_getsrclines(s->cu, &lines, &nlines) != 0)
		return false;
	for (size_t i = 0; i < nlines; i++) {
		Dwarf_Line *l = dwarf_onesrcline(lines, i);
		Dwarf_Addr addr;
		bool stmt = false, end = false;
		int lineno = 0;

		if (!l || dwarf_lineaddr(l, &addr) != 0)
			continue;
		addr += s->bias;
		dwarf_linebeginstatement(l, &stmt);
		dwarf_lineendsequence(l, &end);
		if (!in_ranges(fi, addr))
			continue;
		if (!end) {
			const char *src = dwarf_linesrc(l, NULL, NULL);
			char *abs = src ? absolute_source(s->cu, src) : NULL;
			if (abs && strcmp(abs, fi->file) == 0)
				dwarf_lineno(l, &lineno);
			free(abs);
		}
		bool again = fi->nrows && fi->rows[fi->nrows - 1].addr == addr;
		if (!stmt && !end &&
		    (again || lineno == 0 || lineno != in_force))
			continue;
		in_force = end ? 0 : lineno;
		if (again) {
			if (!end)
				fi->rows[fi->nrows - 1].line = lineno;
			continue;
		}
		fi->rows =
			xrealloc(fi->rows, (fi->nrows + 1) * sizeof(*fi->rows));
		fi->rows[fi->nrows++] = (struct line_row){addr, lineno};
		if (lineno > fi->last_line)
			fi->last_line = lineno;
	}
	return fi->nrows > 0;
}

static int sort_rows(const void *a, const void *b)
{
	const struct line_row *x = a, *y = b;

	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* The outermost inlined calls under DIE (lexical blocks looked into). */
static void collect_inlined(Dwarf_Die *die, uint64_t bias,
			    struct inlined_code **list, size_t *n)
{
	Dwarf_Die child;

	if (dwarf_child(die, &child) != 0)
		return;
	do {
		int tag = dwarf_tag(&child);
		Dwarf_Attribute attr;
		Dwarf_Word line;
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		if (tag == DW_TAG_lexical_block) {
			collect_inlined(&child, bias, list, n);
			continue;
		}
		if (tag != DW_TAG_inlined_subroutine ||
		    dwarf_formudata(dwarf_attr(&child, DW_AT_call_line, &attr),
				    &line) != 0)
			continue;
		while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			*list = xrealloc(*list, (*n + 1) * sizeof(**list));
			(*list)[(*n)++] = (struct inlined_code){
				lo + bias, hi + bias, (int)line,
				dwarf_dieoffset(&child)};
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static const struct inlined_code *inlined_at(const struct inlined_code *list,
					     size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++) {
		if (addr >= list[i].lo && addr < list[i].hi)
			return &list[i];
	}
	return NULL;
}

static bool has_row_at(const struct line_row *rows, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++) {
		if (rows[i].addr == addr)
			return true;
	}
	return false;
}

/* Whether one of ROWS lies in [LO, HI). */
static bool rows_within(const struct line_row *rows, size_t n, uint64_t lo,
			uint64_t hi)
{
	for (size_t i = 0; i < n; i++) {
		if (rows[i].addr >= lo && rows[i].addr < hi)
			return true;
	}
	return false;
}

/* The line of the sorted ROWS at ADDR (0 before the first). */
static int row_line_at(const struct line_row *rows, size_t n, uint64_t addr)
{
	int line = 0;

	for (size_t i = 0; i < n && rows[i].addr <= addr; i++)
		line = rows[i].line;
	return line;
}

/* Charges the code of inlined callees to the lines that call them, as a
 * call to a function that is not inlined would be: rows inside an inlined
 * range give way to one row of the call line, and the line in force
 * after the range comes back at its end. */
static void charge_inlined(Dwarf_Die *die, uint64_t bias, struct func_info *fi)
{
	struct inlined_code *list = NULL;
	size_t n = 0, nrows = 0;
	struct line_row *rows;
	const struct inlined_code *at_entry;

	collect_inlined(die, bias, &list, &n);
	if (n == 0)
		return;
	at_entry = inlined_at(list, n, fi->entry);
	if (at_entry)
		fi->entry_line = at_entry->line;
	rows = xcalloc(fi->nrows + 2 * n, sizeof(*rows));
	for (size_t i = 0; i < fi->nrows; i++) {
		if (!inlined_at(list, n, fi->rows[i].addr))
			rows[nrows++] = fi->rows[i];
	}
	for (size_t i = 0; i < n; i++) {
		rows[nrows++] = (struct line_row){list[i].lo, list[i].line};
		/* code after the range with no row of its own continues the
		 * row before it: the callee's (the call line goes on) or,
		 * when the range holds none, the caller's */
		if (!inlined_at(list, n, list[i].hi) &&
		    !has_row_at(fi->rows, fi->nrows, list[i].hi) &&
		    !rows_within(fi->rows, fi->nrows, list[i].lo, list[i].hi))
			rows[nrows++] = (struct line_row){
				list[i].hi,
				row_line_at(fi->rows, fi->nrows, list[i].hi)};
	}
	qsort(rows, nrows, sizeof(*rows), sort_rows);
	free(fi->rows);
	fi->rows = rows;
	fi->nrows = nrows;
	fi->inlined = list;
	fi->ninlined = n;
}

/* The DIE inlined copies of DIE refer to: its abstract origin, if any. */
static Dwarf_Off abstract_offset(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Die origin;

	if (dwarf_attr(die, DW_AT_abstract_origin, &attr) &&
	    dwarf_formref_die(&attr, &origin))
		return dwarf_dieoffset(&origin);
	return dwarf_dieoffset(die);
}

static unsigned count_under(Dwarf_Die *die, Dwarf_Off origin)
{
	Dwarf_Die child;
	unsigned n = 0;

	if (dwarf_child(die, &child) != 0)
		return 0;
	do {
		Dwarf_Attribute attr;
		Dwarf_Die ref;

		if (dwarf_tag(&child) == DW_TAG_inlined_subroutine &&
		    dwarf_attr(&child, DW_AT_abstract_origin, &attr) &&
		    dwarf_formref_die(&attr, &ref) &&
		    dwarf_dieoffset(&ref) == origin)
			n++;
		n += count_under(&child, origin);
	} while (dwarf_siblingof(&child, &child) == 0);
	return n;
}

/* How many copies of DIE the compiler inlined into other functions of
 * the CU: calls there never reach the function's own code. */
static unsigned count_inlined_copies(Dwarf_Die *cu, Dwarf_Die *die)
{
	return count_under(cu, abstract_offset(die));
}

/* Whether the symbol at ADDR (a DWARF address) names the function DIE:
 * its linkage name or its own, not a part such as NAME.cold. */
static bool symbol_names(const struct search *s, Dwarf_Die *die,
			 Dwarf_Addr addr)
{
	Dwarf_Attribute attr;
	const char *sym = dwfl_module_addrname(s->mod, addr + s->bias);
	const char *linkage = dwarf_formstring(
		dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	const char *name = dwarf_diename(die);

	return sym && ((linkage && strcmp(sym, linkage) == 0) ||
		       (name && strcmp(sym, name) == 0));
}

/* The DWARF address where the function at DIE is entered. A function
 * split into parts (NAME and NAME.cold at -O2) has DW_AT_ranges and no
 * DW_AT_low_pc: the part its own symbol starts, or else the first one, as
 * gdb takes it. */
static bool func_entry(const struct search *s, Dwarf_Die *die,
		       Dwarf_Addr *entry)
{
	Dwarf_Addr base, lo, hi, first = 0;
	ptrdiff_t off = 0;
	bool any = false;

	if (dwarf_entrypc(die, entry) == 0)
		return true;
	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		if (symbol_names(s, die, lo)) {
			*entry = lo;
			return true;
		}
		if (!any)
			first = lo;
		any = true;
	}
	*entry = first;
	return any;
}

static int sort_ranges(const void *a, const void *b)
{
	const struct code_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Whether TEXT is only an opening brace. */
static bool only_brace(const char *text)
{
	text += strspn(text, " \t");
	if (*text != '{')
		return false;
	text++;
	return text[strspn(text, " \t")] == '\0';
}

/* Optimized code may begin with a statement of the body, its prologue
 * given to that line (gcc at -O2): that line starts at entry, as gdb's
 * breakpoint on the function stops there. Not the header or the line of
 * the opening brace, which -O0 code begins with. */
static void entry_statement(struct func_info *fi, const struct source *src)
{
	int line = row_line_at(fi->rows, fi->nrows, fi->entry);
	const char *text = source_line(src, line);

	if (fi->entry_line || line <= fi->decl_line || line > fi->last_line ||
	    !text || only_brace(text))
		return;
	fi->entry_line = line;
}

/* Keeps the rows of the function's own lines, from its header to the
 * brace that closes its body in the source; rows of other lines (code
 * the compiler moved in from elsewhere) get no line. Without the source,
 * or when it does not read as a function there, its last row ends it. */
static void own_lines(struct func_info *fi)
{
	struct source *src = source_load(fi->file);
	int end = source_body_end(src, fi->decl_line);
	size_t inside = 0, outside = 0;

	for (size_t i = 0; end && i < fi->nrows; i++) {
		if (fi->rows[i].line > end)
			outside++;
		else if (fi->rows[i].line >= fi->decl_line)
			inside++;
	}
	/* a source that has changed since the build reads otherwise */
	if (outside > inside)
		end = 0;
	fi->last_line = end ? end : fi->decl_line;
	for (size_t i = 0; i < fi->nrows; i++) {
		/* lines before the header come from elsewhere: no line */
		if (fi->rows[i].line < fi->decl_line ||
		    (end && fi->rows[i].line > end))
			fi->rows[i].line = 0;
		if (fi->rows[i].line > fi->last_line)
			fi->last_line = fi->rows[i].line;
	}
	entry_statement(fi, src);
	source_free(src);
}

/* The function at DIE, shown as NAME (taken over). */
static struct func_info *describe(struct search *s, Dwarf_Die *die, char *name)
{
	struct func_info *fi = xcalloc(1, sizeof(*fi));
	Dwarf_Addr entry;
	char *decl = decl_path(die);
	int line = 0;

	fi->name = name;
	fi->file = decl ? decl : xstrdup("");
	dwarf_decl_line(die, &line);
	fi->decl_line = line;
	fi->last_line = line;
	if (!collect_ranges(s, die, fi) || !func_entry(s, die, &entry))
		goto fail;
	fi->entry = entry + s->bias;
	/* the parts in address order, as the code is decoded */
	qsort(fi->ranges, fi->nranges, sizeof(*fi->ranges), sort_ranges);
	if (!collect_rows(s, fi))
		goto fail;
	qsort(fi->rows, fi->nrows, sizeof(*fi->rows), sort_rows);
	charge_inlined(die, s->bias, fi);
	fi->inlined_calls = count_inlined_copies(s->cu, die);
	own_lines(fi);
	return fi;
fail:
	func_info_free(fi);
	return NULL;
}

/* The DIE at the end of DIE's chain of abstract origins: the same for
 * every concrete or inlined copy of one function, in any CU. */
static Dwarf_Off origin_root(Dwarf_Die *die)
{
	Dwarf_Die at = *die;

	for (int hops = 0; hops < 8; hops++) {
		Dwarf_Attribute attr;
		Dwarf_Die next;

		if (!dwarf_attr(&at, DW_AT_abstract_origin, &attr) ||
		    !dwarf_formref_die(&attr, &next))
			break;
		at = next;
	}
	return dwarf_dieoffset(&at);
}

/* Whether code that runs from [LO, HI) to HI stays in the function that
 * holds it: no call, return or computed jump. */
static bool gap_stays(Dwfl_Module *mod, uint64_t lo, uint64_t hi)
{
	uint8_t *bytes = hi - lo <= 64 ? elf_code(mod, lo, hi) : NULL;
	struct insn *insns = NULL;
	size_t n, i = 0;

	if (!bytes)
		return false;
	n = decode_code(bytes, hi - lo, lo, &insns);
	for (; i < n; i++) {
		enum insn_flow f = insns[i].flow;

		if (f == FLOW_CALL || f == FLOW_RET ||
		    f == FLOW_INDIRECT_JUMP || f == FLOW_STOP)
			break;
	}
	bool whole = i == n && n && insns[n - 1].addr + insns[n - 1].len == hi;
	free(insns);
	free(bytes);
	return whole;
}

/* Joins the parts of an inlined copy between which there is only a
 * little of the caller's code that makes no call and does not return
 * (code the compiler scheduled in): a thread there has not left the
 * call. */
static void join_parts(struct search *s, struct func_info *fi)
{
	size_t out = 0;

	for (size_t i = 0; i < fi->nranges; i++) {
		struct code_range *last = out ? &fi->ranges[out - 1] : NULL;
		struct code_range *r = &fi->ranges[i];
		uint8_t *bytes;

		if (last && r->lo >= last->hi &&
		    gap_stays(s->mod, last->hi, r->lo) &&
		    (bytes = elf_code(s->mod, last->lo, r->hi))) {
			free(last->bytes);
			free(r->bytes);
			last->bytes = bytes;
			last->hi = r->hi;
			continue;
		}
		fi->ranges[out++] = *r;
	}
	fi->nranges = out;
}

/* The name of the function that holds the inlined copy DIE. */
static char *holder_name(Dwarf_Die *die)
{
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes_die(die, &scopes);
	char *name = NULL;

	for (int i = 1; i < n && !name; i++) {
		const char *part = dwarf_diename(&scopes[i]);

		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram && part)
			name = xstrdup(part);
	}
	free(scopes);
	return name ? name : xstrdup("?");
}

/* An inlined copy of a function at DIE (DW_TAG_inlined_subroutine),
 * profiled as the function NAME: its code is the copy's ranges, its
 * lines the rows there. */
static struct func_info *describe_copy(struct search *s, Dwarf_Die *die,
				       const char *name)
{
	struct func_info *fi = xcalloc(1, sizeof(*fi));
	Dwarf_Addr entry;
	char *decl = decl_path(die);
	int line = 0;

	fi->name = xstrdup(name);
	fi->file = decl ? decl : xstrdup("");
	dwarf_decl_line(die, &line);
	fi->decl_line = line;
	if (!collect_ranges(s, die, fi))
		goto fail;
	qsort(fi->ranges, fi->nranges, sizeof(*fi->ranges), sort_ranges);
	join_parts(s, fi);
	/* where the copy begins, unless that is no code of it (gcc's entry
	 * may lie on an empty range) */
	fi->entry = fi->ranges[0].lo;
	if (dwarf_entrypc(die, &entry) == 0 && in_ranges(fi, entry + s->bias))
		fi->entry = entry + s->bias;
	if (!collect_rows(s, fi))
		goto fail;
	qsort(fi->rows, fi->nrows, sizeof(*fi->rows), sort_rows);
	charge_inlined(die, s->bias, fi);
	own_lines(fi);
	fi->inlined_into = holder_name(die);
	return fi;
fail:
	func_info_free(fi);
	return NULL;
}

static void add_found(struct search *s, struct func_info *fi)
{
	s->found = xrealloc(s->found, (s->nfound + 1) * sizeof(*s->found));
	s->found[s->nfound++] = fi;
}

/* The inlined copies, under DIE, of the functions without code the
 * search matched in this module. */
static void find_copies(struct search *s, Dwarf_Die *die)
{
	Dwarf_Die child;

	if (dwarf_child(die, &child) != 0)
		return;
	do {
		if (dwarf_tag(&child) == DW_TAG_inlined_subroutine) {
			Dwarf_Off root = origin_root(&child);

			for (size_t i = 0; i < s->nabstracts; i++) {
				const struct abstract_func *a =
					&s->abstracts[i];
				struct func_info *fi;

				if (a->mod != s->mod || a->root != root)
					continue;
				fi = describe_copy(s, &child, a->display);
				if (fi)
					add_found(s, fi);
				break;
			}
		}
		find_copies(s, &child);
	} while (dwarf_siblingof(&child, &child) == 0);
}

static bool already_found(const struct search *s, Dwarf_Die *die)
{
	Dwarf_Addr entry;

	if (!func_entry(s, die, &entry))
		return false;
	for (size_t i = 0; i < s->nfound; i++) {
		if (s->found[i]->entry == entry + s->bias)
			return true;
	}
	return false;
}

static bool decl_matches(Dwarf_Die *die, const char *file)
{
	char *decl = decl_path(die);
	bool match = path_matches(decl, file);

	free(decl);
	return match;
}

/* The DIE that holds DIE's place among scopes: the declaration in its
 * class for a member defined outside, the origin of a concrete copy. */
static void scope_holder(Dwarf_Die *die, Dwarf_Die *holder)
{
	*holder = *die;
	for (int hops = 0; hops < 8; hops++) {
		Dwarf_Attribute attr;
		Dwarf_Die next;

		if ((!dwarf_attr(holder, DW_AT_specification, &attr) &&
		     !dwarf_attr(holder, DW_AT_abstract_origin, &attr)) ||
		    !dwarf_formref_die(&attr, &next))
			return;
		*holder = next;
	}
}

/* "ns::Class::name": the namespaces and classes around DIE, then its
 * name. A new string. */
static char *qualified_name(Dwarf_Die *die, const char *name)
{
	Dwarf_Die holder, *scopes = NULL;
	int n;
	char *q = xstrdup("");

	scope_holder(die, &holder);
	n = dwarf_getscopes_die(&holder, &scopes);
	for (int i = n - 1; i >= 1; i--) {
		int tag = dwarf_tag(&scopes[i]);
		const char *part = dwarf_diename(&scopes[i]);
		char *next;

		if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
		    tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
			continue;
		next = xasprintf("%s%s::", q,
				 part ? part : "(anonymous namespace)");
		free(q);
		q = next;
	}
	free(scopes);
	char *full = xasprintf("%s%s", q, name);
	free(q);
	return full;
}

static char *demangled_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *linkage = dwarf_formstring(
		dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));

	if (!linkage)
		linkage = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_MIPS_linkage_name, &attr));
	return names_demangle(linkage);
}

/* The last part of a spec without template arguments or parameters:
 * "add" for "shop::Cart::add(int)"; what a DWARF name is checked
 * against first, cheaply. */
static bool same_base(const char *spec, const char *plain)
{
	const char *end = spec + strcspn(spec, "(");
	const char *start = spec;

	for (const char *c = spec; c + 1 < end; c++) {
		if (c[0] == ':' && c[1] == ':')
			start = c + 2;
	}
	size_t len = strcspn(start, "<(");
	return strncmp(start, plain, len) == 0 &&
	       (plain[len] == '\0' || plain[len] == '<');
}

/* Whether the function DIE named PLAIN is the one the search wants; its
 * display name (demangled when C++) goes to *DISPLAY. */
static bool wanted(struct search *s, Dwarf_Die *die, const char *plain,
		   char **display)
{
	char *qualified, *demangled;
	bool match;

	*display = NULL;
	if (!same_base(s->name, plain))
		return false;
	qualified = qualified_name(die, plain);
	demangled = demangled_name(die);
	match = names_match(s->name, plain, qualified, demangled);
	if (match)
		*display = demangled ? demangled : xstrdup(qualified);
	else
		free(demangled);
	free(qualified);
	return match;
}

/* FILE.c:NAME found NAME in another file: that file's spec is the one
 * meant, more likely than any other name. */
static void offer_other_file(struct search *s, Dwarf_Die *die,
			     const char *display)
{
	char *decl = decl_path(die);
	const char *base;
	char *spec;

	if (!decl)
		return;
	base = strrchr(decl, '/') ? strrchr(decl, '/') + 1 : decl;
	spec = xasprintf("%s:%s", base, display);
	suggest_offer_exact(s->suggest, spec);
	free(spec);
	free(decl);
}

/* A function without code that the search wants, shown as DISPLAY
 * (taken over): its inlined copies may be profiled instead. */
static void note_abstract(struct search *s, Dwarf_Die *die, char *display)
{
	Dwarf_Off root = origin_root(die);

	for (size_t i = 0; i < s->nabstracts; i++) {
		if (s->abstracts[i].mod == s->mod &&
		    s->abstracts[i].root == root) {
			free(display);
			return;
		}
	}
	s->abstracts = xrealloc(s->abstracts,
				(s->nabstracts + 1) * sizeof(*s->abstracts));
	s->abstracts[s->nabstracts++] =
		(struct abstract_func){s->mod, root, display};
}

static int visit_func(Dwarf_Die *die, void *arg)
{
	struct search *s = arg;
	const char *name = dwarf_diename(die);
	char *display;

	if (!name)
		return DWARF_CB_OK;
	if (!has_code(die)) {
		/* a definition without code: inlined everywhere (LTO's
		 * early debug information has no DW_AT_inline) */
		if (!dwarf_hasattr(die, DW_AT_declaration) &&
		    (!s->file || decl_matches(die, s->file)) &&
		    wanted(s, die, name, &display)) {
			s->inline_only = true;
			s->inline_mod = s->mod;
			note_abstract(s, die, display);
		}
		return DWARF_CB_OK;
	}
	suggest_offer(s->suggest, name);
	if (!wanted(s, die, name, &display))
		return DWARF_CB_OK;
	if (s->file && !decl_matches(die, s->file)) {
		offer_other_file(s, die, display);
		free(display);
		return DWARF_CB_OK;
	}
	if (already_found(s, die)) {
		free(display);
		return DWARF_CB_OK;
	}
	struct func_info *fi = describe(s, die, display);
	if (fi)
		add_found(s, fi);
	return DWARF_CB_OK;
}

static bool is_main_module(const struct debuginfo *di, Dwfl_Module *mod)
{
	const char *name =
		dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	char real[PATH_MAX];

	if (!name || !realpath(name, real))
		return false;
	return strcmp(real, di->exe) == 0;
}

struct module_walk {
	struct debuginfo *di;
	struct search *search;
	bool main_has_lines;
	bool main_stripped; /* no symbol table: its debug information is
			     * elsewhere, or nowhere */
	char *main_error;   /* why libdw cannot read the main module's
			     * debug information, when it has some */
	/* LIB:NAME: a library of that name without DWARF, and whether one
	 * with DWARF was seen */
	const char *lib_without_dwarf;
	bool lib_with_dwarf;
	/* a plain name a library without DWARF defines as a function */
	const char *defined_without_dwarf;
};

/* Notes the first error met in the main module's DWARF: libdw's own
 * message, or WHY when libdw has none. */
static void note_error(struct module_walk *w, const char *libdw,
		       const char *why)
{
	if (w->main_error)
		return;
	w->main_error = libdw ? xasprintf("libdw: %s", libdw) : xstrdup(why);
}

/* Whether the module's ELF file has DWARF of its own (.debug_info). */
static bool has_debug_info(Dwfl_Module *mod)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	size_t shstrndx;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name =
			gelf_getshdr(scn, &shdr)
				? elf_strptr(elf, shstrndx, shdr.sh_name)
				: NULL;
		if (name && strcmp(name, ".debug_info") == 0)
			return true;
	}
	return false;
}

/* Whether a module has line information at all. When it has none and
 * libdw failed to read it, why goes to W. */
static bool module_has_lines(struct module_walk *w, Dwfl_Module *mod)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = NULL;
	Dwarf_Lines *lines;
	size_t n;
	int ncus = 0, e;
	char *why = NULL;

	dwarf_errno();
	dwfl_errno();
	while ((cu = dwfl_module_nextcu(mod, cu, &bias))) {
		ncus++;
		if (dwarf_getsrclines(cu, &lines, &n) == 0) {
			if (n > 0) {
				free(why);
				return true;
			}
		} else if (!why) {
			e = dwarf_errno();
			why = e ? xasprintf("libdw: %s", dwarf_errmsg(e))
				: xstrdup("its line table is damaged");
		}
	}
	e = dwfl_errno();
	if (why)
		note_error(w, NULL, why);
	else if (e)
		note_error(w, dwfl_errmsg(e), NULL);
	else if (ncus == 0 && has_debug_info(mod))
		note_error(w, NULL, "no compilation unit can be read");
	free(why);
	return false;
}

static bool has_symtab(Dwfl_Module *mod)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;

	while (elf && (scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB)
			return true;
	}
	return false;
}

/* Splits PREFIX:NAME at the first colon that is not half of a C++ "::";
 * *PREFIX is NULL when there is none. */
static void split_spec(const char *spec, char **prefix, char **name)
{
	for (const char *c = strchr(spec, ':'); c; c = strchr(c + 1, ':')) {
		if (c[1] == ':') {
			c++;
			continue;
		}
		if (c > spec && c[1]) {
			*prefix = xasprintf("%.*s", (int)(c - spec), spec);
			*name = xstrdup(c + 1);
			return;
		}
	}
	*prefix = NULL;
	*name = xstrdup(spec);
}

/* Whether PREFIX names a source file (FILE.c:NAME) rather than a module
 * (LIB:NAME). */
static bool is_source_name(const char *prefix)
{
	static const char *const exts[] = {".c", ".h",	 ".cc", ".cpp", ".cxx",
					   ".C", ".hpp", ".hh", ".i"};
	size_t len = strlen(prefix);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i]);
		if (len > el && strcmp(prefix + len - el, exts[i]) == 0)
			return true;
	}
	return false;
}

bool debuginfo_spec_is_library(const char *spec)
{
	char *prefix, *name;
	bool lib;

	split_spec(spec, &prefix, &name);
	lib = prefix && !is_source_name(prefix);
	free(prefix);
	free(name);
	return lib;
}

/* Whether the module at PATH is the library LIB: its file name starts
 * with LIB ("libm" and "libm.so.6" both name /lib/.../libm.so.6). */
static bool module_matches(const char *path, const char *lib)
{
	const char *base = path ? strrchr(path, '/') : NULL;

	base = base ? base + 1 : path;
	return base && strncmp(base, lib, strlen(lib)) == 0;
}

/* The last name of a spec, without template arguments or parameters:
 * "add" for "shop::Cart::add(int)". A new string. */
static char *spec_base(const char *spec)
{
	const char *end = spec + strcspn(spec, "(");
	const char *start = spec;

	for (const char *c = spec; c + 1 < end; c++) {
		if (c[0] == ':' && c[1] == ':')
			start = c + 2;
	}
	return xasprintf("%.*s", (int)strcspn(start, "<("), start);
}

/* Whether symbol SYM may be the function named BASE: the same name, or a
 * C++ mangled name with BASE in it ("3add" in _ZN4shop4Cart3addEi). */
static bool symbol_may_be(const char *sym, const char *base)
{
	char enc[64];

	if (strcmp(sym, base) == 0)
		return true;
	if (strncmp(sym, "_Z", 2) != 0)
		return false;
	snprintf(enc, sizeof(enc), "%zu%s", strlen(base), base);
	return strstr(sym, enc) != NULL;
}

/* The search through the symbol table: each function symbol that may be
 * the one wanted leads, through the CU index, to its CU and then to the
 * subprogram at its address. Big programs are not walked DIE by DIE. */
static void find_by_symbols(struct search *s, Dwfl_Module *mod)
{
	int n = dwfl_module_getsymtab(mod);

	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		Dwarf_Addr bias;
		Dwarf_Die *cu, *scopes = NULL;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);
		int nscopes;

		if (!name || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !symbol_may_be(name, s->base))
			continue;
		cu = dwfl_module_addrdie(mod, addr, &bias);
		if (!cu)
			continue;
		nscopes = dwarf_getscopes(cu, addr - bias, &scopes);
		for (int k = 0; k < nscopes; k++) {
			if (dwarf_tag(&scopes[k]) != DW_TAG_subprogram)
				continue;
			s->cu = cu;
			s->bias = bias;
			visit_func(&scopes[k], s);
			break;
		}
		free(scopes);
	}
}

static int visit_module(Dwfl_Module *mod, void **userdata, const char *name,
			Dwarf_Addr start, void *arg)
{
	struct module_walk *w = arg;
	struct search *s = w->search;
	Dwarf_Addr bias;
	bool main = is_main_module(w->di, mod);

	if (main && !has_symtab(mod))
		w->main_stripped = true;
	if (s->module && !module_matches(name, s->module))
		return DWARF_CB_OK;
	if (!dwfl_module_getdwarf(mod, &bias)) {
		/* DWARF there, but unreadable, is no stripped program */
		if (main && has_debug_info(mod))
			note_error(w, dwfl_errmsg(-1), NULL);
		if (s->module && !main)
			w->lib_without_dwarf = name;
		else if (!main && s->base &&
			 has_symbol(mod, (const char *const[]){s->base, NULL},
				    true))
			w->defined_without_dwarf = name;
		return DWARF_CB_OK;
	}
	w->lib_with_dwarf = true;
	if (main && module_has_lines(w, mod))
		w->main_has_lines = true;
	s->mod = mod;
	if (s->copies) {
		s->cu = NULL;
		while ((s->cu = dwfl_module_nextcu(mod, s->cu, &s->bias)))
			find_copies(s, s->cu);
		return DWARF_CB_OK;
	}
	if (s->by_symbols) {
		find_by_symbols(s, mod);
		return DWARF_CB_OK;
	}
	s->cu = NULL;
	int read = 0, failed = 0, e = 0;
	while ((s->cu = dwfl_module_nextcu(mod, s->cu, &s->bias))) {
		dwarf_errno();
		if (dwarf_getfuncs(s->cu, visit_func, s, 0) >= 0)
			read++;
		else if (failed++ == 0)
			e = dwarf_errno();
	}
	/* damaged as a whole: one unreadable unit among good ones is not
	 * what the user needs to hear about */
	if (main && read == 0 && failed)
		note_error(w, e ? dwarf_errmsg(e) : NULL,
			   "its functions cannot be read");
	return DWARF_CB_OK;
}

/* Whether the process runs a file that was replaced or deleted since
 * it started it (the kernel marks its name so). */
static bool exe_gone(const struct debuginfo *di)
{
	static const char mark[] = " (deleted)";
	size_t len = strlen(di->exe);

	return len > sizeof(mark) - 1 &&
	       strcmp(di->exe + len - (sizeof(mark) - 1), mark) == 0;
}

enum debuginfo_result debuginfo_find(struct debuginfo *di, const char *spec,
				     struct func_info ***funcs, size_t *n,
				     char **msg)
{
	char *file, *name;
	struct search s = {0};
	struct module_walk w = {.di = di, .search = &s};

	split_spec(spec, &file, &name);
	s.name = name;
	if (file && is_source_name(file))
		s.file = file;
	else
		s.module = file;
	s.suggest = suggest_new(name);
	s.base = spec_base(name);
	s.by_symbols = true;
	dwfl_getmodules(di->dwfl, visit_module, &w, 0);
	if (s.nfound == 0) {
		/* not through a symbol (inlined everywhere, or no such name):
		 * every DIE, for a true answer and close names */
		s.by_symbols = false;
		w.main_has_lines = w.main_stripped = false;
		/* the first error stays: libdw says it only once */
		dwfl_getmodules(di->dwfl, visit_module, &w, 0);
	}
	if (s.nfound == 0 && s.nabstracts > 0) {
		/* inlined everywhere: profiled through its inlined copies */
		s.copies = true;
		dwfl_getmodules(di->dwfl, visit_module, &w, 0);
	}

	enum debuginfo_result res = DI_FOUND;
	*msg = NULL;
	if (s.nfound > 0) {
		res = DI_FOUND;
	} else if (s.inline_only) {
		res = DI_INLINED;
		/* in a library: it is named */
		if (s.inline_mod && !is_main_module(di, s.inline_mod))
			*msg = xstrdup(dwfl_module_info(s.inline_mod, NULL,
							NULL, NULL, NULL, NULL,
							NULL, NULL));
	} else if (s.module && w.lib_without_dwarf && !w.lib_with_dwarf) {
		res = DI_LIB_NODWARF;
		*msg = xstrdup(w.lib_without_dwarf);
	} else if (!s.module && w.defined_without_dwarf) {
		/* it is there, in a library without debug information */
		res = DI_LIB_NODWARF;
		*msg = xstrdup(w.defined_without_dwarf);
	} else if (w.main_error && !s.module) {
		res = DI_BAD_DWARF;
		*msg = w.main_error;
		w.main_error = NULL;
	} else if (!w.main_has_lines && !s.module && exe_gone(di)) {
		/* what is in its place is not what runs: never read */
		res = DI_EXE_GONE;
	} else if (!w.main_has_lines && !s.module) {
		res = DI_NO_LINES;
		if (w.main_stripped)
			*msg = xstrdup(
				" (it is stripped, and no separate debug "
				"file was found through its "
				".gnu_debuglink or build-id)");
	} else {
		res = DI_NO_FUNCTION;
		*msg = suggest_list(s.suggest, 5);
	}
	if (res != DI_FOUND) {
		for (size_t i = 0; i < s.nfound; i++)
			func_info_free(s.found[i]);
		free(s.found);
		s.found = NULL;
		s.nfound = 0;
	}
	*funcs = s.found;
	*n = s.nfound;
	free(w.main_error);
	for (size_t i = 0; i < s.nabstracts; i++)
		free(s.abstracts[i].display);
	free(s.abstracts);
	suggest_free(s.suggest);
	free(s.base);
	free(file);
	free(name);
	return res;
}

/* Lists the functions with code and a source line in the DWARF of a
 * program and of the libraries it is linked with, as --func names them. */
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "functions.h"
#include "names.h"
#include "target.h"
#include "util.h"

struct fn {
	char *name;   /* as --func takes it (C++: demangled) */
	char *file;   /* the source file, absolute when known */
	int line;     /* the header line */
	char *module; /* the program's or the library's file name */
	int order;    /* the module's place: the program first */
};

struct listing {
	const char *pattern;
	struct fn *fns;
	size_t n, cap;
	const char *module;
	int order;
	Dwarf_Die *cu;
};

static char *debuginfo_path;

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* PATTERN with a wildcard is a glob; otherwise a part of the name. */
static bool matches(const char *pattern, const char *name)
{
	if (!pattern)
		return true;
	if (strpbrk(pattern, "*?["))
		return fnmatch(pattern, name, 0) == 0;
	return strstr(name, pattern) != NULL;
}

static char *source_of(Dwarf_Die *cu, Dwarf_Die *die)
{
	const char *file = dwarf_decl_file(die);
	Dwarf_Attribute attr;
	const char *dir;

	if (!file)
		return NULL;
	if (file[0] == '/')
		return xstrdup(file);
	dir = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr));
	return dir ? xasprintf("%s/%s", dir, file) : xstrdup(file);
}

static int visit(Dwarf_Die *die, void *arg)
{
	struct listing *l = arg;
	Dwarf_Attribute attr;
	const char *plain, *linkage;
	char *name, *demangled = NULL;
	int line = 0;

	if (dwarf_hasattr(die, DW_AT_declaration) ||
	    (!dwarf_hasattr(die, DW_AT_low_pc) &&
	     !dwarf_hasattr(die, DW_AT_ranges)))
		return DWARF_CB_OK;
	plain = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
	if (!plain || dwarf_decl_line(die, &line) != 0 || line <= 0)
		return DWARF_CB_OK;
	linkage = dwarf_formstring(
		dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	if (linkage)
		demangled = names_demangle(linkage);
	name = demangled ? demangled : xstrdup(plain);
	if (!matches(l->pattern, name)) {
		free(name);
		return DWARF_CB_OK;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->fns = xrealloc(l->fns, l->cap * sizeof(*l->fns));
	}
	l->fns[l->n++] = (struct fn){
		.name = name,
		.file = source_of(l->cu, die),
		.line = line,
		.module = xstrdup(l->module),
		.order = l->order,
	};
	return DWARF_CB_OK;
}

/* The functions of the ELF file PATH; false when it has no DWARF. */
static bool list_module(struct listing *l, const char *path)
{
	Dwfl *dwfl = dwfl_begin(&offline_callbacks);
	Dwfl_Module *mod;
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;
	bool any = false;

	if (!dwfl)
		return false;
	mod = dwfl_report_offline(dwfl, base_of(path), path, -1);
	dwfl_report_end(dwfl, NULL, NULL);
	l->module = base_of(path);
	while (mod && (cu = dwfl_module_nextcu(mod, cu, &bias))) {
		any = true;
		l->cu = cu;
		dwarf_getfuncs(cu, visit, l, 0);
	}
	dwfl_end(dwfl);
	return any;
}

/* The DT_NEEDED libraries of PATH and where to look for them (RPATH or
 * RUNPATH, with $ORIGIN), as new strings. */
static size_t needed_of(const char *path, char ***names, char **search)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t n = 0;

	*names = NULL;
	*search = NULL;
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0;
		     sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			const char *s;

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH &&
			    dyn.d_tag != DT_RPATH)
				continue;
			s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag != DT_NEEDED) {
				free(*search);
				*search = xstrdup(s);
				continue;
			}
			*names = xrealloc(*names, (n + 1) * sizeof(**names));
			(*names)[n++] = xstrdup(s);
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return n;
}

/* Where the dynamic loader would find library NAME for PROGRAM, mostly:
 * its RPATH/RUNPATH and LD_LIBRARY_PATH, then, with SYSTEM, the usual
 * directories. */
static char *find_library(const char *name, const char *search,
			  const char *program, bool system)
{
	static const char *const usual =
		"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:"
		"/usr/lib64:/lib:/usr/lib:/usr/local/lib";
	const char *env = getenv("LD_LIBRARY_PATH");
	char *origin = xstrdup(program), *slash = strrchr(origin, '/');
	char *dirs = xasprintf("%s:%s:%s", search ? search : "", env ? env : "",
			       system ? usual : "");
	char *save = NULL, *found = NULL;

	if (slash)
		*slash = '\0';
	else
		strcpy(origin, ".");
	for (char *d = strtok_r(dirs, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *path;

		if (strncmp(d, "$ORIGIN", 7) == 0)
			path = xasprintf("%s%s/%s", origin, d + 7, name);
		else if (strncmp(d, "${ORIGIN}", 9) == 0)
			path = xasprintf("%s%s/%s", origin, d + 9, name);
		else
			path = xasprintf("%s/%s", d, name);
		if (access(path, R_OK) == 0)
			found = path;
		else
			free(path);
	}
	free(origin);
	free(dirs);
	return found;
}

static int by_module_then_name(const void *pa, const void *pb)
{
	const struct fn *a = pa, *b = pb;
	int c;

	if (a->order != b->order)
		return a->order - b->order;
	c = strcmp(a->name, b->name);
	if (c)
		return c;
	c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	return c ? c : a->line - b->line;
}

/* A function of a header (or a file included twice) is in each unit
 * that includes it: one row is enough. L is sorted. */
static void drop_copies(struct listing *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct fn *f = &l->fns[i],
			  *prev = kept ? &l->fns[kept - 1] : NULL;

		if (prev && prev->order == f->order &&
		    strcmp(prev->name, f->name) == 0 && prev->line == f->line &&
		    strcmp(prev->file ? prev->file : "",
			   f->file ? f->file : "") == 0) {
			free(f->name);
			free(f->file);
			free(f->module);
			continue;
		}
		l->fns[kept++] = *f;
	}
	l->n = kept;
}

/* Whether another function of the same module has FN's name: then
 * FILE.c:NAME tells them apart. */
static bool name_shared(const struct listing *l, size_t i)
{
	const struct fn *f = &l->fns[i];

	return (i > 0 && l->fns[i - 1].order == f->order &&
		strcmp(l->fns[i - 1].name, f->name) == 0) ||
	       (i + 1 < l->n && l->fns[i + 1].order == f->order &&
		strcmp(l->fns[i + 1].name, f->name) == 0);
}

static void print_listing(const struct listing *l)
{
	int width = (int)strlen("FUNCTION");
	char **specs = xcalloc(l->n + 1, sizeof(*specs));

	for (size_t i = 0; i < l->n; i++) {
		const struct fn *f = &l->fns[i];

		specs[i] =
			name_shared(l, i) && f->file
				? xasprintf("%s:%s", base_of(f->file), f->name)
				: xstrdup(f->name);
		if ((int)strlen(specs[i]) > width)
			width = (int)strlen(specs[i]);
	}
	printf("%-*s  %-16s  %s\n", width, "FUNCTION", "IN", "SOURCE");
	for (size_t i = 0; i < l->n; i++) {
		const struct fn *f = &l->fns[i];

		printf("%-*s  %-16s  %s:%d\n", width, specs[i], f->module,
		       f->file ? f->file : "?", f->line);
		free(specs[i]);
	}
	free(specs);
}

static void __attribute__((noreturn)) print_functions_help(void)
{
	puts("usage: memprof functions [-a] PROGRAM [PATTERN]\n\n"
	     "Lists the functions of PROGRAM, and of the libraries it is "
	     "linked with,\nthat --func can profile: each as --func names "
	     "it (FILE.c:NAME when\nseveral files have one of that name), the "
	     "program or library it is in,\nand its source file and line. "
	     "PATTERN keeps the names that contain it,\nor, with * ? or [, "
	     "that match it as a glob. The program is not run.\n\n"
	     "  -a, --all    the system's libraries too (those with debug "
	     "information)\n"
	     "  -h, --help   show this help");
	exit(0);
}

int functions_main(int argc, char **argv)
{
	struct listing l = {0};
	char *program, **needed, *search;
	const char *pattern = NULL;
	size_t nneeded;
	int nargs = 0, ret = 0;
	bool all = false;
	char *args[2] = {NULL, NULL};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			print_functions_help();
		if (strcmp(argv[i], "-a") == 0 ||
		    strcmp(argv[i], "--all") == 0) {
			all = true;
			continue;
		}
		if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
			for (i++; i < argc; i++) {
				if (nargs == 2)
					cli_sub_error("functions",
						      "too many arguments");
				args[nargs++] = argv[i];
			}
			break;
		}
		if (argv[i][0] == '-' && argv[i][1])
			cli_sub_error("functions", "unknown option %.*s",
				      (int)strcspn(argv[i], "="), argv[i]);
		if (nargs == 2)
			cli_sub_error("functions", "too many arguments");
		args[nargs++] = argv[i];
	}
	if (nargs == 0)
		cli_sub_error("functions", "no program given");
	pattern = args[1];
	program = target_find_program(args[0]);
	if (!program && errno == EACCES)
		die(126, "%s: not executable (permission denied)", args[0]);
	if (!program)
		die(127, "%s: program not found", args[0]);
	l.pattern = pattern;
	if (!list_module(&l, program)) {
		warn_msg("%s: no DWARF debug information; rebuild it with -g "
			 "or install its debug symbols",
			 args[0]);
		ret = EXIT_PROGRAM;
	}
	nneeded = ret ? 0 : needed_of(program, &needed, &search);
	for (size_t i = 0; i < nneeded; i++) {
		char *lib =
			strchr(needed[i], '/')
				? xstrdup(needed[i])
				: find_library(needed[i], search, program, all);

		l.order = (int)i + 1;
		if (lib)
			list_module(&l, lib);
		free(lib);
		free(needed[i]);
	}
	if (!ret) {
		free(needed);
		free(search);
	}
	if (l.n)
		qsort(l.fns, l.n, sizeof(*l.fns), by_module_then_name);
	drop_copies(&l);
	if (!ret && l.n == 0) {
		warn_msg("no function in %s%s%s%s", args[0],
			 pattern ? " matches '" : "", pattern ? pattern : "",
			 pattern ? "'" : "");
		ret = EXIT_PROGRAM;
	} else if (!ret) {
		print_listing(&l);
	}
	for (size_t i = 0; i < l.n; i++) {
		free(l.fns[i].name);
		free(l.fns[i].file);
		free(l.fns[i].module);
	}
	free(l.fns);
	free(program);
	return ret;
}

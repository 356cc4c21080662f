/* Plotting with cairo. Everything is drawn through one cairo context;
 * for SVG the labels are also written as text elements (cairo draws
 * text as glyph outlines), so that they can be searched and read aloud. */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "mprof.h"
#include "plot.h"
#include "util.h"

#define WIDTH 1000.0
#define HEIGHT 600.0
#define LEFT 80.0
#define RIGHT 30.0
#define TOP 50.0
#define BOTTOM 60.0

struct plot_options {
	const char *output;
	const char *title;
	bool window;
	double from, to; /* --window, seconds */
	bool flame, slope;
	bool no_calls; /* -n: no brackets */
};

/* A label drawn, kept for the text layer of an SVG. */
struct label {
	double x, y, size;
	char *text;
};

struct canvas {
	cairo_t *cr;
	double t0, t1, m0, m1; /* the axes' ranges */
	struct label *labels;
	size_t nlabels;
};

static const double palette[][3] = {
	{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17},
	{0.84, 0.15, 0.16}, {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29},
	{0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
};
#define NCOLORS (sizeof(palette) / sizeof(palette[0]))

static void set_color(cairo_t *cr, size_t i, double alpha)
{
	const double *c = palette[i % NCOLORS];

	cairo_set_source_rgba(cr, c[0], c[1], c[2], alpha);
}

static double x_of(const struct canvas *c, double t)
{
	return LEFT + (t - c->t0) / (c->t1 - c->t0) * (WIDTH - LEFT - RIGHT);
}

static double y_of(const struct canvas *c, double m)
{
	return HEIGHT - BOTTOM -
	       (m - c->m0) / (c->m1 - c->m0) * (HEIGHT - TOP - BOTTOM);
}

/* Text at (X, Y); ALIGN 0 left, 0.5 centred, 1 right. */
static void text(struct canvas *c, double x, double y, double size,
		 double align, const char *s)
{
	cairo_text_extents_t ext;

	cairo_set_font_size(c->cr, size);
	cairo_text_extents(c->cr, s, &ext);
	cairo_move_to(c->cr, x - align * ext.x_advance, y);
	cairo_show_text(c->cr, s);
	c->labels = xrealloc(c->labels, (c->nlabels + 1) * sizeof(*c->labels));
	c->labels[c->nlabels++] =
		(struct label){x - align * ext.x_advance, y, size, xstrdup(s)};
}

/* A step of 1, 2 or 5 times a power of ten, giving about N ticks. */
static double nice_step(double span, int n)
{
	double raw = span / n, mag = pow(10, floor(log10(raw)));
	double f = raw / mag;

	return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void axes(struct canvas *c, const char *title)
{
	cairo_t *cr = c->cr;
	char buf[64];
	double step;

	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			       CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_line_width(cr, 1);
	/* grid and ticks */
	step = nice_step(c->t1 - c->t0, 10);
	for (double t = ceil(c->t0 / step) * step; t <= c->t1 + 1e-9;
	     t += step) {
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, x_of(c, t), TOP);
		cairo_line_to(cr, x_of(c, t), HEIGHT - BOTTOM);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		snprintf(buf, sizeof(buf), "%g", t);
		text(c, x_of(c, t), HEIGHT - BOTTOM + 16, 11, 0.5, buf);
	}
	step = nice_step(c->m1 - c->m0, 8);
	for (double m = ceil(c->m0 / step) * step; m <= c->m1 + 1e-9;
	     m += step) {
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, LEFT, y_of(c, m));
		cairo_line_to(cr, WIDTH - RIGHT, y_of(c, m));
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		snprintf(buf, sizeof(buf), "%g", m);
		text(c, LEFT - 6, y_of(c, m) + 4, 11, 1, buf);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	cairo_rectangle(cr, LEFT, TOP, WIDTH - LEFT - RIGHT,
			HEIGHT - TOP - BOTTOM);
	cairo_stroke(cr);
	text(c, (LEFT + WIDTH - RIGHT) / 2, HEIGHT - 18, 13, 0.5,
	     "Time (in seconds)");
	cairo_save(cr);
	cairo_translate(cr, 22, (TOP + HEIGHT - BOTTOM) / 2);
	cairo_rotate(cr, -M_PI / 2);
	{
		/* the label layer gets it unrotated: its text is what counts */
		cairo_text_extents_t ext;
		const char *ylabel = "Memory used (in MiB)";

		cairo_set_font_size(cr, 13);
		cairo_text_extents(cr, ylabel, &ext);
		cairo_move_to(cr, -ext.x_advance / 2, 0);
		cairo_show_text(cr, ylabel);
		c->labels = xrealloc(c->labels,
				     (c->nlabels + 1) * sizeof(*c->labels));
		c->labels[c->nlabels++] = (struct label){
			4, (TOP + HEIGHT - BOTTOM) / 2, 13, xstrdup(ylabel)};
	}
	cairo_restore(cr);
	text(c, WIDTH / 2, 30, 16, 0.5, title);
}

static void polyline(struct canvas *c, const struct mprof_sample *v, size_t n,
		     double t0, size_t color, double width, bool dashed)
{
	cairo_t *cr = c->cr;
	static const double dash[] = {6, 4};

	if (n == 0)
		return;
	set_color(cr, color, 1);
	cairo_set_line_width(cr, width);
	cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
	for (size_t i = 0; i < n; i++) {
		double x = x_of(c, v[i].time - t0), y = y_of(c, v[i].mib);
		if (i == 0)
			cairo_move_to(cr, x, y);
		else
			cairo_line_to(cr, x, y);
	}
	cairo_stroke(cr);
	cairo_set_dash(cr, dash, 0, 0);
}

/* A label for one call, or for a run of calls of one function too close
 * to label one by one. */
struct call_label {
	const char *name;
	double x, y, right; /* where it goes; its right edge */
	size_t count;
	double seconds; /* the calls' time, together */
};

static int by_start(const void *pa, const void *pb)
{
	const struct mprof_call *a = *(const struct mprof_call *const *)pa;
	const struct mprof_call *b = *(const struct mprof_call *const *)pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->level - b->level;
}

/* Lanes: a call that overlaps another of the same level in time ran in
 * another thread (the file does not say which); each gets a lane of its
 * own, the first free one. LANE[i] is for SORTED[i]. */
static void assign_lanes(const struct mprof_call **sorted, size_t n, int *lane)
{
	for (size_t i = 0; i < n; i++) {
		lane[i] = 0;
		for (bool busy = true; busy;) {
			busy = false;
			for (size_t j = 0; j < i && !busy; j++)
				busy = lane[j] == lane[i] &&
				       sorted[j]->level == sorted[i]->level &&
				       sorted[j]->end > sorted[i]->start;
			if (busy)
				lane[i]++;
		}
	}
}

static double text_width(struct canvas *c, double size, const char *s)
{
	cairo_text_extents_t ext;

	cairo_set_font_size(c->cr, size);
	cairo_text_extents(c->cr, s, &ext);
	return ext.x_advance;
}

static void label_text(char *buf, size_t size, const struct call_label *l)
{
	if (l->count == 1)
		snprintf(buf, size, "%s %.3fs", l->name, l->seconds);
	else
		snprintf(buf, size, "%s \u00d7%zu %.3fs", l->name, l->count,
			 l->seconds);
}

/* Each call as a bracket from its start to its end at its memory, its
 * function and duration above it (as mprof's legend: "f 0.325s"); calls
 * too close to be labelled one by one share one label ("f x12 0.480s":
 * how many, their time together); with --flame, stacked bars by level. */
static void calls(struct canvas *c, const struct mprof_data *d, double t0,
		  const struct plot_options *o)
{
	cairo_t *cr = c->cr;
	const struct mprof_call **sorted;
	struct call_label *labels;
	size_t nlabels = 0;
	int *lane;
	char buf[512];

	if (d->ncalls == 0)
		return;
	sorted = xcalloc(d->ncalls, sizeof(*sorted));
	lane = xcalloc(d->ncalls, sizeof(*lane));
	labels = xcalloc(d->ncalls, sizeof(*labels));
	for (size_t i = 0; i < d->ncalls; i++)
		sorted[i] = &d->calls[i];
	qsort(sorted, d->ncalls, sizeof(*sorted), by_start);
	assign_lanes(sorted, d->ncalls, lane);
	for (size_t i = 0; i < d->ncalls; i++) {
		const struct mprof_call *k = sorted[i];
		double x0 = x_of(c, k->start - t0), x1 = x_of(c, k->end - t0);
		size_t color = 2 + (size_t)k->level;
		int row = k->level + lane[i];
		double lx, ly;

		if (x1 - x0 < 2)
			x1 = x0 + 2;
		if (o->flame) {
			double h = 14, y = HEIGHT - BOTTOM - (row + 1) * h;
			set_color(cr, color, 0.35);
			cairo_rectangle(cr, x0, y, x1 - x0, h - 1);
			cairo_fill(cr);
			lx = x0 + 2;
			ly = y + 10;
		} else {
			double ylo = y_of(c, fmin(k->start_mib, k->end_mib));
			double yhi = y_of(c, fmax(k->start_mib, k->end_mib)) -
				     6 - 14 * lane[i];
			set_color(cr, color, 0.9);
			cairo_set_line_width(cr, 1.5);
			cairo_move_to(cr, x0, ylo);
			cairo_line_to(cr, x0, yhi);
			cairo_line_to(cr, x1, yhi);
			cairo_line_to(cr, x1, y_of(c, k->end_mib));
			cairo_stroke(cr);
			lx = x0 + 2;
			ly = yhi - 3;
		}
		/* the row's last label, if this one would overlap it: the
		 * same function's counts one more call; another's goes
		 * without a label */
		struct call_label *last = NULL;
		for (size_t j = nlabels; j-- > 0 && !last;) {
			if (fabs(labels[j].y - ly) < 12)
				last = &labels[j];
		}
		if (last && lx < last->right + 4) {
			if (strcmp(last->name, k->name) != 0)
				continue;
			last->count++;
			last->seconds += k->end - k->start;
			label_text(buf, sizeof(buf), last);
			last->right =
				last->x + text_width(c, o->flame ? 9 : 10, buf);
			continue;
		}
		labels[nlabels] = (struct call_label){
			k->name, lx, ly, 0, 1, k->end - k->start};
		label_text(buf, sizeof(buf), &labels[nlabels]);
		labels[nlabels].right =
			lx + text_width(c, o->flame ? 9 : 10, buf);
		nlabels++;
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	for (size_t i = 0; i < nlabels; i++) {
		label_text(buf, sizeof(buf), &labels[i]);
		text(c, labels[i].x, labels[i].y, o->flame ? 9 : 10, 0, buf);
	}
	free(labels);
	free(lane);
	free(sorted);
}

/* The trend as mprof fits it (numpy's polyfit of degree 1 over the MEM
 * samples and each call's two ends), drawn across the plot; its slope in
 * MiB/s. */
static double slope(struct canvas *c, const struct mprof_data *d, double t0,
		    size_t color)
{
	double a, b;

	if (!mprof_trend(d, &a, &b))
		return 0;
	/* mprof_trend's time is from the file's first time; ours, T0 */
	b += a * (mprof_first_time(d) - t0);
	set_color(c->cr, color, 0.6);
	cairo_set_line_width(c->cr, 1);
	cairo_move_to(c->cr, x_of(c, c->t0), y_of(c, b + a * c->t0));
	cairo_line_to(c->cr, x_of(c, c->t1), y_of(c, b + a * c->t1));
	cairo_stroke(c->cr);
	return a;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static void draw(struct canvas *c, struct mprof_data **files, size_t nfiles,
		 const struct plot_options *o)
{
	cairo_t *cr = c->cr;
	double legend_y = TOP + 16;
	char buf[512];

	axes(c, o->title);
	for (size_t f = 0; f < nfiles; f++) {
		const struct mprof_data *d = files[f];
		double t0 = d->mem[0].time, peak, when;
		size_t color = f * 3;

		for (size_t k = 0; k < d->nchildren; k++)
			polyline(c, d->children[k].samples, d->children[k].n,
				 t0, color + 1 + k, 1, true);
		polyline(c, d->mem, d->nmem, t0, color, 2, false);
		if (!o->no_calls)
			calls(c, d, t0, o);
		/* the peak: a dashed line and a mark */
		mprof_peak(d, &peak, &when);
		set_color(cr, color, 0.8);
		cairo_set_line_width(cr, 1);
		{
			static const double dash[] = {3, 3};
			cairo_set_dash(cr, dash, 2, 0);
			cairo_move_to(cr, LEFT, y_of(c, peak));
			cairo_line_to(cr, WIDTH - RIGHT, y_of(c, peak));
			cairo_stroke(cr);
			cairo_set_dash(cr, dash, 0, 0);
		}
		cairo_arc(cr, x_of(c, when - t0), y_of(c, peak), 4, 0,
			  2 * M_PI);
		cairo_fill(cr);
		snprintf(buf, sizeof(buf), "peak %.1f MiB", peak);
		/* left of the mark when it is near the right edge */
		bool right = x_of(c, when - t0) > WIDTH - RIGHT - 120;
		text(c, x_of(c, when - t0) + (right ? -6 : 6),
		     y_of(c, peak) - 6, 10, right ? 1 : 0, buf);
		/* the legend */
		double rate = o->slope ? slope(c, d, t0, color) : 0;
		if (o->slope)
			snprintf(buf, sizeof(buf), "%s slope %.5f MiB/s",
				 base_name(d->path), rate);
		else
			snprintf(buf, sizeof(buf), "%s", base_name(d->path));
		set_color(cr, color, 1);
		cairo_rectangle(cr, WIDTH - RIGHT - 260, legend_y - 9, 18, 4);
		cairo_fill(cr);
		cairo_set_source_rgb(cr, 0, 0, 0);
		text(c, WIDTH - RIGHT - 236, legend_y - 4, 11, 0, buf);
		legend_y += 16;
		for (size_t k = 0; k < d->nchildren; k++) {
			/* as the child's line: dashed, thin */
			static const double dash[] = {6, 4};
			set_color(cr, color + 1 + k, 1);
			cairo_set_line_width(cr, 1);
			cairo_set_dash(cr, dash, 2, 0);
			cairo_move_to(cr, WIDTH - RIGHT - 260, legend_y - 8);
			cairo_line_to(cr, WIDTH - RIGHT - 236 - 4,
				      legend_y - 8);
			cairo_stroke(cr);
			cairo_set_dash(cr, dash, 0, 0);
			cairo_set_source_rgb(cr, 0, 0, 0);
			snprintf(buf, sizeof(buf), "child %s",
				 d->children[k].name);
			text(c, WIDTH - RIGHT - 236, legend_y - 4, 11, 0, buf);
			legend_y += 16;
		}
	}
}

/* The axes' ranges over every file (times from each file's start). */
static void ranges(struct canvas *c, struct mprof_data **files, size_t n,
		   const struct plot_options *o)
{
	c->t0 = 0;
	c->t1 = 0;
	c->m0 = 0;
	c->m1 = 0;
	for (size_t f = 0; f < n; f++) {
		const struct mprof_data *d = files[f];
		double t0 = d->mem[0].time;

		for (size_t i = 0; i < d->nmem; i++) {
			c->t1 = fmax(c->t1, d->mem[i].time - t0);
			c->m1 = fmax(c->m1, d->mem[i].mib);
		}
		for (size_t k = 0; k < d->nchildren; k++) {
			for (size_t i = 0; i < d->children[k].n; i++)
				c->m1 = fmax(c->m1,
					     d->children[k].samples[i].mib);
		}
		for (size_t i = 0; i < d->ncalls; i++) {
			c->t1 = fmax(c->t1, d->calls[i].end - t0);
			c->m1 = fmax(c->m1, fmax(d->calls[i].start_mib,
						 d->calls[i].end_mib));
		}
	}
	if (o->window) {
		c->t0 = o->from;
		c->t1 = o->to;
	}
	if (c->t1 <= c->t0)
		c->t1 = c->t0 + 1;
	c->m1 = c->m1 > 0 ? c->m1 * 1.15 : 1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcasecmp(s + ls - lx, suffix) == 0;
}

/* Whether cairo here can write PATH, by its extension. */
static bool writable_format(const char *path)
{
	return ends_with(path, ".png") || ends_with(path, ".svg") ||
	       ends_with(path, ".pdf");
}

static void xml_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else if (*s == '&')
			fputs("&amp;", out);
		else if (*s == '"')
			fputs("&quot;", out);
		else
			fputc(*s, out);
	}
}

/* SVG: after cairo's drawing, a layer of the same labels as text (with
 * no paint of their own) and the title, before the closing tag. */
static int add_text_layer(const char *path, const struct canvas *c,
			  const char *title)
{
	FILE *f = fopen(path, "r+e");
	long end;
	char tail[16];

	if (!f)
		return -1;
	if (fseek(f, -7, SEEK_END) != 0 || !fgets(tail, sizeof(tail), f) ||
	    strncmp(tail, "</svg>", 6) != 0) {
		fclose(f);
		return -1;
	}
	end = ftell(f) - (long)strlen(tail);
	fseek(f, end, SEEK_SET);
	fputs("<title>", f);
	xml_escaped(f, title);
	fputs("</title>\n<g fill-opacity=\"0\" font-family=\"sans-serif\">\n",
	      f);
	for (size_t i = 0; i < c->nlabels; i++) {
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\">",
			c->labels[i].x, c->labels[i].y, c->labels[i].size);
		xml_escaped(f, c->labels[i].text);
		fputs("</text>\n", f);
	}
	fputs("</g>\n</svg>\n", f);
	return fclose(f);
}

static int render(const char *path, struct mprof_data **files, size_t n,
		  const struct plot_options *o)
{
	struct canvas c = {0};
	cairo_surface_t *surface;
	cairo_status_t st;
	bool svg = ends_with(path, ".svg"), pdf = ends_with(path, ".pdf");

	if (svg)
		surface = cairo_svg_surface_create(path, WIDTH, HEIGHT);
	else if (pdf)
		surface = cairo_pdf_surface_create(path, WIDTH, HEIGHT);
	else
		surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32,
						     (int)WIDTH, (int)HEIGHT);
	c.cr = cairo_create(surface);
	ranges(&c, files, n, o);
	draw(&c, files, n, o);
	cairo_destroy(c.cr);
	if (!svg && !pdf)
		st = cairo_surface_write_to_png(surface, path);
	else
		st = cairo_surface_status(surface);
	cairo_surface_finish(surface);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	/* its caches, so that leak checkers see only real leaks */
	cairo_debug_reset_static_data();
	if (st == CAIRO_STATUS_SUCCESS && svg &&
	    add_text_layer(path, &c, o->title) != 0)
		st = CAIRO_STATUS_WRITE_ERROR;
	for (size_t i = 0; i < c.nlabels; i++)
		free(c.labels[i].text);
	free(c.labels);
	if (st != CAIRO_STATUS_SUCCESS) {
		warn_msg("cannot write %s: %s", path,
			 st == CAIRO_STATUS_WRITE_ERROR
				 ? strerror(errno ? errno : EIO)
				 : cairo_status_to_string(st));
		return -1;
	}
	return 0;
}

static const char plot_usage[] =
	"usage: memprof plot [FILE.dat ...] [-o OUT.png|OUT.svg|OUT.pdf] "
	"[--title T] [--window A,B] [--flame] [--slope] [-n]";

static void __attribute__((noreturn)) plot_usage_error(const char *what)
{
	cli_sub_error("plot", "%s", what);
}

static void __attribute__((noreturn)) print_plot_help(void)
{
	printf("%s\n\n", plot_usage);
	puts("Plots memory over time from .dat files (the newest here by "
	     "default), each\ncall of a --func function as a labelled "
	     "bracket, the peak marked.\n\n"
	     "  -o, --output OUT     the image: .png, .svg or .pdf (default: "
	     "the first\n"
	     "                       file's name with .png)\n"
	     "  -t, --title T        the title (default: the command "
	     "recorded)\n"
	     "  -w, --window A,B     only the seconds A to B from the "
	     "start\n"
	     "  -f, --flame          each call as a block, nested calls "
	     "stacked\n"
	     "  -s, --slope          a straight line fitted to the memory, "
	     "its slope in\n"
	     "                       MiB/s in the legend (as mprof fits it)\n"
	     "  -n, --no-function-ts no brackets for the calls\n"
	     "  -h, --help           show this help");
	exit(0);
}

int plot_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"title", required_argument, NULL, 't'},
		{"window", required_argument, NULL, 'w'},
		{"flame", no_argument, NULL, 'f'},
		{"slope", no_argument, NULL, 's'},
		{"no-function-ts", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct plot_options o = {0};
	struct mprof_data **files;
	char **names = NULL, *output = NULL, *title = NULL;
	size_t nfiles = 0, nnames = 0;
	int c, ret = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:t:w:fsnh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 't':
			o.title = optarg;
			break;
		case 'w':
			if (sscanf(optarg, "%lf,%lf", &o.from, &o.to) != 2 ||
			    !(o.to > o.from))
				plot_usage_error("bad window: give A,B in "
						 "seconds, A below B");
			o.window = true;
			break;
		case 'f':
			o.flame = true;
			break;
		case 's':
			o.slope = true;
			break;
		case 'n':
			o.no_calls = true;
			break;
		case 'h':
			print_plot_help();
		default:
			cli_sub_bad_option("plot", c, argv, longopts);
		}
	}
	if (o.output && !writable_format(o.output))
		cli_sub_error("plot",
			      "cannot write '%s': give OUT.png, OUT.svg or "
			      "OUT.pdf",
			      o.output);
	if (optind == argc) {
		nnames = mprof_list(&names);
		if (nnames == 0)
			die(EXIT_USAGE, "no .dat file here: give one, or make "
					"one with 'memprof run'");
		argv = &names[nnames - 1];
		argc = 1;
		optind = 0;
	}
	files = xcalloc((size_t)(argc - optind), sizeof(*files));
	for (int i = optind; i < argc; i++) {
		char *err = NULL;

		files[nfiles] = mprof_read(argv[i], &err);
		if (!files[nfiles]) {
			warn_msg("%s", err);
			free(err);
			ret = EXIT_PROGRAM;
			break;
		}
		nfiles++;
	}
	if (ret == 0) {
		if (!o.output) {
			const char *first = files[0]->path;
			size_t len = strlen(first);
			output = ends_with(first, ".dat")
					 ? xasprintf("%.*s.png", (int)(len - 4),
						     first)
					 : xasprintf("%s.png", first);
			o.output = output;
		}
		if (!o.title)
			o.title = title =
				xstrdup(files[0]->cmdline && *files[0]->cmdline
						? files[0]->cmdline
						: base_name(files[0]->path));
		if (render(o.output, files, nfiles, &o) < 0)
			ret = EXIT_INTERNAL;
		else
			printf("wrote %s\n", o.output);
	}
	for (size_t i = 0; i < nfiles; i++)
		mprof_free(files[i]);
	free(files);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(output);
	free(title);
	return ret;
}

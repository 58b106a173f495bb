/*
 * cmd_report.c - `casesync report`: statistics over the cases this node
 * holds (see node/report.h and docs/REPORTS.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dupes.h"
#include "i18n.h"
#include "report.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/outfile.h"
#include "../common/util.h"

#define MIN_CELL_MAX	1000000
#define PUBLIC_MIN_CELL	5

static const char usage_text[] =
"usage: casesync report -d DIR [--year Y | --from DATE --to DATE]\n"
"                       [--province ID] [--format text|csv|json|html]\n"
"                       [--out FILE] [--min-cell K] [--public]\n"
"                       [--lang en|vi]\n"
"\n"
"Counts the cases received in the period (by intake.received_on; dates\n"
"YYYY-MM-DD, both ends included; --from or --to alone leaves the other\n"
"end open) by province, category, sex, age band, purpose, destination,\n"
"intake source and status; support to identified victims; services by\n"
"type; referrals; sex x age band and purpose x sex.  Without a period\n"
"every case counts, including those without a reception date.\n"
"--province ID keeps the cases that province owns.  --min-cell K shows\n"
"counts from 1 to K-1 as <K and withholds (x) whatever would let them\n"
"be worked out; --public is --min-cell 5 (at least).  --out writes FILE\n"
"(replaced whole, or not at all; mode 0600; a symbolic link is refused)\n"
"instead of stdout.  --lang vi writes titles, labels, dates and numbers\n"
"in Vietnamese (default en); CSV keys and JSON keys are the same in both.\n"
"Names, documents, phones, addresses and notes are never read.  See\n"
"docs/REPORTS.md.\n";

static int
add_one(const struct case_state *s, void *arg)
{
	return report_add(arg, s);
}

/* Today (UTC) as YYYY-MM-DD, or the day of $SOURCE_DATE_EPOCH so that a
 * report can be made again byte for byte. */
static void
today(char *out, size_t sz)
{
	const char	*sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t	 secs;
	time_t		 t = time(NULL);
	struct tm	 tm;

	if (sde != NULL && parse_u64(sde, 0, 4102444800ULL, &secs) == 0)
		t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, sz, "%Y-%m-%d", &tm) == 0)
		strlcpy_(out, "unknown", sz);
}

/* Writes data to path whole or not at all, mode 0600, never through a
 * link (common/outfile.h). */
static int
write_out(const char *path, const void *data, size_t len)
{
	struct outfile	of;
	char		err[512];
	int		rc;

	if ((rc = outfile_open(&of, path, err, sizeof(err))) == 0) {
		if ((rc = outfile_write(&of, data, len)) != 0) {
			snprintf(err, sizeof(err), "%s: %s", path,
			    strerror(errno));
			outfile_abort(&of);
		} else
			rc = outfile_commit(&of, err, sizeof(err));
	}
	if (rc != 0)
		cli_error("report: %s", err);
	return rc;
}

struct report_args {
	const char	*dir, *year, *from, *to, *province, *format, *out;
	const char	*min_cell, *lang;
	int		 public;
};

/* Checks the command line into *o and *f.  Prints one line and returns
 * non-zero on the first error. */
static int
check_args(const struct report_args *a, struct report_opts *o,
    enum report_format *f)
{
	uint64_t	v;

	memset(o, 0, sizeof(*o));
	o->min_cell = 1;
	if (a->year != NULL) {
		if (a->from != NULL || a->to != NULL) {
			cli_error("report: give --year or --from/--to, not "
			    "both");
			return E_INVAL;
		}
		if (parse_u64(a->year, 1900, 2100, &v) != 0) {
			cli_error("report: --year '%s' is not a year from "
			    "1900 to 2100", a->year);
			return E_INVAL;
		}
		snprintf(o->from, sizeof(o->from), "%04u-01-01",
		    (unsigned)v);
		snprintf(o->to, sizeof(o->to), "%04u-12-31", (unsigned)v);
	}
	if (a->from != NULL && report_parse_date(a->from, o->from) != 0) {
		cli_error("report: --from '%s' is not a date (YYYY-MM-DD)",
		    a->from);
		return E_INVAL;
	}
	if (a->to != NULL && report_parse_date(a->to, o->to) != 0) {
		cli_error("report: --to '%s' is not a date (YYYY-MM-DD)",
		    a->to);
		return E_INVAL;
	}
	if (o->from[0] && o->to[0] && strcmp(o->from, o->to) > 0) {
		cli_error("report: --from %s is after --to %s", o->from,
		    o->to);
		return E_INVAL;
	}
	if (a->province != NULL) {
		if (!schema_node_known(a->province)) {
			cli_error("report: unknown province '%s' (node ids "
			    "are in deploy/provinces.tsv)", a->province);
			return E_INVAL;
		}
		strlcpy_(o->province, a->province, sizeof(o->province));
	}
	*f = REPORT_TEXT;
	if (a->format != NULL && report_parse_format(a->format, f) != 0) {
		cli_error("report: unknown format '%s' (text, csv, json, "
		    "html)", a->format);
		return E_INVAL;
	}
	if (a->min_cell != NULL) {
		if (parse_u64(a->min_cell, 1, MIN_CELL_MAX, &v) != 0) {
			cli_error("report: --min-cell '%s' is not a whole "
			    "number from 1 to %d", a->min_cell, MIN_CELL_MAX);
			return E_INVAL;
		}
		o->min_cell = (unsigned)v;
	}
	o->lang = LANG_EN;
	if (a->lang != NULL && i18n_lang_parse(a->lang, &o->lang) != 0) {
		cli_error("report: --lang '%s' is not a language of casesync "
		    "(en, vi)", a->lang);
		return E_INVAL;
	}
	if (a->public && o->min_cell < PUBLIC_MIN_CELL)
		o->min_cell = PUBLIC_MIN_CELL;
	if (a->out != NULL && (a->out[0] == '\0' ||
	    strlen(a->out) + 32 > OUTFILE_PATH_MAX)) {
		cli_error("report: --out needs a file name");
		return E_INVAL;
	}
	return 0;
}

int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "year", required_argument, NULL, 'y' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "province", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'F' },
		{ "out", required_argument, NULL, 'o' },
		{ "min-cell", required_argument, NULL, 'k' },
		{ "public", no_argument, NULL, 'P' },
		{ "lang", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct report_args	 a;
	struct report_opts	 o;
	enum report_format	 f;
	struct node_ctx		 n;
	struct report		*r;
	struct buf		 out;
	uint64_t		 ncases;
	int			 ch, rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	memset(&a, 0, sizeof(a));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":d:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': a.dir = optarg; break;
		case 'y': a.year = optarg; break;
		case 'f': a.from = optarg; break;
		case 't': a.to = optarg; break;
		case 'p': a.province = optarg; break;
		case 'F': a.format = optarg; break;
		case 'o': a.out = optarg; break;
		case 'k': a.min_cell = optarg; break;
		case 'P': a.public = 1; break;
		case 'L': a.lang = optarg; break;
		default:
			return cli_bad_option("report", ch, argv);
		}
	}
	if (optind != argc) {
		cli_error("report: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (check_args(&a, &o, &f) != 0)
		return EXIT_USAGE;
	if (o.lang != LANG_EN && i18n_open() != 0) {
		cli_error("report: cannot load the %s message catalogue",
		    i18n_lang_code(o.lang));
		return cli_exit_for(E_IO);
	}
	if ((rc = cli_open(a.dir, &n)) != 0)
		return rc;
	strlcpy_(o.node, n.cfg.node, sizeof(o.node));
	today(o.generated, sizeof(o.generated));
	o.counts_person = dupes_counts_person;
	o.counts_arg = n.st;
	r = report_new(&o);
	rc = store_case_each(n.st, add_one, r);
	cli_close(&n);
	if (rc != 0) {
		cli_error("report: reading the cases: %s", err_str(rc));
		report_free(&r);
		return cli_exit_for(rc);
	}
	report_finish(r);
	ncases = report_ncases(r);
	buf_init(&out, REPORT_OUT_MAX);
	rc = report_render(r, f, &out);
	report_free(&r);
	if (rc != 0) {
		cli_error("report: %s", err_str(rc));
		buf_release(&out);
		return cli_exit_for(rc);
	}
	if (a.out != NULL) {
		rc = write_out(a.out, out.data, out.len);
		if (rc == 0)
			fprintf(stderr, "report over %llu cases written to %s\n",
			    (unsigned long long)ncases, a.out);
	} else if (out.len > 0 && (fwrite(out.data, 1, out.len, stdout) !=
	    out.len || fflush(stdout) != 0)) {
		cli_error("report: writing to stdout: %s", strerror(errno));
		rc = E_IO;
	}
	buf_release(&out);
	return rc == 0 ? EXIT_OK : cli_exit_for(rc);
}

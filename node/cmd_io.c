/*
 * cmd_io.c - `casesync export` and `casesync import`: JSON Lines, one case
 * per line, for moving data in from spreadsheets and out to other tools.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/outfile.h"
#include "../common/util.h"

#define IMPORT_MAX	(1ULL << 31)	/* bytes of input */
#define IMPORT_BATCH	1000		/* lines per transaction */

static const char export_usage[] =
"usage: casesync export -d DIR [--out FILE]\n"
"       casesync export -d DIR --format htcds|htcds-csv [--year Y]\n"
"                       [--province ID] [--out FILE]\n"
"                       [--identifying --confirm NODE]\n"
"\n"
"Writes every case this node holds as JSON Lines (the `case get` form,\n"
"one object per line) to stdout or FILE.  FILE is written whole or not at\n"
"all, mode 0600 (it holds identifying data), through a new file in its\n"
"directory; a FILE that is a symbolic link is refused.\n"
"\n"
"--format htcds writes the cases as records of IOM's Human Trafficking\n"
"Case Data Standard 2.0 (JSON Lines, one object per case); htcds-csv in\n"
"the standard's spreadsheet layout.  --year keeps the cases received\n"
"that year, --province those that province owns.  Anonymised: no names,\n"
"documents, phones, addresses or free text; the birth year becomes the\n"
"age; each case is known by a pseudonym that this node's key (htcds.key,\n"
"never exported) keeps stable from one export to the next.\n"
"--identifying adds names, document, phone and address; only central\n"
"may, and only with --confirm naming this node.  See docs/HTCDS.md.\n"
"HTCDS by IOM is licensed under CC BY 4.0; no endorsement by IOM is\n"
"implied.\n";

static const char import_usage[] =
"usage: casesync import -d DIR [--skip-bad] [FILE|-]\n"
"\n"
"Reads JSON Lines, one case per line (the `case add` form).  A line with\n"
"the \"id\" of an existing case updates it with the fields given; a line\n"
"without one creates a case.  The whole input is validated first: on any\n"
"bad line import names it and writes nothing (exit 2).  --skip-bad imports\n"
"the good lines and lists the bad ones.  Lines are committed in batches of\n"
"1000; progress is shown on a terminal.  Keys that `export` writes but a\n"
"case cannot be given (owner, referrals, erased, conflicts) are ignored.\n";

struct export_ctx {
	struct store	*st;
	FILE		*f;
	size_t		 n;
};

static int
export_one(const struct case_state *s, void *arg)
{
	struct export_ctx	*ec = arg;
	struct case_state	 open;
	char			*j;
	int			 rc;

	/* The table holds identifying values sealed: open a copy.  A value
	 * that does not open is rendered as "[encrypted]". */
	state_copy(&open, s);
	rc = store_case_open(ec->st, &open);
	j = schema_render(&open, 0);
	state_release(&open);
	if (fprintf(ec->f, "%s\n", j) < 0)
		rc = E_IO;
	free(j);
	ec->n++;
	return rc == E_IO ? rc : 0;
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'F' },
		{ "year", required_argument, NULL, 'y' },
		{ "province", required_argument, NULL, 'p' },
		{ "identifying", no_argument, NULL, 'I' },
		{ "confirm", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_args	 a;
	struct node_ctx		 n;
	struct export_ctx	 ec = { NULL, stdout, 0 };
	struct outfile		 of;
	const char		*dir, *out;
	char			 err[512];
	int			 ch, rc;

	if (cli_help(argc, argv, export_usage))
		return EXIT_OK;
	memset(&a, 0, sizeof(a));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":d:o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': a.dir = optarg; break;
		case 'o': a.out = optarg; break;
		case 'F': a.format = optarg; break;
		case 'y': a.year = optarg; break;
		case 'p': a.province = optarg; break;
		case 'I': a.identifying = 1; break;
		case 'c': a.confirm = optarg; break;
		default:
			return cli_bad_option("export", ch, argv);
		}
	}
	if (optind != argc) {
		cli_error("export: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (a.format != NULL)
		return cmd_export_htcds(&a);
	if (a.year != NULL || a.province != NULL || a.identifying ||
	    a.confirm != NULL) {
		cli_error("export: --year, --province, --identifying and "
		    "--confirm go with --format htcds or htcds-csv");
		return EXIT_USAGE;
	}
	dir = a.dir;
	out = a.out;
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (out != NULL) {
		if ((rc = outfile_open(&of, out, err, sizeof(err))) != 0 ||
		    (ec.f = outfile_stream(&of)) == NULL) {
			if (rc == 0) {
				snprintf(err, sizeof(err), "%s: %s", out,
				    strerror(errno));
				outfile_abort(&of);
			}
			cli_error("export: %s", err);
			cli_close(&n);
			return EXIT_REJECT;
		}
	}
	ec.st = n.st;
	rc = store_case_each(n.st, export_one, &ec);
	if (rc == 0 && fflush(ec.f) != 0)
		rc = E_IO;
	cli_close(&n);
	if (out != NULL) {
		if (rc != 0)
			outfile_abort(&of);
		else if ((rc = outfile_commit(&of, err, sizeof(err))) != 0) {
			cli_error("export: %s", err);
			return cli_exit_for(rc);
		}
	}
	if (rc != 0) {
		cli_error("export: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	if (out != NULL)
		fprintf(stderr, "exported %zu cases to %s\n", ec.n, out);
	return EXIT_OK;
}

/* A set of case ids created by this import (open addressing). */
struct idset {
	char	(*slot)[ENTRY_CASE_ID_LEN + 1];
	size_t	 cap, n;
};

static size_t
id_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Returns 1 if id was present, else adds it and returns 0. */
static int
idset_add(struct idset *set, const char *id)
{
	size_t i;

	if (set->n * 2 >= set->cap) {
		struct idset big = { NULL, set->cap ? set->cap * 2 : 1024, 0 };

		big.slot = xcalloc(big.cap, sizeof(*big.slot));
		for (i = 0; i < set->cap; i++)
			if (set->slot[i][0])
				idset_add(&big, set->slot[i]);
		free(set->slot);
		*set = big;
	}
	for (i = id_hash(id) & (set->cap - 1); set->slot[i][0];
	    i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slot[i], id) == 0)
			return 1;
	strlcpy_(set->slot[i], id, sizeof(set->slot[i]));
	set->n++;
	return 0;
}

struct line {
	const char	*p;
	size_t		 len;
	size_t		 no;
};

/* A growing array of entries (the entries of one batch of lines). */
struct evec {
	struct entry	*e;
	size_t		 n, cap;
};

static struct entry *
evec_push(struct evec *v)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->e = xreallocarray(v->e, v->cap, sizeof(*v->e));
	}
	entry_init(&v->e[v->n]);
	return &v->e[v->n++];
}

/* Releases the entries from index from on. */
static void
evec_truncate(struct evec *v, size_t from)
{
	while (v->n > from)
		entry_release(&v->e[--v->n]);
}

/*
 * A case lists its events by stamp, then by id, and every event of one
 * entry carries that entry's stamp.  So that an exported case imports with
 * its events in the order it was exported, the events of each collection
 * are cut into runs of strictly increasing ids: run 0 stays in e, run k
 * moves to the k-th entry appended to v after it (a later entry gets a
 * later stamp).  Most lines have one run and stay one entry.
 */
static void
split_event_runs(struct evec *v, size_t first)
{
	/* Copies, not pointers: compacting e->ops overwrites earlier ops. */
	char	coll[ENTRY_MAX_OPS][ENTRY_PATH_MAX + 1];
	char	last[ENTRY_MAX_OPS][ENTRY_EVID_MAX + 1];
	size_t	run[ENTRY_MAX_OPS], ncoll = 0, keep = 0, nops, i, c;

	nops = v->e[first].nops;
	for (i = 0; i < nops; i++) {
		struct op	op = v->e[first].ops[i];
		size_t		r = 0;

		if (op.type == OP_EVENT) {
			for (c = 0; c < ncoll && strcmp(coll[c], op.path) != 0;
			    c++)
				;
			if (c == ncoll) {
				strlcpy_(coll[c], op.path, sizeof(coll[c]));
				run[ncoll++] = 0;
			} else if (strcmp(op.evid, last[c]) <= 0) {
				run[c]++;
			}
			strlcpy_(last[c], op.evid, sizeof(last[c]));
			r = run[c];
		}
		if (r == 0) {
			/* keep <= i: this never overwrites an unread op. */
			v->e[first].ops[keep++] = op;
			continue;
		}
		/* Entry first + r holds run r; create those missing. */
		while (v->n <= first + r) {
			struct entry *ne = evec_push(v);

			strlcpy_(ne->case_id, v->e[first].case_id,
			    sizeof(ne->case_id));
			strlcpy_(ne->author, v->e[first].author,
			    sizeof(ne->author));
		}
		/* Moves the op and the ownership of its value.  Cannot fail:
		 * the new entry holds fewer ops than e did. */
		*entry_add_op(&v->e[first + r], OP_EVENT) = op;
	}
	v->e[first].nops = keep;
}

/*
 * Turns one line into entries appended to v (one, or more when its events
 * must keep their order: see split_event_runs).  Returns 0, or E_INVAL
 * with the reason in err and nothing appended.  created tracks ids of
 * cases this import creates.
 */
static int
line_entries(struct node_ctx *n, const struct line *l, struct idset *created,
    struct evec *v, char *err, size_t errsz)
{
	char			id[ENTRY_CASE_ID_LEN + 1] = "";
	struct case_state	s;
	struct entry		*e;
	size_t			first = v->n;
	int			create, has_status = 0, rc;
	struct op		*o;

	e = evec_push(v);
	if ((rc = schema_ops_from_export(l->p, l->len, e, id, err,
	    errsz)) != 0) {
		evec_truncate(v, first);
		return rc;
	}
	if (id[0] == '\0') {
		uuid7(id, now_ms());
		create = 1;
		idset_add(created, id);
	} else if (store_case_get(n->st, id, &s) == 0) {
		state_release(&s);
		create = 0;
	} else {
		create = !idset_add(created, id);
	}
	if (create) {
		for (size_t i = 0; i < e->nops; i++)
			if (e->ops[i].type == OP_SET &&
			    strcmp(e->ops[i].path, "status") == 0)
				has_status = 1;
		if (!has_status && (o = entry_add_op(e, OP_SET)) != NULL) {
			strlcpy_(o->path, "status", sizeof(o->path));
			op_set_value(o, "\"reported\"", 10);
		}
		if ((o = entry_add_op(e, OP_TRANSFER)) == NULL) {
			snprintf(err, errsz, "too many fields");
			evec_truncate(v, first);
			return E_INVAL;
		}
		strlcpy_(o->to, n->cfg.node, sizeof(o->to));
	}
	strlcpy_(e->case_id, id, sizeof(e->case_id));
	strlcpy_(e->author, n->author, sizeof(e->author));
	split_event_runs(v, first);
	return 0;
}

static int
is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "skip-bad", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx	 n;
	struct idset	 created = { NULL, 0, 0 };
	struct line	*lines = NULL;
	unsigned char	*bad;
	struct evec	 batch = { NULL, 0, 0 };
	const char	*dir = NULL, *file = NULL;
	char		*text, err[512];
	size_t		 len, nlines = 0, nbad = 0, done = 0, nb = 0, pos, cap = 0;
	int		 ch, skip_bad = 0, rc, tty = cli_tty();

	if (cli_help(argc, argv, import_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 's': skip_bad = 1; break;
		default:
			fputs(import_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		file = argv[optind++];
	if (optind != argc) {
		cli_error("import: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (cli_read_input(file, IMPORT_MAX, &text, &len) != 0) {
		cli_close(&n);
		return EXIT_REJECT;
	}
	/* Split into lines, skipping blank ones. */
	for (pos = 0; pos < len;) {
		const char	*nl = memchr(text + pos, '\n', len - pos);
		size_t		 ll = nl ? (size_t)(nl - (text + pos)) :
		    len - pos;

		if (!is_blank(text + pos, ll)) {
			if (nlines == cap) {
				cap = cap ? cap * 2 : 1024;
				lines = xreallocarray(lines, cap,
				    sizeof(*lines));
			}
			lines[nlines].p = text + pos;
			lines[nlines].len = ll;
			lines[nlines].no = 0;
			nlines++;
		}
		pos += ll + 1;
	}
	/* Number the lines as a person counts them (blank ones included). */
	{
		size_t no = 1, li = 0;
		for (pos = 0; pos < len && li < nlines; pos++) {
			if (text + pos == lines[li].p)
				lines[li++].no = no;
			if (text[pos] == '\n')
				no++;
		}
	}
	/* Pass 1: validate everything before writing anything. */
	bad = xcalloc(nlines ? nlines : 1, 1);
	for (size_t i = 0; i < nlines; i++) {
		if (line_entries(&n, &lines[i], &created, &batch, err,
		    sizeof(err)) != 0) {
			bad[i] = 1;
			nbad++;
			if (!skip_bad) {
				cli_error("import: line %zu: %s; nothing "
				    "imported", lines[i].no, err);
				rc = EXIT_REJECT;
				goto out;
			}
			fprintf(stderr, "casesync: import: skipping line %zu:"
			    " %s\n", lines[i].no, err);
		}
		evec_truncate(&batch, 0);
		if (tty && (i + 1) % 5000 == 0)
			fprintf(stderr, "\rimport: checked %zu/%zu lines", i +
			    1, nlines);
	}
	/*
	 * Pass 2: write in batches of IMPORT_BATCH lines, each batch one
	 * transaction, so that an import killed at any point leaves a
	 * prefix of whole batches.
	 */
	free(created.slot);
	memset(&created, 0, sizeof(created));
	rc = EXIT_OK;
	for (size_t i = 0; i < nlines && rc == EXIT_OK; i++) {
		int wrc;

		if (!bad[i]) {
			if (line_entries(&n, &lines[i], &created, &batch, err,
			    sizeof(err)) != 0) {
				cli_error("import: line %zu changed meaning: "
				    "%s; %zu lines imported before it",
				    lines[i].no, err, done);
				rc = EXIT_REJECT;
				break;
			}
			nb++;
		}
		if (nb < IMPORT_BATCH && i + 1 < nlines)
			continue;
		if (nb == 0)
			break;
		wrc = store_write_local(n.st, batch.e, batch.n, err,
		    sizeof(err));
		evec_truncate(&batch, 0);
		if (wrc != 0) {
			cli_error("import: %s; %zu lines imported before it",
			    err, done);
			rc = cli_exit_for(wrc);
			break;
		}
		done += nb;
		nb = 0;
		if (tty)
			fprintf(stderr, "\rimport: %zu/%zu lines", done,
			    nlines - nbad);
	}
	if (tty)
		fputc('\n', stderr);
	if (rc == EXIT_OK)
		printf("imported %zu cases%s\n", done, nbad ? " (bad lines "
		    "skipped)" : "");
	if (rc == EXIT_OK && nbad)
		printf("skipped %zu bad lines\n", nbad);
out:
	evec_truncate(&batch, 0);
	free(batch.e);
	free(created.slot);
	free(bad);
	free(lines);
	free(text);
	cli_close(&n);
	return rc;
}

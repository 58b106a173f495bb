/*
 * cmd_htcds.c - `casesync export --format htcds|htcds-csv`: the cases as
 * records of IOM's Human Trafficking Case Data Standard 2.0 (node/htcds.h,
 * docs/HTCDS.md).  HTCDS by IOM is licensed under CC BY 4.0; no
 * endorsement by IOM is implied.
 *
 * Everything the command line can get wrong is checked before the store
 * is opened, and the pseudonym key is loaded before the output is
 * created, so a refused export writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "htcds.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/outfile.h"
#include "../common/util.h"

struct htcds_ctx {
	struct htcds	 h;
	struct store	*st;
	struct outfile	*of;		/* NULL: stdout */
	struct buf	 line;
	size_t		 n;
};

/* Writes the line buffer out. */
static int
emit(struct htcds_ctx *c)
{
	if (c->of != NULL)
		return outfile_write(c->of, c->line.data, c->line.len);
	if (c->line.len > 0 &&
	    fwrite(c->line.data, 1, c->line.len, stdout) != c->line.len)
		return E_IO;
	return 0;
}

static int
one(const struct case_state *s, void *arg)
{
	struct htcds_ctx	*c = arg;
	struct case_state	 open;
	int			 rc;

	if (!htcds_selected(&c->h, s))
		return 0;
	buf_reset(&c->line);
	if (c->h.o.identifying) {
		/* Only this mode opens the sealed values; a value that does
		 * not open is left out. */
		state_copy(&open, s);
		(void)store_case_open(c->st, &open);
		rc = htcds_record(&c->h, &open, &c->line);
		state_release(&open);
	} else
		rc = htcds_record(&c->h, s, &c->line);
	if (rc != 0)
		return rc;
	if ((rc = emit(c)) != 0)
		return rc;
	c->n++;
	return 0;
}

/* Checks the command line into *o.  Prints one line and returns non-zero
 * on the first error. */
static int
check_args(const struct export_args *a, struct htcds_opts *o)
{
	uint64_t	y;

	memset(o, 0, sizeof(*o));
	if (htcds_parse_format(a->format, &o->format) != 0) {
		cli_error("export: unknown format '%s' (htcds, htcds-csv; "
		    "without --format, the case JSON)", a->format);
		return E_INVAL;
	}
	if (a->year != NULL) {
		if (parse_u64(a->year, 1900, 2100, &y) != 0) {
			cli_error("export: --year '%s' is not a year from "
			    "1900 to 2100", a->year);
			return E_INVAL;
		}
		snprintf(o->from, sizeof(o->from), "%04u-01-01", (unsigned)y);
		snprintf(o->to, sizeof(o->to), "%04u-12-31", (unsigned)y);
	}
	if (a->province != NULL) {
		if (!schema_node_known(a->province)) {
			cli_error("export: unknown province '%s' (node ids "
			    "are in deploy/provinces.tsv)", a->province);
			return E_INVAL;
		}
		strlcpy_(o->province, a->province, sizeof(o->province));
	}
	if (a->confirm != NULL && !a->identifying) {
		cli_error("export: --confirm goes with --identifying");
		return E_INVAL;
	}
	if (a->out != NULL && a->out[0] == '\0') {
		cli_error("export: --out needs a file name");
		return E_INVAL;
	}
	o->identifying = a->identifying;
	return 0;
}

/*
 * An identifying export leaves the national system with names: only
 * central may make one, and only when the operator names the node again
 * with --confirm, so that neither a script that copies a command line nor
 * a province can do it by mistake.
 */
static int
check_identifying(const struct export_args *a, const struct node_ctx *n)
{
	if (!a->identifying)
		return 0;
	if (strcmp(n->cfg.role, "central") != 0) {
		cli_error("export: --identifying is refused: only central may "
		    "export identifying data");
		return E_AUTH;
	}
	if (a->confirm == NULL || strcmp(a->confirm, n->cfg.node) != 0) {
		cli_error("export: --identifying writes names, documents, "
		    "phones and addresses; confirm with --confirm %s",
		    n->cfg.node);
		return E_AUTH;
	}
	return 0;
}

/*
 * Records the export in the node's audit log (node/audit.h): who, which
 * format, how many cases, whether identifying, where to.  Decree 13/2023
 * asks for a record of who processed sensitive personal data, and a
 * pseudonymised record is still personal data.  Never a value.
 */
static void
audit_export(const char *dir, const struct export_args *a, size_t ncases,
    const char *refused)
{
	struct audit	*au;
	char		 err[256], who[80], detail[AUDIT_FIELD_MAX + 1];
	const char	*u = getenv("USER");

	if (audit_open(dir, &au, err, sizeof(err)) != 0) {
		cli_error("export: audit log: %s", err);
		return;
	}
	snprintf(who, sizeof(who), "cli:%s", u != NULL ? u : "?");
	if (refused != NULL)
		snprintf(detail, sizeof(detail), "refused: %s", refused);
	else
		snprintf(detail, sizeof(detail), "%zu cases, %s%s%s%s%s, "
		    "to %s", ncases, a->format, a->year != NULL ?
		    ", year " : "", a->year != NULL ? a->year : "",
		    a->province != NULL ? ", province " : "",
		    a->province != NULL ? a->province : "",
		    a->out != NULL ? a->out : "stdout");
	(void)audit_log(au, who, "local", a->identifying ?
	    "export.identifying" : "export.htcds", NULL, detail);
	audit_close(&au);
}

int
cmd_export_htcds(const struct export_args *a)
{
	struct htcds_opts	 o;
	struct htcds_ctx	 c;
	struct node_ctx		 n;
	struct outfile		 of;
	uint8_t			 dk[CRYPTO_KEY], key[CRYPTO_KEY];
	char			 err[512];
	int			 rc;

	if (check_args(a, &o) != 0)
		return EXIT_USAGE;
	if ((rc = cli_open(a->dir, &n)) != 0)
		return rc;
	if (check_identifying(a, &n) != 0) {
		audit_export(n.dir, a, 0, strcmp(n.cfg.role, "central") != 0 ?
		    "--identifying on a province" :
		    "--identifying not confirmed");
		cli_close(&n);
		return EXIT_REJECT;
	}
	rc = datakey_load(n.dir, dk, err, sizeof(err));
	if (rc == 0)
		rc = pseudokey_load(n.dir, dk, key, err, sizeof(err));
	crypto_wipe(dk, sizeof(dk));
	if (rc == 0 && a->out != NULL)
		rc = outfile_open(&of, a->out, err, sizeof(err));
	if (rc != 0) {
		cli_error("export: %s", err);
		crypto_wipe(key, sizeof(key));
		cli_close(&n);
		return EXIT_REJECT;
	}
	memset(&c, 0, sizeof(c));
	htcds_init(&c.h, &o, key);
	crypto_wipe(key, sizeof(key));
	c.st = n.st;
	c.of = a->out != NULL ? &of : NULL;
	buf_init(&c.line, HTCDS_RECORD_MAX);
	rc = htcds_header(&c.h, &c.line);
	if (rc == 0)
		rc = emit(&c);
	if (rc == 0)
		rc = store_case_each(n.st, one, &c);
	htcds_release(&c.h);
	buf_release(&c.line);
	if (rc == 0 && c.of == NULL && fflush(stdout) != 0)
		rc = E_IO;
	if (c.of != NULL) {
		if (rc != 0)
			outfile_abort(&of);
		else if ((rc = outfile_commit(&of, err, sizeof(err))) != 0) {
			cli_error("export: %s", err);
			cli_close(&n);
			return cli_exit_for(rc);
		}
	}
	if (rc == 0)
		audit_export(n.dir, a, c.n, NULL);
	cli_close(&n);
	if (rc != 0) {
		cli_error("export: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	if (a->out != NULL)
		fprintf(stderr, "exported %zu cases (HTCDS 2.0%s) to %s\n",
		    c.n, o.identifying ? ", identifying" : "", a->out);
	return EXIT_OK;
}

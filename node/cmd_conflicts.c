/*
 * cmd_conflicts.c - `casesync conflicts [list|show|resolve]`: the open
 * conflicts of this node's cases and their resolution (conflict.h).
 *
 * Identifying values of a conflict are shown to the operator, who is
 * authorised to see the case, but never logged.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "offer.h"
#include "conflict.h"
#include "resolve.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

static const char usage_text[] =
"usage: casesync conflicts [list] -d DIR [--case ID] [--json]\n"
"       casesync conflicts show    -d DIR CID [--json]\n"
"       casesync conflicts resolve -d DIR CID --keep winner|loser "
"[--reason TEXT]\n"
"       casesync conflicts resolve -d DIR CID --value JSON [--reason TEXT]\n"
"\n"
"When two nodes change the same field of a case before they sync, every\n"
"node shows the same value, the winner (the later change; on a tie, the\n"
"one from the node id that sorts last), and keeps the other, the loser,\n"
"as an open conflict until someone resolves it.\n"
"\n"
"list (the default) prints every open conflict: its id CID (the same on\n"
"every node that holds the case), the case, the field, and both values\n"
"with author, node and time.  --case limits the list to one case.\n"
"show prints one conflict.\n"
"resolve records an ordinary change that replaces both values:\n"
"  --keep winner   confirm the value every node shows now;\n"
"  --keep loser    restore the other value;\n"
"  --value JSON    set a new value, as JSON: \"text\" (with the quotes),\n"
"                  1990, [\"a\",\"b\"], or null to clear the field.\n"
"  --reason TEXT  why (up to 500 bytes): recorded in the same signed\n"
"                  change, as the case's note resolution-CID, and shown\n"
"                  in its history (the console requires it).\n"
"The change reaches the other nodes at their next sync and closes the\n"
"conflict there too.  Only the case's owner or central may resolve.\n"
"Read-only copies of cases referred to another province are not listed.\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 no such open conflict, a value the schema\n"
"rejects, or a change this node may not make.\n";

struct conf_opts {
	const char	*dir;
	const char	*case_id;
	const char	*keep;
	const char	*value;
	const char	*reason;
	int		 json;
};

/* The JSON text of value for path, or NULL when it is not readable JSON
 * (still sealed).  Caller owns the result. */
static char *
value_text(const char *path, const struct head *h)
{
	struct op	o;
	char		err[160];
	char		*v = NULL;

	memset(&o, 0, sizeof(o));
	o.type = OP_SET;
	strlcpy_(o.path, path, sizeof(o.path));
	if (h->value_len == 0 || op_set_value(&o, (const char *)h->value,
	    h->value_len) != 0)
		return NULL;
	if (schema_check_op(&o, err, sizeof(err)) == 0)
		v = o.value;
	else
		free(o.value);
	return v;
}

/* The author, or a placeholder when it stayed sealed (it did not open). */
static const char *
author_text(const struct head *h)
{
	return state_author_sealed(h->author) ? "(sealed)" : h->author;
}

static void
side_json(struct buf *b, const char *key, const char *path,
    const struct head *h)
{
	char	 when[40];
	char	*v = value_text(path, h);

	hlc_format(h->st.hlc, when, sizeof(when));
	jsonw_key(b, key, 0);
	buf_append_str(b, "{");
	jsonw_key(b, "value", 1);
	buf_append_str(b, v != NULL ? v : "null");
	if (v == NULL)
		buf_append_str(b, ",\"sealed\":true");
	jsonw_key(b, "author", 0);
	jsonw_str(b, author_text(h));
	jsonw_key(b, "node", 0);
	jsonw_str(b, h->st.node);
	buf_printf(b, ",\"hlc\":%llu", (unsigned long long)h->st.hlc);
	jsonw_key(b, "time", 0);
	jsonw_str(b, when);
	buf_append_str(b, "}");
	free(v);
}

static void
conflict_json(struct buf *b, const struct conflict *c)
{
	buf_append_str(b, "{");
	jsonw_key(b, "id", 1);
	jsonw_str(b, c->id);
	jsonw_key(b, "case", 0);
	jsonw_str(b, c->s->id);
	jsonw_key(b, "owner", 0);
	jsonw_str(b, c->s->owner);
	jsonw_key(b, "field", 0);
	jsonw_str(b, c->f->path);
	buf_append_str(b, ",\"identifying\":");
	buf_append_str(b, schema_path_identifying(c->f->path) ? "true" :
	    "false");
	side_json(b, "winner", c->f->path, c->winner);
	side_json(b, "loser", c->f->path, c->loser);
	buf_append_str(b, "}");
}

static void
side_text(struct buf *b, const char *label, const char *path,
    const struct head *h)
{
	char	 when[40];
	char	*v = value_text(path, h);

	hlc_format(h->st.hlc, when, sizeof(when));
	buf_printf(b, "  %-7s %s\n          by %s on %s at %s\n", label,
	    v != NULL ? v : "(sealed: this node cannot open it)",
	    author_text(h), h->st.node, when);
	free(v);
}

static void
conflict_text(struct buf *b, const struct conflict *c)
{
	buf_printf(b, "conflict %s  case %s  field %s%s\n", c->id, c->s->id,
	    c->f->path, schema_path_identifying(c->f->path) ?
	    " (identifying)" : "");
	side_text(b, "winner", c->f->path, c->winner);
	side_text(b, "loser", c->f->path, c->loser);
}

/* ---- list ------------------------------------------------------------ */

struct list_ctx {
	struct node_ctx	*n;
	const char	*case_id;
	int		 json;
	size_t		 count;
	int		 err;
};

static int
list_conflict(const struct conflict *c, void *arg)
{
	struct list_ctx	*lc = arg;
	struct buf	 b;

	buf_init(&b, 64 * 1024);
	if (lc->json) {
		buf_append_str(&b, lc->count == 0 ? "\n  " : ",\n  ");
		conflict_json(&b, c);
	} else {
		if (lc->count > 0)
			buf_append_str(&b, "\n");
		conflict_text(&b, c);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	lc->count++;
	return 0;
}

/* Lists the conflicts of one case; sealed states are copied and opened
 * only when some field has more than one head. */
static int
list_case(const struct case_state *sealed, void *arg)
{
	struct list_ctx		*lc = arg;
	struct case_state	 s;
	int			 rc;

	if (lc->case_id != NULL && strcmp(sealed->id, lc->case_id) != 0)
		return 0;
	/* Not this node's to resolve: a read-only copy, or a case held for
	 * an offer waiting for this province's answer (offer.h). */
	if ((sealed->flags & STATE_F_READONLY) || !conflict_candidate(sealed) ||
	    offer_pending_to(sealed, lc->n->cfg.node))
		return 0;
	state_copy(&s, sealed);
	if ((rc = store_case_open(lc->n->st, &s)) != 0) {
		/* Listed with its values shown as sealed. */
		log_warnx("conflicts: case %s: identifying values do not open",
		    s.id);
		lc->err = rc;
	}
	conflict_each(&s, list_conflict, lc);
	state_release(&s);
	return 0;
}

static int
conflicts_list(struct node_ctx *n, const struct conf_opts *o)
{
	struct list_ctx	lc = { n, o->case_id, o->json, 0, 0 };
	int		rc;

	if (o->case_id != NULL && !uuid_valid(o->case_id)) {
		cli_error("conflicts: '%s' is not a case id", o->case_id);
		return EXIT_REJECT;
	}
	if (o->json)
		fputs("[", stdout);
	rc = store_case_each(n->st, list_case, &lc);
	if (o->json)
		fputs(lc.count ? "\n]\n" : "]\n", stdout);
	else if (lc.count == 0)
		puts("no open conflicts");
	if (rc != 0) {
		cli_error("conflicts: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	return EXIT_OK;
}

/* ---- show, resolve ---------------------------------------------------- */

/* resolve_load with the CLI's exit codes, the reason printed. */
static int
conflict_load(struct node_ctx *n, const char *cid, struct case_state *s,
    struct conflict *c)
{
	char	err[256];
	int	rc;

	if ((rc = resolve_load(n->st, cid, s, c, err, sizeof(err))) == 0)
		return 0;
	if (rc == E_INVAL) {
		cli_error("conflicts: %s", err);
		return EXIT_USAGE;
	}
	cli_error("%s", err);
	return rc == E_NOTFOUND ? EXIT_REJECT : cli_exit_for(rc);
}

static int
conflicts_show(struct node_ctx *n, const struct conf_opts *o,
    const char *cid)
{
	struct case_state	s;
	struct conflict		c;
	struct buf		b;
	int			rc;

	if ((rc = conflict_load(n, cid, &s, &c)) != 0)
		return rc;
	buf_init(&b, 64 * 1024);
	if (o->json) {
		conflict_json(&b, &c);
		buf_append_str(&b, "\n");
	} else {
		conflict_text(&b, &c);
		if (s.flags & STATE_F_READONLY)
			buf_printf(&b, "  (read-only copy: the case was "
			    "referred to %s, which resolves it)\n", s.owner);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	state_release(&s);
	return EXIT_OK;
}

static int
conflicts_resolve(struct node_ctx *n, const struct conf_opts *o,
    const char *cid)
{
	struct resolve_out	out;
	char			err[512];
	int			rc;

	rc = resolve_conflict(n->st, n->author, cid, o->keep, o->value,
	    o->reason, &out, err, sizeof(err));
	if (rc == E_INVAL && !conflict_id_valid(cid)) {
		cli_error("conflicts: %s", err);
		return EXIT_USAGE;
	}
	if (rc == E_NOTFOUND) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if (rc != 0) {
		if (strncmp(err, "--value:", 8) == 0)
			cli_error("%s", err);
		else
			cli_error("conflicts resolve: %s", err);
		return cli_exit_for(rc);
	}
	printf("resolved %s: case %s, %s = %s\n", cid, out.case_id, out.path,
	    out.value);
	printf("other nodes follow at their next sync\n");
	resolve_out_release(&out);
	return EXIT_OK;
}

int
cmd_conflicts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "case", required_argument, NULL, 'c' },
		{ "keep", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct conf_opts	 o;
	struct node_ctx		 n;
	const char		*sub = "list", *cid = NULL;
	int			 ch, rc, first;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'c': o.case_id = optarg; break;
		case 'k': o.keep = optarg; break;
		case 'v': o.value = optarg; break;
		case 'r': o.reason = optarg; break;
		case 'j': o.json = 1; break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	first = optind;
	if (first < argc && (strcmp(argv[first], "list") == 0 ||
	    strcmp(argv[first], "show") == 0 ||
	    strcmp(argv[first], "resolve") == 0))
		sub = argv[first++];
	else if (first < argc && conflict_id_valid(argv[first]))
		sub = "show";
	else if (first < argc) {
		cli_error("conflicts: unknown sub-verb '%s' (list, show, "
		    "resolve)", argv[first]);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0) {
		if (first < argc) {
			cli_error("conflicts list: unexpected argument '%s'",
			    argv[first]);
			return EXIT_USAGE;
		}
	} else {
		if (first + 1 != argc) {
			cli_error("conflicts %s: give exactly one conflict id",
			    sub);
			return EXIT_USAGE;
		}
		cid = argv[first];
	}
	if (strcmp(sub, "resolve") == 0) {
		if ((o.keep == NULL) == (o.value == NULL)) {
			cli_error("conflicts resolve: give --keep winner, "
			    "--keep loser or --value JSON");
			return EXIT_USAGE;
		}
		if (o.keep != NULL && strcmp(o.keep, "winner") != 0 &&
		    strcmp(o.keep, "loser") != 0) {
			cli_error("conflicts resolve: --keep takes winner or "
			    "loser, not '%s'", o.keep);
			return EXIT_USAGE;
		}
		if (o.json) {
			cli_error("conflicts resolve: --json is for list and "
			    "show");
			return EXIT_USAGE;
		}
	} else if (o.keep != NULL || o.value != NULL || o.reason != NULL) {
		cli_error("conflicts %s: --keep, --value and --reason are for "
		    "resolve",
		    sub);
		return EXIT_USAGE;
	}
	if (o.case_id != NULL && strcmp(sub, "list") != 0) {
		cli_error("conflicts %s: --case is for list", sub);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(o.dir, &n)) != 0)
		return rc;
	if (strcmp(sub, "list") == 0)
		rc = conflicts_list(&n, &o);
	else if (strcmp(sub, "show") == 0)
		rc = conflicts_show(&n, &o, cid);
	else
		rc = conflicts_resolve(&n, &o, cid);
	cli_close(&n);
	return rc;
}

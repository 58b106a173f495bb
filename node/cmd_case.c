/*
 * cmd_case.c - `casesync case add|update|get|list|history`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caseop.h"
#include "cli.h"
#include "offer.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

static const char usage_text[] =
"usage: casesync case add     -d DIR [FILE|-]\n"
"       casesync case update  -d DIR ID [FILE|-]\n"
"       casesync case get     -d DIR ID\n"
"       casesync case list    -d DIR [--status S] [--json]\n"
"       casesync case history -d DIR ID [--json]\n"
"       casesync case transfer -d DIR ID --to NODE [--reason TEXT]\n"
"       casesync case erase   -d DIR ID\n"
"       casesync case accept  -d DIR ID\n"
"       casesync case decline -d DIR ID --reason TEXT\n"
"       casesync case referrals -d DIR [--days N] [--json]\n"
"\n"
"add reads one case as a JSON object (see docs/SCHEMA.md) and prints the\n"
"new case id; update sets the fields given and appends the events given;\n"
"get prints the case as JSON; list prints one line per case; history\n"
"prints the change entries that made the case, with author, node and time.\n"
"transfer refers the case to another province (an offer it accepts or\n"
"declines: case accept, case decline); erase removes its identifying\n"
"data everywhere (casesync case transfer --help, ... erase --help).\n"
"The author recorded is $CASESYNC_AUTHOR (or $USER) @ node.\n";

/* Parses -d and flags common to the case sub-verbs; returns the index of
 * the first positional argument or -1 after printing usage. */
struct case_opts {
	const char	*dir;
	const char	*status;
	int		 json;
};

static int
parse_opts(int argc, char **argv, struct case_opts *o)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 's': o->status = optarg; break;
		case 'j': o->json = 1; break;
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	return optind;
}

/* The shared write path (caseop.h) for this verb's node. */
static void
caseop_of(struct node_ctx *n, struct caseop *c)
{
	c->st = n->st;
	c->node = n->cfg.node;
	c->author = n->author;
	c->clock_offset_ms = n->cfg.clock_offset_ms;
}

static int
case_write(struct node_ctx *n, int argc, char **argv, int first, int create)
{
	struct caseop	 c;
	char		*json, err[512], idbuf[ENTRY_CASE_ID_LEN + 1] = "";
	const char	*id = NULL, *file = NULL;
	size_t		 len;
	int		 rc;

	if (!create) {
		if (first >= argc) {
			cli_error("case update: missing case ID");
			return EXIT_USAGE;
		}
		id = argv[first++];
		if (!uuid_valid(id)) {
			cli_error("case update: '%s' is not a case id", id);
			return EXIT_REJECT;
		}
	}
	if (first < argc)
		file = argv[first++];
	if (first < argc) {
		cli_error("case: unexpected argument '%s'", argv[first]);
		return EXIT_USAGE;
	}
	if (cli_read_input(file, SCHEMA_INPUT_MAX, &json, &len) != 0)
		return EXIT_REJECT;
	caseop_of(n, &c);
	if (create)
		rc = caseop_add(&c, json, len, idbuf, err, sizeof(err));
	else
		rc = caseop_update(&c, id, json, len, err, sizeof(err));
	free(json);
	if (rc != 0) {
		cli_error("%s", err);
		return cli_exit_for(rc);
	}
	if (create)
		printf("%s\n", idbuf);
	return EXIT_OK;
}

static int
case_get(struct node_ctx *n, int argc, char **argv, int first)
{
	struct case_state	 s;
	char			*out;

	if (first + 1 != argc) {
		cli_error("case get: give exactly one case ID");
		return EXIT_USAGE;
	}
	if (store_case_get(n->st, argv[first], &s) != 0) {
		cli_error("no case %s", argv[first]);
		return EXIT_REJECT;
	}
	out = schema_render(&s, 1);
	state_release(&s);
	printf("%s\n", out);
	free(out);
	return EXIT_OK;
}

struct list_ctx {
	const char	*status;
	int		 json;
	int		 first;
	size_t		 count;
};

static int
list_one(const struct case_state *s, void *arg)
{
	struct list_ctx	*lc = arg;
	struct offer	 of;
	char		 status[64], cat[64], recv[32];
	int		 pend = offer_pending(s, &of);

	schema_get_text(s, "status", status, sizeof(status));
	if (lc->status != NULL && strcmp(status, lc->status) != 0)
		return 0;
	schema_get_text(s, "person.category", cat, sizeof(cat));
	schema_get_text(s, "intake.received_on", recv, sizeof(recv));
	lc->count++;
	if (lc->json) {
		struct buf b;

		buf_init(&b, 4096);
		buf_append_str(&b, lc->first ? "\n  {" : ",\n  {");
		jsonw_key(&b, "id", 1);
		jsonw_str(&b, s->id);
		jsonw_key(&b, "owner", 0);
		jsonw_str(&b, s->owner);
		jsonw_key(&b, "status", 0);
		jsonw_str(&b, status);
		jsonw_key(&b, "category", 0);
		jsonw_str(&b, cat);
		jsonw_key(&b, "received_on", 0);
		jsonw_str(&b, recv);
		jsonw_key(&b, "read_only", 0);
		buf_append_str(&b, (s->flags & STATE_F_READONLY) ? "true" :
		    "false");
		/* The province a referral waits for, or null. */
		jsonw_key(&b, "referral_pending", 0);
		if (pend)
			jsonw_str(&b, of.to);
		else
			buf_append_str(&b, "null");
		buf_append_str(&b, "}");
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
	} else {
		printf("%s  %-22s  %-12s  %-18s  %s%s%s%s%s\n", s->id, status,
		    s->owner, cat[0] ? cat : "-", recv[0] ? recv : "-",
		    (s->flags & STATE_F_READONLY) ? "  (read-only)" : "",
		    pend ? "  (referral pending to " : "", pend ? of.to : "",
		    pend ? ")" : "");
	}
	lc->first = 0;
	return 0;
}

static int
case_list(struct node_ctx *n, const struct case_opts *o, int argc, int first)
{
	struct list_ctx	lc = { o->status, o->json, 1, 0 };
	int		rc;

	if (first != argc) {
		cli_error("case list: unexpected argument");
		return EXIT_USAGE;
	}
	if (o->json)
		fputs("[", stdout);
	rc = store_case_each(n->st, list_one, &lc);
	if (o->json)
		fputs(lc.first ? "]\n" : "\n]\n", stdout);
	if (rc != 0) {
		cli_error("case list: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	return EXIT_OK;
}

struct hist_ctx {
	int	json;
	int	first;
};

static const char *
sig_word(int sig_ok)
{
	/* REVOKED: signed with a key revoked from this seq or an earlier
	 * one (`casesync revoke --from-seq`). */
	return sig_ok == STORE_SIG_REVOKED ? "REVOKED" : sig_ok < 0 ?
	    "unsigned" : sig_ok ? "verified" : "FAILED";
}

static int
hist_one(const struct entry *e, int sig_ok, void *arg)
{
	struct hist_ctx	*hc = arg;
	struct buf	 b;
	char		 when[40];

	hlc_format(e->hlc, when, sizeof(when));
	buf_init(&b, 1 << 20);
	if (hc->json) {
		buf_append_str(&b, hc->first ? "\n  {" : ",\n  {");
		jsonw_key(&b, "time", 1);
		jsonw_str(&b, when);
		jsonw_key(&b, "node", 0);
		jsonw_str(&b, e->origin);
		buf_printf(&b, ",\"seq\":%llu,\"hlc\":%llu",
		    (unsigned long long)e->seq, (unsigned long long)e->hlc);
		jsonw_key(&b, "author", 0);
		jsonw_str(&b, e->author);
		jsonw_key(&b, "signature", 0);
		jsonw_str(&b, sig_word(sig_ok));
		buf_append_str(&b, ",\"ops\":[");
	} else {
		buf_printf(&b, "%s  %s/%llu  %s  signature %s\n", when,
		    e->origin, (unsigned long long)e->seq, e->author,
		    sig_word(sig_ok));
	}
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *o = &e->ops[i];

		if (hc->json) {
			buf_append_str(&b, i ? ",{" : "{");
			jsonw_key(&b, "op", 1);
		}
		switch (o->type) {
		case OP_SET:
			if (hc->json) {
				jsonw_str(&b, "set");
				jsonw_key(&b, "path", 0);
				jsonw_str(&b, o->path);
				jsonw_key(&b, "value", 0);
				buf_append(&b, o->value, o->value_len);
			} else {
				buf_printf(&b, "    set %s = %.*s\n", o->path,
				    (int)o->value_len, o->value);
			}
			break;
		case OP_EVENT:
			if (hc->json) {
				jsonw_str(&b, "add");
				jsonw_key(&b, "collection", 0);
				jsonw_str(&b, o->path);
				jsonw_key(&b, "id", 0);
				jsonw_str(&b, o->evid);
				jsonw_key(&b, "event", 0);
				buf_append(&b, o->value, o->value_len);
			} else {
				buf_printf(&b, "    add %s %s %.*s\n", o->path,
				    o->evid, (int)o->value_len, o->value);
			}
			break;
		case OP_TRANSFER:
			if (hc->json) {
				jsonw_str(&b, "transfer");
				jsonw_key(&b, "to", 0);
				jsonw_str(&b, o->to);
			} else {
				buf_printf(&b, "    owner -> %s\n", o->to);
			}
			break;
		case OP_ERASE: {
			/* A province's erase carries, signed, the transfer
			 * that made the owner in its writer's view (authorise.c,
			 * erase_view_ok); central's does not. */
			char	seen[40];

			if (o->base.hlc != 0)
				hlc_format(o->base.hlc, seen, sizeof(seen));
			if (hc->json) {
				jsonw_str(&b, "erase");
				if (o->base.hlc != 0) {
					jsonw_key(&b, "owner_seen", 0);
					buf_append_str(&b, "{");
					jsonw_key(&b, "node", 1);
					jsonw_str(&b, o->base.node);
					jsonw_key(&b, "time", 0);
					jsonw_str(&b, seen);
					buf_printf(&b, ",\"hlc\":%llu}",
					    (unsigned long long)o->base.hlc);
				}
			} else if (o->base.hlc != 0) {
				buf_printf(&b, "    erase identifying fields "
				    "(the owner as its writer saw it: made by "
				    "%s at %s)\n", o->base.node, seen);
			} else {
				buf_append_str(&b, "    erase identifying "
				    "fields\n");
			}
			break;
		}
		}
		if (hc->json)
			buf_append_str(&b, "}");
	}
	if (hc->json)
		buf_append_str(&b, "]}");
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	hc->first = 0;
	return 0;
}

static int
case_history(struct node_ctx *n, const struct case_opts *o, int argc,
    char **argv, int first)
{
	struct hist_ctx	hc = { o->json, 1 };
	int		rc;

	if (first + 1 != argc) {
		cli_error("case history: give exactly one case ID");
		return EXIT_USAGE;
	}
	if (o->json)
		fputs("[", stdout);
	rc = store_case_history(n->st, argv[first], hist_one, &hc);
	if (rc == E_NOTFOUND) {
		cli_error("no case %s", argv[first]);
		return EXIT_REJECT;
	}
	if (rc != 0) {
		/* A log record that does not open or decode (altered). */
		fflush(stdout);
		cli_error("case history: %s: %s (run `casesync verify`)",
		    argv[first], err_str(rc));
		return cli_exit_for(rc);
	}
	if (o->json)
		fputs(hc.first ? "]\n" : "\n]\n", stdout);
	return EXIT_OK;
}

int
cmd_case(int argc, char **argv)
{
	struct case_opts	 o;
	struct node_ctx		 n;
	const char		*sub;
	int			 first, rc;

	if (argc < 2 || cli_help(2, argv, usage_text)) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	/* These parse their own options (cmd_transfer.c). */
	if (strcmp(sub, "transfer") == 0)
		return cmd_case_transfer(argc - 1, argv + 1);
	if (strcmp(sub, "erase") == 0)
		return cmd_case_erase(argc - 1, argv + 1);
	if (strcmp(sub, "accept") == 0)
		return cmd_case_accept(argc - 1, argv + 1);
	if (strcmp(sub, "decline") == 0)
		return cmd_case_decline(argc - 1, argv + 1);
	if (strcmp(sub, "referrals") == 0)
		return cmd_case_referrals(argc - 1, argv + 1);
	if (cli_help(argc - 1, argv + 1, usage_text))
		return EXIT_OK;
	if ((first = parse_opts(argc - 1, argv + 1, &o)) < 0)
		return EXIT_USAGE;
	first++;	/* index into argv */
	if (strcmp(sub, "add") && strcmp(sub, "update") && strcmp(sub, "get")
	    && strcmp(sub, "list") && strcmp(sub, "history")) {
		cli_error("case: unknown sub-verb '%s'", sub);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(o.dir, &n)) != 0)
		return rc;
	if (strcmp(sub, "add") == 0)
		rc = case_write(&n, argc, argv, first, 1);
	else if (strcmp(sub, "update") == 0)
		rc = case_write(&n, argc, argv, first, 0);
	else if (strcmp(sub, "get") == 0)
		rc = case_get(&n, argc, argv, first);
	else if (strcmp(sub, "list") == 0)
		rc = case_list(&n, &o, argc, first);
	else
		rc = case_history(&n, &o, argc, argv, first);
	cli_close(&n);
	return rc;
}

/*
 * cmd_transfer.c - `casesync case transfer` (a referral to another
 * province) and `casesync case erase` (remove a person's identifying
 * data everywhere).  cmd_case.c dispatches here.
 *
 * A transfer is one local write: a referral event (status "completed":
 * ownership moves with this very entry) and an OP_TRANSFER to the new
 * owner.  Central routes the case's whole history to the new owner; the
 * old owner keeps a read-only copy without identifying fields, or none
 * with keep_transferred = no.
 *
 * An erase is one local write with OP_ERASE: a tombstone that every node
 * applies like any entry, removing identifying fields and notes and
 * ignoring identifying writes that arrive later (merge.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

static const char transfer_usage[] =
"usage: casesync case transfer -d DIR ID --to NODE [--reason TEXT]\n"
"\n"
"Refers case ID to province NODE, which becomes its owner: records a\n"
"referral (from the current owner to NODE, today, with the reason) and\n"
"moves ownership, in one change.  Run it on the owning province or on\n"
"central.  After the old owner and then NODE have synced with central,\n"
"NODE holds the whole case with its history and may change it; the old\n"
"owner may not, and keeps a read-only copy without identifying fields\n"
"(keep_transferred = yes in casesync.conf) or no copy (no).\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 refused (no such case, unknown node, not\n"
"the owner, read-only copy).\n";

static const char erase_usage[] =
"usage: casesync case erase -d DIR ID\n"
"\n"
"Erases the identifying data of case ID (names, id numbers, phones,\n"
"addresses and notes) on this node now and on every node that holds the\n"
"case after their next sync.  The fields statistics need (sex, birth\n"
"year, purposes, services, status, ...) stay.  The erase is permanent:\n"
"identifying values recorded anywhere before it, even ones that reach a\n"
"node later, are never shown again, and none can be set afterwards.\n"
"Run it on the owning province or on central.\n"
"\n"
"Exit codes: 0 ok (also when already erased), 1 usage, 2 refused.\n";

/* Today's date (the node's clock, local time) as YYYY-MM-DD. */
static void
today(const struct node_ctx *n, char *buf, size_t sz)
{
	time_t		t = (time_t)(((int64_t)now_ms() +
			    n->cfg.clock_offset_ms) / 1000);
	struct tm	tm;

	localtime_r(&t, &tm);
	if (strftime(buf, sz, "%Y-%m-%d", &tm) == 0)
		strlcpy_(buf, "1970-01-01", sz);
}

/*
 * The referral event for a transfer that takes effect at once: the
 * schema's helper writes status "proposed"; this entry completes the
 * referral, so the status says so.  The result is checked against the
 * schema again when the entry is written.  Caller owns the result.
 */
static char *
referral_json(const char *from, const char *to, const char *on)
{
	static const char	 proposed[] = "\"status\":\"proposed\"";
	static const char	 completed[] = "\"status\":\"completed\"";
	char			*r, *p, *out;
	size_t			 pre, n;

	if ((r = schema_referral_json(from, to, on)) == NULL)
		return NULL;
	/* The status is the last member of the canonical object. */
	n = strlen(r);
	if (n < sizeof(proposed) || strcmp(r + n - sizeof(proposed),
	    "\"status\":\"proposed\"}") != 0) {
		free(r);
		return NULL;
	}
	p = r + n - sizeof(proposed);
	pre = (size_t)(p - r);
	out = xmalloc(pre + sizeof(completed) + 1);
	memcpy(out, r, pre);
	memcpy(out + pre, completed, sizeof(completed) - 1);
	out[pre + sizeof(completed) - 1] = '}';
	out[pre + sizeof(completed)] = '\0';
	free(r);
	return out;
}

/* Parses -d and the flags of transfer/erase.  Returns the index of the
 * first positional argument, or -1 after printing usage. */
static int
parse(int argc, char **argv, const char *usage, const char **dir,
    const char **to, const char **reason)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "to", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': *dir = optarg; break;
		case 't':
			if (to == NULL)
				goto bad;
			*to = optarg;
			break;
		case 'r':
			if (reason == NULL)
				goto bad;
			*reason = optarg;
			break;
		default:
			goto bad;
		}
	}
	return optind;
bad:
	fputs(usage, stderr);
	return -1;
}

/* The one positional case id at argv[first]; exit code or 0. */
static int
case_arg(int argc, char **argv, int first, const char *verb,
    const char **id)
{
	if (first + 1 != argc) {
		cli_error("case %s: give exactly one case ID", verb);
		return EXIT_USAGE;
	}
	*id = argv[first];
	if (!uuid_valid(*id)) {
		cli_error("case %s: '%s' is not a case id", verb, *id);
		return EXIT_REJECT;
	}
	return 0;
}

static int
write_one(struct node_ctx *n, struct entry *e, const char *verb)
{
	char	err[512];
	int	rc;

	strlcpy_(e->author, n->author, sizeof(e->author));
	if ((rc = store_write_local(n->st, e, 1, err, sizeof(err))) != 0) {
		/* The store says "entry 1: ..."; one entry: drop that. */
		const char *m = strncmp(err, "entry 1: ", 9) == 0 ? err + 9 :
		    err;
		cli_error("case %s: %s", verb, m);
		return cli_exit_for(rc);
	}
	return 0;
}

int
cmd_case_transfer(int argc, char **argv)
{
	struct node_ctx		 n;
	struct case_state	 s;
	struct entry		 e;
	struct op		*o;
	const char		*dir = NULL, *to = NULL, *reason = NULL, *id;
	char			 on[16], evid[ENTRY_CASE_ID_LEN + 1];
	char			*ref, *rsn;
	int			 first, rc;

	if (cli_help(argc, argv, transfer_usage))
		return EXIT_OK;
	if ((first = parse(argc, argv, transfer_usage, &dir, &to,
	    &reason)) < 0)
		return EXIT_USAGE;
	if ((rc = case_arg(argc, argv, first, "transfer", &id)) != 0)
		return rc;
	if (to == NULL) {
		cli_error("case transfer: give --to NODE (the province that "
		    "takes the case over)");
		return EXIT_USAGE;
	}
	if (!node_id_valid(to) || !schema_node_known(to)) {
		cli_error("case transfer: unknown node '%s' (see "
		    "data/provinces.tsv)", to);
		return EXIT_REJECT;
	}
	if (strcmp(to, "central") == 0) {
		cli_error("case transfer: a case is owned by a province; "
		    "central can change every case already");
		return EXIT_REJECT;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (store_case_get(n.st, id, &s) != 0) {
		cli_error("case transfer: no case %s on this node", id);
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (strcmp(s.owner, to) == 0) {
		cli_error("case transfer: case %s is owned by %s already", id,
		    to);
		state_release(&s);
		cli_close(&n);
		return EXIT_REJECT;
	}
	today(&n, on, sizeof(on));
	ref = referral_json(s.owner[0] ? s.owner : n.cfg.node, to, on);
	rsn = reason != NULL ? schema_reason_json(reason) : NULL;
	if (ref == NULL || (reason != NULL && rsn == NULL)) {
		cli_error("case transfer: --reason must be 1 to 500 bytes of "
		    "text");
		free(ref);
		free(rsn);
		state_release(&s);
		cli_close(&n);
		return EXIT_REJECT;
	}
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	o = entry_add_op(&e, OP_EVENT);
	strlcpy_(o->path, "referrals", sizeof(o->path));
	uuid7(evid, now_ms());
	strlcpy_(o->evid, evid, sizeof(o->evid));
	op_set_value(o, ref, strlen(ref));
	if (rsn != NULL) {
		/* The reason is identifying: an event of its own under the
		 * referral's id (schema.h, schema_reason_json). */
		o = entry_add_op(&e, OP_EVENT);
		strlcpy_(o->path, "referral_reasons", sizeof(o->path));
		strlcpy_(o->evid, evid, sizeof(o->evid));
		op_set_value(o, rsn, strlen(rsn));
	}
	o = entry_add_op(&e, OP_TRANSFER);
	strlcpy_(o->to, to, sizeof(o->to));
	rc = write_one(&n, &e, "transfer");
	if (rc == 0) {
		log_info("case %s referred from %s to %s by %s", id, s.owner,
		    to, n.author);
		printf("case %s referred from %s to %s\n", id, s.owner, to);
		printf("%s takes it over once this node and then %s have "
		    "synced with central\n", to, to);
	}
	free(ref);
	free(rsn);
	entry_release(&e);
	state_release(&s);
	cli_close(&n);
	return rc;
}

int
cmd_case_erase(int argc, char **argv)
{
	struct node_ctx		 n;
	struct case_state	 s;
	struct entry		 e;
	const char		*dir = NULL, *id;
	int			 first, rc;

	if (cli_help(argc, argv, erase_usage))
		return EXIT_OK;
	if ((first = parse(argc, argv, erase_usage, &dir, NULL, NULL)) < 0)
		return EXIT_USAGE;
	if ((rc = case_arg(argc, argv, first, "erase", &id)) != 0)
		return rc;
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (store_case_get_sealed(n.st, id, &s) != 0) {
		cli_error("case erase: no case %s on this node", id);
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (s.erased.hlc != 0) {
		printf("case %s is erased already\n", id);
		state_release(&s);
		cli_close(&n);
		return EXIT_OK;
	}
	state_release(&s);
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	entry_add_op(&e, OP_ERASE);
	rc = write_one(&n, &e, "erase");
	if (rc == 0) {
		log_info("case %s erased by %s", id, n.author);
		printf("case %s: identifying data erased on this node; the "
		    "other nodes\nthat hold it erase it at their next sync\n",
		    id);
	}
	entry_release(&e);
	cli_close(&n);
	return rc;
}

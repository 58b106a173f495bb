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

#include "caseop.h"
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

/* The shared write path (caseop.h) for this verb's node. */
static void
caseop_of(struct node_ctx *n, struct caseop *c)
{
	c->st = n->st;
	c->node = n->cfg.node;
	c->author = n->author;
	c->clock_offset_ms = n->cfg.clock_offset_ms;
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

int
cmd_case_transfer(int argc, char **argv)
{
	struct node_ctx		 n;
	struct caseop		 c;
	const char		*dir = NULL, *to = NULL, *reason = NULL, *id;
	char			 from[HLC_NODE_MAX + 1], err[512];
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
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	caseop_of(&n, &c);
	rc = caseop_transfer(&c, id, to, reason, from, err, sizeof(err));
	if (rc != 0) {
		if (rc == E_INVAL && reason != NULL &&
		    strstr(err, "reason") != NULL)
			cli_error("case transfer: --reason must be 1 to 500 "
			    "bytes of text");
		else
			cli_error("case transfer: %s", err);
		cli_close(&n);
		return cli_exit_for(rc);
	}
	log_info("case %s referred from %s to %s by %s", id, from, to,
	    n.author);
	printf("case %s referred from %s to %s\n", id, from, to);
	printf("%s takes it over once this node and then %s have "
	    "synced with central\n", to, to);
	cli_close(&n);
	return EXIT_OK;
}

int
cmd_case_erase(int argc, char **argv)
{
	struct node_ctx		 n;
	struct caseop		 c;
	const char		*dir = NULL, *id;
	char			 err[512];
	int			 first, rc, already;

	if (cli_help(argc, argv, erase_usage))
		return EXIT_OK;
	if ((first = parse(argc, argv, erase_usage, &dir, NULL, NULL)) < 0)
		return EXIT_USAGE;
	if ((rc = case_arg(argc, argv, first, "erase", &id)) != 0)
		return rc;
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	caseop_of(&n, &c);
	rc = caseop_erase(&c, id, &already, err, sizeof(err));
	if (rc != 0) {
		cli_error("case erase: %s", err);
		cli_close(&n);
		return cli_exit_for(rc);
	}
	if (already) {
		printf("case %s is erased already\n", id);
	} else {
		log_info("case %s erased by %s", id, n.author);
		printf("case %s: identifying data erased on this node; the "
		    "other nodes\nthat hold it erase it at their next sync\n",
		    id);
	}
	cli_close(&n);
	return EXIT_OK;
}

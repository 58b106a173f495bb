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
#include "referral.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

static const char transfer_usage[] =
"usage: casesync case transfer -d DIR ID --to NODE [--reason TEXT]\n"
"\n"
"Refers case ID to province NODE.  On the owning province this is an\n"
"offer: the case shows \"referral pending\" and stays this province's\n"
"until NODE accepts it (casesync case accept), when ownership moves, or\n"
"declines it with a reason, which this province sees after its next\n"
"sync.  NODE receives the case to decide once this node and then NODE\n"
"have synced with central.  One offer waits at a time.\n"
"On central it reassigns the case at once (a decision of the ministry).\n"
"The old owner keeps a read-only copy without identifying fields\n"
"(keep_transferred = yes in casesync.conf) or no copy (no).\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 refused (no such case, unknown node, not\n"
"the owner, read-only copy, an offer already pending).\n";

static const char accept_usage[] =
"usage: casesync case accept -d DIR ID\n"
"\n"
"Accepts the referral of case ID that waits for this province: the case\n"
"becomes this province's, with its whole history, once this node and\n"
"then the sending province have synced with central.\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 refused (no such case, no referral waits\n"
"for this province).\n";

static const char decline_usage[] =
"usage: casesync case decline -d DIR ID --reason TEXT\n"
"\n"
"Declines the referral of case ID that waits for this province, with a\n"
"reason (1 to 500 bytes; identifying, sealed at rest).  The case stays\n"
"with the sending province, which sees the reason after its next sync;\n"
"this province keeps a read-only copy without identifying fields\n"
"(keep_transferred = yes) or none.\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 refused (no such case, no referral waits\n"
"for this province, bad reason).\n";

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

static const char referrals_usage[] =
"usage: casesync case referrals -d DIR [--days N] [--json]\n"
"\n"
"Lists the referrals that wait for an answer: on a province those sent\n"
"to it (in) and those it sent (out), on central all of them; with\n"
"--days N only those that have waited N days or more.  Each line gives the\n"
"case, the sending and receiving provinces, the day of the offer, the\n"
"days waited and the reason.\n"
"\n"
"Exit codes: 0 ok, 1 usage.\n";

/* The shared write path (caseop.h) for this verb's node. */
static void
caseop_of(struct node_ctx *n, struct caseop *c)
{
	c->st = n->st;
	c->node = n->cfg.node;
	c->author = n->author;
	c->clock_offset_ms = n->cfg.clock_offset_ms;
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
	{
		const struct cli_opt o[] = {
			{ "to", &to, NULL }, { "reason", &reason, NULL },
		};

		if ((first = cli_parse(argc, argv, transfer_usage, &dir, o,
		    2)) < 0)
			return EXIT_USAGE;
	}
	if ((rc = case_arg(argc, argv, first, "transfer", &id)) != 0)
		return rc;
	if (to == NULL) {
		cli_error("case transfer: give --to NODE (the province that "
		    "takes the case over)");
		return EXIT_USAGE;
	}
	if (!node_id_valid(to) || !schema_node_known(to)) {
		cli_error("case transfer: unknown node '%s' (see "
		    "deploy/provinces.tsv)", to);
		return EXIT_REJECT;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	caseop_of(&n, &c);
	rc = caseop_transfer(&c, id, to, reason, from, err, sizeof(err));
	if (rc != 0) {
		cli_error("case transfer: %s", err);
		cli_close(&n);
		return cli_exit_for(rc);
	}
	if (strcmp(n.cfg.node, "central") == 0) {
		printf("case %s referred from %s to %s\n", id, from, to);
		printf("%s takes it over once this node and then %s have "
		    "synced with central\n", to, to);
	} else {
		printf("case %s offered from %s to %s\n", id, from, to);
		printf("%s keeps it until %s accepts (casesync case accept) "
		    "or declines the referral\n", from, to);
	}
	cli_close(&n);
	return EXIT_OK;
}

/* accept (reason NULL) and decline. */
static int
answer(int argc, char **argv, int accept)
{
	struct node_ctx		 n;
	struct caseop		 c;
	struct offer		 o;
	const char		*dir = NULL, *reason = NULL, *id;
	const char		*verb = accept ? "accept" : "decline";
	const char		*usage = accept ? accept_usage : decline_usage;
	char			 on[16], err[512];
	int			 first, rc;

	if (cli_help(argc, argv, usage))
		return EXIT_OK;
	{
		const struct cli_opt ro[] = { { "reason", &reason, NULL } };

		/* Only a decline gives a reason. */
		if ((first = cli_parse(argc, argv, usage, &dir, ro,
		    accept ? 0 : 1)) < 0)
			return EXIT_USAGE;
	}
	if ((rc = case_arg(argc, argv, first, verb, &id)) != 0)
		return rc;
	if (!accept && reason == NULL) {
		cli_error("case decline: give --reason TEXT (the sending "
		    "province sees it)");
		return EXIT_USAGE;
	}
	if (!accept && (reason[0] == '\0' ||
	    strlen(reason) > REFERRAL_REASON_MAX)) {
		cli_error("case decline: --reason must be 1 to %d bytes of "
		    "text", REFERRAL_REASON_MAX);
		return EXIT_REJECT;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	caseop_of(&n, &c);
	caseop_today(&c, on, sizeof(on));
	rc = referral_answer(n.st, n.author, n.cfg.node, id, accept, reason,
	    on, &o, err, sizeof(err));
	if (rc != 0) {
		cli_error("case %s: %s", verb, err);
		cli_close(&n);
		return cli_exit_for(rc);
	}
	if (accept)
		printf("case %s: referral from %s accepted; %s owns the case "
		    "once this node and then %s have synced with central\n",
		    id, o.from, n.cfg.node, o.from);
	else
		printf("case %s: referral from %s declined; the case stays "
		    "with %s, which sees the reason after its next sync\n",
		    id, o.from, o.from);
	cli_close(&n);
	return EXIT_OK;
}

int
cmd_case_accept(int argc, char **argv)
{
	return answer(argc, argv, 1);
}

int
cmd_case_decline(int argc, char **argv)
{
	return answer(argc, argv, 0);
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
	if ((first = cli_parse(argc, argv, erase_usage, &dir, NULL, 0)) < 0)
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

struct list_ctx {
	const char	*node;
	const char	*today;
	long		 days;
	int		 json;
	int		 first;
};

static int
list_one(const struct referral_item *it, void *arg)
{
	struct list_ctx	*lc = arg;
	struct buf	 b;
	int		 waited = referral_days(it->offer.on, lc->today);
	const char	*dir = strcmp(it->offer.to, lc->node) == 0 ? "in" :
			    strcmp(it->offer.from, lc->node) == 0 ? "out" : "-";

	if (lc->days >= 0 && waited < lc->days)
		return 0;
	if (!lc->json) {
		printf("%s  %-3s  %-12s -> %-12s  %s  %3d d  %s\n",
		    it->case_id, dir, it->offer.from, it->offer.to,
		    it->offer.on, waited, it->reason[0] ? it->reason : "-");
		return 0;
	}
	buf_init(&b, 4096);
	buf_append_str(&b, lc->first ? "\n  {" : ",\n  {");
	jsonw_key(&b, "case", 1);
	jsonw_str(&b, it->case_id);
	jsonw_key(&b, "referral", 0);
	jsonw_str(&b, it->offer.id);
	jsonw_key(&b, "direction", 0);
	jsonw_str(&b, dir);
	jsonw_key(&b, "from", 0);
	jsonw_str(&b, it->offer.from);
	jsonw_key(&b, "to", 0);
	jsonw_str(&b, it->offer.to);
	jsonw_key(&b, "on", 0);
	jsonw_str(&b, it->offer.on);
	jsonw_key(&b, "days", 0);
	buf_printf(&b, "%d", waited);
	jsonw_key(&b, "reason", 0);
	jsonw_str(&b, it->reason);
	buf_append_str(&b, "}");
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	lc->first = 0;
	return 0;
}

int
cmd_case_referrals(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "days", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx	 n;
	struct list_ctx	 lc;
	const char	*dir = NULL;
	char		 on[16];
	uint64_t	 days;
	int		 ch, rc, central;

	if (cli_help(argc, argv, referrals_usage))
		return EXIT_OK;
	memset(&lc, 0, sizeof(lc));
	lc.days = -1;
	lc.first = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'j': lc.json = 1; break;
		case 'n':
			if (parse_u64(optarg, 0, 36500, &days) != 0) {
				cli_error("case referrals: --days takes a "
				    "number of days from 0 to 36500");
				return EXIT_USAGE;
			}
			lc.days = (long)days;
			break;
		default:
			fputs(referrals_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("case referrals: unexpected argument");
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	{
		struct caseop c;

		caseop_of(&n, &c);
		caseop_today(&c, on, sizeof(on));
	}
	lc.node = n.cfg.node;
	lc.today = on;
	central = strcmp(n.cfg.node, "central") == 0;
	if (lc.json)
		fputs("[", stdout);
	rc = referral_each(n.st, n.cfg.node, central ? REFERRAL_ALL :
	    REFERRAL_IN | REFERRAL_OUT, list_one, &lc);
	if (lc.json)
		fputs(lc.first ? "]\n" : "\n]\n", stdout);
	cli_close(&n);
	if (rc != 0) {
		cli_error("case referrals: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	return EXIT_OK;
}

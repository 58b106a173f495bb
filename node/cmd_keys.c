/*
 * cmd_keys.c - `casesync key`, `casesync trust`, `casesync revoke`:
 * node identities and enrolment.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#include "../common/err.h"
#include "../common/util.h"

static const char key_usage[] =
"usage: casesync key -d DIR\n"
"\n"
"Prints this node's public key as one line (cs1-...): its Ed25519 signing\n"
"key and its CURVE transport key.  Give it to the other side's `trust`.\n";

static const char trust_usage[] =
"usage: casesync trust -d DIR NODE_ID PUBKEY\n"
"\n"
"On central: enrols province NODE_ID with its public key (the line its\n"
"`casesync key` prints); it may sync from then on.  On a province: pins\n"
"central's key (NODE_ID is central's node id); the province refuses any\n"
"other server.  Re-trusting a revoked node enrols it again.\n";

static const char revoke_usage[] =
"usage: casesync revoke -d DIR NODE_ID\n"
"\n"
"On central: refuses NODE_ID from its next connection on.  Its past\n"
"entries stay valid (their signatures still verify).\n";

/* Parses -d; returns optind or -1. */
static int
dir_opt(int argc, char **argv, const char *usage, const char **dir)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*dir = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch != 'd') {
			fputs(usage, stderr);
			return -1;
		}
		*dir = optarg;
	}
	return optind;
}

int
cmd_key(int argc, char **argv)
{
	struct node_ctx	 n;
	const char	*dir;
	char		 line[PUBKEY_TEXT_LEN + 1];
	int		 i, rc;

	if (cli_help(argc, argv, key_usage))
		return EXIT_OK;
	if ((i = dir_opt(argc, argv, key_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (i != argc) {
		cli_error("key: unexpected argument '%s'", argv[i]);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	identity_pubkey_text(&n.id, line);
	printf("%s\n", line);
	cli_close(&n);
	return EXIT_OK;
}

struct one_active {
	char		 node[HLC_NODE_MAX + 1];	/* the first found */
	int		 n;		/* active keys */
	const char	*want;
	int		 has_want;	/* want is among them */
};

static int
find_active(const struct node_key *nk, void *arg)
{
	struct one_active *a = arg;

	if (nk->status == KEY_ACTIVE) {
		if (a->n++ == 0)
			strlcpy_(a->node, nk->node, sizeof(a->node));
		if (a->want != NULL && strcmp(a->want, nk->node) == 0)
			a->has_want = 1;
	}
	return 0;
}

int
cmd_trust(int argc, char **argv)
{
	struct node_ctx		 n;
	struct node_key		 nk, old;
	struct one_active	 a = { "", 0, NULL, 0 };
	const char		*dir;
	int			 i, rc;

	if (cli_help(argc, argv, trust_usage))
		return EXIT_OK;
	if ((i = dir_opt(argc, argv, trust_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (argc - i != 2) {
		cli_error("trust: give NODE_ID and PUBKEY");
		return EXIT_USAGE;
	}
	memset(&nk, 0, sizeof(nk));
	if (!node_id_valid(argv[i])) {
		cli_error("trust: '%s' is not a node id", argv[i]);
		return EXIT_USAGE;
	}
	if (pubkey_parse(argv[i + 1], nk.sign_pub, nk.curve_pub) != 0) {
		cli_error("trust: the key is not a `casesync key` line "
		    "(cs1- and 128 hex digits)");
		return EXIT_REJECT;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (strcmp(argv[i], n.cfg.node) == 0) {
		cli_error("trust: %s is this node", argv[i]);
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (strcmp(n.cfg.role, "province") == 0) {
		char	eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX];
		int	neps = nodecfg_centrals(n.cfg.central, eps);

		a.want = argv[i];
		store_key_each(n.st, find_active, &a);
		/* One key per central endpoint (a central and its standby,
		 * docs/HA.md). */
		if (!a.has_want && a.n >= (neps > 1 ? neps : 1)) {
			cli_error("trust: this province already pins central "
			    "%s; a province pins one key per endpoint of "
			    "`central` (%d)", a.node, neps > 1 ? neps : 1);
			cli_close(&n);
			return EXIT_REJECT;
		}
	}
	strlcpy_(nk.node, argv[i], sizeof(nk.node));
	nk.status = KEY_ACTIVE;
	nk.since_ms = now_ms();
	if (store_key_get(n.st, nk.node, &old) == 0 && old.status ==
	    KEY_ACTIVE && memcmp(old.sign_pub, nk.sign_pub, 32) != 0)
		fprintf(stderr, "casesync: trust: replacing the key of %s\n",
		    nk.node);
	rc = store_key_put(n.st, &nk);
	cli_close(&n);
	if (rc != 0) {
		cli_error("trust: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	printf("%s %s\n", strcmp(n.cfg.role, "central") == 0 ? "enrolled" :
	    "pinned central", nk.node);
	return EXIT_OK;
}

int
cmd_revoke(int argc, char **argv)
{
	struct node_ctx	 n;
	struct node_key	 nk;
	const char	*dir;
	int		 i, rc;

	if (cli_help(argc, argv, revoke_usage))
		return EXIT_OK;
	if ((i = dir_opt(argc, argv, revoke_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (argc - i != 1) {
		cli_error("revoke: give NODE_ID");
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (store_key_get(n.st, argv[i], &nk) != 0 || nk.status == KEY_KNOWN) {
		cli_error("revoke: %s is not enrolled", argv[i]);
		cli_close(&n);
		return EXIT_REJECT;
	}
	nk.status = KEY_REVOKED;
	nk.since_ms = now_ms();
	rc = store_key_put(n.st, &nk);
	cli_close(&n);
	if (rc != 0) {
		cli_error("revoke: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	printf("revoked %s\n", argv[i]);
	return EXIT_OK;
}

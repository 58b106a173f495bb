/*
 * cmd_verify.c - `casesync verify`: rebuild every case from the change log
 * and compare with the case table.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keyhist.h"

#include "../common/err.h"
#include "../common/util.h"

#define KEYHIST_NODES_MAX	1024

static const char usage_text[] =
"usage: casesync verify -d DIR\n"
"\n"
"Rebuilds every case from the change log (the fold) and compares it with\n"
"the case table, checks the provenance of every entry (its signature under\n"
"the key its origin had at its seq, and no key revoked from there) and\n"
"that every key hand-over is signed by the key before it.  Exit 0 when\n"
"all holds, 4 when any case differs, is missing from either side or does\n"
"not decode, or an entry or hand-over does not verify.\n";

/* The nodes whose keys this node knows, and its own. */
struct kh_nodes {
	char	node[KEYHIST_NODES_MAX][HLC_NODE_MAX + 1];
	size_t	n;
};

static int
kh_node(const struct node_key *nk, void *arg)
{
	struct kh_nodes *kn = arg;

	if (kn->n < KEYHIST_NODES_MAX)
		strlcpy_(kn->node[kn->n++], nk->node, sizeof(kn->node[0]));
	return 0;
}

int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx	 n;
	const char	*dir = NULL;
	uint64_t	 ncases, nentries, bad;
	char		 err[512];
	int		 ch, rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch != 'd') {
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
		dir = optarg;
	}
	if (optind != argc) {
		cli_error("verify: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	rc = store_verify(n.st, &ncases, &nentries, &bad, err, sizeof(err));
	/* The key histories: every hand-over signed by the key before it
	 * (keyhist.h). */
	if (rc == 0) {
		struct kh_nodes	kn;

		memset(&kn, 0, sizeof(kn));
		strlcpy_(kn.node[kn.n++], n.cfg.node, sizeof(kn.node[0]));
		store_key_each(n.st, kh_node, &kn);
		for (size_t i = 0; i < kn.n && rc == 0; i++)
			if ((rc = keyhist_check(n.st, kn.node[i], err,
			    sizeof(err))) == E_INTEGRITY) {
				cli_close(&n);
				cli_error("verify: %s", err);
				return EXIT_INTEGRITY;
			}
	}
	cli_close(&n);
	if (rc == E_INTEGRITY) {
		cli_error("verify: %llu of %llu cases do not match the log; "
		    "first: %s", (unsigned long long)bad,
		    (unsigned long long)ncases, err);
		return EXIT_INTEGRITY;
	}
	if (rc != 0) {
		cli_error("verify: %s", err_str(rc));
		return EXIT_INTEGRITY;
	}
	printf("ok: %llu cases match the fold of %llu log entries\n",
	    (unsigned long long)ncases, (unsigned long long)nentries);
	return EXIT_OK;
}

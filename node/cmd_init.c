/*
 * cmd_init.c - `casesync init`: create a node directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/util.h"

static const char usage_text[] =
"usage: casesync init -d DIR --node ID --role province|central|standby\n"
"                     [--listen tcp://HOST:PORT] [--central \"tcp://HOST:PORT ...\"]\n"
"                     [--primary tcp://HOST:PORT]\n"
"\n"
"Creates DIR (mode 0700) with casesync.conf and an empty store.  An\n"
"existing DIR must be owned by the user running init, and neither group\n"
"nor others may write to it (every verb checks this again).  A province\n"
"names central's endpoint with --central; central names its own with\n"
"--listen.  ID is [a-z0-9-]{1,32}; a province's ID should be its node id\n"
"from deploy/provinces.tsv (e.g. lao-cai).\n"
"\n"
"High availability (docs/HA.md): a standby central follows central at\n"
"--primary and listens on --listen once promoted (`casesync promote`);\n"
"its ID is the name central lets follow (`standby` in central's\n"
"casesync.conf, by default standby).  A province may name several\n"
"centrals, tried in order, each with the name its key is pinned under\n"
"(`casesync trust`): --central \"central@tcp://a:7400 standby@tcp://b:7400\"\n"
"(without names, keys pair with endpoints in the order they were pinned).\n";

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "node", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ "central", required_argument, NULL, 'c' },
		{ "primary", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct nodecfg	 cfg;
	struct store	*st;
	const char	*dir = NULL;
	char		 err[512] = "";
	int		 ch, rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'n': strlcpy_(cfg.node, optarg, sizeof(cfg.node)); break;
		case 'r': strlcpy_(cfg.role, optarg, sizeof(cfg.role)); break;
		case 'l':
			strlcpy_(cfg.listen, optarg, sizeof(cfg.listen));
			break;
		case 'c':
			strlcpy_(cfg.central, optarg, sizeof(cfg.central));
			break;
		case 'p':
			strlcpy_(cfg.primary, optarg, sizeof(cfg.primary));
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("init: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || cfg.node[0] == '\0' || cfg.role[0] == '\0') {
		cli_error("init: -d DIR, --node and --role are required");
		return EXIT_USAGE;
	}
	if (!node_id_valid(cfg.node)) {
		cli_error("init: node id '%s' is not [a-z0-9-]{1,32}",
		    cfg.node);
		return EXIT_USAGE;
	}
	if (strcmp(cfg.role, "province") != 0 &&
	    strcmp(cfg.role, "central") != 0 &&
	    strcmp(cfg.role, "standby") != 0) {
		cli_error("init: role must be province, central or standby");
		return EXIT_USAGE;
	}
	if ((strcmp(cfg.role, "standby") == 0) != (cfg.primary[0] != '\0')) {
		cli_error("init: --primary (central's endpoint) is for a "
		    "standby, and a standby needs it");
		return EXIT_USAGE;
	}
	if (strcmp(cfg.role, "standby") == 0 && schema_node_known(cfg.node)) {
		cli_error("init: a standby's ID must not be a province's");
		return EXIT_USAGE;
	}
	if (strcmp(cfg.role, "province") == 0 && !schema_node_known(cfg.node))
		fprintf(stderr, "casesync: warning: '%s' is not a province "
		    "node id from deploy/provinces.tsv\n", cfg.node);
	{
		char eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX];

		if ((cfg.listen[0] && !nodecfg_endpoint_valid(cfg.listen)) ||
		    (cfg.primary[0] && !nodecfg_endpoint_valid(cfg.primary)) ||
		    (cfg.central[0] && nodecfg_centrals(cfg.central,
		    eps, NULL) <= 0)) {
			cli_error("init: endpoints are tcp://HOST:PORT (--central: "
			    "up to %d, separated by spaces, each NAME@tcp://... "
			    "or none)",
			    NODECFG_CENTRALS_MAX);
			return EXIT_USAGE;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cli_error("%s: %s", dir, strerror(errno));
		return EXIT_REJECT;
	}
	/* An existing directory must be ours and closed to others, or
	 * whoever else can write there could swap the node's files. */
	if (identity_dir_check(dir, err, sizeof(err)) != 0) {
		cli_error("init: %s", err);
		return EXIT_REJECT;
	}
	if ((rc = nodecfg_create(dir, &cfg, err, sizeof(err))) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if ((rc = identity_create(dir, cli_passphrase(), err,
	    sizeof(err))) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if ((rc = store_open(dir, &st, err, sizeof(err))) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if ((rc = store_init_node(st, cfg.node, cfg.role)) != 0) {
		store_close(&st);
		cli_error("%s: %s", dir, err_str(rc));
		return EXIT_REJECT;
	}
	store_close(&st);
	/* Opening once through the normal path records the data key's check
	 * value, so a wrong passphrase is caught from the first use on. */
	{
		struct node_ctx n;

		if ((rc = cli_open(dir, &n)) != 0)
			return rc;
		cli_close(&n);
	}
	printf("initialised %s node %s in %s\n", cfg.role, cfg.node, dir);
	return EXIT_OK;
}

/*
 * cmd_verify.c - `casesync verify`: rebuild every case from the change log
 * and compare with the case table.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

#include "../common/err.h"

static const char usage_text[] =
"usage: casesync verify -d DIR\n"
"\n"
"Rebuilds every case from the change log (the fold) and compares it with\n"
"the case table.  Exit 0 when they agree, 4 when any case differs, is\n"
"missing from either side or does not decode.\n";

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

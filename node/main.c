/*
 * main.c - the `casesync` command: dispatches to one verb per cmd_*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#include "../common/err.h"
#include "../common/harden.h"
#include "../common/log.h"

/* The mutable globals of casesync (see STYLE.md): the flag the signal
 * handlers set, and the passphrase taken from the environment. */
#define STR(x)	#x
#define XSTR(x)	STR(x)

volatile sig_atomic_t casesync_quit;
static struct harden_secret passphrase;

const char *
cli_passphrase(void)
{
	return passphrase.p;
}

void
cli_passphrase_forget(void)
{
	harden_secret_wipe(&passphrase);
}

struct verb {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*summary;
};

static const struct verb verbs[] = {
	{ "init", cmd_init, "create a node directory" },
	{ "case", cmd_case, "add, update, get, list, transfer, accept, decline, erase cases" },
	{ "status", cmd_status, "node id, role, counts, vector, peers" },
	{ "verify", cmd_verify, "rebuild the log's fold and compare" },
	{ "export", cmd_export, "write every case as JSON Lines" },
	{ "import", cmd_import, "read cases from JSON Lines" },
	{ "serve", cmd_serve, "run the node (central: accept provinces)" },
	{ "sync", cmd_sync, "province: one sync session with central" },
	{ "report", cmd_report, "statistics for the ministry (--public)" },
	{ "key", cmd_key, "print this node's public key; key rotate" },
	{ "trust", cmd_trust, "enrol a province / pin central's key" },
	{ "revoke", cmd_revoke, "central: refuse a province or a stolen key" },
	{ "conflicts", cmd_conflicts, "list and resolve conflicting edits" },
	{ "console", cmd_console, "serve the administrators' web console" },
	{ "user", cmd_user, "add, disable, list console users" },
	{ "backup", cmd_backup, "write a consistent copy of a running node" },
	{ "restore", cmd_restore, "put a backup back (new incarnation)" },
	{ "promote", cmd_promote, "make a standby the central (HA)" },
	{ "rejoin", cmd_rejoin, "make a fenced old central the standby" },
};

static void
usage(FILE *f)
{
	fputs("usage: casesync VERB [options]   (casesync VERB --help)\n\n"
	    "casesync keeps trafficking-victim case files consistent between\n"
	    "provincial nodes and a central node.\n\nverbs:\n", f);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nexit codes: 0 ok, 1 usage, 2 rejected input, 3 cannot reach "
	    "a peer,\n4 integrity failure.  The node directory comes from "
	    "-d DIR or CASESYNC_DIR.\n", f);
}

int
main(int argc, char **argv)
{
	int rc;

	log_init("casesync", LOG_LVL_WARN, 0);
	/*
	 * Before any key is read: no core dump, no ptrace by other
	 * processes of this user, and the passphrase out of the
	 * environment (common/harden.h).  All verbs, and the session
	 * processes serve and sync fork, run this way.
	 */
	if (harden_process() != 0) {
		cli_error("cannot disable core dumps (setrlimit, prctl): %s",
		    strerror(errno));
		return EXIT_REJECT;
	}
	if ((rc = harden_secret_take(&passphrase, "CASESYNC_PASSPHRASE"))) {
		cli_error("CASESYNC_PASSPHRASE: %s%s", rc == E_TOOBIG ?
		    "longer than the limit of " : err_str(rc), rc ==
		    E_TOOBIG ? XSTR(HARDEN_SECRET_MAX) " bytes" : "");
		return EXIT_REJECT;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	cli_error("unknown verb '%s' (casesync --help lists them)", argv[1]);
	return EXIT_USAGE;
}

/*
 * cmd_sync.c - `casesync sync` (a province's one session with central)
 * and `casesync serve` (central: accept provinces; province: sync
 * continuously or on a schedule).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "repl.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

static const char sync_usage[] =
"usage: casesync sync -d DIR [--timeout SECONDS] [--quiet]\n"
"\n"
"Province: one sync session with central, both ways: sends the entries\n"
"central lacks, applies the entries central has for this province.  Exits\n"
"0 once everything pending has been acknowledged in both directions and\n"
"prints a one-line summary; exits 3 when central cannot be reached (or\n"
"the sync cannot complete) in time: nothing is lost, the next run picks\n"
"up where this one stopped.  The default timeout is sync_timeout in\n"
"casesync.conf (60 s).  A progress line is shown on a terminal.\n";

static const char serve_usage[] =
"usage: casesync serve -d DIR [--every DURATION] [--log-level LEVEL]\n"
"                      [--syslog]\n"
"\n"
"Runs the node until SIGTERM or SIGINT, then stops cleanly.\n"
"Central: listens on `listen` from casesync.conf and serves any number of\n"
"provinces at once.  Province: syncs with central continuously (a new\n"
"session a few seconds after the last), retrying with capped exponential\n"
"backoff when central is unreachable; --every 24h (or 30m, 90s) syncs on\n"
"that schedule instead.\n";

static void
print_summary(const struct sync_stats *ss, const char *prefix)
{
	printf("%ssent %llu, received %llu, refused %llu, bytes out %llu, "
	    "bytes in %llu, messages %llu, sessions %llu, %.2f s\n", prefix,
	    (unsigned long long)ss->sent, (unsigned long long)ss->received,
	    (unsigned long long)ss->refused,
	    (unsigned long long)ss->bytes_out,
	    (unsigned long long)ss->bytes_in,
	    (unsigned long long)(ss->messages_in + ss->messages_out),
	    (unsigned long long)ss->sessions, (double)ss->ms / 1000.0);
	fflush(stdout);
}

static int
sync_exit(int rc)
{
	switch (rc) {
	case 0:
		return EXIT_OK;
	case E_TIMEOUT:
	case E_IO:
		return EXIT_PEER;
	case E_INTEGRITY:
		return EXIT_INTEGRITY;
	case E_AUTH:
		return EXIT_REJECT;
	case E_INVAL:
		return EXIT_USAGE;
	default:
		return EXIT_REJECT;
	}
}

int
cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx		 n;
	struct sync_stats	 ss;
	const char		*dir = NULL, *tmo = NULL;
	uint64_t		 secs;
	char			 err[512];
	int			 ch, rc, quiet = 0;

	if (cli_help(argc, argv, sync_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 't': tmo = optarg; break;
		case 'q': quiet = 1; break;
		default:
			fputs(sync_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("sync: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (tmo != NULL && parse_duration(tmo, &secs) != 0) {
		cli_error("sync: --timeout '%s' is not a duration", tmo);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (tmo == NULL)
		secs = n.cfg.sync_timeout_s;
	cli_signals();
	rc = repl_sync(n.st, &n.cfg, &n.id, secs * 1000, !quiet && cli_tty(),
	    &casesync_quit, &ss, err, sizeof(err));
	cli_close(&n);
	if (rc != 0) {
		cli_error("sync: %s", err[0] ? err : err_str(rc));
		return sync_exit(rc);
	}
	print_summary(&ss, "sync: ");
	return EXIT_OK;
}

static void
sleep_ms(uint64_t ms)
{
	/* Sleep in short steps so a signal stops us promptly. */
	while (ms > 0 && !casesync_quit) {
		uint64_t	 step = ms < 200 ? ms : 200;
		struct timespec	 ts = { 0, (long)step * 1000000 };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int
cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "every", required_argument, NULL, 'e' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx	 n;
	const char	*dir = NULL, *every = NULL, *lvl = NULL;
	uint64_t	 every_s = 0, backoff_ms = 1000;
	char		 err[512];
	int		 ch, rc, use_syslog = 0;

	if (cli_help(argc, argv, serve_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'e': every = optarg; break;
		case 'l': lvl = optarg; break;
		case 's': use_syslog = 1; break;
		default:
			fputs(serve_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("serve: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (every != NULL && parse_duration(every, &every_s) != 0) {
		cli_error("serve: --every '%s' is not a duration", every);
		return EXIT_USAGE;
	}
	if (lvl != NULL && log_level_parse(lvl) < 0) {
		cli_error("serve: --log-level is error, warn, info or debug");
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	log_init("casesync", lvl ? log_level_parse(lvl) : n.cfg.log_level,
	    use_syslog);
	cli_signals();
	if (strcmp(n.cfg.role, "central") == 0) {
		if (n.cfg.listen[0] == '\0') {
			cli_error("serve: central needs `listen` in %s/%s",
			    n.dir, NODECFG_FILE);
			cli_close(&n);
			return EXIT_USAGE;
		}
		rc = repl_central_run(n.st, &n.cfg, &n.id, &casesync_quit, err,
		    sizeof(err));
		cli_close(&n);
		if (rc != 0) {
			cli_error("serve: %s", err);
			return EXIT_PEER;
		}
		return EXIT_OK;
	}
	log_info("province %s syncing with %s %s", n.cfg.node, n.cfg.central,
	    every_s ? "on a schedule" : "continuously");
	while (!casesync_quit) {
		struct sync_stats ss;

		rc = repl_sync(n.st, &n.cfg, &n.id, n.cfg.sync_timeout_s * 1000, 0,
		    &casesync_quit, &ss, err, sizeof(err));
		if (casesync_quit)
			break;
		if (rc == 0) {
			if (ss.sent || ss.received)
				log_info("synced: sent %llu, received %llu in "
				    "%llu ms", (unsigned long long)ss.sent,
				    (unsigned long long)ss.received,
				    (unsigned long long)ss.ms);
			backoff_ms = 1000;
			sleep_ms(every_s ? every_s * 1000 : 2000);
		} else {
			log_warnx("sync failed: %s; retrying in %llu s", err,
			    (unsigned long long)(backoff_ms / 1000));
			if (rc == E_AUTH || rc == E_INTEGRITY) {
				cli_close(&n);
				cli_error("serve: %s", err);
				return sync_exit(rc);
			}
			sleep_ms(backoff_ms);
			backoff_ms = backoff_ms * 2 > 300000 ? 300000 :
			    backoff_ms * 2;
		}
	}
	cli_close(&n);
	log_info("province %s stopped", n.cfg.node);
	return EXIT_OK;
}

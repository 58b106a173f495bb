/*
 * cmd_sync.c - `casesync sync` (a province's one session with central)
 * and `casesync serve` (central: accept provinces; province: sync
 * continuously or on a schedule).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "standby.h"
#include "repl.h"
#include "supervise.h"

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
"casesync.conf (60 s).  A progress line is shown on a terminal.  The\n"
"session runs in a child process; one that dies of a signal is replaced\n"
"(docs/PROTOCOL.md, Processes).\n";

static const char serve_usage[] =
"usage: casesync serve -d DIR [--every DURATION] [--log-level LEVEL]\n"
"                      [--syslog]\n"
"\n"
"Runs the node until SIGTERM or SIGINT, then stops cleanly.\n"
"Central: listens on `listen` from casesync.conf and serves any number of\n"
"provinces at once.  Province: syncs with central continuously (a new\n"
"session a few seconds after the last), retrying with capped exponential\n"
"backoff when central is unreachable; --every 24h (or 30m, 90s) syncs on\n"
"that schedule instead.  The node runs in a child process, restarted if\n"
"it dies of a signal (docs/PROTOCOL.md, Processes).\n";

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
	if (ss->tried[0])
		printf("%scentrals tried, in order: %s\n", prefix, ss->tried);
	/* After a restore (docs/PROTOCOL.md, "Recovery"). */
	if (ss->recovered)
		printf("%srecovered %llu of this node's entries lost in the "
		    "restore\n", prefix, (unsigned long long)ss->recovered);
	if (ss->returned)
		printf("%sgave back %llu entries that central lost in its "
		    "restore\n", prefix, (unsigned long long)ss->returned);
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

/* What one `sync` session process needs. */
struct sync_job {
	const char	*dir;
	uint64_t	 ms;		/* time left for this session */
	int		 quiet;
};

static int
sync_session(void *arg)
{
	const struct sync_job	*j = arg;
	struct node_ctx		 n;
	struct sync_stats	 ss;
	char			 err[512];
	int			 rc;

	if ((rc = cli_open(j->dir, &n)) != 0)
		return rc;
	/* The data key is derived: the passphrase is not needed again in
	 * this process (the parent keeps its own copy for the next). */
	cli_passphrase_forget();
	rc = repl_sync(n.st, &n.cfg, &n.id, j->ms, !j->quiet && cli_tty(),
	    &casesync_quit, &ss, err, sizeof(err));
	cli_close(&n);
	if (rc != 0) {
		cli_error("sync: %s", err[0] ? err : err_str(rc));
		return sync_exit(rc);
	}
	print_summary(&ss, "sync: ");
	return EXIT_OK;
}

/*
 * The configured sync_timeout, read without opening the store (only the
 * session process may: see supervise.h).  When the configuration cannot
 * be read the session reports why, so any value will do here.
 */
static uint64_t
configured_timeout_s(const char *dir)
{
	struct nodecfg	 cfg;
	char		 err[512];

	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || nodecfg_load(dir, &cfg, err, sizeof(err)) != 0)
		return 60;
	return cfg.sync_timeout_s;
}

/* A session process that dies by a signal (libzmq's abort) is replaced
 * this many times within the timeout before `sync` gives up. */
#define SYNC_ATTEMPTS	4

int
cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct sync_job		 j = { NULL, 0, 0 };
	struct supervise_result	 r;
	const char		*tmo = NULL;
	uint64_t		 secs, deadline;
	int			 ch;

	if (cli_help(argc, argv, sync_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': j.dir = optarg; break;
		case 't': tmo = optarg; break;
		case 'q': j.quiet = 1; break;
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
	if (tmo == NULL)
		secs = configured_timeout_s(j.dir);
	cli_signals();
	deadline = mono_ms() + secs * 1000;
	for (int attempt = 1;; attempt++) {
		uint64_t now = mono_ms();

		j.ms = deadline > now ? deadline - now : 0;
		if (supervise_run(sync_session, &j, &r) != 0) {
			cli_error("sync: cannot start the session process: %s",
			    strerror(errno));
			return EXIT_PEER;
		}
		if (r.signo == 0)
			return r.code;
		if (r.quit || casesync_quit)
			return EXIT_PEER;
		now = mono_ms();
		if (attempt == SYNC_ATTEMPTS || deadline < now + 1000) {
			cli_error("sync: the session process died of signal "
			    "%d (%s), %d time%s; nothing acknowledged is lost "
			    "and the next sync resumes", r.signo,
			    strsignal(r.signo), attempt, attempt > 1 ? "s" : "");
			return EXIT_PEER;
		}
		log_warnx("sync: the session process died of signal %d (%s); "
		    "starting another", r.signo, strsignal(r.signo));
	}
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

/* What the `serve` node process needs. */
struct serve_job {
	const char	*dir;
	const char	*lvl;
	uint64_t	 every_s;
	int		 use_syslog;
};

/* Finds the key a standby pinned for central. */
static int
central_pin(const struct node_key *nk, void *arg)
{
	if (nk->status != KEY_ACTIVE)
		return 0;
	*(struct node_key *)arg = *nk;
	return 1;
}

/* `serve` on a standby: follows central until stopped or promoted
 * (docs/HA.md). */
static int
serve_standby(const struct serve_job *j)
{
	struct node_ctx	 n;
	struct node_key	 ck;
	uint8_t		 own[CRYPTO_KEY];
	char		 err[512];
	int		 rc;

	if ((rc = cli_open(j->dir, &n)) != 0)
		return rc;
	memset(&ck, 0, sizeof(ck));
	store_key_each(n.st, central_pin, &ck);
	rc = datakey_load(n.dir, cli_passphrase(), own, err, sizeof(err));
	/* The standby's own store stays closed while it follows: `promote`
	 * puts central's copy in its place. */
	store_close(&n.st);
	cli_passphrase_forget();
	log_init("casesync", j->lvl ? log_level_parse(j->lvl) :
	    n.cfg.log_level, j->use_syslog);
	if (rc != 0) {
		cli_error("serve: %s", err);
		identity_wipe(&n.id);
		return EXIT_REJECT;
	}
	if (ck.status != KEY_ACTIVE) {
		cli_error("serve: central's key is not pinned: run `casesync "
		    "trust -d %s NODE KEY` with the line `casesync key` prints "
		    "on central", n.dir);
		identity_wipe(&n.id);
		return EXIT_REJECT;
	}
	rc = standby_follow(n.dir, &n.cfg, &n.id, ck.curve_pub, own,
	    &casesync_quit);
	crypto_wipe(own, sizeof(own));
	identity_wipe(&n.id);
	if (rc == STANDBY_PROMOTED)
		log_info("standby promoted: serving as central");
	return rc;
}

/* The exit code of a node process that asks for a new one at once (its
 * identity.key changed). */
#define SERVE_RELOAD	75

/* stat() of DIR/identity.key; 0 or -1. */
static int
idstat(const char *dir, struct stat *sb)
{
	char path[4096];

	memset(sb, 0, sizeof(*sb));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    IDENTITY_FILE) >= sizeof(path))
		return -1;
	return stat(path, sb);
}

static int
serve_node(void *arg)
{
	const struct serve_job	*j = arg;
	struct node_ctx		 n;
	struct standby_secrets	 sec;
	struct sbsrv		*sb;
	struct stat		 id0;
	uint64_t		 backoff_ms = 1000;
	char			 err[512];
	int			 rc;

	{
		struct nodecfg	c;

		if (nodecfg_load(j->dir, &c, err, sizeof(err)) == 0 &&
		    strcmp(c.role, "standby") == 0)
			return serve_standby(j);
	}
	if ((rc = cli_open(j->dir, &n)) != 0)
		return rc;
	if (strcmp(n.cfg.role, "central") == 0 &&
	    standby_node_secrets(n.dir, cli_passphrase(), &n.id, &sec, err,
	    sizeof(err)) != 0) {
		cli_error("serve: %s", err);
		cli_close(&n);
		return EXIT_REJECT;
	}
	cli_passphrase_forget();
	log_init("casesync", j->lvl ? log_level_parse(j->lvl) :
	    n.cfg.log_level, j->use_syslog);
	if (strcmp(n.cfg.role, "central") == 0) {
		if (n.cfg.listen[0] == '\0') {
			cli_error("serve: central needs `listen` in %s/%s",
			    n.dir, NODECFG_FILE);
			cli_close(&n);
			return EXIT_USAGE;
		}
		sb = standby_srv_new(n.st, n.dir, n.cfg.standby, &sec);
		crypto_wipe(&sec, sizeof(sec));
		rc = repl_central_serve(n.st, &n.cfg, &n.id, sb, &casesync_quit,
		    err, sizeof(err));
		standby_srv_free(&sb);
		cli_close(&n);
		if (rc != 0) {
			cli_error("serve: %s", err);
			return EXIT_PEER;
		}
		return EXIT_OK;
	}
	log_info("province %s syncing with %s %s", n.cfg.node, n.cfg.central,
	    j->every_s ? "on a schedule" : "continuously");
	idstat(n.dir, &id0);
	while (!casesync_quit) {
		struct sync_stats	ss;
		struct stat		id1;

		/* `key rotate` replaced identity.key: a new node process
		 * loads it (with the passphrase the parent keeps), so that
		 * the next session hands the new key over. */
		if (idstat(n.dir, &id1) == 0 && (id1.st_ino != id0.st_ino ||
		    id1.st_mtim.tv_sec != id0.st_mtim.tv_sec ||
		    id1.st_mtim.tv_nsec != id0.st_mtim.tv_nsec)) {
			log_info("identity.key changed (key rotate): starting "
			    "a new node process");
			cli_close(&n);
			return SERVE_RELOAD;
		}

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
			sleep_ms(j->every_s ? j->every_s * 1000 : 2000);
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

/* A node process that dies by a signal is restarted after this long,
 * doubling up to SERVE_BACKOFF_MAX while it keeps dying young. */
#define SERVE_BACKOFF_MS	1000
#define SERVE_BACKOFF_MAX	60000

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
	struct serve_job	 j = { NULL, NULL, 0, 0 };
	struct supervise_result	 r;
	const char		*every = NULL;
	uint64_t		 backoff_ms = SERVE_BACKOFF_MS;
	unsigned long		 restarts = 0;
	int			 ch;

	if (cli_help(argc, argv, serve_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': j.dir = optarg; break;
		case 'e': every = optarg; break;
		case 'l': j.lvl = optarg; break;
		case 's': j.use_syslog = 1; break;
		default:
			fputs(serve_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("serve: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (every != NULL && parse_duration(every, &j.every_s) != 0) {
		cli_error("serve: --every '%s' is not a duration", every);
		return EXIT_USAGE;
	}
	if (j.lvl != NULL && log_level_parse(j.lvl) < 0) {
		cli_error("serve: --log-level is error, warn, info or debug");
		return EXIT_USAGE;
	}
	log_init("casesync", j.lvl ? log_level_parse(j.lvl) : LOG_LVL_WARN,
	    j.use_syslog);
	cli_signals();
	for (;;) {
		uint64_t started = mono_ms();

		if (supervise_run(serve_node, &j, &r) != 0) {
			cli_error("serve: cannot start the node process: %s",
			    strerror(errno));
			return EXIT_PEER;
		}
		if (r.signo == 0 && r.code == STANDBY_PROMOTED &&
		    !casesync_quit)
			continue;	/* promoted: serve as central now */
		if (r.signo == 0 && r.code == SERVE_RELOAD && !r.quit &&
		    !casesync_quit)
			continue;
		if (r.signo == 0)
			return r.code;
		if (r.quit || casesync_quit)
			return EXIT_OK;
		if (mono_ms() - started > SERVE_BACKOFF_MAX)
			backoff_ms = SERVE_BACKOFF_MS;
		restarts++;
		log_warnx("serve: the node process died of signal %d (%s); "
		    "restart %lu in %llu s (nothing acknowledged is lost)",
		    r.signo, strsignal(r.signo), restarts,
		    (unsigned long long)(backoff_ms / 1000));
		if (supervise_sleep(backoff_ms))
			return EXIT_OK;
		backoff_ms = backoff_ms * 2 > SERVE_BACKOFF_MAX ?
		    SERVE_BACKOFF_MAX : backoff_ms * 2;
	}
}

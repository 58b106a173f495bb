#include "cli.h"
#include "keyhist.h"
#include "standby.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("casesync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_exit_for(int e)
{
	switch (e) {
	case E_OK:
		return EXIT_OK;
	case E_INTEGRITY:
		return EXIT_INTEGRITY;
	case E_TIMEOUT:
		return EXIT_PEER;
	default:
		return EXIT_REJECT;
	}
}

int
cli_open(const char *dir, struct node_ctx *n)
{
	struct stat	 sb;
	char		 err[512], path[4096];
	uint8_t		 key[CRYPTO_KEY];
	const char	*user;
	int		 rc, migrated = 0;

	memset(n, 0, sizeof(*n));
	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || *dir == '\0') {
		cli_error("no node directory: give -d DIR or set CASESYNC_DIR");
		return EXIT_USAGE;
	}
	n->dir = dir;
	/* Name the real problem before looking for a configuration in a
	 * directory that is not there. */
	if (stat(dir, &sb) != 0) {
		cli_error("%s: %s", dir, errno == ENOENT ? "no such directory" :
		    strerror(errno));
		return EXIT_REJECT;
	}
	if (!S_ISDIR(sb.st_mode)) {
		cli_error("%s: not a directory", dir);
		return EXIT_REJECT;
	}
	if (identity_dir_check(dir, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if ((rc = nodecfg_load(dir, &n->cfg, err, sizeof(err))) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	/*
	 * Only `init` creates a store: a configuration without its data
	 * file is a damaged or half-copied node, and opening it would
	 * silently create an empty store in its place.
	 */
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		cli_error("%s: path too long", dir);
		return EXIT_REJECT;
	}
	if (stat(path, &sb) != 0) {
		cli_error("%s: %s", path, errno == ENOENT ? "missing: this "
		    "node has no store (restore it, or run `casesync init` "
		    "in a new directory)" : strerror(errno));
		return EXIT_REJECT;
	}
	/*
	 * A verb reports what went wrong in one line of its own; the log's
	 * detail (warnings from the store, the sync engine) would make that
	 * two or more.  `serve` sets its level again from the configuration
	 * or --log-level; CASESYNC_LOG_LEVEL shows the detail for any verb.
	 */
	{
		const char	*lv = getenv("CASESYNC_LOG_LEVEL");
		int		 l = lv != NULL ? log_level_parse(lv) : -1;

		log_set_level(l >= 0 ? l : LOG_LVL_ERR);
	}
	/* The data key first: in passphrase mode identity.key is sealed
	 * under it (identity.h). */
	if ((rc = datakey_load(dir, cli_passphrase(), key, err,
	    sizeof(err))) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if ((rc = identity_load(dir, key, IDENTITY_MIGRATE, &n->id,
	    &migrated, err, sizeof(err))) != 0) {
		cli_error("%s", err);
		crypto_wipe(key, sizeof(key));
		return EXIT_REJECT;
	}
	if (migrated < 0)
		fprintf(stderr, "casesync: warning: %s is in clear and could "
		    "not be sealed under the passphrase: %s\n", IDENTITY_FILE,
		    err);
	if (migrated > 0)
		fprintf(stderr, "casesync: %s/%s is now sealed under the "
		    "passphrase (it was in clear); backups made before hold "
		    "it in clear\n", dir, IDENTITY_FILE);
	if (strcmp(n->cfg.role, "central") == 0) {
		/* A promoted standby serves central's store with central's
		 * signing and data keys (docs/HA.md). */
		struct standby_secrets sec;

		rc = standby_secrets_load(dir, key, &sec, err, sizeof(err));
		if (rc == 0) {
			memcpy(n->id.sign_pub, sec.sign_pub, 32);
			memcpy(n->id.sign_sec, sec.sign_sec, 32);
			memcpy(key, sec.datakey, sizeof(key));
			crypto_wipe(&sec, sizeof(sec));
		} else if (rc != E_NOTFOUND) {
			cli_error("%s", err);
			crypto_wipe(key, sizeof(key));
			identity_wipe(&n->id);
			return EXIT_REJECT;
		}
	}
	if ((rc = store_open(dir, &n->st, err, sizeof(err))) != 0) {
		cli_error("%s", err);
		crypto_wipe(key, sizeof(key));
		identity_wipe(&n->id);
		return EXIT_REJECT;
	}
	rc = store_set_keys(n->st, n->id.sign_sec, n->id.sign_pub, key);
	if (rc != 0) {
		crypto_wipe(key, sizeof(key));
		cli_error("%s: %s", dir, rc == E_AUTH ? "the data key does not "
		    "open this store (wrong passphrase or data.key)" :
		    err_str(rc));
		store_close(&n->st);
		identity_wipe(&n->id);
		return EXIT_REJECT;
	}
	/* After `key rotate`: the node's own key history, and once central
	 * has taken the new key, the previous keys leave identity.key. */
	{
		int confirmed = 0;

		if (keyhist_own_sync(n->st, n->cfg.node, &n->id,
		    &confirmed) != 0)
			fprintf(stderr, "casesync: warning: cannot record this "
			    "node's key history\n");
		if (confirmed) {
			struct identity id = n->id;

			id.has_prev = 0;
			memset(&id.prev, 0, sizeof(id.prev));
			if (identity_save(dir, key, &id, err,
			    sizeof(err)) == 0)
				n->id = id;
			identity_wipe(&id);
		}
	}
	crypto_wipe(key, sizeof(key));
	store_set_clock(n->st, n->cfg.skew_ms, n->cfg.clock_offset_ms);
	store_set_keep_transferred(n->st, n->cfg.keep_transferred);
	{
		struct quota q = { n->cfg.quota_entries, n->cfg.quota_bytes,
		    n->cfg.quota_cases, n->cfg.quota_referrals };

		store_set_quota(n->st, &q);
	}
	user = getenv("CASESYNC_AUTHOR");
	if (user == NULL || *user == '\0')
		user = getenv("USER");
	if (user == NULL || *user == '\0')
		user = "operator";
	snprintf(n->author, sizeof(n->author), "%s@%s", user, n->cfg.node);
	return 0;
}

void
cli_close(struct node_ctx *n)
{
	store_close(&n->st);
	identity_wipe(&n->id);
}

int
cli_read_input(const char *path, size_t max, char **out, size_t *len)
{
	FILE	*f = stdin;
	char	*p;
	size_t	 n = 0, cap = 65536;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (f = fopen(path, "r")) == NULL) {
		cli_error("%s: %s", path, strerror(errno));
		return E_IO;
	}
	p = xmalloc(cap + 1);
	for (;;) {
		size_t r;

		if (n == cap) {
			if (cap > max) {
				cli_error("%s: input larger than %zu bytes",
				    path ? path : "stdin", max);
				free(p);
				if (f != stdin)
					fclose(f);
				return E_TOOBIG;
			}
			cap *= 2;
			p = xrealloc(p, cap + 1);
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		cli_error("%s: read error", path ? path : "stdin");
		free(p);
		if (f != stdin)
			fclose(f);
		return E_IO;
	}
	if (f != stdin)
		fclose(f);
	if (n > max) {
		cli_error("%s: input larger than %zu bytes",
		    path ? path : "stdin", max);
		free(p);
		return E_TOOBIG;
	}
	p[n] = '\0';
	*out = p;
	*len = n;
	return 0;
}

const char *
cli_pos(uint64_t pos, char *buf, size_t sz)
{
	if (POS_INC(pos) == 0)
		snprintf(buf, sz, "%llu", (unsigned long long)pos);
	else
		snprintf(buf, sz, "%llu:%llu",
		    (unsigned long long)POS_INC(pos),
		    (unsigned long long)POS_LOW(pos));
	return buf;
}

int
cli_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
	}
	return 0;
}

int
cli_parse(int argc, char **argv, const char *usage, const char **dir,
    const struct cli_opt *opts, size_t nopts)
{
	struct option	lo[CLI_OPTS_MAX + 2];
	size_t		i;
	int		ch;

	if (nopts > CLI_OPTS_MAX)
		nopts = CLI_OPTS_MAX;
	memset(lo, 0, sizeof(lo));
	lo[0].name = "dir";
	lo[0].has_arg = required_argument;
	lo[0].val = 'd';
	for (i = 0; i < nopts; i++) {
		lo[i + 1].name = opts[i].name;
		lo[i + 1].has_arg = opts[i].str ? required_argument :
		    no_argument;
		lo[i + 1].val = 256 + (int)i;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", lo, NULL)) != -1) {
		if (ch == 'd')
			*dir = optarg;
		else if (ch >= 256 && (size_t)(ch - 256) < nopts) {
			const struct cli_opt *o = &opts[ch - 256];

			if (o->str)
				*o->str = optarg;
			else
				*o->flag = 1;
		} else {
			fputs(usage, stderr);
			return -1;
		}
	}
	return optind;
}

int
cli_bad_option(const char *verb, int ch, char **argv)
{
	if (ch == ':')
		cli_error("%s: %s needs a value", verb, argv[optind - 1]);
	else
		cli_error("%s: unknown option '%s' (casesync %s --help)", verb,
		    argv[optind - 1], verb);
	return EXIT_USAGE;
}

int
cli_tty(void)
{
	return isatty(STDERR_FILENO);
}

static void
on_signal(int sig)
{
	(void)sig;
	casesync_quit = 1;
}

void
cli_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

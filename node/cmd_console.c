/*
 * cmd_console.c - `casesync console`: the administrators' web console, a
 * process of its own beside serve/sync (web.h, http.h, docs/CONSOLE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "i18n.h"
#include "web.h"

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define CERT_FILE	"console.crt"
#define KEY_FILE	"console.key"
#define CERT_DAYS	825
#define PEM_MAX		(64 * 1024)

static const char usage_text[] =
"usage: casesync console -d DIR [--listen HOST:PORT] [--plain-http]\n"
"                        [--idle DURATION] [--max-age DURATION]\n"
"\n"
"Serves the administrators' web console of this node over HTTPS until\n"
"SIGTERM: dashboard, conflict queue, cases, sync health, users and the\n"
"audit log, and the JSON API under /api/ (docs/CONSOLE.md).  It is a\n"
"process of its own: stopping it never stops sync.\n"
"\n"
"  --listen HOST:PORT  numeric address to listen on (default\n"
"                      127.0.0.1:8443; 0.0.0.0:8443 for the LAN)\n"
"  --plain-http        HTTP without TLS, allowed on a loopback address\n"
"                      only, behind a reverse proxy that does TLS\n"
"  --idle DURATION     sign out after this long without a request\n"
"                      (default 30m)\n"
"  --max-age DURATION  sign out this long after signing in (default 12h)\n"
"\n"
"The first start makes a self-signed certificate, DIR/console.crt and\n"
"DIR/console.key (0600), and every start prints its SHA-256\n"
"fingerprint: compare it with what the browser shows.  Replace both\n"
"files with the organisation's certificate at will.  Sign-in needs a\n"
"user: casesync user add -d DIR NAME --role admin.\n"
"\n"
"Exit codes: 0 stopped by a signal, 1 usage, 2 cannot start.\n";

struct console_opts {
	const char	*dir;
	char		 host[64];
	unsigned	 port;
	int		 plain;
	uint64_t	 idle_s;
	uint64_t	 max_s;
};

static int
parse_listen(const char *s, struct console_opts *o)
{
	const char	*colon = strrchr(s, ':');
	uint64_t	 port;
	size_t		 hl;

	if (colon == NULL || colon == s)
		return E_INVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(o->host) || parse_u64(colon + 1, 0, 65535,
	    &port) != 0)
		return E_INVAL;
	memcpy(o->host, s, hl);
	o->host[hl] = '\0';
	o->port = (unsigned)port;
	return 0;
}

static int
loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/* Core dumps off and no ptrace by other users: this process holds the
 * data key and the signing key. */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int
read_file(const char *path, struct buf *b)
{
	char	chunk[4096];
	ssize_t	n;
	int	fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return errno == ENOENT ? E_NOTFOUND : E_IO;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(b, chunk, (size_t)n) != 0) {
			close(fd);
			return E_TOOBIG;
		}
	close(fd);
	if (n < 0)
		return E_IO;
	return buf_append(b, "", 1);
}

static int
write_file(const char *path, const struct buf *b, mode_t mode)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ssize_t	w;

	if (fd == -1)
		return E_IO;
	w = write(fd, b->data, b->len);
	if (w < 0 || (size_t)w != b->len || fsync(fd) != 0) {
		close(fd);
		unlink(path);
		return E_IO;
	}
	close(fd);
	return 0;
}

/* Loads DIR/console.crt and .key, making a self-signed pair the first
 * time.  Prints the fingerprint. */
static int
load_cert(const char *dir, const char *cn, struct buf *cert, struct buf *key)
{
	char	cp[4096], kp[4096], fp[3 * CRYPTO_HASH];
	uint8_t	h[CRYPTO_HASH];
	int	rc;

	snprintf(cp, sizeof(cp), "%s/%s", dir, CERT_FILE);
	snprintf(kp, sizeof(kp), "%s/%s", dir, KEY_FILE);
	rc = read_file(cp, cert);
	if (rc == E_NOTFOUND) {
		struct buf c, k;

		buf_init(&c, PEM_MAX);
		buf_init(&k, PEM_MAX);
		rc = crypto_tls_selfsigned(cn, CERT_DAYS, &c, &k);
		if (rc == 0 && (rc = write_file(kp, &k, 0600)) == 0 &&
		    (rc = write_file(cp, &c, 0644)) != 0)
			unlink(kp);
		crypto_wipe(k.data, k.len);
		buf_release(&c);
		buf_release(&k);
		if (rc != 0) {
			cli_error("console: cannot write %s: %s", cp,
			    strerror(errno));
			return rc;
		}
		printf("console: made a self-signed certificate for %s (%s)\n",
		    cn, cp);
		buf_reset(cert);
		rc = read_file(cp, cert);
	}
	if (rc != 0) {
		cli_error("console: cannot read %s", cp);
		return rc;
	}
	if ((rc = read_file(kp, key)) != 0) {
		cli_error("console: cannot read %s", kp);
		return rc;
	}
	if (crypto_cert_fingerprint((const char *)cert->data, cert->len - 1,
	    h) != 0) {
		cli_error("console: %s holds no certificate", cp);
		return E_INVAL;
	}
	for (size_t i = 0; i < CRYPTO_HASH; i++)
		snprintf(fp + 3 * i, 4, "%02X%s", h[i], i + 1 < CRYPTO_HASH ?
		    ":" : "");
	printf("console: certificate SHA-256 %s\n", fp);
	fflush(stdout);
	return 0;
}

static int
parse_args(int argc, char **argv, struct console_opts *o)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "plain-http", no_argument, NULL, 'p' },
		{ "idle", required_argument, NULL, 'i' },
		{ "max-age", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	strlcpy_(o->host, "127.0.0.1", sizeof(o->host));
	o->port = 8443;
	o->idle_s = WEB_IDLE_MS / 1000;
	o->max_s = WEB_ABSOLUTE_MS / 1000;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->dir = optarg;
			break;
		case 'l':
			if (parse_listen(optarg, o) != 0) {
				cli_error("console: --listen takes "
				    "HOST:PORT, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			o->plain = 1;
			break;
		case 'i':
		case 'm':
			if (parse_duration(optarg, ch == 'i' ? &o->idle_s :
			    &o->max_s) != 0 || (ch == 'i' ? o->idle_s :
			    o->max_s) == 0) {
				cli_error("console: --%s takes a duration such "
				    "as 30m, not '%s'", ch == 'i' ? "idle" :
				    "max-age", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("console: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->plain && !loopback(o->host)) {
		cli_error("console: --plain-http is allowed on a loopback "
		    "address only (127.0.0.1 or ::1), not %s", o->host);
		return EXIT_USAGE;
	}
	return 0;
}

int
cmd_console(int argc, char **argv)
{
	struct console_opts	 o;
	struct node_ctx		 n;
	struct web		*w;
	struct audit		*audit = NULL;
	struct http		*http = NULL;
	struct http_opts	 ho;
	struct buf		 cert, key;
	struct user		*us;
	size_t			 nus;
	char			 err[512];
	unsigned		 port;
	int			 rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc;
	harden();
	/* Before any thread: it sets the locale. */
	if (i18n_open() != 0)
		log_warnx("console: no Vietnamese catalogue: pages in English");
	if ((rc = cli_open(o.dir, &n)) != 0)
		return rc;
	/* The data key is derived: this long-lived process needs the
	 * passphrase no more (cli.h). */
	cli_passphrase_forget();
	{
		const char *lv = getenv("CASESYNC_LOG_LEVEL");

		log_set_level(lv != NULL && log_level_parse(lv) >= 0 ?
		    log_level_parse(lv) : n.cfg.log_level);
	}
	buf_init(&cert, PEM_MAX);
	buf_init(&key, PEM_MAX);
	if (!o.plain && load_cert(n.dir, strcmp(o.host, "0.0.0.0") == 0 ||
	    strcmp(o.host, "::") == 0 ? "localhost" : o.host, &cert,
	    &key) != 0) {
		rc = EXIT_REJECT;
		goto out;
	}
	if (audit_open(n.dir, &audit, err, sizeof(err)) != 0) {
		cli_error("console: %s", err);
		rc = EXIT_REJECT;
		goto out;
	}
	w = xcalloc(1, sizeof(*w));
	w->dir = n.dir;
	w->cfg = &n.cfg;
	w->st = n.st;
	w->audit = audit;
	w->idle_ms = o.idle_s * 1000;
	w->absolute_ms = o.max_s * 1000;
	w->tls = !o.plain;
	web_init(w);
	memset(&ho, 0, sizeof(ho));
	ho.host = o.host;
	ho.port = o.port;
	ho.tls = !o.plain;
	ho.cert_pem = (const char *)cert.data;
	ho.key_pem = (const char *)key.data;
	cli_signals();
	if (http_start(&ho, web_handle, w, &http, &port, err,
	    sizeof(err)) != 0) {
		cli_error("console: %s", err);
		rc = EXIT_REJECT;
		goto stop;
	}
	printf("console: listening on %s://%s%s%s:%u/\n", o.plain ? "http" :
	    "https", strchr(o.host, ':') ? "[" : "", o.host,
	    strchr(o.host, ':') ? "]" : "", port);
	if (users_load(n.dir, &us, &nus, err, sizeof(err)) == 0) {
		if (nus == 0)
			printf("console: no users yet: casesync user add -d %s "
			    "NAME --role admin\n", n.dir);
		crypto_wipe(us, nus * sizeof(*us));
		free(us);
	}
	fflush(stdout);
	(void)audit_log(audit, NULL, NULL, "console.start", NULL, NULL);
	while (!casesync_quit) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	http_stop(&http);
	(void)audit_log(audit, NULL, NULL, "console.stop", NULL, NULL);
	rc = EXIT_OK;
stop:
	web_release(w);
	free(w);
out:
	audit_close(&audit);
	crypto_wipe(key.data, key.len);
	buf_release(&key);
	buf_release(&cert);
	cli_close(&n);
	return rc;
}

/*
 * cmd_standby.c - `casesync promote` (a standby becomes central) and
 * `casesync rejoin` (an old central becomes the new central's standby).
 * See docs/HA.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "standby.h"
#include "users.h"

#include "../common/err.h"
#include "../common/util.h"

static const char promote_usage[] =
"usage: casesync promote -d DIR\n"
"\n"
"Makes the standby in DIR the central: its copy of central's store becomes\n"
"its store, under a new central epoch higher than any it has seen (a new\n"
"incarnation, as `casesync restore` takes).  If `serve` runs on DIR it\n"
"takes over in place within a second; otherwise the next `serve` serves\n"
"as central.  Provinces that list this node's endpoint fail over by\n"
"themselves, give back what the copy lacks, and from then on refuse the\n"
"old central.  Rebuild the old central as the new standby with\n"
"`casesync rejoin`.  See docs/HA.md.\n";

static const char rejoin_usage[] =
"usage: casesync rejoin -d DIR --primary tcp://HOST:PORT [--force]\n"
"\n"
"Turns an old central, fenced after its standby was promoted, into the\n"
"standby of the new central at --primary (the old standby, whose key DIR\n"
"enrolled).  Its store as central is kept aside in DIR/fenced-TIME/; the\n"
"next `serve` copies the new central's state.  --force: DIR was not told\n"
"yet that it is fenced (no province has reached it since the promotion).\n";

/* Finds the key a standby pinned for central. */
static int
pin_one(const struct node_key *nk, void *arg)
{
	if (nk->status != KEY_ACTIVE)
		return 0;
	*(struct node_key *)arg = *nk;
	return 1;
}

static int
move_store(const char *dir, const char *to)
{
	char	a[4200], b[4200];

	if (mkdir(to, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(a, sizeof(a), "%s/data.mdb", dir);
	snprintf(b, sizeof(b), "%s/data.mdb", to);
	if (rename(a, b) != 0)
		return -1;
	snprintf(a, sizeof(a), "%s/lock.mdb", dir);
	snprintf(b, sizeof(b), "%s/lock.mdb", to);
	if (rename(a, b) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/*
 * The old central's HTCDS pseudonym key: the copy that followed the
 * standby over the link (DIR/central.files/htcds.key), else one the
 * administrator put here as DIR/central.htcds.key (the manual way, for a
 * central too old to send it), both sealed under the data key of
 * central's store, which sec holds: re-sealed under this node's own data
 * key as DIR/htcds.key, so HTCDS exports keep their pseudonyms
 * (docs/HA.md).  The manual copy is not taken when central said at the
 * last contact that it has no key (its key was deleted there on
 * purpose).  The standby's own htcds.key, if any, goes to
 * DIR/standby-own/.  Returns 1 when taken; says what happened in msg.
 */
static int
htcds_key_take(const char *dir, const struct standby_secrets *sec,
    const struct standby_status *ss, char *msg, size_t msgsz)
{
	char		 from[4200], own_path[4200], aside[4300], err[512];
	const char	*what = "central.files/htcds.key";
	uint64_t	 now = now_ms();
	uint8_t		 own[CRYPTO_KEY];
	int		 rc, linked = 1;

	snprintf(from, sizeof(from), "%s/%s/%s", dir, STANDBY_FILES_DIR,
	    PSEUDOKEY_FILE);
	if (access(from, F_OK) != 0) {
		linked = 0;
		what = "central.htcds.key";
		snprintf(from, sizeof(from), "%s/central.htcds.key", dir);
		if (ss->key_state == STANDBY_KEY_NONE) {
			snprintf(msg, msgsz, "central had no HTCDS key at the "
			    "last contact: HTCDS exports of this central use "
			    "new pseudonyms%s", access(from, F_OK) == 0 ?
			    " (central.htcds.key is not taken: central's key "
			    "was deleted after it was copied)" : "");
			return 0;
		}
	}
	if (access(from, F_OK) != 0) {
		snprintf(msg, msgsz, "no copy of central's HTCDS key in "
		    "%.300s/%s (central never made one, or never sent it): "
		    "HTCDS exports of this central use new pseudonyms "
		    "(docs/HA.md)", dir, STANDBY_FILES_DIR);
		return 0;
	}
	snprintf(own_path, sizeof(own_path), "%s/%s", dir, PSEUDOKEY_FILE);
	snprintf(aside, sizeof(aside), "%s/standby-own/%s", dir,
	    PSEUDOKEY_FILE);
	if (access(own_path, F_OK) == 0 && rename(own_path, aside) != 0) {
		snprintf(msg, msgsz, "%.300s: %s; HTCDS exports use its "
		    "pseudonyms", own_path, strerror(errno));
		return 0;
	}
	if ((rc = datakey_load(dir, cli_passphrase(), own, err,
	    sizeof(err))) == 0)
		rc = pseudokey_import(dir, from, sec->datakey, own, err,
		    sizeof(err));
	crypto_wipe(own, sizeof(own));
	if (rc != 0) {
		snprintf(msg, msgsz, "%s not taken (%.300s): HTCDS exports of "
		    "this central use new pseudonyms", what, err);
		return 0;
	}
	unlink(from);
	if (linked && ss->key_ms != 0)
		snprintf(msg, msgsz, "took the old central's HTCDS pseudonym "
		    "key (%s, current %llu s before the promotion): exports "
		    "keep their pseudonyms", what, (unsigned long long)
		    (now > ss->key_ms ? (now - ss->key_ms) / 1000 : 0));
	else
		snprintf(msg, msgsz, "took the old central's HTCDS pseudonym "
		    "key (%s): exports keep their pseudonyms", what);
	return 1;
}

/* Moves DIR/NAME to DIR/standby-own/NAME (NAME.SECONDS if that is
 * taken: nothing is overwritten).  Returns 0 or -1. */
static int
own_aside(const char *dir, const char *name)
{
	char	from[4200], to[4300];

	snprintf(from, sizeof(from), "%s/%s", dir, name);
	if (access(from, F_OK) != 0)
		return 0;
	snprintf(to, sizeof(to), "%s/standby-own", dir);
	if (mkdir(to, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(to, sizeof(to), "%s/standby-own/%s", dir, name);
	if (access(to, F_OK) == 0)
		snprintf(to, sizeof(to), "%s/standby-own/%s.%llu", dir, name,
		    (unsigned long long)time(NULL));
	return rename(from, to);
}

/*
 * The standby's copies of central's console files (docs/HA.md, *Console
 * users and audit log*): DIR/central.files/users becomes DIR/users, and
 * DIR/central.files/audit.log becomes DIR/audit.log, which this central
 * continues after a line that marks the promotion.  The standby's own
 * files of those names go to DIR/standby-own/.  Says what happened in
 * umsg and amsg.
 */
static void
files_take(const char *dir, const char *name, const char *self,
    uint64_t epoch, char *umsg, size_t usz, char *amsg, size_t asz)
{
	struct standby_status	 ss;
	struct audit		*a;
	struct user		*us = NULL;
	struct stat		 sb;
	char			 from[4300], to[4200], fdir[4200], err[256];
	char			 who[80], detail[AUDIT_FIELD_MAX + 1];
	const char		*u = getenv("USER");
	uint64_t		 now = now_ms();
	size_t			 nu = 0;

	if (standby_status_read(dir, &ss) != 0)
		memset(&ss, 0, sizeof(ss));
	snprintf(fdir, sizeof(fdir), "%s/%s", dir, STANDBY_FILES_DIR);
	snprintf(from, sizeof(from), "%s/%s/%s", dir, STANDBY_FILES_DIR,
	    USERS_FILE);
	snprintf(to, sizeof(to), "%s/%s", dir, USERS_FILE);
	if (access(from, F_OK) != 0)
		snprintf(umsg, usz, "no copy of central's console users in "
		    "%.300s/%s: add them with `casesync user add` (an admin "
		    "first)", dir, STANDBY_FILES_DIR);
	else if (users_load(fdir, &us, &nu, err, sizeof(err)) != 0)
		snprintf(umsg, usz, "central's console users not taken "
		    "(%.300s): add them with `casesync user add`", err);
	else if (own_aside(dir, USERS_FILE) != 0 || rename(from, to) != 0)
		snprintf(umsg, usz, "central's console users not taken (%s): "
		    "they are in %.300s", strerror(errno), fdir);
	else
		snprintf(umsg, usz, "took central's console users (%zu, "
		    "current %llu s before the promotion)", nu,
		    (unsigned long long)(ss.users_ms && now > ss.users_ms ?
		    (now - ss.users_ms) / 1000 : 0));
	free(us);
	snprintf(from, sizeof(from), "%s/%s/%s", dir, STANDBY_FILES_DIR,
	    AUDIT_FILE);
	snprintf(to, sizeof(to), "%s/%s", dir, AUDIT_FILE);
	if (stat(from, &sb) != 0) {
		snprintf(amsg, asz, "no copy of central's audit log: this "
		    "central starts its own");
		return;
	}
	if (ss.audit_rec && (uint64_t)sb.st_size > ss.audit_off &&
	    truncate(from, (off_t)ss.audit_off) == 0)
		sb.st_size = (off_t)ss.audit_off;	/* never confirmed */
	if (own_aside(dir, AUDIT_FILE) != 0 || rename(from, to) != 0) {
		snprintf(amsg, asz, "central's audit log not taken (%s): it "
		    "is in %.300s/%s", strerror(errno), dir,
		    STANDBY_FILES_DIR);
		return;
	}
	snprintf(who, sizeof(who), "cli:%s", u != NULL ? u : "?");
	snprintf(detail, sizeof(detail), "standby %s promoted to central %s "
	    "at epoch %llu: the lines before are the old central's",
	    self, name, (unsigned long long)epoch);
	if (audit_open(dir, &a, err, sizeof(err)) == 0) {
		(void)audit_log(a, who, "local", "central.promote", NULL,
		    detail);
		audit_close(&a);
	}
	snprintf(amsg, asz, "took central's audit log (%llu bytes, current "
	    "%llu s before the promotion): this central continues it",
	    (unsigned long long)sb.st_size,
	    (unsigned long long)(ss.audit_ms && now > ss.audit_ms ?
	    (now - ss.audit_ms) / 1000 : 0));
}

/* -d DIR, and for rejoin --primary and --force (cli_parse); no
 * positional argument. */
static int
one_dir_arg(int argc, char **argv, const char *usage, const char **dir,
    const char **primary, int *force)
{
	const struct cli_opt	o[] = {
		{ "primary", primary, NULL }, { "force", NULL, force },
	};
	int			first;

	if ((first = cli_parse(argc, argv, usage, dir, o, primary ? 2 : 0)) <
	    0)
		return EXIT_USAGE;
	if (first != argc) {
		cli_error("unexpected argument '%s'", argv[first]);
		return EXIT_USAGE;
	}
	return 0;
}

int
cmd_promote(int argc, char **argv)
{
	struct node_ctx		 n;
	struct node_key		 ck, nk;
	struct standby_secrets	 sec;
	struct store		*st = NULL;
	struct store_info	 info;
	const char		*dir = NULL;
	char			 err[512], rp[4200], own_dir[4200], lk[4200];
	char			 name[HLC_NODE_MAX + 1], listen[NODECFG_ENDPOINT_MAX];
	char			 self[HLC_NODE_MAX + 1];
	uint8_t			 own[CRYPTO_KEY];
	uint64_t		 inc = 0, seq = 0;
	char			 hmsg[600] = "", umsg[600] = "", amsg[600] = "";
	int			 rc, lfd;

	if (cli_help(argc, argv, promote_usage))
		return EXIT_OK;
	if ((rc = one_dir_arg(argc, argv, promote_usage, &dir, NULL,
	    NULL)) != 0)
		return rc;
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (strcmp(n.cfg.role, "standby") != 0) {
		cli_error("promote: %s is a %s, not a standby", n.dir,
		    n.cfg.role);
		cli_close(&n);
		return EXIT_REJECT;
	}
	memset(&ck, 0, sizeof(ck));
	store_key_each(n.st, pin_one, &ck);
	strlcpy_(self, n.cfg.node, sizeof(self));
	strlcpy_(listen, n.cfg.listen, sizeof(listen));
	rc = datakey_load(n.dir, cli_passphrase(), own, err, sizeof(err));
	dir = n.dir;
	cli_close(&n);
	if (rc != 0) {
		cli_error("promote: %s", err);
		return EXIT_REJECT;
	}
	if (listen[0] == '\0') {
		cli_error("promote: %s has no `listen` endpoint to serve "
		    "provinces on (set it in casesync.conf)", dir);
		return EXIT_USAGE;
	}
	snprintf(rp, sizeof(rp), "%s/%s/data.mdb", dir, STANDBY_REPLICA_DIR);
	if (access(rp, F_OK) != 0) {
		cli_error("promote: %s holds no copy of central yet (nothing "
		    "was changed)", dir);
		return EXIT_REJECT;
	}
	rc = standby_secrets_load(dir, own, &sec, err, sizeof(err));
	crypto_wipe(own, sizeof(own));
	if (rc != 0) {
		cli_error("promote: %s", rc == E_NOTFOUND ? "central's keys "
		    "never arrived (nothing was changed)" : err);
		return EXIT_REJECT;
	}
	/* The follower swaps copies under this lock; once we hold it the
	 * copy in place is whole, and the follower stops at its next look
	 * at casesync.conf. */
	snprintf(lk, sizeof(lk), "%s/%s", dir, STANDBY_LOCK_FILE);
	if ((lfd = open(lk, O_RDWR | O_CREAT, 0600)) < 0 ||
	    flock(lfd, LOCK_EX) != 0) {
		cli_error("promote: %s: %s", lk, strerror(errno));
		crypto_wipe(&sec, sizeof(sec));
		return EXIT_REJECT;
	}
	/* The copy must open as central's store before anything moves. */
	snprintf(own_dir, sizeof(own_dir), "%s/%s", dir, STANDBY_REPLICA_DIR);
	if ((rc = store_open(own_dir, &st, err, sizeof(err))) == 0 &&
	    (rc = store_set_keys(st, sec.sign_sec, sec.sign_pub,
	    sec.datakey)) == 0)
		rc = store_info(st, &info);
	store_close(&st);
	if (rc != 0 || strcmp(info.role, STORE_ROLE_CENTRAL) != 0) {
		cli_error("promote: the copy in %s does not open as central's "
		    "store (nothing was changed)", own_dir);
		crypto_wipe(&sec, sizeof(sec));
		close(lfd);
		return EXIT_INTEGRITY;
	}
	strlcpy_(name, info.node, sizeof(name));
	snprintf(own_dir, sizeof(own_dir), "%s/standby-own", dir);
	if (move_store(dir, own_dir) != 0 || move_store(
	    (snprintf(rp, sizeof(rp), "%s/%s", dir, STANDBY_REPLICA_DIR), rp),
	    dir) != 0) {
		cli_error("promote: cannot move the stores in %s: %s", dir,
		    strerror(errno));
		crypto_wipe(&sec, sizeof(sec));
		close(lfd);
		return EXIT_REJECT;
	}
	rmdir(rp);
	/* Restored like a backup: a new incarnation, which is the new
	 * epoch; the provinces give back what the copy lacks.  The epoch is
	 * the next second: a restore of the old central in this second,
	 * which the copy cannot know, took this second as its incarnation,
	 * and the two must differ, the promotion's above (chaos seed 630,
	 * docs/RELIABILITY.md bug 16). */
	if ((rc = store_open(dir, &st, err, sizeof(err))) == 0 &&
	    (rc = store_set_keys(st, sec.sign_sec, sec.sign_pub,
	    sec.datakey)) == 0)
		rc = store_restored(st, (uint64_t)time(NULL) + 1, &inc, &seq);
	if (rc == 0) {
		struct standby_status ss;

		if (standby_status_read(dir, &ss) != 0)
			memset(&ss, 0, sizeof(ss));
		(void)htcds_key_take(dir, &sec, &ss, hmsg, sizeof(hmsg));
	}
	crypto_wipe(&sec, sizeof(sec));
	/* The old central may come back as this central's standby: its
	 * key takes the standby's place in the key table. */
	if (rc == 0 && ck.status == KEY_ACTIVE) {
		memset(&nk, 0, sizeof(nk));
		strlcpy_(nk.node, self, sizeof(nk.node));
		nk.status = KEY_ACTIVE;
		nk.since_ms = now_ms();
		memcpy(nk.sign_pub, ck.sign_pub, sizeof(nk.sign_pub));
		memcpy(nk.curve_pub, ck.curve_pub, sizeof(nk.curve_pub));
		rc = store_key_put(st, &nk);
	}
	store_close(&st);
	if (rc == 0 && ((rc = nodecfg_set(dir, "node", name, err,
	    sizeof(err))) != 0 || (rc = nodecfg_set(dir, "standby", self,
	    err, sizeof(err))) != 0 || (rc = nodecfg_set(dir, "primary", "",
	    err, sizeof(err))) != 0 || (rc = nodecfg_set(dir,
	    "standby_sync", "", err, sizeof(err))) != 0 ||
	    (rc = nodecfg_set(dir, "role", "central", err, sizeof(err))) !=
	    0))
		cli_error("promote: %s", err);
	else if (rc != 0)
		cli_error("promote: %s: %s", dir, err_str(rc));
	if (rc == 0)
		files_take(dir, name, self, inc, umsg, sizeof(umsg), amsg,
		    sizeof(amsg));
	close(lfd);
	if (rc != 0)
		return EXIT_REJECT;
	{
		char path[4200];

		snprintf(path, sizeof(path), "%s/%s", dir,
		    STANDBY_STATUS_FILE);
		unlink(path);
	}
	printf("promoted %s: it is now central %s at epoch %llu, serving on "
	    "%s\n", dir, name, (unsigned long long)inc, listen);
	printf("provinces that list %s fail over by themselves and give back "
	    "what the copy lacks; they refuse the old central from now on\n",
	    listen);
	printf("rebuild the old central as this central's standby: casesync "
	    "rejoin -d OLD-DIR --primary %s\n", listen);
	printf("%s\n", hmsg);
	printf("%s\n%s\n", umsg, amsg);
	return EXIT_OK;
}

int
cmd_rejoin(int argc, char **argv)
{
	struct node_ctx		 n;
	struct node_key		 sk, nk;
	struct store		*st;
	const char		*dir = NULL, *primary = NULL;
	char			 err[512], aside[4200], path[4200];
	char			 name[HLC_NODE_MAX + 1], self[HLC_NODE_MAX + 1];
	uint64_t		 by;
	int			 rc, force = 0;

	if (cli_help(argc, argv, rejoin_usage))
		return EXIT_OK;
	if ((rc = one_dir_arg(argc, argv, rejoin_usage, &dir, &primary,
	    &force)) != 0)
		return rc;
	if (primary == NULL || !nodecfg_endpoint_valid(primary)) {
		cli_error("rejoin: --primary tcp://HOST:PORT (the new central) "
		    "is required");
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	dir = n.dir;
	if (strcmp(n.cfg.role, "central") != 0) {
		cli_error("rejoin: %s is a %s, not a central", dir, n.cfg.role);
		cli_close(&n);
		return EXIT_REJECT;
	}
	by = standby_fenced(n.st);
	if (by == 0 && !force) {
		cli_error("rejoin: %s was not fenced: no province told it of a "
		    "promoted standby; if one was promoted, use --force "
		    "(nothing was changed)", dir);
		cli_close(&n);
		return EXIT_REJECT;
	}
	strlcpy_(name, n.cfg.node, sizeof(name));
	strlcpy_(self, n.cfg.standby, sizeof(self));
	if (store_key_get(n.st, self, &sk) != 0 || sk.status != KEY_ACTIVE) {
		cli_error("rejoin: %s never enrolled a standby named %s, so "
		    "it does not know the new central's key (nothing was "
		    "changed)", dir, self);
		cli_close(&n);
		return EXIT_REJECT;
	}
	cli_close(&n);
	/* Kept, not deleted: what only it held is looked at by hand. */
	snprintf(aside, sizeof(aside), "%s/fenced-%llu", dir,
	    (unsigned long long)time(NULL));
	if (move_store(dir, aside) != 0) {
		cli_error("rejoin: cannot move %s/data.mdb aside: %s", dir,
		    strerror(errno));
		return EXIT_REJECT;
	}
	if ((rc = nodecfg_set(dir, "role", "standby", err, sizeof(err))) != 0 ||
	    (rc = nodecfg_set(dir, "node", self, err, sizeof(err))) != 0 ||
	    (rc = nodecfg_set(dir, "primary", primary, err, sizeof(err))) !=
	    0) {
		cli_error("rejoin: %s", err);
		return EXIT_REJECT;
	}
	if ((rc = store_open(dir, &st, err, sizeof(err))) != 0 ||
	    (rc = store_init_node(st, self, "standby")) != 0) {
		store_close(&st);
		cli_error("rejoin: %s: %s", dir, err_str(rc));
		return EXIT_REJECT;
	}
	store_close(&st);
	snprintf(path, sizeof(path), "%s/%s", dir, STANDBY_STATUS_FILE);
	unlink(path);
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	memset(&nk, 0, sizeof(nk));
	strlcpy_(nk.node, name, sizeof(nk.node));
	nk.status = KEY_ACTIVE;
	nk.since_ms = now_ms();
	memcpy(nk.sign_pub, sk.sign_pub, sizeof(nk.sign_pub));
	memcpy(nk.curve_pub, sk.curve_pub, sizeof(nk.curve_pub));
	rc = store_key_put(n.st, &nk);
	cli_close(&n);
	if (rc != 0) {
		cli_error("rejoin: %s", err_str(rc));
		return EXIT_REJECT;
	}
	printf("%s is now the standby %s of central %s at %s; its store as "
	    "central is kept in %s; start it with `casesync serve -d %s`\n",
	    dir, self, name, primary, aside, dir);
	return EXIT_OK;
}

/*
 * standby.c - a standby central: central's side of the link (FOLLOW ->
 * SNAP), the standby's follower loop, the secrets and status files, and
 * the epoch that fences an old central.  See standby.h and docs/HA.md.
 */
#include "standby.h"
#include "audit.h"
#include "schema.h"
#include "users.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define FOLLOW_POLL_MS		200	/* between two FOLLOWs when current */
#define FOLLOW_ANSWER_MS	10000	/* central must answer within this */
#define SNAP_MAX_BYTES		(UINT64_C(64) << 30)	/* a sane bound */
#define SECRETS_MAGIC		"casesync-central-secrets-v1\n"
#define EPOCH_DOMAIN		"casesync-epoch-v1"

/* ---- Files ------------------------------------------------------------- */

static int
path_of(char *out, size_t sz, const char *dir, const char *name)
{
	return (size_t)snprintf(out, sz, "%s/%s", dir, name) >= sz ? E_INVAL :
	    0;
}

/* Writes len bytes to path via path.new, fsync and rename. */
static int
file_replace(const char *path, const void *p, size_t len)
{
	char	tmp[4200];
	int	fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return E_IO;
	ok = write(fd, p, len) == (ssize_t)len && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return E_IO;
	}
	return 0;
}

int
standby_secrets_save(const char *dir, const uint8_t own[CRYPTO_KEY],
    const struct standby_secrets *s, char *err, size_t errsz)
{
	struct buf	b;
	char		path[4096];
	uint8_t		plain[MSG_SECRETS_LEN];
	int		rc;

	if (path_of(path, sizeof(path), dir, STANDBY_SECRETS_FILE) != 0)
		return E_INVAL;
	memcpy(plain, s->sign_pub, 32);
	memcpy(plain + 32, s->sign_sec, 32);
	memcpy(plain + 64, s->datakey, 32);
	buf_init(&b, 4096);
	buf_append(&b, SECRETS_MAGIC, strlen(SECRETS_MAGIC));
	rc = crypto_seal(own, SECRETS_MAGIC, strlen(SECRETS_MAGIC), plain,
	    sizeof(plain), &b);
	crypto_wipe(plain, sizeof(plain));
	if (rc == 0 && (rc = file_replace(path, b.data, b.len)) != 0)
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
	buf_release(&b);
	return rc;
}

int
standby_secrets_load(const char *dir, const uint8_t own[CRYPTO_KEY],
    struct standby_secrets *s, char *err, size_t errsz)
{
	struct buf	out;
	char		path[4096];
	uint8_t		raw[512];
	size_t		ml = strlen(SECRETS_MAGIC);
	ssize_t		n;
	int		fd, rc;

	memset(s, 0, sizeof(*s));
	if (path_of(path, sizeof(path), dir, STANDBY_SECRETS_FILE) != 0)
		return E_INVAL;
	if ((fd = open(path, O_RDONLY)) < 0) {
		if (errno == ENOENT)
			return E_NOTFOUND;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n < (ssize_t)ml || memcmp(raw, SECRETS_MAGIC, ml) != 0) {
		snprintf(err, errsz, "%s: not a secrets file", path);
		return E_INTEGRITY;
	}
	buf_init(&out, 4096);
	rc = crypto_open(own, SECRETS_MAGIC, ml, raw + ml, (size_t)n - ml,
	    &out);
	if (rc == 0 && out.len != MSG_SECRETS_LEN)
		rc = E_INTEGRITY;
	if (rc == 0) {
		memcpy(s->sign_pub, out.data, 32);
		memcpy(s->sign_sec, out.data + 32, 32);
		memcpy(s->datakey, out.data + 64, 32);
	} else
		snprintf(err, errsz, "%s does not open under this node's data "
		    "key", path);
	crypto_wipe(out.data, out.len);
	buf_release(&out);
	crypto_wipe(raw, sizeof(raw));
	return rc;
}

int
standby_status_write(const char *dir, const struct standby_status *s)
{
	char	path[4096], text[2048];
	int	n;

	if (path_of(path, sizeof(path), dir, STANDBY_STATUS_FILE) != 0)
		return E_INVAL;
	n = snprintf(text, sizeof(text), "node %s\ntxn %llu\nentries %llu\n"
	    "central_entries %llu\ncurrent_ms %llu\ncontact_ms %llu\n"
	    "users_ms %llu\naudit_size %llu\naudit_ms %llu\n"
	    "ask_ms %llu\nusers_sum %s\naudit_sum %s\nkey_state %d\n"
	    "key_ms %llu\nkey_mtime %llu\n"
	    "error %s\n", s->node[0] ? s->node : "-",
	    (unsigned long long)s->txn, (unsigned long long)s->entries,
	    (unsigned long long)s->central_entries,
	    (unsigned long long)s->current_ms,
	    (unsigned long long)s->contact_ms,
	    (unsigned long long)s->users_ms,
	    (unsigned long long)s->audit_size,
	    (unsigned long long)s->audit_ms,
	    (unsigned long long)s->ask_ms,
	    s->users_sum[0] ? s->users_sum : "-",
	    s->audit_sum[0] ? s->audit_sum : "-", s->key_state,
	    (unsigned long long)s->key_ms,
	    (unsigned long long)s->key_mtime, s->error);
	if (n >= 0 && (size_t)n < sizeof(text) && s->audit_rec)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "audit_off %llu\n", (unsigned long long)s->audit_off);
	if (n < 0 || (size_t)n >= sizeof(text))
		return E_INVAL;
	return file_replace(path, text, (size_t)n);
}

int
standby_status_read(const char *dir, struct standby_status *s)
{
	char	 path[4096], line[512];
	FILE	*f;

	memset(s, 0, sizeof(*s));
	if (path_of(path, sizeof(path), dir, STANDBY_STATUS_FILE) != 0)
		return E_INVAL;
	if ((f = fopen(path, "r")) == NULL)
		return E_NOTFOUND;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long	v;
		char			w[64];

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "error ", 6) == 0) {
			strlcpy_(s->error, line + 6, sizeof(s->error));
			continue;
		}
		if (sscanf(line, "node %32s", s->node) == 1)
			continue;
		if (sscanf(line, "users_sum %64s", s->users_sum) == 1 ||
		    sscanf(line, "audit_sum %64s", s->audit_sum) == 1)
			continue;
		if (sscanf(line, "%63s %llu", w, &v) != 2)
			continue;
		if (strcmp(w, "txn") == 0)
			s->txn = v;
		else if (strcmp(w, "entries") == 0)
			s->entries = v;
		else if (strcmp(w, "central_entries") == 0)
			s->central_entries = v;
		else if (strcmp(w, "current_ms") == 0)
			s->current_ms = v;
		else if (strcmp(w, "contact_ms") == 0)
			s->contact_ms = v;
		else if (strcmp(w, "users_ms") == 0)
			s->users_ms = v;
		else if (strcmp(w, "audit_size") == 0)
			s->audit_size = v;
		else if (strcmp(w, "audit_ms") == 0)
			s->audit_ms = v;
		else if (strcmp(w, "ask_ms") == 0)
			s->ask_ms = v;
		else if (strcmp(w, "key_state") == 0 && v <= STANDBY_KEY_UNREAD)
			s->key_state = (int)v;
		else if (strcmp(w, "key_ms") == 0)
			s->key_ms = v;
		else if (strcmp(w, "key_mtime") == 0)
			s->key_mtime = v;
		else if (strcmp(w, "audit_off") == 0) {
			s->audit_off = v;
			s->audit_rec = 1;
		}
	}
	fclose(f);
	if (strcmp(s->node, "-") == 0)
		s->node[0] = '\0';
	if (strcmp(s->users_sum, "-") == 0)
		s->users_sum[0] = '\0';
	if (strcmp(s->audit_sum, "-") == 0)
		s->audit_sum[0] = '\0';
	return 0;
}

/* ---- Epochs and fencing ------------------------------------------------ */

static size_t
epoch_text(const char *node, uint64_t epoch, uint8_t *out)
{
	size_t	dl = sizeof(EPOCH_DOMAIN), nl = strlen(node);

	memcpy(out, EPOCH_DOMAIN, dl);		/* with its NUL */
	memcpy(out + dl, node, nl + 1);
	for (int i = 0; i < 8; i++)
		out[dl + nl + 1 + i] = (uint8_t)(epoch >> (56 - 8 * i));
	return dl + nl + 1 + 8;
}

void
standby_epoch_sign(const char *node, uint64_t epoch,
    const uint8_t sec[CRYPTO_SIGN_SEC], uint8_t sig[MSG_SIG_LEN])
{
	uint8_t	t[sizeof(EPOCH_DOMAIN) + HLC_NODE_MAX + 1 + 8];

	crypto_sign(sec, t, epoch_text(node, epoch, t), sig);
}

int
standby_epoch_ok(const char *node, uint64_t epoch,
    const uint8_t pub[CRYPTO_SIGN_PUB], const uint8_t sig[MSG_SIG_LEN])
{
	uint8_t	t[sizeof(EPOCH_DOMAIN) + HLC_NODE_MAX + 1 + 8];

	return crypto_verify(pub, t, epoch_text(node, epoch, t), sig);
}

uint64_t
standby_fenced(struct store *st)
{
	uint64_t v = 0;

	if (store_meta_u64_get(st, "fenced", &v) != 0)
		return 0;
	return v;
}

int
standby_fence_claim(struct store *st, const char *node,
    const uint8_t sign_pub[CRYPTO_SIGN_PUB], const struct msg *r)
{
	struct store_recovery	rv;

	if (store_recovery(st, &rv) != 0 || strcmp(r->node, node) != 0 ||
	    r->epoch <= rv.inc || r->epoch <= standby_fenced(st) ||
	    !standby_epoch_ok(node, r->epoch, sign_pub, r->sig))
		return 0;
	if (store_meta_u64_put(st, "fenced", r->epoch) != 0)
		return 0;
	return 1;
}

void
standby_fenced_text(uint64_t by, char *out, size_t sz)
{
	snprintf(out, sz, "this central is fenced: a standby was promoted to "
	    "central at epoch %llu; it takes no writes; rebuild it as the "
	    "standby with `casesync rejoin -d DIR --primary ENDPOINT`",
	    (unsigned long long)by);
}

/* ---- A province's choice of central ----------------------------------- */

#define CENDPOINT_KEY	"cendpoint"

static void
endpoint_text(const char *ep, const char *name, char *out, size_t sz)
{
	snprintf(out, sz, "%s%s%s", name, name[0] ? "@" : "", ep);
}

void
standby_central_order(struct store *st, char eps[][NODECFG_ENDPOINT_MAX],
    char names[][HLC_NODE_MAX + 1], int neps, int order[])
{
	char	have[NODECFG_ENDPOINT_MAX + HLC_NODE_MAX + 2];
	char	one[sizeof(have)];
	size_t	len = 0;
	int	first = 0, k = 1;

	if (store_meta_blob_get(st, CENDPOINT_KEY, have, sizeof(have) - 1,
	    &len) == 0) {
		have[len] = '\0';
		for (int i = 0; i < neps; i++) {
			endpoint_text(eps[i], names[i], one, sizeof(one));
			if (strcmp(one, have) == 0) {
				first = i;
				break;
			}
		}
	}
	order[0] = first;
	for (int i = 0; i < neps; i++)
		if (i != first)
			order[k++] = i;
}

void
standby_central_answered(struct store *st, const char *ep, const char *name)
{
	char	have[NODECFG_ENDPOINT_MAX + HLC_NODE_MAX + 2];
	char	one[sizeof(have)];
	size_t	len = 0;

	endpoint_text(ep, name, one, sizeof(one));
	if (store_meta_blob_get(st, CENDPOINT_KEY, have, sizeof(have) - 1,
	    &len) == 0) {
		have[len] = '\0';
		if (strcmp(have, one) == 0)
			return;
	}
	/* A committed LMDB transaction: durable. */
	if (store_meta_blob_put(st, CENDPOINT_KEY, one, strlen(one)) != 0)
		log_warnx("sync: cannot remember central at %s", one);
	else
		log_info("sync: central at %s answered; it is tried first "
		    "from now on", one);
}

int
standby_epoch_show(struct store *st, const char *cname, const char *ep,
    const struct net_opts *no, int ms)
{
	struct net	*n = NULL;
	struct msg	 m;
	struct buf	 b, in;
	uint64_t	 seen = 0;
	uint8_t		 id[NET_ID_MAX];
	size_t		 sl = 0, idlen;
	char		 err[256];
	int		 rc;

	memset(&m, 0, sizeof(m));
	if (store_meta_u64_get(st, "cepoch", &seen) != 0 || seen == 0 ||
	    store_meta_blob_get(st, "cepoch_sig", m.sig, sizeof(m.sig),
	    &sl) != 0 || sl != sizeof(m.sig))
		return 0;
	m.type = MSG_EPOCH;
	strlcpy_(m.node, cname, sizeof(m.node));
	m.epoch = seen;
	if (net_connect(ep, no, &n, err, sizeof(err)) != 0)
		return 0;
	buf_init(&b, 1024);
	rc = msg_encode(&m, &b) == 0 ? net_send(n, NULL, 0, b.data, b.len,
	    ms) : E_INVAL;
	buf_release(&b);
	if (rc == 0) {
		/* Connected: give the frame time to leave before the close
		 * (no linger).  A central does not answer EPOCH. */
		buf_init(&in, MSG_MAX_BYTES);
		(void)net_recv(n, 100, id, &idlen, NULL, &in);
		buf_release(&in);
		log_info("sync: showed epoch %llu to the central at %s, passed "
		    "over", (unsigned long long)seen, ep);
	}
	net_close(&n);
	return rc == 0;
}

/* ---- Central's side ---------------------------------------------------- */

struct sbsrv {
	struct store		*st;
	char			 dir[4096];
	char			 name[HLC_NODE_MAX + 1];
	struct standby_secrets	 sec;
	uint64_t		 snap_txn;	/* the snapshot on disk */
	uint64_t		 snap_entries;
	uint64_t		 snap_ms;	/* when it was taken */
	uint64_t		 size;
	int			 fd;
	uint64_t		 status_ms;	/* last status written */
	uint64_t		 sent_txn;	/* a copy sent in full */
	/* Synchronous mode (standby_srv_sync). */
	int			 sync, fallback_async;
	uint64_t		 sync_ms;
	uint64_t		 confirmed;	/* the standby holds this state */
	int			 degraded;	/* asynchronous for now */
	uint64_t		 need;		/* ... until it holds this */
	int			 wait_logged;
	/* AUXASK: a NUL in the audit log, logged once per offset. */
	int			 nul_logged;
	uint64_t		 nul_from;
	int			 key_logged;	/* htcds.key unreadable */
	uint64_t		 aux_ms;	/* AUXASK status written */
};

struct sbsrv *
standby_srv_new(struct store *st, const char *dir, const char *name,
    const struct standby_secrets *sec)
{
	struct sbsrv *s = xcalloc(1, sizeof(*s));

	s->st = st;
	strlcpy_(s->name, name, sizeof(s->name));
	strlcpy_(s->dir, dir, sizeof(s->dir));
	s->sec = *sec;
	s->fd = -1;
	return s;
}

void
standby_srv_sync(struct sbsrv *s, int on, uint64_t wait_ms, int async)
{
	s->sync = on;
	s->sync_ms = wait_ms;
	s->fallback_async = async;
	if (on)
		log_info("standby_sync = on: a batch is acknowledged once "
		    "standby %s holds it; after %llu s without it central %s",
		    s->name, (unsigned long long)(wait_ms / 1000), async ?
		    "degrades to asynchronous" : "keeps waiting");
}

int
standby_srv_hold(struct sbsrv *s, uint64_t txn)
{
	if (s == NULL || !s->sync)
		return 0;
	if (s->degraded) {
		if (txn > s->need)
			s->need = txn;
		return 0;
	}
	return txn > s->confirmed;
}

uint64_t
standby_srv_released(const struct sbsrv *s)
{
	if (s == NULL || !s->sync || s->degraded)
		return UINT64_MAX;
	return s->confirmed;
}

void
standby_srv_waiting(struct sbsrv *s, uint64_t oldest_ms)
{
	uint64_t	waited;

	if (s == NULL || !s->sync || s->degraded || oldest_ms == 0)
		return;
	waited = mono_ms() - oldest_ms;
	if (waited < s->sync_ms)
		return;
	if (s->fallback_async) {
		s->degraded = 1;
		s->need = store_txn_id(s->st);
		s->wait_logged = 0;
		log_warnx("standby_sync: standby %s has not confirmed central's "
		    "state for %llu s: degrading to asynchronous "
		    "(standby_sync_fallback = async); batches are acknowledged "
		    "before the standby holds them, and a loss of central's "
		    "disk now can lose acknowledged entries, until the standby "
		    "catches up", s->name, (unsigned long long)(waited / 1000));
	} else if (!s->wait_logged) {
		s->wait_logged = 1;
		log_warnx("standby_sync: standby %s has not confirmed central's "
		    "state for %llu s: waiting (standby_sync_fallback = wait); "
		    "provinces' batches stay unacknowledged until it does",
		    s->name, (unsigned long long)(waited / 1000));
	}
}

/* The standby says it holds central's state have (FOLLOW). */
static void
srv_confirm(struct sbsrv *s, uint64_t have)
{
	/* Only a copy this process sent in full counts: a stale `have` (a
	 * standby's status from before a restart or another central) never
	 * releases an acknowledgement. */
	if (have == 0 || have != s->sent_txn || have <= s->confirmed)
		return;
	s->confirmed = have;
	if (s->wait_logged) {
		s->wait_logged = 0;
		log_info("standby_sync: standby %s confirms central's state "
		    "again", s->name);
	}
	if (s->sync && s->degraded && have >= s->need) {
		s->degraded = 0;
		log_info("standby_sync: standby %s holds every acknowledged "
		    "batch again: synchronous again", s->name);
	}
}

void
standby_srv_free(struct sbsrv **sp)
{
	struct sbsrv *s = *sp;

	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	crypto_wipe(&s->sec, sizeof(s->sec));
	free(s);
	*sp = NULL;
}

static void
srv_send(struct net *n, const uint8_t *id, size_t idlen, const struct msg *m)
{
	struct buf b;

	buf_init(&b, MSG_MAX_BYTES);
	if (msg_encode(m, &b) == 0)
		net_send(n, id, idlen, b.data, b.len, 0);
	buf_release(&b);
}

static void
srv_error(struct net *n, const uint8_t *id, size_t idlen, int code,
    const char *reason)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (uint64_t)code;
	strlcpy_(m.reason, reason, sizeof(m.reason));
	srv_send(n, id, idlen, &m);
}

/* A new consistent copy of the store in DIR/standby.snap/data.mdb. */
static int
srv_snapshot(struct sbsrv *s)
{
	struct store_info	info;
	struct stat		sb;
	char			sd[4200], f[4300], err[256];
	uint64_t		txn;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->snap_txn = 0;
	snprintf(sd, sizeof(sd), "%s/%s", s->dir, STANDBY_SNAP_DIR);
	snprintf(f, sizeof(f), "%s/data.mdb", sd);
	unlink(f);
	if (mkdir(sd, 0700) != 0 && errno != EEXIST)
		return E_IO;
	txn = store_txn_id(s->st);
	if (store_info(s->st, &info) != 0 ||
	    store_backup(s->st, sd, err, sizeof(err)) != 0) {
		log_warnx("standby: cannot copy the store: %s", err);
		return E_IO;
	}
	if ((s->fd = open(f, O_RDONLY)) < 0 || fstat(s->fd, &sb) != 0)
		return E_IO;
	/* Open, the file stays readable whatever becomes of its name. */
	unlink(f);
	s->size = (uint64_t)sb.st_size;
	s->snap_txn = txn;
	s->snap_entries = info.nentries;
	s->snap_ms = now_ms();
	return 0;
}

static void
srv_status(struct sbsrv *s, const char *node, uint64_t have, uint64_t cur,
    uint64_t entries)
{
	struct standby_status	 ss;
	uint64_t		 now = now_ms();

	standby_status_read(s->dir, &ss);
	strlcpy_(ss.node, node, sizeof(ss.node));
	ss.contact_ms = now;
	ss.central_entries = entries;
	ss.error[0] = '\0';
	if (have == cur) {
		ss.txn = have;
		ss.entries = entries;
		ss.current_ms = now;
	} else if (have != 0 && have == s->snap_txn) {
		ss.txn = have;
		ss.entries = s->snap_entries;
		ss.current_ms = s->snap_ms;
	}
	/* At most once a second: it is only for `status`. */
	if (have == cur || now - s->status_ms >= 1000) {
		s->status_ms = now;
		standby_status_write(s->dir, &ss);
	}
}

/*
 * Reads all of a small file (at most max bytes) into *out (caller frees).
 * Returns 0, E_NOTFOUND, E_TOOBIG or E_IO.
 */
static int
slurp(const char *path, size_t max, uint8_t **out, size_t *len)
{
	struct stat	sb;
	ssize_t		got;
	int		fd;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? E_NOTFOUND : E_IO;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return E_IO;
	}
	if ((uint64_t)sb.st_size > max) {
		close(fd);
		return E_TOOBIG;
	}
	*out = xmalloc((size_t)sb.st_size + 1);
	got = pread(fd, *out, (size_t)sb.st_size, 0);
	close(fd);
	if (got != (ssize_t)sb.st_size) {
		free(*out);
		*out = NULL;
		return E_IO;
	}
	*len = (size_t)got;
	return 0;
}

/* SHA-256 of the last min(off, MSG_AUDIT_SUMWIN) bytes before off in fd.
 * Returns 0 or E_IO. */
static int
audit_tail_sum(int fd, uint64_t off, uint8_t sum[MSG_HASH_LEN])
{
	uint8_t	win[MSG_AUDIT_SUMWIN];
	size_t	w = off < MSG_AUDIT_SUMWIN ? (size_t)off : MSG_AUDIT_SUMWIN;

	if (pread(fd, win, w, (off_t)(off - w)) != (ssize_t)w)
		return E_IO;
	crypto_hash3(win, w, NULL, 0, NULL, 0, sum);
	return 0;
}

/* The digest of an HTCDS pseudonym key that AUXASK carries: never the
 * key, and not a digest of the sealed file (sealing draws a new nonce). */
#define KEY_SUM_DOMAIN	"casesync-htcds-key-sum-v1"

static void
key_sum(const uint8_t key[CRYPTO_KEY], uint8_t sum[MSG_HASH_LEN])
{
	crypto_hash3(KEY_SUM_DOMAIN, sizeof(KEY_SUM_DOMAIN), key, CRYPTO_KEY,
	    NULL, 0, sum);
}

/* A file's mtime in ms (0: no such file). */
static uint64_t
mtime_ms(const char *path)
{
	struct stat	sb;

	if (stat(path, &sb) != 0)
		return 0;
	return (uint64_t)sb.st_mtim.tv_sec * 1000 +
	    (uint64_t)sb.st_mtim.tv_nsec / 1000000;
}

/*
 * Central: what the standby said it holds at this AUXASK, and how that
 * compared with central's files then (for `status` on central, which
 * compares it again with the files as they are when it runs).  Written
 * when it changed, else at most once a second.
 */
static void
srv_aux_status(struct sbsrv *s, const char *node, const struct msg *r,
    uint64_t from, uint64_t size, int users_same, int kstate,
    uint64_t kmtime)
{
	struct standby_status	ss;
	char			us[sizeof(ss.users_sum)];
	char			as[sizeof(ss.audit_sum)];
	uint64_t		now = now_ms();
	int			changed;

	us[0] = as[0] = '\0';
	if (r->usumlen == MSG_HASH_LEN)
		hex_encode(r->usum, MSG_HASH_LEN, us);
	if (from > 0)
		hex_encode(r->asum, MSG_HASH_LEN, as);
	standby_status_read(s->dir, &ss);
	changed = strcmp(ss.users_sum, us) != 0 || ss.audit_off != from ||
	    !ss.audit_rec || ss.audit_size != size || ss.key_state !=
	    kstate || ss.key_mtime != kmtime || strcmp(ss.node, node) != 0;
	strlcpy_(ss.node, node, sizeof(ss.node));
	ss.ask_ms = now;
	memcpy(ss.users_sum, us, sizeof(us));
	memcpy(ss.audit_sum, as, sizeof(as));
	if (users_same)
		ss.users_ms = now;
	ss.audit_rec = 1;
	ss.audit_off = from;
	ss.audit_size = size;
	if (from == size)
		ss.audit_ms = now;
	ss.key_state = kstate;
	ss.key_mtime = kmtime;
	if (kstate == STANDBY_KEY_SAME || kstate == STANDBY_KEY_NONE)
		ss.key_ms = now;
	if (changed || now - s->aux_ms >= 1000) {
		s->aux_ms = now;
		standby_status_write(s->dir, &ss);
	}
}

/*
 * AUXASK's key part: central's HTCDS pseudonym key, opened under its own
 * data key and sealed again for the standby under the data key of
 * central's store (the one the standby holds, from SNAP), when the
 * standby's copy is not that key.  kb holds the sealed bytes m borrows.
 * Returns the enum standby_key to record; *kmtime the key file's mtime.
 */
static int
srv_key(struct sbsrv *s, const struct msg *r, struct msg *m, struct buf *kb,
    uint64_t *kmtime)
{
	uint8_t	key[CRYPTO_KEY], sum[MSG_HASH_LEN];
	char	path[4200], err[512];
	int	rc, state;

	m->auxkey = 1;
	snprintf(path, sizeof(path), "%s/%s", s->dir, PSEUDOKEY_FILE);
	*kmtime = mtime_ms(path);
	rc = pseudokey_peek(s->dir, s->sec.own, key, err, sizeof(err));
	if (rc == E_NOTFOUND) {
		*kmtime = 0;
		m->key = MSG_AUX_KEY_NONE;
		return r->ksumlen == 0 ? STANDBY_KEY_NONE : STANDBY_KEY_SENT;
	}
	if (rc != 0) {
		if (!s->key_logged)
			log_warnx("standby %s: central's HTCDS key is not "
			    "sent: %s", s->name, err);
		s->key_logged = 1;
		m->key = MSG_AUX_KEY_UNREAD;
		return STANDBY_KEY_UNREAD;
	}
	s->key_logged = 0;
	key_sum(key, sum);
	if (r->ksumlen == MSG_HASH_LEN && memcmp(sum, r->ksum,
	    MSG_HASH_LEN) == 0) {
		m->key = MSG_AUX_KEY_SAME;
		state = STANDBY_KEY_SAME;
	} else if (pseudokey_seal(key, s->sec.datakey, kb) == 0) {
		m->key = MSG_AUX_KEY_FILE;
		m->kdata = kb->data;
		m->kdatalen = kb->len;
		state = STANDBY_KEY_SENT;
	} else {
		m->key = MSG_AUX_KEY_UNREAD;
		state = STANDBY_KEY_UNREAD;
	}
	crypto_wipe(key, sizeof(key));
	return state;
}

/*
 * AUXASK: central's console files for its standby (docs/HA.md).  The
 * users file goes whole when the standby's copy differs; the audit log
 * goes from the standby's offset when the bytes before it are central's
 * (else from 0: central's log was rotated or put back), at most one chunk
 * of whole lines.
 */
static void
srv_files(struct sbsrv *s, struct net *n, const uint8_t *id, size_t idlen,
    const struct msg *r)
{
	struct msg	 m;
	struct stat	 sb;
	struct buf	 kb;
	char		 path[4200], why[MSG_REASON_MAX + 1];
	uint8_t		*users = NULL, *chunk = NULL, sum[MSG_HASH_LEN];
	size_t		 ulen = 0, len = 0;
	uint64_t	 size = 0, from = r->offset, kmtime = 0;
	int		 rc, fd, users_same, kstate = STANDBY_KEY_UNKNOWN;

	memset(&m, 0, sizeof(m));
	m.type = MSG_AUX;
	snprintf(path, sizeof(path), "%s/%s", s->dir, USERS_FILE);
	rc = slurp(path, MSG_USERS_MAX, &users, &ulen);
	if (rc == E_NOTFOUND)
		m.users = MSG_AUX_USERS_NONE;
	else if (rc != 0) {
		snprintf(why, sizeof(why), "central cannot read its users "
		    "file: %s", err_str(rc));
		log_warnx("standby %s: %s", s->name, why);
		srv_error(n, id, idlen, MSGERR_STORE, why);
		return;
	} else {
		crypto_hash3(users, ulen, NULL, 0, NULL, 0, sum);
		if (r->usumlen == MSG_HASH_LEN && memcmp(sum, r->usum,
		    MSG_HASH_LEN) == 0)
			m.users = MSG_AUX_USERS_SAME;
		else {
			m.users = MSG_AUX_USERS_FILE;
			m.udata = users;
			m.udatalen = ulen;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, AUDIT_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &sb) == 0)
		size = (uint64_t)sb.st_size;
	if (from > size)
		from = 0;
	if (from > 0 && (fd < 0 || audit_tail_sum(fd, from, sum) != 0 ||
	    memcmp(sum, r->asum, MSG_HASH_LEN) != 0))
		from = 0;
	if (fd >= 0 && size > from) {
		len = size - from < MSG_AUDIT_CHUNK ? (size_t)(size - from) :
		    MSG_AUDIT_CHUNK;
		chunk = xmalloc(len);
		if (pread(fd, chunk, len, (off_t)from) != (ssize_t)len)
			len = 0;
		/* Whole lines only: one being written follows next time. */
		while (len > 0 && chunk[len - 1] != '\n')
			len--;
		if (len > 0 && memchr(chunk, '\0', len) != NULL) {
			/* Logged once per place, not at every ask. */
			if (!s->nul_logged || s->nul_from != from)
				log_warnx("standby %s: central's audit log "
				    "holds a NUL byte after offset %llu: it is "
				    "not copied past it", s->name,
				    (unsigned long long)from);
			s->nul_logged = 1;
			s->nul_from = from;
			len = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	m.offset = from;
	m.total = size;
	m.data = chunk;
	m.datalen = len;
	users_same = m.users == MSG_AUX_USERS_SAME ||
	    (m.users == MSG_AUX_USERS_NONE && r->usumlen == 0);
	buf_init(&kb, 256);
	if (r->auxkey)
		kstate = srv_key(s, r, &m, &kb, &kmtime);
	srv_send(n, id, idlen, &m);
	srv_aux_status(s, r->node, r, from, size, users_same, kstate, kmtime);
	crypto_wipe(kb.data, kb.len);
	buf_release(&kb);
	free(users);
	free(chunk);
}

void
standby_view_central(const char *dir, const struct standby_status *ss,
    struct standby_view *v)
{
	struct stat	 sb;
	char		 path[4200], hex[2 * MSG_HASH_LEN + 1];
	uint8_t		*u = NULL, sum[MSG_HASH_LEN], blk[8192];
	size_t		 ul = 0;
	uint64_t	 at, held = 0;
	int		 fd;

	memset(v, 0, sizeof(*v));
	v->asked = ss->ask_ms != 0;
	/* Users: the standby's copy against the file as it is now. */
	snprintf(path, sizeof(path), "%s/%s", dir, USERS_FILE);
	if (slurp(path, MSG_USERS_MAX, &u, &ul) == 0) {
		v->users_central = 1;
		crypto_hash3(u, ul, NULL, 0, NULL, 0, sum);
		hex_encode(sum, MSG_HASH_LEN, hex);
		v->users_current = v->asked && strcmp(hex, ss->users_sum) == 0;
		free(u);
	} else
		v->users_current = v->asked && ss->users_sum[0] == '\0';
	/* The audit log: what the standby holds is still a prefix of
	 * central's log when the bytes before its offset are the ones it
	 * said it holds (else the log was rotated: it holds none of it). */
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0 &&
	    fstat(fd, &sb) == 0) {
		v->audit_size = (uint64_t)sb.st_size;
		if (ss->audit_rec && ss->audit_off > 0 &&
		    ss->audit_off <= v->audit_size &&
		    audit_tail_sum(fd, ss->audit_off, sum) == 0) {
			hex_encode(sum, MSG_HASH_LEN, hex);
			if (strcmp(hex, ss->audit_sum) == 0)
				held = ss->audit_off;
		}
		v->audit_held = held;
		v->audit_lag_bytes = v->audit_size - held;
		for (at = held; at < v->audit_size; ) {
			size_t	want = v->audit_size - at < sizeof(blk) ?
			    (size_t)(v->audit_size - at) : sizeof(blk);
			ssize_t	got = pread(fd, blk, want, (off_t)at);

			if (got <= 0)
				break;
			for (ssize_t i = 0; i < got; i++)
				v->audit_lag_lines += blk[i] == '\n';
			at += (uint64_t)got;
		}
	}
	if (fd >= 0)
		close(fd);
	/* The HTCDS key: what central had at the last AUXASK is what it has
	 * now (the same file, or still none). */
	v->key_asked = ss->key_state != STANDBY_KEY_UNKNOWN;
	snprintf(path, sizeof(path), "%s/%s", dir, PSEUDOKEY_FILE);
	at = mtime_ms(path);
	v->key_central = at != 0;
	v->key_current = (ss->key_state == STANDBY_KEY_SAME ||
	    ss->key_state == STANDBY_KEY_NONE) && at == ss->key_mtime;
}

void
standby_srv_follow(struct sbsrv *s, struct net *n, const uint8_t *id,
    size_t idlen, const char *user, const struct msg *r)
{
	struct store_info	info;
	struct msg		m;
	uint8_t			*chunk = NULL;
	uint64_t		cur, by;

	if (s == NULL || strcmp(r->node, user) != 0 ||
	    strcmp(user, s->name) != 0 || schema_node_known(user)) {
		log_warnx("refused FOLLOW from %s: not this central's standby",
		    user);
		srv_error(n, id, idlen, MSGERR_AUTH, "only this central's "
		    "standby may follow it (`standby` in casesync.conf)");
		return;
	}
	if ((by = standby_fenced(s->st)) != 0) {
		char why[MSG_REASON_MAX + 1];

		standby_fenced_text(by, why, sizeof(why));
		srv_error(n, id, idlen, MSGERR_FENCED, why);
		return;
	}
	if (r->type == MSG_AUXASK) {
		srv_files(s, n, id, idlen, r);
		return;
	}
	srv_confirm(s, r->have);
	cur = store_txn_id(s->st);
	if (store_info(s->st, &info) != 0) {
		srv_error(n, id, idlen, MSGERR_STORE, "cannot read the store");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = MSG_SNAP;
	m.entries = info.nentries;
	if (r->snap == 0 && r->have == cur) {
		/* The standby is current: nothing to send. */
		m.txn = cur;
		srv_status(s, user, r->have, cur, info.nentries);
		srv_send(n, id, idlen, &m);
		return;
	}
	if (r->snap == 0) {
		if (s->snap_txn != cur && srv_snapshot(s) != 0) {
			srv_error(n, id, idlen, MSGERR_STORE, "central cannot "
			    "copy its store now");
			return;
		}
		if (r->offset != 0) {
			srv_error(n, id, idlen, MSGERR_PROTO, "a new snapshot "
			    "starts at offset 0");
			return;
		}
		log_info("standby %s: sending central's state (%llu bytes, "
		    "%llu entries)", user, (unsigned long long)s->size,
		    (unsigned long long)s->snap_entries);
	} else if (r->snap != s->snap_txn || s->fd < 0 ||
	    r->offset >= s->size) {
		srv_error(n, id, idlen, MSGERR_SESSION, "that snapshot is "
		    "gone: ask for a new one");
		return;
	}
	m.txn = s->snap_txn;
	m.offset = r->offset;
	m.total = s->size;
	m.datalen = s->size - r->offset < MSG_SNAP_CHUNK ?
	    (size_t)(s->size - r->offset) : MSG_SNAP_CHUNK;
	chunk = xmalloc(m.datalen ? m.datalen : 1);
	if (pread(s->fd, chunk, m.datalen, (off_t)r->offset) !=
	    (ssize_t)m.datalen) {
		free(chunk);
		srv_error(n, id, idlen, MSGERR_STORE, "cannot read the copy");
		return;
	}
	m.data = chunk;
	if (r->offset == 0) {
		memcpy(m.secrets, s->sec.sign_pub, 32);
		memcpy(m.secrets + 32, s->sec.sign_sec, 32);
		memcpy(m.secrets + 64, s->sec.datakey, 32);
		m.secretslen = MSG_SECRETS_LEN;
	}
	srv_status(s, user, r->have, cur, info.nentries);
	srv_send(n, id, idlen, &m);
	if (r->offset + m.datalen == s->size)
		s->sent_txn = s->snap_txn;
	crypto_wipe(m.secrets, sizeof(m.secrets));
	free(chunk);
}

int
standby_node_secrets(const char *dir, const char *pass,
    const struct identity *id, struct standby_secrets *s, char *err,
    size_t errsz)
{
	uint8_t	own[CRYPTO_KEY];
	int	rc;

	memset(s, 0, sizeof(*s));
	if ((rc = datakey_load(dir, pass, own, err, errsz)) != 0)
		return rc;
	rc = standby_secrets_load(dir, own, s, err, errsz);
	if (rc == E_NOTFOUND) {
		/* Central's own data key. */
		memcpy(s->datakey, own, CRYPTO_KEY);
		rc = 0;
	}
	/* It seals DIR/htcds.key (srv_key). */
	memcpy(s->own, own, CRYPTO_KEY);
	crypto_wipe(own, sizeof(own));
	if (rc != 0)
		return rc;
	memcpy(s->sign_pub, id->sign_pub, 32);
	memcpy(s->sign_sec, id->sign_sec, 32);
	return 0;
}

/* ---- The standby's side ------------------------------------------------ */

struct follower {
	const char		*dir;
	const struct nodecfg	*cfg;
	struct net		*net;
	const uint8_t		*own;
	struct standby_status	 ss;
	uint64_t		 have;	/* txn of the replica */
	/* The copies of central's console files (files_*). */
	int			 files_ok;	/* files_init succeeded */
	uint64_t		 files_next;	/* mono_ms: ask not before */
	uint8_t			 usum[MSG_HASH_LEN], asum[MSG_HASH_LEN];
	size_t			 usumlen, asumlen;
	uint8_t			 bad_usum[MSG_HASH_LEN];	/* logged */
	int			 bad_set;
	/* The copy of central's HTCDS key (files_key). */
	uint8_t			 ksum[MSG_HASH_LEN];
	size_t			 ksumlen;
	int			 key_bad;	/* logged */
	uint64_t		 nokey_until;	/* mono_ms: an older central,
						 * ask without the key */
};

static void
rmtree(const char *d)
{
	DIR		*dp;
	struct dirent	*de;
	char		 p[4400];

	if ((dp = opendir(d)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		unlink(p);
	}
	closedir(dp);
	rmdir(d);
}

static int
fsend(struct follower *f, const struct msg *m)
{
	struct buf	b;
	int		rc;

	buf_init(&b, MSG_MAX_BYTES);
	if ((rc = msg_encode(m, &b)) == 0)
		rc = net_send(f->net, NULL, 0, b.data, b.len, 2000);
	buf_release(&b);
	return rc;
}

/*
 * Sends m and waits for central's answer, of type want, into *r (from
 * in).  *code: the code of an ERROR central answered (else 0).
 */
static int
fexchange(struct follower *f, const struct msg *m, enum msg_type want,
    struct buf *in, struct msg *r, int *code, volatile sig_atomic_t *quit)
{
	uint64_t	until = mono_ms() + FOLLOW_ANSWER_MS;
	uint8_t		id[NET_ID_MAX];
	size_t		idlen;
	int		rc;

	*code = 0;
	if ((rc = fsend(f, m)) != 0) {
		snprintf(f->ss.error, sizeof(f->ss.error), "central at %s "
		    "cannot be reached", f->cfg->primary);
		return E_AGAIN;
	}
	while (!*quit && mono_ms() < until) {
		rc = net_recv(f->net, 250, id, &idlen, NULL, in);
		if (rc == E_AGAIN)
			continue;
		if (rc == E_AUTH) {
			snprintf(f->ss.error, sizeof(f->ss.error), "%s",
			    net_error(f->net));
			return E_AUTH;
		}
		if (rc != 0)
			return E_AGAIN;
		if (msg_decode(in->data, in->len, r) != 0) {
			log_warnx("standby: malformed message from central");
			return E_AGAIN;
		}
		if (r->type == MSG_ERROR) {
			*code = (int)r->code;
			if (want == MSG_AUX && r->code == MSGERR_PROTO) {
				/* An older central: handled by the caller. */
				msg_release(r);
				return E_PROTO;
			}
			snprintf(f->ss.error, sizeof(f->ss.error), "central "
			    "says: %s", r->reason);
			log_warnx("standby: central says: %s", r->reason);
			rc = r->code == MSGERR_AUTH ? E_AUTH : E_AGAIN;
			msg_release(r);
			return rc;
		}
		if (r->type != want) {
			msg_release(r);
			return E_AGAIN;
		}
		return 0;
	}
	snprintf(f->ss.error, sizeof(f->ss.error), "central at %s did not "
	    "answer within %d s", f->cfg->primary, FOLLOW_ANSWER_MS / 1000);
	return E_AGAIN;
}

/* Sends FOLLOW and waits for central's answer into *r (from in). */
static int
fask(struct follower *f, uint64_t snap, uint64_t offset, struct buf *in,
    struct msg *r, volatile sig_atomic_t *quit)
{
	struct msg	m;
	int		code;

	memset(&m, 0, sizeof(m));
	m.type = MSG_FOLLOW;
	strlcpy_(m.node, f->cfg->node, sizeof(m.node));
	m.have = f->have;
	m.snap = snap;
	m.offset = offset;
	return fexchange(f, &m, MSG_SNAP, in, r, &code, quit);
}

/* ---- The standby's copies of central's console files ------------------- */

static int	still_standby(const char *dir);

static void
files_path(const struct follower *f, const char *name, char *out, size_t sz)
{
	snprintf(out, sz, "%s/%s%s%s", f->dir, STANDBY_FILES_DIR,
	    name[0] ? "/" : "", name);
}

static int
fsync_dir(const char *d)
{
	int	fd, rc = 0;

	if ((fd = open(d, O_RDONLY | O_DIRECTORY)) < 0)
		return E_IO;
	if (fsync(fd) != 0)
		rc = E_IO;
	close(fd);
	return rc;
}

/* The audit copy is not a prefix of central's log (or not known to be):
 * it is kept, never deleted, as central.files/audit-MS.log. */
static void
files_audit_aside(struct follower *f, const char *why)
{
	char	from[4300], to[4300], name[64];

	files_path(f, AUDIT_FILE, from, sizeof(from));
	snprintf(name, sizeof(name), "audit-%llu.log",
	    (unsigned long long)now_ms());
	files_path(f, name, to, sizeof(to));
	if (rename(from, to) == 0)
		log_warnx("standby: the copy of central's audit log is kept "
		    "as %s (%s); copying it again from its start", to, why);
	f->ss.audit_off = 0;
	f->ss.audit_rec = 1;
	f->asumlen = 0;
}

static int
files_audit_sum(struct follower *f)
{
	char	p[4300];
	int	fd, rc;

	f->asumlen = 0;
	if (f->ss.audit_off == 0)
		return 0;
	files_path(f, AUDIT_FILE, p, sizeof(p));
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return E_IO;
	rc = audit_tail_sum(fd, f->ss.audit_off, f->asum);
	close(fd);
	if (rc == 0)
		f->asumlen = MSG_HASH_LEN;
	return rc;
}

/* The digest of the HTCDS key in the copy (central.files/htcds.key,
 * sealed under central's data key), for AUXASK; none when it does not
 * open. */
static void
files_key_init(struct follower *f)
{
	struct standby_secrets	sec;
	uint8_t			key[CRYPTO_KEY];
	char			p[4300], err[512];

	f->ksumlen = 0;
	files_path(f, PSEUDOKEY_FILE, p, sizeof(p));
	if (access(p, F_OK) != 0 || standby_secrets_load(f->dir, f->own, &sec,
	    err, sizeof(err)) != 0)
		return;
	if (pseudokey_read_file(p, sec.datakey, key, err, sizeof(err)) == 0) {
		key_sum(key, f->ksum);
		f->ksumlen = MSG_HASH_LEN;
	} else
		log_warnx("standby: %s: it is asked for again", err);
	crypto_wipe(key, sizeof(key));
	crypto_wipe(&sec, sizeof(sec));
}

/*
 * Central's HTCDS pseudonym key (AUX's longer form): checked to open
 * under central's data key (from central.secrets), then written 0600 to
 * central.files/htcds.key by a fsync'd rename.  Central without a key
 * (deleted there to start its pseudonyms over) deletes the copy too.
 */
static int
files_key(struct follower *f, const struct msg *r)
{
	struct standby_secrets	sec;
	uint8_t			key[CRYPTO_KEY], sum[MSG_HASH_LEN];
	char			p[4300], d[4300], err[512];
	int			rc;

	if (!r->auxkey) {
		f->ss.key_state = STANDBY_KEY_UNKNOWN;
		return 0;
	}
	files_path(f, PSEUDOKEY_FILE, p, sizeof(p));
	files_path(f, "", d, sizeof(d));
	switch (r->key) {
	case MSG_AUX_KEY_SAME:
		if (f->ksumlen == MSG_HASH_LEN) {
			f->ss.key_state = STANDBY_KEY_SAME;
			f->ss.key_ms = now_ms();
		}
		return 0;
	case MSG_AUX_KEY_UNREAD:
		f->ss.key_state = STANDBY_KEY_UNREAD;
		return 0;
	case MSG_AUX_KEY_NONE:
		if (unlink(p) == 0) {
			if (fsync_dir(d) != 0)
				return E_IO;
			log_info("standby: central has no HTCDS key now: the "
			    "copy of its key is deleted");
		} else if (errno != ENOENT)
			return E_IO;
		f->ksumlen = 0;
		f->ss.key_state = STANDBY_KEY_NONE;
		f->ss.key_ms = now_ms();
		return 0;
	default:
		break;
	}
	memset(key, 0, sizeof(key));
	if ((rc = standby_secrets_load(f->dir, f->own, &sec, err,
	    sizeof(err))) == 0)
		rc = pseudokey_unseal(r->kdata, r->kdatalen, sec.datakey, key);
	crypto_wipe(&sec, sizeof(sec));
	if (rc != 0) {
		crypto_wipe(key, sizeof(key));
		if (!f->key_bad)
			log_warnx("standby: central's HTCDS key does not open "
			    "under central's data key: it is not copied");
		f->key_bad = 1;
		snprintf(f->ss.error, sizeof(f->ss.error), "central's HTCDS "
		    "key does not open under central's data key");
		return 0;
	}
	f->key_bad = 0;
	key_sum(key, sum);
	crypto_wipe(key, sizeof(key));
	if ((rc = file_replace(p, r->kdata, r->kdatalen)) != 0 ||
	    fsync_dir(d) != 0)
		return rc != 0 ? rc : E_IO;
	memcpy(f->ksum, sum, sizeof(sum));
	f->ksumlen = MSG_HASH_LEN;
	f->ss.key_state = STANDBY_KEY_SAME;
	f->ss.key_ms = now_ms();
	log_info("standby: holds central's HTCDS pseudonym key");
	return 0;
}

/*
 * At start: the copies as the last run left them.  Audit bytes past the
 * recorded offset were never confirmed written (a crash between the write
 * and the status): cut, they come again.  A copy without a record, or
 * shorter than it, is kept aside.
 */
static int
files_init(struct follower *f)
{
	struct stat	 sb;
	char		 d[4300], p[4300];
	uint8_t		*u;
	size_t		 ul;

	files_path(f, "", d, sizeof(d));
	if (mkdir(d, 0700) != 0 && errno != EEXIST)
		return E_IO;
	files_path(f, USERS_FILE, p, sizeof(p));
	f->usumlen = 0;
	if (slurp(p, MSG_USERS_MAX, &u, &ul) == 0) {
		crypto_hash3(u, ul, NULL, 0, NULL, 0, f->usum);
		f->usumlen = MSG_HASH_LEN;
		free(u);
	}
	files_key_init(f);
	files_path(f, AUDIT_FILE, p, sizeof(p));
	if (stat(p, &sb) != 0) {
		f->ss.audit_off = 0;
		f->ss.audit_rec = 1;
		return 0;
	}
	if (!f->ss.audit_rec)
		files_audit_aside(f, "no record of how much of it was "
		    "written");
	else if ((uint64_t)sb.st_size < f->ss.audit_off)
		files_audit_aside(f, "shorter than recorded");
	else if ((uint64_t)sb.st_size > f->ss.audit_off &&
	    truncate(p, (off_t)f->ss.audit_off) != 0)
		return E_IO;
	return files_audit_sum(f);
}

/* Central's users file, whole: checked (it parses as a users file) in
 * central.files/stage/, then renamed in place. */
static int
files_users(struct follower *f, const struct msg *r)
{
	struct user	*us = NULL;
	size_t		 nu = 0;
	char		 sd[4300], sp[4400], p[4300], err[256];
	uint8_t		 sum[MSG_HASH_LEN];
	int		 rc;

	files_path(f, USERS_FILE, p, sizeof(p));
	if (r->users == MSG_AUX_USERS_NONE) {
		if (unlink(p) != 0 && errno != ENOENT)
			return E_IO;
		f->usumlen = 0;
		f->ss.users_ms = now_ms();
		return 0;
	}
	if (r->users == MSG_AUX_USERS_SAME) {
		if (f->usumlen == MSG_HASH_LEN)
			f->ss.users_ms = now_ms();
		return 0;
	}
	crypto_hash3(r->udata, r->udatalen, NULL, 0, NULL, 0, sum);
	files_path(f, "stage", sd, sizeof(sd));
	snprintf(sp, sizeof(sp), "%s/%s", sd, USERS_FILE);
	if (mkdir(sd, 0700) != 0 && errno != EEXIST)
		return E_IO;
	if ((rc = file_replace(sp, r->udata, r->udatalen)) != 0)
		return rc;
	if ((rc = users_load(sd, &us, &nu, err, sizeof(err))) != 0) {
		unlink(sp);
		if (!f->bad_set || memcmp(f->bad_usum, sum, sizeof(sum)) != 0)
			log_warnx("standby: central's users file is not "
			    "copied: %s", err);
		memcpy(f->bad_usum, sum, sizeof(sum));
		f->bad_set = 1;
		snprintf(f->ss.error, sizeof(f->ss.error), "central's users "
		    "file does not parse: %.300s", err);
		return 0;
	}
	free(us);
	files_path(f, "", sd, sizeof(sd));
	if (rename(sp, p) != 0 || fsync_dir(sd) != 0)
		return E_IO;
	memcpy(f->usum, sum, sizeof(sum));
	f->usumlen = MSG_HASH_LEN;
	f->ss.users_ms = now_ms();
	log_info("standby: holds central's console users (%zu)", nu);
	return 0;
}

/* Audit lines of central's log from r->offset: appended, fsync'd. */
static int
files_audit(struct follower *f, const struct msg *r)
{
	char	p[4300], d[4300];
	int	fd, ok, created;

	if (r->offset != f->ss.audit_off) {
		if (r->offset != 0)
			return E_PROTO;
		files_audit_aside(f, "central's audit log does not continue "
		    "it: rotated or put back from a copy");
	}
	if (r->datalen > 0) {
		files_path(f, AUDIT_FILE, p, sizeof(p));
		created = access(p, F_OK) != 0;
		if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
			return E_IO;
		ok = pwrite(fd, r->data, r->datalen, (off_t)f->ss.audit_off) ==
		    (ssize_t)r->datalen && fsync(fd) == 0;
		ok = close(fd) == 0 && ok;
		files_path(f, "", d, sizeof(d));
		if (!ok || (created && fsync_dir(d) != 0))
			return E_IO;
		f->ss.audit_off += r->datalen;
		if (files_audit_sum(f) != 0)
			return E_IO;
	}
	f->ss.audit_size = r->total > f->ss.audit_off ? r->total :
	    f->ss.audit_off;
	if (f->ss.audit_off >= r->total)
		f->ss.audit_ms = now_ms();
	return 0;
}

/* Applies an AUX under the lock `promote` takes: once promoted, a late
 * answer changes nothing. */
static int
files_apply(struct follower *f, const struct msg *r)
{
	char	lk[4200];
	int	lfd, rc;

	snprintf(lk, sizeof(lk), "%s/%s", f->dir, STANDBY_LOCK_FILE);
	if ((lfd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return E_IO;
	if (flock(lfd, LOCK_EX) != 0) {
		close(lfd);
		return E_IO;
	}
	if (!still_standby(f->dir))
		rc = E_INVAL;
	else if ((rc = files_users(f, r)) == 0 &&
	    (rc = files_audit(f, r)) == 0)
		rc = files_key(f, r);
	if (rc == 0)
		f->ss.ask_ms = now_ms();
	close(lfd);
	if (rc != 0 && rc != E_INVAL)
		log_warnx("standby: cannot write the copies of central's "
		    "console files in %s/%s: %s", f->dir, STANDBY_FILES_DIR,
		    err_str(rc));
	return rc;
}

/*
 * Asks central for its console files (AUXASK) until the copies are
 * current or a few rounds went by.  Returns 0, or the error of the link.
 */
static int
files_ask(struct follower *f, struct buf *in, volatile sig_atomic_t *quit)
{
	for (int round = 0; round < 16 && !*quit; round++) {
		struct msg	m, r;
		int		code, rc, more;

		if (!f->files_ok || mono_ms() < f->files_next)
			return 0;
		memset(&m, 0, sizeof(m));
		m.type = MSG_AUXASK;
		strlcpy_(m.node, f->cfg->node, sizeof(m.node));
		memcpy(m.usum, f->usum, sizeof(m.usum));
		m.usumlen = f->usumlen;
		m.offset = f->ss.audit_off;
		memcpy(m.asum, f->asum, sizeof(m.asum));
		m.asumlen = f->asumlen;
		if (mono_ms() >= f->nokey_until) {
			m.auxkey = 1;
			memcpy(m.ksum, f->ksum, sizeof(m.ksum));
			m.ksumlen = f->ksumlen;
		}
		rc = fexchange(f, &m, MSG_AUX, in, &r, &code, quit);
		if (rc == E_PROTO && m.auxkey) {
			log_warnx("standby: central does not send its HTCDS "
			    "key (an older casesync?); asking without it for "
			    "10 minutes");
			f->nokey_until = mono_ms() + 600000;
			continue;
		}
		if (rc == E_PROTO) {
			log_warnx("standby: central does not send its console "
			    "users and audit log (an older casesync?); asking "
			    "again in 60 s");
			f->files_next = mono_ms() + 60000;
			return 0;
		}
		if (rc != 0 && code != 0 && code != MSGERR_AUTH &&
		    code != MSGERR_FENCED) {
			/* Central cannot send its files now (it said why):
			 * the copies of its store go on regardless. */
			f->files_next = mono_ms() + 5000;
			return 0;
		}
		if (rc != 0)
			return rc;
		rc = files_apply(f, &r);
		more = r.datalen > 0 && r.offset + r.datalen < r.total;
		msg_release(&r);
		if (rc == E_INVAL)
			return 0;	/* promoted meanwhile */
		if (rc != 0) {
			/* A local fault (disk): the store's copies go on;
			 * the console files are tried again later. */
			snprintf(f->ss.error, sizeof(f->ss.error), "cannot "
			    "write the copies of central's console files: %s",
			    err_str(rc));
			f->files_next = mono_ms() + 5000;
			return 0;
		}
		if (!more)
			return 0;
	}
	return 0;
}

/* Checks a received copy: it opens under central's data key. */
static int
replica_check(const char *d, const struct standby_secrets *sec,
    uint64_t *entries, char *node, size_t nodesz)
{
	struct store		*st;
	struct store_info	 info;
	char			 err[256];
	int			 rc;

	if ((rc = store_open(d, &st, err, sizeof(err))) != 0)
		return rc;
	rc = store_set_keys(st, sec->sign_sec, sec->sign_pub, sec->datakey);
	if (rc == 0)
		rc = store_info(st, &info);
	if (rc == 0 && strcmp(info.role, STORE_ROLE_CENTRAL) != 0)
		rc = E_INTEGRITY;
	if (rc == 0) {
		*entries = info.nentries;
		strlcpy_(node, info.node, nodesz);
	}
	store_close(&st);
	return rc;
}

/* Has `promote` (or `rejoin`) changed what this node is? */
static int
still_standby(const char *dir)
{
	struct nodecfg	c;
	char		err[256];

	if (nodecfg_load(dir, &c, err, sizeof(err)) != 0)
		return 1;
	return strcmp(c.role, "standby") == 0;
}

/* Puts DIR/replica.new in place of DIR/replica, atomically, holding the
 * lock that `promote` takes. */
static int
replica_swap(const char *dir)
{
	char	nd[4200], rd[4200], lk[4200];
	int	lfd, rc = 0;

	snprintf(nd, sizeof(nd), "%s/%s.new", dir, STANDBY_REPLICA_DIR);
	snprintf(rd, sizeof(rd), "%s/%s", dir, STANDBY_REPLICA_DIR);
	snprintf(lk, sizeof(lk), "%s/%s", dir, STANDBY_LOCK_FILE);
	if ((lfd = open(lk, O_RDWR | O_CREAT, 0600)) < 0)
		return E_IO;
	if (flock(lfd, LOCK_EX) != 0) {
		close(lfd);
		return E_IO;
	}
	if (!still_standby(dir))
		rc = E_INVAL;	/* promoted meanwhile: the copy is moot */
	else if (access(rd, F_OK) == 0) {
		if (renameat2(AT_FDCWD, nd, AT_FDCWD, rd, RENAME_EXCHANGE) != 0)
			rc = E_IO;
		else
			rmtree(nd);	/* now the previous copy */
	} else if (rename(nd, rd) != 0)
		rc = E_IO;
	if (rc == 0) {
		/* The swap is durable before the next FOLLOW says we hold the
		 * copy: synchronous mode counts on it. */
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);

		if (dfd < 0 || fsync(dfd) != 0)
			rc = E_IO;
		if (dfd >= 0)
			close(dfd);
	}
	close(lfd);
	return rc;
}

/* Fetches the snapshot whose first chunk is in r (released here). */
/* asked: when the FOLLOW that central answered with this copy was sent;
 * central took the copy after that, so it holds every commit before it. */
static int
fetch_snapshot(struct follower *f, struct msg *r, struct buf *in,
    uint64_t asked, volatile sig_atomic_t *quit)
{
	struct standby_secrets	sec;
	char			nd[4200], fp[4300], err[256];
	char			node[HLC_NODE_MAX + 1];
	uint64_t		txn = r->txn, total = r->total, off = 0;
	uint64_t		entries = 0, started = asked;
	int			fd, rc = 0;

	if (r->secretslen != MSG_SECRETS_LEN || total > SNAP_MAX_BYTES ||
	    r->offset != 0) {
		msg_release(r);
		return E_PROTO;
	}
	memcpy(sec.sign_pub, r->secrets, 32);
	memcpy(sec.sign_sec, r->secrets + 32, 32);
	memcpy(sec.datakey, r->secrets + 64, 32);
	snprintf(nd, sizeof(nd), "%s/%s.new", f->dir, STANDBY_REPLICA_DIR);
	snprintf(fp, sizeof(fp), "%s/data.mdb", nd);
	rmtree(nd);
	if (mkdir(nd, 0700) != 0 ||
	    (fd = open(fp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		msg_release(r);
		crypto_wipe(&sec, sizeof(sec));
		return E_IO;
	}
	for (;;) {
		if (r->txn != txn || r->total != total || r->offset != off) {
			rc = E_PROTO;
			break;
		}
		if (write(fd, r->data, r->datalen) != (ssize_t)r->datalen) {
			rc = E_IO;
			break;
		}
		off += r->datalen;
		msg_release(r);
		if (off == total)
			break;
		if ((rc = fask(f, txn, off, in, r, quit)) != 0)
			break;
	}
	if (rc != 0)
		msg_release(r);
	if (fsync(fd) != 0 && rc == 0)
		rc = E_IO;
	close(fd);
	if (rc == 0 && (rc = replica_check(nd, &sec, &entries, node,
	    sizeof(node))) != 0)
		log_warnx("standby: the copy from central does not open: %s",
		    err_str(rc));
	if (rc == 0 && (rc = standby_secrets_save(f->dir, f->own, &sec, err,
	    sizeof(err))) != 0)
		log_warnx("standby: %s", err);
	crypto_wipe(&sec, sizeof(sec));
	if (rc == 0)
		rc = replica_swap(f->dir);
	if (rc != 0) {
		rmtree(nd);
		return rc;
	}
	f->have = txn;
	strlcpy_(f->ss.node, node, sizeof(f->ss.node));
	f->ss.txn = txn;
	f->ss.entries = entries;
	f->ss.current_ms = started;
	f->ss.error[0] = '\0';
	log_info("standby: holds central's state %llu (%llu entries, %llu "
	    "bytes)", (unsigned long long)txn, (unsigned long long)entries,
	    (unsigned long long)total);
	return 0;
}

static void
nap(uint64_t ms, volatile sig_atomic_t *quit)
{
	while (ms > 0 && !*quit) {
		uint64_t	step = ms < 100 ? ms : 100;
		struct timespec	ts = { 0, (long)step * 1000000 };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int
standby_follow(const char *dir, const struct nodecfg *cfg,
    const struct identity *id, const uint8_t central_curve[CURVE_KEY],
    const uint8_t own[CRYPTO_KEY], volatile sig_atomic_t *quit)
{
	struct follower	f;
	struct net_opts	no;
	struct buf	in;
	uint64_t	backoff = 500;
	char		err[256];
	int		rc = 0;

	memset(&f, 0, sizeof(f));
	f.dir = dir;
	f.cfg = cfg;
	f.own = own;
	standby_status_read(dir, &f.ss);
	f.have = f.ss.txn;
	{
		/* The copy in place is the one to build on. */
		char rp[4200];

		snprintf(rp, sizeof(rp), "%s/%s/data.mdb", dir,
		    STANDBY_REPLICA_DIR);
		if (access(rp, F_OK) != 0)
			f.have = 0;
	}
	if (files_init(&f) == 0)
		f.files_ok = 1;
	else
		log_warn("standby: %s/%s: the console files of central are "
		    "not copied", dir, STANDBY_FILES_DIR);
	memset(&no, 0, sizeof(no));
	no.heartbeat_ms = cfg->heartbeat_ms;
	no.max_msg = MSG_MAX_BYTES;
	no.curve_pub = id->curve_pub;
	no.curve_sec = id->curve_sec;
	no.server_pub = central_curve;
	buf_init(&in, MSG_MAX_BYTES);
	log_info("standby %s following central at %s", cfg->node,
	    cfg->primary);
	while (!*quit) {
		struct msg	r;
		uint64_t	asked;

		if (!still_standby(dir)) {
			rc = STANDBY_PROMOTED;
			break;
		}
		if (f.net == NULL && net_connect(cfg->primary, &no, &f.net,
		    err, sizeof(err)) != 0) {
			log_warnx("standby: %s", err);
			nap(backoff, quit);
			continue;
		}
		asked = now_ms();
		rc = fask(&f, 0, 0, &in, &r, quit);
		if (rc == 0 && r.total == 0) {
			f.ss.contact_ms = now_ms();
			f.ss.central_entries = r.entries;
			if (r.txn == f.have) {
				/* Central found us current after we asked. */
				f.ss.current_ms = asked;
				f.ss.entries = r.entries;
			}
			f.ss.error[0] = '\0';
			msg_release(&r);
			rc = files_ask(&f, &in, quit);
			standby_status_write(dir, &f.ss);
			if (rc == 0) {
				backoff = 500;
				nap(FOLLOW_POLL_MS, quit);
				continue;
			}
		} else if (rc == 0) {
			f.ss.contact_ms = now_ms();
			f.ss.central_entries = r.entries;
			rc = fetch_snapshot(&f, &r, &in, asked, quit);
			if (rc == 0)
				rc = files_ask(&f, &in, quit);
			standby_status_write(dir, &f.ss);
			if (rc == 0) {
				backoff = 500;
				continue;
			}
		}
		/* Cut link, central gone or busy: start again. */
		standby_status_write(dir, &f.ss);
		net_close(&f.net);
		nap(backoff, quit);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		rc = 0;
	}
	net_close(&f.net);
	buf_release(&in);
	return rc;
}

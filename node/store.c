/*
 * store.c - the LMDB store.  See store.h for the contract.
 *
 * Databases (all in DIR/data.mdb):
 *   meta     "node", "role", "seq", "hlc", "feed:<peer>" -> values;
 *            "chain:<origin>" -> chain head; after a restore (docs/
 *            PROTOCOL.md, Recovery) "inc" -> incarnation, "recover_from"
 *            -> own seq after which entries may be lost (until recovered);
 *            province: "fref:<peer>" -> log key of the entry at its feed
 *            position, "returned:<peer>" -> central incarnation given
 *            back to.  Every one is optional: a store written before
 *            they existed opens as it is (incarnation 0).
 *   log      origin \0 be64(seq)            -> record (entry + signature)
 *   caselog  case_id origin \0 be64(seq)    -> "" (a case's entries)
 *   cases    case_id                        -> case state
 *   vv       origin                         -> be64(highest seq applied)
 *   feed     peer \0 be64(pos)              -> log key (central only)
 *   peers    peer                           -> struct peer_disk
 *   refused  origin \0 be64(seq)            -> reason \0 record
 *   names    mac(16) case_id                -> "" (nameidx.h)
 *   namecase case_id                        -> the macs indexed for it
 *   conflicted case_id                      -> "" (a field has two heads)
 *   authors  pseudonym (8 bytes)            -> sealed author (state_crypt)
 * Keys that grow are big-endian so LMDB appends in key order.
 */
#include "store.h"
#include "conflict.h"
#include "merge.h"
#include "nameidx.h"
#include "offer.h"
#include "schema.h"
#include "keyhist.h"
#include "sign.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define MAP_INITIAL	(64ULL << 20)
#define MAP_LIMIT	(1ULL << 40)
#define TXN_RETRIES	16
#define LOGKEY_MAX	(HLC_NODE_MAX + 1 + 8)
#define CASEKEY_MAX	(ENTRY_CASE_ID_LEN + LOGKEY_MAX)

struct store {
	MDB_env		*env;
	MDB_dbi		 meta, log, caselog, cases, vv, feed, peers, refused;
	MDB_dbi		 keys, names, namecase, conflicted, authors;
	MDB_dbi		 keyhist;	/* keyhist.c */
	uint8_t		 namekey[CRYPTO_HASH];	/* from the data key */
	int		 mapfull;	/* set when a put hit MDB_MAP_FULL */
	int		 have_keys;
	uint8_t		 datakey[CRYPTO_KEY];	/* data at rest */
	uint8_t		 authorkey[CRYPTO_HASH];	/* author pseudonyms */
	uint8_t		 sign_sec[CRYPTO_SIGN_SEC];
	uint8_t		 sign_pub[CRYPTO_SIGN_PUB];
	uint64_t	 skew_ms;
	int64_t		 offset_ms;
	int		 drop_transferred;	/* keep_transferred = no */
	struct quota	 quota;
	char		 node[HLC_NODE_MAX + 1];
	char		 role[16];
};

static int	state_crypt(struct store *, MDB_txn *, struct case_state *,
		    int);
static uint64_t	wall(const struct store *);
static int	txn_begin(struct store *, unsigned, MDB_txn **);
struct node_key;
static int	key_read(struct store *, MDB_txn *, const char *,
		    struct node_key *);

/* What a peer record looks like on disk: fixed size, checked on read. */
struct peer_disk {
	uint32_t	version;
	uint32_t	pad;
	struct peer_info info;
};

/*
 * Is the filesystem of the store (nearly) out of space?  LMDB turns a short
 * write into EIO, and on a full disk a commit's page writes are short.
 */
static int
disk_full(struct store *st)
{
	const char	*path;
	struct statvfs	 sv;

	if (mdb_env_get_path(st->env, &path) != 0 || statvfs(path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize < (1ULL << 20);
}

/* Translates an LMDB code, logging the foreign detail once, here. */
static int
mdb_err(struct store *st, int rc, const char *what)
{
	if (rc == EIO && disk_full(st))
		rc = ENOSPC;
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return E_NOTFOUND;
	case MDB_MAP_FULL:
		st->mapfull = 1;
		return E_STORE;
	case ENOSPC:
	case EDQUOT:
		log_warnx("store: %s: disk full", what);
		return E_FULL;
	default:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return E_STORE;
	}
}

static void
be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* name \0 be64(n) into k; returns the key length. */
static size_t
seqkey(uint8_t *k, const char *name, uint64_t n)
{
	size_t l = strlen(name);
	memcpy(k, name, l);
	k[l] = 0;
	be64_put(k + l + 1, n);
	return l + 9;
}

static int
get_u64(struct store *st, MDB_txn *t, MDB_dbi db, const char *key,
    uint64_t *v)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, db, &k, &d);

	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get");
	if (d.mv_size != 8)
		return E_INTEGRITY;
	*v = be64_get(d.mv_data);
	return 0;
}

static int
put_u64(struct store *st, MDB_txn *t, MDB_dbi db, const char *key,
    uint64_t v)
{
	uint8_t	b[8];
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d = { 8, b };

	be64_put(b, v);
	return mdb_err(st, mdb_put(t, db, &k, &d, 0), "put");
}

static int
get_str(struct store *st, MDB_txn *t, const char *key, char *out, size_t sz)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, st->meta, &k, &d);

	if (rc != 0)
		return mdb_err(st, rc, "get meta");
	if (d.mv_size >= sz)
		return E_INTEGRITY;
	memcpy(out, d.mv_data, d.mv_size);
	out[d.mv_size] = '\0';
	return 0;
}

int
store_open(const char *dir, struct store **out, char *err, size_t errsz)
{
	struct store	*st;
	struct stat	 sb;
	MDB_txn		*t;
	int		 rc;

	*out = NULL;
	if (stat(dir, &sb) != 0) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return E_IO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "%s: not a directory", dir);
		return E_IO;
	}
	st = xcalloc(1, sizeof(*st));
	st->skew_ms = 5 * 60 * 1000;
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto fail;
	mdb_env_set_maxdbs(st->env, 16);
	mdb_env_set_mapsize(st->env, MAP_INITIAL);
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	/* The map may have been grown by another process already. */
	mdb_env_set_mapsize(st->env, 0);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &t)) != 0)
		goto fail;
#define OPEN_DB(f, n) do {						\
	if ((rc = mdb_dbi_open(t, n, MDB_CREATE, &st->f)) != 0) {	\
		mdb_txn_abort(t);					\
		goto fail;						\
	}								\
} while (0)
	OPEN_DB(meta, "meta");
	OPEN_DB(log, "log");
	OPEN_DB(caselog, "caselog");
	OPEN_DB(cases, "cases");
	OPEN_DB(vv, "vv");
	OPEN_DB(feed, "feed");
	OPEN_DB(peers, "peers");
	OPEN_DB(refused, "refused");
	OPEN_DB(keys, "keys");
	OPEN_DB(names, "names");
	OPEN_DB(namecase, "namecase");
	OPEN_DB(conflicted, "conflicted");
	OPEN_DB(authors, "authors");
	OPEN_DB(keyhist, "keyhist");
#undef OPEN_DB
	get_str(st, t, "node", st->node, sizeof(st->node));
	get_str(st, t, "role", st->role, sizeof(st->role));
	if ((rc = mdb_txn_commit(t)) != 0)
		goto fail;
	*out = st;
	return 0;
fail:
	snprintf(err, errsz, "%s: cannot open store: %s", dir,
	    rc == EACCES ? "permission denied" :
	    rc == ENOSPC ? "disk full" : mdb_strerror(rc));
	if (st->env)
		mdb_env_close(st->env);
	free(st);
	return rc == ENOSPC ? E_FULL : (rc == EACCES ? E_IO : E_STORE);
}

void
store_close(struct store **stp)
{
	if (*stp == NULL)
		return;
	crypto_wipe((*stp)->datakey, sizeof((*stp)->datakey));
	crypto_wipe((*stp)->authorkey, sizeof((*stp)->authorkey));
	crypto_wipe((*stp)->sign_sec, sizeof((*stp)->sign_sec));
	crypto_wipe((*stp)->namekey, sizeof((*stp)->namekey));
	mdb_env_close((*stp)->env);
	free(*stp);
	*stp = NULL;
}

void
store_set_clock(struct store *st, uint64_t skew_ms, int64_t offset_ms)
{
	st->skew_ms = skew_ms;
	st->offset_ms = offset_ms;
}

void
store_set_quota(struct store *st, const struct quota *q)
{
	st->quota = *q;
}

/* The quota record of a peer in meta: "quota:NODE" -> be64 day, entries,
 * bytes, cases, referrals. */
static int
quota_read(struct store *st, MDB_txn *t, const char *peer, uint64_t *day,
    struct quota *u)
{
	char	key[HLC_NODE_MAX + 8];
	MDB_val	k, d;
	int	rc;

	snprintf(key, sizeof(key), "quota:%s", peer);
	k.mv_data = key;
	k.mv_size = strlen(key);
	*day = 0;
	memset(u, 0, sizeof(*u));
	if ((rc = mdb_get(t, st->meta, &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get quota");
	if (d.mv_size != 40)
		return E_INTEGRITY;
	*day = be64_get(d.mv_data);
	u->entries = be64_get((const uint8_t *)d.mv_data + 8);
	u->bytes = be64_get((const uint8_t *)d.mv_data + 16);
	u->cases = be64_get((const uint8_t *)d.mv_data + 24);
	u->referrals = be64_get((const uint8_t *)d.mv_data + 32);
	return 0;
}

static int
quota_write(struct store *st, MDB_txn *t, const char *peer, uint64_t day,
    const struct quota *u)
{
	char	key[HLC_NODE_MAX + 8];
	uint8_t	v[40];
	MDB_val	k, d;

	snprintf(key, sizeof(key), "quota:%s", peer);
	be64_put(v, day);
	be64_put(v + 8, u->entries);
	be64_put(v + 16, u->bytes);
	be64_put(v + 24, u->cases);
	be64_put(v + 32, u->referrals);
	k.mv_data = key;
	k.mv_size = strlen(key);
	d.mv_data = v;
	d.mv_size = sizeof(v);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put quota");
}

int
store_quota_get(struct store *st, const char *peer, uint64_t *day,
    struct quota *used)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = quota_read(st, t, peer, day, used);
	mdb_txn_abort(t);
	return rc;
}

/* Central: adds a batch's use to peer's day; E_QUOTA (why says which)
 * when that goes over a limit. */
static int
quota_charge(struct store *st, MDB_txn *t, const char *peer,
    const struct apply_stats *as, char *why, size_t whysz)
{
	const struct quota	*q = &st->quota;
	struct quota		 u;
	uint64_t		 day, today = wall(st) / 86400000;
	int			 rc;

	if ((rc = quota_read(st, t, peer, &day, &u)) != 0)
		return rc;
	if (day != today)
		memset(&u, 0, sizeof(u));
	u.entries += as->applied + as->refused;
	u.bytes += as->bytes;
	u.cases += as->new_cases;
	u.referrals += as->referrals;
#define OVER(f, what) \
	if (q->f != 0 && u.f > q->f) { \
		snprintf(why, whysz, "%s has reached its quota of %llu %s " \
		    "a day; the rest waits until 00:00 UTC", peer, \
		    (unsigned long long)q->f, what); \
		return E_QUOTA; \
	}
	OVER(entries, "entries")
	OVER(bytes, "bytes")
	OVER(cases, "new cases")
	OVER(referrals, "referrals")
#undef OVER
	return quota_write(st, t, peer, today, &u);
}

void
store_set_keep_transferred(struct store *st, int keep)
{
	st->drop_transferred = !keep;
}

static uint64_t
wall(const struct store *st)
{
	return (uint64_t)((int64_t)now_ms() + st->offset_ms);
}

/* Begins a transaction, picking up a map grown by another process. */
static int
txn_begin(struct store *st, unsigned flags, MDB_txn **t)
{
	int rc = mdb_txn_begin(st->env, NULL, flags, t);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->env, 0);
		rc = mdb_txn_begin(st->env, NULL, flags, t);
	}
	return mdb_err(st, rc, "begin");
}

static int
grow_map(struct store *st)
{
	MDB_envinfo	ei;
	uint64_t	ns;
	int		rc;

	mdb_env_info(st->env, &ei);
	ns = (uint64_t)ei.me_mapsize * 2;
	if (ns > MAP_LIMIT)
		return E_FULL;
	log_info("store: growing map to %llu MiB", (unsigned long long)(ns >>
	    20));
	if ((rc = mdb_env_set_mapsize(st->env, ns)) != 0) {
		log_warnx("store: cannot grow the map: %s", mdb_strerror(rc));
		return E_STORE;
	}
	return 0;
}

/*
 * Runs fn inside one write transaction and commits.  fn must be safe to
 * run again: when the map is full the transaction is aborted, the map
 * doubled and fn run afresh.
 */
static int
txn_run(struct store *st, int (*fn)(struct store *, MDB_txn *, void *),
    void *arg)
{
	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		MDB_txn	*t;
		int	 rc;

		st->mapfull = 0;
		if ((rc = txn_begin(st, 0, &t)) != 0)
			return rc;
		rc = fn(st, t, arg);
		if (rc != 0) {
			mdb_txn_abort(t);
		} else {
			rc = mdb_err(st, mdb_txn_commit(t), "commit");
		}
		if (rc == 0)
			return 0;
		if (!st->mapfull)
			return rc;
		if ((rc = grow_map(st)) != 0)
			return rc;
	}
	return E_FULL;
}

static int
init_fn(struct store *st, MDB_txn *t, void *arg)
{
	const char	**nr = arg;
	MDB_val		 k, d;
	int		 rc;

	k.mv_data = (void *)(uintptr_t)"node";
	k.mv_size = 4;
	if (mdb_get(t, st->meta, &k, &d) == 0)
		return E_INVAL;
	d.mv_data = (void *)(uintptr_t)nr[0];
	d.mv_size = strlen(nr[0]);
	if ((rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "init")))
		return rc;
	k.mv_data = (void *)(uintptr_t)"role";
	d.mv_data = (void *)(uintptr_t)nr[1];
	d.mv_size = strlen(nr[1]);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "init");
}

int
store_init_node(struct store *st, const char *node, const char *role)
{
	const char	*nr[2] = { node, role };
	int		 rc;

	if ((rc = txn_run(st, init_fn, nr)) != 0)
		return rc;
	strlcpy_(st->node, node, sizeof(st->node));
	strlcpy_(st->role, role, sizeof(st->role));
	return 0;
}

static int
is_central(const struct store *st)
{
	return strcmp(st->role, STORE_ROLE_CENTRAL) == 0;
}

int
store_info(struct store *st, struct store_info *info)
{
	MDB_txn		*t;
	MDB_stat	 ms;
	MDB_envinfo	 ei;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	memset(info, 0, sizeof(*info));
	if (st->node[0] == '\0')
		return E_NOTFOUND;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	strlcpy_(info->node, st->node, sizeof(info->node));
	strlcpy_(info->role, st->role, sizeof(info->role));
	get_u64(st, t, st->meta, "seq", &info->seq);
	get_u64(st, t, st->meta, "hlc", &info->hlc);
	get_u64(st, t, st->meta, "inc", &info->inc);
	mdb_stat(t, st->cases, &ms);
	info->ncases = ms.ms_entries;
	mdb_stat(t, st->log, &ms);
	info->nentries = ms.ms_entries;
	/* Count fields in conflict by reading the case table. */
	if (mdb_cursor_open(t, st->cases, &c) == 0) {
		while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			struct case_state s;
			if (state_decode(d.mv_data, d.mv_size, &s) != 0)
				continue;
			if (state_crypt(st, t, &s, 0) != 0) {
				state_release(&s);
				continue;
			}
			for (size_t i = 0; i < s.nfields; i++)
				info->nconflicts +=
				    merge_conflicted(&s.fields[i]);
			state_release(&s);
		}
		mdb_cursor_close(c);
	}
	mdb_env_info(st->env, &ei);
	info->map_size = ei.me_mapsize;
	mdb_txn_abort(t);
	return 0;
}

/*
 * At rest, every identifying value (field heads and identifying events) is
 * sealed with the data key: 0x00 || nonce || AES-256-GCM || tag, bound to
 * the case id.  JSON text never starts with a NUL byte, so the marker is
 * unambiguous.  Everything else stays readable for reports.
 */
static int
value_seal(struct store *st, const char *id, uint8_t **v, size_t *len)
{
	struct buf	b;
	int		rc;

	if (!st->have_keys || *len == 0 || (*v)[0] == 0)
		return 0;
	buf_init(&b, *len + CRYPTO_SEAL_OVERHEAD + 1);
	buf_append(&b, "", 1);
	if ((rc = crypto_seal(st->datakey, id, strlen(id), *v, *len, &b))) {
		buf_release(&b);
		return rc;
	}
	crypto_wipe(*v, *len);
	free(*v);
	*v = b.data;
	*len = b.len;
	return 0;
}

static int
value_open(struct store *st, const char *id, uint8_t **v, size_t *len)
{
	struct buf	b;
	int		rc;

	if (*len == 0 || (*v)[0] != 0)
		return 0;
	if (!st->have_keys)
		return E_AUTH;
	buf_init(&b, *len + 1);
	if ((rc = crypto_open(st->datakey, id, strlen(id), *v + 1, *len - 1,
	    &b)) != 0) {
		buf_release(&b);
		log_warnx("store: case %s: a sealed value does not open", id);
		return E_INTEGRITY;
	}
	free(*v);
	*v = b.data;
	*len = b.len;
	return 0;
}

/*
 * Authors (staff names: personal data, if not the victims') do not sit in
 * the case table either.  Each head and event holds a pseudonym instead:
 * STATE_AUTHOR_SEALED and the hex of the first STATE_AUTHOR_PSEUDO bytes
 * of HMAC-SHA256(authorkey, author), authorkey being derived from the
 * data key.  The `authors` table maps a pseudonym to the name, sealed
 * with the data key and bound to that pseudonym.  A case row grows by
 * nothing (a pseudonym is about as long as a name; sealing each author in
 * place doubled the case table), and a name is stored once per node.
 * The price: the table shows which changes share an author, not who it
 * is (docs/SECURITY.md).
 */
#define AUTHOR_AAD	"casesync-author:"
#define AUTHOR_KEY_TAG	"casesync-author-pseudonym-v1"

static int
author_pseudonym(const struct store *st, const char *a,
    uint8_t p[STATE_AUTHOR_PSEUDO])
{
	uint8_t	h[CRYPTO_HASH];
	int	rc;

	if ((rc = crypto_hmac(st->authorkey, sizeof(st->authorkey), a,
	    strlen(a), h)) == 0)
		memcpy(p, h, STATE_AUTHOR_PSEUDO);
	return rc;
}

static void
author_aad(const uint8_t p[STATE_AUTHOR_PSEUDO], uint8_t *aad)
{
	memcpy(aad, AUTHOR_AAD, sizeof(AUTHOR_AAD) - 1);
	memcpy(aad + sizeof(AUTHOR_AAD) - 1, p, STATE_AUTHOR_PSEUDO);
}

/*
 * The authors of one case are few and repeat in every head and event:
 * state_crypt remembers the last few it sealed or opened (name and
 * pseudonym), so a case costs a handful of lookups, not one per value.
 */
#define AUTHOR_MEMO	8
struct author_memo {
	struct {
		char	name[ENTRY_AUTHOR_MAX + 1];
		char	pseudo[2 * STATE_AUTHOR_PSEUDO + 2];
	}	 e[AUTHOR_MEMO];
	size_t	 n, next;
};

/* Copies the other form of a (name or pseudonym) from the memo into a;
 * 1 when found. */
static int
memo_find(const struct author_memo *m, char *a, int by_pseudo)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *k = by_pseudo ? m->e[i].pseudo : m->e[i].name;

		if (strcmp(k, a) == 0) {
			strlcpy_(a, by_pseudo ? m->e[i].name : m->e[i].pseudo,
			    ENTRY_AUTHOR_MAX + 1);
			return 1;
		}
	}
	return 0;
}

static void
memo_add(struct author_memo *m, const char *name, const char *pseudo)
{
	size_t i = m->next;

	strlcpy_(m->e[i].name, name, sizeof(m->e[i].name));
	strlcpy_(m->e[i].pseudo, pseudo, sizeof(m->e[i].pseudo));
	m->next = (i + 1) % AUTHOR_MEMO;
	if (m->n < AUTHOR_MEMO)
		m->n++;
}

/* Replaces author a by its pseudonym, keeping the name in `authors` (in
 * write transaction t).  Skips a pseudonym, as value_seal skips a sealed
 * value. */
static int
author_seal(struct store *st, MDB_txn *t, struct author_memo *m, char *a)
{
	uint8_t		p[STATE_AUTHOR_PSEUDO];
	uint8_t		aad[sizeof(AUTHOR_AAD) - 1 + STATE_AUTHOR_PSEUDO];
	MDB_val		k = { sizeof(p), p }, d;
	struct buf	b;
	char		name[ENTRY_AUTHOR_MAX + 1];
	int		rc;

	if (!st->have_keys || a[0] == '\0' || state_author_sealed(a) ||
	    memo_find(m, a, 0))
		return 0;
	assert(t != NULL);
	if ((rc = author_pseudonym(st, a, p)) != 0)
		return rc;
	rc = mdb_get(t, st->authors, &k, &d);
	if (rc == MDB_NOTFOUND) {
		author_aad(p, aad);
		buf_init(&b, ENTRY_AUTHOR_MAX + CRYPTO_SEAL_OVERHEAD);
		if ((rc = crypto_seal(st->datakey, aad, sizeof(aad), a,
		    strlen(a), &b)) == 0) {
			d.mv_size = b.len;
			d.mv_data = b.data;
			rc = mdb_err(st, mdb_put(t, st->authors, &k, &d, 0),
			    "put author");
		}
		buf_release(&b);
	} else
		rc = mdb_err(st, rc, "get author");
	if (rc != 0)
		return rc;
	strlcpy_(name, a, sizeof(name));
	a[0] = STATE_AUTHOR_SEALED;
	hex_encode(p, sizeof(p), a + 1);
	memo_add(m, name, a);
	return 0;
}

/* Replaces a pseudonym by the author's name, read in t.  The name was
 * sealed bound to its pseudonym, so it cannot have been moved to
 * another. */
static int
author_open(struct store *st, MDB_txn *t, struct author_memo *m,
    const char *id, char *a)
{
	uint8_t		p[STATE_AUTHOR_PSEUDO];
	char		pseudo[2 * STATE_AUTHOR_PSEUDO + 2];
	uint8_t		aad[sizeof(AUTHOR_AAD) - 1 + STATE_AUTHOR_PSEUDO];
	MDB_val		k = { sizeof(p), p }, d;
	struct buf	b;
	int		rc;

	if (!state_author_sealed(a) || memo_find(m, a, 1))
		return 0;
	if (!st->have_keys)
		return E_AUTH;
	strlcpy_(pseudo, a, sizeof(pseudo));
	if (hex_decode(a + 1, p, sizeof(p)) != 0)
		return E_INTEGRITY;
	if ((rc = mdb_get(t, st->authors, &k, &d)) != 0) {
		log_warnx("store: case %s: an author is not in the authors "
		    "table", id);
		return rc == MDB_NOTFOUND ? E_INTEGRITY :
		    mdb_err(st, rc, "get author");
	}
	author_aad(p, aad);
	buf_init(&b, ENTRY_AUTHOR_MAX + 1);
	rc = crypto_open(st->datakey, aad, sizeof(aad), d.mv_data, d.mv_size,
	    &b);
	if (rc == 0 && (b.len == 0 || b.len > ENTRY_AUTHOR_MAX ||
	    memchr(b.data, '\0', b.len) != NULL))
		rc = E_INTEGRITY;
	if (rc == 0) {
		memcpy(a, b.data, b.len);
		a[b.len] = '\0';
		memo_add(m, a, pseudo);
	}
	buf_release(&b);
	if (rc != 0) {
		log_warnx("store: case %s: a sealed author does not open", id);
		return E_INTEGRITY;
	}
	return 0;
}

/*
 * Seals (seal = 1) or opens every identifying value and every author of s
 * in place.  Sealing needs the write transaction t; opening uses t, or a
 * read transaction of its own when t is NULL.
 */
static int
state_crypt(struct store *st, MDB_txn *t, struct case_state *s, int seal)
{
	struct author_memo	 m;
	MDB_txn			*own = NULL;
	int			 rc = 0;

	m.n = m.next = 0;
	if (t == NULL && st->have_keys) {
		assert(!seal);
		if ((rc = txn_begin(st, MDB_RDONLY, &own)) != 0)
			return rc;
		t = own;
	}
	for (size_t i = 0; i < s->nfields && rc == 0; i++) {
		struct field	*f = &s->fields[i];
		int		 ident = schema_path_identifying(f->path);

		for (size_t j = 0; j < f->nheads && rc == 0; j++) {
			struct head *h = &f->heads[j];

			if (ident)
				rc = (seal ? value_seal : value_open)(st,
				    s->id, &h->value, &h->value_len);
			if (rc == 0)
				rc = seal ? author_seal(st, t, &m, h->author) :
				    author_open(st, t, &m, s->id, h->author);
		}
	}
	for (size_t i = 0; i < s->nevents && rc == 0; i++) {
		struct event *ev = &s->events[i];

		if (schema_coll_identifying(ev->coll))
			rc = (seal ? value_seal : value_open)(st, s->id,
			    &ev->value, &ev->value_len);
		if (rc == 0)
			rc = seal ? author_seal(st, t, &m, ev->author) :
			    author_open(st, t, &m, s->id, ev->author);
	}
	if (own != NULL)
		mdb_txn_abort(own);
	return rc;
}

/* Reads the state of case id into *s, with its identifying values opened.
 * E_NOTFOUND when absent. */
static int
case_load_raw(struct store *st, MDB_txn *t, const char *id,
    struct case_state *s)
{
	MDB_val	k = { strlen(id), (void *)(uintptr_t)id }, d;
	int	rc = mdb_get(t, st->cases, &k, &d);

	if (rc != 0)
		return mdb_err(st, rc, "get case");
	if (state_decode(d.mv_data, d.mv_size, s) != 0) {
		log_warnx("store: case %s: stored state does not decode", id);
		return E_INTEGRITY;
	}
	return 0;
}

static int
case_load(struct store *st, MDB_txn *t, const char *id,
    struct case_state *s)
{
	int rc = case_load_raw(st, t, id, s);

	if (rc == 0 && (rc = state_crypt(st, t, s, 0)) != 0)
		state_release(s);
	return rc;
}

/*
 * Keeps the blind name index of case id in step with its state (plain:
 * identifying values opened; NULL when the case row goes away): removes
 * the macs indexed before, adds those of the current full name.
 */
static int
names_update(struct store *st, MDB_txn *t, const char *id,
    const struct case_state *plain)
{
	static uint8_t		 nothing;
	uint8_t			 macs[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 old[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 key[NAMEIDX_MAC + ENTRY_CASE_ID_LEN];
	size_t			 n = 0, nold = 0, idlen = strlen(id);
	const struct field	*f;
	const struct head	*w;
	MDB_val			 k = { idlen, (void *)(uintptr_t)id }, d, nk;
	int			 rc;

	if (!st->have_keys || idlen != ENTRY_CASE_ID_LEN)
		return 0;
	if (plain != NULL && plain->erased.hlc == 0 &&
	    (f = merge_field(plain, "person.full_name")) != NULL &&
	    (w = merge_winner(f)) != NULL && w->value_len > 2 &&
	    w->value[0] == '"') {
		char *name = xstrndup((const char *)w->value + 1,
		    w->value_len - 2);

		n = nameidx_name_macs(st->namekey, name, macs,
		    NAMEIDX_KEYS_MAX);
		crypto_wipe(name, strlen(name));
		free(name);
	}
	rc = mdb_get(t, st->namecase, &k, &d);
	if (rc == 0) {
		if (d.mv_size % NAMEIDX_MAC != 0 ||
		    d.mv_size > sizeof(old))
			return E_INTEGRITY;
		nold = d.mv_size / NAMEIDX_MAC;
		memcpy(old, d.mv_data, d.mv_size);
		if (nold == n && memcmp(old, macs, n * NAMEIDX_MAC) == 0)
			return 0;
	} else if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "get namecase");
	memcpy(key + NAMEIDX_MAC, id, ENTRY_CASE_ID_LEN);
	nk.mv_data = key;
	nk.mv_size = sizeof(key);
	for (size_t i = 0; i < nold; i++) {
		memcpy(key, old[i], NAMEIDX_MAC);
		rc = mdb_del(t, st->names, &nk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return mdb_err(st, rc, "del name");
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(key, macs[i], NAMEIDX_MAC);
		d.mv_data = &nothing;
		d.mv_size = 0;
		if ((rc = mdb_err(st, mdb_put(t, st->names, &nk, &d, 0),
		    "put name")) != 0)
			return rc;
	}
	if (n == 0) {
		rc = mdb_del(t, st->namecase, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc,
		    "del namecase");
	}
	d.mv_data = macs;
	d.mv_size = n * NAMEIDX_MAC;
	return mdb_err(st, mdb_put(t, st->namecase, &k, &d, 0),
	    "put namecase");
}

/* Keeps the set of cases with a field of more than one head (the
 * candidates of the conflict queue) in step; plain NULL: the row goes. */
static int
conflicted_update(struct store *st, MDB_txn *t, const char *id,
    const struct case_state *plain)
{
	static uint8_t	nothing;
	MDB_val		k = { strlen(id), (void *)(uintptr_t)id };
	MDB_val		d = { 0, &nothing };
	int		rc;

	/* A case held for an offer waiting for this province's answer is
	 * not its to resolve (offer.h). */
	if (plain != NULL && conflict_candidate(plain) &&
	    (is_central(st) || !offer_pending_to(plain, st->node)))
		return mdb_err(st, mdb_put(t, st->conflicted, &k, &d, 0),
		    "put conflicted");
	rc = mdb_del(t, st->conflicted, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del conflicted");
}

static int
case_save(struct store *st, MDB_txn *t, const struct case_state *plain)
{
	struct case_state	s;
	struct buf		b;
	MDB_val			k, d;
	int			rc;

	if ((rc = names_update(st, t, plain->id, plain)) != 0 ||
	    (rc = conflicted_update(st, t, plain->id, plain)) != 0)
		return rc;
	state_copy(&s, plain);
	if ((rc = state_crypt(st, t, &s, 1)) != 0) {
		state_release(&s);
		return rc;
	}
	k.mv_size = strlen(s.id);
	k.mv_data = s.id;
	buf_init(&b, STATE_ENCODED_MAX);
	if ((rc = state_encode(&s, &b)) == 0) {
		d.mv_size = b.len;
		d.mv_data = b.data;
		rc = mdb_err(st, mdb_put(t, st->cases, &k, &d, 0), "put case");
	}
	buf_release(&b);
	state_release(&s);
	return rc;
}

/* The change log at rest: each record sealed with the data key, bound to
 * its (origin, seq) key so records cannot be swapped. */
static int
log_seal(struct store *st, const uint8_t *lk, size_t lklen,
    const uint8_t *rec, size_t reclen, struct buf *out)
{
	if (!st->have_keys)
		return buf_append(out, rec, reclen);
	return crypto_seal(st->datakey, lk, lklen, rec, reclen, out);
}

static int
log_unseal(struct store *st, const void *lk, size_t lklen, const MDB_val *d,
    struct buf *out)
{
	buf_reset(out);
	if (!st->have_keys)
		return buf_append(out, d->mv_data, d->mv_size);
	if (crypto_open(st->datakey, lk, lklen, d->mv_data, d->mv_size,
	    out) != 0) {
		log_warnx("store: a log record does not open (wrong data key, "
		    "or altered)");
		return E_INTEGRITY;
	}
	return 0;
}

/*
 * The node's view of a folded case: a province that no longer owns a case
 * keeps a read-only copy without identifying fields, or (keep_transferred
 * = no) none at all.  Returns 1 when the case table keeps no row for s.
 */
static int
project(const struct store *st, struct case_state *s)
{
	if (is_central(st) || s->owner[0] == '\0' ||
	    strcmp(s->owner, st->node) == 0 ||
	    offer_pending_to(s, st->node)) {
		/* The receiving province of a pending offer sees the whole
		 * case to decide (offer.h). */
		s->flags &= ~(uint64_t)STATE_F_READONLY;
		return 0;
	}
	merge_strip_identifying(s);
	s->flags |= STATE_F_READONLY;
	return st->drop_transferred;
}

/* Encodes e and its signature block (NULL: unsigned) as a record. */
static int
record_make(const struct entry *e, const uint8_t *block, struct buf *out)
{
	struct buf	eb;
	int		rc;

	buf_init(&eb, ENTRY_ENCODED_MAX);
	if ((rc = entry_encode(e, &eb)) == 0)
		rc = record_encode(eb.data, eb.len, block, block ? SIGN_BLOCK :
		    0, out);
	buf_release(&eb);
	return rc;
}

/* The chain hash after the last entry of origin this node holds in a
 * contiguous run (all zeros before the first). */
static int
chain_get(struct store *st, MDB_txn *t, const char *origin,
    uint8_t h[CRYPTO_HASH])
{
	char	key[HLC_NODE_MAX + 8];
	MDB_val	k, d;
	int	rc;

	snprintf(key, sizeof(key), "chain:%s", origin);
	k.mv_data = key;
	k.mv_size = strlen(key);
	memset(h, 0, CRYPTO_HASH);
	if ((rc = mdb_get(t, st->meta, &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get chain");
	if (d.mv_size != CRYPTO_HASH)
		return E_INTEGRITY;
	memcpy(h, d.mv_data, CRYPTO_HASH);
	return 0;
}

static int
chain_put(struct store *st, MDB_txn *t, const char *origin,
    const uint8_t h[CRYPTO_HASH])
{
	char	key[HLC_NODE_MAX + 8];
	MDB_val	k, d;

	snprintf(key, sizeof(key), "chain:%s", origin);
	k.mv_data = key;
	k.mv_size = strlen(key);
	d.mv_data = (void *)(uintptr_t)h;
	d.mv_size = CRYPTO_HASH;
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put chain");
}

/* Decodes a stored or received record into *e and its signature block
 * (*signed_ 0 when it has none). */
static int
record_split(const uint8_t *p, size_t len, struct entry *e,
    uint8_t block[SIGN_BLOCK], int *signed_)
{
	const uint8_t	*ent, *sig;
	size_t		 entlen, siglen;
	int		 rc;

	if ((rc = record_decode(p, len, &ent, &entlen, &sig, &siglen)) != 0)
		return rc;
	if ((rc = entry_decode(ent, entlen, e)) != 0)
		return rc;
	*signed_ = siglen == SIGN_BLOCK;
	if (*signed_)
		memcpy(block, sig, SIGN_BLOCK);
	return 0;
}

/*
 * The signing key of origin at position pos: from its key history
 * (keyhist.h) when it has one, else ours, or the one in the keys table.
 * *revoked gets the position its key is revoked from (0: not revoked);
 * revoked may be NULL.
 */
static int
origin_key(struct store *st, MDB_txn *t, const char *origin, uint64_t pos,
    uint8_t pub[CRYPTO_SIGN_PUB], uint64_t *revoked)
{
	struct keyhist_epoch	ep;
	struct node_key		nk;
	int			rc;

	if (revoked != NULL)
		*revoked = 0;
	if ((rc = keyhist_at_txn(t, st->keyhist, origin, pos, &ep, NULL)) ==
	    0) {
		memcpy(pub, ep.sign_pub, CRYPTO_SIGN_PUB);
		if (revoked != NULL)
			*revoked = ep.revoked_from;
		return 0;
	}
	if (rc != E_NOTFOUND)
		return rc;
	if (strcmp(origin, st->node) == 0 && st->have_keys) {
		memcpy(pub, st->sign_pub, CRYPTO_SIGN_PUB);
		return 0;
	}
	if ((rc = key_read(st, t, origin, &nk)) != 0)
		return rc;
	memcpy(pub, nk.sign_pub, CRYPTO_SIGN_PUB);
	return 0;
}

/* 1 verified, 0 failed, -1 unsigned, -2 origin's key unknown, 2 signed
 * with a key revoked from a position at or before the entry's
 * (keyhist.h). */
static int
sig_status(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, int signed_)
{
	uint8_t		pub[CRYPTO_SIGN_PUB], h[CRYPTO_HASH];
	uint64_t	revoked;
	int		ok;

	if (!signed_)
		return -1;
	if (origin_key(st, t, e->origin, e->seq, pub, &revoked) != 0)
		return -2;
	ok = sign_check(e, pub, block, h);
	return ok == 1 && revoked != 0 && e->seq >= revoked ? 2 : ok;
}

int
store_keyhist_run(struct store *st, int write,
    int (*fn)(void *, unsigned, void *), void *arg)
{
	MDB_txn	*t;
	int	 rc;

	if (!write) {
		if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
			return rc;
		rc = fn(t, st->keyhist, arg);
		mdb_txn_abort(t);
		return rc;
	}
	if ((rc = txn_begin(st, 0, &t)) != 0)
		return rc;
	if ((rc = fn(t, st->keyhist, arg)) != 0) {
		mdb_txn_abort(t);
		return rc;
	}
	return mdb_err(st, mdb_txn_commit(t), "commit");
}

/* Decodes a stored record; *sig_ok as sig_status() when verify_sig (but
 * STORE_SIG_REVOKED for a revoked key, which readers that only know
 * "verified", "failed" and "unsigned" never take for verified), else -1
 * when unsigned and 0 otherwise. */
static int
record_open(struct store *st, MDB_txn *t, const uint8_t *p, size_t len,
    struct entry *e, int verify_sig, int *sig_ok)
{
	uint8_t	block[SIGN_BLOCK];
	int	signed_, rc;

	if ((rc = record_split(p, len, e, block, &signed_)) != 0)
		return rc;
	if (verify_sig) {
		*sig_ok = sig_status(st, t, e, block, signed_);
		if (*sig_ok == 2)
			*sig_ok = STORE_SIG_REVOKED;
	} else
		*sig_ok = signed_ ? 0 : -1;
	return 0;
}

/* Appends a log record and its case index entry. */
static int
log_append(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *rec, size_t reclen, uint8_t *lk, size_t *lklen)
{
	uint8_t		ck[CASEKEY_MAX];
	struct buf	sealed;
	MDB_val		k, d;
	int		rc;

	*lklen = seqkey(lk, e->origin, e->seq);
	k.mv_data = lk;
	k.mv_size = *lklen;
	buf_init(&sealed, reclen + CRYPTO_SEAL_OVERHEAD);
	if ((rc = log_seal(st, lk, *lklen, rec, reclen, &sealed)) != 0) {
		buf_release(&sealed);
		return rc;
	}
	d.mv_data = sealed.data;
	d.mv_size = sealed.len;
	/* An origin's seqs ascend, so a log key is usually past the last one:
	 * MDB_APPEND then fills pages where an ordinary put splits them in
	 * half, which halves the log pages a commit writes and the file
	 * keeps.  Any other key is refused (MDB_KEYEXIST) before anything
	 * changes, and put the ordinary way. */
	rc = mdb_put(t, st->log, &k, &d, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(t, st->log, &k, &d, MDB_NOOVERWRITE);
	rc = mdb_err(st, rc, "put log");
	buf_release(&sealed);
	if (rc != 0)
		return rc == E_NOTFOUND ? E_STORE : rc;
	memcpy(ck, e->case_id, ENTRY_CASE_ID_LEN);
	memcpy(ck + ENTRY_CASE_ID_LEN, lk, *lklen);
	k.mv_data = ck;
	k.mv_size = ENTRY_CASE_ID_LEN + *lklen;
	d.mv_data = (void *)(uintptr_t)"";
	d.mv_size = 0;
	return mdb_err(st, mdb_put(t, st->caselog, &k, &d, 0), "put caselog");
}

static int
feed_push(struct store *st, MDB_txn *t, const char *peer, const uint8_t *lk,
    size_t lklen)
{
	char	mk[HLC_NODE_MAX + 8];
	uint8_t	fk[LOGKEY_MAX];
	MDB_val	k, d;
	uint64_t pos;
	int	rc;

	uint64_t inc;

	snprintf(mk, sizeof(mk), "feed:%s", peer);
	if ((rc = get_u64(st, t, st->meta, mk, &pos)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "inc", &inc)) != 0)
		return rc;
	/* After a restore every feed goes on in the new incarnation, also
	 * one the backup did not have yet: the provinces may hold positions
	 * of the lost feed (docs/PROTOCOL.md, Recovery). */
	if (POS_INC(pos) < inc)
		pos = POS_MAKE(inc, 0);
	pos++;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, pos);
	d.mv_data = (void *)(uintptr_t)lk;
	d.mv_size = lklen;
	if ((rc = mdb_err(st, mdb_put(t, st->feed, &k, &d, 0),
	    "put feed")) != 0)
		return rc;
	return put_u64(st, t, st->meta, mk, pos);
}

/* Central: queues every entry of case id (but those of origin skip) for
 * peer: the whole history of a case referred to it. */
static int
feed_history(struct store *st, MDB_txn *t, const char *peer, const char *id)
{
	MDB_cursor	*c;
	MDB_val		 k = { ENTRY_CASE_ID_LEN, (void *)(uintptr_t)id }, d;
	int		 rc, op = MDB_SET_RANGE;
	size_t		 plen = strlen(peer);

	if ((rc = mdb_err(st, mdb_cursor_open(t, st->caselog, &c),
	    "cursor")) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &d, op)) == 0) {
		const uint8_t *lk = (const uint8_t *)k.mv_data +
		    ENTRY_CASE_ID_LEN;
		size_t lklen = k.mv_size - ENTRY_CASE_ID_LEN;

		op = MDB_NEXT;
		if (k.mv_size <= ENTRY_CASE_ID_LEN ||
		    memcmp(k.mv_data, id, ENTRY_CASE_ID_LEN) != 0)
			break;
		if (lklen == plen + 9 && memcmp(lk, peer, plen) == 0 &&
		    lk[plen] == 0)
			continue;	/* the peer wrote it: it has it */
		if ((rc = feed_push(st, t, peer, lk, lklen)) != 0) {
			mdb_cursor_close(c);
			return rc;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : mdb_err(st, rc, "caselog");
}

/*
 * Central: the receiving province of a pending offer gets the case's whole
 * history when the offer is made and every entry after it while the offer
 * waits; when an offer ends otherwise than by its own answer (withdrawn by
 * a later offer, or central reassigned the case), that entry tells it.
 */
static int
feed_offer(struct store *st, MDB_txn *t, const struct entry *e,
    const char *owner_after, const char *offer_before,
    const char *offer_after, const uint8_t *lk, size_t lklen)
{
	int rc = 0;

	if (offer_after[0] != '\0' && strcmp(offer_after, st->node) != 0) {
		if (strcmp(offer_after, offer_before) != 0)
			rc = feed_history(st, t, offer_after, e->case_id);
		else if (strcmp(offer_after, e->origin) != 0)
			rc = feed_push(st, t, offer_after, lk, lklen);
	}
	if (rc == 0 && offer_before[0] != '\0' &&
	    strcmp(offer_before, offer_after) != 0 &&
	    strcmp(offer_before, e->origin) != 0 &&
	    strcmp(offer_before, owner_after) != 0 &&
	    strcmp(offer_before, st->node) != 0)
		rc = feed_push(st, t, offer_before, lk, lklen);
	return rc;
}

/*
 * Central: routes a newly applied entry to the provinces that hold the
 * case: its owner (the whole history when it just became the owner) and
 * the previous owner (so that it learns of the transfer).  Never back to
 * the entry's origin.
 */
static int
feed_route(struct store *st, MDB_txn *t, const struct entry *e,
    const char *owner_before, const char *owner_after,
    const char *offer_before, const char *offer_after, const uint8_t *lk,
    size_t lklen)
{
	int rc;

	if (!is_central(st))
		return 0;
	if ((rc = feed_offer(st, t, e, owner_after, offer_before,
	    offer_after, lk, lklen)) != 0)
		return rc;
	if (owner_after[0] != '\0' && strcmp(owner_after, st->node) != 0) {
		/* An accept: the new owner has had the history since the
		 * offer, and wrote this entry itself. */
		if (strcmp(owner_before, owner_after) != 0 &&
		    strcmp(owner_after, offer_before) == 0)
			rc = strcmp(owner_after, e->origin) != 0 ?
			    feed_push(st, t, owner_after, lk, lklen) : 0;
		else if (strcmp(owner_before, owner_after) != 0)
			rc = feed_history(st, t, owner_after, e->case_id);
		else if (strcmp(owner_after, e->origin) != 0)
			rc = feed_push(st, t, owner_after, lk, lklen);
		else
			rc = 0;
		if (rc != 0)
			return rc;
	}
	if (owner_before[0] != '\0' && strcmp(owner_before, owner_after) != 0 &&
	    strcmp(owner_before, st->node) != 0 &&
	    strcmp(owner_before, e->origin) != 0)
		return feed_push(st, t, owner_before, lk, lklen);
	return 0;
}

/* Is there a transfer op to node in e (the op that creates a case)? */
static int
creates_for(const struct entry *e, const char *node)
{
	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_TRANSFER &&
		    strcmp(e->ops[i].to, node) == 0)
			return 1;
	return 0;
}

/* Does e only erase?  An erase is a tombstone whose stamp wins nothing
 * (merge.h), so the skew bound has nothing to protect there, while
 * refusing it would keep a person's data that its origin has already
 * redacted for good (docs/RELIABILITY.md, bug 3). */
static int
erase_only(const struct entry *e)
{
	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type != OP_ERASE)
			return 0;
	return e->nops > 0;
}

/* Central: are e's base and also[] stamps within the skew bound?  A
 * stamp supersedes every write of its node up to it (merge.c), so one far
 * in the future would silence that node's writes to the field until its
 * clock passed it.  An honest base names a write central has accepted,
 * which was within the bound when it arrived. */
static int
stamps_within_skew(const struct entry *e, uint64_t w, uint64_t skew_ms)
{
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *o = &e->ops[i];

		if (o->type != OP_SET)
			continue;
		if (o->base.hlc != 0 && !hlc_check_skew(o->base.hlc, w,
		    skew_ms))
			return 0;
		for (size_t a = 0; a < o->nalso; a++)
			if (!hlc_check_skew(o->also[a].hlc, w, skew_ms))
				return 0;
	}
	return 1;
}

static int
check_ops(const struct entry *e, char *why, size_t whysz)
{
	for (size_t i = 0; i < e->nops; i++) {
		const struct op	*o = &e->ops[i];
		char		 r[160];

		/* An erased value (a digest marker) is not checked against
		 * the schema: only identifying ops may carry one. */
		if (o->value != NULL && sign_is_marker(o->value, o->value_len)
		    && ((o->type == OP_SET && schema_path_identifying(o->path))
		    || (o->type == OP_EVENT &&
		    schema_coll_identifying(o->path))))
			continue;
		if (schema_check_op(o, r, sizeof(r)) != 0) {
			snprintf(why, whysz, "%s", r);
			return E_INVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (e->ops[i].type == OP_SET &&
			    e->ops[j].type == OP_SET &&
			    strcmp(e->ops[i].path, e->ops[j].path) == 0) {
				snprintf(why, whysz, "%s: set twice",
				    e->ops[i].path);
				return E_INVAL;
			}
	}
	return 0;
}

static int fold_case(struct store *, MDB_txn *, const char *,
    struct case_state *);

/*
 * Erasure reaches the log: every record of case id whose identifying
 * values are still there is rewritten with those values replaced by their
 * digests (the signature still verifies, see sign.h).
 */
static int
redact_case_log(struct store *st, MDB_txn *t, const char *id)
{
	MDB_cursor	*c;
	MDB_val		 k = { ENTRY_CASE_ID_LEN, (void *)(uintptr_t)id }, d;
	struct buf	 plain, rec, sealed;
	int		 rc, op = MDB_SET_RANGE;

	if ((rc = mdb_err(st, mdb_cursor_open(t, st->caselog, &c),
	    "cursor")) != 0)
		return rc;
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	buf_init(&rec, ENTRY_ENCODED_MAX + 256);
	buf_init(&sealed, ENTRY_ENCODED_MAX + 256);
	while ((rc = mdb_cursor_get(c, &k, &d, op)) == 0) {
		MDB_val		lk, ld;
		struct entry	e;
		uint8_t		block[SIGN_BLOCK];
		int		signed_;

		op = MDB_NEXT;
		if (k.mv_size <= ENTRY_CASE_ID_LEN ||
		    memcmp(k.mv_data, id, ENTRY_CASE_ID_LEN) != 0)
			break;
		lk.mv_data = (uint8_t *)k.mv_data + ENTRY_CASE_ID_LEN;
		lk.mv_size = k.mv_size - ENTRY_CASE_ID_LEN;
		if ((rc = mdb_get(t, st->log, &lk, &ld)) != 0 ||
		    (rc = log_unseal(st, lk.mv_data, lk.mv_size, &ld,
		    &plain)) != 0 ||
		    (rc = record_split(plain.data, plain.len, &e, block,
		    &signed_)) != 0) {
			rc = E_INTEGRITY;
			break;
		}
		if (sign_redact(&e) > 0) {
			buf_reset(&rec);
			buf_reset(&sealed);
			rc = record_make(&e, signed_ ? block : NULL, &rec);
			if (rc == 0)
				rc = log_seal(st, lk.mv_data, lk.mv_size,
				    rec.data, rec.len, &sealed);
			if (rc == 0) {
				ld.mv_data = sealed.data;
				ld.mv_size = sealed.len;
				rc = mdb_err(st, mdb_put(t, st->log, &lk, &ld,
				    0), "redact");
			}
		}
		entry_release(&e);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	crypto_wipe(plain.data, plain.cap);
	buf_release(&plain);
	buf_release(&rec);
	buf_release(&sealed);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Applies an accepted entry: log, case index, case state, feeds.  block is
 * its signature block (NULL: unsigned).  The entry of an erased case is
 * stored redacted.  r is the record as received (NULL: a local write); it
 * is stored as it is unless redaction changes the entry.  *how gets
 * APPLY_HELD when (origin, seq) was already in the log (nothing done), and
 * APPLY_MOVED_AWAY when the entry took a case away from this province.
 */
#define APPLY_HELD		0x1
#define APPLY_MOVED_AWAY	0x2
#define APPLY_OVER_LIMIT	0x4	/* nothing written: see why */
#define APPLY_NEW_CASE		0x8	/* the entry created the case */

/* With why != NULL, an entry that would take the case over a soft limit
 * (merge.h) is not applied: *how gets APPLY_OVER_LIMIT and why the
 * reason. */
static int
apply_entry(struct store *st, MDB_txn *t, struct entry *e,
    const uint8_t *block, const struct rec *r, int *how, char *why,
    size_t whysz)
{
	struct case_state	 s;
	struct offer		 of;
	struct buf		 rb;
	char			 before[HLC_NODE_MAX + 1];
	char			 obefore[HLC_NODE_MAX + 1];
	char			 oafter[HLC_NODE_MAX + 1];
	uint8_t			 lk[LOGKEY_MAX];
	size_t			 lklen;
	MDB_val			 k, d;
	int			 rc, refold = 0, erases = 0;

	*how = 0;
	k.mv_data = lk;
	k.mv_size = seqkey(lk, e->origin, e->seq);
	if ((rc = mdb_get(t, st->log, &k, &d)) == 0) {
		*how = APPLY_HELD;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "get log");
	/* Sealed values stay sealed: the merge never reads a value, and
	 * case_save seals only the new ones (value_seal skips sealed bytes),
	 * so opening and resealing every identifying value of the case on
	 * each apply would be wasted work (docs/PERFORMANCE.md). */
	rc = case_load_raw(st, t, e->case_id, &s);
	/* No row: a new case, or a copy dropped after a transfer away
	 * (keep_transferred = no) whose entries are still in the log. */
	if (rc == E_NOTFOUND)
		rc = fold_case(st, t, e->case_id, &s);
	if (rc == E_NOTFOUND) {
		state_init(&s, e->case_id);
		*how |= APPLY_NEW_CASE;
	} else if (rc != 0)
		return rc;
	strlcpy_(before, s.owner, sizeof(before));
	strlcpy_(obefore, offer_pending(&s, &of) ? of.to : "",
	    sizeof(obefore));
	if (why != NULL) {
		struct case_state prev;

		state_copy(&prev, &s);
		if ((rc = merge_apply(&s, e)) == 0 &&
		    merge_check_soft(&prev, &s, why, whysz) != 0)
			*how |= APPLY_OVER_LIMIT;
		state_release(&prev);
		if (rc == E_TOOBIG) {
			snprintf(why, whysz, "case %s would exceed a hard "
			    "limit", e->case_id);
			*how |= APPLY_OVER_LIMIT;
			rc = 0;
		}
		if (rc != 0 || (*how & APPLY_OVER_LIMIT))
			goto out;
	} else if ((rc = merge_apply(&s, e)) != 0)
		goto out;
	for (size_t i = 0; i < e->nops; i++)
		erases |= e->ops[i].type == OP_ERASE;
	if (s.erased.hlc != 0 && sign_redact(e) > 0)
		r = NULL;
	if (r != NULL) {
		/* The decoder accepts only the shortest encoding, so a received
		 * record is byte for byte what record_make would rebuild from
		 * e and block: store it without encoding it again. */
		rc = log_append(st, t, e, r->data, r->len, lk, &lklen);
	} else {
		buf_init(&rb, ENTRY_ENCODED_MAX + 256);
		rc = record_make(e, block, &rb);
		if (rc == 0)
			rc = log_append(st, t, e, rb.data, rb.len, lk, &lklen);
		buf_release(&rb);
	}
	if (rc != 0)
		goto out;
	if (erases && (rc = redact_case_log(st, t, e->case_id)) != 0)
		goto out;
	/* A read-only copy that becomes ours again is rebuilt from the log
	 * so that its identifying fields come back. */
	if ((s.flags & STATE_F_READONLY) && (strcmp(s.owner, st->node) == 0 ||
	    offer_pending_to(&s, st->node)))
		refold = 1;
	strlcpy_(oafter, offer_pending(&s, &of) ? of.to : "", sizeof(oafter));
	if (refold) {
		state_release(&s);
		if ((rc = fold_case(st, t, e->case_id, &s)) != 0)
			return rc;
	}
	if (project(st, &s)) {
		MDB_val ck = { strlen(s.id), s.id };

		rc = mdb_del(t, st->cases, &ck, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del case");
		if (rc == 0)
			rc = names_update(st, t, s.id, NULL);
		if (rc == 0)
			rc = conflicted_update(st, t, s.id, NULL);
	} else {
		rc = case_save(st, t, &s);
	}
	if (rc != 0)
		goto out;
	if (!is_central(st) && strcmp(before, st->node) == 0 &&
	    strcmp(s.owner, st->node) != 0)
		*how |= APPLY_MOVED_AWAY;
	rc = feed_route(st, t, e, before, s.owner, obefore, oafter, lk,
	    lklen);
out:
	state_release(&s);
	return rc;
}

/* Reads the log record under lk and decodes its entry. */
static int
log_read(struct store *st, MDB_txn *t, const uint8_t *lk, size_t lklen,
    struct entry *e, int verify_sig, int *sig_ok)
{
	MDB_val		k = { lklen, (void *)(uintptr_t)lk }, d;
	struct buf	plain;
	int		rc = mdb_get(t, st->log, &k, &d);

	if (rc != 0)
		return rc == MDB_NOTFOUND ? E_INTEGRITY : mdb_err(st, rc, "log");
	buf_init(&plain, d.mv_size + 1);
	if ((rc = log_unseal(st, lk, lklen, &d, &plain)) == 0 &&
	    record_open(st, t, plain.data, plain.len, e, verify_sig,
	    sig_ok) != 0)
		rc = E_INTEGRITY;
	buf_release(&plain);
	return rc;
}

/* Calls fn for every log entry of case id (in log key order). */
static int
case_entries(struct store *st, MDB_txn *t, const char *id, int verify_sig,
    int (*fn)(const struct entry *, int, void *), void *arg, int *found)
{
	MDB_cursor	*c;
	MDB_val		 k = { ENTRY_CASE_ID_LEN, (void *)(uintptr_t)id }, d;
	int		 rc, op = MDB_SET_RANGE;

	*found = 0;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->caselog, &c),
	    "cursor")) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &d, op)) == 0) {
		struct entry	e;
		int		sig_ok = -1;

		op = MDB_NEXT;
		if (k.mv_size <= ENTRY_CASE_ID_LEN ||
		    memcmp(k.mv_data, id, ENTRY_CASE_ID_LEN) != 0)
			break;
		*found = 1;
		rc = log_read(st, t, (const uint8_t *)k.mv_data +
		    ENTRY_CASE_ID_LEN, k.mv_size - ENTRY_CASE_ID_LEN, &e,
		    verify_sig, &sig_ok);
		if (rc != 0)
			break;
		rc = fn(&e, sig_ok, arg);
		entry_release(&e);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc;
}

static int
fold_one(const struct entry *e, int sig_ok, void *arg)
{
	(void)sig_ok;
	return merge_apply(arg, e);
}

/* Rebuilds case id from its log entries, with this node's projection. */
static int
fold_case(struct store *st, MDB_txn *t, const char *id, struct case_state *s)
{
	int found, rc;

	state_init(s, id);
	rc = case_entries(st, t, id, 0, fold_one, s, &found);
	if (rc == 0 && !found)
		rc = E_NOTFOUND;
	if (rc != 0) {
		state_release(s);
		return rc;
	}
	project(st, s);
	return 0;
}

struct local_ctx {
	struct entry	*es;
	size_t		 n;
	char		*err;
	size_t		 errsz;
};

static int
local_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct local_ctx	*lc = arg;
	struct hlc		 clock;
	uint64_t		 seq, last;
	uint8_t			 chain[CRYPTO_HASH], block[SIGN_BLOCK];
	int			 rc = 0;

	if ((rc = get_u64(st, t, st->meta, "seq", &seq)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "hlc", &last)) != 0 ||
	    (rc = chain_get(st, t, st->node, chain)) != 0)
		return rc;
	hlc_init(&clock, last, st->skew_ms);
	for (size_t i = 0; i < lc->n && rc == 0; i++) {
		struct entry		*e = &lc->es[i];
		struct case_state	 s;
		char			 why[200];
		int			 exists, how, dropped;

		rc = case_load(st, t, e->case_id, &s);
		/* A copy dropped after a transfer away: its entries are
		 * still in the log. */
		dropped = 0;
		if (rc == E_NOTFOUND &&
		    (rc = fold_case(st, t, e->case_id, &s)) == 0)
			dropped = 1;
		exists = rc == 0;
		if (rc == E_NOTFOUND) {
			if (!creates_for(e, st->node)) {
				snprintf(lc->err, lc->errsz,
				    "entry %zu: no case %s", i + 1,
				    e->case_id);
				break;
			}
			rc = 0;
		} else if (rc != 0) {
			break;
		}
		if (exists) {
			enum offer_kind	kind;

			if (offer_check(&s, e, st->node, is_central(st), &kind,
			    why, sizeof(why)) != 0) {
				snprintf(lc->err, lc->errsz, "entry %zu: %s",
				    i + 1, why);
				rc = E_CONFLICT;
			} else if (kind == OFFER_ACCEPT ||
			    kind == OFFER_DECLINE) {
				/* The receiving province answers an offer
				 * for a case it does not own (offer.h). */
			} else if (s.flags & STATE_F_READONLY) {
				snprintf(lc->err, lc->errsz, "entry %zu: case "
				    "%s was referred to %s; this node keeps %s",
				    i + 1, e->case_id, s.owner, dropped ?
				    "no copy (keep_transferred = no)" :
				    "a read-only copy");
				rc = E_CONFLICT;
			} else if (!is_central(st) &&
			    strcmp(s.owner, st->node) != 0) {
				snprintf(lc->err, lc->errsz, "entry %zu: case "
				    "%s is owned by %s; only its owner or "
				    "central may change it", i + 1,
				    e->case_id, s.owner);
				rc = E_CONFLICT;
			}
			for (size_t j = 0; rc == 0 && j < e->nops; j++) {
				struct op		*o = &e->ops[j];
				const struct field	*f;
				const struct head	*w;

				if (o->type == OP_SET && s.erased.hlc != 0 &&
				    schema_path_identifying(o->path)) {
					snprintf(lc->err, lc->errsz, "entry "
					    "%zu: case %s was erased: %s "
					    "cannot be set", i + 1, e->case_id,
					    o->path);
					rc = E_CONFLICT;
				}
				if (o->type != OP_SET || o->base.hlc != 0)
					continue;
				if ((f = merge_field(&s, o->path)) == NULL ||
				    (w = merge_winner(f)) == NULL)
					continue;
				o->base = w->st;
				/* Other heads that hold the value the author
				 * saw are superseded too: left alone they
				 * would turn into conflicts with the new value
				 * (see mt_same_value_heads in merge.c). */
				for (size_t h = 0; h + 1 < f->nheads &&
				    o->nalso < ENTRY_MAX_ALSO; h++)
					if (f->heads[h].value_len ==
					    w->value_len && memcmp(
					    f->heads[h].value, w->value,
					    w->value_len) == 0)
						o->also[o->nalso++] =
						    f->heads[h].st;
			}
			state_release(&s);
			if (rc != 0)
				break;
		}
		if (check_ops(e, why, sizeof(why)) != 0) {
			snprintf(lc->err, lc->errsz, "entry %zu: %s", i + 1,
			    why);
			rc = E_INVAL;
			break;
		}
		strlcpy_(e->origin, st->node, sizeof(e->origin));
		e->seq = ++seq;
		if ((rc = hlc_now(&clock, wall(st), &e->hlc)) != 0) {
			/* Counter exhausted in this millisecond: borrow the
			 * next one; HLC stays ahead of the wall clock. */
			clock.last = HLC_MAKE(HLC_MS(clock.last) + 1, 0);
			e->hlc = clock.last;
			rc = 0;
		}
		sign_salt(e);
		if (!st->have_keys) {
			snprintf(lc->err, lc->errsz, "no signing key");
			rc = E_AUTH;
			break;
		}
		if ((rc = sign_entry(e, st->sign_sec, chain, block, chain)) !=
		    0) {
			snprintf(lc->err, lc->errsz, "entry %zu: cannot sign"
			    " (%s)", i + 1, err_str(rc));
			break;
		}
		if ((rc = apply_entry(st, t, e, block, NULL, &how, why,
		    sizeof(why))) != 0)
			break;
		if (how & APPLY_OVER_LIMIT) {
			snprintf(lc->err, lc->errsz, "entry %zu: %s", i + 1,
			    why);
			rc = E_TOOBIG;
			break;
		}
	}
	if (rc == 0 && lc->err[0] != '\0')
		rc = E_NOTFOUND;
	if (rc == 0)
		rc = put_u64(st, t, st->meta, "seq", seq);
	if (rc == 0)
		rc = chain_put(st, t, st->node, chain);
	if (rc == 0)
		rc = put_u64(st, t, st->vv, st->node, seq);
	if (rc == 0)
		rc = put_u64(st, t, st->meta, "hlc", clock.last);
	return rc;
}

int
store_write_local(struct store *st, struct entry *es, size_t n, char *err,
    size_t errsz)
{
	struct local_ctx	lc = { es, n, err, errsz };
	int			rc;

	err[0] = '\0';
	if (st->node[0] == '\0') {
		snprintf(err, errsz, "store not initialised");
		return E_NOTFOUND;
	}
	rc = txn_run(st, local_fn, &lc);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
	return rc;
}

int
store_case_get(struct store *st, const char *id, struct case_state *s)
{
	int rc = store_case_get_sealed(st, id, s);

	if (rc == 0 && (rc = state_crypt(st, NULL, s, 0)) != 0)
		state_release(s);
	return rc;
}

int
store_case_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->cases, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (state_decode(d.mv_data, d.mv_size, &s) != 0) {
			rc = E_INTEGRITY;
			break;
		}
		rc = fn(&s, arg);
		state_release(&s);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

struct hist_ctx {
	struct entry	*es;
	int		*sig;
	size_t		 n;
};

static int
hist_collect(const struct entry *e, int sig_ok, void *arg)
{
	struct hist_ctx *h = arg;

	h->es = xreallocarray(h->es, h->n + 1, sizeof(*h->es));
	h->sig = xreallocarray(h->sig, h->n + 1, sizeof(*h->sig));
	entry_copy(&h->es[h->n], e);
	h->sig[h->n] = sig_ok;
	h->n++;
	return 0;
}

int
store_case_history(struct store *st, const char *id,
    int (*fn)(const struct entry *, int, void *), void *arg)
{
	struct hist_ctx	 h = { NULL, NULL, 0 };
	MDB_txn		*t;
	int		 rc, found;

	if (strlen(id) != ENTRY_CASE_ID_LEN)
		return E_NOTFOUND;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = case_entries(st, t, id, 1, hist_collect, &h, &found);
	mdb_txn_abort(t);
	if (rc == 0 && !found)
		rc = E_NOTFOUND;
	/* Present in causal (HLC, then node) order. */
	for (size_t i = 1; rc == 0 && i < h.n; i++) {
		for (size_t j = i; j > 0; j--) {
			const struct entry *a = &h.es[j - 1], *b = &h.es[j];
			struct entry	tmp;
			int		ts;

			if (a->hlc < b->hlc || (a->hlc == b->hlc &&
			    strcmp(a->origin, b->origin) <= 0))
				break;
			tmp = h.es[j - 1];
			h.es[j - 1] = h.es[j];
			h.es[j] = tmp;
			ts = h.sig[j - 1];
			h.sig[j - 1] = h.sig[j];
			h.sig[j] = ts;
		}
	}
	for (size_t i = 0; i < h.n; i++) {
		if (rc == 0)
			rc = fn(&h.es[i], h.sig[i], arg);
		entry_release(&h.es[i]);
	}
	free(h.es);
	free(h.sig);
	return rc;
}

/*
 * Checks the provenance of every log entry.  Entries of one origin with
 * consecutive seqs must link (each names the previous chain hash); the
 * last entry of every such run has its signature verified, which covers
 * the run.  An entry whose origin's key is unknown, or that is unsigned,
 * counts as bad.
 */
static void
verify_signatures(struct store *st, MDB_txn *t, uint64_t *bad, char *err,
    size_t errsz)
{
	MDB_cursor	*c;
	MDB_val		 k, d;
	struct buf	 plain;
	struct entry	 run;
	uint8_t		 run_block[SIGN_BLOCK], h[CRYPTO_HASH];
	uint64_t	 run_until = UINT64_MAX;
	int		 have_run = 0;

	if (mdb_cursor_open(t, st->log, &c) != 0) {
		(*bad)++;
		return;
	}
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	entry_init(&run);
#define BAD(...) do {								if (*bad == 0)									snprintf(err, errsz, __VA_ARGS__);				(*bad)++;							} while (0)
	for (;;) {
		struct entry	e;
		uint8_t		block[SIGN_BLOCK], eh[CRYPTO_HASH];
		int		signed_, more, linked = 0;

		more = mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0;
		if (more && (log_unseal(st, k.mv_data, k.mv_size, &d, &plain) !=
		    0 || record_split(plain.data, plain.len, &e, block,
		    &signed_) != 0)) {
			BAD("a log record does not open or decode");
			continue;
		}
		if (more && !signed_) {
			BAD("entry %s/%llu is not signed", e.origin,
			    (unsigned long long)e.seq);
			entry_release(&e);
			continue;
		}
		if (more && have_run && strcmp(e.origin, run.origin) == 0 &&
		    e.seq == run.seq + 1) {
			if (sign_chain(&run, run_block + CRYPTO_SIG, eh) != 0 ||
			    crypto_memcmp(eh, block + CRYPTO_SIG,
			    CRYPTO_HASH) != 0) {
				BAD("entry %s/%llu does not continue its "
				    "origin's chain", e.origin,
				    (unsigned long long)e.seq);
			} else {
				linked = 1;
			}
		}
		/* A run also ends where its origin's key changes: the last
		 * entry of each key is checked under that key (keyhist.h). */
		if (linked && e.seq >= run_until)
			linked = 0;
		if (have_run && !linked) {
			/* The run ends: its last signature covers it. */
			uint8_t		pub[CRYPTO_SIGN_PUB];
			uint64_t	rv;

			if (origin_key(st, t, run.origin, run.seq, pub, &rv) !=
			    0)
				BAD("entry %s/%llu: the key of %s is unknown",
				    run.origin, (unsigned long long)run.seq,
				    run.origin);
			else if (sign_check(&run, pub, run_block, h) != 1)
				BAD("entry %s/%llu: signature does not "
				    "verify", run.origin,
				    (unsigned long long)run.seq);
		}
		if (!more)
			break;
		entry_release(&run);
		run = e;
		memcpy(run_block, block, SIGN_BLOCK);
		have_run = 1;
		{
			struct keyhist_epoch ep;

			run_until = UINT64_MAX;
			if (keyhist_at_txn(t, st->keyhist, run.origin, run.seq,
			    &ep, &run_until) == 0 && ep.revoked_from != 0 &&
			    run.seq >= ep.revoked_from)
				BAD("entry %s/%llu is signed with the key of %s "
				    "(epoch %u) revoked from seq %llu",
				    run.origin, (unsigned long long)run.seq,
				    run.origin, ep.epoch,
				    (unsigned long long)ep.revoked_from);
		}
	}
#undef BAD
	entry_release(&run);
	buf_release(&plain);
	mdb_cursor_close(c);
}

int
store_verify(struct store *st, uint64_t *ncases, uint64_t *nentries,
    uint64_t *bad, char *err, size_t errsz)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	MDB_stat	 ms;
	struct buf	 a, b;
	int		 rc;

	*ncases = *nentries = *bad = 0;
	err[0] = '\0';
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	mdb_stat(t, st->log, &ms);
	*nentries = ms.ms_entries;
	buf_init(&a, STATE_ENCODED_MAX);
	buf_init(&b, STATE_ENCODED_MAX);
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->cases, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	/* Every case in the table equals the fold of its log entries. */
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state	s;
		char			id[ENTRY_CASE_ID_LEN + 1];
		const char		*why = NULL;

		(*ncases)++;
		if (k.mv_size != ENTRY_CASE_ID_LEN) {
			why = "bad key in case table";
			id[0] = '\0';
		} else {
			memcpy(id, k.mv_data, ENTRY_CASE_ID_LEN);
			id[ENTRY_CASE_ID_LEN] = '\0';
			rc = fold_case(st, t, id, &s);
			if (rc == E_NOTFOUND) {
				why = "in the case table but not in the log";
			} else if (rc != 0) {
				why = "its log entries do not decode";
			} else {
				buf_reset(&a);
				buf_reset(&b);
				state_encode(&s, &a);
				state_release(&s);
				if (state_decode(d.mv_data, d.mv_size, &s) !=
				    0) {
					why = "stored state does not decode";
				} else if (state_crypt(st, t, &s, 0) != 0) {
					why = "a sealed value does not open";
					state_release(&s);
				} else {
					merge_normalise(&s);
					state_encode(&s, &b);
					state_release(&s);
					if (a.len != b.len || memcmp(a.data,
					    b.data, a.len) != 0)
						why = "differs from the fold "
						    "of its log";
				}
			}
		}
		if (why != NULL) {
			if (*bad == 0)
				snprintf(err, errsz, "case %s: %s", id, why);
			(*bad)++;
		}
	}
	mdb_cursor_close(c);
	/* Every case in the log is in the table. */
	if (mdb_cursor_open(t, st->caselog, &c) == 0) {
		char last[ENTRY_CASE_ID_LEN + 1] = "";

		while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			char id[ENTRY_CASE_ID_LEN + 1];
			MDB_val ck, cd;

			if (k.mv_size <= ENTRY_CASE_ID_LEN)
				continue;
			memcpy(id, k.mv_data, ENTRY_CASE_ID_LEN);
			id[ENTRY_CASE_ID_LEN] = '\0';
			if (strcmp(id, last) == 0)
				continue;
			memcpy(last, id, sizeof(last));
			ck.mv_data = id;
			ck.mv_size = ENTRY_CASE_ID_LEN;
			if (mdb_get(t, st->cases, &ck, &cd) != 0) {
				struct case_state	s;
				int			none;

				/* keep_transferred = no: no row is right. */
				if (fold_case(st, t, id, &s) == 0) {
					none = st->drop_transferred &&
					    (s.flags & STATE_F_READONLY);
					state_release(&s);
					if (none)
						continue;
				}
				if (*bad == 0)
					snprintf(err, errsz, "case %s: in the "
					    "log but not in the case table",
					    id);
				(*bad)++;
			}
		}
		mdb_cursor_close(c);
	}
	if (*bad == 0)
		verify_signatures(st, t, bad, err, errsz);
	mdb_txn_abort(t);
	buf_release(&a);
	buf_release(&b);
	return *bad ? E_INTEGRITY : 0;
}

int
store_feed_origins(struct store *st, const char *peer, uint64_t after,
    int (*fn)(const char *, void *), void *arg)
{
	char		 seen[STORE_ORIGINS_MAX][HLC_NODE_MAX + 1];
	size_t		 nseen = 0, plen = strlen(peer);
	MDB_txn		*t;
	MDB_cursor	*c;
	uint8_t		 fk[LOGKEY_MAX];
	MDB_val		 k, d;
	int		 rc, op = MDB_SET_RANGE;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, after + 1);
	while (rc == 0 && mdb_cursor_get(c, &k, &d, op) == 0) {
		const char	*o = d.mv_data;
		size_t		 olen, i;

		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, peer,
		    plen) != 0)
			break;
		/* The value is a log key: origin, NUL, be64 seq. */
		if (d.mv_size < 10 || d.mv_size > HLC_NODE_MAX + 9 ||
		    o[d.mv_size - 9] != '\0')
			continue;
		olen = d.mv_size - 9;
		for (i = 0; i < nseen; i++)
			if (strlen(seen[i]) == olen &&
			    memcmp(seen[i], o, olen) == 0)
				break;
		if (i < nseen || nseen == STORE_ORIGINS_MAX)
			continue;
		memcpy(seen[nseen], o, olen);
		seen[nseen][olen] = '\0';
		rc = fn(seen[nseen++], arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

void
rec_batch_free(struct rec_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->recs[i].data);
	free(b->recs);
	memset(b, 0, sizeof(*b));
}

static void
batch_add(struct rec_batch *b, uint64_t pos, const void *p, size_t len)
{
	b->recs = xreallocarray(b->recs, b->n + 1, sizeof(*b->recs));
	b->recs[b->n].pos = pos;
	b->recs[b->n].data = xmalloc(len);
	memcpy(b->recs[b->n].data, p, len);
	b->recs[b->n].len = len;
	b->recs[b->n].refused = 0;
	b->n++;
	b->bytes += len;
}

int
store_scan_own(struct store *st, uint64_t after, size_t max_bytes,
    struct rec_batch *b)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	uint8_t		 lk[LOGKEY_MAX];
	size_t		 plen = strlen(st->node);
	MDB_val		 k, d;
	struct buf	 plain;
	int		 rc, op = MDB_SET_RANGE;

	memset(b, 0, sizeof(*b));
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->log, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	k.mv_data = lk;
	k.mv_size = seqkey(lk, st->node, after + 1);
	rc = 0;
	while (mdb_cursor_get(c, &k, &d, op) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, st->node,
		    plen) != 0)
			break;
		if (b->n >= STORE_BATCH_MAX || (b->n > 0 &&
		    b->bytes + d.mv_size > max_bytes)) {
			b->more = 1;
			break;
		}
		if ((rc = log_unseal(st, k.mv_data, k.mv_size, &d,
		    &plain)) != 0)
			break;
		batch_add(b, be64_get((const uint8_t *)k.mv_data + plen + 1),
		    plain.data, plain.len);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	buf_release(&plain);
	if (rc != 0)
		rec_batch_free(b);
	return rc;
}

int
store_scan_feed(struct store *st, const char *peer, uint64_t after,
    size_t max_bytes, struct rec_batch *b)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	uint8_t		 fk[LOGKEY_MAX];
	size_t		 plen = strlen(peer);
	MDB_val		 k, d;
	struct buf	 plain;
	int		 rc = 0, op = MDB_SET_RANGE;

	memset(b, 0, sizeof(*b));
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, after + 1);
	while (mdb_cursor_get(c, &k, &d, op) == 0) {
		MDB_val lk = d, rv;

		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, peer,
		    plen) != 0)
			break;
		rc = mdb_get(t, st->log, &lk, &rv);
		if (rc == MDB_NOTFOUND &&
		    (rc = mdb_get(t, st->refused, &lk, &rv)) == 0) {
			/* A refusal notice: the record after its reason. */
			const uint8_t *z = memchr(rv.mv_data, 0, rv.mv_size);

			if (z == NULL) {
				rc = E_INTEGRITY;
				break;
			}
			rv.mv_size -= (size_t)(z + 1 -
			    (const uint8_t *)rv.mv_data);
			rv.mv_data = (void *)(uintptr_t)(z + 1);
		}
		if (rc != 0) {
			rc = E_INTEGRITY;
			break;
		}
		if (b->n >= STORE_BATCH_MAX || (b->n > 0 &&
		    b->bytes + rv.mv_size > max_bytes)) {
			b->more = 1;
			break;
		}
		if ((rc = log_unseal(st, lk.mv_data, lk.mv_size, &rv,
		    &plain)) != 0)
			break;
		batch_add(b, be64_get((const uint8_t *)k.mv_data + plen + 1),
		    plain.data, plain.len);
	}
	buf_release(&plain);
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	if (rc != 0)
		rec_batch_free(b);
	return rc;
}

static int
peer_read(struct store *st, MDB_txn *t, const char *peer,
    struct peer_info *pi)
{
	MDB_val			k = { strlen(peer), (void *)(uintptr_t)peer }, d;
	struct peer_disk	pd;
	int			rc;

	memset(pi, 0, sizeof(*pi));
	strlcpy_(pi->node, peer, sizeof(pi->node));
	if ((rc = mdb_get(t, st->peers, &k, &d)) != 0)
		return mdb_err(st, rc, "get peer");
	if (d.mv_size != sizeof(pd))
		return E_INTEGRITY;
	memcpy(&pd, d.mv_data, sizeof(pd));
	if (pd.version != 1)
		return E_INTEGRITY;
	*pi = pd.info;
	pi->node[HLC_NODE_MAX] = '\0';
	pi->last_error[sizeof(pi->last_error) - 1] = '\0';
	return 0;
}

static int
peer_write(struct store *st, MDB_txn *t, const struct peer_info *pi)
{
	struct peer_disk	pd;
	MDB_val			k, d;

	memset(&pd, 0, sizeof(pd));
	pd.version = 1;
	pd.info = *pi;
	k.mv_data = (void *)(uintptr_t)pi->node;
	k.mv_size = strlen(pi->node);
	d.mv_data = &pd;
	d.mv_size = sizeof(pd);
	return mdb_err(st, mdb_put(t, st->peers, &k, &d, 0), "put peer");
}

/* Keeps a refused entry out of the log, with its reason, for audit. */
static int
refuse(struct store *st, MDB_txn *t, const struct entry *e, const char *why,
    const struct rec *r)
{
	uint8_t		 rk[LOGKEY_MAX];
	struct buf	 b;
	MDB_val		 k, d;
	int		 rc;

	log_warnx("refused entry %s/%llu (case %s): %s", e->origin,
	    (unsigned long long)e->seq, e->case_id, why);
	buf_init(&b, ENTRY_ENCODED_MAX + 512);
	buf_append(&b, why, strlen(why) + 1);
	k.mv_data = rk;
	k.mv_size = seqkey(rk, e->origin, e->seq);
	if ((rc = log_seal(st, rk, k.mv_size, r->data, r->len, &b)) == 0) {
		d.mv_data = b.data;
		d.mv_size = b.len;
		rc = mdb_err(st, mdb_put(t, st->refused, &k, &d, 0),
		    "put refused");
	}
	buf_release(&b);
	/* Central tells the origin, in the same transaction: its feed never
	 * carries the origin's own entries otherwise, so the entry coming
	 * back is the notice (see unrecord_own; docs/RELIABILITY.md). */
	if (rc == 0 && is_central(st))
		rc = feed_push(st, t, e->origin, rk, k.mv_size);
	return rc;
}

/*
 * Province: central refused our entry e (it came back in our feed).  Moves
 * it from the log to the refused table, for audit, and refolds its case:
 * this node's copy then holds what central holds.  Left in the log, the
 * entry would stay in our fold for ever, and our copy would differ from
 * central's once the case is ours again (a referral back, or a refusal
 * for a clock running ahead).
 */
static int
unrecord_own(struct store *st, MDB_txn *t, const struct entry *e,
    const struct rec *r)
{
	static const char	 why[] = "refused by central";
	uint8_t			 lk[LOGKEY_MAX], ck[CASEKEY_MAX];
	struct case_state	 s;
	struct buf		 b;
	MDB_val			 k, d;
	size_t			 lklen;
	int			 rc;

	k.mv_data = lk;
	k.mv_size = lklen = seqkey(lk, e->origin, e->seq);
	if ((rc = mdb_get(t, st->log, &k, &d)) == MDB_NOTFOUND) {
		/* Already taken out; or an entry this node lost in a restore
		 * and has not recovered yet: keep the notice, so that the
		 * entry is never applied when it comes back (store_apply_own)
		 * and its position stays known (chain_at). */
		if ((rc = mdb_get(t, st->refused, &k, &d)) != MDB_NOTFOUND)
			return mdb_err(st, rc, "get refused");
		buf_init(&b, sizeof(why) + r->len + CRYPTO_SEAL_OVERHEAD);
		buf_append(&b, why, sizeof(why));
		rc = log_seal(st, lk, lklen, r->data, r->len, &b);
		if (rc == 0) {
			d.mv_data = b.data;
			d.mv_size = b.len;
			rc = mdb_err(st, mdb_put(t, st->refused, &k, &d, 0),
			    "put refused");
		}
		buf_release(&b);
		return rc;
	}
	if (rc != 0)
		return mdb_err(st, rc, "get log");
	memcpy(ck, e->case_id, ENTRY_CASE_ID_LEN);
	memcpy(ck + ENTRY_CASE_ID_LEN, lk, lklen);
	k.mv_data = ck;
	k.mv_size = ENTRY_CASE_ID_LEN + lklen;
	if ((rc = mdb_get(t, st->caselog, &k, &d)) != 0) {
		log_warnx("refusal notice for %s/%llu does not match our log",
		    e->origin, (unsigned long long)e->seq);
		return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "caselog");
	}
	if ((rc = mdb_del(t, st->caselog, &k, NULL)) != 0)
		return mdb_err(st, rc, "del caselog");
	k.mv_data = lk;
	k.mv_size = lklen;
	if ((rc = mdb_get(t, st->log, &k, &d)) != 0)
		return mdb_err(st, rc, "get log");
	/* The sealed record moves as it is: same key, same data key. */
	buf_init(&b, sizeof(why) + d.mv_size);
	buf_append(&b, why, sizeof(why));
	buf_append(&b, d.mv_data, d.mv_size);
	d.mv_data = b.data;
	d.mv_size = b.len;
	rc = mdb_err(st, mdb_put(t, st->refused, &k, &d, 0), "put refused");
	buf_release(&b);
	if (rc == 0)
		rc = mdb_err(st, mdb_del(t, st->log, &k, NULL), "del log");
	if (rc != 0)
		return rc;
	log_warnx("entry %s/%llu (case %s) was refused by central: taken out "
	    "of this node's copy", e->origin, (unsigned long long)e->seq,
	    e->case_id);
	rc = fold_case(st, t, e->case_id, &s);
	if (rc == E_NOTFOUND || (rc == 0 && project(st, &s))) {
		MDB_val cid = { ENTRY_CASE_ID_LEN, (void *)(uintptr_t)e->case_id };

		if (rc == 0)
			state_release(&s);
		rc = mdb_del(t, st->cases, &cid, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del case");
		if (rc == 0)
			rc = names_update(st, t, e->case_id, NULL);
		return rc != 0 ? rc : conflicted_update(st, t, e->case_id,
		    NULL);
	}
	if (rc != 0)
		return rc;
	rc = case_save(st, t, &s);
	state_release(&s);
	return rc;
}

/*
 * Central: was a referral of e's case away from e's origin still waiting
 * in that province's feed, not yet acknowledged, when its current session
 * began?  Then the province could not have known of it when it wrote e:
 * a province sends every entry it committed before applying a referral
 * ahead of that batch's ACK (repl.c, flush_acks), and refuses to erase a
 * case it no longer owns.  See
 * docs/SECURITY.md, "A compromised province".  Only that tail of the
 * feed is read, and a log record only for the entries of this case.
 */
struct before_ctx {
	struct stamp	 at;		/* the transfer */
	struct stamp	 best;		/* latest transfer before it */
	char		 to[HLC_NODE_MAX + 1];
};

static int
before_one(const struct entry *e, int sig_ok, void *arg)
{
	struct before_ctx	*b = arg;
	struct stamp		 st;

	(void)sig_ok;
	st.hlc = e->hlc;
	strlcpy_(st.node, e->origin, sizeof(st.node));
	if (stamp_cmp(&st, &b->at) >= 0 || stamp_cmp(&st, &b->best) <= 0)
		return 0;
	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_TRANSFER) {
			b->best = st;
			strlcpy_(b->to, e->ops[i].to, sizeof(b->to));
		}
	return 0;
}

/* Did node own f's case just before the transfer f (by the transfers in
 * this node's log)?  A referral away from node, not the creator's first
 * transfer in a history referred to node (issue 18, finding 4). */
static int
owned_before(struct store *st, MDB_txn *t, const struct entry *f,
    const char *node)
{
	struct before_ctx	b;
	int			found;

	memset(&b, 0, sizeof(b));
	b.at.hlc = f->hlc;
	strlcpy_(b.at.node, f->origin, sizeof(b.at.node));
	if (case_entries(st, t, f->case_id, 0, before_one, &b, &found) != 0)
		return 0;
	return b.best.hlc != 0 && strcmp(b.to, node) == 0;
}

static int
referral_unseen(struct store *st, MDB_txn *t, const struct entry *e)
{
	struct peer_info	 pi;
	MDB_cursor		*c;
	MDB_val			 k, d;
	uint8_t			 fk[LOGKEY_MAX], ck[CASEKEY_MAX];
	size_t			 plen = strlen(e->origin);
	int			 op = MDB_SET_RANGE, hit = 0;

	if (peer_read(st, t, e->origin, &pi) != 0)
		pi.feed_recv = 0;
	if (mdb_cursor_open(t, st->feed, &c) != 0)
		return 0;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, e->origin, pi.feed_recv + 1);
	while (!hit && mdb_cursor_get(c, &k, &d, op) == 0) {
		MDB_val		 cv, dv;
		struct entry	 f;
		int		 sig_ok;

		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, e->origin,
		    plen) != 0)
			break;
		if (d.mv_size > LOGKEY_MAX)
			break;
		memcpy(ck, e->case_id, ENTRY_CASE_ID_LEN);
		memcpy(ck + ENTRY_CASE_ID_LEN, d.mv_data, d.mv_size);
		cv.mv_data = ck;
		cv.mv_size = ENTRY_CASE_ID_LEN + d.mv_size;
		if (mdb_get(t, st->caselog, &cv, &dv) != 0)
			continue;	/* another case's entry */
		if (log_read(st, t, d.mv_data, d.mv_size, &f, 0, &sig_ok) != 0)
			continue;
		for (size_t i = 0; i < f.nops; i++)
			if (f.ops[i].type == OP_TRANSFER &&
			    strcmp(f.ops[i].to, e->origin) != 0 &&
			    owned_before(st, t, &f, e->origin))
				hit = 1;
		entry_release(&f);
	}
	mdb_cursor_close(c);
	return hit;
}

/*
 * Central: who owned e's case at stamp `point`, by the transfers central
 * holds (the one with the latest stamp before it; the owner is the last
 * writer among transfers, merge.c).  Empty when no transfer precedes it.
 */
static int
owner_at(struct store *st, MDB_txn *t, const struct entry *e, uint64_t point,
    char *owner, size_t ownersz)
{
	struct before_ctx	b;
	int			rc, found;

	memset(&b, 0, sizeof(b));
	b.at.hlc = point;
	strlcpy_(b.at.node, e->origin, sizeof(b.at.node));
	rc = case_entries(st, t, e->case_id, 0, before_one, &b, &found);
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	strlcpy_(owner, b.best.hlc != 0 ? b.to : "", ownersz);
	return 0;
}

/*
 * Central's authorisation of an entry from a province: its origin owns the
 * case now, or owned it when it wrote the entry.
 *
 * The second clause makes the decision independent of the order in which
 * entries arrive, which matters after central's restore: entries then come
 * back from every province at its next sync, in any order, and a transfer
 * away (given back by the node that received it) may reach central before
 * the entries its old owner wrote before it.  Judged by the owner now, those
 * would be refused although the old central accepted them and other nodes
 * hold them (chaos seed 29).  "When it wrote it" is the entry's stamp, never
 * earlier than the latest stamp central holds from the origin (hw), so a
 * province cannot backdate an entry into a time when it owned the case: an
 * honest origin's stamps only grow along its chain.
 */
static int
authorise(struct store *st, MDB_txn *t, const struct entry *e, uint64_t hw,
    char *why, size_t whysz)
{
	struct case_state	s;
	enum offer_kind		kind;
	char			then[HLC_NODE_MAX + 1];
	int			rc;

	/* Only the owner is needed: identifying values stay sealed. */
	rc = case_load_raw(st, t, e->case_id, &s);
	if (rc == E_NOTFOUND) {
		if (!creates_for(e, e->origin)) {
			snprintf(why, whysz, "%s may not create a case owned "
			    "by another node", e->origin);
			return E_AUTH;
		}
		state_init(&s, e->case_id);
		rc = offer_check(&s, e, e->origin, 0, &kind, why, whysz);
		state_release(&s);
		return rc;
	}
	if (rc != 0)
		return rc;
	/* Offers: a province never moves a case to another node itself; the
	 * receiving province answers an offer for a case it does not own. */
	if ((rc = offer_check(&s, e, e->origin, 0, &kind, why, whysz)) != 0 ||
	    kind == OFFER_ACCEPT || kind == OFFER_DECLINE) {
		state_release(&s);
		return rc;
	}
	/* A case known only from central's own entries (given back after
	 * central's restore, before the entry that created it): it has no
	 * owner yet, and the creating entry still creates it, whichever
	 * arrives first. */
	if (s.owner[0] == '\0') {
		state_release(&s);
		if (!creates_for(e, e->origin)) {
			snprintf(why, whysz, "%s may not create a case owned "
			    "by another node", e->origin);
			return E_AUTH;
		}
		return 0;
	}
	/* An erase from the province the case was referred away from, made
	 * before it learned of that, still counts: it has already redacted
	 * its own copy for good, and an erase wins nothing from the owner
	 * (docs/RELIABILITY.md, bug 4).  Once the province has acknowledged
	 * the referral, it is a former owner like any other node. */
	if (strcmp(s.owner, e->origin) == 0) {
		state_release(&s);
		return 0;
	}
	if ((rc = owner_at(st, t, e, e->hlc > hw ? e->hlc : hw, then,
	    sizeof(then))) != 0) {
		state_release(&s);
		return rc;
	}
	if (then[0] != '\0' ? strcmp(then, e->origin) != 0 :
	    !creates_for(e, e->origin)) {
		if (!(erase_only(e) && referral_unseen(st, t, e))) {
			snprintf(why, whysz, "%s does not own case %s (owner "
			    "%s)", e->origin, e->case_id, s.owner);
			rc = E_AUTH;
		}
	}
	state_release(&s);
	return rc;
}

struct remote_ctx {
	const char		*peer;
	const struct rec	*recs;
	size_t			 n;
	struct apply_stats	*stats;
	char			*err;
	size_t			 errsz;
	uint8_t			 fref[LOGKEY_MAX];	/* province: the entry
							 * at the last position */
	size_t			 freflen;
	uint64_t		 hw;	/* central: the latest stamp taken
					 * from the peer (authorise) */
};

static int	fork_links(struct store *, MDB_txn *, const char *, uint64_t,
		    const uint8_t *, uint64_t, const uint8_t *);

static int	remote_one(struct store *, MDB_txn *, struct remote_ctx *,
		    const struct rec *, uint64_t *, struct peer_info *,
		    struct hlc *, uint64_t, uint8_t *, struct entry *,
		    uint8_t *, int *);

static int
remote_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct remote_ctx	*rc_ = arg;
	struct peer_info	 pi;
	struct hlc		 clock;
	uint64_t		 vv, last, cursor;
	int			 central = is_central(st), rc, have_tail = 0;
	uint64_t		 w = wall(st);
	uint8_t			 chain[CRYPTO_HASH], tail_block[SIGN_BLOCK];
	struct entry		 tail;
	char			 hwk[HLC_NODE_MAX + 8];
	uint64_t		 hw0 = 0;

	memset(rc_->stats, 0, sizeof(*rc_->stats));
	entry_init(&tail);
	rc = peer_read(st, t, rc_->peer, &pi);
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	snprintf(hwk, sizeof(hwk), "ohw:%s", rc_->peer);
	if ((rc = get_u64(st, t, st->vv, rc_->peer, &vv)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "hlc", &last)) != 0 ||
	    (rc = chain_get(st, t, rc_->peer, chain)) != 0 ||
	    (central && (rc = get_u64(st, t, st->meta, hwk, &hw0)) != 0))
		return rc;
	rc_->hw = hw0;
	hlc_init(&clock, last, st->skew_ms);
	cursor = central ? vv : pi.feed_recv;
	rc = 0;
	for (size_t i = 0; i < rc_->n && rc == 0; i++) {
		rc = remote_one(st, t, rc_, &rc_->recs[i], &cursor, &pi,
		    &clock, w, chain, &tail, tail_block, &have_tail);
	}
	/* One signature check per batch: the chain links every entry of the
	 * run to the last one, whose signature covers them all. */
	if (rc == 0 && central && have_tail) {
		uint8_t pub[CRYPTO_SIGN_PUB], h[CRYPTO_HASH];

		if (origin_key(st, t, rc_->peer, tail.seq, pub, NULL) != 0 ||
		    sign_check(&tail, pub, tail_block, h) != 1) {
			snprintf(rc_->err, rc_->errsz, "batch from %s: the "
			    "signature of entry %llu does not verify",
			    rc_->peer, (unsigned long long)tail.seq);
			rc = E_AUTH;
		}
	}
	entry_release(&tail);
	if (rc == 0 && central && cursor > vv)
		rc = quota_charge(st, t, rc_->peer, rc_->stats, rc_->err,
		    rc_->errsz);
	if (rc != 0)
		return rc;
	rc_->stats->last_pos = cursor;
	if (central)
		rc = put_u64(st, t, st->vv, rc_->peer, cursor);
	else
		pi.feed_recv = cursor;
	if (rc == 0 && central)
		rc = chain_put(st, t, rc_->peer, chain);
	if (rc == 0 && central && rc_->hw != hw0)
		rc = put_u64(st, t, st->meta, hwk, rc_->hw);
	if (rc == 0 && !central && rc_->freflen > 0) {
		char	mk[HLC_NODE_MAX + 8];
		MDB_val	k, d;

		/* Which entry sits at the feed position we hold: central
		 * checks it at the next HELLO (a central put back from a
		 * copy of its files would have reused the position). */
		snprintf(mk, sizeof(mk), "fref:%s", rc_->peer);
		k.mv_data = mk;
		k.mv_size = strlen(mk);
		d.mv_data = rc_->fref;
		d.mv_size = rc_->freflen;
		rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put fref");
	}
	if (rc == 0)
		rc = peer_write(st, t, &pi);
	if (rc == 0)
		rc = put_u64(st, t, st->meta, "hlc", clock.last);
	return rc;
}

/*
 * Central, for an entry of a province's run: an entry outside the origin's
 * latest key must verify on its own (the run's last signature is made by
 * another key); *krev gets the position from which the key of the entry's
 * range is revoked when the entry is at or after it, else 0.  Returns 0
 * or E_AUTH.
 */
static int
key_range_check(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, uint64_t *krev)
{
	struct keyhist_epoch	ep;
	uint64_t		until;
	uint8_t			h[CRYPTO_HASH];
	int			rc;

	*krev = 0;
	rc = keyhist_at_txn(t, st->keyhist, e->origin, e->seq, &ep, &until);
	if (rc == E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (until != UINT64_MAX && sign_check(e, ep.sign_pub, block, h) != 1)
		return E_AUTH;
	if (ep.revoked_from != 0 && e->seq >= ep.revoked_from)
		*krev = ep.revoked_from;
	return 0;
}

/* The reason an entry signed with a revoked key is refused. */
static void
revoked_why(struct store *st, MDB_txn *t, const struct entry *e, char *why,
    size_t whysz)
{
	struct keyhist_epoch ep;

	if (keyhist_at_txn(t, st->keyhist, e->origin, e->seq, &ep, NULL) == 0)
		snprintf(why, whysz, "signed with the key of %s (epoch %u) "
		    "revoked from seq %llu", e->origin, ep.epoch,
		    (unsigned long long)ep.revoked_from);
	else
		snprintf(why, whysz, "signed with a revoked key of %s",
		    e->origin);
}

/* One record of a received batch (see remote_fn). */
static int
remote_one(struct store *st, MDB_txn *t, struct remote_ctx *rc_,
    const struct rec *r, uint64_t *cursorp, struct peer_info *pipi,
    struct hlc *clockp, uint64_t w, uint8_t *chain, struct entry *tail,
    uint8_t *tail_block, int *have_tail)
{
	int			 central = is_central(st), rc;
	uint64_t		 cursor = *cursorp;
	struct peer_info	*pi_ = pipi;
	struct hlc		*cl = clockp;
	uint8_t			 block[SIGN_BLOCK];
	uint64_t		 krev = 0;
	int			 signed_, sig = 1, fork;
	{
		struct entry		 e;
		char			 why[200];
		int			 how;
		size_t			 nrefer;

		if (r->pos <= cursor) {
			rc_->stats->duplicates++;
			return 0;
		}
		/* A position in a later incarnation: central checks below that
		 * the entry forks from one it holds; a province accepts the
		 * first feed position of a restored central's incarnation. */
		fork = r->pos != cursor + 1;
		if (fork && !(POS_INC(r->pos) > POS_INC(cursor) && (central ||
		    POS_LOW(r->pos) == 1))) {
			snprintf(rc_->err, rc_->errsz, "gap from %s: expected "
			    "%llu, got %llu", rc_->peer,
			    (unsigned long long)cursor + 1,
			    (unsigned long long)r->pos);
			return E_GAP;
		}
		if (record_split(r->data, r->len, &e, block, &signed_) != 0) {
			snprintf(rc_->err, rc_->errsz, "record %llu from %s "
			    "does not decode", (unsigned long long)r->pos,
			    rc_->peer);
			return E_PROTO;
		}
		if (!signed_) {
			snprintf(rc_->err, rc_->errsz, "entry %s/%llu from %s "
			    "is not signed", e.origin,
			    (unsigned long long)e.seq, rc_->peer);
			entry_release(&e);
			return E_AUTH;
		}
		if (central && (strcmp(e.origin, rc_->peer) != 0 ||
		    e.seq != r->pos)) {
			snprintf(rc_->err, rc_->errsz, "record %llu from %s "
			    "is %s/%llu", (unsigned long long)r->pos,
			    rc_->peer, e.origin, (unsigned long long)e.seq);
			entry_release(&e);
			return E_PROTO;
		}
		if (central && fork) {
			if (!fork_links(st, t, e.origin, r->pos, block +
			    CRYPTO_SIG, cursor, chain)) {
				snprintf(rc_->err, rc_->errsz, "entry %s/%llu "
				    "starts a new incarnation but does not "
				    "fork from an entry central holds",
				    e.origin, (unsigned long long)e.seq);
				entry_release(&e);
				return E_AUTH;
			}
			memcpy(chain, block + CRYPTO_SIG, CRYPTO_HASH);
		}
		if (central) {
			/* The province's own run: each entry must link to
			 * the one before it. */
			if (crypto_memcmp(block + CRYPTO_SIG, chain,
			    CRYPTO_HASH) != 0 ||
			    sign_chain(&e, chain, chain) != 0) {
				snprintf(rc_->err, rc_->errsz, "entry %s/%llu "
				    "does not continue its origin's chain",
				    e.origin, (unsigned long long)e.seq);
				entry_release(&e);
				return E_AUTH;
			}
			entry_release(tail);
			entry_copy(tail, &e);
			memcpy(tail_block, block, SIGN_BLOCK);
			*have_tail = 1;
			/* Key history: an entry outside its origin's latest
			 * key is not covered by the batch's last signature
			 * (keyhist.h). */
			if ((rc = key_range_check(st, t, &e, block, &krev)) !=
			    0) {
				snprintf(rc_->err, rc_->errsz, "entry %s/%llu: "
				    "its signature does not verify with the key "
				    "%s had at that position", e.origin,
				    (unsigned long long)e.seq, e.origin);
				entry_release(&e);
				return rc;
			}
		} else if (strcmp(e.origin, st->node) != 0 &&
		    (sig = sig_status(st, t, &e, block, 1)) != 1 && sig != 0 &&
		    sig != 2) {
			/* The origin's key is not known yet: retry later. */
			snprintf(rc_->err, rc_->errsz, "entry %s/%llu from %s: "
			    "its signature does not verify", e.origin,
			    (unsigned long long)e.seq, rc_->peer);
			entry_release(&e);
			return E_AUTH;
		}
		cursor = r->pos;
		*cursorp = cursor;
		if (!central)
			rc_->freflen = seqkey(rc_->fref, e.origin, e.seq);
		if (!central && strcmp(e.origin, st->node) == 0) {
			/* Our own entry in our feed: central refused it. */
			rc = unrecord_own(st, t, &e, r);
			entry_release(&e);
			if (rc == 0)
				rc_->stats->duplicates++;
			return rc;
		}
		/* Central holds it already: given back by another province
		 * after central's restore (store_apply_returned).  Its chain
		 * link was checked above. */
		if (central && !r->refused) {
			MDB_val	lv, dv;
			uint8_t	lk[LOGKEY_MAX];

			lv.mv_data = lk;
			lv.mv_size = seqkey(lk, e.origin, e.seq);
			rc = mdb_get(t, st->log, &lv, &dv);
			if (rc == 0) {
				if (e.hlc > rc_->hw)
					rc_->hw = e.hlc;
				entry_release(&e);
				rc_->stats->duplicates++;
				return 0;
			}
			if (rc != MDB_NOTFOUND) {
				entry_release(&e);
				return mdb_err(st, rc, "get log");
			}
		}
		why[0] = '\0';
		/* A signature that does not verify under the origin's known key
		 * is refused like any bad entry: failing the whole batch would
		 * block every later sync (central checks one signature per
		 * batch, so its log may hold such entries; docs/SECURITY.md). */
		if (r->refused && !central) {
			snprintf(rc_->err, rc_->errsz, "record %llu from %s is "
			    "marked refused", (unsigned long long)r->pos,
			    rc_->peer);
			entry_release(&e);
			return E_PROTO;
		}
		/* Resent by its origin after central's restore, though central
		 * had refused it: refused again, whatever the case looks like
		 * now, since the origin took it out of its copy. */
		if (r->refused)
			snprintf(why, sizeof(why), "refused before central's "
			    "restore");
		else if (sig == 0)
			snprintf(why, sizeof(why), "its signature does not "
			    "verify with the key of %s", e.origin);
		else if (sig == 2 || krev != 0)
			revoked_why(st, t, &e, why, sizeof(why));
		/* Only central bounds stamps by its clock.  A province takes
		 * its feed as central accepted it: refusing an entry there
		 * drops it for good (the feed cursor moves on) when only the
		 * province's clock is behind (docs/RELIABILITY.md, bug 1). */
		else if (central && !erase_only(&e) &&
		    !hlc_check_skew(e.hlc, w, st->skew_ms))
			snprintf(why, sizeof(why), "stamped %llu ms in the "
			    "future, beyond the %llu ms skew bound",
			    (unsigned long long)(HLC_MS(e.hlc) - w),
			    (unsigned long long)st->skew_ms);
		else if (central && !stamps_within_skew(&e, w, st->skew_ms))
			snprintf(why, sizeof(why), "a base or also[] stamp is "
			    "beyond the %llu ms skew bound",
			    (unsigned long long)st->skew_ms);
		else if (check_ops(&e, why, sizeof(why)) != 0)
			;
		else if (central && (rc = authorise(st, t, &e, rc_->hw, why,
		    sizeof(why))) != 0 && rc != E_AUTH) {
			entry_release(&e);
			return rc;
		}
		if (central && e.hlc > rc_->hw)
			rc_->hw = e.hlc;
		if (why[0] != '\0') {
			rc = refuse(st, t, &e, why, r);
			entry_release(&e);
			if (rc != 0)
				return rc;
			rc_->stats->refused++;
			rc_->stats->bytes += r->len;
			pi_->refused++;
			return 0;
		}
		if (strcmp(e.origin, st->node) == 0) {
			/* Our own entry echoed back: we hold it. */
			rc_->stats->duplicates++;
			entry_release(&e);
			return 0;
		}
		/* Within the skew bound only: an accepted erase may be stamped
		 * hours ahead (erase_only), and must not drag this node's
		 * clock, and so its own later entries, along. */
		nrefer = 0;
		for (size_t k = 0; k < e.nops; k++)
			nrefer += e.ops[k].type == OP_TRANSFER &&
			    strcmp(e.ops[k].to, e.origin) != 0 &&
			    strcmp(e.ops[k].to, st->node) != 0;
		nrefer += offer_count_made(&e);
		rc = apply_entry(st, t, &e, block, r, &how, central ? why :
		    NULL, sizeof(why));
		if (rc == 0 && (how & APPLY_OVER_LIMIT)) {
			/* Central keeps every case within the soft limits,
			 * so that no province's copy can reach a hard one
			 * (merge.h). */
			rc = refuse(st, t, &e, why, r);
			entry_release(&e);
			if (rc != 0)
				return rc;
			rc_->stats->refused++;
			rc_->stats->bytes += r->len;
			pi_->refused++;
			return 0;
		}
		if (rc == 0)
			hlc_update(cl, e.hlc, w);
		if (rc == 0 && !central) {
			uint64_t ov;
			if ((rc = get_u64(st, t, st->vv, e.origin, &ov)) == 0 &&
			    e.seq > ov)
				rc = put_u64(st, t, st->vv, e.origin, e.seq);
		}
		entry_release(&e);
		if (rc != 0)
			return rc;
		if (how & APPLY_HELD) {
			rc_->stats->duplicates++;
		} else {
			rc_->stats->applied++;
			rc_->stats->bytes += r->len;
			if (how & APPLY_NEW_CASE)
				rc_->stats->new_cases++;
			rc_->stats->referrals += nrefer;
		}
		if (how & APPLY_MOVED_AWAY)
			rc_->stats->moved_away++;
	}
	return 0;
}

/*
 * An empty batch (a nightly sync's feed usually is) changes nothing: its
 * position is read, without a write transaction and the fsync of its
 * commit, which cost a province a few milliseconds on every sync.
 */
static int
remote_empty(struct store *st, const char *peer, struct apply_stats *stats)
{
	struct peer_info	 pi;
	MDB_txn			*t;
	int			 rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if (is_central(st)) {
		rc = get_u64(st, t, st->vv, peer, &stats->last_pos);
	} else {
		rc = peer_read(st, t, peer, &pi);
		if (rc == 0 || rc == E_NOTFOUND) {
			stats->last_pos = pi.feed_recv;
			rc = 0;
		}
	}
	mdb_txn_abort(t);
	return rc;
}

int
store_apply_remote(struct store *st, const char *peer, const struct rec *recs,
    size_t n, struct apply_stats *stats, char *err, size_t errsz)
{
	struct remote_ctx	ctx;
	int			rc;

	err[0] = '\0';
	if (n == 0)
		return remote_empty(st, peer, stats);
	memset(&ctx, 0, sizeof(ctx));
	ctx.peer = peer;
	ctx.recs = recs;
	ctx.n = n;
	ctx.stats = stats;
	ctx.err = err;
	ctx.errsz = errsz;
	rc = txn_run(st, remote_fn, &ctx);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
	return rc;
}

int
store_peer_get(struct store *st, const char *peer, struct peer_info *pi)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = peer_read(st, t, peer, pi);
	mdb_txn_abort(t);
	return rc;
}

static int
peer_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	return peer_write(st, t, arg);
}

int
store_peer_put(struct store *st, const struct peer_info *pi)
{
	return txn_run(st, peer_put_fn, (void *)(uintptr_t)pi);
}

int
store_peer_each(struct store *st,
    int (*fn)(const struct peer_info *, void *), void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->peers, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct peer_info	pi;
		char			name[HLC_NODE_MAX + 1];

		if (k.mv_size > HLC_NODE_MAX)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (peer_read(st, t, name, &pi) == 0)
			rc = fn(&pi, arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
store_feed_last(struct store *st, const char *peer, uint64_t *pos)
{
	char	 mk[HLC_NODE_MAX + 8];
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	snprintf(mk, sizeof(mk), "feed:%s", peer);
	rc = get_u64(st, t, st->meta, mk, pos);
	mdb_txn_abort(t);
	return rc;
}

int
store_refused_each(struct store *st,
    int (*fn)(const char *, uint64_t, const char *, void *), void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->refused, &c),
	    "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		char		 origin[HLC_NODE_MAX + 1], why[256];
		const uint8_t	*kp = k.mv_data, *z;
		const char	*dp = d.mv_data;
		size_t		 on, wn;
		uint64_t	 seq = 0;

		/* origin \0 be64(seq) -> reason \0 record */
		z = memchr(kp, 0, k.mv_size);
		if (z == NULL || (size_t)(z - kp) > HLC_NODE_MAX ||
		    k.mv_size != (size_t)(z - kp) + 9)
			continue;
		on = (size_t)(z - kp);
		memcpy(origin, kp, on);
		origin[on] = '\0';
		for (int i = 0; i < 8; i++)
			seq = seq << 8 | z[1 + i];
		wn = strnlen(dp, d.mv_size);
		if (wn >= sizeof(why))
			wn = sizeof(why) - 1;
		memcpy(why, dp, wn);
		why[wn] = '\0';
		if ((rc = fn(origin, seq, why, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
store_vv_get(struct store *st, const char *origin, uint64_t *seq)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64(st, t, st->vv, origin, seq);
	mdb_txn_abort(t);
	return rc;
}

int
store_vv_each(struct store *st, int (*fn)(const char *, uint64_t, void *),
    void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->vv, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		char name[HLC_NODE_MAX + 1];

		if (k.mv_size > HLC_NODE_MAX || d.mv_size != 8)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		rc = fn(name, be64_get(d.mv_data), arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

/* ---- Keys and at-rest secrets ------------------------------------------- */

#define KEYCHECK	"casesync-keycheck-v1"

struct key_disk {
	uint32_t	version;
	uint32_t	status;
	uint64_t	since_ms;
	uint8_t		sign_pub[CRYPTO_SIGN_PUB];
	uint8_t		curve_pub[CRYPTO_SIGN_PUB];
};

static int
keycheck_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val		k = { 8, (void *)(uintptr_t)"keycheck" }, d;
	struct buf	b;
	int		rc;

	(void)arg;
	buf_init(&b, 256);
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0) {
		rc = crypto_open(st->datakey, NULL, 0, d.mv_data, d.mv_size,
		    &b);
		if (rc == 0 && (b.len != strlen(KEYCHECK) ||
		    memcmp(b.data, KEYCHECK, b.len) != 0))
			rc = E_AUTH;
		buf_release(&b);
		return rc ? E_AUTH : 0;
	}
	if (rc != MDB_NOTFOUND) {
		buf_release(&b);
		return mdb_err(st, rc, "keycheck");
	}
	if ((rc = crypto_seal(st->datakey, NULL, 0, KEYCHECK,
	    strlen(KEYCHECK), &b)) == 0) {
		d.mv_data = b.data;
		d.mv_size = b.len;
		rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "keycheck");
	}
	buf_release(&b);
	return rc;
}

/* 2: the conflicted set as well. */
#define NAMEIDX_VERSION	"2"

/* Builds the name index of a store written before it existed (or by a
 * different index version): every case, its name opened once. */
static int
names_build_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val		 k = { 7, (void *)(uintptr_t)"nameidx" }, d;
	MDB_cursor	*c;
	char		 id[ENTRY_CASE_ID_LEN + 1];
	int		 rc;

	(void)arg;
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0 && d.mv_size == strlen(NAMEIDX_VERSION) &&
	    memcmp(d.mv_data, NAMEIDX_VERSION, d.mv_size) == 0)
		return 0;
	if ((rc = mdb_err(st, mdb_drop(t, st->names, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->namecase, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->conflicted, 0), "drop conf")))
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->cases, &c), "cursor")))
		return rc;
	rc = 0;
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (k.mv_size != ENTRY_CASE_ID_LEN)
			continue;
		memcpy(id, k.mv_data, ENTRY_CASE_ID_LEN);
		id[ENTRY_CASE_ID_LEN] = '\0';
		if (case_load(st, t, id, &s) != 0)
			continue;	/* verify reports it */
		rc = names_update(st, t, id, &s);
		if (rc == 0)
			rc = conflicted_update(st, t, id, &s);
		state_release(&s);
	}
	mdb_cursor_close(c);
	if (rc != 0)
		return rc;
	k.mv_data = (void *)(uintptr_t)"nameidx";
	k.mv_size = 7;
	d.mv_data = (void *)(uintptr_t)NAMEIDX_VERSION;
	d.mv_size = strlen(NAMEIDX_VERSION);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put nameidx");
}

int
store_conflicted_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->conflicted, &c),
	    "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state	s;
		MDB_val			cd;

		if (mdb_get(t, st->cases, &k, &cd) != 0)
			continue;
		if (state_decode(cd.mv_data, cd.mv_size, &s) != 0) {
			rc = E_INTEGRITY;
			break;
		}
		rc = fn(&s, arg);
		state_release(&s);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
store_name_search(struct store *st, const char *query, size_t max,
    int (*fn)(const char *, void *), void *arg)
{
	char		 words[6][NAMEIDX_WORD_MAX + 1];
	char		(*ids)[ENTRY_CASE_ID_LEN + 1] = NULL;
	uint8_t		 macs[6][NAMEIDX_MAC];
	uint8_t		 key[NAMEIDX_MAC + ENTRY_CASE_ID_LEN];
	size_t		 nw, nids = 0, cap = 0;
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if (!st->have_keys)
		return E_AUTH;
	nw = nameidx_words(query, words, 6);
	if (nw == 0)
		return E_INVAL;
	for (size_t i = 0; i < nw; i++) {
		/* Longer prefixes are not indexed: search by the longest. */
		size_t l = strlen(words[i]);

		if (l > NAMEIDX_PREFIX_MAX) {
			l = NAMEIDX_PREFIX_MAX;
			while (l > 0 && ((unsigned char)words[i][l] & 0xc0) ==
			    0x80)
				l--;
			words[i][l] = '\0';
		}
		nameidx_word_mac(st->namekey, words[i], macs[i]);
	}
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->names, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	/* The cases of the first word, then each checked for the others. */
	k.mv_data = macs[0];
	k.mv_size = NAMEIDX_MAC;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == NAMEIDX_MAC + ENTRY_CASE_ID_LEN &&
	    memcmp(k.mv_data, macs[0], NAMEIDX_MAC) == 0 && nids < max) {
		const char	*id = (const char *)k.mv_data + NAMEIDX_MAC;
		size_t		 i;

		for (i = 1; i < nw; i++) {
			MDB_val ok = { sizeof(key), key }, od;

			memcpy(key, macs[i], NAMEIDX_MAC);
			memcpy(key + NAMEIDX_MAC, id, ENTRY_CASE_ID_LEN);
			if (mdb_get(t, st->names, &ok, &od) != 0)
				break;
		}
		if (i == nw) {
			if (nids == cap) {
				cap = cap ? cap * 2 : 64;
				ids = xreallocarray(ids, cap, sizeof(*ids));
			}
			memcpy(ids[nids], id, ENTRY_CASE_ID_LEN);
			ids[nids][ENTRY_CASE_ID_LEN] = '\0';
			nids++;
		}
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	rc = 0;
	for (size_t i = 0; i < nids && rc == 0; i++)
		rc = fn(ids[i], arg);
	free(ids);
	return rc < 0 ? 0 : rc;
}

int
store_set_keys(struct store *st, const uint8_t sign_sec[CRYPTO_SIGN_SEC],
    const uint8_t sign_pub[CRYPTO_SIGN_PUB],
    const uint8_t datakey[CRYPTO_KEY])
{
	int rc;

	memcpy(st->sign_sec, sign_sec, CRYPTO_SIGN_SEC);
	memcpy(st->sign_pub, sign_pub, CRYPTO_SIGN_PUB);
	memcpy(st->datakey, datakey, CRYPTO_KEY);
	if ((rc = crypto_hmac(datakey, CRYPTO_KEY, AUTHOR_KEY_TAG,
	    sizeof(AUTHOR_KEY_TAG) - 1, st->authorkey)) != 0)
		return rc;
	st->have_keys = 1;
	if ((rc = txn_run(st, keycheck_fn, NULL)) != 0) {
		st->have_keys = 0;
		crypto_wipe(st->datakey, sizeof(st->datakey));
		crypto_wipe(st->authorkey, sizeof(st->authorkey));
		crypto_wipe(st->sign_sec, sizeof(st->sign_sec));
		return rc;
	}
	if ((rc = crypto_hmac(st->datakey, CRYPTO_KEY,
	    "casesync name index v1", 22, st->namekey)) != 0)
		return rc;
	return txn_run(st, names_build_fn, NULL);
}

static int
key_read(struct store *st, MDB_txn *t, const char *node, struct node_key *nk)
{
	MDB_val		k = { strlen(node), (void *)(uintptr_t)node }, d;
	struct key_disk	kd;
	int		rc;

	memset(nk, 0, sizeof(*nk));
	strlcpy_(nk->node, node, sizeof(nk->node));
	if ((rc = mdb_get(t, st->keys, &k, &d)) != 0)
		return mdb_err(st, rc, "get key");
	if (d.mv_size != sizeof(kd))
		return E_INTEGRITY;
	memcpy(&kd, d.mv_data, sizeof(kd));
	if (kd.version != 1 || kd.status < KEY_ACTIVE || kd.status >
	    KEY_KNOWN)
		return E_INTEGRITY;
	nk->status = (int)kd.status;
	nk->since_ms = kd.since_ms;
	memcpy(nk->sign_pub, kd.sign_pub, sizeof(nk->sign_pub));
	memcpy(nk->curve_pub, kd.curve_pub, sizeof(nk->curve_pub));
	return 0;
}

static int
key_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	const struct node_key	*nk = arg;
	struct key_disk		 kd;
	MDB_val			 k, d;

	memset(&kd, 0, sizeof(kd));
	kd.version = 1;
	kd.status = (uint32_t)nk->status;
	kd.since_ms = nk->since_ms;
	memcpy(kd.sign_pub, nk->sign_pub, sizeof(kd.sign_pub));
	memcpy(kd.curve_pub, nk->curve_pub, sizeof(kd.curve_pub));
	k.mv_data = (void *)(uintptr_t)nk->node;
	k.mv_size = strlen(nk->node);
	d.mv_data = &kd;
	d.mv_size = sizeof(kd);
	return mdb_err(st, mdb_put(t, st->keys, &k, &d, 0), "put key");
}

int
store_key_put(struct store *st, const struct node_key *nk)
{
	return txn_run(st, key_put_fn, (void *)(uintptr_t)nk);
}

int
store_key_get(struct store *st, const char *node, struct node_key *nk)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = key_read(st, t, node, nk);
	mdb_txn_abort(t);
	return rc;
}

int
store_key_each(struct store *st, int (*fn)(const struct node_key *, void *),
    void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->keys, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct node_key	nk;
		char		name[HLC_NODE_MAX + 1];

		if (k.mv_size == 0 || k.mv_size > HLC_NODE_MAX)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (key_read(st, t, name, &nk) == 0)
			rc = fn(&nk, arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
store_case_get_sealed(struct store *st, const char *id, struct case_state *s)
{
	MDB_txn	*t;
	int	 rc;

	if (strlen(id) != ENTRY_CASE_ID_LEN)
		return E_NOTFOUND;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = case_load_raw(st, t, id, s);
	mdb_txn_abort(t);
	return rc;
}

int
store_case_open(struct store *st, struct case_state *s)
{
	return state_crypt(st, NULL, s, 0);
}

/* ---- Backup, restore and recovery (docs/PROTOCOL.md, "Recovery") ------ */

int
store_backup(struct store *st, const char *outdir, char *err, size_t errsz)
{
	int rc = mdb_env_copy2(st->env, outdir, MDB_CP_COMPACT);

	if (rc != 0) {
		snprintf(err, errsz, "%s: cannot copy the store: %s", outdir,
		    rc == ENOSPC ? "disk full" : mdb_strerror(rc));
		return rc == ENOSPC ? E_FULL : E_IO;
	}
	return 0;
}

/* Reads a u64 meta value; *present says whether the key exists. */
static int
get_u64_present(struct store *st, MDB_txn *t, const char *key, uint64_t *v,
    int *present)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, st->meta, &k, &d);

	*v = 0;
	*present = rc == 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get");
	if (d.mv_size != 8)
		return E_INTEGRITY;
	*v = be64_get(d.mv_data);
	return 0;
}

struct restored_ctx {
	uint64_t	now_s;
	uint64_t	inc, seq;
};

static int
restored_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct restored_ctx	*r = arg;
	uint64_t		 seq, old, from, inc;
	int			 have_from, rc;
	MDB_cursor		*c;
	MDB_val			 k, d;

	if ((rc = get_u64(st, t, st->meta, "seq", &seq)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "inc", &old)) != 0 ||
	    (rc = get_u64_present(st, t, "recover_from", &from,
	    &have_from)) != 0)
		return rc;
	/* Like Cassandra's generation number: the time of the start, so a
	 * second restore of the same backup gets another incarnation; and
	 * always above any incarnation this store knows of. */
	inc = r->now_s > POS_EPOCH_S ? r->now_s - POS_EPOCH_S : 1;
	if (inc <= POS_INC(seq))
		inc = POS_INC(seq) + 1;
	if (inc <= old)
		inc = old + 1;
	if (inc > 0xffffffffULL)
		return E_INVAL;
	r->inc = inc;
	r->seq = seq;
	/* What may be lost is after the backup's last own entry; a backup
	 * taken before an earlier recovery finished keeps that older mark. */
	if (!have_from || seq < from)
		from = seq;
	if ((rc = put_u64(st, t, st->meta, "seq", POS_MAKE(inc, seq))) != 0 ||
	    (rc = put_u64(st, t, st->meta, "inc", inc)) != 0 ||
	    (rc = put_u64(st, t, st->meta, "recover_from", from)) != 0)
		return rc;
	if (!is_central(st))
		return 0;
	/* Central: feed positions too start a new incarnation, so a position
	 * a province acknowledged before the loss is never handed out again
	 * for another entry. */
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->meta, &c), "cursor")))
		return rc;
	k.mv_data = (void *)(uintptr_t)"feed:";
	k.mv_size = 5;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		uint8_t b[8];
		MDB_val nd = { 8, b };

		if (k.mv_size < 5 || memcmp(k.mv_data, "feed:", 5) != 0)
			break;
		be64_put(b, POS_MAKE(inc, 0));
		if ((rc = mdb_cursor_put(c, &k, &nd, MDB_CURRENT)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "restore feeds");
}

int
store_restored(struct store *st, uint64_t now_s, uint64_t *inc,
    uint64_t *seq_backup)
{
	struct restored_ctx	r = { now_s, 0, 0 };
	int			rc;

	if (st->node[0] == '\0')
		return E_NOTFOUND;
	if ((rc = txn_run(st, restored_fn, &r)) != 0)
		return rc;
	*inc = r.inc;
	*seq_backup = r.seq;
	return 0;
}

int
store_recovery(struct store *st, struct store_recovery *rv)
{
	MDB_txn	*t;
	int	 rc;

	memset(rv, 0, sizeof(*rv));
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = get_u64(st, t, st->meta, "inc", &rv->inc)) == 0)
		rc = get_u64_present(st, t, "recover_from", &rv->recover_from,
		    &rv->pending);
	mdb_txn_abort(t);
	return rc;
}

static int
recovery_done_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val	k = { 12, (void *)(uintptr_t)"recover_from" };
	int	rc = mdb_del(t, st->meta, &k, NULL);

	(void)arg;
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del");
}

int
store_recovery_done(struct store *st)
{
	return txn_run(st, recovery_done_fn, NULL);
}

struct u64_ctx {
	const char	*key;
	uint64_t	 v;
};

static int
u64_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct u64_ctx *u = arg;

	return put_u64(st, t, st->meta, u->key, u->v);
}

int
store_returned_get(struct store *st, const char *peer, uint64_t *inc)
{
	char	 mk[HLC_NODE_MAX + 16];
	MDB_txn	*t;
	int	 rc;

	snprintf(mk, sizeof(mk), "returned:%s", peer);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64(st, t, st->meta, mk, inc);
	mdb_txn_abort(t);
	return rc;
}

int
store_returned_put(struct store *st, const char *peer, uint64_t inc)
{
	char		mk[HLC_NODE_MAX + 16];
	struct u64_ctx	u = { mk, inc };

	snprintf(mk, sizeof(mk), "returned:%s", peer);
	return txn_run(st, u64_put_fn, &u);
}

/*
 * The record of (origin, seq) as it is held: from the log, or, for an
 * entry of this node that central refused, from the refused table (central
 * counted its position all the same).  E_NOTFOUND when neither has it.
 */
static int
held_record(struct store *st, MDB_txn *t, const char *origin, uint64_t seq,
    struct buf *plain)
{
	uint8_t	lk[LOGKEY_MAX];
	MDB_val	k, d;
	int	rc;

	k.mv_data = lk;
	k.mv_size = seqkey(lk, origin, seq);
	if ((rc = mdb_get(t, st->log, &k, &d)) == MDB_NOTFOUND &&
	    (rc = mdb_get(t, st->refused, &k, &d)) == 0) {
		const uint8_t *z = memchr(d.mv_data, 0, d.mv_size);

		if (z == NULL)
			return E_INTEGRITY;
		d.mv_size -= (size_t)(z + 1 - (const uint8_t *)d.mv_data);
		d.mv_data = (void *)(uintptr_t)(z + 1);
	}
	if (rc == MDB_NOTFOUND)
		return E_NOTFOUND;
	if (rc != 0)
		return mdb_err(st, rc, "get log");
	return log_unseal(st, lk, k.mv_size, &d, plain);
}

/* The chain hash after (origin, seq): zeros at 0. */
static int
chain_at(struct store *st, MDB_txn *t, const char *origin, uint64_t seq,
    uint8_t h[CRYPTO_HASH])
{
	struct buf	plain;
	struct entry	e;
	uint8_t		block[SIGN_BLOCK];
	int		signed_, rc;

	memset(h, 0, CRYPTO_HASH);
	if (POS_LOW(seq) == 0)
		return seq == 0 ? 0 : E_NOTFOUND;
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	rc = held_record(st, t, origin, seq, &plain);
	if (rc == 0 && record_split(plain.data, plain.len, &e, block,
	    &signed_) != 0)
		rc = E_INTEGRITY;
	if (rc == 0) {
		if (!signed_ || e.seq != seq)
			rc = E_INTEGRITY;
		else if (sign_chain(&e, block + CRYPTO_SIG, h) != 0)
			rc = E_INTEGRITY;
		entry_release(&e);
	}
	buf_release(&plain);
	return rc;
}

int
store_chain_at(struct store *st, const char *origin, uint64_t seq,
    uint8_t h[CRYPTO_HASH])
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = chain_at(st, t, origin, seq, h);
	mdb_txn_abort(t);
	return rc;
}

/*
 * Central: does the first entry of a new incarnation of origin, at pos with
 * chain link prev, fork from an entry this node holds?  It continues the
 * counter of the entry it forks from, so that entry is (i, low(pos) - 1)
 * for some earlier incarnation i: the one whose chain hash is prev.  The
 * candidates are the chain head and one entry per earlier incarnation held
 * (a few), so the search is bounded.
 */
#define FORK_SEARCH_MAX	64

static int
fork_links(struct store *st, MDB_txn *t, const char *origin, uint64_t pos,
    const uint8_t *prev, uint64_t head, const uint8_t *head_h)
{
	static const uint8_t	 zero[CRYPTO_HASH];
	uint64_t		 want = POS_LOW(pos) - 1;
	uint8_t			 sk[LOGKEY_MAX], h[CRYPTO_HASH];
	size_t			 plen = strlen(origin);
	MDB_cursor		*c;
	MDB_val			 k, d;
	int			 ok = 0;

	if (POS_LOW(pos) == 0)
		return 0;
	if (want == 0)
		return crypto_memcmp(prev, zero, CRYPTO_HASH) == 0;
	if (POS_LOW(head) == want && crypto_memcmp(prev, head_h,
	    CRYPTO_HASH) == 0)
		return 1;
	if (mdb_cursor_open(t, st->log, &c) != 0)
		return 0;
	k.mv_data = sk;
	k.mv_size = seqkey(sk, origin, POS_MAKE(POS_INC(pos), 0));
	for (int n = 0; n < FORK_SEARCH_MAX && !ok; n++) {
		uint64_t	i;
		int		rc;

		/* The last key of origin below the one in sk. */
		rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
		rc = rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &d, MDB_LAST) :
		    rc == 0 ? mdb_cursor_get(c, &k, &d, MDB_PREV) : rc;
		if (rc != 0 || k.mv_size != plen + 9 ||
		    memcmp(k.mv_data, origin, plen) != 0 ||
		    ((const uint8_t *)k.mv_data)[plen] != 0)
			break;
		i = POS_INC(be64_get((const uint8_t *)k.mv_data + plen + 1));
		if (chain_at(st, t, origin, POS_MAKE(i, want), h) == 0 &&
		    crypto_memcmp(h, prev, CRYPTO_HASH) == 0)
			ok = 1;
		if (i == 0)
			break;
		k.mv_data = sk;
		k.mv_size = seqkey(sk, origin, POS_MAKE(i, 0));
	}
	mdb_cursor_close(c);
	return ok;
}

/*
 * Scans the entries of origin with seq > after, in seq order, whatever
 * their incarnation (pos = seq).  For this node's own origin, entries
 * central refused (moved to the refused table) are included in their
 * place: central counted their positions, and a central restored from a
 * backup needs them again to count them.
 */
int
store_scan_origin(struct store *st, const char *origin, uint64_t after,
    size_t max_bytes, struct rec_batch *b)
{
	MDB_txn		*t;
	MDB_cursor	*cl = NULL, *cr = NULL;
	uint8_t		 lk[LOGKEY_MAX];
	size_t		 plen = strlen(origin);
	MDB_val		 kl, dl, kr, dr;
	struct buf	 plain;
	int		 rc, hl, hr;
	/* Refused entries count as positions: ours (a province resending to a
	 * restored central), and a province's on central (a restored
	 * province recovering its own). */
	int		 own = strcmp(origin, st->node) == 0 || is_central(st);

	memset(b, 0, sizeof(*b));
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->log, &cl), "cursor")) ||
	    (own && (rc = mdb_err(st, mdb_cursor_open(t, st->refused, &cr),
	    "cursor")))) {
		if (cl)
			mdb_cursor_close(cl);
		mdb_txn_abort(t);
		buf_release(&plain);
		return rc;
	}
#define OF_ORIGIN(kk) ((kk).mv_size == plen + 9 && \
	memcmp((kk).mv_data, origin, plen) == 0 && \
	((const uint8_t *)(kk).mv_data)[plen] == 0)
	kl.mv_data = kr.mv_data = lk;
	kl.mv_size = kr.mv_size = seqkey(lk, origin, after + 1);
	hl = mdb_cursor_get(cl, &kl, &dl, MDB_SET_RANGE) == 0 &&
	    OF_ORIGIN(kl);
	hr = own && mdb_cursor_get(cr, &kr, &dr, MDB_SET_RANGE) == 0 &&
	    OF_ORIGIN(kr);
	rc = 0;
	while (hl || hr) {
		int		from_log = hl && (!hr || memcmp(kl.mv_data,
				    kr.mv_data, kl.mv_size) < 0);
		MDB_val		k = from_log ? kl : kr, d = from_log ? dl : dr;

		if (!from_log) {
			const uint8_t *z = memchr(d.mv_data, 0, d.mv_size);

			if (z == NULL) {
				rc = E_INTEGRITY;
				break;
			}
			d.mv_size -= (size_t)(z + 1 - (const uint8_t *)d.mv_data);
			d.mv_data = (void *)(uintptr_t)(z + 1);
		}
		if (b->n >= STORE_BATCH_MAX || (b->n > 0 &&
		    b->bytes + d.mv_size > max_bytes)) {
			b->more = 1;
			break;
		}
		if ((rc = log_unseal(st, k.mv_data, k.mv_size, &d,
		    &plain)) != 0)
			break;
		batch_add(b, be64_get((const uint8_t *)k.mv_data + plen + 1),
		    plain.data, plain.len);
		b->recs[b->n - 1].refused = !from_log;
		if (from_log)
			hl = mdb_cursor_get(cl, &kl, &dl, MDB_NEXT) == 0 &&
			    OF_ORIGIN(kl);
		else
			hr = mdb_cursor_get(cr, &kr, &dr, MDB_NEXT) == 0 &&
			    OF_ORIGIN(kr);
	}
#undef OF_ORIGIN
	mdb_cursor_close(cl);
	if (cr)
		mdb_cursor_close(cr);
	mdb_txn_abort(t);
	buf_release(&plain);
	if (rc != 0)
		rec_batch_free(b);
	return rc;
}

struct own_ctx {
	const char		*peer;
	const struct rec	*recs;
	size_t			 n;
	struct apply_stats	*stats;
	char			*err;
	size_t			 errsz;
};

static int
own_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct own_ctx	*oc = arg;
	struct hlc	 clock;
	uint64_t	 inc, last, w = wall(st);
	uint8_t		 block[SIGN_BLOCK];
	int		 rc, signed_;

	memset(oc->stats, 0, sizeof(*oc->stats));
	if ((rc = get_u64(st, t, st->meta, "inc", &inc)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "hlc", &last)) != 0)
		return rc;
	hlc_init(&clock, last, st->skew_ms);
	for (size_t i = 0; i < oc->n && rc == 0; i++) {
		const struct rec	*r = &oc->recs[i];
		struct entry		 e;
		struct buf		 plain;
		int			 how;

		if (record_split(r->data, r->len, &e, block, &signed_) != 0) {
			snprintf(oc->err, oc->errsz, "record %llu from %s does "
			    "not decode", (unsigned long long)r->pos, oc->peer);
			return E_PROTO;
		}
		if (strcmp(e.origin, st->node) != 0 || e.seq != r->pos) {
			snprintf(oc->err, oc->errsz, "record %llu from %s is "
			    "%s/%llu, not one of ours", (unsigned long long)
			    r->pos, oc->peer, e.origin,
			    (unsigned long long)e.seq);
			entry_release(&e);
			return E_PROTO;
		}
		if (!signed_ || sig_status(st, t, &e, block, 1) != 1) {
			snprintf(oc->err, oc->errsz, "entry %s/%llu from %s: "
			    "its signature does not verify with our key",
			    e.origin, (unsigned long long)e.seq, oc->peer);
			entry_release(&e);
			return E_AUTH;
		}
		if (r->refused) {
			/* Central refused it: keep it out, as its notice would
			 * (unrecord_own).  Central's own are never refused. */
			if (is_central(st)) {
				entry_release(&e);
				return E_PROTO;
			}
			rc = unrecord_own(st, t, &e, r);
			entry_release(&e);
			if (rc != 0)
				return rc;
			oc->stats->duplicates++;
			continue;
		}
		if (POS_INC(e.seq) >= inc) {
			/* Our current incarnation: only this disk wrote it,
			 * so we must hold it already. */
			buf_init(&plain, ENTRY_ENCODED_MAX + 256);
			rc = held_record(st, t, e.origin, e.seq, &plain);
			buf_release(&plain);
			entry_release(&e);
			if (rc == E_NOTFOUND) {
				snprintf(oc->err, oc->errsz, "%s holds entry "
				    "%s/%llu of this node's current "
				    "incarnation, which this node does not "
				    "have", oc->peer, st->node,
				    (unsigned long long)r->pos);
				return E_INTEGRITY;
			}
			if (rc != 0)
				return rc;
			oc->stats->duplicates++;
			continue;
		}
		{
			uint8_t	h1[CRYPTO_HASH], h2[CRYPTO_HASH];

			/* Held already, in the log or, refused by central and
			 * told so, in the refused table (unrecord_own): the
			 * same entry, or this node reused the position. */
			rc = chain_at(st, t, e.origin, e.seq, h1);
			if (rc == 0 && (sign_chain(&e, block + CRYPTO_SIG,
			    h2) != 0 || crypto_memcmp(h1, h2,
			    CRYPTO_HASH) != 0)) {
				snprintf(oc->err, oc->errsz, "%s holds another "
				    "entry %s/%llu than this node: it was put "
				    "back from a copy of its files; put it back "
				    "with `casesync restore`", oc->peer,
				    e.origin, (unsigned long long)e.seq);
				entry_release(&e);
				return E_INTEGRITY;
			}
			if (rc == 0) {
				entry_release(&e);
				oc->stats->duplicates++;
				continue;
			}
			if (rc != E_NOTFOUND) {
				entry_release(&e);
				return rc;
			}
		}
		hlc_update(&clock, e.hlc, w);
		rc = apply_entry(st, t, &e, block, r, &how, NULL, 0);
		entry_release(&e);
		if (rc != 0)
			return rc;
		if (how & APPLY_HELD)
			oc->stats->duplicates++;
		else
			oc->stats->applied++;
		oc->stats->last_pos = r->pos;
	}
	return put_u64(st, t, st->meta, "hlc", clock.last);
}

int
store_apply_own(struct store *st, const char *peer, const struct rec *recs,
    size_t n, struct apply_stats *stats, char *err, size_t errsz)
{
	struct own_ctx	oc = { peer, recs, n, stats, err, errsz };
	int		rc;

	err[0] = '\0';
	memset(stats, 0, sizeof(*stats));
	if (n == 0)
		return 0;
	rc = txn_run(st, own_fn, &oc);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
	return rc;
}

int
store_feed_ref(struct store *st, const char *peer, uint64_t pos,
    uint8_t *ref, size_t *reflen)
{
	uint8_t	 fk[LOGKEY_MAX];
	MDB_txn	*t;
	MDB_val	 k, d;
	int	 rc;

	*reflen = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, pos);
	rc = mdb_get(t, st->feed, &k, &d);
	if (rc == 0 && d.mv_size <= STORE_REF_MAX) {
		memcpy(ref, d.mv_data, d.mv_size);
		*reflen = d.mv_size;
	} else if (rc == 0) {
		rc = E_INTEGRITY;
	} else {
		rc = rc == MDB_NOTFOUND ? E_NOTFOUND : mdb_err(st, rc, "feed");
	}
	mdb_txn_abort(t);
	return rc;
}

int
store_fref_get(struct store *st, const char *peer, uint64_t *pos,
    uint8_t *ref, size_t *reflen)
{
	struct peer_info	 pi;
	char			 mk[HLC_NODE_MAX + 8];
	MDB_txn			*t;
	MDB_val			 k, d;
	int			 rc;

	*reflen = 0;
	*pos = 0;
	snprintf(mk, sizeof(mk), "fref:%s", peer);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	/* The position and its entry from one snapshot: another session of
	 * this node may be moving both. */
	rc = peer_read(st, t, peer, &pi);
	if (rc != 0 && rc != E_NOTFOUND) {
		mdb_txn_abort(t);
		return rc;
	}
	*pos = pi.feed_recv;
	k.mv_data = mk;
	k.mv_size = strlen(mk);
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0 && d.mv_size <= STORE_REF_MAX) {
		memcpy(ref, d.mv_data, d.mv_size);
		*reflen = d.mv_size;
	}
	mdb_txn_abort(t);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "fref");
}

int
store_chain_head(struct store *st, const char *origin,
    uint8_t h[CRYPTO_HASH])
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = chain_get(st, t, origin, h);
	mdb_txn_abort(t);
	return rc;
}

int
store_log_counts(struct store *st, int (*fn)(const char *, uint64_t, void *),
    void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	char		 cur[HLC_NODE_MAX + 1] = "";
	uint64_t	 n = 0;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->log, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		size_t l = k.mv_size > 9 ? k.mv_size - 9 : 0;

		if (l == 0 || l > HLC_NODE_MAX)
			continue;
		if (strlen(cur) != l || memcmp(cur, k.mv_data, l) != 0) {
			if (n > 0)
				rc = fn(cur, n, arg);
			memcpy(cur, k.mv_data, l);
			cur[l] = '\0';
			n = 0;
		}
		n++;
	}
	if (rc == 0 && n > 0)
		rc = fn(cur, n, arg);
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

/* ---- Entries of other origins given back to a restored central ---- */

int
store_vector(struct store *st, struct msg_vec **v, size_t *n)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	*v = NULL;
	*n = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->vv, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0 && *n < MSG_KEYS_MAX) {
		char	name[HLC_NODE_MAX + 1];

		if (k.mv_size == 0 || k.mv_size > HLC_NODE_MAX ||
		    d.mv_size != 8)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		/* Central's own entries come back by RETURN. */
		if (!node_id_valid(name) || strcmp(name, st->node) == 0)
			continue;
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		strlcpy_((*v)[*n].node, name, sizeof((*v)[*n].node));
		(*v)[*n].pos = be64_get(d.mv_data);
		(*n)++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return 0;
}

static int
fkey_cmp(const void *a, const void *b)
{
	const struct store_fkey *x = a, *y = b;
	int c;

	if (x->hlc != y->hlc)
		return x->hlc < y->hlc ? -1 : 1;
	if ((c = strcmp(x->origin, y->origin)) != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
store_foreign_after(struct store *st, const char *central,
    const struct msg_vec *v, size_t nv, struct store_fkey **keys, size_t *n)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	struct buf	 plain;
	int		 rc, op = MDB_FIRST;

	*keys = NULL;
	*n = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->log, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	while (rc == 0 && mdb_cursor_get(c, &k, &d, op) == 0) {
		char		 origin[HLC_NODE_MAX + 1];
		size_t		 l = k.mv_size > 9 ? k.mv_size - 9 : 0;
		uint64_t	 seq, after = 0;
		struct entry	 e;
		uint8_t		 block[SIGN_BLOCK];
		int		 signed_;

		op = MDB_NEXT;
		if (l == 0 || l > HLC_NODE_MAX)
			continue;
		memcpy(origin, k.mv_data, l);
		origin[l] = '\0';
		seq = be64_get((const uint8_t *)k.mv_data + l + 1);
		if (strcmp(origin, st->node) == 0 ||
		    strcmp(origin, central) == 0)
			continue;
		for (size_t i = 0; i < nv; i++)
			if (strcmp(v[i].node, origin) == 0)
				after = v[i].pos;
		if (seq <= after)
			continue;
		if ((rc = log_unseal(st, k.mv_data, k.mv_size, &d,
		    &plain)) != 0)
			break;
		if (record_split(plain.data, plain.len, &e, block,
		    &signed_) != 0)
			continue;	/* verify reports it */
		*keys = xreallocarray(*keys, *n + 1, sizeof(**keys));
		(*keys)[*n].hlc = e.hlc;
		(*keys)[*n].seq = seq;
		strlcpy_((*keys)[*n].origin, origin,
		    sizeof((*keys)[*n].origin));
		(*n)++;
		entry_release(&e);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	buf_release(&plain);
	if (rc != 0) {
		free(*keys);
		*keys = NULL;
		*n = 0;
		return rc;
	}
	/* Oldest stamp first: stamps follow causality (hlc.h), so central
	 * meets the transfers that made a node the owner of a case before
	 * that node's entries on it (authorise). */
	if (*n > 1)
		qsort(*keys, *n, sizeof(**keys), fkey_cmp);
	return 0;
}

int
store_read_keys(struct store *st, const struct store_fkey *keys, size_t n,
    size_t *at, size_t max_bytes, struct rec_batch *b)
{
	MDB_txn		*t;
	struct buf	 plain;
	int		 rc;

	memset(b, 0, sizeof(*b));
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	while (*at < n) {
		uint8_t	lk[LOGKEY_MAX];
		MDB_val	k, d;

		if (b->n >= STORE_BATCH_MAX || (b->n > 0 &&
		    b->bytes >= max_bytes)) {
			b->more = 1;
			break;
		}
		k.mv_data = lk;
		k.mv_size = seqkey(lk, keys[*at].origin, keys[*at].seq);
		rc = mdb_get(t, st->log, &k, &d);
		if (rc == 0)
			rc = log_unseal(st, lk, k.mv_size, &d, &plain);
		else
			rc = rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "get log");
		if (rc != 0)
			break;
		if (plain.len > 0)
			batch_add(b, keys[*at].seq, plain.data, plain.len);
		buf_reset(&plain);
		(*at)++;
	}
	mdb_txn_abort(t);
	buf_release(&plain);
	if (rc != 0)
		rec_batch_free(b);
	return rc;
}

/*
 * Central: entries of other provinces that a province gives back after
 * central's restore (GIVE).  Each is taken as if its origin had sent it,
 * except for its place in the origin's chain, which the origin's own
 * stream fills in later (the entry is then held: remote_one).  One that
 * central cannot judge now (its origin's key unknown, its owner not shown
 * by the transfers central holds) is skipped, never refused: its origin
 * still holds it and will send it, to be judged then.
 */
struct give_ctx {
	const char		*peer;
	const struct rec	*recs;
	size_t			 n;
	struct apply_stats	*stats;
	char			*err;
	size_t			 errsz;
};

static int
give_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct give_ctx	*gc = arg;
	struct hlc	 clock;
	uint64_t	 last, w = wall(st);
	uint8_t		 block[SIGN_BLOCK];
	int		 rc, signed_;

	memset(gc->stats, 0, sizeof(*gc->stats));
	if ((rc = get_u64(st, t, st->meta, "hlc", &last)) != 0)
		return rc;
	hlc_init(&clock, last, st->skew_ms);
	for (size_t i = 0; i < gc->n && rc == 0; i++) {
		const struct rec	*r = &gc->recs[i];
		struct entry		 e;
		char			 why[200], hwk[HLC_NODE_MAX + 8];
		uint8_t			 lk[LOGKEY_MAX];
		uint64_t		 hw;
		MDB_val			 k, d;
		int			 how;

		if (record_split(r->data, r->len, &e, block, &signed_) != 0) {
			snprintf(gc->err, gc->errsz, "record %llu from %s does "
			    "not decode", (unsigned long long)r->pos, gc->peer);
			return E_PROTO;
		}
		if (e.seq != r->pos || r->refused ||
		    strcmp(e.origin, gc->peer) == 0 ||
		    strcmp(e.origin, st->node) == 0) {
			snprintf(gc->err, gc->errsz, "record %llu from %s is "
			    "%s/%llu, not another province's entry",
			    (unsigned long long)r->pos, gc->peer, e.origin,
			    (unsigned long long)e.seq);
			entry_release(&e);
			return E_PROTO;
		}
		k.mv_data = lk;
		k.mv_size = seqkey(lk, e.origin, e.seq);
		if ((rc = mdb_get(t, st->log, &k, &d)) == MDB_NOTFOUND)
			rc = mdb_get(t, st->refused, &k, &d);
		if (rc == 0) {
			entry_release(&e);
			gc->stats->duplicates++;
			continue;
		}
		if (rc != MDB_NOTFOUND) {
			entry_release(&e);
			return mdb_err(st, rc, "get log");
		}
		snprintf(hwk, sizeof(hwk), "ohw:%s", e.origin);
		why[0] = '\0';
		if ((rc = get_u64(st, t, st->meta, hwk, &hw)) != 0) {
			entry_release(&e);
			return rc;
		}
		if (!signed_ || sig_status(st, t, &e, block, 1) != 1)
			snprintf(why, sizeof(why), "signature");
		else if (check_ops(&e, why, sizeof(why)) != 0)
			;
		else if ((rc = authorise(st, t, &e, hw, why,
		    sizeof(why))) != 0 && rc != E_AUTH) {
			entry_release(&e);
			return rc;
		}
		rc = 0;
		if (why[0] == '\0') {
			rc = apply_entry(st, t, &e, block, r, &how, why,
			    sizeof(why));
			if (rc == 0 && (how & APPLY_OVER_LIMIT))
				how = APPLY_HELD;	/* left to its origin */
			else if (rc == 0 && !(how & APPLY_HELD))
				hlc_update(&clock, e.hlc, w);
		} else {
			how = APPLY_HELD;
			log_info("%s gave back %s/%llu: left to its origin "
			    "(%s)", gc->peer, e.origin,
			    (unsigned long long)e.seq, why);
		}
		entry_release(&e);
		if (rc != 0)
			return rc;
		if (how & APPLY_HELD)
			gc->stats->duplicates++;
		else
			gc->stats->applied++;
	}
	return rc != 0 ? rc : put_u64(st, t, st->meta, "hlc", clock.last);
}

int
store_apply_given(struct store *st, const char *peer, const struct rec *recs,
    size_t n, struct apply_stats *stats, char *err, size_t errsz)
{
	struct give_ctx	gc = { peer, recs, n, stats, err, errsz };
	int		rc;

	err[0] = '\0';
	memset(stats, 0, sizeof(*stats));
	if (n == 0)
		return 0;
	rc = txn_run(st, give_fn, &gc);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
	return rc;
}

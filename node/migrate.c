/*
 * migrate.c - the store's layout version, and the migration of a store
 * written by an older layout (docs/PERFORMANCE.md, "The key layout" and
 * "The row in one page").
 *
 * meta "layout" holds the layout a store is written in.  A store without
 * it is layout 1 (every release before issue 19): cases, caselog, names
 * and namecase keyed by the case id text.  Layout 2 keys the case tables
 * by internal ids (caseid.c).  Layout 3 writes the case rows in state
 * encoding 2, with the row's node ids and authors in two small tables
 * (proto/state.h); layouts 1 and 2 wrote encoding 1.
 *
 * store_open brings an older store to STORE_LAYOUT in one write
 * transaction, one step after the other.  1 -> 2: every case row moves
 * to states and every case index entry to clog, under internal ids given
 * in case id order; the old tables are deleted; the name index is
 * rebuilt when the keys are set (casetab.c), from the opened names.
 * 2 -> 3: every row of states is read as encoding 1 and written again as
 * encoding 2, in place (a row that does not decode is left as it is, and
 * verify reports it).  A crash before the commit leaves the old layout
 * whole, and the next open starts again.  The log, feeds, refused
 * entries, peers, keys, vectors, chains and the conflicted set are keyed
 * and written as before and stay as they are.
 *
 * A store of a newer layout than this build's is refused: an older build
 * would not see the newer tables.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../proto/mp.h"

struct migrate_ctx {
	uint64_t	from;		/* the store's layout */
	uint64_t	cases, entries, skipped;	/* 1 -> 2 */
	uint64_t	rows, undecoded;		/* 2 -> 3 */
};

/* Opens an old table; *present 0 when this store has none. */
static int
old_open(struct store *st, MDB_txn *t, const char *name, MDB_dbi *db,
    int *present)
{
	int rc = mdb_dbi_open(t, name, 0, db);

	*present = rc == 0;
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, name);
}

static int
case_id_of(const MDB_val *k, char id[ENTRY_CASE_ID_LEN + 1])
{
	if (k->mv_size < ENTRY_CASE_ID_LEN)
		return 0;
	memcpy(id, k->mv_data, ENTRY_CASE_ID_LEN);
	id[ENTRY_CASE_ID_LEN] = '\0';
	return mp_case_id_valid(id);
}

/* Layout 1 -> 2: cases and caselog under internal ids. */
static int
migrate_keys(struct store *st, MDB_txn *t, struct migrate_ctx *mc)
{
	MDB_dbi			 cases, caselog, names, namecase;
	int			 hc, hl, hn, hnc, rc;
	MDB_cursor		*c;
	MDB_val			 k, d, nk, nd;
	MDB_val			 mk = { 7, (void *)(uintptr_t)"nameidx" };
	char			 id[ENTRY_CASE_ID_LEN + 1];
	uint8_t			 ik[IID_LEN], ck[CASEKEY_MAX];
	uint64_t		 iid;

	if ((rc = old_open(st, t, "cases", &cases, &hc)) != 0 ||
	    (rc = old_open(st, t, "caselog", &caselog, &hl)) != 0 ||
	    (rc = old_open(st, t, "names", &names, &hn)) != 0 ||
	    (rc = old_open(st, t, "namecase", &namecase, &hnc)) != 0)
		return rc;
	/* Case rows, in case id order: internal ids in that order. */
	if (hc) {
		if ((rc = mdb_err(st, mdb_cursor_open(t, cases, &c),
		    "cursor")) != 0)
			return rc;
		while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			if (k.mv_size != ENTRY_CASE_ID_LEN ||
			    !case_id_of(&k, id)) {
				mc->skipped++;
				continue;
			}
			if ((rc = caseid_make(st, t, id, &iid)) != 0)
				break;
			be64_put(ik, iid);
			nk.mv_data = ik;
			nk.mv_size = sizeof(ik);
			nd = d;
			rc = put_append(st, t, st->states, &nk, &nd,
			    "migrate case");
			mc->cases++;
		}
		mdb_cursor_close(c);
		if (rc != 0)
			return rc;
	}
	/* The case index: a case whose row was not kept (keep_transferred =
	 * no) gets its internal id here. */
	if (hl) {
		if ((rc = mdb_err(st, mdb_cursor_open(t, caselog, &c),
		    "cursor")) != 0)
			return rc;
		while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			if (k.mv_size <= ENTRY_CASE_ID_LEN ||
			    k.mv_size > ENTRY_CASE_ID_LEN + LOGKEY_MAX ||
			    !case_id_of(&k, id)) {
				mc->skipped++;
				continue;
			}
			if ((rc = caseid_make(st, t, id, &iid)) != 0)
				break;
			nk.mv_data = ck;
			nk.mv_size = clog_key(ck, iid, (const uint8_t *)
			    k.mv_data + ENTRY_CASE_ID_LEN, k.mv_size -
			    ENTRY_CASE_ID_LEN);
			nd = d;
			rc = put_append(st, t, st->clog, &nk, &nd,
			    "migrate caselog");
			mc->entries++;
		}
		mdb_cursor_close(c);
		if (rc != 0)
			return rc;
	}
	if ((hc && (rc = mdb_err(st, mdb_drop(t, cases, 1), "drop"))) ||
	    (hl && (rc = mdb_err(st, mdb_drop(t, caselog, 1), "drop"))) ||
	    (hn && (rc = mdb_err(st, mdb_drop(t, names, 1), "drop"))) ||
	    (hnc && (rc = mdb_err(st, mdb_drop(t, namecase, 1), "drop"))))
		return rc;
	/* The name index is built again, under internal ids, once the keys
	 * that open the names are set (store_set_keys). */
	rc = mdb_del(t, st->meta, &mk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "del nameidx");
	return 0;
}

/* Layout 2 -> 3: every case row from state encoding 1 to 2. */
static int
migrate_rows(struct store *st, MDB_txn *t, struct migrate_ctx *mc)
{
	struct case_state	 s;
	struct buf		 b;
	MDB_cursor		*c;
	MDB_val			 k, d, nk, nd;
	uint8_t			 key[IID_LEN];
	int			 rc, grc;

	if ((rc = mdb_err(st, mdb_cursor_open(t, st->states, &c),
	    "cursor")) != 0)
		return rc;
	buf_init(&b, STATE_ENCODED_MAX);
	while ((grc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (k.mv_size != IID_LEN ||
		    state_decode_v1(d.mv_data, d.mv_size, &s) != 0) {
			mc->undecoded++;
			continue;
		}
		buf_reset(&b);
		rc = state_encode(&s, &b);
		state_release(&s);
		if (rc != 0) {
			/* Not expected: the two encodings hold the same
			 * states.  The row stays as it is. */
			mc->undecoded++;
			rc = 0;
			continue;
		}
		/* The key is copied: the put may move the page it is on. */
		memcpy(key, k.mv_data, IID_LEN);
		nk.mv_data = key;
		nk.mv_size = IID_LEN;
		nd.mv_data = b.data;
		nd.mv_size = b.len;
		if ((rc = mdb_err(st, mdb_cursor_put(c, &nk, &nd, MDB_CURRENT),
		    "migrate row")) != 0)
			break;
		mc->rows++;
	}
	if (rc == 0 && grc != MDB_NOTFOUND)
		rc = mdb_err(st, grc, "cursor");
	mdb_cursor_close(c);
	buf_release(&b);
	return rc;
}

/* Every step from the store's layout to STORE_LAYOUT, in one
 * transaction. */
static int
migrate_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct migrate_ctx	*mc = arg;
	uint64_t		 from = mc->from;
	int			 rc;

	memset(mc, 0, sizeof(*mc));
	mc->from = from;
	if (from < 2 && (rc = migrate_keys(st, t, mc)) != 0)
		return rc;
	if (from < 3 && (rc = migrate_rows(st, t, mc)) != 0)
		return rc;
	return put_u64(st, t, st->meta, "layout", STORE_LAYOUT);
}

int
store_migrate(struct store *st, char *err, size_t errsz)
{
	struct migrate_ctx	mc;
	MDB_txn			*t;
	uint64_t		layout;
	int			present, rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64_present(st, t, "layout", &layout, &present);
	mdb_txn_abort(t);
	if (rc != 0) {
		snprintf(err, errsz, "cannot read the store's layout: %s",
		    err_str(rc));
		return rc;
	}
	if (present && layout == STORE_LAYOUT)
		return 0;
	if (present && layout > STORE_LAYOUT) {
		snprintf(err, errsz, "the store is in layout %llu, newer than "
		    "this build's (%d): use the casesync that wrote it",
		    (unsigned long long)layout, STORE_LAYOUT);
		return E_INVAL;
	}
	mc.from = present ? layout : 1;
	if ((rc = txn_run(st, migrate_fn, &mc)) != 0) {
		snprintf(err, errsz, "cannot migrate the store to layout %d: "
		    "%s", STORE_LAYOUT, err_str(rc));
		return rc;
	}
	if (mc.cases > 0 || mc.entries > 0 || mc.rows > 0)
		log_info("store: migrated from layout %llu to %d: %llu cases "
		    "and %llu case index entries under internal ids, %llu "
		    "case rows in the compact encoding",
		    (unsigned long long)mc.from, STORE_LAYOUT,
		    (unsigned long long)mc.cases,
		    (unsigned long long)mc.entries,
		    (unsigned long long)mc.rows);
	if (mc.skipped > 0)
		log_warnx("store: migration skipped %llu rows with a bad key "
		    "(verify reports what they leave)",
		    (unsigned long long)mc.skipped);
	if (mc.undecoded > 0)
		log_warnx("store: migration left %llu case rows that do not "
		    "decode as they were (verify reports them)",
		    (unsigned long long)mc.undecoded);
	return 0;
}

#ifdef SELFTEST
#include <stdlib.h>

#include "../common/selftest.h"

#define ST_CASE_A	"ffa2276e-8c28-78e1-8721-c642e7eb1b40"
#define ST_CASE_B	"01a2276e-8c28-78e1-8721-c642e7eb1b41"

/*
 * Writes a store of layout 1 from one of layout 3, by hand: what a store
 * of an older release holds (case rows in state encoding 1 and case index
 * under the case id text, no layout mark), with the new tables emptied.
 */
static int
downgrade_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_dbi		 cases, caselog, names;
	MDB_cursor	*c;
	MDB_val		 k, d, nk, nd;
	MDB_val		 lk = { 6, (void *)(uintptr_t)"layout" };
	MDB_val		 ik = { 3, (void *)(uintptr_t)"iid" };
	uint8_t		 key[ENTRY_CASE_ID_LEN + LOGKEY_MAX];
	struct buf	 b;
	int		 rc;

	(void)arg;
	if ((rc = mdb_dbi_open(t, "cases", MDB_CREATE, &cases)) != 0 ||
	    (rc = mdb_dbi_open(t, "caselog", MDB_CREATE, &caselog)) != 0 ||
	    (rc = mdb_dbi_open(t, "names", MDB_CREATE, &names)) != 0)
		return E_STORE;
	if (mdb_cursor_open(t, st->states, &c) != 0)
		return E_STORE;
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (state_decode(d.mv_data, d.mv_size, &s) != 0)
			return E_INTEGRITY;
		buf_init(&b, STATE_ENCODED_MAX);
		if (state_encode_v1(&s, &b) != 0)
			return E_INTEGRITY;
		nk.mv_data = s.id;
		nk.mv_size = strlen(s.id);
		nd.mv_data = b.data;
		nd.mv_size = b.len;
		rc = mdb_put(t, cases, &nk, &nd, 0);
		state_release(&s);
		buf_release(&b);
		if (rc != 0)
			return E_STORE;
	}
	mdb_cursor_close(c);
	if (mdb_cursor_open(t, st->clog, &c) != 0)
		return E_STORE;
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct entry	e;
		int		sig_ok;

		if (log_read(st, t, (const uint8_t *)k.mv_data + IID_LEN,
		    k.mv_size - IID_LEN, &e, 0, &sig_ok) != 0)
			return E_INTEGRITY;
		memcpy(key, e.case_id, ENTRY_CASE_ID_LEN);
		memcpy(key + ENTRY_CASE_ID_LEN, (const uint8_t *)k.mv_data +
		    IID_LEN, k.mv_size - IID_LEN);
		entry_release(&e);
		nk.mv_data = key;
		nk.mv_size = ENTRY_CASE_ID_LEN + k.mv_size - IID_LEN;
		nd.mv_data = (void *)(uintptr_t)"";
		nd.mv_size = 0;
		if (mdb_put(t, caselog, &nk, &nd, 0) != 0)
			return E_STORE;
	}
	mdb_cursor_close(c);
	if (mdb_drop(t, st->states, 0) != 0 || mdb_drop(t, st->clog, 0) != 0 ||
	    mdb_drop(t, st->caseids, 0) != 0 ||
	    mdb_drop(t, st->namepost, 0) != 0 ||
	    mdb_drop(t, st->namemacs, 0) != 0)
		return E_STORE;
	mdb_del(t, st->meta, &lk, NULL);
	mdb_del(t, st->meta, &ik, NULL);
	return 0;
}

/*
 * Writes a store of layout 2 from one of layout 3, by hand: every case
 * row in state encoding 1, and the layout mark 2.  With arg, the row of
 * case *arg is replaced by bytes that no encoding reads.
 */
static int
downgrade2_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_cursor	*c;
	MDB_val		 k, d, nd;
	struct buf	 b;
	uint8_t		 key[IID_LEN];
	int		 rc = 0;

	if (mdb_cursor_open(t, st->states, &c) != 0)
		return E_STORE;
	buf_init(&b, STATE_ENCODED_MAX);
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (state_decode(d.mv_data, d.mv_size, &s) != 0) {
			rc = E_INTEGRITY;
			break;
		}
		buf_reset(&b);
		if (arg != NULL && strcmp(s.id, arg) == 0)
			rc = buf_append(&b, "\x9a\x01", 2);
		else
			rc = state_encode_v1(&s, &b);
		state_release(&s);
		memcpy(key, k.mv_data, IID_LEN);
		k.mv_data = key;
		nd.mv_data = b.data;
		nd.mv_size = b.len;
		if (rc == 0 && mdb_cursor_put(c, &k, &nd, MDB_CURRENT) != 0)
			rc = E_STORE;
	}
	mdb_cursor_close(c);
	buf_release(&b);
	if (rc != 0)
		return rc;
	return put_u64(st, t, st->meta, "layout", 2);
}

/* Does every case row decode as encoding 2? *n gets how many there are. */
static int
rows_v2(struct store *st, uint64_t *n)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 ok = 1;

	*n = 0;
	if (txn_begin(st, MDB_RDONLY, &t) != 0)
		return 0;
	if (mdb_cursor_open(t, st->states, &c) != 0) {
		mdb_txn_abort(t);
		return 0;
	}
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		(*n)++;
		if (state_decode(d.mv_data, d.mv_size, &s) != 0)
			ok = 0;
		else
			state_release(&s);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return ok;
}

static int
newer_fn(struct store *st, MDB_txn *t, void *arg)
{
	(void)arg;
	return put_u64(st, t, st->meta, "layout", STORE_LAYOUT + 1);
}

static int
count_key(const uint8_t *lk, size_t lklen, void *arg)
{
	(void)lk;
	(void)lklen;
	(*(int *)arg)++;
	return 0;
}

static int
found_b(const char *id, void *arg)
{
	(*(int *)arg) += strcmp(id, ST_CASE_B) == 0;
	return 0;
}

/* Opens dir with the node's keys. */
static int
reopen(const char *dir, const uint8_t sec[CRYPTO_SIGN_SEC],
    const uint8_t pub[CRYPTO_SIGN_PUB], struct store **st)
{
	uint8_t	dk[CRYPTO_KEY];
	char	err[256];
	int	rc;

	memset(dk, 0x5a, sizeof(dk));
	if ((rc = store_open(dir, st, err, sizeof(err))) != 0)
		return rc;
	return store_set_keys(*st, sec, pub, dk);
}

/* Requires st to be in this build's layout, and case A to encode as it
 * did before the store was written back and reopened. */
static int
same_case_a(struct store *st, const struct buf *before)
{
	struct case_state	 s;
	struct buf		 after;
	uint64_t		 layout;
	int			 rc, same;

	ST_OK(store_meta_u64_get(st, "layout", &layout));
	ST_CHECK(layout == STORE_LAYOUT);
	ST_OK(store_case_get(st, ST_CASE_A, &s));
	buf_init(&after, 4096);
	rc = state_encode(&s, &after);
	state_release(&s);
	same = rc == 0 && after.len == before->len &&
	    memcmp(after.data, before->data, before->len) == 0;
	buf_release(&after);
	ST_CHECK(same);
	return 0;
}

int
migrate_selftest(void)
{
	char			 dir[] = "/tmp/casesync-migrate-XXXXXX";
	char			 err[256];
	uint8_t			 sec[CRYPTO_SIGN_SEC], pub[CRYPTO_SIGN_PUB];
	struct store		*st;
	struct entry		 es[3];
	struct case_state	 s;
	struct buf		 before;
	uint64_t		 nc, ne, bad, layout, iid, nrows;
	MDB_txn			*t;
	MDB_dbi			 old;
	int			 na = 0, nb = 0, n = 0;

	ST_CHECK(mkdtemp(dir) != NULL);
	ST_OK(crypto_sign_keypair(pub, sec));
	ST_OK(store_open(dir, &st, err, sizeof(err)));
	ST_OK(store_init_node(st, "ha-noi", STORE_ROLE_PROVINCE));
	store_close(&st);
	ST_OK(reopen(dir, sec, pub, &st));
	/* A new store is written in the current layout. */
	ST_OK(store_meta_u64_get(st, "layout", &layout));
	ST_CHECK(layout == STORE_LAYOUT);
	store_test_entry(&es[0], ST_CASE_A, "ha-noi", "Nguyen Thi Ana");
	store_test_entry(&es[1], ST_CASE_B, "ha-noi", "Tran Van Binh");
	store_test_entry(&es[2], ST_CASE_A, NULL, "Nguyen Thi Anh");
	ST_OK(store_write_local(st, es, 3, err, sizeof(err)));
	for (int i = 0; i < 3; i++)
		entry_release(&es[i]);
	buf_init(&before, 4096);
	ST_OK(store_case_get(st, ST_CASE_A, &s));
	ST_OK(state_encode(&s, &before));
	state_release(&s);
	/* Written back in layout 1, it opens, migrates and reads the same. */
	ST_OK(txn_run(st, downgrade_fn, NULL));
	store_close(&st);
	ST_OK(reopen(dir, sec, pub, &st));
	ST_OK(same_case_a(st, &before));
	ST_CHECK(rows_v2(st, &nrows) && nrows == 2);
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	/* Internal ids in case id order; the index follows them. */
	ST_OK(caseid_get(st, t, ST_CASE_B, &iid));
	ST_CHECK(iid == 1);
	ST_OK(case_keys(st, t, ST_CASE_A, count_key, &na));
	ST_OK(case_keys(st, t, ST_CASE_B, count_key, &nb));
	ST_CHECK(na == 2 && nb == 1);
	/* The old tables are gone. */
	ST_CHECK(mdb_dbi_open(t, "cases", 0, &old) == MDB_NOTFOUND);
	ST_CHECK(mdb_dbi_open(t, "names", 0, &old) == MDB_NOTFOUND);
	mdb_txn_abort(t);
	/* The name index was built again, and a new case goes on from the
	 * migrated ones. */
	ST_OK(store_name_search(st, "binh", 10, found_b, &n));
	ST_CHECK(n == 1);
	ST_OK(store_verify(st, &nc, &ne, &bad, err, sizeof(err)));
	ST_CHECK(nc == 2 && ne == 3 && bad == 0);
	/* Written back in layout 2 (its rows in encoding 1), it opens,
	 * every row is written again in encoding 2, and it reads the
	 * same. */
	ST_OK(txn_run(st, downgrade2_fn, NULL));
	ST_CHECK(!rows_v2(st, &nrows) && nrows == 2);
	store_close(&st);
	ST_OK(reopen(dir, sec, pub, &st));
	ST_OK(same_case_a(st, &before));
	ST_CHECK(rows_v2(st, &nrows) && nrows == 2);
	n = 0;
	ST_OK(store_name_search(st, "binh", 10, found_b, &n));
	ST_CHECK(n == 1);
	ST_OK(store_verify(st, &nc, &ne, &bad, err, sizeof(err)));
	ST_CHECK(nc == 2 && ne == 3 && bad == 0);
	/* A row that no encoding reads is left as it is; the others are
	 * migrated, and verify reports it. */
	ST_OK(txn_run(st, downgrade2_fn, ST_CASE_B));
	store_close(&st);
	ST_OK(reopen(dir, sec, pub, &st));
	ST_OK(same_case_a(st, &before));
	ST_CHECK(!rows_v2(st, &nrows) && nrows == 2);
	ST_CHECK(store_verify(st, &nc, &ne, &bad, err, sizeof(err)) ==
	    E_INTEGRITY);
	ST_CHECK(nc == 2 && bad == 1 && strstr(err, ST_CASE_B) != NULL &&
	    strstr(err, "does not decode") != NULL);
	buf_release(&before);
	/* A store of a newer layout is refused, with the reason. */
	ST_OK(txn_run(st, newer_fn, NULL));
	store_close(&st);
	ST_CHECK(store_open(dir, &st, err, sizeof(err)) == E_INVAL);
	ST_CHECK(st == NULL && strstr(err, "newer") != NULL);
	store_test_close(&st, dir);
	crypto_wipe(sec, sizeof(sec));
	return 0;
}
#endif

/*
 * verify.c - store_verify: every case row equals the fold of its log,
 * every case of the log has its row, and every origin's run of entries
 * links and ends in a signature that verifies.
 */
#include "store_int.h"
#include "keyhist.h"
#include "merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

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
#define BAD(...) do {						\
	if (*bad == 0)							\
		snprintf(err, errsz, __VA_ARGS__);			\
	(*bad)++;							\
} while (0)
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

/* The case id behind internal id iid, from its first log entry ("" and
 * E_NOTFOUND when it has none). */
static int
iid_case(struct store *st, MDB_txn *t, uint64_t iid,
    char id[ENTRY_CASE_ID_LEN + 1])
{
	uint8_t		 p[IID_LEN];
	MDB_cursor	*c;
	MDB_val		 k = { sizeof(p), p }, d;
	struct entry	 e;
	int		 sig_ok, rc;

	id[0] = '\0';
	be64_put(p, iid);
	if (mdb_cursor_open(t, st->clog, &c) != 0)
		return E_STORE;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size <= IID_LEN || be64_get(k.mv_data) != iid))
		rc = MDB_NOTFOUND;
	if (rc == 0 && (rc = log_read(st, t, (const uint8_t *)k.mv_data +
	    IID_LEN, k.mv_size - IID_LEN, &e, 0, &sig_ok)) == 0) {
		strlcpy_(id, e.case_id, ENTRY_CASE_ID_LEN + 1);
		entry_release(&e);
	}
	mdb_cursor_close(c);
	return rc == 0 ? 0 : E_NOTFOUND;
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
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->states, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	/* Every case in the table equals the fold of its log entries, and
	 * sits under the internal id its case id has. */
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state	s;
		char			id[ENTRY_CASE_ID_LEN + 1];
		const char		*why = NULL;
		uint64_t		iid;

		(*ncases)++;
		id[0] = '\0';
		if (k.mv_size != IID_LEN) {
			why = "bad key in case table";
		} else if (state_decode(d.mv_data, d.mv_size, &s) != 0) {
			why = "stored state does not decode";
			iid_case(st, t, be64_get(k.mv_data), id);
		} else {
			strlcpy_(id, s.id, sizeof(id));
			if (state_crypt(st, t, &s, 0) != 0) {
				why = "a sealed value does not open";
				state_release(&s);
			} else {
				buf_reset(&b);
				merge_normalise(&s);
				state_encode(&s, &b);
				state_release(&s);
			}
		}
		if (why == NULL && (caseid_get(st, t, id, &iid) != 0 ||
		    iid != be64_get(k.mv_data)))
			why = "not under its internal id in the case table";
		if (why == NULL) {
			rc = fold_case(st, t, id, &s);
			if (rc == E_NOTFOUND) {
				why = "in the case table but not in the log";
			} else if (rc != 0) {
				why = "its log entries do not decode";
			} else {
				buf_reset(&a);
				state_encode(&s, &a);
				state_release(&s);
				if (a.len != b.len || memcmp(a.data, b.data,
				    a.len) != 0)
					why = "differs from the fold of its log";
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
	if (mdb_cursor_open(t, st->clog, &c) == 0) {
		uint64_t last = 0;

		while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			char		id[ENTRY_CASE_ID_LEN + 1];
			uint64_t	iid;
			MDB_val		ck, cd;

			if (k.mv_size <= IID_LEN)
				continue;
			if ((iid = be64_get(k.mv_data)) == last)
				continue;
			last = iid;
			ck.mv_data = k.mv_data;
			ck.mv_size = IID_LEN;
			if (mdb_get(t, st->states, &ck, &cd) == 0)
				continue;
			/* No row: which case is it?  Its first entry says. */
			if (iid_case(st, t, iid, id) != 0) {
				if (*bad == 0)
					snprintf(err, errsz, "the case index "
					    "lists an entry the log lacks");
				(*bad)++;
				continue;
			}
			{
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

#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE	"01a2276e-8c28-78e1-8721-c642e7eb1b40"

/* Changes the stored row of the case behind the log's back. */
static int
tamper_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct case_state	s;
	int			rc;

	(void)arg;
	if ((rc = case_load(st, t, ST_CASE, &s)) != 0)
		return rc;
	s.fields[0].heads[0].st.hlc++;
	rc = case_save(st, t, &s);
	state_release(&s);
	return rc;
}

int
verify_selftest(void)
{
	char		 dir[] = "/tmp/casesync-verify-XXXXXX", err[256];
	struct store	*st;
	struct entry	 es[2];
	uint64_t	 ncases, nentries, bad;

	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	store_test_entry(&es[0], ST_CASE, "ha-noi", "Ana");
	store_test_entry(&es[1], ST_CASE, NULL, "Ana Le");
	ST_OK(store_write_local(st, es, 2, err, sizeof(err)));
	ST_OK(store_verify(st, &ncases, &nentries, &bad, err, sizeof(err)));
	ST_CHECK(ncases == 1 && nentries == 2 && bad == 0);
	ST_OK(txn_run(st, tamper_fn, NULL));
	ST_CHECK(store_verify(st, &ncases, &nentries, &bad, err,
	    sizeof(err)) == E_INTEGRITY);
	ST_CHECK(bad == 1 && strstr(err, "differs") != NULL);
	entry_release(&es[0]);
	entry_release(&es[1]);
	store_test_close(&st, dir);
	return 0;
}
#endif

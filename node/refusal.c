/*
 * refusal.c - refused entries: kept out of the log and the case table,
 * with their reason, in the refused table for audit; central tells the
 * origin, and a province takes its own refused entries out of its copy
 * (and takes back the values a refused erase of its own had redacted,
 * when central sends them again).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* Keeps a refused entry out of the log, with its reason, for audit. */
int
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
	/* And the provinces another central may have routed it to. */
	if (rc == 0 && is_central(st))
		rc = feed_refused(st, t, e, rk, k.mv_size);
	return rc;
}

/* Rebuilds case id's row from its log: dropped when nothing of it is
 * left, or when this node keeps no copy of it (project). */
static int
case_refold(struct store *st, MDB_txn *t, const char *id)
{
	struct case_state	s;
	int			rc;

	rc = fold_case(st, t, id, &s);
	if (rc == E_NOTFOUND || (rc == 0 && project(st, &s))) {
		if (rc == 0)
			state_release(&s);
		return case_drop(st, t, id);
	}
	if (rc != 0)
		return rc;
	rc = case_save(st, t, &s);
	state_release(&s);
	return rc;
}

static int	unrecord(struct store *, MDB_txn *, const struct entry *,
		    const uint8_t *, const uint8_t *, const struct rec *);

/*
 * The log record held under lk (v: as stored, borrowed from t) opened
 * and decoded into *h (caller owns; NULL: not wanted).  *same is set when
 * it is the signed record whose signature block is block and whose
 * digest is d: the same entry as signed by its origin.  sign_digest
 * hashes an entry's signed form, where each salted value is its digest
 * marker, so a copy held with its values redacted (an erase) is the same
 * record as the one with them.  Returns 0 or E_INTEGRITY.
 */
static int
held_same(struct store *st, const uint8_t *lk, size_t lklen,
    const MDB_val *v, const uint8_t block[SIGN_BLOCK],
    const uint8_t d[CRYPTO_HASH], struct entry *h, int *same)
{
	uint8_t		hblock[SIGN_BLOCK], hd[CRYPTO_HASH];
	struct entry	own;
	struct buf	plain;
	int		hsigned, rc;

	*same = 0;
	if (h == NULL)
		h = &own;
	buf_init(&plain, v->mv_size + 1);
	rc = log_unseal(st, lk, lklen, v, &plain);
	if (rc == 0 && record_split(plain.data, plain.len, h, hblock,
	    &hsigned) != 0)
		rc = E_INTEGRITY;
	crypto_wipe(plain.data, plain.cap);
	buf_release(&plain);
	if (rc != 0)
		return rc;
	*same = hsigned && memcmp(hblock, block, SIGN_BLOCK) == 0 &&
	    sign_digest(NULL, h, NULL, 0, hd) == 0 &&
	    memcmp(hd, d, CRYPTO_HASH) == 0;
	if (h == &own)
		entry_release(&own);
	return 0;
}

/*
 * Province: central refused our entry e (it came back in our feed).  Moves
 * it from the log to the refused table, for audit, and refolds its case:
 * this node's copy then holds what central holds.  Left in the log, the
 * entry would stay in our fold for ever, and our copy would differ from
 * central's once the case is ours again (a referral back, or a refusal
 * for a clock running ahead).
 */
int
unrecord_own(struct store *st, MDB_txn *t, const struct entry *e,
    const struct rec *r)
{
	return unrecord(st, t, e, NULL, NULL, r);
}

/*
 * Province: central refused e, another province's entry, that another
 * central had accepted and routed here (an old central back before it
 * was fenced, or central before a restore: chaos seed 341; feed_refused).
 * Taken out of the log and the case refolded as for our own, but only
 * when the record held is the one refused (held_same: same signature
 * block, same digest d; a copy held redacted is): another record under
 * that origin and seq (a forked origin, whose other incarnation central
 * accepted) is kept, with a warning.  A notice for an entry this node
 * does not hold is dropped: nothing of it is kept.
 */
int
unrecord_foreign(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t block[SIGN_BLOCK], const uint8_t d[CRYPTO_HASH],
    const struct rec *r)
{
	return unrecord(st, t, e, block, d, r);
}

/* Own entries (block NULL) by origin and seq; another origin's only when
 * the held record is the same signed record as block and digest. */
static int
unrecord(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, const uint8_t *digest, const struct rec *r)
{
	uint8_t			 lk[LOGKEY_MAX], ck[CASEKEY_MAX];
	char			 why[STORE_REASON_MAX + 1];
	struct buf		 b;
	MDB_val			 k, d;
	size_t			 lklen;
	uint64_t		 iid;
	int			 own = block == NULL, same, rc;

	/* Central's reason when the notice carries one (a central of
	 * before the reasons travelled sends none). */
	if (r->reasonlen > 0 && r->reasonlen <= STORE_REASON_MAX &&
	    memchr(r->reason, '\0', r->reasonlen) == NULL) {
		memcpy(why, r->reason, r->reasonlen);
		why[r->reasonlen] = '\0';
	} else
		strlcpy_(why, STORE_REASON_NONE, sizeof(why));

	k.mv_data = lk;
	k.mv_size = lklen = seqkey(lk, e->origin, e->seq);
	if ((rc = mdb_get(t, st->log, &k, &d)) == MDB_NOTFOUND && !own)
		return 0;
	if (rc == MDB_NOTFOUND) {
		/* Already taken out; or an entry this node lost in a restore
		 * and has not recovered yet: keep the notice, so that the
		 * entry is never applied when it comes back (store_apply_own)
		 * and its position stays known (chain_at). */
		if ((rc = mdb_get(t, st->refused, &k, &d)) != MDB_NOTFOUND)
			return mdb_err(st, rc, "get refused");
		buf_init(&b, sizeof(why) + r->len + CRYPTO_SEAL_OVERHEAD);
		buf_append(&b, why, strlen(why) + 1);
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
	if (!own) {
		if ((rc = held_same(st, lk, lklen, &d, block, digest, NULL,
		    &same)) != 0)
			return rc;
		if (!same) {
			log_warnx("refusal notice for %s/%llu (case %s) is not "
			    "the entry held: kept", e->origin,
			    (unsigned long long)e->seq, e->case_id);
			return 0;
		}
	}
	if ((rc = caseid_get(st, t, e->case_id, &iid)) != 0 && rc != E_NOTFOUND)
		return rc;
	k.mv_data = ck;
	k.mv_size = clog_key(ck, iid, lk, lklen);
	if (rc != 0 || (rc = mdb_get(t, st->clog, &k, &d)) != 0) {
		log_warnx("refusal notice for %s/%llu does not match our log",
		    e->origin, (unsigned long long)e->seq);
		return rc == MDB_NOTFOUND || rc == E_NOTFOUND ? 0 :
		    mdb_err(st, rc, "caselog");
	}
	if ((rc = mdb_del(t, st->clog, &k, NULL)) != 0)
		return mdb_err(st, rc, "del caselog");
	k.mv_data = lk;
	k.mv_size = lklen;
	if ((rc = mdb_get(t, st->log, &k, &d)) != 0)
		return mdb_err(st, rc, "get log");
	/* The sealed record moves as it is: same key, same data key. */
	buf_init(&b, sizeof(why) + d.mv_size);
	buf_append(&b, why, strlen(why) + 1);
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
	return case_refold(st, t, e->case_id);
}

/*
 * Province: central sends again, in clear, an entry this node holds
 * redacted, and the case is not erased here.  That happens when this
 * node's own erase redacted its log (at once, when it was written) and
 * central then refused the erase: the refusal notice takes the erase out
 * (unrecord_own), but the salts of the entries it redacted are gone.  An
 * erase is refused only from a node that was not the owner in central's
 * view (its view was, say, its own accept of an offer that central's
 * reassignment had already ended, refused in turn: chaos seed 113), so
 * the node's copy is read-only, and when the case is referred to it
 * again central sends it the case's whole history (feed_history): held
 * entries were skipped as duplicates, and the owner showed digest
 * markers where central showed the values.  The held record is replaced
 * by the received one when both have the same signed form (same digest,
 * same signature block): the values are then the ones the signature
 * covers.  *done is set when it was; the case is folded again.
 */
int
log_unredact(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t block[SIGN_BLOCK], const uint8_t d[CRYPTO_HASH],
    const struct rec *r, int *done)
{
	uint8_t			 lk[LOGKEY_MAX];
	struct case_state	 s;
	struct entry		 h;
	struct buf		 sealed;
	MDB_val			 k, v;
	size_t			 nsalted = 0, nback = 0;
	int			 same, rc;

	*done = 0;
	for (size_t i = 0; i < e->nops; i++)
		nsalted += e->ops[i].has_salt != 0;
	if (nsalted == 0)
		return 0;
	k.mv_data = lk;
	k.mv_size = seqkey(lk, e->origin, e->seq);
	if ((rc = mdb_get(t, st->log, &k, &v)) != 0)
		return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "get log");
	if ((rc = held_same(st, lk, k.mv_size, &v, block, d, &h, &same)) != 0)
		return rc;
	if (h.nops == e->nops)
		for (size_t i = 0; i < e->nops; i++)
			nback += e->ops[i].has_salt && !h.ops[i].has_salt &&
			    h.ops[i].value != NULL &&
			    sign_is_marker(h.ops[i].value,
			    h.ops[i].value_len);
	if (nback > 0 && !same) {
		log_warnx("entry %s/%llu (case %s) from central differs from "
		    "the one held: kept as held", e->origin,
		    (unsigned long long)e->seq, e->case_id);
		nback = 0;
	}
	entry_release(&h);
	if (nback == 0)
		return 0;
	/* An erased case keeps its entries redacted (apply_entry). */
	if ((rc = case_load_raw(st, t, e->case_id, &s)) == E_NOTFOUND)
		rc = fold_case(st, t, e->case_id, &s);
	if (rc != 0)
		return rc == E_NOTFOUND ? 0 : rc;
	if (s.erased.hlc != 0) {
		state_release(&s);
		return 0;
	}
	state_release(&s);
	buf_init(&sealed, r->len + 64);
	rc = log_seal(st, lk, k.mv_size, r->data, r->len, &sealed);
	if (rc == 0) {
		v.mv_data = sealed.data;
		v.mv_size = sealed.len;
		rc = mdb_err(st, mdb_put(t, st->log, &k, &v, 0), "unredact");
	}
	buf_release(&sealed);
	if (rc != 0)
		return rc;
	log_info("entry %s/%llu (case %s) came again from central with its "
	    "values: its redacted copy replaced", e->origin,
	    (unsigned long long)e->seq, e->case_id);
	*done = 1;
	return case_refold(st, t, e->case_id);
}

struct refused_each_ctx {
	int	(*fn)(const char *, uint64_t, const char *, void *);
	void	*arg;
};

/* A refused-table row, origin \0 be64(seq) -> reason \0 record: its
 * origin, seq and reason (cut to whysz - 1).  0, or -1 for a malformed
 * key (skipped by the callers). */
static int
refused_split(const MDB_val *k, const MDB_val *d,
    char origin[HLC_NODE_MAX + 1], uint64_t *seq, char *why, size_t whysz)
{
	const uint8_t	*kp = k->mv_data, *z;
	size_t		 on, wn;

	z = memchr(kp, 0, k->mv_size);
	if (z == NULL || (size_t)(z - kp) > HLC_NODE_MAX ||
	    k->mv_size != (size_t)(z - kp) + 9)
		return -1;
	on = (size_t)(z - kp);
	memcpy(origin, kp, on);
	origin[on] = '\0';
	*seq = be64_get(z + 1);
	wn = strnlen(d->mv_data, d->mv_size);
	if (wn >= whysz)
		wn = whysz - 1;
	memcpy(why, d->mv_data, wn);
	why[wn] = '\0';
	return 0;
}

static int
refused_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct refused_each_ctx	*rc_ = arg;
	char			 origin[HLC_NODE_MAX + 1], why[256];
	uint64_t		 seq;

	if (refused_split(k, d, origin, &seq, why, sizeof(why)) != 0)
		return 0;
	return rc_->fn(origin, seq, why, rc_->arg);
}

int
store_refused_each(struct store *st,
    int (*fn)(const char *, uint64_t, const char *, void *), void *arg)
{
	struct refused_each_ctx rc_ = { fn, arg };

	return table_each(st, NULL, st->refused, NULL, 0, refused_one, &rc_);
}

struct refused_case_ctx {
	struct store	*st;
	int		(*fn)(const char *, uint64_t, const char *, const char *,
			    void *);
	void		*arg;
	struct buf	 plain;
};

static int
refused_case_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct refused_case_ctx	*x = arg;
	char			 origin[HLC_NODE_MAX + 1], why[256];
	char			 cid[ENTRY_CASE_ID_LEN + 1];
	uint8_t			 block[SIGN_BLOCK];
	const uint8_t		*dz;
	struct entry		 e;
	MDB_val			 rv;
	uint64_t		 seq;
	int			 signed_, have = 0;

	if (refused_split(k, d, origin, &seq, why, sizeof(why)) != 0)
		return 0;
	/* The case id only, from the held record (never a value). */
	dz = memchr(d->mv_data, 0, d->mv_size);
	if (dz != NULL) {
		rv.mv_data = (void *)(uintptr_t)(dz + 1);
		rv.mv_size = d->mv_size - (size_t)(dz + 1 -
		    (const uint8_t *)d->mv_data);
		buf_reset(&x->plain);
		if (log_unseal(x->st, k->mv_data, k->mv_size, &rv,
		    &x->plain) == 0 && record_split(x->plain.data,
		    x->plain.len, &e, block, &signed_) == 0) {
			strlcpy_(cid, e.case_id, sizeof(cid));
			entry_release(&e);
			have = 1;
		}
	}
	return x->fn(origin, seq, have ? cid : NULL, why, x->arg);
}

int
store_refused_cases(struct store *st,
    int (*fn)(const char *, uint64_t, const char *, const char *, void *),
    void *arg)
{
	struct refused_case_ctx	x = { st, fn, arg, { 0 } };
	int			rc;

	buf_init(&x.plain, ENTRY_ENCODED_MAX + 256);
	rc = table_each(st, NULL, st->refused, NULL, 0, refused_case_one, &x);
	buf_release(&x.plain);
	return rc;
}

int
store_refused_last(struct store *st, const char *origin, uint64_t *seq,
    char *reason, size_t reasonsz, char case_id[ENTRY_CASE_ID_LEN + 1])
{
	uint8_t		 kb[LOGKEY_MAX], block[SIGN_BLOCK];
	size_t		 olen = strlen(origin);
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d, rv;
	struct buf	 plain;
	struct entry	 e;
	const uint8_t	*z;
	int		 rc, signed_;

	if (olen == 0 || olen > HLC_NODE_MAX)
		return E_INVAL;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->refused, &c),
	    "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	/* origin \0 be64(seq): past the highest seq, then one back. */
	k.mv_data = kb;
	k.mv_size = seqkey(kb, origin, UINT64_MAX);
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == olen + 9 && memcmp(k.mv_data, origin,
	    olen + 1) == 0)
		rc = 0;		/* seq UINT64_MAX itself */
	else if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, &k, &d, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == 0 && (k.mv_size != olen + 9 || memcmp(k.mv_data, origin,
	    olen + 1) != 0))
		rc = MDB_NOTFOUND;
	if (rc != 0) {
		mdb_cursor_close(c);
		mdb_txn_abort(t);
		return rc == MDB_NOTFOUND ? E_NOTFOUND :
		    mdb_err(st, rc, "refused");
	}
	*seq = be64_get((const uint8_t *)k.mv_data + olen + 1);
	z = memchr(d.mv_data, 0, d.mv_size);
	if (z == NULL) {
		mdb_cursor_close(c);
		mdb_txn_abort(t);
		return E_INTEGRITY;
	}
	strlcpy_(reason, d.mv_data, reasonsz);
	rv.mv_data = (void *)(uintptr_t)(z + 1);
	rv.mv_size = d.mv_size - (size_t)(z + 1 - (const uint8_t *)d.mv_data);
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	rc = log_unseal(st, k.mv_data, k.mv_size, &rv, &plain);
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	if (rc == 0 && (rc = record_split(plain.data, plain.len, &e, block,
	    &signed_)) == 0) {
		strlcpy_(case_id, e.case_id, ENTRY_CASE_ID_LEN + 1);
		entry_release(&e);
	}
	buf_release(&plain);
	return rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

struct refuse_ctx {
	struct entry	*e;
	struct rec	*r;
};

static int
refuse_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct refuse_ctx *rx = arg;

	return refuse(st, t, rx->e, "not the owner", rx->r);
}

static int
refused_seen(const char *origin, uint64_t seq, const char *why, void *arg)
{
	int *n = arg;

	ST_CHECK(strcmp(origin, "cao-bang") == 0 && seq == 7 &&
	    strcmp(why, "not the owner") == 0);
	(*n)++;
	return 0;
}

static int
refused_case_seen(const char *origin, uint64_t seq, const char *case_id,
    const char *why, void *arg)
{
	int *n = arg;

	ST_CHECK(strcmp(origin, "cao-bang") == 0 && seq == 7 &&
	    case_id != NULL &&
	    strcmp(case_id, "01a2276e-8c28-78e1-8721-c642e7eb1b40") == 0 &&
	    strcmp(why, "not the owner") == 0);
	(*n)++;
	return 0;
}

int
refusal_selftest(void)
{
	char			 dir[] = "/tmp/casesync-refusal-XXXXXX";
	struct store		*st;
	struct entry		 e;
	struct buf		 rb, plain;
	struct rec		 r;
	struct refuse_ctx	 rx = { &e, &r };
	uint64_t		 last;
	MDB_txn			*t;
	int			 n = 0;

	ST_OK(store_test_open(dir, "central", STORE_ROLE_CENTRAL, NULL, &st));
	store_test_entry(&e, "01a2276e-8c28-78e1-8721-c642e7eb1b40",
	    "cao-bang", NULL);
	strlcpy_(e.origin, "cao-bang", sizeof(e.origin));
	e.seq = 7;
	e.hlc = 1;
	buf_init(&rb, ENTRY_ENCODED_MAX);
	ST_OK(record_make(&e, NULL, &rb));
	memset(&r, 0, sizeof(r));
	r.pos = 7;
	r.data = rb.data;
	r.len = rb.len;
	r.refused = 0;
	ST_OK(txn_run(st, refuse_fn, &rx));
	/* Kept for audit with its reason, out of the log; central's notice
	 * goes to the origin's feed. */
	ST_OK(store_refused_each(st, refused_seen, &n));
	ST_CHECK(n == 1);
	/* The latest refusal of an origin, with its case. */
	{
		char		why[64], cid[ENTRY_CASE_ID_LEN + 1];
		uint64_t	seq = 0;

		ST_OK(store_refused_last(st, "cao-bang", &seq, why,
		    sizeof(why), cid));
		ST_CHECK(seq == 7 && strcmp(why, "not the owner") == 0 &&
		    strcmp(cid, "01a2276e-8c28-78e1-8721-c642e7eb1b40") == 0);
		ST_CHECK(store_refused_last(st, "cao-ban", &seq, why,
		    sizeof(why), cid) == E_NOTFOUND);
		ST_CHECK(store_refused_last(st, "ha-noi", &seq, why,
		    sizeof(why), cid) == E_NOTFOUND);
	}
	/* Every refusal with its case, for status --json --refused. */
	n = 0;
	ST_OK(store_refused_cases(st, refused_case_seen, &n));
	ST_CHECK(n == 1);
	ST_OK(store_feed_last(st, "cao-bang", &last));
	ST_CHECK(last == 1);
	buf_init(&plain, ENTRY_ENCODED_MAX);
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	ST_OK(held_record(st, t, "cao-bang", 7, &plain));
	ST_CHECK(plain.len == rb.len && memcmp(plain.data, rb.data,
	    rb.len) == 0);
	ST_CHECK(held_record(st, t, "cao-bang", 8, &plain) == E_NOTFOUND);
	mdb_txn_abort(t);
	buf_release(&plain);
	buf_release(&rb);
	entry_release(&e);
	store_test_close(&st, dir);
	return 0;
}
/* The held record of (origin, seq): is its name op salted (values in
 * clear)?  1 yes, 0 redacted, -1 error. */
static int
held_salted(struct store *st, const char *origin, uint64_t seq)
{
	uint8_t		 block[SIGN_BLOCK];
	struct buf	 plain;
	struct entry	 h;
	MDB_txn		*t;
	int		 sg, n = -1;

	if (txn_begin(st, MDB_RDONLY, &t) != 0)
		return -1;
	buf_init(&plain, ENTRY_ENCODED_MAX);
	if (held_record(st, t, origin, seq, &plain) == 0 &&
	    record_split(plain.data, plain.len, &h, block, &sg) == 0) {
		n = 0;
		for (size_t i = 0; i < h.nops; i++)
			if (h.ops[i].type == OP_SET)
				n = h.ops[i].has_salt != 0;
		entry_release(&h);
	}
	mdb_txn_abort(t);
	buf_release(&plain);
	return n;
}

struct unredact_ctx {
	struct entry	*e;
	uint8_t		*block, *d;
	struct rec	*r;
	int		 done;
};

static int
unredact_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct unredact_ctx *u = arg;

	return log_unredact(st, t, u->e, u->block, u->d, u->r, &u->done);
}

static int
unrecord_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct unredact_ctx *u = arg;

	return unrecord_own(st, t, u->e, u->r);
}

/* A record decoded, with its signature block and digest. */
static int
take(struct rec *r, struct entry *e, uint8_t block[SIGN_BLOCK],
    uint8_t d[CRYPTO_HASH])
{
	int sg;

	if (record_split(r->data, r->len, e, block, &sg) != 0 || !sg)
		return 1;
	return sign_digest(NULL, e, NULL, 0, d);
}

int
unredact_selftest(void)
{
	char			 dir[] = "/tmp/casesync-unredact-XXXXXX";
	char			 err[256];
	const char		*id = "01a2276e-8c28-78e1-8721-c642e7eb1b40";
	struct store		*st;
	struct entry		 e, x, ce, xe, bad;
	struct rec_batch	 cb, eb;
	struct rec		 br;
	struct buf		 rb;
	struct case_state	 s;
	uint8_t			 cblock[SIGN_BLOCK], xblock[SIGN_BLOCK];
	uint8_t			 cd[CRYPTO_HASH], xd[CRYPTO_HASH];
	uint8_t			 bd[CRYPTO_HASH];
	struct unredact_ctx	 u;
	uint64_t		 nc, ne, nbad;

	ST_OK(store_test_open(dir, "lao-cai", STORE_ROLE_PROVINCE, NULL,
	    &st));
	store_test_entry(&e, id, "lao-cai", "Ana");
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	ST_OK(store_scan_own(st, 0, STORE_BATCH_BYTES, &cb));
	ST_CHECK(cb.n == 1 && held_salted(st, "lao-cai", 1) == 1);
	ST_OK(take(&cb.recs[0], &ce, cblock, cd));
	/* The erase redacts the log at once. */
	entry_init(&x);
	strlcpy_(x.case_id, id, sizeof(x.case_id));
	strlcpy_(x.author, "selftest", sizeof(x.author));
	entry_add_op(&x, OP_ERASE);
	ST_OK(store_write_local(st, &x, 1, err, sizeof(err)));
	entry_release(&x);
	ST_OK(store_scan_own(st, 1, STORE_BATCH_BYTES, &eb));
	ST_CHECK(eb.n == 1 && held_salted(st, "lao-cai", 1) == 0);
	ST_OK(take(&eb.recs[0], &xe, xblock, xd));
	/* While the case is erased, the values do not come back. */
	memset(&u, 0, sizeof(u));
	u.e = &ce;
	u.block = cblock;
	u.d = cd;
	u.r = &cb.recs[0];
	ST_OK(txn_run(st, unredact_fn, &u));
	ST_CHECK(!u.done && held_salted(st, "lao-cai", 1) == 0);
	/* Central refuses the erase: taken out, the entry stays redacted. */
	u.e = &xe;
	u.r = &eb.recs[0];
	ST_OK(txn_run(st, unrecord_fn, &u));
	ST_OK(store_case_get(st, id, &s));
	ST_CHECK(s.erased.hlc == 0);
	state_release(&s);
	ST_CHECK(held_salted(st, "lao-cai", 1) == 0);
	/* Another value under the same signature is not taken. */
	ST_OK(take(&cb.recs[0], &bad, cblock, bd));
	for (size_t i = 0; i < bad.nops; i++)
		if (bad.ops[i].type == OP_SET)
			op_set_value(&bad.ops[i], "\"Bob\"", 5);
	ST_OK(sign_digest(NULL, &bad, NULL, 0, bd));
	buf_init(&rb, ENTRY_ENCODED_MAX + 256);
	ST_OK(record_make(&bad, cblock, &rb));
	memset(&br, 0, sizeof(br));
	br.data = rb.data;
	br.len = rb.len;
	u.e = &bad;
	u.d = bd;
	u.r = &br;
	ST_OK(txn_run(st, unredact_fn, &u));
	ST_CHECK(!u.done && held_salted(st, "lao-cai", 1) == 0);
	/* The entry as signed is: the values are back in the log and the
	 * case, which is its log's fold. */
	u.e = &ce;
	u.d = cd;
	u.r = &cb.recs[0];
	ST_OK(txn_run(st, unredact_fn, &u));
	ST_CHECK(u.done && held_salted(st, "lao-cai", 1) == 1);
	ST_OK(store_case_get(st, id, &s));
	ST_CHECK(s.erased.hlc == 0);
	state_release(&s);
	ST_OK(store_verify(st, &nc, &ne, &nbad, err, sizeof(err)));
	ST_CHECK(nbad == 0);
	/* Again: nothing to do. */
	ST_OK(txn_run(st, unredact_fn, &u));
	ST_CHECK(!u.done);
	buf_release(&rb);
	entry_release(&bad);
	entry_release(&ce);
	entry_release(&xe);
	rec_batch_free(&cb);
	rec_batch_free(&eb);
	store_test_close(&st, dir);
	return 0;
}
static int
unrecord_foreign_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct unredact_ctx *u = arg;

	return unrecord_foreign(st, t, u->e, u->block, u->d, u->r);
}

/* Is (origin, seq) a key of table dbi?  1 yes, 0 no, -1 error. */
static int
in_table(struct store *st, MDB_dbi dbi, const char *origin, uint64_t seq)
{
	uint8_t	lk[LOGKEY_MAX];
	MDB_txn	*t;
	MDB_val	k, d;
	int	rc;

	if (txn_begin(st, MDB_RDONLY, &t) != 0)
		return -1;
	k.mv_data = lk;
	k.mv_size = seqkey(lk, origin, seq);
	rc = mdb_get(t, dbi, &k, &d);
	mdb_txn_abort(t);
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

/* Does the row of case id show a full name?  1 yes, 0 no, -1 error (no
 * row among them). */
static int
has_name(struct store *st, const char *id)
{
	struct case_state	s;
	int			n = 0;

	if (store_case_get(st, id, &s) != 0)
		return -1;
	for (size_t i = 0; i < s.nfields; i++)
		if (strcmp(s.fields[i].path, "person.full_name") == 0 &&
		    s.fields[i].nheads > 0)
			n = 1;
	state_release(&s);
	return n;
}

/* A foreign record appended to the log as held, its case folded. */
static int
hold_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct unredact_ctx	*u = arg;
	uint8_t			 lk[LOGKEY_MAX];
	size_t			 lklen;
	uint64_t		 iid = 0;
	int			 rc;

	if ((rc = log_append(st, t, u->e, u->r->data, u->r->len, &iid, lk,
	    &lklen)) != 0)
		return rc;
	return case_refold(st, t, u->e->case_id);
}

/* Signs e as cao-bang's seq (stamped seq) after prev with sec: block
 * gets its signature block, prev its chain hash, r (reset first) its
 * record. */
static int
foreign_record(struct entry *e, uint64_t seq, const uint8_t *sec,
    uint8_t prev[CRYPTO_HASH], uint8_t block[SIGN_BLOCK], struct buf *r)
{
	strlcpy_(e->origin, "cao-bang", sizeof(e->origin));
	e->seq = seq;
	e->hlc = seq;
	sign_salt(e);
	if (sign_entry(e, sec, prev, block, prev) != 0)
		return 1;
	buf_reset(r);
	return record_make(e, block, r);
}

/*
 * A province holds cao-bang/7 (redacted, as an erase leaves it) that
 * another central routed to it; notices of cao-bang/7 flagged refused:
 * another record (a forked origin's), another entry under the same
 * signature block, the same entry under another block each leave it in
 * the log, with nothing refused; the notice of the same signed record
 * (with its values) takes it out, to the refused table, and the case is
 * folded again without it.
 */
int
unrecord_foreign_selftest(void)
{
	char			 dir[] = "/tmp/casesync-unrecord-XXXXXX";
	char			 why[64], cid[ENTRY_CASE_ID_LEN + 1];
	const char		*id = "01a2276e-8c28-78e1-8721-c642e7eb1b40";
	struct store		*st;
	struct entry		 e6, e7, f, red, ne, fe;
	struct buf		 r6, r7, rf, rred;
	struct rec		 hr, nr, fr;
	struct unredact_ctx	 u;
	uint8_t			 pub[CRYPTO_SIGN_PUB], sec[CRYPTO_SIGN_SEC];
	uint8_t			 prev[CRYPTO_HASH] = { 0 }, fprev[CRYPTO_HASH];
	uint8_t			 b6[SIGN_BLOCK], b7[SIGN_BLOCK];
	uint8_t			 fb[SIGN_BLOCK], nb[SIGN_BLOCK];
	uint8_t			 other[SIGN_BLOCK];
	uint8_t			 nd[CRYPTO_HASH], fd[CRYPTO_HASH];
	uint64_t		 seq = 0;

	ST_OK(store_test_open(dir, "lao-cai", STORE_ROLE_PROVINCE, NULL,
	    &st));
	ST_OK(crypto_sign_keypair(pub, sec));
	buf_init(&r6, ENTRY_ENCODED_MAX + 256);
	buf_init(&r7, ENTRY_ENCODED_MAX + 256);
	buf_init(&rf, ENTRY_ENCODED_MAX + 256);
	buf_init(&rred, ENTRY_ENCODED_MAX + 256);
	/* cao-bang/6 gives the case to lao-cai, /7 names the person. */
	store_test_entry(&e6, id, "lao-cai", NULL);
	ST_OK(foreign_record(&e6, 6, sec, prev, b6, &r6));
	memcpy(fprev, prev, sizeof(fprev));
	store_test_entry(&e7, id, NULL, "Ana");
	ST_OK(foreign_record(&e7, 7, sec, prev, b7, &r7));
	/* A forked cao-bang's other /7, after the same /6. */
	store_test_entry(&f, id, NULL, "Bob");
	ST_OK(foreign_record(&f, 7, sec, fprev, fb, &rf));
	/* /7 held as an erase leaves it: values redacted to their digest
	 * markers, under the same signature block. */
	entry_copy(&red, &e7);
	ST_CHECK(sign_redact(&red) == 1);
	ST_OK(record_make(&red, b7, &rred));
	memset(&u, 0, sizeof(u));
	memset(&hr, 0, sizeof(hr));
	u.e = &e6;
	hr.data = r6.data;
	hr.len = r6.len;
	u.r = &hr;
	ST_OK(txn_run(st, hold_fn, &u));
	u.e = &red;
	hr.data = rred.data;
	hr.len = rred.len;
	ST_OK(txn_run(st, hold_fn, &u));
	ST_CHECK(held_salted(st, "cao-bang", 7) == 0);
	ST_CHECK(in_table(st, st->log, "cao-bang", 7) == 1);
	ST_CHECK(has_name(st, id) == 1);

	/* The notices as central's feed carries them (batch_decode). */
	memset(&nr, 0, sizeof(nr));
	nr.pos = 3;
	nr.data = r7.data;
	nr.len = r7.len;
	nr.refused = 1;
	fr = nr;
	fr.data = rf.data;
	fr.len = rf.len;
	ST_OK(take(&nr, &ne, nb, nd));
	ST_OK(take(&fr, &fe, fb, fd));
	ST_CHECK(memcmp(nd, fd, CRYPTO_HASH) != 0);
	/* The forked origin's other /7: kept. */
	u.e = &fe;
	u.block = fb;
	u.d = fd;
	u.r = &fr;
	ST_OK(txn_run(st, unrecord_foreign_fn, &u));
	ST_CHECK(in_table(st, st->log, "cao-bang", 7) == 1);
	ST_CHECK(in_table(st, st->refused, "cao-bang", 7) == 0);
	ST_CHECK(has_name(st, id) == 1);
	/* Another entry under the same signature block: kept. */
	u.block = nb;
	ST_OK(txn_run(st, unrecord_foreign_fn, &u));
	ST_CHECK(in_table(st, st->log, "cao-bang", 7) == 1);
	ST_CHECK(in_table(st, st->refused, "cao-bang", 7) == 0);
	/* The same entry under another signature block: kept. */
	memcpy(other, nb, sizeof(other));
	other[0] ^= 1;
	u.e = &ne;
	u.block = other;
	u.d = nd;
	u.r = &nr;
	ST_OK(txn_run(st, unrecord_foreign_fn, &u));
	ST_CHECK(in_table(st, st->log, "cao-bang", 7) == 1);
	ST_CHECK(in_table(st, st->refused, "cao-bang", 7) == 0);
	ST_CHECK(has_name(st, id) == 1);
	ST_CHECK(store_refused_last(st, "cao-bang", &seq, why, sizeof(why),
	    cid) == E_NOTFOUND);
	/* The same signed record, with its values: taken out, kept for
	 * audit, and the case folded again without it. */
	u.block = nb;
	ST_OK(txn_run(st, unrecord_foreign_fn, &u));
	ST_CHECK(in_table(st, st->log, "cao-bang", 7) == 0);
	ST_CHECK(in_table(st, st->refused, "cao-bang", 7) == 1);
	ST_CHECK(in_table(st, st->log, "cao-bang", 6) == 1);
	ST_CHECK(has_name(st, id) == 0);
	ST_OK(store_refused_last(st, "cao-bang", &seq, why, sizeof(why),
	    cid));
	ST_CHECK(seq == 7 && strcmp(why, "refused by central") == 0 &&
	    strcmp(cid, id) == 0);
	entry_release(&e6);
	entry_release(&e7);
	entry_release(&f);
	entry_release(&red);
	entry_release(&ne);
	entry_release(&fe);
	buf_release(&r6);
	buf_release(&r7);
	buf_release(&rf);
	buf_release(&rred);
	store_test_close(&st, dir);
	return 0;
}
#endif

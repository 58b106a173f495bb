/*
 * chain.c - the signed change log: each record (entry and signature block)
 * under origin \0 be64(seq), the case index (caselog) that lists a case's
 * entries, each origin's hash chain, and the scans that send the log to a
 * peer.
 */
#include "store_int.h"
#include "keyhist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* Encodes e and its signature block (NULL: unsigned) as a record. */
int
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
int
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

int
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
int
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

int
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

int
sig_status(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, int signed_)
{
	uint8_t pub[CRYPTO_SIGN_PUB], h[CRYPTO_HASH];

	if (!signed_)
		return -1;
	if (sign_chain(e, block + CRYPTO_SIG, h) != 0)
		return origin_key(st, t, e->origin, e->seq, pub, NULL) != 0 ?
		    -2 : 0;
	return sig_status_hash(st, t, e, block, h);
}

int
sig_status_hash(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, const uint8_t h[CRYPTO_HASH])
{
	uint8_t		pub[CRYPTO_SIGN_PUB];
	uint64_t	revoked;
	int		ok;

	if (origin_key(st, t, e->origin, e->seq, pub, &revoked) != 0)
		return -2;
	ok = sign_verify(pub, block, h);
	return ok == 1 && revoked != 0 && e->seq >= revoked ? 2 : ok;
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
int
log_append(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *rec, size_t reclen, uint64_t *iid, uint8_t *lk,
    size_t *lklen)
{
	uint8_t		ck[CASEKEY_MAX];
	struct buf	sealed;
	MDB_val		k, d;
	int		rc, made = 0;

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
	/* The case index, under the case's internal id (caseid.c): a new
	 * case's first entry goes at the end of the table (MDB_APPEND); an
	 * entry of a case seen before goes in the middle, so it is put the
	 * ordinary way at once, without an append that would fail. */
	if (*iid == 0 &&
	    (rc = caseid_make_new(st, t, e->case_id, iid, &made)) != 0)
		return rc;
	k.mv_data = ck;
	k.mv_size = clog_key(ck, *iid, lk, *lklen);
	d.mv_data = (void *)(uintptr_t)"";
	d.mv_size = 0;
	if (made)
		return put_append(st, t, st->clog, &k, &d, "put caselog");
	rc = mdb_err(st, mdb_put(t, st->clog, &k, &d, 0), "put caselog");
	return rc == E_NOTFOUND ? E_STORE : rc;
}

/*
 * Erasure reaches the log: every record of case id whose identifying
 * values are still there is rewritten with those values replaced by their
 * digests (the signature still verifies, see sign.h).
 */
struct redact_ctx {
	struct store	*st;
	MDB_txn		*t;
	struct buf	 plain, rec, sealed;
};

static int
redact_one(const uint8_t *lkp, size_t lklen, void *arg)
{
	struct redact_ctx	*rx = arg;
	struct store		*st = rx->st;
	MDB_val			 lk = { lklen, (void *)(uintptr_t)lkp }, ld;
	struct entry		 e;
	uint8_t			 block[SIGN_BLOCK];
	int			 signed_, rc;

	if (mdb_get(rx->t, st->log, &lk, &ld) != 0 ||
	    log_unseal(st, lkp, lklen, &ld, &rx->plain) != 0 ||
	    record_split(rx->plain.data, rx->plain.len, &e, block,
	    &signed_) != 0)
		return E_INTEGRITY;
	rc = 0;
	if (sign_redact(&e) > 0) {
		buf_reset(&rx->rec);
		buf_reset(&rx->sealed);
		rc = record_make(&e, signed_ ? block : NULL, &rx->rec);
		if (rc == 0)
			rc = log_seal(st, lkp, lklen, rx->rec.data,
			    rx->rec.len, &rx->sealed);
		if (rc == 0) {
			ld.mv_data = rx->sealed.data;
			ld.mv_size = rx->sealed.len;
			rc = mdb_err(st, mdb_put(rx->t, st->log, &lk, &ld, 0),
			    "redact");
		}
	}
	entry_release(&e);
	return rc;
}

int
redact_case_log(struct store *st, MDB_txn *t, const char *id)
{
	struct redact_ctx	rx;
	int			rc;

	rx.st = st;
	rx.t = t;
	buf_init(&rx.plain, ENTRY_ENCODED_MAX + 256);
	buf_init(&rx.rec, ENTRY_ENCODED_MAX + 256);
	buf_init(&rx.sealed, ENTRY_ENCODED_MAX + 256);
	rc = case_keys(st, t, id, redact_one, &rx);
	crypto_wipe(rx.plain.data, rx.plain.cap);
	buf_release(&rx.plain);
	buf_release(&rx.rec);
	buf_release(&rx.sealed);
	return rc;
}

/* Reads the log record under lk and decodes its entry. */
int
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
struct entries_ctx {
	struct store	*st;
	MDB_txn		*t;
	int		 verify_sig, found;
	int		(*fn)(const struct entry *, int, void *);
	void		*arg;
};

static int
entries_one(const uint8_t *lk, size_t lklen, void *arg)
{
	struct entries_ctx	*ec = arg;
	struct entry		 e;
	int			 sig_ok = -1, rc;

	ec->found = 1;
	if ((rc = log_read(ec->st, ec->t, lk, lklen, &e, ec->verify_sig,
	    &sig_ok)) != 0)
		return rc;
	rc = ec->fn(&e, sig_ok, ec->arg);
	entry_release(&e);
	return rc;
}

int
case_entries(struct store *st, MDB_txn *t, const char *id, int verify_sig,
    int (*fn)(const struct entry *, int, void *), void *arg, int *found)
{
	struct entries_ctx	ec = { st, t, verify_sig, 0, fn, arg };
	int			rc;

	rc = case_keys(st, t, id, entries_one, &ec);
	*found = ec.found;
	return rc;
}

struct case_keys_ctx {
	uint8_t		 prefix[IID_LEN];
	int		(*fn)(const uint8_t *, size_t, void *);
	void		*arg;
	int		 ended;		/* past the case's keys */
};

static int
case_key_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct case_keys_ctx *kc = arg;

	(void)d;
	if (k->mv_size <= IID_LEN ||
	    memcmp(k->mv_data, kc->prefix, IID_LEN) != 0) {
		kc->ended = 1;
		return 1;
	}
	return kc->fn((const uint8_t *)k->mv_data + IID_LEN,
	    k->mv_size - IID_LEN, kc->arg);
}

/* The case index lists a case's entries under its internal id, in log key
 * order.  A case this node never saw has none. */
int
case_keys(struct store *st, MDB_txn *t, const char *id,
    int (*fn)(const uint8_t *, size_t, void *), void *arg)
{
	struct case_keys_ctx	kc;
	uint64_t		iid;
	int			rc;

	if ((rc = caseid_get(st, t, id, &iid)) != 0)
		return rc == E_NOTFOUND ? 0 : rc;
	be64_put(kc.prefix, iid);
	kc.fn = fn;
	kc.arg = arg;
	kc.ended = 0;
	rc = table_each(st, t, st->clog, kc.prefix, IID_LEN, case_key_one,
	    &kc);
	return kc.ended ? 0 : rc;
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

void
rec_batch_free(struct rec_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->recs[i].data);
		free(b->recs[i].reason);
	}
	free(b->recs);
	memset(b, 0, sizeof(*b));
}

void
batch_add(struct rec_batch *b, uint64_t pos, const void *p, size_t len)
{
	b->recs = xreallocarray(b->recs, b->n + 1, sizeof(*b->recs));
	b->recs[b->n].pos = pos;
	b->recs[b->n].data = xmalloc(len);
	memcpy(b->recs[b->n].data, p, len);
	b->recs[b->n].len = len;
	b->recs[b->n].refused = 0;
	b->recs[b->n].reason = NULL;
	b->recs[b->n].reasonlen = 0;
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

/*
 * The record of (origin, seq) as it is held: from the log, or, for an
 * entry of this node that central refused, from the refused table (central
 * counted its position all the same).  E_NOTFOUND when neither has it.
 */
int
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
int
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

int
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


#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE_A	"01a2276e-8c28-78e1-8721-c642e7eb1b40"
#define ST_CASE_B	"01a2276e-8c28-78e1-8721-c642e7eb1b41"

static int
count_keys(const uint8_t *lk, size_t lklen, void *arg)
{
	int *n = arg;

	(void)lk;
	(void)lklen;
	(*n)++;
	return 0;
}

int
chain_selftest(void)
{
	char			 dir[] = "/tmp/casesync-chain-XXXXXX", err[256];
	struct store		*st;
	struct entry		 es[3], e;
	struct rec_batch	 b;
	struct buf		 rb;
	uint8_t			 h1[CRYPTO_HASH], h2[CRYPTO_HASH];
	uint8_t			 block[SIGN_BLOCK];
	MDB_txn			*t;
	int			 na = 0, nb = 0, signed_;

	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	store_test_entry(&es[0], ST_CASE_A, "ha-noi", "Ana");
	store_test_entry(&es[1], ST_CASE_B, "ha-noi", "Binh");
	store_test_entry(&es[2], ST_CASE_A, NULL, "Ana Le");
	ST_OK(store_write_local(st, es, 3, err, sizeof(err)));
	/* The case index lists each case's entries, and only those. */
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	ST_OK(case_keys(st, t, ST_CASE_A, count_keys, &na));
	ST_OK(case_keys(st, t, ST_CASE_B, count_keys, &nb));
	ST_CHECK(na == 2 && nb == 1);
	/* The chain head is the chain after the last entry. */
	ST_OK(chain_at(st, t, "ha-noi", 3, h1));
	mdb_txn_abort(t);
	ST_OK(store_chain_head(st, "ha-noi", h2));
	ST_CHECK(memcmp(h1, h2, CRYPTO_HASH) == 0);
	ST_OK(store_chain_at(st, "ha-noi", 2, h1));
	ST_CHECK(memcmp(h1, h2, CRYPTO_HASH) != 0);
	/* A record read back splits into the entry that was written, and
	 * encodes to the same bytes. */
	ST_OK(store_scan_own(st, 1, STORE_BATCH_BYTES, &b));
	ST_CHECK(b.n == 2 && b.recs[0].pos == 2 && !b.more);
	ST_OK(record_split(b.recs[1].data, b.recs[1].len, &e, block,
	    &signed_));
	ST_CHECK(signed_ && e.seq == 3 && strcmp(e.case_id, ST_CASE_A) == 0);
	buf_init(&rb, ENTRY_ENCODED_MAX);
	ST_OK(record_make(&e, block, &rb));
	ST_CHECK(rb.len == b.recs[1].len &&
	    memcmp(rb.data, b.recs[1].data, rb.len) == 0);
	buf_release(&rb);
	entry_release(&e);
	rec_batch_free(&b);
	for (int i = 0; i < 3; i++)
		entry_release(&es[i]);
	store_test_close(&st, dir);
	return 0;
}
#endif

/*
 * batch.c - a received batch, as both roles take it: each record's place
 * in the sequence, its decoding and signature digest, and what happens to
 * an entry that passed the role's checks (refused, held, or applied).
 * batch_one is the loop's body both roles share; from_province.c and
 * from_central.c hold what each checks.
 */
#include "store_int.h"
#include "apply_int.h"
#include "offer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* Is r the next position?  0: yes (or the first of a later incarnation
 * where allowed, *fork set); 1: already covered; E_GAP otherwise.  A
 * province accepts only the first position of a restored central's
 * incarnation; central checks the entry's fork itself. */
static int
batch_position(struct batch *b, const struct rec *r, int any_fork,
    int *fork)
{
	if (r->pos <= b->cursor) {
		b->stats->duplicates++;
		return 1;
	}
	*fork = r->pos != b->cursor + 1;
	if (*fork && !(POS_INC(r->pos) > POS_INC(b->cursor) && (any_fork ||
	    POS_LOW(r->pos) == 1))) {
		snprintf(b->err, b->errsz, "gap from %s: expected %llu, got "
		    "%llu", b->peer, (unsigned long long)b->cursor + 1,
		    (unsigned long long)r->pos);
		return E_GAP;
	}
	return 0;
}

/* Decodes a received record; only a signed one is taken (*e: caller
 * owns on success).  d gets the digest its signature covers (sign.h),
 * hashed from the received bytes. */
static int
batch_decode(struct batch *b, const struct rec *r, struct entry *e,
    uint8_t block[SIGN_BLOCK], uint8_t d[CRYPTO_HASH])
{
	const uint8_t	*ent, *sig;
	size_t		 entlen, siglen;

	entry_init(e);
	if (record_decode(r->data, r->len, &ent, &entlen, &sig, &siglen) !=
	    0 || entry_decode(ent, entlen, e) != 0) {
		snprintf(b->err, b->errsz, "record %llu from %s does not "
		    "decode", (unsigned long long)r->pos, b->peer);
		return E_PROTO;
	}
	if (siglen != SIGN_BLOCK) {
		snprintf(b->err, b->errsz, "entry %s/%llu from %s is not "
		    "signed", e->origin, (unsigned long long)e->seq, b->peer);
		entry_release(e);
		return E_AUTH;
	}
	memcpy(block, sig, SIGN_BLOCK);
	if (sign_digest(b->sh, e, ent, entlen, d) != 0) {
		snprintf(b->err, b->errsz, "entry %s/%llu from %s cannot be "
		    "hashed", e->origin, (unsigned long long)e->seq, b->peer);
		entry_release(e);
		return E_PROTO;
	}
	return 0;
}

static int
batch_refuse(struct store *st, MDB_txn *t, struct batch *b,
    const struct entry *e, const char *why, const struct rec *r)
{
	int rc;

	if ((rc = refuse(st, t, e, why, r)) != 0)
		return rc;
	b->stats->refused++;
	b->stats->bytes += r->len;
	b->pi.refused++;
	return 0;
}

/*
 * What both roles do with a received entry that passed their checks: why
 * non-empty refuses it; otherwise it is applied, and central (soft_limits)
 * refuses one that would take its case over a soft limit.  *applied is
 * set when the entry went through apply_entry (new or already held).
 * pre (NULL: none) is released or passed on to apply_entry.
 */
static int
batch_accept(struct store *st, MDB_txn *t, struct batch *b,
    const struct rec *r, struct entry *e, const uint8_t *block,
    struct preload *pre, char *why, size_t whysz, int soft_limits,
    int *applied)
{
	size_t	nrefer = 0;
	int	how, rc;

	*applied = 0;
	if (why[0] != '\0' || strcmp(e->origin, st->node) == 0)
		preload_release(pre);
	if (why[0] != '\0')
		return batch_refuse(st, t, b, e, why, r);
	if (strcmp(e->origin, st->node) == 0) {
		/* Our own entry echoed back: we hold it. */
		b->stats->duplicates++;
		return 0;
	}
	for (size_t k = 0; k < e->nops; k++)
		nrefer += e->ops[k].type == OP_TRANSFER &&
		    strcmp(e->ops[k].to, e->origin) != 0 &&
		    strcmp(e->ops[k].to, st->node) != 0;
	nrefer += offer_count_made(e);
	rc = apply_entry(st, t, e, block, r, pre, &how, soft_limits ? why :
	    NULL, whysz);
	if (rc != 0)
		return rc;
	if (how & APPLY_OVER_LIMIT) {
		/* Central keeps every case within the soft limits, so that
		 * no province's copy can reach a hard one (merge.h). */
		return batch_refuse(st, t, b, e, why, r);
	}
	/* Within the skew bound only: an accepted erase may be stamped
	 * hours ahead (erase_only), and must not drag this node's clock,
	 * and so its own later entries, along. */
	hlc_update(&b->clock, e->hlc, b->w);
	*applied = 1;
	if (how & APPLY_HELD) {
		b->stats->duplicates++;
	} else {
		b->stats->applied++;
		b->stats->bytes += r->len;
		if (how & APPLY_NEW_CASE)
			b->stats->new_cases++;
		b->stats->referrals += nrefer;
	}
	if (how & APPLY_MOVED_AWAY)
		b->stats->moved_away++;
	return 0;
}

int
batch_begin(struct store *st, MDB_txn *t, struct batch *b)
{
	uint64_t	last;
	int		rc;

	memset(b->stats, 0, sizeof(*b->stats));
	b->w = wall(st);
	rc = peer_read(st, t, b->peer, &b->pi);
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	if ((rc = get_u64(st, t, st->meta, "hlc", &last)) != 0)
		return rc;
	hlc_init(&b->clock, last, st->skew_ms);
	return 0;
}

int
batch_end(struct store *st, MDB_txn *t, struct batch *b)
{
	int rc;

	b->stats->last_pos = b->cursor;
	if ((rc = peer_write(st, t, &b->pi)) != 0)
		return rc;
	return put_u64(st, t, st->meta, "hlc", b->clock.last);
}

int
batch_one(struct store *st, MDB_txn *t, struct batch *b,
    const struct batch_role *role, const struct rec *r)
{
	struct entry	e;
	uint8_t		block[SIGN_BLOCK], d[CRYPTO_HASH];
	char		why[200];
	struct preload	pre = { .rc = PRELOAD_NONE };
	int		fork, applied = 0, rc;

	if ((rc = batch_position(b, r, role->any_fork, &fork)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = batch_decode(b, r, &e, block, d)) != 0)
		return rc;
	why[0] = '\0';
	rc = role->check(st, t, b, r, fork, &e, block, d, &pre, why,
	    sizeof(why));
	if (rc == 0)
		rc = batch_accept(st, t, b, r, &e, block, &pre, why,
		    sizeof(why), role->soft_limits, &applied);
	else
		preload_release(&pre);
	if (rc == BATCH_TAKEN)
		rc = 0;
	else if (rc == 0 && applied && role->applied != NULL)
		rc = role->applied(st, t, b, &e);
	entry_release(&e);
	return rc;
}

int
batch_new(const char *peer, const struct rec *recs, size_t n,
    struct apply_stats *stats, char *err, size_t errsz, struct batch **bp)
{
	struct batch	*b = xcalloc(1, sizeof(*b));
	int		 rc;

	b->peer = peer;
	b->recs = recs;
	b->n = n;
	b->stats = stats;
	b->err = err;
	b->errsz = errsz;
	if ((rc = crypto_sha_new(&b->sh)) != 0) {
		free(b);
		b = NULL;
	}
	*bp = b;
	return rc;
}

void
batch_free(struct batch **bp)
{
	if (*bp == NULL)
		return;
	crypto_sha_free(&(*bp)->sh);
	free(*bp);
	*bp = NULL;
}

/*
 * An empty batch (a nightly sync's feed usually is) changes nothing: its
 * position is read, without a write transaction and the fsync of its
 * commit, which cost a province a few milliseconds on every sync.
 */
static int
batch_empty(struct store *st, const char *peer, struct apply_stats *stats,
    int (*pos)(struct store *, MDB_txn *, const char *, uint64_t *))
{
	MDB_txn	*t;
	int	 rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = pos(st, t, peer, &stats->last_pos);
	mdb_txn_abort(t);
	return rc;
}

int
batch_run(struct store *st, const char *peer, const struct rec *recs,
    size_t n, struct apply_stats *stats, char *err, size_t errsz,
    int (*fn)(struct store *, MDB_txn *, void *),
    int (*pos)(struct store *, MDB_txn *, const char *, uint64_t *))
{
	struct batch	*b;
	int		 rc;

	err[0] = '\0';
	if (n == 0)
		return batch_empty(st, peer, stats, pos);
	if ((rc = batch_new(peer, recs, n, stats, err, errsz, &b)) == 0)
		rc = txn_run(st, fn, b);
	batch_free(&b);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
	return rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE	"01a2276e-8c28-78e1-8721-c642e7eb1b40"

int
batch_test_enrol(struct store *st, const char *node, const uint8_t pub[32])
{
	struct node_key nk;

	memset(&nk, 0, sizeof(nk));
	strlcpy_(nk.node, node, sizeof(nk.node));
	nk.status = KEY_ACTIVE;
	memcpy(nk.sign_pub, pub, 32);
	return store_key_put(st, &nk);
}

static int
write_one(struct store *st, const char *to, const char *name)
{
	struct entry	e;
	char		err[256];
	int		rc;

	store_test_entry(&e, ST_CASE, to, name);
	rc = store_write_local(st, &e, 1, err, sizeof(err));
	entry_release(&e);
	return rc;
}

int
apply_selftest(void)
{
	char			 dc[] = "/tmp/casesync-apply-c-XXXXXX";
	char			 d1[] = "/tmp/casesync-apply-1-XXXXXX";
	char			 d2[] = "/tmp/casesync-apply-2-XXXXXX";
	char			 err[256];
	struct store		*c, *p1, *p2;
	uint8_t			 kc[32], k1[32], k2[32];
	struct rec_batch	 b, f;
	struct apply_stats	 as;
	struct case_state	 s;
	uint64_t		 vv, bad, nc, ne;
	uint8_t			 saved;

	ST_OK(store_test_open(dc, "central", STORE_ROLE_CENTRAL, kc, &c));
	ST_OK(store_test_open(d1, "ha-noi", STORE_ROLE_PROVINCE, k1, &p1));
	ST_OK(store_test_open(d2, "cao-bang", STORE_ROLE_PROVINCE, k2, &p2));
	ST_OK(batch_test_enrol(c, "ha-noi", k1));
	ST_OK(batch_test_enrol(c, "cao-bang", k2));
	ST_OK(batch_test_enrol(p1, "central", kc));

	/* A province's own run reaches central once; again is a no-op. */
	ST_OK(write_one(p1, "ha-noi", "Ana"));
	ST_OK(write_one(p1, NULL, "Ana Le"));
	ST_OK(store_scan_own(p1, 0, STORE_BATCH_BYTES, &b));
	ST_CHECK(b.n == 2);
	ST_OK(store_apply_from_province(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 2 && as.new_cases == 1 && as.last_pos == 2);
	ST_OK(store_apply_from_province(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 0 && as.duplicates == 2);
	/* From another origin than the peer: not taken. */
	ST_CHECK(store_apply_from_province(c, "cao-bang", b.recs, b.n, &as, err,
	    sizeof(err)) == E_PROTO);
	rec_batch_free(&b);

	/* A gap, and a batch whose last link is altered: nothing applied. */
	ST_OK(write_one(p1, NULL, "Ana Le Thi"));
	ST_OK(write_one(p1, NULL, "Ana Le Thi B"));
	ST_OK(store_scan_own(p1, 2, STORE_BATCH_BYTES, &b));
	ST_CHECK(b.n == 2);
	ST_CHECK(store_apply_from_province(c, "ha-noi", b.recs + 1, 1, &as, err,
	    sizeof(err)) == E_GAP);
	saved = b.recs[1].data[b.recs[1].len - 1];
	b.recs[1].data[b.recs[1].len - 1] ^= 1;
	ST_CHECK(store_apply_from_province(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)) == E_AUTH);
	ST_OK(store_vv_get(c, "ha-noi", &vv));
	ST_CHECK(vv == 2);
	b.recs[1].data[b.recs[1].len - 1] = saved;
	ST_OK(store_apply_from_province(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 2);
	rec_batch_free(&b);

	/* Another province may not write the case: refused and kept for
	 * audit, the notice in its feed; the batch still applies. */
	ST_OK(write_one(p2, "cao-bang", "Mallory"));
	ST_OK(store_scan_own(p2, 0, STORE_BATCH_BYTES, &b));
	ST_OK(store_apply_from_province(c, "cao-bang", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 0 && as.refused == 1 && as.last_pos == 1);
	ST_OK(store_vv_get(c, "cao-bang", &vv));
	ST_CHECK(vv == 1);
	rec_batch_free(&b);
	/* Central's copy keeps the owner's name. */
	ST_OK(store_case_get(c, ST_CASE, &s));
	ST_CHECK(strcmp(s.owner, "ha-noi") == 0);
	state_release(&s);
	/* The refusal comes back to that province, which takes its entry
	 * out of its copy. */
	ST_OK(batch_test_enrol(p2, "central", kc));
	ST_OK(store_scan_feed(c, "cao-bang", 0, STORE_BATCH_BYTES, &f));
	ST_CHECK(f.n == 1);
	ST_OK(store_apply_from_central(p2, "central", f.recs, f.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.duplicates == 1);
	ST_CHECK(store_case_get(p2, ST_CASE, &s) == E_NOTFOUND);
	rec_batch_free(&f);

	/* Central may change any case: the owner gets it in its feed. */
	ST_OK(write_one(c, NULL, "Ana Le Thi C"));
	ST_OK(store_scan_feed(c, "ha-noi", 0, STORE_BATCH_BYTES, &f));
	ST_CHECK(f.n == 1);
	ST_OK(store_apply_from_central(p1, "central", f.recs, f.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 1 && as.last_pos == 1);
	/* Again: already held. */
	ST_CHECK(store_apply_from_central(p1, "central", f.recs, f.n, &as, err,
	    sizeof(err)) == 0 && as.duplicates == 1);
	rec_batch_free(&f);
	/* ... nor change a case it does not own. */
	ST_CHECK(write_one(p2, NULL, "x") == E_NOTFOUND);

	/* Both copies are their logs' folds, and agree. */
	ST_OK(store_verify(c, &nc, &ne, &bad, err, sizeof(err)));
	ST_OK(store_verify(p1, &nc, &ne, &bad, err, sizeof(err)));
	{
		struct case_state	a;
		struct buf		ea, eb;

		ST_OK(store_case_get(c, ST_CASE, &s));
		ST_OK(store_case_get(p1, ST_CASE, &a));
		buf_init(&ea, STATE_ENCODED_MAX);
		buf_init(&eb, STATE_ENCODED_MAX);
		ST_OK(state_encode(&s, &ea));
		ST_OK(state_encode(&a, &eb));
		ST_CHECK(ea.len == eb.len && memcmp(ea.data, eb.data,
		    ea.len) == 0);
		buf_release(&ea);
		buf_release(&eb);
		state_release(&a);
		state_release(&s);
	}
	store_test_close(&c, dc);
	store_test_close(&p1, d1);
	store_test_close(&p2, d2);
	return 0;
}
#endif

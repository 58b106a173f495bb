/*
 * from_province.c - central takes a province's entries: a batch of the
 * province's own run (store_apply_from_province, and group.c for several
 * in one transaction), and other provinces' entries given back after
 * central's restore (GIVE, store_apply_given).
 */
#include "store_int.h"
#include "apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/*
 * Central: what it checks of one record of a province's own run (the
 * province's role in batch_one).  Each must be the next seq of that
 * origin (or fork from an entry central holds) and link to the one
 * before it; the batch's last signature covers the run (from_province_fn).
 * An entry the province may not write is refused, the rest applied.
 */
static int
province_check(struct store *st, MDB_txn *t, struct batch *b,
    const struct rec *r, int fork, struct entry *e, const uint8_t *block,
    const uint8_t *d, struct preload *pre, char *why, size_t whysz)
{
	uint64_t	krev = 0;
	int		rc;

	if (strcmp(e->origin, b->peer) != 0 || e->seq != r->pos) {
		snprintf(b->err, b->errsz, "record %llu from %s is %s/%llu",
		    (unsigned long long)r->pos, b->peer, e->origin,
		    (unsigned long long)e->seq);
		return E_PROTO;
	}
	if (fork) {
		if (!fork_links(st, t, e->origin, r->pos, block + CRYPTO_SIG,
		    b->cursor, b->chain)) {
			snprintf(b->err, b->errsz, "entry %s/%llu starts a new "
			    "incarnation but does not fork from an entry "
			    "central holds", e->origin,
			    (unsigned long long)e->seq);
			return E_AUTH;
		}
		memcpy(b->chain, block + CRYPTO_SIG, CRYPTO_HASH);
	}
	/* The province's own run: each entry must link to the one before. */
	if (crypto_memcmp(block + CRYPTO_SIG, b->chain, CRYPTO_HASH) != 0) {
		snprintf(b->err, b->errsz, "entry %s/%llu does not continue "
		    "its origin's chain", e->origin,
		    (unsigned long long)e->seq);
		return E_AUTH;
	}
	sign_link(b->sh, b->chain, d, b->chain);
	b->tail_seq = e->seq;
	memcpy(b->tail_block, block, SIGN_BLOCK);
	memcpy(b->tail_h, b->chain, CRYPTO_HASH);
	b->have_tail = 1;
	/* Key history: an entry outside its origin's latest key is not
	 * covered by the batch's last signature (keyhist.h). */
	if ((rc = key_range_check(st, t, e, block, b->chain, &krev)) != 0) {
		snprintf(b->err, b->errsz, "entry %s/%llu: its signature does "
		    "not verify with the key %s had at that position",
		    e->origin, (unsigned long long)e->seq, e->origin);
		return rc;
	}
	b->cursor = r->pos;
	/* Central holds it already: given back by another province after
	 * central's restore (store_apply_given).  Its chain link was checked
	 * above. */
	if (!r->refused) {
		MDB_val	lv, dv;
		uint8_t	lk[LOGKEY_MAX];

		lv.mv_data = lk;
		lv.mv_size = seqkey(lk, e->origin, e->seq);
		rc = mdb_get(t, st->log, &lv, &dv);
		if (rc == 0) {
			if (e->hlc > b->hw)
				b->hw = e->hlc;
			b->stats->duplicates++;
			return BATCH_TAKEN;
		}
		if (rc != MDB_NOTFOUND)
			return mdb_err(st, rc, "get log");
	}
	/* Resent by its origin after central's restore, though central had
	 * refused it: refused again, whatever the case looks like now,
	 * since the origin took it out of its copy.  Only central bounds
	 * stamps by its clock (see central_check in from_central.c). */
	if (r->refused)
		snprintf(why, whysz, "refused before central's restore");
	else if (krev != 0)
		revoked_why(st, t, e, why, whysz);
	else if (!erase_only(e) && !hlc_check_skew(e->hlc, b->w, st->skew_ms))
		snprintf(why, whysz, "stamped %llu ms in the future, "
		    "beyond the %llu ms skew bound",
		    (unsigned long long)(HLC_MS(e->hlc) - b->w),
		    (unsigned long long)st->skew_ms);
	else if (!stamps_within_skew(e, b->w, st->skew_ms))
		snprintf(why, whysz, "a base or also[] stamp is beyond "
		    "the %llu ms skew bound", (unsigned long long)st->skew_ms);
	else if (check_ops(e, why, whysz) != 0)
		;
	else if ((rc = authorise(st, t, e, b->hw, pre, why, whysz)) != 0 &&
	    rc != E_AUTH)
		return rc;
	if (e->hlc > b->hw)
		b->hw = e->hlc;
	return 0;
}

static const struct batch_role province_role = {
	.any_fork = 1,
	.soft_limits = 1,
	.check = province_check,
	.applied = NULL,
};

int
from_province_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct batch	*b = arg;
	char		 hwk[HLC_NODE_MAX + 8];
	uint64_t	 vv, hw0 = 0;
	int		 rc;

	b->have_tail = 0;
	snprintf(hwk, sizeof(hwk), "ohw:%s", b->peer);
	if ((rc = batch_begin(st, t, b)) != 0 ||
	    (rc = get_u64(st, t, st->vv, b->peer, &vv)) != 0 ||
	    (rc = chain_get(st, t, b->peer, b->chain)) != 0 ||
	    (rc = get_u64(st, t, st->meta, hwk, &hw0)) != 0)
		return rc;
	b->hw = hw0;
	b->cursor = vv;
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = batch_one(st, t, b, &province_role, &b->recs[i]);
	/* One signature check per batch: the chain links every entry of the
	 * run to the last one, whose signature covers them all. */
	if (rc == 0 && b->have_tail) {
		uint8_t pub[CRYPTO_SIGN_PUB];

		if (origin_key(st, t, b->peer, b->tail_seq, pub, NULL) != 0 ||
		    sign_verify(pub, b->tail_block, b->tail_h) != 1) {
			snprintf(b->err, b->errsz, "batch from %s: the "
			    "signature of entry %llu does not verify",
			    b->peer, (unsigned long long)b->tail_seq);
			rc = E_AUTH;
		}
	}
	if (rc == 0 && b->cursor > vv)
		rc = quota_charge(st, t, b->peer, b->stats, b->err, b->errsz);
	if (rc == 0)
		rc = put_u64(st, t, st->vv, b->peer, b->cursor);
	if (rc == 0)
		rc = chain_put(st, t, b->peer, b->chain);
	if (rc == 0 && b->hw != hw0)
		rc = put_u64(st, t, st->meta, hwk, b->hw);
	if (rc == 0)
		rc = batch_end(st, t, b);
	return rc;
}

int
from_province_pos(struct store *st, MDB_txn *t, const char *peer,
    uint64_t *pos)
{
	return get_u64(st, t, st->vv, peer, pos);
}

int
store_apply_from_province(struct store *st, const char *peer,
    const struct rec *recs, size_t n, struct apply_stats *stats, char *err,
    size_t errsz)
{
	return batch_run(st, peer, recs, n, stats, err, errsz,
	    from_province_fn, from_province_pos);
}

/*
 * Central: entries of other provinces that a province gives back after
 * central's restore (GIVE).  Each is taken as if its origin had sent it,
 * except for its place in the origin's chain, which the origin's own
 * stream fills in later (the entry is then held: province_check).  One
 * that central cannot judge now (its origin's key unknown, its owner not
 * shown by the transfers central holds) is skipped, never refused: its
 * origin still holds it and will send it, to be judged then.
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
		struct preload		 pre = { .rc = PRELOAD_NONE };
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
		else if ((rc = authorise(st, t, &e, hw, &pre, why,
		    sizeof(why))) != 0 && rc != E_AUTH) {
			preload_release(&pre);
			entry_release(&e);
			return rc;
		}
		rc = 0;
		if (why[0] == '\0') {
			rc = apply_entry(st, t, &e, block, r, &pre, &how, why,
			    sizeof(why));
			if (rc == 0 && (how & APPLY_OVER_LIMIT))
				how = APPLY_HELD;	/* left to its origin */
			else if (rc == 0 && !(how & APPLY_HELD))
				hlc_update(&clock, e.hlc, w);
		} else {
			preload_release(&pre);
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

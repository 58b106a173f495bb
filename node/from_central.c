/*
 * from_central.c - a province takes its feed from central
 * (store_apply_from_central): every entry's signature checked, central's
 * refusals of its own entries taken out of its copy, and an entry held
 * redacted by a refused erase of its own taken again with its values.
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
 * Province: what it checks of one record of its feed from central (its
 * role in batch_one).  Each must be the next feed position; every entry's
 * signature is checked (central checks one per batch, so its log may
 * hold an entry that does not verify: refused here like any bad entry,
 * since failing the whole batch would block every later sync;
 * docs/SECURITY.md).  Our own entry in the feed is central's refusal of
 * it.
 */
static int
central_check(struct store *st, MDB_txn *t, struct batch *b,
    const struct rec *r, int fork, struct entry *e, const uint8_t *block,
    const uint8_t *d, struct preload *pre, char *why, size_t whysz)
{
	uint8_t	h[CRYPTO_HASH];
	int	sig = 1, rc;

	(void)fork;
	(void)pre;
	sign_link(b->sh, block + CRYPTO_SIG, d, h);
	if (strcmp(e->origin, st->node) != 0 &&
	    (sig = sig_status_hash(st, t, e, block, h)) != 1 && sig != 0 &&
	    sig != 2) {
		/* The origin's key is not known yet: retry later. */
		snprintf(b->err, b->errsz, "entry %s/%llu from %s: its "
		    "signature does not verify", e->origin,
		    (unsigned long long)e->seq, b->peer);
		return E_AUTH;
	}
	b->cursor = r->pos;
	b->freflen = seqkey(b->fref, e->origin, e->seq);
	if (strcmp(e->origin, st->node) == 0) {
		/* Our own entry in our feed: central refused it. */
		if ((rc = unrecord_own(st, t, e, r)) != 0)
			return rc;
		b->stats->duplicates++;
		return BATCH_TAKEN;
	}
	if (r->refused) {
		/* Another province's entry that central refused, and
		 * that another central had routed here (feed_refused);
		 * only a record that verifies takes one out, and only the
		 * same signed record as the one held (unrecord_foreign). */
		if (sig != 0 && (rc = unrecord_foreign(st, t, e, block, d,
		    r)) != 0)
			return rc;
		b->stats->duplicates++;
		return BATCH_TAKEN;
	}
	/* A province takes its feed as central accepted it, with no bound
	 * on stamps: refusing an entry here drops it for good (the feed
	 * cursor moves on) when only the province's clock is behind
	 * (docs/RELIABILITY.md, bug 1). */
	if (sig == 0)
		snprintf(why, whysz, "its signature does not verify with the "
		    "key of %s", e->origin);
	else if (sig == 2)
		revoked_why(st, t, e, why, whysz);
	else
		batch_check_ops(b, e, why, whysz);
	if (why[0] == '\0') {
		int done;

		/* Held redacted by an erase of ours that central refused:
		 * the values come back (log_unredact). */
		if ((rc = log_unredact(st, t, e, block, d, r, &done)) != 0)
			return rc;
		if (done) {
			b->stats->duplicates++;
			return BATCH_TAKEN;
		}
	}
	return 0;
}

/* Province: an applied entry moves its origin's vector on. */
static int
central_applied(struct store *st, MDB_txn *t, struct batch *b,
    const struct entry *e)
{
	uint64_t	ov;
	int		rc;

	(void)b;
	if ((rc = get_u64(st, t, st->vv, e->origin, &ov)) == 0 &&
	    e->seq > ov)
		rc = put_u64(st, t, st->vv, e->origin, e->seq);
	return rc;
}

static const struct batch_role central_role = {
	.any_fork = 0,
	.soft_limits = 0,
	.check = central_check,
	.applied = central_applied,
};

/* Province: a batch of its feed from central (txn_run). */
static int
from_central_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct batch	*b = arg;
	int		 rc;

	b->freflen = 0;
	if ((rc = batch_begin(st, t, b)) != 0)
		return rc;
	b->cursor = b->pi.feed_recv;
	for (size_t i = 0; i < b->n && rc == 0; i++)
		rc = batch_one(st, t, b, &central_role, &b->recs[i]);
	if (rc != 0)
		return rc;
	b->pi.feed_recv = b->cursor;
	if (b->freflen > 0) {
		char	mk[HLC_NODE_MAX + 8];
		MDB_val	k, d;

		/* Which entry sits at the feed position we hold: central
		 * checks it at the next HELLO (a central put back from a
		 * copy of its files would have reused the position). */
		snprintf(mk, sizeof(mk), "fref:%s", b->peer);
		k.mv_data = mk;
		k.mv_size = strlen(mk);
		d.mv_data = b->fref;
		d.mv_size = b->freflen;
		rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put fref");
	}
	if (rc == 0)
		rc = batch_end(st, t, b);
	return rc;
}

/* Province: the feed position its batches from central have reached. */
static int
central_pos(struct store *st, MDB_txn *t, const char *peer, uint64_t *pos)
{
	struct peer_info	pi;
	int			rc;

	rc = peer_read(st, t, peer, &pi);
	if (rc == 0 || rc == E_NOTFOUND) {
		*pos = pi.feed_recv;
		rc = 0;
	}
	return rc;
}

int
store_apply_from_central(struct store *st, const char *peer,
    const struct rec *recs, size_t n, struct apply_stats *stats, char *err,
    size_t errsz)
{
	return batch_run(st, peer, recs, n, stats, err, errsz,
	    from_central_fn, central_pos);
}

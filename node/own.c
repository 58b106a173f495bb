/*
 * own.c - this node's own entries: written here (store_write_local:
 * checked by authorise_local, numbered, stamped, signed and applied), and
 * given back by a peer after a restore (store_apply_own).
 */
#include "store_int.h"
#include "apply_int.h"
#include "merge.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

struct local_ctx {
	struct entry	*es;
	size_t		 n;
	char		*err;
	size_t		 errsz;
};

/*
 * The stamps the author saw: each set without a base gets the winner of
 * its field in s as its base.  Other heads that hold the value the author
 * saw are superseded too: left alone they would turn into conflicts with
 * the new value (see mt_same_value_heads in merge.c).
 *
 * A province's erase gets the stamp of the transfer that made the owner
 * in s, in the transaction that checked that this node owns the case
 * (authorise_local): central judges by it whether a former owner erased
 * before it heard of a change of owner (authorise.c, erase_view_ok).
 * Central never needs it (it may always erase), and leaves it out so that
 * its erases still decode on a province of an older release
 * (docs/PROTOCOL.md, "Erase: the owner the writer saw").
 */
static void
bases_fill(const struct case_state *s, struct entry *e, int central)
{
	for (size_t j = 0; j < e->nops; j++) {
		struct op		*o = &e->ops[j];
		const struct field	*f;
		const struct head	*w;

		if (o->type == OP_ERASE && !central && o->base.hlc == 0) {
			o->base = s->owner_st;
			continue;
		}
		if (o->type != OP_SET || o->base.hlc != 0)
			continue;
		if ((f = merge_field(s, o->path)) == NULL ||
		    (w = merge_winner(f)) == NULL)
			continue;
		o->base = w->st;
		for (size_t h = 0; h + 1 < f->nheads &&
		    o->nalso < ENTRY_MAX_ALSO; h++)
			if (f->heads[h].value_len == w->value_len &&
			    memcmp(f->heads[h].value, w->value,
			    w->value_len) == 0)
				*op_also_add(o) = f->heads[h].st;
	}
}

/*
 * Raises the clock to every stamp of s, so that e is stamped after all
 * that its author saw: the transfer that made the owner, the referral an
 * answer answers, the values it replaces.  A province whose wall clock is
 * behind ignores central's stamps (hlc_update's skew bound, batch.c), so
 * without this its answer to an offer could be stamped before the offer,
 * and its update before the transfer that made it the owner: written and
 * acknowledged here, then refused by central at the next sync (chaos seed
 * 8; test_offers.py, test_answer_from_province_with_clock_behind).  Each
 * of these stamps passed central's skew check when central took it, so
 * following them is what a hybrid logical clock does anyway; an erase's
 * did not, and is left out (test_chaos.py,
 * test_erase_stamped_ahead_does_not_push_the_clock).
 */
static void
case_depends(const struct case_state *s, struct hlc *clock)
{
	uint64_t	top = s->owner_st.hlc;

	/* Not s->erased: central takes an erase stamped beyond its skew
	 * bound (a province's clock ahead must not keep a person's data
	 * from being erased; from_province.c), so following it would stamp
	 * this node's every later write hours ahead, and central would
	 * refuse them all (chaos seed 28 of SEED=21 at 610e6c8). */
	for (size_t i = 0; i < s->nevents; i++)
		if (s->events[i].st.hlc > top)
			top = s->events[i].st.hlc;
	for (size_t i = 0; i < s->nfields; i++) {
		const struct field *f = &s->fields[i];

		/* Heads are sorted by stamp: the last is the latest. */
		if (f->nheads > 0 && f->heads[f->nheads - 1].st.hlc > top)
			top = f->heads[f->nheads - 1].st.hlc;
	}
	if (top > clock->last)
		clock->last = top;
}

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
			if (authorise_local(st, &s, e, dropped, why,
			    sizeof(why)) != 0) {
				snprintf(lc->err, lc->errsz, "entry %zu: %s",
				    i + 1, why);
				rc = E_CONFLICT;
			} else {
				bases_fill(&s, e, is_central(st));
				case_depends(&s, &clock);
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
		if ((rc = apply_entry(st, t, e, block, NULL, NULL, &how, why,
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
	{
		/* A central fenced by a promoted standby takes no writes of
		 * its own either (docs/HA.md). */
		uint64_t by = 0;

		if (store_meta_u64_get(st, "fenced", &by) == 0 && by != 0) {
			snprintf(err, errsz, "this central is fenced: a standby "
			    "was promoted to central at epoch %llu; write there "
			    "(rebuild this one with `casesync rejoin`)",
			    (unsigned long long)by);
			return E_CONFLICT;
		}
	}
	rc = txn_run(st, local_fn, &lc);
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errsz, "%s", err_str(rc));
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
		rc = apply_entry(st, t, &e, block, r, NULL, &how, NULL, 0);
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

/*
 * apply.c - who may write a case, and how an accepted entry is applied:
 * local writes, batches a province sends central, batches central sends a
 * province, and this node's own entries given back after a restore.  Each
 * batch is one transaction (txn_run).
 */
#include "store_int.h"
#include "keyhist.h"
#include "merge.h"
#include "offer.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

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

/*
 * The row of a case as a caller loaded it (case_load_raw) before it
 * decided to apply an entry: rc 0 with s, E_NOTFOUND, or PRELOAD_NONE
 * when nothing was loaded.  apply_entry takes it over, so that the case
 * is read and decoded once.
 */
#define PRELOAD_NONE	1
struct preload {
	int			rc;
	struct case_state	s;
};

static void
preload_release(struct preload *pre)
{
	if (pre != NULL && pre->rc == 0)
		state_release(&pre->s);
	if (pre != NULL)
		pre->rc = PRELOAD_NONE;
}

/* With why != NULL, an entry that would take the case over a soft limit
 * (merge.h) is not applied: *how gets APPLY_OVER_LIMIT and why the
 * reason.  pre (NULL: none) is the case's row as the caller loaded it in
 * this transaction; apply_entry releases it. */
static int
apply_entry(struct store *st, MDB_txn *t, struct entry *e,
    const uint8_t *block, const struct rec *r, struct preload *pre,
    int *how, char *why, size_t whysz)
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
		preload_release(pre);
		*how = APPLY_HELD;
		return 0;
	}
	if (rc != MDB_NOTFOUND) {
		preload_release(pre);
		return mdb_err(st, rc, "get log");
	}
	/* Sealed values stay sealed: the merge never reads a value, and
	 * case_save seals only the new ones (value_seal skips sealed bytes),
	 * so opening and resealing every identifying value of the case on
	 * each apply would be wasted work (docs/PERFORMANCE.md). */
	if (pre != NULL && pre->rc != PRELOAD_NONE) {
		rc = pre->rc;
		if (rc == 0)
			s = pre->s;
		pre->rc = PRELOAD_NONE;		/* s is ours now */
	} else
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
		struct merge_before mb;

		/* What the soft limits compare, noted instead of a copy of
		 * the whole state: a refused entry's s is dropped. */
		merge_note(&s, e, &mb);
		if ((rc = merge_apply(&s, e)) == 0 &&
		    merge_check_noted(&mb, e, &s, why, whysz) != 0)
			*how |= APPLY_OVER_LIMIT;
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
	/* s is not read plain again: sealed in place, not copied. */
	rc = project(st, &s) ? case_drop(st, t, s.id) :
	    case_save_sealing(st, t, &s);
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
						*op_also_add(o) =
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
	uint64_t		 iid;
	int			 op = MDB_SET_RANGE, hit = 0;

	if (caseid_get(st, t, e->case_id, &iid) != 0)
		return 0;	/* no entry of the case here */
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
		cv.mv_data = ck;
		cv.mv_size = clog_key(ck, iid, d.mv_data, d.mv_size);
		if (mdb_get(t, st->clog, &cv, &dv) != 0)
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
 * Central: the offer check of e (offer_check) against e's case as it was
 * at stamp `point`: every entry of it central holds stamped before point,
 * folded.  Asked only when the case as it is now refuses e.  After
 * central's restore an offer can arrive after a transfer stamped later
 * (central's reassignment of the case, given back first by the province
 * it went to): judged by the case now, the offer was refused although
 * the old central had accepted it and other provinces hold it (standby
 * chaos seed 13).  Same rule and same bound as owner_at in authorise: an
 * offer from the owner of that moment, to another node, with no offer
 * waiting then.
 */
struct fold_ctx {
	struct stamp		 at;
	struct case_state	*s;
};

static int
fold_before(const struct entry *f, int sig_ok, void *arg)
{
	struct fold_ctx	*fc = arg;
	struct stamp	 st;

	(void)sig_ok;
	st.hlc = f->hlc;
	strlcpy_(st.node, f->origin, sizeof(st.node));
	if (stamp_cmp(&st, &fc->at) < 0)
		(void)merge_apply(fc->s, f);	/* over a limit: left out */
	return 0;
}

static int
offer_then(struct store *st, MDB_txn *t, const struct entry *e,
    uint64_t point, enum offer_kind *kind, char *why, size_t whysz)
{
	struct case_state	then;
	struct fold_ctx		fc;
	int			rc, found;

	state_init(&then, e->case_id);
	fc.at.hlc = point;
	strlcpy_(fc.at.node, e->origin, sizeof(fc.at.node));
	fc.s = &then;
	rc = case_entries(st, t, e->case_id, 0, fold_before, &fc, &found);
	if (rc == 0)
		rc = offer_check(&then, e, e->origin, 0, kind, why, whysz);
	state_release(&then);
	return rc;
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
 *
 * pre gets the case's row as loaded (the caller releases it, or passes it
 * on to apply_entry), whatever the answer.
 */
static int
authorise(struct store *st, MDB_txn *t, const struct entry *e, uint64_t hw,
    struct preload *pre, char *why, size_t whysz)
{
	struct case_state	*s = &pre->s;
	enum offer_kind		 kind;
	char			 then[HLC_NODE_MAX + 1];
	int			 rc;

	/* Only the owner is needed: identifying values stay sealed.  The
	 * row is kept for apply_entry (pre). */
	rc = pre->rc = case_load_raw(st, t, e->case_id, s);
	if (rc == E_NOTFOUND) {
		struct case_state none;

		if (!creates_for(e, e->origin)) {
			snprintf(why, whysz, "%s may not create a case owned "
			    "by another node", e->origin);
			return E_AUTH;
		}
		state_init(&none, e->case_id);
		rc = offer_check(&none, e, e->origin, 0, &kind, why, whysz);
		state_release(&none);
		return rc;
	}
	if (rc != 0)
		return rc;
	/* Offers: a province never moves a case to another node itself; the
	 * receiving province answers an offer for a case it does not own. */
	if ((rc = offer_check(s, e, e->origin, 0, &kind, why, whysz)) != 0 &&
	    kind == OFFER_MAKE) {
		/* An offer valid when it was written is accepted
		 * (offer_then).  Answers are not: the first answer to reach
		 * central counts (docs/CONFLICTS.md). */
		char	now_why[256];

		strlcpy_(now_why, why, sizeof(now_why));
		if (offer_then(st, t, e, e->hlc > hw ? e->hlc : hw, &kind,
		    why, whysz) == 0)
			rc = 0;
		else
			strlcpy_(why, now_why, whysz);
	}
	if (rc != 0 || kind == OFFER_ACCEPT || kind == OFFER_DECLINE)
		return rc;
	/* A case known only from central's own entries (given back after
	 * central's restore, before the entry that created it): it has no
	 * owner yet, and the creating entry still creates it, whichever
	 * arrives first. */
	if (s->owner[0] == '\0') {
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
	if (strcmp(s->owner, e->origin) == 0)
		return 0;
	if ((rc = owner_at(st, t, e, e->hlc > hw ? e->hlc : hw, then,
	    sizeof(then))) != 0)
		return rc;
	if (then[0] != '\0' ? strcmp(then, e->origin) != 0 :
	    !creates_for(e, e->origin)) {
		if (!(erase_only(e) && referral_unseen(st, t, e))) {
			snprintf(why, whysz, "%s does not own case %s (owner "
			    "%s)", e->origin, e->case_id, s->owner);
			rc = E_AUTH;
		}
	}
	return rc;
}

/*
 * A received batch, applied in one transaction: what the loop over its
 * records carries from one to the next.
 */
struct batch {
	const char		*peer;
	const struct rec	*recs;
	size_t			 n;
	struct apply_stats	*stats;
	char			*err;
	size_t			 errsz;
	struct peer_info	 pi;
	struct hlc		 clock;
	uint64_t		 w;		/* wall clock, ms */
	uint64_t		 cursor;	/* last position covered */
	struct crypto_sha	*sh;	/* SHA-256, prepared once a batch */
	/* Central: the province's chain, and the last entry of its run:
	 * its seq, signature block and chain hash (which the signature
	 * covers). */
	uint8_t			 chain[CRYPTO_HASH];
	uint64_t		 tail_seq;
	uint8_t			 tail_block[SIGN_BLOCK];
	uint8_t			 tail_h[CRYPTO_HASH];
	int			 have_tail;
	uint64_t		 hw;	/* the latest stamp taken from the
					 * peer (authorise) */
	/* Province: the entry at the last feed position. */
	uint8_t			 fref[LOGKEY_MAX];
	size_t			 freflen;
};

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

/*
 * Central, for an entry of a province's run: an entry outside the origin's
 * latest key must verify on its own (the run's last signature is made by
 * another key); h is its chain hash.  *krev gets the position from which
 * the key of the entry's range is revoked when the entry is at or after
 * it, else 0.  Returns 0 or E_AUTH.
 */
static int
key_range_check(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *block, const uint8_t h[CRYPTO_HASH], uint64_t *krev)
{
	struct keyhist_epoch	ep;
	uint64_t		until;
	int			rc;

	*krev = 0;
	rc = keyhist_at_txn(t, st->keyhist, e->origin, e->seq, &ep, &until);
	if (rc == E_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (until != UINT64_MAX && sign_verify(ep.sign_pub, block, h) != 1)
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

/*
 * Central: one record of a province's own run.  Each must be the next seq
 * of that origin (or fork from an entry central holds) and link to the one
 * before it; the batch's last signature covers the run (from_province_fn).
 * An entry the province may not write is refused, the rest applied.
 */
static int
from_province_one(struct store *st, MDB_txn *t, struct batch *b,
    const struct rec *r)
{
	struct entry	e;
	uint8_t		block[SIGN_BLOCK], d[CRYPTO_HASH];
	char		why[200];
	uint64_t	krev = 0;
	struct preload	pre = { .rc = PRELOAD_NONE };
	int		fork, applied, rc;

	if ((rc = batch_position(b, r, 1, &fork)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = batch_decode(b, r, &e, block, d)) != 0)
		return rc;
	if (strcmp(e.origin, b->peer) != 0 || e.seq != r->pos) {
		snprintf(b->err, b->errsz, "record %llu from %s is %s/%llu",
		    (unsigned long long)r->pos, b->peer, e.origin,
		    (unsigned long long)e.seq);
		entry_release(&e);
		return E_PROTO;
	}
	if (fork) {
		if (!fork_links(st, t, e.origin, r->pos, block + CRYPTO_SIG,
		    b->cursor, b->chain)) {
			snprintf(b->err, b->errsz, "entry %s/%llu starts a new "
			    "incarnation but does not fork from an entry "
			    "central holds", e.origin,
			    (unsigned long long)e.seq);
			entry_release(&e);
			return E_AUTH;
		}
		memcpy(b->chain, block + CRYPTO_SIG, CRYPTO_HASH);
	}
	/* The province's own run: each entry must link to the one before. */
	if (crypto_memcmp(block + CRYPTO_SIG, b->chain, CRYPTO_HASH) != 0) {
		snprintf(b->err, b->errsz, "entry %s/%llu does not continue "
		    "its origin's chain", e.origin, (unsigned long long)e.seq);
		entry_release(&e);
		return E_AUTH;
	}
	sign_link(b->sh, b->chain, d, b->chain);
	b->tail_seq = e.seq;
	memcpy(b->tail_block, block, SIGN_BLOCK);
	memcpy(b->tail_h, b->chain, CRYPTO_HASH);
	b->have_tail = 1;
	/* Key history: an entry outside its origin's latest key is not
	 * covered by the batch's last signature (keyhist.h). */
	if ((rc = key_range_check(st, t, &e, block, b->chain, &krev)) != 0) {
		snprintf(b->err, b->errsz, "entry %s/%llu: its signature does "
		    "not verify with the key %s had at that position",
		    e.origin, (unsigned long long)e.seq, e.origin);
		entry_release(&e);
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
		lv.mv_size = seqkey(lk, e.origin, e.seq);
		rc = mdb_get(t, st->log, &lv, &dv);
		if (rc == 0) {
			if (e.hlc > b->hw)
				b->hw = e.hlc;
			entry_release(&e);
			b->stats->duplicates++;
			return 0;
		}
		if (rc != MDB_NOTFOUND) {
			entry_release(&e);
			return mdb_err(st, rc, "get log");
		}
	}
	why[0] = '\0';
	/* Resent by its origin after central's restore, though central had
	 * refused it: refused again, whatever the case looks like now,
	 * since the origin took it out of its copy.  Only central bounds
	 * stamps by its clock (see from_central_one). */
	if (r->refused)
		snprintf(why, sizeof(why), "refused before central's restore");
	else if (krev != 0)
		revoked_why(st, t, &e, why, sizeof(why));
	else if (!erase_only(&e) && !hlc_check_skew(e.hlc, b->w, st->skew_ms))
		snprintf(why, sizeof(why), "stamped %llu ms in the future, "
		    "beyond the %llu ms skew bound",
		    (unsigned long long)(HLC_MS(e.hlc) - b->w),
		    (unsigned long long)st->skew_ms);
	else if (!stamps_within_skew(&e, b->w, st->skew_ms))
		snprintf(why, sizeof(why), "a base or also[] stamp is beyond "
		    "the %llu ms skew bound", (unsigned long long)st->skew_ms);
	else if (check_ops(&e, why, sizeof(why)) != 0)
		;
	else if ((rc = authorise(st, t, &e, b->hw, &pre, why,
	    sizeof(why))) != 0 && rc != E_AUTH) {
		preload_release(&pre);
		entry_release(&e);
		return rc;
	}
	if (e.hlc > b->hw)
		b->hw = e.hlc;
	rc = batch_accept(st, t, b, r, &e, block, &pre, why, sizeof(why), 1,
	    &applied);
	entry_release(&e);
	return rc;
}

/*
 * Province: one record of its feed from central.  Each must be the next
 * feed position; every entry's signature is checked (central checks one
 * per batch, so its log may hold an entry that does not verify: refused
 * here like any bad entry, since failing the whole batch would block
 * every later sync; docs/SECURITY.md).  Our own entry in the feed is
 * central's refusal of it.
 */
static int
from_central_one(struct store *st, MDB_txn *t, struct batch *b,
    const struct rec *r)
{
	struct entry	e;
	uint8_t		block[SIGN_BLOCK], d[CRYPTO_HASH], h[CRYPTO_HASH];
	char		why[200];
	int		fork, applied, sig = 1, rc;
	uint64_t	ov;

	if ((rc = batch_position(b, r, 0, &fork)) != 0)
		return rc == 1 ? 0 : rc;
	if ((rc = batch_decode(b, r, &e, block, d)) != 0)
		return rc;
	sign_link(b->sh, block + CRYPTO_SIG, d, h);
	if (strcmp(e.origin, st->node) != 0 &&
	    (sig = sig_status_hash(st, t, &e, block, h)) != 1 && sig != 0 &&
	    sig != 2) {
		/* The origin's key is not known yet: retry later. */
		snprintf(b->err, b->errsz, "entry %s/%llu from %s: its "
		    "signature does not verify", e.origin,
		    (unsigned long long)e.seq, b->peer);
		entry_release(&e);
		return E_AUTH;
	}
	b->cursor = r->pos;
	b->freflen = seqkey(b->fref, e.origin, e.seq);
	if (strcmp(e.origin, st->node) == 0) {
		/* Our own entry in our feed: central refused it. */
		rc = unrecord_own(st, t, &e, r);
		entry_release(&e);
		if (rc == 0)
			b->stats->duplicates++;
		return rc;
	}
	if (r->refused) {
		snprintf(b->err, b->errsz, "record %llu from %s is marked "
		    "refused", (unsigned long long)r->pos, b->peer);
		entry_release(&e);
		return E_PROTO;
	}
	why[0] = '\0';
	/* A province takes its feed as central accepted it, with no bound
	 * on stamps: refusing an entry here drops it for good (the feed
	 * cursor moves on) when only the province's clock is behind
	 * (docs/RELIABILITY.md, bug 1). */
	if (sig == 0)
		snprintf(why, sizeof(why), "its signature does not verify "
		    "with the key of %s", e.origin);
	else if (sig == 2)
		revoked_why(st, t, &e, why, sizeof(why));
	else
		check_ops(&e, why, sizeof(why));
	rc = batch_accept(st, t, b, r, &e, block, NULL, why, sizeof(why), 0,
	    &applied);
	if (rc == 0 && applied && (rc = get_u64(st, t, st->vv, e.origin,
	    &ov)) == 0 && e.seq > ov)
		rc = put_u64(st, t, st->vv, e.origin, e.seq);
	entry_release(&e);
	return rc;
}

/* Both roles: the batch's clock and peer record, read first. */
static int
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

/* Both roles: the peer record and the clock, written last. */
static int
batch_end(struct store *st, MDB_txn *t, struct batch *b)
{
	int rc;

	b->stats->last_pos = b->cursor;
	if ((rc = peer_write(st, t, &b->pi)) != 0)
		return rc;
	return put_u64(st, t, st->meta, "hlc", b->clock.last);
}

/* Central: a batch from a province (txn_run). */
static int
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
		rc = from_province_one(st, t, b, &b->recs[i]);
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
		rc = from_central_one(st, t, b, &b->recs[i]);
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
	struct batch	*b;
	int		 rc;

	err[0] = '\0';
	if (n == 0)
		return remote_empty(st, peer, stats);
	b = xcalloc(1, sizeof(*b));
	b->peer = peer;
	b->recs = recs;
	b->n = n;
	b->stats = stats;
	b->err = err;
	b->errsz = errsz;
	if ((rc = crypto_sha_new(&b->sh)) == 0)
		rc = txn_run(st, is_central(st) ? from_province_fn :
		    from_central_fn, b);
	crypto_sha_free(&b->sh);
	free(b);
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

/*
 * Central: entries of other provinces that a province gives back after
 * central's restore (GIVE).  Each is taken as if its origin had sent it,
 * except for its place in the origin's chain, which the origin's own
 * stream fills in later (the entry is then held: from_province_one).  One that
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

#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE	"01a2276e-8c28-78e1-8721-c642e7eb1b40"

static int
enrol(struct store *st, const char *node, const uint8_t pub[32])
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
	ST_OK(enrol(c, "ha-noi", k1));
	ST_OK(enrol(c, "cao-bang", k2));
	ST_OK(enrol(p1, "central", kc));

	/* A province's own run reaches central once; again is a no-op. */
	ST_OK(write_one(p1, "ha-noi", "Ana"));
	ST_OK(write_one(p1, NULL, "Ana Le"));
	ST_OK(store_scan_own(p1, 0, STORE_BATCH_BYTES, &b));
	ST_CHECK(b.n == 2);
	ST_OK(store_apply_remote(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 2 && as.new_cases == 1 && as.last_pos == 2);
	ST_OK(store_apply_remote(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 0 && as.duplicates == 2);
	/* From another origin than the peer: not taken. */
	ST_CHECK(store_apply_remote(c, "cao-bang", b.recs, b.n, &as, err,
	    sizeof(err)) == E_PROTO);
	rec_batch_free(&b);

	/* A gap, and a batch whose last link is altered: nothing applied. */
	ST_OK(write_one(p1, NULL, "Ana Le Thi"));
	ST_OK(write_one(p1, NULL, "Ana Le Thi B"));
	ST_OK(store_scan_own(p1, 2, STORE_BATCH_BYTES, &b));
	ST_CHECK(b.n == 2);
	ST_CHECK(store_apply_remote(c, "ha-noi", b.recs + 1, 1, &as, err,
	    sizeof(err)) == E_GAP);
	saved = b.recs[1].data[b.recs[1].len - 1];
	b.recs[1].data[b.recs[1].len - 1] ^= 1;
	ST_CHECK(store_apply_remote(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)) == E_AUTH);
	ST_OK(store_vv_get(c, "ha-noi", &vv));
	ST_CHECK(vv == 2);
	b.recs[1].data[b.recs[1].len - 1] = saved;
	ST_OK(store_apply_remote(c, "ha-noi", b.recs, b.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 2);
	rec_batch_free(&b);

	/* Another province may not write the case: refused and kept for
	 * audit, the notice in its feed; the batch still applies. */
	ST_OK(write_one(p2, "cao-bang", "Mallory"));
	ST_OK(store_scan_own(p2, 0, STORE_BATCH_BYTES, &b));
	ST_OK(store_apply_remote(c, "cao-bang", b.recs, b.n, &as, err,
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
	ST_OK(enrol(p2, "central", kc));
	ST_OK(store_scan_feed(c, "cao-bang", 0, STORE_BATCH_BYTES, &f));
	ST_CHECK(f.n == 1);
	ST_OK(store_apply_remote(p2, "central", f.recs, f.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.duplicates == 1);
	ST_CHECK(store_case_get(p2, ST_CASE, &s) == E_NOTFOUND);
	rec_batch_free(&f);

	/* Central may change any case: the owner gets it in its feed. */
	ST_OK(write_one(c, NULL, "Ana Le Thi C"));
	ST_OK(store_scan_feed(c, "ha-noi", 0, STORE_BATCH_BYTES, &f));
	ST_CHECK(f.n == 1);
	ST_OK(store_apply_remote(p1, "central", f.recs, f.n, &as, err,
	    sizeof(err)));
	ST_CHECK(as.applied == 1 && as.last_pos == 1);
	/* Again: already held. */
	ST_CHECK(store_apply_remote(p1, "central", f.recs, f.n, &as, err,
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

/* ---- Group commit: several received batches in one transaction ------- */

/* One batch of a group, in its own nested transaction of t: a batch that
 * fails is rolled back alone.  Returns the batch's result. */
static int
group_one(struct store *st, MDB_txn *t, struct apply_item *it)
{
	struct batch	*b;
	struct peer_info pi;
	MDB_txn		*child;
	int		 rc;

	if (it->n == 0) {
		/* As remote_empty, read inside the group: an earlier batch of
		 * the same peer in it may have moved its position. */
		if (is_central(st))
			return get_u64(st, t, st->vv, it->peer,
			    &it->stats.last_pos);
		rc = peer_read(st, t, it->peer, &pi);
		if (rc == 0 || rc == E_NOTFOUND) {
			it->stats.last_pos = pi.feed_recv;
			rc = 0;
		}
		return rc;
	}
	if ((rc = mdb_err(st, mdb_txn_begin(st->env, t, 0, &child),
	    "begin nested")) != 0)
		return rc;
	b = xcalloc(1, sizeof(*b));
	b->peer = it->peer;
	b->recs = it->recs;
	b->n = it->n;
	b->stats = &it->stats;
	b->err = it->err;
	b->errsz = sizeof(it->err);
	if ((rc = crypto_sha_new(&b->sh)) == 0)
		rc = (is_central(st) ? from_province_fn : from_central_fn)(st,
		    child, b);
	crypto_sha_free(&b->sh);
	free(b);
	if (rc == 0)
		rc = mdb_err(st, mdb_txn_commit(child), "commit nested");
	else
		mdb_txn_abort(child);
	return rc;
}

struct group {
	struct apply_item	*items;
	size_t			 n;
};

/* txn_run: every batch of the group in turn.  A batch's own failure is
 * its result; only a full map (grow and run afresh) fails the whole. */
static int
group_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct group	*g = arg;

	for (size_t i = 0; i < g->n; i++) {
		struct apply_item *it = &g->items[i];

		memset(&it->stats, 0, sizeof(it->stats));
		it->err[0] = '\0';
		it->rc = 0;
		it->skipped = 0;
		for (size_t j = 0; j < i; j++)
			if ((g->items[j].rc != 0 || g->items[j].skipped) &&
			    strcmp(g->items[j].peer, it->peer) == 0)
				it->skipped = 1;
		if (it->skipped)
			continue;
		it->rc = group_one(st, t, it);
		if (it->rc != 0 && st->mapfull)
			return it->rc;
	}
	return 0;
}

int
store_apply_group(struct store *st, struct apply_item *items, size_t n)
{
	struct group	g = { items, n };
	size_t		i;
	int		rc;

	for (i = 0; i < n && items[i].n == 0; i++)
		;
	if (i == n) {
		/* Nothing to write: no transaction, no fsync. */
		for (i = 0; i < n; i++) {
			items[i].err[0] = '\0';
			items[i].skipped = 0;
			items[i].rc = remote_empty(st, items[i].peer,
			    &items[i].stats);
		}
		rc = 0;
	} else if ((rc = txn_run(st, group_fn, &g)) != 0) {
		/* Not committed: no batch of the group is applied. */
		for (i = 0; i < n; i++)
			if (!items[i].skipped && items[i].rc == 0)
				items[i].rc = rc;
	}
	for (i = 0; i < n; i++)
		if (items[i].rc != 0 && items[i].err[0] == '\0')
			snprintf(items[i].err, sizeof(items[i].err), "%s",
			    err_str(items[i].rc));
	return rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

static int
group_write(struct store *st, const char *id, const char *to,
    const char *name)
{
	struct entry	e;
	char		err[256];
	int		rc;

	store_test_entry(&e, id, to, name);
	rc = store_write_local(st, &e, 1, err, sizeof(err));
	entry_release(&e);
	return rc;
}

static uint64_t
group_txnid(struct store *st)
{
	MDB_envinfo ei;

	mdb_env_info(st->env, &ei);
	return (uint64_t)ei.me_last_txnid;
}

static void
group_item(struct apply_item *it, const char *peer, const struct rec *recs,
    size_t n)
{
	memset(it, 0, sizeof(*it));
	it->peer = peer;
	it->recs = recs;
	it->n = n;
}

int
apply_group_selftest(void)
{
	char			 dc[] = "/tmp/casesync-group-c-XXXXXX";
	char			 d1[] = "/tmp/casesync-group-1-XXXXXX";
	char			 d2[] = "/tmp/casesync-group-2-XXXXXX";
	char			 d3[] = "/tmp/casesync-group-3-XXXXXX";
	const char		*c1 = "01a2276e-8c28-78e1-8721-c642e7eb1b41";
	const char		*c2 = "01a2276e-8c28-78e1-8721-c642e7eb1b42";
	char			 err[256];
	struct store		*c, *p1, *p2, *p3;
	uint8_t			 kc[32], k1[32], k2[32], k3[32], saved;
	struct rec_batch	 b1, b2, b3;
	struct apply_item	 it[5];
	struct case_state	 s;
	uint64_t		 vv, bad, nc, ne, t0;

	ST_OK(store_test_open(dc, "central", STORE_ROLE_CENTRAL, kc, &c));
	ST_OK(store_test_open(d1, "ha-noi", STORE_ROLE_PROVINCE, k1, &p1));
	ST_OK(store_test_open(d2, "cao-bang", STORE_ROLE_PROVINCE, k2, &p2));
	ST_OK(store_test_open(d3, "lao-cai", STORE_ROLE_PROVINCE, k3, &p3));
	ST_OK(enrol(c, "ha-noi", k1));
	ST_OK(enrol(c, "cao-bang", k2));
	ST_OK(enrol(c, "lao-cai", k3));
	ST_OK(group_write(p1, c1, "ha-noi", "An"));
	ST_OK(group_write(p1, c1, NULL, "An Le"));
	ST_OK(group_write(p2, c2, "cao-bang", "Binh"));
	ST_OK(group_write(p2, c2, NULL, "Binh Tran"));
	ST_OK(group_write(p2, c2, NULL, "Binh Tran Van"));
	ST_OK(group_write(p3, "01a2276e-8c28-78e1-8721-c642e7eb1b43",
	    "lao-cai", "Chi"));
	ST_OK(store_scan_own(p1, 0, STORE_BATCH_BYTES, &b1));
	ST_OK(store_scan_own(p2, 0, STORE_BATCH_BYTES, &b2));
	ST_OK(store_scan_own(p3, 0, STORE_BATCH_BYTES, &b3));
	ST_CHECK(b1.n == 2 && b2.n == 3 && b3.n == 1);

	/* cao-bang's first batch has a bad last signature: it fails alone,
	 * after its first entry was applied in its nested transaction, and
	 * its next batch is not tried.  The others share one commit. */
	saved = b2.recs[1].data[b2.recs[1].len - 1];
	b2.recs[1].data[b2.recs[1].len - 1] ^= 1;
	group_item(&it[0], "ha-noi", b1.recs, 1);
	group_item(&it[1], "cao-bang", b2.recs, 2);
	group_item(&it[2], "lao-cai", b3.recs, 1);
	group_item(&it[3], "ha-noi", b1.recs + 1, 1);
	group_item(&it[4], "cao-bang", b2.recs + 2, 1);
	t0 = group_txnid(c);
	ST_OK(store_apply_group(c, it, 5));
	ST_CHECK(group_txnid(c) == t0 + 1);
	ST_CHECK(it[0].rc == 0 && it[0].stats.applied == 1 &&
	    it[0].stats.last_pos == 1);
	ST_CHECK(it[1].rc == E_AUTH && strstr(it[1].err, "cao-bang") != NULL);
	ST_CHECK(it[2].rc == 0 && it[2].stats.applied == 1);
	ST_CHECK(it[3].rc == 0 && it[3].stats.applied == 1 &&
	    it[3].stats.last_pos == 2);
	ST_CHECK(it[4].rc == 0 && it[4].skipped);
	ST_OK(store_vv_get(c, "ha-noi", &vv));
	ST_CHECK(vv == 2);
	ST_OK(store_vv_get(c, "lao-cai", &vv));
	ST_CHECK(vv == 1);
	ST_OK(store_vv_get(c, "cao-bang", &vv));
	ST_CHECK(vv == 0);
	ST_CHECK(store_case_get(c, c2, &s) == E_NOTFOUND);
	ST_OK(store_verify(c, &nc, &ne, &bad, err, sizeof(err)));
	ST_CHECK(nc == 2 && ne == 3);

	/* Resent whole and intact, in two batches of one group. */
	b2.recs[1].data[b2.recs[1].len - 1] = saved;
	group_item(&it[0], "cao-bang", b2.recs, 2);
	group_item(&it[1], "cao-bang", b2.recs + 2, 1);
	group_item(&it[2], "ha-noi", b1.recs, 2);
	ST_OK(store_apply_group(c, it, 3));
	ST_CHECK(it[0].rc == 0 && it[0].stats.applied == 2);
	ST_CHECK(it[1].rc == 0 && it[1].stats.applied == 1 &&
	    it[1].stats.last_pos == 3);
	ST_CHECK(it[2].rc == 0 && it[2].stats.duplicates == 2);
	ST_OK(store_case_get(c, c2, &s));
	state_release(&s);

	/* Empty batches only: positions read, nothing committed. */
	t0 = group_txnid(c);
	group_item(&it[0], "cao-bang", NULL, 0);
	group_item(&it[1], "lao-cai", NULL, 0);
	ST_OK(store_apply_group(c, it, 2));
	ST_CHECK(group_txnid(c) == t0);
	ST_CHECK(it[0].rc == 0 && it[0].stats.last_pos == 3);
	ST_CHECK(it[1].rc == 0 && it[1].stats.last_pos == 1);
	ST_OK(store_verify(c, &nc, &ne, &bad, err, sizeof(err)));
	ST_CHECK(nc == 3 && ne == 6);
	rec_batch_free(&b1);
	rec_batch_free(&b2);
	rec_batch_free(&b3);
	store_test_close(&c, dc);
	store_test_close(&p1, d1);
	store_test_close(&p2, d2);
	store_test_close(&p3, d3);
	return 0;
}
#endif

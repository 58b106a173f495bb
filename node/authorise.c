/*
 * authorise.c - who may write a case, and what an entry may hold: the
 * rules by which an entry is refused.  A local write (authorise_local),
 * a province's entry at central (authorise, with its key range, skew and
 * quota), and the schema checks of an entry's ops (check_ops) that every
 * path applies.  Only the decisions live here; applying is apply.c's.
 */
#include "store_int.h"
#include "apply_int.h"
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
int
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
int
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
int
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
int
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

int
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
 * Central: does e, an erase from a node that does not own its case, carry
 * the owner its writer saw (entry.h: each erase op's base, the stamp of
 * the transfer that made the owner in the writer's view)?  Returns 1 when
 * every op carries one, 0 when none does (an erase of an older release:
 * referral_unseen judges it), -1 when only some do (refused).
 */
static int
erase_view_carried(const struct entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nops; i++)
		n += e->ops[i].base.hlc != 0;
	return n == 0 ? 0 : n == e->nops ? 1 : -1;
}

/*
 * Central: was the case e's writer's when it wrote e, by the owner it saw?
 * Yes when central holds, among the case's entries, a transfer with the
 * stamp e carries, stamped before e, that names e's origin (the last
 * transfer op of that entry, as the merge reads it).  Then e erases a
 * case its writer owned in its view, and it counts wherever it arrives:
 * the answer depends only on e's signed content and on that one entry,
 * which every central that holds the case holds in the end, never on
 * the state of a feed (docs/CONFLICTS.md, the erase exception; standby
 * chaos seed 31).  A central that does not hold that transfer refuses.
 *
 * Nothing more is asked of the transfers after it: an honest writer's
 * view may be followed by several changes of owner it had not heard of,
 * and a writer that lies about its view could always name the latest
 * transfer to itself, which a transfer away follows when it is not the
 * owner now (docs/SECURITY.md, "A compromised province").
 */
struct view_ctx {
	struct stamp	 want;		/* the stamp e carries */
	int		 names;		/* -1 not found, 0 another, 1 origin */
	const char	*origin;
};

static int
view_one(const struct entry *f, int sig_ok, void *arg)
{
	struct view_ctx	*v = arg;

	(void)sig_ok;
	if (f->hlc != v->want.hlc || strcmp(f->origin, v->want.node) != 0)
		return 0;
	for (size_t i = 0; i < f->nops; i++)
		if (f->ops[i].type == OP_TRANSFER)
			v->names = strcmp(f->ops[i].to, v->origin) == 0;
	return 0;
}

static int
erase_view_ok(struct store *st, MDB_txn *t, const struct entry *e)
{
	struct stamp	es;
	int		found;

	es.hlc = e->hlc;
	strlcpy_(es.node, e->origin, sizeof(es.node));
	for (size_t i = 0; i < e->nops; i++) {
		struct view_ctx	v;

		memset(&v, 0, sizeof(v));
		v.want = e->ops[i].base;
		v.names = -1;
		v.origin = e->origin;
		if (v.want.hlc == 0 || stamp_cmp(&v.want, &es) >= 0)
			return 0;
		if (case_entries(st, t, e->case_id, 0, view_one, &v,
		    &found) != 0 || v.names != 1)
			return 0;
	}
	return e->nops > 0;
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
int
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
	    (kind == OFFER_MAKE || offer_is_answer(e))) {
		/* An offer, or an answer, valid when it was written is
		 * accepted (offer_then): every central gives the same answer
		 * whatever order the case's entries reached it in.  An answer
		 * judged by the case as it is now was refused by a promoted
		 * central that got central's later reassignment back before
		 * the decline, which the old central had taken and routed
		 * (chaos seed 136; docs/CONFLICTS.md). */
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
	 * (docs/RELIABILITY.md, bug 4).  An erase carries the owner its
	 * writer saw (erase_view_ok); one of an older release does not, and
	 * counts until the province has acknowledged the referral
	 * (referral_unseen). */
	if (strcmp(s->owner, e->origin) == 0)
		return 0;
	if ((rc = owner_at(st, t, e, e->hlc > hw ? e->hlc : hw, then,
	    sizeof(then))) != 0)
		return rc;
	if (then[0] != '\0' ? strcmp(then, e->origin) != 0 :
	    !creates_for(e, e->origin)) {
		int carried = erase_only(e) ? erase_view_carried(e) : -1;

		if (!(carried == 1 ? erase_view_ok(st, t, e) :
		    carried == 0 && referral_unseen(st, t, e))) {
			snprintf(why, whysz, "%s does not own case %s (owner "
			    "%s)", e->origin, e->case_id, s->owner);
			rc = E_AUTH;
		}
	}
	return rc;
}

/*
 * Central, for an entry of a province's run: an entry outside the origin's
 * latest key must verify on its own (the run's last signature is made by
 * another key); h is its chain hash.  *krev gets the position from which
 * the key of the entry's range is revoked when the entry is at or after
 * it, else 0.  Returns 0 or E_AUTH.
 */
int
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
void
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
 * A local write to a case this node holds: only its owner writes it, or
 * central; a read-only copy (referred away) takes none; a province
 * answers an offer for a case it does not own; an erased case takes no
 * identifying value again.
 */
int
authorise_local(struct store *st, const struct case_state *s,
    const struct entry *e, int dropped, char *why, size_t whysz)
{
	enum offer_kind	kind;

	if (offer_check(s, e, st->node, is_central(st), &kind, why,
	    whysz) != 0 || offer_one(s, e, why, whysz) != 0)
		return E_CONFLICT;
	if (kind == OFFER_ACCEPT || kind == OFFER_DECLINE) {
		/* The receiving province answers an offer for a case it does
		 * not own (offer.h). */
	} else if (s->flags & STATE_F_READONLY) {
		snprintf(why, whysz, "case %s was referred to %s; this node "
		    "keeps %s", e->case_id, s->owner, dropped ?
		    "no copy (keep_transferred = no)" : "a read-only copy");
		return E_CONFLICT;
	} else if (!is_central(st) && strcmp(s->owner, st->node) != 0) {
		snprintf(why, whysz, "case %s is owned by %s; only its owner "
		    "or central may change it", e->case_id, s->owner);
		return E_CONFLICT;
	}
	for (size_t j = 0; j < e->nops; j++) {
		const struct op *o = &e->ops[j];

		if (o->type == OP_SET && s->erased.hlc != 0 &&
		    schema_path_identifying(o->path)) {
			snprintf(why, whysz, "case %s was erased: %s cannot "
			    "be set", e->case_id, o->path);
			return E_CONFLICT;
		}
	}
	return 0;
}

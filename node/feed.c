/*
 * feed.c - central's feeds: per province, the positions of the log
 * entries it is to receive (the cases it owns, and what it must learn of
 * a referral away), with the log key at each position.
 */
#include "store_int.h"
#include "offer.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

int
feed_push(struct store *st, MDB_txn *t, const char *peer, const uint8_t *lk,
    size_t lklen)
{
	char	mk[HLC_NODE_MAX + 8];
	uint8_t	fk[LOGKEY_MAX];
	MDB_val	k, d;
	uint64_t pos;
	int	rc;

	uint64_t inc;

	snprintf(mk, sizeof(mk), "feed:%s", peer);
	if ((rc = get_u64(st, t, st->meta, mk, &pos)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "inc", &inc)) != 0)
		return rc;
	/* After a restore every feed goes on in the new incarnation, also
	 * one the backup did not have yet: the provinces may hold positions
	 * of the lost feed (docs/PROTOCOL.md, Recovery). */
	if (POS_INC(pos) < inc)
		pos = POS_MAKE(inc, 0);
	pos++;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, pos);
	d.mv_data = (void *)(uintptr_t)lk;
	d.mv_size = lklen;
	if ((rc = mdb_err(st, mdb_put(t, st->feed, &k, &d, 0),
	    "put feed")) != 0)
		return rc;
	return put_u64(st, t, st->meta, mk, pos);
}

/* Central: queues every entry of case id (but those of origin skip) for
 * peer: the whole history of a case referred to it. */
struct history_ctx {
	struct store	*st;
	MDB_txn		*t;
	const char	*peer;
	size_t		 plen;
};

static int
history_one(const uint8_t *lk, size_t lklen, void *arg)
{
	struct history_ctx *hc = arg;

	if (lklen == hc->plen + 9 && memcmp(lk, hc->peer, hc->plen) == 0 &&
	    lk[hc->plen] == 0)
		return 0;	/* the peer wrote it: it has it */
	return feed_push(hc->st, hc->t, hc->peer, lk, lklen);
}

static int
feed_history(struct store *st, MDB_txn *t, const char *peer, const char *id)
{
	struct history_ctx hc = { st, t, peer, strlen(peer) };

	return case_keys(st, t, id, history_one, &hc);
}

/*
 * Central: the receiving province of a pending offer gets the case's whole
 * history when the offer is made and every entry after it while the offer
 * waits; when an offer ends otherwise than by its own answer (withdrawn by
 * a later offer, or central reassigned the case), that entry tells it.
 */
static int
feed_offer(struct store *st, MDB_txn *t, const struct entry *e,
    const char *owner_after, const char *offer_before,
    const char *offer_after, const uint8_t *lk, size_t lklen)
{
	int rc = 0;

	if (offer_after[0] != '\0' && strcmp(offer_after, st->node) != 0) {
		if (strcmp(offer_after, offer_before) != 0)
			rc = feed_history(st, t, offer_after, e->case_id);
		else if (strcmp(offer_after, e->origin) != 0)
			rc = feed_push(st, t, offer_after, lk, lklen);
	}
	if (rc == 0 && offer_before[0] != '\0' &&
	    strcmp(offer_before, offer_after) != 0 &&
	    strcmp(offer_before, e->origin) != 0 &&
	    strcmp(offer_before, owner_after) != 0 &&
	    strcmp(offer_before, st->node) != 0)
		rc = feed_push(st, t, offer_before, lk, lklen);
	return rc;
}

/*
 * Central: the entry that ended the ownership, or the offer, a late
 * entry gives.  The previous owner learns of a transfer because
 * feed_route sends it the transfer when it is applied, and the receiving
 * province of an offer learns that it ended because feed_offer sends it
 * the entry that ended it; "previous" and "pending" are what central
 * knows at that moment.  After central's restore or a promotion, entries
 * come back in any order, and a transfer to X (or X's entry creating a
 * case, or an offer to X) can arrive after a later-stamped entry that
 * ended what it gave X: when that one was applied central did not know
 * of X, so nobody told X, and X went on believing it owned the case
 * while central said otherwise (standby chaos seeds 103 and 112), or
 * kept the whole case, identifying fields included, for an offer that
 * had ended (seed 136).  Who owned a case, or was offered it, just
 * before an entry is a matter of stamps, like the owner itself
 * (merge.c, offer.h), so when an entry gives X the case (or an offer) at
 * its stamp and X does not have it now, X gets the earliest entry
 * stamped after it that ended that: for an owner, the first transfer to
 * another node; for an offer, the first change of owner, later offer or
 * answer.  Outside a recovery no such entry is stamped after one that
 * central applies, so this costs nothing there.
 */
struct ended_ctx {
	struct store	*st;
	MDB_txn		*t;
	const char	*to;		/* what the late entry gave it to */
	int		 offer;		/* an offer, not the case */
	struct stamp	 after;		/* the late entry */
	struct stamp	 best;		/* earliest end after it ... */
	char		 origin[HLC_NODE_MAX + 1];	/* ... its origin */
	uint8_t		 lk[LOGKEY_MAX];		/* ... its log key */
	size_t		 lklen;
};

/* Does f end what the late entry gave ec->to? */
static int
ends(const struct ended_ctx *ec, const struct entry *f)
{
	const char	*to = NULL;
	int		 other = 0;

	for (size_t i = 0; i < f->nops; i++) {
		const struct op *o = &f->ops[i];

		if (o->type == OP_TRANSFER)
			to = o->to;	/* the last one counts */
		else if (o->type == OP_EVENT && o->value != NULL &&
		    (strcmp(o->path, "referral_answers") == 0 ||
		    strcmp(o->path, "referrals") == 0))
			other = 1;
	}
	if (ec->offer)
		return to != NULL || (other && (offer_count_made(f) > 0 ||
		    strcmp(f->origin, ec->to) == 0));
	return to != NULL && strcmp(to, ec->to) != 0;
}

static int
ended_one(const uint8_t *lk, size_t lklen, void *arg)
{
	struct ended_ctx	*ec = arg;
	struct entry		 f;
	struct stamp		 s;
	int			 sig_ok, rc;

	if (lklen > sizeof(ec->lk))
		return 0;
	if ((rc = log_read(ec->st, ec->t, lk, lklen, &f, 0, &sig_ok)) != 0)
		return rc;
	s.hlc = f.hlc;
	strlcpy_(s.node, f.origin, sizeof(s.node));
	if (stamp_cmp(&s, &ec->after) > 0 &&
	    (ec->best.hlc == 0 || stamp_cmp(&s, &ec->best) < 0) &&
	    ends(ec, &f)) {
		ec->best = s;
		strlcpy_(ec->origin, f.origin, sizeof(ec->origin));
		memcpy(ec->lk, lk, lklen);
		ec->lklen = lklen;
	}
	entry_release(&f);
	return 0;
}

/*
 * Central: has it routed to peer any entry of case_id (peer's feed holds
 * one)?  1 yes, 0 no, or an error.  A scan of peer's feed; asked only
 * for an offer that arrives after the entry that ended it.
 */
static int
feed_has_case(struct store *st, MDB_txn *t, const char *peer,
    const char *case_id)
{
	MDB_cursor	*c;
	MDB_val		 k, d;
	uint8_t		 fk[LOGKEY_MAX], ck[CASEKEY_MAX];
	size_t		 plen = strlen(peer);
	uint64_t	 iid;
	int		 rc, mrc, hit = 0;

	if ((rc = caseid_get(st, t, case_id, &iid)) != 0)
		return rc == E_NOTFOUND ? 0 : rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor")))
		return rc;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, 0);
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); mrc == 0 && !hit;
	    mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		MDB_val cv, dv;

		if (k.mv_size != plen + 9 || memcmp(k.mv_data, peer,
		    plen) != 0)
			break;
		if (d.mv_size > LOGKEY_MAX)
			continue;
		cv.mv_data = ck;
		cv.mv_size = clog_key(ck, iid, d.mv_data, d.mv_size);
		hit = mdb_get(t, st->clog, &cv, &dv) == 0;
	}
	mdb_cursor_close(c);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return mdb_err(st, mrc, "feed");
	return hit;
}

/*
 * Central: the end of a late offer, kept for its receiving province until
 * its next HELLO (meta "endnote:<peer>/<case id>": the log key of the
 * entry that ended the offer).  The offer reached central after what
 * ended it, and central never routed the case to the receiver: either the
 * receiver never saw the case (a province offered it offline, central
 * reassigned it meanwhile), and must learn nothing of it; or another
 * central routed the offer to it (an old central back before it was
 * fenced, or one put back by a restore), and it holds the whole case to
 * decide on.  A HELLO that shows a feed position this central never gave
 * tells the second (store_endnotes_settle), and so does one it already
 * showed: the end is queued at once when the receiver came from another
 * central's feed late enough to hold the offer (from_other_since).
 */
#define ENDNOTE_PFX	"endnote:"

/*
 * Central: the last time a province came from another central's feed
 * (meta "fromother:<peer>", the feed position its HELLO showed, not one
 * of this central's; "fromother_ms:<peer>", this central's clock at the
 * first HELLO that showed it).  What another central routed to it, it
 * took before then, and the same HELLO's session moves it onto this
 * central's feed, so its next HELLO no longer shows it: chaos seed 238,
 * lai-chau's HELLO at the promoted central showed the old central's
 * position, and da-nang's offer to it (which the old central had routed
 * to it) came in the commit right after, in lai-chau's own gift: its end
 * waited for the next HELLO, at a position of this feed, and was dropped.
 */
#define FROMOTHER_PFX		"fromother:"
#define FROMOTHER_MS_PFX	"fromother_ms:"

static void
fromother_keys(char *pk, size_t pksz, char *mk, size_t mksz,
    const char *peer)
{
	int a = snprintf(pk, pksz, FROMOTHER_PFX "%s", peer);
	int b = snprintf(mk, mksz, FROMOTHER_MS_PFX "%s", peer);

	assert(a > 0 && (size_t)a < pksz && b > 0 && (size_t)b < mksz);
}

/*
 * Central: did peer come from another central's feed late enough to hold
 * what that central routed to it of an entry stamped hlc?  *yes when it
 * came at or after hlc less the skew bound: a central takes an entry only
 * within that bound of its clock, so another central routed it no
 * earlier.  A receiver that never had the case and came from another
 * central in that window is told too (docs/SECURITY.md, Known limits).
 */
static int
from_other_since(struct store *st, MDB_txn *t, const char *peer,
    uint64_t hlc, int *yes)
{
	char		pk[sizeof(FROMOTHER_PFX) + HLC_NODE_MAX];
	char		mk[sizeof(FROMOTHER_MS_PFX) + HLC_NODE_MAX];
	uint64_t	ms;
	int		rc;

	*yes = 0;
	fromother_keys(pk, sizeof(pk), mk, sizeof(mk), peer);
	if ((rc = get_u64(st, t, st->meta, mk, &ms)) != 0)
		return rc;
	*yes = ms != 0 && ms + st->skew_ms >= HLC_MS(hlc);
	return 0;
}

/* The key of an endnote for peer: "endnote:<peer>/" alone (case_id NULL:
 * the prefix of all of peer's notes), ".../<case>" (an offer's end), or
 * ".../<case>/<origin>/<seq>" (a refused entry's notice, feed_refused). */
static size_t
endnote_key(char *k, size_t ksz, const char *peer, const char *case_id,
    const char *origin, uint64_t seq)
{
	int n;

	if (case_id == NULL)
		n = snprintf(k, ksz, ENDNOTE_PFX "%s/", peer);
	else if (origin == NULL)
		n = snprintf(k, ksz, ENDNOTE_PFX "%s/%s", peer, case_id);
	else
		n = snprintf(k, ksz, ENDNOTE_PFX "%s/%s/%s/%016llx", peer,
		    case_id, origin, (unsigned long long)seq);
	assert(n > 0 && (size_t)n < ksz);
	return (size_t)n;
}

/* Gives `to` the record under lk at once when `to` came from another
 * central's feed since an entry stamped hlc could be routed there
 * (from_other_since); otherwise keeps it in the endnote under nk for
 * `to`'s next HELLO (store_endnotes_settle). */
static int
end_now_or_note(struct store *st, MDB_txn *t, const char *to, uint64_t hlc,
    const char *nk, size_t nklen, const uint8_t *lk, size_t lklen)
{
	MDB_val	k, d;
	int	came, rc;

	if ((rc = from_other_since(st, t, to, hlc, &came)) != 0)
		return rc;
	if (came)
		return feed_push(st, t, to, lk, lklen);
	k.mv_data = (void *)(uintptr_t)nk;
	k.mv_size = nklen;
	d.mv_data = (void *)(uintptr_t)lk;
	d.mv_size = lklen;
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put endnote");
}

/* Queues for `to` the earliest entry after e that ended what e gave it,
 * unless `to` wrote that entry; with push_e, e first, unless `to` wrote
 * it (a province gives back central's transfer to another node too;
 * duplicates are no-ops at the province).  With offer (an offer's
 * receiver), only when central routed the case to `to`, or `to` came
 * from another central's feed since e could be routed there; otherwise
 * the end waits in an endnote for `to`'s next HELLO. */
static int
feed_end_of(struct store *st, MDB_txn *t, const struct entry *e,
    const char *to, int offer, int push_e, const uint8_t *lk, size_t lklen)
{
	struct ended_ctx	ec;
	int			rc;

	memset(&ec, 0, sizeof(ec));
	ec.st = st;
	ec.t = t;
	ec.to = to;
	ec.offer = offer;
	ec.after.hlc = e->hlc;
	strlcpy_(ec.after.node, e->origin, sizeof(ec.after.node));
	if ((rc = case_keys(st, t, e->case_id, ended_one, &ec)) != 0)
		return rc;
	if (ec.best.hlc == 0 || strcmp(ec.origin, to) == 0)
		return 0;
	if (offer && (rc = feed_has_case(st, t, to, e->case_id)) != 1) {
		char	nk[sizeof(ENDNOTE_PFX) + HLC_NODE_MAX + 1 +
			    ENTRY_CASE_ID_LEN + 1];

		if (rc != 0)
			return rc;
		return end_now_or_note(st, t, to, e->hlc, nk, endnote_key(nk,
		    sizeof(nk), to, e->case_id, NULL, 0), ec.lk, ec.lklen);
	}
	if (push_e && strcmp(e->origin, to) != 0 &&
	    (rc = feed_push(st, t, to, lk, lklen)) != 0)
		return rc;
	return feed_push(st, t, to, ec.lk, ec.lklen);
}

/*
 * Central: entry e of a province was just refused (refuse; its record is
 * under rk in the refused table, and its origin is told).  Another
 * central may have accepted it and routed it to the provinces that hold
 * the case (an old central back before it was fenced, or this one before
 * a restore): chaos seed 341, where the old central took dong-nai's edit
 * of a case the promoted central had reassigned, and routed it to
 * dong-thap, the receiving province of dong-nai's offer; the promoted
 * central refused it, dong-nai took it out, and dong-thap kept it.  So
 * the notice goes to every province the case was ever given or offered
 * to, or that wrote to it (its log here: only those can hold it), but
 * the origin: at once to one that came from another central's feed
 * since e could be routed there (from_other_since), else in an endnote
 * for its next HELLO, queued only if that HELLO shows another central's
 * position (store_endnotes_settle).  The province takes the entry out
 * when it holds that same signed record, keeps another record held
 * under its origin and seq, and keeps nothing otherwise
 * (unrecord_foreign).
 */
#define REFUSED_TO_MAX	64	/* nodes per field (docs/CONFLICTS.md) */

struct refused_ctx {
	struct store	*st;
	MDB_txn		*t;
	const char	*origin;
	char		 to[REFUSED_TO_MAX][HLC_NODE_MAX + 1];
	size_t		 n;
};

static void
refused_add(struct refused_ctx *rc, const char *node)
{
	if (node == NULL || node[0] == '\0' ||
	    strcmp(node, rc->origin) == 0 || strcmp(node, rc->st->node) == 0)
		return;
	for (size_t i = 0; i < rc->n; i++)
		if (strcmp(rc->to[i], node) == 0)
			return;
	if (rc->n < REFUSED_TO_MAX)
		strlcpy_(rc->to[rc->n++], node, sizeof(rc->to[0]));
}

static int
refused_one(const uint8_t *lk, size_t lklen, void *arg)
{
	struct refused_ctx	*rc = arg;
	struct entry		 f;
	char			 oto[HLC_NODE_MAX + 1];
	int			 sig_ok, r;

	if ((r = log_read(rc->st, rc->t, lk, lklen, &f, 0, &sig_ok)) != 0)
		return r;
	refused_add(rc, f.origin);
	for (size_t i = 0; i < f.nops; i++)
		if (f.ops[i].type == OP_TRANSFER)
			refused_add(rc, f.ops[i].to);
	if (offer_made_to(&f, oto, sizeof(oto)))
		refused_add(rc, oto);
	entry_release(&f);
	return 0;
}

int
feed_refused(struct store *st, MDB_txn *t, const struct entry *e,
    const uint8_t *rk, size_t rklen)
{
	struct refused_ctx	*ctx;
	int			 rc;

	if (!is_central(st))
		return 0;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->st = st;
	ctx->t = t;
	ctx->origin = e->origin;
	rc = case_keys(st, t, e->case_id, refused_one, ctx);
	for (size_t i = 0; i < ctx->n && rc == 0; i++) {
		char	nk[sizeof(ENDNOTE_PFX) + HLC_NODE_MAX + 1 +
			    ENTRY_CASE_ID_LEN + 1 + HLC_NODE_MAX + 1 + 17];

		/* One note per refused entry, beside the offers' ends. */
		rc = end_now_or_note(st, t, ctx->to[i], e->hlc, nk,
		    endnote_key(nk, sizeof(nk), ctx->to[i], e->case_id,
		    e->origin, e->seq), rk, rklen);
	}
	free(ctx);
	return rc;
}

static int
feed_ended(struct store *st, MDB_txn *t, const struct entry *e,
    const char *owner_after, const char *offer_after, const uint8_t *lk,
    size_t lklen)
{
	const char	*to = NULL;
	char		 oto[HLC_NODE_MAX + 1];
	int		 rc;

	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_TRANSFER)
			to = e->ops[i].to;
	if (to != NULL && strcmp(to, owner_after) != 0 &&
	    strcmp(to, st->node) != 0 &&
	    (rc = feed_end_of(st, t, e, to, 0, 1, lk, lklen)) != 0)
		return rc;
	/* Not the offer itself: the receiving province has it when it has
	 * the case (with the whole history central routed to it), and one
	 * that never had the case learns only that the offer ended. */
	if (offer_made_to(e, oto, sizeof(oto)) &&
	    strcmp(oto, offer_after) != 0 && strcmp(oto, owner_after) != 0 &&
	    strcmp(oto, st->node) != 0 && strcmp(oto, e->origin) != 0)
		return feed_end_of(st, t, e, oto, 1, 0, lk, lklen);
	return 0;
}

/*
 * Central: routes a newly applied entry to the provinces that hold the
 * case: its owner (the whole history when it just became the owner), the
 * previous owner (so that it learns of the transfer), the receiving
 * province of a pending offer (feed_offer), and a province the entry
 * made the owner of a period that has already ended (feed_ended).  Never
 * back to the entry's origin.
 */
int
feed_route(struct store *st, MDB_txn *t, const struct entry *e,
    const char *owner_before, const char *owner_after,
    const char *offer_before, const char *offer_after, const uint8_t *lk,
    size_t lklen)
{
	int rc;

	if (!is_central(st))
		return 0;
	if ((rc = feed_offer(st, t, e, owner_after, offer_before,
	    offer_after, lk, lklen)) != 0)
		return rc;
	if (owner_after[0] != '\0' && strcmp(owner_after, st->node) != 0) {
		/* An accept: the new owner has had the history since the
		 * offer, and wrote this entry itself. */
		if (strcmp(owner_before, owner_after) != 0 &&
		    strcmp(owner_after, offer_before) == 0)
			rc = strcmp(owner_after, e->origin) != 0 ?
			    feed_push(st, t, owner_after, lk, lklen) : 0;
		else if (strcmp(owner_before, owner_after) != 0)
			rc = feed_history(st, t, owner_after, e->case_id);
		else if (strcmp(owner_after, e->origin) != 0)
			rc = feed_push(st, t, owner_after, lk, lklen);
		else
			rc = 0;
		if (rc != 0)
			return rc;
	}
	if (owner_before[0] != '\0' && strcmp(owner_before, owner_after) != 0 &&
	    strcmp(owner_before, st->node) != 0 &&
	    strcmp(owner_before, e->origin) != 0 &&
	    (rc = feed_push(st, t, owner_before, lk, lklen)) != 0)
		return rc;
	return feed_ended(st, t, e, owner_after, offer_after, lk, lklen);
}

int
store_feed_origins(struct store *st, const char *peer, uint64_t after,
    int (*fn)(const char *, void *), void *arg)
{
	char		 seen[STORE_ORIGINS_MAX][HLC_NODE_MAX + 1];
	size_t		 nseen = 0, plen = strlen(peer);
	MDB_txn		*t;
	MDB_cursor	*c;
	uint8_t		 fk[LOGKEY_MAX];
	MDB_val		 k, d;
	int		 rc, op = MDB_SET_RANGE;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, after + 1);
	while (rc == 0 && mdb_cursor_get(c, &k, &d, op) == 0) {
		const char	*o = d.mv_data;
		size_t		 olen, i;

		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, peer,
		    plen) != 0)
			break;
		/* The value is a log key: origin, NUL, be64 seq. */
		if (d.mv_size < 10 || d.mv_size > HLC_NODE_MAX + 9 ||
		    o[d.mv_size - 9] != '\0')
			continue;
		olen = d.mv_size - 9;
		for (i = 0; i < nseen; i++)
			if (strlen(seen[i]) == olen &&
			    memcmp(seen[i], o, olen) == 0)
				break;
		if (i < nseen || nseen == STORE_ORIGINS_MAX)
			continue;
		memcpy(seen[nseen], o, olen);
		seen[nseen][olen] = '\0';
		rc = fn(seen[nseen++], arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

int
store_scan_feed(struct store *st, const char *peer, uint64_t after,
    size_t max_bytes, struct rec_batch *b)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	uint8_t		 fk[LOGKEY_MAX];
	size_t		 plen = strlen(peer);
	MDB_val		 k, d;
	struct buf	 plain;
	int		 rc = 0, op = MDB_SET_RANGE;

	memset(b, 0, sizeof(*b));
	buf_init(&plain, ENTRY_ENCODED_MAX + 256);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, after + 1);
	while (mdb_cursor_get(c, &k, &d, op) == 0) {
		MDB_val		 lk = d, rv;
		const char	*why = NULL;
		size_t		 whylen = 0;
		int		 refused = 0;

		op = MDB_NEXT;
		if (k.mv_size != plen + 9 || memcmp(k.mv_data, peer,
		    plen) != 0)
			break;
		rc = mdb_get(t, st->log, &lk, &rv);
		if (rc == MDB_NOTFOUND &&
		    (rc = mdb_get(t, st->refused, &lk, &rv)) == 0) {
			/* A refusal notice: the record after its reason. */
			const uint8_t *z = memchr(rv.mv_data, 0, rv.mv_size);

			if (z == NULL) {
				rc = E_INTEGRITY;
				break;
			}
			/* The peer's own entry: the notice carries why
			 * (docs/PROTOCOL.md, "Refusals"); another's goes
			 * flagged, without it (feed_refused). */
			refused = 1;
			if (lk.mv_size == plen + 9 &&
			    memcmp(lk.mv_data, peer, plen + 1) == 0) {
				why = rv.mv_data;
				whylen = (size_t)(z -
				    (const uint8_t *)rv.mv_data);
				if (whylen > STORE_REASON_MAX) {
					/* Cut at a character boundary. */
					whylen = STORE_REASON_MAX;
					while (whylen > 0 && ((const uint8_t *)
					    why)[whylen] >> 6 == 2)
						whylen--;
				}
			}
			rv.mv_size -= (size_t)(z + 1 -
			    (const uint8_t *)rv.mv_data);
			rv.mv_data = (void *)(uintptr_t)(z + 1);
		}
		if (rc != 0) {
			rc = E_INTEGRITY;
			break;
		}
		if (b->n >= STORE_BATCH_MAX || (b->n > 0 &&
		    b->bytes + rv.mv_size > max_bytes)) {
			b->more = 1;
			break;
		}
		if ((rc = log_unseal(st, lk.mv_data, lk.mv_size, &rv,
		    &plain)) != 0)
			break;
		batch_add(b, be64_get((const uint8_t *)k.mv_data + plen + 1),
		    plain.data, plain.len);
		if (refused) {
			struct rec *nr = &b->recs[b->n - 1];

			nr->refused = 1;
			if (why != NULL && whylen > 0) {
				nr->reason = xmalloc(whylen);
				memcpy(nr->reason, why, whylen);
				nr->reasonlen = whylen;
			}
		}
	}
	buf_release(&plain);
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	if (rc != 0)
		rec_batch_free(b);
	return rc;
}

int
store_feed_last(struct store *st, const char *peer, uint64_t *pos)
{
	char	 mk[HLC_NODE_MAX + 8];
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	snprintf(mk, sizeof(mk), "feed:%s", peer);
	rc = get_u64(st, t, st->meta, mk, pos);
	mdb_txn_abort(t);
	return rc;
}

/*
 * Central: a province's feed position of an incarnation that this
 * central's feed for it never had.  A restore starts a new incarnation of
 * every feed; a central put back from an older copy of the same lineage
 * (promoted from its standby's copy, or restored from an older backup)
 * knows nothing of the incarnation of a restore made in between, whose
 * central the province may have used meanwhile.  Standby chaos seed 136:
 * central queued an update of an-giang's case at (0, P) and the standby
 * copied it; central then lost its disk before an-giang took it and was
 * restored (incarnation I1, without the update), an-giang went on to
 * (I1, 5), and the standby, promoted (I2 > I1), sent an-giang only
 * from (I2, 1): positions are ordered by incarnation first, so (0, P) was
 * "behind" the province for good, and the case differed on central and
 * its owner.  Such a position says nothing about this central's feed:
 * what the province took of it is only what it acknowledged to this
 * lineage (peer feed_acked).  So the positions of earlier incarnations
 * after that are queued again, at the end of the current incarnation;
 * the province treats the entries it holds as duplicates.  Done once per
 * such position (meta "requeued:<peer>"), in one transaction.
 */
struct requeue_ctx {
	const char	*peer;
	uint64_t	 cursor;
	size_t		 n;
};

/* Is rq->cursor of an incarnation this feed never had, and not handled
 * yet?  1 yes, 0 no, or an error. */
static int
requeue_needed(struct store *st, MDB_txn *t, const struct requeue_ctx *rq)
{
	char		 mk[HLC_NODE_MAX + 16];
	uint8_t		 fk[LOGKEY_MAX];
	size_t		 plen = strlen(rq->peer);
	uint64_t	 inc, done = 0;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc, mrc;

	if ((rc = get_u64(st, t, st->meta, "inc", &inc)) != 0)
		return rc;
	if (rq->cursor == 0 || POS_INC(rq->cursor) >= inc)
		return 0;
	snprintf(mk, sizeof(mk), "requeued:%s", rq->peer);
	if (get_u64(st, t, st->meta, mk, &done) == 0 && done == rq->cursor)
		return 0;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor")))
		return rc;
	/* Any position of the cursor's incarnation: then it is ours. */
	k.mv_data = fk;
	k.mv_size = seqkey(fk, rq->peer, POS_MAKE(POS_INC(rq->cursor), 0));
	mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	rc = !(mrc == 0 && k.mv_size == plen + 9 &&
	    memcmp(k.mv_data, rq->peer, plen) == 0 &&
	    POS_INC(be64_get((const uint8_t *)k.mv_data + plen + 1)) ==
	    POS_INC(rq->cursor));
	mdb_cursor_close(c);
	return rc;
}

static int
requeue_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct requeue_ctx	*rq = arg;
	struct peer_info	 pi;
	char			 mk[HLC_NODE_MAX + 16];
	uint8_t			 fk[LOGKEY_MAX], (*keys)[LOGKEY_MAX] = NULL;
	size_t			*lens = NULL, nkeys = 0, cap = 0;
	size_t			 plen = strlen(rq->peer);
	uint64_t		 inc, acked;
	MDB_cursor		*c;
	MDB_val			 k, d;
	int			 rc, mrc;

	rq->n = 0;
	if ((rc = requeue_needed(st, t, rq)) != 1)
		return rc;
	if ((rc = get_u64(st, t, st->meta, "inc", &inc)) != 0)
		return rc;
	rc = peer_read(st, t, rq->peer, &pi);
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	acked = rc == 0 ? pi.feed_acked : 0;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->feed, &c), "cursor")))
		return rc;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, rq->peer, acked + 1);
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (k.mv_size != plen + 9 ||
		    memcmp(k.mv_data, rq->peer, plen) != 0 ||
		    POS_INC(be64_get((const uint8_t *)k.mv_data + plen + 1)) >=
		    inc)
			break;
		if (d.mv_size > LOGKEY_MAX)
			continue;
		if (nkeys == cap) {
			cap = cap ? cap * 2 : 64;
			keys = xreallocarray(keys, cap, sizeof(*keys));
			lens = xreallocarray(lens, cap, sizeof(*lens));
		}
		memcpy(keys[nkeys], d.mv_data, d.mv_size);
		lens[nkeys++] = d.mv_size;
	}
	mdb_cursor_close(c);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = mdb_err(st, mrc, "feed");
	for (size_t i = 0; i < nkeys && rc == 0; i++)
		rc = feed_push(st, t, rq->peer, keys[i], lens[i]);
	free(keys);
	free(lens);
	snprintf(mk, sizeof(mk), "requeued:%s", rq->peer);
	if (rc == 0)
		rc = put_u64(st, t, st->meta, mk, rq->cursor);
	if (rc == 0)
		rq->n = nkeys;
	return rc;
}

int
store_feed_requeue(struct store *st, const char *peer, uint64_t cursor,
    size_t *n)
{
	struct requeue_ctx	 rq = { peer, cursor, 0 };
	MDB_txn			*t;
	int			 rc;

	*n = 0;
	if (!is_central(st) || cursor == 0)
		return 0;
	/* Read first: a session almost never needs it, and must not cost
	 * a commit. */
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = requeue_needed(st, t, &rq);
	mdb_txn_abort(t);
	if (rc != 1)
		return rc;
	if ((rc = txn_run(st, requeue_fn, &rq)) == 0)
		*n = rq.n;
	return rc;
}

int
store_feed_ref(struct store *st, const char *peer, uint64_t pos,
    uint8_t *ref, size_t *reflen)
{
	uint8_t	 fk[LOGKEY_MAX];
	MDB_txn	*t;
	MDB_val	 k, d;
	int	 rc;

	*reflen = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, peer, pos);
	rc = mdb_get(t, st->feed, &k, &d);
	if (rc == 0 && d.mv_size <= STORE_REF_MAX) {
		memcpy(ref, d.mv_data, d.mv_size);
		*reflen = d.mv_size;
	} else if (rc == 0) {
		rc = E_INTEGRITY;
	} else {
		rc = rc == MDB_NOTFOUND ? E_NOTFOUND : mdb_err(st, rc, "feed");
	}
	mdb_txn_abort(t);
	return rc;
}

int
store_fref_get(struct store *st, const char *peer, uint64_t *pos,
    uint8_t *ref, size_t *reflen)
{
	struct peer_info	 pi;
	char			 mk[HLC_NODE_MAX + 8];
	MDB_txn			*t;
	MDB_val			 k, d;
	int			 rc;

	*reflen = 0;
	*pos = 0;
	snprintf(mk, sizeof(mk), "fref:%s", peer);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	/* The position and its entry from one snapshot: another session of
	 * this node may be moving both. */
	rc = peer_read(st, t, peer, &pi);
	if (rc != 0 && rc != E_NOTFOUND) {
		mdb_txn_abort(t);
		return rc;
	}
	*pos = pi.feed_recv;
	k.mv_data = mk;
	k.mv_size = strlen(mk);
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0 && d.mv_size <= STORE_REF_MAX) {
		memcpy(ref, d.mv_data, d.mv_size);
		*reflen = d.mv_size;
	}
	mdb_txn_abort(t);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "fref");
}

#ifdef SELFTEST
#include "../common/selftest.h"

struct feed_push_ctx {
	const char	*origins[3];
};

static int
push_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct feed_push_ctx	*fc = arg;
	uint8_t			 lk[LOGKEY_MAX];
	int			 rc;

	for (int i = 0; i < 3; i++)
		if ((rc = feed_push(st, t, "ha-noi", lk, seqkey(lk,
		    fc->origins[i], (uint64_t)i + 1))) != 0)
			return rc;
	return 0;
}

static int
origin_count(const char *origin, void *arg)
{
	int *n = arg;

	(*n) += strcmp(origin, "cao-bang") == 0 ? 10 : 1;
	return 0;
}

/* Came ha-noi from another central's feed at or after hlc less skew? */
static int
came_since(struct store *st, uint64_t hlc)
{
	MDB_txn	*t;
	int	 yes, rc;

	if (txn_begin(st, MDB_RDONLY, &t) != 0)
		return -1;
	rc = from_other_since(st, t, "ha-noi", hlc, &yes);
	mdb_txn_abort(t);
	return rc != 0 ? -1 : yes;
}

/* The record of a HELLO at a position of another central's feed: made at
 * the first HELLO that shows it, kept at the next ones, and what
 * from_other_since judges by (chaos seed 238). */
static int
fromother_selftest(struct store *st)
{
	uint64_t	w = wall(st), skew = st->skew_ms;
	size_t		n;

	/* Positions 1-3 are of this feed: nothing recorded. */
	ST_OK(store_endnotes_settle(st, "ha-noi", 2, &n));
	ST_CHECK(n == 0);
	ST_CHECK(came_since(st, HLC_MAKE(w, 0)) == 0);
	/* Position 99 is not. */
	ST_OK(store_endnotes_settle(st, "ha-noi", 99, &n));
	ST_CHECK(n == 0);
	ST_CHECK(came_since(st, HLC_MAKE(w - 3600000, 0)) == 1);
	ST_CHECK(came_since(st, HLC_MAKE(w + skew - 1000, 0)) == 1);
	ST_CHECK(came_since(st, HLC_MAKE(w + skew + 60000, 0)) == 0);
	/* The same position an hour later: it took nothing since. */
	store_set_clock(st, skew, 3600000);
	ST_OK(store_endnotes_settle(st, "ha-noi", 99, &n));
	ST_CHECK(came_since(st, HLC_MAKE(w + 3600000, 0)) == 0);
	/* Another position of another feed: it came again. */
	ST_OK(store_endnotes_settle(st, "ha-noi", 100, &n));
	ST_CHECK(came_since(st, HLC_MAKE(w + 3600000, 0)) == 1);
	/* Back on this feed: the record stays. */
	ST_OK(store_endnotes_settle(st, "ha-noi", 3, &n));
	ST_CHECK(came_since(st, HLC_MAKE(w + 3600000, 0)) == 1);
	store_set_clock(st, skew, 0);
	return 0;
}

int
feed_selftest(void)
{
	char			 dir[] = "/tmp/casesync-feed-XXXXXX";
	struct store		*st;
	struct feed_push_ctx	 fc = { { "cao-bang", "central", "cao-bang" } };
	uint8_t			 ref[STORE_REF_MAX], lk[LOGKEY_MAX];
	size_t			 reflen;
	uint64_t		 last;
	int			 n = 0;

	ST_OK(store_test_open(dir, "central", STORE_ROLE_CENTRAL, NULL, &st));
	ST_OK(store_feed_last(st, "ha-noi", &last));
	ST_CHECK(last == 0);
	ST_OK(txn_run(st, push_fn, &fc));
	/* Positions count up per peer; each holds the log key pushed. */
	ST_OK(store_feed_last(st, "ha-noi", &last));
	ST_CHECK(last == 3);
	ST_OK(store_feed_ref(st, "ha-noi", 2, ref, &reflen));
	ST_CHECK(reflen == seqkey(lk, "central", 2) &&
	    memcmp(ref, lk, reflen) == 0);
	ST_CHECK(store_feed_ref(st, "ha-noi", 4, ref, &reflen) ==
	    E_NOTFOUND);
	ST_CHECK(store_feed_ref(st, "cao-bang", 1, ref, &reflen) ==
	    E_NOTFOUND);
	/* Each origin once, and only after the position given. */
	ST_OK(store_feed_origins(st, "ha-noi", 0, origin_count, &n));
	ST_CHECK(n == 11);
	n = 0;
	ST_OK(store_feed_origins(st, "ha-noi", 2, origin_count, &n));
	ST_CHECK(n == 10);
	ST_OK(fromother_selftest(st));
	store_test_close(&st, dir);
	return 0;
}
#endif

/*
 * Central, at peer's HELLO: the ends of late offers kept for it
 * (endnote).  When peer's feed position is one this central never gave
 * (another central served it: an old central back before it was fenced,
 * or this one before a restore), peer may hold a case central did not
 * route to it, so each end is queued; otherwise every entry peer holds
 * came from this feed, or from another central before a HELLO that
 * showed it, which from_other_since judged when the note was made, and
 * the notes go.  Such a position is recorded, with the time of the first
 * HELLO that showed it (fromother).  *n is how many ends were queued.
 * Reads first: a session almost never has a note or such a position.
 */
struct endnote_ctx {
	const char	*peer;
	uint64_t	 cursor;
	int		 foreign;	/* peer's position is not of this feed */
	int		 record;	/* ... and is not recorded yet */
	size_t		 n;
};

static int
endnote_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct endnote_ctx	*en = arg;
	char			 pfx[sizeof(ENDNOTE_PFX) + HLC_NODE_MAX + 1];
	char			 pk[sizeof(FROMOTHER_PFX) + HLC_NODE_MAX];
	char			 mk[sizeof(FROMOTHER_MS_PFX) + HLC_NODE_MAX];
	size_t			 plen;
	MDB_cursor		*c;
	MDB_val			 k, d;
	int			 rc, mrc;

	en->n = 0;
	if (en->record) {
		fromother_keys(pk, sizeof(pk), mk, sizeof(mk), en->peer);
		if ((rc = put_u64(st, t, st->meta, pk, en->cursor)) != 0 ||
		    (rc = put_u64(st, t, st->meta, mk, wall(st))) != 0)
			return rc;
	}
	plen = endnote_key(pfx, sizeof(pfx), en->peer, NULL, NULL, 0);
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->meta, &c), "cursor")))
		return rc;
	k.mv_data = pfx;
	k.mv_size = plen;
	for (mrc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); mrc == 0;
	    mrc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		uint8_t	lk[LOGKEY_MAX];
		size_t	lklen = d.mv_size;

		if (k.mv_size < plen || memcmp(k.mv_data, pfx, plen) != 0)
			break;
		if (en->foreign && lklen > 0 && lklen <= sizeof(lk)) {
			memcpy(lk, d.mv_data, lklen);
			if ((rc = feed_push(st, t, en->peer, lk, lklen)) != 0)
				break;
			en->n++;
		}
		if ((rc = mdb_err(st, mdb_cursor_del(c, 0), "del endnote")))
			break;
	}
	mdb_cursor_close(c);
	if (rc != 0)
		return rc;
	return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : mdb_err(st, mrc, "meta");
}

/* What store_endnotes_settle decides on, into *en (foreign, record);
 * *have says whether peer has notes. */
static int
endnote_read(struct store *st, MDB_txn *t, struct endnote_ctx *en,
    int *have)
{
	char		 pfx[sizeof(ENDNOTE_PFX) + HLC_NODE_MAX + 1];
	char		 pk[sizeof(FROMOTHER_PFX) + HLC_NODE_MAX];
	char		 mk[sizeof(FROMOTHER_MS_PFX) + HLC_NODE_MAX];
	uint8_t		 fk[LOGKEY_MAX];
	uint64_t	 seen;
	MDB_cursor	*c;
	MDB_val		 k, d;
	size_t		 plen;
	int		 rc;

	*have = 0;
	plen = endnote_key(pfx, sizeof(pfx), en->peer, NULL, NULL, 0);
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->meta, &c), "cursor")))
		return rc;
	k.mv_data = pfx;
	k.mv_size = plen;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "meta");
	*have = rc == 0 && k.mv_size >= plen &&
	    memcmp(k.mv_data, pfx, plen) == 0;
	if (en->cursor == 0)
		return 0;
	k.mv_data = fk;
	k.mv_size = seqkey(fk, en->peer, en->cursor);
	if ((rc = mdb_get(t, st->feed, &k, &d)) == 0)
		return 0;
	if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "feed");
	en->foreign = 1;
	fromother_keys(pk, sizeof(pk), mk, sizeof(mk), en->peer);
	if ((rc = get_u64(st, t, st->meta, pk, &seen)) != 0)
		return rc;
	en->record = seen != en->cursor;
	return 0;
}

int
store_endnotes_settle(struct store *st, const char *peer, uint64_t cursor,
    size_t *n)
{
	struct endnote_ctx	 en = { peer, cursor, 0, 0, 0 };
	MDB_txn			*t;
	int			 rc, have;

	*n = 0;
	if (!is_central(st))
		return 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = endnote_read(st, t, &en, &have);
	mdb_txn_abort(t);
	if (rc != 0 || (!have && !en.record))
		return rc;
	if ((rc = txn_run(st, endnote_fn, &en)) == 0)
		*n = en.n;
	return rc;
}

/*
 * offer.h - referrals between provinces as offers (docs/CONFLICTS.md,
 * "Referring a case to another province").
 *
 * A province refers a case by an offer: a referral event with status
 * "proposed" and no change of owner.  The receiving province answers it
 * with an event of the collection "referral_answers" under the offer's
 * event id: "accepted", together with a transfer of the case to itself in
 * the same entry, or "rejected" with its reason in "decline_reasons".
 * Until the answer the sender owns the case; central routes the case to
 * the receiving province so that it can decide.
 *
 * Everything here is a function of a case state (the fold of a set of
 * entries, merge.h), so every node that holds the same entries sees the
 * same pending offer, whatever order they arrived in:
 * - the pending offer is the proposed referral with the highest stamp,
 *   when it is stamped after the case's last change of owner, comes from
 *   the current owner and has no answer.  An earlier unanswered offer is
 *   withdrawn by a later one; a change of owner (central's reassignment,
 *   or an accept) ends every offer stamped before it.
 * - a new offer is valid from the owner, to another province; a node
 *   writes one only while none waits (offer_one), but central takes a
 *   later one whatever it holds of the earlier one's answer.
 * - an answer is valid only from the pending offer's receiving province,
 *   stamped after the offer and after the last change of owner, and made
 *   of exactly the ops above.  Central refuses any other (store.c,
 *   authorise); a province checks the same before it writes.
 *
 * Pure functions, no I/O.  Identifying values may be sealed: nothing here
 * reads them.
 */
#ifndef CASESYNC_OFFER_H
#define CASESYNC_OFFER_H

#include <stddef.h>

#include "../common/hlc.h"
#include "../proto/entry.h"
#include "../proto/state.h"

#define OFFER_DATE_LEN	10

/* An offer (a referral with status "proposed"), copied out of a state. */
struct offer {
	char		id[ENTRY_EVID_MAX + 1];
	char		from[HLC_NODE_MAX + 1];
	char		to[HLC_NODE_MAX + 1];
	char		on[OFFER_DATE_LEN + 1];
	struct stamp	st;
};

/* What an entry does to the offers of its case (offer_check). */
enum offer_kind {
	OFFER_NONE = 0,		/* nothing */
	OFFER_MAKE,		/* a new offer */
	OFFER_ACCEPT,		/* accepts the pending offer */
	OFFER_DECLINE,		/* declines it */
};

/* The answer to offer id in s: 0 none, 1 accepted, 2 declined (with the
 * day in on, OFFER_DATE_LEN + 1 bytes, when on is not NULL). */
#define OFFER_ACCEPTED	1
#define OFFER_DECLINED	2
int	offer_answer(const struct case_state *s, const char *id, char *on);

/* The latest offer of s (pending or not) into *o.  Returns 1, or 0 when
 * s has none. */
int	offer_latest(const struct case_state *s, struct offer *o);

/* The pending offer of s into *o.  Returns 1, or 0 when none is pending. */
int	offer_pending(const struct case_state *s, struct offer *o);

/* Is node the receiving province of s's pending offer? */
int	offer_pending_to(const struct case_state *s, const char *node);

/*
 * Classifies e (written by origin, to case state s as it stands before e)
 * into *kind and checks its offer ops against s.  A province may not
 * transfer a case to another node (a referral is an offer); central may
 * (its reassignment).  An offer comes from the owner, to another
 * province; one that waits does not stop it, since the later offer
 * withdraws it (see offer_one).  e->hlc 0 skips the stamp checks (a
 * local write not stamped yet).  Returns 0, or E_AUTH with a one-line
 * reason in why.
 */
int	offer_check(const struct case_state *s, const struct entry *e,
	    const char *origin, int origin_central, enum offer_kind *kind,
	    char *why, size_t whysz);

/*
 * The writing node's rule, on top of offer_check: it makes no offer of a
 * case while one waits for its answer (its operator waits, or the
 * answer has not reached it yet).  Central does not apply it to a
 * province's entry: whether an offer waits there depends on whether the
 * answer has reached central, and a later offer withdraws an earlier one
 * wherever it arrives (chaos seed 210, docs/CONFLICTS.md).  Returns 0,
 * or E_AUTH with a one-line reason in why.
 */
int	offer_one(const struct case_state *s, const struct entry *e,
	    char *why, size_t whysz);

/* Does e answer an offer (accept or decline)?  offer_check says so in
 * *kind only when the answer holds. */
int	offer_is_answer(const struct entry *e);

/* How many new offers e makes (for the daily referral quota). */
size_t	offer_count_made(const struct entry *e);

/* The receiving province of the (last) offer e makes, into to (tosz
 * bytes).  Returns 1, or 0 when e makes none. */
int	offer_made_to(const struct entry *e, char *to, size_t tosz);

#ifdef SELFTEST
int	offer_selftest(void);
#endif

#endif

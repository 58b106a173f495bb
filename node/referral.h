/*
 * referral.h - referring a case to another province, answering an offer,
 * and listing the offers that wait: the local writes that `casesync case
 * transfer|accept|decline` and the console both call (there is no second
 * path to the store).  The rules are in offer.h.
 */
#ifndef CASESYNC_REFERRAL_H
#define CASESYNC_REFERRAL_H

#include <stddef.h>
#include <stdint.h>

#include "offer.h"
#include "store.h"

#define REFERRAL_REASON_MAX	500	/* bytes */

/*
 * Refers case id to province to, by author, on day today (YYYY-MM-DD).  On
 * a province (the owner) this makes an offer that to accepts or declines;
 * on central (node "central") it reassigns the case at once, as a
 * ministry's decision (status "completed" and the transfer in the same
 * entry).  reason is NULL or 1 to REFERRAL_REASON_MAX bytes of text.  The
 * former owner is copied into from (HLC_NODE_MAX + 1 bytes) and *now is
 * set when ownership moved with this write.  Returns 0; E_INVAL (bad node
 * or reason), E_NOTFOUND (no such case), E_CONFLICT (not the owner, a
 * read-only copy, an offer already pending) or a store error, with a
 * one-line message in err.  Nothing is written on error.
 */
int	referral_make(struct store *st, const char *author, const char *node,
	    const char *id, const char *to, const char *reason,
	    const char *today, char *from, int *now, char *err, size_t errsz);

/*
 * Answers the offer of case id that waits for this province (node):
 * accepts it (reason NULL: the case becomes this province's) or declines
 * it with reason (1 to REFERRAL_REASON_MAX bytes; the case stays with the
 * sender, which sees the reason).  The offer is copied into *o.  Returns 0;
 * E_INVAL (bad reason), E_NOTFOUND (no such case), E_CONFLICT (no offer
 * waits for this province) or a store error, with a one-line message in
 * err.  Nothing is written on error.
 */
int	referral_answer(struct store *st, const char *author, const char *node,
	    const char *id, int accept, const char *reason, const char *today,
	    struct offer *o, char *err, size_t errsz);

/* One waiting offer, as referral_each gives it.  reason is the offer's
 * reason (opened; "" when none or not readable here).  Borrowed for the
 * call only. */
struct referral_item {
	const char		*case_id;
	struct offer		 offer;
	int			 answer;	/* 0 pending, OFFER_ACCEPTED,
						 * OFFER_DECLINED */
	struct stamp		 answer_st;	/* of the answer */
	const char		*reason;
	const char		*author;	/* of the offer, or pseudonym */
	const struct case_state	*s;		/* sealed values */
};

#define REFERRAL_IN	0x1	/* offers to node */
#define REFERRAL_OUT	0x2	/* offers from node */
#define REFERRAL_ALL	0x4	/* every waiting offer (central) */
#define REFERRAL_ANSWERED 0x8	/* also each case's latest offer once
				 * answered (with REFERRAL_ALL) */

/*
 * Calls fn for each waiting offer that which selects (REFERRAL_IN and
 * REFERRAL_OUT relative to node, or REFERRAL_ALL), in case id order; fn
 * returns non-zero to stop.  Returns 0 or the first error.
 */
int	referral_each(struct store *st, const char *node, int which,
	    int (*fn)(const struct referral_item *, void *), void *arg);

/* Days between the day on (YYYY-MM-DD) and today (YYYY-MM-DD); 0 when
 * either does not parse or on is later. */
int	referral_days(const char *on, const char *today);

#endif

/*
 * apply.c - how an accepted entry is applied: the log, the case index,
 * the case state and the feeds, in the caller's transaction
 * (apply_entry).  Every path that writes an entry ends here: local writes
 * and own entries given back (own.c), a province's batch at central
 * (from_province.c), central's feed at a province (from_central.c).
 */
#include "store_int.h"
#include "apply_int.h"
#include "merge.h"
#include "offer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

void
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
int
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
	uint64_t		 iid;
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
	/* Read in this transaction (case_load_raw, here or in authorise):
	 * the case index and the save need not look the case up again. */
	iid = s.iid;
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
		rc = log_append(st, t, e, r->data, r->len, &iid, lk,
		    &lklen);
	} else {
		buf_init(&rb, ENTRY_ENCODED_MAX + 256);
		rc = record_make(e, block, &rb);
		if (rc == 0)
			rc = log_append(st, t, e, rb.data, rb.len, &iid, lk,
			    &lklen);
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
	    case_save_sealing(st, t, &s, iid);
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

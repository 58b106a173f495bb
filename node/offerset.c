/*
 * offerset.c - the set of cases with a referral offer to list (the
 * referral inbox and central's list of waiting referrals), kept in the
 * same transaction as each case row, so /referrals and GET /api/referrals
 * read those cases only instead of every case (docs/PERFORMANCE.md).
 *
 *   offers  case_id -> ""   the case's latest offer waits for its answer,
 *                           or was answered (central lists those until
 *                           the sender has synced)
 */
#include "store_int.h"
#include "offer.h"

#include <string.h>

#include "../common/err.h"

/* Whether referral_each may list s, for any selection (referral.h):
 * the set is a superset, referral_each filters each case as before. */
static int
listed(const struct case_state *s)
{
	struct offer o;

	return offer_pending(s, &o) || (offer_latest(s, &o) &&
	    offer_answer(s, o.id, NULL) != 0);
}

int
offerset_update(struct store *st, MDB_txn *t, const char *id,
    const struct case_state *plain)
{
	static uint8_t	nothing;
	MDB_val		k = { strlen(id), (void *)(uintptr_t)id };
	MDB_val		d = { 0, &nothing };
	int		rc;

	if (plain != NULL && listed(plain))
		return mdb_err(st, mdb_put(t, st->offers, &k, &d, 0),
		    "put offers");
	rc = mdb_del(t, st->offers, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del offers");
}

struct offers_ctx {
	struct store	*st;
	MDB_txn		*t;
	int		(*fn)(const struct case_state *, void *);
	void		*arg;
};

static int
offers_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct offers_ctx	*oc = arg;
	struct case_state	 s;
	char			 id[ENTRY_CASE_ID_LEN + 1];
	uint8_t			 ik[IID_LEN];
	uint64_t		 iid;
	MDB_val			 rk = { sizeof(ik), ik }, cd;
	int			 rc;

	(void)d;
	if (k->mv_size != ENTRY_CASE_ID_LEN)
		return 0;
	memcpy(id, k->mv_data, ENTRY_CASE_ID_LEN);
	id[ENTRY_CASE_ID_LEN] = '\0';
	/* The case row, under its internal id (store_int.h). */
	if (caseid_get(oc->st, oc->t, id, &iid) != 0)
		return 0;
	be64_put(ik, iid);
	if (mdb_get(oc->t, oc->st->states, &rk, &cd) != 0)
		return 0;
	if (state_decode(cd.mv_data, cd.mv_size, &s) != 0)
		return E_INTEGRITY;
	rc = oc->fn(&s, oc->arg);
	state_release(&s);
	return rc;
}

int
store_offers_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	struct offers_ctx	oc = { st, NULL, fn, arg };
	int			rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &oc.t)) != 0)
		return rc;
	rc = table_each(st, oc.t, st->offers, NULL, 0, offers_one, &oc);
	mdb_txn_abort(oc.t);
	return rc;
}

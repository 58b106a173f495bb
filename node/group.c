/*
 * group.c - central's group commit: several received batches, from one
 * province or many, in one write transaction, each in a nested one
 * (store_apply_group; docs/PERFORMANCE.md, "Group commit").
 */
#include "store_int.h"
#include "apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* One batch of a group, in its own nested transaction of t: a batch that
 * fails is rolled back alone.  Returns the batch's result. */
static int
group_one(struct store *st, MDB_txn *t, struct apply_item *it)
{
	struct batch	*b;
	MDB_txn		*child;
	int		 rc;

	if (it->n == 0) {
		/* As an empty batch alone, read inside the group: an earlier
		 * batch of the same province in it may have moved its
		 * position. */
		return from_province_pos(st, t, it->peer,
		    &it->stats.last_pos);
	}
	if ((rc = mdb_err(st, mdb_txn_begin(st->env, t, 0, &child),
	    "begin nested")) != 0)
		return rc;
	/* The batch's name index changes are written at its end, sorted
	 * (names_defer): in its nested transaction, so they go with it. */
	names_defer(st);
	if ((rc = batch_new(it->peer, it->recs, it->n, &it->stats, it->err,
	    sizeof(it->err), &b)) == 0) {
		b->job = it->job;
		rc = from_province_fn(st, child, b);
	}
	batch_free(&b);
	if (rc == 0)
		rc = names_flush(st, child);
	names_discard(st);
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
			items[i].rc = store_apply_from_province(st,
			    items[i].peer, NULL, 0, &items[i].stats,
			    items[i].err, sizeof(items[i].err));
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

static int
group_found(const char *id, void *arg)
{
	(void)id;
	++*(int *)arg;
	return 0;
}

/* How many cases central's name search finds for query. */
static int
group_search(struct store *st, const char *query)
{
	int n = 0;

	if (store_name_search(st, query, 10, group_found, &n) != 0)
		return -1;
	return n;
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
	ST_OK(batch_test_enrol(c, "ha-noi", k1));
	ST_OK(batch_test_enrol(c, "cao-bang", k2));
	ST_OK(batch_test_enrol(c, "lao-cai", k3));
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
	/* The name index of the batches committed (written at each batch's
	 * end), none of the one rolled back. */
	ST_CHECK(group_search(c, "an le") == 1);
	ST_CHECK(group_search(c, "chi") == 1);
	ST_CHECK(group_search(c, "binh") == 0);

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
	ST_CHECK(group_search(c, "binh tran va") == 1);
	ST_CHECK(group_search(c, "an") == 1);

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

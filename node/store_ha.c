/*
 * store_ha.c - what high availability needs of the store (docs/HA.md):
 * small values in meta (the central epoch a province has seen, with its
 * signature; the epoch that fenced a central) and the change counter a
 * standby follows.  Part of the store module (store_int.h).
 */
#include "store_int.h"

#include <string.h>

#include "../common/err.h"

int
store_meta_u64_get(struct store *st, const char *key, uint64_t *v)
{
	MDB_txn	*t;
	int	 rc;

	*v = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64(st, t, st->meta, key, v);
	mdb_txn_abort(t);
	return rc;
}

struct blob_ctx {
	const char	*key;
	const void	*p;
	size_t		 len;
};

static int
blob_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct blob_ctx	*b = arg;
	MDB_val		 k = { strlen(b->key), (void *)(uintptr_t)b->key };
	MDB_val		 d = { b->len, (void *)(uintptr_t)b->p };

	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put meta");
}

static int
u64_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct blob_ctx *b = arg;

	return put_u64(st, t, st->meta, b->key, *(const uint64_t *)b->p);
}

int
store_meta_u64_put(struct store *st, const char *key, uint64_t v)
{
	struct blob_ctx b = { key, &v, sizeof(v) };

	return txn_run(st, u64_put_fn, &b);
}

int
store_meta_blob_get(struct store *st, const char *key, void *out, size_t cap,
    size_t *len)
{
	MDB_val	 k = { strlen(key), (void *)(uintptr_t)key }, d;
	MDB_txn	*t;
	int	 rc;

	*len = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0 && d.mv_size > cap)
		rc = E_INTEGRITY;
	else if (rc == 0) {
		memcpy(out, d.mv_data, d.mv_size);
		*len = d.mv_size;
	} else
		rc = mdb_err(st, rc, "get meta");
	mdb_txn_abort(t);
	return rc;
}

int
store_meta_blob_put(struct store *st, const char *key, const void *p,
    size_t len)
{
	struct blob_ctx b = { key, p, len };

	return txn_run(st, blob_put_fn, &b);
}

uint64_t
store_txn_id(struct store *st)
{
	MDB_envinfo ei;

	if (mdb_env_info(st->env, &ei) != 0)
		return 0;
	return (uint64_t)ei.me_last_txnid;
}

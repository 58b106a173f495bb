/*
 * keyhist.c - the keys a node has had (see keyhist.h).
 */
#include "keyhist.h"
#include "identity.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"

#define HO_TAG		"casesync-handover-v1"
#define KH_KEY_MAX	(HLC_NODE_MAX + 1 + 4)

/* What a record looks like on disk: fixed size, checked on read. */
struct keyhist_disk {
	uint32_t	version;
	uint32_t	epoch;
	uint32_t	how;
	uint32_t	confirmed;
	uint64_t	from;
	uint64_t	revoked_from;
	uint8_t		sign_pub[CRYPTO_SIGN_PUB];
	uint8_t		curve_pub[32];
	uint8_t		sig[CRYPTO_SIG];
};

static size_t
kh_key(uint8_t *k, const char *node, uint32_t epoch)
{
	size_t n = strlen(node);

	memcpy(k, node, n);
	k[n] = '\0';
	for (int i = 0; i < 4; i++)
		k[n + 1 + i] = (uint8_t)(epoch >> (8 * (3 - i)));
	return n + 5;
}

static int
mdb_rc(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return E_NOTFOUND;
	if (rc == MDB_MAP_FULL || rc == ENOSPC)
		return E_FULL;
	return E_STORE;
}

int
keyhist_put_txn(void *txn, unsigned dbi, const struct keyhist_epoch *ep)
{
	struct keyhist_disk	kd;
	uint8_t			key[KH_KEY_MAX];
	MDB_val			k, d;

	if (!node_id_valid(ep->node))
		return E_INVAL;
	memset(&kd, 0, sizeof(kd));
	kd.version = 1;
	kd.epoch = ep->epoch;
	kd.how = ep->how;
	kd.confirmed = ep->confirmed;
	kd.from = ep->from;
	kd.revoked_from = ep->revoked_from;
	memcpy(kd.sign_pub, ep->sign_pub, sizeof(kd.sign_pub));
	memcpy(kd.curve_pub, ep->curve_pub, sizeof(kd.curve_pub));
	memcpy(kd.sig, ep->sig, sizeof(kd.sig));
	k.mv_data = key;
	k.mv_size = kh_key(key, ep->node, ep->epoch);
	d.mv_data = &kd;
	d.mv_size = sizeof(kd);
	return mdb_rc(mdb_put(txn, (MDB_dbi)dbi, &k, &d, 0));
}

int
keyhist_list_txn(void *txn, unsigned dbi, const char *node,
    struct keyhist_epoch *out, size_t max, size_t *n)
{
	MDB_cursor	*c;
	MDB_val		 k, d;
	uint8_t		 key[KH_KEY_MAX];
	size_t		 nlen = strlen(node);
	int		 rc, op = MDB_SET_RANGE;

	*n = 0;
	if (nlen == 0 || nlen > HLC_NODE_MAX)
		return E_INVAL;
	if ((rc = mdb_rc(mdb_cursor_open(txn, (MDB_dbi)dbi, &c))) != 0)
		return rc;
	k.mv_data = key;
	k.mv_size = kh_key(key, node, 0);
	while (*n < max && (rc = mdb_cursor_get(c, &k, &d, op)) == 0) {
		struct keyhist_disk	 kd;
		struct keyhist_epoch	*ep = &out[*n];

		op = MDB_NEXT;
		if (k.mv_size != nlen + 5 || memcmp(k.mv_data, node, nlen) !=
		    0 || ((uint8_t *)k.mv_data)[nlen] != '\0')
			break;
		if (d.mv_size != sizeof(kd)) {
			mdb_cursor_close(c);
			return E_INTEGRITY;
		}
		memcpy(&kd, d.mv_data, sizeof(kd));
		if (kd.version != 1 || kd.how < KH_ENROLLED || kd.how >
		    KH_RELAYED) {
			mdb_cursor_close(c);
			return E_INTEGRITY;
		}
		memset(ep, 0, sizeof(*ep));
		strlcpy_(ep->node, node, sizeof(ep->node));
		ep->epoch = kd.epoch;
		ep->how = kd.how;
		ep->confirmed = kd.confirmed;
		ep->from = kd.from;
		ep->revoked_from = kd.revoked_from;
		memcpy(ep->sign_pub, kd.sign_pub, sizeof(ep->sign_pub));
		memcpy(ep->curve_pub, kd.curve_pub, sizeof(ep->curve_pub));
		memcpy(ep->sig, kd.sig, sizeof(ep->sig));
		(*n)++;
	}
	mdb_cursor_close(c);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_rc(rc);
}

int
keyhist_at_txn(void *txn, unsigned dbi, const char *node, uint64_t pos,
    struct keyhist_epoch *out, uint64_t *until)
{
	struct keyhist_epoch	eps[KEYHIST_MAX];
	size_t			n, hit = 0;
	int			rc;

	if ((rc = keyhist_list_txn(txn, dbi, node, eps, KEYHIST_MAX, &n)) !=
	    0)
		return rc;
	if (n == 0)
		return E_NOTFOUND;
	/* Epochs go up with their from: the last one starting at or before
	 * pos holds it (the first holds anything before its own from). */
	for (size_t i = 1; i < n; i++)
		if (eps[i].from <= pos)
			hit = i;
	*out = eps[hit];
	if (until != NULL)
		*until = hit + 1 < n ? eps[hit + 1].from : UINT64_MAX;
	return 0;
}

struct kh_call {
	const char		*node;
	uint64_t		 pos;
	struct keyhist_epoch	*out;
	const struct keyhist_epoch *in;
	uint64_t		*until;
	size_t			 max, *n;
};

static int
at_fn(void *txn, unsigned dbi, void *arg)
{
	struct kh_call *a = arg;

	return keyhist_at_txn(txn, dbi, a->node, a->pos, a->out, a->until);
}

static int
list_fn(void *txn, unsigned dbi, void *arg)
{
	struct kh_call *a = arg;

	return keyhist_list_txn(txn, dbi, a->node, a->out, a->max, a->n);
}

static int
put_fn(void *txn, unsigned dbi, void *arg)
{
	struct kh_call *a = arg;

	return keyhist_put_txn(txn, dbi, a->in);
}

int
keyhist_at(struct store *st, const char *node, uint64_t pos,
    struct keyhist_epoch *out, uint64_t *until)
{
	struct kh_call a = { node, pos, out, NULL, until, 0, NULL };

	return store_keyhist_run(st, 0, at_fn, &a);
}

int
keyhist_list(struct store *st, const char *node, struct keyhist_epoch *out,
    size_t max, size_t *n)
{
	struct kh_call a = { node, 0, out, NULL, NULL, max, n };

	return store_keyhist_run(st, 0, list_fn, &a);
}

int
keyhist_put(struct store *st, const struct keyhist_epoch *ep)
{
	struct kh_call a = { ep->node, 0, NULL, ep, NULL, 0, NULL };

	return store_keyhist_run(st, 1, put_fn, &a);
}

int
keyhist_own_sync(struct store *st, const char *node,
    const struct identity *id, int *confirmed)
{
	struct keyhist_epoch	eps[KEYHIST_MAX], ep;
	size_t			n;
	int			rc, cur = -1;

	*confirmed = 0;
	if (id->epoch == 0)
		return 0;
	if ((rc = keyhist_list(st, node, eps, KEYHIST_MAX, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (eps[i].epoch == id->epoch &&
		    memcmp(eps[i].sign_pub, id->sign_pub, 32) == 0)
			cur = (int)i;
	if (cur >= 0) {
		*confirmed = id->has_prev && eps[cur].confirmed;
		return 0;
	}
	if (n == 0 && id->has_prev) {
		memset(&ep, 0, sizeof(ep));
		strlcpy_(ep.node, node, sizeof(ep.node));
		ep.epoch = id->epoch - 1;
		ep.how = KH_ENROLLED;
		ep.from = 1;
		ep.confirmed = 1;
		memcpy(ep.sign_pub, id->prev.sign_pub, 32);
		memcpy(ep.curve_pub, id->prev.curve_pub, 32);
		if ((rc = keyhist_put(st, &ep)) != 0)
			return rc;
	}
	memset(&ep, 0, sizeof(ep));
	strlcpy_(ep.node, node, sizeof(ep.node));
	ep.epoch = id->epoch;
	ep.how = KH_HANDOVER;
	ep.from = id->ho_from ? id->ho_from : 1;
	ep.confirmed = !id->has_prev;
	memcpy(ep.sign_pub, id->sign_pub, 32);
	memcpy(ep.curve_pub, id->curve_pub, 32);
	memcpy(ep.sig, id->ho_sig, sizeof(ep.sig));
	return keyhist_put(st, &ep);
}

int
keyhist_check(struct store *st, const char *node, char *err, size_t errsz)
{
	struct keyhist_epoch	eps[KEYHIST_MAX];
	size_t			n;
	int			rc;

	if ((rc = keyhist_list(st, node, eps, KEYHIST_MAX, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (eps[i].epoch <= eps[i - 1].epoch ||
		    eps[i].from < eps[i - 1].from)) {
			snprintf(err, errsz, "the key history of %s is out of "
			    "order at epoch %u", node, eps[i].epoch);
			return E_INTEGRITY;
		}
		if (eps[i].how == KH_HANDOVER && (i == 0 ||
		    !keyhist_handover_check(node, eps[i].from,
		    eps[i - 1].sign_pub, eps[i].sign_pub, eps[i].curve_pub,
		    eps[i].sig))) {
			snprintf(err, errsz, "the hand-over of %s to its key "
			    "of epoch %u is not signed by the key before it",
			    node, eps[i].epoch);
			return E_INTEGRITY;
		}
	}
	return 0;
}

static size_t
ho_text(uint8_t *p, const char *node, uint64_t from, const uint8_t *old_pub,
    const uint8_t *sign_pub, const uint8_t *curve_pub)
{
	size_t n = 0, nl = strlen(node);

	memcpy(p, HO_TAG, sizeof(HO_TAG));	/* with its NUL */
	n += sizeof(HO_TAG);
	memcpy(p + n, node, nl + 1);
	n += nl + 1;
	for (int i = 7; i >= 0; i--)
		p[n++] = (uint8_t)(from >> (8 * i));
	memcpy(p + n, old_pub, 32);
	memcpy(p + n + 32, sign_pub, 32);
	memcpy(p + n + 64, curve_pub, 32);
	return n + 96;
}

int
keyhist_handover_sign(const uint8_t old_sec[CRYPTO_SIGN_SEC],
    const char *node, uint64_t from, const uint8_t old_pub[CRYPTO_SIGN_PUB],
    const uint8_t sign_pub[CRYPTO_SIGN_PUB], const uint8_t curve_pub[32],
    uint8_t sig[CRYPTO_SIG])
{
	uint8_t	text[KEYHIST_HO_MAX];
	size_t	n;

	if (strlen(node) > HLC_NODE_MAX)
		return E_INVAL;
	n = ho_text(text, node, from, old_pub, sign_pub, curve_pub);
	return crypto_sign(old_sec, text, n, sig);
}

int
keyhist_handover_check(const char *node, uint64_t from,
    const uint8_t old_pub[CRYPTO_SIGN_PUB],
    const uint8_t sign_pub[CRYPTO_SIGN_PUB], const uint8_t curve_pub[32],
    const uint8_t sig[CRYPTO_SIG])
{
	uint8_t	text[KEYHIST_HO_MAX];
	size_t	n;

	if (strlen(node) > HLC_NODE_MAX)
		return 0;
	n = ho_text(text, node, from, old_pub, sign_pub, curve_pub);
	return crypto_verify(old_pub, text, n, sig);
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
keyhist_selftest(void)
{
	uint8_t	op[32], os[32], np[32], ns[32], cp[32] = { 7 }, sig[64];

	ST_OK(crypto_sign_keypair(op, os));
	ST_OK(crypto_sign_keypair(np, ns));
	ST_OK(keyhist_handover_sign(os, "lao-cai", 5, op, np, cp, sig));
	ST_CHECK(keyhist_handover_check("lao-cai", 5, op, np, cp, sig) == 1);
	/* Every field is bound. */
	ST_CHECK(keyhist_handover_check("lao-ca", 5, op, np, cp, sig) == 0);
	ST_CHECK(keyhist_handover_check("lao-cai", 6, op, np, cp, sig) == 0);
	ST_CHECK(keyhist_handover_check("lao-cai", 5, np, np, cp, sig) == 0);
	cp[1] = 1;
	ST_CHECK(keyhist_handover_check("lao-cai", 5, op, np, cp, sig) == 0);
	/* Signed by the new key instead of the old: refused. */
	cp[1] = 0;
	ST_OK(keyhist_handover_sign(ns, "lao-cai", 5, np, np, cp, sig));
	ST_CHECK(keyhist_handover_check("lao-cai", 5, op, np, cp, sig) == 0);
	return 0;
}
#endif

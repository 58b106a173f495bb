#include "sign.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/util.h"

#define CHAIN_TAG	"casesync-chain-v1"
#define MARKER_PREFIX	"\"#sha256:"
#define MARKER_LEN	(9 + 64 + 1)	/* "#sha256:<64 hex>" with quotes */

static int
op_identifying(const struct op *o)
{
	return (o->type == OP_SET && schema_path_identifying(o->path)) ||
	    (o->type == OP_EVENT && schema_coll_identifying(o->path));
}

int
sign_is_marker(const char *v, size_t len)
{
	return len == MARKER_LEN && memcmp(v, MARKER_PREFIX, 9) == 0 &&
	    v[len - 1] == '"';
}

void
sign_salt(struct entry *e)
{
	for (size_t i = 0; i < e->nops; i++) {
		struct op *o = &e->ops[i];

		if (op_identifying(o) && !o->has_salt &&
		    !sign_is_marker(o->value, o->value_len)) {
			random_bytes(o->salt, sizeof(o->salt));
			o->has_salt = 1;
		}
	}
}

/* SHA-256 of up to three parts, prepared (sh) or not. */
static void
hash3(struct crypto_sha *sh, const void *a, size_t alen, const void *b,
    size_t blen, const void *c, size_t clen, uint8_t out[CRYPTO_HASH])
{
	if (sh != NULL)
		crypto_sha3(sh, a, alen, b, blen, c, clen, out);
	else
		crypto_hash3(a, alen, b, blen, c, clen, out);
}

/* Writes the digest marker of a salted value into m (MARKER_LEN + 1). */
static void
marker(struct crypto_sha *sh, const struct op *o, char *m)
{
	uint8_t h[CRYPTO_HASH];

	hash3(sh, o->salt, sizeof(o->salt), o->value, o->value_len, NULL, 0,
	    h);
	memcpy(m, MARKER_PREFIX, 9);
	hex_encode(h, sizeof(h), m + 9);
	m[MARKER_LEN - 1] = '"';
	m[MARKER_LEN] = '\0';
}

int
sign_redact(struct entry *e)
{
	int n = 0;

	for (size_t i = 0; i < e->nops; i++) {
		struct op	*o = &e->ops[i];
		char		 m[MARKER_LEN + 1];

		if (!o->has_salt)
			continue;
		marker(NULL, o, m);
		crypto_wipe(o->value, o->value_len);
		op_set_value(o, m, MARKER_LEN);
		memset(o->salt, 0, sizeof(o->salt));
		o->has_salt = 0;
		n++;
	}
	return n;
}

/*
 * D(e): SHA-256 of the encoding of e's signed form (e after sign_redact).
 * Only salted ops differ in that form, so f is a shallow copy of e: the
 * salted ops point at their digest markers, every other op borrows e's
 * value.  A deep copy of every value here cost as much as the hashing
 * (this runs for every entry written, received and verified).
 */
static int
digest_encode(struct crypto_sha *sh, const struct entry *e,
    uint8_t d[CRYPTO_HASH])
{
	struct entry	  f;
	struct buf	  b;
	char		(*m)[MARKER_LEN + 1];
	size_t		  nm = 0, j = 0;
	int		  rc;

	f = *e;
	f.ops = xreallocarray(NULL, e->nops ? e->nops : 1, sizeof(*f.ops));
	if (e->nops > 0)
		memcpy(f.ops, e->ops, e->nops * sizeof(*f.ops));
	for (size_t i = 0; i < f.nops; i++)
		nm += f.ops[i].has_salt != 0;
	m = xcalloc(nm ? nm : 1, sizeof(*m));
	for (size_t i = 0; i < f.nops; i++) {
		struct op *o = &f.ops[i];

		if (!o->has_salt)
			continue;
		marker(sh, &e->ops[i], m[j]);
		o->value = m[j++];
		o->value_len = MARKER_LEN;
		memset(o->salt, 0, sizeof(o->salt));
		o->has_salt = 0;
	}
	buf_init(&b, ENTRY_ENCODED_MAX);
	if ((rc = entry_encode(&f, &b)) == 0)
		hash3(sh, b.data, b.len, NULL, 0, NULL, 0, d);
	buf_release(&b);
	free(m);
	free(f.ops);		/* the values are e's or m's */
	return rc;
}

/*
 * D(e) from the bytes e was decoded from: they are hashed as they are,
 * except that each salted op's span is replaced by that op's signed form
 * (its value replaced by the digest marker, without the salt).  No other
 * byte differs between the received entry and its signed form: the ops
 * array keeps its count, and the decoder took only the shortest encoding
 * of everything.  Returns E_INVAL when the spans do not describe ent (an
 * entry not decoded from it), and the caller encodes instead.
 */
static int
digest_raw(struct crypto_sha *sh, const struct entry *e, const uint8_t *ent,
    size_t entlen, uint8_t d[CRYPTO_HASH])
{
	struct buf	b;
	size_t		at = 0, from = 0, ends[ENTRY_MAX_OPS];
	int		rc = 0;

	if (e->nops > ENTRY_MAX_OPS)
		return E_INVAL;
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *o = &e->ops[i];

		if (o->span_len == 0 || o->span_off < at ||
		    o->span_len > entlen - o->span_off)
			return E_INVAL;
		at = (size_t)o->span_off + o->span_len;
	}
	/* The signed form of each salted op, one after the other in b. */
	buf_init(&b, ENTRY_ENCODED_MAX);
	for (size_t i = 0; i < e->nops && rc == 0; i++) {
		const struct op	*o = &e->ops[i];
		struct op	 f;
		char		 m[MARKER_LEN + 1];

		if (!o->has_salt)
			continue;
		f = *o;
		marker(sh, o, m);
		f.value = m;
		f.value_len = MARKER_LEN;
		memset(f.salt, 0, sizeof(f.salt));
		f.has_salt = 0;
		rc = op_encode(&f, &b);
		ends[i] = b.len;
	}
	if (rc == 0) {
		at = 0;
		crypto_sha_init(sh);
		for (size_t i = 0; i < e->nops; i++) {
			const struct op *o = &e->ops[i];

			if (!o->has_salt)
				continue;
			crypto_sha_update(sh, ent + at, o->span_off - at);
			crypto_sha_update(sh, b.data + from, ends[i] - from);
			from = ends[i];
			at = (size_t)o->span_off + o->span_len;
		}
		crypto_sha_update(sh, ent + at, entlen - at);
		crypto_sha_final(sh, d);
	}
	buf_release(&b);
	return rc;
}

int
sign_digest(struct crypto_sha *sh, const struct entry *e, const uint8_t *ent,
    size_t entlen, uint8_t d[CRYPTO_HASH])
{
	struct crypto_sha	*own = NULL;
	int			 rc;

	if (ent == NULL)
		return digest_encode(sh, e, d);
	if (sh == NULL && (rc = crypto_sha_new(&own)) != 0)
		return rc;
	rc = digest_raw(sh != NULL ? sh : own, e, ent, entlen, d);
	crypto_sha_free(&own);
	if (rc == E_INVAL)
		rc = digest_encode(sh, e, d);
	return rc;
}

void
sign_link(struct crypto_sha *sh, const uint8_t prev[CRYPTO_HASH],
    const uint8_t d[CRYPTO_HASH], uint8_t h[CRYPTO_HASH])
{
	hash3(sh, CHAIN_TAG, strlen(CHAIN_TAG), prev, CRYPTO_HASH, d,
	    CRYPTO_HASH, h);
}

int
sign_verify(const uint8_t pub[CRYPTO_SIGN_PUB],
    const uint8_t block[SIGN_BLOCK], const uint8_t h[CRYPTO_HASH])
{
	return crypto_verify(pub, h, CRYPTO_HASH, block);
}

int
sign_chain(const struct entry *e, const uint8_t prev[CRYPTO_HASH],
    uint8_t h[CRYPTO_HASH])
{
	uint8_t d[CRYPTO_HASH];
	int	rc;

	if ((rc = digest_encode(NULL, e, d)) != 0)
		return rc;
	sign_link(NULL, prev, d, h);
	return 0;
}

int
sign_entry(const struct entry *e, const uint8_t sec[CRYPTO_SIGN_SEC],
    const uint8_t prev[CRYPTO_HASH], uint8_t block[SIGN_BLOCK],
    uint8_t h[CRYPTO_HASH])
{
	uint8_t	p[CRYPTO_HASH];
	int	rc;

	/* prev and h may be the same buffer. */
	memcpy(p, prev, sizeof(p));
	if ((rc = sign_chain(e, p, h)) != 0)
		return rc;
	if ((rc = crypto_sign(sec, h, CRYPTO_HASH, block)) != 0)
		return rc;
	memcpy(block + CRYPTO_SIG, p, CRYPTO_HASH);
	return 0;
}

int
sign_check(const struct entry *e, const uint8_t pub[CRYPTO_SIGN_PUB],
    const uint8_t block[SIGN_BLOCK], uint8_t h[CRYPTO_HASH])
{
	if (sign_chain(e, block + CRYPTO_SIG, h) != 0)
		return 0;
	return crypto_verify(pub, h, CRYPTO_HASH, block);
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
sign_selftest(void)
{
	struct entry	e, r;
	struct op	*o;
	uint8_t		pub[32], sec[32], prev[32] = { 0 }, blk[SIGN_BLOCK];
	uint8_t		h1[32], h2[32];

	ST_OK(crypto_sign_keypair(pub, sec));
	entry_init(&e);
	strlcpy_(e.origin, "lao-cai", sizeof(e.origin));
	e.seq = 1;
	e.hlc = 1000;
	strlcpy_(e.author, "a@lao-cai", sizeof(e.author));
	strlcpy_(e.case_id, "0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2e",
	    sizeof(e.case_id));
	o = entry_add_op(&e, OP_SET);
	strlcpy_(o->path, "person.full_name", sizeof(o->path));
	op_set_value(o, "\"FAKE Name\"", 11);
	o = entry_add_op(&e, OP_SET);
	strlcpy_(o->path, "person.sex", sizeof(o->path));
	op_set_value(o, "\"female\"", 8);
	sign_salt(&e);
	ST_CHECK(e.ops[0].has_salt && !e.ops[1].has_salt);
	ST_OK(sign_entry(&e, sec, prev, blk, h1));
	ST_CHECK(sign_check(&e, pub, blk, h2) == 1);
	ST_CHECK(memcmp(h1, h2, 32) == 0);
	{
		struct crypto_sha	*sh;
		struct buf		 b;
		uint8_t			 d1[32], d2[32];

		/* The digest of the received bytes is the digest of the
		 * signed form encoded again, salted op or not. */
		ST_OK(crypto_sha_new(&sh));
		buf_init(&b, ENTRY_ENCODED_MAX);
		ST_OK(entry_encode(&e, &b));
		ST_OK(entry_decode(b.data, b.len, &r));
		ST_OK(sign_digest(sh, &r, NULL, 0, d1));
		ST_OK(sign_digest(sh, &r, b.data, b.len, d2));
		ST_CHECK(memcmp(d1, d2, 32) == 0);
		sign_link(sh, prev, d2, h2);
		ST_CHECK(memcmp(h1, h2, 32) == 0);
		ST_CHECK(sign_verify(pub, blk, h2) == 1);
		/* Without the salted op, the same bytes hash as they are. */
		r.ops[0].has_salt = 0;
		ST_OK(sign_digest(sh, &r, b.data, b.len, d2));
		ST_CHECK(memcmp(d1, d2, 32) != 0);
		crypto_sha3(sh, b.data, b.len, NULL, 0, NULL, 0, d1);
		ST_CHECK(memcmp(d1, d2, 32) == 0);
		/* Spans that do not describe the bytes: encoded instead. */
		r.ops[0].has_salt = 1;
		r.ops[1].span_off = 0;
		ST_OK(sign_digest(sh, &r, b.data, b.len, d2));
		ST_OK(sign_digest(NULL, &r, NULL, 0, d1));
		ST_CHECK(memcmp(d1, d2, 32) == 0);
		entry_release(&r);
		buf_release(&b);
		crypto_sha_free(&sh);
	}
	/* Erasure keeps the signature valid and removes the value. */
	entry_copy(&r, &e);
	ST_CHECK(sign_redact(&r) == 1);
	ST_CHECK(strstr(r.ops[0].value, "FAKE") == NULL);
	ST_CHECK(sign_is_marker(r.ops[0].value, r.ops[0].value_len));
	ST_CHECK(sign_check(&r, pub, blk, h2) == 1);
	ST_CHECK(memcmp(h1, h2, 32) == 0);
	/* Any other change breaks it. */
	op_set_value(&r.ops[1], "\"male\"", 6);
	ST_CHECK(sign_check(&r, pub, blk, h2) == 0);
	entry_release(&r);
	entry_copy(&r, &e);
	op_set_value(&r.ops[0], "\"FAKE Other\"", 12);
	ST_CHECK(sign_check(&r, pub, blk, h2) == 0);
	entry_release(&r);
	/* The chain binds the previous hash. */
	prev[0] = 1;
	memcpy(blk + 64, prev, 32);
	ST_CHECK(sign_check(&e, pub, blk, h2) == 0);
	entry_release(&e);
	return 0;
}
#endif

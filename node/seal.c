/*
 * seal.c - the store at rest: identifying values and authors sealed in
 * the case table, log records sealed with the data key, and the check
 * value that tells a wrong data key (passphrase) from the right one.
 */
#include "store_int.h"
#include "schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/*
 * At rest, every identifying value (field heads and identifying events) is
 * sealed with the data key: 0x00 || nonce || AES-256-GCM || tag, bound to
 * the case id.  JSON text never starts with a NUL byte, so the marker is
 * unambiguous.  Everything else stays readable for reports.
 */
static int
value_seal(struct store *st, const char *id, uint8_t **v, size_t *len)
{
	struct buf	b;
	int		rc;

	if (!st->have_keys || *len == 0 || (*v)[0] == 0)
		return 0;
	buf_init(&b, *len + CRYPTO_SEAL_OVERHEAD + 1);
	buf_append(&b, "", 1);
	if ((rc = crypto_aead_seal(st->aead, id, strlen(id), *v, *len, &b))) {
		buf_release(&b);
		return rc;
	}
	crypto_wipe(*v, *len);
	free(*v);
	*v = b.data;
	*len = b.len;
	return 0;
}

int
value_open(struct store *st, const char *id, uint8_t **v, size_t *len)
{
	struct buf	b;
	int		rc;

	if (*len == 0 || (*v)[0] != 0)
		return 0;
	if (!st->have_keys)
		return E_AUTH;
	buf_init(&b, *len + 1);
	if ((rc = crypto_aead_open(st->aead, id, strlen(id), *v + 1, *len - 1,
	    &b)) != 0) {
		buf_release(&b);
		log_warnx("store: case %s: a sealed value does not open", id);
		return E_INTEGRITY;
	}
	free(*v);
	*v = b.data;
	*len = b.len;
	return 0;
}

/*
 * Authors (staff names: personal data, if not the victims') do not sit in
 * the case table either.  Each head and event holds a pseudonym instead:
 * STATE_AUTHOR_SEALED and the hex of the first STATE_AUTHOR_PSEUDO bytes
 * of HMAC-SHA256(authorkey, author), authorkey being derived from the
 * data key.  The `authors` table maps a pseudonym to the name, sealed
 * with the data key and bound to that pseudonym.  A case row grows by
 * nothing (a pseudonym is about as long as a name; sealing each author in
 * place doubled the case table), and a name is stored once per node.
 * The price: the table shows which changes share an author, not who it
 * is (docs/SECURITY.md).
 */
#define AUTHOR_AAD	"casesync-author:"
#define AUTHOR_KEY_TAG	"casesync-author-pseudonym-v1"

/* The pseudonym of author a: from st->pseudo when a was among the last
 * sealed, else an HMAC (kept there for the next entries). */
static int
author_pseudonym(struct store *st, const char *a,
    uint8_t p[STATE_AUTHOR_PSEUDO])
{
	struct pseudo_cache	*c = &st->pseudo;
	uint8_t			 h[CRYPTO_HASH];
	size_t			 i;
	int			 rc;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].name, a) == 0) {
			memcpy(p, c->e[i].p, STATE_AUTHOR_PSEUDO);
			return 0;
		}
	if ((rc = crypto_mac(st->authormac, a, strlen(a), h)) != 0)
		return rc;
	memcpy(p, h, STATE_AUTHOR_PSEUDO);
	crypto_wipe(h, sizeof(h));
	i = c->next;
	strlcpy_(c->e[i].name, a, sizeof(c->e[i].name));
	memcpy(c->e[i].p, p, STATE_AUTHOR_PSEUDO);
	c->next = (i + 1) % PSEUDO_CACHE;
	if (c->n < PSEUDO_CACHE)
		c->n++;
	return 0;
}

void
seal_forget(struct store *st)
{
	crypto_wipe(&st->pseudo, sizeof(st->pseudo));
	st->pseudo.n = st->pseudo.next = 0;
}

static void
author_aad(const uint8_t p[STATE_AUTHOR_PSEUDO], uint8_t *aad)
{
	memcpy(aad, AUTHOR_AAD, sizeof(AUTHOR_AAD) - 1);
	memcpy(aad + sizeof(AUTHOR_AAD) - 1, p, STATE_AUTHOR_PSEUDO);
}

/*
 * The authors of one case are few and repeat in every head and event:
 * state_crypt remembers the last few it sealed or opened (name and
 * pseudonym), so a case costs a handful of lookups, not one per value.
 */
#define AUTHOR_MEMO	8
struct author_memo {
	struct {
		char	name[ENTRY_AUTHOR_MAX + 1];
		char	pseudo[2 * STATE_AUTHOR_PSEUDO + 2];
	}	 e[AUTHOR_MEMO];
	size_t	 n, next;
};

/* Copies the other form of a (name or pseudonym) from the memo into a;
 * 1 when found. */
static int
memo_find(const struct author_memo *m, char *a, int by_pseudo)
{
	for (size_t i = 0; i < m->n; i++) {
		const char *k = by_pseudo ? m->e[i].pseudo : m->e[i].name;

		if (strcmp(k, a) == 0) {
			strlcpy_(a, by_pseudo ? m->e[i].name : m->e[i].pseudo,
			    ENTRY_AUTHOR_MAX + 1);
			return 1;
		}
	}
	return 0;
}

static void
memo_add(struct author_memo *m, const char *name, const char *pseudo)
{
	size_t i = m->next;

	strlcpy_(m->e[i].name, name, sizeof(m->e[i].name));
	strlcpy_(m->e[i].pseudo, pseudo, sizeof(m->e[i].pseudo));
	m->next = (i + 1) % AUTHOR_MEMO;
	if (m->n < AUTHOR_MEMO)
		m->n++;
}

/* Replaces author a by its pseudonym, keeping the name in `authors` (in
 * write transaction t).  Skips a pseudonym, as value_seal skips a sealed
 * value. */
static int
author_seal(struct store *st, MDB_txn *t, struct author_memo *m, char *a)
{
	uint8_t		p[STATE_AUTHOR_PSEUDO];
	uint8_t		aad[sizeof(AUTHOR_AAD) - 1 + STATE_AUTHOR_PSEUDO];
	MDB_val		k = { sizeof(p), p }, d;
	struct buf	b;
	char		name[ENTRY_AUTHOR_MAX + 1];
	int		rc;

	/* A real author never starts with STATE_AUTHOR_SEALED (state.h),
	 * so that byte alone says a pseudonym: a state loaded from its row
	 * has one in every head but the new ones (state_encode refuses one
	 * that is not well formed). */
	if (!st->have_keys || a[0] == '\0' || a[0] == STATE_AUTHOR_SEALED ||
	    memo_find(m, a, 0))
		return 0;
	assert(t != NULL);
	if ((rc = author_pseudonym(st, a, p)) != 0)
		return rc;
	rc = mdb_get(t, st->authors, &k, &d);
	if (rc == MDB_NOTFOUND) {
		author_aad(p, aad);
		buf_init(&b, ENTRY_AUTHOR_MAX + CRYPTO_SEAL_OVERHEAD);
		if ((rc = crypto_aead_seal(st->aead, aad, sizeof(aad), a,
		    strlen(a), &b)) == 0) {
			d.mv_size = b.len;
			d.mv_data = b.data;
			rc = mdb_err(st, mdb_put(t, st->authors, &k, &d, 0),
			    "put author");
		}
		buf_release(&b);
	} else
		rc = mdb_err(st, rc, "get author");
	if (rc != 0)
		return rc;
	strlcpy_(name, a, sizeof(name));
	a[0] = STATE_AUTHOR_SEALED;
	hex_encode(p, sizeof(p), a + 1);
	memo_add(m, name, a);
	return 0;
}

/* Replaces a pseudonym by the author's name, read in t.  The name was
 * sealed bound to its pseudonym, so it cannot have been moved to
 * another. */
static int
author_open(struct store *st, MDB_txn *t, struct author_memo *m,
    const char *id, char *a)
{
	uint8_t		p[STATE_AUTHOR_PSEUDO];
	char		pseudo[2 * STATE_AUTHOR_PSEUDO + 2];
	uint8_t		aad[sizeof(AUTHOR_AAD) - 1 + STATE_AUTHOR_PSEUDO];
	MDB_val		k = { sizeof(p), p }, d;
	struct buf	b;
	int		rc;

	if (!state_author_sealed(a) || memo_find(m, a, 1))
		return 0;
	if (!st->have_keys)
		return E_AUTH;
	strlcpy_(pseudo, a, sizeof(pseudo));
	if (hex_decode(a + 1, p, sizeof(p)) != 0)
		return E_INTEGRITY;
	if ((rc = mdb_get(t, st->authors, &k, &d)) != 0) {
		log_warnx("store: case %s: an author is not in the authors "
		    "table", id);
		return rc == MDB_NOTFOUND ? E_INTEGRITY :
		    mdb_err(st, rc, "get author");
	}
	author_aad(p, aad);
	buf_init(&b, ENTRY_AUTHOR_MAX + 1);
	rc = crypto_aead_open(st->aead, aad, sizeof(aad), d.mv_data, d.mv_size,
	    &b);
	if (rc == 0 && (b.len == 0 || b.len > ENTRY_AUTHOR_MAX ||
	    memchr(b.data, '\0', b.len) != NULL))
		rc = E_INTEGRITY;
	if (rc == 0) {
		memcpy(a, b.data, b.len);
		a[b.len] = '\0';
		memo_add(m, a, pseudo);
	}
	buf_release(&b);
	if (rc != 0) {
		log_warnx("store: case %s: a sealed author does not open", id);
		return E_INTEGRITY;
	}
	return 0;
}

/* schema_path_identifying(path) of the field at index i of a state being
 * sealed, through st->identmemo. */
static int
path_identifying(struct store *st, size_t i, const char *path)
{
	struct ident_memo *m;

	if (i >= IDENT_MEMO)
		return schema_path_identifying(path);
	m = &st->identmemo[i];
	if (m->path[0] == '\0' || strcmp(m->path, path) != 0) {
		strlcpy_(m->path, path, sizeof(m->path));
		m->ident = schema_path_identifying(path);
	}
	return m->ident;
}

/*
 * Seals (seal = 1) or opens every identifying value and every author of s
 * in place.  Sealing needs the write transaction t; opening uses t, or a
 * read transaction of its own when t is NULL.
 */
int
state_crypt(struct store *st, MDB_txn *t, struct case_state *s, int seal)
{
	struct author_memo	 m;
	MDB_txn			*own = NULL;
	int			 rc = 0;

	m.n = m.next = 0;
	if (t == NULL && st->have_keys) {
		assert(!seal);
		if ((rc = txn_begin(st, MDB_RDONLY, &own)) != 0)
			return rc;
		t = own;
	}
	for (size_t i = 0; i < s->nfields && rc == 0; i++) {
		struct field	*f = &s->fields[i];
		int		 ident = seal ? path_identifying(st, i,
				     f->path) : schema_path_identifying(f->path);

		for (size_t j = 0; j < f->nheads && rc == 0; j++) {
			struct head *h = &f->heads[j];

			if (ident)
				rc = (seal ? value_seal : value_open)(st,
				    s->id, &h->value, &h->value_len);
			if (rc == 0)
				rc = seal ? author_seal(st, t, &m, h->author) :
				    author_open(st, t, &m, s->id, h->author);
		}
	}
	for (size_t i = 0; i < s->nevents && rc == 0; i++) {
		struct event *ev = &s->events[i];

		if (schema_coll_identifying(ev->coll))
			rc = (seal ? value_seal : value_open)(st, s->id,
			    &ev->value, &ev->value_len);
		if (rc == 0)
			rc = seal ? author_seal(st, t, &m, ev->author) :
			    author_open(st, t, &m, s->id, ev->author);
	}
	if (own != NULL)
		mdb_txn_abort(own);
	return rc;
}

/* The change log at rest: each record sealed with the data key, bound to
 * its (origin, seq) key so records cannot be swapped. */
int
log_seal(struct store *st, const uint8_t *lk, size_t lklen,
    const uint8_t *rec, size_t reclen, struct buf *out)
{
	if (!st->have_keys)
		return buf_append(out, rec, reclen);
	return crypto_aead_seal(st->aead, lk, lklen, rec, reclen, out);
}

int
log_unseal(struct store *st, const void *lk, size_t lklen, const MDB_val *d,
    struct buf *out)
{
	buf_reset(out);
	if (!st->have_keys)
		return buf_append(out, d->mv_data, d->mv_size);
	if (crypto_aead_open(st->aead, lk, lklen, d->mv_data, d->mv_size,
	    out) != 0) {
		log_warnx("store: a log record does not open (wrong data key, "
		    "or altered)");
		return E_INTEGRITY;
	}
	return 0;
}

#define KEYCHECK	"casesync-keycheck-v1"

static int
keycheck_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val		k = { 8, (void *)(uintptr_t)"keycheck" }, d;
	struct buf	b;
	int		rc;

	(void)arg;
	buf_init(&b, 256);
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0) {
		rc = crypto_aead_open(st->aead, NULL, 0, d.mv_data, d.mv_size,
		    &b);
		if (rc == 0 && (b.len != strlen(KEYCHECK) ||
		    memcmp(b.data, KEYCHECK, b.len) != 0))
			rc = E_AUTH;
		buf_release(&b);
		return rc ? E_AUTH : 0;
	}
	if (rc != MDB_NOTFOUND) {
		buf_release(&b);
		return mdb_err(st, rc, "keycheck");
	}
	if ((rc = crypto_aead_seal(st->aead, NULL, 0, KEYCHECK,
	    strlen(KEYCHECK), &b)) == 0) {
		d.mv_data = b.data;
		d.mv_size = b.len;
		rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "keycheck");
	}
	buf_release(&b);
	return rc;
}

int
seal_keys_set(struct store *st, const uint8_t sign_sec[CRYPTO_SIGN_SEC],
    const uint8_t sign_pub[CRYPTO_SIGN_PUB],
    const uint8_t datakey[CRYPTO_KEY])
{
	int rc;

	memcpy(st->sign_sec, sign_sec, CRYPTO_SIGN_SEC);
	memcpy(st->sign_pub, sign_pub, CRYPTO_SIGN_PUB);
	memcpy(st->datakey, datakey, CRYPTO_KEY);
	crypto_aead_free(&st->aead);
	crypto_mac_free(&st->authormac);
	seal_forget(st);	/* pseudonyms of the author key replaced */
	if ((rc = crypto_hmac(datakey, CRYPTO_KEY, AUTHOR_KEY_TAG,
	    sizeof(AUTHOR_KEY_TAG) - 1, st->authorkey)) != 0 ||
	    (rc = crypto_aead_new(st->datakey, &st->aead)) != 0 ||
	    (rc = crypto_mac_new(st->authorkey, sizeof(st->authorkey),
	    &st->authormac)) != 0)
		return rc;
	st->have_keys = 1;
	if ((rc = txn_run(st, keycheck_fn, NULL)) != 0) {
		st->have_keys = 0;
		crypto_aead_free(&st->aead);
		crypto_mac_free(&st->authormac);
		crypto_wipe(st->datakey, sizeof(st->datakey));
		crypto_wipe(st->authorkey, sizeof(st->authorkey));
		crypto_wipe(st->sign_sec, sizeof(st->sign_sec));
		return rc;
	}
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

/* A state of one field at path, value v, by author "lan". */
static void
one_field(struct case_state *s, const char *path, const char *v)
{
	state_init(s, "01a2276e-8c28-78e1-8721-c642e7eb1b40");
	s->fields = xcalloc(1, sizeof(*s->fields));
	s->nfields = 1;
	strlcpy_(s->fields[0].path, path, sizeof(s->fields[0].path));
	s->fields[0].heads = xcalloc(1, sizeof(*s->fields[0].heads));
	s->fields[0].nheads = 1;
	s->fields[0].heads[0].value = (uint8_t *)xstrdup(v);
	s->fields[0].heads[0].value_len = strlen(v);
	strlcpy_(s->fields[0].heads[0].author, "lan",
	    sizeof(s->fields[0].heads[0].author));
}

/* Whether a path is identifying is remembered by the field's index: an
 * identifying path and a plain one in turn at index 0 are each sealed,
 * or not, as the schema says. */
static int
ident_check(struct store *st)
{
	static const struct {
		const char	*path;
		int		 ident;
	} seq[] = {
		{ "person.full_name", 1 }, { "person.sex", 0 },
		{ "person.sex", 0 }, { "person.full_name", 1 },
		{ "person.full_name", 1 }, { "status", 0 },
		{ "person.full_name", 1 },
	};
	struct case_state	 s;
	MDB_txn			*t;

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		ST_CHECK(schema_path_identifying(seq[i].path) ==
		    seq[i].ident);
		one_field(&s, seq[i].path, "\"x\"");
		ST_OK(txn_begin(st, 0, &t));
		ST_OK(state_crypt(st, t, &s, 1));
		mdb_txn_abort(t);
		ST_CHECK((s.fields[0].heads[0].value[0] == 0) ==
		    seq[i].ident);
		state_release(&s);
	}
	return 0;
}

/* The pseudonyms kept from one state and transaction to the next are
 * the author key's HMAC, with more authors than the cache holds, in
 * several transactions; every author is in the authors table. */
static int
pseudo_check(struct store *st)
{
	struct case_state	 s;
	MDB_txn			*t;
	MDB_val			 k, d;
	uint8_t			 h[CRYPTO_HASH];
	char			 name[ENTRY_AUTHOR_MAX + 1], want[32];
	const size_t		 nauth = PSEUDO_CACHE + 3;

	for (int round = 0; round < 3; round++) {
		ST_OK(txn_begin(st, 0, &t));
		for (size_t i = 0; i < 2 * nauth; i++) {
			/* Authors in turn, then back, so that some come
			 * from the cache and some were pushed out of it. */
			size_t a = i < nauth ? i : 2 * nauth - 1 - i;

			snprintf(name, sizeof(name), "staff %zu", a);
			state_init(&s, "01a2276e-8c28-78e1-8721-c642e7eb1b40");
			s.fields = xcalloc(1, sizeof(*s.fields));
			s.nfields = 1;
			strlcpy_(s.fields[0].path, "status",
			    sizeof(s.fields[0].path));
			s.fields[0].heads = xcalloc(1,
			    sizeof(*s.fields[0].heads));
			s.fields[0].nheads = 1;
			s.fields[0].heads[0].value = (uint8_t *)xstrdup("1");
			s.fields[0].heads[0].value_len = 1;
			strlcpy_(s.fields[0].heads[0].author, name,
			    sizeof(s.fields[0].heads[0].author));
			ST_OK(state_crypt(st, t, &s, 1));
			ST_OK(crypto_mac(st->authormac, name, strlen(name),
			    h));
			want[0] = STATE_AUTHOR_SEALED;
			hex_encode(h, STATE_AUTHOR_PSEUDO, want + 1);
			ST_CHECK(strcmp(s.fields[0].heads[0].author,
			    want) == 0);
			k.mv_size = STATE_AUTHOR_PSEUDO;
			k.mv_data = h;
			ST_OK(mdb_get(t, st->authors, &k, &d));
			state_release(&s);
		}
		/* The first round's puts are dropped: the next round must
		 * put its authors again although their pseudonyms are
		 * kept. */
		if (round == 0)
			mdb_txn_abort(t);
		else
			ST_OK(mdb_err(st, mdb_txn_commit(t), "commit"));
	}
	ST_CHECK(st->pseudo.n == PSEUDO_CACHE);
	return 0;
}

int
seal_selftest(void)
{
	char			 dir[] = "/tmp/casesync-seal-XXXXXX";
	struct store		*st;
	struct case_state	 s;
	struct buf		 sealed, open;
	uint8_t			 sec[CRYPTO_SIGN_SEC], pub[CRYPTO_SIGN_PUB];
	uint8_t			 other[CRYPTO_KEY];
	MDB_val			 d;
	MDB_txn			*t;
	struct field		*f;

	ST_OK(store_test_open(dir, "p1", STORE_ROLE_PROVINCE, NULL, &st));
	/* A log record is bound to its key: it opens there only. */
	buf_init(&sealed, 256);
	buf_init(&open, 256);
	ST_OK(log_seal(st, (const uint8_t *)"p1\0aaaaaaaa", 11,
	    (const uint8_t *)"record", 6, &sealed));
	ST_CHECK(sealed.len == 6 + CRYPTO_SEAL_OVERHEAD);
	d.mv_data = sealed.data;
	d.mv_size = sealed.len;
	ST_OK(log_unseal(st, "p1\0aaaaaaaa", 11, &d, &open));
	ST_CHECK(open.len == 6 && memcmp(open.data, "record", 6) == 0);
	ST_CHECK(log_unseal(st, "p1\0aaaaaaab", 11, &d, &open) ==
	    E_INTEGRITY);
	/* An identifying value and its author are sealed in the case row,
	 * the rest stays readable; opening gives them back. */
	state_init(&s, "01a2276e-8c28-78e1-8721-c642e7eb1b40");
	s.fields = xcalloc(2, sizeof(*s.fields));
	s.nfields = 2;
	strlcpy_(s.fields[0].path, "person.full_name",
	    sizeof(s.fields[0].path));
	strlcpy_(s.fields[1].path, "person.sex", sizeof(s.fields[1].path));
	for (int i = 0; i < 2; i++) {
		f = &s.fields[i];
		f->heads = xcalloc(1, sizeof(*f->heads));
		f->nheads = 1;
		f->heads[0].value = (uint8_t *)xstrdup(i ? "\"f\"" : "\"Ana\"");
		f->heads[0].value_len = i ? 3 : 5;
		strlcpy_(f->heads[0].author, "lan", sizeof(f->heads[0].author));
	}
	ST_OK(txn_begin(st, 0, &t));
	ST_OK(state_crypt(st, t, &s, 1));
	ST_OK(mdb_err(st, mdb_txn_commit(t), "commit"));
	ST_CHECK(s.fields[0].heads[0].value[0] == 0);
	ST_CHECK(memcmp(s.fields[1].heads[0].value, "\"f\"", 3) == 0);
	ST_CHECK(state_author_sealed(s.fields[0].heads[0].author));
	ST_OK(state_crypt(st, NULL, &s, 0));
	ST_CHECK(s.fields[0].heads[0].value_len == 5 &&
	    memcmp(s.fields[0].heads[0].value, "\"Ana\"", 5) == 0);
	ST_CHECK(strcmp(s.fields[1].heads[0].author, "lan") == 0);
	state_release(&s);
	ST_OK(pseudo_check(st));
	ST_OK(ident_check(st));
	/* Another data key is refused, and leaves the store without keys
	 * and without the pseudonyms of the author key it had. */
	ST_OK(crypto_sign_keypair(pub, sec));
	memset(other, 0x33, sizeof(other));
	ST_CHECK(st->pseudo.n > 0);
	ST_CHECK(seal_keys_set(st, sec, pub, other) == E_AUTH);
	ST_CHECK(!st->have_keys);
	ST_CHECK(st->pseudo.n == 0 && st->pseudo.e[0].name[0] == '\0');
	buf_release(&sealed);
	buf_release(&open);
	store_test_close(&st, dir);
	return 0;
}
#endif

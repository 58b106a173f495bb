/*
 * casetab.c - the case table, and what is kept in step with it in the
 * same transaction: the blind name index (nameidx.h) and the set of
 * conflicted cases.  A case's row is the fold of its log entries
 * (fold_case) as this node sees it (project).
 */
#include "store_int.h"
#include "conflict.h"
#include "merge.h"
#include "nameidx.h"
#include "offer.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

int
store_info(struct store *st, struct store_info *info)
{
	MDB_txn		*t;
	MDB_stat	 ms;
	MDB_envinfo	 ei;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	memset(info, 0, sizeof(*info));
	if (st->node[0] == '\0')
		return E_NOTFOUND;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	strlcpy_(info->node, st->node, sizeof(info->node));
	strlcpy_(info->role, st->role, sizeof(info->role));
	get_u64(st, t, st->meta, "seq", &info->seq);
	get_u64(st, t, st->meta, "hlc", &info->hlc);
	get_u64(st, t, st->meta, "inc", &info->inc);
	mdb_stat(t, st->cases, &ms);
	info->ncases = ms.ms_entries;
	mdb_stat(t, st->log, &ms);
	info->nentries = ms.ms_entries;
	/* Count fields in conflict by reading the case table. */
	if (mdb_cursor_open(t, st->cases, &c) == 0) {
		while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
			struct case_state s;
			if (state_decode(d.mv_data, d.mv_size, &s) != 0)
				continue;
			if (state_crypt(st, t, &s, 0) != 0) {
				state_release(&s);
				continue;
			}
			for (size_t i = 0; i < s.nfields; i++)
				info->nconflicts +=
				    merge_conflicted(&s.fields[i]);
			state_release(&s);
		}
		mdb_cursor_close(c);
	}
	mdb_env_info(st->env, &ei);
	info->map_size = ei.me_mapsize;
	mdb_txn_abort(t);
	return 0;
}

/* Reads the state of case id into *s, with its identifying values opened.
 * E_NOTFOUND when absent. */
int
case_load_raw(struct store *st, MDB_txn *t, const char *id,
    struct case_state *s)
{
	MDB_val	k = { strlen(id), (void *)(uintptr_t)id }, d;
	int	rc = mdb_get(t, st->cases, &k, &d);

	if (rc != 0)
		return mdb_err(st, rc, "get case");
	if (state_decode(d.mv_data, d.mv_size, s) != 0) {
		log_warnx("store: case %s: stored state does not decode", id);
		return E_INTEGRITY;
	}
	return 0;
}

int
case_load(struct store *st, MDB_txn *t, const char *id,
    struct case_state *s)
{
	int rc = case_load_raw(st, t, id, s);

	if (rc == 0 && (rc = state_crypt(st, t, s, 0)) != 0)
		state_release(s);
	return rc;
}

/*
 * Keeps the blind name index of case id in step with its state (plain:
 * identifying values opened; NULL when the case row goes away): removes
 * the macs indexed before, adds those of the current full name.
 */
static int
names_update(struct store *st, MDB_txn *t, const char *id,
    const struct case_state *plain)
{
	static uint8_t		 nothing;
	uint8_t			 macs[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 old[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 key[NAMEIDX_MAC + ENTRY_CASE_ID_LEN];
	size_t			 n = 0, nold = 0, idlen = strlen(id);
	const struct field	*f;
	const struct head	*w;
	MDB_val			 k = { idlen, (void *)(uintptr_t)id }, d, nk;
	int			 rc;

	if (!st->have_keys || st->namemac == NULL ||
	    idlen != ENTRY_CASE_ID_LEN)
		return 0;
	if (plain != NULL && plain->erased.hlc == 0 &&
	    (f = merge_field(plain, "person.full_name")) != NULL &&
	    (w = merge_winner(f)) != NULL && w->value_len > 2 &&
	    w->value[0] == '"') {
		char *name = xstrndup((const char *)w->value + 1,
		    w->value_len - 2);

		n = nameidx_name_macs(st->namemac, name, macs,
		    NAMEIDX_KEYS_MAX);
		crypto_wipe(name, strlen(name));
		free(name);
	}
	rc = mdb_get(t, st->namecase, &k, &d);
	if (rc == 0) {
		if (d.mv_size % NAMEIDX_MAC != 0 ||
		    d.mv_size > sizeof(old))
			return E_INTEGRITY;
		nold = d.mv_size / NAMEIDX_MAC;
		memcpy(old, d.mv_data, d.mv_size);
		if (nold == n && memcmp(old, macs, n * NAMEIDX_MAC) == 0)
			return 0;
	} else if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "get namecase");
	memcpy(key + NAMEIDX_MAC, id, ENTRY_CASE_ID_LEN);
	nk.mv_data = key;
	nk.mv_size = sizeof(key);
	for (size_t i = 0; i < nold; i++) {
		memcpy(key, old[i], NAMEIDX_MAC);
		rc = mdb_del(t, st->names, &nk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return mdb_err(st, rc, "del name");
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(key, macs[i], NAMEIDX_MAC);
		d.mv_data = &nothing;
		d.mv_size = 0;
		if ((rc = mdb_err(st, mdb_put(t, st->names, &nk, &d, 0),
		    "put name")) != 0)
			return rc;
	}
	if (n == 0) {
		rc = mdb_del(t, st->namecase, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc,
		    "del namecase");
	}
	d.mv_data = macs;
	d.mv_size = n * NAMEIDX_MAC;
	return mdb_err(st, mdb_put(t, st->namecase, &k, &d, 0),
	    "put namecase");
}

/* Keeps the set of cases with a field of more than one head (the
 * candidates of the conflict queue) in step; plain NULL: the row goes. */
static int
conflicted_update(struct store *st, MDB_txn *t, const char *id,
    const struct case_state *plain)
{
	static uint8_t	nothing;
	MDB_val		k = { strlen(id), (void *)(uintptr_t)id };
	MDB_val		d = { 0, &nothing };
	int		rc;

	/* A case held for an offer waiting for this province's answer is
	 * not its to resolve (offer.h). */
	if (plain != NULL && conflict_candidate(plain) &&
	    (is_central(st) || !offer_pending_to(plain, st->node)))
		return mdb_err(st, mdb_put(t, st->conflicted, &k, &d, 0),
		    "put conflicted");
	rc = mdb_del(t, st->conflicted, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del conflicted");
}

int
case_save(struct store *st, MDB_txn *t, const struct case_state *plain)
{
	struct case_state	s;
	struct buf		b;
	MDB_val			k, d;
	int			rc;

	if ((rc = names_update(st, t, plain->id, plain)) != 0 ||
	    (rc = conflicted_update(st, t, plain->id, plain)) != 0 ||
	    (rc = offerset_update(st, t, plain->id, plain)) != 0)
		return rc;
	state_copy(&s, plain);
	if ((rc = state_crypt(st, t, &s, 1)) != 0) {
		state_release(&s);
		return rc;
	}
	k.mv_size = strlen(s.id);
	k.mv_data = s.id;
	buf_init(&b, STATE_ENCODED_MAX);
	if ((rc = state_encode(&s, &b)) == 0) {
		d.mv_size = b.len;
		d.mv_data = b.data;
		rc = mdb_err(st, mdb_put(t, st->cases, &k, &d, 0), "put case");
	}
	buf_release(&b);
	state_release(&s);
	return rc;
}

int
case_drop(struct store *st, MDB_txn *t, const char *id)
{
	MDB_val	k = { strlen(id), (void *)(uintptr_t)id };
	int	rc = mdb_del(t, st->cases, &k, NULL);

	rc = rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del case");
	if (rc == 0)
		rc = names_update(st, t, id, NULL);
	if (rc == 0)
		rc = conflicted_update(st, t, id, NULL);
	if (rc == 0)
		rc = offerset_update(st, t, id, NULL);
	return rc;
}

/*
 * The node's view of a folded case: a province that no longer owns a case
 * keeps a read-only copy without identifying fields, or (keep_transferred
 * = no) none at all.  Returns 1 when the case table keeps no row for s.
 */
int
project(const struct store *st, struct case_state *s)
{
	if (is_central(st) || s->owner[0] == '\0' ||
	    strcmp(s->owner, st->node) == 0 ||
	    offer_pending_to(s, st->node)) {
		/* The receiving province of a pending offer sees the whole
		 * case to decide (offer.h). */
		s->flags &= ~(uint64_t)STATE_F_READONLY;
		return 0;
	}
	merge_strip_identifying(s);
	s->flags |= STATE_F_READONLY;
	return st->drop_transferred;
}

static int
fold_one(const struct entry *e, int sig_ok, void *arg)
{
	(void)sig_ok;
	return merge_apply(arg, e);
}

/* Rebuilds case id from its log entries, with this node's projection. */
int
fold_case(struct store *st, MDB_txn *t, const char *id, struct case_state *s)
{
	int found, rc;

	state_init(s, id);
	rc = case_entries(st, t, id, 0, fold_one, s, &found);
	if (rc == 0 && !found)
		rc = E_NOTFOUND;
	if (rc != 0) {
		state_release(s);
		return rc;
	}
	project(st, s);
	return 0;
}

int
store_case_get(struct store *st, const char *id, struct case_state *s)
{
	int rc = store_case_get_sealed(st, id, s);

	if (rc == 0 && (rc = state_crypt(st, NULL, s, 0)) != 0)
		state_release(s);
	return rc;
}

struct case_each_ctx {
	struct store	*st;
	MDB_txn		*t;		/* conflicted: to read the case row */
	int		(*fn)(const struct case_state *, void *);
	void		*arg;
};

static int
case_each_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct case_each_ctx	*cc = arg;
	struct case_state	 s;
	int			 rc;

	(void)k;
	if (state_decode(d->mv_data, d->mv_size, &s) != 0)
		return E_INTEGRITY;
	rc = cc->fn(&s, cc->arg);
	state_release(&s);
	return rc;
}

int
store_case_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	struct case_each_ctx cc = { st, NULL, fn, arg };

	return table_each(st, NULL, st->cases, NULL, 0, case_each_one, &cc);
}

/* 2: the conflicted set as well; 3: the offer set (offerset.c). */
#define NAMEIDX_VERSION	"3"

/* Builds the name index of a store written before it existed (or by a
 * different index version): every case, its name opened once. */
static int
names_build_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val		 k = { 7, (void *)(uintptr_t)"nameidx" }, d;
	MDB_cursor	*c;
	char		 id[ENTRY_CASE_ID_LEN + 1];
	int		 rc;

	(void)arg;
	rc = mdb_get(t, st->meta, &k, &d);
	if (rc == 0 && d.mv_size == strlen(NAMEIDX_VERSION) &&
	    memcmp(d.mv_data, NAMEIDX_VERSION, d.mv_size) == 0)
		return 0;
	if ((rc = mdb_err(st, mdb_drop(t, st->names, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->namecase, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->conflicted, 0), "drop conf")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->offers, 0), "drop offers")))
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->cases, &c), "cursor")))
		return rc;
	rc = 0;
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (k.mv_size != ENTRY_CASE_ID_LEN)
			continue;
		memcpy(id, k.mv_data, ENTRY_CASE_ID_LEN);
		id[ENTRY_CASE_ID_LEN] = '\0';
		if (case_load(st, t, id, &s) != 0)
			continue;	/* verify reports it */
		rc = names_update(st, t, id, &s);
		if (rc == 0)
			rc = conflicted_update(st, t, id, &s);
		if (rc == 0)
			rc = offerset_update(st, t, id, &s);
		state_release(&s);
	}
	mdb_cursor_close(c);
	if (rc != 0)
		return rc;
	k.mv_data = (void *)(uintptr_t)"nameidx";
	k.mv_size = 7;
	d.mv_data = (void *)(uintptr_t)NAMEIDX_VERSION;
	d.mv_size = strlen(NAMEIDX_VERSION);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put nameidx");
}

static int
conflicted_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct case_each_ctx	*cc = arg;
	MDB_val			 kk, cd;

	(void)d;
	kk = *k;
	if (mdb_get(cc->t, cc->st->cases, &kk, &cd) != 0)
		return 0;
	return case_each_one(k, &cd, cc);
}

int
store_conflicted_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	struct case_each_ctx	 cc = { st, NULL, fn, arg };
	int			 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &cc.t)) != 0)
		return rc;
	rc = table_each(st, cc.t, st->conflicted, NULL, 0, conflicted_one,
	    &cc);
	mdb_txn_abort(cc.t);
	return rc;
}

int
store_name_search(struct store *st, const char *query, size_t max,
    int (*fn)(const char *, void *), void *arg)
{
	char		 words[6][NAMEIDX_WORD_MAX + 1];
	char		(*ids)[ENTRY_CASE_ID_LEN + 1] = NULL;
	uint8_t		 macs[6][NAMEIDX_MAC];
	uint8_t		 key[NAMEIDX_MAC + ENTRY_CASE_ID_LEN];
	size_t		 nw, nids = 0, cap = 0;
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if (!st->have_keys || st->namemac == NULL)
		return E_AUTH;
	nw = nameidx_words(query, words, 6);
	if (nw == 0)
		return E_INVAL;
	for (size_t i = 0; i < nw; i++) {
		/* Longer prefixes are not indexed: search by the longest. */
		size_t l = strlen(words[i]);

		if (l > NAMEIDX_PREFIX_MAX) {
			l = NAMEIDX_PREFIX_MAX;
			while (l > 0 && ((unsigned char)words[i][l] & 0xc0) ==
			    0x80)
				l--;
			words[i][l] = '\0';
		}
		nameidx_word_mac(st->namemac, words[i], macs[i]);
	}
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->names, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	/* The cases of the first word, then each checked for the others. */
	k.mv_data = macs[0];
	k.mv_size = NAMEIDX_MAC;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == NAMEIDX_MAC + ENTRY_CASE_ID_LEN &&
	    memcmp(k.mv_data, macs[0], NAMEIDX_MAC) == 0 && nids < max) {
		const char	*id = (const char *)k.mv_data + NAMEIDX_MAC;
		size_t		 i;

		for (i = 1; i < nw; i++) {
			MDB_val ok = { sizeof(key), key }, od;

			memcpy(key, macs[i], NAMEIDX_MAC);
			memcpy(key + NAMEIDX_MAC, id, ENTRY_CASE_ID_LEN);
			if (mdb_get(t, st->names, &ok, &od) != 0)
				break;
		}
		if (i == nw) {
			if (nids == cap) {
				cap = cap ? cap * 2 : 64;
				ids = xreallocarray(ids, cap, sizeof(*ids));
			}
			memcpy(ids[nids], id, ENTRY_CASE_ID_LEN);
			ids[nids][ENTRY_CASE_ID_LEN] = '\0';
			nids++;
		}
		rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	rc = 0;
	for (size_t i = 0; i < nids && rc == 0; i++)
		rc = fn(ids[i], arg);
	free(ids);
	return rc < 0 ? 0 : rc;
}

/* The keys open the case table: once the data key is checked (seal.c),
 * the blind name index is derived from it and brought up to date. */
int
store_set_keys(struct store *st, const uint8_t sign_sec[CRYPTO_SIGN_SEC],
    const uint8_t sign_pub[CRYPTO_SIGN_PUB],
    const uint8_t datakey[CRYPTO_KEY])
{
	int rc;

	if ((rc = seal_keys_set(st, sign_sec, sign_pub, datakey)) != 0)
		return rc;
	if ((rc = crypto_hmac(st->datakey, CRYPTO_KEY,
	    "casesync name index v1", 22, st->namekey)) != 0)
		return rc;
	crypto_mac_free(&st->namemac);
	if ((rc = crypto_mac_new(st->namekey, sizeof(st->namekey),
	    &st->namemac)) != 0)
		return rc;
	return txn_run(st, names_build_fn, NULL);
}

int
store_case_get_sealed(struct store *st, const char *id, struct case_state *s)
{
	MDB_txn	*t;
	int	 rc;

	if (strlen(id) != ENTRY_CASE_ID_LEN)
		return E_NOTFOUND;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = case_load_raw(st, t, id, s);
	mdb_txn_abort(t);
	return rc;
}

int
store_case_open(struct store *st, struct case_state *s)
{
	return state_crypt(st, NULL, s, 0);
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE	"01a2276e-8c28-78e1-8721-c642e7eb1b40"

static int
found_one(const char *id, void *arg)
{
	int *n = arg;

	(*n) += strcmp(id, ST_CASE) == 0;
	return 0;
}

static int
drop_fn(struct store *st, MDB_txn *t, void *arg)
{
	(void)arg;
	return case_drop(st, t, ST_CASE);
}

int
casetab_selftest(void)
{
	char			 dir[] = "/tmp/casesync-casetab-XXXXXX";
	char			 err[256];
	struct store		*st;
	struct entry		 e;
	struct case_state	 s;
	const struct field	*f;
	MDB_txn			*t;
	int			 n = 0;

	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	store_test_entry(&e, ST_CASE, "ha-noi", "Nguyen Thi Ana");
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	/* At rest the name is sealed; loaded, it is open. */
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	ST_OK(case_load_raw(st, t, ST_CASE, &s));
	ST_CHECK((f = merge_field(&s, "person.full_name")) != NULL);
	ST_CHECK(f->heads[0].value[0] == 0);
	state_release(&s);
	ST_OK(case_load(st, t, ST_CASE, &s));
	ST_CHECK((f = merge_field(&s, "person.full_name")) != NULL);
	ST_CHECK(f->heads[0].value_len == 16 &&
	    memcmp(f->heads[0].value, "\"Nguyen Thi Ana\"", 16) == 0);
	ST_CHECK(strcmp(s.owner, "ha-noi") == 0);
	state_release(&s);
	mdb_txn_abort(t);
	/* The blind index finds it by a prefix of each word. */
	ST_OK(store_name_search(st, "ngu an", 10, found_one, &n));
	ST_CHECK(n == 1);
	/* Dropped, its row and index entries go. */
	ST_OK(txn_run(st, drop_fn, NULL));
	ST_CHECK(store_case_get(st, ST_CASE, &s) == E_NOTFOUND);
	n = 0;
	ST_OK(store_name_search(st, "ngu an", 10, found_one, &n));
	ST_CHECK(n == 0);
	/* The log still has it: the fold brings it back. */
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	ST_OK(fold_case(st, t, ST_CASE, &s));
	ST_CHECK(strcmp(s.owner, "ha-noi") == 0);
	state_release(&s);
	mdb_txn_abort(t);
	store_test_close(&st, dir);
	return 0;
}
#endif

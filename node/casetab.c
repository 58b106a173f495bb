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
	get_u64(st, t, st->meta, "layout", &info->layout);
	mdb_stat(t, st->states, &ms);
	info->ncases = ms.ms_entries;
	mdb_stat(t, st->log, &ms);
	info->nentries = ms.ms_entries;
	/* Count fields in conflict by reading the case table. */
	if (mdb_cursor_open(t, st->states, &c) == 0) {
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

/* The row of case id in states (borrowed until t ends); *iid gets its
 * internal id.  E_NOTFOUND when the node never saw the case or keeps no
 * row for it. */
static int
row_get(struct store *st, MDB_txn *t, const char *id, uint64_t *iid,
    MDB_val *d)
{
	uint8_t	b[IID_LEN];
	MDB_val	k = { sizeof(b), b };
	int	rc;

	if ((rc = caseid_get(st, t, id, iid)) != 0)
		return rc;
	be64_put(b, *iid);
	return mdb_err(st, mdb_get(t, st->states, &k, d), "get case");
}

/* Reads the state of case id into *s, identifying values still sealed.
 * E_NOTFOUND when absent. */
int
case_load_raw(struct store *st, MDB_txn *t, const char *id,
    struct case_state *s)
{
	MDB_val		d;
	uint64_t	iid;
	int		rc;

	if ((rc = row_get(st, t, id, &iid, &d)) != 0)
		return rc;
	if (state_decode(d.mv_data, d.mv_size, s) != 0) {
		log_warnx("store: case %s: stored state does not decode", id);
		return E_INTEGRITY;
	}
	s->iid = iid;
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
 * The blind name index (nameidx.h) under internal ids.  namepost holds, per
 * group of NAME_GROUP internal ids (iid >> NAME_GROUP_SHIFT) and mac, the
 * cases of the group with that mac: a sorted array of be16 offsets in the
 * group.  A new case's postings go into the last group, next to each
 * other, at 2 bytes each, where (mac, case id) keys went all over the
 * table at 60.  A search looks each word up in every group (a few hundred
 * at a million cases).  namemacs holds, per indexed case, its id (for the
 * search's answer) and the tag of the name write it indexed.  The macs to
 * take out again are those of the name in the case's row, worked out when
 * the name changes.
 */
#define NAME_GROUP_SHIFT	10
#define NAME_GROUP		(1U << NAME_GROUP_SHIFT)
#define NAME_TAG		16
#define NAMEMACS_LEN		(UUID_BIN + NAME_TAG)
#define POST_KEY		(4 + NAMEIDX_MAC)

/* Which write of the name is indexed: its stamp (hlc, then a hash of the
 * node).  A stamp names one write, so one value. */
static void
name_tag(const struct head *w, uint8_t tag[NAME_TAG])
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (const char *p = w->st.node; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= 1099511628211ULL;
	}
	be64_put(tag, w->st.hlc);
	be64_put(tag + 8, h);
}

static size_t
post_key(uint8_t *k, uint64_t iid, const uint8_t mac[NAMEIDX_MAC])
{
	uint64_t g = iid >> NAME_GROUP_SHIFT;

	k[0] = (uint8_t)(g >> 24);
	k[1] = (uint8_t)(g >> 16);
	k[2] = (uint8_t)(g >> 8);
	k[3] = (uint8_t)g;
	memcpy(k + 4, mac, NAMEIDX_MAC);
	return POST_KEY;
}

/* Where offset x is, or would go, in the postings p of n offsets. */
static size_t
post_find(const uint8_t *p, size_t n, unsigned x, int *found)
{
	size_t lo = 0, hi = n;

	*found = 0;
	while (lo < hi) {
		size_t		mid = (lo + hi) / 2;
		unsigned	v = (unsigned)p[2 * mid] << 8 | p[2 * mid + 1];

		if (v == x) {
			*found = 1;
			return mid;
		}
		if (v < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds (add = 1) or takes out offset x in the postings buf of *n offsets.
 * Returns 1 when that changed them. */
static int
post_edit(uint8_t *buf, size_t *n, unsigned x, int add)
{
	size_t	at;
	int	found;

	at = post_find(buf, *n, x, &found);
	if (found == add)
		return 0;
	if (add) {
		memmove(buf + 2 * at + 2, buf + 2 * at, 2 * (*n - at));
		buf[2 * at] = (uint8_t)(x >> 8);
		buf[2 * at + 1] = (uint8_t)x;
		(*n)++;
	} else {
		memmove(buf + 2 * at, buf + 2 * at + 2, 2 * (*n - at - 1));
		(*n)--;
	}
	return 1;
}

/* Reads the postings row of key pk into buf (*n offsets; *have: the row
 * exists, and c is on it). */
static int
post_read(struct store *st, MDB_cursor *c, uint8_t pk[POST_KEY],
    uint8_t buf[2 * NAME_GROUP], size_t *n, int *have)
{
	MDB_val	k = { POST_KEY, pk }, d;
	int	rc;

	*n = 0;
	rc = mdb_cursor_get(c, &k, &d, MDB_SET);
	if ((*have = rc == 0)) {
		if (d.mv_size % 2 != 0 || d.mv_size > 2 * NAME_GROUP)
			return E_INTEGRITY;
		*n = d.mv_size / 2;
		memcpy(buf, d.mv_data, d.mv_size);
	} else if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "get name");
	return 0;
}

/* Writes the postings row of key pk as buf holds it (n = 0: no row),
 * where post_read left the cursor (MDB_CURRENT) rather than looked up
 * again by a second put. */
static int
post_write(struct store *st, MDB_cursor *c, uint8_t pk[POST_KEY],
    uint8_t *buf, size_t n, int have)
{
	MDB_val	k = { POST_KEY, pk }, d = { 2 * n, buf };

	if (n == 0)
		return have ? mdb_err(st, mdb_cursor_del(c, 0), "del name") : 0;
	return mdb_err(st, mdb_cursor_put(c, &k, &d, have ? MDB_CURRENT : 0),
	    "put name");
}

/*
 * Adds (add = 1) or takes out case iid from the postings of mac, through
 * c, a cursor on namepost: the row is looked up once, and rewritten in
 * place.
 */
static int
post_change(struct store *st, MDB_cursor *c, uint64_t iid,
    const uint8_t mac[NAMEIDX_MAC], int add)
{
	uint8_t	pk[POST_KEY], buf[2 * NAME_GROUP];
	size_t	n;
	int	rc, have;

	post_key(pk, iid, mac);
	if ((rc = post_read(st, c, pk, buf, &n, &have)) != 0)
		return rc;
	if (!post_edit(buf, &n, (unsigned)(iid & (NAME_GROUP - 1)), add))
		return 0;
	return post_write(st, c, pk, buf, n, have);
}

/*
 * Deferred posting changes (names_defer, store_int.h).  While a batch of
 * central's group commit is applied, names_update does not rewrite a
 * posting row per mac and case (about 15 per new case); it notes each
 * change, and names_flush applies the batch's changes sorted by key: each
 * row read and written once, through one cursor, with all of the batch's
 * changes to it in the order they were made.  A common prefix ("th" of
 * "thi") so takes hundreds of offsets in one write rather than one write
 * each.  The prefix macs are cached for the batch (nameidx_cache) and the
 * cache wiped when it ends.
 */
struct name_change {
	uint8_t		key[POST_KEY];
	uint8_t		add;
	uint16_t	x;		/* offset in the key's group */
	uint32_t	next;		/* the key's next change, or NO_NEXT */
};

#define NO_NEXT		UINT32_MAX

/* A key's changes, first to last (names_write). */
struct name_key {
	uint32_t	first, last;
};

/* Noted changes past this are written at once, in the same transaction. */
#define NAMES_PENDING_MAX	(64 * 1024)

struct names_batch {
	struct name_change	*ch;
	size_t			 n, cap;
	struct name_key		*keys;		/* names_write's, cap of them */
	uint32_t		*slots;		/* its hash table, 2 * cap */
	int			 on;
	struct nameidx_cache	*cache;
};

static uint32_t
be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Sorts keys by their key (qsort_r's context: the changes). */
static int
key_cmp(const void *a, const void *b, void *arg)
{
	const struct name_change	*ch = arg;
	const struct name_key		*x = a, *y = b;

	return memcmp(ch[x->first].key, ch[y->first].key, POST_KEY);
}

/*
 * Writes the noted changes into t and forgets them.  The changes are
 * grouped by key in a hash table (a key ends in a mac, so its bytes are
 * its hash), each key's in the order noted, then the keys, far fewer than
 * the changes, sorted, and each row read and written once.
 */
static int
names_write(struct store *st, MDB_txn *t)
{
	struct names_batch	*nb = st->names;
	MDB_cursor		*c;
	uint8_t			 buf[2 * NAME_GROUP];
	size_t			 i, n, nk = 0, mask;
	uint32_t		 j;
	int			 rc, have;

	if (nb->n == 0)
		return 0;
	for (mask = 1; mask < 2 * nb->n; mask <<= 1)
		;
	mask--;
	memset(nb->slots, 0xff, (mask + 1) * sizeof(*nb->slots));
	for (i = 0; i < nb->n; i++) {
		struct name_change	*ch = &nb->ch[i];
		size_t			 h = be32_get(ch->key + 4) ^
		    be32_get(ch->key);

		ch->next = NO_NEXT;
		for (;; h++) {
			uint32_t *sl = &nb->slots[h & mask];

			if (*sl == NO_NEXT) {
				*sl = (uint32_t)nk;
				nb->keys[nk].first = nb->keys[nk].last =
				    (uint32_t)i;
				nk++;
				break;
			}
			if (memcmp(nb->ch[nb->keys[*sl].first].key, ch->key,
			    POST_KEY) == 0) {
				nb->ch[nb->keys[*sl].last].next = (uint32_t)i;
				nb->keys[*sl].last = (uint32_t)i;
				break;
			}
		}
	}
	qsort_r(nb->keys, nk, sizeof(*nb->keys), key_cmp, nb->ch);
	if ((rc = mdb_cursor_open(t, st->namepost, &c)) != 0) {
		nb->n = 0;
		return mdb_err(st, rc, "open namepost");
	}
	for (i = 0; i < nk && rc == 0; i++) {
		uint8_t	*pk = nb->ch[nb->keys[i].first].key;
		int	 changed = 0;

		if ((rc = post_read(st, c, pk, buf, &n, &have)) != 0)
			break;
		for (j = nb->keys[i].first; j != NO_NEXT; j = nb->ch[j].next)
			changed |= post_edit(buf, &n, nb->ch[j].x,
			    nb->ch[j].add);
		if (changed)
			rc = post_write(st, c, pk, buf, n, have);
	}
	mdb_cursor_close(c);
	nb->n = 0;
	return rc;
}

/* Notes a change for names_write (written now when too many wait). */
static int
names_note(struct store *st, MDB_txn *t, uint64_t iid,
    const uint8_t mac[NAMEIDX_MAC], int add)
{
	struct names_batch	*nb = st->names;
	struct name_change	*ch;
	int			 rc;

	if (nb->n >= NAMES_PENDING_MAX && (rc = names_write(st, t)) != 0)
		return rc;
	if (nb->n == nb->cap) {
		nb->cap = nb->cap ? nb->cap * 2 : 4096;
		nb->ch = xreallocarray(nb->ch, nb->cap, sizeof(*nb->ch));
		nb->keys = xreallocarray(nb->keys, nb->cap,
		    sizeof(*nb->keys));
		nb->slots = xreallocarray(nb->slots, 2 * nb->cap,
		    sizeof(*nb->slots));
	}
	ch = &nb->ch[nb->n];
	post_key(ch->key, iid, mac);
	ch->add = (uint8_t)add;
	ch->x = (uint16_t)(iid & (NAME_GROUP - 1));
	nb->n++;
	return 0;
}

void
names_defer(struct store *st)
{
	if (st->names == NULL) {
		st->names = xcalloc(1, sizeof(*st->names));
		st->names->cache = nameidx_cache_new();
	}
	st->names->n = 0;
	st->names->on = 1;
}

int
names_flush(struct store *st, MDB_txn *t)
{
	int rc;

	if (st->names == NULL || !st->names->on)
		return 0;
	rc = names_write(st, t);
	names_discard(st);
	return rc;
}

void
names_discard(struct store *st)
{
	if (st->names == NULL)
		return;
	st->names->n = 0;
	st->names->on = 0;
	nameidx_cache_wipe(st->names->cache);
}

void
names_free(struct store *st)
{
	if (st->names == NULL)
		return;
	nameidx_cache_free(&st->names->cache);
	free(st->names->ch);
	free(st->names->keys);
	free(st->names->slots);
	free(st->names);
	st->names = NULL;
}

/* The winning full name of s (NULL: none), when it is indexed. */
static const struct head *
name_winner(const struct case_state *s)
{
	const struct field *f;

	if (s == NULL || s->erased.hlc != 0 ||
	    (f = merge_field(s, "person.full_name")) == NULL)
		return NULL;
	return merge_winner(f);
}

/* The macs of the name write w of case id, opened if sealed; *n = 0 for
 * none. */
static int
name_macs(struct store *st, const char *id, const struct head *w,
    uint8_t macs[][NAMEIDX_MAC], size_t *n)
{
	uint8_t	*v;
	size_t	 vlen;
	int	 rc;

	*n = 0;
	if (w == NULL || w->value_len == 0)
		return 0;
	vlen = w->value_len;
	v = xmalloc(vlen);
	memcpy(v, w->value, vlen);
	if ((rc = value_open(st, id, &v, &vlen)) != 0) {
		free(v);
		return rc;
	}
	if (vlen > 2 && v[0] == '"') {
		char *name = xstrndup((const char *)v + 1, vlen - 2);

		*n = nameidx_name_macs(st->namemac, st->names != NULL &&
		    st->names->on ? st->names->cache : NULL, name, macs,
		    NAMEIDX_KEYS_MAX);
		crypto_wipe(name, strlen(name));
		free(name);
	}
	crypto_wipe(v, vlen);
	free(v);
	return 0;
}

/* The macs indexed for case id at iid: those of the name in its row. */
static int
name_macs_row(struct store *st, MDB_txn *t, uint64_t iid, const char *id,
    uint8_t macs[][NAMEIDX_MAC], size_t *n)
{
	uint8_t			b[IID_LEN];
	MDB_val			k = { sizeof(b), b }, d;
	struct case_state	s;
	int			rc;

	*n = 0;
	be64_put(b, iid);
	if ((rc = mdb_get(t, st->states, &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get case");
	if (state_decode(d.mv_data, d.mv_size, &s) != 0)
		return E_INTEGRITY;
	rc = name_macs(st, id, name_winner(&s), macs, n);
	state_release(&s);
	return rc;
}

/*
 * Keeps the blind name index of case id (internal id iid) in step with its
 * state (plain: identifying values opened, or sealed as loaded from the
 * row; NULL when the case row goes away), before the row changes: takes
 * out the macs of the name in the row, adds those of the current one.  A
 * winner still sealed whose write is the one indexed has not changed:
 * nothing to do, nothing opened.
 */
static int
names_update(struct store *st, MDB_txn *t, uint64_t iid, const char *id,
    const struct case_state *plain)
{
	uint8_t			 macs[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 old[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t			 row[NAMEMACS_LEN];
	uint8_t			 ik[IID_LEN];
	size_t			 n = 0, nold = 0;
	const struct head	*w = NULL;
	MDB_val			 k = { sizeof(ik), ik }, d;
	int			 rc, have_old = 0;

	if (!st->have_keys || st->namemac == NULL ||
	    strlen(id) != ENTRY_CASE_ID_LEN)
		return 0;
	memset(row, 0, sizeof(row));
	be64_put(ik, iid);
	rc = mdb_get(t, st->namemacs, &k, &d);
	if (rc == 0) {
		if (d.mv_size != NAMEMACS_LEN)
			return E_INTEGRITY;
		have_old = 1;
		memcpy(row, d.mv_data, NAMEMACS_LEN);
	} else if (rc != MDB_NOTFOUND)
		return mdb_err(st, rc, "get namemacs");
	if ((w = name_winner(plain)) != NULL) {
		uint8_t tag[NAME_TAG];

		name_tag(w, tag);
		if (have_old && memcmp(row + UUID_BIN, tag, NAME_TAG) == 0)
			return 0;	/* the write indexed */
		memcpy(row + UUID_BIN, tag, NAME_TAG);
		if ((rc = name_macs(st, id, w, macs, &n)) != 0)
			return rc;
	} else if (!have_old)
		return 0;
	if (have_old && (rc = name_macs_row(st, t, iid, id, old, &nold)) != 0)
		return rc;
	rc = 0;
	if (st->names != NULL && st->names->on) {
		for (size_t i = 0; i < nold && rc == 0; i++)
			rc = names_note(st, t, iid, old[i], 0);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = names_note(st, t, iid, macs[i], 1);
		if (rc != 0)
			return rc;
	} else if (nold + n > 0) {
		MDB_cursor *c;

		if ((rc = mdb_cursor_open(t, st->namepost, &c)) != 0)
			return mdb_err(st, rc, "open namepost");
		for (size_t i = 0; i < nold && rc == 0; i++)
			rc = post_change(st, c, iid, old[i], 0);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = post_change(st, c, iid, macs[i], 1);
		mdb_cursor_close(c);
		if (rc != 0)
			return rc;
	}
	if (n == 0) {
		if (!have_old)
			return 0;
		rc = mdb_del(t, st->namemacs, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc,
		    "del namemacs");
	}
	uuid_pack(id, row);
	d.mv_data = row;
	d.mv_size = NAMEMACS_LEN;
	return put_append(st, t, st->namemacs, &k, &d, "put namemacs");
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

/* What a case's row is reserved at before it is encoded: most are 1-3 KB
 * (state_encode grows the buffer past it when needed).  The buffer is the
 * store's, kept for the next save (a malloc and free of 4 KB per apply
 * showed natively), unless a large row grew it past STATE_ROW_KEEP. */
#define STATE_ROW_GUESS		4096
#define STATE_ROW_KEEP		(64 * 1024)

/*
 * The indexes of case s, then its row, written from s (values sealed in
 * place).  iid: the case's internal id as the caller got it in this
 * transaction, or 0 (looked up, or given).  A state read from its row in
 * this transaction (s->iid) replaces that row in place; any other is put
 * at the end first (a new case's row sorts last).
 */
static int
save_sealing(struct store *st, MDB_txn *t, struct case_state *s,
    uint64_t iid)
{
	struct buf	*b = &st->rowbuf;
	uint8_t		 ik[IID_LEN];
	MDB_val		 k, d;
	int		 rc = 0;

	if (iid == 0)
		iid = s->iid;
	if ((iid == 0 && (rc = caseid_make(st, t, s->id, &iid)) != 0) ||
	    (rc = names_update(st, t, iid, s->id, s)) != 0 ||
	    (rc = conflicted_update(st, t, s->id, s)) != 0 ||
	    (rc = offerset_update(st, t, s->id, s)) != 0 ||
	    (rc = state_crypt(st, t, s, 1)) != 0)
		return rc;
	be64_put(ik, iid);
	k.mv_size = sizeof(ik);
	k.mv_data = ik;
	/* A case's row is 1-3 KB: one allocation, not a doubling from 256. */
	if (b->max == 0)
		buf_init(b, STATE_ENCODED_MAX);
	buf_reset(b);
	if ((rc = buf_reserve(b, STATE_ROW_GUESS)) == 0 &&
	    (rc = state_encode(s, b)) == 0) {
		d.mv_size = b->len;
		d.mv_data = b->data;
		if (s->iid == iid) {
			rc = mdb_err(st, mdb_put(t, st->states, &k, &d, 0),
			    "put case");
			if (rc == E_NOTFOUND)
				rc = E_STORE;
		} else
			rc = put_append(st, t, st->states, &k, &d, "put case");
	}
	if (b->cap > STATE_ROW_KEEP)
		buf_release(b);
	return rc;
}

int
case_save(struct store *st, MDB_txn *t, const struct case_state *plain)
{
	struct case_state	s;
	int			rc;

	state_copy(&s, plain);
	s.iid = 0;	/* perhaps read in another transaction */
	rc = save_sealing(st, t, &s, 0);
	state_release(&s);
	return rc;
}

int
case_save_sealing(struct store *st, MDB_txn *t, struct case_state *s,
    uint64_t iid)
{
	return save_sealing(st, t, s, iid);
}

int
case_drop(struct store *st, MDB_txn *t, const char *id)
{
	uint8_t		ik[IID_LEN];
	uint64_t	iid;
	MDB_val		k = { sizeof(ik), ik };
	int		rc;

	if ((rc = caseid_get(st, t, id, &iid)) != 0)
		return rc == E_NOTFOUND ? 0 : rc;
	be64_put(ik, iid);
	/* The index first: it reads the name in the row. */
	if ((rc = names_update(st, t, iid, id, NULL)) != 0)
		return rc;
	rc = mdb_del(t, st->states, &k, NULL);
	rc = rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del case");
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
	MDB_txn		*t;
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

/* A caseids row: the case's row, when it has one. */
static int
case_each_id(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct case_each_ctx	*cc = arg;
	MDB_val			 sd;
	int			 rc;

	if (k->mv_size != UUID_BIN || d->mv_size != IID_LEN)
		return E_INTEGRITY;
	rc = mdb_get(cc->t, cc->st->states, (MDB_val *)(uintptr_t)d, &sd);
	if (rc == MDB_NOTFOUND)
		return 0;	/* no row kept (keep_transferred = no) */
	if (rc != 0)
		return mdb_err(cc->st, rc, "get case");
	return case_each_one(k, &sd, cc);
}

/* In case id order, as the ids index holds them. */
int
store_case_each(struct store *st,
    int (*fn)(const struct case_state *, void *), void *arg)
{
	struct case_each_ctx	 cc = { st, NULL, fn, arg };
	int			 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &cc.t)) != 0)
		return rc;
	rc = table_each(st, cc.t, st->caseids, NULL, 0, case_each_id, &cc);
	mdb_txn_abort(cc.t);
	return rc;
}

/* 3: under internal ids (store layout 2); 4: the offer set as well
 * (offerset.c). */
#define NAMEIDX_VERSION	"4"

/* Builds the name index of a store written before it existed (or by a
 * different index version, or just migrated): every case, its name
 * opened once. */
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
	if ((rc = mdb_err(st, mdb_drop(t, st->namepost, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->namemacs, 0), "drop names")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->conflicted, 0), "drop conf")) ||
	    (rc = mdb_err(st, mdb_drop(t, st->offers, 0), "drop offers")))
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->caseids, &c),
	    "cursor")))
		return rc;
	rc = 0;
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct case_state s;

		if (k.mv_size != UUID_BIN || d.mv_size != IID_LEN)
			continue;
		uuid_unpack(k.mv_data, id);
		if (case_load(st, t, id, &s) != 0)
			continue;	/* no row; or verify reports it */
		rc = names_update(st, t, be64_get(d.mv_data), id, &s);
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
	char			 id[ENTRY_CASE_ID_LEN + 1];
	uint64_t		 iid;
	MDB_val			 cd;

	(void)d;
	if (k->mv_size != ENTRY_CASE_ID_LEN)
		return 0;
	memcpy(id, k->mv_data, ENTRY_CASE_ID_LEN);
	id[ENTRY_CASE_ID_LEN] = '\0';
	if (row_get(cc->st, cc->t, id, &iid, &cd) != 0)
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
	uint8_t		 pk[POST_KEY];
	size_t		 nw, nids = 0, cap = 0;
	uint64_t	 last, g;
	MDB_txn		*t;
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
	if ((rc = get_u64(st, t, st->meta, "iid", &last)) != 0) {
		mdb_txn_abort(t);
		return rc;
	}
	/* The cases of the first word, group by group (so in the order this
	 * node first saw them), each checked for the other words. */
	for (g = 0; g <= last >> NAME_GROUP_SHIFT && nids < max; g++) {
		MDB_val	k = { sizeof(pk), pk }, d[6];
		size_t	i;

		for (i = 0; i < nw; i++) {
			post_key(pk, g << NAME_GROUP_SHIFT, macs[i]);
			if (mdb_get(t, st->namepost, &k, &d[i]) != 0 ||
			    d[i].mv_size % 2 != 0)
				break;
		}
		if (i < nw)
			continue;	/* a word has no case in the group */
		for (size_t j = 0; j < d[0].mv_size / 2 && nids < max; j++) {
			const uint8_t	*p = (const uint8_t *)d[0].mv_data;
			unsigned	 x = (unsigned)p[2 * j] << 8 | p[2 * j + 1];
			uint8_t		 ik[IID_LEN];
			MDB_val		 kk = { sizeof(ik), ik }, rd;
			int		 found = 1;

			for (i = 1; i < nw && found; i++)
				post_find(d[i].mv_data, d[i].mv_size / 2, x,
				    &found);
			be64_put(ik, g << NAME_GROUP_SHIFT | x);
			if (!found || mdb_get(t, st->namemacs, &kk, &rd) != 0 ||
			    rd.mv_size != NAMEMACS_LEN)
				continue;
			if (nids == cap) {
				cap = cap ? cap * 2 : 64;
				ids = xreallocarray(ids, cap, sizeof(*ids));
			}
			uuid_unpack(rd.mv_data, ids[nids]);
			nids++;
		}
	}
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
	struct op		*o;
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
	/* An entry that leaves the name alone leaves it indexed (the row's
	 * name stays sealed); a new name replaces the old one. */
	store_test_entry(&e, ST_CASE, NULL, NULL);
	o = entry_add_op(&e, OP_SET);
	strlcpy_(o->path, "status", sizeof(o->path));
	o->value = xstrdup("\"identified\"");
	o->value_len = strlen(o->value);
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	n = 0;
	ST_OK(store_name_search(st, "nguyen thi", 10, found_one, &n));
	ST_CHECK(n == 1);
	store_test_entry(&e, ST_CASE, NULL, "Tran Thi Binh");
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	n = 0;
	ST_OK(store_name_search(st, "nguyen", 10, found_one, &n));
	ST_CHECK(n == 0);
	ST_OK(store_name_search(st, "tran bi", 10, found_one, &n));
	ST_CHECK(n == 1);
	/* Dropped, its row and index entries go. */
	ST_OK(txn_run(st, drop_fn, NULL));
	ST_CHECK(store_case_get(st, ST_CASE, &s) == E_NOTFOUND);
	n = 0;
	ST_OK(store_name_search(st, "tran", 10, found_one, &n));
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
/* Case id (made when absent) gets full name `name`, stamped hlc, saved. */
static int
names_rename(struct store *st, MDB_txn *t, const char *id, const char *name,
    uint64_t hlc)
{
	struct entry		e;
	struct case_state	s;
	int			rc;

	if ((rc = case_load(st, t, id, &s)) == E_NOTFOUND)
		state_init(&s, id);
	else if (rc != 0)
		return rc;
	store_test_entry(&e, id, NULL, name);
	e.hlc = hlc;
	strlcpy_(e.origin, "ha-noi", sizeof(e.origin));
	if ((rc = merge_apply(&s, &e)) == 0)
		rc = case_save_sealing(st, t, &s, 0);
	entry_release(&e);
	state_release(&s);
	return rc;
}

static int
names_dump_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct buf	*b = arg;
	uint8_t		 len[2] = { (uint8_t)k->mv_size, (uint8_t)d->mv_size };

	if (d->mv_size > 255)
		len[1] = 0;	/* a long row: its bytes still compared */
	if (buf_append(b, len, 2) != 0 || buf_append(b, k->mv_data,
	    k->mv_size) != 0 || buf_append(b, d->mv_data, d->mv_size) != 0)
		return E_TOOBIG;
	return 0;
}

/* Appends namepost and namemacs, as t sees them, to b. */
static int
names_dump(struct store *st, MDB_txn *t, struct buf *b)
{
	int rc;

	buf_reset(b);
	if ((rc = table_each(st, t, st->namepost, NULL, 0, names_dump_one,
	    b)) != 0)
		return rc;
	buf_append(b, "|", 1);
	return table_each(st, t, st->namemacs, NULL, 0, names_dump_one, b);
}

#define NT_A	"01a2276e-8c28-78e1-8721-c642e7eb1ba1"
#define NT_B	"01a2276e-8c28-78e1-8721-c642e7eb1ba2"
#define NT_C	"01a2276e-8c28-78e1-8721-c642e7eb1ba3"

/*
 * What one batch does to the index: names taken out and put back (the
 * same tokens deleted and added again), a case dropped, a new case
 * renamed, and many new cases sharing tokens.  mode 0: each change
 * written at once; 1: deferred and flushed at the end; 2: deferred, with
 * an early write half way (as at NAMES_PENDING_MAX).
 */
static int
names_scenario(struct store *st, MDB_txn *t, int mode)
{
	static const char	*fam[] = { "Nguyen", "Tran", "Le", "Pham" };
	static const char	*giv[] = { "Lan", "Lanh", "Hoa", "Nam", "Thi" };
	char			 id[ENTRY_CASE_ID_LEN + 1], name[64];
	int			 rc = 0;

	if (mode > 0)
		names_defer(st);
	if ((rc = names_rename(st, t, NT_A, "Le Thi Hoa", 100)) != 0 ||
	    (rc = names_rename(st, t, NT_A, "Nguyen Thi Lan", 101)) != 0 ||
	    (rc = case_drop(st, t, NT_B)) != 0 ||
	    (rc = names_rename(st, t, NT_C, "Nguyen Thi Lanh", 102)) != 0)
		goto out;
	if (mode == 2 && (rc = names_write(st, t)) != 0)
		goto out;
	if ((rc = names_rename(st, t, NT_C, "Pham Lan", 103)) != 0 ||
	    (rc = names_rename(st, t, NT_A, "Le Thi Hoa", 104)) != 0 ||
	    (rc = names_rename(st, t, NT_A, "Nguyen Thi Lan", 105)) != 0)
		goto out;
	for (int i = 0; i < 60 && rc == 0; i++) {
		snprintf(id, sizeof(id), "01a2276e-8c28-78e1-8721-c642e7eb%04x",
		    i);
		snprintf(name, sizeof(name), "%s Thi %s %d", fam[i % 4],
		    giv[i % 5], i % 7);
		rc = names_rename(st, t, id, name, 200 + (uint64_t)i);
		if (rc == 0 && i % 9 == 0)
			rc = names_rename(st, t, id, "Thi Thi", 300 +
			    (uint64_t)i);
		if (rc == 0 && i % 11 == 0)
			rc = case_drop(st, t, id);
	}
out:
	if (mode > 0) {
		if (rc == 0)
			rc = names_flush(st, t);
		names_discard(st);
	}
	return rc;
}

struct names_found {
	const char	*id;
	int		 n;
};

static int
names_found(const char *id, void *arg)
{
	struct names_found *f = arg;

	f->n += strcmp(id, f->id) == 0;
	return 0;
}

/* How often the search for query answers id (-1: it failed). */
static int
names_search_n(struct store *st, const char *query, const char *id)
{
	struct names_found f = { id, 0 };

	if (store_name_search(st, query, 100, names_found, &f) != 0)
		return -1;
	return f.n;
}

/* Deferred and sorted, the index is the one written change by change. */
int
casetab_names_selftest(void)
{
	char		 dir[] = "/tmp/casesync-names-XXXXXX";
	char		 err[256];
	struct store	*st;
	struct entry	 e;
	struct buf	 base, d0, d1, d2;
	MDB_txn		*t;

	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	store_test_entry(&e, NT_A, "ha-noi", "Nguyen Thi Lan");
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	store_test_entry(&e, NT_B, "ha-noi", "Tran Van Nam");
	ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
	entry_release(&e);
	buf_init(&base, 1 << 24);
	buf_init(&d0, 1 << 24);
	buf_init(&d1, 1 << 24);
	buf_init(&d2, 1 << 24);
	for (int mode = 0; mode < 3; mode++) {
		struct buf *d = mode == 0 ? &d0 : mode == 1 ? &d1 : &d2;

		ST_OK(txn_begin(st, 0, &t));
		if (mode == 0)
			ST_OK(names_dump(st, t, &base));
		ST_OK(names_scenario(st, t, mode));
		ST_OK(names_dump(st, t, d));
		if (mode < 2)
			mdb_txn_abort(t);
		else
			ST_OK(mdb_txn_commit(t));
	}
	ST_CHECK(d0.len != base.len || memcmp(d0.data, base.data,
	    base.len) != 0);
	ST_CHECK(d1.len == d0.len && memcmp(d1.data, d0.data, d0.len) == 0);
	ST_CHECK(d2.len == d0.len && memcmp(d2.data, d0.data, d0.len) == 0);
	/* Committed (mode 2), the console's search finds what it did. */
	ST_CHECK(names_search_n(st, "nguy lan", NT_A) == 1);
	ST_CHECK(names_search_n(st, "nguyen thi lanh", NT_C) == 0);
	ST_CHECK(names_search_n(st, "pham lan", NT_C) == 1);
	ST_CHECK(names_search_n(st, "tran", NT_B) == 0);
	ST_CHECK(names_search_n(st, "le hoa", NT_A) == 0);
	ST_CHECK(names_search_n(st, "thi thi",
	    "01a2276e-8c28-78e1-8721-c642e7eb0009") == 1);
	ST_CHECK(names_search_n(st, "thi",
	    "01a2276e-8c28-78e1-8721-c642e7eb000b") == 0);
	ST_CHECK(st->names != NULL && !st->names->on && st->names->n == 0);
	buf_release(&base);
	buf_release(&d0);
	buf_release(&d1);
	buf_release(&d2);
	store_test_close(&st, dir);
	return 0;
}
#endif

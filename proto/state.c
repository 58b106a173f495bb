/*
 * state.c - the materialised state of one case: lifecycle and the strict
 * msgpack codec.  The byte layout is in state.h, with the limits.
 *
 * The encoding is canonical: arrays are kept sorted, the row's tables of
 * node ids and authors hold each string the state names once, sorted, and
 * nothing else, and the reader accepts only the shortest msgpack forms, so
 * two nodes holding the same state hold the same bytes, and decode
 * followed by encode is the identity.
 */
#include "state.h"
#include "mp.h"

#include "../common/err.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

#define STATE_NITEMS	12		/* items of the top-level array */
#define STATE_V1_NITEMS	10		/* the same in version 1 */
#define FIELD_NITEMS	3
#define HEAD_NITEMS	4
#define EVENT_NITEMS	6

/*
 * A head or event value is opaque bytes: JSON text of at most
 * ENTRY_VALUE_MAX bytes, or that text encrypted at rest (nonce, tag, key
 * id, perhaps text armour).  Twice the JSON limit leaves room for any of
 * these while still bounding what a corrupt store can make us allocate.
 */
#define STATE_VALUE_MAX	(2 * ENTRY_VALUE_MAX)
#define STATE_F_KNOWN	STATE_F_READONLY

void
state_init(struct case_state *s, const char *id)
{
	memset(s, 0, sizeof(*s));
	if (id != NULL)
		(void)strlcpy_(s->id, id, sizeof(s->id));
}

static void
field_release(struct field *f)
{
	size_t i;

	for (i = 0; i < f->nheads; i++)
		free(f->heads[i].value);
	free(f->heads);
	free(f->seen);
}

void
state_release(struct case_state *s)
{
	size_t i;

	for (i = 0; i < s->nfields; i++)
		field_release(&s->fields[i]);
	free(s->fields);
	for (i = 0; i < s->nevents; i++)
		free(s->events[i].value);
	free(s->events);
	memset(s, 0, sizeof(*s));
}

/* A NUL-terminated copy of n bytes (NULL when n is 0).  Caller owns it. */
static uint8_t *
bytes_dup(const uint8_t *p, size_t n)
{
	uint8_t *q;

	if (n == 0)
		return NULL;
	q = xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

/*
 * n zeroed elements of sz, for the decoders' arrays: malloc and memset
 * rather than calloc, which in glibc (2.36) skips the per-thread cache
 * and costs several times a cached malloc for the small arrays decoded
 * on every apply.  Caller owns the result.
 */
static void *
zalloc(size_t n, size_t sz)
{
	void *p = xreallocarray(NULL, n, sz);

	memset(p, 0, n * sz);
	return p;
}

/* Copies n elements of size sz, NULL when there are none. */
static void *
array_dup(const void *p, size_t n, size_t sz)
{
	void *q;

	if (n == 0)
		return NULL;
	q = xreallocarray(NULL, n, sz);
	memcpy(q, p, n * sz);
	return q;
}

void
state_copy(struct case_state *dst, const struct case_state *src)
{
	struct field	*f;
	size_t		 i, j;

	*dst = *src;
	dst->fields = array_dup(src->fields, src->nfields,
	    sizeof(*src->fields));
	for (i = 0; i < src->nfields; i++) {
		f = &dst->fields[i];
		f->heads = array_dup(src->fields[i].heads, f->nheads,
		    sizeof(*f->heads));
		for (j = 0; j < f->nheads; j++)
			f->heads[j].value = bytes_dup(f->heads[j].value,
			    f->heads[j].value_len);
		f->seen = array_dup(src->fields[i].seen, f->nseen,
		    sizeof(*f->seen));
	}
	dst->events = array_dup(src->events, src->nevents,
	    sizeof(*src->events));
	for (i = 0; i < src->nevents; i++)
		dst->events[i].value = bytes_dup(src->events[i].value,
		    src->events[i].value_len);
}

static int
event_cmp(const struct event *a, const struct event *b)
{
	int c;

	if ((c = strcmp(a->coll, b->coll)) != 0)
		return c;
	return strcmp(a->id, b->id);
}

/* Opaque value bytes: at most STATE_VALUE_MAX, present when non-empty. */
static int
value_check(const uint8_t *v, size_t n)
{
	if (n > STATE_VALUE_MAX)
		return E_TOOBIG;
	if (n > 0 && v == NULL)
		return E_INVAL;
	return 0;
}

int
state_author_sealed(const char *a)
{
	if (a[0] != STATE_AUTHOR_SEALED)
		return 0;
	for (size_t i = 1; i <= 2 * STATE_AUTHOR_PSEUDO; i++)
		if (!((a[i] >= '0' && a[i] <= '9') ||
		    (a[i] >= 'a' && a[i] <= 'f')))
			return 0;	/* also at a NUL: too short */
	return a[1 + 2 * STATE_AUTHOR_PSEUDO] == '\0';
}

/* An author, or its pseudonym. */
static int
author_valid(const char *a)
{
	return a[0] == STATE_AUTHOR_SEALED ? state_author_sealed(a) :
	    mp_author_valid(a);
}

/*
 * The tables of a row (version 2): the state's distinct node ids and
 * authors, sorted, each stamp and author then written as an index into
 * them.  state_encode gathers the strings while it checks the state (one
 * equal to the string gathered last, the common case, is not gathered
 * again), sorts them, drops the repeats and checks each distinct string
 * once: a node id or author is valid once per row, not once per stamp.
 */
#define STAB_INLINE	16

struct stab {
	const char	**v;		/* inl, or owned */
	size_t		  n, cap;
	size_t		  size;		/* of the arrays the strings are in */
	const char	 *last;		/* the string gathered or found last */
	size_t		  last_ix;	/* its index, once sorted */
	const char	 *inl[STAB_INLINE];
};

static void
stab_init(struct stab *t, size_t size)
{
	t->v = t->inl;
	t->n = 0;
	t->cap = STAB_INLINE;
	t->size = size;
	t->last = NULL;
	t->last_ix = 0;
}

static void
stab_release(struct stab *t)
{
	if (t->v != t->inl)
		free(t->v);
	t->v = NULL;
}

/*
 * Gathers s, a string in an array of t->size bytes; 0 when s has no NUL
 * there.  A string equal to the last one needs no check: strcmp stops at
 * the last one's NUL, which is within t->size.
 */
static int
stab_add(struct stab *t, const char *s)
{
	const char **v;

	if (t->last != NULL && strcmp(s, t->last) == 0)
		return 1;
	if (!mp_cstr_ok(s, t->size))
		return 0;
	if (t->n == t->cap) {
		if (t->v == t->inl) {
			v = xreallocarray(NULL, 2 * t->cap, sizeof(*v));
			memcpy(v, t->inl, sizeof(t->inl));
		} else
			v = xreallocarray(t->v, 2 * t->cap, sizeof(*v));
		t->v = v;
		t->cap *= 2;
	}
	t->v[t->n++] = s;
	t->last = s;
	return 1;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the gathered strings and drops the repeats.  Returns 0, or
 * E_INVAL when one of them is not valid. */
static int
stab_finish(struct stab *t, int (*valid)(const char *))
{
	size_t i, n = 0;

	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), strp_cmp);
	for (i = 0; i < t->n; i++) {
		if (n > 0 && strcmp(t->v[n - 1], t->v[i]) == 0)
			continue;
		if (!valid(t->v[i]))
			return E_INVAL;
		t->v[n++] = t->v[i];
	}
	t->n = n;
	t->last = NULL;
	return 0;
}

/* The index of s, which the finished table holds. */
static inline size_t
stab_ix(struct stab *t, const char *s)
{
	size_t lo = 0, hi = t->n, mid;

	if (t->last != NULL && strcmp(s, t->last) == 0)
		return t->last_ix;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(t->v[mid], s) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	t->last = t->v[lo];
	t->last_ix = lo;
	return lo;
}

/* A stamp of a head, a seen stamp or an event: a positive hlc, and its
 * node id gathered. */
static int
stamp_take(struct stab *nodes, const struct stamp *st)
{
	return st->hlc != 0 && stab_add(nodes, st->node);
}

/* The owner's or the erasure's stamp: none (hlc 0, node "") or one. */
static int
opt_stamp_take(struct stab *nodes, const struct stamp *st)
{
	if (st->hlc == 0)
		return mp_cstr_ok(st->node, sizeof(st->node)) &&
		    st->node[0] == '\0';
	return stamp_take(nodes, st);
}

static int
field_check(struct stab *nodes, struct stab *authors, const struct field *f)
{
	const struct head	*h;
	size_t			 i;
	int			 rc;

	if (!mp_cstr_ok(f->path, sizeof(f->path)) || !mp_path_valid(f->path))
		return E_INVAL;
	if (f->nheads > STATE_MAX_HEADS || f->nseen > STATE_MAX_SEEN)
		return E_TOOBIG;
	if ((f->nheads > 0 && f->heads == NULL) ||
	    (f->nseen > 0 && f->seen == NULL))
		return E_INVAL;
	for (i = 0; i < f->nheads; i++) {
		h = &f->heads[i];
		if (!stamp_take(nodes, &h->st) || !stab_add(authors, h->author))
			return E_INVAL;
		if ((rc = value_check(h->value, h->value_len)) != 0)
			return rc;
		if (i > 0 && stamp_cmp(&f->heads[i - 1].st, &h->st) >= 0)
			return E_INVAL;
	}
	for (i = 0; i < f->nseen; i++) {
		if (!stamp_take(nodes, &f->seen[i]) ||
		    (i > 0 && stamp_cmp(&f->seen[i - 1], &f->seen[i]) >= 0))
			return E_INVAL;
	}
	return 0;
}

static int
event_check(struct stab *nodes, struct stab *authors, const struct event *ev)
{
	if (!mp_cstr_ok(ev->coll, sizeof(ev->coll)) ||
	    !mp_path_valid(ev->coll) ||
	    !mp_cstr_ok(ev->id, sizeof(ev->id)) || !mp_evid_valid(ev->id) ||
	    !stamp_take(nodes, &ev->st) || !stab_add(authors, ev->author))
		return E_INVAL;
	return value_check(ev->value, ev->value_len);
}

/* Is the owner "" (with no stamp) or a valid node id? */
static int
owner_ok(const char *owner, const struct stamp *st)
{
	if (owner[0] == '\0')
		return st->hlc == 0;
	return node_id_valid(owner);
}

/* Checks s as state_decode would, gathering its tables (nodes: of
 * sizeof(stamp.node), authors: of sizeof(head.author)). */
static int
state_check(const struct case_state *s, struct stab *nodes,
    struct stab *authors)
{
	size_t	i;
	int	rc;

	if (!mp_cstr_ok(s->id, sizeof(s->id)) || !mp_case_id_valid(s->id) ||
	    !mp_cstr_ok(s->owner, sizeof(s->owner)) ||
	    (s->owner[0] == '\0' ? s->owner_st.hlc != 0 :
	    !stab_add(nodes, s->owner)) ||
	    !opt_stamp_take(nodes, &s->owner_st) ||
	    !opt_stamp_take(nodes, &s->erased) ||
	    (s->flags & ~(uint64_t)STATE_F_KNOWN) != 0)
		return E_INVAL;
	if (s->nfields > STATE_MAX_FIELDS || s->nevents > STATE_MAX_EVENTS)
		return E_TOOBIG;
	if ((s->nfields > 0 && s->fields == NULL) ||
	    (s->nevents > 0 && s->events == NULL))
		return E_INVAL;
	for (i = 0; i < s->nfields; i++) {
		if ((rc = field_check(nodes, authors, &s->fields[i])) != 0)
			return rc;
		if (i > 0 && strcmp(s->fields[i - 1].path,
		    s->fields[i].path) >= 0)
			return E_INVAL;
	}
	for (i = 0; i < s->nevents; i++) {
		if ((rc = event_check(nodes, authors, &s->events[i])) != 0)
			return rc;
		if (i > 0 && event_cmp(&s->events[i - 1], &s->events[i]) >= 0)
			return E_INVAL;
	}
	if ((rc = stab_finish(nodes, node_id_valid)) != 0 ||
	    (rc = stab_finish(authors, author_valid)) != 0)
		return rc;
	return 0;
}

/*
 * The writer of state_encode: the same canonical bytes as msgpack-c's
 * packer through mp.h (the shortest form of every length and integer;
 * the selftest compares the two), written straight into the buffer.  A
 * case is encoded on every apply, and the packer's write callback per
 * item (a buf_append, a buf_reserve) was about a fifth of an update's
 * instructions (docs/PERFORMANCE.md).  The first error is kept, as with
 * mp_wr.
 */
struct sw {
	struct buf	*b;		/* borrowed */
	size_t		 start;		/* b->len at the start */
	size_t		 max;		/* bytes it may add */
	int		 err;
};

/* Room for n more bytes at the end of the buffer, or NULL (w->err). */
static uint8_t *
sw_room_slow(struct sw *w, size_t n)
{
	int rc;

	if (w->err != 0)
		return NULL;
	if (n > w->max || w->b->len - w->start > w->max - n) {
		w->err = E_TOOBIG;
		return NULL;
	}
	if (w->b->cap - w->b->len < n && (rc = buf_reserve(w->b, n)) != 0) {
		w->err = rc;
		return NULL;
	}
	return w->b->data + w->b->len;
}

/* sw_room_slow, with the common case (no error, room in the buffer and
 * under the limit) inline. */
static inline uint8_t *
sw_room(struct sw *w, size_t n)
{
	struct buf *b = w->b;

	if (w->err == 0 && b->cap - b->len >= n && n <= w->max &&
	    b->len - w->start <= w->max - n)
		return b->data + b->len;
	return sw_room_slow(w, n);
}

/* A header: the fix form (fix | v) when v < fixmax, else the byte of the
 * first of the 8, 16 and 32-bit forms that holds v (t8 0: no 8-bit form),
 * then the payload p of n bytes. */
static void
sw_item(struct sw *w, unsigned fix, size_t fixmax, unsigned t8,
    unsigned t16, unsigned t32, size_t v, const void *p, size_t n)
{
	uint8_t	*o;
	size_t	 h;

	h = v < fixmax ? 1 : t8 != 0 && v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
	if ((o = sw_room(w, h + n)) == NULL)
		return;
	switch (h) {
	case 1:
		o[0] = (uint8_t)(fix | v);
		break;
	case 2:
		o[0] = (uint8_t)t8;
		o[1] = (uint8_t)v;
		break;
	case 3:
		o[0] = (uint8_t)t16;
		o[1] = (uint8_t)(v >> 8);
		o[2] = (uint8_t)v;
		break;
	default:
		o[0] = (uint8_t)t32;
		o[1] = (uint8_t)(v >> 24);
		o[2] = (uint8_t)(v >> 16);
		o[3] = (uint8_t)(v >> 8);
		o[4] = (uint8_t)v;
		break;
	}
	if (n > 0)
		memcpy(o + h, p, n);
	w->b->len += h + n;
}

static inline void
sw_array(struct sw *w, size_t n)
{
	uint8_t *o;

	if (n >= 16)
		sw_item(w, 0x90, 16, 0, 0xdc, 0xdd, n, NULL, 0);
	else if ((o = sw_room(w, 1)) != NULL) {
		o[0] = (uint8_t)(0x90 | n);
		w->b->len++;
	}
}

static inline void
sw_cstr(struct sw *w, const char *s)
{
	size_t	 n = strlen(s);
	uint8_t	*o;

	if (n >= 32)
		sw_item(w, 0xa0, 32, 0xd9, 0xda, 0xdb, n, s, n);
	else if ((o = sw_room(w, 1 + n)) != NULL) {
		o[0] = (uint8_t)(0xa0 | n);
		memcpy(o + 1, s, n);
		w->b->len += 1 + n;
	}
}

static void
sw_bin(struct sw *w, const void *p, size_t n)
{
	sw_item(w, 0, 0, 0xc4, 0xc5, 0xc6, n, p, n);
}

static inline void
sw_uint(struct sw *w, uint64_t v)
{
	uint8_t	*o;
	size_t	 n;

	n = v < 0x80 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 :
	    v < UINT64_C(0x100000000) ? 4 : 8;
	if ((o = sw_room(w, 1 + n)) == NULL)
		return;
	if (n == 0)
		o[0] = (uint8_t)v;
	else
		o[0] = (uint8_t)(n == 1 ? 0xcc : n == 2 ? 0xcd : n == 4 ?
		    0xce : 0xcf);
	for (size_t i = 0; i < n; i++)
		o[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	w->b->len += 1 + n;
}

static inline void
sw_nil(struct sw *w)
{
	uint8_t *o;

	if ((o = sw_room(w, 1)) != NULL) {
		o[0] = 0xc0;
		w->b->len++;
	}
}

/* A stamp: its hlc, then its node's index in the table. */
static inline void
sw_stamp(struct sw *w, struct stab *nodes, const struct stamp *st)
{
	sw_uint(w, st->hlc);
	sw_uint(w, stab_ix(nodes, st->node));
}

/* The owner's or the erasure's stamp: hlc 0 and nil when there is none. */
static void
sw_opt_stamp(struct sw *w, struct stab *nodes, const struct stamp *st)
{
	sw_uint(w, st->hlc);
	if (st->hlc == 0)
		sw_nil(w);
	else
		sw_uint(w, stab_ix(nodes, st->node));
}

static void
sw_table(struct sw *w, const struct stab *t)
{
	sw_array(w, t->n);
	for (size_t i = 0; i < t->n; i++)
		sw_cstr(w, t->v[i]);
}

static void
field_put(struct sw *w, struct stab *nodes, struct stab *authors,
    const struct field *f)
{
	const struct head	*h;
	size_t			 i;

	sw_array(w, FIELD_NITEMS);
	sw_cstr(w, f->path);
	sw_array(w, f->nheads);
	for (i = 0; i < f->nheads; i++) {
		h = &f->heads[i];
		sw_array(w, HEAD_NITEMS);
		sw_stamp(w, nodes, &h->st);
		sw_uint(w, stab_ix(authors, h->author));
		sw_bin(w, h->value, h->value_len);
	}
	sw_array(w, f->nseen);
	for (i = 0; i < f->nseen; i++) {
		sw_array(w, 2);
		sw_stamp(w, nodes, &f->seen[i]);
	}
}

int
state_encode(const struct case_state *s, struct buf *out)
{
	const struct event	*ev;
	struct sw		 w = { out, out->len, STATE_ENCODED_MAX, 0 };
	struct stab		 nodes, authors;
	size_t			 i;
	int			 rc;

	stab_init(&nodes, sizeof(s->owner_st.node));
	stab_init(&authors, sizeof(ev->author));
	if ((rc = state_check(s, &nodes, &authors)) != 0)
		goto out;
	sw_array(&w, STATE_NITEMS);
	sw_uint(&w, STATE_VERSION);
	sw_table(&w, &nodes);
	sw_table(&w, &authors);
	sw_cstr(&w, s->id);
	if (s->owner[0] == '\0')
		sw_nil(&w);
	else
		sw_uint(&w, stab_ix(&nodes, s->owner));
	sw_opt_stamp(&w, &nodes, &s->owner_st);
	sw_opt_stamp(&w, &nodes, &s->erased);
	sw_uint(&w, s->flags);
	sw_array(&w, s->nfields);
	for (i = 0; i < s->nfields; i++)
		field_put(&w, &nodes, &authors, &s->fields[i]);
	sw_array(&w, s->nevents);
	for (i = 0; i < s->nevents; i++) {
		ev = &s->events[i];
		sw_array(&w, EVENT_NITEMS);
		sw_cstr(&w, ev->coll);
		sw_cstr(&w, ev->id);
		sw_stamp(&w, &nodes, &ev->st);
		sw_uint(&w, stab_ix(&authors, ev->author));
		sw_bin(&w, ev->value, ev->value_len);
	}
	if (w.err != 0)
		out->len = w.start;
	rc = w.err;
out:
	stab_release(&nodes);
	stab_release(&authors);
	return rc;
}

/*
 * A table as the reader found it (version 2): where each string is in the
 * input, and whether a stamp or an author named it (every one must be
 * named, so that the encoding stays canonical).
 */
struct rent {
	uint32_t	off;		/* < STATE_ENCODED_MAX */
	uint8_t		len;		/* <= ENTRY_AUTHOR_MAX */
	uint8_t		used;
};

struct rtab {
	struct rent	*e;		/* inl, or owned */
	size_t		 n;
	struct rent	 inl[STAB_INLINE];
};

/* What the reader needs besides the input: the encoding's version, and
 * in version 2 the row's tables. */
struct rctx {
	uint64_t	ver;
	struct rtab	nodes, authors;
};

/*
 * Reads a table of strings of at most max bytes: strictly ascending,
 * without NUL bytes, each valid (checked here, once per row).  Each
 * takes two bytes at least, which bounds what a count may allocate.
 */
static int
rtab_read(struct mp_rd *r, struct rtab *t, size_t max,
    int (*valid)(const char *))
{
	const char	*p, *prev = NULL;
	char		 s[ENTRY_AUTHOR_MAX + 1];
	size_t		 n, len, plen = 0, i;
	int		 c;

	if (mp_read_array(r, &n) != 0 || n > (r->len - r->off) / 2)
		return E_PROTO;
	if (n > STAB_INLINE)
		t->e = xreallocarray(NULL, n, sizeof(*t->e));
	t->n = n;
	for (i = 0; i < n; i++) {
		if (mp_read_str(r, &p, &len) != 0 || len > max ||
		    memchr(p, '\0', len) != NULL)
			return E_PROTO;
		if (prev != NULL) {
			c = memcmp(prev, p, plen < len ? plen : len);
			if (c > 0 || (c == 0 && plen >= len))
				return E_PROTO;
		}
		memcpy(s, p, len);
		s[len] = '\0';
		if (!valid(s))
			return E_PROTO;
		t->e[i].off = (uint32_t)(p - (const char *)r->p);
		t->e[i].len = (uint8_t)len;
		t->e[i].used = 0;
		prev = p;
		plen = len;
	}
	return 0;
}

/* Was every string of the table named? */
static int
rtab_all_used(const struct rtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->e[i].used)
			return 0;
	return 1;
}

/* Reads an index into t, and copies its string into dst (room for the
 * table's longest). */
static inline int
rtab_get(struct mp_rd *r, struct rtab *t, char *dst)
{
	const struct rent	*e;
	uint64_t		 ix;

	if (mp_read_uint(r, &ix) != 0 || ix >= t->n)
		return E_PROTO;
	t->e[ix].used = 1;
	e = &t->e[ix];
	memcpy(dst, r->p + e->off, e->len);
	dst[e->len] = '\0';
	return 0;
}

/* Reads nil: 0 when it is there (and is consumed). */
static int
rd_nil(struct mp_rd *r)
{
	if (r->off >= r->len || r->p[r->off] != 0xc0)
		return E_PROTO;
	r->off++;
	return 0;
}

/* A stamp of a head, a seen stamp or an event. */
static inline int
rd_stamp(struct mp_rd *r, struct rctx *x, struct stamp *st)
{
	if (x->ver == 1)
		return mp_read_stamp(r, st, 0);
	if (mp_read_uint(r, &st->hlc) != 0 || st->hlc == 0 ||
	    rtab_get(r, &x->nodes, st->node) != 0)
		return E_PROTO;
	return 0;
}

/* The owner's or the erasure's stamp: hlc 0 and nil when there is none. */
static int
rd_opt_stamp(struct mp_rd *r, struct rctx *x, struct stamp *st)
{
	if (x->ver == 1)
		return mp_read_stamp(r, st, 1);
	if (mp_read_uint(r, &st->hlc) != 0)
		return E_PROTO;
	if (st->hlc == 0) {
		st->node[0] = '\0';
		return rd_nil(r);
	}
	return rtab_get(r, &x->nodes, st->node);
}

static inline int
rd_author(struct mp_rd *r, struct rctx *x, char *a)
{
	if (x->ver == 1)
		return mp_read_cstr(r, a, ENTRY_AUTHOR_MAX) != 0 ||
		    !author_valid(a) ? E_PROTO : 0;
	return rtab_get(r, &x->authors, a);
}

/* The owner: a node id, or "" (nil in version 2). */
static int
rd_owner(struct mp_rd *r, struct rctx *x, char *owner)
{
	if (x->ver == 1)
		return mp_read_cstr(r, owner, HLC_NODE_MAX);
	if (r->off < r->len && r->p[r->off] == 0xc0) {
		r->off++;
		owner[0] = '\0';
		return 0;
	}
	return rtab_get(r, &x->nodes, owner);
}

static int
value_read(struct mp_rd *r, uint8_t **v, size_t *len)
{
	const uint8_t	*b;
	size_t		 n;

	if (mp_read_bin(r, &b, &n) != 0 || n > STATE_VALUE_MAX)
		return E_PROTO;
	*v = bytes_dup(b, n);
	*len = n;
	return 0;
}

static int
field_read(struct mp_rd *r, struct rctx *x, struct field *f)
{
	struct head	*h;
	size_t		 n, i;

	if (mp_read_array_n(r, FIELD_NITEMS) != 0 ||
	    mp_read_cstr(r, f->path, ENTRY_PATH_MAX) != 0 ||
	    !mp_path_valid(f->path) ||
	    mp_read_array(r, &n) != 0 || n > STATE_MAX_HEADS)
		return E_PROTO;
	if (n > 0) {
		f->heads = zalloc(n, sizeof(*f->heads));
		f->nheads = n;
	}
	for (i = 0; i < n; i++) {
		h = &f->heads[i];
		if (mp_read_array_n(r, HEAD_NITEMS) != 0 ||
		    rd_stamp(r, x, &h->st) != 0 ||
		    rd_author(r, x, h->author) != 0 ||
		    value_read(r, &h->value, &h->value_len) != 0 ||
		    (i > 0 && stamp_cmp(&f->heads[i - 1].st, &h->st) >= 0))
			return E_PROTO;
	}
	if (mp_read_array(r, &n) != 0 || n > STATE_MAX_SEEN)
		return E_PROTO;
	if (n > 0) {
		f->seen = zalloc(n, sizeof(*f->seen));
		f->nseen = n;
	}
	for (i = 0; i < n; i++) {
		if (mp_read_array_n(r, 2) != 0 ||
		    rd_stamp(r, x, &f->seen[i]) != 0 ||
		    (i > 0 && stamp_cmp(&f->seen[i - 1], &f->seen[i]) >= 0))
			return E_PROTO;
	}
	return 0;
}

static int
event_read(struct mp_rd *r, struct rctx *x, struct event *ev)
{
	if (mp_read_array_n(r, EVENT_NITEMS) != 0 ||
	    mp_read_cstr(r, ev->coll, ENTRY_PATH_MAX) != 0 ||
	    !mp_path_valid(ev->coll) ||
	    mp_read_cstr(r, ev->id, ENTRY_EVID_MAX) != 0 ||
	    !mp_evid_valid(ev->id) ||
	    rd_stamp(r, x, &ev->st) != 0 ||
	    rd_author(r, x, ev->author) != 0 ||
	    value_read(r, &ev->value, &ev->value_len) != 0)
		return E_PROTO;
	return 0;
}

static int
state_read(struct mp_rd *r, struct rctx *x, struct case_state *s)
{
	uint64_t	ver;
	size_t		n, i;

	if (mp_read_array_n(r, x->ver == 1 ? STATE_V1_NITEMS :
	    STATE_NITEMS) != 0 ||
	    mp_read_uint(r, &ver) != 0 || ver != x->ver)
		return E_PROTO;
	if (x->ver != 1 &&
	    (rtab_read(r, &x->nodes, HLC_NODE_MAX, node_id_valid) != 0 ||
	    rtab_read(r, &x->authors, ENTRY_AUTHOR_MAX, author_valid) != 0))
		return E_PROTO;
	if (mp_read_cstr(r, s->id, ENTRY_CASE_ID_LEN) != 0 ||
	    !mp_case_id_valid(s->id) ||
	    rd_owner(r, x, s->owner) != 0 ||
	    rd_opt_stamp(r, x, &s->owner_st) != 0 ||
	    !owner_ok(s->owner, &s->owner_st) ||
	    rd_opt_stamp(r, x, &s->erased) != 0 ||
	    mp_read_uint(r, &s->flags) != 0 ||
	    (s->flags & ~(uint64_t)STATE_F_KNOWN) != 0)
		return E_PROTO;

	/* Arrays are zeroed and counted before they are filled, so that
	 * state_release() frees exactly what was allocated on any error. */
	if (mp_read_array(r, &n) != 0 || n > STATE_MAX_FIELDS)
		return E_PROTO;
	if (n > 0) {
		s->fields = zalloc(n, sizeof(*s->fields));
		s->nfields = n;
	}
	for (i = 0; i < n; i++) {
		if (field_read(r, x, &s->fields[i]) != 0 ||
		    (i > 0 && strcmp(s->fields[i - 1].path,
		    s->fields[i].path) >= 0))
			return E_PROTO;
	}

	if (mp_read_array(r, &n) != 0 || n > STATE_MAX_EVENTS)
		return E_PROTO;
	if (n > 0) {
		s->events = zalloc(n, sizeof(*s->events));
		s->nevents = n;
	}
	for (i = 0; i < n; i++) {
		if (event_read(r, x, &s->events[i]) != 0 ||
		    (i > 0 && event_cmp(&s->events[i - 1],
		    &s->events[i]) >= 0))
			return E_PROTO;
	}
	if (x->ver != 1 && (!rtab_all_used(&x->nodes) ||
	    !rtab_all_used(&x->authors)))
		return E_PROTO;
	return mp_rd_end(r);
}

/* Decodes an encoding of version ver. */
static int
decode_ver(const uint8_t *p, size_t len, struct case_state *s, uint64_t ver)
{
	struct rctx	x;
	struct mp_rd	r;
	int		rc;

	state_init(s, NULL);
	if (len > STATE_ENCODED_MAX)
		return E_PROTO;
	x.ver = ver;
	x.nodes.e = x.nodes.inl;
	x.nodes.n = 0;
	x.authors.e = x.authors.inl;
	x.authors.n = 0;
	mp_rd_init(&r, p, len);
	rc = state_read(&r, &x, s);
	if (x.nodes.e != x.nodes.inl)
		free(x.nodes.e);
	if (x.authors.e != x.authors.inl)
		free(x.authors.e);
	if (rc != 0) {
		state_release(s);
		return E_PROTO;
	}
	return 0;
}

int
state_decode(const uint8_t *p, size_t len, struct case_state *s)
{
	return decode_ver(p, len, s, STATE_VERSION);
}

int
state_decode_v1(const uint8_t *p, size_t len, struct case_state *s)
{
	return decode_ver(p, len, s, 1);
}


#ifdef SELFTEST
#include "../common/selftest.h"

#define CASE_B	"0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2f"
#define CIPHER	"\x01\x00\xff ciphertext"

static void
set_stamp(struct stamp *st, uint64_t hlc, const char *node)
{
	st->hlc = hlc;
	(void)strlcpy_(st->node, node, sizeof(st->node));
}

static void
set_head(struct head *h, uint64_t hlc, const char *node, const char *author,
    const char *value)
{
	set_stamp(&h->st, hlc, node);
	(void)strlcpy_(h->author, author, sizeof(h->author));
	h->value_len = strlen(value);
	h->value = bytes_dup((const uint8_t *)value, h->value_len);
}

static void
set_event(struct event *ev, const char *coll, const char *id, uint64_t hlc,
    const char *value)
{
	(void)strlcpy_(ev->coll, coll, sizeof(ev->coll));
	(void)strlcpy_(ev->id, id, sizeof(ev->id));
	set_stamp(&ev->st, hlc, "lao-cai");
	(void)strlcpy_(ev->author, "clerk 1", sizeof(ev->author));
	ev->value_len = strlen(value);
	ev->value = bytes_dup((const uint8_t *)value, ev->value_len);
}

/* A state with conflicts, seen stamps, an empty value and events. */
static void
sample(struct case_state *s)
{
	struct field *f;

	state_init(s, CASE_B);
	(void)strlcpy_(s->owner, "lao-cai", sizeof(s->owner));
	set_stamp(&s->owner_st, HLC_MAKE(UINT64_C(1718000000000), 0),
	    "central");
	s->flags = STATE_F_READONLY;
	s->nfields = 3;
	s->fields = xcalloc(s->nfields, sizeof(*s->fields));

	f = &s->fields[0];
	(void)strlcpy_(f->path, "person.name", sizeof(f->path));
	f->nheads = 1;
	f->heads = xcalloc(1, sizeof(*f->heads));
	set_head(&f->heads[0], 5, "lao-cai", "a", "");
	f->heads[0].value_len = sizeof(CIPHER) - 1;
	f->heads[0].value = bytes_dup((const uint8_t *)CIPHER,
	    sizeof(CIPHER) - 1);

	f = &s->fields[1];
	(void)strlcpy_(f->path, "person.sex", sizeof(f->path));
	f->nheads = 1;
	f->heads = xcalloc(1, sizeof(*f->heads));
	set_head(&f->heads[0], 9, "central", "b", "");

	f = &s->fields[2];
	(void)strlcpy_(f->path, "status", sizeof(f->path));
	f->nheads = 3;
	f->heads = xcalloc(3, sizeof(*f->heads));
	set_head(&f->heads[0], 100, "ha-giang", "Trần Văn B",
	    "\"identified\"");
	set_head(&f->heads[1], 100, "lao-cai", "c", "\"received\"");
	set_head(&f->heads[2], UINT64_MAX, "central", "d", "\"closed\"");
	f->nseen = 3;
	f->seen = xcalloc(3, sizeof(*f->seen));
	set_stamp(&f->seen[0], 1, "z");
	set_stamp(&f->seen[1], 2, "a");
	set_stamp(&f->seen[2], 2, "b");

	s->nevents = 3;
	s->events = xcalloc(s->nevents, sizeof(*s->events));
	set_event(&s->events[0], "notes", "n1", 7, "{\"text\":\"x\"}");
	set_event(&s->events[1], "services", "A", 8, "{}");
	set_event(&s->events[2], "services", "a", 6, "{\"type\":\"legal\"}");
}

/* Decodes b with the reader of encoding ver (2: state_decode, 1:
 * state_decode_v1), expecting want. */
static int
dec_expect_v(const struct buf *b, int want, int ver)
{
	struct case_state	s;
	int			rc;

	rc = ver == 1 ? state_decode_v1(b->data, b->len, &s) :
	    state_decode(b->data, b->len, &s);
	if (rc == 0)
		state_release(&s);
	else if (s.fields != NULL || s.events != NULL || s.id[0] != '\0')
		return -1;
	return rc == want ? 0 : rc == 0 ? -2 : rc;
}

static int
dec_expect(const struct buf *b, int want)
{
	return dec_expect_v(b, want, 2);
}

/*
 * state_encode as it was written with mp.h's packer (msgpack-c): the
 * reference that state_encode's own writer must match byte for byte.  Its
 * tables are built the slow, obvious way (a sorted insert of each string
 * not yet in them, found again by a scan).  ver 1 writes the encoding of
 * version 1, which has no tables.
 */
struct reftab {
	const char	**v;
	size_t		  n;
};

static void
reftab_add(struct reftab *t, const char *s)
{
	size_t	i, j;
	int	c = 1;

	for (i = 0; i < t->n && (c = strcmp(s, t->v[i])) > 0; i++)
		;
	if (i < t->n && c == 0)
		return;
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	for (j = t->n; j > i; j--)
		t->v[j] = t->v[j - 1];
	t->v[i] = s;
	t->n++;
}

static uint64_t
reftab_ix(const struct reftab *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i], s) == 0)
			return i;
	return UINT64_MAX;
}

struct refw {
	struct mp_wr	w;
	int		ver;
	struct reftab	nodes, authors;
};

static void
ref_stamp(struct refw *x, const struct stamp *st)
{
	if (x->ver == 1) {
		mp_put_stamp(&x->w, st);
		return;
	}
	mp_put_uint(&x->w, st->hlc);
	if (st->hlc == 0)
		mp_put_nil(&x->w);
	else
		mp_put_uint(&x->w, reftab_ix(&x->nodes, st->node));
}

static void
ref_author(struct refw *x, const char *a)
{
	if (x->ver == 1)
		mp_put_cstr(&x->w, a);
	else
		mp_put_uint(&x->w, reftab_ix(&x->authors, a));
}

static void
ref_table(struct refw *x, const struct reftab *t)
{
	mp_put_array(&x->w, t->n);
	for (size_t i = 0; i < t->n; i++)
		mp_put_cstr(&x->w, t->v[i]);
}

static void
ref_field(struct refw *x, const struct field *f)
{
	mp_put_array(&x->w, FIELD_NITEMS);
	mp_put_cstr(&x->w, f->path);
	mp_put_array(&x->w, f->nheads);
	for (size_t i = 0; i < f->nheads; i++) {
		mp_put_array(&x->w, HEAD_NITEMS);
		ref_stamp(x, &f->heads[i].st);
		ref_author(x, f->heads[i].author);
		mp_put_bin(&x->w, f->heads[i].value, f->heads[i].value_len);
	}
	mp_put_array(&x->w, f->nseen);
	for (size_t i = 0; i < f->nseen; i++) {
		mp_put_array(&x->w, 2);
		ref_stamp(x, &f->seen[i]);
	}
}

static int
ref_encode_ver(const struct case_state *s, struct buf *out, int ver)
{
	struct refw	x;
	int		rc;

	memset(&x, 0, sizeof(x));
	x.ver = ver;
	mp_wr_init(&x.w, out, STATE_ENCODED_MAX);
	if (s->owner[0] != '\0')
		reftab_add(&x.nodes, s->owner);
	if (s->owner_st.hlc != 0)
		reftab_add(&x.nodes, s->owner_st.node);
	if (s->erased.hlc != 0)
		reftab_add(&x.nodes, s->erased.node);
	for (size_t i = 0; i < s->nfields; i++) {
		const struct field *f = &s->fields[i];

		for (size_t j = 0; j < f->nheads; j++) {
			reftab_add(&x.nodes, f->heads[j].st.node);
			reftab_add(&x.authors, f->heads[j].author);
		}
		for (size_t j = 0; j < f->nseen; j++)
			reftab_add(&x.nodes, f->seen[j].node);
	}
	for (size_t i = 0; i < s->nevents; i++) {
		reftab_add(&x.nodes, s->events[i].st.node);
		reftab_add(&x.authors, s->events[i].author);
	}
	mp_put_array(&x.w, ver == 1 ? STATE_V1_NITEMS : STATE_NITEMS);
	mp_put_uint(&x.w, (uint64_t)ver);
	if (ver != 1) {
		ref_table(&x, &x.nodes);
		ref_table(&x, &x.authors);
	}
	mp_put_cstr(&x.w, s->id);
	if (ver == 1)
		mp_put_cstr(&x.w, s->owner);
	else if (s->owner[0] == '\0')
		mp_put_nil(&x.w);
	else
		mp_put_uint(&x.w, reftab_ix(&x.nodes, s->owner));
	ref_stamp(&x, &s->owner_st);
	ref_stamp(&x, &s->erased);
	mp_put_uint(&x.w, s->flags);
	mp_put_array(&x.w, s->nfields);
	for (size_t i = 0; i < s->nfields; i++)
		ref_field(&x, &s->fields[i]);
	mp_put_array(&x.w, s->nevents);
	for (size_t i = 0; i < s->nevents; i++) {
		const struct event *ev = &s->events[i];

		mp_put_array(&x.w, EVENT_NITEMS);
		mp_put_cstr(&x.w, ev->coll);
		mp_put_cstr(&x.w, ev->id);
		ref_stamp(&x, &ev->st);
		ref_author(&x, ev->author);
		mp_put_bin(&x.w, ev->value, ev->value_len);
	}
	rc = mp_wr_finish(&x.w);
	free(x.nodes.v);
	free(x.authors.v);
	return rc;
}

static int
ref_encode(const struct case_state *s, struct buf *out)
{
	return ref_encode_ver(s, out, STATE_VERSION);
}

int
state_encode_v1(const struct case_state *s, struct buf *out)
{
	return ref_encode_ver(s, out, 1);
}

/* Does state_encode give the reference's bytes for s? */
static int
same_as_ref(const struct case_state *s)
{
	struct buf	a, r;
	int		ok;

	buf_init(&a, STATE_ENCODED_MAX);
	buf_init(&r, STATE_ENCODED_MAX);
	ok = state_encode(s, &a) == 0 && ref_encode(s, &r) == 0 &&
	    a.len == r.len && memcmp(a.data, r.data, a.len) == 0;
	buf_release(&a);
	buf_release(&r);
	return ok;
}

/* Every prefix of b, and b with each byte changed to every other value,
 * read by the reader of encoding ver: refused, or written back by that
 * encoding's writer to exactly the same bytes. */
static int
mutate_all(const struct buf *b, int ver)
{
	struct case_state	 s;
	struct buf		 re;
	uint8_t			*m;
	size_t			 i;
	unsigned		 v;
	int			 rc;

	for (i = 0; i < b->len; i++) {
		ST_CHECK((ver == 1 ? state_decode_v1(b->data, i, &s) :
		    state_decode(b->data, i, &s)) == E_PROTO);
		ST_CHECK(s.fields == NULL && s.nfields == 0 &&
		    s.events == NULL && s.nevents == 0);
	}
	m = xmalloc(b->len);
	buf_init(&re, STATE_ENCODED_MAX);
	for (i = 0; i < b->len; i++) {
		for (v = 0; v < 256; v++) {
			memcpy(m, b->data, b->len);
			if (m[i] == v)
				continue;
			m[i] = (uint8_t)v;
			rc = ver == 1 ? state_decode_v1(m, b->len, &s) :
			    state_decode(m, b->len, &s);
			if (rc != 0) {
				ST_CHECK(rc == E_PROTO);
				ST_CHECK(s.fields == NULL && s.nfields == 0 &&
				    s.events == NULL && s.nevents == 0);
				continue;
			}
			buf_reset(&re);
			ST_OK(ver == 1 ? state_encode_v1(&s, &re) :
			    state_encode(&s, &re));
			ST_CHECK(re.len == b->len);
			ST_CHECK(memcmp(re.data, m, re.len) == 0);
			state_release(&s);
		}
	}
	buf_release(&re);
	free(m);
	return 0;
}

static int
roundtrip_tests(void)
{
	struct case_state	s, d, c;
	struct buf		b, b2;
	size_t			n;

	sample(&s);
	ST_CHECK(same_as_ref(&s));
	/* The 8-bit str forms: a path and an author of 32 bytes and more. */
	sample(&c);
	memset(c.fields[2].heads[0].author, 'x', ENTRY_AUTHOR_MAX);
	c.fields[2].heads[0].author[ENTRY_AUTHOR_MAX] = '\0';
	memset(c.events[2].coll, 'z', ENTRY_PATH_MAX);
	c.events[2].coll[ENTRY_PATH_MAX] = '\0';
	ST_CHECK(same_as_ref(&c));
	state_release(&c);
	buf_init(&b, STATE_ENCODED_MAX);
	buf_init(&b2, STATE_ENCODED_MAX);
	ST_OK(state_encode(&s, &b));
	ST_OK(state_decode(b.data, b.len, &d));
	ST_CHECK(strcmp(d.id, CASE_B) == 0 && strcmp(d.owner, "lao-cai") ==
	    0 && d.flags == STATE_F_READONLY && d.erased.hlc == 0);
	ST_CHECK(d.nfields == 3 && d.fields[2].nheads == 3 &&
	    d.fields[2].nseen == 3 && d.nevents == 3);
	ST_CHECK(d.fields[0].heads[0].value_len == sizeof(CIPHER) - 1 &&
	    memcmp(d.fields[0].heads[0].value, CIPHER, sizeof(CIPHER)) == 0);
	ST_CHECK(d.fields[1].heads[0].value == NULL &&
	    d.fields[1].heads[0].value_len == 0);
	ST_CHECK(d.fields[2].heads[2].st.hlc == UINT64_MAX &&
	    strcmp(d.fields[2].heads[0].author, "Trần Văn B") == 0);
	ST_CHECK(strcmp((const char *)d.events[2].value,
	    "{\"type\":\"legal\"}") == 0);
	ST_OK(state_encode(&d, &b2));
	ST_CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);

	state_copy(&c, &d);
	ST_CHECK(c.fields != d.fields && c.events[0].value !=
	    d.events[0].value);
	buf_reset(&b2);
	ST_OK(state_encode(&c, &b2));
	ST_CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);
	state_release(&c);
	state_release(&d);
	ST_CHECK(d.fields == NULL && d.nfields == 0 && d.id[0] == '\0');

	ST_CHECK(mutate_all(&b, 2) == 0);

	/* Version 1, as stores of layout 2 hold it: only state_decode_v1
	 * reads it, to the same state, which state_encode writes as the
	 * sample's version 2; the reader is as strict as before. */
	buf_reset(&b2);
	ST_OK(state_encode_v1(&s, &b2));
	ST_CHECK(b2.len > b.len);
	ST_CHECK(state_decode(b2.data, b2.len, &d) == E_PROTO);
	ST_OK(state_decode_v1(b2.data, b2.len, &d));
	buf_reset(&b2);
	ST_OK(state_encode(&d, &b2));
	ST_CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);
	state_release(&d);
	buf_reset(&b2);
	ST_OK(state_encode_v1(&s, &b2));
	ST_CHECK(mutate_all(&b2, 1) == 0);

	ST_OK(buf_append(&b, "\x90", 1));
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.len--;
	ST_CHECK(dec_expect(&b, 0) == 0);
	/* Version 2 only: 1 and 3 are refused, and the reader of version 1
	 * refuses 2. */
	b.data[1] = 1;
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.data[1] = 3;
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.data[1] = 2;
	ST_CHECK(state_decode_v1(b.data, b.len, &d) == E_PROTO);
	ST_CHECK(d.fields == NULL && d.events == NULL && d.id[0] == '\0');

	/* The empty state of a new case. */
	state_release(&s);
	state_init(&s, CASE_B);
	buf_reset(&b);
	ST_OK(state_encode(&s, &b));
	ST_OK(state_decode(b.data, b.len, &d));
	ST_CHECK(strcmp(d.id, CASE_B) == 0 && d.owner[0] == '\0' &&
	    d.nfields == 0 && d.fields == NULL && d.nevents == 0);
	state_release(&d);
	ST_CHECK(mutate_all(&b, 2) == 0);

	/* A buffer too small: E_TOOBIG and the buffer is unchanged; one
	 * just large enough takes it. */
	buf_release(&b2);
	buf_init(&b2, b.len - 1);
	ST_CHECK(state_encode(&s, &b2) == E_TOOBIG && b2.len == 0);
	buf_release(&b2);
	buf_init(&b2, b.len);
	ST_OK(state_encode(&s, &b2));
	ST_CHECK(b2.len == b.len);
	buf_release(&b2);
	sample(&c);
	buf_init(&b2, STATE_ENCODED_MAX);
	ST_OK(state_encode(&c, &b2));
	ST_OK(buf_append(&b2, "ab", 2));
	n = b2.len;
	buf_release(&b2);
	buf_init(&b2, n - 1);
	ST_OK(buf_append(&b2, "ab", 2));
	ST_CHECK(state_encode(&c, &b2) == E_TOOBIG && b2.len == 2);
	buf_release(&b2);
	buf_init(&b2, n);
	ST_OK(buf_append(&b2, "ab", 2));
	ST_OK(state_encode(&c, &b2));
	ST_CHECK(b2.len == n);
	state_release(&c);
	state_release(&s);
	buf_release(&b);
	buf_release(&b2);
	return 0;
}

/*
 * Writes a state of nf fields, each with nh heads and ns seen stamps, and
 * ne events, and decodes it expecting want.
 */
static int
raw_counts(struct buf *b, int want, size_t nf, size_t nh, size_t ns,
    size_t ne)
{
	struct mp_wr	w;
	char		name[32];
	size_t		i, j;

	buf_reset(b);
	mp_wr_init(&w, b, STATE_ENCODED_MAX);
	mp_put_array(&w, STATE_NITEMS);
	mp_put_uint(&w, STATE_VERSION);
	/* The tables: node "n" when there is a stamp, author "a" when
	 * there is a head or an event. */
	mp_put_array(&w, nf * (nh + ns) + ne > 0);
	if (nf * (nh + ns) + ne > 0)
		mp_put_cstr(&w, "n");
	mp_put_array(&w, nf * nh + ne > 0);
	if (nf * nh + ne > 0)
		mp_put_cstr(&w, "a");
	mp_put_cstr(&w, CASE_B);
	mp_put_nil(&w);
	mp_put_uint(&w, 0);
	mp_put_nil(&w);
	mp_put_uint(&w, 0);
	mp_put_nil(&w);
	mp_put_uint(&w, 0);
	mp_put_array(&w, nf);
	for (i = 0; i < nf; i++) {
		(void)snprintf(name, sizeof(name), "f%05zu", i);
		mp_put_array(&w, FIELD_NITEMS);
		mp_put_cstr(&w, name);
		mp_put_array(&w, nh);
		for (j = 0; j < nh; j++) {
			mp_put_array(&w, HEAD_NITEMS);
			mp_put_uint(&w, j + 1);
			mp_put_uint(&w, 0);
			mp_put_uint(&w, 0);
			mp_put_bin(&w, name, 6);
		}
		mp_put_array(&w, ns);
		for (j = 0; j < ns; j++) {
			mp_put_array(&w, 2);
			mp_put_uint(&w, j + 1);
			mp_put_uint(&w, 0);
		}
	}
	mp_put_array(&w, ne);
	for (i = 0; i < ne; i++) {
		(void)snprintf(name, sizeof(name), "e%05zu", i);
		mp_put_array(&w, EVENT_NITEMS);
		mp_put_cstr(&w, "notes");
		mp_put_cstr(&w, name);
		mp_put_uint(&w, 1);
		mp_put_uint(&w, 0);
		mp_put_uint(&w, 0);
		mp_put_bin(&w, name, 6);
	}
	ST_OK(mp_wr_finish(&w));
	ST_CHECK(dec_expect(b, want) == 0);
	if (want == 0) {
		/* Written by msgpack-c, encoded again by state_encode: the
		 * same bytes, also with 16-bit array counts. */
		struct case_state	s;
		struct buf		re;

		buf_init(&re, STATE_ENCODED_MAX);
		ST_OK(state_decode(b->data, b->len, &s));
		ST_OK(state_encode(&s, &re));
		ST_CHECK(re.len == b->len && memcmp(re.data, b->data,
		    re.len) == 0);
		state_release(&s);
		buf_release(&re);
	}
	return 0;
}

/* Breaks one rule at a time; encode and decode must agree about it. */
static int
rule_tests(void)
{
	struct case_state	 s;
	struct buf		 b, good;
	struct field		*f;
	size_t			 i;
	int			 ver = 2;	/* the reader PATCH tries */

	buf_init(&b, STATE_ENCODED_MAX);
	buf_init(&good, STATE_ENCODED_MAX);
	sample(&s);
	ST_OK(state_encode(&s, &good));
	state_release(&s);

	/*
	 * The encoder refuses the broken state; the same bytes written
	 * without the check (by patching the good encoding where the text
	 * differs) must be refused by the decoder too.  Patching keeps this
	 * to rules whose violation is a same-length change.
	 */
#define BREAK2(want, stmt, undo) do {					\
	sample(&s);							\
	stmt;								\
	buf_reset(&b);							\
	ST_CHECK(state_encode(&s, &b) == (want));			\
	ST_CHECK(b.len == 0);						\
	undo;								\
	state_release(&s);						\
} while (0)
#define BREAK(want, stmt)	BREAK2(want, stmt, (void)0)
	BREAK(E_INVAL, s.id[0] = 'A');
	BREAK(E_INVAL, s.id[0] = '\0');
	BREAK(E_INVAL, s.owner[0] = 'L');
	BREAK(E_INVAL, s.owner[0] = '\0');	/* a stamp but no owner */
	BREAK(E_INVAL, s.owner_st.node[0] = '\0');
	BREAK(E_INVAL, s.erased.node[0] = 'x');
	BREAK(E_INVAL, s.flags = 2);
	BREAK(E_INVAL, memcpy(s.fields[0].path, "person.sex", 11));
	BREAK(E_INVAL, memcpy(s.fields[1].path, "person.naa", 11));
	BREAK(E_INVAL, s.fields[1].path[0] = 'P');
	BREAK(E_INVAL, s.fields[2].heads[1].st.hlc = 99);
	BREAK(E_INVAL, s.fields[2].heads[1].st.node[0] = 'a');
	BREAK(E_INVAL, s.fields[2].heads[0].st.hlc = 0);
	BREAK(E_INVAL, s.fields[2].heads[0].author[0] = '\0');
	BREAK(E_INVAL, s.fields[2].heads[0].author[1] = '\t');
	BREAK(E_INVAL, s.fields[2].seen[1].node[0] = 'b');
	BREAK(E_INVAL, s.fields[2].seen[0].hlc = 2);
	BREAK(E_INVAL, s.fields[2].seen[0].hlc = 0);
	BREAK(E_INVAL, s.events[1].id[0] = 'a');
	BREAK(E_INVAL, s.events[1].id[0] = '.');
	BREAK(E_INVAL, memcpy(s.events[0].coll, "services", 9));
	BREAK(E_INVAL, s.events[0].author[0] = '\x1b');
	BREAK(E_INVAL, s.events[0].st.hlc = 0);
	BREAK(E_INVAL, s.fields[1].heads[0].value_len = 1);	/* NULL */
	BREAK(E_TOOBIG, s.fields[0].heads[0].value_len =
	    STATE_VALUE_MAX + 1);
	/* Counts are checked before the arrays are read. */
	BREAK2(E_TOOBIG, s.fields[2].nheads = STATE_MAX_HEADS + 1,
	    s.fields[2].nheads = 3);
	BREAK2(E_TOOBIG, s.fields[2].nseen = STATE_MAX_SEEN + 1,
	    s.fields[2].nseen = 3);
	BREAK2(E_TOOBIG, s.nfields = STATE_MAX_FIELDS + 1, s.nfields = 3);
	BREAK2(E_TOOBIG, s.nevents = STATE_MAX_EVENTS + 1, s.nevents = 3);
#undef BREAK
#undef BREAK2

	/* The same violations as bytes: the first occurrence of from in
	 * the good encoding is replaced by to. */
#define PATCH_RC(want, from, to) do {					\
	const uint8_t *at_ = memmem(good.data, good.len, from,		\
	    sizeof(from) - 1);						\
	size_t off_;							\
	ST_CHECK(at_ != NULL);						\
	off_ = (size_t)(at_ - good.data);				\
	buf_reset(&b);							\
	ST_OK(buf_append(&b, good.data, off_));				\
	ST_OK(buf_append(&b, to, sizeof(to) - 1));			\
	ST_OK(buf_append(&b, at_ + sizeof(from) - 1,			\
	    good.len - off_ - (sizeof(from) - 1)));			\
	ST_CHECK(dec_expect_v(&b, (want), ver) == 0);			\
} while (0)
#define PATCH(from, to)	PATCH_RC(E_PROTO, from, to)
	/* Two patches at once (from1 before from2 in the encoding). */
#define PATCH2_RC(want, from1, to1, from2, to2) do {			\
	const uint8_t *a1_ = memmem(good.data, good.len, from1,		\
	    sizeof(from1) - 1);						\
	const uint8_t *a2_ = memmem(good.data, good.len, from2,		\
	    sizeof(from2) - 1);						\
	ST_CHECK(a1_ != NULL && a2_ != NULL && a1_ + sizeof(from1) - 1	\
	    <= a2_);							\
	buf_reset(&b);							\
	ST_OK(buf_append(&b, good.data, (size_t)(a1_ - good.data)));	\
	ST_OK(buf_append(&b, to1, sizeof(to1) - 1));			\
	ST_OK(buf_append(&b, a1_ + sizeof(from1) - 1,			\
	    (size_t)(a2_ - (a1_ + sizeof(from1) - 1))));		\
	ST_OK(buf_append(&b, to2, sizeof(to2) - 1));			\
	ST_OK(buf_append(&b, a2_ + sizeof(from2) - 1,			\
	    good.len - (size_t)(a2_ - good.data) - (sizeof(from2) - 1)));\
	ST_CHECK(dec_expect_v(&b, (want), ver) == 0);			\
} while (0)
	/*
	 * The sample's tables: nodes a 0, b 1, central 2, ha-giang 3,
	 * lao-cai 4, z 5; authors "Trần Văn B" 0, a 1, b 2, c 3, "clerk 1"
	 * 4, d 5.  Controls: harmless patches of the same places decode.
	 */
	PATCH_RC(0, "\xc0\x01\x93\x93\xab", "\xc0\x00\x93\x93\xab");
	PATCH_RC(0, "person.name", "person.nama");
	PATCH_RC(0, "\x94\x64\x04\x03", "\x94\x65\x04\x03");
	PATCH_RC(0, "\xa1" "a\xa1" "b\xa7", "\xa1" "a\xa1" "c\xa7");
	PATCH_RC(0, "\xa1" "A\x08", "\xa1" "B\x08");
	PATCH_RC(0, "\xa7" "clerk 1", "\xa7" "clerk\xc2\xa0");
	PATCH_RC(0, "\xc4\x02{}", "\xc4\x03{} ");
	PATCH_RC(0, "\x00\xc0\x01\x93", "\x05\x02\x01\x93"); /* erased */
	PATCH2_RC(0, "\x94\x05\x04\x01", "\x94\x05\x04\x02",
	    "\x94\x09\x02\x02", "\x94\x09\x02\x01"); /* authors swapped */
	PATCH("0190f5a2", "0190F5A2");			/* case id */
	PATCH("1d2f\x04\xcf", "1d2f\x06\xcf");	/* owner index */
	PATCH("1d2f\x04\xcf", "1d2f\xc0\xcf");	/* a stamp, no owner */
	PATCH("\x00\xc0\x01\x93", "\x00\x00\x01\x93"); /* no erasure */
	PATCH("\x00\xc0\x01\x93", "\x05\xc0\x01\x93"); /* erased by nil */
	PATCH("\xc0\x01\x93\x93\xab", "\xc0\x02\x93\x93\xab"); /* flags */
	PATCH("person.name", "person.sexx");		/* field order */
	PATCH("\xa6status", "\xa6Status");		/* path */
	PATCH("\x94\x64\x04\x03", "\x94\x63\x04\x03"); /* head order */
	PATCH("\x92\x01\x05", "\x92\x02\x05");	/* seen order */
	PATCH("\x92\x02\x01", "\x92\x02\x00");	/* seen dup */
	PATCH("\x92\x01\x05", "\x92\x00\x05");	/* seen hlc 0 */
	PATCH("\xa5notes", "\xa5zotes");		/* event order */
	PATCH("\xa1" "A\x08", "\xa1" "a\x08");	/* event dup */
	PATCH("\xa1" "A\x08", "\xa1" "+\x08");	/* event id */
	PATCH("\xc4\x02{}", "\xa2{}");		/* value as str */
	/* The tables: an entry not valid (a node id, an author) ... */
	PATCH("\xa1z\x96", "\xa1~\x96");
	PATCH("\xa7" "clerk 1", "\xa7" "clerk\n1");
	/* ... out of order, twice, not used ... */
	PATCH("\xa1" "a\xa1" "b\xa1" "c", "\xa1" "b\xa1" "a\xa1" "c");
	PATCH("\xa1" "a\xa1" "b\xa1" "c", "\xa1" "a\xa1" "a\xa1" "c");
	PATCH("\x94\x64\x03\x00", "\x94\x64\x02\x00"); /* ha-giang */
	PATCH("\x94\x05\x04\x01", "\x94\x05\x04\x04"); /* author a */
	/* ... and indices out of range, or not in their shortest form. */
	PATCH("\x94\x09\x02\x02", "\x94\x09\x06\x02");
	PATCH("\x94\x09\x02\x02", "\x94\x09\x02\x06");
	PATCH("\x94\x09\x02\x02", "\x94\x09\xcc\x02\x02");
	PATCH("\x92\x01\x05", "\x92\x01\xc0");
	PATCH("\x94\x09\x02\x02", "\x94\x09\x02\xa1" "b");

	/* The reader of version 1 keeps its rules (by the text). */
	buf_reset(&good);
	sample(&s);
	ST_OK(state_encode_v1(&s, &good));
	state_release(&s);
	ver = 1;
	PATCH_RC(0, "\x64\xa7lao-cai", "\x65\xa7lao-cai");
	PATCH("\xa7lao-cai\xcf", "\xa7Lao-cai\xcf");	/* owner */
	PATCH("\x64\xa7lao-cai", "\x63\xa7lao-cai");	/* head order */
	PATCH("\xa1z", "\xa1Z");			/* seen node */
	PATCH("\xa7" "clerk 1", "\xa7" "clerk\n1");	/* author */
#undef PATCH2_RC
#undef PATCH
#undef PATCH_RC

	/* Counts at and over the limits, written by hand. */
	ST_CHECK(raw_counts(&b, 0, 1, 0, 0, 0) == 0);
	ST_CHECK(raw_counts(&b, 0, STATE_MAX_FIELDS, 1, 1, 0) == 0);
	ST_CHECK(raw_counts(&b, E_PROTO, STATE_MAX_FIELDS + 1, 1, 1, 0) == 0);
	ST_CHECK(raw_counts(&b, 0, 1, STATE_MAX_HEADS, STATE_MAX_SEEN, 0) ==
	    0);
	ST_CHECK(raw_counts(&b, E_PROTO, 1, STATE_MAX_HEADS + 1, 0, 0) == 0);
	ST_CHECK(raw_counts(&b, E_PROTO, 1, 0, STATE_MAX_SEEN + 1, 0) == 0);
	ST_CHECK(raw_counts(&b, 0, 0, 0, 0, STATE_MAX_EVENTS) == 0);
	ST_CHECK(raw_counts(&b, E_PROTO, 0, 0, 0, STATE_MAX_EVENTS + 1) == 0);

	/* A head value at and over the codec's limit. */
	sample(&s);
	f = &s.fields[0];
	free(f->heads[0].value);
	f->heads[0].value = xcalloc(1, STATE_VALUE_MAX + 1);
	f->heads[0].value_len = STATE_VALUE_MAX;
	ST_CHECK(same_as_ref(&s));
	buf_reset(&b);
	ST_OK(state_encode(&s, &b));
	ST_CHECK(dec_expect(&b, 0) == 0);
	for (i = 0; i + 2 < b.len; i++) {
		/* bin16 length 0x2000 -> 0x2001, with one more byte. */
		if (b.data[i] == 0xc5 && b.data[i + 1] == 0x20 &&
		    b.data[i + 2] == 0x00)
			break;
	}
	ST_CHECK(i + 2 < b.len);
	b.data[i + 2] = 0x01;
	ST_OK(buf_append(&b, "", 1));
	memmove(b.data + i + 3 + STATE_VALUE_MAX + 1,
	    b.data + i + 3 + STATE_VALUE_MAX, b.len - (i + 3 +
	    STATE_VALUE_MAX + 1));
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	state_release(&s);

	buf_release(&b);
	buf_release(&good);
	return 0;
}

/* An author's pseudonym: accepted by the codec, kept apart from a real
 * author. */
static int
sealed_author_tests(void)
{
	struct case_state	s, d;
	struct buf		b;
	char			a[2 * STATE_AUTHOR_PSEUDO + 3];
	size_t			len = 1 + 2 * STATE_AUTHOR_PSEUDO;

	memset(a, 'a', sizeof(a));
	a[0] = STATE_AUTHOR_SEALED;
	a[len] = '\0';
	ST_CHECK(state_author_sealed(a));
	a[len - 1] = '\0';
	ST_CHECK(!state_author_sealed(a));		/* too short */
	a[len - 1] = 'a';
	a[len] = 'a';
	a[len + 1] = '\0';
	ST_CHECK(!state_author_sealed(a));		/* too long */
	a[len] = '\0';
	a[5] = 'A';
	ST_CHECK(!state_author_sealed(a));		/* not lowercase hex */
	a[5] = 'a';
	ST_CHECK(!state_author_sealed("clerk 1"));
	sample(&s);
	strlcpy_(s.fields[2].heads[1].author, a,
	    sizeof(s.fields[2].heads[1].author));
	strlcpy_(s.events[0].author, a, sizeof(s.events[0].author));
	buf_init(&b, STATE_ENCODED_MAX);
	ST_OK(state_encode(&s, &b));
	ST_OK(state_decode(b.data, b.len, &d));
	ST_CHECK(strcmp(d.fields[2].heads[1].author, a) == 0 &&
	    strcmp(d.events[0].author, a) == 0);
	state_release(&d);
	/* A control character other than the marker's is still refused. */
	s.events[0].author[0] = '\x02';
	buf_reset(&b);
	ST_CHECK(state_encode(&s, &b) == E_INVAL);
	buf_release(&b);
	state_release(&s);
	return 0;
}

/* The path and event id rules (mp.c's tables) against their text, for
 * every byte and at the length limits. */
static int
id_rule_tests(void)
{
	char	s[ENTRY_PATH_MAX + 2];

	for (unsigned c = 1; c < 256; c++) {
		int p = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.';
		int e = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-';

		s[0] = 'a';
		s[1] = (char)c;
		s[2] = 'b';
		s[3] = '\0';
		ST_CHECK(mp_path_valid(s) == p && mp_evid_valid(s) == e);
		ST_CHECK(mp_path_valid(s + 1) == p && mp_evid_valid(s + 1) ==
		    e);
	}
	ST_CHECK(!mp_path_valid("") && !mp_evid_valid(""));
	memset(s, 'a', sizeof(s));
	s[ENTRY_PATH_MAX] = '\0';
	ST_CHECK(mp_path_valid(s));
	s[ENTRY_PATH_MAX] = 'a';
	s[ENTRY_PATH_MAX + 1] = '\0';
	ST_CHECK(!mp_path_valid(s));
	s[ENTRY_EVID_MAX] = '\0';
	ST_CHECK(mp_evid_valid(s));
	s[ENTRY_EVID_MAX] = 'a';
	s[ENTRY_EVID_MAX + 1] = '\0';
	ST_CHECK(!mp_evid_valid(s));
	return 0;
}

int
state_selftest(void)
{
	if (roundtrip_tests() != 0 || rule_tests() != 0 ||
	    sealed_author_tests() != 0 || id_rule_tests() != 0)
		return 1;
	return 0;
}
#endif

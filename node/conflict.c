/*
 * conflict.c - open conflicts: ids, listing, resolutions.  See conflict.h.
 */
#include "conflict.h"
#include "merge.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/err.h"
#include "../common/util.h"

#define FNV_OFFSET	UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME	UINT64_C(0x100000001b3)

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

void
conflict_id(const char *case_id, const char *path, const struct stamp *loser,
    char out[CONFLICT_ID_LEN + 1])
{
	char		hlc[24];
	uint64_t	h = FNV_OFFSET;

	snprintf(hlc, sizeof(hlc), "%llu", (unsigned long long)loser->hlc);
	/* Each part with its NUL, so that no two inputs run together. */
	h = fnv1a(h, case_id, strlen(case_id) + 1);
	h = fnv1a(h, path, strlen(path) + 1);
	h = fnv1a(h, hlc, strlen(hlc) + 1);
	h = fnv1a(h, loser->node, strlen(loser->node));
	snprintf(out, CONFLICT_ID_LEN + 1, "%016llx", (unsigned long long)h);
}

int
conflict_id_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return 0;
	}
	return n == CONFLICT_ID_LEN;
}

static int
same_value(const struct head *a, const struct head *b)
{
	return a->value_len == b->value_len && (a->value_len == 0 ||
	    memcmp(a->value, b->value, a->value_len) == 0);
}

int
conflict_candidate(const struct case_state *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i].nheads > 1)
			return 1;
	return 0;
}

int
conflict_each(const struct case_state *s,
    int (*fn)(const struct conflict *, void *), void *arg)
{
	for (size_t i = 0; i < s->nfields; i++) {
		const struct field	*f = &s->fields[i];
		const struct head	*w = merge_winner(f);

		/* Heads are sorted by stamp: the winner is the last. */
		for (size_t j = 0; w != NULL && j + 1 < f->nheads; j++) {
			struct conflict	c;
			int		rc;

			if (same_value(&f->heads[j], w))
				continue;
			c.s = s;
			c.f = f;
			c.winner = w;
			c.loser = &f->heads[j];
			conflict_id(s->id, f->path, &c.loser->st, c.id);
			if ((rc = fn(&c, arg)) != 0)
				return rc;
		}
	}
	return 0;
}

struct find_ctx {
	const char	*id;
	struct conflict	*out;
};

static int
find_one(const struct conflict *c, void *arg)
{
	struct find_ctx *fc = arg;

	if (strcasecmp(c->id, fc->id) != 0)
		return 0;
	*fc->out = *c;
	return 1;
}

int
conflict_find(const struct case_state *s, const char *id, struct conflict *c)
{
	struct find_ctx fc = { id, c };

	if (!conflict_id_valid(id))
		return E_NOTFOUND;
	return conflict_each(s, find_one, &fc) == 1 ? 0 : E_NOTFOUND;
}

int
conflict_resolution(const struct conflict *c, const char *value, size_t len,
    struct entry *e)
{
	const struct field	*f = c->f;
	struct op		*o;

	if (len > ENTRY_VALUE_MAX)
		return E_TOOBIG;
	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_SET &&
		    strcmp(e->ops[i].path, f->path) == 0)
			return E_INVAL;
	if ((o = entry_add_op(e, OP_SET)) == NULL)
		return E_TOOBIG;
	strlcpy_(o->path, f->path, sizeof(o->path));
	if (op_set_value(o, value, len) != 0) {
		e->nops--;
		return E_TOOBIG;
	}
	o->base = c->winner->st;
	*op_also_add(o) = c->loser->st;	/* the first: never full */
	/* Duplicates of either side (the same value written concurrently on
	 * two nodes) would otherwise survive as new conflicts. */
	for (size_t i = 0; i < f->nheads && o->nalso < ENTRY_MAX_ALSO; i++) {
		const struct head *h = &f->heads[i];

		if (h == c->winner || h == c->loser)
			continue;
		if (same_value(h, c->winner) || same_value(h, c->loser))
			*op_also_add(o) = h->st;	/* nalso < max */
	}
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define CS_CASE	"0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"

static void
cs_head(struct head *h, uint64_t hlc, const char *node, const char *v)
{
	memset(h, 0, sizeof(*h));
	h->st.hlc = hlc;
	strlcpy_(h->st.node, node, sizeof(h->st.node));
	strlcpy_(h->author, "clerk", sizeof(h->author));
	h->value = (uint8_t *)xstrdup(v);
	h->value_len = strlen(v);
}

static int
cs_count(const struct conflict *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

int
conflict_selftest(void)
{
	struct case_state	s;
	struct field		*f;
	struct conflict		c, c2;
	struct entry		e;
	struct stamp		st = { 42, "lao-cai" };
	char			id[CONFLICT_ID_LEN + 1];
	char			id2[CONFLICT_ID_LEN + 1];
	int			n = 0;

	/* Ids: fixed, hex, and sensitive to every part. */
	conflict_id(CS_CASE, "status", &st, id);
	ST_CHECK(conflict_id_valid(id) && strlen(id) == CONFLICT_ID_LEN);
	conflict_id(CS_CASE, "status", &st, id2);
	ST_CHECK(strcmp(id, id2) == 0);
	st.hlc = 43;
	conflict_id(CS_CASE, "status", &st, id2);
	ST_CHECK(strcmp(id, id2) != 0);
	st.hlc = 42;
	strlcpy_(st.node, "ha-noi", sizeof(st.node));
	conflict_id(CS_CASE, "status", &st, id2);
	ST_CHECK(strcmp(id, id2) != 0);
	conflict_id(CS_CASE, "person.sex", &st, id);
	ST_CHECK(strcmp(id, id2) != 0);
	ST_CHECK(!conflict_id_valid("0123456789abcde"));
	ST_CHECK(!conflict_id_valid("0123456789abcdeg"));
	ST_CHECK(conflict_id_valid("0123456789ABCDEF"));
	/* Pinned: the id must never change between versions, or nodes of
	 * different versions would name the same conflict differently. */
	st.hlc = UINT64_C(0x0190b5c27d1e0001);
	strlcpy_(st.node, "central", sizeof(st.node));
	conflict_id(CS_CASE, "status", &st, id);
	ST_CHECK(strcmp(id, "8cda78eb778bab45") == 0);

	/* status: winner "b" (300 lao-cai), losers "a" (200 central) and a
	 * duplicate of the winner (250 ha-noi): one conflict. */
	state_init(&s, CS_CASE);
	s.nfields = 2;
	s.fields = xcalloc(2, sizeof(*s.fields));
	f = &s.fields[0];
	strlcpy_(f->path, "person.sex", sizeof(f->path));
	f->nheads = 2;
	f->heads = xcalloc(2, sizeof(*f->heads));
	cs_head(&f->heads[0], 100, "central", "\"male\"");
	cs_head(&f->heads[1], 100, "lao-cai", "\"male\"");
	f = &s.fields[1];
	strlcpy_(f->path, "status", sizeof(f->path));
	f->nheads = 4;
	f->heads = xcalloc(4, sizeof(*f->heads));
	cs_head(&f->heads[0], 200, "central", "\"reported\"");
	cs_head(&f->heads[1], 220, "dien-bien", "\"reported\"");
	cs_head(&f->heads[2], 250, "ha-noi", "\"closed\"");
	cs_head(&f->heads[3], 300, "lao-cai", "\"closed\"");
	ST_CHECK(conflict_candidate(&s));
	ST_OK(conflict_each(&s, cs_count, &n));
	ST_CHECK(n == 2);	/* central's and dien-bien's "reported" */
	conflict_id(CS_CASE, "status", &f->heads[0].st, id);
	ST_OK(conflict_find(&s, id, &c));
	ST_CHECK(c.loser == &f->heads[0] && c.winner == &f->heads[3]);
	ST_CHECK(conflict_find(&s, "0000000000000000", &c2) == E_NOTFOUND);
	ST_CHECK(conflict_find(&s, "nonsense", &c2) == E_NOTFOUND);

	/* The resolution supersedes the winner, the loser and their
	 * duplicates. */
	entry_init(&e);
	ST_OK(conflict_resolution(&c, "\"identified\"", 12, &e));
	ST_CHECK(e.nops == 1 && e.ops[0].type == OP_SET);
	ST_CHECK(strcmp(e.ops[0].path, "status") == 0);
	ST_CHECK(stamp_cmp(&e.ops[0].base, &f->heads[3].st) == 0);
	ST_CHECK(e.ops[0].nalso == 3);
	ST_CHECK(stamp_cmp(&e.ops[0].also[0], &f->heads[0].st) == 0);
	ST_CHECK(conflict_resolution(&c, "\"x\"", 3, &e) == E_INVAL);
	entry_release(&e);
	state_release(&s);
	return 0;
}
#endif

/*
 * dupes.c - possible duplicates and the duplicate link (dupes.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"
#include "nameidx.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define DUPES_WORDS	6	/* words of a name looked at */

struct found {
	char	(*ids)[ENTRY_CASE_ID_LEN + 1];
	int	 *all;
	size_t	  n, cap;
	int	  all_words;	/* of the query running */
};

static int
found_one(const char *id, void *arg)
{
	struct found *f = arg;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->ids[i], id) == 0) {
			f->all[i] |= f->all_words;
			return 0;
		}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 32;
		f->ids = xreallocarray(f->ids, f->cap, sizeof(*f->ids));
		f->all = xreallocarray(f->all, f->cap, sizeof(*f->all));
	}
	strlcpy_(f->ids[f->n], id, sizeof(f->ids[0]));
	f->all[f->n++] = f->all_words;
	return 0;
}

/* Does the sealed state s match q's exact fields? */
static int
exact(const struct case_state *s, const struct dupes_query *q)
{
	char	b[HLC_NODE_MAX + 1];
	int64_t	by;

	if (s->erased.hlc != 0 || (q->exclude != NULL &&
	    strcmp(s->id, q->exclude) == 0))
		return 0;
	if (!schema_get_int(s, "person.birth_year", &by) ||
	    by != q->birth_year)
		return 0;
	if (!schema_get_str(s, "person.sex", b, sizeof(b)) ||
	    strcmp(b, q->sex) != 0)
		return 0;
	return schema_get_str(s, "person.home_province", b, sizeof(b)) &&
	    strcmp(b, q->home_province) == 0;
}

int
dupes_find(struct store *st, const struct dupes_query *q,
    struct dupes_hit *hits, size_t max, size_t *n)
{
	char		words[DUPES_WORDS][NAMEIDX_WORD_MAX + 1];
	char		joined[DUPES_WORDS * (NAMEIDX_WORD_MAX + 1) + 1];
	struct found	f;
	size_t		nw;
	int		rc = 0;

	*n = 0;
	if (max > DUPES_MAX)
		max = DUPES_MAX;
	if (q->full_name == NULL || (nw = nameidx_words(q->full_name, words,
	    DUPES_WORDS)) == 0)
		return E_INVAL;
	memset(&f, 0, sizeof(f));
	/* Every word; then, for three words or more, every word but one
	 * (a typo, a missing middle name). */
	for (size_t skip = 0; skip <= nw && rc == 0; skip++) {
		if (skip > 0 && nw < 3)
			break;
		size_t len = 0;

		joined[0] = '\0';
		for (size_t i = 0; i < nw; i++) {
			if (skip > 0 && i == skip - 1)
				continue;
			len += (size_t)snprintf(joined + len, sizeof(joined) -
			    len, "%s%s", len ? " " : "", words[i]);
		}
		f.all_words = skip == 0;
		rc = store_name_search(st, joined, DUPES_SCAN_MAX, found_one,
		    &f);
	}
	/* Every word first, then by id: the same order on every call. */
	for (int pass = 1; pass >= 0 && rc == 0; pass--)
		for (size_t i = 0; i < f.n && *n < max && rc == 0; i++) {
			struct case_state s;

			if (f.all[i] != pass)
				continue;
			if (store_case_get_sealed(st, f.ids[i], &s) != 0)
				continue;
			if (exact(&s, q)) {
				strlcpy_(hits[*n].id, f.ids[i],
				    sizeof(hits[0].id));
				hits[*n].all_words = pass;
				(*n)++;
			}
			state_release(&s);
		}
	free(f.ids);
	free(f.all);
	return rc;
}

/* The link of case id as this node holds it: 1 with *of set, 0 when
 * the case has none, -1 when this node does not hold the case. */
static int
link_of(struct store *st, const char *id, char of[ENTRY_CASE_ID_LEN + 1])
{
	struct case_state	s;
	int			has;

	if (store_case_get_sealed(st, id, &s) != 0)
		return -1;
	has = schema_get_str(&s, "person.duplicate_of", of,
	    ENTRY_CASE_ID_LEN + 1);
	state_release(&s);
	return has ? 1 : 0;
}

int
dupes_check_link(struct store *st, const char *id, const char *of,
    char *err, size_t errsz)
{
	char	cur[ENTRY_CASE_ID_LEN + 1], next[ENTRY_CASE_ID_LEN + 1];

	if (strcmp(id, of) == 0) {
		snprintf(err, errsz, "a case is not a duplicate of itself");
		return E_INVAL;
	}
	strlcpy_(cur, of, sizeof(cur));
	for (int i = 0; i < DUPES_CHAIN_MAX; i++) {
		if (link_of(st, cur, next) != 1)
			return 0;
		if (strcmp(next, id) == 0) {
			snprintf(err, errsz, "case %s is already a duplicate "
			    "of %s (through its links): linking %s to it "
			    "would form a cycle", of, id, id);
			return E_INVAL;
		}
		if (strcmp(next, cur) == 0)
			return 0;
		strlcpy_(cur, next, sizeof(cur));
	}
	return 0;
}

int
dupes_representative(struct store *st, const char *id, char *rep)
{
	char	seen[DUPES_CHAIN_MAX + 1][ENTRY_CASE_ID_LEN + 1];
	char	next[ENTRY_CASE_ID_LEN + 1];
	size_t	n = 0, k;

	strlcpy_(seen[0], id, sizeof(seen[0]));
	for (;;) {
		const char *cur = seen[n];

		n++;
		if (n > DUPES_CHAIN_MAX || link_of(st, cur, next) != 1) {
			strlcpy_(rep, cur, ENTRY_CASE_ID_LEN + 1);
			return 0;
		}
		for (k = 0; k < n && strcmp(seen[k], next) != 0; k++)
			;
		if (k < n) {
			/* Back to seen[k]: the cycle is seen[k..n-1]; its
			 * smallest id counts, whichever case we came from. */
			size_t m = k;

			for (size_t j = k + 1; j < n; j++)
				if (strcmp(seen[j], seen[m]) < 0)
					m = j;
			strlcpy_(rep, seen[m], ENTRY_CASE_ID_LEN + 1);
			return 0;
		}
		strlcpy_(seen[n], next, sizeof(seen[n]));
	}
}

int
dupes_counts_person(void *arg, const struct case_state *s)
{
	char rep[ENTRY_CASE_ID_LEN + 1];

	return dupes_representative(arg, s->id, rep) == 0 &&
	    strcmp(rep, s->id) == 0;
}

int
dupes_link(struct store *st, const char *author, const char *id,
    const char *of, char *err, size_t errsz)
{
	struct case_state	 s;
	struct entry		 e;
	struct op		*o;
	char			 v[ENTRY_CASE_ID_LEN + 3];
	char			 other[ENTRY_CASE_ID_LEN + 1];
	int			 rc;

	if (!uuid_valid(id) || !uuid_valid(of)) {
		snprintf(err, errsz, "a case id is a 36-character lowercase "
		    "UUID");
		return E_INVAL;
	}
	if (store_case_get_sealed(st, of, &s) != 0) {
		snprintf(err, errsz, "no case %s on this node", of);
		return E_INVAL;
	}
	state_release(&s);
	if ((rc = dupes_check_link(st, id, of, err, errsz)) != 0)
		return rc;
	if (store_case_get_sealed(st, of, &s) != 0) {
		snprintf(err, errsz, "no case %s on this node", of);
		return E_INVAL;
	}
	rc = schema_get_str(&s, "person.duplicate_of", other, sizeof(other));
	state_release(&s);
	if (rc) {
		snprintf(err, errsz, "case %s is itself a duplicate of %s: link "
		    "to that one", of, other);
		return E_INVAL;
	}
	if (store_case_get_sealed(st, id, &s) != 0) {
		snprintf(err, errsz, "no case %s on this node", id);
		return E_NOTFOUND;
	}
	state_release(&s);
	snprintf(v, sizeof(v), "\"%s\"", of);
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	strlcpy_(e.author, author, sizeof(e.author));
	o = entry_add_op(&e, OP_SET);
	strlcpy_(o->path, "person.duplicate_of", sizeof(o->path));
	op_set_value(o, v, strlen(v));
	rc = store_write_local(st, &e, 1, err, errsz);
	if (rc != 0 && strncmp(err, "entry 1: ", 9) == 0)
		memmove(err, err + 9, strlen(err + 9) + 1);
	if (rc == 0)
		log_info("case %s linked as a duplicate of %s by %s", id, of,
		    author);
	entry_release(&e);
	return rc;
}

#ifdef SELFTEST
#include "store_int.h"

#include "../common/selftest.h"

#define ST_A	"01a2276e-8c28-78e1-8721-c642e7eb1b41"
#define ST_B	"01a2276e-8c28-78e1-8721-c642e7eb1b42"
#define ST_C	"01a2276e-8c28-78e1-8721-c642e7eb1b43"
#define ST_D	"01a2276e-8c28-78e1-8721-c642e7eb1b44"

/* Sets id's link to of directly, as a link arriving through sync would:
 * no dupes_check_link. */
static int
raw_link(struct store *st, const char *id, const char *of)
{
	struct entry	 e;
	struct op	*o;
	char		 v[ENTRY_CASE_ID_LEN + 3], err[256];
	int		 rc;

	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	strlcpy_(e.author, "selftest", sizeof(e.author));
	o = entry_add_op(&e, OP_SET);
	strlcpy_(o->path, "person.duplicate_of", sizeof(o->path));
	snprintf(v, sizeof(v), "\"%s\"", of);
	op_set_value(o, v, strlen(v));
	rc = store_write_local(st, &e, 1, err, sizeof(err));
	entry_release(&e);
	return rc;
}

int
dupes_selftest(void)
{
	char		 dir[] = "/tmp/casesync-dupes-XXXXXX";
	const char	*ids[] = { ST_A, ST_B, ST_C, ST_D };
	struct store	*st;
	struct entry	 e;
	char		 rep[ENTRY_CASE_ID_LEN + 1], err[256];

	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	for (size_t i = 0; i < 4; i++) {
		store_test_entry(&e, ids[i], "ha-noi", NULL);
		ST_OK(store_write_local(st, &e, 1, err, sizeof(err)));
		entry_release(&e);
	}
	/* Write time: A->A, and a link back along a chain, are refused. */
	ST_CHECK(dupes_link(st, "t", ST_A, ST_A, err, sizeof(err)) ==
	    E_INVAL);
	ST_OK(dupes_link(st, "t", ST_B, ST_A, err, sizeof(err)));
	ST_CHECK(dupes_link(st, "t", ST_A, ST_B, err, sizeof(err)) ==
	    E_INVAL && strstr(err, "cycle") != NULL);
	ST_OK(raw_link(st, ST_C, ST_B));	/* a chain C->B->A */
	ST_CHECK(dupes_check_link(st, ST_A, ST_C, err, sizeof(err)) ==
	    E_INVAL && strstr(err, "cycle") != NULL);
	ST_OK(dupes_check_link(st, ST_D, ST_C, err, sizeof(err)));
	/* Readers: the root counts for every case of the chain. */
	for (size_t i = 0; i < 3; i++) {
		ST_OK(dupes_representative(st, ids[i], rep));
		ST_CHECK(strcmp(rep, ST_A) == 0);
	}
	ST_OK(dupes_representative(st, ST_D, rep));
	ST_CHECK(strcmp(rep, ST_D) == 0);
	/* A cycle arrives through sync (A->C while C->B->A): the smallest
	 * id counts, from any case of it or leading into it. */
	ST_OK(raw_link(st, ST_A, ST_C));
	ST_OK(raw_link(st, ST_D, ST_C));
	for (size_t i = 0; i < 4; i++) {
		ST_OK(dupes_representative(st, ids[i], rep));
		ST_CHECK(strcmp(rep, ST_A) == 0);
	}
	/* A link to a case this node does not hold: that case counts. */
	ST_OK(raw_link(st, ST_D, "01a2276e-8c28-78e1-8721-c642e7eb1b49"));
	ST_OK(dupes_representative(st, ST_D, rep));
	ST_CHECK(strcmp(rep, "01a2276e-8c28-78e1-8721-c642e7eb1b49") == 0);
	store_test_close(&st, dir);
	return 0;
}
#endif

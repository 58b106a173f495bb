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
	if (strcmp(id, of) == 0) {
		snprintf(err, errsz, "a case is not a duplicate of itself");
		return E_INVAL;
	}
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

#include "merge.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"

static void
head_release(struct head *h)
{
	free(h->value);
	h->value = NULL;
}

static void
field_release(struct field *f)
{
	for (size_t i = 0; i < f->nheads; i++)
		head_release(&f->heads[i]);
	free(f->heads);
	free(f->seen);
	f->heads = NULL;
	f->seen = NULL;
	f->nheads = f->nseen = 0;
}

struct field *
merge_field(const struct case_state *s, const char *path)
{
	size_t lo = 0, hi = s->nfields;

	while (lo < hi) {
		size_t	mid = lo + (hi - lo) / 2;
		int	c = strcmp(s->fields[mid].path, path);
		if (c == 0)
			return &s->fields[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Finds or inserts the field for path, keeping fields sorted. */
static struct field *
field_get(struct case_state *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		int c = strcmp(s->fields[i].path, path);
		if (c == 0)
			return &s->fields[i];
		if (c > 0)
			break;
	}
	if (s->nfields >= STATE_MAX_FIELDS)
		return NULL;
	s->fields = xreallocarray(s->fields, s->nfields + 1,
	    sizeof(*s->fields));
	memmove(&s->fields[i + 1], &s->fields[i],
	    (s->nfields - i) * sizeof(*s->fields));
	memset(&s->fields[i], 0, sizeof(s->fields[i]));
	strlcpy_(s->fields[i].path, path, sizeof(s->fields[i].path));
	s->nfields++;
	return &s->fields[i];
}

static void
field_remove(struct case_state *s, size_t i)
{
	field_release(&s->fields[i]);
	memmove(&s->fields[i], &s->fields[i + 1],
	    (s->nfields - i - 1) * sizeof(*s->fields));
	s->nfields--;
}

/* Position of st in the sorted array, or where it would go; *found. */
static size_t
stamp_pos(const struct stamp *arr, size_t n, size_t stride,
    const struct stamp *st, int *found)
{
	size_t lo = 0, hi = n;

	*found = 0;
	while (lo < hi) {
		size_t			 mid = lo + (hi - lo) / 2;
		const struct stamp	*m = (const struct stamp *)
		    (const void *)((const char *)arr + mid * stride);
		int			 c = stamp_cmp(m, st);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Records that st is superseded: into seen, and out of the heads. */
static int
supersede(struct field *f, const struct stamp *st)
{
	int	found;
	size_t	i;

	if (st->hlc == 0)
		return 0;
	i = stamp_pos(f->seen, f->nseen, sizeof(*f->seen), st, &found);
	if (!found) {
		if (f->nseen >= STATE_MAX_SEEN)
			return E_TOOBIG;
		f->seen = xreallocarray(f->seen, f->nseen + 1,
		    sizeof(*f->seen));
		memmove(&f->seen[i + 1], &f->seen[i],
		    (f->nseen - i) * sizeof(*f->seen));
		f->seen[i] = *st;
		f->nseen++;
	}
	i = stamp_pos(&f->heads[0].st, f->nheads, sizeof(*f->heads), st,
	    &found);
	if (found) {
		head_release(&f->heads[i]);
		memmove(&f->heads[i], &f->heads[i + 1],
		    (f->nheads - i - 1) * sizeof(*f->heads));
		f->nheads--;
	}
	return 0;
}

static int
apply_set(struct case_state *s, const struct entry *e, const struct op *o,
    const struct stamp *st)
{
	struct field	*f;
	size_t		 i;
	int		 found, rc;

	if (s->erased.hlc != 0 && schema_path_identifying(o->path))
		return 0;
	if ((f = field_get(s, o->path)) == NULL)
		return E_TOOBIG;
	if ((rc = supersede(f, &o->base)) != 0)
		return rc;
	for (i = 0; i < o->nalso; i++)
		if ((rc = supersede(f, &o->also[i])) != 0)
			return rc;
	stamp_pos(f->seen, f->nseen, sizeof(*f->seen), st, &found);
	if (found)
		return 0;	/* a later write already replaced this one */
	i = stamp_pos(&f->heads[0].st, f->nheads, sizeof(*f->heads), st,
	    &found);
	if (found)
		return 0;	/* applied before */
	if (f->nheads >= STATE_MAX_HEADS)
		return E_TOOBIG;
	f->heads = xreallocarray(f->heads, f->nheads + 1, sizeof(*f->heads));
	memmove(&f->heads[i + 1], &f->heads[i],
	    (f->nheads - i) * sizeof(*f->heads));
	memset(&f->heads[i], 0, sizeof(f->heads[i]));
	f->heads[i].st = *st;
	strlcpy_(f->heads[i].author, e->author, sizeof(f->heads[i].author));
	f->heads[i].value = (uint8_t *)xstrndup(o->value, o->value_len);
	f->heads[i].value_len = o->value_len;
	f->nheads++;
	return 0;
}

static int
event_cmp(const struct event *ev, const char *coll, const char *id)
{
	int c = strcmp(ev->coll, coll);
	return c != 0 ? c : strcmp(ev->id, id);
}

static int
apply_event(struct case_state *s, const struct entry *e, const struct op *o,
    const struct stamp *st)
{
	struct event	*ev;
	size_t		 lo = 0, hi = s->nevents;

	if (s->erased.hlc != 0 && schema_coll_identifying(o->path))
		return 0;
	while (lo < hi) {
		size_t	mid = lo + (hi - lo) / 2;
		int	c = event_cmp(&s->events[mid], o->path, o->evid);
		if (c == 0) {
			ev = &s->events[mid];
			/* The same id twice: the highest stamp wins, so the
			 * outcome does not depend on arrival order. */
			if (stamp_cmp(st, &ev->st) > 0) {
				free(ev->value);
				ev->st = *st;
				strlcpy_(ev->author, e->author,
				    sizeof(ev->author));
				ev->value = (uint8_t *)xstrndup(o->value,
				    o->value_len);
				ev->value_len = o->value_len;
			}
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nevents >= STATE_MAX_EVENTS)
		return E_TOOBIG;
	s->events = xreallocarray(s->events, s->nevents + 1,
	    sizeof(*s->events));
	memmove(&s->events[lo + 1], &s->events[lo],
	    (s->nevents - lo) * sizeof(*s->events));
	ev = &s->events[lo];
	memset(ev, 0, sizeof(*ev));
	strlcpy_(ev->coll, o->path, sizeof(ev->coll));
	strlcpy_(ev->id, o->evid, sizeof(ev->id));
	ev->st = *st;
	strlcpy_(ev->author, e->author, sizeof(ev->author));
	ev->value = (uint8_t *)xstrndup(o->value, o->value_len);
	ev->value_len = o->value_len;
	s->nevents++;
	return 0;
}

void
merge_strip_identifying(struct case_state *s)
{
	size_t i;

	for (i = 0; i < s->nfields;) {
		if (schema_path_identifying(s->fields[i].path))
			field_remove(s, i);
		else
			i++;
	}
	for (i = 0; i < s->nevents;) {
		if (schema_coll_identifying(s->events[i].coll)) {
			free(s->events[i].value);
			memmove(&s->events[i], &s->events[i + 1],
			    (s->nevents - i - 1) * sizeof(*s->events));
			s->nevents--;
		} else {
			i++;
		}
	}
}

static int
apply_ops(struct case_state *s, const struct entry *e)
{
	struct stamp	st;
	int		rc = 0;

	st.hlc = e->hlc;
	strlcpy_(st.node, e->origin, sizeof(st.node));
	for (size_t i = 0; i < e->nops && rc == 0; i++) {
		const struct op *o = &e->ops[i];

		switch (o->type) {
		case OP_SET:
			rc = apply_set(s, e, o, &st);
			break;
		case OP_EVENT:
			rc = apply_event(s, e, o, &st);
			break;
		case OP_TRANSFER:
			if (s->owner_st.hlc == 0 ||
			    stamp_cmp(&st, &s->owner_st) > 0) {
				strlcpy_(s->owner, o->to, sizeof(s->owner));
				s->owner_st = st;
			}
			break;
		case OP_ERASE:
			if (stamp_cmp(&st, &s->erased) > 0)
				s->erased = st;
			merge_strip_identifying(s);
			break;
		default:
			rc = E_INVAL;
		}
	}
	return rc;
}

int
merge_apply(struct case_state *s, const struct entry *e)
{
	struct case_state	tmp;
	int			rc;

	/* Apply to a copy so that a refused entry leaves s untouched. */
	state_copy(&tmp, s);
	if ((rc = apply_ops(&tmp, e)) != 0) {
		state_release(&tmp);
		return rc;
	}
	state_release(s);
	*s = tmp;
	return 0;
}

const struct head *
merge_winner(const struct field *f)
{
	return f->nheads ? &f->heads[f->nheads - 1] : NULL;
}

int
merge_conflicted(const struct field *f)
{
	const struct head *w = merge_winner(f);

	for (size_t i = 0; w != NULL && i + 1 < f->nheads; i++)
		if (f->heads[i].value_len != w->value_len ||
		    memcmp(f->heads[i].value, w->value, w->value_len) != 0)
			return 1;
	return 0;
}

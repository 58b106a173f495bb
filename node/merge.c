#include "merge.h"
#include "schema.h"

#include <stdio.h>
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

/*
 * What one apply_ops may still add, so that the fields and events arrays
 * grow once per entry, not once per added field or event: *_cap is the
 * number of elements the array has room for (at least its count when
 * apply_ops starts, since every array is allocated at least that large),
 * *_left the ops of each kind not yet applied.  It lives for one
 * apply_ops only: nothing outside merge.c knows an array's capacity.
 */
struct room {
	size_t	fields_cap, events_cap;
	size_t	sets_left, events_left;
};

/* The capacity to grow an array holding n (and full) to: room for the
 * left >= 1 ops that may each add one, at most max. */
static size_t
room_want(size_t n, size_t left, size_t max)
{
	size_t want = n + (left > 0 ? left : 1);

	return want < max ? want : max;
}

/* Finds or inserts the field for path, keeping fields sorted (binary
 * search: fields are sorted by path). */
static struct field *
field_get(struct case_state *s, const char *path, struct room *rm)
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
	if (s->nfields >= STATE_MAX_FIELDS)
		return NULL;
	if (s->nfields >= rm->fields_cap) {
		rm->fields_cap = room_want(s->nfields, rm->sets_left,
		    STATE_MAX_FIELDS);
		s->fields = xreallocarray(s->fields, rm->fields_cap,
		    sizeof(*s->fields));
	}
	memmove(&s->fields[lo + 1], &s->fields[lo],
	    (s->nfields - lo) * sizeof(*s->fields));
	memset(&s->fields[lo], 0, sizeof(s->fields[lo]));
	strlcpy_(s->fields[lo].path, path, sizeof(s->fields[lo].path));
	s->nfields++;
	return &s->fields[lo];
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

/* Position of st among the heads of f (which may have none: f->heads is
 * then NULL and must not be dereferenced, not even as &f->heads[0].st). */
static size_t
head_pos(const struct field *f, const struct stamp *st, int *found)
{
	if (f->nheads == 0) {
		*found = 0;
		return 0;
	}
	return stamp_pos(&f->heads[0].st, f->nheads, sizeof(*f->heads), st,
	    found);
}

/*
 * A field is a join of one small record per node (docs/CONFLICTS.md, "Why
 * the order of arrival never matters"):
 * - seen[N]: the highest stamp of node N that some write superseded (its
 *   base or also[]).  Superseding (h, N) supersedes every write of N to
 *   this field stamped h or lower: N's later writes to a field always
 *   supersede its earlier ones, so nothing an honest node wrote is lost.
 * - the head of N: N's highest write to the field, unless seen[N] covers
 *   it.
 * Both are maxima, so the state is a function of the SET of entries, and
 * a field holds at most one head and one seen stamp per node: however
 * many writes a node sends, they never add up to a limit.
 */

/* Index of the seen stamp of node, or nseen. */
static size_t
seen_of(const struct field *f, const char *node)
{
	size_t i;

	for (i = 0; i < f->nseen; i++)
		if (strcmp(f->seen[i].node, node) == 0)
			break;
	return i;
}

/* Does a seen stamp of st's node cover st? */
static int
seen_covers(const struct field *f, const struct stamp *st)
{
	for (size_t i = 0; i < f->nseen; i++)
		if (strcmp(f->seen[i].node, st->node) == 0 &&
		    f->seen[i].hlc >= st->hlc)
			return 1;
	return 0;
}

static void
head_remove(struct field *f, size_t i)
{
	head_release(&f->heads[i]);
	memmove(&f->heads[i], &f->heads[i + 1],
	    (f->nheads - i - 1) * sizeof(*f->heads));
	f->nheads--;
}

/* Records that st, and every write of its node stamped before it, is
 * superseded: seen keeps the highest stamp per node, and the heads it
 * covers go.  (A state written before this rule may hold several stamps
 * or heads of one node: they are folded into one here.) */
static int
supersede(struct field *f, const struct stamp *st)
{
	int	found;
	size_t	i, cap = f->nseen;	/* the array holds at least nseen */

	if (st->hlc == 0)
		return 0;
	if (!seen_covers(f, st)) {
		while ((i = seen_of(f, st->node)) < f->nseen) {
			memmove(&f->seen[i], &f->seen[i + 1],
			    (f->nseen - i - 1) * sizeof(*f->seen));
			f->nseen--;
		}
		if (f->nseen >= STATE_MAX_SEEN)
			return E_TOOBIG;
		i = stamp_pos(f->seen, f->nseen, sizeof(*f->seen), st, &found);
		if (f->nseen >= cap)	/* else a stamp of st's node went */
			f->seen = xreallocarray(f->seen, f->nseen + 1,
			    sizeof(*f->seen));
		memmove(&f->seen[i + 1], &f->seen[i],
		    (f->nseen - i) * sizeof(*f->seen));
		f->seen[i] = *st;
		f->nseen++;
	}
	for (i = 0; i < f->nheads;) {
		if (strcmp(f->heads[i].st.node, st->node) == 0 &&
		    f->heads[i].st.hlc <= st->hlc)
			head_remove(f, i);
		else
			i++;
	}
	return 0;
}

static int
apply_set(struct case_state *s, const struct entry *e, const struct op *o,
    const struct stamp *st, struct room *rm)
{
	struct field	*f;
	size_t		 i, hcap;
	int		 found, rc;

	if (s->erased.hlc != 0 && schema_path_identifying(o->path))
		return 0;
	if ((f = field_get(s, o->path, rm)) == NULL)
		return E_TOOBIG;
	/* The heads array holds at least as many as it has now: when the
	 * new head replaces one that goes below, it fits in place. */
	hcap = f->nheads;
	if ((rc = supersede(f, &o->base)) != 0)
		return rc;
	for (i = 0; i < o->nalso; i++)
		if ((rc = supersede(f, &o->also[i])) != 0)
			return rc;
	if (seen_covers(f, st))
		return 0;	/* a later write already replaced this one */
	for (i = 0; i < f->nheads; i++)
		if (strcmp(f->heads[i].st.node, st->node) == 0 &&
		    f->heads[i].st.hlc >= st->hlc)
			return 0;	/* applied before, or a later one of
					 * the same node is there */
	for (i = 0; i < f->nheads;) {
		if (strcmp(f->heads[i].st.node, st->node) == 0)
			head_remove(f, i);
		else
			i++;
	}
	if (f->nheads >= STATE_MAX_HEADS)
		return E_TOOBIG;
	i = head_pos(f, st, &found);
	if (f->nheads >= hcap)
		f->heads = xreallocarray(f->heads, f->nheads + 1,
		    sizeof(*f->heads));
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
    const struct stamp *st, struct room *rm)
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
	if (s->nevents >= rm->events_cap) {
		rm->events_cap = room_want(s->nevents, rm->events_left,
		    STATE_MAX_EVENTS);
		s->events = xreallocarray(s->events, rm->events_cap,
		    sizeof(*s->events));
	}
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
	struct room	rm;
	int		rc = 0;

	st.hlc = e->hlc;
	strlcpy_(st.node, e->origin, sizeof(st.node));
	rm.fields_cap = s->nfields;
	rm.events_cap = s->nevents;
	rm.sets_left = rm.events_left = 0;
	for (size_t i = 0; i < e->nops; i++) {
		if (e->ops[i].type == OP_SET)
			rm.sets_left++;
		else if (e->ops[i].type == OP_EVENT)
			rm.events_left++;
	}
	for (size_t i = 0; i < e->nops && rc == 0; i++) {
		const struct op *o = &e->ops[i];

		switch (o->type) {
		case OP_SET:
			rc = apply_set(s, e, o, &st, &rm);
			rm.sets_left--;
			break;
		case OP_EVENT:
			rc = apply_event(s, e, o, &st, &rm);
			rm.events_left--;
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

/*
 * Can applying e take s over a hard limit?  Each op adds at most one
 * field, one event, one head to a field and 1 + nalso seen stamps to it,
 * so when even the fullest field and the counts of s have room for all of
 * e's ops, apply_ops cannot fail.  Otherwise (a case near a hard limit:
 * rare) the caller applies to a copy.
 */
static int
may_overflow(const struct case_state *s, const struct entry *e)
{
	size_t k = e->nops, also = 0, heads = 0, seen = 0;

	for (size_t i = 0; i < e->nops; i++) {
		if (e->ops[i].type < OP_SET || e->ops[i].type > OP_ERASE)
			return 1;	/* apply_ops refuses it midway */
		if (e->ops[i].type == OP_SET)
			also += e->ops[i].nalso;
	}
	for (size_t i = 0; i < s->nfields; i++) {
		if (s->fields[i].nheads > heads)
			heads = s->fields[i].nheads;
		if (s->fields[i].nseen > seen)
			seen = s->fields[i].nseen;
	}
	return s->nfields + k > STATE_MAX_FIELDS ||
	    s->nevents + k > STATE_MAX_EVENTS ||
	    heads + k > STATE_MAX_HEADS || seen + k + also > STATE_MAX_SEEN;
}

int
merge_apply(struct case_state *s, const struct entry *e)
{
	struct case_state	tmp;
	int			rc;

	/* In place when no limit can be reached: a copy of the whole
	 * state on every apply cost more than the merge itself. */
	if (!may_overflow(s, e))
		return apply_ops(s, e);
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

void
merge_normalise(struct case_state *s)
{
	for (size_t i = 0; i < s->nfields; i++) {
		struct field	*f = &s->fields[i];
		size_t		 j, k;

		/* Seen: the highest stamp of each node (sorted by stamp, so
		 * a later one of the same node replaces an earlier one). */
		for (j = 0; j < f->nseen;) {
			for (k = j + 1; k < f->nseen; k++)
				if (strcmp(f->seen[k].node,
				    f->seen[j].node) == 0)
					break;
			if (k < f->nseen) {
				memmove(&f->seen[j], &f->seen[j + 1],
				    (f->nseen - j - 1) * sizeof(*f->seen));
				f->nseen--;
			} else
				j++;
		}
		/* Heads: the latest of each node, unless seen covers it. */
		for (j = 0; j < f->nheads;) {
			int drop = seen_covers(f, &f->heads[j].st);

			for (k = j + 1; !drop && k < f->nheads; k++)
				drop = strcmp(f->heads[k].st.node,
				    f->heads[j].st.node) == 0;
			if (drop)
				head_remove(f, j);
			else
				j++;
		}
	}
}

/* Nodes named in the heads and seen stamps of f. */
static size_t
field_nodes(const struct field *f)
{
	size_t n = f->nseen;

	for (size_t i = 0; i < f->nheads; i++) {
		size_t j;

		for (j = 0; j < f->nseen; j++)
			if (strcmp(f->seen[j].node, f->heads[i].st.node) == 0)
				break;
		if (j < f->nseen)
			continue;
		for (j = 0; j < i; j++)
			if (strcmp(f->heads[j].st.node,
			    f->heads[i].st.node) == 0)
				break;
		n += j == i;
	}
	return n;
}

/* An upper bound of the state's encoding at rest: a sealed value takes
 * at most twice its length plus a fixed overhead (state.h). */
static size_t
state_weight(const struct case_state *s)
{
	size_t w = 256;

	for (size_t i = 0; i < s->nfields; i++) {
		const struct field *f = &s->fields[i];

		w += 64 + 48 * f->nseen;
		for (size_t j = 0; j < f->nheads; j++)
			w += 2 * f->heads[j].value_len +
			    strlen(f->heads[j].author) + 160;
	}
	for (size_t i = 0; i < s->nevents; i++)
		w += 2 * s->events[i].value_len +
		    strlen(s->events[i].author) + 256;
	return w;
}

void
merge_note(const struct case_state *before, const struct entry *e,
    struct merge_before *mb)
{
	const struct field *g;

	mb->nfields = before->nfields;
	mb->nevents = before->nevents;
	mb->weight = state_weight(before);
	mb->nops = e->nops;
	for (size_t i = 0; i < e->nops; i++)
		mb->nodes[i] = e->ops[i].type == OP_SET && (g = merge_field(
		    before, e->ops[i].path)) != NULL ? field_nodes(g) :
		    SIZE_MAX;
}

int
merge_check_noted(const struct merge_before *mb, const struct entry *e,
    const struct case_state *after, char *why, size_t whysz)
{
	const struct field	*bad = NULL;
	size_t			 wa, nbad = 0;

	/* Only the fields e writes can name more nodes than before; the
	 * first of them in path order is the one merge_check_soft names. */
	for (size_t i = 0; i < e->nops && i < mb->nops; i++) {
		const struct field	*f;
		size_t			 na;

		if (e->ops[i].type != OP_SET ||
		    (f = merge_field(after, e->ops[i].path)) == NULL)
			continue;
		na = field_nodes(f);
		if (na > MERGE_SOFT_NODES && (mb->nodes[i] == SIZE_MAX ||
		    na > mb->nodes[i]) && (bad == NULL ||
		    strcmp(f->path, bad->path) < 0)) {
			bad = f;
			nbad = na;
		}
	}
	if (bad != NULL) {
		snprintf(why, whysz, "field %s of case %s would name "
		    "%zu nodes, over the limit of %d", bad->path,
		    after->id, nbad, MERGE_SOFT_NODES);
		return E_TOOBIG;
	}
	if (after->nfields > MERGE_SOFT_FIELDS &&
	    after->nfields > mb->nfields) {
		snprintf(why, whysz, "case %s would hold %zu fields, over the "
		    "limit of %d", after->id, after->nfields,
		    MERGE_SOFT_FIELDS);
		return E_TOOBIG;
	}
	if (after->nevents > MERGE_SOFT_EVENTS &&
	    after->nevents > mb->nevents) {
		snprintf(why, whysz, "case %s would hold %zu events, over the "
		    "limit of %d", after->id, after->nevents,
		    MERGE_SOFT_EVENTS);
		return E_TOOBIG;
	}
	wa = state_weight(after);
	if (wa > MERGE_SOFT_BYTES && wa > mb->weight) {
		snprintf(why, whysz, "case %s would take about %zu bytes, over "
		    "the limit of %d", after->id, wa, MERGE_SOFT_BYTES);
		return E_TOOBIG;
	}
	return 0;
}

int
merge_check_soft(const struct case_state *before,
    const struct case_state *after, char *why, size_t whysz)
{
	size_t wa, wb;

	for (size_t i = 0; i < after->nfields; i++) {
		const struct field	*f = &after->fields[i];
		const struct field	*g = merge_field(before, f->path);
		size_t			 na = field_nodes(f);

		if (na > MERGE_SOFT_NODES && (g == NULL ||
		    na > field_nodes(g))) {
			snprintf(why, whysz, "field %s of case %s would name "
			    "%zu nodes, over the limit of %d", f->path,
			    after->id, na, MERGE_SOFT_NODES);
			return E_TOOBIG;
		}
	}
	if (after->nfields > MERGE_SOFT_FIELDS &&
	    after->nfields > before->nfields) {
		snprintf(why, whysz, "case %s would hold %zu fields, over the "
		    "limit of %d", after->id, after->nfields,
		    MERGE_SOFT_FIELDS);
		return E_TOOBIG;
	}
	if (after->nevents > MERGE_SOFT_EVENTS &&
	    after->nevents > before->nevents) {
		snprintf(why, whysz, "case %s would hold %zu events, over the "
		    "limit of %d", after->id, after->nevents,
		    MERGE_SOFT_EVENTS);
		return E_TOOBIG;
	}
	wa = state_weight(after);
	wb = state_weight(before);
	if (wa > MERGE_SOFT_BYTES && wa > wb) {
		snprintf(why, whysz, "case %s would take about %zu bytes, over "
		    "the limit of %d", after->id, wa, MERGE_SOFT_BYTES);
		return E_TOOBIG;
	}
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

#ifdef SELFTEST
#include <stdio.h>

#include "offer.h"

#include "../common/buf.h"
#include "../common/selftest.h"

/*
 * The merge must give the same state for the same SET of entries, whatever
 * the order and however many duplicates (automerge#263 shows that ordinary
 * tests miss order bugs).  Fixed scenarios first, then a property test:
 * random concurrent histories over MT_NODES nodes, each node basing its
 * writes on what it has seen and exchanging random subsets of entries, then
 * the whole set delivered in many random orders with duplicates to fresh
 * states, and every outcome compared byte for byte and with an oracle
 * computed from the entry set alone.
 */

#define MT_CASE		"0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"
#define MT_NODES	4
#define MT_MAX_ENTRIES	120
#define MT_STEPS	90
#define MT_RUNS		160
#define MT_ORDERS	12
#define MT_EVIDS	5

static const char *const mt_names[MT_NODES] = {
	"central", "dien-bien", "ha-noi", "lao-cai"
};
/* The last two are identifying: erase removes them. */
static const char *const mt_paths[] = {
	"status", "person.sex", "person.birth_year", "intake.facility",
	"person.full_name", "person.id_number"
};
#define MT_NPATHS	(sizeof(mt_paths) / sizeof(mt_paths[0]))
static const char *const mt_values[] = {
	"\"a\"", "\"b\"", "\"c\"", "1990", "null"
};
#define MT_NVALUES	(sizeof(mt_values) / sizeof(mt_values[0]))
static const char *const mt_colls[] = { "services", "notes" };

/* splitmix64: deterministic, so that a failing seed can be replayed. */
static uint64_t
mt_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static size_t
mt_below(uint64_t *s, size_t n)
{
	return (size_t)(mt_next(s) % n);
}

static void
mt_stamp(struct stamp *st, uint64_t hlc, const char *node)
{
	memset(st, 0, sizeof(*st));
	st->hlc = hlc;
	strlcpy_(st->node, node, sizeof(st->node));
}

static void
mt_entry(struct entry *e, const char *origin, uint64_t seq, uint64_t hlc)
{
	entry_init(e);
	strlcpy_(e->origin, origin, sizeof(e->origin));
	e->seq = seq;
	e->hlc = hlc;
	snprintf(e->author, sizeof(e->author), "clerk@%s", origin);
	strlcpy_(e->case_id, MT_CASE, sizeof(e->case_id));
}

static struct op *
mt_set(struct entry *e, const char *path, const char *value,
    const struct stamp *base)
{
	struct op *o = entry_add_op(e, OP_SET);

	strlcpy_(o->path, path, sizeof(o->path));
	op_set_value(o, value, strlen(value));
	if (base != NULL)
		o->base = *base;
	return o;
}

static void
mt_event(struct entry *e, const char *coll, const char *id, const char *v)
{
	struct op *o = entry_add_op(e, OP_EVENT);

	strlcpy_(o->path, coll, sizeof(o->path));
	strlcpy_(o->evid, id, sizeof(o->evid));
	op_set_value(o, v, strlen(v));
}

static void
mt_transfer(struct entry *e, const char *to)
{
	struct op *o = entry_add_op(e, OP_TRANSFER);

	strlcpy_(o->to, to, sizeof(o->to));
}

static int
mt_encode(const struct case_state *s, struct buf *b)
{
	buf_reset(b);
	return state_encode(s, b);
}

static int
mt_same_value(const struct head *a, const struct head *b)
{
	return a->value_len == b->value_len &&
	    memcmp(a->value, b->value, a->value_len) == 0;
}

/* The open conflicts of s as text: one line per losing head. */
static void
mt_conflicts(const struct case_state *s, struct buf *b)
{
	buf_reset(b);
	for (size_t i = 0; i < s->nfields; i++) {
		const struct field	*f = &s->fields[i];
		const struct head	*w = merge_winner(f);

		for (size_t j = 0; w != NULL && j + 1 < f->nheads; j++) {
			if (mt_same_value(&f->heads[j], w))
				continue;
			buf_printf(b, "%s %llu %s %.*s\n", f->path,
			    (unsigned long long)f->heads[j].st.hlc,
			    f->heads[j].st.node, (int)f->heads[j].value_len,
			    (const char *)f->heads[j].value);
		}
	}
}

/* The winning value of path as a C string ("" when unset). */
static const char *
mt_value(const struct case_state *s, const char *path)
{
	static char		 v[64];
	const struct field	*f = merge_field(s, path);
	const struct head	*w = f ? merge_winner(f) : NULL;

	v[0] = '\0';
	if (w != NULL)
		snprintf(v, sizeof(v), "%.*s", (int)w->value_len,
		    (const char *)w->value);
	return v;
}

static int
mt_fields_conflicted(const struct case_state *s)
{
	int n = 0;

	for (size_t i = 0; i < s->nfields; i++)
		n += merge_conflicted(&s->fields[i]);
	return n;
}

/*
 * Folds es[0..n) in every order (n <= 5) and checks that all outcomes are
 * byte-identical, also with every entry applied twice.  *out gets the
 * state of the first order (caller releases).
 */
static int
mt_all_orders(const struct entry *es, size_t n, struct case_state *out)
{
	size_t		 perm[5], c[5], i;
	struct buf	 ref, b;
	int		 first = 1, rc = 0;

	ST_CHECK(n >= 1 && n <= 5);
	buf_init(&ref, STATE_ENCODED_MAX);
	buf_init(&b, STATE_ENCODED_MAX);
	for (i = 0; i < n; i++) {
		perm[i] = i;
		c[i] = 0;
	}
	/* Heap's algorithm, iteratively. */
	for (i = 0;;) {
		struct case_state s;

		state_init(&s, MT_CASE);
		for (size_t k = 0; k < n && rc == 0; k++)
			rc = merge_apply(&s, &es[perm[k]]);
		/* Duplicates, in reverse: no-ops. */
		for (size_t k = n; k > 0 && rc == 0; k--)
			rc = merge_apply(&s, &es[perm[k - 1]]);
		if (rc == 0 && first) {
			rc = mt_encode(&s, &ref);
			state_copy(out, &s);
			first = 0;
		} else if (rc == 0) {
			rc = mt_encode(&s, &b);
			if (rc == 0 && (b.len != ref.len ||
			    memcmp(b.data, ref.data, b.len) != 0))
				rc = -1;
		}
		state_release(&s);
		if (rc != 0)
			break;
		while (i < n && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= n)
			break;
		{
			size_t j = (i % 2 == 0) ? 0 : c[i], t = perm[j];
			perm[j] = perm[i];
			perm[i] = t;
		}
		c[i]++;
		i = 0;
	}
	buf_release(&ref);
	buf_release(&b);
	if (rc != 0 && !first)
		state_release(out);
	ST_OK(rc);
	return 0;
}

static void
mt_release_all(struct entry *es, size_t n)
{
	for (size_t i = 0; i < n; i++)
		entry_release(&es[i]);
}

/* Different fields edited concurrently: both kept, no conflict. */
static int
mt_different_fields(void)
{
	struct entry		es[3];
	struct case_state	s;
	struct stamp		b0;

	mt_entry(&es[0], "central", 1, 100);
	mt_set(&es[0], "status", "\"reported\"", NULL);
	mt_set(&es[0], "person.sex", "\"female\"", NULL);
	mt_transfer(&es[0], "lao-cai");
	mt_stamp(&b0, 100, "central");
	mt_entry(&es[1], "lao-cai", 1, 200);
	mt_set(&es[1], "status", "\"identified\"", &b0);
	mt_entry(&es[2], "central", 2, 200);
	mt_set(&es[2], "person.sex", "\"male\"", &b0);
	ST_OK(mt_all_orders(es, 3, &s));
	ST_CHECK(mt_fields_conflicted(&s) == 0);
	ST_CHECK(strcmp(mt_value(&s, "status"), "\"identified\"") == 0);
	ST_CHECK(strcmp(mt_value(&s, "person.sex"), "\"male\"") == 0);
	ST_CHECK(strcmp(s.owner, "lao-cai") == 0);
	state_release(&s);
	mt_release_all(es, 3);
	return 0;
}

/* Services added concurrently on two nodes: both kept. */
static int
mt_concurrent_events(void)
{
	struct entry		es[3];
	struct case_state	s;

	mt_entry(&es[0], "lao-cai", 1, 100);
	mt_set(&es[0], "status", "\"reported\"", NULL);
	mt_entry(&es[1], "lao-cai", 2, 200);
	mt_event(&es[1], "services", "s-a",
	    "{\"type\":\"medical\",\"on\":\"2025-07-01\"}");
	mt_entry(&es[2], "central", 1, 200);
	mt_event(&es[2], "services", "s-b",
	    "{\"type\":\"legal_aid\",\"on\":\"2025-07-02\"}");
	ST_OK(mt_all_orders(es, 3, &s));
	ST_CHECK(s.nevents == 2);
	ST_CHECK(strcmp(s.events[0].id, "s-a") == 0 &&
	    strcmp(s.events[1].id, "s-b") == 0);
	state_release(&s);
	mt_release_all(es, 3);
	return 0;
}

/*
 * The same field edited concurrently: the highest stamp wins (a tie on
 * the HLC goes to the greater node id), the loser is kept; a resolution
 * whose base and also[] name both closes the conflict in every order.
 */
static int
mt_same_field(void)
{
	struct entry		es[4];
	struct case_state	s;
	struct stamp		b0, sw, sl;
	const struct field	*f;
	struct op		*o;

	mt_entry(&es[0], "central", 1, 100);
	mt_set(&es[0], "status", "\"reported\"", NULL);
	mt_stamp(&b0, 100, "central");
	mt_entry(&es[1], "lao-cai", 1, 200);
	mt_set(&es[1], "status", "\"identified\"", &b0);
	mt_entry(&es[2], "ha-noi", 1, 200);
	mt_set(&es[2], "status", "\"not_victim\"", &b0);
	ST_OK(mt_all_orders(es, 3, &s));
	ST_CHECK((f = merge_field(&s, "status")) != NULL);
	ST_CHECK(f->nheads == 2 && merge_conflicted(f));
	ST_CHECK(strcmp(merge_winner(f)->st.node, "lao-cai") == 0);
	ST_CHECK(strcmp(mt_value(&s, "status"), "\"identified\"") == 0);
	ST_CHECK(strcmp(merge_winner(f)->author, "clerk@lao-cai") == 0);
	state_release(&s);

	/* Keep the loser's value. */
	mt_stamp(&sw, 200, "lao-cai");
	mt_stamp(&sl, 200, "ha-noi");
	mt_entry(&es[3], "central", 2, 300);
	o = mt_set(&es[3], "status", "\"not_victim\"", &sw);
	*op_also_add(o) = sl;
	ST_OK(mt_all_orders(es, 4, &s));
	ST_CHECK((f = merge_field(&s, "status")) != NULL);
	ST_CHECK(f->nheads == 1 && !merge_conflicted(f));
	ST_CHECK(strcmp(mt_value(&s, "status"), "\"not_victim\"") == 0);
	state_release(&s);

	/* A write that names only the winner leaves the conflict. */
	es[3].ops[0].nalso = 0;
	op_set_value(&es[3].ops[0], "\"closed\"", 8);
	ST_OK(mt_all_orders(es, 4, &s));
	ST_CHECK(mt_fields_conflicted(&s) == 1);
	state_release(&s);
	mt_release_all(es, 4);
	return 0;
}

/*
 * Two nodes set the same value concurrently: no conflict.  A later edit
 * that supersedes only the winner would leave the other head, with the
 * old value, as a spurious conflict; the store therefore names the heads
 * that hold the winner's value in also[] (own.c, local writes).
 */
static int
mt_same_value_heads(void)
{
	struct entry		es[4];
	struct case_state	s;
	struct stamp		b0, sw, so;
	struct op		*o;

	mt_entry(&es[0], "lao-cai", 1, 100);
	mt_set(&es[0], "status", "\"reported\"", NULL);
	mt_stamp(&b0, 100, "lao-cai");
	mt_entry(&es[1], "lao-cai", 2, 200);
	mt_set(&es[1], "status", "\"identified\"", &b0);
	mt_entry(&es[2], "central", 1, 200);
	mt_set(&es[2], "status", "\"identified\"", &b0);
	ST_OK(mt_all_orders(es, 3, &s));
	ST_CHECK(mt_fields_conflicted(&s) == 0);
	ST_CHECK(merge_field(&s, "status")->nheads == 2);
	state_release(&s);
	mt_stamp(&sw, 200, "lao-cai");
	mt_stamp(&so, 200, "central");
	mt_entry(&es[3], "lao-cai", 3, 300);
	o = mt_set(&es[3], "status", "\"closed\"", &sw);
	ST_OK(mt_all_orders(es, 4, &s));
	ST_CHECK(mt_fields_conflicted(&s) == 1);
	state_release(&s);
	*op_also_add(o) = so;
	ST_OK(mt_all_orders(es, 4, &s));
	ST_CHECK(mt_fields_conflicted(&s) == 0);
	ST_CHECK(strcmp(mt_value(&s, "status"), "\"closed\"") == 0);
	state_release(&s);
	mt_release_all(es, 4);
	return 0;
}

/*
 * Erase: identifying fields and notes go, statistics fields stay, and no
 * identifying write, older or newer, late or replayed, brings them back.
 */
static int
mt_erase(void)
{
	struct entry		es[5];
	struct case_state	s;
	struct stamp		b0;

	mt_entry(&es[0], "lao-cai", 1, 100);
	mt_set(&es[0], "person.full_name", "\"FAKE Name\"", NULL);
	mt_set(&es[0], "person.sex", "\"female\"", NULL);
	mt_event(&es[0], "notes", "n-1", "{\"text\":\"FAKE note\"}");
	mt_event(&es[0], "services", "s-1",
	    "{\"type\":\"medical\",\"on\":\"2025-07-01\"}");
	mt_transfer(&es[0], "lao-cai");
	mt_stamp(&b0, 100, "lao-cai");
	mt_entry(&es[1], "central", 1, 300);
	entry_add_op(&es[1], OP_ERASE);
	/* Older than the erase, arriving late. */
	mt_entry(&es[2], "lao-cai", 2, 200);
	mt_set(&es[2], "person.full_name", "\"FAKE Other\"", &b0);
	mt_set(&es[2], "person.id_number", "\"FAKE123\"", NULL);
	/* Newer, from a node that had not heard of the erase. */
	mt_entry(&es[3], "ha-noi", 1, 400);
	mt_set(&es[3], "person.phone", "\"FAKE 0900\"", NULL);
	mt_event(&es[3], "notes", "n-2", "{\"text\":\"FAKE later\"}");
	mt_set(&es[3], "person.birth_year", "1990", NULL);
	ST_OK(mt_all_orders(es, 4, &s));
	ST_CHECK(s.erased.hlc == 300 && strcmp(s.erased.node, "central") == 0);
	for (size_t i = 0; i < s.nfields; i++)
		ST_CHECK(!schema_path_identifying(s.fields[i].path));
	ST_CHECK(s.nevents == 1 && strcmp(s.events[0].coll, "services") == 0);
	ST_CHECK(strcmp(mt_value(&s, "person.sex"), "\"female\"") == 0);
	ST_CHECK(strcmp(mt_value(&s, "person.birth_year"), "1990") == 0);
	ST_CHECK(strcmp(s.owner, "lao-cai") == 0);
	state_release(&s);
	mt_release_all(es, 4);
	return 0;
}

/* The owner is the last writer among transfers, in any order. */
static int
mt_transfers(void)
{
	struct entry		es[3];
	struct case_state	s;

	mt_entry(&es[0], "lao-cai", 1, 100);
	mt_transfer(&es[0], "lao-cai");
	mt_entry(&es[1], "lao-cai", 2, 300);
	mt_transfer(&es[1], "ha-noi");
	mt_entry(&es[2], "central", 1, 300);
	mt_transfer(&es[2], "dien-bien");
	ST_OK(mt_all_orders(es, 3, &s));
	/* A tie on the HLC: lao-cai's transfer beats central's. */
	ST_CHECK(strcmp(s.owner, "ha-noi") == 0);
	ST_CHECK(s.owner_st.hlc == 300 &&
	    strcmp(s.owner_st.node, "lao-cai") == 0);
	state_release(&s);
	mt_release_all(es, 3);
	return 0;
}

/* Folds es[0..n) in order[] into *s. */
static int
mt_fold(const struct entry *es, const size_t *order, size_t n,
    struct case_state *s)
{
	state_init(s, MT_CASE);
	for (size_t i = 0; i < n; i++)
		ST_OK(merge_apply(s, &es[order[i]]));
	return 0;
}

/*
 * Issue 18, finding 1: nghe-an writes status twice and refers the case to
 * lao-cai, which sends 70 concurrent writes of status, each based on
 * nghe-an's second write, and refers it back.  Folded in origin-name
 * order (lao-cai first), nghe-an's first write used to become a 65th
 * head and fail the whole batch.  Every order now gives the same state,
 * with one head per node.
 */
#define MT_FLOOD	70
static int
mt_flood(void)
{
	struct entry		*es = xcalloc(MT_FLOOD + 4, sizeof(*es));
	size_t			 n = 0, order[MT_FLOOD + 4];
	struct case_state	 s, t;
	struct buf		 a, b;
	struct stamp		 b1, b2;
	uint64_t		 rng = 18;

	mt_entry(&es[n], "nghe-an", 1, 100);
	mt_set(&es[n], "status", "\"reported\"", NULL);
	mt_transfer(&es[n++], "nghe-an");
	mt_stamp(&b1, 100, "nghe-an");
	mt_entry(&es[n], "nghe-an", 2, 110);
	mt_set(&es[n++], "status", "\"identified\"", &b1);
	mt_entry(&es[n], "nghe-an", 3, 120);
	mt_transfer(&es[n++], "lao-cai");
	mt_stamp(&b2, 110, "nghe-an");
	for (size_t i = 0; i < MT_FLOOD; i++) {
		mt_entry(&es[n], "lao-cai", 1 + i, 200 + i);
		mt_set(&es[n++], "status", i % 2 ? "\"a\"" : "\"b\"", &b2);
	}
	mt_entry(&es[n], "lao-cai", MT_FLOOD + 1, 400);
	mt_transfer(&es[n++], "nghe-an");
	buf_init(&a, STATE_ENCODED_MAX);
	buf_init(&b, STATE_ENCODED_MAX);
	/* Central's order (as written), then origin-name order. */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	ST_OK(mt_fold(es, order, n, &s));
	ST_OK(mt_encode(&s, &a));
	ST_CHECK(merge_field(&s, "status")->nheads == 1);
	ST_CHECK(merge_field(&s, "status")->nseen == 1);
	ST_CHECK(strcmp(s.owner, "nghe-an") == 0);
	for (size_t i = 0; i < n; i++)
		order[i] = (i + 3) % n;
	ST_OK(mt_fold(es, order, n, &t));
	ST_OK(mt_encode(&t, &b));
	ST_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	state_release(&t);
	for (int k = 0; k < 40; k++) {
		for (size_t i = n; i > 1; i--) {
			size_t j = mt_below(&rng, i), x = order[i - 1];
			order[i - 1] = order[j];
			order[j] = x;
		}
		ST_OK(mt_fold(es, order, n, &t));
		ST_OK(mt_encode(&t, &b));
		ST_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		state_release(&t);
	}
	state_release(&s);
	buf_release(&a);
	buf_release(&b);
	mt_release_all(es, n);
	free(es);
	return 0;
}

/* 10,000 edits of one field, in order and in reverse: no limit reached
 * (STATE_MAX_SEEN used to block the case after 4,096). */
static int
mt_many_edits(void)
{
	struct case_state	s, t;
	struct entry		e;
	struct stamp		base;
	struct buf		a, b;

	state_init(&s, MT_CASE);
	state_init(&t, MT_CASE);
	for (uint64_t i = 1; i <= 10000; i++) {
		mt_entry(&e, i % 2 ? "lao-cai" : "central", i, 100 + i);
		mt_stamp(&base, 99 + i, i % 2 ? "central" : "lao-cai");
		mt_set(&e, "status", i % 3 ? "\"a\"" : "\"b\"",
		    i > 1 ? &base : NULL);
		ST_OK(merge_apply(&s, &e));
		entry_release(&e);
	}
	for (uint64_t i = 10000; i >= 1; i--) {
		mt_entry(&e, i % 2 ? "lao-cai" : "central", i, 100 + i);
		mt_stamp(&base, 99 + i, i % 2 ? "central" : "lao-cai");
		mt_set(&e, "status", i % 3 ? "\"a\"" : "\"b\"",
		    i > 1 ? &base : NULL);
		ST_OK(merge_apply(&t, &e));
		entry_release(&e);
	}
	buf_init(&a, STATE_ENCODED_MAX);
	buf_init(&b, STATE_ENCODED_MAX);
	ST_OK(mt_encode(&s, &a));
	ST_OK(mt_encode(&t, &b));
	ST_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	ST_CHECK(merge_field(&s, "status")->nheads == 1 &&
	    merge_field(&s, "status")->nseen == 2);
	state_release(&s);
	state_release(&t);
	buf_release(&a);
	buf_release(&b);
	return 0;
}

/* merge_check_soft(before, after), and merge_check_noted gives the same
 * answer and reason. */
static int
mt_check_soft(const struct case_state *before, const struct entry *e,
    const struct case_state *after, char *why, size_t whysz)
{
	struct merge_before	mb;
	struct case_state	s;
	char			w2[160];
	int			rc, rc2;

	rc = merge_check_soft(before, after, why, whysz);
	state_copy(&s, before);
	merge_note(&s, e, &mb);
	ST_OK(merge_apply(&s, e));
	w2[0] = '\0';
	rc2 = merge_check_noted(&mb, e, &s, w2, sizeof(w2));
	state_release(&s);
	ST_CHECK(rc == rc2);
	ST_CHECK(rc == 0 || strcmp(why, w2) == 0);
	return rc;
}

/* The soft limits refuse growth past them, never a shrink or an erase. */
static int
mt_soft(void)
{
	struct case_state	s, t;
	struct entry		e;
	char			why[160], node[16];

	state_init(&s, MT_CASE);
	for (int i = 0; i < MERGE_SOFT_NODES; i++) {
		snprintf(node, sizeof(node), "n-%d", i);
		mt_entry(&e, node, 1, 100 + (uint64_t)i);
		mt_set(&e, "status", "\"a\"", NULL);
		state_copy(&t, &s);
		ST_OK(merge_apply(&t, &e));
		ST_OK(mt_check_soft(&s, &e, &t, why, sizeof(why)));
		state_release(&s);
		s = t;
		entry_release(&e);
	}
	mt_entry(&e, "z-late", 1, 900);
	mt_set(&e, "status", "\"b\"", NULL);
	state_copy(&t, &s);
	ST_OK(merge_apply(&t, &e));
	ST_CHECK(mt_check_soft(&s, &e, &t, why, sizeof(why)) == E_TOOBIG);
	ST_CHECK(strstr(why, "status") != NULL);
	state_release(&t);
	entry_release(&e);
	/* A node already named may write again; an erase applies. */
	mt_entry(&e, "n-3", 2, 950);
	mt_set(&e, "status", "\"c\"", NULL);
	entry_add_op(&e, OP_ERASE);
	state_copy(&t, &s);
	ST_OK(merge_apply(&t, &e));
	ST_OK(mt_check_soft(&s, &e, &t, why, sizeof(why)));
	state_release(&t);
	entry_release(&e);
	state_release(&s);
	return 0;
}

/* At a hard limit the entry is refused and the state left as it was;
 * below it, an entry applies in place or on a copy alike. */
static int
mt_hard(void)
{
	struct case_state	s;
	struct entry		e;
	struct buf		a, b;
	char			path[16];

	buf_init(&a, STATE_ENCODED_MAX);
	buf_init(&b, STATE_ENCODED_MAX);
	state_init(&s, MT_CASE);
	for (int i = 0; i < STATE_MAX_FIELDS; i++) {
		snprintf(path, sizeof(path), "f%03d", i);
		mt_entry(&e, "n-a", (uint64_t)i + 1, 100 + (uint64_t)i);
		mt_set(&e, path, "\"a\"", NULL);
		ST_OK(merge_apply(&s, &e));
		entry_release(&e);
	}
	ST_CHECK(s.nfields == STATE_MAX_FIELDS);
	/* Two ops, the second over the limit: the first is undone too. */
	mt_entry(&e, "n-b", 1, 900);
	mt_set(&e, "f000", "\"b\"", NULL);
	mt_set(&e, "g000", "\"b\"", NULL);
	ST_OK(mt_encode(&s, &a));
	ST_CHECK(merge_apply(&s, &e) == E_TOOBIG);
	ST_OK(mt_encode(&s, &b));
	ST_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	entry_release(&e);
	/* A field that exists still takes a write (on a copy). */
	mt_entry(&e, "n-b", 1, 900);
	mt_set(&e, "f000", "\"b\"", NULL);
	ST_OK(merge_apply(&s, &e));
	ST_CHECK(merge_field(&s, "f000")->nheads == 2);
	entry_release(&e);
	state_release(&s);
	buf_release(&a);
	buf_release(&b);
	return 0;
}

/* A state in the form written before one head and one seen stamp per
 * node: merge_normalise gives what a fold gives now. */
static int
mt_normalise(void)
{
	struct case_state	 s;
	struct field		*f;
	struct room		 rm = { 0, 0, 1, 0 };
	static const struct {
		uint64_t	 hlc;
		const char	*node;
	} seen[] = { { 5, "a" }, { 6, "b" }, { 7, "a" } },
	    heads[] = { { 6, "b" }, { 8, "a" }, { 9, "a" }, { 10, "c" } };

	state_init(&s, MT_CASE);
	ST_CHECK((f = field_get(&s, "status", &rm)) != NULL);
	f->seen = xcalloc(3, sizeof(*f->seen));
	f->heads = xcalloc(4, sizeof(*f->heads));
	for (size_t i = 0; i < 3; i++)
		mt_stamp(&f->seen[f->nseen++], seen[i].hlc, seen[i].node);
	for (size_t i = 0; i < 4; i++) {
		mt_stamp(&f->heads[i].st, heads[i].hlc, heads[i].node);
		f->heads[i].value = (uint8_t *)xstrndup("\"a\"", 3);
		f->heads[i].value_len = 3;
		f->nheads++;
	}
	merge_normalise(&s);
	ST_CHECK(f->nseen == 2 && f->seen[0].hlc == 6 && f->seen[1].hlc == 7);
	ST_CHECK(f->nheads == 2 && f->heads[0].st.hlc == 9 &&
	    f->heads[1].st.hlc == 10);
	state_release(&s);
	return 0;
}

/* ---- property test ------------------------------------------------- */

struct mt_node {
	struct case_state	 s;
	uint64_t		 clock;		/* highest HLC issued or seen */
	uint64_t		 seq;
	unsigned char		 known[MT_MAX_ENTRIES];
};

struct mt_world {
	uint64_t	 rng;
	uint64_t	 wall;		/* a shared, coarse wall clock */
	struct entry	 es[MT_MAX_ENTRIES];
	size_t		 n;
	struct mt_node	 nd[MT_NODES];
	struct buf	 a, b;
};

/* Delivers entry i to node k; a duplicate must leave the state as is. */
static int
mt_deliver(struct mt_world *w, size_t k, size_t i)
{
	struct mt_node	*nd = &w->nd[k];

	if (nd->known[i]) {
		ST_OK(mt_encode(&nd->s, &w->a));
		ST_OK(merge_apply(&nd->s, &w->es[i]));
		ST_OK(mt_encode(&nd->s, &w->b));
		ST_CHECK(w->a.len == w->b.len &&
		    memcmp(w->a.data, w->b.data, w->a.len) == 0);
		return 0;
	}
	ST_OK(merge_apply(&nd->s, &w->es[i]));
	nd->known[i] = 1;
	if (w->es[i].hlc > nd->clock)
		nd->clock = w->es[i].hlc;
	return 0;
}

/* A SET of path at node nd, based on what nd has seen, as the store would
 * write it (base: the winner; also: heads with the winner's value), or
 * now and then with no base or a stale one. */
static void
mt_gen_set(struct mt_world *w, struct mt_node *nd, struct entry *e,
    const char *path)
{
	const struct field	*f = merge_field(&nd->s, path);
	const struct head	*win = f ? merge_winner(f) : NULL;
	struct op		*o;
	size_t			 r = mt_below(&w->rng, 12);

	o = mt_set(e, path, mt_values[mt_below(&w->rng, MT_NVALUES)], NULL);
	if (r == 0 || win == NULL)
		return;
	if (r == 1 && f->nseen > 0) {
		o->base = f->seen[mt_below(&w->rng, f->nseen)];
		return;
	}
	if (r == 2) {
		/* What a hostile node may send: a base naming any node at
		 * any stamp, past or future, held by nobody. */
		mt_stamp(&o->base, 1 + mt_below(&w->rng, w->wall + 40),
		    mt_names[mt_below(&w->rng, MT_NODES)]);
		return;
	}
	o->base = win->st;
	for (size_t i = 0; i + 1 < f->nheads && o->nalso < ENTRY_MAX_ALSO;
	    i++)
		if (mt_same_value(&f->heads[i], win))
			*op_also_add(o) = f->heads[i].st;
}

/* A resolution of a conflicted field of nd: base the winner, also[] some
 * or all losers, value the winner's, a loser's or a new one.  Returns 0
 * when nd has no conflicted field outside used[]. */
static int
mt_gen_resolution(struct mt_world *w, struct mt_node *nd, struct entry *e,
    unsigned *used)
{
	for (size_t p = 0; p < MT_NPATHS; p++) {
		const struct field	*f = merge_field(&nd->s, mt_paths[p]);
		const struct head	*win, *pick;
		struct op		*o;
		size_t			 r;

		if ((*used & (1u << p)) || f == NULL || !merge_conflicted(f))
			continue;
		win = merge_winner(f);
		r = mt_below(&w->rng, 3);
		pick = r == 0 ? win : &f->heads[mt_below(&w->rng,
		    f->nheads - 1)];
		if (r == 2) {
			o = mt_set(e, mt_paths[p],
			    mt_values[mt_below(&w->rng, MT_NVALUES)], &win->st);
		} else {
			o = entry_add_op(e, OP_SET);
			strlcpy_(o->path, mt_paths[p], sizeof(o->path));
			op_set_value(o, (const char *)pick->value,
			    pick->value_len);
			o->base = win->st;
		}
		for (size_t i = 0; i + 1 < f->nheads &&
		    o->nalso < ENTRY_MAX_ALSO; i++)
			if (mt_below(&w->rng, 4) != 0)
				*op_also_add(o) = f->heads[i].st;
		*used |= 1u << p;
		return 1;
	}
	return 0;
}

/* An offer of the case from its owner (as nd sees it; now and then from
 * another node) to a random node, or an answer of node k to an offer nd
 * holds (an accept with the transfer to k, or a decline with its
 * reason), or to one it does not hold. */
static void
mt_gen_offer(struct mt_world *w, struct mt_node *nd, struct entry *e,
    size_t k)
{
	const char	*ids[MT_MAX_ENTRIES];
	size_t		 nids = 0, r = mt_below(&w->rng, 3);
	char		 id[16], v[160];

	for (size_t i = 0; i < nd->s.nevents; i++)
		if (strcmp(nd->s.events[i].coll, "referrals") == 0 &&
		    nids < MT_MAX_ENTRIES)
			ids[nids++] = nd->s.events[i].id;
	if (r == 0 || nids == 0) {
		snprintf(id, sizeof(id), "of-%zu", w->n);
		snprintf(v, sizeof(v), "{\"from\":\"%s\",\"to\":\"%s\","
		    "\"on\":\"2026-12-01\",\"status\":\"proposed\"}",
		    nd->s.owner[0] && mt_below(&w->rng, 4) ? nd->s.owner :
		    mt_names[mt_below(&w->rng, MT_NODES)],
		    mt_names[mt_below(&w->rng, MT_NODES)]);
		mt_event(e, "referrals", id, v);
		return;
	}
	if (mt_below(&w->rng, 6) == 0)
		snprintf(id, sizeof(id), "of-%zu", (size_t)mt_below(&w->rng,
		    w->n + 1));
	else
		snprintf(id, sizeof(id), "%s", ids[mt_below(&w->rng, nids)]);
	if (r == 1) {
		mt_event(e, "referral_answers", id,
		    "{\"on\":\"2026-12-02\",\"status\":\"accepted\"}");
		mt_transfer(e, mt_names[k]);
	} else {
		mt_event(e, "referral_answers", id,
		    "{\"on\":\"2026-12-02\",\"status\":\"rejected\"}");
		mt_event(e, "decline_reasons", id, "{\"text\":\"no place\"}");
	}
}

/* Node k writes one entry of 1 to 3 ops and applies it. */
static int
mt_write(struct mt_world *w, size_t k)
{
	struct mt_node	*nd = &w->nd[k];
	struct entry	*e = &w->es[w->n];
	uint64_t	 hlc = HLC_MAKE(w->wall, 0);
	size_t		 nops = 1 + mt_below(&w->rng, 3);
	unsigned	 used = 0, evused = 0;
	int		 transfer = 0, erase = 0;
	char		 id[16], v[48];

	if (hlc <= nd->clock)
		hlc = nd->clock + 1;
	nd->clock = hlc;
	mt_entry(e, mt_names[k], ++nd->seq, hlc);
	snprintf(e->author, sizeof(e->author), "clerk %llu@%s",
	    (unsigned long long)(mt_next(&w->rng) % 3), mt_names[k]);
	for (size_t i = 0; i < nops; i++) {
		size_t kind = mt_below(&w->rng, 40);

		/* Offers and their answers (offer.h), valid or not: the
		 * pending offer must be a function of the set too. */
		if (mt_below(&w->rng, 8) == 0) {
			if (!transfer++)
				mt_gen_offer(w, nd, e, k);
			continue;
		}
		if (kind < 20) {
			size_t p = mt_below(&w->rng, MT_NPATHS);
			if (used & (1u << p))
				continue;
			used |= 1u << p;
			mt_gen_set(w, nd, e, mt_paths[p]);
		} else if (kind < 26) {
			mt_gen_resolution(w, nd, e, &used);
		} else if (kind < 34) {
			size_t c = mt_below(&w->rng, 2);
			size_t x = mt_below(&w->rng, MT_EVIDS);
			if (evused & (1u << (c * MT_EVIDS + x)))
				continue;
			evused |= 1u << (c * MT_EVIDS + x);
			snprintf(id, sizeof(id), "ev-%zu", x);
			snprintf(v, sizeof(v), "{\"n\":%llu}",
			    (unsigned long long)(mt_next(&w->rng) % 1000));
			mt_event(e, mt_colls[c], id, v);
		} else if (kind < 39) {
			if (transfer++)
				continue;
			mt_transfer(e, mt_names[mt_below(&w->rng, MT_NODES)]);
		} else {
			/* Rare: most histories have no erase at all. */
			struct op *o;

			if (erase++ || mt_below(&w->rng, 5) != 0)
				continue;
			/* Half carry a writer's view (entry.h): the merge
			 * reads none of it. */
			if ((o = entry_add_op(e, OP_ERASE)) != NULL &&
			    mt_below(&w->rng, 2) == 0) {
				o->base.hlc = 1 + mt_below(&w->rng, 1000);
				strlcpy_(o->base.node,
				    mt_names[mt_below(&w->rng, MT_NODES)],
				    sizeof(o->base.node));
			}
		}
	}
	if (e->nops == 0)
		mt_transfer(e, mt_names[k]);
	w->n++;
	return mt_deliver(w, k, w->n - 1);
}

/* Node i sends node j a random subset of what it holds, in random order,
 * duplicates included. */
static int
mt_exchange(struct mt_world *w, size_t i, size_t j)
{
	size_t	order[MT_MAX_ENTRIES];

	for (size_t x = 0; x < w->n; x++)
		order[x] = x;
	for (size_t x = w->n; x > 1; x--) {	/* Fisher-Yates */
		size_t y = mt_below(&w->rng, x), t = order[x - 1];
		order[x - 1] = order[y];
		order[y] = t;
	}
	for (size_t x = 0; x < w->n; x++)
		if (w->nd[i].known[order[x]] && mt_below(&w->rng, 2) == 0)
			ST_OK(mt_deliver(w, j, order[x]));
	return 0;
}

/* Is the write st of path dead in the entry set?  Some SET of path names
 * a stamp of st's node at or after st in its base or also[], or st's node
 * wrote path again later. */
static int
mt_superseded(const struct mt_world *w, const char *path,
    const struct stamp *st)
{
	for (size_t i = 0; i < w->n; i++)
		for (size_t k = 0; k < w->es[i].nops; k++) {
			const struct op *o = &w->es[i].ops[k];

			if (o->type != OP_SET || strcmp(o->path, path) != 0)
				continue;
			if (strcmp(w->es[i].origin, st->node) == 0 &&
			    w->es[i].hlc > st->hlc)
				return 1;
			if (o->base.hlc >= st->hlc &&
			    strcmp(o->base.node, st->node) == 0)
				return 1;
			for (size_t a = 0; a < o->nalso; a++)
				if (o->also[a].hlc >= st->hlc &&
				    strcmp(o->also[a].node, st->node) == 0)
					return 1;
		}
	return 0;
}

/* Checks s against the outcome computed from the entry set alone. */
static int
mt_oracle(const struct mt_world *w, const struct case_state *s)
{
	struct stamp	erased, owner_st, st;
	const char	*owner = "";
	size_t		nfields = 0, nevents = 0;

	memset(&erased, 0, sizeof(erased));
	memset(&owner_st, 0, sizeof(owner_st));
	for (size_t i = 0; i < w->n; i++) {
		mt_stamp(&st, w->es[i].hlc, w->es[i].origin);
		for (size_t k = 0; k < w->es[i].nops; k++) {
			const struct op *o = &w->es[i].ops[k];

			if (o->type == OP_ERASE && stamp_cmp(&st, &erased) > 0)
				erased = st;
			if (o->type == OP_TRANSFER &&
			    stamp_cmp(&st, &owner_st) > 0) {
				owner_st = st;
				owner = o->to;
			}
		}
	}
	ST_CHECK(stamp_cmp(&s->erased, &erased) == 0);
	ST_CHECK(stamp_cmp(&s->owner_st, &owner_st) == 0);
	ST_CHECK(strcmp(s->owner, owner) == 0);

	/* Fields: heads = the SETs that no SET of the path superseded. */
	for (size_t p = 0; p < MT_NPATHS; p++) {
		const struct field	*f = merge_field(s, mt_paths[p]);
		size_t			 nh = 0;
		int			 any = 0;

		if (erased.hlc != 0 && schema_path_identifying(mt_paths[p])) {
			ST_CHECK(f == NULL);
			continue;
		}
		for (size_t i = 0; i < w->n; i++) {
			mt_stamp(&st, w->es[i].hlc, w->es[i].origin);
			for (size_t k = 0; k < w->es[i].nops; k++) {
				const struct op	*o = &w->es[i].ops[k];
				int		 found = 0;

				if (o->type != OP_SET ||
				    strcmp(o->path, mt_paths[p]) != 0)
					continue;
				any = 1;
				if (mt_superseded(w, mt_paths[p], &st))
					continue;
				nh++;
				ST_CHECK(f != NULL);
				for (size_t h = 0; h < f->nheads; h++) {
					if (stamp_cmp(&f->heads[h].st, &st))
						continue;
					ST_CHECK(f->heads[h].value_len ==
					    o->value_len && memcmp(
					    f->heads[h].value, o->value,
					    o->value_len) == 0);
					ST_CHECK(strcmp(f->heads[h].author,
					    w->es[i].author) == 0);
					found = 1;
				}
				ST_CHECK(found);
			}
		}
		ST_CHECK(any == (f != NULL));
		if (f != NULL) {
			ST_CHECK(f->nheads == nh && nh > 0);
			nfields++;
		}
	}
	ST_CHECK(s->nfields == nfields);

	/* Events: per (collection, id), the op with the highest stamp. */
	for (size_t c = 0; c < 2; c++) {
		for (size_t x = 0; x < MT_EVIDS; x++) {
			const struct op	*best = NULL;
			struct stamp	 bst;
			char		 id[16];
			const struct event *ev = NULL;

			snprintf(id, sizeof(id), "ev-%zu", x);
			memset(&bst, 0, sizeof(bst));
			for (size_t i = 0; i < w->n; i++) {
				mt_stamp(&st, w->es[i].hlc, w->es[i].origin);
				for (size_t k = 0; k < w->es[i].nops; k++) {
					const struct op *o = &w->es[i].ops[k];
					if (o->type == OP_EVENT &&
					    strcmp(o->path, mt_colls[c]) == 0 &&
					    strcmp(o->evid, id) == 0 &&
					    stamp_cmp(&st, &bst) > 0) {
						best = o;
						bst = st;
					}
				}
			}
			for (size_t i = 0; i < s->nevents; i++)
				if (strcmp(s->events[i].coll, mt_colls[c]) ==
				    0 && strcmp(s->events[i].id, id) == 0)
					ev = &s->events[i];
			if (best == NULL || (erased.hlc != 0 &&
			    schema_coll_identifying(mt_colls[c]))) {
				ST_CHECK(ev == NULL);
				continue;
			}
			ST_CHECK(ev != NULL && stamp_cmp(&ev->st, &bst) == 0);
			ST_CHECK(ev->value_len == best->value_len &&
			    memcmp(ev->value, best->value,
			    best->value_len) == 0);
			nevents++;
		}
	}
	/* Offers: every (collection, id) once; the pending one is the
	 * latest proposed referral, stamped after the last transfer, from
	 * the owner, to another node, without an answer (offer.h). */
	{
		static const char *const oc[] = { "referrals",
		    "referral_answers", "decline_reasons" };
		struct offer	 o;
		const char	*best_id = NULL, *best_from = NULL;
		const char	*best_to = NULL;
		struct stamp	 best;
		int		 pending = 0;

		memset(&best, 0, sizeof(best));
		for (size_t c = 0; c < 3; c++) {
			if (erased.hlc != 0 && schema_coll_identifying(oc[c]))
				continue;
			for (size_t i = 0; i < w->n; i++)
				for (size_t k = 0; k < w->es[i].nops; k++) {
					const struct op *op = &w->es[i].ops[k];
					int dup = 0;

					if (op->type != OP_EVENT ||
					    strcmp(op->path, oc[c]) != 0)
						continue;
					for (size_t j = 0; j < i && !dup; j++)
						for (size_t m = 0; m <
						    w->es[j].nops; m++)
							dup |= w->es[j].ops[m]
							    .type == OP_EVENT &&
							    !strcmp(w->es[j]
							    .ops[m].path,
							    oc[c]) && !strcmp(
							    w->es[j].ops[m]
							    .evid, op->evid);
					nevents += !dup;
					mt_stamp(&st, w->es[i].hlc,
					    w->es[i].origin);
					if (c == 0 && stamp_cmp(&st, &best) >
					    0) {
						best = st;
						best_id = op->evid;
						best_from = strstr(op->value,
						    "\"from\":\"") + 8;
						best_to = strstr(op->value,
						    "\"to\":\"") + 6;
					}
				}
		}
		if (best_id != NULL && stamp_cmp(&best, &owner_st) > 0 &&
		    strncmp(best_from, owner, strlen(owner)) == 0 &&
		    best_from[strlen(owner)] == '"' &&
		    !(strncmp(best_to, owner, strlen(owner)) == 0 &&
		    best_to[strlen(owner)] == '"')) {
			pending = 1;
			for (size_t i = 0; i < w->n; i++)
				for (size_t k = 0; k < w->es[i].nops; k++)
					if (w->es[i].ops[k].type == OP_EVENT &&
					    !strcmp(w->es[i].ops[k].path,
					    "referral_answers") &&
					    !strcmp(w->es[i].ops[k].evid,
					    best_id))
						pending = 0;
		}
		ST_CHECK(offer_pending(s, &o) == pending);
		if (pending)
			ST_CHECK(strcmp(o.id, best_id) == 0);
	}
	ST_CHECK(s->nevents == nevents);
	return 0;
}

static int
mt_run(uint64_t seed, size_t *nconf, size_t *nerase, size_t *npend)
{
	struct mt_world	*w = xcalloc(1, sizeof(*w));
	struct buf	 ref, conf, cb;
	size_t		 order[3 * MT_MAX_ENTRIES];
	int		 rc = 1;

	w->rng = seed;
	w->wall = 1000;
	buf_init(&w->a, STATE_ENCODED_MAX);
	buf_init(&w->b, STATE_ENCODED_MAX);
	buf_init(&ref, STATE_ENCODED_MAX);
	buf_init(&conf, 1 << 20);
	buf_init(&cb, 1 << 20);
	for (size_t k = 0; k < MT_NODES; k++)
		state_init(&w->nd[k].s, MT_CASE);

	/* Concurrent histories: writes and partial exchanges. */
	for (size_t step = 0; step < MT_STEPS; step++) {
		size_t r = mt_below(&w->rng, 10);

		w->wall += mt_below(&w->rng, 3);	/* 0: HLC ties */
		if (r < 6 && w->n < MT_MAX_ENTRIES) {
			if (mt_write(w, mt_below(&w->rng, MT_NODES)) != 0)
				goto out;
		} else {
			size_t i = mt_below(&w->rng, MT_NODES);
			size_t j = (i + 1 + mt_below(&w->rng, MT_NODES - 1)) %
			    MT_NODES;
			if (mt_exchange(w, i, j) != 0)
				goto out;
		}
	}
	for (size_t i = 0; i < w->n; i++)
		for (size_t k = 0; k < w->es[i].nops; k++)
			if (w->es[i].ops[k].type == OP_ERASE) {
				(*nerase)++;
				i = w->n - 1;
				break;
			}

	/* Everyone gets everything: the replicas are byte-identical. */
	for (size_t k = 0; k < MT_NODES; k++)
		for (size_t i = 0; i < w->n; i++)
			if (!w->nd[k].known[i] && mt_deliver(w, k, i) != 0)
				goto out;
	if (mt_encode(&w->nd[0].s, &ref) != 0)
		goto out;
	mt_conflicts(&w->nd[0].s, &conf);
	if (conf.len > 0)
		(*nconf)++;
	for (size_t k = 1; k < MT_NODES; k++) {
		if (mt_encode(&w->nd[k].s, &w->a) != 0 || w->a.len != ref.len ||
		    memcmp(w->a.data, ref.data, ref.len) != 0) {
			fprintf(stderr, "  replica %s differs\n", mt_names[k]);
			goto out;
		}
	}
	if (mt_oracle(w, &w->nd[0].s) != 0)
		goto out;
	{
		struct offer o;

		*npend += (size_t)offer_pending(&w->nd[0].s, &o);
	}
	/* The encoding round-trips. */
	{
		struct case_state d;
		if (state_decode(ref.data, ref.len, &d) != 0)
			goto out;
		rc = mt_encode(&d, &w->a);
		state_release(&d);
		if (rc != 0 || w->a.len != ref.len ||
		    memcmp(w->a.data, ref.data, ref.len) != 0) {
			rc = 1;
			goto out;
		}
		rc = 1;
	}

	/* The whole set in random orders with duplicates, to fresh states. */
	for (size_t o = 0; o < MT_ORDERS; o++) {
		struct case_state	s;
		size_t			n = 0;
		int			bad = 0;

		for (size_t i = 0; i < w->n; i++) {
			size_t copies = 1 + (mt_below(&w->rng, 4) == 0) +
			    (mt_below(&w->rng, 8) == 0);
			while (copies-- > 0)
				order[n++] = i;
		}
		for (size_t i = n; i > 1; i--) {	/* Fisher-Yates */
			size_t j = mt_below(&w->rng, i), t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		state_init(&s, MT_CASE);
		for (size_t i = 0; i < n && !bad; i++)
			bad = merge_apply(&s, &w->es[order[i]]) != 0;
		if (!bad)
			bad = mt_encode(&s, &w->a) != 0 ||
			    w->a.len != ref.len ||
			    memcmp(w->a.data, ref.data, ref.len) != 0;
		if (!bad) {
			mt_conflicts(&s, &cb);
			bad = cb.len != conf.len ||
			    memcmp(cb.data, conf.data, conf.len) != 0;
		}
		state_release(&s);
		if (bad) {
			fprintf(stderr, "  order %zu differs\n", o);
			goto out;
		}
	}
	/* Prefixes of the history (sets that existed), folded in random
	 * orders, against the oracle: the pending offer among them. */
	for (size_t t = 0; t < MT_ORDERS; t++) {
		struct case_state	s;
		struct offer		o;
		size_t			p = 1 + mt_below(&w->rng, w->n);
		size_t			full = w->n;
		int			bad = 0;

		for (size_t i = 0; i < p; i++)
			order[i] = i;
		for (size_t i = p; i > 1; i--) {	/* Fisher-Yates */
			size_t j = mt_below(&w->rng, i), x = order[i - 1];
			order[i - 1] = order[j];
			order[j] = x;
		}
		state_init(&s, MT_CASE);
		for (size_t i = 0; i < p && !bad; i++)
			bad = merge_apply(&s, &w->es[order[i]]) != 0;
		w->n = p;
		if (!bad)
			bad = mt_oracle(w, &s) != 0;
		w->n = full;
		*npend += (size_t)offer_pending(&s, &o);
		state_release(&s);
		if (bad) {
			fprintf(stderr, "  prefix %zu differs\n", p);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "  merge property test failed: seed %llu, "
		    "%zu entries\n", (unsigned long long)seed, w->n);
	for (size_t k = 0; k < MT_NODES; k++)
		state_release(&w->nd[k].s);
	mt_release_all(w->es, w->n);
	buf_release(&w->a);
	buf_release(&w->b);
	buf_release(&ref);
	buf_release(&conf);
	buf_release(&cb);
	free(w);
	return rc;
}

int
merge_selftest(void)
{
	size_t nconf = 0, nerase = 0, npend = 0;

	ST_OK(mt_different_fields());
	ST_OK(mt_concurrent_events());
	ST_OK(mt_same_field());
	ST_OK(mt_same_value_heads());
	ST_OK(mt_erase());
	ST_OK(mt_transfers());
	ST_OK(mt_flood());
	ST_OK(mt_many_edits());
	ST_OK(mt_soft());
	ST_OK(mt_hard());
	ST_OK(mt_normalise());
	for (uint64_t seed = 1; seed <= MT_RUNS; seed++)
		ST_OK(mt_run(seed, &nconf, &nerase, &npend));
	/* The generator must reach the interesting cases. */
	ST_CHECK(nconf > MT_RUNS / 4);
	ST_CHECK(npend > MT_RUNS / 2);
	ST_CHECK(nerase > MT_RUNS / 10 && nerase < MT_RUNS / 2);
	return 0;
}
#endif

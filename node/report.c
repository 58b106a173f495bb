/*
 * report.c - counting cases into tables, small-cell suppression, and the
 * text, CSV, JSON and HTML renderings.  docs/REPORTS.md is the user's
 * description; this comment is the engineer's.
 *
 * Counting.  A case is in the selection when its intake.received_on lies
 * in the period (undated cases only when no period is given) and, with a
 * province asked for, when that province owns it.  Referrals are counted
 * over the cases in the period whatever their owner, because a referred
 * case is owned by the receiving province afterwards.
 *
 * Suppression (min_cell K).  Every published count from 1 to K-1 is a
 * primary cell, shown "<K".  The counts are grouped in grids whose
 * published linear relations a reader can use:
 *   - a 1-D table with the total N of the selection (province, category,
 *     destination, source, status): one line, cells sum to N;
 *   - sex x age band with its margins, which are the sex and age band
 *     tables, and N: every row and column sums to its margin;
 *   - purpose x sex with its row margins, the purpose table (a case counts
 *     under each of its purposes, so no column or grand total exists);
 *   - support: with a service + without a service = identified victims;
 *   - tables with no relation at all (persons per service type, referrals,
 *     undated cases): "free" grids.
 * Every count belongs to exactly one grid and N is never hidden, so grids
 * are independent.  The reader is assumed to know every shown number, that
 * "<K" is a count from 1 to K-1, that "x" in a table that also shows "<K"
 * cells is a count of K or more (zeros are always shown), and that a table
 * of nothing but "x" is any count of 0 or more.
 *
 * A primary cell p is protected when an alternative table exists that
 * agrees with everything published and differs in p by one.  The engine
 * looks for such alternatives among unit moves along a cycle of hidden
 * cells: a pair of cells in one line (+1, -1), or a rectangle of four
 * cells in a grid with both row and column lines (+1, -1, -1, +1).  When a
 * primary has none, the cheapest cycle through it (least total value of
 * the shown cells it must hide, then fewest cells) is hidden as "x"
 * (complementary suppression).  When no cycle can protect it (e.g. a line
 * holding only 1 and K), the whole grid is withheld: every cell "x".  Each
 * "x" stands for a real secondary cell, so a cell found protected stays
 * protected as more cells are hidden; the loop ends because the hidden set
 * only grows.  Since every primary then has an exhibited alternative,
 * no published figure, total or margin determines it.
 */
#include "offer.h"
#include "report.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provinces.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define KEY_MAX		40	/* one dimension value: enum, code, node id */
#define VALS_MAX	1024	/* distinct values of one dimension */
#define XMAX		16	/* values of a cross-table dimension */
#define CASE_TYPES_MAX	64	/* distinct service types in one case */
#define APPEND_MAX	(64 * 1024)	/* longest single append when rendering */
#define CYCLE_MAX	8	/* cells: pairs, rectangles, 6- and 8-cycles */
#define FULL_MAX	(XMAX + 1)	/* rows or columns of a G_FULL grid */
#define INF		UINT64_MAX
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define UNKNOWN		"unknown"

enum mark {
	M_SHOWN,
	M_PRIMARY,	/* 1..K-1, shown "<K" */
	M_SECONDARY,	/* K or more, hidden to protect a primary: "x" */
	M_WITHHELD,	/* its whole grid is withheld: "x" */
};

struct rcell {
	uint64_t	n;
	int		mark;
};

/* One value of a dimension, with the service measures (D_SERVICE only). */
struct rval {
	char		key[KEY_MAX];
	int		order;		/* sort key before the text of key */
	struct rcell	c;
	uint64_t	events, vnd, days;
};

struct rdim {
	const char	*name;
	struct rval	*v;
	size_t		 n, cap, max;
};

enum {
	D_PROVINCE, D_CATEGORY, D_SEX, D_AGE, D_PURPOSE, D_DEST, D_SOURCE,
	D_STATUS, D_SERVICE, D_REFOUT, D_REFIN, D_REFPEND, D__N
};

enum { X_SEX_AGE, X_PURPOSE_SEX, X__N };

/* Age bands at reception: the report's own grouping of birth years. */
static const char *const v_age[] = {
	"0-11", "12-15", "16-17", "18-29", "30-44", "45+", UNKNOWN, NULL
};
/* Statuses that make a victim an identified victim (docs/REPORTS.md). */
static const char *const v_identified[] = {
	"identified", "receiving_support", "reintegration_followup", "closed",
	NULL
};

/*
 * The dimensions.  Enumerated ones take their values, order and labels
 * from the schema (one home for the case model), with "unknown" last for
 * a case that has no value.
 */
struct dimdef {
	const char		*name;
	int			 senum;	/* enum schema_enum, or -1 */
	const char *const	*vals;	/* the report's own values */
	int			 unknown; /* "unknown" after the values */
	size_t			 max;
	int			 multi;	/* a case may count under several */
	int			 total;	/* published with the total N */
};

static const struct dimdef dimdefs[D__N] = {
	{ "province", -1, NULL, 0, VALS_MAX, 0, 1 },
	{ "category", SCHEMA_ENUM_CATEGORY, NULL, 1, VALS_MAX, 0, 1 },
	{ "sex", SCHEMA_ENUM_SEX, NULL, 1, XMAX, 0, 1 },
	{ "age_band", -1, v_age, 0, XMAX, 0, 1 },
	{ "purpose", SCHEMA_ENUM_PURPOSE, NULL, 1, XMAX, 1, 0 },
	{ "destination", -1, NULL, 0, VALS_MAX, 0, 1 },
	{ "source", SCHEMA_ENUM_SOURCE, NULL, 1, VALS_MAX, 0, 1 },
	{ "status", SCHEMA_ENUM_STATUS, NULL, 1, VALS_MAX, 0, 1 },
	{ "service", SCHEMA_ENUM_SERVICE, NULL, 0, VALS_MAX, 1, 0 },
	{ "referral_out", -1, NULL, 0, VALS_MAX, 1, 0 },
	{ "referral_in", -1, NULL, 0, VALS_MAX, 1, 0 },
	{ "referral_pending", -1, NULL, 0, VALS_MAX, 1, 0 },
};

/* Labels of the values that are not the schema's (msgids). */
static const char *const own_labels[][2] = {
	{ UNKNOWN, N_("unknown") },
	{ "central", N_("central node") },
	{ "VN", N_("VN (within Vietnam)") },
};

struct report {
	struct report_opts	 o;
	struct rdim		 d[D__N];
	struct rcell		 x[X__N][XMAX][XMAX];
	struct rcell		 ncell;		/* N, the selection */
	struct rcell		 undated;	/* see report_add */
	struct rcell		 sup[3];	/* with, without, identified */
	uint64_t		 vnd_total, days_total;
	int			 measures_hidden; /* a service type is */
	int			 withheld;	/* N from 1 to K-1 */
	int			 saturated;	/* a sum hit UINT64_MAX */
	uint64_t		 duplicates;	/* cases left out: linked to
						 * the earlier case of the
						 * same person */
	int			 finished;
};

enum { S_WITH, S_WITHOUT, S_IDENT };

static int	 has_period(const struct report *);
static void	 html_services(const struct report *, struct buf *);

/* ---------------------------------------------------------------- */
/* Dimensions */

static size_t
dim_add_value(struct rdim *d, const char *key)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	memset(&d->v[d->n], 0, sizeof(d->v[d->n]));
	strlcpy_(d->v[d->n].key, key, sizeof(d->v[d->n].key));
	return d->n++;
}

static int
dim_has(const struct rdim *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].key, key) == 0)
			return 1;
	return 0;
}

/*
 * The index of key in d, added when new.  Past the dimension's limit (not
 * reachable with the schema's enumerations) a new value counts as
 * "unknown", which every capped dimension holds.
 */
static size_t
dim_slot(struct rdim *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].key, key) == 0)
			return i;
	if (d->n >= d->max) {
		for (size_t i = 0; i < d->n; i++)
			if (strcmp(d->v[i].key, UNKNOWN) == 0)
				return i;
		return d->n - 1;
	}
	return dim_add_value(d, key);
}

/* Counts one under key (dim_slot may move the values: take the slot
 * first). */
static size_t
dim_bump(struct rdim *d, const char *key)
{
	size_t	slot = dim_slot(d, key);

	d->v[slot].c.n++;
	return slot;
}

static int
province_order(const char *key)
{
	for (int i = 0; i < provinces_count(); i++)
		if (strcmp(provinces_get(i)->node, key) == 0)
			return i;
	return strcmp(key, UNKNOWN) == 0 ? 2000 : 1000;
}

static int
val_cmp(const void *a, const void *b)
{
	const struct rval	*x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Orders the open dimensions: provinces by code, then other nodes, then
 * "unknown"; countries by code, "unknown" last. */
static void
dim_sort(struct rdim *d, int provinces)
{
	for (size_t i = 0; i < d->n; i++)
		d->v[i].order = provinces ? province_order(d->v[i].key) :
		    strcmp(d->v[i].key, UNKNOWN) == 0 ? 1 : 0;
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), val_cmp);
}

static const char *tr(const struct report *, const char *)
		    __attribute__((format_arg(2)));

/* The translation of msgid into the report's language.  Borrowed. */
static const char *
tr(const struct report *r, const char *msgid)
{
	return i18n_tr(r->o.lang, msgid);
}

/* The label of a value in the report's language: a province's name, the
 * schema's label of an enumeration value, or the key itself. */
static const char *
label_of(const struct report *r, int dim, const char *key, char *buf,
    size_t sz)
{
	const struct province	*p;
	const char		*l;

	if ((dim == D_PROVINCE || dim == D_REFOUT || dim == D_REFIN ||
	    dim == D_REFPEND) && (p = province_find(key)) != NULL) {
		snprintf(buf, sz, "%s", p->name);
		return buf;
	}
	if (dimdefs[dim].senum >= 0 && (l = schema_enum_label(
	    (enum schema_enum)dimdefs[dim].senum, key)) != NULL)
		return tr(r, l);
	for (size_t i = 0; i < NELEM(own_labels); i++)
		if (strcmp(own_labels[i][0], key) == 0)
			return tr(r, own_labels[i][1]);
	snprintf(buf, sz, "%s", key);
	for (char *c = buf; *c != '\0'; c++)
		if (*c == '_')
			*c = ' ';
	return buf;
}

/* ---------------------------------------------------------------- */
/* Creating and counting */

struct report *
report_new(const struct report_opts *o)
{
	struct report	*r = xcalloc(1, sizeof(*r));

	r->o = *o;
	if (r->o.min_cell < 1)
		r->o.min_cell = 1;
	for (int i = 0; i < D__N; i++) {
		struct rdim *d = &r->d[i];

		const struct dimdef *dd = &dimdefs[i];
		const char *const *v = dd->senum >= 0 ?
		    schema_enum_values((enum schema_enum)dd->senum) : dd->vals;

		d->name = dd->name;
		d->max = dd->max;
		for (size_t j = 0; v != NULL && v[j] != NULL; j++)
			dim_add_value(d, v[j]);
		if (dd->unknown && !dim_has(d, UNKNOWN))
			dim_add_value(d, UNKNOWN);
		/* The cross-tables index their cells by value. */
		assert(d->n <= d->max);
	}
	/* Every province is listed, with its zero, in a national report. */
	if (r->o.province[0] == '\0') {
		for (int i = 0; i < provinces_count(); i++)
			dim_add_value(&r->d[D_PROVINCE],
			    provinces_get(i)->node);
	} else
		dim_add_value(&r->d[D_PROVINCE], r->o.province);
	dim_add_value(&r->d[D_DEST], UNKNOWN);
	return r;
}

void
report_free(struct report **rp)
{
	if (rp == NULL || *rp == NULL)
		return;
	for (int i = 0; i < D__N; i++)
		free((*rp)->d[i].v);
	free(*rp);
	*rp = NULL;
}

uint64_t
report_ncases(const struct report *r)
{
	return r->ncell.n;
}

static void
add_sat(struct report *r, uint64_t *sum, uint64_t v)
{
	if (*sum > INF - v) {
		*sum = INF;
		r->saturated = 1;
	} else
		*sum += v;
}

/*
 * The winning value of a non-identifying string field (schema_get_str)
 * copied into buf; returns 1 when there is one that fits.  Identifying
 * paths are refused here, so no caller can read one by mistake.
 */
static int
field_str(const struct case_state *s, const char *path, char *buf,
    size_t sz)
{
	if (schema_path_identifying(path))
		return 0;
	return schema_get_str(s, path, buf, sz);
}

static int
in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

static const char *
age_band(const struct case_state *s, const char *received)
{
	int64_t	by = -1;
	long	ry, age;

	if (!schema_get_int(s, "person.birth_year", &by))
		by = -1;
	if (by < 0 || received == NULL)
		return UNKNOWN;
	ry = (received[0] - '0') * 1000L + (received[1] - '0') * 100L +
	    (received[2] - '0') * 10L + (received[3] - '0');
	age = ry - by;
	if (age < 0)
		return UNKNOWN;
	if (age <= 11)
		return "0-11";
	if (age <= 15)
		return "12-15";
	if (age <= 17)
		return "16-17";
	if (age <= 29)
		return "18-29";
	if (age <= 44)
		return "30-44";
	return "45+";
}

/* A member of an event, a non-negative integer (0 when absent). */
static uint64_t
member_u64(const struct event *e, const char *name)
{
	int64_t v;

	if (!schema_event_int(e, name, &v) || v < 0)
		return 0;
	return (uint64_t)v;
}

/* Did referral event e move case s: completed at once, or an offer that
 * was accepted? */
static int
moved(const struct case_state *s, const struct event *e)
{
	char st[KEY_MAX];

	if (schema_event_str(e, "status", st, sizeof(st)) &&
	    strcmp(st, "proposed") == 0)
		return offer_answer(s, e->id, NULL) == OFFER_ACCEPTED;
	return 1;
}

/*
 * Referrals of a case in the period.  Nationally: out by sending
 * province, in by receiving province.  For one province P: out = the
 * referrals from P by receiving province, in = those to P by sending
 * province.  Every referral that moved the case counts once: one
 * completed at once, or an offer accepted (offer.h).  The offer that
 * waits for an answer counts apart, in pending: nationally by receiving
 * province, for P by the other province.  Declined and withdrawn offers
 * count nowhere.
 */
static void
count_referrals(struct report *r, const struct case_state *s)
{
	const char	*p = r->o.province;
	struct offer	 pend;
	int		 has_pend = offer_pending(s, &pend);

	for (size_t i = 0; i < s->nevents; i++) {
		const struct event	*e = &s->events[i];
		char			 fb[KEY_MAX], tb[KEY_MAX];
		const char		*from, *to;

		if (strcmp(e->coll, "referrals") != 0)
			continue;
		from = schema_event_str(e, "from", fb, sizeof(fb)) ? fb : NULL;
		to = schema_event_str(e, "to", tb, sizeof(tb)) ? tb : NULL;
		if (from != NULL && to != NULL && has_pend &&
		    strcmp(e->id, pend.id) == 0) {
			if (p[0] == '\0')
				dim_bump(&r->d[D_REFPEND], to);
			else if (strcmp(from, p) == 0)
				dim_bump(&r->d[D_REFPEND], to);
			else if (strcmp(to, p) == 0)
				dim_bump(&r->d[D_REFPEND], from);
		} else if (from != NULL && to != NULL && !moved(s, e))
			;
		else if (from != NULL && to != NULL) {
			if (p[0] == '\0') {
				dim_bump(&r->d[D_REFOUT], from);
				dim_bump(&r->d[D_REFIN], to);
			} else {
				if (strcmp(from, p) == 0)
					dim_bump(&r->d[D_REFOUT], to);
				if (strcmp(to, p) == 0)
					dim_bump(&r->d[D_REFIN], from);
			}
		}
	}
}

/* Services of a case: persons, events, VND and days per type.  Returns
 * whether the case received at least one service. */
static int
count_services(struct report *r, const struct case_state *s)
{
	struct rdim	*d = &r->d[D_SERVICE];
	size_t		 seen[CASE_TYPES_MAX], nseen = 0;
	int		 any = 0;

	for (size_t i = 0; i < s->nevents; i++) {
		const struct event	*e = &s->events[i];
		char			 type[KEY_MAX];
		struct rval		*rv;
		size_t			 slot, j;

		if (strcmp(e->coll, "services") != 0 ||
		    !schema_event_str(e, "type", type, sizeof(type)))
			continue;
		slot = dim_slot(d, type);
		rv = &d->v[slot];
		any = 1;
		rv->events++;
		add_sat(r, &rv->vnd, member_u64(e, "amount_vnd"));
		add_sat(r, &rv->days, member_u64(e, "days"));
		for (j = 0; j < nseen && seen[j] != slot; j++)
			;
		if (j == nseen && nseen < CASE_TYPES_MAX) {
			seen[nseen++] = slot;
			rv->c.n++;
		}
	}
	return any;
}

static int
has_period(const struct report *r)
{
	return r->o.from[0] != '\0' || r->o.to[0] != '\0';
}

int
report_add(struct report *r, const struct case_state *s)
{
	char		 recv[16], cat[KEY_MAX], sex[KEY_MAX], buf[KEY_MAX];
	const char	*age, *owner;
	int		 dated, in, mine, any, np = 0;
	size_t		 xs, xa;
	uint32_t	 purposes;

	dated = field_str(s, "intake.received_on", recv, sizeof(recv)) &&
	    strlen(recv) == REPORT_DATE_LEN;
	if (has_period(r))
		in = dated &&
		    (r->o.from[0] == '\0' || strcmp(recv, r->o.from) >= 0) &&
		    (r->o.to[0] == '\0' || strcmp(recv, r->o.to) <= 0);
	else
		in = 1;
	/* A second case of a person already recorded (person.duplicate_of,
	 * dupes.h): the earlier case counts the person, once; in a cycle of
	 * links (made concurrently on two nodes) the one the hook picks. */
	if (field_str(s, "person.duplicate_of", buf, sizeof(buf)) &&
	    strcmp(buf, s->id) != 0 && (r->o.counts_person == NULL ||
	    !r->o.counts_person(r->o.counts_arg, s))) {
		r->duplicates++;
		return 0;
	}
	owner = s->owner[0] != '\0' ? s->owner : UNKNOWN;
	mine = r->o.province[0] == '\0' || strcmp(owner, r->o.province) == 0;
	if (!dated && mine)
		r->undated.n++;		/* included or left out, see docs */
	if (!in)
		return 0;
	count_referrals(r, s);
	if (!mine)
		return 0;

	r->ncell.n++;
	dim_bump(&r->d[D_PROVINCE], owner);
	if (!field_str(s, "person.category", cat, sizeof(cat)))
		strlcpy_(cat, UNKNOWN, sizeof(cat));
	dim_bump(&r->d[D_CATEGORY], cat);
	if (!field_str(s, "person.sex", sex, sizeof(sex)))
		strlcpy_(sex, UNKNOWN, sizeof(sex));
	xs = dim_slot(&r->d[D_SEX], sex);
	r->d[D_SEX].v[xs].c.n++;
	age = age_band(s, dated ? recv : NULL);
	xa = dim_slot(&r->d[D_AGE], age);
	r->d[D_AGE].v[xa].c.n++;
	r->x[X_SEX_AGE][xs][xa].n++;

	/* Each of the case's purposes (a set: each value once). */
	purposes = schema_get_set(s, "trafficking.purposes");
	for (size_t k = 0; purposes != 0 && k < 32; k++) {
		const char *const	*pvals;
		size_t			 xp;

		if (!(purposes & (UINT32_C(1) << k)))
			continue;
		pvals = schema_enum_values(SCHEMA_ENUM_PURPOSE);
		xp = dim_slot(&r->d[D_PURPOSE], pvals[k]);
		r->d[D_PURPOSE].v[xp].c.n++;
		r->x[X_PURPOSE_SEX][xp][xs].n++;
		np++;
	}
	if (np == 0) {
		size_t xp = dim_slot(&r->d[D_PURPOSE], UNKNOWN);

		r->d[D_PURPOSE].v[xp].c.n++;
		r->x[X_PURPOSE_SEX][xp][xs].n++;
	}

	if (!field_str(s, "trafficking.destination_country", buf,
	    sizeof(buf)))
		strlcpy_(buf, UNKNOWN, sizeof(buf));
	dim_bump(&r->d[D_DEST], buf);
	if (!field_str(s, "intake.source", buf, sizeof(buf)))
		strlcpy_(buf, UNKNOWN, sizeof(buf));
	dim_bump(&r->d[D_SOURCE], buf);
	if (!field_str(s, "status", buf, sizeof(buf)))
		strlcpy_(buf, UNKNOWN, sizeof(buf));
	dim_bump(&r->d[D_STATUS], buf);

	any = count_services(r, s);
	if (strcmp(cat, "victim") == 0 && in_list(v_identified, buf)) {
		r->sup[S_IDENT].n++;
		r->sup[any ? S_WITH : S_WITHOUT].n++;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Suppression */

enum gkind {
	G_FREE,		/* no published relation between the cells */
	G_ROWS,		/* each row sums to its margin (last column) */
	G_FULL,		/* rows and columns sum to margins; corner fixed */
};

struct grid {
	enum gkind	 kind;
	size_t		 nr, nc;	/* margins included */
	struct rcell	**c;		/* nr * nc; NULL: no cell */
	unsigned char	*fixed;		/* a published constant (N) */
};

static void
grid_init(struct grid *g, enum gkind kind, size_t nr, size_t nc)
{
	assert(kind != G_FULL || (nr <= FULL_MAX && nc <= FULL_MAX));
	g->kind = kind;
	g->nr = nr;
	g->nc = nc;
	g->c = xcalloc(nr * nc, sizeof(*g->c));
	g->fixed = xcalloc(nr * nc, 1);
}

static void
grid_release(struct grid *g)
{
	free(g->c);
	free(g->fixed);
	memset(g, 0, sizeof(*g));
}

static void
grid_set(struct grid *g, size_t i, size_t j, struct rcell *c, int fixed)
{
	g->c[i * g->nc + j] = c;
	g->fixed[i * g->nc + j] = (unsigned char)fixed;
}

/*
 * The sign that turns a cell into the balanced form in which every line
 * sums to zero: margins count negatively, the corner positively.
 */
static int
grid_sign(const struct grid *g, size_t i, size_t j)
{
	int mr = 0, mc = 0;

	if (g->kind == G_FULL)
		mr = i == g->nr - 1;
	if (g->kind != G_FREE)
		mc = j == g->nc - 1;
	return mr ^ mc ? -1 : 1;
}

/*
 * Can cell (i, j) move by dx (+1 or -1) in an alternative table?  A shown
 * cell can only if it is not zero and may become a secondary ("x", K or
 * more); its value is added to *cost and it is counted in *nnew.
 */
static int
can_move(const struct grid *g, size_t i, size_t j, int dx, unsigned k,
    uint64_t *cost, size_t *nnew)
{
	size_t		 at = i * g->nc + j;
	struct rcell	*c = g->c[at];
	uint64_t	 lo, hi;

	if (c == NULL || g->fixed[at])
		return 0;
	switch (c->mark) {
	case M_SHOWN:
		if (c->n == 0)
			return 0;
		lo = k;
		hi = INF;
		*cost = *cost > INF - c->n ? INF : *cost + c->n;
		(*nnew)++;
		break;
	case M_PRIMARY:
		lo = 1;
		hi = k - 1;
		break;
	case M_SECONDARY:
		lo = k;
		hi = INF;
		break;
	default:
		lo = 0;
		hi = INF;
		break;
	}
	if (c->n < lo || c->n > hi)
		return 0;
	if (dx < 0)
		return c->n > lo;
	return c->n < hi;
}

/* A cycle of cells and the move of each, in balanced form. */
struct cycle {
	size_t	i[CYCLE_MAX], j[CYCLE_MAX];
	int	dy[CYCLE_MAX];
	size_t	n;
};

/* The search for the cheapest cycle through one primary cell. */
struct search {
	const struct grid	*g;
	unsigned		 k;
	struct cycle		 cy;		/* being built */
	uint64_t		 cost[CYCLE_MAX + 1];	/* after n cells */
	size_t			 nnew[CYCLE_MAX + 1];
	unsigned char		 rowu[FULL_MAX], colu[FULL_MAX];
	struct cycle		 best;
	uint64_t		 bcost;
	size_t			 bnew;
	int			 found;
};

/* Appends cell (i, j) with move dy to the cycle when it can move so.
 * Returns 0 when it cannot, or when the cycle can no longer beat the
 * best one found. */
static int
cycle_push(struct search *x, size_t i, size_t j, int dy)
{
	struct cycle	*cy = &x->cy;
	uint64_t	 cost = x->cost[cy->n];
	size_t		 nnew = x->nnew[cy->n];

	if (cy->n == CYCLE_MAX ||
	    !can_move(x->g, i, j, dy * grid_sign(x->g, i, j), x->k, &cost,
	    &nnew))
		return 0;
	if (x->found && (cost > x->bcost ||
	    (cost == x->bcost && nnew >= x->bnew)))
		return 0;
	cy->i[cy->n] = i;
	cy->j[cy->n] = j;
	cy->dy[cy->n] = dy;
	cy->n++;
	x->cost[cy->n] = cost;
	x->nnew[cy->n] = nnew;
	return 1;
}

/* The cycle is closed: keep it if it is the best so far. */
static void
cycle_keep(struct search *x)
{
	x->best = x->cy;
	x->bcost = x->cost[x->cy.n];
	x->bnew = x->nnew[x->cy.n];
	x->found = 1;
}

/*
 * Extends the cycle of a G_FULL grid, whose last cell was reached by a
 * move along a column to row r: close it along row r back to the first
 * cell's column, or go on along row r to a new column and then along
 * that column to a new row.  Rows and columns are used once each.
 */
static void
cycle_dfs(struct search *x, size_t r)
{
	const struct grid	*g = x->g;
	struct cycle		*cy = &x->cy;
	int			 sg = cy->dy[cy->n - 1];

	if (cy->n >= 3 && cycle_push(x, r, cy->j[0], -sg)) {
		cycle_keep(x);
		cy->n--;
	}
	if (cy->n + 3 > CYCLE_MAX)
		return;
	for (size_t l = 0; l < g->nc; l++) {
		if (x->colu[l] || !cycle_push(x, r, l, -sg))
			continue;
		x->colu[l] = 1;
		for (size_t m = 0; m < g->nr; m++) {
			if (x->rowu[m] || !cycle_push(x, m, l, sg))
				continue;
			x->rowu[m] = 1;
			cycle_dfs(x, m);
			x->rowu[m] = 0;
			cy->n--;
		}
		x->colu[l] = 0;
		cy->n--;
	}
}

/*
 * The cheapest cycle that protects the primary at (i, j): least total
 * value of the shown cells it hides, then fewest of them.  0 if none.
 */
static int
best_cycle(const struct grid *g, size_t i, size_t j, unsigned k,
    struct cycle *best, size_t *bnew)
{
	struct search	*x = xcalloc(1, sizeof(*x));
	int		 found;

	x->g = g;
	x->k = k;
	for (int s = 1; s >= -1; s -= 2) {
		x->cy.n = 0;
		if (!cycle_push(x, i, j, s))
			continue;
		switch (g->kind) {
		case G_FREE:
			cycle_keep(x);
			break;
		case G_ROWS:
			for (size_t l = 0; l < g->nc; l++) {
				if (l != j && cycle_push(x, i, l, -s)) {
					cycle_keep(x);
					x->cy.n--;
				}
			}
			break;
		case G_FULL:
			memset(x->rowu, 0, sizeof(x->rowu));
			memset(x->colu, 0, sizeof(x->colu));
			x->rowu[i] = 1;
			x->colu[j] = 1;
			cycle_dfs(x, i);
			break;
		}
	}
	found = x->found;
	if (found) {
		*best = x->best;
		*bnew = x->bnew;
	}
	free(x);
	return found;
}

static void
grid_withhold(struct grid *g)
{
	for (size_t at = 0; at < g->nr * g->nc; at++)
		if (g->c[at] != NULL && !g->fixed[at])
			g->c[at]->mark = M_WITHHELD;
}

/* Complementary suppression of one grid (see the top of this file). */
static void
grid_protect(struct grid *g, unsigned k)
{
	int changed = 1;

	while (changed) {
		changed = 0;
		for (size_t i = 0; i < g->nr; i++) {
			for (size_t j = 0; j < g->nc; j++) {
				struct rcell	*c = g->c[i * g->nc + j];
				struct cycle	 cy;
				size_t		 nnew;

				if (c == NULL || c->mark != M_PRIMARY)
					continue;
				if (!best_cycle(g, i, j, k, &cy, &nnew)) {
					grid_withhold(g);
					return;
				}
				if (nnew == 0)
					continue;
				for (size_t q = 0; q < cy.n; q++) {
					struct rcell *h = g->c[cy.i[q] *
					    g->nc + cy.j[q]];
					if (h->mark == M_SHOWN)
						h->mark = M_SECONDARY;
				}
				changed = 1;
			}
		}
	}
}

static void
mark_primary(struct rcell *c, unsigned k)
{
	if (c->n >= 1 && c->n < k)
		c->mark = M_PRIMARY;
}

/* A 1-D table of dimension d: one line whose total is N (or, for free
 * tables, no line). */
static void
protect_1d(struct report *r, int dim, int with_total)
{
	struct rdim	*d = &r->d[dim];
	struct grid	 g;

	if (with_total) {
		grid_init(&g, G_ROWS, 1, d->n + 1);
		grid_set(&g, 0, d->n, &r->ncell, 1);
	} else
		grid_init(&g, G_FREE, 1, d->n ? d->n : 1);
	for (size_t i = 0; i < d->n; i++)
		grid_set(&g, 0, i, &d->v[i].c, 0);
	grid_protect(&g, r->o.min_cell);
	grid_release(&g);
}

static void
protect_sex_age(struct report *r)
{
	struct rdim	*ds = &r->d[D_SEX], *da = &r->d[D_AGE];
	struct grid	 g;

	grid_init(&g, G_FULL, ds->n + 1, da->n + 1);
	for (size_t i = 0; i < ds->n; i++) {
		for (size_t j = 0; j < da->n; j++)
			grid_set(&g, i, j, &r->x[X_SEX_AGE][i][j], 0);
		grid_set(&g, i, da->n, &ds->v[i].c, 0);
	}
	for (size_t j = 0; j < da->n; j++)
		grid_set(&g, ds->n, j, &da->v[j].c, 0);
	grid_set(&g, ds->n, da->n, &r->ncell, 1);
	grid_protect(&g, r->o.min_cell);
	grid_release(&g);
}

static void
protect_purpose_sex(struct report *r)
{
	struct rdim	*dp = &r->d[D_PURPOSE], *ds = &r->d[D_SEX];
	struct grid	 g;

	grid_init(&g, G_ROWS, dp->n, ds->n + 1);
	for (size_t i = 0; i < dp->n; i++) {
		for (size_t j = 0; j < ds->n; j++)
			grid_set(&g, i, j, &r->x[X_PURPOSE_SEX][i][j], 0);
		grid_set(&g, i, ds->n, &dp->v[i].c, 0);
	}
	grid_protect(&g, r->o.min_cell);
	grid_release(&g);
}

static void
protect_support(struct report *r)
{
	struct grid	g;

	grid_init(&g, G_ROWS, 1, 3);
	for (size_t j = 0; j < 3; j++)
		grid_set(&g, 0, j, &r->sup[j], 0);
	grid_protect(&g, r->o.min_cell);
	grid_release(&g);
}

void
report_finish(struct report *r)
{
	unsigned	k = r->o.min_cell;
	struct rdim	*sv = &r->d[D_SERVICE];

	if (r->finished)
		return;
	r->finished = 1;
	dim_sort(&r->d[D_PROVINCE], 1);
	dim_sort(&r->d[D_DEST], 0);
	dim_sort(&r->d[D_REFOUT], 1);
	dim_sort(&r->d[D_REFIN], 1);
	dim_sort(&r->d[D_REFPEND], 1);
	for (size_t i = 0; i < sv->n; i++) {
		add_sat(r, &r->vnd_total, sv->v[i].vnd);
		add_sat(r, &r->days_total, sv->v[i].days);
	}
	if (k <= 1)
		return;
	if (r->ncell.n > 0 && r->ncell.n < k) {
		r->withheld = 1;
		return;
	}
	for (int i = 0; i < D__N; i++)
		for (size_t j = 0; j < r->d[i].n; j++)
			mark_primary(&r->d[i].v[j].c, k);
	for (int x = 0; x < X__N; x++)
		for (size_t i = 0; i < XMAX; i++)
			for (size_t j = 0; j < XMAX; j++)
				mark_primary(&r->x[x][i][j], k);
	for (size_t j = 0; j < 3; j++)
		mark_primary(&r->sup[j], k);
	mark_primary(&r->undated, k);

	protect_1d(r, D_PROVINCE, 1);
	protect_1d(r, D_CATEGORY, 1);
	protect_1d(r, D_DEST, 1);
	protect_1d(r, D_SOURCE, 1);
	protect_1d(r, D_STATUS, 1);
	protect_sex_age(r);
	protect_purpose_sex(r);
	protect_support(r);
	protect_1d(r, D_SERVICE, 0);
	protect_1d(r, D_REFOUT, 0);
	protect_1d(r, D_REFIN, 0);
	protect_1d(r, D_REFPEND, 0);
	if (r->undated.mark == M_PRIMARY && k < 3)
		r->undated.mark = M_WITHHELD;
	for (size_t i = 0; i < sv->n; i++)
		if (sv->v[i].c.mark != M_SHOWN)
			r->measures_hidden = 1;
}

/* ---------------------------------------------------------------- */
/* Rendering helpers */

/*
 * Numbers.  CSV and JSON always write plain digits and "." (machine
 * formats).  Text and HTML write them as the report's language does:
 * English counts stay plain digits, as they always were, and sums (VND,
 * days) are grouped with ","; Vietnamese groups every number with "."
 * and writes decimals with ",".
 */
static const char *
num_text(uint64_t v, char sep, char *buf, size_t sz)
{
	char	 tmp[32];
	size_t	 n, o = 0;

	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	if (sep == '\0') {
		snprintf(buf, sz, "%s", tmp);
		return buf;
	}
	n = strlen(tmp);
	for (size_t i = 0; i < n && o + 2 < sz; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = sep;
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static char
count_sep(const struct report *r)
{
	return r->o.lang == LANG_VI ? '.' : '\0';
}

static char
sum_sep(const struct report *r)
{
	return r->o.lang == LANG_VI ? '.' : ',';
}

/* Puts the report language's decimal mark into the number s. */
static char *
decimal_mark(const struct report *r, char *s)
{
	if (r->o.lang == LANG_VI)
		for (char *c = s; *c != '\0'; c++)
			if (*c == '.')
				*c = ',';
	return s;
}

/* A count as published, thousands grouped by sep (0: plain digits). */
static const char *
cell_str(const struct report *r, const struct rcell *c, char sep,
    char *buf, size_t sz)
{
	switch (c->mark) {
	case M_PRIMARY:
		snprintf(buf, sz, "<%u", r->o.min_cell);
		break;
	case M_SECONDARY:
	case M_WITHHELD:
		snprintf(buf, sz, "x");
		break;
	default:
		num_text(c->n, sep, buf, sz);
		break;
	}
	return buf;
}

/* For CSV and JSON. */
static const char *
cell_text(const struct report *r, const struct rcell *c, char *buf,
    size_t sz)
{
	return cell_str(r, c, '\0', buf, sz);
}

/* For text and HTML. */
static const char *
cell_shown(const struct report *r, const struct rcell *c, char *buf,
    size_t sz)
{
	return cell_str(r, c, count_sep(r), buf, sz);
}

/* A measure (VND, days) of a service type: hidden with its persons. */
static const char *
measure_text(int hidden, uint64_t v, char sep, char *buf, size_t sz)
{
	if (hidden) {
		snprintf(buf, sz, "x");
		return buf;
	}
	return num_text(v, sep, buf, sz);
}

/* The indicator: share of identified victims with a service ("87.6"),
 * or NULL when it is hidden or undefined. */
static const char *
share_text(const struct report *r, char *buf, size_t sz)
{
	const struct rcell	*w = &r->sup[S_WITH], *t = &r->sup[S_IDENT];

	if (w->mark != M_SHOWN || t->mark != M_SHOWN || t->n == 0)
		return NULL;
	snprintf(buf, sz, "%.1f", 100.0 * (double)w->n / (double)t->n);
	return buf;
}

/* What a reader knows of a cell: lo..hi (hi INF: unbounded). */
static void
cell_bounds(const struct report *r, const struct rcell *c, uint64_t *lo,
    uint64_t *hi)
{
	switch (c->mark) {
	case M_PRIMARY:
		*lo = 1;
		*hi = r->o.min_cell - 1;
		break;
	case M_SECONDARY:
		*lo = r->o.min_cell;
		*hi = INF;
		break;
	case M_WITHHELD:
		*lo = 0;
		*hi = INF;
		break;
	default:
		*lo = *hi = c->n;
		break;
	}
}

/*
 * When the share is withheld but the number of identified victims is
 * shown, the range the share must lie in, from the published figures
 * alone (so it discloses nothing more): "87.5" and "96.9" (per cent, the
 * low end rounded down, the high end up).  Returns 0 when there is none.
 */
static int
share_range(const struct report *r, char *lo, char *hi, size_t sz)
{
	const struct rcell	*t = &r->sup[S_IDENT];
	uint64_t		 wl, wh, ol, oh, a, b;

	if (t->mark != M_SHOWN || t->n == 0 ||
	    (r->sup[S_WITH].mark == M_SHOWN &&
	    r->sup[S_WITHOUT].mark == M_SHOWN))
		return 0;
	cell_bounds(r, &r->sup[S_WITH], &wl, &wh);
	cell_bounds(r, &r->sup[S_WITHOUT], &ol, &oh);
	/* with = identified - without */
	a = oh == INF || oh > t->n ? 0 : t->n - oh;
	b = ol > t->n ? 0 : t->n - ol;
	if (a > wl)
		wl = a;
	if (wh == INF || b < wh)
		wh = b;
	if (wl > wh)
		return 0;
	a = wl * 1000 / t->n;
	b = (wh * 1000 + t->n - 1) / t->n;
	snprintf(lo, sz, "%llu.%llu", (unsigned long long)(a / 10),
	    (unsigned long long)(a % 10));
	snprintf(hi, sz, "%llu.%llu", (unsigned long long)(b / 10),
	    (unsigned long long)(b % 10));
	return 1;
}

/* A date of the options as the report's language writes it. */
static const char *
date_shown(const struct report *r, const char *iso, char *buf, size_t sz)
{
	if (i18n_date(r->o.lang, iso, buf, sz) != 0)
		snprintf(buf, sz, "%s", iso);
	return buf;
}

static const char *
period_text(const struct report *r, char *buf, size_t sz)
{
	const struct report_opts *o = &r->o;
	char			 f[I18N_DATE_MAX], t[I18N_DATE_MAX];

	date_shown(r, o->from, f, sizeof(f));
	date_shown(r, o->to, t, sizeof(t));
	if (o->from[0] && o->to[0])
		snprintf(buf, sz, tr(r, N_("cases received from %s to %s")),
		    f, t);
	else if (o->from[0])
		snprintf(buf, sz, tr(r, N_("cases received on or after %s")),
		    f);
	else if (o->to[0])
		snprintf(buf, sz, tr(r, N_("cases received on or before %s")),
		    t);
	else
		snprintf(buf, sz, "%s", tr(r,
		    N_("all cases, whatever their reception date")));
	return buf;
}

static const char *
scope_text(const struct report *r, char *buf, size_t sz)
{
	const struct province	*p = province_find(r->o.province);

	if (r->o.province[0] == '\0')
		snprintf(buf, sz, "%s", tr(r, N_("all provinces")));
	else if (p != NULL)
		snprintf(buf, sz, "%s (%s)", p->name, p->node);
	else
		snprintf(buf, sz, "%s", r->o.province);
	return buf;
}

static const char *
dim_title(const struct report *r, int dim)
{
	int	one = r->o.province[0] != '\0';

	switch (dim) {
	case D_PROVINCE:
		return tr(r, N_("Cases by province (the owner of the case)"));
	case D_CATEGORY:
		return tr(r, N_("Cases by person category"));
	case D_SEX:
		return tr(r, N_("Cases by sex"));
	case D_AGE:
		return tr(r, N_("Cases by age band at reception"));
	case D_PURPOSE:
		return tr(r, N_("Cases by purpose of trafficking"));
	case D_DEST:
		return tr(r, N_("Cases by destination country"));
	case D_SOURCE:
		return tr(r, N_("Cases by intake source"));
	case D_STATUS:
		return tr(r, N_("Cases by current status"));
	case D_SERVICE:
		return tr(r, N_("Persons served, by type of service"));
	case D_REFOUT:
		return one ? tr(r, N_("Referrals out of the province, by "
		    "receiving province")) : tr(r, N_("Referrals out, by "
		    "sending province"));
	case D_REFIN:
		return one ? tr(r, N_("Referrals into the province, by "
		    "sending province")) : tr(r, N_("Referrals in, by "
		    "receiving province"));
	case D_REFPEND:
		return one ? tr(r, N_("Referrals waiting for an answer, sent "
		    "or received, by the other province")) : tr(r,
		    N_("Referrals waiting for an answer, by receiving "
		    "province"));
	}
	return "";
}

/* A note that goes with a table, or NULL. */
static const char *
dim_note(const struct report *r, int dim)
{
	switch (dim) {
	case D_PURPOSE:
		return tr(r, N_("A case with several purposes counts under "
		    "each, so there is no total."));
	case D_SERVICE:
		return tr(r, N_("A person may receive several types of "
		    "service, so there is no total."));
	case D_REFOUT:
	case D_REFIN:
		return tr(r, N_("Referrals of the cases received in the "
		    "period."));
	case D_REFPEND:
		return tr(r, N_("Offers not yet accepted or declined; they "
		    "are not counted above."));
	}
	return NULL;
}

/* The head of a table's first column. */
static const char *
dim_short(const struct report *r, int dim)
{
	switch (dim) {
	case D_CATEGORY:
		return tr(r, N_("category"));
	case D_SEX:
		return tr(r, N_("sex"));
	case D_AGE:
		return tr(r, N_("age band"));
	case D_PURPOSE:
		return tr(r, N_("purpose"));
	case D_DEST:
		return tr(r, N_("destination"));
	case D_SOURCE:
		return tr(r, N_("source"));
	case D_STATUS:
		return tr(r, N_("status"));
	case D_SERVICE:
		return tr(r, N_("service"));
	default:
		return tr(r, N_("province"));
	}
}

/* What a table counts: a JSON key, never translated. */
static const char *
unit_key(int dim)
{
	switch (dim) {
	case D_SERVICE:
		return "persons";
	case D_REFOUT:
	case D_REFIN:
	case D_REFPEND:
		return "referrals";
	default:
		return "cases";
	}
}

/* The same for people: the head of a table's count column. */
static const char *
count_word(const struct report *r, int dim)
{
	switch (dim) {
	case D_SERVICE:
		return tr(r, N_("persons"));
	case D_REFOUT:
	case D_REFIN:
	case D_REFPEND:
		return tr(r, N_("referrals"));
	default:
		return tr(r, N_("cases"));
	}
}

static const char	 ident_def[] =
    N_("Identified victims: person category victim with status "
    "identified, receiving support, reintegration follow-up or closed.");
static const char	 undated_in[] =
    N_("counted: no period was given; their age band is unknown");
static const char	 undated_out[] =
    N_("not counted: they cannot be placed in the period");
static const char	 small_cells[] =
    N_("Small cells: counts below %u are shown as <%u; x marks a count "
    "withheld so that no <%u cell can be worked out from the totals.");

/* Display width of UTF-8 text s[0..n): code points, less combining
 * marks. */
static size_t
text_width_n(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 w = 0;

	for (size_t i = 0; i < n; i++) {
		if ((p[i] & 0xc0) == 0x80)
			continue;
		/* U+0300..U+036F: CC 80 .. CD AF */
		if (i + 1 < n && ((p[i] == 0xcc && (p[i + 1] & 0xc0) ==
		    0x80) || (p[i] == 0xcd && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0xaf)))
			continue;
		w++;
	}
	return w;
}

static size_t
text_width(const char *s)
{
	return text_width_n(s, strlen(s));
}

static void
pad(struct buf *b, const char *s, size_t width, int right)
{
	size_t	w = text_width(s);

	if (right)
		for (; w < width; w++)
			buf_append(b, " ", 1);
	buf_append_str(b, s);
	if (!right)
		for (; w < width; w++)
			buf_append(b, " ", 1);
}

#define TEXT_WIDTH	76	/* text lines are wrapped at this column */

/*
 * Appends s word by word, wrapped at TEXT_WIDTH: the first line starts
 * with first, the others with cont (both already counted in col).
 */
static void
wrap(struct buf *b, const char *s, const char *first, const char *cont)
{
	size_t	col = text_width(first), start = col;

	buf_append_str(b, first);
	while (*s != '\0') {
		size_t n = strcspn(s, " "), w = text_width_n(s, n);

		if (col > start && col + 1 + w > TEXT_WIDTH) {
			buf_printf(b, "\n%s", cont);
			col = start = text_width(cont);
		} else if (col > start) {
			buf_append(b, " ", 1);
			col++;
		}
		buf_append(b, s, n);
		col += w;
		s += n;
		while (*s == ' ')
			s++;
	}
}

/* A note under a title: "  (text)", its later lines indented by three
 * spaces, so that no line of a note looks like a table row. */
static void
text_note(struct buf *b, const char *s)
{
	wrap(b, s, "  (", "   ");
	buf_append_str(b, ")\n");
}

/* A paragraph at the left margin. */
static void
text_para(struct buf *b, const char *s)
{
	wrap(b, s, "", "");
	buf_append_str(b, "\n");
}

/* ---------------------------------------------------------------- */
/* Text */

static void
text_dim(const struct report *r, struct buf *b, int dim)
{
	const struct rdim	*d = &r->d[dim];
	const char		*total = tr(r, N_("total"));
	char			 lb[160], tb[32];
	size_t			 w = text_width(total);

	buf_printf(b, "\n%s\n", dim_title(r, dim));
	if (dim_note(r, dim) != NULL)
		text_note(b, dim_note(r, dim));
	if (d->n == 0) {
		buf_printf(b, "  (%s)\n", tr(r, N_("none")));
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		size_t lw;

		lw = text_width(label_of(r, dim, d->v[i].key, lb,
		    sizeof(lb))) + (dim == D_PROVINCE ||
		    dim == D_REFOUT || dim == D_REFIN || dim == D_REFPEND ?
		    strlen(d->v[i].key) + 3 : 0);
		if (lw > w)
			w = lw;
	}
	for (size_t i = 0; i < d->n; i++) {
		const char	*l = label_of(r, dim, d->v[i].key, lb,
		    sizeof(lb));
		char		 full[200];

		if ((dim == D_PROVINCE || dim == D_REFOUT ||
		    dim == D_REFIN || dim == D_REFPEND) &&
		    province_find(d->v[i].key) != NULL)
			snprintf(full, sizeof(full), "%s (%s)", l,
			    d->v[i].key);
		else
			snprintf(full, sizeof(full), "%s", l);
		buf_append_str(b, "  ");
		pad(b, full, w, 0);
		buf_append_str(b, "  ");
		pad(b, cell_shown(r, &d->v[i].c, tb, sizeof(tb)), 9, 1);
		buf_append_str(b, "\n");
	}
	if (dimdefs[dim].total) {
		buf_append_str(b, "  ");
		pad(b, total, w, 0);
		buf_append_str(b, "  ");
		pad(b, cell_shown(r, &r->ncell, tb, sizeof(tb)), 9, 1);
		buf_append_str(b, "\n");
	}
}

/* The text of cross-table x at row i, column j, where row dr->n is the
 * column totals and column dc->n the row totals. */
static const char *
cross_text(const struct report *r, int x, size_t i, size_t j, char *buf,
    size_t sz)
{
	int			 rd = x == X_SEX_AGE ? D_SEX : D_PURPOSE;
	int			 cd = x == X_SEX_AGE ? D_AGE : D_SEX;
	const struct rdim	*dr = &r->d[rd], *dc = &r->d[cd];

	if (i < dr->n && j < dc->n)
		return cell_shown(r, &r->x[x][i][j], buf, sz);
	if (i < dr->n)
		return cell_shown(r, &dr->v[i].c, buf, sz);
	if (j < dc->n)
		return cell_shown(r, &dc->v[j].c, buf, sz);
	return cell_shown(r, &r->ncell, buf, sz);
}

static void
text_cross(const struct report *r, struct buf *b, int x)
{
	int		 rd = x == X_SEX_AGE ? D_SEX : D_PURPOSE;
	int		 cd = x == X_SEX_AGE ? D_AGE : D_SEX;
	const struct rdim *dr = &r->d[rd], *dc = &r->d[cd];
	size_t		 nrow = dr->n + (x == X_SEX_AGE), cw[XMAX + 1], w;
	const char	*total = tr(r, N_("total"));
	char		 lb[160], tb[32], corner[128];

	if (x == X_SEX_AGE)
		buf_printf(b, "\n%s\n", tr(r, N_("Sex \xc3\x97 age band at "
		    "reception (cases)")));
	else {
		buf_printf(b, "\n%s\n", tr(r, N_("Purpose \xc3\x97 sex "
		    "(cases)")));
		text_note(b, tr(r, N_("a case counts under each of its "
		    "purposes: no column totals")));
	}
	snprintf(corner, sizeof(corner), "%s \\ %s", dim_short(r, rd),
	    dim_short(r, cd));
	w = text_width(corner);
	for (size_t i = 0; i < nrow; i++) {
		size_t lw = text_width(i < dr->n ? label_of(r, rd,
		    dr->v[i].key, lb, sizeof(lb)) : total);
		if (lw > w)
			w = lw;
	}
	for (size_t j = 0; j <= dc->n; j++) {
		cw[j] = text_width(j < dc->n ? label_of(r, cd, dc->v[j].key,
		    lb, sizeof(lb)) : total);
		for (size_t i = 0; i < nrow; i++) {
			size_t lw = text_width(cross_text(r, x, i, j, tb,
			    sizeof(tb)));
			if (lw > cw[j])
				cw[j] = lw;
		}
		if (cw[j] < 4)
			cw[j] = 4;
	}
	buf_append_str(b, "  ");
	pad(b, corner, w, 0);
	for (size_t j = 0; j <= dc->n; j++) {
		buf_append_str(b, "  ");
		pad(b, j < dc->n ? label_of(r, cd, dc->v[j].key, lb,
		    sizeof(lb)) : total, cw[j], 1);
	}
	buf_append_str(b, "\n");
	for (size_t i = 0; i < nrow; i++) {
		buf_append_str(b, "  ");
		pad(b, i < dr->n ? label_of(r, rd, dr->v[i].key, lb,
		    sizeof(lb)) : total, w, 0);
		for (size_t j = 0; j <= dc->n; j++) {
			buf_append_str(b, "  ");
			pad(b, cross_text(r, x, i, j, tb, sizeof(tb)), cw[j],
			    1);
		}
		buf_append_str(b, "\n");
	}
}

static void
text_support(const struct report *r, struct buf *b)
{
	const char *names[3] = {
		[S_WITH] = tr(r, N_("received at least one service")),
		[S_WITHOUT] = tr(r, N_("received no service")),
		[S_IDENT] = tr(r, N_("identified victims")),
	};
	static const int order[3] = { S_IDENT, S_WITH, S_WITHOUT };
	const char	*share = tr(r, N_("share with at least one service"));
	char		 tb[32], sb[32], lo[48], hi[48], line[160];
	const char	*sh;
	size_t		 w = text_width(share) + 2;

	for (size_t q = 0; q < 3; q++)
		if (text_width(names[q]) + 2 > w)
			w = text_width(names[q]) + 2;
	if (w < 38)
		w = 38;
	buf_printf(b, "\n%s\n", tr(r, N_("Support to identified victims")));
	text_note(b, tr(r, ident_def));
	for (size_t q = 0; q < 3; q++) {
		buf_append_str(b, "  ");
		pad(b, names[order[q]], w, 0);
		pad(b, cell_shown(r, &r->sup[order[q]], tb, sizeof(tb)), 9,
		    1);
		buf_append_str(b, "\n");
	}
	sh = share_text(r, sb, sizeof(sb));
	buf_append_str(b, "  ");
	pad(b, share, w, 0);
	if (sh != NULL) {
		buf_printf(b, "%8s%%\n", decimal_mark(r, sb));
	} else if (share_range(r, lo, hi, sizeof(lo))) {
		snprintf(line, sizeof(line), tr(r, N_("x (between %s%% and "
		    "%s%%)")), decimal_mark(r, lo), decimal_mark(r, hi));
		buf_printf(b, "%s\n", line);
	} else {
		pad(b, r->sup[S_IDENT].n == 0 &&
		    r->sup[S_IDENT].mark == M_SHOWN ? "-" : "x", 9, 1);
		buf_append_str(b, "\n");
	}
}

static void
text_services(const struct report *r, struct buf *b)
{
	const struct rdim	*d = &r->d[D_SERVICE];
	const char		*hd[5] = {
		tr(r, N_("type")), tr(r, N_("persons")),
		tr(r, N_("services")), tr(r, N_("VND")), tr(r, N_("days")),
	};
	const char		*total = tr(r, N_("total"));
	size_t			 cw[5] = { 26, 8, 8, 19, 9 };
	char			 lb[160], t1[32], t2[32], t3[40], t4[40];

	for (size_t k = 0; k < 5; k++)
		if (text_width(hd[k]) > cw[k])
			cw[k] = text_width(hd[k]);
	for (size_t i = 0; i < d->n; i++)
		if (text_width(label_of(r, D_SERVICE, d->v[i].key, lb,
		    sizeof(lb))) > cw[0])
			cw[0] = text_width(label_of(r, D_SERVICE,
			    d->v[i].key, lb, sizeof(lb)));
	buf_printf(b, "\n%s\n", tr(r, N_("Services by type (Law "
	    "53/2024/QH15 Art. 37 \xc2\xa7" "1)")));
	text_note(b, tr(r, N_("persons served, services recorded, total "
	    "VND and days; a person may receive several types, so persons "
	    "have no total")));
	buf_append_str(b, "  ");
	pad(b, hd[0], cw[0], 0);
	for (size_t k = 1; k < 5; k++) {
		buf_append_str(b, "  ");
		pad(b, hd[k], cw[k], 1);
	}
	buf_append_str(b, "\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct rval	*v = &d->v[i];
		int			 hid = v->c.mark != M_SHOWN;

		buf_append_str(b, "  ");
		pad(b, label_of(r, D_SERVICE, v->key, lb, sizeof(lb)), cw[0],
		    0);
		buf_append_str(b, "  ");
		pad(b, cell_shown(r, &v->c, t1, sizeof(t1)), cw[1], 1);
		buf_append_str(b, "  ");
		pad(b, measure_text(hid, v->events, count_sep(r), t2,
		    sizeof(t2)), cw[2], 1);
		buf_append_str(b, "  ");
		pad(b, measure_text(hid, v->vnd, sum_sep(r), t3, sizeof(t3)),
		    cw[3], 1);
		buf_append_str(b, "  ");
		pad(b, measure_text(hid, v->days, sum_sep(r), t4, sizeof(t4)),
		    cw[4], 1);
		buf_append_str(b, "\n");
	}
	buf_append_str(b, "  ");
	pad(b, total, cw[0], 0);
	buf_append_str(b, "  ");
	pad(b, "", cw[1], 1);
	buf_append_str(b, "  ");
	pad(b, "", cw[2], 1);
	buf_append_str(b, "  ");
	pad(b, measure_text(r->measures_hidden, r->vnd_total, sum_sep(r), t3,
	    sizeof(t3)), cw[3], 1);
	buf_append_str(b, "  ");
	pad(b, measure_text(r->measures_hidden, r->days_total, sum_sep(r), t4,
	    sizeof(t4)), cw[4], 1);
	buf_append_str(b, "\n");
}

static void
render_text(const struct report *r, struct buf *b)
{
	char	pb[160], sb[160], tb[32], gb[I18N_DATE_MAX], line[512];

	buf_printf(b, tr(r, N_("casesync report: %s, %s")), period_text(r, pb,
	    sizeof(pb)), scope_text(r, sb, sizeof(sb)));
	buf_append_str(b, "\n");
	buf_printf(b, tr(r, N_("Made on node %s on %s.")), r->o.node,
	    date_shown(r, r->o.generated, gb, sizeof(gb)));
	buf_append_str(b, "\n");
	if (r->o.min_cell > 1) {
		snprintf(line, sizeof(line), tr(r, small_cells),
		    r->o.min_cell, r->o.min_cell, r->o.min_cell);
		text_para(b, line);
	}
	if (r->withheld) {
		buf_append_str(b, "\n");
		buf_printf(b, tr(r, N_("Fewer than %u cases: nothing is "
		    "published.")), r->o.min_cell);
		buf_append_str(b, "\n");
		return;
	}
	buf_append_str(b, "\n");
	buf_printf(b, tr(r, N_("Cases received: %s")), cell_shown(r,
	    &r->ncell, tb, sizeof(tb)));
	buf_append_str(b, "\n");
	buf_printf(b, tr(r, N_("Cases without a reception date: %s")),
	    cell_shown(r, &r->undated, tb, sizeof(tb)));
	buf_append_str(b, "\n");
	text_note(b, tr(r, has_period(r) ? undated_out : undated_in));
	if (r->duplicates > 0) {
		buf_printf(b, tr(r, N_("Second cases of a person already "
		    "counted, left out: %llu")), (unsigned long long)
		    r->duplicates);
		buf_append_str(b, "\n");
	}
	for (int d = D_PROVINCE; d <= D_STATUS; d++)
		text_dim(r, b, d);
	text_cross(r, b, X_SEX_AGE);
	text_cross(r, b, X_PURPOSE_SEX);
	text_support(r, b);
	text_services(r, b);
	text_dim(r, b, D_REFOUT);
	text_dim(r, b, D_REFIN);
	text_dim(r, b, D_REFPEND);
	if (r->saturated) {
		buf_append_str(b, "\n");
		text_para(b, tr(r, N_("Warning: a sum exceeded the counter's "
		    "range and is shown at its maximum.")));
	}
}

/* ---------------------------------------------------------------- */
/* CSV: one tidy table, dimension,value,count */

static void
csv_field(struct buf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		buf_append_str(b, s);
		return;
	}
	buf_append(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			buf_append(b, "\"", 1);
		buf_append(b, s, 1);
	}
	buf_append(b, "\"", 1);
}

static void
csv_row(struct buf *b, const char *dim, const char *val, const char *n)
{
	csv_field(b, dim);
	buf_append(b, ",", 1);
	csv_field(b, val);
	buf_append(b, ",", 1);
	csv_field(b, n);
	buf_append(b, "\r\n", 2);
}

static void
render_csv(const struct report *r, struct buf *b)
{
	char	tb[40], vb[2 * KEY_MAX + 2], sb[32], lo[48], hi[48];
	const struct rdim *sv = &r->d[D_SERVICE];

	csv_row(b, "dimension", "value", "count");
	snprintf(sb, sizeof(sb), "%u", r->o.min_cell);
	csv_row(b, "report", "min_cell", sb);
	if (r->withheld) {
		snprintf(tb, sizeof(tb), "<%u", r->o.min_cell);
		csv_row(b, "cases", "total", tb);
		return;
	}
	csv_row(b, "cases", "total", cell_text(r, &r->ncell, tb,
	    sizeof(tb)));
	csv_row(b, "cases", has_period(r) ? "undated_left_out" :
	    "undated_counted", cell_text(r, &r->undated, tb, sizeof(tb)));
	for (int d = D_PROVINCE; d < D__N; d++)
		for (size_t i = 0; i < r->d[d].n; i++)
			csv_row(b, r->d[d].name, r->d[d].v[i].key,
			    cell_text(r, &r->d[d].v[i].c, tb, sizeof(tb)));
	for (int x = 0; x < X__N; x++) {
		int rd = x == X_SEX_AGE ? D_SEX : D_PURPOSE;
		int cd = x == X_SEX_AGE ? D_AGE : D_SEX;

		for (size_t i = 0; i < r->d[rd].n; i++)
			for (size_t j = 0; j < r->d[cd].n; j++) {
				snprintf(vb, sizeof(vb), "%s/%s",
				    r->d[rd].v[i].key, r->d[cd].v[j].key);
				csv_row(b, x == X_SEX_AGE ? "sex_by_age_band" :
				    "purpose_by_sex", vb, cell_text(r,
				    &r->x[x][i][j], tb, sizeof(tb)));
			}
	}
	csv_row(b, "support", "identified_victims", cell_text(r,
	    &r->sup[S_IDENT], tb, sizeof(tb)));
	csv_row(b, "support", "with_service", cell_text(r, &r->sup[S_WITH],
	    tb, sizeof(tb)));
	csv_row(b, "support", "without_service", cell_text(r,
	    &r->sup[S_WITHOUT], tb, sizeof(tb)));
	if (share_text(r, sb, sizeof(sb)) == NULL)
		snprintf(sb, sizeof(sb), "%s", r->sup[S_IDENT].n == 0 &&
		    r->sup[S_IDENT].mark == M_SHOWN ? "" : "x");
	csv_row(b, "support_share_pct", "with_service", sb);
	if (share_range(r, lo, hi, sizeof(lo))) {
		csv_row(b, "support_share_pct", "at_least", lo);
		csv_row(b, "support_share_pct", "at_most", hi);
	}
	for (size_t i = 0; i < sv->n; i++) {
		const struct rval	*v = &sv->v[i];
		int			 hid = v->c.mark != M_SHOWN;

		csv_row(b, "service_events", v->key, measure_text(hid,
		    v->events, 0, tb, sizeof(tb)));
		csv_row(b, "service_vnd", v->key, measure_text(hid, v->vnd, 0,
		    tb, sizeof(tb)));
		csv_row(b, "service_days", v->key, measure_text(hid, v->days,
		    0, tb, sizeof(tb)));
	}
	csv_row(b, "service_vnd", "total", measure_text(r->measures_hidden,
	    r->vnd_total, 0, tb, sizeof(tb)));
	csv_row(b, "service_days", "total", measure_text(r->measures_hidden,
	    r->days_total, 0, tb, sizeof(tb)));
}

/* ---------------------------------------------------------------- */
/* JSON */

static void
json_count(const struct report *r, struct buf *b, const struct rcell *c)
{
	char	tb[32];

	if (c->mark == M_SHOWN)
		buf_printf(b, "%llu", (unsigned long long)c->n);
	else
		jsonw_str(b, cell_text(r, c, tb, sizeof(tb)));
}

static void
json_measure(struct buf *b, int hidden, uint64_t v)
{
	if (hidden)
		jsonw_str(b, "x");
	else
		buf_printf(b, "%llu", (unsigned long long)v);
}

static void
json_dim(const struct report *r, struct buf *b, int dim, int first)
{
	const struct rdim	*d = &r->d[dim];
	char			 lb[160];

	buf_append_str(b, first ? "\n    {" : ",\n    {");
	jsonw_key(b, "name", 1);
	jsonw_str(b, d->name);
	jsonw_key(b, "title", 0);
	jsonw_str(b, dim_title(r, dim));
	jsonw_key(b, "unit", 0);
	jsonw_str(b, unit_key(dim));
	buf_printf(b, ",\"multi\":%s", dimdefs[dim].multi ? "true" : "false");
	jsonw_key(b, "total", 0);
	if (dimdefs[dim].total)
		json_count(r, b, &r->ncell);
	else
		buf_append_str(b, "null");
	buf_append_str(b, ",\"cells\":[");
	for (size_t i = 0; i < d->n; i++) {
		buf_append_str(b, i ? ",\n      {" : "\n      {");
		jsonw_key(b, "value", 1);
		jsonw_str(b, d->v[i].key);
		jsonw_key(b, "label", 0);
		jsonw_str(b, label_of(r, dim, d->v[i].key, lb, sizeof(lb)));
		jsonw_key(b, "count", 0);
		json_count(r, b, &d->v[i].c);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]}");
}

static void
json_keys(struct buf *b, const struct rdim *d)
{
	buf_append_str(b, "[");
	for (size_t i = 0; i < d->n; i++) {
		if (i)
			buf_append_str(b, ",");
		jsonw_str(b, d->v[i].key);
	}
	buf_append_str(b, "]");
}

static void
json_cross(const struct report *r, struct buf *b, int x)
{
	int rd = x == X_SEX_AGE ? D_SEX : D_PURPOSE;
	int cd = x == X_SEX_AGE ? D_AGE : D_SEX;

	buf_append_str(b, x ? ",\n    {" : "\n    {");
	jsonw_key(b, "name", 1);
	jsonw_str(b, x == X_SEX_AGE ? "sex_by_age_band" : "purpose_by_sex");
	jsonw_key(b, "rows", 0);
	jsonw_str(b, r->d[rd].name);
	jsonw_key(b, "cols", 0);
	jsonw_str(b, r->d[cd].name);
	jsonw_key(b, "row_values", 0);
	json_keys(b, &r->d[rd]);
	jsonw_key(b, "col_values", 0);
	json_keys(b, &r->d[cd]);
	buf_append_str(b, ",\"cells\":[");
	for (size_t i = 0; i < r->d[rd].n; i++) {
		buf_append_str(b, i ? ",\n      [" : "\n      [");
		for (size_t j = 0; j < r->d[cd].n; j++) {
			if (j)
				buf_append_str(b, ",");
			json_count(r, b, &r->x[x][i][j]);
		}
		buf_append_str(b, "]");
	}
	buf_append_str(b, "],\"row_totals\":[");
	for (size_t i = 0; i < r->d[rd].n; i++) {
		if (i)
			buf_append_str(b, ",");
		json_count(r, b, &r->d[rd].v[i].c);
	}
	buf_append_str(b, "],\"col_totals\":");
	if (x == X_SEX_AGE) {
		buf_append_str(b, "[");
		for (size_t j = 0; j < r->d[cd].n; j++) {
			if (j)
				buf_append_str(b, ",");
			json_count(r, b, &r->d[cd].v[j].c);
		}
		buf_append_str(b, "],\"total\":");
		json_count(r, b, &r->ncell);
	} else
		buf_append_str(b, "null,\"total\":null");
	buf_append_str(b, "}");
}

static void
render_json(const struct report *r, struct buf *b)
{
	const struct rdim	*sv = &r->d[D_SERVICE];
	char			 sb[32], lb[160], lo[48], hi[48];

	buf_append_str(b, "{\n  \"report\":{");
	jsonw_key(b, "tool", 1);
	jsonw_str(b, "casesync");
	jsonw_key(b, "node", 0);
	jsonw_str(b, r->o.node);
	jsonw_key(b, "generated", 0);
	jsonw_str(b, r->o.generated);
	jsonw_key(b, "lang", 0);
	jsonw_str(b, i18n_lang_code(r->o.lang));
	jsonw_key(b, "from", 0);
	if (r->o.from[0])
		jsonw_str(b, r->o.from);
	else
		buf_append_str(b, "null");
	jsonw_key(b, "to", 0);
	if (r->o.to[0])
		jsonw_str(b, r->o.to);
	else
		buf_append_str(b, "null");
	jsonw_key(b, "province", 0);
	if (r->o.province[0])
		jsonw_str(b, r->o.province);
	else
		buf_append_str(b, "null");
	buf_printf(b, ",\"min_cell\":%u", r->o.min_cell);
	jsonw_key(b, "undated_cases", 0);
	jsonw_str(b, has_period(r) ? "left_out" : "counted");
	jsonw_key(b, "identified_victims_definition", 0);
	jsonw_str(b, tr(r, ident_def));
	buf_printf(b, "},\n  \"withheld\":%s", r->withheld ? "true" :
	    "false");
	if (r->withheld) {
		buf_printf(b, ",\n  \"cases\":\"<%u\"\n}\n", r->o.min_cell);
		return;
	}
	buf_append_str(b, ",\n  \"cases\":");
	json_count(r, b, &r->ncell);
	buf_append_str(b, ",\n  \"undated\":");
	json_count(r, b, &r->undated);
	/* Records, not persons: the second cases of persons already
	 * counted (person.duplicate_of). */
	buf_printf(b, ",\n  \"duplicates_left_out\":%llu",
	    (unsigned long long)r->duplicates);
	buf_append_str(b, ",\n  \"dimensions\":[");
	for (int d = 0; d < D__N; d++)
		json_dim(r, b, d, d == 0);
	buf_append_str(b, "],\n  \"cross\":[");
	for (int x = 0; x < X__N; x++)
		json_cross(r, b, x);
	buf_append_str(b, "],\n  \"support\":{\"identified_victims\":");
	json_count(r, b, &r->sup[S_IDENT]);
	buf_append_str(b, ",\"with_service\":");
	json_count(r, b, &r->sup[S_WITH]);
	buf_append_str(b, ",\"without_service\":");
	json_count(r, b, &r->sup[S_WITHOUT]);
	buf_append_str(b, ",\"share_pct\":");
	if (share_text(r, sb, sizeof(sb)) != NULL)
		buf_append_str(b, sb);
	else if (r->sup[S_IDENT].n == 0 && r->sup[S_IDENT].mark == M_SHOWN)
		buf_append_str(b, "null");
	else
		jsonw_str(b, "x");
	buf_append_str(b, ",\"share_pct_range\":");
	if (share_range(r, lo, hi, sizeof(lo)))
		buf_printf(b, "[%s,%s]", lo, hi);
	else
		buf_append_str(b, "null");
	buf_append_str(b, "},\n  \"services\":[");
	for (size_t i = 0; i < sv->n; i++) {
		const struct rval	*v = &sv->v[i];
		int			 hid = v->c.mark != M_SHOWN;

		buf_append_str(b, i ? ",\n    {" : "\n    {");
		jsonw_key(b, "type", 1);
		jsonw_str(b, v->key);
		jsonw_key(b, "label", 0);
		jsonw_str(b, label_of(r, D_SERVICE, v->key, lb, sizeof(lb)));
		jsonw_key(b, "persons", 0);
		json_count(r, b, &v->c);
		jsonw_key(b, "services", 0);
		json_measure(b, hid, v->events);
		jsonw_key(b, "vnd", 0);
		json_measure(b, hid, v->vnd);
		jsonw_key(b, "days", 0);
		json_measure(b, hid, v->days);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "],\n  \"services_total\":{\"vnd\":");
	json_measure(b, r->measures_hidden, r->vnd_total);
	buf_append_str(b, ",\"days\":");
	json_measure(b, r->measures_hidden, r->days_total);
	buf_printf(b, "},\n  \"saturated\":%s\n}\n", r->saturated ? "true" :
	    "false");
}

/* ---------------------------------------------------------------- */
/* HTML: one self-contained page, no script, no network */

static void
html_esc(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			buf_append_str(b, "&amp;");
			break;
		case '<':
			buf_append_str(b, "&lt;");
			break;
		case '>':
			buf_append_str(b, "&gt;");
			break;
		case '"':
			buf_append_str(b, "&quot;");
			break;
		case '\'':
			buf_append_str(b, "&#39;");
			break;
		default:
			buf_append(b, s, 1);
			break;
		}
	}
}

/* The text of a translated message, escaped. */
static void
html_tr(const struct report *r, struct buf *b, const char *msgid)
{
	html_esc(b, tr(r, msgid));
}

static const char html_meta[] =
"<meta charset=\"utf-8\"/>\n"
"<meta name=\"viewport\" content=\"width=device-width, "
"initial-scale=1\"/>\n";

static const char html_style[] =
"<style>\n"
"body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,"
"\"Noto Sans\",Arial,sans-serif;color:#111;background:#fff;"
"margin:0 auto;max-width:62rem;padding:1rem 1.25rem;line-height:1.45}\n"
"h1{font-size:1.45rem;margin:.2rem 0 .4rem}\n"
"h2{font-size:1.1rem;margin:2rem 0 .5rem;padding-bottom:.2rem;"
"border-bottom:1px solid #bbb}\n"
"p.note{color:#333;font-size:.92rem;margin:.3rem 0}\n"
".fig{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}\n"
".fig svg{flex:1 1 24rem;max-width:40rem;width:100%;height:auto}\n"
".tbl{overflow-x:auto;flex:1 1 16rem}\n"
"table{border-collapse:collapse;font-variant-numeric:tabular-nums;"
"margin:.3rem 0}\n"
"th,td{padding:.2rem .55rem;border-bottom:1px solid #ddd;"
"text-align:left;vertical-align:top}\n"
"th{font-weight:600}\n"
"td.n,th.n{text-align:right;white-space:nowrap}\n"
"tfoot th,tfoot td{border-top:2px solid #999;border-bottom:none}\n"
".key{font-size:1.6rem;font-weight:700}\n"
"@media (max-width:40rem){body{padding:.6rem}h1{font-size:1.2rem}"
"th,td{padding:.15rem .3rem;font-size:.9rem}}\n"
"@media print{body{max-width:none;padding:0;font-size:10pt}"
"section{break-inside:avoid;page-break-inside:avoid}"
"h2{break-after:avoid;page-break-after:avoid}"
".tbl{overflow:visible}.fig svg{max-width:24rem}}\n"
"</style>\n";

static void
html_count_td(const struct report *r, struct buf *b, const struct rcell *c)
{
	char	tb[32];

	buf_append_str(b, "<td class=\"n cnt\">");
	html_esc(b, cell_shown(r, c, tb, sizeof(tb)));
	buf_append_str(b, "</td>");
}

/* A <td> with a service measure. */
static void
html_measure_td(struct buf *b, int hidden, uint64_t v, char sep)
{
	char	tb[40];

	buf_append_str(b, "<td class=\"n\">");
	html_esc(b, measure_text(hidden, v, sep, tb, sizeof(tb)));
	buf_append_str(b, "</td>");
}

#define CHART_LABEL_MAX	30	/* characters left of a chart's bars */

/* The first width characters of UTF-8 text s (whole code points, with
 * their combining marks), trailing spaces dropped. */
static const char *
cut(const char *s, size_t width, char *buf, size_t sz)
{
	size_t	n = 0, w;

	while (s[n] != '\0') {
		size_t next = n + 1;

		while ((s[next] & 0xc0) == 0x80)
			next++;
		w = text_width_n(s, next);
		/* Take the combining marks that follow with their letter. */
		if (w > width)
			break;
		n = next;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	if (n >= sz)
		n = sz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static void
html_chart(const struct report *r, struct buf *b, int dim)
{
	const struct rdim	*d = &r->d[dim];
	uint64_t		 max = 0;
	size_t			 rows = d->n ? d->n : 1, h;
	char			 lb[160], cb[160], tb[32], title[256];

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].c.mark == M_SHOWN && d->v[i].c.n > max)
			max = d->v[i].c.n;
	h = 8 + rows * 20;
	buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "class=\"chart\" data-dimension=\"%s\" viewBox=\"0 0 640 %zu\" "
	    "role=\"img\" aria-labelledby=\"chart-%s\">", d->name, h,
	    d->name);
	buf_printf(b, "<title id=\"chart-%s\">", d->name);
	snprintf(title, sizeof(title), tr(r, N_("Bar chart: %s")),
	    dim_title(r, dim));
	html_esc(b, title);
	buf_append_str(b, "</title>\n<g font-family=\"sans-serif\" "
	    "font-size=\"12\">\n");
	if (d->n == 0) {
		buf_append_str(b, "<text x=\"8\" y=\"18\" fill=\"#555\">");
		html_tr(r, b, N_("none"));
		buf_append_str(b, "</text>\n");
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct rcell	*c = &d->v[i].c;
		const char		*l;
		size_t			 y = 4 + i * 20;
		uint64_t		 w = 0;

		buf_printf(b, "<text x=\"196\" y=\"%zu\" "
		    "text-anchor=\"end\">", y + 13);
		l = label_of(r, dim, d->v[i].key, lb, sizeof(lb));
		if (text_width(l) <= CHART_LABEL_MAX)
			html_esc(b, l);
		else {
			/* Too long for the space left of the bars: cut,
			 * with the whole label as the tooltip (the table
			 * beside the chart has it too). */
			buf_append_str(b, "<title>");
			html_esc(b, l);
			buf_append_str(b, "</title>");
			html_esc(b, cut(l, CHART_LABEL_MAX - 1, cb,
			    sizeof(cb)));
			buf_append_str(b, "\xe2\x80\xa6");
		}
		buf_append_str(b, "</text>");
		if (c->mark == M_SHOWN && max > 0)
			w = c->n * 380 / max;
		if (c->mark == M_SHOWN && c->n > 0 && w == 0)
			w = 1;
		if (w > 0)
			buf_printf(b, "<rect x=\"204\" y=\"%zu\" "
			    "width=\"%llu\" height=\"14\" fill=\"#2c6e9e\"/>",
			    y + 2, (unsigned long long)w);
		buf_printf(b, "<text x=\"%llu\" y=\"%zu\"%s>",
		    (unsigned long long)(208 + w), y + 13,
		    c->mark == M_SHOWN ? "" : " fill=\"#666\" "
		    "font-style=\"italic\"");
		html_esc(b, cell_shown(r, c, tb, sizeof(tb)));
		buf_append_str(b, "</text>\n");
	}
	buf_append_str(b, "</g></svg>\n");
}

static void
html_dim(const struct report *r, struct buf *b, int dim)
{
	const struct rdim	*d = &r->d[dim];
	char			 lb[160];

	buf_printf(b, "<section id=\"%s\">\n<h2>", d->name);
	html_esc(b, dim_title(r, dim));
	buf_append_str(b, "</h2>\n");
	if (dim_note(r, dim) != NULL) {
		buf_append_str(b, "<p class=\"note\">");
		html_esc(b, dim_note(r, dim));
		buf_append_str(b, "</p>\n");
	}
	buf_append_str(b, "<div class=\"fig\">\n");
	html_chart(r, b, dim);
	if (dim == D_SERVICE) {
		/* Five columns: the table goes under the chart, full width. */
		buf_append_str(b, "</div>\n");
		html_services(r, b);
		buf_append_str(b, "</section>\n");
		return;
	}
	buf_append_str(b, "<div class=\"tbl\"><table>\n<thead><tr>"
	    "<th scope=\"col\">");
	html_esc(b, dim_short(r, dim));
	buf_append_str(b, "</th><th scope=\"col\" class=\"n\">");
	html_esc(b, count_word(r, dim));
	buf_append_str(b, "</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < d->n; i++) {
		buf_append_str(b, "<tr><td>");
		html_esc(b, label_of(r, dim, d->v[i].key, lb, sizeof(lb)));
		buf_append_str(b, "</td>");
		html_count_td(r, b, &d->v[i].c);
		buf_append_str(b, "</tr>\n");
	}
	buf_append_str(b, "</tbody>\n");
	if (dimdefs[dim].total) {
		buf_append_str(b, "<tfoot><tr><th scope=\"row\">");
		html_tr(r, b, N_("total"));
		buf_append_str(b, "</th>");
		html_count_td(r, b, &r->ncell);
		buf_append_str(b, "</tr></tfoot>\n");
	}
	buf_append_str(b, "</table></div>\n</div>\n</section>\n");
}

static void
html_cross(const struct report *r, struct buf *b, int x)
{
	int		 rd = x == X_SEX_AGE ? D_SEX : D_PURPOSE;
	int		 cd = x == X_SEX_AGE ? D_AGE : D_SEX;
	const struct rdim *dr = &r->d[rd], *dc = &r->d[cd];
	char		 lb[160];

	buf_printf(b, "<section id=\"%s\">\n<h2>", x == X_SEX_AGE ?
	    "sex_by_age_band" : "purpose_by_sex");
	if (x == X_SEX_AGE)
		html_tr(r, b, N_("Sex \xc3\x97 age band at reception"));
	else
		html_tr(r, b, N_("Purpose \xc3\x97 sex"));
	buf_append_str(b, "</h2>\n");
	if (x == X_PURPOSE_SEX) {
		buf_append_str(b, "<p class=\"note\">");
		html_tr(r, b, N_("A case counts under each of its purposes, "
		    "so there are no column totals."));
		buf_append_str(b, "</p>\n");
	}
	buf_append_str(b, "<div class=\"tbl\"><table>\n<thead><tr>"
	    "<th scope=\"col\">");
	html_esc(b, dim_short(r, rd));
	buf_append_str(b, " \\ ");
	html_esc(b, dim_short(r, cd));
	buf_append_str(b, "</th>");
	for (size_t j = 0; j < dc->n; j++) {
		buf_append_str(b, "<th scope=\"col\" class=\"n\">");
		html_esc(b, label_of(r, cd, dc->v[j].key, lb, sizeof(lb)));
		buf_append_str(b, "</th>");
	}
	buf_append_str(b, "<th scope=\"col\" class=\"n\">");
	html_tr(r, b, N_("total"));
	buf_append_str(b, "</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < dr->n; i++) {
		buf_append_str(b, "<tr><th scope=\"row\">");
		html_esc(b, label_of(r, rd, dr->v[i].key, lb, sizeof(lb)));
		buf_append_str(b, "</th>");
		for (size_t j = 0; j < dc->n; j++)
			html_count_td(r, b, &r->x[x][i][j]);
		html_count_td(r, b, &dr->v[i].c);
		buf_append_str(b, "</tr>\n");
	}
	buf_append_str(b, "</tbody>\n");
	if (x == X_SEX_AGE) {
		buf_append_str(b, "<tfoot><tr><th scope=\"row\">");
		html_tr(r, b, N_("total"));
		buf_append_str(b, "</th>");
		for (size_t j = 0; j < dc->n; j++)
			html_count_td(r, b, &dc->v[j].c);
		html_count_td(r, b, &r->ncell);
		buf_append_str(b, "</tr></tfoot>\n");
	}
	buf_append_str(b, "</table></div>\n</section>\n");
}

static void
html_support(const struct report *r, struct buf *b)
{
	char		 sb[32], lo[48], hi[48], fig[128], line[512];
	const char	*sh = share_text(r, sb, sizeof(sb));

	buf_append_str(b, "<section id=\"support\">\n<h2>");
	html_tr(r, b, N_("Support to identified victims"));
	buf_append_str(b, "</h2>\n<p class=\"key\">");
	if (sh != NULL)
		snprintf(fig, sizeof(fig), "%s%%", decimal_mark(r, sb));
	else if (share_range(r, lo, hi, sizeof(lo)))
		snprintf(fig, sizeof(fig), tr(r, N_("Between %s%% and %s%%")),
		    decimal_mark(r, lo), decimal_mark(r, hi));
	else
		snprintf(fig, sizeof(fig), "%s", r->sup[S_IDENT].n == 0 &&
		    r->sup[S_IDENT].mark == M_SHOWN ? "\xe2\x80\x93" : "x");
	/* TRANSLATORS: %s is a share ("87.6%", "Between 80.0% and
	 * 90.5%", "x" when withheld); the sentence may start with it. */
	snprintf(line, sizeof(line), tr(r, N_("%s of identified victims "
	    "received at least one support service (target: 100%%).")), fig);
	html_esc(b, line);
	buf_append_str(b, "</p>\n<p class=\"note\">");
	html_tr(r, b, ident_def);
	buf_append_str(b, "</p>\n<div class=\"tbl\"><table>\n<tbody>\n"
	    "<tr><th scope=\"row\">");
	html_tr(r, b, N_("identified victims"));
	buf_append_str(b, "</th>");
	html_count_td(r, b, &r->sup[S_IDENT]);
	buf_append_str(b, "</tr>\n<tr><th scope=\"row\">");
	html_tr(r, b, N_("received at least one service"));
	buf_append_str(b, "</th>");
	html_count_td(r, b, &r->sup[S_WITH]);
	buf_append_str(b, "</tr>\n<tr><th scope=\"row\">");
	html_tr(r, b, N_("received no service"));
	buf_append_str(b, "</th>");
	html_count_td(r, b, &r->sup[S_WITHOUT]);
	buf_append_str(b, "</tr>\n</tbody>\n</table></div>\n</section>\n");
}

static void
html_services(const struct report *r, struct buf *b)
{
	const struct rdim	*d = &r->d[D_SERVICE];
	const char		*heads[4] = {
		N_("persons"), N_("services"), N_("VND"), N_("days"),
	};
	char			 lb[160];

	buf_append_str(b, "<div class=\"tbl\"><table>\n<thead><tr>"
	    "<th scope=\"col\">");
	html_tr(r, b, N_("type (Art. 37 \xc2\xa7" "1)"));
	buf_append_str(b, "</th>");
	for (size_t k = 0; k < 4; k++) {
		buf_append_str(b, "<th scope=\"col\" class=\"n\">");
		html_tr(r, b, heads[k]);
		buf_append_str(b, "</th>");
	}
	buf_append_str(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct rval	*v = &d->v[i];
		int			 hid = v->c.mark != M_SHOWN;

		buf_append_str(b, "<tr><td>");
		html_esc(b, label_of(r, D_SERVICE, v->key, lb, sizeof(lb)));
		buf_append_str(b, "</td>");
		html_count_td(r, b, &v->c);
		html_measure_td(b, hid, v->events, sum_sep(r));
		html_measure_td(b, hid, v->vnd, sum_sep(r));
		html_measure_td(b, hid, v->days, sum_sep(r));
		buf_append_str(b, "</tr>\n");
	}
	buf_append_str(b, "</tbody>\n<tfoot><tr><th scope=\"row\">");
	html_tr(r, b, N_("total"));
	buf_append_str(b, "</th><td></td><td></td>");
	html_measure_td(b, r->measures_hidden, r->vnd_total, sum_sep(r));
	html_measure_td(b, r->measures_hidden, r->days_total, sum_sep(r));
	buf_append_str(b, "</tr></tfoot>\n</table></div>\n");
}

static void
render_html(const struct report *r, struct buf *b)
{
	char	pb[160], sb[160], tb[32], gb[I18N_DATE_MAX], line[512];

	period_text(r, pb, sizeof(pb));
	scope_text(r, sb, sizeof(sb));
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n",
	    i18n_lang_code(r->o.lang));
	buf_append_str(b, html_meta);
	buf_append_str(b, "<title>");
	snprintf(line, sizeof(line), tr(r, N_("casesync report: %s, %s")),
	    pb, sb);
	html_esc(b, line);
	buf_append_str(b, "</title>\n");
	buf_append_str(b, html_style);
	buf_append_str(b, "</head>\n<body>\n<header>\n<h1>");
	snprintf(line, sizeof(line), tr(r, N_("Trafficking victims: %s, %s")),
	    pb, sb);
	html_esc(b, line);
	buf_append_str(b, "</h1>\n<p class=\"note\">");
	snprintf(line, sizeof(line), tr(r, N_("Made with casesync on node %s "
	    "on %s.")), r->o.node, date_shown(r, r->o.generated, gb,
	    sizeof(gb)));
	html_esc(b, line);
	buf_append_str(b, "</p>\n");
	if (r->o.min_cell > 1) {
		snprintf(line, sizeof(line), tr(r, small_cells),
		    r->o.min_cell, r->o.min_cell, r->o.min_cell);
		buf_append_str(b, "<p class=\"note\">");
		html_esc(b, line);
		buf_append_str(b, "</p>\n");
	}
	buf_append_str(b, "</header>\n<main>\n");
	if (r->withheld) {
		snprintf(line, sizeof(line), tr(r, N_("Fewer than %u cases: "
		    "nothing is published.")), r->o.min_cell);
		buf_append_str(b, "<p>");
		html_esc(b, line);
		buf_append_str(b, "</p>\n</main>\n</body>\n</html>\n");
		return;
	}
	buf_append_str(b, "<section id=\"cases\">\n<h2>");
	html_tr(r, b, N_("Cases received"));
	buf_append_str(b, "</h2>\n<p class=\"key\">");
	html_esc(b, cell_shown(r, &r->ncell, tb, sizeof(tb)));
	buf_append_str(b, "</p>\n<p class=\"note\">");
	html_tr(r, b, N_("Cases without a reception date:"));
	buf_append_str(b, " <span class=\"cnt\">");
	html_esc(b, cell_shown(r, &r->undated, tb, sizeof(tb)));
	buf_append_str(b, "</span> (");
	html_tr(r, b, has_period(r) ? undated_out : undated_in);
	buf_append_str(b, ").</p>\n</section>\n");
	for (int d = D_PROVINCE; d <= D_STATUS; d++)
		html_dim(r, b, d);
	html_cross(r, b, X_SEX_AGE);
	html_cross(r, b, X_PURPOSE_SEX);
	html_support(r, b);
	html_dim(r, b, D_SERVICE);
	html_dim(r, b, D_REFOUT);
	html_dim(r, b, D_REFIN);
	html_dim(r, b, D_REFPEND);
	buf_append_str(b, "</main>\n</body>\n</html>\n");
}

/* ---------------------------------------------------------------- */

int
report_render(const struct report *r, enum report_format f,
    struct buf *out)
{
	struct buf	b;
	int		rc;

	buf_init(&b, REPORT_OUT_MAX);
	switch (f) {
	case REPORT_CSV:
		render_csv(r, &b);
		break;
	case REPORT_JSON:
		render_json(r, &b);
		break;
	case REPORT_HTML:
		render_html(r, &b);
		break;
	default:
		render_text(r, &b);
		break;
	}
	/*
	 * The renderers do not check each append.  Every single append is
	 * shorter than APPEND_MAX, so if one failed at the cap the length
	 * had already passed REPORT_OUT_MAX - APPEND_MAX, and it never
	 * shrinks: one check at the end finds it.
	 */
	if (b.len > REPORT_OUT_MAX - APPEND_MAX)
		rc = E_TOOBIG;
	else
		rc = buf_append(out, b.data, b.len);
	buf_release(&b);
	return rc;
}

int
report_parse_date(const char *s, char *out)
{
	static const int	mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			y = 0, m, d, md;

	if (s == NULL || strlen(s) != REPORT_DATE_LEN || s[4] != '-' ||
	    s[7] != '-')
		return E_INVAL;
	for (int i = 0; i < REPORT_DATE_LEN; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return E_INVAL;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || y > 2100 || m < 1 || m > 12)
		return E_INVAL;
	md = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		md = 29;
	if (d < 1 || d > md)
		return E_INVAL;
	memcpy(out, s, REPORT_DATE_LEN);
	out[REPORT_DATE_LEN] = '\0';
	return 0;
}

int
report_parse_format(const char *s, enum report_format *f)
{
	static const char *const names[] = { "text", "csv", "json", "html" };

	for (size_t i = 0; s != NULL && i < NELEM(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*f = (enum report_format)i;
			return 0;
		}
	return E_INVAL;
}

#ifdef SELFTEST
#include "../common/selftest.h"

/* Builds a 1-D grid with total from counts and runs the protection. */
static void
st_line(const uint64_t *n, size_t len, unsigned k, struct rcell *c,
    struct rcell *tot)
{
	struct grid g;

	tot->n = 0;
	tot->mark = M_SHOWN;
	grid_init(&g, G_ROWS, 1, len + 1);
	for (size_t i = 0; i < len; i++) {
		c[i].n = n[i];
		c[i].mark = M_SHOWN;
		mark_primary(&c[i], k);
		tot->n += n[i];
		grid_set(&g, 0, i, &c[i], 0);
	}
	grid_set(&g, 0, len, tot, 1);
	grid_protect(&g, k);
	grid_release(&g);
}

int
report_selftest(void)
{
	struct rcell	c[4], tot;
	char		d[REPORT_DATE_LEN + 1];
	enum report_format f;

	ST_OK(report_parse_date("2024-02-29", d));
	ST_CHECK(report_parse_date("2025-02-29", d) == E_INVAL);
	ST_CHECK(report_parse_date("2025-13-01", d) == E_INVAL);
	ST_CHECK(report_parse_date("2025-1-01", d) == E_INVAL);
	ST_CHECK(report_parse_date("1899-12-31", d) == E_INVAL);
	ST_OK(report_parse_format("html", &f));
	ST_CHECK(f == REPORT_HTML);
	ST_CHECK(report_parse_format("xml", &f) == E_INVAL);

	/* The report's own lists name schema values only. */
	for (size_t i = 0; v_identified[i] != NULL; i++)
		ST_CHECK(schema_enum_label(SCHEMA_ENUM_STATUS,
		    v_identified[i]) != NULL);
	for (int k = 0; k < D__N; k++)
		ST_CHECK(dimdefs[k].senum < 0 || schema_enum_values(
		    (enum schema_enum)dimdefs[k].senum) != NULL);

	/* One small cell: the smallest cell that leaves it ambiguous. */
	{
		const uint64_t n[] = { 50, 7, 2, 0 };
		st_line(n, 4, 5, c, &tot);
		ST_CHECK(c[2].mark == M_PRIMARY);
		ST_CHECK(c[1].mark == M_SECONDARY);
		ST_CHECK(c[0].mark == M_SHOWN && c[3].mark == M_SHOWN);
	}
	/* 1 next to exactly K: hiding K would leave 1 + K = 6 with the K
	 * cell at its minimum, so a larger cell is taken. */
	{
		const uint64_t n[] = { 50, 5, 1, 0 };
		st_line(n, 4, 5, c, &tot);
		ST_CHECK(c[2].mark == M_PRIMARY);
		ST_CHECK(c[0].mark == M_SECONDARY);
		ST_CHECK(c[1].mark == M_SHOWN);
	}
	/* Two small cells protect each other unless both are 1. */
	{
		const uint64_t n[] = { 50, 2, 1, 0 };
		st_line(n, 4, 5, c, &tot);
		ST_CHECK(c[0].mark == M_SHOWN);
		ST_CHECK(c[1].mark == M_PRIMARY && c[2].mark == M_PRIMARY);
	}
	{
		const uint64_t n[] = { 50, 1, 1, 0 };
		st_line(n, 4, 5, c, &tot);
		ST_CHECK(c[0].mark == M_SECONDARY);
	}
	/* No cycle possible: the line is withheld. */
	{
		const uint64_t n[] = { 5, 1, 0, 0 };
		st_line(n, 4, 5, c, &tot);
		ST_CHECK(c[0].mark == M_WITHHELD && c[1].mark == M_WITHHELD);
		ST_CHECK(c[2].mark == M_WITHHELD && tot.mark == M_SHOWN);
	}
	/* K = 1: nothing is suppressed. */
	{
		const uint64_t n[] = { 5, 1, 0, 0 };
		st_line(n, 4, 1, c, &tot);
		ST_CHECK(c[1].mark == M_SHOWN);
	}
	/*
	 * A table with margins where the only small person sits alone in
	 * its row and column: no rectangle helps, a 6-cycle through the
	 * margins does (rows female, male, other; columns 18-29, 30-44).
	 */
	{
		static const uint64_t v[3][2] = { { 20, 0 }, { 6, 0 },
		    { 0, 1 } };
		static const uint64_t rm[3] = { 20, 6, 1 }, cm[2] = { 26, 1 };
		struct rcell	x[3][2], rows[3], cols[2], n;
		struct grid	g;

		grid_init(&g, G_FULL, 4, 3);
		for (size_t i = 0; i < 3; i++) {
			for (size_t j = 0; j < 2; j++) {
				x[i][j].n = v[i][j];
				x[i][j].mark = M_SHOWN;
				mark_primary(&x[i][j], 5);
				grid_set(&g, i, j, &x[i][j], 0);
			}
			rows[i].n = rm[i];
			rows[i].mark = M_SHOWN;
			mark_primary(&rows[i], 5);
			grid_set(&g, i, 2, &rows[i], 0);
		}
		for (size_t j = 0; j < 2; j++) {
			cols[j].n = cm[j];
			cols[j].mark = M_SHOWN;
			mark_primary(&cols[j], 5);
			grid_set(&g, 3, j, &cols[j], 0);
		}
		n.n = 27;
		n.mark = M_SHOWN;
		grid_set(&g, 3, 2, &n, 1);
		grid_protect(&g, 5);
		grid_release(&g);
		ST_CHECK(x[2][1].mark == M_PRIMARY);
		ST_CHECK(rows[1].mark == M_SECONDARY);
		ST_CHECK(x[1][0].mark == M_SECONDARY);
		ST_CHECK(cols[0].mark == M_SECONDARY);
		ST_CHECK(rows[0].mark == M_SHOWN && x[0][0].mark == M_SHOWN);
		ST_CHECK(n.mark == M_SHOWN);
	}
	return 0;
}
#endif

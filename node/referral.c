/*
 * referral.c - referrals and their answers as local writes (referral.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "referral.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* The store's message for one entry starts "entry 1: ": drop that. */
static int
write_one(struct store *st, struct entry *e, char *err, size_t errsz)
{
	int rc = store_write_local(st, e, 1, err, errsz);

	if (rc != 0 && strncmp(err, "entry 1: ", 9) == 0)
		memmove(err, err + 9, strlen(err + 9) + 1);
	return rc;
}

static int
reason_ok(const char *reason, char *err, size_t errsz)
{
	if (reason == NULL || reason[0] == '\0' ||
	    strlen(reason) > REFERRAL_REASON_MAX) {
		snprintf(err, errsz, "the reason must be 1 to %d bytes of text",
		    REFERRAL_REASON_MAX);
		return E_INVAL;
	}
	return 0;
}

static void
add_event(struct entry *e, const char *coll, const char *id,
    const char *v)
{
	struct op *o = entry_add_op(e, OP_EVENT);

	strlcpy_(o->path, coll, sizeof(o->path));
	strlcpy_(o->evid, id, sizeof(o->evid));
	op_set_value(o, v, strlen(v));
}

/* The referral event; "completed" when ownership moves with it. */
static char *
referral_value(const char *from, const char *to, const char *on, int now)
{
	static const char	 tail[] = "\"status\":\"proposed\"}";
	char			*r, *out;
	size_t			 n;

	if ((r = schema_referral_json(from, to, on)) == NULL || !now)
		return r;
	/* The status is the last member of the canonical object. */
	n = strlen(r);
	if (n < sizeof(tail) - 1 || strcmp(r + n - (sizeof(tail) - 1),
	    tail) != 0) {
		free(r);
		return NULL;
	}
	out = xmalloc(n + 8);
	memcpy(out, r, n - (sizeof(tail) - 1));
	strlcpy_(out + n - (sizeof(tail) - 1), "\"status\":\"completed\"}",
	    sizeof(tail) + 8);
	free(r);
	return out;
}

int
referral_make(struct store *st, const char *author, const char *node,
    const char *id, const char *to, const char *reason, const char *today,
    char *from, int *now, char *err, size_t errsz)
{
	struct case_state	 s;
	struct entry		 e;
	struct op		*o;
	char			 evid[ENTRY_CASE_ID_LEN + 1];
	char			*ref = NULL, *rsn = NULL;
	int			 rc;

	from[0] = '\0';
	*now = strcmp(node, "central") == 0;
	if (!node_id_valid(to) || !schema_node_known(to)) {
		snprintf(err, errsz, "unknown node '%s' (see "
		    "deploy/provinces.tsv)", to);
		return E_INVAL;
	}
	if (strcmp(to, "central") == 0) {
		snprintf(err, errsz, "a case is owned by a province; central "
		    "can change every case already");
		return E_INVAL;
	}
	if (reason != NULL && (rc = reason_ok(reason, err, errsz)) != 0)
		return rc;
	if (!uuid_valid(id) || store_case_get_sealed(st, id, &s) != 0) {
		snprintf(err, errsz, "no case %s on this node", id);
		return E_NOTFOUND;
	}
	if (strcmp(s.owner, to) == 0) {
		snprintf(err, errsz, "case %s is owned by %s already", id, to);
		state_release(&s);
		return E_CONFLICT;
	}
	strlcpy_(from, s.owner[0] ? s.owner : node, HLC_NODE_MAX + 1);
	state_release(&s);
	ref = referral_value(from, to, today, *now);
	rsn = reason != NULL ? schema_reason_json(reason) : NULL;
	if (ref == NULL || (reason != NULL && rsn == NULL)) {
		snprintf(err, errsz, "the referral does not fit the schema");
		free(ref);
		free(rsn);
		return E_INVAL;
	}
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	strlcpy_(e.author, author, sizeof(e.author));
	uuid7(evid, now_ms());
	add_event(&e, "referrals", evid, ref);
	/* The reason is identifying: an event of its own under the
	 * referral's id (schema.h, schema_reason_json). */
	if (rsn != NULL)
		add_event(&e, "referral_reasons", evid, rsn);
	if (*now) {
		o = entry_add_op(&e, OP_TRANSFER);
		strlcpy_(o->to, to, sizeof(o->to));
	}
	rc = write_one(st, &e, err, errsz);
	if (rc == 0)
		log_info("case %s %s from %s to %s by %s", id, *now ?
		    "reassigned" : "offered", from, to, author);
	entry_release(&e);
	free(ref);
	free(rsn);
	return rc;
}

int
referral_answer(struct store *st, const char *author, const char *node,
    const char *id, int accept, const char *reason, const char *today,
    struct offer *o, char *err, size_t errsz)
{
	struct case_state	 s;
	struct entry		 e;
	struct op		*op;
	char			*ans = NULL, *dec = NULL;
	int			 rc, pending;

	memset(o, 0, sizeof(*o));
	if (!accept && (rc = reason_ok(reason, err, errsz)) != 0)
		return rc;
	if (!uuid_valid(id) || store_case_get_sealed(st, id, &s) != 0) {
		snprintf(err, errsz, "no case %s on this node", id);
		return E_NOTFOUND;
	}
	pending = offer_pending(&s, o);
	state_release(&s);
	if (!pending || strcmp(o->to, node) != 0) {
		snprintf(err, errsz, "no referral of case %s waits for %s's "
		    "answer", id, node);
		return E_CONFLICT;
	}
	ans = schema_answer_json(today, accept);
	dec = accept ? NULL : schema_decline_json(reason);
	if (ans == NULL || (!accept && dec == NULL)) {
		snprintf(err, errsz, "the answer does not fit the schema");
		free(ans);
		free(dec);
		return E_INVAL;
	}
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	strlcpy_(e.author, author, sizeof(e.author));
	add_event(&e, "referral_answers", o->id, ans);
	if (accept) {
		op = entry_add_op(&e, OP_TRANSFER);
		strlcpy_(op->to, node, sizeof(op->to));
	} else
		add_event(&e, "decline_reasons", o->id, dec);
	rc = write_one(st, &e, err, errsz);
	if (rc == 0)
		log_info("referral of case %s from %s %s by %s", id, o->from,
		    accept ? "accepted" : "declined", author);
	entry_release(&e);
	free(ans);
	free(dec);
	return rc;
}

struct each_ctx {
	const char	*node;
	int		 which;
	char		(*ids)[ENTRY_CASE_ID_LEN + 1];
	size_t		 n, cap;
};

static int
collect(const struct case_state *s, void *arg)
{
	struct each_ctx	*c = arg;
	struct offer	 o;

	if (!offer_pending(s, &o) && !((c->which & REFERRAL_ANSWERED) &&
	    offer_latest(s, &o) && offer_answer(s, o.id, NULL) != 0))
		return 0;
	if (!(c->which & REFERRAL_ALL) &&
	    !((c->which & REFERRAL_IN) && strcmp(o.to, c->node) == 0) &&
	    !((c->which & REFERRAL_OUT) && strcmp(o.from, c->node) == 0))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->ids = xreallocarray(c->ids, c->cap, sizeof(*c->ids));
	}
	strlcpy_(c->ids[c->n++], s->id, sizeof(c->ids[0]));
	return 0;
}

int
referral_each(struct store *st, const char *node, int which,
    int (*fn)(const struct referral_item *, void *), void *arg)
{
	struct each_ctx	c;
	int		rc;

	memset(&c, 0, sizeof(c));
	c.node = node;
	c.which = which;
	/* The offer set, not every case (offerset.c). */
	if ((rc = store_offers_each(st, collect, &c)) != 0) {
		free(c.ids);
		return rc;
	}
	for (size_t i = 0; i < c.n && rc == 0; i++) {
		struct case_state	s;
		struct referral_item	it;
		char			reason[REFERRAL_REASON_MAX + 1];
		const char		*author = "";

		/* The reason is sealed at rest: opened per listed offer
		 * only. */
		if (store_case_get(st, c.ids[i], &s) != 0)
			continue;
		memset(&it, 0, sizeof(it));
		if (!offer_pending(&s, &it.offer) &&
		    !((which & REFERRAL_ANSWERED) && offer_latest(&s,
		    &it.offer) && (it.answer = offer_answer(&s, it.offer.id,
		    NULL)) != 0)) {
			state_release(&s);
			continue;
		}
		reason[0] = '\0';
		for (size_t k = 0; k < s.nevents; k++) {
			const struct event *ev = &s.events[k];

			if (strcmp(ev->id, it.offer.id) != 0)
				continue;
			if (strcmp(ev->coll, "referral_reasons") == 0 &&
			    !schema_event_str(ev, "text", reason,
			    sizeof(reason)))
				reason[0] = '\0';
			if (strcmp(ev->coll, "referrals") == 0)
				author = ev->author;
			if (strcmp(ev->coll, "referral_answers") == 0)
				it.answer_st = ev->st;
		}
		it.case_id = s.id;
		it.reason = reason;
		it.author = author;
		it.s = &s;
		rc = fn(&it, arg);
		state_release(&s);
	}
	free(c.ids);
	return rc;
}

static int
digits(const char *d, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (d[i] - '0');
	return v;
}

static int
day_number(const char *d, long *out)
{
	struct tm	tm;

	if (d == NULL || !schema_date_valid(d))
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits(d, 4) - 1900;
	tm.tm_mon = digits(d + 5, 2) - 1;
	tm.tm_mday = digits(d + 8, 2);
	tm.tm_hour = 12;
	*out = (long)(timegm(&tm) / 86400);
	return 1;
}

int
referral_days(const char *on, const char *today)
{
	long a, b;

	if (!day_number(on, &a) || !day_number(today, &b) || b < a)
		return 0;
	return (int)(b - a);
}

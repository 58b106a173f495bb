/*
 * offer.c - referrals between provinces as offers (see offer.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "merge.h"
#include "offer.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/util.h"

#define STATUS_MAX	16

/* Member member of a stored event value (JSON text), as a string. */
static int
value_str(const uint8_t *v, size_t len, const char *member, char *buf,
    size_t sz)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.value = (uint8_t *)(uintptr_t)v;
	ev.value_len = len;
	return schema_event_str(&ev, member, buf, sz);
}

static int
is_proposed(const uint8_t *v, size_t len)
{
	char st[STATUS_MAX];

	return value_str(v, len, "status", st, sizeof(st)) &&
	    strcmp(st, "proposed") == 0;
}

int
offer_answer(const struct case_state *s, const char *id, char *on)
{
	char st[STATUS_MAX];

	for (size_t i = 0; i < s->nevents; i++) {
		const struct event *ev = &s->events[i];

		if (strcmp(ev->coll, "referral_answers") != 0 ||
		    strcmp(ev->id, id) != 0)
			continue;
		if (!value_str(ev->value, ev->value_len, "status", st,
		    sizeof(st)))
			return 0;
		if (on != NULL && !value_str(ev->value, ev->value_len, "on",
		    on, OFFER_DATE_LEN + 1))
			on[0] = '\0';
		if (strcmp(st, "accepted") == 0)
			return OFFER_ACCEPTED;
		if (strcmp(st, "rejected") == 0)
			return OFFER_DECLINED;
		return 0;
	}
	return 0;
}

int
offer_latest(const struct case_state *s, struct offer *o)
{
	const struct event	*best = NULL;

	for (size_t i = 0; i < s->nevents; i++) {
		const struct event *ev = &s->events[i];

		if (strcmp(ev->coll, "referrals") != 0 ||
		    !is_proposed(ev->value, ev->value_len))
			continue;
		if (best == NULL || stamp_cmp(&ev->st, &best->st) > 0)
			best = ev;
	}
	if (best == NULL)
		return 0;
	memset(o, 0, sizeof(*o));
	strlcpy_(o->id, best->id, sizeof(o->id));
	o->st = best->st;
	if (!value_str(best->value, best->value_len, "from", o->from,
	    sizeof(o->from)) ||
	    !value_str(best->value, best->value_len, "to", o->to,
	    sizeof(o->to)) ||
	    !value_str(best->value, best->value_len, "on", o->on,
	    sizeof(o->on)))
		return 0;
	return 1;
}

int
offer_pending(const struct case_state *s, struct offer *o)
{
	if (!offer_latest(s, o))
		return 0;
	/* Made in an earlier ownership, by a node that no longer owns the
	 * case, or answered: nothing is pending. */
	if (s->owner_st.hlc != 0 && stamp_cmp(&o->st, &s->owner_st) <= 0)
		return 0;
	if (strcmp(o->from, s->owner) != 0 || strcmp(o->to, s->owner) == 0)
		return 0;
	return offer_answer(s, o->id, NULL) == 0;
}

int
offer_pending_to(const struct case_state *s, const char *node)
{
	struct offer o;

	return offer_pending(s, &o) && strcmp(o.to, node) == 0;
}

size_t
offer_count_made(const struct entry *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_EVENT && e->ops[i].value != NULL &&
		    strcmp(e->ops[i].path, "referrals") == 0 &&
		    is_proposed((const uint8_t *)e->ops[i].value,
		    e->ops[i].value_len))
			n++;
	return n;
}

int
offer_made_to(const struct entry *e, char *to, size_t tosz)
{
	int found = 0;

	for (size_t i = 0; i < e->nops; i++)
		if (e->ops[i].type == OP_EVENT && e->ops[i].value != NULL &&
		    strcmp(e->ops[i].path, "referrals") == 0 &&
		    is_proposed((const uint8_t *)e->ops[i].value,
		    e->ops[i].value_len) &&
		    value_str((const uint8_t *)e->ops[i].value,
		    e->ops[i].value_len, "to", to, tosz))
			found = 1;
	return found;
}

static int	refuse(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	return E_AUTH;
}

/* Checks an answer (accept or decline) of origin to s's pending offer. */
static int
check_answer(const struct case_state *s, const struct entry *e,
    const char *origin, enum offer_kind *kind, char *why, size_t whysz)
{
	const struct op	*ans = NULL, *dec = NULL;
	struct offer	 o;
	struct stamp	 st;
	size_t		 nans = 0, ndec = 0, nself = 0;
	char		 status[STATUS_MAX];

	for (size_t i = 0; i < e->nops; i++) {
		const struct op *op = &e->ops[i];

		if (op->type == OP_EVENT &&
		    strcmp(op->path, "referral_answers") == 0) {
			ans = op;
			nans++;
		} else if (op->type == OP_EVENT &&
		    strcmp(op->path, "decline_reasons") == 0) {
			dec = op;
			ndec++;
		} else if (op->type == OP_TRANSFER &&
		    strcmp(op->to, origin) == 0)
			nself++;
	}
	if (nans != 1 || ans->value == NULL)
		return refuse(why, whysz, "case %s: an answer answers exactly "
		    "one referral", e->case_id);
	if (!offer_pending(s, &o))
		return refuse(why, whysz, "case %s has no referral waiting for "
		    "an answer", e->case_id);
	if (strcmp(ans->evid, o.id) != 0)
		return refuse(why, whysz, "case %s: the referral waiting for "
		    "an answer is %s, not %s", e->case_id, o.id, ans->evid);
	if (strcmp(o.to, origin) != 0)
		return refuse(why, whysz, "case %s: its referral waits for the "
		    "answer of %s, not of %s", e->case_id, o.to, origin);
	if (e->hlc != 0) {
		st.hlc = e->hlc;
		strlcpy_(st.node, origin, sizeof(st.node));
		if (stamp_cmp(&st, &o.st) <= 0 || (s->owner_st.hlc != 0 &&
		    stamp_cmp(&st, &s->owner_st) <= 0))
			return refuse(why, whysz, "case %s: the answer is "
			    "stamped before the referral it answers",
			    e->case_id);
	}
	if (!value_str((const uint8_t *)ans->value, ans->value_len, "status",
	    status, sizeof(status)))
		status[0] = '\0';
	if (strcmp(status, "accepted") == 0 && nself == 1 && ndec == 0 &&
	    e->nops == 2) {
		*kind = OFFER_ACCEPT;
		return 0;
	}
	if (strcmp(status, "rejected") == 0 && ndec == 1 && nself == 0 &&
	    e->nops == 2 && strcmp(dec->evid, o.id) == 0) {
		*kind = OFFER_DECLINE;
		return 0;
	}
	return refuse(why, whysz, "case %s: an answer is \"accepted\" with "
	    "the case's transfer to %s, or \"rejected\" with its reason, and "
	    "nothing else", e->case_id, origin);
}

int
offer_is_answer(const struct entry *e)
{
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *op = &e->ops[i];

		if (op->type == OP_EVENT &&
		    (strcmp(op->path, "referral_answers") == 0 ||
		    strcmp(op->path, "decline_reasons") == 0))
			return 1;
	}
	return 0;
}

int
offer_check(const struct case_state *s, const struct entry *e,
    const char *origin, int origin_central, enum offer_kind *kind,
    char *why, size_t whysz)
{
	const struct op	*prop = NULL;
	size_t		 nprop = 0, ntr = 0;
	char		 from[HLC_NODE_MAX + 1], to[HLC_NODE_MAX + 1];

	*kind = OFFER_NONE;
	why[0] = '\0';
	if (offer_is_answer(e))
		return check_answer(s, e, origin, kind, why, whysz);
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *op = &e->ops[i];

		if (op->type == OP_TRANSFER) {
			ntr++;
			if (!origin_central && strcmp(op->to, origin) != 0)
				return refuse(why, whysz, "case %s: a province "
				    "refers a case by an offer that %s "
				    "accepts; it cannot move the case to %s",
				    e->case_id, op->to, op->to);
		}
		if (op->type == OP_EVENT && op->value != NULL &&
		    strcmp(op->path, "referrals") == 0 &&
		    is_proposed((const uint8_t *)op->value, op->value_len)) {
			prop = op;
			nprop++;
		}
	}
	if (nprop == 0)
		return 0;
	*kind = OFFER_MAKE;
	if (nprop != 1 || ntr != 0)
		return refuse(why, whysz, "case %s: an offer makes one referral "
		    "and does not move the case", e->case_id);
	if (!value_str((const uint8_t *)prop->value, prop->value_len, "from",
	    from, sizeof(from)) || !value_str((const uint8_t *)prop->value,
	    prop->value_len, "to", to, sizeof(to)))
		return refuse(why, whysz, "case %s: a referral without from or "
		    "to", e->case_id);
	if (s->owner[0] == '\0' || strcmp(from, s->owner) != 0)
		return refuse(why, whysz, "case %s: a referral is made from "
		    "its owner %s, not from %s", e->case_id, s->owner, from);
	if (strcmp(to, s->owner) == 0 || strcmp(to, "central") == 0)
		return refuse(why, whysz, "case %s: cannot be referred to %s",
		    e->case_id, to);
	/* An offer waiting is no reason to refuse: the later offer
	 * withdraws it (offer_pending).  Whether one waits depends on its
	 * answer, which a restored or promoted central may not hold yet
	 * when the later offer, written after the answer, reaches it
	 * (chaos seed 210).  One offer at a time is offer_one's rule, for
	 * the node that writes. */
	return 0;
}

int
offer_one(const struct case_state *s, const struct entry *e, char *why,
    size_t whysz)
{
	struct offer o;

	why[0] = '\0';
	if (offer_count_made(e) == 0 || !offer_pending(s, &o))
		return 0;
	return refuse(why, whysz, "case %s is already referred to %s (on %s); "
	    "wait for its answer", e->case_id, o.to, o.on);
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define OT_CASE	"0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"

static void
ot_entry(struct entry *e, const char *origin, uint64_t hlc)
{
	entry_init(e);
	strlcpy_(e->origin, origin, sizeof(e->origin));
	strlcpy_(e->case_id, OT_CASE, sizeof(e->case_id));
	strlcpy_(e->author, "t", sizeof(e->author));
	e->seq = hlc;
	e->hlc = hlc;
}

static void
ot_event(struct entry *e, const char *coll, const char *id, const char *v)
{
	struct op *o = entry_add_op(e, OP_EVENT);

	strlcpy_(o->path, coll, sizeof(o->path));
	strlcpy_(o->evid, id, sizeof(o->evid));
	op_set_value(o, v, strlen(v));
}

static void
ot_transfer(struct entry *e, const char *to)
{
	struct op *o = entry_add_op(e, OP_TRANSFER);

	strlcpy_(o->to, to, sizeof(o->to));
}

static void
ot_offer(struct entry *e, const char *id, const char *from, const char *to)
{
	char v[160];

	snprintf(v, sizeof(v), "{\"from\":\"%s\",\"to\":\"%s\",\"on\":"
	    "\"2026-12-01\",\"status\":\"proposed\"}", from, to);
	ot_event(e, "referrals", id, v);
}

static void
ot_answer(struct entry *e, const char *id, int accept)
{
	ot_event(e, "referral_answers", id, accept ?
	    "{\"on\":\"2026-12-02\",\"status\":\"accepted\"}" :
	    "{\"on\":\"2026-12-02\",\"status\":\"rejected\"}");
	if (accept)
		ot_transfer(e, e->origin);
	else
		ot_event(e, "decline_reasons", id, "{\"text\":\"no place\"}");
}

/* Checks e against s as central would, and applies it when valid. */
static int
ot_step(struct case_state *s, struct entry *e, enum offer_kind want)
{
	enum offer_kind	k;
	char		why[200];
	int		rc;

	rc = offer_check(s, e, e->origin, strcmp(e->origin, "central") == 0,
	    &k, why, sizeof(why));
	if (rc == 0 && k == want)
		rc = merge_apply(s, e);
	else if (rc == 0)
		rc = E_INVAL;
	entry_release(e);
	return rc;
}

int
offer_selftest(void)
{
	struct case_state	s, t;
	struct entry		e, acc, acc2;
	struct offer		o;
	char			on[OFFER_DATE_LEN + 1], why2[200];

	state_init(&s, OT_CASE);
	ot_entry(&e, "lao-cai", 100);
	ot_transfer(&e, "lao-cai");
	ST_OK(ot_step(&s, &e, OFFER_NONE));
	ST_CHECK(!offer_pending(&s, &o));

	/* A province cannot give a case away, central can. */
	ot_entry(&e, "lao-cai", 110);
	ot_transfer(&e, "ha-noi");
	ST_CHECK(ot_step(&s, &e, OFFER_NONE) == E_AUTH);

	/* An offer: pending to ha-noi, the owner does not change. */
	ot_entry(&e, "lao-cai", 200);
	ot_offer(&e, "o1", "lao-cai", "ha-noi");
	ST_OK(ot_step(&s, &e, OFFER_MAKE));
	ST_CHECK(offer_pending(&s, &o) && strcmp(o.to, "ha-noi") == 0 &&
	    strcmp(o.id, "o1") == 0 && strcmp(s.owner, "lao-cai") == 0);
	ST_CHECK(offer_pending_to(&s, "ha-noi") &&
	    !offer_pending_to(&s, "lao-cai"));
	/* A second offer while one is pending: the writing node refuses
	 * it (offer_one); central takes it, and it withdraws the first,
	 * whose answer stamped after it is refused. */
	ot_entry(&e, "lao-cai", 210);
	ot_offer(&e, "o2", "lao-cai", "nghe-an");
	ST_CHECK(offer_one(&s, &e, why2, sizeof(why2)) == E_AUTH &&
	    strstr(why2, "already referred to ha-noi") != NULL);
	state_copy(&t, &s);
	ST_OK(ot_step(&t, &e, OFFER_MAKE));
	ST_CHECK(offer_pending(&t, &o) && strcmp(o.id, "o2") == 0 &&
	    strcmp(o.to, "nghe-an") == 0 && !offer_pending_to(&t, "ha-noi"));
	ot_entry(&e, "ha-noi", 300);
	ot_answer(&e, "o1", 0);
	ST_CHECK(ot_step(&t, &e, OFFER_DECLINE) == E_AUTH);
	ot_entry(&e, "nghe-an", 300);
	ot_answer(&e, "o2", 1);
	ST_OK(ot_step(&t, &e, OFFER_ACCEPT));
	ST_CHECK(strcmp(t.owner, "nghe-an") == 0 && !offer_pending(&t, &o));
	state_release(&t);
	/* Anything but an offer passes offer_one. */
	ot_entry(&e, "lao-cai", 220);
	ot_event(&e, "services", "s0", "{\"type\":\"medical\",\"on\":"
	    "\"2026-12-02\"}");
	ST_CHECK(offer_one(&s, &e, why2, sizeof(why2)) == 0);
	entry_release(&e);
	/* Only the receiving province answers, after the offer. */
	ot_entry(&e, "nghe-an", 300);
	ot_answer(&e, "o1", 1);
	ST_CHECK(ot_step(&s, &e, OFFER_ACCEPT) == E_AUTH);
	ot_entry(&e, "lao-cai", 300);
	ot_answer(&e, "o1", 0);
	ST_CHECK(ot_step(&s, &e, OFFER_DECLINE) == E_AUTH);
	ot_entry(&e, "ha-noi", 150);
	ot_answer(&e, "o1", 1);
	ST_CHECK(ot_step(&s, &e, OFFER_ACCEPT) == E_AUTH);
	/* An accept that moves anything else is refused. */
	ot_entry(&e, "ha-noi", 300);
	ot_answer(&e, "o1", 1);
	ot_event(&e, "services", "s1", "{\"type\":\"medical\",\"on\":"
	    "\"2026-12-02\"}");
	ST_CHECK(ot_step(&s, &e, OFFER_ACCEPT) == E_AUTH);

	/* Declined: the case stays, the reason is there, nothing pends. */
	state_copy(&t, &s);
	ot_entry(&e, "ha-noi", 300);
	ot_answer(&e, "o1", 0);
	ST_OK(ot_step(&t, &e, OFFER_DECLINE));
	ST_CHECK(!offer_pending(&t, &o) && strcmp(t.owner, "lao-cai") == 0);
	ST_CHECK(offer_answer(&t, "o1", on) == OFFER_DECLINED &&
	    strcmp(on, "2026-12-02") == 0);
	/* A second answer (a province restored from a backup replaying
	 * one) is refused. */
	ot_entry(&e, "ha-noi", 400);
	ot_answer(&e, "o1", 1);
	ST_CHECK(ot_step(&t, &e, OFFER_ACCEPT) == E_AUTH);
	/* A new offer after the decline. */
	ot_entry(&e, "lao-cai", 500);
	ot_offer(&e, "o3", "lao-cai", "nghe-an");
	ST_OK(ot_step(&t, &e, OFFER_MAKE));
	ST_CHECK(offer_pending_to(&t, "nghe-an"));
	state_release(&t);

	/* Accepted: ha-noi owns the case; the offer is answered. */
	ot_entry(&acc, "ha-noi", 300);
	ot_answer(&acc, "o1", 1);
	ot_entry(&acc2, "ha-noi", 300);
	ot_answer(&acc2, "o1", 1);
	ST_OK(ot_step(&s, &acc, OFFER_ACCEPT));
	ST_CHECK(strcmp(s.owner, "ha-noi") == 0 && !offer_pending(&s, &o));
	ST_CHECK(offer_answer(&s, "o1", NULL) == OFFER_ACCEPTED);
	/* The same accept again is a no-op for the merge, refused here. */
	ST_CHECK(ot_step(&s, &acc2, OFFER_ACCEPT) == E_AUTH);

	/* The former owner's offer, made before it heard, is not pending
	 * once it arrives: the owner changed after it. */
	state_copy(&t, &s);
	ot_entry(&e, "lao-cai", 250);
	ot_offer(&e, "o4", "lao-cai", "nghe-an");
	ST_CHECK(merge_apply(&t, &e) == 0);
	entry_release(&e);
	ST_CHECK(!offer_pending(&t, &o));
	state_release(&t);

	/* Central's reassignment ends a pending offer. */
	ot_entry(&e, "ha-noi", 600);
	ot_offer(&e, "o5", "ha-noi", "lao-cai");
	ST_OK(ot_step(&s, &e, OFFER_MAKE));
	ST_CHECK(offer_pending_to(&s, "lao-cai"));
	ot_entry(&e, "central", 700);
	ot_transfer(&e, "nghe-an");
	ST_OK(ot_step(&s, &e, OFFER_NONE));
	ST_CHECK(!offer_pending(&s, &o) && strcmp(s.owner, "nghe-an") == 0);
	ot_entry(&e, "lao-cai", 800);
	ot_answer(&e, "o5", 1);
	ST_CHECK(ot_step(&s, &e, OFFER_ACCEPT) == E_AUTH);

	ot_entry(&e, "nghe-an", 900);
	ot_offer(&e, "o6", "nghe-an", "ha-noi");
	ST_CHECK(offer_count_made(&e) == 1);
	{
		char to[HLC_NODE_MAX + 1];

		ST_CHECK(offer_made_to(&e, to, sizeof(to)) == 1 &&
		    strcmp(to, "ha-noi") == 0);
	}
	entry_release(&e);
	state_release(&s);
	return 0;
}
#endif

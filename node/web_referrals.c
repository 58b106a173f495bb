/*
 * web_referrals.c - the referral inbox: /referrals, its accept and decline
 * forms, GET /api/referrals and POST /api/referrals/ID/accept|decline.
 *
 * On a province the page lists the offers that wait for its answer, with
 * the sending province, the day, the days waited and the reason, and
 * accept/decline buttons; then the offers it sent that wait.  On central
 * it lists every offer that has waited ?days=N days or more (7 by
 * default), and where it waits: for the receiving province to sync, for
 * its answer, or (answered) for the sending province to sync and learn
 * the answer.  Answers go through referral_answer, as `casesync case
 * accept|decline` do, with the signed-in user as author.  A reason is an
 * identifying value: each case whose reason is shown is audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonr.h"
#include "provinces.h"
#include "referral.h"
#include "web.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define RF_ROWS_MAX		500
#define RF_DAYS_DEFAULT		7

struct rf_row {
	char		case_id[ENTRY_CASE_ID_LEN + 1];
	struct offer	offer;
	int		answer;
	struct stamp	answer_st;
	char		reason[REFERRAL_REASON_MAX + 1];
	char		author[ENTRY_AUTHOR_MAX + 1];
	int		days;
	/* central: the last completed sync of the receiving and of the
	 * sending province (ms, 0: never). */
	uint64_t	to_sync_ms;
	uint64_t	from_sync_ms;
};

struct rf_list {
	struct store	*st;
	const char	*node;
	const char	*today;
	int		 central;
	long		 min_days;	/* -1: all */
	struct rf_row	*rows;
	size_t		 n;
	size_t		 total;
};

static void
today_of(const struct web_req *r, char *out, size_t sz)
{
	time_t		t = (time_t)(((int64_t)r->now_ms +
			    r->w->cfg->clock_offset_ms) / 1000);
	struct tm	tm;

	localtime_r(&t, &tm);
	if (strftime(out, sz, "%Y-%m-%d", &tm) == 0)
		strlcpy_(out, "1970-01-01", sz);
}

static int
rf_one(const struct referral_item *it, void *arg)
{
	struct rf_list	*l = arg;
	struct rf_row	*row;
	int		 days = referral_days(it->offer.on, l->today);

	if (l->min_days >= 0 && days < l->min_days)
		return 0;
	/* Answered offers matter on central only until the sender has
	 * synced after the answer (it then knows). */
	if (it->answer != 0) {
		struct peer_info pi;

		if (store_peer_get(l->st, it->offer.from, &pi) == 0 &&
		    pi.last_sync_ms > (it->answer_st.hlc >> 16))
			return 0;
	}
	l->total++;
	if (l->n == RF_ROWS_MAX)
		return 0;
	row = &l->rows[l->n++];
	memset(row, 0, sizeof(*row));
	strlcpy_(row->case_id, it->case_id, sizeof(row->case_id));
	row->offer = it->offer;
	row->answer = it->answer;
	row->answer_st = it->answer_st;
	strlcpy_(row->reason, it->reason, sizeof(row->reason));
	strlcpy_(row->author, it->author, sizeof(row->author));
	row->days = days;
	return 0;
}

/* Loads the offers this node lists (under the store lock). */
static int
rf_load(struct web_req *r, long min_days, struct rf_list *l, char *today,
    size_t todaysz)
{
	int rc, which;

	memset(l, 0, sizeof(*l));
	today_of(r, today, todaysz);
	l->st = r->w->st;
	l->node = r->w->cfg->node;
	l->today = today;
	l->central = strcmp(l->node, "central") == 0;
	l->min_days = min_days;
	l->rows = xcalloc(RF_ROWS_MAX, sizeof(*l->rows));
	which = l->central ? REFERRAL_ALL | REFERRAL_ANSWERED :
	    REFERRAL_IN | REFERRAL_OUT;
	web_lock(r);
	rc = referral_each(r->w->st, l->node, which, rf_one, l);
	if (rc == 0 && l->central) {
		for (size_t i = 0; i < l->n; i++) {
			struct peer_info pi;

			if (store_peer_get(r->w->st, l->rows[i].offer.to,
			    &pi) == 0)
				l->rows[i].to_sync_ms = pi.last_sync_ms;
			if (store_peer_get(r->w->st, l->rows[i].offer.from,
			    &pi) == 0)
				l->rows[i].from_sync_ms = pi.last_sync_ms;
		}
	}
	web_unlock(r);
	/* The reasons shown are identifying values. */
	for (size_t i = 0; rc == 0 && i < l->n; i++)
		if (l->rows[i].reason[0] != '\0')
			web_audit(r, "referral.view", l->rows[i].case_id,
			    "referral reason");
	return rc;
}

/* Where an offer waits, as seen from central. */
static const char *
rf_where(const struct rf_row *row)
{
	if (row->answer != 0)
		return "sender";	/* answered; the sender has not synced */
	if (row->to_sync_ms <= (row->offer.st.hlc >> 16))
		return "receiver_sync";
	return "receiver_answer";
}

static int
do_answer(struct web_req *r, const char *id, int accept, const char *reason,
    struct offer *o, char *err, size_t errsz)
{
	char	today[16];
	int	rc;

	if (!uuid_valid(id)) {
		snprintf(err, errsz, "'%.40s' is not a case id", id);
		return E_INVAL;
	}
	if (!accept && (reason == NULL || *reason == '\0')) {
		snprintf(err, errsz, "%s", web_tr(r, "give a reason"));
		return E_INVAL;
	}
	today_of(r, today, sizeof(today));
	web_lock(r);
	rc = referral_answer(r->w->st, r->author, r->w->cfg->node, id, accept,
	    reason, today, o, err, errsz);
	web_unlock(r);
	if (rc == 0)
		web_audit(r, accept ? "referral.accept" : "referral.decline",
		    id, o->from);
	return rc;
}

/* ---- the API ---------------------------------------------------------- */

void
web_api_referrals(struct web_req *r)
{
	struct rf_list	 l;
	struct buf	*b = &r->resp->body;
	const char	*d = web_arg(r, "days");
	char		 today[16];
	uint64_t	 days = 0;

	if (d != NULL && parse_u64(d, 0, 36500, &days) != 0) {
		web_error(r, 400, "days: a number of days from 0 to 36500");
		return;
	}
	if (rf_load(r, d != NULL ? (long)days : -1, &l, today,
	    sizeof(today)) != 0) {
		free(l.rows);
		web_error(r, 500, web_tr(r, "the store cannot be read"));
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(b, "{\"total\":");
	buf_printf(b, "%zu", l.total);
	buf_append_str(b, ",\"referrals\":[");
	for (size_t i = 0; i < l.n; i++) {
		const struct rf_row *row = &l.rows[i];

		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "case", 1);
		jsonw_str(b, row->case_id);
		jsonw_key(b, "referral", 0);
		jsonw_str(b, row->offer.id);
		jsonw_key(b, "direction", 0);
		jsonw_str(b, strcmp(row->offer.to, l.node) == 0 ? "in" :
		    strcmp(row->offer.from, l.node) == 0 ? "out" : "-");
		jsonw_key(b, "from", 0);
		jsonw_str(b, row->offer.from);
		jsonw_key(b, "to", 0);
		jsonw_str(b, row->offer.to);
		jsonw_key(b, "on", 0);
		jsonw_str(b, row->offer.on);
		jsonw_key(b, "days", 0);
		buf_printf(b, "%d", row->days);
		jsonw_key(b, "reason", 0);
		jsonw_str(b, row->reason);
		jsonw_key(b, "author", 0);
		jsonw_str(b, row->author);
		jsonw_key(b, "answer", 0);
		jsonw_str(b, row->answer == OFFER_ACCEPTED ? "accepted" :
		    row->answer == OFFER_DECLINED ? "declined" : "pending");
		if (l.central) {
			jsonw_key(b, "waiting_for", 0);
			jsonw_str(b, rf_where(row));
		}
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]}\n");
	free(l.rows);
}

static void
api_answer(struct web_req *r, int accept)
{
	struct jsonr_field f[] = {
		{ "reason", JSONR_STR, 4096, 0, NULL, 0, NULL, 0 },
	};
	struct offer	 o;
	char		 err[512];
	int		 rc;

	if (r->hr->body_len > 0 && jsonr_parse(r->hr->body, r->hr->body_len,
	    f, 1, err, sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	if (accept && f[0].present) {
		jsonr_release(f, 1);
		web_error(r, 400, "an accept takes no reason");
		return;
	}
	if (!accept && (f[0].str == NULL || f[0].str[0] == '\0')) {
		jsonr_release(f, 1);
		web_error(r, 400, "give a \"reason\" (the sending province "
		    "sees it)");
		return;
	}
	rc = do_answer(r, r->caps[0], accept, f[0].str, &o, err, sizeof(err));
	jsonr_release(f, 1);
	if (rc != 0) {
		web_error(r, web_status_for(rc), err);
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, "{\"case\":");
	jsonw_str(&r->resp->body, r->caps[0]);
	buf_append_str(&r->resp->body, ",\"referral\":");
	jsonw_str(&r->resp->body, o.id);
	buf_append_str(&r->resp->body, ",\"from\":");
	jsonw_str(&r->resp->body, o.from);
	buf_append_str(&r->resp->body, accept ? ",\"answer\":\"accepted\"}\n" :
	    ",\"answer\":\"declined\"}\n");
}

void
web_api_referral_accept(struct web_req *r)
{
	api_answer(r, 1);
}

void
web_api_referral_decline(struct web_req *r)
{
	api_answer(r, 0);
}

/* ---- the page --------------------------------------------------------- */

static const char *
prov_name(const char *node)
{
	const struct province *p = province_find(node);

	return p != NULL ? p->name : node;
}

static void
answer_forms(struct web_req *r, const struct rf_row *row)
{
	struct html	*h = &r->h;
	struct url	 u;

	html_lit(h, "<div class=\"answer\">");
	url_init(&u, "/referrals/");
	url_seg(&u, row->case_id);
	url_lit(&u, "/accept");
	web_post_form(r, "accept", &u);
	html_lit(h, "<button type=\"submit\" class=\"primary\" "
	    "name=\"answer\" value=\"accept\">");
	html_text(h, web_tr(r, "Accept the case"));
	html_lit(h, "</button></form>");
	url_init(&u, "/referrals/");
	url_seg(&u, row->case_id);
	url_lit(&u, "/decline");
	web_post_form(r, "decline", &u);
	web_reason_field(r, N_("Reason for declining (required; the sending "
	    "province sees it)"));
	html_lit(h, "<button type=\"submit\" "
	    "name=\"answer\" value=\"decline\">");
	html_text(h, web_tr(r, "Decline"));
	html_lit(h, "</button></form></div>");
}

static void
offer_card(struct web_req *r, const struct rf_list *l,
    const struct rf_row *row, int incoming)
{
	struct html	*h = &r->h;
	char		 n[24], when[40];

	web_card_begin(r, "referral", row->case_id);
	html_lit(h, "<header><h2>");
	html_text(h, web_tr(r, "Case"));
	html_lit(h, " ");
	web_case_link(r, row->case_id);
	html_lit(h, "</h2>");
	if (row->answer == OFFER_ACCEPTED)
		html_lit(h, "<span class=\"tag ok\">");
	else if (row->answer == OFFER_DECLINED)
		html_lit(h, "<span class=\"tag bad\">");
	else
		html_lit(h, "<span class=\"tag\">");
	html_text(h, web_tr(r, row->answer == OFFER_ACCEPTED ? N_("accepted") :
	    row->answer == OFFER_DECLINED ? N_("declined") :
	    N_("referral pending")));
	html_lit(h, "</span></header><dl class=\"fields\">");
	web_dl_row(r, N_("From"), prov_name(row->offer.from));
	web_dl_row(r, N_("To"), prov_name(row->offer.to));
	web_dl_row(r, N_("Date of the referral"), row->offer.on);
	snprintf(n, sizeof(n), "%d", row->days);
	web_dl_row(r, N_("Days waiting"), n);
	if (row->author[0] != '\0' && row->author[0] != STATE_AUTHOR_SEALED)
		web_dl_row(r, N_("Referred by"), row->author);
	html_lit(h, "<dt>");
	html_text(h, web_tr(r, "Reason"));
	html_lit(h, "</dt><dd>");
	if (row->reason[0] != '\0') {
		html_lit(h, "<q class=\"reason\">");
		html_text(h, row->reason);
		html_lit(h, "</q>");
	} else {
		html_lit(h, "<span class=\"muted\">");
		html_text(h, web_tr(r, "(none given)"));
		html_lit(h, "</span>");
	}
	html_lit(h, "</dd>");
	if (l->central) {
		const char *w = rf_where(row);

		html_lit(h, "<dt>");
		html_text(h, web_tr(r, "Waiting for"));
		html_lit(h, "</dt><dd>");
		if (strcmp(w, "sender") == 0)
			html_textf(h, web_tr(r, "%s to sync and learn the "
			    "answer"), prov_name(row->offer.from));
		else if (strcmp(w, "receiver_sync") == 0)
			html_textf(h, web_tr(r, "%s to sync and receive it"),
			    prov_name(row->offer.to));
		else
			html_textf(h, web_tr(r, "the answer of %s"),
			    prov_name(row->offer.to));
		html_lit(h, "</dd><dt>");
		html_text(h, web_tr(r, "Receiving province's last sync"));
		html_lit(h, "</dt><dd>");
		if (row->to_sync_ms != 0) {
			web_when(r, row->to_sync_ms << 16, when, sizeof(when));
			html_text(h, when);
			html_lit(h, " UTC");
		} else
			html_text(h, web_tr(r, "never"));
		html_lit(h, "</dd>");
	}
	html_lit(h, "</dl>");
	if (incoming)
		answer_forms(r, row);
	web_card_end(r);
}

void
web_referrals_page(struct web_req *r)
{
	struct html	*h = &r->h;
	struct rf_list	 l;
	const char	*done = web_arg(r, "done");
	const char	*d = web_arg(r, "days");
	char		 today[16], dbuf[24];
	uint64_t	 days = RF_DAYS_DEFAULT;
	size_t		 nin = 0, nout = 0;
	int		 central = strcmp(r->w->cfg->node, "central") == 0;

	if (d != NULL && *d != '\0' && parse_u64(d, 0, 36500, &days) != 0) {
		web_error(r, 400, web_tr(r, "days: a number of days from 0 to "
		    "36500"));
		return;
	}
	if (rf_load(r, central ? (long)days : -1, &l, today,
	    sizeof(today)) != 0) {
		free(l.rows);
		web_error(r, 500, web_tr(r, "the store cannot be read"));
		return;
	}
	web_page_begin(r, web_tr(r, "Referrals"), "/referrals");
	if (done != NULL && (strcmp(done, "accepted") == 0 ||
	    strcmp(done, "declined") == 0)) {
		html_lit(h, "<p class=\"notice\" role=\"status\">");
		html_text(h, web_tr(r, strcmp(done, "accepted") == 0 ?
		    N_("Referral accepted. The case is this province's; "
		    "central and the sending province learn it at their next "
		    "sync.") : N_("Referral declined. The case stays with the "
		    "sending province, which sees the reason after its next "
		    "sync.")));
		html_lit(h, "</p>");
	}
	html_lit(h, "<p class=\"lead\">");
	if (central)
		html_text(h, web_tr(r, "Referrals between provinces that are "
		    "still waiting: for the receiving province to sync or to "
		    "answer, or, once answered, for the sending province to "
		    "learn the answer."));
	else
		html_text(h, web_tr(r, "A referral from another province is "
		    "an offer: the case becomes this province's only when you "
		    "accept it. If you decline, it stays with the sending "
		    "province, which sees your reason."));
	html_lit(h, "</p>");
	if (central) {
		snprintf(dbuf, sizeof(dbuf), "%llu", (unsigned long long)days);
		html_lit(h, "<form method=\"get\" action=\"/referrals\" "
		    "class=\"filters\"><label>");
		html_text(h, web_tr(r, "Waiting at least (days)"));
		html_lit(h, "<input type=\"number\" name=\"days\" min=\"0\" "
		    "max=\"36500\"");
		html_attr(h, "value", dbuf);
		html_lit(h, "></label><button type=\"submit\">");
		html_text(h, web_tr(r, "Filter"));
		html_lit(h, "</button></form><p class=\"count\">");
		html_textf(h, web_tr(r, "%zu referrals have waited %llu days "
		    "or more."), l.total, (unsigned long long)days);
		html_lit(h, "</p>");
		for (size_t i = 0; i < l.n; i++)
			offer_card(r, &l, &l.rows[i], 0);
		if (l.n == 0) {
			html_lit(h, "<p class=\"empty\">");
			html_text(h, web_tr(r, "No referral has waited that "
			    "long."));
			html_lit(h, "</p>");
		}
		web_page_end(r);
		free(l.rows);
		return;
	}
	html_lit(h, "<h2>");
	html_text(h, web_tr(r, "Waiting for our answer"));
	html_lit(h, "</h2>");
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.rows[i].offer.to, l.node) == 0) {
			offer_card(r, &l, &l.rows[i],
			    r->user.role >= ROLE_CASEWORKER);
			nin++;
		}
	if (nin == 0) {
		html_lit(h, "<p class=\"empty\">");
		html_text(h, web_tr(r, "No referral waits for this province."));
		html_lit(h, "</p>");
	}
	html_lit(h, "<h2>");
	html_text(h, web_tr(r, "Sent by this province, waiting for an answer"));
	html_lit(h, "</h2>");
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.rows[i].offer.from, l.node) == 0) {
			offer_card(r, &l, &l.rows[i], 0);
			nout++;
		}
	if (nout == 0) {
		html_lit(h, "<p class=\"empty\">");
		html_text(h, web_tr(r, "None."));
		html_lit(h, "</p>");
	}
	web_page_end(r);
	free(l.rows);
}

static void
form_answer(struct web_req *r, int accept)
{
	const char	*reason = webreq_form_get(&r->form, "reason");
	struct offer	 o;
	struct url	 u;
	char		 err[512];
	int		 rc;

	rc = do_answer(r, r->caps[0], accept, accept ? NULL : reason, &o, err,
	    sizeof(err));
	if (rc != 0) {
		web_error(r, web_status_for(rc), err);
		return;
	}
	url_init(&u, "/referrals");
	url_arg(&u, "done", accept ? "accepted" : "declined");
	web_redirect(r, &u);
}

void
web_referral_accept_post(struct web_req *r)
{
	form_answer(r, 1);
}

void
web_referral_decline_post(struct web_req *r)
{
	form_answer(r, 0);
}

/*
 * web_audit.c - the audit log, newest first: /audit and GET /api/audit
 * (admins only).  ?user= and ?case= filter it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#include "../common/jsonw.h"
#include "../common/util.h"

#define AUDIT_SHOWN_MAX		500

struct audit_ctx {
	struct web_req	*r;
	const char	*user;
	const char	*case_id;
	struct buf	*json;
	size_t		 n;
};

static int
keep(const struct audit_ctx *ac, const struct audit_rec *a)
{
	if (ac->user != NULL && *ac->user != '\0' &&
	    strcmp(ac->user, a->user) != 0)
		return 0;
	if (ac->case_id != NULL && *ac->case_id != '\0' &&
	    strcmp(ac->case_id, a->case_id) != 0)
		return 0;
	return 1;
}

static int
row_html(const struct audit_rec *a, void *arg)
{
	struct audit_ctx	*ac = arg;
	struct html		*h = &ac->r->h;
	struct url		 u;
	char			 when[32];

	if (!keep(ac, a))
		return 0;
	if (ac->n++ >= AUDIT_SHOWN_MAX)
		return 1;
	strlcpy_(when, a->time, sizeof(when));
	if (strlen(when) >= 19) {
		when[19] = '\0';
		when[10] = ' ';
	}
	html_lit(h, "<tr><td class=\"nowrap\">");
	html_text(h, when);
	html_lit(h, "</td><td>");
	html_text(h, a->user);
	html_lit(h, "</td><td>");
	html_text(h, a->addr);
	html_lit(h, "</td><td><code>");
	html_text(h, a->action);
	html_lit(h, "</code></td><td>");
	if (uuid_valid(a->case_id)) {
		html_lit(h, "<a class=\"mono\"");
		url_init(&u, "/cases/");
		url_seg(&u, a->case_id);
		html_href(h, &u);
		html_lit(h, ">");
		html_textn(h, a->case_id, 13);
		html_lit(h, "…</a>");
	}
	html_lit(h, "</td><td>");
	html_text(h, a->detail);
	html_lit(h, "</td></tr>");
	return 0;
}

void
web_audit_page(struct web_req *r)
{
	struct html		*h = &r->h;
	struct audit_ctx	 ac;

	memset(&ac, 0, sizeof(ac));
	ac.r = r;
	ac.user = web_arg(r, "user");
	ac.case_id = web_arg(r, "case");
	web_page_begin(r, web_tr(r, "Audit log"), "/audit");
	html_lit(h, "<p class=\"lead\">");
	html_text(h, web_tr(r, "Who signed in, who viewed whose identifying "
	    "data, who resolved what and who changed which user, newest "
	    "first."));
	html_lit(h, "</p><form method=\"get\" action=\"/audit\" "
	    "class=\"filters\"><label>");
	html_text(h, web_tr(r, "User"));
	html_lit(h, "<input name=\"user\" maxlength=\"31\"");
	html_attr(h, "value", ac.user != NULL ? ac.user : "");
	html_lit(h, "></label><label>");
	html_text(h, web_tr(r, "Case"));
	html_lit(h, "<input name=\"case\" maxlength=\"36\" size=\"38\"");
	html_attr(h, "value", ac.case_id != NULL ? ac.case_id : "");
	html_lit(h, "></label><button type=\"submit\">");
	html_text(h, web_tr(r, "Filter"));
	html_lit(h, "</button></form><div class=\"tablewrap\"><table "
	    "class=\"data\" id=\"audit\"><thead><tr>");
	{
		static const char *const heads[] = { N_("Time (UTC)"),
		    N_("User"), N_("Address"), N_("Action"), N_("Case"),
		    N_("Detail") };

		for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]);
		    i++) {
			html_lit(h, "<th scope=\"col\">");
			html_text(h, web_tr(r, heads[i]));
			html_lit(h, "</th>");
		}
	}
	html_lit(h, "</tr></thead><tbody>");
	(void)audit_tail(r->w->dir, 100000, row_html, &ac);
	html_lit(h, "</tbody></table></div>");
	web_page_end(r);
}

static int
row_json(const struct audit_rec *a, void *arg)
{
	struct audit_ctx	*ac = arg;
	struct buf		*b = ac->json;

	if (!keep(ac, a))
		return 0;
	if (ac->n >= AUDIT_SHOWN_MAX)
		return 1;
	buf_append_str(b, ac->n++ ? ",{" : "{");
	jsonw_key(b, "time", 1);
	jsonw_str(b, a->time);
	jsonw_key(b, "user", 0);
	jsonw_str(b, a->user);
	jsonw_key(b, "addr", 0);
	jsonw_str(b, a->addr);
	jsonw_key(b, "action", 0);
	jsonw_str(b, a->action);
	jsonw_key(b, "case", 0);
	jsonw_str(b, a->case_id);
	jsonw_key(b, "detail", 0);
	jsonw_str(b, a->detail);
	buf_append_str(b, "}");
	return 0;
}

void
web_api_audit(struct web_req *r)
{
	struct audit_ctx ac;

	memset(&ac, 0, sizeof(ac));
	ac.r = r;
	ac.user = web_arg(r, "user");
	ac.case_id = web_arg(r, "case");
	ac.json = &r->resp->body;
	web_json_begin(r, 200);
	buf_append_str(ac.json, "[");
	(void)audit_tail(r->w->dir, 100000, row_json, &ac);
	buf_append_str(ac.json, "]\n");
}

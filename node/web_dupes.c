/*
 * web_dupes.c - possible duplicates in the console: GET /api/duplicates,
 * the panel the new-case form shows before it saves, and the admin's link
 * of two cases of one person (POST /api/cases/ID/duplicate-of and the
 * form POST /cases/ID/duplicate-of).  The search is dupes_find's (blind
 * name index, no decryption); only the names of the matches shown are
 * opened, each view audited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"
#include "jsonr.h"
#include "schema.h"
#include "web.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

struct dupe_row {
	char	id[ENTRY_CASE_ID_LEN + 1];
	char	owner[HLC_NODE_MAX + 1];
	char	status[32];
	char	received[16];
	char	name[256];
	int	all_words;
};

/* Finds and describes the possible duplicates of q (under the store
 * lock); the names shown are audited.  Returns 0 with *n set. */
static int
dupes_load(struct web_req *r, const struct dupes_query *q,
    struct dupe_row *rows, size_t *n)
{
	struct dupes_hit	hits[DUPES_MAX];
	size_t			nh = 0;
	int			rc;

	*n = 0;
	web_lock(r);
	rc = dupes_find(r->w->st, q, hits, DUPES_MAX, &nh);
	for (size_t i = 0; rc == 0 && i < nh; i++) {
		struct case_state	 s;
		struct dupe_row		*row = &rows[*n];

		if (store_case_get(r->w->st, hits[i].id, &s) != 0)
			continue;
		memset(row, 0, sizeof(*row));
		strlcpy_(row->id, s.id, sizeof(row->id));
		strlcpy_(row->owner, s.owner, sizeof(row->owner));
		schema_get_str(&s, "status", row->status,
		    sizeof(row->status));
		schema_get_str(&s, "intake.received_on", row->received,
		    sizeof(row->received));
		schema_get_str(&s, "person.full_name", row->name,
		    sizeof(row->name));
		row->all_words = hits[i].all_words;
		state_release(&s);
		(*n)++;
	}
	web_unlock(r);
	for (size_t i = 0; i < *n; i++)
		web_audit(r, "duplicates.view", rows[i].id, "possible duplicate");
	return rc;
}

/* The query from the request's arguments; a one-line reason in err. */
static int
query_from_args(struct web_req *r, struct dupes_query *q, char *err,
    size_t errsz)
{
	const char	*by = web_arg(r, "birth_year");
	uint64_t	 y;

	memset(q, 0, sizeof(*q));
	q->full_name = web_arg(r, "full_name");
	q->sex = web_arg(r, "sex");
	q->home_province = web_arg(r, "home_province");
	q->exclude = web_arg(r, "exclude");
	if (q->full_name == NULL || q->full_name[0] == '\0') {
		snprintf(err, errsz, "full_name: give the name being recorded");
		return E_INVAL;
	}
	if (by == NULL || parse_u64(by, 1900, 2100, &y) != 0) {
		snprintf(err, errsz, "birth_year: a year from 1900 to 2100");
		return E_INVAL;
	}
	q->birth_year = (int64_t)y;
	if (q->sex == NULL || q->sex[0] == '\0') {
		snprintf(err, errsz, "sex: give the sex being recorded");
		return E_INVAL;
	}
	if (q->home_province == NULL || !schema_node_known(q->home_province)) {
		snprintf(err, errsz, "home_province: a province node id");
		return E_INVAL;
	}
	return 0;
}

void
web_api_duplicates(struct web_req *r)
{
	struct dupes_query	 q;
	struct dupe_row		 rows[DUPES_MAX];
	struct buf		*b = &r->resp->body;
	size_t			 n;
	char			 err[160];
	int			 rc;

	if (query_from_args(r, &q, err, sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	if ((rc = dupes_load(r, &q, rows, &n)) != 0) {
		web_error(r, rc == E_INVAL ? 400 : 500, rc == E_INVAL ?
		    "full_name: no word to search" : err_str(rc));
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(b, "{\"duplicates\":[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "id", 1);
		jsonw_str(b, rows[i].id);
		jsonw_key(b, "owner", 0);
		jsonw_str(b, rows[i].owner);
		jsonw_key(b, "status", 0);
		jsonw_str(b, rows[i].status);
		jsonw_key(b, "received_on", 0);
		jsonw_str(b, rows[i].received);
		jsonw_key(b, "full_name", 0);
		jsonw_str(b, rows[i].name);
		jsonw_key(b, "match", 0);
		jsonw_str(b, rows[i].all_words ? "all_words" :
		    "all_but_one_word");
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]}\n");
}

int
web_dupes_count(struct web_req *r, const char *full_name,
    const char *birth_year, const char *sex, const char *home_province)
{
	struct dupes_query	q;
	struct dupes_hit	hits[DUPES_MAX];
	size_t			n = 0;
	uint64_t		y;

	if (full_name == NULL || birth_year == NULL || sex == NULL ||
	    home_province == NULL || parse_u64(birth_year, 1900, 2100,
	    &y) != 0)
		return 0;
	memset(&q, 0, sizeof(q));
	q.full_name = full_name;
	q.birth_year = (int64_t)y;
	q.sex = sex;
	q.home_province = home_province;
	web_lock(r);
	if (dupes_find(r->w->st, &q, hits, DUPES_MAX, &n) != 0)
		n = 0;
	web_unlock(r);
	return (int)n;
}

int
web_dupes_panel(struct web_req *r, const char *full_name, int64_t birth_year,
    const char *sex, const char *home_province, const char *exclude)
{
	struct html		*h = &r->h;
	struct dupes_query	 q;
	struct dupe_row		 rows[DUPES_MAX];
	struct url		 u;
	size_t			 n = 0;

	memset(&q, 0, sizeof(q));
	q.full_name = full_name;
	q.birth_year = birth_year;
	q.sex = sex;
	q.home_province = home_province;
	q.exclude = exclude;
	if (full_name == NULL || sex == NULL || home_province == NULL ||
	    dupes_load(r, &q, rows, &n) != 0 || n == 0)
		return 0;
	html_lit(h, "<section class=\"dupes card\" id=\"duplicates\" "
	    "role=\"status\"><h2>");
	html_text(h, web_tr(r, "Possible duplicates"));
	html_lit(h, "</h2><p>");
	html_text(h, web_tr(r, "These cases have the same year of birth, sex "
	    "and home province, and a close name. Open one to check whether "
	    "it is the same person, or save anyway."));
	html_lit(h, "</p><ul>");
	for (size_t i = 0; i < n; i++) {
		html_lit(h, "<li><a");
		url_init(&u, "/cases/");
		url_seg(&u, rows[i].id);
		html_href(h, &u);
		html_lit(h, " target=\"_blank\" rel=\"noopener\">");
		html_text(h, rows[i].name[0] ? rows[i].name : rows[i].id);
		html_lit(h, "</a> <span class=\"muted\">");
		html_text(h, rows[i].owner);
		html_lit(h, " · ");
		html_text(h, rows[i].received[0] ? rows[i].received : "-");
		html_lit(h, " · <code>");
		html_textn(h, rows[i].id, 8);
		html_lit(h, "</code></span></li>");
	}
	html_lit(h, "</ul></section>");
	return (int)n;
}

static int
do_link(struct web_req *r, const char *id, const char *of, char *err,
    size_t errsz)
{
	int rc;

	if (of == NULL || *of == '\0') {
		snprintf(err, errsz, "give \"of\": the earlier case of the "
		    "same person");
		return E_INVAL;
	}
	web_lock(r);
	rc = dupes_link(r->w->st, r->author, id, of, err, errsz);
	web_unlock(r);
	if (rc == 0)
		web_audit(r, "case.duplicate_of", id, of);
	return rc;
}

void
web_api_case_duplicate_of(struct web_req *r)
{
	struct jsonr_field f[] = {
		{ "of", JSONR_STR, ENTRY_CASE_ID_LEN, 0, NULL, 0, NULL, 0 },
	};
	char	err[256];
	int	rc;

	if (jsonr_parse(r->hr->body, r->hr->body_len, f, 1, err,
	    sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	rc = do_link(r, r->caps[0], f[0].str, err, sizeof(err));
	if (rc != 0) {
		jsonr_release(f, 1);
		web_error(r, web_status_for(rc), err);
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, "{\"case\":");
	jsonw_str(&r->resp->body, r->caps[0]);
	buf_append_str(&r->resp->body, ",\"duplicate_of\":");
	jsonw_str(&r->resp->body, f[0].str);
	buf_append_str(&r->resp->body, "}\n");
	jsonr_release(f, 1);
}

void
web_dupes_link_form(struct web_req *r, const struct case_state *s)
{
	struct html	*h = &r->h;
	struct url	 u;
	char		 of[ENTRY_CASE_ID_LEN + 1], rep[ENTRY_CASE_ID_LEN + 1];
	int		 linked;

	linked = schema_get_str(s, "person.duplicate_of", of, sizeof(of));
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	url_lit(&u, "/duplicate-of");
	html_lit(h, "<div id=\"duplicate-of\">");
	web_post_form(r, "action", &u);
	html_lit(h, "<h3>");
	html_text(h, web_tr(r, "Same person as another case"));
	html_lit(h, "</h3>");
	if (linked) {
		html_lit(h, "<p class=\"hint\" id=\"dupe-now\">");
		html_text(h, web_tr(r, "Linked now to case"));
		html_lit(h, " ");
		web_case_link(r, of);
		/* The case page holds the store lock already. */
		if (dupes_representative(r->w->st, s->id, rep) == 0 &&
		    strcmp(rep, of) != 0) {
			html_lit(h, ". ");
			html_text(h, web_tr(r, "Reports count the person "
			    "under case"));
			html_lit(h, " ");
			web_case_link(r, rep);
		}
		html_lit(h, ".</p>");
	}
	html_lit(h, "<p class=\"hint\">");
	html_text(h, web_tr(r, "Reports then count the person once, under "
	    "the earlier case. A link that would lead back to this case is "
	    "refused."));
	html_lit(h, "</p><div class=\"field\"><label for=\"dupe-of\">");
	html_text(h, web_tr(r, "Id of the earlier case of the same person"));
	html_lit(h, "</label><input id=\"dupe-of\" name=\"of\" required "
	    "maxlength=\"36\" autocomplete=\"off\" spellcheck=\"false\" "
	    "pattern=\"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
	    "[0-9a-f]{12}\" placeholder=\"01a2276e-8c28-78e1-…\"></div>"
	    "<div class=\"buttons\"><button type=\"submit\" "
	    "class=\"primary\">");
	html_text(h, web_tr(r, "Link as the same person"));
	html_lit(h, "</button></div></form></div>");
}

/* dupes_link's refusal in the user's language; the detail as given. */
static void
link_refused(struct web_req *r, int rc, const char *err)
{
	struct html	*h = &r->h;
	struct url	 u;
	const char	*msg;

	if (rc == E_INVAL && strstr(err, "cycle") != NULL)
		msg = web_tr(r, "Refused: that case is already linked to this "
		    "one, directly or through other links. Linking them this "
		    "way would form a cycle.");
	else if (rc == E_INVAL && strstr(err, "itself a duplicate of") !=
	    NULL)
		msg = web_tr(r, "Refused: that case is itself linked to "
		    "another case. Link to the earliest case of the person.");
	else if (rc == E_INVAL && strstr(err, "not a duplicate of itself") !=
	    NULL)
		msg = web_tr(r, "Refused: a case cannot be a duplicate of "
		    "itself.");
	else if (rc == E_INVAL)
		msg = web_tr(r, "Refused: no such case on this node, or not a "
		    "case id.");
	else
		msg = web_tr(r, "Refused: this node may not change the case.");
	r->resp->status = web_status_for(rc);
	web_page_begin(r, web_tr(r, "Same person as another case"), "/cases");
	html_lit(h, "<p class=\"error\" role=\"alert\" id=\"dupe-error\">");
	html_text(h, msg);
	html_lit(h, "</p><p class=\"muted\"><code>");
	html_text(h, err);
	html_lit(h, "</code></p><p><a");
	url_init(&u, "/cases/");
	url_seg(&u, r->caps[0]);
	html_href(h, &u);
	html_lit(h, ">");
	html_text(h, web_tr(r, "Back to the case"));
	html_lit(h, "</a></p>");
	web_page_end(r);
}

void
web_case_duplicate_of_post(struct web_req *r)
{
	const char	*of = webreq_form_get(&r->form, "of");
	struct url	 u;
	char		 err[256];
	int		 rc;

	if ((rc = do_link(r, r->caps[0], of, err, sizeof(err))) != 0) {
		link_refused(r, rc, err);
		return;
	}
	url_init(&u, "/cases/");
	url_seg(&u, r->caps[0]);
	web_redirect(r, &u);
}

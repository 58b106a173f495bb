/*
 * web_cases.c - cases: /cases (search by id, province, status or name),
 * /cases/ID (fields, services, referrals, notes and the history with
 * provenance), GET /api/cases, /api/cases/ID, /api/cases/ID/history.
 *
 * Caseworkers and admins only (the router refuses viewers before any of
 * this runs).  A name search uses the store's blind index
 * (store_name_search, nameidx.h): no sealed value is opened to find the
 * matches, and only the names of the cases listed are opened to show
 * them.  Every case whose identifying values are shown is written to the
 * audit log.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offer.h"
#include "web.h"
#include "i18n.h"
#include "merge.h"
#include "provinces.h"
#include "resolve.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define CASES_SHOWN_MAX		100
#define NAME_CANDIDATES_MAX	2000

struct case_row {
	char	id[ENTRY_CASE_ID_LEN + 1];
	char	owner[HLC_NODE_MAX + 1];
	char	status[32];
	char	category[32];
	char	sex[16];
	char	birth_year[8];
	char	received[16];
	char	name[256];	/* only for a name search */
	int	readonly;
};

struct search {
	struct web_req	*r;
	const char	*q;
	const char	*province;
	const char	*status;
	int		 by_name;
	struct case_row	*rows;
	size_t		 n;
	int		 more;
};

static int
row_add(struct search *se, const struct case_state *s)
{
	struct case_row	*row;
	char		 st[32];

	if (se->province != NULL && *se->province != '\0' &&
	    strcmp(se->province, s->owner) != 0)
		return 0;
	schema_get_text(s, "status", st, sizeof(st));
	if (se->status != NULL && *se->status != '\0' &&
	    strcmp(se->status, st) != 0)
		return 0;
	if (se->n == CASES_SHOWN_MAX) {
		se->more = 1;
		return 1;
	}
	row = &se->rows[se->n++];
	memset(row, 0, sizeof(*row));
	strlcpy_(row->id, s->id, sizeof(row->id));
	strlcpy_(row->owner, s->owner, sizeof(row->owner));
	strlcpy_(row->status, st, sizeof(row->status));
	schema_get_text(s, "person.category", row->category,
	    sizeof(row->category));
	schema_get_text(s, "person.sex", row->sex, sizeof(row->sex));
	schema_get_text(s, "person.birth_year", row->birth_year,
	    sizeof(row->birth_year));
	schema_get_text(s, "intake.received_on", row->received,
	    sizeof(row->received));
	row->readonly = (s->flags & STATE_F_READONLY) != 0;
	return 0;
}

static int
scan_one(const struct case_state *s, void *arg)
{
	struct search	*se = arg;
	size_t		 ql = se->q ? strlen(se->q) : 0;

	if (ql > 0) {
		int c = strncmp(s->id, se->q, ql);

		if (c < 0)
			return 0;
		if (c > 0)
			return 1;	/* ids are sorted: past the prefix */
	}
	return row_add(se, s);
}

static int
name_one(const char *id, void *arg)
{
	struct search		*se = arg;
	struct case_state	 s;
	int			 rc;

	if (store_case_get_sealed(se->r->w->st, id, &s) != 0)
		return 0;
	rc = row_add(se, &s);
	if (rc == 0 && se->n > 0 && strcmp(se->rows[se->n - 1].id, id) == 0 &&
	    store_case_open(se->r->w->st, &s) == 0)
		schema_get_text(&s, "person.full_name", se->rows[se->n - 1].name,
		    sizeof(se->rows[0].name));
	state_release(&s);
	return rc;
}

static int
id_prefix(const char *q)
{
	size_t n = strlen(q);

	if (n < 4 || n > ENTRY_CASE_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((q[i] >= '0' && q[i] <= '9') || (q[i] >= 'a' &&
		    q[i] <= 'f') || q[i] == '-'))
			return 0;
	return 1;
}

/* Runs the search of the query arguments into *se.  E_INVAL with err. */
static int
search_run(struct web_req *r, struct search *se, char *err, size_t errsz)
{
	int rc;

	memset(se, 0, sizeof(*se));
	se->r = r;
	se->q = web_arg(r, "q");
	se->province = web_arg(r, "province");
	se->status = web_arg(r, "status");
	se->rows = xcalloc(CASES_SHOWN_MAX, sizeof(*se->rows));
	if (se->q != NULL && strlen(se->q) > 200) {
		snprintf(err, errsz, "q: at most 200 bytes");
		return E_INVAL;
	}
	web_lock(r);
	if (se->q == NULL || *se->q == '\0') {
		se->q = NULL;
		rc = store_case_each(r->w->st, scan_one, se);
	} else if (id_prefix(se->q)) {
		rc = store_case_each(r->w->st, scan_one, se);
	} else {
		se->by_name = 1;
		rc = store_name_search(r->w->st, se->q, NAME_CANDIDATES_MAX,
		    name_one, se);
		if (rc == E_INVAL) {
			snprintf(err, errsz, "%s", web_tr(r, "type a case id "
			    "or at least one letter of a name"));
			web_unlock(r);
			return E_INVAL;
		}
	}
	web_unlock(r);
	if (rc == 1)
		rc = 0;
	if (rc != 0)
		snprintf(err, errsz, "the store cannot be read");
	else if (se->by_name)
		for (size_t i = 0; i < se->n; i++)
			if (se->rows[i].name[0] != '\0')
				web_audit(r, "case.search", se->rows[i].id,
				    "name shown in search results");
	return rc;
}

void
web_api_cases(struct web_req *r)
{
	struct search	 se;
	struct buf	*b = &r->resp->body;
	char		 err[160];

	if (search_run(r, &se, err, sizeof(err)) != 0) {
		free(se.rows);
		web_error(r, 400, err);
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(b, "{\"cases\":[");
	for (size_t i = 0; i < se.n; i++) {
		const struct case_row *w = &se.rows[i];

		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "id", 1);
		jsonw_str(b, w->id);
		jsonw_key(b, "owner", 0);
		jsonw_str(b, w->owner);
		jsonw_key(b, "status", 0);
		jsonw_str(b, w->status);
		jsonw_key(b, "category", 0);
		jsonw_str(b, w->category);
		jsonw_key(b, "received_on", 0);
		jsonw_str(b, w->received);
		if (se.by_name) {
			jsonw_key(b, "full_name", 0);
			jsonw_str(b, w->name);
		}
		buf_append_str(b, "}");
	}
	buf_printf(b, "],\"more\":%s}\n", se.more ? "true" : "false");
	free(se.rows);
}

/* ---- the search page -------------------------------------------------- */

static void
th(struct web_req *r, const char *label)
{
	html_lit(&r->h, "<th scope=\"col\">");
	html_text(&r->h, web_tr(r, label));
	html_lit(&r->h, "</th>");
}

static void
td(struct web_req *r, const char *v)
{
	html_lit(&r->h, "<td>");
	html_text(&r->h, *v ? v : "–");
	html_lit(&r->h, "</td>");
}

static void
td_enum(struct web_req *r, enum schema_enum e, const char *v)
{
	const char *l = schema_enum_label(e, v);

	td(r, l != NULL ? web_tr(r, l) : v);
}

void
web_cases_page(struct web_req *r)
{
	struct html	*h = &r->h;
	struct search	 se;
	struct url	 u;
	char		 err[160];
	int		 rc;

	rc = search_run(r, &se, err, sizeof(err));
	web_page_begin(r, web_tr(r, "Cases"), "/cases");
	html_lit(h, "<form method=\"get\" action=\"/cases\" class=\"filters\" "
	    "role=\"search\"><label class=\"grow\">");
	html_text(h, web_tr(r, "Case id or name"));
	html_lit(h, "<input type=\"search\" name=\"q\" maxlength=\"200\" "
	    "autocomplete=\"off\"");
	html_attr(h, "value", se.q != NULL ? se.q : "");
	html_lit(h, "></label>");
	if (strcmp(r->w->cfg->role, "central") == 0) {
		html_lit(h, "<label>");
		html_text(h, web_tr(r, "Province"));
		html_lit(h, "<input name=\"province\" maxlength=\"32\" "
		    "size=\"12\" pattern=\"[a-z0-9\\-]*\"");
		html_attr(h, "value", se.province != NULL ? se.province : "");
		html_lit(h, "></label>");
	}
	html_lit(h, "<label>");
	html_text(h, web_tr(r, "Status"));
	html_lit(h, "<select name=\"status\"><option value=\"\">");
	html_text(h, web_tr(r, "All"));
	html_lit(h, "</option>");
	for (const char *const *st = schema_enum_values(SCHEMA_ENUM_STATUS),
	    *const *statuses = st; *st != NULL; st++) {
		size_t i = (size_t)(st - statuses);

		html_lit(h, "<option");
		html_attr(h, "value", statuses[i]);
		if (se.status != NULL && strcmp(se.status, statuses[i]) == 0)
			html_lit(h, " selected");
		html_lit(h, ">");
		html_text(h, web_tr(r, schema_enum_label(SCHEMA_ENUM_STATUS,
		    statuses[i])));
		html_lit(h, "</option>");
	}
	html_lit(h, "</select></label><button type=\"submit\" "
	    "class=\"primary\">");
	html_text(h, web_tr(r, "Search"));
	html_lit(h, "</button></form>");
	if (rc != 0) {
		html_lit(h, "<p class=\"error\">");
		html_text(h, err);
		html_lit(h, "</p>");
		goto out;
	}
	html_lit(h, "<p class=\"count\">");
	if (se.more)
		html_textf(h, web_tr(r, "The first %zu matching cases."),
		    se.n);
	else
		html_textf(h, web_tr(r, "%zu matching cases."), se.n);
	html_lit(h, "</p><div class=\"tablewrap\"><table class=\"data\" "
	    "id=\"cases\"><thead><tr>");
	th(r, N_("Case"));
	if (se.by_name)
		th(r, N_("Full name"));
	th(r, N_("Owner"));
	th(r, N_("Status"));
	th(r, N_("Category"));
	th(r, N_("Sex"));
	th(r, N_("Birth year"));
	th(r, N_("Received on"));
	html_lit(h, "</tr></thead><tbody>");
	for (size_t i = 0; i < se.n; i++) {
		const struct case_row *w = &se.rows[i];

		html_lit(h, "<tr><td><a class=\"mono\"");
		url_init(&u, "/cases/");
		url_seg(&u, w->id);
		html_href(h, &u);
		html_lit(h, ">");
		html_textn(h, w->id, 13);
		html_lit(h, "…</a></td>");
		if (se.by_name)
			td(r, w->name);
		td(r, w->owner);
		td_enum(r, SCHEMA_ENUM_STATUS, w->status);
		td_enum(r, SCHEMA_ENUM_CATEGORY, w->category);
		td_enum(r, SCHEMA_ENUM_SEX, w->sex);
		td(r, w->birth_year);
		{
			char d[I18N_DATE_MAX];

			td(r, i18n_date(r->lang, w->received, d, sizeof(d)) ==
			    0 ? d : w->received);
		}
		html_lit(h, "</tr>");
	}
	html_lit(h, "</tbody></table></div>");
out:
	web_page_end(r);
	free(se.rows);
}

/* ---- one case ---------------------------------------------------------- */

const char *
web_path_label(const struct web_req *r, const char *path)
{
	const char *l = schema_field_label(path);

	return l != NULL ? web_tr(r, l) : path;
}

/* One scalar of field or member path, as the user's language shows it:
 * an enumeration's label, a date, an amount, or the text. */
static void
scalar_html(struct web_req *r, const char *path, const cJSON *v)
{
	enum schema_enum	 e;
	const char		*l;
	size_t			 pl = strlen(path);
	char			 buf[64];

	if (cJSON_IsString(v)) {
		const struct province *pr;

		if ((strstr(path, "province") != NULL ||
		    strcmp(path, "referrals.from") == 0 ||
		    strcmp(path, "referrals.to") == 0) &&
		    (pr = province_find(v->valuestring)) != NULL)
			html_text(&r->h, pr->name);
		else if (schema_field_enum(path, &e) == 0 &&
		    (l = schema_enum_label(e, v->valuestring)) != NULL)
			html_text(&r->h, web_tr(r, l));
		else if (((pl > 3 && strcmp(path + pl - 3, "_on") == 0) ||
		    (pl > 3 && strcmp(path + pl - 3, ".on") == 0)) &&
		    i18n_date(r->lang, v->valuestring, buf, sizeof(buf)) == 0)
			html_text(&r->h, buf);
		else
			html_text(&r->h, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		if (pl > 10 && strcmp(path + pl - 10, "amount_vnd") == 0 &&
		    i18n_amount_vnd(r->lang, (long long)v->valuedouble, buf,
		    sizeof(buf)) == 0)
			html_text(&r->h, buf);
		else
			html_textf(&r->h, "%.0f", v->valuedouble);
	} else if (cJSON_IsNull(v))
		html_lit(&r->h, "–");
}

/* A JSON value of field path as text: strings without quotes, arrays
 * joined, enumerations by their label. */
void
web_value_html(struct web_req *r, const char *path, const char *json,
    size_t len)
{
	cJSON		*v;
	const cJSON	*e;
	int		 first = 1;

	if (len > 0 && json[0] == 0) {
		html_text(&r->h, web_tr(r, "(sealed)"));
		return;
	}
	if ((v = cJSON_ParseWithLength(json, len)) == NULL) {
		html_textn(&r->h, json, len);
		return;
	}
	if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(e, v) {
			if (!first)
				html_lit(&r->h, ", ");
			first = 0;
			scalar_html(r, path, e);
		}
	} else if (cJSON_IsObject(v))
		html_textn(&r->h, json, len);
	else
		scalar_html(r, path, v);
	cJSON_Delete(v);
}

static void
fields_html(struct web_req *r, const struct case_state *s,
    const char *group, const char *title)
{
	struct html	*h = &r->h;
	char		 path[ENTRY_PATH_MAX + 1];
	size_t		 gl = strlen(group);
	int		 any = 0;

	html_lit(h, "<section class=\"card\"><h2>");
	html_text(h, web_tr(r, title));
	html_lit(h, "</h2><dl class=\"fields\">");
	for (size_t i = 0; schema_field_path(i, path, sizeof(path)) == 0;
	    i++) {
		const struct field	*f;
		const struct head	*w;

		if (gl == 0 ? strchr(path, '.') != NULL :
		    strncmp(path, group, gl) != 0 || path[gl] != '.')
			continue;
		if ((f = merge_field(s, path)) == NULL ||
		    (w = merge_winner(f)) == NULL || w->value_len == 0)
			continue;
		any = 1;
		html_lit(h, "<dt>");
		html_text(h, web_path_label(r, path));
		html_lit(h, "</dt><dd");
		if (schema_path_identifying(path))
			html_lit(h, " class=\"ident\"");
		html_lit(h, ">");
		web_value_html(r, path, (const char *)w->value, w->value_len);
		if (merge_conflicted(f)) {
			html_lit(h, " <a class=\"tag bad\" href=\"/conflicts"
			    "\">");
			html_text(h, web_tr(r, "conflict"));
			html_lit(h, "</a>");
		}
		html_lit(h, "</dd>");
	}
	if (!any) {
		html_lit(h, "<dt>–</dt><dd>");
		html_text(h, web_tr(r, "nothing recorded"));
		html_lit(h, "</dd>");
	}
	html_lit(h, "</dl></section>");
}

/* One member of an event object as text. */
static void
member_html(struct web_req *r, const char *coll, const cJSON *o,
    const char *key)
{
	const cJSON	*m = cJSON_GetObjectItemCaseSensitive(o, key);
	char		 path[ENTRY_PATH_MAX * 2 + 2];

	snprintf(path, sizeof(path), "%s.%s", coll, key);
	html_lit(&r->h, "<td>");
	if (cJSON_IsString(m) || cJSON_IsNumber(m))
		scalar_html(r, path, m);
	else
		html_lit(&r->h, "–");
	html_lit(&r->h, "</td>");
}

static void
events_html(struct web_req *r, const struct case_state *s, const char *coll,
    const char *title, const char *const *keys, const char *const *heads)
{
	struct html	*h = &r->h;
	int		 any = 0;

	html_lit(h, "<section class=\"card\"><h2>");
	html_text(h, web_tr(r, title));
	html_lit(h, "</h2><div class=\"tablewrap\"><table class=\"data\"");
	html_attr(h, "id", coll);
	html_lit(h, "><thead><tr>");
	for (size_t k = 0; heads[k] != NULL; k++)
		th(r, heads[k]);
	html_lit(h, "</tr></thead><tbody>");
	for (size_t i = 0; i < s->nevents; i++) {
		const struct event	*e = &s->events[i];
		cJSON			*o;

		if (strcmp(e->coll, coll) != 0)
			continue;
		any = 1;
		html_lit(h, "<tr");
		if (strncmp(e->id, "followup-", 9) == 0)
			html_lit(h, " class=\"followup\"");
		html_lit(h, ">");
		if (e->value_len > 0 && e->value[0] == 0)
			o = NULL;
		else
			o = cJSON_ParseWithLength((const char *)e->value,
			    e->value_len);
		for (size_t k = 0; keys[k] != NULL; k++) {
			if (o != NULL && k == 0 &&
			    strncmp(e->id, "followup-", 9) == 0) {
				/* A follow-up visit is a note of its own
				 * kind (docs/CONSOLE.md). */
				const cJSON *m =
				    cJSON_GetObjectItemCaseSensitive(o,
				    keys[0]);
				char p[64];

				snprintf(p, sizeof(p), "%s.%s", coll, keys[0]);
				html_lit(h, "<td><span class=\"tag\">");
				html_text(h, web_tr(r, "follow-up"));
				html_lit(h, "</span> ");
				if (cJSON_IsString(m))
					scalar_html(r, p, m);
				html_lit(h, "</td>");
			} else if (o != NULL)
				member_html(r, coll, o, keys[k]);
			else {
				html_lit(h, "<td>");
				html_text(h, web_tr(r, "(sealed)"));
				html_lit(h, "</td>");
			}
		}
		/* A referral's reason lives in its own sealed event. */
		if (strcmp(coll, "referrals") == 0) {
			html_lit(h, "<td>");
			for (size_t j = 0; j < s->nevents; j++) {
				const struct event *x = &s->events[j];
				cJSON *ro;

				if (strcmp(x->coll, "referral_reasons") != 0 ||
				    strcmp(x->id, e->id) != 0 ||
				    (x->value_len > 0 && x->value[0] == 0))
					continue;
				ro = cJSON_ParseWithLength((const char *)
				    x->value, x->value_len);
				if (ro != NULL) {
					const cJSON *t =
					    cJSON_GetObjectItemCaseSensitive(
					    ro, "text");

					if (cJSON_IsString(t))
						html_text(h, t->valuestring);
					cJSON_Delete(ro);
				}
			}
			html_lit(h, "</td>");
		}
		cJSON_Delete(o);
		html_lit(h, "</tr>");
	}
	if (!any) {
		html_lit(h, "<tr><td colspan=\"6\" class=\"muted\">");
		html_text(h, web_tr(r, "none"));
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></div></section>");
}

struct hist_ctx {
	struct web_req	*r;
	struct buf	*json;		/* API: the JSON array */
	int		 first;
};

static const char *
sig_word(int sig_ok)
{
	/* As `case history --json` (cmd_case.c). */
	return sig_ok == STORE_SIG_REVOKED ? "REVOKED" : sig_ok < 0 ?
	    "unsigned" : sig_ok ? "verified" : "FAILED";
}

/* An event's members as "label: value" pairs. */
static void
event_summary(struct web_req *r, const char *coll, const char *json,
    size_t len)
{
	cJSON		*o = cJSON_ParseWithLength(json, len);
	const cJSON	*m;
	char		 path[ENTRY_PATH_MAX * 2 + 2];
	int		 first = 1;

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		html_text(&r->h, web_tr(r, "(sealed)"));
		return;
	}
	cJSON_ArrayForEach(m, o) {
		snprintf(path, sizeof(path), "%s.%s", coll, m->string);
		if (!first)
			html_lit(&r->h, "; ");
		first = 0;
		html_text(&r->h, web_path_label(r, path));
		html_lit(&r->h, " <span class=\"value\">");
		scalar_html(r, path, m);
		html_lit(&r->h, "</span>");
	}
	cJSON_Delete(o);
}

static void
op_html(struct web_req *r, const struct op *o, const struct entry *e)
{
	struct html *h = &r->h;

	switch (o->type) {
	case OP_SET:
		html_lit(h, "<li>");
		if (o->nalso > 0) {
			html_lit(h, "<strong>");
			html_text(h, web_tr(r, "Conflict resolved:"));
			html_lit(h, "</strong> ");
		}
		html_text(h, web_path_label(r, o->path));
		html_lit(h, " = <span class=\"value\">");
		web_value_html(r, o->path, o->value, o->value_len);
		html_lit(h, "</span></li>");
		break;
	case OP_EVENT:
		html_lit(h, "<li>");
		if (strcmp(o->path, "notes") == 0 && strncmp(o->evid,
		    RESOLVE_NOTE_PREFIX, strlen(RESOLVE_NOTE_PREFIX)) == 0) {
			cJSON		*n = cJSON_ParseWithLength(o->value,
			    o->value_len);
			const cJSON	*t = n ? cJSON_GetObjectItemCaseSensitive(
			    n, "text") : NULL;

			html_lit(h, "<strong>");
			html_text(h, web_tr(r, "Reason:"));
			html_lit(h, "</strong> <q class=\"reason\">");
			html_text(h, cJSON_IsString(t) ? t->valuestring : "");
			html_lit(h, "</q>");
			cJSON_Delete(n);
		} else {
			html_text(h, web_tr(r, "Added to"));
			html_lit(h, " ");
			html_text(h, web_path_label(r, o->path));
			html_lit(h, ": ");
			event_summary(r, o->path, o->value, o->value_len);
		}
		html_lit(h, "</li>");
		break;
	case OP_TRANSFER:
		html_lit(h, "<li>");
		html_text(h, web_tr(r, "Owner:"));
		html_lit(h, " ");
		html_text(h, o->to);
		html_lit(h, "</li>");
		break;
	case OP_ERASE:
		html_lit(h, "<li>");
		html_text(h, web_tr(r, "Identifying data erased"));
		html_lit(h, "</li>");
		break;
	}
	(void)e;
}

static int
hist_html(const struct entry *e, int sig_ok, void *arg)
{
	struct hist_ctx	*hc = arg;
	struct web_req	*r = hc->r;
	struct html	*h = &r->h;
	char		 when[40];

	web_when(r, e->hlc, when, sizeof(when));
	html_lit(h, "<li class=\"entry\"><div class=\"meta\"><time>");
	html_text(h, when);
	html_lit(h, " UTC</time> <span class=\"author\">");
	html_text(h, e->author);
	html_lit(h, "</span> <span class=\"muted\">");
	html_textf(h, "%s/%llu", e->origin, (unsigned long long)e->seq);
	html_lit(h, "</span> ");
	if (sig_ok == STORE_SIG_REVOKED) {
		/* Signed with a key revoked from this entry's position or an
		 * earlier one (`casesync revoke --from-seq|--from`): neither
		 * verified nor unsigned; it may be a thief's. */
		html_lit(h, "<span class=\"tag bad revoked\"");
		html_attr(h, "title", web_tr(r, "The key that signed this "
		    "change was revoked from this change or an earlier one "
		    "(the key was lost or stolen): the change may not be the "
		    "province's own."));
		html_lit(h, ">");
		html_text(h, web_tr(r, "REVOKED"));
		html_lit(h, "</span> <span class=\"muted revokednote\">");
		html_textf(h, web_tr(r, "signing key of %s revoked"),
		    e->origin);
		html_lit(h, "</span>");
	} else {
		if (sig_ok > 0)
			html_lit(h, "<span class=\"tag ok\">");
		else if (sig_ok == 0)
			html_lit(h, "<span class=\"tag bad\">");
		else
			html_lit(h, "<span class=\"tag\">");
		html_text(h, sig_ok > 0 ? web_tr(r, "signature verified") :
		    sig_ok == 0 ? web_tr(r, "signature FAILED") : web_tr(r,
		    "unsigned"));
		html_lit(h, "</span>");
	}
	html_lit(h, "</div><ul class=\"ops\">");
	for (size_t i = 0; i < e->nops; i++)
		op_html(r, &e->ops[i], e);
	html_lit(h, "</ul></li>");
	return 0;
}

void
web_case_page(struct web_req *r)
{
	static const char *const svc_keys[] = { "type", "on", "provider",
	    "amount_vnd", "days", NULL };
	static const char *const svc_heads[] = { N_("Type"), N_("Date"),
	    N_("Provider"), N_("Amount (VND)"), N_("Days"), NULL };
	static const char *const ref_keys[] = { "from", "to", "on", "status",
	    NULL };
	static const char *const ref_heads[] = { N_("From"), N_("To"),
	    N_("Date"), N_("Status"), N_("Reason"), NULL };
	static const char *const note_keys[] = { "on", "author", "text",
	    NULL };
	static const char *const note_heads[] = { N_("Date"), N_("Author"),
	    N_("Text"), NULL };
	struct html		*h = &r->h;
	struct case_state	 s;
	struct hist_ctx		 hc = { r, NULL, 1 };
	char			 st[32], title[80];
	int			 rc;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 404, web_tr(r, "no such case"));
		return;
	}
	web_lock(r);
	rc = store_case_get(r->w->st, r->caps[0], &s);
	if (rc != 0) {
		web_unlock(r);
		web_error(r, 404, web_tr(r, "no such case"));
		return;
	}
	web_audit(r, "case.view", s.id, "identifying values shown");
	schema_get_text(&s, "status", st, sizeof(st));
	snprintf(title, sizeof(title), "%s %.13s…", web_tr(r, "Case"), s.id);
	web_page_begin(r, title, "/cases");
	html_lit(h, "<p class=\"lead\"><code class=\"mono\">");
	html_text(h, s.id);
	html_lit(h, "</code> · ");
	html_text(h, web_tr(r, "owner"));
	html_lit(h, " <strong>");
	html_text(h, s.owner);
	html_lit(h, "</strong> · <span class=\"tag\">");
	html_text(h, schema_enum_label(SCHEMA_ENUM_STATUS, st) ? web_tr(r,
	    schema_enum_label(SCHEMA_ENUM_STATUS, st)) : st);
	html_lit(h, "</span>");
	if (s.flags & STATE_F_READONLY) {
		html_lit(h, " <span class=\"tag\">");
		html_text(h, web_tr(r, "read-only copy"));
		html_lit(h, "</span>");
	}
	{
		struct offer o;

		/* An offer waits for its answer (offer.h). */
		if (offer_pending(&s, &o)) {
			html_lit(h, " <a class=\"tag\" href=\"/referrals\" "
			    "id=\"pending\">");
			html_textf(h, web_tr(r, "referral pending: %s"),
			    o.to);
			html_lit(h, "</a>");
		}
	}
	if (s.erased.hlc != 0) {
		html_lit(h, " <span class=\"tag bad\">");
		html_text(h, web_tr(r, "erased"));
		html_lit(h, "</span>");
	}
	html_lit(h, "</p>");
	web_case_notices_html(r, &s);
	html_lit(h, "<div class=\"grid two\">");
	fields_html(r, &s, "person", N_("Person"));
	html_lit(h, "<div>");
	fields_html(r, &s, "trafficking", N_("Trafficking"));
	fields_html(r, &s, "intake", N_("Intake"));
	html_lit(h, "</div></div>");
	events_html(r, &s, "services", N_("Services"), svc_keys, svc_heads);
	events_html(r, &s, "referrals", N_("Referrals"), ref_keys,
	    ref_heads);
	events_html(r, &s, "notes", N_("Notes"), note_keys, note_heads);
	if (r->user.role >= ROLE_CASEWORKER)
		web_case_actions_html(r, &s);
	html_lit(h, "<section class=\"card\"><h2>");
	html_text(h, web_tr(r, "History"));
	html_lit(h, "</h2><ol class=\"timeline\" id=\"history\">");
	rc = store_case_history(r->w->st, s.id, hist_html, &hc);
	web_unlock(r);
	html_lit(h, "</ol>");
	if (rc != 0) {
		html_lit(h, "<p class=\"error\">");
		html_text(h, web_tr(r, "The history does not read back: run "
		    "casesync verify."));
		html_lit(h, "</p>");
	}
	html_lit(h, "</section>");
	web_page_end(r);
	state_release(&s);
}

void
web_api_case(struct web_req *r)
{
	struct case_state	 s;
	char			*out;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 400, "not a case id");
		return;
	}
	web_lock(r);
	if (store_case_get(r->w->st, r->caps[0], &s) != 0) {
		web_unlock(r);
		web_error(r, 404, "no such case");
		return;
	}
	web_unlock(r);
	web_audit(r, "case.view", s.id, "identifying values (API)");
	out = schema_render(&s, 0);
	state_release(&s);
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, out);
	buf_append_str(&r->resp->body, "\n");
	free(out);
}

static int
hist_json(const struct entry *e, int sig_ok, void *arg)
{
	struct hist_ctx	*hc = arg;
	struct buf	*b = hc->json;
	char		 when[40];

	hlc_format(e->hlc, when, sizeof(when));
	buf_append_str(b, hc->first ? "{" : ",{");
	hc->first = 0;
	jsonw_key(b, "time", 1);
	jsonw_str(b, when);
	jsonw_key(b, "node", 0);
	jsonw_str(b, e->origin);
	buf_printf(b, ",\"seq\":%llu", (unsigned long long)e->seq);
	jsonw_key(b, "author", 0);
	jsonw_str(b, e->author);
	jsonw_key(b, "signature", 0);
	jsonw_str(b, sig_word(sig_ok));
	buf_append_str(b, ",\"ops\":[");
	for (size_t i = 0; i < e->nops; i++) {
		const struct op *o = &e->ops[i];

		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "op", 1);
		switch (o->type) {
		case OP_SET:
			jsonw_str(b, "set");
			jsonw_key(b, "path", 0);
			jsonw_str(b, o->path);
			jsonw_key(b, "value", 0);
			buf_append(b, o->value, o->value_len);
			if (o->nalso > 0)
				buf_append_str(b, ",\"resolution\":true");
			break;
		case OP_EVENT:
			jsonw_str(b, "add");
			jsonw_key(b, "collection", 0);
			jsonw_str(b, o->path);
			jsonw_key(b, "id", 0);
			jsonw_str(b, o->evid);
			jsonw_key(b, "event", 0);
			buf_append(b, o->value, o->value_len);
			break;
		case OP_TRANSFER:
			jsonw_str(b, "transfer");
			jsonw_key(b, "to", 0);
			jsonw_str(b, o->to);
			break;
		case OP_ERASE:
			/* As `case history --json` (cmd_case.c). */
			jsonw_str(b, "erase");
			if (o->base.hlc != 0) {
				char	seen[40];

				hlc_format(o->base.hlc, seen, sizeof(seen));
				jsonw_key(b, "owner_seen", 0);
				buf_append_str(b, "{");
				jsonw_key(b, "node", 1);
				jsonw_str(b, o->base.node);
				jsonw_key(b, "time", 0);
				jsonw_str(b, seen);
				buf_printf(b, ",\"hlc\":%llu}",
				    (unsigned long long)o->base.hlc);
			}
			break;
		}
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]}");
	return 0;
}

void
web_api_case_history(struct web_req *r)
{
	struct hist_ctx	hc = { r, &r->resp->body, 1 };
	int		rc;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 400, "not a case id");
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, "[");
	web_lock(r);
	rc = store_case_history(r->w->st, r->caps[0], hist_json, &hc);
	web_unlock(r);
	if (rc == E_NOTFOUND) {
		web_error(r, 404, "no such case");
		return;
	}
	if (rc != 0) {
		web_error(r, 500, "the history does not read back (run "
		    "`casesync verify`)");
		return;
	}
	web_audit(r, "case.history", r->caps[0], "history (API)");
	buf_append_str(&r->resp->body, "]\n");
}

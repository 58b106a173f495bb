/*
 * web_case_form.c - case work in the console: the new-case form
 * (/cases/new), editing a case's fields (/cases/ID/edit) and the actions
 * of the case page (POST /cases/ID/ACTION: service, note, followup,
 * status, transfer, erase).
 *
 * Every write goes through caseop.h, the functions the CLI verbs call,
 * with the signed-in user as author: one signed change per action.  The
 * values are checked by the schema, field by field, so that every
 * refused value is shown next to its field in the user's language and
 * the form keeps what was typed; nothing is written while one is
 * refused.  The router has checked the session, the role (caseworker)
 * and the CSRF token before any handler here runs; erase checks for an
 * administrator itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "caseop.h"
#include "conflict.h"
#include "merge.h"
#include "provinces.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define FORM_SERVICE_ROWS	3	/* first services on the intake form */
#define CONFLICTS_SHOWN		8

/* The intake, in the order it is done (docs/CONSOLE.md). */
static const char *const g_person[] = {
	"person.full_name", "person.sex", "person.birth_year",
	"person.category", "person.legal_status", "person.home_province",
	"person.ethnicity", "person.id_number", "person.phone",
	"person.address", "person.principal_case", NULL
};
static const char *const g_trafficking[] = {
	"trafficking.purposes", "trafficking.destination_country",
	"trafficking.returned_on", "trafficking.return_route", NULL
};
static const char *const g_intake[] = {
	"intake.received_on", "intake.source", "intake.facility", NULL
};
static const char *const svc_members[] = {
	"type", "on", "provider", "amount_vnd", "days", NULL
};

/* Erasure reasons: a choice, never free text (it would be kept apart
 * from the case, in the audit log, which must hold no person's data). */
static const char *const erase_why[][2] = {
	{ "person_request", N_("the person asked for it") },
	{ "recorded_in_error", N_("recorded in error") },
	{ "duplicate", N_("a duplicate of another case") },
	{ "legal_order", N_("a decision of a competent authority") },
};

static void
caseop_for(struct web_req *r, struct caseop *c)
{
	c->st = r->w->st;
	c->node = r->w->cfg->node;
	c->author = r->author;
	c->clock_offset_ms = r->w->cfg->clock_offset_ms;
}

static int
required(const char *path)
{
	for (const char *const *p = schema_intake_required(); *p; p++)
		if (strcmp(*p, path) == 0)
			return 1;
	return 0;
}

/* The member name of path ("person.sex" -> "sex"). */
static const char *
member(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL ? dot + 1 : path;
}

/*
 * Appends ,"group":{...} with the values of paths to j (nothing when
 * none is given).  req: apply the intake's required fields.
 */
static void
group_json(struct web_form *f, const char *group, const char *const *paths,
    int req, struct buf *j)
{
	struct buf	g, v;
	int		n = 0;

	buf_init(&g, HTTP_BODY_MAX * 2);
	for (; *paths != NULL; paths++) {
		buf_init(&v, HTTP_BODY_MAX);
		if (web_form_take(f, *paths, *paths, req && required(*paths),
		    &v) == 1) {
			jsonw_key(&g, member(*paths), n++ == 0);
			buf_append(&g, v.data, v.len);
		}
		buf_release(&v);
	}
	if (n > 0) {
		buf_append_str(j, ",");
		jsonw_key(j, group, 1);
		buf_append_str(j, "{");
		buf_append(j, g.data, g.len);
		buf_append_str(j, "}");
	}
	buf_release(&g);
}

/* Is any member of service row `row` (prefix "services.N.") filled? */
static int
row_used(struct web_form *f, int row)
{
	char	key[WEBREQ_KEY_MAX + 1];

	for (size_t m = 0; svc_members[m] != NULL; m++) {
		const char *v;

		snprintf(key, sizeof(key), "services.%d.%s", row,
		    svc_members[m]);
		for (v = web_form_value(f, key); *v == ' '; v++)
			;
		if (*v != '\0')
			return 1;
	}
	return 0;
}

/* Appends the service of row (keys "services.N.member") as an object to
 * j, first: no comma before it.  Returns 0 when refused. */
static int
service_json(struct web_form *f, int row, int first, struct buf *j)
{
	struct buf	v;
	char		key[WEBREQ_KEY_MAX + 1], path[64];
	int		n = 0, ok = 1;

	if (!first)
		buf_append_str(j, ",");
	buf_append_str(j, "{");
	for (size_t m = 0; svc_members[m] != NULL; m++) {
		if (row > 0)
			snprintf(key, sizeof(key), "services.%d.%s", row,
			    svc_members[m]);
		else
			snprintf(key, sizeof(key), "services.%s",
			    svc_members[m]);
		snprintf(path, sizeof(path), "services.%s", svc_members[m]);
		buf_init(&v, HTTP_BODY_MAX);
		switch (web_form_take(f, key, path, m < 2, &v)) {
		case 1:
			jsonw_key(j, svc_members[m], n++ == 0);
			buf_append(j, v.data, v.len);
			break;
		case -1:
			ok = 0;
			break;
		}
		buf_release(&v);
	}
	buf_append_str(j, "}");
	return ok;
}

/* An error the schema found in the whole input ("path: message") is
 * shown at its field when the path is one of the form's. */
static void
whole_error(struct web_form *f, const char *err)
{
	char		 path[WEBREQ_KEY_MAX + 1];
	const char	*colon = strstr(err, ": ");
	size_t		 n = colon != NULL ? (size_t)(colon - err) : 0;

	if (n > 0 && n < sizeof(path)) {
		memcpy(path, err, n);
		path[n] = '\0';
		if (schema_field_label(path) != NULL) {
			web_form_fail(f, path, SCHEMA_WHY_OTHER, err);
			return;
		}
	}
	web_form_fail(f, "", SCHEMA_WHY_OTHER, err);
}

/* The form's top-level error that belongs to no field, if any. */
static void
other_errors(struct web_form *f)
{
	for (size_t i = 0; i < f->nerr; i++)
		if (f->err[i].key[0] == '\0') {
			html_lit(&f->r->h, "<p class=\"error\">");
			html_text(&f->r->h, f->err[i].p.msg);
			html_lit(&f->r->h, "</p>");
		}
}

static void
section_begin(struct web_req *r, const char *num, const char *title,
    const char *id)
{
	html_lit(&r->h, "<section class=\"card formgroup\"");
	html_attr(&r->h, "id", id);
	html_lit(&r->h, "><h2><span class=\"step\">");
	html_text(&r->h, num);
	html_lit(&r->h, "</span> ");
	html_text(&r->h, title);
	html_lit(&r->h, "</h2><div class=\"fieldgrid\">");
}

static void
section_end(struct web_req *r)
{
	html_lit(&r->h, "</div></section>");
}

static void
fields(struct web_form *f, const char *const *paths, int req)
{
	for (; *paths != NULL; paths++)
		web_form_field(f, *paths, *paths, req && required(*paths));
}

/* ---- the new-case form ------------------------------------------------ */

/* The draft's values that possible duplicates are matched on (dupes.h);
 * NULL when not given. */
static void
dupes_args(struct web_req *r, const char **name, const char **by,
    const char **sex, const char **home)
{
	*name = webreq_form_get(&r->form, "person.full_name");
	*by = webreq_form_get(&r->form, "person.birth_year");
	*sex = webreq_form_get(&r->form, "person.sex");
	*home = webreq_form_get(&r->form, "person.home_province");
}

/* dupes: the draft has possible duplicates; the form shows them and
 * saves anyway on the next submit. */
static void
new_form_html(struct web_form *f, int dupes)
{
	struct web_req	*r = f->r;
	struct html	*h = &r->h;
	char		 key[WEBREQ_KEY_MAX + 1], path[64], n[16];

	web_page_begin(r, web_tr(r, "New case"), "/cases/new");
	html_lit(h, "<p class=\"lead\">");
	html_text(h, web_tr(r, "Record a person received by this province, "
	    "in the order of the intake. Fields marked * are required; "
	    "everything else can be added later."));
	html_lit(h, "</p>");
	web_form_summary(f);
	other_errors(f);
	if (dupes) {
		const char *name, *by, *sex, *home;

		dupes_args(r, &name, &by, &sex, &home);
		web_dupes_panel(r, name, by != NULL ? strtoll(by, NULL, 10) :
		    0, sex, home, NULL);
	}
	html_lit(h, "<form method=\"post\" action=\"/cases/new\" "
	    "class=\"caseform\" id=\"newcase\">");
	web_csrf_field(r);
	if (dupes)
		html_lit(h, "<input type=\"hidden\" name=\"dupes_ok\" "
		    "value=\"1\">");
	section_begin(r, "1", web_tr(r, "Person"), "g-person");
	fields(f, g_person, 1);
	section_end(r);
	section_begin(r, "2", web_tr(r, "Trafficking"), "g-trafficking");
	fields(f, g_trafficking, 1);
	section_end(r);
	section_begin(r, "3", web_tr(r, "Reception"), "g-intake");
	fields(f, g_intake, 1);
	web_form_field(f, "status", "status", 0);
	section_end(r);
	section_begin(r, "4", web_tr(r, "First services"), "g-services");
	html_lit(h, "<p class=\"hint\">");
	html_text(h, web_tr(r, "The support given at reception, one row "
	    "each (Law 53/2024, Art. 37). Leave a row empty when there is "
	    "none; more can be added on the case's page."));
	html_lit(h, "</p>");
	for (int row = 1; row <= FORM_SERVICE_ROWS; row++) {
		html_lit(h, "<fieldset class=\"svcrow\"><legend>");
		snprintf(n, sizeof(n), "%d", row);
		html_textf(h, web_tr(r, "Service %s"), n);
		html_lit(h, "</legend>");
		for (size_t m = 0; svc_members[m] != NULL; m++) {
			snprintf(key, sizeof(key), "services.%d.%s", row,
			    svc_members[m]);
			snprintf(path, sizeof(path), "services.%s",
			    svc_members[m]);
			web_form_field(f, key, path, 0);
		}
		html_lit(h, "</fieldset>");
	}
	section_end(r);
	html_lit(h, "<div class=\"buttons\"><button type=\"submit\" "
	    "class=\"primary\">");
	html_text(h, dupes ? web_tr(r, "Save anyway") :
	    web_tr(r, "Save the case"));
	html_lit(h, "</button><a href=\"/cases\">");
	html_text(h, web_tr(r, "Cancel"));
	html_lit(h, "</a></div></form>");
	web_page_end(r);
}

void
web_case_new_page(struct web_req *r)
{
	struct web_form f;

	web_form_init(&f, r, 0);
	web_form_prefill(&f, "status", "reported");
	new_form_html(&f, 0);
	web_form_release(&f);
}

void
web_case_new_post(struct web_req *r)
{
	struct web_form	 f;
	struct caseop	 c;
	struct buf	 j, v;
	struct url	 u;
	char		 err[512], id[ENTRY_CASE_ID_LEN + 1];
	int		 nsvc = 0, rc;

	web_form_init(&f, r, 1);
	buf_init(&j, SCHEMA_INPUT_MAX);
	buf_init(&v, HTTP_BODY_MAX);
	buf_append_str(&j, "{");
	if (web_form_take(&f, "status", "status", 0, &v) != 1) {
		buf_reset(&v);
		buf_append_str(&v, "\"reported\"");
	}
	jsonw_key(&j, "status", 1);
	buf_append(&j, v.data, v.len);
	buf_release(&v);
	group_json(&f, "person", g_person, 1, &j);
	group_json(&f, "trafficking", g_trafficking, 1, &j);
	group_json(&f, "intake", g_intake, 1, &j);
	for (int row = 1; row <= FORM_SERVICE_ROWS; row++) {
		if (!row_used(&f, row))
			continue;
		buf_append_str(&j, nsvc++ == 0 ? ",\"services\":[" : "");
		service_json(&f, row, nsvc == 1, &j);
	}
	if (nsvc > 0)
		buf_append_str(&j, "]");
	buf_append_str(&j, "}");
	/* Possible duplicates are shown before the case is saved; the
	 * caseworker opens one, or saves anyway (the next submit). */
	if (f.nerr == 0 && webreq_form_get(&r->form, "dupes_ok") == NULL) {
		const char *name, *by, *sex, *home;

		dupes_args(r, &name, &by, &sex, &home);
		if (web_dupes_count(r, name, by, sex, home) > 0) {
			new_form_html(&f, 1);
			goto out;
		}
	}
	if (f.nerr == 0) {
		caseop_for(r, &c);
		web_lock(r);
		rc = caseop_add(&c, (const char *)j.data, j.len, id, err,
		    sizeof(err));
		web_unlock(r);
		if (rc == 0) {
			web_audit(r, "case.add", id, "recorded in the console");
			url_init(&u, "/cases/");
			url_seg(&u, id);
			url_arg(&u, "saved", "new");
			web_redirect(r, &u);
			goto out;
		}
		whole_error(&f, err);
	}
	/* Nothing was written: the form again, as typed, with the errors. */
	r->resp->status = 400;
	new_form_html(&f, 0);
out:
	crypto_wipe(j.data, j.len);
	buf_release(&j);
	web_form_release(&f);
}

/* ---- editing a case's fields ----------------------------------------- */

/* Loads case caps[0] (values opened) into *s; a page for the error.
 * Returns 0, or non-zero after answering. */
static int
load_case(struct web_req *r, struct case_state *s)
{
	int rc;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 404, web_tr(r, "no such case"));
		return E_NOTFOUND;
	}
	web_lock(r);
	rc = store_case_get(r->w->st, r->caps[0], s);
	web_unlock(r);
	if (rc != 0) {
		web_error(r, 404, web_tr(r, "no such case"));
		return rc;
	}
	return 0;
}

/* May this node change the case (its owner, or central)? */
static int
may_change(const struct web_req *r, const struct case_state *s)
{
	if (s->flags & STATE_F_READONLY)
		return 0;
	return strcmp(s->owner, r->w->cfg->node) == 0 ||
	    strcmp(r->w->cfg->role, "central") == 0;
}

static const char *const *const edit_groups[] = {
	g_person, g_trafficking, g_intake, NULL
};

static void
hidden(struct html *h, const char *prefix, const char *path, const char *v)
{
	char key[WEBREQ_KEY_MAX + 1];

	snprintf(key, sizeof(key), "%s%s", prefix, path);
	html_lit(h, "<input type=\"hidden\"");
	html_attr(h, "name", key);
	html_attr(h, "value", v);
	html_lit(h, ">");
}

static void
edit_form_html(struct web_form *f, const struct case_state *s)
{
	struct web_req	*r = f->r;
	struct html	*h = &r->h;
	struct url	 u;
	char		 title[96], v[WEBREQ_VALUE_MAX + 1], b[64];
	char		 key[WEBREQ_KEY_MAX + 1];
	static const char *const titles[] = { N_("Person"),
	    N_("Trafficking"), N_("Reception") };

	snprintf(title, sizeof(title), "%s %.13s…", web_tr(r, "Edit case"),
	    s->id);
	web_page_begin(r, title, "/cases");
	html_lit(h, "<p class=\"lead\">");
	html_text(h, web_tr(r, "Change what needs changing; only the fields "
	    "you change are recorded, as one signed change in your name. An "
	    "emptied field is cleared."));
	html_lit(h, "</p>");
	web_form_summary(f);
	other_errors(f);
	html_lit(h, "<form method=\"post\" class=\"caseform\" id=\"editcase\"");
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	url_lit(&u, "/edit");
	html_url_attr(h, "action", &u);
	html_lit(h, ">");
	web_csrf_field(r);
	for (size_t g = 0; edit_groups[g] != NULL; g++) {
		char num[4], id[16];

		snprintf(num, sizeof(num), "%zu", g + 1);
		snprintf(id, sizeof(id), "g-%zu", g + 1);
		section_begin(r, num, web_tr(r, titles[g]), id);
		for (const char *const *p = edit_groups[g]; *p; p++) {
			const struct field	*fl = merge_field(s, *p);
			const struct head	*w = fl ? merge_winner(fl) :
			    NULL;

			web_form_field(f, *p, *p, 0);
			/* What the user saw: the value and its stamp, so
			 * that a newer value synced meanwhile becomes a
			 * conflict instead of being overwritten. */
			if (f->posted) {
				const char *o;

				snprintf(key, sizeof(key), "orig.%s", *p);
				if ((o = webreq_form_get(&r->form, key)))
					hidden(h, "orig.", *p, o);
				snprintf(key, sizeof(key), "base.%s", *p);
				if ((o = webreq_form_get(&r->form, key)))
					hidden(h, "base.", *p, o);
				continue;
			}
			schema_get_text(s, *p, v, sizeof(v));
			hidden(h, "orig.", *p, v);
			if (w != NULL) {
				snprintf(b, sizeof(b), "%llu:%s",
				    (unsigned long long)w->st.hlc,
				    w->st.node);
				hidden(h, "base.", *p, b);
			}
		}
		section_end(r);
	}
	html_lit(h, "<div class=\"buttons\"><button type=\"submit\" "
	    "class=\"primary\">");
	html_text(h, web_tr(r, "Save the changes"));
	html_lit(h, "</button><a");
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	html_href(h, &u);
	html_lit(h, ">");
	html_text(h, web_tr(r, "Cancel"));
	html_lit(h, "</a></div></form>");
	web_page_end(r);
}

void
web_case_edit_page(struct web_req *r)
{
	struct case_state	s;
	struct web_form		f;
	char			v[WEBREQ_VALUE_MAX + 1];

	if (load_case(r, &s) != 0)
		return;
	if (!may_change(r, &s)) {
		state_release(&s);
		web_error(r, 409, web_tr(r, "This case is owned by another "
		    "province: it is changed there."));
		return;
	}
	web_audit(r, "case.view", s.id, "identifying values shown (edit)");
	web_form_init(&f, r, 0);
	for (size_t g = 0; edit_groups[g] != NULL; g++)
		for (const char *const *p = edit_groups[g]; *p; p++)
			if (schema_get_text(&s, *p, v, sizeof(v)))
				web_form_prefill(&f, *p, v);
	edit_form_html(&f, &s);
	web_form_release(&f);
	state_release(&s);
}

/* The base stamp the form carried for path ("HLC:node"), or none. */
static void
form_base(struct web_req *r, const char *path, struct stamp *st)
{
	char		 key[WEBREQ_KEY_MAX + 1];
	const char	*v, *colon;
	char		 num[24];
	uint64_t	 hlc;

	memset(st, 0, sizeof(*st));
	snprintf(key, sizeof(key), "base.%s", path);
	if ((v = webreq_form_get(&r->form, key)) == NULL ||
	    (colon = strchr(v, ':')) == NULL ||
	    (size_t)(colon - v) >= sizeof(num))
		return;
	memcpy(num, v, (size_t)(colon - v));
	num[colon - v] = '\0';
	if (parse_u64(num, 1, UINT64_MAX, &hlc) != 0 ||
	    !node_id_valid(colon + 1))
		return;
	st->hlc = hlc;
	strlcpy_(st->node, colon + 1, sizeof(st->node));
}

struct cf_find {
	const char	*const *paths;
	size_t		 npaths;
	char		 ids[CONFLICTS_SHOWN][CONFLICT_ID_LEN + 1];
	size_t		 n;
};

static int
cf_one(const struct conflict *c, void *arg)
{
	struct cf_find *cf = arg;

	for (size_t i = 0; i < cf->npaths; i++)
		if (strcmp(c->f->path, cf->paths[i]) == 0 &&
		    cf->n < CONFLICTS_SHOWN) {
			strlcpy_(cf->ids[cf->n++], c->id, sizeof(cf->ids[0]));
			break;
		}
	return 0;
}

/* Redirects to the case page, naming the conflicts that the change to
 * paths made (or met), and what was saved. */
static void
after_write(struct web_req *r, const char *id, const char *saved,
    const char *const *paths, size_t npaths)
{
	struct case_state	s;
	struct cf_find		cf;
	struct url		u;

	memset(&cf, 0, sizeof(cf));
	cf.paths = paths;
	cf.npaths = npaths;
	if (npaths > 0) {
		web_lock(r);
		if (store_case_get(r->w->st, id, &s) == 0) {
			conflict_each(&s, cf_one, &cf);
			state_release(&s);
		}
		web_unlock(r);
	}
	url_init(&u, "/cases/");
	url_seg(&u, id);
	url_arg(&u, "saved", saved);
	for (size_t i = 0; i < cf.n; i++)
		url_arg(&u, "conflict", cf.ids[i]);
	web_redirect(r, &u);
}

void
web_case_edit_post(struct web_req *r)
{
	struct case_state	 s;
	struct web_form		 f;
	struct caseop		 c;
	struct entry		 e;
	struct buf		 j;
	const char		*changed[48];
	char			 now[WEBREQ_VALUE_MAX + 1], key[80];
	char			 err[512], idbuf[ENTRY_CASE_ID_LEN + 1];
	size_t			 nchanged = 0;
	int			 rc = E_INVAL;

	if (load_case(r, &s) != 0)
		return;
	web_form_init(&f, r, 1);
	buf_init(&j, SCHEMA_INPUT_MAX);
	buf_append_str(&j, "{");
	for (size_t g = 0; edit_groups[g] != NULL; g++) {
		const char	*gname = g == 0 ? "person" : g == 1 ?
		    "trafficking" : "intake";
		struct buf	 grp, v;
		int		 n = 0;

		buf_init(&grp, SCHEMA_INPUT_MAX);
		for (const char *const *p = edit_groups[g]; *p; p++) {
			const char *orig;

			snprintf(key, sizeof(key), "orig.%s", *p);
			orig = webreq_form_get(&r->form, key);
			web_form_norm(&f, *p, *p, now, sizeof(now));
			if (orig == NULL || strcmp(orig, now) == 0)
				continue;	/* not changed */
			buf_init(&v, HTTP_BODY_MAX);
			rc = web_form_take(&f, *p, *p, 0, &v);
			if (rc >= 0 && nchanged < 48) {
				changed[nchanged++] = *p;
				jsonw_key(&grp, member(*p), n++ == 0);
				if (rc == 1)
					buf_append(&grp, v.data, v.len);
				else
					buf_append_str(&grp, "null");
			}
			buf_release(&v);
		}
		if (n > 0) {
			if (j.len > 1)
				buf_append_str(&j, ",");
			jsonw_key(&j, gname, 1);
			buf_append_str(&j, "{");
			buf_append(&j, grp.data, grp.len);
			buf_append_str(&j, "}");
		}
		buf_release(&grp);
	}
	buf_append_str(&j, "}");
	if (f.nerr == 0 && nchanged == 0) {
		after_write(r, s.id, "nothing", NULL, 0);
		goto out;
	}
	if (f.nerr == 0) {
		caseop_for(r, &c);
		rc = caseop_build(&c, (const char *)j.data, j.len, s.id, &e,
		    idbuf, err, sizeof(err));
		/* Each field keeps the stamp of the value the user saw.  A
		 * stamp newer than the field's current value was never seen
		 * (a forged form): the store then takes the current one. */
		for (size_t i = 0; rc == 0 && i < e.nops; i++) {
			const struct field	*fl;
			const struct head	*w;

			if (e.ops[i].type != OP_SET)
				continue;
			form_base(r, e.ops[i].path, &e.ops[i].base);
			fl = merge_field(&s, e.ops[i].path);
			w = fl != NULL ? merge_winner(fl) : NULL;
			if (w == NULL || e.ops[i].base.hlc > w->st.hlc)
				memset(&e.ops[i].base, 0,
				    sizeof(e.ops[i].base));
		}
		if (rc == 0) {
			web_lock(r);
			rc = caseop_write(&c, &e, err, sizeof(err));
			web_unlock(r);
		}
		entry_release(&e);
		if (rc == 0) {
			web_audit(r, "case.update", s.id, "fields changed in "
			    "the console");
			after_write(r, s.id, "edit", changed, nchanged);
			goto out;
		}
		whole_error(&f, err);
	}
	r->resp->status = rc == E_CONFLICT ? 409 : 400;
	edit_form_html(&f, &s);
out:
	crypto_wipe(j.data, j.len);
	buf_release(&j);
	web_form_release(&f);
	state_release(&s);
}

/* ---- the actions of the case page ------------------------------------- */

static void
action_begin(struct web_req *r, const struct case_state *s,
    const char *action, const char *title, const char *cls)
{
	struct html	*h = &r->h;
	struct url	 u;

	html_lit(h, "<form method=\"post\"");
	html_attr(h, "class", cls);
	html_attr(h, "id", action);
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	url_lit(&u, "/");
	url_seg(&u, action);
	html_url_attr(h, "action", &u);
	html_lit(h, "><h3>");
	html_text(h, title);
	html_lit(h, "</h3>");
	web_csrf_field(r);
}

static void
action_end(struct web_req *r, const char *button)
{
	html_lit(&r->h, "<div class=\"buttons\"><button type=\"submit\" "
	    "class=\"primary\">");
	html_text(&r->h, button);
	html_lit(&r->h, "</button></div></form>");
}

/* One action's form; f holds what was typed and its errors. */
static void
action_form(struct web_form *f, const struct case_state *s,
    const char *action)
{
	struct web_req	*r = f->r;
	struct html	*h = &r->h;
	char		 key[WEBREQ_KEY_MAX + 1];

	/* Several actions on one page: ids of their own. */
	snprintf(f->idprefix, sizeof(f->idprefix), "%s-", action);
	if (strcmp(action, "service") == 0) {
		action_begin(r, s, action, web_tr(r, "Add a support service"),
		    "action");
		html_lit(h, "<div class=\"fieldgrid\">");
		for (size_t m = 0; svc_members[m] != NULL; m++) {
			snprintf(key, sizeof(key), "services.%s",
			    svc_members[m]);
			web_form_field(f, key, key, m < 2);
		}
		html_lit(h, "</div>");
		action_end(r, web_tr(r, "Add the service"));
	} else if (strcmp(action, "note") == 0 ||
	    strcmp(action, "followup") == 0) {
		int fu = action[0] == 'f';

		action_begin(r, s, action, fu ? web_tr(r, "Record a "
		    "follow-up visit") : web_tr(r, "Add a note"), "action");
		html_lit(h, "<div class=\"fieldgrid\">");
		web_form_field(f, "notes.on", "notes.on", fu);
		web_form_field(f, "notes.text", "notes.text", 1);
		html_lit(h, "</div>");
		action_end(r, fu ? web_tr(r, "Record the follow-up") :
		    web_tr(r, "Add the note"));
	} else if (strcmp(action, "status") == 0) {
		const char	*next[SCHEMA_STATUS_NEXT_MAX + 1];
		char		 st[32];

		schema_get_text(s, "status", st, sizeof(st));
		schema_status_next(st, next);
		action_begin(r, s, action, web_tr(r, "Change the status"),
		    "action");
		if (next[0] == NULL) {
			html_lit(h, "<p class=\"hint\">");
			html_text(h, web_tr(r, "The lifecycle has no further "
			    "step from this status."));
			html_lit(h, "</p></form>");
			return;
		}
		html_lit(h, "<fieldset class=\"checks\"><legend>");
		html_text(h, web_tr(r, "Next step of the lifecycle"));
		html_lit(h, "</legend>");
		for (size_t i = 0; next[i] != NULL; i++) {
			html_lit(h, "<label class=\"check\"><input "
			    "type=\"radio\" name=\"status\" required");
			html_attr(h, "value", next[i]);
			html_lit(h, "> ");
			html_text(h, web_tr(r, schema_enum_label(
			    SCHEMA_ENUM_STATUS, next[i])));
			html_lit(h, "</label>");
		}
		html_lit(h, "</fieldset>");
		action_end(r, web_tr(r, "Change the status"));
	} else if (strcmp(action, "transfer") == 0) {
		const char *to = web_form_value(f, "to");

		action_begin(r, s, action, web_tr(r, "Refer to another "
		    "province"), "action");
		html_lit(h, "<div class=\"fieldgrid\"><div class=\"field\">"
		    "<label for=\"to\">");
		html_text(h, web_tr(r, "Province"));
		html_lit(h, " <span class=\"req\">*</span></label><select "
		    "id=\"to\" name=\"to\" required><option value=\"\">–"
		    "</option>");
		for (int i = 0; i < provinces_count(); i++) {
			const struct province *p = provinces_get(i);

			if (strcmp(p->node, s->owner) == 0)
				continue;
			html_lit(h, "<option");
			html_attr(h, "value", p->node);
			if (strcmp(to, p->node) == 0)
				html_lit(h, " selected");
			html_lit(h, ">");
			html_text(h, p->name);
			html_lit(h, "</option>");
		}
		html_lit(h, "</select>");
		web_form_error(f, "to");
		html_lit(h, "</div>");
		web_form_field(f, "reason", "referrals.reason", 1);
		html_lit(h, "</div><p class=\"hint\">");
		html_text(h, web_tr(r, "The referral is an offer: the province "
		    "chosen receives the case at its next sync and accepts it, "
		    "or declines it with a reason. Until then the case stays "
		    "with this province."));
		html_lit(h, "</p>");
		action_end(r, web_tr(r, "Refer the case"));
	} else if (strcmp(action, "erase") == 0) {
		action_begin(r, s, action, web_tr(r, "Erase identifying data"),
		    "action danger");
		html_lit(h, "<p class=\"hint\">");
		html_text(h, web_tr(r, "Removes the names, numbers, phone, "
		    "address, notes and referral reasons of this case here and "
		    "on every node at its next sync, for good. The figures "
		    "reports need stay."));
		html_lit(h, "</p><div class=\"fieldgrid\"><div class=\""
		    "field\"><label for=\"why\">");
		html_text(h, web_tr(r, "Reason"));
		html_lit(h, " <span class=\"req\">*</span></label><select "
		    "id=\"why\" name=\"why\" required><option value=\"\">–"
		    "</option>");
		for (size_t i = 0; i < sizeof(erase_why) /
		    sizeof(erase_why[0]); i++) {
			html_lit(h, "<option");
			html_attr(h, "value", erase_why[i][0]);
			html_lit(h, ">");
			html_text(h, web_tr(r, erase_why[i][1]));
			html_lit(h, "</option>");
		}
		html_lit(h, "</select>");
		web_form_error(f, "why");
		html_lit(h, "</div><div class=\"field\">"
		    "<label for=\"confirm\">");
		html_textf(h, web_tr(r, "Type the first 8 characters of the "
		    "case id (%.8s) to confirm"), s->id);
		html_lit(h, "</label><input type=\"text\" id=\"confirm\" "
		    "name=\"confirm\" required maxlength=\"8\" "
		    "autocomplete=\"off\" class=\"mono\">");
		for (size_t i = 0; i < f->nerr; i++)
			if (strcmp(f->err[i].key, "confirm") == 0) {
				html_lit(h, "<p class=\"fielderr\">");
				html_text(h, web_tr(r, "This is not the start "
				    "of the case id."));
				html_lit(h, "</p>");
			}
		html_lit(h, "</div></div>");
		action_end(r, web_tr(r, "Erase for good"));
	}
}

void
web_case_actions_html(struct web_req *r, const struct case_state *s)
{
	struct html	*h = &r->h;
	struct web_form	 f;
	struct url	 u;
	static const char *const acts[] = { "service", "note", "followup",
	    "status", "transfer", NULL };

	html_lit(h, "<section class=\"card\" id=\"actions\"><h2>");
	html_text(h, web_tr(r, "Actions"));
	html_lit(h, "</h2>");
	if (!may_change(r, s)) {
		const struct province *p = province_find(s->owner);

		html_lit(h, "<p class=\"hint\">");
		html_textf(h, web_tr(r, "This case is owned by %s: it is "
		    "changed there."), p != NULL ? p->name : s->owner);
		html_lit(h, "</p></section>");
		return;
	}
	html_lit(h, "<p><a class=\"button\"");
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	url_lit(&u, "/edit");
	html_href(h, &u);
	html_lit(h, ">");
	html_text(h, web_tr(r, "Edit the case's fields"));
	html_lit(h, "</a></p><div class=\"actions\">");
	web_form_init(&f, r, 0);
	for (size_t i = 0; acts[i] != NULL; i++) {
		/* After an erase a note would be dropped (merge.h). */
		if (s->erased.hlc != 0 && (strcmp(acts[i], "note") == 0 ||
		    strcmp(acts[i], "followup") == 0))
			continue;
		action_form(&f, s, acts[i]);
	}
	if (r->user.role >= ROLE_ADMIN && s->erased.hlc == 0)
		web_dupes_link_form(r, s);
	if (r->user.role >= ROLE_ADMIN && s->erased.hlc == 0)
		action_form(&f, s, "erase");
	web_form_release(&f);
	html_lit(h, "</div></section>");
}

/* An action refused: its form alone, as typed, with the errors. */
static void
action_again(struct web_form *f, const struct case_state *s,
    const char *action, int status, const char *msg)
{
	struct web_req	*r = f->r;
	struct html	*h = &r->h;
	struct url	 u;
	char		 title[96];

	r->resp->status = status;
	snprintf(title, sizeof(title), "%s %.13s…", web_tr(r, "Case"), s->id);
	web_page_begin(r, title, "/cases");
	if (msg != NULL) {
		html_lit(h, "<p class=\"error\" role=\"alert\">");
		html_text(h, msg);
		html_lit(h, "</p>");
	}
	snprintf(f->idprefix, sizeof(f->idprefix), "%s-", action);
	web_form_summary(f);
	html_lit(h, "<section class=\"card\">");
	action_form(f, s, action);
	html_lit(h, "<p><a");
	url_init(&u, "/cases/");
	url_seg(&u, s->id);
	html_href(h, &u);
	html_lit(h, ">");
	html_text(h, web_tr(r, "Back to the case"));
	html_lit(h, "</a></p></section>");
	web_page_end(r);
}

/* The message of a refused write in the user's language. */
static const char *
write_error(struct web_req *r, int rc, const char *err)
{
	if (rc == E_CONFLICT)
		return web_tr(r, "Refused: this node does not own the case "
		    "(or holds a read-only copy of it).");
	if (rc == E_NOTFOUND)
		return web_tr(r, "no such case");
	if (rc == E_FULL)
		return web_tr(r, "Refused: the disk is full. Nothing was "
		    "saved.");
	return err;
}

static int
do_event(struct web_req *r, struct web_form *f, const struct case_state *s,
    const char *action, char *err, size_t errsz)
{
	struct caseop	 c;
	struct buf	 j, v;
	char		 day[16], evid[48];
	uint8_t		 rnd[12];
	int		 rc, fu = strcmp(action, "followup") == 0;

	buf_init(&j, SCHEMA_INPUT_MAX);
	caseop_for(r, &c);
	if (strcmp(action, "service") == 0) {
		buf_append_str(&j, "{\"services\":[");
		service_json(f, 0, 1, &j);
		buf_append_str(&j, "]}");
	} else {
		buf_append_str(&j, "{\"notes\":[{");
		if (fu) {
			/* A follow-up is a note with its own id prefix. */
			random_bytes(rnd, sizeof(rnd));
			memcpy(evid, "followup-", 9);
			hex_encode(rnd, sizeof(rnd), evid + 9);
			jsonw_key(&j, "id", 1);
			jsonw_str(&j, evid);
			buf_append_str(&j, ",");
		}
		buf_init(&v, HTTP_BODY_MAX);
		jsonw_key(&j, "on", 1);
		if (web_form_take(f, "notes.on", "notes.on", fu, &v) == 1)
			buf_append(&j, v.data, v.len);
		else {
			caseop_today(&c, day, sizeof(day));
			jsonw_str(&j, day);
		}
		buf_reset(&v);
		jsonw_key(&j, "author", 0);
		jsonw_str(&j, r->author);
		if (web_form_take(f, "notes.text", "notes.text", 1, &v) == 1) {
			jsonw_key(&j, "text", 0);
			buf_append(&j, v.data, v.len);
		}
		buf_release(&v);
		buf_append_str(&j, "}]}");
	}
	rc = E_INVAL;
	if (f->nerr == 0) {
		web_lock(r);
		rc = caseop_update(&c, s->id, (const char *)j.data, j.len, err,
		    errsz);
		web_unlock(r);
	}
	crypto_wipe(j.data, j.len);
	buf_release(&j);
	return rc;
}

void
web_case_action_post(struct web_req *r)
{
	const char		*action = r->caps[1];
	struct case_state	 s;
	struct web_form		 f;
	struct caseop		 c;
	char			 err[512] = "", from[HLC_NODE_MAX + 1];
	const char		*saved = NULL, *v;
	int			 rc = E_INVAL, already;

	if (strcmp(action, "service") && strcmp(action, "note") &&
	    strcmp(action, "followup") && strcmp(action, "status") &&
	    strcmp(action, "transfer") && strcmp(action, "erase")) {
		web_error(r, 404, web_tr(r, "no such page"));
		return;
	}
	if (strcmp(action, "erase") == 0 && r->user.role < ROLE_ADMIN) {
		web_error(r, 403, web_tr(r, "Only an administrator may erase "
		    "a case."));
		return;
	}
	if (load_case(r, &s) != 0)
		return;
	web_form_init(&f, r, 1);
	caseop_for(r, &c);
	if (strcmp(action, "service") == 0 || strcmp(action, "note") == 0 ||
	    strcmp(action, "followup") == 0) {
		rc = do_event(r, &f, &s, action, err, sizeof(err));
		saved = action;
	} else if (strcmp(action, "status") == 0) {
		v = webreq_form_get(&r->form, "status");
		web_lock(r);
		rc = caseop_status(&c, s.id, v != NULL ? v : "", err,
		    sizeof(err));
		web_unlock(r);
		if (rc == E_INVAL) {
			char	st[32];
			const char *l = schema_enum_label(SCHEMA_ENUM_STATUS,
			    v != NULL ? v : "");

			schema_get_text(&s, "status", st, sizeof(st));
			snprintf(err, sizeof(err), web_tr(r, "The lifecycle "
			    "does not go from \xe2\x80\x9c%s\xe2\x80\x9d to "
			    "\xe2\x80\x9c%s\xe2\x80\x9d."),
			    schema_enum_label(SCHEMA_ENUM_STATUS, st) ?
			    web_tr(r, schema_enum_label(SCHEMA_ENUM_STATUS,
			    st)) : "–", l != NULL ? web_tr(r, l) : "–");
		}
		saved = "status";
	} else if (strcmp(action, "transfer") == 0) {
		const char	*to = webreq_form_get(&r->form, "to");

		if (to == NULL || *to == '\0')
			web_form_fail(&f, "to", SCHEMA_WHY_REQUIRED,
			    "to: required");
		web_form_take(&f, "reason", "referrals.reason", 1, NULL);
		if (f.nerr == 0) {
			web_lock(r);
			rc = caseop_transfer(&c, s.id, to,
			    webreq_form_get(&r->form, "reason"), from, err,
			    sizeof(err));
			web_unlock(r);
			if (rc == 0)
				web_audit(r, "case.transfer", s.id, to);
		}
		saved = "referred";
	} else {
		const char *cf = webreq_form_get(&r->form, "confirm");
		const char *why = webreq_form_get(&r->form, "why");
		size_t	    k, nw = sizeof(erase_why) / sizeof(erase_why[0]);

		for (k = 0; why != NULL && k < nw; k++)
			if (strcmp(why, erase_why[k][0]) == 0)
				break;
		if (why == NULL || k == nw)
			web_form_fail(&f, "why", SCHEMA_WHY_REQUIRED,
			    "why: required");
		if (cf == NULL || strlen(cf) != 8 ||
		    strncmp(cf, s.id, 8) != 0)
			web_form_fail(&f, "confirm", SCHEMA_WHY_OTHER,
			    "confirm: not the start of the case id");
		if (f.nerr == 0) {
			web_lock(r);
			rc = caseop_erase(&c, s.id, &already, err,
			    sizeof(err));
			web_unlock(r);
			if (rc == 0)
				web_audit(r, "case.erase", s.id, why);
		}
		saved = "erased";
	}
	if (rc == 0) {
		web_audit(r, "case.update", s.id, action);
		after_write(r, s.id, saved, NULL, 0);
	} else if (f.nerr > 0) {
		action_again(&f, &s, action, 400, NULL);
	} else {
		action_again(&f, &s, action, rc == E_CONFLICT ? 409 : 400,
		    write_error(r, rc, err));
	}
	web_form_release(&f);
	state_release(&s);
}

/* ---- notices on the case page ----------------------------------------- */

void
web_case_notices_html(struct web_req *r, const struct case_state *s)
{
	struct html		*h = &r->h;
	struct conflict		 c;
	struct url		 u;
	const char		*saved = web_arg(r, "saved");
	static const char *const msgs[][2] = {
		{ "new", N_("The case is recorded.") },
		{ "edit", N_("The changes are saved.") },
		{ "nothing", N_("Nothing was changed.") },
		{ "service", N_("The service is added.") },
		{ "note", N_("The note is added.") },
		{ "followup", N_("The follow-up is recorded.") },
		{ "status", N_("The status is changed.") },
		{ "referred", N_("The case is referred: it shows \"referral "
		    "pending\" until the other province accepts it, when it "
		    "moves there, or declines it.") },
		{ "erased", N_("The identifying data is erased.") },
	};

	for (size_t i = 0; saved != NULL && i < sizeof(msgs) /
	    sizeof(msgs[0]); i++)
		if (strcmp(saved, msgs[i][0]) == 0) {
			html_lit(h, "<p class=\"notice\" role=\"status\">");
			html_text(h, web_tr(r, msgs[i][1]));
			html_lit(h, "</p>");
		}
	for (size_t i = 0; i < r->hr->nargs; i++) {
		if (strcmp(r->hr->args[i].key, "conflict") != 0 ||
		    conflict_find(s, r->hr->args[i].val, &c) != 0)
			continue;
		html_lit(h, "<p class=\"warning conflictnote\" role=\"alert\">");
		html_textf(h, web_tr(r, "Your change to \xe2\x80\x9c%s\xe2\x80"
		    "\x9d is saved, but another value of it reached this node "
		    "from another one meanwhile: the two now stand as a "
		    "conflict for an administrator to resolve."),
		    web_path_label(r, c.f->path));
		html_lit(h, " <a");
		url_init(&u, "/conflicts");
		url_lit(&u, "#");
		url_seg(&u, c.id);
		html_href(h, &u);
		html_lit(h, ">");
		html_textf(h, web_tr(r, "See conflict %s"), c.id);
		html_lit(h, "</a></p>");
	}
}

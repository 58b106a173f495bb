/*
 * web_dash.c - the national (or provincial) dashboard: / and GET
 * /api/report.  The figures are the report module's (report.h), made
 * for a chosen year and province and read back from its JSON form, so
 * the console and `casesync report` can never disagree.  For a viewer,
 * small cells are always suppressed (at least the --public threshold);
 * other roles may ask for ?min_cell=K.  The report reads only
 * non-identifying fields.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "web.h"
#include "dupes.h"
#include "provinces.h"
#include "report.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/util.h"

#define DASH_PUBLIC_MIN_CELL	5	/* as `report --public` */
#define DASH_YEARS		8

struct dash_args {
	unsigned	 year;
	char		 province[HLC_NODE_MAX + 1];
	unsigned	 min_cell;
};

static int
add_case(const struct case_state *s, void *arg)
{
	return report_add(arg, s);
}

static unsigned
this_year(void)
{
	time_t		t = time(NULL);
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL)
		return 2026;
	return (unsigned)tm.tm_year + 1900;
}

/* Reads year, province and min_cell from the query; E_INVAL with err. */
static int
dash_args(struct web_req *r, struct dash_args *a, char *err, size_t errsz)
{
	const char	*y = web_arg(r, "year"), *p = web_arg(r, "province");
	const char	*k = web_arg(r, "min_cell");
	uint64_t	 v;

	memset(a, 0, sizeof(*a));
	a->year = this_year();
	a->min_cell = 1;
	if (y != NULL && *y != '\0') {
		if (parse_u64(y, 1900, 2100, &v) != 0) {
			snprintf(err, errsz, "year: give a year from 1900 to "
			    "2100");
			return E_INVAL;
		}
		a->year = (unsigned)v;
	}
	if (p != NULL && *p != '\0') {
		if (!node_id_valid(p)) {
			snprintf(err, errsz, "province: not a node id");
			return E_INVAL;
		}
		strlcpy_(a->province, p, sizeof(a->province));
	}
	/* A province's console shows its own cases only. */
	if (strcmp(r->w->cfg->role, "central") != 0)
		strlcpy_(a->province, r->w->cfg->node, sizeof(a->province));
	if (k != NULL && *k != '\0') {
		if (parse_u64(k, 1, 100, &v) != 0) {
			snprintf(err, errsz, "min_cell: give a number from 1 "
			    "to 100");
			return E_INVAL;
		}
		a->min_cell = (unsigned)v;
	}
	if (r->user.role == ROLE_VIEWER && a->min_cell < DASH_PUBLIC_MIN_CELL)
		a->min_cell = DASH_PUBLIC_MIN_CELL;
	return 0;
}

/* Makes the report in format f into out. */
static int
dash_report(struct web_req *r, const struct dash_args *a,
    enum report_format f, struct buf *out)
{
	struct report_opts	 o;
	struct report		*rep;
	time_t			 t = time(NULL);
	struct tm		 tm;
	int			 rc;

	memset(&o, 0, sizeof(o));
	snprintf(o.from, sizeof(o.from), "%04u-01-01", a->year);
	snprintf(o.to, sizeof(o.to), "%04u-12-31", a->year);
	strlcpy_(o.province, a->province, sizeof(o.province));
	o.min_cell = a->min_cell;
	o.lang = r->lang;
	strlcpy_(o.node, r->w->cfg->node, sizeof(o.node));
	o.counts_person = dupes_counts_person;
	o.counts_arg = r->w->st;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(o.generated, sizeof(o.generated), "%Y-%m-%d", &tm);
	rep = report_new(&o);
	web_lock(r);
	rc = store_case_each(r->w->st, add_case, rep);
	web_unlock(r);
	if (rc == 0) {
		report_finish(rep);
		rc = report_render(rep, f, out);
	}
	report_free(&rep);
	return rc;
}

void
web_api_report(struct web_req *r)
{
	struct dash_args	a;
	char			err[128];

	if (dash_args(r, &a, err, sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	web_json_begin(r, 200);
	if (dash_report(r, &a, REPORT_JSON, &r->resp->body) != 0)
		web_error(r, 500, "the report cannot be made");
}

/*
 * GET /report.csv and /report.html: the figures of the dashboard as a
 * file to send (the annual report, docs/REPORTS.md), the same as
 * `casesync report --year Y --province P --format csv|html --lang L`.
 * The HTML file prints on A4; it is a download (Content-Disposition),
 * opened outside the console's CSP.
 */
void
web_report_download(struct web_req *r)
{
	struct dash_args	 a;
	enum report_format	 f;
	char			 err[128];
	int			 csv;

	if (dash_args(r, &a, err, sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	csv = strcmp(r->hr->path, "/report.csv") == 0;
	f = csv ? REPORT_CSV : REPORT_HTML;
	buf_reset(&r->resp->body);
	if (dash_report(r, &a, f, &r->resp->body) != 0) {
		web_error(r, 500, web_tr(r, "the report cannot be made"));
		return;
	}
	r->resp->ctype = csv ? "text/csv; charset=utf-8" :
	    "text/html; charset=utf-8";
	/* The name holds node ids and digits only: nothing to quote. */
	snprintf(r->resp->disposition, sizeof(r->resp->disposition),
	    "attachment; filename=\"%s-%s-%u.%s\"", csv ? "report" :
	    (r->lang == LANG_VI ? "bao-cao" : "report"), a.province[0] ?
	    a.province : "national", a.year, csv ? "csv" : "html");
}

/* ---- the page --------------------------------------------------------- */

/* A count cell: a number, or a suppressed mark such as "<5" or "x". */
static void
count_text(const cJSON *c, char *out, size_t sz, double *num)
{
	*num = -1;
	if (cJSON_IsNumber(c)) {
		*num = c->valuedouble;
		snprintf(out, sz, "%.0f", c->valuedouble);
	} else if (cJSON_IsString(c))
		snprintf(out, sz, "%s", c->valuestring);
	else
		snprintf(out, sz, "-");
}

struct dim_title {
	const char	*name;
	const char	*title;
	int		 e;		/* enum schema_enum of its values, -1 */
};

static const struct dim_title titles[] = {
	{ "province", N_("Cases by province"), -1 },
	{ "category", N_("Cases by person category"), SCHEMA_ENUM_CATEGORY },
	{ "sex", N_("Cases by sex"), SCHEMA_ENUM_SEX },
	{ "age_band", N_("Cases by age band at reception"), -1 },
	{ "purpose", N_("Cases by purpose of trafficking"),
	    SCHEMA_ENUM_PURPOSE },
	{ "destination", N_("Cases by destination country"), -1 },
	{ "source", N_("Cases by intake source"), SCHEMA_ENUM_SOURCE },
	{ "status", N_("Cases by current status"), SCHEMA_ENUM_STATUS },
	{ "service", N_("Persons served, by type of service"),
	    SCHEMA_ENUM_SERVICE },
	{ "referral_out", N_("Referrals out, by sending province"), -1 },
	{ "referral_in", N_("Referrals in, by receiving province"), -1 },
	{ "referral_pending", N_("Referrals waiting for an answer"), -1 },
};

/* The label of value v of dimension name in the user's language. */
static const char *
value_label(const struct web_req *r, const char *name, const char *v,
    const char *fallback)
{
	const char *l;

	if (strcmp(v, "unknown") == 0)
		return web_tr(r, "unknown");
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i].name, name) == 0 && titles[i].e >= 0 &&
		    (l = schema_enum_label((enum schema_enum)titles[i].e, v)) !=
		    NULL)
			return web_tr(r, l);
	return fallback;
}

static const char *
dim_title(const struct web_req *r, const char *name)
{
	for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
		if (strcmp(titles[i].name, name) == 0)
			return web_tr(r, titles[i].title);
	return name;
}

static void
dim_html(struct web_req *r, const cJSON *dim)
{
	struct html	*h = &r->h;
	const cJSON	*name = cJSON_GetObjectItemCaseSensitive(dim, "name");
	const cJSON	*cells = cJSON_GetObjectItemCaseSensitive(dim, "cells");
	const cJSON	*c;
	double		 max = 0, v;
	char		 t[32];
	int		 shown = 0, skip_zero;

	if (!cJSON_IsString(name) || !cJSON_IsArray(cells))
		return;
	/* 35 provinces: only those with cases. */
	skip_zero = strcmp(name->valuestring, "province") == 0;
	cJSON_ArrayForEach(c, cells) {
		count_text(cJSON_GetObjectItemCaseSensitive(c, "count"), t,
		    sizeof(t), &v);
		if (v > max)
			max = v;
	}
	html_lit(h, "<section class=\"card dim\"");
	html_attr(h, "id", name->valuestring);
	html_lit(h, "><h2>");
	html_text(h, dim_title(r, name->valuestring));
	html_lit(h, "</h2><table class=\"bars\"><tbody>");
	cJSON_ArrayForEach(c, cells) {
		const cJSON *label = cJSON_GetObjectItemCaseSensitive(c,
		    "label");
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(c,
		    "value");
		unsigned w;

		count_text(cJSON_GetObjectItemCaseSensitive(c, "count"), t,
		    sizeof(t), &v);
		if (skip_zero && v == 0)
			continue;
		shown++;
		w = v > 0 && max > 0 ? (unsigned)(v * 100 / max) : 0;
		if (v > 0 && w == 0)
			w = 1;
		html_lit(h, "<tr><th scope=\"row\">");
		html_text(h, value_label(r, name->valuestring,
		    cJSON_IsString(value) ? value->valuestring : "",
		    cJSON_IsString(label) ? label->valuestring : ""));
		html_lit(h, "</th><td class=\"bar\"><svg viewBox=\"0 0 100 10\""
		    " preserveAspectRatio=\"none\" aria-hidden=\"true\">"
		    "<rect x=\"0\" y=\"0\" height=\"10\"");
		html_attr_u64(h, "width", w);
		html_lit(h, "></rect></svg></td><td class=\"num\">");
		html_text(h, t);
		html_lit(h, "</td></tr>");
	}
	if (shown == 0) {
		html_lit(h, "<tr><td colspan=\"3\" class=\"muted\">");
		html_text(h, web_tr(r, "none"));
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></section>");
}

static void
tile(struct web_req *r, const char *value, const char *label)
{
	html_lit(&r->h, "<div class=\"tile\"><span class=\"big\">");
	html_text(&r->h, value);
	html_lit(&r->h, "</span><span>");
	html_text(&r->h, label);
	html_lit(&r->h, "</span></div>");
}

static void
form_html(struct web_req *r, const struct dash_args *a)
{
	struct html	*h = &r->h;
	char		 y[8];
	unsigned	 now = this_year();

	html_lit(h, "<form method=\"get\" action=\"/\" class=\"filters\">"
	    "<label>");
	html_text(h, web_tr(r, "Year"));
	html_lit(h, "<select name=\"year\">");
	for (unsigned i = 0; i < DASH_YEARS; i++) {
		snprintf(y, sizeof(y), "%u", now - i);
		html_lit(h, "<option");
		html_attr(h, "value", y);
		if (now - i == a->year)
			html_lit(h, " selected");
		html_lit(h, ">");
		html_text(h, y);
		html_lit(h, "</option>");
	}
	html_lit(h, "</select></label>");
	if (strcmp(r->w->cfg->role, "central") == 0) {
		html_lit(h, "<label>");
		html_text(h, web_tr(r, "Province"));
		html_lit(h, "<select name=\"province\"><option value=\"\">");
		html_text(h, web_tr(r, "Whole country"));
		html_lit(h, "</option>");
		for (int i = 0; i < provinces_count(); i++) {
			const struct province *p = provinces_get(i);

			html_lit(h, "<option");
			html_attr(h, "value", p->node);
			if (strcmp(p->node, a->province) == 0)
				html_lit(h, " selected");
			html_lit(h, ">");
			html_text(h, p->name);
			html_lit(h, "</option>");
		}
		html_lit(h, "</select></label>");
	}
	html_lit(h, "<button type=\"submit\">");
	html_text(h, web_tr(r, "Show"));
	html_lit(h, "</button></form>");
}

/* The annual report as files: CSV, and HTML to print. */
static void
download_links(struct web_req *r, const struct dash_args *a)
{
	struct html	*h = &r->h;
	struct url	 u;
	char		 y[8];

	snprintf(y, sizeof(y), "%u", a->year);
	html_lit(h, "<p class=\"downloads\" id=\"downloads\">");
	html_text(h, web_tr(r, "The annual report for the ministry:"));
	html_lit(h, " <a class=\"button\"");
	url_init(&u, "/report.csv");
	url_arg(&u, "year", y);
	if (a->province[0] != '\0')
		url_arg(&u, "province", a->province);
	html_href(h, &u);
	html_lit(h, " download>");
	html_text(h, web_tr(r, "CSV file"));
	html_lit(h, "</a> <a class=\"button\"");
	url_init(&u, "/report.html");
	url_arg(&u, "year", y);
	if (a->province[0] != '\0')
		url_arg(&u, "province", a->province);
	html_href(h, &u);
	html_lit(h, " download>");
	html_text(h, web_tr(r, "Printable page (HTML)"));
	html_lit(h, "</a></p>");
}

void
web_dashboard(struct web_req *r)
{
	struct html		*h = &r->h;
	struct dash_args	 a;
	struct buf		 j;
	cJSON			*root;
	const cJSON		*dims, *d, *sup, *x;
	char			 err[128], t[64];
	double			 v;

	if (dash_args(r, &a, err, sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	buf_init(&j, REPORT_OUT_MAX);
	if (dash_report(r, &a, REPORT_JSON, &j) != 0 || buf_append(&j, "", 1) != 0 ||
	    (root = cJSON_Parse((const char *)j.data)) == NULL) {
		buf_release(&j);
		web_error(r, 500, web_tr(r, "the report cannot be made"));
		return;
	}
	buf_release(&j);
	web_page_begin(r, web_tr(r, "Dashboard"), "/");
	form_html(r, &a);
	html_lit(h, "<p class=\"lead\">");
	if (a.province[0] != '\0') {
		const struct province *p = province_find(a.province);

		html_textf(h, web_tr(r, "Cases received in %u, %s."), a.year,
		    p != NULL ? p->name : a.province);
	} else
		html_textf(h, web_tr(r, "Cases received in %u, whole "
		    "country."), a.year);
	if (a.min_cell > 1) {
		html_lit(h, " ");
		html_textf(h, web_tr(r, "Counts below %u are hidden (shown as "
		    "<%u or x) so that no person can be picked out."),
		    a.min_cell, a.min_cell);
	}
	html_lit(h, "</p>");
	download_links(r, &a);
	x = cJSON_GetObjectItemCaseSensitive(root, "withheld");
	if (cJSON_IsTrue(x)) {
		html_lit(h, "<p class=\"notice\">");
		html_textf(h, web_tr(r, "Fewer than %u cases: nothing is "
		    "shown."), a.min_cell);
		html_lit(h, "</p>");
		goto done;
	}
	html_lit(h, "<div class=\"tiles\">");
	count_text(cJSON_GetObjectItemCaseSensitive(root, "cases"), t,
	    sizeof(t), &v);
	tile(r, t, web_tr(r, "cases received"));
	sup = cJSON_GetObjectItemCaseSensitive(root, "support");
	count_text(cJSON_GetObjectItemCaseSensitive(sup, "identified_victims"),
	    t, sizeof(t), &v);
	tile(r, t, web_tr(r, "identified victims"));
	x = cJSON_GetObjectItemCaseSensitive(sup, "share_pct");
	if (cJSON_IsNumber(x))
		snprintf(t, sizeof(t), "%.0f%%", x->valuedouble);
	else
		snprintf(t, sizeof(t), "-");
	tile(r, t, web_tr(r, "of identified victims received at least one "
	    "support service (target 100%)"));
	html_lit(h, "</div><div class=\"grid\">");
	dims = cJSON_GetObjectItemCaseSensitive(root, "dimensions");
	cJSON_ArrayForEach(d, dims)
		dim_html(r, d);
	html_lit(h, "</div>");
done:
	cJSON_Delete(root);
	web_page_end(r);
}

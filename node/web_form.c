/*
 * web_form.c - the console's forms: values as typed or prefilled, their
 * conversion to the JSON values `case add` takes, the schema's check of
 * each, and the controls drawn from the schema with each error next to
 * its field in the user's language.  See web.h.
 *
 * A value is turned into JSON by the kind of its field only (a date as
 * dd/mm/yyyy becomes yyyy-mm-dd, a number loses its thousands
 * separators, a country code is upper-cased); whether it is acceptable
 * is then the schema's decision alone (schema_value_check, the check
 * `case add` runs), so the form accepts exactly what the CLI accepts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "provinces.h"
#include "schema.h"

#include "../common/buf.h"
#include "../common/jsonw.h"
#include "../common/util.h"

/* Destinations the domain names (docs/SCHEMA.md), offered as a list; any
 * other code may be typed. */
static const char *const countries[] = {
	"CN", "KH", "LA", "MM", "TH", "MY", "KR", "JP", "TW", "DE", "GB",
	"VN", NULL
};

void
web_form_init(struct web_form *f, struct web_req *r, int posted)
{
	memset(f, 0, sizeof(*f));
	f->r = r;
	f->posted = posted;
}

void
web_form_release(struct web_form *f)
{
	for (size_t i = 0; i < f->npre; i++) {
		free(f->pre[i].val);
		f->pre[i].val = NULL;
	}
	f->npre = 0;
}

void
web_form_prefill(struct web_form *f, const char *key, const char *val)
{
	if (f->npre == WEB_FORM_PREFILL || val == NULL || *val == '\0')
		return;
	strlcpy_(f->pre[f->npre].key, key, sizeof(f->pre[0].key));
	f->pre[f->npre].val = xstrdup(val);
	f->npre++;
}

const char *
web_form_value(const struct web_form *f, const char *key)
{
	const char *v;

	if (f->posted) {
		v = webreq_form_get(&f->r->form, key);
		return v != NULL ? v : "";
	}
	for (size_t i = 0; i < f->npre; i++)
		if (strcmp(f->pre[i].key, key) == 0)
			return f->pre[i].val;
	return "";
}

/* Is v one of the values chosen for key (a set: several form entries, or
 * a prefilled list joined with ",")? */
static int
chosen(const struct web_form *f, const char *key, const char *v)
{
	const char	*p;
	size_t		 n = strlen(v);

	if (f->posted) {
		for (size_t i = 0; i < f->r->form.n; i++)
			if (strcmp(f->r->form.f[i].key, key) == 0 &&
			    strcmp(f->r->form.f[i].val, v) == 0)
				return 1;
		return 0;
	}
	for (p = web_form_value(f, key); (p = strstr(p, v)) != NULL; p += n) {
		const char *all = web_form_value(f, key);

		if ((p == all || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return 1;
	}
	return 0;
}

void
web_form_fail(struct web_form *f, const char *key, enum schema_why why,
    const char *msg)
{
	struct web_form_err *e;

	if (f->nerr == WEB_FORM_ERRS)
		return;
	e = &f->err[f->nerr++];
	memset(e, 0, sizeof(*e));
	strlcpy_(e->key, key, sizeof(e->key));
	e->p.why = why;
	strlcpy_(e->p.msg, msg != NULL ? msg : "", sizeof(e->p.msg));
}

static const struct web_form_err *
err_of(const struct web_form *f, const char *key)
{
	for (size_t i = 0; i < f->nerr; i++)
		if (strcmp(f->err[i].key, key) == 0)
			return &f->err[i];
	return NULL;
}

/* s without the spaces around it, into out. */
static void
trimmed(const char *s, char *out, size_t sz)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	strlcpy_(out, s, sz);
	n = strlen(out);
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t' ||
	    out[n - 1] == '\r' || out[n - 1] == '\n'))
		out[--n] = '\0';
}

/* "14/3/2025" (or with dots) as "2025-03-14"; other text unchanged. */
static void
date_iso(char *s, size_t sz)
{
	unsigned	d, m, y;
	char		tail;

	if ((sscanf(s, "%2u/%2u/%4u%c", &d, &m, &y, &tail) == 3 ||
	    sscanf(s, "%2u.%2u.%4u%c", &d, &m, &y, &tail) == 3) &&
	    y >= 1000 && y <= 9999 && strlen(s) <= 10)
		snprintf(s, sz, "%04u-%02u-%02u", y, m, d);
}

/* Digits with "." "," or spaces between groups (1.500.000): the digits
 * alone.  Returns 1 when s is such a number (now digits only). */
static int
int_plain(char *s)
{
	size_t	j = 0;
	int	digits = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			s[j++] = s[i];
			digits++;
		} else if (i == 0 && s[i] == '-')
			s[j++] = s[i];
		else if (s[i] != '.' && s[i] != ',' && s[i] != ' ')
			return 0;
	}
	s[j] = '\0';
	return digits > 0 && digits <= 18;
}

/* The JSON value of key for path into out; 0 when there is none. */
static int
value_json(const struct web_form *f, const char *key, const char *path,
    struct buf *out)
{
	enum schema_kind	 k;
	int64_t			 lo, hi;
	char			 v[WEBREQ_VALUE_MAX + 1];
	int			 n = 0;

	if (schema_field_kind(path, &k, &lo, &hi) != 0)
		return 0;
	if (k == SCHEMA_KIND_CHOICES) {
		const char *const	*vals;
		enum schema_enum	 e;

		if (schema_field_enum(path, &e) != 0)
			return 0;
		buf_append_str(out, "[");
		/* Every posted value goes to the schema, known or not. */
		if (f->posted) {
			for (size_t i = 0; i < f->r->form.n; i++) {
				if (strcmp(f->r->form.f[i].key, key) != 0)
					continue;
				if (n++ > 0)
					buf_append_str(out, ",");
				jsonw_str(out, f->r->form.f[i].val);
			}
		} else {
			for (vals = schema_enum_values(e); *vals; vals++) {
				if (!chosen(f, key, *vals))
					continue;
				if (n++ > 0)
					buf_append_str(out, ",");
				jsonw_str(out, *vals);
			}
		}
		buf_append_str(out, "]");
		return n > 0;
	}
	trimmed(web_form_value(f, key), v, sizeof(v));
	if (v[0] == '\0')
		return 0;
	switch (k) {
	case SCHEMA_KIND_INT:
		if (int_plain(v)) {
			buf_append_str(out, v);
			return 1;
		}
		break;	/* as text: the schema says it is no integer */
	case SCHEMA_KIND_DATE:
		date_iso(v, sizeof(v));
		break;
	case SCHEMA_KIND_COUNTRY:
		for (char *p = v; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		break;
	default:
		break;
	}
	jsonw_str(out, v);
	return 1;
}

int
web_form_norm(const struct web_form *f, const char *key, const char *path,
    char *out, size_t sz)
{
	enum schema_kind	 k;
	int64_t			 lo, hi;
	char			 v[WEBREQ_VALUE_MAX + 1];

	out[0] = '\0';
	if (schema_field_kind(path, &k, &lo, &hi) != 0)
		return 0;
	if (k == SCHEMA_KIND_CHOICES) {
		enum schema_enum	e;
		size_t			n = 0;

		if (schema_field_enum(path, &e) != 0)
			return 0;
		for (const char *const *vals = schema_enum_values(e); *vals;
		    vals++) {
			if (!chosen(f, key, *vals))
				continue;
			if (n > 0)
				strlcpy_(out + n, ",", sz - n);
			n = strlen(out);
			strlcpy_(out + n, *vals, sz - n);
			n = strlen(out);
		}
		return out[0] != '\0';
	}
	trimmed(web_form_value(f, key), v, sizeof(v));
	if (k == SCHEMA_KIND_INT)
		(void)int_plain(v);
	else if (k == SCHEMA_KIND_DATE)
		date_iso(v, sizeof(v));
	else if (k == SCHEMA_KIND_COUNTRY)
		for (char *p = v; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
	strlcpy_(out, v, sz);
	return out[0] != '\0';
}

int
web_form_take(struct web_form *f, const char *key, const char *path,
    int required, struct buf *out)
{
	struct buf		j;
	struct schema_problem	p;
	int			have;

	buf_init(&j, WEBREQ_VALUE_MAX * 2 + 64);
	have = value_json(f, key, path, &j);
	if (!have) {
		buf_release(&j);
		if (required) {
			char msg[160];

			snprintf(msg, sizeof(msg), "%s: required", path);
			web_form_fail(f, key, SCHEMA_WHY_REQUIRED, msg);
			return -1;
		}
		return 0;
	}
	if (j.len == 0 || schema_value_check(path, (const char *)j.data,
	    j.len, &p) != 0) {
		if (f->nerr < WEB_FORM_ERRS) {
			strlcpy_(f->err[f->nerr].key, key,
			    sizeof(f->err[0].key));
			f->err[f->nerr].p = p;
			f->nerr++;
		}
		buf_release(&j);
		return -1;
	}
	if (out != NULL)
		buf_append(out, j.data, j.len);
	buf_release(&j);
	return 1;
}

/* The message of e in the user's language. */
static void
err_text(struct web_form *f, const struct web_form_err *e)
{
	struct html	*h = &f->r->h;
	const char	*t = web_tr(f->r, schema_why_text(e->p.why));

	if (e->p.why == SCHEMA_WHY_RANGE)
		html_textf(h, t, (long long)e->p.min, (long long)e->p.max);
	else if (e->p.why == SCHEMA_WHY_TOO_LONG)
		html_textf(h, t, (long long)e->p.max);
	else
		html_text(h, t);
}

void
web_form_summary(struct web_form *f)
{
	struct html	*h = &f->r->h;
	struct url	 u;

	if (f->nerr == 0)
		return;
	html_lit(h, "<div class=\"errors\" role=\"alert\" id=\"form-errors\">"
	    "<p>");
	html_textf(h, web_tr(f->r, "Nothing was saved: %zu values need "
	    "correcting."), f->nerr);
	html_lit(h, "</p><ul>");
	for (size_t i = 0; i < f->nerr; i++) {
		const char	*path = f->err[i].key, *label, *dot;
		char		 p[WEBREQ_KEY_MAX + 1];

		if (*path == '\0')
			continue;	/* no field: said apart */
		/* "services.1.type" is labelled as "services.type". */
		if (strncmp(path, "services.", 9) == 0 &&
		    (dot = strchr(path + 9, '.')) != NULL) {
			snprintf(p, sizeof(p), "services%s", dot);
			path = p;
		}
		label = schema_field_label(path) != NULL ?
		    web_path_label(f->r, path) : strcmp(path, "to") == 0 ?
		    web_tr(f->r, "Province") : strcmp(path, "why") == 0 ?
		    web_tr(f->r, "Reason") : web_tr(f->r, "Confirmation");

		html_lit(h, "<li><a");
		url_init(&u, "#");
		url_seg(&u, f->idprefix);
		url_seg(&u, f->err[i].key);
		html_href(h, &u);
		html_lit(h, ">");
		html_text(h, label);
		html_lit(h, "</a>: ");
		err_text(f, &f->err[i]);
		html_lit(h, "</li>");
	}
	html_lit(h, "</ul></div>");
}

static void
option(struct html *h, const char *value, const char *label, int selected)
{
	html_lit(h, "<option");
	html_attr(h, "value", value);
	if (selected)
		html_lit(h, " selected");
	html_lit(h, ">");
	html_text(h, label);
	html_lit(h, "</option>");
}

/* The attributes every control shares: id, name, and the error's. */
static void
control_attrs(const struct web_form *f, const char *key, int required,
    int bad)
{
	struct html	*h = &f->r->h;
	char		 id[WEBREQ_KEY_MAX + 40], eid[WEBREQ_KEY_MAX + 48];

	snprintf(id, sizeof(id), "%s%s", f->idprefix, key);
	html_attr(h, "id", id);
	html_attr(h, "name", key);
	if (required)
		html_lit(h, " required aria-required=\"true\"");
	if (bad) {
		snprintf(eid, sizeof(eid), "%s-err", id);
		html_lit(h, " aria-invalid=\"true\"");
		html_attr(h, "aria-describedby", eid);
	}
}

void
web_form_field(struct web_form *f, const char *key, const char *path,
    int required)
{
	struct web_req			*r = f->r;
	struct html			*h = &r->h;
	const struct web_form_err	*e = err_of(f, key);
	const char			*v = web_form_value(f, key);
	enum schema_kind		 k;
	enum schema_enum		 en;
	int64_t				 lo, hi;
	char				 id[WEBREQ_KEY_MAX + 40], num[24];

	if (schema_field_kind(path, &k, &lo, &hi) != 0)
		return;
	snprintf(id, sizeof(id), "%s%s", f->idprefix, key);
	html_lit(h, "<div class=\"field");
	if (e != NULL)
		html_lit(h, " invalid");
	if (k == SCHEMA_KIND_TEXT)
		html_lit(h, " wide");
	html_lit(h, "\">");
	if (k == SCHEMA_KIND_CHOICES) {
		const char *const *vals;

		html_lit(h, "<fieldset class=\"checks\"");
		html_attr(h, "id", id);
		html_lit(h, "><legend>");
		html_text(h, web_path_label(r, path));
		if (required)
			html_lit(h, " <span class=\"req\">*</span>");
		html_lit(h, "</legend>");
		if (schema_field_enum(path, &en) == 0)
			for (vals = schema_enum_values(en); *vals; vals++) {
				html_lit(h, "<label class=\"check\"><input "
				    "type=\"checkbox\"");
				html_attr(h, "name", key);
				html_attr(h, "value", *vals);
				if (chosen(f, key, *vals))
					html_lit(h, " checked");
				html_lit(h, "> ");
				html_text(h, web_tr(r, schema_enum_label(en,
				    *vals)));
				html_lit(h, "</label>");
			}
		html_lit(h, "</fieldset>");
		goto err;
	}
	html_lit(h, "<label");
	html_attr(h, "for", id);
	html_lit(h, ">");
	html_text(h, web_path_label(r, path));
	if (required)
		html_lit(h, " <span class=\"req\">*</span>");
	html_lit(h, "</label>");
	switch (k) {
	case SCHEMA_KIND_CHOICE:
		html_lit(h, "<select");
		control_attrs(f, key, required, e != NULL);
		html_lit(h, ">");
		/* The status always has one; other fields may be left out. */
		if (strcmp(path, "status") != 0)
			option(h, "", "–", *v == '\0');
		if (schema_field_enum(path, &en) == 0)
			for (const char *const *vals = schema_enum_values(en);
			    *vals; vals++)
				option(h, *vals, web_tr(r, schema_enum_label(
				    en, *vals)), strcmp(v, *vals) == 0);
		html_lit(h, "</select>");
		break;
	case SCHEMA_KIND_PROVINCE:
	case SCHEMA_KIND_NODE:
		html_lit(h, "<select");
		control_attrs(f, key, required, e != NULL);
		html_lit(h, ">");
		option(h, "", "–", *v == '\0');
		for (int i = 0; i < provinces_count(); i++) {
			const struct province *p = provinces_get(i);

			option(h, p->node, p->name, strcmp(v, p->node) == 0);
		}
		html_lit(h, "</select>");
		break;
	case SCHEMA_KIND_TEXT:
		html_lit(h, "<textarea rows=\"3\"");
		control_attrs(f, key, required, e != NULL);
		snprintf(num, sizeof(num), "%lld", (long long)hi);
		html_attr(h, "maxlength", num);
		html_lit(h, ">");
		html_text(h, v);
		html_lit(h, "</textarea>");
		break;
	case SCHEMA_KIND_DATE: {
		char shown[WEBREQ_VALUE_MAX + 1];

		/* A prefilled ISO date is shown as the language writes
		 * it; what was typed is shown as typed. */
		if (f->posted || i18n_date(r->lang, v, shown,
		    sizeof(shown)) != 0)
			strlcpy_(shown, v, sizeof(shown));
		html_lit(h, "<input type=\"text\" inputmode=\"numeric\" "
		    "autocomplete=\"off\" maxlength=\"10\" size=\"11\"");
		control_attrs(f, key, required, e != NULL);
		html_attr(h, "placeholder", r->lang == LANG_VI ?
		    "dd/mm/yyyy" : "yyyy-mm-dd");
		html_attr(h, "value", shown);
		html_lit(h, ">");
		break;
	}
	case SCHEMA_KIND_INT:
		html_lit(h, "<input type=\"text\" inputmode=\"numeric\" "
		    "autocomplete=\"off\"");
		html_attr(h, "size", hi > 100000 ? "16" : "6");
		control_attrs(f, key, required, e != NULL);
		html_attr(h, "value", v);
		html_lit(h, ">");
		break;
	case SCHEMA_KIND_COUNTRY:
		html_lit(h, "<input type=\"text\" maxlength=\"2\" size=\"3\" "
		    "autocomplete=\"off\" autocapitalize=\"characters\" "
		    "list=\"countries\"");
		control_attrs(f, key, required, e != NULL);
		html_attr(h, "value", v);
		html_lit(h, "><datalist id=\"countries\">");
		for (size_t i = 0; countries[i] != NULL; i++) {
			html_lit(h, "<option");
			html_attr(h, "value", countries[i]);
			html_lit(h, ">");
		}
		html_lit(h, "</datalist>");
		break;
	case SCHEMA_KIND_CASE_ID:
		html_lit(h, "<input type=\"text\" class=\"mono\" "
		    "maxlength=\"36\" autocomplete=\"off\"");
		control_attrs(f, key, required, e != NULL);
		html_attr(h, "value", v);
		html_lit(h, ">");
		break;
	default:
		html_lit(h, "<input type=\"text\"");
		if (strcmp(path, "person.phone") == 0)
			html_lit(h, " inputmode=\"tel\"");
		control_attrs(f, key, required, e != NULL);
		/* maxlength counts characters, the schema bytes: the
		 * server has the last word. */
		snprintf(num, sizeof(num), "%lld", (long long)hi);
		html_attr(h, "maxlength", num);
		html_attr(h, "value", v);
		html_lit(h, ">");
		break;
	}
err:
	web_form_error(f, key);
	html_lit(h, "</div>");
}

void
web_form_error(struct web_form *f, const char *key)
{
	const struct web_form_err	*e = err_of(f, key);
	char				 eid[WEBREQ_KEY_MAX + 48];

	if (e == NULL)
		return;
	snprintf(eid, sizeof(eid), "%s%s-err", f->idprefix, key);
	html_lit(&f->r->h, "<p class=\"fielderr\"");
	html_attr(&f->r->h, "id", eid);
	html_lit(&f->r->h, ">");
	err_text(f, e);
	html_lit(&f->r->h, "</p>");
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
web_form_selftest(void)
{
	static const char body[] = "person.birth_year=+1990+&"
	    "services.amount_vnd=1.500.000&intake.received_on=4%2F3%2F2025&"
	    "trafficking.destination_country=kh&"
	    "trafficking.purposes=forced_marriage&"
	    "trafficking.purposes=sexual_exploitation&"
	    "person.sex=f&person.full_name=&person.phone=09x";
	struct web_req		 r;
	struct http_req		 hr;
	struct web_form		 f;
	struct buf		 out;
	char			 t[64];

	memset(&r, 0, sizeof(r));
	memset(&hr, 0, sizeof(hr));
	r.hr = &hr;
	ST_OK(webreq_form_parse(body, sizeof(body) - 1, &r.form));
	web_form_init(&f, &r, 1);
	buf_init(&out, 4096);
	/* Values become the JSON `case add` takes; the schema decides. */
	ST_CHECK(web_form_take(&f, "person.birth_year", "person.birth_year",
	    0, &out) == 1 && out.len == 4 && memcmp(out.data, "1990", 4) == 0);
	buf_reset(&out);
	ST_CHECK(web_form_take(&f, "services.amount_vnd",
	    "services.amount_vnd", 0, &out) == 1 &&
	    memcmp(out.data, "1500000", 7) == 0);
	buf_reset(&out);
	ST_CHECK(web_form_take(&f, "intake.received_on", "intake.received_on",
	    1, &out) == 1 && memcmp(out.data, "\"2025-03-04\"", 12) == 0);
	buf_reset(&out);
	ST_CHECK(web_form_take(&f, "trafficking.destination_country",
	    "trafficking.destination_country", 0, &out) == 1 &&
	    memcmp(out.data, "\"KH\"", 4) == 0);
	ST_CHECK(web_form_norm(&f, "trafficking.purposes",
	    "trafficking.purposes", t, sizeof(t)) &&
	    strcmp(t, "sexual_exploitation,forced_marriage") == 0);
	ST_CHECK(f.nerr == 0);
	/* Refused and missing values are recorded per key, with why. */
	ST_CHECK(web_form_take(&f, "person.sex", "person.sex", 0, NULL) == -1);
	ST_CHECK(web_form_take(&f, "person.full_name", "person.full_name", 1,
	    NULL) == -1);
	ST_CHECK(web_form_take(&f, "person.phone", "person.phone", 0,
	    NULL) == 1);
	ST_CHECK(web_form_take(&f, "intake.source", "intake.source", 0,
	    NULL) == 0);
	ST_CHECK(web_form_take(&f, "person.birth_year", "nope.path", 0,
	    NULL) == 0);
	ST_CHECK(f.nerr == 2 && f.err[0].p.why == SCHEMA_WHY_CHOICE &&
	    strcmp(f.err[1].key, "person.full_name") == 0 &&
	    f.err[1].p.why == SCHEMA_WHY_REQUIRED);
	/* Prefilled values (a form not posted) read back. */
	web_form_init(&f, &r, 0);
	web_form_prefill(&f, "trafficking.purposes", "forced_labour,other");
	ST_CHECK(web_form_norm(&f, "trafficking.purposes",
	    "trafficking.purposes", t, sizeof(t)) &&
	    strcmp(t, "forced_labour,other") == 0);
	ST_CHECK(strcmp(web_form_value(&f, "intake.source"), "") == 0);
	web_form_release(&f);
	buf_release(&out);
	webreq_form_release(&r.form);
	return 0;
}
#endif

/*
 * web_conflicts.c - the conflict queue: /conflicts (filters by province,
 * field and age; both values side by side with author, node, time and the
 * signature check; a resolve form with a required reason; bulk "keep the
 * winner"), POST /conflicts/CID, POST /conflicts/resolve, and GET
 * /api/conflicts, /api/conflicts/CID, POST /api/conflicts/CID/resolve.
 *
 * Resolving calls resolve_conflict(), the function `casesync conflicts
 * resolve` calls: the same checks, the same signed entry, the reason in
 * that entry.  Caseworkers may read the queue; only admins resolve.
 * Each case whose identifying value is shown is written to the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "conflict.h"
#include "jsonr.h"
#include "resolve.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

#define CF_SHOWN_MAX	200	/* conflicts on one page */
#define CF_BULK_MAX	CF_SHOWN_MAX
#define DAY_MS		(24ULL * 60 * 60 * 1000)

struct cf_side {
	char		*value;		/* JSON text, owned; NULL: sealed */
	char		 author[ENTRY_AUTHOR_MAX + 1];
	char		 node[HLC_NODE_MAX + 1];
	uint64_t	 hlc;
	int		 sig;		/* 1 verified, 0 failed, -1 unsigned,
					 * -2 not found */
};

struct cf_row {
	char		id[CONFLICT_ID_LEN + 1];
	char		case_id[ENTRY_CASE_ID_LEN + 1];
	char		owner[HLC_NODE_MAX + 1];
	char		path[ENTRY_PATH_MAX + 1];
	int		ident;
	struct cf_side	w, l;
};

struct cf_filter {
	const char	*province;	/* "" all */
	const char	*field;		/* "" all */
	uint64_t	 min_age_days;
	const char	*only;		/* one conflict id, or NULL */
};

struct cf_list {
	struct web_req		*r;
	struct cf_filter	 f;
	struct cf_row		*rows;
	size_t			 n;
	uint64_t		 total;		/* matching, shown or not */
	char			 provinces[64][HLC_NODE_MAX + 1];
	size_t			 nprov;
	char			 fields[64][ENTRY_PATH_MAX + 1];
	size_t			 nfields;
};

static void
side_fill(struct cf_side *s, const char *path, const struct head *h)
{
	struct op	o;
	char		err[160];

	memset(s, 0, sizeof(*s));
	strlcpy_(s->author, h->author, sizeof(s->author));
	strlcpy_(s->node, h->st.node, sizeof(s->node));
	s->hlc = h->st.hlc;
	s->sig = -2;
	memset(&o, 0, sizeof(o));
	o.type = OP_SET;
	strlcpy_(o.path, path, sizeof(o.path));
	if (h->value_len == 0 || op_set_value(&o, (const char *)h->value,
	    h->value_len) != 0)
		return;
	if (schema_check_op(&o, err, sizeof(err)) == 0)
		s->value = o.value;
	else
		free(o.value);
}

static void
add_name(char (*list)[HLC_NODE_MAX + 1], size_t *n, size_t max,
    const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], s) == 0)
			return;
	if (*n < max)
		strlcpy_(list[(*n)++], s, HLC_NODE_MAX + 1);
}

static int
cf_one(const struct conflict *c, void *arg)
{
	struct cf_list	*cl = arg;
	struct cf_row	*row;
	uint64_t	 newest;

	if (cl->f.only != NULL && strcasecmp(c->id, cl->f.only) != 0)
		return 0;
	/* The filter lists offer every field that has a conflict. */
	{
		size_t i;

		for (i = 0; i < cl->nfields; i++)
			if (strcmp(cl->fields[i], c->f->path) == 0)
				break;
		if (i == cl->nfields && cl->nfields < 64)
			strlcpy_(cl->fields[cl->nfields++], c->f->path,
			    sizeof(cl->fields[0]));
	}
	if (cl->f.field[0] != '\0' && strcmp(cl->f.field, c->f->path) != 0)
		return 0;
	newest = HLC_MS(c->winner->st.hlc > c->loser->st.hlc ?
	    c->winner->st.hlc : c->loser->st.hlc);
	if (cl->f.min_age_days > 0 && (cl->r->now_ms < newest ||
	    cl->r->now_ms - newest < cl->f.min_age_days * DAY_MS))
		return 0;
	cl->total++;
	if (cl->n >= CF_SHOWN_MAX)
		return 0;
	row = &cl->rows[cl->n++];
	memset(row, 0, sizeof(*row));
	strlcpy_(row->id, c->id, sizeof(row->id));
	strlcpy_(row->case_id, c->s->id, sizeof(row->case_id));
	strlcpy_(row->owner, c->s->owner, sizeof(row->owner));
	strlcpy_(row->path, c->f->path, sizeof(row->path));
	row->ident = schema_path_identifying(c->f->path);
	side_fill(&row->w, c->f->path, c->winner);
	side_fill(&row->l, c->f->path, c->loser);
	return 0;
}

static int
cf_case(const struct case_state *sealed, void *arg)
{
	struct cf_list		*cl = arg;
	struct case_state	 s;

	if ((sealed->flags & STATE_F_READONLY) ||
	    !conflict_candidate(sealed))
		return 0;
	add_name(cl->provinces, &cl->nprov, 64, sealed->owner);
	if (cl->f.province[0] != '\0' &&
	    strcmp(cl->f.province, sealed->owner) != 0)
		return 0;
	state_copy(&s, sealed);
	if (store_case_open(cl->r->w->st, &s) != 0)
		log_warnx("console: case %s: identifying values do not open",
		    s.id);
	conflict_each(&s, cf_one, cl);
	state_release(&s);
	return 0;
}

/* Signature status of the entries behind each side. */
struct sig_ctx {
	struct cf_row	*rows;
	size_t		 n;
	const char	*case_id;
};

static int
sig_one(const struct entry *e, int sig_ok, void *arg)
{
	struct sig_ctx *sc = arg;

	for (size_t i = 0; i < sc->n; i++) {
		struct cf_row *row = &sc->rows[i];

		if (strcmp(row->case_id, sc->case_id) != 0)
			continue;
		if (e->hlc == row->w.hlc && strcmp(e->origin, row->w.node) == 0)
			row->w.sig = sig_ok;
		if (e->hlc == row->l.hlc && strcmp(e->origin, row->l.node) == 0)
			row->l.sig = sig_ok;
	}
	return 0;
}

static void
cf_release(struct cf_list *cl)
{
	for (size_t i = 0; i < cl->n; i++) {
		free(cl->rows[i].w.value);
		free(cl->rows[i].l.value);
	}
	free(cl->rows);
	cl->rows = NULL;
	cl->n = 0;
}

/* Loads the conflicts that pass f (values opened: the caller's role may
 * see them) and audits every case with an identifying value shown. */
static int
cf_load(struct web_req *r, const struct cf_filter *f, struct cf_list *cl)
{
	int rc;

	memset(cl, 0, sizeof(*cl));
	cl->r = r;
	cl->f = *f;
	cl->rows = xcalloc(CF_SHOWN_MAX, sizeof(*cl->rows));
	web_lock(r);
	rc = store_conflicted_each(r->w->st, cf_case, cl);
	for (size_t i = 0; rc == 0 && i < cl->n; i++) {
		struct sig_ctx sc = { cl->rows, cl->n, cl->rows[i].case_id };

		if (i > 0 && strcmp(cl->rows[i - 1].case_id,
		    cl->rows[i].case_id) == 0)
			continue;
		(void)store_case_history(r->w->st, cl->rows[i].case_id,
		    sig_one, &sc);
	}
	web_unlock(r);
	for (size_t i = 0; i < cl->n; i++)
		if (cl->rows[i].ident && (i == 0 || strcmp(cl->rows[i -
		    1].case_id, cl->rows[i].case_id) != 0))
			web_audit(r, "conflict.view", cl->rows[i].case_id,
			    cl->rows[i].path);
	return rc;
}

static void
filter_from_args(struct web_req *r, struct cf_filter *f, char *err,
    size_t errsz)
{
	const char *age = web_arg(r, "age");

	memset(f, 0, sizeof(*f));
	err[0] = '\0';
	f->province = web_arg(r, "province");
	f->field = web_arg(r, "field");
	if (f->province == NULL)
		f->province = "";
	if (f->field == NULL)
		f->field = "";
	if (age != NULL && *age != '\0' && parse_u64(age, 0, 36500,
	    &f->min_age_days) != 0)
		snprintf(err, errsz, "age: give a number of days");
}

/* ---- JSON ------------------------------------------------------------- */

static void
side_json(struct buf *b, const char *key, const struct cf_side *s)
{
	char when[40];

	hlc_format(s->hlc, when, sizeof(when));
	jsonw_key(b, key, 0);
	buf_append_str(b, "{");
	jsonw_key(b, "value", 1);
	buf_append_str(b, s->value != NULL ? s->value : "null");
	if (s->value == NULL)
		buf_append_str(b, ",\"sealed\":true");
	jsonw_key(b, "author", 0);
	jsonw_str(b, s->author);
	jsonw_key(b, "node", 0);
	jsonw_str(b, s->node);
	jsonw_key(b, "time", 0);
	jsonw_str(b, when);
	jsonw_key(b, "signature", 0);
	jsonw_str(b, s->sig == 1 ? "verified" : s->sig == 0 ? "FAILED" :
	    s->sig == -1 ? "unsigned" : "unknown");
	buf_append_str(b, "}");
}

static void
row_json(struct buf *b, const struct cf_row *row)
{
	buf_append_str(b, "{");
	jsonw_key(b, "id", 1);
	jsonw_str(b, row->id);
	jsonw_key(b, "case", 0);
	jsonw_str(b, row->case_id);
	jsonw_key(b, "owner", 0);
	jsonw_str(b, row->owner);
	jsonw_key(b, "field", 0);
	jsonw_str(b, row->path);
	buf_append_str(b, row->ident ? ",\"identifying\":true" :
	    ",\"identifying\":false");
	side_json(b, "winner", &row->w);
	side_json(b, "loser", &row->l);
	buf_append_str(b, "}");
}

void
web_api_conflicts(struct web_req *r)
{
	struct cf_filter	f;
	struct cf_list		cl;
	char			err[128];

	filter_from_args(r, &f, err, sizeof(err));
	if (err[0] != '\0') {
		web_error(r, 400, err);
		return;
	}
	if (cf_load(r, &f, &cl) != 0) {
		cf_release(&cl);
		web_error(r, 500, "the store cannot be read");
		return;
	}
	web_json_begin(r, 200);
	buf_printf(&r->resp->body, "{\"total\":%llu,\"conflicts\":[",
	    (unsigned long long)cl.total);
	for (size_t i = 0; i < cl.n; i++) {
		if (i)
			buf_append_str(&r->resp->body, ",");
		row_json(&r->resp->body, &cl.rows[i]);
	}
	buf_append_str(&r->resp->body, "]}\n");
	cf_release(&cl);
}

void
web_api_conflict(struct web_req *r)
{
	struct cf_filter	f;
	struct cf_list		cl;
	char			msg[200];

	if (!conflict_id_valid(r->caps[0])) {
		snprintf(msg, sizeof(msg), "'%.40s' is not a conflict id (16 "
		    "hex digits, as `casesync conflicts` prints)", r->caps[0]);
		web_error(r, 400, msg);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.province = f.field = "";
	f.only = r->caps[0];
	if (cf_load(r, &f, &cl) != 0 || cl.n == 0) {
		cf_release(&cl);
		snprintf(msg, sizeof(msg), "no open conflict %.16s on this "
		    "node (resolved already, or not synced here yet)",
		    r->caps[0]);
		web_error(r, 404, msg);
		return;
	}
	web_json_begin(r, 200);
	row_json(&r->resp->body, &cl.rows[0]);
	buf_append_str(&r->resp->body, "\n");
	cf_release(&cl);
}

/*
 * The console's resolution: keep "winner"/"loser", or a new value typed
 * as text (tried as a JSON string first, then as JSON: 1990, ["a"]).
 */
static int
do_resolve(struct web_req *r, const char *cid, const char *keep,
    const char *value, int value_is_json, const char *reason,
    struct resolve_out *out, char *err, size_t errsz)
{
	struct buf	q;
	int		rc;

	if (reason == NULL || *reason == '\0') {
		snprintf(err, errsz, "%s", web_tr(r, "give a reason"));
		return E_INVAL;
	}
	web_lock(r);
	if (value != NULL && !value_is_json) {
		buf_init(&q, 16 * 1024);
		jsonw_str(&q, value);
		buf_append(&q, "", 1);
		rc = resolve_conflict(r->w->st, r->author, cid, NULL,
		    (const char *)q.data, reason, out, err, errsz);
		buf_release(&q);
		if (rc == E_INVAL && strncmp(err, "--value", 7) == 0)
			rc = resolve_conflict(r->w->st, r->author, cid, NULL,
			    value, reason, out, err, errsz);
	} else {
		rc = resolve_conflict(r->w->st, r->author, cid, keep, value,
		    reason, out, err, errsz);
	}
	web_unlock(r);
	if (rc == 0) {
		char detail[160];

		snprintf(detail, sizeof(detail), "conflict %s, field %s, %s",
		    cid, out->path, keep != NULL ? keep : "new value");
		web_audit(r, "conflict.resolve", out->case_id, detail);
	}
	return rc;
}

void
web_api_conflict_resolve(struct web_req *r)
{
	struct jsonr_field f[] = {
		{ "keep", JSONR_STR, 16, 0, NULL, 0, NULL, 0 },
		{ "value", JSONR_RAW, ENTRY_VALUE_MAX, 0, NULL, 0, NULL, 0 },
		{ "reason", JSONR_STR, 4096, 0, NULL, 0, NULL, 0 },
	};
	struct resolve_out	out;
	char			err[512];
	int			rc;

	if (jsonr_parse(r->hr->body, r->hr->body_len, f, 3, err,
	    sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	if (f[0].present == f[1].present || (f[0].str != NULL &&
	    strcmp(f[0].str, "winner") && strcmp(f[0].str, "loser"))) {
		jsonr_release(f, 3);
		web_error(r, 400, "give \"keep\": \"winner\" or \"loser\", or "
		    "\"value\"");
		return;
	}
	if (f[2].str == NULL || f[2].str[0] == '\0') {
		jsonr_release(f, 3);
		web_error(r, 400, "give a \"reason\"");
		return;
	}
	rc = do_resolve(r, r->caps[0], f[0].str, f[1].str, 1, f[2].str, &out,
	    err, sizeof(err));
	jsonr_release(f, 3);
	if (rc != 0) {
		web_error(r, web_status_for(rc), err);
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, "{\"resolved\":");
	jsonw_str(&r->resp->body, r->caps[0]);
	buf_append_str(&r->resp->body, ",\"case\":");
	jsonw_str(&r->resp->body, out.case_id);
	buf_append_str(&r->resp->body, ",\"field\":");
	jsonw_str(&r->resp->body, out.path);
	buf_append_str(&r->resp->body, ",\"value\":");
	buf_append_str(&r->resp->body, out.value);
	buf_append_str(&r->resp->body, "}\n");
	resolve_out_release(&out);
}

/* ---- the page --------------------------------------------------------- */

static void
value_html(struct web_req *r, const char *path, const struct cf_side *s)
{
	struct html	*h = &r->h;
	const char	*v = s->value;
	size_t		 n;

	if (v == NULL) {
		html_lit(h, "<span class=\"muted\">");
		html_text(h, web_tr(r, "(sealed: this node cannot open it)"));
		html_lit(h, "</span>");
		return;
	}
	n = strlen(v);
	html_lit(h, "<span class=\"value\">");
	web_value_html(r, path, v, n);
	html_lit(h, "</span>");
}

static void
side_html(struct web_req *r, const char *label, const char *path,
    const struct cf_side *s, int winner)
{
	struct html	*h = &r->h;
	char		 when[40];

	web_when(r, s->hlc, when, sizeof(when));
	html_lit(h, "<div class=\"side");
	if (winner)
		html_lit(h, " winner");
	html_lit(h, "\"><div class=\"sidehead\">");
	html_text(h, web_tr(r, label));
	html_lit(h, "</div>");
	value_html(r, path, s);
	html_lit(h, "<dl class=\"prov\"><dt>");
	html_text(h, web_tr(r, "Author"));
	html_lit(h, "</dt><dd>");
	html_text(h, s->author);
	html_lit(h, "</dd><dt>");
	html_text(h, web_tr(r, "Node"));
	html_lit(h, "</dt><dd>");
	html_text(h, s->node);
	html_lit(h, "</dd><dt>");
	html_text(h, web_tr(r, "Time"));
	html_lit(h, "</dt><dd>");
	html_text(h, when);
	html_lit(h, " UTC</dd><dt>");
	html_text(h, web_tr(r, "Signature"));
	html_lit(h, "</dt><dd>");
	if (s->sig == 1) {
		html_lit(h, "<span class=\"tag ok\">");
		html_text(h, web_tr(r, "signature verified"));
	} else if (s->sig == 0) {
		html_lit(h, "<span class=\"tag bad\">");
		html_text(h, web_tr(r, "signature FAILED"));
	} else {
		html_lit(h, "<span class=\"tag\">");
		html_text(h, web_tr(r, "unsigned"));
	}
	html_lit(h, "</span></dd></dl></div>");
}

static void
filters_html(struct web_req *r, const struct cf_list *cl)
{
	struct html	*h = &r->h;
	char		 age[24];

	snprintf(age, sizeof(age), "%llu", (unsigned long long)
	    cl->f.min_age_days);
	html_lit(h, "<form method=\"get\" action=\"/conflicts\" "
	    "class=\"filters\"><label>");
	html_text(h, web_tr(r, "Province"));
	html_lit(h, "<select name=\"province\"><option value=\"\">");
	html_text(h, web_tr(r, "All"));
	html_lit(h, "</option>");
	for (size_t i = 0; i < cl->nprov; i++) {
		html_lit(h, "<option");
		html_attr(h, "value", cl->provinces[i]);
		if (strcmp(cl->provinces[i], cl->f.province) == 0)
			html_lit(h, " selected");
		html_lit(h, ">");
		html_text(h, cl->provinces[i]);
		html_lit(h, "</option>");
	}
	html_lit(h, "</select></label><label>");
	html_text(h, web_tr(r, "Field"));
	html_lit(h, "<select name=\"field\"><option value=\"\">");
	html_text(h, web_tr(r, "All"));
	html_lit(h, "</option>");
	for (size_t i = 0; i < cl->nfields; i++) {
		html_lit(h, "<option");
		html_attr(h, "value", cl->fields[i]);
		if (strcmp(cl->fields[i], cl->f.field) == 0)
			html_lit(h, " selected");
		html_lit(h, ">");
		html_text(h, web_path_label(r, cl->fields[i]));
		html_lit(h, "</option>");
	}
	html_lit(h, "</select></label><label>");
	html_text(h, web_tr(r, "Older than (days)"));
	html_lit(h, "<input type=\"number\" name=\"age\" min=\"0\" "
	    "max=\"36500\"");
	html_attr(h, "value", age);
	html_lit(h, "></label><button type=\"submit\">");
	html_text(h, web_tr(r, "Filter"));
	html_lit(h, "</button></form>");
}

static void
resolve_form_html(struct web_req *r, const struct cf_row *row)
{
	struct html	*h = &r->h;
	struct url	 u;

	url_init(&u, "/conflicts/");
	url_seg(&u, row->id);
	web_post_form(r, "resolve", &u);
	html_lit(h, "<fieldset><legend>");
	html_text(h, web_tr(r, "Resolve"));
	html_lit(h, "</legend><label class=\"radio\"><input type=\"radio\" "
	    "name=\"keep\" value=\"winner\" checked> ");
	html_text(h, web_tr(r, "Keep the value shown now"));
	html_lit(h, "</label><label class=\"radio\"><input type=\"radio\" "
	    "name=\"keep\" value=\"loser\"> ");
	html_text(h, web_tr(r, "Keep the other value"));
	html_lit(h, "</label><label class=\"radio\"><input type=\"radio\" "
	    "name=\"keep\" value=\"new\"> ");
	html_text(h, web_tr(r, "Enter a new value:"));
	html_lit(h, "</label><input name=\"value\" class=\"newvalue\"");
	html_attr(h, "aria-label", web_tr(r, "New value"));
	html_lit(h, "></fieldset>");
	web_reason_field(r, N_("Reason (required, kept in the case history)"));
	html_lit(h, "<button type=\"submit\" class=\"primary\">");
	html_text(h, web_tr(r, "Resolve conflict"));
	html_lit(h, "</button></form>");
}

void
web_conflicts_page(struct web_req *r)
{
	struct html		*h = &r->h;
	struct cf_filter	 f;
	struct cf_list		 cl;
	char			 err[128];
	const char		*done = web_arg(r, "resolved");

	filter_from_args(r, &f, err, sizeof(err));
	if (err[0] != '\0') {
		web_error(r, 400, err);
		return;
	}
	if (cf_load(r, &f, &cl) != 0) {
		cf_release(&cl);
		web_error(r, 500, web_tr(r, "the store cannot be read"));
		return;
	}
	web_page_begin(r, web_tr(r, "Conflicts"), "/conflicts");
	if (done != NULL && *done != '\0') {
		html_lit(h, "<p class=\"notice\" role=\"status\">");
		html_textf(h, web_tr(r, "Resolved: %s. Other nodes follow at "
		    "their next sync."), done);
		html_lit(h, "</p>");
	}
	html_lit(h, "<p class=\"lead\">");
	html_text(h, web_tr(r, "Two nodes changed the same field before they "
	    "synced. Every node shows the winner (the later change) and keeps "
	    "the other value here until someone resolves it."));
	html_lit(h, "</p>");
	filters_html(r, &cl);
	html_lit(h, "<p class=\"count\">");
	html_textf(h, web_tr(r, "%llu open conflicts match."),
	    (unsigned long long)cl.total);
	if (cl.total > cl.n)
		html_textf(h, web_tr(r, " The first %zu are shown."), cl.n);
	html_lit(h, "</p>");
	if (cl.n > 0 && r->user.role >= ROLE_ADMIN) {
		html_lit(h, "<details class=\"bulk\"><summary>");
		html_textf(h, web_tr(r, "Keep the winner for all %zu conflicts "
		    "shown"), cl.n);
		html_lit(h, "</summary><form method=\"post\" "
		    "action=\"/conflicts/resolve\" class=\"stack\">");
		web_csrf_field(r);
		for (size_t i = 0; i < cl.n; i++) {
			html_lit(h, "<input type=\"hidden\" name=\"cid\"");
			html_attr(h, "value", cl.rows[i].id);
			html_lit(h, ">");
		}
		web_reason_field(r, N_("Reason (required, kept in each case's "
		    "history)"));
		html_lit(h, "<button type=\"submit\" class=\"primary\">");
		html_text(h, web_tr(r, "Keep the winners"));
		html_lit(h, "</button></form></details>");
	}
	for (size_t i = 0; i < cl.n; i++) {
		const struct cf_row *row = &cl.rows[i];

		web_card_begin(r, "conflict", row->id);
		html_lit(h, "<header><h2><code>");
		html_text(h, row->id);
		html_lit(h, "</code> <span class=\"field\">");
		html_text(h, web_path_label(r, row->path));
		html_lit(h, "</span></h2><p>");
		html_text(h, web_tr(r, "Case"));
		html_lit(h, " ");
		web_case_link(r, row->case_id);
		html_lit(h, " · ");
		html_text(h, web_tr(r, "owner"));
		html_lit(h, " ");
		html_text(h, row->owner);
		html_lit(h, "</p></header><div class=\"sides\">");
		side_html(r, N_("Winner (shown now)"), row->path, &row->w, 1);
		side_html(r, N_("Other value"), row->path, &row->l, 0);
		html_lit(h, "</div>");
		if (r->user.role >= ROLE_ADMIN)
			resolve_form_html(r, row);
		web_card_end(r);
	}
	if (cl.n == 0) {
		html_lit(h, "<p class=\"empty\">");
		html_text(h, web_tr(r, "No open conflicts."));
		html_lit(h, "</p>");
	}
	web_page_end(r);
	cf_release(&cl);
}

void
web_conflict_post(struct web_req *r)
{
	const char		*keep = webreq_form_get(&r->form, "keep");
	const char		*value = webreq_form_get(&r->form, "value");
	const char		*reason = webreq_form_get(&r->form, "reason");
	struct resolve_out	 out;
	struct url		 u;
	char			 err[512];
	int			 rc;

	if (keep == NULL || (strcmp(keep, "winner") && strcmp(keep, "loser")
	    && strcmp(keep, "new"))) {
		web_error(r, 400, web_tr(r, "choose which value to keep"));
		return;
	}
	if (strcmp(keep, "new") == 0 && (value == NULL || *value == '\0')) {
		web_error(r, 400, web_tr(r, "enter the new value"));
		return;
	}
	rc = do_resolve(r, r->caps[0], strcmp(keep, "new") ? keep : NULL,
	    strcmp(keep, "new") ? NULL : value, 0, reason, &out, err,
	    sizeof(err));
	if (rc != 0) {
		web_error(r, web_status_for(rc), err);
		return;
	}
	resolve_out_release(&out);
	url_init(&u, "/conflicts");
	url_arg(&u, "resolved", r->caps[0]);
	web_redirect(r, &u);
}

void
web_conflicts_bulk(struct web_req *r)
{
	const char		*reason = webreq_form_get(&r->form, "reason");
	struct resolve_out	 out;
	struct url		 u;
	char			 err[512], n[32];
	size_t			 done = 0, failed = 0, asked = 0;

	if (reason == NULL || *reason == '\0') {
		web_error(r, 400, web_tr(r, "give a reason"));
		return;
	}
	for (size_t i = 0; i < r->form.n; i++) {
		if (strcmp(r->form.f[i].key, "cid") != 0)
			continue;
		if (++asked > CF_BULK_MAX)
			break;
		if (do_resolve(r, r->form.f[i].val, "winner", NULL, 0, reason,
		    &out, err, sizeof(err)) == 0) {
			done++;
			resolve_out_release(&out);
		} else
			failed++;
	}
	snprintf(n, sizeof(n), "%zu/%zu", done, done + failed);
	url_init(&u, "/conflicts");
	url_arg(&u, "resolved", n);
	web_redirect(r, &u);
}

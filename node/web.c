/*
 * web.c - the console's router, sessions, CSRF, throttling and page frame.
 * See web.h.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

enum {
	R_PUBLIC = 0x1,		/* no session needed */
	R_API = 0x2,		/* JSON answers */
	R_OWNCSRF = 0x4,	/* the handler checks its own token (login) */
};

struct route {
	const char	*method;
	const char	*pattern;
	int		 role;		/* least role; 0 with R_PUBLIC */
	unsigned	 flags;
	void		(*fn)(struct web_req *);
};

/* The console's paths.  Pages are stable (docs/CONSOLE.md). */
static const struct route routes[] = {
	{ "GET", "/login", 0, R_PUBLIC, web_login_page },
	{ "POST", "/login", 0, R_PUBLIC | R_OWNCSRF, web_login_post },
	{ "POST", "/logout", ROLE_VIEWER, 0, web_logout_post },
	{ "GET", "/", ROLE_VIEWER, 0, web_dashboard },
	{ "GET", "/sync", ROLE_VIEWER, 0, web_sync_page },
	{ "GET", "/conflicts", ROLE_CASEWORKER, 0, web_conflicts_page },
	{ "POST", "/conflicts/resolve", ROLE_ADMIN, 0, web_conflicts_bulk },
	{ "POST", "/conflicts/*", ROLE_ADMIN, 0, web_conflict_post },
	{ "GET", "/cases", ROLE_CASEWORKER, 0, web_cases_page },
	{ "GET", "/cases/new", ROLE_CASEWORKER, 0, web_case_new_page },
	{ "POST", "/cases/new", ROLE_CASEWORKER, 0, web_case_new_post },
	{ "GET", "/cases/*", ROLE_CASEWORKER, 0, web_case_page },
	{ "GET", "/referrals", ROLE_CASEWORKER, 0, web_referrals_page },
	{ "POST", "/referrals/*/accept", ROLE_CASEWORKER, 0,
	    web_referral_accept_post },
	{ "POST", "/referrals/*/decline", ROLE_CASEWORKER, 0,
	    web_referral_decline_post },
	{ "POST", "/cases/*/duplicate-of", ROLE_ADMIN, 0,
	    web_case_duplicate_of_post },
	{ "GET", "/cases/*/edit", ROLE_CASEWORKER, 0, web_case_edit_page },
	{ "POST", "/cases/*/edit", ROLE_CASEWORKER, 0, web_case_edit_post },
	{ "POST", "/cases/*/*", ROLE_CASEWORKER, 0, web_case_action_post },
	{ "GET", "/report.csv", ROLE_VIEWER, 0, web_report_download },
	{ "GET", "/report.html", ROLE_VIEWER, 0, web_report_download },
	{ "GET", "/users", ROLE_ADMIN, 0, web_users_page },
	{ "POST", "/users", ROLE_ADMIN, 0, web_users_post },
	{ "GET", "/audit", ROLE_ADMIN, 0, web_audit_page },
	{ "GET", "/assets/console.css", 0, R_PUBLIC, web_asset_css },
	{ "GET", "/assets/icon.svg", 0, R_PUBLIC, web_asset_icon },
	{ "POST", "/api/login", 0, R_PUBLIC | R_API | R_OWNCSRF,
	    web_api_login },
	{ "POST", "/api/logout", ROLE_VIEWER, R_API, web_api_logout },
	{ "GET", "/api/status", ROLE_VIEWER, R_API, web_api_status },
	{ "GET", "/api/report", ROLE_VIEWER, R_API, web_api_report },
	{ "GET", "/api/conflicts", ROLE_CASEWORKER, R_API, web_api_conflicts },
	{ "GET", "/api/conflicts/*", ROLE_CASEWORKER, R_API,
	    web_api_conflict },
	{ "POST", "/api/conflicts/*/resolve", ROLE_ADMIN, R_API,
	    web_api_conflict_resolve },
	{ "GET", "/api/cases", ROLE_CASEWORKER, R_API, web_api_cases },
	{ "GET", "/api/cases/*", ROLE_CASEWORKER, R_API, web_api_case },
	{ "POST", "/api/cases", ROLE_CASEWORKER, R_API, web_api_case_add },
	{ "POST", "/api/cases/*", ROLE_CASEWORKER, R_API,
	    web_api_case_update },
	{ "POST", "/api/cases/*/transfer", ROLE_CASEWORKER, R_API,
	    web_api_case_transfer },
	{ "GET", "/api/cases/*/history", ROLE_CASEWORKER, R_API,
	    web_api_case_history },
	{ "GET", "/api/referrals", ROLE_CASEWORKER, R_API, web_api_referrals },
	{ "POST", "/api/referrals/*/accept", ROLE_CASEWORKER, R_API,
	    web_api_referral_accept },
	{ "POST", "/api/referrals/*/decline", ROLE_CASEWORKER, R_API,
	    web_api_referral_decline },
	{ "GET", "/api/duplicates", ROLE_CASEWORKER, R_API,
	    web_api_duplicates },
	{ "POST", "/api/cases/*/duplicate-of", ROLE_ADMIN, R_API,
	    web_api_case_duplicate_of },
	{ "GET", "/api/users", ROLE_ADMIN, R_API, web_api_users },
	{ "GET", "/api/audit", ROLE_ADMIN, R_API, web_api_audit },
};

void
web_init(struct web *w)
{
	memset(w->sessions, 0, sizeof(w->sessions));
	memset(w->thr, 0, sizeof(w->thr));
	pthread_mutex_init(&w->store_mu, NULL);
	pthread_mutex_init(&w->mu, NULL);
	if (w->idle_ms == 0)
		w->idle_ms = WEB_IDLE_MS;
	if (w->absolute_ms == 0)
		w->absolute_ms = WEB_ABSOLUTE_MS;
}

void
web_release(struct web *w)
{
	crypto_wipe(w->sessions, sizeof(w->sessions));
	pthread_mutex_destroy(&w->store_mu);
	pthread_mutex_destroy(&w->mu);
}

const char *
web_tr(const struct web_req *r, const char *msgid)
{
	return i18n_tr(r->lang, msgid);
}

void
web_when(const struct web_req *r, uint64_t hlc, char *out, size_t sz)
{
	char	iso[40], day[I18N_DATE_MAX];

	hlc_format(hlc, iso, sizeof(iso));
	iso[10] = '\0';
	iso[16] = '\0';
	if (i18n_date(r->lang, iso, day, sizeof(day)) != 0)
		strlcpy_(day, iso, sizeof(day));
	snprintf(out, sz, "%s %s", day, iso + 11);
}

void
web_lock(struct web_req *r)
{
	pthread_mutex_lock(&r->w->store_mu);
}

void
web_unlock(struct web_req *r)
{
	pthread_mutex_unlock(&r->w->store_mu);
}

const char *
web_arg(const struct web_req *r, const char *key)
{
	for (size_t i = 0; i < r->hr->nargs; i++)
		if (strcmp(r->hr->args[i].key, key) == 0)
			return r->hr->args[i].val;
	return NULL;
}

void
web_audit(struct web_req *r, const char *action, const char *case_id,
    const char *detail)
{
	(void)audit_log(r->w->audit, r->user.name, r->hr->addr, action,
	    case_id, detail);
}

void
web_json_begin(struct web_req *r, int status)
{
	r->resp->status = status;
	r->resp->ctype = "application/json; charset=utf-8";
	buf_reset(&r->resp->body);
}

int
web_status_for(int err)
{
	switch (err) {
	case E_INVAL:
		return 400;
	case E_NOTFOUND:
		return 404;
	case E_CONFLICT:
		return 409;
	default:
		return 500;
	}
}

void
web_error(struct web_req *r, int status, const char *msg)
{
	if (r->api) {
		web_json_begin(r, status);
		buf_append_str(&r->resp->body, "{\"error\":");
		jsonw_str(&r->resp->body, msg);
		buf_append_str(&r->resp->body, "}\n");
		return;
	}
	buf_reset(&r->resp->body);
	r->resp->status = status;
	web_page_begin(r, status == 404 ? web_tr(r, "Not found") :
	    web_tr(r, "Cannot do that"), "");
	html_lit(&r->h, "<p class=\"error\">");
	html_text(&r->h, msg);
	html_lit(&r->h, "</p>");
	web_page_end(r);
}

void
web_redirect(struct web_req *r, const struct url *u)
{
	r->resp->status = 303;
	strlcpy_(r->resp->location, u->overflow ? "/" : u->s,
	    sizeof(r->resp->location));
	buf_reset(&r->resp->body);
}

/* ---- sessions ---------------------------------------------------------- */

static void
token_new(char out[WEBREQ_TOKEN_HEX + 1])
{
	uint8_t raw[WEBREQ_TOKEN_HEX / 2];

	random_bytes(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), out);
	crypto_wipe(raw, sizeof(raw));
}

static void
token_hash(const char *token, uint8_t out[32])
{
	crypto_hash3(token, WEBREQ_TOKEN_HEX, NULL, 0, NULL, 0, out);
}

int
web_session_new(struct web *w, const char *user, uint64_t now,
    char token[WEBREQ_TOKEN_HEX + 1], char csrf[WEBREQ_TOKEN_HEX + 1])
{
	struct session	*s = NULL;
	size_t		 oldest = 0;

	token_new(token);
	token_new(csrf);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		struct session *c = &w->sessions[i];

		if (c->user[0] == '\0' || now - c->last_ms > w->idle_ms ||
		    now - c->created_ms > w->absolute_ms) {
			s = c;
			break;
		}
		if (c->last_ms < w->sessions[oldest].last_ms)
			oldest = i;
	}
	/* Full of live sessions: the least recently used one goes. */
	if (s == NULL)
		s = &w->sessions[oldest];
	memset(s, 0, sizeof(*s));
	token_hash(token, s->token_hash);
	strlcpy_(s->user, user, sizeof(s->user));
	strlcpy_(s->csrf, csrf, sizeof(s->csrf));
	s->created_ms = s->last_ms = now;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* Finds the live session of token; copies user and csrf out. */
static int
session_find(struct web *w, const char *token, uint64_t now, char *user,
    char *csrf)
{
	uint8_t	h[32];
	int	found = 0;

	token_hash(token, h);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++) {
		struct session *s = &w->sessions[i];

		if (s->user[0] == '\0' ||
		    crypto_memcmp(s->token_hash, h, sizeof(h)) != 0)
			continue;
		if (now - s->last_ms > w->idle_ms ||
		    now - s->created_ms > w->absolute_ms) {
			memset(s, 0, sizeof(*s));
			break;
		}
		s->last_ms = now;
		strlcpy_(user, s->user, USER_NAME_MAX + 1);
		strlcpy_(csrf, s->csrf, WEBREQ_TOKEN_HEX + 1);
		found = 1;
		break;
	}
	pthread_mutex_unlock(&w->mu);
	return found;
}

void
web_session_drop(struct web *w, const char *token)
{
	uint8_t h[32];

	token_hash(token, h);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
		if (w->sessions[i].user[0] != '\0' &&
		    crypto_memcmp(w->sessions[i].token_hash, h, 32) == 0)
			memset(&w->sessions[i], 0, sizeof(w->sessions[i]));
	pthread_mutex_unlock(&w->mu);
}

/* ---- sign-in throttling ---------------------------------------------- */

/* The entry for key, created (evicting the stalest) when absent. */
static struct throttle *
thr_get(struct web *w, const char *key, uint64_t now, int create)
{
	struct throttle	*victim = &w->thr[0];

	for (size_t i = 0; i < WEB_THROTTLE_MAX; i++) {
		struct throttle *t = &w->thr[i];

		if (t->key[0] != '\0' && strcmp(t->key, key) == 0) {
			if (now - t->last_ms > WEB_FAIL_FORGET_MS &&
			    now >= t->until_ms) {
				t->fails = 0;
				t->until_ms = 0;
			}
			return t;
		}
		if (t->key[0] == '\0' || t->last_ms < victim->last_ms)
			victim = t;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	strlcpy_(victim->key, key, sizeof(victim->key));
	victim->last_ms = now;
	return victim;
}

static unsigned
secs_left(const struct throttle *t, uint64_t now)
{
	if (t == NULL || t->until_ms <= now)
		return 0;
	return (unsigned)((t->until_ms - now + 999) / 1000);
}

unsigned
web_throttle_check(struct web *w, const char *user, const char *addr,
    uint64_t now)
{
	char		k[80];
	unsigned	a, b;

	pthread_mutex_lock(&w->mu);
	snprintf(k, sizeof(k), "u:%s", user);
	a = secs_left(thr_get(w, k, now, 0), now);
	snprintf(k, sizeof(k), "a:%s", addr);
	b = secs_left(thr_get(w, k, now, 0), now);
	pthread_mutex_unlock(&w->mu);
	return a > b ? a : b;
}

static unsigned
thr_fail(struct throttle *t, unsigned free_fails, uint64_t now)
{
	uint64_t	lock;
	unsigned	over;

	t->fails++;
	t->last_ms = now;
	if (t->fails <= free_fails)
		return 0;
	/* The lock doubles with each failure past the free ones. */
	over = t->fails - free_fails - 1;
	lock = over >= 20 ? WEB_LOCK_MAX_MS : WEB_LOCK_BASE_MS << over;
	if (lock > WEB_LOCK_MAX_MS)
		lock = WEB_LOCK_MAX_MS;
	t->until_ms = now + lock;
	return (unsigned)(lock / 1000);
}

unsigned
web_throttle_fail(struct web *w, const char *user, const char *addr,
    uint64_t now)
{
	char		k[80];
	unsigned	a, b;

	pthread_mutex_lock(&w->mu);
	snprintf(k, sizeof(k), "u:%s", user);
	a = thr_fail(thr_get(w, k, now, 1), WEB_FAIL_FREE, now);
	snprintf(k, sizeof(k), "a:%s", addr);
	b = thr_fail(thr_get(w, k, now, 1), WEB_ADDR_FAIL_FREE, now);
	pthread_mutex_unlock(&w->mu);
	return a > b ? a : b;
}

void
web_throttle_ok(struct web *w, const char *user)
{
	char		 k[80];
	struct throttle	*t;

	snprintf(k, sizeof(k), "u:%s", user);
	pthread_mutex_lock(&w->mu);
	if ((t = thr_get(w, k, 0, 0)) != NULL)
		memset(t, 0, sizeof(*t));
	pthread_mutex_unlock(&w->mu);
}

/* ---- the page frame ---------------------------------------------------- */

struct nav {
	const char	*path;
	const char	*label;
	int		 role;
};

static const struct nav navs[] = {
	{ "/", N_("Dashboard"), ROLE_VIEWER },
	{ "/conflicts", N_("Conflicts"), ROLE_CASEWORKER },
	{ "/cases", N_("Cases"), ROLE_CASEWORKER },
	{ "/cases/new", N_("New case"), ROLE_CASEWORKER },
	{ "/referrals", N_("Referrals"), ROLE_CASEWORKER },
	{ "/sync", N_("Sync health"), ROLE_VIEWER },
	{ "/users", N_("Users"), ROLE_ADMIN },
	{ "/audit", N_("Audit log"), ROLE_ADMIN },
};

static const char *
role_label(const struct web_req *r, int role)
{
	switch (role) {
	case ROLE_ADMIN:
		return web_tr(r, "administrator");
	case ROLE_CASEWORKER:
		return web_tr(r, "caseworker");
	default:
		return web_tr(r, "viewer");
	}
}

void
web_csrf_field(struct web_req *r)
{
	html_lit(&r->h, "<input type=\"hidden\" name=\"csrf\"");
	html_attr(&r->h, "value", r->csrf);
	html_lit(&r->h, ">");
}

void
web_card_begin_(struct web_req *r, const char *kind, const char *id)
{
	/* kind is a literal: the macro in web.h takes nothing else. */
	html_lit(&r->h, "<article class=\"");
	html_lit_(&r->h, kind);
	html_lit(&r->h, " card\"");
	if (id != NULL)
		html_attr(&r->h, "id", id);
	html_lit(&r->h, ">");
}

void
web_card_end(struct web_req *r)
{
	html_lit(&r->h, "</article>");
}

void
web_case_link(struct web_req *r, const char *case_id)
{
	struct url u;

	url_init(&u, "/cases/");
	url_seg(&u, case_id);
	html_lit(&r->h, "<a");
	html_href(&r->h, &u);
	html_lit(&r->h, "><code>");
	html_text(&r->h, case_id);
	html_lit(&r->h, "</code></a>");
}

void
web_dl_row(struct web_req *r, const char *label, const char *value)
{
	html_lit(&r->h, "<dt>");
	html_text(&r->h, web_tr(r, label));
	html_lit(&r->h, "</dt><dd>");
	html_text(&r->h, value);
	html_lit(&r->h, "</dd>");
}

void
web_post_form_(struct web_req *r, const char *cls, const struct url *action)
{
	html_lit(&r->h, "<form method=\"post\" class=\"");
	html_lit_(&r->h, cls);
	html_lit(&r->h, "\"");
	html_url_attr(&r->h, "action", action);
	html_lit(&r->h, ">");
	web_csrf_field(r);
}

void
web_reason_field(struct web_req *r, const char *label)
{
	html_lit(&r->h, "<label>");
	html_text(&r->h, web_tr(r, label));
	html_lit(&r->h, "<textarea name=\"reason\" required maxlength=\"500\" "
	    "rows=\"2\"></textarea></label>");
}

void
web_page_begin(struct web_req *r, const char *title, const char *nav)
{
	struct html	*h = &r->h;
	struct url	 u;

	r->resp->ctype = "text/html; charset=utf-8";
	html_lit(h, "<!doctype html>\n<html");
	html_attr(h, "lang", i18n_lang_code(r->lang));
	html_lit(h, "><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>");
	html_text(h, title);
	html_lit(h, " · casesync</title>"
	    "<link rel=\"stylesheet\" href=\"/assets/console.css\">"
	    "<link rel=\"icon\" href=\"/assets/icon.svg\"></head>\n<body>"
	    "<header class=\"top\"><div class=\"bar\">"
	    "<a class=\"brand\" href=\"/\"><img src=\"/assets/icon.svg\" "
	    "alt=\"\" width=\"28\" height=\"28\"><span>casesync</span>"
	    "<span class=\"node\">");
	html_text(h, r->w->cfg->node);
	html_lit(h, "</span></a>");
	if (r->user.name[0] != '\0') {
		html_lit(h, "<div class=\"who\"><span>");
		html_text(h, r->user.name);
		html_lit(h, " <small>");
		html_text(h, role_label(r, r->user.role));
		html_lit(h, "</small></span><form method=\"post\" "
		    "action=\"/logout\">");
		web_csrf_field(r);
		html_lit(h, "<button class=\"link\" type=\"submit\">");
		html_text(h, web_tr(r, "Sign out"));
		html_lit(h, "</button></form></div>");
	}
	html_lit(h, "<div class=\"langs\">");
	url_init(&u, "?lang=vi");
	html_lit(h, "<a");
	html_href(h, &u);
	if (r->lang == LANG_VI)
		html_lit(h, " aria-current=\"true\"");
	html_lit(h, " lang=\"vi\">Tiếng Việt</a><a");
	url_init(&u, "?lang=en");
	html_href(h, &u);
	if (r->lang == LANG_EN)
		html_lit(h, " aria-current=\"true\"");
	html_lit(h, " lang=\"en\">English</a></div></div>");
	if (r->user.name[0] != '\0') {
		html_lit(h, "<nav><ul>");
		for (size_t i = 0; i < sizeof(navs) / sizeof(navs[0]); i++) {
			if (r->user.role < navs[i].role)
				continue;
			html_lit(h, "<li><a");
			html_attr(h, "href", navs[i].path);
			if (strcmp(nav, navs[i].path) == 0)
				html_lit(h, " aria-current=\"page\"");
			html_lit(h, ">");
			html_text(h, web_tr(r, navs[i].label));
			html_lit(h, "</a></li>");
		}
		html_lit(h, "</ul></nav>");
	}
	html_lit(h, "</header>\n");
	web_banner_html(r);
	html_lit(h, "<main><h1>");
	html_text(h, title);
	html_lit(h, "</h1>\n");
}

void
web_page_end(struct web_req *r)
{
	html_lit(&r->h, "</main>\n<footer>");
	html_text(&r->h, web_tr(r, "casesync console: every view of "
	    "identifying data is recorded in the audit log."));
	html_lit(&r->h, "</footer></body></html>\n");
}

/* ---- the router ------------------------------------------------------- */

static void
choose_lang(struct web_req *r)
{
	char		 v[8];
	const char	*c = r->hr->cookie, *p;

	/* ?lang= is remembered in a cookie, for the pages that follow. */
	if (web_arg(r, "lang") != NULL &&
	    i18n_lang_parse(web_arg(r, "lang"), &r->lang) == 0) {
		snprintf(r->resp->cookies[1], sizeof(r->resp->cookies[1]),
		    "cs_lang=%s; Path=/; Max-Age=31536000; Secure; "
		    "SameSite=Strict", i18n_lang_code(r->lang));
		return;
	}
	if (c != NULL && (p = strstr(c, "cs_lang=")) != NULL &&
	    (p == c || p[-1] == ' ' || p[-1] == ';')) {
		strlcpy_(v, p + 8, sizeof(v));
		v[2] = '\0';
		if (i18n_lang_parse(v, &r->lang) == 0)
			return;
	}
	if (r->user.lang[0] != '\0' &&
	    i18n_lang_parse(r->user.lang, &r->lang) == 0)
		return;
	r->lang = i18n_lang_accept(r->hr->accept_lang);
}

/* Loads the signed-in user from the session cookie.  Returns 1 when
 * there is one and the user is still active. */
static int
load_session(struct web_req *r)
{
	char	tok[WEBREQ_TOKEN_HEX + 1], name[USER_NAME_MAX + 1];

	if (!webreq_cookie_token(r->hr->cookie, WEB_COOKIE, tok))
		return 0;
	if (!session_find(r->w, tok, r->now_ms, name, r->csrf))
		return 0;
	if (users_get(r->w->dir, name, &r->user) != 0 || r->user.disabled) {
		web_session_drop(r->w, tok);
		memset(&r->user, 0, sizeof(r->user));
		return 0;
	}
	crypto_wipe(r->user.hash, sizeof(r->user.hash));
	/* 31 + 1 + 32 bytes fit ENTRY_AUTHOR_MAX. */
	_Static_assert(USER_NAME_MAX + 1 + HLC_NODE_MAX <= ENTRY_AUTHOR_MAX,
	    "author too long");
	strlcpy_(r->author, r->user.name, sizeof(r->author));
	strlcpy_(r->author + strlen(r->author), "@", 2);
	strlcpy_(r->author + strlen(r->author), r->w->cfg->node,
	    sizeof(r->author) - strlen(r->author));
	return 1;
}

static int
prefix(const char *s, const char *p)
{
	return s != NULL && strncasecmp(s, p, strlen(p)) == 0;
}

void
web_handle(void *arg, const struct http_req *req, struct http_resp *resp)
{
	struct web_req		 r;
	const struct route	*rt = NULL;
	int			 path_known = 0, signed_in;

	memset(&r, 0, sizeof(r));
	r.w = arg;
	r.hr = req;
	r.resp = resp;
	r.now_ms = now_ms();
	html_init(&r.h, &resp->body);
	r.api = strncmp(req->path, "/api/", 5) == 0 ||
	    strcmp(req->path, "/api") == 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1];

		if (!webreq_route_match(routes[i].pattern, req->path, caps))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, req->method) != 0)
			continue;
		rt = &routes[i];
		memcpy(r.caps, caps, sizeof(caps));
		break;
	}
	signed_in = load_session(&r);
	choose_lang(&r);
	if (req->args_overflow) {
		web_error(&r, 400, web_tr(&r, "too many query arguments"));
		goto out;
	}
	if (rt == NULL) {
		if (path_known)
			web_error(&r, 405, web_tr(&r, "method not allowed"));
		else
			web_error(&r, 404, web_tr(&r, "no such page"));
		goto out;
	}
	if (!(rt->flags & R_PUBLIC)) {
		if (!signed_in) {
			struct url u;

			if (r.api) {
				web_error(&r, 401, "not signed in");
			} else {
				url_init(&u, "/login");
				web_redirect(&r, &u);
			}
			goto out;
		}
		if (r.user.role < rt->role) {
			char msg[160];

			snprintf(msg, sizeof(msg), r.api ? "your role (%s) may "
			    "not do this" : web_tr(&r, "Your role (%s) may "
			    "not see this page."), users_role_name(
			    r.user.role));
			web_error(&r, 403, msg);
			goto out;
		}
	}
	if (strcmp(req->method, "POST") == 0) {
		if (r.api && req->body_len > 0 &&
		    !prefix(req->content_type, "application/json")) {
			web_error(&r, 415, "send the body as application/json");
			goto out;
		}
		if (!r.api && prefix(req->content_type,
		    "application/x-www-form-urlencoded") &&
		    webreq_form_parse(req->body, req->body_len, &r.form) != 0) {
			web_error(&r, 400, web_tr(&r, "the form does not "
			    "parse"));
			goto out;
		}
		if (!(rt->flags & R_OWNCSRF)) {
			const char *t = r.api ? req->csrf :
			    webreq_form_get(&r.form, "csrf");

			if (t == NULL || strlen(t) != WEBREQ_TOKEN_HEX ||
			    crypto_memcmp(t, r.csrf, WEBREQ_TOKEN_HEX) != 0) {
				web_error(&r, 403, r.api ? "missing or wrong "
				    "CSRF token (X-CSRF-Token)" : web_tr(&r,
				    "This form has expired. Go back, reload "
				    "the page and try again."));
				goto out;
			}
		}
	}
	/* The province's link to central, on every page (not the API). */
	if (signed_in && !r.api)
		web_banner_load(&r);
	rt->fn(&r);
out:
	webreq_form_release(&r.form);
	crypto_wipe(r.csrf, sizeof(r.csrf));
}

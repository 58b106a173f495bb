/*
 * web_login.c - signing in and out: the /login page and form, /logout,
 * POST /api/login and /api/logout.
 *
 * A sign-in checks the throttle first (no hash is computed for a locked
 * name or address), then the Argon2id hash, outside every lock.  An
 * unknown or disabled name costs the same hash time as a known one and
 * gets the same answer.  The login form has no session yet, so it carries
 * its own CSRF token, double-submitted in a SameSite=Strict cookie; the
 * JSON login needs a JSON body, which no cross-site form can send.
 */
#include <stdio.h>
#include <string.h>

#include "web.h"

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"
#include "jsonr.h"

enum login_result { LOGIN_OK, LOGIN_BAD, LOGIN_LOCKED };

static void
set_session_cookie(struct web_req *r, const char *token)
{
	snprintf(r->resp->cookies[0], sizeof(r->resp->cookies[0]),
	    "%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict", WEB_COOKIE,
	    token);
}

/* Checks name and password; on success opens a session (cookie set,
 * r->csrf filled).  *wait is the Retry-After for LOGIN_LOCKED. */
static enum login_result
do_login(struct web_req *r, const char *name, const char *password,
    unsigned *wait)
{
	struct user	u;
	char		token[WEBREQ_TOKEN_HEX + 1], shown[USER_NAME_MAX + 1];
	int		known, ok;

	*wait = 0;
	/* Only a valid name is recorded as such; anything else is
	 * counted under one key so that junk cannot fill the table. */
	strlcpy_(shown, users_name_valid(name) ? name : "?", sizeof(shown));
	if ((*wait = web_throttle_check(r->w, shown, r->hr->addr,
	    r->now_ms)) > 0) {
		(void)audit_log(r->w->audit, shown, r->hr->addr,
		    "login.throttled", NULL, NULL);
		return LOGIN_LOCKED;
	}
	known = users_name_valid(name) && users_get(r->w->dir, name, &u) ==
	    0 && !u.disabled;
	if (known)
		ok = users_verify(&u, password) == 0;
	else {
		users_verify_dummy(password);
		ok = 0;
	}
	if (!ok) {
		*wait = web_throttle_fail(r->w, shown, r->hr->addr, now_ms());
		(void)audit_log(r->w->audit, shown, r->hr->addr, "login.fail",
		    NULL, known ? "wrong password" : "unknown or disabled "
		    "user");
		if (known)
			crypto_wipe(&u, sizeof(u));
		return *wait > 0 ? LOGIN_LOCKED : LOGIN_BAD;
	}
	web_throttle_ok(r->w, name);
	web_session_new(r->w, name, now_ms(), token, r->csrf);
	set_session_cookie(r, token);
	crypto_wipe(token, sizeof(token));
	crypto_wipe(u.hash, sizeof(u.hash));
	r->user = u;
	(void)audit_log(r->w->audit, name, r->hr->addr, "login", NULL, NULL);
	return LOGIN_OK;
}

static void
login_form(struct web_req *r, const char *error, const char *name)
{
	struct html	*h = &r->h;
	char		 tok[WEBREQ_TOKEN_HEX + 1];
	uint8_t		 raw[WEBREQ_TOKEN_HEX / 2];

	random_bytes(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), tok);
	snprintf(r->resp->cookies[0], sizeof(r->resp->cookies[0]),
	    "%s=%s; Path=/login; HttpOnly; Secure; SameSite=Strict",
	    WEB_LOGIN_COOKIE, tok);
	buf_reset(&r->resp->body);
	web_page_begin(r, web_tr(r, "Sign in"), "/login");
	html_lit(h, "<section class=\"card narrow\">");
	if (error != NULL) {
		html_lit(h, "<p class=\"error\" role=\"alert\">");
		html_text(h, error);
		html_lit(h, "</p>");
	}
	html_lit(h, "<form method=\"post\" action=\"/login\" class=\"stack\">"
	    "<input type=\"hidden\" name=\"login_csrf\"");
	html_attr(h, "value", tok);
	html_lit(h, "><label for=\"user\">");
	html_text(h, web_tr(r, "User name"));
	html_lit(h, "</label><input id=\"user\" name=\"user\" "
	    "autocomplete=\"username\" autocapitalize=\"none\" required "
	    "maxlength=\"32\"");
	html_attr(h, "value", name != NULL ? name : "");
	html_lit(h, "><label for=\"password\">");
	html_text(h, web_tr(r, "Password"));
	html_lit(h, "</label><input id=\"password\" name=\"password\" "
	    "type=\"password\" autocomplete=\"current-password\" required>"
	    "<button type=\"submit\" class=\"primary\">");
	html_text(h, web_tr(r, "Sign in"));
	html_lit(h, "</button></form></section>");
	web_page_end(r);
}

void
web_login_page(struct web_req *r)
{
	char		tok[WEBREQ_TOKEN_HEX + 1];
	struct url	u;

	if (webreq_cookie_token(r->hr->cookie, WEB_COOKIE, tok) &&
	    r->user.name[0] != '\0') {
		url_init(&u, "/");
		web_redirect(r, &u);
		return;
	}
	login_form(r, NULL, NULL);
}

void
web_login_post(struct web_req *r)
{
	const char	*name = webreq_form_get(&r->form, "user");
	const char	*pass = webreq_form_get(&r->form, "password");
	const char	*ft = webreq_form_get(&r->form, "login_csrf");
	char		 ct[WEBREQ_TOKEN_HEX + 1], msg[200];
	unsigned	 wait;
	struct url	 u;

	if (ft == NULL || !webreq_cookie_token(r->hr->cookie,
	    WEB_LOGIN_COOKIE, ct) || strlen(ft) != WEBREQ_TOKEN_HEX ||
	    crypto_memcmp(ft, ct, WEBREQ_TOKEN_HEX) != 0) {
		r->resp->status = 403;
		login_form(r, web_tr(r, "This form has expired. Please sign "
		    "in again."), NULL);
		return;
	}
	if (name == NULL || pass == NULL || *name == '\0') {
		r->resp->status = 400;
		login_form(r, web_tr(r, "Enter your user name and password."),
		    name);
		return;
	}
	switch (do_login(r, name, pass, &wait)) {
	case LOGIN_OK:
		url_init(&u, "/");
		web_redirect(r, &u);
		return;
	case LOGIN_BAD:
		r->resp->status = 401;
		login_form(r, web_tr(r, "Wrong user name or password."),
		    name);
		return;
	case LOGIN_LOCKED:
		r->resp->status = 429;
		r->resp->retry_after = wait;
		snprintf(msg, sizeof(msg), web_tr(r, "Too many failed "
		    "sign-ins. Try again in %u seconds."), wait);
		login_form(r, msg, name);
		return;
	}
}

static void
drop_cookie_session(struct web_req *r)
{
	char tok[WEBREQ_TOKEN_HEX + 1];

	if (webreq_cookie_token(r->hr->cookie, WEB_COOKIE, tok))
		web_session_drop(r->w, tok);
	snprintf(r->resp->cookies[0], sizeof(r->resp->cookies[0]),
	    "%s=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
	    WEB_COOKIE);
	web_audit(r, "logout", NULL, NULL);
}

void
web_logout_post(struct web_req *r)
{
	struct url u;

	drop_cookie_session(r);
	url_init(&u, "/login");
	web_redirect(r, &u);
}

void
web_api_login(struct web_req *r)
{
	struct jsonr_field f[] = {
		{ "user", JSONR_STR, 256, 0, NULL, 0, NULL, 0 },
		{ "password", JSONR_STR, USER_PASS_MAX, 0, NULL, 0, NULL, 0 },
	};
	char		err[160];
	unsigned	wait;

	if (jsonr_parse(r->hr->body, r->hr->body_len, f, 2, err,
	    sizeof(err)) != 0) {
		web_error(r, 400, err);
		return;
	}
	if (f[0].str == NULL || f[1].str == NULL) {
		jsonr_release(f, 2);
		web_error(r, 400, "give \"user\" and \"password\"");
		return;
	}
	switch (do_login(r, f[0].str, f[1].str, &wait)) {
	case LOGIN_OK:
		web_json_begin(r, 200);
		buf_append_str(&r->resp->body, "{\"csrf\":");
		jsonw_str(&r->resp->body, r->csrf);
		buf_append_str(&r->resp->body, ",\"user\":");
		jsonw_str(&r->resp->body, r->user.name);
		buf_append_str(&r->resp->body, ",\"role\":");
		jsonw_str(&r->resp->body, users_role_name(r->user.role));
		buf_append_str(&r->resp->body, "}\n");
		break;
	case LOGIN_BAD:
		web_error(r, 401, "wrong user name or password");
		break;
	case LOGIN_LOCKED:
		r->resp->retry_after = wait;
		snprintf(err, sizeof(err), "too many failed sign-ins: try "
		    "again in %u seconds", wait);
		web_error(r, 429, err);
		break;
	}
	crypto_wipe(f[1].str, strlen(f[1].str));
	jsonr_release(f, 2);
}

void
web_api_logout(struct web_req *r)
{
	drop_cookie_session(r);
	web_json_begin(r, 200);
	buf_append_str(&r->resp->body, "{\"ok\":true}\n");
}

/*
 * web_users.c - the node's operators (admins only): /users lists them and
 * its forms add one, set a password, disable or enable one; GET
 * /api/users.  Every change goes through users.h, the functions `casesync
 * user` calls, and into the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

static const char *
role_label(const struct web_req *r, int role)
{
	return role == ROLE_ADMIN ? web_tr(r, "administrator") :
	    role == ROLE_CASEWORKER ? web_tr(r, "caseworker") :
	    web_tr(r, "viewer");
}

static void
user_action(struct web_req *r, const struct user *u, const char *action,
    const char *label)
{
	struct html *h = &r->h;

	html_lit(h, "<form method=\"post\" action=\"/users\" "
	    "class=\"inline\">");
	web_csrf_field(r);
	html_lit(h, "<input type=\"hidden\" name=\"name\"");
	html_attr(h, "value", u->name);
	html_lit(h, "><input type=\"hidden\" name=\"action\"");
	html_attr(h, "value", action);
	html_lit(h, "><button type=\"submit\">");
	html_text(h, web_tr(r, label));
	html_lit(h, "</button></form>");
}

static void
role_select(struct web_req *r)
{
	struct html *h = &r->h;

	html_lit(h, "<select name=\"role\" required>");
	for (int role = ROLE_VIEWER; role <= ROLE_ADMIN; role++) {
		html_lit(h, "<option");
		html_attr(h, "value", users_role_name(role));
		html_lit(h, ">");
		html_text(h, role_label(r, role));
		html_lit(h, "</option>");
	}
	html_lit(h, "</select>");
}

static void
users_page(struct web_req *r, const char *notice, const char *error)
{
	struct html	*h = &r->h;
	struct user	*us = NULL;
	size_t		 n = 0;
	char		 err[256], when[40];

	buf_reset(&r->resp->body);
	web_page_begin(r, web_tr(r, "Users"), "/users");
	if (notice != NULL) {
		html_lit(h, "<p class=\"notice\" role=\"status\">");
		html_text(h, notice);
		html_lit(h, "</p>");
	}
	if (error != NULL) {
		html_lit(h, "<p class=\"error\" role=\"alert\">");
		html_text(h, error);
		html_lit(h, "</p>");
	}
	html_lit(h, "<p class=\"lead\">");
	html_text(h, web_tr(r, "The people who may sign in to this node's "
	    "console. Users belong to this node: they are not synced."));
	html_lit(h, "</p>");
	if (users_load(r->w->dir, &us, &n, err, sizeof(err)) != 0) {
		html_lit(h, "<p class=\"error\">");
		html_text(h, err);
		html_lit(h, "</p>");
	}
	html_lit(h, "<div class=\"tablewrap\"><table class=\"data\" "
	    "id=\"users\"><thead><tr><th scope=\"col\">");
	html_text(h, web_tr(r, "User name"));
	html_lit(h, "</th><th scope=\"col\">");
	html_text(h, web_tr(r, "Role"));
	html_lit(h, "</th><th scope=\"col\">");
	html_text(h, web_tr(r, "State"));
	html_lit(h, "</th><th scope=\"col\">");
	html_text(h, web_tr(r, "Created (UTC)"));
	html_lit(h, "</th><th scope=\"col\"></th></tr></thead><tbody>");
	for (size_t i = 0; i < n; i++) {
		web_when(r, us[i].created_ms << 16, when, sizeof(when));
		html_lit(h, "<tr><th scope=\"row\">");
		html_text(h, us[i].name);
		html_lit(h, "</th><td>");
		html_text(h, role_label(r, us[i].role));
		html_lit(h, "</td><td>");
		if (us[i].disabled) {
			html_lit(h, "<span class=\"tag bad\">");
			html_text(h, web_tr(r, "disabled"));
		} else {
			html_lit(h, "<span class=\"tag ok\">");
			html_text(h, web_tr(r, "active"));
		}
		html_lit(h, "</span></td><td>");
		html_text(h, when);
		html_lit(h, "</td><td class=\"actions\">");
		if (strcmp(us[i].name, r->user.name) != 0)
			user_action(r, &us[i], us[i].disabled ? "enable" :
			    "disable", us[i].disabled ? N_("Enable") :
			    N_("Disable"));
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></div>");
	if (us != NULL) {
		crypto_wipe(us, n * sizeof(*us));
		free(us);
	}
	html_lit(h, "<div class=\"grid two\"><section class=\"card\"><h2>");
	html_text(h, web_tr(r, "Add a user"));
	html_lit(h, "</h2><form method=\"post\" action=\"/users\" "
	    "class=\"stack\">");
	web_csrf_field(r);
	html_lit(h, "<input type=\"hidden\" name=\"action\" value=\"add\">"
	    "<label>");
	html_text(h, web_tr(r, "User name"));
	html_lit(h, "<input name=\"name\" required maxlength=\"31\" "
	    "pattern=\"[a-z0-9][a-z0-9._\\-]*\" autocomplete=\"off\"></label>"
	    "<label>");
	html_text(h, web_tr(r, "Role"));
	role_select(r);
	html_lit(h, "</label><label>");
	html_text(h, web_tr(r, "Password (at least 10 characters)"));
	html_lit(h, "<input type=\"password\" name=\"password\" required "
	    "minlength=\"10\" autocomplete=\"new-password\"></label><label>");
	html_text(h, web_tr(r, "Password again"));
	html_lit(h, "<input type=\"password\" name=\"password2\" required "
	    "minlength=\"10\" autocomplete=\"new-password\"></label>"
	    "<button type=\"submit\" class=\"primary\">");
	html_text(h, web_tr(r, "Add user"));
	html_lit(h, "</button></form></section><section class=\"card\"><h2>");
	html_text(h, web_tr(r, "Set a password"));
	html_lit(h, "</h2><form method=\"post\" action=\"/users\" "
	    "class=\"stack\">");
	web_csrf_field(r);
	html_lit(h, "<input type=\"hidden\" name=\"action\" value=\"passwd\">"
	    "<label>");
	html_text(h, web_tr(r, "User name"));
	html_lit(h, "<input name=\"name\" required maxlength=\"31\" "
	    "autocomplete=\"off\"></label><label>");
	html_text(h, web_tr(r, "New password (at least 10 characters)"));
	html_lit(h, "<input type=\"password\" name=\"password\" required "
	    "minlength=\"10\" autocomplete=\"new-password\"></label><label>");
	html_text(h, web_tr(r, "Password again"));
	html_lit(h, "<input type=\"password\" name=\"password2\" required "
	    "minlength=\"10\" autocomplete=\"new-password\"></label>"
	    "<button type=\"submit\">");
	html_text(h, web_tr(r, "Set password"));
	html_lit(h, "</button></form></section></div>");
	web_page_end(r);
}

void
web_users_page(struct web_req *r)
{
	users_page(r, NULL, NULL);
}

void
web_users_post(struct web_req *r)
{
	const char	*action = webreq_form_get(&r->form, "action");
	const char	*name = webreq_form_get(&r->form, "name");
	const char	*pw = webreq_form_get(&r->form, "password");
	const char	*pw2 = webreq_form_get(&r->form, "password2");
	const char	*rs = webreq_form_get(&r->form, "role");
	char		 err[256], msg[160];
	int		 role = 0, rc;

	if (action == NULL || name == NULL || *name == '\0') {
		r->resp->status = 400;
		users_page(r, NULL, web_tr(r, "Give a user name."));
		return;
	}
	if (strcmp(action, "add") == 0 || strcmp(action, "passwd") == 0) {
		if (pw == NULL || pw2 == NULL || strcmp(pw, pw2) != 0) {
			r->resp->status = 400;
			users_page(r, NULL, web_tr(r, "The two passwords "
			    "differ."));
			return;
		}
	}
	if (strcmp(action, "add") == 0) {
		if (rs == NULL || users_role_parse(rs, &role) != 0) {
			r->resp->status = 400;
			users_page(r, NULL, web_tr(r, "Choose a role."));
			return;
		}
		rc = users_add(r->w->dir, name, role, pw, err, sizeof(err));
	} else if (strcmp(action, "passwd") == 0) {
		rc = users_passwd(r->w->dir, name, pw, err, sizeof(err));
	} else if (strcmp(action, "disable") == 0 ||
	    strcmp(action, "enable") == 0) {
		if (strcmp(name, r->user.name) == 0) {
			r->resp->status = 400;
			users_page(r, NULL, web_tr(r, "You cannot disable "
			    "yourself."));
			return;
		}
		rc = users_set_disabled(r->w->dir, name,
		    strcmp(action, "disable") == 0, err, sizeof(err));
	} else {
		r->resp->status = 400;
		users_page(r, NULL, web_tr(r, "Unknown action."));
		return;
	}
	if (rc != 0) {
		r->resp->status = rc == E_NOTFOUND ? 404 : 400;
		users_page(r, NULL, err);
		return;
	}
	snprintf(msg, sizeof(msg), "user.%s", action);
	web_audit(r, msg, NULL, name);
	snprintf(msg, sizeof(msg), "%s: %s", web_tr(r, "Done"), name);
	users_page(r, msg, NULL);
}

void
web_api_users(struct web_req *r)
{
	struct user	*us = NULL;
	size_t		 n = 0;
	char		 err[256];
	struct buf	*b = &r->resp->body;

	if (users_load(r->w->dir, &us, &n, err, sizeof(err)) != 0) {
		web_error(r, 500, err);
		return;
	}
	web_json_begin(r, 200);
	buf_append_str(b, "[");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "name", 1);
		jsonw_str(b, us[i].name);
		jsonw_key(b, "role", 0);
		jsonw_str(b, users_role_name(us[i].role));
		buf_append_str(b, us[i].disabled ? ",\"disabled\":true" :
		    ",\"disabled\":false");
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]\n");
	crypto_wipe(us, n * sizeof(*us));
	free(us);
}

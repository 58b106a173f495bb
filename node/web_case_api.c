/*
 * web_case_api.c - writing cases through the JSON API: POST /api/cases
 * (a case as `case add` takes it; 201 {"id"}), POST /api/cases/ID (fields
 * and events as `case update` takes them) and POST
 * /api/cases/ID/transfer ({"to","reason"}: a referral as `case transfer`
 * makes it).
 *
 * The router has checked the session, the role (caseworker), the CSRF
 * header and the JSON type.  Each write is caseop.h's, the CLI verbs'
 * own, with the signed-in user as author.  A refused value answers 400
 * {"errors":[{"field":"intake.received_on","message":"…"}]} with the
 * CLI's message; a case this node does not own, 409.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "caseop.h"
#include "conflict.h"
#include "jsonr.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

static void
caseop_for(struct web_req *r, struct caseop *c)
{
	c->st = r->w->st;
	c->node = r->w->cfg->node;
	c->author = r->author;
	c->clock_offset_ms = r->w->cfg->clock_offset_ms;
}

/* 400 with one error; field from the message "path: …" when it names
 * one. */
static void
field_error(struct web_req *r, const char *field, const char *msg)
{
	struct buf	*b = &r->resp->body;
	char		 path[ENTRY_PATH_MAX * 2 + 2];
	const char	*colon;
	size_t		 n;

	if (field == NULL && (colon = strstr(msg, ": ")) != NULL &&
	    (n = (size_t)(colon - msg)) < sizeof(path)) {
		memcpy(path, msg, n);
		path[n] = '\0';
		if (strspn(path, "abcdefghijklmnopqrstuvwxyz_.[]0123456789") ==
		    n)
			field = path;
	}
	web_json_begin(r, 400);
	buf_append_str(b, "{\"errors\":[{");
	jsonw_key(b, "field", 1);
	if (field != NULL)
		jsonw_str(b, field);
	else
		buf_append_str(b, "null");
	jsonw_key(b, "message", 0);
	jsonw_str(b, msg);
	buf_append_str(b, "}]}\n");
}

/* Answers a refused write. */
static void
write_refused(struct web_req *r, int rc, const char *err)
{
	switch (rc) {
	case E_INVAL:
		field_error(r, NULL, err);
		break;
	case E_NOTFOUND:
		web_error(r, 404, err);
		break;
	case E_CONFLICT:
		web_error(r, 409, err);
		break;
	case E_FULL:
		web_error(r, 507, err);
		break;
	default:
		web_error(r, 500, err);
		break;
	}
}

void
web_api_case_add(struct web_req *r)
{
	struct caseop	c;
	char		err[512], id[ENTRY_CASE_ID_LEN + 1];
	int		rc;

	if (r->hr->body_len == 0) {
		field_error(r, NULL, "expected one JSON object");
		return;
	}
	caseop_for(r, &c);
	web_lock(r);
	rc = caseop_add(&c, r->hr->body, r->hr->body_len, id, err,
	    sizeof(err));
	web_unlock(r);
	if (rc != 0) {
		write_refused(r, rc, err);
		return;
	}
	web_audit(r, "case.add", id, "recorded through the API");
	web_json_begin(r, 201);
	buf_append_str(&r->resp->body, "{");
	jsonw_key(&r->resp->body, "id", 1);
	jsonw_str(&r->resp->body, id);
	buf_append_str(&r->resp->body, "}\n");
}

struct api_cf {
	const struct entry	*e;
	struct buf		*b;
	int			 n;
};

static int
api_cf_one(const struct conflict *c, void *arg)
{
	struct api_cf *ac = arg;

	for (size_t i = 0; i < ac->e->nops; i++)
		if (ac->e->ops[i].type == OP_SET &&
		    strcmp(ac->e->ops[i].path, c->f->path) == 0) {
			if (ac->n++ > 0)
				buf_append_str(ac->b, ",");
			buf_append_str(ac->b, "{");
			jsonw_key(ac->b, "id", 1);
			jsonw_str(ac->b, c->id);
			jsonw_key(ac->b, "field", 0);
			jsonw_str(ac->b, c->f->path);
			buf_append_str(ac->b, "}");
			break;
		}
	return 0;
}

void
web_api_case_update(struct web_req *r)
{
	struct case_state	 s;
	struct caseop		 c;
	struct entry		 e;
	struct api_cf		 ac;
	char			 err[512], id[ENTRY_CASE_ID_LEN + 1];
	char			 from[32], to[40];
	int			 rc;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 400, "not a case id");
		return;
	}
	if (r->hr->body_len == 0) {
		field_error(r, NULL, "expected one JSON object");
		return;
	}
	caseop_for(r, &c);
	if ((rc = caseop_build(&c, r->hr->body, r->hr->body_len, r->caps[0],
	    &e, id, err, sizeof(err))) != 0) {
		entry_release(&e);
		field_error(r, NULL, err);
		return;
	}
	web_lock(r);
	rc = store_case_get_sealed(r->w->st, id, &s);
	if (rc != 0) {
		web_unlock(r);
		entry_release(&e);
		web_error(r, 404, "no such case");
		return;
	}
	/* The console moves a status along the lifecycle only (the CLI
	 * may correct it in any direction). */
	schema_get_text(&s, "status", from, sizeof(from));
	state_release(&s);
	for (size_t i = 0; i < e.nops; i++) {
		const struct op *o = &e.ops[i];

		if (o->type != OP_SET || strcmp(o->path, "status") != 0 ||
		    o->value_len < 2 || o->value_len - 2 >= sizeof(to))
			continue;
		memcpy(to, o->value + 1, o->value_len - 2);
		to[o->value_len - 2] = '\0';
		if (strcmp(to, from) != 0 && !schema_status_allowed(from,
		    to)) {
			web_unlock(r);
			entry_release(&e);
			snprintf(err, sizeof(err), "the lifecycle does not go "
			    "from %s to %s", from[0] ? from : "(none)", to);
			field_error(r, "status", err);
			return;
		}
	}
	rc = caseop_write(&c, &e, err, sizeof(err));
	if (rc == 0 && store_case_get(r->w->st, id, &s) == 0) {
		web_json_begin(r, 200);
		buf_append_str(&r->resp->body, "{");
		jsonw_key(&r->resp->body, "id", 1);
		jsonw_str(&r->resp->body, id);
		buf_append_str(&r->resp->body, ",\"conflicts\":[");
		ac.e = &e;
		ac.b = &r->resp->body;
		ac.n = 0;
		conflict_each(&s, api_cf_one, &ac);
		buf_append_str(&r->resp->body, "]}\n");
		state_release(&s);
	}
	web_unlock(r);
	entry_release(&e);
	if (rc != 0) {
		write_refused(r, rc, err);
		return;
	}
	web_audit(r, "case.update", id, "changed through the API");
}

void
web_api_case_transfer(struct web_req *r)
{
	struct jsonr_field f[] = {
		{ "to", JSONR_STR, HLC_NODE_MAX, 0, NULL, 0, NULL, 0 },
		{ "reason", JSONR_STR, 500, 0, NULL, 0, NULL, 0 },
	};
	struct caseop	c;
	struct buf	*b = &r->resp->body;
	char		err[512], from[HLC_NODE_MAX + 1];
	int		rc;

	if (!uuid_valid(r->caps[0])) {
		web_error(r, 400, "not a case id");
		return;
	}
	if (jsonr_parse(r->hr->body, r->hr->body_len, f, 2, err,
	    sizeof(err)) != 0) {
		field_error(r, NULL, err);
		return;
	}
	if (!f[0].present) {
		jsonr_release(f, 2);
		field_error(r, "to", "to: required (a province node id)");
		return;
	}
	if (f[1].present && f[1].str[0] == '\0') {
		jsonr_release(f, 2);
		field_error(r, "reason", "reason: must be 1 to 500 bytes of "
		    "text");
		return;
	}
	caseop_for(r, &c);
	web_lock(r);
	rc = caseop_transfer(&c, r->caps[0], f[0].str, f[1].present ?
	    f[1].str : NULL, from, err, sizeof(err));
	web_unlock(r);
	if (rc != 0) {
		jsonr_release(f, 2);
		if (rc == E_INVAL)
			field_error(r, strstr(err, "reason") != NULL ?
			    "reason" : "to", err);
		else
			write_refused(r, rc, err);
		return;
	}
	web_audit(r, "case.transfer", r->caps[0], f[0].str);
	web_json_begin(r, 200);
	buf_append_str(b, "{");
	jsonw_key(b, "id", 1);
	jsonw_str(b, r->caps[0]);
	jsonw_key(b, "from", 0);
	jsonw_str(b, from);
	jsonw_key(b, "to", 0);
	jsonw_str(b, f[0].str);
	buf_append_str(b, "}\n");
	jsonr_release(f, 2);
}

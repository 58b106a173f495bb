/*
 * caseop.c - the local writes of a case, for the CLI and the console.
 * See caseop.h.
 */
#include "caseop.h"
#include "dupes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "referral.h"
#include "schema.h"

#include "../common/err.h"
#include "../common/util.h"

void
caseop_today(const struct caseop *c, char *buf, size_t sz)
{
	time_t		t = (time_t)(((int64_t)now_ms() +
			    c->clock_offset_ms) / 1000);
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%d", &tm) == 0)
		strlcpy_(buf, "1970-01-01", sz);
}

static int
too_many(char *err, size_t errsz)
{
	snprintf(err, errsz, "too many fields in one change");
	return E_INVAL;
}

int
caseop_build(const struct caseop *c, const char *json, size_t len,
    const char *id, struct entry *e, char *idbuf, char *err, size_t errsz)
{
	struct op	*o;
	int		 rc, has_status = 0;

	entry_init(e);
	idbuf[0] = '\0';
	if ((rc = schema_ops_from_json(json, len, e, idbuf, err,
	    errsz)) != 0)
		return rc;
	if (id != NULL) {
		if (idbuf[0] != '\0' && strcmp(idbuf, id) != 0) {
			snprintf(err, errsz, "the input's id %s differs from "
			    "%s", idbuf, id);
			return E_INVAL;
		}
		strlcpy_(idbuf, id, ENTRY_CASE_ID_LEN + 1);
	} else {
		if (idbuf[0] == '\0')
			uuid7(idbuf, now_ms());
		for (size_t i = 0; i < e->nops; i++)
			if (e->ops[i].type == OP_SET &&
			    strcmp(e->ops[i].path, "status") == 0)
				has_status = 1;
		if (!has_status) {
			if ((o = entry_add_op(e, OP_SET)) == NULL)
				return too_many(err, errsz);
			strlcpy_(o->path, "status", sizeof(o->path));
			op_set_value(o, "\"reported\"", 10);
		}
		/* A case is created by the entry that gives it an owner. */
		if ((o = entry_add_op(e, OP_TRANSFER)) == NULL)
			return too_many(err, errsz);
		strlcpy_(o->to, c->node, sizeof(o->to));
	}
	strlcpy_(e->case_id, idbuf, sizeof(e->case_id));
	return 0;
}

int
caseop_write(const struct caseop *c, struct entry *e, char *err,
    size_t errsz)
{
	char	buf[512];
	int	rc;

	strlcpy_(e->author, c->author, sizeof(e->author));
	/* A duplicate link that would close a cycle is refused here, on
	 * every path that writes one (dupes.h). */
	for (size_t i = 0; i < e->nops; i++) {
		const struct op	*o = &e->ops[i];
		char		 of[ENTRY_CASE_ID_LEN + 1];

		if (o->type != OP_SET || strcmp(o->path,
		    "person.duplicate_of") != 0 || o->value == NULL ||
		    o->value_len != ENTRY_CASE_ID_LEN + 2 ||
		    o->value[0] != '"')
			continue;
		memcpy(of, o->value + 1, ENTRY_CASE_ID_LEN);
		of[ENTRY_CASE_ID_LEN] = '\0';
		if ((rc = dupes_check_link(c->st, e->case_id, of, err,
		    errsz)) != 0)
			return rc;
	}
	if ((rc = store_write_local(c->st, e, 1, buf, sizeof(buf))) != 0)
		/* The store says "entry 1: ..."; one entry: drop that. */
		snprintf(err, errsz, "%s", strncmp(buf, "entry 1: ", 9) == 0 ?
		    buf + 9 : buf);
	return rc;
}

int
caseop_add(const struct caseop *c, const char *json, size_t len,
    char *idbuf, char *err, size_t errsz)
{
	struct case_state	s;
	struct entry		e;
	int			rc;

	if ((rc = caseop_build(c, json, len, NULL, &e, idbuf, err,
	    errsz)) != 0) {
		entry_release(&e);
		return rc;
	}
	if (store_case_get_sealed(c->st, idbuf, &s) == 0) {
		state_release(&s);
		entry_release(&e);
		snprintf(err, errsz, "case %s exists: use `case update`",
		    idbuf);
		return E_CONFLICT;
	}
	rc = caseop_write(c, &e, err, errsz);
	entry_release(&e);
	return rc;
}

int
caseop_update(const struct caseop *c, const char *id, const char *json,
    size_t len, char *err, size_t errsz)
{
	struct entry	e;
	char		idbuf[ENTRY_CASE_ID_LEN + 1];
	int		rc;

	if (!uuid_valid(id)) {
		snprintf(err, errsz, "'%.40s' is not a case id", id);
		return E_INVAL;
	}
	rc = caseop_build(c, json, len, id, &e, idbuf, err, errsz);
	if (rc == 0)
		rc = caseop_write(c, &e, err, errsz);
	entry_release(&e);
	return rc;
}

int
caseop_status(const struct caseop *c, const char *id, const char *to,
    char *err, size_t errsz)
{
	struct case_state	 s;
	char			 from[32], json[96];

	if (schema_enum_label(SCHEMA_ENUM_STATUS, to) == NULL) {
		snprintf(err, errsz, "status: unknown value \"%.32s\"", to);
		return E_INVAL;
	}
	if (!uuid_valid(id) || store_case_get_sealed(c->st, id, &s) != 0) {
		snprintf(err, errsz, "no case %.40s on this node", id);
		return E_NOTFOUND;
	}
	schema_get_text(&s, "status", from, sizeof(from));
	state_release(&s);
	if (!schema_status_allowed(from, to)) {
		snprintf(err, errsz, "status: the lifecycle does not go from "
		    "%s to %s", from[0] ? from : "(none)", to);
		return E_INVAL;
	}
	snprintf(json, sizeof(json), "{\"status\":\"%s\"}", to);
	return caseop_update(c, id, json, strlen(json), err, errsz);
}

int
caseop_transfer(const struct caseop *c, const char *id, const char *to,
    const char *reason, char *from_out, char *err, size_t errsz)
{
	char	on[16];
	int	now;

	/* A province's referral is an offer that `to` answers; central's
	 * reassigns at once (referral.h, offer.h). */
	caseop_today(c, on, sizeof(on));
	return referral_make(c->st, c->author, c->node, id, to, reason, on,
	    from_out, &now, err, errsz);
}

int
caseop_erase(const struct caseop *c, const char *id, int *already,
    char *err, size_t errsz)
{
	struct case_state	s;
	struct entry		e;
	int			rc;

	*already = 0;
	if (!uuid_valid(id) || store_case_get_sealed(c->st, id, &s) != 0) {
		snprintf(err, errsz, "no case %.40s on this node", id);
		return E_NOTFOUND;
	}
	*already = s.erased.hlc != 0;
	state_release(&s);
	if (*already)
		return 0;
	entry_init(&e);
	strlcpy_(e.case_id, id, sizeof(e.case_id));
	entry_add_op(&e, OP_ERASE);
	rc = caseop_write(c, &e, err, errsz);
	entry_release(&e);
	return rc;
}

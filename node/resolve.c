/*
 * resolve.c - finding and resolving one open conflict.  See resolve.h.
 */
#include "resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "schema.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

struct find_ctx {
	const char	*cid;
	char		 case_id[ENTRY_CASE_ID_LEN + 1];
};

static int
find_case(const struct case_state *sealed, void *arg)
{
	struct find_ctx		*fc = arg;
	const struct field	*f;

	if (!conflict_candidate(sealed))
		return 0;
	/* The id depends only on stamps: no need to open values here. */
	for (size_t i = 0; i < sealed->nfields; i++) {
		f = &sealed->fields[i];
		for (size_t j = 0; j + 1 < f->nheads; j++) {
			char id[CONFLICT_ID_LEN + 1];

			conflict_id(sealed->id, f->path, &f->heads[j].st, id);
			if (strcasecmp(id, fc->cid) == 0) {
				strlcpy_(fc->case_id, sealed->id,
				    sizeof(fc->case_id));
				return 1;
			}
		}
	}
	return 0;
}

int
resolve_load(struct store *st, const char *cid, struct case_state *s,
    struct conflict *c, char *err, size_t errsz)
{
	struct find_ctx	fc;
	int		rc;

	if (!conflict_id_valid(cid)) {
		snprintf(err, errsz, "'%.40s' is not a conflict id (16 hex "
		    "digits, as `casesync conflicts` prints)", cid);
		return E_INVAL;
	}
	memset(&fc, 0, sizeof(fc));
	fc.cid = cid;
	rc = store_conflicted_each(st, find_case, &fc);
	if (rc != 0 && rc != 1) {
		snprintf(err, errsz, "conflicts: %s", err_str(rc));
		return rc;
	}
	if (fc.case_id[0] == '\0' || store_case_get(st, fc.case_id, s) != 0) {
		snprintf(err, errsz, "no open conflict %s on this node "
		    "(resolved already, or not synced here yet)", cid);
		return E_NOTFOUND;
	}
	if (conflict_find(s, cid, c) != 0) {
		state_release(s);
		snprintf(err, errsz, "no open conflict %s on this node (both "
		    "sides now hold the same value)", cid);
		return E_NOTFOUND;
	}
	return 0;
}

/*
 * Canonicalises the JSON value text for field path through the schema,
 * as `case update` would take it.  Returns 0 with *out (caller frees), or
 * E_INVAL with the reason in err.
 */
static int
value_canonical(const char *path, const char *text, char **out,
    size_t *outlen, char *err, size_t errsz)
{
	struct entry	 e;
	struct buf	 j;
	const char	*dot = strchr(path, '.');
	char		 why[256], id[ENTRY_CASE_ID_LEN + 1];
	int		 rc;

	buf_init(&j, SCHEMA_INPUT_MAX);
	if (dot == NULL)
		buf_printf(&j, "{\"%s\":", path);
	else
		buf_printf(&j, "{\"%.*s\":{\"%s\":", (int)(dot - path), path,
		    dot + 1);
	buf_append_str(&j, text);
	buf_append_str(&j, dot == NULL ? "}" : "}}");
	entry_init(&e);
	rc = schema_ops_from_json((const char *)j.data, j.len, &e, id, why,
	    sizeof(why));
	buf_release(&j);
	if (rc != 0) {
		snprintf(err, errsz, "--value: %s", why);
		entry_release(&e);
		return E_INVAL;
	}
	/* The text is pasted into an object: it must stay one value. */
	if (e.nops != 1 || e.ops[0].type != OP_SET ||
	    strcmp(e.ops[0].path, path) != 0 || id[0] != '\0') {
		snprintf(err, errsz, "--value: give one JSON value for %s",
		    path);
		entry_release(&e);
		return E_INVAL;
	}
	*out = e.ops[0].value;
	*outlen = e.ops[0].value_len;
	e.ops[0].value = NULL;
	entry_release(&e);
	return 0;
}

/* Appends the note that records the reason, through the schema. */
static int
reason_note(struct entry *e, const char *cid, const char *author,
    const char *reason, char *err, size_t errsz)
{
	struct entry	 n;
	struct buf	 j;
	struct tm	 tm;
	time_t		 t = time(NULL);
	char		 day[16], evid[ENTRY_EVID_MAX + 1], why[256];
	char		 id[ENTRY_CASE_ID_LEN + 1];
	struct op	*o;
	int		 rc;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0)
		return E_IO;
	snprintf(evid, sizeof(evid), "%s%s", RESOLVE_NOTE_PREFIX, cid);
	for (char *p = evid; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	buf_init(&j, 16 * 1024);
	buf_append_str(&j, "{\"notes\":[{\"id\":");
	jsonw_str(&j, evid);
	buf_printf(&j, ",\"on\":\"%s\",\"author\":", day);
	jsonw_str(&j, author);
	buf_append_str(&j, ",\"text\":");
	jsonw_str(&j, reason);
	buf_append_str(&j, "}]}");
	entry_init(&n);
	rc = schema_ops_from_json((const char *)j.data, j.len, &n, id, why,
	    sizeof(why));
	buf_release(&j);
	if (rc != 0 || n.nops != 1) {
		snprintf(err, errsz, "reason: %s", rc ? why : "not a note");
		entry_release(&n);
		return E_INVAL;
	}
	if ((o = entry_add_op(e, OP_EVENT)) == NULL) {
		entry_release(&n);
		snprintf(err, errsz, "too many changes in one entry");
		return E_TOOBIG;
	}
	*o = n.ops[0];
	n.ops[0].value = NULL;
	entry_release(&n);
	return 0;
}

int
resolve_conflict(struct store *st, const char *author, const char *cid,
    const char *keep, const char *value_json, const char *reason,
    struct resolve_out *out, char *err, size_t errsz)
{
	struct case_state	 s;
	struct conflict		 c;
	struct entry		 e;
	char			*value = NULL;
	size_t			 len;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if ((keep == NULL) == (value_json == NULL) || (keep != NULL &&
	    strcmp(keep, "winner") != 0 && strcmp(keep, "loser") != 0)) {
		snprintf(err, errsz, "give --keep winner, --keep loser or "
		    "--value JSON");
		return E_INVAL;
	}
	if (reason != NULL && (reason[0] == '\0' ||
	    strlen(reason) > RESOLVE_REASON_MAX)) {
		snprintf(err, errsz, "the reason must be 1 to %d bytes",
		    RESOLVE_REASON_MAX);
		return E_INVAL;
	}
	if ((rc = resolve_load(st, cid, &s, &c, err, errsz)) != 0)
		return rc;
	if (value_json != NULL) {
		if ((rc = value_canonical(c.f->path, value_json, &value, &len,
		    err, errsz)) != 0) {
			state_release(&s);
			return rc;
		}
	} else {
		const struct head *h = strcmp(keep, "winner") == 0 ?
		    c.winner : c.loser;

		len = h->value_len;
		value = xstrndup((const char *)h->value, len);
	}
	entry_init(&e);
	strlcpy_(e.case_id, s.id, sizeof(e.case_id));
	strlcpy_(e.author, author, sizeof(e.author));
	rc = conflict_resolution(&c, value, len, &e);
	if (rc != 0)
		snprintf(err, errsz, "%s", err_str(rc));
	if (rc == 0 && reason != NULL)
		rc = reason_note(&e, c.id, author, reason, err, errsz);
	if (rc == 0)
		rc = store_write_local(st, &e, 1, err, errsz);
	if (rc == 0) {
		/* Never the value: it may identify a person. */
		log_info("conflict %s (case %s, field %s) resolved by %s",
		    c.id, s.id, c.f->path, author);
		strlcpy_(out->case_id, s.id, sizeof(out->case_id));
		strlcpy_(out->path, c.f->path, sizeof(out->path));
		out->value = value;
		value = NULL;
	}
	entry_release(&e);
	free(value);
	state_release(&s);
	return rc;
}

void
resolve_out_release(struct resolve_out *o)
{
	free(o->value);
	o->value = NULL;
}

/*
 * caseop.h - the changes a case receives on this node, as local writes:
 * recording a case, updating it, moving its status along the lifecycle,
 * referring it to another province and erasing it.  The CLI verbs
 * (cmd_case.c, cmd_transfer.c) and the console (web_case_form.c,
 * web_case_api.c) call these, so a change made in a browser is built,
 * checked, signed and sealed exactly like one made in a shell: there is no
 * second path to the store.
 *
 * Every function builds one entry, checks it against the schema, and
 * writes it with store_write_local (one transaction, signed by this
 * node, authored by c->author).  On error nothing is written and err
 * holds one line in English (the CLI's message), without the store's
 * "entry 1: " prefix.
 */
#ifndef CASESYNC_CASEOP_H
#define CASESYNC_CASEOP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#include "../proto/entry.h"

/* Who writes, where.  Every pointer is borrowed for the call. */
struct caseop {
	struct store	*st;
	const char	*node;		/* this node's id */
	const char	*author;	/* "name@node" */
	int64_t		 clock_offset_ms;	/* nodecfg's (tests) */
};

/*
 * Builds the entry for one case as JSON (`case add` / `case update`
 * input, docs/SCHEMA.md) into *e (caller releases it with entry_release,
 * also on error).  id: the case to update, or NULL to create one; a
 * created case gets the input's "id" or a new UUIDv7, the status
 * "reported" when none is given, and this node as its owner.  idbuf
 * receives the case id (ENTRY_CASE_ID_LEN + 1 bytes).  OP_SET bases are
 * left empty (the store fills in the value the author saw); a caller
 * that knows an older one sets it before caseop_write.  Returns 0 or
 * E_INVAL with err.
 */
int	caseop_build(const struct caseop *c, const char *json, size_t len,
	    const char *id, struct entry *e, char *idbuf, char *err,
	    size_t errsz);

/* Writes *e (from caseop_build or built by hand) with c->author.  Returns
 * 0, E_NOTFOUND, E_CONFLICT (not the owner, read-only copy), E_INVAL,
 * E_FULL or E_STORE with err. */
int	caseop_write(const struct caseop *c, struct entry *e, char *err,
	    size_t errsz);

/*
 * `case add`: records a new case.  Returns 0 with its id in idbuf, E_INVAL
 * (schema), E_CONFLICT (a case with the input's id exists) or a store
 * error, with err.
 */
int	caseop_add(const struct caseop *c, const char *json, size_t len,
	    char *idbuf, char *err, size_t errsz);

/* `case update`: sets the fields and appends the events of json to case
 * id.  Returns as caseop_write, or E_INVAL. */
int	caseop_update(const struct caseop *c, const char *id, const char *json,
	    size_t len, char *err, size_t errsz);

/*
 * The console's status action: moves case id to status `to` when the
 * lifecycle allows it from the current status (schema_status_allowed).
 * Returns 0, E_INVAL (not a status, or not a step the lifecycle allows:
 * err says from what to what), or as caseop_write.
 */
int	caseop_status(const struct caseop *c, const char *id, const char *to,
	    char *err, size_t errsz);

/*
 * `case transfer`: refers case id to province `to` with an optional
 * reason (NULL, or 1 to 500 bytes of text), through referral_make
 * (referral.h): on a province an offer that `to` accepts or declines (the
 * owner does not change), on central a reassignment at once.  from_out
 * (HLC_NODE_MAX + 1 bytes) receives the current owner.  Returns 0,
 * E_INVAL (unknown node, central, bad reason), E_NOTFOUND, E_CONFLICT
 * (owned by `to` already, not the owner, an offer already waiting) or a
 * store error, with err.
 */
int	caseop_transfer(const struct caseop *c, const char *id, const char *to,
	    const char *reason, char *from_out, char *err, size_t errsz);

/*
 * `case erase`: removes the identifying values of case id everywhere (an
 * OP_ERASE).  *already is set when it was erased before (nothing is
 * written, returns 0).  Returns 0, E_NOTFOUND or as caseop_write.
 */
int	caseop_erase(const struct caseop *c, const char *id, int *already,
	    char *err, size_t errsz);

/* Today at this node (its clock, local time) as YYYY-MM-DD into buf. */
void	caseop_today(const struct caseop *c, char *buf, size_t sz);

#endif

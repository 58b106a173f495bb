/*
 * resolve.h - finding and resolving one open conflict: the local write
 * that `casesync conflicts resolve` and the console both call (there is no
 * second path to the store).
 */
#ifndef CASESYNC_RESOLVE_H
#define CASESYNC_RESOLVE_H

#include <stddef.h>

#include "conflict.h"
#include "store.h"

#define RESOLVE_REASON_MAX	500	/* bytes */

/*
 * Finds the open conflict cid: loads its case (values opened) into *s and
 * fills *c, borrowing from *s (release *s with state_release).  Returns 0;
 * E_INVAL (cid is not spelled like a conflict id), E_NOTFOUND (no such
 * open conflict), or a store error, with the message in err.
 */
int	resolve_load(struct store *st, const char *cid, struct case_state *s,
	    struct conflict *c, char *err, size_t errsz);

struct resolve_out {
	char	 case_id[ENTRY_CASE_ID_LEN + 1];
	char	 path[ENTRY_PATH_MAX + 1];
	char	*value;		/* owned: the value written (JSON text) */
};

/*
 * Resolves conflict cid by keeping "winner" or "loser" (keep), or by
 * setting value_json (JSON text of a new value, checked by the schema as
 * `case update` checks it): one signed local write by author.  A reason
 * (NULL or 1 to RESOLVE_REASON_MAX bytes of text) is recorded in the same
 * entry, as the note "resolution-CID" (sealed at rest like every note).
 * Returns 0 with *out filled (release with resolve_out_release); E_INVAL
 * (bad value or reason), E_NOTFOUND, E_CONFLICT (not the owner) or a
 * store error, with a one-line message in err.  Nothing is written on
 * error.
 */
int	resolve_conflict(struct store *st, const char *author,
	    const char *cid, const char *keep, const char *value_json,
	    const char *reason, struct resolve_out *out, char *err,
	    size_t errsz);
void	resolve_out_release(struct resolve_out *o);

/* The event id of the note holding a resolution's reason. */
#define RESOLVE_NOTE_PREFIX	"resolution-"

#endif

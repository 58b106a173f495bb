/*
 * conflict.h - the open conflicts of a case: their ids, listing them and
 * building the change that resolves one.
 *
 * A conflict is a head of a field (merge.h) that is not the winner and
 * holds a different value: two nodes changed the field before either saw
 * the other's change.  Every node that holds the case shows the winner and
 * keeps the loser until someone resolves it.
 *
 * The id of a conflict is derived only from what every such node agrees
 * on: the case id, the field path and the losing head's stamp (HLC and
 * node).  The same conflict therefore has the same id on central and on
 * the province, whatever order the entries arrived in, and keeps it when a
 * later change replaces the winner.
 *
 * Pure functions, no I/O.  The state passed in must have its identifying
 * values opened (store_case_get, or store_case_open on a copy): sealed
 * values of equal text differ byte for byte.
 */
#ifndef CASESYNC_CONFLICT_H
#define CASESYNC_CONFLICT_H

#include <stddef.h>

#include "../proto/entry.h"
#include "../proto/state.h"

#define CONFLICT_ID_LEN		16	/* lowercase hex digits */

/* One open conflict.  Every pointer is borrowed from the state it was
 * found in and valid while that state is neither changed nor released. */
struct conflict {
	char			 id[CONFLICT_ID_LEN + 1];
	const struct case_state	*s;
	const struct field	*f;
	const struct head	*winner;
	const struct head	*loser;
};

/*
 * Writes the id of the conflict whose losing head has stamp loser, in
 * field path of case case_id, into out: the FNV-1a 64-bit hash of
 * "case_id \0 path \0 decimal hlc \0 node" as 16 lowercase hex digits.
 */
void	conflict_id(const char *case_id, const char *path,
	    const struct stamp *loser, char out[CONFLICT_ID_LEN + 1]);

/* Is s spelled like a conflict id (16 hex digits, any case)? */
int	conflict_id_valid(const char *s);

/* Does s have a field with more than one head (cheap pre-check that
 * works on sealed states too; conflict_each decides)? */
int	conflict_candidate(const struct case_state *s);

/*
 * Calls fn for every open conflict of s, in field path order and, within
 * a field, in ascending stamp order of the losers.  fn returns non-zero to
 * stop; that value is returned.  *c is borrowed for the call only.
 */
int	conflict_each(const struct case_state *s,
	    int (*fn)(const struct conflict *c, void *arg), void *arg);

/* Finds the open conflict named id (either case of hex) in s.
 * Returns 0 with *c filled (borrowing from s), or E_NOTFOUND. */
int	conflict_find(const struct case_state *s, const char *id,
	    struct conflict *c);

/*
 * Appends to e the op that resolves c by setting its field to value (len
 * bytes of canonical JSON): an OP_SET whose base is the winner's stamp and
 * whose also[] lists the loser's stamp and every other head holding the
 * winner's or the loser's value (so that neither side lives on in a
 * duplicate).  The write then supersedes both sides on every node that
 * applies it.  e's case id and author are the caller's to set.
 * Returns 0, E_TOOBIG (value or op count) or E_INVAL (e already sets the
 * field).
 */
int	conflict_resolution(const struct conflict *c, const char *value,
	    size_t len, struct entry *e);

#ifdef SELFTEST
int	conflict_selftest(void);
#endif

#endif

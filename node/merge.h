/*
 * merge.h - folding change entries into a case state.
 *
 * Pure functions, no I/O.  The result depends only on the SET of entries
 * applied, never on their order or on duplicates, so replicas converge
 * without coordination:
 * - a field keeps every value that no later write superseded (its "heads");
 *   a write supersedes the stamps in its base and also[] lists.  The value
 *   shown is the head with the highest stamp (hlc, then node id); the other
 *   heads with a different value are the field's open conflicts.
 * - events are an add-only set keyed by (collection, id).
 * - the owner is the last writer (by stamp) among transfer ops.
 * - an erase is a tombstone: identifying fields and identifying events are
 *   removed, and identifying writes arriving later (or replayed) are ignored.
 */
#ifndef CASESYNC_MERGE_H
#define CASESYNC_MERGE_H

#include "../proto/entry.h"
#include "../proto/state.h"

/* Applies e (already validated against the schema) to s.
 * Returns 0, or E_TOOBIG when a state limit would be exceeded (s is then
 * unchanged). */
int	merge_apply(struct case_state *s, const struct entry *e);

/* The field with this path, or NULL.  Borrowed from s. */
struct field *merge_field(const struct case_state *s, const char *path);
/* The winning head of f (highest stamp), or NULL when f has none. */
const struct head *merge_winner(const struct field *f);
/* Does f hold more than one distinct value (an open conflict)? */
int	merge_conflicted(const struct field *f);
/* Removes every identifying value from s (erase, or a read-only copy kept
 * after the case was transferred away). */
void	merge_strip_identifying(struct case_state *s);

#ifdef SELFTEST
int	merge_selftest(void);
#endif

#endif

/*
 * merge.h - folding change entries into a case state.
 *
 * Pure functions, no I/O.  The result depends only on the SET of entries
 * applied, never on their order or on duplicates, so replicas converge
 * without coordination:
 * - a field keeps, for each node, its latest write unless a write
 *   superseded it (its "heads"); a write supersedes the stamps in its base
 *   and also[] lists and every earlier write of their nodes to the field
 *   (seen: one stamp per node).  Both are maxima, so one node can never
 *   fill a field however many values it sends.  The value shown is the
 *   head with the highest stamp (hlc, then node id); the other heads with
 *   a different value are the field's open conflicts.
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

/*
 * Soft limits.  A node accepts a new entry (a local write; central, an
 * entry from a province) only while the case stays within these, or when
 * the entry does not grow what is over them (an erase always applies).
 * They are half the hard limits of state.h, so the union of two states
 * within them is within the hard limits: a province's copy is the union of
 * what central accepted and its own writes not yet seen by central, and
 * can therefore never reach a hard limit (docs/CONFLICTS.md, "Limits").
 * Per field, what is counted is the nodes named in heads and seen, which
 * only grows with the set of entries; a node has at most one of each.
 */
#define MERGE_SOFT_NODES	(STATE_MAX_HEADS / 2)	/* per field */
#define MERGE_SOFT_FIELDS	(STATE_MAX_FIELDS / 2)
#define MERGE_SOFT_EVENTS	(STATE_MAX_EVENTS / 2)
#define MERGE_SOFT_BYTES	(STATE_ENCODED_MAX / 2 - 65536)

/* Checks after (before + one entry) against the soft limits.  Returns 0,
 * or E_TOOBIG with the reason in why when after is over a soft limit that
 * before was not over at least as much. */
int	merge_check_soft(const struct case_state *before,
	    const struct case_state *after, char *why, size_t whysz);

/*
 * The same check without a copy of the state before: merge_note records
 * what the check needs of before (its counts, its weight, and how many
 * nodes each field e writes names), merge_check_noted then checks after
 * (before with e applied) and gives merge_check_soft's answer and reason.
 * Only the fields e writes can name more nodes after it.
 */
struct merge_before {
	size_t	nfields, nevents, weight;
	size_t	nops;
	size_t	nodes[ENTRY_MAX_OPS];	/* SIZE_MAX: no such field */
};
void	merge_note(const struct case_state *before, const struct entry *e,
	    struct merge_before *mb);
int	merge_check_noted(const struct merge_before *mb,
	    const struct entry *e, const struct case_state *after, char *why,
	    size_t whysz);

/* Brings a state written before fields kept one head and one seen stamp
 * per node into that form (what a fold of the same entries gives now). */
void	merge_normalise(struct case_state *s);

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

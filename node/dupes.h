/*
 * dupes.h - possible duplicates of a case being recorded, and the link
 * that says two cases are one person.
 *
 * A possible duplicate is a case of this node, not erased, with exactly
 * the same birth year, sex and home province as the draft, and a close
 * full name: every word of the draft's name, or every word but one (for
 * a name of three words or more), starts a word of the case's name.  The
 * names are sealed at rest: the search runs on the blind name index
 * (nameidx.h) and reads only non-identifying fields, so a keystroke costs
 * a few B-tree lookups and no decryption.  Only the names of the matches
 * shown are opened, by the caller, and audited.
 *
 * Two cases of one person are linked by setting person.duplicate_of on the
 * later one to the earlier one's id: an ordinary field, so the link is a
 * signed change that replicates like any other, and reports leave the
 * linked case out, counting the person once (docs/REPORTS.md).
 */
#ifndef CASESYNC_DUPES_H
#define CASESYNC_DUPES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define DUPES_MAX		20	/* matches returned */
#define DUPES_SCAN_MAX		500	/* cases read per name query */
#define DUPES_CHAIN_MAX		64	/* links followed from one case */

struct dupes_query {
	const char	*full_name;
	int64_t		 birth_year;
	const char	*sex;
	const char	*home_province;
	const char	*exclude;	/* a case id left out, or NULL */
};

struct dupes_hit {
	char		id[ENTRY_CASE_ID_LEN + 1];
	int		all_words;	/* 1: every word; 0: all but one */
};

/*
 * Finds the possible duplicates of q on this node: at most max (up to
 * DUPES_MAX) into hits, those matching every word first, then by case id.
 * Returns 0 with *n set; E_INVAL when the name has no word; E_AUTH
 * without the data key; or a store error.
 */
int	dupes_find(struct store *st, const struct dupes_query *q,
	    struct dupes_hit *hits, size_t max, size_t *n);

/*
 * Links case id to case of, the earlier case of the same person: one
 * signed local write by author setting person.duplicate_of.  Refused
 * (E_INVAL) when of is id, is not on this node, is itself linked to
 * another case, or is linked to id; E_NOTFOUND when id is not on this
 * node; E_CONFLICT when this node may not change id.  The message is in
 * err.  Nothing is written on error.
 */
int	dupes_link(struct store *st, const char *author, const char *id,
	    const char *of, char *err, size_t errsz);

/*
 * Checks that linking case id to case of (person.duplicate_of) forms no
 * cycle: of is not id, and the links from of (as this node holds them)
 * never come back to id.  Returns 0, or E_INVAL with err.  caseop_write
 * runs it on every write that sets the link, so `case update`, the API
 * and the forms refuse a cycle as dupes_link does.
 */
int	dupes_check_link(struct store *st, const char *id, const char *of,
	    char *err, size_t errsz);

/*
 * The case that counts the person of case id (reports count a person
 * once, docs/CONFLICTS.md "Duplicate links"): the links are followed from
 * id to a case with no link, which counts.  A link to a case this node
 * does not hold ends the walk there (that case counts where it is held).
 * Links are ordinary fields that replicate, so two nodes linking at the
 * same time can form a cycle that no write check sees (A->B on one, B->A
 * on the other); then the smallest case id of the cycle counts, on every
 * node alike, and every other case of the cycle or leading into it does
 * not.  A walk longer than DUPES_CHAIN_MAX ends at the case it reached.
 * Writes the id into rep (ENTRY_CASE_ID_LEN + 1 bytes).  Returns 0, or a
 * store error.
 */
int	dupes_representative(struct store *st, const char *id, char *rep);

/* report_opts' counts_person hook (report.h): arg is the struct store;
 * 1 when case s is its own representative. */
int	dupes_counts_person(void *arg, const struct case_state *s);

#ifdef SELFTEST
int	dupes_selftest(void);
#endif

#endif

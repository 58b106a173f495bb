/*
 * report.h - statistics over the cases a node holds: counts by province,
 * category, sex, age band, purpose, destination, intake source and status,
 * support received, referrals, two cross-tables, with small-cell
 * suppression, rendered as text, CSV, JSON or a self-contained HTML page.
 * docs/REPORTS.md describes every figure and the suppression rule.
 *
 * Use: report_new(), report_add() for every case (store_case_each),
 * report_finish() once (it applies the suppression), report_render() in
 * as many formats as wanted, report_free().
 *
 * Only non-identifying fields are read: status, person.category, sex,
 * birth_year, trafficking.purposes, destination_country, intake.source,
 * received_on, the owner, and the services and referrals events.  Names,
 * documents, phones, addresses and notes are never looked at.
 */
#ifndef CASESYNC_REPORT_H
#define CASESYNC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/hlc.h"
#include "../proto/state.h"
#include "i18n.h"

#define REPORT_DATE_LEN		10		/* YYYY-MM-DD */
#define REPORT_OUT_MAX		(32 * 1024 * 1024)	/* rendered bytes */

enum report_format {
	REPORT_TEXT,
	REPORT_CSV,
	REPORT_JSON,
	REPORT_HTML,
};

struct report_opts {
	/* The period, inclusive, on intake.received_on; "" leaves that side
	 * open.  With both empty every case counts, undated ones included. */
	char		from[REPORT_DATE_LEN + 1];
	char		to[REPORT_DATE_LEN + 1];
	/* Only cases owned by this node id; "" for every owner. */
	char		province[HLC_NODE_MAX + 1];
	/* K: counts from 1 to K-1 are suppressed.  1 turns it off. */
	unsigned	min_cell;
	/* Shown in the heading: the node the report was made on and the
	 * day (YYYY-MM-DD) it was made. */
	char		node[HLC_NODE_MAX + 1];
	char		generated[REPORT_DATE_LEN + 1];
	/* The language of titles, labels, dates and numbers in text, HTML
	 * and the JSON "title" and "label" members (LANG_VI is 0).  CSV and
	 * every JSON key and value code stay the same in both languages.
	 * Translations need i18n_open() first. */
	enum lang	lang;
	/* Whether case s, linked to another case (person.duplicate_of),
	 * still counts its person: 1 when it is the one case of a cycle of
	 * links that counts (dupes_representative), else 0.  Borrowed; NULL
	 * means a linked case never counts. */
	int		(*counts_person)(void *arg, const struct case_state *s);
	void		*counts_arg;
};

struct report;

/*
 * Parses a date "YYYY-MM-DD" (a real calendar day, year 1900 to 2100) into
 * out (REPORT_DATE_LEN + 1 bytes).  Returns 0 or E_INVAL.
 */
int	report_parse_date(const char *s, char *out);

/* Parses "text", "csv", "json" or "html".  Returns 0 or E_INVAL. */
int	report_parse_format(const char *s, enum report_format *f);

/* A new, empty report for *o (copied).  Caller owns the result
 * (report_free). */
struct report *report_new(const struct report_opts *o);
void	report_free(struct report **r);

/*
 * Counts one case if it falls in the period (and, for the case figures,
 * belongs to the province asked for).  The state is borrowed for the call
 * only.  Always returns 0, so that it can serve as a store_case_each
 * callback through a small wrapper.
 */
int	report_add(struct report *r, const struct case_state *s);

/* Ends counting and applies the small-cell suppression.  Call once, after
 * the last report_add and before report_render. */
void	report_finish(struct report *r);

/* Appends the report in format f to out.  Returns 0 or E_TOOBIG. */
int	report_render(const struct report *r, enum report_format f,
	    struct buf *out);

/* The number of cases counted (before suppression), for messages. */
uint64_t report_ncases(const struct report *r);

#ifdef SELFTEST
int	report_selftest(void);
#endif

#endif

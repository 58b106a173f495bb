/*
 * htcds.h - a case as a record of the Human Trafficking Case Data Standard
 * 2.0 (HTCDS) by IOM, for exchange with international partners: one JSON
 * object per case (JSON Lines) or one row of the standard's spreadsheet
 * layout (CSV).  Field names and values are the standard's own; the
 * mapping from our case model, with what it loses, is docs/HTCDS.md, and
 * docs/htcds/ holds the field list and the JSON Schema generated from it.
 *
 * HTCDS by IOM is licensed under CC BY 4.0
 * (http://creativecommons.org/licenses/by/4.0/).  No endorsement by IOM
 * is implied.
 *
 * Anonymised by default: a record holds no name, document, phone, address
 * or free text, and the case is known by a pseudonym, HMAC-SHA-256 of its
 * id under the node's pseudonym key (identity.h, pseudokey_load).  The
 * anonymised record reads no identifying value: callers need not (and
 * should not) open the sealed state for it.
 *
 * Use: htcds_init() with the options and the key, htcds_header() once
 * (CSV), then htcds_selected() and htcds_record() for every case
 * (store_case_each), htcds_release().
 */
#ifndef CASESYNC_HTCDS_H
#define CASESYNC_HTCDS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/hlc.h"
#include "../proto/state.h"

#define HTCDS_DATE_LEN		10		/* YYYY-MM-DD */
#define HTCDS_ID_LEN		(2 * CRYPTO_HASH)	/* hex pseudonym */
#define HTCDS_RECORD_MAX	(16 * 1024)	/* one record's text */

enum htcds_format {
	HTCDS_JSONL,		/* --format htcds */
	HTCDS_CSV,		/* --format htcds-csv */
};

struct htcds_opts {
	enum htcds_format format;
	/* The period, inclusive, on intake.received_on, as in report.h;
	 * "" leaves that side open.  With a period, undated cases are left
	 * out. */
	char		from[HTCDS_DATE_LEN + 1];
	char		to[HTCDS_DATE_LEN + 1];
	/* Only cases owned by this node id; "" for every owner. */
	char		province[HLC_NODE_MAX + 1];
	/* Adds names, document, phone and address (central, confirmed: see
	 * cmd_io.c).  The state given to htcds_record must then be opened. */
	int		identifying;
};

struct htcds {
	struct htcds_opts	o;
	uint8_t			key[CRYPTO_KEY];	/* pseudonyms */
};

/* Parses "htcds" or "htcds-csv".  Returns 0 or E_INVAL. */
int	htcds_parse_format(const char *s, enum htcds_format *f);

/* Copies *o and the pseudonym key into *h.  htcds_release wipes the key. */
void	htcds_init(struct htcds *h, const struct htcds_opts *o,
	    const uint8_t key[CRYPTO_KEY]);
void	htcds_release(struct htcds *h);

/* Appends the header line of the CSV layout (nothing for JSON Lines).
 * Returns 0 or E_TOOBIG. */
int	htcds_header(const struct htcds *h, struct buf *out);

/* Is case s in the export: in the period and owned by the province asked
 * for?  s is borrowed for the call. */
int	htcds_selected(const struct htcds *h, const struct case_state *s);

/*
 * Appends the record of case s, one line ending in "\n".  s is borrowed
 * for the call.  Returns 0, E_TOOBIG when out is full, or E_IO when the
 * pseudonym cannot be computed.
 */
int	htcds_record(const struct htcds *h, const struct case_state *s,
	    struct buf *out);

/* The pseudonym of case id under key, HTCDS_ID_LEN hex digits and a NUL
 * into out.  Returns 0 or E_IO. */
int	htcds_pseudonym(const uint8_t key[CRYPTO_KEY], const char *case_id,
	    char out[HTCDS_ID_LEN + 1]);

#ifdef SELFTEST
int	htcds_selftest(void);
#endif

#endif

/*
 * provinces.h - Vietnam's 34 province-level units (from 1 July 2025,
 * Resolution 202/2025/QH15; codes per Decision 19/2025/QD-TTg), which are
 * also the node ids of the provincial servers.
 *
 * The table is compiled in; deploy/provinces.tsv is its source.  Every
 * returned pointer is borrowed from static storage and valid for the life
 * of the process.
 */
#ifndef CASESYNC_PROVINCES_H
#define CASESYNC_PROVINCES_H

#define PROVINCES_COUNT	34

struct province {
	const char	*code;		/* two digits, e.g. "15" */
	const char	*node;		/* node id (slug), e.g. "lao-cai" */
	const char	*name;		/* UTF-8, e.g. "Lào Cai" */
	const char	*kind;		/* "city" or "province" */
	/* Pre-merger provinces absorbed on 2025-07-01, comma-separated
	 * (UTF-8); older records name these. */
	const char	*merged_from;
	/* Land borders as ISO 3166 alpha-2 codes, comma-separated, or "". */
	const char	*borders;
};

/* Number of rows in the table (PROVINCES_COUNT). */
int	provinces_count(void);
/* Row i (0 <= i < provinces_count(), in code order), or NULL when i is out
 * of range.  Borrowed; static. */
const struct province *provinces_get(int i);
/* The row whose node id is node_id (exact match), or NULL.  Borrowed;
 * static. */
const struct province *province_find(const char *node_id);

#endif

/*
 * cfg.h - a table-driven reader for small "key = value" files.
 *
 * The caller describes every accepted key in a table; unknown keys, values
 * of the wrong type or outside [min, max], and duplicate keys are errors
 * reported as "FILE:LINE: reason".  '#' starts a comment line.
 */
#ifndef CASESYNC_CFG_H
#define CASESYNC_CFG_H

#include <stddef.h>
#include <stdint.h>

#define CFG_VALUE_MAX	256
#define CFG_FILE_MAX	(64 * 1024)

enum cfg_type { CFG_STR, CFG_U64 };

struct cfg_key {
	const char	*name;
	enum cfg_type	 type;
	uint64_t	 min, max;	/* CFG_U64 range; CFG_STR length */
	const char	*def;		/* default as text; NULL = required */
};

struct cfg_val {
	char		 str[CFG_VALUE_MAX];
	uint64_t	 u64;
	int		 set;		/* given in the file */
};

/*
 * Parses text (len bytes, need not be NUL-terminated) against keys[nkeys]
 * into vals[nkeys], applying defaults.  name is used in error messages.
 * On error returns E_INVAL and writes "name:line: reason" to err.
 */
int	cfg_parse(const struct cfg_key *keys, size_t nkeys, const char *text,
	    size_t len, const char *name, struct cfg_val *vals, char *err,
	    size_t errsz);

/* Reads and parses a file (at most CFG_FILE_MAX bytes).  As cfg_parse;
 * E_IO when the file cannot be read. */
int	cfg_load(const struct cfg_key *keys, size_t nkeys, const char *path,
	    struct cfg_val *vals, char *err, size_t errsz);

#ifdef SELFTEST
int	cfg_selftest(void);
#endif

#endif

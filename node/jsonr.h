/*
 * jsonr.h - reading small flat JSON objects from untrusted input (console
 * request bodies, audit log lines) into declared fields.  Built on cJSON.
 *
 * The object must be exactly one JSON object (whitespace around it only),
 * valid UTF-8 without NUL, every key one of the declared fields and none
 * twice.  Anything else is E_INVAL with a message for the user.
 */
#ifndef CASESYNC_JSONR_H
#define CASESYNC_JSONR_H

#include <stddef.h>
#include <stdint.h>

#define JSONR_INPUT_MAX		(64 * 1024)
#define JSONR_ARRAY_MAX		1000

enum jsonr_type {
	JSONR_STR,	/* a string */
	JSONR_INT,	/* an integer */
	JSONR_RAW,	/* any value, kept as its JSON text */
	JSONR_STRARR,	/* an array of strings */
};

struct jsonr_field {
	const char	*key;
	enum jsonr_type	 type;
	size_t		 max;		/* STR: bytes; STRARR: elements */
	/* Out: */
	int		 present;
	char		*str;		/* STR, RAW: owned */
	int64_t		 num;		/* INT */
	char		**arr;		/* STRARR: owned, narr strings */
	size_t		 narr;
};

/* Parses text into fs[n] (their out parts zeroed first).  Returns 0 or
 * E_INVAL with a one-line reason in err; on error nothing stays
 * allocated.  Release with jsonr_release. */
int	jsonr_parse(const char *text, size_t len, struct jsonr_field *fs,
	    size_t n, char *err, size_t errsz);
void	jsonr_release(struct jsonr_field *fs, size_t n);

#ifdef SELFTEST
int	jsonr_selftest(void);
#endif

#endif

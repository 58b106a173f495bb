/*
 * webreq.h - the console's request parsing, apart from libmicrohttpd and
 * the store so that it can be fuzzed alone (tests/fuzz/fuzz_webreq.c):
 * route patterns, form bodies (application/x-www-form-urlencoded), the
 * session cookie, a language choice.  Every parser is strict and bounded:
 * malformed input is refused, never repaired.
 */
#ifndef CASESYNC_WEBREQ_H
#define CASESYNC_WEBREQ_H

#include <stddef.h>

#define WEBREQ_FORM_MAX		256	/* fields in one form */
#define WEBREQ_VALUE_MAX	4096	/* bytes of one decoded value */
#define WEBREQ_KEY_MAX		64
#define WEBREQ_CAPS		2	/* '*' segments in a pattern */
#define WEBREQ_SEG_MAX		128	/* bytes of a captured segment */
#define WEBREQ_TOKEN_HEX	64	/* session and CSRF tokens */

struct webreq_field {
	char	 key[WEBREQ_KEY_MAX + 1];
	char	*val;			/* owned, NUL-terminated */
};

struct webreq_form {
	struct webreq_field	*f;	/* owned */
	size_t			 n;
};

/*
 * Matches path against pattern: segments separated by '/', where a '*'
 * segment captures one non-empty segment of at most WEBREQ_SEG_MAX bytes
 * (no '/', no control characters) into caps[i].  Returns 1 on a match.
 */
int	webreq_route_match(const char *pattern, const char *path,
	    char caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1]);

/* Parses an urlencoded body.  Returns 0 or E_INVAL / E_TOOBIG; on error
 * the form is empty.  Release with webreq_form_release. */
int	webreq_form_parse(const char *body, size_t len, struct webreq_form *fm);
void	webreq_form_release(struct webreq_form *fm);
/* The first value of key, or NULL.  Borrowed from fm. */
const char *webreq_form_get(const struct webreq_form *fm, const char *key);

/* Finds cookie name in a Cookie header and copies its value when it is
 * exactly WEBREQ_TOKEN_HEX lowercase hex digits.  Returns 1 when found. */
int	webreq_cookie_token(const char *header, const char *name,
	    char out[WEBREQ_TOKEN_HEX + 1]);

/* Is s exactly WEBREQ_TOKEN_HEX lowercase hex digits? */
int	webreq_token_valid(const char *s);

#ifdef SELFTEST
int	webreq_selftest(void);
#endif

#endif

/*
 * util.h - allocation that aborts on OOM (our explicit policy), bounded string
 * helpers and strict number parsing.
 */
#ifndef CASESYNC_UTIL_H
#define CASESYNC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Abort the process on allocation failure.  Caller owns the result. */
void	*xmalloc(size_t n);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *p, size_t n);
void	*xreallocarray(void *p, size_t nmemb, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);

/* Copies src into dst of size dstsz, always NUL-terminating.
 * Returns strlen(src); truncation happened when that is >= dstsz. */
size_t	 strlcpy_(char *dst, const char *src, size_t dstsz);

/* Parses a whole decimal unsigned number in [min, max].
 * Returns 0, or E_INVAL. */
int	 parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a duration such as "30", "30s", "15m", "2h", "1d" into seconds.
 * Returns 0, or E_INVAL. */
int	 parse_duration(const char *s, uint64_t *secs);

/* Wall clock in milliseconds since the epoch, and a monotonic clock. */
uint64_t now_ms(void);
uint64_t mono_ms(void);

/* Fills buf with n cryptographically random bytes (getrandom). */
void	 random_bytes(void *buf, size_t n);

/* Writes a new UUIDv7 (48-bit ms time, random rest) as 36 chars + NUL.
 * Time-ordered ids keep LMDB inserts near the end of the tree. */
void	 uuid7(char out[37], uint64_t ms);
/* Is s a UUID in lowercase 8-4-4-4-12 hex form? */
int	 uuid_valid(const char *s);

/* Is s a valid node id: [a-z0-9-]{1,32}? */
int	 node_id_valid(const char *s);

#endif

/*
 * mp.h - helpers shared by the proto/ codecs (internal to proto/).
 *
 * - A strict msgpack reader over (ptr, len).  It reads only the types the
 *   schemas use (array, positive integer, str, bin), demands the exact type
 *   and the shortest encoding of every length and integer, and never reads
 *   past len.  Every reader returns 0 or E_PROTO; after an error the reader
 *   position is meaningless and the caller gives up.
 * - A bounded writer that drives msgpack-c's packer into a struct buf.  The
 *   writer records the first error; mp_wr_finish() reports it and restores
 *   the buffer to its length before the writer started.
 * - The identifier rules common to entries and case states.
 *
 * msgpack.h is included by mp.c only; node/ uses entry.h and state.h.
 */
#ifndef CASESYNC_MP_H
#define CASESYNC_MP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/hlc.h"

struct mp_rd {
	const uint8_t	*p;		/* borrowed from the caller */
	size_t		 len;
	size_t		 off;
};

/* Starts reading len bytes at p (borrowed; p may be NULL when len is 0). */
void	mp_rd_init(struct mp_rd *r, const uint8_t *p, size_t len);
/* Returns 0 when every byte was consumed, else E_PROTO (trailing bytes). */
int	mp_rd_end(const struct mp_rd *r);
/*
 * mp_read_array, mp_read_uint and mp_read_cstr below take the one-byte
 * forms (fixarray, positive fixint, fixstr) inline: a case row or an
 * entry is mostly those, read on every apply.  The *_any functions read
 * every form (they are what the inline ones fall back to, and give the
 * same answer for the one-byte forms).
 */
int	mp_read_array_any(struct mp_rd *r, size_t *n);
int	mp_read_uint_any(struct mp_rd *r, uint64_t *v);
int	mp_read_cstr_any(struct mp_rd *r, char *dst, size_t maxlen);

/* Reads an array header into *n.  A count larger than the bytes left is
 * E_PROTO (every element takes at least one byte), so callers may allocate
 * *n elements once they have checked it against their own limit. */
static inline int
mp_read_array(struct mp_rd *r, size_t *n)
{
	size_t c;

	if (r->off < r->len && ((c = r->p[r->off]) & 0xf0) == 0x90 &&
	    (c & 0x0f) < r->len - r->off) {
		r->off++;
		*n = c & 0x0f;
		return 0;
	}
	return mp_read_array_any(r, n);
}
/* Reads an array header that must announce exactly n elements. */
int	mp_read_array_n(struct mp_rd *r, size_t n);
/* Reads a positive integer (fixint or uint 8/16/32/64). */
static inline int
mp_read_uint(struct mp_rd *r, uint64_t *v)
{
	if (r->off < r->len && r->p[r->off] <= 0x7f) {
		*v = r->p[r->off++];
		return 0;
	}
	return mp_read_uint_any(r, v);
}
/* Reads a str; *s borrows from the input and is not NUL-terminated. */
int	mp_read_str(struct mp_rd *r, const char **s, size_t *n);
/* Reads a bin; *b borrows from the input. */
int	mp_read_bin(struct mp_rd *r, const uint8_t **b, size_t *n);
/* Reads a str of at most maxlen bytes without NUL bytes into dst (size at
 * least maxlen + 1), NUL-terminated.  The caller validates the content.
 * dst is written only on success. */
static inline int
mp_read_cstr(struct mp_rd *r, char *dst, size_t maxlen)
{
	const uint8_t	*s;
	size_t		 c, n;

	if (r->off < r->len && ((c = r->p[r->off]) & 0xe0) == 0xa0 &&
	    (n = c & 0x1f) <= maxlen && n < r->len - r->off &&
	    memchr((s = r->p + r->off + 1), '\0', n) == NULL) {
		memcpy(dst, s, n);
		dst[n] = '\0';
		r->off += 1 + n;
		return 0;
	}
	return mp_read_cstr_any(r, dst, maxlen);
}
/* Reads a stamp written as two consecutive items, hlc:uint then node:str.
 * With optional set, hlc 0 with node "" is accepted; otherwise hlc must be
 * positive and node a valid node id. */
int	mp_read_stamp(struct mp_rd *r, struct stamp *st, int optional);

struct mp_wr {
	struct buf	*b;		/* borrowed */
	size_t		 start;		/* b->len at mp_wr_init() */
	size_t		 max;		/* bytes it may add */
	int		 err;		/* first error, 0 if none */
};

/* Starts appending to b; at most max bytes may be added (E_TOOBIG). */
void	mp_wr_init(struct mp_wr *w, struct buf *b, size_t max);
void	mp_put_array(struct mp_wr *w, size_t n);
void	mp_put_uint(struct mp_wr *w, uint64_t v);
void	mp_put_nil(struct mp_wr *w);
void	mp_put_str(struct mp_wr *w, const char *s, size_t n);
void	mp_put_cstr(struct mp_wr *w, const char *s);
void	mp_put_bin(struct mp_wr *w, const void *p, size_t n);
/* Writes a stamp as hlc:uint then node:str (the inverse of mp_read_stamp). */
void	mp_put_stamp(struct mp_wr *w, const struct stamp *st);
/* Returns the first error (E_TOOBIG) and then truncates b back to where the
 * writer started, or 0 when everything was written. */
int	mp_wr_finish(struct mp_wr *w);

/* Is there a NUL within the first size bytes of s (a C string that fits)? */
int	mp_cstr_ok(const char *s, size_t size);
/* Is [p, p+n) well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF)? */
int	mp_utf8_valid(const uint8_t *p, size_t n);
/* Field path or collection name: [a-z0-9_.]{1,ENTRY_PATH_MAX}. */
int	mp_path_valid(const char *s);
/* Event id: [A-Za-z0-9_-]{1,ENTRY_EVID_MAX}. */
int	mp_evid_valid(const char *s);
/* Case id: lowercase UUID text, 8-4-4-4-12 hex digits. */
int	mp_case_id_valid(const char *s);
/* Author: 1..ENTRY_AUTHOR_MAX bytes of UTF-8 without control characters
 * (C0, DEL, C1). */
int	mp_author_valid(const char *s);
/* Stamp: terminated node; hlc > 0 with a valid node id, or (when optional
 * is set) hlc 0 with node "". */
int	mp_stamp_valid(const struct stamp *st, int optional);

#endif

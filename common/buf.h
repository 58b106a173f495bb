/*
 * buf.h - a growable byte buffer with a hard cap set at init.
 * Growing past the cap returns E_TOOBIG and leaves the buffer unchanged.
 */
#ifndef CASESYNC_BUF_H
#define CASESYNC_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*data;		/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;		/* allocated */
	size_t	 max;		/* hard cap */
};

/* Initialises an empty buffer that may grow to max bytes. */
void	buf_init(struct buf *b, size_t max);
/* Frees the storage; the buffer may be reused after buf_init. */
void	buf_release(struct buf *b);
void	buf_reset(struct buf *b);
/* Appends n bytes.  Returns 0, or E_TOOBIG past the cap. */
int	buf_append(struct buf *b, const void *p, size_t n);
int	buf_append_str(struct buf *b, const char *s);
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Ensures room for n more bytes.  Returns 0, or E_TOOBIG. */
int	buf_reserve(struct buf *b, size_t n);

#ifdef SELFTEST
int	buf_selftest(void);
#endif

#endif

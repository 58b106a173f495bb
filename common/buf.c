#include "buf.h"
#include "err.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t	need, ncap;

	if (n > b->max || b->len > b->max - n)
		return E_TOOBIG;
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	b->data = xrealloc(b->data, ncap);
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = buf_reserve(b, n)) != 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return E_INVAL;
	if ((rc = buf_reserve(b, (size_t)n + 1)) != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

#ifdef SELFTEST
#include "selftest.h"

int
buf_selftest(void)
{
	struct buf b;

	buf_init(&b, 8);
	ST_OK(buf_append(&b, "abcd", 4));
	ST_OK(buf_printf(&b, "%d", 12));
	ST_CHECK(b.len == 6 && memcmp(b.data, "abcd12", 6) == 0);
	ST_CHECK(buf_append(&b, "xyz", 3) == E_TOOBIG);
	ST_CHECK(b.len == 6);
	ST_CHECK(buf_printf(&b, "%s", "toolong") == E_TOOBIG);
	ST_CHECK(buf_reserve(&b, SIZE_MAX) == E_TOOBIG);
	buf_release(&b);
	return 0;
}
#endif

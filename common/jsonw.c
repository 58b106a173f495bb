#include "jsonw.h"

#include <string.h>

#include "err.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		len;
	uint32_t	cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
jsonw_strn(struct buf *b, const char *str, size_t n)
{
	const unsigned char	*s = (const unsigned char *)str;
	int			 rc = buf_append(b, "\"", 1);

	for (size_t i = 0; i < n && rc == 0;) {
		unsigned char	c = s[i];
		size_t		l;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			rc = buf_append(b, e, 2);
			i++;
		} else if (c < 0x20) {
			rc = buf_printf(b, "\\u%04x", c);
			i++;
		} else if ((l = utf8_len(s + i, n - i)) == 0) {
			rc = buf_append(b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			rc = buf_append(b, s + i, l);
			i += l;
		}
	}
	if (rc == 0)
		rc = buf_append(b, "\"", 1);
	return rc;
}

int
jsonw_str(struct buf *b, const char *s)
{
	return jsonw_strn(b, s, strlen(s));
}

int
jsonw_key(struct buf *b, const char *key, int first)
{
	int rc = first ? 0 : buf_append(b, ",", 1);

	if (rc == 0)
		rc = jsonw_str(b, key);
	if (rc == 0)
		rc = buf_append(b, ":", 1);
	return rc;
}

#ifdef SELFTEST
#include "selftest.h"

int
jsonw_selftest(void)
{
	struct buf b;

	buf_init(&b, 1024);
	ST_OK(jsonw_str(&b, "a\"b\\c\n\x01 Lê"));
	ST_CHECK(b.len == strlen("\"a\\\"b\\\\c\\u000a\\u0001 Lê\""));
	ST_CHECK(memcmp(b.data, "\"a\\\"b\\\\c\\u000a\\u0001 Lê\"", b.len)
	    == 0);
	buf_reset(&b);
	ST_OK(jsonw_strn(&b, "\xff", 1));
	ST_CHECK(b.len == 5 && memcmp(b.data, "\"\xef\xbf\xbd\"", 5) == 0);
	buf_release(&b);
	return 0;
}
#endif

/*
 * html.c - the escaping HTML writer.  See html.h.
 */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"

void
html_init(struct html *h, struct buf *b)
{
	h->b = b;
}

void
html_lit_(struct html *h, const char *lit)
{
	buf_append_str(h->b, lit);
}

/* Length of a valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t		k;
	uint32_t	cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		k = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		k = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		k = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

void
html_textn(struct html *h, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n && p[i] != '\0') {
		size_t k;

		switch (p[i]) {
		case '&': buf_append_str(h->b, "&amp;"); i++; continue;
		case '<': buf_append_str(h->b, "&lt;"); i++; continue;
		case '>': buf_append_str(h->b, "&gt;"); i++; continue;
		case '"': buf_append_str(h->b, "&quot;"); i++; continue;
		case '\'': buf_append_str(h->b, "&#39;"); i++; continue;
		case '\n': case '\t': buf_append(h->b, p + i, 1); i++;
			continue;
		default:
			break;
		}
		if (p[i] < 0x20 || p[i] == 0x7f) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			buf_append_str(h->b, "\xef\xbf\xbd");	/* U+FFFD */
			i++;
			continue;
		}
		buf_append(h->b, p + i, k);
		i += k;
	}
}

void
html_text(struct html *h, const char *s)
{
	if (s != NULL)
		html_textn(h, s, strlen(s));
}

void
html_u64(struct html *h, uint64_t v)
{
	buf_printf(h->b, "%llu", (unsigned long long)v);
}

void
html_textf(struct html *h, const char *fmt, ...)
{
	char	tmp[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	html_text(h, tmp);
}

void
html_attr_(struct html *h, const char *name, const char *v)
{
	buf_append_str(h->b, " ");
	buf_append_str(h->b, name);
	buf_append_str(h->b, "=\"");
	html_text(h, v != NULL ? v : "");
	buf_append_str(h->b, "\"");
}

void
html_attr_u64_(struct html *h, const char *name, uint64_t v)
{
	buf_printf(h->b, " %s=\"%llu\"", name, (unsigned long long)v);
}

static void
url_put(struct url *u, const char *s, size_t n)
{
	if (u->overflow || u->len + n >= sizeof(u->s)) {
		u->overflow = 1;
		return;
	}
	memcpy(u->s + u->len, s, n);
	u->len += n;
	u->s[u->len] = '\0';
}

static void
url_enc(struct url *u, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			url_put(u, (const char *)&c, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hx[c >> 4];
		e[2] = hx[c & 15];
		url_put(u, e, 3);
	}
}

void
url_init_(struct url *u, const char *lit)
{
	memset(u, 0, sizeof(*u));
	url_put(u, lit, strlen(lit));
}

void
url_lit_(struct url *u, const char *lit)
{
	url_put(u, lit, strlen(lit));
}

void
url_seg(struct url *u, const char *seg)
{
	url_enc(u, seg);
}

void
url_arg_(struct url *u, const char *key, const char *val)
{
	url_put(u, u->nargs++ == 0 ? "?" : "&", 1);
	url_enc(u, key);
	url_put(u, "=", 1);
	url_enc(u, val != NULL ? val : "");
}

void
html_url_attr_(struct html *h, const char *name, const struct url *u)
{
	/* An overflowing URL must not point somewhere half-built. */
	html_attr_(h, name, u->overflow ? "/" : u->s);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
url_decode(const char *s, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	if (outsz == 0)
		return E_INVAL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return E_INVAL;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return E_INVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outsz)
			return E_INVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
html_selftest(void)
{
	struct buf	b;
	struct html	h;
	struct url	u;
	char		out[64];

	buf_init(&b, 4096);
	html_init(&h, &b);
	html_lit(&h, "<p>");
	html_text(&h, "<img src=x onerror=alert(1)>&\"'");
	html_lit(&h, "</p>");
	buf_append(&b, "", 1);
	ST_CHECK(strcmp((char *)b.data, "<p>&lt;img src=x onerror=alert(1)"
	    "&gt;&amp;&quot;&#39;</p>") == 0);
	buf_reset(&b);
	html_text(&h, "a\x01" "b\xff" "c Nguy\xe1\xbb\x85n");
	buf_append(&b, "", 1);
	ST_CHECK(strcmp((char *)b.data, "ab\xef\xbf\xbd" "c Nguy\xe1\xbb\x85n")
	    == 0);
	buf_reset(&b);
	url_init(&u, "/cases/");
	url_seg(&u, "a/b\"<");
	url_arg(&u, "q", "Nguyễn Thị & co");
	html_href(&h, &u);
	buf_append(&b, "", 1);
	ST_CHECK(strcmp((char *)b.data, " href=\"/cases/a%2Fb%22%3C?q=Nguy%E1"
	    "%BB%85n%20Th%E1%BB%8B%20%26%20co\"") == 0);
	ST_CHECK(url_decode("a+b%20c%C3%A9", 13, out, sizeof(out)) == 0 &&
	    strcmp(out, "a b c\xc3\xa9") == 0);
	ST_CHECK(url_decode("%2", 2, out, sizeof(out)) == E_INVAL);
	ST_CHECK(url_decode("%", 1, out, sizeof(out)) == E_INVAL);
	ST_CHECK(url_decode("%00", 3, out, sizeof(out)) == E_INVAL);
	ST_CHECK(url_decode("%zz", 3, out, sizeof(out)) == E_INVAL);
	ST_CHECK(url_decode("abcdef", 6, out, 4) == E_INVAL);
	buf_release(&b);
	return 0;
}
#endif

/*
 * html.h - the console's HTML writer.  Its only way to emit text is to
 * escape it: html_text() and html_attr() escape & < > " ' and drop control
 * characters and invalid UTF-8.  Markup goes through html_lit(), a macro
 * that accepts only a string literal (the "" s "" concatenation does not
 * compile with a variable), so a page cannot pass user data unescaped.
 * URLs are built in a struct url whose dynamic parts are percent-encoded,
 * then written with html_href() (escaped again as an attribute).
 */
#ifndef CASESYNC_HTML_H
#define CASESYNC_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define URL_MAX		1024

struct html {
	struct buf	*b;		/* borrowed */
};

struct url {
	char	s[URL_MAX];
	size_t	len;
	int	nargs;
	int	overflow;
};

void	html_init(struct html *h, struct buf *b);

/* Markup: a compile-time literal only. */
#define html_lit(h, s)	html_lit_((h), "" s "")
void	html_lit_(struct html *h, const char *lit);

/* Text, escaped. */
void	html_text(struct html *h, const char *s);
void	html_textn(struct html *h, const char *s, size_t n);
void	html_u64(struct html *h, uint64_t v);
void	html_textf(struct html *h, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* ` name="value"`, the value escaped; name a literal. */
#define html_attr(h, name, v)	html_attr_((h), "" name "", (v))
void	html_attr_(struct html *h, const char *name, const char *v);
#define html_attr_u64(h, name, v)	html_attr_u64_((h), "" name "", (v))
void	html_attr_u64_(struct html *h, const char *name, uint64_t v);

/* URLs: a literal path start, then encoded segments and query args. */
#define url_init(u, lit)	url_init_((u), "" lit "")
void	url_init_(struct url *u, const char *lit);
#define url_lit(u, lit)		url_lit_((u), "" lit "")
void	url_lit_(struct url *u, const char *lit);
void	url_seg(struct url *u, const char *seg);	/* encoded */
#define url_arg(u, k, v)	url_arg_((u), "" k "", (v))
void	url_arg_(struct url *u, const char *key, const char *val);
/* ` href="…"` (or another attribute name, literal). */
#define html_href(h, u)		html_url_attr_((h), "href", (u))
#define html_url_attr(h, n, u)	html_url_attr_((h), "" n "", (u))
void	html_url_attr_(struct html *h, const char *name, const struct url *u);

/* Percent-decoding of application/x-www-form-urlencoded text ('+' is a
 * space).  Writes at most outsz-1 bytes and a NUL.  Returns 0, or E_INVAL
 * on a bad escape, an encoded NUL or an overflow. */
int	url_decode(const char *s, size_t n, char *out, size_t outsz);

#ifdef SELFTEST
int	html_selftest(void);
#endif

#endif

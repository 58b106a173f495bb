/*
 * webreq.c - the console's request parsing.  See webreq.h.
 */
#include "webreq.h"

#include <stdlib.h>
#include <string.h>

#include "html.h"

#include "../common/err.h"
#include "../common/util.h"

int
webreq_route_match(const char *pattern, const char *path,
    char caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1])
{
	const char	*p = pattern, *q = path;
	int		 ncap = 0;

	if (*q != '/')
		return 0;
	for (;;) {
		const char	*pe, *qe;
		size_t		 pn, qn;

		if (*p == '\0' || *q == '\0')
			return *p == '\0' && *q == '\0';
		if (*p != '/' || *q != '/')
			return 0;
		p++;
		q++;
		pe = strchr(p, '/');
		qe = strchr(q, '/');
		pn = pe ? (size_t)(pe - p) : strlen(p);
		qn = qe ? (size_t)(qe - q) : strlen(q);
		if (pn == 1 && *p == '*') {
			if (qn == 0 || qn > WEBREQ_SEG_MAX || ncap >= WEBREQ_CAPS)
				return 0;
			for (size_t i = 0; i < qn; i++)
				if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f)
					return 0;
			memcpy(caps[ncap], q, qn);
			caps[ncap][qn] = '\0';
			ncap++;
		} else if (pn != qn || memcmp(p, q, pn) != 0)
			return 0;
		p += pn;
		q += qn;
	}
}

void
webreq_form_release(struct webreq_form *fm)
{
	for (size_t i = 0; i < fm->n; i++)
		free(fm->f[i].val);
	free(fm->f);
	fm->f = NULL;
	fm->n = 0;
}

int
webreq_form_parse(const char *body, size_t len, struct webreq_form *fm)
{
	size_t	i = 0;
	char	*val;

	fm->f = NULL;
	fm->n = 0;
	val = xmalloc(WEBREQ_VALUE_MAX + 1);
	while (i < len) {
		const char	*kv = body + i, *amp, *eq;
		size_t		 n;
		struct webreq_field *f;

		amp = memchr(kv, '&', len - i);
		n = amp ? (size_t)(amp - kv) : len - i;
		i += n + (amp != NULL);
		if (n == 0)
			continue;
		if (fm->n >= WEBREQ_FORM_MAX)
			goto toobig;
		eq = memchr(kv, '=', n);
		fm->f = xreallocarray(fm->f, fm->n + 1, sizeof(*fm->f));
		f = &fm->f[fm->n];
		f->val = NULL;
		if (url_decode(kv, eq ? (size_t)(eq - kv) : n, f->key,
		    sizeof(f->key)) != 0 || f->key[0] == '\0')
			goto bad;
		if (url_decode(eq ? eq + 1 : kv + n, eq ? n - (size_t)(eq -
		    kv) - 1 : 0, val, WEBREQ_VALUE_MAX + 1) != 0)
			goto bad;
		f->val = xstrdup(val);
		fm->n++;
	}
	free(val);
	return 0;
toobig:
	free(val);
	webreq_form_release(fm);
	return E_TOOBIG;
bad:
	free(val);
	webreq_form_release(fm);
	return E_INVAL;
}

const char *
webreq_form_get(const struct webreq_form *fm, const char *key)
{
	for (size_t i = 0; i < fm->n; i++)
		if (strcmp(fm->f[i].key, key) == 0)
			return fm->f[i].val;
	return NULL;
}

int
webreq_token_valid(const char *s)
{
	size_t i;

	for (i = 0; i < WEBREQ_TOKEN_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

int
webreq_cookie_token(const char *header, const char *name,
    char out[WEBREQ_TOKEN_HEX + 1])
{
	size_t		 nl = strlen(name);
	const char	*p = header;

	if (header == NULL)
		return 0;
	while (*p != '\0') {
		const char	*end;
		size_t		 n;

		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == nl + 1 + WEBREQ_TOKEN_HEX &&
		    strncmp(p, name, nl) == 0 && p[nl] == '=') {
			memcpy(out, p + nl + 1, WEBREQ_TOKEN_HEX);
			out[WEBREQ_TOKEN_HEX] = '\0';
			if (webreq_token_valid(out))
				return 1;
		}
		p += n;
	}
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
webreq_selftest(void)
{
	char			caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1];
	char			tok[WEBREQ_TOKEN_HEX + 1];
	struct webreq_form	fm;
	const char		*t;

	ST_CHECK(webreq_route_match("/", "/", caps));
	ST_CHECK(!webreq_route_match("/", "/x", caps));
	ST_CHECK(webreq_route_match("/api/conflicts/*/resolve",
	    "/api/conflicts/abc/resolve", caps) && strcmp(caps[0], "abc") == 0);
	ST_CHECK(!webreq_route_match("/api/conflicts/*/resolve",
	    "/api/conflicts//resolve", caps));
	ST_CHECK(!webreq_route_match("/api/conflicts/*",
	    "/api/conflicts/a/b", caps));
	ST_CHECK(!webreq_route_match("/cases", "/cases/", caps));
	ST_CHECK(!webreq_route_match("/cases", "cases", caps));
	t = "a=1&b=x+y%21&&c=&d";
	ST_OK(webreq_form_parse(t, strlen(t), &fm));
	ST_CHECK(fm.n == 4 && strcmp(webreq_form_get(&fm, "b"), "x y!") == 0);
	ST_CHECK(strcmp(webreq_form_get(&fm, "c"), "") == 0);
	ST_CHECK(strcmp(webreq_form_get(&fm, "d"), "") == 0);
	ST_CHECK(webreq_form_get(&fm, "e") == NULL);
	webreq_form_release(&fm);
	t = "a=%zz";
	ST_CHECK(webreq_form_parse(t, strlen(t), &fm) == E_INVAL && fm.n == 0);
	t = "=1";
	ST_CHECK(webreq_form_parse(t, strlen(t), &fm) == E_INVAL);
	t = "a=%00";
	ST_CHECK(webreq_form_parse(t, strlen(t), &fm) == E_INVAL);
	ST_CHECK(webreq_cookie_token("x=1; cs_session=0123456789abcdef0123456"
	    "789abcdef0123456789abcdef0123456789abcdef; y=2", "cs_session",
	    tok));
	ST_CHECK(!webreq_cookie_token("cs_session=0123", "cs_session", tok));
	ST_CHECK(!webreq_cookie_token("xcs_session=0123456789abcdef0123456789"
	    "abcdef0123456789abcdef0123456789abcdef", "cs_session", tok));
	return 0;
}
#endif

/*
 * fuzz_webreq.c - libFuzzer target for the console's request handling
 * that runs before any handler: routing (webreq_route_match over the
 * console's own patterns), form bodies (webreq_form_parse), the session
 * cookie (webreq_cookie_token), query-style decoding (url_decode) and
 * JSON bodies (jsonr_parse with the fields of /api/login and of
 * /api/conflicts/CID/resolve); and the HTML writer's escaping of whatever
 * they produce.
 *
 * Whatever parses must hold what the parsers promise: captured segments
 * without '/' or control characters and within bounds, form values
 * without NUL, tokens of exactly 64 lowercase hex digits, JSON fields of
 * the declared types; escaped text never holds a raw '<', '>', '"' or
 * '\''.  Anything else is a bug: abort() so that libFuzzer keeps the input.
 *
 * Input layout: the first byte selects the parser, the rest is its input.
 * Built by tests/fuzz/run.sh with node/webreq.c, node/html.c,
 * node/jsonr.c, common/ and proto/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/html.h"
#include "node/jsonr.h"
#include "node/webreq.h"
#include "common/buf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const patterns[] = {
	"/", "/login", "/logout", "/sync", "/conflicts", "/conflicts/resolve",
	"/conflicts/*", "/cases", "/cases/*", "/users", "/audit",
	"/assets/console.css", "/api/login", "/api/conflicts/*",
	"/api/conflicts/*/resolve", "/api/cases/*", "/api/cases/*/history",
};

static void
escaped_ok(const char *s, size_t n)
{
	struct buf	b;
	struct html	h;

	buf_init(&b, 16 * n + 64);
	html_init(&h, &b);
	html_textn(&h, s, n);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '<' || b.data[i] == '>' || b.data[i] == '"' ||
		    b.data[i] == '\'' || b.data[i] == 0)
			abort();
	buf_release(&b);
}

static void
route(const char *path)
{
	char caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1];

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		memset(caps, 0, sizeof(caps));
		if (!webreq_route_match(patterns[i], path, caps))
			continue;
		for (int c = 0; c < WEBREQ_CAPS; c++) {
			size_t n = strnlen(caps[c], WEBREQ_SEG_MAX + 1);

			if (n > WEBREQ_SEG_MAX || memchr(caps[c], '/', n))
				abort();
			for (size_t k = 0; k < n; k++)
				if ((unsigned char)caps[c][k] < 0x20)
					abort();
			escaped_ok(caps[c], n);
		}
	}
}

static void
form(const char *body, size_t len)
{
	struct webreq_form fm;

	if (webreq_form_parse(body, len, &fm) != 0) {
		if (fm.n != 0 || fm.f != NULL)
			abort();
		return;
	}
	if (fm.n > WEBREQ_FORM_MAX)
		abort();
	for (size_t i = 0; i < fm.n; i++) {
		if (fm.f[i].key[0] == '\0' ||
		    strlen(fm.f[i].val) > WEBREQ_VALUE_MAX)
			abort();
		escaped_ok(fm.f[i].val, strlen(fm.f[i].val));
	}
	(void)webreq_form_get(&fm, "csrf");
	webreq_form_release(&fm);
}

static void
json(const char *body, size_t len)
{
	struct jsonr_field f[] = {
		{ "user", JSONR_STR, 256, 0, NULL, 0, NULL, 0 },
		{ "password", JSONR_STR, 256, 0, NULL, 0, NULL, 0 },
		{ "keep", JSONR_STR, 16, 0, NULL, 0, NULL, 0 },
		{ "value", JSONR_RAW, 4096, 0, NULL, 0, NULL, 0 },
		{ "reason", JSONR_STR, 4096, 0, NULL, 0, NULL, 0 },
		{ "ids", JSONR_STRARR, 8, 0, NULL, 0, NULL, 0 },
		{ "n", JSONR_INT, 0, 0, NULL, 0, NULL, 0 },
	};
	const size_t	nf = sizeof(f) / sizeof(f[0]);
	char		err[160];

	if (jsonr_parse(body, len, f, nf, err, sizeof(err)) != 0) {
		for (size_t i = 0; i < nf; i++)
			if (f[i].str != NULL || f[i].arr != NULL)
				abort();
		return;
	}
	for (size_t i = 0; i < nf; i++) {
		if (f[i].str != NULL && strlen(f[i].str) > f[i].max)
			abort();
		if (f[i].narr > f[i].max)
			abort();
	}
	jsonr_release(f, nf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, out[512], tok[WEBREQ_TOKEN_HEX + 1];

	if (size < 1 || size > 65536)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		route(s);
		break;
	case 1:
		form(s, size - 1);
		break;
	case 2:
		if (webreq_cookie_token(s, "cs_session", tok) &&
		    !webreq_token_valid(tok))
			abort();
		break;
	case 3:
		if (url_decode(s, size - 1, out, sizeof(out)) == 0 &&
		    strlen(out) >= sizeof(out))
			abort();
		break;
	default:
		json(s, size - 1);
		break;
	}
	free(s);
	return 0;
}

/*
 * jsonr.c - small flat JSON objects from untrusted input.  See jsonr.h.
 */
#include "jsonr.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"

static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char	c = s[i];
		size_t		k;
		uint32_t	cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
		} else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
bad(char *err, size_t errsz, const char *msg, const char *key)
{
	if (key != NULL)
		snprintf(err, errsz, "\"%s\": %s", key, msg);
	else
		snprintf(err, errsz, "%s", msg);
	return E_INVAL;
}

void
jsonr_release(struct jsonr_field *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(fs[i].str);
		for (size_t j = 0; j < fs[i].narr; j++)
			free(fs[i].arr[j]);
		free(fs[i].arr);
		fs[i].str = NULL;
		fs[i].arr = NULL;
		fs[i].narr = 0;
		fs[i].present = 0;
	}
}

static int
take(const cJSON *v, struct jsonr_field *f, char *err, size_t errsz)
{
	switch (f->type) {
	case JSONR_STR:
		if (!cJSON_IsString(v))
			return bad(err, errsz, "must be a string", f->key);
		if (strlen(v->valuestring) > f->max)
			return bad(err, errsz, "too long", f->key);
		f->str = xstrdup(v->valuestring);
		return 0;
	case JSONR_INT:
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)
		    || fabs(v->valuedouble) > 9007199254740992.0)
			return bad(err, errsz, "must be an integer", f->key);
		f->num = (int64_t)v->valuedouble;
		return 0;
	case JSONR_RAW: {
		char *t = cJSON_PrintUnformatted(v);

		if (t == NULL)
			return bad(err, errsz, "unreadable value", f->key);
		if (strlen(t) > f->max) {
			cJSON_free(t);
			return bad(err, errsz, "too long", f->key);
		}
		f->str = xstrdup(t);
		cJSON_free(t);
		return 0;
	}
	case JSONR_STRARR: {
		const cJSON	*e;
		int		 cnt;

		if (!cJSON_IsArray(v))
			return bad(err, errsz, "must be an array of strings",
			    f->key);
		cnt = cJSON_GetArraySize(v);
		if (cnt < 0 || (size_t)cnt > f->max)
			return bad(err, errsz, "too many elements", f->key);
		f->arr = xcalloc((size_t)cnt + 1, sizeof(char *));
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e) || strlen(e->valuestring) > 256)
				return bad(err, errsz, "must be an array of "
				    "strings", f->key);
			f->arr[f->narr++] = xstrdup(e->valuestring);
		}
		return 0;
	}
	}
	return E_INVAL;
}

int
jsonr_parse(const char *text, size_t len, struct jsonr_field *fs, size_t n,
    char *err, size_t errsz)
{
	cJSON		*root;
	const cJSON	*it;
	const char	*end = NULL;
	char		*copy;
	int		 rc = 0;

	for (size_t i = 0; i < n; i++) {
		fs[i].present = 0;
		fs[i].str = NULL;
		fs[i].arr = NULL;
		fs[i].narr = 0;
		fs[i].num = 0;
	}
	if (len > JSONR_INPUT_MAX)
		return bad(err, errsz, "request body too large", NULL);
	if (!utf8_ok((const unsigned char *)text, len))
		return bad(err, errsz, "the body is not UTF-8 text", NULL);
	copy = xstrndup(text, len);
	root = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		free(copy);
		return bad(err, errsz, "the body is not a JSON object", NULL);
	}
	for (const char *p = end; p != NULL && *p != '\0'; p++)
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
			rc = bad(err, errsz, "text after the JSON object",
			    NULL);
			break;
		}
	cJSON_ArrayForEach(it, root) {
		size_t i;

		if (rc != 0)
			break;
		for (i = 0; i < n; i++)
			if (it->string != NULL && strcmp(it->string,
			    fs[i].key) == 0)
				break;
		if (i == n) {
			char k[48];

			snprintf(k, sizeof(k), "%.40s", it->string ?
			    it->string : "");
			rc = bad(err, errsz, "unknown key", k);
			break;
		}
		if (fs[i].present) {
			rc = bad(err, errsz, "given twice", fs[i].key);
			break;
		}
		fs[i].present = 1;
		if (cJSON_IsNull(it) && fs[i].type != JSONR_RAW)
			continue;
		rc = take(it, &fs[i], err, errsz);
	}
	cJSON_Delete(root);
	free(copy);
	if (rc != 0)
		jsonr_release(fs, n);
	return rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
jsonr_selftest(void)
{
	struct jsonr_field f[] = {
		{ "user", JSONR_STR, 32, 0, NULL, 0, NULL, 0 },
		{ "n", JSONR_INT, 0, 0, NULL, 0, NULL, 0 },
		{ "value", JSONR_RAW, 100, 0, NULL, 0, NULL, 0 },
		{ "ids", JSONR_STRARR, 3, 0, NULL, 0, NULL, 0 },
	};
	const size_t	nf = sizeof(f) / sizeof(f[0]);
	char		err[128];
	const char	*t;

	t = "{\"user\":\"minh\",\"n\":5,\"value\":[\"a\", 1],\"ids\":[\"x\"]} ";
	ST_OK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)));
	ST_CHECK(strcmp(f[0].str, "minh") == 0 && f[1].num == 5);
	ST_CHECK(strcmp(f[2].str, "[\"a\",1]") == 0);
	ST_CHECK(f[3].narr == 1 && strcmp(f[3].arr[0], "x") == 0);
	jsonr_release(f, nf);
	t = "{\"user\":\"a\",\"user\":\"b\"}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL && strstr(err, "twice") != NULL);
	t = "{\"who\":1}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL && strstr(err, "unknown") != NULL);
	t = "{\"user\":1}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	t = "{} x";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	t = "[1]";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	t = "{\"user\":\"\xff\"}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	t = "{\"ids\":[\"a\",\"b\",\"c\",\"d\"]}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	t = "{\"ids\":[\"a\",2]}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL && f[3].arr == NULL);
	t = "{\"n\":1.5}";
	ST_CHECK(jsonr_parse(t, strlen(t), f, nf, err, sizeof(err)) ==
	    E_INVAL);
	return 0;
}
#endif

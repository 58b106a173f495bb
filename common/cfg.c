#include "cfg.h"
#include "err.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
set_value(const struct cfg_key *k, struct cfg_val *v, const char *s)
{
	size_t n = strlen(s);

	if (k->type == CFG_STR) {
		if (n < k->min || n > k->max || n >= sizeof(v->str))
			return E_INVAL;
		memcpy(v->str, s, n + 1);
		return 0;
	}
	if (parse_u64(s, k->min, k->max, &v->u64) != 0)
		return E_INVAL;
	strlcpy_(v->str, s, sizeof(v->str));
	return 0;
}

static char *
trim(char *s, char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

int
cfg_parse(const struct cfg_key *keys, size_t nkeys, const char *text,
    size_t len, const char *name, struct cfg_val *vals, char *err,
    size_t errsz)
{
	char	 line[CFG_VALUE_MAX + 128];
	size_t	 pos = 0, lineno = 0, i;

	memset(vals, 0, nkeys * sizeof(*vals));
	while (pos < len) {
		const char	*nl = memchr(text + pos, '\n', len - pos);
		size_t		 ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char		*eq, *key, *val;

		lineno++;
		if (ll >= sizeof(line)) {
			snprintf(err, errsz, "%s:%zu: line too long", name,
			    lineno);
			return E_INVAL;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);
		if (memchr(line, '\0', ll) != NULL) {
			snprintf(err, errsz, "%s:%zu: NUL byte", name, lineno);
			return E_INVAL;
		}
		key = trim(line, line + ll);
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errsz, "%s:%zu: expected key = value",
			    name, lineno);
			return E_INVAL;
		}
		val = trim(eq + 1, key + strlen(key));
		key = trim(key, eq);
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i].name, key) == 0)
				break;
		if (i == nkeys) {
			snprintf(err, errsz, "%s:%zu: unknown key '%.64s'",
			    name, lineno, key);
			return E_INVAL;
		}
		if (vals[i].set) {
			snprintf(err, errsz, "%s:%zu: duplicate key '%s'",
			    name, lineno, key);
			return E_INVAL;
		}
		if (set_value(&keys[i], &vals[i], val) != 0) {
			snprintf(err, errsz, "%s:%zu: bad value for '%s'",
			    name, lineno, key);
			return E_INVAL;
		}
		vals[i].set = 1;
	}
	for (i = 0; i < nkeys; i++) {
		if (vals[i].set)
			continue;
		if (keys[i].def == NULL) {
			snprintf(err, errsz, "%s: missing key '%s'", name,
			    keys[i].name);
			return E_INVAL;
		}
		if (set_value(&keys[i], &vals[i], keys[i].def) != 0) {
			snprintf(err, errsz, "%s: bad default for '%s'", name,
			    keys[i].name);
			return E_INVAL;
		}
	}
	return 0;
}

int
cfg_load(const struct cfg_key *keys, size_t nkeys, const char *path,
    struct cfg_val *vals, char *err, size_t errsz)
{
	FILE	*f;
	char	*text;
	size_t	 n;
	int	 rc;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	text = xmalloc(CFG_FILE_MAX + 1);
	n = fread(text, 1, CFG_FILE_MAX + 1, f);
	if (ferror(f) || n > CFG_FILE_MAX) {
		snprintf(err, errsz, "%s: %s", path,
		    ferror(f) ? "read error" : "file too large");
		fclose(f);
		free(text);
		return E_IO;
	}
	fclose(f);
	rc = cfg_parse(keys, nkeys, text, n, path, vals, err, errsz);
	free(text);
	return rc;
}

#ifdef SELFTEST
#include "selftest.h"

int
cfg_selftest(void)
{
	static const struct cfg_key keys[] = {
		{ "node", CFG_STR, 1, 32, NULL },
		{ "skew_ms", CFG_U64, 0, 86400000, "60000" },
	};
	struct cfg_val	v[2];
	char		err[256];
	const char	*good = "# c\n node = lao-cai \n\nskew_ms=5\n";

	ST_OK(cfg_parse(keys, 2, good, strlen(good), "t", v, err,
	    sizeof(err)));
	ST_CHECK(strcmp(v[0].str, "lao-cai") == 0 && v[1].u64 == 5);
	ST_OK(cfg_parse(keys, 2, "node=a", 6, "t", v, err, sizeof(err)));
	ST_CHECK(v[1].u64 == 60000);
	ST_CHECK(cfg_parse(keys, 2, "x=1\n", 4, "t", v, err,
	    sizeof(err)) == E_INVAL);
	ST_CHECK(strstr(err, "t:1: unknown key") != NULL);
	ST_CHECK(cfg_parse(keys, 2, "node=a\nskew_ms=-1", 17, "t", v, err,
	    sizeof(err)) == E_INVAL);
	ST_CHECK(strstr(err, "t:2:") != NULL);
	ST_CHECK(cfg_parse(keys, 2, "skew_ms=1", 9, "t", v, err,
	    sizeof(err)) == E_INVAL);
	ST_CHECK(cfg_parse(keys, 2, "node=a\nnode=b", 13, "t", v, err,
	    sizeof(err)) == E_INVAL);
	return 0;
}
#endif

#include "nodecfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/cfg.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

enum { K_NODE, K_ROLE, K_LISTEN, K_CENTRAL, K_SKEW, K_OFFSET, K_LOG,
	K_TIMEOUT, K_HEARTBEAT, K_KEEP, K_QENTRIES, K_QBYTES, K_QCASES,
	K_QREFERRALS, K_PRIMARY, K_STANDBY, K_SBSYNC, K_SBWAIT, K_SBFALLBACK,
	K_PIPELINE, K__N };

static const struct cfg_key keys[K__N] = {
	[K_NODE] = { "node", CFG_STR, 1, HLC_NODE_MAX, NULL },
	[K_ROLE] = { "role", CFG_STR, 1, 15, NULL },
	[K_LISTEN] = { "listen", CFG_STR, 0, NODECFG_ENDPOINT_MAX - 1, "" },
	[K_CENTRAL] = { "central", CFG_STR, 0, NODECFG_CENTRAL_MAX - 1, "" },
	[K_PRIMARY] = { "primary", CFG_STR, 0, NODECFG_ENDPOINT_MAX - 1, "" },
	[K_STANDBY] = { "standby", CFG_STR, 1, HLC_NODE_MAX, "standby" },
	/* Central: acknowledge only what the standby holds (docs/HA.md). */
	[K_SBSYNC] = { "standby_sync", CFG_STR, 2, 3, "off" },
	[K_SBWAIT] = { "standby_sync_timeout", CFG_U64, 1, 86400, "10" },
	[K_SBFALLBACK] = { "standby_sync_fallback", CFG_STR, 4, 5, "wait" },
	/* Central: decode and check received batches on a thread of their
	 * own (docs/PERFORMANCE.md, "The two-thread pipeline"). */
	[K_PIPELINE] = { "apply_pipeline", CFG_STR, 2, 3, "off" },
	[K_SKEW] = { "skew_ms", CFG_U64, 1000, 7ULL * 86400000, "300000" },
	[K_OFFSET] = { "test_clock_offset_ms", CFG_STR, 1, 20, "0" },
	[K_LOG] = { "log_level", CFG_STR, 1, 8, "info" },
	[K_TIMEOUT] = { "sync_timeout", CFG_U64, 1, 86400, "60" },
	[K_HEARTBEAT] = { "heartbeat_ms", CFG_U64, 100, 600000, "2000" },
	[K_KEEP] = { "keep_transferred", CFG_STR, 2, 3, "yes" },
	/* Central: what one province may add a day (0: no limit).  Real
	 * volumes are a few hundred cases a year nationally. */
	[K_QENTRIES] = { "quota_entries_per_day", CFG_U64, 0,
	    UINT64_C(1) << 40, "500000" },
	[K_QBYTES] = { "quota_bytes_per_day", CFG_U64, 0, UINT64_C(1) << 50,
	    "1073741824" },
	[K_QCASES] = { "quota_cases_per_day", CFG_U64, 0, UINT64_C(1) << 40,
	    "50000" },
	[K_QREFERRALS] = { "quota_referrals_per_day", CFG_U64, 0,
	    UINT64_C(1) << 40, "1000" },
};

int
nodecfg_endpoint_valid(const char *ep)
{
	const char	*colon;
	uint64_t	 port;

	if (strncmp(ep, "tcp://", 6) != 0 || strlen(ep) >=
	    NODECFG_ENDPOINT_MAX)
		return 0;
	if ((colon = strrchr(ep + 6, ':')) == NULL || colon == ep + 6)
		return 0;
	return parse_u64(colon + 1, 1, 65535, &port) == 0 ||
	    strcmp(colon + 1, "*") == 0;
}

int
nodecfg_centrals(const char *list,
    char eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX],
    char names[NODECFG_CENTRALS_MAX][HLC_NODE_MAX + 1])
{
	const char	*p = list;
	int		 n = 0, named = 0;

	for (;;) {
		const char	*at;
		size_t		 l, nl = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		l = strcspn(p, " \t");
		if (n == NODECFG_CENTRALS_MAX)
			return -1;
		/* NAME@tcp://HOST:PORT: the key pinned as NAME goes with
		 * this endpoint (docs/HA.md). */
		at = memchr(p, '@', l);
		if (at != NULL) {
			nl = (size_t)(at - p);
			if (nl == 0 || nl > HLC_NODE_MAX)
				return -1;
		}
		if (l - (at ? nl + 1 : 0) >= NODECFG_ENDPOINT_MAX)
			return -1;
		memcpy(eps[n], at ? at + 1 : p, l - (at ? nl + 1 : 0));
		eps[n][l - (at ? nl + 1 : 0)] = '\0';
		if (!nodecfg_endpoint_valid(eps[n]))
			return -1;
		if (at != NULL) {
			char nm[HLC_NODE_MAX + 1];

			memcpy(nm, p, nl);
			nm[nl] = '\0';
			if (!node_id_valid(nm))
				return -1;
			if (names != NULL)
				strlcpy_(names[n], nm, HLC_NODE_MAX + 1);
			named++;
		} else if (names != NULL)
			names[n][0] = '\0';
		n++;
		p += l;
	}
	/* All named, or none (pin order). */
	if (named != 0 && named != n)
		return -1;
	return n;
}

int
nodecfg_set(const char *dir, const char *key, const char *value, char *err,
    size_t errsz)
{
	char	 path[4096], tmp[4200], line[2048];
	FILE	*in, *out;
	size_t	 kl = strlen(key);
	int	 done = 0, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, NODECFG_FILE);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((in = fopen(path, "r")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	{
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
			snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			fclose(in);
			return E_IO;
		}
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, kl) == 0 && (p[kl] == ' ' ||
		    p[kl] == '\t' || p[kl] == '=')) {
			if (!done && value[0])
				fprintf(out, "%s = %s\n", key, value);
			done = 1;
			continue;
		}
		fputs(line, out);
	}
	if (!done && value[0])
		fprintf(out, "%s = %s\n", key, value);
	fclose(in);
	ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return E_IO;
	}
	return 0;
}

int
nodecfg_load(const char *dir, struct nodecfg *c, char *err, size_t errsz)
{
	struct cfg_val	v[K__N];
	char		path[4096];
	char		*end;
	char		eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX];
	long long	off;
	int		rc;

	memset(c, 0, sizeof(*c));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, NODECFG_FILE) >=
	    sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_INVAL;
	}
	if (access(path, F_OK) != 0) {
		snprintf(err, errsz, "%s: not a casesync node directory "
		    "(no %s; run `casesync init`)", dir, NODECFG_FILE);
		return E_IO;
	}
	if ((rc = cfg_load(keys, K__N, path, v, err, errsz)) != 0)
		return rc;
#define BAD(fmt, ...) do {						\
	snprintf(err, errsz, "%s: " fmt, path, __VA_ARGS__);		\
	return E_INVAL;							\
} while (0)
	if (!node_id_valid(v[K_NODE].str))
		BAD("node '%s' is not [a-z0-9-]{1,32}", v[K_NODE].str);
	if (strcmp(v[K_ROLE].str, "province") != 0 &&
	    strcmp(v[K_ROLE].str, "central") != 0 &&
	    strcmp(v[K_ROLE].str, "standby") != 0)
		BAD("role '%s' is not province, central or standby",
		    v[K_ROLE].str);
	if (v[K_LISTEN].str[0] && !nodecfg_endpoint_valid(v[K_LISTEN].str))
		BAD("listen '%s' is not tcp://HOST:PORT", v[K_LISTEN].str);
	if (v[K_CENTRAL].str[0] && nodecfg_centrals(v[K_CENTRAL].str,
	    eps, NULL) <= 0)
		BAD("central '%s' is not tcp://HOST:PORT (or up to %d of them "
		    "separated by spaces, each NAME@tcp://HOST:PORT or none)",
		    v[K_CENTRAL].str, NODECFG_CENTRALS_MAX);
	if (!node_id_valid(v[K_STANDBY].str))
		BAD("standby '%s' is not [a-z0-9-]{1,32}", v[K_STANDBY].str);
	if (v[K_PRIMARY].str[0] && !nodecfg_endpoint_valid(v[K_PRIMARY].str))
		BAD("primary '%s' is not tcp://HOST:PORT", v[K_PRIMARY].str);
	if (strcmp(v[K_ROLE].str, "standby") == 0 && v[K_PRIMARY].str[0] ==
	    '\0')
		BAD("a standby needs `primary = tcp://HOST:PORT`%s", "");
	if (strcmp(v[K_SBSYNC].str, "on") != 0 &&
	    strcmp(v[K_SBSYNC].str, "off") != 0)
		BAD("standby_sync '%s' is not on or off", v[K_SBSYNC].str);
	if (strcmp(v[K_PIPELINE].str, "on") != 0 &&
	    strcmp(v[K_PIPELINE].str, "off") != 0)
		BAD("apply_pipeline '%s' is not on or off",
		    v[K_PIPELINE].str);
	if (strcmp(v[K_SBFALLBACK].str, "wait") != 0 &&
	    strcmp(v[K_SBFALLBACK].str, "async") != 0)
		BAD("standby_sync_fallback '%s' is not wait or async",
		    v[K_SBFALLBACK].str);
	if ((c->log_level = log_level_parse(v[K_LOG].str)) < 0)
		BAD("log_level '%s' is not error|warn|info|debug",
		    v[K_LOG].str);
	if (strcmp(v[K_KEEP].str, "yes") != 0 &&
	    strcmp(v[K_KEEP].str, "no") != 0)
		BAD("keep_transferred '%s' is not yes or no", v[K_KEEP].str);
	errno = 0;
	off = strtoll(v[K_OFFSET].str, &end, 10);
	if (errno != 0 || *end != '\0' || off < -7LL * 86400000 ||
	    off > 7LL * 86400000)
		BAD("test_clock_offset_ms '%s' is not a number of ms",
		    v[K_OFFSET].str);
#undef BAD
	strlcpy_(c->node, v[K_NODE].str, sizeof(c->node));
	strlcpy_(c->role, v[K_ROLE].str, sizeof(c->role));
	strlcpy_(c->listen, v[K_LISTEN].str, sizeof(c->listen));
	strlcpy_(c->central, v[K_CENTRAL].str, sizeof(c->central));
	strlcpy_(c->primary, v[K_PRIMARY].str, sizeof(c->primary));
	strlcpy_(c->standby, v[K_STANDBY].str, sizeof(c->standby));
	c->standby_sync = strcmp(v[K_SBSYNC].str, "on") == 0;
	c->standby_sync_ms = v[K_SBWAIT].u64 * 1000;
	c->standby_sync_async = strcmp(v[K_SBFALLBACK].str, "async") == 0;
	c->apply_pipeline = strcmp(v[K_PIPELINE].str, "on") == 0;
	c->skew_ms = v[K_SKEW].u64;
	c->clock_offset_ms = off;
	c->sync_timeout_s = v[K_TIMEOUT].u64;
	c->heartbeat_ms = v[K_HEARTBEAT].u64;
	c->keep_transferred = strcmp(v[K_KEEP].str, "yes") == 0;
	c->quota_entries = v[K_QENTRIES].u64;
	c->quota_bytes = v[K_QBYTES].u64;
	c->quota_cases = v[K_QCASES].u64;
	c->quota_referrals = v[K_QREFERRALS].u64;
	return 0;
}

int
nodecfg_create(const char *dir, const struct nodecfg *c, char *err,
    size_t errsz)
{
	char	path[4096], text[2048];
	int	fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, NODECFG_FILE);
	n = snprintf(text, sizeof(text),
	    "# casesync node configuration (see README.md)\n"
	    "node = %s\nrole = %s\n%s%s%s%s%s%s%s%s%s"
	    "# refuse remote changes stamped further ahead than this\n"
	    "skew_ms = 300000\nlog_level = info\nsync_timeout = 60\n"
	    "# after referring a case away: keep a read-only copy without\n"
	    "# identifying fields (yes) or drop it (no)\n"
	    "keep_transferred = yes\n",
	    c->node, c->role,
	    c->listen[0] ? "listen = " : "", c->listen,
	    c->listen[0] ? "\n" : "",
	    c->central[0] ? "central = " : "", c->central,
	    c->central[0] ? "\n" : "",
	    c->primary[0] ? "primary = " : "", c->primary,
	    c->primary[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errsz, "configuration too long");
		return E_INVAL;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		snprintf(err, errsz, "%s: %s", path, errno == EEXIST ?
		    "already initialised" : strerror(errno));
		return errno == EEXIST ? E_INVAL : E_IO;
	}
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return E_IO;
	}
	close(fd);
	return 0;
}

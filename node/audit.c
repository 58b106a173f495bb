/*
 * audit.c - the console's append-only audit log.  See audit.h.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonr.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/hlc.h"
#include "../common/jsonw.h"
#include "../common/log.h"
#include "../common/util.h"

#define TAIL_BYTES	(4 * 1024 * 1024)

struct audit {
	int	fd;
};

int
audit_open(const char *dir, struct audit **out, char *err, size_t errsz)
{
	char	path[4096];
	int	fd;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_FILE) >=
	    sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->fd = fd;
	return 0;
}

void
audit_close(struct audit **a)
{
	if (*a == NULL)
		return;
	close((*a)->fd);
	free(*a);
	*a = NULL;
}

static void
field(struct buf *b, const char *key, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	jsonw_key(b, key, 0);
	jsonw_strn(b, v, strnlen(v, AUDIT_FIELD_MAX));
}

int
audit_log(struct audit *a, const char *user, const char *addr,
    const char *action, const char *case_id, const char *detail)
{
	struct buf	b;
	char		when[40];
	uint64_t	ms = now_ms();
	ssize_t		w;
	int		rc = 0;

	hlc_format(ms << 16, when, sizeof(when));
	buf_init(&b, 4096);
	buf_append_str(&b, "{");
	jsonw_key(&b, "time", 1);
	jsonw_str(&b, when);
	buf_printf(&b, ",\"ms\":%llu", (unsigned long long)ms);
	field(&b, "user", user);
	field(&b, "addr", addr);
	field(&b, "action", action);
	field(&b, "case", case_id);
	field(&b, "detail", detail);
	buf_append_str(&b, "}\n");
	w = write(a->fd, b.data, b.len);
	if (w < 0 || (size_t)w != b.len) {
		log_warn("audit: write");
		rc = E_IO;
	}
	buf_release(&b);
	return rc;
}

static int
parse_rec(const char *line, size_t len, struct audit_rec *r)
{
	struct jsonr_field f[] = {
		{ "time", JSONR_STR, 40, 0, NULL, 0, NULL, 0 },
		{ "ms", JSONR_INT, 0, 0, NULL, 0, NULL, 0 },
		{ "user", JSONR_STR, AUDIT_FIELD_MAX, 0, NULL, 0, NULL, 0 },
		{ "addr", JSONR_STR, AUDIT_FIELD_MAX, 0, NULL, 0, NULL, 0 },
		{ "action", JSONR_STR, AUDIT_FIELD_MAX, 0, NULL, 0, NULL, 0 },
		{ "case", JSONR_STR, AUDIT_FIELD_MAX, 0, NULL, 0, NULL, 0 },
		{ "detail", JSONR_STR, AUDIT_FIELD_MAX, 0, NULL, 0, NULL, 0 },
	};
	const size_t	nf = sizeof(f) / sizeof(f[0]);
	char		err[128];

	if (jsonr_parse(line, len, f, nf, err, sizeof(err)) != 0)
		return E_INVAL;
	memset(r, 0, sizeof(*r));
	r->ms = f[1].num > 0 ? (uint64_t)f[1].num : 0;
	strlcpy_(r->time, f[0].str ? f[0].str : "", sizeof(r->time));
	strlcpy_(r->user, f[2].str ? f[2].str : "", sizeof(r->user));
	strlcpy_(r->addr, f[3].str ? f[3].str : "", sizeof(r->addr));
	strlcpy_(r->action, f[4].str ? f[4].str : "", sizeof(r->action));
	strlcpy_(r->case_id, f[5].str ? f[5].str : "", sizeof(r->case_id));
	strlcpy_(r->detail, f[6].str ? f[6].str : "", sizeof(r->detail));
	jsonr_release(f, nf);
	return 0;
}

int
audit_tail(const char *dir, size_t max,
    int (*fn)(const struct audit_rec *, void *), void *arg)
{
	char		 path[4096], *p;
	struct stat	 sb;
	off_t		 from;
	size_t		 len = 0, shown = 0;
	ssize_t		 r;
	int		 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_FILE) >=
	    sizeof(path))
		return E_IO;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : E_IO;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return E_IO;
	}
	from = sb.st_size > TAIL_BYTES ? sb.st_size - TAIL_BYTES : 0;
	p = xmalloc(TAIL_BYTES + 1);
	while (len < TAIL_BYTES && (r = pread(fd, p + len, TAIL_BYTES - len,
	    from + (off_t)len)) > 0)
		len += (size_t)r;
	close(fd);
	p[len] = '\0';
	/* Newest first: walk the lines backwards. */
	while (len > 0 && shown < max) {
		size_t	end = len, start;

		if (p[end - 1] == '\n')
			end--;
		start = end;
		while (start > 0 && p[start - 1] != '\n')
			start--;
		if (start == 0 && from > 0)
			break;		/* a cut line */
		if (end > start) {
			struct audit_rec rec;

			if (parse_rec(p + start, end - start, &rec) == 0) {
				shown++;
				if (fn(&rec, arg) != 0)
					break;
			}
		}
		len = start;
	}
	free(p);
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

static int
collect(const struct audit_rec *r, void *arg)
{
	int *n = arg;

	if (*n == 0 && strcmp(r->action, "case.view") != 0)
		return 1;
	if (*n == 1 && (strcmp(r->action, "login") != 0 ||
	    strcmp(r->user, "minh\"x") != 0))
		return 1;
	(*n)++;
	return 0;
}

int
audit_selftest(void)
{
	char		 dir[] = "/tmp/casesync-audit-XXXXXX", err[128];
	char		 path[4200];
	struct audit	*a;
	int		 n = 0;

	ST_CHECK(mkdtemp(dir) != NULL);
	ST_OK(audit_open(dir, &a, err, sizeof(err)));
	ST_OK(audit_log(a, "minh\"x", "127.0.0.1", "login", NULL, NULL));
	ST_OK(audit_log(a, "lan", "127.0.0.1", "case.view",
	    "01a2276e-8c28-78e1-8721-c642e7eb1b40", "identifying values"));
	audit_close(&a);
	ST_OK(audit_tail(dir, 10, collect, &n));
	ST_CHECK(n == 2);
	snprintf(path, sizeof(path), "%s/%s", dir, AUDIT_FILE);
	unlink(path);
	rmdir(dir);
	return 0;
}
#endif

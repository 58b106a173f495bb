/*
 * users.c - the console's operators and their Argon2id hashes.  See users.h.
 */
#include "users.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define ARGON_T		3
#define ARGON_M		(64 * 1024)	/* KiB */
#define ARGON_P		1
#define ARGON_SALT	16
#define ARGON_TAG	32
#define LINE_MAX_	512

static const char *const role_names[] = { NULL, "viewer", "caseworker",
	"admin" };

int
users_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USER_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

const char *
users_role_name(int role)
{
	if (role < ROLE_VIEWER || role > ROLE_ADMIN)
		return "none";
	return role_names[role];
}

int
users_role_parse(const char *s, int *role)
{
	for (int r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
		if (strcmp(s, role_names[r]) == 0) {
			*role = r;
			return 0;
		}
	return E_INVAL;
}

static int
path_of(const char *dir, const char *name, char *out, size_t sz)
{
	if ((size_t)snprintf(out, sz, "%s/%s", dir, name) >= sz)
		return E_INVAL;
	return 0;
}

/* Parses one line (modified in place). */
static int
parse_line(char *line, struct user *u)
{
	char		*f[6], *p = line;
	uint64_t	 ms;
	size_t		 i;

	for (i = 0; i < 6; i++) {
		f[i] = p;
		p = strchr(p, '\t');
		if (i < 5) {
			if (p == NULL)
				return E_INTEGRITY;
			*p++ = '\0';
		} else if (p != NULL)
			return E_INTEGRITY;
	}
	memset(u, 0, sizeof(*u));
	if (!users_name_valid(f[0]) || users_role_parse(f[1], &u->role) != 0)
		return E_INTEGRITY;
	if (strcmp(f[2], "active") == 0)
		u->disabled = 0;
	else if (strcmp(f[2], "disabled") == 0)
		u->disabled = 1;
	else
		return E_INTEGRITY;
	if (strcmp(f[3], "vi") && strcmp(f[3], "en") && strcmp(f[3], "-"))
		return E_INTEGRITY;
	if (parse_u64(f[4], 0, UINT64_MAX, &ms) != 0 ||
	    strncmp(f[5], "$argon2id$", 10) != 0 ||
	    strlen(f[5]) > USER_HASH_MAX)
		return E_INTEGRITY;
	strlcpy_(u->name, f[0], sizeof(u->name));
	strlcpy_(u->lang, f[3][0] == '-' ? "" : f[3], sizeof(u->lang));
	u->created_ms = ms;
	strlcpy_(u->hash, f[5], sizeof(u->hash));
	return 0;
}

int
users_load(const char *dir, struct user **out, size_t *n, char *err,
    size_t errsz)
{
	char		 path[4096], line[LINE_MAX_];
	struct user	*us = NULL;
	size_t		 cnt = 0, lineno = 0;
	FILE		*f;

	*out = NULL;
	*n = 0;
	if (path_of(dir, USERS_FILE, path, sizeof(path)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t	len = strlen(line);

		lineno++;
		if (len == 0 || line[len - 1] != '\n' || cnt >= USERS_MAX) {
			snprintf(err, errsz, "%s:%zu: line too long or too many "
			    "users", path, lineno);
			goto bad;
		}
		line[len - 1] = '\0';
		us = xreallocarray(us, cnt + 1, sizeof(*us));
		if (parse_line(line, &us[cnt]) != 0) {
			snprintf(err, errsz, "%s:%zu: malformed line", path,
			    lineno);
			goto bad;
		}
		cnt++;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error", path);
		fclose(f);
		free(us);
		return E_IO;
	}
	fclose(f);
	*out = us;
	*n = cnt;
	return 0;
bad:
	fclose(f);
	free(us);
	return E_INTEGRITY;
}

int
users_get(const char *dir, const char *name, struct user *u)
{
	struct user	*us;
	size_t		 n;
	char		 err[256];
	int		 rc;

	if ((rc = users_load(dir, &us, &n, err, sizeof(err))) != 0) {
		log_warnx("users: %s", err);
		return rc;
	}
	rc = E_NOTFOUND;
	for (size_t i = 0; i < n; i++)
		if (strcmp(us[i].name, name) == 0) {
			*u = us[i];
			rc = 0;
			break;
		}
	crypto_wipe(us, n * sizeof(*us));
	free(us);
	return rc;
}

/* Writes us[n] to dir/users through users.tmp and a rename. */
static int
users_write(const char *dir, const struct user *us, size_t n, char *err,
    size_t errsz)
{
	char	 path[4096], tmp[4096];
	FILE	*f;
	int	 fd, ok = 1;

	if (path_of(dir, USERS_FILE, path, sizeof(path)) != 0 ||
	    path_of(dir, USERS_FILE ".tmp", tmp, sizeof(tmp)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return E_IO;
	}
	for (size_t i = 0; i < n; i++)
		if (fprintf(f, "%s\t%s\t%s\t%s\t%llu\t%s\n", us[i].name,
		    users_role_name(us[i].role), us[i].disabled ? "disabled" :
		    "active", us[i].lang[0] ? us[i].lang : "-",
		    (unsigned long long)us[i].created_ms, us[i].hash) < 0)
			ok = 0;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return errno == ENOSPC ? E_FULL : E_IO;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

enum change { CH_ADD, CH_PASSWD, CH_DISABLE, CH_LANG };

struct change_arg {
	enum change	 what;
	const char	*name;
	int		 role;
	int		 disabled;
	const char	*lang;
	const char	*hash;
};

/* Reads, changes and writes the file under the lock. */
static int
users_change(const char *dir, const struct change_arg *a, char *err,
    size_t errsz)
{
	struct user	*us;
	size_t		 n, i;
	char		 lock[4096];
	int		 lfd, rc;

	if (path_of(dir, "users.lock", lock, sizeof(lock)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errsz, "%s: %s", lock, strerror(errno));
		return E_IO;
	}
	if (flock(lfd, LOCK_EX) != 0) {
		snprintf(err, errsz, "%s: %s", lock, strerror(errno));
		close(lfd);
		return E_IO;
	}
	if ((rc = users_load(dir, &us, &n, err, errsz)) != 0) {
		close(lfd);
		return rc;
	}
	for (i = 0; i < n; i++)
		if (strcmp(us[i].name, a->name) == 0)
			break;
	rc = 0;
	if (a->what == CH_ADD) {
		if (i < n) {
			snprintf(err, errsz, "user %s exists (use `casesync "
			    "user passwd`)", a->name);
			rc = E_INVAL;
		} else if (n >= USERS_MAX) {
			snprintf(err, errsz, "too many users (%d)", USERS_MAX);
			rc = E_INVAL;
		} else {
			us = xreallocarray(us, n + 1, sizeof(*us));
			memset(&us[n], 0, sizeof(us[n]));
			strlcpy_(us[n].name, a->name, sizeof(us[n].name));
			us[n].role = a->role;
			us[n].created_ms = now_ms();
			strlcpy_(us[n].hash, a->hash, sizeof(us[n].hash));
			n++;
		}
	} else if (i == n) {
		snprintf(err, errsz, "no user %s", a->name);
		rc = E_NOTFOUND;
	} else if (a->what == CH_PASSWD) {
		strlcpy_(us[i].hash, a->hash, sizeof(us[i].hash));
	} else if (a->what == CH_DISABLE) {
		us[i].disabled = a->disabled;
	} else {
		strlcpy_(us[i].lang, a->lang, sizeof(us[i].lang));
	}
	if (rc == 0)
		rc = users_write(dir, us, n, err, errsz);
	crypto_wipe(us, n * sizeof(*us));
	free(us);
	close(lfd);
	return rc;
}

int
users_password_ok(const char *password, char *err, size_t errsz)
{
	size_t n = strlen(password);

	if (n < USER_PASS_MIN) {
		snprintf(err, errsz, "the password is too short (at least %d "
		    "characters)", USER_PASS_MIN);
		return E_INVAL;
	}
	if (n > USER_PASS_MAX) {
		snprintf(err, errsz, "the password is too long (at most %d "
		    "bytes)", USER_PASS_MAX);
		return E_INVAL;
	}
	return 0;
}

static int
hash_password(const char *password, char *out, size_t outsz)
{
	uint8_t	salt[ARGON_SALT];
	int	rc;

	random_bytes(salt, sizeof(salt));
	rc = argon2id_hash_encoded(ARGON_T, ARGON_M, ARGON_P, password,
	    strlen(password), salt, sizeof(salt), ARGON_TAG, out, outsz);
	if (rc != ARGON2_OK) {
		log_warnx("users: argon2: %s", argon2_error_message(rc));
		return E_IO;
	}
	return 0;
}

/* Checks the password, hashes it into a's hash and applies the change. */
static int
change_with_password(const char *dir, struct change_arg *a,
    const char *password, char *err, size_t errsz)
{
	char	hash[USER_HASH_MAX + 1];
	int	rc;

	if ((rc = users_password_ok(password, err, errsz)) != 0)
		return rc;
	if ((rc = hash_password(password, hash, sizeof(hash))) != 0) {
		snprintf(err, errsz, "cannot hash the password");
		return rc;
	}
	a->hash = hash;
	rc = users_change(dir, a, err, errsz);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

int
users_add(const char *dir, const char *name, int role, const char *password,
    char *err, size_t errsz)
{
	struct change_arg	a;

	if (!users_name_valid(name)) {
		snprintf(err, errsz, "'%s' is not a user name (1 to %d of "
		    "a-z 0-9 . _ -)", name, USER_NAME_MAX);
		return E_INVAL;
	}
	if (role < ROLE_VIEWER || role > ROLE_ADMIN) {
		snprintf(err, errsz, "unknown role");
		return E_INVAL;
	}
	memset(&a, 0, sizeof(a));
	a.what = CH_ADD;
	a.name = name;
	a.role = role;
	return change_with_password(dir, &a, password, err, errsz);
}

int
users_passwd(const char *dir, const char *name, const char *password,
    char *err, size_t errsz)
{
	struct change_arg	a;

	memset(&a, 0, sizeof(a));
	a.what = CH_PASSWD;
	a.name = name;
	return change_with_password(dir, &a, password, err, errsz);
}

int
users_set_disabled(const char *dir, const char *name, int disabled,
    char *err, size_t errsz)
{
	struct change_arg a;

	memset(&a, 0, sizeof(a));
	a.what = CH_DISABLE;
	a.name = name;
	a.disabled = disabled;
	return users_change(dir, &a, err, errsz);
}

int
users_set_lang(const char *dir, const char *name, const char *lang,
    char *err, size_t errsz)
{
	struct change_arg a;

	if (strcmp(lang, "vi") && strcmp(lang, "en") && lang[0] != '\0') {
		snprintf(err, errsz, "unknown language '%s' (vi, en)", lang);
		return E_INVAL;
	}
	memset(&a, 0, sizeof(a));
	a.what = CH_LANG;
	a.name = name;
	a.lang = lang;
	return users_change(dir, &a, err, errsz);
}

int
users_verify(const struct user *u, const char *password)
{
	if (strlen(password) > USER_PASS_MAX)
		return E_AUTH;
	return argon2id_verify(u->hash, password, strlen(password)) ==
	    ARGON2_OK ? 0 : E_AUTH;
}

void
users_verify_dummy(const char *password)
{
	/* The hash of a random password nobody knows, same parameters. */
	static const char dummy[] = "$argon2id$v=19$m=65536,t=3,p=1$"
	    "c2FsdHNhbHRzYWx0c2FsdA$"
	    "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMDA";
	size_t n = strlen(password);

	if (n > USER_PASS_MAX)
		n = USER_PASS_MAX;
	(void)argon2id_verify(dummy, password, n);
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
users_selftest(void)
{
	char		 dir[] = "/tmp/casesync-users-XXXXXX", err[256];
	struct user	 u, *us;
	size_t		 n;
	int		 r;

	ST_CHECK(users_name_valid("lan.nguyen"));
	ST_CHECK(!users_name_valid("Lan"));
	ST_CHECK(!users_name_valid(""));
	ST_CHECK(!users_name_valid("a b"));
	ST_CHECK(!users_name_valid("-x"));
	ST_CHECK(users_role_parse("caseworker", &r) == 0 &&
	    r == ROLE_CASEWORKER);
	ST_CHECK(users_role_parse("root", &r) == E_INVAL);
	ST_CHECK(mkdtemp(dir) != NULL);
	ST_CHECK(users_load(dir, &us, &n, err, sizeof(err)) == 0 && n == 0);
	ST_CHECK(users_add(dir, "minh", ROLE_ADMIN, "short", err,
	    sizeof(err)) == E_INVAL);
	ST_CHECK(users_add(dir, "minh", ROLE_ADMIN, "correct horse", err,
	    sizeof(err)) == 0);
	ST_CHECK(users_add(dir, "minh", ROLE_VIEWER, "correct horse", err,
	    sizeof(err)) == E_INVAL);
	ST_CHECK(users_add(dir, "lan", ROLE_VIEWER, "battery staple", err,
	    sizeof(err)) == 0);
	ST_CHECK(users_get(dir, "minh", &u) == 0 && u.role == ROLE_ADMIN &&
	    !u.disabled);
	ST_CHECK(strncmp(u.hash, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0);
	ST_CHECK(users_verify(&u, "correct horse") == 0);
	ST_CHECK(users_verify(&u, "correct hors") == E_AUTH);
	ST_CHECK(users_passwd(dir, "minh", "new password!", err,
	    sizeof(err)) == 0);
	ST_CHECK(users_get(dir, "minh", &u) == 0);
	ST_CHECK(users_verify(&u, "correct horse") == E_AUTH);
	ST_CHECK(users_verify(&u, "new password!") == 0);
	ST_CHECK(users_set_disabled(dir, "lan", 1, err, sizeof(err)) == 0);
	ST_CHECK(users_set_lang(dir, "lan", "en", err, sizeof(err)) == 0);
	ST_CHECK(users_set_lang(dir, "lan", "fr", err, sizeof(err)) ==
	    E_INVAL);
	ST_CHECK(users_get(dir, "lan", &u) == 0 && u.disabled &&
	    strcmp(u.lang, "en") == 0);
	ST_CHECK(users_set_disabled(dir, "nobody", 1, err, sizeof(err)) ==
	    E_NOTFOUND);
	ST_CHECK(users_load(dir, &us, &n, err, sizeof(err)) == 0 && n == 2);
	free(us);
	{
		char p[4096];

		snprintf(p, sizeof(p), "%s/%s", dir, USERS_FILE);
		unlink(p);
		snprintf(p, sizeof(p), "%s/users.lock", dir);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}
#endif

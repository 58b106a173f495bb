/*
 * users.h - the console's operators: DIR/users, a file of the node (they
 * do not replicate), with Argon2id password hashes.  The only module that
 * includes argon2.h.
 *
 * File format, one user a line, tab-separated, mode 0600:
 *   name \t role \t active|disabled \t lang \t created_ms \t argon2id-hash
 * Changes rewrite the file to DIR/users.tmp and rename it over, under an
 * exclusive flock on DIR/users.lock, so `casesync user` and a running
 * console never see half a file.  The console reads the file again for
 * every sign-in and every request (it is small), so a disabled user is
 * signed out at the next click.
 *
 * Password hashing: Argon2id, t = 3 passes, m = 64 MiB, p = 1 lane, 16-byte
 * random salt, 32-byte tag, stored in the PHC string form that
 * libargon2 writes ($argon2id$v=19$m=65536,t=3,p=1$salt$tag).
 */
#ifndef CASESYNC_USERS_H
#define CASESYNC_USERS_H

#include <stddef.h>
#include <stdint.h>

#define USERS_FILE		"users"
#define USER_NAME_MAX		31	/* [a-z0-9._-]{1,31}: NAME@NODE fits an author */
#define USER_HASH_MAX		160
#define USER_PASS_MIN		10	/* bytes */
#define USER_PASS_MAX		256
#define USERS_MAX		1000

enum user_role {
	ROLE_VIEWER = 1,	/* dashboard and sync health, nothing else */
	ROLE_CASEWORKER = 2,	/* also cases with their identifying values */
	ROLE_ADMIN = 3,		/* also conflicts, users, the audit log */
};

struct user {
	char		name[USER_NAME_MAX + 1];
	int		role;		/* enum user_role */
	int		disabled;
	char		lang[3];	/* "vi", "en" or "" (browser's) */
	uint64_t	created_ms;
	char		hash[USER_HASH_MAX + 1];
};

/* Is s a valid user name? */
int	users_name_valid(const char *s);
/* "admin", "caseworker", "viewer"; parse returns 0 or E_INVAL. */
const char *users_role_name(int role);
int	users_role_parse(const char *s, int *role);

/* Loads every user of dir.  A missing file is an empty list.  Caller owns
 * *out (free()).  Returns 0, E_IO or E_INTEGRITY (a line that does not
 * parse, named in err). */
int	users_load(const char *dir, struct user **out, size_t *n, char *err,
	    size_t errsz);
/* Finds one user.  Returns 0, E_NOTFOUND or an error of users_load. */
int	users_get(const char *dir, const char *name, struct user *u);

/* Adds a user with a new hash of password.  E_INVAL when the name
 * exists, is invalid or the password is too short or too long. */
int	users_add(const char *dir, const char *name, int role,
	    const char *password, char *err, size_t errsz);
/* Sets a new password.  E_NOTFOUND, E_INVAL. */
int	users_passwd(const char *dir, const char *name, const char *password,
	    char *err, size_t errsz);
/* Disables (1) or enables (0) a user.  E_NOTFOUND. */
int	users_set_disabled(const char *dir, const char *name, int disabled,
	    char *err, size_t errsz);
/* Sets the user's language ("vi", "en" or "").  E_NOTFOUND, E_INVAL. */
int	users_set_lang(const char *dir, const char *name, const char *lang,
	    char *err, size_t errsz);

/* Checks password against u's hash in constant time.  Returns 0 when it
 * matches, E_AUTH otherwise.  users_verify_dummy spends the same time on
 * a fixed hash, so that an unknown name answers as slowly as a known one. */
int	users_verify(const struct user *u, const char *password);
void	users_verify_dummy(const char *password);

/* Checks a new password's length; E_INVAL with the reason in err. */
int	users_password_ok(const char *password, char *err, size_t errsz);

#ifdef SELFTEST
int	users_selftest(void);
#endif

#endif

/*
 * harden.h - keep a process's secrets out of core dumps, /proc and the
 * environment.
 *
 * Every casesync process may hold keys: the signing and transport keys,
 * the data key, and in passphrase mode the passphrase.  A core dump of
 * such a process (libzmq aborts are real, docs/PROTOCOL.md, Processes)
 * would write them to disk, and a readable /proc/PID/environ or
 * /proc/PID/mem shows them to whoever may read those files.  So, before
 * anything else, main() calls harden_process(), and the passphrase is
 * moved out of the environment into memory that is locked and excluded
 * from dumps (harden_secret_take).
 */
#ifndef CASESYNC_HARDEN_H
#define CASESYNC_HARDEN_H

#include <stddef.h>

/*
 * Sets RLIMIT_CORE to 0 (soft and hard, so no child can raise it) and
 * clears the dumpable flag (PR_SET_DUMPABLE 0): the kernel then writes no
 * core even to a core_pattern pipe, other processes of the same user
 * cannot ptrace this one or read its /proc/PID/mem or environ, and
 * /proc/PID belongs to root.  Both are inherited by fork().  Returns 0 or
 * E_IO (errno set).
 */
int	harden_process(void);

#define HARDEN_SECRET_MAX	1023	/* bytes of a secret taken */

/* A secret kept in one locked page that core dumps leave out. */
struct harden_secret {
	char	*p;		/* NUL-terminated; NULL when none */
	size_t	 len;
};

/*
 * Moves the value of environment variable name into *s: copies it into a
 * page of its own (mlock, MADV_DONTDUMP), overwrites the NAME=value text in
 * place (what /proc/PID/environ shows) and removes it from the
 * environment.  An unset or empty variable leaves s->p NULL.  Returns 0,
 * E_TOOBIG (longer than HARDEN_SECRET_MAX: nothing taken, but the value
 * is wiped and removed all the same) or E_NOMEM.
 */
int	harden_secret_take(struct harden_secret *s, const char *name);
/* Overwrites and unmaps the secret; s->p becomes NULL.  Accepts an empty
 * *s. */
void	harden_secret_wipe(struct harden_secret *s);

#ifdef SELFTEST
int	harden_selftest(void);
#endif

#endif

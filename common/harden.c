/*
 * harden.c - no core dumps, no ptrace, no secrets in the environment (see
 * harden.h).
 */
#include "harden.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "crypto.h"
#include "err.h"

extern char **environ;

int
harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return E_IO;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return E_IO;
	return 0;
}

static size_t
page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/* Copies value (vlen bytes and its NUL) into a locked page of its own. */
static int
secret_copy(struct harden_secret *s, const char *value, size_t vlen)
{
	size_t	 ps = page_size();
	void	*p;

	if (vlen > HARDEN_SECRET_MAX || vlen >= ps)
		return E_TOOBIG;
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return E_NOMEM;
	/* Both are best effort: a failure leaves the page as ordinary
	 * memory of a process that dumps no core. */
	(void)mlock(p, ps);
	(void)madvise(p, ps, MADV_DONTDUMP);
	memcpy(p, value, vlen + 1);
	s->p = p;
	s->len = vlen;
	return 0;
}

int
harden_secret_take(struct harden_secret *s, const char *name)
{
	size_t	nlen = strlen(name);
	int	rc = 0;

	s->p = NULL;
	s->len = 0;
	/*
	 * Every copy (execve() allows the same name twice): keep the first
	 * value, then overwrite each value where it lies.  unsetenv() only
	 * drops the pointers, and the text would stay where
	 * /proc/PID/environ reads it.  The names stay, so that unsetenv()
	 * still finds them.
	 */
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		char	*v;
		size_t	 vlen;

		if (strncmp(*e, name, nlen) != 0 || (*e)[nlen] != '=')
			continue;
		v = *e + nlen + 1;
		vlen = strlen(v);
		if (s->p == NULL && rc == 0 && vlen > 0)
			rc = secret_copy(s, v, vlen);
		crypto_wipe(v, vlen);
	}
	if (unsetenv(name) != 0 && rc == 0)
		rc = E_INVAL;
	return rc;
}

void
harden_secret_wipe(struct harden_secret *s)
{
	size_t ps = page_size();

	if (s->p != NULL) {
		crypto_wipe(s->p, ps);
		(void)munlock(s->p, ps);
		(void)munmap(s->p, ps);
	}
	s->p = NULL;
	s->len = 0;
}

#ifdef SELFTEST
#include <stdio.h>
#include <sys/wait.h>

#include "selftest.h"

/* The first "name=..." string of the environment, or NULL. */
static char *
env_entry(const char *name)
{
	size_t n = strlen(name);

	for (char **e = environ; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e;
	return NULL;
}

int
harden_selftest(void)
{
	struct harden_secret	 s;
	struct rlimit		 rl;
	char			 big[HARDEN_SECRET_MAX + 2];
	char			*text;
	pid_t			 pid;
	int			 st;

	ST_OK(setenv("CASESYNC_ST_SECRET", "FAKE pass phrase", 1));
	text = env_entry("CASESYNC_ST_SECRET");
	ST_CHECK(text != NULL);
	ST_OK(harden_secret_take(&s, "CASESYNC_ST_SECRET"));
	ST_CHECK(s.p != NULL && strcmp(s.p, "FAKE pass phrase") == 0);
	ST_CHECK(s.len == 16);
	ST_CHECK(getenv("CASESYNC_ST_SECRET") == NULL);
	/* The text itself is gone, not only the pointer to it. */
	ST_CHECK(strstr(text, "FAKE") == NULL);
	harden_secret_wipe(&s);
	ST_CHECK(s.p == NULL && s.len == 0);
	harden_secret_wipe(&s);
	/* Unset and empty: nothing taken. */
	ST_OK(harden_secret_take(&s, "CASESYNC_ST_SECRET"));
	ST_CHECK(s.p == NULL);
	ST_OK(setenv("CASESYNC_ST_SECRET", "", 1));
	ST_OK(harden_secret_take(&s, "CASESYNC_ST_SECRET"));
	ST_CHECK(s.p == NULL && getenv("CASESYNC_ST_SECRET") == NULL);
	/* Too long: refused, and removed all the same. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ST_OK(setenv("CASESYNC_ST_SECRET", big, 1));
	ST_CHECK(harden_secret_take(&s, "CASESYNC_ST_SECRET") == E_TOOBIG);
	ST_CHECK(s.p == NULL && getenv("CASESYNC_ST_SECRET") == NULL);
	/* In a child, so that this process stays dumpable for the
	 * sanitizers: no core, not dumpable, and so for its own child. */
	fflush(NULL);
	if ((pid = fork()) == 0) {
		pid_t	gc;
		int	gst, bad = harden_process() != 0 ||
		    getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 ||
		    rl.rlim_max != 0 || prctl(PR_GET_DUMPABLE) != 0;

		if ((gc = fork()) == 0)
			_exit(prctl(PR_GET_DUMPABLE) != 0);
		bad |= gc < 0 || waitpid(gc, &gst, 0) != gc ||
		    !WIFEXITED(gst) || WEXITSTATUS(gst) != 0;
		_exit(bad);
	}
	ST_CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	ST_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return 0;
}
#endif

/*
 * supervise.c - run a node's network work in a child process (see
 * supervise.h for why).
 *
 * The parent blocks SIGTERM, SIGINT and SIGCHLD and takes them with
 * sigwaitinfo(), so no signal can fall between "is the child still
 * running?" and "wait for it", and no global beyond casesync_quit is
 * needed to pass a signal on.
 */
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#include "../common/harden.h"

static void
quit_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

int
supervise_run(int (*fn)(void *), void *arg, struct supervise_result *res)
{
	sigset_t	 set, old;
	siginfo_t	 si;
	pid_t		 parent = getpid(), pid;
	int		 st = 0, e;

	memset(res, 0, sizeof(*res));
	quit_set(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &old) != 0)
		return -1;
	/* Whatever stdio holds would otherwise be written twice. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		int rc;

		/* Die with the parent: a SIGKILL of `serve` must not leave
		 * a session writing to the store.  The parent may already
		 * be gone by the time prctl() runs. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(EXIT_PEER);
		/* The child opens the keys.  It inherits main()'s settings
		 * (no core, not dumpable) through fork(); setting them again
		 * keeps that true whoever calls supervise_run. */
		if (harden_process() != 0)
			_exit(EXIT_REJECT);
		cli_signals();
		sigprocmask(SIG_SETMASK, &old, NULL);
		rc = fn(arg);
		fflush(stdout);
		fflush(stderr);
		_exit(rc & 0xff);
	}
	for (;;) {
		int sig = sigwaitinfo(&set, &si);

		if (sig == -1) {
			if (errno == EINTR)
				continue;
			/* Cannot wait for signals: wait for the child. */
			while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
				;
			break;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			res->quit = 1;
			casesync_quit = 1;
			kill(pid, sig);
			continue;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFSIGNALED(st))
		res->signo = WTERMSIG(st);
	else
		res->code = WEXITSTATUS(st);
	return 0;
}

int
supervise_sleep(unsigned long ms)
{
	sigset_t	 set, old;
	struct timespec	 ts;
	int		 sig, quit = 0;

	if (casesync_quit)
		return 1;
	quit_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, &old) != 0)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* A signal that arrived before the block is pending and returns
	 * at once; the sleep is not resumed after an unrelated EINTR,
	 * which only shortens one back-off. */
	sig = sigtimedwait(&set, NULL, &ts);
	if (sig == SIGTERM || sig == SIGINT) {
		casesync_quit = 1;
		quit = 1;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return quit || casesync_quit;
}

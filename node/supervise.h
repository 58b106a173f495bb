/*
 * supervise.h - run a node's network work in a child process.
 *
 * libzmq 4.3.4 (Debian 12) aborts the whole process now and then when a
 * connection fails while it is both read and written (the assertion
 * `!_io_error` in stream_engine_base.cpp, zeromq/libzmq#4841).  Nothing
 * is lost when that happens: an entry is acknowledged only after its
 * commit and every session resumes from durable positions.  But a node
 * should not die of it, so `serve` and `sync` run their sessions in a
 * child: an abort costs one session, and the parent starts another.
 *
 * The parent never opens the store: LMDB forbids using an environment
 * across fork(), so only the child opens it.
 */
#ifndef CASESYNC_SUPERVISE_H
#define CASESYNC_SUPERVISE_H

/* What became of one child run. */
struct supervise_result {
	int	code;		/* its exit code, when it exited */
	int	signo;		/* or the signal that killed it (0: exited) */
	int	quit;		/* SIGTERM or SIGINT reached the parent */
};

/*
 * Runs fn(arg) in a child process and waits for it.  The child exits
 * with fn's return value and dies with the parent (PR_SET_PDEATHSIG), so
 * a SIGKILL of the parent never leaves a session running.  SIGTERM and
 * SIGINT sent to the parent are passed on to the child, which sees them
 * through casesync_quit as before.  Returns 0 with *res filled, or -1
 * when no child could be started (errno set).
 */
int	supervise_run(int (*fn)(void *), void *arg,
	    struct supervise_result *res);

/* Sleeps ms milliseconds in the parent, returning early (1) when SIGTERM
 * or SIGINT arrives; 0 when the whole time passed. */
int	supervise_sleep(unsigned long ms);

#endif

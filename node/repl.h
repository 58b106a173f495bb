/*
 * repl.h - the replication engine (see docs/PROTOCOL.md).
 *
 * A province always initiates: it connects out to central, says HELLO with
 * the feed position it has applied, and both sides then stream what the
 * other lacks in bounded batches under a credit window.  Every batch is
 * applied in one LMDB transaction and acknowledged only after the commit,
 * so an acknowledged entry is durable; positions come from durable state,
 * so any session can be cut at any byte and the next one resumes.
 */
#ifndef CASESYNC_REPL_H
#define CASESYNC_REPL_H

#include <signal.h>
#include <stdint.h>

#include "identity.h"
#include "nodecfg.h"
#include "store.h"

#define REPL_WINDOW	8	/* batches in flight per direction */

struct sync_stats {
	uint64_t	sent;		/* own entries central acknowledged */
	uint64_t	received;	/* entries applied from central */
	uint64_t	refused;	/* own entries central refused */
	uint64_t	recovered;	/* own entries lost in a restore that
					 * central sent back */
	uint64_t	returned;	/* central's own entries given back to
					 * a restored central */
	uint64_t	bytes_out, bytes_in;
	uint64_t	messages_out, messages_in;
	uint64_t	sessions;	/* sessions started (restarts + 1) */
	uint64_t	ms;
	/* Several centrals (docs/HA.md): the endpoints tried, in order,
	 * space-separated ("" with one central). */
	char		tried[600];
};

/*
 * Province: syncs with central until everything pending has been
 * acknowledged in both directions, restarting the session after a cut
 * link, a gap or a silent peer, until timeout_ms has passed.  progress
 * prints a progress line on stderr.  Returns 0; E_TIMEOUT (central not
 * reachable or no completion in time); E_AUTH (refused by central);
 * E_INTEGRITY; with a one-line reason in err.  *quit stops early
 * (E_TIMEOUT).
 */
int	repl_sync(struct store *st, const struct nodecfg *cfg,
	    const struct identity *id, uint64_t timeout_ms, int progress, volatile sig_atomic_t *quit,
	    struct sync_stats *ss, char *err, size_t errsz);

/* Central: serves provinces on cfg->listen until *quit.  Returns 0 after a
 * clean stop, E_IO when it cannot listen (reason in err). */
int	repl_central_run(struct store *st, const struct nodecfg *cfg,
	    const struct identity *id, volatile sig_atomic_t *quit, char *err, size_t errsz);
/* The same, also serving a standby's FOLLOW through sb (standby.h; NULL:
 * none is served). */
struct sbsrv;
int	repl_central_serve(struct store *st, const struct nodecfg *cfg,
	    const struct identity *id, struct sbsrv *sb,
	    volatile sig_atomic_t *quit, char *err, size_t errsz);

#endif

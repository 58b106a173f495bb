/*
 * nodecfg.h - the node's configuration file, DIR/casesync.conf.
 */
#ifndef CASESYNC_NODECFG_H
#define CASESYNC_NODECFG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/hlc.h"

#define NODECFG_FILE		"casesync.conf"
#define NODECFG_ENDPOINT_MAX	128
#define NODECFG_CENTRALS_MAX	4	/* endpoints in `central` (HA.md) */
#define NODECFG_CENTRAL_MAX	(NODECFG_CENTRALS_MAX * NODECFG_ENDPOINT_MAX)

struct nodecfg {
	char		node[HLC_NODE_MAX + 1];
	char		role[16];	/* province | central | standby */
	char		listen[NODECFG_ENDPOINT_MAX];	/* central, standby */
	/* Province: central's endpoint, or several separated by spaces,
	 * tried in order (a central and its standby: docs/HA.md). */
	char		central[NODECFG_CENTRAL_MAX];
	char		primary[NODECFG_ENDPOINT_MAX];	/* standby: central */
	char		standby[HLC_NODE_MAX + 1];	/* central: the node
							 * that may follow it */
	/* Central: synchronous standby (docs/HA.md): ACK only what the
	 * standby holds; after standby_sync_ms without it, wait on or
	 * (standby_sync_async) degrade to asynchronous. */
	int		standby_sync;
	uint64_t	standby_sync_ms;
	int		standby_sync_async;
	/* Central: received batches decoded and checked on a thread of
	 * their own while the store applies (docs/PERFORMANCE.md). */
	int		apply_pipeline;
	uint64_t	skew_ms;	/* refuse remote stamps beyond this */
	int64_t		clock_offset_ms;	/* test-only clock offset */
	int		log_level;
	uint64_t	sync_timeout_s;	/* default for `sync --timeout` */
	uint64_t	heartbeat_ms;
	int		keep_transferred;	/* keep a read-only copy */
	/* Central: per province and UTC day (0: no limit). */
	uint64_t	quota_entries;
	uint64_t	quota_bytes;
	uint64_t	quota_cases;
	uint64_t	quota_referrals;
};

/* Loads DIR/casesync.conf.  Returns 0, E_IO or E_INVAL with a
 * "file:line: reason" message in err. */
int	nodecfg_load(const char *dir, struct nodecfg *c, char *err,
	    size_t errsz);
/* Writes a new DIR/casesync.conf (mode 0600), refusing to overwrite.
 * Returns 0, E_INVAL (exists) or E_IO. */
int	nodecfg_create(const char *dir, const struct nodecfg *c, char *err,
	    size_t errsz);
/* Is ep a ZeroMQ tcp endpoint we accept ("tcp://HOST:PORT")? */
int	nodecfg_endpoint_valid(const char *ep);
/* Splits a `central` list into at most NODECFG_CENTRALS_MAX endpoints;
 * returns how many, or -1 when one is not valid or there are too many.
 * Each may be NAME@tcp://HOST:PORT, NAME being the node whose pinned key
 * goes with it (all named or none); names (may be NULL) gets NAME or "". */
int	nodecfg_centrals(const char *list,
	    char eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX],
	    char names[NODECFG_CENTRALS_MAX][HLC_NODE_MAX + 1]);
/* Sets key = value in DIR/casesync.conf (replacing the key's line, or
 * appending one; value "" removes it), keeping every other line; written
 * to a new file and renamed over the old.  Returns 0 or E_IO. */
int	nodecfg_set(const char *dir, const char *key, const char *value,
	    char *err, size_t errsz);

#endif

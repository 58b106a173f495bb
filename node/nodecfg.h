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

struct nodecfg {
	char		node[HLC_NODE_MAX + 1];
	char		role[16];		/* province | central */
	char		listen[NODECFG_ENDPOINT_MAX];	/* central */
	char		central[NODECFG_ENDPOINT_MAX];	/* province */
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

#endif

/*
 * standby.h - a standby central (docs/HA.md).
 *
 * The standby follows central over the same CURVE link and protocol
 * family as a province: it asks (FOLLOW) and central answers with its
 * whole store as it stands (SNAP: a consistent LMDB copy, in chunks) and,
 * with it, the secrets central's store needs (its signing key and data
 * key).  The standby keeps the copy in DIR/replica/ and switches to each
 * new one atomically, so DIR/replica always holds one complete state of
 * central: its log of every origin, feeds, vectors, peers, conflicts.
 *
 * Promotion (`casesync promote`) turns the copy into DIR/data.mdb and
 * restores it like a backup (store_restored): a new incarnation, which is
 * also the new central epoch.  Provinces accept only a central whose epoch
 * is at least the highest they have seen; an older central is refused and
 * told (EPOCH, signed with central's key), and then fences itself.
 */
#ifndef CASESYNC_STANDBY_H
#define CASESYNC_STANDBY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "net.h"
#include "nodecfg.h"
#include "store.h"

#include "../proto/msg.h"

#define STANDBY_SECRETS_FILE	"central.secrets"
#define STANDBY_REPLICA_DIR	"replica"
#define STANDBY_STATUS_FILE	"standby.status"
#define STANDBY_LOCK_FILE	"standby.lock"
#define STANDBY_SNAP_DIR	"standby.snap"
/* The standby's copies of central's console users and audit log
 * (DIR/central.files/users, DIR/central.files/audit.log); `promote`
 * installs them as DIR/users and DIR/audit.log. */
#define STANDBY_FILES_DIR	"central.files"
/* Exit code of serve's node process: promoted, run again as central. */
#define STANDBY_PROMOTED	100

/* What central's store needs besides the store: central's signing key
 * (its own entries, EPOCH) and data key (sealed values). */
struct standby_secrets {
	uint8_t	sign_pub[CRYPTO_SIGN_PUB];
	uint8_t	sign_sec[CRYPTO_SIGN_SEC];
	uint8_t	datakey[CRYPTO_KEY];
	/* Central only, never sent nor saved: its node's own data key, which
	 * seals DIR/htcds.key (on a promoted central not the store's). */
	uint8_t	own[CRYPTO_KEY];
};

/* Loads DIR/central.secrets, sealed under this node's own data key.
 * Returns 0, E_NOTFOUND (no such file), E_AUTH or E_IO. */
int	standby_secrets_load(const char *dir, const uint8_t own[CRYPTO_KEY],
	    struct standby_secrets *s, char *err, size_t errsz);
int	standby_secrets_save(const char *dir, const uint8_t own[CRYPTO_KEY],
	    const struct standby_secrets *s, char *err, size_t errsz);

/* The standby link as either side last saw it (DIR/standby.status). */
struct standby_status {
	char		node[HLC_NODE_MAX + 1];	/* the other side */
	uint64_t	txn;		/* central's state the replica holds */
	uint64_t	entries;	/* entries in the replica */
	uint64_t	central_entries;	/* central's, at last contact */
	uint64_t	current_ms;	/* the replica was central's state
					 * then (0: never) */
	uint64_t	contact_ms;	/* last answer on the link */
	char		error[400];
	/* The standby's copies of central's console files (AUX). */
	uint64_t	users_ms;	/* the users copy was central's file
					 * then (0: never) */
	int		audit_rec;	/* audit_off below is recorded */
	uint64_t	audit_off;	/* bytes of central's audit log held,
					 * written and fsync'd */
	uint64_t	audit_size;	/* central's, at last contact */
	uint64_t	audit_ms;	/* the copy was all of central's log
					 * then (0: never) */
	/*
	 * Central's side: what the standby said it holds at its last AUXASK
	 * (ask_ms), for `status` to compare with central's files as they
	 * are now.  users_ms, audit_off (audit_rec set), audit_size and
	 * audit_ms above then mean the same as on the standby, as central saw
	 * them at that AUXASK.  users_sum: the SHA-256 of the standby's users
	 * copy, in hex ("" none); audit_sum: of the last MSG_AUDIT_SUMWIN
	 * bytes before audit_off ("" when audit_off is 0).
	 * The standby's side: ask_ms is the last AUX.
	 */
	uint64_t	ask_ms;
	char		users_sum[2 * MSG_HASH_LEN + 1];
	char		audit_sum[2 * MSG_HASH_LEN + 1];
	/* Central's HTCDS pseudonym key (enum standby_key), and when the
	 * standby's copy was last known to be central's key (0: never).
	 * Central's side also: key_mtime, the mtime in ms of its htcds.key at
	 * that AUXASK (0: it had none). */
	int		key_state;
	uint64_t	key_ms;
	uint64_t	key_mtime;
};

/* The standby's copy of central's HTCDS key, as the last AUX left it. */
enum standby_key {
	STANDBY_KEY_UNKNOWN = 0,	/* not asked: an older standby or
					 * central */
	STANDBY_KEY_SAME = 1,		/* the standby holds central's key */
	STANDBY_KEY_SENT = 2,		/* central's side: it differed; sent */
	STANDBY_KEY_NONE = 3,		/* central has none (nor the standby) */
	STANDBY_KEY_UNREAD = 4,		/* central could not read its own */
};

/*
 * Central's `status` (and console): the standby's copies compared with
 * central's files as they are now, from what the standby said at its
 * last AUXASK (ss, read from central's DIR/standby.status).
 */
struct standby_view {
	int		asked;		/* an AUXASK was ever recorded */
	int		users_central;	/* central has a users file */
	int		users_current;	/* the standby's copy is that file */
	uint64_t	audit_size;	/* central's audit log now */
	uint64_t	audit_held;	/* of it, bytes the standby holds */
	uint64_t	audit_lag_bytes, audit_lag_lines;
	int		key_asked;	/* the standby asks for the key */
	int		key_central;	/* central has an htcds.key */
	int		key_current;	/* the standby's copy is central's */
};

void	standby_view_central(const char *dir, const struct standby_status *ss,
	    struct standby_view *v);

int	standby_status_read(const char *dir, struct standby_status *s);
int	standby_status_write(const char *dir, const struct standby_status *s);

/* EPOCH: the signature of (node, epoch) by central's signing key. */
void	standby_epoch_sign(const char *node, uint64_t epoch,
	    const uint8_t sec[CRYPTO_SIGN_SEC], uint8_t sig[MSG_SIG_LEN]);
int	standby_epoch_ok(const char *node, uint64_t epoch,
	    const uint8_t pub[CRYPTO_SIGN_PUB], const uint8_t sig[MSG_SIG_LEN]);

/* Central: the epoch of a later central that fenced this one (0: not
 * fenced). */
uint64_t standby_fenced(struct store *st);
/* Central: a province sent EPOCH.  When it is a later epoch signed with
 * this central's own key, records that this central is fenced and
 * returns 1. */
int	standby_fence_claim(struct store *st, const char *node,
	    const uint8_t sign_pub[CRYPTO_SIGN_PUB], const struct msg *r);
/* The one line a fenced central answers and logs. */
void	standby_fenced_text(uint64_t by, char *out, size_t sz);

/* Central's side of the link. */
struct sbsrv;

/* dir: the node directory (for the snapshot and the status file); name:
 * the node that may follow (`standby` in casesync.conf). */
struct sbsrv *standby_srv_new(struct store *st, const char *dir,
	    const char *name, const struct standby_secrets *sec);
void	standby_srv_free(struct sbsrv **s);
/*
 * Synchronous mode (standby_sync = on, docs/HA.md): central holds each
 * ACK of a province's batch until the standby holds a copy of central's
 * state at or after the commit of that batch (txn: LMDB's transaction id
 * after the commit).  wait_ms: how long an ACK may wait before central
 * degrades to asynchronous (async) or logs that it keeps waiting.
 */
void	standby_srv_sync(struct sbsrv *s, int on, uint64_t wait_ms,
	    int async);
/* 1: the ACK of the state at txn must wait (s may be NULL: never). */
int	standby_srv_hold(struct sbsrv *s, uint64_t txn);
/* Held ACKs of states up to this may go now. */
uint64_t standby_srv_released(const struct sbsrv *s);
/* Timer: oldest_ms (mono_ms) is when the oldest held ACK was held (0:
 * none); degrades or logs once the wait is too long. */
void	standby_srv_waiting(struct sbsrv *s, uint64_t oldest_ms);
/* A FOLLOW from the node whose key is enrolled as user. */
void	standby_srv_follow(struct sbsrv *s, struct net *n, const uint8_t *id,
	    size_t idlen, const char *user, const struct msg *r);

/* Central's secrets for its standby: the signing key of id, and the data
 * key of its store (from DIR/central.secrets on a promoted standby, else
 * DIR/data.key or the passphrase). */
int	standby_node_secrets(const char *dir, const char *pass,
	    const struct identity *id, struct standby_secrets *s, char *err,
	    size_t errsz);

/*
 * Province: the order in which to try the endpoints of `central`
 * (docs/HA.md, *Province failover*): the one that last answered as a valid
 * central first (remembered in the store, "cendpoint"), then the others in
 * the list's order.  order gets neps indexes into eps.
 */
void	standby_central_order(struct store *st,
	    char eps[][NODECFG_ENDPOINT_MAX], char names[][HLC_NODE_MAX + 1],
	    int neps, int order[]);
/* Province: the endpoint (with its name, "" when unnamed) answered as a
 * valid central; remembered, durably, when it is not already. */
void	standby_central_answered(struct store *st, const char *ep,
	    const char *name);
/*
 * Province: shows the highest central epoch it has seen, signed, to the
 * central at ep (CURVE key in no->server_pub), which this sync passed
 * over: an old central come back there fences itself.  Waits at most ms
 * for the connection.  cname: central's name.  Returns 1 when sent.
 */
int	standby_epoch_show(struct store *st, const char *cname,
	    const char *ep, const struct net_opts *no, int ms);

/*
 * The standby's loop (`serve` on a standby): follows central at
 * cfg->primary, whose CURVE key is central_curve, until *quit (returns 0)
 * or until `promote` changed the configuration (STANDBY_PROMOTED).  own is
 * this node's data key (for DIR/central.secrets).
 */
int	standby_follow(const char *dir, const struct nodecfg *cfg,
	    const struct identity *id, const uint8_t central_curve[CURVE_KEY],
	    const uint8_t own[CRYPTO_KEY], volatile sig_atomic_t *quit);

#endif

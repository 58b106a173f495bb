/*
 * keyhist.h - the keys a node has had, and from which chain position each
 * one signs (docs/SECURITY.md, "Key lifecycle").
 *
 * Every node's signing and transport keys carry an epoch: 0 for the keys
 * made at `init` (or enrolled first), one more at each `casesync key
 * rotate` accepted by central or each new key enrolled with `trust`.  An
 * epoch record says from which own position (an entry's seq, with its
 * incarnation in the high 32 bits: proto/entry.h) the key signs; the key
 * of epoch e signs positions [from(e), from(e + 1)).  So an entry verifies
 * against the key valid for its origin at the entry's position, whatever
 * the clocks say, and an old entry keeps verifying after the key changed.
 *
 * A key may be revoked from a position (`casesync revoke --from-seq N`):
 * entries of its range at or after N are then refused or flagged.
 *
 * How a record is authenticated:
 *   KH_ENROLLED  central's operator enrolled the key (`trust`), or it is
 *                the key a node had before any record was kept;
 *   KH_HANDOVER  the node signed the change over to the key with the key of
 *                the epoch before (keyhist_handover_*); central accepts a
 *                hand-over only under the node's current key, and `verify`
 *                checks every hand-over signature again;
 *   KH_RELAYED   a province learned the record from central (KEYS), over
 *                the CURVE link to the central it pins: central's word, as
 *                for any key of another origin.
 *
 * The records live in the store's "keyhist" table: key = node \0
 * be32(epoch), value = struct keyhist_disk (fixed size, checked on read).
 * When a node has no record, its key is the one in the keys table (or this
 * node's own), valid for every position: what every node had before key
 * history existed.
 */
#ifndef CASESYNC_KEYHIST_H
#define CASESYNC_KEYHIST_H

#include <stddef.h>
#include <stdint.h>

#include "../common/crypto.h"
#include "../common/hlc.h"

#define KEYHIST_MAX		32	/* epochs kept per node */
#define KEYHIST_HO_MAX		(24 + HLC_NODE_MAX + 1 + 8 + 3 * 32)

enum keyhist_how {
	KH_ENROLLED = 1,
	KH_HANDOVER = 2,
	KH_RELAYED = 3,
};

struct keyhist_epoch {
	char		node[HLC_NODE_MAX + 1];
	uint32_t	epoch;
	uint32_t	how;		/* enum keyhist_how */
	uint64_t	from;		/* first position the key signs */
	uint64_t	revoked_from;	/* 0: not revoked */
	uint32_t	confirmed;	/* own key: central accepted the
					 * hand-over */
	uint8_t		sign_pub[CRYPTO_SIGN_PUB];
	uint8_t		curve_pub[32];
	uint8_t		sig[CRYPTO_SIG];	/* KH_HANDOVER: by the
						 * previous key */
};

/*
 * On an open transaction of the store (txn is an MDB_txn *, dbi the
 * keyhist table; store.c passes them, see store_keyhist_run).
 */
/* The epoch whose range holds pos: 0 with *until = the next epoch's from
 * (UINT64_MAX for the latest), or E_NOTFOUND when node has no record. */
int	keyhist_at_txn(void *txn, unsigned dbi, const char *node, uint64_t pos,
	    struct keyhist_epoch *out, uint64_t *until);
/* Every record of node, by epoch.  *n gets the count (at most max). */
int	keyhist_list_txn(void *txn, unsigned dbi, const char *node,
	    struct keyhist_epoch *out, size_t max, size_t *n);
/* Writes (replaces) one record. */
int	keyhist_put_txn(void *txn, unsigned dbi, const struct keyhist_epoch *);

/* The same, each in a transaction of its own. */
struct store;
int	keyhist_at(struct store *, const char *node, uint64_t pos,
	    struct keyhist_epoch *out, uint64_t *until);
int	keyhist_list(struct store *, const char *node,
	    struct keyhist_epoch *out, size_t max, size_t *n);
int	keyhist_put(struct store *, const struct keyhist_epoch *);

/*
 * This node's own records, from its identity (identity.h): writes the
 * record of the current key (and of the one before, when there is no
 * record yet) if `key rotate` was cut before it did.  *confirmed is set
 * when a rotation is pending (id->has_prev) and central has taken it:
 * the previous keys may go.  Returns 0 or a store error.
 */
struct identity;
int	keyhist_own_sync(struct store *, const char *node,
	    const struct identity *id, int *confirmed);

/*
 * Checks node's records: epochs in order with ranges that go up, and every
 * KH_HANDOVER record signed by the key of the epoch before it.  Returns
 * 0, E_INTEGRITY with the first problem in err, or a store error.
 */
int	keyhist_check(struct store *, const char *node, char *err,
	    size_t errsz);

/*
 * A hand-over: node changes from the key old_pub to (sign_pub, curve_pub),
 * which signs its positions from `from` on.  The signed text is
 * "casesync-handover-v1" \0 node \0 be64(from) old_pub sign_pub curve_pub.
 */
int	keyhist_handover_sign(const uint8_t old_sec[CRYPTO_SIGN_SEC],
	    const char *node, uint64_t from,
	    const uint8_t old_pub[CRYPTO_SIGN_PUB],
	    const uint8_t sign_pub[CRYPTO_SIGN_PUB],
	    const uint8_t curve_pub[32], uint8_t sig[CRYPTO_SIG]);
/* Returns 1 when sig is old_pub's signature of that hand-over, else 0. */
int	keyhist_handover_check(const char *node, uint64_t from,
	    const uint8_t old_pub[CRYPTO_SIGN_PUB],
	    const uint8_t sign_pub[CRYPTO_SIGN_PUB],
	    const uint8_t curve_pub[32], const uint8_t sig[CRYPTO_SIG]);

#ifdef SELFTEST
int	keyhist_selftest(void);
#endif

#endif

/*
 * apply_int.h - what the files of the apply path share, and nothing else
 * includes (it needs store_int.h first):
 *   authorise.c     who may write a case, and what an entry may hold;
 *   apply.c         an accepted entry applied (apply_entry);
 *   own.c           this node's own entries: local writes, and own
 *                   entries given back after a restore;
 *   batch.c         a received batch: what both roles do with a record;
 *   from_province.c central takes a province's batch, and GIVE;
 *   from_central.c  a province takes its feed from central;
 *   group.c         central's group commit.
 * Dependencies run one way: group -> from_province, from_central -> batch
 * -> apply, authorise; own -> apply, authorise.
 *
 * Every function that takes an MDB_txn works inside the caller's write
 * transaction and never ends it.
 */
#ifndef CASESYNC_APPLY_INT_H
#define CASESYNC_APPLY_INT_H

#include "store_int.h"

/* ---- authorise.c: the policy ---- */

/* Is there a transfer op to node in e (the op that creates a case)? */
int	creates_for(const struct entry *e, const char *node);
/* Does e only erase?  An erase is a tombstone whose stamp wins nothing
 * (merge.h), so the skew bound has nothing to protect there, while
 * refusing it would keep a person's data that its origin has already
 * redacted for good (docs/RELIABILITY.md, bug 3). */
int	erase_only(const struct entry *e);
/* Central: are e's base and also[] stamps within the skew bound (w: the
 * wall clock, ms)? */
int	stamps_within_skew(const struct entry *e, uint64_t w,
	    uint64_t skew_ms);
/* Every op of e against the schema, and no path set twice: 0, or E_INVAL
 * with why (an erased identifying value is not checked).  Needs nothing
 * from the store. */
int	check_ops(const struct entry *e, char *why, size_t whysz);
/* Central: adds a batch's use to peer's day; E_QUOTA (why says which)
 * when that goes over a limit. */
int	quota_charge(struct store *st, MDB_txn *t, const char *peer,
	    const struct apply_stats *as, char *why, size_t whysz);
/*
 * A local write of e to case s as loaded (dropped: the row was folded
 * from the log, keep_transferred = no): 0, or E_CONFLICT with why when
 * this node may not write it (offers, a read-only copy, another owner, an
 * identifying field of an erased case).
 */
int	authorise_local(struct store *st, const struct case_state *s,
	    const struct entry *e, int dropped, char *why, size_t whysz);

struct preload;
/*
 * Central's authorisation of an entry from a province: its origin owns
 * the case now, or owned it when it wrote the entry (hw: the latest stamp
 * central holds from the origin).  0, E_AUTH with why, or another error.
 * pre gets the case's row as loaded (the caller releases it, or passes it
 * on to apply_entry), whatever the answer.
 */
int	authorise(struct store *st, MDB_txn *t, const struct entry *e,
	    uint64_t hw, struct preload *pre, char *why, size_t whysz);
/*
 * Central, for an entry of a province's run: an entry outside the
 * origin's latest key must verify on its own; h is its chain hash.
 * *krev gets the position from which the key of the entry's range is
 * revoked when the entry is at or after it, else 0.  0 or E_AUTH.
 */
int	key_range_check(struct store *st, MDB_txn *t, const struct entry *e,
	    const uint8_t *block, const uint8_t h[CRYPTO_HASH],
	    uint64_t *krev);
/* The reason an entry signed with a revoked key is refused. */
void	revoked_why(struct store *st, MDB_txn *t, const struct entry *e,
	    char *why, size_t whysz);

/* ---- apply.c: an accepted entry applied ---- */

/*
 * Applies an accepted entry: log, case index, case state, feeds.  block is
 * its signature block (NULL: unsigned).  The entry of an erased case is
 * stored redacted.  r is the record as received (NULL: a local write); it
 * is stored as it is unless redaction changes the entry.  *how gets
 * APPLY_HELD when (origin, seq) was already in the log (nothing done), and
 * APPLY_MOVED_AWAY when the entry took a case away from this province.
 */
#define APPLY_HELD		0x1
#define APPLY_MOVED_AWAY	0x2
#define APPLY_OVER_LIMIT	0x4	/* nothing written: see why */
#define APPLY_NEW_CASE		0x8	/* the entry created the case */

/*
 * The row of a case as a caller loaded it (case_load_raw) before it
 * decided to apply an entry: rc 0 with s, E_NOTFOUND, or PRELOAD_NONE
 * when nothing was loaded.  apply_entry takes it over, so that the case
 * is read and decoded once.
 */
#define PRELOAD_NONE	1
struct preload {
	int			rc;
	struct case_state	s;
};

/* Drops what pre holds (NULL: nothing); pre is PRELOAD_NONE after. */
void	preload_release(struct preload *pre);
/* With why != NULL, an entry that would take the case over a soft limit
 * (merge.h) is not applied: *how gets APPLY_OVER_LIMIT and why the
 * reason.  pre (NULL: none) is the case's row as the caller loaded it in
 * this transaction; apply_entry releases it. */
int	apply_entry(struct store *st, MDB_txn *t, struct entry *e,
	    const uint8_t *block, const struct rec *r, struct preload *pre,
	    int *how, char *why, size_t whysz);

/* ---- batch.c: a received batch ---- */

/*
 * A received batch, applied in one transaction: what the loop over its
 * records carries from one to the next.
 */
struct batch {
	const char		*peer;
	const struct rec	*recs;
	size_t			 n;
	struct apply_stats	*stats;
	char			*err;
	size_t			 errsz;
	struct peer_info	 pi;
	struct hlc		 clock;
	uint64_t		 w;		/* wall clock, ms */
	uint64_t		 cursor;	/* last position covered */
	struct crypto_sha	*sh;	/* SHA-256, prepared once a batch */
	/* Central: the province's chain, and the last entry of its run:
	 * its seq, signature block and chain hash (which the signature
	 * covers). */
	uint8_t			 chain[CRYPTO_HASH];
	uint64_t		 tail_seq;
	uint8_t			 tail_block[SIGN_BLOCK];
	uint8_t			 tail_h[CRYPTO_HASH];
	int			 have_tail;
	uint64_t		 hw;	/* the latest stamp taken from the
					 * peer (authorise) */
	/* Province: the entry at the last feed position. */
	uint8_t			 fref[LOGKEY_MAX];
	size_t			 freflen;
};

/* A role's check returns this when it dealt with the record itself (a
 * duplicate, our own entry): nothing more is done with it. */
#define BATCH_TAKEN	(-1)

/*
 * What a role does with one record of a batch, between the steps both
 * roles share (batch_one).
 */
struct batch_role {
	int	any_fork;	/* any later incarnation may start here */
	int	soft_limits;	/* refuse an entry over a soft limit */
	/*
	 * Checks the decoded entry e of record r (block: its signature
	 * block; d: the digest its signature covers; fork: r starts a new
	 * incarnation).  Returns 0 with why set to the reason to refuse it
	 * (empty: apply it), BATCH_TAKEN, or an error that fails the batch
	 * (b->err says why).  May load the case into pre.
	 */
	int	(*check)(struct store *, MDB_txn *, struct batch *b,
		    const struct rec *r, int fork, struct entry *e,
		    const uint8_t *block, const uint8_t *d,
		    struct preload *pre, char *why, size_t whysz);
	/* After e went through apply_entry (new or held); NULL: nothing. */
	int	(*applied)(struct store *, MDB_txn *, struct batch *b,
		    const struct entry *e);
};

/* One record of a batch: its position, its decoding, the role's check,
 * then refused or applied (batch_accept). */
int	batch_one(struct store *st, MDB_txn *t, struct batch *b,
	    const struct batch_role *role, const struct rec *r);
/* Both roles: the batch's clock and peer record, read first; and
 * written last. */
int	batch_begin(struct store *st, MDB_txn *t, struct batch *b);
int	batch_end(struct store *st, MDB_txn *t, struct batch *b);
/* *bp: a new batch of n records from peer (all borrowed, and stats and
 * err written, until batch_free; caller owns *bp).  Fails only when its
 * hash cannot be prepared (*bp NULL). */
int	batch_new(const char *peer, const struct rec *recs, size_t n,
	    struct apply_stats *stats, char *err, size_t errsz,
	    struct batch **bp);
void	batch_free(struct batch **);
/*
 * A batch of n records from peer in one write transaction of its own:
 * fn (a role's txn_run function) over it.  An empty batch changes
 * nothing: pos reads the position it would have reached, in a read
 * transaction, without the fsync of a commit.
 */
int	batch_run(struct store *st, const char *peer, const struct rec *recs,
	    size_t n, struct apply_stats *stats, char *err, size_t errsz,
	    int (*fn)(struct store *, MDB_txn *, void *),
	    int (*pos)(struct store *, MDB_txn *, const char *, uint64_t *));

/* ---- from_province.c, from_central.c: each role's batch ---- */

/* Central: a batch (struct batch) from a province (txn_run). */
int	from_province_fn(struct store *st, MDB_txn *t, void *arg);
/* Central: the position a province's batches have reached. */
int	from_province_pos(struct store *st, MDB_txn *t, const char *peer,
	    uint64_t *pos);

#ifdef SELFTEST
/* Selftests: enrols node's signing key pub in st, as active. */
int	batch_test_enrol(struct store *st, const char *node,
	    const uint8_t pub[32]);
#endif

#endif

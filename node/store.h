/*
 * store.h - the node's LMDB store: case table, change log, version vector,
 * per-peer feeds and cursors, conflicts.  The only module that includes
 * lmdb.h; it exposes domain operations, never MDB_val.
 *
 * Every write is ONE LMDB write transaction: a local write appends its entry
 * and updates the case; a received batch applies all its entries, the
 * vector and the feeds.  A transaction begins and ends in one function here.
 * When the map is full the transaction is aborted, the map grown and the
 * whole transaction run again, so MDB_MAP_FULL is never fatal.
 */
#ifndef CASESYNC_STORE_H
#define CASESYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/hlc.h"
#include "../proto/entry.h"
#include "../proto/msg.h"
#include "../proto/state.h"

struct store;

#define STORE_ROLE_PROVINCE	"province"
#define STORE_ROLE_CENTRAL	"central"
#define STORE_BATCH_MAX		1024		/* records per batch */
#define STORE_BATCH_BYTES	(1024 * 1024)	/* bytes per batch */
#define STORE_REF_MAX		(HLC_NODE_MAX + 9)	/* origin \0 be64(seq) */
#define STORE_REASON_MAX	200	/* a refusal's reason as sent, bytes
					 * (proto/msg.h MSG_REASON_MAX) */
/* The reason a province keeps for a refusal notice that carried none: a
 * notice of another province's entry (feed_refused), or from a central of
 * before the reasons travelled.  The console tells it apart. */
#define STORE_REASON_NONE	"refused by central"

struct store_info {
	char		node[HLC_NODE_MAX + 1];
	char		role[16];
	uint64_t	seq;		/* last local seq */
	uint64_t	hlc;		/* last HLC issued or seen */
	uint64_t	ncases;
	uint64_t	nentries;	/* change log length, all origins */
	uint64_t	nconflicts;	/* fields with open conflicts */
	uint64_t	map_size;
	uint64_t	inc;		/* incarnation: 0 until restored */
	uint64_t	layout;		/* the store's key layout (migrate.c) */
};

/* What a node remembers about one peer (central: each province;
 * province: central). */
struct peer_info {
	char		node[HLC_NODE_MAX + 1];
	uint64_t	last_sync_ms;	/* last session that completed */
	uint64_t	last_attempt_ms;
	uint64_t	sent_acked;	/* province: own seq central acked */
	uint64_t	feed_acked;	/* central: feed position acked */
	uint64_t	feed_recv;	/* province: feed position applied;
					 * central: feed_acked as of the
					 * province's latest HELLO */
	uint64_t	refused;	/* entries refused from/at this peer */
	char		last_error[128];
};

/* A record copied out of the log, with its position in a scan. */
struct rec {
	uint64_t	pos;		/* seq (origin scan) or feed position */
	uint8_t		*data;		/* owned */
	size_t		 len;
	int		 refused;	/* from the refused table (scan_origin):
					 * central refused it before */
	/* Central's feed: why central refused this entry of the peer's own
	 * (a refusal notice); a province: the reason the notice carried.
	 * reasonlen bytes, not terminated, no NUL; owned in a scanned batch
	 * (rec_batch_free), borrowed from the message otherwise; NULL/0
	 * when none. */
	char		*reason;
	size_t		 reasonlen;
};

struct rec_batch {
	struct rec	*recs;
	size_t		 n;
	size_t		 bytes;
	int		 more;		/* the scan stopped at a limit */
};

struct apply_stats {
	uint64_t	applied;	/* new entries applied */
	uint64_t	duplicates;	/* already held: no-ops */
	uint64_t	refused;	/* refused with a logged reason */
	uint64_t	last_pos;	/* highest position now covered */
	uint64_t	moved_away;	/* province: cases it no longer owns */
	uint64_t	bytes;		/* record bytes applied or refused */
	uint64_t	new_cases;	/* cases the batch created */
	uint64_t	referrals;	/* transfers to another province */
};

/* Opens (creating if need be) the store in dir/data.mdb.  Returns 0, E_IO
 * (missing or unreadable directory, with the reason in err) or E_STORE. */
int	store_open(const char *dir, struct store **out, char *err,
	    size_t errsz);
void	store_close(struct store **st);

/*
 * Warms a node process that has just started (docs/PERFORMANCE.md, "The
 * nightly at 100,000 cases").  A long-running process has touched its heap
 * and the pages of the map it reads; one that has just started touches
 * them in its first sessions, and a first touch costs 10-50 us a page in
 * the VMs we run on.  So: 16 MiB of heap, where LMDB's dirty pages and the
 * apply's buffers come from, is populated as huge pages and kept; and the
 * pages of the store already in the page cache are mapped into the
 * process in a few system calls (nothing is read from disk: pages not in
 * memory fault as before).  Best effort: returns the number of pages
 * warmed, 0 where the kernel lacks MADV_POPULATE_* (Linux < 5.14).  Sets
 * the process's malloc parameters (store.c), so only the long-running
 * node process calls it (central's serve): a short command would pay for
 * pages it never reads.
 */
uint64_t store_warm(struct store *st);

/* Records the node id and role of a new store.  E_INVAL if already set. */
int	store_init_node(struct store *st, const char *node, const char *role);
/* Fills *info.  E_NOTFOUND when the store was never initialised. */
int	store_info(struct store *st, struct store_info *info);

/*
 * Gives the store the node's signing key and data key (copied; wiped at
 * close).  The first call on a new store records a check value sealed with
 * the data key; later calls verify it.  Returns 0, or E_AUTH when the data
 * key is not the one this store was created with (wrong passphrase).
 */
int	store_set_keys(struct store *st, const uint8_t sign_sec[32],
	    const uint8_t sign_pub[32], const uint8_t datakey[32]);

/* Keys of other nodes.  Central: enrolled provinces (active or revoked).
 * Province: central's pinned key (active) and, relayed by central, the
 * signing keys of other origins (known: used only to verify entries). */
enum key_status { KEY_ACTIVE = 1, KEY_REVOKED = 2, KEY_KNOWN = 3 };

struct node_key {
	char		node[HLC_NODE_MAX + 1];
	int		status;		/* enum key_status */
	uint64_t	since_ms;
	uint8_t		sign_pub[32];
	uint8_t		curve_pub[32];
};

/* The signature status of an entry signed with a key revoked from a
 * position at or before its own (keyhist.h), as `case history` gets it:
 * 1 verified, 0 failed, -1 unsigned, -2 key unknown, or this. */
#define STORE_SIG_REVOKED	(-3)

int	store_key_put(struct store *st, const struct node_key *nk);
/* Runs fn on the key history table (keyhist.c): txn is an MDB_txn *, dbi
 * the table; in a write transaction committed when fn returns 0 when
 * write is set, else read-only.  Returns fn's result or a store error. */
int	store_keyhist_run(struct store *st, int write,
	    int (*fn)(void *txn, unsigned dbi, void *arg), void *arg);
/* Returns 0 or E_NOTFOUND. */
int	store_key_get(struct store *st, const char *node, struct node_key *nk);
int	store_key_each(struct store *st,
	    int (*fn)(const struct node_key *, void *), void *arg);

/* Sets the skew bound (ms) used for remote stamps and the test-only clock
 * offset (ms, signed) added to the wall clock. */
void	store_set_clock(struct store *st, uint64_t skew_ms, int64_t offset_ms);

/* keep = 0 (keep_transferred = no): a province keeps no row for a case
 * once it is transferred away, instead of a read-only copy without
 * identifying fields.  Its entries stay in the log: they are this node's
 * history, and central may not have acknowledged them yet.  Default 1. */
void	store_set_keep_transferred(struct store *st, int keep);

/*
 * Central: what one province may add in a UTC day (0: no limit).  A batch
 * that would go over is not applied at all (E_QUOTA, the reason in err):
 * nothing is lost, the province keeps its entries and sends them on a
 * later day.  Entries and bytes count what was applied or refused, so
 * refused junk costs quota too; referrals count transfers to another
 * province.
 */
struct quota {
	uint64_t	entries;
	uint64_t	bytes;
	uint64_t	cases;		/* new cases */
	uint64_t	referrals;
};

void	store_set_quota(struct store *st, const struct quota *q);
/* What peer used on UTC day *day (days since 1970; the current one, or
 * the last day it sent anything).  Returns 0; *used zeroed when never. */
int	store_quota_get(struct store *st, const char *peer, uint64_t *day,
	    struct quota *used);

/*
 * Local writes: each entry in es[n] names its case_id, author and ops.  For
 * every OP_SET whose base is empty the store fills in the current winner's
 * stamp (the value the author saw).  The store assigns origin, seq and hlc,
 * checks ownership (only the owner or central may change a case; a case is
 * created by an entry whose ops include OP_TRANSFER to this node), checks
 * each op against the schema, applies, and appends to the log, all in ONE
 * transaction.  Returns 0; E_NOTFOUND (no such case), E_CONFLICT (not the
 * owner, read-only copy), E_INVAL (schema); E_FULL; E_STORE.  On error
 * nothing is written and err names the first bad entry ("entry N: ...").
 */
int	store_write_local(struct store *st, struct entry *es, size_t n,
	    char *err, size_t errsz);

/* Copies the current state of case id into *s (caller owns; release with
 * state_release).  Returns 0 or E_NOTFOUND. */
int	store_case_get(struct store *st, const char *id, struct case_state *s);

/* As store_case_get, but identifying values stay sealed (reports, lists:
 * they never need them).  store_case_open opens them in place. */
int	store_case_get_sealed(struct store *st, const char *id,
	    struct case_state *s);
int	store_case_open(struct store *st, struct case_state *s);

/* Calls fn for every case in id order; fn returns non-zero to stop.  The
 * state is borrowed for the call only; its identifying values are still
 * sealed (use store_case_open on a copy to read them).  Returns 0 or the
 * first error. */
int	store_case_each(struct store *st,
	    int (*fn)(const struct case_state *, void *), void *arg);

/* As store_case_each, over the cases with a referral offer that waits
 * for its answer or was answered (offerset.c): the candidates of
 * referral_each. */
int	store_offers_each(struct store *st,
	    int (*fn)(const struct case_state *, void *), void *arg);

/* As store_case_each, over the cases with a field of more than one head
 * only (conflict_candidate): the conflict queue's candidates, kept as a
 * set in the same transaction as each case. */
int	store_conflicted_each(struct store *st,
	    int (*fn)(const struct case_state *, void *), void *arg);

/*
 * Name search on the blind index (nameidx.h): calls fn with the id of
 * each case (at most max) whose full name has, for every word of query,
 * a word starting with it (folded: case and diacritics ignored).  No
 * sealed value is opened.  fn returns non-zero to stop (a negative value
 * stops without an error).  Returns 0, E_INVAL (no word in query),
 * E_AUTH (no data key) or a store error.
 */
int	store_name_search(struct store *st, const char *query, size_t max,
	    int (*fn)(const char *case_id, void *), void *arg);

/* Calls fn with every log entry of case id, in HLC order, with whether its
 * signature verified (-1: unsigned).  Returns 0 or E_NOTFOUND. */
int	store_case_history(struct store *st, const char *id,
	    int (*fn)(const struct entry *, int sig_ok, void *), void *arg);

/* Rebuilds every case from the log and compares with the case table.
 * Returns 0 when they agree, E_INTEGRITY otherwise, with a count of
 * mismatching cases in *bad and a description of the first in err. */
int	store_verify(struct store *st, uint64_t *ncases, uint64_t *nentries,
	    uint64_t *bad, char *err, size_t errsz);

/* Scans this node's own entries with seq > after into *b (limits:
 * STORE_BATCH_MAX records, max_bytes).  Caller owns *b (rec_batch_free). */
int	store_scan_own(struct store *st, uint64_t after, size_t max_bytes,
	    struct rec_batch *b);
/* Central: scans the feed of peer with position > after. */
int	store_scan_feed(struct store *st, const char *peer, uint64_t after,
	    size_t max_bytes, struct rec_batch *b);
void	rec_batch_free(struct rec_batch *b);
/* Central: calls fn once for every origin (at most STORE_ORIGINS_MAX) of
 * the entries in peer's feed after position after.  The name is borrowed
 * for the call.  Returns 0 or the first non-zero result of fn. */
#define STORE_ORIGINS_MAX	256
int	store_feed_origins(struct store *st, const char *peer, uint64_t after,
	    int (*fn)(const char *, void *), void *arg);

/*
 * Applies records received from peer in ONE transaction; each role has
 * its own function (node/from_province.c, node/from_central.c).
 * store_apply_from_province, central receiving from a province: positions
 * are the province's seqs; each must be the next seq of that origin
 * (duplicates are no-ops, a gap is E_GAP and nothing is applied).  Entries
 * whose origin is not the peer are E_PROTO.  An entry for a case the peer
 * may not change is refused (counted, logged, kept out of the case table)
 * and the rest applies.  Remote stamps beyond the skew bound are refused,
 * and so is an entry that would take its case over a soft limit
 * (merge.h).
 * store_apply_from_central, a province receiving from central: positions
 * are feed positions; each must be the next one (E_GAP otherwise).
 * Entries already held are no-ops.
 * Returns 0 with *stats, E_PROTO / E_GAP / E_AUTH / E_QUOTA / E_FULL /
 * E_STORE with nothing applied.
 */
int	store_apply_from_province(struct store *st, const char *peer,
	    const struct rec *recs, size_t n, struct apply_stats *stats,
	    char *err, size_t errsz);
int	store_apply_from_central(struct store *st, const char *peer,
	    const struct rec *recs, size_t n, struct apply_stats *stats,
	    char *err, size_t errsz);

/*
 * Central's group commit (node/group.c): applies several batches received
 * from provinces, from one or many, in ONE write transaction, each as
 * store_apply_from_province would, in the order given.  Each batch runs
 * in its own nested transaction, so one that fails (a gap, a bad
 * signature, a quota) is rolled back alone and the others still commit.
 * A peer's batches are a sequence: after one of them fails, its later
 * batches in the group are not tried (skipped set, rc 0).  Returns 0 when the transaction committed: then each item's rc
 * says how its batch went (0: applied, stats set) and err why not.
 * Otherwise nothing of the group is applied, and every batch not failed
 * or skipped already gets the transaction's error.  Nothing is durable,
 * and so nothing may be acknowledged, before this returns.
 */
struct precheck_job;
struct apply_item {
	const char		*peer;		/* borrowed */
	const struct rec	*recs;		/* borrowed */
	size_t			 n;
	/* recs as the checking thread decodes them (store_precheck_submit;
	 * borrowed), NULL: decoded in the apply. */
	struct precheck_job	*job;
	struct apply_stats	 stats;		/* out */
	int			 rc;		/* out */
	int			 skipped;	/* out */
	char			 err[256];	/* out */
};
int	store_apply_group(struct store *st, struct apply_item *items,
	    size_t n);

/*
 * Central's checking thread (node/precheck.c; docs/PERFORMANCE.md, "The
 * two-thread pipeline"): the records of received batches decoded, their
 * signature digests hashed and their ops checked against the schema on a
 * thread of its own, while this one applies and commits the batches
 * before them.  It never touches the store.
 * store_precheck_new starts the thread (caller owns *pc); store_precheck_
 * free stops it, after every job was freed.  store_precheck_submit queues
 * the n records recs (borrowed, unchanged, until the job is freed) and
 * returns the job (caller owns; it waits while PRECHECK_JOBS are queued),
 * for apply_item.job.  store_precheck_job_free waits until the thread is
 * done with the job (it stops early) and drops what the apply did not
 * take; NULL is fine.
 */
#define PRECHECK_JOBS	32
struct store_precheck;
int	store_precheck_new(struct store_precheck **pc);
void	store_precheck_free(struct store_precheck **pc);
struct precheck_job *store_precheck_submit(struct store_precheck *pc,
	    const struct rec *recs, size_t n);
void	store_precheck_job_free(struct precheck_job **j);

/* Peer bookkeeping.  store_peer_get returns E_NOTFOUND for a new peer
 * (with *pi zeroed and node set). */
int	store_peer_get(struct store *st, const char *peer,
	    struct peer_info *pi);
int	store_peer_put(struct store *st, const struct peer_info *pi);
/* Reads peer's record, lets fn change it and writes it back, in one write
 * transaction: another process of this node (a second `sync`, `serve`'s
 * session) may move other fields of it meanwhile, and a record read
 * before and written after would put them back (the feed position without
 * the entry at it, docs/RELIABILITY.md).  fn gets a zeroed record with
 * node set for a new peer; its non-zero result aborts. */
int	store_peer_update(struct store *st, const char *peer,
	    int (*fn)(struct peer_info *, void *), void *arg);
/* Calls fn for every known peer. */
int	store_peer_each(struct store *st,
	    int (*fn)(const struct peer_info *, void *), void *arg);
/* Central: the highest feed position queued for peer (0 when none). */
int	store_feed_last(struct store *st, const char *peer, uint64_t *pos);
/* Central: peer holds feed position cursor, of an incarnation this
 * central's feed for it never had (a restore this central's copy
 * predates): queues again, in the current incarnation, every position of
 * an earlier incarnation after what peer acknowledged here; *n how many
 * (feed.c). */
int	store_feed_requeue(struct store *st, const char *peer,
	    uint64_t cursor, size_t *n);
/* Central, at peer's HELLO with feed position cursor: the ends of late
 * offers to peer kept for it (feed.c, endnote) are queued when cursor is
 * not a position of this central's feed (another central served peer),
 * and dropped otherwise; *n how many were queued.  Such a cursor is
 * recorded with the time of the first HELLO that shows it (feed.c,
 * fromother): the end of an offer that reaches central later goes to
 * peer at once when peer came from the other feed since the offer could
 * be routed there.  Returns 0, E_STORE or E_INTEGRITY. */
int	store_endnotes_settle(struct store *st, const char *peer,
	    uint64_t cursor, size_t *n);
/* Calls fn for every refused entry kept for audit (origin, seq, the
 * reason), in (origin, seq) order; fn returns non-zero to stop.  The
 * strings are borrowed for the call only.  Returns 0 or E_STORE. */
int	store_refused_each(struct store *st,
	    int (*fn)(const char *origin, uint64_t seq, const char *reason,
	    void *), void *arg);
/* Like store_refused_each, with the case id of each held record (NULL
 * when the record cannot be read here); never a field value.  Returns 0
 * or E_STORE. */
int	store_refused_cases(struct store *st,
	    int (*fn)(const char *origin, uint64_t seq, const char *case_id,
	    const char *reason, void *), void *arg);
/* The latest refusal of origin's own entries in the refused table (the
 * highest seq): its seq, its reason (into reason, truncated to
 * reasonsz - 1) and its case id.  Returns 0, E_NOTFOUND (none) or a
 * store error. */
int	store_refused_last(struct store *st, const char *origin,
	    uint64_t *seq, char *reason, size_t reasonsz,
	    char case_id[ENTRY_CASE_ID_LEN + 1]);
/* Highest contiguous seq applied from origin (the version vector). */
int	store_vv_get(struct store *st, const char *origin, uint64_t *seq);
/* Calls fn with the number of log entries of each origin, in origin
 * order (seqs of a restored origin are not a count: docs/PROTOCOL.md). */
int	store_log_counts(struct store *st,
	    int (*fn)(const char *, uint64_t, void *), void *arg);
/* Calls fn for every (origin, seq) of the version vector. */
int	store_vv_each(struct store *st,
	    int (*fn)(const char *, uint64_t, void *), void *arg);

/* ---- Backup, restore and recovery (docs/PROTOCOL.md, "Recovery") ---- */

/* Writes a compacted, consistent copy of the store to outdir/data.mdb
 * (outdir exists and holds no data.mdb).  Safe while other processes
 * write.  Returns 0, E_IO or E_FULL with the reason in err. */
int	store_backup(struct store *st, const char *outdir, char *err,
	    size_t errsz);

/*
 * Starts a new incarnation on a store just put back from a backup: the
 * next own seq is (inc, low(backup's seq) + 1), where inc is now_s in
 * seconds since POS_EPOCH_S (above every incarnation the store knows);
 * records the backup's seq as the point after which own entries may have
 * been lost (recover_from); central also moves every feed to the new
 * incarnation.  One transaction.  Returns 0 with *inc and *seq_backup.
 */
int	store_restored(struct store *st, uint64_t now_s, uint64_t *inc,
	    uint64_t *seq_backup);

struct store_recovery {
	uint64_t	inc;		/* current incarnation (0: never) */
	uint64_t	recover_from;	/* own entries after it may be lost */
	int		pending;	/* recover_from is set */
	/* The lowest recover_from of a recovery that ended (0 when none
	 * did): a node that meets, later, a central holding an entry of an
	 * earlier incarnation that it lacks fetches again from there. */
	uint64_t	recovered_from;
};

int	store_recovery(struct store *st, struct store_recovery *rv);
/* Province: its lost entries are back; clears recover_from, and keeps the
 * lowest such mark as recovered_from. */
int	store_recovery_done(struct store *st);
/* Province: the incarnation of central to which it returned central's own
 * entries (0: none). */
int	store_returned_get(struct store *st, const char *peer, uint64_t *inc);
int	store_returned_put(struct store *st, const char *peer, uint64_t inc);

/* The chain hash after entry (origin, seq) (all zeros for seq 0), from the
 * log or, for an own entry central refused, the refused table.  Returns 0,
 * E_NOTFOUND or E_INTEGRITY. */
int	store_chain_at(struct store *st, const char *origin, uint64_t seq,
	    uint8_t h[32]);

/* The chain hash after the last entry of origin held in a contiguous run
 * (central: after vector[origin]); zeros before the first. */
int	store_chain_head(struct store *st, const char *origin, uint8_t h[32]);

/* Scans the entries of origin with seq > after in seq order (pos = seq;
 * positions may skip).  For this node's own origin, entries central
 * refused are included.  Caller owns *b. */
int	store_scan_origin(struct store *st, const char *origin,
	    uint64_t after, size_t max_bytes, struct rec_batch *b);

/*
 * Applies entries of this node's own origin that a peer sends back (a
 * province's lost entries from central; central's own from a province),
 * in ONE transaction.  Each must verify under this node's key; those
 * already held are no-ops.  An entry of the current incarnation that this
 * node does not hold is E_INTEGRITY (only this disk can have made it).
 * Returns 0, E_PROTO, E_AUTH, E_INTEGRITY, E_FULL or E_STORE.
 */
int	store_apply_own(struct store *st, const char *peer,
	    const struct rec *recs, size_t n, struct apply_stats *stats,
	    char *err, size_t errsz);

/*
 * Central restored: the entries of other provinces that a province holds
 * and central may have lost come back by GIVE (docs/PROTOCOL.md,
 * "Recovery").  store_vector: central's vector of every province (not its
 * own origin), for VECTOR; *v malloc'd (free).  store_foreign_after: the
 * keys of the entries a province holds of origins other than itself and
 * central, after v, oldest stamp first; *keys malloc'd.  store_read_keys:
 * the records of keys[*at ...] up to max_bytes, advancing *at.
 * store_apply_given: central applies them in one transaction; one it
 * cannot judge now is skipped (its origin will send it).  Returns 0,
 * E_PROTO, E_FULL or E_STORE.
 */
struct store_fkey {
	uint64_t	 hlc;
	uint64_t	 seq;
	char		 origin[HLC_NODE_MAX + 1];
};

int	store_vector(struct store *st, struct msg_vec **v, size_t *n);
int	store_foreign_after(struct store *st, const char *central,
	    const struct msg_vec *v, size_t nv, struct store_fkey **keys,
	    size_t *n);
int	store_read_keys(struct store *st, const struct store_fkey *keys,
	    size_t n, size_t *at, size_t max_bytes, struct rec_batch *b);
int	store_apply_given(struct store *st, const char *peer,
	    const struct rec *recs, size_t n, struct apply_stats *stats,
	    char *err, size_t errsz);

/* Central: the log key (origin \0 be64(seq)) at feed position pos of peer;
 * E_NOTFOUND.  Province: the feed position it holds (*pos) and the log key
 * there (reflen 0 when none yet), from one snapshot.  ref holds
 * STORE_REF_MAX bytes. */
int	store_feed_ref(struct store *st, const char *peer, uint64_t pos,
	    uint8_t *ref, size_t *reflen);
int	store_fref_get(struct store *st, const char *peer, uint64_t *pos,
	    uint8_t *ref, size_t *reflen);

/* ---- High availability (docs/HA.md) ---- */

/* A number or a short value in meta, by key ("cepoch", "fenced", ...).
 * A missing number reads as 0; a missing value is E_NOTFOUND. */
int	store_meta_u64_get(struct store *st, const char *key, uint64_t *v);
int	store_meta_u64_put(struct store *st, const char *key, uint64_t v);
int	store_meta_blob_get(struct store *st, const char *key, void *out,
	    size_t cap, size_t *len);
int	store_meta_blob_put(struct store *st, const char *key, const void *p,
	    size_t len);
/* The id of the last committed write transaction (any process): it moves
 * whenever anything in the store changed. */
uint64_t store_txn_id(struct store *st);

#endif

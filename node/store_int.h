/*
 * store_int.h - what the files of the store share, and nothing else
 * includes: the LMDB environment, its tables and the helpers that read
 * and write them inside a transaction.  store.h is the store's contract
 * with the rest of the node; this header is the store's inside.
 *
 * The store is one module in several files, one responsibility each
 * (README.md, "Layout"):
 *   store.c    the environment, transactions, the small tables (meta,
 *              peers, keys, vv, quota, recovery) and the table iterator;
 *   seal.c     identifying values, authors and log records sealed at rest;
 *   caseid.c   case ids and the internal ids the case tables are keyed
 *              by (the key layout, docs/PERFORMANCE.md);
 *   migrate.c  the layout version, and the migration of a store written
 *              by an older layout;
 *   chain.c    the signed change log, the case index and each origin's
 *              hash chain;
 *   casetab.c  the case table and what is kept in step with it (blind
 *              name index, conflicted set);
 *   feed.c     central's per-province feeds;
 *   refusal.c  refused entries, kept out of the log for audit;
 *   verify.c   store_verify;
 *   authorise.c, apply.c, own.c, batch.c, from_province.c,
 *   from_central.c, group.c, precheck.c: the apply path, sharing
 *              apply_int.h: who may write a case, an accepted entry
 *              applied, local writes, each role's received batches,
 *              central's group commit and its checking thread;
 *   store_ha.c meta values and the change counter of high availability.
 * Only these files include lmdb.h (through this header).  Dependencies
 * run one way: the apply path (apply_int.h), verify -> refusal -> feed ->
 * casetab -> chain -> seal -> caseid -> store; migrate uses casetab and
 * caseid.
 *
 * Every function here that takes an MDB_txn works inside the caller's
 * transaction and never ends it; values it hands back are borrowed until
 * that transaction ends, unless its comment says the caller owns them.
 *
 * Databases (all in DIR/data.mdb):
 *   meta     "node", "role", "seq", "hlc", "feed:<peer>" -> values;
 *            "chain:<origin>" -> chain head; after a restore (docs/
 *            PROTOCOL.md, Recovery) "inc" -> incarnation, "recover_from"
 *            -> own seq after which entries may be lost (until recovered);
 *            province: "fref:<peer>" -> log key of the entry at its feed
 *            position, "returned:<peer>" -> central incarnation given
 *            back to.  Every one is optional: a store written before
 *            they existed opens as it is (incarnation 0).
 *            "layout" -> be64 STORE_LAYOUT; "iid" -> the last internal
 *            id given (caseid.c).
 *   log      origin \0 be64(seq)            -> record (entry + signature)
 *   caseids  uuid(16)                       -> be64(iid): a case's
 *            internal id, given in the order this node first sees cases
 *   clog     be64(iid) origin \0 be64(seq)  -> "" (a case's entries)
 *   states   be64(iid)                      -> case state
 *   vv       origin                         -> be64(highest seq applied)
 *   feed     peer \0 be64(pos)              -> log key (central only)
 *   peers    peer                           -> struct peer_disk
 *   refused  origin \0 be64(seq)            -> reason \0 record
 *   namepost be32(iid >> 10) mac(16)        -> be16(iid & 1023)...,
 *            sorted (nameidx.h): postings grouped by 1,024 iids
 *   namemacs be64(iid)                      -> uuid(16) and the tag(16)
 *            of the name write indexed for it
 *   conflicted case_id                      -> "" (a field has two heads)
 *   authors  pseudonym (8 bytes)            -> sealed author (state_crypt)
 * Keys that grow are big-endian so LMDB appends in key order.  A new
 * case's rows go at the end of states, clog, namemacs and of the last
 * postings group, whatever order case ids come in; only caseids takes
 * one small random insert (docs/PERFORMANCE.md, "The key layout").
 * Layout 1 (before issue 19) keyed cases, caselog, names and namecase by
 * the case id text; migrate.c turns it into this one.
 */
#ifndef CASESYNC_STORE_INT_H
#define CASESYNC_STORE_INT_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "sign.h"
#include "../common/buf.h"
#include "../common/crypto.h"

#define LOGKEY_MAX	(HLC_NODE_MAX + 1 + 8)
#define IID_LEN		8
#define CASEKEY_MAX	(IID_LEN + LOGKEY_MAX)
#define UUID_BIN	16
/* The layout this build writes (migrate.c). */
#define STORE_LAYOUT	3

/* seal.c: the pseudonyms of the authors sealed last, kept from one
 * transaction to the next: a pseudonym depends on the author key alone,
 * and the entries of a batch have few authors.  Emptied when the keys are
 * set, wiped at close (seal_forget). */
#define PSEUDO_CACHE	8
struct pseudo_cache {
	struct {
		char	 name[ENTRY_AUTHOR_MAX + 1];
		uint8_t	 p[STATE_AUTHOR_PSEUDO];
	}	 e[PSEUDO_CACHE];
	size_t	 n, next;
};

/* seal.c: whether the field paths sealed last are identifying, by the
 * field's index in its state (the cases of a node share most of their
 * paths, in the same sorted order): a strcmp instead of the schema's
 * look-up per field and save.  The schema is compiled in, so an entry
 * never goes stale. */
#define IDENT_MEMO	64
struct ident_memo {
	char	 path[ENTRY_PATH_MAX + 1];
	int	 ident;
};

struct store {
	MDB_env		*env;
	MDB_dbi		 meta, log, clog, states, caseids, vv, feed, peers;
	MDB_dbi		 refused, keys, namepost, namemacs, conflicted, authors;
	MDB_dbi		 keyhist;	/* keyhist.c */
	MDB_dbi		 offers;	/* offerset.c */
	uint8_t		 namekey[CRYPTO_HASH];	/* from the data key */
	/* The keys prepared once (crypto.h): the data key for AES-GCM, the
	 * author and name index keys for HMAC.  NULL without keys. */
	struct crypto_aead *aead;
	struct crypto_mac *authormac, *namemac;
	struct pseudo_cache pseudo;	/* of authormac */
	/* Used only when sealing, inside a write transaction, so by one
	 * thread at a time (as rowbuf). */
	struct ident_memo identmemo[IDENT_MEMO];
	int		 mapfull;	/* set when a put hit MDB_MAP_FULL */
	struct names_batch *names;	/* casetab.c: names_defer, or NULL */
	int		 have_keys;
	uint8_t		 datakey[CRYPTO_KEY];	/* data at rest */
	uint8_t		 authorkey[CRYPTO_HASH];	/* author pseudonyms */
	uint8_t		 sign_sec[CRYPTO_SIGN_SEC];
	uint8_t		 sign_pub[CRYPTO_SIGN_PUB];
	uint64_t	 skew_ms;
	int64_t		 offset_ms;
	int		 drop_transferred;	/* keep_transferred = no */
	/* Where a case's row is encoded before its put (casetab.c), kept
	 * from one save to the next; used only inside a write transaction,
	 * so by one thread at a time. */
	struct buf	 rowbuf;
	struct quota	 quota;
	char		 node[HLC_NODE_MAX + 1];
	char		 role[16];
};

/* ---- store.c: environment, transactions, small tables ---- */

/* Translates an LMDB code (0 stays 0), logging the foreign detail once. */
int	mdb_err(struct store *, int rc, const char *what);
void	be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);
/* name \0 be64(n) into k (LOGKEY_MAX bytes); returns the key length. */
size_t	seqkey(uint8_t *k, const char *name, uint64_t n);
/* A be64 value under a string key; *v = 0 when absent. */
int	get_u64(struct store *, MDB_txn *, MDB_dbi, const char *key,
	    uint64_t *v);
int	put_u64(struct store *, MDB_txn *, MDB_dbi, const char *key,
	    uint64_t v);
/* As get_u64 on meta; *present says whether the key exists. */
int	get_u64_present(struct store *, MDB_txn *, const char *key,
	    uint64_t *v, int *present);
/* The wall clock with the test-only offset, in ms. */
uint64_t wall(const struct store *);
int	is_central(const struct store *);
/* Begins a transaction (picking up a map grown by another process). */
int	txn_begin(struct store *, unsigned flags, MDB_txn **);
/*
 * Runs fn inside one write transaction and commits.  fn must be safe to
 * run again: when the map is full the transaction is aborted, the map
 * doubled and fn run afresh.
 */
int	txn_run(struct store *, int (*fn)(struct store *, MDB_txn *, void *),
	    void *arg);
/*
 * The table iterator: calls fn with every key and value of table db from
 * the first key >= from (from NULL: the first key), in key order, until
 * fn returns non-zero, inside t (NULL: a read transaction of its own).
 * The key and value are borrowed for the call.  Returns 0 when the table
 * ends, fn's first non-zero result, or an error of the cursor.
 */
int	table_each(struct store *, MDB_txn *, MDB_dbi db, const void *from,
	    size_t fromlen, int (*fn)(const MDB_val *k, const MDB_val *d,
	    void *arg), void *arg);
/* A peer's record (E_NOTFOUND with *pi zeroed and node set). */
int	peer_read(struct store *, MDB_txn *, const char *peer,
	    struct peer_info *pi);
int	peer_write(struct store *, MDB_txn *, const struct peer_info *);
int	key_read(struct store *, MDB_txn *, const char *node,
	    struct node_key *);
/* The quota use of a peer on *day (zeroed when never). */
int	quota_read(struct store *, MDB_txn *, const char *peer,
	    uint64_t *day, struct quota *u);
int	quota_write(struct store *, MDB_txn *, const char *peer, uint64_t day,
	    const struct quota *u);

/* ---- caseid.c: case ids and internal ids ---- */

/* A valid case id (mp_case_id_valid) as 16 bytes, and back. */
void	uuid_pack(const char *id, uint8_t out[UUID_BIN]);
void	uuid_unpack(const uint8_t in[UUID_BIN], char id[ENTRY_CASE_ID_LEN + 1]);
/* The internal id of case id: E_NOTFOUND when this node never saw it. */
int	caseid_get(struct store *, MDB_txn *, const char *id, uint64_t *iid);
/* As caseid_get, giving the next internal id to a case seen first. */
int	caseid_make(struct store *, MDB_txn *, const char *id, uint64_t *iid);
/* As caseid_make; *made gets 1 when the case got its internal id now. */
int	caseid_make_new(struct store *, MDB_txn *, const char *id,
	    uint64_t *iid, int *made);
/* be64(iid) lk into ck (CASEKEY_MAX bytes); returns the key length. */
size_t	clog_key(uint8_t *ck, uint64_t iid, const uint8_t *lk, size_t lklen);
/* Puts k -> d at the end of db when it sorts last (MDB_APPEND), else the
 * ordinary way. */
int	put_append(struct store *, MDB_txn *, MDB_dbi, MDB_val *k, MDB_val *d,
	    const char *what);

/* ---- migrate.c: the layout ---- */

/* Brings a store opened by store_open to STORE_LAYOUT, in one write
 * transaction; E_INVAL (err says why) for a layout newer than this build. */
int	store_migrate(struct store *, char *err, size_t errsz);

/* ---- seal.c: at rest ---- */

/* Copies the node's keys into st, derives the author key, and checks
 * (or, on a new store, records) the data key's check value.  E_AUTH for
 * another data key; st holds no key then. */
int	seal_keys_set(struct store *, const uint8_t sign_sec[32],
	    const uint8_t sign_pub[32], const uint8_t datakey[32]);
/* Wipes the author pseudonyms kept (st->pseudo): at close, and when the
 * keys change. */
void	seal_forget(struct store *);
/* Opens one sealed value *v (malloc'd, replaced) of case id in place; a
 * value not sealed stays as it is. */
int	value_open(struct store *, const char *id, uint8_t **v, size_t *len);
/* Seals (seal = 1) or opens every identifying value and every author of s
 * in place.  Sealing needs the write transaction t; opening uses t, or a
 * read transaction of its own when t is NULL. */
int	state_crypt(struct store *, MDB_txn *, struct case_state *, int seal);
/* A log record sealed with the data key, bound to its log key lk (as it
 * is without keys).  Appends to out. */
int	log_seal(struct store *, const uint8_t *lk, size_t lklen,
	    const uint8_t *rec, size_t reclen, struct buf *out);
/* Opens a stored record into out (reset first); E_INTEGRITY. */
int	log_unseal(struct store *, const void *lk, size_t lklen,
	    const MDB_val *d, struct buf *out);

/* ---- chain.c: the change log and each origin's chain ---- */

/* Encodes e and its signature block (NULL: unsigned) as a record. */
int	record_make(const struct entry *e, const uint8_t *block,
	    struct buf *out);
/* Decodes a stored or received record into *e (caller owns) and its
 * signature block (*signed_ 0 when it has none). */
int	record_split(const uint8_t *p, size_t len, struct entry *e,
	    uint8_t block[SIGN_BLOCK], int *signed_);
int	chain_get(struct store *, MDB_txn *, const char *origin,
	    uint8_t h[CRYPTO_HASH]);
int	chain_put(struct store *, MDB_txn *, const char *origin,
	    const uint8_t h[CRYPTO_HASH]);
/* The chain hash after (origin, seq): zeros at 0. */
int	chain_at(struct store *, MDB_txn *, const char *origin, uint64_t seq,
	    uint8_t h[CRYPTO_HASH]);
/* The signing key of origin at position pos: from its key history
 * (keyhist.h) when it has one, else ours, or the one in the keys table.
 * *revoked gets the position its key is revoked from (0: not revoked);
 * revoked may be NULL. */
int	origin_key(struct store *, MDB_txn *, const char *origin,
	    uint64_t pos, uint8_t pub[CRYPTO_SIGN_PUB], uint64_t *revoked);
/* 1 verified, 0 failed, -1 unsigned, -2 origin's key unknown, 2 signed
 * with a key revoked from a position at or before the entry's. */
int	sig_status(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t *block, int signed_);
/* sig_status of a signed entry whose chain hash h is computed already
 * (sign_digest and sign_link on the received bytes). */
int	sig_status_hash(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t *block, const uint8_t h[CRYPTO_HASH]);
/* Appends a log record and its case index entry; lk gets the log key.
 * *iid: the case's internal id when the caller read it in this
 * transaction (case_load_raw), else 0; it gets the case's internal id
 * (given now to a case seen first). */
int	log_append(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t *rec, size_t reclen, uint64_t *iid, uint8_t *lk,
	    size_t *lklen);
/* Reads the log record under lk and decodes its entry (caller owns). */
int	log_read(struct store *, MDB_txn *, const uint8_t *lk, size_t lklen,
	    struct entry *e, int verify_sig, int *sig_ok);
/* Calls fn for every log entry of case id (in log key order). */
int	case_entries(struct store *, MDB_txn *, const char *id,
	    int verify_sig, int (*fn)(const struct entry *, int, void *),
	    void *arg, int *found);
/* Calls fn with the log key of every entry of case id. */
int	case_keys(struct store *, MDB_txn *, const char *id,
	    int (*fn)(const uint8_t *lk, size_t lklen, void *), void *arg);
/* Rewrites every record of case id with its identifying values redacted. */
int	redact_case_log(struct store *, MDB_txn *, const char *id);
/* The record of (origin, seq) as held, in the log or the refused table. */
int	held_record(struct store *, MDB_txn *, const char *origin,
	    uint64_t seq, struct buf *plain);
/* Central: does a new incarnation's first entry fork from one held? */
int	fork_links(struct store *, MDB_txn *, const char *origin,
	    uint64_t pos, const uint8_t *prev, uint64_t head,
	    const uint8_t *head_h);
/* Adds a copy of p to b. */
void	batch_add(struct rec_batch *b, uint64_t pos, const void *p,
	    size_t len);

/* ---- casetab.c: the case table ---- */

/* Reads the state of case id, identifying values still sealed (caller
 * owns *s).  E_NOTFOUND when absent. */
int	case_load_raw(struct store *, MDB_txn *, const char *id,
	    struct case_state *s);
/* As case_load_raw, with identifying values opened. */
int	case_load(struct store *, MDB_txn *, const char *id,
	    struct case_state *s);
/* Writes the state (plain: values opened) with its indexes. */
int	case_save(struct store *, MDB_txn *, const struct case_state *plain);
/* As case_save, without a copy of the state: s's identifying values and
 * authors are sealed in place (s stays the caller's, sealed, whether or
 * not it succeeds), for a caller done with the plain values.  s->iid
 * must be 0 or set by case_load_raw in this transaction; iid is the
 * case's internal id as log_append gave it in this transaction, or 0.
 * Either saves looking the case up in caseids again. */
int	case_save_sealing(struct store *, MDB_txn *, struct case_state *s,
	    uint64_t iid);
/*
 * The name index's posting changes held back (names_defer) until
 * names_flush writes them into t, sorted by key, each row once; or
 * names_discard drops them, when the transaction they were made in is
 * aborted.  Between the two, every case_save and case_drop of the store
 * must be in that one transaction.  names_free at store_close.
 */
void	names_defer(struct store *);
int	names_flush(struct store *, MDB_txn *t);
void	names_discard(struct store *);
void	names_free(struct store *);
/* Removes the row of case id and its indexes (none: no error). */
int	case_drop(struct store *, MDB_txn *, const char *id);
/* The node's view of a folded case: 1 when the table keeps no row. */
int	project(const struct store *, struct case_state *s);
/* Rebuilds case id from its log entries, with this node's projection
 * (caller owns *s).  E_NOTFOUND when the log has none. */
int	fold_case(struct store *, MDB_txn *, const char *id,
	    struct case_state *s);

/* ---- feed.c: central's feeds ---- */

int	feed_push(struct store *, MDB_txn *, const char *peer,
	    const uint8_t *lk, size_t lklen);
/* Routes an applied entry (owners and pending offers' receivers before
 * and after it, "" for none; offer.h). */
int	feed_route(struct store *, MDB_txn *, const struct entry *e,
	    const char *owner_before, const char *owner_after,
	    const char *offer_before, const char *offer_after,
	    const uint8_t *lk, size_t lklen);
/* Central: e was just refused (its record under rk in the refused
 * table); tells the provinces another central may have routed it to. */
int	feed_refused(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t *rk, size_t rklen);

/* ---- refusal.c ---- */

/* ---- offerset.c: the cases with an offer to list ---- */

/* Puts case id in the set or takes it out, as plain (NULL: the row
 * goes) says; in the transaction that saves the case row. */
int	offerset_update(struct store *, MDB_txn *, const char *id,
	    const struct case_state *plain);

int	refuse(struct store *, MDB_txn *, const struct entry *e,
	    const char *why, const struct rec *r);
/* Province: central refused e, its own entry (r: the record in its
 * feed): moved from the log to the refused table, the case refolded. */
int	unrecord_own(struct store *, MDB_txn *, const struct entry *e,
	    const struct rec *r);
/* Province: central refused e, another origin's entry (r: the record in
 * the feed, flagged refused; block: its signature block; d: its digest).
 * As unrecord_own when the record held under e's origin and seq is that
 * same signed record (a copy held redacted is); else the held one is
 * kept and nothing is written. */
int	unrecord_foreign(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t block[SIGN_BLOCK], const uint8_t d[CRYPTO_HASH],
	    const struct rec *r);
/* Province: replaces the redacted record of e held in the log by r, e's
 * record as central sent it again with its values, when the case is not
 * erased and both have the same signed form (d: e's digest; block: its
 * signature block).  *done: replaced (the case folded again). */
int	log_unredact(struct store *, MDB_txn *, const struct entry *e,
	    const uint8_t block[SIGN_BLOCK], const uint8_t d[CRYPTO_HASH],
	    const struct rec *r, int *done);

#ifdef SELFTEST
/* Selftests: a new store in dir (a mkdtemp template) for node and role,
 * with fresh keys (*pub: the signing key, may be NULL); removed by
 * store_test_close.  store_test_entry fills *e (caller owns) for case id:
 * a transfer to `to` and a full name, each when not NULL. */
int	store_test_open(char *dir, const char *node, const char *role,
	    uint8_t pub[CRYPTO_SIGN_PUB], struct store **);
void	store_test_close(struct store **, const char *dir);
void	store_test_entry(struct entry *e, const char *id, const char *to,
	    const char *name);
int	store_selftest(void);
int	seal_selftest(void);
int	chain_selftest(void);
int	casetab_selftest(void);
int	casetab_names_selftest(void);
int	caseid_selftest(void);
int	migrate_selftest(void);
int	feed_selftest(void);
int	refusal_selftest(void);
int	unredact_selftest(void);
int	unrecord_foreign_selftest(void);
int	verify_selftest(void);
int	apply_selftest(void);
int	apply_group_selftest(void);
int	precheck_selftest(void);
#endif

#endif

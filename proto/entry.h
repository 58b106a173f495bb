/*
 * entry.h - the change entry: the unit of the change log and of replication.
 *
 * An entry is one local write: (origin, seq) names it uniquely; hlc is its
 * stamp (with origin as the tie-break); ops are applied to one case.
 * Values are canonical JSON text (a scalar, an array of strings, or for an
 * event an object); the case schema (node/schema.c) validates them on every
 * apply, so the codec only bounds their length.
 *
 * Encoding (msgpack, see proto/SCHEMA.md):
 *   entry = [ver=1, origin:str, seq:uint, hlc:uint, author:str, case:str,
 *            ops:array]
 *   op    = [1 SET, path:str, value:str, base_hlc:uint, base_node:str,
 *            also:[[hlc:uint, node:str] ...] (, salt:bin(16))]
 *         | [2 EVENT, collection:str, event_id:str, event:str
 *            (, salt:bin(16))]
 *         | [3 TRANSFER, to:str]
 *         | [4 ERASE (, [owner_hlc:uint, owner_node:str])]
 * An erase carries the stamp of the transfer that made the case's owner in
 * its writer's view when it wrote it (struct op's base; absent in an erase
 * written by an older release): central judges by it alone whether a
 * former owner erased before it heard of a change of owner
 * (node/authorise.c, docs/CONFLICTS.md).
 * The salt, present on identifying ops, lets a signature survive erasure:
 * the signed form carries SHA-256(salt || value) instead of the value (see
 * node/sign.c).
 * A stored or transmitted record wraps the entry with its signature block:
 *   record = [ver=1, entry:bin, sig:bin (0 or 96 bytes)]
 * where the 96 bytes are the Ed25519 signature (64) followed by the
 * previous chain hash of the same origin (32).
 */
#ifndef CASESYNC_ENTRY_H
#define CASESYNC_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/hlc.h"

#define ENTRY_VERSION		1
#define ENTRY_MAX_OPS		128
#define ENTRY_MAX_ALSO		16	/* stamps a resolution supersedes */
#define ENTRY_PATH_MAX		48	/* field path or collection name */
#define ENTRY_EVID_MAX		40
#define ENTRY_AUTHOR_MAX	64
#define ENTRY_CASE_ID_LEN	36	/* UUID text, exactly */
#define ENTRY_VALUE_MAX		4096	/* JSON text of one value/event */
#define ENTRY_ENCODED_MAX	(256 * 1024)
#define RECORD_SIG_LEN		96	/* signature 64 + chain prev 32 */
#define ENTRY_SALT_LEN		16

/*
 * A position (an entry's seq, a feed position) is an incarnation in its
 * high 32 bits and a counter in its low 32 bits.  A node that was never
 * restored is in incarnation 0, so its positions are 1, 2, 3...  A node
 * restored from a backup starts a new incarnation (seconds since
 * POS_EPOCH_S at the restore) and goes on counting from the backup's
 * counter, so it never reuses a position that it may have used before
 * (docs/PROTOCOL.md, "Recovery").  The encoding of an entry is unchanged.
 */
#define POS_INC(p)		((uint64_t)(p) >> 32)
#define POS_LOW(p)		((uint64_t)(p) & 0xffffffffULL)
#define POS_MAKE(i, l)		(((uint64_t)(i) << 32) | POS_LOW(l))
#define POS_EPOCH_S		1767225600ULL	/* 2026-01-01T00:00:00Z */
/* How many positions lie between a and b (a <= b): exact within one
 * incarnation; across a restore, the counter of b's incarnation goes on
 * from the one it forked from, so the difference of counters is the
 * closest count.  0 when b <= a. */
static inline uint64_t
pos_between(uint64_t a, uint64_t b)
{
	if (b <= a)
		return 0;
	if (POS_INC(a) == POS_INC(b))
		return b - a;
	return POS_LOW(b) > POS_LOW(a) ? POS_LOW(b) - POS_LOW(a) : 0;
}
/* Is pos a valid successor of prev: the next one, or a position in a later
 * incarnation (whose link the receiver checks)? */
#define POS_FOLLOWS(prev, pos)	((pos) == (prev) + 1 || \
				 POS_INC(pos) > POS_INC(prev))

enum op_type {
	OP_SET = 1,
	OP_EVENT = 2,
	OP_TRANSFER = 3,
	OP_ERASE = 4,
};

struct op {
	enum op_type	 type;
	/* OP_SET: field path; OP_EVENT: collection name. */
	char		 path[ENTRY_PATH_MAX + 1];
	/* OP_EVENT: event id. */
	char		 evid[ENTRY_EVID_MAX + 1];
	/* OP_SET: JSON value; OP_EVENT: JSON object.  Owned, NUL-terminated,
	 * value_len bytes without the NUL.  NULL for other types. */
	char		*value;
	size_t		 value_len;
	/* OP_SET: the stamp the author saw (hlc 0 = none).  OP_ERASE: the
	 * stamp of the owner's transfer in the writer's view (hlc 0 = not
	 * carried: an erase of an older release, or written by central). */
	struct stamp	 base;
	/* OP_SET: further stamps this write supersedes (a resolution): nalso
	 * of them.  Owned; NULL until the first one (op_also_add), so that
	 * the common op without any stays small (it was 992 bytes with 16
	 * stamps inline, and a batch decodes a thousand entries of twenty
	 * ops). */
	struct stamp	*also;
	size_t		 nalso;
	/* OP_SET, OP_EVENT: salt of an identifying value (has_salt). */
	uint8_t		 salt[ENTRY_SALT_LEN];
	int		 has_salt;
	/* OP_TRANSFER: the new owner. */
	char		 to[HLC_NODE_MAX + 1];
	/* Where entry_decode read this op: span_len bytes from span_off of
	 * the input (0, 0 for an op built in memory).  The signature's
	 * digest hashes the received bytes and needs only the salted ops
	 * encoded again (node/sign.c, sign_digest). */
	uint32_t	 span_off, span_len;
};

struct entry {
	char		 origin[HLC_NODE_MAX + 1];
	uint64_t	 seq;		/* 1, 2, ... per origin */
	uint64_t	 hlc;
	char		 author[ENTRY_AUTHOR_MAX + 1];
	char		 case_id[ENTRY_CASE_ID_LEN + 1];
	struct op	*ops;		/* owned */
	size_t		 nops;
};

/* Initialises an empty entry. */
void	entry_init(struct entry *e);
/* Frees the ops and their values; the entry is empty afterwards. */
void	entry_release(struct entry *e);
/* Appends a zeroed op of type t and returns it (borrowed, valid until the
 * next entry_add_op or entry_release).  Returns NULL past ENTRY_MAX_OPS. */
struct op *entry_add_op(struct entry *e, enum op_type t);
/* Appends a zeroed stamp to o's also[] and returns it (borrowed), or
 * NULL when it holds ENTRY_MAX_ALSO already. */
struct stamp *op_also_add(struct op *o);
/* Sets op->value to a copy of v (len bytes).  Returns 0 or E_TOOBIG. */
int	op_set_value(struct op *o, const char *v, size_t len);
/* Deep copy.  Caller owns *dst (entry_release). */
void	entry_copy(struct entry *dst, const struct entry *src);

/* Appends the msgpack encoding of one op, as entry_encode writes it
 * (span_off and span_len are not encoded).  Returns 0, E_INVAL or
 * E_TOOBIG. */
int	op_encode(const struct op *o, struct buf *out);
/* Appends the msgpack encoding of e to out.  Returns 0, E_INVAL when e
 * breaks a limit or an identifier rule, or E_TOOBIG from the buffer. */
int	entry_encode(const struct entry *e, struct buf *out);
/*
 * Strictly decodes exactly len bytes into *e (which the caller passes
 * uninitialised).  Every type, length and count is checked; trailing bytes,
 * unknown op types and invalid ids are E_PROTO.  On error *e is left empty
 * (nothing to release); on success the caller owns it.
 */
int	entry_decode(const uint8_t *p, size_t len, struct entry *e);

/* Wraps an encoded entry and its signature block (siglen 0 or
 * RECORD_SIG_LEN). */
int	record_encode(const uint8_t *ent, size_t entlen, const uint8_t *sig,
	    size_t siglen, struct buf *out);
/* Splits a record.  *ent and *sig borrow from p; *siglen is 0 or 96.
 * Returns 0 or E_PROTO. */
int	record_decode(const uint8_t *p, size_t len, const uint8_t **ent,
	    size_t *entlen, const uint8_t **sig, size_t *siglen);

#ifdef SELFTEST
int	entry_selftest(void);
#endif

#endif

/*
 * msg.h - the sync protocol's messages (see proto/SCHEMA.md and
 * docs/PROTOCOL.md).  One ZeroMQ frame carries one message:
 *   [ver=2, type, fields...]
 *   HELLO   [2, 1, node:str, feed_recv:uint, own_seq:uint, window:uint,
 *            cseen:uint, chash:bin(32), fref:bin(0..41)]
 *   WELCOME [2, 2, node:str, have:uint, feed_last:uint, window:uint,
 *            hhash:bin(32), inc:uint, ret_after:uint]
 *   BATCH   [2, 3, no:uint, more:uint(0|1), [rec ...]]
 *           rec = [pos:uint, record:bin] or [pos, record, flags:uint = 1]
 *                 or [pos, record, 1, reason:str(1..200)]: central's
 *                 refusal notice of a province's own entry, with why
 *   ACK     [2, 4, no:uint, pos:uint, applied:uint, dup:uint, refused:uint]
 *   BYE     [2, 5]
 *   ERROR   [2, 6, code:uint, reason:str]
 *   KEYS    [2, 7, [key ...]]                            central -> province
 *           key = [node:str, sign_pub:bin(32)]   the origin's one key, or
 *                 [node, sign_pub, epoch:uint, from:uint, revoked_from:uint]
 *                 one epoch of its key history (node/keyhist.h)
 *   FETCH   [2, 8, after:uint]                           province -> central
 *   RECOVER [2, 9, no, more, recs]  as BATCH             central -> province
 *   RETURN  [2, 10, no, more, recs] as BATCH             province -> central
 *   VECTOR  [2, 11, [[node:str, pos:uint] ...]]          central -> province
 *   GIVE    [2, 12, no, more, recs] as BATCH, positions in any order
 *                                                        province -> central
 *   HANDOVER [2, 13, node:str, epoch:uint, from:uint, sign_pub:bin(32),
 *            curve_pub:bin(32), sig:bin(64)]  province -> central: its key
 *            changes to (sign_pub, curve_pub) from its own position from,
 *            signed with its current key (keyhist.h); central echoes the
 *            same message back once it has recorded it
 *   EPOCH   [2, 14, node:str, epoch:uint, sig:bin(64)]   central's epoch,
 *           signed by central's key: central -> province before WELCOME;
 *           province -> an older central, which is then fenced (HA.md)
 *   FOLLOW  [2, 15, node:str, have:uint, snap:uint, offset:uint]
 *                                                        standby -> central
 *   SNAP    [2, 16, txn:uint, offset:uint, total:uint, entries:uint,
 *            data:bin(0..1 MiB), secrets:bin(0|96)]      central -> standby
 *   AUXASK  [2, 17, node:str, users_sum:bin(0|32), audit_off:uint,
 *            audit_sum:bin(0|32)] or
 *           [..., key_sum:bin(0|32)]                     standby -> central
 *   AUX     [2, 18, users:uint(0..2), users_data:bin(0..1 MiB),
 *            audit_from:uint, audit_size:uint, audit:bin(0..1 MiB)] or
 *           [..., key:uint(0..3), key_data:bin(0..256)]  central -> standby
 *           central's console users, audit log and, in the longer forms
 *           (AUX's only in answer to AUXASK's), its HTCDS pseudonym key
 *           (docs/HA.md)
 *   ALIVE   [2, 19]   central -> province: the session is alive, central is
 *           busy (its batches wait or apply); sent when central has sent
 *           it nothing for a second (docs/PROTOCOL.md, "Liveness")
 * Version 2 added the recovery fields and messages (docs/PROTOCOL.md,
 * "Recovery"); a version 1 peer is refused as malformed.
 * Decoding is strict: exact types, every count and length within the
 * limits below, no trailing bytes.
 */
#ifndef CASESYNC_MSG_H
#define CASESYNC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/hlc.h"

#define MSG_VERSION	2
#define MSG_BATCH_MAX	1024			/* records per batch */
#define MSG_MAX_BYTES	(4 * 1024 * 1024)	/* one frame */
#define MSG_WINDOW_MAX	64			/* batches in flight */
#define MSG_REASON_MAX	200
#define MSG_KEYS_MAX	256			/* nodes in a KEYS message */
#define MSG_KEY_LEN	32
#define MSG_HASH_LEN	32			/* a chain hash */
#define MSG_REF_MAX	(HLC_NODE_MAX + 9)	/* origin \0 be64(seq) */
#define MSG_SIG_LEN	64			/* EPOCH's signature */
#define MSG_SNAP_CHUNK	(1024 * 1024)		/* SNAP data per message */
#define MSG_SECRETS_LEN	96	/* SNAP: central's sign_pub, sign_sec,
				 * data key */
#define MSG_USERS_MAX	(1024 * 1024)	/* AUX: central's users file */
#define MSG_AUDIT_CHUNK	(1024 * 1024)	/* AUX: audit log bytes per message */
#define MSG_KEYFILE_MAX	256		/* AUX: central's sealed htcds.key */
#define MSG_REC_REFUSED	1	/* a record its origin resends though central
				 * refused it: refuse it again (Recovery) */

enum msg_type {
	MSG_HELLO = 1,
	MSG_WELCOME = 2,
	MSG_BATCH = 3,
	MSG_ACK = 4,
	MSG_BYE = 5,
	MSG_ERROR = 6,
	MSG_KEYS = 7,
	MSG_FETCH = 8,
	MSG_RECOVER = 9,
	MSG_RETURN = 10,
	MSG_VECTOR = 11,	/* a restored central: what it holds of each
				 * origin, sent before WELCOME */
	MSG_GIVE = 12,		/* other nodes' entries a restored central
				 * may have lost, oldest stamp first */
	MSG_HANDOVER = 13,
	MSG_EPOCH = 14,		/* central's epoch, signed (fencing) */
	MSG_FOLLOW = 15,	/* a standby asks for central's state */
	MSG_SNAP = 16,		/* a chunk of central's state, to a standby */
	MSG_AUXASK = 17,	/* a standby asks for central's console files */
	MSG_AUX = 18,		/* central's users file and audit log lines */
	MSG_ALIVE = 19,		/* central's keepalive to a province */
};

/* Error codes carried by MSG_ERROR. */
enum msg_error {
	MSGERR_PROTO = 1,	/* malformed or unexpected message */
	MSGERR_AUTH = 2,	/* unknown, revoked or mismatched node */
	MSGERR_GAP = 3,		/* a sequence gap: restart the session */
	MSGERR_SESSION = 4,	/* no such session: send HELLO */
	MSGERR_STORE = 5,	/* the receiver could not store the batch */
	MSGERR_BUSY = 6,	/* too many sessions, try later */
	MSGERR_COPY = 7,	/* a node was put back from a copy of its
				 * files, not with `casesync restore` */
	MSGERR_QUOTA = 8,	/* the province's daily quota is used up */
	MSGERR_FENCED = 9,	/* this central was replaced by a promoted
				 * standby (a later epoch) */
};

struct msg_rec {
	uint64_t	 pos;
	const uint8_t	*data;		/* borrowed from the decoded frame */
	size_t		 len;
	uint64_t	 flags;		/* 0, or MSG_REC_REFUSED */
	/* MSG_REC_REFUSED only: why central refused it (no NUL, at most
	 * MSG_REASON_MAX bytes, not terminated; borrowed from the frame),
	 * or reasonlen 0. */
	const char	*reason;
	size_t		 reasonlen;
};

struct msg_key {
	char		 node[HLC_NODE_MAX + 1];
	uint8_t		 pub[MSG_KEY_LEN];
	int		 hist;		/* an epoch record (5 fields) */
	uint64_t	 epoch;		/* <= UINT32_MAX */
	uint64_t	 from, revoked_from;
};

struct msg_vec {
	char		 node[HLC_NODE_MAX + 1];
	uint64_t	 pos;
};

struct msg {
	enum msg_type	 type;
	char		 node[HLC_NODE_MAX + 1];	/* HELLO, WELCOME */
	uint64_t	 a, b;		/* HELLO: feed_recv, own_seq;
					 * WELCOME: have, feed_last */
	uint64_t	 window;	/* HELLO, WELCOME */
	uint64_t	 cseen;		/* HELLO: central's highest seq held */
	uint8_t		 hash[MSG_HASH_LEN];	/* HELLO: chain hash at cseen;
					 * WELCOME: at have */
	uint8_t		 ref[MSG_REF_MAX];	/* HELLO: the entry at feed_recv */
	size_t		 reflen;
	uint64_t	 inc;		/* WELCOME: central's incarnation */
	uint64_t	 ret_after;	/* WELCOME: return central's own
					 * entries after this seq (inc > 0) */
	uint64_t	 after;		/* FETCH */
	uint64_t	 no;		/* BATCH, RECOVER, RETURN, ACK */
	uint64_t	 more;		/* BATCH, RECOVER, RETURN */
	struct msg_rec	*recs;		/* BATCH, RECOVER, RETURN; owned */
	size_t		 nrecs;
	uint64_t	 pos, applied, dup, refused;	/* ACK */
	uint64_t	 code;		/* ERROR */
	char		 reason[MSG_REASON_MAX + 1];	/* ERROR */
	struct msg_key	*keys;		/* KEYS; owned array */
	size_t		 nkeys;
	struct msg_vec	*vec;		/* VECTOR; owned array */
	size_t		 nvec;
	/* HANDOVER (node in node) */
	uint64_t	 ho_epoch, ho_from;
	uint8_t		 ho_sign[MSG_KEY_LEN], ho_curve[MSG_KEY_LEN];
	uint8_t		 ho_sig[64];
	uint64_t	 epoch;		/* EPOCH */
	uint8_t		 sig[MSG_SIG_LEN];	/* EPOCH */
	uint64_t	 have, snap;	/* FOLLOW: replica held, snapshot
					 * being fetched (0: a new one) */
	uint64_t	 txn, offset, total, entries;	/* SNAP; FOLLOW:
							 * offset */
	const uint8_t	*data;		/* SNAP: borrowed from the frame */
	size_t		 datalen;
	uint8_t		 secrets[MSG_SECRETS_LEN];	/* SNAP at offset 0 */
	size_t		 secretslen;	/* 0 or MSG_SECRETS_LEN */
	/*
	 * AUXASK: the SHA-256 of the users file the standby holds (usumlen
	 * 0: none), how many bytes of central's audit log it holds (offset)
	 * and the SHA-256 of the last min(offset, MSG_AUDIT_SUMWIN) of them
	 * (asumlen 0 exactly when offset is 0).
	 * AUX: users (enum msg_aux_users), with the whole file in udata for
	 * MSG_AUX_USERS_FILE; audit lines of central's log from byte offset
	 * (the standby's offset, or 0 when its copy is not a prefix of
	 * central's log) in data; total: the size of central's log.
	 */
	uint8_t		 usum[MSG_HASH_LEN], asum[MSG_HASH_LEN];
	size_t		 usumlen, asumlen;
	uint64_t	 users;
	const uint8_t	*udata;		/* AUX: borrowed from the frame */
	size_t		 udatalen;
	/*
	 * The HTCDS pseudonym key (docs/HA.md), only when auxkey is set (the
	 * longer forms of AUXASK and AUX).  AUXASK: ksum, the digest of the
	 * key the standby holds (ksumlen 0: none).  AUX: key (enum
	 * msg_aux_key), with MSG_AUX_KEY_FILE the key sealed under central's
	 * data key in kdata (the bytes of an htcds.key file).
	 */
	int		 auxkey;
	uint8_t		 ksum[MSG_HASH_LEN];
	size_t		 ksumlen;
	uint64_t	 key;
	const uint8_t	*kdata;		/* AUX: borrowed from the frame */
	size_t		 kdatalen;
};

/* AUX's key field. */
enum msg_aux_key {
	MSG_AUX_KEY_SAME = 0,	/* the standby holds central's key */
	MSG_AUX_KEY_FILE = 1,	/* central's key follows, sealed */
	MSG_AUX_KEY_NONE = 2,	/* central has no key */
	MSG_AUX_KEY_UNREAD = 3,	/* central cannot read its key now: the
				 * standby keeps what it holds */
};

/* AUX's users field. */
enum msg_aux_users {
	MSG_AUX_USERS_SAME = 0,	/* the standby's copy is central's file */
	MSG_AUX_USERS_FILE = 1,	/* central's file follows, whole */
	MSG_AUX_USERS_NONE = 2,	/* central has no users file */
};
#define MSG_AUDIT_SUMWIN	4096	/* AUXASK: bytes of audit_sum */

/* Frees what msg_decode allocated; *m is zeroed. */
void	msg_release(struct msg *m);
/* Appends the encoding of m to out.  Returns 0, E_INVAL (m breaks a
 * limit) or E_TOOBIG. */
int	msg_encode(const struct msg *m, struct buf *out);
/* Strictly decodes exactly len bytes.  Record data borrows from p, which
 * must outlive *m.  On error *m is zeroed; returns 0 or E_PROTO. */
int	msg_decode(const uint8_t *p, size_t len, struct msg *m);

#ifdef SELFTEST
int	msg_selftest(void);
#endif

#endif

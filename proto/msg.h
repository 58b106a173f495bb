/*
 * msg.h - the sync protocol's messages (see proto/SCHEMA.md and
 * docs/PROTOCOL.md).  One ZeroMQ frame carries one message:
 *   [ver=1, type, fields...]
 *   HELLO   [1, 1, node:str, feed_recv:uint, own_seq:uint, window:uint]
 *   WELCOME [1, 2, node:str, have:uint, feed_last:uint, window:uint]
 *   BATCH   [1, 3, no:uint, more:uint(0|1), [[pos:uint, record:bin] ...]]
 *   ACK     [1, 4, no:uint, pos:uint, applied:uint, dup:uint, refused:uint]
 *   BYE     [1, 5]
 *   ERROR   [1, 6, code:uint, reason:str]
 *   KEYS    [1, 7, [[node:str, sign_pub:bin(32)] ...]]   central -> province
 * Decoding is strict: exact types, every count and length within the
 * limits below, no trailing bytes.
 */
#ifndef CASESYNC_MSG_H
#define CASESYNC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/hlc.h"

#define MSG_VERSION	1
#define MSG_BATCH_MAX	1024			/* records per batch */
#define MSG_MAX_BYTES	(4 * 1024 * 1024)	/* one frame */
#define MSG_WINDOW_MAX	64			/* batches in flight */
#define MSG_REASON_MAX	200
#define MSG_KEYS_MAX	256			/* nodes in a KEYS message */
#define MSG_KEY_LEN	32

enum msg_type {
	MSG_HELLO = 1,
	MSG_WELCOME = 2,
	MSG_BATCH = 3,
	MSG_ACK = 4,
	MSG_BYE = 5,
	MSG_ERROR = 6,
	MSG_KEYS = 7,
};

/* Error codes carried by MSG_ERROR. */
enum msg_error {
	MSGERR_PROTO = 1,	/* malformed or unexpected message */
	MSGERR_AUTH = 2,	/* unknown, revoked or mismatched node */
	MSGERR_GAP = 3,		/* a sequence gap: restart the session */
	MSGERR_SESSION = 4,	/* no such session: send HELLO */
	MSGERR_STORE = 5,	/* the receiver could not store the batch */
	MSGERR_BUSY = 6,	/* too many sessions, try later */
	MSGERR_QUOTA = 7,	/* the province's daily quota is used up */
};

struct msg_rec {
	uint64_t	 pos;
	const uint8_t	*data;		/* borrowed from the decoded frame */
	size_t		 len;
};

struct msg_key {
	char		 node[HLC_NODE_MAX + 1];
	uint8_t		 pub[MSG_KEY_LEN];
};

struct msg {
	enum msg_type	 type;
	char		 node[HLC_NODE_MAX + 1];	/* HELLO, WELCOME */
	uint64_t	 a, b;		/* HELLO: feed_recv, own_seq;
					 * WELCOME: have, feed_last */
	uint64_t	 window;	/* HELLO, WELCOME */
	uint64_t	 no;		/* BATCH, ACK */
	uint64_t	 more;		/* BATCH */
	struct msg_rec	*recs;		/* BATCH; owned array */
	size_t		 nrecs;
	uint64_t	 pos, applied, dup, refused;	/* ACK */
	uint64_t	 code;		/* ERROR */
	char		 reason[MSG_REASON_MAX + 1];	/* ERROR */
	struct msg_key	*keys;		/* KEYS; owned array */
	size_t		 nkeys;
};

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

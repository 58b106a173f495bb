/*
 * fuzz_msg.c - libFuzzer target for msg_decode(), the first decoder that
 * sees a frame from the network (after CURVE has opened it).
 *
 * What a peer sends is decoded the way repl.c does it: the frame with
 * msg_decode(), then every record of a BATCH with record_decode() and
 * entry_decode().  The msgpack reader accepts one encoding per value, so
 * whatever msg_decode accepts must encode back to exactly the input.  A
 * refused frame must leave nothing behind.  Anything else is a codec bug:
 * abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of proto/ and common/ and
 * $(pkg-config --libs msgpack libcrypto); run on tests/fuzz/corpus/msg
 * (tests/fuzz/run.sh does both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/entry.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A record of a BATCH, as the store splits it (node/batch.c). */
static void
check_record(const struct msg_rec *rec, const uint8_t *frame, size_t size)
{
	const uint8_t	*ent, *sig;
	size_t		 entlen, siglen;
	struct entry	 e;

	/* Record data borrows from the frame. */
	if (rec->pos == 0 || rec->len == 0 || rec->data < frame ||
	    rec->data + rec->len > frame + size)
		abort();
	if (record_decode(rec->data, rec->len, &ent, &entlen, &sig,
	    &siglen) != 0)
		return;
	if (ent < rec->data || ent + entlen > rec->data + rec->len ||
	    (siglen != 0 && siglen != RECORD_SIG_LEN))
		abort();
	if (entry_decode(ent, entlen, &e) == 0) {
		if (!node_id_valid(e.origin) || e.nops > ENTRY_MAX_OPS)
			abort();
		entry_release(&e);
	} else if (e.ops != NULL || e.nops != 0) {
		abort();
	}
}

/* A refusal's reason: only with the refused flag, within its limit,
 * without a NUL, borrowed from the frame. */
static void
check_reason(const struct msg_rec *rec, const uint8_t *frame, size_t size)
{
	const uint8_t *p = (const uint8_t *)rec->reason;

	if (rec->reasonlen == 0)
		return;
	if (rec->flags != MSG_REC_REFUSED ||
	    rec->reasonlen > MSG_REASON_MAX || p < frame ||
	    p + rec->reasonlen > frame + size ||
	    memchr(p, '\0', rec->reasonlen) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg	m, m2;
	struct buf	b;
	int		rc;

	rc = msg_decode(data, size, &m);
	if (rc != 0) {
		/* A refused frame leaves *m zeroed: nothing to release. */
		if (rc != E_PROTO || m.recs != NULL || m.keys != NULL ||
		    m.nrecs != 0 || m.nkeys != 0 || m.type != 0)
			abort();
		return 0;
	}
	/* Every limit the receivers rely on holds after a decode. */
	switch (m.type) {
	case MSG_HELLO:
	case MSG_WELCOME:
		if (!node_id_valid(m.node) || m.window == 0 ||
		    m.window > MSG_WINDOW_MAX || m.reflen > MSG_REF_MAX)
			abort();
		break;
	case MSG_BATCH:
	case MSG_RECOVER:
	case MSG_RETURN:
		if (m.nrecs > MSG_BATCH_MAX || m.more > 1 ||
		    (m.nrecs > 0 && m.recs == NULL))
			abort();
		for (size_t i = 0; i < m.nrecs; i++) {
			/* A feed or own run: the next position, or a later
			 * incarnation; a RECOVER or RETURN: ascending. */
			if (m.recs[i].flags != 0 &&
			    m.recs[i].flags != MSG_REC_REFUSED)
				abort();
			check_reason(&m.recs[i], data, size);
			if (i > 0 && (m.type == MSG_BATCH ?
			    !POS_FOLLOWS(m.recs[i - 1].pos, m.recs[i].pos) :
			    m.recs[i].pos <= m.recs[i - 1].pos))
				abort();
			check_record(&m.recs[i], data, size);
		}
		break;
	case MSG_KEYS:
		if (m.nkeys > MSG_KEYS_MAX || (m.nkeys > 0 && m.keys == NULL))
			abort();
		for (size_t i = 0; i < m.nkeys; i++)
			if (!node_id_valid(m.keys[i].node) ||
			    (m.keys[i].hist && (m.keys[i].from == 0 ||
			    m.keys[i].epoch > UINT32_MAX)))
				abort();
		break;
	case MSG_GIVE:
		/* Many origins' entries: positions in any order. */
		if (m.nrecs > MSG_BATCH_MAX || m.more > 1 ||
		    (m.nrecs > 0 && m.recs == NULL))
			abort();
		for (size_t i = 0; i < m.nrecs; i++) {
			if (m.recs[i].flags != 0 &&
			    m.recs[i].flags != MSG_REC_REFUSED)
				abort();
			check_reason(&m.recs[i], data, size);
			check_record(&m.recs[i], data, size);
		}
		break;
	case MSG_VECTOR:
		if (m.nvec > MSG_KEYS_MAX || (m.nvec > 0 && m.vec == NULL))
			abort();
		for (size_t i = 0; i < m.nvec; i++)
			if (!node_id_valid(m.vec[i].node))
				abort();
		break;
	case MSG_HANDOVER:
		/* A key hand-over (node/keyhist.h). */
		if (!node_id_valid(m.node) || m.ho_epoch == 0 ||
		    m.ho_epoch > UINT32_MAX || m.ho_from == 0)
			abort();
		break;
	case MSG_EPOCH:
	case MSG_FOLLOW:
		/* The standby's messages (docs/HA.md). */
		if (!node_id_valid(m.node))
			abort();
		break;
	case MSG_SNAP:
		/* A chunk lies within the snapshot; the data borrows from
		 * the frame. */
		if (m.datalen > MSG_SNAP_CHUNK || m.offset > m.total ||
		    m.datalen > m.total - m.offset ||
		    (m.secretslen != 0 && m.secretslen != MSG_SECRETS_LEN) ||
		    (m.datalen > 0 && (m.data < data ||
		    m.data + m.datalen > data + size)))
			abort();
		break;
	case MSG_AUXASK:
		/* A held audit offset goes with the sum of its tail. */
		if (!node_id_valid(m.node) || (m.usumlen != 0 &&
		    m.usumlen != MSG_HASH_LEN) || (m.asumlen != 0 &&
		    m.asumlen != MSG_HASH_LEN) ||
		    (m.offset == 0) != (m.asumlen == 0))
			abort();
		break;
	case MSG_AUX:
		/* Central's users file only with users = 1; audit lines
		 * within central's log, whole, without NUL; both borrow from
		 * the frame. */
		if (m.users > MSG_AUX_USERS_NONE ||
		    m.udatalen > MSG_USERS_MAX ||
		    (m.users != MSG_AUX_USERS_FILE && m.udatalen != 0) ||
		    (m.udatalen > 0 && (m.udata < data ||
		    m.udata + m.udatalen > data + size ||
		    memchr(m.udata, '\0', m.udatalen) != NULL)) ||
		    m.datalen > MSG_AUDIT_CHUNK || m.offset > m.total ||
		    m.datalen > m.total - m.offset ||
		    (m.datalen > 0 && (m.data < data ||
		    m.data + m.datalen > data + size ||
		    m.data[m.datalen - 1] != '\n' ||
		    memchr(m.data, '\0', m.datalen) != NULL)))
			abort();
		break;
	case MSG_ERROR:
		if (memchr(m.reason, '\0', sizeof(m.reason)) == NULL)
			abort();
		break;
	case MSG_ACK:
	case MSG_BYE:
	case MSG_FETCH:
	case MSG_ALIVE:
		break;
	default:
		abort();
	}
	/* Canonical: the encoding of what was decoded is the input. */
	buf_init(&b, MSG_MAX_BYTES);
	if (msg_encode(&m, &b) != 0 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	if (msg_decode(b.data, b.len, &m2) != 0 || m2.type != m.type)
		abort();
	msg_release(&m2);
	buf_release(&b);
	msg_release(&m);
	return 0;
}

#include "msg.h"
#include "entry.h"
#include "mp.h"

#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/util.h"

void
msg_release(struct msg *m)
{
	free(m->recs);
	free(m->keys);
	free(m->vec);
	memset(m, 0, sizeof(*m));
}

/*
 * AUX's rules, for both directions: a users state of 0..2 with the file
 * only for MSG_AUX_USERS_FILE (text: no NUL); audit bytes within central's
 * log (offset + len <= total), at most one chunk, whole lines (ending in a
 * newline), no NUL.
 */
static int
aux_ok(const struct msg *m)
{
	if (m->users > MSG_AUX_USERS_NONE || m->udatalen > MSG_USERS_MAX ||
	    (m->users != MSG_AUX_USERS_FILE && m->udatalen != 0) ||
	    (m->udatalen > 0 && memchr(m->udata, '\0', m->udatalen) != NULL))
		return 0;
	if (m->datalen > MSG_AUDIT_CHUNK || m->offset > m->total ||
	    m->datalen > m->total - m->offset)
		return 0;
	if (m->datalen > 0 && (m->data[m->datalen - 1] != '\n' ||
	    memchr(m->data, '\0', m->datalen) != NULL))
		return 0;
	/* The key: a state of 0..3, the sealed file only with "file". */
	if (m->auxkey && (m->key > MSG_AUX_KEY_UNREAD ||
	    m->kdatalen > MSG_KEYFILE_MAX ||
	    (m->key == MSG_AUX_KEY_FILE) != (m->kdatalen > 0)))
		return 0;
	if (!m->auxkey && m->kdatalen != 0)
		return 0;
	return 1;
}

int
msg_encode(const struct msg *m, struct buf *out)
{
	struct mp_wr w;

	mp_wr_init(&w, out, MSG_MAX_BYTES);
	switch (m->type) {
	case MSG_HELLO:
	case MSG_WELCOME:
		if (!node_id_valid(m->node) || m->window == 0 ||
		    m->window > MSG_WINDOW_MAX)
			return E_INVAL;
		if (m->type == MSG_HELLO && m->reflen > MSG_REF_MAX)
			return E_INVAL;
		mp_put_array(&w, 9);	/* HELLO and WELCOME: 9 items each */
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_cstr(&w, m->node);
		mp_put_uint(&w, m->a);
		mp_put_uint(&w, m->b);
		mp_put_uint(&w, m->window);
		if (m->type == MSG_HELLO) {
			mp_put_uint(&w, m->cseen);
			mp_put_bin(&w, m->hash, MSG_HASH_LEN);
			mp_put_bin(&w, m->ref, m->reflen);
		} else {
			mp_put_bin(&w, m->hash, MSG_HASH_LEN);
			mp_put_uint(&w, m->inc);
			mp_put_uint(&w, m->ret_after);
		}
		break;
	case MSG_FETCH:
		mp_put_array(&w, 3);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->after);
		break;
	case MSG_BATCH:
	case MSG_RECOVER:
	case MSG_RETURN:
	case MSG_GIVE:
		if (m->nrecs > MSG_BATCH_MAX || m->more > 1)
			return E_INVAL;
		mp_put_array(&w, 5);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->no);
		mp_put_uint(&w, m->more);
		mp_put_array(&w, m->nrecs);
		for (size_t i = 0; i < m->nrecs; i++) {
			const struct msg_rec *rc_ = &m->recs[i];

			if (rc_->pos == 0 || (rc_->flags != 0 &&
			    rc_->flags != MSG_REC_REFUSED) ||
			    (rc_->reasonlen > 0 && (rc_->flags == 0 ||
			    rc_->reasonlen > MSG_REASON_MAX ||
			    memchr(rc_->reason, '\0', rc_->reasonlen) != NULL)))
				return E_INVAL;
			/* flags and reason only when set: one encoding per
			 * record. */
			mp_put_array(&w, rc_->reasonlen ? 4 : rc_->flags ? 3 :
			    2);
			mp_put_uint(&w, rc_->pos);
			mp_put_bin(&w, rc_->data, rc_->len);
			if (rc_->flags)
				mp_put_uint(&w, rc_->flags);
			if (rc_->reasonlen)
				mp_put_str(&w, rc_->reason, rc_->reasonlen);
		}
		break;
	case MSG_ACK:
		mp_put_array(&w, 7);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->no);
		mp_put_uint(&w, m->pos);
		mp_put_uint(&w, m->applied);
		mp_put_uint(&w, m->dup);
		mp_put_uint(&w, m->refused);
		break;
	case MSG_BYE:
	case MSG_ALIVE:
		mp_put_array(&w, 2);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		break;
	case MSG_ERROR:
		if (!mp_cstr_ok(m->reason, sizeof(m->reason)))
			return E_INVAL;
		mp_put_array(&w, 4);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->code);
		mp_put_cstr(&w, m->reason);
		break;
	case MSG_KEYS:
		if (m->nkeys > MSG_KEYS_MAX)
			return E_INVAL;
		mp_put_array(&w, 3);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_array(&w, m->nkeys);
		for (size_t i = 0; i < m->nkeys; i++) {
			if (!node_id_valid(m->keys[i].node))
				return E_INVAL;
			if (m->keys[i].hist && (m->keys[i].epoch > UINT32_MAX ||
			    m->keys[i].from == 0))
				return E_INVAL;
			mp_put_array(&w, m->keys[i].hist ? 5 : 2);
			mp_put_cstr(&w, m->keys[i].node);
			mp_put_bin(&w, m->keys[i].pub, MSG_KEY_LEN);
			if (m->keys[i].hist) {
				mp_put_uint(&w, m->keys[i].epoch);
				mp_put_uint(&w, m->keys[i].from);
				mp_put_uint(&w, m->keys[i].revoked_from);
			}
		}
		break;
	case MSG_VECTOR:
		if (m->nvec > MSG_KEYS_MAX)
			return E_INVAL;
		mp_put_array(&w, 3);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_array(&w, m->nvec);
		for (size_t i = 0; i < m->nvec; i++) {
			if (!node_id_valid(m->vec[i].node))
				return E_INVAL;
			mp_put_array(&w, 2);
			mp_put_cstr(&w, m->vec[i].node);
			mp_put_uint(&w, m->vec[i].pos);
		}
		break;
	case MSG_HANDOVER:
		if (!node_id_valid(m->node) || m->ho_epoch > UINT32_MAX ||
		    m->ho_epoch == 0 || m->ho_from == 0)
			return E_INVAL;
		mp_put_array(&w, 8);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_cstr(&w, m->node);
		mp_put_uint(&w, m->ho_epoch);
		mp_put_uint(&w, m->ho_from);
		mp_put_bin(&w, m->ho_sign, MSG_KEY_LEN);
		mp_put_bin(&w, m->ho_curve, MSG_KEY_LEN);
		mp_put_bin(&w, m->ho_sig, sizeof(m->ho_sig));
		break;
	case MSG_EPOCH:
		if (!node_id_valid(m->node))
			return E_INVAL;
		mp_put_array(&w, 5);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_cstr(&w, m->node);
		mp_put_uint(&w, m->epoch);
		mp_put_bin(&w, m->sig, MSG_SIG_LEN);
		break;
	case MSG_FOLLOW:
		if (!node_id_valid(m->node))
			return E_INVAL;
		mp_put_array(&w, 6);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_cstr(&w, m->node);
		mp_put_uint(&w, m->have);
		mp_put_uint(&w, m->snap);
		mp_put_uint(&w, m->offset);
		break;
	case MSG_SNAP:
		if (m->datalen > MSG_SNAP_CHUNK || (m->secretslen != 0 &&
		    m->secretslen != MSG_SECRETS_LEN) || m->offset > m->total ||
		    m->datalen > m->total - m->offset)
			return E_INVAL;
		mp_put_array(&w, 8);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->txn);
		mp_put_uint(&w, m->offset);
		mp_put_uint(&w, m->total);
		mp_put_uint(&w, m->entries);
		mp_put_bin(&w, m->data, m->datalen);
		mp_put_bin(&w, m->secrets, m->secretslen);
		break;
	case MSG_AUXASK:
		if (!node_id_valid(m->node) || (m->usumlen != 0 &&
		    m->usumlen != MSG_HASH_LEN) || (m->asumlen != 0 &&
		    m->asumlen != MSG_HASH_LEN) || (m->offset == 0) !=
		    (m->asumlen == 0) || (m->ksumlen != 0 && (!m->auxkey ||
		    m->ksumlen != MSG_HASH_LEN)))
			return E_INVAL;
		mp_put_array(&w, m->auxkey ? 7 : 6);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_cstr(&w, m->node);
		mp_put_bin(&w, m->usum, m->usumlen);
		mp_put_uint(&w, m->offset);
		mp_put_bin(&w, m->asum, m->asumlen);
		if (m->auxkey)
			mp_put_bin(&w, m->ksum, m->ksumlen);
		break;
	case MSG_AUX:
		if (!aux_ok(m))
			return E_INVAL;
		mp_put_array(&w, m->auxkey ? 9 : 7);
		mp_put_uint(&w, MSG_VERSION);
		mp_put_uint(&w, m->type);
		mp_put_uint(&w, m->users);
		mp_put_bin(&w, m->udata, m->udatalen);
		mp_put_uint(&w, m->offset);
		mp_put_uint(&w, m->total);
		mp_put_bin(&w, m->data, m->datalen);
		if (m->auxkey) {
			mp_put_uint(&w, m->key);
			mp_put_bin(&w, m->kdata, m->kdatalen);
		}
		break;
	default:
		return E_INVAL;
	}
	return mp_wr_finish(&w);
}

static int
decode(struct mp_rd *r, struct msg *m)
{
	uint64_t	ver, type;
	size_t		n;

	if (mp_read_array(r, &n) || n < 2 || mp_read_uint(r, &ver) ||
	    ver != MSG_VERSION || mp_read_uint(r, &type))
		return E_PROTO;
	m->type = (enum msg_type)type;
	switch (type) {
	case MSG_HELLO:
	case MSG_WELCOME:
		if (n != 9 ||
		    mp_read_cstr(r, m->node, HLC_NODE_MAX) ||
		    !node_id_valid(m->node) || mp_read_uint(r, &m->a) ||
		    mp_read_uint(r, &m->b) || mp_read_uint(r, &m->window) ||
		    m->window == 0 || m->window > MSG_WINDOW_MAX)
			return E_PROTO;
		if (type == MSG_HELLO) {
			const uint8_t	*b;
			size_t		 bl;

			if (mp_read_uint(r, &m->cseen) ||
			    mp_read_bin(r, &b, &bl) || bl != MSG_HASH_LEN)
				return E_PROTO;
			memcpy(m->hash, b, MSG_HASH_LEN);
			if (mp_read_bin(r, &b, &bl) || bl > MSG_REF_MAX)
				return E_PROTO;
			memcpy(m->ref, b, bl);
			m->reflen = bl;
		} else {
			const uint8_t	*b;
			size_t		 bl;

			if (mp_read_bin(r, &b, &bl) || bl != MSG_HASH_LEN)
				return E_PROTO;
			memcpy(m->hash, b, MSG_HASH_LEN);
			if (mp_read_uint(r, &m->inc) ||
			    mp_read_uint(r, &m->ret_after))
				return E_PROTO;
		}
		return 0;
	case MSG_FETCH:
		return n == 3 && mp_read_uint(r, &m->after) == 0 ? 0 : E_PROTO;
	case MSG_BATCH:
	case MSG_RECOVER:
	case MSG_RETURN:
	case MSG_GIVE:
		if (n != 5 || mp_read_uint(r, &m->no) ||
		    mp_read_uint(r, &m->more) || m->more > 1 ||
		    mp_read_array(r, &m->nrecs) || m->nrecs > MSG_BATCH_MAX)
			return E_PROTO;
		m->recs = xcalloc(m->nrecs ? m->nrecs : 1, sizeof(*m->recs));
		for (size_t i = 0; i < m->nrecs; i++) {
			struct msg_rec	*rec = &m->recs[i];
			size_t		 ri;

			if (mp_read_array(r, &ri) || ri < 2 || ri > 4 ||
			    mp_read_uint(r, &rec->pos) || rec->pos == 0 ||
			    mp_read_bin(r, &rec->data, &rec->len) ||
			    rec->len == 0)
				return E_PROTO;
			if (ri >= 3 && (mp_read_uint(r, &rec->flags) ||
			    rec->flags != MSG_REC_REFUSED))
				return E_PROTO;
			/* A refusal's reason: text, never empty (that is the
			 * 3-member form), no NUL. */
			if (ri == 4 && (mp_read_str(r, &rec->reason,
			    &rec->reasonlen) || rec->reasonlen == 0 ||
			    rec->reasonlen > MSG_REASON_MAX ||
			    memchr(rec->reason, '\0', rec->reasonlen) != NULL))
				return E_PROTO;
			/* Positions ascend by one within a batch, or jump
			 * to a later incarnation (entry.h).  A RECOVER or
			 * RETURN batch holds what one node has of another's
			 * entries, so its positions need only ascend; a GIVE
			 * batch, entries of many origins in stamp order. */
			if (i > 0 && type != MSG_GIVE && (type == MSG_BATCH ?
			    !POS_FOLLOWS(m->recs[i - 1].pos, rec->pos) :
			    rec->pos <= m->recs[i - 1].pos))
				return E_PROTO;
		}
		return 0;
	case MSG_ACK:
		if (n != 7 || mp_read_uint(r, &m->no) ||
		    mp_read_uint(r, &m->pos) || mp_read_uint(r, &m->applied) ||
		    mp_read_uint(r, &m->dup) || mp_read_uint(r, &m->refused))
			return E_PROTO;
		return 0;
	case MSG_BYE:
	case MSG_ALIVE:
		return n == 2 ? 0 : E_PROTO;
	case MSG_ERROR:
		if (n != 4 || mp_read_uint(r, &m->code) ||
		    mp_read_cstr(r, m->reason, MSG_REASON_MAX))
			return E_PROTO;
		return 0;
	case MSG_KEYS:
		if (n != 3 || mp_read_array(r, &m->nkeys) ||
		    m->nkeys > MSG_KEYS_MAX)
			return E_PROTO;
		m->keys = xcalloc(m->nkeys ? m->nkeys : 1, sizeof(*m->keys));
		for (size_t i = 0; i < m->nkeys; i++) {
			struct msg_key	*k = &m->keys[i];
			const uint8_t	*b;
			size_t		 bl, kn;

			if (mp_read_array(r, &kn) || (kn != 2 && kn != 5) ||
			    mp_read_cstr(r, k->node, HLC_NODE_MAX) ||
			    !node_id_valid(k->node) ||
			    mp_read_bin(r, &b, &bl) || bl != MSG_KEY_LEN)
				return E_PROTO;
			memcpy(k->pub, b, MSG_KEY_LEN);
			k->hist = kn == 5;
			/* An epoch's range starts at a position (> 0); a
			 * revocation, when there is one, too. */
			if (k->hist && (mp_read_uint(r, &k->epoch) ||
			    k->epoch > UINT32_MAX ||
			    mp_read_uint(r, &k->from) || k->from == 0 ||
			    mp_read_uint(r, &k->revoked_from)))
				return E_PROTO;
		}
		return 0;
	case MSG_VECTOR:
		if (n != 3 || mp_read_array(r, &m->nvec) ||
		    m->nvec > MSG_KEYS_MAX)
			return E_PROTO;
		m->vec = xcalloc(m->nvec ? m->nvec : 1, sizeof(*m->vec));
		for (size_t i = 0; i < m->nvec; i++)
			if (mp_read_array_n(r, 2) ||
			    mp_read_cstr(r, m->vec[i].node, HLC_NODE_MAX) ||
			    !node_id_valid(m->vec[i].node) ||
			    mp_read_uint(r, &m->vec[i].pos))
				return E_PROTO;
		return 0;
	case MSG_HANDOVER: {
		const uint8_t	*b;
		size_t		 bl;

		if (n != 8 || mp_read_cstr(r, m->node, HLC_NODE_MAX) ||
		    !node_id_valid(m->node) || mp_read_uint(r, &m->ho_epoch) ||
		    m->ho_epoch == 0 || m->ho_epoch > UINT32_MAX ||
		    mp_read_uint(r, &m->ho_from) || m->ho_from == 0)
			return E_PROTO;
		if (mp_read_bin(r, &b, &bl) || bl != MSG_KEY_LEN)
			return E_PROTO;
		memcpy(m->ho_sign, b, MSG_KEY_LEN);
		if (mp_read_bin(r, &b, &bl) || bl != MSG_KEY_LEN)
			return E_PROTO;
		memcpy(m->ho_curve, b, MSG_KEY_LEN);
		if (mp_read_bin(r, &b, &bl) || bl != sizeof(m->ho_sig))
			return E_PROTO;
		memcpy(m->ho_sig, b, sizeof(m->ho_sig));
		return 0;
	}
	case MSG_EPOCH: {
		const uint8_t	*b;
		size_t		 bl;

		if (n != 5 || mp_read_cstr(r, m->node, HLC_NODE_MAX) ||
		    !node_id_valid(m->node) || mp_read_uint(r, &m->epoch) ||
		    mp_read_bin(r, &b, &bl) || bl != MSG_SIG_LEN)
			return E_PROTO;
		memcpy(m->sig, b, MSG_SIG_LEN);
		return 0;
	}
	case MSG_FOLLOW:
		if (n != 6 || mp_read_cstr(r, m->node, HLC_NODE_MAX) ||
		    !node_id_valid(m->node) || mp_read_uint(r, &m->have) ||
		    mp_read_uint(r, &m->snap) || mp_read_uint(r, &m->offset))
			return E_PROTO;
		return 0;
	case MSG_SNAP: {
		const uint8_t	*b;
		size_t		 bl;

		if (n != 8 || mp_read_uint(r, &m->txn) ||
		    mp_read_uint(r, &m->offset) || mp_read_uint(r, &m->total) ||
		    mp_read_uint(r, &m->entries) ||
		    mp_read_bin(r, &m->data, &m->datalen) ||
		    m->datalen > MSG_SNAP_CHUNK || m->offset > m->total ||
		    m->datalen > m->total - m->offset ||
		    mp_read_bin(r, &b, &bl) ||
		    (bl != 0 && bl != MSG_SECRETS_LEN))
			return E_PROTO;
		memcpy(m->secrets, b, bl);
		m->secretslen = bl;
		return 0;
	}
	case MSG_AUXASK: {
		const uint8_t	*b;
		size_t		 bl;

		/* Two forms: without the key (6) and with it (7). */
		if ((n != 6 && n != 7) ||
		    mp_read_cstr(r, m->node, HLC_NODE_MAX) ||
		    !node_id_valid(m->node) || mp_read_bin(r, &b, &bl) ||
		    (bl != 0 && bl != MSG_HASH_LEN))
			return E_PROTO;
		memcpy(m->usum, b, bl);
		m->usumlen = bl;
		if (mp_read_uint(r, &m->offset) || mp_read_bin(r, &b, &bl) ||
		    (bl != 0 && bl != MSG_HASH_LEN) ||
		    (m->offset == 0) != (bl == 0))
			return E_PROTO;
		memcpy(m->asum, b, bl);
		m->asumlen = bl;
		if (n == 7) {
			m->auxkey = 1;
			if (mp_read_bin(r, &b, &bl) ||
			    (bl != 0 && bl != MSG_HASH_LEN))
				return E_PROTO;
			memcpy(m->ksum, b, bl);
			m->ksumlen = bl;
		}
		return 0;
	}
	case MSG_AUX:
		/* Two forms: without the key (7) and with it (9). */
		if ((n != 7 && n != 9) || mp_read_uint(r, &m->users) ||
		    mp_read_bin(r, &m->udata, &m->udatalen) ||
		    mp_read_uint(r, &m->offset) || mp_read_uint(r, &m->total) ||
		    mp_read_bin(r, &m->data, &m->datalen))
			return E_PROTO;
		if (n == 9) {
			m->auxkey = 1;
			if (mp_read_uint(r, &m->key) ||
			    mp_read_bin(r, &m->kdata, &m->kdatalen))
				return E_PROTO;
		}
		if (!aux_ok(m))
			return E_PROTO;
		return 0;
	default:
		return E_PROTO;
	}
}

int
msg_decode(const uint8_t *p, size_t len, struct msg *m)
{
	struct mp_rd r;

	memset(m, 0, sizeof(*m));
	if (len > MSG_MAX_BYTES)
		return E_PROTO;
	mp_rd_init(&r, p, len);
	if (decode(&r, m) != 0 || mp_rd_end(&r) != 0) {
		msg_release(m);
		return E_PROTO;
	}
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
msg_selftest(void)
{
	struct msg	m, d;
	struct msg_rec	recs[3] = { { 7, (const uint8_t *)"abc", 3, 0, NULL, 0 },
	    { 8, (const uint8_t *)"de", 2, MSG_REC_REFUSED, NULL, 0 },
	    { 9, (const uint8_t *)"f", 1, 0, NULL, 0 } };
	struct buf	b;

	buf_init(&b, MSG_MAX_BYTES);
	memset(&m, 0, sizeof(m));
	m.type = MSG_HELLO;
	strlcpy_(m.node, "lao-cai", sizeof(m.node));
	m.a = 5;
	m.b = 9;
	m.window = 4;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_HELLO && strcmp(d.node, "lao-cai") == 0 &&
	    d.a == 5 && d.b == 9 && d.window == 4);
	msg_release(&d);
	/* Every truncation is refused. */
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_BATCH;
	m.no = 3;
	m.more = 1;
	m.recs = recs;
	m.nrecs = 3;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.nrecs == 3 && d.recs[1].pos == 8 && d.recs[1].len == 2 &&
	    memcmp(d.recs[1].data, "de", 2) == 0 && d.more == 1);
	/* The refused flag travels, and only on the record that has it. */
	ST_CHECK(d.recs[1].flags == MSG_REC_REFUSED && d.recs[0].flags == 0 &&
	    d.recs[2].flags == 0 && d.recs[1].reasonlen == 0);
	msg_release(&d);
	/* So does central's reason, with the flag only; an empty one is
	 * the 3-member form; a NUL, an overlong one or one without the
	 * flag is not encoded. */
	{
		static const char	 why[] = "lao-cai does not own case x";
		char			 big[MSG_REASON_MAX + 2];

		buf_reset(&b);
		recs[1].reason = why;
		recs[1].reasonlen = sizeof(why) - 1;
		ST_OK(msg_encode(&m, &b));
		ST_OK(msg_decode(b.data, b.len, &d));
		ST_CHECK(d.recs[1].reasonlen == sizeof(why) - 1 &&
		    memcmp(d.recs[1].reason, why, sizeof(why) - 1) == 0 &&
		    d.recs[0].reasonlen == 0 && d.recs[2].reasonlen == 0);
		msg_release(&d);
		for (size_t i = 0; i < b.len; i++)
			ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
		recs[1].flags = 0;
		ST_CHECK(msg_encode(&m, &b) == E_INVAL);
		recs[1].flags = MSG_REC_REFUSED;
		recs[1].reason = "a\0b";
		recs[1].reasonlen = 3;
		ST_CHECK(msg_encode(&m, &b) == E_INVAL);
		memset(big, 'x', sizeof(big));
		recs[1].reason = big;
		recs[1].reasonlen = MSG_REASON_MAX + 1;
		ST_CHECK(msg_encode(&m, &b) == E_INVAL);
		recs[1].reason = NULL;
		recs[1].reasonlen = 0;
		/* Hand-made: [pos, record, 1, ""] and a reason that is
		 * not a string are refused. */
		{
			static const uint8_t empty[] = { 0x95, 0x02, 0x03,
			    0x01, 0x00, 0x91, 0x94, 0x07, 0xc4, 0x01, 'a',
			    0x01, 0xa0 };
			static const uint8_t num[] = { 0x95, 0x02, 0x03,
			    0x01, 0x00, 0x91, 0x94, 0x07, 0xc4, 0x01, 'a',
			    0x01, 0x05 };
			static const uint8_t ok_[] = { 0x95, 0x02, 0x03,
			    0x01, 0x00, 0x91, 0x94, 0x07, 0xc4, 0x01, 'a',
			    0x01, 0xa1, 'y' };

			ST_CHECK(msg_decode(empty, sizeof(empty), &d) ==
			    E_PROTO);
			ST_CHECK(msg_decode(num, sizeof(num), &d) == E_PROTO);
			ST_OK(msg_decode(ok_, sizeof(ok_), &d));
			ST_CHECK(d.nrecs == 1 && d.recs[0].reasonlen == 1 &&
			    d.recs[0].reason[0] == 'y');
			msg_release(&d);
		}
		buf_reset(&b);
	}
	for (size_t i = 0; i < b.len; i++) {
		uint8_t save = b.data[i];
		/* Any single corrupted byte decodes cleanly or is refused. */
		b.data[i] ^= 0x5a;
		if (msg_decode(b.data, b.len, &d) == 0)
			msg_release(&d);
		b.data[i] = save;
	}
	/* A trailing byte is refused. */
	buf_append(&b, "", 1);
	ST_CHECK(msg_decode(b.data, b.len, &d) == E_PROTO);
	/* Positions that do not ascend by one are refused. */
	buf_reset(&b);
	recs[1].pos = 10;
	ST_OK(msg_encode(&m, &b));
	ST_CHECK(msg_decode(b.data, b.len, &d) == E_PROTO);
	/* A GIVE batch holds many origins' entries: any order. */
	buf_reset(&b);
	recs[1].pos = 2;
	m.type = MSG_GIVE;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_GIVE && d.nrecs == 3 && d.recs[1].pos == 2);
	msg_release(&d);
	/* VECTOR: node names are checked, truncations refused. */
	{
		struct msg_vec	v[2] = { { "lao-cai", 7 }, { "ha-noi", 0 } };

		buf_reset(&b);
		memset(&m, 0, sizeof(m));
		m.type = MSG_VECTOR;
		m.vec = v;
		m.nvec = 2;
		ST_OK(msg_encode(&m, &b));
		ST_OK(msg_decode(b.data, b.len, &d));
		ST_CHECK(d.nvec == 2 && strcmp(d.vec[0].node, "lao-cai") == 0 &&
		    d.vec[0].pos == 7 && d.vec[1].pos == 0);
		msg_release(&d);
		for (size_t i = 0; i < b.len; i++)
			ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
		strlcpy_(v[1].node, "Bad Node", sizeof(v[1].node));
		buf_reset(&b);
		ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	}
	/* A key hand-over round-trips; every truncation is refused. */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_HANDOVER;
	strlcpy_(m.node, "lao-cai", sizeof(m.node));
	m.ho_epoch = 1;
	m.ho_from = 42;
	memset(m.ho_sign, 1, sizeof(m.ho_sign));
	memset(m.ho_curve, 2, sizeof(m.ho_curve));
	memset(m.ho_sig, 3, sizeof(m.ho_sig));
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_HANDOVER && strcmp(d.node, "lao-cai") == 0 &&
	    d.ho_epoch == 1 && d.ho_from == 42 && d.ho_sign[0] == 1 &&
	    d.ho_curve[31] == 2 && d.ho_sig[63] == 3);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	m.ho_from = 0;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	/* KEYS: a plain key and an epoch record. */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_KEYS;
	m.nkeys = 2;
	m.keys = xcalloc(2, sizeof(*m.keys));
	strlcpy_(m.keys[0].node, "central", sizeof(m.keys[0].node));
	strlcpy_(m.keys[1].node, "lao-cai", sizeof(m.keys[1].node));
	m.keys[1].hist = 1;
	m.keys[1].epoch = 2;
	m.keys[1].from = 9;
	m.keys[1].revoked_from = 11;
	ST_OK(msg_encode(&m, &b));
	free(m.keys);
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.nkeys == 2 && !d.keys[0].hist && d.keys[1].hist &&
	    d.keys[1].epoch == 2 && d.keys[1].from == 9 &&
	    d.keys[1].revoked_from == 11);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	/* EPOCH, FOLLOW and SNAP (docs/HA.md). */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_EPOCH;
	strlcpy_(m.node, "central", sizeof(m.node));
	m.epoch = 77;
	memset(m.sig, 0xab, sizeof(m.sig));
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_EPOCH && d.epoch == 77 && d.sig[63] == 0xab &&
	    strcmp(d.node, "central") == 0);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_FOLLOW;
	strlcpy_(m.node, "standby", sizeof(m.node));
	m.have = 3;
	m.snap = 4;
	m.offset = 5;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_FOLLOW && d.have == 3 && d.snap == 4 &&
	    d.offset == 5);
	msg_release(&d);
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_SNAP;
	m.txn = 9;
	m.offset = 2;
	m.total = 5;
	m.entries = 1;
	m.data = (const uint8_t *)"abc";
	m.datalen = 3;
	m.secretslen = MSG_SECRETS_LEN;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_SNAP && d.txn == 9 && d.datalen == 3 &&
	    memcmp(d.data, "abc", 3) == 0 && d.secretslen == MSG_SECRETS_LEN);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	/* A chunk beyond the total is refused either way. */
	m.total = 4;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.total = 5;
	m.secretslen = 5;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	/* AUXASK and AUX: central's console files (docs/HA.md). */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_AUXASK;
	strlcpy_(m.node, "standby", sizeof(m.node));
	memset(m.usum, 7, sizeof(m.usum));
	m.usumlen = MSG_HASH_LEN;
	m.offset = 120;
	memset(m.asum, 8, sizeof(m.asum));
	m.asumlen = MSG_HASH_LEN;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_AUXASK && d.offset == 120 && d.usumlen == 32 &&
	    d.usum[31] == 7 && d.asumlen == 32 && d.asum[0] == 8 &&
	    strcmp(d.node, "standby") == 0);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	/* A held offset goes with the sum of its tail, and only then. */
	m.asumlen = 0;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.offset = 0;
	m.usumlen = 5;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_AUX;
	m.users = MSG_AUX_USERS_FILE;
	m.udata = (const uint8_t *)"a\tb\n";
	m.udatalen = 4;
	m.offset = 10;
	m.total = 30;
	m.data = (const uint8_t *)"{}\n{}\n";
	m.datalen = 6;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_AUX && d.users == MSG_AUX_USERS_FILE &&
	    d.udatalen == 4 && memcmp(d.udata, "a\tb\n", 4) == 0 &&
	    d.offset == 10 && d.total == 30 && d.datalen == 6);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	/* Not whole lines, past central's log, a file with "same". */
	m.datalen = 5;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.datalen = 6;
	m.total = 15;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.total = 30;
	m.users = MSG_AUX_USERS_SAME;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.users = 3;
	m.udatalen = 0;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	/* The longer forms, with central's HTCDS key (docs/HA.md). */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_AUXASK;
	strlcpy_(m.node, "standby", sizeof(m.node));
	m.auxkey = 1;
	memset(m.ksum, 9, sizeof(m.ksum));
	m.ksumlen = MSG_HASH_LEN;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_AUXASK && d.auxkey && d.ksumlen == 32 &&
	    d.ksum[0] == 9 && d.usumlen == 0 && d.offset == 0);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	m.ksumlen = 0;
	buf_reset(&b);
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.auxkey && d.ksumlen == 0);
	msg_release(&d);
	/* A key sum needs the longer form, and is 32 bytes. */
	m.ksumlen = 5;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.auxkey = 0;
	m.ksumlen = MSG_HASH_LEN;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_AUX;
	m.users = MSG_AUX_USERS_NONE;
	m.auxkey = 1;
	m.key = MSG_AUX_KEY_FILE;
	m.kdata = (const uint8_t *)"sealed";
	m.kdatalen = 6;
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_AUX && d.auxkey && d.key == MSG_AUX_KEY_FILE &&
	    d.kdatalen == 6 && memcmp(d.kdata, "sealed", 6) == 0 &&
	    d.users == MSG_AUX_USERS_NONE);
	msg_release(&d);
	for (size_t i = 0; i < b.len; i++)
		ST_CHECK(msg_decode(b.data, i, &d) == E_PROTO);
	{
		/* The same frame with the key's state as 4, or "same" with
		 * data: refused. */
		size_t	at = b.len - 9;

		ST_CHECK(b.data[at] == MSG_AUX_KEY_FILE);
		b.data[at] = 4;
		ST_CHECK(msg_decode(b.data, b.len, &d) == E_PROTO);
		b.data[at] = MSG_AUX_KEY_SAME;
		ST_CHECK(msg_decode(b.data, b.len, &d) == E_PROTO);
	}
	/* Encoding refuses the same, and key data in the short form. */
	m.key = MSG_AUX_KEY_SAME;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.key = MSG_AUX_KEY_FILE;
	m.kdatalen = MSG_KEYFILE_MAX + 1;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.kdatalen = 6;
	m.auxkey = 0;
	ST_CHECK(msg_encode(&m, &b) == E_INVAL);
	m.key = MSG_AUX_KEY_UNREAD;
	m.auxkey = 1;
	m.kdatalen = 0;
	buf_reset(&b);
	ST_OK(msg_encode(&m, &b));
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.key == MSG_AUX_KEY_UNREAD && d.kdatalen == 0);
	msg_release(&d);
	/* ALIVE: no fields, and none accepted. */
	buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ALIVE;
	ST_OK(msg_encode(&m, &b));
	ST_CHECK(b.len == 3 && b.data[0] == 0x92 && b.data[2] == 19);
	ST_OK(msg_decode(b.data, b.len, &d));
	ST_CHECK(d.type == MSG_ALIVE);
	msg_release(&d);
	{
		const uint8_t more[] = { 0x93, 2, 19, 0 };

		ST_CHECK(msg_decode(more, sizeof(more), &d) == E_PROTO);
	}
	buf_release(&b);
	return 0;
}
#endif

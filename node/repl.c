/*
 * repl.c - the replication engine: the province's session loop and
 * central's per-peer state machine.  See repl.h and docs/PROTOCOL.md.
 */
#include "repl.h"
#include "keyhist.h"
#include "net.h"
#include "schema.h"
#include "standby.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/msg.h"

#define CENTRAL_SESSIONS	256
#define CENTRAL_QUEUE_BATCHES	16	/* in flight to central, all provinces */
#define SESSION_IDLE_MS		60000
/* Central sends ALIVE to a session it has sent nothing for this long, so
 * that a province whose batches wait behind others' does not take the
 * wait for a dead central (docs/PROTOCOL.md, "Liveness"). */
#define KEEPALIVE_MS		1000
/* ACKs a session may have held for the standby: each ACK answers a batch
 * in flight, and a province has at most REPL_WINDOW of them. */
#define CENTRAL_HELD		REPL_WINDOW
#define BACKOFF_FIRST_MS	2000	/* after a batch failed verification */
#define BACKOFF_MAX_MS		(5 * 60 * 1000)
#define SEND_TIMEOUT_MS		5000
/* Group commit: at most this many received batches, and about this many
 * records, share one write transaction (central_flush).  Each batch adds
 * its dirty pages to the one transaction, held until its commit, so the
 * records bound central's memory: 4 full batches (4 MiB of frames). */
#define GROUP_BATCHES		8
#define GROUP_RECORDS		(4 * STORE_BATCH_MAX)
/* With the checking thread (apply_pipeline = on), central reads up to two
 * groups ahead, so that the thread checks the next group while this one
 * applies and commits (docs/PERFORMANCE.md, "The two-thread pipeline"). */
#define PIPE_BATCHES		(2 * GROUP_BATCHES)
#define PIPE_RECORDS		(2 * GROUP_RECORDS)

/* Sends m over n (to id on a ROUTER); counts bytes. */
static int
send_msg(struct net *n, const uint8_t *id, size_t idlen, const struct msg *m,
    uint64_t *bytes, int timeout_ms)
{
	struct buf	b;
	int		rc;

	buf_init(&b, MSG_MAX_BYTES);
	if ((rc = msg_encode(m, &b)) == 0) {
		rc = net_send(n, id, idlen, b.data, b.len, timeout_ms);
		if (rc == 0 && bytes)
			*bytes += b.len;
	}
	buf_release(&b);
	return rc;
}

static int
send_error(struct net *n, const uint8_t *id, size_t idlen, int code,
    const char *reason)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (uint64_t)code;
	strlcpy_(m.reason, reason, sizeof(m.reason));
	return send_msg(n, id, idlen, &m, NULL, 100);
}

_Static_assert(STORE_REASON_MAX <= MSG_REASON_MAX,
    "a stored refusal reason must fit a message");

/* Converts a scanned batch into a BATCH message (recs borrowed). */
static void
batch_msg(struct msg *m, const struct rec_batch *b, uint64_t no)
{
	memset(m, 0, sizeof(*m));
	m->type = MSG_BATCH;
	m->no = no;
	m->more = b->more ? 1 : 0;
	m->nrecs = b->n;
	m->recs = xcalloc(b->n ? b->n : 1, sizeof(*m->recs));
	for (size_t i = 0; i < b->n; i++) {
		m->recs[i].pos = b->recs[i].pos;
		m->recs[i].data = b->recs[i].data;
		m->recs[i].len = b->recs[i].len;
		m->recs[i].flags = b->recs[i].refused ? MSG_REC_REFUSED : 0;
		if (b->recs[i].refused) {
			m->recs[i].reason = b->recs[i].reason;
			m->recs[i].reasonlen = b->recs[i].reasonlen;
		}
	}
}

/* Borrowing view of a received batch as store records. */
static struct rec *
batch_recs(const struct msg *m)
{
	struct rec *r = xcalloc(m->nrecs ? m->nrecs : 1, sizeof(*r));

	for (size_t i = 0; i < m->nrecs; i++) {
		r[i].pos = m->recs[i].pos;
		r[i].data = (uint8_t *)(uintptr_t)m->recs[i].data;
		r[i].len = m->recs[i].len;
		r[i].refused = m->recs[i].flags == MSG_REC_REFUSED;
		r[i].reason = (char *)(uintptr_t)m->recs[i].reason;
		r[i].reasonlen = m->recs[i].reasonlen;
	}
	return r;
}

/* A position as "N", or "INC:N" after a restore (proto/entry.h). */
static const char *
pos_text(uint64_t pos, char *buf, size_t sz)
{
	if (POS_INC(pos) == 0)
		snprintf(buf, sz, "%llu", (unsigned long long)pos);
	else
		snprintf(buf, sz, "%llu:%llu", (unsigned long long)
		    POS_INC(pos), (unsigned long long)POS_LOW(pos));
	return buf;
}

static int
gap_or_proto(int rc)
{
	return rc == E_GAP ? MSGERR_GAP : (rc == E_PROTO || rc == E_AUTH) ?
	    MSGERR_PROTO : MSGERR_STORE;
}

/* ---- Province ---------------------------------------------------------- */

/*
 * The province's session is a state machine: one state at a time and one
 * handler per message, as central_dispatch.  The transitions:
 *
 *   HELLO   --WELCOME-->  RECOVER  central holds own entries we lost
 *                         RETURN   central was restored: give its own back
 *                         STREAM   otherwise
 *   RECOVER --RECOVER, more = 0-->  RETURN or STREAM
 *   RETURN  --ACK of the last RETURN-->  GIVE (a VECTOR came) or STREAM
 *   GIVE    --ACK of the last GIVE-->  STREAM
 *   STREAM  --everything acknowledged both ways-->  DONE (BYE)
 *
 * Feed batches from central (BATCH) are applied in every state after
 * HELLO; own entries go out only in STREAM, after any recovery, so a
 * restored node's lost tail is back before its new entries reach central
 * (docs/PROTOCOL.md, "Recovery").
 */
enum pstate {
	PS_HELLO,	/* HELLO sent, waiting for WELCOME */
	PS_RECOVER,	/* FETCH sent, waiting for our lost entries */
	PS_RETURN,	/* one RETURN batch in flight, waiting for its ACK */
	PS_GIVE,	/* one GIVE batch in flight, waiting for its ACK */
	PS_STREAM,	/* both directions stream under credit */
	PS_DONE,	/* BYE sent */
};

struct psess {
	struct store		*st;
	const struct nodecfg	*cfg;
	const struct identity	*id;
	int			 ho_done;	/* central took our hand-over */
	struct net		*net;
	struct sync_stats	*ss;
	enum pstate		 state;
	char			 cname[HLC_NODE_MAX + 1];	/* pinned */
	char			 central[HLC_NODE_MAX + 1];	/* WELCOME */
	int			 central_done, own_done;
	int			 hs_failures;
	int			 welcomed;	/* a WELCOME was ever seen */
	uint64_t		 have;		/* WELCOME: central's vector */
	uint8_t			 have_hash[MSG_HASH_LEN];
	uint64_t		 cinc;		/* central's incarnation */
	uint64_t		 ret_after;	/* central's own seq to return
						 * after */
	uint64_t		 ret_sent;	/* RETURN: sent up to */
	struct msg_vec		*cvec;		/* VECTOR of a restored central */
	size_t			 ncvec;
	int			 have_cvec;	/* a VECTOR came this session */
	struct store_fkey	*give;		/* GIVE: what is left to give */
	size_t			 ngive, give_at;
	uint64_t		 send_after;	/* own seq sent so far */
	uint64_t		 acked;		/* own seq acknowledged */
	uint64_t		 own_total;
	uint64_t		 credit, inflight, batch_no;
	/* ACKs of feed batches held back until the own entries written
	 * before that batch was applied have been sent (flush_acks). */
	struct held_ack {
		uint64_t	 no, pos, applied, dup, refused;
		uint64_t	 upto;		/* own seq to send first */
	}			 held[REPL_WINDOW];
	size_t			 nheld;
	char			 said[128];	/* central's last ERROR */
	/* High availability (docs/HA.md). */
	const char		*endpoint;	/* the central tried now */
	uint64_t		 hello_limit;	/* ms to wait for WELCOME
						 * before the next central
						 * (0: no limit) */
	int			 fenced;	/* this central is older than
						 * one already seen */
	uint64_t		 ep_epoch;	/* EPOCH this session */
	uint8_t			 ep_sig[MSG_SIG_LEN];
};

static int
psend(struct psess *p, const struct msg *m)
{
	if (send_msg(p->net, NULL, 0, m, &p->ss->bytes_out,
	    SEND_TIMEOUT_MS) != 0)
		return E_AGAIN;
	p->ss->messages_out++;
	return 0;
}

/*
 * Sends the held ACKs whose own entries have all been sent, in order.
 *
 * Why hold them: an erase this province made before it applied a batch
 * that refers the case away counts at central only while central has not
 * seen the ACK of that batch (authorise.c, referral_unseen).  Central handles
 * one message at a time, so the erase is safe once it is on the wire
 * before the ACK: even if central dies in between, it will have seen
 * neither.
 */
static int
flush_acks(struct psess *p)
{
	size_t	k = 0;

	while (k < p->nheld && p->held[k].upto <= p->send_after) {
		struct msg m;

		memset(&m, 0, sizeof(m));
		m.type = MSG_ACK;
		m.no = p->held[k].no;
		m.pos = p->held[k].pos;
		m.applied = p->held[k].applied;
		m.dup = p->held[k].dup;
		m.refused = p->held[k].refused;
		if (psend(p, &m) != 0)
			return E_AGAIN;
		k++;
	}
	memmove(p->held, p->held + k, (p->nheld - k) * sizeof(*p->held));
	p->nheld -= k;
	return 0;
}

/* Sends own entries while central has granted credit (STREAM only). */
static int
pump_own(struct psess *p)
{
	while (p->state == PS_STREAM && p->credit > 0 && !p->own_done) {
		struct rec_batch	b;
		struct msg		m;
		int			rc;

		if ((rc = store_scan_origin(p->st, p->cfg->node, p->send_after,
		    STORE_BATCH_BYTES, &b)) != 0)
			return rc;
		if (b.n == 0) {
			p->own_done = 1;
			rec_batch_free(&b);
			break;
		}
		batch_msg(&m, &b, ++p->batch_no);
		rc = psend(p, &m);
		p->send_after = b.recs[b.n - 1].pos;
		free(m.recs);
		rec_batch_free(&b);
		/* No connection took it (a cut link, central gone): restart
		 * the session, within the sync's own deadline; E_TIMEOUT here
		 * would end the whole sync early. */
		if (rc != 0)
			return E_AGAIN;
		p->credit--;
		p->inflight++;
	}
	return 0;
}

/* Records the signing keys central vouches for (to verify the entries of
 * other origins that it relays).  Never replaces central's own pinned key
 * or this node's key. */
static int
province_keys(struct psess *p, const struct msg *r)
{
	for (size_t i = 0; i < r->nkeys; i++) {
		struct node_key	nk;
		int		rc;

		if (strcmp(r->keys[i].node, p->cfg->node) == 0)
			continue;
		if (r->keys[i].hist) {
			/* One epoch of the origin's key history, as central
			 * keeps it (keyhist.h): never for central itself,
			 * whose key this province pins. */
			struct keyhist_epoch ep;

			if (strcmp(r->keys[i].node, p->cname) == 0)
				continue;
			memset(&ep, 0, sizeof(ep));
			strlcpy_(ep.node, r->keys[i].node, sizeof(ep.node));
			ep.epoch = (uint32_t)r->keys[i].epoch;
			ep.how = KH_RELAYED;
			ep.from = r->keys[i].from;
			ep.revoked_from = r->keys[i].revoked_from;
			memcpy(ep.sign_pub, r->keys[i].pub, 32);
			if ((rc = keyhist_put(p->st, &ep)) != 0)
				return rc;
			continue;
		}
		rc = store_key_get(p->st, r->keys[i].node, &nk);
		if (rc == 0 && nk.status != KEY_KNOWN)
			continue;
		if (rc == 0 && memcmp(nk.sign_pub, r->keys[i].pub, 32) == 0)
			continue;
		memset(&nk, 0, sizeof(nk));
		strlcpy_(nk.node, r->keys[i].node, sizeof(nk.node));
		nk.status = KEY_KNOWN;
		nk.since_ms = now_ms();
		memcpy(nk.sign_pub, r->keys[i].pub, 32);
		if ((rc = store_key_put(p->st, &nk)) != 0)
			return rc;
	}
	return 0;
}

static void
progress_line(const struct psess *p)
{
	fprintf(stderr, "\rsync: sent %llu/%llu, received %llu   ",
	    (unsigned long long)p->ss->sent,
	    (unsigned long long)p->own_total,
	    (unsigned long long)p->ss->received);
}

/*
 * Does this node hold the entry at central's position for it, with the
 * chain hash central holds?  0 yes; 1 no, and it was restored from a
 * backup since: the entries come back (RECOVER); E_INTEGRITY when the node
 * was put back from a copy of its files, with the reason in err.
 */
static int
check_own_chain(struct psess *p, char *err, size_t errsz)
{
	struct store_recovery	rv;
	uint8_t			h[MSG_HASH_LEN];
	char			pb[32];
	int			rc, held;

	if (p->have == 0)
		return 0;
	rc = store_chain_at(p->st, p->cfg->node, p->have, h);
	if (rc == 0 && crypto_memcmp(h, p->have_hash, sizeof(h)) == 0)
		return 0;
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	held = rc == 0;
	if (!held) {
		if ((rc = store_recovery(p->st, &rv)) != 0)
			return rc;
		/* Lost with the disk: a position of an earlier incarnation,
		 * after the backup this node was restored from.  Also once
		 * the recovery ended: the central it met then may have held
		 * less than this one (an old central back before a province
		 * restored from a backup knew of the promotion; chaos seed
		 * 16).  Only an earlier disk wrote such an entry, so taking
		 * it back is always safe (own.c, own_fn). */
		if (POS_INC(p->have) < rv.inc)
			return 1;
	}
	snprintf(err, errsz, "central holds entry %s/%s of this node, which "
	    "%s: this node was put back from a copy of its files; put it back "
	    "with `casesync restore` (nothing was sent)", p->cfg->node,
	    pos_text(p->have, pb, sizeof(pb)), held ?
	    "holds another entry there" : "lacks it");
	return E_INTEGRITY;
}

static int
send_fetch(struct psess *p, uint64_t after)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_FETCH;
	m.after = after;
	return psend(p, &m);
}

static int
start_stream(struct psess *p)
{
	p->state = PS_STREAM;
	p->send_after = p->acked = p->have;
	p->own_done = 0;
	if (pump_own(p) != 0)
		return E_AGAIN;
	return flush_acks(p);
}

static void
give_free(struct psess *p)
{
	free(p->give);
	p->give = NULL;
	p->ngive = p->give_at = 0;
}

/* GIVE: sends the next batch of other provinces' entries that a restored
 * central may have lost, oldest stamp first; when none is left, records
 * that central's incarnation is served and starts streaming. */
static int
pump_give(struct psess *p)
{
	struct rec_batch	b;
	struct msg		m;
	int			rc;

	if ((rc = store_read_keys(p->st, p->give, p->ngive, &p->give_at,
	    STORE_BATCH_BYTES, &b)) != 0)
		return rc;
	if (b.n == 0) {
		rec_batch_free(&b);
		give_free(p);
		if ((rc = store_returned_put(p->st, p->central, p->cinc)) != 0)
			return rc;
		return start_stream(p);
	}
	batch_msg(&m, &b, ++p->batch_no);
	m.type = MSG_GIVE;
	m.more = p->give_at < p->ngive;
	rc = psend(p, &m);
	free(m.recs);
	rec_batch_free(&b);
	return rc;
}

/* RETURN: sends the next batch of central's own entries that central may
 * have lost; when none is left, gives back other provinces' entries (if
 * central sent its VECTOR), else records that and starts streaming. */
static int
pump_return(struct psess *p)
{
	struct rec_batch	b;
	struct msg		m;
	int			rc;

	if ((rc = store_scan_origin(p->st, p->central, p->ret_sent,
	    STORE_BATCH_BYTES, &b)) != 0)
		return rc;
	if (b.n == 0) {
		rec_batch_free(&b);
		if (p->have_cvec) {
			give_free(p);
			if ((rc = store_foreign_after(p->st, p->central,
			    p->cvec, p->ncvec, &p->give, &p->ngive)) != 0)
				return rc;
			if (p->ngive > 0)
				log_info("sync: giving back %zu entries of "
				    "other nodes that central may have lost",
				    p->ngive);
			p->state = PS_GIVE;
			return pump_give(p);
		}
		if ((rc = store_returned_put(p->st, p->central, p->cinc)) != 0)
			return rc;
		return start_stream(p);
	}
	batch_msg(&m, &b, ++p->batch_no);
	m.type = MSG_RETURN;
	m.more = 1;
	rc = psend(p, &m);
	p->ret_sent = b.recs[b.n - 1].pos;
	free(m.recs);
	rec_batch_free(&b);
	return rc;
}

/* After any recovery of our own entries: returns central's own entries if
 * central was restored and we have not yet done so for its incarnation. */
static int
after_recover(struct psess *p)
{
	uint64_t	done = 0;
	int		rc;

	if (p->cinc > 0) {
		if ((rc = store_returned_get(p->st, p->central, &done)) != 0)
			return rc;
		if (done != p->cinc) {
			p->state = PS_RETURN;
			p->ret_sent = p->ret_after;
			return pump_return(p);
		}
	}
	return start_stream(p);
}

/*
 * Fencing (docs/HA.md): central's epoch is its incarnation.  A central
 * older than the newest this province has seen was replaced by a promoted
 * standby: refuse it before anything is applied, and show it the signed
 * EPOCH of its successor so that it fences itself.  A newer one is
 * remembered, with its signature when central's key verifies it.
 */
/* Sends this central the highest central epoch this province has seen,
 * signed, under the name node.  Returns 1 when there was one to send. */
static int
send_epoch(struct psess *p, const char *node)
{
	struct msg	m;
	uint64_t	seen = 0;
	uint8_t		sig[MSG_SIG_LEN];
	size_t		sl = 0;

	if (store_meta_u64_get(p->st, "cepoch", &seen) != 0 || seen == 0 ||
	    store_meta_blob_get(p->st, "cepoch_sig", sig, sizeof(sig), &sl) !=
	    0 || sl != sizeof(sig))
		return 0;
	memset(&m, 0, sizeof(m));
	m.type = MSG_EPOCH;
	strlcpy_(m.node, node, sizeof(m.node));
	m.epoch = seen;
	memcpy(m.sig, sig, sizeof(sig));
	psend(p, &m);
	return 1;
}

static int
show_epoch(struct psess *p)
{
	return send_epoch(p, p->cname);
}

static int
province_epoch(struct psess *p, const struct msg *r, char *err, size_t errsz)
{
	struct node_key	nk;
	uint64_t	seen = 0;
	int		rc;

	if ((rc = store_meta_u64_get(p->st, "cepoch", &seen)) != 0)
		return rc;
	if (r->inc < seen) {
		p->fenced = 1;
		send_epoch(p, r->node);
		snprintf(err, errsz, "central %s at %s is at epoch %llu, older "
		    "than epoch %llu that this node has seen: a standby was "
		    "promoted since, so it is refused (nothing was taken from "
		    "it)", r->node, p->endpoint ? p->endpoint : "?",
		    (unsigned long long)r->inc, (unsigned long long)seen);
		log_warnx("sync: %s", err);
		return E_INTEGRITY;
	}
	if (r->inc == seen)
		return 0;
	if ((rc = store_meta_u64_put(p->st, "cepoch", r->inc)) != 0)
		return rc;
	if (p->ep_epoch == r->inc && store_key_get(p->st, r->node, &nk) == 0 &&
	    nk.status == KEY_ACTIVE &&
	    standby_epoch_ok(r->node, r->inc, nk.sign_pub, p->ep_sig))
		rc = store_meta_blob_put(p->st, "cepoch_sig", p->ep_sig,
		    sizeof(p->ep_sig));
	if (seen > 0 || r->inc > 0)
		log_info("sync: central %s is at epoch %llu", r->node,
		    (unsigned long long)r->inc);
	return rc;
}

/* EPOCH: central's epoch and its signature, before WELCOME. */
static int
on_epoch(struct psess *p, const struct msg *r)
{
	if (p->state != PS_HELLO)
		return 0;
	p->ep_epoch = r->epoch;
	memcpy(p->ep_sig, r->sig, sizeof(p->ep_sig));
	return 0;
}

static int
on_welcome(struct psess *p, const struct msg *r, char *err, size_t errsz)
{
	struct store_recovery	rv;
	int			rc, lost;

	if (p->state != PS_HELLO)
		return 0;	/* a duplicate: ignored */
	if ((rc = province_epoch(p, r, err, errsz)) != 0)
		return rc;
	p->welcomed = 1;
	/* A key rotated since the last sync: hand it over before any entry
	 * it signed goes out (keyhist.h).  Central handles our messages in
	 * order, so it knows the new key before the batches. */
	if (p->id->has_prev && !p->ho_done) {
		struct msg m;

		memset(&m, 0, sizeof(m));
		m.type = MSG_HANDOVER;
		strlcpy_(m.node, p->cfg->node, sizeof(m.node));
		m.ho_epoch = p->id->epoch;
		m.ho_from = p->id->ho_from;
		memcpy(m.ho_sign, p->id->sign_pub, 32);
		memcpy(m.ho_curve, p->id->curve_pub, 32);
		memcpy(m.ho_sig, p->id->ho_sig, sizeof(m.ho_sig));
		if ((rc = psend(p, &m)) != 0)
			return rc;
	}
	strlcpy_(p->central, r->node, sizeof(p->central));
	p->have = r->a;
	memcpy(p->have_hash, r->hash, sizeof(p->have_hash));
	p->cinc = r->inc;
	p->ret_after = r->ret_after;
	p->credit = r->window;
	/* Central holds our entries up to have: a held ACK waiting only for
	 * those may go even before STREAM (flush_acks). */
	p->send_after = p->acked = p->have;
	if ((lost = check_own_chain(p, err, errsz)) != 0 && lost != 1)
		return lost;
	if ((rc = store_recovery(p->st, &rv)) != 0)
		return rc;
	if (lost && !rv.pending) {
		log_info("sync: central holds entries of this node from before "
		    "its restore that it lacks; fetching them");
		p->state = PS_RECOVER;
		return send_fetch(p, rv.recovered_from);
	}
	/*
	 * Restored and not yet recovered: fetch whatever central holds of
	 * ours after recover_from, even when we hold central's position
	 * itself.  A backup taken before an earlier recovery finished has
	 * holes below it, and the position alone would not show them.
	 */
	if (rv.pending && p->have > 0) {
		log_info("sync: this node was restored from a backup; fetching "
		    "its entries that central holds");
		p->state = PS_RECOVER;
		return send_fetch(p, rv.recover_from);
	}
	if (rv.pending && (rc = store_recovery_done(p->st)) != 0)
		return rc;
	return after_recover(p);
}

static int
on_recover(struct psess *p, const struct msg *r, char *err, size_t errsz)
{
	struct apply_stats	 as;
	struct rec		*recs;
	char			 why[256];
	int			 rc;

	if (p->state != PS_RECOVER)
		return E_AGAIN;
	recs = batch_recs(r);
	rc = store_apply_own(p->st, "central", recs, r->nrecs, &as, why,
	    sizeof(why));
	free(recs);
	if (rc == E_PROTO || rc == E_AUTH) {
		log_warnx("sync: recovered entries from central: %s", why);
		send_error(p->net, NULL, 0, MSGERR_PROTO, why);
		return E_AGAIN;
	}
	if (rc != 0) {
		snprintf(err, errsz, "cannot store this node's entries from "
		    "central: %.180s", why);
		return rc;
	}
	p->ss->received += as.applied;
	p->ss->recovered += as.applied;
	if (r->more && r->nrecs > 0)
		return send_fetch(p, r->recs[r->nrecs - 1].pos);
	if ((rc = check_own_chain(p, err, errsz)) == 1) {
		snprintf(err, errsz, "central's entries of this node do not "
		    "reach the position central holds");
		return E_INTEGRITY;
	}
	if (rc != 0)
		return rc;
	if ((rc = store_recovery_done(p->st)) != 0)
		return rc;
	log_info("sync: %llu entries of ours recovered from central",
	    (unsigned long long)p->ss->recovered);
	return after_recover(p);
}

static int
on_batch(struct psess *p, const struct msg *r, char *err, size_t errsz)
{
	struct apply_stats	 as;
	struct rec		*recs;
	struct held_ack		*h;
	char			 why[256];
	int			 rc;

	if (p->state == PS_HELLO)
		return E_AGAIN;
	recs = batch_recs(r);
	rc = store_apply_from_central(p->st, "central", recs, r->nrecs, &as,
	    why, sizeof(why));
	free(recs);
	if (rc == E_GAP || rc == E_PROTO || rc == E_AUTH) {
		log_warnx("sync: batch from central: %s", why);
		send_error(p->net, NULL, 0, gap_or_proto(rc), why);
		return E_AGAIN;
	}
	if (rc != 0) {
		snprintf(err, errsz, "cannot store batch from central: %.180s",
		    why);
		return rc;
	}
	p->ss->received += as.applied;
	if (p->nheld == REPL_WINDOW)
		return E_AGAIN;	/* central sent beyond the credit we gave */
	h = &p->held[p->nheld++];
	h->no = r->no;
	h->pos = as.last_pos;
	h->applied = as.applied;
	h->dup = as.duplicates;
	h->refused = as.refused;
	/* Held only when the batch referred a case away from us; the others
	 * just keep their order. */
	h->upto = 0;
	if (as.moved_away > 0 &&
	    (rc = store_vv_get(p->st, p->cfg->node, &h->upto)) != 0)
		return rc;
	if (!r->more)
		p->central_done = 1;
	/* What was written before this batch was applied goes out before its
	 * ACK (flush_acks). */
	p->own_done = 0;
	if ((rc = pump_own(p)) != 0)
		return rc;
	return flush_acks(p);
}

static int
on_ack(struct psess *p, const struct msg *r)
{
	int rc;

	if (p->state == PS_RETURN) {
		p->ss->returned += r->applied;
		return pump_return(p);
	}
	if (p->state == PS_GIVE) {
		p->ss->returned += r->applied;
		return pump_give(p);
	}
	if (p->state != PS_STREAM || p->inflight == 0)
		return E_AGAIN;
	p->inflight--;
	p->credit++;
	if (r->pos > p->acked) {
		/* Positions count entries within an incarnation; across one,
		 * the ACK's own counts do. */
		p->ss->sent += POS_INC(r->pos) == POS_INC(p->acked) ?
		    r->pos - p->acked : r->applied + r->dup + r->refused;
		p->acked = r->pos;
	}
	p->ss->refused += r->refused;
	if ((rc = pump_own(p)) != 0)
		return rc;
	return flush_acks(p);
}

/* Central recorded our key hand-over: this node's own record of the new
 * key is marked confirmed, and the next open of the node drops the
 * previous keys (cli.c). */
static int
on_handover(struct psess *p, const struct msg *r)
{
	struct keyhist_epoch	eps[KEYHIST_MAX];
	size_t			n;
	int			rc;

	if (!p->id->has_prev || strcmp(r->node, p->cfg->node) != 0 ||
	    memcmp(r->ho_sign, p->id->sign_pub, 32) != 0 ||
	    memcmp(r->ho_curve, p->id->curve_pub, 32) != 0)
		return E_AGAIN;
	if ((rc = keyhist_list(p->st, p->cfg->node, eps, KEYHIST_MAX, &n)) !=
	    0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (eps[i].epoch != p->id->epoch || eps[i].confirmed)
			continue;
		eps[i].confirmed = 1;
		if ((rc = keyhist_put(p->st, &eps[i])) != 0)
			return rc;
	}
	p->ho_done = 1;
	log_info("sync: central took this node's new key (epoch %u)",
	    p->id->epoch);
	return 0;
}

static int
on_error(struct psess *p, const struct msg *r, char *err, size_t errsz)
{
	log_warnx("sync: central says: %s", r->reason);
	/* Kept for the one-line reason if we time out (a lost session after
	 * a reconnection says nothing new). */
	if (r->code != MSGERR_SESSION)
		strlcpy_(p->said, r->reason, sizeof(p->said));
	if (r->code == MSGERR_AUTH) {
		snprintf(err, errsz, "central refused this node: %s",
		    r->reason);
		return E_AUTH;
	}
	if (r->code == MSGERR_COPY) {
		snprintf(err, errsz, "central said: %s", r->reason);
		/* An old central back after a standby was promoted lacks
		 * the new central's entries we hold, and says so before any
		 * epoch is compared: show it the epoch we saw (it fences
		 * itself if that is later than its own) and try the next
		 * central (docs/HA.md). */
		if (show_epoch(p))
			p->fenced = 1;
		return E_INTEGRITY;
	}
	if (r->code == MSGERR_FENCED) {
		/* Try the next central, if any (docs/HA.md). */
		p->fenced = 1;
		snprintf(err, errsz, "central at %s said: %s", p->endpoint ?
		    p->endpoint : "?", r->reason);
		return E_INTEGRITY;
	}
	if (r->code == MSGERR_QUOTA) {
		/* Nothing is lost: our entries wait here for a later day. */
		snprintf(err, errsz, "central refused our entries: %s",
		    r->reason);
		return E_QUOTA;
	}
	return E_AGAIN;
}

/* VECTOR: a restored central says what it holds of each province, before
 * its WELCOME; kept for GIVE. */
static int
on_vector(struct psess *p, const struct msg *r)
{
	if (p->state != PS_HELLO)
		return 0;	/* only ever before WELCOME: ignored */
	free(p->cvec);
	p->cvec = xcalloc(r->nvec ? r->nvec : 1, sizeof(*p->cvec));
	memcpy(p->cvec, r->vec, r->nvec * sizeof(*p->cvec));
	p->ncvec = r->nvec;
	p->have_cvec = 1;
	return 0;
}

/* One message from central.  Returns 0 to go on, E_AGAIN to restart the
 * session, or a fatal error (reason in err). */
static int
province_dispatch(struct psess *p, const struct msg *r, char *err,
    size_t errsz)
{
	switch (r->type) {
	case MSG_WELCOME:
		return on_welcome(p, r, err, errsz);
	case MSG_BATCH:
		return on_batch(p, r, err, errsz);
	case MSG_RECOVER:
		return on_recover(p, r, err, errsz);
	case MSG_ACK:
		return on_ack(p, r);
	case MSG_KEYS:
		return province_keys(p, r);
	case MSG_VECTOR:
		return on_vector(p, r);
	case MSG_EPOCH:
		return on_epoch(p, r);
	case MSG_HANDOVER:
		return on_handover(p, r);
	case MSG_ERROR:
		return on_error(p, r, err, errsz);
	case MSG_ALIVE:
		return 0;	/* it counts as hearing from central */
	default:
		return E_AGAIN;	/* unexpected: restart */
	}
}

/* HELLO: our durable positions, and what central's own chain and our feed
 * look like from here, so that central notices it was put back from a
 * copy of its files (central_copied). */
static int
hello_msg(struct psess *p, struct msg *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->type = MSG_HELLO;
	strlcpy_(m->node, p->cfg->node, sizeof(m->node));
	if (store_fref_get(p->st, "central", &m->a, m->ref, &m->reflen) != 0)
		m->a = m->reflen = 0;
	if ((rc = store_vv_get(p->st, p->cfg->node, &m->b)) != 0)
		return rc;
	m->window = REPL_WINDOW;
	if (store_vv_get(p->st, p->cname, &m->cseen) != 0 ||
	    store_chain_at(p->st, p->cname, m->cseen, m->hash) != 0) {
		m->cseen = 0;
		memset(m->hash, 0, sizeof(m->hash));
	}
	return 0;
}

/*
 * One session.  Returns 0 when complete, E_AGAIN to restart (cut link,
 * gap, silence), E_TIMEOUT when the deadline passed, or a fatal error.
 */
static int
province_session(struct psess *p, uint64_t deadline, int progress,
    volatile sig_atomic_t *quit, char *err, size_t errsz)
{
	struct msg	m;
	struct buf	in;
	uint64_t	last_rx = mono_ms();
	uint64_t	idle_ms = p->cfg->heartbeat_ms * 3 + 5000;
	uint64_t	hello_until = deadline;
	int		rc;

	p->state = PS_HELLO;
	p->have_cvec = 0;
	p->fenced = 0;
	p->ep_epoch = 0;
	give_free(p);
	p->central_done = p->own_done = 0;
	p->credit = p->inflight = 0;
	p->nheld = 0;
	p->ss->sessions++;
	if ((rc = hello_msg(p, &m)) != 0)
		return rc;
	p->own_total = POS_LOW(m.b);
	/* Several centrals: give this one hello_limit to answer. */
	if (p->hello_limit > 0 && mono_ms() + p->hello_limit < deadline)
		hello_until = mono_ms() + p->hello_limit;
	/* ZMQ_IMMEDIATE: the send only succeeds once a connection exists. */
	for (;;) {
		uint64_t now = mono_ms();
		if (*quit || now >= deadline)
			return E_TIMEOUT;
		if (now >= hello_until)
			return E_AGAIN;
		rc = send_msg(p->net, NULL, 0, &m, &p->ss->bytes_out,
		    (int)(deadline - now < 250 ? deadline - now : 250));
		if (rc == 0)
			break;
		if (net_check(p->net) == E_AUTH) {
			snprintf(err, errsz, "%s", net_error(p->net));
			return E_AUTH;
		}
	}
	p->ss->messages_out++;
	buf_init(&in, MSG_MAX_BYTES);
	for (;;) {
		uint64_t	now = mono_ms();
		uint8_t		id[NET_ID_MAX];
		size_t		idlen;
		struct msg	r;
		int		wait;

		if (p->state == PS_STREAM && p->central_done && p->own_done &&
		    p->inflight == 0 && p->nheld == 0) {
			memset(&m, 0, sizeof(m));
			m.type = MSG_BYE;
			send_msg(p->net, NULL, 0, &m, &p->ss->bytes_out, 1000);
			p->state = PS_DONE;
			rc = 0;
			break;
		}
		if (*quit || now >= deadline) {
			rc = E_TIMEOUT;
			break;
		}
		if (p->state == PS_HELLO && now >= hello_until) {
			log_info("sync: no answer from central at %s; trying "
			    "the next", p->endpoint);
			rc = E_AGAIN;
			break;
		}
		if (now - last_rx > idle_ms) {
			log_info("sync: central silent for %llu ms; "
			    "restarting the session",
			    (unsigned long long)(now - last_rx));
			rc = E_AGAIN;
			break;
		}
		wait = (int)(deadline - now < 250 ? deadline - now : 250);
		rc = net_recv(p->net, wait, id, &idlen, NULL, &in);
		if (rc == E_AGAIN)
			continue;
		if (rc == E_AUTH) {
			snprintf(err, errsz, "%s", net_error(p->net));
			break;
		}
		if (rc != 0) {
			log_info("sync: the connection to central was lost; "
			    "restarting the session");
			rc = E_AGAIN;
			break;
		}
		last_rx = mono_ms();
		p->ss->bytes_in += in.len;
		p->ss->messages_in++;
		if (msg_decode(in.data, in.len, &r) != 0) {
			log_warnx("sync: malformed message from central");
			rc = E_AGAIN;
			break;
		}
		rc = province_dispatch(p, &r, err, errsz);
		msg_release(&r);
		if (progress)
			progress_line(p);
		if (rc != 0)
			break;
	}
	buf_release(&in);
	return rc;
}

/* The keys this province pinned for central (and its standbys), in the
 * order they were pinned: the i-th goes with the i-th endpoint of
 * `central` (docs/HA.md). */
struct pins {
	struct node_key	k[NODECFG_CENTRALS_MAX];
	int		n;
};

static int
pinned_one(const struct node_key *nk, void *arg)
{
	struct pins	*ps = arg;
	int		 i;

	if (nk->status != KEY_ACTIVE || ps->n == NODECFG_CENTRALS_MAX)
		return 0;
	for (i = ps->n; i > 0 && (ps->k[i - 1].since_ms > nk->since_ms ||
	    (ps->k[i - 1].since_ms == nk->since_ms &&
	    strcmp(ps->k[i - 1].node, nk->node) > 0)); i--)
		ps->k[i] = ps->k[i - 1];
	ps->k[i] = *nk;
	ps->n++;
	return 0;
}

/* Endpoints named in `central` (NAME@tcp://...): the i-th endpoint's key
 * is the one pinned as names[i], whatever the order of pinning. */
static int
pins_by_name(struct pins *ps, char names[][HLC_NODE_MAX + 1], int neps,
    char *err, size_t errsz)
{
	struct pins	out;

	memset(&out, 0, sizeof(out));
	for (int i = 0; i < neps; i++) {
		int j;

		for (j = 0; j < ps->n; j++)
			if (strcmp(ps->k[j].node, names[i]) == 0)
				break;
		if (j == ps->n) {
			snprintf(err, errsz, "`central` names %s for an "
			    "endpoint, but no key is pinned as %s: run "
			    "`casesync trust -d DIR %s KEY`", names[i],
			    names[i], names[i]);
			return E_AUTH;
		}
		out.k[out.n++] = ps->k[j];
	}
	*ps = out;
	return 0;
}

/* A sync that tries several centrals waits this long for each one's
 * WELCOME before it moves on to the next. */
#define FAILOVER_HELLO_MS	4000
/* ... and this long for a central it passed over to connect, to show it
 * the epoch (standby_epoch_show). */
#define EPOCH_SHOW_MS		500

/* Notes an endpoint tried (several centrals only). */
static void
tried_add(struct sync_stats *ss, int neps, const char *ep, const char *name,
    int tried[], int i)
{
	size_t	len = strlen(ss->tried);

	tried[i] = 1;
	if (neps < 2)
		return;
	snprintf(ss->tried + len, sizeof(ss->tried) - len, "%s%s%s%s",
	    len ? " " : "", name, name[0] ? "@" : "", ep);
}

/* What a province records of its session with central, into the peer
 * record as it is now (store_peer_update): a concurrent session of this
 * node may have moved its feed position since this one began. */
struct session_end {
	int		 rc;
	uint64_t	 acked;
	uint64_t	 refused;
	const char	*err;
};

static int
session_end_fn(struct peer_info *pi, void *arg)
{
	const struct session_end *se = arg;

	pi->last_attempt_ms = now_ms();
	if (se->rc == 0) {
		pi->last_sync_ms = now_ms();
		pi->sent_acked = se->acked;
		pi->last_error[0] = '\0';
	} else {
		if (se->acked > pi->sent_acked)
			pi->sent_acked = se->acked;
		snprintf(pi->last_error, sizeof(pi->last_error), "%s",
		    se->err);
	}
	pi->refused += se->refused;
	return 0;
}

int
repl_sync(struct store *st, const struct nodecfg *cfg,
    const struct identity *id, uint64_t timeout_ms, int progress,
    volatile sig_atomic_t *quit, struct sync_stats *ss, char *err,
    size_t errsz)
{
	struct net_opts		 no;
	struct pins		 pins;
	char			 eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX];
	char			 names[NODECFG_CENTRALS_MAX][HLC_NODE_MAX + 1];
	char			 lasterr[512] = "";
	int			 neps, cur = 0, answered = -1;
	int			 order[NODECFG_CENTRALS_MAX];
	int			 tried[NODECFG_CENTRALS_MAX] = { 0 };
	struct psess		 p;
	uint64_t		 start = mono_ms(), deadline = start + timeout_ms;
	uint64_t		 backoff = 100;
	int			 rc;

	memset(ss, 0, sizeof(*ss));
	err[0] = '\0';
	if (strcmp(cfg->role, "province") != 0) {
		snprintf(err, errsz, "sync runs on a province; this node is "
		    "%s", cfg->role);
		return E_INVAL;
	}
	if (cfg->central[0] == '\0') {
		snprintf(err, errsz, "no central endpoint configured");
		return E_INVAL;
	}
	if ((neps = nodecfg_centrals(cfg->central, eps, names)) <= 0) {
		snprintf(err, errsz, "central '%s' is not a list of "
		    "tcp://HOST:PORT", cfg->central);
		return E_INVAL;
	}
	memset(&pins, 0, sizeof(pins));
	if (store_key_each(st, pinned_one, &pins) < 0 || pins.n == 0) {
		snprintf(err, errsz, "central's key is not pinned: run `casesync "
		    "trust -d DIR NODE KEY` with the line `casesync key` "
		    "prints on central");
		return E_AUTH;
	}
	if (names[0][0] != '\0' && (rc = pins_by_name(&pins, names, neps,
	    err, errsz)) != 0)
		return rc;
	if (pins.n < neps) {
		snprintf(err, errsz, "%d central endpoints but %d pinned keys: "
		    "pin each one's key with `casesync trust` (name each "
		    "endpoint NAME@tcp://HOST:PORT, docs/HA.md)", neps,
		    pins.n);
		return E_AUTH;
	}
	/* The central that answered last first (docs/HA.md). */
	standby_central_order(st, eps, names, neps, order);
	memset(&no, 0, sizeof(no));
	no.heartbeat_ms = cfg->heartbeat_ms;
	no.max_msg = MSG_MAX_BYTES;
	/* Until central has taken a rotated key, connect with the transport
	 * key it knows (keyhist.h). */
	no.curve_pub = id->has_prev ? id->prev.curve_pub : id->curve_pub;
	no.curve_sec = id->has_prev ? id->prev.curve_sec : id->curve_sec;
	no.server_pub = pins.k[order[0]].curve_pub;
	memset(&p, 0, sizeof(p));
	p.st = st;
	p.cfg = cfg;
	p.id = id;
	p.ss = ss;
	p.endpoint = eps[order[0]];
	p.hello_limit = neps > 1 ? FAILOVER_HELLO_MS : 0;
	/* Central's own entries are under the name of the first key: the
	 * central the province was enrolled with. */
	strlcpy_(p.cname, pins.k[0].node, sizeof(p.cname));
	tried_add(ss, neps, eps[order[0]], names[order[0]], tried, order[0]);
	if ((rc = net_connect(eps[order[0]], &no, &p.net, err, errsz)) != 0)
		return rc;
	for (;;) {
		char		why[512] = "";
		uint64_t	moved = ss->sent + ss->received;
		int		was_welcomed = p.welcomed;

		p.welcomed = 0;
		rc = province_session(&p, deadline, progress, quit, why,
		    sizeof(why));
		if (p.welcomed)
			answered = order[cur];
		if (neps > 1 && ((rc == E_INTEGRITY && p.fenced) ||
		    (rc == E_AGAIN && !p.welcomed))) {
			/* Fenced, or no answer: the next central. */
			if (why[0])
				snprintf(lasterr, sizeof(lasterr), "%s", why);
			p.welcomed = was_welcomed;
			p.hs_failures += net_handshake_failures(p.net);
			net_close(&p.net);
			cur = (cur + 1) % neps;
			if (cur == 0 && mono_ms() + backoff >= deadline) {
				rc = E_TIMEOUT;
				break;
			}
			if (cur == 0) {
				struct timespec ts = { (time_t)(backoff /
				    1000), (long)(backoff % 1000) * 1000000 };

				nanosleep(&ts, NULL);
				backoff = backoff * 2 > 5000 ? 5000 :
				    backoff * 2;
			}
			p.endpoint = eps[order[cur]];
			no.server_pub = pins.k[order[cur]].curve_pub;
			tried_add(ss, neps, eps[order[cur]], names[order[cur]],
			    tried, order[cur]);
			if ((rc = net_connect(eps[order[cur]], &no, &p.net,
			    err, errsz)) != 0)
				break;
			continue;
		}
		p.welcomed |= was_welcomed;
		/* Central refuses the previous key before any WELCOME: it
		 * was revoked and the new key enrolled with `trust` (the
		 * hand-over then only confirms it). */
		if (rc == E_AUTH && id->has_prev && !p.welcomed &&
		    no.curve_pub != id->curve_pub) {
			log_info("sync: central refused this node's previous "
			    "key; connecting with the new one");
			no.curve_pub = id->curve_pub;
			no.curve_sec = id->curve_sec;
			rc = E_AGAIN;
		}
		if (rc != E_AGAIN) {
			if (why[0])
				snprintf(err, errsz, "%s", why);
			break;
		}
		/* A session that moved entries before it broke (a flaky
		 * link) is retried promptly; back off only when stuck. */
		if (ss->sent + ss->received > moved)
			backoff = 100;
		/* Restart after a pause, capped, within the deadline. */
		if (mono_ms() + backoff >= deadline) {
			rc = E_TIMEOUT;
			break;
		}
		p.hs_failures += net_handshake_failures(p.net);
		net_close(&p.net);
		/* The new key once central has taken it. */
		if (id->has_prev && p.ho_done) {
			no.curve_pub = id->curve_pub;
			no.curve_sec = id->curve_sec;
		}
		{
			struct timespec ts = { (time_t)(backoff / 1000),
			    (long)(backoff % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		if ((rc = net_connect(eps[order[cur]], &no, &p.net, err,
		    errsz)) != 0)
			break;
	}
	if (p.net != NULL)
		p.hs_failures += net_handshake_failures(p.net);
	net_close(&p.net);
	if (answered >= 0) {
		standby_central_answered(st, eps[answered], names[answered]);
		/* The endpoints listed before it that this sync passed over
		 * see the epoch, as when every sync tried them in order: an
		 * old central come back there fences itself. */
		for (int i = 0; i < answered; i++) {
			if (tried[i])
				continue;
			no.server_pub = pins.k[i].curve_pub;
			(void)standby_epoch_show(st, p.cname, eps[i], &no,
			    EPOCH_SHOW_MS);
		}
	}
	if (progress)
		fputc('\n', stderr);
	ss->ms = mono_ms() - start;
	if (rc == E_TIMEOUT && err[0] == '\0') {
		if (lasterr[0])
			snprintf(err, errsz, "no central answered within %llu "
			    "s; last: %s", (unsigned long long)(timeout_ms /
			    1000), lasterr);
		else if (!p.welcomed && p.hs_failures > 0)
			snprintf(err, errsz, "central at %s: %d secure "
			    "handshakes failed within %llu s (is the key pinned "
			    "with `casesync trust` central's current key?)",
			    cfg->central, p.hs_failures,
			    (unsigned long long)(timeout_ms / 1000));
		else
			snprintf(err, errsz, "central at %s %s within %llu "
			    "s%s%s", cfg->central, p.welcomed ? "did not "
			    "complete the sync" : "did not answer",
			    (unsigned long long)(timeout_ms / 1000),
			    p.said[0] ? "; central said: " : "", p.said);
	}
	{
		struct session_end	se = { rc, p.acked, ss->refused, err };
		const char		*pause;

		/* Test only: the scheduler delays this process here while
		 * another session of this node commits (test_chaos.py). */
		if ((pause = getenv("CASESYNC_TEST_SESSION_END_MS")) != NULL) {
			uint64_t	ms = strtoull(pause, NULL, 10);
			struct timespec	ts = { (time_t)(ms / 1000),
			    (long)(ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
		}
		if (store_peer_update(st, "central", session_end_fn, &se) != 0)
			log_warnx("sync: cannot record the session with "
			    "central");
	}
	give_free(&p);
	free(p.cvec);
	return rc;
}

/* ---- Central ----------------------------------------------------------- */

struct csess {
	int		 used;
	uint8_t		 id[NET_ID_MAX];
	size_t		 idlen;
	char		 node[HLC_NODE_MAX + 1];
	char		 key[2 * NET_KEY + 1];	/* CURVE key that said HELLO */
	uint64_t	 send_after;	/* feed position sent so far */
	uint64_t	 credit;	/* batches we may still send */
	uint64_t	 inflight;	/* batches sent, not yet acknowledged */
	uint64_t	 batch_no;
	int		 done_sent;
	uint64_t	 last_ms;	/* last message from it (mono_ms) */
	uint64_t	 tx_ms;		/* last message to it (mono_ms) */
	/* Its credit, enforced: the window its WELCOME granted, and its
	 * batches read and not yet acknowledged (ACK sent). */
	uint64_t	 window;
	uint64_t	 unacked;
	/* Synchronous standby: ACKs held until the standby holds the state
	 * at txn (standby_srv_hold), in the order they were made. */
	struct {
		uint64_t	 no, pos, applied, dup, refused;	/* ACK */
		uint64_t	 txn;
		uint64_t	 since;	/* mono_ms */
	}		 held[CENTRAL_HELD];
	size_t		 nheld;
	/* ... and a HELLO whose WELCOME (central's count of the province's
	 * entries, an acknowledgement too) waits for the standby; owned. */
	struct msg	*hello;
	uint64_t	 hello_have, hello_txn, hello_since;
};

/* A province whose batches failed verification waits before its next
 * session: resending a bad batch at once costs central an apply and a
 * roll back each time. */
struct backoff {
	char		 node[HLC_NODE_MAX + 1];
	uint64_t	 until;		/* mono_ms */
	uint64_t	 ms;		/* the next wait */
};

/* A received batch waiting for the group's commit: its message, decoded
 * from c->in[k], its records, who sent it, and the checking thread's job
 * on it (NULL without the thread). */
struct pending {
	struct csess		*s;
	uint8_t			 id[NET_ID_MAX];
	size_t			 idlen;
	char			 node[HLC_NODE_MAX + 1];
	struct msg		 r;
	struct rec		*recs;		/* owned; borrow from in[k] */
	struct precheck_job	*job;		/* owned */
};

struct central {
	struct store		*st;
	const struct nodecfg	*cfg;
	const struct identity	*id;
	struct net		*net;
	struct csess		 s[CENTRAL_SESSIONS];
	struct backoff		 bo[CENTRAL_SESSIONS];
	struct sbsrv		*sb;	/* the standby's link (HA.md) */
	/* Group commit: message k is received into in[k]; the first npend
	 * are batches not applied yet, in the order they came. */
	struct buf		 in[PIPE_BATCHES];
	struct pending		 pend[PIPE_BATCHES];
	size_t			 npend;
	size_t			 pend_recs;	/* records in pend */
	/* The checking thread (apply_pipeline = on), else NULL. */
	struct store_precheck	*pc;
};

static struct backoff *
backoff_get(struct central *c, const char *node, int create)
{
	struct backoff	*oldest = &c->bo[0];

	for (int i = 0; i < CENTRAL_SESSIONS; i++) {
		if (strcmp(c->bo[i].node, node) == 0)
			return &c->bo[i];
		if (c->bo[i].until < oldest->until)
			oldest = &c->bo[i];
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(*oldest));
	strlcpy_(oldest->node, node, sizeof(oldest->node));
	oldest->ms = BACKOFF_FIRST_MS;
	return oldest;
}

/* node sent a batch that failed verification, or broke the credit. */
static void
backoff_bump(struct central *c, const char *node)
{
	struct backoff *b = backoff_get(c, node, 1);

	b->until = mono_ms() + b->ms;
	log_warnx("%s backed off for %llu ms", node,
	    (unsigned long long)b->ms);
	b->ms = b->ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : b->ms * 2;
}

static struct csess *
sess_find(struct central *c, const uint8_t *id, size_t idlen)
{
	for (int i = 0; i < CENTRAL_SESSIONS; i++)
		if (c->s[i].used && c->s[i].idlen == idlen &&
		    memcmp(c->s[i].id, id, idlen) == 0)
			return &c->s[i];
	return NULL;
}

static void
sess_drop(struct csess *s, const char *why)
{
	if (s->used)
		log_info("session with %s closed: %s", s->node, why);
	free(s->hello);
	memset(s, 0, sizeof(*s));
}

/* Sends feed batches to s while it has credit. */
static int
pump_feed(struct central *c, struct csess *s)
{
	while (s->credit > 0 && !s->done_sent) {
		struct rec_batch	b;
		struct msg		m;
		int			rc;

		if ((rc = store_scan_feed(c->st, s->node, s->send_after,
		    STORE_BATCH_BYTES, &b)) != 0)
			return rc;
		batch_msg(&m, &b, ++s->batch_no);
		rc = send_msg(c->net, s->id, s->idlen, &m, NULL, 0);
		if (b.n > 0)
			s->send_after = b.recs[b.n - 1].pos;
		if (!b.more)
			s->done_sent = 1;
		free(m.recs);
		rec_batch_free(&b);
		if (rc != 0)
			return E_AGAIN;
		s->tx_ms = mono_ms();
		s->credit--;
		s->inflight++;
	}
	return 0;
}

/*
 * Sends the ACK m of what was just committed, or holds it until the
 * standby holds that state (synchronous mode, docs/HA.md).
 */
static void
ack_send(struct central *c, struct csess *s, const struct msg *m)
{
	uint64_t txn = store_txn_id(c->st);

	if (s->nheld == 0 && !standby_srv_hold(c->sb, txn)) {
		if (send_msg(c->net, s->id, s->idlen, m, NULL, 0) != 0) {
			sess_drop(s, "cannot send");
			return;
		}
		if (s->unacked > 0)
			s->unacked--;
		s->tx_ms = mono_ms();
		return;
	}
	if (s->nheld == CENTRAL_HELD) {
		/* More batches than the credit allows: cannot happen with a
		 * province that keeps to its window. */
		send_error(c->net, s->id, s->idlen, MSGERR_PROTO, "more "
		    "batches than the window");
		sess_drop(s, "more batches than the window");
		return;
	}
	s->held[s->nheld].no = m->no;
	s->held[s->nheld].pos = m->pos;
	s->held[s->nheld].applied = m->applied;
	s->held[s->nheld].dup = m->dup;
	s->held[s->nheld].refused = m->refused;
	s->held[s->nheld].txn = txn;
	s->held[s->nheld].since = mono_ms();
	s->nheld++;
}

#define NO_HELD	UINT64_MAX
static void	central_hello(struct central *, const uint8_t *, size_t,
		    const char *, const char *, const struct msg *, uint64_t);

/* Sends the held ACKs (and WELCOMEs) the standby now covers; tells the
 * standby link how long the oldest still waits. */
static void
acks_release(struct central *c)
{
	uint64_t	upto = standby_srv_released(c->sb), oldest = 0;

	for (int i = 0; i < CENTRAL_SESSIONS; i++) {
		struct csess	*s = &c->s[i];
		size_t		 k = 0;

		if (s->used && s->hello != NULL && s->hello_txn <= upto) {
			struct msg	h = *s->hello;
			uint8_t		id[NET_ID_MAX];
			char		key[sizeof(s->key)];
			size_t		idlen = s->idlen;

			memcpy(id, s->id, idlen);
			strlcpy_(key, s->key, sizeof(key));
			free(s->hello);
			s->hello = NULL;
			central_hello(c, id, idlen, h.node, key, &h,
			    s->hello_have);
		}
		if (s->used && s->hello != NULL && (oldest == 0 ||
		    s->hello_since < oldest))
			oldest = s->hello_since;
		if (!s->used || s->nheld == 0)
			continue;
		while (k < s->nheld && s->held[k].txn <= upto) {
			struct msg m;

			memset(&m, 0, sizeof(m));
			m.type = MSG_ACK;
			m.no = s->held[k].no;
			m.pos = s->held[k].pos;
			m.applied = s->held[k].applied;
			m.dup = s->held[k].dup;
			m.refused = s->held[k].refused;
			if (send_msg(c->net, s->id, s->idlen, &m, NULL, 0) != 0)
				break;
			if (s->unacked > 0)
				s->unacked--;
			s->tx_ms = mono_ms();
			k++;
		}
		if (k < s->nheld && s->held[k].txn <= upto) {
			sess_drop(s, "cannot send");
			continue;
		}
		memmove(s->held, s->held + k, (s->nheld - k) *
		    sizeof(s->held[0]));
		s->nheld -= k;
		if (s->nheld > 0 && (oldest == 0 || s->held[0].since < oldest))
			oldest = s->held[0].since;
	}
	standby_srv_waiting(c->sb, oldest);
}

struct keys_ctx {
	struct central	*c;
	struct msg	*m;
	const char	*node;
};

static int
keys_one(const char *origin, void *arg)
{
	struct keys_ctx	*k = arg;
	struct msg	*m = k->m;
	struct node_key	 nk;

	struct keyhist_epoch	 eps[KEYHIST_MAX];
	size_t			 n = 0;

	if (m->nkeys >= MSG_KEYS_MAX ||
	    strcmp(origin, k->c->cfg->node) == 0 ||
	    strcmp(origin, k->node) == 0)
		return 0;
	/* An origin whose key changed: every key it had, with the position
	 * each signs from and any revocation (keyhist.h). */
	if (keyhist_list(k->c->st, origin, eps, KEYHIST_MAX, &n) == 0 &&
	    n > 0) {
		for (size_t i = 0; i < n && m->nkeys < MSG_KEYS_MAX; i++) {
			struct msg_key *mk = &m->keys[m->nkeys++];

			strlcpy_(mk->node, origin, sizeof(mk->node));
			memcpy(mk->pub, eps[i].sign_pub, 32);
			mk->hist = 1;
			mk->epoch = eps[i].epoch;
			mk->from = eps[i].from ? eps[i].from : 1;
			mk->revoked_from = eps[i].revoked_from;
		}
		return 0;
	}
	if (store_key_get(k->c->st, origin, &nk) != 0 ||
	    nk.status == KEY_KNOWN)
		return 0;
	strlcpy_(m->keys[m->nkeys].node, nk.node, sizeof(m->keys[0].node));
	memcpy(m->keys[m->nkeys].pub, nk.sign_pub, 32);
	m->nkeys++;
	return 0;
}

/* Tells a province central's signing key and those of the origins of the
 * entries its feed holds for it after position after, which is all it
 * needs to verify them (revoked keys too: their old entries stay valid).
 * The rest of the enrolled nodes stay unknown to it (data minimisation:
 * issue 18). */
/* VECTOR: a restored central's vector of every province. */
static int
send_vector(struct central *c, const uint8_t *id, size_t idlen)
{
	struct msg	m;
	int		rc;

	memset(&m, 0, sizeof(m));
	m.type = MSG_VECTOR;
	if ((rc = store_vector(c->st, &m.vec, &m.nvec)) != 0)
		return rc;
	rc = send_msg(c->net, id, idlen, &m, NULL, 0);
	free(m.vec);
	return rc;
}

static int
send_keys(struct central *c, const uint8_t *id, size_t idlen,
    const char *node, uint64_t after)
{
	struct keys_ctx	k;
	struct msg	m;
	int		rc;

	memset(&m, 0, sizeof(m));
	m.type = MSG_KEYS;
	m.keys = xcalloc(MSG_KEYS_MAX, sizeof(*m.keys));
	strlcpy_(m.keys[0].node, c->cfg->node, sizeof(m.keys[0].node));
	memcpy(m.keys[0].pub, c->id->sign_pub, 32);
	m.nkeys = 1;
	k.c = c;
	k.m = &m;
	k.node = node;
	/* Without every origin's key the province could not verify its
	 * feed: no KEYS message rather than an incomplete one. */
	if ((rc = store_feed_origins(c->st, node, after, keys_one, &k)) == 0)
		rc = send_msg(c->net, id, idlen, &m, NULL, 0);
	free(m.keys);
	return rc;
}

/*
 * The credit a new session gets for its batches to central: the whole
 * window when it syncs alone, less when many provinces sync at once, so
 * that what they may have in flight together (up to 1 MiB a batch, held in
 * ZeroMQ's queue until applied) stays near CENTRAL_QUEUE_BATCHES batches
 * instead of growing with the number of provinces.  Central applies one
 * batch at a time, so this costs no throughput (docs/PERFORMANCE.md).
 */
static uint64_t
central_window(const struct central *c)
{
	uint64_t	n = 0, w;

	for (int i = 0; i < CENTRAL_SESSIONS; i++)
		n += c->s[i].used != 0;
	w = n > 0 ? CENTRAL_QUEUE_BATCHES / n : REPL_WINDOW;
	return w < 1 ? 1 : (w > REPL_WINDOW ? REPL_WINDOW : w);
}

/*
 * Was central put back from a copy of its files instead of `casesync
 * restore`?  The province holds central's own entry r->cseen with chain
 * hash r->hash, and the entry r->ref at its feed position r->a.  Central
 * must hold the same entries there, or have lost them in a restore (their
 * positions are then of an earlier incarnation than its own).  A copy put
 * back in place lacks them in its current incarnation, or reused the
 * positions for other entries.  Returns 1 with the reason in why.
 */
static int
central_copied(struct central *c, const struct msg *r, uint64_t last,
    char *why, size_t whysz)
{
	struct store_recovery	rv;
	uint8_t			h[MSG_HASH_LEN], ref[STORE_REF_MAX];
	size_t			reflen;
	char			pb[32], tmp[512];
	int			rc;

	if (store_recovery(c->st, &rv) != 0)
		memset(&rv, 0, sizeof(rv));
	if (r->cseen > 0) {
		rc = store_chain_at(c->st, c->cfg->node, r->cseen, h);
		if ((rc == 0 && crypto_memcmp(h, r->hash, sizeof(h)) != 0) ||
		    (rc == E_NOTFOUND && POS_INC(r->cseen) >= rv.inc)) {
			snprintf(tmp, sizeof(tmp), "central was put back from "
			    "a copy of its files, not with `casesync "
			    "restore`: %s holds central's entry %s, which "
			    "central %s", r->node, pos_text(r->cseen, pb,
			    sizeof(pb)), rc == 0 ? "has another of" : "lacks");
			strlcpy_(why, tmp, whysz);
			return 1;
		}
	}
	if (r->a == 0)
		return 0;
	rc = store_feed_ref(c->st, r->node, r->a, ref, &reflen);
	if ((rc == 0 && r->reflen > 0 && (reflen != r->reflen ||
	    memcmp(ref, r->ref, reflen) != 0)) ||
	    (rc == E_NOTFOUND && POS_INC(r->a) >= rv.inc) ||
	    (rc != 0 && rc != E_NOTFOUND)) {
		snprintf(tmp, sizeof(tmp), "central was put back from a copy "
		    "of its files, not with `casesync restore`: %s holds feed "
		    "position %s, which central %s", r->node,
		    pos_text(r->a, pb, sizeof(pb)), rc == 0 ?
		    "gave another entry" : "never gave");
		strlcpy_(why, tmp, whysz);
		return 1;
	}
	(void)last;
	return 0;
}

/*
 * HELLO.  held_have: NO_HELD for a new HELLO; for one held for the standby
 * (synchronous mode), what central held of the province's entries then:
 * the WELCOME goes once the standby holds that, or holds it unchanged.
 */
static void
central_hello(struct central *c, const uint8_t *id, size_t idlen,
    const char *user, const char *key, const struct msg *r,
    uint64_t held_have)
{
	struct csess	*s = sess_find(c, id, idlen), *freeslot = NULL;
	struct backoff	*bo;
	struct msg	 m;
	uint64_t	 have = 0, last = 0, now = mono_ms();

	{
		/* A central fenced by a promoted standby takes no writes. */
		uint64_t by = standby_fenced(c->st);

		if (by != 0) {
			char why[MSG_REASON_MAX + 1];

			standby_fenced_text(by, why, sizeof(why));
			log_warnx("session with %s refused: %s", r->node, why);
			send_error(c->net, id, idlen, MSGERR_FENCED, why);
			if (s)
				sess_drop(s, "fenced");
			return;
		}
	}
	if (strcmp(r->node, user) != 0) {
		log_warnx("refused HELLO as '%s' from the key enrolled for "
		    "'%s'", r->node, user);
		send_error(c->net, id, idlen, MSGERR_AUTH, "node id does not "
		    "match the enrolled key");
		if (s)
			sess_drop(s, "node id does not match its key");
		return;
	}
	/* Another key's session is never taken over through its routing
	 * id (a DEALER chooses its own). */
	if (s != NULL && strcmp(s->key, key) != 0)
		s = NULL;
	if ((bo = backoff_get(c, r->node, 0)) != NULL && bo->until > now) {
		char why[96];

		snprintf(why, sizeof(why), "backed off for %llu ms after a "
		    "batch that failed verification",
		    (unsigned long long)(bo->until - now));
		send_error(c->net, id, idlen, MSGERR_BUSY, why);
		return;
	}
	/* A new session from the same node replaces an old one. */
	for (int i = 0; i < CENTRAL_SESSIONS; i++) {
		if (c->s[i].used && strcmp(c->s[i].node, r->node) == 0 &&
		    &c->s[i] != s)
			sess_drop(&c->s[i], "replaced by a new session");
		if (!c->s[i].used && freeslot == NULL)
			freeslot = &c->s[i];
	}
	if (s == NULL)
		s = freeslot;
	if (s == NULL) {
		send_error(c->net, id, idlen, MSGERR_BUSY, "too many "
		    "sessions");
		return;
	}
	free(s->hello);
	memset(s, 0, sizeof(*s));
	s->used = 1;
	memcpy(s->id, id, idlen);
	s->idlen = idlen;
	strlcpy_(s->node, r->node, sizeof(s->node));
	strlcpy_(s->key, key, sizeof(s->key));
	s->send_after = r->a;
	/* What the province asks for, within our window: a larger one would
	 * let it make us queue our whole feed for it at once. */
	s->credit = r->window < REPL_WINDOW ? r->window : REPL_WINDOW;
	s->last_ms = s->tx_ms = mono_ms();
	if (store_vv_get(c->st, r->node, &have) != 0 ||
	    store_feed_last(c->st, r->node, &last) != 0) {
		log_warnx("session with %s refused: the store cannot be read",
		    r->node);
		send_error(c->net, id, idlen, MSGERR_PROTO, "central cannot "
		    "read its store; try again later");
		sess_drop(s, "store error");
		return;
	}
	if (have != held_have && standby_srv_hold(c->sb,
	    store_txn_id(c->st))) {
		/* Synchronous mode: WELCOME tells the province how many of
		 * its entries central holds; it waits until the standby holds
		 * them too (acks_release). */
		s->hello = xmalloc(sizeof(*s->hello));
		*s->hello = *r;		/* a HELLO owns no memory */
		s->hello_have = have;
		s->hello_txn = store_txn_id(c->st);
		s->hello_since = mono_ms();
		return;
	}
	{
		char why[MSG_REASON_MAX + 1];

		if (central_copied(c, r, last, why, sizeof(why))) {
			log_warnx("session with %s refused: %s", r->node, why);
			send_error(c->net, id, idlen, MSGERR_COPY, why);
			sess_drop(s, "central was put back from a copy");
			return;
		}
	}
	{
		/* Its feed position is of a restore this central's copy
		 * predates: what it took of this feed is only what it
		 * acknowledged here (store_feed_requeue; chaos seed 136).
		 * Ends of late offers to it go only if another central may
		 * have routed it the case (store_endnotes_settle). */
		size_t	n = 0, ne = 0;
		char	pb[32];

		if (store_feed_requeue(c->st, r->node, r->a, &n) != 0 ||
		    store_endnotes_settle(c->st, r->node, r->a, &ne) != 0 ||
		    store_feed_last(c->st, r->node, &last) != 0) {
			send_error(c->net, id, idlen, MSGERR_PROTO, "central "
			    "cannot write its store; try again later");
			sess_drop(s, "store error");
			return;
		}
		if (n > 0)
			log_info("session with %s: its feed position %s is of "
			    "an incarnation this central never had; %zu "
			    "positions of its feed queued again", r->node,
			    pos_text(r->a, pb, sizeof(pb)), n);
		if (ne > 0)
			log_info("session with %s: %zu offers to it ended "
			    "before they reached this central; queued the "
			    "entries that ended them", r->node, ne);
	}
	/* What the province had acknowledged when this session began: an
	 * erase it sends in this session may still be one it made before it
	 * heard of a referral away (authorise.c, referral_unseen).  Only ACKs
	 * count, not the position HELLO claims: a province sends what it
	 * wrote before applying a batch ahead of that batch's ACK, and an ACK
	 * lost with a cut link must not close the window on an erase the
	 * same cut kept from central. */
	{
		struct peer_info	pi;
		int			rc;

		rc = store_peer_get(c->st, r->node, &pi);
		if ((rc == 0 || rc == E_NOTFOUND) &&
		    pi.feed_recv != pi.feed_acked) {
			/* (A write only when it changed: a nightly session
			 * with an empty feed costs no commit here.) */
			pi.feed_recv = pi.feed_acked;
			if (store_peer_put(c->st, &pi) != 0)
				log_warnx("session with %s: cannot record "
				    "what it acknowledged", r->node);
		}
	}
	log_info("session with %s: it has %llu/%llu of its feed, we have "
	    "%llu of its %llu entries", r->node, (unsigned long long)r->a,
	    (unsigned long long)last, (unsigned long long)have,
	    (unsigned long long)r->b);
	memset(&m, 0, sizeof(m));
	m.type = MSG_WELCOME;
	strlcpy_(m.node, c->cfg->node, sizeof(m.node));
	m.a = have;
	m.b = last;
	m.window = central_window(c);
	/* What a province checks to notice that it was put back from a copy
	 * of its files, and what central may have lost itself. */
	if (store_chain_head(c->st, r->node, m.hash) != 0)
		memset(m.hash, 0, sizeof(m.hash));
	{
		struct store_recovery rv;

		if (store_recovery(c->st, &rv) == 0 && rv.inc > 0) {
			struct msg e;

			m.inc = rv.inc;
			m.ret_after = rv.recover_from;
			/* The epoch, signed: what lets a province fence an
			 * older central (docs/HA.md). */
			memset(&e, 0, sizeof(e));
			e.type = MSG_EPOCH;
			strlcpy_(e.node, c->cfg->node, sizeof(e.node));
			e.epoch = rv.inc;
			standby_epoch_sign(c->cfg->node, rv.inc,
			    c->id->sign_sec, e.sig);
			if (send_msg(c->net, id, idlen, &e, NULL, 0) != 0) {
				sess_drop(s, "cannot send");
				return;
			}
			/* What a province gives back by GIVE is decided by
			 * this, so it goes first. */
			if (send_vector(c, id, idlen) != 0) {
				sess_drop(s, "cannot send");
				return;
			}
		}
	}
	if (send_msg(c->net, id, idlen, &m, NULL, 0) != 0 ||
	    send_keys(c, id, idlen, r->node, r->a) != 0) {
		sess_drop(s, "cannot send");
		return;
	}
	s->window = m.window;	/* the province's credit, counted */
	s->tx_ms = mono_ms();
	if (pump_feed(c, s) != 0)
		sess_drop(s, "cannot send");
}

/*
 * The answer to a batch once its group's transaction has committed (or
 * failed): the ACK, or the refusal that ends the session, with a back-off
 * when the batch failed verification.
 */
static void
central_batch_answer(struct central *c, struct csess *s, const struct msg *r,
    int rc, const struct apply_stats *stats, const char *why)
{
	struct backoff		*bo;
	struct apply_stats	 as = *stats;
	struct msg		 m;

	if (rc != 0) {
		struct peer_info pi;

		log_warnx("batch from %s: %s", s->node, why);
		send_error(c->net, s->id, s->idlen, rc == E_QUOTA ?
		    MSGERR_QUOTA : gap_or_proto(rc), why);
		if (rc == E_AUTH || rc == E_PROTO)
			backoff_bump(c, s->node);
		if (rc == E_QUOTA && store_peer_get(c->st, s->node, &pi) !=
		    E_STORE) {
			/* What `casesync status` shows for this province. */
			pi.last_attempt_ms = now_ms();
			strlcpy_(pi.last_error, why, sizeof(pi.last_error));
			if (store_peer_put(c->st, &pi) != 0)
				log_warnx("%s: cannot record the quota error",
				    s->node);
		}
		sess_drop(s, why);
		return;
	}
	if ((bo = backoff_get(c, s->node, 0)) != NULL)
		bo->ms = BACKOFF_FIRST_MS;
	memset(&m, 0, sizeof(m));
	m.type = MSG_ACK;
	m.no = r->no;
	m.pos = as.last_pos;
	m.applied = as.applied;
	m.dup = as.duplicates;
	m.refused = as.refused;
	ack_send(c, s, &m);
}

/* One line for a commit that more than one batch shared. */
static void
group_log(const struct apply_item *it, size_t n)
{
	char	line[512];
	size_t	len = 0;

	line[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(line); i++) {
		int k = snprintf(line + len, sizeof(line) - len, "%s%s%s",
		    i > 0 ? ", " : "", it[i].peer, it[i].skipped ?
		    " (not tried)" : it[i].rc != 0 ? " (failed)" : "");

		if (k < 0)
			break;
		len += (size_t)k;
	}
	log_info("one commit for %zu batches: %s", n, line);
}

/*
 * Group commit: applies the first group of the batches received (at most
 * GROUP_BATCHES, and those up to the one that reaches GROUP_RECORDS) in
 * one write transaction (store_apply_group), then answers each, in the
 * order they came.  Nothing is acknowledged before the commit.  A batch
 * that failed ends its own session only, as it did when each batch had
 * its own transaction; that session's later batches are not tried, and
 * are answered as any message after the session ended would be.  With
 * the checking thread, the batches after the group stay queued (their
 * records being checked meanwhile) for the next call.
 */
static void
central_flush_group(struct central *c)
{
	struct apply_item	*it;
	size_t			*at, n = 0, recs = 0, k = 0;

	while (n < c->npend && n < GROUP_BATCHES && recs < GROUP_RECORDS)
		recs += c->pend[n++].r.nrecs;
	if (n == 0)
		return;
	it = xcalloc(n, sizeof(*it));
	at = xcalloc(n, sizeof(*at));
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &c->pend[i];

		/* Read ahead (with the checking thread), and its session
		 * ended since (a batch of it failed in an earlier group):
		 * not tried, as a later batch of it in the same group. */
		at[i] = SIZE_MAX;
		if (c->pc != NULL && (!p->s->used || strcmp(p->s->node,
		    p->node) != 0))
			continue;
		it[k].peer = p->node;
		it[k].recs = p->recs;
		it[k].n = p->r.nrecs;
		it[k].job = p->job;
		at[i] = k++;
	}
	if (k > 0)
		(void)store_apply_group(c->st, it, k);
	if (k > 1)
		group_log(it, k);
	for (size_t i = 0; i < n; i++) {
		struct pending		*p = &c->pend[i];
		struct apply_item	*a = at[i] != SIZE_MAX ? &it[at[i]] :
					    NULL;

		if (a == NULL || a->skipped)
			send_error(c->net, p->id, p->idlen, MSGERR_SESSION,
			    "no session: send HELLO");
		else
			central_batch_answer(c, p->s, &p->r, a->rc, &a->stats,
			    a->err);
		store_precheck_job_free(&p->job);
		free(p->recs);
		msg_release(&p->r);
	}
	free(at);
	free(it);
	/* The rest move to the front, each with the buffer its message
	 * borrows from. */
	for (size_t i = n; i < c->npend; i++) {
		struct buf tmp = c->in[i - n];

		c->in[i - n] = c->in[i];
		c->in[i] = tmp;
		c->pend[i - n] = c->pend[i];
	}
	c->npend -= n;
	c->pend_recs -= recs;
}

/* Every batch received so far, group after group. */
static void
central_flush(struct central *c)
{
	while (c->npend > 0)
		central_flush_group(c);
}

static void
central_ack(struct central *c, struct csess *s, const struct msg *r)
{
	struct peer_info	pi;
	int			rc;

	if (r->pos > s->send_after) {
		send_error(c->net, s->id, s->idlen, MSGERR_PROTO, "ack beyond "
		    "what was sent");
		sess_drop(s, "ack beyond what was sent");
		return;
	}
	if (s->inflight == 0) {
		/* Each ACK returns the credit of one batch in flight. */
		send_error(c->net, s->id, s->idlen, MSGERR_PROTO, "ack "
		    "without a batch in flight");
		sess_drop(s, "ack without a batch in flight");
		return;
	}
	s->inflight--;
	s->credit++;
	rc = store_peer_get(c->st, s->node, &pi);
	if (rc != 0 && rc != E_NOTFOUND) {
		/* Not recorded: the province's next HELLO says it again. */
		log_warnx("ack from %s: cannot read its record", s->node);
	} else if (r->pos > pi.feed_acked) {
		pi.feed_acked = r->pos;
		if (store_peer_put(c->st, &pi) != 0)
			log_warnx("ack from %s: cannot record it", s->node);
	}
	if (pump_feed(c, s) != 0)
		sess_drop(s, "cannot send");
}

/* FETCH: a restored province asks for its own entries that it lost. */
static void
central_fetch(struct central *c, struct csess *s, const struct msg *r)
{
	struct rec_batch	b;
	struct msg		m;

	if (store_scan_origin(c->st, s->node, r->after, STORE_BATCH_BYTES,
	    &b) != 0) {
		send_error(c->net, s->id, s->idlen, MSGERR_STORE, "cannot "
		    "read the log");
		sess_drop(s, "cannot read the log");
		return;
	}
	batch_msg(&m, &b, 1);
	m.type = MSG_RECOVER;
	if (b.n > 0)
		log_info("%s recovers %zu of its entries lost in a restore",
		    s->node, b.n);
	if (send_msg(c->net, s->id, s->idlen, &m, NULL, 0) != 0)
		sess_drop(s, "cannot send");
	free(m.recs);
	rec_batch_free(&b);
}

/* After a RETURN or GIVE batch was applied (rc, why) with stats as: the
 * refusal and back-off, or the ACK. */
static void
central_answer_given(struct central *c, struct csess *s, const struct msg *r,
    int rc, const struct apply_stats *as, const char *why, const char *what)
{
	struct msg	m;

	if (rc != 0) {
		log_warnx("%s by %s: %s", what, s->node, why);
		send_error(c->net, s->id, s->idlen, gap_or_proto(rc), why);
		if (rc == E_AUTH || rc == E_PROTO)
			backoff_bump(c, s->node);
		sess_drop(s, why);
		return;
	}
	if (as->applied > 0)
		log_info("%s: %llu from %s", what,
		    (unsigned long long)as->applied, s->node);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ACK;
	m.no = r->no;
	if (store_vv_get(c->st, s->node, &m.pos) != 0) {
		sess_drop(s, "store error");
		return;
	}
	m.applied = as->applied;
	m.dup = as->duplicates;
	ack_send(c, s, &m);
}

/* GIVE: a province gives back other provinces' entries that a restored
 * central may have lost (store_apply_given).  Only a central that was
 * restored takes them. */
static void
central_give(struct central *c, struct csess *s, const struct msg *r)
{
	struct store_recovery	 rv;
	struct apply_stats	 as;
	struct rec		*recs;
	char			 why[256];
	int			 rc;

	if (store_recovery(c->st, &rv) != 0 || rv.inc == 0) {
		send_error(c->net, s->id, s->idlen, MSGERR_PROTO, "GIVE to a "
		    "central that was never restored");
		sess_drop(s, "unexpected GIVE");
		return;
	}
	recs = batch_recs(r);
	rc = store_apply_given(c->st, s->node, recs, r->nrecs, &as, why,
	    sizeof(why));
	free(recs);
	central_answer_given(c, s, r, rc, &as, why,
	    "entries of other nodes given back");
}

/* RETURN: a province gives back central's own entries that a restored
 * central lost. */
static void
central_return(struct central *c, struct csess *s, const struct msg *r)
{
	struct apply_stats	 as;
	struct rec		*recs = batch_recs(r);
	char			 why[256];
	int			 rc;

	rc = store_apply_own(c->st, s->node, recs, r->nrecs, &as, why,
	    sizeof(why));
	free(recs);
	central_answer_given(c, s, r, rc, &as, why,
	    "central's own entries given back");
}

/* Refuses a hand-over: the session ends, and the province backs off. */
static void
handover_refuse(struct central *c, struct csess *s, const char *why)
{
	log_warnx("key hand-over from %s refused: %s", s->node, why);
	send_error(c->net, s->id, s->idlen, MSGERR_AUTH, why);
	backoff_bump(c, s->node);
	sess_drop(s, why);
}

/*
 * HANDOVER: the province changes to a new key from one of its positions,
 * signed with its current key (keyhist.h).  Accepted only under the key
 * central holds for it now, and only from a position after every entry
 * central holds of it (they were signed with the old key).  Recorded as a
 * new epoch; the keys table then holds the new key, so the old transport
 * key is refused from the next connection.  Echoed back once recorded.
 */
static void
central_handover(struct central *c, struct csess *s, const struct msg *r)
{
	struct keyhist_epoch	 eps[KEYHIST_MAX], ep;
	struct node_key		 nk;
	struct msg		 m;
	uint64_t		 have = 0;
	size_t			 n = 0;
	char			 why[MSG_REASON_MAX + 1], pb[32], pb2[32];

	if (strcmp(r->node, s->node) != 0) {
		handover_refuse(c, s, "key hand-over for another node");
		return;
	}
	if (store_key_get(c->st, s->node, &nk) != 0 ||
	    nk.status != KEY_ACTIVE ||
	    keyhist_list(c->st, s->node, eps, KEYHIST_MAX, &n) != 0) {
		handover_refuse(c, s, "this node has no active key here");
		return;
	}
	store_vv_get(c->st, s->node, &have);
	if (memcmp(nk.sign_pub, r->ho_sign, 32) == 0 &&
	    memcmp(nk.curve_pub, r->ho_curve, 32) == 0) {
		/*
		 * Taken before (our echo was lost), or enrolled by `trust`
		 * after a revocation.  A key enrolled so signs from central's
		 * next position of the node; the node's own hand-over may
		 * start it later, as long as nothing was accepted under it:
		 * entries in between then belong to the previous key and its
		 * revocation (a narrower range needs no signature).
		 */
		if (n > 0 && eps[n - 1].how == KH_ENROLLED &&
		    memcmp(eps[n - 1].sign_pub, r->ho_sign, 32) == 0 &&
		    r->ho_from > eps[n - 1].from && have < eps[n - 1].from) {
			eps[n - 1].from = r->ho_from;
			if (keyhist_put(c->st, &eps[n - 1]) != 0) {
				handover_refuse(c, s, "cannot store the key");
				return;
			}
		}
	} else if (!keyhist_handover_check(s->node, r->ho_from, nk.sign_pub,
	    r->ho_sign, r->ho_curve, r->ho_sig)) {
		handover_refuse(c, s, "the key hand-over is not signed with "
		    "this node's current key");
		return;
	} else if (r->ho_from <= have) {
		snprintf(why, sizeof(why), "the key hand-over starts at seq "
		    "%s, but central holds this node's entries up to seq %s, "
		    "signed with its previous key", pos_text(r->ho_from, pb,
		    sizeof(pb)), pos_text(have, pb2, sizeof(pb2)));
		handover_refuse(c, s, why);
		return;
	} else if (n + (n == 0) >= KEYHIST_MAX) {
		handover_refuse(c, s, "this node has had too many keys");
		return;
	} else {
		if (n == 0) {
			/* The key it had before any record was kept. */
			memset(&eps[0], 0, sizeof(eps[0]));
			strlcpy_(eps[0].node, s->node, sizeof(eps[0].node));
			eps[0].how = KH_ENROLLED;
			eps[0].from = 1;
			memcpy(eps[0].sign_pub, nk.sign_pub, 32);
			memcpy(eps[0].curve_pub, nk.curve_pub, 32);
			n = 1;
			if (keyhist_put(c->st, &eps[0]) != 0) {
				handover_refuse(c, s, "cannot store the key");
				return;
			}
		}
		memset(&ep, 0, sizeof(ep));
		strlcpy_(ep.node, s->node, sizeof(ep.node));
		ep.epoch = eps[n - 1].epoch + 1;
		ep.how = KH_HANDOVER;
		ep.from = r->ho_from;
		memcpy(ep.sign_pub, r->ho_sign, 32);
		memcpy(ep.curve_pub, r->ho_curve, 32);
		memcpy(ep.sig, r->ho_sig, sizeof(ep.sig));
		memcpy(nk.sign_pub, r->ho_sign, 32);
		memcpy(nk.curve_pub, r->ho_curve, 32);
		nk.since_ms = now_ms();
		if (keyhist_put(c->st, &ep) != 0 ||
		    store_key_put(c->st, &nk) != 0) {
			handover_refuse(c, s, "cannot store the key");
			return;
		}
		log_info("%s handed its key over to epoch %u from seq %s",
		    s->node, ep.epoch, pos_text(ep.from, pb, sizeof(pb)));
	}
	m = *r;
	m.recs = NULL;
	m.keys = NULL;
	if (send_msg(c->net, s->id, s->idlen, &m, NULL, 0) != 0)
		sess_drop(s, "cannot send");
}

static void
central_bye(struct central *c, struct csess *s)
{
	struct peer_info	pi;
	uint64_t		refused;

	int			rc;

	/* A record that cannot be read is not written over with zeros. */
	rc = store_peer_get(c->st, s->node, &pi);
	if (rc == 0 || rc == E_NOTFOUND) {
		refused = pi.refused;
		pi.last_sync_ms = pi.last_attempt_ms = now_ms();
		pi.last_error[0] = '\0';
		pi.refused = refused;
		rc = store_peer_put(c->st, &pi);
	}
	if (rc != 0)
		log_warnx("%s: cannot record the completed sync", s->node);
	sess_drop(s, "sync complete");
}

/* The session a message belongs to: only if it comes from the CURVE key
 * that opened it, not merely from its routing id. */
static struct csess *
sess_of(struct central *c, const uint8_t *id, size_t idlen, const char *key)
{
	struct csess *s = sess_find(c, id, idlen);

	return s != NULL && strcmp(s->key, key) == 0 ? s : NULL;
}

/*
 * A batch beyond the province's credit: it had `window` batches read and
 * not acknowledged when it sent another.  An honest province cannot: it
 * sends one batch per credit, and a credit comes back only with an ACK
 * that central sent before it read the batch.  The batches read before
 * this one were within the credit and are applied first (central_flush);
 * then the session ends and the province is backed off, so that ignoring
 * the credit buys it nothing (docs/PROTOCOL.md, "What central enforces").
 */
static void
central_beyond_credit(struct central *c, const uint8_t *id, size_t idlen,
    const char *key)
{
	struct csess	*s;
	char		 why[96];

	central_flush(c);
	if ((s = sess_of(c, id, idlen, key)) == NULL)
		return;		/* an earlier batch of it failed: ended */
	snprintf(why, sizeof(why), "a batch beyond the credit of %llu "
	    "batches", (unsigned long long)s->window);
	send_error(c->net, s->id, s->idlen, MSGERR_PROTO, why);
	backoff_bump(c, s->node);
	sess_drop(s, why);
}

/*
 * Liveness: ALIVE to every session central has sent nothing for
 * KEEPALIVE_MS.  Called between group commits, so that a province whose
 * batches wait behind other provinces' (or whose ACKs wait for the
 * standby) keeps hearing from central.  It does not keep a session open
 * at central: that counts only what the province sends (SESSION_IDLE_MS).
 */
static void
central_keepalive(struct central *c)
{
	uint64_t	now = mono_ms();
	struct msg	m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ALIVE;
	for (int i = 0; i < CENTRAL_SESSIONS; i++) {
		struct csess *s = &c->s[i];

		if (!s->used || now - s->tx_ms < KEEPALIVE_MS)
			continue;
		s->tx_ms = now;
		/* A full send queue (the province is slow to read) has
		 * plenty for it to hear; a peer that is gone is dropped. */
		if (send_msg(c->net, s->id, s->idlen, &m, NULL, 0) ==
		    E_NOTFOUND)
			sess_drop(s, "cannot send");
	}
}

static void
central_dispatch(struct central *c, const uint8_t *id, size_t idlen,
    const char *user, const char *key, const struct buf *in)
{
	struct csess	*s = sess_of(c, id, idlen, key);
	struct msg	 r;
	int		 bad;

	bad = msg_decode(in->data, in->len, &r) != 0;
	if (!bad && r.type == MSG_BATCH && s != NULL && user[0] != '\0' &&
	    key[0] != '\0') {
		/* Applied with the other batches queued now (central_flush);
		 * r borrows from in, which the loop keeps until then. */
		struct pending *p;

		if (s->unacked >= s->window) {
			central_beyond_credit(c, id, idlen, key);
			msg_release(&r);
			return;
		}
		s->unacked++;
		p = &c->pend[c->npend++];
		s->last_ms = mono_ms();
		p->s = s;
		memcpy(p->id, id, idlen);
		p->idlen = idlen;
		strlcpy_(p->node, s->node, sizeof(p->node));
		p->r = r;
		p->recs = batch_recs(&r);
		p->job = c->pc != NULL && r.nrecs > 0 ?
		    store_precheck_submit(c->pc, p->recs, r.nrecs) : NULL;
		c->pend_recs += r.nrecs;
		return;
	}
	/* Any other message sees the store and the sessions as the batches
	 * received before it left them. */
	central_flush(c);
	s = sess_of(c, id, idlen, key);
	if (bad) {
		log_warnx("malformed message (%zu bytes) from %s; session "
		    "ended", in->len, s ? s->node : "an unknown peer");
		send_error(c->net, id, idlen, MSGERR_PROTO, "malformed "
		    "message");
		if (s)
			sess_drop(s, "malformed message");
		return;
	}
	if (user[0] == '\0' || key[0] == '\0') {
		/* Only reachable if the ZAP handler were bypassed. */
		log_warnx("message without an authenticated key; ignored");
	} else if (r.type == MSG_HELLO) {
		central_hello(c, id, idlen, user, key, &r, NO_HELD);
	} else if (r.type == MSG_FOLLOW || r.type == MSG_AUXASK) {
		standby_srv_follow(c->sb, c->net, id, idlen, user, &r);
	} else if (r.type == MSG_EPOCH) {
		/* A province shows us a later central's signed epoch. */
		if (standby_fence_claim(c->st, c->cfg->node, c->id->sign_pub,
		    &r)) {
			char why[MSG_REASON_MAX + 1];

			standby_fenced_text(r.epoch, why, sizeof(why));
			log_warnx("%s (told by %s)", why, user);
			for (int i = 0; i < CENTRAL_SESSIONS; i++)
				sess_drop(&c->s[i], "fenced");
		}
	} else if (s == NULL) {
		if (r.type != MSG_BYE && r.type != MSG_ERROR)
			send_error(c->net, id, idlen, MSGERR_SESSION, "no "
			    "session: send HELLO");
	} else {
		s->last_ms = mono_ms();
		switch (r.type) {
		case MSG_ACK:
			central_ack(c, s, &r);
			break;
		case MSG_FETCH:
			central_fetch(c, s, &r);
			break;
		case MSG_RETURN:
		case MSG_GIVE:
			/* Batches too: they count against the credit. */
			if (s->unacked >= s->window) {
				central_beyond_credit(c, id, idlen, key);
				break;
			}
			s->unacked++;
			if (r.type == MSG_RETURN)
				central_return(c, s, &r);
			else
				central_give(c, s, &r);
			break;
		case MSG_HANDOVER:
			central_handover(c, s, &r);
			break;
		case MSG_BYE:
			central_bye(c, s);
			break;
		case MSG_ERROR:
			log_warnx("%s says: %s", s->node, r.reason);
			sess_drop(s, "peer error");
			break;
		default:
			send_error(c->net, id, idlen, MSGERR_PROTO,
			    "unexpected message");
			sess_drop(s, "unexpected message");
		}
	}
	msg_release(&r);
}

/*
 * The ZAP check: a client key may connect only when it is enrolled and not
 * revoked.  Read from the store at every handshake, so `casesync revoke`
 * takes effect for the next connection without a restart.
 */
struct auth_ctx {
	const uint8_t	*key;
	struct node_key	 found;
	int		 hit;
};

static int
auth_one(const struct node_key *nk, void *arg)
{
	struct auth_ctx *a = arg;

	if (nk->status == KEY_KNOWN ||
	    memcmp(nk->curve_pub, a->key, NET_KEY) != 0)
		return 0;
	a->found = *nk;
	a->hit = 1;
	return nk->status == KEY_ACTIVE;	/* keep looking if revoked */
}

static int
central_auth(void *arg, const uint8_t key[NET_KEY], char *user, char *why,
    size_t whysz)
{
	struct central	*c = arg;
	struct auth_ctx	 a;

	memset(&a, 0, sizeof(a));
	a.key = key;
	/* auth_one returns 1 to stop at an active key: any other result is
	 * the store's error. */
	if (store_key_each(c->st, auth_one, &a) > 1) {
		snprintf(why, whysz, "central cannot read its keys");
		return 0;
	}
	if (!a.hit) {
		snprintf(why, whysz, "unknown key (not enrolled)");
		return 0;
	}
	if (a.found.status != KEY_ACTIVE) {
		snprintf(why, whysz, "key of %s was revoked", a.found.node);
		return 0;
	}
	strlcpy_(user, a.found.node, NET_USER_MAX + 1);
	return 1;
}

int
repl_central_run(struct store *st, const struct nodecfg *cfg,
    const struct identity *id, volatile sig_atomic_t *quit, char *err,
    size_t errsz)
{
	return repl_central_serve(st, cfg, id, NULL, quit, err, errsz);
}

int
repl_central_serve(struct store *st, const struct nodecfg *cfg,
    const struct identity *id, struct sbsrv *sb, volatile sig_atomic_t *quit,
    char *err, size_t errsz)
{
	struct net_opts	 no;
	struct central	*c = xcalloc(1, sizeof(*c));
	uint64_t	 t0, nwarm;
	int		 rc;

	c->sb = sb;
	c->st = st;
	c->cfg = cfg;
	c->id = id;
	memset(&no, 0, sizeof(no));
	no.heartbeat_ms = cfg->heartbeat_ms;
	no.max_msg = MSG_MAX_BYTES;
	no.curve_pub = id->curve_pub;
	no.curve_sec = id->curve_sec;
	no.auth = central_auth;
	no.auth_arg = c;
	/* Warmed before listening, so that no session waits for it: the
	 * first sessions of a node process that has just started would
	 * otherwise touch their heap and map pages for the first time
	 * (store.h; docs/PERFORMANCE.md). */
	t0 = mono_ms();
	nwarm = store_warm(st);
	log_info("store: %llu pages warmed (the heap, and the map's pages in "
	    "memory) in %llu ms", (unsigned long long)nwarm,
	    (unsigned long long)(mono_ms() - t0));
	if ((rc = net_listen(cfg->listen, &no, &c->net, err, errsz)) != 0) {
		free(c);
		return rc;
	}
	log_info("central %s listening on %s", cfg->node, cfg->listen);
	if (cfg->standby_sync && sb == NULL)
		log_warnx("standby_sync = on, but this central serves without "
		    "a standby link: batches are acknowledged asynchronously");
	else if (sb != NULL)
		standby_srv_sync(sb, cfg->standby_sync, cfg->standby_sync_ms,
		    cfg->standby_sync_async);
	if (cfg->apply_pipeline && (rc = store_precheck_new(&c->pc)) != 0)
		log_warnx("apply_pipeline: cannot start the checking thread "
		    "(%s); batches are checked as they apply", err_str(rc));
	else if (c->pc != NULL)
		log_info("apply_pipeline: checking thread started");
	for (int i = 0; i < PIPE_BATCHES; i++)
		buf_init(&c->in[i], MSG_MAX_BYTES);
	while (!*quit) {
		uint8_t		rid[NET_ID_MAX];
		size_t		idlen = 0;
		char		user[NET_USER_MAX + 1];
		uint64_t	now;

		/* Drain a bounded number of messages, then run timers.  The
		 * batches among them are applied together (central_flush):
		 * several provinces, and several batches of one, share a
		 * commit.  With the checking thread, a group applies once
		 * the next one has come in too, or at the end of the
		 * drain. */
		for (int i = 0; i < 64 && !*quit; i++) {
			struct buf *in = &c->in[c->npend];

			rc = net_recv(c->net, i == 0 ? 200 : 0, rid, &idlen,
			    user, in);
			if (rc == E_AGAIN)
				break;
			if (rc == E_TOOBIG) {
				log_warnx("oversized frame refused");
				continue;
			}
			if (rc != 0)
				break;
			central_dispatch(c, rid, idlen, user,
			    net_peer_key(c->net), in);
			if (c->pc == NULL ? c->npend == GROUP_BATCHES ||
			    c->pend_recs >= GROUP_RECORDS : c->npend ==
			    PIPE_BATCHES || c->pend_recs >= PIPE_RECORDS)
				central_flush_group(c);
			central_keepalive(c);
		}
		central_flush(c);
		acks_release(c);
		central_keepalive(c);
		now = mono_ms();
		for (int i = 0; i < CENTRAL_SESSIONS; i++)
			if (c->s[i].used && now - c->s[i].last_ms >
			    SESSION_IDLE_MS)
				sess_drop(&c->s[i], "idle");
	}
	central_flush(c);
	store_precheck_free(&c->pc);
	for (int i = 0; i < PIPE_BATCHES; i++)
		buf_release(&c->in[i]);
	net_close(&c->net);
	free(c);
	log_info("central stopped");
	return 0;
}

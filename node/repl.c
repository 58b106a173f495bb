/*
 * repl.c - the replication engine: the province's session loop and
 * central's per-peer state machine.  See repl.h and docs/PROTOCOL.md.
 */
#include "repl.h"
#include "net.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"
#include "../proto/msg.h"

#define CENTRAL_SESSIONS	256
#define CENTRAL_QUEUE_BATCHES	16	/* in flight to central, all provinces */
#define SESSION_IDLE_MS		60000
#define BACKOFF_FIRST_MS	2000	/* after a batch failed verification */
#define BACKOFF_MAX_MS		(5 * 60 * 1000)
#define SEND_TIMEOUT_MS		5000

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
	}
	return r;
}

static int
gap_or_proto(int rc)
{
	return rc == E_GAP ? MSGERR_GAP : (rc == E_PROTO || rc == E_AUTH) ?
	    MSGERR_PROTO : MSGERR_STORE;
}

/* ---- Province ---------------------------------------------------------- */

struct psess {
	struct store		*st;
	const struct nodecfg	*cfg;
	struct net		*net;
	struct sync_stats	*ss;
	char			 central[HLC_NODE_MAX + 1];
	int			 welcomed, central_done, own_done;
	int			 hs_failures;
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
};

/*
 * Sends the held ACKs whose own entries have all been sent, in order.
 *
 * Why hold them: an erase this province made before it applied a batch
 * that refers the case away counts at central only while central has not
 * seen the ACK of that batch (store.c, referral_unseen).  Central handles
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
		if (send_msg(p->net, NULL, 0, &m, &p->ss->bytes_out,
		    SEND_TIMEOUT_MS) != 0)
			return E_AGAIN;
		p->ss->messages_out++;
		k++;
	}
	memmove(p->held, p->held + k, (p->nheld - k) * sizeof(*p->held));
	p->nheld -= k;
	return 0;
}

/* Sends own entries while central has granted credit. */
static int
pump_own(struct psess *p)
{
	while (p->credit > 0 && !p->own_done) {
		struct rec_batch	b;
		struct msg		m;
		int			rc;

		if ((rc = store_scan_own(p->st, p->send_after,
		    STORE_BATCH_BYTES, &b)) != 0)
			return rc;
		if (b.n == 0) {
			p->own_done = 1;
			rec_batch_free(&b);
			break;
		}
		batch_msg(&m, &b, ++p->batch_no);
		rc = send_msg(p->net, NULL, 0, &m, &p->ss->bytes_out,
		    SEND_TIMEOUT_MS);
		p->send_after = b.recs[b.n - 1].pos;
		free(m.recs);
		rec_batch_free(&b);
		/* No connection took it (a cut link, central gone): restart
		 * the session, within the sync's own deadline; E_TIMEOUT here
		 * would end the whole sync early. */
		if (rc != 0)
			return E_AGAIN;
		p->ss->messages_out++;
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
 * One session.  Returns 0 when complete, E_AGAIN to restart (cut link,
 * gap, silence), E_TIMEOUT when the deadline passed, or a fatal error.
 */
static int
province_session(struct psess *p, uint64_t deadline, int progress,
    volatile sig_atomic_t *quit, char *err, size_t errsz)
{
	struct peer_info	pi;
	struct msg		m;
	struct buf		in;
	uint64_t		own_seq, last_rx = mono_ms();
	uint64_t		idle_ms = p->cfg->heartbeat_ms * 3 + 5000;
	int			rc;

	p->welcomed = p->central_done = p->own_done = 0;
	p->credit = p->inflight = 0;
	p->nheld = 0;
	p->ss->sessions++;
	store_peer_get(p->st, "central", &pi);
	store_vv_get(p->st, p->cfg->node, &own_seq);
	p->own_total = own_seq;
	memset(&m, 0, sizeof(m));
	m.type = MSG_HELLO;
	strlcpy_(m.node, p->cfg->node, sizeof(m.node));
	m.a = pi.feed_recv;
	m.b = own_seq;
	m.window = REPL_WINDOW;
	/* ZMQ_IMMEDIATE: the send only succeeds once a connection exists. */
	for (;;) {
		uint64_t now = mono_ms();
		if (*quit || now >= deadline)
			return E_TIMEOUT;
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

		if (p->welcomed && p->central_done && p->own_done &&
		    p->inflight == 0 && p->nheld == 0) {
			memset(&m, 0, sizeof(m));
			m.type = MSG_BYE;
			send_msg(p->net, NULL, 0, &m, &p->ss->bytes_out, 1000);
			rc = 0;
			break;
		}
		if (*quit || now >= deadline) {
			rc = E_TIMEOUT;
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
		rc = 0;
		switch (r.type) {
		case MSG_WELCOME:
			if (p->welcomed)
				break;
			/* Another session of ours (serve and a manual sync,
			 * say) may have sent more since our HELLO: compare
			 * with what we hold now (docs/RELIABILITY.md, bug 5). */
			if (r.a > own_seq)
				store_vv_get(p->st, p->cfg->node, &own_seq);
			if (r.a > own_seq) {
				snprintf(err, errsz, "central holds %llu of "
				    "our entries but we have only %llu (was "
				    "this node restored from a backup?)",
				    (unsigned long long)r.a,
				    (unsigned long long)own_seq);
				rc = E_INTEGRITY;
				break;
			}
			p->welcomed = 1;
			strlcpy_(p->central, r.node, sizeof(p->central));
			p->send_after = p->acked = r.a;
			p->credit = r.window;
			rc = pump_own(p);
			break;
		case MSG_BATCH: {
			struct apply_stats	as;
			struct rec		*recs;
			char			 why[256];

			if (!p->welcomed) {
				rc = E_AGAIN;
				break;
			}
			recs = batch_recs(&r);
			rc = store_apply_remote(p->st, "central", recs,
			    r.nrecs, &as, why, sizeof(why));
			free(recs);
			if (rc == E_GAP || rc == E_PROTO || rc == E_AUTH) {
				log_warnx("sync: batch from central: %s", why);
				send_error(p->net, NULL, 0, gap_or_proto(rc),
				    why);
				rc = E_AGAIN;
				break;
			}
			if (rc != 0) {
				snprintf(err, errsz, "cannot store batch from "
				    "central: %.180s", why);
				break;
			}
			p->ss->received += as.applied;
			if (p->nheld == REPL_WINDOW) {
				/* Central sent beyond the credit we gave. */
				rc = E_AGAIN;
				break;
			}
			{
				struct held_ack *h = &p->held[p->nheld++];

				h->no = r.no;
				h->pos = as.last_pos;
				h->applied = as.applied;
				h->dup = as.duplicates;
				h->refused = as.refused;
				/* Held only when the batch referred a case away
				 * from us; the others just keep their order. */
				h->upto = 0;
				if (as.moved_away > 0)
					store_vv_get(p->st, p->cfg->node,
					    &h->upto);
			}
			if (!r.more)
				p->central_done = 1;
			/* What was written before this batch was applied goes
			 * out before its ACK (flush_acks). */
			p->own_done = 0;
			if ((rc = pump_own(p)) == 0)
				rc = flush_acks(p);
			break;
		}
		case MSG_ACK:
			if (!p->welcomed || p->inflight == 0) {
				rc = E_AGAIN;
				break;
			}
			p->inflight--;
			p->credit++;
			if (r.pos > p->acked) {
				p->ss->sent += r.pos - p->acked;
				p->acked = r.pos;
			}
			p->ss->refused += r.refused;
			if ((rc = pump_own(p)) == 0)
				rc = flush_acks(p);
			break;
		case MSG_KEYS:
			rc = province_keys(p, &r);
			break;
		case MSG_ERROR:
			log_warnx("sync: central says: %s", r.reason);
			/* Kept for the one-line reason if we time out (a lost
			 * session after a reconnection says nothing new). */
			if (r.code != MSGERR_SESSION)
				strlcpy_(p->said, r.reason, sizeof(p->said));
			if (r.code == MSGERR_AUTH) {
				snprintf(err, errsz, "central refused this "
				    "node: %s", r.reason);
				rc = E_AUTH;
			} else if (r.code == MSGERR_QUOTA) {
				/* Nothing is lost: our entries wait here. */
				snprintf(err, errsz, "central refused our "
				    "entries: %s", r.reason);
				rc = E_QUOTA;
			} else {
				rc = E_AGAIN;
			}
			break;
		default:
			rc = E_AGAIN;
			break;
		}
		msg_release(&r);
		if (progress)
			progress_line(p);
		if (rc != 0)
			break;
	}
	buf_release(&in);
	return rc;
}

/* Finds the key this province pinned for central. */
static int
pinned_one(const struct node_key *nk, void *arg)
{
	if (nk->status != KEY_ACTIVE)
		return 0;
	*(struct node_key *)arg = *nk;
	return 1;
}

int
repl_sync(struct store *st, const struct nodecfg *cfg,
    const struct identity *id, uint64_t timeout_ms, int progress,
    volatile sig_atomic_t *quit, struct sync_stats *ss, char *err,
    size_t errsz)
{
	struct net_opts		 no;
	struct node_key		 central;
	struct psess		 p;
	struct peer_info	 pi;
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
	memset(&central, 0, sizeof(central));
	if (store_key_each(st, pinned_one, &central) < 0 ||
	    central.status != KEY_ACTIVE) {
		snprintf(err, errsz, "central's key is not pinned: run `casesync "
		    "trust -d DIR NODE KEY` with the line `casesync key` "
		    "prints on central");
		return E_AUTH;
	}
	memset(&no, 0, sizeof(no));
	no.heartbeat_ms = cfg->heartbeat_ms;
	no.max_msg = MSG_MAX_BYTES;
	no.curve_pub = id->curve_pub;
	no.curve_sec = id->curve_sec;
	no.server_pub = central.curve_pub;
	memset(&p, 0, sizeof(p));
	p.st = st;
	p.cfg = cfg;
	p.ss = ss;
	if ((rc = net_connect(cfg->central, &no, &p.net, err, errsz)) != 0)
		return rc;
	for (;;) {
		char		why[256] = "";
		uint64_t	moved = ss->sent + ss->received;

		rc = province_session(&p, deadline, progress, quit, why,
		    sizeof(why));
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
		{
			struct timespec ts = { (time_t)(backoff / 1000),
			    (long)(backoff % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
		if ((rc = net_connect(cfg->central, &no, &p.net, err,
		    errsz)) != 0)
			break;
	}
	if (p.net != NULL)
		p.hs_failures += net_handshake_failures(p.net);
	net_close(&p.net);
	if (progress)
		fputc('\n', stderr);
	ss->ms = mono_ms() - start;
	if (store_peer_get(st, "central", &pi) != 0 && pi.node[0] == '\0')
		strlcpy_(pi.node, "central", sizeof(pi.node));
	pi.last_attempt_ms = now_ms();
	if (rc == 0) {
		pi.last_sync_ms = now_ms();
		pi.sent_acked = p.acked;
		pi.last_error[0] = '\0';
	} else {
		if (rc == E_TIMEOUT && err[0] == '\0' && !p.welcomed &&
		    p.hs_failures > 0)
			snprintf(err, errsz, "central at %s: %d secure "
			    "handshakes failed within %llu s (is the key pinned "
			    "with `casesync trust` central's current key?)",
			    cfg->central, p.hs_failures,
			    (unsigned long long)(timeout_ms / 1000));
		else if (rc == E_TIMEOUT && err[0] == '\0')
			snprintf(err, errsz, "central at %s %s within %llu "
			    "s%s%s", cfg->central, p.welcomed ? "did not "
			    "complete the sync" : "did not answer",
			    (unsigned long long)(timeout_ms / 1000),
			    p.said[0] ? "; central said: " : "", p.said);
		if (p.acked > pi.sent_acked)
			pi.sent_acked = p.acked;
		snprintf(pi.last_error, sizeof(pi.last_error), "%s", err);
	}
	pi.refused += ss->refused;
	store_peer_put(st, &pi);
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
	uint64_t	 granted;	/* batches the peer may still send */
	uint64_t	 batch_no;
	int		 done_sent;
	uint64_t	 last_ms;
};

/* A province whose batches failed verification waits before its next
 * session: resending a bad batch at once costs central an apply and a
 * roll back each time. */
struct backoff {
	char		 node[HLC_NODE_MAX + 1];
	uint64_t	 until;		/* mono_ms */
	uint64_t	 ms;		/* the next wait */
};

struct central {
	struct store		*st;
	const struct nodecfg	*cfg;
	const struct identity	*id;
	struct net		*net;
	struct csess		 s[CENTRAL_SESSIONS];
	struct backoff		 bo[CENTRAL_SESSIONS];
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
		s->credit--;
		s->inflight++;
	}
	return 0;
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

	if (m->nkeys >= MSG_KEYS_MAX ||
	    strcmp(origin, k->c->cfg->node) == 0 ||
	    strcmp(origin, k->node) == 0 ||
	    store_key_get(k->c->st, origin, &nk) != 0 ||
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
	store_feed_origins(c->st, node, after, keys_one, &k);
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

static void
central_hello(struct central *c, const uint8_t *id, size_t idlen,
    const char *user, const char *key, const struct msg *r)
{
	struct csess	*s = sess_find(c, id, idlen), *freeslot = NULL;
	struct backoff	*bo;
	struct msg	 m;
	uint64_t	 have = 0, last = 0, now = mono_ms();

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
	s->last_ms = mono_ms();
	store_vv_get(c->st, r->node, &have);
	store_feed_last(c->st, r->node, &last);
	if (r->a > last) {
		/* The province claims more of its feed than exists. */
		log_warnx("%s claims feed position %llu beyond %llu",
		    r->node, (unsigned long long)r->a,
		    (unsigned long long)last);
		send_error(c->net, id, idlen, MSGERR_PROTO, "feed position "
		    "beyond what central has queued");
		sess_drop(s, "bad feed position");
		return;
	}
	/* What the province had acknowledged when this session began: an
	 * erase it sends in this session may still be one it made before it
	 * heard of a referral away (store.c, referral_unseen).  Only ACKs
	 * count, not the position HELLO claims: a province sends what it
	 * wrote before applying a batch ahead of that batch's ACK, and an ACK
	 * lost with a cut link must not close the window on an erase the
	 * same cut kept from central. */
	{
		struct peer_info pi;

		store_peer_get(c->st, r->node, &pi);
		if (pi.feed_recv != pi.feed_acked) {
			/* (A write only when it changed: a nightly session
			 * with an empty feed costs no commit here.) */
			pi.feed_recv = pi.feed_acked;
			store_peer_put(c->st, &pi);
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
	s->granted = m.window;
	if (send_msg(c->net, id, idlen, &m, NULL, 0) != 0 ||
	    send_keys(c, id, idlen, r->node, r->a) != 0) {
		sess_drop(s, "cannot send");
		return;
	}
	if (pump_feed(c, s) != 0)
		sess_drop(s, "cannot send");
}

static void
central_batch(struct central *c, struct csess *s, const struct msg *r)
{
	struct backoff		*bo;
	struct apply_stats	 as;
	struct rec		*recs = batch_recs(r);
	struct msg		 m;
	char			 why[256];
	int			 rc;

	if (s->granted == 0) {
		/* Credit is what bounds what a province can make central
		 * hold (docs/PROTOCOL.md): a batch beyond it ends the
		 * session. */
		free(recs);
		log_warnx("%s sent a batch beyond its credit", s->node);
		send_error(c->net, s->id, s->idlen, MSGERR_PROTO, "batch "
		    "beyond the credit granted");
		backoff_bump(c, s->node);
		sess_drop(s, "batch beyond credit");
		return;
	}
	s->granted--;
	rc = store_apply_remote(c->st, s->node, recs, r->nrecs, &as, why,
	    sizeof(why));
	free(recs);
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
			store_peer_put(c->st, &pi);
		}
		sess_drop(s, why);
		return;
	}
	if ((bo = backoff_get(c, s->node, 0)) != NULL)
		bo->ms = BACKOFF_FIRST_MS;
	s->granted++;
	memset(&m, 0, sizeof(m));
	m.type = MSG_ACK;
	m.no = r->no;
	m.pos = as.last_pos;
	m.applied = as.applied;
	m.dup = as.duplicates;
	m.refused = as.refused;
	if (send_msg(c->net, s->id, s->idlen, &m, NULL, 0) != 0)
		sess_drop(s, "cannot send");
}

static void
central_ack(struct central *c, struct csess *s, const struct msg *r)
{
	struct peer_info pi;

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
	store_peer_get(c->st, s->node, &pi);
	if (r->pos > pi.feed_acked) {
		pi.feed_acked = r->pos;
		store_peer_put(c->st, &pi);
	}
	if (pump_feed(c, s) != 0)
		sess_drop(s, "cannot send");
}

static void
central_bye(struct central *c, struct csess *s)
{
	struct peer_info	pi;
	uint64_t		refused;

	store_peer_get(c->st, s->node, &pi);
	refused = pi.refused;
	pi.last_sync_ms = pi.last_attempt_ms = now_ms();
	pi.last_error[0] = '\0';
	pi.refused = refused;
	store_peer_put(c->st, &pi);
	sess_drop(s, "sync complete");
}

static void
central_dispatch(struct central *c, const uint8_t *id, size_t idlen,
    const char *user, const char *key, const struct buf *in)
{
	struct csess	*s = sess_find(c, id, idlen);
	struct msg	 r;

	/* A message belongs to a session only if it comes from the CURVE key
	 * that opened it, not merely from its routing id. */
	if (s != NULL && strcmp(s->key, key) != 0)
		s = NULL;

	if (msg_decode(in->data, in->len, &r) != 0) {
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
		central_hello(c, id, idlen, user, key, &r);
	} else if (s == NULL) {
		if (r.type != MSG_BYE && r.type != MSG_ERROR)
			send_error(c->net, id, idlen, MSGERR_SESSION, "no "
			    "session: send HELLO");
	} else {
		s->last_ms = mono_ms();
		switch (r.type) {
		case MSG_BATCH:
			central_batch(c, s, &r);
			break;
		case MSG_ACK:
			central_ack(c, s, &r);
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
	store_key_each(c->st, auth_one, &a);
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
	struct net_opts	 no;
	struct central	*c = xcalloc(1, sizeof(*c));
	struct buf	 in;
	int		 rc;

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
	if ((rc = net_listen(cfg->listen, &no, &c->net, err, errsz)) != 0) {
		free(c);
		return rc;
	}
	log_info("central %s listening on %s", cfg->node, cfg->listen);
	buf_init(&in, MSG_MAX_BYTES);
	while (!*quit) {
		uint8_t		rid[NET_ID_MAX];
		size_t		idlen = 0;
		char		user[NET_USER_MAX + 1];
		uint64_t	now;

		/* Drain a bounded number of messages, then run timers. */
		for (int i = 0; i < 64 && !*quit; i++) {
			rc = net_recv(c->net, i == 0 ? 200 : 0, rid, &idlen,
			    user, &in);
			if (rc == E_AGAIN)
				break;
			if (rc == E_TOOBIG) {
				log_warnx("oversized frame refused");
				continue;
			}
			if (rc != 0)
				break;
			central_dispatch(c, rid, idlen, user,
			    net_peer_key(c->net), &in);
		}
		now = mono_ms();
		for (int i = 0; i < CENTRAL_SESSIONS; i++)
			if (c->s[i].used && now - c->s[i].last_ms >
			    SESSION_IDLE_MS)
				sess_drop(&c->s[i], "idle");
	}
	buf_release(&in);
	net_close(&c->net);
	free(c);
	log_info("central stopped");
	return 0;
}

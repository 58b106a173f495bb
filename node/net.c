#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"

struct net {
	void		*ctx;
	void		*sock;
	void		*zap;		/* ROUTER: ZAP handler (REP) */
	void		*mon;		/* DEALER: handshake events (PAIR) */
	int		 router;
	int		 hs_fail;	/* handshakes failed in a row */
	int		 lost;		/* DEALER: a connection was lost */
	net_auth_fn	 auth;
	void		*auth_arg;
	char		 error[160];
	char		 key[2 * NET_KEY + 1];	/* ROUTER: last sender's */
};

/* The ZAP metadata property that carries the client's CURVE key, so that
 * every message says which key opened its connection. */
#define KEY_PROP	"X-Casesync-Key"

static int
setopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

int
net_curve_keypair(uint8_t pub[NET_KEY], uint8_t sec[NET_KEY])
{
	char zp[41], zs[41];

	if (zmq_curve_keypair(zp, zs) != 0 || zmq_z85_decode(pub, zp) ==
	    NULL || zmq_z85_decode(sec, zs) == NULL)
		return E_IO;
	memset(zs, 0, sizeof(zs));
	return 0;
}

static int
net_open(int type, const struct net_opts *o, struct net **out)
{
	struct net	*n = xcalloc(1, sizeof(*n));
	int64_t		 maxmsg = (int64_t)o->max_msg;
	int		 hb = (int)o->heartbeat_ms;

	n->ctx = zmq_ctx_new();
	if (n->ctx == NULL) {
		free(n);
		return E_IO;
	}
	n->sock = zmq_socket(n->ctx, type);
	if (n->sock == NULL) {
		zmq_ctx_term(n->ctx);
		free(n);
		return E_IO;
	}
	n->router = type == ZMQ_ROUTER;
	zmq_setsockopt(n->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	setopt_int(n->sock, ZMQ_LINGER, 0);
	setopt_int(n->sock, ZMQ_HEARTBEAT_IVL, hb);
	setopt_int(n->sock, ZMQ_HEARTBEAT_TIMEOUT, hb * 3);
	setopt_int(n->sock, ZMQ_HEARTBEAT_TTL, hb * 3);
	setopt_int(n->sock, ZMQ_HANDSHAKE_IVL, 10000);
	/* Per connection too: a peer that asks (HELLO, FETCH) and never
	 * reads makes a send fail once this many frames wait for it, and the
	 * session ends, instead of central's memory growing. */
	setopt_int(n->sock, ZMQ_SNDHWM, type == ZMQ_ROUTER ?
	    NET_ROUTER_SNDHWM : 1000);
	/* A ROUTER's receive queue is per connection: what one connection
	 * can make central hold is NET_ROUTER_RCVHWM frames of at most
	 * max_msg bytes (a session never has more than a window of batches
	 * and as many ACKs in flight).  Beyond it libzmq stops reading that
	 * connection: nothing is dropped. */
	setopt_int(n->sock, ZMQ_RCVHWM, type == ZMQ_ROUTER ?
	    NET_ROUTER_RCVHWM : 1000);
	if (n->router)
		setopt_int(n->sock, ZMQ_ROUTER_MANDATORY, 1);
	else
		setopt_int(n->sock, ZMQ_IMMEDIATE, 1);
	setopt_int(n->sock, ZMQ_RECONNECT_IVL, 200);
	setopt_int(n->sock, ZMQ_RECONNECT_IVL_MAX, 5000);
	if (o->curve_pub != NULL) {
		if (n->router)
			setopt_int(n->sock, ZMQ_CURVE_SERVER, 1);
		else
			zmq_setsockopt(n->sock, ZMQ_CURVE_SERVERKEY,
			    o->server_pub, NET_KEY);
		zmq_setsockopt(n->sock, ZMQ_CURVE_PUBLICKEY, o->curve_pub,
		    NET_KEY);
		zmq_setsockopt(n->sock, ZMQ_CURVE_SECRETKEY, o->curve_sec,
		    NET_KEY);
	}
	*out = n;
	return 0;
}

int
net_listen(const char *endpoint, const struct net_opts *o, struct net **out,
    char *err, size_t errsz)
{
	struct net *n;

	if (net_open(ZMQ_ROUTER, o, &n) != 0) {
		snprintf(err, errsz, "zmq: %s", zmq_strerror(zmq_errno()));
		return E_IO;
	}
	/* With CURVE but no ZAP handler libzmq accepts ANY client key: the
	 * handler must be bound before the first connection can arrive. */
	if (o->curve_pub != NULL) {
		n->auth = o->auth;
		n->auth_arg = o->auth_arg;
		n->zap = zmq_socket(n->ctx, ZMQ_REP);
		if (n->zap == NULL || o->auth == NULL ||
		    zmq_bind(n->zap, ZAP_ENDPOINT) != 0) {
			snprintf(err, errsz, "cannot start the ZAP handler: "
			    "%s", zmq_strerror(zmq_errno()));
			net_close(&n);
			return E_IO;
		}
		zmq_setsockopt(n->sock, ZMQ_ZAP_DOMAIN, "casesync", 8);
	}
	/*
	 * A node process that was just killed may hold the port for a few
	 * milliseconds more (its supervisor, or the supervisor's caller,
	 * restarts it at once): wait for it a little before giving up.
	 */
	for (int tries = 0; zmq_bind(n->sock, endpoint) != 0; tries++) {
		struct timespec ts = { 0, 100 * 1000000L };

		if (zmq_errno() == EADDRINUSE && tries < 20) {
			nanosleep(&ts, NULL);
			continue;
		}
		snprintf(err, errsz, "cannot listen on %s: %s", endpoint,
		    zmq_strerror(zmq_errno()));
		net_close(&n);
		return E_IO;
	}
	*out = n;
	return 0;
}

int
net_connect(const char *endpoint, const struct net_opts *o,
    struct net **out, char *err, size_t errsz)
{
	struct net	*n;
	char		 mon[64];

	if (net_open(ZMQ_DEALER, o, &n) != 0) {
		snprintf(err, errsz, "zmq: %s", zmq_strerror(zmq_errno()));
		return E_IO;
	}
	/* Watch the handshake so a refused key is reported, not a hang. */
	snprintf(mon, sizeof(mon), "inproc://casesync-mon-%p", (void *)n);
	if (zmq_socket_monitor(n->sock, mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) == 0) {
		n->mon = zmq_socket(n->ctx, ZMQ_PAIR);
		if (n->mon != NULL && zmq_connect(n->mon, mon) != 0) {
			zmq_close(n->mon);
			n->mon = NULL;
		}
	}
	if (zmq_connect(n->sock, endpoint) != 0) {
		snprintf(err, errsz, "cannot connect to %s: %s", endpoint,
		    zmq_strerror(zmq_errno()));
		net_close(&n);
		return E_IO;
	}
	*out = n;
	return 0;
}

void
net_close(struct net **np)
{
	struct net *n = *np;

	if (n == NULL)
		return;
	if (n->mon != NULL) {
		zmq_socket_monitor(n->sock, NULL, 0);
		zmq_close(n->mon);
	}
	if (n->zap != NULL)
		zmq_close(n->zap);
	zmq_close(n->sock);
	zmq_ctx_term(n->ctx);
	free(n);
	*np = NULL;
}

const char *
net_peer_key(const struct net *n)
{
	return n->key;
}

int
net_handshake_failures(const struct net *n)
{
	return n->hs_fail;
}

const char *
net_error(const struct net *n)
{
	return n->error;
}

/* Receives one frame into a zmq_msg; returns 0, E_AGAIN or E_IO. */
static int
recv_frame(void *sock, zmq_msg_t *m)
{
	zmq_msg_init(m);
	if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
		int e = zmq_errno();
		zmq_msg_close(m);
		if (e == EAGAIN || e == EINTR)
			return E_AGAIN;
		log_warnx("net: recv: %s", zmq_strerror(e));
		return E_IO;
	}
	return 0;
}

/* Discards the rest of a multipart message. */
static void
drain(void *sock, zmq_msg_t *m)
{
	while (zmq_msg_more(m)) {
		zmq_msg_close(m);
		if (recv_frame(sock, m) != 0)
			return;
	}
}

/*
 * Answers one ZAP request (RFC 27): version, request id, domain, address,
 * identity, mechanism, credentials -> version, request id, status code,
 * status text, user id, metadata.
 */
static void
zap_handle(struct net *n)
{
	zmq_msg_t	 f[7];
	int		 nf = 0, ok = 0, more = 1;
	char		 user[NET_USER_MAX + 1] = "", why[128] = "refused";
	const char	*code;
	uint8_t		 meta[64 + 2 * NET_KEY + 1];
	size_t		 metalen = 0;

	while (more && nf < 7) {
		if (recv_frame(n->zap, &f[nf]) != 0)
			break;
		more = zmq_msg_more(&f[nf]);
		nf++;
	}
	if (more) {
		/* Malformed request: drain, then answer 500 below. */
		zmq_msg_t x;
		if (recv_frame(n->zap, &x) == 0) {
			drain(n->zap, &x);
			zmq_msg_close(&x);
		}
	}
	if (nf == 7 && zmq_msg_size(&f[5]) == 5 &&
	    memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&f[6]) == NET_KEY)
		ok = n->auth(n->auth_arg, zmq_msg_data(&f[6]), user, why,
		    sizeof(why));
	if (!ok) {
		char addr[64] = "";
		if (nf > 3) {
			size_t l = zmq_msg_size(&f[3]);
			if (l >= sizeof(addr))
				l = sizeof(addr) - 1;
			memcpy(addr, zmq_msg_data(&f[3]), l);
			addr[l] = '\0';
		}
		log_warnx("refused a connection from %s: %s", addr, why);
	}
	code = nf == 7 ? (ok ? "200" : "400") : "500";
	/* Metadata (ZMTP property list): name-len:1, name, value-len:4 (big
	 * endian), value. */
	if (ok) {
		const uint8_t	*k = zmq_msg_data(&f[6]);
		size_t		 nl = strlen(KEY_PROP);

		meta[0] = (uint8_t)nl;
		memcpy(meta + 1, KEY_PROP, nl);
		meta[1 + nl] = meta[2 + nl] = meta[3 + nl] = 0;
		meta[4 + nl] = 2 * NET_KEY;
		for (int i = 0; i < NET_KEY; i++)
			snprintf((char *)meta + 5 + nl + 2 * i, 3, "%02x",
			    k[i]);
		metalen = 5 + nl + 2 * NET_KEY;
	}
	zmq_send(n->zap, "1.0", 3, ZMQ_SNDMORE);
	if (nf > 1)
		zmq_send(n->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]),
		    ZMQ_SNDMORE);
	else
		zmq_send(n->zap, "", 0, ZMQ_SNDMORE);
	zmq_send(n->zap, code, 3, ZMQ_SNDMORE);
	zmq_send(n->zap, ok ? "OK" : why, ok ? 2 : strlen(why), ZMQ_SNDMORE);
	zmq_send(n->zap, user, ok ? strlen(user) : 0, ZMQ_SNDMORE);
	zmq_send(n->zap, meta, metalen, 0);
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
}

/* Reads a monitor event; returns E_AUTH when the handshake failed. */
static int
monitor_handle(struct net *n)
{
	zmq_msg_t	m;
	uint16_t	event = 0;
	uint32_t	value = 0;

	if (recv_frame(n->mon, &m) != 0)
		return 0;
	if (zmq_msg_size(&m) >= 6) {
		memcpy(&event, zmq_msg_data(&m), 2);
		memcpy(&value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
	}
	drain(n->mon, &m);
	zmq_msg_close(&m);
	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		snprintf(n->error, sizeof(n->error), "central refused this "
		    "node's key (not enrolled, or revoked; status %u)",
		    (unsigned)value);
		return E_AUTH;
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		n->hs_fail = 0;
		return 0;
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
		/* A server dying mid-handshake, a proxy with no backend and
		 * a wrong pinned key all look alike from here: count them
		 * for the caller's timeout message, never give up early. */
		n->hs_fail++;
		return 0;
	case ZMQ_EVENT_DISCONNECTED:
		/* ZeroMQ reconnects by itself, but whatever was in flight on
		 * the old connection is gone: the session must know. */
		n->lost = 1;
		return 0;
	default:
		return 0;
	}
}

int
net_check(struct net *n)
{
	zmq_pollitem_t pi = { n->mon, 0, ZMQ_POLLIN, 0 };

	if (n->mon == NULL)
		return 0;
	while (zmq_poll(&pi, 1, 0) > 0 && (pi.revents & ZMQ_POLLIN))
		if (monitor_handle(n) == E_AUTH)
			return E_AUTH;
	return 0;
}

static int
recv_data(struct net *n, uint8_t *id, size_t *idlen, char *user,
    struct buf *msg)
{
	zmq_msg_t	m;
	int		rc;

	if ((rc = recv_frame(n->sock, &m)) != 0)
		return rc;
	if (n->router) {
		size_t l = zmq_msg_size(&m);
		if (l > NET_ID_MAX || !zmq_msg_more(&m)) {
			drain(n->sock, &m);
			zmq_msg_close(&m);
			return E_AGAIN;
		}
		memcpy(id, zmq_msg_data(&m), l);
		*idlen = l;
		zmq_msg_close(&m);
		if ((rc = recv_frame(n->sock, &m)) != 0)
			return rc;
		if (user != NULL) {
			const char *u = zmq_msg_gets(&m, "User-Id");
			user[0] = '\0';
			if (u != NULL && strlen(u) <= NET_USER_MAX)
				memcpy(user, u, strlen(u) + 1);
		}
		{
			const char *k = zmq_msg_gets(&m, KEY_PROP);
			n->key[0] = '\0';
			if (k != NULL && strlen(k) == 2 * NET_KEY)
				memcpy(n->key, k, sizeof(n->key));
		}
	}
	if (zmq_msg_more(&m)) {
		/* We only ever send single-frame messages. */
		drain(n->sock, &m);
		zmq_msg_close(&m);
		return E_TOOBIG;
	}
	rc = buf_append(msg, zmq_msg_data(&m), zmq_msg_size(&m));
	zmq_msg_close(&m);
	return rc;
}

int
net_recv(struct net *n, int timeout_ms, uint8_t *id, size_t *idlen,
    char *user, struct buf *msg)
{
	uint64_t	deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ?
	    timeout_ms : 0);

	buf_reset(msg);
	for (;;) {
		zmq_pollitem_t	pi[2] = {
			{ n->sock, 0, ZMQ_POLLIN, 0 },
			{ n->zap ? n->zap : n->mon, 0, ZMQ_POLLIN, 0 },
		};
		int		np = pi[1].socket ? 2 : 1, rc;
		uint64_t	now = mono_ms();
		long		wait = now >= deadline ? 0 :
		    (long)(deadline - now);

		rc = zmq_poll(pi, np, wait);
		if (rc < 0)
			return zmq_errno() == EINTR ? E_AGAIN : E_IO;
		if (np == 2 && (pi[1].revents & ZMQ_POLLIN)) {
			if (n->zap)
				zap_handle(n);
			else if (monitor_handle(n) == E_AUTH)
				return E_AUTH;
		}
		if (pi[0].revents & ZMQ_POLLIN)
			return recv_data(n, id, idlen, user, msg);
		/* Deliver what arrived before a disconnection, then say. */
		if (n->lost) {
			n->lost = 0;
			return E_IO;
		}
		if (mono_ms() >= deadline)
			return E_AGAIN;
	}
}

int
net_send(struct net *n, const uint8_t *id, size_t idlen, const void *p,
    size_t len, int timeout_ms)
{
	zmq_pollitem_t pi = { n->sock, 0, ZMQ_POLLOUT, 0 };

	if (zmq_poll(&pi, 1, timeout_ms) <= 0 || !(pi.revents & ZMQ_POLLOUT))
		return E_AGAIN;
	if (n->router) {
		if (zmq_send(n->sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) <
		    0) {
			int e = zmq_errno();
			return e == EHOSTUNREACH ? E_NOTFOUND : E_AGAIN;
		}
	}
	if (zmq_send(n->sock, p, len, ZMQ_DONTWAIT) < 0) {
		int e = zmq_errno();
		return e == EHOSTUNREACH ? E_NOTFOUND : E_AGAIN;
	}
	return 0;
}

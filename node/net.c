#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

struct net {
	void	*ctx;
	void	*sock;
	int	 router;
};

static int
setopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
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
	setopt_int(n->sock, ZMQ_SNDHWM, 1000);
	setopt_int(n->sock, ZMQ_RCVHWM, 1000);
	if (n->router)
		setopt_int(n->sock, ZMQ_ROUTER_MANDATORY, 1);
	else
		setopt_int(n->sock, ZMQ_IMMEDIATE, 1);
	setopt_int(n->sock, ZMQ_RECONNECT_IVL, 200);
	setopt_int(n->sock, ZMQ_RECONNECT_IVL_MAX, 5000);
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
	if (zmq_bind(n->sock, endpoint) != 0) {
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
	struct net *n;

	if (net_open(ZMQ_DEALER, o, &n) != 0) {
		snprintf(err, errsz, "zmq: %s", zmq_strerror(zmq_errno()));
		return E_IO;
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
	zmq_close(n->sock);
	zmq_ctx_term(n->ctx);
	free(n);
	*np = NULL;
}

/* Receives one frame into a zmq_msg; returns 0, E_AGAIN or E_IO. */
static int
recv_frame(struct net *n, zmq_msg_t *m)
{
	zmq_msg_init(m);
	if (zmq_msg_recv(m, n->sock, ZMQ_DONTWAIT) < 0) {
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
drain(struct net *n, zmq_msg_t *m)
{
	while (zmq_msg_more(m)) {
		zmq_msg_close(m);
		if (recv_frame(n, m) != 0)
			return;
	}
}

int
net_recv(struct net *n, int timeout_ms, uint8_t *id, size_t *idlen,
    struct buf *msg)
{
	zmq_pollitem_t	pi = { n->sock, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t	m;
	int		rc;

	buf_reset(msg);
	rc = zmq_poll(&pi, 1, timeout_ms);
	if (rc < 0)
		return zmq_errno() == EINTR ? E_AGAIN : E_IO;
	if (rc == 0 || !(pi.revents & ZMQ_POLLIN))
		return E_AGAIN;
	if ((rc = recv_frame(n, &m)) != 0)
		return rc;
	if (n->router) {
		size_t l = zmq_msg_size(&m);
		if (l > NET_ID_MAX || !zmq_msg_more(&m)) {
			drain(n, &m);
			zmq_msg_close(&m);
			return E_AGAIN;
		}
		memcpy(id, zmq_msg_data(&m), l);
		*idlen = l;
		zmq_msg_close(&m);
		if ((rc = recv_frame(n, &m)) != 0)
			return rc;
	}
	if (zmq_msg_more(&m)) {
		/* We only ever send single-frame messages. */
		drain(n, &m);
		zmq_msg_close(&m);
		return E_TOOBIG;
	}
	rc = buf_append(msg, zmq_msg_data(&m), zmq_msg_size(&m));
	zmq_msg_close(&m);
	return rc;
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

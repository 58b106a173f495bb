/*
 * net.h - the ZeroMQ transport: the only module that includes zmq.h.
 *
 * Central binds a ROUTER; a province connects a DEALER.  ZeroMQ is treated
 * as a lossy pipe: the sync protocol above it acknowledges every batch
 * after a durable commit, so nothing here has to be reliable.  Every socket
 * sets ZMQ_MAXMSGSIZE, heartbeats, ZMQ_IMMEDIATE (DEALER) and
 * ZMQ_ROUTER_MANDATORY (ROUTER) so that messages are neither queued to
 * connections that never complete nor silently dropped.
 */
#ifndef CASESYNC_NET_H
#define CASESYNC_NET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define NET_ID_MAX	256	/* ZeroMQ routing ids are at most 255 bytes */

struct net;

struct net_opts {
	uint64_t	heartbeat_ms;	/* ZMQ heartbeat interval */
	size_t		max_msg;	/* ZMQ_MAXMSGSIZE */
};

/* Central: binds a ROUTER on endpoint.  Returns 0 or E_IO (reason in
 * err). */
int	net_listen(const char *endpoint, const struct net_opts *o,
	    struct net **out, char *err, size_t errsz);
/* Province: connects a DEALER to endpoint (asynchronous: no peer needs to
 * be there yet).  Returns 0 or E_IO. */
int	net_connect(const char *endpoint, const struct net_opts *o,
	    struct net **out, char *err, size_t errsz);
void	net_close(struct net **n);

/* Waits up to timeout_ms (-1 forever) for a message.  Returns 0 with the
 * message in msg (reset first) and, on a ROUTER, the sender's routing id in
 * id/idlen; E_AGAIN on timeout; E_AGAIN too when interrupted by a signal;
 * E_TOOBIG when a frame exceeded the buffer cap (discarded); E_IO. */
int	net_recv(struct net *n, int timeout_ms, uint8_t *id, size_t *idlen,
	    struct buf *msg);
/* Sends one message (to routing id on a ROUTER).  Waits up to timeout_ms
 * for the socket to accept it.  Returns 0, E_AGAIN (not accepted in time:
 * peer not connected or at its high-water mark), or E_NOTFOUND (ROUTER:
 * no such peer). */
int	net_send(struct net *n, const uint8_t *id, size_t idlen,
	    const void *p, size_t len, int timeout_ms);

#endif

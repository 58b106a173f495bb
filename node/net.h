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

#define NET_KEY		32	/* CURVE keys, binary */
#define NET_USER_MAX	32	/* authenticated node id */
#define NET_ROUTER_RCVHWM 10	/* frames queued per connection, in */
#define NET_ROUTER_SNDHWM 32	/* and out */

/*
 * Decides whether a client CURVE key may connect (central's ZAP handler).
 * Returns 1 and writes the node id the key is enrolled for into user_id
 * (size NET_USER_MAX + 1), or 0 to refuse (why says why, for the log).
 */
typedef int	(*net_auth_fn)(void *arg, const uint8_t key[NET_KEY],
		    char *user_id, char *why, size_t whysz);

struct net_opts {
	uint64_t	 heartbeat_ms;	/* ZMQ heartbeat interval */
	size_t		 max_msg;	/* ZMQ_MAXMSGSIZE */
	/* CURVE: this node's key pair (both sides). */
	const uint8_t	*curve_pub, *curve_sec;
	/* DEALER: central's pinned public key. */
	const uint8_t	*server_pub;
	/* ROUTER: the ZAP check of client keys. */
	net_auth_fn	 auth;
	void		*auth_arg;
};

/* Generates a CURVE key pair (binary).  Returns 0 or E_IO. */
int	net_curve_keypair(uint8_t pub[NET_KEY], uint8_t sec[NET_KEY]);

/* Central: binds a ROUTER on endpoint.  Returns 0 or E_IO (reason in
 * err). */
int	net_listen(const char *endpoint, const struct net_opts *o,
	    struct net **out, char *err, size_t errsz);
/* Province: connects a DEALER to endpoint (asynchronous: no peer needs to
 * be there yet).  Returns 0 or E_IO. */
int	net_connect(const char *endpoint, const struct net_opts *o,
	    struct net **out, char *err, size_t errsz);
void	net_close(struct net **n);

/* Waits up to timeout_ms for a message, answering ZAP requests meanwhile.
 * Returns 0 with the message in msg (reset first) and, on a ROUTER, the
 * sender's routing id in id/idlen and the node id its key is enrolled for
 * in user (size NET_USER_MAX + 1); E_AGAIN on timeout or signal; E_TOOBIG
 * when a frame exceeded the buffer cap (discarded); E_AUTH (DEALER) when
 * the CURVE handshake failed, with the reason from net_error(); E_IO on a
 * socket error and (DEALER) once after the connection was lost: ZeroMQ
 * reconnects, but messages in flight on the old connection may be gone, so
 * the caller restarts its session rather than wait for them. */
int	net_recv(struct net *n, int timeout_ms, uint8_t *id, size_t *idlen,
	    char *user, struct buf *msg);
/* ROUTER: the CURVE key (64 hex digits) of the connection the last
 * message net_recv returned came from; "" when unknown.  Borrowed, valid
 * until the next net_recv. */
const char *net_peer_key(const struct net *n);
/* DEALER: returns E_AUTH (reason from net_error()) when a CURVE handshake
 * has failed since the last call, else 0.  Never blocks. */
int	net_check(struct net *n);
/* DEALER: secure handshakes that failed since the last success. */
int	net_handshake_failures(const struct net *n);
/* The reason of the last E_AUTH (borrowed, valid until the next call). */
const char *net_error(const struct net *n);
/* Sends one message (to routing id on a ROUTER).  Waits up to timeout_ms
 * for the socket to accept it.  Returns 0, E_AGAIN (not accepted in time:
 * peer not connected or at its high-water mark), or E_NOTFOUND (ROUTER:
 * no such peer). */
int	net_send(struct net *n, const uint8_t *id, size_t idlen,
	    const void *p, size_t len, int timeout_ms);

#endif

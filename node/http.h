/*
 * http.h - the console's HTTP(S) server: a thin adapter over GNU
 * libmicrohttpd (the only module that includes microhttpd.h).  It collects
 * one request into a struct http_req, calls the handler once, and sends
 * the struct http_resp the handler filled, with the security headers every
 * response carries.  Parsing HTTP is libmicrohttpd's; the handler sees
 * decoded query arguments, a few headers and a bounded body.
 *
 * Threads: libmicrohttpd's internal thread pool (HTTP_THREADS threads,
 * each polling its share of the connections with epoll); the handler may
 * run in several threads at once.  Limits: HTTP_CONN_MAX connections in
 * all, a per-connection memory pool of HTTP_CONN_MEM bytes (the request
 * line and headers must fit), HTTP_BODY_MAX bytes of body (413 past it),
 * and HTTP_TIMEOUT_S seconds of inactivity before a connection is closed
 * (slow clients).
 */
#ifndef CASESYNC_HTTP_H
#define CASESYNC_HTTP_H

#include <stddef.h>

#include "../common/buf.h"

#define HTTP_THREADS		4
#define HTTP_CONN_MAX		256
#define HTTP_CONN_MEM		(32 * 1024)
#define HTTP_BODY_MAX		(64 * 1024)
#define HTTP_TIMEOUT_S		10
#define HTTP_ARGS_MAX		32
#define HTTP_RESP_MAX		(8 * 1024 * 1024)
#define HTTP_COOKIES_MAX	2

struct http_arg {
	const char	*key;		/* borrowed, decoded */
	const char	*val;		/* borrowed, decoded; "" when absent */
};

/* One request.  Every pointer is borrowed for the handler call only. */
struct http_req {
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* decoded, without the query */
	struct http_arg	 args[HTTP_ARGS_MAX];	/* query arguments */
	size_t		 nargs;
	int		 args_overflow;	/* more than HTTP_ARGS_MAX given */
	const char	*cookie;	/* Cookie header or NULL */
	const char	*content_type;
	const char	*csrf;		/* X-CSRF-Token header or NULL */
	const char	*accept_lang;
	const char	*addr;		/* client address text */
	const char	*body;		/* NUL-terminated, body_len bytes */
	size_t		 body_len;
	int		 tls;		/* arrived over HTTPS */
};

struct http_resp {
	int		 status;
	const char	*ctype;		/* static string */
	struct buf	 body;		/* HTTP_RESP_MAX */
	char		 cookies[HTTP_COOKIES_MAX][256];	/* Set-Cookie */
	char		 location[512];
	char		 disposition[128];	/* Content-Disposition */
	unsigned	 retry_after;	/* seconds; 0 = no header */
	int		 cacheable;	/* static asset: may be cached */
};

typedef void (*http_handler)(void *arg, const struct http_req *req,
    struct http_resp *resp);

struct http_opts {
	const char	*host;		/* numeric address to listen on */
	unsigned	 port;		/* 0: pick a free one */
	int		 tls;
	const char	*cert_pem;	/* with tls: borrowed until http_stop */
	const char	*key_pem;
};

struct http;

/*
 * Starts serving on host:port, calling fn(arg, …) for each request from
 * the pool's threads.  *port_out receives the bound port.  Returns 0 or
 * E_IO with the reason in err.  Caller owns *out (http_stop).
 */
int	http_start(const struct http_opts *o, http_handler fn, void *arg,
	    struct http **out, unsigned *port_out, char *err, size_t errsz);
/* Stops accepting, closes every connection, joins the threads. */
void	http_stop(struct http **h);

/* Initialises an empty 200 text/html response / releases it. */
void	http_resp_init(struct http_resp *r);
void	http_resp_release(struct http_resp *r);

#endif

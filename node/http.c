/*
 * http.c - the console's HTTP(S) server over libmicrohttpd.  See http.h.
 */
#include "http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* Every response carries these.  The pages use no inline script and no
 * style attribute, so the policy needs no 'unsafe-inline'. */
#define CSP	"default-src 'self'; img-src 'self' data:; " \
		"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; " \
		"object-src 'none'"

struct http {
	struct MHD_Daemon	*d;
	http_handler		 fn;
	void			*arg;
	int			 tls;
};

/* Per-request state between the calls of the access handler. */
struct conn {
	struct buf	body;
	int		too_big;
};

void
http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->ctype = "text/html; charset=utf-8";
	buf_init(&r->body, HTTP_RESP_MAX);
}

void
http_resp_release(struct http_resp *r)
{
	buf_release(&r->body);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

struct args_ctx {
	struct http_req	*req;
};

static enum MHD_Result
arg_one(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_req *r = cls;

	(void)kind;
	if (r->nargs >= HTTP_ARGS_MAX) {
		r->args_overflow = 1;
		return MHD_NO;
	}
	r->args[r->nargs].key = key != NULL ? key : "";
	r->args[r->nargs].val = value != NULL ? value : "";
	r->nargs++;
	return MHD_YES;
}

static void
client_addr(struct MHD_Connection *c, char *out, size_t sz)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	strlcpy_(out, "?", sz);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, out, (socklen_t)sz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, out, (socklen_t)sz);
}

static enum MHD_Result
send_resp(struct http *h, struct MHD_Connection *c, struct http_resp *r)
{
	struct MHD_Response	*mr;
	enum MHD_Result		 ret;
	char			 num[32];

	mr = MHD_create_response_from_buffer(r->body.len, r->body.len ?
	    r->body.data : (void *)(uintptr_t)"", MHD_RESPMEM_MUST_COPY);
	if (mr == NULL)
		return MHD_NO;
	MHD_add_response_header(mr, "Content-Type", r->ctype);
	MHD_add_response_header(mr, "Content-Security-Policy", CSP);
	MHD_add_response_header(mr, "X-Frame-Options", "DENY");
	MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(mr, "Cross-Origin-Opener-Policy",
	    "same-origin");
	MHD_add_response_header(mr, "Cache-Control", r->cacheable ?
	    "private, max-age=3600" : "no-store");
	if (h->tls)
		MHD_add_response_header(mr, "Strict-Transport-Security",
		    "max-age=31536000");
	for (size_t i = 0; i < HTTP_COOKIES_MAX; i++)
		if (r->cookies[i][0] != '\0')
			MHD_add_response_header(mr, "Set-Cookie",
			    r->cookies[i]);
	if (r->location[0] != '\0')
		MHD_add_response_header(mr, "Location", r->location);
	if (r->disposition[0] != '\0')
		MHD_add_response_header(mr, "Content-Disposition",
		    r->disposition);
	if (r->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", r->retry_after);
		MHD_add_response_header(mr, "Retry-After", num);
	}
	ret = MHD_queue_response(c, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http	*h = cls;
	struct conn	*cn = *con_cls;
	struct http_req	 req;
	struct http_resp resp;
	char		 addr[INET6_ADDRSTRLEN + 1];
	enum MHD_Result	 ret;

	(void)version;
	if (cn == NULL) {
		cn = xcalloc(1, sizeof(*cn));
		buf_init(&cn->body, HTTP_BODY_MAX);
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!cn->too_big && buf_append(&cn->body, upload,
		    *upload_size) != 0)
			cn->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	http_resp_init(&resp);
	if (cn->too_big) {
		resp.status = 413;
		resp.ctype = "text/plain; charset=utf-8";
		buf_append_str(&resp.body, "request body too large\n");
	} else {
		memset(&req, 0, sizeof(req));
		req.method = method;
		req.path = url;
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_one,
		    &req);
		req.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Cookie");
		req.content_type = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, "Content-Type");
		req.csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "X-CSRF-Token");
		req.accept_lang = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, "Accept-Language");
		client_addr(c, addr, sizeof(addr));
		req.addr = addr;
		buf_append(&cn->body, "", 1);	/* NUL, not counted */
		req.body = (const char *)cn->body.data;
		req.body_len = cn->body.len - 1;
		req.tls = h->tls;
		h->fn(h->arg, &req, &resp);
	}
	ret = send_resp(h, c, &resp);
	http_resp_release(&resp);
	return ret;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cn == NULL)
		return;
	buf_release(&cn->body);
	free(cn);
	*con_cls = NULL;
}

int
http_start(const struct http_opts *o, http_handler fn, void *arg,
    struct http **out, unsigned *port_out, char *err, size_t errsz)
{
	struct addrinfo		 hints, *ai = NULL;
	struct sockaddr_storage	 ss;
	const union MHD_DaemonInfo *di;
	struct http		*h;
	char			 port[16];
	unsigned		 flags;
	int			 rc;

	*out = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", o->port);
	if ((rc = getaddrinfo(o->host, port, &hints, &ai)) != 0 ||
	    ai->ai_addrlen > sizeof(ss)) {
		snprintf(err, errsz, "--listen: '%s' is not a numeric "
		    "address", o->host);
		if (ai != NULL)
			freeaddrinfo(ai);
		return E_INVAL;
	}
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	h = xcalloc(1, sizeof(*h));
	h->fn = fn;
	h->arg = arg;
	h->tls = o->tls;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (o->tls)
		flags |= MHD_USE_TLS;
	if (o->tls)
		h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
		    MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
		    MHD_OPTION_STRICT_FOR_CLIENT, 1,
		    MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
		    MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
		    MHD_OPTION_HTTPS_PRIORITIES,
		    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		    MHD_OPTION_END);
	else
		h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
		    MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
		    MHD_OPTION_STRICT_FOR_CLIENT, 1,
		    MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, errsz, "cannot listen on %s port %u (in use, "
		    "or a bad certificate)", o->host, o->port);
		free(h);
		return E_IO;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port_out = di != NULL ? di->port : o->port;
	*out = h;
	return 0;
}

void
http_stop(struct http **hp)
{
	if (*hp == NULL)
		return;
	MHD_stop_daemon((*hp)->d);
	free(*hp);
	*hp = NULL;
}

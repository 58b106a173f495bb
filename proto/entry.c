/*
 * entry.c - the change entry and the signed record: lifecycle and the strict
 * msgpack codec.  The byte layout and every limit are in SCHEMA.md.
 *
 * entry_encode() checks the entry against the same rules entry_decode()
 * enforces, so we never write (and sign) an entry that no node could read
 * back.  The codec bounds lengths and checks identifiers; whether a value
 * is the right JSON for its path is node/schema.c's business.
 */
#include "entry.h"
#include "mp.h"

#include "../common/err.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY_NITEMS	7		/* items of the top-level array */
#define RECORD_NITEMS	3

void
entry_init(struct entry *e)
{
	memset(e, 0, sizeof(*e));
}

void
entry_release(struct entry *e)
{
	size_t i;

	for (i = 0; i < e->nops; i++) {
		free(e->ops[i].value);
		free(e->ops[i].also);
	}
	free(e->ops);
	entry_init(e);
}

struct op *
entry_add_op(struct entry *e, enum op_type t)
{
	struct op *o;

	if (e->nops >= ENTRY_MAX_OPS)
		return NULL;
	e->ops = xreallocarray(e->ops, e->nops + 1, sizeof(*e->ops));
	o = &e->ops[e->nops++];
	memset(o, 0, sizeof(*o));
	o->type = t;
	return o;
}

struct stamp *
op_also_add(struct op *o)
{
	struct stamp *st;

	if (o->nalso >= ENTRY_MAX_ALSO)
		return NULL;
	if (o->also == NULL)
		o->also = xcalloc(ENTRY_MAX_ALSO, sizeof(*o->also));
	st = &o->also[o->nalso++];
	memset(st, 0, sizeof(*st));
	return st;
}

/*
 * n zeroed elements of sz, for the decoders' arrays: malloc and memset
 * rather than calloc, which in glibc (2.36) skips the per-thread cache
 * and costs several times a cached malloc for the small arrays decoded
 * on every apply.  Caller owns the result.
 */
static void *
zalloc(size_t n, size_t sz)
{
	void *p = xreallocarray(NULL, n, sz);

	memset(p, 0, n * sz);
	return p;
}

/* A NUL-terminated copy of len bytes at v.  Caller owns the result. */
static char *
value_dup(const char *v, size_t len)
{
	char *p = xmalloc(len + 1);

	if (len > 0)
		memcpy(p, v, len);
	p[len] = '\0';
	return p;
}

int
op_set_value(struct op *o, const char *v, size_t len)
{
	char *p;

	if (len > ENTRY_VALUE_MAX)
		return E_TOOBIG;
	/* Copy before freeing: v may point into the old value. */
	p = value_dup(v, len);
	free(o->value);
	o->value = p;
	o->value_len = len;
	return 0;
}

void
entry_copy(struct entry *dst, const struct entry *src)
{
	size_t i;

	*dst = *src;
	dst->ops = NULL;
	if (src->nops == 0)
		return;
	dst->ops = xreallocarray(NULL, src->nops, sizeof(*dst->ops));
	memcpy(dst->ops, src->ops, src->nops * sizeof(*dst->ops));
	for (i = 0; i < src->nops; i++) {
		if (src->ops[i].value != NULL)
			dst->ops[i].value = value_dup(src->ops[i].value,
			    src->ops[i].value_len);
		if (src->ops[i].also != NULL) {
			dst->ops[i].also = xcalloc(ENTRY_MAX_ALSO,
			    sizeof(*dst->ops[i].also));
			memcpy(dst->ops[i].also, src->ops[i].also,
			    src->ops[i].nalso * sizeof(*dst->ops[i].also));
		}
	}
}

/* A JSON value: 1..ENTRY_VALUE_MAX bytes of UTF-8 without NUL bytes. */
static int
value_valid(const char *v, size_t len)
{
	return v != NULL && len >= 1 && len <= ENTRY_VALUE_MAX &&
	    memchr(v, '\0', len) == NULL &&
	    mp_utf8_valid((const uint8_t *)v, len);
}

static int
path_ok(const char *s, size_t size)
{
	return mp_cstr_ok(s, size) && mp_path_valid(s);
}

static int
op_check(const struct op *o)
{
	size_t i;

	switch (o->type) {
	case OP_SET:
		if (!path_ok(o->path, sizeof(o->path)) ||
		    !value_valid(o->value, o->value_len) ||
		    !mp_stamp_valid(&o->base, 1) || o->nalso > ENTRY_MAX_ALSO ||
		    (o->nalso > 0 && o->also == NULL))
			return E_INVAL;
		for (i = 0; i < o->nalso; i++) {
			if (!mp_stamp_valid(&o->also[i], 0))
				return E_INVAL;
		}
		return 0;
	case OP_EVENT:
		if (!path_ok(o->path, sizeof(o->path)) ||
		    !mp_cstr_ok(o->evid, sizeof(o->evid)) ||
		    !mp_evid_valid(o->evid) ||
		    !value_valid(o->value, o->value_len))
			return E_INVAL;
		return 0;
	case OP_TRANSFER:
		if (!mp_cstr_ok(o->to, sizeof(o->to)) || !node_id_valid(o->to))
			return E_INVAL;
		return 0;
	case OP_ERASE:
		/* The owner's stamp in the writer's view, or none (an erase
		 * written before it was carried). */
		return mp_stamp_valid(&o->base, 1) ? 0 : E_INVAL;
	}
	return E_INVAL;
}

static int
entry_check(const struct entry *e)
{
	size_t	i;
	int	rc;

	if (!mp_cstr_ok(e->origin, sizeof(e->origin)) ||
	    !node_id_valid(e->origin) || e->seq == 0 || e->hlc == 0 ||
	    !mp_cstr_ok(e->author, sizeof(e->author)) ||
	    !mp_author_valid(e->author) ||
	    !mp_cstr_ok(e->case_id, sizeof(e->case_id)) ||
	    !mp_case_id_valid(e->case_id) ||
	    e->nops < 1 || e->nops > ENTRY_MAX_OPS || e->ops == NULL)
		return E_INVAL;
	for (i = 0; i < e->nops; i++) {
		if ((rc = op_check(&e->ops[i])) != 0)
			return rc;
	}
	return 0;
}

static void
op_put(struct mp_wr *w, const struct op *o)
{
	size_t i;

	switch (o->type) {
	case OP_SET:
		mp_put_array(w, o->has_salt ? 7 : 6);
		mp_put_uint(w, OP_SET);
		mp_put_cstr(w, o->path);
		mp_put_str(w, o->value, o->value_len);
		mp_put_stamp(w, &o->base);
		mp_put_array(w, o->nalso);
		for (i = 0; i < o->nalso; i++) {
			mp_put_array(w, 2);
			mp_put_stamp(w, &o->also[i]);
		}
		if (o->has_salt)
			mp_put_bin(w, o->salt, ENTRY_SALT_LEN);
		break;
	case OP_EVENT:
		mp_put_array(w, o->has_salt ? 5 : 4);
		mp_put_uint(w, OP_EVENT);
		mp_put_cstr(w, o->path);
		mp_put_cstr(w, o->evid);
		mp_put_str(w, o->value, o->value_len);
		if (o->has_salt)
			mp_put_bin(w, o->salt, ENTRY_SALT_LEN);
		break;
	case OP_TRANSFER:
		mp_put_array(w, 2);
		mp_put_uint(w, OP_TRANSFER);
		mp_put_cstr(w, o->to);
		break;
	case OP_ERASE:
		mp_put_array(w, o->base.hlc != 0 ? 2 : 1);
		mp_put_uint(w, OP_ERASE);
		if (o->base.hlc != 0) {
			mp_put_array(w, 2);
			mp_put_stamp(w, &o->base);
		}
		break;
	}
}

int
op_encode(const struct op *o, struct buf *out)
{
	struct mp_wr	w;
	int		rc;

	if ((rc = op_check(o)) != 0)
		return rc;
	mp_wr_init(&w, out, ENTRY_ENCODED_MAX);
	op_put(&w, o);
	return mp_wr_finish(&w);
}

int
entry_encode(const struct entry *e, struct buf *out)
{
	struct mp_wr	w;
	size_t		i;
	int		rc;

	if ((rc = entry_check(e)) != 0)
		return rc;
	mp_wr_init(&w, out, ENTRY_ENCODED_MAX);
	mp_put_array(&w, ENTRY_NITEMS);
	mp_put_uint(&w, ENTRY_VERSION);
	mp_put_cstr(&w, e->origin);
	mp_put_uint(&w, e->seq);
	mp_put_uint(&w, e->hlc);
	mp_put_cstr(&w, e->author);
	mp_put_cstr(&w, e->case_id);
	mp_put_array(&w, e->nops);
	for (i = 0; i < e->nops; i++)
		op_put(&w, &e->ops[i]);
	return mp_wr_finish(&w);
}

static int
value_read(struct mp_rd *r, struct op *o)
{
	const char	*s;
	size_t		 n;

	if (mp_read_str(r, &s, &n) != 0 || !value_valid(s, n))
		return E_PROTO;
	o->value = value_dup(s, n);
	o->value_len = n;
	return 0;
}

static int
salt_read(struct mp_rd *r, struct op *o)
{
	const uint8_t	*b;
	size_t		 n;

	if (mp_read_bin(r, &b, &n) != 0 || n != ENTRY_SALT_LEN)
		return E_PROTO;
	memcpy(o->salt, b, ENTRY_SALT_LEN);
	o->has_salt = 1;
	return 0;
}

static int
op_read(struct mp_rd *r, struct op *o)
{
	uint64_t	t;
	size_t		n, i;

	if (mp_read_array(r, &n) != 0 || n < 1 || mp_read_uint(r, &t) != 0)
		return E_PROTO;
	switch (t) {
	case OP_SET:
		if ((n != 6 && n != 7) ||
		    mp_read_cstr(r, o->path, ENTRY_PATH_MAX) != 0 ||
		    !mp_path_valid(o->path) || value_read(r, o) != 0 ||
		    mp_read_stamp(r, &o->base, 1) != 0 ||
		    mp_read_array(r, &o->nalso) != 0 ||
		    o->nalso > ENTRY_MAX_ALSO)
			return E_PROTO;
		if (o->nalso > 0)
			o->also = xcalloc(ENTRY_MAX_ALSO, sizeof(*o->also));
		for (i = 0; i < o->nalso; i++) {
			if (mp_read_array_n(r, 2) != 0 ||
			    mp_read_stamp(r, &o->also[i], 0) != 0)
				return E_PROTO;
		}
		if (n == 7 && salt_read(r, o) != 0)
			return E_PROTO;
		break;
	case OP_EVENT:
		if ((n != 4 && n != 5) ||
		    mp_read_cstr(r, o->path, ENTRY_PATH_MAX) != 0 ||
		    !mp_path_valid(o->path) ||
		    mp_read_cstr(r, o->evid, ENTRY_EVID_MAX) != 0 ||
		    !mp_evid_valid(o->evid) || value_read(r, o) != 0 ||
		    (n == 5 && salt_read(r, o) != 0))
			return E_PROTO;
		break;
	case OP_TRANSFER:
		if (n != 2 || mp_read_cstr(r, o->to, HLC_NODE_MAX) != 0 ||
		    !node_id_valid(o->to))
			return E_PROTO;
		break;
	case OP_ERASE:
		/* [4] or [4, [hlc, node]]: a real stamp, so that each erase
		 * has one encoding. */
		if ((n != 1 && n != 2) || (n == 2 &&
		    (mp_read_array_n(r, 2) != 0 ||
		    mp_read_stamp(r, &o->base, 0) != 0)))
			return E_PROTO;
		break;
	default:
		return E_PROTO;
	}
	o->type = (enum op_type)t;
	return 0;
}

static int
entry_read(struct mp_rd *r, struct entry *e)
{
	uint64_t	ver;
	size_t		n, i;

	if (mp_read_array_n(r, ENTRY_NITEMS) != 0 ||
	    mp_read_uint(r, &ver) != 0 || ver != ENTRY_VERSION ||
	    mp_read_cstr(r, e->origin, HLC_NODE_MAX) != 0 ||
	    !node_id_valid(e->origin) ||
	    mp_read_uint(r, &e->seq) != 0 || e->seq == 0 ||
	    mp_read_uint(r, &e->hlc) != 0 || e->hlc == 0 ||
	    mp_read_cstr(r, e->author, ENTRY_AUTHOR_MAX) != 0 ||
	    !mp_author_valid(e->author) ||
	    mp_read_cstr(r, e->case_id, ENTRY_CASE_ID_LEN) != 0 ||
	    !mp_case_id_valid(e->case_id) ||
	    mp_read_array(r, &n) != 0 || n < 1 || n > ENTRY_MAX_OPS)
		return E_PROTO;
	/* Every op is zeroed and counted before it is read, so that
	 * entry_release() frees exactly what was allocated on any error. */
	e->ops = zalloc(n, sizeof(*e->ops));
	e->nops = n;
	for (i = 0; i < n; i++) {
		size_t off = r->off;

		if (op_read(r, &e->ops[i]) != 0)
			return E_PROTO;
		/* len <= ENTRY_ENCODED_MAX, so both fit. */
		e->ops[i].span_off = (uint32_t)off;
		e->ops[i].span_len = (uint32_t)(r->off - off);
	}
	return mp_rd_end(r);
}

int
entry_decode(const uint8_t *p, size_t len, struct entry *e)
{
	struct mp_rd r;

	entry_init(e);
	if (len > ENTRY_ENCODED_MAX)
		return E_PROTO;
	mp_rd_init(&r, p, len);
	if (entry_read(&r, e) != 0) {
		entry_release(e);
		return E_PROTO;
	}
	return 0;
}

int
record_encode(const uint8_t *ent, size_t entlen, const uint8_t *sig,
    size_t siglen, struct buf *out)
{
	struct mp_wr w;

	if (ent == NULL || entlen < 1 || entlen > ENTRY_ENCODED_MAX ||
	    (siglen != 0 && siglen != RECORD_SIG_LEN) ||
	    (siglen != 0 && sig == NULL))
		return E_INVAL;
	mp_wr_init(&w, out, SIZE_MAX);
	mp_put_array(&w, RECORD_NITEMS);
	mp_put_uint(&w, ENTRY_VERSION);
	mp_put_bin(&w, ent, entlen);
	mp_put_bin(&w, sig, siglen);
	return mp_wr_finish(&w);
}

int
record_decode(const uint8_t *p, size_t len, const uint8_t **ent,
    size_t *entlen, const uint8_t **sig, size_t *siglen)
{
	struct mp_rd	 r;
	const uint8_t	*e, *s;
	size_t		 el, sl;
	uint64_t	 ver;

	*ent = *sig = NULL;
	*entlen = *siglen = 0;
	mp_rd_init(&r, p, len);
	if (mp_read_array_n(&r, RECORD_NITEMS) != 0 ||
	    mp_read_uint(&r, &ver) != 0 || ver != ENTRY_VERSION ||
	    mp_read_bin(&r, &e, &el) != 0 ||
	    el < 1 || el > ENTRY_ENCODED_MAX ||
	    mp_read_bin(&r, &s, &sl) != 0 ||
	    (sl != 0 && sl != RECORD_SIG_LEN) || mp_rd_end(&r) != 0)
		return E_PROTO;
	*ent = e;
	*entlen = el;
	*sig = sl != 0 ? s : NULL;
	*siglen = sl;
	return 0;
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define CASE_A	"0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2e"

static int
stamp_eq(const struct stamp *a, const struct stamp *b)
{
	return a->hlc == b->hlc && strcmp(a->node, b->node) == 0;
}

static int
op_eq(const struct op *a, const struct op *b)
{
	size_t i;

	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case OP_SET:
		if (a->nalso != b->nalso || !stamp_eq(&a->base, &b->base))
			return 0;
		for (i = 0; i < a->nalso; i++) {
			if (!stamp_eq(&a->also[i], &b->also[i]))
				return 0;
		}
		/* FALLTHROUGH */
	case OP_EVENT:
		if (strcmp(a->path, b->path) != 0 || a->value_len !=
		    b->value_len || memcmp(a->value, b->value,
		    a->value_len + 1) != 0)
			return 0;
		return a->type == OP_SET || strcmp(a->evid, b->evid) == 0;
	case OP_TRANSFER:
		return strcmp(a->to, b->to) == 0;
	case OP_ERASE:
		return stamp_eq(&a->base, &b->base);
	}
	return 0;
}

static int
entry_eq(const struct entry *a, const struct entry *b)
{
	size_t i;

	if (strcmp(a->origin, b->origin) != 0 || a->seq != b->seq ||
	    a->hlc != b->hlc || strcmp(a->author, b->author) != 0 ||
	    strcmp(a->case_id, b->case_id) != 0 || a->nops != b->nops)
		return 0;
	for (i = 0; i < a->nops; i++) {
		if (!op_eq(&a->ops[i], &b->ops[i]))
			return 0;
	}
	return 1;
}

/* An entry with one op of every type, including a resolution (also[]). */
static void
sample(struct entry *e)
{
	struct op *o;

	entry_init(e);
	strlcpy_(e->origin, "lao-cai", sizeof(e->origin));
	e->seq = 42;
	e->hlc = HLC_MAKE(UINT64_C(1718000000000), 3);
	strlcpy_(e->author, "Nguyễn Thị Lan", sizeof(e->author));
	strlcpy_(e->case_id, CASE_A, sizeof(e->case_id));

	o = entry_add_op(e, OP_SET);
	strlcpy_(o->path, "person.sex", sizeof(o->path));
	(void)op_set_value(o, "\"female\"", 8);

	o = entry_add_op(e, OP_SET);
	strlcpy_(o->path, "status", sizeof(o->path));
	(void)op_set_value(o, "\"identified\"", 12);
	o->base.hlc = HLC_MAKE(UINT64_C(1717000000000), 0);
	strlcpy_(o->base.node, "central", sizeof(o->base.node));
	op_also_add(o)->hlc = HLC_MAKE(UINT64_C(1717000000500), 1);
	strlcpy_(o->also[0].node, "ha-giang", sizeof(o->also[0].node));
	op_also_add(o)->hlc = UINT64_MAX;
	strlcpy_(o->also[1].node, "x", sizeof(o->also[1].node));

	o = entry_add_op(e, OP_EVENT);
	strlcpy_(o->path, "services", sizeof(o->path));
	strlcpy_(o->evid, "svc_01J0-abc", sizeof(o->evid));
	(void)op_set_value(o, "{\"type\":\"medical\",\"on\":\"2024-06-10\"}",
	    36);

	o = entry_add_op(e, OP_TRANSFER);
	strlcpy_(o->to, "ha-noi", sizeof(o->to));

	/* An erase with the owner's stamp its writer saw, and one without
	 * (written by an older release). */
	o = entry_add_op(e, OP_ERASE);
	o->base.hlc = HLC_MAKE(UINT64_C(1716000000000), 2);
	strlcpy_(o->base.node, "lao-cai", sizeof(o->base.node));
	(void)entry_add_op(e, OP_ERASE);
}

/* Writes an entry header by hand, so that tests can break any item. */
static void
raw_head(struct mp_wr *w, uint64_t ver, const char *origin,
    const char *case_id, size_t nops)
{
	mp_put_array(w, ENTRY_NITEMS);
	mp_put_uint(w, ver);
	mp_put_cstr(w, origin);
	mp_put_uint(w, 1);
	mp_put_uint(w, 1);
	mp_put_cstr(w, "clerk");
	mp_put_cstr(w, case_id);
	mp_put_array(w, nops);
}

static void
raw_set(struct mp_wr *w, const char *value, size_t len, size_t nalso)
{
	size_t i;

	mp_put_array(w, 6);
	mp_put_uint(w, OP_SET);
	mp_put_cstr(w, "status");
	mp_put_str(w, value, len);
	mp_put_uint(w, 0);
	mp_put_cstr(w, "");
	mp_put_array(w, nalso);
	for (i = 0; i < nalso; i++) {
		mp_put_array(w, 2);
		mp_put_uint(w, i + 1);
		mp_put_cstr(w, "central");
	}
}

/* Decodes b, expecting rc; on failure the entry must be empty. */
static int
dec_expect(const struct buf *b, int want)
{
	struct entry	e;
	int		rc;

	rc = entry_decode(b->data, b->len, &e);
	if (rc == 0)
		entry_release(&e);
	else if (e.ops != NULL || e.nops != 0 || e.origin[0] != '\0')
		return -1;
	return rc == want ? 0 : rc == 0 ? -2 : rc;
}

/* Decodes every prefix and every one-byte change of the encoding in b. */
static int
mutate_all(const struct buf *b)
{
	struct entry	 e;
	struct buf	 re;
	uint8_t		*m;
	size_t		 i;
	unsigned	 v;
	int		 rc;

	for (i = 0; i < b->len; i++) {
		ST_CHECK(entry_decode(b->data, i, &e) == E_PROTO);
		ST_CHECK(e.ops == NULL && e.nops == 0);
	}
	m = xmalloc(b->len);
	buf_init(&re, ENTRY_ENCODED_MAX);
	for (i = 0; i < b->len; i++) {
		for (v = 0; v < 256; v++) {
			memcpy(m, b->data, b->len);
			if (m[i] == v)
				continue;
			m[i] = (uint8_t)v;
			rc = entry_decode(m, b->len, &e);
			if (rc != 0) {
				ST_CHECK(rc == E_PROTO);
				ST_CHECK(e.ops == NULL && e.nops == 0);
				continue;
			}
			/* Accepted: then it is canonical and valid. */
			buf_reset(&re);
			ST_OK(entry_encode(&e, &re));
			ST_CHECK(re.len == b->len);
			ST_CHECK(memcmp(re.data, m, re.len) == 0);
			entry_release(&e);
		}
	}
	buf_release(&re);
	free(m);
	return 0;
}

static int
roundtrip_tests(void)
{
	struct entry	 e, d, c;
	struct buf	 b, b2;
	const uint8_t	*ent, *sig;
	uint8_t		 sigbuf[RECORD_SIG_LEN];
	size_t		 entlen, siglen, i;

	sample(&e);
	buf_init(&b, ENTRY_ENCODED_MAX);
	buf_init(&b2, ENTRY_ENCODED_MAX);
	ST_OK(entry_encode(&e, &b));
	ST_OK(entry_decode(b.data, b.len, &d));
	ST_CHECK(entry_eq(&e, &d));
	ST_CHECK(d.ops[1].value[d.ops[1].value_len] == '\0');
	ST_OK(entry_encode(&d, &b2));
	ST_CHECK(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0);
	entry_copy(&c, &d);
	ST_CHECK(entry_eq(&c, &e) && c.ops != d.ops &&
	    c.ops[0].value != d.ops[0].value);
	entry_release(&c);
	ST_CHECK(c.ops == NULL && c.nops == 0);
	entry_release(&d);

	/* Records, with and without a signature. */
	for (i = 0; i < sizeof(sigbuf); i++)
		sigbuf[i] = (uint8_t)(i * 7);
	buf_reset(&b2);
	ST_OK(record_encode(b.data, b.len, sigbuf, sizeof(sigbuf), &b2));
	ST_OK(record_decode(b2.data, b2.len, &ent, &entlen, &sig, &siglen));
	ST_CHECK(entlen == b.len && memcmp(ent, b.data, b.len) == 0);
	ST_CHECK(siglen == RECORD_SIG_LEN && memcmp(sig, sigbuf, 64) == 0);
	for (i = 0; i < b2.len; i++) {
		ST_CHECK(record_decode(b2.data, i, &ent, &entlen, &sig,
		    &siglen) == E_PROTO);
		ST_CHECK(ent == NULL && entlen == 0 && siglen == 0);
	}
	ST_OK(buf_append(&b2, "", 1));
	ST_CHECK(record_decode(b2.data, b2.len, &ent, &entlen, &sig,
	    &siglen) == E_PROTO);
	buf_reset(&b2);
	ST_OK(record_encode(b.data, b.len, NULL, 0, &b2));
	ST_OK(record_decode(b2.data, b2.len, &ent, &entlen, &sig, &siglen));
	ST_CHECK(entlen == b.len && sig == NULL && siglen == 0);
	b2.data[1] = 2;			/* version */
	ST_CHECK(record_decode(b2.data, b2.len, &ent, &entlen, &sig,
	    &siglen) == E_PROTO);
	ST_CHECK(record_encode(b.data, b.len, sigbuf, 63, &b2) == E_INVAL);
	ST_CHECK(record_encode(b.data, 0, NULL, 0, &b2) == E_INVAL);
	/* A 63-byte signature, by hand. */
	{
		struct mp_wr w;

		buf_reset(&b2);
		mp_wr_init(&w, &b2, SIZE_MAX);
		mp_put_array(&w, 3);
		mp_put_uint(&w, 1);
		mp_put_bin(&w, b.data, b.len);
		mp_put_bin(&w, sigbuf, 63);
		ST_OK(mp_wr_finish(&w));
		ST_CHECK(record_decode(b2.data, b2.len, &ent, &entlen, &sig,
		    &siglen) == E_PROTO);
	}

	ST_CHECK(mutate_all(&b) == 0);

	/* Trailing byte, wrong versions. */
	ST_OK(buf_append(&b, "\x00", 1));
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.len--;
	ST_CHECK(dec_expect(&b, 0) == 0);
	b.data[1] = 2;
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.data[1] = 0;
	ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	b.data[1] = 1;

	/* A buffer too small: E_TOOBIG and the buffer is unchanged. */
	buf_release(&b2);
	buf_init(&b2, b.len - 1);
	ST_OK(buf_append(&b2, "ab", 2));
	ST_CHECK(entry_encode(&e, &b2) == E_TOOBIG);
	ST_CHECK(b2.len == 2 && memcmp(b2.data, "ab", 2) == 0);

	buf_release(&b);
	buf_release(&b2);
	entry_release(&e);
	return 0;
}

/* Breaks one rule at a time in an otherwise valid entry. */
static int
encode_rule_tests(void)
{
	struct entry	 e;
	struct buf	 b;
	struct op	*o;
	char		 big[ENTRY_VALUE_MAX + 2];
	size_t		 i;

	buf_init(&b, ENTRY_ENCODED_MAX);
#define BREAK(stmt) do {						\
	sample(&e);							\
	stmt;								\
	ST_CHECK(entry_encode(&e, &b) == E_INVAL);			\
	ST_CHECK(b.len == 0);						\
	entry_release(&e);						\
} while (0)
	BREAK(e.origin[0] = '\0');
	BREAK(e.origin[0] = 'L');
	BREAK(memset(e.origin, 'a', sizeof(e.origin)));
	BREAK(e.seq = 0);
	BREAK(e.hlc = 0);
	BREAK(e.author[0] = '\0');
	BREAK(e.author[1] = '\n');
	BREAK(e.author[1] = '\x7f');
	BREAK(memcpy(e.author, "\xc2\x85", 3));		/* C1 NEL */
	BREAK(memcpy(e.author, "\xc0\xa0", 3));		/* overlong */
	BREAK(e.case_id[0] = 'A');
	BREAK(e.case_id[8] = '0');
	BREAK(e.case_id[35] = '\0');
	BREAK(e.ops[0].path[0] = '\0');
	BREAK(e.ops[0].path[0] = 'P');
	BREAK(e.ops[0].path[0] = '/');
	BREAK(memset(e.ops[0].path, 'a', sizeof(e.ops[0].path)));
	BREAK(e.ops[0].value[2] = '\0');
	BREAK(e.ops[0].value[2] = '\xff');
	BREAK(e.ops[0].value_len = 0);
	BREAK(e.ops[0].base.node[0] = 'c');		/* node, hlc 0 */
	BREAK(e.ops[1].base.node[0] = '\0');		/* hlc, no node */
	BREAK(e.ops[1].nalso = ENTRY_MAX_ALSO + 1);
	BREAK(e.ops[1].also[1].hlc = 0);
	BREAK(e.ops[1].also[0].node[0] = '_');
	BREAK(e.ops[2].evid[0] = '\0');
	BREAK(e.ops[2].evid[0] = '.');
	BREAK(free(e.ops[2].value); e.ops[2].value = NULL);
	BREAK(e.ops[3].to[0] = '\0');
	BREAK(e.ops[3].to[2] = '.');
	BREAK(e.ops[4].base.hlc = 0);			/* node, hlc 0 */
	BREAK(e.ops[4].base.node[0] = '\0');		/* hlc, no node */
	BREAK(e.ops[4].base.node[0] = '_');
	BREAK(e.ops[5].base.node[0] = 'c');
	BREAK(e.ops[4].type = (enum op_type)5);
	BREAK(e.ops[4].type = (enum op_type)0);
	BREAK(for (i = 0; i < e.nops; i++) { free(e.ops[i].value);
	    free(e.ops[i].also); } e.nops = 0);
#undef BREAK

	/* Limits of the lifecycle helpers. */
	entry_init(&e);
	for (i = 0; i < ENTRY_MAX_OPS; i++)
		ST_CHECK(entry_add_op(&e, OP_ERASE) != NULL);
	ST_CHECK(entry_add_op(&e, OP_ERASE) == NULL);
	ST_CHECK(e.nops == ENTRY_MAX_OPS);
	memset(big, '7', sizeof(big));
	ST_CHECK(op_set_value(&e.ops[0], big, ENTRY_VALUE_MAX + 1) ==
	    E_TOOBIG);
	ST_CHECK(e.ops[0].value == NULL);
	ST_OK(op_set_value(&e.ops[0], big, ENTRY_VALUE_MAX));
	ST_OK(op_set_value(&e.ops[0], e.ops[0].value + 1, 3));
	ST_CHECK(e.ops[0].value_len == 3 && strcmp(e.ops[0].value, "777") ==
	    0);
	entry_release(&e);

	/*
	 * 128 SETs of 4096 bytes each are valid one by one, but the whole
	 * encoding passes ENTRY_ENCODED_MAX: E_TOOBIG, buffer unchanged.
	 */
	sample(&e);
	for (i = 0; i < ENTRY_MAX_OPS - 6; i++) {
		o = entry_add_op(&e, OP_SET);
		strlcpy_(o->path, "notes", sizeof(o->path));
		ST_OK(op_set_value(o, big, ENTRY_VALUE_MAX));
	}
	ST_CHECK(entry_encode(&e, &b) == E_TOOBIG && b.len == 0);
	entry_release(&e);
	buf_release(&b);
	return 0;
}

/* Encodings written by hand: limits and exact types. */
static int
decode_rule_tests(void)
{
	struct mp_wr	w;
	struct buf	b;
	char		big[ENTRY_VALUE_MAX + 1];
	size_t		i;

	buf_init(&b, ENTRY_ENCODED_MAX);
	memset(big, 'x', sizeof(big));
#define RAW(want, stmts) do {						\
	buf_reset(&b);							\
	mp_wr_init(&w, &b, ENTRY_ENCODED_MAX);				\
	stmts;								\
	ST_OK(mp_wr_finish(&w));					\
	ST_CHECK(dec_expect(&b, want) == 0);				\
} while (0)
	/* The builders themselves produce a valid entry. */
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 1); raw_set(&w, "1", 1, 0));
	/* Op count: 128 is fine, 129 and 0 are not. */
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 128);
	    for (i = 0; i < 128; i++) {
		mp_put_array(&w, 1); mp_put_uint(&w, OP_ERASE);
	    });
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 129);
	    for (i = 0; i < 129; i++) {
		mp_put_array(&w, 1); mp_put_uint(&w, OP_ERASE);
	    });
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 0));
	/* Value length: 4096 is fine, 4097 and 0 are not. */
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 1);
	    raw_set(&w, big, ENTRY_VALUE_MAX, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    raw_set(&w, big, ENTRY_VALUE_MAX + 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1); raw_set(&w, "", 0, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    raw_set(&w, "\"a\0b\"", 5, 0));
	/* also[]: 16 is fine, 17 is not. */
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 1);
	    raw_set(&w, "1", 1, ENTRY_MAX_ALSO));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    raw_set(&w, "1", 1, ENTRY_MAX_ALSO + 1));
	/* Version, ids. */
	RAW(E_PROTO, raw_head(&w, 2, "aa", CASE_A, 1); raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "Aa", CASE_A, 1); raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "", CASE_A, 1); raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "a_a", CASE_A, 1);
	    raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1,
	    "abcdefghijklmnopqrstuvwxyz0123456", CASE_A, 1);
	    raw_set(&w, "1", 1, 0));
	RAW(0, raw_head(&w, 1, "abcdefghijklmnopqrstuvwxyz-12345", CASE_A,
	    1); raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa",
	    "0190F5A2-7c1e-7b3a-9d2e-4f6a8b0c1d2e", 1);
	    raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa",
	    "0190f5a27c1e-7b3a-9d2e-4f6a8b0c1d2e0", 1);
	    raw_set(&w, "1", 1, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa",
	    "0190f5a2-7c1e-7b3a-9d2e-4f6a8b0c1d2", 1);
	    raw_set(&w, "1", 1, 0));
	/* Op arity and unknown types. */
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_uint(&w, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 1); mp_put_uint(&w, OP_TRANSFER));
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_TRANSFER);
	    mp_put_cstr(&w, "central"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 1); mp_put_uint(&w, 5));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 0));
	/* An erase: [4] or [4, [hlc, node]] with a real stamp, nothing
	 * else. */
	RAW(0, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 7); mp_put_cstr(&w, "aa"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 3); mp_put_uint(&w, OP_ERASE);
	    mp_put_uint(&w, 7); mp_put_cstr(&w, "aa"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 3); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 7); mp_put_cstr(&w, "aa");
	    mp_put_array(&w, 2); mp_put_uint(&w, 8); mp_put_cstr(&w, "aa"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 0); mp_put_cstr(&w, ""));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 7); mp_put_cstr(&w, ""));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 0); mp_put_cstr(&w, "aa"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_uint(&w, 7); mp_put_cstr(&w, "A"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 1); mp_put_uint(&w, 7));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 3); mp_put_uint(&w, 7); mp_put_cstr(&w, "aa");
	    mp_put_uint(&w, 1));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_array(&w, 2); mp_put_cstr(&w, "aa"); mp_put_uint(&w, 7));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_cstr(&w, "aa"));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 2); mp_put_uint(&w, OP_ERASE);
	    mp_put_bin(&w, "\x07" "aa", 3));
	/* A base with an hlc but no node, and a node without an hlc. */
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 6); mp_put_uint(&w, OP_SET);
	    mp_put_cstr(&w, "status"); mp_put_cstr(&w, "1");
	    mp_put_uint(&w, 7); mp_put_cstr(&w, ""); mp_put_array(&w, 0));
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 6); mp_put_uint(&w, OP_SET);
	    mp_put_cstr(&w, "status"); mp_put_cstr(&w, "1");
	    mp_put_uint(&w, 0); mp_put_cstr(&w, "aa"); mp_put_array(&w, 0));
	/* A value as bin instead of str. */
	RAW(E_PROTO, raw_head(&w, 1, "aa", CASE_A, 1);
	    mp_put_array(&w, 6); mp_put_uint(&w, OP_SET);
	    mp_put_cstr(&w, "status"); mp_put_bin(&w, "1", 1);
	    mp_put_uint(&w, 0); mp_put_cstr(&w, ""); mp_put_array(&w, 0));
#undef RAW

	/* Exact integer types and shortest forms, patched by hand. */
	{
		static const uint8_t ok[] = {
		    0x97, 0x01, 0xa2, 'a', 'a', 0x01, 0x01, 0xa1, 'c',
		    0xd9, 36, '0', '1', '9', '0', 'f', '5', 'a', '2', '-',
		    '7', 'c', '1', 'e', '-', '7', 'b', '3', 'a', '-', '9',
		    'd', '2', 'e', '-', '4', 'f', '6', 'a', '8', 'b', '0',
		    'c', '1', 'd', '2', 'e', 0x91, 0x91, 0x04 };
		struct entry e;

		ST_OK(entry_decode(ok, sizeof(ok), &e));
		entry_release(&e);
		buf_reset(&b);
		/* seq as uint8 0x01: not the shortest form. */
		ST_OK(buf_append(&b, ok, 5));
		ST_OK(buf_append(&b, "\xcc\x01", 2));
		ST_OK(buf_append(&b, ok + 6, sizeof(ok) - 6));
		ST_CHECK(dec_expect(&b, E_PROTO) == 0);
		/* seq as int8 (a signed format). */
		b.data[5] = 0xd0;
		ST_CHECK(dec_expect(&b, E_PROTO) == 0);
		/* The case id as str16. */
		buf_reset(&b);
		ST_OK(buf_append(&b, ok, 9));
		ST_OK(buf_append(&b, "\xda\x00", 2));
		ST_OK(buf_append(&b, ok + 10, sizeof(ok) - 10));
		ST_CHECK(dec_expect(&b, E_PROTO) == 0);
		/* The top-level array as array16. */
		buf_reset(&b);
		ST_OK(buf_append(&b, "\xdc\x00\x07", 3));
		ST_OK(buf_append(&b, ok + 1, sizeof(ok) - 1));
		ST_CHECK(dec_expect(&b, E_PROTO) == 0);
		/* An array count beyond the input: refused before
		 * allocation. */
		buf_reset(&b);
		ST_OK(buf_append(&b, ok, sizeof(ok) - 3));
		ST_OK(buf_append(&b, "\xdc\x00\x80\x91\x04", 5));
		ST_CHECK(dec_expect(&b, E_PROTO) == 0);
	}
	buf_release(&b);
	return 0;
}

/* UTF-8 edge cases (RFC 3629) as seen by the value and author rules. */
/* pre ASCII bytes, s, post ASCII bytes, into t (64 bytes); the length. */
static size_t
utf8_framed(char *t, size_t pre, const char *s, size_t post)
{
	size_t n = strlen(s);

	memset(t, 'x', pre);
	memcpy(t + pre, s, n);
	memset(t + pre + n, '"', post);
	return pre + n + post;
}

static int
utf8_tests(void)
{
	static const char *const good[] = {
		"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e",
		"\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xe0\xa0\x80", "\xf0\x90\x80\x80", "\xc2\xa0",
	};
	static const char *const bad[] = {
		"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\x80", "\xc3", "\xe2\x82", "\xc3\x28",
		"\xe2\x28\xac", "\xf0\x9d\x84", "\xff", "\xfe",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ST_CHECK(mp_utf8_valid((const uint8_t *)good[i],
		    strlen(good[i])));
		ST_CHECK(mp_author_valid(good[i]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ST_CHECK(!mp_utf8_valid((const uint8_t *)bad[i],
		    strlen(bad[i])));
		ST_CHECK(!mp_author_valid(bad[i]));
	}
	/* Controls are refused in authors only: C0, DEL, C1. */
	ST_CHECK(!mp_author_valid("a\x1f") && !mp_author_valid("\x7f") &&
	    !mp_author_valid("\xc2\x80") && !mp_author_valid("\xc2\x9f"));
	ST_CHECK(mp_utf8_valid((const uint8_t *)"\n\x7f\xc2\x80", 4));
	/* mp_utf8_valid passes ASCII 8 bytes at a time: each character
	 * is judged the same at every offset from that stride, and after
	 * and before ASCII runs of every length. */
	for (size_t pre = 0; pre < 18; pre++) {
		for (size_t post = 0; post < 10; post++) {
			char	t[64];
			size_t	n;

			for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
				n = utf8_framed(t, pre, good[i], post);
				ST_CHECK(mp_utf8_valid((const uint8_t *)t, n));
			}
			for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
				n = utf8_framed(t, pre, bad[i], post);
				ST_CHECK(!mp_utf8_valid((const uint8_t *)t,
				    n));
			}
		}
	}
	return 0;
}

/*
 * The readers' one-byte forms inline (mp.h) answer as the *_any functions
 * do: the same code, value and position on every input of a few bytes
 * (each first byte, then bytes that are 0, 'a' or beyond), at every
 * length and limit.
 */
static int
mp_inline_tests(void)
{
	static const uint8_t tail[] = { 'a', 0, 0x80, 'b', 'c' };
	uint8_t		 in[8];
	struct mp_rd	 r1, r2;
	char		 d1[40], d2[40];
	size_t		 n1, n2;
	uint64_t	 v1, v2;
	int		 a, b;

	for (unsigned c = 0; c < 256; c++) {
		for (size_t t = 0; t < sizeof(tail); t++) {
			in[0] = (uint8_t)c;
			for (size_t k = 1; k < sizeof(in); k++)
				in[k] = tail[(t + k) % sizeof(tail)];
			for (size_t len = 0; len <= sizeof(in); len++) {
				mp_rd_init(&r1, in, len);
				mp_rd_init(&r2, in, len);
				a = mp_read_array(&r1, &n1);
				b = mp_read_array_any(&r2, &n2);
				ST_CHECK(a == b && (a != 0 ||
				    (n1 == n2 && r1.off == r2.off)));
				mp_rd_init(&r1, in, len);
				mp_rd_init(&r2, in, len);
				a = mp_read_uint(&r1, &v1);
				b = mp_read_uint_any(&r2, &v2);
				ST_CHECK(a == b && (a != 0 ||
				    (v1 == v2 && r1.off == r2.off)));
				for (size_t max = 0; max < 8; max++) {
					mp_rd_init(&r1, in, len);
					mp_rd_init(&r2, in, len);
					a = mp_read_cstr(&r1, d1, max);
					b = mp_read_cstr_any(&r2, d2, max);
					ST_CHECK(a == b && (a != 0 ||
					    (strcmp(d1, d2) == 0 &&
					    r1.off == r2.off)));
				}
			}
		}
	}
	return 0;
}

int
entry_selftest(void)
{
	if (roundtrip_tests() != 0 || encode_rule_tests() != 0 ||
	    decode_rule_tests() != 0 || utf8_tests() != 0 ||
	    mp_inline_tests() != 0)
		return 1;
	return 0;
}
#endif

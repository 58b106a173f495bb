/*
 * mp.c - the strict msgpack reader, the bounded writer and the identifier
 * rules shared by entry.c and state.c.  See mp.h.
 *
 * Decoding is hand-rolled on purpose: msgpack-c's unpacker allocates from a
 * zone in proportion to the counts the input declares, before anything can
 * check them, and it accepts every integer and length encoding.  Our reader
 * accepts exactly one encoding per value (the shortest, which is also what
 * msgpack-c's packer writes), so decode followed by encode gives back the
 * input byte for byte: signatures and state comparisons stay meaningful.
 */
#include "mp.h"
#include "entry.h"

#include "../common/err.h"
#include "../common/util.h"

#include <msgpack.h>
#include <string.h>

void
mp_rd_init(struct mp_rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

int
mp_rd_end(const struct mp_rd *r)
{
	return r->off == r->len ? 0 : E_PROTO;
}

/* Reads a big-endian integer of n bytes (1, 2, 4 or 8). */
static int
rd_be(struct mp_rd *r, size_t n, uint64_t *v)
{
	uint64_t	x = 0;
	size_t		i;

	if (r->len - r->off < n)
		return E_PROTO;
	for (i = 0; i < n; i++)
		x = (x << 8) | r->p[r->off + i];
	r->off += n;
	*v = x;
	return 0;
}

static int
rd_byte(struct mp_rd *r, uint8_t *c)
{
	if (r->off >= r->len)
		return E_PROTO;
	*c = r->p[r->off++];
	return 0;
}

/*
 * Reads the length that follows a str/bin/array tag of width n bytes and
 * checks that no shorter form could have carried it (min is the smallest
 * value that needs this width).
 */
static int
rd_len(struct mp_rd *r, size_t n, uint64_t min, size_t *out)
{
	uint64_t v;

	if (rd_be(r, n, &v) != 0 || v < min || v > SIZE_MAX)
		return E_PROTO;
	*out = (size_t)v;
	return 0;
}

int
mp_read_array_any(struct mp_rd *r, size_t *n)
{
	uint8_t	c;
	size_t	v;

	if (rd_byte(r, &c) != 0)
		return E_PROTO;
	if ((c & 0xf0) == 0x90)
		v = c & 0x0f;
	else if (c == 0xdc) {
		if (rd_len(r, 2, 16, &v) != 0)
			return E_PROTO;
	} else if (c == 0xdd) {
		if (rd_len(r, 4, 0x10000, &v) != 0)
			return E_PROTO;
	} else
		return E_PROTO;
	/* Each element needs a byte at least: refuse impossible counts
	 * before anyone allocates for them. */
	if (v > r->len - r->off)
		return E_PROTO;
	*n = v;
	return 0;
}

int
mp_read_array_n(struct mp_rd *r, size_t n)
{
	size_t got;

	if (mp_read_array(r, &got) != 0 || got != n)
		return E_PROTO;
	return 0;
}

int
mp_read_uint_any(struct mp_rd *r, uint64_t *v)
{
	uint8_t		c;
	uint64_t	x;

	if (rd_byte(r, &c) != 0)
		return E_PROTO;
	if (c <= 0x7f) {
		*v = c;
		return 0;
	}
	switch (c) {
	case 0xcc:
		if (rd_be(r, 1, &x) != 0 || x < 0x80)
			return E_PROTO;
		break;
	case 0xcd:
		if (rd_be(r, 2, &x) != 0 || x < 0x100)
			return E_PROTO;
		break;
	case 0xce:
		if (rd_be(r, 4, &x) != 0 || x < 0x10000)
			return E_PROTO;
		break;
	case 0xcf:
		if (rd_be(r, 8, &x) != 0 || x < UINT64_C(0x100000000))
			return E_PROTO;
		break;
	default:
		return E_PROTO;
	}
	*v = x;
	return 0;
}

/* Reads n payload bytes, borrowed. */
static int
rd_body(struct mp_rd *r, size_t n, const uint8_t **b)
{
	if (n > r->len - r->off)
		return E_PROTO;
	*b = r->p + r->off;
	r->off += n;
	return 0;
}

int
mp_read_str(struct mp_rd *r, const char **s, size_t *n)
{
	const uint8_t	*b;
	uint8_t		 c;
	size_t		 v;

	if (rd_byte(r, &c) != 0)
		return E_PROTO;
	if ((c & 0xe0) == 0xa0)
		v = c & 0x1f;
	else if (c == 0xd9) {
		if (rd_len(r, 1, 32, &v) != 0)
			return E_PROTO;
	} else if (c == 0xda) {
		if (rd_len(r, 2, 0x100, &v) != 0)
			return E_PROTO;
	} else if (c == 0xdb) {
		if (rd_len(r, 4, 0x10000, &v) != 0)
			return E_PROTO;
	} else
		return E_PROTO;
	if (rd_body(r, v, &b) != 0)
		return E_PROTO;
	*s = (const char *)b;
	*n = v;
	return 0;
}

int
mp_read_bin(struct mp_rd *r, const uint8_t **b, size_t *n)
{
	uint8_t	c;
	size_t	v;

	if (rd_byte(r, &c) != 0)
		return E_PROTO;
	if (c == 0xc4) {
		if (rd_len(r, 1, 0, &v) != 0)
			return E_PROTO;
	} else if (c == 0xc5) {
		if (rd_len(r, 2, 0x100, &v) != 0)
			return E_PROTO;
	} else if (c == 0xc6) {
		if (rd_len(r, 4, 0x10000, &v) != 0)
			return E_PROTO;
	} else
		return E_PROTO;
	if (rd_body(r, v, b) != 0)
		return E_PROTO;
	*n = v;
	return 0;
}

int
mp_read_cstr_any(struct mp_rd *r, char *dst, size_t maxlen)
{
	const char	*s;
	size_t		 n;

	if (mp_read_str(r, &s, &n) != 0 || n > maxlen ||
	    memchr(s, '\0', n) != NULL)
		return E_PROTO;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int
mp_read_stamp(struct mp_rd *r, struct stamp *st, int optional)
{
	if (mp_read_uint(r, &st->hlc) != 0 ||
	    mp_read_cstr(r, st->node, HLC_NODE_MAX) != 0 ||
	    !mp_stamp_valid(st, optional))
		return E_PROTO;
	return 0;
}

/*
 * The packer's write callback.  Only the first error counts; later writes
 * are dropped so that the buffer never holds a torn item after an error
 * that a later, smaller write could have hidden.
 */
static int
wr_cb(void *data, const char *p, size_t n)
{
	struct mp_wr	*w = data;
	int		 rc;

	if (w->err != 0)
		return -1;
	if (n > w->max || w->b->len - w->start > w->max - n) {
		w->err = E_TOOBIG;
		return -1;
	}
	if ((rc = buf_append(w->b, p, n)) != 0) {
		w->err = rc;
		return -1;
	}
	return 0;
}

void
mp_wr_init(struct mp_wr *w, struct buf *b, size_t max)
{
	w->b = b;
	w->start = b->len;
	w->max = max;
	w->err = 0;
}

void
mp_put_array(struct mp_wr *w, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, w, wr_cb);
	(void)msgpack_pack_array(&pk, n);
}

void
mp_put_nil(struct mp_wr *w)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, w, wr_cb);
	(void)msgpack_pack_nil(&pk);
}

void
mp_put_uint(struct mp_wr *w, uint64_t v)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, w, wr_cb);
	(void)msgpack_pack_uint64(&pk, v);
}

void
mp_put_str(struct mp_wr *w, const char *s, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, w, wr_cb);
	(void)msgpack_pack_str(&pk, n);
	(void)msgpack_pack_str_body(&pk, s, n);
}

void
mp_put_cstr(struct mp_wr *w, const char *s)
{
	mp_put_str(w, s, strlen(s));
}

void
mp_put_bin(struct mp_wr *w, const void *p, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, w, wr_cb);
	(void)msgpack_pack_bin(&pk, n);
	(void)msgpack_pack_bin_body(&pk, p, n);
}

void
mp_put_stamp(struct mp_wr *w, const struct stamp *st)
{
	mp_put_uint(w, st->hlc);
	mp_put_cstr(w, st->node);
}

int
mp_wr_finish(struct mp_wr *w)
{
	if (w->err != 0)
		w->b->len = w->start;
	return w->err;
}

int
mp_cstr_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/*
 * Decodes one UTF-8 sequence at p (n bytes left) into *cp.  Returns its
 * length, or 0 when it is malformed: truncated, overlong, a surrogate or
 * beyond U+10FFFF (the ranges of RFC 3629, section 4).
 */
static size_t
utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t	c = p[0], lo = 0x80, hi = 0xbf;
	size_t	len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	return len;
}

/*
 * Values are JSON text, mostly ASCII: runs of ASCII are passed 8 bytes at
 * a time (no byte with its high bit set), and only the other characters
 * decoded one by one.
 */
int
mp_utf8_valid(const uint8_t *p, size_t n)
{
	uint64_t	w;
	uint32_t	cp;
	size_t		i = 0, l;

	while (i < n) {
		while (n - i >= sizeof(w)) {
			memcpy(&w, p + i, sizeof(w));
			if ((w & 0x8080808080808080ULL) != 0)
				break;
			i += sizeof(w);
		}
		if (i == n)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_next(p + i, n - i, &cp)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

/*
 * The characters of a field path (P) and of an event id (E), by byte.
 * Every case state holds some 40 paths and ids, checked on every load and
 * save: a table look-up per character instead of four range tests.
 */
#define CH_P	1
#define CH_E	2
static const uint8_t id_chars[256] = {
	['-'] = CH_E, ['.'] = CH_P, ['_'] = CH_P | CH_E,
	['0'] = CH_P | CH_E, ['1'] = CH_P | CH_E, ['2'] = CH_P | CH_E,
	['3'] = CH_P | CH_E, ['4'] = CH_P | CH_E, ['5'] = CH_P | CH_E,
	['6'] = CH_P | CH_E, ['7'] = CH_P | CH_E, ['8'] = CH_P | CH_E,
	['9'] = CH_P | CH_E,
	['A'] = CH_E, ['B'] = CH_E, ['C'] = CH_E, ['D'] = CH_E, ['E'] = CH_E,
	['F'] = CH_E, ['G'] = CH_E, ['H'] = CH_E, ['I'] = CH_E, ['J'] = CH_E,
	['K'] = CH_E, ['L'] = CH_E, ['M'] = CH_E, ['N'] = CH_E, ['O'] = CH_E,
	['P'] = CH_E, ['Q'] = CH_E, ['R'] = CH_E, ['S'] = CH_E, ['T'] = CH_E,
	['U'] = CH_E, ['V'] = CH_E, ['W'] = CH_E, ['X'] = CH_E, ['Y'] = CH_E,
	['Z'] = CH_E,
	['a'] = CH_P | CH_E, ['b'] = CH_P | CH_E, ['c'] = CH_P | CH_E,
	['d'] = CH_P | CH_E, ['e'] = CH_P | CH_E, ['f'] = CH_P | CH_E,
	['g'] = CH_P | CH_E, ['h'] = CH_P | CH_E, ['i'] = CH_P | CH_E,
	['j'] = CH_P | CH_E, ['k'] = CH_P | CH_E, ['l'] = CH_P | CH_E,
	['m'] = CH_P | CH_E, ['n'] = CH_P | CH_E, ['o'] = CH_P | CH_E,
	['p'] = CH_P | CH_E, ['q'] = CH_P | CH_E, ['r'] = CH_P | CH_E,
	['s'] = CH_P | CH_E, ['t'] = CH_P | CH_E, ['u'] = CH_P | CH_E,
	['v'] = CH_P | CH_E, ['w'] = CH_P | CH_E, ['x'] = CH_P | CH_E,
	['y'] = CH_P | CH_E, ['z'] = CH_P | CH_E,
};

/* 1..max characters of class ch, then the NUL. */
static int
id_valid(const char *s, unsigned ch, size_t max)
{
	size_t n;

	for (n = 0; id_chars[(uint8_t)s[n]] & ch; n++)
		if (n == max)
			return 0;
	return s[n] == '\0' && n >= 1;
}

int
mp_path_valid(const char *s)
{
	return id_valid(s, CH_P, ENTRY_PATH_MAX);
}

int
mp_evid_valid(const char *s)
{
	return id_valid(s, CH_E, ENTRY_EVID_MAX);
}

int
mp_case_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < ENTRY_CASE_ID_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
	}
	return s[ENTRY_CASE_ID_LEN] == '\0';
}

int
mp_author_valid(const char *s)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 n = strlen(s), i, l;
	uint32_t	 cp;

	if (n < 1 || n > ENTRY_AUTHOR_MAX)
		return 0;
	for (i = 0; i < n; i += l) {
		if ((l = utf8_next(p + i, n - i, &cp)) == 0)
			return 0;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
	}
	return 1;
}

int
mp_stamp_valid(const struct stamp *st, int optional)
{
	if (!mp_cstr_ok(st->node, sizeof(st->node)))
		return 0;
	if (st->hlc == 0)
		return optional && st->node[0] == '\0';
	return node_id_valid(st->node);
}

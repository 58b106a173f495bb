/*
 * fuzz_op.c - libFuzzer target for schema_check_op(), the schema check
 * that every apply runs on every op of a change entry, local or remote:
 * after the codec, it is the last decoder between a peer and the case
 * table.
 *
 * The input is one op:  type byte, then path (or the new owner of a
 * transfer), NUL, event id, NUL, value (the op's JSON text).  The check
 * must never crash; what it accepts must be accepted again after a trip
 * through the entry codec (the form in which a peer receives it), and
 * offer_check (central's authorisation of referral offers and answers)
 * must give a verdict on it, with a reason when it refuses, against a
 * case that has an offer waiting.
 * Anything else is a bug: abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of proto/ and common/,
 * node/schema.c and node/provinces.c, and $(pkg-config --libs msgpack
 * libcrypto libcjson); run on tests/fuzz/corpus/op (tests/fuzz/run.sh
 * does both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/offer.h"
#include "node/schema.h"
#include "proto/entry.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Copies the next NUL-terminated piece of [*p, end) into dst (size sz),
 * truncating; advances *p past the NUL. */
static void
piece(const uint8_t **p, const uint8_t *end, char *dst, size_t sz)
{
	const uint8_t	*nul = memchr(*p, '\0', (size_t)(end - *p));
	size_t		 n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);

	if (n >= sz)
		n = sz - 1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p = nul ? nul + 1 : end;
}

/* offer_check on a case of lao-cai with an offer to ha-noi waiting, as
 * written by each of them: a verdict, and a reason with every refusal. */
static void
offer_verdict(const struct entry *e)
{
	static const char	 v[] = "{\"from\":\"lao-cai\",\"to\":"
				    "\"ha-noi\",\"on\":\"2026-12-01\","
				    "\"status\":\"proposed\"}";
	static const char *const origins[] = { "lao-cai", "ha-noi", "central" };
	struct case_state	 s;
	struct event		 ev;
	enum offer_kind		 k;
	char			 why[200];

	state_init(&s, "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011");
	strlcpy_(s.owner, "lao-cai", sizeof(s.owner));
	s.owner_st.hlc = 1;
	strlcpy_(s.owner_st.node, "lao-cai", sizeof(s.owner_st.node));
	memset(&ev, 0, sizeof(ev));
	strlcpy_(ev.coll, "referrals", sizeof(ev.coll));
	strlcpy_(ev.id, "r-1", sizeof(ev.id));
	ev.st.hlc = 2;
	strlcpy_(ev.st.node, "lao-cai", sizeof(ev.st.node));
	ev.value = (uint8_t *)(uintptr_t)v;
	ev.value_len = sizeof(v) - 1;
	s.events = &ev;
	s.nevents = 1;
	if (!offer_pending_to(&s, "ha-noi"))
		abort();
	for (size_t i = 0; i < 3; i++) {
		int rc = offer_check(&s, e, origins[i], i == 2, &k, why,
		    sizeof(why));

		if ((rc != 0 && (rc != E_AUTH || why[0] == '\0')) ||
		    k > OFFER_DECLINE)
			abort();
	}
	s.events = NULL;
	s.nevents = 0;
	state_release(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entry	 e, d;
	struct op	*o;
	struct buf	 b;
	const uint8_t	*p = data + 1, *end = data + size;
	char		 why[160], small[8];
	int		 rc;

	if (size < 1 || size > 2 * ENTRY_VALUE_MAX)
		return 0;
	entry_init(&e);
	o = entry_add_op(&e, (enum op_type)(data[0] % 5 + 1));
	piece(&p, end, o->path, sizeof(o->path));
	memcpy(o->to, o->path, sizeof(o->to) - 1);
	o->to[sizeof(o->to) - 1] = '\0';
	piece(&p, end, o->evid, sizeof(o->evid));
	if (o->type == OP_SET || o->type == OP_EVENT)
		op_set_value(o, (const char *)p, (size_t)(end - p));
	rc = schema_check_op(o, why, sizeof(why));
	if (rc != 0 && (rc != E_INVAL || why[0] == '\0'))
		abort();
	/* A short error buffer is only truncated. */
	if (schema_check_op(o, small, sizeof(small)) != rc ||
	    memchr(small, '\0', sizeof(small)) == NULL)
		abort();
	if (rc != 0 || o->type > OP_ERASE) {
		entry_release(&e);
		return 0;
	}
	strlcpy_(e.origin, "lao-cai", sizeof(e.origin));
	strlcpy_(e.author, "fuzz", sizeof(e.author));
	strlcpy_(e.case_id, "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011",
	    sizeof(e.case_id));
	e.seq = 1;
	e.hlc = 1;
	buf_init(&b, ENTRY_ENCODED_MAX);
	if (entry_encode(&e, &b) == 0) {
		if (entry_decode(b.data, b.len, &d) != 0 || d.nops != 1 ||
		    schema_check_op(&d.ops[0], why, sizeof(why)) != 0)
			abort();
		entry_release(&d);
	}
	buf_release(&b);
	offer_verdict(&e);
	entry_release(&e);
	return 0;
}

/*
 * fuzz_state.c - libFuzzer target for state_decode() and
 * state_decode_v1().
 *
 * The encoding is canonical, so whatever the decoder accepts must encode
 * back to exactly the input, and decoding that again must give the same
 * bytes.  What the reader of encoding 1 (the store migration's) accepts
 * must encode in encoding 2 and read back to the same bytes.  Anything
 * else is a codec bug: abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of proto/ and common/ and
 * $(pkg-config --libs msgpack libcrypto); run on tests/fuzz/corpus/state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/state.h"
#include "common/buf.h"
#include "common/err.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Encoding 1: the migration reads it, state_encode writes it again. */
static void
v1(const uint8_t *data, size_t size)
{
	struct case_state	s, s2;
	struct buf		b, b2;
	int			rc;

	rc = state_decode_v1(data, size, &s);
	if (rc != 0) {
		if (rc != E_PROTO || s.fields != NULL || s.nfields != 0 ||
		    s.events != NULL || s.nevents != 0)
			abort();
		return;
	}
	buf_init(&b, STATE_ENCODED_MAX);
	buf_init(&b2, STATE_ENCODED_MAX);
	if (state_encode(&s, &b) != 0 ||
	    state_decode(b.data, b.len, &s2) != 0 ||
	    state_encode(&s2, &b2) != 0 || b2.len != b.len ||
	    memcmp(b2.data, b.data, b.len) != 0)
		abort();
	state_release(&s);
	state_release(&s2);
	buf_release(&b);
	buf_release(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct case_state	s, s2, c;
	struct buf		b, b2;
	int			rc;

	v1(data, size);
	rc = state_decode(data, size, &s);
	if (rc != 0) {
		/* A refused input leaves nothing behind. */
		if (rc != E_PROTO || s.fields != NULL || s.nfields != 0 ||
		    s.events != NULL || s.nevents != 0)
			abort();
		return 0;
	}
	buf_init(&b, STATE_ENCODED_MAX);
	buf_init(&b2, STATE_ENCODED_MAX);
	if (state_encode(&s, &b) != 0 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	if (state_decode(b.data, b.len, &s2) != 0 ||
	    state_encode(&s2, &b2) != 0 || b2.len != b.len ||
	    memcmp(b2.data, b.data, b.len) != 0)
		abort();
	/* A deep copy encodes the same and outlives the original. */
	state_copy(&c, &s);
	state_release(&s);
	buf_reset(&b2);
	if (state_encode(&c, &b2) != 0 || b2.len != b.len ||
	    memcmp(b2.data, b.data, b.len) != 0)
		abort();
	state_release(&c);
	state_release(&s2);
	buf_release(&b);
	buf_release(&b2);
	return 0;
}

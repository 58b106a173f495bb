/*
 * fuzz_entry.c - libFuzzer target for entry_decode() and record_decode().
 *
 * The codec is canonical, so whatever the decoder accepts must encode back
 * to exactly the input, and decoding that again must give the same bytes.
 * The digest a signature covers, hashed from the input (node/sign.c), must
 * equal the digest of the signed form encoded again.
 * Anything else is a codec bug: abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of proto/ and common/ and
 * $(pkg-config --libs msgpack libcrypto); run on tests/fuzz/corpus/entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/entry.h"
#include "node/sign.h"
#include "common/buf.h"
#include "common/err.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_entry(const uint8_t *data, size_t size)
{
	struct entry	e, e2, c;
	struct buf	b, b2;
	int		rc;

	rc = entry_decode(data, size, &e);
	if (rc != 0) {
		/* A refused input leaves nothing behind. */
		if (rc != E_PROTO || e.ops != NULL || e.nops != 0)
			abort();
		return;
	}
	buf_init(&b, ENTRY_ENCODED_MAX);
	buf_init(&b2, ENTRY_ENCODED_MAX);
	if (entry_encode(&e, &b) != 0 || b.len != size ||
	    memcmp(b.data, data, size) != 0)
		abort();
	{
		uint8_t d1[CRYPTO_HASH], d2[CRYPTO_HASH];

		/* The signature's digest hashed from the received bytes is
		 * the digest of the signed form encoded again. */
		if (sign_digest(NULL, &e, data, size, d1) != 0 ||
		    sign_digest(NULL, &e, NULL, 0, d2) != 0 ||
		    memcmp(d1, d2, sizeof(d1)) != 0)
			abort();
	}
	if (entry_decode(b.data, b.len, &e2) != 0 ||
	    entry_encode(&e2, &b2) != 0 || b2.len != b.len ||
	    memcmp(b2.data, b.data, b.len) != 0)
		abort();
	/* A deep copy encodes the same and outlives the original. */
	entry_copy(&c, &e);
	entry_release(&e);
	buf_reset(&b2);
	if (entry_encode(&c, &b2) != 0 || b2.len != b.len ||
	    memcmp(b2.data, b.data, b.len) != 0)
		abort();
	entry_release(&c);
	entry_release(&e2);
	buf_release(&b);
	buf_release(&b2);
}

static void
check_record(const uint8_t *data, size_t size)
{
	const uint8_t	*ent, *sig;
	size_t		 entlen, siglen;
	struct buf	 b;

	if (record_decode(data, size, &ent, &entlen, &sig, &siglen) != 0)
		return;
	if (entlen < 1 || entlen > ENTRY_ENCODED_MAX || ent < data ||
	    ent + entlen > data + size ||
	    (siglen != 0 && siglen != RECORD_SIG_LEN) ||
	    (siglen != 0 && (sig < data || sig + siglen > data + size)))
		abort();
	buf_init(&b, size);
	if (record_encode(ent, entlen, sig, siglen, &b) != 0 ||
	    b.len != size || memcmp(b.data, data, size) != 0)
		abort();
	buf_release(&b);
	check_entry(ent, entlen);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_entry(data, size);
	check_record(data, size);
	return 0;
}

/*
 * fuzz_schema.c - libFuzzer target for schema_ops_from_json() and
 * schema_ops_from_export(): the case JSON that `case add`, `case update`
 * and `import` read from users and files.
 *
 * Whatever the schema accepts must be something every node accepts in
 * turn: each op it produces passes schema_check_op() (the check every
 * apply runs, local or remote), and the ops fit an entry that the codec
 * encodes and decodes back unchanged.  A refusal must come with a message.
 * Anything else is a bug: abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of proto/ and common/,
 * node/schema.c and node/provinces.c, and $(pkg-config --libs msgpack
 * libcrypto libcjson); run on tests/fuzz/corpus/schema (tests/fuzz/run.sh
 * does both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/schema.h"
#include "proto/entry.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const uint8_t *data, size_t size, int from_export)
{
	struct entry	 e, d;
	struct buf	 b, b2;
	char		 id[ENTRY_CASE_ID_LEN + 1], err[256], why[256];
	int		 rc;

	entry_init(&e);
	memset(id, 'X', sizeof(id));
	rc = (from_export ? schema_ops_from_export : schema_ops_from_json)(
	    (const char *)data, size, &e, id, err, sizeof(err));
	if (rc != 0) {
		if ((rc != E_INVAL && rc != E_TOOBIG) || err[0] == '\0' ||
		    memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		entry_release(&e);
		return;
	}
	if (e.nops == 0 || e.nops > ENTRY_MAX_OPS ||
	    (id[0] != '\0' && !uuid_valid(id)))
		abort();
	for (size_t i = 0; i < e.nops; i++) {
		if (schema_check_op(&e.ops[i], why, sizeof(why)) != 0)
			abort();
	}
	/* The ops fit an entry the codec takes, and survive a round trip. */
	strlcpy_(e.origin, "lao-cai", sizeof(e.origin));
	strlcpy_(e.author, "fuzz", sizeof(e.author));
	strlcpy_(e.case_id, id[0] ? id : "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011",
	    sizeof(e.case_id));
	e.seq = 1;
	e.hlc = 1;
	buf_init(&b, ENTRY_ENCODED_MAX);
	buf_init(&b2, ENTRY_ENCODED_MAX);
	if (entry_encode(&e, &b) != 0 || entry_decode(b.data, b.len, &d) != 0)
		abort();
	for (size_t i = 0; i < d.nops; i++) {
		if (schema_check_op(&d.ops[i], why, sizeof(why)) != 0)
			abort();
	}
	if (entry_encode(&d, &b2) != 0 || b2.len != b.len ||
	    memcmp(b.data, b2.data, b.len) != 0)
		abort();
	entry_release(&d);
	entry_release(&e);
	buf_release(&b);
	buf_release(&b2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0);
	check(data, size, 1);
	return 0;
}

/*
 * fuzz_cfg.c - libFuzzer target for cfg_parse(), the reader of
 * casesync.conf.
 *
 * The input is parsed against a copy of node/nodecfg.c's key table and
 * against a table with extreme limits.  On success every value must be set
 * (from the file or its default), a number must lie in [min, max] and a
 * string's length in [min, max]; on failure the message must be a
 * NUL-terminated "name:..." that fits its buffer, also a tiny one.
 * Anything else is a bug: abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory, linking every .c file of common/; run on
 * tests/fuzz/corpus/cfg (tests/fuzz/run.sh does both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/err.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* node/nodecfg.c's table (it is static there). */
static const struct cfg_key node_keys[] = {
	{ "node", CFG_STR, 1, 32, NULL },
	{ "role", CFG_STR, 1, 15, NULL },
	{ "listen", CFG_STR, 0, 127, "" },
	{ "central", CFG_STR, 0, 127, "" },
	{ "skew_ms", CFG_U64, 1000, 7ULL * 86400000, "300000" },
	{ "test_clock_offset_ms", CFG_STR, 1, 20, "0" },
	{ "log_level", CFG_STR, 1, 8, "info" },
	{ "sync_timeout", CFG_U64, 1, 86400, "60" },
	{ "heartbeat_ms", CFG_U64, 100, 600000, "2000" },
	{ "keep_transferred", CFG_STR, 2, 3, "yes" },
};

/* Limits at the edges: the whole u64 range, the longest string. */
static const struct cfg_key edge_keys[] = {
	{ "a", CFG_U64, 0, UINT64_MAX, "0" },
	{ "b", CFG_STR, 0, CFG_VALUE_MAX - 1, "" },
	{ "c", CFG_STR, 0, CFG_VALUE_MAX + 100, "" },
	{ "d", CFG_U64, 5, 5, "5" },
};

static void
check(const struct cfg_key *keys, size_t nkeys, const uint8_t *data,
    size_t size, size_t errsz)
{
	struct cfg_val	 vals[16];
	char		 err[512];
	int		 rc;

	memset(err, 'X', sizeof(err));
	rc = cfg_parse(keys, nkeys, (const char *)data, size, "f", vals, err,
	    errsz);
	if (rc != 0) {
		if (rc != E_INVAL || memchr(err, '\0', errsz) == NULL ||
		    (errsz > 2 && err[0] != 'f'))
			abort();
		/* Nothing is written past errsz. */
		for (size_t i = errsz; i < sizeof(err); i++)
			if (err[i] != 'X')
				abort();
		return;
	}
	for (size_t i = 0; i < nkeys; i++) {
		const struct cfg_val *v = &vals[i];
		size_t n = strnlen(v->str, sizeof(v->str));

		if (n == sizeof(v->str))
			abort();
		if (keys[i].type == CFG_U64 &&
		    (v->u64 < keys[i].min || v->u64 > keys[i].max))
			abort();
		if (keys[i].type == CFG_STR &&
		    (n < keys[i].min || n > keys[i].max))
			abort();
		if (v->set && keys[i].def == NULL && n == 0 &&
		    keys[i].min > 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* cfg_load reads at most CFG_FILE_MAX bytes. */
	if (size > CFG_FILE_MAX)
		return 0;
	check(node_keys, NELEM(node_keys), data, size, 512);
	check(edge_keys, NELEM(edge_keys), data, size, 512);
	check(node_keys, NELEM(node_keys), data, size, 7);
	return 0;
}

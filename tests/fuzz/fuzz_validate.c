/*
 * fuzz_validate.c - libFuzzer target: schema_check_op() against
 * schema_check_op_cjson().
 *
 * schema_check_op checks the common values (null, an integer, a string
 * without escapes) on their bytes, and accepts on their bytes the event
 * objects and enumeration sets that are plainly valid and canonical; it
 * leaves the rest, and every refusal of those two, to the cJSON path,
 * which parses the value and compares it with its canonical form.  The
 * two must always agree: the same answer and, on a refusal, the same
 * reason (central stores it and the province shows it).  The first input
 * byte picks the op (bit 7: an event of a collection named by the next
 * bytes up to a NUL, else a set of the field schema_field_path gives for
 * the byte's low bits), the rest is the value.  A disagreement is a bug:
 * abort() so that libFuzzer keeps the input.
 *
 * Build with clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 * from the top directory (tests/fuzz/run.sh does it); run on
 * tests/fuzz/corpus/validate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/schema.h"
#include "proto/entry.h"
#include "common/util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct op	 o;
	char		 e1[256], e2[256];
	size_t		 n = 0, i;
	int		 r1, r2;

	if (size < 1)
		return 0;
	memset(&o, 0, sizeof(o));
	data++;
	size--;
	if (data[-1] & 0x80) {
		o.type = OP_EVENT;
		for (i = 0; i < size && data[i] != '\0' &&
		    i < ENTRY_PATH_MAX; i++)
			o.path[i] = (char)data[i];
		if (i < size)
			i++;
		strlcpy_(o.evid, "ev-1", sizeof(o.evid));
		data += i;
		size -= i;
	} else {
		o.type = OP_SET;
		while (schema_field_path(n, o.path, sizeof(o.path)) == 0)
			n++;
		if (n == 0 || schema_field_path((data[-1] & 0x7f) % n,
		    o.path, sizeof(o.path)) != 0)
			abort();
	}
	if (size > ENTRY_VALUE_MAX + 1)
		size = ENTRY_VALUE_MAX + 1;
	o.value = xmalloc(size + 1);
	if (size > 0)
		memcpy(o.value, data, size);
	o.value[size] = '\0';
	o.value_len = size;
	memset(e1, 'X', sizeof(e1));
	memset(e2, 'Y', sizeof(e2));
	r1 = schema_check_op(&o, e1, sizeof(e1));
	r2 = schema_check_op_cjson(&o, e2, sizeof(e2));
	if (r1 != r2 || strcmp(e1, e2) != 0)
		abort();
	free(o.value);
	return 0;
}

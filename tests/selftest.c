/*
 * selftest.c - runs every module's selftest (built with -DSELFTEST under
 * AddressSanitizer and UBSan).  A selftest listed here but not linked in
 * counts as failed: a missing test must never pass silently.
 */
#include <stdio.h>
#include <string.h>

#define T(name) int name(void) __attribute__((weak));
#include "selftests.def"
#undef T

struct test {
	const char	*name;
	int		(*fn)(void);
};

static const struct test tests[] = {
#define T(name) { #name, name },
#include "selftests.def"
#undef T
};

int
main(int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (argc > 1 && strstr(tests[i].name, argv[1]) == NULL)
			continue;
		if (tests[i].fn == NULL) {
			printf("FAIL %s (not linked)\n", tests[i].name);
			failed++;
		} else if (tests[i].fn() != 0) {
			printf("FAIL %s\n", tests[i].name);
			failed++;
		} else {
			printf("ok   %s\n", tests[i].name);
			passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

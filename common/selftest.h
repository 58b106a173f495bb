/*
 * selftest.h - tiny assertion macros for the SELFTEST functions that sit at
 * the end of each module.  A failed check prints where and returns 1 from
 * the selftest function.
 */
#ifndef CASESYNC_SELFTEST_H
#define CASESYNC_SELFTEST_H

#include <stdio.h>

#define ST_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__,		\
		    __LINE__, #cond);					\
		return 1;						\
	}								\
} while (0)

#define ST_OK(expr) do {						\
	int st_rc_ = (expr);						\
	if (st_rc_ != 0) {						\
		fprintf(stderr, "  FAIL %s:%d: %s returned %d\n",	\
		    __FILE__, __LINE__, #expr, st_rc_);			\
		return 1;						\
	}								\
} while (0)

#endif

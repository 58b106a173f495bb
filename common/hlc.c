#include "hlc.h"
#include "err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void
hlc_init(struct hlc *h, uint64_t last, uint64_t skew_ms)
{
	h->last = last;
	h->skew_ms = skew_ms;
}

int
hlc_now(struct hlc *h, uint64_t wall_ms, uint64_t *out)
{
	uint64_t	wall = HLC_MAKE(wall_ms & 0xffffffffffffULL, 0);

	if (wall > h->last) {
		h->last = wall;
	} else {
		if (HLC_CTR(h->last) == 0xffff)
			return E_TOOBIG;
		h->last++;
	}
	*out = h->last;
	return 0;
}

int
hlc_check_skew(uint64_t remote, uint64_t wall_ms, uint64_t skew_ms)
{
	return HLC_MS(remote) <= wall_ms + skew_ms;
}

int
hlc_update(struct hlc *h, uint64_t remote, uint64_t wall_ms)
{
	if (!hlc_check_skew(remote, wall_ms, h->skew_ms))
		return E_INVAL;
	if (remote > h->last)
		h->last = remote;
	return 0;
}

int
stamp_cmp(const struct stamp *a, const struct stamp *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	return strcmp(a->node, b->node);
}

void
hlc_format(uint64_t hlc, char *buf, unsigned size)
{
	uint64_t	ms = HLC_MS(hlc);
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;
	char		tb[24];

	gmtime_r(&t, &tm);
	strftime(tb, sizeof(tb), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", tb, (unsigned)(ms % 1000));
}

#ifdef SELFTEST
#include "selftest.h"

int
hlc_selftest(void)
{
	struct hlc	h;
	uint64_t	a, b, c;
	struct stamp	s1 = { 5, "a" }, s2 = { 5, "b" }, s3 = { 6, "a" };

	hlc_init(&h, 0, 60000);
	ST_OK(hlc_now(&h, 1000, &a));
	ST_CHECK(HLC_MS(a) == 1000 && HLC_CTR(a) == 0);
	/* Same millisecond: counter advances. */
	ST_OK(hlc_now(&h, 1000, &b));
	ST_CHECK(b > a && HLC_CTR(b) == 1);
	/* Clock steps backwards: still monotonic. */
	ST_OK(hlc_now(&h, 10, &c));
	ST_CHECK(c > b);
	/* Remote stamp within skew pulls us forward. */
	ST_OK(hlc_update(&h, HLC_MAKE(50000, 3), 1000));
	ST_OK(hlc_now(&h, 1000, &a));
	ST_CHECK(a > HLC_MAKE(50000, 3));
	/* Remote stamp beyond skew is refused and does not move the clock. */
	b = h.last;
	ST_CHECK(hlc_update(&h, HLC_MAKE(1000 + 60001 + 50000, 0), 1000 +
	    50000) == E_INVAL);
	ST_CHECK(h.last == b);
	/* Counter overflow within one frozen millisecond is reported. */
	hlc_init(&h, HLC_MAKE(7, 0xfffe), 0);
	ST_OK(hlc_now(&h, 7, &a));
	ST_CHECK(hlc_now(&h, 7, &a) == E_TOOBIG);
	/* Stamp order: hlc first, then node id. */
	ST_CHECK(stamp_cmp(&s1, &s2) < 0 && stamp_cmp(&s2, &s1) > 0);
	ST_CHECK(stamp_cmp(&s2, &s3) < 0 && stamp_cmp(&s1, &s1) == 0);
	return 0;
}
#endif

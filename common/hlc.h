/*
 * hlc.h - hybrid logical clock: 48-bit wall milliseconds + 16-bit counter.
 *
 * Pure functions, no I/O: the caller passes the wall clock in, so tests can
 * drive any clock.  A stamp is an HLC value plus the node id that made it;
 * stamps are totally ordered by (hlc, node id), which is how every node picks
 * the same winner without coordination.
 */
#ifndef CASESYNC_HLC_H
#define CASESYNC_HLC_H

#include <stdint.h>

#define HLC_NODE_MAX	32		/* a node id is [a-z0-9-]{1,32} */
#define HLC_MS(h)	((h) >> 16)
#define HLC_CTR(h)	((h) & 0xffff)
#define HLC_MAKE(ms, c)	(((uint64_t)(ms) << 16) | ((uint64_t)(c) & 0xffff))

struct hlc {
	uint64_t	last;		/* highest value issued or seen */
	uint64_t	skew_ms;	/* refuse remote stamps beyond now+skew */
};

struct stamp {
	uint64_t	hlc;
	char		node[HLC_NODE_MAX + 1];
};

/* Initialises *h with a persisted last value (0 for a new node). */
void	hlc_init(struct hlc *h, uint64_t last, uint64_t skew_ms);

/* Issues the next local value for wall clock wall_ms.  Never goes backwards
 * and never repeats, even when the wall clock steps back.  Returns 0, or
 * E_TOOBIG when the counter would overflow within one millisecond of a clock
 * that stands still (the caller retries on the next millisecond). */
int	hlc_now(struct hlc *h, uint64_t wall_ms, uint64_t *out);

/* Merges a remote value seen at wall clock wall_ms.  Returns E_INVAL (and
 * leaves *h untouched) when the remote value is more than skew_ms ahead of
 * wall_ms: a server with a broken clock must not win every merge forever. */
int	hlc_update(struct hlc *h, uint64_t remote, uint64_t wall_ms);

/* Is remote acceptable at wall clock wall_ms under skew bound skew_ms? */
int	hlc_check_skew(uint64_t remote, uint64_t wall_ms, uint64_t skew_ms);

/* Total order on stamps: <0, 0, >0.  Ties on hlc are broken by node id. */
int	stamp_cmp(const struct stamp *a, const struct stamp *b);

/* Formats hlc as an ISO-8601 UTC time with milliseconds into buf (>= 32). */
void	hlc_format(uint64_t hlc, char *buf, unsigned size);

#ifdef SELFTEST
int	hlc_selftest(void);
#endif

#endif

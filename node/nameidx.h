/*
 * nameidx.h - the blind index of names: how a name search runs on sealed
 * values without opening any.
 *
 * A full name is folded (lower case, Vietnamese diacritics removed: "Nguyễn
 * Thị Ánh" -> "nguyen thi anh") and split into words.  Every prefix of 2 to
 * NAMEIDX_PREFIX_MAX bytes of each word (and a one-letter word whole) is
 * keyed with a secret derived from the node's data key:
 * HMAC-SHA-256(k, prefix) cut to NAMEIDX_MAC bytes.  The store keeps
 * (mac, case id) pairs.  A search folds and splits the query the same way
 * and intersects the cases of each word's mac, so "nguy thi" finds the case
 * above in a few B-tree lookups, without opening a sealed value.  The
 * console then opens the names of the few matches only, to show them.
 *
 * What a copied data.mdb reveals: which cases share a name prefix (an
 * equality pattern), not the names; without the data key the macs cannot
 * be computed for a guessed name.
 */
#ifndef CASESYNC_NAMEIDX_H
#define CASESYNC_NAMEIDX_H

#include <stddef.h>
#include <stdint.h>

struct crypto_mac;

#define NAMEIDX_MAC		16
#define NAMEIDX_WORD_MAX	32	/* bytes of a folded word kept */
#define NAMEIDX_PREFIX_MAX	16
#define NAMEIDX_WORDS_MAX	12
#define NAMEIDX_KEYS_MAX	(NAMEIDX_WORDS_MAX * NAMEIDX_PREFIX_MAX)

/* Folds and splits s into at most NAMEIDX_WORDS_MAX words.  Returns the
 * number of words. */
size_t	nameidx_words(const char *s, char words[][NAMEIDX_WORD_MAX + 1],
	    size_t max);

/*
 * A cache of prefix macs for a run of names (a batch of cases): names
 * share most of their words ("thi", "van", the common family names), so
 * most of a batch's prefixes were keyed before.  It holds name prefixes
 * in the clear, in memory only: nameidx_cache_wipe clears it at the end
 * of each batch.  Bounded: NAMEIDX_CACHE_SLOTS entries, a few probes
 * each; a prefix that finds no slot is keyed and not kept.
 */
#define NAMEIDX_CACHE_SLOTS	4096
struct nameidx_cache;

/* Caller owns the cache (nameidx_cache_free wipes it as well). */
struct nameidx_cache *nameidx_cache_new(void);
void	nameidx_cache_wipe(struct nameidx_cache *);
void	nameidx_cache_free(struct nameidx_cache **);

/* The macs to index for a name: every prefix of every word, deduplicated,
 * through cache (NULL: none).  Returns how many were written to macs. */
size_t	nameidx_name_macs(struct crypto_mac *key, struct nameidx_cache *cache,
	    const char *name, uint8_t macs[][NAMEIDX_MAC], size_t max);

/* The mac of one query word (already folded). */
void	nameidx_word_mac(struct crypto_mac *key, const char *word,
	    uint8_t mac[NAMEIDX_MAC]);

#ifdef SELFTEST
int	nameidx_selftest(void);
#endif

#endif

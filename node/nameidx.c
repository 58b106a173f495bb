/*
 * nameidx.c - folding names and keying their prefixes.  See nameidx.h.
 */
#include "nameidx.h"

#include <stdlib.h>
#include <string.h>

#include "../common/crypto.h"
#include "../common/util.h"

/* The ASCII letter a Latin letter with diacritics folds to, or 0. */
static char
fold_cp(uint32_t cp)
{
	static const char latin1[] =	/* U+00C0 .. U+00FF */
	    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuy\0s"
	    "aaaaaaaceeeeiiii" "dnooooo\0ouuuuy\0y";

	if (cp >= 0xc0 && cp <= 0xff)
		return latin1[cp - 0xc0];
	switch (cp) {
	case 0x102: case 0x103: return 'a';
	case 0x110: case 0x111: return 'd';
	case 0x128: case 0x129: return 'i';
	case 0x168: case 0x169: return 'u';
	case 0x1a0: case 0x1a1: return 'o';
	case 0x1af: case 0x1b0: return 'u';
	default: break;
	}
	if (cp >= 0x1ea0 && cp <= 0x1eb7)
		return 'a';
	if (cp >= 0x1eb8 && cp <= 0x1ec7)
		return 'e';
	if (cp >= 0x1ec8 && cp <= 0x1ecb)
		return 'i';
	if (cp >= 0x1ecc && cp <= 0x1ee3)
		return 'o';
	if (cp >= 0x1ee4 && cp <= 0x1ef1)
		return 'u';
	if (cp >= 0x1ef2 && cp <= 0x1ef9)
		return 'y';
	return 0;
}

/* Decodes one UTF-8 sequence; returns its length (1 for a bad byte). */
static size_t
decode(const unsigned char *s, uint32_t *cp)
{
	size_t k, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		k = 2;
		*cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		k = 3;
		*cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		k = 4;
		*cp = s[0] & 0x07;
	} else {
		*cp = 0xfffd;
		return 1;
	}
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return k;
}

size_t
nameidx_words(const char *s, char words[][NAMEIDX_WORD_MAX + 1], size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 nw = 0, wl = 0;

	while (nw < max) {
		uint32_t	cp = 0;
		size_t		k = *p ? decode(p, &cp) : 0;
		char		c = 0;
		int		letter = 0;

		if (k > 0) {
			if ((cp >= 'a' && cp <= 'z') || (cp >= '0' &&
			    cp <= '9'))
				c = (char)cp, letter = 1;
			else if (cp >= 'A' && cp <= 'Z')
				c = (char)(cp - 'A' + 'a'), letter = 1;
			else if (cp >= 0x300 && cp <= 0x36f)
				letter = 2;	/* combining mark: skip */
			else if ((c = fold_cp(cp)) != 0)
				letter = 1;
			else if (cp >= 0x80 && cp != 0xfffd)
				letter = 3;	/* another script: kept */
		}
		if (letter == 1 || letter == 3) {
			if (letter == 1 && wl < NAMEIDX_WORD_MAX)
				words[nw][wl++] = c;
			else if (letter == 3 && wl + k <= NAMEIDX_WORD_MAX) {
				memcpy(words[nw] + wl, p, k);
				wl += k;
			}
		} else if (letter != 2 && wl > 0) {
			words[nw][wl] = '\0';
			nw++;
			wl = 0;
		}
		if (k == 0)
			break;
		p += k;
	}
	return nw;
}

void
nameidx_word_mac(struct crypto_mac *key, const char *word,
    uint8_t mac[NAMEIDX_MAC])
{
	uint8_t full[CRYPTO_HASH];

	if (crypto_mac(key, word, strlen(word), full) != 0)
		memset(full, 0, sizeof(full));
	memcpy(mac, full, NAMEIDX_MAC);
}

struct cache_slot {
	uint8_t	len;				/* 0: empty */
	char	pre[NAMEIDX_PREFIX_MAX];
	uint8_t	mac[NAMEIDX_MAC];
};

#define CACHE_PROBES	8

struct nameidx_cache {
	struct cache_slot	slot[NAMEIDX_CACHE_SLOTS];
	size_t			used;
};

struct nameidx_cache *
nameidx_cache_new(void)
{
	return xcalloc(1, sizeof(struct nameidx_cache));
}

void
nameidx_cache_wipe(struct nameidx_cache *c)
{
	if (c != NULL && c->used > 0) {
		crypto_wipe(c->slot, sizeof(c->slot));
		c->used = 0;
	}
}

void
nameidx_cache_free(struct nameidx_cache **cp)
{
	if (*cp == NULL)
		return;
	nameidx_cache_wipe(*cp);
	free(*cp);
	*cp = NULL;
}

/* The mac of prefix pre (len bytes, 1..NAMEIDX_PREFIX_MAX), from the
 * cache when it holds it; kept there when a slot is free. */
static void
prefix_mac(struct crypto_mac *key, struct nameidx_cache *c, const char *pre,
    size_t len, uint8_t mac[NAMEIDX_MAC])
{
	struct cache_slot	*free_slot = NULL;
	uint32_t		 h = 2166136261U;	/* FNV-1a */
	char			 z[NAMEIDX_PREFIX_MAX + 1];

	if (c != NULL) {
		for (size_t i = 0; i < len; i++) {
			h ^= (uint8_t)pre[i];
			h *= 16777619U;
		}
		for (uint32_t p = 0; p < CACHE_PROBES; p++) {
			struct cache_slot *sl = &c->slot[(h + p) &
			    (NAMEIDX_CACHE_SLOTS - 1)];

			if (sl->len == 0) {
				free_slot = sl;
				break;
			}
			if (sl->len == len && memcmp(sl->pre, pre, len) == 0) {
				memcpy(mac, sl->mac, NAMEIDX_MAC);
				return;
			}
		}
	}
	memcpy(z, pre, len);
	z[len] = '\0';
	nameidx_word_mac(key, z, mac);
	crypto_wipe(z, sizeof(z));
	if (free_slot != NULL) {
		free_slot->len = (uint8_t)len;
		memcpy(free_slot->pre, pre, len);
		memcpy(free_slot->mac, mac, NAMEIDX_MAC);
		c->used++;
	}
}

size_t
nameidx_name_macs(struct crypto_mac *key, struct nameidx_cache *cache,
    const char *name, uint8_t macs[][NAMEIDX_MAC], size_t max)
{
	char	words[NAMEIDX_WORDS_MAX][NAMEIDX_WORD_MAX + 1];
	size_t	nw = nameidx_words(name, words, NAMEIDX_WORDS_MAX), n = 0;

	for (size_t i = 0; i < nw; i++) {
		size_t len = strlen(words[i]);

		for (size_t l = len == 1 ? 1 : 2; l <= len &&
		    l <= NAMEIDX_PREFIX_MAX; l++) {
			uint8_t	m[NAMEIDX_MAC];
			size_t	j;

			/* Never cut inside a UTF-8 sequence. */
			if (l < len && ((unsigned char)words[i][l] & 0xc0) ==
			    0x80)
				continue;
			prefix_mac(key, cache, words[i], l, m);
			for (j = 0; j < n; j++)
				if (memcmp(macs[j], m, NAMEIDX_MAC) == 0)
					break;
			if (j == n && n < max)
				memcpy(macs[n++], m, NAMEIDX_MAC);
		}
	}
	crypto_wipe(words, sizeof(words));
	return n;
}

#ifdef SELFTEST
#include "../common/selftest.h"

int
nameidx_selftest(void)
{
	char	w[NAMEIDX_WORDS_MAX][NAMEIDX_WORD_MAX + 1];
	uint8_t	kb[32] = { 1 }, macs[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
	uint8_t	m[NAMEIDX_MAC];
	size_t	n, i;
	int	found = 0;
	struct crypto_mac *key;

	ST_OK(crypto_mac_new(kb, sizeof(kb), &key));

	/* Precomposed (NFC) and decomposed (NFD) spellings fold alike. */
	n = nameidx_words("FAKE Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b \xc3\x81nh, "
	    "\xc4\x90\xe1\xbb\x97", w, NAMEIDX_WORDS_MAX);
	ST_CHECK(n == 5 && strcmp(w[0], "fake") == 0 &&
	    strcmp(w[1], "nguyen") == 0 && strcmp(w[2], "thi") == 0 &&
	    strcmp(w[3], "anh") == 0 && strcmp(w[4], "do") == 0);
	n = nameidx_words("Nguye\xcc\x82\xcc\x83n", w, NAMEIDX_WORDS_MAX);
	ST_CHECK(n == 1 && strcmp(w[0], "nguyen") == 0);
	n = nameidx_words("<img src=x onerror=alert(1)>", w, 12);
	ST_CHECK(n == 6 && strcmp(w[0], "img") == 0 && strcmp(w[5], "1") == 0);
	ST_CHECK(nameidx_words("", w, 12) == 0);
	n = nameidx_name_macs(key, NULL, "Nguyễn Thị A", macs,
	    NAMEIDX_KEYS_MAX);
	/* ng..nguyen (5), th, thi (2), a (1) */
	ST_CHECK(n == 8);
	nameidx_word_mac(key, "nguy", m);
	for (i = 0; i < n; i++)
		found |= memcmp(macs[i], m, NAMEIDX_MAC) == 0;
	ST_CHECK(found);
	nameidx_word_mac(key, "n", m);
	for (i = 0; i < n; i++)
		ST_CHECK(memcmp(macs[i], m, NAMEIDX_MAC) != 0);
	{
		/* Through the cache, the same macs, the second time from it;
		 * a prefix keyed under another one is not mistaken for it;
		 * wiped, it holds nothing. */
		struct nameidx_cache	*c = nameidx_cache_new();
		uint8_t			 m2[NAMEIDX_KEYS_MAX][NAMEIDX_MAC];
		size_t			 n2, used = 0;
		static const char	*names[] = { "Nguyễn Thị A",
		    "Tran Thi Nguyet", "Nguyen Van Nguyen", "thi thi th" };

		for (size_t r = 0; r < 2; r++)
			for (i = 0; i < 4; i++) {
				n = nameidx_name_macs(key, NULL, names[i],
				    macs, NAMEIDX_KEYS_MAX);
				n2 = nameidx_name_macs(key, c, names[i], m2,
				    NAMEIDX_KEYS_MAX);
				ST_CHECK(n == n2 && memcmp(macs, m2,
				    n * NAMEIDX_MAC) == 0);
				if (r == 0 && i == 3)
					used = c->used;
			}
		ST_CHECK(used > 0 && c->used == used);	/* all hits */
		/* Forced collisions: every slot it probes taken by other
		 * prefixes, it keys the prefix and keeps nothing. */
		for (i = 0; i < NAMEIDX_CACHE_SLOTS; i++)
			if (c->slot[i].len == 0) {
				c->slot[i].len = 2;
				memcpy(c->slot[i].pre, "\x01\x01", 2);
				memset(c->slot[i].mac, 0xee, NAMEIDX_MAC);
			}
		n = nameidx_name_macs(key, NULL, "Quynh Zz", macs,
		    NAMEIDX_KEYS_MAX);
		n2 = nameidx_name_macs(key, c, "Quynh Zz", m2,
		    NAMEIDX_KEYS_MAX);
		ST_CHECK(n == 5 && n == n2 && memcmp(macs, m2,
		    n * NAMEIDX_MAC) == 0);
		nameidx_cache_wipe(c);
		ST_CHECK(c->used == 0);
		for (i = 0; i < NAMEIDX_CACHE_SLOTS; i++)
			ST_CHECK(c->slot[i].len == 0);
		nameidx_cache_free(&c);
		ST_CHECK(c == NULL);
	}
	crypto_mac_free(&key);
	return 0;
}
#endif

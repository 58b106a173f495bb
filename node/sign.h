/*
 * sign.h - provenance of change entries.
 *
 * Every entry is signed by its origin with Ed25519 over a per-origin hash
 * chain:  h(n) = SHA-256("casesync-chain-v1" || h(n-1) || D(entry n)),
 * where D is SHA-256 of the entry's *signed form*: the entry with every
 * salted (identifying) value replaced by "#sha256:" + hex(SHA-256(salt ||
 * value)).  The record keeps the signature and h(n-1), so any single
 * entry verifies on its own; a receiver of a contiguous run only needs to
 * check the links and the last signature (one Ed25519 verification per
 * batch instead of per entry).  Because the signed form never contains an
 * identifying value, erasure can replace the value by its digest (and drop
 * the salt) and the signature still verifies: provenance survives erasure.
 */
#ifndef CASESYNC_SIGN_H
#define CASESYNC_SIGN_H

#include <stdint.h>

#include "../common/crypto.h"
#include "../proto/entry.h"

#define SIGN_BLOCK	RECORD_SIG_LEN		/* sig 64 || prev 32 */

/* Gives every identifying op of e a fresh random salt (local writes). */
void	sign_salt(struct entry *e);
/* Computes the chain hash of e after prev.  Returns 0 or E_INVAL. */
int	sign_chain(const struct entry *e, const uint8_t prev[CRYPTO_HASH],
	    uint8_t h[CRYPTO_HASH]);
/* Signs e after prev: block = signature || prev; h = the new chain hash. */
int	sign_entry(const struct entry *e, const uint8_t sec[CRYPTO_SIGN_SEC],
	    const uint8_t prev[CRYPTO_HASH], uint8_t block[SIGN_BLOCK],
	    uint8_t h[CRYPTO_HASH]);
/*
 * The receiving side's steps, with a prepared SHA-256 (sh; NULL: one made
 * for the call).  sign_digest writes D(e).  With ent, e must be what
 * entry_decode read from those entlen bytes, unchanged since: the bytes
 * are hashed as received, and only each salted op is encoded again, in
 * its signed form (the strict decoder accepts only the shortest encoding,
 * so the rest of the signed form is the received bytes).  With ent NULL,
 * e is encoded.  Returns 0 or E_INVAL.  sign_link makes the chain hash
 * of a digest after prev; sign_verify checks block's signature over the
 * chain hash h (1 when valid, else 0).  sign_check is sign_digest,
 * sign_link and sign_verify.
 */
int	sign_digest(struct crypto_sha *sh, const struct entry *e,
	    const uint8_t *ent, size_t entlen, uint8_t d[CRYPTO_HASH]);
void	sign_link(struct crypto_sha *sh, const uint8_t prev[CRYPTO_HASH],
	    const uint8_t d[CRYPTO_HASH], uint8_t h[CRYPTO_HASH]);
int	sign_verify(const uint8_t pub[CRYPTO_SIGN_PUB],
	    const uint8_t block[SIGN_BLOCK], const uint8_t h[CRYPTO_HASH]);
/* Verifies block over e with pub; writes the chain hash to h.  Returns 1
 * when the signature is valid, 0 otherwise. */
int	sign_check(const struct entry *e, const uint8_t pub[CRYPTO_SIGN_PUB],
	    const uint8_t block[SIGN_BLOCK], uint8_t h[CRYPTO_HASH]);
/* Replaces every salted value by its digest marker and drops the salt.
 * Returns the number of ops redacted. */
int	sign_redact(struct entry *e);
/* Is this value a digest marker left by erasure? */
int	sign_is_marker(const char *v, size_t len);

#ifdef SELFTEST
int	sign_selftest(void);
#endif

#endif

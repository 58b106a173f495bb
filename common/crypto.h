/*
 * crypto.h - the cryptography casesync uses, through OpenSSL 3 EVP only:
 * Ed25519 signatures, AES-256-GCM sealing, SHA-256, HMAC-SHA-256, scrypt,
 * random keys.
 * The only module that includes openssl/ headers.
 */
#ifndef CASESYNC_CRYPTO_H
#define CASESYNC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CRYPTO_SIGN_PUB		32
#define CRYPTO_SIGN_SEC		32
#define CRYPTO_SIG		64
#define CRYPTO_KEY		32	/* AES-256 key */
#define CRYPTO_NONCE		12
#define CRYPTO_TAG		16
#define CRYPTO_SEAL_OVERHEAD	(CRYPTO_NONCE + CRYPTO_TAG)
#define CRYPTO_HASH		32

/* Generates an Ed25519 key pair.  Returns 0 or E_IO. */
int	crypto_sign_keypair(uint8_t pub[CRYPTO_SIGN_PUB],
	    uint8_t sec[CRYPTO_SIGN_SEC]);
/* Derives the public key of a secret key.  Returns 0 or E_INVAL. */
int	crypto_sign_public(const uint8_t sec[CRYPTO_SIGN_SEC],
	    uint8_t pub[CRYPTO_SIGN_PUB]);
/* Signs msg.  Returns 0 or E_IO. */
int	crypto_sign(const uint8_t sec[CRYPTO_SIGN_SEC], const void *msg,
	    size_t len, uint8_t sig[CRYPTO_SIG]);
/* Returns 1 when sig is a valid signature of msg by pub, else 0. */
int	crypto_verify(const uint8_t pub[CRYPTO_SIGN_PUB], const void *msg,
	    size_t len, const uint8_t sig[CRYPTO_SIG]);

/* SHA-256 of the concatenation of up to three parts (NULL/0 to skip). */
void	crypto_hash3(const void *a, size_t alen, const void *b, size_t blen,
	    const void *c, size_t clen, uint8_t out[CRYPTO_HASH]);

/*
 * SHA-256 prepared once, for the hot paths (every entry received is
 * hashed for its chain link): the algorithm is fetched and the context
 * allocated at crypto_sha_new, not on every call as crypto_hash3 does.
 * crypto_sha_init starts a digest, crypto_sha_update adds to it and
 * crypto_sha_final ends it; crypto_sha3 is crypto_hash3 on the prepared
 * context.  Caller owns the object (crypto_sha_free accepts NULL).  Not
 * for use by two threads.  SHA-256 cannot fail short of a broken library:
 * that is fatal, as in crypto_hash3.
 */
struct crypto_sha;

int	crypto_sha_new(struct crypto_sha **);
void	crypto_sha_free(struct crypto_sha **);
void	crypto_sha_init(struct crypto_sha *);
void	crypto_sha_update(struct crypto_sha *, const void *p, size_t len);
void	crypto_sha_final(struct crypto_sha *, uint8_t out[CRYPTO_HASH]);
void	crypto_sha3(struct crypto_sha *, const void *a, size_t alen,
	    const void *b, size_t blen, const void *c, size_t clen,
	    uint8_t out[CRYPTO_HASH]);

/*
 * HMAC-SHA-256 of msg under key (EVP_MAC "HMAC").  keylen must be at
 * least 16.  Returns 0, E_INVAL for a short key, or E_IO.
 */
int	crypto_hmac(const uint8_t *key, size_t keylen, const void *msg,
	    size_t len, uint8_t out[CRYPTO_HASH]);

/* Appends nonce || AES-256-GCM(key, p) || tag to out, binding aad.
 * Returns 0 or E_TOOBIG/E_IO. */
int	crypto_seal(const uint8_t key[CRYPTO_KEY], const void *aad,
	    size_t aadlen, const void *p, size_t len, struct buf *out);
/* Opens what crypto_seal wrote.  Returns 0 with the plaintext appended to
 * out, or E_AUTH when the data or aad were altered (or the key is wrong). */
int	crypto_open(const uint8_t key[CRYPTO_KEY], const void *aad,
	    size_t aadlen, const uint8_t *c, size_t len, struct buf *out);

/*
 * A key prepared once, for the hot paths (the store seals and opens every
 * log record, and HMACs every name it indexes): the algorithm is fetched
 * and the key schedule computed at crypto_aead_new / crypto_mac_new, not
 * on every call, and nonces come from a pool that one getrandom() fills
 * with CRYPTO_NONCE_POOL of them.  The output is crypto_seal's format
 * (and crypto_open opens it, and the other way round); crypto_mac equals
 * crypto_hmac.  A pool filled before a fork() is never used after it in
 * the child (the kernel wipes its page in the child, which refills it;
 * no system call per seal), so two processes never share a nonce.
 * Caller owns the object; free with crypto_aead_free / crypto_mac_free
 * (which wipe the key and accept NULL).  Not for use by two threads.
 */
#define CRYPTO_NONCE_POOL	64
struct crypto_aead;
struct crypto_mac;

int	crypto_aead_new(const uint8_t key[CRYPTO_KEY], struct crypto_aead **);
void	crypto_aead_free(struct crypto_aead **);
int	crypto_aead_seal(struct crypto_aead *, const void *aad, size_t aadlen,
	    const void *p, size_t len, struct buf *out);
int	crypto_aead_open(struct crypto_aead *, const void *aad, size_t aadlen,
	    const uint8_t *c, size_t len, struct buf *out);
/* keylen must be at least 16 (E_INVAL). */
int	crypto_mac_new(const uint8_t *key, size_t keylen, struct crypto_mac **);
void	crypto_mac_free(struct crypto_mac **);
int	crypto_mac(struct crypto_mac *, const void *msg, size_t len,
	    uint8_t out[CRYPTO_HASH]);

/* Derives a key from a passphrase with scrypt (N=2^15, r=8, p=1).
 * Returns 0 or E_IO. */
int	crypto_scrypt(const char *pass, const uint8_t *salt, size_t saltlen,
	    uint8_t key[CRYPTO_KEY]);

/* Constant-time comparison: 0 when equal. */
int	crypto_memcmp(const void *a, const void *b, size_t n);
/* Wipes secrets. */
void	crypto_wipe(void *p, size_t n);

/*
 * Makes a self-signed TLS certificate for host cn: an ECDSA P-256 key and
 * an X.509 v3 certificate valid for days, with cn as subject and as DNS
 * (or IP) subjectAltName.  Appends the certificate and the private key in
 * PEM to cert and key.  Returns 0 or E_IO.
 */
int	crypto_tls_selfsigned(const char *cn, unsigned days, struct buf *cert,
	    struct buf *key);
/* The SHA-256 fingerprint of the first certificate of a PEM text, as
 * 32 bytes.  Returns 0 or E_INVAL when no certificate parses. */
int	crypto_cert_fingerprint(const char *pem, size_t len,
	    uint8_t out[CRYPTO_HASH]);

/* Hex encoding: writes 2n chars + NUL.  Decoding returns 0 or E_INVAL. */
void	hex_encode(const uint8_t *p, size_t n, char *out);
int	hex_decode(const char *s, uint8_t *out, size_t n);

#ifdef SELFTEST
int	crypto_selftest(void);
#endif

#endif

#include "crypto.h"
#include "err.h"
#include "log.h"
#include "util.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <sys/mman.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int
ossl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	log_warnx("crypto: %s: %s", what, buf);
	ERR_clear_error();
	return E_IO;
}

int
crypto_sign_keypair(uint8_t pub[CRYPTO_SIGN_PUB], uint8_t sec[CRYPTO_SIGN_SEC])
{
	random_bytes(sec, CRYPTO_SIGN_SEC);
	return crypto_sign_public(sec, pub);
}

int
crypto_sign_public(const uint8_t sec[CRYPTO_SIGN_SEC],
    uint8_t pub[CRYPTO_SIGN_PUB])
{
	EVP_PKEY	*k;
	size_t		 n = CRYPTO_SIGN_PUB;
	int		 rc = 0;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec,
	    CRYPTO_SIGN_SEC);
	if (k == NULL)
		return ossl_fail("ed25519 key");
	if (EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 ||
	    n != CRYPTO_SIGN_PUB)
		rc = ossl_fail("ed25519 public key");
	EVP_PKEY_free(k);
	return rc;
}

int
crypto_sign(const uint8_t sec[CRYPTO_SIGN_SEC], const void *msg, size_t len,
    uint8_t sig[CRYPTO_SIG])
{
	EVP_PKEY	*k;
	EVP_MD_CTX	*ctx;
	size_t		 n = CRYPTO_SIG;
	int		 rc = 0;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sec,
	    CRYPTO_SIGN_SEC);
	if (k == NULL)
		return ossl_fail("ed25519 key");
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, msg, len) != 1 || n != CRYPTO_SIG)
		rc = ossl_fail("ed25519 sign");
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return rc;
}

int
crypto_verify(const uint8_t pub[CRYPTO_SIGN_PUB], const void *msg, size_t len,
    const uint8_t sig[CRYPTO_SIG])
{
	EVP_PKEY	*k;
	EVP_MD_CTX	*ctx;
	int		 ok;

	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    CRYPTO_SIGN_PUB);
	if (k == NULL) {
		ERR_clear_error();
		return 0;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(ctx, sig, CRYPTO_SIG, msg, len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

void
crypto_hash3(const void *a, size_t alen, const void *b, size_t blen,
    const void *c, size_t clen, uint8_t out[CRYPTO_HASH])
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned	 n = CRYPTO_HASH;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    (alen && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    (clen && EVP_DigestUpdate(ctx, c, clen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1) {
		/* SHA-256 cannot fail short of a broken library. */
		fatalx("crypto: sha256 failed");
	}
	EVP_MD_CTX_free(ctx);
}

struct crypto_sha {
	EVP_MD		*md;		/* fetched once */
	EVP_MD_CTX	*ctx;		/* reused by every digest */
};

int
crypto_sha_new(struct crypto_sha **out)
{
	struct crypto_sha *h;

	h = xcalloc(1, sizeof(*h));
	if ((h->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (h->ctx = EVP_MD_CTX_new()) == NULL) {
		crypto_sha_free(&h);
		*out = NULL;
		return ossl_fail("sha256");
	}
	*out = h;
	return 0;
}

void
crypto_sha_free(struct crypto_sha **hp)
{
	struct crypto_sha *h = *hp;

	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
	*hp = NULL;
}

void
crypto_sha_init(struct crypto_sha *h)
{
	if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1)
		fatalx("crypto: sha256 failed");
}

void
crypto_sha_update(struct crypto_sha *h, const void *p, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, p, len) != 1)
		fatalx("crypto: sha256 failed");
}

void
crypto_sha_final(struct crypto_sha *h, uint8_t out[CRYPTO_HASH])
{
	unsigned n = CRYPTO_HASH;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != CRYPTO_HASH)
		fatalx("crypto: sha256 failed");
}

void
crypto_sha3(struct crypto_sha *h, const void *a, size_t alen, const void *b,
    size_t blen, const void *c, size_t clen, uint8_t out[CRYPTO_HASH])
{
	crypto_sha_init(h);
	crypto_sha_update(h, a, alen);
	crypto_sha_update(h, b, blen);
	crypto_sha_update(h, c, clen);
	crypto_sha_final(h, out);
}

int
crypto_hmac(const uint8_t *key, size_t keylen, const void *msg, size_t len,
    uint8_t out[CRYPTO_HASH])
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	char		 digest[] = "SHA256";
	size_t		 n = 0;
	int		 rc = 0;

	if (key == NULL || keylen < 16)
		return E_INVAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return ossl_fail("hmac fetch");
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, msg, len) != 1 ||
	    EVP_MAC_final(ctx, out, &n, CRYPTO_HASH) != 1 ||
	    n != CRYPTO_HASH)
		rc = ossl_fail("hmac");
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int
crypto_seal(const uint8_t key[CRYPTO_KEY], const void *aad, size_t aadlen,
    const void *p, size_t len, struct buf *out)
{
	EVP_CIPHER_CTX	*ctx;
	uint8_t		*o;
	int		 n, rc = 0;

	if (len > INT32_MAX || aadlen > INT32_MAX)
		return E_TOOBIG;
	if ((rc = buf_reserve(out, len + CRYPTO_SEAL_OVERHEAD)) != 0)
		return rc;
	o = out->data + out->len;
	random_bytes(o, CRYPTO_NONCE);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, o) != 1 ||
	    (aadlen && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) !=
	    1) ||
	    EVP_EncryptUpdate(ctx, o + CRYPTO_NONCE, &n, p, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, o + CRYPTO_NONCE + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG,
	    o + CRYPTO_NONCE + len) != 1)
		rc = ossl_fail("aes-gcm seal");
	EVP_CIPHER_CTX_free(ctx);
	if (rc == 0)
		out->len += len + CRYPTO_SEAL_OVERHEAD;
	return rc;
}

int
crypto_open(const uint8_t key[CRYPTO_KEY], const void *aad, size_t aadlen,
    const uint8_t *c, size_t len, struct buf *out)
{
	EVP_CIPHER_CTX	*ctx;
	size_t		 plen;
	uint8_t		 tag[CRYPTO_TAG];
	int		 n, rc = 0;

	if (len < CRYPTO_SEAL_OVERHEAD || len > INT32_MAX || aadlen >
	    INT32_MAX)
		return E_AUTH;
	plen = len - CRYPTO_SEAL_OVERHEAD;
	if ((rc = buf_reserve(out, plen + 1)) != 0)
		return rc;
	memcpy(tag, c + CRYPTO_NONCE + plen, CRYPTO_TAG);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, c) != 1 ||
	    (aadlen && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) !=
	    1) ||
	    EVP_DecryptUpdate(ctx, out->data + out->len, &n, c + CRYPTO_NONCE,
	    (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG, tag) !=
	    1 ||
	    EVP_DecryptFinal_ex(ctx, out->data + out->len + n, &n) != 1)
		rc = E_AUTH;
	ERR_clear_error();
	EVP_CIPHER_CTX_free(ctx);
	if (rc == 0)
		out->len += plen;
	else
		OPENSSL_cleanse(out->data + out->len, plen);
	return rc;
}

/*
 * The nonce pool lives in a page of its own that the kernel zeroes in a
 * forked child (MADV_WIPEONFORK, Linux 4.14): the child sees left == 0 and
 * refills from getrandom, and never sees the parent's unused nonces.  So
 * no seal needs a getpid() system call to detect a fork (it cost about
 * 5 % of central's time per new case).  Where the kernel refuses the
 * advice, the pool falls back to comparing the pid on every seal.
 */
struct nonce_pool {
	size_t		 left;		/* nonces left; 0 after a fork */
	pid_t		 pid;		/* filler, when !wiped */
	uint8_t		 pool[CRYPTO_NONCE_POOL * CRYPTO_NONCE];
};

struct crypto_aead {
	EVP_CIPHER		*cipher;	/* fetched once */
	EVP_CIPHER_CTX		*enc, *dec;	/* keyed once */
	struct nonce_pool	*np;		/* own mapping */
	size_t			 npsize;	/* its length */
	int			 wiped;		/* MADV_WIPEONFORK took */
};

int
crypto_aead_new(const uint8_t key[CRYPTO_KEY], struct crypto_aead **out)
{
	struct crypto_aead *a = xcalloc(1, sizeof(*a));

	*out = NULL;
	a->npsize = (sizeof(struct nonce_pool) + 4095) & ~(size_t)4095;
	a->np = mmap(NULL, a->npsize, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a->np == MAP_FAILED) {
		a->np = NULL;
		crypto_aead_free(&a);
		return E_NOMEM;
	}
	a->wiped = madvise(a->np, a->npsize, MADV_WIPEONFORK) == 0;
	(void)madvise(a->np, a->npsize, MADV_DONTDUMP);
	if ((a->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) ==
	    NULL || (a->enc = EVP_CIPHER_CTX_new()) == NULL ||
	    (a->dec = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(a->enc, a->cipher, key, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex2(a->dec, a->cipher, key, NULL, NULL) != 1) {
		crypto_aead_free(&a);
		return ossl_fail("aes-gcm key");
	}
	*out = a;
	return 0;
}

void
crypto_aead_free(struct crypto_aead **ap)
{
	struct crypto_aead *a = *ap;

	if (a == NULL)
		return;
	/* Freeing a context cleanses its key schedule. */
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	EVP_CIPHER_free(a->cipher);
	if (a->np != NULL) {
		OPENSSL_cleanse(a->np, sizeof(*a->np));
		munmap(a->np, a->npsize);
	}
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	*ap = NULL;
}

/* The next nonce from the pool, refilled when empty or inherited. */
static void
aead_nonce(struct crypto_aead *a, uint8_t *nonce)
{
	struct nonce_pool *np = a->np;

	if (np->left == 0 || (!a->wiped && np->pid != getpid())) {
		random_bytes(np->pool, sizeof(np->pool));
		np->left = CRYPTO_NONCE_POOL;
		if (!a->wiped)
			np->pid = getpid();
	}
	np->left--;
	memcpy(nonce, np->pool + np->left * CRYPTO_NONCE, CRYPTO_NONCE);
	/* Used once: gone from the pool. */
	OPENSSL_cleanse(np->pool + np->left * CRYPTO_NONCE, CRYPTO_NONCE);
}

int
crypto_aead_seal(struct crypto_aead *a, const void *aad, size_t aadlen,
    const void *p, size_t len, struct buf *out)
{
	uint8_t	*o;
	int	 n, rc;

	if (len > INT32_MAX || aadlen > INT32_MAX)
		return E_TOOBIG;
	if ((rc = buf_reserve(out, len + CRYPTO_SEAL_OVERHEAD)) != 0)
		return rc;
	o = out->data + out->len;
	aead_nonce(a, o);
	if (EVP_EncryptInit_ex2(a->enc, NULL, NULL, o, NULL) != 1 ||
	    (aadlen && EVP_EncryptUpdate(a->enc, NULL, &n, aad,
	    (int)aadlen) != 1) ||
	    EVP_EncryptUpdate(a->enc, o + CRYPTO_NONCE, &n, p, (int)len) !=
	    1 ||
	    EVP_EncryptFinal_ex(a->enc, o + CRYPTO_NONCE + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG,
	    o + CRYPTO_NONCE + len) != 1)
		return ossl_fail("aes-gcm seal");
	out->len += len + CRYPTO_SEAL_OVERHEAD;
	return 0;
}

int
crypto_aead_open(struct crypto_aead *a, const void *aad, size_t aadlen,
    const uint8_t *c, size_t len, struct buf *out)
{
	size_t	plen;
	uint8_t	tag[CRYPTO_TAG];
	int	n, rc = 0;

	if (len < CRYPTO_SEAL_OVERHEAD || len > INT32_MAX || aadlen >
	    INT32_MAX)
		return E_AUTH;
	plen = len - CRYPTO_SEAL_OVERHEAD;
	if ((rc = buf_reserve(out, plen + 1)) != 0)
		return rc;
	memcpy(tag, c + CRYPTO_NONCE + plen, CRYPTO_TAG);
	if (EVP_DecryptInit_ex2(a->dec, NULL, NULL, c, NULL) != 1 ||
	    (aadlen && EVP_DecryptUpdate(a->dec, NULL, &n, aad,
	    (int)aadlen) != 1) ||
	    EVP_DecryptUpdate(a->dec, out->data + out->len, &n,
	    c + CRYPTO_NONCE, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG,
	    tag) != 1 ||
	    EVP_DecryptFinal_ex(a->dec, out->data + out->len + n, &n) != 1)
		rc = E_AUTH;
	ERR_clear_error();
	if (rc == 0)
		out->len += plen;
	else
		OPENSSL_cleanse(out->data + out->len, plen);
	return rc;
}

struct crypto_mac {
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx;		/* keyed once */
};

int
crypto_mac_new(const uint8_t *key, size_t keylen, struct crypto_mac **out)
{
	struct crypto_mac	*m;
	OSSL_PARAM		 params[2];
	char			 digest[] = "SHA256";

	*out = NULL;
	if (key == NULL || keylen < 16)
		return E_INVAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	m = xcalloc(1, sizeof(*m));
	if ((m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (m->ctx = EVP_MAC_CTX_new(m->mac)) == NULL ||
	    EVP_MAC_init(m->ctx, key, keylen, params) != 1) {
		crypto_mac_free(&m);
		return ossl_fail("hmac key");
	}
	*out = m;
	return 0;
}

void
crypto_mac_free(struct crypto_mac **mp)
{
	struct crypto_mac *m = *mp;

	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);
	EVP_MAC_free(m->mac);
	free(m);
	*mp = NULL;
}

int
crypto_mac(struct crypto_mac *m, const void *msg, size_t len,
    uint8_t out[CRYPTO_HASH])
{
	size_t n = 0;

	/* A NULL key keeps the one set at crypto_mac_new. */
	if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(m->ctx, msg, len) != 1 ||
	    EVP_MAC_final(m->ctx, out, &n, CRYPTO_HASH) != 1 ||
	    n != CRYPTO_HASH)
		return ossl_fail("hmac");
	return 0;
}

int
crypto_scrypt(const char *pass, const uint8_t *salt, size_t saltlen,
    uint8_t key[CRYPTO_KEY])
{
	if (EVP_PBE_scrypt(pass, strlen(pass), salt, saltlen, 1 << 15, 8, 1,
	    64ULL << 20, key, CRYPTO_KEY) != 1)
		return ossl_fail("scrypt");
	return 0;
}

int
crypto_memcmp(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n);
}

void
crypto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

static int
bio_append(BIO *bio, struct buf *out)
{
	char	*p;
	long	 n = BIO_get_mem_data(bio, &p);

	if (n <= 0 || buf_append(out, p, (size_t)n) != 0)
		return E_IO;
	return 0;
}

int
crypto_tls_selfsigned(const char *cn, unsigned days, struct buf *cert,
    struct buf *key)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	X509_NAME	*nm;
	X509_EXTENSION	*ext = NULL;
	BIO		*bc = NULL, *bk = NULL;
	unsigned char	 serial[16], a6[16];
	char		 san[300];
	BIGNUM		*bn = NULL;
	int		 rc = E_IO, isip;

	isip = inet_pton(AF_INET, cn, a6) == 1 || inet_pton(AF_INET6, cn,
	    a6) == 1;
	if ((size_t)snprintf(san, sizeof(san), "%s:%s", isip ? "IP" : "DNS",
	    cn) >= sizeof(san))
		return E_INVAL;
	if ((pk = EVP_EC_gen("P-256")) == NULL) {
		ossl_fail("EC key");
		goto out;
	}
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1)
		goto fail;
	random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * (long)days) ==
	    NULL || X509_set_pubkey(x, pk) != 1)
		goto fail;
	nm = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	    (const unsigned char *)"casesync console", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, nm) != 1)
		goto fail;
	if ((ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    san)) == NULL || X509_add_ext(x, ext, -1) != 1)
		goto fail;
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto fail;
	if ((bc = BIO_new(BIO_s_mem())) == NULL ||
	    (bk = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bc, x) != 1 ||
	    PEM_write_bio_PrivateKey(bk, pk, NULL, NULL, 0, NULL, NULL) != 1)
		goto fail;
	if (bio_append(bc, cert) != 0 || bio_append(bk, key) != 0)
		goto out;
	rc = 0;
	goto out;
fail:
	ossl_fail("self-signed certificate");
out:
	BIO_free(bc);
	BIO_free(bk);
	BN_free(bn);
	X509_EXTENSION_free(ext);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int
crypto_cert_fingerprint(const char *pem, size_t len,
    uint8_t out[CRYPTO_HASH])
{
	BIO		*b;
	X509		*x;
	unsigned int	 n = CRYPTO_HASH;
	int		 rc = E_INVAL;

	if (len > INT_MAX || (b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return E_INVAL;
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL &&
	    X509_digest(x, EVP_sha256(), out, &n) == 1 && n == CRYPTO_HASH)
		rc = 0;
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	return rc;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return E_INVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return E_INVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

#ifdef SELFTEST
#include "selftest.h"

#include <sys/wait.h>

int
crypto_selftest(void)
{
	uint8_t		pub[32], sec[32], sig[64], key[32], h1[32], h2[32];
	struct buf	c, p;
	char		hx[65];

	ST_OK(crypto_sign_keypair(pub, sec));
	ST_OK(crypto_sign(sec, "hello", 5, sig));
	ST_CHECK(crypto_verify(pub, "hello", 5, sig) == 1);
	ST_CHECK(crypto_verify(pub, "hellp", 5, sig) == 0);
	sig[3] ^= 1;
	ST_CHECK(crypto_verify(pub, "hello", 5, sig) == 0);
	random_bytes(key, sizeof(key));
	buf_init(&c, 4096);
	buf_init(&p, 4096);
	ST_OK(crypto_seal(key, "aad", 3, "secret name", 11, &c));
	ST_CHECK(c.len == 11 + CRYPTO_SEAL_OVERHEAD);
	ST_CHECK(memmem(c.data, c.len, "secret", 6) == NULL);
	ST_OK(crypto_open(key, "aad", 3, c.data, c.len, &p));
	ST_CHECK(p.len == 11 && memcmp(p.data, "secret name", 11) == 0);
	buf_reset(&p);
	ST_CHECK(crypto_open(key, "aaX", 3, c.data, c.len, &p) == E_AUTH);
	c.data[CRYPTO_NONCE + 2] ^= 1;
	ST_CHECK(crypto_open(key, "aad", 3, c.data, c.len, &p) == E_AUTH);
	ST_CHECK(crypto_open(key, "aad", 3, c.data, 5, &p) == E_AUTH);
	buf_release(&c);
	buf_release(&p);
	{
		struct crypto_aead	*a;
		struct crypto_mac	*m;
		uint8_t			 n0[CRYPTO_NONCE];

		/* A prepared key seals as crypto_seal does, and each seal
		 * takes a fresh nonce, past the pool's refill too. */
		buf_init(&c, 4096);
		buf_init(&p, 4096);
		ST_OK(crypto_aead_new(key, &a));
		ST_OK(crypto_aead_seal(a, "aad", 3, "secret name", 11, &c));
		ST_OK(crypto_open(key, "aad", 3, c.data, c.len, &p));
		ST_CHECK(p.len == 11 && memcmp(p.data, "secret name", 11) == 0);
		memcpy(n0, c.data, CRYPTO_NONCE);
		for (int i = 0; i < 2 * CRYPTO_NONCE_POOL; i++) {
			buf_reset(&c);
			ST_OK(crypto_aead_seal(a, "aad", 3, "x", 1, &c));
			ST_CHECK(memcmp(c.data, n0, CRYPTO_NONCE) != 0);
		}
		{
			/* A child forked with a part-used pool does not take
			 * the nonce its parent takes next. */
			uint8_t	 nc[CRYPTO_NONCE];
			int	 fd[2], st;
			pid_t	 pid;

			ST_CHECK(pipe(fd) == 0);
			if ((pid = fork()) == 0) {
				buf_reset(&c);
				if (crypto_aead_seal(a, NULL, 0, "x", 1,
				    &c) != 0 || write(fd[1], c.data,
				    CRYPTO_NONCE) != CRYPTO_NONCE)
					_exit(1);
				_exit(0);
			}
			ST_CHECK(pid > 0);
			close(fd[1]);
			ST_CHECK(waitpid(pid, &st, 0) == pid &&
			    WIFEXITED(st) && WEXITSTATUS(st) == 0);
			ST_CHECK(read(fd[0], nc, sizeof(nc)) ==
			    (ssize_t)sizeof(nc));
			close(fd[0]);
			buf_reset(&c);
			ST_OK(crypto_aead_seal(a, NULL, 0, "x", 1, &c));
			ST_CHECK(memcmp(c.data, nc, CRYPTO_NONCE) != 0);
		}
		buf_reset(&c);
		ST_OK(crypto_seal(key, NULL, 0, "other", 5, &c));
		buf_reset(&p);
		ST_OK(crypto_aead_open(a, NULL, 0, c.data, c.len, &p));
		ST_CHECK(p.len == 5 && memcmp(p.data, "other", 5) == 0);
		ST_CHECK(crypto_aead_open(a, "x", 1, c.data, c.len, &p) ==
		    E_AUTH);
		crypto_aead_free(&a);
		crypto_aead_free(&a);
		ST_CHECK(a == NULL);
		buf_release(&c);
		buf_release(&p);
		/* A prepared HMAC key gives crypto_hmac's values, call after
		 * call. */
		ST_OK(crypto_mac_new(key, 32, &m));
		for (int i = 0; i < 3; i++) {
			ST_OK(crypto_mac(m, "msg", 3 - (size_t)(i & 1), h1));
			ST_OK(crypto_hmac(key, 32, "msg", 3 - (size_t)(i & 1),
			    h2));
			ST_CHECK(memcmp(h1, h2, 32) == 0);
		}
		crypto_mac_free(&m);
		ST_CHECK(crypto_mac_new(key, 8, &m) == E_INVAL);
	}
	crypto_hash3("ab", 2, "c", 1, NULL, 0, h1);
	crypto_hash3("a", 1, "bc", 2, NULL, 0, h2);
	ST_CHECK(memcmp(h1, h2, 32) == 0);
	{
		struct crypto_sha *sh;

		/* The prepared digest gives crypto_hash3's values, digest
		 * after digest, however the input is split. */
		ST_OK(crypto_sha_new(&sh));
		for (int i = 0; i < 3; i++) {
			memset(h2, 0, sizeof(h2));
			if (i == 1) {
				crypto_sha_init(sh);
				crypto_sha_update(sh, "a", 1);
				crypto_sha_update(sh, "", 0);
				crypto_sha_update(sh, "bc", 2);
				crypto_sha_final(sh, h2);
			} else
				crypto_sha3(sh, "a", 1, "b", 1, "c", 1, h2);
			ST_CHECK(memcmp(h1, h2, 32) == 0);
		}
		crypto_sha3(sh, "x", 1, NULL, 0, NULL, 0, h2);
		ST_CHECK(memcmp(h1, h2, 32) != 0);
		crypto_sha_free(&sh);
		crypto_sha_free(&sh);
		ST_CHECK(sh == NULL);
	}
	hex_encode(h1, 32, hx);
	ST_CHECK(strcmp(hx, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
	    "b410ff61f20015ad") == 0);
	ST_OK(hex_decode(hx, h2, 32));
	ST_CHECK(memcmp(h1, h2, 32) == 0);
	ST_CHECK(hex_decode("zz", h2, 1) == E_INVAL);
	/* RFC 4231, test case 1: key 20 bytes of 0x0b, data "Hi There". */
	memset(key, 0x0b, 20);
	ST_OK(crypto_hmac(key, 20, "Hi There", 8, h1));
	hex_encode(h1, 32, hx);
	ST_CHECK(strcmp(hx, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da7"
	    "26e9376c2e32cff7") == 0);
	ST_CHECK(crypto_hmac(key, 8, "x", 1, h1) == E_INVAL);
	return 0;
}
#endif

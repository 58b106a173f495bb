/*
 * identity.h - a node's keys, kept outside data.mdb:
 *   DIR/identity.key  (0600) Ed25519 signing key + CURVE transport key
 *   DIR/data.key      (0600) the AES-256 key for data at rest, or
 *   DIR/data.salt     when the key is derived from a passphrase with scrypt
 *                     (CASESYNC_PASSPHRASE), for operators who keep the key
 *                     off the disk.
 *   DIR/htcds.key     (0600) the key of the pseudonyms in HTCDS exports,
 *                     sealed under the data key; made at first use.
 * A public key travels as one shell-safe line: "cs1-" + hex(Ed25519 public)
 * + hex(CURVE public), 132 characters.
 *
 * identity.key has two formats:
 *   v1  "casesync-identity-v1\n" + sign_pub + sign_sec + curve_pub +
 *       curve_sec, in clear: a node with data.key that never rotated.
 *   v2  "casesync-identity-v2\n" + mode ('c' clear | 's' sealed) + body,
 *       body = be32(epoch) + the four keys + has_prev (0|1) + the four
 *       previous keys + be64(hand-over from) + hand-over signature (64),
 *       sealed with AES-256-GCM under the data key (the header bound as
 *       associated data) in passphrase mode.  So in passphrase mode the
 *       node's secret keys are on disk only under the passphrase: a copy
 *       of the directory without it can neither sign nor connect as the
 *       node.  A v1 file found in passphrase mode is sealed in place
 *       (written to a new file, then renamed over it) the first time the
 *       node opens with its passphrase.
 */
#ifndef CASESYNC_IDENTITY_H
#define CASESYNC_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/crypto.h"

#define IDENTITY_FILE	"identity.key"
#define DATAKEY_FILE	"data.key"
#define DATASALT_FILE	"data.salt"
#define PSEUDOKEY_FILE	"htcds.key"
#define PUBKEY_TEXT_LEN	(4 + 128)
#define CURVE_KEY	32

struct idkeys {
	uint8_t	sign_pub[CRYPTO_SIGN_PUB];
	uint8_t	sign_sec[CRYPTO_SIGN_SEC];
	uint8_t	curve_pub[CURVE_KEY];
	uint8_t	curve_sec[CURVE_KEY];
};

struct identity {
	uint8_t		sign_pub[CRYPTO_SIGN_PUB];
	uint8_t		sign_sec[CRYPTO_SIGN_SEC];
	uint8_t		curve_pub[CURVE_KEY];
	uint8_t		curve_sec[CURVE_KEY];
	uint32_t	epoch;		/* 0 until the first rotation */
	/*
	 * After `casesync key rotate`, until central has accepted the
	 * hand-over: the previous keys (the node still connects with
	 * prev.curve_*, the transport key central knows), the first own
	 * position the new key signs (ho_from) and the hand-over signed with
	 * the previous signing key (node/keyhist.h).
	 */
	int		has_prev;
	struct idkeys	prev;
	uint64_t	ho_from;
	uint8_t		ho_sig[CRYPTO_SIG];
};

/* How identity_load treats a file in clear in passphrase mode. */
#define IDENTITY_MIGRATE	1	/* seal it in place */

/*
 * Checks that dir may hold a node: a directory owned by the user running
 * casesync that neither group nor others may write to.  Anyone else who
 * can write there could swap in node files of their own.  Returns 0, E_IO
 * (missing, not a directory) or E_AUTH, with a one-line reason in err.
 */
int	identity_dir_check(const char *dir, char *err, size_t errsz);
/* Creates DIR/identity.key and the data key (a salt for deriving it from
 * pass when pass is not NULL or empty, else a random DIR/data.key).  In
 * passphrase mode identity.key is sealed under the derived key.  Refuses
 * to overwrite.  Returns 0 or E_IO/E_INVAL with the reason in err. */
int	identity_create(const char *dir, const char *pass, char *err,
	    size_t errsz);
/*
 * Loads the identity; datakey is the node's data key (datakey_load).  In
 * passphrase mode (DIR has data.salt) a sealed file opens only under it,
 * and a file in clear is sealed in place when flags has IDENTITY_MIGRATE
 * and migrated is not NULL: *migrated is then 1, or -1 when the file could
 * not be replaced (the reason in err; the identity is loaded all the
 * same), else 0.  Returns 0, E_IO,
 * E_AUTH (does not open under this data key: a wrong passphrase) or
 * E_INTEGRITY (bad file).  Key files must be regular files owned by the
 * user running casesync, mode 0600 or stricter (also for datakey_load).
 */
int	identity_load(const char *dir, const uint8_t datakey[CRYPTO_KEY],
	    int flags, struct identity *id, int *migrated, char *err,
	    size_t errsz);
/*
 * Replaces DIR/identity.key with id: v2, sealed under datakey in
 * passphrase mode, else in clear.  Written to a new file (0600, O_EXCL),
 * fsynced and renamed over the old one, so a crash leaves one or the
 * other.  Returns 0 or E_IO with the reason in err.
 */
int	identity_save(const char *dir, const uint8_t datakey[CRYPTO_KEY],
	    const struct identity *id, char *err, size_t errsz);
/* Is DIR in passphrase mode (it holds data.salt)? */
int	identity_passphrase_mode(const char *dir);
/* Loads the data key, or derives it from pass (the passphrase, NULL when
 * none was given).  Returns 0, E_IO, or E_AUTH when a passphrase is needed
 * but missing. */
int	datakey_load(const char *dir, const char *pass,
	    uint8_t key[CRYPTO_KEY], char *err, size_t errsz);
/*
 * Loads into key the secret of the pseudonymous ids that `export --format
 * htcds` gives cases (DIR/htcds.key), creating it at first use: 32 random
 * bytes sealed with AES-256-GCM under datakey.  Sealed, the file is as
 * safe on disk as a sealed case value: with a passphrase-derived data key
 * it is useless without the passphrase.  It is made 0600 in a temporary
 * file and linked into place, so two first exports at once agree on one
 * key and no reader sees half a file.  The key never leaves the node.
 * Returns 0; E_IO (with the reason in err); E_AUTH when the file does not
 * open under this data key; E_INTEGRITY when it is not a key file.
 */
int	pseudokey_load(const char *dir, const uint8_t datakey[CRYPTO_KEY],
	    uint8_t key[CRYPTO_KEY], char *err, size_t errsz);
/* Puts the pseudonym key in the file from, sealed under from_key, into
 * DIR/htcds.key sealed under datakey (a promoted standby takes central's:
 * docs/HA.md).  DIR/htcds.key must not exist.  Returns 0, E_NOTFOUND (no
 * file from), E_AUTH, E_INTEGRITY, E_AGAIN (DIR/htcds.key exists) or
 * E_IO. */
int	pseudokey_import(const char *dir, const char *from,
	    const uint8_t from_key[CRYPTO_KEY],
	    const uint8_t datakey[CRYPTO_KEY], char *err, size_t errsz);
/* Like pseudokey_load, but never creates the key: E_NOTFOUND when
 * DIR/htcds.key does not exist.  pseudokey_read_file reads any path. */
int	pseudokey_peek(const char *dir, const uint8_t datakey[CRYPTO_KEY],
	    uint8_t key[CRYPTO_KEY], char *err, size_t errsz);
int	pseudokey_read_file(const char *path,
	    const uint8_t datakey[CRYPTO_KEY], uint8_t key[CRYPTO_KEY],
	    char *err, size_t errsz);
/* The bytes of an htcds.key file holding key sealed under datakey,
 * appended to out.  Returns 0 or E_IO. */
int	pseudokey_seal(const uint8_t key[CRYPTO_KEY],
	    const uint8_t datakey[CRYPTO_KEY], struct buf *out);
/* Opens the bytes of an htcds.key file.  Returns 0, E_INTEGRITY (not a
 * key file) or E_AUTH (does not open under datakey). */
int	pseudokey_unseal(const uint8_t *p, size_t len,
	    const uint8_t datakey[CRYPTO_KEY], uint8_t key[CRYPTO_KEY]);
/* Formats the public half as "cs1-...", out of size PUBKEY_TEXT_LEN+1. */
void	identity_pubkey_text(const struct identity *id, char *out);
/* Parses a "cs1-..." line.  Returns 0 or E_INVAL. */
int	pubkey_parse(const char *s, uint8_t sign_pub[CRYPTO_SIGN_PUB],
	    uint8_t curve_pub[CURVE_KEY]);
void	identity_wipe(struct identity *id);

#ifdef SELFTEST
int	identity_selftest(void);
#endif

#endif

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

struct identity {
	uint8_t	sign_pub[CRYPTO_SIGN_PUB];
	uint8_t	sign_sec[CRYPTO_SIGN_SEC];
	uint8_t	curve_pub[CURVE_KEY];
	uint8_t	curve_sec[CURVE_KEY];
};

/* Creates DIR/identity.key and the data key (from CASESYNC_PASSPHRASE when
 * set, else a random DIR/data.key).  Refuses to overwrite.  Returns 0 or
 * E_IO/E_INVAL with the reason in err. */
int	identity_create(const char *dir, char *err, size_t errsz);
/* Loads the identity.  Returns 0, E_IO or E_INTEGRITY (bad file). */
int	identity_load(const char *dir, struct identity *id, char *err,
	    size_t errsz);
/* Loads (or derives) the data key.  Returns 0, E_IO, or E_AUTH when a
 * passphrase is needed but missing. */
int	datakey_load(const char *dir, uint8_t key[CRYPTO_KEY], char *err,
	    size_t errsz);
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
/* Formats the public half as "cs1-...", out of size PUBKEY_TEXT_LEN+1. */
void	identity_pubkey_text(const struct identity *id, char *out);
/* Parses a "cs1-..." line.  Returns 0 or E_INVAL. */
int	pubkey_parse(const char *s, uint8_t sign_pub[CRYPTO_SIGN_PUB],
	    uint8_t curve_pub[CURVE_KEY]);
void	identity_wipe(struct identity *id);

#endif

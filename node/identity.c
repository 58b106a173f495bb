#include "identity.h"
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/util.h"

#define ID_MAGIC	"casesync-identity-v1\n"
#define SALT_LEN	16
#define PK_MAGIC	"casesync-htcds-key-v1\n"
#define PK_FILE_LEN	(sizeof(PK_MAGIC) - 1 + CRYPTO_SEAL_OVERHEAD + \
			    CRYPTO_KEY)

static int
path_of(const char *dir, const char *file, char *out, size_t sz)
{
	return (size_t)snprintf(out, sz, "%s/%s", dir, file) < sz ? 0 :
	    E_INVAL;
}

static int
write_secret(const char *path, const void *p, size_t n, char *err,
    size_t errsz)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);

	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	if (write(fd, p, n) != (ssize_t)n || fsync(fd) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return E_IO;
	}
	close(fd);
	return 0;
}

/*
 * Reads exactly n bytes of a secret file.  It must be a regular file owned
 * by the user running casesync, with no group or other access: a key file
 * someone else owns may have been put there by them (root could read it
 * anyway, which is why the mode alone is not enough).
 */
static int
read_secret(const char *path, void *p, size_t n, char *err, size_t errsz)
{
	struct stat	sb;
	int		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t		r;
	uint8_t		extra;

	if (fd < 0) {
		snprintf(err, errsz, "%s: %s", path, errno == ELOOP ?
		    "is a symbolic link" : strerror(errno));
		return E_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		close(fd);
		return E_IO;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errsz, "%s: owned by uid %lu, not by the user "
		    "running casesync (uid %lu)", path,
		    (unsigned long)sb.st_uid, (unsigned long)geteuid());
		close(fd);
		return E_IO;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: must be readable by its owner only "
		    "(chmod 600)", path);
		close(fd);
		return E_IO;
	}
	r = read(fd, p, n);
	if (r != (ssize_t)n || read(fd, &extra, 1) != 0) {
		snprintf(err, errsz, "%s: not a casesync key file", path);
		close(fd);
		return E_INTEGRITY;
	}
	close(fd);
	return 0;
}

int
identity_dir_check(const char *dir, char *err, size_t errsz)
{
	struct stat sb;

	if (stat(dir, &sb) != 0) {
		snprintf(err, errsz, "%s: %s", dir, errno == ENOENT ?
		    "no such directory" : strerror(errno));
		return E_IO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "%s: not a directory", dir);
		return E_IO;
	}
	if (sb.st_uid != geteuid()) {
		snprintf(err, errsz, "%s: owned by uid %lu, not by the user "
		    "running casesync (uid %lu): a node directory must belong "
		    "to the node's user", dir, (unsigned long)sb.st_uid,
		    (unsigned long)geteuid());
		return E_AUTH;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errsz, "%s: group or others may write to it "
		    "(mode %04o): chmod 700 %s", dir,
		    (unsigned)(sb.st_mode & 07777), dir);
		return E_AUTH;
	}
	return 0;
}

int
identity_create(const char *dir, const char *pass, char *err, size_t errsz)
{
	struct identity	id;
	uint8_t		file[sizeof(ID_MAGIC) - 1 + 4 * 32];
	char		path[4096];
	int		rc;

	if (crypto_sign_keypair(id.sign_pub, id.sign_sec) != 0 ||
	    net_curve_keypair(id.curve_pub, id.curve_sec) != 0) {
		snprintf(err, errsz, "cannot generate keys");
		return E_IO;
	}
	memcpy(file, ID_MAGIC, sizeof(ID_MAGIC) - 1);
	memcpy(file + sizeof(ID_MAGIC) - 1, &id, sizeof(id));
	if (path_of(dir, IDENTITY_FILE, path, sizeof(path)) != 0)
		return E_INVAL;
	rc = write_secret(path, file, sizeof(file), err, errsz);
	crypto_wipe(file, sizeof(file));
	identity_wipe(&id);
	if (rc != 0)
		return rc;
	if (pass != NULL && *pass != '\0') {
		uint8_t salt[SALT_LEN];

		random_bytes(salt, sizeof(salt));
		path_of(dir, DATASALT_FILE, path, sizeof(path));
		return write_secret(path, salt, sizeof(salt), err, errsz);
	} else {
		uint8_t key[CRYPTO_KEY];

		random_bytes(key, sizeof(key));
		path_of(dir, DATAKEY_FILE, path, sizeof(path));
		rc = write_secret(path, key, sizeof(key), err, errsz);
		crypto_wipe(key, sizeof(key));
		return rc;
	}
}

int
identity_load(const char *dir, struct identity *id, char *err, size_t errsz)
{
	uint8_t	file[sizeof(ID_MAGIC) - 1 + 4 * 32];
	char	path[4096];
	int	rc;

	if (path_of(dir, IDENTITY_FILE, path, sizeof(path)) != 0)
		return E_INVAL;
	if ((rc = read_secret(path, file, sizeof(file), err, errsz)) != 0)
		return rc;
	if (memcmp(file, ID_MAGIC, sizeof(ID_MAGIC) - 1) != 0) {
		snprintf(err, errsz, "%s: not a casesync identity", path);
		crypto_wipe(file, sizeof(file));
		return E_INTEGRITY;
	}
	memcpy(id, file + sizeof(ID_MAGIC) - 1, sizeof(*id));
	crypto_wipe(file, sizeof(file));
	return 0;
}

int
datakey_load(const char *dir, const char *pass, uint8_t key[CRYPTO_KEY],
    char *err, size_t errsz)
{
	char		path[4096];
	uint8_t		salt[SALT_LEN];
	int		rc;

	path_of(dir, DATAKEY_FILE, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return read_secret(path, key, CRYPTO_KEY, err, errsz);
	path_of(dir, DATASALT_FILE, path, sizeof(path));
	if (access(path, F_OK) != 0) {
		snprintf(err, errsz, "%s: no data key (%s or %s)", dir,
		    DATAKEY_FILE, DATASALT_FILE);
		return E_IO;
	}
	if ((rc = read_secret(path, salt, sizeof(salt), err, errsz)) != 0)
		return rc;
	if (pass == NULL || *pass == '\0') {
		snprintf(err, errsz, "this node's data key is derived from a "
		    "passphrase: set CASESYNC_PASSPHRASE");
		return E_AUTH;
	}
	if (crypto_scrypt(pass, salt, sizeof(salt), key) != 0) {
		snprintf(err, errsz, "cannot derive the data key");
		return E_IO;
	}
	return 0;
}

/* Reads the pseudonym key file at path.  Returns 0, E_NOTFOUND when
 * there is none, or an error with the reason in err. */
static int
pseudokey_read(const char *path, const uint8_t datakey[CRYPTO_KEY],
    uint8_t key[CRYPTO_KEY], char *err, size_t errsz)
{
	uint8_t		file[PK_FILE_LEN + 1];
	struct buf	plain;
	struct stat	sb;
	ssize_t		r;
	size_t		mlen = sizeof(PK_MAGIC) - 1;
	int		fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return E_NOTFOUND;
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (sb.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: must be a file readable by its owner "
		    "only (chmod 600)", path);
		close(fd);
		return E_IO;
	}
	do
		r = read(fd, file, sizeof(file));
	while (r == -1 && errno == EINTR);
	close(fd);
	if (r != (ssize_t)PK_FILE_LEN || memcmp(file, PK_MAGIC, mlen) != 0) {
		snprintf(err, errsz, "%s: not a casesync pseudonym key", path);
		return E_INTEGRITY;
	}
	/* crypto_open wants a spare byte. */
	buf_init(&plain, CRYPTO_KEY + 1);
	rc = crypto_open(datakey, PK_MAGIC, mlen, file + mlen,
	    PK_FILE_LEN - mlen, &plain);
	if (rc == 0 && plain.len == CRYPTO_KEY)
		memcpy(key, plain.data, CRYPTO_KEY);
	else {
		snprintf(err, errsz, "%s: does not open under this node's data "
		    "key", path);
		rc = E_AUTH;
	}
	crypto_wipe(plain.data, plain.len);
	buf_release(&plain);
	return rc;
}

/* Writes a new sealed key to a temporary file and links it to path.
 * Returns 0, E_AGAIN when path appeared meanwhile, or E_IO. */
static int
pseudokey_create(const char *path, const uint8_t datakey[CRYPTO_KEY],
    char *err, size_t errsz)
{
	uint8_t		key[CRYPTO_KEY];
	struct buf	file;
	char		tmp[4096];
	int		fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    sizeof(tmp)) {
		snprintf(err, errsz, "%s: path too long", path);
		return E_IO;
	}
	random_bytes(key, sizeof(key));
	buf_init(&file, PK_FILE_LEN);
	if (buf_append(&file, PK_MAGIC, sizeof(PK_MAGIC) - 1) != 0 ||
	    crypto_seal(datakey, PK_MAGIC, sizeof(PK_MAGIC) - 1, key,
	    sizeof(key), &file) != 0 || file.len != PK_FILE_LEN)
		rc = E_IO;
	crypto_wipe(key, sizeof(key));
	/* mkstemp makes the file 0600 and refuses one that exists. */
	if (rc == 0 && (fd = mkstemp(tmp)) == -1)
		rc = E_IO;
	else if (rc == 0) {
		if (write(fd, file.data, file.len) != (ssize_t)file.len ||
		    fsync(fd) != 0)
			rc = E_IO;
		if (close(fd) != 0)
			rc = E_IO;
		/* link() never replaces: the first writer's key stays. */
		if (rc == 0 && link(tmp, path) != 0)
			rc = errno == EEXIST ? E_AGAIN : E_IO;
		if (rc == E_IO)
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
		unlink(tmp);
	} else
		snprintf(err, errsz, "%s: cannot create", path);
	buf_release(&file);
	return rc;
}

int
pseudokey_load(const char *dir, const uint8_t datakey[CRYPTO_KEY],
    uint8_t key[CRYPTO_KEY], char *err, size_t errsz)
{
	char	path[4096];
	int	rc, tries;

	if (path_of(dir, PSEUDOKEY_FILE, path, sizeof(path)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	for (tries = 0; tries < 2; tries++) {
		rc = pseudokey_read(path, datakey, key, err, errsz);
		if (rc != E_NOTFOUND)
			return rc;
		rc = pseudokey_create(path, datakey, err, errsz);
		if (rc != 0 && rc != E_AGAIN)
			return rc;
	}
	snprintf(err, errsz, "%s: cannot create", path);
	return E_IO;
}

void
identity_pubkey_text(const struct identity *id, char *out)
{
	memcpy(out, "cs1-", 4);
	hex_encode(id->sign_pub, CRYPTO_SIGN_PUB, out + 4);
	hex_encode(id->curve_pub, CURVE_KEY, out + 4 + 64);
}

int
pubkey_parse(const char *s, uint8_t sign_pub[CRYPTO_SIGN_PUB],
    uint8_t curve_pub[CURVE_KEY])
{
	char part[65];

	if (strlen(s) != PUBKEY_TEXT_LEN || strncmp(s, "cs1-", 4) != 0)
		return E_INVAL;
	memcpy(part, s + 4, 64);
	part[64] = '\0';
	if (hex_decode(part, sign_pub, CRYPTO_SIGN_PUB) != 0)
		return E_INVAL;
	memcpy(part, s + 4 + 64, 64);
	return hex_decode(part, curve_pub, CURVE_KEY);
}

void
identity_wipe(struct identity *id)
{
	crypto_wipe(id, sizeof(*id));
}

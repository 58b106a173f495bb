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
#define ID_MAGIC2	"casesync-identity-v2\n"
#define ID_MLEN		(sizeof(ID_MAGIC) - 1)	/* both have one length */
#define ID_V1_LEN	(ID_MLEN + 4 * 32)
#define ID_BODY_LEN	(4 + 4 * 32 + 1 + 4 * 32 + 8 + CRYPTO_SIG)
#define ID_HDR_LEN	(ID_MLEN + 1)
#define ID_V2_CLEAR	(ID_HDR_LEN + ID_BODY_LEN)
#define ID_V2_SEALED	(ID_HDR_LEN + CRYPTO_SEAL_OVERHEAD + ID_BODY_LEN)
#define ID_FILE_MAX	ID_V2_SEALED
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
 * Reads a secret file of at most n bytes; *len gets its size.  It must be a
 * regular file owned by the user running casesync, with no group or other
 * access: a key file someone else owns may have been put there by them
 * (root could read it anyway, which is why the mode alone is not enough).
 */
static int
read_secret_upto(const char *path, void *p, size_t n, size_t *len, char *err,
    size_t errsz)
{
	struct stat	sb;
	int		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t		r;
	size_t		got = 0;

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
	if ((uint64_t)sb.st_size > n) {
		snprintf(err, errsz, "%s: not a casesync key file", path);
		close(fd);
		return E_INTEGRITY;
	}
	while (got < n && (r = read(fd, (uint8_t *)p + got, n - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			close(fd);
			return E_IO;
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return 0;
}

/* As read_secret_upto, for a file of exactly n bytes. */
static int
read_secret(const char *path, void *p, size_t n, char *err, size_t errsz)
{
	size_t	len;
	int	rc;

	if ((rc = read_secret_upto(path, p, n, &len, err, errsz)) != 0)
		return rc;
	if (len != n) {
		snprintf(err, errsz, "%s: not a casesync key file", path);
		return E_INTEGRITY;
	}
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

static void
keys_put(uint8_t *p, const uint8_t *sp, const uint8_t *ss, const uint8_t *cp,
    const uint8_t *cs)
{
	memcpy(p, sp, 32);
	memcpy(p + 32, ss, 32);
	memcpy(p + 64, cp, 32);
	memcpy(p + 96, cs, 32);
}

static void
body_encode(const struct identity *id, uint8_t b[ID_BODY_LEN])
{
	uint8_t	*p = b;

	for (int i = 3; i >= 0; i--)
		*p++ = (uint8_t)(id->epoch >> (8 * i));
	keys_put(p, id->sign_pub, id->sign_sec, id->curve_pub, id->curve_sec);
	p += 128;
	*p++ = id->has_prev ? 1 : 0;
	if (id->has_prev)
		keys_put(p, id->prev.sign_pub, id->prev.sign_sec,
		    id->prev.curve_pub, id->prev.curve_sec);
	else
		memset(p, 0, 128);
	p += 128;
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(id->ho_from >> (8 * i));
	memcpy(p, id->ho_sig, CRYPTO_SIG);
}

static int
body_decode(const uint8_t b[ID_BODY_LEN], struct identity *id)
{
	const uint8_t	*p = b;

	memset(id, 0, sizeof(*id));
	for (int i = 0; i < 4; i++)
		id->epoch = id->epoch << 8 | *p++;
	memcpy(id->sign_pub, p, 32);
	memcpy(id->sign_sec, p + 32, 32);
	memcpy(id->curve_pub, p + 64, 32);
	memcpy(id->curve_sec, p + 96, 32);
	p += 128;
	if (*p > 1)
		return E_INTEGRITY;
	id->has_prev = *p++;
	memcpy(id->prev.sign_pub, p, 32);
	memcpy(id->prev.sign_sec, p + 32, 32);
	memcpy(id->prev.curve_pub, p + 64, 32);
	memcpy(id->prev.curve_sec, p + 96, 32);
	p += 128;
	for (int i = 0; i < 8; i++)
		id->ho_from = id->ho_from << 8 | *p++;
	memcpy(id->ho_sig, p, CRYPTO_SIG);
	return 0;
}

/* Encodes id as a v2 file into out (sealed under key when not NULL). */
static int
file_encode(const struct identity *id, const uint8_t *key, struct buf *out)
{
	uint8_t	body[ID_BODY_LEN], hdr[ID_HDR_LEN];
	int	rc = 0;

	memcpy(hdr, ID_MAGIC2, ID_MLEN);
	hdr[ID_MLEN] = key != NULL ? 's' : 'c';
	body_encode(id, body);
	if (buf_append(out, hdr, sizeof(hdr)) != 0)
		rc = E_IO;
	else if (key != NULL)
		rc = crypto_seal(key, hdr, sizeof(hdr), body, sizeof(body),
		    out) != 0 ? E_IO : 0;
	else if (buf_append(out, body, sizeof(body)) != 0)
		rc = E_IO;
	crypto_wipe(body, sizeof(body));
	return rc;
}

int
identity_passphrase_mode(const char *dir)
{
	char path[4096];

	return path_of(dir, DATASALT_FILE, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0 && (path_of(dir, DATAKEY_FILE, path,
	    sizeof(path)) != 0 || access(path, F_OK) != 0);
}

int
identity_save(const char *dir, const uint8_t datakey[CRYPTO_KEY],
    const struct identity *id, char *err, size_t errsz)
{
	struct buf	 file;
	char		 path[4096], tmp[4096];
	int		 rc, fd;

	if (path_of(dir, IDENTITY_FILE, path, sizeof(path)) != 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >=
	    sizeof(tmp)) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	buf_init(&file, ID_FILE_MAX + 1);
	if (file_encode(id, identity_passphrase_mode(dir) ? datakey : NULL,
	    &file) != 0) {
		snprintf(err, errsz, "%s: cannot encode the keys", path);
		rc = E_IO;
		goto out;
	}
	/* A leftover of a crashed save holds nothing the next one needs. */
	(void)unlink(tmp);
	if ((rc = write_secret(tmp, file.data, file.len, err, errsz)) != 0)
		goto out;
	if (rename(tmp, path) != 0) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		unlink(tmp);
		rc = E_IO;
		goto out;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
out:
	crypto_wipe(file.data, file.len);
	buf_release(&file);
	return rc;
}

int
identity_create(const char *dir, const char *pass, char *err, size_t errsz)
{
	struct identity	id;
	uint8_t		file[ID_V1_LEN];
	char		path[4096];
	int		rc;

	memset(&id, 0, sizeof(id));
	if (crypto_sign_keypair(id.sign_pub, id.sign_sec) != 0 ||
	    net_curve_keypair(id.curve_pub, id.curve_sec) != 0) {
		snprintf(err, errsz, "cannot generate keys");
		return E_IO;
	}
	if (path_of(dir, IDENTITY_FILE, path, sizeof(path)) != 0)
		return E_INVAL;
	if (pass != NULL && *pass != '\0') {
		uint8_t		salt[SALT_LEN], key[CRYPTO_KEY];
		struct buf	b;
		char		spath[4096];

		/* The salt first: identity.key is sealed under the key it
		 * gives, and never written in clear. */
		random_bytes(salt, sizeof(salt));
		path_of(dir, DATASALT_FILE, spath, sizeof(spath));
		if ((rc = write_secret(spath, salt, sizeof(salt), err,
		    errsz)) != 0) {
			identity_wipe(&id);
			return rc;
		}
		if (crypto_scrypt(pass, salt, sizeof(salt), key) != 0) {
			snprintf(err, errsz, "cannot derive the data key");
			identity_wipe(&id);
			return E_IO;
		}
		buf_init(&b, ID_FILE_MAX + 1);
		rc = file_encode(&id, key, &b);
		crypto_wipe(key, sizeof(key));
		identity_wipe(&id);
		if (rc == 0)
			rc = write_secret(path, b.data, b.len, err, errsz);
		else
			snprintf(err, errsz, "%s: cannot seal the keys", path);
		crypto_wipe(b.data, b.len);
		buf_release(&b);
		return rc;
	} else {
		uint8_t key[CRYPTO_KEY];

		memcpy(file, ID_MAGIC, ID_MLEN);
		keys_put(file + ID_MLEN, id.sign_pub, id.sign_sec,
		    id.curve_pub, id.curve_sec);
		rc = write_secret(path, file, sizeof(file), err, errsz);
		crypto_wipe(file, sizeof(file));
		identity_wipe(&id);
		if (rc != 0)
			return rc;
		random_bytes(key, sizeof(key));
		path_of(dir, DATAKEY_FILE, path, sizeof(path));
		rc = write_secret(path, key, sizeof(key), err, errsz);
		crypto_wipe(key, sizeof(key));
		return rc;
	}
}

int
identity_load(const char *dir, const uint8_t datakey[CRYPTO_KEY], int flags,
    struct identity *id, int *migrated, char *err, size_t errsz)
{
	uint8_t		file[ID_FILE_MAX];
	char		path[4096];
	size_t		len;
	int		rc, sealed = 0, pmode = identity_passphrase_mode(dir);

	memset(id, 0, sizeof(*id));
	if (migrated != NULL)
		*migrated = 0;
	if (path_of(dir, IDENTITY_FILE, path, sizeof(path)) != 0)
		return E_INVAL;
	if ((rc = read_secret_upto(path, file, sizeof(file), &len, err,
	    errsz)) != 0)
		return rc;
	if (len == ID_V1_LEN && memcmp(file, ID_MAGIC, ID_MLEN) == 0) {
		memcpy(id->sign_pub, file + ID_MLEN, 32);
		memcpy(id->sign_sec, file + ID_MLEN + 32, 32);
		memcpy(id->curve_pub, file + ID_MLEN + 64, 32);
		memcpy(id->curve_sec, file + ID_MLEN + 96, 32);
	} else if (len >= ID_HDR_LEN && memcmp(file, ID_MAGIC2, ID_MLEN) ==
	    0 && ((file[ID_MLEN] == 'c' && len == ID_V2_CLEAR) ||
	    (file[ID_MLEN] == 's' && len == ID_V2_SEALED))) {
		sealed = file[ID_MLEN] == 's';
		if (sealed) {
			struct buf plain;

			buf_init(&plain, ID_BODY_LEN + 1);
			rc = crypto_open(datakey, file, ID_HDR_LEN, file +
			    ID_HDR_LEN, len - ID_HDR_LEN, &plain);
			if (rc == 0 && plain.len == ID_BODY_LEN)
				rc = body_decode(plain.data, id);
			else if (rc == 0)
				rc = E_INTEGRITY;
			crypto_wipe(plain.data, plain.len);
			buf_release(&plain);
			if (rc == E_AUTH)
				snprintf(err, errsz, "%s: does not open under "
				    "this node's data key (wrong passphrase "
				    "or data.key)", path);
		} else
			rc = body_decode(file + ID_HDR_LEN, id);
		if (rc == E_INTEGRITY)
			snprintf(err, errsz, "%s: not a casesync identity",
			    path);
	} else {
		snprintf(err, errsz, "%s: not a casesync identity", path);
		rc = E_INTEGRITY;
	}
	crypto_wipe(file, sizeof(file));
	if (rc != 0) {
		identity_wipe(id);
		return rc;
	}
	if (pmode && !sealed && (flags & IDENTITY_MIGRATE) &&
	    migrated != NULL)
		/* A read-only directory keeps the file as it is: the verb
		 * goes on, and the caller says so. */
		*migrated = identity_save(dir, datakey, id, err, errsz) == 0 ?
		    1 : -1;
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
	struct stat	sb;
	ssize_t		r;
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
	if (r < 0)
		r = 0;
	rc = pseudokey_unseal(file, (size_t)r, datakey, key);
	if (rc == E_INTEGRITY)
		snprintf(err, errsz, "%s: not a casesync pseudonym key", path);
	else if (rc != 0)
		snprintf(err, errsz, "%s: does not open under this node's data "
		    "key", path);
	crypto_wipe(file, sizeof(file));
	return rc;
}

int
pseudokey_unseal(const uint8_t *p, size_t len,
    const uint8_t datakey[CRYPTO_KEY], uint8_t key[CRYPTO_KEY])
{
	struct buf	plain;
	size_t		mlen = sizeof(PK_MAGIC) - 1;
	int		rc;

	if (len != PK_FILE_LEN || memcmp(p, PK_MAGIC, mlen) != 0)
		return E_INTEGRITY;
	/* crypto_open wants a spare byte. */
	buf_init(&plain, CRYPTO_KEY + 1);
	rc = crypto_open(datakey, PK_MAGIC, mlen, p + mlen, PK_FILE_LEN - mlen,
	    &plain);
	if (rc == 0 && plain.len == CRYPTO_KEY)
		memcpy(key, plain.data, CRYPTO_KEY);
	else
		rc = E_AUTH;
	crypto_wipe(plain.data, plain.len);
	buf_release(&plain);
	return rc;
}

int
pseudokey_seal(const uint8_t key[CRYPTO_KEY],
    const uint8_t datakey[CRYPTO_KEY], struct buf *out)
{
	size_t	at = out->len;

	if (buf_append(out, PK_MAGIC, sizeof(PK_MAGIC) - 1) != 0 ||
	    crypto_seal(datakey, PK_MAGIC, sizeof(PK_MAGIC) - 1, key,
	    CRYPTO_KEY, out) != 0 || out->len - at != PK_FILE_LEN)
		return E_IO;
	return 0;
}

int
pseudokey_peek(const char *dir, const uint8_t datakey[CRYPTO_KEY],
    uint8_t key[CRYPTO_KEY], char *err, size_t errsz)
{
	char	path[4096];

	if (path_of(dir, PSEUDOKEY_FILE, path, sizeof(path)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	return pseudokey_read(path, datakey, key, err, errsz);
}

int
pseudokey_read_file(const char *path, const uint8_t datakey[CRYPTO_KEY],
    uint8_t key[CRYPTO_KEY], char *err, size_t errsz)
{
	return pseudokey_read(path, datakey, key, err, errsz);
}

/* Writes a new sealed key to a temporary file and links it to path.
 * Returns 0, E_AGAIN when path appeared meanwhile, or E_IO. */
static int
pseudokey_create(const char *path, const uint8_t datakey[CRYPTO_KEY],
    const uint8_t *given, char *err, size_t errsz)
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
	if (given != NULL)
		memcpy(key, given, sizeof(key));
	else
		random_bytes(key, sizeof(key));
	buf_init(&file, PK_FILE_LEN);
	if (pseudokey_seal(key, datakey, &file) != 0)
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
		rc = pseudokey_create(path, datakey, NULL, err, errsz);
		if (rc != 0 && rc != E_AGAIN)
			return rc;
	}
	snprintf(err, errsz, "%s: cannot create", path);
	return E_IO;
}

int
pseudokey_import(const char *dir, const char *from,
    const uint8_t from_key[CRYPTO_KEY], const uint8_t datakey[CRYPTO_KEY],
    char *err, size_t errsz)
{
	uint8_t	key[CRYPTO_KEY];
	char	path[4096];
	int	rc;

	if (path_of(dir, PSEUDOKEY_FILE, path, sizeof(path)) != 0) {
		snprintf(err, errsz, "%s: path too long", dir);
		return E_IO;
	}
	if ((rc = pseudokey_read(from, from_key, key, err, errsz)) != 0)
		return rc;
	rc = pseudokey_create(path, datakey, key, err, errsz);
	if (rc == E_AGAIN)
		snprintf(err, errsz, "%s exists", path);
	crypto_wipe(key, sizeof(key));
	return rc;
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

#ifdef SELFTEST
#include "../common/selftest.h"

int
identity_selftest(void)
{
	struct identity	a, b;
	char		dir[] = "/tmp/casesync-id-XXXXXX", err[512], path[600];
	uint8_t		key[CRYPTO_KEY], wrong[CRYPTO_KEY];
	int		mig;

	ST_CHECK(mkdtemp(dir) != NULL);
	/* data.key mode: v1 in clear, and v2 in clear after a save. */
	ST_OK(identity_create(dir, NULL, err, sizeof(err)));
	ST_OK(datakey_load(dir, NULL, key, err, sizeof(err)));
	ST_OK(identity_load(dir, key, IDENTITY_MIGRATE, &a, &mig, err,
	    sizeof(err)));
	ST_CHECK(mig == 0 && a.epoch == 0 && !a.has_prev);
	a.epoch = 3;
	a.has_prev = 1;
	a.prev.sign_sec[5] = 9;
	a.ho_from = (7ULL << 32) | 12;
	a.ho_sig[63] = 4;
	ST_OK(identity_save(dir, key, &a, err, sizeof(err)));
	ST_OK(identity_load(dir, key, 0, &b, NULL, err, sizeof(err)));
	ST_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, DATAKEY_FILE);
	unlink(path);
	/* Passphrase mode: sealed from the start; opens only under the
	 * derived key. */
	ST_OK(identity_create(dir, "FAKE selftest phrase", err, sizeof(err)));
	ST_CHECK(identity_passphrase_mode(dir));
	ST_OK(datakey_load(dir, "FAKE selftest phrase", key, err,
	    sizeof(err)));
	ST_OK(identity_load(dir, key, 0, &a, NULL, err, sizeof(err)));
	memcpy(wrong, key, sizeof(wrong));
	wrong[0] ^= 1;
	ST_CHECK(identity_load(dir, wrong, 0, &b, NULL, err, sizeof(err)) ==
	    E_AUTH);
	/* A v1 file in passphrase mode is sealed in place. */
	{
		uint8_t	v1[ID_V1_LEN];
		int	fd;

		memcpy(v1, ID_MAGIC, ID_MLEN);
		keys_put(v1 + ID_MLEN, a.sign_pub, a.sign_sec, a.curve_pub,
		    a.curve_sec);
		snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
		unlink(path);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ST_CHECK(fd >= 0 && write(fd, v1, sizeof(v1)) ==
		    (ssize_t)sizeof(v1));
		close(fd);
		ST_OK(identity_load(dir, key, IDENTITY_MIGRATE, &b, &mig, err,
		    sizeof(err)));
		ST_CHECK(mig == 1 && memcmp(b.sign_sec, a.sign_sec, 32) == 0);
		ST_CHECK(identity_load(dir, wrong, 0, &b, NULL, err,
		    sizeof(err)) == E_AUTH);
	}
	identity_wipe(&a);
	identity_wipe(&b);
	snprintf(path, sizeof(path), "%s/%s", dir, IDENTITY_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, DATASALT_FILE);
	unlink(path);
	ST_CHECK(rmdir(dir) == 0);
	return 0;
}
#endif

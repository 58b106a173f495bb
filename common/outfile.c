/*
 * outfile.c - files written for the user: a private temporary file next to
 * the target, then a rename (see outfile.h for why).
 */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define TMP_PREFIX	".casesync-out-"
#define TMP_RANDOM	8		/* bytes, written as hex */
#define TMP_TRIES	16

static int
errno_err(int e)
{
	return e == ENOSPC || e == EDQUOT ? E_FULL : E_IO;
}

/* Writes DIR/.casesync-out-<hex> into of->tmp, DIR being path's directory
 * ("." when path names none). */
static int
tmp_name(struct outfile *of)
{
	const char	*slash = strrchr(of->path, '/');
	uint8_t		 r[TMP_RANDOM];
	char		 hex[2 * TMP_RANDOM + 1];
	int		 dirlen, n;

	random_bytes(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	if (slash == NULL)
		n = snprintf(of->tmp, sizeof(of->tmp), "%s%s", TMP_PREFIX,
		    hex);
	else {
		dirlen = (int)(slash - of->path) + 1;
		n = snprintf(of->tmp, sizeof(of->tmp), "%.*s%s%s", dirlen,
		    of->path, TMP_PREFIX, hex);
	}
	return n > 0 && (size_t)n < sizeof(of->tmp) ? 0 : E_INVAL;
}

int
outfile_open(struct outfile *of, const char *path, char *err, size_t errsz)
{
	struct stat	sb;
	int		rc;

	memset(of, 0, sizeof(*of));
	of->fd = -1;
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errsz, "an output file needs a name");
		return E_INVAL;
	}
	if (strlcpy_(of->path, path, sizeof(of->path)) >= sizeof(of->path) ||
	    strlen(path) + sizeof(TMP_PREFIX) + 2 * TMP_RANDOM >=
	    sizeof(of->tmp)) {
		snprintf(err, errsz, "%.64s...: path too long", path);
		return E_INVAL;
	}
	if (lstat(path, &sb) == 0) {
		if (S_ISLNK(sb.st_mode)) {
			snprintf(err, errsz, "%s: is a symbolic link; refusing "
			    "to write through it (give the real path)", path);
			return E_INVAL;
		}
		if (!S_ISREG(sb.st_mode)) {
			snprintf(err, errsz, "%s: exists and is not a regular "
			    "file", path);
			return E_INVAL;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return E_IO;
	}
	for (int i = 0; i < TMP_TRIES; i++) {
		if ((rc = tmp_name(of)) != 0) {
			snprintf(err, errsz, "%s: path too long", path);
			return rc;
		}
		of->fd = open(of->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, OUTFILE_MODE);
		if (of->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	snprintf(err, errsz, "%s: cannot create a file next to it: %s", path,
	    strerror(errno));
	of->tmp[0] = '\0';
	return errno_err(errno);
}

FILE *
outfile_stream(struct outfile *of)
{
	if (of->f == NULL && of->fd >= 0)
		of->f = fdopen(of->fd, "w");
	return of->f;
}

int
outfile_write(struct outfile *of, const void *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(of->fd, (const char *)p + off, len - off);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return errno_err(errno);
		}
		off += (size_t)w;
	}
	return 0;
}

int
outfile_commit(struct outfile *of, char *err, size_t errsz)
{
	int	rc = 0, e = 0, dfd;
	char	dir[OUTFILE_PATH_MAX];
	char	*slash;

	if (of->f != NULL && fflush(of->f) != 0)
		e = errno;
	/* umask can only take bits away; say exactly what we mean. */
	if (e == 0 && fchmod(of->fd, OUTFILE_MODE) != 0)
		e = errno;
	if (e == 0 && fsync(of->fd) != 0)
		e = errno;
	if (of->f != NULL) {
		if (fclose(of->f) != 0 && e == 0)
			e = errno;
	} else if (close(of->fd) != 0 && e == 0)
		e = errno;
	of->f = NULL;
	of->fd = -1;
	if (e == 0 && rename(of->tmp, of->path) != 0)
		e = errno;
	if (e != 0) {
		snprintf(err, errsz, "%s: %s", of->path, strerror(e));
		rc = errno_err(e);
		outfile_abort(of);
		return rc;
	}
	of->tmp[0] = '\0';
	/* The rename itself survives a crash once the directory is synced;
	 * a failure here loses nothing that was not written yet. */
	strlcpy_(dir, of->path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strlcpy_(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

void
outfile_abort(struct outfile *of)
{
	if (of->f != NULL)
		fclose(of->f);
	else if (of->fd >= 0)
		close(of->fd);
	of->f = NULL;
	of->fd = -1;
	if (of->tmp[0] != '\0')
		unlink(of->tmp);
	of->tmp[0] = '\0';
}

#ifdef SELFTEST
#include <dirent.h>
#include <stdlib.h>

#include "selftest.h"

/* How many entries other than . and .. does dir hold? */
static int
dir_count(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..")
		    != 0;
	closedir(d);
	return n;
}

int
outfile_selftest(void)
{
	struct outfile	of;
	struct stat	sb;
	char		dir[] = "/tmp/casesync-outfile-XXXXXX", p[256], q[256];
	char		err[256], buf[16];
	mode_t		old = umask(0);
	FILE		*f;
	int		fd;

	ST_CHECK(mkdtemp(dir) != NULL);
	snprintf(p, sizeof(p), "%s/out.txt", dir);
	/* A new file: whole, 0600 even under umask 000, no temporary left. */
	ST_OK(outfile_open(&of, p, err, sizeof(err)));
	ST_OK(outfile_write(&of, "hello", 5));
	ST_OK(outfile_commit(&of, err, sizeof(err)));
	ST_CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	ST_CHECK(sb.st_size == 5 && dir_count(dir) == 1);
	/* Through a stream, replacing the file: a new inode. */
	ST_OK(outfile_open(&of, p, err, sizeof(err)));
	ST_CHECK((f = outfile_stream(&of)) != NULL);
	ST_CHECK(fputs("bye", f) >= 0);
	ST_OK(outfile_commit(&of, err, sizeof(err)));
	ST_CHECK((fd = open(p, O_RDONLY)) >= 0);
	ST_CHECK(read(fd, buf, sizeof(buf)) == 3 && memcmp(buf, "bye", 3) ==
	    0);
	close(fd);
	/* Aborted: the target keeps its content. */
	ST_OK(outfile_open(&of, p, err, sizeof(err)));
	ST_OK(outfile_write(&of, "partial", 7));
	outfile_abort(&of);
	ST_CHECK(stat(p, &sb) == 0 && sb.st_size == 3 && dir_count(dir) == 1);
	/* A symbolic link is refused and not followed. */
	snprintf(q, sizeof(q), "%s/link", dir);
	ST_CHECK(symlink(p, q) == 0);
	ST_CHECK(outfile_open(&of, q, err, sizeof(err)) == E_INVAL);
	ST_CHECK(strstr(err, "symbolic link") != NULL);
	ST_CHECK(dir_count(dir) == 2);
	unlink(q);
	/* So is a directory, and an empty name. */
	ST_CHECK(outfile_open(&of, dir, err, sizeof(err)) == E_INVAL);
	ST_CHECK(outfile_open(&of, "", err, sizeof(err)) == E_INVAL);
	unlink(p);
	ST_CHECK(dir_count(dir) == 0);
	rmdir(dir);
	umask(old);
	return 0;
}
#endif

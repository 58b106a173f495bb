/*
 * outfile.h - the files a verb writes for its user (`export --out`,
 * `report --out`, and any later verb that writes a file).
 *
 * They hold case data, so each is written the one safe way:
 *   - a fresh temporary file next to the target, created with O_CREAT |
 *     O_EXCL | O_NOFOLLOW and mode 0600, so no existing file, hard link or
 *     symbolic link planted by someone else is ever opened or written;
 *   - fsync, then rename() over the target, so the target holds the whole
 *     output or is left as it was;
 *   - a target that is a symbolic link, or exists and is not a regular
 *     file, is refused before anything is written.
 * rename() replaces a directory entry and never follows a link at the
 * target, so a link swapped in after the check is replaced, not followed.
 */
#ifndef CASESYNC_OUTFILE_H
#define CASESYNC_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#define OUTFILE_PATH_MAX	4096
#define OUTFILE_MODE		0600

struct outfile {
	char	 path[OUTFILE_PATH_MAX];	/* the target */
	char	 tmp[OUTFILE_PATH_MAX];		/* the temporary file */
	int	 fd;				/* -1 when closed */
	FILE	*f;				/* from outfile_stream, or NULL */
};

/*
 * Checks the target path and creates the temporary file next to it.
 * Returns 0, E_INVAL (empty or too long a path, a symbolic link or a
 * non-regular file at path) or E_IO, with a one-line reason naming path
 * in err.  On error nothing was created.
 */
int	outfile_open(struct outfile *of, const char *path, char *err,
	    size_t errsz);
/* A stdio stream on the temporary file; borrowed, valid until commit or
 * abort.  NULL when fdopen fails (errno set). */
FILE	*outfile_stream(struct outfile *of);
/* Writes len bytes to the temporary file.  Returns 0 or E_IO (errno set). */
int	outfile_write(struct outfile *of, const void *p, size_t len);
/*
 * Flushes, syncs and closes the temporary file, sets mode 0600, and
 * renames it over the target.  Returns 0, or E_IO / E_FULL with the reason
 * in err, after removing the temporary file (the target is unchanged).
 */
int	outfile_commit(struct outfile *of, char *err, size_t errsz);
/* Closes and removes the temporary file; the target is unchanged.  Safe
 * after a failed commit or open. */
void	outfile_abort(struct outfile *of);

#ifdef SELFTEST
int	outfile_selftest(void);
#endif

#endif

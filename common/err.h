/*
 * err.h - the one error enum of casesync.
 *
 * Every function that can fail returns 0 (E_OK) or one of these codes;
 * results go out through out-parameters.  Foreign codes (MDB_*, zmq errno,
 * OpenSSL ERR_*) are translated at the module boundary that calls them.
 */
#ifndef CASESYNC_ERR_H
#define CASESYNC_ERR_H

enum err {
	E_OK = 0,
	E_NOMEM,	/* allocation failed (normally fatal, see xmalloc) */
	E_INVAL,	/* bad argument or input rejected by validation */
	E_PROTO,	/* malformed encoding from a peer or from disk */
	E_AUTH,		/* signature, key or permission check failed */
	E_NOTFOUND,	/* no such record */
	E_TOOBIG,	/* a length, count or buffer cap was exceeded */
	E_AGAIN,	/* try again later (queue full, would block) */
	E_STORE,	/* the LMDB store failed */
	E_IO,		/* an OS-level I/O error */
	E_FULL,		/* the disk is full */
	E_GAP,		/* a sequence gap from a peer: never skipped */
	E_CONFLICT,	/* refused: not the owner, erased, read-only */
	E_TIMEOUT,	/* a peer did not answer in time */
	E_INTEGRITY,	/* stored data does not verify */
	E_QUOTA,	/* a peer's daily quota is used up */
	E__COUNT
};

/* Returns a static, human-readable name for code e; never NULL. */
const char	*err_str(int e);

#endif

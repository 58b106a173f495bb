/*
 * state.h - the materialised state of one case, as kept in the case table,
 * and its strict msgpack codec.
 *
 * The state is a fold of the case's change entries (node/merge.c does the
 * folding).  Every array is kept sorted, so two nodes that applied the same
 * set of entries in any order hold byte-identical encodings.
 *
 * Encoding (version 2, store layout 3):
 *   [ver=2, nodes:[str...], authors:[str...], id:str, owner:ix|nil,
 *    owner_hlc:uint, owner_node:ix|nil, erased_hlc:uint, erased_node:ix|nil,
 *    flags:uint,
 *    fields:[[path:str, heads:[[hlc, node:ix, author:ix, value:bin]...],
 *             seen:[[hlc, node:ix]...]] ...],
 *    events:[[coll:str, id:str, hlc, node:ix, author:ix, value:bin] ...]]
 * nodes holds the distinct node ids of the state (the owner, every stamp's
 * node), authors its distinct authors (pseudonyms at rest), each table
 * sorted (bytewise), without repeats, every entry named at least once and
 * valid; an ix:uint is an index into its table.  An owner or stamp that is
 * not there (owner "", hlc 0) has nil for its node.  A row of a case at
 * central, of about 16 fields and 3 events by one author, is about a
 * quarter smaller than in version 1 (docs/PERFORMANCE.md, "The row in one
 * page").
 *
 * Version 1 (store layouts 1 and 2; read only by state_decode_v1, for the
 * migration in node/migrate.c):
 *   [ver=1, id:str, owner:str, owner_hlc:uint, owner_node:str,
 *    erased_hlc:uint, erased_node:str, flags:uint,
 *    fields:[[path:str, heads:[[hlc, node, author, value:bin]...],
 *             seen:[[hlc, node]...]] ...],
 *    events:[[coll:str, id:str, hlc, node, author, value:bin] ...]]
 */
#ifndef CASESYNC_STATE_H
#define CASESYNC_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/hlc.h"
#include "entry.h"

#define STATE_VERSION		2
#define STATE_MAX_FIELDS	256
#define STATE_MAX_HEADS		64	/* concurrent values of one field */
#define STATE_MAX_SEEN		4096	/* superseded stamps of one field */
#define STATE_MAX_EVENTS	8192
#define STATE_ENCODED_MAX	(16 * 1024 * 1024)

#define STATE_F_READONLY	0x1	/* a copy kept after a transfer away */

/*
 * An author is personal data (a staff member's name), so at rest the case
 * table holds a pseudonym in its place (node/seal.c keeps the name,
 * sealed, under that pseudonym): STATE_AUTHOR_SEALED followed by the
 * lowercase hex of STATE_AUTHOR_PSEUDO bytes.  A real author can never
 * start with that byte (control characters are refused in authors), so
 * the two forms cannot be confused.
 */
#define STATE_AUTHOR_SEALED	'\x01'
#define STATE_AUTHOR_PSEUDO	8

/* Is a an author's pseudonym (STATE_AUTHOR_SEALED, then 2 *
 * STATE_AUTHOR_PSEUDO lowercase hex digits)? */
int	state_author_sealed(const char *a);

/* One concurrent value of a field.  value is opaque bytes to the codec (JSON
 * text, or ciphertext at rest for identifying fields). */
struct head {
	struct stamp	 st;
	char		 author[ENTRY_AUTHOR_MAX + 1];	/* or pseudonym */
	uint8_t		*value;		/* owned */
	size_t		 value_len;
};

struct field {
	char		 path[ENTRY_PATH_MAX + 1];
	struct head	*heads;		/* sorted by stamp, ascending */
	size_t		 nheads;
	struct stamp	*seen;		/* sorted by stamp, ascending */
	size_t		 nseen;
};

struct event {
	char		 coll[ENTRY_PATH_MAX + 1];
	char		 id[ENTRY_EVID_MAX + 1];
	struct stamp	 st;
	char		 author[ENTRY_AUTHOR_MAX + 1];	/* or pseudonym */
	uint8_t		*value;		/* owned */
	size_t		 value_len;
};

struct case_state {
	char		 id[ENTRY_CASE_ID_LEN + 1];
	char		 owner[HLC_NODE_MAX + 1];	/* "" until known */
	struct stamp	 owner_st;
	struct stamp	 erased;	/* hlc 0: not erased */
	uint64_t	 flags;
	struct field	*fields;	/* sorted by path */
	size_t		 nfields;
	struct event	*events;	/* sorted by (coll, id) */
	size_t		 nevents;
	/* Not part of the state, never encoded: the node's internal id of
	 * the case (node/caseid.c) when the state was read from its row in
	 * the caller's transaction (node/casetab.c), else 0. */
	uint64_t	 iid;
};

void	state_init(struct case_state *s, const char *id);
void	state_release(struct case_state *s);
/* Deep copy; caller owns *dst. */
void	state_copy(struct case_state *dst, const struct case_state *src);

/* Appends the encoding to out.  Returns 0, E_INVAL (a broken state that
 * could not be read back) or E_TOOBIG. */
int	state_encode(const struct case_state *s, struct buf *out);
/* Strict decode of exactly len bytes (sortedness and limits checked).
 * On error *s is left empty; on success the caller owns it. */
int	state_decode(const uint8_t *p, size_t len, struct case_state *s);
/* The same for an encoding of version 1 (store layout 2 and before):
 * for the migration of an older store (node/migrate.c) only. */
int	state_decode_v1(const uint8_t *p, size_t len, struct case_state *s);

#ifdef SELFTEST
/* Appends s in encoding version 1, as an older build wrote it. */
int	state_encode_v1(const struct case_state *s, struct buf *out);
int	state_selftest(void);
#endif

#endif

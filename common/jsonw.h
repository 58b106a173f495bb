/*
 * jsonw.h - small helpers for writing JSON text into a struct buf.
 * Parsing JSON is cJSON's job (node/schema.c); these only write.
 */
#ifndef CASESYNC_JSONW_H
#define CASESYNC_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends s as a quoted JSON string, escaping as RFC 8259 requires.
 * Invalid UTF-8 bytes are replaced by U+FFFD.  Returns 0 or E_TOOBIG. */
int	jsonw_str(struct buf *b, const char *s);
int	jsonw_strn(struct buf *b, const char *s, size_t n);
/* Appends "key": with a leading comma unless first. */
int	jsonw_key(struct buf *b, const char *key, int first);

#ifdef SELFTEST
int	jsonw_selftest(void);
#endif

#endif

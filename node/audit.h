/*
 * audit.h - the console's audit log, DIR/audit.log: one JSON object a line,
 * appended with O_APPEND (mode 0600), never rewritten by casesync.
 *
 * What goes in (Decree 13/2023/NĐ-CP asks for a record of who processed
 * sensitive personal data): sign-ins and their failures, sign-outs, every
 * view of a case's identifying values (who, whose case, when), conflict
 * resolutions, user changes (from the console or `casesync user`).  Never a
 * value: a name in the audit log would be one more copy to protect.
 *
 * Line: {"time":"2026-12-01T20:00:00.000Z","ms":N,"user":"minh",
 *        "addr":"10.0.0.5","action":"case.view","case":"…","detail":"…"}
 */
#ifndef CASESYNC_AUDIT_H
#define CASESYNC_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_FILE		"audit.log"
#define AUDIT_FIELD_MAX		200	/* bytes kept of each field */

struct audit;

struct audit_rec {
	uint64_t	ms;
	char		time[32];
	char		user[64];
	char		addr[64];
	char		action[32];
	char		case_id[40];
	char		detail[AUDIT_FIELD_MAX + 1];
};

/* Opens dir/audit.log for appending (created 0600).  Returns 0 or E_IO
 * with the reason in err.  Caller owns *out (audit_close). */
int	audit_open(const char *dir, struct audit **out, char *err,
	    size_t errsz);
void	audit_close(struct audit **a);

/* Appends one line; any argument may be NULL or "".  Safe from several
 * threads (one write(2) of the whole line).  Returns 0 or E_IO (logged). */
int	audit_log(struct audit *a, const char *user, const char *addr,
	    const char *action, const char *case_id, const char *detail);

/* Calls fn for the last max lines that parse, newest first (at most the
 * last 4 MiB of the file are read).  fn returns non-zero to stop.
 * Returns 0, E_IO. */
int	audit_tail(const char *dir, size_t max,
	    int (*fn)(const struct audit_rec *, void *), void *arg);

#ifdef SELFTEST
int	audit_selftest(void);
#endif

#endif

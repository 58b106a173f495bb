/*
 * schema.h - the case schema: which field paths and event collections exist,
 * their types and enumerations, which are identifying, and the conversions
 * between the JSON people write and the ops of a change entry.
 *
 * The schema is the single place that knows the case model (see
 * ../shared/DOMAIN.md and docs/SCHEMA.md).  Every op is checked against it
 * on every apply, local or remote: the codec in proto/ only bounds lengths.
 */
#ifndef CASESYNC_SCHEMA_H
#define CASESYNC_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/entry.h"
#include "../proto/state.h"

#define SCHEMA_INPUT_MAX	(256 * 1024)	/* one case as JSON */

/*
 * Converts one case as JSON (an object like `case get` prints: "status",
 * "person", "trafficking", "intake" objects, "services" and "notes" arrays;
 * "id" allowed and returned in id_out (size >= ENTRY_CASE_ID_LEN+1, "" when
 * absent)) into ops appended to e: one OP_SET per scalar field given, one
 * OP_EVENT per event.  Event ids missing from the input are generated.
 * Bases are left empty for the caller to fill.  Unknown fields, unknown
 * enumerations, wrong types and oversized values are E_INVAL with a
 * message naming the field in err.  On error e may hold some ops: the
 * caller releases it.  "owner" and "referrals" are refused (use transfer).
 */
int	schema_ops_from_json(const char *json, size_t len, struct entry *e,
	    char *id_out, char *err, size_t errsz);

/*
 * The same for one line of `casesync import`: exactly the keys that
 * `export` writes but a case cannot be given ("owner", "referrals",
 * "erased", "conflicts") are ignored, whatever their values, so that an
 * export imports again.  Everything else is as schema_ops_from_json.
 */
int	schema_ops_from_export(const char *json, size_t len, struct entry *e,
	    char *id_out, char *err, size_t errsz);

/* Validates one op (from any source) against the schema: known path and
 * collection, value of the right JSON type and enumeration.  Returns 0 or
 * E_INVAL with a reason in err.  The common values (null, an integer, a
 * string without escapes) are checked on their bytes; the rest goes
 * through schema_check_op_cjson. */
int	schema_check_op(const struct op *o, char *err, size_t errsz);
/* The same check, always by parsing the value with cJSON and comparing
 * it with its canonical form: the reference schema_check_op must agree
 * with (tests/fuzz/fuzz_validate.c). */
int	schema_check_op_cjson(const struct op *o, char *err, size_t errsz);

/* Is s a date as the schema takes it: "YYYY-MM-DD", a real calendar day
 * in the years 1900 to 2100? */
int	schema_date_valid(const char *s);

/* Is the field path identifying (names, documents, phones, addresses)? */
int	schema_path_identifying(const char *path);
/* Are events of this collection identifying as a whole (notes)? */
int	schema_coll_identifying(const char *coll);
/* Is s a known node id from the province list, or "central"? */
int	schema_node_known(const char *s);

/*
 * Value accessors: the current (winning) value of field path in s, as the
 * state holds it.  A field that is unset or cleared, or an identifying
 * value still sealed, reads as absent.
 *
 * schema_get_str: a string-valued field (enumeration, text, date, country,
 * province, case id) copied into buf (sz bytes).  Returns 1, or 0 when
 * absent or longer than buf.
 * schema_get_int: an integer field.  Returns 1 with *out, or 0.
 * schema_get_set: an enumeration set; bit i stands for value i of its
 * enumeration (schema_field_enum, schema_enum_values).  Returns 0 when
 * absent.
 * schema_event_str: member `member` of event ev, a string, as
 * schema_get_str.
 * schema_event_int: member `member` of event ev, an integer, as
 * schema_get_int.
 */
int	schema_get_str(const struct case_state *s, const char *path,
	    char *buf, size_t sz);
int	schema_get_int(const struct case_state *s, const char *path,
	    int64_t *out);
uint32_t schema_get_set(const struct case_state *s, const char *path);
int	schema_event_str(const struct event *ev, const char *member,
	    char *buf, size_t sz);
int	schema_event_int(const struct event *ev, const char *member,
	    int64_t *out);

/*
 * Renders a case state (identifying values already decrypted, or absent)
 * as one JSON object, the `case get` form: id, owner, status, person,
 * trafficking, intake, services, referrals, notes, plus "erased" (bool) and
 * "conflicts" (number of fields with more than one value).  pretty selects
 * indented output.  Caller owns the result (free()).
 */
char	*schema_render(const struct case_state *s, int pretty);

/* Builds the JSON object of a referral event into a malloc'd string:
 * {"from","to","on","status"}, or NULL when the schema refuses it.  Caller
 * owns the result. */
char	*schema_referral_json(const char *from, const char *to,
	    const char *on_date);
/*
 * Builds the event that carries a referral's reason, {"text": reason}, to
 * be written under the referral's own event id in the collection
 * "referral_reasons".  That collection is identifying: the reason is
 * sealed at rest, salted in signatures, redacted by an erase and left out
 * of read-only copies; `case get` shows it as the referral's "reason".
 * NULL when reason is not 1 to 500 bytes of text.  Caller owns it.
 */
char	*schema_reason_json(const char *reason);
/*
 * The answer to an offer (a referral with status "proposed"), written by
 * the receiving province under the offer's event id in the collection
 * "referral_answers": {"on": on_date, "status": "accepted" or
 * "rejected"}.  Not identifying.  `case get` shows it as the referral's
 * status and "answered_on".  NULL when on_date is not a date.  Caller
 * owns the result.
 */
char	*schema_answer_json(const char *on_date, int accepted);
/* Why an offer was declined, {"text": reason}, under the offer's event id
 * in "decline_reasons": identifying like a referral's reason; `case get`
 * shows it as the referral's "decline_reason".  NULL when reason is not 1
 * to 500 bytes of text.  Caller owns the result. */
char	*schema_decline_json(const char *reason);

/* Writes the i-th field path of the model, in the order `case get`
 * renders them ("status", "person.category", ...), into out (at least
 * ENTRY_PATH_MAX + 1 bytes).  Returns 0, or E_NOTFOUND past the last. */
int	schema_field_path(size_t i, char *out, size_t sz);

/*
 * The enumerations of the case model, for forms, reports and filters.
 * Each value has an English label marked for translation: show it with
 * i18n_tr(lang, schema_enum_label(...)).
 */
enum schema_enum {
	SCHEMA_ENUM_STATUS,		/* status: the case lifecycle */
	SCHEMA_ENUM_CATEGORY,		/* person.category */
	SCHEMA_ENUM_LEGAL_STATUS,	/* person.legal_status */
	SCHEMA_ENUM_SEX,		/* person.sex */
	SCHEMA_ENUM_PURPOSE,		/* trafficking.purposes (a set) */
	SCHEMA_ENUM_RETURN_ROUTE,	/* trafficking.return_route */
	SCHEMA_ENUM_SOURCE,		/* intake.source */
	SCHEMA_ENUM_SERVICE,		/* services.type: Art. 37 regimes */
	SCHEMA_ENUM_REFERRAL_STATUS,	/* referrals.status */
	SCHEMA_ENUM__N
};

/* The values of enumeration e in schema order (the lifecycle's order for
 * the status, a to k for services), NULL-terminated; NULL for an unknown
 * e.  Static. */
const char *const *schema_enum_values(enum schema_enum e);

/* The English label (a msgid) of value v of enumeration e, or NULL when v
 * is not one of its values.  Static. */
const char *schema_enum_label(enum schema_enum e, const char *v);

/* Which enumeration a field path ("person.sex") or event member
 * ("services.type") holds.  Returns 0, or E_NOTFOUND when it holds none. */
int	schema_field_enum(const char *path, enum schema_enum *out);

/* The English label (a msgid, sentence case) of a group ("person"), field
 * path ("person.full_name"), collection ("services") or event member
 * ("services.amount_vnd"), or NULL when there is no such thing.  Static. */
const char *schema_field_label(const char *path);

/*
 * What kind of input a field or event member takes, for forms: which
 * control to show and how long a value may be.  schema_field_kind
 * returns 0 with *kind and *max (bytes for text kinds, the largest value
 * for SCHEMA_KIND_INT, 0 otherwise; *min likewise), or E_NOTFOUND.
 */
enum schema_kind {
	SCHEMA_KIND_CHOICE,	/* one enumeration value */
	SCHEMA_KIND_CHOICES,	/* a set of enumeration values */
	SCHEMA_KIND_LINE,	/* one line of text */
	SCHEMA_KIND_TEXT,	/* text with line breaks */
	SCHEMA_KIND_INT,
	SCHEMA_KIND_DATE,
	SCHEMA_KIND_COUNTRY,
	SCHEMA_KIND_PROVINCE,	/* a province node id */
	SCHEMA_KIND_NODE,	/* a province node id or "central" */
	SCHEMA_KIND_CASE_ID,
};
int	schema_field_kind(const char *path, enum schema_kind *kind,
	    int64_t *min, int64_t *max);

/*
 * Why a value was refused, for a message in the user's language next to
 * the field (schema_why_text) where the CLI prints the English message.
 */
enum schema_why {
	SCHEMA_WHY_NONE,
	SCHEMA_WHY_REQUIRED,	/* missing (or null) where a value is needed */
	SCHEMA_WHY_CHOICE,	/* not one of the enumeration's values */
	SCHEMA_WHY_EMPTY,
	SCHEMA_WHY_TOO_LONG,	/* more bytes than the field takes */
	SCHEMA_WHY_CHARS,	/* control characters or invalid UTF-8 */
	SCHEMA_WHY_INTEGER,	/* not a whole number */
	SCHEMA_WHY_RANGE,	/* a whole number outside min..max */
	SCHEMA_WHY_DATE,
	SCHEMA_WHY_COUNTRY,
	SCHEMA_WHY_PROVINCE,
	SCHEMA_WHY_CASE_ID,
	SCHEMA_WHY_OTHER,
};

struct schema_problem {
	enum schema_why	 why;
	int64_t		 min, max;	/* SCHEMA_WHY_RANGE, _TOO_LONG (max) */
	char		 msg[256];	/* the CLI's English message */
};

/*
 * Checks one value, JSON text of len bytes, of field path or event member
 * ("services.on") with the very check `case add` runs on it.  JSON null
 * is SCHEMA_WHY_REQUIRED for a required member or the status.  Returns 0,
 * or E_INVAL with *p filled (E_NOTFOUND for an unknown path).
 */
int	schema_value_check(const char *path, const char *json, size_t len,
	    struct schema_problem *p);

/* The English text (a msgid) that tells the user how to correct a value
 * refused for why; "%lld" conversions take p->min and p->max for
 * SCHEMA_WHY_RANGE, and p->max for SCHEMA_WHY_TOO_LONG.  Static. */
const char *schema_why_text(enum schema_why why);

/*
 * The fields a new case must have when it is recorded through the
 * console's intake form (the CLI and `POST /api/cases` take any subset, as
 * `case add` always has): what the annual report needs to count it.
 * NULL-terminated, static.
 */
const char *const *schema_intake_required(void);

/*
 * The case lifecycle (docs/SCHEMA.md): may the console move a case from
 * status `from` (NULL or "" when it has none) to `to`?  The schema itself
 * takes any status in any order, so that a mistake can be corrected from
 * the CLI; the console's status action allows the lifecycle's next steps
 * only.  schema_status_next lists them for from, NULL-terminated, into
 * out (at least SCHEMA_STATUS_NEXT_MAX + 1 entries); returns the count.
 */
#define SCHEMA_STATUS_NEXT_MAX	3
int	schema_status_allowed(const char *from, const char *to);
size_t	schema_status_next(const char *from,
	    const char *out[SCHEMA_STATUS_NEXT_MAX + 1]);

/*
 * The current value of field path as display text into buf (sz bytes):
 * a string without its quotes, an integer in decimal, a set's values
 * joined with ",".  Returns 1, or 0 (buf "") when the field is unset,
 * cleared, sealed, or longer than buf.  This is the accessor the CLI's
 * lists and the console's tables share.
 */
int	schema_get_text(const struct case_state *s, const char *path,
	    char *buf, size_t sz);

#ifdef SELFTEST
int	schema_selftest(void);
#endif

#endif

/*
 * schema.c - the case model: field paths, event collections, their types
 * and enumerations, and the conversions between JSON and change ops.
 *
 * This is the only node module that includes cJSON.  Input is parsed with
 * cJSON, but canonical op values are written by hand (canon_* below) so that
 * the text is fixed: keys in schema order, no whitespace, integers in plain
 * decimal, strings escaped exactly as cJSON_PrintUnformatted escapes them.
 * Two nodes that accept the same value therefore store the same bytes, and
 * schema_check_op refuses any value that is not in that form.
 *
 * Limits on strings are in bytes of UTF-8, so that every canonical value
 * fits ENTRY_VALUE_MAX; docs/SCHEMA.md is the user-facing description.
 */
#include "schema.h"
#include "i18n.h"
#include "provinces.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/util.h"

/* Largest integer a double holds exactly (cJSON keeps numbers as double). */
#define JSON_INT_MAX		INT64_C(9007199254740992)
/* Canonical text is built in a buffer with room to spare, then checked
 * against ENTRY_VALUE_MAX, so that "too large" gets its own message. */
#define CANON_MAX		(4 * ENTRY_VALUE_MAX)
#define SHOWN_MAX		40	/* user input quoted in errors, bytes */
#define WHERE_MAX		128
#define GROUP_FIELDS_MAX	16

enum vtype {
	V_ENUM,		/* one of vals[] */
	V_ENUMSET,	/* array of unique vals[], stored in vals[] order */
	V_STR,		/* one line of text, min..max bytes */
	V_TEXT,		/* text that may hold tabs and line breaks */
	V_INT,		/* integer in min..max */
	V_DATE,		/* YYYY-MM-DD, a real calendar date */
	V_COUNTRY,	/* ISO 3166 alpha-2, upper case */
	V_PROVINCE,	/* node id of a province */
	V_NODE,		/* node id of a province, or "central" */
	V_UUID,		/* case id: lowercase UUID text */
};

#define F_IDENT		0x1	/* identifying: encrypted at rest, erased */
#define F_REQUIRED	0x2	/* event member that must be present */
#define F_NONULL	0x4	/* field that cannot be cleared */

struct fdef {
	const char		*name;
	enum vtype		 type;
	int			 flags;
	const char *const	*vals;		/* V_ENUM, V_ENUMSET */
	int64_t			 min, max;	/* V_INT value; strings bytes */
};

/* A group of scalar fields: "status" at the top, or person.*, ... */
struct group {
	const char		*name;		/* "" for top-level fields */
	const struct fdef	*f;
	size_t			 n;
};

/* An event collection. */
struct coll {
	const char		*name;
	const struct fdef	*f;
	size_t			 n;
	int			 identifying;	/* events identify as a whole */
	int			 input;		/* accepted in case JSON */
	/* Not an array of its own: each event's "text" is shown as member
	 * `as` of the event with the same id in collection `into`. */
	const char		*into;
	const char		*as;
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The enumerations, each value with its English label next to it.  The
 * labels are msgids (N_ marks them for `make pot`): callers translate them
 * with i18n_tr().  Two values of different enumerations share a label only
 * when Vietnamese words them alike too (sex "other" is "khác", a purpose
 * "other purpose" is "mục đích khác").
 */
static const char *const e_status[] = {
	"reported", "under_verification", "identified", "not_victim",
	"receiving_support", "reintegration_followup", "closed", NULL
};
static const char *const l_status[] = {
	N_("reported"), N_("under verification"), N_("identified"),
	N_("not a victim"), N_("receiving support"),
	N_("reintegration follow-up"), N_("closed"), NULL
};
static const char *const e_category[] = {
	"victim", "being_identified", "accompanying_child", NULL
};
static const char *const l_category[] = {
	N_("victim"), N_("being identified"), N_("accompanying child"), NULL
};
static const char *const e_legal[] = {
	"citizen", "stateless_resident", "foreigner", NULL
};
static const char *const l_legal[] = {
	N_("Vietnamese citizen"), N_("stateless person residing in Vietnam"),
	N_("foreigner trafficked in Vietnam"), NULL
};
static const char *const e_sex[] = {
	"female", "male", "other", "unknown", NULL
};
static const char *const l_sex[] = {
	N_("female"), N_("male"), N_("other"), N_("unknown"), NULL
};
static const char *const e_purpose[] = {
	"sexual_exploitation", "forced_labour", "labour_export_fraud",
	"organ_removal", "surrogacy", "forced_marriage", "other", NULL
};
static const char *const l_purpose[] = {
	N_("sexual exploitation"), N_("forced labour"),
	N_("labour-export fraud"), N_("organ removal"),
	N_("commercial surrogacy"), N_("forced marriage"),
	N_("other purpose"), NULL
};
static const char *const e_route[] = {
	"official_repatriation", "self_return", "domestic_rescue", NULL
};
static const char *const l_route[] = {
	N_("official repatriation"), N_("returned on their own"),
	N_("rescued within Vietnam"), NULL
};
static const char *const e_source[] = {
	"commune_committee", "police", "border_guard", "coast_guard",
	"mission_abroad", "social_facility", "hotline_111", "ngo",
	"self_report", NULL
};
static const char *const l_source[] = {
	N_("commune People's Committee"), N_("police"), N_("border guard"),
	N_("coast guard"), N_("mission abroad"),
	N_("social assistance facility"), N_("hotline 111"), N_("NGO"),
	N_("self-report"), NULL
};
/* Law 53/2024/QH15 Art. 37 §1 a-k, plus child protection services. */
static const char *const e_service[] = {
	"essential_needs", "medical", "interpretation", "legal_support",
	"legal_aid", "travel", "psychological", "education",
	"vocational_training", "job_placement", "hardship_allowance", "loan",
	"child_protection", NULL
};
static const char *const l_service[] = {
	N_("essential needs (a)"), N_("medical care (b)"),
	N_("interpretation (c)"), N_("legal support (d)"),
	N_("legal aid (\xc4\x91)"), N_("travel costs (e)"),
	N_("psychological support (g)"), N_("general education (h)"),
	N_("vocational training (i)"), N_("job placement (i)"),
	N_("hardship allowance (k)"), N_("loan (k)"),
	N_("child protection"), NULL
};
static const char *const e_refstatus[] = {
	"proposed", "accepted", "rejected", "completed", NULL
};
static const char *const l_refstatus[] = {
	N_("proposed"), N_("accepted"), N_("rejected"), N_("completed"), NULL
};

/* Indexed by enum schema_enum. */
static const struct {
	const char *const	*vals;
	const char *const	*labels;
	size_t			 n;
} enums[SCHEMA_ENUM__N] = {
#define E(v, l)	{ v, l, sizeof(v) / sizeof(v[0]) - 1 }
	[SCHEMA_ENUM_STATUS] = E(e_status, l_status),
	[SCHEMA_ENUM_CATEGORY] = E(e_category, l_category),
	[SCHEMA_ENUM_LEGAL_STATUS] = E(e_legal, l_legal),
	[SCHEMA_ENUM_SEX] = E(e_sex, l_sex),
	[SCHEMA_ENUM_PURPOSE] = E(e_purpose, l_purpose),
	[SCHEMA_ENUM_RETURN_ROUTE] = E(e_route, l_route),
	[SCHEMA_ENUM_SOURCE] = E(e_source, l_source),
	[SCHEMA_ENUM_SERVICE] = E(e_service, l_service),
	[SCHEMA_ENUM_REFERRAL_STATUS] = E(e_refstatus, l_refstatus),
#undef E
};

#define SAME_LEN(a, b)	_Static_assert(sizeof(a) == sizeof(b), #b)
SAME_LEN(e_status, l_status);
SAME_LEN(e_category, l_category);
SAME_LEN(e_legal, l_legal);
SAME_LEN(e_sex, l_sex);
SAME_LEN(e_purpose, l_purpose);
SAME_LEN(e_route, l_route);
SAME_LEN(e_source, l_source);
SAME_LEN(e_service, l_service);
SAME_LEN(e_refstatus, l_refstatus);
#undef SAME_LEN

static const struct fdef f_top[] = {
	{ "status", V_ENUM, F_NONULL, e_status, 0, 0 },
};
static const struct fdef f_person[] = {
	{ "category", V_ENUM, 0, e_category, 0, 0 },
	{ "principal_case", V_UUID, 0, NULL, 0, 0 },
	{ "duplicate_of", V_UUID, 0, NULL, 0, 0 },
	{ "legal_status", V_ENUM, 0, e_legal, 0, 0 },
	{ "sex", V_ENUM, 0, e_sex, 0, 0 },
	{ "birth_year", V_INT, 0, NULL, 1900, 2100 },
	{ "ethnicity", V_STR, 0, NULL, 1, 64 },
	{ "home_province", V_PROVINCE, 0, NULL, 0, 0 },
	{ "full_name", V_STR, F_IDENT, NULL, 1, 200 },
	{ "id_number", V_STR, F_IDENT, NULL, 1, 32 },
	{ "phone", V_STR, F_IDENT, NULL, 1, 32 },
	{ "address", V_STR, F_IDENT, NULL, 1, 300 },
};
static const struct fdef f_trafficking[] = {
	{ "purposes", V_ENUMSET, 0, e_purpose, 0, 0 },
	{ "destination_country", V_COUNTRY, 0, NULL, 0, 0 },
	{ "returned_on", V_DATE, 0, NULL, 0, 0 },
	{ "return_route", V_ENUM, 0, e_route, 0, 0 },
};
static const struct fdef f_intake[] = {
	{ "source", V_ENUM, 0, e_source, 0, 0 },
	{ "received_on", V_DATE, 0, NULL, 0, 0 },
	{ "facility", V_STR, 0, NULL, 1, 200 },
};

static const struct group groups[] = {
	{ "", f_top, NELEM(f_top) },
	{ "person", f_person, NELEM(f_person) },
	{ "trafficking", f_trafficking, NELEM(f_trafficking) },
	{ "intake", f_intake, NELEM(f_intake) },
};

static const struct fdef f_services[] = {
	{ "type", V_ENUM, F_REQUIRED, e_service, 0, 0 },
	{ "on", V_DATE, F_REQUIRED, NULL, 0, 0 },
	{ "provider", V_STR, 0, NULL, 1, 200 },
	{ "amount_vnd", V_INT, 0, NULL, 0, INT64_C(999999999999999) },
	{ "days", V_INT, 0, NULL, 0, 36500 },
};
static const struct fdef f_referrals[] = {
	{ "from", V_NODE, F_REQUIRED, NULL, 0, 0 },
	{ "to", V_NODE, F_REQUIRED, NULL, 0, 0 },
	{ "on", V_DATE, F_REQUIRED, NULL, 0, 0 },
	{ "reason", V_TEXT, 0, NULL, 1, 500 },
	{ "status", V_ENUM, F_REQUIRED, e_refstatus, 0, 0 },
};
/* A referral's reason, kept apart from the referral (same event id) so
 * that it is sealed, salted and erasable like any identifying value: it
 * is free text and may name the person.  The referral itself stays
 * readable for reports. */
static const struct fdef f_reasons[] = {
	{ "text", V_TEXT, F_REQUIRED, NULL, 1, 500 },
};
/* The receiving province's answer to an offer (a referral with status
 * "proposed"), under the offer's own event id: status "accepted" or
 * "rejected" (node/offer.h).  Not identifying: reports count answers. */
static const struct fdef f_answers[] = {
	{ "on", V_DATE, F_REQUIRED, NULL, 0, 0 },
	{ "status", V_ENUM, F_REQUIRED, e_refstatus, 0, 0 },
};
/* Why an offer was declined: free text, identifying like a reason. */
static const struct fdef f_declines[] = {
	{ "text", V_TEXT, F_REQUIRED, NULL, 1, 500 },
};
static const struct fdef f_notes[] = {
	{ "on", V_DATE, 0, NULL, 0, 0 },
	{ "author", V_STR, 0, NULL, 1, ENTRY_AUTHOR_MAX },
	{ "text", V_TEXT, F_REQUIRED, NULL, 1, 2000 },
};

/* Also the render order of the event arrays. */
static const struct coll colls[] = {
	{ "services", f_services, NELEM(f_services), 0, 1, NULL, NULL },
	{ "referrals", f_referrals, NELEM(f_referrals), 0, 0, NULL, NULL },
	{ "notes", f_notes, NELEM(f_notes), 1, 1, NULL, NULL },
	{ "referral_reasons", f_reasons, NELEM(f_reasons), 1, 0, "referrals",
	    "reason" },
	{ "referral_answers", f_answers, NELEM(f_answers), 0, 0, "referrals",
	    NULL },
	{ "decline_reasons", f_declines, NELEM(f_declines), 1, 0, "referrals",
	    "decline_reason" },
};

/* Labels of the groups, fields, collections and event members, in
 * sentence case for forms and column heads (msgids, see the enums). */
static const char *const field_labels[][2] = {
	{ "status", N_("Status") },
	{ "person", N_("Person") },
	{ "person.category", N_("Category") },
	{ "person.principal_case", N_("Principal case") },
	{ "person.duplicate_of", N_("Same person as case") },
	{ "person.legal_status", N_("Legal status") },
	{ "person.sex", N_("Sex") },
	{ "person.birth_year", N_("Year of birth") },
	{ "person.ethnicity", N_("Ethnicity") },
	{ "person.home_province", N_("Home province") },
	{ "person.full_name", N_("Full name") },
	{ "person.id_number", N_("Personal identification number") },
	{ "person.phone", N_("Phone number") },
	{ "person.address", N_("Address") },
	{ "trafficking", N_("Trafficking") },
	{ "trafficking.purposes", N_("Purposes of trafficking") },
	{ "trafficking.destination_country", N_("Destination country") },
	{ "trafficking.returned_on", N_("Date of return") },
	{ "trafficking.return_route", N_("Return route") },
	{ "intake", N_("Reception") },
	{ "intake.source", N_("Intake source") },
	{ "intake.received_on", N_("Date received") },
	{ "intake.facility", N_("Receiving facility") },
	{ "services", N_("Support services") },
	{ "services.type", N_("Type of support") },
	{ "services.on", N_("Date") },
	{ "services.provider", N_("Provider") },
	{ "services.amount_vnd", N_("Amount (VND)") },
	{ "services.days", N_("Days") },
	{ "referrals", N_("Referrals") },
	{ "referrals.from", N_("From") },
	{ "referrals.to", N_("To") },
	{ "referrals.on", N_("Date") },
	{ "referrals.reason", N_("Reason") },
	{ "referrals.status", N_("Referral status") },
	{ "referral_reasons", N_("Referral reasons") },
	{ "referral_reasons.text", N_("Reason") },
	{ "referral_answers", N_("Answers to referrals") },
	{ "referral_answers.on", N_("Date of the answer") },
	{ "referral_answers.status", N_("Answer") },
	{ "decline_reasons", N_("Reasons for declining") },
	{ "decline_reasons.text", N_("Reason for declining") },
	{ "notes", N_("Notes") },
	{ "notes.on", N_("Date") },
	{ "notes.author", N_("Author") },
	{ "notes.text", N_("Text") },
};

/* members() sorts into fixed arrays; enumset_check keeps a bit mask. */
_Static_assert(NELEM(f_person) <= GROUP_FIELDS_MAX, "person too big");
_Static_assert(NELEM(f_trafficking) <= GROUP_FIELDS_MAX, "group too big");
_Static_assert(NELEM(f_intake) <= GROUP_FIELDS_MAX, "group too big");
_Static_assert(NELEM(f_services) <= GROUP_FIELDS_MAX, "event too big");
_Static_assert(NELEM(f_referrals) <= GROUP_FIELDS_MAX, "event too big");
_Static_assert(NELEM(f_notes) <= GROUP_FIELDS_MAX, "event too big");
_Static_assert(NELEM(e_purpose) - 1 <= 32, "enumeration set too big");

/* Canonical JSON text under construction; the first error sticks. */
struct canon {
	struct buf	b;
	int		rc;
};

static int	 fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	 utf8_valid(const unsigned char *, size_t);

static int
fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errsz > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return E_INVAL;
}

static void
oom(void)
{
	fputs("casesync: out of memory\n", stderr);
	abort();
}

/*
 * Copies at most SHOWN_MAX bytes of user input s into buf for an error
 * message: control characters, quotes and backslashes become '?', a cut
 * never splits a UTF-8 sequence, and "..." marks the cut.
 */
static const char *
shown(const char *s, char *buf, size_t bufsz)
{
	size_t	n = 0, i;
	int	ascii;

	if (bufsz < SHOWN_MAX + 4)
		return "";
	/* Invalid UTF-8 must not reach a terminal or a log. */
	ascii = !utf8_valid((const unsigned char *)s, strlen(s));
	for (i = 0; s[i] != '\0' && n < SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\' ||
		    (ascii && c >= 0x80)) ? '?' : (char)c;
	}
	if (s[i] != '\0') {
		/* Back off to the start of a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* Joins a NULL-terminated list of names with ", " into buf. */
static const char *
joined(const char *const *vals, char *buf, size_t bufsz)
{
	size_t	i, n = 0;
	int	w;

	buf[0] = '\0';
	for (i = 0; vals[i] != NULL && n < bufsz; i++) {
		w = snprintf(buf + n, bufsz - n, "%s%s", i ? ", " : "",
		    vals[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return buf;
}

static int
enum_index(const char *const *vals, const char *s)
{
	int	i;

	for (i = 0; vals[i] != NULL; i++) {
		if (strcmp(vals[i], s) == 0)
			return i;
	}
	return -1;
}

static size_t
enum_count(const char *const *vals)
{
	size_t	n = 0;

	while (vals[n] != NULL)
		n++;
	return n;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t	i = 0, k, need;
	uint32_t cp, lo;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			lo = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			lo = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			lo = 0x10000;
		} else
			return 0;
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < lo || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DD, years 1900..2100, a date that exists. */
int
schema_date_valid(const char *s)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	i, y, m, d, dim;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	}
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1)
		return 0;
	dim = mdays[m - 1] + (m == 2 && is_leap(y));
	return d <= dim;
}

/* [A-Za-z0-9_-]{1,ENTRY_EVID_MAX} */
static int
evid_valid(const char *s)
{
	size_t	n;

	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
		if (n >= ENTRY_EVID_MAX)
			return 0;
	}
	return n > 0;
}

/*
 * Is v a JSON number holding an integer a double represents exactly?
 * cJSON keeps numbers as double: 1.5, 1e300 and NaN are all refused here.
 */
static int
json_int(const cJSON *v, int64_t *out)
{
	double	d;
	int64_t	i;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= -(double)JSON_INT_MAX && d <= (double)JSON_INT_MAX))
		return 0;
	i = (int64_t)d;
	if ((double)i != d)
		return 0;
	*out = i;
	return 1;
}

/*
 * Does the JSON text hold the escape \u0000 inside a string?  cJSON would
 * silently cut the string there, so such input is refused before parsing.
 */
static int
has_escaped_nul(const char *p, size_t len)
{
	size_t	i;
	int	in_str = 0;

	for (i = 0; i < len; i++) {
		if (!in_str) {
			if (p[i] == '"')
				in_str = 1;
			continue;
		}
		if (p[i] == '"') {
			in_str = 0;
		} else if (p[i] == '\\' && i + 1 < len) {
			if (p[i + 1] == 'u' && i + 5 < len &&
			    memcmp(p + i + 2, "0000", 4) == 0)
				return 1;
			i++;
		}
	}
	return 0;
}

/*
 * Parses exactly len bytes as one JSON value (whitespace may follow).
 * The bytes are copied first: they need not be NUL-terminated.  Returns
 * NULL when they are not one JSON value.
 */
static cJSON *
parse_exact(const char *p, size_t len, size_t *errpos)
{
	const char	*end = NULL;
	char		*copy;
	cJSON		*v;
	size_t		 i;

	if (errpos != NULL)
		*errpos = 0;
	if (p == NULL || len == 0 || memchr(p, '\0', len) != NULL)
		return NULL;
	copy = xstrndup(p, len);
	v = cJSON_ParseWithLengthOpts(copy, len, &end, 0);
	if (v == NULL) {
		if (errpos != NULL && end != NULL && end >= copy)
			*errpos = (size_t)(end - copy);
		free(copy);
		return NULL;
	}
	for (i = (size_t)(end - copy); i < len; i++) {
		if (copy[i] != ' ' && copy[i] != '\t' && copy[i] != '\n' &&
		    copy[i] != '\r') {
			if (errpos != NULL)
				*errpos = i;
			cJSON_Delete(v);
			v = NULL;
			break;
		}
	}
	free(copy);
	return v;
}

static void
canon_init(struct canon *c)
{
	buf_init(&c->b, CANON_MAX);
	c->rc = 0;
}

static void
canon_put(struct canon *c, const char *s, size_t n)
{
	if (c->rc == 0)
		c->rc = buf_append(&c->b, s, n);
}

static void
canon_puts(struct canon *c, const char *s)
{
	canon_put(c, s, strlen(s));
}

/* A JSON string, escaped exactly as cJSON_PrintUnformatted escapes it. */
static void
canon_str(struct canon *c, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*run;
	char			 esc[8];

	canon_put(c, "\"", 1);
	while (*p != '\0') {
		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\'; p++)
			;
		canon_put(c, (const char *)run, (size_t)(p - run));
		if (*p == '\0')
			break;
		switch (*p) {
		case '"':
			canon_put(c, "\\\"", 2);
			break;
		case '\\':
			canon_put(c, "\\\\", 2);
			break;
		case '\b':
			canon_put(c, "\\b", 2);
			break;
		case '\f':
			canon_put(c, "\\f", 2);
			break;
		case '\n':
			canon_put(c, "\\n", 2);
			break;
		case '\r':
			canon_put(c, "\\r", 2);
			break;
		case '\t':
			canon_put(c, "\\t", 2);
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)*p);
			canon_put(c, esc, 6);
			break;
		}
		p++;
	}
	canon_put(c, "\"", 1);
}

static void
canon_int(struct canon *c, int64_t v)
{
	char	num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	canon_puts(c, num);
}

/*
 * Checks the result of a canonical build: a value longer than
 * ENTRY_VALUE_MAX is refused, naming where.
 */
static int
canon_done(struct canon *c, const char *where, char *err, size_t errsz)
{
	if (c->rc != 0 || c->b.len > ENTRY_VALUE_MAX)
		return fail(err, errsz, "%s: too large (more than %d bytes "
		    "as JSON)", where, ENTRY_VALUE_MAX);
	return 0;
}

static const char *
type_desc(const struct fdef *f)
{
	switch (f->type) {
	case V_ENUM:
		return "a string";
	case V_ENUMSET:
		return "an array of strings";
	case V_STR:
	case V_TEXT:
		return "a string";
	case V_INT:
		return "an integer";
	case V_DATE:
		return "a date YYYY-MM-DD";
	case V_COUNTRY:
		return "an ISO 3166 alpha-2 country code";
	case V_PROVINCE:
		return "a province node id";
	case V_NODE:
		return "a node id";
	case V_UUID:
		return "a case id";
	}
	return "a value";
}

static int
str_check(const struct fdef *f, const char *s, const char *where, char *err,
    size_t errsz)
{
	size_t	n = strlen(s), i;

	if (n == 0)
		return fail(err, errsz, "%s: must not be empty", where);
	if ((int64_t)n > f->max)
		return fail(err, errsz, "%s: too long (%zu bytes, at most "
		    "%lld)", where, n, (long long)f->max);
	if (!utf8_valid((const unsigned char *)s, n))
		return fail(err, errsz, "%s: not valid UTF-8", where);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		if (f->type == V_TEXT && (c == '\n' || c == '\t' || c == '\r'))
			continue;
		return fail(err, errsz, "%s: control character at byte %zu",
		    where, i);
	}
	return 0;
}

/* An array of 1..n unique enumeration values, written in schema order. */
static int
enumset_check(const struct fdef *f, const cJSON *v, const char *where,
    struct canon *c, char *err, size_t errsz)
{
	const cJSON	*x;
	uint32_t	 seen = 0;
	size_t		 nvals = enum_count(f->vals), i;
	int		 k, first = 1, count = 0;
	char		 sb[SHOWN_MAX + 4], eb[256];

	if (!cJSON_IsArray(v))
		return fail(err, errsz, "%s: expected an array of strings",
		    where);
	cJSON_ArrayForEach(x, v) {
		if (!cJSON_IsString(x) || x->valuestring == NULL)
			return fail(err, errsz, "%s: expected an array of "
			    "strings", where);
		if ((k = enum_index(f->vals, x->valuestring)) < 0)
			return fail(err, errsz, "%s: unknown value \"%s\" "
			    "(expected %s)", where,
			    shown(x->valuestring, sb, sizeof(sb)),
			    joined(f->vals, eb, sizeof(eb)));
		if (seen & (UINT32_C(1) << k))
			return fail(err, errsz, "%s: duplicate value \"%s\"",
			    where, f->vals[k]);
		seen |= UINT32_C(1) << k;
		count++;
	}
	if (count == 0)
		return fail(err, errsz, "%s: must hold at least one value "
		    "(use null to clear)", where);
	canon_put(c, "[", 1);
	for (i = 0; i < nvals; i++) {
		if (!(seen & (UINT32_C(1) << i)))
			continue;
		if (!first)
			canon_put(c, ",", 1);
		canon_str(c, f->vals[i]);
		first = 0;
	}
	canon_put(c, "]", 1);
	return 0;
}

/*
 * Validates v against f and appends its canonical text to c.  JSON null
 * (clear the field) is allowed unless f is required or not clearable.
 * where names the value in messages.  Returns 0 or E_INVAL.
 */
static int	str_value_check(const struct fdef *, const char *,
		    const char *, char *, size_t);

static int
value_check(const struct fdef *f, const cJSON *v, const char *where,
    struct canon *c, char *err, size_t errsz)
{
	const char	*s;
	int64_t		 i;
	int		 rc;

	if (cJSON_IsNull(v)) {
		if (f->flags & (F_NONULL | F_REQUIRED))
			return fail(err, errsz, "%s: cannot be null", where);
		canon_puts(c, "null");
		return 0;
	}
	if (f->type == V_ENUMSET)
		return enumset_check(f, v, where, c, err, errsz);
	if (f->type == V_INT) {
		if (!json_int(v, &i))
			return fail(err, errsz, "%s: expected an integer",
			    where);
		if (i < f->min || i > f->max)
			return fail(err, errsz, "%s: %lld is out of range "
			    "(%lld to %lld)", where, (long long)i,
			    (long long)f->min, (long long)f->max);
		canon_int(c, i);
		return 0;
	}

	/* Every other type is a string. */
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return fail(err, errsz, "%s: expected %s", where, type_desc(f));
	s = v->valuestring;
	if ((rc = str_value_check(f, s, where, err, errsz)) != 0)
		return rc;
	canon_str(c, s);
	return 0;
}

/* The string s as the value of field f (a type other than V_INT and
 * V_ENUMSET).  Returns 0 or E_INVAL. */
static int
str_value_check(const struct fdef *f, const char *s, const char *where,
    char *err, size_t errsz)
{
	int	rc;
	char	sb[SHOWN_MAX + 4], eb[256];

	switch (f->type) {
	case V_ENUM:
		if (enum_index(f->vals, s) < 0)
			return fail(err, errsz, "%s: unknown value \"%s\" "
			    "(expected %s)", where, shown(s, sb, sizeof(sb)),
			    joined(f->vals, eb, sizeof(eb)));
		break;
	case V_STR:
	case V_TEXT:
		if ((rc = str_check(f, s, where, err, errsz)) != 0)
			return rc;
		break;
	case V_DATE:
		if (!schema_date_valid(s))
			return fail(err, errsz, "%s: \"%s\" is not a valid "
			    "date YYYY-MM-DD (years 1900 to 2100)", where,
			    shown(s, sb, sizeof(sb)));
		break;
	case V_COUNTRY:
		if (strlen(s) != 2 || s[0] < 'A' || s[0] > 'Z' ||
		    s[1] < 'A' || s[1] > 'Z')
			return fail(err, errsz, "%s: \"%s\" is not an ISO "
			    "3166 alpha-2 country code (two upper-case "
			    "letters, VN for domestic)", where,
			    shown(s, sb, sizeof(sb)));
		break;
	case V_PROVINCE:
		if (province_find(s) == NULL)
			return fail(err, errsz, "%s: unknown province \"%s\" "
			    "(expected a province node id such as lao-cai)",
			    where, shown(s, sb, sizeof(sb)));
		break;
	case V_NODE:
		if (!schema_node_known(s))
			return fail(err, errsz, "%s: unknown node \"%s\" "
			    "(expected a province node id or central)",
			    where, shown(s, sb, sizeof(sb)));
		break;
	case V_UUID:
		if (!uuid_valid(s))
			return fail(err, errsz, "%s: \"%s\" is not a case id "
			    "(36-character lowercase UUID)", where,
			    shown(s, sb, sizeof(sb)));
		break;
	case V_ENUMSET:
	case V_INT:
		break;
	}
	return 0;
}

static const struct fdef *
fdef_find(const struct fdef *f, size_t n, const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &f[i];
		}
	}
	return NULL;
}

static const struct group *
group_find(const char *name)
{
	size_t	i;

	for (i = 1; i < NELEM(groups); i++) {
		if (strcmp(groups[i].name, name) == 0)
			return &groups[i];
	}
	return NULL;
}

/* The field definition of a path ("status", "person.sex"), or NULL. */
static const struct fdef *
path_find(const char *path)
{
	const struct group	*g;
	const char		*dot;
	char			 gname[ENTRY_PATH_MAX + 1];
	size_t			 n;

	if ((dot = strchr(path, '.')) == NULL)
		return fdef_find(groups[0].f, groups[0].n, path, NULL);
	n = (size_t)(dot - path);
	if (n >= sizeof(gname))
		return NULL;
	memcpy(gname, path, n);
	gname[n] = '\0';
	if ((g = group_find(gname)) == NULL)
		return NULL;
	return fdef_find(g->f, g->n, dot + 1, NULL);
}

static const struct coll *
coll_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NELEM(colls); i++) {
		if (strcmp(colls[i].name, name) == 0)
			return &colls[i];
	}
	return NULL;
}

/* The definition of a field path or of an event member ("services.type"),
 * or NULL. */
static const struct fdef *
any_find(const char *path)
{
	const struct fdef	*f;
	const struct coll	*cl;
	const char		*dot;
	char			 cname[ENTRY_PATH_MAX + 1];
	size_t			 n;

	if ((f = path_find(path)) != NULL)
		return f;
	if ((dot = strchr(path, '.')) == NULL ||
	    (n = (size_t)(dot - path)) >= sizeof(cname))
		return NULL;
	memcpy(cname, path, n);
	cname[n] = '\0';
	if ((cl = coll_find(cname)) == NULL)
		return NULL;
	return fdef_find(cl->f, cl->n, dot + 1, NULL);
}

const char *const *
schema_enum_values(enum schema_enum e)
{
	if ((unsigned)e >= SCHEMA_ENUM__N)
		return NULL;
	return enums[e].vals;
}

const char *
schema_enum_label(enum schema_enum e, const char *value)
{
	int	i;

	if ((unsigned)e >= SCHEMA_ENUM__N || value == NULL ||
	    (i = enum_index(enums[e].vals, value)) < 0)
		return NULL;
	return enums[e].labels[i];
}

int
schema_field_enum(const char *path, enum schema_enum *out)
{
	const struct fdef	*f;

	if (path == NULL || (f = any_find(path)) == NULL || f->vals == NULL)
		return E_NOTFOUND;
	for (int e = 0; e < SCHEMA_ENUM__N; e++)
		if (enums[e].vals == f->vals) {
			*out = (enum schema_enum)e;
			return 0;
		}
	return E_NOTFOUND;
}

const char *
schema_field_label(const char *path)
{
	if (path == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(field_labels); i++)
		if (strcmp(field_labels[i][0], path) == 0)
			return field_labels[i][1];
	return NULL;
}

int
schema_field_kind(const char *path, enum schema_kind *kind, int64_t *min,
    int64_t *max)
{
	const struct fdef	*f;

	if (path == NULL || (f = any_find(path)) == NULL)
		return E_NOTFOUND;
	*min = 0;
	*max = 0;
	switch (f->type) {
	case V_ENUM:
		*kind = SCHEMA_KIND_CHOICE;
		break;
	case V_ENUMSET:
		*kind = SCHEMA_KIND_CHOICES;
		break;
	case V_STR:
		*kind = SCHEMA_KIND_LINE;
		*min = f->min;
		*max = f->max;
		break;
	case V_TEXT:
		*kind = SCHEMA_KIND_TEXT;
		*min = f->min;
		*max = f->max;
		break;
	case V_INT:
		*kind = SCHEMA_KIND_INT;
		*min = f->min;
		*max = f->max;
		break;
	case V_DATE:
		*kind = SCHEMA_KIND_DATE;
		break;
	case V_COUNTRY:
		*kind = SCHEMA_KIND_COUNTRY;
		break;
	case V_PROVINCE:
		*kind = SCHEMA_KIND_PROVINCE;
		break;
	case V_NODE:
		*kind = SCHEMA_KIND_NODE;
		break;
	case V_UUID:
		*kind = SCHEMA_KIND_CASE_ID;
		break;
	}
	return 0;
}

/* Why value_check refused v for f: the same tests, in the same order. */
static enum schema_why
why_of(const struct fdef *f, const cJSON *v)
{
	int64_t	i;
	size_t	n;

	if (cJSON_IsNull(v))
		return SCHEMA_WHY_REQUIRED;
	switch (f->type) {
	case V_ENUM:
	case V_ENUMSET:
		return SCHEMA_WHY_CHOICE;
	case V_INT:
		return json_int(v, &i) ? SCHEMA_WHY_RANGE : SCHEMA_WHY_INTEGER;
	case V_STR:
	case V_TEXT:
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return SCHEMA_WHY_OTHER;
		n = strlen(v->valuestring);
		if (n == 0)
			return SCHEMA_WHY_EMPTY;
		if ((int64_t)n > f->max)
			return SCHEMA_WHY_TOO_LONG;
		return SCHEMA_WHY_CHARS;
	case V_DATE:
		return SCHEMA_WHY_DATE;
	case V_COUNTRY:
		return SCHEMA_WHY_COUNTRY;
	case V_PROVINCE:
	case V_NODE:
		return SCHEMA_WHY_PROVINCE;
	case V_UUID:
		return SCHEMA_WHY_CASE_ID;
	}
	return SCHEMA_WHY_OTHER;
}

int
schema_value_check(const char *path, const char *json, size_t len,
    struct schema_problem *p)
{
	const struct fdef	*f;
	struct canon		 c;
	cJSON			*v;
	size_t			 errpos;
	int			 rc;

	memset(p, 0, sizeof(*p));
	if (path == NULL || (f = any_find(path)) == NULL)
		return E_NOTFOUND;
	p->min = f->min;
	p->max = f->max;
	if ((v = parse_exact(json, len, &errpos)) == NULL) {
		p->why = SCHEMA_WHY_OTHER;
		snprintf(p->msg, sizeof(p->msg), "%s: not valid JSON", path);
		return E_INVAL;
	}
	/* A required member, or a field that cannot be cleared, is
	 * "required" when it is null: the form's empty input. */
	canon_init(&c);
	rc = value_check(f, v, path, &c, p->msg, sizeof(p->msg));
	if (rc == 0)
		rc = canon_done(&c, path, p->msg, sizeof(p->msg));
	if (rc != 0)
		p->why = rc == E_INVAL ? why_of(f, v) : SCHEMA_WHY_OTHER;
	buf_release(&c.b);
	cJSON_Delete(v);
	return rc != 0 ? E_INVAL : 0;
}

const char *
schema_why_text(enum schema_why why)
{
	switch (why) {
	case SCHEMA_WHY_NONE:
		return "";
	case SCHEMA_WHY_REQUIRED:
		return N_("Required.");
	case SCHEMA_WHY_CHOICE:
		return N_("Choose one of the values in the list.");
	case SCHEMA_WHY_EMPTY:
		return N_("Must not be empty.");
	case SCHEMA_WHY_TOO_LONG:
		return N_("Too long: at most %lld bytes (a letter with "
		    "diacritics takes 2 or 3).");
	case SCHEMA_WHY_CHARS:
		return N_("Contains characters that are not allowed here.");
	case SCHEMA_WHY_INTEGER:
		return N_("Write a whole number, digits only.");
	case SCHEMA_WHY_RANGE:
		return N_("Must be a whole number from %lld to %lld.");
	case SCHEMA_WHY_DATE:
		return N_("Not a real date: write the day as dd/mm/yyyy or "
		    "yyyy-mm-dd, years 1900 to 2100.");
	case SCHEMA_WHY_COUNTRY:
		return N_("Write the country's two-letter code (ISO 3166), "
		    "such as CN, KH, LA, MM; VN within Vietnam.");
	case SCHEMA_WHY_PROVINCE:
		return N_("Choose a province from the list.");
	case SCHEMA_WHY_CASE_ID:
		return N_("Not a case id: copy the 36 characters shown on the "
		    "case's page.");
	case SCHEMA_WHY_OTHER:
		break;
	}
	return N_("This value is not accepted.");
}

const char *const *
schema_intake_required(void)
{
	/* The report counts a case by its year of reception, category and
	 * sex (docs/REPORTS.md); an intake without them is not counted. */
	static const char *const req[] = {
		"person.category", "person.sex", "intake.received_on", NULL
	};

	return req;
}

/* The lifecycle's steps, from -> to (docs/SCHEMA.md). */
static const char *const lifecycle[][2] = {
	{ "", "reported" },
	{ "reported", "under_verification" },
	{ "under_verification", "identified" },
	{ "under_verification", "not_victim" },
	{ "identified", "receiving_support" },
	{ "not_victim", "closed" },
	{ "receiving_support", "reintegration_followup" },
	{ "reintegration_followup", "closed" },
};

int
schema_status_allowed(const char *from, const char *to)
{
	if (from == NULL)
		from = "";
	if (to == NULL)
		return 0;
	for (size_t i = 0; i < NELEM(lifecycle); i++)
		if (strcmp(lifecycle[i][0], from) == 0 &&
		    strcmp(lifecycle[i][1], to) == 0)
			return 1;
	return 0;
}

size_t
schema_status_next(const char *from,
    const char *out[SCHEMA_STATUS_NEXT_MAX + 1])
{
	size_t n = 0;

	if (from == NULL)
		from = "";
	for (size_t i = 0; i < NELEM(lifecycle); i++)
		if (strcmp(lifecycle[i][0], from) == 0 &&
		    n < SCHEMA_STATUS_NEXT_MAX)
			out[n++] = lifecycle[i][1];
	out[n] = NULL;
	return n;
}

/*
 * Writes "prefix.name" (or "name" when prefix is empty) into where, quoting
 * name as user input.
 */
static void
where_fmt(char *where, const char *prefix, const char *name)
{
	char		 sb[SHOWN_MAX + 4];
	const char	*nm = shown(name, sb, sizeof(sb));
	size_t		 pl = strlen(prefix), nl = strlen(nm);
	int		 n;

	/* Byte copies when it fits: this runs for every member of every
	 * value of every entry applied, and snprintf cost more than the
	 * check itself. */
	if (pl + 1 + nl < WHERE_MAX) {
		memcpy(where, prefix, pl);
		if (pl > 0)
			where[pl++] = '.';
		memcpy(where + pl, nm, nl + 1);
		return;
	}
	n = snprintf(where, WHERE_MAX, "%s%s%s", prefix, *prefix ? "." : "",
	    nm);
	if (n < 0 || n >= WHERE_MAX)
		memcpy(where + WHERE_MAX - 4, "...", 4);
}

/*
 * Sorts the members of object o into slot[] by the names of f[0..n-1].
 * When idp is not NULL an "id" member goes there.  Unknown and duplicate
 * keys are E_INVAL naming them under prefix.
 */
static int
members(const cJSON *o, const struct fdef *f, size_t n, const cJSON **slot,
    const cJSON **idp, const char *prefix, char *err, size_t errsz)
{
	const cJSON	*m;
	char		 where[WHERE_MAX];
	size_t		 k;

	memset(slot, 0, n * sizeof(*slot));
	if (idp != NULL)
		*idp = NULL;
	cJSON_ArrayForEach(m, o) {
		const char *key = m->string != NULL ? m->string : "";

		where_fmt(where, prefix, key);
		if (idp != NULL && strcmp(key, "id") == 0) {
			if (*idp != NULL)
				return fail(err, errsz, "%s: duplicate key",
				    where);
			*idp = m;
			continue;
		}
		if (fdef_find(f, n, key, &k) == NULL)
			return fail(err, errsz, "%s: unknown field", where);
		if (slot[k] != NULL)
			return fail(err, errsz, "%s: duplicate key", where);
		slot[k] = m;
	}
	return 0;
}

/*
 * Validates the event object o of collection c and writes its canonical
 * text (members in schema order, absent and null members omitted, no "id")
 * into out.  With input set, o may carry an "id" member, returned in *idp;
 * otherwise (an op's value) "id" is an unknown field.
 */
static int
event_check(const struct coll *c, const cJSON *o, const char *prefix,
    int input, const cJSON **idp, struct canon *out, char *err, size_t errsz)
{
	const cJSON	*slot[GROUP_FIELDS_MAX];
	char		 where[WHERE_MAX];
	size_t		 i;
	int		 rc, first = 1;

	if (!cJSON_IsObject(o))
		return fail(err, errsz, "%s: expected an object", prefix);
	if ((rc = members(o, c->f, c->n, slot, input ? idp : NULL, prefix,
	    err, errsz)) != 0)
		return rc;
	canon_put(out, "{", 1);
	for (i = 0; i < c->n; i++) {
		where_fmt(where, prefix, c->f[i].name);
		if (slot[i] == NULL || cJSON_IsNull(slot[i])) {
			if (c->f[i].flags & F_REQUIRED)
				return fail(err, errsz, "%s: required", where);
			continue;
		}
		if (!first)
			canon_put(out, ",", 1);
		first = 0;
		canon_str(out, c->f[i].name);
		canon_put(out, ":", 1);
		if ((rc = value_check(&c->f[i], slot[i], where, out, err,
		    errsz)) != 0)
			return rc;
	}
	canon_put(out, "}", 1);
	return canon_done(out, prefix, err, errsz);
}

static int
add_set(struct entry *e, const char *path, const struct canon *c,
    char *err, size_t errsz)
{
	struct op	*o;

	if ((o = entry_add_op(e, OP_SET)) == NULL) {
		fail(err, errsz, "too many changes for one entry (at most %d)",
		    ENTRY_MAX_OPS);
		return E_TOOBIG;
	}
	strlcpy_(o->path, path, sizeof(o->path));
	if (op_set_value(o, (const char *)c->b.data, c->b.len) != 0)
		return fail(err, errsz, "%s: too large", path);
	return 0;
}

/* The scalar fields of one group (an object in the input). */
static int
group_ops(const struct group *g, const cJSON *o, struct entry *e,
    const char *case_id, char *err, size_t errsz)
{
	const cJSON	*slot[GROUP_FIELDS_MAX];
	struct canon	 c;
	char		 path[ENTRY_PATH_MAX + 1];
	size_t		 i;
	int		 rc;

	if (!cJSON_IsObject(o))
		return fail(err, errsz, "%s: expected an object", g->name);
	if ((rc = members(o, g->f, g->n, slot, NULL, g->name, err,
	    errsz)) != 0)
		return rc;
	for (i = 0; i < g->n; i++) {
		if (slot[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s.%s", g->name, g->f[i].name);
		canon_init(&c);
		rc = value_check(&g->f[i], slot[i], path, &c, err, errsz);
		if (rc == 0)
			rc = canon_done(&c, path, err, errsz);
		if (rc == 0 && g->f[i].type == V_UUID && *case_id != '\0' &&
		    cJSON_IsString(slot[i]) &&
		    strcmp(slot[i]->valuestring, case_id) == 0)
			rc = fail(err, errsz, "%s: a case cannot be its own "
			    "principal case", path);
		if (rc == 0)
			rc = add_set(e, path, &c, err, errsz);
		buf_release(&c.b);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
evid_generate(char *out)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		r[16];
	size_t			i;

	random_bytes(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 0xf];
	}
	out[2 * sizeof(r)] = '\0';
}

/* The events of one collection (an array in the input). */
static int
event_ops(const struct coll *cl, const cJSON *a, struct entry *e,
    size_t first_op, char *err, size_t errsz)
{
	const cJSON	*x, *idv;
	struct canon	 c;
	struct op	*o;
	char		 prefix[WHERE_MAX], where[WHERE_MAX];
	char		 evid[ENTRY_EVID_MAX + 1];
	size_t		 n = 0, k;
	int		 rc;

	if (!cJSON_IsArray(a))
		return fail(err, errsz, "%s: expected an array of objects",
		    cl->name);
	cJSON_ArrayForEach(x, a) {
		snprintf(prefix, sizeof(prefix), "%s[%zu]", cl->name, n++);
		idv = NULL;
		o = NULL;
		canon_init(&c);
		rc = event_check(cl, x, prefix, 1, &idv, &c, err, errsz);
		if (rc == 0 && idv != NULL) {
			where_fmt(where, prefix, "id");
			if (!cJSON_IsString(idv) || idv->valuestring == NULL ||
			    !evid_valid(idv->valuestring))
				rc = fail(err, errsz, "%s: expected 1 to %d "
				    "characters from A-Z a-z 0-9 _ -", where,
				    ENTRY_EVID_MAX);
			else
				strlcpy_(evid, idv->valuestring,
				    sizeof(evid));
		} else if (rc == 0)
			evid_generate(evid);
		/* Ids must be unique within the collection. */
		for (k = first_op; rc == 0 && k < e->nops; k++) {
			if (e->ops[k].type == OP_EVENT &&
			    strcmp(e->ops[k].path, cl->name) == 0 &&
			    strcmp(e->ops[k].evid, evid) == 0)
				rc = fail(err, errsz, "%s.id: duplicate event "
				    "id \"%s\"", prefix, evid);
		}
		if (rc == 0 && (o = entry_add_op(e, OP_EVENT)) == NULL) {
			fail(err, errsz, "too many changes for one entry "
			    "(at most %d)", ENTRY_MAX_OPS);
			rc = E_TOOBIG;
		} else if (rc == 0) {
			strlcpy_(o->path, cl->name, sizeof(o->path));
			strlcpy_(o->evid, evid, sizeof(o->evid));
			if (op_set_value(o, (const char *)c.b.data,
			    c.b.len) != 0)
				rc = fail(err, errsz, "%s: too large", prefix);
		}
		buf_release(&c.b);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int	ops_from_json(const char *, size_t, struct entry *, char *,
		    char *, size_t, int);

int
schema_ops_from_json(const char *json, size_t len, struct entry *e,
    char *id_out, char *err, size_t errsz)
{
	return ops_from_json(json, len, e, id_out, err, errsz, 0);
}

int
schema_ops_from_export(const char *json, size_t len, struct entry *e,
    char *id_out, char *err, size_t errsz)
{
	return ops_from_json(json, len, e, id_out, err, errsz, 1);
}

/* Is key one that `export` writes but a case cannot be given? */
static int
export_only_key(const char *key)
{
	return strcmp(key, "owner") == 0 || strcmp(key, "referrals") == 0 ||
	    strcmp(key, "erased") == 0 || strcmp(key, "conflicts") == 0;
}

/* from_export: ignore the keys that export_only_key() names. */
static int
ops_from_json(const char *json, size_t len, struct entry *e, char *id_out,
    char *err, size_t errsz, int from_export)
{
	/* Top-level members in the order their ops are emitted. */
	const cJSON	*id = NULL, *status = NULL;
	const cJSON	*grp[NELEM(groups)], *evs[NELEM(colls)];
	const cJSON	*m;
	const struct coll *cl;
	const struct group *g;
	cJSON		*root;
	struct canon	 c;
	size_t		 pos, i, first_op = e->nops;
	char		 where[WHERE_MAX];
	int		 rc = 0;

	id_out[0] = '\0';
	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (len > SCHEMA_INPUT_MAX) {
		fail(err, errsz, "input too large (%zu bytes, at most %d)",
		    len, SCHEMA_INPUT_MAX);
		return E_TOOBIG;
	}
	if (json == NULL || memchr(json, '\0', len) != NULL)
		return fail(err, errsz, "input holds a NUL byte");
	if (has_escaped_nul(json, len))
		return fail(err, errsz, "a string holds \\u0000");
	if ((root = parse_exact(json, len, &pos)) == NULL)
		return fail(err, errsz, "not valid JSON (near byte %zu)", pos);
	if (!cJSON_IsObject(root)) {
		rc = fail(err, errsz, "expected one JSON object");
		goto out;
	}

	memset(grp, 0, sizeof(grp));
	memset(evs, 0, sizeof(evs));
	cJSON_ArrayForEach(m, root) {
		const char *key = m->string != NULL ? m->string : "";
		const cJSON **slot = NULL;

		where_fmt(where, "", key);
		if (from_export && export_only_key(key))
			continue;
		if (strcmp(key, "id") == 0)
			slot = &id;
		else if (strcmp(key, "status") == 0)
			slot = &status;
		else if ((g = group_find(key)) != NULL)
			slot = &grp[g - groups];
		else if ((cl = coll_find(key)) != NULL && cl->input)
			slot = &evs[cl - colls];
		else if (strcmp(key, "owner") == 0 ||
		    strcmp(key, "referrals") == 0) {
			rc = fail(err, errsz, "%s: cannot be set here; use "
			    "`casesync case transfer`", key);
			goto out;
		} else if (strcmp(key, "erased") == 0 ||
		    strcmp(key, "conflicts") == 0) {
			rc = fail(err, errsz, "%s: computed by casesync, "
			    "cannot be set", key);
			goto out;
		} else {
			rc = fail(err, errsz, "%s: unknown field", where);
			goto out;
		}
		if (*slot != NULL) {
			rc = fail(err, errsz, "%s: duplicate key", where);
			goto out;
		}
		*slot = m;
	}

	if (id != NULL) {
		if (!cJSON_IsString(id) || id->valuestring == NULL ||
		    !uuid_valid(id->valuestring)) {
			rc = fail(err, errsz, "id: expected a case id "
			    "(36-character lowercase UUID)");
			goto out;
		}
		strlcpy_(id_out, id->valuestring, ENTRY_CASE_ID_LEN + 1);
	}
	if (status != NULL) {
		canon_init(&c);
		rc = value_check(&groups[0].f[0], status, "status", &c, err,
		    errsz);
		if (rc == 0)
			rc = canon_done(&c, "status", err, errsz);
		if (rc == 0)
			rc = add_set(e, "status", &c, err, errsz);
		buf_release(&c.b);
		if (rc != 0)
			goto out;
	}
	for (i = 1; i < NELEM(groups); i++) {
		if (grp[i] != NULL &&
		    (rc = group_ops(&groups[i], grp[i], e, id_out, err,
		    errsz)) != 0)
			goto out;
	}
	for (i = 0; i < NELEM(colls); i++) {
		if (evs[i] != NULL &&
		    (rc = event_ops(&colls[i], evs[i], e, first_op, err,
		    errsz)) != 0)
			goto out;
	}
	if (e->nops == first_op)
		rc = fail(err, errsz, "nothing to change");
out:
	cJSON_Delete(root);
	return rc;
}

int
schema_check_op_cjson(const struct op *o, char *err, size_t errsz)
{
	const struct fdef	*f = NULL;
	const struct coll	*cl = NULL;
	cJSON			*v;
	struct canon		 c;
	char			 sb[SHOWN_MAX + 4], where[WHERE_MAX];
	int			 rc;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	switch (o->type) {
	case OP_ERASE:
		return 0;
	case OP_TRANSFER:
		if (!schema_node_known(o->to))
			return fail(err, errsz, "transfer: unknown node \"%s\"",
			    shown(o->to, sb, sizeof(sb)));
		return 0;
	case OP_SET:
		if ((f = path_find(o->path)) == NULL)
			return fail(err, errsz, "%s: unknown field",
			    shown(o->path, sb, sizeof(sb)));
		snprintf(where, sizeof(where), "%s", o->path);
		break;
	case OP_EVENT:
		if ((cl = coll_find(o->path)) == NULL)
			return fail(err, errsz, "%s: unknown collection",
			    shown(o->path, sb, sizeof(sb)));
		if (!evid_valid(o->evid))
			return fail(err, errsz, "%s: invalid event id \"%s\"",
			    o->path, shown(o->evid, sb, sizeof(sb)));
		snprintf(where, sizeof(where), "%s[%s]", o->path, o->evid);
		break;
	default:
		return fail(err, errsz, "unknown op type %d", (int)o->type);
	}

	if (o->value == NULL || o->value_len > ENTRY_VALUE_MAX ||
	    (v = parse_exact(o->value, o->value_len, NULL)) == NULL)
		return fail(err, errsz, "%s: value is not JSON", where);
	canon_init(&c);
	if (f != NULL) {
		rc = value_check(f, v, where, &c, err, errsz);
		if (rc == 0)
			rc = canon_done(&c, where, err, errsz);
	} else
		rc = event_check(cl, v, where, 0, NULL, &c, err, errsz);
	if (rc == 0 && (c.b.len != o->value_len ||
	    memcmp(c.b.data, o->value, c.b.len) != 0))
		rc = fail(err, errsz, "%s: value is not in canonical form",
		    where);
	buf_release(&c.b);
	cJSON_Delete(v);
	return rc;
}

/*
 * The common values, checked on their bytes: null, an integer, and a
 * string without escapes or control characters, which is canonical as it
 * stands (canon_str escapes nothing else).  FAST_UNSURE for anything else
 * (objects and arrays: below; escapes; any other shape), which
 * schema_check_op_cjson then judges.  Where this decides, it gives the cJSON path's answer and
 * reason: tests/fuzz/fuzz_validate.c checks that they always agree.
 */
#define FAST_UNSURE	(-1)

/* An integer in canonical form with at most 15 digits (so exact as the
 * double cJSON makes of it, and within JSON_INT_MAX); not "-0". */
static int
int_token(const char *v, size_t n, int64_t *out)
{
	size_t	i = 0;
	int64_t	x = 0;

	if (n > 0 && v[0] == '-')
		i = 1;
	if (i >= n || n - i > 15 || (v[i] == '0' && n - i > 1) ||
	    (i == 1 && v[1] == '0'))
		return 0;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 0;
		x = x * 10 + (v[i] - '0');
	}
	*out = v[0] == '-' ? -x : x;
	return 1;
}

static int
value_fast(const struct fdef *f, const char *where, const char *v, size_t n,
    char *err, size_t errsz)
{
	char	s[ENTRY_VALUE_MAX + 1];
	int64_t	i;

	if (n == 4 && memcmp(v, "null", 4) == 0) {
		if (f->flags & (F_NONULL | F_REQUIRED))
			return fail(err, errsz, "%s: cannot be null", where);
		return 0;
	}
	if (f->type == V_ENUMSET)
		return FAST_UNSURE;
	if (f->type == V_INT) {
		if (!int_token(v, n, &i))
			return FAST_UNSURE;
		if (i < f->min || i > f->max)
			return fail(err, errsz, "%s: %lld is out of range "
			    "(%lld to %lld)", where, (long long)i,
			    (long long)f->min, (long long)f->max);
		return 0;
	}
	if (n < 2 || n > ENTRY_VALUE_MAX || v[0] != '"' || v[n - 1] != '"')
		return FAST_UNSURE;
	for (size_t k = 1; k + 1 < n; k++)
		if ((unsigned char)v[k] < 0x20 || v[k] == '"' || v[k] == '\\')
			return FAST_UNSURE;
	memcpy(s, v + 1, n - 2);
	s[n - 2] = '\0';
	return str_value_check(f, s, where, err, errsz);
}

/*
 * The values below are only ever accepted on their bytes, never refused:
 * whatever is not plainly valid and canonical is FAST_UNSURE, so every
 * refusal and its reason come from the cJSON path.
 */

/* A string token at v[0] without escapes or control characters: its
 * length with both quotes, or 0. */
static size_t
plain_str_token(const char *v, size_t n)
{
	size_t	k;

	if (n < 2 || v[0] != '"')
		return 0;
	for (k = 1; k < n; k++) {
		if (v[k] == '"')
			return k + 1;
		if ((unsigned char)v[k] < 0x20 || v[k] == '\\')
			return 0;
	}
	return 0;
}

/* An enumeration set in canonical form: at least one known value, in
 * vals[] order, none twice, no escapes, no space.  1 if so, else 0. */
static int
enumset_plain(const struct fdef *f, const char *v, size_t n)
{
	char	s[ENTRY_VALUE_MAX + 1];
	size_t	k = 1, t;
	int	i, last = -1;

	if (n < 4 || v[0] != '[' || v[n - 1] != ']')
		return 0;
	for (;;) {
		if ((t = plain_str_token(v + k, n - 1 - k)) == 0)
			return 0;
		memcpy(s, v + k + 1, t - 2);
		s[t - 2] = '\0';
		if ((i = enum_index(f->vals, s)) <= last)
			return 0;
		last = i;
		k += t;
		if (k == n - 1)
			return 1;
		if (v[k] != ',')
			return 0;
		k++;
	}
}

/* One value of field f, accepted as it stands: 1 if valid and
 * canonical, else 0 (unsure).  Not null: canonical events omit it. */
static int
member_plain(const struct fdef *f, const char *v, size_t n)
{
	char	e[8];
	int	rc;

	if (n == 4 && memcmp(v, "null", 4) == 0)
		return 0;
	if (f->type == V_ENUMSET)
		return enumset_plain(f, v, n);
	rc = value_fast(f, "", v, n, e, sizeof(e));
	return rc == 0;
}

/* The extent of the member value at v[0]: a plain string, a flat array of
 * plain strings, or a run of number characters.  0 when unsure. */
static size_t
member_extent(const char *v, size_t n)
{
	size_t	k, t;

	if (n == 0)
		return 0;
	if (v[0] == '"')
		return plain_str_token(v, n);
	if (v[0] == '[') {
		for (k = 1; k < n; k += t) {
			if (v[k] == ']')
				return k + 1;
			if (v[k] == ',') {
				t = 1;
				continue;
			}
			if ((t = plain_str_token(v + k, n - k)) == 0)
				return 0;
		}
		return 0;
	}
	for (k = 0; k < n && (v[k] == '-' || (v[k] >= '0' && v[k] <= '9'));
	    k++)
		;
	return k;
}

/* An event object of collection c in canonical form: members in schema
 * order, each plainly valid, no "id", no null, every required member
 * present.  1 if so, else 0 (unsure). */
static int
event_plain(const struct coll *c, const char *v, size_t n)
{
	size_t	k = 1, j = 0, t, nl, x;
	int	any = 0;

	if (n < 2 || v[0] != '{' || v[n - 1] != '}')
		return 0;
	if (n == 2)
		goto required;
	for (;;) {
		if ((t = plain_str_token(v + k, n - 1 - k)) == 0)
			return 0;
		nl = t - 2;
		/* The next member in schema order with this name. */
		while (j < c->n && (strlen(c->f[j].name) != nl ||
		    memcmp(c->f[j].name, v + k + 1, nl) != 0)) {
			if (c->f[j].flags & F_REQUIRED)
				return 0;
			j++;
		}
		if (j == c->n)
			return 0;
		k += t;
		if (k >= n - 1 || v[k] != ':')
			return 0;
		k++;
		if ((x = member_extent(v + k, n - 1 - k)) == 0 ||
		    !member_plain(&c->f[j], v + k, x))
			return 0;
		k += x;
		j++;
		any = 1;
		if (k == n - 1)
			break;
		if (v[k] != ',')
			return 0;
		k++;
	}
required:
	for (; j < c->n; j++)
		if (c->f[j].flags & F_REQUIRED)
			return 0;
	return any || n == 2;
}

int
schema_check_op(const struct op *o, char *err, size_t errsz)
{
	const struct fdef	*f;
	const struct coll	*cl;
	int			 rc;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	if (o->type == OP_SET && o->value != NULL &&
	    o->value_len <= ENTRY_VALUE_MAX &&
	    strlen(o->path) < WHERE_MAX && (f = path_find(o->path)) != NULL) {
		if (f->type == V_ENUMSET) {
			if (enumset_plain(f, o->value, o->value_len))
				return 0;
		} else if ((rc = value_fast(f, o->path, o->value,
		    o->value_len, err, errsz)) != FAST_UNSURE)
			return rc;
	}
	if (o->type == OP_EVENT && o->value != NULL &&
	    o->value_len <= ENTRY_VALUE_MAX &&
	    (cl = coll_find(o->path)) != NULL && evid_valid(o->evid) &&
	    event_plain(cl, o->value, o->value_len))
		return 0;
	return schema_check_op_cjson(o, err, errsz);
}

int
schema_path_identifying(const char *path)
{
	const struct fdef	*f;

	return path != NULL && (f = path_find(path)) != NULL &&
	    (f->flags & F_IDENT) != 0;
}

int
schema_coll_identifying(const char *coll)
{
	const struct coll	*cl;

	return coll != NULL && (cl = coll_find(coll)) != NULL &&
	    cl->identifying;
}

int
schema_node_known(const char *s)
{
	return s != NULL &&
	    (strcmp(s, "central") == 0 || province_find(s) != NULL);
}

/* cJSON reports allocation failure as NULL; our policy is to abort. */
static cJSON *
jnew(cJSON *item)
{
	if (item == NULL)
		oom();
	return item;
}

static void
jadd(cJSON *obj, const char *key, cJSON *item)
{
	if (!cJSON_AddItemToObject(obj, key, jnew(item)))
		oom();
}

static void
jpush(cJSON *arr, cJSON *item)
{
	if (!cJSON_AddItemToArray(arr, jnew(item)))
		oom();
}

/* Parses a stored value (not NUL-terminated), or NULL when it is not JSON,
 * e.g. still ciphertext. */
static cJSON *
stored_parse(const uint8_t *p, size_t len)
{
	if (p == NULL || len == 0 || len > ENTRY_VALUE_MAX)
		return NULL;
	return parse_exact((const char *)p, len, NULL);
}

static const struct field *
field_find(const struct case_state *s, const char *path)
{
	size_t	i;

	for (i = 0; i < s->nfields; i++) {
		if (strcmp(s->fields[i].path, path) == 0)
			return &s->fields[i];
	}
	return NULL;
}

static int
head_same(const struct head *a, const struct head *b)
{
	if (a->value_len != b->value_len)
		return 0;
	if (a->value_len == 0)
		return 1;
	if (a->value == NULL || b->value == NULL)
		return a->value == b->value;
	return memcmp(a->value, b->value, a->value_len) == 0;
}

static int
field_conflicted(const struct field *f)
{
	size_t	i;

	for (i = 1; i < f->nheads; i++) {
		if (!head_same(&f->heads[0], &f->heads[i]))
			return 1;
	}
	return 0;
}

/* Adds the current value of path to obj under key, unless it is unset. */
static void
render_field(cJSON *obj, const struct case_state *s, const char *path,
    const char *key)
{
	const struct field	*f;
	const struct head	*h;
	cJSON			*v;

	if ((f = field_find(s, path)) == NULL || f->nheads == 0)
		return;
	/* Heads are sorted ascending by stamp: the last one wins. */
	h = &f->heads[f->nheads - 1];
	if (h->value == NULL || h->value_len == 0)
		return;
	if (h->value_len == 4 && memcmp(h->value, "null", 4) == 0)
		return;
	if ((v = stored_parse(h->value, h->value_len)) == NULL)
		v = jnew(cJSON_CreateString("[encrypted]"));
	jadd(obj, key, v);
}

/* The current value of path, parsed, or NULL when it is unset, cleared or
 * sealed.  Caller owns the result. */
static cJSON *
current_json(const struct case_state *s, const char *path)
{
	const struct field	*f;
	const struct head	*h;
	cJSON			*v;

	if ((f = field_find(s, path)) == NULL || f->nheads == 0)
		return NULL;
	/* Heads are sorted ascending by stamp: the last one wins. */
	h = &f->heads[f->nheads - 1];
	v = stored_parse(h->value, h->value_len);
	if (v != NULL && cJSON_IsNull(v)) {
		cJSON_Delete(v);
		v = NULL;
	}
	return v;
}

static int
json_str_out(cJSON *v, char *buf, size_t sz)
{
	int	ok = 0;

	if (cJSON_IsString(v) && v->valuestring != NULL &&
	    strlen(v->valuestring) < sz) {
		memcpy(buf, v->valuestring, strlen(v->valuestring) + 1);
		ok = 1;
	}
	cJSON_Delete(v);
	return ok;
}

int
schema_get_str(const struct case_state *s, const char *path, char *buf,
    size_t sz)
{
	return json_str_out(current_json(s, path), buf, sz);
}

int
schema_get_text(const struct case_state *s, const char *path, char *buf,
    size_t sz)
{
	cJSON		*v = current_json(s, path);
	const cJSON	*m;
	struct buf	 b;
	int64_t		 i;
	int		 ok = 0;

	buf[0] = '\0';
	if (v == NULL || sz == 0)
		goto out;
	buf_init(&b, sz);
	if (cJSON_IsString(v) && v->valuestring != NULL)
		ok = buf_append_str(&b, v->valuestring) == 0;
	else if (json_int(v, &i))
		ok = buf_printf(&b, "%lld", (long long)i) == 0;
	else if (cJSON_IsArray(v)) {
		ok = 1;
		cJSON_ArrayForEach(m, v) {
			if (!cJSON_IsString(m) || (m != v->child &&
			    buf_append_str(&b, ",") != 0) ||
			    buf_append_str(&b, m->valuestring) != 0)
				ok = 0;
		}
	}
	if (ok && b.len < sz) {
		memcpy(buf, b.data, b.len);
		buf[b.len] = '\0';
	} else
		ok = 0;
	buf_release(&b);
out:
	cJSON_Delete(v);
	return ok;
}

int
schema_get_int(const struct case_state *s, const char *path, int64_t *out)
{
	cJSON	*v = current_json(s, path);
	int	 ok;

	ok = v != NULL && json_int(v, out);
	cJSON_Delete(v);
	return ok;
}

uint32_t
schema_get_set(const struct case_state *s, const char *path)
{
	const struct fdef	*f = path_find(path);
	const cJSON		*m;
	cJSON			*v;
	uint32_t		 mask = 0;
	int			 i;

	if (f == NULL || f->type != V_ENUMSET)
		return 0;
	v = current_json(s, path);
	cJSON_ArrayForEach(m, v) {
		if (cJSON_IsString(m) &&
		    (i = enum_index(f->vals, m->valuestring)) >= 0)
			mask |= UINT32_C(1) << i;
	}
	cJSON_Delete(v);
	return mask;
}

int
schema_event_str(const struct event *ev, const char *member, char *buf,
    size_t sz)
{
	cJSON	*v = stored_parse(ev->value, ev->value_len);
	cJSON	*m;

	if (!cJSON_IsObject(v)) {
		cJSON_Delete(v);
		return 0;
	}
	m = cJSON_DetachItemFromObjectCaseSensitive(v, member);
	cJSON_Delete(v);
	return json_str_out(m, buf, sz);
}

int
schema_event_int(const struct event *ev, const char *member, int64_t *out)
{
	cJSON	*v = stored_parse(ev->value, ev->value_len);
	int	 ok;

	ok = cJSON_IsObject(v) &&
	    json_int(cJSON_GetObjectItemCaseSensitive(v, member), out);
	cJSON_Delete(v);
	return ok;
}

static int
event_order(const void *a, const void *b)
{
	const struct event *x = *(const struct event *const *)a;
	const struct event *y = *(const struct event *const *)b;
	int	c;

	if ((c = stamp_cmp(&x->st, &y->st)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

/*
 * Adds to obj, the rendered event id of collection cl, the "text" of each
 * event joined into it (the same id in a collection whose `into` is cl),
 * unless that value is absent, sealed or erased.
 */
static void
render_joined(cJSON *obj, const struct case_state *s, const struct coll *cl,
    const char *id)
{
	for (size_t k = 0; k < NELEM(colls); k++) {
		const cJSON	*t;
		cJSON		*v;

		if (colls[k].into == NULL || strcmp(colls[k].into,
		    cl->name) != 0)
			continue;
		for (size_t i = 0; i < s->nevents; i++) {
			if (strcmp(s->events[i].coll, colls[k].name) != 0 ||
			    strcmp(s->events[i].id, id) != 0)
				continue;
			v = stored_parse(s->events[i].value,
			    s->events[i].value_len);
			if (colls[k].as == NULL) {
				/* An answer: the referral shows its status
				 * and the day of the answer. */
				const cJSON *a = cJSON_GetObjectItemCaseSensitive(
				    v, "status"), *on =
				    cJSON_GetObjectItemCaseSensitive(v, "on");

				if (cJSON_IsString(a) && cJSON_IsString(on)) {
					cJSON_ReplaceItemInObjectCaseSensitive(
					    obj, "status", cJSON_CreateString(
					    a->valuestring));
					jadd(obj, "answered_on",
					    cJSON_CreateString(on->valuestring));
				}
				cJSON_Delete(v);
				continue;
			}
			t = cJSON_GetObjectItemCaseSensitive(v, "text");
			if (cJSON_IsString(t) && cJSON_GetObjectItem(obj,
			    colls[k].as) == NULL)
				jadd(obj, colls[k].as,
				    cJSON_CreateString(t->valuestring));
			cJSON_Delete(v);
		}
	}
}

/*
 * The events of collection cl as an array of objects, "id" first, in the
 * order they were recorded (stamp, then id): the same on every node.
 */
static cJSON *
render_events(const struct case_state *s, const struct coll *cl)
{
	const struct event	**ev;
	cJSON			*arr, *obj, *v, *m;
	size_t			 i, n = 0;

	arr = jnew(cJSON_CreateArray());
	ev = xreallocarray(NULL, s->nevents ? s->nevents : 1, sizeof(*ev));
	for (i = 0; i < s->nevents; i++) {
		if (strcmp(s->events[i].coll, cl->name) == 0)
			ev[n++] = &s->events[i];
	}
	qsort(ev, n, sizeof(*ev), event_order);
	for (i = 0; i < n; i++) {
		obj = jnew(cJSON_CreateObject());
		jadd(obj, "id", cJSON_CreateString(ev[i]->id));
		v = stored_parse(ev[i]->value, ev[i]->value_len);
		if (v == NULL || !cJSON_IsObject(v)) {
			jadd(obj, "encrypted", cJSON_CreateTrue());
		} else {
			while ((m = v->child) != NULL) {
				cJSON_DetachItemViaPointer(v, m);
				if (m->string == NULL ||
				    strcmp(m->string, "id") == 0) {
					cJSON_Delete(m);
					continue;
				}
				jadd(obj, m->string, m);
			}
		}
		cJSON_Delete(v);
		render_joined(obj, s, cl, ev[i]->id);
		jpush(arr, obj);
	}
	free(ev);
	return arr;
}

int
schema_field_path(size_t i, char *out, size_t sz)
{
	for (size_t g = 0; g < NELEM(groups); g++) {
		if (i < groups[g].n) {
			snprintf(out, sz, "%s%s%s", groups[g].name,
			    groups[g].name[0] ? "." : "", groups[g].f[i].name);
			return 0;
		}
		i -= groups[g].n;
	}
	return E_NOTFOUND;
}

char *
schema_render(const struct case_state *s, int pretty)
{
	cJSON	*root, *obj;
	char	*txt, *res;
	char	 path[ENTRY_PATH_MAX + 1];
	size_t	 i, k, nconf = 0;

	root = jnew(cJSON_CreateObject());
	jadd(root, "id", cJSON_CreateString(s->id));
	jadd(root, "owner", s->owner[0] != '\0' ?
	    cJSON_CreateString(s->owner) : cJSON_CreateNull());
	for (k = 0; k < groups[0].n; k++)
		render_field(root, s, groups[0].f[k].name, groups[0].f[k].name);
	for (i = 1; i < NELEM(groups); i++) {
		obj = jnew(cJSON_CreateObject());
		for (k = 0; k < groups[i].n; k++) {
			snprintf(path, sizeof(path), "%s.%s", groups[i].name,
			    groups[i].f[k].name);
			render_field(obj, s, path, groups[i].f[k].name);
		}
		jadd(root, groups[i].name, obj);
	}
	for (i = 0; i < NELEM(colls); i++)
		if (colls[i].into == NULL)
			jadd(root, colls[i].name, render_events(s, &colls[i]));
	jadd(root, "erased", cJSON_CreateBool(s->erased.hlc != 0));
	for (i = 0; i < s->nfields; i++)
		nconf += (size_t)field_conflicted(&s->fields[i]);
	jadd(root, "conflicts", cJSON_CreateNumber((double)nconf));

	txt = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (txt == NULL)
		oom();
	/* Hand back memory from our allocator: the caller uses free(). */
	res = xstrdup(txt);
	cJSON_free(txt);
	return res;
}

/* The canonical text of event object o of collection name, or NULL when
 * the schema refuses it.  Takes o. */
static char *
event_json(const char *name, cJSON *o)
{
	struct canon	 c;
	char		*res = NULL;
	char		 err[256];

	canon_init(&c);
	if (event_check(coll_find(name), o, name, 0, NULL, &c, err,
	    sizeof(err)) == 0)
		res = xstrndup((const char *)c.b.data, c.b.len);
	buf_release(&c.b);
	cJSON_Delete(o);
	return res;
}

char *
schema_referral_json(const char *from, const char *to, const char *on_date)
{
	cJSON	*o;

	if (from == NULL || to == NULL || on_date == NULL)
		return NULL;
	o = jnew(cJSON_CreateObject());
	jadd(o, "from", cJSON_CreateString(from));
	jadd(o, "to", cJSON_CreateString(to));
	jadd(o, "on", cJSON_CreateString(on_date));
	jadd(o, "status", cJSON_CreateString("proposed"));
	return event_json("referrals", o);
}

char *
schema_answer_json(const char *on_date, int accepted)
{
	cJSON	*o;

	if (on_date == NULL)
		return NULL;
	o = jnew(cJSON_CreateObject());
	jadd(o, "on", cJSON_CreateString(on_date));
	jadd(o, "status", cJSON_CreateString(accepted ? "accepted" :
	    "rejected"));
	return event_json("referral_answers", o);
}

char *
schema_decline_json(const char *reason)
{
	cJSON	*o;

	if (reason == NULL)
		return NULL;
	o = jnew(cJSON_CreateObject());
	jadd(o, "text", cJSON_CreateString(reason));
	return event_json("decline_reasons", o);
}

char *
schema_reason_json(const char *reason)
{
	cJSON	*o;

	if (reason == NULL)
		return NULL;
	o = jnew(cJSON_CreateObject());
	jadd(o, "text", cJSON_CreateString(reason));
	return event_json("referral_reasons", o);
}

#ifdef SELFTEST
#include "../common/selftest.h"

#define ST_CASE_ID	"0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"

static int
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

struct st_reject {
	const char	*json;
	const char	*want;		/* substring of the message */
};

static const struct st_reject st_rejects[] = {
	/* unknown fields, at every level */
	{ "{\"sex\":\"female\"}", "sex: unknown field" },
	{ "{\"person\":{\"foo\":1}}", "person.foo: unknown field" },
	{ "{\"person\":{\"f\xff\x01\":1}}", "person.f??: unknown field" },
	{ "{\"services\":[{\"type\":\"medical\",\"on\":\"2025-01-01\","
	  "\"cost\":1}]}", "services[0].cost: unknown field" },
	{ "{\"notes\":[{\"text\":\"x\",\"id\":\"a\",\"x\":1}]}",
	  "notes[0].x: unknown field" },
	/* unknown enumerations, naming the value */
	{ "{\"person\":{\"sex\":\"f\"}}", "person.sex: unknown value \"f\" "
	  "(expected female, male, other, unknown)" },
	{ "{\"status\":\"open\"}", "status: unknown value \"open\"" },
	{ "{\"trafficking\":{\"purposes\":[\"begging\"]}}",
	  "trafficking.purposes: unknown value \"begging\"" },
	{ "{\"services\":[{\"type\":\"massage\",\"on\":\"2025-01-01\"}]}",
	  "services[0].type: unknown value \"massage\"" },
	{ "{\"person\":{\"home_province\":\"saigon\"}}",
	  "person.home_province: unknown province \"saigon\"" },
	{ "{\"person\":{\"home_province\":\"central\"}}",
	  "unknown province" },
	/* wrong types */
	{ "{\"person\":{\"birth_year\":\"1990\"}}",
	  "person.birth_year: expected an integer" },
	{ "{\"person\":{\"sex\":1}}", "person.sex: expected a string" },
	{ "{\"person\":{\"full_name\":[\"a\"]}}",
	  "person.full_name: expected a string" },
	{ "{\"person\":\"x\"}", "person: expected an object" },
	{ "{\"person\":null}", "person: expected an object" },
	{ "{\"services\":{}}", "services: expected an array" },
	{ "{\"services\":[1]}", "services[0]: expected an object" },
	{ "{\"trafficking\":{\"purposes\":\"forced_labour\"}}",
	  "trafficking.purposes: expected an array" },
	{ "{\"trafficking\":{\"purposes\":[1]}}", "expected an array" },
	/* numbers */
	{ "{\"person\":{\"birth_year\":1990.5}}",
	  "person.birth_year: expected an integer" },
	{ "{\"person\":{\"birth_year\":1800}}",
	  "person.birth_year: 1800 is out of range (1900 to 2100)" },
	{ "{\"services\":[{\"type\":\"medical\",\"on\":\"2025-01-01\","
	  "\"amount_vnd\":1e300}]}", "services[0].amount_vnd: expected an "
	  "integer" },
	{ "{\"services\":[{\"type\":\"medical\",\"on\":\"2025-01-01\","
	  "\"amount_vnd\":9007199254740993}]}", "out of range" },
	{ "{\"services\":[{\"type\":\"medical\",\"on\":\"2025-01-01\","
	  "\"days\":-1}]}", "services[0].days: -1 is out of range" },
	/* dates, codes, ids */
	{ "{\"trafficking\":{\"returned_on\":\"2025-02-30\"}}",
	  "trafficking.returned_on: \"2025-02-30\" is not a valid date" },
	{ "{\"trafficking\":{\"returned_on\":\"2023-02-29\"}}",
	  "not a valid date" },
	{ "{\"intake\":{\"received_on\":\"2025-1-01\"}}", "not a valid date" },
	{ "{\"intake\":{\"received_on\":\"1899-12-31\"}}",
	  "not a valid date" },
	{ "{\"trafficking\":{\"destination_country\":\"cn\"}}",
	  "trafficking.destination_country: \"cn\" is not an ISO 3166" },
	{ "{\"trafficking\":{\"destination_country\":\"CHN\"}}",
	  "is not an ISO 3166" },
	{ "{\"person\":{\"principal_case\":\"not-a-uuid\"}}",
	  "person.principal_case: \"not-a-uuid\" is not a case id" },
	{ "{\"id\":\"0190B5C2-7D1E-7A3B-9C4D-5E6F7A8B9C0D\","
	  "\"status\":\"reported\"}", "id: expected a case id" },
	{ "{\"id\":\"" ST_CASE_ID "\",\"person\":{\"principal_case\":\""
	  ST_CASE_ID "\"}}", "own principal case" },
	{ "{\"services\":[{\"id\":\"bad id\",\"type\":\"medical\","
	  "\"on\":\"2025-01-01\"}]}", "services[0].id: expected 1 to 40" },
	{ "{\"services\":[{\"id\":7,\"type\":\"medical\","
	  "\"on\":\"2025-01-01\"}]}", "services[0].id: expected" },
	{ "{\"services\":[{\"id\":\"s1\",\"type\":\"medical\","
	  "\"on\":\"2025-01-01\"},{\"id\":\"s1\",\"type\":\"loan\","
	  "\"on\":\"2025-01-02\"}]}", "services[1].id: duplicate event id" },
	/* required, null, empty */
	{ "{\"services\":[{\"on\":\"2025-01-01\"}]}",
	  "services[0].type: required" },
	{ "{\"services\":[{\"type\":\"medical\",\"on\":null}]}",
	  "services[0].on: required" },
	{ "{\"notes\":[{\"on\":\"2025-01-01\"}]}", "notes[0].text: required" },
	{ "{\"status\":null}", "status: cannot be null" },
	{ "{\"person\":{\"full_name\":\"\"}}",
	  "person.full_name: must not be empty" },
	{ "{\"trafficking\":{\"purposes\":[]}}",
	  "trafficking.purposes: must hold at least one value" },
	{ "{\"trafficking\":{\"purposes\":[\"forced_labour\","
	  "\"forced_labour\"]}}", "duplicate value \"forced_labour\"" },
	/* string contents */
	{ "{\"person\":{\"full_name\":\"a\\u0000b\"}}", "\\u0000" },
	{ "{\"person\":{\"full_name\":\"a\\nb\"}}",
	  "person.full_name: control character" },
	{ "{\"person\":{\"full_name\":\"\xc3\x28\"}}", "not valid UTF-8" },
	{ "{\"person\":{\"full_name\":\"\xed\xa0\x80\"}}", "not valid UTF-8" },
	{ "{\"person\":{\"full_name\":\"\\ud800\"}}", "not valid JSON" },
	/* duplicate keys, at every level */
	{ "{\"status\":\"reported\",\"status\":\"closed\"}",
	  "status: duplicate key" },
	{ "{\"person\":{\"sex\":\"male\",\"sex\":\"female\"}}",
	  "person.sex: duplicate key" },
	{ "{\"person\":{},\"person\":{}}", "person: duplicate key" },
	{ "{\"services\":[{\"type\":\"medical\",\"type\":\"loan\","
	  "\"on\":\"2025-01-01\"}]}", "services[0].type: duplicate key" },
	{ "{\"services\":[{\"id\":\"a\",\"id\":\"b\",\"type\":\"loan\","
	  "\"on\":\"2025-01-01\"}]}", "services[0].id: duplicate key" },
	/* not one JSON object */
	{ "{\"status\":\"reported\"} x", "not valid JSON (near byte 22)" },
	{ "{\"status\":\"reported\"}{}", "not valid JSON" },
	{ "[{\"status\":\"reported\"}]", "expected one JSON object" },
	{ "\"reported\"", "expected one JSON object" },
	{ "", "not valid JSON" },
	{ "{\"status\":\"reported\"", "not valid JSON" },
	{ "{\"status\":'reported'}", "not valid JSON" },
	/* refused members */
	{ "{\"owner\":\"lao-cai\"}",
	  "owner: cannot be set here; use `casesync case transfer`" },
	{ "{\"referrals\":[]}", "use `casesync case transfer`" },
	{ "{\"erased\":true}", "erased: computed by casesync" },
	{ "{\"conflicts\":0}", "conflicts: computed by casesync" },
	/* nothing to change */
	{ "{}", "nothing to change" },
	{ "{\"id\":\"" ST_CASE_ID "\"}", "nothing to change" },
	{ "{\"person\":{},\"services\":[]}", "nothing to change" },
};

static int
st_reject_one(const char *json, size_t len, const char *want, int wantrc)
{
	struct entry	 e;
	char		 id[ENTRY_CASE_ID_LEN + 1], err[256];
	int		 rc;

	entry_init(&e);
	err[0] = '\0';
	rc = schema_ops_from_json(json, len, &e, id, err, sizeof(err));
	entry_release(&e);
	if (rc != wantrc || strstr(err, want) == NULL) {
		fprintf(stderr, "  FAIL input %.80s: rc %d, \"%s\"; want %d, "
		    "\"%s\"\n", json, rc, err, wantrc, want);
		return 1;
	}
	return 0;
}

/* An exported line imports: exactly owner, referrals, erased and conflicts
 * are ignored; anything else unknown is still refused. */
static int
st_from_export(void)
{
	static const char line[] = "{\"id\":\"" ST_CASE_ID "\",\"owner\":"
	    "\"lao-cai\",\"status\":\"identified\",\"person\":{},"
	    "\"trafficking\":{},\"intake\":{},\"services\":[],\"referrals\":"
	    "[{\"id\":\"r1\",\"from\":\"lao-cai\",\"to\":\"ha-noi\"}],"
	    "\"notes\":[],\"erased\":false,\"conflicts\":2}";
	static const char unknown[] = "{\"owner\":\"x\",\"colour\":1}";
	struct entry	e;
	char		id[ENTRY_CASE_ID_LEN + 1], err[256];

	entry_init(&e);
	ST_OK(schema_ops_from_export(line, strlen(line), &e, id, err,
	    sizeof(err)));
	ST_CHECK(e.nops == 1 && strcmp(e.ops[0].path, "status") == 0);
	ST_CHECK(strcmp(id, ST_CASE_ID) == 0);
	entry_release(&e);
	/* The plain form still refuses them. */
	ST_CHECK(schema_ops_from_json(line, strlen(line), &e, id, err,
	    sizeof(err)) == E_INVAL && strstr(err, "owner") != NULL);
	entry_release(&e);
	ST_CHECK(schema_ops_from_export(unknown, strlen(unknown), &e, id, err,
	    sizeof(err)) == E_INVAL && strstr(err, "colour") != NULL);
	entry_release(&e);
	return 0;
}

static const struct op *
st_find(const struct entry *e, const char *path)
{
	size_t	i;

	for (i = 0; i < e->nops; i++) {
		if (strcmp(e->ops[i].path, path) == 0)
			return &e->ops[i];
	}
	return NULL;
}

static int
st_value_is(const struct entry *e, const char *path, const char *want)
{
	const struct op	*o = st_find(e, path);

	if (o == NULL || o->value == NULL || strcmp(o->value, want) != 0 ||
	    o->value_len != strlen(want)) {
		fprintf(stderr, "  FAIL %s: got %s, want %s\n", path,
		    o != NULL && o->value != NULL ? o->value : "(none)", want);
		return 0;
	}
	return 1;
}

static int
st_hex32(const char *s)
{
	size_t	i;

	for (i = 0; i < 32; i++) {
		if (!is_lower_hex(s[i]))
			return 0;
	}
	return s[32] == '\0';
}

static const char st_full[] =
    "{\"id\":\"" ST_CASE_ID "\",\n"
    " \"status\":\"receiving_support\",\n"
    " \"person\":{\"sex\":\"female\",\"category\":\"victim\","
    "\"legal_status\":\"citizen\",\"birth_year\":2001,"
    "\"ethnicity\":\"H'Mông\",\"home_province\":\"lao-cai\","
    "\"full_name\":\"Nguyễn Thị A\",\"id_number\":\"001301012345\","
    "\"phone\":\"+84 912 345 678\",\"address\":\"Bản X, xã Y\","
    "\"principal_case\":null},\n"
    " \"trafficking\":{\"purposes\":[\"forced_marriage\","
    "\"sexual_exploitation\"],\"destination_country\":\"CN\","
    "\"returned_on\":\"2024-02-29\","
    "\"return_route\":\"official_repatriation\"},\n"
    " \"intake\":{\"source\":\"border_guard\","
    "\"received_on\":\"2024-03-01\",\"facility\":\"Trung tâm CTXH\"},\n"
    " \"services\":[{\"id\":\"svc-1\",\"type\":\"medical\","
    "\"on\":\"2024-03-02\",\"provider\":\"Provincial hospital\","
    "\"amount_vnd\":1500000,\"days\":3},\n"
    "  {\"days\":30,\"on\":\"2024-03-01\",\"type\":\"essential_needs\","
    "\"provider\":null}],\n"
    " \"notes\":[{\"text\":\"Line one\\nline \\\"two\\\"\","
    "\"author\":\"worker1\",\"on\":\"2024-03-02\"}]}\n  ";

static int
st_full_case(void)
{
	struct entry	 e;
	const struct op	*o;
	char		 id[ENTRY_CASE_ID_LEN + 1], err[256];
	size_t		 i;

	entry_init(&e);
	ST_OK(schema_ops_from_json(st_full, strlen(st_full), &e, id, err,
	    sizeof(err)));
	ST_CHECK(strcmp(id, ST_CASE_ID) == 0);
	/* 1 status + 11 person + 4 trafficking + 3 intake + 2 + 1 events */
	ST_CHECK(e.nops == 22);
	/* Schema order, whatever the order of the input. */
	ST_CHECK(strcmp(e.ops[0].path, "status") == 0);
	ST_CHECK(strcmp(e.ops[1].path, "person.category") == 0);
	ST_CHECK(strcmp(e.ops[2].path, "person.principal_case") == 0);
	ST_CHECK(st_value_is(&e, "status", "\"receiving_support\""));
	ST_CHECK(st_value_is(&e, "person.birth_year", "2001"));
	ST_CHECK(st_value_is(&e, "person.principal_case", "null"));
	ST_CHECK(st_value_is(&e, "person.full_name",
	    "\"Nguyễn Thị A\""));
	ST_CHECK(st_value_is(&e, "trafficking.purposes",
	    "[\"sexual_exploitation\",\"forced_marriage\"]"));
	ST_CHECK(st_value_is(&e, "trafficking.returned_on",
	    "\"2024-02-29\""));
	ST_CHECK(e.ops[19].type == OP_EVENT);
	ST_CHECK(strcmp(e.ops[19].path, "services") == 0);
	ST_CHECK(strcmp(e.ops[19].evid, "svc-1") == 0);
	ST_CHECK(strcmp(e.ops[19].value, "{\"type\":\"medical\","
	    "\"on\":\"2024-03-02\",\"provider\":\"Provincial hospital\","
	    "\"amount_vnd\":1500000,\"days\":3}") == 0);
	/* Members reordered, null omitted, id generated. */
	ST_CHECK(strcmp(e.ops[20].value, "{\"type\":\"essential_needs\","
	    "\"on\":\"2024-03-01\",\"days\":30}") == 0);
	ST_CHECK(st_hex32(e.ops[20].evid));
	ST_CHECK(strcmp(e.ops[21].path, "notes") == 0);
	ST_CHECK(st_hex32(e.ops[21].evid));
	ST_CHECK(strcmp(e.ops[20].evid, e.ops[21].evid) != 0);
	ST_CHECK(strcmp(e.ops[21].value, "{\"on\":\"2024-03-02\","
	    "\"author\":\"worker1\",\"text\":\"Line one\\nline "
	    "\\\"two\\\"\"}") == 0);
	for (i = 0; i < e.nops; i++) {
		o = &e.ops[i];
		ST_CHECK(o->base.hlc == 0 && o->nalso == 0);
		ST_CHECK(o->value_len == strlen(o->value));
		if (schema_check_op(o, err, sizeof(err)) != 0) {
			fprintf(stderr, "  FAIL op %zu: %s\n", i, err);
			return 1;
		}
	}
	entry_release(&e);

	/* Ops are appended after those the caller already holds. */
	entry_init(&e);
	ST_CHECK(entry_add_op(&e, OP_ERASE) != NULL);
	ST_OK(schema_ops_from_json("{\"person\":{\"phone\":null}}", 25, &e,
	    id, err, sizeof(err)));
	ST_CHECK(id[0] == '\0');
	ST_CHECK(e.nops == 2 && e.ops[1].type == OP_SET);
	ST_CHECK(st_value_is(&e, "person.phone", "null"));
	entry_release(&e);
	return 0;
}

static int
st_limits(void)
{
	struct entry	 e;
	struct buf	 b;
	char		 id[ENTRY_CASE_ID_LEN + 1], err[256];
	size_t		 i;
	char		*big;

	/* Oversized string: 200 bytes pass, 201 do not. */
	buf_init(&b, 1024);
	ST_OK(buf_append_str(&b, "{\"person\":{\"full_name\":\""));
	for (i = 0; i < 200; i++)
		ST_OK(buf_append(&b, "x", 1));
	ST_OK(buf_append_str(&b, "\"}}"));
	entry_init(&e);
	ST_OK(schema_ops_from_json((const char *)b.data, b.len, &e, id, err,
	    sizeof(err)));
	entry_release(&e);
	buf_reset(&b);
	ST_OK(buf_append_str(&b, "{\"person\":{\"full_name\":\""));
	for (i = 0; i < 201; i++)
		ST_OK(buf_append(&b, "x", 1));
	ST_OK(buf_append_str(&b, "\"}}"));
	ST_OK(st_reject_one((const char *)b.data, b.len,
	    "person.full_name: too long (201 bytes, at most 200)", E_INVAL));

	/* More events than one entry holds. */
	buf_reset(&b);
	b.max = 64 * 1024;
	ST_OK(buf_append_str(&b, "{\"services\":["));
	for (i = 0; i <= ENTRY_MAX_OPS; i++)
		ST_OK(buf_printf(&b, "%s{\"type\":\"loan\",\"on\":"
		    "\"2025-01-01\"}", i ? "," : ""));
	ST_OK(buf_append_str(&b, "]}"));
	ST_OK(st_reject_one((const char *)b.data, b.len,
	    "too many changes", E_TOOBIG));
	buf_release(&b);

	/* Input larger than SCHEMA_INPUT_MAX, even if it is mostly space. */
	big = xmalloc(SCHEMA_INPUT_MAX + 1);
	memset(big, ' ', SCHEMA_INPUT_MAX + 1);
	memcpy(big, "{\"status\":\"closed\"}", 19);
	ST_OK(st_reject_one(big, SCHEMA_INPUT_MAX + 1, "input too large",
	    E_TOOBIG));
	entry_init(&e);
	ST_OK(schema_ops_from_json(big, SCHEMA_INPUT_MAX, &e, id, err,
	    sizeof(err)));
	ST_CHECK(e.nops == 1);
	entry_release(&e);
	free(big);

	/* A NUL byte inside the given length; the input need not end in
	 * NUL. */
	ST_OK(st_reject_one("{\"status\":\"closed\"}\0", 20, "NUL byte",
	    E_INVAL));
	entry_init(&e);
	ST_OK(schema_ops_from_json("{\"status\":\"closed\"}xyz", 19, &e, id,
	    err, sizeof(err)));
	entry_release(&e);
	return 0;
}

static int
st_check_op(void)
{
	struct op	 o;
	char		 err[256], *r;
	cJSON		*j;
	char		*p;
	struct canon	 c;
	static const char tricky[] = "a\"b\\c\n\t\x01\x1f\x7f é/</";

	memset(&o, 0, sizeof(o));
	o.type = OP_SET;
	strlcpy_(o.path, "status", sizeof(o.path));
	o.value = xstrdup("\"closed\"");
	o.value_len = strlen(o.value);
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	free(o.value);
	o.value = xstrdup(" \"closed\"");		/* not canonical */
	o.value_len = strlen(o.value);
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	ST_CHECK(strstr(err, "canonical") != NULL);
	free(o.value);
	o.value = xstrdup("null");
	o.value_len = 4;
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	strlcpy_(o.path, "person.phone", sizeof(o.path));
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	o.value_len = 5;				/* NUL inside */
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	free(o.value);
	strlcpy_(o.path, "person.birth_year", sizeof(o.path));
	o.value = xstrdup("1990.0");
	o.value_len = strlen(o.value);
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	free(o.value);
	strlcpy_(o.path, "trafficking.purposes", sizeof(o.path));
	o.value = xstrdup("[\"forced_marriage\",\"sexual_exploitation\"]");
	o.value_len = strlen(o.value);
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	strlcpy_(o.path, "person.nickname", sizeof(o.path));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	ST_CHECK(strstr(err, "person.nickname: unknown field") != NULL);
	strlcpy_(o.path, "person", sizeof(o.path));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	free(o.value);
	o.value = NULL;
	o.value_len = 0;
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);

	/* Referral events come from schema_referral_json only; the reason
	 * is an identifying event of its own (schema_reason_json). */
	r = schema_referral_json("lao-cai", "ha-noi", "2025-07-02");
	ST_CHECK(r != NULL);
	ST_CHECK(strcmp(r, "{\"from\":\"lao-cai\",\"to\":\"ha-noi\","
	    "\"on\":\"2025-07-02\",\"status\":\"proposed\"}") == 0);
	{
		char *t = schema_reason_json("return \"home\"");

		ST_CHECK(t != NULL && strcmp(t, "{\"text\":\"return "
		    "\\\"home\\\"\"}") == 0);
		free(t);
		ST_CHECK(schema_reason_json("") == NULL);
		ST_CHECK(schema_coll_identifying("referral_reasons"));
	}
	o.type = OP_EVENT;
	strlcpy_(o.path, "referrals", sizeof(o.path));
	strlcpy_(o.evid, "ref-1", sizeof(o.evid));
	o.value = r;
	o.value_len = strlen(r);
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	strlcpy_(o.evid, "ref 1", sizeof(o.evid));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	strlcpy_(o.evid, "ref-1", sizeof(o.evid));
	strlcpy_(o.path, "photos", sizeof(o.path));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	strlcpy_(o.path, "services", sizeof(o.path));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	free(r);
	r = schema_referral_json("central", "dien-bien", "2025-07-02");
	ST_CHECK(r != NULL && strstr(r, "reason") == NULL);
	free(r);
	ST_CHECK(schema_referral_json("atlantis", "ha-noi", "2025-07-02") ==
	    NULL);
	ST_CHECK(schema_referral_json("lao-cai", "ha-noi", "2025-13-01") ==
	    NULL);
	/* The id travels in evid, never inside the value. */
	o.value = xstrdup("{\"id\":\"x\",\"type\":\"loan\","
	    "\"on\":\"2025-01-01\"}");
	o.value_len = strlen(o.value);
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	free(o.value);
	o.value = xstrdup("{\"type\":\"loan\",\"on\":\"2025-01-01\"}");
	o.value_len = strlen(o.value);
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	free(o.value);
	o.value = NULL;

	o.type = OP_TRANSFER;
	strlcpy_(o.to, "lao-cai", sizeof(o.to));
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	strlcpy_(o.to, "central", sizeof(o.to));
	ST_OK(schema_check_op(&o, err, sizeof(err)));
	strlcpy_(o.to, "atlantis", sizeof(o.to));
	ST_CHECK(schema_check_op(&o, err, sizeof(err)) == E_INVAL);
	o.type = OP_ERASE;
	ST_OK(schema_check_op(&o, err, sizeof(err)));

	/* Events and enumeration sets checked on their bytes give the
	 * cJSON path's answer and reason, canonical or not. */
	{
		static const char *const cases[][3] = {
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"amount_vnd\":500000}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"provider\":\"BV \u0111a "
			    "khoa\",\"days\":3}" },
			{ "e", "services", "{\"on\":\"2025-12-15\",\"type\":"
			    "\"medical\"}" },		/* order */
			{ "e", "services", "{\"type\":\"medical\"}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"days\":null}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"days\":36501}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"days\":007}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\",\"type\":\"medical\"}" },
			{ "e", "services", "{\"type\":\"medical\", \"on\":"
			    "\"2025-12-15\"}" },
			{ "e", "services", "{\"type\":\"medical\",\"on\":"
			    "\"2025-12-15\"}x" },
			{ "e", "services", "{}" },
			{ "e", "services", "{\"type\":[\"medical\"],\"on\":"
			    "\"2025-12-15\"}" },
			{ "e", "notes", "{\"text\":\"x\"}" },
			{ "e", "notes", "{\"on\":\"2025-02-30\",\"text\":"
			    "\"x\"}" },
			{ "e", "notes", "{\"text\":\"a\\nb\"}" },
			{ "e", "notes", "{\"text\":\"\"}" },
			{ "e", "referrals", "{\"from\":\"lao-cai\",\"to\":"
			    "\"central\",\"on\":\"2025-07-02\",\"status\":"
			    "\"proposed\"}" },
			{ "e", "referrals", "{\"from\":\"lao-cai\",\"to\":"
			    "\"atlantis\",\"on\":\"2025-07-02\",\"status\":"
			    "\"proposed\"}" },
			{ "s", "trafficking.purposes",
			    "[\"sexual_exploitation\",\"forced_marriage\"]" },
			{ "s", "trafficking.purposes",
			    "[\"forced_marriage\",\"sexual_exploitation\"]" },
			{ "s", "trafficking.purposes", "[\"other\",\"other\"]" },
			{ "s", "trafficking.purposes", "[\"other\"]" },
			{ "s", "trafficking.purposes", "[]" },
			{ "s", "trafficking.purposes", "[\"other\",]" },
			{ "s", "trafficking.purposes", "[\"nope\"]" },
			{ "s", "trafficking.purposes", "[\"other\"] " },
			{ "s", "trafficking.purposes", "null" },
		};
		struct op	q;
		char		e2[256];
		size_t		k;
		int		r1, r2, accepted = 0;

		for (k = 0; k < NELEM(cases); k++) {
			memset(&q, 0, sizeof(q));
			q.type = cases[k][0][0] == 'e' ? OP_EVENT : OP_SET;
			strlcpy_(q.path, cases[k][1], sizeof(q.path));
			strlcpy_(q.evid, "ev-1", sizeof(q.evid));
			q.value = xstrdup(cases[k][2]);
			q.value_len = strlen(q.value);
			r1 = schema_check_op(&q, err, sizeof(err));
			r2 = schema_check_op_cjson(&q, e2, sizeof(e2));
			ST_CHECK(r1 == r2);
			ST_CHECK(strcmp(err, e2) == 0);
			accepted += r1 == 0;
			free(q.value);
		}
		/* services 1 and 2 (the C compiler writes the \\u0111 as
		 * UTF-8), notes 1 and 3, referrals 1, purposes 1 and 4, and
		 * null purposes. */
		ST_CHECK(accepted == 8);
	}

	ST_CHECK(schema_path_identifying("person.full_name"));
	ST_CHECK(schema_path_identifying("person.address"));
	ST_CHECK(!schema_path_identifying("person.sex"));
	ST_CHECK(!schema_path_identifying("nope"));
	ST_CHECK(schema_coll_identifying("notes"));
	ST_CHECK(!schema_coll_identifying("services"));
	ST_CHECK(!schema_coll_identifying("referrals"));

	/* Our string escaping is exactly cJSON's. */
	j = cJSON_CreateString(tricky);
	p = cJSON_PrintUnformatted(j);
	canon_init(&c);
	canon_str(&c, tricky);
	ST_CHECK(p != NULL && c.rc == 0 && c.b.len == strlen(p) &&
	    memcmp(c.b.data, p, c.b.len) == 0);
	buf_release(&c.b);
	cJSON_free(p);
	cJSON_Delete(j);
	return 0;
}

static void
st_head(struct head *h, uint64_t hlc, const char *node, const char *v,
    size_t len)
{
	memset(h, 0, sizeof(*h));
	h->st.hlc = hlc;
	strlcpy_(h->st.node, node, sizeof(h->st.node));
	h->value = xmalloc(len);
	memcpy(h->value, v, len);
	h->value_len = len;
}

static void
st_field(struct field *f, const char *path, size_t nheads)
{
	memset(f, 0, sizeof(*f));
	strlcpy_(f->path, path, sizeof(f->path));
	f->heads = xcalloc(nheads, sizeof(*f->heads));
	f->nheads = nheads;
}

static void
st_event(struct event *ev, const char *coll, const char *id, uint64_t hlc,
    const char *v)
{
	memset(ev, 0, sizeof(*ev));
	strlcpy_(ev->coll, coll, sizeof(ev->coll));
	strlcpy_(ev->id, id, sizeof(ev->id));
	ev->st.hlc = hlc;
	strlcpy_(ev->st.node, "lao-cai", sizeof(ev->st.node));
	ev->value_len = strlen(v);
	ev->value = xmalloc(ev->value_len);
	memcpy(ev->value, v, ev->value_len);
}

static int
st_render(void)
{
	struct case_state	 s;
	char			*r, *pr, *again;
	cJSON			*j;
	static const char	 garbage[] = "\x8f\x01\xc3 ciphertext";
	static const char	 want_empty[] = "{\"id\":\"" ST_CASE_ID "\","
	    "\"owner\":null,\"person\":{},\"trafficking\":{},\"intake\":{},"
	    "\"services\":[],\"referrals\":[],\"notes\":[],\"erased\":false,"
	    "\"conflicts\":0}";
	static const char	 want[] = "{\"id\":\"" ST_CASE_ID "\","
	    "\"owner\":\"lao-cai\",\"status\":\"identified\","
	    "\"person\":{\"sex\":\"male\",\"full_name\":\"[encrypted]\"},"
	    "\"trafficking\":{\"purposes\":[\"forced_labour\"]},"
	    "\"intake\":{},"
	    "\"services\":[{\"id\":\"b\",\"type\":\"medical\","
	    "\"on\":\"2025-01-02\"},{\"id\":\"a\",\"type\":\"loan\","
	    "\"on\":\"2025-01-03\",\"amount_vnd\":5000000000}],"
	    "\"referrals\":[],"
	    "\"notes\":[{\"id\":\"n1\",\"encrypted\":true}],"
	    "\"erased\":false,\"conflicts\":1}";

	state_init(&s, ST_CASE_ID);
	r = schema_render(&s, 0);
	ST_CHECK(strcmp(r, want_empty) == 0);
	free(r);

	strlcpy_(s.owner, "lao-cai", sizeof(s.owner));
	s.nfields = 5;
	s.fields = xcalloc(s.nfields, sizeof(*s.fields));
	/* Ciphertext left in place renders as "[encrypted]". */
	st_field(&s.fields[0], "person.full_name", 1);
	st_head(&s.fields[0].heads[0], 3, "lao-cai", garbage,
	    sizeof(garbage) - 1);
	/* A cleared field is omitted. */
	st_field(&s.fields[1], "person.phone", 1);
	st_head(&s.fields[1].heads[0], 3, "lao-cai", "null", 4);
	/* Two heads, two values: the greater stamp wins, one conflict. */
	st_field(&s.fields[2], "person.sex", 2);
	st_head(&s.fields[2].heads[0], 1, "lao-cai", "\"female\"", 8);
	st_head(&s.fields[2].heads[1], 2, "central", "\"male\"", 6);
	/* Two heads, one value: no conflict. */
	st_field(&s.fields[3], "status", 2);
	st_head(&s.fields[3].heads[0], 1, "central", "\"identified\"", 12);
	st_head(&s.fields[3].heads[1], 1, "lao-cai", "\"identified\"", 12);
	st_field(&s.fields[4], "trafficking.purposes", 1);
	st_head(&s.fields[4].heads[0], 4, "lao-cai", "[\"forced_labour\"]",
	    17);
	s.nevents = 3;
	s.events = xcalloc(s.nevents, sizeof(*s.events));
	st_event(&s.events[0], "notes", "n1", 9, garbage);
	st_event(&s.events[1], "services", "a", 7, "{\"type\":\"loan\","
	    "\"on\":\"2025-01-03\",\"amount_vnd\":5000000000}");
	st_event(&s.events[2], "services", "b", 5, "{\"type\":\"medical\","
	    "\"on\":\"2025-01-02\"}");

	r = schema_render(&s, 0);
	if (strcmp(r, want) != 0) {
		fprintf(stderr, "  FAIL render:\n  got  %s\n  want %s\n", r,
		    want);
		return 1;
	}
	/* Pretty output holds the same object. */
	pr = schema_render(&s, 1);
	ST_CHECK(strchr(pr, '\n') != NULL);
	j = cJSON_Parse(pr);
	ST_CHECK(j != NULL);
	again = cJSON_PrintUnformatted(j);
	ST_CHECK(again != NULL && strcmp(again, r) == 0);
	cJSON_free(again);
	cJSON_Delete(j);
	free(pr);
	free(r);

	/* The accessors read what render shows; sealed reads as absent. */
	{
		char		 b[32];
		int64_t		 v;
		const char *const *pv = schema_enum_values(
		    SCHEMA_ENUM_PURPOSE);

		ST_CHECK(schema_get_str(&s, "person.sex", b, sizeof(b)) &&
		    strcmp(b, "male") == 0);
		ST_CHECK(!schema_get_str(&s, "person.sex", b, 4));
		ST_CHECK(!schema_get_str(&s, "person.full_name", b,
		    sizeof(b)));
		ST_CHECK(!schema_get_str(&s, "person.phone", b, sizeof(b)));
		ST_CHECK(!schema_get_int(&s, "person.birth_year", &v));
		ST_CHECK(pv != NULL && strcmp(pv[1], "forced_labour") == 0);
		ST_CHECK(schema_get_set(&s, "trafficking.purposes") == 2);
		ST_CHECK(schema_get_text(&s, "trafficking.purposes", b,
		    sizeof(b)) && strcmp(b, "forced_labour") == 0);
		ST_CHECK(schema_get_text(&s, "person.sex", b, sizeof(b)) &&
		    strcmp(b, "male") == 0);
		ST_CHECK(!schema_get_text(&s, "person.sex", b, 4) &&
		    b[0] == '\0');
		ST_CHECK(!schema_get_text(&s, "person.full_name", b,
		    sizeof(b)));
		ST_CHECK(!schema_get_text(&s, "person.phone", b, sizeof(b)));
		ST_CHECK(schema_get_set(&s, "person.sex") == 0);
		ST_CHECK(schema_event_str(&s.events[1], "type", b,
		    sizeof(b)) && strcmp(b, "loan") == 0);
		ST_CHECK(!schema_event_str(&s.events[0], "text", b,
		    sizeof(b)));
	}

	s.erased.hlc = 10;
	r = schema_render(&s, 0);
	ST_CHECK(strstr(r, "\"erased\":true") != NULL);
	free(r);
	state_release(&s);
	return 0;
}

static int
st_provinces(void)
{
	const struct province	*p, *q;
	int			 i, j;

	ST_CHECK(provinces_count() == 34);
	ST_CHECK(provinces_get(-1) == NULL && provinces_get(34) == NULL);
	for (i = 0; i < provinces_count(); i++) {
		p = provinces_get(i);
		ST_CHECK(p != NULL && strlen(p->code) == 2);
		ST_CHECK(node_id_valid(p->node) && strcmp(p->node,
		    "central") != 0);
		ST_CHECK(strcmp(p->kind, "city") == 0 ||
		    strcmp(p->kind, "province") == 0);
		ST_CHECK(utf8_valid((const unsigned char *)p->name,
		    strlen(p->name)));
		ST_CHECK(province_find(p->node) == p);
		ST_CHECK(schema_node_known(p->node));
		for (j = 0; j < i; j++) {
			q = provinces_get(j);
			ST_CHECK(strcmp(q->code, p->code) < 0);
			ST_CHECK(strcmp(q->node, p->node) != 0);
		}
	}
	ST_CHECK(strcmp(province_find("lao-cai")->code, "15") == 0);
	ST_CHECK(strcmp(province_find("quang-ninh")->borders, "CN") == 0);
	ST_CHECK(province_find("central") == NULL);
	ST_CHECK(province_find("Lao-Cai") == NULL);
	ST_CHECK(schema_node_known("central"));
	ST_CHECK(!schema_node_known("") && !schema_node_known("yen-bai"));
	return 0;
}

/* Every field, member and enumeration value has a label. */
static int
st_labels(void)
{
	char		 path[2 * ENTRY_PATH_MAX + 2];
	enum schema_enum e;

	for (size_t g = 0; g < NELEM(groups); g++) {
		if (g > 0)
			ST_CHECK(schema_field_label(groups[g].name) != NULL);
		for (size_t i = 0; i < groups[g].n; i++) {
			snprintf(path, sizeof(path), "%s%s%s", groups[g].name,
			    g ? "." : "", groups[g].f[i].name);
			ST_CHECK(schema_field_label(path) != NULL);
		}
	}
	for (size_t c = 0; c < NELEM(colls); c++) {
		ST_CHECK(schema_field_label(colls[c].name) != NULL);
		for (size_t i = 0; i < colls[c].n; i++) {
			snprintf(path, sizeof(path), "%s.%s", colls[c].name,
			    colls[c].f[i].name);
			ST_CHECK(schema_field_label(path) != NULL);
		}
	}
	for (int k = 0; k < SCHEMA_ENUM__N; k++) {
		const char *const *v = schema_enum_values((enum schema_enum)k);

		ST_CHECK(v != NULL && v[0] != NULL);
		for (; *v != NULL; v++)
			ST_CHECK(schema_enum_label((enum schema_enum)k, *v) !=
			    NULL);
	}
	ST_CHECK(schema_enum_values(SCHEMA_ENUM__N) == NULL);
	ST_CHECK(schema_enum_label(SCHEMA_ENUM_SEX, "robot") == NULL);
	ST_CHECK(strcmp(schema_enum_label(SCHEMA_ENUM_SERVICE, "legal_aid"),
	    "legal aid (\xc4\x91)") == 0);
	ST_CHECK(strcmp(schema_enum_label(SCHEMA_ENUM_PURPOSE, "other"),
	    "other purpose") == 0);
	ST_OK(schema_field_enum("person.sex", &e));
	ST_CHECK(e == SCHEMA_ENUM_SEX);
	ST_OK(schema_field_enum("status", &e));
	ST_CHECK(e == SCHEMA_ENUM_STATUS);
	ST_OK(schema_field_enum("services.type", &e));
	ST_CHECK(e == SCHEMA_ENUM_SERVICE);
	ST_OK(schema_field_enum("referrals.status", &e));
	ST_CHECK(e == SCHEMA_ENUM_REFERRAL_STATUS);
	ST_OK(schema_field_enum("trafficking.purposes", &e));
	ST_CHECK(e == SCHEMA_ENUM_PURPOSE);
	ST_CHECK(schema_field_enum("person.full_name", &e) == E_NOTFOUND);
	ST_CHECK(schema_field_enum("person.nope", &e) == E_NOTFOUND);
	ST_CHECK(schema_field_enum("nope.type", &e) == E_NOTFOUND);
	ST_CHECK(schema_field_label("person.nope") == NULL);
	return 0;
}

static int
st_form(void)
{
	struct schema_problem	 p;
	enum schema_kind	 k;
	int64_t			 lo, hi;
	const char		*nx[SCHEMA_STATUS_NEXT_MAX + 1];
	static const struct {
		const char	*path, *json;
		enum schema_why	 why;
	} cases[] = {
		{ "intake.received_on", "\"2025-03-01\"", SCHEMA_WHY_NONE },
		{ "intake.received_on", "\"2025-02-30\"", SCHEMA_WHY_DATE },
		{ "person.sex", "\"f\"", SCHEMA_WHY_CHOICE },
		{ "person.birth_year", "\"19x0\"", SCHEMA_WHY_INTEGER },
		{ "person.birth_year", "1800", SCHEMA_WHY_RANGE },
		{ "person.full_name", "\"\"", SCHEMA_WHY_EMPTY },
		{ "person.phone", "\"012345678901234567890123456789012\"",
		    SCHEMA_WHY_TOO_LONG },
		{ "person.address", "\"a\\u0001b\"", SCHEMA_WHY_CHARS },
		{ "trafficking.destination_country", "\"cn\"",
		    SCHEMA_WHY_COUNTRY },
		{ "person.home_province", "\"atlantis\"", SCHEMA_WHY_PROVINCE },
		{ "person.principal_case", "\"x\"", SCHEMA_WHY_CASE_ID },
		{ "trafficking.purposes", "[\"forced_labour\",\"x\"]",
		    SCHEMA_WHY_CHOICE },
		{ "status", "null", SCHEMA_WHY_REQUIRED },
		{ "services.on", "null", SCHEMA_WHY_REQUIRED },
		{ "services.amount_vnd", "1500000", SCHEMA_WHY_NONE },
		{ "person.sex", "null", SCHEMA_WHY_NONE },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		int rc = schema_value_check(cases[i].path, cases[i].json,
		    strlen(cases[i].json), &p);

		ST_CHECK((rc == 0) == (cases[i].why == SCHEMA_WHY_NONE));
		ST_CHECK(p.why == cases[i].why);
		ST_CHECK(cases[i].why == SCHEMA_WHY_NONE ||
		    strncmp(p.msg, cases[i].path, strlen(cases[i].path)) == 0);
		ST_CHECK(schema_why_text(p.why) != NULL);
	}
	ST_CHECK(schema_value_check("person.nope", "1", 1, &p) == E_NOTFOUND);
	ST_CHECK(schema_value_check("person.birth_year", "1800", 4, &p) ==
	    E_INVAL);
	ST_CHECK(p.min == 1900 && p.max == 2100);
	ST_OK(schema_field_kind("person.home_province", &k, &lo, &hi));
	ST_CHECK(k == SCHEMA_KIND_PROVINCE);
	ST_OK(schema_field_kind("person.full_name", &k, &lo, &hi));
	ST_CHECK(k == SCHEMA_KIND_LINE && hi == 200);
	ST_OK(schema_field_kind("notes.text", &k, &lo, &hi));
	ST_CHECK(k == SCHEMA_KIND_TEXT && hi == 2000);
	ST_CHECK(schema_field_kind("x.y", &k, &lo, &hi) == E_NOTFOUND);
	for (const char *const *r = schema_intake_required(); *r; r++)
		ST_CHECK(path_find(*r) != NULL);
	ST_CHECK(schema_status_allowed(NULL, "reported"));
	ST_CHECK(schema_status_allowed("reported", "under_verification"));
	ST_CHECK(!schema_status_allowed("reported", "closed"));
	ST_CHECK(!schema_status_allowed("closed", "reported"));
	ST_CHECK(!schema_status_allowed("identified", "identified"));
	ST_CHECK(schema_status_next("under_verification", nx) == 2 &&
	    strcmp(nx[0], "identified") == 0 && nx[2] == NULL);
	ST_CHECK(schema_status_next("closed", nx) == 0 && nx[0] == NULL);
	/* Every step leads to a status of the enumeration. */
	for (size_t i = 0; i < NELEM(lifecycle); i++)
		ST_CHECK(enum_index(e_status, lifecycle[i][1]) >= 0);
	return 0;
}

int
schema_selftest(void)
{
	size_t	i;
	int	failed = 0;

	ST_OK(st_full_case());
	for (i = 0; i < NELEM(st_rejects); i++)
		failed |= st_reject_one(st_rejects[i].json,
		    strlen(st_rejects[i].json), st_rejects[i].want, E_INVAL);
	ST_CHECK(failed == 0);
	ST_OK(st_limits());
	ST_OK(st_check_op());
	ST_OK(st_render());
	ST_OK(st_provinces());
	ST_OK(st_from_export());
	ST_OK(st_labels());
	ST_OK(st_form());
	return 0;
}
#endif

/*
 * htcds.c - a case as an HTCDS 2.0 record (see htcds.h, docs/HTCDS.md).
 *
 * HTCDS by IOM is licensed under CC BY 4.0; its field names and picklist
 * values below are quoted from the standard's field list
 * (docs/htcds/fields.csv).  No endorsement by IOM is implied.
 *
 * Our side of every mapping is an enumeration of node/schema.c: the tables
 * below name our values only to pair them with the standard's, and the
 * selftest checks that each table covers schema's enumeration exactly, so
 * a value added to the schema without a mapping fails `make check`.
 */
#include "htcds.h"
#include "offer.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define VALS_MAX	16	/* values of one multi-valued field */
#define ARENA_MAX	2048	/* the text of one record's values */
#define AGE_MAX		120
#define PSEUDONYM_TAG	"casesync-htcds-id-v1"

/*
 * The HTCDS fields a record may hold, in the order of the standard's field
 * list.  A "multi" field is a JSON array (";" between values in CSV): a
 * multiselect picklist, or a field of a section a case holds several of
 * (historic trafficking events, support plans), element i of each such
 * field belonging to the section's i-th record.
 */
enum hf {
	H_FIRSTNAME, H_MIDDLENAME, H_SECONDNAME, H_GENDER, H_CITIZENSHIP,
	H_IDNUMBER, H_MOBILE, H_STREET,
	H_TSTATUS, H_AGE, H_EXPLOITATION,
	H_STATUS,
	H_INDATE, H_INREASON, H_OUTREASON, H_OUTDATE,
	H_HTE_COUNTRY, H_HTE_TYPE,
	H_SPL_TYPE,
	H__N
};

struct hfield {
	const char	*name;
	int		 multi;		/* JSON array */
	int		 number;	/* JSON number */
	int		 ident;		/* only with --identifying */
};

static const struct hfield hfields[H__N] = {
	[H_FIRSTNAME] = { "prs_FirstName", 0, 0, 1 },
	[H_MIDDLENAME] = { "prs_MiddleName", 0, 0, 1 },
	[H_SECONDNAME] = { "prs_SecondName", 0, 0, 1 },
	[H_GENDER] = { "prs_Gender", 0, 0, 0 },
	[H_CITIZENSHIP] = { "prs_Citizenship", 1, 0, 0 },
	[H_IDNUMBER] = { "prs_IdentityNumber", 0, 0, 1 },
	[H_MOBILE] = { "prs_MobilePhone", 0, 0, 1 },
	[H_STREET] = { "prs_MailingStreet", 0, 0, 1 },
	[H_TSTATUS] = { "vic_TraffickingStatus", 0, 0, 0 },
	[H_AGE] = { "vic_AgeWhenTrafficked", 0, 1, 0 },
	[H_EXPLOITATION] = { "vic_TypeOfExploitation", 1, 0, 0 },
	[H_STATUS] = { "cas_Status", 0, 0, 0 },
	[H_INDATE] = { "cas_IncomingReferralDate", 0, 0, 0 },
	[H_INREASON] = { "cas_ReasonForIncomingReferral", 0, 0, 0 },
	[H_OUTREASON] = { "cas_ReasonForOutgoingReferral", 0, 0, 0 },
	[H_OUTDATE] = { "cas_OutgoingReferralDate", 0, 0, 0 },
	[H_HTE_COUNTRY] = { "hte_Country", 1, 0, 0 },
	[H_HTE_TYPE] = { "hte_Type", 1, 0, 0 },
	[H_SPL_TYPE] = { "spl_Type", 1, 0, 0 },
};

/* Our value -> the standard's. */
struct vmap {
	const char	*ours;
	const char	*theirs;
};

/* person.sex -> prs_Gender.  Sex is not gender expression: "other" says
 * nothing of which of the standard's values applies. */
static const struct vmap m_gender[] = {
	{ "female", "Feminine" },
	{ "male", "Masculine" },
	{ "other", "NonSpecifiedUnknown" },
	{ "unknown", "NonSpecifiedUnknown" },
};
#define GENDER_ABSENT	"NonSpecifiedUnknown"

/* trafficking.purposes -> vic_TypeOfExploitation. */
static const struct vmap m_exploitation[] = {
	{ "sexual_exploitation", "SexualExploitation" },
	{ "forced_labour", "ForcedLabour" },
	{ "labour_export_fraud", "ForcedLabour" },
	{ "organ_removal", "OrganRemoval" },
	{ "surrogacy", "Surrogacy" },
	{ "forced_marriage", "ForcedMarriage" },
	{ "other", "Other" },
};
/* The standard's picklist order, which multi values follow. */
static const char *const o_exploitation[] = {
	"ForcedLabour", "SexualExploitation", "ChildLabour", "ForcedMarriage",
	"Servitude", "ForcedMilitaryByNonStateActors", "OrganRemoval",
	"ForcedBegging", "ForcedAdoption", "Surrogacy", "Other", NULL
};

/* status -> cas_Status.  A referral between provinces moves the case to
 * its new owner and keeps it open, so ClosedReferred is never used. */
static const struct vmap m_status[] = {
	{ "reported", "Active" },
	{ "under_verification", "Active" },
	{ "identified", "Active" },
	{ "not_victim", "Closed" },
	{ "receiving_support", "Active" },
	{ "reintegration_followup", "FollowUp" },
	{ "closed", "Closed" },
};

/* person.category -> vic_TraffickingStatus (status not_victim overrides:
 * NotAVictimOfTrafficking).  An accompanying child is not, as such, a
 * victim or a possible one: the standard has no value for it. */
static const struct vmap m_tstatus[] = {
	{ "victim", "ActualVictimOfTrafficking" },
	{ "being_identified", "PossibleVictimOfTrafficking" },
	{ "accompanying_child", NULL },
};

/* person.legal_status -> prs_Citizenship (ISO 3166 alpha-2).  A stateless
 * person has none; a foreigner's country is not recorded. */
static const struct vmap m_citizenship[] = {
	{ "citizen", "VN" },
	{ "stateless_resident", NULL },
	{ "foreigner", NULL },
};

/* services[].type (Law 53/2024 Art. 37 §1 regimes) -> spl_Type. */
static const struct vmap m_support[] = {
	{ "essential_needs", "SocialCare" },
	{ "medical", "Health" },
	{ "interpretation", "SocialCare" },
	{ "legal_support", "Legal" },
	{ "legal_aid", "Legal" },
	{ "travel", "Financial" },
	{ "psychological", "Health" },
	{ "education", "Education" },
	{ "vocational_training", "Livelihood" },
	{ "job_placement", "Livelihood" },
	{ "hardship_allowance", "Financial" },
	{ "loan", "Financial" },
	{ "child_protection", "SocialCare" },
};
static const char *const o_support[] = {
	"Education", "Financial", "Health", "LabourExploitationRehabilitation",
	"Legal", "Livelihood", "RightsBasedTraining",
	"SexualExploitationRehabilitation", "SocialCare", NULL
};

/* Every referral moves a case to another province: a change of location.
 * Its free-text reason is never exported. */
#define REFERRAL_REASON	"MigrationOrChangeOfLocation"
/* hte_Type of the one historic event we know: where the person was
 * exploited (trafficking.destination_country). */
#define HTE_EXPLOITATION "Exploitation"

/* The values of one record, in field order. */
struct hrec {
	const char	*v[H__N][VALS_MAX];
	size_t		 n[H__N];
	char		 arena[ARENA_MAX];
	size_t		 used;
	int		 full;
};

static const char *
map(const struct vmap *m, size_t n, const char *ours)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].ours, ours) == 0)
			return m[i].theirs;
	return NULL;
}

static int
index_of(const char *const *list, const char *s)
{
	for (int i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

/* Adds a value to field f, copied into the record. */
static void
put(struct hrec *r, enum hf f, const char *s)
{
	size_t	len = strlen(s) + 1;

	if (r->n[f] == VALS_MAX || len > ARENA_MAX - r->used) {
		r->full = 1;
		return;
	}
	memcpy(r->arena + r->used, s, len);
	r->v[f][r->n[f]++] = r->arena + r->used;
	r->used += len;
}

/* Adds the values of bit mask set over list, in list order. */
static void
put_set(struct hrec *r, enum hf f, const char *const *list, uint32_t set)
{
	for (int i = 0; list[i] != NULL; i++)
		if (set & (UINT32_C(1) << i))
			put(r, f, list[i]);
}

int
htcds_parse_format(const char *s, enum htcds_format *f)
{
	if (strcmp(s, "htcds") == 0)
		*f = HTCDS_JSONL;
	else if (strcmp(s, "htcds-csv") == 0)
		*f = HTCDS_CSV;
	else
		return E_INVAL;
	return 0;
}

void
htcds_init(struct htcds *h, const struct htcds_opts *o,
    const uint8_t key[CRYPTO_KEY])
{
	memset(h, 0, sizeof(*h));
	h->o = *o;
	memcpy(h->key, key, CRYPTO_KEY);
}

void
htcds_release(struct htcds *h)
{
	crypto_wipe(h->key, sizeof(h->key));
}

int
htcds_pseudonym(const uint8_t key[CRYPTO_KEY], const char *case_id,
    char out[HTCDS_ID_LEN + 1])
{
	uint8_t	msg[sizeof(PSEUDONYM_TAG) + ENTRY_CASE_ID_LEN];
	uint8_t	mac[CRYPTO_HASH];
	size_t	len = strlen(case_id);

	if (len > ENTRY_CASE_ID_LEN)
		return E_INVAL;
	/* The tag (with its NUL) keeps these MACs apart from any other use
	 * of the key. */
	memcpy(msg, PSEUDONYM_TAG, sizeof(PSEUDONYM_TAG));
	memcpy(msg + sizeof(PSEUDONYM_TAG), case_id, len);
	if (crypto_hmac(key, CRYPTO_KEY, msg, sizeof(PSEUDONYM_TAG) + len,
	    mac) != 0)
		return E_IO;
	hex_encode(mac, sizeof(mac), out);
	crypto_wipe(mac, sizeof(mac));
	return 0;
}

int
htcds_selected(const struct htcds *h, const struct case_state *s)
{
	char	recv[HTCDS_DATE_LEN + 2];
	int	dated;

	if (h->o.province[0] != '\0' && strcmp(s->owner, h->o.province) != 0)
		return 0;
	if (h->o.from[0] == '\0' && h->o.to[0] == '\0')
		return 1;
	dated = schema_get_str(s, "intake.received_on", recv, sizeof(recv)) &&
	    strlen(recv) == HTCDS_DATE_LEN;
	return dated &&
	    (h->o.from[0] == '\0' || strcmp(recv, h->o.from) >= 0) &&
	    (h->o.to[0] == '\0' || strcmp(recv, h->o.to) <= 0);
}

/*
 * The latest referral (by date, then as recorded) of s whose member
 * `side` ("from" or "to") is node, not counting rejected ones (nor
 * declined offers, offer.h); its date
 * into on.  Returns 1 when there is one.
 */
static int
latest_referral(const struct case_state *s, const char *side,
    const char *node, char on[HTCDS_DATE_LEN + 1])
{
	const struct event	*best = NULL;
	char			 who[HLC_NODE_MAX + 1], st[16];
	char			 d[HTCDS_DATE_LEN + 1];
	char			 bd[HTCDS_DATE_LEN + 1];

	for (size_t i = 0; i < s->nevents; i++) {
		const struct event *e = &s->events[i];

		if (strcmp(e->coll, "referrals") != 0 ||
		    !schema_event_str(e, side, who, sizeof(who)) ||
		    strcmp(who, node) != 0 ||
		    !schema_event_str(e, "on", d, sizeof(d)) ||
		    (schema_event_str(e, "status", st, sizeof(st)) &&
		    strcmp(st, "rejected") == 0) ||
		    offer_answer(s, e->id, NULL) == OFFER_DECLINED)
			continue;
		if (best == NULL || strcmp(d, bd) > 0 || (strcmp(d, bd) == 0 &&
		    stamp_cmp(&e->st, &best->st) > 0)) {
			best = e;
			memcpy(bd, d, sizeof(bd));
		}
	}
	if (best != NULL)
		memcpy(on, bd, HTCDS_DATE_LEN + 1);
	return best != NULL;
}

/* Names as the standard splits them.  A Vietnamese name is written family
 * name first: "Nguyễn Thị Lan" is family Nguyễn, middle Thị, given Lan. */
static void
put_name(struct hrec *r, const char *full)
{
	char		 b[256];
	char		*first, *last;
	size_t		 n;

	if (strlcpy_(b, full, sizeof(b)) >= sizeof(b)) {
		r->full = 1;
		return;
	}
	first = b;
	if ((last = strrchr(b, ' ')) == NULL) {
		put(r, H_FIRSTNAME, b);
		return;
	}
	*last++ = '\0';
	put(r, H_FIRSTNAME, last);
	n = strcspn(first, " ");
	if (first[n] != '\0') {
		first[n] = '\0';
		put(r, H_MIDDLENAME, first + n + 1);
	}
	put(r, H_SECONDNAME, first);
}

static void
put_identifying(struct hrec *r, const struct case_state *s)
{
	char	b[512];

	if (schema_get_str(s, "person.full_name", b, sizeof(b)))
		put_name(r, b);
	if (schema_get_str(s, "person.id_number", b, sizeof(b)))
		put(r, H_IDNUMBER, b);
	if (schema_get_str(s, "person.phone", b, sizeof(b)))
		put(r, H_MOBILE, b);
	if (schema_get_str(s, "person.address", b, sizeof(b)))
		put(r, H_STREET, b);
}

/* Puts the standard's value that m gives for the value of path, if any. */
static void
put_mapped(struct hrec *r, enum hf f, const struct case_state *s,
    const char *path, const struct vmap *m, size_t n)
{
	const char	*v;
	char		 b[64];

	if (schema_get_str(s, path, b, sizeof(b)) &&
	    (v = map(m, n, b)) != NULL)
		put(r, f, v);
}

/* Person: gender, citizenship, trafficking status, age, exploitation. */
static void
build_person(const struct case_state *s, struct hrec *r)
{
	const char *const	*ours;
	const char		*v;
	char			 b[64], recv[HTCDS_DATE_LEN + 2];
	int64_t			 by, age;
	uint32_t		 set, out = 0;
	int			 k;

	v = schema_get_str(s, "person.sex", b, sizeof(b)) ?
	    map(m_gender, NELEM(m_gender), b) : NULL;
	put(r, H_GENDER, v != NULL ? v : GENDER_ABSENT);
	put_mapped(r, H_CITIZENSHIP, s, "person.legal_status", m_citizenship,
	    NELEM(m_citizenship));
	if (schema_get_str(s, "status", b, sizeof(b)) &&
	    strcmp(b, "not_victim") == 0)
		put(r, H_TSTATUS, "NotAVictimOfTrafficking");
	else
		put_mapped(r, H_TSTATUS, s, "person.category", m_tstatus,
		    NELEM(m_tstatus));
	/* Only the birth year is known: the age in the year of reception,
	 * at or above the age when first trafficked. */
	if (schema_get_int(s, "person.birth_year", &by) &&
	    schema_get_str(s, "intake.received_on", recv, sizeof(recv)) &&
	    strlen(recv) == HTCDS_DATE_LEN) {
		age = (recv[0] - '0') * 1000 + (recv[1] - '0') * 100 +
		    (recv[2] - '0') * 10 + (recv[3] - '0') - by;
		if (age >= 0 && age <= AGE_MAX) {
			snprintf(b, sizeof(b), "%lld", (long long)age);
			put(r, H_AGE, b);
		}
	}
	set = schema_get_set(s, "trafficking.purposes");
	ours = schema_enum_values(SCHEMA_ENUM_PURPOSE);
	for (int i = 0; ours != NULL && ours[i] != NULL; i++) {
		if ((set & (UINT32_C(1) << i)) && (v = map(m_exploitation,
		    NELEM(m_exploitation), ours[i])) != NULL &&
		    (k = index_of(o_exploitation, v)) >= 0)
			out |= UINT32_C(1) << k;
	}
	put_set(r, H_EXPLOITATION, o_exploitation, out);
}

/* Case: status and referrals, seen from the owning province. */
static void
build_case(const struct case_state *s, struct hrec *r)
{
	char	on[HTCDS_DATE_LEN + 1];

	put_mapped(r, H_STATUS, s, "status", m_status, NELEM(m_status));
	if (s->owner[0] == '\0')
		return;
	if (latest_referral(s, "to", s->owner, on)) {
		put(r, H_INDATE, on);
		put(r, H_INREASON, REFERRAL_REASON);
	}
	if (latest_referral(s, "from", s->owner, on)) {
		put(r, H_OUTREASON, REFERRAL_REASON);
		put(r, H_OUTDATE, on);
	}
}

/* The repeated sections: the historic event of exploitation, and one
 * support plan per type of service received. */
static void
build_sections(const struct case_state *s, struct hrec *r)
{
	const char	*v;
	char		 b[64];
	uint32_t	 out = 0;
	int		 k;

	if (schema_get_str(s, "trafficking.destination_country", b,
	    sizeof(b))) {
		put(r, H_HTE_COUNTRY, b);
		put(r, H_HTE_TYPE, HTE_EXPLOITATION);
	}
	for (size_t e = 0; e < s->nevents; e++) {
		if (strcmp(s->events[e].coll, "services") == 0 &&
		    schema_event_str(&s->events[e], "type", b, sizeof(b)) &&
		    (v = map(m_support, NELEM(m_support), b)) != NULL &&
		    (k = index_of(o_support, v)) >= 0)
			out |= UINT32_C(1) << k;
	}
	put_set(r, H_SPL_TYPE, o_support, out);
}

/* Fills r from s: see the table in docs/HTCDS.md. */
static void
build(const struct htcds *h, const struct case_state *s, struct hrec *r)
{
	if (h->o.identifying)
		put_identifying(r, s);
	build_person(s, r);
	build_case(s, r);
	build_sections(s, r);
}

static int
field_shown(const struct htcds *h, enum hf f)
{
	return !hfields[f].ident || h->o.identifying;
}

int
htcds_header(const struct htcds *h, struct buf *out)
{
	int	rc;

	if (h->o.format != HTCDS_CSV)
		return 0;
	rc = buf_append_str(out, "id");
	for (int f = 0; f < H__N && rc == 0; f++)
		if (field_shown(h, f))
			rc = buf_printf(out, ",%s", hfields[f].name);
	return rc == 0 ? buf_append_str(out, "\r\n") : rc;
}

/* One CSV cell (RFC 4180 quoting).  A cell a spreadsheet would take for a
 * formula (=, +, -, @ first) is written with a leading apostrophe: only
 * identifying text can start so. */
static int
csv_cell(struct buf *out, const char *s)
{
	int	rc = 0;

	if (strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0')
		rc = buf_append_str(out, "\"'");
	else if (strpbrk(s, ",\"\r\n;") != NULL)
		rc = buf_append_str(out, "\"");
	else
		return buf_append_str(out, s);
	for (; *s != '\0' && rc == 0; s++)
		rc = *s == '"' ? buf_append_str(out, "\"\"") :
		    buf_append(out, s, 1);
	return rc == 0 ? buf_append_str(out, "\"") : rc;
}

static int
render_csv(const struct htcds *h, const struct hrec *r, const char *id,
    struct buf *out)
{
	struct buf	cell;
	int		rc;

	rc = buf_append_str(out, id);
	buf_init(&cell, HTCDS_RECORD_MAX);
	for (int f = 0; f < H__N && rc == 0; f++) {
		if (!field_shown(h, f))
			continue;
		rc = buf_append_str(out, ",");
		buf_reset(&cell);
		/* Values of a multi field are joined with ";", as spreadsheet
		 * exports of multiselect picklists are. */
		for (size_t i = 0; i < r->n[f] && rc == 0; i++)
			rc = buf_printf(&cell, "%s%s", i ? ";" : "",
			    r->v[f][i]);
		if (rc == 0 && cell.len > 0)
			rc = r->n[f] == 1 ? csv_cell(out, r->v[f][0]) :
			    buf_append(out, cell.data, cell.len);
	}
	buf_release(&cell);
	return rc == 0 ? buf_append_str(out, "\r\n") : rc;
}

static int
render_json(const struct hrec *r, const char *id, struct buf *out)
{
	int	rc;

	rc = buf_append_str(out, "{\"id\":");
	if (rc == 0)
		rc = jsonw_str(out, id);
	for (int f = 0; f < H__N && rc == 0; f++) {
		if (r->n[f] == 0)
			continue;
		rc = jsonw_key(out, hfields[f].name, 0);
		if (rc == 0 && hfields[f].multi)
			rc = buf_append_str(out, "[");
		for (size_t i = 0; i < r->n[f] && rc == 0; i++) {
			if (i > 0)
				rc = buf_append_str(out, ",");
			if (rc == 0)
				rc = hfields[f].number ?
				    buf_append_str(out, r->v[f][i]) :
				    jsonw_str(out, r->v[f][i]);
		}
		if (rc == 0 && hfields[f].multi)
			rc = buf_append_str(out, "]");
	}
	return rc == 0 ? buf_append_str(out, "}\n") : rc;
}

int
htcds_record(const struct htcds *h, const struct case_state *s,
    struct buf *out)
{
	struct hrec	*r;
	char		 id[HTCDS_ID_LEN + 1];
	size_t		 before = out->len;
	int		 rc;

	if ((rc = htcds_pseudonym(h->key, s->id, id)) != 0)
		return rc;
	r = xcalloc(1, sizeof(*r));
	build(h, s, r);
	/* Values are bounded by the schema; a full record is a bug. */
	if (r->full)
		rc = E_TOOBIG;
	else if (h->o.format == HTCDS_CSV)
		rc = render_csv(h, r, id, out);
	else
		rc = render_json(r, id, out);
	crypto_wipe(r, sizeof(*r));
	free(r);
	if (rc != 0)
		out->len = before;
	return rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

/* Each of our values has exactly one entry, and every entry is ours. */
static int
st_covers(const char *path, const struct vmap *m, size_t n,
    const char *const *order)
{
	const char *const	*ours;
	enum schema_enum	 e;
	size_t			 k = 0;

	ST_OK(schema_field_enum(path, &e));
	ST_CHECK((ours = schema_enum_values(e)) != NULL);
	for (; ours[k] != NULL; k++) {
		size_t hits = 0;

		for (size_t i = 0; i < n; i++)
			hits += strcmp(m[i].ours, ours[k]) == 0;
		if (hits != 1) {
			fprintf(stderr, "  FAIL %s: %s mapped %zu times\n",
			    path, ours[k], hits);
			return 1;
		}
	}
	ST_CHECK(k == n);
	for (size_t i = 0; order != NULL && i < n; i++)
		ST_CHECK(index_of(order, m[i].theirs) >= 0);
	return 0;
}

static void
st_set(struct case_state *s, const char *path, const char *v)
{
	struct field	*f;

	s->fields = xreallocarray(s->fields, s->nfields + 1,
	    sizeof(*s->fields));
	f = &s->fields[s->nfields++];
	memset(f, 0, sizeof(*f));
	strlcpy_(f->path, path, sizeof(f->path));
	f->heads = xcalloc(1, sizeof(*f->heads));
	f->nheads = 1;
	f->heads[0].st.hlc = 1;
	f->heads[0].value_len = strlen(v);
	f->heads[0].value = xmalloc(strlen(v));
	memcpy(f->heads[0].value, v, strlen(v));
}

static void
st_ev(struct case_state *s, const char *coll, const char *id, const char *v)
{
	struct event	*e;

	s->events = xreallocarray(s->events, s->nevents + 1,
	    sizeof(*s->events));
	e = &s->events[s->nevents++];
	memset(e, 0, sizeof(*e));
	strlcpy_(e->coll, coll, sizeof(e->coll));
	strlcpy_(e->id, id, sizeof(e->id));
	e->st.hlc = s->nevents;
	e->value_len = strlen(v);
	e->value = xmalloc(e->value_len);
	memcpy(e->value, v, e->value_len);
}

#define ST_ID	"0190b5c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d"

int
htcds_selftest(void)
{
	struct htcds_opts	 o;
	struct htcds		 h;
	struct case_state	 s;
	struct buf		 out;
	uint8_t			 key[CRYPTO_KEY];
	char			 p1[HTCDS_ID_LEN + 1], p2[HTCDS_ID_LEN + 1];
	char			*line;
	static const char	 want[] = "\",\"prs_Gender\":\"Feminine\","
	    "\"prs_Citizenship\":[\"VN\"],"
	    "\"vic_TraffickingStatus\":\"ActualVictimOfTrafficking\","
	    "\"vic_AgeWhenTrafficked\":24,"
	    "\"vic_TypeOfExploitation\":[\"ForcedLabour\","
	    "\"ForcedMarriage\"],\"cas_Status\":\"FollowUp\","
	    "\"cas_IncomingReferralDate\":\"2025-04-02\","
	    "\"cas_ReasonForIncomingReferral\":"
	    "\"MigrationOrChangeOfLocation\",\"hte_Country\":[\"CN\"],"
	    "\"hte_Type\":[\"Exploitation\"],"
	    "\"spl_Type\":[\"Financial\",\"Health\"]}\n";

	ST_OK(st_covers("person.sex", m_gender, NELEM(m_gender), NULL));
	ST_OK(st_covers("trafficking.purposes", m_exploitation,
	    NELEM(m_exploitation), o_exploitation));
	ST_OK(st_covers("status", m_status, NELEM(m_status), NULL));
	ST_OK(st_covers("person.category", m_tstatus, NELEM(m_tstatus),
	    NULL));
	ST_OK(st_covers("person.legal_status", m_citizenship,
	    NELEM(m_citizenship), NULL));
	ST_OK(st_covers("services.type", m_support, NELEM(m_support),
	    o_support));

	memset(key, 7, sizeof(key));
	ST_OK(htcds_pseudonym(key, ST_ID, p1));
	ST_OK(htcds_pseudonym(key, ST_ID, p2));
	ST_CHECK(strlen(p1) == HTCDS_ID_LEN && strcmp(p1, p2) == 0);
	key[0] ^= 1;
	ST_OK(htcds_pseudonym(key, ST_ID, p2));
	ST_CHECK(strcmp(p1, p2) != 0);
	key[0] ^= 1;

	state_init(&s, ST_ID);
	strlcpy_(s.owner, "ha-noi", sizeof(s.owner));
	st_set(&s, "intake.received_on", "\"2025-03-01\"");
	st_set(&s, "person.birth_year", "2001");
	st_set(&s, "person.category", "\"victim\"");
	st_set(&s, "person.full_name", "\"FAKE Nguyễn Thị Lan\"");
	st_set(&s, "person.legal_status", "\"citizen\"");
	st_set(&s, "person.phone", "\"=0912\"");
	st_set(&s, "person.sex", "\"female\"");
	st_set(&s, "status", "\"reintegration_followup\"");
	st_set(&s, "trafficking.destination_country", "\"CN\"");
	st_set(&s, "trafficking.purposes",
	    "[\"labour_export_fraud\",\"forced_marriage\"]");
	st_ev(&s, "referrals", "r1", "{\"from\":\"lao-cai\",\"to\":\"ha-noi\","
	    "\"on\":\"2025-04-02\",\"status\":\"completed\"}");
	st_ev(&s, "referrals", "r0", "{\"from\":\"lao-cai\",\"to\":\"ha-noi\","
	    "\"on\":\"2025-03-02\",\"status\":\"completed\"}");
	st_ev(&s, "referrals", "r2", "{\"from\":\"lao-cai\",\"to\":\"ha-noi\","
	    "\"on\":\"2025-05-02\",\"status\":\"rejected\"}");
	st_ev(&s, "services", "a", "{\"type\":\"loan\",\"on\":\"2025-03-03\"}");
	st_ev(&s, "services", "b", "{\"type\":\"psychological\","
	    "\"on\":\"2025-03-03\"}");
	st_ev(&s, "services", "c", "{\"type\":\"medical\","
	    "\"on\":\"2025-03-04\"}");
	st_ev(&s, "notes", "n", "{\"text\":\"FAKE secret note\"}");

	memset(&o, 0, sizeof(o));
	htcds_init(&h, &o, key);
	buf_init(&out, 1 << 20);
	ST_CHECK(htcds_selected(&h, &s));
	ST_OK(htcds_header(&h, &out));
	ST_CHECK(out.len == 0);
	ST_OK(htcds_record(&h, &s, &out));
	ST_OK(buf_append(&out, "", 1));
	line = (char *)out.data;
	if (strncmp(line, "{\"id\":\"", 7) != 0 ||
	    strncmp(line + 7, p1, HTCDS_ID_LEN) != 0 ||
	    strcmp(line + 7 + HTCDS_ID_LEN, want) != 0) {
		fprintf(stderr, "  FAIL record:\n  got  %s  want ...%s", line,
		    want);
		return 1;
	}
	ST_CHECK(strstr(line, "FAKE") == NULL && strstr(line, ST_ID) == NULL);

	/* Period and province. */
	strlcpy_(h.o.from, "2025-03-02", sizeof(h.o.from));
	ST_CHECK(!htcds_selected(&h, &s));
	strlcpy_(h.o.from, "2025-03-01", sizeof(h.o.from));
	strlcpy_(h.o.to, "2025-03-01", sizeof(h.o.to));
	ST_CHECK(htcds_selected(&h, &s));
	strlcpy_(h.o.province, "lao-cai", sizeof(h.o.province));
	ST_CHECK(!htcds_selected(&h, &s));

	/* Identifying CSV: names split, formula-like cells defused. */
	buf_reset(&out);
	h.o.identifying = 1;
	h.o.format = HTCDS_CSV;
	ST_OK(htcds_header(&h, &out));
	ST_OK(htcds_record(&h, &s, &out));
	ST_OK(buf_append(&out, "", 1));
	line = (char *)out.data;
	ST_CHECK(strncmp(line, "id,prs_FirstName,prs_MiddleName,"
	    "prs_SecondName,prs_Gender,", 58) == 0);
	ST_CHECK(strstr(line, ",Lan,Nguyễn Thị,FAKE,Feminine,VN,,\"'=0912\","
	    ",ActualVictimOfTrafficking,24,ForcedLabour;ForcedMarriage,"
	    "FollowUp,2025-04-02,MigrationOrChangeOfLocation,,,CN,"
	    "Exploitation,Financial;Health\r\n") != NULL);
	htcds_release(&h);
	ST_CHECK(h.key[0] == 0);

	/* Nothing known: the gender still counts, as unknown. */
	state_release(&s);
	state_init(&s, ST_ID);
	htcds_init(&h, &o, key);
	buf_reset(&out);
	ST_OK(htcds_record(&h, &s, &out));
	ST_CHECK(out.len == 7 + HTCDS_ID_LEN + 38 &&
	    memcmp(out.data + 7 + HTCDS_ID_LEN, "\",\"prs_Gender\":"
	    "\"NonSpecifiedUnknown\"}\n", 38) == 0);
	ST_CHECK(htcds_parse_format("htcds-csv", &o.format) == 0 &&
	    o.format == HTCDS_CSV);
	ST_CHECK(htcds_parse_format("csv", &o.format) == E_INVAL);
	htcds_release(&h);
	state_release(&s);
	buf_release(&out);
	return 0;
}
#endif

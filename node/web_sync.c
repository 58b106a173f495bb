/*
 * web_sync.c - sync health: /sync and GET /api/status.  One row per peer
 * (central: every enrolled province; a province: its link to central)
 * with the last successful sync and its age, entries pending, refusals,
 * the key fingerprint and whether it is revoked; then the refused entries
 * with their reasons.  Nothing here identifies a person: every role sees
 * it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provinces.h"
#include "standby.h"
#include "web.h"

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

#define SYNC_ROWS_MAX		256
#define SYNC_REFUSED_MAX	200
#define SYNC_STALE_MS		(48ULL * 60 * 60 * 1000)

struct sync_row {
	char		node[HLC_NODE_MAX + 1];
	int		key_status;	/* 0: no key known */
	char		fp[24];		/* "cs1-" + 16 hex digits */
	int		have_peer;
	struct peer_info pi;
	uint64_t	pending_out;
	uint64_t	received;
};

struct refused_row {
	char		origin[HLC_NODE_MAX + 1];
	uint64_t	seq;
	char		reason[256];
	int		own;		/* written on this node */
};

struct sync_data {
	struct store_info	 si;
	int			 central;
	/* A province: its latest sync with any central (a central and its
	 * standby, docs/HA.md), and the most of its changes any took. */
	uint64_t		 last_any_ms;
	uint64_t		 acked_any;
	struct sync_row		 rows[SYNC_ROWS_MAX];
	size_t			 nrows;
	struct refused_row	*ref;
	size_t			 nref;
	uint64_t		 nref_all;
};

static struct sync_row *
row_for(struct sync_data *d, const char *node)
{
	for (size_t i = 0; i < d->nrows; i++)
		if (strcmp(d->rows[i].node, node) == 0)
			return &d->rows[i];
	if (d->nrows == SYNC_ROWS_MAX)
		return NULL;
	memset(&d->rows[d->nrows], 0, sizeof(d->rows[0]));
	strlcpy_(d->rows[d->nrows].node, node, sizeof(d->rows[0].node));
	return &d->rows[d->nrows++];
}

static int
key_one(const struct node_key *nk, void *arg)
{
	struct sync_data	*d = arg;
	struct sync_row		*r;

	/* Keys relayed only to verify entries are not links. */
	if (nk->status == KEY_KNOWN)
		return 0;
	if ((r = row_for(d, nk->node)) == NULL)
		return 0;
	r->key_status = nk->status;
	memcpy(r->fp, "cs1-", 4);
	hex_encode(nk->sign_pub, 8, r->fp + 4);
	return 0;
}

static int
peer_one(const struct peer_info *pi, void *arg)
{
	struct sync_data	*d = arg;
	struct sync_row		*r;

	if ((r = row_for(d, pi->node)) == NULL)
		return 0;
	r->have_peer = 1;
	r->pi = *pi;
	return 0;
}

static int
refused_one(const char *origin, uint64_t seq, const char *reason, void *arg)
{
	struct sync_data *d = arg;

	d->nref_all++;
	if (d->nref >= SYNC_REFUSED_MAX)
		return 0;
	strlcpy_(d->ref[d->nref].origin, origin, sizeof(d->ref[0].origin));
	d->ref[d->nref].seq = seq;
	strlcpy_(d->ref[d->nref].reason, reason, sizeof(d->ref[0].reason));
	/* A province's table holds its own changes central refused, and,
	 * since bug 15, another province's that reached it through another
	 * central and that central's notice took out (unrecord_foreign).
	 * Central's own changes are never refused. */
	d->ref[d->nref].own = strcmp(origin, d->si.node) == 0;
	d->nref++;
	return 0;
}

static int
sync_load(struct web_req *r, struct sync_data *d)
{
	struct store	*st = r->w->st;
	int		 rc;

	memset(d, 0, sizeof(*d));
	d->ref = xcalloc(SYNC_REFUSED_MAX, sizeof(*d->ref));
	web_lock(r);
	if ((rc = store_info(st, &d->si)) == 0) {
		d->central = strcmp(d->si.role, STORE_ROLE_CENTRAL) == 0;
		if ((rc = store_key_each(st, key_one, d)) == 0 &&
		    (rc = store_peer_each(st, peer_one, d)) == 0)
			rc = store_refused_each(st, refused_one, d);
		for (size_t i = 0; !d->central && i < d->nrows; i++) {
			const struct sync_row *w = &d->rows[i];

			if (!w->have_peer)
				continue;
			if (w->pi.last_sync_ms > d->last_any_ms)
				d->last_any_ms = w->pi.last_sync_ms;
			if (w->pi.sent_acked > d->acked_any)
				d->acked_any = w->pi.sent_acked;
		}
		for (size_t i = 0; rc == 0 && i < d->nrows; i++) {
			struct sync_row	*w = &d->rows[i];
			uint64_t	 last = 0, seq = 0;

			if (d->central) {
				if (store_feed_last(st, w->node, &last) == 0)
					w->pending_out = pos_between(
					    w->pi.feed_acked, last);
				store_vv_get(st, w->node, &w->received);
			} else {
				/* What any central took is national: its
				 * standby follows it (as the banner counts). */
				if (store_vv_get(st, d->si.node, &seq) == 0)
					w->pending_out = pos_between(
					    d->acked_any, seq);
				w->received = w->pi.feed_recv;
			}
		}
	}
	web_unlock(r);
	return rc;
}

static void
age_text(const struct web_req *r, uint64_t ms, char *out, size_t sz)
{
	uint64_t s = ms / 1000;

	if (s < 120)
		snprintf(out, sz, web_tr(r, "%llu s ago"),
		    (unsigned long long)s);
	else if (s < 2 * 3600)
		snprintf(out, sz, web_tr(r, "%llu min ago"),
		    (unsigned long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(out, sz, web_tr(r, "%llu h ago"),
		    (unsigned long long)(s / 3600));
	else
		snprintf(out, sz, web_tr(r, "%llu days ago"),
		    (unsigned long long)(s / 86400));
}

/* ---- central's standby (docs/HA.md) ---------------------------------- */

/* Central and its standby as central's `status` sees them: loaded when a
 * standby ever followed this central (DIR/standby.status). */
struct sb_data {
	int			have;
	struct standby_status	ss;
	struct standby_view	v;
	uint64_t		lag;	/* entries not on the standby */
};

static void
sb_load(struct web_req *r, const struct sync_data *d, struct sb_data *sb)
{
	memset(sb, 0, sizeof(*sb));
	if (!d->central || standby_status_read(r->w->dir, &sb->ss) != 0)
		return;
	sb->have = 1;
	standby_view_central(r->w->dir, &sb->ss, &sb->v);
	sb->lag = d->si.nentries > sb->ss.entries ? d->si.nentries -
	    sb->ss.entries : 0;
}

/* The row of the standby is not a province's. */
static int
sb_is(const struct web_req *r, const struct sync_data *d, const char *node)
{
	return d->central && r->w->cfg->standby[0] != '\0' &&
	    strcmp(node, r->w->cfg->standby) == 0;
}

static int
sb_loses(const struct sb_data *sb)
{
	return sb->lag > 0 || !sb->v.users_current ||
	    sb->v.audit_lag_bytes > 0 || (sb->v.key_asked &&
	    !sb->v.key_current && sb->v.key_central);
}

static const char *
sb_key_word(const struct sb_data *sb)
{
	if (!sb->v.key_asked)
		return "not_asked";
	if (sb->v.key_current)
		return sb->v.key_central ? "current" : "none";
	return sb->ss.key_state == STANDBY_KEY_UNREAD ? "unreadable" :
	    "behind";
}

static void age_text(const struct web_req *, uint64_t, char *, size_t);

static void
sb_row(struct web_req *r, const char *label, const char *id, int bad)
{
	html_lit(&r->h, "<tr><th scope=\"row\">");
	html_text(&r->h, web_tr(r, label));
	html_lit(&r->h, "</th><td");
	html_attr(&r->h, "id", id);
	if (bad)
		html_lit(&r->h, " class=\"bad\"");
	html_lit(&r->h, ">");
}

static void
sb_age(struct web_req *r, uint64_t ms)
{
	char	age[64];

	if (ms == 0) {
		html_text(&r->h, web_tr(r, "never"));
		return;
	}
	age_text(r, r->now_ms > ms ? r->now_ms - ms : 0, age, sizeof(age));
	html_text(&r->h, age);
}

static void
sb_html(struct web_req *r, const struct sb_data *sb)
{
	struct html	*h = &r->h;
	const char	*kw = sb_key_word(sb);

	html_lit(h, "<h2>");
	html_text(h, web_tr(r, "Standby central"));
	html_lit(h, "</h2><p>");
	html_text(h, web_tr(r, "The standby follows this central and can be "
	    "promoted in its place. Its copies, compared with this central's "
	    "files as they are now:"));
	html_lit(h, "</p><div class=\"tablewrap\"><table class=\"data\" "
	    "id=\"standby\"><tbody>");
	sb_row(r, N_("Standby"), "sb-node", 0);
	html_text(h, sb->ss.node);
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Last contact"), "sb-contact", 0);
	sb_age(r, sb->ss.contact_ms);
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Changes not on the standby"), "sb-lag", sb->lag > 0);
	html_u64(h, sb->lag);
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Console users"), "sb-users", !sb->v.users_current);
	html_text(h, !sb->v.asked ? web_tr(r, "not asked for yet") :
	    sb->v.users_current ? web_tr(r, "current") : web_tr(r, "behind"));
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Audit log lines not copied"), "sb-audit",
	    sb->v.audit_lag_bytes > 0);
	html_u64(h, sb->v.audit_lag_lines);
	html_lit(h, " <small>(");
	html_textf(h, web_tr(r, "%llu of %llu bytes copied"),
	    (unsigned long long)sb->v.audit_held,
	    (unsigned long long)sb->v.audit_size);
	html_lit(h, ")</small></td></tr>");
	sb_row(r, N_("HTCDS pseudonym key"), "sb-key", strcmp(kw, "behind") ==
	    0 || strcmp(kw, "unreadable") == 0);
	html_text(h, strcmp(kw, "current") == 0 ? web_tr(r, "current") :
	    strcmp(kw, "none") == 0 ? web_tr(r, "none on central") :
	    strcmp(kw, "behind") == 0 ? web_tr(r, "behind") :
	    strcmp(kw, "unreadable") == 0 ? web_tr(r, "central cannot read "
	    "it") : web_tr(r, "not asked (an older standby)"));
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Last request for these files"), "sb-request", 0);
	sb_age(r, sb->ss.ask_ms);
	html_lit(h, "</td></tr>");
	sb_row(r, N_("Promoting it now"), "sb-verdict", sb_loses(sb));
	html_text(h, sb_loses(sb) ? web_tr(r, "would lose what is marked "
	    "above") : web_tr(r, "would lose nothing the standby copies"));
	html_lit(h, "</td></tr></tbody></table></div>");
}

static void
sb_json(struct web_req *r, const struct sb_data *sb, struct buf *b)
{
	buf_append_str(b, ",\"standby\":");
	if (!sb->have) {
		buf_append_str(b, "null");
		return;
	}
	buf_append_str(b, "{");
	jsonw_key(b, "peer", 1);
	jsonw_str(b, sb->ss.node);
	buf_printf(b, ",\"lag_entries\":%llu,\"users_current\":%s,"
	    "\"audit_bytes\":%llu,\"audit_size\":%llu,"
	    "\"audit_lag_bytes\":%llu,\"audit_lag_lines\":%llu,"
	    "\"htcds_key\":\"%s\",\"last_contact_ms\":%llu,"
	    "\"last_request_ms\":%llu,\"promotion_loses\":%s}",
	    (unsigned long long)sb->lag, !sb->v.asked ? "null" :
	    sb->v.users_current ? "true" : "false",
	    (unsigned long long)sb->v.audit_held,
	    (unsigned long long)sb->v.audit_size,
	    (unsigned long long)sb->v.audit_lag_bytes,
	    (unsigned long long)sb->v.audit_lag_lines, sb_key_word(sb),
	    (unsigned long long)sb->ss.contact_ms,
	    (unsigned long long)sb->ss.ask_ms, sb_loses(sb) ? "true" :
	    "false");
	(void)r;
}

static void
th(struct web_req *r, const char *label)
{
	html_lit(&r->h, "<th scope=\"col\">");
	html_text(&r->h, web_tr(r, label));
	html_lit(&r->h, "</th>");
}

/* Opens a cell of a table of class "cards", named for a phone's layout
 * by its column's label (a msgid); cls NULL or a literal class. */
static void
td(struct web_req *r, const char *label, const char *cls)
{
	html_lit(&r->h, "<td");
	html_attr(&r->h, "data-label", web_tr(r, label));
	if (cls != NULL)
		html_attr(&r->h, "class", cls);
	html_lit(&r->h, ">");
}

/* The name of a province's node, or the node id. */
static const char *
prov_name(const char *node)
{
	const struct province *p = province_find(node);

	return p != NULL ? p->name : node;
}

/* The reason of a refused row: central's own text (English, as in its
 * log; docs/CONSOLE.md), or, when the notice carried none, why not. */
static void
refused_reason(struct web_req *r, const struct refused_row *f)
{
	if (strcmp(f->reason, STORE_REASON_NONE) != 0) {
		html_text(&r->h, f->reason);
		return;
	}
	html_lit(&r->h, "<span class=\"muted\">");
	/* Central tells another province's refusal without its reason
	 * (docs/PROTOCOL.md); an older central sends none at all. */
	html_text(&r->h, f->own ? web_tr(r, "Central sent no reason.") :
	    web_tr(r, "Central tells the reason only to the province that "
	    "made the change."));
	html_lit(&r->h, "</span>");
}

/* Whose change a province's refused row is: its own, which does not
 * count, or another province's that reached it and was taken out. */
static void
refused_whose(struct web_req *r, const struct refused_row *f)
{
	struct html *h = &r->h;

	td(r, N_("Whose change"), NULL);
	if (f->own) {
		html_lit(h, "<span class=\"tag bad\">");
		html_text(h, web_tr(r, "This province's change"));
		html_lit(h, "</span><br><small>");
		html_text(h, web_tr(r, "made here; it does not count"));
	} else {
		html_lit(h, "<span class=\"tag\">");
		html_text(h, web_tr(r, "Another province's change"));
		html_lit(h, "</span><br><small>");
		html_text(h, web_tr(r, "taken out of this province's copy"));
	}
	html_lit(h, "</small></td>");
}

/* The refused changes: origin, seq and reason, never a value. */
static void
refused_html(struct web_req *r, const struct sync_data *d)
{
	struct html	*h = &r->h;

	html_lit(h, "<h2>");
	html_text(h, web_tr(r, "Refused changes"));
	html_lit(h, "</h2>");
	if (d->nref == 0) {
		html_lit(h, "<p>");
		html_text(h, web_tr(r, "None."));
		html_lit(h, "</p>");
		return;
	}
	html_lit(h, "<p class=\"hint\">");
	html_text(h, d->central ? web_tr(r, "Changes of the provinces that "
	    "this central refused, with its reason. A refused change does not "
	    "count, here or on any province.") : web_tr(r, "Changes that "
	    "central refused, each taken out of this province's copy of its "
	    "case. A change made here does not count: the reason says why. "
	    "A change of another province had reached this province before "
	    "central refused it: it was taken out here too, and nothing "
	    "needs doing here."));
	html_lit(h, "</p><div class=\"tablewrap\"><table class=\"data "
	    "cards\" id=\"refused\"><thead><tr>");
	th(r, N_("Province"));
	if (!d->central)
		th(r, N_("Whose change"));
	th(r, N_("Change no."));
	th(r, N_("Reason"));
	html_lit(h, "</tr></thead><tbody>");
	for (size_t i = 0; i < d->nref; i++) {
		const struct refused_row *f = &d->ref[i];

		html_lit(h, "<tr");
		html_attr(h, "data-origin", f->origin);
		html_attr_u64(h, "data-seq", f->seq);
		html_lit(h, ">");
		td(r, N_("Province"), NULL);
		html_text(h, prov_name(f->origin));
		if (strcmp(prov_name(f->origin), f->origin) != 0) {
			html_lit(h, "<br><small><code>");
			html_text(h, f->origin);
			html_lit(h, "</code></small>");
		}
		html_lit(h, "</td>");
		if (!d->central)
			refused_whose(r, f);
		td(r, N_("Change no."), "num");
		html_u64(h, f->seq);
		html_lit(h, "</td>");
		td(r, N_("Reason"), NULL);
		refused_reason(r, f);
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></div>");
	if (d->nref_all > d->nref) {
		html_lit(h, "<p>");
		html_textf(h, web_tr(r, "%llu more not shown."),
		    (unsigned long long)(d->nref_all - d->nref));
		html_lit(h, "</p>");
	}
}

void
web_sync_page(struct web_req *r)
{
	struct sync_data	*d = xcalloc(1, sizeof(*d));
	struct html		*h = &r->h;
	struct sb_data		 sb;
	char			 when[40], age[64];
	size_t			 shown = 0;

	if (sync_load(r, d) != 0) {
		free(d->ref);
		free(d);
		web_error(r, 500, web_tr(r, "the store cannot be read"));
		return;
	}
	sb_load(r, d, &sb);
	web_page_begin(r, web_tr(r, "Sync health"), "/sync");
	html_lit(h, "<p class=\"lead\">");
	html_text(h, d->central ? web_tr(r, "One row per province: when it "
	    "last synced with this node, what waits on each side, and what "
	    "was refused.") : web_tr(r, "This province's link to central: "
	    "when it last synced, what waits to go, and what central "
	    "refused."));
	html_lit(h, "</p><div class=\"summary\"><div><span class=\"big\">");
	html_u64(h, d->si.ncases);
	html_lit(h, "</span> ");
	html_text(h, web_tr(r, "cases on this node"));
	html_lit(h, "</div><div><span class=\"big\">");
	html_u64(h, d->si.nentries);
	html_lit(h, "</span> ");
	html_text(h, web_tr(r, "changes in the log"));
	html_lit(h, "</div><div><span class=\"big\">");
	html_u64(h, d->si.nconflicts);
	html_lit(h, "</span> ");
	html_text(h, web_tr(r, "open conflicts"));
	html_lit(h, "</div></div>");
	html_lit(h, "<div class=\"tablewrap\"><table class=\"data\" "
	    "id=\"sync\"><thead><tr>");
	th(r, d->central ? N_("Province") : N_("Peer"));
	th(r, N_("Last successful sync"));
	th(r, N_("Waiting to send"));
	th(r, N_("Received"));
	th(r, N_("Refused"));
	th(r, N_("Key"));
	th(r, N_("Last error"));
	html_lit(h, "</tr></thead><tbody>");
	for (size_t i = 0; i < d->nrows; i++) {
		struct sync_row	*w = &d->rows[i];
		int		 never = !w->have_peer ||
		    w->pi.last_sync_ms == 0;
		/* A province is out of date only when no central has synced
		 * with it lately: the one it does not use (the standby, or
		 * the old central after a promotion) is not a fault. */
		uint64_t	 last = d->central ? (never ? 0 :
		    w->pi.last_sync_ms) : d->last_any_ms;
		int		 stale = last == 0 ||
		    r->now_ms - last > SYNC_STALE_MS;

		if (sb_is(r, d, w->node))
			continue;	/* below, not a province */
		shown++;
		html_lit(h, "<tr><th scope=\"row\">");
		html_text(h, w->node);
		html_lit(h, "</th><td");
		if (stale)
			html_lit(h, " class=\"bad\"");
		html_lit(h, ">");
		if (w->have_peer && w->pi.last_sync_ms != 0) {
			web_when(r, w->pi.last_sync_ms << 16, when,
			    sizeof(when));
			age_text(r, r->now_ms > w->pi.last_sync_ms ?
			    r->now_ms - w->pi.last_sync_ms : 0, age,
			    sizeof(age));
			html_text(h, when);
			html_lit(h, " UTC<br><small>");
			html_text(h, age);
			html_lit(h, "</small>");
		} else {
			html_text(h, web_tr(r, "never"));
		}
		if (never && !stale) {
			html_lit(h, "<br><small>");
			html_text(h, web_tr(r, "not used yet: only when the "
			    "other central cannot be reached"));
			html_lit(h, "</small>");
		}
		html_lit(h, "</td><td class=\"num\">");
		html_u64(h, w->pending_out);
		html_lit(h, "</td><td class=\"num\">");
		html_u64(h, POS_LOW(w->received));	/* the counter */
		html_lit(h, "</td><td class=\"num");
		if (w->pi.refused > 0)
			html_lit(h, " bad");
		html_lit(h, "\">");
		html_u64(h, w->pi.refused);
		html_lit(h, "</td><td><code>");
		html_text(h, w->fp[0] ? w->fp : "-");
		html_lit(h, "</code>");
		if (w->key_status == KEY_REVOKED) {
			html_lit(h, " <span class=\"tag bad\">");
			html_text(h, web_tr(r, "revoked"));
			html_lit(h, "</span>");
		} else if (w->key_status == KEY_ACTIVE) {
			html_lit(h, " <span class=\"tag ok\">");
			html_text(h, web_tr(r, "active"));
			html_lit(h, "</span>");
		}
		html_lit(h, "</td><td>");
		html_text(h, w->pi.last_error);
		html_lit(h, "</td></tr>");
	}
	if (shown == 0) {
		html_lit(h, "<tr><td colspan=\"7\">");
		html_text(h, web_tr(r, "No peer yet: enrol one with casesync "
		    "trust."));
		html_lit(h, "</td></tr>");
	}
	html_lit(h, "</tbody></table></div>");
	if (sb.have)
		sb_html(r, &sb);
	refused_html(r, d);
	web_page_end(r);
	free(d->ref);
	free(d);
}

void
web_api_status(struct web_req *r)
{
	struct sync_data	*d = xcalloc(1, sizeof(*d));
	struct buf		*b = &r->resp->body;
	struct sb_data		 sb;
	char			 when[40];

	if (sync_load(r, d) != 0) {
		free(d->ref);
		free(d);
		web_error(r, 500, "the store cannot be read");
		return;
	}
	sb_load(r, d, &sb);
	web_json_begin(r, 200);
	buf_append_str(b, "{");
	jsonw_key(b, "node", 1);
	jsonw_str(b, d->si.node);
	jsonw_key(b, "role", 0);
	jsonw_str(b, d->si.role);
	buf_printf(b, ",\"cases\":%llu,\"entries\":%llu,\"conflicts\":%llu,"
	    "\"peers\":[", (unsigned long long)d->si.ncases,
	    (unsigned long long)d->si.nentries,
	    (unsigned long long)d->si.nconflicts);
	for (size_t i = 0; i < d->nrows; i++) {
		struct sync_row *w = &d->rows[i];

		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "peer", 1);
		jsonw_str(b, w->node);
		jsonw_key(b, "last_sync", 0);
		if (w->have_peer && w->pi.last_sync_ms) {
			hlc_format(w->pi.last_sync_ms << 16, when,
			    sizeof(when));
			jsonw_str(b, when);
			buf_printf(b, ",\"age_seconds\":%llu",
			    (unsigned long long)((r->now_ms -
			    w->pi.last_sync_ms) / 1000));
		} else
			buf_append_str(b, "null");
		buf_printf(b, ",\"pending_out\":%llu,\"received\":%llu,"
		    "\"refused\":%llu", (unsigned long long)w->pending_out,
		    (unsigned long long)w->received,
		    (unsigned long long)w->pi.refused);
		jsonw_key(b, "key", 0);
		jsonw_str(b, w->fp);
		jsonw_key(b, "key_status", 0);
		jsonw_str(b, w->key_status == KEY_REVOKED ? "revoked" :
		    w->key_status == KEY_ACTIVE ? "active" : "none");
		jsonw_key(b, "last_error", 0);
		jsonw_str(b, w->pi.last_error);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "],\"refused\":[");
	for (size_t i = 0; i < d->nref; i++) {
		buf_append_str(b, i ? ",{" : "{");
		jsonw_key(b, "origin", 1);
		jsonw_str(b, d->ref[i].origin);
		buf_printf(b, ",\"seq\":%llu,\"own\":%s", (unsigned long long)
		    d->ref[i].seq, d->ref[i].own ? "true" : "false");
		jsonw_key(b, "reason", 0);
		jsonw_str(b, d->ref[i].reason);
		buf_append_str(b, "}");
	}
	buf_append_str(b, "]");
	if (d->central)
		sb_json(r, &sb, b);
	buf_append_str(b, "}\n");
	free(d->ref);
	free(d);
}

/* ---- the banner of a province's pages ------------------------------- */

static int
banner_peer(const struct peer_info *p, void *arg)
{
	struct peer_info *best = arg;

	if (best->node[0] == '\0' || p->last_sync_ms > best->last_sync_ms) {
		uint64_t acked = best->sent_acked > p->sent_acked ?
		    best->sent_acked : p->sent_acked;

		*best = *p;
		best->sent_acked = acked;
	}
	return 0;
}

void
web_banner_load(struct web_req *r)
{
	struct web_banner	*b = &r->banner;
	struct peer_info	 pi;
	struct case_state	 s;
	uint64_t		 seq = 0, rseq;

	memset(b, 0, sizeof(*b));
	if (strcmp(r->w->cfg->role, "central") == 0)
		return;
	web_lock(r);
	/* A province's one peer is central (a standby promoted later is
	 * another node id): the latest session of any. */
	memset(&pi, 0, sizeof(pi));
	store_peer_each(r->w->st, banner_peer, &pi);
	if (store_vv_get(r->w->st, r->w->cfg->node, &seq) == 0)
		b->pending = pos_between(pi.sent_acked, seq);
	/* The latest refusal of this node's own changes, with the reason
	 * central's notice carried (docs/PROTOCOL.md, "Refusals") and its
	 * case, which is gone when the refused change created it. */
	if (store_refused_last(r->w->st, r->w->cfg->node, &rseq, b->reason,
	    sizeof(b->reason), b->case_id) == 0 &&
	    store_case_get_sealed(r->w->st, b->case_id, &s) == 0) {
		b->case_held = 1;
		state_release(&s);
	}
	web_unlock(r);
	b->shown = 1;
	b->last_sync_ms = pi.last_sync_ms;
	b->refused = pi.refused;
	/* A refusal of the whole batch (quota) is the last error. */
	if (b->reason[0] == '\0' && strstr(pi.last_error, "refused") != NULL)
		strlcpy_(b->reason, pi.last_error, sizeof(b->reason));
}

void
web_banner_html(struct web_req *r)
{
	const struct web_banner	*b = &r->banner;
	struct html		*h = &r->h;
	char			 age[64];
	int			 stale;

	if (!b->shown)
		return;
	stale = b->last_sync_ms == 0 ||
	    r->now_ms - b->last_sync_ms > SYNC_STALE_MS;
	html_lit(h, "<div class=\"banner");
	if (stale || b->refused > 0)
		html_lit(h, " bad");
	html_lit(h, "\" id=\"syncbanner\" role=\"status\"><div class=\""
	    "bannerin\"><span>");
	if (b->last_sync_ms == 0) {
		html_text(h, web_tr(r, "Not yet synced with central."));
	} else {
		age_text(r, r->now_ms > b->last_sync_ms ? r->now_ms -
		    b->last_sync_ms : 0, age, sizeof(age));
		html_text(h, web_tr(r, "Last sync with central:"));
		html_lit(h, " <strong>");
		html_text(h, age);
		html_lit(h, "</strong>");
	}
	html_lit(h, "</span><span>");
	if (b->pending == 0 && b->refused == 0)
		html_text(h, web_tr(r, "Every change here has reached "
		    "central."));
	else if (b->pending > 0)
		html_textf(h, i18n_ntr(r->lang, "%llu change waiting to go "
		    "to central.", "%llu changes waiting to go to central.",
		    (unsigned long long)b->pending),
		    (unsigned long long)b->pending);
	html_lit(h, "</span>");
	if (b->refused > 0) {
		html_lit(h, "<span class=\"refused\">");
		html_textf(h, i18n_ntr(r->lang, "Central refused %llu change "
		    "from here.", "Central refused %llu changes from here.",
		    (unsigned long long)b->refused),
		    (unsigned long long)b->refused);
		html_lit(h, " ");
		if (b->reason[0] != '\0') {
			html_text(h, web_tr(r, "Latest reason:"));
			html_lit(h, " <q id=\"refusalreason\">");
			html_text(h, b->reason);
			html_lit(h, "</q>");
			if (b->case_id[0] != '\0') {
				html_lit(h, " ");
				html_text(h, web_tr(r, "Case:"));
				html_lit(h, " <span id=\"refusedcase\">");
				if (b->case_held)
					web_case_link(r, b->case_id);
				else {
					/* Refused when it was created (central
					 * never had it), or referred away. */
					html_lit(h, "<code>");
					html_text(h, b->case_id);
					html_lit(h, "</code> ");
					html_text(h, web_tr(r, "(no longer on "
					    "this node)"));
				}
				html_lit(h, "</span>");
			}
		} else {
			/* An ACK counts refusals; central keeps why. */
			html_text(h, web_tr(r, "Central's sync health page "
			    "gives the reason of each."));
		}
		html_lit(h, "</span>");
	}
	html_lit(h, "<a href=\"/sync\">");
	html_text(h, web_tr(r, "Sync health"));
	html_lit(h, "</a></div></div>");
}

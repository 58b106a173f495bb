/*
 * cmd_status.c - `casesync status`: node id, role, counts, version vector,
 * and what the node knows of its peers.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "standby.h"

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

static const char usage_text[] =
"usage: casesync status -d DIR [--json [--refused]]\n"
"\n"
"Prints the node id and role, counts of cases, log entries and open\n"
"conflicts, the last local sequence number, the version vector (highest\n"
"sequence applied per origin) and, per peer, the last successful sync, the\n"
"entries pending in each direction, the lag and refused entries.\n"
"With a standby central (docs/HA.md): central and the standby show the\n"
"standby's lag in entries and seconds and how current its copies of\n"
"central's console users, audit log and HTCDS key are (on central,\n"
"compared with central's files as they are now, and what promoting the\n"
"standby now would lose), a province the central epoch it has seen, and\n"
"a fenced central the epoch that replaced it.\n"
"--refused (with --json) adds refused_entries: every entry in this node's\n"
"refused table (on central, what it refused; on a province, its own\n"
"changes central refused and other provinces' taken out of its copy), as\n"
"origin, seq, case id and reason; never a field value.\n";

struct st_ctx {
	struct node_ctx	*n;
	struct buf	*b;
	int		 json, first;
};

static int
vv_one(const char *origin, uint64_t seq, void *arg)
{
	struct st_ctx *c = arg;

	if (c->json) {
		jsonw_key(c->b, origin, c->first);
		buf_printf(c->b, "%llu", (unsigned long long)seq);
	} else {
		buf_printf(c->b, "  %-24s %llu\n", origin,
		    (unsigned long long)seq);
	}
	c->first = 0;
	return 0;
}

static int
peer_one(const struct peer_info *pi, void *arg)
{
	struct st_ctx	*c = arg;
	struct store	*st = c->n->st;
	int		 central = strcmp(c->n->cfg.role, "central") == 0;
	uint64_t	 out_pending = 0, in_known = 0, seq, last;
	char		 when[40] = "never";
	uint64_t	 lag_s = 0;

	if (central) {
		/* To send: feed entries not yet acknowledged. */
		if (store_feed_last(st, pi->node, &last) == 0)
			out_pending = pos_between(pi->feed_acked, last);
		store_vv_get(st, pi->node, &in_known);
	} else {
		if (store_vv_get(st, c->n->cfg.node, &seq) == 0)
			out_pending = pos_between(pi->sent_acked, seq);
	}
	if (pi->last_sync_ms) {
		hlc_format(pi->last_sync_ms << 16, when, sizeof(when));
		lag_s = (now_ms() - pi->last_sync_ms) / 1000;
	}
	if (c->json) {
		buf_append_str(c->b, c->first ? "{" : ",{");
		jsonw_key(c->b, "peer", 1);
		jsonw_str(c->b, pi->node);
		jsonw_key(c->b, "last_sync", 0);
		if (pi->last_sync_ms)
			jsonw_str(c->b, when);
		else
			buf_append_str(c->b, "null");
		buf_printf(c->b, ",\"lag_seconds\":%llu,\"pending_out\":%llu,"
		    "\"refused\":%llu,\"received_position\":%llu",
		    (unsigned long long)lag_s,
		    (unsigned long long)out_pending,
		    (unsigned long long)pi->refused,
		    (unsigned long long)(central ? in_known : pi->feed_recv));
		jsonw_key(c->b, "last_error", 0);
		jsonw_str(c->b, pi->last_error);
		buf_append_str(c->b, "}");
	} else {
		buf_printf(c->b, "  %-16s last sync %s (lag %llus), pending "
		    "out %llu, refused %llu%s%s\n", pi->node, when,
		    (unsigned long long)lag_s,
		    (unsigned long long)out_pending,
		    (unsigned long long)pi->refused,
		    pi->last_error[0] ? ", last error: " : "",
		    pi->last_error);
	}
	c->first = 0;
	return 0;
}

static int
refused_one(const char *origin, uint64_t seq, const char *case_id,
    const char *reason, void *arg)
{
	struct st_ctx *c = arg;

	buf_append_str(c->b, c->first ? "{" : ",{");
	jsonw_key(c->b, "origin", 1);
	jsonw_str(c->b, origin);
	buf_printf(c->b, ",\"seq\":%llu", (unsigned long long)seq);
	jsonw_key(c->b, "case", 0);
	if (case_id != NULL)
		jsonw_str(c->b, case_id);
	else
		buf_append_str(c->b, "null");
	jsonw_key(c->b, "reason", 0);
	jsonw_str(c->b, reason);
	c->first = 0;
	/* E_TOOBIG stops the walk rather than print a cut list. */
	return buf_append_str(c->b, "}");
}

/* A standby's copies of central's console users and audit log
 * (docs/HA.md): how current they are. */
static uint64_t
age_s(uint64_t ms, uint64_t now)
{
	return now > ms ? (now - ms) / 1000 : 0;
}

static void
files_json(const struct standby_status *ss, uint64_t now, struct buf *b)
{
	buf_append_str(b, ",\"users_age_seconds\":");
	if (ss->users_ms)
		buf_printf(b, "%llu", (unsigned long long)age_s(ss->users_ms,
		    now));
	else
		buf_append_str(b, "null");
	buf_printf(b, ",\"audit_bytes\":%llu,\"audit_lag_bytes\":%llu,"
	    "\"audit_age_seconds\":", (unsigned long long)ss->audit_off,
	    (unsigned long long)(ss->audit_size > ss->audit_off ?
	    ss->audit_size - ss->audit_off : 0));
	if (ss->audit_ms)
		buf_printf(b, "%llu", (unsigned long long)age_s(ss->audit_ms,
		    now));
	else
		buf_append_str(b, "null");
}

/* The standby's copy of central's HTCDS key, as a word. */
static const char *
key_word(int state)
{
	switch (state) {
	case STANDBY_KEY_SAME: return "current";
	case STANDBY_KEY_SENT: return "behind";
	case STANDBY_KEY_NONE: return "none";
	case STANDBY_KEY_UNREAD: return "unreadable";
	default: return "not_asked";
	}
}

static void
age_json(struct buf *b, const char *key, uint64_t ms, uint64_t now)
{
	buf_printf(b, ",\"%s\":", key);
	if (ms)
		buf_printf(b, "%llu", (unsigned long long)age_s(ms, now));
	else
		buf_append_str(b, "null");
}

static void
key_json(const struct standby_status *ss, uint64_t now, struct buf *b)
{
	buf_printf(b, ",\"htcds_key\":\"%s\"", key_word(ss->key_state));
	age_json(b, "htcds_key_age_seconds", ss->key_ms, now);
}

static void
files_text(const struct standby_status *ss, uint64_t now, struct buf *b)
{
	buf_append_str(b, "console   central's users: ");
	if (ss->users_ms)
		buf_printf(b, "current %llu s ago",
		    (unsigned long long)age_s(ss->users_ms, now));
	else
		buf_append_str(b, "no copy yet");
	buf_printf(b, "; audit log: %llu bytes held, %llu behind",
	    (unsigned long long)ss->audit_off,
	    (unsigned long long)(ss->audit_size > ss->audit_off ?
	    ss->audit_size - ss->audit_off : 0));
	if (ss->audit_ms)
		buf_printf(b, ", current %llu s ago",
		    (unsigned long long)age_s(ss->audit_ms, now));
	buf_append_str(b, "; HTCDS key: ");
	switch (ss->key_state) {
	case STANDBY_KEY_SAME:
		buf_printf(b, "current %llu s ago",
		    (unsigned long long)age_s(ss->key_ms, now));
		break;
	case STANDBY_KEY_NONE:
		buf_append_str(b, "central has none");
		break;
	case STANDBY_KEY_UNREAD:
		buf_append_str(b, "central cannot read its own");
		break;
	default:
		buf_append_str(b, "not sent by central");
	}
	buf_append_str(b, "\n");
}

/*
 * Central: the standby's copies of its console files, compared with the
 * files as they are now (standby_view_central), so that an administrator
 * sees on central whether promoting the standby now would lose any.
 */
static void
view_json(const struct standby_status *ss, const struct standby_view *v,
    uint64_t now, struct buf *b)
{
	buf_append_str(b, ",\"users_current\":");
	buf_append_str(b, !v->asked ? "null" : v->users_current ? "true" :
	    "false");
	age_json(b, "users_age_seconds", ss->users_ms, now);
	buf_printf(b, ",\"audit_bytes\":%llu,\"audit_size\":%llu,"
	    "\"audit_lag_bytes\":%llu,\"audit_lag_lines\":%llu",
	    (unsigned long long)v->audit_held,
	    (unsigned long long)v->audit_size,
	    (unsigned long long)v->audit_lag_bytes,
	    (unsigned long long)v->audit_lag_lines);
	age_json(b, "audit_age_seconds", ss->audit_ms, now);
	buf_printf(b, ",\"htcds_key\":\"%s\"", !v->key_asked ? "not_asked" :
	    v->key_current ? (v->key_central ? "current" : "none") :
	    ss->key_state == STANDBY_KEY_UNREAD ? "unreadable" : "behind");
	age_json(b, "htcds_key_age_seconds", ss->key_ms, now);
	age_json(b, "last_request_seconds", ss->ask_ms, now);
	buf_printf(b, ",\"last_request_ms\":%llu",
	    (unsigned long long)ss->ask_ms);
}

static void
view_text(const struct standby_status *ss, const struct standby_view *v,
    uint64_t lag_e, uint64_t now, struct buf *b)
{
	int	lost = 0;

	if (!v->asked) {
		buf_append_str(b, "copies    the standby has not asked for "
		    "central's console files yet\n");
		return;
	}
	buf_printf(b, "copies    users: %s; audit log: %llu of %llu bytes "
	    "held, %llu behind (%llu lines); HTCDS key: %s; last request "
	    "%llu s ago\n", v->users_current ? "current" : "BEHIND",
	    (unsigned long long)v->audit_held,
	    (unsigned long long)v->audit_size,
	    (unsigned long long)v->audit_lag_bytes,
	    (unsigned long long)v->audit_lag_lines,
	    !v->key_asked ? "not asked (an older standby)" : v->key_current ?
	    (v->key_central ? "current" : "none on central") :
	    ss->key_state == STANDBY_KEY_UNREAD ? "central cannot read it" :
	    "BEHIND", (unsigned long long)age_s(ss->ask_ms, now));
	buf_append_str(b, "promoting now would lose:");
	if (lag_e > 0) {
		buf_printf(b, " %llu log entries not on the standby",
		    (unsigned long long)lag_e);
		lost = 1;
	}
	if (!v->users_current) {
		buf_printf(b, "%s central's users file as it is now",
		    lost ? "," : "");
		lost = 1;
	}
	if (v->audit_lag_bytes > 0) {
		buf_printf(b, "%s %llu audit lines (%llu bytes)", lost ? "," :
		    "", (unsigned long long)v->audit_lag_lines,
		    (unsigned long long)v->audit_lag_bytes);
		lost = 1;
	}
	if (v->key_asked && !v->key_current && v->key_central) {
		buf_printf(b, "%s the HTCDS key (exports would get new "
		    "pseudonyms)", lost ? "," : "");
		lost = 1;
	}
	buf_append_str(b, lost ? "\n" : " nothing the standby copies\n");
}

/* The high-availability part (docs/HA.md). */
static void
ha_status(struct node_ctx *n, const struct store_info *si, struct buf *b,
    int json)
{
	struct standby_status	ss;
	struct standby_view	vw;
	uint64_t		now = now_ms(), v = 0, lag_e = 0, lag_s = 0;
	int			have, central, standby;

	central = strcmp(n->cfg.role, "central") == 0;
	standby = strcmp(n->cfg.role, "standby") == 0;
	have = (central || standby) && standby_status_read(n->dir, &ss) == 0;
	if (have && central)
		standby_view_central(n->dir, &ss, &vw);
	if (have && central)
		ss.central_entries = si->nentries;	/* now, not at contact */
	if (have) {
		lag_e = ss.central_entries > ss.entries ? ss.central_entries -
		    ss.entries : 0;
		lag_s = ss.current_ms == 0 ? 0 : now > ss.current_ms ?
		    (now - ss.current_ms) / 1000 : 0;
	}
	if (json) {
		buf_append_str(b, ",\"ha\":{");
		if (central)
			buf_printf(b, "\"epoch\":%llu,\"fenced_by\":%llu",
			    (unsigned long long)si->inc,
			    (unsigned long long)standby_fenced(n->st));
		else if (standby)
			buf_printf(b, "\"primary\":\"%s\"", n->cfg.primary);
		else {
			store_meta_u64_get(n->st, "cepoch", &v);
			buf_printf(b, "\"central_epoch\":%llu",
			    (unsigned long long)v);
		}
		if (have) {
			buf_append_str(b, ",\"standby\":{");
			jsonw_key(b, "peer", 1);
			jsonw_str(b, ss.node);
			buf_printf(b, ",\"replica_entries\":%llu,"
			    "\"central_entries\":%llu,\"lag_entries\":%llu,"
			    "\"lag_seconds\":%llu,\"current\":%s,"
			    "\"last_contact_ms\":%llu",
			    (unsigned long long)ss.entries,
			    (unsigned long long)ss.central_entries,
			    (unsigned long long)lag_e,
			    (unsigned long long)lag_s,
			    ss.current_ms ? "true" : "false",
			    (unsigned long long)ss.contact_ms);
			jsonw_key(b, "last_error", 0);
			jsonw_str(b, ss.error);
			if (standby) {
				files_json(&ss, now, b);
				key_json(&ss, now, b);
			} else
				view_json(&ss, &vw, now, b);
			buf_append_str(b, "}");
		}
		buf_append_str(b, "}");
		return;
	}
	if (central) {
		uint64_t by = standby_fenced(n->st);

		buf_printf(b, "epoch     %llu%s\n", (unsigned long long)si->inc,
		    by ? " (FENCED: a standby was promoted; see status --json)"
		    : "");
	} else if (!standby) {
		store_meta_u64_get(n->st, "cepoch", &v);
		buf_printf(b, "central epoch seen %llu\n",
		    (unsigned long long)v);
	}
	if (standby && !have)
		buf_printf(b, "standby of central at %s: no copy yet\n",
		    n->cfg.primary);
	if (have)
		buf_printf(b, "standby   %s %s: %s, lag %llu entries, %llu s; "
		    "last contact %llu s ago%s%s\n", standby ? "of central" :
		    "", standby ? n->cfg.primary : ss.node, ss.current_ms ?
		    "holds a copy" : "no copy yet", (unsigned long long)lag_e,
		    (unsigned long long)lag_s, (unsigned long long)(ss.contact_ms
		    && now > ss.contact_ms ? (now - ss.contact_ms) / 1000 : 0),
		    ss.error[0] ? "; " : "", ss.error);
	if (standby && have)
		files_text(&ss, now, b);
	if (central && have)
		view_text(&ss, &vw, lag_e, now, b);
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "refused", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx		n;
	struct store_info	si;
	struct buf		b;
	struct st_ctx		c;
	const char		*dir = NULL;
	char			pb[32];
	int			ch, json = 0, refused = 0, rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'j': json = 1; break;
		case 'r': refused = 1; break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("status: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (refused && !json) {
		cli_error("status: --refused needs --json");
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if ((rc = store_info(n.st, &si)) != 0) {
		cli_error("status: %s", err_str(rc));
		cli_close(&n);
		return EXIT_REJECT;
	}
	/* The refused table grows with a node's life: room for it all. */
	buf_init(&b, refused ? (size_t)1 << 30 : 1 << 20);
	c.n = &n;
	c.b = &b;
	c.json = json;
	if (json) {
		buf_append_str(&b, "{");
		jsonw_key(&b, "node", 1);
		jsonw_str(&b, si.node);
		jsonw_key(&b, "role", 0);
		jsonw_str(&b, si.role);
		buf_printf(&b, ",\"cases\":%llu,\"entries\":%llu,"
		    "\"conflicts\":%llu,\"seq\":%llu,\"incarnation\":%llu,"
		    "\"map_bytes\":%llu,\"store_layout\":%llu,\"vector\":{",
		    (unsigned long long)si.ncases,
		    (unsigned long long)si.nentries,
		    (unsigned long long)si.nconflicts,
		    (unsigned long long)si.seq, (unsigned long long)si.inc,
		    (unsigned long long)si.map_size,
		    (unsigned long long)si.layout);
		c.first = 1;
		store_vv_each(n.st, vv_one, &c);
		/* Entries per origin: after a restore, a seq is an incarnation
		 * and a counter, not a count (docs/PROTOCOL.md, Recovery). */
		buf_append_str(&b, "},\"log\":{");
		c.first = 1;
		store_log_counts(n.st, vv_one, &c);
		buf_append_str(&b, "},\"peers\":[");
		c.first = 1;
		store_peer_each(n.st, peer_one, &c);
		buf_append_str(&b, "]");
		ha_status(&n, &si, &b, 1);
		if (refused) {
			buf_append_str(&b, ",\"refused_entries\":[");
			c.first = 1;
			if ((rc = store_refused_cases(n.st, refused_one,
			    &c)) != 0) {
				cli_error("status: refused: %s", err_str(rc));
				buf_release(&b);
				cli_close(&n);
				return EXIT_REJECT;
			}
			buf_append_str(&b, "]");
		}
		buf_append_str(&b, "}\n");
	} else {
		buf_printf(&b, "node      %s (%s)\ncases     %llu\nentries   "
		    "%llu\nconflicts %llu\nlocal seq %s\nvector:\n", si.node,
		    si.role, (unsigned long long)si.ncases,
		    (unsigned long long)si.nentries,
		    (unsigned long long)si.nconflicts,
		    cli_pos(si.seq, pb, sizeof(pb)));
		c.first = 1;
		store_vv_each(n.st, vv_one, &c);
		buf_append_str(&b, "peers:\n");
		c.first = 1;
		store_peer_each(n.st, peer_one, &c);
		if (c.first)
			buf_append_str(&b, "  (none yet)\n");
		ha_status(&n, &si, &b, 0);
	}
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
	cli_close(&n);
	return EXIT_OK;
}

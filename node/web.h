/*
 * web.h - the administrators' console: what its pages and API handlers
 * share.  web.c holds the routing table, sessions, CSRF, sign-in
 * throttling, the language choice and the page frame; each page or API
 * group has its own file (web_login.c, web_dash.c, web_conflicts.c,
 * web_cases.c, web_sync.c, web_users.c, web_audit.c, web_assets.c), as
 * each verb has its cmd_*.c.
 *
 * Every handler runs after the router has checked, in this order: the
 * route exists (404) and takes the method (405); the session (page:
 * redirect to /login; API: 401); the role (403); for a POST, the CSRF
 * token (403) and, for the API, a JSON body (415).  Handlers read the
 * store under web_lock() in short read transactions, and write only
 * through the functions the CLI verbs call (resolve_conflict, ...).
 * A handler loads only what the signed-in role may see.
 */
#ifndef CASESYNC_WEB_H
#define CASESYNC_WEB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "html.h"
#include "http.h"
#include "i18n.h"
#include "nodecfg.h"
#include "schema.h"
#include "store.h"
#include "users.h"
#include "webreq.h"

#include "../proto/entry.h"

#define WEB_SESSIONS_MAX	1024
#define WEB_THROTTLE_MAX	4096
#define WEB_IDLE_MS		(30ULL * 60 * 1000)
#define WEB_ABSOLUTE_MS		(12ULL * 60 * 60 * 1000)
#define WEB_FAIL_FREE		4	/* failures answered with 401 */
#define WEB_ADDR_FAIL_FREE	20	/* the same per client address */
#define WEB_LOCK_BASE_MS	30000ULL	/* first lock-out, then x2 */
#define WEB_LOCK_MAX_MS		(60ULL * 60 * 1000)
#define WEB_FAIL_FORGET_MS	(60ULL * 60 * 1000)
#define WEB_COOKIE		"cs_session"
#define WEB_LOGIN_COOKIE	"cs_login"

struct session {
	uint8_t		token_hash[32];	/* SHA-256 of the cookie's token */
	char		user[USER_NAME_MAX + 1];	/* "" = free slot */
	char		csrf[WEBREQ_TOKEN_HEX + 1];
	uint64_t	created_ms;
	uint64_t	last_ms;
};

struct throttle {
	char		key[80];	/* "u:NAME" or "a:ADDRESS" */
	unsigned	fails;
	uint64_t	last_ms;
	uint64_t	until_ms;
};

/* The console process.  Owned by cmd_console.c; shared by the threads. */
struct web {
	const char		*dir;		/* borrowed */
	const struct nodecfg	*cfg;		/* borrowed */
	struct store		*st;		/* borrowed; use under web_lock */
	struct audit		*audit;		/* borrowed */
	uint64_t		 idle_ms;
	uint64_t		 absolute_ms;
	int			 tls;
	pthread_mutex_t		 store_mu;
	pthread_mutex_t		 mu;		/* sessions, throttle */
	struct session		 sessions[WEB_SESSIONS_MAX];
	struct throttle		 thr[WEB_THROTTLE_MAX];
};

/* The sync banner of a province's pages (web_sync.c): its link to
 * central.  Loaded by the router before a page handler runs. */
struct web_banner {
	int		 shown;
	uint64_t	 last_sync_ms;		/* 0: never */
	uint64_t	 pending;		/* own changes not acked */
	uint64_t	 refused;		/* refused by central */
	char		 reason[STORE_REASON_MAX + 1];	/* the latest
						 * refusal's, or "" */
	char		 case_id[ENTRY_CASE_ID_LEN + 1];	/* its case,
						 * or "" */
	int		 case_held;		/* that case is on this node */
};

/* One request being answered. */
struct web_req {
	struct web		*w;
	const struct http_req	*hr;
	struct http_resp	*resp;
	struct html		 h;		/* writes into resp->body */
	enum lang		 lang;
	int			 api;
	struct user		 user;		/* name "" when signed out */
	char			 author[ENTRY_AUTHOR_MAX + 1];
	char			 csrf[WEBREQ_TOKEN_HEX + 1];
	char			 caps[WEBREQ_CAPS][WEBREQ_SEG_MAX + 1];
	struct webreq_form	 form;		/* a POSTed form */
	uint64_t		 now_ms;
	struct web_banner	 banner;
};

/* Initialises *w (mutexes, empty tables); web_release frees them. */
void	web_init(struct web *w);
void	web_release(struct web *w);

/* The http_handler of the console: arg is the struct web. */
void	web_handle(void *arg, const struct http_req *req,
	    struct http_resp *resp);

/* The translation of msgid in the request's language (i18n_tr; `make
 * pot` extracts web_tr's second argument).  Borrowed, static. */
const char *web_tr(const struct web_req *r, const char *msgid);

/* The store, serialised between the request threads. */
void	web_lock(struct web_req *r);
void	web_unlock(struct web_req *r);

/* A query argument (decoded, borrowed) or NULL. */
const char *web_arg(const struct web_req *r, const char *key);

/* Records an audit line for the signed-in user and the client address. */
void	web_audit(struct web_req *r, const char *action, const char *case_id,
	    const char *detail);

/* Error answers: JSON {"error": msg} for the API, a page otherwise. */
void	web_error(struct web_req *r, int status, const char *msg);
/* The HTTP status of a refused write's enum err: 400, 404, 409 or 500. */
int	web_status_for(int err);
void	web_redirect(struct web_req *r, const struct url *u);

/* JSON answers: sets the type; the handler appends to r->resp->body. */
void	web_json_begin(struct web_req *r, int status);

/* The page frame: head, the navigation for the user's role, the title
 * as <h1>; then web_page_end closes it.  nav is the route's path ("/",
 * "/conflicts", ...) to mark as current. */
void	web_page_begin(struct web_req *r, const char *title, const char *nav);
void	web_page_end(struct web_req *r);
/* A hidden input with the CSRF token, for a form that POSTs. */
void	web_csrf_field(struct web_req *r);
/*
 * Pieces shared by the pages that list cards (referrals, conflicts,
 * duplicates, the case page's actions), so each is written once.
 * web_card_begin opens <article class="KIND card" id="ID"> (KIND a
 * literal); web_card_end closes it.  web_case_link writes a link to the
 * case page with the id as code.  web_dl_row writes <dt>label</dt><dd>
 * value</dd> (label a msgid, translated).  web_post_form opens <form
 * method="post" class="CLASS" action="URL"> with the CSRF field (CLASS a
 * literal).  web_reason_field writes the required reason textarea of a
 * write that asks why, under label (a msgid).
 */
#define web_card_begin(r, kind, id)	web_card_begin_((r), "" kind "", (id))
void	web_card_begin_(struct web_req *r, const char *kind, const char *id);
void	web_card_end(struct web_req *r);
void	web_case_link(struct web_req *r, const char *case_id);
void	web_dl_row(struct web_req *r, const char *label, const char *value);
#define web_post_form(r, cls, u)	web_post_form_((r), "" cls "", (u))
void	web_post_form_(struct web_req *r, const char *cls,
	    const struct url *action);
void	web_reason_field(struct web_req *r, const char *label);

/* Sessions (web.c), for web_login.c.  web_session_new returns the token
 * for the cookie and fills csrf. */
int	web_session_new(struct web *w, const char *user, uint64_t now,
	    char token[WEBREQ_TOKEN_HEX + 1], char csrf[WEBREQ_TOKEN_HEX + 1]);
void	web_session_drop(struct web *w, const char *token);
/* Sign-in throttling: web_throttle_check returns the seconds to wait (0:
 * go ahead); web_throttle_fail records a failure and returns the seconds
 * of the lock it starts (0: none yet); web_throttle_ok forgets the user's
 * failures. */
unsigned web_throttle_check(struct web *w, const char *user,
	    const char *addr, uint64_t now);
unsigned web_throttle_fail(struct web *w, const char *user,
	    const char *addr, uint64_t now);
void	web_throttle_ok(struct web *w, const char *user);

/* A stamp's time (hlc, or ms << 16) as the user's language writes it,
 * "01/12/2026 21:00" or "2026-12-01 21:00" (UTC), into out (>= 32). */
void	web_when(const struct web_req *r, uint64_t hlc, char *out, size_t sz);

/* The label of a field path in the request's language (schema's). */
const char *web_path_label(const struct web_req *r, const char *path);
/* The JSON value (len bytes) of field path, shown as the user's language
 * shows it: enumeration labels, dates, amounts; escaped. */
void	web_value_html(struct web_req *r, const char *path, const char *json,
	    size_t len);

/*
 * Forms (web_form.c): the values of a form as typed (a POST) or as
 * prefilled from a case, the errors found in them, and the controls
 * drawn from the schema (label, select, checkboxes, text), each with its
 * error next to it in the user's language.  Keys are field paths
 * ("person.sex") or, for event rows, "services.1.type".
 */
#define WEB_FORM_ERRS		48
#define WEB_FORM_PREFILL	48

struct web_form_err {
	char			 key[WEBREQ_KEY_MAX + 1];
	struct schema_problem	 p;
};

struct web_form {
	struct web_req		*r;
	int			 posted;	/* values from r->form */
	char			 idprefix[16];	/* ids: idprefix + key */
	struct {
		char	 key[WEBREQ_KEY_MAX + 1];
		char	*val;			/* owned */
	}			 pre[WEB_FORM_PREFILL];
	size_t			 npre;
	struct web_form_err	 err[WEB_FORM_ERRS];
	size_t			 nerr;
};

void	web_form_init(struct web_form *f, struct web_req *r, int posted);
void	web_form_release(struct web_form *f);
/* A prefilled value (display text; a set joined with ","). */
void	web_form_prefill(struct web_form *f, const char *key, const char *val);
/* The value of key as typed or prefilled, "" when none.  Borrowed. */
const char *web_form_value(const struct web_form *f, const char *key);
/*
 * Checks the value of key as the JSON value of path (web_form_json) with
 * schema_value_check, and records the error of a refused value, or of
 * an empty one when required.  On success appends the JSON value to out
 * (when out is not NULL and there is a value).  Returns 1 when there is
 * a value, 0 when empty, -1 on an error.
 */
int	web_form_take(struct web_form *f, const char *key, const char *path,
	    int required, struct buf *out);
/* The value of key as the text schema_get_text gives for path (a date
 * in ISO form, a number without separators, a set's chosen values in
 * schema order joined with ","), to tell whether it changed. */
int	web_form_norm(const struct web_form *f, const char *key,
	    const char *path, char *out, size_t sz);
/* Records an error for key. */
void	web_form_fail(struct web_form *f, const char *key, enum schema_why why,
	    const char *msg);
/* Draws the control of key (path's kind and label), its value and its
 * error.  required marks it (and adds the browser's check). */
void	web_form_field(struct web_form *f, const char *key, const char *path,
	    int required);
/* The error of key, if any, as a paragraph (web_form_field draws it
 * itself; this is for controls drawn by hand). */
void	web_form_error(struct web_form *f, const char *key);
/* The list of errors at the top of a form, each a link to its field. */
void	web_form_summary(struct web_form *f);

#ifdef SELFTEST
int	web_form_selftest(void);
#endif

/* The banner (web_sync.c): web_banner_load reads it (takes the store
 * lock: call it before a handler takes it), web_banner_html draws it. */
void	web_banner_load(struct web_req *r);
void	web_banner_html(struct web_req *r);

/* The actions of the case page (web_case_form.c), drawn in it. */
void	web_case_actions_html(struct web_req *r, const struct case_state *s);
/* Conflicts named by ?conflict= that are open on fields of s: a notice
 * with a link to each (web_case_form.c). */
void	web_case_notices_html(struct web_req *r, const struct case_state *s);

/* Pages and API handlers, one group per file. */
void	web_login_page(struct web_req *);	/* web_login.c */
void	web_login_post(struct web_req *);
void	web_logout_post(struct web_req *);
void	web_api_login(struct web_req *);
void	web_api_logout(struct web_req *);
void	web_dashboard(struct web_req *);	/* web_dash.c */
void	web_api_report(struct web_req *);
void	web_conflicts_page(struct web_req *);	/* web_conflicts.c */
void	web_conflict_post(struct web_req *);
void	web_conflicts_bulk(struct web_req *);
void	web_api_conflicts(struct web_req *);
void	web_api_conflict(struct web_req *);
void	web_api_conflict_resolve(struct web_req *);
void	web_cases_page(struct web_req *);	/* web_cases.c */
void	web_case_page(struct web_req *);
void	web_api_cases(struct web_req *);
void	web_api_case(struct web_req *);
void	web_api_case_history(struct web_req *);
void	web_case_new_page(struct web_req *);	/* web_case_form.c */
void	web_case_new_post(struct web_req *);
void	web_case_edit_page(struct web_req *);
void	web_case_edit_post(struct web_req *);
void	web_case_action_post(struct web_req *);
void	web_api_case_add(struct web_req *);	/* web_case_api.c */
void	web_api_case_update(struct web_req *);
void	web_api_case_transfer(struct web_req *);
void	web_report_download(struct web_req *);	/* web_dash.c */
void	web_referrals_page(struct web_req *);	/* web_referrals.c */
void	web_referral_accept_post(struct web_req *);
void	web_referral_decline_post(struct web_req *);
void	web_api_referrals(struct web_req *);
void	web_api_referral_accept(struct web_req *);
void	web_api_referral_decline(struct web_req *);
void	web_api_duplicates(struct web_req *);	/* web_dupes.c */
void	web_api_case_duplicate_of(struct web_req *);
/* The admin's form on the case page that links s to the earlier case of
 * the same person (POST /cases/ID/duplicate-of).  The caller holds the
 * store lock (web_lock). */
void	web_dupes_link_form(struct web_req *r, const struct case_state *s);
void	web_case_duplicate_of_post(struct web_req *);
/*
 * The possible duplicates panel of a form recording a new case (or
 * changing case exclude): lists the cases dupes_find matches, each a link
 * to open, names audited.  Writes nothing when there is none or a value
 * is missing.  Returns how many it listed.
 */
/* How many possible duplicates the draft's values (as typed) have; 0
 * when one is missing or not valid.  Opens nothing. */
int	web_dupes_count(struct web_req *r, const char *full_name,
	    const char *birth_year, const char *sex, const char *home_province);
int	web_dupes_panel(struct web_req *r, const char *full_name,
	    int64_t birth_year, const char *sex, const char *home_province,
	    const char *exclude);
void	web_sync_page(struct web_req *);	/* web_sync.c */
void	web_api_status(struct web_req *);
void	web_users_page(struct web_req *);	/* web_users.c */
void	web_users_post(struct web_req *);
void	web_api_users(struct web_req *);
void	web_audit_page(struct web_req *);	/* web_audit.c */
void	web_api_audit(struct web_req *);
void	web_asset_css(struct web_req *);	/* web_assets.c */
void	web_asset_icon(struct web_req *);

#endif

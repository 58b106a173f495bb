/*
 * i18n.c - message catalogues through glibc's libintl, one text domain per
 * language, and the Vietnamese and English forms of dates and amounts.
 *
 * Choosing the catalogue per call.  gettext() picks its catalogue from the
 * locale, which is process-wide (or per thread with uselocale), and from
 * the LANGUAGE variable: neither can say "Vietnamese for this request,
 * English for that one" in a server that answers on several threads.  So
 * each language is its own text domain ("casesync-vi"), and a call names
 * the domain: dcgettext("casesync-vi", msgid, LC_MESSAGES).  The locale
 * only has to make libintl look at all: glibc returns every msgid as it is
 * under the "C" locale, so i18n_open sets LC_MESSAGES to "C.UTF-8", which
 * glibc has built in (no locale to generate), and the catalogues are put
 * where that locale name leads: DIR/C/LC_MESSAGES/casesync-vi.mo.  LANGUAGE
 * would override the locale name, so it is removed.  English is the msgid:
 * it needs no catalogue.  libintl's lookups and its cache are thread-safe.
 *
 * Where the catalogue comes from.  The .mo files are compiled at build
 * time (msgfmt --check) and embedded in the binary (tools/embed.sh makes
 * build/i18n_mo.c), so that the binary is the one file to deploy, as the
 * console's assets are.  libintl reads catalogues from files only, so
 * i18n_open writes them into a private directory (mkdtemp under $TMPDIR or
 * /tmp, mode 0700), makes libintl load them (it maps each catalogue once
 * and keeps it for the life of the process), checks that they loaded, and
 * removes the files and the directory again: nothing is left behind and
 * nothing has to be installed.  A lookup that still missed a catalogue
 * would find no file and fall back to the English msgid.
 *
 * State.  This module keeps none of its own: what i18n_open sets up lives
 * in libc (the LC_MESSAGES locale and libintl's domain bindings), set once
 * before any thread starts and only read afterwards.
 */
#include "i18n.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema.h"

#include "../common/err.h"
#include "../common/log.h"

/* The embedded catalogues, made by tools/embed.sh (see the Makefile). */
extern const unsigned char	i18n_mo_vi[];
extern const size_t		i18n_mo_vi_len;

#define LOCALE_NAME	"C.UTF-8"	/* built into glibc since 2.35 */
#define LOCALE_DIR	"C"	/* libintl's directory for "C.UTF-8" */
#define DOMAIN_VI	"casesync-vi"
#define ROOT_MAX	1024	/* the private directory's path */
#define PATHBUF_MAX	(ROOT_MAX + 128)	/* a file under it */
#define ACCEPT_MAX	4096	/* Accept-Language bytes looked at */
#define SUBTAG_MAX	8	/* RFC 5646: alphanum{1,8} */
#define LANGTAG_MAX	35

struct catalogue {
	const char		*domain;
	const unsigned char	*mo;
	const size_t		*len;
};

static const struct catalogue catalogues[] = {
	{ DOMAIN_VI, i18n_mo_vi, &i18n_mo_vi_len },
};

#define NCAT	(sizeof(catalogues) / sizeof(catalogues[0]))

/* Has libintl loaded every catalogue?  The header entry (msgid "") is
 * there only when a catalogue is. */
static int
loaded(void)
{
	for (size_t i = 0; i < NCAT; i++) {
		const char *h = dcgettext(catalogues[i].domain, "",
		    LC_MESSAGES);

		if (h == NULL || h[0] == '\0')
			return 0;
	}
	return 1;
}

static int
write_file(const char *path, const unsigned char *data, size_t len)
{
	size_t	off = 0;
	int	fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return E_IO;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			rc = E_IO;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) == -1 && rc == 0)
		rc = E_IO;
	return rc;
}

/* Writes the catalogues under root and has libintl load them. */
static int
load_from(const char *root)
{
	char	dir[PATHBUF_MAX], path[PATHBUF_MAX];
	int	rc = 0;

	snprintf(dir, sizeof(dir), "%s/%s", root, LOCALE_DIR);
	if (mkdir(dir, 0700) == -1)
		return E_IO;
	snprintf(dir, sizeof(dir), "%s/%s/LC_MESSAGES", root, LOCALE_DIR);
	if (mkdir(dir, 0700) == -1)
		return E_IO;
	for (size_t i = 0; rc == 0 && i < NCAT; i++) {
		const struct catalogue *c = &catalogues[i];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s.mo", dir,
		    c->domain) >= sizeof(path))
			return E_IO;
		if ((rc = write_file(path, c->mo, *c->len)) != 0)
			break;
		if (bindtextdomain(c->domain, root) == NULL ||
		    bind_textdomain_codeset(c->domain, "UTF-8") == NULL) {
			rc = E_IO;
			break;
		}
		/* The first lookup maps the catalogue. */
		(void)dcgettext(c->domain, "", LC_MESSAGES);
	}
	return rc;
}

/* Removes what load_from may have made. */
static void
unload_dir(const char *root)
{
	char	path[PATHBUF_MAX];

	for (size_t i = 0; i < NCAT; i++) {
		snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES/%s.mo", root,
		    LOCALE_DIR, catalogues[i].domain);
		(void)unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES", root, LOCALE_DIR);
	(void)rmdir(path);
	snprintf(path, sizeof(path), "%s/%s", root, LOCALE_DIR);
	(void)rmdir(path);
	(void)rmdir(root);
}

/* Makes a private directory under tmp, puts the catalogues there for
 * libintl to load, and removes it again. */
static int
load_via(const char *tmp)
{
	char	root[ROOT_MAX];
	int	rc;

	if ((size_t)snprintf(root, sizeof(root), "%s/casesync-i18n-XXXXXX",
	    tmp) >= sizeof(root) || mkdtemp(root) == NULL)
		return E_IO;
	rc = load_from(root);
	unload_dir(root);
	return rc;
}

int
i18n_open(void)
{
	const char	*dirs[] = { getenv("TMPDIR"), "/tmp", "/dev/shm",
			    "/var/tmp" };
	int		 tried = 0;

	if (setlocale(LC_MESSAGES, LOCALE_NAME) == NULL) {
		log_warnx("i18n: the %s locale is missing: messages stay in "
		    "English", LOCALE_NAME);
		return E_IO;
	}
	(void)unsetenv("LANGUAGE");
	/* The first writable one of $TMPDIR, /tmp, /dev/shm, /var/tmp. */
	for (size_t i = 0; !loaded() && i < sizeof(dirs) / sizeof(dirs[0]);
	    i++)
		if (dirs[i] != NULL && dirs[i][0] == '/' &&
		    load_via(dirs[i]) == 0)
			tried = 1;
	if (!loaded()) {
		if (tried)
			log_warnx("i18n: libintl did not load the message "
			    "catalogues");
		else
			log_warn("i18n: cannot write the message catalogues "
			    "in a temporary directory");
		return E_IO;
	}
	return 0;
}

const char *
i18n_tr(enum lang lang, const char *msgid)
{
	if (msgid == NULL)
		return "";
	/* dcgettext("") is the catalogue's header, not a message. */
	if (lang != LANG_VI || msgid[0] == '\0')
		return msgid;
	return dcgettext(DOMAIN_VI, msgid, LC_MESSAGES);
}

const char *
i18n_ntr(enum lang lang, const char *singular, const char *plural,
    unsigned long n)
{
	if (singular == NULL || plural == NULL)
		return "";
	if (lang != LANG_VI || singular[0] == '\0')
		return n == 1 ? singular : plural;
	return dcngettext(DOMAIN_VI, singular, plural, n, LC_MESSAGES);
}

const char *
i18n_lang_code(enum lang lang)
{
	return lang == LANG_EN ? "en" : "vi";
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * Is s[0..n) a language tag, primary subtag of 1 to 8 letters then
 * subtags of 1 to 8 letters or digits, each after one of seps?  Stores the
 * primary subtag's length in *plen.
 */
static int
tag_valid(const char *s, size_t n, const char *seps, size_t *plen)
{
	size_t	i = 0, run;

	if (n == 0 || n > LANGTAG_MAX)
		return 0;
	while (i < n && is_alpha((unsigned char)s[i]))
		i++;
	if (i == 0 || i > SUBTAG_MAX)
		return 0;
	*plen = i;
	while (i < n) {
		if (strchr(seps, s[i]) == NULL)
			return 0;
		i++;
		for (run = 0; i < n && is_alnum((unsigned char)s[i]); i++)
			run++;
		if (run == 0 || run > SUBTAG_MAX)
			return 0;
	}
	return 1;
}

/* Which of our languages a primary subtag names: 0 vi, 1 en, -1 none. */
static int
primary_lang(const char *s, size_t plen)
{
	if (plen != 2)
		return -1;
	if (lower((unsigned char)s[0]) == 'v' &&
	    lower((unsigned char)s[1]) == 'i')
		return LANG_VI;
	if (lower((unsigned char)s[0]) == 'e' &&
	    lower((unsigned char)s[1]) == 'n')
		return LANG_EN;
	return -1;
}

int
i18n_lang_parse(const char *s, enum lang *out)
{
	size_t	plen;
	int	l;

	if (s == NULL || !tag_valid(s, strlen(s), "-_", &plen) ||
	    (l = primary_lang(s, plen)) < 0)
		return E_INVAL;
	*out = (enum lang)l;
	return 0;
}

/*
 * A qvalue (RFC 9110 12.4.2): "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"],
 * as thousandths.  Returns -1 when s[0..n) is not one.
 */
static int
qvalue(const char *s, size_t n)
{
	int	q, scale = 100;

	if (n == 0 || (s[0] != '0' && s[0] != '1') || n > 5)
		return -1;
	q = (s[0] - '0') * 1000;
	if (n == 1)
		return q;
	if (s[1] != '.')
		return -1;
	for (size_t i = 2; i < n; i++, scale /= 10) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

static int
is_ows(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * Parses one element of an Accept-Language list, s[0..n):
 * OWS language-range [ OWS ";" OWS "q=" qvalue ] OWS.  Sets *which to
 * LANG_VI, LANG_EN, 2 for "*" or -1 for another language, and *q to the
 * weight in thousandths.  Returns 0 when the element is malformed.
 */
static int
accept_elem(const char *s, size_t n, int *which, int *q)
{
	size_t	i = 0, t0, tn, plen, q0;

	while (i < n && is_ows((unsigned char)s[i]))
		i++;
	t0 = i;
	while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '-' ||
	    s[i] == '*'))
		i++;
	tn = i - t0;
	if (tn == 1 && s[t0] == '*')
		*which = 2;
	else if (tag_valid(s + t0, tn, "-", &plen))
		*which = primary_lang(s + t0, plen);
	else
		return 0;
	while (i < n && is_ows((unsigned char)s[i]))
		i++;
	*q = 1000;
	if (i == n)
		return 1;
	if (s[i++] != ';')
		return 0;
	while (i < n && is_ows((unsigned char)s[i]))
		i++;
	if (n - i < 2 || lower((unsigned char)s[i]) != 'q' || s[i + 1] != '=')
		return 0;
	i += 2;
	q0 = i;
	while (i < n && !is_ows((unsigned char)s[i]))
		i++;
	if ((*q = qvalue(s + q0, i - q0)) < 0)
		return 0;
	while (i < n && is_ows((unsigned char)s[i]))
		i++;
	return i == n;
}

enum lang
i18n_lang_accept(const char *h)
{
	/* Best weight and first position of vi, en and "*"; -1 unnamed. */
	int	best[3] = { -1, -1, -1 }, first[3] = { INT_MAX, INT_MAX,
		    INT_MAX };
	int	pos = 0, which, q, ev, ee;
	size_t	len, i = 0, e;

	if (h == NULL)
		return LANG_VI;
	len = strnlen(h, ACCEPT_MAX);
	while (i < len) {
		for (e = i; e < len && h[e] != ','; e++)
			;
		/* A header longer than we look at: its cut element is
		 * dropped rather than misread. */
		if (e == len && h[len] != '\0')
			break;
		if (accept_elem(h + i, e - i, &which, &q) && which >= 0) {
			if (q > best[which])
				best[which] = q;
			if (first[which] == INT_MAX)
				first[which] = pos;
		}
		pos++;
		i = e + 1;
	}
	ev = best[LANG_VI] >= 0 ? best[LANG_VI] : best[2];
	ee = best[LANG_EN] >= 0 ? best[LANG_EN] : best[2];
	if (ee <= 0 && ev <= 0)
		return LANG_VI;
	if (ee != ev)
		return ee > ev ? LANG_EN : LANG_VI;
	return first[LANG_EN] < first[LANG_VI] ? LANG_EN : LANG_VI;
}

int
i18n_date(enum lang lang, const char *iso, char *buf, size_t bufsz)
{
	if (buf == NULL || bufsz < I18N_DATE_MAX) {
		if (buf != NULL && bufsz > 0)
			buf[0] = '\0';
		return E_TOOBIG;
	}
	buf[0] = '\0';
	if (iso == NULL || !schema_date_valid(iso))
		return E_INVAL;
	if (lang == LANG_VI)
		snprintf(buf, bufsz, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
	else
		snprintf(buf, bufsz, "%.10s", iso);
	return 0;
}

int
i18n_amount_vnd(enum lang lang, long long vnd, char *buf, size_t bufsz)
{
	char			 digits[24];
	unsigned long long	 u;
	size_t			 n, o = 0;
	char			 sep = lang == LANG_VI ? '.' : ',';
	const char		*unit = lang == LANG_VI ? " \xe2\x82\xab" :
				    " VND";

	if (buf == NULL || bufsz < I18N_AMOUNT_MAX) {
		if (buf != NULL && bufsz > 0)
			buf[0] = '\0';
		return E_TOOBIG;
	}
	/* Negated in unsigned arithmetic: LLONG_MIN has no positive. */
	u = vnd < 0 ? 0ULL - (unsigned long long)vnd :
	    (unsigned long long)vnd;
	snprintf(digits, sizeof(digits), "%llu", u);
	n = strlen(digits);
	if (vnd < 0)
		buf[o++] = '-';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = sep;
		buf[o++] = digits[i];
	}
	snprintf(buf + o, bufsz - o, "%s", unit);
	return 0;
}

#ifdef SELFTEST
#include <pthread.h>

#include "../common/selftest.h"

#define ST_THREADS	8
#define ST_ROUNDS	5000

/* What every thread must read, worked out before they start. */
struct st_expect {
	const char	*vi_female, *vi_cases, *vi_unknown;
	enum lang	 lang;		/* the thread's own language */
	int		 bad;		/* set by the thread */
};

static void *
st_thread(void *arg)
{
	struct st_expect *x = arg;

	for (int i = 0; i < ST_ROUNDS; i++) {
		/* Each thread alternates, and starts on its own language,
		 * so both languages are asked for at the same moment. */
		enum lang l = (i % 2 == 0) ? x->lang : (enum lang)!x->lang;
		const char *f = i18n_tr(l, "female");
		const char *c = i18n_ntr(l, "%lu case", "%lu cases", 3);
		const char *u = i18n_tr(l, "unknown");

		if (l == LANG_VI && (strcmp(f, x->vi_female) != 0 ||
		    strcmp(c, x->vi_cases) != 0 ||
		    strcmp(u, x->vi_unknown) != 0))
			x->bad = 1;
		if (l == LANG_EN && (strcmp(f, "female") != 0 ||
		    strcmp(c, "%lu cases") != 0 ||
		    strcmp(u, "unknown") != 0))
			x->bad = 1;
	}
	return NULL;
}

int
i18n_selftest(void)
{
	static const char	 missing[] = "not in any catalogue";
	static const char	 empty[] = "";
	struct st_expect	 x[ST_THREADS];
	pthread_t		 t[ST_THREADS];
	enum lang		 l = LANG_EN;
	char			 b[I18N_AMOUNT_MAX];

	ST_OK(i18n_open());
	ST_OK(i18n_open());	/* a second call does nothing */

	/* Both languages, and the msgid when there is nothing better. */
	ST_CHECK(strcmp(i18n_tr(LANG_VI, "female"), "n\xe1\xbb\xaf") == 0);
	ST_CHECK(strcmp(i18n_tr(LANG_EN, "female"), "female") == 0);
	ST_CHECK(strcmp(i18n_tr(LANG_VI, "sexual exploitation"),
	    "b\xc3\xb3" "c l\xe1\xbb\x99t t\xc3\xacnh d\xe1\xbb\xa5" "c") ==
	    0);
	ST_CHECK(i18n_tr(LANG_VI, missing) == missing);
	ST_CHECK(i18n_tr(LANG_EN, missing) == missing);
	ST_CHECK(i18n_tr(LANG_VI, empty) == empty);
	{
		/* Hidden from gcc, which takes a format_arg for the msgid. */
		const char *volatile nul = NULL;

		ST_CHECK(strcmp(i18n_tr(LANG_VI, nul), "") == 0);
	}

	/* Plurals: English has two forms, Vietnamese one. */
	ST_CHECK(strcmp(i18n_ntr(LANG_EN, "%lu case", "%lu cases", 1),
	    "%lu case") == 0);
	ST_CHECK(strcmp(i18n_ntr(LANG_EN, "%lu case", "%lu cases", 0),
	    "%lu cases") == 0);
	ST_CHECK(strcmp(i18n_ntr(LANG_EN, "%lu case", "%lu cases", 2),
	    "%lu cases") == 0);
	ST_CHECK(strcmp(i18n_ntr(LANG_VI, "%lu case", "%lu cases", 1),
	    "%lu h\xe1\xbb\x93 s\xc6\xa1") == 0);
	ST_CHECK(strcmp(i18n_ntr(LANG_VI, "%lu case", "%lu cases", 7),
	    "%lu h\xe1\xbb\x93 s\xc6\xa1") == 0);
	ST_CHECK(strcmp(i18n_ntr(LANG_VI, missing, "many", 1), missing) ==
	    0);
	ST_CHECK(strcmp(i18n_ntr(LANG_VI, missing, "many", 2), "many") ==
	    0);

	/* Language names. */
	ST_OK(i18n_lang_parse("vi", &l));
	ST_CHECK(l == LANG_VI);
	ST_OK(i18n_lang_parse("en-US", &l));
	ST_CHECK(l == LANG_EN);
	ST_OK(i18n_lang_parse("VI_vn", &l));
	ST_CHECK(l == LANG_VI);
	ST_OK(i18n_lang_parse("en-GB", &l));
	ST_CHECK(l == LANG_EN);
	l = LANG_VI;
	ST_CHECK(i18n_lang_parse("xx", &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse("", &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse(NULL, &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse("vie", &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse("en-", &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse("en US", &l) == E_INVAL);
	ST_CHECK(i18n_lang_parse("en-toolongsubtag", &l) == E_INVAL);
	ST_CHECK(l == LANG_VI);

	/* Accept-Language, q-values honoured. */
	ST_CHECK(i18n_lang_accept(NULL) == LANG_VI);
	ST_CHECK(i18n_lang_accept("") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en") == LANG_EN);
	ST_CHECK(i18n_lang_accept("en-US,en;q=0.9") == LANG_EN);
	ST_CHECK(i18n_lang_accept("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7") ==
	    LANG_VI);
	ST_CHECK(i18n_lang_accept("vi;q=0.5, en;q=0.8") == LANG_EN);
	ST_CHECK(i18n_lang_accept("en;q=0.5 , vi ; q=0.8") == LANG_VI);
	ST_CHECK(i18n_lang_accept("fr-FR, fr;q=0.9, en;q=0.2") == LANG_EN);
	ST_CHECK(i18n_lang_accept("fr, de") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;q=0") == LANG_VI);
	ST_CHECK(i18n_lang_accept("vi;q=0, en;q=0.001") == LANG_EN);
	/* "*" stands for the language not named. */
	ST_CHECK(i18n_lang_accept("*;q=0.5, vi;q=0.1") == LANG_EN);
	ST_CHECK(i18n_lang_accept("*;q=0.5, en;q=0.1") == LANG_VI);
	ST_CHECK(i18n_lang_accept("*") == LANG_VI);
	ST_CHECK(i18n_lang_accept("*, vi;q=0") == LANG_EN);
	ST_CHECK(i18n_lang_accept("en, vi") == LANG_EN);
	ST_CHECK(i18n_lang_accept("vi, en") == LANG_VI);
	ST_CHECK(i18n_lang_accept("EN-gb;Q=1.000") == LANG_EN);
	/* Garbage: malformed elements are skipped, whatever they say. */
	ST_CHECK(i18n_lang_accept("en;q=2") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;q=1.5") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;q=0.0001") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;q=") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;level=1") == LANG_VI);
	ST_CHECK(i18n_lang_accept("en;q=0.5;q=0.6") == LANG_VI);
	ST_CHECK(i18n_lang_accept("e\xc3\xa9n, en?;q=1") == LANG_VI);
	ST_CHECK(i18n_lang_accept(";;;,,,===\t") == LANG_VI);
	ST_CHECK(i18n_lang_accept(",, en ,,") == LANG_EN);
	ST_CHECK(i18n_lang_accept("<script>, en;q=0.3") == LANG_EN);
	{
		/* Past ACCEPT_MAX: the cut element is not read. */
		char	big[ACCEPT_MAX + 64];
		size_t	n;

		memset(big, 0, sizeof(big));
		for (n = 0; n + 4 < ACCEPT_MAX - 2; n += 4)
			memcpy(big + n, "fr, ", 4);
		memcpy(big + n, "en;q=0.9, en", 12);
		ST_CHECK(i18n_lang_accept(big) == LANG_VI);
		big[n + 2] = '\0';
		ST_CHECK(i18n_lang_accept(big) == LANG_EN);
	}

	/* Dates and amounts. */
	ST_OK(i18n_date(LANG_VI, "2025-03-14", b, sizeof(b)));
	ST_CHECK(strcmp(b, "14/03/2025") == 0);
	ST_OK(i18n_date(LANG_EN, "2025-03-14", b, sizeof(b)));
	ST_CHECK(strcmp(b, "2025-03-14") == 0);
	ST_CHECK(i18n_date(LANG_VI, "2025-02-29", b, sizeof(b)) == E_INVAL);
	ST_CHECK(b[0] == '\0');
	ST_CHECK(i18n_date(LANG_VI, "14/03/2025", b, sizeof(b)) == E_INVAL);
	ST_CHECK(i18n_date(LANG_VI, "2025-03-14", b, 8) == E_TOOBIG);
	ST_OK(i18n_amount_vnd(LANG_VI, 1500000, b, sizeof(b)));
	ST_CHECK(strcmp(b, "1.500.000 \xe2\x82\xab") == 0);
	ST_OK(i18n_amount_vnd(LANG_EN, 1500000, b, sizeof(b)));
	ST_CHECK(strcmp(b, "1,500,000 VND") == 0);
	ST_OK(i18n_amount_vnd(LANG_VI, 0, b, sizeof(b)));
	ST_CHECK(strcmp(b, "0 \xe2\x82\xab") == 0);
	ST_OK(i18n_amount_vnd(LANG_VI, 999, b, sizeof(b)));
	ST_CHECK(strcmp(b, "999 \xe2\x82\xab") == 0);
	ST_OK(i18n_amount_vnd(LANG_VI, -1000, b, sizeof(b)));
	ST_CHECK(strcmp(b, "-1.000 \xe2\x82\xab") == 0);
	ST_OK(i18n_amount_vnd(LANG_EN, LLONG_MIN, b, sizeof(b)));
	ST_CHECK(strcmp(b, "-9,223,372,036,854,775,808 VND") == 0);
	ST_CHECK(i18n_amount_vnd(LANG_EN, 1, b, 10) == E_TOOBIG);

	/* Several threads at once, each with its own language. */
	for (int i = 0; i < ST_THREADS; i++) {
		x[i].vi_female = i18n_tr(LANG_VI, "female");
		x[i].vi_cases = i18n_ntr(LANG_VI, "%lu case", "%lu cases", 3);
		x[i].vi_unknown = i18n_tr(LANG_VI, "unknown");
		x[i].lang = i % 2 ? LANG_EN : LANG_VI;
		x[i].bad = 0;
		ST_CHECK(strcmp(x[i].vi_unknown, "unknown") != 0);
	}
	for (int i = 0; i < ST_THREADS; i++)
		ST_CHECK(pthread_create(&t[i], NULL, st_thread, &x[i]) == 0);
	for (int i = 0; i < ST_THREADS; i++) {
		ST_CHECK(pthread_join(t[i], NULL) == 0);
		ST_CHECK(x[i].bad == 0);
	}
	return 0;
}
#endif

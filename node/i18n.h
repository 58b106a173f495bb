/*
 * i18n.h - the language layer: Vietnamese and English messages from GNU
 * gettext catalogues, chosen per call, plus dates and amounts written the
 * way each language writes them.  docs/I18N.md tells how to add a string
 * and how to translate it.
 *
 * Messages are written in the sources in English; that text is the msgid.
 * po/vi.po holds the Vietnamese; English needs no catalogue (the msgid is
 * the English).  The compiled catalogues are embedded in the binary at
 * build time and handed to glibc's libintl by i18n_open(), so there is one
 * file to deploy and nothing to install.
 *
 * Threads: after i18n_open() every function here may be called from any
 * number of threads at once, each with its own language.
 */
#ifndef CASESYNC_I18N_H
#define CASESYNC_I18N_H

#include <stddef.h>

enum lang {
	LANG_VI = 0,
	LANG_EN = 1,
};

/* Marks a msgid for xgettext (`make pot`) without translating it, for
 * tables of labels that are translated later with i18n_tr(). */
#define N_(s)	(s)

/* The longest output of i18n_date and i18n_amount_vnd, with the NUL. */
#define I18N_DATE_MAX	16
#define I18N_AMOUNT_MAX	40

/*
 * Makes the catalogues available.  Call once at start, before any thread
 * is started (it sets the process's LC_MESSAGES category and removes
 * LANGUAGE from the environment: casesync chooses the language itself).
 * A second call does nothing.  Returns 0, or E_IO when the catalogues
 * cannot be loaded (the reason is logged once).
 */
int	i18n_open(void);

/*
 * The translation of msgid into lang.  When there is none (English, a
 * message not in the catalogue, or i18n_open not called) the msgid itself
 * is returned.  Borrowed; valid for the lifetime of the process.  (The
 * format_arg attribute lets gcc check printf arguments against the msgid;
 * msgfmt --check holds the translation to the same conversions.)
 */
const char *i18n_tr(enum lang lang, const char *msgid)
	    __attribute__((format_arg(2)));

/*
 * The form of a message for the count n: the catalogue's plural rule for
 * lang (Vietnamese has one form), or singular for n == 1 and plural
 * otherwise when there is no translation.  Borrowed, as for i18n_tr.
 */
const char *i18n_ntr(enum lang lang, const char *singular,
	    const char *plural, unsigned long n)
	    __attribute__((format_arg(2), format_arg(3)));

/*
 * Parses a language name: "vi" or "en", either case, optionally followed
 * by a region ("vi-VN", "en_US", "en-GB").  Returns 0 with *out set, or
 * E_INVAL (s NULL or anything else; *out is left alone).
 */
int	i18n_lang_parse(const char *s, enum lang *out);

/*
 * The best of Vietnamese and English for an HTTP Accept-Language header
 * (RFC 9110 12.5.4): the highest q-value wins, "*" stands for any language
 * not named, q=0 means "not acceptable", ties go to the one named first.
 * Malformed elements are skipped.  LANG_VI when the header is NULL, empty,
 * garbage, or accepts neither.
 */
enum lang i18n_lang_accept(const char *accept_language);

/* The language's code, "vi" or "en" (for <html lang=...>).  Static. */
const char *i18n_lang_code(enum lang lang);

/*
 * Writes the date iso ("YYYY-MM-DD", a real calendar day) as lang writes
 * it into buf: "14/03/2025" in Vietnamese, "2025-03-14" in English.
 * Returns 0, E_INVAL for a bad date, or E_TOOBIG when bufsz is smaller
 * than I18N_DATE_MAX; buf then holds "".
 */
int	i18n_date(enum lang lang, const char *iso, char *buf, size_t bufsz);

/*
 * Writes an amount in dong into buf: "1.500.000 ₫" in Vietnamese,
 * "1,500,000 VND" in English; a minus sign before negative amounts.
 * Returns 0, or E_TOOBIG when bufsz is smaller than I18N_AMOUNT_MAX; buf
 * then holds "".
 */
int	i18n_amount_vnd(enum lang lang, long long vnd, char *buf,
	    size_t bufsz);

#ifdef SELFTEST
int	i18n_selftest(void);
#endif

#endif

/*
 * log.h - levelled logging to stderr or syslog.
 *
 * The log state (level, destination, program name) is set once at startup by
 * main.c through log_init(); it is the only process-wide state in common/.
 */
#ifndef CASESYNC_LOG_H
#define CASESYNC_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the program name (borrowed, must outlive logging), the level, and
 * whether messages go to syslog (1) or stderr (0). */
void	log_init(const char *prog, int level, int use_syslog);
void	log_set_level(int level);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int	log_level_parse(const char *s);

void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* fatal/fatalx: startup only (main.c); print and exit(1). */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif

/*
 * cli.h - what the `casesync` verbs share: exit codes, opening a node
 * directory, reading input, printing errors.  Each verb lives in its own
 * node/cmd_*.c file as cmd_VERB(argc, argv).
 */
#ifndef CASESYNC_CLI_H
#define CASESYNC_CLI_H

#include <signal.h>
#include <stddef.h>

#include "identity.h"
#include "nodecfg.h"
#include "store.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_USAGE = 1,		/* bad command line */
	EXIT_REJECT = 2,	/* input rejected, or refused */
	EXIT_PEER = 3,		/* cannot reach a peer */
	EXIT_INTEGRITY = 4,	/* verification failed */
};

/* An opened node directory. */
struct node_ctx {
	const char	*dir;
	struct nodecfg	 cfg;
	struct store	*st;
	struct identity	 id;
	char		 author[ENTRY_AUTHOR_MAX + 1];
};

/* Prints "casesync: msg" on stderr (one line). */
void	cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Resolves the directory from -d or CASESYNC_DIR, loads the config and
 * opens the store.  On failure prints the reason and returns the exit code
 * to use (non-zero). */
int	cli_open(const char *dir, struct node_ctx *n);
void	cli_close(struct node_ctx *n);

/* Maps an enum err to an exit code. */
int	cli_exit_for(int err);

/* Reads all of path ("-" or NULL = stdin), at most max bytes, into a
 * malloc'd NUL-terminated buffer.  Returns 0, E_IO or E_TOOBIG with a
 * message printed. */
int	cli_read_input(const char *path, size_t max, char **out, size_t *len);

/* Prints the verb's usage text when argv holds --help or -h.  Returns 1
 * when it printed (the verb then exits 0). */
int	cli_help(int argc, char **argv, const char *usage);

/* A verb's long option for cli_parse: a value (--name VALUE into *str)
 * or a flag (--name sets *flag to 1); exactly one of str, flag is set. */
struct cli_opt {
	const char	 *name;
	const char	**str;
	int		 *flag;
};
#define CLI_OPTS_MAX	8

/* Parses -d/--dir DIR into *dir and the verb's options opts[nopts] (at
 * most CLI_OPTS_MAX).  Returns the index of the first positional
 * argument, or -1 after printing usage (an unknown option). */
int	cli_parse(int argc, char **argv, const char *usage, const char **dir,
	    const struct cli_opt *opts, size_t nopts);

/* Reports the option getopt_long (with a leading ':' in its optstring)
 * stopped at, ch being ':' or '?', as "VERB: ..." and returns EXIT_USAGE. */
int	cli_bad_option(const char *verb, int ch, char **argv);

/* Is stdout/stderr a terminal (for progress lines)? */
int	cli_tty(void);

/*
 * The passphrase (CASESYNC_PASSPHRASE), which main.c takes out of the
 * environment before any verb runs and keeps in a locked page that core
 * dumps leave out (common/harden.h); NULL when none was set.  Borrowed.
 * A process forked later (supervise.c) inherits the copy: that is how a
 * session process gets the passphrase.
 */
const char *cli_passphrase(void);
/* Wipes this process's copy of the passphrase.  A long-lived process calls
 * it once cli_open() has derived the data key. */
void	cli_passphrase_forget(void);

/* Set by SIGTERM/SIGINT (main.c); verbs that loop poll it. */
extern volatile sig_atomic_t casesync_quit;
/* Installs the SIGTERM/SIGINT handlers that set casesync_quit. */
void	cli_signals(void);

/* The options of `export`: cmd_io.c parses them and runs the plain
 * export; cmd_htcds.c runs --format htcds and htcds-csv.  Borrowed from
 * argv. */
struct export_args {
	const char	*dir, *out, *format, *year, *province, *confirm;
	int		 identifying;
};
int	cmd_export_htcds(const struct export_args *);

int	cmd_init(int, char **);
int	cmd_case(int, char **);
int	cmd_status(int, char **);
int	cmd_verify(int, char **);
int	cmd_export(int, char **);
int	cmd_import(int, char **);
int	cmd_serve(int, char **);
int	cmd_key(int, char **);
int	cmd_trust(int, char **);
int	cmd_revoke(int, char **);
int	cmd_sync(int, char **);
int	cmd_report(int, char **);
int	cmd_conflicts(int, char **);
int	cmd_console(int, char **);
int	cmd_user(int, char **);
int	cmd_backup(int, char **);
int	cmd_restore(int, char **);
int	cmd_promote(int, char **);
int	cmd_rejoin(int, char **);

/* Formats a position (a seq or feed position, proto/entry.h) as "N" in
 * incarnation 0 and "INC:N" after a restore.  Returns buf. */
const char *cli_pos(uint64_t pos, char *buf, size_t sz);
/* `case transfer` and `case erase` (cmd_transfer.c), dispatched by
 * cmd_case with argv[0] the sub-verb. */
int	cmd_case_transfer(int, char **);
int	cmd_case_erase(int, char **);
/* `case accept` and `case decline` (cmd_transfer.c): answers to an offer. */
int	cmd_case_accept(int, char **);
int	cmd_case_decline(int, char **);
int	cmd_case_referrals(int, char **);

#endif

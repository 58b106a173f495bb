/*
 * cmd_user.c - `casesync user add|passwd|disable|enable|list`: the people
 * who may sign in to this node's console (users.h).  Passwords come from
 * the terminal, asked twice without echo, or from the first line of
 * stdin; never from the command line, where `ps` would show them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "users.h"

#include "../common/crypto.h"
#include "../common/err.h"
#include "../common/jsonw.h"
#include "../common/util.h"

static const char usage_text[] =
"usage: casesync user add     -d DIR NAME --role admin|caseworker|viewer\n"
"       casesync user passwd  -d DIR NAME\n"
"       casesync user disable -d DIR NAME\n"
"       casesync user enable  -d DIR NAME\n"
"       casesync user list    -d DIR [--json]\n"
"       casesync user lang    -d DIR NAME vi|en|browser\n"
"\n"
"The people who may sign in to this node's console (casesync console).\n"
"Users belong to this node: they are kept in DIR/users and never synced.\n"
"Roles: viewer sees the dashboard and sync health only, never an\n"
"identifying value; caseworker also sees cases with their identifying\n"
"values; admin also resolves conflicts, manages users and reads the audit\n"
"log.\n"
"\n"
"add and passwd ask for the password twice on the terminal, without echo,\n"
"or read the first line of stdin when it is not a terminal.  A password\n"
"has at least 10 characters.  It is stored as an Argon2id hash.\n"
"disable keeps the user but refuses their sign-in and ends their sessions\n"
"at their next request.  lang sets the language of the user's console\n"
"pages (browser: from the browser's Accept-Language); a language\n"
"picked with ?lang= (remembered by that browser) wins over it.  Each\n"
"change is written to DIR/audit.log.\n"
"\n"
"Exit codes: 0 ok, 1 usage, 2 rejected (unknown user, name taken, short\n"
"password, passwords that differ).\n";

/* Reads a line without echo from the terminal. */
static int
tty_line(int fd, const char *prompt, char *out, size_t sz)
{
	struct termios	old, quiet;
	size_t		n = 0;
	char		c;
	ssize_t		r;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return E_IO;
	if (tcgetattr(fd, &old) != 0)
		return E_IO;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		return E_IO;
	while ((r = read(fd, &c, 1)) == 1 && c != '\n')
		if (n + 1 < sz)
			out[n++] = c;
	out[n] = '\0';
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	(void)write(fd, "\n", 1);
	return r < 0 ? E_IO : 0;
}

/* The new password into out; prints the reason and returns non-zero. */
static int
read_password(char *out, size_t sz)
{
	char	again[USER_PASS_MAX + 2];
	int	fd;

	if (!isatty(STDIN_FILENO)) {
		size_t n;

		if (fgets(out, (int)sz, stdin) == NULL) {
			cli_error("user: no password on stdin (give it as the "
			    "first line)");
			return EXIT_REJECT;
		}
		n = strlen(out);
		if (n > 0 && out[n - 1] == '\n')
			out[--n] = '\0';
		else if (n + 1 == sz) {
			cli_error("user: the password is too long (at most "
			    "%d bytes)", USER_PASS_MAX);
			return EXIT_REJECT;
		}
		if (n > 0 && out[n - 1] == '\r')
			out[--n] = '\0';
		return 0;
	}
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1) {
		cli_error("user: cannot open the terminal: %s",
		    strerror(errno));
		return EXIT_REJECT;
	}
	if (tty_line(fd, "Password: ", out, sz) != 0 ||
	    tty_line(fd, "Password again: ", again, sizeof(again)) != 0) {
		close(fd);
		cli_error("user: cannot read the password from the terminal");
		return EXIT_REJECT;
	}
	close(fd);
	if (strcmp(out, again) != 0) {
		crypto_wipe(again, sizeof(again));
		cli_error("user: the two passwords differ");
		return EXIT_REJECT;
	}
	crypto_wipe(again, sizeof(again));
	return 0;
}

static void
audit_change(const char *dir, const char *action, const char *name)
{
	struct audit	*a;
	char		 err[256], who[80];
	const char	*u = getenv("USER");

	if (audit_open(dir, &a, err, sizeof(err)) != 0)
		return;
	snprintf(who, sizeof(who), "cli:%s", u != NULL ? u : "?");
	(void)audit_log(a, who, "local", action, NULL, name);
	audit_close(&a);
}

static int
user_list(const char *dir, int json)
{
	struct user	*us;
	size_t		 n;
	char		 err[256], when[40];

	if (users_load(dir, &us, &n, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if (json)
		fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		hlc_format(us[i].created_ms << 16, when, sizeof(when));
		if (json) {
			struct buf b;

			buf_init(&b, 1024);
			buf_append_str(&b, i ? ",\n  {" : "\n  {");
			jsonw_key(&b, "name", 1);
			jsonw_str(&b, us[i].name);
			jsonw_key(&b, "role", 0);
			jsonw_str(&b, users_role_name(us[i].role));
			buf_append_str(&b, us[i].disabled ?
			    ",\"disabled\":true" : ",\"disabled\":false");
			jsonw_key(&b, "created", 0);
			jsonw_str(&b, when);
			buf_append_str(&b, "}");
			fwrite(b.data, 1, b.len, stdout);
			buf_release(&b);
		} else
			printf("%-31s  %-10s  %-8s  created %.10s\n",
			    us[i].name, users_role_name(us[i].role),
			    us[i].disabled ? "disabled" : "active", when);
	}
	if (json)
		fputs(n ? "\n]\n" : "]\n", stdout);
	else if (n == 0)
		puts("no users (casesync user add -d DIR NAME --role admin)");
	crypto_wipe(us, n * sizeof(*us));
	free(us);
	return EXIT_OK;
}

int
cmd_user(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "role", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct nodecfg	 cfg;
	const char	*dir = NULL, *role_s = NULL, *sub, *name = NULL;
	const char	*lang = NULL;
	char		 err[512], pw[USER_PASS_MAX + 2];
	int		 ch, json = 0, role = 0, rc;

	if (cli_help(argc, argv, usage_text))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'r': role_s = optarg; break;
		case 'j': json = 1; break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	sub = argv[optind++];
	if (strcmp(sub, "add") && strcmp(sub, "passwd") &&
	    strcmp(sub, "disable") && strcmp(sub, "enable") &&
	    strcmp(sub, "list") && strcmp(sub, "lang")) {
		cli_error("user: unknown sub-verb '%s' (add, passwd, disable, "
		    "enable, list, lang)", sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc) {
			cli_error("user list: unexpected argument '%s'",
			    argv[optind]);
			return EXIT_USAGE;
		}
	} else if (strcmp(sub, "lang") == 0) {
		if (optind + 2 != argc) {
			cli_error("user lang: give a user name and vi, en or "
			    "browser");
			return EXIT_USAGE;
		}
		name = argv[optind];
		lang = argv[optind + 1];
		if (strcmp(lang, "browser") == 0)
			lang = "";
		else if (strcmp(lang, "vi") && strcmp(lang, "en")) {
			cli_error("user lang: the language is vi, en or "
			    "browser, not '%s'", lang);
			return EXIT_USAGE;
		}
	} else {
		if (optind + 1 != argc) {
			cli_error("user %s: give exactly one user name", sub);
			return EXIT_USAGE;
		}
		name = argv[optind];
	}
	if (name != NULL) {
		if (!users_name_valid(name)) {
			cli_error("user %s: '%s' is not a user name (1 to %d "
			    "of a-z 0-9 . _ -, not starting with . or -)", sub,
			    name, USER_NAME_MAX);
			return EXIT_USAGE;
		}
	}
	if (json && strcmp(sub, "list") != 0) {
		cli_error("user %s: --json is for list", sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "add") == 0) {
		if (role_s == NULL) {
			cli_error("user add: give --role admin, caseworker or "
			    "viewer");
			return EXIT_USAGE;
		}
		if (users_role_parse(role_s, &role) != 0) {
			cli_error("user add: --role takes admin, caseworker or "
			    "viewer, not '%s'", role_s);
			return EXIT_USAGE;
		}
	} else if (role_s != NULL) {
		cli_error("user %s: --role is for add", sub);
		return EXIT_USAGE;
	}
	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || *dir == '\0') {
		cli_error("no node directory: give -d DIR or set CASESYNC_DIR");
		return EXIT_USAGE;
	}
	if (nodecfg_load(dir, &cfg, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	if (strcmp(sub, "list") == 0)
		return user_list(dir, json);
	if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) {
		struct user u;

		/* Name the problem before asking for a password. */
		rc = users_get(dir, name, &u);
		if (strcmp(sub, "add") == 0 && rc == 0) {
			cli_error("user %s exists (use `casesync user passwd`)",
			    name);
			return EXIT_REJECT;
		}
		if (strcmp(sub, "passwd") == 0 && rc == E_NOTFOUND) {
			cli_error("no user %s", name);
			return EXIT_REJECT;
		}
		if ((rc = read_password(pw, sizeof(pw))) != 0)
			return rc;
		if (users_password_ok(pw, err, sizeof(err)) != 0) {
			crypto_wipe(pw, sizeof(pw));
			cli_error("user %s: %s", sub, err);
			return EXIT_REJECT;
		}
		rc = strcmp(sub, "add") == 0 ? users_add(dir, name, role, pw,
		    err, sizeof(err)) : users_passwd(dir, name, pw, err,
		    sizeof(err));
		crypto_wipe(pw, sizeof(pw));
	} else if (lang != NULL)
		rc = users_set_lang(dir, name, lang, err, sizeof(err));
	else
		rc = users_set_disabled(dir, name, strcmp(sub, "disable") ==
		    0, err, sizeof(err));
	if (rc != 0) {
		cli_error("%s", err);
		return EXIT_REJECT;
	}
	snprintf(err, sizeof(err), "user.%s", sub);
	audit_change(dir, err, name);
	if (lang != NULL) {
		printf("language of %s: %s\n", name, *lang ? lang :
		    "the browser's");
		return EXIT_OK;
	}
	printf("%s: %s\n", strcmp(sub, "add") == 0 ? "added" :
	    strcmp(sub, "passwd") == 0 ? "password set" :
	    strcmp(sub, "disable") == 0 ? "disabled" : "enabled", name);
	return EXIT_OK;
}

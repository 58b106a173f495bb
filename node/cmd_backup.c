/*
 * cmd_backup.c - `casesync backup` and `casesync restore`: a consistent copy
 * of a running node, and putting one back so that the node starts a new
 * incarnation (docs/PROTOCOL.md, "Recovery"; README, "Backup and restore").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "standby.h"
#include "users.h"

#include "../common/err.h"
#include "../common/util.h"

/* The files of a node directory besides data.mdb, copied as they are: the
 * keys stay exactly as protected as in the node directory.  Those a node
 * does not have are skipped.  (console.crt and console.key are the
 * console's TLS pair, named in cmd_console.c.) */
static const char *const node_files[] = {
	NODECFG_FILE, IDENTITY_FILE, DATAKEY_FILE, DATASALT_FILE,
	PSEUDOKEY_FILE, USERS_FILE, AUDIT_FILE, "console.crt", "console.key",
	/* A promoted standby: central's keys, sealed under its data key
	 * (docs/HA.md); its store does not open without them. */
	STANDBY_SECRETS_FILE,
};
#define NNODE_FILES	(sizeof(node_files) / sizeof(node_files[0]))

static const char backup_usage[] =
"usage: casesync backup [-d DIR] OUT\n"
"\n"
"Writes a consistent copy of the node in DIR to the new directory OUT\n"
"(mode 0700): data.mdb, compacted with LMDB's own copy while `serve` or\n"
"`sync` keep working, and casesync.conf, identity.key, data.key (or\n"
"data.salt), htcds.key, the console's users, audit.log and TLS pair,\n"
"central.secrets (a promoted standby),\n"
"those DIR has, exactly as DIR holds them.  The copy holds no key in clear\n"
"that DIR does not hold itself; keep it as you keep DIR (README, \"Backup\n"
"and restore\").  OUT must not exist or be an empty directory that\n"
"belongs to this user and that group and others cannot write to.  Prints\n"
"what it wrote and its size.  Put it back with `casesync restore`.\n"
"Exit 0, 1 usage, 2 when the copy cannot be written (nothing is left\n"
"in OUT).\n";

static const char restore_usage[] =
"usage: casesync restore [-d DIR] [--force] BACKUP\n"
"\n"
"Puts the node in BACKUP back into DIR: the output of `casesync backup`,\n"
"or a plain copy of a node directory (rsync, a VM snapshot).  DIR must\n"
"not exist or be empty, unless --force (stop the node first: its files\n"
"are replaced); like any node directory it must belong to this user and\n"
"be closed to group and others.  The node then starts a new incarnation,\n"
"so it never reuses a position it may have used after the backup, and\n"
"its next sync gets back from the other side what it lost.  Work done\n"
"here after the backup that reached no other node is lost; restore says\n"
"so.\n"
"Exit 0, 1 usage, 2 refused (DIR not empty, BACKUP not a node).\n";

/* Copies src to dst (created, mode 0600 or src's mode if narrower),
 * fsynced.  Adds the size to *bytes. */
static int
copy_file(const char *src, const char *dst, uint64_t *bytes, char *err,
    size_t errsz)
{
	struct stat	sb;
	char		buf[65536];
	int		in, out, rc = 0;
	ssize_t		r;

	if ((in = open(src, O_RDONLY)) < 0 || fstat(in, &sb) != 0) {
		snprintf(err, errsz, "%s: %s", src, strerror(errno));
		if (in >= 0)
			close(in);
		return E_IO;
	}
	/* A new file, never one planted there nor through a link: backup
	 * and restore only write into an empty (or emptied) private
	 * directory (common/outfile.h says why). */
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600 & sb.st_mode);
	if (out < 0) {
		snprintf(err, errsz, "%s: %s", dst, strerror(errno));
		close(in);
		return E_IO;
	}
	while ((r = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)r) != r) {
			rc = errno == ENOSPC ? E_FULL : E_IO;
			break;
		}
		*bytes += (uint64_t)r;
	}
	if (r < 0)
		rc = E_IO;
	if (rc == 0 && fsync(out) != 0)
		rc = errno == ENOSPC ? E_FULL : E_IO;
	if (rc != 0)
		snprintf(err, errsz, "%s: %s", dst, strerror(errno));
	close(in);
	close(out);
	return rc;
}

static int
path_join(char *out, size_t sz, const char *dir, const char *file)
{
	return (size_t)snprintf(out, sz, "%s/%s", dir, file) < sz ? 0 :
	    E_INVAL;
}

static int
exists(const char *dir, const char *file)
{
	char		p[4096];
	struct stat	sb;

	return path_join(p, sizeof(p), dir, file) == 0 && stat(p, &sb) == 0;
}

/* 1 when dir is a directory with no entry, 0 when it has one, -1 when it
 * does not exist, -2 when it is not a readable directory. */
static int
dir_empty(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 empty = 1;

	if (d == NULL)
		return errno == ENOENT ? -1 : -2;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Removes what a failed backup or restore wrote in dir (our files only),
 * and dir itself when we created it. */
static void
undo(const char *dir, int created)
{
	char p[4096];

	for (size_t i = 0; i < NNODE_FILES; i++)
		if (path_join(p, sizeof(p), dir, node_files[i]) == 0)
			unlink(p);
	if (path_join(p, sizeof(p), dir, "data.mdb") == 0)
		unlink(p);
	if (path_join(p, sizeof(p), dir, "lock.mdb") == 0)
		unlink(p);
	if (created)
		rmdir(dir);
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_info	 info;
	struct store		*st;
	const char		*dir = NULL, *out;
	char			 err[512], src[4096], dst[4096];
	uint64_t		 bytes = 0, dbytes = 0;
	struct stat		 sb;
	int			 ch, rc, created = 0, e;

	if (cli_help(argc, argv, backup_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch != 'd') {
			fputs(backup_usage, stderr);
			return EXIT_USAGE;
		}
		dir = optarg;
	}
	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || *dir == '\0') {
		cli_error("backup: no node directory: give -d DIR or set "
		    "CASESYNC_DIR");
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		cli_error("backup: give exactly one output directory OUT");
		return EXIT_USAGE;
	}
	out = argv[optind];
	if (!exists(dir, "data.mdb") || !exists(dir, IDENTITY_FILE)) {
		cli_error("backup: %s is not a node directory (no data.mdb or "
		    "identity.key)", dir);
		return EXIT_REJECT;
	}
	if ((e = dir_empty(out)) == 0) {
		cli_error("backup: %s is not empty; give a new directory",
		    out);
		return EXIT_REJECT;
	}
	if (e == -2) {
		cli_error("backup: %s: %s", out, strerror(errno));
		return EXIT_REJECT;
	}
	if (e == -1) {
		if (mkdir(out, 0700) != 0) {
			cli_error("backup: %s: %s", out, strerror(errno));
			return EXIT_REJECT;
		}
		created = 1;
	}
	/* The copy holds the keys: only this user may write where it goes. */
	if (identity_dir_check(out, err, sizeof(err)) != 0) {
		cli_error("backup: %s", err);
		undo(out, created);
		return EXIT_REJECT;
	}
	if ((rc = store_open(dir, &st, err, sizeof(err))) != 0) {
		cli_error("backup: %s", err);
		undo(out, created);
		return EXIT_REJECT;
	}
	if ((rc = store_info(st, &info)) != 0) {
		cli_error("backup: %s: the store was never initialised", dir);
		store_close(&st);
		undo(out, created);
		return EXIT_REJECT;
	}
	rc = store_backup(st, out, err, sizeof(err));
	store_close(&st);
	if (rc != 0) {
		cli_error("backup: %s", err);
		undo(out, created);
		return EXIT_REJECT;
	}
	if (path_join(dst, sizeof(dst), out, "data.mdb") == 0 &&
	    stat(dst, &sb) == 0) {
		dbytes = (uint64_t)sb.st_size;
		chmod(dst, 0600);
	}
	bytes = dbytes;
	printf("backup of %s (%s) in %s:\n  data.mdb %llu bytes "
	    "(own entries up to seq %s, %llu entries, %llu cases)\n",
	    info.node, info.role, out, (unsigned long long)dbytes,
	    cli_pos(info.seq, src, sizeof(src)),
	    (unsigned long long)info.nentries,
	    (unsigned long long)info.ncases);
	for (size_t i = 0; i < NNODE_FILES; i++) {
		uint64_t	b = 0;

		if (!exists(dir, node_files[i]))
			continue;
		if (path_join(src, sizeof(src), dir, node_files[i]) != 0 ||
		    path_join(dst, sizeof(dst), out, node_files[i]) != 0 ||
		    copy_file(src, dst, &b, err, sizeof(err)) != 0) {
			cli_error("backup: %s", err);
			undo(out, created);
			return EXIT_REJECT;
		}
		bytes += b;
		printf("  %s %llu bytes\n", node_files[i],
		    (unsigned long long)b);
	}
	fsync_dir(out);
	printf("%llu bytes in all\n", (unsigned long long)bytes);
	return EXIT_OK;
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx		 n;
	struct store_info	 info;
	const char		*dir = NULL, *from;
	char			 err[512], src[4096], dst[4096];
	uint64_t		 bytes = 0, inc, seq;
	int			 ch, rc, force = 0, created = 0, e;

	if (cli_help(argc, argv, restore_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'f': force = 1; break;
		default:
			fputs(restore_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (dir == NULL)
		dir = getenv("CASESYNC_DIR");
	if (dir == NULL || *dir == '\0') {
		cli_error("restore: no node directory: give -d DIR or set "
		    "CASESYNC_DIR");
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		cli_error("restore: give exactly one BACKUP directory");
		return EXIT_USAGE;
	}
	from = argv[optind];
	if (!exists(from, "data.mdb") || !exists(from, IDENTITY_FILE) ||
	    !exists(from, NODECFG_FILE)) {
		cli_error("restore: %s is not a backup of a node (it needs "
		    "data.mdb, identity.key and casesync.conf)", from);
		return EXIT_REJECT;
	}
	/* The keys must open before anything in DIR is replaced: a missing
	 * passphrase found afterwards would leave DIR without a node. */
	{
		struct identity	id;
		uint8_t		key[CRYPTO_KEY];

		/* Read only: the backup is not migrated; the restored
		 * copy is, when cli_open opens it below. */
		if (datakey_load(from, cli_passphrase(), key, err,
		    sizeof(err)) != 0 || identity_load(from, key, 0, &id,
		    NULL, err, sizeof(err)) != 0) {
			crypto_wipe(key, sizeof(key));
			cli_error("restore: %s", err);
			return EXIT_REJECT;
		}
		identity_wipe(&id);
		crypto_wipe(key, sizeof(key));
	}
	if ((e = dir_empty(dir)) == 0 && !force) {
		cli_error("restore: %s is not empty (stop the node and give "
		    "--force to replace what it holds)", dir);
		return EXIT_REJECT;
	}
	if (e == -2) {
		cli_error("restore: %s: %s", dir, strerror(errno));
		return EXIT_REJECT;
	}
	if (e == -1) {
		if (mkdir(dir, 0700) != 0) {
			cli_error("restore: %s: %s", dir, strerror(errno));
			return EXIT_REJECT;
		}
		created = 1;
	}
	if (identity_dir_check(dir, err, sizeof(err)) != 0) {
		cli_error("restore: %s", err);
		undo(dir, created);
		return EXIT_REJECT;
	}
	/* The old lock file may list readers of the lost store. */
	if (path_join(dst, sizeof(dst), dir, "lock.mdb") == 0)
		unlink(dst);
	for (size_t i = 0; i <= NNODE_FILES; i++) {
		const char *f = i < NNODE_FILES ? node_files[i] : "data.mdb";

		if (path_join(dst, sizeof(dst), dir, f) == 0)
			unlink(dst);
		if (!exists(from, f))
			continue;
		if (path_join(src, sizeof(src), from, f) != 0 ||
		    path_join(dst, sizeof(dst), dir, f) != 0 ||
		    copy_file(src, dst, &bytes, err, sizeof(err)) != 0) {
			cli_error("restore: %s", err);
			undo(dir, created);
			return EXIT_REJECT;
		}
	}
	fsync_dir(dir);
	if ((rc = cli_open(dir, &n)) != 0) {
		undo(dir, created);
		return rc;
	}
	rc = store_restored(n.st, (uint64_t)time(NULL), &inc, &seq);
	if (rc == 0)
		rc = store_info(n.st, &info);
	cli_close(&n);
	if (rc != 0) {
		cli_error("restore: %s: %s", dir, err_str(rc));
		undo(dir, created);
		return EXIT_REJECT;
	}
	printf("restored %s (%s) from %s into %s (%llu bytes)\n",
	    info.node, info.role, from, dir, (unsigned long long)bytes);
	printf("new incarnation %llu: own entries go on from seq %s, never "
	    "reusing one made after the backup\n", (unsigned long long)inc,
	    cli_pos(POS_MAKE(inc, POS_LOW(seq) + 1), src, sizeof(src)));
	if (strcmp(info.role, STORE_ROLE_CENTRAL) == 0)
		printf("the backup holds central's own entries up to seq %s; "
		    "at their next sync the provinces send back what central "
		    "lost and they hold (its own entries included)\n",
		    cli_pos(seq, src, sizeof(src)));
	else
		printf("the backup holds this node's own entries up to seq %s; "
		    "at the next sync central sends back the later ones it "
		    "received\n", cli_pos(seq, src, sizeof(src)));
	printf("LOST: work done on this node after the backup that reached "
	    "no other node before the disk was lost\n");
	return EXIT_OK;
}

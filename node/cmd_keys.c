/*
 * cmd_keys.c - `casesync key`, `casesync trust`, `casesync revoke`:
 * node identities and enrolment.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "keyhist.h"
#include "net.h"

#include "../common/err.h"
#include "../common/util.h"

static const char key_usage[] =
"usage: casesync key -d DIR\n"
"       casesync key rotate -d DIR\n"
"\n"
"Prints this node's public key as one line (cs1-...): its Ed25519 signing\n"
"key and its CURVE transport key.  Give it to the other side's `trust`.\n"
"\n"
"`key rotate` (a province) makes a new key pair and signs the change over\n"
"to it with the current key.  The node goes on working: its entries from\n"
"now on are signed with the new key, and its next sync carries the\n"
"hand-over to central, which accepts it only under the current key and\n"
"tells other provinces through KEYS.  Older entries keep verifying under\n"
"the old key; a running `serve` takes the new key up by itself.  Prints\n"
"the new key.\n"
"Exit 0, 1 usage, 2 refused (central, or a rotation not yet synced).\n";

static const char trust_usage[] =
"usage: casesync trust -d DIR NODE_ID PUBKEY\n"
"\n"
"On central: enrols province NODE_ID with its public key (the line its\n"
"`casesync key` prints); it may sync from then on.  On a province: pins\n"
"central's key (NODE_ID is central's node id); the province refuses any\n"
"other server.  Re-trusting a revoked node enrols it again.  On central, a\n"
"new key for a node that had one is recorded as its next epoch: the old\n"
"key keeps verifying the node's entries before central's next position\n"
"of it, the new key signs from there (a routine change is `key rotate` on\n"
"the node, which needs no `trust`).  A key revoked from a seq cannot be\n"
"enrolled again.\n";

static const char revoke_usage[] =
"usage: casesync revoke -d DIR NODE_ID [--from-seq N | --from TIME]\n"
"\n"
"On central: refuses NODE_ID from its next connection on.  Its past\n"
"entries stay valid (their signatures still verify).\n"
"\n"
"With --from-seq N (a seq of NODE_ID, INC:N after a restore) or --from\n"
"TIME (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC: the first entry of\n"
"NODE_ID central holds stamped at or after it), the key NODE_ID signed\n"
"with at that point is compromised from there: its entries at or after\n"
"it are refused when they arrive, flagged REVOKED by `case history`,\n"
"reported by `verify` and refused by every province they are relayed to.\n"
"Earlier entries keep verifying.  If it is the node's current key, the\n"
"node is refused too; enrol its new key (`key rotate` on the node, then\n"
"`trust`) to let it go on.\n";

/* Parses -d; returns optind or -1. */
static int
dir_opt(int argc, char **argv, const char *usage, const char **dir)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*dir = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch != 'd') {
			fputs(usage, stderr);
			return -1;
		}
		*dir = optarg;
	}
	return optind;
}

/* `casesync key rotate` (see key_usage). */
static int
key_rotate(int argc, char **argv)
{
	struct node_ctx		 n;
	struct identity		 id;
	struct store_recovery	 rv;
	struct keyhist_epoch	 ep;
	const char		*dir;
	char			 line[PUBKEY_TEXT_LEN + 1], err[512], pb[32];
	uint8_t			 key[CRYPTO_KEY];
	uint64_t		 seq = 0;
	int			 i, rc, confirmed;

	if ((i = dir_opt(argc, argv, key_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (i != argc) {
		cli_error("key rotate: unexpected argument '%s'", argv[i]);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (strcmp(n.cfg.role, "central") == 0) {
		cli_error("key rotate: central's key is pinned by every "
		    "province; rotating it is not supported");
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (n.id.has_prev) {
		cli_error("key rotate: the previous rotation has not reached "
		    "central yet: run `casesync sync` first");
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (n.id.epoch == UINT32_MAX) {
		cli_error("key rotate: no epoch left");
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (store_vv_get(n.st, n.cfg.node, &seq) != 0 ||
	    store_recovery(n.st, &rv) != 0) {
		cli_error("key rotate: cannot read this node's position");
		cli_close(&n);
		return EXIT_REJECT;
	}
	/* The new key signs every own position after the last one written:
	 * after a restore, the next ones are in the new incarnation. */
	memset(&id, 0, sizeof(id));
	id.epoch = n.id.epoch + 1;
	id.ho_from = rv.inc > POS_INC(seq) ? POS_MAKE(rv.inc,
	    POS_LOW(seq) + 1) : seq + 1;
	memcpy(id.prev.sign_pub, n.id.sign_pub, 32);
	memcpy(id.prev.sign_sec, n.id.sign_sec, 32);
	memcpy(id.prev.curve_pub, n.id.curve_pub, 32);
	memcpy(id.prev.curve_sec, n.id.curve_sec, 32);
	id.has_prev = 1;
	if (crypto_sign_keypair(id.sign_pub, id.sign_sec) != 0 ||
	    net_curve_keypair(id.curve_pub, id.curve_sec) != 0 ||
	    keyhist_handover_sign(n.id.sign_sec, n.cfg.node, id.ho_from,
	    n.id.sign_pub, id.sign_pub, id.curve_pub, id.ho_sig) != 0) {
		cli_error("key rotate: cannot make keys");
		identity_wipe(&id);
		cli_close(&n);
		return EXIT_REJECT;
	}
	/* The keys first: the store's records are remade from them at the
	 * next open if this is cut before they are written (cli.c). */
	if ((rc = datakey_load(dir, cli_passphrase(), key, err,
	    sizeof(err))) != 0 || (rc = identity_save(dir, key, &id, err,
	    sizeof(err))) != 0) {
		crypto_wipe(key, sizeof(key));
		cli_error("key rotate: %s", err);
		identity_wipe(&id);
		cli_close(&n);
		return EXIT_REJECT;
	}
	crypto_wipe(key, sizeof(key));
	rc = keyhist_own_sync(n.st, n.cfg.node, &id, &confirmed);
	if (rc == 0 && keyhist_at(n.st, n.cfg.node, id.ho_from, &ep, NULL) !=
	    0)
		rc = E_STORE;
	identity_pubkey_text(&id, line);
	printf("rotated the key of %s to epoch %u: its entries from seq %s "
	    "on are signed with the new key; the next sync hands it over to "
	    "central\n%s\n", n.cfg.node, id.epoch, cli_pos(id.ho_from, pb,
	    sizeof(pb)), line);
	if (rc != 0)
		fprintf(stderr, "casesync: warning: the key history is written "
		    "at the next start\n");
	identity_wipe(&id);
	cli_close(&n);
	return EXIT_OK;
}

int
cmd_key(int argc, char **argv)
{
	struct node_ctx	 n;
	const char	*dir;
	char		 line[PUBKEY_TEXT_LEN + 1];
	int		 i, rc;

	if (cli_help(argc, argv, key_usage))
		return EXIT_OK;
	/* `key rotate`, with -d before or after the sub-verb. */
	for (i = 1; i < argc && i < 8; i++) {
		char	*av[8];
		int	 ac = 0;

		if (strcmp(argv[i], "rotate") != 0)
			continue;
		for (int j = 0; j < argc && ac < 8; j++)
			if (j != i)
				av[ac++] = argv[j];
		if (argc > 8) {
			cli_error("key rotate: too many arguments");
			return EXIT_USAGE;
		}
		return key_rotate(ac, av);
	}
	if ((i = dir_opt(argc, argv, key_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (i != argc) {
		cli_error("key: unexpected argument '%s'", argv[i]);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	identity_pubkey_text(&n.id, line);
	printf("%s\n", line);
	cli_close(&n);
	return EXIT_OK;
}

struct one_active {
	char		 node[HLC_NODE_MAX + 1];	/* the first found */
	int		 n;		/* active keys */
	const char	*want;
	int		 has_want;	/* want is among them */
};

static int
find_active(const struct node_key *nk, void *arg)
{
	struct one_active *a = arg;

	if (nk->status == KEY_ACTIVE) {
		if (a->n++ == 0)
			strlcpy_(a->node, nk->node, sizeof(a->node));
		if (a->want != NULL && strcmp(a->want, nk->node) == 0)
			a->has_want = 1;
	}
	return 0;
}

/*
 * Central, enrolling a new key for a node that had one: the old key keeps
 * the positions before central's next one of the node, the new key signs
 * from there (keyhist.h).  A key revoked from a position cannot come back.
 * Returns 0 or an exit code, with the error printed.
 */
static int
trust_history(struct node_ctx *n, const struct node_key *old,
    const struct node_key *nk)
{
	struct keyhist_epoch	eps[KEYHIST_MAX], ep;
	uint64_t		have = 0;
	size_t			k = 0;
	int			rc;

	if ((rc = keyhist_list(n->st, nk->node, eps, KEYHIST_MAX, &k)) !=
	    0) {
		cli_error("trust: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	for (size_t j = 0; j < k; j++)
		if (eps[j].revoked_from != 0 &&
		    memcmp(eps[j].sign_pub, nk->sign_pub, 32) == 0) {
			cli_error("trust: this key of %s was revoked from seq "
			    "%llu; enrol a new key (`casesync key rotate` on "
			    "the node)", nk->node,
			    (unsigned long long)eps[j].revoked_from);
			return EXIT_REJECT;
		}
	if (memcmp(old->sign_pub, nk->sign_pub, 32) == 0 &&
	    memcmp(old->curve_pub, nk->curve_pub, 32) == 0)
		return 0;	/* the same key enrolled again */
	if (k + (k == 0) >= KEYHIST_MAX) {
		cli_error("trust: %s has had too many keys", nk->node);
		return EXIT_REJECT;
	}
	store_vv_get(n->st, nk->node, &have);
	if (k == 0) {
		memset(&eps[0], 0, sizeof(eps[0]));
		strlcpy_(eps[0].node, nk->node, sizeof(eps[0].node));
		eps[0].how = KH_ENROLLED;
		eps[0].from = 1;
		memcpy(eps[0].sign_pub, old->sign_pub, 32);
		memcpy(eps[0].curve_pub, old->curve_pub, 32);
		if ((rc = keyhist_put(n->st, &eps[0])) != 0) {
			cli_error("trust: %s", err_str(rc));
			return cli_exit_for(rc);
		}
		k = 1;
	}
	memset(&ep, 0, sizeof(ep));
	strlcpy_(ep.node, nk->node, sizeof(ep.node));
	ep.epoch = eps[k - 1].epoch + 1;
	ep.how = KH_ENROLLED;
	ep.from = have + 1 > eps[k - 1].from ? have + 1 : eps[k - 1].from;
	memcpy(ep.sign_pub, nk->sign_pub, 32);
	memcpy(ep.curve_pub, nk->curve_pub, 32);
	if ((rc = keyhist_put(n->st, &ep)) != 0) {
		cli_error("trust: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	return 0;
}

int
cmd_trust(int argc, char **argv)
{
	struct node_ctx		 n;
	struct node_key		 nk, old;
	struct one_active	 a = { "", 0, NULL, 0 };
	const char		*dir;
	int			 i, rc;

	if (cli_help(argc, argv, trust_usage))
		return EXIT_OK;
	if ((i = dir_opt(argc, argv, trust_usage, &dir)) < 0)
		return EXIT_USAGE;
	if (argc - i != 2) {
		cli_error("trust: give NODE_ID and PUBKEY");
		return EXIT_USAGE;
	}
	memset(&nk, 0, sizeof(nk));
	if (!node_id_valid(argv[i])) {
		cli_error("trust: '%s' is not a node id", argv[i]);
		return EXIT_USAGE;
	}
	if (pubkey_parse(argv[i + 1], nk.sign_pub, nk.curve_pub) != 0) {
		cli_error("trust: the key is not a `casesync key` line "
		    "(cs1- and 128 hex digits)");
		return EXIT_REJECT;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (strcmp(argv[i], n.cfg.node) == 0) {
		cli_error("trust: %s is this node", argv[i]);
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (strcmp(n.cfg.role, "province") == 0) {
		char	eps[NODECFG_CENTRALS_MAX][NODECFG_ENDPOINT_MAX];
		int	neps = nodecfg_centrals(n.cfg.central, eps, NULL);

		a.want = argv[i];
		store_key_each(n.st, find_active, &a);
		/* One key per central endpoint (a central and its standby,
		 * docs/HA.md). */
		if (!a.has_want && a.n >= (neps > 1 ? neps : 1)) {
			cli_error("trust: this province already pins central "
			    "%s; a province pins one key per endpoint of "
			    "`central` (%d)", a.node, neps > 1 ? neps : 1);
			cli_close(&n);
			return EXIT_REJECT;
		}
	}
	strlcpy_(nk.node, argv[i], sizeof(nk.node));
	nk.status = KEY_ACTIVE;
	nk.since_ms = now_ms();
	if (strcmp(n.cfg.role, "central") == 0 &&
	    store_key_get(n.st, nk.node, &old) == 0 &&
	    old.status != KEY_KNOWN &&
	    (rc = trust_history(&n, &old, &nk)) != 0) {
		cli_close(&n);
		return rc;
	}
	if (store_key_get(n.st, nk.node, &old) == 0 && old.status ==
	    KEY_ACTIVE && memcmp(old.sign_pub, nk.sign_pub, 32) != 0)
		fprintf(stderr, "casesync: trust: replacing the key of %s\n",
		    nk.node);
	rc = store_key_put(n.st, &nk);
	cli_close(&n);
	if (rc != 0) {
		cli_error("trust: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	printf("%s %s\n", strcmp(n.cfg.role, "central") == 0 ? "enrolled" :
	    "pinned central", nk.node);
	return EXIT_OK;
}

/* Parses "N" or "INC:N" (cli_pos).  Returns 0 or E_INVAL. */
static int
pos_parse(const char *s, uint64_t *pos)
{
	unsigned long long	a, b;
	int			used = 0;

	if (sscanf(s, "%llu:%llu%n", &a, &b, &used) == 2 &&
	    s[used] == '\0' && a > 0 && a <= UINT32_MAX && b <= UINT32_MAX &&
	    b > 0) {
		*pos = POS_MAKE(a, b);
		return 0;
	}
	if (sscanf(s, "%llu%n", &a, &used) == 1 && s[used] == '\0' &&
	    a > 0 && s[0] != '-' && s[0] != '+') {
		*pos = a;
		return 0;
	}
	return E_INVAL;
}

/* Parses YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC) into ms since 1970. */
static int
time_parse(const char *s, uint64_t *ms)
{
	struct tm	 tm;
	const char	*e;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	if ((e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL || *e) {
		memset(&tm, 0, sizeof(tm));
		if ((e = strptime(s, "%Y-%m-%d", &tm)) == NULL || *e)
			return E_INVAL;
	}
	if ((t = timegm(&tm)) < 0)
		return E_INVAL;
	*ms = (uint64_t)t * 1000;
	return 0;
}

/* The first entry of node central holds stamped at or after ms; *pos gets
 * its seq, or the node's next position when there is none. */
static int
first_at_or_after(struct store *st, const char *node, uint64_t ms,
    uint64_t *pos)
{
	uint64_t	after = 0, have = 0;
	int		rc;

	for (;;) {
		struct rec_batch b;

		if ((rc = store_scan_origin(st, node, after, STORE_BATCH_BYTES,
		    &b)) != 0)
			return rc;
		for (size_t i = 0; i < b.n; i++) {
			const uint8_t	*ent, *sig;
			size_t		 entlen, siglen;
			struct entry	 e;

			if (record_decode(b.recs[i].data, b.recs[i].len, &ent,
			    &entlen, &sig, &siglen) != 0 ||
			    entry_decode(ent, entlen, &e) != 0)
				continue;
			if (HLC_MS(e.hlc) >= ms) {
				*pos = e.seq;
				entry_release(&e);
				rec_batch_free(&b);
				return 0;
			}
			entry_release(&e);
		}
		if (b.n == 0) {
			rec_batch_free(&b);
			break;
		}
		after = b.recs[b.n - 1].pos;
		rec_batch_free(&b);
	}
	store_vv_get(st, node, &have);
	*pos = have + 1;
	return 0;
}

int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "from-seq", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct node_ctx		 n;
	struct node_key		 nk;
	struct keyhist_epoch	 eps[KEYHIST_MAX], ep;
	const char		*dir = NULL, *fseq = NULL, *ftime = NULL;
	uint64_t		 from = 0, ms = 0, until;
	size_t			 k = 0;
	char			 pb[32];
	int			 ch, i, rc;

	if (cli_help(argc, argv, revoke_usage))
		return EXIT_OK;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 's': fseq = optarg; break;
		case 't': ftime = optarg; break;
		default:
			fputs(revoke_usage, stderr);
			return EXIT_USAGE;
		}
	}
	i = optind;
	if (argc - i != 1) {
		cli_error("revoke: give NODE_ID");
		return EXIT_USAGE;
	}
	if (fseq != NULL && ftime != NULL) {
		cli_error("revoke: give --from-seq or --from, not both");
		return EXIT_USAGE;
	}
	if (fseq != NULL && pos_parse(fseq, &from) != 0) {
		cli_error("revoke: --from-seq '%s' is not a seq (N, or INC:N "
		    "after a restore)", fseq);
		return EXIT_USAGE;
	}
	if (ftime != NULL && time_parse(ftime, &ms) != 0) {
		cli_error("revoke: --from '%s' is not YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM:SSZ", ftime);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(dir, &n)) != 0)
		return rc;
	if (store_key_get(n.st, argv[i], &nk) != 0 || nk.status == KEY_KNOWN) {
		cli_error("revoke: %s is not enrolled", argv[i]);
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (fseq == NULL && ftime == NULL) {
		nk.status = KEY_REVOKED;
		nk.since_ms = now_ms();
		rc = store_key_put(n.st, &nk);
		cli_close(&n);
		if (rc != 0) {
			cli_error("revoke: %s", err_str(rc));
			return cli_exit_for(rc);
		}
		printf("revoked %s\n", argv[i]);
		return EXIT_OK;
	}
	if (strcmp(n.cfg.role, "central") != 0) {
		cli_error("revoke: --from-seq and --from run on central");
		cli_close(&n);
		return EXIT_REJECT;
	}
	if (ftime != NULL && (rc = first_at_or_after(n.st, nk.node, ms,
	    &from)) != 0) {
		cli_error("revoke: %s", err_str(rc));
		cli_close(&n);
		return cli_exit_for(rc);
	}
	/* The key the node had before any record was kept becomes epoch 0. */
	if ((rc = keyhist_list(n.st, nk.node, eps, KEYHIST_MAX, &k)) == 0 &&
	    k == 0) {
		memset(&ep, 0, sizeof(ep));
		strlcpy_(ep.node, nk.node, sizeof(ep.node));
		ep.how = KH_ENROLLED;
		ep.from = 1;
		memcpy(ep.sign_pub, nk.sign_pub, 32);
		memcpy(ep.curve_pub, nk.curve_pub, 32);
		rc = keyhist_put(n.st, &ep);
	}
	if (rc == 0)
		rc = keyhist_at(n.st, nk.node, from, &ep, &until);
	if (rc == 0 && (ep.revoked_from == 0 || from < ep.revoked_from)) {
		ep.revoked_from = from;
		rc = keyhist_put(n.st, &ep);
	}
	/* The node's current key: it is refused from its next connection
	 * too. */
	if (rc == 0 && until == UINT64_MAX) {
		nk.status = KEY_REVOKED;
		nk.since_ms = now_ms();
		rc = store_key_put(n.st, &nk);
	}
	cli_close(&n);
	if (rc != 0) {
		cli_error("revoke: %s", err_str(rc));
		return cli_exit_for(rc);
	}
	printf("revoked the key of %s (epoch %u) from seq %s: its entries "
	    "from there are refused and flagged%s\n", nk.node, ep.epoch,
	    cli_pos(ep.revoked_from, pb, sizeof(pb)), until == UINT64_MAX ?
	    "; the node is refused until a new key is enrolled" : "");
	return EXIT_OK;
}

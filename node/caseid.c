/*
 * caseid.c - case ids and the internal ids the case tables are keyed by.
 *
 * A case id is a UUID made by whichever node created the case, so the ids
 * a node receives come in any order (historic data migrated in bulk comes
 * shuffled).  Keyed by it, every new case was a random insert into each
 * case table, and a commit of 1,000 cases rewrote about 1,000 random pages
 * of each.  Instead, the first time a node sees a case it gives it the
 * next internal id (iid, 1, 2, ...), and the case tables (states, clog,
 * namemacs, namepost) are keyed by that: a new case's rows go at the end.
 * Only caseids, uuid(16) -> be64(iid), takes a random insert, of 32 bytes
 * (docs/PERFORMANCE.md, "The key layout").  An iid is this node's own:
 * it never leaves the store, and two nodes give the same case different
 * iids.  It is never reused: a case whose row goes (keep_transferred = no)
 * keeps its iid and its log entries under it.
 */
#include "store_int.h"

#include <string.h>

#include "../common/err.h"
#include "../common/log.h"

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

void
uuid_pack(const char *id, uint8_t out[UUID_BIN])
{
	size_t n = 0;

	for (size_t i = 0; i < ENTRY_CASE_ID_LEN && n < UUID_BIN; i++) {
		if (id[i] == '-')
			continue;
		out[n++] = (uint8_t)(hexval(id[i]) << 4 | hexval(id[i + 1]));
		i++;
	}
}

void
uuid_unpack(const uint8_t in[UUID_BIN], char id[ENTRY_CASE_ID_LEN + 1])
{
	static const char	hex[] = "0123456789abcdef";
	size_t			n = 0;

	for (size_t i = 0; i < UUID_BIN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			id[n++] = '-';
		id[n++] = hex[in[i] >> 4];
		id[n++] = hex[in[i] & 15];
	}
	id[n] = '\0';
}

int
caseid_get(struct store *st, MDB_txn *t, const char *id, uint64_t *iid)
{
	uint8_t	u[UUID_BIN];
	MDB_val	k = { sizeof(u), u }, d;
	int	rc;

	*iid = 0;
	if (strlen(id) != ENTRY_CASE_ID_LEN)
		return E_NOTFOUND;
	uuid_pack(id, u);
	if ((rc = mdb_get(t, st->caseids, &k, &d)) != 0)
		return mdb_err(st, rc, "get caseid");
	if (d.mv_size != IID_LEN)
		return E_INTEGRITY;
	*iid = be64_get(d.mv_data);
	return 0;
}

int
caseid_make(struct store *st, MDB_txn *t, const char *id, uint64_t *iid)
{
	int made;

	return caseid_make_new(st, t, id, iid, &made);
}

int
caseid_make_new(struct store *st, MDB_txn *t, const char *id, uint64_t *iid,
    int *made)
{
	uint8_t	u[UUID_BIN], b[IID_LEN];
	MDB_val	k = { sizeof(u), u }, d = { sizeof(b), b };
	int	rc;

	*made = 0;
	if ((rc = caseid_get(st, t, id, iid)) != E_NOTFOUND)
		return rc;
	if (strlen(id) != ENTRY_CASE_ID_LEN)
		return E_INVAL;
	if ((rc = get_u64(st, t, st->meta, "iid", iid)) != 0)
		return rc;
	(*iid)++;
	uuid_pack(id, u);
	be64_put(b, *iid);
	if ((rc = mdb_err(st, mdb_put(t, st->caseids, &k, &d,
	    MDB_NOOVERWRITE), "put caseid")) != 0)
		return rc == E_NOTFOUND ? E_STORE : rc;
	if ((rc = put_u64(st, t, st->meta, "iid", *iid)) == 0)
		*made = 1;
	return rc;
}

size_t
clog_key(uint8_t *ck, uint64_t iid, const uint8_t *lk, size_t lklen)
{
	be64_put(ck, iid);
	memcpy(ck + IID_LEN, lk, lklen);
	return IID_LEN + lklen;
}

int
put_append(struct store *st, MDB_txn *t, MDB_dbi db, MDB_val *k, MDB_val *d,
    const char *what)
{
	int rc = mdb_put(t, db, k, d, MDB_APPEND);

	/* Not past the last key: refused before anything changed. */
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(t, db, k, d, 0);
	rc = mdb_err(st, rc, what);
	return rc == E_NOTFOUND ? E_STORE : rc;
}

#ifdef SELFTEST
#include "../common/selftest.h"

struct make_ctx {
	const char	*ids[3];
	uint64_t	 iids[4];
};

static int
make_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct make_ctx	*mc = arg;
	int		 rc;

	for (int i = 0; i < 3; i++)
		if ((rc = caseid_make(st, t, mc->ids[i], &mc->iids[i])) != 0)
			return rc;
	/* Seen again: the same iid, nothing new given. */
	return caseid_make(st, t, mc->ids[0], &mc->iids[3]);
}

int
caseid_selftest(void)
{
	char		 dir[] = "/tmp/casesync-caseid-XXXXXX";
	char		 back[ENTRY_CASE_ID_LEN + 1];
	uint8_t		 u[UUID_BIN], ck[CASEKEY_MAX];
	struct store	*st;
	struct make_ctx	 mc = { { "ffa2276e-8c28-78e1-8721-c642e7eb1b40",
			    "01a2276e-8c28-78e1-8721-c642e7eb1b41",
			    "80000000-0000-7000-8000-00000000beef" }, { 0 } };
	MDB_txn		*t;
	uint64_t	 iid;

	/* Packing keeps the order of the text and comes back the same. */
	uuid_pack(mc.ids[0], u);
	ST_CHECK(u[0] == 0xff && u[15] == 0x40 && u[6] == 0x78);
	uuid_unpack(u, back);
	ST_CHECK(strcmp(back, mc.ids[0]) == 0);
	ST_CHECK(clog_key(ck, 258, (const uint8_t *)"a\0", 2) == 10);
	ST_CHECK(ck[6] == 1 && ck[7] == 2 && ck[8] == 'a' && ck[9] == 0);
	ST_OK(store_test_open(dir, "ha-noi", STORE_ROLE_PROVINCE, NULL, &st));
	/* Internal ids go up in the order cases are first seen, whatever
	 * order their ids sort in. */
	ST_OK(txn_run(st, make_fn, &mc));
	ST_CHECK(mc.iids[0] == 1 && mc.iids[1] == 2 && mc.iids[2] == 3);
	ST_CHECK(mc.iids[3] == 1);
	ST_OK(txn_begin(st, MDB_RDONLY, &t));
	ST_OK(caseid_get(st, t, mc.ids[2], &iid));
	ST_CHECK(iid == 3);
	ST_CHECK(caseid_get(st, t, "01a2276e-8c28-78e1-8721-c642e7eb1b42",
	    &iid) == E_NOTFOUND && iid == 0);
	ST_CHECK(caseid_get(st, t, "short", &iid) == E_NOTFOUND);
	mdb_txn_abort(t);
	/* Given once: a second transaction goes on from the last. */
	mc.ids[0] = "01a2276e-8c28-78e1-8721-c642e7eb1b42";
	ST_OK(txn_run(st, make_fn, &mc));
	ST_CHECK(mc.iids[0] == 4 && mc.iids[1] == 2 && mc.iids[3] == 4);
	store_test_close(&st, dir);
	return 0;
}
#endif

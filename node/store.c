/*
 * store.c - the LMDB environment of the store, its transactions, the table
 * iterator and the small tables: meta, peers, keys, vv, quota use and the
 * recovery marks.  See store.h for the contract and store_int.h for how
 * the store's files share the work.
 */
#include "store_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <limits.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

#define MAP_INITIAL	(64ULL << 20)
#define MAP_LIMIT	(1ULL << 40)
#define TXN_RETRIES	16

/* What a peer record looks like on disk: fixed size, checked on read. */
struct peer_disk {
	uint32_t	version;
	uint32_t	pad;
	struct peer_info info;
};

/*
 * Is the filesystem of the store (nearly) out of space?  LMDB turns a short
 * write into EIO, and on a full disk a commit's page writes are short.
 */
static int
disk_full(struct store *st)
{
	const char	*path;
	struct statvfs	 sv;

	if (mdb_env_get_path(st->env, &path) != 0 || statvfs(path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize < (1ULL << 20);
}

/* Translates an LMDB code, logging the foreign detail once, here. */
int
mdb_err(struct store *st, int rc, const char *what)
{
	if (rc == EIO && disk_full(st))
		rc = ENOSPC;
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return E_NOTFOUND;
	case MDB_MAP_FULL:
		st->mapfull = 1;
		return E_STORE;
	case ENOSPC:
	case EDQUOT:
		log_warnx("store: %s: disk full", what);
		return E_FULL;
	default:
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
		return E_STORE;
	}
}

void
be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* name \0 be64(n) into k; returns the key length. */
size_t
seqkey(uint8_t *k, const char *name, uint64_t n)
{
	size_t l = strlen(name);
	memcpy(k, name, l);
	k[l] = 0;
	be64_put(k + l + 1, n);
	return l + 9;
}

int
get_u64(struct store *st, MDB_txn *t, MDB_dbi db, const char *key,
    uint64_t *v)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, db, &k, &d);

	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get");
	if (d.mv_size != 8)
		return E_INTEGRITY;
	*v = be64_get(d.mv_data);
	return 0;
}

int
put_u64(struct store *st, MDB_txn *t, MDB_dbi db, const char *key,
    uint64_t v)
{
	uint8_t	b[8];
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d = { 8, b };

	be64_put(b, v);
	return mdb_err(st, mdb_put(t, db, &k, &d, 0), "put");
}

static int
get_str(struct store *st, MDB_txn *t, const char *key, char *out, size_t sz)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, st->meta, &k, &d);

	if (rc != 0)
		return mdb_err(st, rc, "get meta");
	if (d.mv_size >= sz)
		return E_INTEGRITY;
	memcpy(out, d.mv_data, d.mv_size);
	out[d.mv_size] = '\0';
	return 0;
}

int
store_open(const char *dir, struct store **out, char *err, size_t errsz)
{
	struct store	*st;
	struct stat	 sb;
	MDB_txn		*t;
	int		 rc;

	*out = NULL;
	if (stat(dir, &sb) != 0) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return E_IO;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errsz, "%s: not a directory", dir);
		return E_IO;
	}
	st = xcalloc(1, sizeof(*st));
	st->skew_ms = 5 * 60 * 1000;
	if ((rc = mdb_env_create(&st->env)) != 0)
		goto fail;
	mdb_env_set_maxdbs(st->env, 32);
	mdb_env_set_mapsize(st->env, MAP_INITIAL);
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail;
	/* The map may have been grown by another process already. */
	mdb_env_set_mapsize(st->env, 0);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &t)) != 0)
		goto fail;
#define OPEN_DB(f, n, fl) do {						\
	if ((rc = mdb_dbi_open(t, n, MDB_CREATE | (fl), &st->f)) != 0) {	\
		mdb_txn_abort(t);					\
		goto fail;						\
	}								\
} while (0)
	OPEN_DB(meta, "meta", 0);
	OPEN_DB(log, "log", 0);
	OPEN_DB(caseids, "caseids", 0);
	OPEN_DB(clog, "clog", 0);
	OPEN_DB(states, "states", 0);
	OPEN_DB(vv, "vv", 0);
	OPEN_DB(feed, "feed", 0);
	OPEN_DB(peers, "peers", 0);
	OPEN_DB(refused, "refused", 0);
	OPEN_DB(keys, "keys", 0);
	OPEN_DB(namepost, "namepost", 0);
	OPEN_DB(namemacs, "namemacs", 0);
	OPEN_DB(conflicted, "conflicted", 0);
	OPEN_DB(offers, "offers", 0);
	OPEN_DB(authors, "authors", 0);
	OPEN_DB(keyhist, "keyhist", 0);
#undef OPEN_DB
	get_str(st, t, "node", st->node, sizeof(st->node));
	get_str(st, t, "role", st->role, sizeof(st->role));
	if ((rc = mdb_txn_commit(t)) != 0)
		goto fail;
	/* A store of an older layout is migrated here, once (migrate.c). */
	if ((rc = store_migrate(st, err, errsz)) != 0) {
		mdb_env_close(st->env);
		free(st);
		return rc;
	}
	*out = st;
	return 0;
fail:
	snprintf(err, errsz, "%s: cannot open store: %s", dir,
	    rc == EACCES ? "permission denied" :
	    rc == ENOSPC ? "disk full" : mdb_strerror(rc));
	if (st->env)
		mdb_env_close(st->env);
	free(st);
	return rc == ENOSPC ? E_FULL : (rc == EACCES ? E_IO : E_STORE);
}

void
store_close(struct store **stp)
{
	if (*stp == NULL)
		return;
	crypto_wipe((*stp)->datakey, sizeof((*stp)->datakey));
	crypto_wipe((*stp)->authorkey, sizeof((*stp)->authorkey));
	crypto_wipe((*stp)->sign_sec, sizeof((*stp)->sign_sec));
	crypto_wipe((*stp)->namekey, sizeof((*stp)->namekey));
	seal_forget(*stp);
	crypto_aead_free(&(*stp)->aead);
	crypto_mac_free(&(*stp)->authormac);
	crypto_mac_free(&(*stp)->namemac);
	names_free(*stp);
	buf_release(&(*stp)->rowbuf);
	mdb_env_close((*stp)->env);
	free(*stp);
	*stp = NULL;
}

/* The window of the map store_warm() asks mincore() about at once. */
#define WARM_WINDOW	(64ULL << 20)

/*
 * Where LMDB mapped data.mdb in this process: LMDB tells the address only
 * with MDB_FIXEDMAP, so it is the mapping of the file's device and inode
 * in /proc/self/maps.  0 when not found.
 */
static int
map_find(struct store *st, uint8_t **addr, size_t *len)
{
	struct stat	 sb;
	mdb_filehandle_t fd;
	FILE		*f;
	char		 line[512];
	int		 found = 0;

	if (mdb_env_get_fd(st->env, &fd) != 0 || fstat(fd, &sb) != 0 ||
	    (f = fopen("/proc/self/maps", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		unsigned long long	lo, hi, off, ino;
		unsigned int		maj, mnr;
		char			perm[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi,
		    perm, &off, &maj, &mnr, &ino) == 7 && off == 0 &&
		    ino == (unsigned long long)sb.st_ino &&
		    makedev(maj, mnr) == sb.st_dev) {
			*addr = (uint8_t *)(uintptr_t)lo;
			*len = (size_t)(hi - lo);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/*
 * The heap a write transaction's dirty pages come from.  LMDB mallocs each
 * dirty page (4 KiB) and keeps it for reuse after the commit, so a node
 * process that has applied a group once does not touch new memory again;
 * one that has just started touches about 1,600 new heap pages in its
 * first 500-update group at 100,000 cases.  In the VMs we run on the
 * first touch of an anonymous page costs 25-40 us even after the kernel
 * has mapped it (the hypervisor's own page tables), but nothing inside a
 * transparent huge page that was populated as one.  So WARM_HEAP of heap
 * is taken at start, advised as huge pages, populated, and given back to
 * malloc, which keeps it: glibc retains M_TOP_PAD at the top of the heap
 * when it trims.  The chunk comes from the heap only below the mmap
 * threshold, and setting M_TOP_PAD ends glibc's moving threshold, so the
 * threshold is raised for that one malloc and then set to WARM_MMAP,
 * about where the moving one would settle once a message buffer
 * (MSG_MAX_BYTES, 4 MiB) has been freed: buffers up to that size come
 * from the heap and are reused, as in a node process that has run a
 * while.
 */
#define WARM_HEAP	(16ULL << 20)
#define WARM_MMAP	(8ULL << 20)
#define HUGE_PAGE	(2ULL << 20)

static uint64_t
warm_heap(void)
{
	uintptr_t	 lo, hi;
	void		*p;

	if (mallopt(M_TOP_PAD, (int)WARM_HEAP) == 0 ||
	    mallopt(M_MMAP_THRESHOLD, (int)(WARM_HEAP * 2)) == 0)
		return 0;
	p = malloc(WARM_HEAP);
	mallopt(M_MMAP_THRESHOLD, (int)WARM_MMAP);
	if (p == NULL)
		return 0;
	lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	hi = ((uintptr_t)p + WARM_HEAP) & ~(uintptr_t)(HUGE_PAGE - 1);
	/* Page tables only: the memory is not written.  Without THP
	 * (madvise refused) the populate still saves the kernel's faults. */
	if (hi > lo) {
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
		if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) != 0)
			hi = lo;
	}
	free(p);
	return (hi - lo) / (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t
store_warm(struct store *st)
{
	MDB_envinfo	 ei;
	MDB_stat	 es;
	unsigned char	*vec;
	uint8_t		*base;
	size_t		 len, maplen, ps = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t	 mapped = 0;

	mapped = warm_heap();
	if (mdb_env_info(st->env, &ei) != 0 ||
	    mdb_env_stat(st->env, &es) != 0 || !map_find(st, &base, &maplen))
		return mapped;
	/* The used part of the map: pages 0 .. me_last_pgno. */
	len = (size_t)(ei.me_last_pgno + 1) * es.ms_psize;
	if (len > maplen)
		len = maplen;
	vec = xmalloc(WARM_WINDOW / ps);
	for (size_t off = 0; off < len; off += WARM_WINDOW) {
		size_t	n = len - off < WARM_WINDOW ? len - off : WARM_WINDOW;
		size_t	np = (n + ps - 1) / ps, i = 0;

		if (mincore(base + off, n, vec) != 0)
			break;
		while (i < np) {
			size_t	j;

			if (!(vec[i] & 1)) {
				i++;
				continue;
			}
			for (j = i; j < np && (vec[j] & 1); j++)
				;
			/* EINVAL: a kernel without MADV_POPULATE_READ. */
			if (madvise(base + off + i * ps, (j - i) * ps,
			    MADV_POPULATE_READ) != 0) {
				free(vec);
				return mapped;
			}
			mapped += j - i;
			i = j;
		}
	}
	free(vec);
	return mapped;
}

void
store_set_clock(struct store *st, uint64_t skew_ms, int64_t offset_ms)
{
	st->skew_ms = skew_ms;
	st->offset_ms = offset_ms;
}

void
store_set_quota(struct store *st, const struct quota *q)
{
	st->quota = *q;
}

/* The quota record of a peer in meta: "quota:NODE" -> be64 day, entries,
 * bytes, cases, referrals. */
int
quota_read(struct store *st, MDB_txn *t, const char *peer, uint64_t *day,
    struct quota *u)
{
	char	key[HLC_NODE_MAX + 8];
	MDB_val	k, d;
	int	rc;

	snprintf(key, sizeof(key), "quota:%s", peer);
	k.mv_data = key;
	k.mv_size = strlen(key);
	*day = 0;
	memset(u, 0, sizeof(*u));
	if ((rc = mdb_get(t, st->meta, &k, &d)) == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get quota");
	if (d.mv_size != 40)
		return E_INTEGRITY;
	*day = be64_get(d.mv_data);
	u->entries = be64_get((const uint8_t *)d.mv_data + 8);
	u->bytes = be64_get((const uint8_t *)d.mv_data + 16);
	u->cases = be64_get((const uint8_t *)d.mv_data + 24);
	u->referrals = be64_get((const uint8_t *)d.mv_data + 32);
	return 0;
}

int
quota_write(struct store *st, MDB_txn *t, const char *peer, uint64_t day,
    const struct quota *u)
{
	char	key[HLC_NODE_MAX + 8];
	uint8_t	v[40];
	MDB_val	k, d;

	snprintf(key, sizeof(key), "quota:%s", peer);
	be64_put(v, day);
	be64_put(v + 8, u->entries);
	be64_put(v + 16, u->bytes);
	be64_put(v + 24, u->cases);
	be64_put(v + 32, u->referrals);
	k.mv_data = key;
	k.mv_size = strlen(key);
	d.mv_data = v;
	d.mv_size = sizeof(v);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "put quota");
}

int
store_quota_get(struct store *st, const char *peer, uint64_t *day,
    struct quota *used)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = quota_read(st, t, peer, day, used);
	mdb_txn_abort(t);
	return rc;
}

void
store_set_keep_transferred(struct store *st, int keep)
{
	st->drop_transferred = !keep;
}

uint64_t
wall(const struct store *st)
{
	return (uint64_t)((int64_t)now_ms() + st->offset_ms);
}

/* Begins a transaction, picking up a map grown by another process. */
int
txn_begin(struct store *st, unsigned flags, MDB_txn **t)
{
	int rc = mdb_txn_begin(st->env, NULL, flags, t);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(st->env, 0);
		rc = mdb_txn_begin(st->env, NULL, flags, t);
	}
	return mdb_err(st, rc, "begin");
}

static int
grow_map(struct store *st)
{
	MDB_envinfo	ei;
	uint64_t	ns;
	int		rc;

	mdb_env_info(st->env, &ei);
	ns = (uint64_t)ei.me_mapsize * 2;
	if (ns > MAP_LIMIT)
		return E_FULL;
	log_info("store: growing map to %llu MiB", (unsigned long long)(ns >>
	    20));
	if ((rc = mdb_env_set_mapsize(st->env, ns)) != 0) {
		log_warnx("store: cannot grow the map: %s", mdb_strerror(rc));
		return E_STORE;
	}
	return 0;
}

/*
 * Runs fn inside one write transaction and commits.  fn must be safe to
 * run again: when the map is full the transaction is aborted, the map
 * doubled and fn run afresh.
 */
int
txn_run(struct store *st, int (*fn)(struct store *, MDB_txn *, void *),
    void *arg)
{
	for (int attempt = 0; attempt < TXN_RETRIES; attempt++) {
		MDB_txn	*t;
		int	 rc;

		st->mapfull = 0;
		if ((rc = txn_begin(st, 0, &t)) != 0)
			return rc;
		rc = fn(st, t, arg);
		if (rc != 0) {
			mdb_txn_abort(t);
		} else {
			rc = mdb_err(st, mdb_txn_commit(t), "commit");
		}
		if (rc == 0)
			return 0;
		if (!st->mapfull)
			return rc;
		if ((rc = grow_map(st)) != 0)
			return rc;
	}
	return E_FULL;
}

int
table_each(struct store *st, MDB_txn *t, MDB_dbi db, const void *from,
    size_t fromlen, int (*fn)(const MDB_val *, const MDB_val *, void *),
    void *arg)
{
	MDB_txn		*own = NULL;
	MDB_cursor	*c;
	MDB_val		 k = { fromlen, (void *)(uintptr_t)from }, d;
	MDB_cursor_op	 op = from != NULL ? MDB_SET_RANGE : MDB_FIRST;
	int		 rc, mrc;

	if (t == NULL) {
		if ((rc = txn_begin(st, MDB_RDONLY, &own)) != 0)
			return rc;
		t = own;
	}
	if ((rc = mdb_err(st, mdb_cursor_open(t, db, &c), "cursor")) != 0) {
		if (own != NULL)
			mdb_txn_abort(own);
		return rc;
	}
	rc = 0;
	while ((mrc = mdb_cursor_get(c, &k, &d, op)) == 0) {
		op = MDB_NEXT;
		if ((rc = fn(&k, &d, arg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (own != NULL)
		mdb_txn_abort(own);
	if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = mdb_err(st, mrc, "cursor");
	return rc;
}

static int
init_fn(struct store *st, MDB_txn *t, void *arg)
{
	const char	**nr = arg;
	MDB_val		 k, d;
	int		 rc;

	k.mv_data = (void *)(uintptr_t)"node";
	k.mv_size = 4;
	if (mdb_get(t, st->meta, &k, &d) == 0)
		return E_INVAL;
	d.mv_data = (void *)(uintptr_t)nr[0];
	d.mv_size = strlen(nr[0]);
	if ((rc = mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "init")))
		return rc;
	k.mv_data = (void *)(uintptr_t)"role";
	d.mv_data = (void *)(uintptr_t)nr[1];
	d.mv_size = strlen(nr[1]);
	return mdb_err(st, mdb_put(t, st->meta, &k, &d, 0), "init");
}

int
store_init_node(struct store *st, const char *node, const char *role)
{
	const char	*nr[2] = { node, role };
	int		 rc;

	if ((rc = txn_run(st, init_fn, nr)) != 0)
		return rc;
	strlcpy_(st->node, node, sizeof(st->node));
	strlcpy_(st->role, role, sizeof(st->role));
	return 0;
}

int
is_central(const struct store *st)
{
	return strcmp(st->role, STORE_ROLE_CENTRAL) == 0;
}

/* Decodes a peer record (d) of peer into *pi. */
static int
peer_decode(const char *peer, const MDB_val *d, struct peer_info *pi)
{
	struct peer_disk	pd;

	memset(pi, 0, sizeof(*pi));
	strlcpy_(pi->node, peer, sizeof(pi->node));
	if (d->mv_size != sizeof(pd))
		return E_INTEGRITY;
	memcpy(&pd, d->mv_data, sizeof(pd));
	if (pd.version != 1)
		return E_INTEGRITY;
	*pi = pd.info;
	pi->node[HLC_NODE_MAX] = '\0';
	pi->last_error[sizeof(pi->last_error) - 1] = '\0';
	return 0;
}

int
peer_read(struct store *st, MDB_txn *t, const char *peer,
    struct peer_info *pi)
{
	MDB_val			k = { strlen(peer), (void *)(uintptr_t)peer }, d;
	int			rc;

	memset(pi, 0, sizeof(*pi));
	strlcpy_(pi->node, peer, sizeof(pi->node));
	if ((rc = mdb_get(t, st->peers, &k, &d)) != 0)
		return mdb_err(st, rc, "get peer");
	return peer_decode(peer, &d, pi);
}

int
peer_write(struct store *st, MDB_txn *t, const struct peer_info *pi)
{
	struct peer_disk	pd;
	MDB_val			k, d;

	memset(&pd, 0, sizeof(pd));
	pd.version = 1;
	pd.info = *pi;
	k.mv_data = (void *)(uintptr_t)pi->node;
	k.mv_size = strlen(pi->node);
	d.mv_data = &pd;
	d.mv_size = sizeof(pd);
	return mdb_err(st, mdb_put(t, st->peers, &k, &d, 0), "put peer");
}

int
store_peer_get(struct store *st, const char *peer, struct peer_info *pi)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = peer_read(st, t, peer, pi);
	mdb_txn_abort(t);
	return rc;
}

static int
peer_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	return peer_write(st, t, arg);
}

int
store_peer_put(struct store *st, const struct peer_info *pi)
{
	return txn_run(st, peer_put_fn, (void *)(uintptr_t)pi);
}

struct peer_update_ctx {
	const char	*peer;
	int		(*fn)(struct peer_info *, void *);
	void		*arg;
};

static int
peer_update_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct peer_update_ctx	*u = arg;
	struct peer_info	 pi;
	int			 rc;

	rc = peer_read(st, t, u->peer, &pi);
	if (rc != 0 && rc != E_NOTFOUND)
		return rc;
	if ((rc = u->fn(&pi, u->arg)) != 0)
		return rc;
	return peer_write(st, t, &pi);
}

int
store_peer_update(struct store *st, const char *peer,
    int (*fn)(struct peer_info *, void *), void *arg)
{
	struct peer_update_ctx u = { peer, fn, arg };

	return txn_run(st, peer_update_fn, &u);
}

struct peer_each_ctx {
	int	(*fn)(const struct peer_info *, void *);
	void	*arg;
};

static int
peer_each_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct peer_each_ctx	*ec = arg;
	struct peer_info	 pi;
	char			 name[HLC_NODE_MAX + 1];

	if (k->mv_size > HLC_NODE_MAX)
		return 0;
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = '\0';
	return peer_decode(name, d, &pi) == 0 ? ec->fn(&pi, ec->arg) : 0;
}

int
store_peer_each(struct store *st,
    int (*fn)(const struct peer_info *, void *), void *arg)
{
	struct peer_each_ctx ec = { fn, arg };

	return table_each(st, NULL, st->peers, NULL, 0, peer_each_one, &ec);
}

int
store_vv_get(struct store *st, const char *origin, uint64_t *seq)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64(st, t, st->vv, origin, seq);
	mdb_txn_abort(t);
	return rc;
}

struct vv_each_ctx {
	int	(*fn)(const char *, uint64_t, void *);
	void	*arg;
};

static int
vv_each_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	struct vv_each_ctx	*ec = arg;
	char			 name[HLC_NODE_MAX + 1];

	if (k->mv_size > HLC_NODE_MAX || d->mv_size != 8)
		return 0;
	memcpy(name, k->mv_data, k->mv_size);
	name[k->mv_size] = '\0';
	return ec->fn(name, be64_get(d->mv_data), ec->arg);
}

int
store_vv_each(struct store *st, int (*fn)(const char *, uint64_t, void *),
    void *arg)
{
	struct vv_each_ctx ec = { fn, arg };

	return table_each(st, NULL, st->vv, NULL, 0, vv_each_one, &ec);
}

/* Central restored: its vector of every province (not its own origin),
 * for VECTOR (docs/PROTOCOL.md, "Recovery"). */
int
store_vector(struct store *st, struct msg_vec **v, size_t *n)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	*v = NULL;
	*n = 0;
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->vv, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0 && *n < MSG_KEYS_MAX) {
		char	name[HLC_NODE_MAX + 1];

		if (k.mv_size == 0 || k.mv_size > HLC_NODE_MAX ||
		    d.mv_size != 8)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		/* Central's own entries come back by RETURN. */
		if (!node_id_valid(name) || strcmp(name, st->node) == 0)
			continue;
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		strlcpy_((*v)[*n].node, name, sizeof((*v)[*n].node));
		(*v)[*n].pos = be64_get(d.mv_data);
		(*n)++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return 0;
}

/* ---- Keys of other nodes ---- */

int
store_keyhist_run(struct store *st, int write,
    int (*fn)(void *, unsigned, void *), void *arg)
{
	MDB_txn	*t;
	int	 rc;

	if (!write) {
		if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
			return rc;
		rc = fn(t, st->keyhist, arg);
		mdb_txn_abort(t);
		return rc;
	}
	if ((rc = txn_begin(st, 0, &t)) != 0)
		return rc;
	if ((rc = fn(t, st->keyhist, arg)) != 0) {
		mdb_txn_abort(t);
		return rc;
	}
	return mdb_err(st, mdb_txn_commit(t), "commit");
}

/* What a key record looks like on disk: fixed size, checked on read. */
struct key_disk {
	uint32_t	version;
	uint32_t	status;
	uint64_t	since_ms;
	uint8_t		sign_pub[CRYPTO_SIGN_PUB];
	uint8_t		curve_pub[CRYPTO_SIGN_PUB];
};

int
key_read(struct store *st, MDB_txn *t, const char *node, struct node_key *nk)
{
	MDB_val		k = { strlen(node), (void *)(uintptr_t)node }, d;
	struct key_disk	kd;
	int		rc;

	memset(nk, 0, sizeof(*nk));
	strlcpy_(nk->node, node, sizeof(nk->node));
	if ((rc = mdb_get(t, st->keys, &k, &d)) != 0)
		return mdb_err(st, rc, "get key");
	if (d.mv_size != sizeof(kd))
		return E_INTEGRITY;
	memcpy(&kd, d.mv_data, sizeof(kd));
	if (kd.version != 1 || kd.status < KEY_ACTIVE || kd.status >
	    KEY_KNOWN)
		return E_INTEGRITY;
	nk->status = (int)kd.status;
	nk->since_ms = kd.since_ms;
	memcpy(nk->sign_pub, kd.sign_pub, sizeof(nk->sign_pub));
	memcpy(nk->curve_pub, kd.curve_pub, sizeof(nk->curve_pub));
	return 0;
}

static int
key_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	const struct node_key	*nk = arg;
	struct key_disk		 kd;
	MDB_val			 k, d;

	memset(&kd, 0, sizeof(kd));
	kd.version = 1;
	kd.status = (uint32_t)nk->status;
	kd.since_ms = nk->since_ms;
	memcpy(kd.sign_pub, nk->sign_pub, sizeof(kd.sign_pub));
	memcpy(kd.curve_pub, nk->curve_pub, sizeof(kd.curve_pub));
	k.mv_data = (void *)(uintptr_t)nk->node;
	k.mv_size = strlen(nk->node);
	d.mv_data = &kd;
	d.mv_size = sizeof(kd);
	return mdb_err(st, mdb_put(t, st->keys, &k, &d, 0), "put key");
}

int
store_key_put(struct store *st, const struct node_key *nk)
{
	return txn_run(st, key_put_fn, (void *)(uintptr_t)nk);
}

int
store_key_get(struct store *st, const char *node, struct node_key *nk)
{
	MDB_txn	*t;
	int	 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = key_read(st, t, node, nk);
	mdb_txn_abort(t);
	return rc;
}

int
store_key_each(struct store *st, int (*fn)(const struct node_key *, void *),
    void *arg)
{
	MDB_txn		*t;
	MDB_cursor	*c;
	MDB_val		 k, d;
	int		 rc;

	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->keys, &c), "cursor"))) {
		mdb_txn_abort(t);
		return rc;
	}
	while (rc == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		struct node_key	nk;
		char		name[HLC_NODE_MAX + 1];

		if (k.mv_size == 0 || k.mv_size > HLC_NODE_MAX)
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (key_read(st, t, name, &nk) == 0)
			rc = fn(&nk, arg);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return rc;
}

/* ---- Backup, restore and recovery (docs/PROTOCOL.md, "Recovery") ------ */

int
store_backup(struct store *st, const char *outdir, char *err, size_t errsz)
{
	char	path[PATH_MAX];
	int	rc = mdb_env_copy2(st->env, outdir, MDB_CP_COMPACT);

	/* Another process (a sync writing) grew the map since this one
	 * opened it: take the new size and copy again, as txn_begin does.
	 * The failed copy left an empty file (LMDB creates it first). */
	snprintf(path, sizeof(path), "%s/data.mdb", outdir);
	for (int i = 0; rc == MDB_MAP_RESIZED && i < TXN_RETRIES; i++) {
		unlink(path);
		mdb_env_set_mapsize(st->env, 0);
		rc = mdb_env_copy2(st->env, outdir, MDB_CP_COMPACT);
	}
	if (rc != 0) {
		snprintf(err, errsz, "%s: cannot copy the store: %s", outdir,
		    rc == ENOSPC ? "disk full" : mdb_strerror(rc));
		return rc == ENOSPC ? E_FULL : E_IO;
	}
	return 0;
}

/* Reads a u64 meta value; *present says whether the key exists. */
int
get_u64_present(struct store *st, MDB_txn *t, const char *key, uint64_t *v,
    int *present)
{
	MDB_val	k = { strlen(key), (void *)(uintptr_t)key }, d;
	int	rc = mdb_get(t, st->meta, &k, &d);

	*v = 0;
	*present = rc == 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return mdb_err(st, rc, "get");
	if (d.mv_size != 8)
		return E_INTEGRITY;
	*v = be64_get(d.mv_data);
	return 0;
}

struct restored_ctx {
	uint64_t	now_s;
	uint64_t	inc, seq;
};

static int
restored_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct restored_ctx	*r = arg;
	uint64_t		 seq, old, from, inc;
	int			 have_from, rc;
	MDB_cursor		*c;
	MDB_val			 k, d;

	if ((rc = get_u64(st, t, st->meta, "seq", &seq)) != 0 ||
	    (rc = get_u64(st, t, st->meta, "inc", &old)) != 0 ||
	    (rc = get_u64_present(st, t, "recover_from", &from,
	    &have_from)) != 0)
		return rc;
	/* Like Cassandra's generation number: the time of the start, so a
	 * second restore of the same backup gets another incarnation; and
	 * always above any incarnation this store knows of. */
	inc = r->now_s > POS_EPOCH_S ? r->now_s - POS_EPOCH_S : 1;
	if (inc <= POS_INC(seq))
		inc = POS_INC(seq) + 1;
	if (inc <= old)
		inc = old + 1;
	if (inc > 0xffffffffULL)
		return E_INVAL;
	r->inc = inc;
	r->seq = seq;
	/* What may be lost is after the backup's last own entry; a backup
	 * taken before an earlier recovery finished keeps that older mark. */
	if (!have_from || seq < from)
		from = seq;
	if ((rc = put_u64(st, t, st->meta, "seq", POS_MAKE(inc, seq))) != 0 ||
	    (rc = put_u64(st, t, st->meta, "inc", inc)) != 0 ||
	    (rc = put_u64(st, t, st->meta, "recover_from", from)) != 0)
		return rc;
	if (!is_central(st))
		return 0;
	/* Central: feed positions too start a new incarnation, so a position
	 * a province acknowledged before the loss is never handed out again
	 * for another entry. */
	if ((rc = mdb_err(st, mdb_cursor_open(t, st->meta, &c), "cursor")))
		return rc;
	k.mv_data = (void *)(uintptr_t)"feed:";
	k.mv_size = 5;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		uint8_t b[8];
		MDB_val nd = { 8, b };

		if (k.mv_size < 5 || memcmp(k.mv_data, "feed:", 5) != 0)
			break;
		be64_put(b, POS_MAKE(inc, 0));
		if ((rc = mdb_cursor_put(c, &k, &nd, MDB_CURRENT)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "restore feeds");
}

int
store_restored(struct store *st, uint64_t now_s, uint64_t *inc,
    uint64_t *seq_backup)
{
	struct restored_ctx	r = { now_s, 0, 0 };
	int			rc;

	if (st->node[0] == '\0')
		return E_NOTFOUND;
	if ((rc = txn_run(st, restored_fn, &r)) != 0)
		return rc;
	*inc = r.inc;
	*seq_backup = r.seq;
	return 0;
}

int
store_recovery(struct store *st, struct store_recovery *rv)
{
	MDB_txn	*t;
	int	 rc;

	memset(rv, 0, sizeof(*rv));
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	if ((rc = get_u64(st, t, st->meta, "inc", &rv->inc)) == 0)
		rc = get_u64_present(st, t, "recover_from", &rv->recover_from,
		    &rv->pending);
	if (rc == 0)
		rc = get_u64(st, t, st->meta, "recovered_from",
		    &rv->recovered_from);
	mdb_txn_abort(t);
	return rc;
}

static int
recovery_done_fn(struct store *st, MDB_txn *t, void *arg)
{
	MDB_val		k = { 12, (void *)(uintptr_t)"recover_from" };
	uint64_t	from, done;
	int		pending, had, rc;

	(void)arg;
	if ((rc = get_u64_present(st, t, "recover_from", &from,
	    &pending)) != 0 || !pending)
		return rc;
	/* Kept: a central met later may hold entries of the incarnation
	 * before the restore that the one met first lacked (repl.c,
	 * check_own_chain). */
	if ((rc = get_u64_present(st, t, "recovered_from", &done,
	    &had)) != 0)
		return rc;
	if ((!had || from < done) &&
	    (rc = put_u64(st, t, st->meta, "recovered_from", from)) != 0)
		return rc;
	rc = mdb_del(t, st->meta, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : mdb_err(st, rc, "del");
}

int
store_recovery_done(struct store *st)
{
	return txn_run(st, recovery_done_fn, NULL);
}

struct u64_ctx {
	const char	*key;
	uint64_t	 v;
};

static int
u64_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	struct u64_ctx *u = arg;

	return put_u64(st, t, st->meta, u->key, u->v);
}

int
store_returned_get(struct store *st, const char *peer, uint64_t *inc)
{
	char	 mk[HLC_NODE_MAX + 16];
	MDB_txn	*t;
	int	 rc;

	snprintf(mk, sizeof(mk), "returned:%s", peer);
	if ((rc = txn_begin(st, MDB_RDONLY, &t)) != 0)
		return rc;
	rc = get_u64(st, t, st->meta, mk, inc);
	mdb_txn_abort(t);
	return rc;
}

int
store_returned_put(struct store *st, const char *peer, uint64_t inc)
{
	char		mk[HLC_NODE_MAX + 16];
	struct u64_ctx	u = { mk, inc };

	snprintf(mk, sizeof(mk), "returned:%s", peer);
	return txn_run(st, u64_put_fn, &u);
}

#ifdef SELFTEST
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "../common/selftest.h"

int
store_test_open(char *dir, const char *node, const char *role,
    uint8_t pub[CRYPTO_SIGN_PUB], struct store **st)
{
	uint8_t	sec[CRYPTO_SIGN_SEC], pk[CRYPTO_SIGN_PUB], dk[CRYPTO_KEY];
	char	err[256];
	int	rc;

	if (mkdtemp(dir) == NULL)
		return E_IO;
	if ((rc = store_open(dir, st, err, sizeof(err))) != 0 ||
	    (rc = store_init_node(*st, node, role)) != 0)
		return rc;
	memset(dk, 0x5a, sizeof(dk));
	if ((rc = crypto_sign_keypair(pk, sec)) != 0 ||
	    (rc = store_set_keys(*st, sec, pk, dk)) != 0)
		return rc;
	if (pub != NULL)
		memcpy(pub, pk, CRYPTO_SIGN_PUB);
	crypto_wipe(sec, sizeof(sec));
	return 0;
}

void
store_test_close(struct store **st, const char *dir)
{
	char	 path[512];
	DIR	*d;
	struct dirent *de;

	store_close(st);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

void
store_test_entry(struct entry *e, const char *id, const char *to,
    const char *name)
{
	struct op *o;

	entry_init(e);
	strlcpy_(e->case_id, id, sizeof(e->case_id));
	strlcpy_(e->author, "selftest", sizeof(e->author));
	if (to != NULL) {
		o = entry_add_op(e, OP_TRANSFER);
		strlcpy_(o->to, to, sizeof(o->to));
	}
	if (name != NULL) {
		char v[128];

		o = entry_add_op(e, OP_SET);
		strlcpy_(o->path, "person.full_name", sizeof(o->path));
		snprintf(v, sizeof(v), "\"%s\"", name);
		o->value = xstrdup(v);
		o->value_len = strlen(v);
	}
}

static int
count_one(const MDB_val *k, const MDB_val *d, void *arg)
{
	int *n = arg;

	(void)k;
	(void)d;
	return ++*n == 2 ? 7 : 0;
}

static int
vv_sum(const char *origin, uint64_t seq, void *arg)
{
	uint64_t *sum = arg;

	*sum += seq;
	return origin[0] == '\0';
}

static int
vv_put_fn(struct store *st, MDB_txn *t, void *arg)
{
	int rc;

	(void)arg;
	if ((rc = put_u64(st, t, st->vv, "alpha", 1)) != 0 ||
	    (rc = put_u64(st, t, st->vv, "beta", 20)) != 0)
		return rc;
	return put_u64(st, t, st->vv, "gamma", 300);
}

static int
many_fn(struct store *st, MDB_txn *t, void *arg)
{
	char	key[32];
	int	rc;

	(void)arg;
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "warm-%05d", i);
		if ((rc = put_u64(st, t, st->vv, key, (uint64_t)i)) != 0)
			return rc;
	}
	return 0;
}

/* How many of the pages [base, base + len) this process has mapped
 * (/proc/self/pagemap's present bit); -1 when it cannot tell. */
static long
pages_present(const uint8_t *base, size_t len)
{
	size_t	ps = (size_t)sysconf(_SC_PAGESIZE);
	long	n = 0;
	int	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	for (size_t off = 0; off < len; off += ps) {
		uint64_t e;

		if (pread(fd, &e, sizeof(e), (off_t)(((uintptr_t)base + off) /
		    ps * sizeof(e))) != (ssize_t)sizeof(e)) {
			close(fd);
			return -1;
		}
		n += (e >> 63) & 1;
	}
	close(fd);
	return n;
}

/* store_warm maps the store's pages that are in memory: those written
 * through pwrite and never read are not mapped before it, all are after. */
static int
warm_selftest(void)
{
	char		 dir[] = "/tmp/casesync-warm-XXXXXX";
	struct store	*st;
	MDB_envinfo	 ei;
	uint8_t		*base;
	size_t		 maplen, used;
	long		 before, after;
	uint64_t	 v;

	ST_OK(store_test_open(dir, "central", STORE_ROLE_CENTRAL, NULL, &st));
	ST_OK(txn_run(st, many_fn, NULL));
	ST_OK(store_vv_get(st, "warm-01234", &v));
	ST_CHECK(v == 1234);
	ST_CHECK(map_find(st, &base, &maplen));
	ST_CHECK(mdb_env_info(st->env, &ei) == 0);
	used = (size_t)(ei.me_last_pgno + 1) * (size_t)sysconf(_SC_PAGESIZE);
	ST_CHECK(used > 16 * (size_t)sysconf(_SC_PAGESIZE) && used <= maplen);
	before = pages_present(base, used);
	ST_CHECK(before >= 0);
	ST_CHECK(store_warm(st) >= ei.me_last_pgno + 1);
	after = pages_present(base, used);
	ST_CHECK((size_t)after == ei.me_last_pgno + 1 && before < after);
	ST_OK(store_vv_get(st, "warm-02999", &v));
	ST_CHECK(v == 2999);
	store_test_close(&st, dir);
	return 0;
}

int
store_selftest(void)
{
	char			 dir[] = "/tmp/casesync-store-XXXXXX";
	struct store		*st;
	struct store_info	 info;
	struct peer_info	 pi;
	uint64_t		 sum = 0, v;
	int			 n = 0;

	ST_OK(store_test_open(dir, "central", STORE_ROLE_CENTRAL, NULL, &st));
	ST_OK(store_info(st, &info));
	ST_CHECK(strcmp(info.node, "central") == 0 && is_central(st));
	ST_OK(txn_run(st, vv_put_fn, NULL));
	/* The iterator: every row in key order, from a key, and fn's
	 * result stops it and comes back. */
	ST_OK(store_vv_each(st, vv_sum, &sum));
	ST_CHECK(sum == 321);
	ST_CHECK(table_each(st, NULL, st->vv, "b", 1, count_one, &n) == 7);
	ST_CHECK(n == 2);
	n = 0;
	ST_OK(table_each(st, NULL, st->vv, "gamma!", 6, count_one, &n));
	ST_CHECK(n == 0);
	ST_OK(store_vv_get(st, "beta", &v));
	ST_CHECK(v == 20);
	/* A peer record round-trips; a new peer is E_NOTFOUND, zeroed. */
	ST_CHECK(store_peer_get(st, "p1", &pi) == E_NOTFOUND);
	ST_CHECK(strcmp(pi.node, "p1") == 0 && pi.feed_acked == 0);
	pi.feed_acked = 42;
	ST_OK(store_peer_put(st, &pi));
	memset(&pi, 0, sizeof(pi));
	ST_OK(store_peer_get(st, "p1", &pi));
	ST_CHECK(pi.feed_acked == 42);
	store_test_close(&st, dir);
	return warm_selftest();
}
#endif

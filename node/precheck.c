/*
 * precheck.c - central's checking thread: the records of received batches
 * decoded (record_take: the strict decoder, the signature block, the
 * digest its signature covers) and their ops checked against the schema
 * (check_ops), while the store thread applies and commits the batches
 * before them (docs/PERFORMANCE.md, "The two-thread pipeline").
 *
 * The thread reads the received bytes and the schema, and writes only the
 * job it works on: it never touches the store, its transactions or its
 * keys.  The store thread takes each record's result in order
 * (precheck_take, from batch_decode), waiting for it when the thread is
 * behind, and decides everything that needs the store itself, in the same
 * order as without the thread.  A record the thread could not decode is
 * decoded again by the store thread, which gives the same error.
 *
 * Everything shared (the queue, each job's progress) is under one mutex.
 */
#include "store_int.h"
#include "apply_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/util.h"

/* One record as the thread left it. */
struct pre_rec {
	int		 ok;		/* decoded, signed and hashed */
	int		 taken;		/* moved to the apply (store thread) */
	struct entry	 e;
	uint8_t		 block[SIGN_BLOCK];
	uint8_t		 d[CRYPTO_HASH];
	int		 ops_rc;	/* check_ops */
	char		 ops_why[BATCH_WHY];
};

struct precheck_job {
	struct store_precheck	*pc;
	const struct rec	*recs;		/* borrowed */
	size_t			 n;
	struct pre_rec		*out;		/* n of them */
	/* Under pc->mu: */
	size_t			 ndone;		/* out[0 .. ndone) are done */
	int			 cancel;	/* stop early */
	int			 finished;	/* the thread is done with it */
	struct precheck_job	*next;		/* the queue */
};

struct store_precheck {
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;		/* a job queued, or stop */
	pthread_cond_t		 done;		/* a record done, a job taken */
	struct precheck_job	*head, *tail;	/* the queue, under mu */
	size_t			 queued;	/* <= PRECHECK_JOBS */
	int			 stop;
	struct crypto_sha	*sh;		/* the thread's own */
};

static void
pre_one(struct crypto_sha *sh, const struct rec *r, struct pre_rec *o)
{
	o->ok = record_take(sh, r, &o->e, o->block, o->d) == 0;
	if (!o->ok) {
		/* The store thread decodes it again and says why. */
		entry_release(&o->e);
		return;
	}
	o->ops_rc = check_ops(&o->e, o->ops_why, sizeof(o->ops_why));
}

static void *
pre_thread(void *arg)
{
	struct store_precheck	*pc = arg;
	struct precheck_job	*j;

	pthread_mutex_lock(&pc->mu);
	for (;;) {
		while (pc->head == NULL && !pc->stop)
			pthread_cond_wait(&pc->work, &pc->mu);
		if (pc->head == NULL)
			break;
		j = pc->head;
		if ((pc->head = j->next) == NULL)
			pc->tail = NULL;
		pc->queued--;
		pthread_cond_broadcast(&pc->done);	/* room in the queue */
		for (size_t i = 0; i < j->n && !j->cancel; i++) {
			pthread_mutex_unlock(&pc->mu);
			pre_one(pc->sh, &j->recs[i], &j->out[i]);
			pthread_mutex_lock(&pc->mu);
			j->ndone = i + 1;
			pthread_cond_broadcast(&pc->done);
		}
		j->finished = 1;
		pthread_cond_broadcast(&pc->done);
	}
	pthread_mutex_unlock(&pc->mu);
	return NULL;
}

int
store_precheck_new(struct store_precheck **out)
{
	struct store_precheck	*pc = xcalloc(1, sizeof(*pc));
	int			 rc;

	*out = NULL;
	if ((rc = crypto_sha_new(&pc->sh)) != 0) {
		free(pc);
		return rc;
	}
	pthread_mutex_init(&pc->mu, NULL);
	pthread_cond_init(&pc->work, NULL);
	pthread_cond_init(&pc->done, NULL);
	if (pthread_create(&pc->thread, NULL, pre_thread, pc) != 0) {
		pthread_cond_destroy(&pc->done);
		pthread_cond_destroy(&pc->work);
		pthread_mutex_destroy(&pc->mu);
		crypto_sha_free(&pc->sh);
		free(pc);
		return E_AGAIN;
	}
	*out = pc;
	return 0;
}

void
store_precheck_free(struct store_precheck **pcp)
{
	struct store_precheck *pc = *pcp;

	if (pc == NULL)
		return;
	pthread_mutex_lock(&pc->mu);
	pc->stop = 1;
	pthread_cond_broadcast(&pc->work);
	pthread_mutex_unlock(&pc->mu);
	pthread_join(pc->thread, NULL);
	pthread_cond_destroy(&pc->done);
	pthread_cond_destroy(&pc->work);
	pthread_mutex_destroy(&pc->mu);
	crypto_sha_free(&pc->sh);
	free(pc);
	*pcp = NULL;
}

struct precheck_job *
store_precheck_submit(struct store_precheck *pc, const struct rec *recs,
    size_t n)
{
	struct precheck_job *j = xcalloc(1, sizeof(*j));

	j->pc = pc;
	j->recs = recs;
	j->n = n;
	j->out = xcalloc(n > 0 ? n : 1, sizeof(*j->out));
	for (size_t i = 0; i < n; i++)
		entry_init(&j->out[i].e);
	pthread_mutex_lock(&pc->mu);
	while (pc->queued >= PRECHECK_JOBS)
		pthread_cond_wait(&pc->done, &pc->mu);
	if (pc->tail != NULL)
		pc->tail->next = j;
	else
		pc->head = j;
	pc->tail = j;
	pc->queued++;
	pthread_cond_signal(&pc->work);
	pthread_mutex_unlock(&pc->mu);
	return j;
}

int
precheck_take(struct precheck_job *j, size_t i, struct entry *e,
    uint8_t block[SIGN_BLOCK], uint8_t d[CRYPTO_HASH], int *ops_rc,
    char *why, size_t whysz)
{
	struct store_precheck	*pc = j->pc;
	struct pre_rec		*o;
	int			 ready;

	if (i >= j->n)
		return 0;
	pthread_mutex_lock(&pc->mu);
	while (j->ndone <= i && !j->finished)
		pthread_cond_wait(&pc->done, &pc->mu);
	ready = j->ndone > i;
	pthread_mutex_unlock(&pc->mu);
	/* out[i] is the store thread's from here: the thread never comes
	 * back to a record it has done. */
	o = &j->out[i];
	if (!ready || !o->ok || o->taken)
		return 0;
	*e = o->e;
	entry_init(&o->e);
	o->taken = 1;
	memcpy(block, o->block, SIGN_BLOCK);
	memcpy(d, o->d, CRYPTO_HASH);
	*ops_rc = o->ops_rc;
	if (o->ops_rc != 0)
		snprintf(why, whysz, "%s", o->ops_why);
	return 1;
}

void
store_precheck_job_free(struct precheck_job **jp)
{
	struct precheck_job	*j = *jp;
	struct store_precheck	*pc;

	if (j == NULL)
		return;
	pc = j->pc;
	pthread_mutex_lock(&pc->mu);
	j->cancel = 1;
	if (!j->finished && pc->head != NULL) {
		/* Still queued: take it out, so the thread never sees it. */
		struct precheck_job **pp = &pc->head, *prev = NULL;

		while (*pp != NULL && *pp != j) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp == j) {
			*pp = j->next;
			if (pc->tail == j)
				pc->tail = prev;
			pc->queued--;
			j->finished = 1;
			pthread_cond_broadcast(&pc->done);
		}
	}
	while (!j->finished)
		pthread_cond_wait(&pc->done, &pc->mu);
	pthread_mutex_unlock(&pc->mu);
	for (size_t i = 0; i < j->n; i++)
		entry_release(&j->out[i].e);
	free(j->out);
	free(j);
	*jp = NULL;
}

#ifdef SELFTEST
#include "../common/selftest.h"

/*
 * Many small batches from several provinces through the checking thread
 * into central's group commit, one with a record that does not decode:
 * the same answers, batch for batch, and the same cases, byte for byte,
 * as without the thread.  A job freed before the thread reached it, or
 * half way, leaves nothing behind (ASan).
 */
#define PT_PROV		4
#define PT_CASES	6
#define PT_ITEMS	(PT_PROV * PT_CASES)
#define PT_GROUP	5

static const char *const pt_names[PT_PROV] = { "ha-noi", "cao-bang",
    "lao-cai", "son-la" };

static void
pt_id(char id[40], int p, int k)
{
	snprintf(id, 40, "01a2276e-8c28-78e1-8721-c642e7eb%02u%02u",
	    (unsigned)p % 100, (unsigned)k % 100);
}

/* The batches of b into central c, in groups of PT_GROUP, with the
 * checking thread or without. */
static int
pt_load(struct store *c, struct rec_batch b[PT_PROV], int threaded,
    struct apply_item it[PT_ITEMS], size_t *nit)
{
	struct store_precheck	*pc = NULL;
	struct precheck_job	*jobs[PT_ITEMS], *j;
	size_t			 n = 0;

	if (threaded)
		ST_OK(store_precheck_new(&pc));
	/* Batches of two records, the provinces interleaved: several
	 * groups, and several batches of one province in a group. */
	for (size_t at = 0; at < PT_CASES * 2; at += 2)
		for (int p = 0; p < PT_PROV; p++) {
			memset(&it[n], 0, sizeof(it[n]));
			it[n].peer = pt_names[p];
			it[n].recs = b[p].recs + at;
			it[n].n = 2;
			jobs[n] = pc != NULL ? store_precheck_submit(pc,
			    it[n].recs, it[n].n) : NULL;
			it[n].job = jobs[n];
			n++;
		}
	if (pc != NULL) {
		/* Freed at once: the thread may never see it. */
		j = store_precheck_submit(pc, b[0].recs, b[0].n);
		store_precheck_job_free(&j);
		ST_CHECK(j == NULL);
	}
	for (size_t g = 0; g < n; g += PT_GROUP) {
		size_t k = n - g < PT_GROUP ? n - g : PT_GROUP;

		ST_OK(store_apply_group(c, it + g, k));
		for (size_t i = g; i < g + k; i++)
			store_precheck_job_free(&jobs[i]);
	}
	store_precheck_free(&pc);
	ST_CHECK(pc == NULL);
	*nit = n;
	return 0;
}

int
precheck_selftest(void)
{
	char			 dc[2][40], dp[PT_PROV][40], id[40], err[256];
	struct store		*c[2], *p[PT_PROV];
	uint8_t			 kc[32], kp[PT_PROV][32];
	struct rec_batch	 b[PT_PROV];
	struct apply_item	 it[2][PT_ITEMS];
	struct entry		 e;
	size_t			 nit[2], len;
	uint64_t		 nc[2], ne[2], bad;

	for (int i = 0; i < PT_PROV; i++) {
		snprintf(dp[i], sizeof(dp[i]), "/tmp/casesync-pre-%d-XXXXXX",
		    i);
		ST_OK(store_test_open(dp[i], pt_names[i], STORE_ROLE_PROVINCE,
		    kp[i], &p[i]));
		for (int k = 0; k < PT_CASES; k++) {
			pt_id(id, i, k);
			store_test_entry(&e, id, pt_names[i], "An");
			ST_OK(store_write_local(p[i], &e, 1, err, sizeof(err)));
			entry_release(&e);
			store_test_entry(&e, id, NULL, "An Le");
			ST_OK(store_write_local(p[i], &e, 1, err, sizeof(err)));
			entry_release(&e);
		}
		ST_OK(store_scan_own(p[i], 0, STORE_BATCH_BYTES, &b[i]));
		ST_CHECK(b[i].n == PT_CASES * 2);
	}
	/* cao-bang's third batch has a record that does not decode: that
	 * batch fails, its later ones are skipped or have a gap. */
	len = b[1].recs[5].len;
	b[1].recs[5].len = 3;
	for (int t = 0; t < 2; t++) {
		snprintf(dc[t], sizeof(dc[t]), "/tmp/casesync-pre-c%d-XXXXXX",
		    t);
		ST_OK(store_test_open(dc[t], "central", STORE_ROLE_CENTRAL, kc,
		    &c[t]));
		for (int i = 0; i < PT_PROV; i++)
			ST_OK(batch_test_enrol(c[t], pt_names[i], kp[i]));
		ST_OK(pt_load(c[t], b, t, it[t], &nit[t]));
		ST_OK(store_verify(c[t], &nc[t], &ne[t], &bad, err,
		    sizeof(err)));
		ST_CHECK(bad == 0);
	}
	b[1].recs[5].len = len;
	ST_CHECK(nit[0] == PT_ITEMS && nit[1] == PT_ITEMS);
	ST_CHECK(nc[0] == nc[1] && ne[0] == ne[1]);
	ST_CHECK(ne[0] == (PT_PROV - 1) * PT_CASES * 2 + 4);
	for (size_t i = 0; i < PT_ITEMS; i++) {
		ST_CHECK(it[0][i].rc == it[1][i].rc);
		ST_CHECK(it[0][i].skipped == it[1][i].skipped);
		ST_CHECK(strcmp(it[0][i].err, it[1][i].err) == 0);
		ST_CHECK(memcmp(&it[0][i].stats, &it[1][i].stats,
		    sizeof(it[0][i].stats)) == 0);
	}
	ST_CHECK(it[0][9].rc == E_PROTO && strstr(it[0][9].err,
	    "does not decode") != NULL);
	for (int i = 0; i < PT_PROV; i++)
		for (int k = 0; k < PT_CASES; k++) {
			struct case_state	s0, s1;
			struct buf		e0, e1;
			int			r0, r1;

			pt_id(id, i, k);
			r0 = store_case_get(c[0], id, &s0);
			r1 = store_case_get(c[1], id, &s1);
			ST_CHECK(r0 == r1);
			if (r0 != 0)
				continue;
			buf_init(&e0, STATE_ENCODED_MAX);
			buf_init(&e1, STATE_ENCODED_MAX);
			ST_OK(state_encode(&s0, &e0));
			ST_OK(state_encode(&s1, &e1));
			ST_CHECK(e0.len == e1.len && memcmp(e0.data, e1.data,
			    e0.len) == 0);
			buf_release(&e0);
			buf_release(&e1);
			state_release(&s0);
			state_release(&s1);
		}
	for (int t = 0; t < 2; t++)
		store_test_close(&c[t], dc[t]);
	for (int i = 0; i < PT_PROV; i++) {
		rec_batch_free(&b[i]);
		store_test_close(&p[i], dp[i]);
	}
	return 0;
}
#endif

/*
 * migrate_end: the hand-over of a live migration (step 2), on both sides.
 *
 * Once the source's QEMU sent everything, one decision says where the VM
 * runs, and it is taken in one place: the destination, when the source asks
 * it to run the VM (internal call VM.pool_migrate_end, commit true). The
 * destination first records the move in the pool database (resident_on,
 * and for a storage migration the VBDs on their new VDIs), and only once
 * that is committed does it run its copy. The decision stays on record
 * there (MIG_KEEP_S; after a restart of its xapid the database still says
 * so), and a repeated VM.pool_migrate_end gets the same answer. So the
 * source can always learn the outcome: an answer (run: its copy quits; no:
 * it resumes), or, when the reply is lost (the link cut, a timeout), it asks
 * again until it gets one. A destination that never hears from the source
 * drops its copy MIG_ABANDON_S after the memory arrived, so after
 * MIG_DOUBT_S without any answer the outcome is settled either way; the
 * source then reads the database: the VM recorded on the destination means
 * it runs there. Otherwise the source cannot tell and does NOT resume: the
 * VM is left stopped here (VM_MIGRATE_FAILED says so), never running twice.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/migrate_int.h"

#define MIG_END_WAIT_S 20 /* destination: per call, for step 1 to finish */
#define MIG_ABANDON_S 120 /* destination: for the source to end an arrival */
#define MIG_KEEP_S 900    /* destination: how long a decision stays known */
#define MIG_DOUBT_S (MIG_ABANDON_S + 60) /* source: asking again, at most */
#define MIG_END_CALL_MS ((MIG_END_WAIT_S + 25) * 1000) /* one ask */

/* A VM arriving here. */
struct mig_in {
	char uuid[37];
	int state;
	xv *moved;   /* storage migration: {old VDI: new VDI} */
	time_t done; /* when it was decided (3 or -1) */
	struct mig_in *next;
};

static pthread_mutex_t mend_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mend_cond = PTHREAD_COND_INITIALIZER;
static struct mig_in *mend_ins;

/* The entry of uuid, or NULL. Lock held. */
static struct mig_in *
mend_find(const char *uuid)
{
	for (struct mig_in *m = mend_ins; m; m = m->next)
		if (strcmp(m->uuid, uuid) == 0)
			return m;
	return NULL;
}

/* Sets the state of uuid's entry and wakes the waiters. Lock held. */
static void
mend_set(struct mig_in *m, int state)
{
	m->state = state;
	if (state == MIG_IN_RUNS || state == MIG_IN_GONE)
		m->done = time(NULL);
	pthread_cond_broadcast(&mend_cond);
}

void
mig_in_begin(const char *uuid, xv *moved)
{
	time_t now = time(NULL);
	struct mig_in *m;

	pthread_mutex_lock(&mend_lock);
	/* decisions older than MIG_KEEP_S go */
	for (struct mig_in **p = &mend_ins; *p;) {
		m = *p;
		if (m->done && m->done + MIG_KEEP_S < now) {
			*p = m->next;
			xv_free(m->moved);
			free(m);
		} else {
			p = &m->next;
		}
	}
	if (!(m = mend_find(uuid))) {
		m = xcalloc(1, sizeof(*m));
		snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
		m->next = mend_ins;
		mend_ins = m;
	}
	xv_free(m->moved);
	m->moved = moved;
	m->done = 0;
	mend_set(m, MIG_IN_LOADING);
	pthread_mutex_unlock(&mend_lock);
}

void
mig_in_loaded(const char *uuid, bool ok)
{
	pthread_mutex_lock(&mend_lock);
	struct mig_in *m = mend_find(uuid);
	if (m && m->state == MIG_IN_LOADING)
		mend_set(m, ok ? MIG_IN_LOADED : MIG_IN_GONE);
	pthread_mutex_unlock(&mend_lock);
}

int
mig_in_state(const char *uuid)
{
	pthread_mutex_lock(&mend_lock);
	struct mig_in *m = mend_find(uuid);
	int s = m ? m->state : MIG_IN_NONE;
	pthread_mutex_unlock(&mend_lock);
	return s;
}

void
mig_in_watch(const char *uuid)
{
	struct timespec dl;
	struct mig_in *m;
	bool abandon = false;
	char *msg = NULL;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += MIG_ABANDON_S;
	pthread_mutex_lock(&mend_lock);
	while ((m = mend_find(uuid)) && m->state == MIG_IN_LOADED &&
	       pthread_cond_timedwait(&mend_cond, &mend_lock, &dl) == 0)
		;
	if ((m = mend_find(uuid)) && m->state == MIG_IN_LOADED) {
		mend_set(m, MIG_IN_ENDING);
		abandon = true;
	}
	pthread_mutex_unlock(&mend_lock);
	if (!abandon)
		return;
	log_warn(
	    "migrate",
	    "VM %s: the source never ended its migration here (%d s): dropped",
	    uuid, MIG_ABANDON_S);
	if (vm_cfg.backend->migrate_end(uuid, false, false, &msg) < 0)
		log_err("migrate", "VM %s: %s", uuid, msg);
	free(msg);
	pthread_mutex_lock(&mend_lock);
	if ((m = mend_find(uuid)))
		mend_set(m, MIG_IN_GONE);
	pthread_mutex_unlock(&mend_lock);
}

/* The VDI that VDI ref becomes (moved is {old: new}; back: {new: old}), or
 * NULL. */
static const char *
mend_map(const xv *moved, const char *ref, bool back)
{
	if (!moved || moved->type != XV_STRUCT)
		return NULL;
	for (size_t i = 0; i < moved->u.st.n; i++) {
		const char *k = moved->u.st.names[i];
		const xv *v = moved->u.st.vals[i];
		if (v->type != XV_STRING)
			continue;
		if (!back && strcmp(k, ref) == 0)
			return v->u.s;
		if (back && strcmp(v->u.s, ref) == 0)
			return k;
	}
	return NULL;
}

/* Destination: the move of vm recorded in the database (the decision):
 * resident on host, the moved disks' VBDs on their new VDIs, which are no
 * longer pending. back: the reverse (the VM could not run here after all:
 * resident on host, the source, its VBDs on the old VDIs). */
static struct api_err *
mend_record(const char *vm, const xv *moved, const char *host, bool back)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *w = db_txn_edit(t, DMC_VM, vm);

	if (!w) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	}
	db_txn_set(t, w, DMF_VM_resident_on,
	           (union dm_val){.s = xstrdup(host)});
	const struct dm_coll *b = w->f[DMF_VM_VBDs].c;
	for (size_t i = 0; b && i < b->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		const char *to =
		    vbd ? mend_map(moved, vbd->f[DMF_VBD_VDI].s, back) : NULL;
		if (!to)
			continue;
		struct db_row *e = db_txn_edit(t, DMC_VBD, vbd->ref);
		struct db_row *n =
		    db_txn_edit(t, DMC_VDI, back ? vbd->f[DMF_VBD_VDI].s : to);
		if (!e || !n) {
			db_txn_abort(t);
			return api_internal("VDI %s is gone", to);
		}
		db_txn_set(t, e, DMF_VBD_VDI, (union dm_val){.s = xstrdup(to)});
		sr_map_put(t, n, DMF_VDI_sm_config, SR_PENDING_KEY,
		           back ? "migrate" : NULL);
	}
	return api_commit(t);
}

/* Is vm recorded as resident here (a decision taken before a restart)? */
static bool
mend_recorded_here(const char *vm)
{
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	bool here =
	    r && strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0;
	db_unlock();
	return here;
}

/* VM.pool_migrate_end(session, vm, commit, was_running), internal: the
 * hand-over at the destination. commit: run the VM here if it arrived
 * (again: the same answer); else drop it. OTHER_OPERATION_IN_PROGRESS:
 * not decided yet, ask again. */
static struct api_err *
mend_api(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	char uuid[37] = "", *msg = NULL;
	const char *vm;
	struct api_err *err = NULL;
	struct timespec dl;
	struct mig_in *m;
	xv *moved = NULL;
	int state;

	(void)ctx;
	(void)result;
	if (nargs != 3 || args[0]->type != XV_STRING ||
	    args[1]->type != XV_BOOL || args[2]->type != XV_BOOL)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "VM.pool_migrate_end", "3", "?", NULL);
	vm = args[0]->u.s;
	bool commit = args[1]->u.b, was_running = args[2]->u.b;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r)
		snprintf(uuid, sizeof(uuid), "%s", r->f[DMF_VM_uuid].s);
	db_unlock();
	if (!*uuid)
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += MIG_END_WAIT_S;
	pthread_mutex_lock(&mend_lock);
	while ((m = mend_find(uuid)) &&
	       (m->state == MIG_IN_LOADING || m->state == MIG_IN_ENDING) &&
	       pthread_cond_timedwait(&mend_cond, &mend_lock, &dl) == 0)
		;
	m = mend_find(uuid);
	state = m ? m->state : MIG_IN_NONE;
	if (state == MIG_IN_LOADED) {
		mend_set(m, MIG_IN_ENDING); /* not for mig_in_watch any more */
		moved = xv_dup(m->moved);
	}
	pthread_mutex_unlock(&mend_lock);
	if (state == MIG_IN_LOADING || state == MIG_IN_ENDING)
		return api_error(XE_OTHER_OPERATION_IN_PROGRESS, "VM", vm,
		                 NULL);
	if (state != MIG_IN_LOADED) {
		xv_free(moved);
		if (!commit)
			return NULL;
		if (state == MIG_IN_RUNS ||
		    (state == MIG_IN_NONE && mend_recorded_here(vm)))
			return NULL; /* asked again: it runs here */
		return api_internal("VM %s did not arrive here", uuid);
	}
	int next = MIG_IN_GONE;
	char *from = NULL;
	db_rdlock();
	if ((r = db_get(DMC_VM, vm)))
		from = xstrdup(r->f[DMF_VM_resident_on].s);
	db_unlock();
	if (commit && (err = mend_record(vm, moved, vm_cfg.host_ref, false)))
		log_warn("migrate",
		         "VM %s: cannot record the move: %s: dropped", uuid,
		         err->code);
	if (commit && !err) {
		next = MIG_IN_RUNS;
		if (vm_cfg.backend->migrate_end(uuid, true, was_running, &msg) <
		    0) {
			/* it does not run here: if it is surely gone, the
			 * source may resume it */
			log_err("migrate", "VM %s: recorded here, but: %s",
			        uuid, msg);
			free(msg);
			msg = NULL;
			if (vm_cfg.backend->migrate_end(uuid, false, false,
			                                &msg) == 0) {
				/* (the source puts right what is left) */
				api_err_free(
				    mend_record(vm, moved, from, true));
				next = MIG_IN_GONE;
				err = api_internal("VM %s could not run here",
				                   uuid);
			} /* else it stays recorded here, not resumed there */
		}
	} else if (vm_cfg.backend->migrate_end(uuid, false, false, &msg) < 0) {
		log_err("migrate", "VM %s: %s", uuid, msg);
	}
	free(from);
	free(msg);
	xv_free(moved);
	pthread_mutex_lock(&mend_lock);
	if ((m = mend_find(uuid)))
		mend_set(m, next);
	pthread_mutex_unlock(&mend_lock);
	return err;
}

/* Source: one VM.pool_migrate_end at the destination. */
static struct api_err *
mend_ask(const char *addr, const char *sid, const char *vm, bool commit)
{
	xv *p = xv_array(), *res = NULL;

	xv_push(p, xv_str(sid));
	xv_push(p, xv_str(vm));
	xv_push(p, xv_bool(commit));
	xv_push(p, xv_bool(true));
	struct api_err *e = pool_call_timeout(addr, "VM.pool_migrate_end", p,
	                                      MIG_END_CALL_MS, &res);
	xv_free(p);
	xv_free(res);
	/* fault point for tests (XAPID_FIST=migrate_end_drop_reply): the
	 * first answer that the VM runs there is lost on its way back */
	static int dropped;
	const char *f = getenv("XAPID_FIST");
	if (!e && commit && f && strstr(f, "migrate_end_drop_reply") &&
	    __atomic_exchange_n(&dropped, 1, __ATOMIC_SEQ_CST) == 0) {
		log_warn("migrate",
		         "fist: the destination's answer is dropped");
		e = api_error(XE_CANNOT_CONTACT_HOST, addr, NULL);
	}
	return e;
}

/* Source: is vm recorded on dest in this host's view of the database? */
static bool
mend_recorded_on(const char *vm, const char *dest)
{
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	bool there = r && strcmp(r->f[DMF_VM_resident_on].s, dest) == 0;
	db_unlock();
	return there;
}

void
mig_wait_recorded(const char *vm, const char *dest)
{
	for (int i = 0; i < 300 && !mend_recorded_on(vm, dest); i++)
		usleep(100000);
}

/* Source, the destination having dropped its copy: the record says the VM
 * is here (a move the destination recorded, then undid, may have reached
 * the master without the destination learning it). */
static void
mend_keep_here(const char *vm)
{
	if (mend_recorded_on(vm, vm_cfg.host_ref))
		return;
	struct db_txn *t = db_txn_begin();
	struct db_row *w = db_txn_edit(t, DMC_VM, vm);
	if (w)
		db_txn_set(t, w, DMF_VM_resident_on,
		           (union dm_val){.s = xstrdup(vm_cfg.host_ref)});
	api_err_free(api_commit(t));
}

enum mig_outcome
mig_handover(const char *vm, const char *uuid, const char *addr,
             const char *sid, const char *dest)
{
	time_t until = time(NULL) + MIG_DOUBT_S;
	bool doubt = false;

	for (;;) {
		struct api_err *e = mend_ask(addr, sid, vm, true);
		if (!e) {
			if (doubt)
				log_info("migrate",
				         "VM %s: the destination says it "
				         "runs there",
				         uuid);
			return MIG_MOVED;
		}
		bool again =
		    strcmp(e->code, "CANNOT_CONTACT_HOST") == 0 ||
		    strcmp(e->code, "OTHER_OPERATION_IN_PROGRESS") == 0;
		if (!again) {
			log_warn("migrate",
			         "VM %s: the destination did not take it (%s)",
			         uuid, e->n ? e->params[e->n - 1] : e->code);
			api_err_free(e);
			mend_keep_here(vm);
			return MIG_STAYS;
		}
		if (!doubt && strcmp(e->code, "CANNOT_CONTACT_HOST") == 0) {
			doubt = true;
			log_warn("migrate",
			         "VM %s: no answer from the destination "
			         "at the hand-over: asking again (the VM stays "
			         "stopped here meanwhile)",
			         uuid);
		}
		api_err_free(e);
		if (time(NULL) >= until)
			break;
		sleep(2);
	}
	/* settled by now at the destination either way: the database says
	 * which when the destination took it */
	mig_wait_recorded(vm, dest);
	if (mend_recorded_on(vm, dest)) {
		log_warn("migrate",
		         "VM %s: no answer, but it is recorded on the "
		         "destination: it runs there",
		         uuid);
		return MIG_MOVED;
	}
	log_err("migrate",
	        "VM %s: the destination never answered the "
	        "hand-over: left stopped here (it may run there)",
	        uuid);
	return MIG_UNKNOWN;
}

void
mig_end_register(void)
{
	api_register("VM.pool_migrate_end", mend_api, API_NO_ASYNC);
}

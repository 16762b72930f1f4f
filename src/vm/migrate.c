/*
 * migrate: live migration of a running VM between pool members
 * (VM.pool_migrate; xe vm-migrate vm= host= [live=]), on the backends'
 * migrate_send / migrate_receive / migrate_end (backend.h).
 *
 * The call runs on the host the VM runs on (the source; forwarded there
 * from the master when needed). The source checks the move
 * (host_assert_can_migrate: power state, PCI, the destination sees every
 * disk's SR, memory), marks the operation, gives the destination a
 * one-time token and a one-time key over the pool's TLS link, whose peer
 * certificate is checked against the destination's pin (internal call
 * VM.pool_migrate_prepare), and opens the stream: POST /migrate?token= on
 * the destination's plain HTTP listener with the VM and its device layout
 * in the body, then an HTTP upgrade, the socket going straight to QEMU on
 * both sides, which encrypt what goes through it with TLS-PSK under that
 * key (xapi sends memory to /services/xenops over http unless
 * migration_https_only is set; here it never travels in clear; the pool
 * secret never travels on this stream, and the token works once, for that
 * VM, within a minute; libmicrohttpd's own TLS upgrade stalls on such bulk
 * one-way streams, hence the plain listener). The destination builds the
 * VM from its replica of the database with the source's root ports and
 * starts it with its state coming from the stream. Once all was sent (the
 * return path says the destination loaded it), the source asks the
 * destination to run the VM (internal call VM.pool_migrate_end): the
 * destination records it resident there and runs it, and only then does the
 * source's QEMU quit (the hand-over, migrate_end.c: a lost answer is asked
 * for again, never guessed). Any failure before that leaves the VM running
 * on the source and nothing on the destination: VM_MIGRATE_FAILED.
 * The downtime QEMU measured goes to the log and, for an Async call, to
 * the task's other_config (migration_downtime_ms, migration_total_ms; when
 * the master forwarded the call, the source answers it with the figures and
 * the master, who keeps the task, notes them).
 * Storage migration (migrate_send.c) adds disk channels: the same POST with
 * {"vm", "nbd": disk id}, served by the backend's mirror_serve. The
 * connection helpers of the source are in migrate_link.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pool/pool.h"
#include "rpc/http.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/host_ops.h"
#include "vm/migrate_int.h"
#include "vm/vmspec.h"

#define MIG_TOKEN_S 60     /* a stream token is good for this long */
#define MIG_REPLICA_WAIT_S 30 /* destination: for its replica to show the VM   \
	                       */
#define MIG_TASK_KEY "xapid-forwarded" /* options: forwarded by the master */

/* ---- the destination ---- */

static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;

/* One-time tokens for POST /migrate: token -> VM, until expiry. */
struct mig_token {
	char token[65];
	char key[65]; /* the stream's TLS-PSK key, "" for none */
	char *vm;
	time_t expiry;
	struct mig_token *next;
};

static struct mig_token *mig_tokens;

/* The key of the next memory stream of a VM (from its token). */
struct mig_key {
	char *vm;
	char key[65];
	struct mig_key *next;
};

static struct mig_key *mig_keys;

char *
mig_key_take(const char *vm)
{
	char *k = NULL;

	pthread_mutex_lock(&mig_lock);
	for (struct mig_key **p = &mig_keys; *p; p = &(*p)->next)
		if (strcmp((*p)->vm, vm) == 0) {
			struct mig_key *x = *p;
			*p = x->next;
			k = x->key[0] ? xstrdup(x->key) : NULL;
			free(x->vm);
			free(x);
			break;
		}
	pthread_mutex_unlock(&mig_lock);
	return k;
}

/* VM.pool_migrate_prepare(session, vm, token), internal: the source's
 * stream for vm will come with token. */
static struct api_err *
mig_prepare_api(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)result;
	if (nargs < 2 || nargs > 3 || args[0]->type != XV_STRING ||
	    args[1]->type != XV_STRING || strlen(args[1]->u.s) != 64 ||
	    (nargs == 3 && (args[2]->type != XV_STRING ||
	                    (strlen(args[2]->u.s) != 64 && *args[2]->u.s))))
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "VM.pool_migrate_prepare", "3", "?", NULL);
	struct mig_token *t = xcalloc(1, sizeof(*t));
	snprintf(t->token, sizeof(t->token), "%s", args[1]->u.s);
	if (nargs == 3)
		snprintf(t->key, sizeof(t->key), "%s", args[2]->u.s);
	t->vm = xstrdup(args[0]->u.s);
	t->expiry = time(NULL) + MIG_TOKEN_S;
	pthread_mutex_lock(&mig_lock);
	/* drop expired ones */
	for (struct mig_token **p = &mig_tokens; *p;) {
		if ((*p)->expiry < time(NULL)) {
			struct mig_token *x = *p;
			*p = x->next;
			free(x->vm);
			free(x);
		} else {
			p = &(*p)->next;
		}
	}
	t->next = mig_tokens;
	mig_tokens = t;
	pthread_mutex_unlock(&mig_lock);
	return NULL;
}

/* http.c: does token admit this POST /migrate (consumed if so)? */
static bool
mig_token_ok(const char *token, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *vm = json_string_value(json_object_get(j, "vm"));
	bool ok = false;

	pthread_mutex_lock(&mig_lock);
	for (struct mig_token **p = &mig_tokens; *p; p = &(*p)->next) {
		struct mig_token *t = *p;
		if (strlen(token) != 64 || strcmp(t->token, token) != 0)
			continue;
		ok = vm && strcmp(t->vm, vm) == 0 && t->expiry >= time(NULL);
		*p = t->next;
		if (ok && !json_object_get(j, "nbd")) {
			/* the memory stream: its key for mig_serve */
			struct mig_key *k = xcalloc(1, sizeof(*k));
			k->vm = xstrdup(vm);
			memcpy(k->key, t->key, sizeof(k->key));
			k->next = mig_keys;
			mig_keys = k;
		}
		free(t->vm);
		free(t);
		break;
	}
	pthread_mutex_unlock(&mig_lock);
	json_decref(j);
	return ok;
}

/* Gives spec the root ports of the source's layout (by device id). */
static int
mig_apply_layout(struct vm_spec *spec, const struct vm_spec *lay, char **err)
{
	spec->nports = lay->nports;
	spec->balloon =
	    lay->balloon; /* a source QEMU from before it has none */
	for (size_t i = 0; i < spec->ndisks; i++) {
		size_t k = 0;
		while (k < lay->ndisks && strcmp(lay->disks[k].id, spec->disks[i].id) != 0)
			k++;
		if (k == lay->ndisks) {
			*err = xasprintf("disk %s is not attached at the source", spec->disks[i].id);
			return -1;
		}
		spec->disks[i].port = lay->disks[k].port;
	}
	for (size_t i = 0; i < spec->nnics; i++) {
		size_t k = 0;
		while (k < lay->nnics && strcmp(lay->nics[k].id, spec->nics[i].id) != 0)
			k++;
		if (k == lay->nnics) {
			*err = xasprintf("NIC %s is not plugged at the source", spec->nics[i].id);
			return -1;
		}
		spec->nics[i].port = lay->nics[k].port;
	}
	if (spec->ndisks != lay->ndisks || spec->nnics != lay->nnics) {
		*err = xstrdup("the source has devices the database does not list");
		return -1;
	}
	return 0;
}

/* The {old VDI: new VDI} object of a storage migration as a struct, or
 * NULL. */
static xv *
mig_moved_from_json(const json_t *o)
{
	const char *k;
	json_t *v;
	xv *m;

	if (!json_is_object(o) || json_object_size(o) == 0)
		return NULL;
	m = xv_struct();
	json_object_foreach((json_t *)o, k, v) if (json_is_string(v))
	    xv_set(m, k, xv_str(json_string_value(v)));
	return m;
}

/* A disk channel of a storage migration: the source's mirror of disk id
 * of vm comes over sock. */
static void
mig_serve_disk(int sock, const char *vm, const char *id)
{
	char uuid[37] = "", *msg = NULL;

	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r)
		snprintf(uuid, sizeof(uuid), "%s", r->f[DMF_VM_uuid].s);
	db_unlock();
	if (!*uuid || !vm_cfg.backend->mirror_serve) {
		log_warn("migrate", "disk channel for %s: %s", vm,
		         *uuid ? "this backend cannot take disks"
		               : "unknown VM");
		return;
	}
	/* the arrival (POST /migrate of the memory) must be under way */
	int state = MIG_IN_NONE;
	for (int i = 0; i < (MIG_REPLICA_WAIT_S + 30) * 10; i++) {
		if ((state = mig_in_state(uuid)) != MIG_IN_NONE)
			break;
		usleep(100000);
	}
	if (state != MIG_IN_LOADING) {
		log_warn("migrate", "VM %s: disk %s: no arrival under way",
		         uuid, id);
		return;
	}
	if (vm_cfg.backend->mirror_serve(uuid, sock, &msg) < 0)
		log_warn("migrate", "VM %s: disk %s: %s", uuid, id, msg);
	free(msg);
}

/* POST /migrate (http.c): body {"vm": ref, "layout": spec[, "vdis": {old
 * VDI: new VDI}]}, sock carries the VM's state; or {"vm": ref, "nbd":
 * disk id}, sock carries a disk's mirror (storage migration). */
static void
mig_serve(int sock, const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *vm = json_string_value(json_object_get(j, "vm"));
	struct vm_spec spec = {0}, lay = {0};
	struct api_err *e = NULL;
	char *msg = NULL, uuid[37] = "";
	xv *moved = NULL;
	char *psk = NULL;
	int rc = -1;

	if (vm && json_is_string(json_object_get(j, "copy"))) {
		mig_serve_copy(sock, vm,
		               json_string_value(json_object_get(j, "copy")));
		goto out;
	}
	if (vm && json_is_string(json_object_get(j, "nbd"))) {
		mig_serve_disk(sock, vm,
		               json_string_value(json_object_get(j, "nbd")));
		goto out;
	}
	if (!vm || vm_spec_from_json(json_object_get(j, "layout"), &lay, &msg) < 0) {
		log_warn("migrate", "POST /migrate: malformed request");
		goto out;
	}
	moved = mig_moved_from_json(json_object_get(j, "vdis"));
	psk = mig_key_take(vm);
	/* a slave's replica may not have the VM's latest records yet */
	for (int i = 0; i < MIG_REPLICA_WAIT_S * 10; i++) {
		db_rdlock();
		struct db_row *r = db_get(DMC_VM, vm);
		bool there = r && strcmp(r->f[DMF_VM_power_state].s, "Running") == 0;
		db_unlock();
		if (there)
			break;
		usleep(100000);
	}
	if (moved) /* read-only disks are copied first */
		mig_copies_wait();
	if ((e = vm_spec_build_moved(vm, &spec, true, moved))) {
		log_warn("migrate", "VM %s cannot be built here: %s", vm, e->code);
		goto out;
	}
	snprintf(uuid, sizeof(uuid), "%s", spec.uuid);
	spec.mig_psk = psk;
	psk = NULL;
	if (strcmp(uuid, lay.uuid) != 0 || mig_apply_layout(&spec, &lay, &msg) < 0) {
		log_warn("migrate", "VM %s: %s", vm, msg ? msg : "layout of another VM");
		goto out;
	}
	mig_in_begin(uuid, moved);
	moved = NULL;
	log_info("migrate", "VM %s arriving", uuid);
	rc = vm_cfg.backend->migrate_receive(&spec, sock, &msg);
	if (rc < 0)
		log_warn("migrate", "VM %s: receive failed: %s", uuid, msg);
	mig_in_loaded(uuid, rc == 0);
	if (rc == 0)
		mig_in_watch(uuid);
out:
	api_err_free(e);
	free(msg);
	free(psk);
	xv_free(moved);
	vm_spec_clear(&spec);
	vm_spec_clear(&lay);
	json_decref(j);
}

/* ---- the source ---- */
struct api_err *
mig_give_token(const char *addr, const char *sid, const char *vm,
               const char *dest, const char *key, char token[65])
{
	xv *pp, *res = NULL;
	struct api_err *err;

	if (mig_new_token(token) < 0)
		return mig_failed(vm, dest, "no random token");
	pp = xv_array();
	xv_push(pp, xv_str(sid));
	xv_push(pp, xv_str(vm));
	xv_push(pp, xv_str(token));
	xv_push(pp, xv_str(key));
	err = pool_call(addr, "VM.pool_migrate_prepare", pp, &res);
	xv_free(pp);
	xv_free(res);
	return err;
}

/* Storage migration: a disk channel per moving disk, each handed to the
 * backend's mirror, which returns once the disk is copied (in step). */
static struct api_err *
mig_mirror(const char *addr, const char *sid, const char *vm, const char *uuid,
           const char *dest, const char *key, const struct mig_move *mv)
{
	const struct vm_backend_ops *be = vm_cfg.backend;
	struct api_err *err = NULL;
	char token[65], *msg = NULL;

	if (!be->mirror_start || !be->mirror_abort)
		return mig_failed(
		    vm, dest, "this host's VM backend cannot copy disks live");
	for (size_t i = 0; i < mv->n && !err; i++) {
		if (mv->d[i].copy)
			continue;
		if ((err = mig_give_token(addr, sid, vm, dest, key, token)))
			break;
		json_t *b =
		    json_pack("{s:s, s:s}", "vm", vm, "nbd", mv->d[i].id);
		char *text = json_dumps(b, JSON_COMPACT);
		json_decref(b);
		int fd = mig_connect(addr, vm_cfg.http_port, token, text, &msg);
		free(text);
		if (fd < 0 ||
		    be->mirror_start(uuid, mv->d[i].id, fd, key, &msg) < 0)
			err = mig_failed(vm, dest, msg);
		if (fd >= 0)
			close(fd);
		free(msg);
		msg = NULL;
	}
	if (err)
		be->mirror_abort(uuid);
	return err;
}

struct api_err *
mig_run(const char *vm, const char *uuid, const char *dest, const char *addr,
        const struct mig_move *mv, struct vm_migrate_stats *out,
        enum mig_outcome *ocp)
{
	const struct vm_backend_ops *be = vm_cfg.backend;
	struct vm_migrate_stats st = {0};
	struct api_err *err = NULL;
	struct vm_spec lay;
	char *msg = NULL, token[65], key[65];
	xv *res = NULL;
	int fd;

	*ocp = MIG_STAYS;
	if (!be->migrate_send || !be->layout)
		return mig_failed(vm, dest, "this host's VM backend cannot migrate");
	if (vm_cfg.http_port <= 0)
		return mig_failed(vm, dest, "no plain HTTP listener for migration streams");
	if (be->layout(uuid, &lay, &msg) < 0) {
		err = mig_failed(vm, dest, msg);
		free(msg);
		return err;
	}
	json_t *body = json_pack("{s:s, s:o}", "vm", vm, "layout", vm_spec_to_json(&lay));
	if (mv && mv->n) {
		json_t *o = json_object();
		for (size_t i = 0; i < mv->n; i++)
			json_object_set_new(o, mv->d[i].vdi,
			                    json_string(mv->d[i].new_vdi));
		json_object_set_new(body, "vdis", o);
	}
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	vm_spec_clear(&lay);
	/* the streams are encrypted with a key of this migration's own
	 * (TLS-PSK), given to the destination over the pool's TLS link with the
	 * token */
	if (mig_new_token(key) < 0) {
		free(text);
		return mig_failed(vm, dest, "no random key");
	}
	char *sid = mig_session(addr, dest, &err);
	if (!sid) {
		free(text);
		return err;
	}
	if ((err = mig_give_token(addr, sid, vm, dest, key, token))) {
		free(text);
		mig_logout(addr, sid);
		return err;
	}
	fd = mig_connect(addr, vm_cfg.http_port, token, text, &msg);
	free(text);
	if (fd < 0) {
		err = mig_failed(vm, dest, msg);
		free(msg);
		mig_logout(addr, sid);
		return err;
	}
	int rc = 0;
	if (mv && mv->n &&
	    (err = mig_mirror(addr, sid, vm, uuid, dest, key, mv)))
		rc = -1;
	struct vm_migrate_opts o = {.psk = key};
	if (rc == 0)
		rc = be->migrate_send(uuid, fd, &o, &st, &msg);
	close(fd);
	enum mig_outcome oc = MIG_STAYS;
	if (rc < 0) {
		/* the destination drops what it got (or, unheard, gives it up
		 * after a while by itself) */
		xv *p = xv_array();
		xv_push(p, xv_str(sid));
		xv_push(p, xv_str(vm));
		xv_push(p, xv_bool(false));
		xv_push(p, xv_bool(true));
		api_err_free(pool_call(addr, "VM.pool_migrate_end", p, &res));
		xv_free(p);
		xv_free(res);
		if (!err)
			err = mig_failed(vm, dest, msg);
	} else if ((oc = mig_handover(vm, uuid, addr, sid, dest)) ==
	           MIG_STAYS) {
		if (be->migrate_end(uuid, false, true, &msg) < 0)
			log_err("migrate", "VM %s: cannot resume it here: %s", uuid, msg);
		else
			log_info("migrate", "VM %s: it stays here", uuid);
		err = mig_failed(vm, dest, "the destination could not run the VM");
	} else if (oc == MIG_UNKNOWN) {
		err = mig_failed(
		    vm, dest,
		    "the destination did not answer at the hand-over: "
		    "the VM is left stopped here and may run there");
	} else if (be->migrate_end(uuid, true, true, &msg) < 0) {
		/* it runs at the destination; the old process is the problem */
		log_err("migrate", "VM %s: migrated, but the old QEMU: %s", uuid, msg);
	}
	if (oc == MIG_MOVED)
		mig_wait_recorded(vm, dest);
	*ocp = oc;
	if (!err) {
		log_info("migrate", "VM %s now runs on %s: downtime %.0f ms, %.0f ms in all",
			 uuid, addr, st.downtime_ms, st.total_ms);
		*out = st;
	}
	free(msg);
	mig_logout(addr, sid);
	return err;
}

/* VM.pool_migrate(vm, host, options). */
static struct api_err *
mig_pool_migrate(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s, *dest = args[1]->u.s;
	char *here = NULL, uuid[37] = "", *opid = NULL, *addr = NULL;
	struct api_err *err = NULL;

	(void)nargs;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		here = xstrdup(r->f[DMF_VM_resident_on].s);
		snprintf(uuid, sizeof(uuid), "%s", r->f[DMF_VM_uuid].s);
	}
	db_unlock();
	if (!r)
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	/* the per-boot overlays of on_boot=reset disks live on this host */
	if ((err = vm_assert_persistent_disks(vm))) {
		free(here);
		return err;
	}
	if (strcmp(here, DM_NULL_REF) != 0 && strcmp(here, vm_cfg.host_ref) != 0) {
		/* it runs on another member: the call goes there */
		char *a = mig_host_address(here), *sid = NULL;
		if (!a) {
			err = api_error(XE_HOST_OFFLINE, here, NULL);
			free(here);
			return err;
		}
		if ((sid = mig_session(a, here, &err))) {
			xv *p = xv_array();
			xv_push(p, xv_str(sid));
			xv_push(p, xv_dup(args[0]));
			xv_push(p, xv_dup(args[1]));
			/* internal: the source answers with its figures */
			xv *o = xv_dup(args[2]);
			if (o->type == XV_STRUCT)
				xv_set(o, MIG_TASK_KEY, xv_str("1"));
			xv_push(p, o);
			err = pool_call(a, "VM.pool_migrate", p, result);
			xv_free(p);
			mig_logout(a, sid);
			/* the source's figures, for the task (the client gets void) */
			struct vm_migrate_stats st = {0};
			if (!err && *result && (*result)->type == XV_STRING &&
			    sscanf((*result)->u.s, "%lf %lf", &st.downtime_ms, &st.total_ms) == 2)
				mig_note_task(ctx->task, &st);
			xv_free(*result);
			*result = NULL;
		}
		free(a);
		free(here);
		return err;
	}
	free(here);
	if ((err = host_assert_can_migrate(vm, dest, NULL)))
		return err;
	if (strcmp(dest, vm_cfg.host_ref) == 0)
		return mig_failed(vm, dest, "the VM already runs on this host");
	if (!(addr = mig_host_address(dest)))
		return api_error(XE_HOST_OFFLINE, dest, NULL);
	if ((err = vm_op_begin(vm, "pool_migrate", "running", false, &opid))) {
		free(addr);
		return err;
	}
	const xv *tk = args[2]->type == XV_STRUCT ? xv_get(args[2], MIG_TASK_KEY) : NULL;
	struct vm_migrate_stats st = {0};
	enum mig_outcome oc;
	err = mig_run(vm, uuid, dest, addr, NULL, &st, &oc);
	if (!err && tk) /* forwarded by the master, who keeps the task */
		*result = xv_strf("%.0f %.0f", st.downtime_ms, st.total_ms);
	else if (!err)
		mig_note_task(ctx->task, &st);
	vm_op_end(vm, opid, NULL);
	free(opid);
	free(addr);
	return err;
}

void
vm_migrate_register(void)
{
	api_register("VM.pool_migrate", mig_pool_migrate, 0);
	mig_end_register();
	api_register("VM.pool_migrate_prepare", mig_prepare_api, API_NO_ASYNC);
	http_set_migrate_handler(mig_serve, mig_token_ok);
	mig_send_register();
}

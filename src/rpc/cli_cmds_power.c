/*
 * cli_cmds_power: the xe commands that change what a VM runs (vm-start,
 * vm-shutdown, vm-reboot, vm-pause, vm-unpause, vm-suspend, vm-resume,
 * vm-reset-powerstate) and those that duplicate one (vm-clone, vm-copy),
 * with what they stand on: do_vm_op (cli_vmop.h) and the waiter that
 * follows an Async task to its end (cli_operations.ml vm_start ... vm_copy,
 * waiter; cli_util.ml track, result_from_task).
 *
 * API errors are relayed as they come: a method the server does not serve
 * yet (VM.suspend, VM.copy) fails with MESSAGE_METHOD_UNKNOWN like any
 * other error.
 */
#include "rpc/cli_vmop.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/cli_conn.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Strings equal, NULL being equal to nothing. */
static bool
cli_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A context sharing ctx's session whose failures are its own (for calls
 * whose errors must not replace the command's, such as task.destroy). */
static struct cli_ctx
cli_side_ctx(const struct cli_ctx *ctx)
{
	struct cli_ctx d = *ctx;

	d.ekind = CLI_E_NONE;
	d.emsg = NULL;
	d.eapi = NULL;
	return d;
}

/* ---- wrap_op: the messages an operation raised ---- */

/* message-priority=: messages below it are shown (5 if absent or not an
 * integer, as wrap_op's Int64.of_string fallback). */
static long long
cli_msg_priority(struct cli_ctx *ctx)
{
	const char *v = cli_param(ctx, "message-priority");
	char *end;
	long long p;

	if (!v)
		return 5;
	errno = 0;
	p = strtoll(v, &end, 10);
	return end == v || *end || errno ? 5 : p;
}

/* Prints on stderr the messages about vm timestamped since `since` with a
 * priority below prio (format_message). */
static void
cli_vm_messages(struct cli_ctx *ctx, const char *vm, time_t since,
		long long prio)
{
	struct db_row **rows;
	const char *uuid;
	char **lines, ts[32];
	size_t n, k = 0;
	struct tm tm;

	db_rdlock();
	uuid = cli_ref_uuid(DMC_VM, vm);
	rows = db_list(DMC_message, &n);
	lines = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; uuid && i < n; i++) {
		const struct db_row *r = rows[i];
		time_t t = (time_t)r->f[DMF_message_timestamp].i;

		if (!cli_streq(r->f[DMF_message_cls].s, "VM") ||
		    !cli_streq(r->f[DMF_message_obj_uuid].s, uuid) ||
		    t < since || r->f[DMF_message_priority].i >= prio)
			continue;
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H:%M:%SZ", &tm);
		lines[k++] = xasprintf("Message: time=%s priority=%lld "
				       "name='%s'\n",
				       ts,
				       (long long)r->f[DMF_message_priority].i,
				       r->f[DMF_message_name].s
					       ? r->f[DMF_message_name].s
					       : "");
	}
	db_unlock();
	free(rows);
	for (size_t i = 0; i < k; i++) {
		cli_out_stderr(ctx->out, lines[i]);
		free(lines[i]);
	}
	free(lines);
}

struct cli_wrap {
	const struct cli_vm_op *op;
	long long prio;
};

/* wrap_op: the operation, then its messages (whatever its outcome is
 * not: an exception skips them in xapi too). */
static int
cli_wrapped(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_wrap *w = arg;
	time_t since = time(NULL);

	if (w->op->fn(ctx, vm, w->op->arg) < 0)
		return -1;
	cli_vm_messages(ctx, vm, since, w->prio);
	return 0;
}

int
cli_do_vm_op(struct cli_ctx *ctx, const struct cli_vm_op *op)
{
	struct cli_wrap w = {op, cli_msg_priority(ctx)};
	bool mult = false;
	char **vms;
	size_t n;
	int rc;

	if (cli_select_vms(ctx, op->control, op->templates, op->ignore, &vms,
			   &n) < 0)
		return -1;
	if (n == 0)
		rc = cli_fail(ctx, "No matching VMs found");
	else if (n > 1 && op->multiple &&
		 cli_param_bool(ctx, "multiple", false, &mult) < 0)
		rc = -1;
	else if (n > 1 && !mult)
		rc = cli_fail(ctx, "%s",
			      op->multiple
				      ? "Multiple matches VMs found. --multiple "
					"required to complete the operation"
				      : "Multiple matches VMs found. Operation "
					"can only be performed on one VM at a "
					"time");
	else
		rc = cli_do_multiple(ctx, vms, n, cli_wrapped, &w);
	cli_refs_free(vms, n);
	return rc;
}

/* ---- the waiter ---- */

/* True if the client has hung up (it sends nothing while it waits). */
static bool
cli_client_gone(struct cli_ctx *ctx)
{
	struct pollfd p;

	if (!ctx->conn)
		return false;
	p.fd = ctx->conn->io.fd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) > 0;
}

/* progress_bar: "\r NNN% c ####" for a task at progress p, on stderr. */
static void
cli_progress_bar(struct cli_ctx *ctx, double p)
{
	static const char anim[] = "|/-\\";
	char hashes[71], *line;
	int pct, nh;

	if (p < 0)
		p = 0;
	if (p > 1)
		p = 1;
	pct = (int)(p * 100.);
	nh = (int)(p * 70.);
	memset(hashes, '#', (size_t)nh);
	hashes[nh] = '\0';
	line = xasprintf("\r %3d%% %c %s", pct, anim[pct % 4], hashes);
	cli_out_stderr(ctx->out, line);
	free(line);
}

/* The error a failed task recorded (read lock held). */
static struct api_err *
cli_task_error(const struct db_row *r)
{
	const struct dm_coll *ei = r->f[DMF_task_error_info].c;
	const char **p;
	struct api_err *e;

	if (!ei || ei->n == 0)
		return NULL;
	p = xcalloc(ei->n, sizeof(char *));
	for (size_t i = 1; i < ei->n; i++)
		p[i - 1] = ei->v[i].s;
	e = api_error_raw(ei->v[0].s, p, ei->n - 1);
	free(p);
	return e;
}

/*
 * xapi's waiter: follows task until it leaves "pending" (with progress=,
 * a progress bar on stderr at each change of the task while it runs),
 * destroys it, and makes its outcome the operation's: the task's error as
 * the API error, TASK_CANCELLED if it was cancelled. Returns 0 or -1.
 */
static int
cli_waiter(struct cli_ctx *ctx, const char *task)
{
	bool bar = cli_args_has(ctx->args, "progress"), first = true;
	struct api_err *terr = NULL;
	struct cli_ctx side;
	char status[16] = "";
	uint64_t gen, mtime = 0, seen = 0;
	int rc = 0;

	for (;;) {
		const struct db_row *r;
		double progress = 0;

		db_rdlock();
		if ((r = db_get(DMC_task, task))) {
			snprintf(status, sizeof(status), "%s",
				 r->f[DMF_task_status].s);
			progress = r->f[DMF_task_progress].f;
			mtime = r->mtime;
			if (strcmp(status, "failure") == 0)
				terr = cli_task_error(r);
		}
		gen = db_generation();
		db_unlock();
		if (!r) {
			rc = cli_fail_api(ctx, api_error(XE_HANDLE_INVALID,
							 "task", task, NULL));
			break;
		}
		if (strcmp(status, "pending") != 0)
			break;
		if (bar && (first || mtime != seen))
			cli_progress_bar(ctx, progress);
		first = false;
		seen = mtime;
		if (cli_client_gone(ctx)) {
			rc = cli_fail_failure(ctx, "client went away");
			break;
		}
		db_wait(gen, 1.0);
	}
	if (bar)
		cli_out_stderr(ctx->out, "\n");
	if (rc == 0 && strcmp(status, "success") != 0) {
		if (terr)
			rc = cli_fail_api(ctx, terr);
		else if (strcmp(status, "failure") == 0)
			rc = cli_fail_failure(ctx,
					      "Task failed but no error "
					      "recorded: %s",
					      task);
		else
			rc = cli_fail_api(ctx, api_error(XE_TASK_CANCELLED,
							 task, NULL));
		terr = NULL;
	}
	api_err_free(terr);
	side = cli_side_ctx(ctx);
	cli_call(&side, "task.destroy", NULL, xv_str(task), NULL);
	cli_fail_clear(&side);
	return rc;
}

/* Calls an Async method with up to four arguments (the unused ones NULL;
 * all taken) and waits for its task. */
static int
cli_async(struct cli_ctx *ctx, const char *method, xv *a0, xv *a1, xv *a2,
	  xv *a3)
{
	xv *args[4] = {a0, a1, a2, a3}, *task = NULL;
	size_t n = 0;
	int rc;

	while (n < 4 && args[n])
		n++;
	rc = cli_callv(ctx, method, &task, args, n);
	for (size_t i = 0; i < n; i++)
		xv_free(args[i]);
	if (rc < 0)
		return -1;
	if (!task || task->type != XV_STRING)
		rc = cli_fail_failure(ctx, "%s returned no task", method);
	else
		rc = cli_waiter(ctx, task->u.s);
	xv_free(task);
	return rc;
}

/* ---- starting ---- */

/* get_host_by_name_or_id: the first host whose name-label or uuid is
 * name. Returns a malloc'd ref or NULL after recording the failure. */
static char *
cli_host_by_name_or_id(struct cli_ctx *ctx, const char *name)
{
	struct db_row **rows;
	char *ref = NULL;
	size_t n;

	db_rdlock();
	rows = db_list(DMC_host, &n);
	for (size_t i = 0; i < n && !ref; i++)
		if (cli_streq(rows[i]->f[DMF_host_name_label].s, name) ||
		    cli_streq(rows[i]->f[DMF_host_uuid].s, name))
			ref = xstrdup(rows[i]->ref);
	db_unlock();
	free(rows);
	if (!ref)
		cli_fail(ctx, "Host %s not found", name);
	return ref;
}

/* "uuid (name-label)" of a ref, or the ref itself (Cli_util.ref_convert;
 * read lock held). */
static char *
cli_ref_text(const char *ref)
{
	int cls = db_ref_class(ref);
	const char *uuid = cls >= 0 ? cli_ref_uuid(cls, ref) : NULL;
	const char *name = uuid ? cli_ref_name(cls, ref) : NULL;

	if (!uuid)
		return xstrdup(ref);
	return name ? xasprintf("%s (%s)", uuid, name) : xstrdup(uuid);
}

/* print_assert_exception: why a host cannot boot a VM. */
static char *
cli_assert_text(const struct api_err *e)
{
	static const struct {
		const char *code, *text;
		int ref; /* 1-based parameter shown after text, or 0 */
	} known[] = {
		{"VM_REQUIRES_SR", "VM requires access to SR: ", 2},
		{"HOST_DISABLED", "Host disabled (use 'xe host-enable' to "
				  "re-enable)", 0},
		{"HOST_DISABLED_UNTIL_REBOOT", "Host disabled indefinitely "
					       "(use 'xe host-enable' to "
					       "re-enable)", 0},
		{"HOST_NOT_LIVE", "Host down", 0},
		{"HOST_NOT_ENOUGH_FREE_MEMORY", "Not enough free memory", 0},
		{"VM_REQUIRES_NETWORK", "VM requires access to network: ", 2},
		{"HOST_CANNOT_ATTACH_NETWORK", "Host cannot attach to network: ",
		 2},
		{"VM_HVM_REQUIRED", "HVM not supported", 0},
	};
	struct buf b = BUF_INIT;
	char *conv;

	if (strcmp(e->code, "HOST_NOT_ENOUGH_PCPUS") == 0 && e->n == 2)
		return xasprintf("Not enough CPUs (VM needs %s, but host has "
				 "%s)", e->params[0], e->params[1]);
	if (strcmp(e->code, "INVALID_VALUE") == 0 && e->n == 2)
		return xasprintf("Field has invalid value: %s = %s",
				 e->params[0], e->params[1]);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(known[i].code, e->code) != 0)
			continue;
		if (!known[i].ref)
			return xstrdup(known[i].text);
		if ((size_t)known[i].ref > e->n)
			return xasprintf("%s<server did not provide "
					 "reference>", known[i].text);
		db_rdlock();
		conv = cli_ref_text(e->params[known[i].ref - 1]);
		db_unlock();
		buf_addf(&b, "%s%s", known[i].text, conv);
		free(conv);
		return buf_steal(&b);
	}
	buf_addf(&b, "Server_error(%s, [ ", e->code);
	for (size_t i = 0; i < e->n; i++)
		buf_addf(&b, "%s%s", i ? "; " : "", e->params[i]);
	buf_adds(&b, " ])");
	return buf_steal(&b);
}

/* hook_no_hosts_available: when starting vm failed with
 * NO_HOSTS_AVAILABLE, a table of each host's reason (the failure stays
 * the command's). */
static void
cli_no_hosts_report(struct cli_ctx *ctx, const char *vm)
{
	static const char *const intro[] = {
		"There are no suitable hosts to start this VM on.",
		("The following table provides per-host reasons for why the VM "
		 "could not be started:"),
		""};
	struct cli_table_rec rec = {0};
	struct db_row **rows;
	char **hosts, **names;
	size_t n;

	if (ctx->ekind != CLI_E_API ||
	    strcmp(ctx->eapi->code, "NO_HOSTS_AVAILABLE") != 0)
		return;
	cli_out_list(ctx->out, intro, 3);
	db_rdlock();
	rows = db_list(DMC_host, &n);
	hosts = xcalloc(n + 1, sizeof(char *));
	names = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *nl = rows[i]->f[DMF_host_name_label].s;

		hosts[i] = xstrdup(rows[i]->ref);
		names[i] = xstrdup(nl ? nl : "");
	}
	db_unlock();
	free(rows);
	for (size_t i = 0; i < n; i++) {
		struct cli_ctx side = cli_side_ctx(ctx);
		char *why;

		if (cli_call(&side, "VM.assert_can_boot_here", NULL, xv_str(vm),
			     xv_str(hosts[i]), NULL) == 0) {
			cli_rec_add(&rec, names[i], "OK");
		} else {
			why = side.eapi ? cli_assert_text(side.eapi)
					: xstrdup(side.emsg ? side.emsg : "");
			cli_rec_add_own(&rec, xstrdup(names[i]),
					xasprintf("Cannot start here [%s]", why));
			free(why);
		}
		cli_fail_clear(&side);
	}
	cli_out_table(ctx->out, &rec, 1);
	cli_rec_free(&rec);
	cli_refs_free(hosts, n);
	cli_refs_free(names, n);
}

struct cli_start {
	const char *on; /* on=, or NULL */
	bool paused, force;
};

static int
cli_start_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_start *s = arg;
	char *host;
	int rc;

	if (!s->on) {
		rc = cli_async(ctx, "Async.VM.start", xv_str(vm),
			       xv_bool(s->paused), xv_bool(s->force), NULL);
	} else if ((host = cli_host_by_name_or_id(ctx, s->on))) {
		rc = cli_async(ctx, "Async.VM.start_on", xv_str(vm),
			       xv_str_own(host), xv_bool(s->paused),
			       xv_bool(s->force));
	} else {
		return -1;
	}
	if (rc < 0)
		cli_no_hosts_report(ctx, vm);
	return rc;
}

static int
cli_cmd_vm_start(struct cli_ctx *ctx)
{
	struct cli_start s = {cli_param(ctx, "on"), false, false};
	struct cli_vm_op op = {true, false, true, L("on", "paused", "progress"),
			       cli_start_one, &s};

	if (cli_param_bool(ctx, "force", false, &s.force) < 0 ||
	    cli_param_bool(ctx, "paused", false, &s.paused) < 0)
		return -1;
	return cli_do_vm_op(ctx, &op);
}

static int
cli_resume_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_start *s = arg;
	char *host;
	int rc;

	if (s->on) {
		if (!(host = cli_host_by_name_or_id(ctx, s->on)))
			return -1;
		return cli_async(ctx, "Async.VM.resume_on", xv_str(vm),
				 xv_str_own(host), xv_bool(false),
				 xv_bool(s->force));
	}
	rc = cli_async(ctx, "Async.VM.resume", xv_str(vm), xv_bool(false),
		       xv_bool(s->force), NULL);
	if (rc < 0)
		cli_no_hosts_report(ctx, vm);
	return rc;
}

static int
cli_cmd_vm_resume(struct cli_ctx *ctx)
{
	struct cli_start s = {cli_param(ctx, "on"), false, false};
	struct cli_vm_op op = {false, false, true, L("on", "progress"),
			       cli_resume_one, &s};

	if (cli_param_bool(ctx, "force", false, &s.force) < 0)
		return -1;
	return cli_do_vm_op(ctx, &op);
}

/* ---- operations of one call ---- */

struct cli_method {
	const char *name; /* "VM.pause", or "Async.VM..." to wait for */
};

static int
cli_method_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_method *m = arg;

	if (strncmp(m->name, "Async.", 6) == 0)
		return cli_async(ctx, m->name, xv_str(vm), NULL, NULL, NULL);
	return cli_call(ctx, m->name, NULL, xv_str(vm), NULL);
}

/* do_vm_op over the VM selectors calling method on each VM. */
static int
cli_vm_method(struct cli_ctx *ctx, const char *method,
	      const char *const *ignore)
{
	struct cli_method m = {method};
	struct cli_vm_op op = {false, false, true, ignore, cli_method_one, &m};

	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_vm_shutdown(struct cli_ctx *ctx)
{
	bool force;

	if (cli_param_bool(ctx, "force", false, &force) < 0)
		return -1;
	return cli_vm_method(ctx,
			     force ? "Async.VM.hard_shutdown"
				   : "Async.VM.clean_shutdown",
			     L("progress"));
}

static int
cli_cmd_vm_reboot(struct cli_ctx *ctx)
{
	bool force;

	if (cli_param_bool(ctx, "force", false, &force) < 0)
		return -1;
	return cli_vm_method(ctx, force ? "VM.hard_reboot" : "VM.clean_reboot",
			     NULL);
}

static int
cli_cmd_vm_pause(struct cli_ctx *ctx)
{
	return cli_vm_method(ctx, "VM.pause", NULL);
}

static int
cli_cmd_vm_unpause(struct cli_ctx *ctx)
{
	return cli_vm_method(ctx, "VM.unpause", NULL);
}

static int
cli_cmd_vm_suspend(struct cli_ctx *ctx)
{
	return cli_vm_method(ctx, "Async.VM.suspend", L("progress"));
}

static int
cli_cmd_vm_reset_powerstate(struct cli_ctx *ctx)
{
	bool force;

	if (cli_param_bool(ctx, "force", false, &force) < 0)
		return -1;
	if (!force)
		return cli_fail(ctx, "This operation is dangerous and may cause "
				     "data loss. This operation must be forced "
				     "(use --force).");
	return cli_vm_method(ctx, "VM.power_state_reset", NULL);
}

/* ---- clone and copy ---- */

struct cli_dup {
	const char *name;   /* new-name-label */
	const char *method; /* VM.clone, VM.snapshot, VM.checkpoint, ... */
	char *sr;           /* VM.copy's SR (maybe OpaqueRef:NULL), or NULL */
	char **made;      /* refs of the new VMs */
	size_t n;
};

static int
cli_dup_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	struct cli_dup *d = arg;
	xv *res = NULL;
	int rc;

	if (strcmp(d->method, "VM.snapshot") == 0)
		rc = cli_call(ctx, d->method, &res, xv_str(vm), xv_str(d->name), xv_array(),
			      NULL);
	else if (d->sr)
		rc = cli_call(ctx, d->method, &res, xv_str(vm), xv_str(d->name),
			      xv_str(d->sr), NULL);
	else
		rc = cli_call(ctx, d->method, &res, xv_str(vm), xv_str(d->name), NULL);
	if (rc == 0 && (!res || res->type != XV_STRING))
		rc = cli_fail_failure(ctx, "%s returned no VM", d->method);
	if (rc == 0) {
		d->made = xrealloc(d->made, (d->n + 1) * sizeof(char *));
		d->made[d->n++] = xstrdup(res->u.s);
	}
	xv_free(res);
	return rc;
}

/*
 * vm_clone_aux / vm_copy: the new VMs (in do_multiple's order: the last
 * made first), new-name-description= set on the first of them, their
 * uuids printed.
 */
static int
cli_dup(struct cli_ctx *ctx, struct cli_vm_op *op, struct cli_dup *d)
{
	const char *desc = cli_param(ctx, "new-name-description");
	char **uuids;
	int rc;

	op->fn = cli_dup_one;
	op->arg = d;
	rc = cli_do_vm_op(ctx, op);
	for (size_t i = 0; i < d->n / 2; i++) {
		char *t = d->made[i];

		d->made[i] = d->made[d->n - 1 - i];
		d->made[d->n - 1 - i] = t;
	}
	if (rc == 0 && desc && d->n)
		rc = cli_call(ctx, "VM.set_name_description", NULL,
			      xv_str(d->made[0]), xv_str(desc), NULL);
	if (rc == 0) {
		uuids = xcalloc(d->n + 1, sizeof(char *));
		db_rdlock();
		for (size_t i = 0; i < d->n; i++) {
			const char *u = cli_ref_uuid(DMC_VM, d->made[i]);

			uuids[i] = xstrdup(u ? u : CLI_NID);
		}
		db_unlock();
		cli_out_list(ctx->out, (const char *const *)uuids, d->n);
		cli_refs_free(uuids, d->n);
	}
	cli_refs_free(d->made, d->n);
	free(d->sr);
	return rc;
}

/* vm-clone, vm-snapshot, vm-snapshot-with-quiesce and vm-checkpoint differ
 * only in the call they make. */
static int
cli_dup_simple(struct cli_ctx *ctx, const char *method)
{
	struct cli_dup d = {cli_param(ctx, "new-name-label"), method, NULL, NULL, 0};
	struct cli_vm_op op = {false, true, true,
			       L("new-name-label", "new-name-description",
				 "ignore-vdi-uuids"),
			       NULL, NULL};

	return cli_dup(ctx, &op, &d);
}

static int
cli_cmd_vm_clone(struct cli_ctx *ctx)
{
	return cli_dup_simple(ctx, "VM.clone");
}

static int
cli_cmd_vm_snapshot(struct cli_ctx *ctx)
{
	return cli_dup_simple(ctx, "VM.snapshot");
}

static int
cli_cmd_vm_snapshot_quiesce(struct cli_ctx *ctx)
{
	return cli_dup_simple(ctx, "VM.snapshot_with_quiesce");
}

static int
cli_cmd_vm_checkpoint(struct cli_ctx *ctx)
{
	return cli_dup_simple(ctx, "VM.checkpoint");
}

static int
cli_cmd_vm_copy(struct cli_ctx *ctx)
{
	struct cli_dup d = {cli_param(ctx, "new-name-label"), "VM.copy", NULL, NULL, 0};
	struct cli_vm_op op = {false, true, false,
			       L("new-name-label", "sr-uuid",
				 "new-name-description"),
			       NULL, NULL};
	const char *sr = cli_param(ctx, "sr-uuid");

	if (!sr)
		d.sr = xstrdup(DM_NULL_REF);
	else if (!(d.sr = cli_ref_by_uuid(ctx, DMC_SR, sr)))
		return -1;
	return cli_dup(ctx, &op, &d);
}


/* ---- the command table (cli_frontend.ml cmdtable_data) ---- */

#define VMSEL (CLI_CMD_STANDARD | CLI_CMD_VM_SEL)

const struct cli_cmd cli_power_cmds[] = {
	{"vm-start", NULL, L("force", "on", "paused"),
	 "Start the selected VM(s). Where pooling is enabled, the host on "
	 "which to start can be specified with the 'on' parameter that takes "
	 "a uuid. The optional parameter '--force' will bypass any "
	 "hardware-compatibility warnings.",
	 cli_cmd_vm_start, VMSEL, NULL},
	{"vm-shutdown", NULL, L("force"),
	 "Shutdown the selected VM(s). The optional argument --force will "
	 "forcibly shut down the VM.",
	 cli_cmd_vm_shutdown, VMSEL, NULL},
	{"vm-reboot", NULL, L("force"), "Reboot the selected VM(s).",
	 cli_cmd_vm_reboot, VMSEL, NULL},
	{"vm-pause", NULL, NULL,
	 "Pause a running VM. Note this operation does not free the "
	 "associated memory (see 'vm-suspend').",
	 cli_cmd_vm_pause, VMSEL, NULL},
	{"vm-unpause", NULL, NULL, "Unpause a paused VM.", cli_cmd_vm_unpause,
	 VMSEL, NULL},
	{"vm-suspend", NULL, NULL, "Suspend the selected VM(s).",
	 cli_cmd_vm_suspend, VMSEL, NULL},
	{"vm-resume", NULL, L("force", "on"), "Resume the selected VM(s).",
	 cli_cmd_vm_resume, VMSEL, NULL},
	{"vm-reset-powerstate", NULL, L("force"),
	 "Force the VM powerstate to halted in the management toolstack "
	 "database only. This command is used to recover a VM that is marked "
	 "as 'running', but is known to be on a dead slave host that will not "
	 "recover. This is a potentially dangerous operation: you must ensure "
	 "that the VM you are forcing to 'halted' is definitely not running "
	 "anywhere.",
	 cli_cmd_vm_reset_powerstate, VMSEL, NULL},
	{"vm-clone", L("new-name-label"), L("new-name-description"),
	 "Clone an existing VM, using storage-level fast disk clone operation "
	 "where available.",
	 cli_cmd_vm_clone, VMSEL, NULL},
	{"vm-snapshot", L("new-name-label"), L("new-name-description", "ignore-vdi-uuids"),
	 "Snapshot an existing VM, using storage-level fast disk snapshot "
	 "operation where available.",
	 cli_cmd_vm_snapshot, VMSEL, NULL},
	{"vm-snapshot-with-quiesce", L("new-name-label"), L("new-name-description"),
	 "Snapshot an existing VM with quiesce, using storage-level fast disk "
	 "snapshot operation where available.",
	 cli_cmd_vm_snapshot_quiesce, CLI_CMD_VM_SEL, NULL},
	{"vm-checkpoint", L("new-name-label"), L("new-name-description"),
	 "Checkpoint an existing VM, using storage-level fast disk snapshot "
	 "operation where available.",
	 cli_cmd_vm_checkpoint, VMSEL, NULL},
	{"vm-copy", L("new-name-label"), L("new-name-description", "sr-uuid"),
	 "Copy an existing VM, but without using storage-level fast disk "
	 "clone operation (even if this is available). The disk images of the "
	 "copied VM are guaranteed to be 'full images' - i.e. not part of a "
	 "CoW chain.",
	 cli_cmd_vm_copy, VMSEL, NULL},
};

const size_t cli_power_ncmds = sizeof(cli_power_cmds) / sizeof(cli_power_cmds[0]);

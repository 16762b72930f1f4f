/* cli_cmds_pool: pool-dump-database, pool-restore-database (cli_util.ml
 * track_http_operation) and event-wait (cli_operations.ml event_wait). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/cli_conn.h"
#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

/* Seconds xapi announces before a restored database takes over
 * (Constants.db_restore_fuse_time, printed with OCaml's string_of_float). */
#define CLI_RESTORE_FUSE "30."
/* How long to wait for the HTTP handler to finish its task once the
 * client reports success, and after it reports failure. */
#define CLI_TASK_WAIT_OK 120.0
#define CLI_TASK_WAIT_FAILED 1.0

static double
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to timeout seconds for task to leave "pending". On return
 * *err is the task's error (NULL if it succeeded or is still pending or
 * gone) and the result says whether it finished. */
static bool
cli_task_wait(const char *task, double timeout, struct api_err **err, char **result)
{
	double end = cli_now() + timeout;
	const struct db_row *r;
	bool done = false;
	uint64_t gen;

	*err = NULL;
	for (;;) {
		db_rdlock();
		r = db_get(DMC_task, task);
		if (r && strcmp(r->f[DMF_task_status].s, "pending") != 0) {
			const struct dm_coll *ei = r->f[DMF_task_error_info].c;

			done = true;
			if (result && strcmp(r->f[DMF_task_status].s, "success") == 0)
				*result = xstrdup(r->f[DMF_task_result].s);
			if (strcmp(r->f[DMF_task_status].s, "success") != 0) {
				const char **p = xcalloc(ei ? ei->n : 1,
							 sizeof(char *));
				for (size_t i = 1; ei && i < ei->n; i++)
					p[i - 1] = ei->v[i].s;
				*err = ei && ei->n
					       ? api_error_raw(ei->v[0].s, p,
							       ei->n - 1)
					       : api_error(XE_INTERNAL_ERROR,
							   NULL);
				free(p);
			}
		}
		gen = db_generation();
		db_unlock();
		if (done || !r || cli_now() >= end)
			return done;
		db_wait(gen, end - cli_now());
	}
}

/*
 * track_http_operation: creates a task, tells the client to transfer
 * file to/from path?session_id=..&task_id=..<extra>, waits for the
 * client and for the task, destroys the task. Returns 0 or -1.
 */
int
cli_track_http(struct cli_ctx *ctx, bool put, const char *file,
	       const char *path, const char *extra, const char *label)
{
	return cli_track_http_result(ctx, put, file, path, extra, label, NULL);
}

int
cli_track_http_result(struct cli_ctx *ctx, bool put, const char *file,
		      const char *path, const char *extra, const char *label,
		      char **result)
{
	struct api_err *terr = NULL;
	xv *task = NULL;
	char *url;
	int ok, rc = 0;

	if (!ctx->conn)
		return cli_fail_failure(ctx, "no client connection");
	if (cli_call(ctx, "task.create", &task, xv_str(label), xv_str(""),
		     NULL) < 0)
		return -1;
	url = xasprintf("%s?session_id=%s&task_id=%s%s", path,
			ctx->api->session, task->u.s, extra);
	ok = put ? cli_conn_http_put(ctx->conn, file, url)
		 : cli_conn_http_get(ctx->conn, file, url);
	free(url);
	if (ok == 0) {
		if (!cli_task_wait(task->u.s, CLI_TASK_WAIT_OK, &terr, result))
			rc = cli_fail_api(ctx, api_error(XE_INTERNAL_ERROR,
							 NULL));
		else if (terr)
			rc = cli_fail_api(ctx, terr);
	} else if (ctx->conn->broken) {
		rc = cli_fail_failure(ctx, "%s", ctx->conn->err);
	} else {
		cli_task_wait(task->u.s, CLI_TASK_WAIT_FAILED, &terr, NULL);
		rc = cli_fail_api(ctx, terr ? terr
					    : api_error_raw("CLIENT_ERROR", NULL, 0));
	}
	{
		struct cli_ctx d = *ctx;

		d.ekind = CLI_E_NONE;
		d.emsg = NULL;
		d.eapi = NULL;
		cli_call(&d, "task.destroy", NULL, xv_str(task->u.s), NULL);
		cli_fail_clear(&d);
	}
	xv_free(task);
	return rc;
}

int
cli_cmd_pool_dump_db(struct cli_ctx *ctx)
{
	return cli_track_http(ctx, false, cli_param(ctx, "file-name"),
			      "/pool/xmldbdump", "", "dump database");
}

int
cli_cmd_pool_restore_db(struct cli_ctx *ctx)
{
	bool dry = cli_args_has(ctx->args, "dry-run");

	if (!cli_args_has(ctx->args, "force") && !dry)
		return cli_fail(ctx, "This operation will restore the database "
				     "backup to this host, making it the "
				     "master. All slave hosts are assumed dead "
				     "and they will be forgotten. This "
				     "operation must be forced (use --force).");
	if (cli_track_http(ctx, true, cli_param(ctx, "file-name"),
			   "/pool/xmldbdump",
			   dry ? "&dry_run=true" : "&dry_run=false",
			   "restore database") < 0)
		return -1;
	cli_out_line(ctx->out, dry ? "Dry-run backup restore successful"
				   : "Host will reboot with restored database "
				     "in " CLI_RESTORE_FUSE " seconds...");
	return 0;
}

/* ---- event-wait ---- */

/* True if the client has hung up (nothing else may arrive now). */
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

/* Whether some row of c satisfies every key=value (or key=/=value)
 * condition; -1 with a failure for a missing key. Read lock held. */
static int
cli_event_match(struct cli_ctx *ctx, const struct cli_class *c)
{
	const struct cli_args *a = ctx->args;
	struct db_row **rows;
	struct buf b = BUF_INIT;
	size_t n;
	int found = 0;

	rows = db_list(c->cls, &n);
	for (size_t i = 0; i < n && !found; i++) {
		bool all = true;

		for (size_t j = 0; j < a->n && all; j++) {
			const char *k = a->kv[j].k, *v = a->kv[j].v;
			const struct cli_fdef *f;
			bool neq = strncmp(v, "/=", 2) == 0;

			if (strcmp(k, "class") == 0 || cli_args_is_std(k))
				continue;
			if (!(f = cli_field_find(c, k))) {
				free(rows);
				buf_free(&b);
				return cli_fail(ctx, "key missing: %s", k);
			}
			buf_reset(&b);
			cli_field_text(c, f, rows[i], &b);
			all = (strcmp(b.data, neq ? v + 2 : v) == 0) != neq;
		}
		found = all;
	}
	free(rows);
	buf_free(&b);
	return found;
}

int
cli_cmd_event_wait(struct cli_ctx *ctx)
{
	static const char *const classes[] = {
		"vm",	"vdi",	"sr",	   "host",    "network",
		"vif",	"pif",	"vbd",	   "pbd",     "pool",
		"task", "subject", "role", "secret", "vmss"};
	const char *name = cli_param(ctx, "class");
	const struct cli_class *c = NULL;
	uint64_t gen;
	int m;

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(classes[i], name) == 0)
			c = cli_class_find(name);
	if (!c)
		return cli_fail(ctx, "Cli listening for class '%s' not currently "
				     "implemented", name);
	for (;;) {
		db_rdlock();
		m = cli_event_match(ctx, c);
		gen = db_generation();
		db_unlock();
		if (m != 0)
			return m < 0 ? -1 : 0;
		if (cli_client_gone(ctx))
			return cli_fail_failure(ctx, "client went away");
		db_wait(gen, 1.0);
	}
}

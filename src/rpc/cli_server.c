/* cli_server: one xe invocation, from the handshake to the exit code
 * (xapi_cli.ml handler, exec_command, do_rpcs). */
#include "rpc/cli_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/pool.h"
#include "rpc/cli_cmd.h"
#include "rpc/cli_conn.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

static int
cli_srv_print(void *arg, const char *text)
{
	return cli_conn_print(arg, text);
}

static int
cli_srv_printerr(void *arg, const char *text)
{
	return cli_conn_printerr(arg, text);
}

static int
cli_srv_error(void *arg, const char *code, const char *const *params,
	      size_t n)
{
	return cli_conn_error(arg, code, params, n);
}

/* True if the value of parameter key of command cmd must not be logged
 * (xapi's commands_and_params_to_hide). */
static bool
cli_censored(const char *cmd, const char *key)
{
	size_t cl = strlen(cmd);

	if (strcasestr(key, "password") || strcmp(key, "url") == 0)
		return true;
	if (strcmp(cmd, "user-password-change") == 0 &&
	    (strcmp(key, "old") == 0 || strcmp(key, "new") == 0))
		return true;
	if (strcasestr(cmd, "secret") &&
	    (strcmp(key, "value") == 0 || strcasestr(key, "secret")))
		return true;
	if (cl >= 4 && strcmp(cmd + cl - 4, "auth") == 0 &&
	    strcmp(key, "config:pass") == 0)
		return true;
	if (strcmp(cmd, "host-call-plugin") == 0 && strncmp(key, "args", 4) == 0)
		return true;
	return strcmp(cmd, "pool-sync-updates") == 0 && strcmp(key, "token") == 0;
}

/* Logs the command line, hiding secrets; reads at debug level. */
static void
cli_log_command(const struct cli_args *a, const char *origin)
{
	static const char *const dull[] = {"help", "-get", "-list"};
	struct buf b = BUF_INIT;
	size_t cl = strlen(a->cmd);
	bool debug = false;

	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(dull[i]);
		debug = debug || (cl >= l && strcmp(a->cmd + cl - l, dull[i]) == 0);
	}
	buf_addf(&b, "xe %s", a->cmd);
	for (size_t i = 0; i < a->n; i++)
		buf_addf(&b, " %s=%s", a->kv[i].k,
			 cli_censored(a->cmd, a->kv[i].k) ? "(omitted)"
							  : a->kv[i].v);
	if (debug)
		log_debug("cli", "%s (from %s)", b.data, origin ? origin : "-");
	else
		log_info("cli", "%s (from %s)", b.data, origin ? origin : "-");
	buf_free(&b);
}

/* Logs in as xapi's CLI does (login_with_password(u, p, version, "cli")).
 * On the Unix socket the dispatcher admits root without a password. */
static int
cli_login(struct cli_ctx *ctx)
{
	const struct cli_args *a = ctx->args;
	const char *user = a->username ? a->username
			   : ctx->api->local ? "root"
					     : "";
	char version[32];
	xv *params = xv_array(), *res = NULL;
	struct api_err *e;

	snprintf(version, sizeof(version), "%d.%d", DM_API_VERSION_MAJOR,
		 DM_API_VERSION_MINOR);
	xv_push(params, xv_str(user));
	xv_push(params, xv_str(a->password ? a->password : ""));
	xv_push(params, xv_str(version));
	xv_push(params, xv_str("cli"));
	e = api_call(ctx->api, "session.login_with_password", params, &res);
	xv_free(params);
	if (e) {
		xv_free(res);
		return cli_fail_api(ctx, e);
	}
	if (!res || res->type != XV_STRING) {
		xv_free(res);
		return cli_fail_failure(ctx, "login returned no session");
	}
	free(ctx->api->session);
	ctx->api->session = xstrdup(res->u.s);
	xv_free(res);
	return 0;
}

static void
cli_logout(struct cli_ctx *ctx)
{
	xv *params = xv_array(), *res = NULL;
	struct api_err *e;

	xv_push(params, xv_str(ctx->api->session));
	e = api_call(ctx->api, "session.logout", params, &res);
	if (e)
		log_warn("cli", "logout failed: %s", e->code);
	api_err_free(e);
	xv_free(res);
	xv_free(params);
}

bool
cli_server_runs_here(const char *name)
{
	static const char *const here[] = {
	    "host-is-in-emergency-mode",
	    "pool-emergency-transition-to-master",
	    "pool-emergency-reset-master",
	};
	for (size_t i = 0; i < sizeof(here) / sizeof(here[0]); i++)
		if (strcmp(name, here[i]) == 0)
			return true;
	return false;
}

/* Looks the command up, checks its required parameters, logs in, runs it
 * and logs out. Returns 0 or -1 (failure recorded in ctx). */
static int
cli_dispatch(struct cli_ctx *ctx, const char *origin)
{
	const struct cli_args *a = ctx->args;
	const struct cli_cmd *cmd;
	int rc;

	if (strcmp(a->cmd, "help") == 0) {
		cli_log_command(a, origin);
		return cli_help(ctx);
	}
	cmd = cli_cmd_find(a->cmd);
	if (!cmd)
		return cli_fail_kind(ctx, CLI_E_UNKNOWN, a->cmd);
	for (size_t i = 0; cmd->reqd && cmd->reqd[i]; i++)
		if (!cli_args_has(a, cmd->reqd[i]))
			return cli_fail_kind(ctx, CLI_E_PARAM, cmd->reqd[i]);
	cli_log_command(a, origin);
	ctx->cmd = cmd;
	/* a slave in emergency mode: xapi refuses all but the emergency
	 * commands (their local sessions) with its stashed error */
	if (pool_emergency() && !cli_server_runs_here(a->cmd))
		return cli_fail_api(ctx,
		                    api_error(XE_HOST_STILL_BOOTING, NULL));
	if (a->session) {
		/* A forwarded command runs in the forwarder's session, which
		 * it keeps; reads do not go through the dispatcher, so check
		 * the session first. */
		ctx->api->session = xstrdup(a->session);
		if (cli_call(ctx, "session.get_uuid", NULL,
			     xv_str(a->session), NULL) < 0)
			return -1;
		return cmd->fn(ctx);
	}
	if (cli_login(ctx) < 0)
		return -1;
	rc = cmd->fn(ctx);
	cli_logout(ctx);
	return rc;
}

void
cli_server_run(int fd, const char *body, size_t len, bool local,
	       const char *origin)
{
	struct cli_conn conn;
	struct cli_args args;
	struct cli_out out;
	struct api_ctx api;
	struct cli_ctx ctx;
	const char *min;
	int code;

	cli_conn_init(&conn, fd);
	if (cli_conn_handshake(&conn) < 0) {
		log_warn("cli", "handshake with %s failed: %s",
			 origin ? origin : "-", conn.err);
		return;
	}
	memset(&api, 0, sizeof(api));
	api.origin = xstrdup(origin ? origin : (local ? "unix" : ""));
	api.local = local;
	memset(&ctx, 0, sizeof(ctx));
	ctx.args = &args;
	ctx.out = &out;
	ctx.api = &api;
	ctx.conn = &conn;
	cli_out_init(&out, cli_srv_print, cli_srv_printerr, &conn, false);
	out.error = cli_srv_error;
	if (cli_args_parse(&args, body, len) < 0) {
		cli_fail_kind(&ctx, CLI_E_SYNTAX, "");
	} else {
		min = cli_args_get(&args, "minimal");
		out.minimal = min && strcmp(min, "true") == 0;
		cli_dispatch(&ctx, api.origin);
	}
	code = cli_report(&ctx);
	if (code == 0)
		cli_out_flush(&out);
	if (code && ctx.ekind != CLI_E_EXIT)
		log_info("cli", "xe %s failed (%s)", args.cmd ? args.cmd : "",
			 ctx.eapi ? ctx.eapi->code
				  : ctx.emsg ? ctx.emsg : "");
	cli_conn_exit(&conn, code);
	cli_fail_clear(&ctx);
	cli_out_free(&out);
	cli_args_free(&args);
	api_ctx_clear(&api);
}

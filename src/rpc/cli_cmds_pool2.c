/* cli_cmds_pool2: pool membership commands (cli_operations.ml pool_join,
 * pool_eject, pool_designate_new_master, host_forget, the emergency
 * commands). */
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "pool/pool.h"
#include "rpc/cli_cmd.h"
#include "util/xalloc.h"

/* Constants.fuse_time, as OCaml prints it. */
#define CLI_FUSE_TIME "10."

int
cli_cmd_pool_join(struct cli_ctx *ctx)
{
	bool force = false;

	if (cli_param_bool(ctx, "force", false, &force) < 0)
		return -1;
	if (cli_call(ctx, force ? "pool.join_force" : "pool.join", NULL,
	             xv_str(cli_param(ctx, "master-address")),
	             xv_str(cli_param(ctx, "master-username")),
	             xv_str(cli_param(ctx, "master-password")), NULL) < 0)
		return -1;
	cli_out_line(ctx->out, "Host agent will restart and attempt to join "
	                       "pool in " CLI_FUSE_TIME " seconds...");
	return 0;
}

/* The local SRs of host (PBDs of no other host) and their VDIs, as
 * "VDI: uuid (name)" warnings. Read lock held. */
static void
cli_eject_warnings(struct cli_ctx *ctx, const char *host)
{
	size_t np, nv;
	struct db_row **pbds = db_list(DMC_PBD, &np);
	struct db_row **vdis = db_list(DMC_VDI, &nv);
	bool header = false;

	for (size_t i = 0; i < np; i++) {
		const char *sr = pbds[i]->f[DMF_PBD_SR].s;
		bool others = false;
		if (strcmp(pbds[i]->f[DMF_PBD_host].s, host) != 0)
			continue;
		for (size_t k = 0; k < np; k++)
			if (strcmp(pbds[k]->f[DMF_PBD_SR].s, sr) == 0 &&
			    strcmp(pbds[k]->f[DMF_PBD_host].s, host) != 0)
				others = true;
		for (size_t k = 0; !others && k < nv; k++) {
			if (strcmp(vdis[k]->f[DMF_VDI_SR].s, sr) != 0)
				continue;
			if (!header)
				cli_out_raw(ctx->out,
				            "The following VDI objects "
				            "will be destroyed:");
			header = true;
			char *m = xasprintf("VDI: %s (%s)",
			                    vdis[k]->f[DMF_VDI_uuid].s,
			                    vdis[k]->f[DMF_VDI_name_label].s);
			cli_out_raw(ctx->out, m);
			free(m);
		}
	}
	free(pbds);
	free(vdis);
}

int
cli_cmd_pool_eject(struct cli_ctx *ctx)
{
	char *host =
	    cli_ref_by_uuid(ctx, DMC_host, cli_param(ctx, "host-uuid"));
	bool force = false;
	int rc = -1;

	if (!host)
		return -1;
	if (cli_param_bool(ctx, "force", false, &force) < 0)
		goto out;
	if (!force) {
		cli_out_raw(ctx->out,
		            "WARNING: Ejecting a host from the pool will "
		            "reinitialise that host's local SRs.");
		cli_out_raw(ctx->out,
		            "WARNING: Any data contained with the local "
		            "SRs will be lost.");
		db_rdlock();
		cli_eject_warnings(ctx, host);
		db_unlock();
		if (!cli_user_says_yes(ctx)) {
			rc = 0;
			goto out;
		}
	}
	if (cli_call(ctx, "pool.eject", NULL, xv_str(host), NULL) < 0)
		goto out;
	cli_out_line(ctx->out,
	             "Specified host will attempt to restart as a "
	             "master of a new pool in " CLI_FUSE_TIME " seconds...");
	rc = 0;
out:
	free(host);
	return rc;
}

int
cli_cmd_pool_designate(struct cli_ctx *ctx)
{
	char *host =
	    cli_ref_by_uuid(ctx, DMC_host, cli_param(ctx, "host-uuid"));
	int rc;

	if (!host)
		return -1;
	rc = cli_call(ctx, "pool.designate_new_master", NULL, xv_str(host),
	              NULL);
	free(host);
	return rc;
}

int
cli_cmd_host_forget(struct cli_ctx *ctx)
{
	static const char *const warn[] = {
	    "WARNING: A host should only be forgotten if it is physically "
	    "unrecoverable;",
	    "WARNING: if possible, Hosts should be 'ejected' from the Pool "
	    "instead.",
	    "WARNING: Once a host has been forgotten it will have to be "
	    "re-installed.",
	    "WARNING: This operation is irreversible."};
	char *host = cli_ref_by_uuid(ctx, DMC_host, cli_param(ctx, "uuid"));
	bool force = false;
	int rc = -1;

	if (!host)
		return -1;
	if (cli_param_bool(ctx, "force", false, &force) < 0)
		goto out;
	if (!force) {
		for (size_t i = 0; i < sizeof(warn) / sizeof(warn[0]); i++)
			cli_out_raw(ctx->out, warn[i]);
		if (!cli_user_says_yes(ctx)) {
			rc = 0;
			goto out;
		}
	}
	rc = cli_call(ctx, "host.destroy", NULL, xv_str(host), NULL);
out:
	free(host);
	return rc;
}

int
cli_cmd_host_emergency(struct cli_ctx *ctx)
{
	xv *r = NULL;

	if (cli_call(ctx, "host.is_in_emergency_mode", &r, NULL) < 0)
		return -1;
	cli_out_line(ctx->out,
	             r && r->type == XV_BOOL && r->u.b ? "true" : "false");
	xv_free(r);
	return 0;
}

/* xapi prints these (its agent restarts after Constants.fuse_time; ours
 * has changed role when the call returns) */
int
cli_cmd_pool_emergency_master(struct cli_ctx *ctx)
{
	bool force = false;

	if (cli_param_bool(ctx, "force", false, &force) < 0)
		return -1;
	if (pool_is_master() && !force) {
		cli_out_line(ctx->out, "Host agent is already master. Use "
		                       "'--force' to execute the operation "
		                       "anyway.");
		return 0;
	}
	if (cli_call(ctx, "pool.emergency_transition_to_master", NULL, NULL) <
	    0)
		return -1;
	cli_out_line(ctx->out, "Host agent will restart and transition to "
	                       "master in " CLI_FUSE_TIME " seconds...");
	return 0;
}

int
cli_cmd_pool_emergency_reset(struct cli_ctx *ctx)
{
	const char *m = cli_param(ctx, "master-address");

	if (cli_call(ctx, "pool.emergency_reset_master", NULL, xv_str(m),
	             NULL) < 0)
		return -1;
	char *line = xasprintf("Host agent will restart and become slave of "
	                       "%s in " CLI_FUSE_TIME " seconds...",
	                       m);
	cli_out_line(ctx->out, line);
	free(line);
	return 0;
}

int
cli_cmd_pool_recover_slaves(struct cli_ctx *ctx)
{
	xv *r = NULL;

	if (cli_call(ctx, "pool.recover_slaves", &r, NULL) < 0)
		return -1;
	for (size_t i = 0; r && r->type == XV_ARRAY && i < r->u.a.n; i++) {
		const xv *ref = r->u.a.items[i];
		if (ref->type != XV_STRING)
			continue;
		db_rdlock();
		struct db_row *h = db_get(DMC_host, ref->u.s);
		char *uuid = xstrdup(h ? h->f[DMF_host_uuid].s : ref->u.s);
		db_unlock();
		cli_out_line(ctx->out, uuid);
		free(uuid);
	}
	xv_free(r);
	return 0;
}

/*
 * cli_cmds_sr: the xe commands of the SR and PBD lifecycle (cli_operations.ml
 * sr_create, sr_introduce, sr_forget, sr_destroy, sr_probe, sr_probe_ext,
 * sr_update, pbd_create, pbd_destroy, pbd_plug, pbd_unplug, vdi_introduce,
 * vdi_forget).
 */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_conn.h"
#include "rpc/cli_gen.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A map of the "<name>:k=v" parameters (read_map_params). */
static xv *
cli_sr_map(struct cli_ctx *ctx, const char *name)
{
	struct cli_kv *kv;
	size_t n = cli_args_map(ctx->args, name, &kv);
	xv *m = xv_struct();
	for (size_t i = 0; i < n; i++)
		xv_set(m, kv[i].k, xv_str(kv[i].v));
	free(kv);
	return m;
}

/* parse_host_uuid: host-uuid=, else the only host, else (default_master)
 * the master. */
static char *
cli_sr_host(struct cli_ctx *ctx, bool default_master)
{
	const char *uuid = cli_param(ctx, "host-uuid");
	if (uuid)
		return cli_ref_by_uuid(ctx, DMC_host, uuid);
	char *ref = NULL;
	size_t n;
	db_rdlock();
	struct db_row **hosts = db_list(DMC_host, &n);
	const struct db_row *pool = NULL;
	size_t np;
	struct db_row **pools = db_list(DMC_pool, &np);
	if (np)
		pool = pools[0];
	if (n == 1)
		ref = xstrdup(hosts[0]->ref);
	else if (default_master && pool)
		ref = xstrdup(pool->f[DMF_pool_master].s);
	free(hosts);
	free(pools);
	db_unlock();
	if (!ref)
		cli_fail(ctx, "Required parameter not found: host-uuid");
	return ref;
}

/* Prints the uuid of ref (class cls) as a one-item list. */
static void
cli_sr_print_uuid(struct cli_ctx *ctx, int cls, const char *ref)
{
	db_rdlock();
	const char *u = cli_ref_uuid(cls, ref);
	char *out = xstrdup(u ? u : CLI_NID);
	db_unlock();
	cli_out_list(ctx->out, (const char *const *)&out, 1);
	free(out);
}

static int
cli_cmd_sr_create(struct cli_ctx *ctx)
{
	const char *size = cli_param(ctx, "physical-size");
	const char *ct = cli_param(ctx, "content-type");
	const char *desc = cli_param(ctx, "name-description");
	long long psize = 0;
	bool shared;
	xv *res = NULL;

	if (cli_param_bool(ctx, "shared", false, &shared) < 0)
		return -1;
	char *host = cli_sr_host(ctx, shared);
	if (!host)
		return -1;
	if (size && cli_parse_bytes(size, &psize) < 0)
		psize = 0;
	int rc = cli_call(ctx, "SR.create", &res, xv_str_own(host),
	                  cli_sr_map(ctx, "device-config"), xv_int(psize),
	                  xv_str(cli_param(ctx, "name-label")),
	                  xv_str(desc ? desc : ""),
	                  xv_str(cli_param(ctx, "type")), xv_str(ct ? ct : ""),
	                  xv_bool(shared), cli_sr_map(ctx, "sm-config"), NULL);
	if (rc == 0 && res && res->type == XV_STRING) {
		db_rdlock();
		const char *u = cli_ref_uuid(DMC_SR, res->u.s);
		char *out = xstrdup(u ? u : CLI_NID);
		db_unlock();
		cli_out_line(ctx->out, out);
		free(out);
	}
	xv_free(res);
	return rc;
}

static int
cli_cmd_sr_introduce(struct cli_ctx *ctx)
{
	const char *ct = cli_param(ctx, "content-type");
	const char *desc = cli_param(ctx, "name-description");
	const char *uuid = cli_param(ctx, "uuid");
	bool shared;
	if (cli_param_bool(ctx, "shared", false, &shared) < 0)
		return -1;
	int rc = cli_call(ctx, "SR.introduce", NULL, xv_str(uuid),
	                  xv_str(cli_param(ctx, "name-label")),
	                  xv_str(desc ? desc : ""),
	                  xv_str(cli_param(ctx, "type")), xv_str(ct ? ct : ""),
	                  xv_bool(shared), cli_sr_map(ctx, "sm-config"), NULL);
	if (rc == 0)
		cli_out_list(ctx->out, &uuid, 1);
	return rc;
}

/* Calls method(ref of the uuid= object of cls). */
static int
cli_sr_on_uuid(struct cli_ctx *ctx, int cls, const char *method)
{
	char *ref = cli_ref_by_uuid(ctx, cls, cli_param(ctx, "uuid"));
	if (!ref)
		return -1;
	return cli_call(ctx, method, NULL, xv_str_own(ref), NULL);
}

static int
cli_cmd_sr_forget(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_SR, "SR.forget");
}

static int
cli_cmd_sr_destroy(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_SR, "SR.destroy");
}

static int
cli_cmd_sr_update(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_SR, "SR.update");
}

static int
cli_cmd_pbd_destroy(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_PBD, "PBD.destroy");
}

static int
cli_cmd_pbd_plug(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_PBD, "PBD.plug");
}

static int
cli_cmd_pbd_unplug(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_PBD, "PBD.unplug");
}

static int
cli_cmd_vdi_forget(struct cli_ctx *ctx)
{
	return cli_sr_on_uuid(ctx, DMC_VDI, "VDI.forget");
}

static int
cli_sr_probe(struct cli_ctx *ctx, const char *method)
{
	char *host = cli_sr_host(ctx, true);
	xv *res = NULL;
	if (!host)
		return -1;
	int rc = cli_call(ctx, method, &res, xv_str_own(host),
	                  cli_sr_map(ctx, "device-config"),
	                  xv_str(cli_param(ctx, "type")),
	                  cli_sr_map(ctx, "sm-config"), NULL);
	if (rc == 0 && res && res->type == XV_STRING)
		cli_out_list(ctx->out, (const char *const *)&res->u.s, 1);
	xv_free(res);
	return rc;
}

static int
cli_cmd_sr_probe(struct cli_ctx *ctx)
{
	return cli_sr_probe(ctx, "SR.probe");
}

static int
cli_cmd_sr_probe_ext(struct cli_ctx *ctx)
{
	return cli_sr_probe(ctx, "SR.probe_ext");
}

static int
cli_cmd_pbd_create(struct cli_ctx *ctx)
{
	char *host =
	    cli_ref_by_uuid(ctx, DMC_host, cli_param(ctx, "host-uuid"));
	char *sr = host
	               ? cli_ref_by_uuid(ctx, DMC_SR, cli_param(ctx, "sr-uuid"))
	               : NULL;
	xv *res = NULL;
	if (!sr) {
		free(host);
		return -1;
	}
	xv *rec = xv_struct();
	xv_set(rec, "host", xv_str_own(host));
	xv_set(rec, "SR", xv_str_own(sr));
	xv_set(rec, "device_config", cli_sr_map(ctx, "device-config"));
	xv_set(rec, "other_config", xv_struct());
	int rc = cli_call(ctx, "PBD.create", &res, rec, NULL);
	if (rc == 0 && res && res->type == XV_STRING)
		cli_sr_print_uuid(ctx, DMC_PBD, res->u.s);
	xv_free(res);
	return rc;
}

static int
cli_cmd_vdi_introduce(struct cli_ctx *ctx)
{
	static const char *const types[] = {
	    "system",    "user",         "ephemeral",   "suspend",
	    "crashdump", "ha_statefile", "metadata",    "redo_log",
	    "rrd",       "pvs_cache",    "cbt_metadata"};
	const char *type = cli_param(ctx, "type"),
	           *label = cli_param(ctx, "name-label");
	const char *desc = cli_param(ctx, "name-description");
	bool sharable, ro, managed;
	size_t i;
	for (i = 0; i < sizeof(types) / sizeof(types[0]) &&
	            strcmp(types[i], type) != 0;
	     i++)
		;
	if (i == sizeof(types) / sizeof(types[0]))
		return cli_fail(ctx, "Unknown vdi type: %s", type);
	if (cli_param_bool(ctx, "sharable", false, &sharable) < 0 ||
	    cli_param_bool(ctx, "read-only", false, &ro) < 0 ||
	    cli_param_bool(ctx, "managed", false, &managed) < 0)
		return -1;
	char *sr = cli_ref_by_uuid(ctx, DMC_SR, cli_param(ctx, "sr-uuid"));
	xv *res = NULL;
	if (!sr)
		return -1;
	xv *a[] = {xv_str(cli_param(ctx, "uuid")),
	           xv_str(label ? label : ""),
	           xv_str(desc ? desc : ""),
	           xv_str_own(sr),
	           xv_str(type),
	           xv_bool(sharable),
	           xv_bool(ro),
	           cli_sr_map(ctx, "other-config"),
	           xv_str(cli_param(ctx, "location")),
	           cli_sr_map(ctx, "xenstore-data"),
	           cli_sr_map(ctx, "sm-config"),
	           xv_bool(managed),
	           xv_int(0),
	           xv_int(0),
	           xv_str(DM_NULL_REF),
	           xv_bool(false),
	           xv_datetime_t(0),
	           xv_str(DM_NULL_REF)};
	const size_t na = sizeof(a) / sizeof(a[0]);
	/* more arguments than cli_call takes */
	int rc = cli_callv(ctx, "VDI.introduce", &res, a, na);
	for (size_t k = 0; k < na; k++)
		xv_free(a[k]);
	if (rc == 0 && res && res->type == XV_STRING)
		cli_sr_print_uuid(ctx, DMC_VDI, res->u.s);
	xv_free(res);
	return rc;
}

const struct cli_cmd cli_sr_cmds[] = {
    {"sr-create", L("name-label", "type"),
     L("name-description", "host-uuid", "device-config:", "shared",
       "physical-size", "content-type", "sm-config:"),
     "Create an SR, also a PBD. The device-config parameters can be specified "
     "by "
     "device-config:foo=baa, for example.",
     cli_cmd_sr_create, CLI_CMD_FD, NULL},
    {"sr-probe", L("type"), L("host-uuid", "device-config:", "sm-config:"),
     "Perform a storage probe.  The device-config parameters can be specified "
     "by "
     "device-config:devs=/dev/sdb1, for example.",
     cli_cmd_sr_probe, 0, NULL},
    {"sr-probe-ext", L("type"), L("host-uuid", "device-config:", "sm-config:"),
     "Perform a storage probe. The device-config parameters can be specified "
     "by "
     "device-config:devs=/dev/sdb1, for example. Unlike sr-probe, this command "
     "returns "
     "results in the same human-readable format for every SR type.",
     cli_cmd_sr_probe_ext, 0, NULL},
    {"sr-introduce", L("name-label", "type", "uuid"),
     L("name-description", "shared", "content-type"),
     "Introduces an SR (but does not create any PBDs).", cli_cmd_sr_introduce,
     0, NULL},
    {"sr-destroy", L("uuid"), NULL, "Destroy the SR.", cli_cmd_sr_destroy, 0,
     NULL},
    {"sr-forget", L("uuid"), NULL, "Forget about the SR.", cli_cmd_sr_forget, 0,
     NULL},
    {"sr-update", L("uuid"), NULL,
     "Refresh the fields of the SR object in the database.", cli_cmd_sr_update,
     0, NULL},
    {"pbd-create", L("host-uuid", "sr-uuid"), L("device-config:"),
     "Create a PBD. The read-only device-config parameter can only be set on "
     "creation in "
     "the following manner. To\nadd a mapping of 'path' -> '/tmp', the command "
     "line should "
     "contain the argument device-config:path=/tmp",
     cli_cmd_pbd_create, 0, NULL},
    {"pbd-destroy", L("uuid"), NULL, "Destroy the PBD.", cli_cmd_pbd_destroy, 0,
     NULL},
    {"pbd-plug", L("uuid"), NULL,
     "Attempt to plug in the PBD to the host. If this succeeds then the "
     "referenced SR (and "
     "the VDIs contained within) should be visible to the host.",
     cli_cmd_pbd_plug, 0, NULL},
    {"pbd-unplug", L("uuid"), NULL,
     "Attempt to unplug the PBD from the host. If this succeeds then the "
     "referenced SR (and "
     "the VDIs contained within) should not be visible to the host.",
     cli_cmd_pbd_unplug, 0, NULL},
    {"vdi-forget", L("uuid"), NULL, "Forget about a VDI.", cli_cmd_vdi_forget,
     0, NULL},
    {"vdi-introduce", L("uuid", "sr-uuid", "type", "location"),
     L("name-description", "sharable", "read-only", "managed",
       "other-config:", "xenstore-data:", "sm-config:", "name-label"),
     "Create a VDI object representing an existing disk.",
     cli_cmd_vdi_introduce, 0, NULL},
};

const size_t cli_sr_ncmds = sizeof(cli_sr_cmds) / sizeof(cli_sr_cmds[0]);

/* cli_cmds_xva: xe vm-export and vm-import (cli_operations.ml vm_export,
 * export_common, vm_import): the client streams the file from /export or
 * /export_metadata, or to /import or /import_metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/cli_cmd.h"
#include "rpc/cli_vmop.h"
#include "rpc/xmlrpc.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool
cli_xva_flag(struct cli_ctx *ctx, const char *key)
{
	bool v = false;
	if (cli_param(ctx, key) && cli_param_bool(ctx, key, false, &v) < 0)
		return false;
	return v;
}

static int
cli_vm_export_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const char *file = cli_param(ctx, "filename");
	const char *comp = cli_param(ctx, "compress");
	bool meta = cli_xva_flag(ctx, "metadata");
	(void)arg;
	/* Compression_algorithms.of_string: true/gzip, zstd; else none */
	const char *c = "false";
	if (comp && (strcmp(comp, "true") == 0 || strcmp(comp, "gzip") == 0))
		c = "gzip";
	else if (comp && strcmp(comp, "zstd") == 0)
		c = "zstd";
	char *extra = xasprintf(
	    "&ref=%s&use_compression=%s&preserve_power_state=%s"
	    "&export_snapshots=%s%s",
	    vm, c, cli_xva_flag(ctx, "preserve-power-state") ? "true" : "false",
	    cli_xva_flag(ctx, "include-snapshots") ? "true" : "false",
	    meta ? "&excluded_device_types=" : "");
	int rc = cli_track_http(ctx, false, file,
	                        meta ? "/export_metadata" : "/export", extra,
	                        "Export of VM");
	free(extra);
	if (rc == 0 && file && *file && strcmp(file, "-") != 0)
		cli_out_line(ctx->out, "Export succeeded");
	return rc;
}

static int
cli_cmd_vm_export(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {false,
	                       true,
	                       false,
	                       L("filename", "metadata", "compress",
	                         "preserve-power-state", "include-snapshots",
	                         "excluded-device-types"),
	                       cli_vm_export_one,
	                       NULL};
	return cli_do_vm_op(ctx, &op);
}

/* The uuids of VM refs (an XV_ARRAY), comma-separated. */
static void
cli_print_vm_refs(struct cli_ctx *ctx, const xv *v)
{
	struct buf b = BUF_INIT;
	if (v && v->type == XV_ARRAY) {
		db_rdlock();
		for (size_t i = 0; i < v->u.a.n; i++) {
			const xv *e = v->u.a.items[i];
			const struct db_row *r = e->type == XV_STRING
			                             ? db_get(DMC_VM, e->u.s)
			                             : NULL;
			if (r)
				buf_addf(&b, "%s%s", b.len ? "," : "",
				         r->f[DMF_VM_uuid].s);
		}
		db_unlock();
	}
	cli_out_line(ctx->out, b.data ? b.data : "");
	buf_free(&b);
}

/* The uuids of the VM refs of an import task's result. */
static void
cli_print_vm_uuids(struct cli_ctx *ctx, const char *result)
{
	xv *v = NULL;
	if (result && *result &&
	    xmlrpc_parse_value(result, strlen(result), &v, NULL, 0) !=
	        XMLRPC_OK) {
		xv_free(v);
		v = NULL;
	}
	cli_print_vm_refs(ctx, v);
	xv_free(v);
}

static int
cli_cmd_vm_import(struct cli_ctx *ctx)
{
	const char *file = cli_param(ctx, "filename");
	const char *su = cli_param(ctx, "sr-uuid");
	bool meta = cli_xva_flag(ctx, "metadata");
	char *sr = NULL, *result = NULL;
	if (cli_param(ctx, "url") && file)
		return cli_fail_failure(
		    ctx, "Invalid arguments. The 'url' and 'filename' "
		         "parameters should not both be specified.");
	if (!file && !cli_param(ctx, "url"))
		return cli_fail_kind(ctx, CLI_E_PARAM, "filename");
	if (su && !(sr = cli_ref_by_uuid(ctx, DMC_SR, su)))
		return -1;
	if (!sr && !meta) {
		db_rdlock();
		size_t n;
		struct db_row **pools = db_list(DMC_pool, &n);
		const char *d = n ? pools[0]->f[DMF_pool_default_SR].s : NULL;
		if (d && db_get(DMC_SR, d))
			sr = xstrdup(d);
		free(pools);
		db_unlock();
		if (!sr)
			return cli_fail_failure(
			    ctx, "No SR specified and Pool default SR is null");
	}
	if (cli_param(ctx, "url")) {
		/* the host fetches it (VM.import) */
		xv *vms = NULL;
		int rc = cli_call(ctx, "VM.import", &vms,
		                  xv_str(cli_param(ctx, "url")),
		                  xv_str(sr ? sr : DM_NULL_REF),
		                  xv_bool(cli_xva_flag(ctx, "preserve")),
		                  xv_bool(cli_xva_flag(ctx, "force")), NULL);
		if (rc == 0)
			cli_print_vm_refs(ctx, vms);
		xv_free(vms);
		free(sr);
		return rc;
	}
	/* the user named the ova.xml of an unpacked export */
	size_t fl = strlen(file);
	char *fname = xstrdup(file);
	if (fl >= 7 && strcasecmp(file + fl - 7, "ova.xml") == 0)
		fname[fl - 7] = '\0';
	char *extra =
	    xasprintf("&restore=%s&force=%s&dry_run=false%s%s",
	              cli_xva_flag(ctx, "preserve") ? "true" : "false",
	              cli_xva_flag(ctx, "force") ? "true" : "false",
	              sr ? "&sr_id=" : "", sr ? sr : "");
	int rc = cli_track_http_result(ctx, true, fname,
	                               meta ? "/import_metadata" : "/import",
	                               extra, "VM import", &result);
	if (rc == 0)
		cli_print_vm_uuids(ctx, result);
	free(result);
	free(extra);
	free(fname);
	free(sr);
	return rc;
}

const struct cli_cmd cli_xva_cmds[] = {
    {"vm-export", L("filename"),
     L("metadata", "compress", "preserve-power-state", "include-snapshots",
       "excluded-device-types", "task-uuid"),
     "Export a VM to <filename>.", cli_cmd_vm_export,
     CLI_CMD_VM_SEL | CLI_CMD_STANDARD, NULL},
    {"vm-import", NULL,
     L("filename", "url", "preserve", "sr-uuid", "force", "metadata", "dry-run",
       "task-uuid", "type"),
     "Import a VM. If type=ESXServer is given, it will import from a VMWare "
     "server "
     "and 'host-username', 'host-password' and 'remote-config' are required. "
     "Otherwise, "
     "it will import from a file, and 'filename' is required. If the option "
     "preserve=true "
     "is given then as many settings as possible are restored, including VIF "
     "MAC "
     "addresses. The default is to regenerate VIF MAC addresses. The VDIs will "
     "be "
     "imported into the Pool's default SR unless an override is provided. If "
     "the force "
     "option is given then any disk data checksum failures will be ignored. If "
     "the "
     "parameter 'url' is specified, xapi will attempt to import from that URL.",
     cli_cmd_vm_import, CLI_CMD_STANDARD, NULL},
};
const size_t cli_xva_ncmds = sizeof(cli_xva_cmds) / sizeof(cli_xva_cmds[0]);

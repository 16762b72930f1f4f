/*
 * cli_cmds_dev: the xe commands on single devices, disks and SRs
 * (vbd-plug, vbd-unplug, vif-plug, vif-unplug, vbd-destroy, vif-destroy,
 * vdi-destroy, vdi-resize, sr-scan, vif-configure-ipv4/-ipv6) and the
 * per-VM disk listings vm-disk-list and vm-cd-list (cli_operations.ml
 * vbd_plug ... sr_scan, vif_configure_ipv4, vm_disk_list_aux).
 *
 * Each names its object by uuid= (<Class>.get_by_uuid first, so a bad
 * uuid is UUID_INVALID whatever else is wrong) and relays the API's error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rpc/cli_conn.h"
#include "rpc/cli_gen.h"
#include "rpc/cli_vmop.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The ref of the uuid= object of class cls, or NULL after recording the
 * error. */
static char *
cli_uuid_ref(struct cli_ctx *ctx, int cls)
{
	return cli_ref_by_uuid(ctx, cls, cli_param(ctx, "uuid"));
}

/* Calls method(ref of the uuid= object of cls). */
static int
cli_on_uuid(struct cli_ctx *ctx, int cls, const char *method)
{
	char *ref = cli_uuid_ref(ctx, cls);

	if (!ref)
		return -1;
	return cli_call(ctx, method, NULL, xv_str_own(ref), NULL);
}

static int
cli_cmd_vbd_plug(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_VBD, "VBD.plug");
}

static int
cli_cmd_vbd_destroy(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_VBD, "VBD.destroy");
}

static int
cli_cmd_vif_plug(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_VIF, "VIF.plug");
}

static int
cli_cmd_vif_destroy(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_VIF, "VIF.destroy");
}

static int
cli_cmd_vdi_destroy(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_VDI, "VDI.destroy");
}

static int
cli_cmd_sr_scan(struct cli_ctx *ctx)
{
	return cli_on_uuid(ctx, DMC_SR, "SR.scan");
}

static int
cli_cmd_vif_unplug(struct cli_ctx *ctx)
{
	bool force;
	char *vif = cli_uuid_ref(ctx, DMC_VIF);

	if (!vif)
		return -1;
	if (cli_param_bool(ctx, "force", false, &force) < 0) {
		free(vif);
		return -1;
	}
	return cli_call(ctx, force ? "VIF.unplug_force" : "VIF.unplug", NULL,
			xv_str_own(vif), NULL);
}

static double
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the VBD is still attached (gone counts as detached). */
static bool
cli_vbd_attached(const char *vbd)
{
	const struct db_row *r;
	bool on;

	db_rdlock();
	r = db_get(DMC_VBD, vbd);
	on = r && r->f[DMF_VBD_currently_attached].b;
	db_unlock();
	return on;
}

/*
 * vbd-unplug [timeout=N] [--force]: VBD.unplug (unplug_force); when the
 * guest rejects the detach, polls every 5 seconds for up to N seconds for
 * the VBD to come off, and keeps the rejection if it does not.
 */
static int
cli_cmd_vbd_unplug(struct cli_ctx *ctx)
{
	const char *t = cli_param(ctx, "timeout");
	double timeout = 0, start;
	bool force, on = true;
	char *vbd, *end;
	int rc;

	if (!(vbd = cli_uuid_ref(ctx, DMC_VBD)))
		return -1;
	if (t) {
		errno = 0;
		timeout = strtod(t, &end);
		if (end == t || *end || errno) {
			free(vbd);
			return cli_fail(ctx, "Failed to parse parameter "
					     "'timeout': expecting a float");
		}
	}
	if (cli_param_bool(ctx, "force", false, &force) < 0) {
		free(vbd);
		return -1;
	}
	start = cli_now();
	rc = cli_call(ctx, force ? "VBD.unplug_force" : "VBD.unplug", NULL,
		      xv_str(vbd), NULL);
	if (rc < 0 && strcmp(ctx->eapi->code, "DEVICE_DETACH_REJECTED") == 0) {
		while (on && cli_now() - start < timeout) {
			sleep(5);
			on = cli_vbd_attached(vbd);
		}
		if (!on) {
			cli_fail_clear(ctx);
			rc = 0;
		}
	}
	free(vbd);
	return rc;
}

static int
cli_cmd_vdi_resize(struct cli_ctx *ctx)
{
	const char *size = cli_param(ctx, "disk-size");
	const char *online = cli_param(ctx, "online");
	char *vdi = cli_uuid_ref(ctx, DMC_VDI);
	long long n;

	if (!vdi)
		return -1;
	if (cli_parse_bytes(size, &n) < 0) {
		free(vdi);
		return cli_fail(ctx,
				"Failed to parse field 'disk-size': expecting "
				"an integer (possibly with suffix KiB, MiB, "
				"GiB, TiB), got '%s'",
				size);
	}
	return cli_call(ctx,
			online && strcmp(online, "true") == 0
				? "VDI.resize_online"
				: "VDI.resize",
			NULL, xv_str_own(vdi), xv_int(n), NULL);
}

/*
 * vif-configure-ipv4/-ipv6 uuid= mode= [address=] [gateway=]: mode is one
 * of the enum of field fi (any case, else Record_util's "Expected one of
 * ..." with the lowercased text); Static needs a non-empty address.
 */
static int
cli_configure_ip(struct cli_ctx *ctx, int fi, const char *method)
{
	const struct dm_enum *en = dm_classes[DMC_VIF].fields[fi].type->en;
	const char *text = cli_param(ctx, "mode");
	const char *addr = cli_param(ctx, "address");
	const char *gw = cli_param(ctx, "gateway");
	const char *mode;
	struct buf b = BUF_INIT;
	char *vif;

	if (!(vif = cli_uuid_ref(ctx, DMC_VIF)))
		return -1;
	if (!(mode = cli_enum_parse(en, NULL, text))) {
		buf_adds(&b, "Expected one of ");
		for (size_t i = 0; i < en->n; i++)
			buf_addf(&b, "%s'%s'", i ? ", " : "", en->values[i]);
		buf_adds(&b, ", got ");
		for (const char *p = text; *p; p++)
			buf_addc(&b, (char)tolower((unsigned char)*p));
		cli_fail(ctx, "%s", b.data);
		buf_free(&b);
		free(vif);
		return -1;
	}
	if (strcmp(mode, "Static") == 0 && (!addr || !*addr)) {
		free(vif);
		return cli_fail(ctx, "Required parameter not found: address");
	}
	return cli_call(ctx, method, NULL, xv_str_own(vif), xv_str(mode),
			xv_str(addr ? addr : ""), xv_str(gw ? gw : ""), NULL);
}

static int
cli_cmd_vif_configure_ipv4(struct cli_ctx *ctx)
{
	return cli_configure_ip(ctx, DMF_VIF_ipv4_configuration_mode,
				"VIF.configure_ipv4");
}

static int
cli_cmd_vif_configure_ipv6(struct cli_ctx *ctx)
{
	return cli_configure_ip(ctx, DMF_VIF_ipv6_configuration_mode,
				"VIF.configure_ipv6");
}

/* ---- vm-disk-list, vm-cd-list ---- */

/* The value of the first parameter named a or b, in command-line order
 * (vm_disk_list's "vbd-params" read as "params"). */
static const char *
cli_first_of(struct cli_ctx *ctx, const char *a, const char *b)
{
	const struct cli_args *args = ctx->args;

	for (size_t i = 0; i < args->n; i++)
		if (strcmp(args->kv[i].k, a) == 0 ||
		    strcmp(args->kv[i].k, b) == 0)
			return args->kv[i].v;
	return NULL;
}

/* Whether field name is in the comma-separated list. */
static bool
cli_in_list(const char *list, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = list;; p++) {
		size_t k = strcspn(p, ",");

		if (k == l && strncmp(p, name, l) == 0)
			return true;
		p += k;
		if (!*p)
			return false;
	}
}

/* select_fields for one row of c: params= "all" (every field), a list, or
 * the defaults; in record order (read lock held). */
static void
cli_pick(const struct cli_class *c, const struct db_row *row,
	 const char *params, const char *const *defaults,
	 struct cli_table_rec *rec)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < c->nfields; i++) {
		const struct cli_fdef *f = &c->fields[i];
		bool want = false;

		if (params)
			want = strcmp(params, "all") == 0 ||
			       cli_in_list(params, f->name);
		for (size_t d = 0; !params && defaults[d] && !want; d++)
			want = strcmp(defaults[d], f->name) == 0;
		if (!want)
			continue;
		buf_reset(&b);
		cli_field_text(c, f, row, &b);
		cli_rec_add_own(rec, cli_field_key(f), buf_steal(&b));
	}
	buf_free(&b);
}

/* One drive of the listing: its VBD record and its VDI's, if any. */
struct cli_drive {
	struct cli_table_rec vbd, vdi;
	bool has_vdi;
};

static int
cli_disk_list_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	static const char *const vdi_def[] = {"uuid", "name-label",
					      "virtual-size", "sr-name-label",
					      NULL};
	const bool cd = *(const bool *)arg;
	const struct cli_class *bc = cli_class_find("vbd");
	const struct cli_class *dc = cli_class_find("vdi");
	const char *vbdp = cli_first_of(ctx, "params", "vbd-params");
	const char *vdip = cli_first_of(ctx, "params", "vdi-params");
	const char *type = cd ? "CD" : "Disk";
	const struct dm_coll *vbds;
	const struct db_row *r, *b, *d;
	struct cli_drive *drives;
	size_t n = 0;
	char *line;

	db_rdlock();
	r = db_get(DMC_VM, vm);
	vbds = r ? r->f[DMF_VM_VBDs].c : NULL;
	drives = xcalloc((vbds ? vbds->n : 0) + 1, sizeof(*drives));
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		b = db_get(DMC_VBD, vbds->v[i].s);
		if (!b || !b->f[DMF_VBD_type].s ||
		    strcmp(b->f[DMF_VBD_type].s, type) != 0)
			continue;
		cli_pick(bc, b, vbdp,
			 cd ? L("uuid", "vm-name-label", "userdevice", "empty")
			    : L("uuid", "vm-name-label", "userdevice"),
			 &drives[n].vbd);
		d = b->f[DMF_VBD_empty].b ? NULL
					   : db_get(DMC_VDI, b->f[DMF_VBD_VDI].s);
		if (d) {
			cli_pick(dc, d, vdip, vdi_def, &drives[n].vdi);
			drives[n].has_vdi = true;
		}
		n++;
	}
	db_unlock();
	for (size_t i = 0; i < n; i++) {
		line = xasprintf("%s %zu VBD:", cd ? "CD" : "Disk", i);
		cli_out_msg(ctx->out, line);
		free(line);
		cli_out_table(ctx->out, &drives[i].vbd, 1);
		if (drives[i].has_vdi) {
			line = xasprintf("%s %zu VDI:", cd ? "CD" : "Disk", i);
			cli_out_msg(ctx->out, line);
			free(line);
			cli_out_table(ctx->out, &drives[i].vdi, 1);
		}
		cli_rec_free(&drives[i].vbd);
		cli_rec_free(&drives[i].vdi);
	}
	free(drives);
	return 0;
}

/* vm-disk-list / vm-cd-list over the VM selectors. */
static int
cli_disk_list(struct cli_ctx *ctx, bool cd)
{
	struct cli_vm_op op = {false, false, true, L("vbd-params", "vdi-params"),
			       cli_disk_list_one, &cd};

	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_vm_disk_list(struct cli_ctx *ctx)
{
	return cli_disk_list(ctx, false);
}

static int
cli_cmd_vm_cd_list(struct cli_ctx *ctx)
{
	return cli_disk_list(ctx, true);
}

/* ---- the command table (cli_frontend.ml cmdtable_data) ---- */

/* vdi-clone / vdi-snapshot uuid= [new-name-label=] [new-name-description=] */
static int
cli_vdi_dup(struct cli_ctx *ctx, const char *method)
{
	const char *uuid = cli_param(ctx, "uuid");
	const char *label = cli_param(ctx, "new-name-label");
	const char *desc = cli_param(ctx, "new-name-description");
	char *ref = cli_ref_by_uuid(ctx, DMC_VDI, uuid);
	xv *res = NULL;
	int rc;

	if (!ref)
		return -1;
	rc = cli_call(ctx, method, &res, xv_str(ref), xv_struct(), NULL);
	if (rc == 0 && (!res || res->type != XV_STRING))
		rc = cli_fail_failure(ctx, "%s returned no VDI", method);
	if (rc == 0 && label)
		rc = cli_call(ctx, "VDI.set_name_label", NULL, xv_str(res->u.s),
			      xv_str(label), NULL);
	if (rc == 0 && desc)
		rc = cli_call(ctx, "VDI.set_name_description", NULL,
			      xv_str(res->u.s), xv_str(desc), NULL);
	if (rc == 0) {
		db_rdlock();
		const char *u = cli_ref_uuid(DMC_VDI, res->u.s);
		char *out = xstrdup(u ? u : CLI_NID);
		db_unlock();
		cli_out_list(ctx->out, (const char *const *)&out, 1);
		free(out);
	}
	xv_free(res);
	free(ref);
	return rc;
}

static int
cli_cmd_vdi_clone(struct cli_ctx *ctx)
{
	return cli_vdi_dup(ctx, "VDI.clone");
}

static int
cli_cmd_vdi_snapshot(struct cli_ctx *ctx)
{
	return cli_vdi_dup(ctx, "VDI.snapshot");
}

/* vdi-enable-cbt, vdi-disable-cbt, vdi-data-destroy uuid=: one call. */
static int
cli_vdi_simple(struct cli_ctx *ctx, const char *method)
{
	char *ref = cli_ref_by_uuid(ctx, DMC_VDI, cli_param(ctx, "uuid"));
	int rc = ref ? cli_call(ctx, method, NULL, xv_str(ref), NULL) : -1;
	free(ref);
	return rc;
}

static int
cli_cmd_vdi_enable_cbt(struct cli_ctx *ctx)
{
	return cli_vdi_simple(ctx, "VDI.enable_cbt");
}

static int
cli_cmd_vdi_disable_cbt(struct cli_ctx *ctx)
{
	return cli_vdi_simple(ctx, "VDI.disable_cbt");
}

static int
cli_cmd_vdi_data_destroy(struct cli_ctx *ctx)
{
	return cli_vdi_simple(ctx, "VDI.data_destroy");
}

/* vdi-list-changed-blocks vdi-from-uuid= vdi-to-uuid=: the base64 bitmap. */
static int
cli_cmd_vdi_list_changed_blocks(struct cli_ctx *ctx)
{
	char *from = cli_ref_by_uuid(ctx, DMC_VDI, cli_param(ctx, "vdi-from-uuid"));
	char *to = from ? cli_ref_by_uuid(ctx, DMC_VDI, cli_param(ctx, "vdi-to-uuid")) : NULL;
	xv *res = NULL;
	int rc = -1;
	if (to)
		rc = cli_call(ctx, "VDI.list_changed_blocks", &res, xv_str(from), xv_str(to), NULL);
	if (rc == 0 && res && res->type == XV_STRING)
		cli_out_line(ctx->out, res->u.s);
	xv_free(res);
	free(from);
	free(to);
	return rc;
}

/* vdi-copy uuid= sr-uuid= [base-vdi-uuid=] [into-vdi-uuid=]: VDI.copy */
static int
cli_cmd_vdi_copy(struct cli_ctx *ctx)
{
	const char *u = cli_param(ctx, "uuid"), *su = cli_param(ctx, "sr-uuid");
	const char *into = cli_param(ctx, "into-vdi-uuid");
	char *ref = cli_ref_by_uuid(ctx, DMC_VDI, u), *sr = NULL, *iv = NULL;
	xv *res = NULL;
	int rc = -1;

	if (!ref)
		return -1;
	if (su && !(sr = cli_ref_by_uuid(ctx, DMC_SR, su)))
		goto out;
	if (into && !(iv = cli_ref_by_uuid(ctx, DMC_VDI, into)))
		goto out;
	rc = cli_call(ctx, "VDI.copy", &res, xv_str(ref), xv_str(sr ? sr : DM_NULL_REF),
		      xv_str(DM_NULL_REF), xv_str(iv ? iv : DM_NULL_REF), NULL);
	if (rc == 0 && res && res->type == XV_STRING) {
		db_rdlock();
		const char *nu = cli_ref_uuid(DMC_VDI, res->u.s);
		char *o = xstrdup(nu ? nu : CLI_NID);
		db_unlock();
		cli_out_list(ctx->out, (const char *const *)&o, 1);
		free(o);
	}
out:
	xv_free(res);
	free(ref);
	free(sr);
	free(iv);
	return rc;
}

/* vdi-export uuid= filename= [format=raw|vhd] [base=<vdi uuid>] / vdi-import
 * uuid= filename= [format=raw|vhd]: the client streams the file from/to
 * /export_raw_vdi or /import_raw_vdi. As xapi's cli_operations.ml, format and
 * base go to the server as given (it answers an unknown format, or base). */
static int
cli_vdi_transfer(struct cli_ctx *ctx, bool put)
{
	const char *u = cli_param(ctx, "uuid"), *f = cli_param(ctx, "filename");
	const char *fmt = cli_param(ctx, "format"), *base = put ? NULL : cli_param(ctx, "base");
	char *ref = cli_ref_by_uuid(ctx, DMC_VDI, u);
	if (!ref)
		return -1;
	char *extra = xasprintf("&vdi=%s%s%s%s%s", ref, fmt ? "&format=" : "", fmt ? fmt : "",
				base ? "&base=" : "", base ? base : "");
	int rc = cli_track_http(ctx, put, f, put ? "/import_raw_vdi" : "/export_raw_vdi",
				extra, put ? "VDI import" : "VDI export");
	free(extra);
	free(ref);
	return rc;
}

static int
cli_cmd_vdi_export(struct cli_ctx *ctx)
{
	return cli_vdi_transfer(ctx, false);
}

static int
cli_cmd_vdi_import(struct cli_ctx *ctx)
{
	return cli_vdi_transfer(ctx, true);
}

/* console [vm selectors]: the client relays its terminal to the VM's
 * serial console (HttpConnect to /console). */
static int
cli_console_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	(void)arg;
	if (!ctx->conn)
		return cli_fail(ctx, "The console needs an xe client");
	char *url = xasprintf("/console?ref=%s&session_id=%s", vm,
			      ctx->api->session ? ctx->api->session : "");
	int rc = cli_conn_http_connect(ctx->conn, url);
	free(url);
	if (rc < 0)
		return cli_fail(ctx, "Console connection failed");
	return 0;
}

static int
cli_cmd_console(struct cli_ctx *ctx)
{
	struct cli_vm_op op = {false, false, false, NULL, cli_console_one, NULL};
	return cli_do_vm_op(ctx, &op);
}

/* snapshot-revert snapshot-uuid= (or uuid=): VM.revert */
static int
cli_cmd_snapshot_revert(struct cli_ctx *ctx)
{
	const char *uuid = cli_param(ctx, "snapshot-uuid");
	char *ref;
	int rc;

	if (!uuid)
		uuid = cli_param(ctx, "uuid");
	if (!uuid)
		return cli_fail_failure(ctx, "Required parameter not found: snapshot-uuid");
	if (!(ref = cli_ref_by_uuid(ctx, DMC_VM, uuid)))
		return -1;
	rc = cli_call(ctx, "VM.revert", NULL, xv_str(ref), NULL);
	free(ref);
	return rc;
}

const struct cli_cmd cli_dev_cmds[] = {
	{"vdi-export", L("uuid", "filename"), L("format", "base", "progress"),
	 "Export a VDI.", cli_cmd_vdi_export, 0, NULL},
	{"vdi-import", L("uuid", "filename"), L("format", "progress"),
	 "Import a raw VDI.", cli_cmd_vdi_import, 0, NULL},
	{"vdi-copy", L("uuid"), L("sr-uuid", "base-vdi-uuid", "into-vdi-uuid"),
	 "Copy either a full VDI or the block differences between two VDIs "
	 "either into a fresh VDI in a specified SR or into an existing VDI.",
	 cli_cmd_vdi_copy, 0, NULL},
	{"console", NULL, NULL, "Attach to a particular console.",
	 cli_cmd_console, CLI_CMD_VM_SEL, NULL},
	{"snapshot-revert", NULL, L("snapshot-uuid", "uuid"),
	 "Revert an existing VM to a previous checkpointed or snapshotted state.",
	 cli_cmd_snapshot_revert, CLI_CMD_STANDARD, NULL},
	{"vdi-enable-cbt", L("uuid"), NULL, "Enable changed block tracking on a VDI.",
	 cli_cmd_vdi_enable_cbt, 0, NULL},
	{"vdi-disable-cbt", L("uuid"), NULL, "Disable changed block tracking on a VDI.",
	 cli_cmd_vdi_disable_cbt, 0, NULL},
	{"vdi-data-destroy", L("uuid"), NULL,
	 "Delete the data of the VDI, but keep its changed block tracking metadata.",
	 cli_cmd_vdi_data_destroy, 0, NULL},
	{"vdi-list-changed-blocks", L("vdi-from-uuid", "vdi-to-uuid"), NULL,
	 "Write the changed blocks between the two given VDIs to the standard output as a "
	 "base64-encoded bitmap string.",
	 cli_cmd_vdi_list_changed_blocks, CLI_CMD_FD, NULL},
	{"vdi-clone", L("uuid"), L("driver-params", "new-name-label", "new-name-description"),
	 "Clone a specified VDI.", cli_cmd_vdi_clone, 0, NULL},
	{"vdi-snapshot", L("uuid"), L("driver-params"),
	 "Take a read-only snapshot of a specified VDI.", cli_cmd_vdi_snapshot,
	 0, NULL},
	{"vbd-plug", L("uuid"), NULL,
	 "Attempt to attach the VBD while the VM is in the running state.",
	 cli_cmd_vbd_plug, 0, NULL},
	{"vbd-unplug", L("uuid"), L("timeout", "force"),
	 "Attempt to detach the VBD while the VM is in the running state. If "
	 "the optional argument 'timeout=N' is given then the command will "
	 "wait for up to 'N' seconds for the unplug to complete. If the "
	 "optional argument 'force' is given then it will be immediately "
	 "unplugged.",
	 cli_cmd_vbd_unplug, 0, NULL},
	{"vif-plug", L("uuid"), NULL,
	 "Attempt to attach the VIF while the VM is in the running state.",
	 cli_cmd_vif_plug, 0, NULL},
	{"vif-unplug", L("uuid"), L("force"),
	 "Attempt to detach the VIF while the VM is in the running state.",
	 cli_cmd_vif_unplug, 0, NULL},
	{"vbd-destroy", L("uuid"), NULL, "Destroy a VBD.", cli_cmd_vbd_destroy,
	 0, NULL},
	{"vif-destroy", L("uuid"), NULL, "Destroy a VIF.", cli_cmd_vif_destroy,
	 0, NULL},
	{"vdi-destroy", L("uuid"), NULL, "Destroy a VDI.", cli_cmd_vdi_destroy,
	 0, NULL},
	{"vdi-resize", L("uuid", "disk-size"), L("online"), "Resize a VDI.",
	 cli_cmd_vdi_resize, 0, NULL},
	{"sr-scan", L("uuid"), NULL,
	 "Force an SR scan, syncing database with VDIs present in underlying "
	 "storage substrate.",
	 cli_cmd_sr_scan, 0, NULL},
	{"vif-configure-ipv4", L("uuid", "mode"), L("address", "gateway"),
	 "Configure IPv4 settings on a VIF.", cli_cmd_vif_configure_ipv4, 0,
	 NULL},
	{"vif-configure-ipv6", L("uuid", "mode"), L("address", "gateway"),
	 "Configure IPv6 settings on a VIF.", cli_cmd_vif_configure_ipv6, 0,
	 NULL},
	{"vm-disk-list", NULL, L("vbd-params", "vdi-params"),
	 "List the disks on the selected VM(s).", cli_cmd_vm_disk_list,
	 CLI_CMD_STANDARD | CLI_CMD_VM_SEL, NULL},
	{"vm-cd-list", NULL, L("vbd-params", "vdi-params"),
	 "List the CDs currently attached to the VM(s).", cli_cmd_vm_cd_list,
	 CLI_CMD_STANDARD | CLI_CMD_VM_SEL, NULL},
};

const size_t cli_dev_ncmds = sizeof(cli_dev_cmds) / sizeof(cli_dev_cmds[0]);

/* cli_rec_storage: the CLI records of SRs, VDIs, VBDs and PBDs
 * (records.ml sr_record, vdi_record, vbd_record, pbd_record). */
#include <string.h>

#include "rpc/cli_rectab.h"

/* sr_operation_to_string. */
const char *const cli_em_sr_ops[] = {
	"vdi_create", "VDI.create",
	"vdi_introduce", "VDI.introduce",
	"vdi_destroy", "VDI.destroy",
	"vdi_resize", "VDI.resize",
	"vdi_clone", "VDI.clone",
	"vdi_snapshot", "VDI.snapshot",
	"vdi_mirror", "VDI.mirror",
	"vdi_enable_cbt", "VDI.enable_cbt",
	"vdi_disable_cbt", "VDI.disable_cbt",
	"vdi_set_on_boot", "VDI.set_on_boot",
	"vdi_data_destroy", "VDI.data_destroy",
	"vdi_list_changed_blocks", "VDI.list_changed_blocks",
	"vdi_blocked", "VDI.blocked",
	"vdi_copy", "VDI.copy",
	"vdi_force_unlock", "VDI.force_unlock",
	"vdi_forget", "VDI.forget",
	"vdi_generate_config", "VDI.generate_config",
	"vdi_resize_online", "VDI.resize_online",
	"vdi_update", "VDI.update",
	"vdi_revert", "VDI.revert",
	"pbd_create", "PBD.create",
	"pbd_destroy", "PBD.destroy",
	NULL,
};

/* vdi_type_to_string. */
const char *const cli_em_vdi_type[] = {
	"system", "System", "user", "User", "ephemeral", "Ephemeral",
	"suspend", "Suspend", "crashdump", "Crashdump",
	"ha_statefile", "HA statefile", "metadata", "Metadata",
	"redo_log", "Redo log", "rrd", "rrd", "pvs_cache", "PVS cache",
	"cbt_metadata", "CBT metadata", NULL,
};

/* sr host: "<shared>" with several PBDs, else the name of the host of its
 * only PBD. */
static void
cli_sr_host(const struct cli_fdef *f, const struct db_row *row, struct buf *b)
{
	const struct dm_coll *pbds = row->f[DMF_SR_PBDs].c;
	const struct db_row *pbd;
	const char *name = NULL;

	if (pbds && pbds->n > 1) {
		buf_adds(b, "<shared>");
		return;
	}
	if (pbds && pbds->n == 1 && (pbd = db_get(DMC_PBD, pbds->v[0].s)))
		name = cli_ref_name(DMC_host, pbd->f[DMF_PBD_host].s);
	buf_adds(b, name ? name : CLI_NID);
}

static void
cli_vbd_vdi_name(const struct cli_fdef *f, const struct db_row *row,
		 struct buf *b)
{
	const char *name;

	if (row->f[DMF_VBD_empty].b) {
		buf_adds(b, "<EMPTY>");
		return;
	}
	name = cli_ref_name(DMC_VDI, row->f[DMF_VBD_VDI].s);
	buf_adds(b, name ? name : CLI_NID);
}

static void
cli_vbd_read_kbs(const struct cli_fdef *f, const struct db_row *row, struct buf *b)
{
	cli_dev_kbs(row, true, false, b);
}

static void
cli_vbd_write_kbs(const struct cli_fdef *f, const struct db_row *row, struct buf *b)
{
	cli_dev_kbs(row, true, true, b);
}

static void
cli_storage_true(const struct cli_fdef *f, const struct db_row *row,
		 struct buf *b)
{
	buf_adds(b, "true");
}

#define RW CLIF_RW
#define S(x) DMF_SR_##x

static const struct cli_fdef cli_sr_fields[] = {
	CF("uuid", S(uuid), 0),
	CF("name-label", S(name_label), RW),
	CF("name-description", S(name_description), RW),
	CFC("host", cli_sr_host, 0),
	CFE("allowed-operations", S(allowed_operations), CLIF_SET,
	    cli_em_sr_ops),
	CFE("current-operations", S(current_operations), CLIF_SET | CLIF_VALS,
	    cli_em_sr_ops),
	CF("VDIs", S(VDIs), CLIF_SET),
	CF("PBDs", S(PBDs), CLIF_SET),
	CF("virtual-allocation", S(virtual_allocation), 0),
	CF("physical-utilisation", S(physical_utilisation), 0),
	CF("physical-size", S(physical_size), 0),
	CF("type", S(type), 0),
	CF("content-type", S(content_type), 0),
	CF("shared", S(shared), RW),
	CF("introduced-by", S(introduced_by), 0),
	CF("is-tools-sr", S(is_tools_sr), 0),
	CF("other-config", S(other_config), CLIF_MAPRW),
	CF("sm-config", S(sm_config), CLIF_MAP),
	CF("blobs", S(blobs), 0),
	CF("local-cache-enabled", S(local_cache_enabled), 0),
	CF("tags", S(tags), CLIF_SETRW | CLIF_COMMA),
	CF("clustered", S(clustered), 0),
};

#undef S
#define V(x) DMF_VDI_##x

static const struct cli_fdef cli_vdi_fields[] = {
	CF("uuid", V(uuid), 0),
	CF("name-label", V(name_label), RW),
	CF("name-description", V(name_description), RW),
	CF("is-a-snapshot", V(is_a_snapshot), 0),
	CF("snapshot-of", V(snapshot_of), 0),
	CF("snapshots", V(snapshots), 0),
	CF("snapshot-time", V(snapshot_time), 0),
	CF("allowed-operations", V(allowed_operations), CLIF_SET),
	CF("current-operations", V(current_operations), CLIF_SET | CLIF_VALS),
	CF("sr-uuid", V(SR), 0),
	CF("sr-name-label", V(SR), CLIF_NAME),
	CF("vbd-uuids", V(VBDs), CLIF_SET),
	CF("crashdump-uuids", V(crash_dumps), CLIF_SET),
	CF("virtual-size", V(virtual_size), 0),
	CF("physical-utilisation", V(physical_utilisation), 0),
	CF("location", V(location), 0),
	CFE("type", V(type), 0, cli_em_vdi_type),
	CF("sharable", V(sharable), 0),
	CF("read-only", V(read_only), 0),
	CF("storage-lock", V(storage_lock), 0),
	CF("managed", V(managed), 0),
	CF("parent", V(parent), CLIF_DEPRECATED),
	CF("missing", V(missing), 0),
	CF("is-tools-iso", V(is_tools_iso), 0),
	CF("other-config", V(other_config), CLIF_MAPRW),
	CF("xenstore-data", V(xenstore_data), CLIF_MAP | CLIF_CLEARMAP),
	CF("sm-config", V(sm_config), CLIF_MAP),
	CF("on-boot", V(on_boot), RW),
	CF("allow-caching", V(allow_caching), RW),
	CF("metadata-latest", V(metadata_latest), 0),
	CF("metadata-of-pool", V(metadata_of_pool), 0),
	CF("tags", V(tags), CLIF_SETRW | CLIF_COMMA),
	CF("cbt-enabled", V(cbt_enabled), 0),
};

#undef V
#define B(x) DMF_VBD_##x

static const struct cli_fdef cli_vbd_fields[] = {
	CF("uuid", B(uuid), 0),
	CF("vm-uuid", B(VM), 0),
	CF("vm-name-label", B(VM), CLIF_NAME),
	CF("vdi-uuid", B(VDI), 0),
	CFC("vdi-name-label", cli_vbd_vdi_name, 0),
	CF("allowed-operations", B(allowed_operations), CLIF_SET),
	CF("current-operations", B(current_operations), CLIF_SET | CLIF_VALS),
	CF("empty", B(empty), 0),
	CF("device", B(device), 0),
	CF("userdevice", B(userdevice), RW),
	CF("bootable", B(bootable), RW),
	CF("mode", B(mode), RW),
	CF("type", B(type), RW),
	CF("unpluggable", B(unpluggable), RW),
	CF("currently-attached", B(currently_attached), 0),
	CFC("attachable", cli_storage_true, CLIF_EXPENSIVE),
	CF("storage-lock", B(storage_lock), 0),
	CF("status-code", B(status_code), 0),
	CF("status-detail", B(status_detail), 0),
	CF("qos_algorithm_type", B(qos_algorithm_type), RW),
	CF("qos_algorithm_params", B(qos_algorithm_params), CLIF_MAPRW),
	CF("qos_supported_algorithms", B(qos_supported_algorithms), CLIF_SET),
	CF("other-config", B(other_config), CLIF_MAPRW),
	CFC("io_read_kbs", cli_vbd_read_kbs, CLIF_EXPENSIVE),
	CFC("io_write_kbs", cli_vbd_write_kbs, CLIF_EXPENSIVE),
};

#undef B
#define D(x) DMF_PBD_##x

static const struct cli_fdef cli_pbd_fields[] = {
	CF("uuid", D(uuid), 0),
	CF("host", D(host), CLIF_DEPRECATED),
	CF("host-uuid", D(host), 0),
	CF("host-name-label", D(host), CLIF_NAME),
	CF("sr-uuid", D(SR), 0),
	CF("sr-name-label", D(SR), CLIF_NAME),
	CF("device-config", D(device_config), CLIF_MAP),
	CF("currently-attached", D(currently_attached), 0),
	CF("other-config", D(other_config), CLIF_MAPRW),
};

#undef D
#undef RW

static const char *const cli_sr_params[] = {
	"uuid", "name-label", "name-description", "host", "type",
	"content-type", NULL};
static const char *const cli_vdi_params[] = {
	"uuid",	    "name-label", "name-description", "virtual-size",
	"read-only", "sharable",  "sr-uuid",	      NULL};
static const char *const cli_vbd_params[] = {
	"uuid", "vm-uuid", "vm-name-label", "vdi-uuid", "device", "empty",
	NULL};
static const char *const cli_pbd_params[] = {
	"uuid", "host-uuid", "sr-uuid", "device-config", "currently-attached",
	NULL};

const struct cli_class cli_class_sr = {
	"sr",	       DMC_SR, cli_sr_fields, CLI_NELEM(cli_sr_fields),
	cli_sr_params, NULL,   true,	      "srs",
};
const struct cli_class cli_class_vdi = {
	"vdi",		DMC_VDI, cli_vdi_fields, CLI_NELEM(cli_vdi_fields),
	cli_vdi_params, NULL,	 false,		 "vdis",
};
const struct cli_class cli_class_vbd = {
	"vbd",		DMC_VBD, cli_vbd_fields, CLI_NELEM(cli_vbd_fields),
	cli_vbd_params, NULL,	 false,		 "vbds",
};
const struct cli_class cli_class_pbd = {
	"pbd",		DMC_PBD, cli_pbd_fields, CLI_NELEM(cli_pbd_fields),
	cli_pbd_params, NULL,	 false,		 "pbds",
};

/* cli_rec_vm: the CLI records of VMs, templates and snapshots
 * (records.ml vm_record). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_rectab.h"

const char *const cli_em_power_state[] = {
	"Halted", "halted", "Paused", "paused", "Running", "running",
	"Suspended", "suspended", NULL,
};
const char *const cli_em_on_normal_exit[] = {
	"destroy", "Destroy", "restart", "Restart", NULL,
};
const char *const cli_em_on_softreboot[] = {
	"destroy", "Destroy", "restart", "Restart", "preserve", "Preserve",
	"soft_reboot", "Soft reboot", NULL,
};
const char *const cli_em_on_crash[] = {
	"destroy", "Destroy",
	"coredump_and_destroy", "Core dump and destroy",
	"restart", "Restart",
	"coredump_and_restart", "Core dump and restart",
	"preserve", "Preserve",
	"rename_restart", "Rename restart",
	NULL,
};
/* vm_operation_to_string: a few operations have odd names, and those
 * missing from its table print as "(unknown operation)". */
const char *const cli_em_vm_ops[] = {
	"assert_operation_valid", "assertoperationvalid",
	"data_source_op", "data_sources_op",
	"create_template", "(unknown operation)",
	"query_services", "(unknown operation)",
	"changing_memory_limits", "(unknown operation)",
	"changing_VCPUs", "(unknown operation)",
	NULL,
};
const char *const cli_em_domain_type[] = {
	"pv_in_pvh", "pv-in-pvh", NULL,
};
const char *const cli_em_tristate[] = {
	"yes", "true", "no", "false", NULL,
};

/* memory-target: xapi asks the RRDs; a halted VM has 0. */
static void
cli_vm_memory_target(const struct cli_fdef *f, const struct db_row *row,
		     struct buf *b)
{
	if (strcmp(row->f[DMF_VM_power_state].s, "Halted") == 0)
		buf_adds(b, "0");
	else
		buf_addf(b, "%lld", (long long)row->f[DMF_VM_memory_target].i);
}

/* The devices of the VBDs (userdevice) or VIFs (device) of a VM. */
static bool
cli_vm_device_used(const struct db_row *row, bool vbd, const char *dev)
{
	const struct dm_coll *c = row->f[vbd ? DMF_VM_VBDs : DMF_VM_VIFs].c;

	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *r = db_get(vbd ? DMC_VBD : DMC_VIF,
						 c->v[i].s);
		const char *d;

		if (!r)
			continue;
		d = r->f[vbd ? DMF_VBD_userdevice : DMF_VIF_device].s;
		if (d && strcmp(d, dev) == 0)
			return true;
	}
	return false;
}

/* allowed-VBD-devices (0..254) and allowed-VIF-devices (0..15) minus the
 * devices in use, as xapi_vm_helpers computes them. */
static void
cli_vm_allowed_devices(struct buf *b, const struct db_row *row, bool vbd)
{
	int max = vbd ? 254 : 15, first = 1;
	char dev[16];

	for (int i = 0; i <= max; i++) {
		snprintf(dev, sizeof(dev), "%d", i);
		if (cli_vm_device_used(row, vbd, dev))
			continue;
		if (!first)
			buf_adds(b, "; ");
		buf_adds(b, dev);
		first = 0;
	}
}

static void
cli_vm_allowed_vbds(const struct cli_fdef *f, const struct db_row *row,
		    struct buf *b)
{
	cli_vm_allowed_devices(b, row, true);
}

static void
cli_vm_allowed_vifs(const struct cli_fdef *f, const struct db_row *row,
		    struct buf *b)
{
	cli_vm_allowed_devices(b, row, false);
}

/* possible-hosts: every enabled host. */
static void
cli_vm_possible_hosts(const struct cli_fdef *f, const struct db_row *row,
		      struct buf *b)
{
	size_t n;
	struct db_row **hosts = db_list(DMC_host, &n);
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		if (!hosts[i]->f[DMF_host_enabled].b)
			continue;
		if (!first)
			buf_adds(b, "; ");
		buf_adds(b, hosts[i]->f[DMF_host_uuid].s);
		first = 0;
	}
	free(hosts);
}

static void
cli_vm_last_boot_record(const struct cli_fdef *f, const struct db_row *row,
			struct buf *b)
{
	buf_addf(b, "'%s'", row->f[DMF_VM_last_booted_record].s);
}

static void
cli_vm_empty(const struct cli_fdef *f, const struct db_row *row, struct buf *b)
{
}

static void
cli_vm_true(const struct cli_fdef *f, const struct db_row *row, struct buf *b)
{
	buf_adds(b, "true");
}

/* records.ml checks VCPUs-params keys before adding them. */
static const char *const cli_vcpus_keys[] = {"weight", "cap", "mask", NULL};

#define M DMF_VM_metrics
#define G DMF_VM_guest_metrics
#define RW CLIF_RW

static const struct cli_fdef cli_vm_fields[] = {
	CF("uuid", DMF_VM_uuid, 0),
	CF("name-label", DMF_VM_name_label, RW),
	CF("name-description", DMF_VM_name_description, RW),
	CF("user-version", DMF_VM_user_version, RW),
	CF("is-a-template", DMF_VM_is_a_template, RW),
	CF("is-default-template", DMF_VM_is_default_template, RW),
	CF("is-a-snapshot", DMF_VM_is_a_snapshot, 0),
	CF("snapshot-of", DMF_VM_snapshot_of, 0),
	CF("snapshots", DMF_VM_snapshots, 0),
	CF("snapshot-time", DMF_VM_snapshot_time, 0),
	CF("transportable-snapshot-id", DMF_VM_transportable_snapshot_id,
	   CLIF_HIDDEN),
	CF("snapshot-info", DMF_VM_snapshot_info, 0),
	CF("parent", DMF_VM_parent, 0),
	CF("children", DMF_VM_children, 0),
	CF("is-control-domain", DMF_VM_is_control_domain, 0),
	CFE("power-state", DMF_VM_power_state, 0, cli_em_power_state),
	CFV("memory-actual", M, DMF_VM_metrics_memory_actual, 0, CLI_NID),
	CFCF("memory-target", DMF_VM_memory_target, cli_vm_memory_target,
	     CLIF_EXPENSIVE),
	CF("memory-overhead", DMF_VM_memory_overhead, 0),
	CF("memory-static-max", DMF_VM_memory_static_max, RW | CLIF_BYTES),
	CF("memory-dynamic-max", DMF_VM_memory_dynamic_max, RW | CLIF_BYTES),
	CF("memory-dynamic-min", DMF_VM_memory_dynamic_min, RW | CLIF_BYTES),
	CF("memory-static-min", DMF_VM_memory_static_min, RW | CLIF_BYTES),
	CF("suspend-VDI-uuid", DMF_VM_suspend_VDI, RW),
	CF("suspend-SR-uuid", DMF_VM_suspend_SR, RW),
	{.name = "VCPUs-params",
	 .fi = DMF_VM_VCPUs_params,
	 .via = -1,
	 .flags = CLIF_MAPRW,
	 .keys = cli_vcpus_keys},
	CF("VCPUs-max", DMF_VM_VCPUs_max, RW),
	CF("VCPUs-at-startup", DMF_VM_VCPUs_at_startup, RW),
	CFE("actions-after-shutdown", DMF_VM_actions_after_shutdown, RW,
	    cli_em_on_normal_exit),
	CFE("actions-after-softreboot", DMF_VM_actions_after_softreboot, RW,
	    cli_em_on_softreboot),
	CFE("actions-after-reboot", DMF_VM_actions_after_reboot, RW,
	    cli_em_on_normal_exit),
	CFE("actions-after-crash", DMF_VM_actions_after_crash, RW,
	    cli_em_on_crash),
	CF("console-uuids", DMF_VM_consoles, CLIF_SET),
	CFV("hvm", M, DMF_VM_metrics_hvm, 0, "false"),
	CFV("nomigrate", M, DMF_VM_metrics_nomigrate, CLIF_HIDDEN, "false"),
	CFV("nested-virt", M, DMF_VM_metrics_nested_virt, CLIF_HIDDEN,
	    "false"),
	CF("platform", DMF_VM_platform, CLIF_MAPRW),
	CFE("allowed-operations", DMF_VM_allowed_operations, CLIF_SET,
	    cli_em_vm_ops),
	CFE("current-operations", DMF_VM_current_operations,
	    CLIF_SET | CLIF_VALS, cli_em_vm_ops),
	CFE("blocked-operations", DMF_VM_blocked_operations, CLIF_MAPRW,
	    cli_em_vm_ops),
	CFC("allowed-VBD-devices", cli_vm_allowed_vbds,
	    CLIF_EXPENSIVE | CLIF_SET),
	CFC("allowed-VIF-devices", cli_vm_allowed_vifs,
	    CLIF_EXPENSIVE | CLIF_SET),
	CFC("possible-hosts", cli_vm_possible_hosts, CLIF_EXPENSIVE),
	CFE("domain-type", DMF_VM_domain_type, RW, cli_em_domain_type),
	CFVE("current-domain-type", M, DMF_VM_metrics_current_domain_type, 0,
	     CLI_NID, cli_em_domain_type),
	CF("HVM-boot-policy", DMF_VM_HVM_boot_policy, RW),
	CF("HVM-boot-params", DMF_VM_HVM_boot_params, CLIF_MAPRW),
	CF("HVM-shadow-multiplier", DMF_VM_HVM_shadow_multiplier, RW),
	CF("NVRAM", DMF_VM_NVRAM, CLIF_HIDDEN | CLIF_MAPRW),
	CF("PV-kernel", DMF_VM_PV_kernel, RW),
	CF("PV-ramdisk", DMF_VM_PV_ramdisk, RW),
	CF("PV-args", DMF_VM_PV_args, RW),
	CF("PV-legacy-args", DMF_VM_PV_legacy_args, RW),
	CF("PV-bootloader", DMF_VM_PV_bootloader, RW),
	CF("PV-bootloader-args", DMF_VM_PV_bootloader_args, RW),
	CF("last-boot-CPU-flags", DMF_VM_last_boot_CPU_flags, 0),
	CFC("last-boot-record", cli_vm_last_boot_record, CLIF_EXPENSIVE),
	CF("resident-on", DMF_VM_resident_on, 0),
	CF("affinity", DMF_VM_affinity, RW),
	CF("other-config", DMF_VM_other_config, CLIF_MAPRW),
	CF("dom-id", DMF_VM_domid, 0),
	CF("recommendations", DMF_VM_recommendations, 0),
	CF("xenstore-data", DMF_VM_xenstore_data, CLIF_MAPRW | CLIF_CLEARMAP),
	CF("ha-always-run", DMF_VM_ha_always_run, RW | CLIF_DEPRECATED),
	CF("ha-restart-priority", DMF_VM_ha_restart_priority, RW),
	CF("blobs", DMF_VM_blobs, 0),
	CFV("start-time", M, DMF_VM_metrics_start_time, 0, "<unknown time>"),
	CFV("install-time", M, DMF_VM_metrics_install_time, 0,
	    "<unknown time>"),
	CFV("VCPUs-number", M, DMF_VM_metrics_VCPUs_number, 0, CLI_NID),
	CFC("VCPUs-utilisation", cli_vm_empty, CLIF_EXPENSIVE | CLIF_MAP),
	CFV("os-version", G, DMF_VM_guest_metrics_os_version, CLIF_MAP,
	    CLI_NID),
	CFV("PV-drivers-version", G, DMF_VM_guest_metrics_PV_drivers_version,
	    CLIF_MAP, CLI_NID),
	CFV("PV-drivers-up-to-date", G,
	    DMF_VM_guest_metrics_PV_drivers_up_to_date, CLIF_DEPRECATED,
	    CLI_NID),
	CF("VBDs", DMF_VM_VBDs, CLIF_SET),
	CFV("networks", G, DMF_VM_guest_metrics_networks, CLIF_MAP, CLI_NID),
	CFV("PV-drivers-detected", G, DMF_VM_guest_metrics_PV_drivers_detected,
	    0, CLI_NID),
	CFV("other", G, DMF_VM_guest_metrics_other, CLIF_MAP, CLI_NID),
	CFV("live", G, DMF_VM_guest_metrics_live, 0, CLI_NID),
	CFV("guest-metrics-last-updated", G,
	    DMF_VM_guest_metrics_last_updated, 0, CLI_NID),
	CFVE("can-use-hotplug-vbd", G, DMF_VM_guest_metrics_can_use_hotplug_vbd,
	     0, CLI_NID, cli_em_tristate),
	CFVE("can-use-hotplug-vif", G, DMF_VM_guest_metrics_can_use_hotplug_vif,
	     0, CLI_NID, cli_em_tristate),
	CFC("cooperative", cli_vm_true, CLIF_EXPENSIVE | CLIF_DEPRECATED),
	CF("tags", DMF_VM_tags, CLIF_SETRW | CLIF_COMMA),
	CF("appliance", DMF_VM_appliance, RW),
	CF("snapshot-schedule", DMF_VM_snapshot_schedule, RW),
	CF("is-vmss-snapshot", DMF_VM_is_vmss_snapshot, 0),
	CF("start-delay", DMF_VM_start_delay, RW),
	CF("shutdown-delay", DMF_VM_shutdown_delay, RW),
	CF("order", DMF_VM_order, RW),
	CF("version", DMF_VM_version, 0),
	CF("generation-id", DMF_VM_generation_id, 0),
	CF("hardware-platform-version", DMF_VM_hardware_platform_version, 0),
	CF("has-vendor-device", DMF_VM_has_vendor_device, RW),
	CF("requires-reboot", DMF_VM_requires_reboot, 0),
	CF("reference-label", DMF_VM_reference_label, 0),
	CF("bios-strings", DMF_VM_bios_strings, CLIF_SETMAP),
	CF("pending-guidances", DMF_VM_pending_guidances, 0),
	CF("vtpms", DMF_VM_VTPMs, 0),
	CF("pending-guidances-recommended",
	   DMF_VM_pending_guidances_recommended, 0),
	CF("pending-guidances-full", DMF_VM_pending_guidances_full, 0),
};

#undef M
#undef G
#undef RW

static const char *const cli_vm_params[] = {"name-label", "uuid",
					    "power-state", NULL};
static const char *const cli_vm_filters[] = {"is-a-template", "false", NULL};
static const char *const cli_template_params[] = {
	"name-label", "name-description", "uuid", NULL};
static const char *const cli_template_filters[] = {
	"is-a-template", "true", "is-a-snapshot", "false", NULL};
/* "snapshot_of" and "snapshot_time" are spelt so in xapi: they match no
 * field and are not shown. */
static const char *const cli_snapshot_params[] = {
	"name-label",	 "name-description", "uuid",
	"snapshot_of",	 "snapshot_time",    "is-vmss-snapshot",
	NULL};
static const char *const cli_snapshot_filters[] = {"is-a-snapshot", "true",
						   NULL};

const struct cli_class cli_class_vm = {
	"vm",	       DMC_VM,		cli_vm_fields, CLI_NELEM(cli_vm_fields),
	cli_vm_params, cli_vm_filters, true,	       "vms",
};
const struct cli_class cli_class_template = {
	"template",	     DMC_VM,
	cli_vm_fields,	     CLI_NELEM(cli_vm_fields),
	cli_template_params, cli_template_filters,
	false,		     "templates",
};
const struct cli_class cli_class_snapshot = {
	"snapshot",	     DMC_VM,
	cli_vm_fields,	     CLI_NELEM(cli_vm_fields),
	cli_snapshot_params, cli_snapshot_filters,
	false,		     "snapshots",
};

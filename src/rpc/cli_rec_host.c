/* cli_rec_host: the CLI records of pools, hosts and host CPUs
 * (records.ml pool_record, host_record, host_cpu_record). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_rectab.h"

/* host_operation_to_string. */
const char *const cli_em_host_ops[] = {
	"vm_start", "VM.start", "vm_resume", "VM.resume",
	"vm_migrate", "VM.migrate", NULL,
};

/* supported-sr-types: the types of the registered SM plugins. */
static void
cli_pool_sr_types(const struct cli_fdef *f, const struct db_row *row,
		  struct buf *b)
{
	size_t n;
	struct db_row **sms = db_list(DMC_SM, &n);

	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_adds(b, "; ");
		buf_adds(b, sms[i]->f[DMF_SM_type].s);
	}
	free(sms);
}

static void
cli_pool_vswitch(const struct cli_fdef *f, const struct db_row *row,
		 struct buf *b)
{
	const char *s = row->f[DMF_pool_vswitch_controller].s;

	buf_adds(b, s && s[0] ? s : "<not set>");
}

/* memory-free-computed: total memory minus what resident VMs use. */
static void
cli_host_free_computed(const struct cli_fdef *f, const struct db_row *row,
		       struct buf *b)
{
	const struct db_row *m = db_get(DMC_host_metrics,
					 row->f[DMF_host_metrics].s);
	const struct dm_coll *vms = row->f[DMF_host_resident_VMs].c;
	long long free_mem = m ? (long long)m->f[DMF_host_metrics_memory_total].i
			       : 0;

	free_mem -= (long long)row->f[DMF_host_memory_overhead].i;
	for (size_t i = 0; vms && i < vms->n; i++) {
		const struct db_row *vm = db_get(DMC_VM, vms->v[i].s);

		if (vm)
			free_mem -= (long long)vm->f[DMF_VM_memory_dynamic_max].i +
				    (long long)vm->f[DMF_VM_memory_overhead].i;
	}
	buf_addf(b, "%lld", free_mem < 0 ? 0 : free_mem);
}

#define RW CLIF_RW
#define P(x) DMF_pool_##x

static const struct cli_fdef cli_pool_fields[] = {
	CF("uuid", P(uuid), 0),
	CF("name-label", P(name_label), RW),
	CF("name-description", P(name_description), RW),
	CF("master", P(master), 0),
	CF("default-SR", P(default_SR), RW),
	CF("crash-dump-SR", P(crash_dump_SR), RW),
	CF("suspend-image-SR", P(suspend_image_SR), RW),
	CFC("supported-sr-types", cli_pool_sr_types, CLIF_EXPENSIVE),
	CF("other-config", P(other_config), CLIF_MAPRW),
	CF("allowed-operations", P(allowed_operations), CLIF_SET),
	CF("current-operations", P(current_operations), CLIF_SET | CLIF_VALS),
	CF("ha-enabled", P(ha_enabled), 0),
	CF("ha-configuration", P(ha_configuration), 0),
	CF("ha-statefiles", P(ha_statefiles), CLIF_REFSTR),
	CF("ha-host-failures-to-tolerate", P(ha_host_failures_to_tolerate), RW),
	CF("ha-plan-exists-for", P(ha_plan_exists_for), 0),
	CF("ha-allow-overcommit", P(ha_allow_overcommit), RW),
	CF("ha-overcommitted", P(ha_overcommitted), 0),
	CF("blobs", P(blobs), 0),
	CF("wlb-url", P(wlb_url), 0),
	CF("wlb-username", P(wlb_username), 0),
	CF("wlb-enabled", P(wlb_enabled), RW),
	CF("wlb-verify-cert", P(wlb_verify_cert), RW),
	CF("igmp-snooping-enabled", P(igmp_snooping_enabled), RW),
	CF("gui-config", P(gui_config), CLIF_MAPRW),
	CF("health-check-config", P(health_check_config), CLIF_MAPRW),
	CFCF("vswitch-controller", P(vswitch_controller), cli_pool_vswitch,
	     CLIF_HIDDEN),
	CF("restrictions", P(restrictions), 0),
	CF("tags", P(tags), CLIF_SETRW | CLIF_COMMA),
	CF("ha-cluster-stack", P(ha_cluster_stack), 0),
	CF("guest-agent-config", P(guest_agent_config), CLIF_MAPRW),
	CF("cpu_info", P(cpu_info), CLIF_MAP),
	CF("policy-no-vendor-device", P(policy_no_vendor_device), RW),
	CF("live-patching-disabled", P(live_patching_disabled), RW),
	CF("uefi-certificates", P(uefi_certificates), CLIF_HIDDEN | RW),
	CF("custom-uefi-certificates", P(custom_uefi_certificates),
	   CLIF_HIDDEN | RW),
	CF("tls-verification-enabled", P(tls_verification_enabled), 0),
	CF("client-certificate-auth-enabled",
	   P(client_certificate_auth_enabled), 0),
	CF("client-certificate-auth-name", P(client_certificate_auth_name), 0),
	{.name = "repositories",
	 .fi = P(repositories),
	 .via = -1,
	 .flags = RW | CLIF_SETRW,
	 .add = "add_repository",
	 .remove = "remove_repository"},
	CF("repository-proxy-url", P(repository_proxy_url), 0),
	CF("repository-proxy-username", P(repository_proxy_username), 0),
	CF("migration-compression", P(migration_compression), RW),
	CF("coordinator-bias", P(coordinator_bias), RW),
	CF("telemetry-frequency", P(telemetry_frequency), 0),
	CF("telemetry-next-collection", P(telemetry_next_collection), 0),
	CF("last-update-sync", P(last_update_sync), 0),
	CF("update-sync-frequency", P(update_sync_frequency), 0),
	CF("update-sync-day", P(update_sync_day), 0),
	CF("update-sync-enabled", P(update_sync_enabled), 0),
};

#undef P
#define H(x) DMF_host_##x

static const struct cli_fdef cli_host_fields[] = {
	CF("uuid", H(uuid), 0),
	CF("name-label", H(name_label), RW),
	CF("name-description", H(name_description), RW),
	CFE("allowed-operations", H(allowed_operations), CLIF_SET,
	    cli_em_host_ops),
	CFE("current-operations", H(current_operations), CLIF_SET | CLIF_VALS,
	    cli_em_host_ops),
	CF("enabled", H(enabled), 0),
	CF("display", H(display), 0),
	CF("API-version-major", H(API_version_major), 0),
	CF("API-version-minor", H(API_version_minor), 0),
	CF("API-version-vendor", H(API_version_vendor), 0),
	CF("API-version-vendor-implementation",
	   H(API_version_vendor_implementation), CLIF_MAP),
	CF("logging", H(logging), CLIF_MAPRW),
	CF("suspend-image-sr-uuid", H(suspend_image_sr), RW),
	CF("crash-dump-sr-uuid", H(crash_dump_sr), RW),
	CF("software-version", H(software_version), CLIF_MAP),
	CF("capabilities", H(capabilities), CLIF_SET),
	CF("other-config", H(other_config), CLIF_MAPRW),
	CF("cpu_info", H(cpu_info), CLIF_MAP),
	CF("chipset-info", H(chipset_info), CLIF_MAP),
	CF("hostname", H(hostname), 0),
	CF("address", H(address), 0),
	CF("https-only", H(https_only), RW),
	CF("supported-bootloaders", H(supported_bootloaders), CLIF_SET),
	CF("blobs", H(blobs), 0),
	CF("memory-overhead", H(memory_overhead), 0),
	CFV("memory-total", H(metrics), DMF_host_metrics_memory_total, 0,
	    CLI_NID),
	CFC("memory-free-computed", cli_host_free_computed, CLIF_EXPENSIVE),
	CFV("host-metrics-live", H(metrics), DMF_host_metrics_live, 0,
	    CLI_NID),
	CF("patches", H(patches), CLIF_DEPRECATED | CLIF_SET | CLIF_COMMA),
	CF("updates", H(updates), CLIF_SET | CLIF_COMMA),
	CF("ha-statefiles", H(ha_statefiles), CLIF_REFSTR),
	CF("ha-network-peers", H(ha_network_peers), 0),
	CF("external-auth-type", H(external_auth_type), 0),
	CF("external-auth-service-name", H(external_auth_service_name), 0),
	CF("external-auth-configuration", H(external_auth_configuration),
	   CLIF_MAP),
	CF("edition", H(edition), 0),
	CF("license-server", H(license_server), CLIF_MAP),
	CF("power-on-mode", H(power_on_mode), 0),
	CF("power-on-config", H(power_on_config), CLIF_MAP),
	CF("local-cache-sr", H(local_cache_sr), 0),
	CF("tags", H(tags), CLIF_SETRW | CLIF_COMMA),
	CF("ssl-legacy", H(ssl_legacy), RW),
	CF("guest_VCPUs_params", H(guest_VCPUs_params), CLIF_MAPRW),
	CF("virtual-hardware-platform-versions",
	   H(virtual_hardware_platform_versions), CLIF_SET),
	CF("control-domain-uuid", H(control_domain), 0),
	CF("resident-vms", H(resident_VMs), CLIF_SET),
	CF("updates-requiring-reboot", H(updates_requiring_reboot), CLIF_SET),
	CF("features", H(features), CLIF_SET),
	CF("iscsi_iqn", H(iscsi_iqn), RW),
	CF("multipathing", H(multipathing), RW),
	CF("uefi-certificates", H(uefi_certificates), CLIF_HIDDEN | RW),
	CF("numa-affinity-policy", H(numa_affinity_policy), RW),
	CF("pending-guidances", H(pending_guidances), 0),
	CF("tls-verification-enabled", H(tls_verification_enabled), 0),
	CF("last-software-update", H(last_software_update), 0),
	CF("latest-synced-updates-applied", H(latest_synced_updates_applied),
	   0),
	CF("pending-guidances-recommended", H(pending_guidances_recommended),
	   0),
	CF("pending-guidances-full", H(pending_guidances_full), 0),
	CF("last-update-hash", H(last_update_hash), 0),
};

#undef H
#define C(x) DMF_host_cpu_##x

static const struct cli_fdef cli_host_cpu_fields[] = {
	CF("uuid", C(uuid), 0),
	CF("host-uuid", C(host), 0),
	CF("number", C(number), 0),
	CF("vendor", C(vendor), 0),
	CF("speed", C(speed), 0),
	CF("model", C(model), 0),
	CF("family", C(family), 0),
	CF("modelname", C(modelname), 0),
	CF("stepping", C(stepping), 0),
	CF("flags", C(flags), 0),
	CF("utilisation", C(utilisation), CLIF_EXPENSIVE),
};

#undef C
#undef RW

static const char *const cli_pool_params[] = {
	"uuid", "name-label", "name-description", "master", "default-SR", NULL};
static const char *const cli_host_params[] = {"uuid", "name-label",
					      "name-description", NULL};
static const char *const cli_host_cpu_params[] = {
	"uuid", "number", "vendor", "speed", "utilisation", NULL};

const struct cli_class cli_class_pool = {
	"pool",		 DMC_pool, cli_pool_fields, CLI_NELEM(cli_pool_fields),
	cli_pool_params, NULL,	   false,	    "pools",
};
const struct cli_class cli_class_host = {
	"host",		 DMC_host, cli_host_fields, CLI_NELEM(cli_host_fields),
	cli_host_params, NULL,	   false,	    "hosts",
};
const struct cli_class cli_class_host_cpu = {
	"host-cpu",
	DMC_host_cpu,
	cli_host_cpu_fields,
	CLI_NELEM(cli_host_cpu_fields),
	cli_host_cpu_params,
	NULL,
	false,
	"host-cpus",
};
